//! Types shared by the server and the browser.

pub mod groups;
pub mod resources;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A role inside one tenant, lowest to highest. Platform administration is separate (see `rbac`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "tenant_role", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Viewer,
    Member,
    Admin,
    Owner,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Member, Role::Admin, Role::Owner];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Owner => "owner",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::Viewer => "Viewer",
            Role::Member => "Member",
            Role::Admin => "Admin",
            Role::Owner => "Owner",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "tenant_status", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

/// Per-tenant limits, enforced when resources are created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Quotas {
    pub max_zones: i32,
    pub max_instances: i32,
    pub max_vcpus: i32,
    pub max_databases: i32,
}

/// A tenant as its members see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TenantView {
    pub tenant_id: Uuid,
    pub slug: String,
    pub display_name: String,
    pub status: TenantStatus,
    pub quotas: Quotas,
    pub member_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The viewer's own role in it.
    pub role: Role,
}

/// A tenant as the admin console lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantAdminView {
    pub tenant_id: Uuid,
    pub slug: String,
    pub display_name: String,
    pub status: TenantStatus,
    pub quotas: Quotas,
    pub member_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// One of the current user's memberships, for the tenant switcher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TenantChoice {
    pub tenant_id: Uuid,
    pub slug: String,
    pub display_name: String,
    pub role: Role,
}

/// Who is signed in, which tenant they are looking at, and their role in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub platform_admin: bool,
    pub tenants: Vec<TenantChoice>,
    pub current: Option<TenantChoice>,
}

impl SessionInfo {
    pub fn role(&self) -> Option<Role> {
        self.current.as_ref().map(|t| t.role)
    }
}

// ----- Account security (the Account page, sign-in's second step) ----------------------------

/// Where sign-in goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInStep {
    /// Signed in.
    SignedIn,
    /// The password was right; a TOTP or recovery code is needed (`/login/mfa`).
    SecondFactor,
    /// Signed in, but a platform admin must set up two-factor authentication first.
    EnrolMfa,
}

impl SignInStep {
    /// The page to continue on.
    pub fn path(self) -> &'static str {
        match self {
            SignInStep::SignedIn => "/",
            SignInStep::SecondFactor => "/login/mfa",
            SignInStep::EnrolMfa => "/account/mfa",
        }
    }
}

/// The signed-in person's own account, for the Account page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    pub email: String,
    pub display_name: String,
    pub platform_admin: bool,
    /// When two-factor authentication was turned on (`None`: it is off).
    #[serde(with = "time::serde::rfc3339::option")]
    pub mfa_enabled_at: Option<OffsetDateTime>,
    pub recovery_codes_left: i64,
}

/// A signed-in browser session, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionView {
    pub session_id: Uuid,
    /// "Firefox on Linux", from the User-Agent.
    pub browser: String,
    pub ip: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub signed_in_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    /// The session making this request.
    pub current: bool,
}

