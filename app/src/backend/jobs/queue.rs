//! The queue's SQL. Every statement that finishes or extends a running job names its lease
//! token: a job rescued from a dead worker has a new token, so the old worker's writes match
//! no row (fencing). Only running jobs hold a token (every way out of `running` clears it), so
//! those statements match on (job_id, lease_token) alone: adding `state = 'running'` invites the
//! planner to scan the partial index of running jobs instead of the primary key.
//!
//! Batch statements name their ids as `job_id = any($ids)` even where a join with the batch
//! would do: a queue table's statistics are often stale (a bulk enqueue, or no autovacuum
//! yet), and then the planner joins a 500-id batch by hashing a sequential scan of the whole
//! table; `= any` keeps every plan on the primary key.

use crate::error::AppError;
use crate::model::JobState;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor, PgPool};
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// Jobs without a tenant (platform work) share one lane.
const PLATFORM_LANE: Uuid = Uuid::nil();

/// Channel that wakes workers (sent by a trigger on insert).
pub const JOBS_CHANNEL: &str = "stratus_jobs";
/// Channel announcing new job events; the payload is their ids, comma-separated.
pub const EVENTS_CHANNEL: &str = "stratus_job_events";

/// A job to enqueue. Each kind's constructor sets its own attempts and unique key.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub tenant_id: Option<Uuid>,
    pub resource_id: Option<Uuid>,
    pub payload: Value,
    pub priority: i16,
    pub run_at: Option<OffsetDateTime>,
    pub max_attempts: i32,
    pub unique_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>) -> Self {
        NewJob {
            kind: kind.into(),
            tenant_id: None,
            resource_id: None,
            payload: Value::Object(Default::default()),
            priority: 0,
            run_at: None,
            max_attempts: 5,
            unique_key: None,
        }
    }
    pub fn tenant(mut self, tenant_id: Uuid) -> Self {
        self.tenant_id = Some(tenant_id);
        self
    }
    pub fn resource(mut self, resource_id: Uuid) -> Self {
        self.resource_id = Some(resource_id);
        self
    }
    pub fn payload(mut self, payload: Value) -> Self {
        self.payload = payload;
        self
    }
    pub fn priority(mut self, priority: i16) -> Self {
        self.priority = priority;
        self
    }
    pub fn run_at(mut self, run_at: OffsetDateTime) -> Self {
        self.run_at = Some(run_at);
        self
    }
    pub fn max_attempts(mut self, max_attempts: i32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    pub job_id: i64,
    /// False when a live job with the same unique key already existed (its id is returned).
    pub created: bool,
}

/// Reserves `$2` places at the end of lane `$1`; an idle lane restarts at the queue's head.
/// Returns the first reserved sequence number as `first_seq`.
const RESERVE_LANE: &str = "insert into job_lane (lane, next_seq)
     values ($1, coalesce((select fair_seq from job where state = 'queued' order by priority, fair_seq limit 1), 0) + $2)
     on conflict (lane) do update set next_seq = greatest(job_lane.next_seq, excluded.next_seq - $2) + $2
     returning next_seq - $2 + 1 as first_seq";

async fn reserve_lane(conn: &mut PgConnection, lane: Uuid, count: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(RESERVE_LANE)
        .bind(lane)
        .bind(count)
        .fetch_one(conn)
        .await
}

