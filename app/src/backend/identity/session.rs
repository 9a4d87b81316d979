//! The signed-in state kept in the server-side session (tower-sessions, stored in PostgreSQL).

use crate::backend::identity::actor::{Actor, Via};
use crate::backend::identity::credential::Credential;
use crate::backend::identity::user_sessions::{self, ClientInfo};
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
/// The `user_session` row of this session (the list a person sees on their Account page).
const SID: &str = "user_session_id";
/// Half signed in: the password was right, a second-factor code is still due.
const PENDING_USER: &str = "pending_user_id";
const PENDING_EPOCH: &str = "pending_epoch";
const PENDING_AT: &str = "pending_at";
const PENDING_TENANT: &str = "pending_tenant_id";

/// A session ends this long after sign-in, however active it is.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::hours(12);
/// ... and after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::minutes(30);
/// How long the second sign-in step may wait after the password.
pub const SECOND_FACTOR_TIMEOUT: Duration = Duration::minutes(5);

fn store_error(error: tower_sessions::session::Error) -> AppError {
    tracing::error!(%error, "session store failed");
    AppError::Unavailable
}

/// Starts a fresh session for `user_id`: a new id (no fixation), the user's current epoch,
/// and a `user_session` row (browser and address) the person can see and revoke.
pub async fn begin(
    session: &Session,
    db: &PgPool,
    user_id: Uuid,
    epoch: i32,
    client: &ClientInfo,
) -> Result<(), AppError> {
    session.cycle_id().await.map_err(store_error)?;
    session.clear().await;
    let sid = user_sessions::create(db, user_id, client).await?;
    session.insert(USER, user_id).await.map_err(store_error)?;
    session.insert(EPOCH, epoch).await.map_err(store_error)?;
    session.insert(SID, sid).await.map_err(store_error)?;
    session
        .insert(SIGNED_IN_AT, OffsetDateTime::now_utc().unix_timestamp())
        .await
        .map_err(store_error)?;
    Ok(())
}

/// The password was right and a second factor is due: the session holds only that (nothing
/// else works) until `pending_second_factor` is completed by `begin`.
pub async fn begin_second_factor(
    session: &Session,
    user_id: Uuid,
    epoch: i32,
    tenant_id: Option<Uuid>,
) -> Result<(), AppError> {
    session.cycle_id().await.map_err(store_error)?;
    session.clear().await;
    session
        .insert(PENDING_USER, user_id)
        .await
        .map_err(store_error)?;
    session
        .insert(PENDING_EPOCH, epoch)
        .await
        .map_err(store_error)?;
    session
        .insert(PENDING_AT, OffsetDateTime::now_utc().unix_timestamp())
        .await
        .map_err(store_error)?;
    if let Some(tenant_id) = tenant_id {
        session
            .insert(PENDING_TENANT, tenant_id)
            .await
            .map_err(store_error)?;
    }
    Ok(())
}

/// A sign-in waiting for its second factor.
pub struct Pending {
    pub user_id: Uuid,
    pub epoch: i32,
    pub tenant_id: Option<Uuid>,
}

/// The sign-in waiting for a second factor in this session, unless it timed out.
pub async fn pending_second_factor(session: &Session) -> Result<Option<Pending>, AppError> {
    let user = session
        .get::<Uuid>(PENDING_USER)
        .await
        .map_err(store_error)?;
    let epoch = session
        .get::<i32>(PENDING_EPOCH)
        .await
        .map_err(store_error)?;
    let at = session.get::<i64>(PENDING_AT).await.map_err(store_error)?;
    let fresh = at.is_some_and(|at| {
        OffsetDateTime::now_utc().unix_timestamp() - at <= SECOND_FACTOR_TIMEOUT.whole_seconds()
    });
    Ok(match (user, epoch, fresh) {
        (Some(user_id), Some(epoch), true) => Some(Pending {
            user_id,
            epoch,
            tenant_id: session
                .get::<Uuid>(PENDING_TENANT)
                .await
                .map_err(store_error)?,
        }),
        _ => None,
    })
}

