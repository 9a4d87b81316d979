//! Server functions (mounted under `/rpc`): each gets the actor and the pool, calls one backend
//! function and maps its error. No rule lives here; `backend` and `rbac` decide.

use crate::error::AppError;
use crate::model::*;
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
mod ctx {
    use crate::backend::actor::{Actor, RequestActor};
    use crate::error::AppError;
    use axum::Extension;
    use leptos::prelude::use_context;
    use sqlx::PgPool;
    use tower_sessions::Session;

    pub fn db() -> Result<PgPool, AppError> {
        use_context::<PgPool>().ok_or(AppError::Internal)
    }

    pub async fn maybe_actor() -> Result<Option<Actor>, AppError> {
        let Extension(RequestActor(actor)) = leptos_axum::extract::<Extension<RequestActor>>()
            .await
            .map_err(|_| AppError::Internal)?;
        Ok(actor)
    }

    pub async fn actor() -> Result<Actor, AppError> {
        maybe_actor().await?.ok_or(AppError::Unauthenticated)
    }

    /// The pool, the actor and the tenant they are working in (most server functions need all three).
    pub async fn in_tenant() -> Result<(PgPool, Actor, uuid::Uuid), AppError> {
        let (db, actor) = (db()?, actor().await?);
        let tenant_id = crate::backend::tenancy::current_tenant(&db, &actor).await?;
        Ok((db, actor, tenant_id))
    }

    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>()
            .await
            .map_err(|_| AppError::Internal)
    }

    /// Gives a failed call the HTTP status of its error.
    pub fn respond<T>(result: Result<T, AppError>) -> Result<T, AppError> {
        if let (Err(error), Some(response)) =
            (&result, use_context::<leptos_axum::ResponseOptions>())
        {
            if let Ok(status) = http::StatusCode::from_u16(error.status()) {
                response.set_status(status);
            }
        }
        result
    }
}

#[cfg(feature = "ssr")]
use crate::backend::{identity, session, tenancy};
#[cfg(feature = "ssr")]
use ctx::*;

// ----- Session ---------------------------------------------------------------------------------

#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    respond(
        async {
            let db = db()?;
            let user = identity::authenticate(&db, &email, password.into()).await?;
            session::begin(&session().await?, user.user_id, user.session_epoch).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    respond(
        async {
            session::end(&session().await?).await?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// Who is signed in (`None` when nobody is).
#[server(prefix = "/rpc", endpoint = "get_session_info")]
pub async fn get_session_info() -> Result<Option<SessionInfo>, AppError> {
    respond(
        async {
            match maybe_actor().await? {
                Some(actor) => Ok(Some(tenancy::session_info(&db()?, &actor).await?)),
                None => Ok(None),
            }
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "switch_tenant")]
pub async fn switch_tenant(tenant_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let actor = actor().await?;
            tenancy::tenant_overview(&db()?, &actor, tenant_id).await?;
            session::choose_tenant(&session().await?, tenant_id).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

// ----- The current tenant ----------------------------------------------------------------------

#[server(prefix = "/rpc", endpoint = "get_overview")]
pub async fn get_overview() -> Result<Option<TenantView>, AppError> {
    respond(
        async {
            let (db, actor) = (db()?, actor().await?);
            let Some(current) = tenancy::session_info(&db, &actor).await?.current else {
                return Ok(None);
            };
            Ok(Some(
                tenancy::tenant_overview(&db, &actor, current.tenant_id).await?,
            ))
        }
        .await,
    )
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MembersPage {
    pub tenant: TenantView,
    pub members: Vec<Member>,
    /// Present only for those allowed to see invitations.
    pub invitations: Option<Vec<PendingInvitation>>,
    pub me: Uuid,
}

#[server(prefix = "/rpc", endpoint = "get_members")]
pub async fn get_members() -> Result<MembersPage, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let tenant = tenancy::tenant_overview(&db, &actor, tenant_id).await?;
            let members = tenancy::list_members(&db, &actor, tenant_id).await?;
            let invitations = match tenancy::list_invitations(&db, &actor, tenant_id).await {
                Ok(list) => Some(list),
                Err(AppError::Forbidden(_)) => None,
                Err(other) => return Err(other),
            };
            Ok(MembersPage {
                tenant,
                members,
                invitations,
                me: actor.user_id,
            })
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "invite_member")]
pub async fn invite_member(email: String, role: Role) -> Result<CreatedInvitation, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            tenancy::invite_member(&db, &actor, tenant_id, &email, role).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "change_member_role")]
pub async fn change_member_role(user_id: Uuid, role: Role) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            tenancy::change_role(&db, &actor, tenant_id, user_id, role).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "remove_member")]
pub async fn remove_member(user_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            tenancy::remove_member(&db, &actor, tenant_id, user_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_invitation")]
pub async fn revoke_invitation(invitation_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            tenancy::revoke_invitation(&db, &actor, tenant_id, invitation_id).await
        }
        .await,
    )
}

