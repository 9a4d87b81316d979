//! The sandbox cloud (moto) as a tenant sees it: fault rules for their own sandbox account.
//!
//! A rule added here always names the account's own moto account, so one tenant's faults never
//! touch another tenant's sandbox, and a tenant sees and removes only its own rules.

use crate::backend::cloud::providers::aws;
use crate::backend::identity::actor::Actor;
use crate::error::AppError;
use crate::faults::{FaultControl, Rule, RuleId, RuleView};
use crate::rbac::{authorize, Action};
use sqlx::PgPool;
use uuid::Uuid;

/// The moto account of an emulated cloud account of the tenant; 404 for anything else (another
/// tenant's account, or a real AWS account, which no fault proxy stands in front of).
async fn moto_account(
    db: &PgPool,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
) -> Result<String, AppError> {
    let emulated: Option<bool> = sqlx::query_scalar(
        "select emulated from cloud_account where cloud_account_id = $1 and tenant_id = $2",
    )
    .bind(cloud_account_id)
    .bind(tenant_id)
    .fetch_optional(db)
    .await?;
    match emulated {
        Some(true) => Ok(aws::moto_account_id(cloud_account_id)),
        _ => Err(AppError::NotFound),
    }
}

fn running(faults: Option<&dyn FaultControl>) -> Result<&dyn FaultControl, AppError> {
    faults.ok_or_else(|| {
        AppError::conflict(
            "cloud_account_id",
            "No fault proxy runs here: it starts with the sandbox (STRATUS_SANDBOX_ENDPOINT).",
        )
    })
}

/// The live fault rules of the tenant's sandbox account.
pub async fn fault_rules(
    db: &PgPool,
    faults: Option<&dyn FaultControl>,
    actor: &Actor,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
) -> Result<Vec<RuleView>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewCloudAccounts).await?;
    let account = moto_account(db, tenant_id, cloud_account_id).await?;
    let Some(faults) = faults else {
        return Ok(Vec::new());
    };
    Ok(faults
        .rules()
        .into_iter()
        .filter(|r| r.rule.account.as_deref() == Some(account.as_str()))
        .collect())
}

/// Adds a rule for the tenant's sandbox account (whatever account the rule named).
pub async fn add_fault_rule(
    db: &PgPool,
    faults: Option<&dyn FaultControl>,
    actor: &Actor,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
    mut rule: Rule,
) -> Result<RuleId, AppError> {
    authorize(db, actor, tenant_id, Action::ManageCloudAccounts).await?;
    let account = moto_account(db, tenant_id, cloud_account_id).await?;
    let faults = running(faults)?;
    check_rule(&rule)?;
    rule.account = Some(account);
    rule.zone = rule
        .zone
        .map(|z| z.trim().to_string())
        .filter(|z| !z.is_empty());
    let id = faults.add_rule(rule.clone());
    tracing::info!(%tenant_id, %cloud_account_id, rule = %id, what = %rule.describe(), "sandbox fault rule added");
    Ok(id)
}

/// Removes one of the tenant's rules; another tenant's rule answers 404.
pub async fn remove_fault_rule(
    db: &PgPool,
    faults: Option<&dyn FaultControl>,
    actor: &Actor,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
    id: RuleId,
) -> Result<(), AppError> {
    authorize(db, actor, tenant_id, Action::ManageCloudAccounts).await?;
    let account = moto_account(db, tenant_id, cloud_account_id).await?;
    let faults = running(faults)?;
    let owned = faults
        .rules()
        .iter()
        .any(|r| r.id == id && r.rule.account.as_deref() == Some(account.as_str()));
    if owned && faults.remove_rule(id) {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// What makes a rule meaningless, field by field.
pub fn check_rule(rule: &Rule) -> Result<(), AppError> {
    use crate::faults::Effect;
    let word =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric());
    let mut errors = Vec::new();
    if !word(&rule.action) {
        errors.push((
            "action",
            "An action is an AWS operation such as RunInstances.",
        ));
    }
    if let Some(zone) = rule
        .zone
        .as_deref()
        .map(str::trim)
        .filter(|z| !z.is_empty())
    {
        if zone.len() > 32
            || !zone
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            errors.push(("zone", "A zone is an availability zone such as us-east-1b."));
        }
    }
    if rule.count == Some(0) || rule.count.is_some_and(|c| c > 10_000) {
        errors.push((
            "count",
            "A count is from 1 to 10000, or empty for until removed.",
        ));
    }
    match &rule.effect {
        Effect::Error {
            code,
            message,
            status,
        } => {
            if !word(code) {
                errors.push((
                    "code",
                    "An error code is a word such as InsufficientInstanceCapacity.",
                ));
            }
            if message.len() > 500 {
                errors.push(("message", "Keep the message under 500 characters."));
            }
            if !(400..=599).contains(status) {
                errors.push(("status", "An error's HTTP status is from 400 to 599."));
            }
        }
        Effect::Latency { millis } if *millis > 120_000 => {
            errors.push(("millis", "Latency is at most 120000 ms."));
        }
        Effect::HoldRdsStatus { status }
            if status.is_empty()
                || status.len() > 32
                || !status.chars().all(|c| c.is_ascii_lowercase() || c == '-') =>
        {
            errors.push((
                "rds_status",
                "An RDS status is a word such as creating or modifying.",
            ));
        }
        Effect::MaintenanceWindow if rule.action != "ModifyDBInstance" => {
            errors.push((
                "action",
                "Holding changes for the maintenance window applies to ModifyDBInstance.",
            ));
        }
        Effect::ImpairInstances { instance_ids, .. } => {
            if rule.action != crate::faults::DESCRIBE_INSTANCE_STATUS {
                errors.push((
                    "action",
                    "Impaired status checks are reported by DescribeInstanceStatus.",
                ));
            }
            let instance_id = |id: &String| {
                id.len() <= 32
                    && id.strip_prefix("i-").is_some_and(|hex| {
                        !hex.is_empty() && hex.chars().all(|c| c.is_ascii_alphanumeric())
                    })
            };
            if instance_ids.len() > 100 || !instance_ids.iter().all(instance_id) {
                errors.push((
                    "instance_ids",
                    "Instance ids look like i-0abc1234def567890 (at most 100), or none for every running instance.",
                ));
            }
        }
        _ => {}
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(
            errors
                .into_iter()
                .map(|(field, message)| crate::error::FieldError {
                    field: field.into(),
                    message: message.into(),
                })
                .collect(),
        ))
    }
}
