//! The group reconciler (PROVISIONING.md §2): one bounded step per run, then requeue.
//!
//! A run observes first (the group's rows brought in line with what the provider lists under
//! the group's tag, adopting instances of a launch whose record was lost), runs the pure
//! planner, writes the plan to the job log when it acts or waits for something new, applies
//! the plan's one step (terminations, then one batched launch per zone, all zones at once),
//! and writes status and conditions through the job's lease. It requeues itself while anything
//! is in flight or a zone's capacity wait will expire; a converged group's job ends, and the
//! resync (`STRATUS_GROUP_RESYNC_MS`) runs it again, which is how instances terminated or
//! stopped behind Stratus's back are found and replaced.
//!
//! Every instance carries the group's own security group besides its zone's, made by the
//! first run in the tenant's VPC through [`cloud_objects`] (write-ahead intent, tag, adoption),
//! so a database can admit this group and no other group of the zone.
//!
//! A delete terminates every instance (protected ones too), confirms at the provider that none
//! is left, naming what it waits for, deletes the group's security group (confirmed absent),
//! then tombstones the group, which releases its quota and its zones.

use super::instances::{self, InstanceError, InstanceRow};
use super::planner::{self, GroupCondition, GroupPlan, Step, TerminateReason};
use super::write::{capacity_failures, planner_spec, zone_refs, GroupSpecDoc, ZoneRef};
use crate::backend::cloud::providers::instances::{AwsInstances, LaunchRequest};
use crate::backend::cloud::providers::network::{AwsNetworks, ObjectKind, Ownership};
use crate::backend::cloud::providers::{self, ErrorClass, ProviderError};
use crate::backend::jobs::worker::{JobContext, JobError};
use crate::backend::resources::cloud_objects::{self, EnsureError, Owner};
use crate::backend::resources::{
    installation_id, set_condition, write_status, Engine, Fence, StatusWrite,
};
use crate::model::groups::{GroupTemplate, InstanceState, ZonePlan};
use crate::model::resources::{Condition, ConditionStatus, ResourceStatus};
use sqlx::types::Json;
use sqlx::PgConnection;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// After a step: look again soon (the sandbox reports instances running at once; AWS takes
/// seconds, and the next run simply sees them still pending).
const AFTER_STEP: Duration = Duration::from_millis(250);
/// While instances are starting or stopping and there is nothing to do.
const IN_FLIGHT: Duration = Duration::from_secs(1);
/// The longest a capacity wait sleeps before looking again.
const CAPACITY_WAIT_MAX: Duration = Duration::from_secs(30);
/// While the group's security group cannot be deleted yet (AWS frees it some time after the
/// last instance terminated, or a database's rule still names it).
const SECURITY_GROUP_BUSY: Duration = Duration::from_secs(5);

#[derive(sqlx::FromRow)]
struct GroupRow {
    tenant_id: Uuid,
    name: String,
    cloud_account_id: Uuid,
    generation: i64,
    status: ResourceStatus,
    conditions: Json<Vec<Condition>>,
    outputs: serde_json::Value,
    deletion_requested_at: Option<OffsetDateTime>,
    spec: Json<GroupSpecDoc>,
    revision: i64,
    min_size: i32,
    max_size: i32,
    desired: i32,
    template: Json<GroupTemplate>,
    tenant_slug: String,
}

