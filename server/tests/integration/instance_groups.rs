//! Instance groups against the sandbox (moto through the real AWS SDK): the planner's steps
//! applied with batched launches and write-ahead rows, observed back by tag. moto is shared by
//! the tests running at once, so everything is filtered by this test's group tag.

use crate::support::{keyring, moto_url, TestApp};
use app::backend::cloud::accounts as cloud_accounts;
use app::backend::cloud::providers::instances::{AwsInstances, LaunchRequest};
use app::backend::cloud::providers::network::Ownership;
use app::backend::cloud::providers::{self, aws};
use app::backend::resources::groups::instances::{self, InstanceRow};
use app::backend::resources::groups::planner::{
    self, Distribution, GroupPlan, GroupSpec, RolloutBudget, ScaleInOrder, Step,
};
use app::model::Role;
use sqlx::PgPool;
use std::collections::BTreeMap;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

pub(crate) const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

struct Group {
    app: TestApp,
    tenant_id: Uuid,
    resource_id: Uuid,
    installation: Uuid,
    provider: AwsInstances,
    target: aws::Target,
    image_id: String,
}

async fn group(slug: &str) -> Group {
    let app = TestApp::spawn().await;
    let fixture = app.tenant_with_roles(slug).await;
    let owner = app.actor(fixture.user(Role::Owner)).await;
    let account = cloud_accounts::NewCloudAccount {
        name: "sandbox".into(),
        region: "us-east-1".into(),
        access_key_id: "AKIASANDBOXEXAMPLE00".into(),
        secret_access_key: "sandbox-secret".into(),
        endpoint_url: Some(moto_url()),
        emulated: true,
    };
    let account = cloud_accounts::create(
        &app.db,
        &keyring(),
        &crate::support::endpoints(),
        &owner,
        fixture.tenant_id,
        account,
    )
    .await
    .expect("the sandbox account is accepted");
    let resource_id: Uuid = sqlx::query_scalar(
        "insert into resource (tenant_id, kind, name, cloud_account_id, spec)
         values ($1, 'instance_group', 'web', $2, '{}') returning resource_id",
    )
    .bind(fixture.tenant_id)
    .bind(account.cloud_account_id)
    .fetch_one(&app.db)
    .await
    .expect("a group row");
    let open = providers::open(
        &app.db,
        &keyring(),
        &crate::support::endpoints(),
        fixture.tenant_id,
        account.cloud_account_id,
    )
    .await
    .expect("the account opens");
    let images = aws::ec2(&open.target)
        .describe_images()
        .send()
        .await
        .expect("moto lists its images");
    let image_id = images
        .images()
        .iter()
        .find_map(|i| i.image_id())
        .expect("moto has an image")
        .to_string();
    let installation = app::backend::resources::installation_id(&app.db)
        .await
        .expect("installation id");
    Group {
        provider: AwsInstances::new(&open.target),
        target: open.target,
        tenant_id: fixture.tenant_id,
        resource_id,
        installation,
        image_id,
        app,
    }
}

fn spec(desired: u32) -> GroupSpec {
    GroupSpec {
        zones: ZONES.iter().map(|z| z.to_string()).collect(),
        revision: 1,
        min: 0,
        max: 100,
        desired,
        distribution: Distribution::Balanced,
        scale_in: ScaleInOrder::OldestFirst,
        health_grace: Duration::seconds(60),
        repair_budget_percent: 50,
        max_surge: RolloutBudget::Count(1),
        max_unavailable: RolloutBudget::Count(0),
        capacity_retry_after: Duration::seconds(120),
    }
}

impl Group {
    fn db(&self) -> &PgPool {
        &self.app.db
    }

    async fn observe(&self) -> Vec<InstanceRow> {
        instances::observe(
            self.db(),
            &self.provider,
            self.tenant_id,
            self.resource_id,
            OffsetDateTime::now_utc(),
            spec(0).health_grace,
        )
        .await
        .expect("observe")
    }

    async fn apply(&self, plan: &GroupPlan) {
        for step in &plan.steps {
            match step {
                Step::Launch {
                    zone,
                    count,
                    revision,
                } => {
                    let req = LaunchRequest {
                        availability_zone: zone.clone(),
                        subnet_id: None,
                        security_group_ids: Vec::new(),
                        image_id: self.image_id.clone(),
                        instance_type: "t3.micro".into(),
                        user_data: Some("#!/bin/sh\necho hello\n".into()),
                        count: *count,
                        owner: self.owner(instances::new_token()),
                        revision: *revision,
                        extra_tags: Vec::new(),
                    };
                    let ids = instances::launch_batch(
                        self.db(),
                        &self.provider,
                        self.tenant_id,
                        self.resource_id,
                        &req,
                        None,
                    )
                    .await
                    .expect("launch");
                    assert_eq!(ids.len() as u32, *count);
                }
                Step::Terminate { ids, .. } => {
                    instances::terminate(self.db(), &self.provider, self.resource_id, ids)
                        .await
                        .expect("terminate");
                }
            }
        }
    }

    fn owner(&self, token: String) -> Ownership {
        Ownership {
            installation: self.installation,
            tenant: self.tenant_id,
            resource: self.resource_id,
            token,
            name: "web".into(),
        }
    }

    /// Plans and applies until the plan is converged; returns the number of runs.
    async fn converge(&self, spec: &GroupSpec) -> usize {
        for run in 0..10 {
            let rows = self.observe().await;
            let observed: Vec<_> = rows.iter().map(InstanceRow::observed).collect();
            let plan = planner::plan(spec, &observed, &[], OffsetDateTime::now_utc());
            if plan.converged {
                return run;
            }
            self.apply(&plan).await;
        }
        panic!("the group did not converge in 10 runs");
    }

