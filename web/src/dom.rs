//! The few DOM operations the page needs, none of which can panic: a missing element means a
//! broken page, and the text goes to the console instead.

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;

/// Finds an element by id.
pub fn element(id: &str) -> Option<web_sys::Element> {
    web_sys::window()?.document()?.get_element_by_id(id)
}

/// Sets a section's text and status (`data-status`, which tests wait on).
pub fn show(id: &str, status: &str, text: &str) {
    match element(id) {
        Some(el) => {
            el.set_text_content(Some(text));
            // Setting an attribute only fails for invalid names; ours are literals.
            let _ = el.set_attribute("data-status", status);
        }
        None => web_sys::console::error_1(&format!("page has no #{id}: {text}").into()),
    }
}

/// Appends text to an element.
pub fn append(id: &str, text: &str) {
    if let Some(el) = element(id) {
        let mut current = el.text_content().unwrap_or_default();
        current.push_str(text);
        el.set_text_content(Some(&current));
    }
}

/// The value of a `<textarea>` or `<input>`.
pub fn value(id: &str) -> String {
    let el = element(id);
    if let Some(area) = el
        .as_ref()
        .and_then(|e| e.dyn_ref::<web_sys::HtmlTextAreaElement>())
    {
        return area.value();
    }
    el.and_then(|e| e.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|input| input.value())
        .unwrap_or_default()
}

/// Enables or disables a button.
pub fn enable(id: &str, enabled: bool) {
    if let Some(button) = element(id).and_then(|e| e.dyn_into::<web_sys::HtmlButtonElement>().ok())
    {
        button.set_disabled(!enabled);
    }
}

/// Calls `handler` on every click of element `id` (for the page's lifetime).
pub fn on_click(id: &str, handler: impl FnMut() + 'static) {
    let Some(el) = element(id) else {
        web_sys::console::error_1(&format!("page has no #{id}").into());
        return;
    };
    let closure = Closure::<dyn FnMut()>::new(handler);
    let _ = el.add_event_listener_with_callback("click", closure.as_ref().unchecked_ref());
    // The page lives as long as the listener: hand the closure to the JS garbage collector.
    closure.forget();
}
