//! The resource engine shared by zones, instance groups and databases (PROVISIONING.md §1–2).
//!
//! - One write path per kind (`zones::create`, ...): authorize, validate, plan, then in one
//!   transaction write the spec, reserve quota (the tenant row is locked, so two creates racing
//!   for the last unit get one success), audit, and enqueue `reconcile:<resource id>`. The same
//!   path with `dry_run` rolls back and returns only the plan.
//! - One reconcile job kind for every resource: it loads the row and hands it to the kind's
//!   reconciler, which observes the provider by tag, acts in bounded steps, and writes status
//!   through the job's lease token ([`Fence`]), so a rescued job's old worker changes nothing.
//! - [`cloud_objects`]: write-ahead intent rows for every object Stratus creates.
//! - [`resync`]: a periodic scan that re-enqueues every live resource, so drift is found without
//!   any event; [`sweeper`]: per cloud account, deletes tagged objects nothing tracks.

pub mod cloud_objects;
mod database_reconciler;
pub mod databases;
pub mod groups;
pub mod prices;
pub mod sweeper;
mod zone_reconciler;
pub mod zones;

use crate::backend::jobs::kinds::{self, JobKind, ReconcilePayload};
use crate::backend::jobs::worker::{JobContext, JobError, Registry};
use crate::backend::jobs::{enqueue, NewJob};
use crate::backend::secrets::Keyring;
use crate::error::AppError;
use crate::model::resources::{Condition, ConditionStatus, ResourceKind, ResourceStatus};
use crate::model::Quotas;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// How the engine's background work is paced (from `STRATUS_*` settings).
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Every live resource is reconciled at least this often (drift, out-of-band changes).
    pub resync_interval: Duration,
    /// Instance groups are reconciled at least this often: an instance terminated behind
    /// Stratus's back is replaced within it.
    pub group_resync_interval: Duration,
    /// How often each cloud account is swept for orphans.
    pub sweep_interval: Duration,
    /// An untracked object younger than this is left alone (it may be a create in flight).
    pub sweep_grace: Duration,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            resync_interval: Duration::from_secs(60),
            group_resync_interval: Duration::from_secs(10),
            sweep_interval: Duration::from_secs(600),
            sweep_grace: Duration::from_secs(900),
        }
    }
}

/// What every reconciler needs besides its job.
#[derive(Clone)]
pub struct Engine {
    pub keyring: Arc<Keyring>,
    /// Where cloud accounts may connect (`cloud::endpoints`).
    pub endpoints: Arc<crate::backend::cloud::endpoints::EndpointPolicy>,
    pub settings: EngineSettings,
}

/// This database's installation id (migration: generated once), the value of every
/// `stratus:installation` tag.
pub async fn installation_id(db: &PgPool) -> Result<Uuid, sqlx::Error> {
    sqlx::query_scalar("select installation_id from installation")
        .fetch_one(db)
        .await
}

/// Registers the reconcile and sweep handlers.
pub fn register(registry: &mut Registry, engine: Engine) {
    let reconcile_engine = engine.clone();
    registry.register(JobKind::Reconcile.as_str(), move |ctx| {
        let engine = reconcile_engine.clone();
        async move { reconcile(ctx, engine).await }
    });
    registry.register(JobKind::SweepOrphans.as_str(), move |ctx| {
        let engine = engine.clone();
        async move { sweeper::run(ctx, engine).await }
    });
}

async fn reconcile(ctx: JobContext, engine: Engine) -> Result<(), JobError> {
    let payload: ReconcilePayload = kinds::payload(&ctx.job.payload).map_err(JobError::Fatal)?;
    let kind: Option<(ResourceKind, ResourceStatus)> =
        sqlx::query_as("select kind, status from resource where resource_id = $1")
            .bind(payload.resource_id)
            .fetch_optional(&ctx.db)
            .await
            .map_err(JobError::failed)?;
    match kind {
        // Gone, or tombstoned: nothing left to do.
        None | Some((_, ResourceStatus::Deleted)) => Ok(()),
        Some((ResourceKind::Zone, _)) => {
            zone_reconciler::run(&ctx, &engine, payload.resource_id).await
        }
        Some((ResourceKind::InstanceGroup, _)) => {
            groups::reconciler::run(&ctx, &engine, payload.resource_id).await
        }
        Some((ResourceKind::Database, _)) => {
            database_reconciler::run(&ctx, &engine, payload.resource_id).await
        }
    }
}

