//! Tenants, memberships and invitations.

use crate::backend::audit::{self, By};
use crate::backend::identity::actor::Actor;
use crate::backend::identity::passwords;
use crate::backend::identity::{insert_user, normalize_email};
use crate::error::AppError;
use crate::model::*;
use crate::rbac::{authorize, authorize_platform, Action, PlatformAction, TenantAccess};
use crate::validate::{self, Checks};
use secrecy::SecretString;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long an invitation link stays valid.
pub const INVITATION_TTL: Duration = Duration::hours(72);

const TENANT_COLUMNS: &str = "t.tenant_id, t.slug, t.display_name, t.status, t.created_at,
     t.max_zones, t.max_instances, t.max_vcpus, t.max_databases,
     (select count(*) from membership m where m.tenant_id = t.tenant_id) as member_count";

#[derive(sqlx::FromRow)]
struct TenantRow {
    tenant_id: Uuid,
    slug: String,
    display_name: String,
    status: TenantStatus,
    created_at: OffsetDateTime,
    member_count: i64,
    #[sqlx(flatten)]
    quotas: Quotas,
}

impl From<TenantRow> for TenantAdminView {
    fn from(r: TenantRow) -> Self {
        TenantAdminView {
            tenant_id: r.tenant_id,
            slug: r.slug,
            display_name: r.display_name,
            status: r.status,
            quotas: r.quotas,
            member_count: r.member_count,
            created_at: r.created_at,
        }
    }
}

async fn fetch_tenant(
    db: impl sqlx::PgExecutor<'_>,
    tenant_id: Uuid,
) -> Result<TenantRow, AppError> {
    Ok(sqlx::query_as(&format!(
        "select {TENANT_COLUMNS} from tenant t where t.tenant_id = $1"
    ))
    .bind(tenant_id)
    .fetch_one(db)
    .await?)
}

// ----- The admin console -------------------------------------------------------------------

/// Creates a tenant and invites its first owner, in one transaction: either both exist
/// afterwards or neither does. Every field is checked before anything is written.
pub async fn create_tenant(
    db: &PgPool,
    actor: &Actor,
    slug: &str,
    display_name: &str,
    owner_email: &str,
) -> Result<CreatedTenant, AppError> {
    authorize_platform(actor, PlatformAction::CreateTenant)?;
    authorize_platform(actor, PlatformAction::InviteTenantOwner)?;
    let slug = slug.trim().to_lowercase();
    Checks::default()
        .check("slug", validate::slug(&slug))
        .check("display_name", validate::display_name(display_name))
        .check(
            "owner_email",
            validate::email(&normalize_email(owner_email)),
        )
        .finish()?;
    let mut tx = db.begin().await?;
    let tenant_id: Uuid = sqlx::query_scalar(
        "insert into tenant (slug, display_name) values ($1, $2) returning tenant_id",
    )
    .bind(&slug)
    .bind(display_name.trim())
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if crate::backend::violates(&e, "tenant_slug_key") {
            AppError::conflict("slug", format!("The slug \"{slug}\" is already taken."))
        } else {
            e.into()
        }
    })?;
    audit::record_with(
        &mut tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::TenantCreated,
        &slug,
        json!({ "display_name": display_name.trim() }),
    )
    .await?;
    let invitation = insert_invitation(&mut tx, actor, tenant_id, owner_email, Role::Owner).await?;
    let tenant = fetch_tenant(&mut *tx, tenant_id).await?.into();
    tx.commit().await?;
    tracing::info!(%tenant_id, %slug, by = %actor.user_id, "tenant created");
    Ok(CreatedTenant { tenant, invitation })
}

