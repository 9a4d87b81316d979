//! The signed-in person's own account: profile, password, two-factor authentication, sessions.

use super::*;

#[cfg(feature = "ssr")]
use crate::backend::{identity::mfa, identity::user_sessions};

#[server(prefix = "/rpc", endpoint = "get_account", output = super::codec::StrJson)]
pub async fn get_account() -> Result<AccountView, AppError> {
    respond(async { crate::backend::identity::account::view(&db()?, &actor().await?).await }.await)
}

/// Changes the password; every other session of the person ends. Returns how many ended.
#[server(prefix = "/rpc", endpoint = "change_password", output = super::codec::StrJson)]
pub async fn change_password(
    current_password: String,
    new_password: String,
) -> Result<usize, AppError> {
    respond(
        async {
            crate::backend::identity::account::change_password(
                &db()?,
                &session().await?,
                &actor().await?,
                current_password.into(),
                new_password.into(),
                &client_info().await,
            )
            .await
        }
        .await,
    )
}

/// Starts TOTP enrolment: a new seed, as a QR code and as a key to type.
#[server(prefix = "/rpc", endpoint = "start_mfa_enrolment", output = super::codec::StrJson)]
pub async fn start_mfa_enrolment() -> Result<MfaEnrolment, AppError> {
    respond(
        async {
            no_store();
            mfa::start_enrolment(&db()?, &*keyring()?, &actor().await?).await
        }
        .await,
    )
}

/// Confirms enrolment with a current code; returns the ten recovery codes, shown once.
/// Turning MFA on needs the password again, and gives the session a new id.
#[server(prefix = "/rpc", endpoint = "confirm_mfa_enrolment", output = super::codec::StrJson)]
pub async fn confirm_mfa_enrolment(
    code: String,
    password: String,
) -> Result<Vec<String>, AppError> {
    respond(
        async {
            no_store();
            crate::backend::identity::account::enable_mfa(
                &db()?,
                &*keyring()?,
                &session().await?,
                &actor().await?,
                password.into(),
                &code,
                &client_info().await,
            )
            .await
        }
        .await,
    )
}

/// Turns MFA off (needs a re-authentication with a code in the last 5 minutes).
#[server(prefix = "/rpc", endpoint = "disable_mfa", output = super::codec::StrJson)]
pub async fn disable_mfa() -> Result<(), AppError> {
    respond(async { mfa::disable(&db()?, &actor().await?).await }.await)
}

/// New recovery codes, replacing the old ones (needs a recent re-authentication).
#[server(prefix = "/rpc", endpoint = "regenerate_recovery_codes", output = super::codec::StrJson)]
pub async fn regenerate_recovery_codes() -> Result<Vec<String>, AppError> {
    respond(
        async {
            no_store();
            mfa::regenerate_recovery_codes(&db()?, &*keyring()?, &actor().await?).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_sessions", output = super::codec::StrJson)]
pub async fn get_sessions() -> Result<Vec<SessionView>, AppError> {
    respond(
        async {
            let current = session::current_id(&session().await?).await?;
            user_sessions::list(&db()?, &actor().await?, current).await
        }
        .await,
    )
}

/// Ends one of the person's own sessions (this one included: that signs them out).
#[server(prefix = "/rpc", endpoint = "revoke_session", output = super::codec::StrJson)]
pub async fn revoke_session(session_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let (db, session) = (db()?, session().await?);
            user_sessions::revoke(&db, &actor().await?, session_id).await?;
            if session::current_id(&session).await? == Some(session_id) {
                session::end(&session, &db).await?;
                leptos_axum::redirect("/login");
            }
            Ok(())
        }
        .await,
    )
}