pub(crate) async fn run(ctx: &JobContext, engine: &Engine, group_id: Uuid) -> Result<(), JobError> {
    let row: Option<GroupRow> = sqlx::query_as(
        "select r.tenant_id, r.name, r.cloud_account_id, r.generation, r.status, r.conditions,
                r.outputs, r.deletion_requested_at, r.spec, g.revision, g.min_size, g.max_size,
                g.desired, t.template, tn.slug as tenant_slug
         from resource r join instance_group g using (resource_id)
         join instance_group_template t on t.resource_id = r.resource_id and t.revision = g.revision
         join tenant tn on tn.tenant_id = r.tenant_id
         where r.resource_id = $1 and r.status <> 'deleted'",
    )
    .bind(group_id)
    .fetch_optional(&ctx.db)
    .await
    .map_err(JobError::failed)?;
    let Some(group) = row else { return Ok(()) };
    let fence = Fence::of(ctx);
    let account = providers::open(
        &ctx.db,
        &engine.keyring,
        &engine.endpoints,
        group.tenant_id,
        group.cloud_account_id,
    )
    .await
    .map_err(|e| JobError::Fatal(format!("cannot open the cloud account: {e}")))?;
    let provider = AwsInstances::new(&account.target);
    let networks = account.networks();
    let outcome = if group.deletion_requested_at.is_some() {
        delete(ctx, fence, &provider, &networks, group_id, &group).await
    } else {
        provision(ctx, fence, &provider, &networks, group_id, &group).await
    };
    match outcome {
        Ok(()) => Ok(()),
        Err(Stop::Job(e)) => Err(e),
        Err(Stop::Provider(e)) => fail(ctx, fence, group_id, &group, e).await,
    }
}

fn health_grace(group: &GroupRow) -> time::Duration {
    time::Duration::seconds(i64::from(group.spec.0.policy.health_grace_secs))
}

/// Why a run stopped early.
enum Stop {
    Job(JobError),
    Provider(ProviderError),
}

impl From<JobError> for Stop {
    fn from(e: JobError) -> Self {
        Stop::Job(e)
    }
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Stop::Job(JobError::failed(e))
    }
}

impl From<ProviderError> for Stop {
    fn from(e: ProviderError) -> Self {
        Stop::Provider(e)
    }
}

impl From<EnsureError> for Stop {
    fn from(e: EnsureError) -> Self {
        match e {
            EnsureError::Provider(e) => Stop::Provider(e),
            EnsureError::Database(e) => Stop::Job(JobError::failed(e)),
        }
    }
}

impl From<InstanceError> for Stop {
    fn from(e: InstanceError) -> Self {
        match e {
            InstanceError::Provider(e) => Stop::Provider(e),
            InstanceError::Database(e) => Stop::Job(JobError::failed(e)),
            InstanceError::LeaseLost => Stop::Job(JobError::LeaseLost),
        }
    }
}

