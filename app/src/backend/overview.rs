//! The overview pages' read model: quota usage, jobs now and over the last 24 hours, and the
//! jobs-per-hour chart drawn here as SVG (the browser only places it, so no chart code ships
//! in the bundle).
//!
//! The hourly counts come from the job table's `finished_at` through its partial index of
//! finished jobs (`job_finished_idx`), one index range per hour, and finished jobs stay for
//! `STRATUS_JOB_RETENTION_DAYS` (14), longer than the chart's 24 hours.

use crate::backend::identity::actor::Actor;
use crate::backend::jobs::SUMMARY_COLUMNS;
use crate::backend::tenancy;
use crate::error::AppError;
use crate::model::{
    HourlyJobs, JobSummary, JobTotals, PlatformOverview, QuotaUsage, TenantActivity, TenantOverview,
};
use crate::rbac::{authorize, authorize_platform, Action, PlatformAction};
use sqlx::PgPool;
use std::fmt::Write;
use uuid::Uuid;

/// The tenant's landing page. Anyone in the tenant may read it; the job lists follow
/// `ViewJobs`, which every role has.
pub async fn tenant(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<TenantOverview, AppError> {
    let tenant = tenancy::tenant_overview(db, actor, tenant_id).await?;
    authorize(db, actor, tenant_id, Action::ViewJobs).await?;
    let q = tenant.quotas;
    // Zones count as the resource engine counts them against the quota (every zone not yet
    // deleted). Instances, vCPUs and databases are counted once their resources exist; until
    // then the quota is shown with "not tracked yet" rather than a pretend zero.
    let zones: i64 = sqlx::query_scalar(
        "select count(*) from resource where tenant_id = $1 and kind = 'zone' and status <> 'deleted'",
    )
    .bind(tenant_id)
    .fetch_one(db)
    .await?;
    let usage = [
        ("Zones", Some(zones), q.max_zones),
        ("Instances", None, q.max_instances),
        ("vCPUs", None, q.max_vcpus),
        ("Databases", None, q.max_databases),
    ]
    .into_iter()
    .map(|(label, used, limit)| QuotaUsage {
        label: label.into(),
        used,
        limit: limit.into(),
    })
    .collect();
    let (queued, running): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where state = 'queued'), count(*) filter (where state = 'running')
         from job where tenant_id = $1 and state in ('queued', 'running')",
    )
    .bind(tenant_id)
    .fetch_one(db)
    .await?;
    let active: Vec<JobSummary> = sqlx::query_as(&format!(
        "select {SUMMARY_COLUMNS} from job
         where tenant_id = $1 and state in ('queued', 'running') order by job_id desc limit 5"
    ))
    .bind(tenant_id)
    .fetch_all(db)
    .await?;
    let failures = recent_failures(db, Some(tenant_id)).await?;
    let per_hour = hourly(db, Some(tenant_id)).await?;
    Ok(TenantOverview {
        tenant,
        usage,
        jobs: totals(queued, running, &per_hour),
        active,
        failures,
        chart_svg: chart_svg(&per_hour),
        per_hour,
    })
}

/// The admin console's overview: every tenant's jobs (not platform jobs), tenants and users.
pub async fn platform(db: &PgPool, actor: &Actor) -> Result<PlatformOverview, AppError> {
    authorize_platform(actor, PlatformAction::ListTenants)?;
    let (tenant_count, suspended_count, user_count): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from tenant),
                (select count(*) from tenant where status = 'suspended'),
                (select count(*) from app_user)",
    )
    .fetch_one(db)
    .await?;
    let (queued, running): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where state = 'queued'), count(*) filter (where state = 'running')
         from job where tenant_id is not null and state in ('queued', 'running')",
    )
    .fetch_one(db)
    .await?;
    let tenants: Vec<TenantActivity> = sqlx::query_as(
        "select t.tenant_id, t.slug, t.display_name, t.status,
                (select count(*) from membership m where m.tenant_id = t.tenant_id) as member_count,
                (select count(*) from job j where j.tenant_id = t.tenant_id and j.state = 'queued') as queued,
                (select count(*) from job j where j.tenant_id = t.tenant_id and j.state = 'running') as running,
                (select count(*) from job j where j.tenant_id = t.tenant_id and j.state = 'failed'
                    and j.finished_at >= date_trunc('hour', now(), 'UTC') - interval '23 hours') as failed_24h
         from tenant t order by t.slug",
    )
    .fetch_all(db)
    .await?;
    let failures = recent_failures(db, None).await?;
    let per_hour = hourly(db, None).await?;
    Ok(PlatformOverview {
        tenant_count,
        suspended_count,
        user_count,
        jobs: totals(queued, running, &per_hour),
        failures,
        chart_svg: chart_svg(&per_hour),
        per_hour,
        tenants,
    })
}

