//! Tenant secrets: envelope-encrypted values that are written, never read back, except by an
//! audited reveal after a fresh password confirmation.

pub mod envelope;
pub mod keyfile;

pub use envelope::Keyring;

use crate::backend::audit;
use crate::backend::identity::actor::Actor;
use crate::backend::identity::reauth::require_recent_reauth;
use crate::error::AppError;
use crate::model::{AuditAction, SecretView};
use crate::rbac::{authorize, Action};
use crate::validate::Checks;
use envelope::{Binding, SealError, Sealed};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What a secret is for; part of its encryption binding.
pub const PURPOSE_USER: &str = "user";
pub const PURPOSE_CLOUD_CREDENTIALS: &str = "cloud-credentials";

const MAX_VALUE_BYTES: usize = 64 * 1024;

pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok {
        Ok(())
    } else {
        Err(
            "Use 1 to 64 letters, digits, '-', '_', '.' or '/', starting with a letter or digit."
                .into(),
        )
    }
}

pub fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        Err("Enter a value.".into())
    } else if value.len() > MAX_VALUE_BYTES {
        Err("Values are limited to 64 KiB.".into())
    } else {
        Ok(())
    }
}

fn undecryptable(name: &str, error: SealError) -> AppError {
    tracing::error!(secret = %name, %error, "a secret could not be decrypted");
    AppError::Undecryptable(format!(
        "The secret \"{name}\" cannot be decrypted: {error}."
    ))
}

/// Encrypts and stores a value (inside the caller's transaction). Returns the secret's id.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    keyring: &Keyring,
    tenant_id: Uuid,
    name: &str,
    purpose: &str,
    value: &SecretString,
    created_by: Option<Uuid>,
) -> Result<Uuid, AppError> {
    let secret_id = Uuid::new_v4();
    let sealed = envelope::seal(
        keyring,
        &Binding {
            tenant_id,
            secret_id,
            purpose,
        },
        value.expose_secret().as_bytes(),
    );
    sqlx::query(
        "insert into secret (secret_id, tenant_id, name, purpose, format, kek_id, dek_nonce, wrapped_dek, nonce, ciphertext, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(secret_id)
    .bind(tenant_id)
    .bind(name)
    .bind(purpose)
    .bind(sealed.format)
    .bind(&sealed.kek_id)
    .bind(&sealed.dek_nonce)
    .bind(&sealed.wrapped_dek)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .bind(created_by)
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        if crate::backend::violates(&e, "secret_tenant_name_key") {
            AppError::conflict("name", format!("A secret named \"{name}\" already exists."))
        } else {
            e.into()
        }
    })?;
    Ok(secret_id)
}

#[derive(sqlx::FromRow)]
struct StoredSecret {
    name: String,
    purpose: String,
    #[sqlx(flatten)]
    sealed: Sealed,
}

/// Decrypts a tenant's secret for the backend's own use (e.g. cloud credentials). It does not
/// authorize: callers check the actor first.
pub async fn read(
    db: &PgPool,
    keyring: &Keyring,
    tenant_id: Uuid,
    secret_id: Uuid,
) -> Result<SecretString, AppError> {
    let stored: StoredSecret = sqlx::query_as(
        "select name, purpose, format, kek_id, dek_nonce, wrapped_dek, nonce, ciphertext
         from secret where secret_id = $1 and tenant_id = $2",
    )
    .bind(secret_id)
    .bind(tenant_id)
    .fetch_one(db)
    .await?;
    let binding = Binding {
        tenant_id,
        secret_id,
        purpose: &stored.purpose,
    };
    let bytes = envelope::open(keyring, &binding, &stored.sealed)
        .map_err(|e| undecryptable(&stored.name, e))?;
    String::from_utf8(bytes)
        .map(SecretString::from)
        .map_err(|_| {
            AppError::Undecryptable(format!("The secret \"{}\" is not text.", stored.name))
        })
}