    /// Live instances per zone as the provider lists them (not as the rows say).
    async fn at_provider(&self) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for i in self
            .provider
            .list_for_resource(self.resource_id)
            .await
            .expect("list")
        {
            if i.state != "terminated" && i.state != "shutting-down" {
                *out.entry(i.availability_zone).or_insert(0) += 1;
            }
        }
        out
    }

    async fn cleanup(&self) {
        let ids: Vec<String> = self
            .provider
            .list_for_resource(self.resource_id)
            .await
            .expect("list")
            .into_iter()
            .map(|i| i.instance_id)
            .collect();
        self.provider.terminate(&ids).await.expect("terminate all");
    }
}

pub(crate) fn sorted(m: &BTreeMap<String, u32>) -> Vec<u32> {
    let mut v: Vec<u32> = m.values().copied().filter(|n| *n > 0).collect();
    v.sort();
    v
}

#[tokio::test]
async fn twelve_over_three_zones_then_seven_then_healed_after_out_of_band_terminations() {
    let g = group("ig-sizes").await;
    let runs = g.converge(&spec(12)).await;
    assert_eq!(runs, 1, "one run of one launch per zone");
    let zones = g.at_provider().await;
    assert_eq!(sorted(&zones), vec![4, 4, 4], "{zones:?}");
    assert!(ZONES.iter().all(|z| zones.contains_key(*z)));
    let rows = g.observe().await;
    assert_eq!(rows.len(), 12);
    assert!(rows
        .iter()
        .all(|r| r.provider_id.is_some() && r.state == "running"));

    // Every instance carries its ownership tags from the launch call.
    let described = aws::ec2(&g.target)
        .describe_instances()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:stratus:resource")
                .values(g.resource_id.to_string())
                .build(),
        )
        .send()
        .await
        .expect("describe");
    for r in described.reservations() {
        for i in r.instances() {
            let keys: Vec<&str> = i.tags().iter().filter_map(|t| t.key()).collect();
            for k in [
                "stratus:installation",
                "stratus:tenant",
                "stratus:token",
                "stratus:revision",
            ] {
                assert!(keys.contains(&k), "{k} missing on {:?}", i.instance_id());
            }
        }
    }

    // Scale to 7: 3/2/2 in some order.
    g.converge(&spec(7)).await;
    assert_eq!(sorted(&g.at_provider().await), vec![2, 2, 3]);
    assert_eq!(g.observe().await.len(), 7);

    // Two instances terminated behind Stratus's back are replaced in the next run, in their
    // zones.
    let rows = g.observe().await;
    let victims: Vec<String> = rows
        .iter()
        .filter(|r| r.availability_zone == ZONES[0])
        .filter_map(|r| r.provider_id.clone())
        .take(2)
        .collect();
    aws::ec2(&g.target)
        .terminate_instances()
        .set_instance_ids(Some(victims.clone()))
        .send()
        .await
        .expect("out-of-band terminate");
    let runs = g.converge(&spec(7)).await;
    assert_eq!(runs, 1);
    assert_eq!(sorted(&g.at_provider().await), vec![2, 2, 3]);
    let rows = g.observe().await;
    assert!(rows
        .iter()
        .all(|r| !victims.contains(r.provider_id.as_ref().unwrap_or(&String::new()))));
    g.cleanup().await;
}

#[tokio::test]
async fn a_launch_whose_record_was_lost_is_adopted_by_tag_and_not_doubled() {
    let g = group("ig-adopt").await;
    // The write-ahead rows are committed and the call made, then the process "dies" before
    // the ids are recorded: make the call directly after writing the rows the same way.
    let token = instances::new_token();
    for index in 0..3 {
        sqlx::query(
            "insert into instance (resource_id, tenant_id, availability_zone, launch_token, launch_index, revision)
             values ($1, $2, $3, $4, $5, 1)",
        )
        .bind(g.resource_id)
        .bind(g.tenant_id)
        .bind(ZONES[1])
        .bind(&token)
        .bind(index)
        .execute(g.db())
        .await
        .expect("intent rows");
    }
    let req = LaunchRequest {
        availability_zone: ZONES[1].into(),
        subnet_id: None,
        security_group_ids: Vec::new(),
        image_id: g.image_id.clone(),
        instance_type: "t3.micro".into(),
        user_data: None,
        count: 3,
        owner: g.owner(token.clone()),
        revision: 1,
        extra_tags: Vec::new(),
    };
    let made = g.provider.launch(&req).await.expect("launch");
    // The rerun of the same launch finds the instances by tag and launches nothing.
    let ids = instances::launch_batch(g.db(), &g.provider, g.tenant_id, g.resource_id, &req, None)
        .await
        .expect("relaunch adopts");
    let mut made_ids: Vec<String> = made.into_iter().map(|p| p.instance_id).collect();
    let mut adopted = ids.clone();
    made_ids.sort();
    adopted.sort();
    assert_eq!(made_ids, adopted);
    let rows = g.observe().await;
    assert_eq!(rows.len(), 3);
    assert_eq!(g.at_provider().await.values().sum::<u32>(), 3);

    // An instance with the group's tag and no row at all is adopted by observe.
    let stray = LaunchRequest {
        count: 1,
        owner: g.owner(instances::new_token()),
        ..req
    };
    g.provider.launch(&stray).await.expect("stray launch");
    let rows = g.observe().await;
    assert_eq!(rows.len(), 4);
    // With desired 3 the planner then removes one: exactly 3 remain.
    let mut s = spec(3);
    s.zones = vec![ZONES[1].into()];
    g.converge(&s).await;
    assert_eq!(g.at_provider().await.values().sum::<u32>(), 3);
    g.cleanup().await;
}

// ---------------------------------------------------------------------------------------------
// The whole engine: the write path, the reconcile job run by a worker, the resync, REST.
// ---------------------------------------------------------------------------------------------

