//! The tenant's secrets over the API: list, create, replace, delete. Values go in and never
//! come out: revealing one stays in the portal, behind a password confirmation, audited.

use super::extract::{ApiResult, Caller, Json, Path, Query};
use super::page::{Page, PageQuery};
use super::problems::Problems;
use crate::startup::AppState;
use app::backend::secrets;
use app::model::SecretView;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
pub struct NewSecret {
    /// Unique in the tenant.
    pub name: String,
    /// Stored encrypted; never returned.
    pub value: String,
}

#[derive(Deserialize, ToSchema)]
pub struct SecretValue {
    /// The new value (stored encrypted under a fresh data key); never returned.
    pub value: String,
}

/// The tenant's secrets (names and dates, never values), ordered by name.
#[utoipa::path(get, path = "/tenants/{tenant_id}/secrets", tag = "secrets", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of secrets", body = Page<SecretView>), Problems))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<SecretView>>> {
    let (after, limit) = page.keyset()?;
    let items = secrets::list_secrets_page(
        &state.db,
        &actor,
        tenant_id,
        after.as_deref(),
        Some(limit as i64 + 1),
    )
    .await?;
    Ok(Json(page.page_of_keyset(items, limit, |s| s.name.clone())))
}

/// Create a secret (admins and owners).
#[utoipa::path(post, path = "/tenants/{tenant_id}/secrets", tag = "secrets", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path)), request_body = NewSecret,
    responses((status = 201, description = "The new secret (without its value)", body = SecretView), Problems))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Json(new): Json<NewSecret>,
) -> ApiResult<(StatusCode, Json<SecretView>)> {
    let secret_id = secrets::create_secret(
        &state.db,
        &state.keyring,
        &actor,
        tenant_id,
        &new.name,
        new.value.into(),
    )
    .await?;
    let view = secrets::get_secret(&state.db, &actor, tenant_id, secret_id).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Replace a secret's value (admins and owners; a cloud account's credentials are replaced by
/// adding the account again).
#[utoipa::path(put, path = "/tenants/{tenant_id}/secrets/{secret_id}", tag = "secrets", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("secret_id" = Uuid, Path)), request_body = SecretValue,
    responses((status = 200, description = "The secret (without its value)", body = SecretView), Problems))]
pub async fn replace(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, secret_id)): Path<(Uuid, Uuid)>,
    Json(value): Json<SecretValue>,
) -> ApiResult<Json<SecretView>> {
    secrets::update_secret(
        &state.db,
        &state.keyring,
        &actor,
        tenant_id,
        secret_id,
        value.value.into(),
    )
    .await?;
    Ok(Json(
        secrets::get_secret(&state.db, &actor, tenant_id, secret_id).await?,
    ))
}

/// Delete a secret (admins and owners).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/secrets/{secret_id}", tag = "secrets", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("secret_id" = Uuid, Path)),
    responses((status = 204, description = "Deleted"), Problems))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, secret_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    secrets::delete_secret(&state.db, &actor, tenant_id, secret_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
