//! The worker runtime: claims due jobs in batches, runs the handler registered for each kind,
//! renews leases, and records outcomes in batches.
//!
//! One process runs one [`Worker`]: a claimer (woken by NOTIFY, with a slow poll as fallback),
//! up to `concurrency` handlers at a time, one heartbeat for all leases, one completer that
//! finishes every job done since its last write in a single statement, and maintenance
//! (rescuing expired leases, pruning).

use super::queue::{self, ClaimedJob, FailOutcome};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Why a handler stopped without finishing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The attempt failed; it is retried while attempts remain. The message is kept verbatim.
    #[error("{0}")]
    Failed(String),
    /// Failed in a way retrying cannot fix.
    #[error("{0}")]
    Fatal(String),
    #[error("cancelled")]
    Cancelled,
    /// Another worker owns the job now; nothing this run writes will count.
    #[error("lease lost")]
    LeaseLost,
    /// Not finished, and nothing failed: run the job again after this long, without using an
    /// attempt (a reconciler's bounded step, then requeue).
    #[error("requeued")]
    Requeue(Duration),
}

impl JobError {
    pub fn failed(error: impl std::fmt::Display) -> Self {
        JobError::Failed(error.to_string())
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), JobError>> + Send>>;
type HandlerFn = Arc<dyn Fn(JobContext) -> BoxFuture + Send + Sync>;

/// Handlers by job kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<String, HandlerFn>,
}

impl Registry {
    pub fn register<F, Fut>(&mut self, kind: &str, handler: F) -> &mut Self
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        self.handlers.insert(
            kind.to_string(),
            Arc::new(move |ctx| Box::pin(handler(ctx))),
        );
        self
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.handlers.keys().map(String::as_str)
    }

    /// The kinds every Stratus process can run: `system.noop` (benchmarks) and
    /// `system.sleep` (`{"millis": n, "steps": k}`: waits, reporting progress k times).
    pub fn with_builtins(mut self) -> Self {
        self.register(super::JobKind::Noop.as_str(), |_ctx| async { Ok(()) });
        self.register(super::JobKind::Sleep.as_str(), |ctx| async move {
            let millis = ctx.job.payload["millis"].as_u64().unwrap_or(1000);
            let steps = ctx.job.payload["steps"].as_u64().unwrap_or(1).clamp(1, 100);
            for step in 1..=steps {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(millis / steps)) => {}
                    _ = ctx.cancellation().cancelled() => return Err(JobError::Cancelled),
                }
                ctx.progress(
                    (step * 100 / steps) as u8,
                    format!("step {step} of {steps}"),
                )
                .await?;
            }
            Ok(())
        });
        self
    }
}

/// What a handler gets: its job, the database, progress reporting and cancellation.
#[derive(Clone)]
pub struct JobContext {
    pub job: ClaimedJob,
    pub db: PgPool,
    cancel: CancellationToken,
}

impl JobContext {
    /// Records progress (a `job_event` row plus a NOTIFY). Fails with `Cancelled` once a person
    /// asked to cancel, and with `LeaseLost` once another worker took the job over.
    pub async fn progress(&self, percent: u8, message: impl Into<String>) -> Result<(), JobError> {
        self.event(
            super::kinds::EventKind::Progress,
            Some(percent.min(100) as i16),
            &message.into(),
        )
        .await
    }

    /// Appends a log line to the job's events.
    pub async fn log(&self, message: impl Into<String>) -> Result<(), JobError> {
        self.event(super::kinds::EventKind::Log, None, &message.into())
            .await
    }

    async fn event(
        &self,
        kind: super::kinds::EventKind,
        percent: Option<i16>,
        message: &str,
    ) -> Result<(), JobError> {
        if self.cancel.is_cancelled() {
            return Err(JobError::Cancelled);
        }
        match queue::record_event(
            &self.db,
            self.job.job_id,
            self.job.lease_token,
            kind,
            percent,
            message,
        )
        .await
        {
            Ok(Some(false)) => Ok(()),
            Ok(Some(true)) => Err(JobError::Cancelled),
            Ok(None) => Err(JobError::LeaseLost),
            Err(error) => Err(JobError::Failed(format!(
                "recording progress failed: {error}"
            ))),
        }
    }

