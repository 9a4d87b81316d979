use super::PageHeader;
use crate::api::get_audit_log;
use crate::components::page::{page_body, EmptyState};
use crate::components::status::date_time;
use crate::model::{AuditAction, AuditEvent, AuditPage};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;
use leptos_router::params::ParamsMap;

/// The filter fields both audit pages carry in their URL (so a view can be bookmarked).
pub(super) const FILTER_KEYS: [&str; 5] = ["action", "actor", "from", "to", "tenant"];

/// The current URL's value for `key`, if not empty.
pub(super) fn query_value(query: &ParamsMap, key: &str) -> Option<String> {
    query.get(key).filter(|v| !v.trim().is_empty())
}

/// The current filters (no cursor) as a query string, e.g. for the export link.
pub(super) fn filter_query(query: &ParamsMap) -> String {
    FILTER_KEYS
        .iter()
        .filter_map(|k| query_value(query, k).map(|v| (*k, v)))
        .collect::<ParamsMap>()
        .to_query_string()
}

/// The current filters with `before` set: the link to the next (older) page.
fn older_query(query: &ParamsMap, cursor: i64) -> String {
    FILTER_KEYS
        .iter()
        .filter_map(|k| query_value(query, k).map(|v| (*k, v)))
        .chain(std::iter::once(("before", cursor.to_string())))
        .collect::<ParamsMap>()
        .to_query_string()
}

/// The tenant's audit log: who changed what, when and from where (admins and owners).
#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let page = Resource::new(
        move || query.get(),
        |q| async move {
            get_audit_log(
                query_value(&q, "action"),
                query_value(&q, "actor"),
                query_value(&q, "from"),
                query_value(&q, "to"),
                query_value(&q, "before").and_then(|b| b.parse().ok()),
            )
            .await
        },
    );
    let actions: Vec<AuditAction> = AuditAction::ALL
        .into_iter()
        .filter(|a| !a.is_platform_only())
        .collect();
    view! {
        <Title text="Audit log"/>
        <PageHeader title="Audit log".to_string() subtitle="Every change in this tenant: who made it, when, and from where. Entries cannot be altered or deleted.">
            <a class="button secondary" rel="external" download=""
                href=move || format!("/audit/export.ndjson{}", filter_query(&query.get()))>
                "Export NDJSON"
            </a>
        </PageHeader>
        <AuditFilters path="/audit" actions tenants=None/>
        {page_body(page, move |page| view! { <AuditResults page path="/audit" show_tenant=false/> }.into_any())}
    }
    .into_any()
}

