//! Token exchange, the caller, and the roles the API knows.

use super::extract::{ApiResult, Caller, Json};
use super::problems::Problems;
use crate::startup::AppState;
use app::backend::identity::actor::Via;
use app::backend::identity::api_keys;
use app::backend::identity::rate_limit::{self, Limit};
use app::backend::identity::user_sessions::{address_bucket, ClientAddress};
use app::model::Role;
use app::rbac::{allows, Action};
use axum::extract::State;
use axum::Extension;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// An API key (`stx_…`).
    pub api_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT to send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires (at most 900, never after the key expires).
    pub expires_in: i64,
}

/// Exchange an API key for a 15-minute access token.
#[utoipa::path(post, path = "/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, description = "An access token", body = TokenResponse), Problems))]
pub async fn token(
    State(state): State<AppState>,
    Extension(ClientAddress(client)): Extension<ClientAddress>,
    Json(request): Json<TokenRequest>,
) -> ApiResult<Json<TokenResponse>> {
    let key = request.api_key.trim();
    // Per client, and per key. Keyed on the whole key's digest, not its public prefix: anyone
    // who saw the prefix in a list could otherwise spend the key's allowance and block it.
    let address = address_bucket(client);
    rate_limit::check(&state.db, Limit::TokenExchangeAddress, &address).await?;
    rate_limit::check(
        &state.db,
        Limit::TokenExchangeKey,
        &api_keys::limit_key(key),
    )
    .await?;
    let token = api_keys::exchange(&state.db, &state.jwt, key).await?;
    Ok(Json(TokenResponse {
        access_token: token.access_token,
        token_type: token.token_type,
        expires_in: token.expires_in,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    /// The tenant the credential is scoped to.
    pub tenant_id: Uuid,
    /// The credential's effective role there (the lower of the key's and the member's).
    pub role: Role,
    /// The API key used, directly or through an access token.
    pub key_id: Uuid,
}

/// Who the credential acts for, and with what role.
#[utoipa::path(get, path = "/me", tag = "account", security(("bearer" = [])),
    responses((status = 200, description = "The caller", body = Me), Problems))]
pub async fn me(State(state): State<AppState>, Caller(actor): Caller) -> ApiResult<Json<Me>> {
    let Via::ApiKey {
        key_id, tenant_id, ..
    } = actor.via
    else {
        return Err(app::error::AppError::Unauthenticated.into());
    };
    let info = app::backend::tenancy::session_info(&state.db, &actor).await?;
    let role = info.role().ok_or(app::error::AppError::NotFound)?;
    Ok(Json(Me {
        user_id: actor.user_id,
        email: actor.email,
        display_name: actor.display_name,
        tenant_id,
        role,
        key_id,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RoleView {
    pub role: Role,
    /// Everything the role may do, as stable names (`view_members`, `invite_member`, ...).
    pub permissions: Vec<String>,
}

/// The tenant roles, lowest first, with their permissions.
#[utoipa::path(get, path = "/roles", tag = "account", security(("bearer" = [])),
    responses((status = 200, description = "The roles", body = Vec<RoleView>), Problems))]
pub async fn roles(Caller(_): Caller) -> Json<Vec<RoleView>> {
    Json(
        Role::ALL
            .into_iter()
            .map(|role| RoleView {
                role,
                permissions: Action::ALL
                    .into_iter()
                    .filter(|a| allows(role, *a))
                    .map(|a| a.as_str().to_string())
                    .collect(),
            })
            .collect(),
    )
}
