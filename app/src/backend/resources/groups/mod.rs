//! Instance groups run by Stratus's own group engine (issue 14, PROVISIONING.md §2 and §4).
//!
//! - [`planner`]: the pure function from (spec, observed instances, recent capacity failures)
//!   to bounded steps and conditions. Everything the group promises (zone balance, protection,
//!   scale-in order, repair budget, rolling replacement) is decided there and table-tested.
//! - [`instances`]: write-ahead instance rows, batched launches, observation and adoption by tag.
//! - [`write`]: the write path (create, change, delete, protect) with its plan, quota and cost.
//! - [`chart`]: the group's monthly cost and per-zone chart for its portal page.
//! - `reconciler`: one bounded step per job run, dispatched by the resource engine.

pub mod chart;
pub mod instances;
pub mod planner;
pub(crate) mod reconciler;
pub mod write;

pub use write::{create, delete, get, list, list_instances, set_protection, update};

/// The write-ahead token of the group's own security group, the source databases admit. Its
/// `provider_object` row is the only security group whose `resource_id` is the group's.
pub fn security_group_token(group_id: uuid::Uuid) -> String {
    format!("group-security-group:{group_id}")
}