/// Enqueues one job inside the caller's transaction (so a resource row and its job commit
/// together). With a unique key that a queued or running job holds, returns that job instead.
pub async fn enqueue(conn: &mut PgConnection, job: NewJob) -> Result<Enqueued, sqlx::Error> {
    for _ in 0..3 {
        // One statement, so a standalone enqueue costs one round trip and one commit.
        let inserted: Option<i64> = sqlx::query_scalar(&format!(
            "with lane as ({RESERVE_LANE})
             insert into job (kind, tenant_id, resource_id, payload, priority, fair_seq, run_at, max_attempts, unique_key)
             select $3, $4, $5, $6, $7, lane.first_seq, coalesce($8, now()), $9, $10 from lane
             on conflict (unique_key) where unique_key is not null and state in ('queued', 'running') do nothing
             returning job_id"
        ))
        .bind(job.tenant_id.unwrap_or(PLATFORM_LANE))
        .bind(1i64)
        .bind(&job.kind)
        .bind(job.tenant_id)
        .bind(job.resource_id)
        .bind(&job.payload)
        .bind(job.priority)
        .bind(job.run_at)
        .bind(job.max_attempts)
        .bind(&job.unique_key)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(job_id) = inserted {
            return Ok(Enqueued {
                job_id,
                created: true,
            });
        }
        let existing: Option<i64> = sqlx::query_scalar(
            "select job_id from job where unique_key = $1 and state in ('queued', 'running')",
        )
        .bind(&job.unique_key)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(job_id) = existing {
            return Ok(Enqueued {
                job_id,
                created: false,
            });
        }
        // The holder finished between the two statements: try again.
    }
    Err(sqlx::Error::Protocol(
        "unique job kept changing while enqueueing".into(),
    ))
}

/// Enqueues many jobs with one insert per call (plus one lane update per tenant).
/// Jobs whose unique key is taken are skipped. Returns the ids of the jobs created.
pub async fn enqueue_many(
    conn: &mut PgConnection,
    jobs: &[NewJob],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut lanes: Vec<(Uuid, i64)> = Vec::new();
    for job in jobs {
        let lane = job.tenant_id.unwrap_or(PLATFORM_LANE);
        match lanes.iter_mut().find(|(l, _)| *l == lane) {
            Some((_, n)) => *n += 1,
            None => lanes.push((lane, 1)),
        }
    }
    let mut next: Vec<(Uuid, i64)> = Vec::with_capacity(lanes.len());
    for (lane, count) in lanes {
        next.push((lane, reserve_lane(conn, lane, count).await?));
    }
    let mut seqs = Vec::with_capacity(jobs.len());
    for job in jobs {
        let lane = job.tenant_id.unwrap_or(PLATFORM_LANE);
        let slot = next
            .iter_mut()
            .find(|(l, _)| *l == lane)
            .expect("every lane was reserved");
        seqs.push(slot.1);
        slot.1 += 1;
    }
    sqlx::query_scalar(
        "insert into job (kind, tenant_id, resource_id, payload, priority, fair_seq, run_at, max_attempts, unique_key)
         select kind, tenant_id, resource_id, payload, priority, fair_seq, coalesce(run_at, now()), max_attempts, unique_key
         from unnest($1::text[], $2::uuid[], $3::uuid[], $4::jsonb[], $5::int2[], $6::int8[], $7::timestamptz[], $8::int4[], $9::text[])
              as t(kind, tenant_id, resource_id, payload, priority, fair_seq, run_at, max_attempts, unique_key)
         on conflict (unique_key) where unique_key is not null and state in ('queued', 'running') do nothing
         returning job_id",
    )
    .bind(jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.tenant_id).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.resource_id).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.payload.clone()).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.priority).collect::<Vec<_>>())
    .bind(seqs)
    .bind(jobs.iter().map(|j| j.run_at).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.max_attempts).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| j.unique_key.clone()).collect::<Vec<_>>())
    .fetch_all(&mut *conn)
    .await
}

/// A job a worker holds a lease on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedJob {
    pub job_id: i64,
    pub kind: String,
    pub tenant_id: Option<Uuid>,
    pub resource_id: Option<Uuid>,
    pub payload: Value,
    pub attempt: i32,
    pub max_attempts: i32,
    /// The fencing token: every later write about this run must present it.
    pub lease_token: i64,
    pub run_at: OffsetDateTime,
}