// ----- Invitations (the link is the credential) ------------------------------------------------

#[server(prefix = "/rpc", endpoint = "preview_invitation")]
pub async fn preview_invitation(token: String) -> Result<InvitationPreview, AppError> {
    respond(async { tenancy::preview_invitation(&db()?, &token).await }.await)
}

#[server(prefix = "/rpc", endpoint = "accept_invitation")]
pub async fn accept_invitation(
    token: String,
    display_name: String,
    password: String,
) -> Result<(), AppError> {
    respond(
        async {
            let db = db()?;
            let (user, tenant_id) =
                tenancy::accept_invitation(&db, &token, &display_name, password.into()).await?;
            let session = session().await?;
            session::begin(&session, user.user_id, user.session_epoch).await?;
            session::choose_tenant(&session, tenant_id).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

// ----- Admin console ---------------------------------------------------------------------------

#[server(prefix = "/rpc", endpoint = "admin_list_tenants")]
pub async fn admin_list_tenants() -> Result<Vec<TenantAdminView>, AppError> {
    respond(async { tenancy::list_tenants(&db()?, &actor().await?).await }.await)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CreatedTenant {
    pub tenant: TenantAdminView,
    pub invitation: CreatedInvitation,
}

/// Creates a tenant and invites its first owner in one step.
#[server(prefix = "/rpc", endpoint = "admin_create_tenant")]
pub async fn admin_create_tenant(
    slug: String,
    display_name: String,
    owner_email: String,
) -> Result<CreatedTenant, AppError> {
    respond(
        async {
            let (db, actor) = (db()?, actor().await?);
            crate::rbac::authorize_platform(&actor, crate::rbac::PlatformAction::CreateTenant)?;
            // Check every field first, so nothing is created when any of them is wrong.
            crate::validate::Checks::default()
                .check("slug", crate::validate::slug(slug.trim()))
                .check("display_name", crate::validate::display_name(&display_name))
                .check("owner_email", crate::validate::email(&owner_email))
                .finish()?;
            let tenant = tenancy::create_tenant(&db, &actor, &slug, &display_name).await?;
            let invitation =
                tenancy::invite_owner(&db, &actor, tenant.tenant_id, &owner_email).await?;
            Ok(CreatedTenant { tenant, invitation })
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin_get_tenant")]
pub async fn admin_get_tenant(tenant_id: Uuid) -> Result<TenantAdminView, AppError> {
    respond(async { tenancy::get_tenant(&db()?, &actor().await?, tenant_id).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_set_suspended")]
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

#[server(prefix = "/rpc", endpoint = "admin_update_quotas")]
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

#[server(prefix = "/rpc", endpoint = "admin_invite_owner")]
pub async fn admin_invite_owner(
    tenant_id: Uuid,
    email: String,
) -> Result<CreatedInvitation, AppError> {
    respond(async { tenancy::invite_owner(&db()?, &actor().await?, tenant_id, &email).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_list_users")]
pub async fn admin_list_users() -> Result<Vec<UserAdminView>, AppError> {
    respond(async { identity::list_users(&db()?, &actor().await?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_set_user_disabled")]
pub async fn admin_set_user_disabled(user_id: Uuid, disabled: bool) -> Result<(), AppError> {
    respond(
        async { identity::set_user_disabled(&db()?, &actor().await?, user_id, disabled).await }
            .await,
    )
}

// ----- Jobs ------------------------------------------------------------------------------------

#[cfg(feature = "ssr")]
use crate::backend::jobs;

#[server(prefix = "/rpc", endpoint = "get_jobs")]
pub async fn get_jobs() -> Result<Vec<JobSummary>, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            jobs::list_tenant_jobs(&db, &actor, tenant_id, 100).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_job")]
pub async fn get_job(job_id: i64) -> Result<JobDetail, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            jobs::tenant_job(&db, &actor, tenant_id, job_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "cancel_job")]
pub async fn cancel_job(job_id: i64) -> Result<JobState, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            jobs::cancel_tenant_job(&db, &actor, tenant_id, job_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "retry_job")]
pub async fn retry_job(job_id: i64) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            jobs::retry_tenant_job(&db, &actor, tenant_id, job_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin_queue")]
pub async fn admin_queue() -> Result<QueueOverview, AppError> {
    respond(async { jobs::queue_overview(&db()?, &actor().await?).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_cancel_job")]
pub async fn admin_cancel_job(job_id: i64) -> Result<JobState, AppError> {
    respond(async { jobs::admin_cancel_job(&db()?, &actor().await?, job_id).await }.await)
}

#[server(prefix = "/rpc", endpoint = "admin_retry_job")]
pub async fn admin_retry_job(job_id: i64) -> Result<(), AppError> {
    respond(async { jobs::admin_retry_job(&db()?, &actor().await?, job_id).await }.await)
}

// ----- Re-authentication, secrets, cloud accounts -------------------------------------------------

#[cfg(feature = "ssr")]
use crate::backend::{cloud_accounts, secrets};

#[cfg(feature = "ssr")]
fn keyring() -> Result<std::sync::Arc<secrets::Keyring>, AppError> {
    use_context::<std::sync::Arc<secrets::Keyring>>().ok_or(AppError::Internal)
}

/// Confirms the signed-in person's password; sensitive actions accept it for 5 minutes.
#[server(prefix = "/rpc", endpoint = "reauthenticate")]
pub async fn reauthenticate(password: String) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor) = (db()?, actor().await?);
            match identity::authenticate(&db, &actor.email, password.into()).await {
                Ok(_) => session::mark_reauthenticated(&session().await?).await,
                Err(AppError::BadCredentials) => {
                    Err(AppError::invalid("password", "That is not your password."))
                }
                Err(other) => Err(other),
            }
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_secrets")]
pub async fn get_secrets() -> Result<Vec<SecretView>, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            secrets::list_secrets(&db, &actor, tenant_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_secret")]
pub async fn create_secret(name: String, value: String) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            secrets::create_secret(&db, &*keyring()?, &actor, tenant_id, &name, value.into())
                .await
                .map(drop)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "update_secret")]
pub async fn update_secret(secret_id: Uuid, value: String) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            secrets::update_secret(
                &db,
                &*keyring()?,
                &actor,
                tenant_id,
                secret_id,
                value.into(),
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_secret")]
pub async fn delete_secret(secret_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            secrets::delete_secret(&db, &actor, tenant_id, secret_id).await
        }
        .await,
    )
}

/// The one response that carries a secret's value.
#[server(prefix = "/rpc", endpoint = "reveal_secret")]
pub async fn reveal_secret(secret_id: Uuid) -> Result<String, AppError> {
    respond(
        async {
            use secrecy::ExposeSecret;
            let (db, actor, tenant_id) = in_tenant().await?;
            let value =
                secrets::reveal_secret(&db, &*keyring()?, &actor, tenant_id, secret_id).await?;
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.insert_header(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-store"),
                );
            }
            Ok(value.expose_secret().to_string())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_cloud_accounts")]
pub async fn get_cloud_accounts() -> Result<Vec<CloudAccountView>, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            cloud_accounts::list(&db, &actor, tenant_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_cloud_account")]
pub async fn create_cloud_account(
    name: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    endpoint_url: String,
) -> Result<CloudAccountView, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let new = cloud_accounts::NewCloudAccount {
                name,
                region,
                access_key_id,
                secret_access_key: secret_access_key.into(),
                endpoint_url: Some(endpoint_url),
                emulated: false,
            };
            cloud_accounts::create(&db, &*keyring()?, &actor, tenant_id, new).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_cloud_account")]
pub async fn delete_cloud_account(cloud_account_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            cloud_accounts::delete(&db, &actor, tenant_id, cloud_account_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "test_cloud_account")]
pub async fn test_cloud_account(cloud_account_id: Uuid) -> Result<ConnectionTest, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            cloud_accounts::test_connection(&db, &*keyring()?, &actor, tenant_id, cloud_account_id)
                .await
        }
        .await,
    )
}
