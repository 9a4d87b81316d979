use super::audit::{filter_query, query_value, AuditFilters, AuditResults};
use super::PageHeader;
use crate::api::{admin_audit_log, admin_list_tenants};
use crate::components::page::Loading;
use crate::components::status::ErrorPanel;
use crate::model::AuditAction;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

/// Admin console: the audit log of every tenant and of the platform itself.
#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new(
        move || query.get(),
        |q| async move {
            admin_audit_log(
                query_value(&q, "action"),
                query_value(&q, "actor"),
                query_value(&q, "from"),
                query_value(&q, "to"),
                query_value(&q, "tenant"),
                query_value(&q, "before").and_then(|b| b.parse().ok()),
            )
            .await
        },
    );
    let tenants = Resource::new(|| (), |_| admin_list_tenants());
    view! {
        <Title text="Audit"/>
        <PageHeader title="Audit".to_string() subtitle="Admin console: every change in every tenant, and the platform's own (users, sign-in resets).">
            <a class="button secondary" rel="external" download=""
                href=move || format!("/admin/audit/export.ndjson{}", filter_query(&query.get()))>
                "Export NDJSON"
            </a>
        </PageHeader>
        <Transition fallback=|| view! { <Loading/> }>
            {move || Suspend::new(async move {
                // Without the tenant list the log still works; the tenant filter is left out.
                let choices = tenants.await.ok().map(|list| {
                    list.into_iter()
                        .map(|t| (t.tenant_id.to_string(), format!("{} ({})", t.display_name, t.slug)))
                        .collect::<Vec<_>>()
                });
                let filters = view! { <AuditFilters path="/admin/audit" actions=AuditAction::ALL.to_vec() tenants=choices/> };
                match page.await {
                    Err(error) => view! { {filters} <ErrorPanel error/> }.into_any(),
                    Ok(page) => view! { {filters} <AuditResults page path="/admin/audit" show_tenant=true/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}
