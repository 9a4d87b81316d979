//! The group write path (PROVISIONING.md §1), the same for the portal and REST: authorize,
//! validate, plan (diff, instances to launch or terminate per zone, quota for instances and
//! vCPUs, monthly cost), then in one transaction write the spec, reserve quota (the tenant row
//! is locked, so the last unit goes to exactly one of two racing creates), audit and enqueue
//! the reconcile. `dry_run` returns the plan and writes nothing.
//!
//! Where things live: sizes and the quota reservation in `instance_group` (the schema checks
//! `min <= desired <= max`), the policy in `resource.spec`, the template as numbered revisions
//! in `instance_group_template`, the zones as `resource_zone` rows (a zone in use cannot be
//! deleted). `desired` is only changed when a change names it, and records who set it.

use super::instances::InstanceRow;
use super::planner::{self, CapacityFailure, GroupPlan, GroupSpec};
use crate::backend::audit;
use crate::backend::identity::actor::Actor;
use crate::backend::resources::{
    enqueue_reconcile, fingerprint, lock_quotas, prices, zones, WriteOptions,
};
use crate::error::AppError;
use crate::model::groups::{
    GroupChange, GroupPatch, GroupPolicy, GroupTemplate, GroupView, GroupZone, InstancePatch,
    InstanceView, NewGroup, RolloutBudget, ZonePlan,
};
use crate::model::resources::{
    ChangeAction, Condition, CostChange, FieldChange, Plan, PlanAction, ProviderChange,
    QuotaImpact, ResourceKind, ResourceStatus,
};
use crate::model::AuditAction;
use crate::rbac::{authorize, Action};
use crate::validate::Checks;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// The largest group Stratus accepts.
pub const MAX_SIZE: u32 = 1000;
/// EC2 takes at most 16 KiB of user data.
const USER_DATA_MAX: usize = 16 * 1024;

/// What is stored as the group resource's `spec`: the zones in the person's order (the
/// planner's tie-breaker) and the policy. Sizes and the template live in their own tables.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSpecDoc {
    pub zone_ids: Vec<Uuid>,
    pub policy: GroupPolicy,
}

/// One of the tenant's zones as a group uses it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ZoneRef {
    pub zone_id: Uuid,
    pub name: String,
    pub status: ResourceStatus,
    pub cloud_account_id: Uuid,
    pub region: String,
    pub availability_zone: String,
    pub subnet_id: Option<String>,
    pub security_group_id: Option<String>,
}

/// Everything the planner needs, as the write path and the reconciler both build it.
pub fn planner_spec(
    zones: &[ZoneRef],
    policy: &GroupPolicy,
    revision: i64,
    min: u32,
    max: u32,
    desired: u32,
) -> GroupSpec {
    GroupSpec {
        zones: zones.iter().map(|z| z.availability_zone.clone()).collect(),
        revision,
        min,
        max,
        desired,
        distribution: policy.distribution,
        scale_in: policy.scale_in,
        health_grace: time::Duration::seconds(i64::from(policy.health_grace_secs)),
        repair_budget_percent: policy.repair_budget_percent,
        max_surge: policy.max_surge,
        max_unavailable: policy.max_unavailable,
        capacity_retry_after: time::Duration::seconds(i64::from(policy.capacity_retry_secs)),
    }
}

/// The zones (of `tenant_id`, not being deleted) with these ids, in the given order, locked
/// against deletion for this transaction.
pub async fn zone_refs(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    zone_ids: &[Uuid],
) -> Result<Vec<ZoneRef>, sqlx::Error> {
    let rows: Vec<ZoneRef> = sqlx::query_as(
        "select r.resource_id as zone_id, r.name, r.status, r.cloud_account_id, c.region,
                z.availability_zone, r.outputs->>'subnet_id' as subnet_id,
                r.outputs->>'security_group_id' as security_group_id
         from resource r join zone z using (resource_id)
         join cloud_account c on c.cloud_account_id = r.cloud_account_id
         where r.tenant_id = $1 and r.resource_id = any($2) and r.kind = 'zone'
           and r.status <> 'deleted' and r.deletion_requested_at is null
         for share of r",
    )
    .bind(tenant_id)
    .bind(zone_ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(zone_ids
        .iter()
        .filter_map(|id| rows.iter().find(|z| z.zone_id == *id).cloned())
        .collect())
}

/// The group's recent capacity refusals, as the planner takes them.
pub async fn capacity_failures(
    conn: impl sqlx::PgExecutor<'_>,
    group_id: Uuid,
) -> Result<Vec<CapacityFailure>, sqlx::Error> {
    let rows: Vec<(String, String, OffsetDateTime)> = sqlx::query_as(
        "select availability_zone, message, failed_at from instance_group_capacity_failure where resource_id = $1",
    )
    .bind(group_id)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(zone, message, at)| CapacityFailure { zone, at, message })
        .collect())
}

fn check_template(checks: &mut Checks, t: &GroupTemplate) {
    checks.check(
        "template.instance_type",
        match prices::instance_vcpus(t.instance_type.trim()) {
            Some(_) => Ok(()),
            None => Err(format!(
                "Choose an instance type Stratus can price: {}.",
                prices::instance_types().join(", ")
            )),
        },
    );
    let image = t.image_id.trim();
    checks.check(
        "template.image_id",
        if image.starts_with("ami-")
            && (8..=64).contains(&image.len())
            && image[4..].chars().all(|c| c.is_ascii_alphanumeric())
        {
            Ok(())
        } else {
            Err("Use an image id such as ami-0abcdef1234567890.".into())
        },
    );
    if let Some(data) = &t.user_data {
        checks.check(
            "template.user_data",
            if data.len() > USER_DATA_MAX {
                Err(format!("Use at most {USER_DATA_MAX} bytes of user data."))
            } else if data.contains('\0') {
                Err("User data cannot contain NUL characters.".into())
            } else {
                Ok(())
            },
        );
    }
    let bad_tag = t.tags.iter().find(|(k, v)| {
        k.is_empty()
            || crate::validate::has_deceptive_chars(k)
            || crate::validate::has_deceptive_chars(v)
            || k.chars().count() > 128
            || v.chars().count() > 256
            || k.starts_with("stratus:")
            || k.starts_with("aws:")
            || k.as_str() == "Name"
    });
    checks.check(
        "template.tags",
        if t.tags.len() > 40 {
            Err("Use at most 40 tags.".into())
        } else if let Some((k, _)) = bad_tag {
            Err(format!(
                "Tag {k:?}: keys are 1–128 characters, values at most 256, and Name, stratus:… and aws:… are taken."
            ))
        } else {
            Ok(())
        },
    );
}

