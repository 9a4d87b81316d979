//! Password hashing (argon2id, OWASP parameters) and the policy for new passwords.

use crate::error::AppError;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashSet;
use std::sync::LazyLock;

/// The most common passwords (zxcvbn's frequency list), compared case-insensitively.
static COMMON: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common-passwords.txt").lines().collect());

/// Verified against when the email is unknown, so both paths cost one argon2 verification.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_blocking("stratus-timing-equaliser").expect("hashing a constant cannot fail")
});

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)?
        .to_string())
}

/// Checks a new password against the length rules and the common-password list.
pub fn check_new(password: &str, email: &str) -> Result<(), String> {
    crate::validate::password_shape(password)?;
    let lower = password.to_lowercase();
    if COMMON.contains(lower.as_str()) {
        return Err("This password is one of the most common ones. Choose another.".into());
    }
    if !email.is_empty() && lower.contains(&email.to_lowercase()) {
        return Err("The password must not contain your email address.".into());
    }
    Ok(())
}

pub async fn hash(password: SecretString) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret()))
        .await
        .map_err(|_| AppError::Internal)?
        .map_err(|error| {
            tracing::error!(%error, "password hashing failed");
            AppError::Internal
        })
}

/// Verifies `password` against `stored`, or against a dummy hash when there is no user,
/// so an unknown email costs the same time as a wrong password.
pub async fn verify(password: SecretString, stored: Option<String>) -> bool {
    let stored_known = stored.is_some();
    let result = tokio::task::spawn_blocking(move || {
        let hash = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            return false;
        };
        argon2()
            .verify_password(password.expose_secret().as_bytes(), &parsed)
            .is_ok()
    })
    .await;
    stored_known && result.unwrap_or(false)
}

/// Warms the dummy hash so the first unknown-email sign-in is not faster than later ones.
pub fn warm_up() {
    LazyLock::force(&DUMMY_HASH);
}

/// A random password for generated accounts (the first admin).
pub fn generate() -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_list_is_large_and_enforced() {
        assert!(COMMON.len() >= 10_000);
        assert!(check_new("password1234", "").is_err());
        assert!(check_new("PASSWORD1234", "").is_err());
        assert!(check_new("correct horse battery staple", "").is_ok());
        assert!(check_new("ann@example.com!!", "ann@example.com").is_err());
    }

    #[tokio::test]
    async fn hash_and_verify() {
        let hash = super::hash(SecretString::from("a long enough secret"))
            .await
            .unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify(
                SecretString::from("a long enough secret"),
                Some(hash.clone())
            )
            .await
        );
        assert!(!verify(SecretString::from("wrong"), Some(hash)).await);
        assert!(!verify(SecretString::from("anything"), None).await);
    }
}
