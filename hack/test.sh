#!/usr/bin/env bash
# Runs the whole test suite: type check, lint, unit tests and integration tests against a real
# kube-apiserver + etcd and a real PostgreSQL that the suite starts itself (see README); then the
# PostgreSQL-facing integration tests again on every other supported major (the matrix), and the
# tests on a real node (test/node/: the chart and the operator's image, pods using the Secrets)
# beside them.
#
# Usage: hack/test.sh [extra mocha arguments, e.g. --grep rotation]
# Settings (environment):
#   WSDB_PG_VERSION        the major of the whole suite's server (default 18)
#   WSDB_MATRIX            the other majors the PostgreSQL-facing tests run on (default "14 15 16 17";
#                          empty: none). Skipped when mocha arguments are given.
#   WSDB_MATRIX_JOBS       how many majors (and the node tests) run at once (default 2), each with a
#                          ground of its own
#   WSDB_NODE              1 (default): also the tests on a node; 0: not. Skipped with mocha arguments.
# Prints one line per major with its server_version and one for the node, checks that the node's
# ground left nothing behind, and ends with the line "N passed, N failed" over everything.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/node.sh
source hack/lib/debian.sh
wsdb_ensure_node
wsdb_ensure_deps "$PWD"
# The database page's browser tests: Debian's Chromium, driven by playwright-core (no browser download).
wsdb_ensure_debian_packages chromium