fn check_policy(checks: &mut Checks, p: &GroupPolicy) {
    let percent = |v: u32| {
        if v <= 100 {
            Ok(())
        } else {
            Err("Use a percentage from 0 to 100.".to_string())
        }
    };
    let budget = |b: RolloutBudget| match b {
        RolloutBudget::Count(n) if n <= MAX_SIZE => Ok(()),
        RolloutBudget::Count(_) => Err(format!("Use a count from 0 to {MAX_SIZE}.")),
        RolloutBudget::Percent(p) => percent(p),
    };
    checks.check(
        "policy.repair_budget_percent",
        percent(p.repair_budget_percent),
    );
    checks.check("policy.max_surge", budget(p.max_surge));
    checks.check("policy.max_unavailable", budget(p.max_unavailable));
    checks.check(
        "policy.health_grace_secs",
        if p.health_grace_secs <= 86_400 {
            Ok(())
        } else {
            Err("Use at most 86400 seconds (a day).".into())
        },
    );
    checks.check(
        "policy.capacity_retry_secs",
        if (1..=3600).contains(&p.capacity_retry_secs) {
            Ok(())
        } else {
            Err("Use 1 to 3600 seconds.".into())
        },
    );
}

fn check_sizes(checks: &mut Checks, min: u32, max: u32, desired: u32, desired_named: bool) {
    checks.check(
        "max",
        if max > MAX_SIZE {
            Err(format!("Use at most {MAX_SIZE} instances."))
        } else if max < min {
            Err(format!("max ({max}) must be at least min ({min})."))
        } else {
            Ok(())
        },
    );
    if min <= max && !(min..=max).contains(&desired) {
        let message = format!("desired ({desired}) must be between min ({min}) and max ({max}).");
        if desired_named {
            checks.check("desired", Err(message));
        } else {
            // A change that does not name desired never resets it: refuse, and say why.
            checks.check(
                if desired < min { "min" } else { "max" },
                Err(format!(
                    "{message} Give a desired count too, or keep it in range."
                )),
            );
        }
    }
}

/// Validates the zones: found, Ready, one cloud account and region, distinct availability zones.
fn check_zones(checks: &mut Checks, requested: &[Uuid], found: &[ZoneRef], account: Option<Uuid>) {
    checks.check("zone_ids", zones_problem(requested, found, account));
}

fn zones_problem(
    requested: &[Uuid],
    found: &[ZoneRef],
    account: Option<Uuid>,
) -> Result<(), String> {
    if requested.is_empty() {
        return Err("Choose at least one zone.".to_string());
    }
    if requested.len() > 16 {
        return Err("Use at most 16 zones.".into());
    }
    let mut seen = std::collections::BTreeSet::new();
    for id in requested {
        if !seen.insert(id) {
            return Err("A zone is listed twice.".into());
        }
        if !found.iter().any(|z| z.zone_id == *id) {
            return Err(format!("{id} is not one of the tenant's zones."));
        }
    }
    if let Some(z) = found.iter().find(|z| z.status != ResourceStatus::Ready) {
        return Err(format!(
            "Zone {} is {}: choose Ready zones.",
            z.name,
            z.status.as_str()
        ));
    }
    let first = &found[0];
    if let Some(z) = found.iter().find(|z| {
        z.cloud_account_id != account.unwrap_or(first.cloud_account_id) || z.region != first.region
    }) {
        return Err(format!(
            "Zone {} is in another cloud account or region: a group's zones share one.",
            z.name
        ));
    }
    let mut azs = std::collections::BTreeSet::new();
    if let Some(z) = found.iter().find(|z| !azs.insert(&z.availability_zone)) {
        return Err(format!(
            "Zone {} is in {} like another of the group's zones: choose zones in distinct availability zones.",
            z.name, z.availability_zone
        ));
    }
    Ok(())
}

fn vcpus_of(template: &GroupTemplate) -> u32 {
    prices::instance_vcpus(template.instance_type.trim()).unwrap_or(0)
}

/// The quota reserved by the tenant's live groups, with the tenant row locked (creates and
/// changes of one tenant queue here). `(instances, vcpus, max_instances, max_vcpus)`.
async fn group_quota(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> Result<(i64, i64, i64, i64), AppError> {
    let quotas = lock_quotas(conn, tenant_id).await?;
    let (instances, vcpus): (i64, i64) = sqlx::query_as(
        "select coalesce(sum(g.reserved_instances), 0)::bigint, coalesce(sum(g.reserved_vcpus), 0)::bigint
         from instance_group g join resource r using (resource_id)
         where r.tenant_id = $1 and r.status <> 'deleted'",
    )
    .bind(tenant_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        instances,
        vcpus,
        i64::from(quotas.max_instances),
        i64::from(quotas.max_vcpus),
    ))
}

fn quota_lines(
    used: (i64, i64, i64, i64),
    before: (i64, i64),
    after: (i64, i64),
) -> Vec<QuotaImpact> {
    let (instances, vcpus, max_instances, max_vcpus) = used;
    vec![
        QuotaImpact {
            quota: "instances".into(),
            used_before: instances,
            used_after: instances - before.0 + after.0,
            limit: max_instances,
        },
        QuotaImpact {
            quota: "vcpus".into(),
            used_before: vcpus,
            used_after: vcpus - before.1 + after.1,
            limit: max_vcpus,
        },
    ]
}

fn monthly(region: &str, template: Option<&GroupTemplate>, count: u32) -> (i64, bool) {
    match template {
        None => (0, true),
        Some(t) => {
            match prices::instance_monthly_cents(region, t.instance_type.trim(), i64::from(count)) {
                Some(c) => (c, true),
                None => (0, false),
            }
        }
    }
}

