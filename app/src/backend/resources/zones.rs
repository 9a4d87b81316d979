//! Zones: where a tenant's things run. One cloud account, its region, one availability zone of
//! that region, and the network Stratus makes there: the tenant's VPC in that account and region
//! (made by its first zone, shared by the later ones, removed with the last), and per zone a
//! subnet (/20 of the VPC's /16) and a security group.

use super::{enqueue_reconcile, fingerprint, WriteOptions};
use crate::backend::audit;
use crate::backend::identity::actor::Actor;
use crate::error::AppError;
use crate::model::resources::{
    ChangeAction, CostChange, FieldChange, NewZone, Plan, PlanAction, ProviderChange, QuotaImpact,
    ResourceKind, SurveyedZone, ZoneChange, ZonePatch, ZoneView,
};
use crate::model::AuditAction;
use crate::rbac::{authorize, Action};
use crate::validate::Checks;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use std::net::Ipv4Addr;
use uuid::Uuid;

/// What is stored as the zone resource's `spec`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ZoneSpec {
    pub availability_zone: String,
}

const SELECT: &str = "select r.resource_id as zone_id, r.tenant_id, r.name, r.cloud_account_id,
        c.name as cloud_account_name, c.region, z.availability_zone, n.cidr::text as network_cidr,
        z.subnet_cidr::text as subnet_cidr, r.status, r.generation, r.observed_generation, r.conditions,
        r.outputs->>'vpc_id' as vpc_id, r.outputs->>'subnet_id' as subnet_id,
        r.outputs->>'security_group_id' as security_group_id, r.last_error,
        r.deletion_requested_at, r.created_at, r.updated_at
    from resource r
    join zone z using (resource_id)
    join zone_network n on n.network_id = z.network_id
    join cloud_account c on c.cloud_account_id = r.cloud_account_id
    where r.kind = 'zone'";

/// Zone names: lowercase letters, digits and hyphens, starting with a letter (a DNS label).
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = (2..=63).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err("Use 2–63 lowercase letters, digits and hyphens, starting with a letter.".into())
    }
}

/// An availability zone of `region`: the region's name and one letter (`us-east-1a`). AWS
/// refuses a foreign zone; the sandbox would accept it, so Stratus checks itself.
pub fn check_availability_zone(region: &str, zone: &str) -> Result<(), String> {
    let ok = zone
        .strip_prefix(region)
        .is_some_and(|rest| rest.len() == 1 && rest.chars().all(|c| c.is_ascii_lowercase()));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Choose an availability zone of {region} (such as {region}a)."
        ))
    }
}

/// A private IPv4 /16 (RFC 1918), written `a.b.0.0/16`.
pub fn check_network_cidr(cidr: &str) -> Result<(Ipv4Addr, u8), String> {
    let bad = || "Use a private /16 such as 10.20.0.0/16.".to_string();
    let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    let o = addr.octets();
    if len != 16 || o[2] != 0 || o[3] != 0 || !addr.is_private() {
        return Err(bad());
    }
    Ok((addr, len))
}

pub async fn list(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    after_name: Option<&str>,
    limit: i64,
) -> Result<Vec<ZoneView>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewResources).await?;
    Ok(sqlx::query_as(&format!(
        "{SELECT} and r.tenant_id = $1 and r.status <> 'deleted' and ($2::text is null or r.name > $2)
         order by r.name limit $3"
    ))
    .bind(tenant_id)
    .bind(after_name)
    .bind(limit.clamp(1, 500))
    .fetch_all(db)
    .await?)
}

pub async fn get(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    zone_id: Uuid,
) -> Result<ZoneView, AppError> {
    authorize(db, actor, tenant_id, Action::ViewResources).await?;
    fetch(db, tenant_id, zone_id).await
}