/// The filter form. It submits with GET, so the filters live in the URL.
#[component]
pub(super) fn AuditFilters(
    path: &'static str,
    actions: Vec<AuditAction>,
    /// For the admin console: (tenant id, name) to choose from.
    tenants: Option<Vec<(String, String)>>,
) -> impl IntoView {
    let query = use_query_map().get_untracked();
    let value = move |key: &str| query_value(&query, key).unwrap_or_default();
    let chosen_action = value("action");
    let chosen_tenant = value("tenant");
    let has_filters = FILTER_KEYS.iter().any(|k| !value(k).is_empty());
    view! {
        <section class="panel">
            <Form method="GET" action=path attr:class="form audit-filters" attr:aria-label="Filter the audit log">
                {tenants.map(|tenants| view! {
                    <div class="field">
                        <label for="audit-tenant">"Tenant"</label>
                        <select id="audit-tenant" name="tenant">
                            <option value="">"All tenants"</option>
                            {tenants.into_iter().map(|(id, name)| {
                                let selected = id == chosen_tenant;
                                view! { <option value=id selected=selected>{name}</option> }
                            }).collect_view()}
                        </select>
                    </div>
                })}
                <div class="field">
                    <label for="audit-action">"Action"</label>
                    <select id="audit-action" name="action">
                        <option value="">"Any action"</option>
                        {actions.into_iter().map(|a| {
                            let selected = a.as_str() == chosen_action;
                            view! { <option value=a.as_str() selected=selected>{a.as_str()}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="audit-actor">"Actor email contains"</label>
                    <input id="audit-actor" name="actor" type="search" value=value("actor") autocomplete="off"/>
                </div>
                <div class="field">
                    <label for="audit-from">"From"</label>
                    <input id="audit-from" name="from" type="date" value=value("from")/>
                </div>
                <div class="field">
                    <label for="audit-to">"To"</label>
                    <input id="audit-to" name="to" type="date" value=value("to")/>
                </div>
                <div class="form-actions">
                    <button type="submit" class="button">"Apply filters"</button>
                    {has_filters.then(|| view! { <a class="button secondary" href=path>"Clear"</a> })}
                </div>
            </Form>
        </section>
    }
    .into_any()
}

/// The table of events and the link to older ones.
#[component]
pub(super) fn AuditResults(
    page: AuditPage,
    path: &'static str,
    show_tenant: bool,
) -> impl IntoView {
    let query = use_query_map().get_untracked();
    let newer = query_value(&query, "before").is_some();
    if page.events.is_empty() {
        return view! {
            <EmptyState title="No entries" message=if newer { "No older entries." } else { "No entries match these filters." }>
                {newer.then(|| view! { <a href=format!("{path}{}", filter_query(&query))>"Back to the newest"</a> })}
            </EmptyState>
        }
        .into_any();
    }
    let older = page
        .next_cursor
        .map(|cursor| format!("{path}{}", older_query(&query, cursor)));
    view! {
        <section class="panel">
            <table class="table audit-table">
                <caption class="sr-only">"Audit log entries, newest first"</caption>
                <thead><tr>
                    <th scope="col">"Time"</th>
                    {show_tenant.then(|| view! { <th scope="col">"Tenant"</th> })}
                    <th scope="col">"Actor"</th><th scope="col">"Action"</th>
                    <th scope="col">"Target"</th><th scope="col">"Details"</th>
                </tr></thead>
                <tbody>
                    {page.events.into_iter().map(|e| view! { <AuditRow e show_tenant/> }).collect_view()}
                </tbody>
            </table>
        </section>
        <nav class="button-row pager" aria-label="Audit log pages">
            {newer.then(|| view! { <a class="button secondary" href=format!("{path}{}", filter_query(&query))>"Newest"</a> })}
            {older.map(|href| view! { <a class="button secondary" href=href>"Older entries"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn AuditRow(e: AuditEvent, show_tenant: bool) -> impl IntoView {
    let tenant = e.tenant_slug.clone().unwrap_or_else(|| "platform".into());
    view! {
        <tr>
            <td><time datetime=e.at.unix_timestamp().to_string()>{date_time(e.at)}</time></td>
            {show_tenant.then(|| view! { <td>{tenant}</td> })}
            <td>
                {match e.actor_email.clone() {
                    Some(email) => view! { <span>{email}</span> }.into_any(),
                    None => view! { <span class="muted">"Stratus (system)"</span> }.into_any(),
                }}
                {e.client_ip.clone().map(|ip| view! { <span class="muted small audit-ip">{ip}</span> })}
            </td>
            <td class="audit-action"><code>{e.action.clone()}</code></td>
            <td class="audit-target">{e.target.clone()}</td>
            <td class="audit-details"><Details details=e.details/></td>
        </tr>
    }
    .into_any()
}

/// `details` as "key value" pairs; uuids are shortened, the full value is in the title.
#[component]
fn Details(details: serde_json::Value) -> impl IntoView {
    let serde_json::Value::Object(map) = details else {
        return ().into_any();
    };
    if map.is_empty() {
        return view! { <span class="muted">"—"</span> }.into_any();
    }
    view! {
        <dl class="audit-kv">
            {map.into_iter().map(|(key, value)| {
                let full = plain(&value);
                let shown = if full.parse::<uuid::Uuid>().is_ok() {
                    format!("{}…", full.chars().take(8).collect::<String>())
                } else {
                    full.clone()
                };
                view! {
                    <div><dt>{key.replace('_', " ")}</dt><dd title=full>{shown}</dd></div>
                }
            }).collect_view()}
        </dl>
    }
    .into_any()
}

/// A detail value for people: strings bare, objects as "key value, key value".
fn plain(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{} {}", k.replace('_', " "), plain(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}