fn cost(
    region: &str,
    before: Option<(&GroupTemplate, u32)>,
    after: Option<(&GroupTemplate, u32)>,
) -> CostChange {
    let (b, b_known) = monthly(region, before.map(|b| b.0), before.map_or(0, |b| b.1));
    let (a, a_known) = monthly(region, after.map(|a| a.0), after.map_or(0, |a| a.1));
    let type_of = |x: Option<(&GroupTemplate, u32)>| {
        x.map(|(t, n)| format!("{n} × {}", t.instance_type.trim()))
            .unwrap_or_else(|| "nothing".into())
    };
    let mut note = format!(
        "On-demand Linux instances in {region}: {} → {}, 730 hours a month.",
        type_of(before),
        type_of(after)
    );
    if !(b_known && a_known) {
        note.push_str(" The price list has no price for this type in this region.");
    }
    CostChange {
        monthly_before_cents: b,
        monthly_after_cents: a,
        currency: "USD".into(),
        price_list: prices::LIST_NAME.into(),
        note,
    }
}

fn refuse_over_quota(plan: &Plan) -> Result<(), AppError> {
    match plan.quota.iter().find(|q| q.exceeded()) {
        Some(q) => Err(AppError::QuotaExceeded(format!(
            "The tenant's {} quota is {}; {} are in use and this needs {}. Ask a platform admin to raise it.",
            q.quota,
            q.limit,
            q.used_before,
            q.used_after - q.used_before
        ))),
        None => Ok(()),
    }
}

fn change(field: &str, old: Option<String>, new: Option<String>) -> FieldChange {
    FieldChange {
        field: field.into(),
        old,
        new,
    }
}

