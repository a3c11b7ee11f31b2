# Sourced by the scripts: puts the project's npm tools (wasm-opt 132) first on PATH.
# shellcheck shell=bash
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CHROMEDRIVER="${CHROMEDRIVER:-/usr/bin/chromedriver}"
# The browser tier runs the real model and LoRA training on SwiftShader (WebGPU emulated on
# the CPU): about 7.5 minutes on 2 cores; the limit covers the whole run.
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-1500}"
# Mesa's Vulkan drivers complain on stderr when this is unset (as under CI and sudo).
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR="/tmp/xdg-runtime-$(id -u)"
  mkdir -p -m 700 "$XDG_RUNTIME_DIR"
fi
