//! The tenant's jobs.

use super::*;

#[cfg(feature = "ssr")]
use crate::backend::jobs;

#[server(prefix = "/rpc", endpoint = "get_jobs", output = super::codec::StrJson)]
pub async fn get_jobs() -> Result<Vec<JobSummary>, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            jobs::list_tenant_jobs(&db, &actor, tenant_id, 100).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_job", output = super::codec::StrJson)]
pub async fn get_job(job_id: i64) -> Result<JobDetail, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            jobs::tenant_job(&db, &actor, tenant_id, job_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "cancel_job", output = super::codec::StrJson)]
pub async fn cancel_job(job_id: i64) -> Result<JobState, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            jobs::cancel_tenant_job(&db, &actor, tenant_id, job_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "retry_job", output = super::codec::StrJson)]
pub async fn retry_job(job_id: i64) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            jobs::retry_tenant_job(&db, &actor, tenant_id, job_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin_queue", output = super::codec::StrJson)]
pub async fn admin_queue() -> Result<QueueOverview, AppError> {
    respond(async { jobs::queue_overview(&db()?, &actor().await?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_cancel_job", output = super::codec::StrJson)]
pub async fn admin_cancel_job(job_id: i64) -> Result<JobState, AppError> {
    respond(async { jobs::admin_cancel_job(&db()?, &actor().await?, job_id).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_retry_job", output = super::codec::StrJson)]
pub async fn admin_retry_job(job_id: i64) -> Result<(), AppError> {
    respond(async { jobs::admin_retry_job(&db()?, &actor().await?, job_id).await }.await)
}

// ----- Re-authentication, secrets, cloud accounts -------------------------------------------------
