//! Pages the browser loads on first visit, as separate WASM chunks (issue 16: the first
//! download stays within the 350 KB brotli budget). The sign-in pages and the overview stay
//! in the main module: every session starts there.
//!
//! Each group is one split point (`#[lazy]`) taking the page to render, so a group's pages
//! load together: the group's own module and the chunks of code it shares with other groups
//! (`build_site` in `scripts/lib.sh` splits the bundle with `wasm-split-cli`). On the server
//! a lazy route renders synchronously, as any other route.

/// The chunk files each split point needs (`pkg/__wasm_split_manifest.json`, which
/// `build_site` writes from wasm-split's loader), keyed by the split point's name (`<group>_<hash>`).
/// Server only: it names the current page's chunks for the bootstrap script (`shell::Hydrate`).
#[cfg(feature = "ssr")]
#[derive(Clone, Debug, Default)]
pub struct ChunkFiles(std::sync::Arc<std::collections::HashMap<String, Vec<String>>>);

#[cfg(feature = "ssr")]
impl ChunkFiles {
    /// Read once: the bundle does not change while the server runs. No manifest (a bundle
    /// built without splitting) means no hints.
    pub fn load(options: &leptos::prelude::LeptosOptions) -> Self {
        static FILES: std::sync::OnceLock<ChunkFiles> = std::sync::OnceLock::new();
        FILES
            .get_or_init(|| {
                let path = format!(
                    "{}/{}/__wasm_split_manifest.json",
                    options.site_root, options.site_pkg_dir
                );
                let files = std::fs::read_to_string(path)
                    .ok()
                    .and_then(|text| serde_json::from_str(&text).ok())
                    .unwrap_or_default();
                ChunkFiles(std::sync::Arc::new(files))
            })
            .clone()
    }
}

/// Names the page's chunk files in `<meta name="stratus-chunks">` (leptos_meta puts it in the
/// `<head>`), so the bootstrap script fetches them alongside the main module instead of after
/// it, when hydration reaches the route.
#[cfg(feature = "ssr")]
fn preload_hint(group: &str) {
    use leptos::prelude::*;
    let Some(files) = use_context::<ChunkFiles>() else {
        return;
    };
    let split = files.0.iter().find(|(name, _)| {
        name.strip_prefix(group)
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|hash| hash.bytes().all(|b| b.is_ascii_digit()))
    });
    if let Some((_, files)) = split {
        // Rendering a leptos_meta tag on the server registers it for the <head>.
        let _ =
            view! { <leptos_meta::Meta name="stratus-chunks" content=files.join(" ")/> }.to_html();
    }
}

/// Declares a group: `$chunk` names the module and the chunk; each `$route` becomes a
/// `LazyRoute` for `Lazy::<chunks::$chunk::$route>` in the router, rendering `$page`.
macro_rules! chunk {
    ($chunk:ident: $($route:ident => $page:ident),+ $(,)?) => {
        pub mod $chunk {
            use leptos::prelude::*;

            /// The group's pages: the split point's argument.
            #[derive(Clone, Copy)]
            #[repr(u8)]
            pub enum Page {
                $($route),+
            }

            #[leptos::lazy($chunk)]
            pub fn page(page: Page) -> AnyView {
                match page {
                    $(Page::$route => view! { <crate::pages::$page/> }.into_any()),+
                }
            }

            $(
                pub struct $route;

                impl leptos_router::LazyRoute for $route {
                    fn data() -> Self {
                        Self
                    }

                    async fn view(_: Self) -> AnyView {
                        #[cfg(feature = "ssr")]
                        super::preload_hint(stringify!($chunk));
                        page(Page::$route).await
                    }

                    // The router preloads a route's code before a client-side navigation
                    // to it; only the browser build has chunks to load.
                    async fn preload() {
                        #[cfg(feature = "hydrate")]
                        __preload_page().await;
                    }
                }
            )+
        }
    };
}

// A tenant's pages load together, as one group: people move between them all day, and one
// group's first visit fetches its module and the few chunks it shares with the account and
// admin groups (4 files), where seven smaller groups needed 32–43 files each, every one
// instantiated before the page hydrates (Lighthouse's blocking time on a phone) and
// revalidated on later visits.
chunk!(tenant:
    Jobs => JobsPage,
    Job => JobPage,
    Audit => AuditPage,
    Zones => ZonesPage,
    ZoneCreate => ZoneCreatePage,
    Zone => ZonePage,
    InstanceGroups => InstanceGroupsPage,
    InstanceGroupCreate => InstanceGroupCreatePage,
    InstanceGroup => InstanceGroupPage,
    Databases => DatabasesPage,
    DatabaseCreate => DatabaseCreatePage,
    Database => DatabasePage,
    Members => MembersPage,
    CloudAccounts => CloudAccountsPage,
    Secrets => SecretsPage,
    ApiKeys => ApiKeysPage,
);
// Accepting an invitation makes an account: once per person, like setting up two factors.
chunk!(account: Account => AccountPage, MfaEnrolment => MfaEnrolmentPage, Invitation => InvitationPage);
chunk!(admin:
    AdminTenants => AdminTenantsPage,
    AdminOverview => AdminOverviewPage,
    AdminTenant => AdminTenantPage,
    AdminUsers => AdminUsersPage,
    AdminQueue => AdminQueuePage,
    AdminAudit => AdminAuditPage,
);