fn totals(queued: i64, running: i64, per_hour: &[HourlyJobs]) -> JobTotals {
    JobTotals {
        queued,
        running,
        succeeded_24h: per_hour.iter().map(|h| h.succeeded).sum(),
        failed_24h: per_hour.iter().map(|h| h.failed).sum(),
        cancelled_24h: per_hour.iter().map(|h| h.cancelled).sum(),
    }
}

/// Failed tenant jobs of the chart's window, newest first; `None`: every tenant's.
async fn recent_failures(
    db: &PgPool,
    tenant_id: Option<Uuid>,
) -> Result<Vec<JobSummary>, AppError> {
    Ok(sqlx::query_as(&format!(
        "select {SUMMARY_COLUMNS} from job
         where state = 'failed' and finished_at >= date_trunc('hour', now(), 'UTC') - interval '23 hours'
           and tenant_id is not null and ($1::uuid is null or tenant_id = $1)
         order by finished_at desc limit 5"
    ))
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// Jobs finished in each of the last 24 UTC hours (the current one last), zeros included.
async fn hourly(db: &PgPool, tenant_id: Option<Uuid>) -> Result<Vec<HourlyJobs>, AppError> {
    Ok(sqlx::query_as(
        "select h.hour,
                count(j.job_id) filter (where j.state = 'succeeded') as succeeded,
                count(j.job_id) filter (where j.state = 'failed') as failed,
                count(j.job_id) filter (where j.state = 'cancelled') as cancelled
         from generate_series(date_trunc('hour', now(), 'UTC') - interval '23 hours',
                              date_trunc('hour', now(), 'UTC'), interval '1 hour') as h(hour)
         left join job j
           on j.state in ('succeeded', 'failed', 'cancelled')
          and j.finished_at >= h.hour and j.finished_at < h.hour + interval '1 hour'
          and j.tenant_id is not null and ($1::uuid is null or j.tenant_id = $1)
         group by h.hour order by h.hour",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// Stacked bars per hour (succeeded, failed, cancelled), a y-axis maximum and an hour label
/// every six hours. Only numbers and fixed words go into the markup.
pub fn chart_svg(per_hour: &[HourlyJobs]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 12.0;
    let max = per_hour
        .iter()
        .map(|h| h.succeeded + h.failed + h.cancelled)
        .max()
        .unwrap_or(0)
        .max(1);
    let total: i64 = per_hour
        .iter()
        .map(|h| h.succeeded + h.failed + h.cancelled)
        .sum();
    let failed: i64 = per_hour.iter().map(|h| h.failed).sum();
    let plot_h = H - BOTTOM - TOP;
    let slot = (W - LEFT) / per_hour.len().max(1) as f64;
    let bar = (slot * 0.7).max(1.0);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="Jobs finished per hour over the last 24 hours: {total} in all, {failed} failed" xmlns="http://www.w3.org/2000/svg">"#
    );
    // Grid: the base line and the maximum.
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{base}" x2="{W}" y2="{base}" stroke="#cdd2d8"/><line x1="{LEFT}" y1="{TOP}" x2="{W}" y2="{TOP}" stroke="#e2e5e9" stroke-dasharray="4 4"/><text x="{lx}" y="{ty}" text-anchor="end" class="chart-label">{max}</text><text x="{lx}" y="{base}" text-anchor="end" class="chart-label">0</text>"##,
        base = H - BOTTOM,
        lx = LEFT - 6.0,
        ty = TOP + 4.0,
    );
    for (i, h) in per_hour.iter().enumerate() {
        let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
        let mut y = H - BOTTOM;
        for (count, class) in [
            (h.succeeded, "chart-ok"),
            (h.failed, "chart-failed"),
            (h.cancelled, "chart-cancelled"),
        ] {
            if count == 0 {
                continue;
            }
            let height = count as f64 / max as f64 * plot_h;
            y -= height;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{height:.1}" class="{class}"/>"#
            );
        }
        let label = h.hour.hour();
        if label % 6 == 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{ly}" text-anchor="middle" class="chart-label">{label:02}:00</text>"#,
                cx = x + bar / 2.0,
                ly = H - 6.0,
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_chart_draws_one_stack_per_hour_and_labels_every_sixth() {
        let per_hour: Vec<HourlyJobs> = (0..24)
            .map(|i| HourlyJobs {
                hour: datetime!(2026-12-03 00:00 UTC) + time::Duration::hours(i),
                succeeded: i,
                failed: i64::from(i == 5) * 3,
                cancelled: 0,
            })
            .collect();
        let svg = chart_svg(&per_hour);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        // Hour 0 has nothing; 23 hours have succeeded bars and one a failed bar on top.
        assert_eq!(svg.matches(r#"class="chart-ok""#).count(), 23);
        assert_eq!(svg.matches(r#"class="chart-failed""#).count(), 1);
        for label in ["00:00", "06:00", "12:00", "18:00"] {
            assert!(svg.contains(label), "{label}");
        }
        assert!(svg.contains("279 in all, 3 failed"), "{svg}");
        // The tallest stack (23 at 23:00) sets the scale.
        assert!(svg.contains(">23</text>"));
    }
}