fn tags_label(t: &GroupTemplate) -> String {
    t.tags
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn user_data_label(t: &GroupTemplate) -> String {
    match &t.user_data {
        None => "none".into(),
        Some(d) => format!("{} bytes (sha256 {})", d.len(), &fingerprint(&[d])[..12]),
    }
}

fn template_fields(t: &GroupTemplate) -> Vec<(&'static str, String)> {
    vec![
        ("template.instance_type", t.instance_type.trim().to_string()),
        ("template.image_id", t.image_id.trim().to_string()),
        ("template.user_data", user_data_label(t)),
        ("template.tags", tags_label(t)),
    ]
}

fn policy_fields(p: &GroupPolicy) -> Vec<(&'static str, String)> {
    vec![
        ("policy.distribution", p.distribution.as_str().into()),
        ("policy.scale_in", p.scale_in.as_str().into()),
        ("policy.health_grace_secs", p.health_grace_secs.to_string()),
        (
            "policy.repair_budget_percent",
            p.repair_budget_percent.to_string(),
        ),
        ("policy.max_surge", p.max_surge.label()),
        ("policy.max_unavailable", p.max_unavailable.label()),
        (
            "policy.capacity_retry_secs",
            p.capacity_retry_secs.to_string(),
        ),
    ]
}

fn zone_names(zones: &[ZoneRef]) -> String {
    zones
        .iter()
        .map(|z| format!("{} ({})", z.name, z.availability_zone))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Per zone: what the change does at the provider, from the current members to the targets.
fn provider_changes_of(
    zones: &[ZoneRef],
    plan: &GroupPlan,
    template: &GroupTemplate,
    rolling: bool,
    protected: &BTreeMap<String, u32>,
    warnings: &mut Vec<String>,
) -> Vec<ProviderChange> {
    let mut out = Vec::new();
    let name_of = |az: &str| {
        zones
            .iter()
            .find(|z| z.availability_zone == az)
            .map(|z| format!("zone {}, {az}", z.name))
            .unwrap_or_else(|| format!("{az}, leaving the group"))
    };
    for zp in &plan.zones {
        let where_ = name_of(&zp.zone);
        if zp.target > zp.current {
            out.push(ProviderChange {
                action: ChangeAction::Create,
                object: "instances".into(),
                detail: format!(
                    "{} × {} in {where_}",
                    zp.target - zp.current,
                    template.instance_type.trim()
                ),
            });
        }
        if zp.current > zp.target {
            let n = zp.current - zp.target;
            out.push(ProviderChange {
                action: ChangeAction::Destroy,
                object: "instances".into(),
                detail: format!("{n} in {where_} (scale-in: zone balance, old revision, then age; never protected ones)"),
            });
            warnings.push(format!(
                "Scale-in will terminate {n} instance{} in {where_}.",
                if n == 1 { "" } else { "s" }
            ));
            if let Some(p) = protected.get(&zp.zone).filter(|p| **p > 0) {
                if zp.current - p < zp.target {
                    warnings.push(format!(
                        "{p} protected instance{} in {where_} will not be terminated; unprotect them to scale in fully.",
                        if *p == 1 { "" } else { "s" }
                    ));
                }
            }
        }
        if rolling && zp.outdated > 0 {
            out.push(ProviderChange {
                action: ChangeAction::Update,
                object: "instances".into(),
                detail: format!(
                    "replace {} in {where_} with the new template (max surge {}, max unavailable {} in this zone)",
                    zp.outdated, zp.max_surge, zp.max_unavailable
                ),
            });
        }
        if zp.target == zp.current && !(rolling && zp.outdated > 0) && zp.current > 0 {
            out.push(ProviderChange {
                action: ChangeAction::Keep,
                object: "instances".into(),
                detail: format!("{} in {where_}", zp.current),
            });
        }
    }
    out
}

/// Creates an instance group (or, with `dry_run`, returns only its plan).
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id))]
pub async fn create(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    input: NewGroup,
    options: WriteOptions,
) -> Result<GroupChange, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let name = input.name.trim().to_string();
    let desired = input.desired.unwrap_or(input.min);
    let mut checks = Checks::default();
    checks.check("name", zones::check_name(&name));
    check_template(&mut checks, &input.template);
    check_policy(&mut checks, &input.policy);
    check_sizes(&mut checks, input.min, input.max, desired, true);
    if input.zone_ids.is_empty() {
        checks.check("zone_ids", Err("Choose at least one zone.".into()));
    }
    checks.finish()?;
    let mut template = input.template.clone();
    template.instance_type = template.instance_type.trim().to_string();
    template.image_id = template.image_id.trim().to_string();

    let mut tx = db.begin().await?;
    let found = zone_refs(&mut tx, tenant_id, &input.zone_ids).await?;
    let mut checks = Checks::default();
    check_zones(&mut checks, &input.zone_ids, &found, None);
    checks.finish()?;
    let cloud_account_id = found[0].cloud_account_id;
    let region = found[0].region.clone();
    let account_name: String =
        sqlx::query_scalar("select name from cloud_account where cloud_account_id = $1")
            .bind(cloud_account_id)
            .fetch_one(&mut *tx)
            .await?;
    let taken: bool = sqlx::query_scalar(
        "select exists (select 1 from resource where tenant_id = $1 and kind = 'instance_group' and name = $2 and status <> 'deleted')",
    )
    .bind(tenant_id)
    .bind(&name)
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(AppError::conflict(
            "name",
            format!("The tenant already has an instance group named {name}."),
        ));
    }
    let used = group_quota(&mut tx, tenant_id).await?;
    let vcpus = vcpus_of(&template);
    let after = (i64::from(desired), i64::from(desired * vcpus));
    let spec = planner_spec(&found, &input.policy, 1, input.min, input.max, desired);
    let group_plan = planner::plan(&spec, &[], &[], OffsetDateTime::now_utc());
    let mut warnings = Vec::new();
    let mut provider_changes = vec![ProviderChange {
        action: ChangeAction::Create,
        object: "security group".into(),
        detail: format!(
            "for instance group {name} (on every instance, besides the zone's), in the tenant's VPC in {region}"
        ),
    }];
    provider_changes.extend(provider_changes_of(
        &found,
        &group_plan,
        &template,
        false,
        &BTreeMap::new(),
        &mut warnings,
    ));
    let mut diff = vec![
        change("name", None, Some(name.clone())),
        change("cloud_account", None, Some(account_name)),
        change("region", None, Some(region.clone())),
        change("zones", None, Some(zone_names(&found))),
    ];
    for (field, value) in template_fields(&template) {
        diff.push(change(field, None, Some(value)));
    }
    for (field, value) in [("min", input.min), ("max", input.max), ("desired", desired)] {
        diff.push(change(field, None, Some(value.to_string())));
    }
    for (field, value) in policy_fields(&input.policy) {
        diff.push(change(field, None, Some(value)));
    }
    let normalized = serde_json::to_string(&NewGroup {
        name: name.clone(),
        template: template.clone(),
        desired: Some(desired),
        ..input.clone()
    })
    .unwrap_or_default();
    let plan = Plan {
        action: PlanAction::Create,
        kind: ResourceKind::InstanceGroup,
        name: name.clone(),
        diff,
        provider_changes,
        quota: quota_lines(used, (0, 0), after),
        cost: cost(&region, None, Some((&template, desired))),
        warnings,
        fingerprint: fingerprint(&[
            "instance_group:create",
            &tenant_id.to_string(),
            &normalized,
            &used.0.to_string(),
            &used.1.to_string(),
        ]),
    };
    if options.dry_run {
        return Ok(planned(plan));
    }
    options.check(&plan)?;
    refuse_over_quota(&plan)?;

    let doc = GroupSpecDoc {
        zone_ids: input.zone_ids.clone(),
        policy: input.policy.clone(),
    };
    let group_id: Uuid = sqlx::query_scalar(
        "insert into resource (tenant_id, kind, name, cloud_account_id, spec) values ($1, 'instance_group', $2, $3, $4) returning resource_id",
    )
    .bind(tenant_id)
    .bind(&name)
    .bind(cloud_account_id)
    .bind(Json(&doc))
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| {
        if crate::backend::violates(&e, "resource_tenant_kind_name_key") {
            AppError::conflict("name", format!("The tenant already has an instance group named {name}."))
        } else {
            e.into()
        }
    })?;
    sqlx::query(
        "insert into instance_group (resource_id, revision, min_size, max_size, desired, desired_set_by, reserved_instances, reserved_vcpus)
         values ($1, 1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(group_id)
    .bind(input.min as i32)
    .bind(input.max as i32)
    .bind(desired as i32)
    .bind(actor.user_id)
    .bind(after.0 as i32)
    .bind(after.1 as i32)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into instance_group_template (resource_id, revision, template) values ($1, 1, $2)",
    )
    .bind(group_id)
    .bind(Json(&template))
    .execute(&mut *tx)
    .await?;
    sqlx::query("insert into resource_zone (resource_id, zone_id) select $1, unnest($2::uuid[])")
        .bind(group_id)
        .bind(&input.zone_ids)
        .execute(&mut *tx)
        .await?;
    let job_id = enqueue_reconcile(&mut tx, tenant_id, group_id).await?;
    let group = fetch(&mut tx, tenant_id, group_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::InstanceGroupCreated,
        &name,
        serde_json::json!({
            "group_id": group_id, "cloud_account_id": cloud_account_id, "zone_ids": input.zone_ids,
            "instance_type": template.instance_type, "min": input.min, "max": input.max,
            "desired": desired, "job_id": job_id,
        }),
    )
    .await?;
    Ok(applied(plan, group, job_id))
}

/// The group's row, locked for this transaction.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Locked {
    name: String,
    generation: i64,
    cloud_account_id: Uuid,
    region: String,
    spec: Json<GroupSpecDoc>,
    revision: i64,
    min_size: i32,
    max_size: i32,
    desired: i32,
    reserved_instances: i32,
    reserved_vcpus: i32,
    template: Json<GroupTemplate>,
    deletion_requested_at: Option<OffsetDateTime>,
}

async fn lock(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    group_id: Uuid,
) -> Result<Locked, AppError> {
    Ok(sqlx::query_as(
        "select r.name, r.generation, r.cloud_account_id, c.region, r.spec, g.revision, g.min_size,
                g.max_size, g.desired, g.reserved_instances, g.reserved_vcpus, t.template,
                r.deletion_requested_at
         from resource r join instance_group g using (resource_id)
         join cloud_account c on c.cloud_account_id = r.cloud_account_id
         join instance_group_template t on t.resource_id = r.resource_id and t.revision = g.revision
         where r.resource_id = $1 and r.tenant_id = $2 and r.kind = 'instance_group' and r.status <> 'deleted'
         for update of r, g",
    )
    .bind(group_id)
    .bind(tenant_id)
    .fetch_one(&mut *conn)
    .await?)
}

