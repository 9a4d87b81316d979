//! Group health from EC2's status checks, against the sandbox through the real AWS SDK. Moto
//! reports every running instance `ok`, so the fault proxy rewrites DescribeInstanceStatus to
//! report chosen instances `impaired` (docs/sandbox.md); the reconcile job and the resync run
//! in a worker of the test, with a group resync of [`GROUP_RESYNC`].

use crate::instance_groups::{engine_on, sorted, Engine, GROUP_RESYNC};
use crate::support::wait_until;
use app::backend::cloud::providers::aws;
use app::backend::cloud::providers::instances::AwsInstances;
use app::backend::resources::groups;
use app::model::groups::{CheckStatus, GroupView, Health, InstanceView};
use app::model::resources::{ConditionStatus, ResourceStatus};
use server::fault_proxy::{ImpairedCheck, Rule};
use std::time::Duration;
use uuid::Uuid;

/// A group of three, one instance per zone, whose instances are judged at once (no grace).
async fn three_instances(e: &Engine) -> GroupView {
    let mut new = e.new_group("web", 3);
    new.policy.health_grace_secs = 0;
    new.policy.repair_budget_percent = 30; // max(1, 30% of 3): one at a time
    let created = e.create(new).await;
    e.wait_ready(created.group_id).await
}

async fn instances(e: &Engine, group_id: Uuid) -> Vec<InstanceView> {
    groups::list_instances(&e.app.db, &e.member, e.tenant_id, group_id, None, 100)
        .await
        .expect("the instances")
}

/// The provider ids of the group's running instances, as moto lists them (not through the proxy).
async fn running_ids(e: &Engine, group_id: Uuid) -> Vec<String> {
    let mut ids: Vec<String> = e
        .provider
        .list_for_resource(group_id)
        .await
        .expect("list")
        .into_iter()
        .filter(|i| i.state == "running")
        .map(|i| i.instance_id)
        .collect();
    ids.sort();
    ids
}

fn condition<'a>(g: &'a GroupView, type_: &str) -> Option<&'a app::model::resources::Condition> {
    g.conditions.iter().find(|c| c.type_ == type_)
}

fn all_healthy(list: &[InstanceView]) -> bool {
    list.iter().all(|i| {
        i.health == Health::Healthy
            && i.checks
                .is_some_and(|c| c.instance == CheckStatus::Ok && c.system == CheckStatus::Ok)
    })
}

#[tokio::test]
async fn group_health_an_impaired_instance_is_replaced_within_a_resync() {
    let e = engine_on("ig-impaired", true, None).await;
    let proxy = e.proxy.as_ref().unwrap();
    let group = three_instances(&e).await;
    let id = group.group_id;
    let before = instances(&e, id).await;
    assert_eq!(before.len(), 3);
    assert!(all_healthy(&before), "{before:#?}");

    // One instance fails its instance status check (it keeps running).
    let victim = before[0].provider_id.clone().expect("a provider id");
    proxy.add_rule(Rule::impair_instances(
        &[victim.as_str()],
        ImpairedCheck::Instance,
    ));
    let started = std::time::Instant::now();
    wait_until(
        "the impaired instance to be replaced",
        Duration::from_secs(30),
        || async {
            let ids = running_ids(&e, id).await;
            ids.len() == 3 && !ids.contains(&victim)
        },
    )
    .await;
    let replaced = started.elapsed();
    eprintln!("replaced an impaired instance in {replaced:?} (group resync {GROUP_RESYNC:?})");
    assert!(
        replaced <= GROUP_RESYNC + Duration::from_millis(2500),
        "replaced in {replaced:?}, more than one resync ({GROUP_RESYNC:?}) and a run"
    );
    // The group stays Ready through a repair that converges in its run, so wait for the run's
    // last look: three rows, the victim's gone, all healthy.
    wait_until(
        "three healthy instances without the victim",
        Duration::from_secs(10),
        || async {
            let after = instances(&e, id).await;
            after.len() == 3
                && after
                    .iter()
                    .all(|i| i.provider_id.as_deref() != Some(victim.as_str()))
                && all_healthy(&after)
        },
    )
    .await;
    let group = e.wait_ready(id).await;
    assert_eq!(sorted(&e.running(id).await), vec![1, 1, 1]);
    assert_eq!(
        condition(&group, "Degraded").map(|c| c.status),
        Some(ConditionStatus::False)
    );
    // Why, in the job log: a repair naming the instance.
    let log = e.job_log(id).await;
    assert!(
        log.iter().any(|l| l.starts_with("terminating 1 in")
            && l.contains("(repair)")
            && l.contains(&victim)),
        "{log:#?}"
    );
    e.finish().await;
}

