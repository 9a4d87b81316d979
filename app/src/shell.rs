use crate::components::layout::PortalLayout;
use crate::pages::*;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around every page (server only).
pub fn shell(options: LeptosOptions) -> impl IntoView {
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
/// see never waits for the 700 KB app, and the app's download does not compete with the page's
/// own (Lighthouse counts a download that starts before the largest paint against it).
/// Instantiating the module and hydrating run as two tasks, so neither blocks input as long as
/// both together would.
#[component]
fn Hydrate(options: LeptosOptions) -> impl IntoView {
    let pkg = format!("/{}/{}", options.site_pkg_dir, options.output_name);
    let script = format!(
        "requestAnimationFrame(() => setTimeout(() => import('{pkg}.js').then((app) => \
         app.default({{ module_or_path: '{pkg}_bg.wasm' }}).then(() => setTimeout(app.hydrate, 0))), 0));"
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
                <Route path=path!("/account/mfa") view=MfaEnrolmentPage/>
                <Route path=path!("/invite/:token") view=InvitationPage/>
                // Portal pages arrive complete (the page's data rendered in place, not streamed
                // after the document and swapped in by script): the content paints with the
                // document, before the browser app has loaded (Lighthouse, docs/measurements.md).
                <ParentRoute path=path!("") view=PortalLayout ssr=SsrMode::Async>
                    <Route path=path!("") view=DashboardPage/>
                    <Route path=path!("members") view=MembersPage/>
                    <Route path=path!("zones") view=ZonesPage/>
                    <Route path=path!("zones/new") view=ZoneCreatePage/>
                    <Route path=path!("zones/:id") view=ZonePage/>
                    <Route path=path!("instance-groups") view=InstanceGroupsPage/>
                    <Route path=path!("instance-groups/new") view=InstanceGroupCreatePage/>
                    <Route path=path!("instance-groups/:id") view=InstanceGroupPage/>
                    <Route path=path!("databases") view=DatabasesPage/>
                    <Route path=path!("databases/new") view=DatabaseCreatePage/>
                    <Route path=path!("databases/:id") view=DatabasePage/>
                    <Route path=path!("jobs") view=JobsPage/>
                    <Route path=path!("jobs/:id") view=JobPage/>
                    <Route path=path!("cloud-accounts") view=CloudAccountsPage/>
                    <Route path=path!("secrets") view=SecretsPage/>
                    <Route path=path!("audit") view=AuditPage/>
                    <Route path=path!("api-keys") view=ApiKeysPage/>
                    <Route path=path!("account") view=AccountPage/>
                    <Route path=path!("admin") view=AdminTenantsPage/>
                    <Route path=path!("admin/overview") view=AdminOverviewPage/>
                    <Route path=path!("admin/tenants/:id") view=AdminTenantPage/>
                    <Route path=path!("admin/users") view=AdminUsersPage/>
                    <Route path=path!("admin/queue") view=AdminQueuePage/>
                    <Route path=path!("admin/audit") view=AdminAuditPage/>
                </ParentRoute>
            </Routes>
        </Router>
    }
    .into_any()
}
