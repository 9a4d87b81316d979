//! `stratus bench groups`: the instance-group benchmark (driven by `scripts/bench-groups`).
//!
//! Against the sandbox (moto), in one process and one run:
//! - **create → Ready**: a group of N instances over three zones, from the write path's
//!   create (what REST and the portal call) until the group is `ready` for its generation, with
//!   the worker and resync of this process at the configured settings;
//! - **the floor**, measured by the same harness in the same run: the minimal direct calls,
//!   one RunInstances per zone (all zones at once, the same request Stratus makes) and then
//!   DescribeInstances until all N are running;
//! - **heal**: 10 instances terminated out of band, until the provider lists N live instances
//!   again, none of them a victim (after a random pause, so the moment falls anywhere in the
//!   group resync interval).
//!
//! Every run uses a fresh cloud account (its own moto account), so runs do not slow each
//! other down with moto's growing instance list; floor and Stratus alternate which goes first.

use crate::config::Settings;
use crate::startup;
use app::backend::cloud::accounts::{self as cloud_accounts, NewCloudAccount};
use app::backend::cloud::providers::instances::{AwsInstances, LaunchRequest};
use app::backend::cloud::providers::network::Ownership;
use app::backend::cloud::providers::{self, aws};
use app::backend::identity::actor::{Actor, Via};
use app::backend::resources::{groups, zones, WriteOptions};
use app::model::groups::{GroupPolicy, GroupTemplate, NewGroup};
use app::model::resources::{NewZone, ResourceStatus, ZoneView};
use sqlx::PgPool;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(clap::Args, Debug)]
pub struct GroupsArgs {
    /// The sandbox (moto) URL.
    #[arg(long)]
    moto: String,
    /// Instances in the group.
    #[arg(long, default_value_t = 100)]
    instances: u32,
    /// Create runs (each: floor and Stratus, a fresh moto account).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Heals per run.
    #[arg(long, default_value_t = 2)]
    heals: usize,
    /// Instances terminated out of band per heal.
    #[arg(long, default_value_t = 10)]
    terminate: usize,
    /// Print each run's job log with times from the create.
    #[arg(long)]
    trace: bool,
}

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

struct Bench {
    db: PgPool,
    keyring: Arc<app::backend::secrets::Keyring>,
    endpoints: Arc<app::backend::cloud::endpoints::EndpointPolicy>,
    owner: Actor,
    tenant_id: Uuid,
    args: GroupsArgs,
}

/// One run's sandbox: a cloud account, its three Ready zones, an image.
struct Account {
    zones: Vec<ZoneView>,
    instances: AwsInstances,
    target: aws::Target,
    image_id: String,
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn percentile(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (v.len() as f64 - 1.0)).round() as usize;
    v[rank.min(v.len() - 1)]
}

