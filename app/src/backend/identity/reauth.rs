//! Re-authentication before sensitive actions (secret reveal, new API key, turning MFA off):
//! the password again, plus a second-factor code when the person has MFA on.

use crate::backend::identity::actor::Actor;
use crate::error::AppError;

/// How recent a re-authentication must be for sensitive actions, in seconds.
pub const REAUTH_WINDOW_SECS: i64 = 300;

/// Fails unless the actor re-authenticated within the window (see `account::reauthenticate`,
/// which asks for the TOTP code too when MFA is on).
pub fn require_recent_reauth(actor: &Actor) -> Result<(), AppError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match actor.reauthenticated_at {
        Some(at) if now - at <= REAUTH_WINDOW_SECS => Ok(()),
        _ => Err(AppError::ReauthRequired),
    }
}
