//! Every cloud object Stratus creates goes through here (PROVISIONING.md §2.3): a
//! `provider_object` row with a deterministic token is committed before the create call, the
//! call tags the object with that token, and only then is the provider id recorded. A run that
//! finds a row without an id (a crash, a lost reply) looks the token up by tag and adopts what
//! it finds; it creates again only when nothing carries the tag.
//!
//! Each token is worked on under a PostgreSQL advisory lock held by a connection of its own, so
//! two runs (a rescued job and its old worker, or two zones sharing a VPC) never create twice;
//! if the process dies, the connection closes and the lock goes with it.

use crate::backend::cloud::providers::databases::AwsDatabases;
use crate::backend::cloud::providers::network::{AwsNetworks, ObjectKind};
use crate::backend::cloud::providers::{ErrorClass, ProviderError};
use crate::backend::jobs::worker::JobError;
use sqlx::{Connection, PgConnection, PgPool};
use std::future::Future;
use uuid::Uuid;

/// What the engine needs of a provider API to track its objects: find by token, check, delete.
pub trait ObjectApi: Sync {
    fn find_by_token(
        &self,
        kind: ObjectKind,
        token: &str,
    ) -> impl Future<Output = Result<Vec<String>, ProviderError>> + Send;
    fn exists(
        &self,
        kind: ObjectKind,
        id: &str,
    ) -> impl Future<Output = Result<bool, ProviderError>> + Send;
    fn delete(
        &self,
        kind: ObjectKind,
        id: &str,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
}

impl ObjectApi for AwsNetworks {
    async fn find_by_token(
        &self,
        kind: ObjectKind,
        token: &str,
    ) -> Result<Vec<String>, ProviderError> {
        AwsNetworks::find_by_token(self, kind, token).await
    }
    async fn exists(&self, kind: ObjectKind, id: &str) -> Result<bool, ProviderError> {
        AwsNetworks::exists(self, kind, id).await
    }
    async fn delete(&self, kind: ObjectKind, id: &str) -> Result<(), ProviderError> {
        AwsNetworks::delete(self, kind, id).await
    }
}

impl ObjectApi for AwsDatabases {
    async fn find_by_token(
        &self,
        kind: ObjectKind,
        token: &str,
    ) -> Result<Vec<String>, ProviderError> {
        AwsDatabases::find_by_token(self, kind, token).await
    }
    async fn exists(&self, kind: ObjectKind, id: &str) -> Result<bool, ProviderError> {
        AwsDatabases::exists(self, kind, id).await
    }
    async fn delete(&self, kind: ObjectKind, id: &str) -> Result<(), ProviderError> {
        AwsDatabases::delete(self, kind, id).await
    }
}

/// Who an intent row belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Owner {
    pub tenant_id: Uuid,
    pub cloud_account_id: Uuid,
    pub resource_id: Option<Uuid>,
    pub network_id: Option<Uuid>,
}

/// Why ensuring an object stopped.
#[derive(Debug)]
pub enum EnsureError {
    Provider(ProviderError),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for EnsureError {
    fn from(e: sqlx::Error) -> Self {
        EnsureError::Database(e)
    }
}

impl From<ProviderError> for EnsureError {
    fn from(e: ProviderError) -> Self {
        EnsureError::Provider(e)
    }
}

impl From<EnsureError> for JobError {
    fn from(e: EnsureError) -> Self {
        match e {
            EnsureError::Provider(p) => JobError::Failed(p.message),
            EnsureError::Database(d) => JobError::failed(d),
        }
    }
}

/// A connection holding the advisory lock of one token; closing it releases the lock.
struct TokenLock {
    conn: PgConnection,
}

impl TokenLock {
    async fn acquire(db: &PgPool, token: &str) -> Result<TokenLock, sqlx::Error> {
        // Detached from the pool: if this task is dropped mid-way, the connection closes
        // (and with it the lock) instead of going back to the pool still holding it.
        let mut conn = db.acquire().await?.detach();
        sqlx::query("select pg_advisory_lock(hashtextextended($1, 42))")
            .bind(token)
            .execute(&mut conn)
            .await?;
        Ok(TokenLock { conn })
    }