async fn fetch(
    conn: impl sqlx::PgExecutor<'_>,
    tenant_id: Uuid,
    zone_id: Uuid,
) -> Result<ZoneView, AppError> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} and r.tenant_id = $1 and r.resource_id = $2 and r.status <> 'deleted'"
    ))
    .bind(tenant_id)
    .bind(zone_id)
    .fetch_one(conn)
    .await?)
}

/// The availability zones the tenant's cloud accounts' surveys found.
pub async fn surveyed_zones(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
) -> Result<Vec<SurveyedZone>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewResources).await?;
    Ok(sqlx::query_as(
        "select s.cloud_account_id, s.availability_zone, s.instance_types
         from cloud_account_zone s join cloud_account c using (cloud_account_id)
         where c.tenant_id = $1 order by s.cloud_account_id, s.availability_zone",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// Locks the tenant's row (creates in one tenant queue here, so the last unit of quota goes to
/// exactly one of them) and counts its zones against the quota.
async fn zone_quota(conn: &mut PgConnection, tenant_id: Uuid) -> Result<(i64, i64), AppError> {
    let limit = super::lock_quotas(conn, tenant_id).await?.max_zones;
    let used: i64 = sqlx::query_scalar(
        "select count(*) from resource where tenant_id = $1 and kind = 'zone' and status <> 'deleted'",
    )
    .bind(tenant_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((used, i64::from(limit)))
}

fn no_cost(note: &str) -> CostChange {
    CostChange {
        monthly_before_cents: 0,
        monthly_after_cents: 0,
        currency: "USD".into(),
        price_list: super::prices::LIST_NAME.into(),
        note: note.into(),
    }
}

const NETWORK_COST_NOTE: &str = "VPCs, subnets and security groups have no charge at AWS.";

struct NetworkChoice {
    network_id: Option<Uuid>,
    cidr: String,
    vpc_id: Option<String>,
}

/// The tenant's network in this account and region (locked), or the CIDR a new one would get.
async fn choose_network(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
    region: &str,
    requested: Option<&str>,
    warnings: &mut Vec<String>,
) -> Result<NetworkChoice, AppError> {
    let existing: Option<(Uuid, String)> = sqlx::query_as(
        "select network_id, cidr::text from zone_network
         where tenant_id = $1 and cloud_account_id = $2 and region = $3 for update",
    )
    .bind(tenant_id)
    .bind(cloud_account_id)
    .bind(region)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((network_id, cidr)) = existing {
        if requested.is_some_and(|r| r != cidr) {
            warnings.push(format!(
                "The tenant's network in {region} already uses {cidr}: network_cidr is ignored."
            ));
        }
        let vpc_id: Option<String> = sqlx::query_scalar(
            "select provider_id from provider_object where network_id = $1 and kind = 'vpc'",
        )
        .bind(network_id)
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
        return Ok(NetworkChoice {
            network_id: Some(network_id),
            cidr,
            vpc_id,
        });
    }
    let taken: Vec<String> =
        sqlx::query_scalar("select cidr::text from zone_network where tenant_id = $1")
            .bind(tenant_id)
            .fetch_all(&mut *conn)
            .await?;
    let cidr = match requested {
        Some(cidr) => {
            if taken.iter().any(|t| t == cidr) {
                return Err(AppError::conflict(
                    "network_cidr",
                    format!("{cidr} is already used by another of the tenant's networks."),
                ));
            }
            cidr.to_string()
        }
        None => (0..=255u8)
            .map(|n| format!("10.{n}.0.0/16"))
            .find(|c| !taken.contains(c))
            .ok_or_else(|| {
                AppError::conflict(
                    "network_cidr",
                    "Every 10.N.0.0/16 is taken: give a network CIDR.",
                )
            })?,
    };
    Ok(NetworkChoice {
        network_id: None,
        cidr,
        vpc_id: None,
    })
}

/// The first free /20 of the network's /16.
async fn choose_subnet(
    conn: &mut PgConnection,
    network: &NetworkChoice,
) -> Result<String, AppError> {
    let taken: Vec<String> = match network.network_id {
        Some(id) => {
            sqlx::query_scalar("select subnet_cidr::text from zone where network_id = $1")
                .bind(id)
                .fetch_all(&mut *conn)
                .await?
        }
        None => Vec::new(),
    };
    let (base, _) =
        check_network_cidr(&network.cidr).map_err(|m| AppError::invalid("network_cidr", m))?;
    let o = base.octets();
    (0..16u8)
        .map(|i| format!("{}.{}.{}.0/20", o[0], o[1], i * 16))
        .find(|c| !taken.contains(c))
        .ok_or_else(|| AppError::Conflict {
            field: None,
            message: format!(
                "The network {} has no free /20 left for another zone.",
                network.cidr
            ),
        })
}

/// Creates a zone (or, with `dry_run`, returns only its plan).
pub async fn create(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    input: NewZone,
    options: WriteOptions,
) -> Result<ZoneChange, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let name = input.name.trim().to_string();
    let availability_zone = input.availability_zone.trim().to_string();
    let requested_cidr = input
        .network_cidr
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let mut checks = Checks::default();
    checks.check("name", check_name(&name));
    if let Some(cidr) = &requested_cidr {
        checks.check("network_cidr", check_network_cidr(cidr).map(|_| ()));
    }
    checks.finish()?;

    let mut tx = db.begin().await?;
    let (used, limit) = zone_quota(&mut tx, tenant_id).await?;
    let account: Option<(String, String)> = sqlx::query_as(
        "select name, region from cloud_account where cloud_account_id = $1 and tenant_id = $2",
    )
    .bind(input.cloud_account_id)
    .bind(tenant_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((account_name, region)) = account else {
        return Err(AppError::invalid(
            "cloud_account_id",
            "Choose one of the tenant's cloud accounts.",
        ));
    };
    let mut checks = Checks::default();
    checks.check(
        "availability_zone",
        check_availability_zone(&region, &availability_zone),
    );
    checks.finish()?;
    let surveyed: Vec<String> = sqlx::query_scalar(
        "select availability_zone from cloud_account_zone where cloud_account_id = $1",
    )
    .bind(input.cloud_account_id)
    .fetch_all(&mut *tx)
    .await?;
    if !surveyed.is_empty() && !surveyed.contains(&availability_zone) {
        return Err(AppError::invalid(
            "availability_zone",
            format!(
                "The account's zone survey did not find {availability_zone}; it offers {}.",
                surveyed.join(", ")
            ),
        ));
    }
    let taken: bool = sqlx::query_scalar(
        "select exists (select 1 from resource where tenant_id = $1 and kind = 'zone' and name = $2 and status <> 'deleted')",
    )
    .bind(tenant_id)
    .bind(&name)
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(AppError::conflict(
            "name",
            format!("The tenant already has a zone named {name}."),
        ));
    }
    let mut warnings = Vec::new();
    let network = choose_network(
        &mut tx,
        tenant_id,
        input.cloud_account_id,
        &region,
        requested_cidr.as_deref(),
        &mut warnings,
    )
    .await?;
    let subnet_cidr = choose_subnet(&mut tx, &network).await?;
    if surveyed.is_empty() {
        warnings.push(
            "This cloud account has not been surveyed: the zone name was only checked against the region."
                .into(),
        );
    }

    let mut provider_changes = vec![match &network.vpc_id {
        Some(vpc) => ProviderChange {
            action: ChangeAction::Keep,
            object: "VPC".into(),
            detail: format!(
                "{vpc} ({}), shared with the tenant's other zones in {region}",
                network.cidr
            ),
        },
        None => ProviderChange {
            action: if network.network_id.is_some() {
                ChangeAction::Keep
            } else {
                ChangeAction::Create
            },
            object: "VPC".into(),
            detail: format!("{} in {region}", network.cidr),
        },
    }];
    provider_changes.push(ProviderChange {
        action: ChangeAction::Create,
        object: "subnet".into(),
        detail: format!("{subnet_cidr} in {availability_zone}"),
    });
    provider_changes.push(ProviderChange {
        action: ChangeAction::Create,
        object: "security group".into(),
        detail: format!("for zone {name}"),
    });
    let quota = vec![QuotaImpact {
        quota: "zones".into(),
        used_before: used,
        used_after: used + 1,
        limit,
    }];
    let plan = Plan {
        action: PlanAction::Create,
        kind: ResourceKind::Zone,
        name: name.clone(),
        diff: vec![
            change("name", None, Some(&name)),
            change("cloud_account", None, Some(&account_name)),
            change("region", None, Some(&region)),
            change("availability_zone", None, Some(&availability_zone)),
            change("network_cidr", None, Some(&network.cidr)),
            change("subnet_cidr", None, Some(&subnet_cidr)),
        ],
        fingerprint: fingerprint(&[
            "zone:create",
            &tenant_id.to_string(),
            &name,
            &input.cloud_account_id.to_string(),
            &availability_zone,
            &network.cidr,
            &subnet_cidr,
            &network
                .network_id
                .map(|n| n.to_string())
                .unwrap_or_default(),
        ]),
        provider_changes,
        quota,
        cost: no_cost(NETWORK_COST_NOTE),
        warnings,
    };
    if options.dry_run {
        return Ok(planned(plan));
    }
    options.check(&plan)?;
    refuse_over_quota(&plan)?;

    let network_id = match network.network_id {
        Some(id) => id,
        None => sqlx::query_scalar(
            "insert into zone_network (tenant_id, cloud_account_id, region, cidr) values ($1, $2, $3, $4::cidr) returning network_id",
        )
        .bind(tenant_id)
        .bind(input.cloud_account_id)
        .bind(&region)
        .bind(&network.cidr)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if crate::backend::violates(&e, "zone_network_tenant_cidr_key") {
                AppError::conflict("network_cidr", format!("{} is already used by another of the tenant's networks.", network.cidr))
            } else {
                e.into()
            }
        })?,
    };
    let spec = ZoneSpec {
        availability_zone: availability_zone.clone(),
    };
    let zone_id: Uuid = sqlx::query_scalar(
        "insert into resource (tenant_id, kind, name, cloud_account_id, spec) values ($1, 'zone', $2, $3, $4) returning resource_id",
    )
    .bind(tenant_id)
    .bind(&name)
    .bind(input.cloud_account_id)
    .bind(sqlx::types::Json(&spec))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "insert into zone (resource_id, network_id, availability_zone, subnet_cidr) values ($1, $2, $3, $4::cidr)",
    )
    .bind(zone_id)
    .bind(network_id)
    .bind(&availability_zone)
    .bind(&subnet_cidr)
    .execute(&mut *tx)
    .await?;
    let job_id = enqueue_reconcile(&mut tx, tenant_id, zone_id).await?;
    let zone = fetch(&mut *tx, tenant_id, zone_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::ZoneCreated,
        &name,
        serde_json::json!({
            "zone_id": zone_id, "cloud_account_id": input.cloud_account_id,
            "availability_zone": availability_zone, "subnet_cidr": subnet_cidr, "job_id": job_id,
        }),
    )
    .await?;
    Ok(applied(plan, zone, job_id))
}

