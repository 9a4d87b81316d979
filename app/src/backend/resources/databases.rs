//! Managed databases (issue 15, PROVISIONING.md §5): an RDS DB instance in one of the tenant's
//! zones, optionally with a standby in another (Multi-AZ), on a DB subnet group built from the
//! tenant's zones in that account and region (RDS needs two zones or more), behind a security
//! group of its own. Stratus generates the master password and keeps it as an
//! envelope-encrypted secret; it never appears in a log, job payload, event, error or answer.
//!
//! Instance groups the tenant allows to connect (`allowed_groups`) each get an ingress rule in
//! the database's security group from the group's own security group on the engine's port, so
//! one group of a zone can reach the database and the others cannot.
//!
//! The write path is the zones' (authorize, validate, plan, one transaction), with the
//! database's own rules: deletion protection on by default (a protected database cannot be
//! deleted), a final snapshot by default, changes applied now or at the next maintenance window.

use super::{enqueue_reconcile, fingerprint, prices, WriteOptions};
use crate::backend::audit;
use crate::backend::identity::actor::Actor;
use crate::backend::secrets::{self, Keyring, PURPOSE_DATABASE_CREDENTIALS};
use crate::error::AppError;
use crate::model::resources::{
    AllowedGroup, ApplyAt, ChangeAction, Condition, CostChange, DatabaseChange, DatabaseDeletion,
    DatabasePatch, DatabaseView, FieldChange, NewDatabase, Plan, PlanAction, ProviderChange,
    QuotaImpact, ResourceKind, ResourceStatus,
};
use crate::model::AuditAction;
use crate::rbac::{authorize, Action};
use crate::validate::Checks;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool};
use time::OffsetDateTime;
use uuid::Uuid;

/// The engines and major versions Stratus offers, newest first. The same in every region of
/// the price list (a region without prices offers no databases).
pub const ENGINES: &[(&str, &[&str])] = &[
    ("postgres", &["17", "16", "15", "14"]),
    ("mysql", &["8.4", "8.0"]),
];
pub const MIN_STORAGE_GB: i32 = 20;
pub const MAX_STORAGE_GB: i32 = 16_384;
/// RDS's storage autoscaling ceiling.
pub const MAX_AUTOSCALE_GB: i32 = 65_536;
pub const DEFAULT_RETENTION_DAYS: i32 = 7;
pub const DEFAULT_BACKUP_WINDOW: &str = "03:00-03:30";
pub const DEFAULT_MAINTENANCE_WINDOW: &str = "sun:04:00-sun:04:30";
pub const MASTER_USERNAME: &str = "stratus";
/// At most this many instance groups per database: a security group holds 60 inbound rules.
pub const MAX_ALLOWED_GROUPS: usize = 50;
pub const STANDBY_NOTE: &str =
    "The standby is not readable; if the primary fails, RDS fails over to it in one to two minutes.";

/// What is stored as the database resource's `spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseSpec {
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub storage_gb: i32,
    pub max_storage_gb: Option<i32>,
    pub zone_id: Uuid,
    pub standby_zone_id: Option<Uuid>,
    /// The zones whose subnets form the DB subnet group (fixed at create).
    pub subnet_zone_ids: Vec<Uuid>,
    pub backup_retention_days: i32,
    pub backup_window: String,
    pub maintenance_window: String,
    pub deletion_protection: bool,
    /// Instance groups allowed to connect (sorted): each has an ingress rule from its own
    /// security group on the engine's port.
    #[serde(default)]
    pub allowed_groups: Vec<Uuid>,
    /// How the last change asked to be applied.
    #[serde(default)]
    pub apply: ApplyAt,
}

/// The port the engine listens on: what an allowed group's rule opens.
pub fn engine_port(engine: &str) -> i32 {
    match engine {
        "mysql" => 3306,
        _ => 5432,
    }
}

/// The DB instance identifier (and subnet group name) of a database: unique per resource, a
/// valid RDS identifier (a letter first, at most 63 characters).
pub fn identifier(database_id: Uuid) -> String {
    format!("stratus-{}", database_id.simple())
}

/// The final snapshot a delete takes.
pub fn final_snapshot_name(identifier: &str) -> String {
    format!("{identifier}-final")
}

/// The secret holding a database's master password.
pub fn secret_name(database_name: &str) -> String {
    format!("database/{database_name}/master-password")
}

/// A new master password: 32 letters and digits (RDS refuses `/`, `@`, `"` and spaces).
pub fn generate_password() -> SecretString {
    use rand::distributions::Alphanumeric;
    use rand::Rng;
    let value: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    SecretString::from(value)
}

pub fn check_engine(engine: &str) -> Result<&'static [&'static str], String> {
    ENGINES
        .iter()
        .find(|(e, _)| *e == engine)
        .map(|(_, versions)| *versions)
        .ok_or_else(|| "Choose postgres or mysql.".to_string())
}

pub fn check_storage(storage_gb: i32) -> Result<(), String> {
    if (MIN_STORAGE_GB..=MAX_STORAGE_GB).contains(&storage_gb) {
        Ok(())
    } else {
        Err(format!(
            "Use {MIN_STORAGE_GB}–{MAX_STORAGE_GB} GiB of storage."
        ))
    }
}

pub fn check_max_storage(storage_gb: i32, max: Option<i32>) -> Result<(), String> {
    match max {
        Some(max) if max < storage_gb || max > MAX_AUTOSCALE_GB => Err(format!(
            "The autoscaling ceiling must be between the storage ({storage_gb} GiB) and {MAX_AUTOSCALE_GB} GiB."
        )),
        _ => Ok(()),
    }
}

pub fn check_retention(days: i32) -> Result<(), String> {
    if (0..=35).contains(&days) {
        Ok(())
    } else {
        Err("Keep backups 0–35 days.".into())
    }
}

