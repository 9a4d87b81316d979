//! The sandbox's fault rules, for the sandbox account's admins in the portal.

use super::*;
#[cfg(feature = "ssr")]
use crate::faults::{Effect, ImpairedCheck, Rule, DESCRIBE_INSTANCE_STATUS};
use crate::faults::{RuleId, RuleView};

#[cfg(feature = "ssr")]
use crate::backend::cloud::sandbox;

#[cfg(feature = "ssr")]
fn faults() -> Option<std::sync::Arc<dyn crate::faults::FaultControl>> {
    use_context::<crate::faults::Faults>().and_then(|f| f.0)
}

/// The tenant's sandbox accounts, each with its live fault rules (the cloud accounts page's
/// faults panels: one page-level resource, so the panels never nest a resource inside the
/// account list's Suspense, which hydrates out of order).
#[server(prefix = "/rpc", endpoint = "get_sandbox_faults", output = super::codec::StrJson)]
pub async fn get_sandbox_faults() -> Result<Vec<SandboxFaultsView>, AppError> {
    respond(
        async {
            // Read before the first await: in a page's server-side render the context can be
            // gone after it (the render's owner may be dropped and rebuilt), and an empty rule
            // list then serialised beside HTML that shows the rules breaks hydration.
            let faults = faults();
            let (db, actor, tenant_id) = in_tenant().await?;
            let mut panels = Vec::new();
            for account in crate::backend::cloud::accounts::list(&db, &actor, tenant_id).await? {
                if !account.emulated {
                    continue;
                }
                let rules = sandbox::fault_rules(
                    &db,
                    faults.as_deref(),
                    &actor,
                    tenant_id,
                    account.cloud_account_id,
                )
                .await?;
                panels.push(SandboxFaultsView { account, rules });
            }
            Ok(panels)
        }
        .await,
    )
}

/// One sandbox account and the fault proxy's rules for it.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SandboxFaultsView {
    pub account: crate::model::CloudAccountView,
    pub rules: Vec<RuleView>,
}

/// The live fault rules of one of the tenant's sandbox accounts.
#[server(prefix = "/rpc", endpoint = "get_fault_rules", output = super::codec::StrJson)]
pub async fn get_fault_rules(cloud_account_id: Uuid) -> Result<Vec<RuleView>, AppError> {
    respond(
        async {
            // Read before the first await: in a page's server-side render the context can be
            // gone after it (the render's owner may be dropped and rebuilt), and an empty rule
            // list then serialised beside HTML that shows the rules breaks hydration.
            let faults = faults();
            let (db, actor, tenant_id) = in_tenant().await?;
            sandbox::fault_rules(&db, faults.as_deref(), &actor, tenant_id, cloud_account_id).await
        }
        .await,
    )
}

/// A number typed into a form; empty is absent.
#[cfg(feature = "ssr")]
fn number<T: std::str::FromStr>(field: &str, raw: &str, what: &str) -> Result<Option<T>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| AppError::invalid(field, format!("Enter {what}.")))
}

/// Adds a fault rule from the portal's form: `effect` is `error`, `drop_reply`, `latency`,
/// `hold_rds_status`, `maintenance_window` or `impair_instances`, and picks which of the other
/// fields count (`impair_instances` always applies to DescribeInstanceStatus, whatever the operation says).
#[server(prefix = "/rpc", endpoint = "add_fault_rule", output = super::codec::StrJson)]
#[allow(clippy::too_many_arguments)]
pub async fn add_fault_rule(
    cloud_account_id: Uuid,
    action: String,
    effect: String,
    #[server(default)] zone: String,
    #[server(default)] code: String,
    #[server(default)] message: String,
    #[server(default)] status: String,
    #[server(default)] millis: String,
    #[server(default)] rds_status: String,
    #[server(default)] instance_ids: String,
    #[server(default)] check: String,
    #[server(default)] count: String,
) -> Result<RuleId, AppError> {
    respond(
        async {
            let effect = match effect.as_str() {
                "error" => Effect::Error {
                    code: code.trim().to_string(),
                    message: if message.trim().is_empty() {
                        "Injected by the Stratus fault proxy.".to_string()
                    } else {
                        message.trim().to_string()
                    },
                    status: number("status", &status, "an HTTP status such as 500")?.unwrap_or(500),
                },
                "drop_reply" => Effect::DropReply,
                "latency" => Effect::Latency {
                    millis: number("millis", &millis, "milliseconds, such as 3000")?.ok_or_else(
                        || AppError::invalid("millis", "Enter milliseconds, such as 3000."),
                    )?,
                },
                "hold_rds_status" => Effect::HoldRdsStatus {
                    status: rds_status.trim().to_string(),
                },
                "maintenance_window" => Effect::MaintenanceWindow,
                "impair_instances" => Effect::ImpairInstances {
                    instance_ids: instance_ids
                        .split([',', ' ', '\n'])
                        .map(str::trim)
                        .filter(|id| !id.is_empty())
                        .map(str::to_string)
                        .collect(),
                    check: if check == "system" {
                        ImpairedCheck::System
                    } else {
                        ImpairedCheck::Instance
                    },
                },
                _ => return Err(AppError::invalid("effect", "Choose what the rule does.")),
            };
            let action = if matches!(effect, Effect::ImpairInstances { .. }) {
                DESCRIBE_INSTANCE_STATUS.to_string()
            } else {
                action.trim().to_string()
            };
            let rule = Rule {
                action,
                zone: Some(zone),
                account: None,
                effect,
                count: number("count", &count, "a whole number of times, such as 1")?,
            };
            // Read before the first await: in a page's server-side render the context can be
            // gone after it (the render's owner may be dropped and rebuilt), and an empty rule
            // list then serialised beside HTML that shows the rules breaks hydration.
            let faults = faults();
            let (db, actor, tenant_id) = in_tenant().await?;
            sandbox::add_fault_rule(
                &db,
                faults.as_deref(),
                &actor,
                tenant_id,
                cloud_account_id,
                rule,
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "remove_fault_rule", output = super::codec::StrJson)]
pub async fn remove_fault_rule(cloud_account_id: Uuid, rule_id: u64) -> Result<(), AppError> {
    respond(
        async {
            // Read before the first await: in a page's server-side render the context can be
            // gone after it (the render's owner may be dropped and rebuilt), and an empty rule
            // list then serialised beside HTML that shows the rules breaks hydration.
            let faults = faults();
            let (db, actor, tenant_id) = in_tenant().await?;
            sandbox::remove_fault_rule(
                &db,
                faults.as_deref(),
                &actor,
                tenant_id,
                cloud_account_id,
                RuleId(rule_id),
            )
            .await
        }
        .await,
    )
}
