//! Cloud providers. Each talks to its cloud through the provider's official SDK and passes the
//! provider's own error messages through verbatim.
//!
//! [`open`] is the one place a cloud account becomes a handle on its cloud: it loads the
//! account, decrypts its credentials, and builds the provider's clients. Every provider call
//! fails with a [`ProviderError`] whose class tells the reconciler what to do next.

pub mod aws;
pub mod databases;
pub mod instances;
pub mod network;

use crate::backend::cloud::endpoints::{EndpointPolicy, Route};
use crate::backend::secrets::{self, Keyring};
use crate::error::AppError;
use sqlx::PgPool;
use uuid::Uuid;

/// What a reconciler does about a failed provider call (PROVISIONING.md §2.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, a connection that never reached the provider: try again later.
    Retryable,
    /// The zone has no capacity for this now: another zone may.
    Capacity { zone: Option<String> },
    /// Validation, a quota at the provider, a mismatch: no retry until the spec changes.
    Terminal,
    /// The request may or may not have happened (timeout or lost reply after sending):
    /// observe again before doing anything, never retry blindly.
    UnknownOutcome,
    /// The object does not exist (a delete counts this as done).
    NotFound,
}

/// A provider call that failed: its class, and the provider's own words verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub class: ErrorClass,
    /// The provider's error code when it answered (`InsufficientInstanceCapacity`).
    pub code: Option<String>,
    /// `code: message` as the provider said it, or the transport's error chain.
    pub message: String,
}

impl ProviderError {
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class,
            ErrorClass::Retryable | ErrorClass::UnknownOutcome | ErrorClass::Capacity { .. }
        )
    }
}

/// A cloud account opened for calls.
pub struct OpenAccount {
    pub cloud_account_id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub region: String,
    pub emulated: bool,
    pub target: aws::Target,
}

impl OpenAccount {
    /// The account's network operations (VPCs, subnets, security groups).
    pub fn networks(&self) -> network::AwsNetworks {
        network::AwsNetworks::new(&self.target)
    }

    /// The account's database operations (RDS DB instances and subnet groups).
    pub fn databases(&self) -> databases::AwsDatabases {
        databases::AwsDatabases::new(&self.target)
    }
}

/// Loads a tenant's cloud account and decrypts its credentials. Another tenant's account is
/// `NotFound`, like a missing one. Its endpoint is vetted first (`cloud::endpoints`): one that
/// is not a public address, nor an operator's exception, is [`AppError::EndpointNotAllowed`]
/// before anything is decrypted or sent.
pub async fn open(
    db: &PgPool,
    keyring: &Keyring,
    endpoints: &EndpointPolicy,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
) -> Result<OpenAccount, AppError> {
    let (name, region, endpoint_url, access_key_id, secret_id, emulated): (
        String,
        String,
        Option<String>,
        String,
        Uuid,
        bool,
    ) = sqlx::query_as(
        "select name, region, endpoint_url, access_key_id, secret_id, emulated
         from cloud_account where cloud_account_id = $1 and tenant_id = $2",
    )
    .bind(cloud_account_id)
    .bind(tenant_id)
    .fetch_one(db)
    .await?;
    let route = match endpoint_url.as_deref() {
        // AWS's own endpoints: still resolved through the public-only resolver.
        None => Route::PublicOnly,
        Some(url) => endpoints
            .vet(url, emulated)
            .await
            .map_err(|_| AppError::EndpointNotAllowed)?,
    };
    let secret_access_key = secrets::read(db, keyring, tenant_id, secret_id).await?;
    Ok(OpenAccount {
        cloud_account_id,
        tenant_id,
        name,
        region: region.clone(),
        emulated,
        target: aws::Target::new(
            region,
            endpoint_url,
            access_key_id,
            secret_access_key,
            route,
        )
        // Each sandbox cloud account is its own moto account (docs/sandbox.md).
        .with_moto_account(emulated.then(|| aws::moto_account_id(cloud_account_id))),
    })
}
