//! AWS through aws-sdk-ec2 (and aws-sdk-sts for who the credentials are), with an endpoint override for emulators (moto) and compatible clouds.

use crate::backend::cloud::endpoints::{PublicOnly, Route, NOT_ALLOWED};
use aws_sdk_ec2::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_ec2::config::timeout::TimeoutConfig;
use aws_sdk_ec2::config::{
    BehaviorVersion, ConfigBag, Credentials, Intercept, Region, RuntimeComponents,
};
use aws_sdk_ec2::error::{BoxError, DisplayErrorContext, ProvideErrorMetadata};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The most availability zones taken from one answer: a region has a handful, so more is an
/// endpoint misbehaving (and each zone costs the survey a call).
pub const MAX_ZONES: usize = 64;
/// The most pages of a paginated answer taken for one question.
pub const MAX_PAGES: usize = 20;

/// Where and as whom to call AWS; `route` says whether the endpoint was vetted as public
/// (see `cloud::endpoints`; `providers::open` vets it).
pub struct Target {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub route: Route,
    /// Set by the client's resolver when it refused a name: a failure is then a refusal, not
    /// a transport error to pass on.
    pub refused: Arc<AtomicBool>,
    /// On the sandbox (moto): the moto account this cloud account lives in, sent as
    /// `x-moto-account-id` on every request so each cloud account has its own VPCs, instances
    /// and databases. `None` for real AWS.
    pub moto_account_id: Option<String>,
}

/// The moto account of a sandbox cloud account: 12 digits derived from its id, the same on every
/// start (so its objects are found again) and different for every account (so two tenants'
/// sandboxes never see each other). Never moto's default account 123456789012, which every
/// request without the header shares.
pub fn moto_account_id(cloud_account_id: Uuid) -> String {
    let digest = Sha256::digest(cloud_account_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 100000000000..=999999999999: twelve digits with no leading zero.
    let n = u64::from_be_bytes(first) % 900_000_000_000 + 100_000_000_000;
    if n == 123_456_789_012 {
        "123456789013".to_string()
    } else {
        n.to_string()
    }
}

/// Adds `x-moto-account-id` to every request (after signing: moto does not check signatures,
/// and the header must not change what a real endpoint would verify).
#[derive(Debug)]
struct MotoAccount(String);

impl Intercept for MotoAccount {
    fn name(&self) -> &'static str {
        "MotoAccount"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

impl Target {
    pub fn new(
        region: String,
        endpoint_url: Option<String>,
        access_key_id: String,
        secret_access_key: SecretString,
        route: Route,
    ) -> Target {
        Target {
            region,
            endpoint_url,
            access_key_id,
            secret_access_key,
            route,
            refused: Default::default(),
            moto_account_id: None,
        }
    }

    /// On the sandbox: the moto account to send every request as.
    pub fn with_moto_account(mut self, moto_account_id: Option<String>) -> Target {
        self.moto_account_id = moto_account_id;
        self
    }

    /// Whether a call failed because the endpoint's name resolved to a non-public address.
    pub fn was_refused(&self) -> bool {
        self.refused.load(Ordering::SeqCst)
    }

    /// What a failed call tells the caller: a refusal as such, anything else verbatim.
    pub fn error<E>(&self, error: &aws_sdk_ec2::error::SdkError<E>) -> CallError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        if self.was_refused() {
            CallError::NotAllowed
        } else {
            CallError::Provider(describe_error(error))
        }
    }
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The endpoint's name resolved to a non-public address at connection time; no connection
    /// was made, and the transport's words are not passed on.
    NotAllowed,
    /// The provider's own words (or the transport's, for a public endpoint).
    Provider(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::NotAllowed => f.write_str(NOT_ALLOWED),
            CallError::Provider(message) => f.write_str(message),
        }
    }
}

/// An EC2 client with bounded timeouts, so an unreachable endpoint fails quickly. A public
/// endpoint's names are resolved by [`PublicOnly`], which pins the checked addresses (IP
/// literals are never resolved; `providers::open` vetted those).
pub fn ec2(target: &Target) -> aws_sdk_ec2::Client {
    let credentials = Credentials::new(
        &target.access_key_id,
        target.secret_access_key.expose_secret(),
        None,
        None,
        "stratus-cloud-account",
    );
    let mut config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .credentials_provider(credentials)
        .timeout_config(timeouts());
    if let Some(endpoint) = &target.endpoint_url {
        config = config.endpoint_url(endpoint);
    }
    if target.route == Route::PublicOnly {
        use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
        let resolver = PublicOnly {
            refused: target.refused.clone(),
        };
        let client = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_with_resolver(resolver);
        config = config.http_client(client);
    }
    if let Some(account) = &target.moto_account_id {
        config = config.interceptor(MotoAccount(account.clone()));
    }
    aws_sdk_ec2::Client::from_conf(config.build())
}

