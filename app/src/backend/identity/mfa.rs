//! Two-factor authentication: TOTP (RFC 6238: SHA-1, 6 digits, 30-second steps, one step of
//! clock skew either way) and single-use recovery codes.
//!
//! Seeds are envelope-encrypted with the secrets keyring, bound to the user and the purpose
//! `totp-seed`. Every TOTP code is single-use: the last accepted step is kept per user, and a
//! code for that step or an earlier one is refused. Recovery codes are stored as HMAC-SHA256
//! digests under a key derived from the master keys, and each works once.

use crate::backend::audit;
use crate::backend::identity::actor::Actor;
use crate::backend::identity::rate_limit::{self, Limit};
use crate::backend::identity::reauth::require_recent_reauth;
use crate::backend::secrets::envelope::{self, Binding, Keyring, Sealed};
use crate::error::AppError;
use crate::model::AuditAction;
use crate::model::MfaEnrolment;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use totp_rs::{Algorithm, TOTP};
use uuid::Uuid;

/// The encryption binding's purpose for TOTP seeds.
pub const PURPOSE_TOTP_SEED: &str = "totp-seed";
/// How many recovery codes a person gets at a time.
pub const RECOVERY_CODES: usize = 10;
/// Server functions a platform admin may call before enrolling (everything else is refused).
pub const ALLOWED_BEFORE_ENROLMENT: [&str; 4] = [
    "start_mfa_enrolment",
    "confirm_mfa_enrolment",
    "sign_out",
    "sign_in",
];

const ISSUER: &str = "Stratus";
const STEP_SECS: u64 = 30;
const SKEW_STEPS: i64 = 1;
const SEED_BYTES: usize = 20;
/// No 0/o or 1/l: codes are read off paper. 32 symbols, 10 of them: 50 bits per code.
const RECOVERY_ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";

fn binding(user_id: Uuid) -> Binding<'static> {
    // Seeds belong to no tenant: the nil tenant, with the user as the "secret".
    Binding {
        tenant_id: Uuid::nil(),
        secret_id: user_id,
        purpose: PURPOSE_TOTP_SEED,
    }
}

fn totp(seed: Vec<u8>, email: &str) -> Result<TOTP, AppError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        SKEW_STEPS as u8,
        STEP_SECS,
        seed,
        Some(ISSUER.into()),
        email.to_string(),
    )
    .map_err(|error| {
        tracing::error!(%error, "building a TOTP failed");
        AppError::Internal
    })
}