/// Marks the resource for deletion in the caller's transaction (a repeated request keeps the
/// first one's time); its reconcile job does the work, finalizer-style.
pub async fn request_deletion(
    conn: &mut PgConnection,
    resource_id: Uuid,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update resource set deletion_requested_at = coalesce(deletion_requested_at, now()), status = 'deleting'
         where resource_id = $1",
    )
    .bind(resource_id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Enqueues the resource's reconcile in the caller's transaction; coalesces with a live one.
pub async fn enqueue_reconcile(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    resource_id: Uuid,
) -> Result<i64, sqlx::Error> {
    let job = enqueue(
        conn,
        NewJob::new(JobKind::Reconcile)
            .tenant(tenant_id)
            .resource(resource_id)
            .payload(serde_json::json!(ReconcilePayload { resource_id }))
            .max_attempts(8)
            .unique_key(kinds::reconcile_key(resource_id)),
    )
    .await?;
    if !job.created {
        // A change, or a resync, runs a reconcile that is waiting out a requeue delay now.
        sqlx::query(
            "update job set run_at = now() where job_id = $1 and state = 'queued' and run_at > now()",
        )
        .bind(job.job_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(job.job_id)
}

/// Locks the tenant's row for a quota reservation and returns its quotas: a tenant's creates
/// and changes queue here, so the last unit of quota goes to exactly one of them.
///
/// `for no key update`, not `for update`: it queues this tenant's writers all the same, but
/// lets through the key-share lock that inserting a job takes for its foreign key to the
/// tenant. With `for update`, a write path holding this lock and waiting for the tenant's job
/// lane deadlocked with an enqueue (the resync's) holding that lane and inserting its job.
pub(crate) async fn lock_quotas(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> Result<Quotas, sqlx::Error> {
    let (max_zones, max_instances, max_vcpus, max_databases) = sqlx::query_as(
        "select max_zones, max_instances, max_vcpus, max_databases from tenant
         where tenant_id = $1 for no key update",
    )
    .bind(tenant_id)
    .fetch_one(conn)
    .await?;
    Ok(Quotas {
        max_zones,
        max_instances,
        max_vcpus,
        max_databases,
    })
}

/// Enqueues a reconcile for every live resource not reconciled within the resync interval,
/// and a sweep for every cloud account with resources when its interval is due. Safe to run
/// from any number of processes: unique keys coalesce.
pub async fn resync(db: &PgPool, settings: &EngineSettings) -> Result<usize, sqlx::Error> {
    let due: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select resource_id, tenant_id from resource
         where status not in ('deleted', 'failed')
           and (reconciled_at is null or reconciled_at < now() - interval '1 millisecond'
                * case when kind = 'instance_group' then $2 else $1 end)
         order by reconciled_at nulls first limit 500",
    )
    .bind(settings.resync_interval.as_millis() as f64)
    .bind(settings.group_resync_interval.as_millis() as f64)
    .fetch_all(db)
    .await?;
    let mut conn = db.acquire().await?;
    for (resource_id, tenant_id) in &due {
        enqueue_reconcile(&mut conn, *tenant_id, *resource_id).await?;
    }
    Ok(due.len())
}

/// Runs [`resync`] every `interval` until `stop` fires; a failed round is logged and retried.
pub async fn run_resync_loop(
    db: PgPool,
    settings: EngineSettings,
    stop: tokio_util::sync::CancellationToken,
) {
    // A tick of an eighth of the shorter interval: drift is found at most that long after the
    // interval has passed.
    let interval = (settings.resync_interval.min(settings.group_resync_interval) / 8)
        .clamp(Duration::from_millis(100), Duration::from_secs(15));
    let mut last_sweep: Option<tokio::time::Instant> = None;
    loop {
        if let Err(error) = resync(&db, &settings).await {
            tracing::warn!(%error, "resource resync failed; will try again");
        }
        if last_sweep.is_none_or(|t| t.elapsed() >= settings.sweep_interval) {
            match sweeper::schedule_all(&db).await {
                Ok(_) => last_sweep = Some(tokio::time::Instant::now()),
                Err(error) => tracing::warn!(%error, "scheduling orphan sweeps failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.cancelled() => return,
        }
    }
}

/// The lease a reconcile run holds: every status write names it, so once another worker has
/// taken the job over, this run's writes match no row ([`JobError::LeaseLost`]).
#[derive(Debug, Clone, Copy)]
pub struct Fence {
    pub job_id: i64,
    pub lease_token: i64,
}

impl Fence {
    pub fn of(ctx: &JobContext) -> Fence {
        Fence {
            job_id: ctx.job.job_id,
            lease_token: ctx.job.lease_token,
        }
    }

    /// The SQL condition (with `$1`/`$2` as job id and token) that holds while the lease does.
    pub const HOLDS: &'static str =
        "exists (select 1 from job where job_id = $1 and lease_token = $2)";
}

/// A resource's status as a reconciler writes it.
#[derive(Debug, Clone)]
pub struct StatusWrite {
    pub status: ResourceStatus,
    pub observed_generation: Option<i64>,
    pub conditions: Vec<Condition>,
    pub last_error: Option<String>,
    /// Merged into `outputs`.
    pub outputs: serde_json::Value,
    pub reconciled: bool,
}

/// Writes status through the fence. `LeaseLost` when the lease is gone.
pub async fn write_status(
    conn: &mut PgConnection,
    fence: Fence,
    resource_id: Uuid,
    write: &StatusWrite,
) -> Result<(), JobError> {
    let done = sqlx::query(&format!(
        "update resource set status = $4, observed_generation = coalesce($5, observed_generation),
             conditions = $6, last_error = $7, outputs = outputs || $8,
             reconciled_at = case when $9 then now() else reconciled_at end
         where resource_id = $3 and {}",
        Fence::HOLDS
    ))
    .bind(fence.job_id)
    .bind(fence.lease_token)
    .bind(resource_id)
    .bind(write.status)
    .bind(write.observed_generation)
    .bind(sqlx::types::Json(&write.conditions))
    .bind(&write.last_error)
    .bind(&write.outputs)
    .bind(write.reconciled)
    .execute(conn)
    .await
    .map_err(JobError::failed)?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(JobError::LeaseLost)
    }
}

/// Sets a condition, keeping its transition time when its status did not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: impl Into<String>,
    generation: i64,
) {
    let now = OffsetDateTime::now_utc();
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_at = now;
            }
            c.status = status;
            c.reason = reason.into();
            c.message = message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.into(),
            status,
            reason: reason.into(),
            message,
            last_transition_at: now,
            observed_generation: generation,
        }),
    }
}

/// A plan's fingerprint: SHA-256 over what the plan depends on, so an apply made with a
/// stale plan is refused.
pub fn fingerprint(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0u8]);
    }
    hex::encode(&hash.finalize()[..16])
}

/// Options of every write: `dry_run` returns the plan and writes nothing; `fingerprint` (from
/// an earlier plan) makes the apply conditional on nothing having changed since.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub fingerprint: Option<String>,
}

impl WriteOptions {
    pub fn check(&self, plan: &crate::model::resources::Plan) -> Result<(), AppError> {
        match &self.fingerprint {
            Some(expected) if !self.dry_run && *expected != plan.fingerprint => {
                Err(AppError::PreconditionFailed(
                    "The resource changed since this plan was made: review the new plan and apply again."
                        .into(),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Test and chaos hooks: `STRATUS_FAILPOINTS=name,...` makes the process stop at a named point
/// (it sleeps there, so a test can kill it at exactly that moment). Costs one lookup when unset.
pub async fn failpoint(name: &str) {
    static POINTS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let points = POINTS.get_or_init(|| {
        std::env::var("STRATUS_FAILPOINTS")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    });
    if points.iter().any(|p| p == name) {
        tracing::warn!(failpoint = name, "stopping at a failpoint");
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