#[tokio::test]
async fn group_health_more_impaired_than_the_repair_budget_degrades_and_terminates_nothing() {
    let e = engine_on("ig-degraded", true, None).await;
    let proxy = e.proxy.as_ref().unwrap();
    let group = three_instances(&e).await;
    let id = group.group_id;
    let ids = running_ids(&e, id).await;
    assert_eq!(ids.len(), 3);

    // Two of three impaired: over the budget of one at a time.
    let impaired = [ids[0].as_str(), ids[1].as_str()];
    let rule = proxy.add_rule(Rule::impair_instances(&impaired, ImpairedCheck::System));

    // The provider seam reads the checks through the real SDK, as the proxy rewrote them.
    let proxied = aws::Target::new(
        "us-east-1".into(),
        Some(proxy.url()),
        "AKIASANDBOXEXAMPLE00".into(),
        secrecy::SecretString::from("sandbox-secret"),
        app::backend::cloud::endpoints::Route::Trusted,
    )
    .with_moto_account(e.target.moto_account_id.clone());
    let checks = AwsInstances::new(&proxied)
        .status_checks(&ids)
        .await
        .expect("DescribeInstanceStatus");
    assert_eq!(checks.len(), 3, "{checks:?}");
    assert_eq!(checks[&ids[0]].system, CheckStatus::Impaired);
    assert_eq!(checks[&ids[0]].instance, CheckStatus::Ok);
    assert_eq!(checks[&ids[2]].system, CheckStatus::Ok);

    wait_until(
        "the group to be Degraded",
        Duration::from_secs(30),
        || async {
            e.group(id).await.is_ok_and(|g| {
                condition(&g, "Degraded").is_some_and(|c| {
                    c.status == ConditionStatus::True
                        && c.reason == "RepairBudgetExceeded"
                        && impaired
                            .iter()
                            .all(|i| c.message.contains(&format!("{i} (system status impaired)")))
                })
            })
        },
    )
    .await;
    let group = e.group(id).await.unwrap();
    assert_ne!(group.status, ResourceStatus::Ready);
    let ready = condition(&group, "Ready").unwrap();
    assert_eq!(ready.status, ConditionStatus::False);
    assert!(
        ready.message.contains("repair budget exceeded"),
        "{ready:?}"
    );
    let list = instances(&e, id).await;
    let unhealthy: Vec<&str> = list
        .iter()
        .filter(|i| i.health == Health::Unhealthy && i.checks.is_some_and(|c| c.impaired()))
        .filter_map(|i| i.provider_id.as_deref())
        .collect();
    assert_eq!(unhealthy.len(), 2, "{list:#?}");

    // Nothing is terminated or launched over two more resyncs.
    let until = std::time::Instant::now() + GROUP_RESYNC * 2 + Duration::from_millis(500);
    while std::time::Instant::now() < until {
        assert_eq!(running_ids(&e, id).await, ids, "an instance was replaced");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let total: usize = e.provider.list_for_resource(id).await.unwrap().len();
    assert_eq!(total, 3, "nothing launched or terminated");
    let log = e.job_log(id).await;
    assert!(!log.iter().any(|l| l.contains("(repair)")), "{log:#?}");

    // The fault is lifted: the checks pass, the group is healthy and Ready again, the same
    // three instances.
    assert!(proxy.remove_rule(rule));
    let group = e.wait_ready(id).await;
    assert_eq!(
        condition(&group, "Degraded").map(|c| c.status),
        Some(ConditionStatus::False)
    );
    assert_eq!(running_ids(&e, id).await, ids);
    wait_until(
        "every instance healthy",
        Duration::from_secs(10),
        || async { all_healthy(&instances(&e, id).await) },
    )
    .await;
    e.finish().await;
}
