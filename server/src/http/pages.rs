//! Responses made outside Leptos: problem+json errors and the page shown when the database is down.

use app::error::AppError;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::json;

/// An RFC 9457 problem document for `error`.
pub fn problem(error: &AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut body = json!({
        "type": error.problem_type(),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": error.to_string(),
    });
    // Field errors as an extension member, so clients can point at the offending field.
    let fields = match error {
        AppError::Invalid(errors) => errors.clone(),
        AppError::Conflict {
            field: Some(field),
            message,
        } => vec![app::error::FieldError {
            field: field.clone(),
            message: message.clone(),
        }],
        _ => vec![],
    };
    if !fields.is_empty() {
        body["errors"] = json!(fields);
    }
    let mut response = (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// A friendly page for when PostgreSQL cannot be reached; the portal recovers by itself.
pub fn unavailable_page() -> Response {
    let page = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Temporarily unavailable · Stratus</title><link rel="stylesheet" href="/pkg/stratus.css"></head>
<body><main id="main" class="auth"><section class="card auth-card">
<h1>Stratus is temporarily unavailable</h1>
<p>It cannot reach its database right now. Nothing you saved is lost; please try again in a moment.</p>
<a class="button" href="">Try again</a>
</section></main></body></html>"#;
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        Html(page),
    )
        .into_response()
}