    async fn release(self) {
        let _ = self.conn.close().await;
    }
}

/// The object for `token`: the recorded one if it still exists, else one found by its tag,
/// else a new one made by `create`. Returns its provider id.
pub async fn ensure_present<A: ObjectApi, F, Fut>(
    db: &PgPool,
    networks: &A,
    owner: Owner,
    kind: ObjectKind,
    token: &str,
    create: F,
) -> Result<String, EnsureError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<String, ProviderError>>,
{
    let mut lock = TokenLock::acquire(db, token).await?;
    let result = ensure_present_locked(&mut lock.conn, networks, owner, kind, token, create).await;
    lock.release().await;
    result
}

async fn ensure_present_locked<A: ObjectApi, F, Fut>(
    conn: &mut PgConnection,
    networks: &A,
    owner: Owner,
    kind: ObjectKind,
    token: &str,
    create: F,
) -> Result<String, EnsureError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<String, ProviderError>>,
{
    let recorded: Option<Option<String>> =
        sqlx::query_scalar("select provider_id from provider_object where token = $1")
            .bind(token)
            .fetch_optional(&mut *conn)
            .await?;
    match recorded {
        Some(Some(id)) => {
            if networks.exists(kind, &id).await? {
                return Ok(id);
            }
            // Deleted behind our back: forget it and make it again.
            tracing::warn!(%id, token, "a recorded {} is gone; creating it again", kind.label());
            sqlx::query("update provider_object set provider_id = null where token = $1")
                .bind(token)
                .execute(&mut *conn)
                .await?;
        }
        Some(None) => {}
        None => {
            // The write-ahead intent, committed before the call.
            sqlx::query(
                "insert into provider_object (tenant_id, cloud_account_id, resource_id, network_id, kind, token)
                 values ($1, $2, $3, $4, $5, $6)",
            )
            .bind(owner.tenant_id)
            .bind(owner.cloud_account_id)
            .bind(owner.resource_id)
            .bind(owner.network_id)
            .bind(kind)
            .bind(token)
            .execute(&mut *conn)
            .await?;
        }
    }
    // An intent without an id: a create may have happened. Look before creating.
    let id = match adopt(networks, kind, token).await? {
        Some(id) => id,
        None => match create().await {
            Ok(id) => id,
            Err(e) if e.class == ErrorClass::UnknownOutcome => {
                // The call may have gone through: only the tag can tell.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                match adopt(networks, kind, token).await? {
                    Some(id) => id,
                    None => return Err(e.into()),
                }
            }
            Err(e) => return Err(e.into()),
        },
    };
    super::failpoint(&format!("{}.created", kind_name(kind))).await;
    sqlx::query("update provider_object set provider_id = $2 where token = $1")
        .bind(token)
        .bind(&id)
        .execute(&mut *conn)
        .await?;
    Ok(id)
}

/// The object carrying `token`, if any. More than one can only come from a create retried
/// outside Stratus's control; the extras are deleted so exactly one remains.
async fn adopt<A: ObjectApi>(
    networks: &A,
    kind: ObjectKind,
    token: &str,
) -> Result<Option<String>, ProviderError> {
    let mut found = networks.find_by_token(kind, token).await?;
    found.sort();
    let first = found.first().cloned();
    for extra in found.iter().skip(1) {
        tracing::warn!(id = %extra, token, "deleting a duplicate {}", kind.label());
        networks.delete(kind, extra).await?;
    }
    Ok(first)
}

/// Deletes the object for `token` (by its recorded id and by tag), confirms it is gone, and
/// drops the intent row. Returns the ids it deleted.
pub async fn ensure_absent<A: ObjectApi>(
    db: &PgPool,
    networks: &A,
    kind: ObjectKind,
    token: &str,
) -> Result<Vec<String>, EnsureError> {
    let mut lock = TokenLock::acquire(db, token).await?;
    let result = ensure_absent_locked(&mut lock.conn, networks, kind, token).await;
    lock.release().await;
    result
}

async fn ensure_absent_locked<A: ObjectApi>(
    conn: &mut PgConnection,
    networks: &A,
    kind: ObjectKind,
    token: &str,
) -> Result<Vec<String>, EnsureError> {
    let recorded: Option<Option<String>> =
        sqlx::query_scalar("select provider_id from provider_object where token = $1")
            .bind(token)
            .fetch_optional(&mut *conn)
            .await?;
    let mut ids = networks.find_by_token(kind, token).await?;
    if let Some(Some(id)) = recorded {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    for id in &ids {
        networks.delete(kind, id).await?;
    }
    // Confirm absence: deleted means not found any more.
    for id in &ids {
        if networks.exists(kind, id).await? {
            return Err(ProviderError {
                class: ErrorClass::Retryable,
                code: None,
                message: format!("waiting for {} {id} to be deleted", kind.label()),
            }
            .into());
        }
    }
    sqlx::query("delete from provider_object where token = $1")
        .bind(token)
        .execute(&mut *conn)
        .await?;
    Ok(ids)
}

fn kind_name(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Vpc => "vpc",
        ObjectKind::Subnet => "subnet",
        ObjectKind::SecurityGroup => "security_group",
        ObjectKind::Instance => "instance",
        ObjectKind::DbInstance => "db_instance",
        ObjectKind::DbSubnetGroup => "db_subnet_group",
    }
}
