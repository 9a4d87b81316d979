//! Tenants, members and invitations, as their members see them.

use super::extract::{ApiError, ApiResult, Caller, Json, Path, Query};
use super::page::{Page, PageQuery};
use super::problems::Problems;
use crate::startup::AppState;
use app::backend::tenancy;
use app::model::{CreatedInvitation, Member, PendingInvitation, Role, TenantChoice, TenantView};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// The tenants the credential can reach (an API key reaches one), ordered by slug.
#[utoipa::path(get, path = "/tenants", tag = "tenants", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, description = "A page of tenants", body = Page<TenantChoice>), Problems))]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<TenantChoice>>> {
    let (after, limit) = page.keyset()?;
    let tenants =
        tenancy::tenants_page(&state.db, &actor, after.as_deref(), limit as i64 + 1).await?;
    Ok(Json(
        page.page_of_keyset(tenants, limit, |t| t.slug.clone()),
    ))
}

/// One tenant: status, quotas, member count and the caller's role.
#[utoipa::path(get, path = "/tenants/{tenant_id}", tag = "tenants", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path)),
    responses((status = 200, description = "The tenant", body = TenantView), Problems))]
pub async fn get(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
) -> ApiResult<Json<TenantView>> {
    Ok(Json(
        tenancy::tenant_overview(&state.db, &actor, tenant_id).await?,
    ))
}

/// The tenant's members, ordered by email.
#[utoipa::path(get, path = "/tenants/{tenant_id}/members", tag = "members", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of members", body = Page<Member>), Problems))]
pub async fn members(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<Member>>> {
    let (after, limit) = page.keyset()?;
    let members = tenancy::members_page(
        &state.db,
        &actor,
        tenant_id,
        after.as_deref(),
        limit as i64 + 1,
    )
    .await?;
    Ok(Json(
        page.page_of_keyset(members, limit, |m| m.email.clone()),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct RoleChange {
    pub role: Role,
}

async fn find_member(
    state: &AppState,
    actor: &app::backend::identity::actor::Actor,
    tenant_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Member> {
    tenancy::list_members(&state.db, actor, tenant_id)
        .await?
        .into_iter()
        .find(|m| m.user_id == user_id)
        .ok_or(ApiError(app::error::AppError::NotFound))
}

/// Change a member's role (owners alone grant or take away ownership; the last owner stays).
#[utoipa::path(patch, path = "/tenants/{tenant_id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = RoleChange,
    responses((status = 200, description = "The member with the new role", body = Member), Problems))]
pub async fn change_role(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, user_id)): Path<(Uuid, Uuid)>,
    Json(change): Json<RoleChange>,
) -> ApiResult<Json<Member>> {
    tenancy::change_role(&state.db, &actor, tenant_id, user_id, change.role).await?;
    Ok(Json(find_member(&state, &actor, tenant_id, user_id).await?))
}

/// Remove a member from the tenant (their API keys stop working at once).
#[utoipa::path(delete, path = "/tenants/{tenant_id}/members/{user_id}", tag = "members", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204, description = "Removed"), Problems))]
pub async fn remove_member(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, user_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    tenancy::remove_member(&state.db, &actor, tenant_id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pending invitations, ordered by id.
#[utoipa::path(get, path = "/tenants/{tenant_id}/invitations", tag = "invitations", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path), PageQuery),
    responses((status = 200, description = "A page of pending invitations", body = Page<PendingInvitation>), Problems))]
pub async fn invitations(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Query(page): Query<PageQuery>,
) -> ApiResult<Json<Page<PendingInvitation>>> {
    let (after, limit) = page.keyset_id()?;
    let list =
        tenancy::invitations_page(&state.db, &actor, tenant_id, after, limit as i64 + 1).await?;
    Ok(Json(page.page_of_keyset(list, limit, |i| {
        i.invitation_id.to_string()
    })))
}

#[derive(Deserialize, ToSchema)]
pub struct NewInvitation {
    pub email: String,
    pub role: Role,
}

/// Invite someone by email; the answer holds the single-use link (valid 72 hours), shown once.
#[utoipa::path(post, path = "/tenants/{tenant_id}/invitations", tag = "invitations", security(("bearer" = [])),
    params(("tenant_id" = Uuid, Path)), request_body = NewInvitation,
    responses((status = 201, description = "The invitation and its link", body = CreatedInvitation), Problems))]
pub async fn invite(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(tenant_id): Path<Uuid>,
    Json(invitation): Json<NewInvitation>,
) -> ApiResult<(StatusCode, Json<CreatedInvitation>)> {
    let created = tenancy::invite_member(
        &state.db,
        &actor,
        tenant_id,
        &invitation.email,
        invitation.role,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revoke a pending invitation.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/invitations/{invitation_id}", tag = "invitations",
    security(("bearer" = [])), params(("tenant_id" = Uuid, Path), ("invitation_id" = Uuid, Path)),
    responses((status = 204, description = "Revoked"), Problems))]
pub async fn revoke_invitation(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((tenant_id, invitation_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    tenancy::revoke_invitation(&state.db, &actor, tenant_id, invitation_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