use crate::support::wait_until;
use app::backend::identity::actor::Actor;
use app::backend::jobs::worker::{Worker, WorkerConfig};
use app::backend::resources::{groups, zones, WriteOptions};
use app::error::AppError;
use app::model::groups::{
    GroupPatch, GroupPolicy, GroupPolicyPatch, GroupTemplate, GroupView, InstancePatch, NewGroup,
};
use app::model::resources::{ConditionStatus, NewZone, ResourceStatus};
use server::fault_proxy::{FaultProxy, Rule};
use std::sync::Arc;

/// The group resync of these tests: an instance terminated behind Stratus's back is replaced
/// within it.
pub(crate) const GROUP_RESYNC: std::time::Duration = std::time::Duration::from_millis(1500);

/// A tenant with a sandbox account (its own moto account) and three Ready zones, and a worker
/// running every job kind with a short group resync. With `faults`, the account reaches moto
/// through a fault proxy of the test's own.
pub(crate) struct Engine {
    pub(crate) app: TestApp,
    pub(crate) tenant_id: Uuid,
    pub(crate) member: Actor,
    pub(crate) member_id: Uuid,
    pub(crate) zone_ids: Vec<Uuid>,
    /// Straight to moto, in the account's own moto account (never through the proxy).
    pub(crate) provider: AwsInstances,
    pub(crate) target: aws::Target,
    pub(crate) image_id: String,
    pub(crate) proxy: Option<FaultProxy>,
    pub(crate) worker: Option<Worker>,
}

async fn engine(slug: &str, faults: bool) -> Engine {
    engine_on(slug, faults, None).await
}

/// [`engine`] with the test's database on another PostgreSQL server (`server`: a database URL
/// of it).
pub(crate) async fn engine_on(slug: &str, faults: bool, server: Option<&str>) -> Engine {
    let app = match server {
        Some(base) => TestApp::spawn_on(base, |_| {}).await,
        None => TestApp::spawn().await,
    };
    let fixture = app.tenant_with_roles(slug).await;
    let owner = app.actor(fixture.user(Role::Owner)).await;
    let proxy = if faults {
        Some(
            FaultProxy::start(&moto_url())
                .await
                .expect("the proxy starts"),
        )
    } else {
        None
    };
    let endpoint = proxy.as_ref().map(|p| p.url()).unwrap_or_else(moto_url);
    let mut allowed = vec![moto_url()];
    allowed.extend(proxy.as_ref().map(|p| p.url()));
    let policy = app::backend::cloud::endpoints::EndpointPolicy::new(&allowed, None).unwrap();
    let account = cloud_accounts::create(
        &app.db,
        &keyring(),
        &policy,
        &owner,
        fixture.tenant_id,
        cloud_accounts::NewCloudAccount {
            name: "sandbox".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIASANDBOXEXAMPLE00".into(),
            secret_access_key: "sandbox-secret".into(),
            endpoint_url: Some(endpoint),
            emulated: true,
        },
    )
    .await
    .expect("the sandbox account is accepted");
    let mut settings = crate::support::settings(&app.database_url);
    settings.engine.resync_interval = std::time::Duration::from_secs(30);
    settings.engine.group_resync_interval = GROUP_RESYNC;
    let registry =
        server::startup::registry(&Arc::new(keyring()), &settings, &Arc::new(policy.clone()));
    let mut config = WorkerConfig::new(4);
    config.poll_interval = std::time::Duration::from_millis(50);
    config.backoff_base = std::time::Duration::from_millis(100);
    let worker = Worker::start(app.db.clone(), registry, config);
    server::startup::start_resync(&app.db, &settings, worker.stop_token());

    let member_id = fixture.user(Role::Member);
    let member = app.actor(member_id).await;
    let mut zone_ids = Vec::new();
    for (i, az) in ZONES.iter().enumerate() {
        let zone = zones::create(
            &app.db,
            &member,
            fixture.tenant_id,
            NewZone {
                name: format!("zone-{}", (b'a' + i as u8) as char),
                cloud_account_id: account.cloud_account_id,
                availability_zone: az.to_string(),
                network_cidr: None,
            },
            WriteOptions::default(),
        )
        .await
        .expect("the zone is accepted")
        .zone
        .unwrap();
        zone_ids.push(zone.zone_id);
    }
    for zone_id in &zone_ids {
        wait_until(
            "the zone to be ready",
            std::time::Duration::from_secs(60),
            || async {
                zones::get(&app.db, &member, fixture.tenant_id, *zone_id)
                    .await
                    .is_ok_and(|z| z.status == ResourceStatus::Ready)
            },
        )
        .await;
    }
    // Inspection goes straight to moto (the account's own moto account), never through the proxy.
    let direct = aws::Target::new(
        "us-east-1".into(),
        Some(moto_url()),
        "AKIASANDBOXEXAMPLE00".into(),
        secrecy::SecretString::from("sandbox-secret"),
        app::backend::cloud::endpoints::Route::Trusted,
    )
    .with_moto_account(Some(aws::moto_account_id(account.cloud_account_id)));
    let images = aws::ec2(&direct)
        .describe_images()
        .send()
        .await
        .expect("moto lists its images");
    let image_id = images
        .images()
        .iter()
        .find_map(|i| i.image_id())
        .expect("moto has an image")
        .to_string();
    Engine {
        provider: AwsInstances::new(&direct),
        target: direct,
        tenant_id: fixture.tenant_id,
        member,
        member_id,
        zone_ids,
        image_id,
        proxy,
        worker: Some(worker),
        app,
    }
}

