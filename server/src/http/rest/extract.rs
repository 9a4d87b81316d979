//! What every `/api/v1` handler extracts: the bearer actor, and JSON, path and query input whose
//! rejections are problem documents like every other error.

use crate::http::problem;
use crate::startup::AppState;
use app::backend::identity::actor::Actor;
use app::backend::identity::api_keys;
use app::error::AppError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

/// An error answered as `application/problem+json`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        ApiError(error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        problem(&self.0)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let detail = rejection.body_text();
        ApiError(match rejection {
            JsonRejection::JsonDataError(_) => AppError::invalid("body", detail),
            _ => AppError::Request(detail),
        })
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError(AppError::Request(rejection.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError(AppError::Request(rejection.body_text()))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

/// The caller, from `Authorization: Bearer <API key or access token>`. The REST API never reads
/// the session cookie, so a browser's ambient credentials cannot be replayed against it (no CSRF).
pub struct Caller(pub Actor);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                AppError::InvalidToken(
                    "Send an API key or access token as `Authorization: Bearer <token>`.".into(),
                )
            })?;
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                AppError::InvalidToken("Only the Bearer authorization scheme is accepted.".into())
            })?;
        let actor = api_keys::authenticate_bearer(&state.db, &state.jwt, token).await?;
        Ok(Caller(actor))
    }
}