/// A started TOTP enrolment: shown once, while the person scans it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MfaEnrolment {
    /// The seed in base32, in groups of four, for typing into an authenticator by hand.
    pub manual_key: String,
    /// The `otpauth://` URI the QR code encodes.
    pub otpauth_uri: String,
    /// The QR code as an SVG document, drawn on the server.
    pub qr_svg: String,
    /// A platform admin who cannot do anything else until this is done.
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub joined_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct PendingInvitation {
    pub invitation_id: Uuid,
    pub email: String,
    pub role: Role,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A freshly created invitation: the only time its link can be shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedInvitation {
    pub invitation_id: Uuid,
    pub email: String,
    pub role: Role,
    /// Path of the single-use link, e.g. `/invite/<token>`.
    pub link_path: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// A new tenant and the invitation for its first owner, created together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedTenant {
    pub tenant: TenantAdminView,
    pub invitation: CreatedInvitation,
}

/// What the invitation page shows before the invitee accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvitationPreview {
    pub tenant_name: String,
    pub email: String,
    pub role: Role,
    /// The email of whoever is viewing the link while signed in. Whether the invited email has
    /// an account is never said: the invited person signs in first to accept with it.
    pub signed_in_as: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct UserAdminView {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub platform_admin: bool,
    pub disabled: bool,
    pub tenant_count: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "job_state", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// One job in a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct JobSummary {
    pub job_id: i64,
    pub kind: String,
    pub tenant_id: Option<Uuid>,
    pub state: JobState,
    pub attempt: i32,
    pub max_attempts: i32,
    pub progress: i16,
    pub progress_message: Option<String>,
    /// The last error, verbatim (a provider's own message).
    pub last_error: Option<String>,
    pub cancel_requested: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub run_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct JobEventView {
    pub event_id: i64,
    pub job_id: i64,
    pub kind: String,
    pub percent: Option<i16>,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct JobDetail {
    pub job: JobSummary,
    pub events: Vec<JobEventView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct JobCount {
    pub kind: String,
    pub state: JobState,
    pub count: i64,
}

/// The admin console's view of the queue's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueOverview {
    pub counts: Vec<JobCount>,
    /// Age of the oldest job that is due and still waiting, in seconds.
    pub oldest_waiting_seconds: Option<f64>,
    pub recent_failures: Vec<JobSummary>,
}

/// A secret as listed: never its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct SecretView {
    pub secret_id: Uuid,
    pub name: String,
    pub purpose: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_revealed_at: Option<OffsetDateTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct CloudAccountView {
    pub cloud_account_id: Uuid,
    pub name: String,
    pub provider: String,
    pub region: String,
    pub endpoint_url: Option<String>,
    pub access_key_id: String,
    /// Runs against an emulator (the sandbox cloud), not a real provider.
    pub emulated: bool,
    /// The provider account the credentials reach (AWS: the 12-digit account id from STS
    /// GetCallerIdentity, at creation and at each connection test); absent until known. On the
    /// sandbox, the cloud account's own moto account.
    pub provider_account_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The answer of "Test connection": the zones the account sees, and who it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ConnectionTest {
    pub region: String,
    pub zones: Vec<String>,
    /// The provider account reached (absent when the provider has no STS).
    pub provider_account_id: Option<String>,
}

/// Everything the audit log records, as stable dotted names (the filter offers this list).
/// Other names may appear in the log too (recorded by `audit::record` with a plain string).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    #[serde(rename = "tenant.created")]
    TenantCreated,
    #[serde(rename = "tenant.suspended")]
    TenantSuspended,
    #[serde(rename = "tenant.resumed")]
    TenantResumed,
    #[serde(rename = "tenant.quotas_changed")]
    TenantQuotasChanged,
    #[serde(rename = "invitation.created")]
    InvitationCreated,
    #[serde(rename = "invitation.revoked")]
    InvitationRevoked,
    #[serde(rename = "invitation.accepted")]
    InvitationAccepted,
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "user.created")]
    UserCreated,
    #[serde(rename = "user.disabled")]
    UserDisabled,
    #[serde(rename = "user.enabled")]
    UserEnabled,
    #[serde(rename = "user.password_reset")]
    UserPasswordReset,
    #[serde(rename = "cloud_account.created")]
    CloudAccountCreated,
    #[serde(rename = "cloud_account.deleted")]
    CloudAccountDeleted,
    #[serde(rename = "cloud_account.tested")]
    CloudAccountTested,
    #[serde(rename = "secret.created")]
    SecretCreated,
    #[serde(rename = "secret.updated")]
    SecretUpdated,
    #[serde(rename = "secret.deleted")]
    SecretDeleted,
    #[serde(rename = "secret.revealed")]
    SecretRevealed,
    #[serde(rename = "job.cancelled")]
    JobCancelled,
    #[serde(rename = "job.retried")]
    JobRetried,
    #[serde(rename = "api_key.created")]
    ApiKeyCreated,
    #[serde(rename = "api_key.revoked")]
    ApiKeyRevoked,
    #[serde(rename = "user.signed_in")]
    UserSignedIn,
    #[serde(rename = "user.sign_in_failed")]
    UserSignInFailed,
    #[serde(rename = "user.password_changed")]
    UserPasswordChanged,
    #[serde(rename = "session.revoked")]
    SessionRevoked,
    #[serde(rename = "mfa.enabled")]
    MfaEnabled,
    #[serde(rename = "mfa.disabled")]
    MfaDisabled,
    #[serde(rename = "mfa.recovery_code_used")]
    MfaRecoveryCodeUsed,
    #[serde(rename = "mfa.recovery_codes_regenerated")]
    MfaRecoveryCodesRegenerated,
    #[serde(rename = "mfa.reset")]
    MfaReset,
    #[serde(rename = "zone.created")]
    ZoneCreated,
    #[serde(rename = "zone.changed")]
    ZoneChanged,
    #[serde(rename = "zone.delete_requested")]
    ZoneDeleteRequested,
    #[serde(rename = "database.created")]
    DatabaseCreated,
    #[serde(rename = "database.changed")]
    DatabaseChanged,
    #[serde(rename = "database.delete_requested")]
    DatabaseDeleteRequested,
    #[serde(rename = "database.credentials_rotated")]
    DatabaseCredentialsRotated,
    #[serde(rename = "cloud_object.swept")]
    CloudObjectSwept,
    #[serde(rename = "instance_group.created")]
    InstanceGroupCreated,
    #[serde(rename = "instance_group.changed")]
    InstanceGroupChanged,
    #[serde(rename = "instance_group.delete_requested")]
    InstanceGroupDeleteRequested,
    #[serde(rename = "instance.protection_changed")]
    InstanceProtectionChanged,
    #[serde(rename = "user.signed_out")]
    UserSignedOut,
    #[serde(rename = "user.sign_in_locked")]
    UserSignInLocked,
    #[serde(rename = "mfa.code_rejected")]
    MfaCodeRejected,
    #[serde(rename = "access.denied")]
    AccessDenied,
    #[serde(rename = "request.cross_site_refused")]
    CrossSiteRefused,
    #[serde(rename = "api_key.rejected")]
    CredentialRejected,
    #[serde(rename = "api_key.token_issued")]
    TokenIssued,
}

impl AuditAction {
    pub const ALL: [AuditAction; 52] = [
        AuditAction::TenantCreated,
        AuditAction::TenantSuspended,
        AuditAction::TenantResumed,
        AuditAction::TenantQuotasChanged,
        AuditAction::InvitationCreated,
        AuditAction::InvitationRevoked,
        AuditAction::InvitationAccepted,
        AuditAction::MemberRoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::UserCreated,
        AuditAction::UserDisabled,
        AuditAction::UserEnabled,
        AuditAction::UserPasswordReset,
        AuditAction::CloudAccountCreated,
        AuditAction::CloudAccountDeleted,
        AuditAction::CloudAccountTested,
        AuditAction::SecretCreated,
        AuditAction::SecretUpdated,
        AuditAction::SecretDeleted,
        AuditAction::SecretRevealed,
        AuditAction::JobCancelled,
        AuditAction::JobRetried,
        AuditAction::ApiKeyCreated,
        AuditAction::ApiKeyRevoked,
        AuditAction::UserSignedIn,
        AuditAction::UserSignInFailed,
        AuditAction::UserPasswordChanged,
        AuditAction::SessionRevoked,
        AuditAction::MfaEnabled,
        AuditAction::MfaDisabled,
        AuditAction::MfaRecoveryCodeUsed,
        AuditAction::MfaRecoveryCodesRegenerated,
        AuditAction::MfaReset,
        AuditAction::ZoneCreated,
        AuditAction::ZoneChanged,
        AuditAction::ZoneDeleteRequested,
        AuditAction::DatabaseCreated,
        AuditAction::DatabaseChanged,
        AuditAction::DatabaseDeleteRequested,
        AuditAction::DatabaseCredentialsRotated,
        AuditAction::CloudObjectSwept,
        AuditAction::InstanceGroupCreated,
        AuditAction::InstanceGroupChanged,
        AuditAction::InstanceGroupDeleteRequested,
        AuditAction::InstanceProtectionChanged,
        AuditAction::UserSignedOut,
        AuditAction::UserSignInLocked,
        AuditAction::MfaCodeRejected,
        AuditAction::AccessDenied,
        AuditAction::CrossSiteRefused,
        AuditAction::CredentialRejected,
        AuditAction::TokenIssued,
    ];

    /// The name stored in `audit_event.action` (the same as its serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TenantCreated => "tenant.created",
            AuditAction::TenantSuspended => "tenant.suspended",
            AuditAction::TenantResumed => "tenant.resumed",
            AuditAction::TenantQuotasChanged => "tenant.quotas_changed",
            AuditAction::InvitationCreated => "invitation.created",
            AuditAction::InvitationRevoked => "invitation.revoked",
            AuditAction::InvitationAccepted => "invitation.accepted",
            AuditAction::MemberRoleChanged => "member.role_changed",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::UserCreated => "user.created",
            AuditAction::UserDisabled => "user.disabled",
            AuditAction::UserEnabled => "user.enabled",
            AuditAction::UserPasswordReset => "user.password_reset",
            AuditAction::CloudAccountCreated => "cloud_account.created",
            AuditAction::CloudAccountDeleted => "cloud_account.deleted",
            AuditAction::CloudAccountTested => "cloud_account.tested",
            AuditAction::SecretCreated => "secret.created",
            AuditAction::SecretUpdated => "secret.updated",
            AuditAction::SecretDeleted => "secret.deleted",
            AuditAction::SecretRevealed => "secret.revealed",
            AuditAction::JobCancelled => "job.cancelled",
            AuditAction::JobRetried => "job.retried",
            AuditAction::ApiKeyCreated => "api_key.created",
            AuditAction::ApiKeyRevoked => "api_key.revoked",
            AuditAction::UserSignedIn => "user.signed_in",
            AuditAction::UserSignInFailed => "user.sign_in_failed",
            AuditAction::UserPasswordChanged => "user.password_changed",
            AuditAction::SessionRevoked => "session.revoked",
            AuditAction::MfaEnabled => "mfa.enabled",
            AuditAction::MfaDisabled => "mfa.disabled",
            AuditAction::MfaRecoveryCodeUsed => "mfa.recovery_code_used",
            AuditAction::MfaRecoveryCodesRegenerated => "mfa.recovery_codes_regenerated",
            AuditAction::MfaReset => "mfa.reset",
            AuditAction::ZoneCreated => "zone.created",
            AuditAction::ZoneChanged => "zone.changed",
            AuditAction::ZoneDeleteRequested => "zone.delete_requested",
            AuditAction::DatabaseCreated => "database.created",
            AuditAction::DatabaseChanged => "database.changed",
            AuditAction::DatabaseDeleteRequested => "database.delete_requested",
            AuditAction::DatabaseCredentialsRotated => "database.credentials_rotated",
            AuditAction::CloudObjectSwept => "cloud_object.swept",
            AuditAction::InstanceGroupCreated => "instance_group.created",
            AuditAction::InstanceGroupChanged => "instance_group.changed",
            AuditAction::InstanceGroupDeleteRequested => "instance_group.delete_requested",
            AuditAction::InstanceProtectionChanged => "instance.protection_changed",
            AuditAction::UserSignedOut => "user.signed_out",
            AuditAction::UserSignInLocked => "user.sign_in_locked",
            AuditAction::MfaCodeRejected => "mfa.code_rejected",
            AuditAction::AccessDenied => "access.denied",
            AuditAction::CrossSiteRefused => "request.cross_site_refused",
            AuditAction::CredentialRejected => "api_key.rejected",
            AuditAction::TokenIssued => "api_key.token_issued",
        }
    }

    /// Whether the action concerns the platform rather than one tenant (admin console only).
    pub fn is_platform_only(self) -> bool {
        matches!(
            self,
            AuditAction::UserCreated
                | AuditAction::UserDisabled
                | AuditAction::UserEnabled
                | AuditAction::UserPasswordReset
                | AuditAction::UserSignedIn
                | AuditAction::UserSignInFailed
                | AuditAction::UserPasswordChanged
                | AuditAction::SessionRevoked
                | AuditAction::MfaEnabled
                | AuditAction::MfaDisabled
                | AuditAction::MfaRecoveryCodeUsed
                | AuditAction::MfaRecoveryCodesRegenerated
                | AuditAction::MfaReset
                | AuditAction::UserSignedOut
                | AuditAction::UserSignInLocked
                | AuditAction::MfaCodeRejected
                | AuditAction::CrossSiteRefused
                | AuditAction::CredentialRejected
        )
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow, utoipa::ToSchema))]
pub struct AuditEvent {
    pub audit_id: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Absent for changes made by Stratus itself (the CLI, the sandbox at startup).
    pub actor_user_id: Option<Uuid>,
    pub actor_email: Option<String>,
    /// Absent for platform-wide events (a user disabled, say).
    pub tenant_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    pub action: String,
    /// What was acted on, for people: an email, a secret's name, `job #42`.
    pub target: String,
    /// Ids and before/after values; never a credential or a secret value.
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub details: serde_json::Value,
    pub client_ip: Option<String>,
}

