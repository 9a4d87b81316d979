//! The problem document and the error responses every protected route may give, for OpenAPI.

use app::error::FieldError;
use serde::Serialize;
use utoipa::{IntoResponses, ToSchema};

/// An RFC 9457 problem. `type` is stable: match on it, not on `detail`.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A stable URI reference such as `/problems/not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// A human-readable explanation.
    pub detail: String,
    /// Present for invalid input: one message per offending field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
}

#[derive(IntoResponses)]
#[allow(dead_code)] // only described, never built: handlers answer with `ApiError`
pub enum Problems {
    /// Malformed path, query or body.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// Missing, malformed, unknown, revoked or expired credential.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthenticated(Problem),
    /// The credential's role does not allow this, or the tenant is suspended.
    #[response(status = 403, content_type = "application/problem+json")]
    Forbidden(Problem),
    /// No such object in a tenant the credential can see (another tenant's objects answer the same).
    #[response(status = 404, content_type = "application/problem+json")]
    NotFound(Problem),
    /// The request clashes with the current state (for example, demoting the last owner).
    #[response(status = 409, content_type = "application/problem+json")]
    Conflict(Problem),
    /// Input failed validation; see `errors`.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// Too many attempts; retry after the `Retry-After` header's seconds.
    #[response(status = 429, content_type = "application/problem+json")]
    RateLimited(Problem),
    /// The database cannot be reached; retry shortly.
    #[response(status = 503, content_type = "application/problem+json")]
    Unavailable(Problem),
}

/// The further answers of resource writes.
#[derive(IntoResponses)]
#[allow(dead_code)] // only described, never built
pub enum ResourceProblems {
    /// The apply carried a plan fingerprint (`If-Match`) and the resource changed since that plan.
    #[response(status = 412, content_type = "application/problem+json")]
    StalePlan(Problem),
}