/// Renames a zone (its cloud objects' `Name` tags follow).
pub async fn update(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    zone_id: Uuid,
    patch: ZonePatch,
    options: WriteOptions,
) -> Result<ZoneChange, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let new_name = patch.name.as_deref().map(str::trim).map(str::to_string);
    if let Some(name) = &new_name {
        let mut checks = Checks::default();
        checks.check("name", check_name(name));
        checks.finish()?;
    }
    let mut tx = db.begin().await?;
    let current = lock(&mut tx, tenant_id, zone_id).await?;
    if current.deletion_requested_at.is_some() {
        return Err(AppError::Conflict {
            field: None,
            message: format!("Zone {} is being deleted.", current.name),
        });
    }
    let rename = new_name.filter(|n| *n != current.name);
    if let Some(name) = &rename {
        let taken: bool = sqlx::query_scalar(
            "select exists (select 1 from resource where tenant_id = $1 and kind = 'zone' and name = $2 and status <> 'deleted')",
        )
        .bind(tenant_id)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        if taken {
            return Err(AppError::conflict(
                "name",
                format!("The tenant already has a zone named {name}."),
            ));
        }
    }
    let mut provider_changes = Vec::new();
    let mut diff = Vec::new();
    if let Some(name) = &rename {
        diff.push(change("name", Some(&current.name), Some(name)));
        for (object, id) in [
            ("subnet", &current.subnet_id),
            ("security group", &current.security_group_id),
        ] {
            provider_changes.push(ProviderChange {
                action: ChangeAction::Update,
                object: object.into(),
                detail: format!("{}: Name tag", id.as_deref().unwrap_or("(not created yet)")),
            });
        }
    }
    let plan = Plan {
        action: PlanAction::Update,
        kind: ResourceKind::Zone,
        name: rename.clone().unwrap_or_else(|| current.name.clone()),
        diff,
        provider_changes,
        quota: Vec::new(),
        cost: no_cost(NETWORK_COST_NOTE),
        warnings: Vec::new(),
        fingerprint: fingerprint(&[
            "zone:update",
            &zone_id.to_string(),
            &current.generation.to_string(),
            rename.as_deref().unwrap_or(""),
        ]),
    };
    if options.dry_run {
        return Ok(planned(plan));
    }
    options.check(&plan)?;
    let Some(name) = rename else {
        // Nothing to change: no new generation, no job.
        return Ok(ZoneChange {
            plan,
            dry_run: false,
            zone: Some(current),
            job_id: None,
        });
    };
    sqlx::query(
        "update resource set name = $2, generation = generation + 1,
             status = case when status in ('ready', 'failed') then 'updating'::resource_status else status end
         where resource_id = $1",
    )
    .bind(zone_id)
    .bind(&name)
    .execute(&mut *tx)
    .await?;
    let job_id = enqueue_reconcile(&mut tx, tenant_id, zone_id).await?;
    let zone = fetch(&mut *tx, tenant_id, zone_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::ZoneChanged,
        &name,
        serde_json::json!({ "zone_id": zone_id, "name": { "old": current.name, "new": name }, "job_id": job_id }),
    )
    .await?;
    Ok(applied(plan, zone, job_id))
}

