#!/usr/bin/env bash
# Sets up what is missing, builds the page and serves it on http://127.0.0.1:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh serve
source scripts/env.sh
echo
echo "webtune: building the page; it will be served at http://127.0.0.1:8080 (Ctrl-C stops)"
echo
exec trunk serve --release --offline
