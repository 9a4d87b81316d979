use super::PageHeader;
use crate::api::get_overview;
use crate::components::layout::use_session;
use crate::components::status::{date, ErrorPanel, RoleBadge, StatusBadge};
use crate::model::{TenantStatus, TenantView};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_overview());
    let session = use_session();
    view! {
        <Title text="Dashboard"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Ok(Some(tenant)) => view! { <TenantOverview tenant/> }.into_any(),
                    Ok(None) => {
                        let admin = session.get().is_some_and(|s| s.platform_admin);
                        view! {
                            <PageHeader title="Welcome to Stratus".to_string()/>
                            <section class="panel empty">
                                <h2>"You are not in a tenant yet"</h2>
                                {if admin {
                                    view! {
                                        <p>"As a platform admin, start by creating a tenant and inviting its first owner."</p>
                                        <a class="button" href="/admin">"Open the admin console"</a>
                                    }.into_any()
                                } else {
                                    view! { <p>"Ask a tenant admin for an invitation link."</p> }.into_any()
                                }}
                            </section>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TenantOverview(tenant: TenantView) -> impl IntoView {
    let q = tenant.quotas;
    let limits = [
        ("Zones", q.max_zones),
        ("Instances", q.max_instances),
        ("vCPUs", q.max_vcpus),
        ("Databases", q.max_databases),
    ];
    view! {
        <PageHeader title=tenant.display_name.clone() subtitle=format!("Tenant {} · created {}", tenant.slug, date(tenant.created_at))>
            <div class="header-badges">
                <StatusBadge status=tenant.status/>
                <RoleBadge role=tenant.role/>
            </div>
        </PageHeader>
        {(tenant.status == TenantStatus::Suspended).then(|| view! {
            <div class="alert alert-warn" role="status">
                "This tenant is suspended. You can read everything, but changes are refused until a platform admin resumes it."
            </div>
        })}
        <div class="grid cards">
            <section class="panel stat">
                <h2>"Members"</h2>
                <p class="stat-value">{tenant.member_count}</p>
                <a href="/members">"Manage members"</a>
            </section>
            <section class="panel stat">
                <h2>"Your role"</h2>
                <p class="stat-value">{tenant.role.label()}</p>
                <p class="muted">{role_summary(tenant.role)}</p>
            </section>
        </div>
        <section class="panel">
            <h2>"Quotas"</h2>
            <p class="muted">"Limits set by your platform team. Usage appears here as resources are created."</p>
            <dl class="quota-list">
                {limits.into_iter().map(|(label, limit)| view! {
                    <div class="quota"><dt>{label}</dt><dd>{limit}</dd></div>
                }).collect_view()}
            </dl>
        </section>
    }
}

fn role_summary(role: crate::model::Role) -> &'static str {
    use crate::model::Role::*;
    match role {
        Viewer => "You can read everything in this tenant.",
        Member => "You can create, change and delete resources.",
        Admin => "You manage members, cloud accounts, secrets and tokens.",
        Owner => "You own this tenant: settings, ownership and everything else.",
    }
}
