//! Instance groups as people and REST clients see them (issue 14): what a new group asks for,
//! a change to one, the group with its per-zone distribution, and its instances. The planner's
//! vocabulary (distribution, scale-in order, rollout budgets, instance states) lives here so the
//! portal compiles it for the browser too.

use super::resources::{Condition, Plan, ResourceStatus};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// How instances are spread over the group's zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Distribution {
    /// Zones differ by at most one; when a zone cannot launch, the others wait for it.
    EvenStrict,
    /// As even as capacity allows: a zone's share goes elsewhere while it cannot launch, and
    /// comes back (surge-first) when it recovers.
    Balanced,
    /// Fill wherever capacity is; never rebalance.
    Any,
}

/// The last tie-breaker of scale-in, after zone balance and template revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ScaleInOrder {
    OldestFirst,
    NewestFirst,
}

/// `max_surge` / `max_unavailable`: a count for the whole group, or a percentage of each
/// zone's target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RolloutBudget {
    Count(u32),
    Percent(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum InstanceState {
    /// Write-ahead row: the launch call was (or is about to be) made, no provider id seen yet.
    Launching,
    Pending,
    Running,
    Stopping,
    Stopped,
    ShuttingDown,
    Terminated,
    /// Tracked, but the provider no longer lists it.
    Lost,
}

impl InstanceState {
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceState::Launching => "launching",
            InstanceState::Pending => "pending",
            InstanceState::Running => "running",
            InstanceState::Stopping => "stopping",
            InstanceState::Stopped => "stopped",
            InstanceState::ShuttingDown => "shutting_down",
            InstanceState::Terminated => "terminated",
            InstanceState::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<InstanceState> {
        Some(match s {
            "launching" => InstanceState::Launching,
            "pending" => InstanceState::Pending,
            "running" => InstanceState::Running,
            "stopping" => InstanceState::Stopping,
            "stopped" => InstanceState::Stopped,
            "shutting_down" | "shutting-down" => InstanceState::ShuttingDown,
            "terminated" => InstanceState::Terminated,
            "lost" => InstanceState::Lost,
            _ => return None,
        })
    }

    /// Gone for good: not a member of the group any more.
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            InstanceState::ShuttingDown | InstanceState::Terminated
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Unhealthy,
    /// The provider has not reported yet.
    Unknown,
}

impl Health {
    /// A running instance's health from its status checks: `impaired` is unhealthy, both `ok`
    /// is healthy, anything else (initializing, insufficient data, not reported) is unknown.
    pub fn of_running(checks: Option<StatusChecks>) -> Health {
        match checks {
            Some(c) if c.impaired() => Health::Unhealthy,
            Some(c) if c.instance == CheckStatus::Ok && c.system == CheckStatus::Ok => {
                Health::Healthy
            }
            _ => Health::Unknown,
        }
    }
}

/// One of EC2's status checks (DescribeInstanceStatus) as it summarises it, in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Ok,
    Impaired,
    Initializing,
    InsufficientData,
    NotApplicable,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Impaired => "impaired",
            CheckStatus::Initializing => "initializing",
            CheckStatus::InsufficientData => "insufficient-data",
            CheckStatus::NotApplicable => "not-applicable",
        }
    }

    /// EC2's word; `None` for one this version does not know.
    pub fn parse(s: &str) -> Option<CheckStatus> {
        Some(match s {
            "ok" => CheckStatus::Ok,
            "impaired" => CheckStatus::Impaired,
            "initializing" => CheckStatus::Initializing,
            "insufficient-data" => CheckStatus::InsufficientData,
            "not-applicable" => CheckStatus::NotApplicable,
            _ => return None,
        })
    }
}

/// EC2's two status checks of a running instance: `instance` (its operating system and
/// network: the customer's side) and `system` (the host underneath: AWS's side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusChecks {
    pub instance: CheckStatus,
    pub system: CheckStatus,
}

impl StatusChecks {
    pub fn impaired(self) -> bool {
        self.instance == CheckStatus::Impaired || self.system == CheckStatus::Impaired
    }

    /// The one word a badge shows: `impaired` when either check is, `ok` when both are, else
    /// the first check that is not `ok` (`initializing`, `insufficient-data`, ...).
    pub fn summary(self) -> CheckStatus {
        if self.impaired() {
            CheckStatus::Impaired
        } else if self.instance != CheckStatus::Ok {
            self.instance
        } else {
            self.system
        }
    }