/// A provider call failed outright: its words on the group and the job. Terminal errors (a bad
/// image, a quota at the provider) stop until the spec changes; others retry with backoff, and
/// when the job's attempts run out (a worker killed mid-run also uses one) the group is not
/// marked failed: the resync runs it again, as for any transient trouble. (The chaos test met
/// a lost TerminateInstances reply on a last attempt, which stopped the group for good.)
async fn fail(
    ctx: &JobContext,
    fence: Fence,
    group_id: Uuid,
    group: &GroupRow,
    e: ProviderError,
) -> Result<(), JobError> {
    let terminal = matches!(e.class, ErrorClass::Terminal | ErrorClass::NotFound);
    let mut conditions = group.conditions.0.clone();
    let stopped = terminal;
    let (status, reason) = if stopped {
        (ResourceStatus::Failed, "ProviderError")
    } else {
        (group.status, "Retrying")
    };
    set_condition(
        &mut conditions,
        "Ready",
        ConditionStatus::False,
        reason,
        e.message.clone(),
        group.generation,
    );
    set_condition(
        &mut conditions,
        "Progressing",
        if stopped {
            ConditionStatus::False
        } else {
            ConditionStatus::True
        },
        reason,
        if stopped {
            "stopped: change the group, or retry the job".to_string()
        } else {
            format!("will retry: {}", e.message)
        },
        group.generation,
    );
    let mut conn = ctx.db.acquire().await.map_err(JobError::failed)?;
    write_status(
        &mut conn,
        fence,
        group_id,
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

fn in_flight(rows: &[InstanceRow]) -> bool {
    rows.iter().any(|r| {
        matches!(
            InstanceState::parse(&r.state),
            Some(
                InstanceState::Launching
                    | InstanceState::Pending
                    | InstanceState::Stopping
                    | InstanceState::ShuttingDown
            )
        )
    })
}

fn reason_label(reason: TerminateReason) -> &'static str {
    match reason {
        TerminateReason::Repair => "repair",
        TerminateReason::ScaleIn => "scale-in",
        TerminateReason::Rollout => "rollout",
    }
}

/// The plan in one line per step, for the job log.
fn describe(plan: &GroupPlan, template: &GroupTemplate) -> Vec<String> {
    let mut lines = Vec::new();
    for step in &plan.steps {
        match step {
            Step::Launch {
                zone,
                count,
                revision,
            } => lines.push(format!(
                "plan: launch {count} × {} in {zone} (revision {revision})",
                template.instance_type
            )),
            Step::Terminate { zone, ids, reason } => lines.push(format!(
                "plan: terminate {} in {zone} ({}): {}",
                ids.len(),
                reason_label(*reason),
                ids.join(", ")
            )),
        }
    }
    let zones: Vec<String> = plan
        .zones
        .iter()
        .map(|z| format!("{} {}→{}", z.zone, z.current, z.target))
        .collect();
    if !lines.is_empty() {
        lines.push(format!("plan: zones {}", zones.join(", ")));
    }
    lines
}

/// The launch of `count` instances of `template` in zone `z` under `token`, in the zone's
/// security group and the group's own.
#[allow(clippy::too_many_arguments)]
fn launch_request(
    z: &ZoneRef,
    group_security_group: &str,
    template: &GroupTemplate,
    count: u32,
    revision: i64,
    token: String,
    group: &GroupRow,
    group_id: Uuid,
) -> LaunchRequest {
    LaunchRequest {
        availability_zone: z.availability_zone.clone(),
        subnet_id: z.subnet_id.clone(),
        security_group_ids: z
            .security_group_id
            .iter()
            .cloned()
            .chain([group_security_group.to_string()])
            .collect(),
        image_id: template.image_id.clone(),
        instance_type: template.instance_type.clone(),
        user_data: template.user_data.clone(),
        count,
        owner: Ownership {
            installation: Uuid::nil(),
            tenant: group.tenant_id,
            resource: group_id,
            token,
            name: format!("stratus/{}/{}", group.tenant_slug, group.name),
        },
        revision,
        extra_tags: template
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// The group's own security group in the tenant's VPC: the recorded one if it still exists,
/// else one found by its tag, else a new one. Said in the job log when it is new to the group.
async fn ensure_security_group(
    ctx: &JobContext,
    networks: &AwsNetworks,
    group_id: Uuid,
    group: &GroupRow,
) -> Result<String, Stop> {
    // The group's zones share one account and region, so one VPC (made by the zones).
    let vpc_id: Option<String> = sqlx::query_scalar(
        "select v.provider_id from zone z
         join provider_object v on v.network_id = z.network_id and v.kind = 'vpc'
         where z.resource_id = any($1) and v.provider_id is not null limit 1",
    )
    .bind(&group.spec.0.zone_ids)
    .fetch_optional(&ctx.db)
    .await?;
    let Some(vpc_id) = vpc_id else {
        ctx.progress(5, "waiting for the zones' network (VPC) to be made")
            .await?;
        return Err(Stop::Job(JobError::Requeue(IN_FLIGHT)));
    };
    let token = super::security_group_token(group_id);
    let owner = Ownership {
        installation: installation_id(&ctx.db).await?,
        tenant: group.tenant_id,
        resource: group_id,
        token: token.clone(),
        name: format!("stratus/{}/{}", group.tenant_slug, group.name),
    };
    let group_name = format!("stratus-ig-{}", group_id.simple());
    let description = format!("Stratus instance group {}", group.name);
    let id = cloud_objects::ensure_present(
        &ctx.db,
        networks,
        Owner {
            tenant_id: group.tenant_id,
            cloud_account_id: group.cloud_account_id,
            resource_id: Some(group_id),
            network_id: None,
        },
        ObjectKind::SecurityGroup,
        &token,
        || networks.create_security_group(&vpc_id, &group_name, &description, &owner),
    )
    .await?;
    if group
        .outputs
        .get("security_group_id")
        .and_then(|v| v.as_str())
        != Some(id.as_str())
    {
        ctx.progress(5, format!("security group {id} of the group is there"))
            .await?;
    }
    Ok(id)
}

async fn provision(
    ctx: &JobContext,
    fence: Fence,
    provider: &AwsInstances,
    networks: &AwsNetworks,
    group_id: Uuid,
    group: &GroupRow,
) -> Result<(), Stop> {
    let now = OffsetDateTime::now_utc();
    // The group's security group and the look at its instances do not depend on each other:
    // made together, a new group's first run does not wait for CreateSecurityGroup before it
    // looks (create → Ready is benchmarked against bare RunInstances calls).
    let (security_group_id, observed) = tokio::join!(
        ensure_security_group(ctx, networks, group_id, group),
        instances::observe_listed(
            &ctx.db,
            provider,
            group.tenant_id,
            group_id,
            now,
            health_grace(group),
        ),
    );
    let security_group_id = security_group_id?;
    let (rows, listed) = observed?;
    // Instances without the group's security group (launched before groups had one, or
    // changed behind Stratus's back) get it added to the groups they are in.
    for p in listed.iter().filter(|p| {
        matches!(p.state.as_str(), "running" | "stopped")
            && !p.security_groups.contains(&security_group_id)
    }) {
        let mut groups = p.security_groups.clone();
        groups.push(security_group_id.clone());
        provider
            .set_security_groups(&p.instance_id, &groups)
            .await?;
        ctx.log(format!(
            "instance {}: security group {security_group_id} of the group added",
            p.instance_id
        ))
        .await?;
    }
    let failures = capacity_failures(&ctx.db, group_id).await?;
    let policy = &group.spec.0.policy;
    let zones: Vec<ZoneRef> = {
        let mut conn = ctx.db.acquire().await?;
        zone_refs(&mut conn, group.tenant_id, &group.spec.0.zone_ids).await?
    };
    let spec = planner_spec(
        &zones,
        policy,
        group.revision,
        group.min_size as u32,
        group.max_size as u32,
        group.desired as u32,
    );
    let observed: Vec<_> = rows.iter().map(InstanceRow::observed).collect();
    let plan = planner::plan(&spec, &observed, &failures, now);
    let template = &group.template.0;

    // Why before what: the plan goes to the job log before anything is done, and what the
    // group waits for whenever it changes (not at every look).
    let previous_waiting: Vec<String> = group
        .outputs
        .get("waiting")
        .and_then(|w| serde_json::from_value(w.clone()).ok())
        .unwrap_or_default();
    for line in describe(&plan, template) {
        ctx.log(line).await?;
    }
    if plan.waiting != previous_waiting || !plan.steps.is_empty() {
        for line in &plan.waiting {
            ctx.log(format!("waiting: {line}")).await?;
        }
    }
    let generation_status = match group.status {
        ResourceStatus::Pending | ResourceStatus::Failed => ResourceStatus::Provisioning,
        ResourceStatus::Ready => ResourceStatus::Updating,
        other => other,
    };

    // Terminations first: the planner only chose them where enough instances run already.
    let total_steps = plan.steps.len().max(1);
    let mut done_steps = 0usize;
    let progress = |done: usize| (10 + 80 * done / total_steps).min(95) as u8;
    for step in &plan.steps {
        if let Step::Terminate { zone, ids, reason } = step {
            // A row without a provider id (a launch not seen yet) has nothing to terminate.
            let ids: Vec<String> = ids
                .iter()
                .filter(|i| i.starts_with("i-"))
                .cloned()
                .collect();
            if ids.is_empty() {
                continue;
            }
            ctx.progress(
                progress(done_steps),
                format!(
                    "terminating {} in {zone} ({}): {}",
                    ids.len(),
                    reason_label(*reason),
                    ids.join(", ")
                ),
            )
            .await?;
            instances::terminate(&ctx.db, provider, group_id, &ids).await?;
            done_steps += 1;
        }
    }
    // Launches a stopped run left behind (rows without instances, nobody holding their lock):
    // resumed with their own tokens, so a call that did land is found, not made again.
    let mut resumed: Vec<(LaunchRequest, String)> = Vec::new();
    for batch in instances::abandoned(&ctx.db, &rows).await? {
        let Some(z) = zones
            .iter()
            .find(|z| z.availability_zone == batch.availability_zone)
        else {
            // A zone the group left: the rows lapse after LAUNCH_UNSEEN_AFTER.
            continue;
        };
        let batch_template = if batch.revision == group.revision {
            template.clone()
        } else {
            let old: Option<Json<GroupTemplate>> = sqlx::query_scalar(
                "select template from instance_group_template where resource_id = $1 and revision = $2",
            )
            .bind(group_id)
            .bind(batch.revision)
            .fetch_optional(&ctx.db)
            .await?;
            match old {
                Some(t) => t.0,
                None => continue,
            }
        };
        ctx.log(format!(
            "resuming the launch of {} in {} that a stopped run left, token {}",
            batch.count, batch.availability_zone, batch.token
        ))
        .await?;
        resumed.push((
            launch_request(
                z,
                &security_group_id,
                &batch_template,
                batch.count,
                batch.revision,
                batch.token,
                group,
                group_id,
            ),
            z.name.clone(),
        ));
    }
    let launches: Vec<(LaunchRequest, String)> = plan
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::Launch {
                zone,
                count,
                revision,
            } => {
                let z = zones.iter().find(|z| z.availability_zone == *zone)?;
                Some((
                    launch_request(
                        z,
                        &security_group_id,
                        template,
                        *count,
                        *revision,
                        instances::new_token(),
                        group,
                        group_id,
                    ),
                    z.name.clone(),
                ))
            }
            Step::Terminate { .. } => None,
        })
        .collect();
    let acted = !plan.steps.is_empty() || !resumed.is_empty();
    let launches: Vec<(LaunchRequest, String)> = resumed.into_iter().chain(launches).collect();
    let mut launches_ok = true;
    if !launches.is_empty() {
        let installation = installation_id(&ctx.db).await?;
        let mut requests = Vec::new();
        for (mut req, zone_name) in launches {
            req.owner.installation = installation;
            ctx.progress(
                progress(done_steps),
                format!(
                    "launching {} × {} in {} (zone {zone_name}), token {}",
                    req.count, req.instance_type, req.availability_zone, req.owner.token
                ),
            )
            .await?;
            requests.push(req);
        }
        // One call per zone, every zone at once.
        let results = futures_util::future::join_all(requests.iter().map(|req| {
            instances::launch_batch(
                &ctx.db,
                provider,
                group.tenant_id,
                group_id,
                req,
                Some(fence),
            )
        }))
        .await;
        for (req, result) in requests.iter().zip(results) {
            done_steps += 1;
            let zone = &req.availability_zone;
            launches_ok &= result.is_ok();
            match result {
                Ok(ids) => {
                    ctx.progress(
                        progress(done_steps),
                        format!("launched in {zone}: {}", ids.join(", ")),
                    )
                    .await?;
                    // The zone has capacity again.
                    sqlx::query(
                        "delete from instance_group_capacity_failure where resource_id = $1 and availability_zone = $2",
                    )
                    .bind(group_id)
                    .bind(zone)
                    .execute(&ctx.db)
                    .await?;
                }
                Err(InstanceError::Provider(e)) => match e.class {
                    ErrorClass::Capacity { .. } => {
                        ctx.log(format!(
                            "zone {zone} cannot launch {}: {}",
                            req.count, e.message
                        ))
                        .await?;
                    }
                    ErrorClass::UnknownOutcome => {
                        ctx.log(format!(
                            "launch of {} in {zone}: no answer ({}); the next run looks for token {} by tag",
                            req.count, e.message, req.owner.token
                        ))
                        .await?;
                    }
                    ErrorClass::Retryable => {
                        ctx.log(format!(
                            "launch of {} in {zone} will be retried: {}",
                            req.count, e.message
                        ))
                        .await?;
                    }
                    ErrorClass::Terminal | ErrorClass::NotFound => {
                        return Err(Stop::Provider(e));
                    }
                },
                Err(e) => return Err(e.into()),
            }
        }
    }

    // Look again at once after acting: where instances start and stop at once (the sandbox)
    // the group is converged now and Ready without another run; elsewhere (AWS: pending for a
    // while) this costs one more look and the run requeues as before.
    let (mut rows, mut plan, mut failures, mut acted) = (rows, plan, failures, acted);
    if acted && launches_ok {
        let again = instances::observe(
            &ctx.db,
            provider,
            group.tenant_id,
            group_id,
            OffsetDateTime::now_utc(),
            health_grace(group),
        )
        .await?;
        let failures_again = capacity_failures(&ctx.db, group_id).await?;
        let observed: Vec<_> = again.iter().map(InstanceRow::observed).collect();
        let next = planner::plan(&spec, &observed, &failures_again, OffsetDateTime::now_utc());
        if next.converged && next.steps.is_empty() {
            (rows, plan, failures, acted) = (again, next, failures_again, false);
        }
    }

    // Status and conditions, for the generation read at the start.
    let converged = plan.converged && !acted;
    let mut conditions = group.conditions.0.clone();
    let running = rows.iter().filter(|r| r.state == "running").count();
    let capacity_blocked = plan.zones.iter().any(|z| z.capacity_failure.is_some());
    if converged {
        set_condition(
            &mut conditions,
            "Ready",
            ConditionStatus::True,
            "Converged",
            format!(
                "{} instances running on revision {}: {}",
                running,
                group.revision,
                plan.zones
                    .iter()
                    .map(|z| format!("{} {}", z.zone, z.current))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            group.generation,
        );
        set_condition(
            &mut conditions,
            "Progressing",
            ConditionStatus::False,
            "Reconciled",
            "the group matches its spec",
            group.generation,
        );
    } else {
        let (reason, message) = if capacity_blocked && !acted {
            ("WaitingForCapacity", plan.waiting.join("; "))
        } else if acted {
            ("Scaling", describe(&plan, template).join("; "))
        } else {
            (
                "Waiting",
                if plan.waiting.is_empty() {
                    "waiting for instances to start or stop".to_string()
                } else {
                    plan.waiting.join("; ")
                },
            )
        };
        set_condition(
            &mut conditions,
            "Ready",
            ConditionStatus::False,
            reason,
            message.clone(),
            group.generation,
        );
        set_condition(
            &mut conditions,
            "Progressing",
            ConditionStatus::True,
            reason,
            message,
            group.generation,
        );
    }
    for c in [GroupCondition::Degraded, GroupCondition::ZoneImbalanced] {
        match plan.condition(c) {
            Some(p) => set_condition(
                &mut conditions,
                c.as_str(),
                if p.active {
                    ConditionStatus::True
                } else {
                    ConditionStatus::False
                },
                &p.reason,
                p.message.clone(),
                group.generation,
            ),
            None => set_condition(
                &mut conditions,
                c.as_str(),
                ConditionStatus::False,
                "AsExpected",
                "",
                group.generation,
            ),
        }
    }
    let mut conn = ctx.db.acquire().await?;
    write_status(
        &mut conn,
        fence,
        group_id,
        &StatusWrite {
            status: if converged {
                ResourceStatus::Ready
            } else {
                generation_status
            },
            observed_generation: converged.then_some(group.generation),
            conditions,
            last_error: None,
            outputs: serde_json::json!({
                "zones": plan.zones, "waiting": plan.waiting, "running": running,
                "security_group_id": security_group_id,
            }),
            reconciled: true,
        },
    )
    .await?;
    record_sample(&mut conn, group_id, &plan.zones, &rows).await?;
    // Zones the group left, once none of its instances is there: unlinked (they can be deleted).
    sqlx::query(
        "delete from resource_zone u using zone z
         where u.resource_id = $1 and u.zone_id = z.resource_id and not (u.zone_id = any($2))
           and not exists (select 1 from instance i where i.resource_id = $1
                           and i.availability_zone = z.availability_zone and i.state <> 'terminated')",
    )
    .bind(group_id)
    .bind(&group.spec.0.zone_ids)
    .execute(&mut *conn)
    .await?;
    if converged {
        ctx.progress(100, format!("instance group {} is ready", group.name))
            .await?;
    }
    let generation: i64 =
        sqlx::query_scalar("select generation from resource where resource_id = $1")
            .bind(group_id)
            .fetch_one(&mut *conn)
            .await?;
    if generation != group.generation {
        return Err(Stop::Job(JobError::Requeue(Duration::ZERO)));
    }
    if acted {
        return Err(Stop::Job(JobError::Requeue(AFTER_STEP)));
    }
    if converged {
        return Ok(());
    }
    if in_flight(&rows) {
        return Err(Stop::Job(JobError::Requeue(IN_FLIGHT)));
    }
    // Waiting for a zone's capacity: look again when its refusal expires.
    let retry = time::Duration::seconds(i64::from(policy.capacity_retry_secs));
    let next = failures
        .iter()
        .filter(|f| f.at + retry > now)
        .map(|f| f.at + retry - now)
        .min();
    if let Some(wait) = next {
        let wait = Duration::try_from(wait).unwrap_or(IN_FLIGHT);
        return Err(Stop::Job(JobError::Requeue(
            (wait + Duration::from_millis(100)).min(CAPACITY_WAIT_MAX),
        )));
    }
    // Stuck on something only a person can change (the repair budget, protected instances):
    // the resync looks again.
    Ok(())
}

/// A delete waiting for something at the provider: said on the group and in the job log, then
/// looked at again after `delay`.
async fn delete_waits(
    ctx: &JobContext,
    fence: Fence,
    group_id: Uuid,
    group: &GroupRow,
    message: String,
    delay: Duration,
) -> Result<(), Stop> {
    ctx.progress(60, message.clone()).await?;
    let mut conditions = group.conditions.0.clone();
    set_condition(
        &mut conditions,
        "Progressing",
        ConditionStatus::True,
        "Deleting",
        message,
        group.generation,
    );
    let mut conn = ctx.db.acquire().await?;
    write_status(
        &mut conn,
        fence,
        group_id,
        &StatusWrite {
            status: ResourceStatus::Deleting,
            observed_generation: None,
            conditions,
            last_error: None,
            outputs: serde_json::json!({}),
            reconciled: true,
        },
    )
    .await?;
    Err(Stop::Job(JobError::Requeue(delay)))
}

async fn delete(
    ctx: &JobContext,
    fence: Fence,
    provider: &AwsInstances,
    networks: &AwsNetworks,
    group_id: Uuid,
    group: &GroupRow,
) -> Result<(), Stop> {
    let now = OffsetDateTime::now_utc();
    let rows = instances::observe(
        &ctx.db,
        provider,
        group.tenant_id,
        group_id,
        now,
        health_grace(group),
    )
    .await?;
    let to_terminate: Vec<String> = rows
        .iter()
        .filter(|r| !matches!(r.state.as_str(), "terminated" | "shutting_down"))
        .filter_map(|r| r.provider_id.clone())
        .collect();
    if !to_terminate.is_empty() {
        ctx.progress(
            20,
            format!(
                "terminating {} instances: {}",
                to_terminate.len(),
                to_terminate.join(", ")
            ),
        )
        .await?;
        instances::terminate(&ctx.db, provider, group_id, &to_terminate).await?;
    }
    // Confirm at the provider: nothing of the group's is left but terminated instances, and no
    // launch is still unaccounted for.
    let listed = provider.list_for_resource(group_id).await?;
    let mut blocking: Vec<String> = listed
        .iter()
        .filter(|p| p.state != "terminated")
        .map(|p| format!("{} ({})", p.instance_id, p.state))
        .collect();
    let unseen: Vec<String> = rows
        .iter()
        .filter(|r| r.provider_id.is_none() && r.state == "launching")
        .map(|r| format!("launch {}#{}", r.launch_token, r.launch_index))
        .collect();
    blocking.extend(unseen);
    if !blocking.is_empty() {
        let message = format!("waiting for {} to terminate", blocking.join(", "));
        return delete_waits(ctx, fence, group_id, group, message, IN_FLIGHT).await;
    }
    // Then the group's security group, once no instance holds it. AWS refuses while it is
    // still in use (`DependencyViolation`): a wait, not a failure.
    match cloud_objects::ensure_absent(
        &ctx.db,
        networks,
        ObjectKind::SecurityGroup,
        &super::security_group_token(group_id),
    )
    .await
    {
        Ok(gone) if gone.is_empty() => {}
        Ok(gone) => {
            ctx.progress(80, format!("security group {} deleted", gone.join(", ")))
                .await?
        }
        Err(EnsureError::Provider(e))
            if e.class == ErrorClass::Retryable
                || e.code.as_deref() == Some("DependencyViolation") =>
        {
            let message = format!(
                "waiting for the group's security group to be deleted: {}",
                e.message
            );
            return delete_waits(ctx, fence, group_id, group, message, SECURITY_GROUP_BUSY).await;
        }
        Err(e) => return Err(e.into()),
    }
    let mut tx = ctx.db.begin().await?;
    let mut conditions = group.conditions.0.clone();
    for type_ in ["Ready", "Progressing"] {
        set_condition(
            &mut conditions,
            type_,
            ConditionStatus::False,
            "Deleted",
            "every instance is terminated; the group is deleted",
            group.generation,
        );
    }
    write_status(
        &mut tx,
        fence,
        group_id,
        &StatusWrite {
            status: ResourceStatus::Deleted,
            observed_generation: Some(group.generation),
            conditions,
            last_error: None,
            outputs: serde_json::json!({ "zones": [], "waiting": [], "running": 0 }),
            reconciled: true,
        },
    )
    .await?;
    sqlx::query(
        "update instance_sample set running = 0 where resource_id = $1 and hour = date_trunc('hour', now(), 'UTC')",
    )
    .bind(group_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("update instance set state = 'terminated', terminated_at = coalesce(terminated_at, now()) where resource_id = $1 and state <> 'terminated'")
        .bind(group_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from resource_zone where resource_id = $1")
        .bind(group_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from instance_group_capacity_failure where resource_id = $1")
        .bind(group_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "update instance_group set reserved_instances = 0, reserved_vcpus = 0 where resource_id = $1",
    )
    .bind(group_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    ctx.progress(
        100,
        format!(
            "instance group {} deleted: {} instances terminated and confirmed gone",
            group.name,
            listed.len()
        ),
    )
    .await?;
    Ok(())
}

/// The overview's time series: instances running per zone in this hour (the last value
/// observed wins), every zone of the plan included so an emptied zone reads 0.
async fn record_sample(
    conn: &mut PgConnection,
    group_id: Uuid,
    zones: &[ZonePlan],
    rows: &[InstanceRow],
) -> Result<(), sqlx::Error> {
    let mut running: std::collections::BTreeMap<&str, i32> =
        zones.iter().map(|z| (z.zone.as_str(), 0)).collect();
    for row in rows.iter().filter(|r| r.state == "running") {
        *running.entry(row.availability_zone.as_str()).or_default() += 1;
    }
    let (names, counts): (Vec<&str>, Vec<i32>) = running.into_iter().unzip();
    sqlx::query(
        "insert into instance_sample (resource_id, tenant_id, availability_zone, hour, running)
         select r.resource_id, r.tenant_id, s.zone, date_trunc('hour', now(), 'UTC'), s.running
         from resource r, unnest($2::text[], $3::int[]) as s(zone, running)
         where r.resource_id = $1
         on conflict (resource_id, availability_zone, hour) do update set running = excluded.running",
    )
    .bind(group_id)
    .bind(&names)
    .bind(&counts)
    .execute(conn)
    .await?;
    Ok(())
}