impl Engine {
    pub(crate) fn new_group(&self, name: &str, desired: u32) -> NewGroup {
        NewGroup {
            name: name.into(),
            zone_ids: self.zone_ids.clone(),
            template: GroupTemplate {
                instance_type: "t3.micro".into(),
                image_id: self.image_id.clone(),
                user_data: Some("#!/bin/sh\necho hello\n".into()),
                tags: [("team".to_string(), "web".to_string())].into(),
            },
            min: 0,
            max: 50,
            desired: Some(desired),
            policy: GroupPolicy {
                capacity_retry_secs: 2,
                ..GroupPolicy::default()
            },
        }
    }

    pub(crate) async fn create(&self, group: NewGroup) -> GroupView {
        groups::create(
            &self.app.db,
            &self.member,
            self.tenant_id,
            group,
            WriteOptions::default(),
        )
        .await
        .expect("the group is accepted")
        .group
        .expect("an apply returns the group")
    }

    pub(crate) async fn patch(&self, group_id: Uuid, patch: GroupPatch) -> GroupView {
        groups::update(
            &self.app.db,
            &self.member,
            self.tenant_id,
            group_id,
            patch,
            WriteOptions::default(),
        )
        .await
        .expect("the change is accepted")
        .group
        .expect("an apply returns the group")
    }

    pub(crate) async fn group(&self, group_id: Uuid) -> Result<GroupView, AppError> {
        groups::get(&self.app.db, &self.member, self.tenant_id, group_id).await
    }

    pub(crate) async fn wait_ready(&self, group_id: Uuid) -> GroupView {
        wait_until(
            "the group to be ready",
            std::time::Duration::from_secs(60),
            || async {
                self.group(group_id).await.is_ok_and(|g| {
                    g.status == ResourceStatus::Ready && g.observed_generation == g.generation
                })
            },
        )
        .await;
        self.group(group_id).await.unwrap()
    }

