//! The sandbox's fault proxy, driven through the real AWS SDK against proxy + moto. Every test
//! works in moto accounts of its own, so tests running at once never see each other's objects.

use crate::support::moto_url;
use app::backend::cloud::providers::aws;
use aws_sdk_ec2::error::ProvideErrorMetadata;
use aws_sdk_ec2::types::{Filter, Placement};
use secrecy::SecretString;
use server::fault_proxy::{Effect, FaultProxy, Rule};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub fn fresh_moto_account() -> String {
    aws::moto_account_id(Uuid::new_v4())
}

pub fn target(endpoint: &str, account: &str) -> aws::Target {
    aws::Target::new(
        "us-east-1".into(),
        Some(endpoint.to_string()),
        "AKIAIOSFODNN7EXAMPLE".into(),
        SecretString::from("sandbox-secret"),
        app::backend::cloud::endpoints::Route::Trusted,
    )
    .with_moto_account(Some(account.to_string()))
}

/// The same client with the SDK's retries off, to see one attempt's outcome.
fn single_attempt(client: &aws_sdk_ec2::Client) -> aws_sdk_ec2::Client {
    aws_sdk_ec2::Client::from_conf(
        client
            .config()
            .to_builder()
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .build(),
    )
}

async fn proxy() -> FaultProxy {
    FaultProxy::start(&moto_url())
        .await
        .expect("the proxy starts")
}

async fn vpc(ec2: &aws_sdk_ec2::Client, cidr: &str) -> String {
    ec2.create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("a VPC id")
        .to_string()
}

async fn subnet(ec2: &aws_sdk_ec2::Client, vpc_id: &str, cidr: &str, zone: &str) -> String {
    ec2.create_subnet()
        .vpc_id(vpc_id)
        .cidr_block(cidr)
        .availability_zone(zone)
        .send()
        .await
        .expect("CreateSubnet")
        .subnet()
        .and_then(|s| s.subnet_id())
        .expect("a subnet id")
        .to_string()
}

async fn subnets_in(ec2: &aws_sdk_ec2::Client, vpc_id: &str) -> Vec<String> {
    ec2.describe_subnets()
        .filters(Filter::builder().name("vpc-id").values(vpc_id).build())
        .send()
        .await
        .expect("DescribeSubnets")
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect()
}

async fn image(ec2: &aws_sdk_ec2::Client) -> String {
    ec2.describe_images()
        .owners("amazon")
        .send()
        .await
        .expect("DescribeImages")
        .images()
        .iter()
        .find_map(|i| i.image_id().map(str::to_string))
        .expect("moto ships images")
}

async fn run_in_subnet(
    ec2: &aws_sdk_ec2::Client,
    image_id: &str,
    subnet_id: &str,
) -> Result<String, String> {
    ec2.run_instances()
        .image_id(image_id)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(subnet_id)
        .send()
        .await
        .map(|r| {
            r.instances()
                .first()
                .and_then(|i| i.instance_id())
                .unwrap_or_default()
                .to_string()
        })
        .map_err(|e| {
            format!(
                "{}: {}",
                e.code().unwrap_or("no code"),
                e.message().unwrap_or("no message")
            )
        })
}

