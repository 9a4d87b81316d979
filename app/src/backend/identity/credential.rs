//! The credential behind a long-lived connection (the event stream), so it can be checked
//! again while the connection lives: a request is authenticated once, a socket for hours.
//!
//! A credential is still good while what made it good holds: a browser session's row exists
//! (sign-out, revocation and a password change delete it), its user's epoch is unchanged
//! (reset, disable) and the user is enabled; an API key is unrevoked, unexpired, its user
//! enabled and still a member; an access token is all that for its key, until its `exp`.

use crate::backend::identity::api_keys;
use crate::backend::identity::session::ABSOLUTE_TIMEOUT;
use crate::error::AppError;
use sqlx::PgPool;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// A signed-in browser session (its cookie, or a ticket it issued).
    Session {
        user_session_id: Uuid,
        user_id: Uuid,
        epoch: i32,
    },
    /// An API key sent as the bearer credential.
    ApiKey { key_id: Uuid },
    /// An access token exchanged for an API key; `expires_at` is its `exp` (unix seconds).
    AccessToken { key_id: Uuid, expires_at: i64 },
}

impl Credential {
    /// When it stops working by itself, if it does (a session's absolute timeout is checked
    /// with the rest).
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        match self {
            Credential::AccessToken { expires_at, .. } => {
                OffsetDateTime::from_unix_timestamp(*expires_at).ok()
            }
            _ => None,
        }
    }

    /// What per-credential caps count: one browser session, or one API key (with every token
    /// exchanged for it).
    pub fn holder(&self) -> String {
        match self {
            Credential::Session {
                user_session_id, ..
            } => format!("session:{user_session_id}"),
            Credential::ApiKey { key_id } | Credential::AccessToken { key_id, .. } => {
                format!("key:{key_id}")
            }
        }
    }
}

/// `Ok(())` while the credential can still be used; `Unauthenticated` (session) or
/// `InvalidToken` (key, token) once it cannot.
pub async fn check(db: &PgPool, credential: &Credential) -> Result<(), AppError> {
    match *credential {
        Credential::Session {
            user_session_id,
            user_id,
            epoch,
        } => {
            let alive: bool = sqlx::query_scalar(
                "select exists (
                     select 1 from user_session s join app_user u using (user_id)
                     where s.user_session_id = $1 and u.user_id = $2 and u.session_epoch = $3
                       and u.disabled_at is null
                       and s.signed_in_at > now() - make_interval(secs => $4))",
            )
            .bind(user_session_id)
            .bind(user_id)
            .bind(epoch)
            .bind(ABSOLUTE_TIMEOUT.whole_seconds() as f64)
            .fetch_one(db)
            .await?;
            if alive {
                Ok(())
            } else {
                Err(AppError::Unauthenticated)
            }
        }
        Credential::ApiKey { key_id } => api_keys::check_usable(db, key_id).await,
        Credential::AccessToken { key_id, expires_at } => {
            if OffsetDateTime::now_utc().unix_timestamp() >= expires_at {
                return Err(AppError::InvalidToken(
                    "The access token has expired.".into(),
                ));
            }
            api_keys::check_usable(db, key_id).await
        }
    }
}
