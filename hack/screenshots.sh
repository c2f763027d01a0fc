#!/usr/bin/env bash
# Makes the README's pictures of the database page (docs/images/page-*.png) with hack/screenshots.ts:
# a test ground of its own, the operator, `kubectl wsdb ui`, and Debian's Chromium headless.
set -euo pipefail
cd "$(dirname "$0")/.."
source hack/lib/node.sh
source hack/lib/debian.sh
wsdb_ensure_node
wsdb_ensure_deps "$PWD"
wsdb_ensure_ground_binaries
wsdb_ensure_debian_packages chromium
npm run --silent build
exec node hack/screenshots.ts "$@"
