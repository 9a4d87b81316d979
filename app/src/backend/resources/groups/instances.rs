//! A group's instances: write-ahead rows, batched launches, observation by tag, adoption after
//! a crash, and termination (PROVISIONING.md §2.3–2.5).
//!
//! A launch writes its `n` rows (`launching`, no provider id, one shared token, indexes
//! 0..n-1) and commits them before the RunInstances call, under an advisory lock on the token so
//! two runs never launch the same batch. [`observe`] then reconciles the rows with what the
//! provider lists under the group's tag: a row without an id takes the instance carrying its
//! token and launch index; an instance carrying the group's tag that no row knows is adopted;
//! an instance the provider stopped listing is gone. The running ones' status checks
//! (DescribeInstanceStatus) are read in the same look and kept on the rows: health is
//! `unhealthy` while a check is `impaired`, which the planner repairs after the grace period.

use crate::backend::cloud::providers::instances::{AwsInstances, LaunchRequest, ProviderInstance};
use crate::backend::cloud::providers::{ErrorClass, ProviderError};
use crate::backend::resources::groups::planner::{Health, InstanceState, ObservedInstance};
use crate::backend::resources::Fence;
use crate::model::groups::{CheckStatus, StatusChecks};
use sqlx::{Connection, PgPool};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a `launching` row may wait for its instance to appear before it counts as never
/// made: longer than the SDK's whole operation timeout, so a call still in flight is not
/// forgotten.
pub const LAUNCH_UNSEEN_AFTER: Duration = Duration::seconds(60);

/// One `instance` row.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct InstanceRow {
    pub instance_row_id: Uuid,
    pub availability_zone: String,
    pub launch_token: String,
    pub launch_index: i32,
    pub revision: i64,
    pub provider_id: Option<String>,
    pub state: String,
    pub health: String,
    pub protected: bool,
    pub launched_at: OffsetDateTime,
    /// EC2's status checks at the last look (`None`: not reported, or not running).
    pub instance_status: Option<String>,
    pub system_status: Option<String>,
}

impl InstanceRow {
    /// The status checks as last reported; `None` unless both are.
    pub fn checks(&self) -> Option<StatusChecks> {
        Some(StatusChecks {
            instance: CheckStatus::parse(self.instance_status.as_deref()?)?,
            system: CheckStatus::parse(self.system_status.as_deref()?)?,
        })
    }

    /// The row as the planner sees it (a row without a provider id goes by its token).
    pub fn observed(&self) -> ObservedInstance {
        ObservedInstance {
            id: self
                .provider_id
                .clone()
                .unwrap_or_else(|| format!("{}#{}", self.launch_token, self.launch_index)),
            zone: self.availability_zone.clone(),
            revision: self.revision,
            state: InstanceState::parse(&self.state).unwrap_or(InstanceState::Lost),
            health: match self.health.as_str() {
                "healthy" => Health::Healthy,
                "unhealthy" => Health::Unhealthy,
                _ => Health::Unknown,
            },
            checks: self.checks(),
            launched_at: self.launched_at,
            protected: self.protected,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// The job's lease was taken over before the write-ahead rows were written: nothing launched.
    #[error("lease lost")]
    LeaseLost,
}

/// A new launch token: `ig` and 32 hex digits, within EC2's 64-character `ClientToken`.
pub fn new_token() -> String {
    format!("ig{}", Uuid::new_v4().simple())
}

/// The group's rows that are not terminated.
pub async fn live_rows(db: &PgPool, resource_id: Uuid) -> Result<Vec<InstanceRow>, sqlx::Error> {
    sqlx::query_as(
        "select instance_row_id, availability_zone, launch_token, launch_index, revision,
                provider_id, state, health, protected, launched_at, instance_status, system_status
         from instance where resource_id = $1 and state <> 'terminated'
         order by availability_zone, launched_at, launch_index",
    )
    .bind(resource_id)
    .fetch_all(db)
    .await
}

/// The `instance.health` column's word.
fn health_word(health: Health) -> &'static str {
    match health {
        Health::Healthy => "healthy",
        Health::Unhealthy => "unhealthy",
        Health::Unknown => "unknown",
    }
}

fn state_of(p: &ProviderInstance) -> &'static str {
    match p.state.as_str() {
        "pending" => "pending",
        "running" => "running",
        "stopping" => "stopping",
        "stopped" => "stopped",
        "shutting-down" => "shutting_down",
        "terminated" => "terminated",
        _ => "lost",
    }
}

