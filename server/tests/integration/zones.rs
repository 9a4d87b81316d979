//! Zones against the sandbox (moto through the real AWS SDK): the network a zone gets, the VPC
//! shared and removed with the last zone, dry runs, stale plans, idempotency keys, the quota
//! race, a worker process killed between a create and its record, and the orphan sweeper.
//! moto is shared by the tests running at once, so every assertion about the cloud filters by
//! this test's tenant tag.

use crate::support::{endpoints, keyring, moto_url, wait_until, worker_process, TestApp};
use app::backend::cloud::accounts as cloud_accounts;
use app::backend::cloud::providers::aws;
use app::backend::identity::actor::Actor;
use app::backend::jobs::worker::{Worker, WorkerConfig};
use app::backend::resources::{self, zones, WriteOptions};
use app::error::AppError;
use app::model::resources::{NewZone, ResourceStatus, ZoneView};
use app::model::Role;
use aws_sdk_ec2::types::Filter;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

struct Env {
    app: TestApp,
    tenant_id: Uuid,
    account_id: Uuid,
    member: Actor,
    member_id: Uuid,
}

async fn env(slug: &str) -> Env {
    let app = TestApp::spawn().await;
    let fixture = app.tenant_with_roles(slug).await;
    let owner = app.actor(fixture.user(Role::Owner)).await;
    let account = cloud_accounts::NewCloudAccount {
        name: "sandbox".into(),
        region: "us-east-1".into(),
        access_key_id: "AKIASANDBOXEXAMPLE00".into(),
        secret_access_key: "sandbox-secret".into(),
        endpoint_url: Some(moto_url()),
        // Not emulated: an emulated account lives in a moto account of its own
        // (x-moto-account-id), and `ec2()` below inspects moto's default account.
        emulated: false,
    };
    let account = cloud_accounts::create(
        &app.db,
        &keyring(),
        &endpoints(),
        &owner,
        fixture.tenant_id,
        account,
    )
    .await
    .expect("the sandbox account is accepted");
    let member_id = fixture.user(Role::Member);
    Env {
        member: app.actor(member_id).await,
        member_id,
        tenant_id: fixture.tenant_id,
        account_id: account.cloud_account_id,
        app,
    }
}

impl Env {
    /// A worker in this process running every job kind, with a short resync.
    fn worker(&self) -> Worker {
        let mut settings = crate::support::settings(&self.app.database_url);
        settings.engine.resync_interval = Duration::from_millis(500);
        settings.engine.sweep_grace = Duration::from_secs(60);
        let registry =
            server::startup::registry(&Arc::new(keyring()), &settings, &Arc::new(endpoints()));
        let mut config = WorkerConfig::new(4);
        config.poll_interval = Duration::from_millis(100);
        config.backoff_base = Duration::from_millis(100);
        let worker = Worker::start(self.app.db.clone(), registry, config);
        server::startup::start_resync(&self.app.db, &settings, worker.stop_token());
        worker
    }

    fn new_zone(&self, name: &str, az: &str) -> NewZone {
        NewZone {
            name: name.into(),
            cloud_account_id: self.account_id,
            availability_zone: az.into(),
            network_cidr: None,
        }
    }

    async fn create(&self, name: &str, az: &str) -> ZoneView {
        zones::create(
            &self.app.db,
            &self.member,
            self.tenant_id,
            self.new_zone(name, az),
            WriteOptions::default(),
        )
        .await
        .expect("the zone is accepted")
        .zone
        .expect("an apply returns the zone")
    }

    async fn zone(&self, zone_id: Uuid) -> Result<ZoneView, AppError> {
        zones::get(&self.app.db, &self.member, self.tenant_id, zone_id).await
    }

    async fn wait_ready(&self, zone_id: Uuid) -> ZoneView {
        wait_until("the zone to be ready", Duration::from_secs(60), || async {
            self.zone(zone_id)
                .await
                .is_ok_and(|z| z.status == ResourceStatus::Ready)
        })
        .await;
        self.zone(zone_id).await.unwrap()
    }

