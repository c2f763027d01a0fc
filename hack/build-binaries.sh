#!/usr/bin/env bash
# Builds the test ground's kube-apiserver, kube-controller-manager and etcd, the helm used by the
# chart tests, promtool (the chart's alerting rules), and the GitOps checkers of hack/tools (kstatus on sigs.k8s.io/cli-utils, argo-health on
# gopher-lua), from the Go module proxy, cached by version (the checkers by a digest of their sources).
#
# With --node it also builds what a node of the ground needs (test/ground/node.ts): kubelet,
# kube-proxy and kube-scheduler (the same wrapper module as kube-apiserver), containerd, ctr and
# containerd-shim-runc-v2, CoreDNS, and a static `pause` compiled with gcc from the
# k8s.io/kubernetes module's build/pause/linux/pause.c. runc, the CNI plugins, iptables and conntrack
# come from Debian's packages (hack/lib/debian.sh), not from here.
#
# Prints the directory holding the binaries on its last line of stdout; progress goes to stderr.
# The cache lives outside the repo (WSDB_CACHE_DIR, default ~/.cache/workspacedb-operator) and is
# keyed by version, so a second run returns at once.
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
CONTAINERD_VERSION="${CONTAINERD_VERSION:-v2.3.4}"
COREDNS_VERSION="${COREDNS_VERSION:-v1.14.7}"
# promtool evaluates the chart's alerting rules (`promtool test rules`); Prometheus 3.x's Go module
# versions are v0.3MM.P for release 3.MM.P.
PROMETHEUS_VERSION="${PROMETHEUS_VERSION:-v0.316.0}"
NODE=false
for arg in "$@"; do
  case "$arg" in
    --node) NODE=true ;;
    *) echo "usage: $0 [--node]" >&2; exit 2 ;;
  esac
done
CACHE_DIR="${WSDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/workspacedb-operator}"
OUT_DIR="$CACHE_DIR/bin/kube-${KUBE_VERSION}_etcd-${ETCD_VERSION}"