/// Changes a group: sizes, template (a new revision, rolled out), zones, policy. Fields a
/// change does not name are kept; `desired` records who set it.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, group_id = %group_id))]
pub async fn update(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    group_id: Uuid,
    patch: GroupPatch,
    options: WriteOptions,
) -> Result<GroupChange, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let mut tx = db.begin().await?;
    let current = lock(&mut tx, tenant_id, group_id).await?;
    if current.deletion_requested_at.is_some() {
        return Err(AppError::Conflict {
            field: None,
            message: format!("Instance group {} is being deleted.", current.name),
        });
    }
    let old_policy = current.spec.0.policy.clone();
    let mut policy = old_policy.clone();
    if let Some(p) = &patch.policy {
        if let Some(v) = p.distribution {
            policy.distribution = v;
        }
        if let Some(v) = p.scale_in {
            policy.scale_in = v;
        }
        if let Some(v) = p.health_grace_secs {
            policy.health_grace_secs = v;
        }
        if let Some(v) = p.repair_budget_percent {
            policy.repair_budget_percent = v;
        }
        if let Some(v) = p.max_surge {
            policy.max_surge = v;
        }
        if let Some(v) = p.max_unavailable {
            policy.max_unavailable = v;
        }
        if let Some(v) = p.capacity_retry_secs {
            policy.capacity_retry_secs = v;
        }
    }
    let old_min = current.min_size as u32;
    let old_max = current.max_size as u32;
    let old_desired = current.desired as u32;
    let min = patch.min.unwrap_or(old_min);
    let max = patch.max.unwrap_or(old_max);
    let desired = patch.desired.unwrap_or(old_desired);
    let old_template = current.template.0.clone();
    let template = patch.template.clone().map(|mut t| {
        t.instance_type = t.instance_type.trim().to_string();
        t.image_id = t.image_id.trim().to_string();
        t
    });
    let new_template = template.clone().filter(|t| *t != old_template);
    let zone_ids = patch
        .zone_ids
        .clone()
        .unwrap_or_else(|| current.spec.0.zone_ids.clone());
    let mut checks = Checks::default();
    if let Some(t) = &new_template {
        check_template(&mut checks, t);
    }
    check_policy(&mut checks, &policy);
    check_sizes(&mut checks, min, max, desired, patch.desired.is_some());
    checks.finish()?;
    let found = zone_refs(&mut tx, tenant_id, &zone_ids).await?;
    let zones_changed = zone_ids != current.spec.0.zone_ids;
    if zones_changed {
        let mut checks = Checks::default();
        check_zones(
            &mut checks,
            &zone_ids,
            &found,
            Some(current.cloud_account_id),
        );
        checks.finish()?;
    }
    let old_zones = zone_refs(&mut tx, tenant_id, &current.spec.0.zone_ids).await?;

    let revision = current.revision + i64::from(new_template.is_some());
    let effective = new_template.clone().unwrap_or_else(|| old_template.clone());
    let rows: Vec<InstanceRow> = live_rows_in(&mut tx, group_id).await?;
    let observed: Vec<_> = rows.iter().map(InstanceRow::observed).collect();
    let failures = capacity_failures(&mut *tx, group_id).await?;
    let spec = planner_spec(&found, &policy, revision, min, max, desired);
    let group_plan = planner::plan(&spec, &observed, &failures, OffsetDateTime::now_utc());
    let mut protected: BTreeMap<String, u32> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.protected) {
        *protected.entry(r.availability_zone.clone()).or_insert(0) += 1;
    }
    let mut warnings = Vec::new();
    let provider_changes = provider_changes_of(
        &found,
        &group_plan,
        &effective,
        new_template.is_some(),
        &protected,
        &mut warnings,
    );

    let mut diff = Vec::new();
    if zones_changed {
        diff.push(change(
            "zones",
            Some(zone_names(&old_zones)),
            Some(zone_names(&found)),
        ));
    }
    if let Some(t) = &new_template {
        for ((field, old), (_, new)) in template_fields(&old_template)
            .into_iter()
            .zip(template_fields(t))
        {
            if old != new {
                diff.push(change(field, Some(old), Some(new)));
            }
        }
        diff.push(change(
            "template.revision",
            Some(current.revision.to_string()),
            Some(revision.to_string()),
        ));
    }
    for (field, old, new) in [
        ("min", old_min, min),
        ("max", old_max, max),
        ("desired", old_desired, desired),
    ] {
        if old != new {
            diff.push(change(field, Some(old.to_string()), Some(new.to_string())));
        }
    }
    for ((field, old), (_, new)) in policy_fields(&old_policy)
        .into_iter()
        .zip(policy_fields(&policy))
    {
        if old != new {
            diff.push(change(field, Some(old), Some(new)));
        }
    }
    let used = group_quota(&mut tx, tenant_id).await?;
    let after = (
        i64::from(desired),
        i64::from(desired * vcpus_of(&effective)),
    );
    let before = (
        i64::from(current.reserved_instances),
        i64::from(current.reserved_vcpus),
    );
    let plan = Plan {
        action: PlanAction::Update,
        kind: ResourceKind::InstanceGroup,
        name: current.name.clone(),
        diff,
        provider_changes,
        quota: quota_lines(used, before, after),
        cost: cost(
            &current.region,
            Some((&old_template, old_desired)),
            Some((&effective, desired)),
        ),
        warnings,
        fingerprint: fingerprint(&[
            "instance_group:update",
            &group_id.to_string(),
            &current.generation.to_string(),
            &serde_json::to_string(&patch).unwrap_or_default(),
        ]),
    };
    if options.dry_run {
        return Ok(planned(plan));
    }
    options.check(&plan)?;
    if plan.diff.is_empty() {
        // Nothing to change: no new generation, no job.
        let group = fetch(&mut tx, tenant_id, group_id).await?;
        return Ok(GroupChange {
            plan,
            dry_run: false,
            group: Some(group),
            job_id: None,
        });
    }
    refuse_over_quota(&plan)?;
    if let Some(t) = &new_template {
        sqlx::query(
            "insert into instance_group_template (resource_id, revision, template) values ($1, $2, $3)",
        )
        .bind(group_id)
        .bind(revision)
        .bind(Json(t))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "update instance_group set revision = $2, min_size = $3, max_size = $4, desired = $5,
             desired_source = case when $6 then 'person' else desired_source end,
             desired_set_by = case when $6 then $7 else desired_set_by end,
             desired_set_at = case when $6 then now() else desired_set_at end,
             reserved_instances = $8, reserved_vcpus = $9
         where resource_id = $1",
    )
    .bind(group_id)
    .bind(revision)
    .bind(min as i32)
    .bind(max as i32)
    .bind(desired as i32)
    .bind(patch.desired.is_some())
    .bind(actor.user_id)
    .bind(after.0 as i32)
    .bind(after.1 as i32)
    .execute(&mut *tx)
    .await?;
    let doc = GroupSpecDoc {
        zone_ids: zone_ids.clone(),
        policy,
    };
    sqlx::query(
        "update resource set spec = $2, generation = generation + 1,
             status = case when status in ('ready', 'failed') then 'updating'::resource_status else status end
         where resource_id = $1",
    )
    .bind(group_id)
    .bind(Json(&doc))
    .execute(&mut *tx)
    .await?;
    if zones_changed {
        // New zones join now; a zone leaving stays linked until its instances are gone (the
        // reconciler unlinks it), so it cannot be deleted under them.
        sqlx::query(
            "insert into resource_zone (resource_id, zone_id) select $1, unnest($2::uuid[]) on conflict do nothing",
        )
        .bind(group_id)
        .bind(&zone_ids)
        .execute(&mut *tx)
        .await?;
    }
    let job_id = enqueue_reconcile(&mut tx, tenant_id, group_id).await?;
    let group = fetch(&mut tx, tenant_id, group_id).await?;
    let changes: serde_json::Map<String, serde_json::Value> = plan
        .diff
        .iter()
        .map(|c| {
            (
                c.field.clone(),
                serde_json::json!({ "old": c.old, "new": c.new }),
            )
        })
        .collect();
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::InstanceGroupChanged,
        &current.name,
        serde_json::json!({ "group_id": group_id, "changes": changes, "job_id": job_id }),
    )
    .await?;
    Ok(applied(plan, group, job_id))
}