    /// Which checks fail, for people: "instance status check", "system status check", "instance
    /// and system status checks"; `None` when neither is impaired.
    pub fn failing(self) -> Option<&'static str> {
        match (self.instance, self.system) {
            (CheckStatus::Impaired, CheckStatus::Impaired) => {
                Some("instance and system status checks")
            }
            (CheckStatus::Impaired, _) => Some("instance status check"),
            (_, CheckStatus::Impaired) => Some("system status check"),
            _ => None,
        }
    }

    /// For people: "instance status impaired", "system status impaired", "instance and system
    /// status impaired", or "ok" / "initializing" … when both agree.
    pub fn label(self) -> String {
        match (self.instance, self.system) {
            (CheckStatus::Impaired, CheckStatus::Impaired) => {
                "instance and system status impaired".into()
            }
            (CheckStatus::Impaired, _) => "instance status impaired".into(),
            (_, CheckStatus::Impaired) => "system status impaired".into(),
            (i, s) if i == s => i.as_str().replace('-', " "),
            (i, s) => format!(
                "instance status {}, system status {}",
                i.as_str().replace('-', " "),
                s.as_str().replace('-', " ")
            ),
        }
    }
}

/// One zone's line in the plan, as people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ZonePlan {
    pub zone: String,
    /// Members now (running, starting, or launching).
    pub current: u32,
    /// What this zone should hold.
    pub target: u32,
    /// What an even spread would give it.
    pub even_share: u32,
    pub launch: u32,
    pub terminate: u32,
    pub outdated: u32,
    /// `max_surge` and `max_unavailable` resolved for this zone.
    pub max_surge: u32,
    pub max_unavailable: u32,
    /// The provider's words, while the zone is not launched into.
    pub capacity_failure: Option<String>,
}
impl RolloutBudget {
    /// "2" or "25%", as the plan shows it.
    pub fn label(self) -> String {
        match self {
            RolloutBudget::Count(n) => n.to_string(),
            RolloutBudget::Percent(p) => format!("{p}%"),
        }
    }

    /// The inverse of [`label`](Self::label): "2" or "25%", as a person types it.
    pub fn parse(text: &str) -> Option<RolloutBudget> {
        let text = text.trim();
        match text.strip_suffix('%') {
            Some(p) => p.trim().parse().ok().map(RolloutBudget::Percent),
            None => text.parse().ok().map(RolloutBudget::Count),
        }
    }
}

