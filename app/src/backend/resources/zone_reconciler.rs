//! The zone reconciler: makes the tenant's VPC (shared per account and region), the zone's
//! subnet and security group exist with their tags, or, once deletion was asked for, removes
//! them (the VPC with the region's last zone) and tombstones the row.
//!
//! Every object goes through [`cloud_objects`](super::cloud_objects) (intent row, tag lookup,
//! adopt-or-create), so a worker killed between a create and its record, or a lost reply,
//! still ends with exactly one of each.

use super::cloud_objects::{self, EnsureError, Owner};
use super::{installation_id, set_condition, write_status, Engine, Fence, StatusWrite};
use crate::backend::cloud::providers::network::{AwsNetworks, ObjectKind, Ownership};
use crate::backend::cloud::providers::{self, ErrorClass};
use crate::backend::jobs::worker::{JobContext, JobError};
use crate::model::resources::{Condition, ConditionStatus, ResourceStatus};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct ZoneRow {
    tenant_id: Uuid,
    name: String,
    cloud_account_id: Uuid,
    generation: i64,
    status: ResourceStatus,
    conditions: Json<Vec<Condition>>,
    deletion_requested_at: Option<time::OffsetDateTime>,
    availability_zone: String,
    subnet_cidr: String,
    network_id: Uuid,
    network_cidr: String,
    region: String,
    tenant_slug: String,
}

fn tokens(zone_id: Uuid, network_id: Uuid) -> (String, String, String) {
    (
        format!("vpc:{network_id}"),
        format!("subnet:{zone_id}"),
        format!("security-group:{zone_id}"),
    )
}

