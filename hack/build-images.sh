#!/usr/bin/env bash
# Builds the images of the test ground's node without any registry, with buildah (Debian's package):
# - the operator, from the repository's Dockerfile, on two bases assembled here: BASE (Debian's
#   libc6, libstdc++6, libgcc-s1 and netbase, the Node.js binary of hack/lib/node.sh, uid 1000) and
#   BUILD_BASE (BASE plus dash, coreutils, findutils and npm from the npm registry);
# - a notebook image (python3, psycopg2, psql, a shell; Debian's packages, uid 1000);
# - pause and CoreDNS, each one static binary from hack/build-binaries.sh --node.
#
# Usage: hack/build-images.sh
# - the operator of an earlier commit (PREVIOUS_COMMIT below, from git history: a shallow clone
#   cannot build it), for the test of an upgrade from it.
# Prints, as its last line on stdout, one JSON object: for each of operator, previous (plus its
# commit), notebook, pause and coredns its image reference and an image archive (docker-archive) that
# `ctr -n k8s.io images import` takes. Progress goes to stderr.
#
# Everything is cached outside the repository, under $WSDB_CACHE_DIR: buildah's own store
# (containers/, overlay driver; its RUN steps use chroot isolation and the host's network as it is,
# so nothing on the host's network changes), downloaded Debian packages (debs/) and the archives
# (images/, named by image ID). Bases are keyed by the Node.js version and the exact Debian package
# versions; the operator image by buildah's layer cache, so an unchanged tree builds in seconds.
# One build at a time (a lock); a second caller waits and then finds the images made.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/node.sh
source hack/lib/debian.sh

WSDB_NPM_VERSION="${WSDB_NPM_VERSION:-11.19.0}"
STORE="$WSDB_CACHE_DIR/containers"
IMAGES="$WSDB_CACHE_DIR/images"
log() { printf '[build-images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

wsdb_ensure_node
wsdb_ensure_debian_packages buildah
BIN_DIR="$(bash hack/build-binaries.sh --node | tail -1)"
mkdir -p "$STORE" "$IMAGES"
exec 9>"$STORE/build.lock"
if ! flock -n 9; then
  log "another image build is running; waiting for it"
  flock 9
fi

B=(buildah --root "$STORE/storage" --runroot "$STORE/run" --storage-driver overlay)
work="$(mktemp -d "${TMPDIR:-/tmp}/wsdb-images.XXXXXX")"
containers=()
cleanup() {
  local c
  for c in "${containers[@]}"; do "${B[@]}" rm "$c" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

have_image() { "${B[@]}" inspect --type image "$1" >/dev/null 2>&1; }

# The exact Debian package versions a root file system of PKG... would hold, as one digest.
closure_key() {
  local pkg
  wsdb_debian_closure "$@" | while read -r pkg; do
    echo "$pkg=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')"
  done | sha256sum | cut -c1-12
}

# commit_rootfs REF DIR CONFIG...: an image of one layer holding DIR, with buildah config flags.
commit_rootfs() {
  local ref="$1" dir="$2"; shift 2
  local c
  c="$("${B[@]}" from scratch)"
  containers+=("$c")
  tar -C "$dir" --numeric-owner -cf "$work/layer.tar" .
  "${B[@]}" add "$c" "$work/layer.tar" / >/dev/null
  rm -f "$work/layer.tar"
  "${B[@]}" config --os linux --arch amd64 "$@" "$c"
  "${B[@]}" commit --quiet "$c" "$ref" >/dev/null
  "${B[@]}" rm "$c" >/dev/null
}

# Users and the few files every image here needs: root, uid 1000 (NAME), /tmp, nsswitch.
base_files() {
  local dir="$1" name="$2"
  mkdir -p "$dir/etc" "$dir/tmp" "$dir/home/$name"
  chmod 1777 "$dir/tmp"
  printf 'root:x:0:0:root:/root:/usr/sbin/nologin\n%s:x:1000:1000:%s:/home/%s:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n' "$name" "$name" "$name" >"$dir/etc/passwd"
  printf 'root:x:0:\n%s:x:1000:\nnogroup:x:65534:\n' "$name" >"$dir/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$dir/etc/nsswitch.conf"
  chown 1000:1000 "$dir/home/$name"
}

node_dir="$(dirname "$(dirname "$(command -v node)")")"
runtime_pkgs=(libc6 libstdc++6 libgcc-s1 netbase)
build_pkgs=(libc6 libstdc++6 libgcc-s1 netbase dash coreutils findutils)
BASE="localhost/wsdb-node-base:$WSDB_NODE_VERSION-$(closure_key "${runtime_pkgs[@]}")"
BUILD_BASE="localhost/wsdb-node-build:$WSDB_NODE_VERSION-npm$WSDB_NPM_VERSION-$(closure_key "${build_pkgs[@]}")"

node_rootfs() {
  local dir="$1"; shift
  wsdb_debian_rootfs "$dir" "" "$@"
  base_files "$dir" node
  mkdir -p "$dir/usr/local/bin"
  cp "$node_dir/bin/node" "$dir/usr/local/bin/node"
}

if ! have_image "$BASE"; then
  log "base image $BASE (Debian: ${runtime_pkgs[*]}; Node.js $WSDB_NODE_VERSION)"
  node_rootfs "$work/base" "${runtime_pkgs[@]}"
  commit_rootfs "$BASE" "$work/base" --env PATH=/usr/local/bin:/usr/bin --user 1000:1000 --cmd node
  rm -rf "$work/base"
fi
if ! have_image "$BUILD_BASE"; then
  log "build base image $BUILD_BASE (Debian: ${build_pkgs[*]}; Node.js $WSDB_NODE_VERSION, npm $WSDB_NPM_VERSION)"
  node_rootfs "$work/build" "${build_pkgs[@]}"
  (cd "$work" && npm pack --silent "npm@$WSDB_NPM_VERSION" >/dev/null)
  mkdir -p "$work/build/usr/local/lib/node_modules/npm"
  tar -xzf "$work"/npm-*.tgz --strip-components=1 -C "$work/build/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$work/build/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$work/build/usr/local/bin/npx"
  mkdir -p "$work/build/root"
  commit_rootfs "$BUILD_BASE" "$work/build" --env PATH=/usr/local/bin:/usr/bin --env NPM_CONFIG_UPDATE_NOTIFIER=false --cmd node
  rm -rf "$work/build"
fi

# The operator, from the Dockerfile, exactly as on a Docker host but for the two bases.
log "operator image from the Dockerfile (buildah bud, layers cached)"
secret=()
if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -s "${NODE_EXTRA_CA_CERTS}" ]]; then
  secret=(--secret "id=npm-ca,src=$NODE_EXTRA_CA_CERTS")