/// Brings the rows in line with the provider, then returns the live rows. Status checks are
/// asked for running instances launched at least `checks_after` ago (the health grace).
pub async fn observe(
    db: &PgPool,
    provider: &AwsInstances,
    tenant_id: Uuid,
    resource_id: Uuid,
    now: OffsetDateTime,
    checks_after: time::Duration,
) -> Result<Vec<InstanceRow>, InstanceError> {
    Ok(
        observe_listed(db, provider, tenant_id, resource_id, now, checks_after)
            .await?
            .0,
    )
}

/// [`observe`], also returning the instances as the provider listed them.
pub async fn observe_listed(
    db: &PgPool,
    provider: &AwsInstances,
    tenant_id: Uuid,
    resource_id: Uuid,
    now: OffsetDateTime,
    checks_after: time::Duration,
) -> Result<(Vec<InstanceRow>, Vec<ProviderInstance>), InstanceError> {
    let listed = provider.list_for_resource(resource_id).await?;
    // Within its grace an instance's checks decide nothing (and EC2 reports a new instance
    // `initializing`): not asked, so the look right after a launch is one call, not two. Its
    // health stays unknown until then, as AWS shows it.
    let running: Vec<String> = listed
        .iter()
        .filter(|p| p.state == "running" && p.launched_at.is_none_or(|at| now - at >= checks_after))
        .map(|p| p.instance_id.clone())
        .collect();
    let checks = if running.is_empty() {
        Default::default()
    } else {
        provider.status_checks(&running).await?
    };
    let rows = live_rows(db, resource_id).await?;
    let mut tx = db.begin().await?;
    // Instances a live row accounts for; the others are adopted below.
    let mut matched = std::collections::HashSet::new();
    // What changed, written with one statement each (most looks change nothing).
    let (mut ids, mut providers, mut states, mut healths) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut instance_checks, mut system_checks) = (Vec::new(), Vec::new());
    let mut gone = Vec::new();
    for row in &rows {
        let found = match &row.provider_id {
            Some(id) => listed.iter().find(|p| &p.instance_id == id),
            None => listed.iter().find(|p| {
                p.launch_token.as_deref() == Some(row.launch_token.as_str())
                    && p.launch_index == row.launch_index
            }),
        };
        match found {
            Some(p) => {
                matched.insert(p.instance_id.as_str());
                let state = state_of(p);
                // Not reported this time (an answer without it): keep what was known.
                let reported = match checks.get(&p.instance_id) {
                    Some(c) => Some(*c),
                    None => row.checks(),
                };
                let reported = reported.filter(|_| state == "running");
                let health = match state {
                    "running" => health_word(Health::of_running(reported)),
                    _ => "unknown",
                };
                let (instance_check, system_check) = (
                    reported.map(|c| c.instance.as_str()),
                    reported.map(|c| c.system.as_str()),
                );
                if row.provider_id.as_deref() != Some(p.instance_id.as_str())
                    || row.state != state
                    || row.health != health
                    || row.instance_status.as_deref() != instance_check
                    || row.system_status.as_deref() != system_check
                {
                    ids.push(row.instance_row_id);
                    providers.push(p.instance_id.clone());
                    states.push(state);
                    healths.push(health);
                    instance_checks.push(instance_check);
                    system_checks.push(system_check);
                }
            }
            // The provider no longer lists it at all: gone.
            None if row.provider_id.is_some() => gone.push(row.instance_row_id),
            // The launch never made it (the process died before the call, or the call
            // failed) and was not resumed: nothing carries the token, so the planner launches
            // again.
            None if now - row.launched_at > LAUNCH_UNSEEN_AFTER => gone.push(row.instance_row_id),
            None => {}
        }
    }
    if !ids.is_empty() {
        sqlx::query(
            "update instance i set provider_id = c.provider_id, state = c.state, health = c.health,
                    instance_status = c.instance_status, system_status = c.system_status,
                    terminated_at = case when c.state = 'terminated' then now() else i.terminated_at end
             from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                  as c(instance_row_id, provider_id, state, health, instance_status, system_status)
             where i.instance_row_id = c.instance_row_id",
        )
        .bind(&ids)
        .bind(&providers)
        .bind(&states)
        .bind(&healths)
        .bind(&instance_checks)
        .bind(&system_checks)
        .execute(&mut *tx)
        .await?;
    }
    if !gone.is_empty() {
        sqlx::query(
            "update instance set state = 'terminated', terminated_at = now()
             where instance_row_id = any($1)",
        )
        .bind(&gone)
        .execute(&mut *tx)
        .await?;
    }
    // Tagged with this group but unknown to every row (a row lost with a rolled-back
    // transaction): adopt it, so it is counted and never doubled.
    for p in &listed {
        if p.state == "terminated" || matched.contains(p.instance_id.as_str()) {
            continue;
        }
        let token = p.launch_token.clone().unwrap_or_else(new_token);
        sqlx::query(
            "insert into instance (resource_id, tenant_id, availability_zone, launch_token, launch_index,
                                   revision, provider_id, state, launched_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()))
             on conflict do nothing",
        )
        .bind(resource_id)
        .bind(tenant_id)
        .bind(&p.availability_zone)
        .bind(&token)
        .bind(p.launch_index)
        .bind(p.revision.unwrap_or(0))
        .bind(&p.instance_id)
        .bind(state_of(p))
        .bind(p.launched_at)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok((live_rows(db, resource_id).await?, listed))
}