    /// Running instances per zone, as moto lists them.
    pub(crate) async fn running(&self, group_id: Uuid) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for i in self
            .provider
            .list_for_resource(group_id)
            .await
            .expect("list")
        {
            if i.state == "running" || i.state == "pending" {
                *out.entry(i.availability_zone).or_insert(0) += 1;
            }
        }
        out
    }

    pub(crate) async fn job_log(&self, group_id: Uuid) -> Vec<String> {
        sqlx::query_scalar(
            "select e.message from job_event e join job j using (job_id)
             where j.resource_id = $1 order by e.event_id",
        )
        .bind(group_id)
        .fetch_all(&self.app.db)
        .await
        .unwrap()
    }

    pub(crate) async fn finish(mut self) {
        if let Some(w) = self.worker.take() {
            w.shutdown().await;
        }
        // Leave nothing running in moto.
        let ids: Vec<String> = aws::ec2(&self.target)
            .describe_instances()
            .send()
            .await
            .map(|d| {
                d.reservations()
                    .iter()
                    .flat_map(|r| r.instances())
                    .filter_map(|i| i.instance_id().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let _ = self.provider.terminate(&ids).await;
    }
}

#[tokio::test]
async fn a_group_of_twelve_comes_up_4_4_4_scales_to_7_honouring_protection_and_heals() {
    let e = engine("ig-engine", false).await;
    let created = e.create(e.new_group("web", 12)).await;
    let group = e.wait_ready(created.group_id).await;
    let zones = e.running(group.group_id).await;
    assert_eq!(sorted(&zones), vec![4, 4, 4], "{zones:?}");
    assert_eq!(group.running, 12);
    // The overview's time series has this hour's count per zone, as the reconciler saw it.
    let samples: Vec<i32> = sqlx::query_scalar(
        "select running from instance_sample
         where resource_id = $1 and hour = date_trunc('hour', now(), 'UTC') order by availability_zone",
    )
    .bind(group.group_id)
    .fetch_all(&e.app.db)
    .await
    .unwrap();
    assert_eq!(samples, vec![4, 4, 4]);
    assert_eq!(
        group
            .zones
            .iter()
            .map(|z| (z.running, z.target))
            .collect::<Vec<_>>(),
        vec![(4, 4), (4, 4), (4, 4)]
    );
    assert_eq!(
        group.desired_set_by.as_deref(),
        Some(e.member.email.as_str())
    );
    let ready = group
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, ConditionStatus::True, "{ready:?}");
    // The launches are in the job log, naming the provider's ids: one launch per zone.
    let log = e.job_log(group.group_id).await;
    assert_eq!(
        log.iter()
            .filter(|l| l.starts_with("launching 4 × t3.micro"))
            .count(),
        3,
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("launched in us-east-1a: i-")),
        "{log:#?}"
    );
    // The template's own tag is on every instance, with the ownership tags.
    let described = aws::ec2(&e.target)
        .describe_instances()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:team")
                .values("web")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let tagged: usize = described
        .reservations()
        .iter()
        .map(|r| r.instances().len())
        .sum();
    assert_eq!(tagged, 12);

    // Protect two instances of the first zone, then scale to 7 (naming only desired).
    let instances =
        groups::list_instances(&e.app.db, &e.member, e.tenant_id, group.group_id, None, 100)
            .await
            .unwrap();
    let protected: Vec<String> = instances
        .iter()
        .filter(|i| i.availability_zone == ZONES[0])
        .filter_map(|i| i.provider_id.clone())
        .take(2)
        .collect();
    for id in &protected {
        let view = groups::set_protection(
            &e.app.db,
            &e.member,
            e.tenant_id,
            group.group_id,
            id,
            InstancePatch { protected: true },
        )
        .await
        .unwrap();
        assert!(view.protected);
    }
    e.patch(
        group.group_id,
        GroupPatch {
            desired: Some(7),
            ..Default::default()
        },
    )
    .await;
    let group = e.wait_ready(group.group_id).await;
    let zones = e.running(group.group_id).await;
    assert_eq!(sorted(&zones), vec![2, 2, 3], "{zones:?}");
    let alive: Vec<String> = e
        .provider
        .list_for_resource(group.group_id)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.state == "running")
        .map(|i| i.instance_id)
        .collect();
    for id in &protected {
        assert!(alive.contains(id), "protected {id} was terminated");
    }

    // A change that does not name desired keeps it.
    let changed = e
        .patch(
            group.group_id,
            GroupPatch {
                max: Some(20),
                policy: Some(GroupPolicyPatch {
                    repair_budget_percent: Some(50),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await;
    assert_eq!((changed.desired, changed.max), (7, 20));
    assert_eq!(changed.policy.repair_budget_percent, 50);

    // Out of band: two instances terminated directly in moto are replaced at the first resync
    // after the interval: one interval, plus the scheduler's tick and one run (1.5 s of slack
    // for a loaded machine; measured 1.9–2.3 s with tests running at once).
    let group = e.wait_ready(group.group_id).await;
    let victims: Vec<String> = alive
        .iter()
        .filter(|id| !protected.contains(id))
        .take(2)
        .cloned()
        .collect();
    aws::ec2(&e.target)
        .terminate_instances()
        .set_instance_ids(Some(victims.clone()))
        .send()
        .await
        .expect("out-of-band terminate");
    let started = std::time::Instant::now();
    wait_until(
        "the group to heal",
        std::time::Duration::from_secs(30),
        || async {
            let now: Vec<String> = e
                .provider
                .list_for_resource(group.group_id)
                .await
                .unwrap()
                .into_iter()
                .filter(|i| i.state == "running")
                .map(|i| i.instance_id)
                .collect();
            now.len() == 7 && victims.iter().all(|v| !now.contains(v))
        },
    )
    .await;
    let healed = started.elapsed();
    eprintln!("healed 2 out-of-band terminations in {healed:?} (group resync {GROUP_RESYNC:?})");
    assert!(
        healed <= GROUP_RESYNC + std::time::Duration::from_millis(1500),
        "healed in {healed:?}, more than one resync interval ({GROUP_RESYNC:?}) and a run"
    );
    assert_eq!(sorted(&e.running(group.group_id).await), vec![2, 2, 3]);
    e.finish().await;
}

const NO_CAPACITY: &str =
    "We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1b).";

fn capacity_rule() -> Rule {
    Rule::error(
        "RunInstances",
        "InsufficientInstanceCapacity",
        NO_CAPACITY,
        500,
    )
    .in_zone(ZONES[1])
}

/// `balanced`: while us-east-1b refuses capacity the other zones take its share; once the fault
/// is lifted the group rebalances surge-first (never fewer than desired running).
#[tokio::test]
async fn balanced_fills_the_other_zones_then_rebalances_surge_first_after_the_fault() {
    let e = engine("ig-balanced", true).await;
    let proxy = e.proxy.as_ref().unwrap();
    let rule = proxy.add_rule(capacity_rule());
    let created = e.create(e.new_group("web", 6)).await;
    let id = created.group_id;
    wait_until(
        "6 running in two zones",
        std::time::Duration::from_secs(30),
        || async {
            let z = e.running(id).await;
            z.values().sum::<u32>() == 6 && !z.contains_key(ZONES[1])
        },
    )
    .await;
    assert_eq!(sorted(&e.running(id).await), vec![3, 3]);
    let log = e.job_log(id).await;
    assert!(
        log.iter().any(|l| l.contains("us-east-1b")
            && l.contains("InsufficientInstanceCapacity")
            && l.contains(NO_CAPACITY)),
        "the provider's words per zone in the job log: {log:#?}"
    );
    // The zone shows its capacity failure while it refuses (each retry, every
    // `capacity_retry_secs`, clears and sets it again: polled rather than read once).
    wait_until(
        "us-east-1b to show its capacity failure",
        std::time::Duration::from_secs(20),
        || async {
            e.group(id).await.unwrap().zones.iter().any(|z| {
                z.availability_zone == ZONES[1]
                    && z.capacity_failure
                        .as_deref()
                        .is_some_and(|m| m.contains("InsufficientInstanceCapacity"))
            })
        },
    )
    .await;

    // The fault is lifted: the zone's share comes back, launched before anything is taken away.
    assert!(proxy.remove_rule(rule));
    let mut lowest = u32::MAX;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let z = e.running(id).await;
        lowest = lowest.min(z.values().sum());
        if sorted(&z) == vec![2, 2, 2] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no rebalance: {z:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(lowest >= 6, "the rebalance dropped to {lowest} running");
    e.wait_ready(id).await;
    e.finish().await;
}

/// `even-strict`: while us-east-1b refuses capacity the others keep their even share and no
/// more, and the group says why, in the provider's words; after the fault the group fills up evenly.
#[tokio::test]
async fn even_strict_waits_for_the_zone_and_says_why() {
    let e = engine("ig-strict", true).await;
    let proxy = e.proxy.as_ref().unwrap();
    let rule = proxy.add_rule(capacity_rule());
    let mut new = e.new_group("web", 6);
    new.policy.distribution = app::model::groups::Distribution::EvenStrict;
    let id = e.create(new).await.group_id;
    wait_until(
        "the group to say it waits",
        std::time::Duration::from_secs(30),
        || async {
            e.group(id).await.is_ok_and(|g| {
                g.conditions.iter().any(|c| {
                    c.type_ == "Ready"
                        && c.status == ConditionStatus::False
                        && c.reason == "WaitingForCapacity"
                        && c.message.contains("us-east-1b")
                        && c.message.contains("InsufficientInstanceCapacity")
                })
            })
        },
    )
    .await;
    // The others keep their even share and take nothing of the failing zone's (balanced would
    // run 3 and 3).
    let z = e.running(id).await;
    assert!(!z.contains_key(ZONES[1]), "{z:?}");
    assert!(z.values().all(|n| *n <= 2), "the others wait: {z:?}");
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let z = e.running(id).await;
    assert!(
        z.values().all(|n| *n <= 2),
        "still waiting after the retry: {z:?}"
    );
    let group = e.group(id).await.unwrap();
    assert!(
        group
            .waiting
            .iter()
            .any(|w| w.contains("us-east-1b cannot launch")),
        "{:?}",
        group.waiting
    );
    assert_ne!(group.status, ResourceStatus::Ready);
    assert!(proxy.remove_rule(rule));
    wait_until("2/2/2", std::time::Duration::from_secs(30), || async {
        sorted(&e.running(id).await) == vec![2, 2, 2]
    })
    .await;
    e.wait_ready(id).await;
    e.finish().await;
}

/// A new template with `max_unavailable = 0` rolls every instance without ever having fewer
/// than `desired` running (sampled continuously at the provider).
#[tokio::test]
async fn a_template_change_with_max_unavailable_zero_never_drops_below_desired() {
    let e = engine("ig-roll", false).await;
    let id = e.create(e.new_group("web", 6)).await.group_id;
    let group = e.wait_ready(id).await;
    assert_eq!(group.policy.max_unavailable, RolloutBudget::Count(0));
    let mut template = group.template.clone();
    template.instance_type = "t3.small".into();
    let dry = groups::update(
        &e.app.db,
        &e.member,
        e.tenant_id,
        id,
        GroupPatch {
            template: Some(template.clone()),
            ..Default::default()
        },
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await
    .unwrap();
    assert!(
        dry.plan
            .provider_changes
            .iter()
            .any(|c| c.detail.contains("replace 2") && c.detail.contains("max unavailable 0")),
        "{:#?}",
        dry.plan.provider_changes
    );
    assert!(dry.plan.cost.monthly_after_cents > dry.plan.cost.monthly_before_cents);
    e.patch(
        id,
        GroupPatch {
            template: Some(template),
            ..Default::default()
        },
    )
    .await;
    let mut lowest = u32::MAX;
    let mut samples = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let listed = e.provider.list_for_resource(id).await.unwrap();
        let running: Vec<_> = listed.iter().filter(|i| i.state == "running").collect();
        lowest = lowest.min(running.len() as u32);
        samples += 1;
        if running.len() == 6 && running.iter().all(|i| i.revision == Some(2)) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rollout did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    eprintln!("rollout of 6: {samples} samples, lowest running {lowest}");
    assert!(
        lowest >= 6,
        "running dropped to {lowest} during the rollout"
    );
    let group = e.wait_ready(id).await;
    assert_eq!(group.revision, 2);
    assert_eq!(group.template.instance_type, "t3.small");
    e.finish().await;
}

/// With room for 4 instances, two concurrent creates of 3 give one group and one clear refusal.
#[tokio::test]
async fn with_room_for_one_group_two_concurrent_creates_give_one() {
    let e = engine("ig-quota", false).await;
    sqlx::query("update tenant set max_instances = 4 where tenant_id = $1")
        .bind(e.tenant_id)
        .execute(&e.app.db)
        .await
        .unwrap();
    let (first, second) = tokio::join!(
        groups::create(
            &e.app.db,
            &e.member,
            e.tenant_id,
            e.new_group("one", 3),
            WriteOptions::default()
        ),
        groups::create(
            &e.app.db,
            &e.member,
            e.tenant_id,
            e.new_group("two", 3),
            WriteOptions::default()
        ),
    );
    let results = [first, second];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let refusal = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(
        matches!(refusal, AppError::QuotaExceeded(m) if m.contains("instances quota is 4")),
        "{refusal:?}"
    );
    assert_eq!(refusal.status(), 409);
    // vCPUs too: t3.micro has 2, so 3 instances need 6.
    sqlx::query("update tenant set max_instances = 50, max_vcpus = 9 where tenant_id = $1")
        .bind(e.tenant_id)
        .execute(&e.app.db)
        .await
        .unwrap();
    let refused = groups::create(
        &e.app.db,
        &e.member,
        e.tenant_id,
        e.new_group("three", 2),
        WriteOptions::default(),
    )
    .await;
    assert!(
        matches!(&refused, Err(AppError::QuotaExceeded(m)) if m.contains("vcpus quota is 9")),
        "{refused:?}"
    );
    e.finish().await;
}

/// A dry run answers with the plan (per-zone launches, quota, cost) and writes nothing.
#[tokio::test]
async fn a_dry_run_writes_nothing_and_bad_input_is_refused_field_by_field() {
    let e = engine("ig-dry", false).await;
    let count = || async {
        let mut out = Vec::new();
        for table in [
            "resource",
            "instance_group",
            "instance_group_template",
            "resource_zone",
            "instance",
            "job",
            "audit_event",
        ] {
            let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table}"))
                .fetch_one(&e.app.db)
                .await
                .unwrap();
            out.push((table, n));
        }
        out
    };
    let before = count().await;
    let dry = groups::create(
        &e.app.db,
        &e.member,
        e.tenant_id,
        e.new_group("web", 12),
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await
    .unwrap();
    assert!(dry.dry_run && dry.group.is_none() && dry.job_id.is_none());
    assert_eq!(count().await, before, "a dry run writes nothing");
    let launches: Vec<&str> = dry
        .plan
        .provider_changes
        .iter()
        .filter(|c| c.object == "instances")
        .map(|c| c.detail.as_str())
        .collect();
    assert!(
        dry.plan
            .provider_changes
            .iter()
            .any(|c| c.object == "security group" && c.detail.contains("instance group")),
        "the group's own security group is planned: {:?}",
        dry.plan.provider_changes
    );
    assert_eq!(launches.len(), 3, "{launches:?}");
    assert!(
        launches
            .iter()
            .all(|d| d.starts_with("4 × t3.micro in zone")),
        "{launches:?}"
    );
    let q = |name: &str| {
        dry.plan
            .quota
            .iter()
            .find(|q| q.quota == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (q("instances").used_before, q("instances").used_after),
        (0, 12)
    );
    assert_eq!((q("vcpus").used_before, q("vcpus").used_after), (0, 24));
    // 12 × t3.micro at $0.0104 an hour, 730 hours: $91.10.
    assert_eq!(dry.plan.cost.monthly_after_cents, 9110);
    assert_eq!(dry.plan.cost.monthly_before_cents, 0);
    let instances = aws::ec2(&e.target)
        .describe_instances()
        .send()
        .await
        .unwrap();
    assert!(
        instances.reservations().is_empty(),
        "nothing launched in the account"
    );

    let create = |g: NewGroup| {
        groups::create(
            &e.app.db,
            &e.member,
            e.tenant_id,
            g,
            WriteOptions::default(),
        )
    };
    let field = |r: Result<_, AppError>, f: &str| r.err().and_then(|e| e.field_message(f));
    let mut bad = e.new_group("web", 12);
    bad.min = 5;
    bad.max = 10;
    assert!(field(create(bad).await, "desired").is_some());
    let mut bad = e.new_group("web", 1);
    bad.template.instance_type = "x9.huge".into();
    assert!(field(create(bad).await, "template.instance_type").is_some());
    let mut bad = e.new_group("web", 1);
    bad.zone_ids = vec![Uuid::new_v4()];
    assert!(field(create(bad).await, "zone_ids").is_some());
    let mut bad = e.new_group("web", 1);
    bad.zone_ids = vec![e.zone_ids[0], e.zone_ids[0]];
    assert!(field(create(bad).await, "zone_ids").is_some());
    assert_eq!(count().await, before);
    e.finish().await;
}

/// Deleting a group terminates every instance (a protected one too), leaves nothing running in
/// moto, releases the quota, and frees its zones for deletion.
#[tokio::test]
async fn deleting_a_group_leaves_nothing_in_the_sandbox_and_frees_its_zones() {
    let e = engine("ig-delete", false).await;
    let id = e.create(e.new_group("web", 5)).await.group_id;
    e.wait_ready(id).await;
    // A zone in use cannot be deleted.
    let refused = zones::delete(
        &e.app.db,
        &e.member,
        e.tenant_id,
        e.zone_ids[0],
        WriteOptions::default(),
    )
    .await;
    assert!(
        matches!(&refused, Err(AppError::Conflict { message, .. }) if message.contains("instance group web")),
        "{refused:?}"
    );
    let first = groups::list_instances(&e.app.db, &e.member, e.tenant_id, id, None, 10)
        .await
        .unwrap()[0]
        .instance_id
        .to_string();
    groups::set_protection(
        &e.app.db,
        &e.member,
        e.tenant_id,
        id,
        &first,
        InstancePatch { protected: true },
    )
    .await
    .unwrap();
    let dry = groups::delete(
        &e.app.db,
        &e.member,
        e.tenant_id,
        id,
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await
    .unwrap();
    assert!(
        dry.plan.warnings.iter().any(|w| w.contains("Protected")),
        "{:?}",
        dry.plan.warnings
    );
    assert_eq!(dry.plan.quota[0].used_after, 0);
    groups::delete(
        &e.app.db,
        &e.member,
        e.tenant_id,
        id,
        WriteOptions::default(),
    )
    .await
    .unwrap();
    wait_until(
        "the group to be deleted",
        std::time::Duration::from_secs(30),
        || async { matches!(e.group(id).await, Err(AppError::NotFound)) },
    )
    .await;
    let left: Vec<_> = e
        .provider
        .list_for_resource(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.state != "terminated")
        .collect();
    assert!(left.is_empty(), "{left:?}");
    let log = e.job_log(id).await;
    assert!(
        log.iter()
            .any(|l| l.starts_with("terminating 5 instances: i-")),
        "{log:#?}"
    );
    let reserved: i64 = sqlx::query_scalar(
        "select coalesce(sum(reserved_instances), 0)::bigint from instance_group g join resource r using (resource_id)
         where r.tenant_id = $1 and r.status <> 'deleted'",
    )
    .bind(e.tenant_id)
    .fetch_one(&e.app.db)
    .await
    .unwrap();
    assert_eq!(reserved, 0);
    zones::delete(
        &e.app.db,
        &e.member,
        e.tenant_id,
        e.zone_ids[0],
        WriteOptions::default(),
    )
    .await
    .expect("a zone no group uses can be deleted");
    e.finish().await;
}

/// Over REST: dry run 200, apply 202 (replayed by its Idempotency-Key), a stale If-Match 412,
/// the list, a PATCH that scales, the instances and protecting one.
#[tokio::test]
async fn rest_plans_applies_scales_and_protects() {
    let e = engine("ig-rest", false).await;
    let key = e.app.api_key(e.member_id, e.tenant_id, Role::Member).await;
    let http = reqwest::Client::new();
    let base = format!(
        "{}/api/v1/tenants/{}/instance-groups",
        e.app.url, e.tenant_id
    );
    let send = |req: reqwest::RequestBuilder| async move {
        let reply = req.send().await.unwrap();
        let status = reply.status().as_u16();
        (
            status,
            reply.json::<serde_json::Value>().await.unwrap_or_default(),
        )
    };
    let body = serde_json::to_value(e.new_group("api", 3)).unwrap();
    let (status, plan) = send(
        http.post(format!("{base}?dry_run=true"))
            .bearer_auth(&key)
            .json(&body),
    )
    .await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["dry_run"], true);
    let fingerprint = plan["plan"]["fingerprint"].as_str().unwrap().to_string();
    // Another group takes quota meanwhile: the plan is stale.
    e.create(e.new_group("other", 1)).await;
    let (status, problem) = send(
        http.post(&base)
            .bearer_auth(&key)
            .header("If-Match", format!("\"{fingerprint}\""))
            .json(&body),
    )
    .await;
    assert_eq!(status, 412, "{problem}");
    assert_eq!(problem["type"], "/problems/stale-plan");
    let post = || {
        http.post(&base)
            .bearer_auth(&key)
            .header("Idempotency-Key", "create-api")
            .json(&body)
    };
    let (status, first) = send(post()).await;
    assert_eq!(status, 202, "{first}");
    let (status, again) = send(post()).await;
    assert_eq!(
        (status, &again),
        (202, &first),
        "the same key replays the first answer"
    );
    let id = first["group"]["group_id"].as_str().unwrap().to_string();
    let (status, page) = send(http.get(format!("{base}?limit=1")).bearer_auth(&key)).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["name"], "api");
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let (_, page) = send(
        http.get(format!("{base}?limit=1&cursor={cursor}"))
            .bearer_auth(&key),
    )
    .await;
    assert_eq!(page["items"][0]["name"], "other");
    assert!(page["next_cursor"].is_null());

    let id_uuid: Uuid = id.parse().unwrap();
    e.wait_ready(id_uuid).await;
    let (status, changed) = send(
        http.patch(format!("{base}/{id}"))
            .bearer_auth(&key)
            .json(&serde_json::json!({ "desired": 4 })),
    )
    .await;
    assert_eq!(status, 202, "{changed}");
    assert_eq!(changed["group"]["desired"], 4);
    e.wait_ready(id_uuid).await;
    let (status, instances) =
        send(http.get(format!("{base}/{id}/instances")).bearer_auth(&key)).await;
    assert_eq!(status, 200, "{instances}");
    let items = instances["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let provider_id = items[0]["provider_id"].as_str().unwrap();
    let (status, protected) = send(
        http.patch(format!("{base}/{id}/instances/{provider_id}"))
            .bearer_auth(&key)
            .json(&serde_json::json!({ "protected": true })),
    )
    .await;
    assert_eq!(status, 200, "{protected}");
    assert_eq!(protected["protected"], true);
    // A viewer reads but cannot change; another tenant's group is not found.
    let (status, _) = send(
        http.get(format!(
            "{}/api/v1/tenants/{}/instance-groups/{id}",
            e.app.url,
            Uuid::new_v4()
        ))
        .bearer_auth(&key),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = send(http.delete(format!("{base}/{id}")).bearer_auth(&key)).await;
    assert_eq!(status, 202);
    e.finish().await;
}

/// Scale-in takes zone balance first, then the oldest instance (the default order), and never a
/// protected one: from 6 (an old and a new instance per zone, the old one of us-east-1a
/// protected) to 3 leaves that protected old one and the new ones of the other zones.
#[tokio::test]
async fn scale_in_keeps_zones_balanced_takes_the_oldest_and_never_a_protected_instance() {
    let e = engine("ig-order", false).await;
    let id = e.create(e.new_group("web", 3)).await.group_id;
    e.wait_ready(id).await;
    let ids_by_zone = |list: Vec<app::model::groups::InstanceView>| {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for i in list {
            m.entry(i.availability_zone)
                .or_default()
                .push(i.provider_id.unwrap());
        }
        m
    };
    let list = || groups::list_instances(&e.app.db, &e.member, e.tenant_id, id, None, 100);
    let old = ids_by_zone(list().await.unwrap());
    e.patch(
        id,
        GroupPatch {
            desired: Some(6),
            ..Default::default()
        },
    )
    .await;
    e.wait_ready(id).await;
    let all = ids_by_zone(list().await.unwrap());
    let new: BTreeMap<String, String> = all
        .iter()
        .map(|(z, ids)| {
            (
                z.clone(),
                ids.iter().find(|i| !old[z].contains(i)).unwrap().clone(),
            )
        })
        .collect();
    let protected = old[ZONES[0]][0].clone();
    groups::set_protection(
        &e.app.db,
        &e.member,
        e.tenant_id,
        id,
        &protected,
        InstancePatch { protected: true },
    )
    .await
    .unwrap();
    e.patch(
        id,
        GroupPatch {
            desired: Some(3),
            ..Default::default()
        },
    )
    .await;
    e.wait_ready(id).await;
    let mut left: Vec<String> = e
        .provider
        .list_for_resource(id)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.state == "running")
        .map(|i| i.instance_id)
        .collect();
    left.sort();
    let mut expected = vec![protected, new[ZONES[1]].clone(), new[ZONES[2]].clone()];
    expected.sort();
    assert_eq!(left, expected, "old instances: {old:?}, new: {new:?}");
    e.finish().await;
}

/// The reply to one RunInstances is lost (the fault proxy forwards it to moto and closes the
/// connection): the reconciler cannot know what happened, logs it, and the next run adopts the
/// instances by their launch token. Exactly the desired instances, none launched twice.
#[tokio::test]
async fn a_lost_reply_to_run_instances_is_adopted_by_tag_and_not_doubled() {
    let e = engine("ig-lost", true).await;
    let proxy = e.proxy.as_ref().unwrap();
    proxy.add_rule(Rule::drop_reply("RunInstances").in_zone(ZONES[0]).times(1));
    let id = e.create(e.new_group("web", 6)).await.group_id;
    let group = e.wait_ready(id).await;
    assert!(proxy.rules().is_empty(), "the one-shot rule fired");
    let listed = e.provider.list_for_resource(id).await.unwrap();
    assert_eq!(listed.len(), 6, "nothing launched twice: {listed:?}");
    assert_eq!(sorted(&e.running(id).await), vec![2, 2, 2]);
    assert_eq!(group.running, 6);
    let log = e.job_log(id).await;
    assert!(
        log.iter().any(|l| l.contains("in us-east-1a: no answer")),
        "{log:#?}"
    );
    e.finish().await;
}