pub async fn list_secrets(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<Vec<SecretView>, AppError> {
    list_secrets_page(db, actor, tenant_id, None, None).await
}

const SECRET_COLUMNS: &str = "secret_id, name, purpose, created_at, updated_at, last_revealed_at";

/// The tenant's secrets (never their values) ordered by name, after `after_name`, at most
/// `limit` (all when `None`): keyset pagination in SQL.
pub async fn list_secrets_page(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    after_name: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<SecretView>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewSecrets).await?;
    Ok(sqlx::query_as(&format!(
        "select {SECRET_COLUMNS} from secret where tenant_id = $1 and ($2::text is null or name > $2)
         order by name limit $3"
    ))
    .bind(tenant_id)
    .bind(after_name)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// One secret of the tenant (never its value); another tenant's is 404.
pub async fn get_secret(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    secret_id: Uuid,
) -> Result<SecretView, AppError> {
    authorize(db, actor, tenant_id, Action::ViewSecrets).await?;
    Ok(sqlx::query_as(&format!(
        "select {SECRET_COLUMNS} from secret where tenant_id = $1 and secret_id = $2"
    ))
    .bind(tenant_id)
    .bind(secret_id)
    .fetch_one(db)
    .await?)
}

pub async fn create_secret(
    db: &PgPool,
    keyring: &Keyring,
    actor: &Actor,
    tenant_id: Uuid,
    name: &str,
    value: SecretString,
) -> Result<Uuid, AppError> {
    authorize(db, actor, tenant_id, Action::ManageSecrets).await?;
    let name = name.trim();
    Checks::default()
        .check("name", check_name(name))
        .check("value", check_value(value.expose_secret()))
        .finish()?;
    let mut tx = db.begin().await?;
    let secret_id = insert(
        &mut tx,
        keyring,
        tenant_id,
        name,
        PURPOSE_USER,
        &value,
        Some(actor.user_id),
    )
    .await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::SecretCreated,
        name,
        serde_json::json!({ "secret_id": secret_id }),
    )
    .await?;
    Ok(secret_id)
}

/// Replaces a user secret's value (with a fresh data key).
pub async fn update_secret(
    db: &PgPool,
    keyring: &Keyring,
    actor: &Actor,
    tenant_id: Uuid,
    secret_id: Uuid,
    value: SecretString,
) -> Result<(), AppError> {
    authorize(db, actor, tenant_id, Action::ManageSecrets).await?;
    Checks::default()
        .check("value", check_value(value.expose_secret()))
        .finish()?;
    let mut tx = db.begin().await?;
    let (name, purpose): (String, String) = sqlx::query_as(
        "select name, purpose from secret where secret_id = $1 and tenant_id = $2 and purpose = 'user' for update",
    )
    .bind(secret_id)
    .bind(tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    let sealed = envelope::seal(
        keyring,
        &Binding {
            tenant_id,
            secret_id,
            purpose: &purpose,
        },
        value.expose_secret().as_bytes(),
    );
    sqlx::query(
        "update secret set format = $2, kek_id = $3, dek_nonce = $4, wrapped_dek = $5, nonce = $6, ciphertext = $7
         where secret_id = $1",
    )
    .bind(secret_id)
    .bind(sealed.format)
    .bind(&sealed.kek_id)
    .bind(&sealed.dek_nonce)
    .bind(&sealed.wrapped_dek)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .execute(&mut *tx)
    .await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::SecretUpdated,
        &name,
        serde_json::json!({ "secret_id": secret_id }),
    )
    .await?;
    Ok(())
}

pub async fn delete_secret(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    secret_id: Uuid,
) -> Result<(), AppError> {
    authorize(db, actor, tenant_id, Action::ManageSecrets).await?;
    let mut tx = db.begin().await?;
    let name: String = sqlx::query_scalar(
        "delete from secret where secret_id = $1 and tenant_id = $2 returning name",
    )
    .bind(secret_id)
    .bind(tenant_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if e.as_database_error()
            .is_some_and(|d| d.is_foreign_key_violation())
        {
            AppError::Conflict {
                field: None,
                message: "A cloud account uses this secret; delete the cloud account instead."
                    .into(),
            }
        } else {
            e.into()
        }
    })?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::SecretDeleted,
        &name,
        serde_json::json!({ "secret_id": secret_id }),
    )
    .await?;
    Ok(())
}

