#!/usr/bin/env bash
# Sets parley up (packages, build, models) and starts the server on http://127.0.0.1:8080.
# Arguments go to `parley serve` (e.g. --port 9000); see `parley serve --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(bash scripts/setup.sh | tail -n 1)"
echo "starting: $bin serve $*  (Ctrl-C stops it)" >&2
exec "$bin" serve "$@"
