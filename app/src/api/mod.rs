//! Server functions (mounted under `/rpc`): each gets the actor and the pool, calls one backend
//! function and maps its error. No rule lives here; `backend` and `rbac` decide.

use crate::error::AppError;
use crate::model::*;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
mod ctx {
    use crate::backend::identity::actor::{Actor, RequestActor};
    use crate::error::AppError;
    use axum::Extension;
    use leptos::prelude::use_context;
    use sqlx::PgPool;
    use tower_sessions::Session;

    pub fn db() -> Result<PgPool, AppError> {
        use_context::<PgPool>().ok_or(AppError::Internal)
    }

    pub async fn maybe_actor() -> Result<Option<Actor>, AppError> {
        let Extension(RequestActor(actor)) = leptos_axum::extract::<Extension<RequestActor>>()
            .await
            .map_err(|_| AppError::Internal)?;
        Ok(actor)
    }

    pub async fn actor() -> Result<Actor, AppError> {
        maybe_actor().await?.ok_or(AppError::Unauthenticated)
    }

    /// The pool, the actor and the tenant they are working in (most server functions need all three).
    pub async fn in_tenant() -> Result<(PgPool, Actor, uuid::Uuid), AppError> {
        let (db, actor) = (db()?, actor().await?);
        let tenant_id = crate::backend::tenancy::current_tenant(&db, &actor).await?;
        Ok((db, actor, tenant_id))
    }

    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>()
            .await
            .map_err(|_| AppError::Internal)
    }

    /// Gives a failed call the HTTP status of its error (and `Retry-After` when rate limited).
    pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let (Err(error), Some(response)) =
            (&result, use_context::<leptos_axum::ResponseOptions>())
        {
            if let Ok(status) = http::StatusCode::from_u16(error.status()) {
                response.set_status(status);
            }
            if let AppError::RateLimited { retry_after_secs } = error {
                response.insert_header(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from(*retry_after_secs),
                );
            }
        }
        result
    }

    /// The client's address as the HTTP layer resolved it (the peer, or what a trusted proxy
    /// forwarded) and the User-Agent.
    pub async fn client_info() -> crate::backend::identity::user_sessions::ClientInfo {
        use crate::backend::identity::user_sessions::ClientAddress;
        let ip = leptos_axum::extract::<Extension<ClientAddress>>()
            .await
            .ok()
            .map(|Extension(ClientAddress(ip))| ip);
        let user_agent = leptos_axum::extract::<http::HeaderMap>()
            .await
            .ok()
            .and_then(|h| {
                h.get(http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            })
            .unwrap_or_default();
        crate::backend::identity::user_sessions::ClientInfo { ip, user_agent }
    }

    pub fn keyring() -> Result<std::sync::Arc<crate::backend::secrets::Keyring>, AppError> {
        use_context::<std::sync::Arc<crate::backend::secrets::Keyring>>().ok_or(AppError::Internal)
    }

    /// Where cloud accounts may connect (the operator's exceptions to public addresses only).
    pub fn endpoint_policy(
    ) -> Result<std::sync::Arc<crate::backend::cloud::endpoints::EndpointPolicy>, AppError> {
        use_context::<std::sync::Arc<crate::backend::cloud::endpoints::EndpointPolicy>>()
            .ok_or(AppError::Internal)
    }

    /// For responses that carry something shown once (a TOTP seed, recovery codes).
    pub fn no_store() {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.insert_header(
                http::header::CACHE_CONTROL,
                http::HeaderValue::from_static("no-store"),
            );
        }
    }
}

#[cfg(feature = "ssr")]
use crate::backend::{identity, identity::session, tenancy};
#[cfg(feature = "ssr")]
use ctx::*;

mod account;
mod admin;
mod api_keys;
mod audit;
mod codec;
mod databases;
mod groups;
mod jobs;
mod overview;
mod sandbox;
mod secrets;
mod signin;
mod surveys;
mod tenant;
mod zones;

pub use account::*;
pub use admin::*;
pub use api_keys::*;
pub use audit::*;
pub use databases::*;
pub use groups::*;
pub use jobs::*;
pub use overview::*;
pub use sandbox::*;
pub use secrets::*;
pub use signin::*;
pub use surveys::*;
pub use tenant::*;
pub use zones::*;