    /// Fires when the job should stop (cancelled by a person, or its lease was lost).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this worker in `locked_by` and logs.
    pub name: String,
    pub concurrency: usize,
    /// Upper bound on jobs claimed by one query.
    pub claim_batch: usize,
    pub lease: Duration,
    /// Fallback poll when no NOTIFY arrives (scheduled jobs, retries, lost notifications).
    pub poll_interval: Duration,
    /// How long shutdown waits for running handlers before releasing their leases.
    pub shutdown_timeout: Duration,
    /// Finished jobs older than this are pruned.
    pub retention: Duration,
    /// Exit once no job is due and none is running (benchmarks, `stratus worker --once`).
    pub once: bool,
    /// The first retry waits about this long; each further one twice as long.
    pub backoff_base: Duration,
}

impl WorkerConfig {
    pub fn new(concurrency: usize) -> Self {
        WorkerConfig {
            name: format!(
                "{}-{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..6]
            ),
            concurrency: concurrency.max(1),
            claim_batch: 500,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(20),
            retention: Duration::from_secs(14 * 24 * 3600),
            once: false,
            backoff_base: Duration::from_secs(1),
        }
    }
}

/// Exponential backoff with jitter: between half and all of base × 2^(attempt-1), at most an hour.
pub fn backoff(base: Duration, attempt: i32) -> Duration {
    use rand::Rng;
    let ceiling = (base.as_secs_f64() * 2f64.powi((attempt - 1).clamp(0, 20))).min(3600.0);
    Duration::from_secs_f64(rand::thread_rng().gen_range(ceiling / 2.0..=ceiling))
}

struct Running {
    token: i64,
    cancel: CancellationToken,
    /// Set before `cancel` fires, to tell the runner why.
    lost: AtomicBool,
}

struct Shared {
    db: PgPool,
    registry: Registry,
    config: WorkerConfig,
    running: Mutex<HashMap<i64, Arc<Running>>>,
    wake: Notify,
    completions: mpsc::UnboundedSender<(i64, i64)>,
}

pub struct Worker {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Worker {
    pub fn start(db: PgPool, registry: Registry, config: WorkerConfig) -> Worker {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(db, registry, config, shutdown.clone()));
        Worker { shutdown, task }
    }

    /// Stops claiming, waits for running jobs (up to the shutdown timeout), then releases the
    /// leases of those still running.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }

