//! The tenant's audit log over the API (admins and owners), with the portal's filters.

use super::extract::{ApiResult, Caller, Json, Path, Query};
use super::page::{Page, MAX_LIMIT};
use super::problems::Problems;
use crate::startup::AppState;
use app::backend::audit;
use app::error::AppError;
use app::model::{AuditEvent, AuditFilter, AuditScope};
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An exact action name, e.g. `member.role_changed`.
    pub action: Option<String>,
    /// Part of the actor's email (case-insensitive).
    pub actor: Option<String>,
    /// From this day (`YYYY-MM-DD`, UTC, inclusive) or instant (RFC 3339).
    pub from: Option<String>,
    /// Up to this day (inclusive) or before this instant.
    pub to: Option<String>,
    /// How many events to return (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

/// The tenant's audit log, newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/audit", tag = "audit", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), AuditQuery),
    responses((status = 200, description = "A page of audit events", body = Page<AuditEvent>), Problems))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<Page<AuditEvent>>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(
            AppError::invalid("limit", format!("Use a limit from 1 to {MAX_LIMIT}.")).into(),
        );
    }
    // The cursor is the last event's id, as the portal uses it; opaque to clients all the same.
    let cursor = match &query.cursor {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| AppError::invalid("cursor", "This cursor is not one we issued."))?,
        ),
    };
    let filter = AuditFilter {
        action: query.action,
        actor: query.actor,
        from: query.from,
        to: query.to,
        tenant: None,
    };
    let page = audit::list(
        &state.db,
        &actor,
        AuditScope::Tenant(tenant_id),
        &filter,
        cursor,
        limit as i64,
    )
    .await?;
    Ok(Json(Page {
        items: page.events,
        next_cursor: page.next_cursor.map(|id| id.to_string()),
    }))
}
