#!/usr/bin/env bash
# Sets up what is missing, then runs every test tier in order; stops at the first failure.
#
#   scripts/test.sh            # all tiers
#   scripts/test.sh TIER...    # only these (names below), after setup
set -euo pipefail
cd "$(dirname "$0")/.."
setup_start=$SECONDS
scripts/setup.sh test
setup_seconds=$((SECONDS - setup_start))
source scripts/env.sh

tiers=(fmt clippy features cpu gpu wasm browser trunk page)
[ $# -gt 0 ] && tiers=("$@")

run_tier() {
  case "$1" in
    fmt) cargo fmt --all --check ;;
    clippy)
      # `&&`: inside `if`, a function's failing first command would not stop it.
      cargo clippy -q --workspace --all-targets -- -D warnings &&
      cargo clippy -q --target wasm32-unknown-unknown -p webtune-web -p webtune-tests --all-targets -- -D warnings ;;
    features)
      # burn's autotune must stay off and its fusion on: see docs/internals.md, "WebGPU in the
      # browser" and "Kernel launches".
      cubecl=$(cargo tree -q -e features --target all -i burn-cubecl) || return 1
      if grep -E 'feature "autotune"' <<<"$cubecl"; then
        echo "burn-cubecl is built with autotune: the browser tier would be silently wrong" >&2
        return 1
      fi &&
      if ! grep -q 'burn-cubecl feature "fusion"' <<<"$cubecl"; then
        echo "burn-cubecl is built without fusion: the GPU tiers would launch 2-3x the kernels" >&2
        return 1
      fi &&
      # The CPU tier's threads and SIMD kernels (natively; SIMD in the browser): see docs/internals.md.
      for target in x86_64-unknown-linux-gnu wasm32-unknown-unknown; do
        flex=$(cargo tree -q -e features --target "$target" -p webtune -i burn-flex) || return 1
        for feature in simd $([ "$target" = wasm32-unknown-unknown ] || echo rayon); do
          if ! grep -q "burn-flex feature \"$feature\"" <<<"$flex"; then
            echo "burn-flex is built without \`$feature\` for $target: the CPU tier would be slow" >&2
            return 1
          fi
        done
      done &&
      # Trunk reuses the browser tests' wasm artifacts (see the wasm tier) only while the tests
      # add no feature to a crate the page also builds (a test-only `toml` once switched on
      # `indexmap/std` under wgpu, and Trunk compiled the whole engine again).
      wasm_features() {
        cargo tree -q -e features,normal,dev --target wasm32-unknown-unknown "$@" -f '{p} {f}' --prefix none |
          grep ' v[0-9]' | sed 's/ (\*)//' | sort -u
      }
      page=$(wasm_features -p webtune-web) && both=$(wasm_features -p webtune-web -p webtune-tests) &&
      extra=$(awk 'NR == FNR { seen[$0] = 1; name[$1 " " $2] = 1; next }
                   !seen[$0] && name[$1 " " $2]' <(echo "$page") <(echo "$both")) &&
      if [ -n "$extra" ]; then
        echo "the browser tests switch on features the page does not (Trunk would rebuild the engine):" >&2
        echo "$extra" >&2
        return 1
      fi ;;
    # The fuzzing tests (crate/tests/fuzz.rs): 10 s per parser (11 parsers, ~1 min on 2 cores).
    cpu) cargo test -q --workspace -- --skip gpu ;;
    gpu) cargo test -q -p webtune-tests --test native -- gpu ;;
    # One release build for wasm32: the browser tests and the page (trunk) share every
    # dependency's artifacts, so trunk only compiles the page's own small crate.
    wasm) cargo build -q --release --target wasm32-unknown-unknown -p webtune-web -p webtune-tests --tests ;;
    browser) cargo test --release --target wasm32-unknown-unknown -p webtune-tests --test browser ;;
    # Then: the page's module runs its constructors once (`platform::run_constructors`), not at
    # the start of every call from JavaScript (~8 ms per kernel launch); the linker's wrappers
    # that would do that are named `*.command_export` (checked in Trunk's input: it keeps names).
    trunk) trunk build --release --offline &&
      page_wasm=target/wasm32-unknown-unknown/release/webtune-web.wasm &&
      if ! grep -q __wasm_call_ctors "$page_wasm"; then
        echo "$page_wasm has no names to check (__wasm_call_ctors not found)" >&2
        return 1
      elif grep -q command_export "$page_wasm"; then
        echo "$page_wasm runs its constructors on every export (*.command_export wrappers)" >&2
        return 1
      fi ;;
    page) node tests/page/smoke.mjs ;;
    *) echo "unknown tier $1 (tiers: fmt clippy features cpu gpu wasm browser trunk page)" >&2; return 2 ;;
  esac
}

# Every run ends with each tier's time (setup included), passed or not.
times=("setup ${setup_seconds}s")
summary() {
  printf '\033[1;34m==> times:\033[0m %s\n' "${times[*]}"
}
trap summary EXIT

start_all=$SECONDS
for tier in "${tiers[@]}"; do
  printf '\033[1;34m==> tier %s\033[0m\n' "$tier"
  start=$SECONDS
  if ! run_tier "$tier"; then
    times+=("$tier FAILED $((SECONDS - start))s")
    printf '\033[1;31mtier %s FAILED after %ss\033[0m\n' "$tier" $((SECONDS - start))
    exit 1
  fi
  times+=("$tier $((SECONDS - start))s")
  printf '\033[1;32m==> tier %s ok (%ss)\033[0m\n' "$tier" $((SECONDS - start))
done
echo "all tiers passed in $((SECONDS - start_all))s: ${tiers[*]}"
