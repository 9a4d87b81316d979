//! Instance groups: list, read, and plan-then-apply for create, change and delete, exactly as
//! zones do (`?dry_run=true`, `If-Match: "<fingerprint>"`, `Idempotency-Key` on POST); and the
//! group's instances, which can be protected from scale-in.

use super::extract::{ApiResult, Caller, Json, Path, Query};
use super::idempotency;
use super::page::{Page, PageQuery};
use super::problems::{Problems, ResourceProblems};
use super::zones::{options, CreateHeaders, WriteHeaders, WriteQuery};
use crate::startup::AppState;
use app::backend::resources::groups;
use app::model::groups::{
    GroupChange, GroupPatch, GroupView, InstancePatch, InstanceView, NewGroup,
};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

fn answer(change: GroupChange) -> (StatusCode, serde_json::Value) {
    let status = if change.job_id.is_some() {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    (status, serde_json::to_value(&change).unwrap_or_default())
}

/// The tenant's instance groups, ordered by name.
#[utoipa::path(get, path = "/tenants/{tenant_id}/instance-groups", tag = "instance groups", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of instance groups", body = Page<GroupView>), Problems))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<GroupView>>> {
    let (after, limit) = page.keyset()?;
    let items = groups::list(
        &state.db,
        &actor,
        tenant_id,
        after.as_deref(),
        limit as i64 + 1,
    )
    .await?;
    Ok(Json(page.page_of_keyset(items, limit, |g| g.name.clone())))
}

/// Create an instance group: `desired` instances of the template spread over the zones. Answers
/// 202 with the group, its plan (instances per zone, quota for instances and vCPUs, monthly
/// cost) and the job that launches them, or 200 with the plan for a dry run.
#[utoipa::path(post, path = "/tenants/{tenant_id}/instance-groups", tag = "instance groups", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), WriteQuery, CreateHeaders), request_body = NewGroup,
    responses(
        (status = 200, description = "The plan (dry run)", body = GroupChange),
        (status = 202, description = "Accepted: the group, its plan and its job", body = GroupChange),
        Problems, ResourceProblems))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
    Json(group): Json<NewGroup>,
) -> ApiResult<Response> {
    let options = options(&query, &headers);
    let key = if options.dry_run {
        None
    } else {
        idempotency::key(&headers)?
    };
    let body = serde_json::to_string(&group).unwrap_or_default();
    let fingerprint = options.fingerprint.clone().unwrap_or_default();
    let request = ["POST", "instance-groups", &body, &fingerprint];
    idempotency::once(&state, tenant_id, key, &request, || async {
        Ok(answer(
            groups::create(&state.db, &actor, tenant_id, group, options).await?,
        ))
    })
    .await
}

/// One instance group, with its zones' counts, status, conditions and what it waits for.
#[utoipa::path(get, path = "/tenants/{tenant_id}/instance-groups/{group_id}", tag = "instance groups", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("group_id" = Uuid, Path)),
    responses((status = 200, description = "The instance group", body = GroupView), Problems))]
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, group_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<GroupView>> {
    Ok(Json(
        groups::get(&state.db, &actor, tenant_id, group_id).await?,
    ))
}

/// Change a group: scale (`desired`, `min`, `max`), a new template (rolled out within
/// `max_surge` / `max_unavailable`), zones, policy. Omitted fields are kept; `desired` is never
/// reset by a change that does not name it.
#[utoipa::path(patch, path = "/tenants/{tenant_id}/instance-groups/{group_id}", tag = "instance groups", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("group_id" = Uuid, Path), WriteQuery, WriteHeaders), request_body = GroupPatch,
    responses(
        (status = 200, description = "The plan (dry run), or nothing to change", body = GroupChange),
        (status = 202, description = "Accepted: the group, its plan and its job", body = GroupChange),
        Problems, ResourceProblems))]
pub async fn update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, group_id)): Path<(Uuid, Uuid)>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
    Json(patch): Json<GroupPatch>,
) -> ApiResult<Response> {
    let (status, body) = answer(
        groups::update(
            &state.db,
            &actor,
            tenant_id,
            group_id,
            patch,
            options(&query, &headers),
        )
        .await?,
    );
    Ok((status, axum::Json(body)).into_response())
}

/// Delete a group: every instance is terminated (protected ones too) and confirmed gone, then
/// the group's quota and zones are released.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/instance-groups/{group_id}", tag = "instance groups", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("group_id" = Uuid, Path), WriteQuery, WriteHeaders),
    responses(
        (status = 200, description = "The plan (dry run)", body = GroupChange),
        (status = 202, description = "Accepted: the group (deleting), its plan and its job", body = GroupChange),
        Problems, ResourceProblems))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, group_id)): Path<(Uuid, Uuid)>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (status, body) = answer(
        groups::delete(
            &state.db,
            &actor,
            tenant_id,
            group_id,
            options(&query, &headers),
        )
        .await?,
    );
    Ok((status, axum::Json(body)).into_response())
}

/// The group's instances (not terminated), ordered by Stratus's instance id.
#[utoipa::path(get, path = "/tenants/{tenant_id}/instance-groups/{group_id}/instances", tag = "instance groups", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("group_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of instances", body = Page<InstanceView>), Problems))]
pub async fn instances(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, group_id)): Path<(Uuid, Uuid)>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<InstanceView>>> {
    let (after, limit) = page.keyset_id()?;
    let items = groups::list_instances(
        &state.db,
        &actor,
        tenant_id,
        group_id,
        after,
        limit as i64 + 1,
    )
    .await?;
    Ok(Json(page.page_of_keyset(items, limit, |i| {
        i.instance_id.to_string()
    })))
}

/// Protect an instance from scale-in, or unprotect it. `instance_id` is the provider's id
/// (`i-…`) or Stratus's instance id.
#[utoipa::path(patch, path = "/tenants/{tenant_id}/instance-groups/{group_id}/instances/{instance_id}", tag = "instance groups", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("group_id" = Uuid, Path), ("instance_id" = String, Path)),
    request_body = InstancePatch,
    responses((status = 200, description = "The instance", body = InstanceView), Problems))]
pub async fn protect(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, group_id, instance_id)): Path<(Uuid, Uuid, String)>,
    Json(patch): Json<InstancePatch>,
) -> ApiResult<Json<InstanceView>> {
    Ok(Json(
        groups::set_protection(&state.db, &actor, tenant_id, group_id, &instance_id, patch).await?,
    ))
}
