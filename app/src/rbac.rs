//! Who may do what: the one permission table.
//!
//! The backend calls [`authorize`] (feature `ssr`) before every tenant action and
//! [`authorize_platform`] before every admin-console action; the UI calls [`allows`] only to
//! hide what a person cannot do. Anything not listed here is refused.

use crate::model::Role;

/// Everything a tenant member can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    ViewTenant,
    ViewMembers,
    ViewInvitations,
    InviteMember,
    ChangeMemberRole,
    RemoveMember,
    RevokeInvitation,
    /// Granting, changing or removing the owner role.
    ManageOwnership,
    ViewJobs,
    /// Retrying a failed job, cancelling a queued or running one.
    ManageJobs,
    ViewCloudAccounts,
    ManageCloudAccounts,
    /// Listing secrets (names and dates, never values).
    ViewSecrets,
    ManageSecrets,
    /// Reading a secret's value (also needs a recent password confirmation).
    RevealSecret,
    /// Reading and exporting the tenant's audit log.
    ViewAuditLog,
    /// Creating, listing and revoking one's own API keys (at most one's own role).
    ManageOwnApiKeys,
    /// Listing and revoking everybody's API keys in the tenant (allowed while suspended).
    ManageAllApiKeys,
    /// Zones, instance groups and databases: listing, reading, planning.
    ViewResources,
    /// Creating, changing and deleting them.
    ManageResources,
    /// Rotating a database's master password (revealing it is `RevealSecret`).
    ManageDatabaseCredentials,
}

impl Action {
    pub const ALL: [Action; 21] = [
        Action::ViewTenant,
        Action::ViewMembers,
        Action::ViewInvitations,
        Action::InviteMember,
        Action::ChangeMemberRole,
        Action::RemoveMember,
        Action::RevokeInvitation,
        Action::ManageOwnership,
        Action::ViewJobs,
        Action::ManageJobs,
        Action::ViewCloudAccounts,
        Action::ManageCloudAccounts,
        Action::ViewSecrets,
        Action::ManageSecrets,
        Action::RevealSecret,
        Action::ViewAuditLog,
        Action::ManageOwnApiKeys,
        Action::ManageAllApiKeys,
        Action::ViewResources,
        Action::ManageResources,
        Action::ManageDatabaseCredentials,
    ];

    /// A stable name, as the REST API lists permissions.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ViewTenant => "view_tenant",
            Action::ViewMembers => "view_members",
            Action::ViewInvitations => "view_invitations",
            Action::InviteMember => "invite_member",
            Action::ChangeMemberRole => "change_member_role",
            Action::RemoveMember => "remove_member",
            Action::RevokeInvitation => "revoke_invitation",
            Action::ManageOwnership => "manage_ownership",
            Action::ViewJobs => "view_jobs",
            Action::ManageJobs => "manage_jobs",
            Action::ViewCloudAccounts => "view_cloud_accounts",
            Action::ManageCloudAccounts => "manage_cloud_accounts",
            Action::ViewSecrets => "view_secrets",
            Action::ManageSecrets => "manage_secrets",
            Action::RevealSecret => "reveal_secret",
            Action::ViewAuditLog => "view_audit_log",
            Action::ManageOwnApiKeys => "manage_own_api_keys",
            Action::ManageAllApiKeys => "manage_all_api_keys",
            Action::ViewResources => "view_resources",
            Action::ManageResources => "manage_resources",
            Action::ManageDatabaseCredentials => "manage_database_credentials",
        }
    }

    /// The lowest role allowed to do it.
    pub fn min_role(self) -> Role {
        match self {
            Action::ViewTenant
            | Action::ViewMembers
            | Action::ViewJobs
            | Action::ViewCloudAccounts
            | Action::ManageOwnApiKeys
            | Action::ViewResources => Role::Viewer,
            Action::ManageJobs | Action::ManageResources => Role::Member,
            Action::ViewInvitations
            | Action::InviteMember
            | Action::ChangeMemberRole
            | Action::RemoveMember
            | Action::RevokeInvitation
            | Action::ManageCloudAccounts
            | Action::ViewSecrets
            | Action::ManageSecrets
            | Action::RevealSecret
            | Action::ViewAuditLog
            | Action::ManageAllApiKeys
            | Action::ManageDatabaseCredentials => Role::Admin,
            Action::ManageOwnership => Role::Owner,
        }
    }

    /// Changes are refused while the tenant is suspended; reads are not.
    pub fn changes_state(self) -> bool {
        !matches!(
            self,
            Action::ViewTenant
                | Action::ViewMembers
                | Action::ViewInvitations
                | Action::ViewJobs
                | Action::ViewCloudAccounts
                | Action::ViewSecrets
                | Action::RevealSecret
                | Action::ViewAuditLog
                | Action::ViewResources
                // Listing keys, and revoking them: taking access away is safe even when suspended.
                | Action::ManageAllApiKeys
        )
    }
}

