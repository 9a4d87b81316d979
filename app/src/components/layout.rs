//! The portal frame: a top bar (brand, tenant switcher, user menu) and a grouped side
//! navigation the way cloud consoles group it: the tenant's resources, operations and settings,
//! and the admin console as its own area. Below 960 px the navigation collapses behind a
//! "Menu" button.

use crate::api::{get_session_info, SignOut, SwitchTenant};
use crate::components::status::ErrorPanel;
use crate::model::SessionInfo;
use crate::rbac::{allows, Action};
use leptos::prelude::*;
use leptos_router::components::{Outlet, Redirect, A};

/// The signed-in user's session, for pages inside the portal frame.
pub fn use_session() -> Signal<Option<SessionInfo>> {
    use_context::<Signal<Option<SessionInfo>>>().unwrap_or_else(|| Signal::derive(|| None))
}

/// Whether the signed-in person's role in the current tenant allows `action`, read from the
/// one permission table (`rbac`). Pages use it only to hide what cannot be used; the backend
/// authorizes every call again.
pub fn can(action: Action) -> bool {
    use_session()
        .get_untracked()
        .and_then(|s| s.role())
        .is_some_and(|r| allows(r, action))
}

/// One entry of the side navigation.
struct NavItem {
    href: &'static str,
    label: &'static str,
    /// The action the page is about: the entry is shown when the role allows it.
    needs: Action,
}

/// The tenant's sections, grouped.
const TENANT_NAV: &[(&str, &[NavItem])] = &[
    (
        "Resources",
        &[
            NavItem {
                href: "/zones",
                label: "Zones",
                needs: Action::ViewResources,
            },
            NavItem {
                href: "/instance-groups",
                label: "Instance groups",
                needs: Action::ViewResources,
            },
            NavItem {
                href: "/databases",
                label: "Databases",
                needs: Action::ViewResources,
            },
        ],
    ),
    (
        "Operations",
        &[
            NavItem {
                href: "/jobs",
                label: "Jobs",
                needs: Action::ViewJobs,
            },
            NavItem {
                href: "/audit",
                label: "Audit log",
                needs: Action::ViewAuditLog,
            },
        ],
    ),
    (
        "Settings",
        &[
            NavItem {
                href: "/members",
                label: "Members",
                needs: Action::ViewMembers,
            },
            NavItem {
                href: "/cloud-accounts",
                label: "Cloud accounts",
                needs: Action::ViewCloudAccounts,
            },
            NavItem {
                href: "/secrets",
                label: "Secrets",
                needs: Action::ViewSecrets,
            },
            NavItem {
                href: "/api-keys",
                label: "API keys",
                needs: Action::ManageOwnApiKeys,
            },
        ],
    ),
];

/// The admin console: platform admins only.
const ADMIN_NAV: &[(&str, &str)] = &[
    ("/admin/overview", "Overview"),
    ("/admin", "Tenants"),
    ("/admin/users", "Users"),
    ("/admin/queue", "Queue"),
    ("/admin/audit", "Audit"),
];

#[component]
pub fn PortalLayout() -> impl IntoView {
    let info = Resource::new_blocking(|| (), |_| get_session_info());
    view! {
        <Suspense fallback=|| view! { <div class="loading">"Loading…"</div> }>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(Some(session)) => view! { <Frame session/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                    Err(error) => view! {
                        <main id="main" class="content">
                            <ErrorPanel error/>
                        </main>
                    }
                        .into_any(),
                }
            })}
        </Suspense>
    }
    .into_any()
}

#[component]
fn Frame(session: SessionInfo) -> impl IntoView {
    provide_context(Signal::stored(Some(session.clone())));
    // The collapsed navigation (narrow windows) opens with the Menu button and closes again
    // when a section is picked in it.
    let open = RwSignal::new(false);
    view! {
        <div class="app" class:nav-open=move || open.get()>
            <a class="skip-link" href="#main">"Skip to content"</a>
            <Header session=session.clone() open/>
            <div class="app-body">
                <SideNav session open/>
                <main id="main" class="content">
                    <Outlet/>
                </main>
            </div>
        </div>
    }
    .into_any()
}

