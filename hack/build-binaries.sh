#!/usr/bin/env bash
# Builds the test ground's kube-apiserver, kube-controller-manager and etcd, and the helm used by the
# chart tests, from the Go module proxy, cached by version.
#
# Prints the directory holding the binaries on its last line of stdout; progress goes to stderr.
# The cache lives outside the repo (WSDB_CACHE_DIR, default ~/.cache/workspacedb-operator) and is
# keyed by version, so a second run returns at once.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CACHE_DIR="${WSDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/workspacedb-operator}"
OUT_DIR="$CACHE_DIR/bin/kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}"

log() { printf '[build-binaries %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

export CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false

# helm shares the folder; its version is checked too, so changing HELM_VERSION rebuilds only helm.
have_helm() {
  [[ -x "$OUT_DIR/helm" && "$("$OUT_DIR/helm" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]
}
have_all() { [[ -x "$OUT_DIR/kube-apiserver" && -x "$OUT_DIR/kube-controller-manager" && -x "$OUT_DIR/etcd" ]] && have_helm; }

if have_all; then
  log "cached: $OUT_DIR"
  echo "$OUT_DIR"
  exit 0
fi

command -v go >/dev/null || { log "go is required to build kube-apiserver, etcd and helm"; exit 1; }
mkdir -p "$OUT_DIR"
# One build at a time: a second caller waits for the first and then finds the cache filled.
exec 9>"$CACHE_DIR/build.lock"
if ! flock -n 9; then
  log "another build is running; waiting for it"
  flock 9
fi
if have_all; then
  log "cached: $OUT_DIR"
  echo "$OUT_DIR"
  exit 0
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/wsdb-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Prints a dot-per-interval heartbeat while a long command runs, so CI logs show progress.
with_progress() {
  local what="$1"; shift
  local start=$SECONDS
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && log "$what: still building ($((SECONDS - start))s)"
  done
  wait "$pid"
  log "$what: done in $((SECONDS - start))s"
}

build_etcd() {
  [[ -x "$OUT_DIR/etcd" ]] && return 0
  log "building etcd $ETCD_VERSION (go.etcd.io/etcd/server/v3)"
  local dir="$work/etcd"
  mkdir -p "$dir"
  cat >"$dir/main.go" <<'GO'
// Command etcd runs etcd's own entry point; the module exists only to build it from the proxy.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$dir" && go mod init wsdb.local/etcd >/dev/null 2>&1 &&
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2 && go mod tidy >&2)
  with_progress "etcd" bash -c "cd '$dir' && go build -trimpath -ldflags '-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION' -o '$OUT_DIR/etcd.tmp' . && mv '$OUT_DIR/etcd.tmp' '$OUT_DIR/etcd'"
}

build_kube() {
  [[ -x "$OUT_DIR/kube-apiserver" && -x "$OUT_DIR/kube-controller-manager" ]] && return 0
  log "building kube-apiserver and kube-controller-manager $KUBE_VERSION (k8s.io/kubernetes with its staging modules)"
  local dir="$work/kube"
  mkdir -p "$dir"
  local modfile
  modfile="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  local staging_version="v0.${KUBE_VERSION#v1.}"
  {
    echo "module wsdb.local/kube"
    echo
    grep -E '^go ' "$modfile"
    echo
    echo "require k8s.io/kubernetes $KUBE_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/src/.*#\t\1 => \1 '"$staging_version"'#p' "$modfile"
    echo ")"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

// Package tools pins the main packages of kube-apiserver and kube-controller-manager into this
// module's build list.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO
  (cd "$dir" && go mod tidy >&2)
  local major="${KUBE_VERSION#v}"; major="${major%%.*}"
  local minor="${KUBE_VERSION#v*.}"; minor="${minor%%.*}"
  local ld="-s -w"
  for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    ld+=" -X $pkg.gitVersion=$KUBE_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  local bin
  for bin in kube-apiserver kube-controller-manager; do
    [[ -x "$OUT_DIR/$bin" ]] && continue
    with_progress "$bin" bash -c "cd '$dir' && go build -trimpath -ldflags '$ld' -o '$OUT_DIR/$bin.tmp' k8s.io/kubernetes/cmd/$bin && mv '$OUT_DIR/$bin.tmp' '$OUT_DIR/$bin'"
  done
}

build_helm() {
  have_helm && return 0
  log "building helm $HELM_VERSION (helm.sh/helm/v3/cmd/helm)"
  local dir="$work/helm"
  mkdir -p "$dir"
  # `go install module@version` builds with helm's own go.mod (it has no replace directives).
  local modfile clientgo
  modfile="$(cd "$dir" && go mod download -json "helm.sh/helm/v3@$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  # As helm's Makefile: the default Kubernetes version of `helm template`/`lint` follows client-go (v0.N → 1.N).
  clientgo="$(sed -n 's#^[[:space:]]*k8s\.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$modfile" | head -1)"
  local ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  if [[ -n "$clientgo" ]]; then
    for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
      ld+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$clientgo"
    done
  fi
  with_progress "helm" bash -c "cd '$dir' && GOBIN='$dir/bin' go install -trimpath -ldflags '$ld' 'helm.sh/helm/v3/cmd/helm@$HELM_VERSION' && mv '$dir/bin/helm' '$OUT_DIR/helm.tmp' && mv '$OUT_DIR/helm.tmp' '$OUT_DIR/helm'"
}

build_etcd
build_kube
build_helm
"$OUT_DIR/etcd" --version | head -1 >&2
"$OUT_DIR/kube-apiserver" --version >&2
"$OUT_DIR/kube-controller-manager" --version >&2
"$OUT_DIR/helm" version --short >&2
echo "$OUT_DIR"
