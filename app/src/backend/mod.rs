//! The backend domain (server only). Every public function takes the acting user,
//! authorizes through `rbac`, validates, and only then touches the database.
//!
//! - [`identity`]: people and how they prove who they are (passwords, MFA, sessions, API keys, tokens).
//! - [`tenancy`]: tenants, memberships, invitations and quotas.
//! - [`cloud`]: cloud accounts, the provider seam, zone surveys.
//! - [`jobs`]: the queue and its workers; [`events`]: the live feed of job events.
//! - [`secrets`]: envelope encryption and tenant secrets; [`audit`]: the append-only log.

pub mod audit;
pub mod cloud;
pub mod events;
pub mod identity;
pub mod jobs;
pub mod overview;
pub mod resources;
pub mod secrets;
pub mod tenancy;

use sqlx::migrate::Migrator;

/// The schema, embedded in the binary; applied at startup and by `stratus migrate`.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// True when `error` is a unique violation of `constraint`.
pub(crate) fn violates(error: &sqlx::Error, constraint: &str) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation() && e.constraint() == Some(constraint))
}

/// A random URL-safe token with 256 bits of entropy and its SHA-256 digest (what we store).
pub(crate) fn new_token() -> (String, Vec<u8>) {
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let digest = token_digest(&token);
    (token, digest)
}

pub(crate) fn token_digest(token: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}
