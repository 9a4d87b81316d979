//! A person's own account: signing in (password, then a second factor when MFA is on),
//! re-authentication, changing the password, and what the Account page shows.

use crate::backend::identity::actor::Actor;
use crate::backend::identity::rate_limit::{self, Limit};
use crate::backend::identity::user_sessions::ClientInfo;
use crate::backend::identity::{self, Authenticated};
use crate::backend::secrets::Keyring;
use crate::backend::{
    audit, identity::mfa, identity::passwords, identity::session, identity::user_sessions,
};
use crate::error::AppError;
use crate::model::AuditAction;
use crate::model::{AccountView, SignInStep};
use crate::validate::{self, Checks};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use tower_sessions::Session;
use uuid::Uuid;

/// An attempt past the account-wide ceiling waits this long first: a spread-out attack is
/// slowed, and the owner (from their own address) is never refused.
const ACCOUNT_SLOWDOWN: std::time::Duration = std::time::Duration::from_secs(2);

/// Checks the password under the sign-in limits (docs/security-accounts.md): refused per client
/// address and per account-and-address pair, slowed per account. A failure is audited (within
/// the bound on unauthenticated events), a lockout once per window. Successful attempts are
/// forgiven, so the limits count failures.
async fn check_password(
    db: &PgPool,
    email: &str,
    password: SecretString,
    client: &ClientInfo,
) -> Result<Authenticated, AppError> {
    let email = identity::normalize_email(email);
    // Bounded before anything is counted, stored or hashed.
    Checks::default()
        .check("email", validate::bounded_text(&email, validate::EMAIL_MAX))
        .check(
            "password",
            validate::bounded_text(password.expose_secret(), validate::PASSWORD_MAX),
        )
        .finish()?;
    let address = client.address_key();
    let pair = format!("{email} from {address}");
    rate_limit::check(db, Limit::SignInAddress, &address).await?;
    let attempt = rate_limit::count(db, Limit::SignInPair, &pair).await?;
    if attempt.over() {
        if attempt.just_over() {
            audit::record_unauthenticated(
                db,
                AuditAction::UserSignInLocked,
                &email,
                serde_json::json!({ "address": address, "retry_after_secs": attempt.retry_after_secs }),
            )
            .await?;
        }
        tracing::warn!(%address, "sign-in refused: too many failures for this account from this address");
        return Err(attempt.refusal());
    }
    if rate_limit::count(db, Limit::SignInAccount, &email)
        .await?
        .over()
    {
        tokio::time::sleep(ACCOUNT_SLOWDOWN).await;
    }
    match identity::authenticate(db, &email, password).await {
        Ok(user) => {
            rate_limit::forgive(db, Limit::SignInAddress, &address).await?;
            rate_limit::forgive(db, Limit::SignInPair, &pair).await?;
            rate_limit::forgive(db, Limit::SignInAccount, &email).await?;
            Ok(user)
        }
        Err(error) => {
            if matches!(error, AppError::BadCredentials) {
                audit::record_sign_in_failure(db, &email, client.ip).await?;
            }
            Err(error)
        }
    }
}

async fn email_of(db: &PgPool, user_id: Uuid) -> Result<String, AppError> {
    Ok(
        sqlx::query_scalar("select email from app_user where user_id = $1")
            .bind(user_id)
            .fetch_one(db)
            .await?,
    )
}

/// Opens the session of someone who proved their password: fully when they have no MFA,
/// otherwise half (the second step is `complete_second_factor`).
pub async fn start_session(
    db: &PgPool,
    session: &Session,
    user: &Authenticated,
    tenant_id: Option<Uuid>,
    client: &ClientInfo,
) -> Result<SignInStep, AppError> {
    if mfa::is_enabled(db, user.user_id).await? {
        session::begin_second_factor(session, user.user_id, user.session_epoch, tenant_id).await?;
        return Ok(SignInStep::SecondFactor);
    }
    open_session(
        db,
        session,
        user.user_id,
        user.session_epoch,
        tenant_id,
        client,
    )
    .await
}