impl Distribution {
    pub const ALL: [Distribution; 3] = [
        Distribution::Balanced,
        Distribution::EvenStrict,
        Distribution::Any,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Distribution::EvenStrict => "even-strict",
            Distribution::Balanced => "balanced",
            Distribution::Any => "any",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<Distribution> {
        Self::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

impl ScaleInOrder {
    pub const ALL: [ScaleInOrder; 2] = [ScaleInOrder::OldestFirst, ScaleInOrder::NewestFirst];

    pub fn as_str(self) -> &'static str {
        match self {
            ScaleInOrder::OldestFirst => "oldest-first",
            ScaleInOrder::NewestFirst => "newest-first",
        }
    }

    /// The inverse of [`as_str`](Self::as_str).
    pub fn parse(text: &str) -> Option<ScaleInOrder> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

/// What every instance of the group runs. Each change makes a new numbered revision; instances
/// on an older one are rolled within `max_surge` / `max_unavailable`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupTemplate {
    /// An instance type from the price list, such as `t3.micro`.
    pub instance_type: String,
    /// The machine image, such as `ami-0abcdef1234567890`.
    pub image_id: String,
    /// A boot script, passed as written (Stratus encodes it).
    #[serde(default)]
    pub user_data: Option<String>,
    /// Extra tags on every instance (keys starting with `stratus:` are Stratus's own).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// How the group is kept: spread, scale-in order, health and rollout. Every field has a default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupPolicy {
    #[serde(default = "GroupPolicy::default_distribution")]
    pub distribution: Distribution,
    #[serde(default = "GroupPolicy::default_scale_in")]
    pub scale_in: ScaleInOrder,
    /// An unhealthy instance younger than this is still starting (seconds).
    #[serde(default = "GroupPolicy::default_health_grace")]
    pub health_grace_secs: u32,
    /// Replace unhealthy instances only while at most this share of `desired` is unhealthy at
    /// once; beyond it the group is `Degraded` and nothing is replaced.
    #[serde(default = "GroupPolicy::default_repair_budget")]
    pub repair_budget_percent: u32,
    /// Extra instances a rollout may launch: `{"count": n}` for the group or `{"percent": p}`
    /// of each zone's target.
    #[serde(default = "GroupPolicy::default_max_surge")]
    pub max_surge: RolloutBudget,
    /// Instances a rollout may take away before their replacements run. `{"count": 0}`: the
    /// group never has fewer than `desired` running.
    #[serde(default = "GroupPolicy::default_max_unavailable")]
    pub max_unavailable: RolloutBudget,
    /// A zone that refused capacity is not launched into for this long (seconds).
    #[serde(default = "GroupPolicy::default_capacity_retry")]
    pub capacity_retry_secs: u32,
}

impl GroupPolicy {
    fn default_distribution() -> Distribution {
        Distribution::Balanced
    }
    fn default_scale_in() -> ScaleInOrder {
        ScaleInOrder::OldestFirst
    }
    fn default_health_grace() -> u32 {
        300
    }
    fn default_repair_budget() -> u32 {
        30
    }
    fn default_max_surge() -> RolloutBudget {
        RolloutBudget::Count(1)
    }
    fn default_max_unavailable() -> RolloutBudget {
        RolloutBudget::Count(0)
    }
    fn default_capacity_retry() -> u32 {
        60
    }
}

impl Default for GroupPolicy {
    fn default() -> Self {
        GroupPolicy {
            distribution: Self::default_distribution(),
            scale_in: Self::default_scale_in(),
            health_grace_secs: Self::default_health_grace(),
            repair_budget_percent: Self::default_repair_budget(),
            max_surge: Self::default_max_surge(),
            max_unavailable: Self::default_max_unavailable(),
            capacity_retry_secs: Self::default_capacity_retry(),
        }
    }
}

/// What a new instance group asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct NewGroup {
    /// Lowercase letters, digits and hyphens, 2–63 characters, unique among the tenant's groups.
    pub name: String,
    /// The tenant's Ready zones, all in one cloud account and region, each in its own
    /// availability zone. Their order breaks ties when instances do not divide evenly.
    pub zone_ids: Vec<Uuid>,
    pub template: GroupTemplate,
    pub min: u32,
    pub max: u32,
    /// Default: `min`.
    #[serde(default)]
    pub desired: Option<u32>,
    #[serde(default)]
    pub policy: GroupPolicy,
}

/// A change to some of a group's policy fields; the others are kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupPolicyPatch {
    #[serde(default)]
    pub distribution: Option<Distribution>,
    #[serde(default)]
    pub scale_in: Option<ScaleInOrder>,
    #[serde(default)]
    pub health_grace_secs: Option<u32>,
    #[serde(default)]
    pub repair_budget_percent: Option<u32>,
    #[serde(default)]
    pub max_surge: Option<RolloutBudget>,
    #[serde(default)]
    pub max_unavailable: Option<RolloutBudget>,
    #[serde(default)]
    pub capacity_retry_secs: Option<u32>,
}

/// A change to a group. Every field is optional and an omitted one is kept: in particular a
/// change that does not name `desired` never resets it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupPatch {
    #[serde(default)]
    pub zone_ids: Option<Vec<Uuid>>,
    /// A new template makes a new revision and rolls the group to it.
    #[serde(default)]
    pub template: Option<GroupTemplate>,
    #[serde(default)]
    pub min: Option<u32>,
    #[serde(default)]
    pub max: Option<u32>,
    #[serde(default)]
    pub desired: Option<u32>,
    #[serde(default)]
    pub policy: Option<GroupPolicyPatch>,
}

/// One of the group's zones: what it holds and what it should hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupZone {
    pub zone_id: Uuid,
    pub name: String,
    pub availability_zone: String,
    /// Instances running there now.
    pub running: u32,
    /// Members there now (running, starting, or being launched).
    pub current: u32,
    /// What the last plan wanted there.
    pub target: u32,
    /// The provider's words while the zone refuses capacity.
    pub capacity_failure: Option<String>,
}