/// Asks for a group's deletion: every instance is terminated (protected ones too), confirmed
/// gone, then the group is tombstoned and its quota released.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, group_id = %group_id))]
pub async fn delete(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    group_id: Uuid,
    options: WriteOptions,
) -> Result<GroupChange, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let mut tx = db.begin().await?;
    let current = lock(&mut tx, tenant_id, group_id).await?;
    // A database's security group rule names the group's security group: the database lets
    // go of it first. (Database writes lock the groups they allow `for share`, so this check
    // and a change allowing the group do not pass each other.)
    let allowing: Vec<String> = sqlx::query_scalar(
        "select name from resource
         where tenant_id = $1 and kind = 'database' and status <> 'deleted'
           and coalesce(spec->'allowed_groups', '[]'::jsonb) @> jsonb_build_array($2::text)
         order by name",
    )
    .bind(tenant_id)
    .bind(group_id.to_string())
    .fetch_all(&mut *tx)
    .await?;
    if !allowing.is_empty() {
        return Err(AppError::Conflict {
            field: None,
            message: format!(
                "Instance group {} is allowed to connect to {} {}: remove it from their allowed groups first.",
                current.name,
                if allowing.len() == 1 { "database" } else { "databases" },
                allowing.join(", ")
            ),
        });
    }
    let rows = live_rows_in(&mut tx, group_id).await?;
    let mut by_zone: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &rows {
        by_zone
            .entry(r.availability_zone.clone())
            .or_default()
            .push(
                r.provider_id
                    .clone()
                    .unwrap_or_else(|| "(launching)".into()),
            );
    }
    let mut provider_changes: Vec<ProviderChange> = by_zone
        .iter()
        .map(|(az, ids)| ProviderChange {
            action: ChangeAction::Destroy,
            object: "instances".into(),
            detail: format!("{} in {az}: {}", ids.len(), ids.join(", ")),
        })
        .collect();
    let security_group: Option<Option<String>> =
        sqlx::query_scalar("select provider_id from provider_object where token = $1")
            .bind(super::security_group_token(group_id))
            .fetch_optional(&mut *tx)
            .await?;
    provider_changes.push(ProviderChange {
        action: ChangeAction::Destroy,
        object: "security group".into(),
        detail: match security_group.flatten() {
            Some(id) => format!("{id}, the group's own, once its instances are gone"),
            None => "the group's own (not created yet)".into(),
        },
    });
    let mut warnings = Vec::new();
    let protected: Vec<String> = rows
        .iter()
        .filter(|r| r.protected)
        .map(|r| {
            r.provider_id
                .clone()
                .unwrap_or_else(|| r.launch_token.clone())
        })
        .collect();
    if !protected.is_empty() {
        warnings.push(format!(
            "Protected instances are terminated too (protection only guards against scale-in): {}.",
            protected.join(", ")
        ));
    }
    let used = group_quota(&mut tx, tenant_id).await?;
    let before = (
        i64::from(current.reserved_instances),
        i64::from(current.reserved_vcpus),
    );
    let plan = Plan {
        action: PlanAction::Delete,
        kind: ResourceKind::InstanceGroup,
        name: current.name.clone(),
        diff: vec![change("name", Some(current.name.clone()), None)],
        provider_changes,
        quota: quota_lines(used, before, (0, 0)),
        cost: cost(
            &current.region,
            Some((&current.template.0, current.desired as u32)),
            None,
        ),
        warnings,
        fingerprint: fingerprint(&[
            "instance_group:delete",
            &group_id.to_string(),
            &current.generation.to_string(),
        ]),
    };
    if options.dry_run {
        return Ok(planned(plan));
    }
    options.check(&plan)?;
    crate::backend::resources::request_deletion(&mut tx, group_id).await?;
    let job_id = enqueue_reconcile(&mut tx, tenant_id, group_id).await?;
    let group = fetch(&mut tx, tenant_id, group_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::InstanceGroupDeleteRequested,
        &current.name,
        serde_json::json!({ "group_id": group_id, "job_id": job_id }),
    )
    .await?;
    Ok(applied(plan, group, job_id))
}