/// One batched launch: commits the write-ahead rows, makes the call, records the ids. A
/// capacity refusal or any other answer that made nothing closes the rows (the planner sees
/// the zone's failure and decides); an unknown outcome leaves them for [`observe`] to settle
/// by tag.
///
/// With a `fence`, the write-ahead rows are committed only while the job's lease holds (its
/// row is read `for share` in the same transaction): a rescued job's old worker launches
/// nothing, and a rescuer always sees the rows of a launch its predecessor may have made.
pub async fn launch_batch(
    db: &PgPool,
    provider: &AwsInstances,
    tenant_id: Uuid,
    resource_id: Uuid,
    req: &LaunchRequest,
    fence: Option<Fence>,
) -> Result<Vec<String>, InstanceError> {
    let token = req.owner.token.clone();
    // A connection of its own holds the token's lock; if the process dies it closes.
    let mut lock = db.acquire().await?.detach();
    sqlx::query("select pg_advisory_lock(hashtextextended($1, 14))")
        .bind(&token)
        .execute(&mut lock)
        .await?;
    let result = launch_locked(db, provider, tenant_id, resource_id, req, fence).await;
    let _ = lock.close().await;
    result
}

async fn launch_locked(
    db: &PgPool,
    provider: &AwsInstances,
    tenant_id: Uuid,
    resource_id: Uuid,
    req: &LaunchRequest,
    fence: Option<Fence>,
) -> Result<Vec<String>, InstanceError> {
    let token = &req.owner.token;
    let mut tx = db.begin().await?;
    if let Some(fence) = fence {
        let holds: Option<i64> = sqlx::query_scalar(
            "select job_id from job where job_id = $1 and lease_token = $2 for share",
        )
        .bind(fence.job_id)
        .bind(fence.lease_token)
        .fetch_optional(&mut *tx)
        .await?;
        if holds.is_none() {
            return Err(InstanceError::LeaseLost);
        }
    }
    let written: i64 = sqlx::query_scalar("select count(*) from instance where launch_token = $1")
        .bind(token)
        .fetch_one(&mut *tx)
        .await?;
    if written == 0 {
        // One statement for the whole batch.
        sqlx::query(
            "insert into instance (resource_id, tenant_id, availability_zone, launch_token, launch_index, revision)
             select $1, $2, $3, $4, i, $6 from generate_series(0, $5 - 1) as i",
        )
        .bind(resource_id)
        .bind(tenant_id)
        .bind(&req.availability_zone)
        .bind(token)
        .bind(i32::try_from(req.count).unwrap_or(i32::MAX))
        .bind(req.revision)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    // Look before launching: a run that died after the call left instances with the token. A
    // batch whose rows this call just wrote has a token no call has carried yet: nothing to
    // look for.
    let mut made = if written == 0 {
        Vec::new()
    } else {
        provider.find_by_token(token).await?
    };
    if made.is_empty() {
        crate::backend::resources::failpoint("instances.before_launch").await;
        match provider.launch(req).await {
            Ok(instances) => made = instances,
            Err(e) if e.class == ErrorClass::UnknownOutcome => return Err(e.into()),
            Err(e) => {
                sqlx::query(
                    "update instance set state = 'terminated', terminated_at = now()
                     where launch_token = $1 and provider_id is null",
                )
                .bind(token)
                .execute(db)
                .await?;
                if let ErrorClass::Capacity { .. } = e.class {
                    sqlx::query(
                        "insert into instance_group_capacity_failure (resource_id, availability_zone, message)
                         values ($1, $2, $3)
                         on conflict (resource_id, availability_zone)
                         do update set message = excluded.message, failed_at = now()",
                    )
                    .bind(resource_id)
                    .bind(&req.availability_zone)
                    .bind(&e.message)
                    .execute(db)
                    .await?;
                }
                return Err(e.into());
            }
        }
        crate::backend::resources::failpoint("instances.launched").await;
    }
    // One statement for the whole batch.
    let indexes: Vec<i32> = made.iter().map(|p| p.launch_index).collect();
    let ids: Vec<String> = made.iter().map(|p| p.instance_id.clone()).collect();
    let states: Vec<&str> = made.iter().map(state_of).collect();
    sqlx::query(
        "update instance i set provider_id = m.id, state = m.state
         from unnest($2::int4[], $3::text[], $4::text[]) as m(launch_index, id, state)
         where i.launch_token = $1 and i.launch_index = m.launch_index",
    )
    .bind(token)
    .bind(&indexes)
    .bind(&ids)
    .bind(&states)
    .execute(db)
    .await?;
    Ok(ids)
}

/// A launch nobody is carrying on: its rows are `launching` without an instance (none was
/// listed with its token), and no process holds the batch's lock, so the process that wrote
/// them died before the call, or the call failed without an answer and made nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct AbandonedLaunch {
    pub token: String,
    pub availability_zone: String,
    pub revision: i64,
    pub count: u32,
}