/// Claims up to `limit` due jobs in fair order, without waiting for rows other workers hold
/// (`job_claimable`, migration 009, picks and locks them along the claim index).
/// One fencing token serves the whole batch: a token is only ever matched with its job id.
pub async fn claim(
    db: impl PgExecutor<'_>,
    worker: &str,
    limit: i64,
    lease: Duration,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    sqlx::query_as(
        "with claimed as (
             update job j set state = 'running', attempt = j.attempt + 1,
                    lease_token = (select nextval('job_lease_token_seq')),
                    locked_by = $2, lease_expires_at = now() + $3 * interval '1 millisecond',
                    started_at = now(), finished_at = null
             where j.job_id = any(array(select job_claimable($1)))
             returning j.job_id, j.kind, j.tenant_id, j.resource_id, j.payload, j.attempt, j.max_attempts,
                       j.lease_token, j.run_at, j.priority, j.fair_seq
         )
         select job_id, kind, tenant_id, resource_id, payload, attempt, max_attempts, lease_token, run_at
         from claimed order by priority, fair_seq",
    )
    .bind(limit)
    .bind(worker)
    .bind(lease.as_millis() as f64)
    .fetch_all(db)
    .await
}

/// Extends the leases still held. Returns, for each job whose lease was extended, whether a
/// person asked to cancel it; jobs missing from the answer were rescued by someone else.
pub async fn heartbeat(
    db: impl PgExecutor<'_>,
    held: &[(i64, i64)],
    lease: Duration,
) -> Result<Vec<(i64, bool)>, sqlx::Error> {
    let (ids, tokens): (Vec<i64>, Vec<i64>) = held.iter().copied().unzip();
    sqlx::query_as(
        "update job j set lease_expires_at = now() + $3 * interval '1 millisecond'
         from unnest($1::int8[], $2::int8[]) as h(job_id, lease_token)
         where j.job_id = any($1) and j.job_id = h.job_id and j.lease_token = h.lease_token
         returning j.job_id, j.cancel_requested",
    )
    .bind(ids)
    .bind(tokens)
    .bind(lease.as_millis() as f64)
    .fetch_all(db)
    .await
}

/// Records state events for finished jobs and announces them. Used inside the finishing statements.
const NOTIFY_EVENTS: &str = "select pg_notify('stratus_job_events', ids) from (select string_agg(event_id::text, ',') as ids from ev) n where ids is not null";

/// Marks jobs succeeded (one statement for a whole batch). Returns the ids whose lease still
/// held; the others were rescued and their result is discarded. As with `queued` and
/// `running` (migration 007), only tenant jobs get a `succeeded` event: event topics are per
/// tenant, and the row already says that a platform job succeeded.
pub async fn complete(
    db: impl PgExecutor<'_>,
    done: &[(i64, i64)],
) -> Result<Vec<i64>, sqlx::Error> {
    let (ids, tokens): (Vec<i64>, Vec<i64>) = done.iter().copied().unzip();
    sqlx::query_scalar(&format!(
        "with finished as (
             update job j set state = 'succeeded', finished_at = now(), progress = 100,
                    lease_token = null, lease_expires_at = null, locked_by = null
             from unnest($1::int8[], $2::int8[]) as d(job_id, lease_token)
             where j.job_id = any($1) and j.job_id = d.job_id and j.lease_token = d.lease_token
             returning j.job_id, j.tenant_id
         ), ev as (
             insert into job_event (job_id, tenant_id, kind, percent, message)
             select job_id, tenant_id, 'state', 100, 'succeeded' from finished where tenant_id is not null
             returning event_id, job_id
         ), notified as ({NOTIFY_EVENTS})
         select job_id from finished, (select count(*) from notified) n"
    ))
    .bind(ids)
    .bind(tokens)
    .fetch_all(db)
    .await
}

/// What happened to a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Queued again, to run after the backoff.
    Retrying,
    /// No attempts left: the job failed for good.
    Failed,
    /// The lease was lost: someone else owns the job now.
    LeaseLost,
}