    /// Waits until the worker stops by itself (`once`) or is shut down.
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    pub fn stop_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

async fn run(db: PgPool, registry: Registry, config: WorkerConfig, shutdown: CancellationToken) {
    let (tx, rx) = mpsc::unbounded_channel();
    let shared = Arc::new(Shared {
        db,
        registry,
        config,
        running: Mutex::new(HashMap::new()),
        wake: Notify::new(),
        completions: tx,
    });
    tracing::info!(worker = %shared.config.name, concurrency = shared.config.concurrency, "worker started");
    let background = CancellationToken::new();
    let listener = tokio::spawn(listen(shared.clone(), background.clone()));
    let heartbeat = tokio::spawn(heartbeat(shared.clone(), background.clone()));
    let maintenance = tokio::spawn(maintain(shared.clone(), background.clone()));
    let completer = tokio::spawn(complete_batches(shared.db.clone(), rx));

    let slots = Arc::new(Semaphore::new(shared.config.concurrency));
    let mut handlers = tokio::task::JoinSet::new();
    let buffered = claim_loop(&shared, &slots, &mut handlers, &shutdown).await;
    if !buffered.is_empty() {
        for (job_id, _) in &buffered {
            shared.running.lock().expect("running map").remove(job_id);
        }
        if let Err(error) = queue::release(&shared.db, &buffered).await {
            tracing::error!(%error, "releasing buffered jobs failed; their leases will expire and be rescued");
        }
    }

    // Let running jobs finish, up to the timeout; then stop them and give their leases back.
    let drained = tokio::time::timeout(shared.config.shutdown_timeout, async {
        while handlers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        let held: Vec<(i64, i64)> = {
            let running = shared.running.lock().expect("running map");
            running.iter().map(|(id, r)| (*id, r.token)).collect()
        };
        handlers.abort_all();
        while handlers.join_next().await.is_some() {}
        match queue::release(&shared.db, &held).await {
            Ok(n) => tracing::warn!(
                released = n,
                "shutdown timeout: released the leases of unfinished jobs"
            ),
            Err(error) => {
                tracing::error!(%error, "releasing leases failed; they will expire and be rescued")
            }
        }
    }
    background.cancel();
    drop(shared);
    let _ = completer.await;
    let _ = tokio::join!(listener, heartbeat, maintenance);
    tracing::info!("worker stopped");
}

/// Claims jobs into a local buffer and starts them as slots free up. Claims run while
/// buffered jobs keep starting, so a worker does not sit idle for a claim's round trip and
/// commit. How far ahead it claims adapts: `ahead` is the buffer's low-water mark, about twice
/// the jobs that started during the last claim (at least `concurrency`, at most
/// `claim_batch`), and a claim tops the buffer up to twice that. Short jobs are thus claimed
/// in large batches, while a worker with long jobs holds no more than it will soon start, and
/// leaves the rest to other workers. Returns what is still buffered at shutdown, so its leases
/// can be given back.
async fn claim_loop(
    shared: &Arc<Shared>,
    slots: &Arc<Semaphore>,
    handlers: &mut tokio::task::JoinSet<()>,
    shutdown: &CancellationToken,
) -> Vec<(i64, i64)> {
    type Claim = Pin<Box<dyn Future<Output = Result<Vec<ClaimedJob>, sqlx::Error>> + Send>>;
    let config = &shared.config;
    let floor = config.concurrency.min(config.claim_batch);
    let mut ahead = floor;
    // Jobs started so far, and the count when the claim in flight was sent.
    let (mut started, mut started_at_send) = (0usize, 0usize);
    let mut buffer: VecDeque<(ClaimedJob, Arc<Running>)> = VecDeque::new();
    // The claim in flight and how many jobs it asked for.
    let mut claiming: Option<(usize, Claim)> = None;
    let mut failures = 0u32;
    let mut retry_at = tokio::time::Instant::now();
    // The last claim came back short: wait for a NOTIFY or the poll before asking again.
    let mut drained = false;
    // A NOTIFY arrived while a claim was in flight: that claim may have missed the new job.
    let mut woken_while_claiming = false;
    let mut last_claim_empty = false;
    loop {
        if shutdown.is_cancelled() {
            let mut held: Vec<(i64, i64)> = buffer
                .iter()
                .map(|(job, _)| (job.job_id, job.lease_token))
                .collect();
            // A claim in flight may still bring jobs: they are given back with the buffer.
            if let Some((_, claim)) = claiming.take() {
                if let Ok(jobs) = claim.await {
                    held.extend(jobs.iter().map(|job| (job.job_id, job.lease_token)));
                }
            }
            return held;
        }
        // Reap before starting more, never after: a buffered job then always has either a free
        // slot or an unreaped handler whose end will wake this loop.
        while handlers.try_join_next().is_some() {}
        while !buffer.is_empty() {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break;
            };
            let (job, running) = buffer.pop_front().expect("buffer is not empty");
            started += 1;
            let shared = shared.clone();
            handlers.spawn(async move {
                execute(&shared, job, running).await;
                drop(permit);
            });
        }

        let room = (2 * ahead)
            .min(config.claim_batch)
            .saturating_sub(buffer.len());
        if claiming.is_none()
            && !drained
            && room > 0
            && buffer.len() < ahead
            && tokio::time::Instant::now() >= retry_at
        {
            started_at_send = started;
            let (db, name, lease) = (shared.db.clone(), config.name.clone(), config.lease);
            claiming = Some((
                room,
                Box::pin(async move { queue::claim(&db, &name, room as i64, lease).await }),
            ));
        }
        if config.once
            && last_claim_empty
            && claiming.is_none()
            && buffer.is_empty()
            && handlers.is_empty()
        {
            return Vec::new();
        }
        tokio::select! {
            claimed = async {
                match claiming.as_mut() {
                    Some((_, claim)) => claim.as_mut().await,
                    None => std::future::pending().await,
                }
            }, if claiming.is_some() => {
                let asked = claiming.take().map_or(0, |(asked, _)| asked);
                let woken_while_claiming = std::mem::take(&mut woken_while_claiming);
                match claimed {
                    Ok(jobs) => {
                        failures = 0;
                        drained = jobs.len() < asked && !woken_while_claiming;
                        // The buffer ran dry while more was queued: the claim was too small to
                        // cover its own round trip, so reach further (how far jobs started
                        // during it undercounts, as it could not start more than it had).
                        let starved = buffer.is_empty() && !drained;
                        let rate = 2 * (started - started_at_send);
                        ahead = if starved { rate.max(2 * ahead) } else { rate }
                            .clamp(floor, config.claim_batch);
                        last_claim_empty = jobs.is_empty();
                        let mut running = shared.running.lock().expect("running map");
                        for job in jobs {
                            let run = Arc::new(Running {
                                token: job.lease_token,
                                cancel: CancellationToken::new(),
                                lost: AtomicBool::new(false),
                            });
                            running.insert(job.job_id, run.clone());
                            buffer.push_back((job, run));
                        }
                    }
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(%error, "claiming jobs failed; retrying");
                        retry_at = tokio::time::Instant::now()
                            + Duration::from_millis(100 * 2u64.pow(failures.min(5)));
                    }
                }
            }
            _ = shared.wake.notified() => {
                drained = false;
                woken_while_claiming |= claiming.is_some();
            }
            Some(_) = handlers.join_next(), if !handlers.is_empty() => {}
            _ = tokio::time::sleep_until(retry_at), if failures > 0 && claiming.is_none() && tokio::time::Instant::now() < retry_at => {}
            _ = tokio::time::sleep(config.poll_interval), if buffer.is_empty() && claiming.is_none() => drained = false,
            _ = shutdown.cancelled() => {}
        }
    }
}