/// An instance group: its spec, its zones with their counts, and its status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupView {
    pub group_id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub cloud_account_id: Uuid,
    pub cloud_account_name: String,
    pub region: String,
    pub zones: Vec<GroupZone>,
    pub template: GroupTemplate,
    /// The template's current revision (1, 2, ...).
    pub revision: i64,
    pub min: u32,
    pub max: u32,
    pub desired: u32,
    /// Who set `desired` last: a person's email, or `autoscaler`.
    pub desired_set_by: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub desired_set_at: OffsetDateTime,
    pub policy: GroupPolicy,
    /// Instances running now, over every zone.
    pub running: u32,
    pub status: ResourceStatus,
    pub generation: i64,
    pub observed_generation: i64,
    pub conditions: Vec<Condition>,
    /// Why the group is not converged yet, in the provider's words where it refused.
    pub waiting: Vec<String>,
    /// The group's own security group, on every instance besides the zone's: what a
    /// database's rule admits (none until the group's first reconcile made it).
    pub security_group_id: Option<String>,
    pub last_error: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deletion_requested_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// One instance of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstanceView {
    /// Stratus's id for the instance (known before the provider's).
    pub instance_id: Uuid,
    /// The provider's id (`i-…`), once the launch answered or the instance was found by tag.
    pub provider_id: Option<String>,
    pub availability_zone: String,
    /// The template revision it runs.
    pub revision: i64,
    pub state: InstanceState,
    pub health: Health,
    /// EC2's status checks at the last look, while it runs (`None` before the provider
    /// reported them, and when it is not running).
    #[serde(default)]
    pub checks: Option<StatusChecks>,
    /// Protected from scale-in (a delete still terminates it).
    pub protected: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub launched_at: OffsetDateTime,
}

/// Protect an instance from scale-in, or unprotect it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct InstancePatch {
    pub protected: bool,
}

/// The answer to a group create, change or delete: the plan, and unless it was a dry run the
/// group as written and the job that reconciles it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct GroupChange {
    pub plan: Plan,
    pub dry_run: bool,
    pub group: Option<GroupView>,
    pub job_id: Option<i64>,
}

/// A group as its portal page shows it: the group, its monthly cost from the price list
/// (`None` when the list has no price for its type there) and its per-zone distribution as a
/// small SVG chart, drawn by the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupOverview {
    pub group: GroupView,
    pub monthly_cents: Option<i64>,
    pub chart_svg: String,
}

/// An instance type "Create instance group" offers (the price list's types).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceTypeChoice {
    pub instance_type: String,
    pub vcpus: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rollout_budgets_read_back_their_labels() {
        for b in [
            RolloutBudget::Count(0),
            RolloutBudget::Count(3),
            RolloutBudget::Percent(25),
        ] {
            assert_eq!(RolloutBudget::parse(&b.label()), Some(b));
        }
        assert_eq!(
            RolloutBudget::parse(" 50 % "),
            Some(RolloutBudget::Percent(50))
        );
        assert_eq!(RolloutBudget::parse("one"), None);
        assert_eq!(RolloutBudget::parse("-1"), None);
    }

    #[test]
    fn health_of_a_running_instance_follows_its_status_checks() {
        let checks = |instance, system| Some(StatusChecks { instance, system });
        use CheckStatus::*;
        assert_eq!(Health::of_running(checks(Ok, Ok)), Health::Healthy);
        assert_eq!(Health::of_running(checks(Impaired, Ok)), Health::Unhealthy);
        assert_eq!(Health::of_running(checks(Ok, Impaired)), Health::Unhealthy);
        assert_eq!(
            Health::of_running(checks(Initializing, Ok)),
            Health::Unknown
        );
        assert_eq!(Health::of_running(None), Health::Unknown);
        assert_eq!(
            StatusChecks {
                instance: Impaired,
                system: Ok
            }
            .label(),
            "instance status impaired"
        );
        assert_eq!(
            StatusChecks {
                instance: InsufficientData,
                system: InsufficientData
            }
            .label(),
            "insufficient data"
        );
        let both = StatusChecks {
            instance: Impaired,
            system: Impaired,
        };
        assert_eq!(both.failing(), Some("instance and system status checks"));
        assert_eq!(both.summary(), Impaired);
        let starting = StatusChecks {
            instance: Ok,
            system: Initializing,
        };
        assert_eq!(
            (starting.failing(), starting.summary()),
            (None, Initializing)
        );
        for s in [Ok, Impaired, Initializing, InsufficientData, NotApplicable] {
            assert_eq!(CheckStatus::parse(s.as_str()), Some(s));
        }
    }
}