/// Records a failed attempt with the error verbatim; retries after `backoff` when attempts
/// remain and `retry` is true.
pub async fn fail(
    db: &PgPool,
    job_id: i64,
    token: i64,
    error: &str,
    retry: bool,
    backoff: Duration,
) -> Result<FailOutcome, sqlx::Error> {
    let row: Option<(JobState,)> = sqlx::query_as(&format!(
        "with failed as (
             update job set
                 state = case when cancel_requested then 'cancelled'::job_state
                              when $4 and attempt < max_attempts then 'queued'::job_state else 'failed'::job_state end,
                 run_at = now() + $5 * interval '1 millisecond',
                 finished_at = case when $4 and attempt < max_attempts and not cancel_requested then null else now() end,
                 last_error = $3, lease_token = null, lease_expires_at = null, locked_by = null
             where job_id = $1 and lease_token = $2
             returning job_id, tenant_id, state, attempt, max_attempts
         ), ev as (
             insert into job_event (job_id, tenant_id, kind, message)
             select job_id, tenant_id, 'state',
                    case when state = 'queued' then format('attempt %s of %s failed, retrying: %s', attempt, max_attempts, $3)
                         when state = 'cancelled' then format('cancelled (the attempt had failed: %s)', $3)
                         else format('failed after %s attempts: %s', attempt, $3) end
             from failed returning event_id
         ), notified as ({NOTIFY_EVENTS})
         select state from failed, (select count(*) from notified) n"
    ))
    .bind(job_id)
    .bind(token)
    .bind(error)
    .bind(retry)
    .bind(backoff.as_millis() as f64)
    .fetch_optional(db)
    .await?;
    Ok(match row {
        Some((JobState::Queued,)) => FailOutcome::Retrying,
        Some(_) => FailOutcome::Failed,
        None => FailOutcome::LeaseLost,
    })
}

/// Puts a running job back in the queue to run again after `after`, without counting the
/// attempt; a cancel requested meanwhile wins. False when the lease was lost.
pub async fn requeue(
    db: &PgPool,
    job_id: i64,
    token: i64,
    after: Duration,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "update job set
             state = case when cancel_requested then 'cancelled'::job_state else 'queued'::job_state end,
             finished_at = case when cancel_requested then now() end,
             attempt = case when cancel_requested then attempt else greatest(attempt - 1, 0) end,
             run_at = now() + $3 * interval '1 millisecond',
             lease_token = null, lease_expires_at = null, locked_by = null
         where job_id = $1 and lease_token = $2",
    )
    .bind(job_id)
    .bind(token)
    .bind(after.as_millis() as f64)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A running job stopped because a person cancelled it. False when the lease was lost.
pub async fn mark_cancelled(db: &PgPool, job_id: i64, token: i64) -> Result<bool, sqlx::Error> {
    let rows: Vec<(i64,)> = sqlx::query_as(&format!(
        "with stopped as (
             update job set state = 'cancelled', finished_at = now(), lease_token = null, lease_expires_at = null, locked_by = null
             where job_id = $1 and lease_token = $2
             returning job_id, tenant_id
         ), ev as (
             insert into job_event (job_id, tenant_id, kind, message)
             select job_id, tenant_id, 'state', 'cancelled' from stopped returning event_id
         ), notified as ({NOTIFY_EVENTS})
         select job_id from stopped, (select count(*) from notified) n"
    ))
    .bind(job_id)
    .bind(token)
    .fetch_all(db)
    .await?;
    Ok(!rows.is_empty())
}

/// Gives leases back at shutdown: the jobs are queued again, and the interrupted attempt does
/// not count against them.
pub async fn release(db: impl PgExecutor<'_>, held: &[(i64, i64)]) -> Result<u64, sqlx::Error> {
    let (ids, tokens): (Vec<i64>, Vec<i64>) = held.iter().copied().unzip();
    Ok(sqlx::query(
        "update job j set state = case when j.cancel_requested then 'cancelled'::job_state else 'queued'::job_state end,
                attempt = greatest(j.attempt - 1, 0), run_at = now(),
                finished_at = case when j.cancel_requested then now() end,
                lease_token = null, lease_expires_at = null, locked_by = null
         from unnest($1::int8[], $2::int8[]) as h(job_id, lease_token)
         where j.job_id = any($1) and j.job_id = h.job_id and j.lease_token = h.lease_token",
    )
    .bind(ids)
    .bind(tokens)
    .execute(db)
    .await?
    .rows_affected())
}

/// How often a job may be taken back from a dead worker before it is taken to be what kills
/// its workers (a poison job) and fails.
pub const MAX_RESCUES: i32 = 10;