/// An RDS client configured like [`ec2`]: same credentials, timeouts, endpoint, resolver and
/// moto account.
pub fn rds(target: &Target) -> aws_sdk_rds::Client {
    let credentials = Credentials::new(
        &target.access_key_id,
        target.secret_access_key.expose_secret(),
        None,
        None,
        "stratus-cloud-account",
    );
    let mut config = aws_sdk_rds::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .credentials_provider(credentials)
        .timeout_config(timeouts());
    if let Some(endpoint) = &target.endpoint_url {
        config = config.endpoint_url(endpoint);
    }
    if target.route == Route::PublicOnly {
        use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
        let resolver = PublicOnly {
            refused: target.refused.clone(),
        };
        let client = aws_smithy_http_client::Builder::new()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .build_with_resolver(resolver);
        config = config.http_client(client);
    }
    if let Some(account) = &target.moto_account_id {
        config = config.interceptor(MotoAccount(account.clone()));
    }
    aws_sdk_rds::Client::from_conf(config.build())
}

/// An RDS client for creates, changes and deletes: no SDK retries (see [`ec2_without_retries`]).
pub fn rds_without_retries(target: &Target) -> aws_sdk_rds::Client {
    let config = rds(target)
        .config()
        .to_builder()
        .retry_config(aws_sdk_rds::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_rds::Client::from_conf(config)
}

/// STS GetCallerIdentity: the AWS account the credentials belong to (no permission needed). On
/// the sandbox it is the cloud account's own moto account.
pub async fn caller_account(target: &Target) -> Result<String, String> {
    let credentials = Credentials::new(
        &target.access_key_id,
        target.secret_access_key.expose_secret(),
        None,
        None,
        "stratus-cloud-account",
    );
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(aws_sdk_sts::config::Region::new(target.region.clone()))
        .credentials_provider(credentials)
        .timeout_config(timeouts());
    if let Some(endpoint) = &target.endpoint_url {
        config = config.endpoint_url(endpoint);
    }
    if let Some(account) = &target.moto_account_id {
        config = config.interceptor(MotoAccount(account.clone()));
    }
    let answer = aws_sdk_sts::Client::from_conf(config.build())
        .get_caller_identity()
        .send()
        .await
        .map_err(|e| match (e.code(), e.message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            _ => DisplayErrorContext(&e).to_string(),
        })?;
    answer
        .account()
        .map(str::to_string)
        .ok_or_else(|| "GetCallerIdentity answered without an account".to_string())
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(20))
        .build()
}

/// The provider's own words for an SDK error: its code and message when AWS answered, the
/// transport's error chain when it did not.
pub fn describe_error<E>(error: &aws_sdk_ec2::error::SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(error).to_string(),
    }
}

/// DescribeAvailabilityZones: the zone names this account sees in its region (at most
/// [`MAX_ZONES`]).
pub async fn availability_zones(target: &Target) -> Result<Vec<String>, CallError> {
    let answer = ec2(target)
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| target.error(&e))?;
    if answer.availability_zones().len() > MAX_ZONES {
        return Err(CallError::Provider(format!(
            "The endpoint listed {} availability zones; Stratus takes at most {MAX_ZONES}.",
            answer.availability_zones().len()
        )));
    }
    let mut zones: Vec<String> = answer
        .availability_zones()
        .iter()
        .filter_map(|z| z.zone_name().map(str::to_string))
        .collect();
    zones.sort();
    Ok(zones)
}

/// An EC2 client for calls that create or delete: the SDK's own retries are off, since a
/// create retried after a lost reply makes a second object. The reconciler observes by tag
/// and decides instead.
pub fn ec2_without_retries(target: &Target) -> aws_sdk_ec2::Client {
    let config = ec2(target)
        .config()
        .to_builder()
        .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

/// What a reconciler should do about an SDK error, with the provider's words verbatim.
pub fn classify<E>(error: &aws_sdk_ec2::error::SdkError<E>) -> super::ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    use super::ErrorClass;
    use aws_sdk_ec2::error::SdkError;
    let message = describe_error(error);
    let code = error.code().map(str::to_string);
    let class = match error {
        SdkError::ConstructionFailure(_) => ErrorClass::Terminal,
        // Sent, or maybe sent, and no usable answer: only observing can tell what happened.
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ErrorClass::UnknownOutcome
        }
        _ => {
            let status = error
                .raw_response()
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            match code.as_deref().unwrap_or("") {
                "RequestLimitExceeded"
                | "Throttling"
                | "ThrottlingException"
                | "InternalError"
                | "InternalFailure"
                | "ServiceUnavailable"
                | "Unavailable" => ErrorClass::Retryable,
                "InsufficientInstanceCapacity"
                | "InsufficientCapacity"
                | "InsufficientHostCapacity"
                | "InsufficientDBInstanceCapacity" => ErrorClass::Capacity { zone: None },
                c if c.ends_with("NotFound") || c.ends_with("NotFoundFault") => {
                    ErrorClass::NotFound
                }
                _ if status >= 500 => ErrorClass::Retryable,
                _ => ErrorClass::Terminal,
            }
        }
    };
    super::ProviderError {
        class,
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moto_accounts_are_twelve_digits_stable_and_distinct() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        assert_eq!(moto_account_id(a), moto_account_id(a));
        assert_ne!(moto_account_id(a), moto_account_id(b));
        for id in [a, b, Uuid::new_v4(), Uuid::nil(), Uuid::max()] {
            let account = moto_account_id(id);
            assert_eq!(account.len(), 12, "{account}");
            assert!(account.chars().all(|c| c.is_ascii_digit()), "{account}");
            assert_ne!(account, "123456789012");
        }
    }
}
