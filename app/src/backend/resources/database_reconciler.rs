//! The database reconciler: makes the database's security group, DB subnet group and DB
//! instance exist with their tags and match the spec, or, once deletion was asked for, deletes
//! the instance (with its final snapshot), the subnet group and the security group, confirms
//! each is gone, and tombstones the row with the credentials secret.
//!
//! The security group's inbound rules are kept equal to {allowed group's security group →
//! engine port}: missing ones are added, and rules from an instance group's security group that
//! the spec no longer names are revoked (rules people added from anything else are left alone).
//! A group whose security group does not exist yet is waited for, by name.
//!
//! Creates go through [`cloud_objects`](super::cloud_objects) (intent row, tag lookup,
//! adopt-or-create), so a worker killed between CreateDBInstance and its record still ends
//! with one instance. A run never waits for RDS: while the instance is `creating`,
//! `modifying` or `deleting` it reports what it waits for and requeues itself.
//!
//! The master password is decrypted here only to go into CreateDBInstance or
//! ModifyDBInstance; it is never logged, put in an event or in an error.

use super::cloud_objects::{self, EnsureError, Owner};
use super::databases::{engine_port, DatabaseSpec};
use super::{installation_id, set_condition, write_status, Engine, Fence, StatusWrite};
use crate::backend::cloud::providers::databases::{
    AwsDatabases, DbInstanceRequest, DbModification, ObservedDb,
};
use crate::backend::cloud::providers::network::{AwsNetworks, GroupIngress, ObjectKind, Ownership};
use crate::backend::cloud::providers::{self, ErrorClass, ProviderError};
use crate::backend::jobs::worker::{JobContext, JobError};
use crate::backend::secrets;
use crate::model::resources::{ApplyAt, Condition, ConditionStatus, FieldChange, ResourceStatus};
use sqlx::types::Json;
use std::time::Duration;
use uuid::Uuid;

/// How long a run waits before looking at an instance RDS is still working on.
const WAIT: Duration = Duration::from_secs(5);
/// How the inbound rules Stratus adds are described (the group's name follows).
const RULE_DESCRIPTION: &str = "Stratus instance group";

#[derive(sqlx::FromRow)]
struct DbRow {
    tenant_id: Uuid,
    name: String,
    cloud_account_id: Uuid,
    generation: i64,
    status: ResourceStatus,
    conditions: Json<Vec<Condition>>,
    deletion_requested_at: Option<time::OffsetDateTime>,
    spec: Json<DatabaseSpec>,
    identifier: String,
    master_username: String,
    secret_id: Option<Uuid>,
    password_version: i32,
    applied_password_version: i32,
    final_snapshot: Option<String>,
    tenant_slug: String,
}

struct Tokens {
    security_group: String,
    subnet_group: String,
    instance: String,
}

fn tokens(database_id: Uuid) -> Tokens {
    Tokens {
        security_group: format!("db-security-group:{database_id}"),
        subnet_group: format!("db-subnet-group:{database_id}"),
        instance: format!("db-instance:{database_id}"),
    }
}

/// Why a step stopped.
enum Step {
    Job(JobError),
    Ensure(EnsureError),
}

impl From<JobError> for Step {
    fn from(e: JobError) -> Self {
        Step::Job(e)
    }
}

impl From<EnsureError> for Step {
    fn from(e: EnsureError) -> Self {
        Step::Ensure(e)
    }
}

impl From<ProviderError> for Step {
    fn from(e: ProviderError) -> Self {
        Step::Ensure(EnsureError::Provider(e))
    }
}

impl From<sqlx::Error> for Step {
    fn from(e: sqlx::Error) -> Self {
        Step::Job(JobError::failed(e))
    }
}

struct Run<'a> {
    ctx: &'a JobContext,
    engine: &'a Engine,
    fence: Fence,
    database_id: Uuid,
    row: DbRow,
    networks: AwsNetworks,
    databases: AwsDatabases,
    installation: Uuid,
}

