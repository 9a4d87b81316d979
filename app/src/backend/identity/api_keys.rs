//! API keys for automation, and the bearer credentials `/api/v1` accepts.
//!
//! A key reads `stx_` + 32 random base62 characters + a 6-character base62 CRC-32 of what
//! precedes it, so secret scanners can recognise a leaked key offline. Only its SHA-256 is stored.
//! A key acts for its creator in one tenant with at most the role it was given; removing the
//! member or disabling the user stops it at once, because every use re-reads both.

use crate::backend::identity::actor::{Actor, Via};
use crate::backend::identity::credential::Credential;
use crate::backend::identity::jwt::{self, Claims, JwtKeys};
use crate::backend::{audit, token_digest};
use crate::error::AppError;
use crate::model::{ApiKeyView, AuditAction, CreatedApiKey, Role};
use crate::rbac::{allows, authorize, Action};
use crate::validate::Checks;
use rand::Rng;
use sqlx::PgPool;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub const KEY_PREFIX: &str = "stx_";
const RANDOM_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
/// Characters of the key kept in lists: the prefix and eight random ones.
const SHOWN_LEN: usize = KEY_PREFIX.len() + 8;
pub const DEFAULT_DAYS: i64 = 90;
pub const MAX_DAYS: i64 = 365;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62_fixed(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).expect("base62 is ASCII")
}

fn checksum(body: &str) -> String {
    base62_fixed(crc32fast::hash(body.as_bytes()) as u64, CHECKSUM_LEN)
}

/// A new random key (about 190 bits of entropy).
pub fn generate_key() -> String {
    let mut rng = rand::rngs::OsRng;
    let random: String = (0..RANDOM_LEN)
        .map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char)
        .collect();
    let body = format!("{KEY_PREFIX}{random}");
    let sum = checksum(&body);
    body + &sum
}

/// True when `key` has the shape of a Stratus key and its checksum matches.
pub fn is_well_formed(key: &str) -> bool {
    key.len() == KEY_PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN
        && key.starts_with(KEY_PREFIX)
        && key.bytes().all(|b| b == b'_' || b.is_ascii_alphanumeric())
        && {
            let (body, sum) = key.split_at(key.len() - CHECKSUM_LEN);
            checksum(body) == sum
        }
}

const VIEW_COLUMNS: &str =
    "k.key_id, k.name, k.prefix, k.role, u.email as owner_email, k.created_at,
     k.expires_at, k.last_used_at, k.revoked_at";

pub async fn create(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    name: &str,
    role: Role,
    days: i64,
) -> Result<CreatedApiKey, AppError> {
    let access = authorize(db, actor, tenant_id, Action::ManageOwnApiKeys).await?;
    if actor.via != Via::Session {
        return Err(AppError::Forbidden(
            "API keys are created in the portal, not with another key.".into(),
        ));
    }
    let name = name.trim();
    Checks::default()
        .check(
            "name",
            if (1..=80).contains(&name.chars().count()) {
                Ok(())
            } else {
                Err("Give the key a name of 1 to 80 characters.".into())
            },
        )
        .check(
            "role",
            if role <= access.role {
                Ok(())
            } else {
                Err(format!(
                    "A key's role can be at most your own ({}).",
                    access.role.label()
                ))
            },
        )
        .check(
            "days",
            if (1..=MAX_DAYS).contains(&days) {
                Ok(())
            } else {
                Err(format!("Choose between 1 and {MAX_DAYS} days."))
            },
        )
        .finish()?;
    crate::backend::identity::reauth::require_recent_reauth(actor)?;

    let secret = generate_key();
    let expires_at = OffsetDateTime::now_utc() + Duration::days(days);
    let mut tx = db.begin().await?;
    let key_id: Uuid = sqlx::query_scalar(
        "insert into api_key (tenant_id, user_id, name, prefix, secret_sha256, role, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7) returning key_id",
    )
    .bind(tenant_id)
    .bind(actor.user_id)
    .bind(name)
    .bind(&secret[..SHOWN_LEN])
    .bind(token_digest(&secret))
    .bind(role)
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await?;
    audit::record_with(
        &mut tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::ApiKeyCreated,
        &format!("{name} ({}…, {})", &secret[..SHOWN_LEN], role.as_str()),
        serde_json::Value::Null,
    )
    .await?;
    let key = fetch_view(&mut tx, tenant_id, key_id).await?;
    tx.commit().await?;
    Ok(CreatedApiKey { key, secret })
}

async fn fetch_view(
    conn: &mut sqlx::PgConnection,
    tenant_id: Uuid,
    key_id: Uuid,
) -> Result<ApiKeyView, AppError> {
    Ok(sqlx::query_as(&format!(
        "select {VIEW_COLUMNS} from api_key k join app_user u using (user_id)
         where k.tenant_id = $1 and k.key_id = $2"
    ))
    .bind(tenant_id)
    .bind(key_id)
    .fetch_one(conn)
    .await?)
}