async fn live_rows_in(
    conn: &mut PgConnection,
    group_id: Uuid,
) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(
        "select instance_row_id, availability_zone, launch_token, launch_index, revision,
                provider_id, state, health, protected, launched_at, instance_status, system_status
         from instance where resource_id = $1 and state <> 'terminated'
         order by availability_zone, launched_at, launch_index",
    )
    .bind(group_id)
    .fetch_all(conn)
    .await
}

/// The tenant's groups, ordered by name.
pub async fn list(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    after_name: Option<&str>,
    limit: i64,
) -> Result<Vec<GroupView>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewResources).await?;
    let mut conn = db.acquire().await?;
    views(&mut conn, tenant_id, None, after_name, limit.clamp(1, 500)).await
}

pub async fn get(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    group_id: Uuid,
) -> Result<GroupView, AppError> {
    authorize(db, actor, tenant_id, Action::ViewResources).await?;
    let mut conn = db.acquire().await?;
    fetch(&mut conn, tenant_id, group_id).await
}

async fn fetch(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    group_id: Uuid,
) -> Result<GroupView, AppError> {
    views(conn, tenant_id, Some(group_id), None, 1)
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

#[derive(sqlx::FromRow)]
struct ViewRow {
    group_id: Uuid,
    tenant_id: Uuid,
    name: String,
    cloud_account_id: Uuid,
    cloud_account_name: String,
    region: String,
    spec: Json<GroupSpecDoc>,
    status: ResourceStatus,
    generation: i64,
    observed_generation: i64,
    conditions: Json<Vec<Condition>>,
    outputs: serde_json::Value,
    last_error: Option<String>,
    deletion_requested_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    revision: i64,
    min_size: i32,
    max_size: i32,
    desired: i32,
    desired_source: String,
    desired_set_by: Option<String>,
    desired_set_at: OffsetDateTime,
    template: Json<GroupTemplate>,
    security_group_id: Option<String>,
}

async fn views(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    group_id: Option<Uuid>,
    after_name: Option<&str>,
    limit: i64,
) -> Result<Vec<GroupView>, AppError> {
    let rows: Vec<ViewRow> = sqlx::query_as(
        "select r.resource_id as group_id, r.tenant_id, r.name, r.cloud_account_id,
                c.name as cloud_account_name, c.region, r.spec, r.status, r.generation,
                r.observed_generation, r.conditions, r.outputs, r.last_error, r.deletion_requested_at,
                r.created_at, r.updated_at, g.revision, g.min_size, g.max_size, g.desired,
                g.desired_source, u.email as desired_set_by, g.desired_set_at, t.template,
                o.provider_id as security_group_id
         from resource r join instance_group g using (resource_id)
         join cloud_account c on c.cloud_account_id = r.cloud_account_id
         join instance_group_template t on t.resource_id = r.resource_id and t.revision = g.revision
         left join app_user u on u.user_id = g.desired_set_by
         left join provider_object o on o.resource_id = r.resource_id and o.kind = 'security_group'
         where r.kind = 'instance_group' and r.tenant_id = $1 and r.status <> 'deleted'
           and ($2::uuid is null or r.resource_id = $2) and ($3::text is null or r.name > $3)
         order by r.name limit $4",
    )
    .bind(tenant_id)
    .bind(group_id)
    .bind(after_name)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.group_id).collect();
    let zones: Vec<(Uuid, Uuid, String, String)> = sqlx::query_as(
        "select u.resource_id, z.resource_id, zr.name, z.availability_zone
         from resource_zone u join zone z on z.resource_id = u.zone_id
         join resource zr on zr.resource_id = z.resource_id
         where u.resource_id = any($1)",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let counts: Vec<(Uuid, String, i64, i64)> = sqlx::query_as(
        "select resource_id, availability_zone, count(*) filter (where state = 'running'), count(*)
         from instance where resource_id = any($1) and state not in ('terminated', 'shutting_down')
         group by resource_id, availability_zone",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let planned: Vec<ZonePlan> = r
                .outputs
                .get("zones")
                .and_then(|z| serde_json::from_value(z.clone()).ok())
                .unwrap_or_default();
            let waiting: Vec<String> = r
                .outputs
                .get("waiting")
                .and_then(|z| serde_json::from_value(z.clone()).ok())
                .unwrap_or_default();
            let mut mine: Vec<&(Uuid, Uuid, String, String)> =
                zones.iter().filter(|z| z.0 == r.group_id).collect();
            // The spec's order first; zones being left after.
            mine.sort_by_key(|z| {
                r.spec
                    .0
                    .zone_ids
                    .iter()
                    .position(|id| *id == z.1)
                    .unwrap_or(usize::MAX)
            });
            let zone_views: Vec<GroupZone> = mine
                .into_iter()
                .map(|(_, zone_id, name, az)| {
                    let (running, current) = counts
                        .iter()
                        .find(|c| c.0 == r.group_id && c.1 == *az)
                        .map(|c| (c.2 as u32, c.3 as u32))
                        .unwrap_or((0, 0));
                    let plan = planned.iter().find(|p| p.zone == *az);
                    GroupZone {
                        zone_id: *zone_id,
                        name: name.clone(),
                        availability_zone: az.clone(),
                        running,
                        current,
                        target: plan.map_or(0, |p| p.target),
                        capacity_failure: plan.and_then(|p| p.capacity_failure.clone()),
                    }
                })
                .collect();
            let running = counts
                .iter()
                .filter(|c| c.0 == r.group_id)
                .map(|c| c.2 as u32)
                .sum();
            GroupView {
                group_id: r.group_id,
                tenant_id: r.tenant_id,
                name: r.name,
                cloud_account_id: r.cloud_account_id,
                cloud_account_name: r.cloud_account_name,
                region: r.region,
                zones: zone_views,
                template: r.template.0,
                revision: r.revision,
                min: r.min_size as u32,
                max: r.max_size as u32,
                desired: r.desired as u32,
                desired_set_by: if r.desired_source == "autoscaler" {
                    Some("autoscaler".into())
                } else {
                    r.desired_set_by
                },
                desired_set_at: r.desired_set_at,
                policy: r.spec.0.policy,
                running,
                status: r.status,
                generation: r.generation,
                observed_generation: r.observed_generation,
                conditions: r.conditions.0,
                waiting,
                security_group_id: r.security_group_id,
                last_error: r.last_error,
                deletion_requested_at: r.deletion_requested_at,
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct InstanceViewRow {
    instance_row_id: Uuid,
    provider_id: Option<String>,
    availability_zone: String,
    revision: i64,
    state: String,
    health: String,
    protected: bool,
    launched_at: OffsetDateTime,
    instance_status: Option<String>,
    system_status: Option<String>,
}

impl From<InstanceViewRow> for InstanceView {
    fn from(r: InstanceViewRow) -> Self {
        let observed = InstanceRow {
            instance_row_id: r.instance_row_id,
            availability_zone: r.availability_zone.clone(),
            launch_token: String::new(),
            launch_index: 0,
            revision: r.revision,
            provider_id: r.provider_id.clone(),
            state: r.state,
            health: r.health,
            protected: r.protected,
            launched_at: r.launched_at,
            instance_status: r.instance_status,
            system_status: r.system_status,
        }
        .observed();
        InstanceView {
            instance_id: r.instance_row_id,
            provider_id: r.provider_id,
            availability_zone: r.availability_zone,
            revision: r.revision,
            state: observed.state,
            health: observed.health,
            checks: observed.checks,
            protected: r.protected,
            launched_at: r.launched_at,
        }
    }
}

const INSTANCE_COLUMNS: &str = "instance_row_id, provider_id, availability_zone, revision, state, health, protected, launched_at, instance_status, system_status";

/// The group's instances that are not terminated, ordered by Stratus's instance id.
pub async fn list_instances(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    group_id: Uuid,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<InstanceView>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewResources).await?;
    let exists: bool = sqlx::query_scalar(
        "select exists (select 1 from resource where resource_id = $1 and tenant_id = $2 and kind = 'instance_group' and status <> 'deleted')",
    )
    .bind(group_id)
    .bind(tenant_id)
    .fetch_one(db)
    .await?;
    if !exists {
        return Err(AppError::NotFound);
    }
    let rows: Vec<InstanceViewRow> = sqlx::query_as(&format!(
        "select {INSTANCE_COLUMNS} from instance
         where resource_id = $1 and state <> 'terminated' and ($2::uuid is null or instance_row_id > $2)
         order by instance_row_id limit $3"
    ))
    .bind(group_id)
    .bind(after)
    .bind(limit.clamp(1, 500))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(InstanceView::from).collect())
}

/// Protects an instance from scale-in, or unprotects it. `instance` is the provider's id
/// (`i-…`) or Stratus's instance id.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant_id, group_id = %group_id))]
pub async fn set_protection(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    group_id: Uuid,
    instance: &str,
    patch: InstancePatch,
) -> Result<InstanceView, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let mut tx = db.begin().await?;
    let current = lock(&mut tx, tenant_id, group_id).await?;
    if current.deletion_requested_at.is_some() {
        return Err(AppError::Conflict {
            field: None,
            message: format!("Instance group {} is being deleted.", current.name),
        });
    }
    let row_id = instance.parse::<Uuid>().ok();
    let row: Option<InstanceViewRow> = sqlx::query_as(&format!(
        "update instance set protected = $4
         where resource_id = $1 and state <> 'terminated'
           and (instance_row_id = $2 or provider_id = $3)
         returning {INSTANCE_COLUMNS}"
    ))
    .bind(group_id)
    .bind(row_id)
    .bind(instance)
    .bind(patch.protected)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = row else {
        return Err(AppError::NotFound);
    };
    let view = InstanceView::from(row);
    // Unprotecting may unblock a scale-in: reconcile now.
    let job_id = enqueue_reconcile(&mut tx, tenant_id, group_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::InstanceProtectionChanged,
        view.provider_id
            .as_deref()
            .unwrap_or(&view.instance_id.to_string()),
        serde_json::json!({
            "group_id": group_id, "group": current.name, "instance_id": view.instance_id,
            "protected": patch.protected, "job_id": job_id,
        }),
    )
    .await?;
    Ok(view)
}