/// Asks for a zone's deletion: refused (409) while instance groups or databases use it.
pub async fn delete(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    zone_id: Uuid,
    options: WriteOptions,
) -> Result<ZoneChange, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let mut tx = db.begin().await?;
    let current = lock(&mut tx, tenant_id, zone_id).await?;
    let users: Vec<(String, String)> = sqlx::query_as(
        "select r.kind::text, r.name from resource_zone u join resource r using (resource_id)
         where u.zone_id = $1 and r.status <> 'deleted' order by r.kind, r.name",
    )
    .bind(zone_id)
    .fetch_all(&mut *tx)
    .await?;
    if !users.is_empty() {
        let names: Vec<String> = users
            .iter()
            .map(|(kind, name)| format!("{} {name}", kind.replace('_', " ")))
            .collect();
        return Err(AppError::Conflict {
            field: None,
            message: format!(
                "Zone {} is used by {}: delete or move them first.",
                current.name,
                names.join(", ")
            ),
        });
    }
    let (used, limit) = zone_quota(&mut tx, tenant_id).await?;
    let last_in_network: bool = sqlx::query_scalar(
        "select not exists (select 1 from zone z join resource r using (resource_id)
             where z.network_id = (select network_id from zone where resource_id = $1)
               and z.resource_id <> $1 and r.status <> 'deleted')",
    )
    .bind(zone_id)
    .fetch_one(&mut *tx)
    .await?;
    let id_or = |id: &Option<String>, what: &str| {
        id.clone()
            .unwrap_or_else(|| format!("{what} (not created yet)"))
    };
    let mut provider_changes = vec![
        ProviderChange {
            action: ChangeAction::Destroy,
            object: "security group".into(),
            detail: id_or(&current.security_group_id, "security group"),
        },
        ProviderChange {
            action: ChangeAction::Destroy,
            object: "subnet".into(),
            detail: format!(
                "{} ({})",
                id_or(&current.subnet_id, "subnet"),
                current.subnet_cidr
            ),
        },
    ];
    provider_changes.push(ProviderChange {
        action: if last_in_network {
            ChangeAction::Destroy
        } else {
            ChangeAction::Keep
        },
        object: "VPC".into(),
        detail: if last_in_network {
            format!(
                "{} ({}): the tenant's last zone in {}",
                id_or(&current.vpc_id, "VPC"),
                current.network_cidr,
                current.region
            )
        } else {
            format!(
                "{} ({}): other zones still use it",
                id_or(&current.vpc_id, "VPC"),
                current.network_cidr
            )
        },
    });
    let plan = Plan {
        action: PlanAction::Delete,
        kind: ResourceKind::Zone,
        name: current.name.clone(),
        diff: vec![change("name", Some(&current.name), None)],
        provider_changes,
        quota: vec![QuotaImpact {
            quota: "zones".into(),
            used_before: used,
            used_after: used - 1,
            limit,
        }],
        cost: no_cost(NETWORK_COST_NOTE),
        warnings: Vec::new(),
        fingerprint: fingerprint(&[
            "zone:delete",
            &zone_id.to_string(),
            &current.generation.to_string(),
            &last_in_network.to_string(),
        ]),
    };
    if options.dry_run {
        return Ok(planned(plan));
    }
    options.check(&plan)?;
    super::request_deletion(&mut tx, zone_id).await?;
    let job_id = enqueue_reconcile(&mut tx, tenant_id, zone_id).await?;
    let zone = fetch(&mut *tx, tenant_id, zone_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::ZoneDeleteRequested,
        &current.name,
        serde_json::json!({ "zone_id": zone_id, "job_id": job_id }),
    )
    .await?;
    Ok(applied(plan, zone, job_id))
}