pub async fn list_tenants(db: &PgPool, actor: &Actor) -> Result<Vec<TenantAdminView>, AppError> {
    authorize_platform(actor, PlatformAction::ListTenants)?;
    let rows: Vec<TenantRow> = sqlx::query_as(&format!(
        "select {TENANT_COLUMNS} from tenant t order by t.created_at desc"
    ))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn get_tenant(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<TenantAdminView, AppError> {
    authorize_platform(actor, PlatformAction::ListTenants)?;
    Ok(fetch_tenant(db, tenant_id).await?.into())
}

pub async fn set_tenant_status(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    status: TenantStatus,
) -> Result<(), AppError> {
    authorize_platform(actor, PlatformAction::SuspendTenant)?;
    let mut tx = db.begin().await?;
    let (slug, before): (String, TenantStatus) =
        sqlx::query_as("select slug, status from tenant where tenant_id = $1 for no key update")
            .bind(tenant_id)
            .fetch_one(&mut *tx)
            .await?;
    if before == status {
        // Nothing changes, so there is nothing to record.
        return Ok(());
    }
    sqlx::query("update tenant set status = $2 where tenant_id = $1")
        .bind(tenant_id)
        .bind(status)
        .execute(&mut *tx)
        .await?;
    let action = match status {
        TenantStatus::Suspended => AuditAction::TenantSuspended,
        TenantStatus::Active => AuditAction::TenantResumed,
    };
    audit::commit_with(tx, actor.into(), Some(tenant_id), action, &slug, json!({})).await?;
    tracing::info!(%tenant_id, ?status, by = %actor.user_id, "tenant status changed");
    Ok(())
}

pub async fn update_quotas(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    quotas: Quotas,
) -> Result<(), AppError> {
    authorize_platform(actor, PlatformAction::EditQuotas)?;
    Checks::default()
        .check("max_zones", validate::quota(quotas.max_zones))
        .check("max_instances", validate::quota(quotas.max_instances))
        .check("max_vcpus", validate::quota(quotas.max_vcpus))
        .check("max_databases", validate::quota(quotas.max_databases))
        .finish()?;
    let mut tx = db.begin().await?;
    let (slug, max_zones, max_instances, max_vcpus, max_databases): (String, i32, i32, i32, i32) =
        sqlx::query_as(
            "select slug, max_zones, max_instances, max_vcpus, max_databases from tenant
             where tenant_id = $1 for no key update",
        )
        .bind(tenant_id)
        .fetch_one(&mut *tx)
        .await?;
    let before = Quotas {
        max_zones,
        max_instances,
        max_vcpus,
        max_databases,
    };
    sqlx::query(
        "update tenant set max_zones = $2, max_instances = $3, max_vcpus = $4, max_databases = $5 where tenant_id = $1",
    )
    .bind(tenant_id)
    .bind(quotas.max_zones)
    .bind(quotas.max_instances)
    .bind(quotas.max_vcpus)
    .bind(quotas.max_databases)
    .execute(&mut *tx)
    .await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::TenantQuotasChanged,
        &slug,
        json!({ "from": before, "to": quotas }),
    )
    .await?;
    Ok(())
}

/// A platform admin invites a tenant's (first) owner.
pub async fn invite_owner(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    email: &str,
) -> Result<CreatedInvitation, AppError> {
    authorize_platform(actor, PlatformAction::InviteTenantOwner)?;
    let mut tx = db.begin().await?;
    let tenant = fetch_tenant(&mut *tx, tenant_id).await?;
    if tenant.status == TenantStatus::Suspended {
        return Err(AppError::Suspended);
    }
    let invitation = insert_invitation(&mut tx, actor, tenant_id, email, Role::Owner).await?;
    tx.commit().await?;
    Ok(invitation)
}

// ----- A tenant, seen by its members ---------------------------------------------------------

/// Who the actor is and which tenant they are in; falls back to their first tenant.
pub async fn session_info(db: &PgPool, actor: &Actor) -> Result<SessionInfo, AppError> {
    let mut tenants: Vec<TenantChoice> = sqlx::query_as(
        "select t.tenant_id, t.slug, t.display_name, m.role
         from membership m join tenant t using (tenant_id)
         where m.user_id = $1 order by t.display_name",
    )
    .bind(actor.user_id)
    .fetch_all(db)
    .await?;
    if let Some((key_tenant, key_role)) = actor.key_scope() {
        tenants.retain(|t| t.tenant_id == key_tenant);
        for t in &mut tenants {
            t.role = t.role.min(key_role);
        }
    }
    let current = actor
        .current_tenant
        .and_then(|id| tenants.iter().find(|t| t.tenant_id == id))
        .or(tenants.first())
        .cloned();
    Ok(SessionInfo {
        user_id: actor.user_id,
        email: actor.email.clone(),
        display_name: actor.display_name.clone(),
        platform_admin: actor.platform_admin,
        tenants,
        current,
    })
}

/// The tenant the actor is working in: the chosen one if still a member, else their first.
pub async fn current_tenant(db: &PgPool, actor: &Actor) -> Result<Uuid, AppError> {
    session_info(db, actor)
        .await?
        .current
        .map(|t| t.tenant_id)
        .ok_or_else(|| AppError::Forbidden("You are not a member of any tenant yet.".into()))
}

pub async fn tenant_overview(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<TenantView, AppError> {
    let access = authorize(db, actor, tenant_id, Action::ViewTenant).await?;
    let t = fetch_tenant(db, tenant_id).await?;
    Ok(TenantView {
        tenant_id: t.tenant_id,
        slug: t.slug,
        display_name: t.display_name,
        status: t.status,
        quotas: t.quotas,
        member_count: t.member_count,
        created_at: t.created_at,
        role: access.role,
    })
}

pub async fn list_members(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<Vec<Member>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewMembers).await?;
    Ok(sqlx::query_as(
        "select u.user_id, u.email, u.display_name, m.role, m.created_at as joined_at
         from membership m join app_user u using (user_id)
         where m.tenant_id = $1 order by m.role desc, u.email",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// A page of the tenant's members ordered by email, after `after` (REST's keyset paging).
pub async fn members_page(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Member>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewMembers).await?;
    Ok(sqlx::query_as(
        "select u.user_id, u.email, u.display_name, m.role, m.created_at as joined_at
         from membership m join app_user u using (user_id)
         where m.tenant_id = $1 and ($2::text is null or u.email > $2)
         order by u.email limit $3",
    )
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// A page of pending invitations ordered by id, after `after` (REST's keyset paging).
pub async fn invitations_page(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PendingInvitation>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewInvitations).await?;
    Ok(sqlx::query_as(
        "select invitation_id, email, role, created_at, expires_at from invitation
         where tenant_id = $1 and accepted_at is null and revoked_at is null and expires_at > now()
           and ($2::uuid is null or invitation_id > $2)
         order by invitation_id limit $3",
    )
    .bind(tenant_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// A page of the tenants the actor can reach ordered by slug (an API key reaches its own,
/// with at most its role), after `after` (REST's keyset paging).
pub async fn tenants_page(
    db: &PgPool,
    actor: &Actor,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<TenantChoice>, AppError> {
    let scope = actor.key_scope();
    let mut tenants: Vec<TenantChoice> = sqlx::query_as(
        "select t.tenant_id, t.slug, t.display_name, m.role
         from membership m join tenant t using (tenant_id)
         where m.user_id = $1 and ($2::uuid is null or t.tenant_id = $2)
           and ($3::text is null or t.slug > $3)
         order by t.slug limit $4",
    )
    .bind(actor.user_id)
    .bind(scope.map(|(tenant, _)| tenant))
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await?;
    if let Some((_, key_role)) = scope {
        for t in &mut tenants {
            t.role = t.role.min(key_role);
        }
    }
    Ok(tenants)
}

pub async fn list_invitations(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<Vec<PendingInvitation>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewInvitations).await?;
    Ok(sqlx::query_as(
        "select invitation_id, email, role, created_at, expires_at from invitation
         where tenant_id = $1 and accepted_at is null and revoked_at is null and expires_at > now()
         order by created_at desc",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

pub async fn invite_member(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    email: &str,
    role: Role,
) -> Result<CreatedInvitation, AppError> {
    authorize(db, actor, tenant_id, Action::InviteMember).await?;
    if role == Role::Owner {
        authorize(db, actor, tenant_id, Action::ManageOwnership).await?;
    }
    let mut tx = db.begin().await?;
    let invitation = insert_invitation(&mut tx, actor, tenant_id, email, role).await?;
    tx.commit().await?;
    Ok(invitation)
}

/// Replaces any pending invitation for the same email, so only the newest link works.
async fn insert_invitation(
    tx: &mut PgConnection,
    actor: &Actor,
    tenant_id: Uuid,
    email: &str,
    role: Role,
) -> Result<CreatedInvitation, AppError> {
    let email = normalize_email(email);
    Checks::default()
        .check("email", validate::email(&email))
        .finish()?;
    let already: bool = sqlx::query_scalar(
        "select exists (select 1 from membership m join app_user u using (user_id) where m.tenant_id = $1 and u.email = $2)",
    )
    .bind(tenant_id)
    .bind(&email)
    .fetch_one(&mut *tx)
    .await?;
    if already {
        return Err(AppError::conflict(
            "email",
            format!("{email} is already a member of this tenant."),
        ));
    }
    let replaced = sqlx::query(
        "update invitation set revoked_at = now()
         where tenant_id = $1 and email = $2 and accepted_at is null and revoked_at is null",
    )
    .bind(tenant_id)
    .bind(&email)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let (token, digest) = crate::backend::new_token();
    let expires_at = OffsetDateTime::now_utc() + INVITATION_TTL;
    let invitation_id: Uuid = sqlx::query_scalar(
        "insert into invitation (tenant_id, email, role, token_sha256, invited_by, expires_at)
         values ($1, $2, $3, $4, $5, $6) returning invitation_id",
    )
    .bind(tenant_id)
    .bind(&email)
    .bind(role)
    .bind(digest)
    .bind(actor.user_id)
    .bind(expires_at)
    .fetch_one(&mut *tx)
    .await?;
    // The link's token is the credential: it stays out of the log.
    audit::record_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::InvitationCreated,
        &email,
        json!({ "invitation_id": invitation_id, "role": role, "replaced_pending": replaced > 0 }),
    )
    .await?;
    tracing::info!(%tenant_id, %invitation_id, role = role.as_str(), by = %actor.user_id, "invitation created");
    Ok(CreatedInvitation {
        invitation_id,
        email,
        role,
        link_path: format!("/invite/{token}"),
        expires_at,
    })
}

pub async fn revoke_invitation(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    invitation_id: Uuid,
) -> Result<(), AppError> {
    let access = authorize(db, actor, tenant_id, Action::RevokeInvitation).await?;
    let mut tx = db.begin().await?;
    let (email, role): (String, Role) = sqlx::query_as(
        "select email, role from invitation where invitation_id = $1 and tenant_id = $2 and accepted_at is null and revoked_at is null
         for update",
    )
    .bind(invitation_id)
    .bind(tenant_id)
    .fetch_one(&mut *tx)
    .await?;
    if role == Role::Owner {
        authorize(&mut *tx, actor, access.tenant_id, Action::ManageOwnership).await?;
    }
    sqlx::query("update invitation set revoked_at = now() where invitation_id = $1")
        .bind(invitation_id)
        .execute(&mut *tx)
        .await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::InvitationRevoked,
        &email,
        json!({ "invitation_id": invitation_id, "role": role }),
    )
    .await?;
    Ok(())
}

/// Locks the tenant's memberships and returns the target's role and email, and the number of owners.
async fn lock_member(
    tx: &mut PgConnection,
    access: TenantAccess,
    user_id: Uuid,
) -> Result<(Role, String, i64), AppError> {
    let roles: Vec<(Uuid, Role, String)> = sqlx::query_as(
        "select m.user_id, m.role, u.email from membership m join app_user u using (user_id)
         where m.tenant_id = $1 for update of m",
    )
    .bind(access.tenant_id)
    .fetch_all(&mut *tx)
    .await?;
    let (role, email) = roles
        .iter()
        .find(|(id, _, _)| *id == user_id)
        .map(|(_, r, e)| (*r, e.clone()))
        .ok_or(AppError::NotFound)?;
    let owners = roles.iter().filter(|(_, r, _)| *r == Role::Owner).count() as i64;
    Ok((role, email, owners))
}

pub async fn change_role(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    user_id: Uuid,
    role: Role,
) -> Result<(), AppError> {
    // Granting ownership is the stricter action: check it first, so its refusal is the one reported.
    let action = if role == Role::Owner {
        Action::ManageOwnership
    } else {
        Action::ChangeMemberRole
    };
    let access = authorize(db, actor, tenant_id, action).await?;
    let mut tx = db.begin().await?;
    let (current, email, owners) = lock_member(&mut tx, access, user_id).await?;
    if current == Role::Owner || role == Role::Owner {
        authorize(&mut *tx, actor, tenant_id, Action::ManageOwnership).await?;
    }
    if current == Role::Owner && role != Role::Owner && owners <= 1 {
        return Err(AppError::conflict(
            "role",
            "The last owner cannot be demoted. Make someone else owner first.",
        ));
    }
    sqlx::query("update membership set role = $3 where tenant_id = $1 and user_id = $2")
        .bind(tenant_id)
        .bind(user_id)
        .bind(role)
        .execute(&mut *tx)
        .await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::MemberRoleChanged,
        &email,
        json!({ "user_id": user_id, "from": current, "to": role }),
    )
    .await?;
    tracing::info!(%tenant_id, %user_id, role = role.as_str(), by = %actor.user_id, "role changed");
    Ok(())
}

pub async fn remove_member(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    user_id: Uuid,
) -> Result<(), AppError> {
    let access = authorize(db, actor, tenant_id, Action::RemoveMember).await?;
    let mut tx = db.begin().await?;
    let (current, email, owners) = lock_member(&mut tx, access, user_id).await?;
    if current == Role::Owner {
        authorize(&mut *tx, actor, tenant_id, Action::ManageOwnership).await?;
        if owners <= 1 {
            return Err(AppError::Conflict {
                field: None,
                message: "The last owner cannot be removed. Make someone else owner first.".into(),
            });
        }
    }
    sqlx::query("delete from membership where tenant_id = $1 and user_id = $2")
        .bind(tenant_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    // Their keys in this tenant end for good: a later invitation must not bring them back.
    let keys_revoked =
        crate::backend::identity::api_keys::revoke_all(&mut tx, user_id, Some(tenant_id)).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::MemberRemoved,
        &email,
        json!({ "user_id": user_id, "role": current, "api_keys_revoked": keys_revoked }),
    )
    .await?;
    tracing::info!(%tenant_id, %user_id, by = %actor.user_id, "member removed");
    Ok(())
}

// ----- Accepting an invitation (no actor: the link is the credential) ---------------------------

#[derive(sqlx::FromRow)]
struct InvitationRow {
    invitation_id: Uuid,
    tenant_id: Uuid,
    tenant_name: String,
    tenant_status: TenantStatus,
    email: String,
    role: Role,
    usable: bool,
    user_id: Option<Uuid>,
}

const EXPIRED: &str = "This invitation link has expired, was replaced by a newer one, or has already been used. Ask for a new one.";

async fn find_invitation(
    db: impl sqlx::PgExecutor<'_>,
    token: &str,
    lock: bool,
) -> Result<InvitationRow, AppError> {
    let sql = format!(
        "select i.invitation_id, i.tenant_id, t.display_name as tenant_name, t.status as tenant_status, i.email, i.role,
                (i.accepted_at is null and i.revoked_at is null and i.expires_at > now()) as usable,
                u.user_id
         from invitation i join tenant t using (tenant_id) left join app_user u on u.email = i.email
         where i.token_sha256 = $1 {}",
        if lock { "for update of i" } else { "" }
    );
    let row: Option<InvitationRow> = sqlx::query_as(&sql)
        .bind(crate::backend::token_digest(token))
        .fetch_optional(db)
        .await?;
    match row {
        Some(r) if r.usable => Ok(r),
        Some(_) => Err(AppError::Gone(EXPIRED.into())),
        None => Err(AppError::Gone(EXPIRED.into())),
    }
}

/// What the invitation page shows. Whether the invited email already has an account is not
/// said (anyone holding the link, the inviter included, would learn it): only whether the
/// person viewing the link is signed in, and as whom.
pub async fn preview_invitation(
    db: &PgPool,
    viewer: Option<&Actor>,
    token: &str,
) -> Result<InvitationPreview, AppError> {
    let r = find_invitation(db, token, false).await?;
    Ok(InvitationPreview {
        tenant_name: r.tenant_name,
        email: r.email,
        role: r.role,
        signed_in_as: viewer.map(|a| a.email.clone()),
    })
}

/// Refused when the invited email already has an account: the link is no way to prove a
/// password (that made it an unlimited guessing channel). The message is the same whatever
/// the reason, and no password is checked.
const SIGN_IN_FIRST: &str = "This invitation cannot be accepted with a new password. If you already have a Stratus account with this email, sign in to it and open the link again.";

/// Accepts an invitation for a new account: the invitee chooses a name and password. An email
/// that already has an account is refused before any password work; its owner accepts with
/// [`join_invitation`] while signed in. Returns the new user and their session epoch, so the
/// caller can sign them in.
pub async fn accept_invitation(
    db: &PgPool,
    token: &str,
    display_name: &str,
    password: SecretString,
) -> Result<(crate::backend::identity::Authenticated, Uuid), AppError> {
    use secrecy::ExposeSecret;
    let preview = find_invitation(db, token, false).await?;
    if preview.user_id.is_some() {
        return Err(AppError::Conflict {
            field: None,
            message: SIGN_IN_FIRST.into(),
        });
    }
    Checks::default()
        .check("display_name", validate::display_name(display_name))
        .check(
            "password",
            passwords::check_new(password.expose_secret(), &preview.email),
        )
        .finish()?;
    let hash = passwords::hash(password).await?;
    let mut tx = db.begin().await?;
    // Re-check under a lock so two clicks cannot both accept.
    let inv = find_invitation(&mut *tx, token, true).await?;
    if inv.tenant_status == TenantStatus::Suspended {
        return Err(AppError::Suspended);
    }
    if inv.user_id.is_some() {
        return Err(AppError::Conflict {
            field: None,
            message: SIGN_IN_FIRST.into(),
        });
    }
    let user_id = insert_user(&mut tx, &inv.email, display_name, &hash, false)
        .await
        .map_err(|e| match e {
            // An account was made for this email meanwhile: same answer as above.
            AppError::Conflict { .. } => AppError::Conflict {
                field: None,
                message: SIGN_IN_FIRST.into(),
            },
            other => other,
        })?;
    let epoch = finish_acceptance(&mut tx, &inv, user_id, true).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %inv.tenant_id, %user_id, "invitation accepted (new account)");
    Ok((
        crate::backend::identity::Authenticated {
            user_id,
            session_epoch: epoch,
        },
        inv.tenant_id,
    ))
}

/// Accepts an invitation into the signed-in person's own account. Only a browser session
/// counts (which exists only once the second factor is done); the invitation's email must be
/// the person's. Returns the tenant joined.
pub async fn join_invitation(db: &PgPool, actor: &Actor, token: &str) -> Result<Uuid, AppError> {
    if actor.via != crate::backend::identity::actor::Via::Session {
        return Err(AppError::Forbidden(
            "Invitations are accepted in the portal, signed in as the invited account.".into(),
        ));
    }
    let mut tx = db.begin().await?;
    let inv = find_invitation(&mut *tx, token, true).await?;
    if inv.user_id != Some(actor.user_id) {
        tracing::warn!(user_id = %actor.user_id, invitation_id = %inv.invitation_id, "invitation for another account refused");
        return Err(AppError::Forbidden(
            "This invitation is for another email address. Sign out, then open the link again."
                .into(),
        ));
    }
    if inv.tenant_status == TenantStatus::Suspended {
        return Err(AppError::Suspended);
    }
    finish_acceptance(&mut tx, &inv, actor.user_id, false).await?;
    tx.commit().await?;
    tracing::info!(tenant_id = %inv.tenant_id, user_id = %actor.user_id, "invitation accepted (signed in)");
    Ok(inv.tenant_id)
}

/// The membership, the spent invitation and its audit event; returns the user's session epoch
/// (refusing a disabled account).
async fn finish_acceptance(
    tx: &mut PgConnection,
    inv: &InvitationRow,
    user_id: Uuid,
    new_account: bool,
) -> Result<i32, AppError> {
    sqlx::query(
        "insert into membership (tenant_id, user_id, role) values ($1, $2, $3)
         on conflict (tenant_id, user_id) do nothing",
    )
    .bind(inv.tenant_id)
    .bind(user_id)
    .bind(inv.role)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update invitation set accepted_at = now(), accepted_by = $2 where invitation_id = $1",
    )
    .bind(inv.invitation_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    // The invitee acts here; the link they used is not recorded.
    audit::record_with(
        tx,
        By {
            user_id: Some(user_id),
            email: Some(&inv.email),
            api_key: None,
        },
        Some(inv.tenant_id),
        AuditAction::InvitationAccepted,
        &inv.email,
        json!({ "invitation_id": inv.invitation_id, "role": inv.role, "new_account": new_account }),
    )
    .await?;
    let epoch: i32 = sqlx::query_scalar(
        "select session_epoch from app_user where user_id = $1 and disabled_at is null",
    )
    .bind(user_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| AppError::Forbidden("This account has been disabled.".into()))?;
    Ok(epoch)
}
