//! The overview pages' read model: quota usage, jobs now and over the last 24 hours, and the
//! jobs-per-hour chart drawn here as SVG (the browser only places it, so no chart code ships
//! in the bundle).
//!
//! The hourly counts come from the job table's `finished_at` through its partial index of
//! finished jobs (`job_finished_idx`), one index range per hour, and finished jobs stay for
//! `STRATUS_JOB_RETENTION_DAYS` (14), longer than the chart's 24 hours.

use crate::backend::identity::actor::Actor;
use crate::backend::jobs::SUMMARY_COLUMNS;
use crate::backend::resources::{databases, prices};
use crate::backend::tenancy;
use crate::error::AppError;
use crate::model::{
    HourlyJobs, JobSummary, JobTotals, MonthlyCost, PlatformOverview, QuotaUsage,
    ResourceStateCount, TenantActivity, TenantOverview, ZoneSeries,
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
    // Counted as the resource engine counts them when it reserves quota: every resource not
    // yet deleted, and the instances and vCPUs its live groups reserve.
    let (zones, instances, vcpus, databases): (i64, i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where r.kind = 'zone'),
                coalesce(sum(g.reserved_instances), 0)::bigint,
                coalesce(sum(g.reserved_vcpus), 0)::bigint,
                count(*) filter (where r.kind = 'database')
         from resource r left join instance_group g using (resource_id)
         where r.tenant_id = $1 and r.status <> 'deleted'",
    )
    .bind(tenant_id)
    .fetch_one(db)
    .await?;
    let usage = [
        ("Zones", zones, q.max_zones),
        ("Instances", instances, q.max_instances),
        ("vCPUs", vcpus, q.max_vcpus),
        ("Databases", databases, q.max_databases),
    ]
    .into_iter()
    .map(|(label, used, limit)| QuotaUsage {
        label: label.into(),
        used,
        limit: limit.into(),
    })
    .collect();
    let resources = resource_states(db, Some(tenant_id)).await?;
    let cost = monthly_cost(db, Some(tenant_id)).await?;
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
    let instances = instance_series(db, Some(tenant_id)).await?;
    Ok(TenantOverview {
        tenant,
        usage,
        resources,
        cost,
        instances_svg: instances_svg(&instances, &per_hour),
        instances,
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
    let instances = instance_series(db, None).await?;
    Ok(PlatformOverview {
        resources: resource_states(db, None).await?,
        cost: monthly_cost(db, None).await?,
        instances_svg: instances_svg(&instances, &per_hour),
        instances,
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

/// Resources not deleted, by kind and state; `None`: every tenant's.
async fn resource_states(
    db: &PgPool,
    tenant_id: Option<Uuid>,
) -> Result<Vec<ResourceStateCount>, AppError> {
    Ok(sqlx::query_as(
        "select kind, status, count(*) as count from resource
         where ($1::uuid is null or tenant_id = $1) and status <> 'deleted'
         group by kind, status order by kind, status",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// What the groups (at their desired size) and databases cost a month, from the price list the
/// plans use; `None`: every tenant's.
async fn monthly_cost(db: &PgPool, tenant_id: Option<Uuid>) -> Result<MonthlyCost, AppError> {
    let groups: Vec<(String, String, i32)> = sqlx::query_as(
        "select c.region, t.template->>'instance_type', g.desired
         from resource r join instance_group g using (resource_id)
         join instance_group_template t on t.resource_id = r.resource_id and t.revision = g.revision
         join cloud_account c on c.cloud_account_id = r.cloud_account_id
         where ($1::uuid is null or r.tenant_id = $1) and r.status <> 'deleted'",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?;
    let dbs: Vec<(String, sqlx::types::Json<databases::DatabaseSpec>)> = sqlx::query_as(
        "select c.region, r.spec from resource r
         join cloud_account c on c.cloud_account_id = r.cloud_account_id
         where ($1::uuid is null or r.tenant_id = $1) and r.kind = 'database' and r.status <> 'deleted'",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?;
    let prices = groups
        .iter()
        .map(|(region, instance_type, desired)| {
            prices::instance_monthly_cents(region, instance_type.trim(), i64::from(*desired))
        })
        .chain(
            dbs.iter()
                .map(|(region, spec)| databases::monthly_cents(region, spec)),
        );
    let (mut cents, mut unpriced) = (0, 0);
    for price in prices {
        match price {
            Some(c) => cents += c,
            None => unpriced += 1,
        }
    }
    Ok(MonthlyCost {
        cents,
        currency: "USD".into(),
        price_list: prices::LIST_NAME.into(),
        unpriced,
    })
}

/// Instances running per availability zone at each of the last 24 UTC hours: the sum over the
/// groups of what each group's reconciler last observed in that hour; `None`: every tenant's.
async fn instance_series(
    db: &PgPool,
    tenant_id: Option<Uuid>,
) -> Result<Vec<ZoneSeries>, AppError> {
    let rows: Vec<(String, i32, i64)> = sqlx::query_as(
        "select s.availability_zone,
                (extract(epoch from date_trunc('hour', now(), 'UTC') - s.hour) / 3600)::int as ago,
                sum(s.running)::bigint
         from instance_sample s
         where ($1::uuid is null or s.tenant_id = $1) and s.hour >= date_trunc('hour', now(), 'UTC') - interval '23 hours'
         group by s.availability_zone, s.hour order by s.availability_zone",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?;
    let mut series: Vec<ZoneSeries> = Vec::new();
    for (zone, ago, running) in rows {
        if series.last().is_none_or(|s| s.availability_zone != zone) {
            series.push(ZoneSeries {
                availability_zone: zone,
                running: vec![0; 24],
            });
        }
        if let (Some(s), Ok(ago)) = (series.last_mut(), usize::try_from(ago)) {
            if ago < 24 {
                s.running[23 - ago] = running;
            }
        }
    }
    Ok(series)
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

/// One line per availability zone (the page's legend names them by the same series number),
/// stepping hour by hour; a y-axis maximum and an hour label every six hours. Only numbers and
/// fixed words go into the markup.
pub fn instances_svg(series: &[ZoneSeries], per_hour: &[HourlyJobs]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 200.0;
    const LEFT: f64 = 40.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 12.0;
    let max = series
        .iter()
        .flat_map(|s| s.running.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let now: i64 = series.iter().filter_map(|s| s.running.last()).sum();
    let plot_h = H - BOTTOM - TOP;
    let slot = (W - LEFT) / 24.0;
    let y = |v: i64| H - BOTTOM - v as f64 / max as f64 * plot_h;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="Instances running per zone over the last 24 hours: {now} now in {zones} zones" xmlns="http://www.w3.org/2000/svg">"#,
        zones = series.len()
    );
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" y1="{base}" x2="{W}" y2="{base}" stroke="#cdd2d8"/><line x1="{LEFT}" y1="{TOP}" x2="{W}" y2="{TOP}" stroke="#e2e5e9" stroke-dasharray="4 4"/><text x="{lx}" y="{ty}" text-anchor="end" class="chart-label">{max}</text><text x="{lx}" y="{base}" text-anchor="end" class="chart-label">0</text>"##,
        base = H - BOTTOM,
        lx = LEFT - 6.0,
        ty = TOP + 4.0,
    );
    for (n, s) in series.iter().enumerate() {
        // A step line: each hour's value held across its slot.
        let mut points = String::new();
        for (i, v) in s.running.iter().enumerate() {
            let (x0, x1, yv) = (LEFT + i as f64 * slot, LEFT + (i + 1) as f64 * slot, y(*v));
            let _ = write!(points, "{x0:.1},{yv:.1} {x1:.1},{yv:.1} ");
        }
        let _ = write!(
            svg,
            r#"<polyline points="{}" class="chart-line series-{}" fill="none"/>"#,
            points.trim_end(),
            n % 6
        );
    }
    for (i, h) in per_hour.iter().enumerate() {
        let label = h.hour.hour();
        if label % 6 == 0 {
            let _ = write!(
                svg,
                r#"<text x="{cx:.1}" y="{ly}" text-anchor="middle" class="chart-label">{label:02}:00</text>"#,
                cx = LEFT + (i as f64 + 0.5) * slot,
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

    #[test]
    fn the_instances_chart_draws_one_line_per_zone() {
        let per_hour: Vec<HourlyJobs> = (0..24)
            .map(|i| HourlyJobs {
                hour: datetime!(2026-12-03 00:00 UTC) + time::Duration::hours(i),
                succeeded: 0,
                failed: 0,
                cancelled: 0,
            })
            .collect();
        let mut a = vec![0; 24];
        a[20..].fill(4);
        let series = vec![
            ZoneSeries {
                availability_zone: "us-east-1a".into(),
                running: a,
            },
            ZoneSeries {
                availability_zone: "us-east-1b".into(),
                running: vec![3; 24],
            },
        ];
        let svg = instances_svg(&series, &per_hour);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("series-0") && svg.contains("series-1"));
        assert!(svg.contains("7 now in 2 zones"), "{svg}");
        assert!(svg.contains(">4</text>"), "the maximum labels the axis");
        assert!(
            !svg.contains("us-east-1"),
            "zone names stay out of the markup"
        );
    }
}
