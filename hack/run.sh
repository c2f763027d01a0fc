#!/usr/bin/env bash
# Runs the local demo: a kube-apiserver + etcd + kube-controller-manager + PostgreSQL test ground
# (PostgreSQL fetched from the npm registry, see hack/lib/postgres.sh), the operator against it,
# and a sample DatabaseServer and WorkspaceDatabase. Prints how to look at them; Ctrl-C stops all.
#
# Usage: hack/run.sh [--cluster]
#   --cluster  the same on a node of the test ground (as root, see docs/ground.md): the operator
#              installed by the chart from its image (built with buildah, hack/build-images.sh), the
#              sample workspace, and a notebook pod to `kubectl exec` into (hack/demo-cluster.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "usage: $0 [--cluster]" >&2; }
cluster=false
for arg in "$@"; do
  case "$arg" in
    --cluster) cluster=true ;;
    -h|--help) usage; exit 0 ;;
    *) usage; exit 2 ;;
  esac
done
source hack/lib/node.sh
wsdb_ensure_node
wsdb_ensure_deps "$PWD"
if [[ $cluster == false ]]; then
  WSDB_BIN_DIR="$(bash hack/build-binaries.sh)"
  export WSDB_BIN_DIR
  exec node hack/demo.ts
fi

# The node's needs, as hack/test.sh ensures them for the tests on a node.
if [[ $(id -u) -ne 0 ]]; then
  echo "$0 --cluster needs root: the node gets a network namespace, mounts and cgroups of its own (docs/ground.md)" >&2
  exit 1
fi
source hack/lib/debian.sh
wsdb_ensure_debian_packages runc containernetworking-plugins iptables conntrack buildah
WSDB_BIN_DIR="$(bash hack/build-binaries.sh --node | tail -1)"
export WSDB_BIN_DIR
wsdb_log "images: the operator from the Dockerfile, notebook, pause, CoreDNS (hack/build-images.sh; minutes the first time, seconds when nothing changed)"
WSDB_IMAGES="$(bash hack/build-images.sh | tail -1)"
export WSDB_IMAGES
exec node hack/demo-cluster.ts
