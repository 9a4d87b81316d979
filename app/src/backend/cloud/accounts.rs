//! Cloud accounts: where a tenant's resources are created, with credentials kept as a secret.

use crate::backend::audit::{self, By};
use crate::backend::cloud::endpoints::{Endpoint, EndpointPolicy, Route, NOT_ALLOWED};
use crate::backend::cloud::providers::aws;
use crate::backend::identity::actor::Actor;
use crate::backend::secrets::{self, Keyring};
use crate::error::AppError;
use crate::model::{AuditAction, CloudAccountView, ConnectionTest};
use crate::rbac::{authorize, Action};
use crate::validate::{self, Checks};
use secrecy::{ExposeSecret, SecretString};
use sqlx::PgPool;
use uuid::Uuid;

/// The cloud account the sandbox registers for the demo tenant.
pub const SANDBOX_NAME: &str = "Sandbox (emulated AWS)";

pub struct NewCloudAccount {
    pub name: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub endpoint_url: Option<String>,
    pub emulated: bool,
}

fn check_region(region: &str) -> Result<(), String> {
    let parts: Vec<&str> = region.split('-').collect();
    let ok = parts.len() >= 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err("Enter an AWS region such as eu-west-1.".into())
    }
}

fn check_access_key_id(id: &str) -> Result<(), String> {
    if (16..=128).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    {
        Ok(())
    } else {
        Err(
            "An access key id is 16 to 128 capital letters and digits, like AKIAIOSFODNN7EXAMPLE."
                .into(),
        )
    }
}

/// An AWS account id is 12 digits (the column's check says the same).
fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.chars().all(|c| c.is_ascii_digit())
}

const COLUMNS: &str =
    "cloud_account_id, name, provider, region, endpoint_url, access_key_id, emulated, provider_account_id, created_at";

pub async fn list(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<Vec<CloudAccountView>, AppError> {
    list_page(db, actor, tenant_id, None, None).await
}

/// The tenant's cloud accounts ordered by name, after `after_name`, at most `limit` (all when
/// `None`): keyset pagination in SQL.
pub async fn list_page(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    after_name: Option<&str>,
    limit: Option<i64>,
) -> Result<Vec<CloudAccountView>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewCloudAccounts).await?;
    Ok(sqlx::query_as(&format!(
        "select {COLUMNS} from cloud_account where tenant_id = $1 and ($2::text is null or name > $2)
         order by name limit $3"
    ))
    .bind(tenant_id)
    .bind(after_name)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Registers a tenant's cloud account; its endpoint must pass `endpoints` (public addresses,
/// or an operator's exception).
pub async fn create(
    db: &PgPool,
    keyring: &Keyring,
    endpoints: &EndpointPolicy,
    actor: &Actor,
    tenant_id: Uuid,
    new: NewCloudAccount,
) -> Result<CloudAccountView, AppError> {
    authorize(db, actor, tenant_id, Action::ManageCloudAccounts).await?;
    insert(db, keyring, Some(endpoints), Some(actor), tenant_id, new).await
}

/// `endpoints` is `None` only for the sandbox, which the operator configured.
async fn insert(
    db: &PgPool,
    keyring: &Keyring,
    endpoints: Option<&EndpointPolicy>,
    actor: Option<&Actor>,
    tenant_id: Uuid,
    new: NewCloudAccount,
) -> Result<CloudAccountView, AppError> {
    let name = new.name.trim().to_string();
    let endpoint = new
        .endpoint_url
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string);
    let mut checks = Checks::default();
    checks
        .check(
            "name",
            validate::display_name(&name).and_then(|()| {
                // PostgreSQL text cannot hold NUL, and no name needs a control character.
                if name.contains(char::is_control) {
                    Err("Use letters, digits, spaces and punctuation.".to_string())
                } else {
                    Ok(())
                }
            }),
        )
        .check("region", check_region(new.region.trim()))
        .check(
            "access_key_id",
            check_access_key_id(new.access_key_id.trim()),
        )
        .check(
            "secret_access_key",
            secrets::check_value(new.secret_access_key.expose_secret()),
        );
    // How the creation's own call (GetCallerIdentity) may connect: like `providers::open` later.
    let mut route = Route::PublicOnly;
    if let Some(url) = &endpoint {
        let vetted = match (Endpoint::parse(url), endpoints) {
            (Err(invalid), _) => Err(invalid),
            (Ok(_), None) => {
                route = Route::Trusted;
                Ok(())
            }
            (Ok(_), Some(policy)) => policy
                .vet(url, false)
                .await
                .map(|vetted| route = vetted)
                .map_err(|_| NOT_ALLOWED.to_string()),
        };
        checks.check("endpoint_url", vetted);
    }
    checks.finish()?;

    // Which provider account the credentials reach, asked before anything is written. A
    // failure does not stop the creation (the connection test reports it); the id stays empty.
    let cloud_account_id = Uuid::new_v4();
    let target = aws::Target::new(
        new.region.trim().to_string(),
        endpoint.clone(),
        new.access_key_id.trim().to_string(),
        new.secret_access_key.clone(),
        route,
    )
    .with_moto_account(new.emulated.then(|| aws::moto_account_id(cloud_account_id)));
    let provider_account_id = aws::caller_account(&target)
        .await
        .ok()
        .filter(|a| valid_account_id(a));

    let mut tx = db.begin().await?;
    let secret_name = format!("cloud-account/{}", Uuid::new_v4().simple());
    let secret_id = secrets::insert(
        &mut tx,
        keyring,
        tenant_id,
        &secret_name,
        secrets::PURPOSE_CLOUD_CREDENTIALS,
        &new.secret_access_key,
        actor.map(|a| a.user_id),
    )
    .await?;
    let account: CloudAccountView = sqlx::query_as(&format!(
        "insert into cloud_account (tenant_id, name, provider, region, endpoint_url, access_key_id, secret_id, emulated,
                                    cloud_account_id, provider_account_id, provider_account_checked_at)
         values ($1, $2, 'aws', $3, $4, $5, $6, $7, $8, $9, case when $9::text is null then null else now() end)
         returning {COLUMNS}"
    ))
    .bind(tenant_id)
    .bind(&name)
    .bind(new.region.trim())
    .bind(&endpoint)
    .bind(new.access_key_id.trim())
    .bind(secret_id)
    .bind(new.emulated)
    .bind(cloud_account_id)
    .bind(&provider_account_id)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if crate::backend::violates(&e, "cloud_account_tenant_name_key") {
            AppError::conflict("name", format!("A cloud account named \"{name}\" already exists."))
        } else {
            e.into()
        }
    })?;
    // The secret access key stays out: the access key id identifies the credentials.
    audit::commit_with(
        tx,
        actor.map(By::from).unwrap_or(By::SYSTEM),
        Some(tenant_id),
        AuditAction::CloudAccountCreated,
        &name,
        serde_json::json!({
            "cloud_account_id": account.cloud_account_id,
            "region": account.region,
            // Whether, not where: a URL may carry userinfo.
            "custom_endpoint": account.endpoint_url.is_some(),
            "access_key_id": account.access_key_id,
            "provider_account_id": account.provider_account_id,
        }),
    )
    .await?;
    Ok(account)
}

