//! The current tenant: overview, members, invitations.

use super::*;

#[server(prefix = "/rpc", endpoint = "get_overview", output = super::codec::StrJson)]
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

#[server(prefix = "/rpc", endpoint = "get_members", output = super::codec::StrJson)]
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

#[server(prefix = "/rpc", endpoint = "invite_member", output = super::codec::StrJson)]
pub async fn invite_member(email: String, role: Role) -> Result<CreatedInvitation, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            tenancy::invite_member(&db, &actor, tenant_id, &email, role).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "change_member_role", output = super::codec::StrJson)]
pub async fn change_member_role(user_id: Uuid, role: Role) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            tenancy::change_role(&db, &actor, tenant_id, user_id, role).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "remove_member", output = super::codec::StrJson)]
pub async fn remove_member(user_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            tenancy::remove_member(&db, &actor, tenant_id, user_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_invitation", output = super::codec::StrJson)]
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

#[server(prefix = "/rpc", endpoint = "preview_invitation", output = super::codec::StrJson)]
pub async fn preview_invitation(token: String) -> Result<InvitationPreview, AppError> {
    respond(
        async {
            let viewer = maybe_actor().await?;
            tenancy::preview_invitation(&db()?, viewer.as_ref(), &token).await
        }
        .await,
    )
}

/// Accepts an invitation by creating the invited account (name and password). An email that
/// already has an account is refused: its owner signs in and uses `join_invitation`.
#[server(prefix = "/rpc", endpoint = "accept_invitation", output = super::codec::StrJson)]
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
            let step = crate::backend::identity::account::start_session(
                &db,
                &session().await?,
                &user,
                Some(tenant_id),
                &client_info().await,
            )
            .await?;
            leptos_axum::redirect(step.path());
            Ok(())
        }
        .await,
    )
}

/// Accepts an invitation into the signed-in account (no password: the session is the proof).
#[server(prefix = "/rpc", endpoint = "join_invitation", output = super::codec::StrJson)]
pub async fn join_invitation(token: String) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor) = (db()?, actor().await?);
            let tenant_id = tenancy::join_invitation(&db, &actor, &token).await?;
            session::choose_tenant(&session().await?, tenant_id).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

// ----- Admin console ---------------------------------------------------------------------------