/// Returns a secret's value: admins only, after a password confirmation in the last 5 minutes.
/// Every reveal is audited.
pub async fn reveal_secret(
    db: &PgPool,
    keyring: &Keyring,
    actor: &Actor,
    tenant_id: Uuid,
    secret_id: Uuid,
) -> Result<SecretString, AppError> {
    authorize(db, actor, tenant_id, Action::RevealSecret).await?;
    require_recent_reauth(actor)?;
    // Cloud credentials stay with their cloud account: only user secrets are revealed.
    let is_user_secret: bool = sqlx::query_scalar(
        "select purpose = 'user' from secret where secret_id = $1 and tenant_id = $2",
    )
    .bind(secret_id)
    .bind(tenant_id)
    .fetch_one(db)
    .await?;
    if !is_user_secret {
        return Err(AppError::Forbidden(
            "Cloud credentials cannot be revealed; replace the cloud account instead.".into(),
        ));
    }
    let value = read(db, keyring, tenant_id, secret_id).await?;
    let mut tx = db.begin().await?;
    let name: String = sqlx::query_scalar(
        "update secret set last_revealed_at = now() where secret_id = $1 returning name",
    )
    .bind(secret_id)
    .fetch_one(&mut *tx)
    .await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::SecretRevealed,
        &name,
        serde_json::json!({ "secret_id": secret_id }),
    )
    .await?;
    Ok(value)
}

/// Outcome of `stratus keys rotate`.
#[derive(Debug, Default)]
pub struct Rotation {
    pub rewrapped: u64,
    pub already_current: u64,
    /// Secrets that could not be unwrapped (key missing or data altered), by id.
    pub failed: Vec<(Uuid, String)>,
    /// TOTP seeds (sealed with the same keys) re-wrapped.
    pub seeds_rewrapped: u64,
}

/// Re-wraps every data key not under the active KEK. Values are not re-encrypted, so this is
/// fast; afterwards the old keys can be removed from configuration.
pub async fn rotate(db: &PgPool, keyring: &Keyring) -> Result<Rotation, AppError> {
    let already_current: i64 = sqlx::query_scalar("select count(*) from secret where kek_id = $1")
        .bind(&keyring.active().id)
        .fetch_one(db)
        .await?;
    let mut report = Rotation {
        already_current: already_current as u64,
        ..Rotation::default()
    };
    let mut after = Uuid::nil();
    loop {
        let mut tx = db.begin().await?;
        let batch: Vec<(Uuid, Uuid, String, Sealed)> = sqlx::query_as::<_, (Uuid, Uuid, String, i16, String, Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>)>(
            "select secret_id, tenant_id, purpose, format, kek_id, dek_nonce, wrapped_dek, nonce, ciphertext
             from secret where kek_id <> $1 and secret_id > $2 order by secret_id limit 500 for update",
        )
        .bind(&keyring.active().id)
        .bind(after)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .map(|(id, tenant, purpose, format, kek_id, dek_nonce, wrapped_dek, nonce, ciphertext)| {
            (id, tenant, purpose, Sealed { format, kek_id, dek_nonce, wrapped_dek, nonce, ciphertext })
        })
        .collect();
        let Some(last) = batch.last().map(|b| b.0) else {
            break;
        };
        after = last;
        for (secret_id, tenant_id, purpose, sealed) in batch {
            match envelope::rewrap(
                keyring,
                &Binding {
                    tenant_id,
                    secret_id,
                    purpose: &purpose,
                },
                &sealed,
            ) {
                Ok(new) => {
                    sqlx::query("update secret set kek_id = $2, dek_nonce = $3, wrapped_dek = $4 where secret_id = $1")
                        .bind(secret_id)
                        .bind(&new.kek_id)
                        .bind(&new.dek_nonce)
                        .bind(&new.wrapped_dek)
                        .execute(&mut *tx)
                        .await?;
                    report.rewrapped += 1;
                }
                Err(error) => report.failed.push((secret_id, error.to_string())),
            }
        }
        tx.commit().await?;
    }
    let (seeds, failed) = crate::backend::identity::mfa::rotate_seeds(db, keyring).await?;
    report.seeds_rewrapped = seeds;
    report.failed.extend(failed);
    Ok(report)
}
