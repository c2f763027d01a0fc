#!/usr/bin/env bash
# Runs the benchmark (hack/bench.ts) on the test ground with a production build of the operator.
#
# Usage: hack/bench.sh [--n 500[,1000,...]] [--workers 4] [--regenerations 20] [--resync SECONDS] [--skip-floor]
# Prints P1-P5 (see docs/performance.md); not part of the test suite beyond a small smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/node.sh
wsdb_ensure_node
wsdb_ensure_deps "$PWD"
wsdb_ensure_ground_binaries
npm run --silent build
exec node hack/bench.ts "$@"
