//! `/healthz`: the process is alive. `/readyz`: the database answers and its schema is current.

use crate::startup::AppState;
use app::backend::MIGRATOR;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let applied: Result<Vec<i64>, _> =
        sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
            .fetch_all(&state.db)
            .await;
    match applied {
        Err(error) => {
            tracing::warn!(%error, "readiness: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
        Ok(applied) => {
            let expected: Vec<i64> = MIGRATOR
                .iter()
                .filter(|m| m.migration_type.is_up_migration())
                .map(|m| m.version)
                .collect();
            let missing = expected.iter().filter(|v| !applied.contains(v)).count();
            if missing == 0 {
                (
                    StatusCode::OK,
                    Json(
                        json!({ "status": "ready", "database": "ok", "migrations": applied.len() }),
                    ),
                )
            } else {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(
                        json!({ "status": "unavailable", "database": "ok", "pending_migrations": missing }),
                    ),
                )
            }
        }
    }
}

/// Prometheus text exposition (see `crate::metrics`), for holders of `STRATUS_METRICS_TOKEN`
/// only: it shows every tenant's job volumes. Without a token configured it does not exist.
pub async fn metrics(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if !state.metrics.enabled() {
        return crate::http::problem(&app::error::AppError::NotFound);
    }
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if !state.metrics.admits(presented) {
        return crate::http::problem(&app::error::AppError::InvalidToken(
            "Metrics need the bearer token configured in STRATUS_METRICS_TOKEN.".into(),
        ));
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        state.metrics.render(&state.db).await,
    )
        .into_response()
}
