//! The few DOM operations the page needs, none of which can panic: a missing element means a
//! broken page, and the text goes to the console instead.

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