/// Everything only a platform admin can do (the admin console).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlatformAction {
    ListTenants,
    CreateTenant,
    SuspendTenant,
    EditQuotas,
    InviteTenantOwner,
    ListUsers,
    DisableUser,
    /// The queue page: counts, failures, retry and cancel of any job.
    ManageQueue,
    /// The audit log across all tenants.
    ViewAuditLog,
}

impl PlatformAction {
    pub const ALL: [PlatformAction; 9] = [
        PlatformAction::ListTenants,
        PlatformAction::CreateTenant,
        PlatformAction::SuspendTenant,
        PlatformAction::EditQuotas,
        PlatformAction::InviteTenantOwner,
        PlatformAction::ListUsers,
        PlatformAction::DisableUser,
        PlatformAction::ManageQueue,
        PlatformAction::ViewAuditLog,
    ];
}

pub fn allows(role: Role, action: Action) -> bool {
    role >= action.min_role()
}

/// What the portal offers: the permission table, and no changes while the tenant is suspended
/// (the backend refuses them with its own message). Pages hide controls with this alone.
pub fn offers(role: Role, suspended: bool, action: Action) -> bool {
    allows(role, action) && !(suspended && action.changes_state())
}

/// Whether a person with `role` may change or remove a member (or revoke an invitation)
/// holding `target`: only owners touch owners.
pub fn may_manage_member(role: Role, target: Role) -> bool {
    allows(role, Action::ChangeMemberRole)
        && (target != Role::Owner || allows(role, Action::ManageOwnership))
}

/// The roles a new API key may carry: at most its creator's own.
pub fn key_roles(role: Role) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| allows(role, Action::ManageOwnApiKeys) && *r <= role)
        .collect()
}

/// What a role may do, in words, read from the table (the overview's "your role" card).
pub fn summary(role: Role) -> &'static str {
    if allows(role, Action::ManageOwnership) {
        "You own this tenant: ownership, members, cloud accounts, secrets and everything else."
    } else if allows(role, Action::ManageCloudAccounts) {
        "You manage members, cloud accounts, secrets and API keys, and read the audit log."
    } else if allows(role, Action::ManageJobs) {
        "You can create, change and delete resources, and retry or cancel jobs."
    } else {
        "You can read everything in this tenant except secrets and the audit log."
    }
}

/// The roles a person with `role` may hand out (invite as, or change to).
pub fn grantable_roles(role: Role) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| {
            allows(role, Action::InviteMember)
                && (*r != Role::Owner || allows(role, Action::ManageOwnership))
        })
        .collect()
}

#[cfg(feature = "ssr")]
pub use enforce::*;

#[cfg(feature = "ssr")]
mod enforce {
    use super::*;
    use crate::backend::identity::actor::Actor;
    use crate::error::AppError;
    use crate::model::TenantStatus;
    use sqlx::PgExecutor;
    use uuid::Uuid;

