//! The admin console.

use super::*;

#[server(prefix = "/rpc", endpoint = "admin_list_tenants", output = super::codec::StrJson)]
pub async fn admin_list_tenants() -> Result<Vec<TenantAdminView>, AppError> {
    respond(async { tenancy::list_tenants(&db()?, &actor().await?).await }.await)
}

/// Creates a tenant and invites its first owner in one step.
#[server(prefix = "/rpc", endpoint = "admin_create_tenant", output = super::codec::StrJson)]
pub async fn admin_create_tenant(
    slug: String,
    display_name: String,
    owner_email: String,
) -> Result<CreatedTenant, AppError> {
    respond(
        async {
            let (db, actor) = (db()?, actor().await?);
            tenancy::create_tenant(&db, &actor, &slug, &display_name, &owner_email).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin_get_tenant", output = super::codec::StrJson)]
pub async fn admin_get_tenant(tenant_id: Uuid) -> Result<TenantAdminView, AppError> {
    respond(async { tenancy::get_tenant(&db()?, &actor().await?, tenant_id).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_set_suspended", output = super::codec::StrJson)]
pub async fn admin_set_suspended(tenant_id: Uuid, suspended: bool) -> Result<(), AppError> {
    let status = if suspended {
        TenantStatus::Suspended
    } else {
        TenantStatus::Active
    };
    respond(
        async { tenancy::set_tenant_status(&db()?, &actor().await?, tenant_id, status).await }
            .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin_update_quotas", output = super::codec::StrJson)]
pub async fn admin_update_quotas(
    tenant_id: Uuid,
    max_zones: i32,
    max_instances: i32,
    max_vcpus: i32,
    max_databases: i32,
) -> Result<(), AppError> {
    let quotas = Quotas {
        max_zones,
        max_instances,
        max_vcpus,
        max_databases,
    };
    respond(
        async { tenancy::update_quotas(&db()?, &actor().await?, tenant_id, quotas).await }.await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin_invite_owner", output = super::codec::StrJson)]
pub async fn admin_invite_owner(
    tenant_id: Uuid,
    email: String,
) -> Result<CreatedInvitation, AppError> {
    respond(async { tenancy::invite_owner(&db()?, &actor().await?, tenant_id, &email).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_list_users", output = super::codec::StrJson)]
pub async fn admin_list_users() -> Result<Vec<UserAdminView>, AppError> {
    respond(async { identity::list_users(&db()?, &actor().await?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_set_user_disabled", output = super::codec::StrJson)]
pub async fn admin_set_user_disabled(user_id: Uuid, disabled: bool) -> Result<(), AppError> {
    respond(
        async { identity::set_user_disabled(&db()?, &actor().await?, user_id, disabled).await }
            .await,
    )
}

// ----- Jobs ------------------------------------------------------------------------------------
