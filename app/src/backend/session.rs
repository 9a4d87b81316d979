//! The signed-in state kept in the server-side session (tower-sessions, stored in PostgreSQL).

use super::actor::{Actor, Via};
use crate::error::AppError;
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use tower_sessions::Session;
use uuid::Uuid;

const USER: &str = "user_id";
const EPOCH: &str = "epoch";
const SIGNED_IN_AT: &str = "signed_in_at";
const TENANT: &str = "tenant_id";
const REAUTHENTICATED_AT: &str = "reauthenticated_at";

/// A session ends this long after sign-in, however active it is.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);
/// ... and after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);

fn store_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store failed");
    AppError::Unavailable
}

/// Starts a fresh session for `user_id`: a new id (no fixation), the user's current epoch.
pub async fn begin(session: &Session, user_id: Uuid, epoch: i32) -> Result<(), AppError> {
    session.cycle_id().await.map_err(store_error)?;
    session.clear().await;
    session.insert(USER, user_id).await.map_err(store_error)?;
    session.insert(EPOCH, epoch).await.map_err(store_error)?;
    session
        .insert(SIGNED_IN_AT, OffsetDateTime::now_utc().unix_timestamp())
        .await
        .map_err(store_error)?;
    Ok(())
}

/// Deletes the session on the server, not only the cookie.
pub async fn end(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(store_error)
}

/// Records a successful password confirmation (for reveal and other sensitive actions).
pub async fn mark_reauthenticated(session: &Session) -> Result<(), AppError> {
    session
        .insert(
            REAUTHENTICATED_AT,
            OffsetDateTime::now_utc().unix_timestamp(),
        )
        .await
        .map_err(store_error)
}

pub async fn choose_tenant(session: &Session, tenant_id: Uuid) -> Result<(), AppError> {
    session.insert(TENANT, tenant_id).await.map_err(store_error)
}

/// The signed-in user, or `None` when signed out, timed out, disabled or signed out everywhere.
pub async fn resolve(session: &Session, db: &PgPool) -> Result<Option<Actor>, AppError> {
    let Some(user_id) = session.get::<Uuid>(USER).await.map_err(store_error)? else {
        return Ok(None);
    };
    let signed_in_at = session
        .get::<i64>(SIGNED_IN_AT)
        .await
        .map_err(store_error)?
        .unwrap_or(0);
    let age = OffsetDateTime::now_utc().unix_timestamp() - signed_in_at;
    let epoch = session.get::<i32>(EPOCH).await.map_err(store_error)?;
    let row: Option<(String, String, bool, i32, bool)> = sqlx::query_as(
        "select email, display_name, platform_admin, session_epoch, disabled_at is not null
         from app_user where user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    match row {
        Some((email, display_name, platform_admin, current_epoch, false))
            if Some(current_epoch) == epoch && age <= ABSOLUTE_TIMEOUT.whole_seconds() =>
        {
            let current_tenant = session.get::<Uuid>(TENANT).await.map_err(store_error)?;
            let reauthenticated_at = session
                .get::<i64>(REAUTHENTICATED_AT)
                .await
                .map_err(store_error)?;
            Ok(Some(Actor {
                user_id,
                email,
                display_name,
                platform_admin,
                current_tenant,
                reauthenticated_at,
                via: Via::Session,
            }))
        }
        _ => {
            end(session).await?;
            Ok(None)
        }
    }
}
