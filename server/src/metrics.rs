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

/// `/metrics` as served: behind a bearer token, rendered at most once a second whatever the
/// number of scrapers, so scrapes never hold more than one database connection.
pub struct Scrapes {
    /// SHA-256 of `STRATUS_METRICS_TOKEN`; `None` keeps `/metrics` off (404).
    token_digest: Option<[u8; 32]>,
    last: tokio::sync::Mutex<Option<(std::time::Instant, String)>>,
}

/// How long one rendering answers further scrapes.
const REUSE_FOR: std::time::Duration = std::time::Duration::from_secs(1);

impl Scrapes {
    pub fn new(token: Option<&secrecy::SecretString>) -> Scrapes {
        use secrecy::ExposeSecret;
        Scrapes {
            token_digest: token.map(|t| digest(t.expose_secret().as_bytes())),
            last: Default::default(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.token_digest.is_some()
    }

    /// Whether `presented` (the bearer token sent) is the configured one. Digests are compared
    /// in constant time, so the comparison reveals nothing about the token.
    pub fn admits(&self, presented: Option<&str>) -> bool {
        match (&self.token_digest, presented) {
            (Some(expected), Some(presented)) => {
                let got = digest(presented.as_bytes());
                expected
                    .iter()
                    .zip(got.iter())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
            }
            _ => false,
        }
    }

    /// The exposition: the last one if it is fresh, else a new one. Scrapers queue on the lock
    /// instead of each taking a connection.
    pub async fn render(&self, db: &PgPool) -> String {
        let mut last = self.last.lock().await;
        if let Some((at, text)) = last.as_ref() {
            if at.elapsed() < REUSE_FOR {
                return text.clone();
            }
        }
        let text = render(db).await;
        *last = Some((std::time::Instant::now(), text.clone()));
        text
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Jobs waiting or running by kind: each half reads one partial index's rows.
pub const LIVE_JOB_COUNTS: &str =
    "select kind, 'queued', count(*) from job where state = 'queued' group by kind
     union all
     select kind, 'running', count(*) from job where state = 'running' group by kind";

/// The text exposition, with fresh queue gauges.
///
/// Only jobs still waiting or running are counted, through the partial indexes that hold
/// exactly them (`job_claim_idx`, `job_running_idx`): the cost follows the live queue, not the
/// history. Finished jobs are the counter `stratus_jobs_finished_total{kind,outcome}`, which
/// the workers increment as jobs finish.
pub async fn render(db: &PgPool) -> String {
    let counts: Result<Vec<(String, String, i64)>, _> =
        sqlx::query_as(LIVE_JOB_COUNTS).fetch_all(db).await;
    let oldest: Result<Option<f64>, _> = sqlx::query_scalar(
        "select extract(epoch from now() - min(run_at))::float8 from job where state = 'queued' and run_at <= now()",
    )
    .fetch_one(db)
    .await;
    let mut out = install().render();
    if let Ok(counts) = counts {
        out.push_str("# HELP stratus_jobs Jobs waiting or running, by kind and state.\n# TYPE stratus_jobs gauge\n");
        for (kind, state, n) in counts {
            out.push_str(&format!(
                "stratus_jobs{{kind=\"{}\",state=\"{state}\"}} {n}\n",
                kind.replace(['"', '\\', '\n'], "")
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