/// The actor's own keys; admins see every key in the tenant. Newest first.
pub async fn list(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<Vec<ApiKeyView>, AppError> {
    let access = authorize(db, actor, tenant_id, Action::ViewTenant).await?;
    let everyone = allows(access.role, Action::ManageAllApiKeys);
    Ok(sqlx::query_as(&format!(
        "select {VIEW_COLUMNS} from api_key k join app_user u using (user_id)
         where k.tenant_id = $1 and ($2 or k.user_id = $3)
         order by k.created_at desc, k.key_id"
    ))
    .bind(tenant_id)
    .bind(everyone)
    .bind(actor.user_id)
    .fetch_all(db)
    .await?)
}

/// A page of [`list`] ordered by key id, after `after` (REST's keyset paging).
pub async fn list_page(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ApiKeyView>, AppError> {
    let access = authorize(db, actor, tenant_id, Action::ViewTenant).await?;
    let everyone = allows(access.role, Action::ManageAllApiKeys);
    Ok(sqlx::query_as(&format!(
        "select {VIEW_COLUMNS} from api_key k join app_user u using (user_id)
         where k.tenant_id = $1 and ($2 or k.user_id = $3) and ($4::uuid is null or k.key_id > $4)
         order by k.key_id limit $5"
    ))
    .bind(tenant_id)
    .bind(everyone)
    .bind(actor.user_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Revokes a key at once: one's own, or (admins) anyone's. Allowed in a suspended tenant, since
/// taking access away is always safe.
pub async fn revoke(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    key_id: Uuid,
) -> Result<ApiKeyView, AppError> {
    authorize(db, actor, tenant_id, Action::ViewTenant).await?;
    let owner: Uuid =
        sqlx::query_scalar("select user_id from api_key where tenant_id = $1 and key_id = $2")
            .bind(tenant_id)
            .bind(key_id)
            .fetch_optional(db)
            .await?
            .ok_or(AppError::NotFound)?;
    if owner != actor.user_id {
        authorize(db, actor, tenant_id, Action::ManageAllApiKeys).await?;
    }
    let mut tx = db.begin().await?;
    let (name, prefix): (String, String) = sqlx::query_as(
        "update api_key set revoked_at = coalesce(revoked_at, now())
         where tenant_id = $1 and key_id = $2 returning name, prefix",
    )
    .bind(tenant_id)
    .bind(key_id)
    .fetch_one(&mut *tx)
    .await?;
    audit::record_with(
        &mut tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::ApiKeyRevoked,
        &format!("{name} ({prefix}…)"),
        serde_json::Value::Null,
    )
    .await?;
    let view = fetch_view(&mut tx, tenant_id, key_id).await?;
    tx.commit().await?;
    Ok(view)
}

/// Revokes every live key of `user_id` (in one tenant, or everywhere) inside the caller's
/// transaction, when the person is removed or disabled; returns how many.
pub async fn revoke_all(
    conn: &mut sqlx::PgConnection,
    user_id: Uuid,
    tenant_id: Option<Uuid>,
) -> Result<u64, AppError> {
    Ok(sqlx::query(
        "update api_key set revoked_at = now()
         where user_id = $1 and ($2::uuid is null or tenant_id = $2) and revoked_at is null",
    )
    .bind(user_id)
    .bind(tenant_id)
    .execute(conn)
    .await?
    .rows_affected())
}

/// What a usable key resolves to.
#[derive(sqlx::FromRow)]
struct KeyOwner {
    key_id: Uuid,
    tenant_id: Uuid,
    role: Role,
    user_id: Uuid,
    email: String,
    display_name: String,
    platform_admin: bool,
    expires_at: OffsetDateTime,
}

/// A key that is unrevoked, unexpired, of an enabled user who is still a member.
const USABLE_KEY: &str = "select k.key_id, k.tenant_id, k.role, u.user_id, u.email, u.display_name,
        u.platform_admin, k.expires_at
     from api_key k
     join app_user u using (user_id)
     join membership m on m.tenant_id = k.tenant_id and m.user_id = k.user_id
     where k.revoked_at is null and k.expires_at > now() and u.disabled_at is null";

fn unusable_key() -> AppError {
    AppError::InvalidToken("This API key is unknown, revoked or expired.".into())
}

/// Records a refused bearer credential (bounded like every unauthenticated event): the shown
/// part of a key, never the rest.
async fn record_rejected(db: &PgPool, what: &str, reason: &str) -> Result<(), AppError> {
    audit::record_unauthenticated(
        db,
        AuditAction::CredentialRejected,
        what,
        serde_json::json!({ "reason": reason }),
    )
    .await
}

fn shown_part(secret: &str) -> String {
    secret.chars().take(SHOWN_LEN).collect()
}

async fn usable_key(db: &PgPool, secret: &str) -> Result<KeyOwner, AppError> {
    if !is_well_formed(secret) {
        record_rejected(db, &shown_part(secret), "malformed").await?;
        return Err(AppError::InvalidToken(
            "This is not a Stratus API key (wrong prefix, length or checksum).".into(),
        ));
    }
    let Some(owner) =
        sqlx::query_as::<_, KeyOwner>(&format!("{USABLE_KEY} and k.secret_sha256 = $1"))
            .bind(token_digest(secret))
            .fetch_optional(db)
            .await?
    else {
        record_rejected(db, &shown_part(secret), "unknown, revoked or expired").await?;
        return Err(unusable_key());
    };
    // At most one write a minute per key, however busy it is.
    sqlx::query(
        "update api_key set last_used_at = now()
         where key_id = $1 and (last_used_at is null or last_used_at < now() - interval '1 minute')",
    )
    .bind(owner.key_id)
    .execute(db)
    .await?;
    Ok(owner)
}

fn actor_for(owner: KeyOwner) -> Actor {
    Actor {
        user_id: owner.user_id,
        email: owner.email,
        display_name: owner.display_name,
        platform_admin: owner.platform_admin,
        current_tenant: Some(owner.tenant_id),
        reauthenticated_at: None,
        via: Via::ApiKey {
            key_id: owner.key_id,
            tenant_id: owner.tenant_id,
            role: owner.role,
        },
    }
}

/// The actor behind an `Authorization: Bearer` value: an API key or an access token.
pub async fn authenticate_bearer(
    db: &PgPool,
    keys: &JwtKeys,
    bearer: &str,
) -> Result<Actor, AppError> {
    Ok(authenticate_bearer_credential(db, keys, bearer).await?.0)
}

/// [`authenticate_bearer`], with the credential itself, for connections that outlive the
/// request and must check it again (the event stream).
pub async fn authenticate_bearer_credential(
    db: &PgPool,
    keys: &JwtKeys,
    bearer: &str,
) -> Result<(Actor, Credential), AppError> {
    if bearer.starts_with(KEY_PREFIX) {
        let owner = usable_key(db, bearer).await?;
        let credential = Credential::ApiKey {
            key_id: owner.key_id,
        };
        return Ok((actor_for(owner), credential));
    }
    let claims = match keys.verify(bearer) {
        Ok(claims) => claims,
        Err(error) => {
            record_rejected(db, "access token", "invalid or expired").await?;
            return Err(error);
        }
    };
    let Some(owner) = sqlx::query_as::<_, KeyOwner>(&format!(
        "{USABLE_KEY} and k.key_id = $1 and k.user_id = $2 and k.tenant_id = $3"
    ))
    .bind(claims.key)
    .bind(claims.sub)
    .bind(claims.tid)
    .fetch_optional(db)
    .await?
    else {
        record_rejected(db, "access token", "its key is revoked or expired").await?;
        return Err(unusable_key());
    };
    let credential = Credential::AccessToken {
        key_id: owner.key_id,
        expires_at: claims.exp,
    };
    Ok((actor_for(owner), credential))
}

/// `Ok(())` while the key can still be used (unrevoked, unexpired, its user enabled and still
/// a member of its tenant).
pub async fn check_usable(db: &PgPool, key_id: Uuid) -> Result<(), AppError> {
    sqlx::query_scalar::<_, Uuid>(&format!(
        "select key_id from ({USABLE_KEY} and k.key_id = $1) usable"
    ))
    .bind(key_id)
    .fetch_optional(db)
    .await?
    .map(|_| ())
    .ok_or_else(unusable_key)
}

/// What per-key rate limits count: the digest of the whole key as sent (a string of any length
/// becomes 64 hex characters), never its public prefix, which anyone who saw a key list knows.
pub fn limit_key(secret: &str) -> String {
    hex::encode(token_digest(secret))
}

/// An issued access token.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct AccessToken {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

/// Exchanges an API key for an access token of at most 15 minutes (never outliving the key).
pub async fn exchange(db: &PgPool, keys: &JwtKeys, secret: &str) -> Result<AccessToken, AppError> {
    let owner = usable_key(db, secret).await?;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let exp = (now + jwt::LIFETIME_SECS).min(owner.expires_at.unix_timestamp());
    let claims = Claims {
        iss: jwt::ISSUER.into(),
        aud: jwt::AUDIENCE.into(),
        sub: owner.user_id,
        tid: owner.tenant_id,
        key: owner.key_id,
        role: owner.role,
        iat: now,
        nbf: now,
        exp,
        jti: Uuid::new_v4(),
    };
    let access_token = keys.issue(&claims)?;
    let actor = actor_for(owner);
    audit::record_now(
        db,
        (&actor).into(),
        Some(claims.tid),
        AuditAction::TokenIssued,
        &shown_part(secret),
        serde_json::json!({ "jti": claims.jti, "expires_in": exp - now }),
    )
    .await?;
    Ok(AccessToken {
        access_token,
        token_type: "Bearer".into(),
        expires_in: exp - now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_carry_a_checksum() {
        let key = generate_key();
        assert!(is_well_formed(&key), "{key}");
        assert_eq!(key.len(), 42);
        // Any single changed character breaks the checksum.
        let mut tampered = key.clone().into_bytes();
        tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
        assert!(!is_well_formed(&String::from_utf8(tampered).unwrap()));
        assert!(!is_well_formed("stx_short"));
        assert_ne!(generate_key(), key);
    }
}