log() { printf '[build-binaries %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

export CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off GOFLAGS=-buildvcs=false

# helm shares the folder; its version is checked too, so changing HELM_VERSION rebuilds only helm.
have_helm() {
  [[ -x "$OUT_DIR/helm" && "$("$OUT_DIR/helm" version --template '{{.Version}}' 2>/dev/null)" == "$HELM_VERSION" ]]
}
# Each node binary from outside k8s.io/kubernetes is stamped with its version, checked the same way.
have_containerd() {
  [[ -x "$OUT_DIR/ctr" && -x "$OUT_DIR/containerd-shim-runc-v2" && -x "$OUT_DIR/containerd" ]] &&
    [[ "$("$OUT_DIR/containerd" --version 2>/dev/null | awk '{print $3}')" == "$CONTAINERD_VERSION" ]]
}
have_coredns() { [[ -x "$OUT_DIR/coredns" && "$("$OUT_DIR/coredns" -version 2>/dev/null | sed -n 1p)" == "CoreDNS-${COREDNS_VERSION#v}" ]]; }
have_node() {
  [[ -x "$OUT_DIR/kubelet" && -x "$OUT_DIR/kube-proxy" && -x "$OUT_DIR/kube-scheduler" && -x "$OUT_DIR/pause" ]] &&
    have_containerd && have_coredns
}
# The checkers in hack/tools are this repository's code: rebuilt when their sources change.
TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/tools" && pwd)"
tools_digest() { (cd "$TOOLS_DIR" && cat go.mod go.sum ./*/*.go | sha256sum | cut -c1-16); }
have_tools() {
  [[ -x "$OUT_DIR/kstatus" && -x "$OUT_DIR/argo-health" && "$(cat "$OUT_DIR/tools.digest" 2>/dev/null)" == "$(tools_digest)" ]]
}
# promtool is stamped with its version by the same ldflags Prometheus's release uses.
have_promtool() {
  [[ -x "$OUT_DIR/promtool" && "$("$OUT_DIR/promtool" --version 2>/dev/null | sed -n 's/^promtool, version \([^ ]*\).*/\1/p')" == "$PROMETHEUS_VERSION" ]]
}
have_all() {
  [[ -x "$OUT_DIR/kube-apiserver" && -x "$OUT_DIR/kube-controller-manager" && -x "$OUT_DIR/etcd" ]] && have_helm && have_tools &&
    have_promtool &&
    { [[ $NODE == false ]] || have_node; }
}

if have_all; then
  log "cached: $OUT_DIR"
  echo "$OUT_DIR"
  exit 0
fi

command -v go >/dev/null || { log "go is required to build kube-apiserver, etcd and helm"; exit 1; }
if [[ $NODE == true ]]; then
  command -v gcc >/dev/null || { log "gcc is required to build the static pause binary (Debian package gcc)"; exit 1; }
fi
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

# The k8s.io/kubernetes commands this run needs.
kube_commands() {
  echo kube-apiserver kube-controller-manager
  [[ $NODE == true ]] && echo kubelet kube-proxy kube-scheduler
  true
}

build_kube() {
  local missing=() bin
  for bin in $(kube_commands); do [[ -x "$OUT_DIR/$bin" ]] || missing+=("$bin"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "building ${missing[*]} $KUBE_VERSION (k8s.io/kubernetes with its staging modules)"
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

// Package tools pins the main packages of the Kubernetes commands the ground runs into this
// module's build list.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
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
  for bin in "${missing[@]}"; do
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
  clientgo="$(sed -n 's#^[[:space:]]*k8s\.io/client-go v0\.\([0-9]*\)\..*#\1#p' "$modfile" | sed -n 1p)"
  local ld="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  if [[ -n "$clientgo" ]]; then
    for pkg in helm.sh/helm/v3/pkg/chartutil helm.sh/helm/v3/pkg/lint/rules; do
      ld+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$clientgo"
    done
  fi
  with_progress "helm" bash -c "cd '$dir' && GOBIN='$dir/bin' go install -trimpath -ldflags '$ld' 'helm.sh/helm/v3/cmd/helm@$HELM_VERSION' && mv '$dir/bin/helm' '$OUT_DIR/helm.tmp' && mv '$OUT_DIR/helm.tmp' '$OUT_DIR/helm'"
}

build_tools() {
  have_tools && return 0
  log "building kstatus and argo-health (hack/tools: sigs.k8s.io/cli-utils, github.com/yuin/gopher-lua)"
  local digest
  digest="$(tools_digest)"
  with_progress "tools" bash -c "cd '$TOOLS_DIR' && go build -trimpath -ldflags '-s -w' -o '$work/tools/' ./kstatus ./argo-health && mv '$work/tools/kstatus' '$OUT_DIR/kstatus' && mv '$work/tools/argo-health' '$OUT_DIR/argo-health'"
  echo "$digest" >"$OUT_DIR/tools.digest"
}

build_promtool() {
  have_promtool && return 0
  log "building promtool $PROMETHEUS_VERSION (github.com/prometheus/prometheus/cmd/promtool)"
  local dir="$work/promtool"
  mkdir -p "$dir"
  local ld="-s -w -X github.com/prometheus/common/version.Version=$PROMETHEUS_VERSION -X github.com/prometheus/common/version.Revision=module-proxy"
  # remove_all_sd: no service discovery plugins (cloud SDKs, Kubernetes): rule tests need none, and
  # the build takes a fraction of the time.
  with_progress "promtool" go_install "$dir" "$ld" "remove_all_sd" "$PROMETHEUS_VERSION" github.com/prometheus/prometheus/cmd/promtool
}

# Installs the main packages of one module version into $OUT_DIR (atomically, one by one).
# go_install DIR LDFLAGS TAGS MODULE@VERSION PACKAGE...
go_install() {
  local dir="$1" ld="$2" tags="$3" version="$4"; shift 4
  local pkgs=() pkg
  for pkg in "$@"; do pkgs+=("$pkg@$version"); done
  (cd "$dir" && GOBIN="$dir/bin" go install -trimpath -tags "$tags" -ldflags "$ld" "${pkgs[@]}")
  for pkg in "$@"; do
    local bin="${pkg##*/}"
    mv "$dir/bin/$bin" "$OUT_DIR/$bin.tmp" && mv "$OUT_DIR/$bin.tmp" "$OUT_DIR/$bin"
  done
}

build_containerd() {
  have_containerd && return 0
  log "building containerd, ctr and containerd-shim-runc-v2 $CONTAINERD_VERSION (github.com/containerd/containerd/v2)"
  local dir="$work/containerd"
  mkdir -p "$dir"
  # No cgo: the btrfs snapshotter and other cgo-only plugins drop out by their build constraints.
  local ld="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION -X github.com/containerd/containerd/v2/version.Revision=module-proxy"
  local m=github.com/containerd/containerd/v2/cmd
  # The daemon last: have_containerd reads its version.
  with_progress "containerd" go_install "$dir" "$ld" "no_btrfs no_devmapper no_zfs" "$CONTAINERD_VERSION" "$m/ctr" "$m/containerd-shim-runc-v2" "$m/containerd"
}

build_coredns() {
  have_coredns && return 0
  log "building CoreDNS $COREDNS_VERSION (github.com/coredns/coredns)"
  local dir="$work/coredns"
  mkdir -p "$dir"
  with_progress "coredns" go_install "$dir" "-s -w" "" "$COREDNS_VERSION" github.com/coredns/coredns
}

# The sandbox ("pause") container's program, as the Kubernetes release builds it: C, static.
build_pause() {
  [[ -x "$OUT_DIR/pause" ]] && return 0
  local src
  src="$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/build/pause/linux/pause.c"
  [[ -f "$src" ]] || { log "no $src in the k8s.io/kubernetes module"; exit 1; }
  log "building pause from $src (gcc -static)"
  gcc -Os -Wall -Werror -static -DVERSION="$KUBE_VERSION-wsdb" -o "$OUT_DIR/pause.tmp" "$src"
  strip "$OUT_DIR/pause.tmp"
  mv "$OUT_DIR/pause.tmp" "$OUT_DIR/pause"
}

build_etcd
build_kube
build_helm
build_tools
build_promtool
if [[ $NODE == true ]]; then
  build_containerd
  build_coredns
  build_pause
fi
"$OUT_DIR/etcd" --version | sed -n 1p >&2
"$OUT_DIR/kube-apiserver" --version >&2
"$OUT_DIR/kube-controller-manager" --version >&2
"$OUT_DIR/helm" version --short >&2
"$OUT_DIR/promtool" --version | sed -n 1p >&2
if [[ $NODE == true ]]; then
  "$OUT_DIR/kubelet" --version >&2
  "$OUT_DIR/containerd" --version >&2
  "$OUT_DIR/coredns" -version | sed -n 1p >&2
fi
echo "$OUT_DIR"
