#![recursion_limit = "256"]
//! The browser entry point: hydrate the server-rendered page and nothing else.

/// Returns a promise: hydration is asynchronous because a lazily loaded page (`app::chunks`)
/// hydrates only once its chunks have loaded. The router asks for them when it matches the
/// route; the bootstrap script has been fetching them since it started fetching this module
/// (`shell::Hydrate`), so that is mostly compiling.
#[wasm_bindgen::prelude::wasm_bindgen]
pub async fn hydrate() {
    console_error_panic_hook::set_once();
    let body = leptos::prelude::document()
        .body()
        .expect("a page has a body");
    // The app lives as long as the page.
    leptos::mount::hydrate_from_async(body, app::App)
        .await
        .forget();
    // Hydration starts after the first paint (`shell::Hydrate`); this marks when the page's
    // controls belong to the browser app, which the browser tests wait for after a page load.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "");
    }
}
