# Sourced by the hack/ scripts: puts a supported Node.js LTS on PATH and installs npm dependencies.
#
# The machine's own Node.js may be past end of life, so Node.js $WSDB_NODE_VERSION is taken from the
# npm registry's node-linux-<arch> package (a plain tarball, no install scripts) into a cache outside
# the repo keyed by version. npm dependencies are installed with `npm ci` whenever package-lock.json
# changed since the last install.

WSDB_NODE_VERSION="${WSDB_NODE_VERSION:-24.21.0}"
WSDB_CACHE_DIR="${WSDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/workspacedb-operator}"

wsdb_log() { printf '[%s %s] %s\n' "${0##*/}" "$(date +%H:%M:%S)" "$*" >&2; }

wsdb_ensure_node() {
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) wsdb_log "unsupported architecture $(uname -m)"; return 1 ;;
  esac
  local dir="$WSDB_CACHE_DIR/node/v$WSDB_NODE_VERSION-linux-$arch"
  if [[ ! -x "$dir/bin/node" ]]; then
    command -v npm >/dev/null || { wsdb_log "npm is needed once to fetch Node.js $WSDB_NODE_VERSION"; return 1; }
    wsdb_log "fetching Node.js $WSDB_NODE_VERSION (npm package node-linux-$arch) into $dir"
    local tmp
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/wsdb-node.XXXXXX")"
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$WSDB_NODE_VERSION" >/dev/null) || { rm -rf "$tmp"; return 1; }
    mkdir -p "$tmp/x" && tar -xzf "$tmp"/node-linux-*.tgz -C "$tmp/x"
    mkdir -p "$(dirname "$dir")" && rm -rf "$dir" && mv "$tmp/x/package" "$dir" && rm -rf "$tmp"
    chmod +x "$dir/bin/node"
  fi
  # npm itself keeps running from the machine's install; every `node` it starts is this one.
  export PATH="$dir/bin:$PATH"
  node --version >/dev/null
}

wsdb_ensure_deps() {
  local root="$1"
  local stamp="$root/node_modules/.wsdb-lock-hash"
  local want
  want="$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)-$(node --version)"
  if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    wsdb_log "installing npm dependencies (npm ci)"
    (cd "$root" && npm ci --no-audit --no-fund --loglevel=error >&2)
    echo "$want" >"$stamp"
  fi
}

# Exports WSDB_BIN_DIR (kube-apiserver, kube-controller-manager, etcd, helm; built once and cached)
# unless an existing cluster is used (WSDB_KUBECONFIG).
wsdb_ensure_ground_binaries() {
  if [[ -z "${WSDB_KUBECONFIG:-}" ]]; then
    WSDB_BIN_DIR="$(bash "$(dirname "${BASH_SOURCE[0]}")/../build-binaries.sh")"
    export WSDB_BIN_DIR
  fi
}
