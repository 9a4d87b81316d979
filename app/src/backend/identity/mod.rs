//! Users: sign-in, the first platform admin, and the admin console's user list.

pub mod account;
pub mod actor;
pub mod api_keys;
pub mod credential;
pub mod jwt;
pub mod mfa;
pub mod passwords;
pub mod rate_limit;
pub mod reauth;
pub mod session;
pub mod user_sessions;

use crate::backend::audit::{self, By};
use crate::backend::identity::actor::Actor;
use crate::error::AppError;
use crate::model::{AuditAction, UserAdminView};
use crate::rbac::{authorize_platform, PlatformAction};
use crate::validate;
use secrecy::SecretString;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A user who proved their password: their id and session epoch.
pub struct Authenticated {
    pub user_id: Uuid,
    pub session_epoch: i32,
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks an email and password. Unknown email and wrong password give the same error
/// after the same amount of work.
pub async fn authenticate(
    db: &PgPool,
    email: &str,
    password: SecretString,
) -> Result<Authenticated, AppError> {
    let email = normalize_email(email);
    let row: Option<(Uuid, String, i32, bool)> = sqlx::query_as(
        "select user_id, password_hash, session_epoch, disabled_at is not null from app_user where email = $1",
    )
    .bind(&email)
    .fetch_optional(db)
    .await?;
    let (user, stored) = match row {
        Some((id, hash, epoch, disabled)) => (Some((id, epoch, disabled)), Some(hash)),
        None => (None, None),
    };
    if !passwords::verify(password, stored).await {
        tracing::info!("sign-in refused");
        return Err(AppError::BadCredentials);
    }
    let (user_id, session_epoch, disabled) = user.ok_or(AppError::BadCredentials)?;
    if disabled {
        return Err(AppError::Forbidden(
            "This account has been disabled. Ask a platform admin.".into(),
        ));
    }
    tracing::info!(%user_id, "signed in");
    Ok(Authenticated {
        user_id,
        session_epoch,
    })
}

/// Inserts a user; a taken email is a conflict on the `email` field.
pub async fn insert_user(
    conn: &mut PgConnection,
    email: &str,
    display_name: &str,
    password_hash: &str,
    platform_admin: bool,
) -> Result<Uuid, AppError> {
    sqlx::query_scalar(
        "insert into app_user (email, display_name, password_hash, platform_admin)
         values ($1, $2, $3, $4) returning user_id",
    )
    .bind(normalize_email(email))
    .bind(display_name.trim())
    .bind(password_hash)
    .bind(platform_admin)
    .fetch_one(conn)
    .await
    .map_err(|e| {
        if crate::backend::violates(&e, "app_user_email_key") {
            AppError::conflict("email", "An account with this email already exists.")
        } else {
            e.into()
        }
    })
}

/// Creates the first platform admin unless one exists. Returns the generated password,
/// which is shown once and stored nowhere.
pub async fn ensure_first_admin(db: &PgPool, email: &str) -> Result<Option<String>, AppError> {
    let mut tx = db.begin().await?;
    // Serialise concurrent first starts.
    sqlx::query("select pg_advisory_xact_lock(7281001)")
        .execute(&mut *tx)
        .await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from app_user where platform_admin)")
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        return Ok(None);
    }
    let mut checks = validate::Checks::default();
    checks.check("email", validate::email(email)).finish()?;
    let password = passwords::generate();
    let hash = passwords::hash(SecretString::from(password.clone())).await?;
    let user_id = insert_user(&mut tx, email, "Platform admin", &hash, true).await?;
    audit::commit_with(
        tx,
        By::SYSTEM,
        None,
        AuditAction::UserCreated,
        &normalize_email(email),
        serde_json::json!({ "user_id": user_id, "platform_admin": true }),
    )
    .await?;
    Ok(Some(password))
}

pub async fn list_users(db: &PgPool, actor: &Actor) -> Result<Vec<UserAdminView>, AppError> {
    authorize_platform(actor, PlatformAction::ListUsers)?;
    Ok(sqlx::query_as(
        "select u.user_id, u.email, u.display_name, u.platform_admin, u.disabled_at is not null as disabled,
                (select count(*) from membership m where m.user_id = u.user_id) as tenant_count, u.created_at
         from app_user u order by u.created_at",
    )
    .fetch_all(db)
    .await?)
}

/// Disabling also ends every session of the user (their epoch moves on).
pub async fn set_user_disabled(
    db: &PgPool,
    actor: &Actor,
    user_id: Uuid,
    disabled: bool,
) -> Result<(), AppError> {
    authorize_platform(actor, PlatformAction::DisableUser)?;
    if user_id == actor.user_id && disabled {
        return Err(AppError::Forbidden(
            "You cannot disable your own account.".into(),
        ));
    }
    let mut tx = db.begin().await?;
    let email: String = sqlx::query_scalar(
        "update app_user set disabled_at = case when $2 then coalesce(disabled_at, now()) end,
                session_epoch = session_epoch + case when $2 then 1 else 0 end
         where user_id = $1 returning email",
    )
    .bind(user_id)
    .bind(disabled)
    .fetch_one(&mut *tx)
    .await?;
    // Disabling ends every key of the user for good: enabling them again does not revive any.
    let keys_revoked = if disabled {
        api_keys::revoke_all(&mut tx, user_id, None).await?
    } else {
        0
    };
    let action = if disabled {
        AuditAction::UserDisabled
    } else {
        AuditAction::UserEnabled
    };
    audit::commit_with(
        tx,
        actor.into(),
        None,
        action,
        &email,
        serde_json::json!({ "user_id": user_id, "api_keys_revoked": keys_revoked }),
    )
    .await?;
    tracing::info!(%user_id, disabled, by = %actor.user_id, "user status changed");
    Ok(())
}

/// Sets a new random password (the `reset-password` command) and ends the user's sessions.
/// Returns the password, to be shown once.
pub async fn reset_password(db: &PgPool, email: &str) -> Result<String, AppError> {
    let password = passwords::generate();
    let hash = passwords::hash(SecretString::from(password.clone())).await?;
    let email = normalize_email(email);
    let mut tx = db.begin().await?;
    let user_id: Uuid = sqlx::query_scalar(
        "update app_user set password_hash = $2, session_epoch = session_epoch + 1 where email = $1 returning user_id",
    )
    .bind(&email)
    .bind(hash)
    .fetch_one(&mut *tx)
    .await?;
    // Run from the command line: Stratus itself is the actor.
    audit::commit_with(
        tx,
        By::SYSTEM,
        None,
        AuditAction::UserPasswordReset,
        &email,
        serde_json::json!({ "user_id": user_id }),
    )
    .await?;
    Ok(password)
}