node_tests=false
if [[ $# -eq 0 && "${WSDB_NODE:-1}" == "1" && -z "${WSDB_KUBECONFIG:-}" ]]; then
  node_tests=true
  # The node: runc, CNI plugins, iptables and conntrack from Debian; images built with buildah.
  wsdb_ensure_debian_packages runc containernetworking-plugins iptables conntrack buildah
  WSDB_BIN_DIR="$(bash hack/build-binaries.sh --node | tail -1)"
  export WSDB_BIN_DIR
else
  wsdb_ensure_ground_binaries
fi

wsdb_log "type check"
npm run --silent typecheck
wsdb_log "lint"
npm run --silent lint
wsdb_log "build"
npm run --silent build

work="$(mktemp -d "${TMPDIR:-/tmp}/wsdb-test-output.XXXXXX")"
trap 'rm -rf "$work"' EXIT
if [[ $node_tests == true ]]; then
  wsdb_log "images: the operator from the Dockerfile, notebook, pause, CoreDNS (hack/build-images.sh)"
  bash hack/build-images.sh | tail -1 >"$work/images.json"
  export WSDB_IMAGES="$work/images.json"
fi

# The PostgreSQL-facing tests: privileges, provisioning, rotation, drift, deletion, naming, adoption,
# no-leaks, the tenant-isolation attacks, server status, a changed admin role and a NOINHERIT admin; ground.test.ts
# asserts that the server really runs the selected major (server_version_num).
MATRIX_FILES=(
  test/integration/ground.test.ts
  'test/integration/postgres/*.test.ts'
  test/integration/e2e/privileges.test.ts
  test/integration/e2e/provision.test.ts
  test/integration/e2e/rotation.test.ts
  test/integration/e2e/drift.test.ts
  test/integration/e2e/deletion.test.ts
  test/integration/e2e/naming.test.ts
  test/integration/e2e/adoption.test.ts
  test/integration/e2e/no-leaks.test.ts
  test/integration/e2e/isolation.test.ts
  test/integration/e2e/server.test.ts
  test/integration/e2e/admin-change.test.ts
  test/integration/e2e/noinherit.test.ts
)

# counts LOG: prints "passed failed skipped version" from a mocha log (colour codes removed first).
counts() {
  local summary passed failed pending version
  summary="$(sed 's/\x1b\[[0-9;]*m//g' "$1")"
  passed="$(sed -n 's/^ *\([0-9][0-9]*\) passing.*/\1/p' <<<"$summary" | tail -1)"
  failed="$(sed -n 's/^ *\([0-9][0-9]*\) failing.*/\1/p' <<<"$summary" | tail -1)"
  pending="$(sed -n 's/^ *\([0-9][0-9]*\) pending.*/\1/p' <<<"$summary" | tail -1)"
  version="$(sed -n 's/^test ground ready .*PostgreSQL \([0-9][0-9.]*\) .*/\1/p' <<<"$summary" | sed -n 1p)"
  echo "${passed:-0} ${failed:-0} ${pending:-0} ${version:-unknown}"
}

wsdb_log "mocha: unit and integration tests (PostgreSQL ${WSDB_PG_VERSION:-18})"
set +e
npx mocha --require test/ground/hooks.ts 'test/unit/**/*.test.ts' 'test/integration/**/*.test.ts' "$@" 2>&1 | tee "$work/main.log"
status=${PIPESTATUS[0]}
set -e
read -r passed failed pending version < <(counts "$work/main.log")
if [[ $status -ne 0 && $failed -eq 0 ]]; then
  failed=1 # mocha itself failed (e.g. a global setup error) before counting
fi
skipped() { [[ $1 -gt 0 ]] && echo ", $1 skipped"; true; }
lines=("PostgreSQL ${WSDB_PG_VERSION:-18} (server_version ${version}), whole suite: ${passed} passed, ${failed} failed$(skipped "$pending")")

majors=()
if [[ $# -eq 0 ]]; then
  read -r -a majors <<<"${WSDB_MATRIX-14 15 16 17}"
fi
jobs_max="${WSDB_MATRIX_JOBS:-2}"
if [[ $node_tests == true || ${#majors[@]} -gt 0 ]]; then
  export WSDB_BIN_DIR="${WSDB_BIN_DIR:-$(bash hack/build-binaries.sh | tail -1)}"
  wsdb_log "matrix: PostgreSQL-facing tests on PostgreSQL ${majors[*]:-none}$([[ $node_tests == true ]] && echo ", and the tests on a node"), ${jobs_max} at a time (logs shown as each ends)"
  # The node's tests first (the longest); each job runs in its own mocha process with its own ground.
  if [[ $node_tests == true ]]; then
    # In this order: pods.test.ts installs the release with the README's block; operations.test.ts
    # then fails it over, drains, upgrades, uninstalls and reinstalls it. A file not listed is an error.
    node_files=(test/node/pods.test.ts test/node/operations.test.ts)
    for file in test/node/*.test.ts; do
      [[ " ${node_files[*]} " == *" $file "* ]] || { echo "hack/test.sh: $file is not in node_files (the order of the tests on a node)" >&2; exit 1; }
    done
    (WSDB_GROUND_NODE=1 npx mocha --require test/ground/hooks.ts "${node_files[@]}" >"$work/node.log" 2>&1; echo $? >"$work/node.status") &
  fi
  for major in "${majors[@]}"; do
    while [[ $(jobs -rp | wc -l) -ge $jobs_max ]]; do wait -n || true; done
    # shellcheck disable=SC2086 # the globs are mocha's to expand
    (WSDB_PG_VERSION="$major" npx mocha --require test/ground/hooks.ts ${MATRIX_FILES[*]} >"$work/pg$major.log" 2>&1; echo $? >"$work/pg$major.status") &
  done
  wait || true
  if [[ $node_tests == true ]]; then
    echo
    echo "===== on a node ====="
    cat "$work/node.log"
    read -r p f s v < <(counts "$work/node.log")
    st="$(cat "$work/node.status" 2>/dev/null || echo 1)"
    if [[ $st -ne 0 && $f -eq 0 ]]; then f=1; fi
    [[ $st -ne 0 ]] && status=1
    # What the node's ground made must all be gone: its namespace, veth, cgroups, mounts, processes.
    node_ns="$(sed -n 's/^test ground ready .* in namespace \(wsdb-[0-9]*\).*/\1/p' "$work/node.log" | sed -n 1p)"
    left="$(bash hack/lib/ground-leftovers.sh "$node_ns")"
    if [[ -n "$left" ]]; then
      echo "the node's ground left something behind:"
      echo "$left"
      f=$((f + 1))
      status=1
    fi
    lines+=("On a node (PostgreSQL $v, kubelet, containerd, the operator's image): $p passed, $f failed$(skipped "$s")${left:+ (leftovers)}")
    passed=$((passed + p))
    failed=$((failed + f))
    pending=$((pending + s))
  fi
  for major in "${majors[@]}"; do
    echo
    echo "===== PostgreSQL $major ====="
    cat "$work/pg$major.log"
    read -r p f s v < <(counts "$work/pg$major.log")
    st="$(cat "$work/pg$major.status" 2>/dev/null || echo 1)"
    if [[ $st -ne 0 && $f -eq 0 ]]; then f=1; fi
    [[ $st -ne 0 ]] && status=1
    lines+=("PostgreSQL $major (server_version $v), PostgreSQL-facing tests: $p passed, $f failed$(skipped "$s")")
    passed=$((passed + p))
    failed=$((failed + f))
    pending=$((pending + s))
  done
fi

echo
printf '%s\n' "${lines[@]}"
echo
echo "${passed} passed, ${failed} failed$(skipped "$pending")"
exit "$status"