#[tokio::test]
async fn an_error_rule_fails_one_operation_in_one_zone_for_one_account() {
    let proxy = proxy().await;
    let (mine, theirs) = (fresh_moto_account(), fresh_moto_account());
    let ec2 = aws::ec2(&target(&proxy.url(), &mine));
    let other = aws::ec2(&target(&proxy.url(), &theirs));
    let image_id = image(&ec2).await;
    let vpc_id = vpc(&ec2, "10.20.0.0/16").await;
    let zone_a = subnet(&ec2, &vpc_id, "10.20.1.0/24", "us-east-1a").await;
    let zone_b = subnet(&ec2, &vpc_id, "10.20.2.0/24", "us-east-1b").await;
    let other_vpc = vpc(&other, "10.20.0.0/16").await;
    let other_b = subnet(&other, &other_vpc, "10.20.2.0/24", "us-east-1b").await;

    let message = "We currently do not have sufficient t3.micro capacity in the Availability Zone you requested (us-east-1b).";
    let id = proxy.add_rule(
        Rule::error("RunInstances", "InsufficientInstanceCapacity", message, 500)
            .in_zone("us-east-1b")
            .for_account(&mine),
    );

    // The zone is found through the subnet; the code and message arrive verbatim.
    let refused = run_in_subnet(&ec2, &image_id, &zone_b).await;
    assert_eq!(
        refused,
        Err(format!("InsufficientInstanceCapacity: {message}"))
    );
    // The SDK retries a 500 (three attempts in its standard mode): every one met the rule.
    assert_eq!(proxy.rules()[0].fired, 3, "{:?}", proxy.rules());
    // A request naming the zone directly is refused too.
    let placed = ec2
        .run_instances()
        .image_id(&image_id)
        .min_count(1)
        .max_count(1)
        .placement(Placement::builder().availability_zone("us-east-1b").build())
        .send()
        .await;
    assert_eq!(
        placed
            .err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("InsufficientInstanceCapacity")
    );
    // Another zone, and another account in the same zone, are untouched.
    run_in_subnet(&ec2, &image_id, &zone_a)
        .await
        .expect("us-east-1a has capacity");
    run_in_subnet(&other, &image_id, &other_b)
        .await
        .expect("another account's us-east-1b has capacity");
    // Removed, the zone works again.
    assert!(proxy.remove_rule(id));
    assert!(!proxy.remove_rule(id));
    run_in_subnet(&ec2, &image_id, &zone_b)
        .await
        .expect("the rule is gone");
}

#[tokio::test]
async fn a_counted_rule_expires_and_a_4xx_is_not_retried() {
    let proxy = proxy().await;
    let account = fresh_moto_account();
    let ec2 = aws::ec2(&target(&proxy.url(), &account));
    proxy.add_rule(
        Rule::error(
            "DescribeVpcs",
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
            403,
        )
        .for_account(&account)
        .times(1),
    );
    let refused = ec2.describe_vpcs().send().await;
    assert_eq!(
        refused
            .err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("UnauthorizedOperation")
    );
    assert!(proxy.rules().is_empty(), "fired once, expired");
    ec2.describe_vpcs()
        .send()
        .await
        .expect("the next call passes");
}

#[tokio::test]
async fn a_dropped_reply_leaves_the_subnet_created_and_the_caller_in_the_dark() {
    let proxy = proxy().await;
    let account = fresh_moto_account();
    let ec2 = aws::ec2(&target(&proxy.url(), &account));
    let vpc_id = vpc(&ec2, "10.30.0.0/16").await;

    // One attempt: the call fails without an answer, yet moto made the subnet.
    proxy.add_rule(
        Rule::drop_reply("CreateSubnet")
            .for_account(&account)
            .times(1),
    );
    let lost = single_attempt(&ec2)
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.30.1.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await;
    let error = lost.expect_err("no answer came back");
    assert!(error.code().is_none(), "not an AWS error: {error:?}");
    assert_eq!(subnets_in(&ec2, &vpc_id).await.len(), 1);

    // With the SDK's own retries, the retry of a lost CreateSubnet meets the subnet it made.
    proxy.add_rule(
        Rule::drop_reply("CreateSubnet")
            .for_account(&account)
            .times(1),
    );
    let retried = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.30.2.0/24")
        .availability_zone("us-east-1a")
        .send()
        .await;
    assert_eq!(
        retried
            .err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("InvalidSubnet.Conflict")
    );
    assert_eq!(subnets_in(&ec2, &vpc_id).await.len(), 2);
    assert!(proxy.rules().is_empty());
}

#[tokio::test]
async fn latency_delays_the_matching_operation_only() {
    let proxy = proxy().await;
    let account = fresh_moto_account();
    let ec2 = aws::ec2(&target(&proxy.url(), &account));
    proxy.add_rule(
        Rule::latency("DescribeVpcs", Duration::from_millis(1500))
            .for_account(&account)
            .times(1),
    );
    // Another operation passes untouched (timing it would be flaky on a busy machine).
    ec2.describe_subnets()
        .send()
        .await
        .expect("DescribeSubnets");
    assert_eq!(proxy.rules()[0].fired, 0);
    let started = Instant::now();
    ec2.describe_vpcs().send().await.expect("DescribeVpcs");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(proxy.rules().is_empty(), "fired once, expired");
    ec2.describe_vpcs().send().await.expect("DescribeVpcs");
}