fi
"${B[@]}" bud --quiet --layers --isolation chroot --network host --pull-never \
  --build-arg "BUILD_BASE=$BUILD_BASE" --build-arg "BASE=$BASE" "${secret[@]}" \
  -t localhost/workspacedb-operator:latest -f Dockerfile . >&2
operator_id="$("${B[@]}" inspect --type image --format '{{.FromImageID}}' localhost/workspacedb-operator:latest)"
OPERATOR="localhost/workspacedb-operator:${operator_id:0:12}"
"${B[@]}" tag localhost/workspacedb-operator:latest "$OPERATOR"

# The operator of an earlier commit (the upgrade test installs its chart and image, then upgrades to
# this tree's): its files from git history, built by its own Dockerfile on the same bases, once.
PREVIOUS_COMMIT=1593d68acab2e73a0bc712f6e5ede686394e2380
PREVIOUS="localhost/workspacedb-operator:previous-${PREVIOUS_COMMIT:0:12}"
if ! have_image "$PREVIOUS"; then
  log "operator image of commit ${PREVIOUS_COMMIT:0:12} (for the upgrade test)"
  if ! git cat-file -e "$PREVIOUS_COMMIT^{commit}" 2>/dev/null; then
    echo "build-images: commit $PREVIOUS_COMMIT is not in this clone's history (a shallow clone?); the upgrade test needs it" >&2
    exit 1
  fi
  mkdir -p "$work/previous"
  git archive --format=tar "$PREVIOUS_COMMIT" | tar -x -C "$work/previous"
  "${B[@]}" bud --quiet --layers --isolation chroot --network host --pull-never \
    --build-arg "BUILD_BASE=$BUILD_BASE" --build-arg "BASE=$BASE" "${secret[@]}" \
    -t "$PREVIOUS" -f "$work/previous/Dockerfile" "$work/previous" >&2
  rm -rf "$work/previous"
fi