/// Whose audit log to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditScope {
    /// One tenant (its admins and owners).
    Tenant(Uuid),
    /// Every tenant and the platform's own events (platform admins).
    AllTenants,
}

/// Filters as forms and query strings carry them: every field optional, empty means "any".
/// The backend validates them (`audit::list`) and explains what is wrong per field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    /// An exact action name, e.g. `member.role_changed`.
    pub action: Option<String>,
    /// Part of the actor's email (case-insensitive).
    pub actor: Option<String>,
    /// From this day (`YYYY-MM-DD`, UTC, inclusive) or instant (RFC 3339).
    pub from: Option<String>,
    /// Up to this day (`YYYY-MM-DD`, UTC, inclusive) or before this instant (RFC 3339).
    pub to: Option<String>,
    /// A tenant id; only in the all-tenants scope.
    pub tenant: Option<String>,
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditPage {
    pub events: Vec<AuditEvent>,
    /// Pass as the cursor to get the next (older) page; absent on the last page.
    pub next_cursor: Option<i64>,
}

/// An API key as lists show it; the secret itself is shown once, at creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ApiKeyView {
    pub key_id: Uuid,
    pub name: String,
    /// The key's first characters (`stx_` and eight more), to tell keys apart.
    pub prefix: String,
    pub role: Role,
    pub owner_email: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

