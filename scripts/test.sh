#!/usr/bin/env bash
# Runs parley's whole test suite: set-up in the test profile (packages, build, the real model store the
# model tests use), then every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/parley/target}"
PARLEY_PROFILE=dev bash scripts/setup.sh >/dev/null
cargo test --locked --workspace "$@"