fn current_step() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp() / STEP_SECS as i64
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The step within the skew window whose code is `code`, if any (each step compared in
/// constant time).
fn matching_step(totp: &TOTP, code: &str) -> Option<i64> {
    let now = current_step();
    // Every step is compared (no early exit), so timing does not tell which one matched.
    (now - SKEW_STEPS..=now + SKEW_STEPS).fold(None, |found, step| {
        let matches = same(
            totp.generate((step as u64) * STEP_SECS).as_bytes(),
            code.as_bytes(),
        );
        if matches {
            Some(step)
        } else {
            found
        }
    })
}

fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_totp_shape(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

fn bad_code(message: &str) -> AppError {
    AppError::invalid("code", message)
}

/// The label of the key recovery codes are digested with (see `Keyring::derived_keys`).
const RECOVERY_KEY_LABEL: &str = "recovery-code";

/// A recovery code as stored: HMAC-SHA256 under a key derived from the master keys, over the
/// user and the code. 50 bits of code would fall to a plain hash offline; without the key they
/// cannot even be tried.
fn recovery_digest(key: &[u8; 32], user_id: Uuid, code: &str) -> Vec<u8> {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(user_id.as_bytes());
    mac.update(code.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The plain SHA-256 digest of codes issued before keyed digests: such rows keep working until
/// the person regenerates their codes.
fn legacy_recovery_digest(user_id: Uuid, code: &str) -> Vec<u8> {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(user_id.as_bytes());
    hasher.update(code.as_bytes());
    hasher.finalize().to_vec()
}

/// Every digest a stored code may have: under each key of the ring (codes survive a key
/// rotation), and the legacy one.
fn recovery_digests(keyring: &Keyring, user_id: Uuid, code: &str) -> Vec<Vec<u8>> {
    keyring
        .derived_keys(RECOVERY_KEY_LABEL)
        .iter()
        .map(|key| recovery_digest(key, user_id, code))
        .chain(std::iter::once(legacy_recovery_digest(user_id, code)))
        .collect()
}

fn new_recovery_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let raw: String = (0..10)
        .map(|_| RECOVERY_ALPHABET[rng.gen_range(0..RECOVERY_ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &raw[..5], &raw[5..])
}

/// Replaces the user's recovery codes with fresh ones; returns them (shown once).
async fn replace_recovery_codes(
    conn: &mut PgConnection,
    keyring: &Keyring,
    user_id: Uuid,
) -> Result<Vec<String>, AppError> {
    let key = keyring.derived_keys(RECOVERY_KEY_LABEL)[0];
    sqlx::query("delete from recovery_code where user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let digests: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| recovery_digest(&key, user_id, &normalize(c)))
        .collect();
    sqlx::query(
        "insert into recovery_code (user_id, code_sha256) select $1, d from unnest($2::bytea[]) d",
    )
    .bind(user_id)
    .bind(&digests)
    .execute(&mut *conn)
    .await?;
    Ok(codes)
}

async fn load_seed(
    conn: &mut PgConnection,
    keyring: &Keyring,
    user_id: Uuid,
    enabled: bool,
) -> Result<Option<(Vec<u8>, i64)>, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        last_used_step: i64,
        #[sqlx(flatten)]
        sealed: Sealed,
    }
    let row: Option<Row> = sqlx::query_as(
        "select last_used_step, format, kek_id, dek_nonce, wrapped_dek, nonce, ciphertext
         from user_totp where user_id = $1 and (enabled_at is not null) = $2 for update",
    )
    .bind(user_id)
    .bind(enabled)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let seed = envelope::open(keyring, &binding(user_id), &row.sealed).map_err(|error| {
        tracing::error!(%user_id, %error, "a TOTP seed could not be decrypted");
        AppError::Undecryptable(
            "Your authenticator seed cannot be decrypted; ask a platform admin.".into(),
        )
    })?;
    Ok(Some((seed, row.last_used_step)))
}

/// Whether the user has two-factor authentication on.
pub async fn is_enabled(db: &PgPool, user_id: Uuid) -> Result<bool, AppError> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from user_totp where user_id = $1 and enabled_at is not null)",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?)
}

/// When it was turned on, and how many unused recovery codes are left.
pub async fn status(db: &PgPool, user_id: Uuid) -> Result<(Option<OffsetDateTime>, i64), AppError> {
    Ok(sqlx::query_as(
        "select (select enabled_at from user_totp where user_id = $1),
                (select count(*) from recovery_code where user_id = $1 and used_at is null)",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?)
}

/// Starts (or restarts) enrolment: a new seed, pending until a code confirms it.
pub async fn start_enrolment(
    db: &PgPool,
    keyring: &Keyring,
    actor: &Actor,
) -> Result<MfaEnrolment, AppError> {
    use rand::RngCore;
    let mut seed = vec![0u8; SEED_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let sealed = envelope::seal(keyring, &binding(actor.user_id), &seed);
    let updated = sqlx::query(
        "insert into user_totp (user_id, format, kek_id, dek_nonce, wrapped_dek, nonce, ciphertext)
         values ($1, $2, $3, $4, $5, $6, $7)
         on conflict (user_id) do update set
             format = excluded.format, kek_id = excluded.kek_id, dek_nonce = excluded.dek_nonce,
             wrapped_dek = excluded.wrapped_dek, nonce = excluded.nonce,
             ciphertext = excluded.ciphertext, last_used_step = 0, created_at = now()
         where user_totp.enabled_at is null",
    )
    .bind(actor.user_id)
    .bind(sealed.format)
    .bind(&sealed.kek_id)
    .bind(&sealed.dek_nonce)
    .bind(&sealed.wrapped_dek)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .execute(db)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(AppError::Conflict {
            field: None,
            message: "Two-factor authentication is already on. Turn it off first to use another authenticator.".into(),
        });
    }
    let totp = totp(seed, &actor.email)?;
    let manual_key = totp
        .get_secret_base32()
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let otpauth_uri = totp.get_url();
    let qr_svg = qr_svg(&otpauth_uri)?;
    Ok(MfaEnrolment {
        manual_key,
        otpauth_uri,
        qr_svg,
        required: actor.platform_admin,
    })
}

/// The QR code for `uri` as an inline SVG (no XML declaration, so it can sit in HTML).
fn qr_svg(uri: &str) -> Result<String, AppError> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::with_error_correction_level(uri, qrcode::EcLevel::M)
        .map_err(|_| AppError::Internal)?;
    let svg = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    Ok(svg
        .split_once("?>")
        .map_or(svg.clone(), |(_, rest)| rest.to_string()))
}

/// Confirms enrolment with a current code: turns it on and returns fresh recovery codes.
pub async fn confirm_enrolment(
    db: &PgPool,
    keyring: &Keyring,
    actor: &Actor,
    code: &str,
) -> Result<Vec<String>, AppError> {
    let code = normalize(code);
    if !is_totp_shape(&code) {
        return Err(bad_code(
            "Enter the 6-digit code your authenticator app shows.",
        ));
    }
    limit_attempt(db, actor.user_id, &actor.email).await?;
    let result = confirm_code(db, keyring, actor, &code).await;
    settle_attempt(db, actor.user_id, &actor.email, "enrolment", &result).await?;
    result
}

async fn confirm_code(
    db: &PgPool,
    keyring: &Keyring,
    actor: &Actor,
    code: &str,
) -> Result<Vec<String>, AppError> {
    let mut tx = db.begin().await?;
    let Some((seed, _)) = load_seed(&mut tx, keyring, actor.user_id, false).await? else {
        return Err(AppError::Conflict {
            field: None,
            message: "There is no enrolment waiting for a code. Start again.".into(),
        });
    };
    let Some(step) = matching_step(&totp(seed, &actor.email)?, code) else {
        return Err(bad_code(
            "That code does not match. Check the time on your device and enter the current code.",
        ));
    };
    sqlx::query("update user_totp set enabled_at = now(), last_used_step = $2 where user_id = $1")
        .bind(actor.user_id)
        .bind(step)
        .execute(&mut *tx)
        .await?;
    let codes = replace_recovery_codes(&mut tx, keyring, actor.user_id).await?;
    audit::record_account_event(
        &mut tx,
        actor.user_id,
        &actor.email,
        AuditAction::MfaEnabled,
        "totp",
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %actor.user_id, "two-factor authentication turned on");
    Ok(codes)
}

/// Counts a second-factor attempt against both limits (15 minutes, one day); the first
/// refusal of a window is audited as a lockout.
async fn limit_attempt(db: &PgPool, user_id: Uuid, email: &str) -> Result<(), AppError> {
    let key = user_id.to_string();
    for limit in [Limit::SecondFactor, Limit::SecondFactorDaily] {
        let hit = rate_limit::count(db, limit, &key).await?;
        if hit.over() {
            if hit.just_over() {
                let mut conn = db.acquire().await?;
                audit::record_account_event(
                    &mut conn,
                    user_id,
                    email,
                    AuditAction::UserSignInLocked,
                    "second factor",
                )
                .await?;
            }
            return Err(hit.refusal());
        }
    }
    Ok(())
}

/// After an attempt: a success is forgiven; a wrong code is audited (the limits above bound
/// how many such events one account can cause).
async fn settle_attempt<T>(
    db: &PgPool,
    user_id: Uuid,
    email: &str,
    during: &str,
    result: &Result<T, AppError>,
) -> Result<(), AppError> {
    let key = user_id.to_string();
    match result {
        Ok(_) => {
            rate_limit::forgive(db, Limit::SecondFactor, &key).await?;
            rate_limit::forgive(db, Limit::SecondFactorDaily, &key).await?;
        }
        Err(AppError::Invalid(_)) => {
            let mut conn = db.acquire().await?;
            audit::record_account_event(
                &mut conn,
                user_id,
                email,
                AuditAction::MfaCodeRejected,
                during,
            )
            .await?;
        }
        Err(_) => {}
    }
    Ok(())
}

/// Which kind of second factor was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Totp,
    RecoveryCode,
}

/// Checks a TOTP code (single-use: its step must be later than the last accepted one) or a
/// recovery code (consumed). Limited per account.
pub async fn verify(
    db: &PgPool,
    keyring: &Keyring,
    user_id: Uuid,
    email: &str,
    code: &str,
) -> Result<Verified, AppError> {
    let code = normalize(code);
    if code.is_empty() {
        return Err(bad_code("Enter the code from your authenticator app."));
    }
    limit_attempt(db, user_id, email).await?;
    let result = verify_code(db, keyring, user_id, email, &code).await;
    settle_attempt(db, user_id, email, "second factor", &result).await?;
    result
}

async fn verify_code(
    db: &PgPool,
    keyring: &Keyring,
    user_id: Uuid,
    email: &str,
    code: &str,
) -> Result<Verified, AppError> {
    let mut tx = db.begin().await?;
    let verified = if is_totp_shape(code) {
        let Some((seed, last_used)) = load_seed(&mut tx, keyring, user_id, true).await? else {
            return Err(bad_code(
                "Two-factor authentication is not on for this account.",
            ));
        };
        match matching_step(&totp(seed, email)?, code) {
            Some(step) if step > last_used => {
                sqlx::query("update user_totp set last_used_step = $2 where user_id = $1")
                    .bind(user_id)
                    .bind(step)
                    .execute(&mut *tx)
                    .await?;
                Verified::Totp
            }
            Some(_) => {
                return Err(bad_code(
                    "That code has already been used. Wait for the next one.",
                ))
            }
            None => return Err(bad_code("That code is not valid.")),
        }
    } else if code.len() == 10 {
        let used = sqlx::query(
            "update recovery_code set used_at = now()
             where user_id = $1 and code_sha256 = any($2) and used_at is null",
        )
        .bind(user_id)
        .bind(recovery_digests(keyring, user_id, code))
        .execute(&mut *tx)
        .await?;
        if used.rows_affected() != 1 {
            return Err(bad_code(
                "That recovery code is not valid or was already used.",
            ));
        }
        audit::record_account_event(
            &mut tx,
            user_id,
            email,
            AuditAction::MfaRecoveryCodeUsed,
            "",
        )
        .await?;
        Verified::RecoveryCode
    } else {
        return Err(bad_code(
            "Enter the 6-digit code from your authenticator app, or a recovery code (xxxxx-xxxxx).",
        ));
    };
    tx.commit().await?;
    Ok(verified)
}

/// Turns two-factor authentication off (needs a recent re-authentication, which itself needed
/// a code). A platform admin is then asked to enrol again before anything else.
pub async fn disable(db: &PgPool, actor: &Actor) -> Result<(), AppError> {
    require_recent_reauth(actor)?;
    let mut tx = db.begin().await?;
    let removed = sqlx::query("delete from user_totp where user_id = $1")
        .bind(actor.user_id)
        .execute(&mut *tx)
        .await?;
    if removed.rows_affected() == 0 {
        return Err(AppError::Conflict {
            field: None,
            message: "Two-factor authentication is already off.".into(),
        });
    }
    sqlx::query("delete from recovery_code where user_id = $1")
        .bind(actor.user_id)
        .execute(&mut *tx)
        .await?;
    audit::record_account_event(
        &mut tx,
        actor.user_id,
        &actor.email,
        AuditAction::MfaDisabled,
        "totp",
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %actor.user_id, "two-factor authentication turned off");
    Ok(())
}

/// Turns MFA off for a user from the command line (`stratus reset-mfa`): for someone who lost
/// both the authenticator and the recovery codes. Ends their sessions.
pub async fn reset(db: &PgPool, email: &str) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let user_id: Uuid = sqlx::query_scalar(
        "update app_user set session_epoch = session_epoch + 1 where email = $1 returning user_id",
    )
    .bind(crate::backend::identity::normalize_email(email))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("delete from user_totp where user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from recovery_code where user_id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    audit::record_account_event(
        &mut tx,
        user_id,
        email,
        AuditAction::MfaReset,
        "stratus reset-mfa",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// New recovery codes (the old ones stop working); needs a recent re-authentication.
pub async fn regenerate_recovery_codes(
    db: &PgPool,
    keyring: &Keyring,
    actor: &Actor,
) -> Result<Vec<String>, AppError> {
    require_recent_reauth(actor)?;
    if !is_enabled(db, actor.user_id).await? {
        return Err(AppError::Conflict {
            field: None,
            message: "Turn on two-factor authentication first.".into(),
        });
    }
    let mut tx = db.begin().await?;
    let codes = replace_recovery_codes(&mut tx, keyring, actor.user_id).await?;
    audit::record_account_event(
        &mut tx,
        actor.user_id,
        &actor.email,
        AuditAction::MfaRecoveryCodesRegenerated,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(codes)
}

/// Re-wraps TOTP seeds under the active key (part of `stratus keys rotate`).
/// Returns (re-wrapped, failures by user id).
pub async fn rotate_seeds(
    db: &PgPool,
    keyring: &Keyring,
) -> Result<(u64, Vec<(Uuid, String)>), AppError> {
    let mut tx = db.begin().await?;
    // A user's id and their sealed seed's columns.
    type SeedRow = (Uuid, i16, String, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>);
    let rows: Vec<SeedRow> = sqlx::query_as(
        "select user_id, format, kek_id, dek_nonce, wrapped_dek, nonce, ciphertext
         from user_totp where kek_id <> $1 for update",
    )
    .bind(&keyring.active().id)
    .fetch_all(&mut *tx)
    .await?;
    let (mut done, mut failed) = (0, Vec::new());
    for (user_id, format, kek_id, dek_nonce, wrapped_dek, nonce, ciphertext) in rows {
        let sealed = Sealed {
            format,
            kek_id,
            dek_nonce,
            wrapped_dek,
            nonce,
            ciphertext,
        };
        match envelope::rewrap(keyring, &binding(user_id), &sealed) {
            Ok(new) => {
                sqlx::query(
                    "update user_totp set kek_id = $2, dek_nonce = $3, wrapped_dek = $4 where user_id = $1",
                )
                .bind(user_id)
                .bind(&new.kek_id)
                .bind(&new.dek_nonce)
                .bind(&new.wrapped_dek)
                .execute(&mut *tx)
                .await?;
                done += 1;
            }
            Err(error) => failed.push((user_id, error.to_string())),
        }
    }
    tx.commit().await?;
    Ok((done, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_random_and_normalise() {
        let a = new_recovery_code();
        let b = new_recovery_code();
        assert_ne!(a, b);
        assert_eq!(a.len(), 11);
        assert_eq!(normalize(&a.to_uppercase()), a.replace('-', ""));
        assert_eq!(normalize(" 123 456 "), "123456");
        assert!(is_totp_shape("123456") && !is_totp_shape("12345a"));
    }

    #[test]
    fn codes_match_only_within_the_skew_window() {
        let totp = totp(vec![7u8; SEED_BYTES], "a@b.test").unwrap();
        let now = current_step();
        for offset in -1..=1 {
            let code = totp.generate(((now + offset) as u64) * STEP_SECS);
            assert_eq!(matching_step(&totp, &code), Some(now + offset));
        }
        let far = totp.generate(((now - 3) as u64) * STEP_SECS);
        assert_eq!(matching_step(&totp, &far), None);
    }

    #[test]
    fn the_qr_code_is_inline_svg() {
        let svg = qr_svg("otpauth://totp/Stratus:a%40b.test?secret=ABC&issuer=Stratus").unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    }
}