impl ApiKeyView {
    pub fn is_usable(&self, now: OffsetDateTime) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A freshly created API key: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    pub key: ApiKeyView,
    pub secret: String,
}

// ----- Overview: the tenant's landing page and the admin console's overview ------------------

/// One quota and how much of it is used, counted as the resource engine counts it when it
/// reserves quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaUsage {
    pub label: String,
    pub used: i64,
    pub limit: i64,
}

/// How many of the tenant's resources of one kind are in one state (deleted ones left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct ResourceStateCount {
    pub kind: resources::ResourceKind,
    pub status: resources::ResourceStatus,
    pub count: i64,
}

/// The monthly cost estimate of what the tenant runs now, from the repository's price list:
/// instance groups at their desired size and databases as specified (zones cost nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyCost {
    pub cents: i64,
    pub currency: String,
    pub price_list: String,
    /// Resources the price list has no price for (left out of `cents`).
    pub unpriced: i64,
}

/// Instances running in each availability zone at the end of each of the last 24 UTC hours,
/// drawn by the server as SVG, with the numbers for a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneSeries {
    pub availability_zone: String,
    /// Oldest hour first, one value per hour of `TenantOverview::per_hour`.
    pub running: Vec<i64>,
}

/// Jobs by state right now, and those finished in the chart's window (the last 24 hours).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobTotals {
    pub queued: i64,
    pub running: i64,
    pub succeeded_24h: i64,
    pub failed_24h: i64,
    pub cancelled_24h: i64,
}