fn planned(plan: Plan) -> GroupChange {
    GroupChange {
        plan,
        dry_run: true,
        group: None,
        job_id: None,
    }
}

fn applied(plan: Plan, group: GroupView, job_id: i64) -> GroupChange {
    GroupChange {
        plan,
        dry_run: false,
        group: Some(group),
        job_id: Some(job_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_checked_and_an_omitted_desired_is_never_reset() {
        let mut c = Checks::default();
        check_sizes(&mut c, 2, 5, 3, true);
        assert!(c.finish().is_ok());
        let mut c = Checks::default();
        check_sizes(&mut c, 2, 5, 7, true);
        let e = c.finish().unwrap_err();
        assert!(e.field_message("desired").is_some(), "{e:?}");
        // A change lowering max below the kept desired is refused on max, not clamped.
        let mut c = Checks::default();
        check_sizes(&mut c, 0, 5, 7, false);
        let e = c.finish().unwrap_err();
        assert!(
            e.field_message("max").unwrap().contains("desired (7)"),
            "{e:?}"
        );
        let mut c = Checks::default();
        check_sizes(&mut c, 6, 5, 5, true);
        assert!(c.finish().unwrap_err().field_message("max").is_some());
    }

    #[test]
    fn templates_are_checked_field_by_field() {
        let mut c = Checks::default();
        check_template(
            &mut c,
            &GroupTemplate {
                instance_type: "x9.huge".into(),
                image_id: "not-an-image".into(),
                user_data: None,
                tags: [("stratus:mine".to_string(), "x".to_string())].into(),
            },
        );
        let e = c.finish().unwrap_err();
        for f in [
            "template.instance_type",
            "template.image_id",
            "template.tags",
        ] {
            assert!(e.field_message(f).is_some(), "{f}: {e:?}");
        }
        let mut c = Checks::default();
        check_template(
            &mut c,
            &GroupTemplate {
                instance_type: "t3.micro".into(),
                image_id: "ami-12c6146b".into(),
                user_data: Some("#!/bin/sh\n".into()),
                tags: [("team".to_string(), "web".to_string())].into(),
            },
        );
        assert!(c.finish().is_ok());
    }
}
