//! The admin console's overview: the tenant overview's figures across every tenant.

use super::dashboard::{ChartPanel, InstancesChart, JobList, JobTiles, ResourcesPanel};
use super::PageHeader;
use crate::api::admin_overview;
use crate::components::page::{page_body, EmptyState};
use crate::components::status::StatusBadge;
use crate::model::PlatformOverview;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminOverviewPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| admin_overview());
    view! {
        <Title text="Admin overview"/>
        <PageHeader title="Overview".to_string() subtitle="Admin console: every tenant's jobs over the last day, and who is busy.">
            <a class="button secondary" href="/admin/queue">"Queue health"</a>
        </PageHeader>
        {page_body(overview, move |o| view! { <Platform o/> }.into_any())}
    }
    .into_any()
}

#[component]
fn Platform(o: PlatformOverview) -> impl IntoView {
    view! {
        <div class="grid cards">
            <section class="panel stat"><h2>"Tenants"</h2><p class="stat-value">{o.tenant_count}</p>
                <p class="muted small">{format!("{} suspended", o.suspended_count)}</p></section>
            <section class="panel stat"><h2>"Users"</h2><p class="stat-value">{o.user_count}</p></section>
        </div>
        <JobTiles jobs=o.jobs/>
        <ResourcesPanel resources=o.resources cost=o.cost/>
        <InstancesChart series=o.instances svg=o.instances_svg/>
        <ChartPanel svg=o.chart_svg/>
        {if o.tenants.is_empty() {
            view! { <EmptyState title="No tenants yet" message="Create the first one in Tenants.">
                <a class="button" href="/admin">"Create a tenant"</a>
            </EmptyState> }.into_any()
        } else {
            view! {
                <section class="panel">
                    <h2>"Tenants"</h2>
                    <table class="table">
                        <thead><tr>
                            <th scope="col">"Tenant"</th><th scope="col">"Status"</th><th scope="col" class="num">"Members"</th>
                            <th scope="col" class="num">"Running"</th><th scope="col" class="num">"Queued"</th><th scope="col" class="num">"Failed (24 h)"</th>
                        </tr></thead>
                        <tbody>
                            {o.tenants.into_iter().map(|t| view! {
                                <tr>
                                    <td><a href=format!("/admin/tenants/{}", t.tenant_id)>{t.display_name.clone()}</a> " " <code>{t.slug.clone()}</code></td>
                                    <td><StatusBadge status=t.status/></td>
                                    <td class="num">{t.member_count}</td>
                                    <td class="num">{t.running}</td>
                                    <td class="num">{t.queued}</td>
                                    <td class="num">{t.failed_24h}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </section>
            }.into_any()
        }}
        <JobList title="Failed in the last 24 hours" jobs=o.failures empty="No tenant job failed in the last 24 hours."/>
    }
    .into_any()
}
