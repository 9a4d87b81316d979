//! Fault rules for the sandbox cloud's fault proxy (docs/sandbox.md).
//!
//! The proxy itself runs in the server crate, in front of moto; these are the rules it applies,
//! shared with the portal (which renders and edits them) and the backend (which scopes them to a
//! tenant's own sandbox account). Moto injects no faults for EC2 or RDS, so this is how tests and
//! people see Stratus meet an out-of-capacity zone, a throttle, a lost reply or a slow database.

use serde::{Deserialize, Serialize};

/// Identifies a rule for as long as the proxy runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RuleId(pub u64);

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// What the proxy does to a request a rule matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Effect {
    /// Answer with an AWS error in the service's own XML format, without calling moto.
    Error {
        code: String,
        message: String,
        status: u16,
    },
    /// Forward the request (moto acts on it), then close the connection without answering: the
    /// caller cannot tell whether its call took effect.
    DropReply,
    /// Wait this long, then forward.
    Latency { millis: u64 },
    /// Forward, then rewrite every `DBInstanceStatus` in the answer to this status (moto makes
    /// databases `available` at once; this holds them at `creating` or `modifying`).
    HoldRdsStatus { status: String },
    /// On `ModifyDBInstance`: keep the changes RDS defers to the maintenance window (class,
    /// storage, Multi-AZ, engine version, backup retention) pending when `ApplyImmediately` is
    /// not set, as RDS does and moto does not (moto applies every change at once). The pending
    /// values appear in `PendingModifiedValues`; a later change with `ApplyImmediately=true`
    /// applies them with it, as on RDS, and so does running the window on the proxy.
    MaintenanceWindow,
    /// Forward a DescribeInstanceStatus, then report one status check of these running
    /// instances (every running instance in the answer when the list is empty) as `impaired`:
    /// moto reports every running instance `ok`, so this is how an instance that runs but
    /// fails its checks is made.
    ImpairInstances {
        #[serde(default)]
        instance_ids: Vec<String>,
        #[serde(default)]
        check: ImpairedCheck,
    },
}

/// Which of EC2's two status checks an [`Effect::ImpairInstances`] rule fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImpairedCheck {
    /// The instance's own check (its operating system and network).
    #[default]
    Instance,
    /// The system check (the host underneath).
    System,
}

impl ImpairedCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            ImpairedCheck::Instance => "instance",
            ImpairedCheck::System => "system",
        }
    }
}

/// The operation whose answers [`Effect::ImpairInstances`] rewrites.
pub const DESCRIBE_INSTANCE_STATUS: &str = "DescribeInstanceStatus";

/// When a rule applies and what it does. A request matches when its operation (the query
/// protocol's `Action`) is `action`, and, when set, it names `zone` (directly, or through a
/// subnet in that zone) and comes for moto account `account`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// An AWS operation, such as `RunInstances`, `CreateSubnet` or `DescribeDBInstances`.
    pub action: String,
    /// An availability zone, such as `us-east-1b`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// A moto account id (the `x-moto-account-id` header); requests without the header are
    /// moto's default account, 123456789012.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub effect: Effect,
    /// How many times the rule fires before it expires; absent: until removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
}

impl Rule {
    pub fn new(action: impl Into<String>, effect: Effect) -> Self {
        Rule {
            action: action.into(),
            zone: None,
            account: None,
            effect,
            count: None,
        }
    }

    /// `action` answers the AWS error `code` with `message` and HTTP `status`.
    pub fn error(
        action: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
        status: u16,
    ) -> Self {
        Rule::new(
            action,
            Effect::Error {
                code: code.into(),
                message: message.into(),
                status,
            },
        )
    }

    /// `action` is performed but its reply is lost.
    pub fn drop_reply(action: impl Into<String>) -> Self {
        Rule::new(action, Effect::DropReply)
    }

    /// `action` is delayed by `delay`.
    pub fn latency(action: impl Into<String>, delay: std::time::Duration) -> Self {
        Rule::new(
            action,
            Effect::Latency {
                millis: delay.as_millis().try_into().unwrap_or(u64::MAX),
            },
        )
    }

    /// DescribeDBInstances reports `status` for every database.
    pub fn hold_rds_status(status: impl Into<String>) -> Self {
        Rule::new(
            "DescribeDBInstances",
            Effect::HoldRdsStatus {
                status: status.into(),
            },
        )
    }

    /// Holds deferred RDS changes until the maintenance window ([`Effect::MaintenanceWindow`]).
    pub fn maintenance_window() -> Self {
        Rule::new("ModifyDBInstance", Effect::MaintenanceWindow)
    }

    /// DescribeInstanceStatus reports `check` of these instances (every running instance when
    /// empty) as `impaired`.
    pub fn impair_instances(instance_ids: &[&str], check: ImpairedCheck) -> Self {
        Rule::new(
            DESCRIBE_INSTANCE_STATUS,
            Effect::ImpairInstances {
                instance_ids: instance_ids.iter().map(|id| id.to_string()).collect(),
                check,
            },
        )
    }

    pub fn in_zone(mut self, zone: impl Into<String>) -> Self {
        self.zone = Some(zone.into());
        self
    }

    pub fn for_account(mut self, account: impl Into<String>) -> Self {
        self.account = Some(account.into());
        self
    }

    /// Fires `count` times, then expires.
    pub fn times(mut self, count: u32) -> Self {
        self.count = Some(count);
        self
    }

    /// One line for people: "RunInstances in us-east-1b: InsufficientInstanceCapacity (500)".
    pub fn describe(&self) -> String {
        let effect = match &self.effect {
            Effect::Error { code, status, .. } => format!("answer {code} ({status})"),
            Effect::DropReply => "drop the reply".to_string(),
            Effect::Latency { millis } => format!("add {millis} ms"),
            Effect::HoldRdsStatus { status } => format!("report status {status}"),
            Effect::MaintenanceWindow => "hold changes until the maintenance window".to_string(),
            Effect::ImpairInstances {
                instance_ids,
                check,
            } => format!(
                "report {} {} status impaired",
                if instance_ids.is_empty() {
                    "every running instance's".to_string()
                } else {
                    instance_ids.join(", ")
                },
                check.as_str()
            ),
        };
        let zone = self
            .zone
            .as_deref()
            .map(|z| format!(" in {z}"))
            .unwrap_or_default();
        format!("{}{zone}: {effect}", self.action)
    }
}

/// A rule as the proxy holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleView {
    pub id: RuleId,
    pub rule: Rule,
    /// How many times it has fired so far.
    pub fired: u32,
}

impl RuleView {
    /// Firings left before it expires; `None` when it has no count.
    pub fn remaining(&self) -> Option<u32> {
        self.rule.count.map(|c| c.saturating_sub(self.fired))
    }
}

/// The proxy's controls, as the backend sees them (the server crate implements it), so the
/// portal can manage rules without this crate depending on the proxy.
#[cfg(feature = "ssr")]
pub trait FaultControl: Send + Sync {
    fn add_rule(&self, rule: Rule) -> RuleId;
    /// Whether a rule with this id existed.
    fn remove_rule(&self, id: RuleId) -> bool;
    fn rules(&self) -> Vec<RuleView>;
}

/// The running proxy, if any, as the server hands it to the portal's server functions.
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct Faults(pub Option<std::sync::Arc<dyn FaultControl>>);
