# Sourced by the hack/ scripts: Debian packages, on the host and as root file systems of images.
#
# `wsdb_ensure_debian_packages PKG...` installs the packages the host lacks with apt-get (as root;
# `apt-get update` once when the package lists are missing or stale). The node of the test ground
# uses runc, the CNI plugins, iptables and conntrack from here; images are built with buildah.
#
# `wsdb_debian_rootfs DIR "EXCLUDED..." PKG...` assembles a root file system from Debian packages
# without running any of their scripts, as distroless images are made: the packages and everything
# they depend on (Depends and Pre-Depends, recursively, no Recommends), minus the EXCLUDED ones,
# downloaded with `apt-get download` from the host's own apt sources into a cache keyed by
# package and version ($WSDB_CACHE_DIR/debs), and unpacked into DIR over a merged /usr
# (bin, lib, lib64 and sbin are symlinks into usr/, as on Debian 12). Nothing here names a mirror.

WSDB_CACHE_DIR="${WSDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/workspacedb-operator}"

wsdb_debian_missing() {
  local pkg
  for pkg in "$@"; do
    [[ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" == ii* ]] || echo "$pkg"
  done
}

wsdb_ensure_debian_packages() {
  local missing
  mapfile -t missing < <(wsdb_debian_missing "$@")
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})" >&2
    return 1
  fi
  printf '[debian.sh %s] installing Debian packages: %s\n' "$(date +%H:%M:%S)" "${missing[*]}" >&2
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q --no-install-recommends -o Dpkg::Use-Pty=0)
  if ! "${apt[@]}" install "${missing[@]}" >&2; then
    apt-get -q update >&2
    "${apt[@]}" install "${missing[@]}" >&2
  fi
}

# The package names of the closure of PKG... (Depends and Pre-Depends), sorted.
wsdb_debian_closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$@" |
    grep -E '^[a-z0-9]' | sed 's/:any$//' | sort -u
}

# The downloaded .deb of PKG at VERSION in DIR, if any (apt-get writes an epoch's colon as %3a).
wsdb_debian_cached() {
  local f
  for f in "$1/${2}_${3/:/%3a}_"*.deb; do
    [[ -f "$f" ]] && { echo "$f"; return 0; }
  done
  return 0
}

wsdb_debian_rootfs() {
  local dir="$1" excluded=" $2 "; shift 2
  local debs="$WSDB_CACHE_DIR/debs" pkg version file
  mkdir -p "$debs" "$dir/usr/bin" "$dir/usr/lib" "$dir/usr/lib64" "$dir/usr/sbin"
  local d
  for d in bin lib lib64 sbin; do ln -sfn "usr/$d" "$dir/$d"; done
  local closure=() listed=()
  while read -r pkg; do
    [[ "$excluded" == *" $pkg "* ]] || closure+=("$pkg")
  done < <(wsdb_debian_closure "$@")
  for pkg in "${closure[@]}"; do
    version="$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')"
    [[ -n "$version" && "$version" != "(none)" ]] || { echo "no installable version of Debian package $pkg" >&2; return 1; }
    file="$(wsdb_debian_cached "$debs" "$pkg" "$version")"
    if [[ -z "$file" ]]; then
      (cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$version" >/dev/null) || { echo "apt-get download $pkg=$version failed" >&2; return 1; }
      file="$(wsdb_debian_cached "$debs" "$pkg" "$version")"
      [[ -n "$file" ]] || { echo "apt-get download $pkg=$version left no file in $debs" >&2; return 1; }
    fi
    dpkg-deb --fsys-tarfile "$file" | tar -x --keep-directory-symlink -C "$dir"
    listed+=("$pkg $version")
  done
  # What the image holds, for its label and the README.
  printf '%s\n' "${listed[@]}" >"$dir.packages"
}