/// Rescues jobs whose worker stopped renewing its lease: queued again, or cancelled when that
/// was asked. The attempt is given back (a worker's crash or restart is not the job's failure)
/// and counted as a rescue; after [`MAX_RESCUES`] the job fails. Any live worker may run this.
pub async fn rescue_expired(db: impl PgExecutor<'_>) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query_scalar(&format!(
        "with rescued as (
             update job set
                 state = case when cancel_requested then 'cancelled'::job_state
                              when rescues + 1 >= {MAX_RESCUES} then 'failed'::job_state
                              else 'queued'::job_state end,
                 finished_at = case when cancel_requested or rescues + 1 >= {MAX_RESCUES} then now() end,
                 attempt = greatest(attempt - 1, 0), rescues = rescues + 1,
                 last_error = format('worker %s stopped renewing its lease', locked_by),
                 run_at = now(), lease_token = null, lease_expires_at = null, locked_by = null
             where state = 'running' and lease_expires_at < now()
             returning job_id, tenant_id, state, last_error
         ), ev as (
             insert into job_event (job_id, tenant_id, kind, message)
             select job_id, tenant_id, 'state', format('%s (job %s)', last_error, state) from rescued returning event_id
         ), notified as ({NOTIFY_EVENTS})
         select job_id from rescued, (select count(*) from notified) n"
    ))
    .fetch_all(db)
    .await
}

/// Deletes finished jobs (and their events) older than `retention`, in bounded batches, and the
/// overview's instance samples older than that.
pub async fn prune(db: &PgPool, retention: Duration) -> Result<u64, sqlx::Error> {
    let mut total = 0;
    loop {
        let deleted = sqlx::query(
            "delete from job where job_id in (
                 select job_id from job
                 where state in ('succeeded', 'failed', 'cancelled') and finished_at < now() - $1 * interval '1 millisecond'
                 limit 5000)",
        )
        .bind(retention.as_millis() as f64)
        .execute(db)
        .await?
        .rows_affected();
        total += deleted;
        if deleted < 5000 {
            // The overview's instance samples are kept as long as the jobs.
            sqlx::query(
                "delete from instance_sample where hour < now() - $1 * interval '1 millisecond'",
            )
            .bind(retention.as_millis() as f64)
            .execute(db)
            .await?;
            return Ok(total);
        }
    }
}

/// Appends a progress or log event for a running job, as long as the lease holds.
/// Returns whether cancellation was requested; `None` when the lease was lost.
pub async fn record_event(
    db: &PgPool,
    job_id: i64,
    token: i64,
    kind: super::kinds::EventKind,
    percent: Option<i16>,
    message: &str,
) -> Result<Option<bool>, sqlx::Error> {
    sqlx::query_scalar(
        "with held as (
             update job set progress = coalesce($4, progress),
                            progress_message = case when $3 = 'progress' then $5 else progress_message end
             where job_id = $1 and lease_token = $2
             returning job_id, tenant_id, cancel_requested
         ), ev as (
             insert into job_event (job_id, tenant_id, kind, percent, message)
             select job_id, tenant_id, $3, $4, $5 from held returning event_id
         )
         select held.cancel_requested from held, ev, lateral (select pg_notify('stratus_job_events', ev.event_id::text)) n",
    )
    .bind(job_id)
    .bind(token)
    .bind(kind.as_str())
    .bind(percent)
    .bind(message)
    .fetch_optional(db)
    .await
}

/// The job a person acted on: its tenant and kind, for the audit log.
pub struct Touched {
    pub tenant_id: Option<Uuid>,
    pub kind: String,
}

/// A person cancels a job: a queued one at once, a running one at its next heartbeat or
/// progress call. Returns the job's state afterwards.
pub async fn cancel(
    db: &PgPool,
    job_id: i64,
    tenant_id: Option<Uuid>,
    by: &str,
) -> Result<JobState, AppError> {
    let mut tx = db.begin().await?;
    let (state, _) = cancel_in(&mut tx, job_id, tenant_id, by).await?;
    tx.commit().await?;
    Ok(state)
}

