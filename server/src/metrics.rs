//! Prometheus metrics: counters and histograms recorded in-process, plus queue gauges read
//! from the database at scrape time (so every process reports the same queue).

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sqlx::PgPool;
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the global recorder once (tests start many apps in one process).
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            30.0, 60.0, 300.0,
        ];
        PrometheusBuilder::new()
            .set_buckets(&buckets)
            .expect("valid buckets")
            .install_recorder()
            .expect("no other metrics recorder is installed")
    })
}

/// The text exposition, with fresh queue gauges.
pub async fn render(db: &PgPool) -> String {
    let counts: Result<Vec<(String, String, i64)>, _> =
        sqlx::query_as("select kind, state::text, count(*) from job group by kind, state")
            .fetch_all(db)
            .await;
    let oldest: Result<Option<f64>, _> = sqlx::query_scalar(
        "select extract(epoch from now() - min(run_at))::float8 from job where state = 'queued' and run_at <= now()",
    )
    .fetch_one(db)
    .await;
    let mut out = install().render();
    if let Ok(counts) = counts {
        out.push_str("# HELP stratus_jobs Jobs in the queue table by kind and state.\n# TYPE stratus_jobs gauge\n");
        for (kind, state, n) in counts {
            out.push_str(&format!(
                "stratus_jobs{{kind=\"{}\",state=\"{state}\"}} {n}\n",
                kind.replace('"', "")
            ));
        }
    }
    if let Ok(oldest) = oldest {
        out.push_str("# HELP stratus_job_oldest_waiting_seconds Age of the oldest due job still waiting.\n# TYPE stratus_job_oldest_waiting_seconds gauge\n");
        out.push_str(&format!(
            "stratus_job_oldest_waiting_seconds {}\n",
            oldest.unwrap_or(0.0)
        ));
    }
    out
}