pub(super) async fn run(ctx: &JobContext, engine: &Engine, zone_id: Uuid) -> Result<(), JobError> {
    let row: Option<ZoneRow> = sqlx::query_as(
        "select r.tenant_id, r.name, r.cloud_account_id, r.generation, r.status, r.conditions,
                r.deletion_requested_at, z.availability_zone, z.subnet_cidr::text as subnet_cidr,
                z.network_id, n.cidr::text as network_cidr, n.region, t.slug as tenant_slug
         from resource r join zone z using (resource_id) join zone_network n on n.network_id = z.network_id
         join tenant t on t.tenant_id = r.tenant_id
         where r.resource_id = $1 and r.status <> 'deleted'",
    )
    .bind(zone_id)
    .fetch_optional(&ctx.db)
    .await
    .map_err(JobError::failed)?;
    let Some(zone) = row else { return Ok(()) };
    let fence = Fence::of(ctx);
    let installation = installation_id(&ctx.db).await.map_err(JobError::failed)?;
    let account = providers::open(
        &ctx.db,
        &engine.keyring,
        zone.tenant_id,
        zone.cloud_account_id,
    )
    .await
    .map_err(|e| JobError::Fatal(format!("cannot open the cloud account: {e}")))?;
    let networks = account.networks();
    let outcome = if zone.deletion_requested_at.is_some() {
        delete(ctx, fence, &networks, zone_id, &zone).await
    } else {
        provision(ctx, fence, &networks, installation, zone_id, &zone).await
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(Step::Job(e)) => Err(e),
        Err(Step::Ensure(EnsureError::Database(e))) => Err(JobError::failed(e)),
        Err(Step::Ensure(EnsureError::Provider(e))) => {
            // The provider's words, verbatim, on the resource and the job.
            let terminal = e.class == ErrorClass::Terminal;
            let last_attempt = ctx.job.attempt >= ctx.job.max_attempts;
            let mut conditions = zone.conditions.0.clone();
            let (status, reason) = if terminal || last_attempt {
                (ResourceStatus::Failed, "ProviderError")
            } else {
                (zone.status, "Retrying")
            };
            set_condition(
                &mut conditions,
                "Ready",
                ConditionStatus::False,
                reason,
                e.message.clone(),
                zone.generation,
            );
            if !terminal && !last_attempt {
                set_condition(
                    &mut conditions,
                    "Progressing",
                    ConditionStatus::True,
                    reason,
                    format!("will retry: {}", e.message),
                    zone.generation,
                );
            } else {
                set_condition(
                    &mut conditions,
                    "Progressing",
                    ConditionStatus::False,
                    reason,
                    "stopped: retry the job, or change the zone",
                    zone.generation,
                );
            }
            let mut conn = ctx.db.acquire().await.map_err(JobError::failed)?;
            write_status(
                &mut conn,
                fence,
                zone_id,
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
    }
}

/// Why a step stopped: a job outcome (lease lost, cancelled), or an object that could not be ensured.
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

impl From<sqlx::Error> for Step {
    fn from(e: sqlx::Error) -> Self {
        Step::Job(JobError::failed(e))
    }
}

async fn provision(
    ctx: &JobContext,
    fence: Fence,
    networks: &AwsNetworks,
    installation: Uuid,
    zone_id: Uuid,
    zone: &ZoneRow,
) -> Result<(), Step> {
    let (vpc_token, subnet_token, sg_token) = tokens(zone_id, zone.network_id);
    let status = match zone.status {
        ResourceStatus::Pending | ResourceStatus::Failed => ResourceStatus::Provisioning,
        ResourceStatus::Ready => ResourceStatus::Updating,
        other => other,
    };
    let mut conditions = zone.conditions.0.clone();
    set_condition(
        &mut conditions,
        "Progressing",
        ConditionStatus::True,
        "Reconciling",
        "checking the zone's network",
        zone.generation,
    );
    let mut conn = ctx.db.acquire().await?;
    write_status(
        &mut conn,
        fence,
        zone_id,
        &StatusWrite {
            status,
            observed_generation: None,
            conditions: conditions.clone(),
            last_error: None,
            outputs: serde_json::json!({}),
            reconciled: false,
        },
    )
    .await?;
    drop(conn);

    let owner = |resource: Uuid, token: &str, name: String| Ownership {
        installation,
        tenant: zone.tenant_id,
        resource,
        token: token.to_string(),
        name,
    };
    let intent = |resource_id: Option<Uuid>, network_id: Option<Uuid>| Owner {
        tenant_id: zone.tenant_id,
        cloud_account_id: zone.cloud_account_id,
        resource_id,
        network_id,
    };
    ctx.progress(
        10,
        format!(
            "VPC {} in {}: looking it up",
            zone.network_cidr, zone.region
        ),
    )
    .await?;
    let vpc_owner = owner(
        zone.network_id,
        &vpc_token,
        format!("stratus/{}/{}", zone.tenant_slug, zone.region),
    );
    let vpc_id = cloud_objects::ensure_present(
        &ctx.db,
        networks,
        intent(None, Some(zone.network_id)),
        ObjectKind::Vpc,
        &vpc_token,
        || networks.create_vpc(&zone.network_cidr, &vpc_owner),
    )
    .await?;
    ctx.progress(35, format!("VPC {vpc_id} ({}) is there", zone.network_cidr))
        .await?;

    let object_name = format!("stratus/{}/{}", zone.tenant_slug, zone.name);
    let subnet_owner = owner(zone_id, &subnet_token, object_name.clone());
    let subnet_id = cloud_objects::ensure_present(
        &ctx.db,
        networks,
        intent(Some(zone_id), None),
        ObjectKind::Subnet,
        &subnet_token,
        || {
            networks.create_subnet(
                &vpc_id,
                &zone.availability_zone,
                &zone.subnet_cidr,
                &subnet_owner,
            )
        },
    )
    .await?;
    ctx.progress(
        60,
        format!(
            "subnet {subnet_id} ({}) in {} is there",
            zone.subnet_cidr, zone.availability_zone
        ),
    )
    .await?;

    let sg_owner = owner(zone_id, &sg_token, object_name.clone());
    let group_name = format!("stratus-{zone_id}");
    let sg_id = cloud_objects::ensure_present(
        &ctx.db,
        networks,
        intent(Some(zone_id), None),
        ObjectKind::SecurityGroup,
        &sg_token,
        || {
            networks.create_security_group(
                &vpc_id,
                &group_name,
                "Stratus zone security group",
                &sg_owner,
            )
        },
    )
    .await?;
    ctx.progress(80, format!("security group {sg_id} is there"))
        .await?;

    // Names follow renames; setting them again is harmless.
    for id in [&subnet_id, &sg_id] {
        networks
            .rename(id, &object_name)
            .await
            .map_err(EnsureError::Provider)?;
    }

    // Done for the generation read at the start; a change since then runs us again.
    set_condition(
        &mut conditions,
        "Ready",
        ConditionStatus::True,
        "NetworkReady",
        format!("VPC {vpc_id}, subnet {subnet_id}, security group {sg_id}"),
        zone.generation,
    );
    set_condition(
        &mut conditions,
        "Progressing",
        ConditionStatus::False,
        "Reconciled",
        "the zone matches its spec",
        zone.generation,
    );
    let mut conn = ctx.db.acquire().await?;
    write_status(&mut conn, fence, zone_id, &StatusWrite {
        status: ResourceStatus::Ready,
        observed_generation: Some(zone.generation),
        conditions,
        last_error: None,
        outputs: serde_json::json!({ "vpc_id": vpc_id, "subnet_id": subnet_id, "security_group_id": sg_id }),
        reconciled: true,
    })
    .await?;
    ctx.progress(100, format!("zone {} is ready", zone.name))
        .await?;
    let generation: i64 =
        sqlx::query_scalar("select generation from resource where resource_id = $1")
            .bind(zone_id)
            .fetch_one(&mut *conn)
            .await?;
    if generation != zone.generation {
        return Err(Step::Job(JobError::Requeue(std::time::Duration::ZERO)));
    }
    Ok(())
}

async fn delete(
    ctx: &JobContext,
    fence: Fence,
    networks: &AwsNetworks,
    zone_id: Uuid,
    zone: &ZoneRow,
) -> Result<(), Step> {
    let (vpc_token, subnet_token, sg_token) = tokens(zone_id, zone.network_id);
    ctx.progress(10, "deleting the security group").await?;
    let gone =
        cloud_objects::ensure_absent(&ctx.db, networks, ObjectKind::SecurityGroup, &sg_token)
            .await?;
    ctx.progress(35, format!("security group {} deleted", gone.join(", ")))
        .await?;
    let gone =
        cloud_objects::ensure_absent(&ctx.db, networks, ObjectKind::Subnet, &subnet_token).await?;
    ctx.progress(60, format!("subnet {} deleted", gone.join(", ")))
        .await?;

    // The VPC goes with the region's last zone. The network row is locked while deciding and
    // deleting, so a zone being created in the same region either sees no network (and makes
    // a new one) or is seen here (and the VPC stays).
    let mut tx = ctx.db.begin().await?;
    let network: Option<Uuid> =
        sqlx::query_scalar("select network_id from zone_network where network_id = $1 for update")
            .bind(zone.network_id)
            .fetch_optional(&mut *tx)
            .await?;
    let others: i64 = sqlx::query_scalar(
        "select count(*) from zone z join resource r using (resource_id)
         where z.network_id = $1 and z.resource_id <> $2 and r.status <> 'deleted'",
    )
    .bind(zone.network_id)
    .bind(zone_id)
    .fetch_one(&mut *tx)
    .await?;
    let last = network.is_some() && others == 0;
    if last {
        ctx.progress(
            75,
            format!(
                "deleting VPC {} (the tenant's last zone in {})",
                zone.network_cidr, zone.region
            ),
        )
        .await?;
        let gone =
            cloud_objects::ensure_absent(&ctx.db, networks, ObjectKind::Vpc, &vpc_token).await?;
        ctx.progress(90, format!("VPC {} deleted", gone.join(", ")))
            .await?;
    }
    // Tombstone: the zone row goes (freeing its subnet range), the resource row stays as `deleted`.
    let mut conditions = zone.conditions.0.clone();
    set_condition(
        &mut conditions,
        "Ready",
        ConditionStatus::False,
        "Deleted",
        "the zone and its cloud objects are deleted",
        zone.generation,
    );
    set_condition(
        &mut conditions,
        "Progressing",
        ConditionStatus::False,
        "Deleted",
        "deleted",
        zone.generation,
    );
    write_status(
        &mut tx,
        fence,
        zone_id,
        &StatusWrite {
            status: ResourceStatus::Deleted,
            observed_generation: Some(zone.generation),
            conditions,
            last_error: None,
            outputs: serde_json::json!({}),
            reconciled: true,
        },
    )
    .await?;
    sqlx::query("delete from zone where resource_id = $1")
        .bind(zone_id)
        .execute(&mut *tx)
        .await?;
    if last {
        sqlx::query("delete from zone_network where network_id = $1")
            .bind(zone.network_id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    ctx.progress(100, format!("zone {} deleted", zone.name))
        .await?;
    Ok(())
}
