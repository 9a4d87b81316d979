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

/// When a database change takes effect at the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApplyAt {
    /// Now (the database may restart).
    #[default]
    Now,
    /// At the next maintenance window; shown as pending until then.
    NextWindow,
}

/// A managed database (RDS): its engine, size, availability, backups and where to connect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DatabaseView {
    pub database_id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub cloud_account_id: Uuid,
    pub cloud_account_name: String,
    pub region: String,
    /// `postgres` or `mysql`.
    pub engine: String,
    /// The major version, e.g. `16`.
    pub engine_version: String,
    pub instance_class: String,
    pub storage_gb: i32,
    /// Storage autoscaling ceiling (none: no autoscaling).
    pub max_storage_gb: Option<i32>,
    /// The zone the primary runs in.
    pub zone_id: Uuid,
    pub zone_name: String,
    pub availability_zone: String,
    /// With a standby (Multi-AZ): the zone asked for it. The standby is not readable; failover
    /// takes one to two minutes.
    pub standby_zone_id: Option<Uuid>,
    pub standby_zone_name: Option<String>,
    /// The zones whose subnets form the database's subnet group.
    pub subnet_zones: Vec<String>,
    pub backup_retention_days: i32,
    pub backup_window: String,
    pub maintenance_window: String,
    pub deletion_protection: bool,
    pub status: ResourceStatus,
    pub generation: i64,
    pub observed_generation: i64,
    pub conditions: Vec<Condition>,
    /// The DB instance identifier at the provider.
    pub db_instance_id: String,
    /// The provider's own status (`creating`, `available`, `modifying`, ...).
    pub provider_status: Option<String>,
    pub endpoint_host: Option<String>,
    pub endpoint_port: Option<i32>,
    pub security_group_id: Option<String>,
    /// The instance groups allowed to connect: the database's security group admits each
    /// group's security group on the engine's port.
    pub allowed_groups: Vec<AllowedGroup>,
    /// Changes accepted but not applied yet (at the next maintenance window).
    pub pending_changes: Vec<FieldChange>,
    pub master_username: String,
    /// The secret holding the master password (reveal it from Secrets; admins only).
    pub credentials_secret_id: Option<Uuid>,
    /// The final snapshot a delete takes (or took).
    pub final_snapshot: Option<String>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deletion_requested_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An instance group a database admits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AllowedGroup {
    pub group_id: Uuid,
    pub name: String,
    /// The group's own security group, the source of the database's rule (none until the
    /// group's first reconcile made it).
    pub security_group_id: Option<String>,
}

/// What a new database asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewDatabase {
    /// Lowercase letters, digits and hyphens, 2–63 characters, unique among the tenant's databases.
    pub name: String,
    /// `postgres` or `mysql`.
    pub engine: String,
    /// A major version Stratus offers for the engine in the region (default: the newest).
    #[serde(default)]
    pub engine_version: Option<String>,
    /// A class from the price list, e.g. `db.t3.micro`.
    pub instance_class: String,
    /// 20–16384 GiB.
    pub storage_gb: i32,
    /// Storage autoscaling ceiling, at least `storage_gb`.
    #[serde(default)]
    pub max_storage_gb: Option<i32>,
    /// The zone for the primary; its cloud account and region are the database's.
    pub zone_id: Uuid,
    /// Another of the tenant's zones in the same region for a standby (Multi-AZ).
    #[serde(default)]
    pub standby_zone_id: Option<Uuid>,
    /// 0–35 days (default 7; 0 turns backups off).
    #[serde(default)]
    pub backup_retention_days: Option<i32>,
    /// `hh:mm-hh:mm` UTC, at least 30 minutes (default `03:00-03:30`).
    #[serde(default)]
    pub backup_window: Option<String>,
    /// `ddd:hh:mm-ddd:hh:mm` UTC (default `sun:04:00-sun:04:30`).
    #[serde(default)]
    pub maintenance_window: Option<String>,
    /// On by default: a protected database cannot be deleted.
    #[serde(default)]
    pub deletion_protection: Option<bool>,
    /// Instance groups allowed to connect (the tenant's, in the database's cloud account and
    /// region): each gets an ingress rule on the engine's port (5432 or 3306).
    #[serde(default)]
    pub allowed_groups: Vec<Uuid>,
}

/// A change to a database; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DatabasePatch {
    #[serde(default)]
    pub instance_class: Option<String>,
    /// Storage can grow, never shrink.
    #[serde(default)]
    pub storage_gb: Option<i32>,
    #[serde(default)]
    pub max_storage_gb: Option<i32>,
    /// Add a standby in this zone (Multi-AZ).
    #[serde(default)]
    pub standby_zone_id: Option<Uuid>,
    /// Remove the standby (single zone).
    #[serde(default)]
    pub remove_standby: Option<bool>,
    #[serde(default)]
    pub backup_retention_days: Option<i32>,
    #[serde(default)]
    pub backup_window: Option<String>,
    #[serde(default)]
    pub maintenance_window: Option<String>,
    #[serde(default)]
    pub deletion_protection: Option<bool>,
    /// The instance groups allowed to connect, in full: groups left out lose their rule.
    #[serde(default)]
    pub allowed_groups: Option<Vec<Uuid>>,
    /// Apply now (default) or at the next maintenance window.
    #[serde(default)]
    pub apply: Option<ApplyAt>,
}

/// How a database is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DatabaseDeletion {
    /// Take a final snapshot (default), named by Stratus and shown on the database afterwards.
    #[serde(default = "yes")]
    pub final_snapshot: bool,
}

fn yes() -> bool {
    true
}

impl Default for DatabaseDeletion {
    fn default() -> Self {
        DatabaseDeletion {
            final_snapshot: true,
        }
    }
}

/// The answer to a database create, change or delete (like [`ZoneChange`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DatabaseChange {
    pub plan: Plan,
    pub dry_run: bool,
    pub database: Option<DatabaseView>,
    pub job_id: Option<i64>,
}
