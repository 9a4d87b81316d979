//! `Idempotency-Key` on POST: the first successful answer to a key is kept for 24 hours and
//! replayed for the same request (method, path, query and body); the same key with another
//! request is refused (422), and one still in flight answers 409. Failed requests keep no key,
//! so a client can retry them. Keys are per tenant.

use super::extract::ApiError;
use crate::startup::AppState;
use app::error::AppError;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use uuid::Uuid;

pub const HEADER: &str = "idempotency-key";

/// The key a request carries, checked for shape.
pub fn key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get(HEADER) {
        None => Ok(None),
        Some(value) => {
            let key = value.to_str().ok().map(str::trim).unwrap_or_default();
            if key.is_empty() || key.len() > 255 || !key.chars().all(|c| c.is_ascii_graphic()) {
                return Err(AppError::invalid(
                    "Idempotency-Key",
                    "Use 1 to 255 visible ASCII characters (a UUID is a good choice).",
                )
                .into());
            }
            Ok(Some(key.to_string()))
        }
    }
}

/// Runs `work` once per key: a replay returns the stored answer.
pub async fn once<F, Fut>(
    state: &AppState,
    tenant_id: Uuid,
    key: Option<String>,
    request: &[&str],
    work: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let Some(key) = key else {
        let (status, body) = work().await?;
        return Ok((status, axum::Json(body)).into_response());
    };
    let mut hash = Sha256::new();
    for part in request {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    let request_hash = hash.finalize().to_vec();
    // Expired keys are free again.
    sqlx::query("delete from idempotency_key where tenant_id = $1 and key = $2 and created_at < now() - interval '24 hours'")
        .bind(tenant_id)
        .bind(&key)
        .execute(&state.db)
        .await
        .map_err(AppError::from)?;
    let claimed = sqlx::query(
        "insert into idempotency_key (tenant_id, key, request_hash) values ($1, $2, $3) on conflict do nothing",
    )
    .bind(tenant_id)
    .bind(&key)
    .bind(&request_hash)
    .execute(&state.db)
    .await
    .map_err(AppError::from)?
    .rows_affected()
        == 1;
    if !claimed {
        let (stored_hash, status, response): (Vec<u8>, Option<i16>, Option<serde_json::Value>) = sqlx::query_as(
            "select request_hash, status, response from idempotency_key where tenant_id = $1 and key = $2",
        )
        .bind(tenant_id)
        .bind(&key)
        .fetch_one(&state.db)
        .await
        .map_err(AppError::from)?;
        if stored_hash != request_hash {
            return Err(AppError::invalid(
                "Idempotency-Key",
                "This key was used for a different request: use a new key for a new request.",
            )
            .into());
        }
        return match (status, response) {
            (Some(status), Some(body)) => {
                let status = StatusCode::from_u16(status as u16).unwrap_or(StatusCode::OK);
                Ok((status, axum::Json(body)).into_response())
            }
            _ => Err(AppError::Conflict {
                field: None,
                message: "A request with this Idempotency-Key is still being processed.".into(),
            }
            .into()),
        };
    }
    match work().await {
        Ok((status, body)) => {
            sqlx::query("update idempotency_key set status = $3, response = $4 where tenant_id = $1 and key = $2")
                .bind(tenant_id)
                .bind(&key)
                .bind(status.as_u16() as i16)
                .bind(&body)
                .execute(&state.db)
                .await
                .map_err(AppError::from)?;
            Ok((status, axum::Json(body)).into_response())
        }
        Err(error) => {
            let _ = sqlx::query("delete from idempotency_key where tenant_id = $1 and key = $2")
                .bind(tenant_id)
                .bind(&key)
                .execute(&state.db)
                .await;
            Err(error)
        }
    }
}
