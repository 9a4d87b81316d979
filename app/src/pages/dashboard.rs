//! The tenant overview, the portal's landing page: usage against quotas, jobs now and over
//! the last day, and a place for resources and their monthly cost.

use super::zones::ResourceStatusBadge;
use super::PageHeader;
use crate::api::get_tenant_overview;
use crate::components::layout::use_session;
use crate::components::page::{page_body, EmptyState};
use crate::components::status::{date, date_time, JobKind, JobStateBadge, RoleBadge, StatusBadge};
use crate::model::resources::{dollars, ResourceKind};
use crate::model::{
    JobSummary, JobTotals, MonthlyCost, QuotaUsage, ResourceStateCount, TenantOverview,
    TenantStatus, ZoneSeries,
};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_tenant_overview());
    let session = use_session();
    view! {
        <Title text="Overview"/>
        {page_body(overview, move |overview| match overview {
            Some(overview) => view! { <Overview overview/> }.into_any(),
            None => {
                let admin = session.get().is_some_and(|s| s.platform_admin);
                view! {
                    <PageHeader title="Welcome to Stratus".to_string()/>
                    {if admin {
                        view! {
                            <EmptyState title="You are not in a tenant yet" message="As a platform admin, start by creating a tenant and inviting its first owner.">
                                <a class="button" href="/admin">"Open the admin console"</a>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! { <EmptyState title="You are not in a tenant yet" message="Ask a tenant admin for an invitation link."/> }.into_any()
                    }}
                }.into_any()
            }
        })}
    }
    .into_any()
}

#[component]
fn Overview(overview: TenantOverview) -> impl IntoView {
    let tenant = overview.tenant;
    view! {
        <PageHeader title=tenant.display_name.clone() subtitle=format!("Tenant {} · created {} · {} members", tenant.slug, date(tenant.created_at), tenant.member_count)>
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
        <JobTiles jobs=overview.jobs/>
        <div class="grid two">
            <section class="panel" aria-labelledby="usage-heading">
                <h2 id="usage-heading">"Usage against quotas"</h2>
                <UsageBars usage=overview.usage/>
                <p class="muted small">{crate::rbac::summary(tenant.role)}</p>
            </section>
            <ResourcesPanel resources=overview.resources cost=overview.cost links=true/>
        </div>
        <InstancesChart series=overview.instances svg=overview.instances_svg/>
        <ChartPanel svg=overview.chart_svg/>
        <div class="grid two">
            <JobList title="Running and queued" jobs=overview.active empty="Nothing is running or waiting." link_prefix="/jobs"/>
            <JobList title="Failed in the last 24 hours" jobs=overview.failures empty="No job failed in the last 24 hours." link_prefix="/jobs"/>
        </div>
    }
    .into_any()
}

/// Queued, running, and finished in the last 24 hours.
#[component]
pub fn JobTiles(jobs: JobTotals) -> impl IntoView {
    let tiles = [
        ("Running", jobs.running),
        ("Queued", jobs.queued),
        ("Succeeded (24 h)", jobs.succeeded_24h),
        ("Failed (24 h)", jobs.failed_24h),
        ("Cancelled (24 h)", jobs.cancelled_24h),
    ];
    view! {
        <div class="grid cards five">
            {tiles.into_iter().map(|(label, n)| view! {
                <section class="panel stat"><h2>{label}</h2><p class="stat-value">{n}</p></section>
            }).collect_view()}
        </div>
    }
    .into_any()
}

/// The jobs-per-hour chart, drawn by the server (`backend::overview::chart_svg`).
#[component]
pub fn ChartPanel(svg: String) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="chart-heading">
            <h2 id="chart-heading">"Jobs finished per hour"</h2>
            <p class="muted small">
                "The last 24 hours (UTC). "
                <span class="legend legend-ok">"succeeded"</span>
                <span class="legend legend-failed">"failed"</span>
                <span class="legend legend-cancelled">"cancelled"</span>
            </p>
            <div class="chart-box" inner_html=svg></div>
        </section>
    }
    .into_any()
}