async fn open_session(
    db: &PgPool,
    session: &Session,
    user_id: Uuid,
    epoch: i32,
    tenant_id: Option<Uuid>,
    client: &ClientInfo,
) -> Result<SignInStep, AppError> {
    session::begin(session, db, user_id, epoch, client).await?;
    if let Some(tenant_id) = tenant_id {
        session::choose_tenant(session, tenant_id).await?;
    }
    let (email, must_enrol): (String, bool) = sqlx::query_as(
        "select email, platform_admin and not exists
                    (select 1 from user_totp t where t.user_id = $1 and t.enabled_at is not null)
         from app_user where user_id = $1",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?;
    let mut conn = db.acquire().await?;
    audit::record_account_event(
        &mut conn,
        user_id,
        &email,
        AuditAction::UserSignedIn,
        &email,
    )
    .await?;
    Ok(if must_enrol {
        SignInStep::EnrolMfa
    } else {
        SignInStep::SignedIn
    })
}

/// Sign-in's first step: the password.
pub async fn sign_in(
    db: &PgPool,
    session: &Session,
    email: &str,
    password: SecretString,
    client: &ClientInfo,
) -> Result<SignInStep, AppError> {
    let user = check_password(db, email, password, client).await?;
    start_session(db, session, &user, None, client).await
}

/// Sign-in's second step: a TOTP or recovery code for the half-signed-in session.
pub async fn complete_second_factor(
    db: &PgPool,
    keyring: &Keyring,
    session: &Session,
    code: &str,
    client: &ClientInfo,
) -> Result<SignInStep, AppError> {
    let Some(pending) = session::pending_second_factor(session).await? else {
        return Err(AppError::Gone(
            "This sign-in has expired. Sign in again with your password.".into(),
        ));
    };
    let email = email_of(db, pending.user_id).await?;
    mfa::verify(db, keyring, pending.user_id, &email, code).await?;
    open_session(
        db,
        session,
        pending.user_id,
        pending.epoch,
        pending.tenant_id,
        client,
    )
    .await
}

/// Confirms the signed-in person: their password, and a code when MFA is on. Sensitive actions
/// accept it for `reauth::REAUTH_WINDOW_SECS`.
pub async fn reauthenticate(
    db: &PgPool,
    keyring: &Keyring,
    session: &Session,
    actor: &Actor,
    password: SecretString,
    code: Option<&str>,
    client: &ClientInfo,
) -> Result<(), AppError> {
    let mfa_on = mfa::is_enabled(db, actor.user_id).await?;
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    if mfa_on && code.is_none() {
        return Err(AppError::invalid(
            "code",
            "Enter the code from your authenticator app.",
        ));
    }
    match check_password(db, &actor.email, password, client).await {
        Ok(_) => {}
        Err(AppError::BadCredentials) => {
            return Err(AppError::invalid("password", "That is not your password."))
        }
        Err(other) => return Err(other),
    }
    if let (true, Some(code)) = (mfa_on, code) {
        mfa::verify(db, keyring, actor.user_id, &actor.email, code).await?;
    }
    // A session that just gained a privilege gets a new id, so an id seen before (fixed or
    // leaked) does not carry it.
    session::cycle(session).await?;
    session::mark_reauthenticated(session).await
}

/// Turns on two-factor authentication: a current code from the new authenticator and the
/// password again (a borrowed session alone must not bind someone else's authenticator to the
/// account). The session id changes, since the session now counts as fully signed in.
#[allow(clippy::too_many_arguments)]
pub async fn enable_mfa(
    db: &PgPool,
    keyring: &Keyring,
    session: &Session,
    actor: &Actor,
    password: SecretString,
    code: &str,
    client: &ClientInfo,
) -> Result<Vec<String>, AppError> {
    if password.expose_secret().is_empty() {
        return Err(AppError::invalid(
            "password",
            "Enter your password to turn on two-factor authentication.",
        ));
    }
    match check_password(db, &actor.email, password, client).await {
        Ok(_) => {}
        Err(AppError::BadCredentials) => {
            return Err(AppError::invalid("password", "That is not your password."))
        }
        Err(other) => return Err(other),
    }
    let codes = mfa::confirm_enrolment(db, keyring, actor, code).await?;
    session::cycle(session).await?;
    Ok(codes)
}

/// Signs this browser out: the session ends on the server, and the log says so.
pub async fn sign_out(
    db: &PgPool,
    session: &Session,
    actor: Option<&Actor>,
) -> Result<(), AppError> {
    session::end(session, db).await?;
    if let Some(actor) = actor {
        let mut conn = db.acquire().await?;
        audit::record_account_event(
            &mut conn,
            actor.user_id,
            &actor.email,
            AuditAction::UserSignedOut,
            &actor.email,
        )
        .await?;
    }
    Ok(())
}

/// Changes the password (the current one is asked for) and ends every other session.
pub async fn change_password(
    db: &PgPool,
    session: &Session,
    actor: &Actor,
    current: SecretString,
    new: SecretString,
    client: &ClientInfo,
) -> Result<usize, AppError> {
    Checks::default()
        .check(
            "new_password",
            passwords::check_new(new.expose_secret(), &actor.email),
        )
        .finish()?;
    if current.expose_secret() == new.expose_secret() {
        return Err(AppError::invalid(
            "new_password",
            "Choose a password different from the current one.",
        ));
    }
    match check_password(db, &actor.email, current, client).await {
        Ok(_) => {}
        Err(AppError::BadCredentials) => {
            return Err(AppError::invalid(
                "current_password",
                "That is not your current password.",
            ))
        }
        Err(other) => return Err(other),
    }
    let hash = passwords::hash(new).await?;
    let keep = session::current_id(session).await?;
    let mut tx = db.begin().await?;
    sqlx::query("update app_user set password_hash = $2 where user_id = $1")
        .bind(actor.user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    let ended = user_sessions::revoke_others(&mut tx, actor.user_id, keep).await?;
    audit::record_account_event(
        &mut tx,
        actor.user_id,
        &actor.email,
        AuditAction::UserPasswordChanged,
        &actor.email,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %actor.user_id, ended, "password changed; other sessions ended");
    Ok(ended)
}

pub async fn view(db: &PgPool, actor: &Actor) -> Result<AccountView, AppError> {
    let (mfa_enabled_at, recovery_codes_left) = mfa::status(db, actor.user_id).await?;
    Ok(AccountView {
        email: actor.email.clone(),
        display_name: actor.display_name.clone(),
        platform_admin: actor.platform_admin,
        mfa_enabled_at,
        recovery_codes_left,
    })
}

/// Removes old rate-limit counters and the rows of timed-out sessions, every few minutes.
pub async fn prune_continuously(db: PgPool) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        tick.tick().await;
        if let Err(error) = rate_limit::prune(&db).await {
            tracing::warn!(%error, "pruning rate-limit counters failed");
        }
        if let Err(error) = user_sessions::prune(&db).await {
            tracing::warn!(%error, "pruning session rows failed");
        }
    }
}
