//! Server functions (mounted under `/rpc`): each gets the actor and the pool, calls one backend
//! function and maps its error. No rule lives here; `backend` and `rbac` decide.

use crate::error::AppError;
use crate::model::*;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
mod ctx {
    use crate::backend::actor::{Actor, RequestActor};
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

    /// Gives a failed call the HTTP status of its error.
    pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let (Err(error), Some(response)) =
            (&result, use_context::<leptos_axum::ResponseOptions>())
        {
            if let Ok(status) = http::StatusCode::from_u16(error.status()) {
                response.set_status(status);
            }
        }
        result
    }
}

#[cfg(feature = "ssr")]
use crate::backend::{identity, session, tenancy};
#[cfg(feature = "ssr")]
use ctx::*;

mod admin;
mod api_keys;
mod jobs;
mod secrets;
mod signin;
mod surveys;
mod tenant;

pub use admin::*;
pub use api_keys::*;
pub use jobs::*;
pub use secrets::*;
pub use signin::*;
pub use surveys::*;
pub use tenant::*;
