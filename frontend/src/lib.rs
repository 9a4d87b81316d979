#![recursion_limit = "256"]
//! The browser entry point: hydrate the server-rendered page and nothing else.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    // Hydration starts after the first paint (`shell::Hydrate`); this marks when the page's
    // controls belong to the browser app, which the browser tests wait for after a page load.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "");
    }
}
