//! The portal frame: navigation, tenant switcher, user menu.

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

#[component]
pub fn PortalLayout() -> impl IntoView {
    let info = Resource::new_blocking(|| (), |_| get_session_info());
    view! {
        <Suspense fallback=|| view! { <div class="loading">"Loading…"</div> }>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(Some(session)) => {
                        let signal = Signal::stored(Some(session.clone()));
                        provide_context(signal);
                        view! {
                            <a class="skip-link" href="#main">"Skip to content"</a>
                            <Header session=session/>
                            <main id="main" class="content">
                                <Outlet/>
                            </main>
                        }
                            .into_any()
                    }
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
}

#[component]
fn Header(session: SessionInfo) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let role = session.role();
    let can_see_members = role.is_some_and(|r| allows(r, Action::ViewMembers));
    let initials: String = session
        .display_name
        .chars()
        .next()
        .unwrap_or('?')
        .to_uppercase()
        .collect();
    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">
                <span class="logo" aria-hidden="true">"◆"</span>
                "Stratus"
            </A>
            <nav aria-label="Main" class="mainnav">
                {(session.current.is_some()).then(|| view! { <A href="/" exact=true>"Dashboard"</A> })}
                {can_see_members.then(|| view! { <A href="/members">"Members"</A> })}
                {role.is_some_and(|r| allows(r, Action::ViewJobs)).then(|| view! { <A href="/jobs">"Jobs"</A> })}
                {role.is_some_and(|r| allows(r, Action::ViewCloudAccounts)).then(|| view! { <A href="/cloud-accounts">"Cloud accounts"</A> })}
                {role.is_some_and(|r| allows(r, Action::ViewSecrets)).then(|| view! { <A href="/secrets">"Secrets"</A> })}
                {role.is_some_and(|r| allows(r, Action::ManageOwnApiKeys)).then(|| view! { <A href="/api-keys">"API keys"</A> })}
                {session.platform_admin.then(|| view! {
                    <A href="/admin" exact=true>"Tenants"</A>
                    <A href="/admin/users">"Users"</A>
                    <A href="/admin/queue">"Queue"</A>
                })}
            </nav>
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
                        <ActionForm action=sign_out>
                            <button type="submit" class="button secondary full">"Sign out"</button>
                        </ActionForm>
                    </div>
                </details>
            </div>
        </header>
    }
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
