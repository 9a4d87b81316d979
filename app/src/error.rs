//! The one error type the backend returns and the UI understands.
//!
//! It travels to the browser as JSON (so a form can show "slug already taken" beside the field),
//! and over HTTP as an RFC 9457 problem with a stable `type`.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// Input failed validation; one message per offending field.
    #[error("{}", .0.first().map(|e| e.message.as_str()).unwrap_or("invalid input"))]
    Invalid(Vec<FieldError>),
    /// The request clashes with existing state (a taken slug or email, say).
    #[error("{message}")]
    Conflict {
        field: Option<String>,
        message: String,
    },
    #[error("{0}")]
    Forbidden(String),
    /// The tenant is suspended: it can be read but not changed.
    #[error("This tenant is suspended: changes are disabled until a platform admin resumes it.")]
    Suspended,
    /// Missing, or belonging to another tenant: the two are indistinguishable on purpose.
    #[error("Not found.")]
    NotFound,
    /// Existed once but can no longer be used (an expired or used invitation).
    #[error("{0}")]
    Gone(String),
    #[error("Please sign in.")]
    Unauthenticated,
    #[error("Email or password is incorrect.")]
    BadCredentials,
    /// A bearer credential (API key or access token) that cannot be used; says why, never echoes it.
    #[error("{0}")]
    InvalidToken(String),
    #[error("Stratus cannot reach its database right now. Please try again shortly.")]
    Unavailable,
    /// A sensitive action needs the password again (within the last 5 minutes).
    #[error("Confirm your password to continue.")]
    ReauthRequired,
    /// Too many attempts (sign-in, codes); answered with 429 and `Retry-After`.
    #[error("Too many attempts. Try again in {}.", wait_text(*retry_after_secs))]
    RateLimited { retry_after_secs: u64 },
    /// A platform admin must turn on two-factor authentication before anything else.
    #[error("Platform admins must set up two-factor authentication first (/account/mfa).")]
    MfaEnrolmentRequired,
    /// The change would take the tenant over one of its quotas.
    #[error("{0}")]
    QuotaExceeded(String),
    /// An apply carried a plan fingerprint, and the resource changed since that plan was made.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The cloud provider refused; its own message, verbatim.
    #[error("{0}")]
    Provider(String),
    /// A stored secret cannot be decrypted (altered, copied from elsewhere, or its key is gone).
    #[error("{0}")]
    Undecryptable(String),
    /// Details are logged on the server and never sent.
    #[error("Something went wrong on our side. Please try again.")]
    Internal,
    /// The request never reached a backend function (malformed, or the network failed).
    #[error("{0}")]
    Request(String),
    /// A cloud account's endpoint is not a public address (nor an operator's exception); the
    /// same words whatever the cause, so the answer maps nothing of the network out.
    #[error("This endpoint is not allowed: a cloud account's endpoint must be a public address (a host name that resolves only to public addresses). Ask the operator to add it to STRATUS_ALLOWED_ENDPOINTS if it is a private cloud.")]
    EndpointNotAllowed,
}

impl AppError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        AppError::Conflict {
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// The message for one form field, if this error is about it.
    pub fn field_message(&self, field: &str) -> Option<String> {
        match self {
            AppError::Invalid(errors) => errors
                .iter()
                .find(|e| e.field == field)
                .map(|e| e.message.clone()),
            AppError::Conflict {
                field: Some(f),
                message,
            } if f == field => Some(message.clone()),
            _ => None,
        }
    }

    /// A message for the whole form: everything that is not tied to one field.
    pub fn form_message(&self) -> Option<String> {
        match self {
            AppError::Invalid(_) | AppError::Conflict { field: Some(_), .. } => None,
            other => Some(other.to_string()),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::Invalid(_) => 422,
            AppError::Conflict { .. } => 409,
            AppError::Forbidden(_) | AppError::Suspended => 403,
            AppError::NotFound => 404,
            AppError::Gone(_) => 410,
            AppError::Unauthenticated | AppError::BadCredentials | AppError::InvalidToken(_) => 401,
            AppError::Unavailable => 503,
            AppError::ReauthRequired => 403,
            AppError::RateLimited { .. } => 429,
            AppError::MfaEnrolmentRequired => 403,
            AppError::QuotaExceeded(_) => 409,
            AppError::PreconditionFailed(_) => 412,
            AppError::Provider(_) => 502,
            AppError::Undecryptable(_) => 500,
            AppError::Internal => 500,
            AppError::Request(_) => 400,
            AppError::EndpointNotAllowed => 422,
        }
    }

    /// Stable problem type (RFC 9457 `type`), relative to the server's origin.
    pub fn problem_type(&self) -> &'static str {
        match self {
            AppError::Invalid(_) => "/problems/invalid-input",
            AppError::Conflict { .. } => "/problems/conflict",
            AppError::Forbidden(_) => "/problems/forbidden",
            AppError::Suspended => "/problems/tenant-suspended",
            AppError::NotFound => "/problems/not-found",
            AppError::Gone(_) => "/problems/gone",
            AppError::Unauthenticated => "/problems/unauthenticated",
            AppError::BadCredentials => "/problems/bad-credentials",
            AppError::InvalidToken(_) => "/problems/invalid-token",
            AppError::Unavailable => "/problems/unavailable",
            AppError::ReauthRequired => "/problems/reauthentication-required",
            AppError::RateLimited { .. } => "/problems/rate-limited",
            AppError::MfaEnrolmentRequired => "/problems/mfa-enrolment-required",
            AppError::QuotaExceeded(_) => "/problems/quota-exceeded",
            AppError::PreconditionFailed(_) => "/problems/stale-plan",
            AppError::Provider(_) => "/problems/provider-error",
            AppError::Undecryptable(_) => "/problems/secret-undecryptable",
            AppError::Internal => "/problems/internal",
            AppError::Request(_) => "/problems/bad-request",
            AppError::EndpointNotAllowed => "/problems/endpoint-not-allowed",
        }
    }
}

/// "42 seconds", "3 minutes": how long to wait, for people.
fn wait_text(secs: u64) -> String {
    match secs {
        0..=1 => "a second".into(),
        2..=90 => format!("{secs} seconds"),
        _ => format!("{} minutes", secs.div_ceil(60)),
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Request(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => AppError::NotFound,
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::error!(%error, "database unavailable");
                AppError::Unavailable
            }
            other => {
                tracing::error!(error = %other, "database error");
                AppError::Internal
            }
        }
    }
}
