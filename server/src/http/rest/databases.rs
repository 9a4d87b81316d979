//! Databases: list, read, plan-then-apply for create, change and delete (like zones: every
//! write takes `?dry_run=true` and `If-Match: "<fingerprint>"`; POST takes an
//! `Idempotency-Key`), and rotating the master password. The password itself never comes out
//! here: it is revealed from the tenant's secrets, by an admin, after a password confirmation.

use super::extract::{ApiResult, Caller, Json, Path, Query};
use super::idempotency;
use super::page::{Page, PageQuery};
use super::problems::{Problems, ResourceProblems};
use super::zones::{options, CreateHeaders, WriteHeaders, WriteQuery};
use crate::startup::AppState;
use app::backend::resources::databases;
use app::model::resources::{
    DatabaseChange, DatabaseDeletion, DatabasePatch, DatabaseView, NewDatabase,
};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Plan only: answer with what would happen, and write nothing.
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// Take a final snapshot before deleting (default true), named by Stratus.
    #[serde(default)]
    pub final_snapshot: Option<bool>,
}

fn answer(change: DatabaseChange) -> Response {
    let status = if change.dry_run || change.job_id.is_none() {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    (status, axum::Json(change)).into_response()
}

/// The tenant's databases, ordered by name.
#[utoipa::path(get, path = "/tenants/{tenant_id}/databases", tag = "databases", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of databases", body = Page<DatabaseView>), Problems))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<DatabaseView>>> {
    let (after, limit) = page.keyset()?;
    let items = databases::list(
        &state.db,
        &actor,
        tenant_id,
        after.as_deref(),
        limit as i64 + 1,
    )
    .await?;
    Ok(Json(page.page_of_keyset(items, limit, |d| d.name.clone())))
}

/// Create a database: a security group, a DB subnet group over the tenant's zones in the
/// region, and the DB instance (with a standby in another zone when asked). Stratus generates
/// the master password and keeps it as a secret. Answers 202 with the database and its job, or
/// 200 with the plan for a dry run.
#[utoipa::path(post, path = "/tenants/{tenant_id}/databases", tag = "databases", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), WriteQuery, CreateHeaders), request_body = NewDatabase,
    responses(
        (status = 200, description = "The plan (dry run)", body = DatabaseChange),
        (status = 202, description = "Accepted: the database, its plan and its job", body = DatabaseChange),
        Problems, ResourceProblems))]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
    Json(database): Json<NewDatabase>,
) -> ApiResult<Response> {
    let options = options(&query, &headers);
    let key = if options.dry_run {
        None
    } else {
        idempotency::key(&headers)?
    };
    let body = serde_json::to_string(&database).unwrap_or_default();
    let fingerprint = options.fingerprint.clone().unwrap_or_default();
    let request = ["POST", "databases", &body, &fingerprint];
    idempotency::once(&state, tenant_id, key, &request, || async {
        let change = databases::create(
            &state.db,
            &state.keyring,
            &actor,
            tenant_id,
            database,
            options,
        )
        .await?;
        let status = if change.dry_run {
            StatusCode::OK
        } else {
            StatusCode::ACCEPTED
        };
        Ok((status, serde_json::to_value(&change).unwrap_or_default()))
    })
    .await
}

/// One database: status, conditions, endpoint, pending changes.
#[utoipa::path(get, path = "/tenants/{tenant_id}/databases/{database_id}", tag = "databases", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("database_id" = Uuid, Path)),
    responses((status = 200, description = "The database", body = DatabaseView), Problems))]
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, database_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<DatabaseView>> {
    Ok(Json(
        databases::get(&state.db, &actor, tenant_id, database_id).await?,
    ))
}

/// Change a database (class, storage, standby, backups, windows, deletion protection), applied
/// now or at the next maintenance window (`apply`).
#[utoipa::path(patch, path = "/tenants/{tenant_id}/databases/{database_id}", tag = "databases", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("database_id" = Uuid, Path), WriteQuery, WriteHeaders), request_body = DatabasePatch,
    responses(
        (status = 200, description = "The plan (dry run), or nothing to change", body = DatabaseChange),
        (status = 202, description = "Accepted: the database, its plan and its job", body = DatabaseChange),
        Problems, ResourceProblems))]
pub async fn update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, database_id)): Path<(Uuid, Uuid)>,
    Query(query): Query<WriteQuery>,
    headers: HeaderMap,
    Json(patch): Json<DatabasePatch>,
) -> ApiResult<Response> {
    Ok(answer(
        databases::update(
            &state.db,
            &actor,
            tenant_id,
            database_id,
            patch,
            options(&query, &headers),
        )
        .await?,
    ))
}

/// Delete a database: refused with 409 while deletion protection is on. Takes a final
/// snapshot unless `final_snapshot=false`; then the subnet group, the security group and the
/// credentials secret go.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/databases/{database_id}", tag = "databases", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("database_id" = Uuid, Path), DeleteQuery, WriteHeaders),
    responses(
        (status = 200, description = "The plan (dry run)", body = DatabaseChange),
        (status = 202, description = "Accepted: the database (deleting), its plan and its job", body = DatabaseChange),
        Problems, ResourceProblems))]
pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, database_id)): Path<(Uuid, Uuid)>,
    Query(query): Query<DeleteQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let write = WriteQuery {
        dry_run: query.dry_run,
    };
    Ok(answer(
        databases::delete(
            &state.db,
            &actor,
            tenant_id,
            database_id,
            DatabaseDeletion {
                final_snapshot: query.final_snapshot.unwrap_or(true),
            },
            options(&write, &headers),
        )
        .await?,
    ))
}

/// Generate a new master password (admins): it replaces the secret's value at once and is set
/// at the provider by the database's job. Audited.
#[utoipa::path(post, path = "/tenants/{tenant_id}/databases/{database_id}/rotate-credentials", tag = "databases", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("database_id" = Uuid, Path)),
    responses((status = 202, description = "Accepted: the database", body = DatabaseView), Problems))]
pub async fn rotate_credentials(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, database_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    let database =
        databases::rotate_credentials(&state.db, &state.keyring, &actor, tenant_id, database_id)
            .await?;
    Ok((StatusCode::ACCEPTED, axum::Json(database)).into_response())
}
