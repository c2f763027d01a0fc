#!/usr/bin/env bash
# Runs the whole test suite: type check, lint, unit tests and integration tests against a real
# kube-apiserver + etcd and a real PostgreSQL that the suite starts itself (see README).
#
# Usage: hack/test.sh [extra mocha arguments, e.g. --grep rotation]
# Ends with the line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/node.sh
wsdb_ensure_node
wsdb_ensure_deps "$PWD"

wsdb_ensure_ground_binaries

wsdb_log "type check"
npm run --silent typecheck
wsdb_log "lint"
npm run --silent lint
wsdb_log "build"
npm run --silent build

out="$(mktemp "${TMPDIR:-/tmp}/wsdb-test-output.XXXXXX")"
trap 'rm -f "$out"' EXIT
wsdb_log "mocha: unit and integration tests"
set +e
npx mocha --require test/ground/hooks.ts 'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' "$@" 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# Mocha's summary lines, with any colour codes removed first.
summary="$(sed 's/\x1b\[[0-9;]*m//g' "$out")"
passed="$(sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' <<<"$summary" | tail -1)"
failed="$(sed -n 's/^ *\([0-9][0-9]*\) failing.*/\1/p' <<<"$summary" | tail -1)"
pending="$(sed -n 's/^ *\([0-9][0-9]*\) pending.*/\1/p' <<<"$summary" | tail -1)"
passed="${passed:-0}"
failed="${failed:-0}"
if [[ $status -ne 0 && $failed -eq 0 ]]; then
  failed=1 # mocha itself failed (e.g. a global setup error) before counting
fi
echo
echo "${passed} passed, ${failed} failed${pending:+, ${pending} skipped}"
exit "$status"