/// Runs one claimed job to its outcome.
async fn execute(shared: &Arc<Shared>, job: ClaimedJob, running: Arc<Running>) {
    let span = tracing::info_span!("job", job_id = job.job_id, kind = %job.kind,
        tenant_id = ?job.tenant_id, attempt = job.attempt);
    async {
        let pickup = (time::OffsetDateTime::now_utc() - job.run_at).as_seconds_f64().max(0.0);
        metrics::histogram!("stratus_job_pickup_seconds").record(pickup);
        metrics::counter!("stratus_jobs_claimed_total", "kind" => job.kind.clone()).increment(1);
        let started = Instant::now();
        let result = match shared.registry.handlers.get(&job.kind).cloned() {
            None => Err(JobError::Fatal(format!("no handler is registered for job kind {:?}", job.kind))),
            Some(handler) => {
                let ctx = JobContext { job: job.clone(), db: shared.db.clone(), cancel: running.cancel.clone() };
                // A panicking handler fails its attempt instead of taking the worker down.
                let task = tokio::spawn(handler(ctx));
                let abort = task.abort_handle();
                tokio::select! {
                    joined = task => joined.unwrap_or_else(|e| Err(JobError::Failed(format!("the job handler panicked: {e}")))),
                    _ = running.cancel.cancelled() => {
                        abort.abort();
                        Err(if running.lost.load(Ordering::Relaxed) { JobError::LeaseLost } else { JobError::Cancelled })
                    }
                }
            }
        };
        shared.running.lock().expect("running map").remove(&job.job_id);
        let kind = job.kind.clone();
        metrics::histogram!("stratus_job_run_seconds", "kind" => kind.clone()).record(started.elapsed().as_secs_f64());
        let outcome = match result {
            Ok(()) => {
                let _ = shared.completions.send((job.job_id, job.lease_token));
                "succeeded"
            }
            Err(JobError::LeaseLost) => {
                tracing::warn!("lease lost: another worker owns this job now; result discarded");
                "lease_lost"
            }
            Err(JobError::Requeue(after)) => {
                let requeued = retry_db("requeueing a job", || queue::requeue(&shared.db, job.job_id, job.lease_token, after)).await;
                // A requeue sooner than the poll is claimed when due, not at the next poll (no
                // NOTIFY announces it): a reconciler's next step follows its delay.
                if requeued == Some(true) && after < shared.config.poll_interval {
                    let shared = shared.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(after).await;
                        shared.wake.notify_one();
                    });
                }
                "requeued"
            }
            Err(JobError::Cancelled) => {
                retry_db("marking a job cancelled", || queue::mark_cancelled(&shared.db, job.job_id, job.lease_token)).await;
                "cancelled"
            }
            Err(error @ (JobError::Failed(_) | JobError::Fatal(_))) => {
                let retry = matches!(error, JobError::Failed(_));
                let message = error.to_string();
                let wait = backoff(shared.config.backoff_base, job.attempt);
                let failed = retry_db("recording a failure", || queue::fail(&shared.db, job.job_id, job.lease_token, &message, retry, wait)).await;
                match failed {
                    Some(FailOutcome::Retrying) => {
                        metrics::counter!("stratus_job_retries_total", "kind" => kind.clone()).increment(1);
                        tracing::warn!(error = %message, retry_in = ?wait, "attempt failed; will retry");
                        "retrying"
                    }
                    Some(FailOutcome::Failed) => {
                        tracing::error!(error = %message, "job failed");
                        "failed"
                    }
                    _ => "lease_lost",
                }
            }
        };
        metrics::counter!("stratus_jobs_finished_total", "kind" => kind, "outcome" => outcome).increment(1);
    }
    .instrument(span)
    .await
}