    async fn wait_deleted(&self, zone_id: Uuid) {
        wait_until(
            "the zone to be deleted",
            Duration::from_secs(60),
            || async { matches!(self.zone(zone_id).await, Err(AppError::NotFound)) },
        )
        .await;
    }

    /// What moto holds of this tenant, found by tag: (VPC ids, subnet ids, security group ids).
    async fn cloud(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let ec2 = ec2();
        let by = || {
            Filter::builder()
                .name("tag:stratus:tenant")
                .values(self.tenant_id.to_string())
                .build()
        };
        let mut vpcs: Vec<String> = ec2
            .describe_vpcs()
            .filters(by())
            .send()
            .await
            .unwrap()
            .vpcs()
            .iter()
            .filter_map(|v| v.vpc_id().map(str::to_string))
            .collect();
        let mut subnets: Vec<String> = ec2
            .describe_subnets()
            .filters(by())
            .send()
            .await
            .unwrap()
            .subnets()
            .iter()
            .filter_map(|s| s.subnet_id().map(str::to_string))
            .collect();
        let mut groups: Vec<String> = ec2
            .describe_security_groups()
            .filters(by())
            .send()
            .await
            .unwrap()
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect();
        vpcs.sort();
        subnets.sort();
        groups.sort();
        (vpcs, subnets, groups)
    }
}

fn ec2() -> aws_sdk_ec2::Client {
    aws::ec2(&aws::Target::new(
        "us-east-1".into(),
        Some(moto_url()),
        "AKIASANDBOXEXAMPLE00".into(),
        SecretString::from("sandbox-secret"),
        app::backend::cloud::endpoints::Route::Trusted,
    ))
}

async fn tags_of_subnet(subnet_id: &str) -> Vec<(String, String)> {
    let answer = ec2()
        .describe_subnets()
        .subnet_ids(subnet_id)
        .send()
        .await
        .unwrap();
    let subnet = &answer.subnets()[0];
    let mut tags: Vec<(String, String)> = subnet
        .tags()
        .iter()
        .map(|t| {
            (
                t.key().unwrap_or_default().to_string(),
                t.value().unwrap_or_default().to_string(),
            )
        })
        .collect();
    tags.sort();
    tags
}

