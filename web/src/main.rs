//! The webtune page's wasm module. It has no page logic of its own: built by Trunk as a worker
//! module (`Trunk.toml`, `index.html`), it is loaded only by `worker.js`, which drives the
//! library's JavaScript API (`webtune::js::Webtune`, exported from here) for the page. The
//! page's main thread runs no wasm and makes no GPU device.

#[cfg(target_arch = "wasm32")]
pub use webtune::js::Webtune;

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("webtune-web is the page: build it with `trunk build --release` (see README.md)");
}
