//! The webtune page. A thin shell: it calls the library's public API and puts what comes back
//! on the page; it holds no logic of its own. Built for wasm32 by Trunk (`Trunk.toml`).

#[cfg(target_arch = "wasm32")]
mod dom;
#[cfg(target_arch = "wasm32")]
mod page;

#[cfg(target_arch = "wasm32")]
fn main() {
    console_error_panic_hook::set_once();
    // The same module runs in `worker.js`, which only wants the `Webtune` class.
    if web_sys::window().is_some() {
        wasm_bindgen_futures::spawn_local(page::run());
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("webtune-web is the page: build it with `trunk build --release` (see README.md)");
}
