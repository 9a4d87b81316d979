//! The durable job queue in PostgreSQL (no broker).
//!
//! - [`queue`]: enqueue, claim, heartbeat, complete, fail, rescue, prune — the SQL, with fencing.
//! - [`worker`]: the runtime that claims jobs in batches and runs registered handlers.
//! - This module: what people do with jobs (list, inspect, retry, cancel), authorized.

pub mod kinds;
pub mod queue;
pub mod worker;

pub use kinds::JobKind;

pub use queue::{enqueue, enqueue_many, Enqueued, NewJob};

use crate::backend::audit;
use crate::backend::identity::actor::Actor;
use crate::error::AppError;
use crate::model::{
    AuditAction, JobCount, JobDetail, JobEventView, JobState, JobSummary, QueueOverview,
};
use crate::rbac::{authorize, authorize_platform, Action, PlatformAction};
use sqlx::PgPool;
use uuid::Uuid;

pub(crate) const SUMMARY_COLUMNS: &str =
    "job_id, kind, tenant_id, state, attempt, max_attempts, progress, progress_message,
     last_error, cancel_requested, run_at, created_at, started_at, finished_at";

pub async fn list_tenant_jobs(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    limit: i64,
) -> Result<Vec<JobSummary>, AppError> {
    list_tenant_jobs_page(db, actor, tenant_id, None, limit.clamp(1, 500)).await
}

/// The tenant's jobs, newest first, older than `before_job_id`: keyset pagination in SQL.
pub async fn list_tenant_jobs_page(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    before_job_id: Option<i64>,
    limit: i64,
) -> Result<Vec<JobSummary>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewJobs).await?;
    Ok(sqlx::query_as(&format!(
        "select {SUMMARY_COLUMNS} from job where tenant_id = $1 and ($2::bigint is null or job_id < $2)
         order by job_id desc limit $3"
    ))
    .bind(tenant_id)
    .bind(before_job_id)
    .bind(limit.clamp(1, 501))
    .fetch_all(db)
    .await?)
}

/// A tenant job's events in order, after `after_event_id`; another tenant's job is 404.
pub async fn tenant_job_events(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    job_id: i64,
    after_event_id: Option<i64>,
    limit: i64,
) -> Result<Vec<JobEventView>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewJobs).await?;
    let exists: Option<i64> =
        sqlx::query_scalar("select job_id from job where job_id = $1 and tenant_id = $2")
            .bind(job_id)
            .bind(tenant_id)
            .fetch_optional(db)
            .await?;
    exists.ok_or(AppError::NotFound)?;
    Ok(sqlx::query_as(
        "select event_id, job_id, kind, percent, message, created_at from job_event
         where job_id = $1 and ($2::bigint is null or event_id > $2) order by event_id limit $3",
    )
    .bind(job_id)
    .bind(after_event_id)
    .bind(limit.clamp(1, 501))
    .fetch_all(db)
    .await?)
}

async fn detail(db: &PgPool, job_id: i64, tenant_id: Option<Uuid>) -> Result<JobDetail, AppError> {
    let job: JobSummary = sqlx::query_as(&format!(
        "select {SUMMARY_COLUMNS} from job where job_id = $1 and ($2::uuid is null or tenant_id = $2)"
    ))
    .bind(job_id)
    .bind(tenant_id)
    .fetch_one(db)
    .await?;
    let events: Vec<JobEventView> = sqlx::query_as(
        "select event_id, job_id, kind, percent, message, created_at from job_event where job_id = $1 order by event_id",
    )
    .bind(job_id)
    .fetch_all(db)
    .await?;
    Ok(JobDetail { job, events })
}

/// A job of the tenant with its events; another tenant's job is 404.
pub async fn tenant_job(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    job_id: i64,
) -> Result<JobDetail, AppError> {
    authorize(db, actor, tenant_id, Action::ViewJobs).await?;
    detail(db, job_id, Some(tenant_id)).await
}

pub async fn cancel_tenant_job(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    job_id: i64,
) -> Result<JobState, AppError> {
    authorize(db, actor, tenant_id, Action::ManageJobs).await?;
    cancel_audited(db, actor, job_id, Some(tenant_id)).await
}

pub async fn retry_tenant_job(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    job_id: i64,
) -> Result<(), AppError> {
    authorize(db, actor, tenant_id, Action::ManageJobs).await?;
    retry_audited(db, actor, job_id, Some(tenant_id)).await
}

/// Cancels and records it, in one transaction. The event goes to the job's tenant, so its
/// admins also see what a platform admin did to their jobs.
async fn cancel_audited(
    db: &PgPool,
    actor: &Actor,
    job_id: i64,
    tenant_id: Option<Uuid>,
) -> Result<JobState, AppError> {
    let mut tx = db.begin().await?;
    let (state, job) = queue::cancel_in(&mut tx, job_id, tenant_id, &actor.email).await?;
    audit::commit_with(
        tx,
        actor.into(),
        job.tenant_id,
        AuditAction::JobCancelled,
        &format!("job #{job_id}"),
        serde_json::json!({ "job_id": job_id, "kind": job.kind, "state": state }),
    )
    .await?;
    Ok(state)
}

async fn retry_audited(
    db: &PgPool,
    actor: &Actor,
    job_id: i64,
    tenant_id: Option<Uuid>,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let job = queue::retry_in(&mut tx, job_id, tenant_id, &actor.email).await?;
    audit::commit_with(
        tx,
        actor.into(),
        job.tenant_id,
        AuditAction::JobRetried,
        &format!("job #{job_id}"),
        serde_json::json!({ "job_id": job_id, "kind": job.kind }),
    )
    .await?;
    Ok(())
}

// ----- Admin console ----------------------------------------------------------------------------

pub async fn queue_overview(db: &PgPool, actor: &Actor) -> Result<QueueOverview, AppError> {
    authorize_platform(actor, PlatformAction::ManageQueue)?;
    let counts: Vec<JobCount> = sqlx::query_as(
        "select kind, state, count(*) as count from job group by kind, state order by kind, state",
    )
    .fetch_all(db)
    .await?;
    let oldest_waiting_seconds: Option<f64> = sqlx::query_scalar(
        "select extract(epoch from now() - min(run_at))::float8 from job where state = 'queued' and run_at <= now()",
    )
    .fetch_one(db)
    .await?;
    let recent_failures: Vec<JobSummary> = sqlx::query_as(&format!(
        "select {SUMMARY_COLUMNS} from job where state = 'failed' order by finished_at desc nulls last limit 20"
    ))
    .fetch_all(db)
    .await?;
    Ok(QueueOverview {
        counts,
        oldest_waiting_seconds,
        recent_failures,
    })
}

pub async fn admin_job(db: &PgPool, actor: &Actor, job_id: i64) -> Result<JobDetail, AppError> {
    authorize_platform(actor, PlatformAction::ManageQueue)?;
    detail(db, job_id, None).await
}

pub async fn admin_cancel_job(
    db: &PgPool,
    actor: &Actor,
    job_id: i64,
) -> Result<JobState, AppError> {
    authorize_platform(actor, PlatformAction::ManageQueue)?;
    cancel_audited(db, actor, job_id, None).await
}

pub async fn admin_retry_job(db: &PgPool, actor: &Actor, job_id: i64) -> Result<(), AppError> {
    authorize_platform(actor, PlatformAction::ManageQueue)?;
    retry_audited(db, actor, job_id, None).await
}
