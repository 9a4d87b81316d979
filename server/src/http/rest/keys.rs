//! API keys: listed and revoked over the API; created in the portal, after re-authentication.

use super::extract::{ApiResult, Caller, Json, Path, Query};
use super::page::{Page, PageQuery};
use super::problems::Problems;
use crate::startup::AppState;
use app::backend::identity::api_keys;
use app::model::ApiKeyView;
use axum::extract::State;
use uuid::Uuid;

/// The caller's own keys in the tenant (admins and owners: everyone's), ordered by id.
#[utoipa::path(get, path = "/tenants/{tenant_id}/api-keys", tag = "api keys", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of API keys (never their secrets)", body = Page<ApiKeyView>), Problems))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<ApiKeyView>>> {
    let (after, limit) = page.keyset_id()?;
    let keys = api_keys::list_page(&state.db, &actor, tenant_id, after, limit as i64 + 1).await?;
    Ok(Json(
        page.page_of_keyset(keys, limit, |k| k.key_id.to_string()),
    ))
}

/// Revoke a key: it and every access token exchanged for it stop working at once.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/api-keys/{key_id}", tag = "api keys", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("key_id" = Uuid, Path)),
    responses((status = 200, description = "The revoked key", body = ApiKeyView), Problems))]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, key_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<ApiKeyView>> {
    Ok(Json(
        api_keys::revoke(&state.db, &actor, tenant_id, key_id).await?,
    ))
}