/// [`cancel`] inside the caller's transaction (which records it in the audit log).
pub async fn cancel_in(
    tx: &mut PgConnection,
    job_id: i64,
    tenant_id: Option<Uuid>,
    by: &str,
) -> Result<(JobState, Touched), AppError> {
    let (state, job_tenant, kind): (JobState, Option<Uuid>, String) =
        sqlx::query_as("select state, tenant_id, kind from job where job_id = $1 and ($2::uuid is null or tenant_id = $2) for update")
            .bind(job_id)
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
    let (new_state, message) = match state {
        JobState::Queued => {
            sqlx::query(
                "update job set state = 'cancelled', finished_at = now() where job_id = $1",
            )
            .bind(job_id)
            .execute(&mut *tx)
            .await?;
            (JobState::Cancelled, format!("cancelled by {by}"))
        }
        JobState::Running => {
            sqlx::query("update job set cancel_requested = true where job_id = $1")
                .bind(job_id)
                .execute(&mut *tx)
                .await?;
            (JobState::Running, format!("cancellation requested by {by}"))
        }
        finished => {
            return Err(AppError::Conflict {
                field: None,
                message: format!("This job has already {}.", finished.as_str()),
            })
        }
    };
    append_event(
        tx,
        job_id,
        job_tenant,
        super::kinds::EventKind::State,
        &message,
    )
    .await?;
    Ok((
        new_state,
        Touched {
            tenant_id: job_tenant,
            kind,
        },
    ))
}

/// A person retries a failed or cancelled job: it is queued again with fresh attempts.
pub async fn retry(
    db: &PgPool,
    job_id: i64,
    tenant_id: Option<Uuid>,
    by: &str,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    retry_in(&mut tx, job_id, tenant_id, by).await?;
    tx.commit().await?;
    Ok(())
}

/// [`retry`] inside the caller's transaction (which records it in the audit log).
pub async fn retry_in(
    tx: &mut PgConnection,
    job_id: i64,
    tenant_id: Option<Uuid>,
    by: &str,
) -> Result<Touched, AppError> {
    let (state, job_tenant, kind): (JobState, Option<Uuid>, String) =
        sqlx::query_as("select state, tenant_id, kind from job where job_id = $1 and ($2::uuid is null or tenant_id = $2) for update")
            .bind(job_id)
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
    if !matches!(state, JobState::Failed | JobState::Cancelled) {
        return Err(AppError::Conflict {
            field: None,
            message: format!(
                "Only failed or cancelled jobs can be retried; this one is {}.",
                state.as_str()
            ),
        });
    }
    let seq = reserve_lane(&mut *tx, job_tenant.unwrap_or(PLATFORM_LANE), 1).await?;
    sqlx::query(
        "update job set state = 'queued', attempt = 0, rescues = 0, run_at = now(), fair_seq = $2, finished_at = null,
                cancel_requested = false, progress = 0, progress_message = null
         where job_id = $1",
    )
    .bind(job_id)
    .bind(seq)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        if crate::backend::violates(&e, "job_unique_key") {
            AppError::Conflict { field: None, message: "Another job for the same thing is already queued or running.".into() }
        } else {
            e.into()
        }
    })?;
    append_event(
        &mut *tx,
        job_id,
        job_tenant,
        super::kinds::EventKind::State,
        &format!("retried by {by}"),
    )
    .await?;
    // Wake the workers: this is an update, which the insert trigger does not see.
    sqlx::query("select pg_notify('stratus_jobs', '')")
        .execute(&mut *tx)
        .await?;
    Ok(Touched {
        tenant_id: job_tenant,
        kind,
    })
}

async fn append_event(
    conn: &mut PgConnection,
    job_id: i64,
    tenant_id: Option<Uuid>,
    kind: super::kinds::EventKind,
    message: &str,
) -> Result<i64, sqlx::Error> {
    let event_id: i64 = sqlx::query_scalar(
        "insert into job_event (job_id, tenant_id, kind, message) values ($1, $2, $3, $4) returning event_id",
    )
    .bind(job_id)
    .bind(tenant_id)
    .bind(kind.as_str())
    .bind(message)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("select pg_notify('stratus_job_events', $1)")
        .bind(event_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(event_id)
}