fn hh_mm(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn day_hh_mm(text: &str) -> Option<u32> {
    let (day, time) = text.split_once(':')?;
    let day = DAYS.iter().position(|d| *d == day)? as u32;
    Some(day * 24 * 60 + hh_mm(time)?)
}

/// Minutes of the day (start, end) of a backup window `hh:mm-hh:mm` (UTC, 30 minutes or more).
pub fn check_backup_window(window: &str) -> Result<(u32, u32), String> {
    let bad =
        || "Use hh:mm-hh:mm in UTC, at least 30 minutes long (such as 03:00-03:30).".to_string();
    let (a, b) = window.split_once('-').ok_or_else(bad)?;
    let (a, b) = (hh_mm(a).ok_or_else(bad)?, hh_mm(b).ok_or_else(bad)?);
    let length = (b + 24 * 60 - a) % (24 * 60);
    if length < 30 {
        return Err(bad());
    }
    Ok((a, b))
}

/// Minutes of the week (start, end) of a maintenance window `ddd:hh:mm-ddd:hh:mm`.
pub fn check_maintenance_window(window: &str) -> Result<(u32, u32), String> {
    let bad = || {
        "Use ddd:hh:mm-ddd:hh:mm in UTC, at least 30 minutes long (such as sun:04:00-sun:04:30)."
            .to_string()
    };
    let window = window.to_ascii_lowercase();
    let (a, b) = window.split_once('-').ok_or_else(bad)?;
    let (a, b) = (day_hh_mm(a).ok_or_else(bad)?, day_hh_mm(b).ok_or_else(bad)?);
    let week = 7 * 24 * 60;
    let length = (b + week - a) % week;
    if length < 30 {
        return Err(bad());
    }
    Ok((a, b))
}

/// RDS refuses a backup window that overlaps the maintenance window; say so before it does.
pub fn check_windows_apart(backup: (u32, u32), maintenance: (u32, u32)) -> Result<(), String> {
    let day = 24 * 60;
    let week = 7 * day;
    let (m_start, m_len) = (maintenance.0, (maintenance.1 + week - maintenance.0) % week);
    let b_len = (backup.1 + day - backup.0) % day;
    for d in 0..7 {
        let b_start = d * day + backup.0;
        // Two intervals on a circle of one week overlap when either starts inside the other.
        let inside = |start: u32, from: u32, len: u32| (start + week - from) % week < len;
        if inside(b_start, m_start, m_len) || inside(m_start, b_start, b_len) {
            return Err("The backup window overlaps the maintenance window.".into());
        }
    }
    Ok(())
}

/// Monthly cents of a database, if the price list has its class in its region.
pub fn monthly_cents(region: &str, spec: &DatabaseSpec) -> Option<i64> {
    prices::database_monthly_cents(
        region,
        &spec.instance_class,
        spec.storage_gb,
        spec.standby_zone_id.is_some(),
    )
}

#[derive(sqlx::FromRow)]
struct DatabaseRow {
    resource_id: Uuid,
    tenant_id: Uuid,
    name: String,
    cloud_account_id: Uuid,
    cloud_account_name: String,
    region: String,
    spec: Json<DatabaseSpec>,
    status: ResourceStatus,
    generation: i64,
    observed_generation: i64,
    conditions: Json<Vec<Condition>>,
    outputs: serde_json::Value,
    last_error: Option<String>,
    deletion_requested_at: Option<OffsetDateTime>,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    identifier: String,
    master_username: String,
    secret_id: Option<Uuid>,
    final_snapshot: Option<String>,
    zone_name: Option<String>,
    availability_zone: Option<String>,
    standby_zone_name: Option<String>,
    subnet_zones: Vec<String>,
    allowed_groups: Json<Vec<AllowedGroup>>,
}

const SELECT: &str = "select r.resource_id, r.tenant_id, r.name, r.cloud_account_id,
        c.name as cloud_account_name, c.region, r.spec, r.status, r.generation,
        r.observed_generation, r.conditions, r.outputs, r.last_error, r.deletion_requested_at,
        r.created_at, r.updated_at, d.identifier, d.master_username, d.secret_id, d.final_snapshot,
        (select zr.name from resource zr where zr.resource_id = (r.spec->>'zone_id')::uuid) as zone_name,
        (select z.availability_zone from zone z where z.resource_id = (r.spec->>'zone_id')::uuid) as availability_zone,
        (select zr.name from resource zr where zr.resource_id = (r.spec->>'standby_zone_id')::uuid) as standby_zone_name,
        array(select z.availability_zone from resource_zone u join zone z on z.resource_id = u.zone_id
              where u.resource_id = r.resource_id order by 1) as subnet_zones,
        (select coalesce(jsonb_agg(jsonb_build_object('group_id', g.resource_id, 'name', g.name,
                                                      'security_group_id', o.provider_id) order by g.name), '[]')
         from resource g
         left join provider_object o on o.resource_id = g.resource_id and o.kind = 'security_group'
         where g.tenant_id = r.tenant_id and g.kind = 'instance_group'
           and g.resource_id in (select jsonb_array_elements_text(coalesce(r.spec->'allowed_groups', '[]'))::uuid)
        ) as allowed_groups
    from resource r
    join managed_database d using (resource_id)
    join cloud_account c on c.cloud_account_id = r.cloud_account_id
    where r.kind = 'database'";

impl DatabaseRow {
    fn view(self) -> DatabaseView {
        let out = &self.outputs;
        let text = |key: &str| out.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let pending: Vec<FieldChange> = out
            .get("pending")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .unwrap_or_default();
        let spec = self.spec.0;
        DatabaseView {
            database_id: self.resource_id,
            tenant_id: self.tenant_id,
            name: self.name,
            cloud_account_id: self.cloud_account_id,
            cloud_account_name: self.cloud_account_name,
            region: self.region,
            engine: spec.engine,
            engine_version: spec.engine_version,
            instance_class: spec.instance_class,
            storage_gb: spec.storage_gb,
            max_storage_gb: spec.max_storage_gb,
            zone_id: spec.zone_id,
            zone_name: self.zone_name.unwrap_or_default(),
            availability_zone: self.availability_zone.unwrap_or_default(),
            standby_zone_id: spec.standby_zone_id,
            standby_zone_name: self.standby_zone_name,
            subnet_zones: self.subnet_zones,
            backup_retention_days: spec.backup_retention_days,
            backup_window: spec.backup_window,
            maintenance_window: spec.maintenance_window,
            deletion_protection: spec.deletion_protection,
            status: self.status,
            generation: self.generation,
            observed_generation: self.observed_generation,
            conditions: self.conditions.0,
            db_instance_id: self.identifier,
            provider_status: text("provider_status"),
            endpoint_host: text("endpoint_host"),
            endpoint_port: out
                .get("endpoint_port")
                .and_then(|v| v.as_i64())
                .map(|p| p as i32),
            security_group_id: text("security_group_id"),
            allowed_groups: self.allowed_groups.0,
            pending_changes: pending,
            master_username: self.master_username,
            credentials_secret_id: self.secret_id,
            final_snapshot: self.final_snapshot,
            last_error: self.last_error,
            deletion_requested_at: self.deletion_requested_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

pub async fn list(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    after_name: Option<&str>,
    limit: i64,
) -> Result<Vec<DatabaseView>, AppError> {
    authorize(db, actor, tenant_id, Action::ViewResources).await?;
    let rows: Vec<DatabaseRow> = sqlx::query_as(&format!(
        "{SELECT} and r.tenant_id = $1 and r.status <> 'deleted' and ($2::text is null or r.name > $2)
         order by r.name limit $3"
    ))
    .bind(tenant_id)
    .bind(after_name)
    .bind(limit.clamp(1, 500))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(DatabaseRow::view).collect())
}

pub async fn get(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    database_id: Uuid,
) -> Result<DatabaseView, AppError> {
    authorize(db, actor, tenant_id, Action::ViewResources).await?;
    fetch(db, tenant_id, database_id).await
}

async fn fetch(
    conn: impl sqlx::PgExecutor<'_>,
    tenant_id: Uuid,
    database_id: Uuid,
) -> Result<DatabaseView, AppError> {
    let row: DatabaseRow = sqlx::query_as(&format!(
        "{SELECT} and r.tenant_id = $1 and r.resource_id = $2 and r.status <> 'deleted'"
    ))
    .bind(tenant_id)
    .bind(database_id)
    .fetch_one(conn)
    .await?;
    Ok(row.view())
}

/// Locks the tenant's row (creates in one tenant queue here, so the last unit of quota goes to
/// exactly one) and counts its databases against the quota.
async fn database_quota(conn: &mut PgConnection, tenant_id: Uuid) -> Result<(i64, i64), AppError> {
    let limit = super::lock_quotas(conn, tenant_id).await?.max_databases;
    let used: i64 = sqlx::query_scalar(
        "select count(*) from resource where tenant_id = $1 and kind = 'database' and status <> 'deleted'",
    )
    .bind(tenant_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((used, i64::from(limit)))
}

/// One of the tenant's zones, as a database sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
struct ZoneChoice {
    zone_id: Uuid,
    name: String,
    cloud_account_id: Uuid,
    cloud_account_name: String,
    region: String,
    availability_zone: String,
}

async fn tenant_zones(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> Result<Vec<ZoneChoice>, AppError> {
    Ok(sqlx::query_as(
        "select r.resource_id as zone_id, r.name, r.cloud_account_id, c.name as cloud_account_name,
                c.region, z.availability_zone
         from resource r join zone z using (resource_id)
         join cloud_account c on c.cloud_account_id = r.cloud_account_id
         where r.tenant_id = $1 and r.kind = 'zone' and r.status <> 'deleted'
           and r.deletion_requested_at is null
         order by z.availability_zone, r.name",
    )
    .bind(tenant_id)
    .fetch_all(&mut *conn)
    .await?)
}

/// One of the tenant's instance groups, as a database's allowed group.
#[derive(Debug, Clone, sqlx::FromRow)]
struct GroupChoice {
    group_id: Uuid,
    name: String,
    cloud_account_id: Uuid,
    region: String,
    deleting: bool,
}

/// The tenant's live groups among `ids`, locked `for share`: a group's delete locks its row and
/// then refuses while a database allows it, so the two never pass each other.
async fn tenant_groups(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<GroupChoice>, AppError> {
    Ok(sqlx::query_as(
        "select r.resource_id as group_id, r.name, r.cloud_account_id, c.region,
                r.deletion_requested_at is not null as deleting
         from resource r join cloud_account c on c.cloud_account_id = r.cloud_account_id
         where r.tenant_id = $1 and r.resource_id = any($2) and r.kind = 'instance_group'
           and r.status <> 'deleted'
         for share of r",
    )
    .bind(tenant_id)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?)
}

/// The allowed groups: the tenant's (another tenant's group reads as unknown), live, in the
/// database's cloud account and region (so in its VPC), each once.
fn check_allowed_groups(
    requested: &[Uuid],
    found: &[GroupChoice],
    cloud_account_id: Uuid,
    region: &str,
) -> Result<(), String> {
    if requested.len() > MAX_ALLOWED_GROUPS {
        return Err(format!(
            "Allow at most {MAX_ALLOWED_GROUPS} instance groups (a security group holds 60 inbound rules)."
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for id in requested {
        let group = found.iter().find(|g| g.group_id == *id);
        if !seen.insert(id) {
            return Err(format!(
                "Instance group {} is listed twice.",
                group.map_or_else(|| id.to_string(), |g| g.name.clone())
            ));
        }
        match group {
            None => return Err(format!("{id} is not one of the tenant's instance groups.")),
            Some(g) if g.deleting => {
                return Err(format!("Instance group {} is being deleted.", g.name))
            }
            Some(g) if g.cloud_account_id != cloud_account_id || g.region != region => {
                return Err(format!(
                    "Instance group {} is in another cloud account or region: a database admits groups of its own account in {region}.",
                    g.name
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// "allow instance group web to connect on port 5432": one ingress rule, created or destroyed.
fn rule_change(action: ChangeAction, group: &str, port: i32) -> ProviderChange {
    ProviderChange {
        action,
        object: "security group rule".into(),
        detail: format!("allow instance group {group} to connect on port {port}"),
    }
}

fn cost(region: &str, before: Option<&DatabaseSpec>, after: Option<&DatabaseSpec>) -> CostChange {
    let price = |spec: Option<&DatabaseSpec>| spec.map(|s| monthly_cents(region, s));
    let (b, a) = (price(before), price(after));
    let unknown = matches!(b, Some(None)) || matches!(a, Some(None));
    CostChange {
        monthly_before_cents: b.flatten().unwrap_or(0),
        monthly_after_cents: a.flatten().unwrap_or(0),
        currency: "USD".into(),
        price_list: prices::LIST_NAME.into(),
        note: if unknown {
            format!("The price list has no price for this class in {region}.")
        } else {
            "Instance hours (PostgreSQL list prices; a standby doubles them) and gp2 storage per GiB-month; backups within the database's size and data transfer are not included.".into()
        },
    }
}

fn change(field: &str, old: Option<&str>, new: Option<&str>) -> FieldChange {
    FieldChange {
        field: field.into(),
        old: old.map(str::to_string),
        new: new.map(str::to_string),
    }
}

fn opt_gb(v: Option<i32>) -> String {
    v.map(|g| format!("{g} GiB"))
        .unwrap_or_else(|| "none".into())
}

/// The spec's fields as (field, shown value), for diffs.
fn fields(
    spec: &DatabaseSpec,
    zone_names: &dyn Fn(Option<Uuid>) -> String,
    group_names: &dyn Fn(&[Uuid]) -> String,
) -> Vec<(&'static str, String)> {
    vec![
        ("engine", format!("{} {}", spec.engine, spec.engine_version)),
        ("instance_class", spec.instance_class.clone()),
        ("storage", format!("{} GiB", spec.storage_gb)),
        ("max_storage", opt_gb(spec.max_storage_gb)),
        ("zone", zone_names(Some(spec.zone_id))),
        ("standby_zone", zone_names(spec.standby_zone_id)),
        (
            "backup_retention",
            format!("{} days", spec.backup_retention_days),
        ),
        ("backup_window", spec.backup_window.clone()),
        ("maintenance_window", spec.maintenance_window.clone()),
        (
            "deletion_protection",
            if spec.deletion_protection {
                "on"
            } else {
                "off"
            }
            .into(),
        ),
        ("allowed_groups", group_names(&spec.allowed_groups)),
    ]
}

/// Names of these groups for a diff, sorted ("none" for none).
fn names_of(groups: &[GroupChoice]) -> impl Fn(&[Uuid]) -> String + '_ {
    move |ids: &[Uuid]| {
        let mut names: Vec<String> = ids
            .iter()
            .map(|id| {
                groups
                    .iter()
                    .find(|g| g.group_id == *id)
                    .map_or_else(|| id.to_string(), |g| g.name.clone())
            })
            .collect();
        names.sort();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(", ")
        }
    }
}

fn diff(
    before: Option<&DatabaseSpec>,
    after: Option<&DatabaseSpec>,
    zone_names: &dyn Fn(Option<Uuid>) -> String,
    group_names: &dyn Fn(&[Uuid]) -> String,
) -> Vec<FieldChange> {
    let b = before.map(|s| fields(s, zone_names, group_names));
    let a = after.map(|s| fields(s, zone_names, group_names));
    let names: Vec<&str> = b
        .as_ref()
        .or(a.as_ref())
        .map(|f| f.iter().map(|(n, _)| *n).collect())
        .unwrap_or_default();
    names
        .into_iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let old = b.as_ref().map(|f| f[i].1.as_str());
            let new = a.as_ref().map(|f| f[i].1.as_str());
            (old != new).then(|| change(name, old, new))
        })
        .collect()
}

fn warnings_for(spec: &DatabaseSpec) -> Vec<String> {
    let mut warnings = Vec::new();
    if spec.backup_retention_days == 0 {
        warnings.push(
            "Backups are off (retention 0 days): no automated backups and no point-in-time restore."
                .into(),
        );
    }
    if spec.standby_zone_id.is_some() {
        warnings.push(STANDBY_NOTE.into());
    }
    if !spec.deletion_protection {
        warnings.push("Deletion protection is off: the database can be deleted.".into());
    }
    warnings
}

fn validate_fields(checks: &mut Checks, spec: &DatabaseSpec) {
    checks.check("storage_gb", check_storage(spec.storage_gb));
    checks.check(
        "max_storage_gb",
        check_max_storage(spec.storage_gb, spec.max_storage_gb),
    );
    checks.check(
        "backup_retention_days",
        check_retention(spec.backup_retention_days),
    );
    let backup = check_backup_window(&spec.backup_window);
    let maintenance = check_maintenance_window(&spec.maintenance_window);
    checks.check("backup_window", backup.clone().map(drop));
    checks.check("maintenance_window", maintenance.clone().map(drop));
    if let (Ok(b), Ok(m)) = (backup, maintenance) {
        checks.check("backup_window", check_windows_apart(b, m));
    }
}

fn check_class(region: &str, class: &str) -> Result<(), String> {
    match prices::PRICES.database_hourly.get(region) {
        Some(classes) if classes.contains_key(class) => Ok(()),
        Some(classes) => {
            let mut offered: Vec<&str> = classes.keys().map(String::as_str).collect();
            offered.sort();
            Err(format!(
                "Choose one of the classes offered in {region}: {}.",
                offered.join(", ")
            ))
        }
        None => Err(format!("Stratus offers no databases in {region} yet.")),
    }
}

/// Creates a database (or, with `dry_run`, returns only its plan).
pub async fn create(
    db: &PgPool,
    keyring: &Keyring,
    actor: &Actor,
    tenant_id: Uuid,
    input: NewDatabase,
    options: WriteOptions,
) -> Result<DatabaseChange, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let name = input.name.trim().to_string();
    let engine = input.engine.trim().to_ascii_lowercase();
    let mut checks = Checks::default();
    checks.check("name", super::zones::check_name(&name));
    let versions = check_engine(&engine);
    checks.check("engine", versions.clone().map(drop));
    let engine_version = match (&versions, input.engine_version.as_deref().map(str::trim)) {
        (Ok(versions), None | Some("")) => versions[0].to_string(),
        (Ok(versions), Some(v)) => {
            if !versions.contains(&v) {
                checks.check(
                    "engine_version",
                    Err(format!("Choose one of {}.", versions.join(", "))),
                );
            }
            v.to_string()
        }
        (Err(_), v) => v.unwrap_or_default().to_string(),
    };
    let mut spec = DatabaseSpec {
        engine,
        engine_version,
        instance_class: input.instance_class.trim().to_string(),
        storage_gb: input.storage_gb,
        max_storage_gb: input.max_storage_gb,
        zone_id: input.zone_id,
        standby_zone_id: input.standby_zone_id,
        subnet_zone_ids: Vec::new(),
        backup_retention_days: input
            .backup_retention_days
            .unwrap_or(DEFAULT_RETENTION_DAYS),
        backup_window: input
            .backup_window
            .map(|w| w.trim().to_string())
            .unwrap_or_else(|| DEFAULT_BACKUP_WINDOW.into()),
        maintenance_window: input
            .maintenance_window
            .map(|w| w.trim().to_ascii_lowercase())
            .unwrap_or_else(|| DEFAULT_MAINTENANCE_WINDOW.into()),
        deletion_protection: input.deletion_protection.unwrap_or(true),
        allowed_groups: input.allowed_groups.clone(),
        apply: ApplyAt::Now,
    };
    validate_fields(&mut checks, &spec);
    checks.finish()?;

    let mut tx = db.begin().await?;
    // The groups before the tenant's row: a group's delete locks them in that order too.
    let groups = tenant_groups(&mut tx, tenant_id, &spec.allowed_groups).await?;
    let (used, limit) = database_quota(&mut tx, tenant_id).await?;
    let zones = tenant_zones(&mut tx, tenant_id).await?;
    let Some(primary) = zones.iter().find(|z| z.zone_id == spec.zone_id).cloned() else {
        return Err(AppError::invalid(
            "zone_id",
            "Choose one of the tenant's zones.",
        ));
    };
    let region = primary.region.clone();
    let mut checks = Checks::default();
    checks.check("instance_class", check_class(&region, &spec.instance_class));
    // The subnet group: every zone of the tenant in this account and region.
    let siblings: Vec<&ZoneChoice> = zones
        .iter()
        .filter(|z| z.cloud_account_id == primary.cloud_account_id && z.region == region)
        .collect();
    if let Some(standby) = spec.standby_zone_id {
        match siblings.iter().find(|z| z.zone_id == standby) {
            None => checks.check(
                "standby_zone_id",
                Err(format!(
                    "Choose another of the tenant's zones in {region} (same cloud account) for the standby."
                )),
            ),
            Some(z) if z.zone_id == primary.zone_id => checks.check(
                "standby_zone_id",
                Err("The standby needs a zone other than the primary's.".into()),
            ),
            Some(z) if z.availability_zone == primary.availability_zone => checks.check(
                "standby_zone_id",
                Err(format!(
                    "Zone {} is in the same availability zone as the primary ({}): choose one in another.",
                    z.name, z.availability_zone
                )),
            ),
            Some(_) => &mut checks,
        };
    }
    let distinct_azs: std::collections::BTreeSet<&str> = siblings
        .iter()
        .map(|z| z.availability_zone.as_str())
        .collect();
    if distinct_azs.len() < 2 {
        checks.check(
            "zone_id",
            Err(format!(
                "RDS needs subnets in at least two availability zones, and the tenant has zones in only {} in {region} ({}). Create a zone in another availability zone of {region} first.",
                distinct_azs.len(),
                distinct_azs.iter().copied().collect::<Vec<_>>().join(", ")
            )),
        );
    }
    checks.check(
        "allowed_groups",
        check_allowed_groups(
            &spec.allowed_groups,
            &groups,
            primary.cloud_account_id,
            &region,
        ),
    );
    checks.finish()?;
    spec.subnet_zone_ids = siblings.iter().map(|z| z.zone_id).collect();
    spec.allowed_groups.sort();

    let taken: bool = sqlx::query_scalar(
        "select exists (select 1 from resource where tenant_id = $1 and kind = 'database' and name = $2 and status <> 'deleted')",
    )
    .bind(tenant_id)
    .bind(&name)
    .fetch_one(&mut *tx)
    .await?;
    if taken {
        return Err(AppError::conflict(
            "name",
            format!("The tenant already has a database named {name}."),
        ));
    }
    let secret = secret_name(&name);
    let secret_taken: bool = sqlx::query_scalar(
        "select exists (select 1 from secret where tenant_id = $1 and name = $2)",
    )
    .bind(tenant_id)
    .bind(&secret)
    .fetch_one(&mut *tx)
    .await?;
    if secret_taken {
        return Err(AppError::conflict(
            "name",
            format!("A secret named {secret} already exists: choose another name for the database, or delete that secret."),
        ));
    }

    let zone_names = |id: Option<Uuid>| match id {
        None => "none".to_string(),
        Some(id) => zones
            .iter()
            .find(|z| z.zone_id == id)
            .map(|z| format!("{} ({})", z.name, z.availability_zone))
            .unwrap_or_else(|| id.to_string()),
    };
    let mut diff = diff(None, Some(&spec), &zone_names, &names_of(&groups));
    diff.insert(0, change("name", None, Some(&name)));
    diff.insert(
        1,
        change("cloud_account", None, Some(&primary.cloud_account_name)),
    );
    diff.push(change(
        "master_password",
        None,
        Some(&format!(
            "generated by Stratus, kept as the secret {secret}"
        )),
    ));
    let subnet_azs: Vec<String> = siblings
        .iter()
        .map(|z| format!("{} ({})", z.name, z.availability_zone))
        .collect();
    let availability = match spec.standby_zone_id {
        Some(standby) => format!(
            "primary in {}, standby in {}",
            zone_names(Some(spec.zone_id)),
            zone_names(Some(standby))
        ),
        None => format!("single zone: {}", zone_names(Some(spec.zone_id))),
    };
    let port = engine_port(&spec.engine);
    let mut provider_changes = vec![
        ProviderChange {
            action: ChangeAction::Create,
            object: "security group".into(),
            detail: format!("for database {name}, in the tenant's VPC in {region}"),
        },
        ProviderChange {
            action: ChangeAction::Create,
            object: "DB subnet group".into(),
            detail: format!("over the subnets of {}", subnet_azs.join(", ")),
        },
        ProviderChange {
            action: ChangeAction::Create,
            object: "DB instance".into(),
            detail: format!(
                "{} {} {}, {} GiB, {availability}",
                spec.engine, spec.engine_version, spec.instance_class, spec.storage_gb
            ),
        },
    ];
    let mut allowed: Vec<&GroupChoice> = groups.iter().collect();
    allowed.sort_by(|a, b| a.name.cmp(&b.name));
    provider_changes.extend(
        allowed
            .iter()
            .map(|g| rule_change(ChangeAction::Create, &g.name, port)),
    );
    let spec_json = serde_json::to_string(&spec).unwrap_or_default();
    let plan = Plan {
        action: PlanAction::Create,
        kind: ResourceKind::Database,
        name: name.clone(),
        diff,
        provider_changes,
        quota: vec![QuotaImpact {
            quota: "databases".into(),
            used_before: used,
            used_after: used + 1,
            limit,
        }],
        cost: cost(&region, None, Some(&spec)),
        warnings: warnings_for(&spec),
        fingerprint: fingerprint(&["database:create", &tenant_id.to_string(), &name, &spec_json]),
    };
    if options.dry_run {
        return Ok(planned(plan));
    }
    options.check(&plan)?;
    refuse_over_quota(&plan)?;

    let database_id = Uuid::new_v4();
    sqlx::query(
        "insert into resource (resource_id, tenant_id, kind, name, cloud_account_id, spec) values ($1, $2, 'database', $3, $4, $5)",
    )
    .bind(database_id)
    .bind(tenant_id)
    .bind(&name)
    .bind(primary.cloud_account_id)
    .bind(Json(&spec))
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        if crate::backend::violates(&e, "resource_tenant_kind_name_key") {
            AppError::conflict("name", format!("The tenant already has a database named {name}."))
        } else {
            e.into()
        }
    })?;
    let secret_id = secrets::insert(
        &mut tx,
        keyring,
        tenant_id,
        &secret,
        PURPOSE_DATABASE_CREDENTIALS,
        &generate_password(),
        Some(actor.user_id),
    )
    .await?;
    sqlx::query(
        "insert into managed_database (resource_id, identifier, master_username, secret_id) values ($1, $2, $3, $4)",
    )
    .bind(database_id)
    .bind(identifier(database_id))
    .bind(MASTER_USERNAME)
    .bind(secret_id)
    .execute(&mut *tx)
    .await?;
    for zone_id in &spec.subnet_zone_ids {
        sqlx::query("insert into resource_zone (resource_id, zone_id) values ($1, $2)")
            .bind(database_id)
            .bind(zone_id)
            .execute(&mut *tx)
            .await?;
    }
    let job_id = enqueue_reconcile(&mut tx, tenant_id, database_id).await?;
    let database = fetch(&mut *tx, tenant_id, database_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::DatabaseCreated,
        &name,
        serde_json::json!({
            "database_id": database_id, "cloud_account_id": primary.cloud_account_id,
            "engine": spec.engine, "engine_version": spec.engine_version,
            "instance_class": spec.instance_class, "storage_gb": spec.storage_gb,
            "standby": spec.standby_zone_id.is_some(), "allowed_groups": spec.allowed_groups,
            "secret_id": secret_id, "job_id": job_id,
        }),
    )
    .await?;
    Ok(applied(plan, database, job_id))
}

/// Changes a database: class, storage, availability, backups, windows, deletion protection;
/// applied now or at the next maintenance window.
pub async fn update(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    database_id: Uuid,
    patch: DatabasePatch,
    options: WriteOptions,
) -> Result<DatabaseChange, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let mut tx = db.begin().await?;
    let (current, before) = lock(&mut tx, tenant_id, database_id).await?;
    if current.deletion_requested_at.is_some() {
        return Err(AppError::Conflict {
            field: None,
            message: format!("Database {} is being deleted.", current.name),
        });
    }
    let mut after = before.clone();
    if let Some(class) = &patch.instance_class {
        after.instance_class = class.trim().to_string();
    }
    if let Some(storage) = patch.storage_gb {
        after.storage_gb = storage;
    }
    if patch.max_storage_gb.is_some() {
        after.max_storage_gb = patch.max_storage_gb;
    }
    if let Some(days) = patch.backup_retention_days {
        after.backup_retention_days = days;
    }
    if let Some(window) = &patch.backup_window {
        after.backup_window = window.trim().to_string();
    }
    if let Some(window) = &patch.maintenance_window {
        after.maintenance_window = window.trim().to_ascii_lowercase();
    }
    if let Some(protect) = patch.deletion_protection {
        after.deletion_protection = protect;
    }
    if patch.remove_standby == Some(true) {
        after.standby_zone_id = None;
    }
    if let Some(standby) = patch.standby_zone_id {
        after.standby_zone_id = Some(standby);
    }
    if let Some(groups) = &patch.allowed_groups {
        after.allowed_groups = groups.clone();
        after.allowed_groups.sort();
    }
    after.apply = patch.apply.unwrap_or_default();
    let mut checks = Checks::default();
    validate_fields(&mut checks, &after);
    checks.check(
        "instance_class",
        check_class(&current.region, &after.instance_class),
    );
    if after.storage_gb < before.storage_gb {
        checks.check(
            "storage_gb",
            Err(format!(
                "Storage can grow but not shrink (it is {} GiB).",
                before.storage_gb
            )),
        );
    }
    let zones = tenant_zones(&mut tx, tenant_id).await?;
    if let (Some(standby), true) = (
        after.standby_zone_id,
        after.standby_zone_id != before.standby_zone_id,
    ) {
        if standby == after.zone_id || !after.subnet_zone_ids.contains(&standby) {
            checks.check(
                "standby_zone_id",
                Err(format!(
                    "Choose one of the database's other subnet-group zones ({}).",
                    current
                        .subnet_zones
                        .iter()
                        .filter(|z| **z != current.availability_zone)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            );
        }
    }
    let mut known: Vec<Uuid> = before.allowed_groups.clone();
    known.extend(&after.allowed_groups);
    let groups = tenant_groups(&mut tx, tenant_id, &known).await?;
    if after.allowed_groups != before.allowed_groups {
        checks.check(
            "allowed_groups",
            check_allowed_groups(
                &after.allowed_groups,
                &groups,
                current.cloud_account_id,
                &current.region,
            ),
        );
    }
    checks.finish()?;
    let zone_names = |id: Option<Uuid>| match id {
        None => "none".to_string(),
        Some(id) => zones
            .iter()
            .find(|z| z.zone_id == id)
            .map(|z| format!("{} ({})", z.name, z.availability_zone))
            .unwrap_or_else(|| id.to_string()),
    };
    let diff = diff(Some(&before), Some(&after), &zone_names, &names_of(&groups));
    let when = match after.apply {
        ApplyAt::Now => "now".to_string(),
        ApplyAt::NextWindow => format!(
            "at the next maintenance window ({})",
            after.maintenance_window
        ),
    };
    // Applied now, a change also applies what waits for the maintenance window (as on RDS): so
    // does a change of nothing but `apply`, the page's "Apply now".
    let pending = if after.apply == ApplyAt::Now {
        current.pending_changes.clone()
    } else {
        Vec::new()
    };
    let mut provider_changes = Vec::new();
    if !pending.is_empty() {
        provider_changes.push(ProviderChange {
            action: ChangeAction::Update,
            object: "DB instance".into(),
            detail: format!(
                "{} (pending for the maintenance window: {}), applied now",
                current.db_instance_id,
                pending
                    .iter()
                    .map(|c| format!("{} → {}", c.field, c.new.as_deref().unwrap_or("-")))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
    }
    // The allowed groups are security group rules, not a change of the DB instance.
    let instance_diff: Vec<&FieldChange> = diff
        .iter()
        .filter(|c| c.field != "allowed_groups")
        .collect();
    if !instance_diff.is_empty() {
        let described: Vec<String> = instance_diff
            .iter()
            .map(|c| {
                format!(
                    "{}: {} → {}",
                    c.field,
                    c.old.as_deref().unwrap_or("-"),
                    c.new.as_deref().unwrap_or("-")
                )
            })
            .collect();
        provider_changes.push(ProviderChange {
            action: ChangeAction::Update,
            object: "DB instance".into(),
            detail: format!(
                "{} ({}), applied {when}",
                current.db_instance_id,
                described.join("; ")
            ),
        });
    }
    let port = engine_port(&after.engine);
    let name_of = names_of(&groups);
    for id in after
        .allowed_groups
        .iter()
        .filter(|id| !before.allowed_groups.contains(id))
    {
        provider_changes.push(rule_change(
            ChangeAction::Create,
            &name_of(std::slice::from_ref(id)),
            port,
        ));
    }
    for id in before
        .allowed_groups
        .iter()
        .filter(|id| !after.allowed_groups.contains(id))
    {
        provider_changes.push(rule_change(
            ChangeAction::Destroy,
            &name_of(std::slice::from_ref(id)),
            port,
        ));
    }
    let mut warnings = Vec::new();
    let class_now = before.instance_class != after.instance_class
        || pending.iter().any(|c| c.field == "instance_class");
    if class_now && after.apply == ApplyAt::Now {
        warnings.push(
            "Changing the class now restarts the database (a minute or two without connections; less with a standby)."
                .into(),
        );
    }
    if after.backup_retention_days == 0 && before.backup_retention_days != 0 {
        warnings.push(
            "Backups will be off (retention 0 days): existing automated backups are deleted."
                .into(),
        );
    }
    if after.standby_zone_id.is_some() && before.standby_zone_id.is_none() {
        warnings.push(STANDBY_NOTE.into());
    }
    let spec_json = serde_json::to_string(&after).unwrap_or_default();
    let plan = Plan {
        action: PlanAction::Update,
        kind: ResourceKind::Database,
        name: current.name.clone(),
        diff: diff.clone(),
        provider_changes,
        quota: Vec::new(),
        cost: cost(&current.region, Some(&before), Some(&after)),
        warnings,
        fingerprint: fingerprint(&[
            "database:update",
            &database_id.to_string(),
            &current.generation.to_string(),
            &spec_json,
        ]),
    };
    if options.dry_run {
        return Ok(planned(plan));
    }
    options.check(&plan)?;
    if diff.is_empty() && pending.is_empty() {
        // Nothing to change: no new generation, no job.
        return Ok(DatabaseChange {
            plan,
            dry_run: false,
            database: Some(current),
            job_id: None,
        });
    }
    sqlx::query(
        "update resource set spec = $2, generation = generation + 1,
             status = case when status in ('ready', 'failed') then 'updating'::resource_status else status end
         where resource_id = $1",
    )
    .bind(database_id)
    .bind(Json(&after))
    .execute(&mut *tx)
    .await?;
    let job_id = enqueue_reconcile(&mut tx, tenant_id, database_id).await?;
    let database = fetch(&mut *tx, tenant_id, database_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::DatabaseChanged,
        &current.name,
        serde_json::json!({ "database_id": database_id, "changes": diff, "apply": after.apply, "job_id": job_id }),
    )
    .await?;
    Ok(applied(plan, database, job_id))
}

/// Asks for a database's deletion: refused (409) while deletion protection is on; takes a
/// final snapshot unless told not to.
pub async fn delete(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    database_id: Uuid,
    deletion: DatabaseDeletion,
    options: WriteOptions,
) -> Result<DatabaseChange, AppError> {
    authorize(db, actor, tenant_id, Action::ManageResources).await?;
    let mut tx = db.begin().await?;
    let (current, spec) = lock(&mut tx, tenant_id, database_id).await?;
    if spec.deletion_protection {
        return Err(AppError::Conflict {
            field: None,
            message: format!(
                "Database {} has deletion protection on: turn it off first (a change with deletion_protection false), then delete it.",
                current.name
            ),
        });
    }
    let (used, limit) = database_quota(&mut tx, tenant_id).await?;
    let snapshot = deletion
        .final_snapshot
        .then(|| final_snapshot_name(&current.db_instance_id));
    let mut warnings = Vec::new();
    if snapshot.is_none() {
        warnings.push(
            "No final snapshot: the database's data is gone for good once it is deleted.".into(),
        );
    }
    let security_group = current
        .security_group_id
        .clone()
        .unwrap_or_else(|| "security group (not created yet)".into());
    let plan = Plan {
        action: PlanAction::Delete,
        kind: ResourceKind::Database,
        name: current.name.clone(),
        diff: vec![change("name", Some(&current.name), None)],
        provider_changes: vec![
            ProviderChange {
                action: ChangeAction::Destroy,
                object: "DB instance".into(),
                detail: match &snapshot {
                    Some(s) => format!(
                        "{} after a final snapshot named {s}",
                        current.db_instance_id
                    ),
                    None => format!("{} without a final snapshot", current.db_instance_id),
                },
            },
            ProviderChange {
                action: ChangeAction::Destroy,
                object: "DB subnet group".into(),
                detail: current.db_instance_id.clone(),
            },
            ProviderChange {
                action: ChangeAction::Destroy,
                object: "security group".into(),
                detail: security_group,
            },
        ],
        quota: vec![QuotaImpact {
            quota: "databases".into(),
            used_before: used,
            used_after: used - 1,
            limit,
        }],
        cost: cost(&current.region, Some(&spec), None),
        warnings,
        fingerprint: fingerprint(&[
            "database:delete",
            &database_id.to_string(),
            &current.generation.to_string(),
            &deletion.final_snapshot.to_string(),
        ]),
    };
    if options.dry_run {
        return Ok(planned(plan));
    }
    options.check(&plan)?;
    super::request_deletion(&mut tx, database_id).await?;
    // A second delete request keeps the first one's choice.
    sqlx::query("update managed_database set final_snapshot = $2 where resource_id = $1 and $3")
        .bind(database_id)
        .bind(&snapshot)
        .bind(current.deletion_requested_at.is_none())
        .execute(&mut *tx)
        .await?;
    let job_id = enqueue_reconcile(&mut tx, tenant_id, database_id).await?;
    let database = fetch(&mut *tx, tenant_id, database_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::DatabaseDeleteRequested,
        &current.name,
        serde_json::json!({ "database_id": database_id, "final_snapshot": snapshot, "job_id": job_id }),
    )
    .await?;
    Ok(applied(plan, database, job_id))
}

/// Generates a new master password, keeps it in the database's secret (the old one is no
/// longer revealed) and sets it at the provider. Admins only; audited.
pub async fn rotate_credentials(
    db: &PgPool,
    keyring: &Keyring,
    actor: &Actor,
    tenant_id: Uuid,
    database_id: Uuid,
) -> Result<DatabaseView, AppError> {
    authorize(db, actor, tenant_id, Action::ManageDatabaseCredentials).await?;
    let mut tx = db.begin().await?;
    let (current, _) = lock(&mut tx, tenant_id, database_id).await?;
    if current.deletion_requested_at.is_some() {
        return Err(AppError::Conflict {
            field: None,
            message: format!("Database {} is being deleted.", current.name),
        });
    }
    let Some(secret_id) = current.credentials_secret_id else {
        return Err(AppError::Conflict {
            field: None,
            message: format!("Database {} has no credentials secret.", current.name),
        });
    };
    secrets::reseal(&mut tx, keyring, tenant_id, secret_id, &generate_password()).await?;
    let version: i32 = sqlx::query_scalar(
        "update managed_database set password_version = password_version + 1 where resource_id = $1 returning password_version",
    )
    .bind(database_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("update secret set updated_at = now() where secret_id = $1")
        .bind(secret_id)
        .execute(&mut *tx)
        .await?;
    let job_id = enqueue_reconcile(&mut tx, tenant_id, database_id).await?;
    let database = fetch(&mut *tx, tenant_id, database_id).await?;
    audit::commit_with(
        tx,
        actor.into(),
        Some(tenant_id),
        AuditAction::DatabaseCredentialsRotated,
        &current.name,
        serde_json::json!({ "database_id": database_id, "secret_id": secret_id, "password_version": version, "job_id": job_id }),
    )
    .await?;
    Ok(database)
}

/// The database and its spec, its resource row locked for this transaction.
async fn lock(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    database_id: Uuid,
) -> Result<(DatabaseView, DatabaseSpec), AppError> {
    let Json(spec): Json<DatabaseSpec> = sqlx::query_scalar(
        "select spec from resource where resource_id = $1 and tenant_id = $2 and kind = 'database' and status <> 'deleted' for update",
    )
    .bind(database_id)
    .bind(tenant_id)
    .fetch_one(&mut *conn)
    .await?;
    Ok((fetch(&mut *conn, tenant_id, database_id).await?, spec))
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

fn planned(plan: Plan) -> DatabaseChange {
    DatabaseChange {
        plan,
        dry_run: true,
        database: None,
        job_id: None,
    }
}

fn applied(plan: Plan, database: DatabaseView, job_id: i64) -> DatabaseChange {
    DatabaseChange {
        plan,
        dry_run: false,
        database: Some(database),
        job_id: Some(job_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_checked_and_kept_apart() {
        assert_eq!(check_backup_window("03:00-03:30"), Ok((180, 210)));
        assert!(check_backup_window("03:00-03:10").is_err());
        assert!(check_backup_window("3:00-03:30").is_err());
        assert!(check_backup_window("23:45-00:15").is_ok());
        assert!(check_maintenance_window("sun:04:00-sun:04:30").is_ok());
        assert!(check_maintenance_window("sun:23:50-mon:00:30").is_ok());
        assert!(check_maintenance_window("xyz:04:00-sun:04:30").is_err());
        let b = check_backup_window("03:00-03:30").unwrap();
        let apart = check_maintenance_window("sun:04:00-sun:04:30").unwrap();
        let over = check_maintenance_window("wed:03:15-wed:03:45").unwrap();
        assert!(check_windows_apart(b, apart).is_ok());
        assert!(check_windows_apart(b, over).is_err());
    }

    #[test]
    fn allowed_groups_are_live_groups_of_the_account_and_region_each_once() {
        let account = Uuid::new_v4();
        let group =
            |name: &str, cloud_account_id: Uuid, region: &str, deleting: bool| GroupChoice {
                group_id: Uuid::new_v4(),
                name: name.into(),
                cloud_account_id,
                region: region.into(),
                deleting,
            };
        let web = group("web", account, "us-east-1", false);
        let elsewhere = group("far", account, "eu-west-1", false);
        let going = group("old", account, "us-east-1", true);
        let found = vec![web.clone(), elsewhere.clone(), going.clone()];
        let check = |ids: &[Uuid]| check_allowed_groups(ids, &found, account, "us-east-1");
        assert_eq!(check(&[]), Ok(()));
        assert_eq!(check(&[web.group_id]), Ok(()));
        let unknown = Uuid::new_v4();
        assert_eq!(
            check(&[unknown]),
            Err(format!(
                "{unknown} is not one of the tenant's instance groups."
            ))
        );
        assert!(check(&[web.group_id, web.group_id])
            .unwrap_err()
            .contains("web is listed twice"));
        assert!(check(&[elsewhere.group_id])
            .unwrap_err()
            .contains("another cloud account or region"));
        assert!(check(&[going.group_id])
            .unwrap_err()
            .contains("being deleted"));
        assert_eq!(engine_port("postgres"), 5432);
        assert_eq!(engine_port("mysql"), 3306);
    }

    #[test]
    fn identifiers_are_valid_rds_names() {
        let id = identifier(Uuid::new_v4());
        assert!(id.len() <= 63 && id.starts_with("stratus-"));
        assert!(id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
        assert!(!id.contains("--"));
        assert!(final_snapshot_name(&id).len() <= 255);
    }

    #[test]
    fn passwords_are_long_and_plain() {
        use secrecy::ExposeSecret;
        let p = generate_password();
        assert_eq!(p.expose_secret().len(), 32);
        assert!(p.expose_secret().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(p.expose_secret(), generate_password().expose_secret());
    }
}