/// Jobs finished in one UTC hour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct HourlyJobs {
    #[serde(with = "time::serde::rfc3339")]
    pub hour: OffsetDateTime,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
}

/// The tenant overview (the landing page).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantOverview {
    pub tenant: TenantView,
    pub usage: Vec<QuotaUsage>,
    /// Resources by kind and state, in a stable order (kind, then state).
    pub resources: Vec<ResourceStateCount>,
    pub cost: MonthlyCost,
    /// Instances per zone over the last 24 hours, and the same drawn as SVG.
    pub instances: Vec<ZoneSeries>,
    pub instances_svg: String,
    pub jobs: JobTotals,
    /// Queued and running jobs, newest first (at most 5).
    pub active: Vec<JobSummary>,
    /// Failed in the last 24 hours, newest first (at most 5).
    pub failures: Vec<JobSummary>,
    /// The last 24 UTC hours, oldest first, the current hour last.
    pub per_hour: Vec<HourlyJobs>,
    /// `per_hour` drawn by the server as an SVG image (numbers and fixed labels only).
    pub chart_svg: String,
}

/// One tenant's line in the admin console's overview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct TenantActivity {
    pub tenant_id: Uuid,
    pub slug: String,
    pub display_name: String,
    pub status: TenantStatus,
    pub member_count: i64,
    pub queued: i64,
    pub running: i64,
    pub failed_24h: i64,
}

/// The admin console's overview: the same across every tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlatformOverview {
    pub tenant_count: i64,
    pub suspended_count: i64,
    pub user_count: i64,
    /// Tenant jobs (platform maintenance and benchmark jobs are on the Queue page).
    pub jobs: JobTotals,
    pub failures: Vec<JobSummary>,
    pub per_hour: Vec<HourlyJobs>,
    pub chart_svg: String,
    /// Every tenant's resources by kind and state, their monthly cost, and instances per zone.
    pub resources: Vec<ResourceStateCount>,
    pub cost: MonthlyCost,
    pub instances: Vec<ZoneSeries>,
    pub instances_svg: String,
    pub tenants: Vec<TenantActivity>,
}