    /// Proof that the actor may do an action in a tenant.
    #[derive(Debug, Clone, Copy)]
    pub struct TenantAccess {
        pub tenant_id: Uuid,
        pub role: Role,
    }

    /// Fails closed: no membership is 404 (a foreign tenant is indistinguishable from none),
    /// too low a role is 403, a change in a suspended tenant is 403 with its own problem type.
    pub async fn authorize(
        db: impl PgExecutor<'_>,
        actor: &Actor,
        tenant_id: Uuid,
        action: Action,
    ) -> Result<TenantAccess, AppError> {
        let row: Option<(Role, TenantStatus)> = sqlx::query_as(
            "select m.role, t.status from membership m join tenant t using (tenant_id)
             where m.tenant_id = $1 and m.user_id = $2",
        )
        .bind(tenant_id)
        .bind(actor.user_id)
        .fetch_optional(db)
        .await?;
        let Some((mut role, status)) = row else {
            return Err(AppError::NotFound);
        };
        // An API key reaches only its own tenant, with at most its own role.
        if let Some((key_tenant, key_role)) = actor.key_scope() {
            if key_tenant != tenant_id {
                return Err(AppError::NotFound);
            }
            role = role.min(key_role);
        }
        if !allows(role, action) {
            crate::backend::audit::record_refusal(actor, Some(tenant_id), action.as_str());
            return Err(AppError::Forbidden(format!(
                "Your role ({}) does not allow this.",
                role.label()
            )));
        }
        if action.changes_state() && status == TenantStatus::Suspended {
            return Err(AppError::Suspended);
        }
        Ok(TenantAccess { tenant_id, role })
    }

    /// The admin console is for people signed in to the portal, never for API keys.
    pub fn authorize_platform(actor: &Actor, _action: PlatformAction) -> Result<(), AppError> {
        if actor.platform_admin && actor.key_scope().is_none() {
            Ok(())
        } else {
            crate::backend::audit::record_refusal(actor, None, "platform");
            Err(AppError::Forbidden(
                "Only platform admins can do this.".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_only_read() {
        for action in Action::ALL {
            let expected = matches!(
                action,
                Action::ViewTenant
                    | Action::ViewMembers
                    | Action::ViewJobs
                    | Action::ViewCloudAccounts
                    | Action::ManageOwnApiKeys
                    | Action::ViewResources
            );
            assert_eq!(allows(Role::Viewer, action), expected, "{action:?}");
        }
    }

    #[test]
    fn the_portal_offers_no_changes_in_a_suspended_tenant() {
        for action in Action::ALL {
            assert!(offers(Role::Owner, false, action), "{action:?}");
            assert_eq!(
                offers(Role::Owner, true, action),
                !action.changes_state(),
                "{action:?}"
            );
        }
        assert!(!offers(Role::Viewer, false, Action::ManageJobs));
    }

    #[test]
    fn only_owners_manage_owners_and_keys_stay_below_their_creator() {
        assert!(may_manage_member(Role::Owner, Role::Owner));
        assert!(!may_manage_member(Role::Admin, Role::Owner));
        assert!(may_manage_member(Role::Admin, Role::Admin));
        assert!(!may_manage_member(Role::Member, Role::Viewer));
        assert_eq!(key_roles(Role::Member), vec![Role::Viewer, Role::Member]);
        assert_eq!(key_roles(Role::Viewer), vec![Role::Viewer]);
    }

    #[test]
    fn only_owners_grant_owner() {
        assert_eq!(grantable_roles(Role::Owner), Role::ALL.to_vec());
        assert_eq!(
            grantable_roles(Role::Admin),
            vec![Role::Viewer, Role::Member, Role::Admin]
        );
        assert!(grantable_roles(Role::Member).is_empty());
        assert!(grantable_roles(Role::Viewer).is_empty());
    }
}