/// This session's `user_session` id (for "this session" in the list).
pub async fn current_id(session: &Session) -> Result<Option<Uuid>, AppError> {
    session.get::<Uuid>(SID).await.map_err(store_error)
}

/// The credential of this signed-in session, for connections that must check it again later
/// (call after `resolve` accepted the session).
pub async fn credential(session: &Session) -> Result<Option<Credential>, AppError> {
    let user = session.get::<Uuid>(USER).await.map_err(store_error)?;
    let epoch = session.get::<i32>(EPOCH).await.map_err(store_error)?;
    let sid = current_id(session).await?;
    Ok(match (user, epoch, sid) {
        (Some(user_id), Some(epoch), Some(user_session_id)) => Some(Credential::Session {
            user_session_id,
            user_id,
            epoch,
        }),
        _ => None,
    })
}

/// Deletes the session on the server (its tower record and its `user_session` row), not only
/// the cookie.
pub async fn end(session: &Session, db: &PgPool) -> Result<(), AppError> {
    if let Some(sid) = current_id(session).await? {
        user_sessions::forget(db, sid).await?;
    }
    session.flush().await.map_err(store_error)
}

/// Gives the session a new id, keeping its contents (after it gains a privilege: a password
/// confirmation, MFA turned on). The `user_session` row follows on the next request.
pub async fn cycle(session: &Session) -> Result<(), AppError> {
    session.cycle_id().await.map_err(store_error)
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

/// A signed-in request: who, and whether they must set up MFA before anything else.
pub struct Resolved {
    pub actor: Actor,
    /// A platform admin without MFA: only enrolment is open to them.
    pub must_enrol_mfa: bool,
}

/// The signed-in user, or `None` when signed out, half signed in, timed out, disabled, signed
/// out everywhere, or when this session was revoked.
pub async fn resolve(session: &Session, db: &PgPool) -> Result<Option<Resolved>, AppError> {
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
    let sid = current_id(session).await?;
    let store_id = session.id().map(|id| id.to_string());
    type Row = (String, String, bool, i32, bool, bool, bool);
    let row: Option<Row> = sqlx::query_as(
        "select u.email, u.display_name, u.platform_admin, u.session_epoch, u.disabled_at is not null,
                u.platform_admin and not exists
                    (select 1 from user_totp t where t.user_id = u.user_id and t.enabled_at is not null),
                s.last_seen_at < now() - interval '1 minute' or s.store_id is distinct from $3
         from app_user u join user_session s on s.user_id = u.user_id
         where u.user_id = $1 and s.user_session_id = $2",
    )
    .bind(user_id)
    .bind(sid)
    .bind(&store_id)
    .fetch_optional(db)
    .await?;
    match row {
        Some((
            email,
            display_name,
            platform_admin,
            current_epoch,
            false,
            must_enrol_mfa,
            stale,
        )) if Some(current_epoch) == epoch && age <= ABSOLUTE_TIMEOUT.whole_seconds() => {
            if let (true, Some(sid)) = (stale, sid) {
                // Last seen is written at most once a minute per session.
                user_sessions::touch(db, sid, store_id).await?;
            }
            let current_tenant = session.get::<Uuid>(TENANT).await.map_err(store_error)?;
            let reauthenticated_at = session
                .get::<i64>(REAUTHENTICATED_AT)
                .await
                .map_err(store_error)?;
            Ok(Some(Resolved {
                actor: Actor {
                    user_id,
                    email,
                    display_name,
                    platform_admin,
                    current_tenant,
                    reauthenticated_at,
                    via: Via::Session,
                },
                must_enrol_mfa,
            }))
        }
        _ => {
            end(session, db).await?;
            Ok(None)
        }
    }
}