pub(super) async fn run(
    ctx: &JobContext,
    engine: &Engine,
    database_id: Uuid,
) -> Result<(), JobError> {
    let row: Option<DbRow> = sqlx::query_as(
        "select r.tenant_id, r.name, r.cloud_account_id, r.generation, r.status, r.conditions,
                r.deletion_requested_at, r.spec, d.identifier, d.master_username, d.secret_id,
                d.password_version, d.applied_password_version, d.final_snapshot,
                t.slug as tenant_slug
         from resource r join managed_database d using (resource_id)
         join tenant t on t.tenant_id = r.tenant_id
         where r.resource_id = $1 and r.status <> 'deleted'",
    )
    .bind(database_id)
    .fetch_optional(&ctx.db)
    .await
    .map_err(JobError::failed)?;
    let Some(row) = row else { return Ok(()) };
    let installation = installation_id(&ctx.db).await.map_err(JobError::failed)?;
    let account = providers::open(
        &ctx.db,
        &engine.keyring,
        &engine.endpoints,
        row.tenant_id,
        row.cloud_account_id,
    )
    .await
    .map_err(|e| JobError::Fatal(format!("cannot open the cloud account: {e}")))?;
    let run = Run {
        ctx,
        engine,
        fence: Fence::of(ctx),
        database_id,
        networks: account.networks(),
        databases: account.databases(),
        installation,
        row,
    };
    let outcome = if run.row.deletion_requested_at.is_some() {
        run.delete().await
    } else {
        run.provision().await
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(Step::Job(e)) => Err(e),
        Err(Step::Ensure(EnsureError::Database(e))) => Err(JobError::failed(e)),
        Err(Step::Ensure(EnsureError::Provider(e))) => run.failed(e).await,
    }
}

