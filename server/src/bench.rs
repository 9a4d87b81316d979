//! `stratus bench ...`: the Stratus side of the queue benchmark (driven by `scripts/bench-queue`).

use crate::config::Settings;
use crate::startup;
use app::backend::jobs::worker::{JobError, Registry, Worker};
use app::backend::jobs::{enqueue, enqueue_many, NewJob};
use clap::Subcommand;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Subcommand)]
pub enum Bench {
    /// Empty the queue tables.
    Reset,
    /// Enqueue COUNT no-op jobs with one bulk insert; prints the seconds it took.
    Enqueue {
        #[arg(long)]
        count: usize,
        /// Jobs of a tenant (`bench`), which write queued/running/succeeded events for the
        /// live stream; by default platform jobs, which do not.
        #[arg(long)]
        tenant: bool,
    },
    /// Leave COUNT finished jobs in the table (as a long-running queue would).
    FillFinished {
        #[arg(long)]
        count: i64,
    },
    /// Check that every job ran exactly once and succeeded; prints the counts.
    Verify {
        #[arg(long)]
        expect: i64,
    },
    /// Enqueue-to-start latency: one job at a time at RATE jobs/s for SECONDS, one worker in
    /// this process; prints p50/p99/max in milliseconds.
    Latency {
        #[arg(long, default_value_t = 500)]
        rate: u32,
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 24)]
        concurrency: usize,
    },
    /// Instance groups against the sandbox: create → Ready for N instances over three zones
    /// against the floor of direct SDK calls, and time to heal (`scripts/bench-groups`).
    Groups(crate::bench_groups::GroupsArgs),
}

pub async fn run(settings: Settings, bench: Bench) -> anyhow::Result<()> {
    if let Bench::Groups(args) = bench {
        return crate::bench_groups::run(settings, args).await;
    }
    startup::prepare_database(&settings).await?.close().await;
    let db = startup::connect_as(&settings, "stratus-bench")?;
    match bench {
        Bench::Reset => {
            sqlx::query("truncate job, job_event, job_lane")
                .execute(&db)
                .await?;
            println!("{}", json!({ "reset": true }));
        }
        Bench::Enqueue { count, tenant } => {
            let tenant_id: Option<uuid::Uuid> = if tenant {
                Some(
                    sqlx::query_scalar(
                        "insert into tenant (slug, display_name) values ('bench', 'Bench')
                         on conflict (slug) do update set slug = excluded.slug returning tenant_id",
                    )
                    .fetch_one(&db)
                    .await?,
                )
            } else {
                None
            };
            let job = |_| match tenant_id {
                Some(t) => NewJob::new("system.noop").tenant(t),
                None => NewJob::new("system.noop"),
            };
            let jobs: Vec<NewJob> = (0..count).map(job).collect();
            let start = Instant::now();
            let mut tx = db.begin().await?;
            let ids = enqueue_many(&mut tx, &jobs).await?;
            tx.commit().await?;
            println!(
                "{}",
                json!({ "enqueued": ids.len(), "seconds": start.elapsed().as_secs_f64() })
            );
        }
        Bench::FillFinished { count } => {
            sqlx::query(
                "insert into job (kind, state, fair_seq, attempt, started_at, finished_at, progress)
                 select 'system.noop', 'succeeded', 0, 1, now(), now(), 100 from generate_series(1, $1)",
            )
            .bind(count)
            .execute(&db)
            .await?;
            sqlx::query("analyze job").execute(&db).await?;
            println!("{}", json!({ "finished_jobs": count }));
        }
        Bench::Verify { expect } => {
            let (succeeded, twice, other): (i64, i64, i64) = sqlx::query_as(
                "select count(*) filter (where state = 'succeeded' and attempt = 1),
                        count(*) filter (where attempt > 1),
                        count(*) filter (where state <> 'succeeded')
                 from job where kind = 'system.noop'",
            )
            .fetch_one(&db)
            .await?;
            println!(
                "{}",
                json!({ "succeeded_once": succeeded, "ran_more_than_once": twice, "not_succeeded": other })
            );
            anyhow::ensure!(
                succeeded >= expect && twice == 0 && other == 0,
                "not every job ran exactly once"
            );
        }
        Bench::Latency {
            rate,
            seconds,
            concurrency,
        } => latency(db, settings, rate, seconds, concurrency).await?,
        Bench::Groups(_) => unreachable!("run before the queue benchmarks' setup"),
    }
    Ok(())
}

/// Pickup delay measured inside the handler: now minus the enqueue time in the payload.
async fn latency(
    db: sqlx::PgPool,
    settings: Settings,
    rate: u32,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<()> {
    sqlx::query("truncate job, job_event, job_lane")
        .execute(&db)
        .await?;
    let samples = Arc::new(Mutex::new(Vec::<f64>::new()));
    let mut registry = Registry::default();
    let recorded = samples.clone();
    registry.register("bench.latency", move |ctx| {
        let recorded = recorded.clone();
        async move {
            let enqueued = ctx.job.payload["at"]
                .as_f64()
                .ok_or(JobError::Fatal("no timestamp".into()))?;
            let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e6;
            recorded.lock().expect("samples").push(now - enqueued);
            Ok(())
        }
    });
    let mut config = settings.worker(concurrency);
    config.name = "bench-latency".into();
    let worker = Worker::start(db.clone(), registry, config);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = u64::from(rate) * seconds;
    let warmup = u64::from(rate);
    let mut conn = db.acquire().await?;
    for i in 0..total {
        tick.tick().await;
        let at = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as f64 / 1e6;
        enqueue(
            &mut conn,
            NewJob::new("bench.latency").payload(json!({ "at": at, "warmup": i < warmup })),
        )
        .await?;
    }
    drop(conn);
    let deadline = Instant::now() + Duration::from_secs(10);
    while samples.lock().expect("samples").len() < total as usize && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.shutdown().await;
    let mut all = samples.lock().expect("samples").clone();
    anyhow::ensure!(
        all.len() as u64 == total,
        "only {} of {total} jobs ran",
        all.len()
    );
    // The first second is warm-up (connections, caches); the samples arrive in pickup order.
    let mut measured: Vec<f64> = all.split_off(warmup as usize);
    measured.sort_by(f64::total_cmp);
    let q = |p: f64| measured[((measured.len() as f64 * p) as usize).min(measured.len() - 1)];
    println!(
        "{}",
        json!({ "system": "stratus", "rate": rate, "count": measured.len(),
                "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": measured[measured.len() - 1] })
    );
    Ok(())
}
