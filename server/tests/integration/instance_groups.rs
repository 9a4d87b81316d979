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

const ZONES: [&str; 3] = ["us-east-1a", "us-east-1b", "us-east-1c"];

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
                        security_group_id: None,
                        image_id: self.image_id.clone(),
                        instance_type: "t3.micro".into(),
                        user_data: Some("#!/bin/sh\necho hello\n".into()),
                        count: *count,
                        owner: self.owner(instances::new_token()),
                        revision: *revision,
                    };
                    let ids = instances::launch_batch(
                        self.db(),
                        &self.provider,
                        self.tenant_id,
                        self.resource_id,
                        &req,
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

fn sorted(m: &BTreeMap<String, u32>) -> Vec<u32> {
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
        security_group_id: None,
        image_id: g.image_id.clone(),
        instance_type: "t3.micro".into(),
        user_data: None,
        count: 3,
        owner: g.owner(token.clone()),
        revision: 1,
    };
    let made = g.provider.launch(&req).await.expect("launch");
    // The rerun of the same launch finds the instances by tag and launches nothing.
    let ids = instances::launch_batch(g.db(), &g.provider, g.tenant_id, g.resource_id, &req)
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
