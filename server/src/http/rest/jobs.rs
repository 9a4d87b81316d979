//! The tenant's jobs over the API: list, read, follow the events, cancel, retry.

use super::extract::{ApiError, ApiResult, Caller, Json, Path, Query};
use super::page::{Page, PageQuery};
use super::problems::Problems;
use crate::startup::AppState;
use app::backend::jobs;
use app::error::AppError;
use app::model::{JobDetail, JobEventView, JobState, JobSummary};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// A cursor of these lists is a job or event id.
fn id_cursor(after: Option<String>) -> Result<Option<i64>, ApiError> {
    after
        .map(|c| {
            c.parse::<i64>().map_err(|_| {
                AppError::invalid("cursor", "This cursor is not one we issued.").into()
            })
        })
        .transpose()
}

#[derive(Serialize, ToSchema)]
pub struct Cancelled {
    /// `cancelled` when it had not started; `running` when it was asked to stop and will.
    pub state: JobState,
}

/// The tenant's jobs, newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/jobs", tag = "jobs", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of jobs", body = Page<JobSummary>), Problems))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<JobSummary>>> {
    let (after, limit) = page.keyset()?;
    let before = id_cursor(after)?;
    let items =
        jobs::list_tenant_jobs_page(&state.db, &actor, tenant_id, before, limit as i64 + 1).await?;
    Ok(Json(
        page.page_of_keyset(items, limit, |j| j.job_id.to_string()),
    ))
}

/// One job with its events.
#[utoipa::path(get, path = "/tenants/{tenant_id}/jobs/{job_id}", tag = "jobs", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("job_id" = i64, Path)),
    responses((status = 200, description = "The job", body = JobDetail), Problems))]
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, job_id)): Path<(Uuid, i64)>,
) -> ApiResult<Json<JobDetail>> {
    Ok(Json(
        jobs::tenant_job(&state.db, &actor, tenant_id, job_id).await?,
    ))
}

/// A job's events (progress, log lines, attempts) in order; poll with the last `next_cursor`
/// or follow them live on the event stream.
#[utoipa::path(get, path = "/tenants/{tenant_id}/jobs/{job_id}/events", tag = "jobs", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("job_id" = i64, Path), PageQuery),
    responses((status = 200, description = "A page of the job's events", body = Page<JobEventView>), Problems))]
pub async fn events(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, job_id)): Path<(Uuid, i64)>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<JobEventView>>> {
    let (after, limit) = page.keyset()?;
    let after = id_cursor(after)?;
    let items = jobs::tenant_job_events(
        &state.db,
        &actor,
        tenant_id,
        job_id,
        after,
        limit as i64 + 1,
    )
    .await?;
    Ok(Json(
        page.page_of_keyset(items, limit, |e| e.event_id.to_string()),
    ))
}

/// Cancel a job: at once when it has not started, at its next step when it runs.
#[utoipa::path(post, path = "/tenants/{tenant_id}/jobs/{job_id}/cancel", tag = "jobs", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("job_id" = i64, Path)),
    responses((status = 200, description = "Where the job stands now", body = Cancelled), Problems))]
pub async fn cancel(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, job_id)): Path<(Uuid, i64)>,
) -> ApiResult<Json<Cancelled>> {
    let state = jobs::cancel_tenant_job(&state.db, &actor, tenant_id, job_id).await?;
    Ok(Json(Cancelled { state }))
}

/// Run a failed or cancelled job again.
#[utoipa::path(post, path = "/tenants/{tenant_id}/jobs/{job_id}/retry", tag = "jobs", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("job_id" = i64, Path)),
    responses((status = 204, description = "Queued again"), Problems))]
pub async fn retry(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, job_id)): Path<(Uuid, i64)>,
) -> ApiResult<StatusCode> {
    jobs::retry_tenant_job(&state.db, &actor, tenant_id, job_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