notebook_pkgs=(python3 python3-psycopg2 postgresql-client-15 dash coreutils)
notebook_excluded="perl perl-base perl-modules-5.36 libperl5.36 postgresql-client-common dpkg install-info tar mailcap mime-support media-types sensible-utils libgdbm-compat4 libdb5.3"
NOTEBOOK="localhost/wsdb-notebook:$(closure_key "${notebook_pkgs[@]}")"
if ! have_image "$NOTEBOOK"; then
  log "notebook image $NOTEBOOK (Debian: ${notebook_pkgs[*]})"
  wsdb_debian_rootfs "$work/notebook" "$notebook_excluded" "${notebook_pkgs[@]}"
  base_files "$work/notebook" notebook
  ln -sfn ../lib/postgresql/15/bin/psql "$work/notebook/usr/bin/psql"
  commit_rootfs "$NOTEBOOK" "$work/notebook" --env PATH=/usr/bin --env HOME=/home/notebook --user 1000:1000 --workingdir /home/notebook --cmd "sleep infinity"
  rm -rf "$work/notebook"
fi

static_image() {
  local ref="$1" bin="$2"; shift 2
  have_image "$ref" && return 0
  log "image $ref (static $bin)"
  mkdir -p "$work/$bin"
  cp "$BIN_DIR/$bin" "$work/$bin/$bin"
  base_files "$work/$bin" "$bin"
  commit_rootfs "$ref" "$work/$bin" "$@"
  rm -rf "$work/${bin:?}"
}
PAUSE="localhost/wsdb-pause:$("$BIN_DIR/kubelet" --version | awk '{print $2}')"
static_image "$PAUSE" pause --entrypoint '["/pause"]' --user 65534:65534
COREDNS="localhost/wsdb-coredns:$("$BIN_DIR/coredns" -version | sed -n 1p | sed 's/^CoreDNS-//')"
static_image "$COREDNS" coredns --entrypoint '["/coredns"]'

# archive REF: the docker-archive of REF, named by image ID (written once).
archive() {
  local ref="$1" id file
  id="$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$ref")"
  file="$IMAGES/${id:0:32}.tar"
  if [[ ! -s "$file" ]]; then
    "${B[@]}" push --quiet "$ref" "docker-archive:$file.tmp:$ref" >&2
    mv "$file.tmp" "$file"
  fi
  echo "$file"
}

# Old images and archives go: the four newest operator images stay (an upgrade test may want the
# previous one), so do the newest build stages (npm's layer cache), and every archive still named by
# an image; the rest of each accrues with every change of src/.
prune_oldest() { # KEEP: removes all but the KEEP newest of the image references or IDs on stdin ("time ref")
  sort -r | tail -n +"$(($1 + 1))" | awk '{print $NF}' | while read -r ref; do "${B[@]}" rmi "$ref" >/dev/null 2>&1 || true; done
}
"${B[@]}" images --noheading --format '{{.CreatedAtRaw}} {{.Name}}:{{.Tag}}' localhost/workspacedb-operator 2>/dev/null |
  grep -v -e ':latest$' -e ':previous-' | prune_oldest 4
"${B[@]}" images --noheading --no-trunc --filter dangling=true --format '{{.CreatedAtRaw}} {{.ID}}' 2>/dev/null | prune_oldest 4
mapfile -t keep < <("${B[@]}" images --noheading --no-trunc --format '{{.ID}}' 2>/dev/null | sed 's/^sha256://' | cut -c1-32)
for file in "$IMAGES"/*.tar; do
  [[ -e "$file" ]] || continue
  [[ " ${keep[*]} " == *" $(basename "$file" .tar) "* ]] || rm -f "$file"
done

json="{"
sep=""
for pair in "operator=$OPERATOR" "previous=$PREVIOUS" "notebook=$NOTEBOOK" "pause=$PAUSE" "coredns=$COREDNS"; do
  name="${pair%%=*}" ref="${pair#*=}"
  file="$(archive "$ref")"
  log "$name: $ref ($(du -m "$file" | cut -f1) MB archive)"
  extra=""
  if [[ $name == previous ]]; then extra=",\"commit\":\"$PREVIOUS_COMMIT\""; fi
  json+="$sep\"$name\":{\"ref\":\"$ref\",\"archive\":\"$file\"$extra}"
  sep=","
done
echo "$json}"