/// The zone, its resource row locked for this transaction.
async fn lock(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    zone_id: Uuid,
) -> Result<ZoneView, AppError> {
    let _: Uuid = sqlx::query_scalar(
        "select resource_id from resource where resource_id = $1 and tenant_id = $2 and kind = 'zone' and status <> 'deleted' for update",
    )
    .bind(zone_id)
    .bind(tenant_id)
    .fetch_one(&mut *conn)
    .await?;
    fetch(&mut *conn, tenant_id, zone_id).await
}

fn refuse_over_quota(plan: &Plan) -> Result<(), AppError> {
    match plan.quota.iter().find(|q| q.exceeded()) {
        Some(q) => Err(AppError::QuotaExceeded(format!(
            "The tenant's {} quota is {}, and {} are in use. Ask a platform admin to raise it.",
            q.quota, q.limit, q.used_before
        ))),
        None => Ok(()),
    }
}

fn change(field: &str, old: Option<&str>, new: Option<&str>) -> FieldChange {
    FieldChange {
        field: field.into(),
        old: old.map(str::to_string),
        new: new.map(str::to_string),
    }
}

fn planned(plan: Plan) -> ZoneChange {
    ZoneChange {
        plan,
        dry_run: true,
        zone: None,
        job_id: None,
    }
}

fn applied(plan: Plan, zone: ZoneView, job_id: i64) -> ZoneChange {
    ZoneChange {
        plan,
        dry_run: false,
        zone: Some(zone),
        job_id: Some(job_id),
    }
}
