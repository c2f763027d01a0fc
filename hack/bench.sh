#!/usr/bin/env bash
# Runs the benchmark (hack/bench.ts) on the test ground with a production build of the operator.
#
# Usage: hack/bench.sh [--n 500[,1000,...]] [--workers 4] [--regenerations 20] [--resync SECONDS] [--skip-floor]
#                      [--repeat N] [--json FILE] [--logs DIR] [--operator-env KEY=VALUE]...
# Prints P1-P5 (see docs/performance.md); --repeat N runs it N times (each its own ground) and prints the
# median and the worst run of every figure; --json FILE writes one run's figures. Exits 1 when a P2
# sample exceeds 5 s; --logs DIR keeps the operator's logs (--operator-env WSDB_LOG_LEVEL=info for more). Not part of the test suite beyond a small smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/node.sh
wsdb_ensure_node
wsdb_ensure_deps "$PWD"
wsdb_ensure_ground_binaries
npm run --silent build
exec node hack/bench.ts "$@"
