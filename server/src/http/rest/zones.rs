//! Zones: list, read, and plan-then-apply for create, rename and delete. Every write takes
//! `?dry_run=true` (answers 200 with the plan, writes nothing) and `If-Match: "<fingerprint>"`
//! (refused with 412 when the plan it came from is stale); POST takes an `Idempotency-Key`.

use super::extract::{ApiResult, Caller, Json, Path, Query};
use super::idempotency;
use super::page::{Page, PageQuery};
use super::problems::{Problems, ResourceProblems};
use crate::startup::AppState;
use app::backend::resources::{zones, WriteOptions};
use app::model::resources::{NewZone, ZoneChange, ZonePatch, ZoneView};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WriteQuery {
    /// Plan only: answer with what would happen, and write nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
}

/// Headers a write may carry.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // described for OpenAPI; read from the HeaderMap
pub struct WriteHeaders {
    /// The `fingerprint` of the plan this apply was reviewed as; a stale plan is refused (412).
    #[param(rename = "If-Match")]
    pub if_match: Option<String>,
}

#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct CreateHeaders {
    /// Replays the first answer for 24 hours when the same request is sent again.
    #[param(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
    /// The `fingerprint` of the plan this apply was reviewed as; a stale plan is refused (412).
    #[param(rename = "If-Match")]
    pub if_match: Option<String>,
}

pub(super) fn options(query: &WriteQuery, headers: &HeaderMap) -> WriteOptions {
    WriteOptions {
        dry_run: query.dry_run.unwrap_or(false),
        fingerprint: headers
            .get(http::header::IF_MATCH)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_string()
            })
            .filter(|v| !v.is_empty()),
    }
}

fn answer(change: ZoneChange) -> (StatusCode, serde_json::Value) {
    let status = if change.dry_run {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (status, serde_json::to_value(&change).unwrap_or_default())
}

/// The tenant's zones, ordered by name.
#[utoipa::path(get, path = "/tenants/{tenant_id}/zones", tag = "zones", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of zones", body = Page<ZoneView>), Problems))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<ZoneView>>> {
    let (after, limit) = page.keyset()?;
    let items = zones::list(
        &state.db,
        &actor,
        tenant_id,
        after.as_deref(),
        limit as i64 + 1,
    )
    .await?;
    Ok(Json(page.page_of_keyset(items, limit, |z| z.name.clone())))
}

/// Create a zone: the tenant's VPC in the account's region (made by its first zone there), a
/// subnet in the availability zone and a security group. Answers 202 with the zone and the job
/// that provisions it (follow it on `/api/v1/events`), or 200 with the plan for a dry run.
#[utoipa::path(post, path = "/tenants/{tenant_id}/zones", tag = "zones", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), WriteQuery, CreateHeaders), request_body = NewZone,
    responses(
        (status = 200, description = "The plan (dry run)", body = ZoneChange),
        (status = 202, description = "Accepted: the zone, its plan and its job", body = ZoneChange),
        Problems, ResourceProblems))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
    Json(zone): Json<NewZone>,
) -> ApiResult<Response> {
    let options = options(&query, &headers);
    let key = if options.dry_run {
        None
    } else {
        idempotency::key(&headers)?
    };
    let body = serde_json::to_string(&zone).unwrap_or_default();
    let fingerprint = options.fingerprint.clone().unwrap_or_default();
    let request = ["POST", "zones", &body, &fingerprint];
    idempotency::once(&state, tenant_id, key, &request, || async {
        Ok(answer(
            zones::create(&state.db, &actor, tenant_id, zone, options).await?,
        ))
    })
    .await
}

/// One zone, with its status, conditions and the provider's ids.
#[utoipa::path(get, path = "/tenants/{tenant_id}/zones/{zone_id}", tag = "zones", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("zone_id" = Uuid, Path)),
    responses((status = 200, description = "The zone", body = ZoneView), Problems))]
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, zone_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<ZoneView>> {
    Ok(Json(
        zones::get(&state.db, &actor, tenant_id, zone_id).await?,
    ))
}

/// Rename a zone (its cloud objects' Name tags follow).
#[utoipa::path(patch, path = "/tenants/{tenant_id}/zones/{zone_id}", tag = "zones", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("zone_id" = Uuid, Path), WriteQuery, WriteHeaders), request_body = ZonePatch,
    responses(
        (status = 200, description = "The plan (dry run), or nothing to change", body = ZoneChange),
        (status = 202, description = "Accepted: the zone, its plan and its job", body = ZoneChange),
        Problems, ResourceProblems))]
pub async fn update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, zone_id)): Path<(Uuid, Uuid)>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
    Json(patch): Json<ZonePatch>,
) -> ApiResult<Response> {
    let change = zones::update(
        &state.db,
        &actor,
        tenant_id,
        zone_id,
        patch,
        options(&query, &headers),
    )
    .await?;
    let status = if change.job_id.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((status, axum::Json(change)).into_response())
}

/// Delete a zone: its security group, subnet and (with the region's last zone) the VPC. Refused
/// with 409 while an instance group or database uses it.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/zones/{zone_id}", tag = "zones", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("zone_id" = Uuid, Path), WriteQuery, WriteHeaders),
    responses(
        (status = 200, description = "The plan (dry run)", body = ZoneChange),
        (status = 202, description = "Accepted: the zone (deleting), its plan and its job", body = ZoneChange),
        Problems, ResourceProblems))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, zone_id)): Path<(Uuid, Uuid)>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (status, body) = answer(
        zones::delete(
            &state.db,
            &actor,
            tenant_id,
            zone_id,
            options(&query, &headers),
        )
        .await?,
    );
    Ok((status, axum::Json(body)).into_response())
}