pub async fn run(settings: Settings, args: GroupsArgs) -> anyhow::Result<()> {
    let keyring = Arc::new(crate::keys::load(&settings)?);
    let db = startup::prepare_database(&settings).await?;
    let endpoints = startup::endpoint_policy(&settings)?;
    let worker = app::backend::jobs::worker::Worker::start(
        db.clone(),
        startup::registry(&keyring, &settings, &endpoints),
        settings.worker(settings.worker_concurrency.max(1)),
    );
    startup::start_resync(&db, &settings, worker.stop_token());

    // A platform admin, a tenant and its owner, as the portal makes them.
    let admin_email = "admin@bench.test";
    app::backend::identity::ensure_first_admin(&db, admin_email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let admin_id: Uuid = sqlx::query_scalar("select user_id from app_user where email = $1")
        .bind(admin_email)
        .fetch_one(&db)
        .await?;
    let actor = |user_id: Uuid, email: &str, platform_admin: bool| Actor {
        user_id,
        email: email.to_string(),
        display_name: email.to_string(),
        platform_admin,
        current_tenant: None,
        reauthenticated_at: Some(time::OffsetDateTime::now_utc().unix_timestamp()),
        via: Via::Session,
    };
    let admin = actor(admin_id, admin_email, true);
    let slug = format!("bench-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let owner_email = format!("owner@{slug}.test");
    let created = app::backend::tenancy::create_tenant(&db, &admin, &slug, "Bench", &owner_email)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let token = created
        .invitation
        .link_path
        .trim_start_matches("/invite/")
        .to_string();
    let (owner, _) = app::backend::tenancy::accept_invitation(
        &db,
        &token,
        "Bench Owner",
        secrecy::SecretString::from("bench owner passphrase 1".to_string()),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tenant_id = created.tenant.tenant_id;
    sqlx::query(
        "update tenant set max_zones = 1000, max_instances = 100000, max_vcpus = 1000000 where tenant_id = $1",
    )
    .bind(tenant_id)
    .execute(&db)
    .await?;
    let bench = Bench {
        owner: actor(owner.user_id, &owner_email, false),
        db,
        keyring,
        endpoints,
        tenant_id,
        args,
    };
    let n = bench.args.instances;
    println!(
        "instance group of {n} over {} zones against moto at {}: {} runs, {} heals each of {} instances",
        ZONES.len(),
        bench.args.moto,
        bench.args.runs,
        bench.args.heals,
        bench.args.terminate
    );
    println!(
        "settings: worker poll {} ms, lease {} s, group resync {} ms",
        settings.job_poll_interval.as_millis(),
        settings.job_lease.as_secs(),
        settings.engine.group_resync_interval.as_millis()
    );
    println!();
    println!(
        "{:>3}  {:>12}  {:>14}  {:>6}",
        "run", "floor s", "Stratus s", "ratio"
    );
    let (mut floors, mut creates, mut heals) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..bench.args.runs {
        let account = bench.account(run).await?;
        let (floor, create, group_id) = if run % 2 == 0 {
            let floor = bench.floor(&account).await?;
            let (create, id) = bench.create(&account, run).await?;
            (floor, create, id)
        } else {
            let (create, id) = bench.create(&account, run).await?;
            let floor = bench.floor(&account).await?;
            (floor, create, id)
        };
        println!(
            "{:>3}  {:>12.3}  {:>14.3}  {:>5.2}×",
            run + 1,
            secs(floor),
            secs(create),
            secs(create) / secs(floor)
        );
        floors.push(secs(floor));
        creates.push(secs(create));
        for _ in 0..bench.args.heals {
            let healed = bench
                .heal(&account, group_id, settings.engine.group_resync_interval)
                .await?;
            heals.push(secs(healed));
        }
        bench.delete(group_id).await?;
    }
    let (floor50, create50) = (percentile(&floors, 50.0), percentile(&creates, 50.0));
    println!();
    println!("{:<34} {:>8} {:>8} {:>8}", "", "p50 s", "min s", "max s");
    let row = |name: &str, v: &[f64]| {
        println!(
            "{:<34} {:>8.3} {:>8.3} {:>8.3}",
            name,
            percentile(v, 50.0),
            percentile(v, 0.0),
            percentile(v, 100.0)
        )
    };
    row("floor: RunInstances ×3 + Describe", &floors);
    row(&format!("Stratus: create → Ready ({n})"), &creates);
    println!(
        "{:<34} {:>7.2}×   (target ≤ 1.30×)",
        "Stratus / floor (p50)",
        create50 / floor50
    );
    row(
        &format!(
            "heal: {} of {n} terminated (n={})",
            bench.args.terminate,
            heals.len()
        ),
        &heals,
    );
    worker.shutdown().await;
    Ok(())
}

impl Bench {
    async fn account(&self, run: usize) -> anyhow::Result<Account> {
        let account = cloud_accounts::create(
            &self.db,
            &self.keyring,
            &self.endpoints,
            &self.owner,
            self.tenant_id,
            NewCloudAccount {
                name: format!(
                    "sandbox-{run}-{}",
                    &Uuid::new_v4().simple().to_string()[..6]
                ),
                region: "us-east-1".into(),
                access_key_id: "AKIASANDBOXEXAMPLE00".into(),
                secret_access_key: "sandbox-secret".into(),
                endpoint_url: Some(self.args.moto.clone()),
                emulated: true,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("cloud account: {e}"))?;
        let mut ids = Vec::new();
        for (i, az) in ZONES.iter().enumerate() {
            let zone = zones::create(
                &self.db,
                &self.owner,
                self.tenant_id,
                NewZone {
                    name: format!("r{run}-{}", (b'a' + i as u8) as char),
                    cloud_account_id: account.cloud_account_id,
                    availability_zone: az.to_string(),
                    network_cidr: None,
                },
                WriteOptions::default(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("zone: {e}"))?
            .zone
            .expect("an apply returns the zone");
            ids.push(zone.zone_id);
        }
        let mut ready = Vec::new();
        for id in ids {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let z = zones::get(&self.db, &self.owner, self.tenant_id, id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if z.status == ResourceStatus::Ready {
                    ready.push(z);
                    break;
                }
                anyhow::ensure!(Instant::now() < deadline, "zone {} not ready", z.name);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let open = providers::open(
            &self.db,
            &self.keyring,
            &self.endpoints,
            self.tenant_id,
            account.cloud_account_id,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        let image_id = aws::ec2(&open.target)
            .describe_images()
            .send()
            .await?
            .images()
            .iter()
            .find_map(|i| i.image_id())
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("moto lists no image"))?;
        Ok(Account {
            zones: ready,
            instances: AwsInstances::new(&open.target),
            target: open.target,
            image_id,
        })
    }

    fn template(&self, account: &Account) -> GroupTemplate {
        GroupTemplate {
            instance_type: "t3.micro".into(),
            image_id: account.image_id.clone(),
            user_data: Some("#!/bin/sh\necho hello\n".into()),
            tags: [("team".to_string(), "bench".to_string())].into(),
        }
    }

    /// The minimal direct calls: one RunInstances per zone, all at once (the request Stratus
    /// sends: subnet, security group, tags, user data), then DescribeInstances by tag until all
    /// are running. The instances are terminated afterwards (not timed).
    async fn floor(&self, account: &Account) -> anyhow::Result<Duration> {
        let n = self.args.instances;
        let marker = Uuid::new_v4();
        let template = self.template(account);
        let requests: Vec<LaunchRequest> = account
            .zones
            .iter()
            .enumerate()
            .map(|(i, z)| LaunchRequest {
                availability_zone: z.availability_zone.clone(),
                subnet_id: z.subnet_id.clone(),
                security_group_ids: z.security_group_id.iter().cloned().collect(),
                image_id: template.image_id.clone(),
                instance_type: template.instance_type.clone(),
                user_data: template.user_data.clone(),
                count: n / 3 + u32::from((i as u32) < n % 3),
                owner: Ownership {
                    installation: Uuid::nil(),
                    tenant: self.tenant_id,
                    resource: marker,
                    token: format!("ig{}", Uuid::new_v4().simple()),
                    name: "bench/floor".into(),
                },
                revision: 1,
                extra_tags: template.tags.clone().into_iter().collect(),
            })
            .collect();
        let started = Instant::now();
        let launched =
            futures_util::future::join_all(requests.iter().map(|r| account.instances.launch(r)))
                .await;
        for l in launched {
            l.map_err(|e| anyhow::anyhow!("RunInstances: {}", e.message))?;
        }
        loop {
            let listed = account
                .instances
                .list_for_resource(marker)
                .await
                .map_err(|e| anyhow::anyhow!("DescribeInstances: {}", e.message))?;
            if listed.len() as u32 == n && listed.iter().all(|i| i.state == "running") {
                break;
            }
        }
        let elapsed = started.elapsed();
        let ids: Vec<String> = account
            .instances
            .list_for_resource(marker)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?
            .into_iter()
            .map(|i| i.instance_id)
            .collect();
        account
            .instances
            .terminate(&ids)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        Ok(elapsed)
    }

    /// From the create call until the group is `ready` for its generation.
    async fn create(&self, account: &Account, run: usize) -> anyhow::Result<(Duration, Uuid)> {
        let n = self.args.instances;
        let new = NewGroup {
            name: format!("bench-{run}"),
            zone_ids: account.zones.iter().map(|z| z.zone_id).collect(),
            template: self.template(account),
            min: 0,
            max: n,
            desired: Some(n),
            policy: GroupPolicy::default(),
        };
        let started = Instant::now();
        let created_at = time::OffsetDateTime::now_utc();
        let group_id = groups::create(
            &self.db,
            &self.owner,
            self.tenant_id,
            new,
            WriteOptions::default(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("create: {e}"))?
        .group
        .expect("an apply returns the group")
        .group_id;
        self.wait_ready(group_id, Duration::from_secs(120)).await?;
        let elapsed = started.elapsed();
        let live = account
            .instances
            .list_for_resource(group_id)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?
            .into_iter()
            .filter(|i| i.state == "running")
            .count();
        anyhow::ensure!(live as u32 == n, "Ready with {live} running, not {n}");
        if self.args.trace {
            let events: Vec<(time::OffsetDateTime, String)> = sqlx::query_as(
                "select e.created_at, e.message from job_event e join job j using (job_id)
                 where j.resource_id = $1 order by e.event_id",
            )
            .bind(group_id)
            .fetch_all(&self.db)
            .await?;
            for (at, message) in events {
                let mut line = message;
                line.truncate(110);
                println!("      {:>7.3}  {line}", (at - created_at).as_seconds_f64());
            }
        }
        Ok((elapsed, group_id))
    }

    async fn wait_ready(&self, group_id: Uuid, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            let (status, generation, observed): (ResourceStatus, i64, i64) = sqlx::query_as(
                "select status, generation, observed_generation from resource where resource_id = $1",
            )
            .bind(group_id)
            .fetch_one(&self.db)
            .await?;
            if status == ResourceStatus::Ready && observed == generation {
                return Ok(());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "group {group_id} not ready: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Terminates `terminate` running instances behind Stratus's back (after a random pause
    /// within the resync interval) and times until the provider lists the full group again.
    async fn heal(
        &self,
        account: &Account,
        group_id: Uuid,
        resync: Duration,
    ) -> anyhow::Result<Duration> {
        let n = self.args.instances as usize;
        let pause = resync.mul_f64(f64::from(Uuid::new_v4().as_u128() as u16) / 65536.0);
        tokio::time::sleep(pause).await;
        let running: Vec<String> = account
            .instances
            .list_for_resource(group_id)
            .await
            .map_err(|e| anyhow::anyhow!("{}", e.message))?
            .into_iter()
            .filter(|i| i.state == "running")
            .map(|i| i.instance_id)
            .collect();
        anyhow::ensure!(
            running.len() == n,
            "{} running before the heal",
            running.len()
        );
        let victims: Vec<String> = running
            .iter()
            .step_by(n / self.args.terminate.max(1))
            .take(self.args.terminate)
            .cloned()
            .collect();
        aws::ec2(&account.target)
            .terminate_instances()
            .set_instance_ids(Some(victims.clone()))
            .send()
            .await?;
        let started = Instant::now();
        loop {
            let live: Vec<String> = account
                .instances
                .list_for_resource(group_id)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?
                .into_iter()
                .filter(|i| i.state == "running" || i.state == "pending")
                .map(|i| i.instance_id)
                .collect();
            if live.len() == n && !live.iter().any(|i| victims.contains(i)) {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < resync * 3 + Duration::from_secs(30),
                "not healed: {} live",
                live.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let healed = started.elapsed();
        self.wait_ready(group_id, Duration::from_secs(60)).await?;
        Ok(healed)
    }

    async fn delete(&self, group_id: Uuid) -> anyhow::Result<()> {
        groups::delete(
            &self.db,
            &self.owner,
            self.tenant_id,
            group_id,
            WriteOptions::default(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("delete: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status: ResourceStatus =
                sqlx::query_scalar("select status from resource where resource_id = $1")
                    .bind(group_id)
                    .fetch_one(&self.db)
                    .await?;
            if status == ResourceStatus::Deleted {
                return Ok(());
            }
            anyhow::ensure!(Instant::now() < deadline, "group {group_id} not deleted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
