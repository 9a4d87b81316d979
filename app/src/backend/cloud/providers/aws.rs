//! AWS through aws-sdk-ec2, with an endpoint override for emulators (moto) and compatible clouds.

use aws_sdk_ec2::config::timeout::TimeoutConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// Where and as whom to call AWS.
pub struct Target {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
}

/// An EC2 client with bounded timeouts, so an unreachable endpoint fails quickly.
pub fn ec2(target: &Target) -> aws_sdk_ec2::Client {
    let credentials = Credentials::new(
        &target.access_key_id,
        target.secret_access_key.expose_secret(),
        None,
        None,
        "stratus-cloud-account",
    );
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .read_timeout(Duration::from_secs(10))
        .operation_attempt_timeout(Duration::from_secs(10))
        .operation_timeout(Duration::from_secs(20))
        .build();
    let mut config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .credentials_provider(credentials)
        .timeout_config(timeouts);
    if let Some(endpoint) = &target.endpoint_url {
        config = config.endpoint_url(endpoint);
    }
    aws_sdk_ec2::Client::from_conf(config.build())
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

/// DescribeAvailabilityZones: the zone names this account sees in its region.
pub async fn availability_zones(target: &Target) -> Result<Vec<String>, String> {
    let answer = ec2(target)
        .describe_availability_zones()
        .send()
        .await
        .map_err(|e| describe_error(&e))?;
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