/// The launches among `rows` that were abandoned (see [`AbandonedLaunch`]). The reconciler
/// resumes them with their own token: [`launch_batch`] looks the token up again under the lock
/// before calling, and AWS answers a repeated `ClientToken` with the first call's instances, so
/// a call that did land is never made twice. Without this the rows would hold their places
/// until [`LAUNCH_UNSEEN_AFTER`], and the group would wait that long after a crash.
pub async fn abandoned(
    db: &PgPool,
    rows: &[InstanceRow],
) -> Result<Vec<AbandonedLaunch>, sqlx::Error> {
    let mut batches: Vec<AbandonedLaunch> = Vec::new();
    for row in rows
        .iter()
        .filter(|r| r.provider_id.is_none() && r.state == "launching")
    {
        match batches.iter_mut().find(|b| b.token == row.launch_token) {
            Some(b) => b.count += 1,
            None => batches.push(AbandonedLaunch {
                token: row.launch_token.clone(),
                availability_zone: row.availability_zone.clone(),
                revision: row.revision,
                count: 1,
            }),
        }
    }
    if batches.is_empty() {
        return Ok(batches);
    }
    let mut conn = db.acquire().await?;
    let mut out = Vec::new();
    for batch in batches {
        let free: bool =
            sqlx::query_scalar("select pg_try_advisory_lock(hashtextextended($1, 14))")
                .bind(&batch.token)
                .fetch_one(&mut *conn)
                .await?;
        if free {
            sqlx::query("select pg_advisory_unlock(hashtextextended($1, 14))")
                .bind(&batch.token)
                .execute(&mut *conn)
                .await?;
            out.push(batch);
        }
    }
    Ok(out)
}

/// Terminates these instances (by provider id) and records that the call was made; the next
/// [`observe`] confirms they are gone.
pub async fn terminate(
    db: &PgPool,
    provider: &AwsInstances,
    resource_id: Uuid,
    ids: &[String],
) -> Result<(), InstanceError> {
    provider.terminate(ids).await?;
    sqlx::query(
        "update instance set state = 'shutting_down'
         where resource_id = $1 and provider_id = any($2) and state <> 'terminated'",
    )
    .bind(resource_id)
    .bind(ids)
    .execute(db)
    .await?;
    Ok(())
}