pub async fn delete(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
) -> Result<(), AppError> {
    authorize(db, actor, tenant_id, Action::ManageCloudAccounts).await?;
    let mut tx = db.begin().await?;
    // Resources live in the account: they go first (their deletes remove the cloud objects).
    let live: Vec<String> = sqlx::query_scalar(
        "select kind::text || ' ' || name from resource
         where cloud_account_id = $1 and tenant_id = $2 and status <> 'deleted' order by kind, name",
    )
    .bind(cloud_account_id)
    .bind(tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    if !live.is_empty() {
        return Err(AppError::Conflict {
            field: None,
            message: format!(
                "This cloud account still has resources ({}): delete them first.",
                live.join(", ").replace('_', " ")
            ),
        });
    }
    sqlx::query("delete from resource where cloud_account_id = $1 and tenant_id = $2 and status = 'deleted'")
        .bind(cloud_account_id)
        .bind(tenant_id)
        .execute(&mut *tx)
        .await?;
    let (name, secret_id): (String, Uuid) =
        sqlx::query_as("delete from cloud_account where cloud_account_id = $1 and tenant_id = $2 returning name, secret_id")
            .bind(cloud_account_id)
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query("delete from secret where secret_id = $1")
        .bind(secret_id)
        .execute(&mut *tx)
        .await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::CloudAccountDeleted,
        &name,
        serde_json::json!({ "cloud_account_id": cloud_account_id }),
    )
    .await?;
    Ok(())
}