/// Retries a write through brief database outages (a cut connection, a restart), since
/// dropping it would let the lease expire and the job run again.
async fn retry_db<T, F, Fut>(what: &str, mut op: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    for attempt in 0..50u32 {
        match op().await {
            Ok(value) => return Some(value),
            Err(error) => {
                tracing::warn!(%error, attempt, "{what} failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 * u64::from(attempt.min(10) + 1)))
                    .await;
            }
        }
    }
    tracing::error!("{what} kept failing; the lease will expire and the job will be rescued");
    None
}

/// Most jobs one completion statement finishes.
const COMPLETE_BATCH: usize = 500;

/// Finishes every job completed since the last write in one statement.
async fn complete_batches(db: PgPool, mut rx: mpsc::UnboundedReceiver<(i64, i64)>) {
    let mut batch = Vec::with_capacity(COMPLETE_BATCH);
    while rx.recv_many(&mut batch, COMPLETE_BATCH).await > 0 {
        match retry_db("completing jobs", || queue::complete(&db, &batch)).await {
            Some(done) if done.len() < batch.len() => {
                tracing::warn!(
                    lost = batch.len() - done.len(),
                    "some results were discarded: their leases had been lost"
                );
            }
            _ => {}
        }
        batch.clear();
    }
}

/// One LISTEN connection per process wakes the claimer on every enqueue.
async fn listen(shared: Arc<Shared>, stop: CancellationToken) {
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&shared.db).await?;
            listener.listen(queue::JOBS_CHANNEL).await?;
            // Anything enqueued while we were not listening is picked up now.
            shared.wake.notify_one();
            loop {
                listener.recv().await?;
                shared.wake.notify_one();
            }
            #[allow(unreachable_code)]
            Ok::<(), sqlx::Error>(())
        };
        tokio::select! {
            result = connected => {
                if let Err(error) = result {
                    tracing::warn!(%error, "job listener disconnected; reconnecting");
                }
            }
            _ = stop.cancelled() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// Renews all leases this process holds, and stops handlers whose job was cancelled or taken over.
async fn heartbeat(shared: Arc<Shared>, stop: CancellationToken) {
    let every = shared.config.lease / 3;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.cancelled() => return,
        }
        let held: Vec<(i64, i64)> = {
            let running = shared.running.lock().expect("running map");
            running.iter().map(|(id, r)| (*id, r.token)).collect()
        };
        if held.is_empty() {
            continue;
        }
        let alive = match queue::heartbeat(&shared.db, &held, shared.config.lease).await {
            Ok(alive) => alive,
            Err(error) => {
                tracing::warn!(%error, "heartbeat failed; retrying at the next beat");
                continue;
            }
        };
        let alive: HashMap<i64, bool> = alive.into_iter().collect();
        let running = shared.running.lock().expect("running map");
        for (job_id, _) in held {
            let Some(run) = running.get(&job_id) else {
                continue;
            };
            match alive.get(&job_id) {
                Some(false) => {}
                Some(true) => run.cancel.cancel(),
                None => {
                    run.lost.store(true, Ordering::Relaxed);
                    run.cancel.cancel();
                }
            }
        }
    }
}

/// Rescues expired leases (any live worker does this: no single point of failure) and prunes.
async fn maintain(shared: Arc<Shared>, stop: CancellationToken) {
    use rand::Rng;
    let mut last_prune = Instant::now() - Duration::from_secs(3600);
    loop {
        let pause = shared
            .config
            .lease
            .mul_f64(rand::thread_rng().gen_range(0.25..0.5));
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = stop.cancelled() => return,
        }
        match queue::rescue_expired(&shared.db).await {
            Ok(rescued) if !rescued.is_empty() => {
                tracing::warn!(jobs = ?rescued, "rescued jobs whose worker stopped renewing its lease");
                shared.wake.notify_one();
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "rescuing expired leases failed"),
        }
        if last_prune.elapsed() > Duration::from_secs(600) {
            last_prune = Instant::now();
            match queue::prune(&shared.db, shared.config.retention).await {
                Ok(n) if n > 0 => tracing::info!(pruned = n, "pruned finished jobs"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "pruning failed"),
            }
        }
    }
}