#[tokio::test]
async fn zones_share_the_vpc_and_deleting_both_leaves_nothing() {
    let env = env("zones").await;
    let worker = env.worker();
    let a = env.create("web-a", "us-east-1a").await;
    assert_eq!(a.network_cidr, "10.0.0.0/16");
    assert_eq!(a.subnet_cidr, "10.0.0.0/20");
    let a = env.wait_ready(a.zone_id).await;
    let (vpcs, subnets, groups) = env.cloud().await;
    assert_eq!(vpcs, vec![a.vpc_id.clone().unwrap()]);
    assert_eq!(subnets, vec![a.subnet_id.clone().unwrap()]);
    assert_eq!(groups, vec![a.security_group_id.clone().unwrap()]);

    // Tagged from the create call: installation, tenant, resource, token, name.
    let installation = resources::installation_id(&env.app.db).await.unwrap();
    let tags = tags_of_subnet(a.subnet_id.as_deref().unwrap()).await;
    let tag = |k: &str| {
        tags.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(tag("stratus:installation"), Some(installation.to_string()));
    assert_eq!(tag("stratus:tenant"), Some(env.tenant_id.to_string()));
    assert_eq!(tag("stratus:resource"), Some(a.zone_id.to_string()));
    assert_eq!(tag("stratus:token"), Some(format!("subnet:{}", a.zone_id)));
    assert_eq!(tag("Name"), Some("stratus/zones/web-a".into()));
    let subnet = ec2()
        .describe_subnets()
        .subnet_ids(a.subnet_id.as_deref().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(subnet.subnets()[0].availability_zone(), Some("us-east-1a"));
    assert_eq!(subnet.subnets()[0].cidr_block(), Some("10.0.0.0/20"));
    assert_eq!(
        a.conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .map(|c| c.reason.as_str()),
        Some("NetworkReady")
    );

    // The second zone in the region reuses the VPC.
    let b = env.create("web-b", "us-east-1b").await;
    assert_eq!(b.subnet_cidr, "10.0.16.0/20");
    let b = env.wait_ready(b.zone_id).await;
    assert_eq!(b.vpc_id, a.vpc_id);
    let (vpcs, subnets, groups) = env.cloud().await;
    assert_eq!((vpcs.len(), subnets.len(), groups.len()), (1, 2, 2));

    // Deleting one keeps the VPC; deleting the last removes it.
    zones::delete(
        &env.app.db,
        &env.member,
        env.tenant_id,
        a.zone_id,
        WriteOptions::default(),
    )
    .await
    .unwrap();
    env.wait_deleted(a.zone_id).await;
    let (vpcs, subnets, groups) = env.cloud().await;
    assert_eq!((vpcs.len(), subnets.len(), groups.len()), (1, 1, 1));
    let change = zones::delete(
        &env.app.db,
        &env.member,
        env.tenant_id,
        b.zone_id,
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await
    .unwrap();
    assert!(change
        .plan
        .provider_changes
        .iter()
        .any(|c| c.object == "VPC" && c.action == app::model::resources::ChangeAction::Destroy));
    zones::delete(
        &env.app.db,
        &env.member,
        env.tenant_id,
        b.zone_id,
        WriteOptions::default(),
    )
    .await
    .unwrap();
    env.wait_deleted(b.zone_id).await;
    assert_eq!(env.cloud().await, (vec![], vec![], vec![]));
    let left: i64 = sqlx::query_scalar("select count(*) from provider_object")
        .fetch_one(&env.app.db)
        .await
        .unwrap();
    assert_eq!(left, 0, "no intent rows are left");
    worker.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_a_stale_plan_is_refused() {
    let env = env("dryrun").await;
    let counts = || async {
        sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(
            "select (select count(*) from resource), (select count(*) from zone), (select count(*) from zone_network),
                    (select count(*) from job), (select count(*) from audit_event)",
        )
        .fetch_one(&env.app.db)
        .await
        .unwrap()
    };
    let before = (counts().await, env.cloud().await);
    let plan = zones::create(
        &env.app.db,
        &env.member,
        env.tenant_id,
        env.new_zone("db-a", "us-east-1a"),
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await
    .unwrap();
    assert!(plan.dry_run && plan.zone.is_none() && plan.job_id.is_none());
    assert_eq!(plan.plan.quota[0].used_after, 1);
    assert_eq!(
        (counts().await, env.cloud().await),
        before,
        "a dry run changes nothing"
    );

    // Another zone created meanwhile takes the subnet the plan showed: the plan is stale.
    env.create("other", "us-east-1b").await;
    let stale = zones::create(
        &env.app.db,
        &env.member,
        env.tenant_id,
        env.new_zone("db-a", "us-east-1a"),
        WriteOptions {
            dry_run: false,
            fingerprint: Some(plan.plan.fingerprint.clone()),
        },
    )
    .await;
    assert!(
        matches!(stale, Err(AppError::PreconditionFailed(_))),
        "{stale:?}"
    );
    // A fresh plan applies.
    let fresh = zones::create(
        &env.app.db,
        &env.member,
        env.tenant_id,
        env.new_zone("db-a", "us-east-1a"),
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await
    .unwrap();
    let applied = zones::create(
        &env.app.db,
        &env.member,
        env.tenant_id,
        env.new_zone("db-a", "us-east-1a"),
        WriteOptions {
            dry_run: false,
            fingerprint: Some(fresh.plan.fingerprint),
        },
    )
    .await
    .unwrap();
    assert!(applied.job_id.is_some());
}

#[tokio::test]
async fn with_one_zone_of_quota_left_two_concurrent_creates_give_one_zone() {
    let env = env("quota").await;
    sqlx::query("update tenant set max_zones = 1 where tenant_id = $1")
        .bind(env.tenant_id)
        .execute(&env.app.db)
        .await
        .unwrap();
    let (first, second) = tokio::join!(
        zones::create(
            &env.app.db,
            &env.member,
            env.tenant_id,
            env.new_zone("one", "us-east-1a"),
            WriteOptions::default()
        ),
        zones::create(
            &env.app.db,
            &env.member,
            env.tenant_id,
            env.new_zone("two", "us-east-1b"),
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
        matches!(refusal, AppError::QuotaExceeded(m) if m.contains("zones quota is 1")),
        "{refusal:?}"
    );
    assert_eq!(refusal.status(), 409);
}

#[tokio::test]
async fn bad_input_is_refused_field_by_field() {
    let env = env("badzone").await;
    let create = |zone: NewZone| {
        zones::create(
            &env.app.db,
            &env.member,
            env.tenant_id,
            zone,
            WriteOptions::default(),
        )
    };
    let field = |r: Result<_, AppError>, f: &str| r.err().and_then(|e| e.field_message(f));
    assert!(field(create(env.new_zone("Web A", "us-east-1a")).await, "name").is_some());
    // The sandbox would accept another region's zone; Stratus does not.
    assert!(field(
        create(env.new_zone("web", "eu-west-1a")).await,
        "availability_zone"
    )
    .is_some());
    let mut public = env.new_zone("web", "us-east-1a");
    public.network_cidr = Some("8.8.0.0/16".into());
    assert!(field(create(public).await, "network_cidr").is_some());
    let mut foreign = env.new_zone("web", "us-east-1a");
    foreign.cloud_account_id = Uuid::new_v4();
    assert!(field(create(foreign).await, "cloud_account_id").is_some());
    env.create("web", "us-east-1a").await;
    assert!(field(create(env.new_zone("web", "us-east-1b")).await, "name").is_some());
}

#[tokio::test]
async fn a_zone_in_use_cannot_be_deleted() {
    let env = env("inuse").await;
    let zone = env.create("data", "us-east-1a").await;
    // An instance group (arriving with the next issue) that runs in the zone.
    let group: Uuid = sqlx::query_scalar(
        "insert into resource (tenant_id, kind, name, cloud_account_id, spec) values ($1, 'instance_group', 'api', $2, '{}') returning resource_id",
    )
    .bind(env.tenant_id)
    .bind(env.account_id)
    .fetch_one(&env.app.db)
    .await
    .unwrap();
    sqlx::query("insert into resource_zone (resource_id, zone_id) values ($1, $2)")
        .bind(group)
        .bind(zone.zone_id)
        .execute(&env.app.db)
        .await
        .unwrap();
    let refused = zones::delete(
        &env.app.db,
        &env.member,
        env.tenant_id,
        zone.zone_id,
        WriteOptions::default(),
    )
    .await;
    match refused {
        Err(AppError::Conflict { message, .. }) => {
            assert!(message.contains("instance group api"), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

/// A worker process stops right after CreateSubnet answered (a failpoint) and is killed with
/// SIGKILL before it records the subnet; the next worker adopts it by tag.
#[tokio::test]
async fn a_worker_killed_between_creating_and_recording_the_subnet_leaves_one_subnet() {
    let env = env("crash").await;
    let spawn_worker = |failpoints: &str| worker_process(&env.app.database_url, failpoints);
    let mut doomed = spawn_worker("subnet.created");
    let zone = env.create("crashy", "us-east-1a").await;
    wait_until(
        "the subnet to exist in the sandbox",
        Duration::from_secs(60),
        || async { env.cloud().await.1.len() == 1 },
    )
    .await;
    let recorded: Option<String> =
        sqlx::query_scalar("select provider_id from provider_object where token = $1")
            .bind(format!("subnet:{}", zone.zone_id))
            .fetch_one(&env.app.db)
            .await
            .unwrap();
    assert_eq!(
        recorded, None,
        "the worker stopped before recording the subnet"
    );
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();

    let mut rescuer = spawn_worker("");
    let zone = env.wait_ready(zone.zone_id).await;
    let (vpcs, subnets, groups) = env.cloud().await;
    assert_eq!((vpcs.len(), groups.len()), (1, 1));
    assert_eq!(
        subnets,
        vec![zone.subnet_id.clone().unwrap()],
        "exactly one subnet, the adopted one"
    );
    rescuer.start_kill().unwrap();
    rescuer.wait().await.unwrap();
}

#[tokio::test]
async fn the_sweeper_deletes_untracked_subnets_of_this_installation_only() {
    let env = env("sweep").await;
    let worker = env.worker();
    let zone = env
        .wait_ready(env.create("kept", "us-east-1a").await.zone_id)
        .await;
    let installation = resources::installation_id(&env.app.db).await.unwrap();
    let vpc = zone.vpc_id.clone().unwrap();
    let make_subnet = |cidr: &'static str, installation: String| {
        let vpc = vpc.clone();
        let tenant = env.tenant_id.to_string();
        async move {
            let tags = [
                ("stratus:installation", installation),
                ("stratus:tenant", tenant),
                ("stratus:token", format!("subnet:{}", Uuid::new_v4())),
                ("stratus:created-at", "2026-01-01T00:00:00Z".to_string()),
            ];
            let spec = aws_sdk_ec2::types::TagSpecification::builder()
                .resource_type(aws_sdk_ec2::types::ResourceType::Subnet)
                .set_tags(Some(
                    tags.into_iter()
                        .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                        .collect(),
                ))
                .build();
            ec2()
                .create_subnet()
                .vpc_id(vpc)
                .cidr_block(cidr)
                .availability_zone("us-east-1c")
                .tag_specifications(spec)
                .send()
                .await
                .unwrap()
                .subnet()
                .unwrap()
                .subnet_id()
                .unwrap()
                .to_string()
        }
    };
    let orphan = make_subnet("10.0.128.0/20", installation.to_string()).await;
    let foreign = make_subnet("10.0.144.0/20", Uuid::new_v4().to_string()).await;
    let job_id = resources::sweeper::schedule(&env.app.db, env.tenant_id, env.account_id)
        .await
        .unwrap();
    wait_until("the sweep to finish", Duration::from_secs(60), || async {
        let state: String = sqlx::query_scalar("select state::text from job where job_id = $1")
            .bind(job_id)
            .fetch_one(&env.app.db)
            .await
            .unwrap();
        state == "succeeded"
    })
    .await;
    let (_, subnets, groups) = env.cloud().await;
    assert!(!subnets.contains(&orphan), "the orphan is deleted");
    assert!(
        subnets.contains(&foreign),
        "another installation's subnet is left alone"
    );
    assert!(
        subnets.contains(zone.subnet_id.as_ref().unwrap()),
        "a tracked subnet is left alone"
    );
    assert_eq!(groups.len(), 1);
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_event where action = 'cloud_object.swept' and target = $1",
    )
    .bind(&orphan)
    .fetch_one(&env.app.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    // Clean up what this test made outside Stratus.
    ec2()
        .delete_subnet()
        .subnet_id(&foreign)
        .send()
        .await
        .unwrap();
    worker.shutdown().await;
}

#[tokio::test]
async fn a_subnet_deleted_behind_our_back_is_made_again_by_the_resync() {
    let env = env("drift").await;
    let worker = env.worker();
    let zone = env
        .wait_ready(env.create("drifty", "us-east-1a").await.zone_id)
        .await;
    let old = zone.subnet_id.clone().unwrap();
    // Out of band: someone deletes the security group and the subnet in the console.
    ec2()
        .delete_security_group()
        .group_id(zone.security_group_id.clone().unwrap())
        .send()
        .await
        .unwrap();
    ec2().delete_subnet().subnet_id(&old).send().await.unwrap();
    wait_until(
        "the resync to make the subnet again",
        Duration::from_secs(60),
        || async {
            env.zone(zone.zone_id).await.is_ok_and(|z| {
                z.status == ResourceStatus::Ready
                    && z.subnet_id.as_deref().is_some_and(|s| s != old)
            })
        },
    )
    .await;
    let (_, subnets, groups) = env.cloud().await;
    assert_eq!((subnets.len(), groups.len()), (1, 1));
    worker.shutdown().await;
}

/// Over REST: `?dry_run=true` answers 200 with the plan, an apply 202; `If-Match` with a stale
/// fingerprint answers 412; an `Idempotency-Key` replays the first answer, and refuses (422)
/// when reused for another body.
#[tokio::test]
async fn rest_plans_applies_and_replays_with_idempotency_keys() {
    let env = env("restzones").await;
    let key = env
        .app
        .api_key(env.member_id, env.tenant_id, Role::Member)
        .await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/tenants/{}/zones", env.app.url, env.tenant_id);
    let body = serde_json::json!({ "name": "api-a", "cloud_account_id": env.account_id, "availability_zone": "us-east-1a" });
    let post =
        |query: &'static str, body: serde_json::Value, headers: Vec<(&'static str, String)>| {
            let mut request = http
                .post(format!("{url}{query}"))
                .bearer_auth(&key)
                .json(&body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            async move {
                let reply = request.send().await.unwrap();
                let status = reply.status().as_u16();
                let content_type = reply
                    .headers()
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                (
                    status,
                    content_type,
                    reply.json::<serde_json::Value>().await.unwrap(),
                )
            }
        };
    let (status, _, plan) = post("?dry_run=true", body.clone(), vec![]).await;
    assert_eq!(status, 200, "{plan}");
    assert_eq!(plan["dry_run"], true);
    let fingerprint = plan["plan"]["fingerprint"].as_str().unwrap().to_string();
    assert!(plan["plan"]["provider_changes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["object"] == "VPC" && c["action"] == "create"));

    // Something changed since the plan: refused with 412.
    env.create("first", "us-east-1c").await;
    let (status, content_type, problem) = post(
        "",
        body.clone(),
        vec![("If-Match", format!("\"{fingerprint}\""))],
    )
    .await;
    assert_eq!(status, 412, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["type"], "/problems/stale-plan");

    let idem = ("Idempotency-Key", "create-api-a".to_string());
    let (status, _, first) = post("", body.clone(), vec![idem.clone()]).await;
    assert_eq!(status, 202, "{first}");
    let (status, _, again) = post("", body.clone(), vec![idem.clone()]).await;
    assert_eq!(status, 202);
    assert_eq!(
        again, first,
        "the same key and body replay the first answer"
    );
    let zones: i64 =
        sqlx::query_scalar("select count(*) from resource where tenant_id = $1 and name = 'api-a'")
            .bind(env.tenant_id)
            .fetch_one(&env.app.db)
            .await
            .unwrap();
    assert_eq!(zones, 1, "one zone, not two");
    let mut other = body.clone();
    other["name"] = "api-b".into();
    let (status, _, problem) = post("", other, vec![idem]).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "/problems/invalid-input");
}

/// The reply to CreateSubnet is lost (the fault proxy forwards the request and closes the
/// connection): the reconciler cannot know whether the subnet exists, looks it up by tag, and
/// adopts it. Exactly one subnet, and the zone is ready.
#[tokio::test]
async fn a_lost_reply_to_create_subnet_ends_with_one_subnet() {
    use server::fault_proxy::{FaultProxy, Rule};
    let env = env("lostreply").await;
    let proxy = FaultProxy::start(&moto_url()).await.unwrap();
    proxy.add_rule(Rule::drop_reply("CreateSubnet").times(1));
    // The account reaches moto through the proxy (a private address: allowed, as an operator would).
    let policy =
        app::backend::cloud::endpoints::EndpointPolicy::new(&[proxy.url(), moto_url()], None)
            .unwrap();
    sqlx::query("update cloud_account set endpoint_url = $2 where cloud_account_id = $1")
        .bind(env.account_id)
        .bind(proxy.url())
        .execute(&env.app.db)
        .await
        .unwrap();
    let mut settings = crate::support::settings(&env.app.database_url);
    settings.engine.resync_interval = Duration::from_millis(500);
    let registry = server::startup::registry(&Arc::new(keyring()), &settings, &Arc::new(policy));
    let mut config = WorkerConfig::new(2);
    config.poll_interval = Duration::from_millis(100);
    config.backoff_base = Duration::from_millis(100);
    let worker = Worker::start(env.app.db.clone(), registry, config);

    let zone = env.create("lossy", "us-east-1a").await;
    let zone = env.wait_ready(zone.zone_id).await;
    assert!(
        proxy.rules().is_empty(),
        "the one-shot rule fired (dropping the reply) and expired"
    );
    let (vpcs, subnets, groups) = env.cloud().await;
    assert_eq!((vpcs.len(), groups.len()), (1, 1));
    assert_eq!(
        subnets,
        vec![zone.subnet_id.clone().unwrap()],
        "exactly one subnet"
    );
    worker.shutdown().await;
}

/// A create locks its tenant's row for the quota and then takes the tenant's job lane; an
/// enqueue (the resync's, say) takes the lane and then inserts a job, whose foreign key to the
/// tenant needs a key-share lock on the same row. Met in that order, they must not deadlock
/// (seen once in the group benchmark: "resource resync failed: deadlock detected").
#[tokio::test]
async fn a_create_waiting_for_the_job_lane_does_not_deadlock_the_enqueue_holding_it() {
    let env = env("lane").await;
    // An enqueue between reserving its place in the lane and inserting its job.
    let mut enqueuer = env.app.db.begin().await.unwrap();
    sqlx::query(
        "insert into job_lane (lane, next_seq) values ($1, 0)
         on conflict (lane) do update set next_seq = job_lane.next_seq",
    )
    .bind(env.tenant_id)
    .execute(&mut *enqueuer)
    .await
    .unwrap();
    let db = env.app.db.clone();
    let create = zones::create(
        &env.app.db,
        &env.member,
        env.tenant_id,
        env.new_zone("web", "us-east-1a"),
        WriteOptions::default(),
    );
    let enqueue = async {
        wait_until("the create to wait for the lane", Duration::from_secs(10), || async {
            sqlx::query_scalar::<_, i64>(
                "select count(*) from pg_stat_activity
                 where datname = current_database() and wait_event_type = 'Lock' and query like '%job_lane%'",
            )
            .fetch_one(&db)
            .await
            .unwrap()
                > 0
        })
        .await;
        let job = app::backend::jobs::enqueue(
            &mut enqueuer,
            app::backend::jobs::NewJob::new(app::backend::jobs::JobKind::Noop)
                .tenant(env.tenant_id),
        )
        .await;
        enqueuer.commit().await.map(|()| job)
    };
    let (created, enqueued) = tokio::join!(create, enqueue);
    let enqueued = enqueued.expect("the enqueue commits");
    assert!(enqueued.is_ok(), "the enqueue: {enqueued:?}");
    assert!(created.is_ok(), "the create: {created:?}");
}