/// Calls the provider (DescribeAvailabilityZones) with the account's credentials. Admins only:
/// the call goes to an endpoint a tenant chose, so it is not open to every member.
///
/// An endpoint that is not (or no longer) allowed is refused before any connection, with
/// [`AppError::EndpointNotAllowed`], never the transport's words: those would tell which
/// private addresses and ports answer.
pub async fn test_connection(
    db: &PgPool,
    keyring: &Keyring,
    endpoints: &EndpointPolicy,
    actor: &Actor,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
) -> Result<ConnectionTest, AppError> {
    authorize(db, actor, tenant_id, Action::ManageCloudAccounts).await?;
    let (name, region, outcome, provider_account_id) = match super::providers::open(
        db,
        keyring,
        endpoints,
        tenant_id,
        cloud_account_id,
    )
    .await
    {
        Ok(account) => {
            let outcome = aws::availability_zones(&account.target).await;
            // Who the credentials are; kept with the account when the provider says. A provider
            // without STS (an AWS-compatible cloud) still passes the test, with the id unknown.
            let provider_account_id = match &outcome {
                Ok(_) => aws::caller_account(&account.target)
                    .await
                    .ok()
                    .filter(|a| valid_account_id(a)),
                Err(_) => None,
            };
            (account.name, account.region, outcome, provider_account_id)
        }
        Err(AppError::EndpointNotAllowed) => {
            let (name, region): (String, String) = sqlx::query_as(
                    "select name, region from cloud_account where cloud_account_id = $1 and tenant_id = $2",
                )
                .bind(cloud_account_id)
                .bind(tenant_id)
                .fetch_one(db)
                .await?;
            (name, region, Err(aws::CallError::NotAllowed), None)
        }
        Err(other) => return Err(other),
    };
    if let Some(id) = &provider_account_id {
        sqlx::query(
            "update cloud_account set provider_account_id = $3, provider_account_checked_at = now()
             where cloud_account_id = $1 and tenant_id = $2",
        )
        .bind(cloud_account_id)
        .bind(tenant_id)
        .bind(id)
        .execute(db)
        .await?;
    }
    // Recorded whatever the outcome; the provider's message is not, as it may echo the endpoint
    // (which could carry userinfo).
    let mut conn = db.acquire().await?;
    audit::record_with(
        &mut conn,
        actor.into(),
        Some(tenant_id),
        AuditAction::CloudAccountTested,
        &name,
        serde_json::json!({
            "cloud_account_id": cloud_account_id,
            "succeeded": outcome.is_ok(),
            "endpoint_refused": outcome.as_ref().err() == Some(&aws::CallError::NotAllowed),
            "zones": outcome.as_ref().map(Vec::len).ok(),
            "provider_account_id": provider_account_id,
        }),
    )
    .await?;
    let zones = outcome.map_err(|error| match error {
        aws::CallError::NotAllowed => AppError::EndpointNotAllowed,
        aws::CallError::Provider(message) => AppError::Provider(message),
    })?;
    Ok(ConnectionTest {
        region,
        zones,
        provider_account_id,
    })
}

/// Registers a cloud account on the sandbox (moto, at `endpoint`) for a tenant: emulated, so it
/// gets a moto account of its own. Not a tenant action (tenants add real accounts): the sandbox
/// registers the demo tenant's at startup, and tests give tenants sandboxes of their own.
pub async fn register_sandbox(
    db: &PgPool,
    keyring: &Keyring,
    tenant_id: Uuid,
    name: &str,
    endpoint: &str,
) -> Result<CloudAccountView, AppError> {
    let sandbox = NewCloudAccount {
        name: name.into(),
        region: "us-east-1".into(),
        access_key_id: "AKIASANDBOXEXAMPLE00".into(),
        secret_access_key: SecretString::from("sandbox-secret-access-key"),
        endpoint_url: Some(endpoint.to_string()),
        emulated: true,
    };
    insert(db, keyring, None, None, tenant_id, sandbox).await
}

/// The embedded default: a "demo" tenant owned by the first platform admin, with a cloud
/// account on the sandbox (moto) at `endpoint`. Idempotent.
pub async fn ensure_sandbox(
    db: &PgPool,
    keyring: &Keyring,
    endpoint: &str,
) -> Result<(), AppError> {
    // Create the demo tenant once; never adopt a real tenant that happens to use the slug.
    let created: Option<Uuid> = sqlx::query_scalar(
        "insert into tenant (slug, display_name) values ('demo', 'Demo') on conflict (slug) do nothing returning tenant_id",
    )
    .fetch_optional(db)
    .await?;
    let tenant_id = match created {
        Some(tenant_id) => {
            sqlx::query(
                "insert into membership (tenant_id, user_id, role)
                 select $1, user_id, 'owner' from app_user where platform_admin order by created_at limit 1
                 on conflict do nothing",
            )
            .bind(tenant_id)
            .execute(db)
            .await?;
            tenant_id
        }
        None => {
            let sandbox_tenant: Option<Uuid> = sqlx::query_scalar(
                "select t.tenant_id from tenant t join cloud_account c using (tenant_id)
                 where t.slug = 'demo' and c.name = $1 and c.emulated",
            )
            .bind(SANDBOX_NAME)
            .fetch_optional(db)
            .await?;
            match sandbox_tenant {
                Some(tenant_id) => tenant_id,
                None => {
                    tracing::warn!("a tenant \"demo\" exists without the sandbox cloud: not registering the sandbox");
                    return Ok(());
                }
            }
        }
    };
    let existing: Option<Uuid> = sqlx::query_scalar(
        "select cloud_account_id from cloud_account where tenant_id = $1 and name = $2",
    )
    .bind(tenant_id)
    .bind(SANDBOX_NAME)
    .fetch_optional(db)
    .await?;
    match existing {
        Some(id) => {
            sqlx::query("update cloud_account set endpoint_url = $2 where cloud_account_id = $1")
                .bind(id)
                .bind(endpoint)
                .execute(db)
                .await?;
        }
        None => {
            register_sandbox(db, keyring, tenant_id, SANDBOX_NAME, endpoint).await?;
        }
    }
    Ok(())
}