/// An RDS query-protocol call (no RDS SDK in this build; the wire format is the same).
async fn rds(proxy: &FaultProxy, account: &str, form: &[(&str, &str)]) -> (u16, String) {
    let mut params = vec![("Version", "2014-10-31")];
    params.extend_from_slice(form);
    let reply = reqwest::Client::new()
        .post(format!("{}/", proxy.url()))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261203/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("x-moto-account-id", account)
        .form(&params)
        .send()
        .await
        .expect("the proxy answers");
    (
        reply.status().as_u16(),
        reply.text().await.unwrap_or_default(),
    )
}

fn statuses(xml: &str) -> Vec<String> {
    xml.split("<DBInstanceStatus>")
        .skip(1)
        .filter_map(|s| s.split("</DBInstanceStatus>").next())
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn an_rds_status_is_held_for_some_reads_and_rds_errors_use_its_format() {
    let proxy = proxy().await;
    let account = fresh_moto_account();
    let (status, body) = rds(
        &proxy,
        &account,
        &[
            ("Action", "CreateDBInstance"),
            ("DBInstanceIdentifier", "orders"),
            ("DBInstanceClass", "db.t3.micro"),
            ("Engine", "postgres"),
            ("AllocatedStorage", "20"),
            ("MasterUsername", "stratus"),
            ("MasterUserPassword", "a-long-password-1"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let describe = [("Action", "DescribeDBInstances")];
    assert_eq!(
        statuses(&rds(&proxy, &account, &describe).await.1),
        ["available"]
    );

    proxy.add_rule(
        Rule::hold_rds_status("creating")
            .for_account(&account)
            .times(2),
    );
    for _ in 0..2 {
        assert_eq!(
            statuses(&rds(&proxy, &account, &describe).await.1),
            ["creating"]
        );
    }
    assert_eq!(
        statuses(&rds(&proxy, &account, &describe).await.1),
        ["available"]
    );

    proxy.add_rule(
        Rule::error(
            "ModifyDBInstance",
            "InvalidDBInstanceState",
            "Database instance is not in available state.",
            400,
        )
        .for_account(&account),
    );
    let (status, body) = rds(
        &proxy,
        &account,
        &[
            ("Action", "ModifyDBInstance"),
            ("DBInstanceIdentifier", "orders"),
            ("AllocatedStorage", "30"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("<ErrorResponse><Error><Type>Sender</Type><Code>InvalidDBInstanceState</Code><Message>Database instance is not in available state.</Message></Error><RequestId>"),
        "{body}"
    );
    proxy.clear();
    assert!(proxy.rules().is_empty());
}

#[tokio::test]
async fn people_drive_the_proxy_over_http() {
    let proxy = proxy().await;
    let account = fresh_moto_account();
    let control = format!("{}{}", proxy.url(), server::fault_proxy::CONTROL_PATH);
    let http = reqwest::Client::new();
    let added = http
        .post(&control)
        .json(&serde_json::json!({
            "action": "RunInstances",
            "zone": "us-east-1b",
            "account": account,
            "effect": { "kind": "error", "code": "InsufficientInstanceCapacity", "message": "No capacity.", "status": 500 },
            "count": 2,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let id = added.json::<serde_json::Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap();
    let listed: serde_json::Value = http
        .get(&control)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["rule"]["zone"], "us-east-1b");
    assert_eq!(
        proxy.rules()[0].rule.effect,
        Effect::Error {
            code: "InsufficientInstanceCapacity".into(),
            message: "No capacity.".into(),
            status: 500
        }
    );
    // Nonsense is refused with the reason.
    let bad = http
        .post(&control)
        .json(&serde_json::json!({ "action": "RunInstances", "effect": { "kind": "error", "code": "X", "message": "", "status": 200 } }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
    assert_eq!(
        http.delete(format!("{control}/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        http.delete(format!("{control}/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert!(proxy.rules().is_empty());
}