#[component]
fn Header(session: SessionInfo, open: RwSignal<bool>) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let initials: String = session
        .display_name
        .chars()
        .next()
        .unwrap_or('?')
        .to_uppercase()
        .collect();
    view! {
        <header class="topbar">
            <button type="button" class="nav-toggle" aria-controls="sidebar"
                aria-expanded=move || open.get().to_string()
                on:click=move |_| open.update(|o| *o = !*o)>
                <span class="nav-toggle-icon" aria-hidden="true"></span>
                "Menu"
            </button>
            <A href="/" attr:class="brand">
                <span class="logo" aria-hidden="true">"◆"</span>
                "Stratus"
            </A>
            <div class="topbar-right">
                <TenantSwitcher session=session.clone()/>
                <details class="menu user-menu">
                    <summary aria-label="Account menu">
                        <span class="avatar" aria-hidden="true">{initials}</span>
                        <span class="user-name">{session.display_name.clone()}</span>
                    </summary>
                    <div class="menu-body">
                        <p class="menu-label">"Signed in as"</p>
                        <p class="menu-email">{session.email.clone()}</p>
                        {session.platform_admin.then(|| view! { <p class="badge badge-admin">"Platform admin"</p> })}
                        <A href="/account" attr:class="menu-item">"Account"</A>
                        <ActionForm action=sign_out>
                            <button type="submit" class="button secondary full">"Sign out"</button>
                        </ActionForm>
                    </div>
                </details>
            </div>
        </header>
    }
    // Erased at the boundary: keeps the frame's type shallow (and the bundle smaller).
    .into_any()
}

#[component]
fn SideNav(session: SessionInfo, open: RwSignal<bool>) -> impl IntoView {
    let role = session.role();
    let tenant = session.current.clone().map(|t| t.display_name);
    let groups = role
        .map(|role| {
            TENANT_NAV
                .iter()
                .filter_map(|&(title, items)| {
                    let links: Vec<AnyView> = items
                        .iter()
                        .filter(|item| allows(role, item.needs))
                        .map(|item| nav_link(item.href, item.label, false))
                        .collect();
                    (!links.is_empty()).then(|| nav_group(title, links, ""))
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let admin = session.platform_admin.then(|| {
        let links = ADMIN_NAV
            .iter()
            .map(|&(href, label)| nav_link(href, label, href == "/admin"))
            .collect();
        nav_group("Admin console", links, "nav-admin")
    });
    view! {
        <nav id="sidebar" class="sidebar" aria-label="Main" on:click=move |_| open.set(false)>
            {tenant.map(|name| view! {
                <ul class="nav-list nav-top">
                    <li>
                        <A href="/" exact=true>
                            "Overview"
                            <span class="nav-sub">{name}</span>
                        </A>
                    </li>
                </ul>
            })}
            {groups}
            {admin}
        </nav>
    }
    .into_any()
}

fn nav_link(href: &'static str, label: &'static str, exact: bool) -> AnyView {
    view! { <li><A href=href exact=exact>{label}</A></li> }.into_any()
}

fn nav_group(title: &'static str, links: Vec<AnyView>, class: &'static str) -> AnyView {
    view! {
        <div class=format!("nav-group {class}")>
            <p class="nav-heading">{title}</p>
            <ul class="nav-list">{links}</ul>
        </div>
    }
    .into_any()
}

#[component]
fn TenantSwitcher(session: SessionInfo) -> impl IntoView {
    let switch = ServerAction::<SwitchTenant>::new();
    let Some(current) = session.current.clone() else {
        return ().into_any();
    };
    let others: Vec<_> = session
        .tenants
        .iter()
        .filter(|t| t.tenant_id != current.tenant_id)
        .cloned()
        .collect();
    if others.is_empty() {
        return view! { <span class="tenant-current" title="Current tenant">{current.display_name}</span> }.into_any();
    }
    view! {
        <details class="menu tenant-menu">
            <summary aria-label="Switch tenant">
                <span class="tenant-current">{current.display_name.clone()}</span>
            </summary>
            <div class="menu-body">
                <p class="menu-label">"Switch tenant"</p>
                {others
                    .into_iter()
                    .map(|t| {
                        view! {
                            <ActionForm action=switch>
                                <input type="hidden" name="tenant_id" value=t.tenant_id.to_string()/>
                                <button type="submit" class="menu-item">
                                    {t.display_name}
                                    <span class="muted">" · " {t.role.label()}</span>
                                </button>
                            </ActionForm>
                        }
                    })
                    .collect_view()}
            </div>
        </details>
    }
    .into_any()
}
