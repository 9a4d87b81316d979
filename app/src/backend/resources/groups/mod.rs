//! Instance groups run by Stratus's own group engine (issue 14, PROVISIONING.md §2 and §4).
//!
//! - [`planner`]: the pure function from (spec, observed instances, recent capacity failures)
//!   to bounded steps and conditions. Everything the group promises (zone balance, protection,
//!   scale-in order, repair budget, rolling replacement) is decided there and table-tested.

pub mod instances;
pub mod planner;
