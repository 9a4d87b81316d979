//! The job queue against real PostgreSQL: exactly-once, crashes, cut connections, retries,
//! unique keys, cancellation, fairness, pruning.

use crate::support::{insert_tenant, wait_until, TestApp};
use app::backend::jobs::queue::{self, FailOutcome};
use app::backend::jobs::worker::{JobError, Registry, Worker, WorkerConfig};
use app::backend::jobs::{enqueue, enqueue_many, NewJob};
use app::model::JobState;
use serde_json::json;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Runs = Arc<Mutex<HashMap<i64, u32>>>;

/// A registry with `test.count`, which records every run of every job.
fn counting(runs: &Runs) -> Registry {
    let mut registry = Registry::default().with_builtins();
    let runs = runs.clone();
    registry.register("test.count", move |ctx| {
        let runs = runs.clone();
        async move {
            *runs.lock().unwrap().entry(ctx.job.job_id).or_default() += 1;
            if let Some(ms) = ctx.job.payload["sleep_ms"].as_u64() {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            Ok(())
        }
    });
    registry
}

fn config(concurrency: usize) -> WorkerConfig {
    let mut config = WorkerConfig::new(concurrency);
    config.poll_interval = Duration::from_millis(100);
    config.lease = Duration::from_secs(2);
    config.backoff_base = Duration::from_millis(20);
    config
}

async fn count_state(db: &PgPool, state: &str) -> i64 {
    sqlx::query_scalar("select count(*) from job where state::text = $1")
        .bind(state)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn job_state(db: &PgPool, job_id: i64) -> JobState {
    sqlx::query_scalar("select state from job where job_id = $1")
        .bind(job_id)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn enqueue_one(db: &PgPool, job: NewJob) -> i64 {
    enqueue(&mut db.acquire().await.unwrap(), job)
        .await
        .unwrap()
        .job_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_workers_run_ten_thousand_jobs_exactly_once() {
    let app = TestApp::spawn().await;
    let runs: Runs = Default::default();
    let jobs: Vec<NewJob> = (0..10_000).map(|_| NewJob::new("test.count")).collect();
    let ids = enqueue_many(&mut app.db.acquire().await.unwrap(), &jobs)
        .await
        .unwrap();
    assert_eq!(ids.len(), 10_000);
    // Eight workers, as eight processes would have: each with its own connections.
    let mut settings = crate::support::settings(&app.database_url);
    settings.db_max_connections = 4;
    let workers: Vec<Worker> = (0..8)
        .map(|_| {
            Worker::start(
                server::startup::connect_as(&settings, "stratus-worker").unwrap(),
                counting(&runs),
                config(4),
            )
        })
        .collect();
    wait_until(
        "10,000 jobs to succeed",
        Duration::from_secs(120),
        || async { count_state(&app.db, "succeeded").await == 10_000 },
    )
    .await;
    for worker in workers {
        worker.shutdown().await;
    }
    let runs = runs.lock().unwrap().clone();
    assert_eq!(runs.len(), 10_000);
    assert!(
        runs.values().all(|n| *n == 1),
        "some job ran more than once"
    );
    let claimed_twice: i64 = sqlx::query_scalar("select count(*) from job where attempt <> 1")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(claimed_twice, 0);
}

#[tokio::test]
async fn a_killed_worker_process_is_rescued_and_fenced_off() {
    let app = TestApp::spawn().await;
    let job_id = enqueue_one(
        &app.db,
        NewJob::new("system.sleep").payload(json!({ "millis": 60_000, "steps": 60 })),
    )
    .await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["worker", "--concurrency", "1"])
        .env("DATABASE_URL", &app.database_url)
        .env("STRATUS_JOB_LEASE_SECS", "2")
        .env("STRATUS_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("the stratus binary starts");
    wait_until(
        "the worker process to start the job",
        Duration::from_secs(30),
        || async { job_state(&app.db, job_id).await == JobState::Running },
    )
    .await;
    let old_token: i64 = sqlx::query_scalar("select lease_token from job where job_id = $1")
        .bind(job_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();

    // A live worker rescues the job after the lease expires and completes it once.
    let runs: Runs = Default::default();
    let mut registry = counting(&runs);
    let finished = runs.clone();
    registry.register("system.sleep", move |ctx| {
        let finished = finished.clone();
        async move {
            *finished.lock().unwrap().entry(ctx.job.job_id).or_default() += 1;
            Ok(())
        }
    });
    let worker = Worker::start(app.db.clone(), registry, config(2));
    wait_until(
        "the rescued job to succeed",
        Duration::from_secs(30),
        || async { job_state(&app.db, job_id).await == JobState::Succeeded },
    )
    .await;
    worker.shutdown().await;
    assert_eq!(runs.lock().unwrap().get(&job_id), Some(&1));
    // The killed run is a rescue, not a failed attempt: a worker's crash uses none of the
    // job's retries.
    let (attempt, rescues): (i32, i32) =
        sqlx::query_as("select attempt, rescues from job where job_id = $1")
            .bind(job_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((attempt, rescues), (1, 1));

    // The dead worker's token no longer counts for anything.
    assert!(queue::complete(&app.db, &[(job_id, old_token)])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        queue::fail(&app.db, job_id, old_token, "late", true, Duration::ZERO)
            .await
            .unwrap(),
        FailOutcome::LeaseLost
    );
    assert_eq!(
        queue::record_event(
            &app.db,
            job_id,
            old_token,
            app::backend::jobs::kinds::EventKind::Log,
            None,
            "late"
        )
        .await
        .unwrap(),
        None
    );
    assert!(
        queue::heartbeat(&app.db, &[(job_id, old_token)], Duration::from_secs(5))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_survive_cut_connections_and_lose_nothing() {
    let app = TestApp::spawn().await;
    let runs: Runs = Default::default();
    let jobs: Vec<NewJob> = (0..2_000)
        .map(|_| NewJob::new("test.count").payload(json!({ "sleep_ms": 2 })))
        .collect();
    enqueue_many(&mut app.db.acquire().await.unwrap(), &jobs)
        .await
        .unwrap();
    let settings = crate::support::settings(&app.database_url);
    let worker_db = server::startup::connect_as(&settings, "stratus-cut-test").unwrap();
    let workers: Vec<Worker> = (0..2)
        .map(|_| Worker::start(worker_db.clone(), counting(&runs), config(8)))
        .collect();
    let mut cuts = 0;
    while count_state(&app.db, "succeeded").await < 2_000 && cuts < 8 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let killed: Vec<bool> = sqlx::query_scalar(
            "select pg_terminate_backend(pid) from pg_stat_activity
             where application_name = 'stratus-cut-test' and datname = current_database()",
        )
        .fetch_all(&app.db)
        .await
        .unwrap();
        if !killed.is_empty() {
            cuts += 1;
        }
    }
    assert!(cuts > 0, "the test cut no connection");
    wait_until(
        "every job to succeed after the cuts",
        Duration::from_secs(60),
        || async { count_state(&app.db, "succeeded").await == 2_000 },
    )
    .await;
    for worker in workers {
        worker.shutdown().await;
    }
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 2_000, "every job ran");
    assert!(runs.values().all(|n| *n == 1), "no job ran twice");
}

#[tokio::test]
async fn a_job_that_keeps_losing_its_worker_fails_after_max_rescues() {
    let app = TestApp::spawn().await;
    let job_id = enqueue_one(&app.db, NewJob::new("system.sleep")).await;
    // Each round: a worker claims the job and dies (its lease runs out), then it is rescued.
    for round in 1..=queue::MAX_RESCUES {
        let claimed = queue::claim(&app.db, "doomed", 1, Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(
            claimed.len(),
            1,
            "round {round}: the job is claimable again"
        );
        sqlx::query(
            "update job set lease_expires_at = now() - interval '1 second' where job_id = $1",
        )
        .bind(job_id)
        .execute(&app.db)
        .await
        .unwrap();
        assert_eq!(queue::rescue_expired(&app.db).await.unwrap(), vec![job_id]);
    }
    let (state, attempt, rescues, error): (JobState, i32, i32, Option<String>) =
        sqlx::query_as("select state, attempt, rescues, last_error from job where job_id = $1")
            .bind(job_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    // No attempt was used up, but a job that took down its worker this often is not run again.
    assert_eq!(
        (state, attempt, rescues),
        (JobState::Failed, 0, queue::MAX_RESCUES)
    );
    assert_eq!(
        error.as_deref(),
        Some("worker doomed stopped renewing its lease")
    );
}

#[tokio::test]
async fn failed_attempts_back_off_and_keep_the_error_verbatim() {
    let app = TestApp::spawn().await;
    let mut registry = Registry::default();
    registry.register("test.flaky", |_ctx| async {
        Err(JobError::failed(
            "InsufficientInstanceCapacity: We currently do not have sufficient t3.micro capacity",
        ))
    });
    let job_id = enqueue_one(&app.db, NewJob::new("test.flaky").max_attempts(3)).await;
    let mut cfg = config(1);
    cfg.backoff_base = Duration::from_millis(200);
    let worker = Worker::start(app.db.clone(), registry, cfg);
    wait_until(
        "the job to fail for good",
        Duration::from_secs(20),
        || async { job_state(&app.db, job_id).await == JobState::Failed },
    )
    .await;
    worker.shutdown().await;
    let (attempt, error): (i32, String) =
        sqlx::query_as("select attempt, last_error from job where job_id = $1")
            .bind(job_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(attempt, 3);
    assert_eq!(
        error,
        "InsufficientInstanceCapacity: We currently do not have sufficient t3.micro capacity"
    );
    let events: Vec<(String, time::OffsetDateTime)> = sqlx::query_as(
        // Queued and running are events too; this test is about failures and backoff.
        "select message, created_at from job_event where job_id = $1 and message <> 'queued' and message not like 'running%' order by event_id",
    )
    .bind(job_id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events[0]
        .0
        .starts_with("attempt 1 of 3 failed, retrying: InsufficientInstanceCapacity"));
    assert!(events[2].0.starts_with("failed after 3 attempts"));
    // Backoff: 100–200 ms before the second attempt, 200–400 ms before the third.
    assert!(
        events[1].1 - events[0].1 >= time::Duration::milliseconds(100),
        "{events:?}"
    );
    assert!(
        events[2].1 - events[1].1 >= time::Duration::milliseconds(200),
        "{events:?}"
    );

    // A person retries it: fresh attempts.
    queue::retry(&app.db, job_id, None, "ops@stratus.test")
        .await
        .unwrap();
    let (state, attempt): (JobState, i32) =
        sqlx::query_as("select state, attempt from job where job_id = $1")
            .bind(job_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((state, attempt), (JobState::Queued, 0));
}

#[tokio::test]
async fn a_unique_key_allows_one_live_job() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.acquire().await.unwrap();
    let first = enqueue(
        &mut conn,
        NewJob::new("test.count").unique_key("reconcile:group-1"),
    )
    .await
    .unwrap();
    let second = enqueue(
        &mut conn,
        NewJob::new("test.count").unique_key("reconcile:group-1"),
    )
    .await
    .unwrap();
    assert!(first.created);
    assert!(!second.created);
    assert_eq!(first.job_id, second.job_id);
    let other = enqueue(
        &mut conn,
        NewJob::new("test.count").unique_key("reconcile:group-2"),
    )
    .await
    .unwrap();
    assert_ne!(other.job_id, first.job_id);
    drop(conn);

    let runs: Runs = Default::default();
    let worker = Worker::start(app.db.clone(), counting(&runs), config(2));
    wait_until("both jobs to finish", Duration::from_secs(10), || async {
        count_state(&app.db, "succeeded").await == 2
    })
    .await;
    worker.shutdown().await;
    // Once it has finished, the key is free again.
    let again = enqueue(
        &mut app.db.acquire().await.unwrap(),
        NewJob::new("test.count").unique_key("reconcile:group-1"),
    )
    .await
    .unwrap();
    assert!(again.created);
    assert_ne!(again.job_id, first.job_id);
}

#[tokio::test]
async fn queued_and_running_jobs_can_be_cancelled() {
    let app = TestApp::spawn().await;
    let later = enqueue_one(
        &app.db,
        NewJob::new("system.sleep")
            .run_at(time::OffsetDateTime::now_utc() + time::Duration::hours(1)),
    )
    .await;
    assert_eq!(
        queue::cancel(&app.db, later, None, "ops").await.unwrap(),
        JobState::Cancelled
    );
    assert_eq!(job_state(&app.db, later).await, JobState::Cancelled);

    let long = enqueue_one(
        &app.db,
        NewJob::new("system.sleep").payload(json!({ "millis": 60_000, "steps": 600 })),
    )
    .await;
    let worker = Worker::start(
        app.db.clone(),
        Registry::default().with_builtins(),
        config(1),
    );
    wait_until(
        "the job to report progress",
        Duration::from_secs(10),
        || async {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from job_event where job_id = $1 and kind = 'progress'",
            )
            .bind(long)
            .fetch_one(&app.db)
            .await
            .unwrap()
                > 0
        },
    )
    .await;
    assert_eq!(
        queue::cancel(&app.db, long, None, "ops").await.unwrap(),
        JobState::Running
    );
    wait_until(
        "the running job to stop",
        Duration::from_secs(10),
        || async { job_state(&app.db, long).await == JobState::Cancelled },
    )
    .await;
    worker.shutdown().await;
    // A cancelled job whose attempt then fails is not queued again.
    let mut registry = Registry::default();
    registry.register("test.fails", |ctx| async move {
        wait_for_cancel_request(&ctx).await;
        Err(JobError::failed("boom"))
    });
    let doomed = enqueue_one(&app.db, NewJob::new("test.fails")).await;
    let worker = Worker::start(app.db.clone(), registry, config(1));
    wait_until("the job to start", Duration::from_secs(10), || async {
        job_state(&app.db, doomed).await == JobState::Running
    })
    .await;
    queue::cancel(&app.db, doomed, None, "ops").await.unwrap();
    wait_until(
        "the job to end cancelled",
        Duration::from_secs(10),
        || async { job_state(&app.db, doomed).await == JobState::Cancelled },
    )
    .await;
    worker.shutdown().await;

    let err = queue::cancel(&app.db, long, None, "ops").await.unwrap_err();
    assert!(err.to_string().contains("already cancelled"), "{err}");
}

#[tokio::test]
async fn a_busy_tenant_does_not_starve_another() {
    let app = TestApp::spawn().await;
    let busy = insert_tenant(&app.db, "busy").await;
    let quiet = insert_tenant(&app.db, "quiet").await;
    let backlog: Vec<NewJob> = (0..10_000)
        .map(|_| NewJob::new("test.order").tenant(busy))
        .collect();
    enqueue_many(&mut app.db.acquire().await.unwrap(), &backlog)
        .await
        .unwrap();
    let lone = enqueue_one(&app.db, NewJob::new("test.order").tenant(quiet)).await;

    let order = Arc::new(Mutex::new(Vec::new()));
    let mut registry = Registry::default();
    let seen = order.clone();
    registry.register("test.order", move |ctx| {
        let seen = seen.clone();
        async move {
            seen.lock().unwrap().push(ctx.job.job_id);
            Ok(())
        }
    });
    let mut cfg = config(10);
    cfg.claim_batch = 10;
    let worker = Worker::start(app.db.clone(), registry, cfg);
    wait_until(
        "the quiet tenant's job to run",
        Duration::from_secs(30),
        || async { order.lock().unwrap().contains(&lone) },
    )
    .await;
    worker.shutdown().await;
    let position = order
        .lock()
        .unwrap()
        .iter()
        .position(|id| *id == lone)
        .unwrap();
    assert!(
        position < 10,
        "the quiet tenant's job ran at position {position}, after more than one claim batch"
    );
}

#[tokio::test]
async fn jobs_enqueued_one_by_one_are_found_without_the_fallback_poll() {
    // Jobs are found through NOTIFY alone: with the fallback poll an hour away, a missed
    // wakeup leaves a job queued and this test times out. (It covers the worker's wakeup path;
    // it did not reproduce, here, the race the benchmark once showed: a NOTIFY that arrived
    // during a claim which then came back short, taken as "nothing new".)
    let app = TestApp::spawn().await;
    let mut cfg = config(4);
    cfg.poll_interval = Duration::from_secs(3600);
    let worker = Worker::start(app.db.clone(), Registry::default().with_builtins(), cfg);
    // Rounds of two jobs: the second is enqueued after a varying gap, so in some rounds its
    // NOTIFY arrives while the claim for the first is in flight; each round must finish before
    // the next, so later enqueues cannot rescue a missed job.
    for round in 0..100u64 {
        let first = enqueue_one(&app.db, NewJob::new("system.noop")).await;
        tokio::time::sleep(Duration::from_micros(round % 40 * 50)).await;
        let second = enqueue_one(&app.db, NewJob::new("system.noop")).await;
        wait_until(
            &format!("round {round}'s jobs to run without the fallback poll"),
            Duration::from_secs(10),
            || async {
                job_state(&app.db, first).await == JobState::Succeeded
                    && job_state(&app.db, second).await == JobState::Succeeded
            },
        )
        .await;
    }
    worker.shutdown().await;
}

#[tokio::test]
async fn shutdown_releases_unfinished_jobs_and_pruning_removes_old_ones() {
    let app = TestApp::spawn().await;
    let long = enqueue_one(
        &app.db,
        NewJob::new("system.sleep").payload(json!({ "millis": 60_000 })),
    )
    .await;
    let mut cfg = config(1);
    cfg.shutdown_timeout = Duration::from_millis(100);
    let worker = Worker::start(app.db.clone(), Registry::default().with_builtins(), cfg);
    wait_until("the job to start", Duration::from_secs(10), || async {
        job_state(&app.db, long).await == JobState::Running
    })
    .await;
    worker.shutdown().await;
    let (state, attempt, token): (JobState, i32, Option<i64>) =
        sqlx::query_as("select state, attempt, lease_token from job where job_id = $1")
            .bind(long)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        (state, attempt, token),
        (JobState::Queued, 0, None),
        "released, and the attempt does not count"
    );

    sqlx::query(
        "insert into job (kind, state, fair_seq, finished_at) values
         ('test.old', 'succeeded', 0, now() - interval '30 days'),
         ('test.old', 'failed', 0, now() - interval '30 days'),
         ('test.new', 'succeeded', 0, now() - interval '1 day')",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let pruned = queue::prune(&app.db, Duration::from_secs(14 * 24 * 3600))
        .await
        .unwrap();
    assert_eq!(pruned, 2);
    let kinds: Vec<String> = sqlx::query_scalar("select kind from job order by job_id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(kinds, ["system.sleep", "test.new"]);
}

#[tokio::test]
async fn job_events_are_append_only_and_metrics_are_exposed() {
    let app = TestApp::spawn().await;
    let job_id = enqueue_one(
        &app.db,
        NewJob::new("system.sleep").payload(json!({ "millis": 30, "steps": 3 })),
    )
    .await;
    let worker = Worker::start(
        app.db.clone(),
        Registry::default().with_builtins(),
        config(1),
    );
    wait_until("the job to succeed", Duration::from_secs(10), || async {
        job_state(&app.db, job_id).await == JobState::Succeeded
    })
    .await;
    worker.shutdown().await;
    let progress: Vec<i16> = sqlx::query_scalar(
        "select percent from job_event where job_id = $1 and kind = 'progress' order by event_id",
    )
    .bind(job_id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(progress, [33, 66, 100]);
    let update = sqlx::query("update job_event set message = 'rewritten' where job_id = $1")
        .bind(job_id)
        .execute(&app.db)
        .await;
    assert!(update.unwrap_err().to_string().contains("append-only"));

    let metrics = app
        .client()
        .http
        .get(format!("{}/metrics", app.url))
        .bearer_auth(crate::support::METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = crate::support::Reply {
        status: 200,
        headers: Default::default(),
        body: metrics.text().await.unwrap(),
    };
    // Finished jobs are counted as they finish (a counter), not by scanning the table.
    assert!(
        metrics
            .body
            .contains("stratus_jobs_finished_total{kind=\"system.sleep\",outcome=\"succeeded\"}"),
        "{}",
        metrics.body
    );
    assert!(
        !metrics.body.contains("state=\"succeeded\""),
        "{}",
        metrics.body
    );
    assert!(
        metrics.body.contains("stratus_job_pickup_seconds"),
        "{}",
        metrics.body
    );
}

/// Polls the job row until a person has asked to cancel it (the handler ignores the token on purpose).
async fn wait_for_cancel_request(ctx: &app::backend::jobs::worker::JobContext) {
    loop {
        let requested: bool =
            sqlx::query_scalar("select cancel_requested from job where job_id = $1")
                .bind(ctx.job.job_id)
                .fetch_one(&ctx.db)
                .await
                .unwrap();
        if requested {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