impl Run<'_> {
    fn owner(&self, token: &str) -> Ownership {
        Ownership {
            installation: self.installation,
            tenant: self.row.tenant_id,
            resource: self.database_id,
            token: token.to_string(),
            name: format!("stratus/{}/{}", self.row.tenant_slug, self.row.name),
        }
    }

    fn intent(&self) -> Owner {
        Owner {
            tenant_id: self.row.tenant_id,
            cloud_account_id: self.row.cloud_account_id,
            resource_id: Some(self.database_id),
            network_id: None,
        }
    }

    async fn write(
        &self,
        status: ResourceStatus,
        observed_generation: Option<i64>,
        conditions: Vec<Condition>,
        outputs: serde_json::Value,
        reconciled: bool,
    ) -> Result<(), JobError> {
        let mut conn = self.ctx.db.acquire().await.map_err(JobError::failed)?;
        write_status(
            &mut conn,
            self.fence,
            self.database_id,
            &StatusWrite {
                status,
                observed_generation,
                conditions,
                last_error: None,
                outputs,
                reconciled,
            },
        )
        .await
    }

    /// Says what the run waits for (on the resource and as a job event), then requeues.
    async fn wait(
        &self,
        status: ResourceStatus,
        percent: u8,
        message: String,
        outputs: serde_json::Value,
    ) -> Result<(), Step> {
        let mut conditions = self.row.conditions.0.clone();
        set_condition(
            &mut conditions,
            "Progressing",
            ConditionStatus::True,
            "WaitingForProvider",
            message.clone(),
            self.row.generation,
        );
        self.write(status, None, conditions, outputs, false).await?;
        self.ctx.progress(percent, message).await?;
        Err(Step::Job(JobError::Requeue(WAIT)))
    }

    /// The provider refused: its words, verbatim, on the resource and the job.
    async fn failed(&self, e: ProviderError) -> Result<(), JobError> {
        let terminal = e.class == ErrorClass::Terminal;
        let last_attempt = self.ctx.job.attempt >= self.ctx.job.max_attempts;
        let mut conditions = self.row.conditions.0.clone();
        let (status, reason) = if terminal || last_attempt {
            (ResourceStatus::Failed, "ProviderError")
        } else {
            (self.row.status, "Retrying")
        };
        let generation = self.row.generation;
        set_condition(
            &mut conditions,
            "Ready",
            ConditionStatus::False,
            reason,
            e.message.clone(),
            generation,
        );
        let progressing = if terminal || last_attempt {
            "stopped: retry the job, or change the database".to_string()
        } else {
            format!("will retry: {}", e.message)
        };
        set_condition(
            &mut conditions,
            "Progressing",
            if terminal || last_attempt {
                ConditionStatus::False
            } else {
                ConditionStatus::True
            },
            reason,
            progressing,
            generation,
        );
        let mut conn = self.ctx.db.acquire().await.map_err(JobError::failed)?;
        write_status(
            &mut conn,
            self.fence,
            self.database_id,
            &StatusWrite {
                status,
                observed_generation: None,
                conditions,
                last_error: Some(e.message.clone()),
                outputs: serde_json::json!({}),
                reconciled: false,
            },
        )
        .await?;
        Err(if terminal {
            JobError::Fatal(e.message)
        } else {
            JobError::Failed(e.message)
        })
    }

    async fn provision(&self) -> Result<(), Step> {
        let spec = &self.row.spec.0;
        let ctx = self.ctx;
        let t = tokens(self.database_id);
        let status = match self.row.status {
            ResourceStatus::Pending | ResourceStatus::Failed => ResourceStatus::Provisioning,
            ResourceStatus::Ready => ResourceStatus::Updating,
            other => other,
        };
        let mut conditions = self.row.conditions.0.clone();
        set_condition(
            &mut conditions,
            "Progressing",
            ConditionStatus::True,
            "Reconciling",
            format!("checking DB instance {}", self.row.identifier),
            self.row.generation,
        );
        self.write(status, None, conditions, serde_json::json!({}), false)
            .await?;

        // The zones' subnets and VPC, made by the zones' own reconcilers.
        let subnets: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "select r.name, z.availability_zone, s.provider_id, v.provider_id
             from zone z join resource r using (resource_id)
             left join provider_object s on s.token = 'subnet:' || z.resource_id
             left join provider_object v on v.network_id = z.network_id and v.kind = 'vpc'
             where z.resource_id = any($1) order by z.availability_zone",
        )
        .bind(&spec.subnet_zone_ids)
        .fetch_all(&ctx.db)
        .await?;
        if let Some((name, az, _, _)) = subnets
            .iter()
            .find(|(_, _, s, v)| s.is_none() || v.is_none())
        {
            return self
                .wait(
                    status,
                    5,
                    format!("waiting for zone {name} ({az}) to have its subnet"),
                    serde_json::json!({}),
                )
                .await;
        }
        let vpc_id = subnets[0].3.clone().unwrap_or_default();
        let subnet_ids: Vec<String> = subnets.iter().filter_map(|s| s.2.clone()).collect();
        let primary_az: String =
            sqlx::query_scalar("select availability_zone from zone where resource_id = $1")
                .bind(spec.zone_id)
                .fetch_one(&ctx.db)
                .await?;

        ctx.progress(10, "security group for the database: looking it up")
            .await?;
        let sg_owner = self.owner(&t.security_group);
        let group_name = format!("stratus-db-{}", self.database_id.simple());
        let description = format!("Stratus database {}", self.row.name);
        let security_group_id = cloud_objects::ensure_present(
            &ctx.db,
            &self.networks,
            self.intent(),
            ObjectKind::SecurityGroup,
            &t.security_group,
            || {
                self.networks
                    .create_security_group(&vpc_id, &group_name, &description, &sg_owner)
            },
        )
        .await?;
        ctx.progress(20, format!("security group {security_group_id} is there"))
            .await?;
        let waiting_for_groups = self.sync_ingress(&security_group_id).await?;

        let sng_owner = self.owner(&t.subnet_group);
        let subnet_group = cloud_objects::ensure_present(
            &ctx.db,
            &self.databases,
            self.intent(),
            ObjectKind::DbSubnetGroup,
            &t.subnet_group,
            || {
                self.databases.create_subnet_group(
                    &self.row.identifier,
                    &description,
                    &subnet_ids,
                    &sng_owner,
                )
            },
        )
        .await?;
        ctx.progress(
            30,
            format!(
                "DB subnet group {subnet_group} over {} is there",
                subnets
                    .iter()
                    .map(|s| s.1.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .await?;

        let secret_id = self.row.secret_id.ok_or_else(|| {
            Step::Job(JobError::Fatal(
                "the database has no credentials secret".into(),
            ))
        })?;
        let password = secrets::read(&ctx.db, &self.engine.keyring, self.row.tenant_id, secret_id)
            .await
            .map_err(|e| {
                Step::Job(JobError::Failed(format!(
                    "cannot read the credentials secret: {e}"
                )))
            })?;
        let request = DbInstanceRequest {
            identifier: self.row.identifier.clone(),
            engine: spec.engine.clone(),
            engine_version: spec.engine_version.clone(),
            instance_class: spec.instance_class.clone(),
            storage_gb: spec.storage_gb,
            max_storage_gb: spec.max_storage_gb,
            subnet_group: subnet_group.clone(),
            security_group_id: security_group_id.clone(),
            availability_zone: primary_az.clone(),
            multi_az: spec.standby_zone_id.is_some(),
            backup_retention_days: spec.backup_retention_days,
            backup_window: spec.backup_window.clone(),
            maintenance_window: spec.maintenance_window.clone(),
            deletion_protection: spec.deletion_protection,
            master_username: self.row.master_username.clone(),
        };
        let db_owner = self.owner(&t.instance);
        ctx.progress(
            40,
            format!("DB instance {}: looking it up", self.row.identifier),
        )
        .await?;
        let identifier = cloud_objects::ensure_present(
            &ctx.db,
            &self.databases,
            self.intent(),
            ObjectKind::DbInstance,
            &t.instance,
            || {
                self.databases
                    .create_instance(&request, &password, &db_owner)
            },
        )
        .await?;
        drop(password);
        // The instance was created with the password version read at the start of this run
        // (or an earlier run's, adopted): later rotations are applied below.
        if self.row.applied_password_version == 0 {
            sqlx::query(
                "update managed_database set applied_password_version = $2 where resource_id = $1 and applied_password_version = 0",
            )
            .bind(self.database_id)
            .bind(self.row.password_version)
            .execute(&ctx.db)
            .await?;
        }

        let Some(observed) = self.databases.describe(&identifier).await? else {
            return self
                .wait(
                    status,
                    45,
                    format!("waiting for DB instance {identifier} to be listed"),
                    serde_json::json!({}),
                )
                .await;
        };
        let outputs = outputs(&observed, &security_group_id, spec);
        if observed.status != "available" {
            return self
                .wait(
                    status,
                    50,
                    format!(
                        "waiting for DB instance {identifier} ({}) to be available",
                        observed.status
                    ),
                    outputs,
                )
                .await;
        }

        // Rotated credentials.
        let applied: i32 = sqlx::query_scalar(
            "select applied_password_version from managed_database where resource_id = $1",
        )
        .bind(self.database_id)
        .fetch_one(&ctx.db)
        .await?;
        if applied < self.row.password_version {
            let password =
                secrets::read(&ctx.db, &self.engine.keyring, self.row.tenant_id, secret_id)
                    .await
                    .map_err(|e| {
                        Step::Job(JobError::Failed(format!(
                            "cannot read the credentials secret: {e}"
                        )))
                    })?;
            self.databases
                .set_master_password(&identifier, &password)
                .await?;
            sqlx::query(
                "update managed_database set applied_password_version = greatest(applied_password_version, $2) where resource_id = $1",
            )
            .bind(self.database_id)
            .bind(self.row.password_version)
            .execute(&ctx.db)
            .await?;
            ctx.progress(
                60,
                format!("DB instance {identifier}: new master password set"),
            )
            .await?;
        }

        let change = modification(spec, &observed);
        if !change.is_empty() {
            ctx.progress(
                70,
                format!(
                    "DB instance {identifier}: applying {} {}",
                    describe(&change),
                    match spec.apply {
                        ApplyAt::Now => "now".to_string(),
                        ApplyAt::NextWindow => format!(
                            "at the next maintenance window ({})",
                            spec.maintenance_window
                        ),
                    }
                ),
            )
            .await?;
            self.databases.modify(&identifier, &change).await?;
            // Observe again before calling it done.
            return Err(Step::Job(JobError::Requeue(Duration::from_millis(500))));
        }

        if !waiting_for_groups.is_empty() {
            return self
                .wait(
                    status,
                    90,
                    format!(
                        "waiting for instance group {} to have its security group",
                        waiting_for_groups.join(", ")
                    ),
                    outputs,
                )
                .await;
        }

        let mut conditions = self.row.conditions.0.clone();
        let endpoint = match (&observed.endpoint_host, observed.endpoint_port) {
            (Some(h), Some(p)) => format!(" at {h}:{p}"),
            _ => String::new(),
        };
        set_condition(
            &mut conditions,
            "Ready",
            ConditionStatus::True,
            "Available",
            format!("DB instance {identifier} is available{endpoint}"),
            self.row.generation,
        );
        if observed.pending.is_empty() {
            set_condition(
                &mut conditions,
                "PendingChanges",
                ConditionStatus::False,
                "NonePending",
                "no changes wait for the maintenance window",
                self.row.generation,
            );
        } else {
            set_condition(
                &mut conditions,
                "PendingChanges",
                ConditionStatus::True,
                "WaitingForMaintenanceWindow",
                format!(
                    "{} will be applied in the maintenance window ({})",
                    observed
                        .pending
                        .iter()
                        .map(|(f, v)| format!("{f} → {v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    spec.maintenance_window
                ),
                self.row.generation,
            );
        }
        set_condition(
            &mut conditions,
            "Progressing",
            ConditionStatus::False,
            "Reconciled",
            "the database matches its spec",
            self.row.generation,
        );
        self.write(
            ResourceStatus::Ready,
            Some(self.row.generation),
            conditions,
            outputs,
            true,
        )
        .await?;
        ctx.progress(100, format!("database {} is ready", self.row.name))
            .await?;
        let generation: i64 =
            sqlx::query_scalar("select generation from resource where resource_id = $1")
                .bind(self.database_id)
                .fetch_one(&ctx.db)
                .await?;
        if generation != self.row.generation {
            return Err(Step::Job(JobError::Requeue(Duration::ZERO)));
        }
        Ok(())
    }

    /// Brings the security group's inbound rules in line with the allowed groups. Returns the
    /// names of allowed groups whose own security group is not made yet (their rule waits).
    async fn sync_ingress(&self, security_group_id: &str) -> Result<Vec<String>, Step> {
        let spec = &self.row.spec.0;
        let port = engine_port(&spec.engine);
        let allowed: Vec<(String, Option<String>)> = sqlx::query_as(
            "select r.name, o.provider_id from resource r
             left join provider_object o on o.resource_id = r.resource_id and o.kind = 'security_group'
             where r.resource_id = any($1) and r.tenant_id = $2 and r.kind = 'instance_group'
               and r.status <> 'deleted'
             order by r.name",
        )
        .bind(&spec.allowed_groups)
        .bind(self.row.tenant_id)
        .fetch_all(&self.ctx.db)
        .await?;
        let waiting: Vec<String> = allowed
            .iter()
            .filter(|(_, sg)| sg.is_none())
            .map(|(name, _)| name.clone())
            .collect();
        let wanted: Vec<(&str, &str)> = allowed
            .iter()
            .filter_map(|(name, sg)| Some((name.as_str(), sg.as_deref()?)))
            .collect();
        let rules = self.networks.group_ingress(security_group_id).await?;
        // Stratus's rules: from an instance group's security group (tracked) or carrying
        // Stratus's description. Others are a person's, and stay.
        let sources: Vec<String> = rules.iter().map(|r| r.source_group_id.clone()).collect();
        let group_sources: Vec<String> = sqlx::query_scalar(
            "select o.provider_id from provider_object o join resource r using (resource_id)
             where o.kind = 'security_group' and r.kind = 'instance_group' and o.provider_id = any($1)",
        )
        .bind(&sources)
        .fetch_all(&self.ctx.db)
        .await?;
        let ours = |rule: &GroupIngress| {
            group_sources.contains(&rule.source_group_id)
                || rule
                    .description
                    .as_deref()
                    .is_some_and(|d| d.starts_with(RULE_DESCRIPTION))
        };
        for rule in rules.iter().filter(|r| {
            ours(r) && !(r.port == port && wanted.iter().any(|(_, sg)| *sg == r.source_group_id))
        }) {
            self.networks
                .revoke_from_group(security_group_id, rule)
                .await?;
            self.ctx
                .progress(
                    22,
                    format!(
                        "security group {security_group_id}: no longer allowing {} on port {}",
                        rule.source_group_id, rule.port
                    ),
                )
                .await?;
        }
        for (name, sg) in wanted.iter().filter(|(_, sg)| {
            !rules
                .iter()
                .any(|r| r.port == port && r.source_group_id == *sg)
        }) {
            self.networks
                .allow_from_group(
                    security_group_id,
                    sg,
                    port,
                    &format!("{RULE_DESCRIPTION} {name}"),
                )
                .await?;
            self.ctx
                .progress(
                    24,
                    format!(
                        "security group {security_group_id}: allowing instance group {name} ({sg}) to connect on port {port}"
                    ),
                )
                .await?;
        }
        Ok(waiting)
    }

    async fn delete(&self) -> Result<(), Step> {
        let ctx = self.ctx;
        let t = tokens(self.database_id);
        let identifier = &self.row.identifier;
        let snapshot = self.row.final_snapshot.as_deref();
        if let Some(observed) = self.databases.describe(identifier).await? {
            if observed.status != "deleting" {
                if observed.deletion_protection {
                    // Stratus set it; the person turned it off before asking for the delete.
                    self.databases
                        .modify(
                            identifier,
                            &DbModification {
                                deletion_protection: Some(false),
                                apply_immediately: true,
                                ..Default::default()
                            },
                        )
                        .await?;
                }
                ctx.progress(
                    20,
                    match snapshot {
                        Some(s) => {
                            format!("deleting DB instance {identifier} after a final snapshot {s}")
                        }
                        None => {
                            format!("deleting DB instance {identifier} without a final snapshot")
                        }
                    },
                )
                .await?;
                match self.databases.delete_instance(identifier, snapshot).await {
                    Ok(()) => {}
                    Err(e) if e.class == ErrorClass::NotFound => {}
                    // Already being deleted by an earlier run: wait for it below.
                    Err(e) if e.code.as_deref() == Some("InvalidDBInstanceState") => {}
                    Err(e) => return Err(e.into()),
                }
                super::failpoint("db_instance.delete_sent").await;
            }
            if let Some(observed) = self.databases.describe(identifier).await? {
                return self
                    .wait(
                        ResourceStatus::Deleting,
                        30,
                        format!(
                            "waiting for DB instance {identifier} ({}) to be deleted",
                            observed.status
                        ),
                        serde_json::json!({ "provider_status": observed.status }),
                    )
                    .await;
            }
        }
        // Anything else carrying the instance's token (a create retried outside Stratus).
        cloud_objects::ensure_absent(
            &ctx.db,
            &self.databases,
            ObjectKind::DbInstance,
            &t.instance,
        )
        .await?;
        ctx.progress(50, format!("DB instance {identifier} is deleted"))
            .await?;
        if let Some(s) = snapshot {
            if self.databases.snapshot_exists(s).await? {
                ctx.progress(55, format!("final snapshot {s} is there"))
                    .await?;
            } else {
                ctx.log(format!("final snapshot {s} is not listed (yet)"))
                    .await?;
            }
        }
        let gone = cloud_objects::ensure_absent(
            &ctx.db,
            &self.databases,
            ObjectKind::DbSubnetGroup,
            &t.subnet_group,
        )
        .await?;
        ctx.progress(70, format!("DB subnet group {} deleted", gone.join(", ")))
            .await?;
        let gone = cloud_objects::ensure_absent(
            &ctx.db,
            &self.networks,
            ObjectKind::SecurityGroup,
            &t.security_group,
        )
        .await?;
        ctx.progress(85, format!("security group {} deleted", gone.join(", ")))
            .await?;

        // Tombstone: the resource row stays as `deleted`; its zones are free again and the
        // credentials secret goes.
        let mut tx = ctx.db.begin().await?;
        let mut conditions = self.row.conditions.0.clone();
        set_condition(
            &mut conditions,
            "Ready",
            ConditionStatus::False,
            "Deleted",
            match snapshot {
                Some(s) => format!("the database is deleted; its final snapshot is {s}"),
                None => "the database is deleted (no final snapshot)".to_string(),
            },
            self.row.generation,
        );
        set_condition(
            &mut conditions,
            "Progressing",
            ConditionStatus::False,
            "Deleted",
            "deleted",
            self.row.generation,
        );
        write_status(
            &mut tx,
            self.fence,
            self.database_id,
            &StatusWrite {
                status: ResourceStatus::Deleted,
                observed_generation: Some(self.row.generation),
                conditions,
                last_error: None,
                outputs: serde_json::json!({ "final_snapshot": snapshot, "provider_status": "deleted" }),
                reconciled: true,
            },
        )
        .await?;
        sqlx::query("delete from resource_zone where resource_id = $1")
            .bind(self.database_id)
            .execute(&mut *tx)
            .await?;
        if let Some(secret_id) = self.row.secret_id {
            sqlx::query("update managed_database set secret_id = null where resource_id = $1")
                .bind(self.database_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("delete from secret where secret_id = $1")
                .bind(secret_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        ctx.progress(
            100,
            match snapshot {
                Some(s) => format!("database {} deleted; final snapshot {s}", self.row.name),
                None => format!("database {} deleted", self.row.name),
            },
        )
        .await?;
        Ok(())
    }
}

/// What must change at the provider for the instance to match the spec. For the next window,
/// values the provider already holds as pending are not asked for again; applied now, they
/// are (with `ApplyImmediately`, which on RDS applies what was pending too). Storage
/// autoscaled above the spec stays.
fn modification(spec: &DatabaseSpec, observed: &ObservedDb) -> DbModification {
    let pending = |field: &str, value: &str| {
        spec.apply == ApplyAt::NextWindow
            && observed
                .pending
                .iter()
                .any(|(f, v)| f == field && v.eq_ignore_ascii_case(value))
    };
    let mut change = DbModification {
        apply_immediately: spec.apply == ApplyAt::Now,
        ..Default::default()
    };
    if spec.instance_class != observed.instance_class
        && !pending("instance_class", &spec.instance_class)
    {
        change.instance_class = Some(spec.instance_class.clone());
    }
    if spec.storage_gb > observed.storage_gb && !pending("storage_gb", &spec.storage_gb.to_string())
    {
        change.storage_gb = Some(spec.storage_gb);
    }
    if spec.max_storage_gb.is_some() && spec.max_storage_gb != observed.max_storage_gb {
        change.max_storage_gb = spec.max_storage_gb;
    }
    let multi_az = spec.standby_zone_id.is_some();
    if multi_az != observed.multi_az && !pending("standby", &multi_az.to_string()) {
        change.multi_az = Some(multi_az);
    }
    if spec.backup_retention_days != observed.backup_retention_days
        && !pending(
            "backup_retention_days",
            &spec.backup_retention_days.to_string(),
        )
    {
        change.backup_retention_days = Some(spec.backup_retention_days);
    }
    let same =
        |a: &str, b: &Option<String>| b.as_deref().is_some_and(|b| b.eq_ignore_ascii_case(a));
    if !same(&spec.backup_window, &observed.backup_window) {
        change.backup_window = Some(spec.backup_window.clone());
    }
    if !same(&spec.maintenance_window, &observed.maintenance_window) {
        change.maintenance_window = Some(spec.maintenance_window.clone());
    }
    if spec.deletion_protection != observed.deletion_protection {
        change.deletion_protection = Some(spec.deletion_protection);
    }
    change
}

fn describe(change: &DbModification) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &change.instance_class {
        parts.push(format!("class {v}"));
    }
    if let Some(v) = change.storage_gb {
        parts.push(format!("storage {v} GiB"));
    }
    if let Some(v) = change.max_storage_gb {
        parts.push(format!("storage ceiling {v} GiB"));
    }
    if let Some(v) = change.multi_az {
        parts.push(if v { "a standby" } else { "no standby" }.to_string());
    }
    if let Some(v) = change.backup_retention_days {
        parts.push(format!("backup retention {v} days"));
    }
    if let Some(v) = &change.backup_window {
        parts.push(format!("backup window {v}"));
    }
    if let Some(v) = &change.maintenance_window {
        parts.push(format!("maintenance window {v}"));
    }
    if let Some(v) = change.deletion_protection {
        parts.push(format!(
            "deletion protection {}",
            if v { "on" } else { "off" }
        ));
    }
    parts.join(", ")
}

fn outputs(
    observed: &ObservedDb,
    security_group_id: &str,
    spec: &DatabaseSpec,
) -> serde_json::Value {
    let pending: Vec<FieldChange> = observed
        .pending
        .iter()
        .map(|(field, new)| FieldChange {
            field: field.clone(),
            old: match field.as_str() {
                "instance_class" => Some(observed.instance_class.clone()),
                "storage_gb" => Some(observed.storage_gb.to_string()),
                "backup_retention_days" => Some(observed.backup_retention_days.to_string()),
                "standby" => Some(observed.multi_az.to_string()),
                _ => None,
            },
            new: Some(new.clone()),
        })
        .collect();
    serde_json::json!({
        "provider_status": observed.status,
        "endpoint_host": observed.endpoint_host,
        "endpoint_port": observed.endpoint_port,
        "security_group_id": security_group_id,
        "subnet_group": observed.subnet_group,
        "availability_zone": observed.availability_zone,
        "secondary_availability_zone": observed.secondary_availability_zone,
        "storage_gb": observed.storage_gb,
        "pending": pending,
        "apply": spec.apply,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(class: &str, apply: ApplyAt) -> DatabaseSpec {
        DatabaseSpec {
            engine: "postgres".into(),
            engine_version: "17".into(),
            instance_class: class.into(),
            storage_gb: 20,
            max_storage_gb: None,
            zone_id: Uuid::nil(),
            standby_zone_id: None,
            subnet_zone_ids: Vec::new(),
            backup_retention_days: 7,
            backup_window: "03:00-03:30".into(),
            maintenance_window: "sun:04:00-sun:04:30".into(),
            deletion_protection: true,
            apply,
            allowed_groups: Vec::new(),
        }
    }

    fn observed(class: &str, pending: &[(&str, &str)]) -> ObservedDb {
        ObservedDb {
            identifier: "stratus-x".into(),
            status: "available".into(),
            instance_class: class.into(),
            storage_gb: 20,
            max_storage_gb: None,
            multi_az: false,
            availability_zone: None,
            secondary_availability_zone: None,
            backup_retention_days: 7,
            backup_window: Some("03:00-03:30".into()),
            maintenance_window: Some("sun:04:00-sun:04:30".into()),
            deletion_protection: true,
            endpoint_host: None,
            endpoint_port: None,
            subnet_group: None,
            pending: pending
                .iter()
                .map(|(f, v)| (f.to_string(), v.to_string()))
                .collect(),
            tags: Default::default(),
        }
    }

    #[test]
    fn a_change_for_the_window_is_not_asked_again_while_pending() {
        let held = observed("db.t3.micro", &[("instance_class", "db.t3.small")]);
        assert!(modification(&spec("db.t3.small", ApplyAt::NextWindow), &held).is_empty());
        let fresh = modification(
            &spec("db.t3.small", ApplyAt::NextWindow),
            &observed("db.t3.micro", &[]),
        );
        assert_eq!(fresh.instance_class.as_deref(), Some("db.t3.small"));
        assert!(!fresh.apply_immediately);
    }

    #[test]
    fn applied_now_a_pending_change_is_asked_again_immediately() {
        let held = observed("db.t3.micro", &[("instance_class", "db.t3.small")]);
        let change = modification(&spec("db.t3.small", ApplyAt::Now), &held);
        assert_eq!(change.instance_class.as_deref(), Some("db.t3.small"));
        assert!(change.apply_immediately);
    }
}
