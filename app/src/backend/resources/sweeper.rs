//! The orphan sweeper (PROVISIONING.md §2.8): per cloud account, lists what carries this
//! installation's tag and the account's tenant, and deletes what no `provider_object` row
//! tracks once it is older than the grace period (a create in flight has its intent row, so it
//! is tracked from before the call). Each deletion is audited. The backstop against leaks.

use super::{installation_id, Engine};
use crate::backend::audit::{self, By};
use crate::backend::cloud::providers::network::{
    ObjectKind, TAG_CREATED_AT, TAG_TENANT, TAG_TOKEN,
};
use crate::backend::cloud::providers::{self};
use crate::backend::jobs::kinds::{self, CloudAccountPayload, JobKind};
use crate::backend::jobs::worker::{JobContext, JobError};
use crate::backend::jobs::{enqueue, NewJob};
use crate::model::AuditAction;
use sqlx::PgPool;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

/// Most objects one sweep reads from an endpoint.
const MAX_OBJECTS: usize = 2000;

/// Enqueues a sweep of one cloud account (coalesces with a live one).
pub async fn schedule(
    db: &PgPool,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
) -> Result<i64, sqlx::Error> {
    let mut conn = db.acquire().await?;
    let job = enqueue(
        &mut conn,
        NewJob::new(JobKind::SweepOrphans)
            .tenant(tenant_id)
            .resource(cloud_account_id)
            .payload(serde_json::json!(CloudAccountPayload { cloud_account_id }))
            .max_attempts(3)
            .unique_key(format!("sweep:{cloud_account_id}")),
    )
    .await?;
    Ok(job.job_id)
}

/// Enqueues a sweep of every cloud account that has ever had resources.
pub async fn schedule_all(db: &PgPool) -> Result<usize, sqlx::Error> {
    let accounts: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "select distinct c.tenant_id, c.cloud_account_id from cloud_account c
         where exists (select 1 from resource r where r.cloud_account_id = c.cloud_account_id)",
    )
    .fetch_all(db)
    .await?;
    for (tenant_id, account_id) in &accounts {
        schedule(db, *tenant_id, *account_id).await?;
    }
    Ok(accounts.len())
}

pub(super) async fn run(ctx: JobContext, engine: Engine) -> Result<(), JobError> {
    let payload: CloudAccountPayload = kinds::payload(&ctx.job.payload).map_err(JobError::Fatal)?;
    let tenant_id = ctx
        .job
        .tenant_id
        .ok_or_else(|| JobError::Fatal("a sweep belongs to a tenant".into()))?;
    let account = match providers::open(
        &ctx.db,
        &engine.keyring,
        &engine.endpoints,
        tenant_id,
        payload.cloud_account_id,
    )
    .await
    {
        Ok(account) => account,
        // Deleted since: nothing to sweep.
        Err(crate::error::AppError::NotFound) => return Ok(()),
        Err(e) => return Err(JobError::Fatal(e.to_string())),
    };
    let installation = installation_id(&ctx.db).await.map_err(JobError::failed)?;
    let networks = account.networks();
    let databases = account.databases();
    // Database objects first: an instance holds its subnet group and security group.
    let mut owned = databases
        .list_owned(installation, MAX_OBJECTS)
        .await
        .map_err(|e| JobError::Failed(e.message))?;
    owned.extend(
        networks
            .list_owned(installation, MAX_OBJECTS.saturating_sub(owned.len()))
            .await
            .map_err(|e| JobError::Failed(e.message))?,
    );
    let tenant = tenant_id.to_string();
    let now = OffsetDateTime::now_utc();
    let mut swept = 0;
    for object in owned
        .iter()
        .filter(|o| o.tags.get(TAG_TENANT) == Some(&tenant))
    {
        let token = object.tags.get(TAG_TOKEN).cloned().unwrap_or_default();
        let tracked: bool = sqlx::query_scalar(
            "select exists (select 1 from provider_object where provider_id = $1 or token = $2)",
        )
        .bind(&object.id)
        .bind(&token)
        .fetch_one(&ctx.db)
        .await
        .map_err(JobError::failed)?;
        if tracked {
            continue;
        }
        let created = object
            .tags
            .get(TAG_CREATED_AT)
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok());
        let old_enough = created.is_none_or(|c| now - c >= engine.settings.sweep_grace);
        if !old_enough {
            ctx.log(format!(
                "{} {} is untracked but recent: left for a later sweep",
                object.kind.label(),
                object.id
            ))
            .await?;
            continue;
        }
        let deleted = match object.kind {
            ObjectKind::DbInstance | ObjectKind::DbSubnetGroup => {
                databases.delete(object.kind, &object.id).await
            }
            _ => networks.delete(object.kind, &object.id).await,
        };
        match deleted {
            Ok(()) => {
                swept += 1;
                ctx.log(format!(
                    "deleted orphaned {} {}",
                    object.kind.label(),
                    object.id
                ))
                .await?;
                let mut conn = ctx.db.acquire().await.map_err(JobError::failed)?;
                audit::record_with(
                    &mut conn,
                    By::SYSTEM,
                    Some(tenant_id),
                    AuditAction::CloudObjectSwept,
                    &object.id,
                    serde_json::json!({
                        "cloud_account_id": payload.cloud_account_id,
                        "object": object.kind.label(),
                        "token": token,
                    }),
                )
                .await
                .map_err(JobError::failed)?;
            }
            // A VPC whose subnets are not gone yet, say: the next sweep tries again.
            Err(e) => {
                ctx.log(format!(
                    "could not delete orphaned {} {}: {}",
                    object.kind.label(),
                    object.id,
                    e.message
                ))
                .await?
            }
        }
    }
    ctx.progress(
        100,
        format!(
            "{} objects of this installation checked, {swept} orphans deleted",
            owned.len()
        ),
    )
    .await?;
    Ok(())
}
