//! Resources as people and REST clients see them: status and conditions (PROVISIONING.md §1),
//! zones, and the plan every change shows before it is applied.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "resource_kind", rename_all = "snake_case")
)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Zone,
    InstanceGroup,
    Database,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Zone => "zone",
            ResourceKind::InstanceGroup => "instance_group",
            ResourceKind::Database => "database",
        }
    }
}

/// `pending -> provisioning -> ready <-> updating -> deleting -> deleted`, and `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sqlx::Type))]
#[cfg_attr(
    feature = "ssr",
    sqlx(type_name = "resource_status", rename_all = "lowercase")
)]
#[serde(rename_all = "lowercase")]
pub enum ResourceStatus {
    Pending,
    Provisioning,
    Ready,
    Updating,
    Deleting,
    Deleted,
    Failed,
}

impl ResourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceStatus::Pending => "pending",
            ResourceStatus::Provisioning => "provisioning",
            ResourceStatus::Ready => "ready",
            ResourceStatus::Updating => "updating",
            ResourceStatus::Deleting => "deleting",
            ResourceStatus::Deleted => "deleted",
            ResourceStatus::Failed => "failed",
        }
    }

    /// Still moving: the page shows progress and listens for events.
    pub fn in_progress(self) -> bool {
        matches!(
            self,
            ResourceStatus::Pending
                | ResourceStatus::Provisioning
                | ResourceStatus::Updating
                | ResourceStatus::Deleting
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// One observation about a resource, Kubernetes style: `Ready`, `Progressing`, `Degraded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Condition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: ConditionStatus,
    /// CamelCase, stable: what automation matches on.
    pub reason: String,
    /// For people; a provider's own words verbatim when it refused.
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub last_transition_at: OffsetDateTime,
    pub observed_generation: i64,
}

/// A zone: one availability zone of a cloud account's region, with the network Stratus made there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sqlx::FromRow))]
pub struct ZoneView {
    pub zone_id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub cloud_account_id: Uuid,
    pub cloud_account_name: String,
    pub region: String,
    pub availability_zone: String,
    /// The tenant's network (VPC) in this account and region, shared by its zones there.
    pub network_cidr: String,
    pub subnet_cidr: String,
    pub status: ResourceStatus,
    /// Bumped by every change of the spec.
    pub generation: i64,
    /// The generation the status describes.
    pub observed_generation: i64,
    #[cfg_attr(feature = "ssr", sqlx(json))]
    pub conditions: Vec<Condition>,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub security_group_id: Option<String>,
    /// The provider's words when the last attempt failed.
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deletion_requested_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// What a new zone asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewZone {
    /// Lowercase letters, digits and hyphens, 2–63 characters, unique among the tenant's zones.
    pub name: String,
    pub cloud_account_id: Uuid,
    /// An availability zone of the account's region, e.g. `us-east-1a`.
    pub availability_zone: String,
    /// The network's private /16 when this is the first zone in the account and region
    /// (default: the first free 10.N.0.0/16 of the tenant). Ignored by later zones.
    #[serde(default)]
    pub network_cidr: Option<String>,
}

/// A change to a zone: only the name can change (its cloud objects are renamed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ZonePatch {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum PlanAction {
    Create,
    Update,
    Delete,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ChangeAction {
    Create,
    Update,
    Destroy,
    /// Already there and used as it is.
    Keep,
}

/// One field of the spec, before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FieldChange {
    pub field: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// One cloud object the change creates, changes or destroys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ProviderChange {
    pub action: ChangeAction,
    /// "VPC", "subnet", "security group".
    pub object: String,
    /// What and where: "10.0.0.0/16 in us-east-1", or the provider id of an existing object.
    pub detail: String,
}

/// A quota before and after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct QuotaImpact {
    /// "zones", "instances", "vcpus", "databases".
    pub quota: String,
    pub used_before: i64,
    pub used_after: i64,
    pub limit: i64,
}

impl QuotaImpact {
    pub fn exceeded(&self) -> bool {
        self.used_after > self.limit && self.used_after > self.used_before
    }
}

/// The monthly cost estimate before and after, from the price list kept in the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CostChange {
    pub monthly_before_cents: i64,
    pub monthly_after_cents: i64,
    pub currency: String,
    /// Which price list, its date and source.
    pub price_list: String,
    pub note: String,
}

/// What a change will do, computed without writing anything: shown on the Review step and
/// returned by `?dry_run=true`. Applying with its `fingerprint` refuses (412) if anything
/// the plan depends on changed meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Plan {
    pub action: PlanAction,
    pub kind: ResourceKind,
    pub name: String,
    pub diff: Vec<FieldChange>,
    pub provider_changes: Vec<ProviderChange>,
    pub quota: Vec<QuotaImpact>,
    pub cost: CostChange,
    pub warnings: Vec<String>,
    pub fingerprint: String,
}

/// The answer to a zone create, change or delete: the plan, and unless it was a dry run the
/// zone as written and the job that reconciles it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ZoneChange {
    pub plan: Plan,
    pub dry_run: bool,
    pub zone: Option<ZoneView>,
    pub job_id: Option<i64>,
}

/// An availability zone a cloud account's survey found (what "Create zone" offers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema, sqlx::FromRow))]
pub struct SurveyedZone {
    pub cloud_account_id: Uuid,
    pub availability_zone: String,
    pub instance_types: i32,
}

/// Money for people: "$12.34".
pub fn dollars(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, (cents % 100).abs())
}
