use crate::chunks::*;
use crate::components::layout::PortalLayout;
use crate::pages::{DashboardPage, NotFoundPage, SecondFactorPage, SignInPage};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};

/// The HTML document around every page (server only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    provide_context(ChunkFiles::load(&options));
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="data:,"/>
                <Hydrate options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Loads the browser app and hydrates the page, as Leptos's `HydrationScripts` does, but only
/// after the first paint and without preloading it: portal pages arrive rendered, so what people
/// see never waits for the app, and the app's download does not compete with the page's own
/// (Lighthouse counts a download that starts before the largest paint against it).
/// A lazily loaded page's chunks (`<meta name="stratus-chunks">`, `chunks::preload_hint`) are
/// fetched at the same time as the main module: hydration waits for them. The split loader's
/// own `fetch` then takes them from the preload.
/// Instantiating the module and hydrating run as two tasks, so neither blocks input as long as
/// both together would.
#[component]
fn Hydrate(options: LeptosOptions) -> impl IntoView {
    let dir = format!("/{}", options.site_pkg_dir);
    let pkg = format!("{dir}/{}", options.output_name);
    let script = format!(
        "requestAnimationFrame(() => setTimeout(() => {{\
         for (const file of document.querySelector('meta[name=stratus-chunks]')?.content.split(' ') ?? []) {{\
         const link = Object.assign(document.createElement('link'), \
         {{ rel: 'preload', as: 'fetch', type: 'application/wasm', crossOrigin: 'anonymous', href: `{dir}/${{file}}.wasm` }});\
         document.head.append(link); }}\
         import('{pkg}.js').then((app) => \
         app.default({{ module_or_path: '{pkg}_bg.wasm' }}).then(() => setTimeout(app.hydrate, 0))); }}, 0));"
    );
    view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script}</script> }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="stratus" href="/pkg/stratus.css"/>
        <Title formatter=|page: String| if page.is_empty() { "Stratus".to_string() } else { format!("{page} · Stratus") }/>
        <Router>
            <Routes fallback=|| view! { <NotFoundPage/> }>
                <Route path=path!("/login") view=SignInPage/>
                <Route path=path!("/login/mfa") view=SecondFactorPage/>
                <Route path=path!("/account/mfa") view={Lazy::<account::MfaEnrolment>::new()}/>
                <Route path=path!("/invite/:token") view={Lazy::<account::Invitation>::new()}/>
                // Portal pages arrive complete (the page's data rendered in place, not streamed
                // after the document and swapped in by script): the content paints with the
                // document, before the browser app has loaded (Lighthouse, docs/measurements.md).
                <ParentRoute path=path!("") view=PortalLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=DashboardPage/>
                    <Route path=path!("members") view={Lazy::<tenant::Members>::new()}/>
                    <Route path=path!("zones") view={Lazy::<tenant::Zones>::new()}/>
                    <Route path=path!("zones/new") view={Lazy::<tenant::ZoneCreate>::new()}/>
                    <Route path=path!("zones/:id") view={Lazy::<tenant::Zone>::new()}/>
                    <Route path=path!("instance-groups") view={Lazy::<tenant::InstanceGroups>::new()}/>
                    <Route path=path!("instance-groups/new") view={Lazy::<tenant::InstanceGroupCreate>::new()}/>
                    <Route path=path!("instance-groups/:id") view={Lazy::<tenant::InstanceGroup>::new()}/>
                    <Route path=path!("databases") view={Lazy::<tenant::Databases>::new()}/>
                    <Route path=path!("databases/new") view={Lazy::<tenant::DatabaseCreate>::new()}/>
                    <Route path=path!("databases/:id") view={Lazy::<tenant::Database>::new()}/>
                    <Route path=path!("jobs") view={Lazy::<tenant::Jobs>::new()}/>
                    <Route path=path!("jobs/:id") view={Lazy::<tenant::Job>::new()}/>
                    <Route path=path!("cloud-accounts") view={Lazy::<tenant::CloudAccounts>::new()}/>
                    <Route path=path!("secrets") view={Lazy::<tenant::Secrets>::new()}/>
                    <Route path=path!("audit") view={Lazy::<tenant::Audit>::new()}/>
                    <Route path=path!("api-keys") view={Lazy::<tenant::ApiKeys>::new()}/>
                    <Route path=path!("account") view={Lazy::<account::Account>::new()}/>
                    <Route path=path!("admin") view={Lazy::<admin::AdminTenants>::new()}/>
                    <Route path=path!("admin/overview") view={Lazy::<admin::AdminOverview>::new()}/>
                    <Route path=path!("admin/tenants/:id") view={Lazy::<admin::AdminTenant>::new()}/>
                    <Route path=path!("admin/users") view={Lazy::<admin::AdminUsers>::new()}/>
                    <Route path=path!("admin/queue") view={Lazy::<admin::AdminQueue>::new()}/>
                    <Route path=path!("admin/audit") view={Lazy::<admin::AdminAudit>::new()}/>
                </ParentRoute>
            </Routes>
        </Router>
    }
    .into_any()
}
