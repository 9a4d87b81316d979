//! Cloud accounts over the API: list, add, delete, test the connection, survey the zones. The
//! secret access key goes in once and never comes back out.

use super::extract::{ApiResult, Caller, Json, Path, Query};
use super::page::{Page, PageQuery};
use super::problems::{Problem, Problems};
use crate::startup::AppState;
use app::backend::cloud::{accounts, zone_survey};
use app::model::{CloudAccountView, ConnectionTest};
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoResponses, ToSchema};
use uuid::Uuid;

/// What the provider said when a call to it failed.
#[derive(IntoResponses)]
#[allow(dead_code)] // only described, never built
pub enum ProviderProblems {
    /// The provider refused or could not be reached; `detail` is its own message, verbatim.
    #[response(status = 502, content_type = "application/problem+json")]
    Provider(Problem),
}

#[derive(Deserialize, ToSchema)]
pub struct NewCloudAccount {
    /// A name for people, unique in the tenant.
    pub name: String,
    /// An AWS region such as `eu-west-1`.
    pub region: String,
    pub access_key_id: String,
    /// Stored encrypted; never returned.
    pub secret_access_key: String,
    /// Only for emulators and AWS-compatible clouds.
    #[serde(default)]
    pub endpoint_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct JobStarted {
    /// Follow it at `/api/v1/tenants/{tenant_id}/jobs/{job_id}` or on the event stream.
    pub job_id: i64,
}

/// The tenant's cloud accounts, ordered by name.
#[utoipa::path(get, path = "/tenants/{tenant_id}/cloud-accounts", tag = "cloud accounts", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of cloud accounts (never their secret keys)", body = Page<CloudAccountView>), Problems))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<CloudAccountView>>> {
    let (after, limit) = page.keyset()?;
    let items = accounts::list_page(
        &state.db,
        &actor,
        tenant_id,
        after.as_deref(),
        Some(limit as i64 + 1),
    )
    .await?;
    Ok(Json(page.page_of_keyset(items, limit, |a| a.name.clone())))
}

/// Add an AWS account (admins and owners). Stratus asks STS who the credentials are and keeps
/// the answer as `provider_account_id`; an unreachable provider does not stop the creation.
#[utoipa::path(post, path = "/tenants/{tenant_id}/cloud-accounts", tag = "cloud accounts", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path)), request_body = NewCloudAccount,
    responses((status = 201, description = "The new cloud account", body = CloudAccountView), Problems))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Json(new): Json<NewCloudAccount>,
) -> ApiResult<(StatusCode, Json<CloudAccountView>)> {
    let new = accounts::NewCloudAccount {
        name: new.name,
        region: new.region,
        access_key_id: new.access_key_id,
        secret_access_key: new.secret_access_key.into(),
        endpoint_url: new.endpoint_url,
        emulated: false,
    };
    let account = accounts::create(
        &state.db,
        &state.keyring,
        &state.endpoints,
        &actor,
        tenant_id,
        new,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// Delete a cloud account and its stored credentials (refused with 409 while resources live in it).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/cloud-accounts/{cloud_account_id}", tag = "cloud accounts",
    security(("bearer" = [])), params(("tenant_id" = Uuid, Path), ("cloud_account_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), Problems))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, cloud_account_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    accounts::delete(&state.db, &actor, tenant_id, cloud_account_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Call the provider with the account's credentials: the availability zones it sees in its
/// region and the provider account it reaches (admins and owners).
#[utoipa::path(post, path = "/tenants/{tenant_id}/cloud-accounts/{cloud_account_id}/test", tag = "cloud accounts",
    security(("bearer" = [])), params(("tenant_id" = Uuid, Path), ("cloud_account_id" = Uuid, Path)),
    responses((status = 200, description = "The provider answered", body = ConnectionTest), Problems, ProviderProblems))]
pub async fn test_connection(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, cloud_account_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<ConnectionTest>> {
    Ok(Json(
        accounts::test_connection(
            &state.db,
            &state.keyring,
            &state.endpoints,
            &actor,
            tenant_id,
            cloud_account_id,
        )
        .await?,
    ))
}

/// Start a survey of the account's availability zones (a job; an existing queued or running
/// survey of the account is answered instead of a second).
#[utoipa::path(post, path = "/tenants/{tenant_id}/cloud-accounts/{cloud_account_id}/survey", tag = "cloud accounts",
    security(("bearer" = [])), params(("tenant_id" = Uuid, Path), ("cloud_account_id" = Uuid, Path)),
    responses((status = 202, description = "The survey's job", body = JobStarted), Problems))]
pub async fn survey(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, cloud_account_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<(StatusCode, Json<JobStarted>)> {
    let job_id = zone_survey::start(&state.db, &actor, tenant_id, cloud_account_id).await?;
    Ok((StatusCode::ACCEPTED, Json(JobStarted { job_id })))
}