/// Resources by kind and state, and what they cost a month (a tenant's, or every tenant's).
#[component]
pub fn ResourcesPanel(
    resources: Vec<ResourceStateCount>,
    cost: MonthlyCost,
    /// Whether the kinds link to the tenant's pages (not in the admin console).
    #[prop(optional)]
    links: bool,
) -> impl IntoView {
    let kinds = [
        (ResourceKind::Zone, "Zones", "/zones"),
        (
            ResourceKind::InstanceGroup,
            "Instance groups",
            "/instance-groups",
        ),
        (ResourceKind::Database, "Databases", "/databases"),
    ];
    let unpriced = (cost.unpriced > 0).then(|| {
        view! { <p class="muted small">{format!("{} resource(s) have no price in the list and are left out.", cost.unpriced)}</p> }
    });
    view! {
        <section class="panel" aria-labelledby="resources-heading">
            <h2 id="resources-heading">"Resources and monthly cost"</h2>
            <ul class="resource-states">
                {kinds.into_iter().map(|(kind, label, href)| {
                    let states: Vec<_> = resources.iter().filter(|r| r.kind == kind).cloned().collect();
                    view! {
                        <li>
                            {if links {
                                view! { <a class="kind" href=href>{label}</a> }.into_any()
                            } else {
                                view! { <span class="kind">{label}</span> }.into_any()
                            }}
                            {if states.is_empty() {
                                view! { <span class="muted">"none"</span> }.into_any()
                            } else {
                                states.into_iter().map(|r| view! {
                                    <span>{r.count} " " <ResourceStatusBadge status=r.status/></span>
                                }).collect_view().into_any()
                            }}
                        </li>
                    }
                }).collect_view()}
            </ul>
            <h3 class="small muted">"Estimated monthly cost"</h3>
            <p class="cost-value">{dollars(cost.cents)} " " <span class="muted small">{cost.currency}</span></p>
            <p class="muted small">{format!("Instance groups at their desired size and databases as specified, from {}.", cost.price_list)}</p>
            {unpriced}
        </section>
    }
    .into_any()
}

/// Instances per availability zone over the last day, drawn by the server
/// (`backend::overview::instances_svg`); the legend names the lines.
#[component]
pub fn InstancesChart(series: Vec<ZoneSeries>, svg: String) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="instances-heading">
            <h2 id="instances-heading">"Instances per zone"</h2>
            {if series.is_empty() {
                view! { <p class="muted">"No instance group has run in the last 24 hours."</p> }.into_any()
            } else {
                view! {
                    <p class="muted small">
                        "Running at the end of each hour, the last 24 hours (UTC). "
                        {series.iter().enumerate().map(|(n, s)| view! {
                            <span class=format!("legend series-{}", n % 6)>
                                {format!("{} ({} now)", s.availability_zone, s.running.last().copied().unwrap_or(0))}
                            </span>
                        }).collect_view()}
                    </p>
                    <div class="chart-box" inner_html=svg></div>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}

#[component]
fn UsageBars(usage: Vec<QuotaUsage>) -> impl IntoView {
    view! {
        <ul class="usage-list">
            {usage.into_iter().map(|u| {
                let percent = if u.limit > 0 { (u.used * 100 / u.limit).clamp(0, 100) } else { 100 };
                let text = format!("{} of {}", u.used, u.limit);
                view! {
                    <li class="usage">
                        <div class="usage-label"><span>{u.label.clone()}</span><span class="muted">{text}</span></div>
                        <div class="progress" role="progressbar" aria-label=format!("{} used", u.label)
                            aria-valuemin="0" aria-valuemax=u.limit.to_string() aria-valuenow=u.used.to_string()>
                            <div class="progress-fill" class:usage-high={percent >= 80}
                                style:width=format!("{percent}%")></div>
                        </div>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
pub fn JobList(
    title: &'static str,
    jobs: Vec<JobSummary>,
    empty: &'static str,
    /// Where a job's number links to (`/jobs` in a tenant); none in the admin console.
    #[prop(optional)]
    link_prefix: Option<&'static str>,
) -> impl IntoView {
    view! {
        <section class="panel">
            <h2>{title}</h2>
            {if jobs.is_empty() {
                view! { <p class="muted">{empty}</p> }.into_any()
            } else {
                view! {
                    <ul class="job-list">
                        {jobs.into_iter().map(|j| view! {
                            <li>
                                {match link_prefix {
                                    Some(prefix) => view! { <a href=format!("{prefix}/{}", j.job_id)>{format!("#{}", j.job_id)}</a> }.into_any(),
                                    None => view! { <span>{format!("#{}", j.job_id)}</span> }.into_any(),
                                }}
                                " " <JobKind kind=j.kind.clone()/> " " <JobStateBadge state=j.state/>
                                <span class="muted small">" " {date_time(j.finished_at.unwrap_or(j.created_at))}</span>
                                {j.last_error.clone().map(|e| view! { <p class="small error-summary">{crate::readable::summarize(&e)}</p> })}
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}
