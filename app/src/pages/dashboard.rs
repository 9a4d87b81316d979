//! The tenant overview, the portal's landing page: usage against quotas, jobs now and over
//! the last day, and a place for resources and their monthly cost.

use super::PageHeader;
use crate::api::get_tenant_overview;
use crate::components::layout::use_session;
use crate::components::page::{page_body, EmptyState};
use crate::components::status::{date, date_time, JobStateBadge, RoleBadge, StatusBadge};
use crate::model::{JobSummary, JobTotals, QuotaUsage, TenantOverview, TenantStatus};
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
            <section class="panel" aria-labelledby="resources-heading">
                <h2 id="resources-heading">"Resources and monthly cost"</h2>
                // Resource counts by state and the monthly cost estimate come with zones,
                // instance groups and databases.
                <p class="muted">"Resources by state and the monthly cost estimate appear here once this tenant has zones, instance groups or databases."</p>
                <div class="empty-actions left">
                    <a class="button secondary small" href="/zones">"Zones"</a>
                    <a class="button secondary small" href="/instance-groups">"Instance groups"</a>
                    <a class="button secondary small" href="/databases">"Databases"</a>
                </div>
            </section>
        </div>
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

#[component]
fn UsageBars(usage: Vec<QuotaUsage>) -> impl IntoView {
    view! {
        <ul class="usage-list">
            {usage.into_iter().map(|u| {
                let percent = u.used.map(|used| if u.limit > 0 { (used * 100 / u.limit).clamp(0, 100) } else { 100 });
                let text = match u.used {
                    Some(used) => format!("{used} of {}", u.limit),
                    None => format!("limit {} · not tracked yet", u.limit),
                };
                view! {
                    <li class="usage">
                        <div class="usage-label"><span>{u.label.clone()}</span><span class="muted">{text}</span></div>
                        <div class="progress" role="progressbar" aria-label=format!("{} used", u.label)
                            aria-valuemin="0" aria-valuemax=u.limit.to_string() aria-valuenow=u.used.unwrap_or(0).to_string()>
                            <div class="progress-fill" class:usage-high=percent.is_some_and(|p| p >= 80)
                                style:width=format!("{}%", percent.unwrap_or(0))></div>
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
                                " " <code>{j.kind.clone()}</code> " " <JobStateBadge state=j.state/>
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
