//! The sandbox cloud: one moto account per cloud account, the provider account a cloud account
//! reaches, and the fault proxy as `stratus serve` runs it and the portal drives it.

use crate::support::{keyring, moto_url, Client, TestApp, PASSWORD};
use app::backend::cloud::{accounts, providers};
use aws_sdk_ec2::error::ProvideErrorMetadata;

async fn vpc_ids(ec2: &aws_sdk_ec2::Client) -> Vec<String> {
    ec2.describe_vpcs()
        .send()
        .await
        .expect("DescribeVpcs")
        .vpcs()
        .iter()
        .filter_map(|v| v.vpc_id().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn two_tenants_sandboxes_never_see_each_other() {
    let app = TestApp::spawn().await;
    let (acme, globex) = (
        app.tenant_with_roles("acme").await,
        app.tenant_with_roles("globex").await,
    );
    let keys = keyring();
    let a = accounts::register_sandbox(&app.db, &keys, acme.tenant_id, "Sandbox", &moto_url())
        .await
        .unwrap();
    let b = accounts::register_sandbox(&app.db, &keys, globex.tenant_id, "Sandbox", &moto_url())
        .await
        .unwrap();
    // Each reaches its own moto account, learnt from STS at creation.
    let expected_a = providers::aws::moto_account_id(a.cloud_account_id);
    let expected_b = providers::aws::moto_account_id(b.cloud_account_id);
    assert_ne!(expected_a, expected_b);
    assert_eq!(a.provider_account_id.as_deref(), Some(expected_a.as_str()));
    assert_eq!(b.provider_account_id.as_deref(), Some(expected_b.as_str()));

    let open_a = providers::open(
        &app.db,
        &keys,
        &crate::support::endpoints(),
        acme.tenant_id,
        a.cloud_account_id,
    )
    .await
    .unwrap();
    let open_b = providers::open(
        &app.db,
        &keys,
        &crate::support::endpoints(),
        globex.tenant_id,
        b.cloud_account_id,
    )
    .await
    .unwrap();
    let (ec2_a, ec2_b) = (
        providers::aws::ec2(&open_a.target),
        providers::aws::ec2(&open_b.target),
    );
    let created = ec2_a
        .create_vpc()
        .cidr_block("10.77.0.0/16")
        .send()
        .await
        .expect("CreateVpc");
    let vpc_id = created.vpc().and_then(|v| v.vpc_id()).unwrap().to_string();
    assert_eq!(
        created.vpc().and_then(|v| v.owner_id()),
        Some(expected_a.as_str()),
        "moto files the VPC under the account's own moto account"
    );
    assert!(vpc_ids(&ec2_a).await.contains(&vpc_id));
    assert!(
        !vpc_ids(&ec2_b).await.contains(&vpc_id),
        "another tenant's sandbox must not list it"
    );
    // Nor can it touch it.
    let foreign = ec2_b.delete_vpc().vpc_id(&vpc_id).send().await;
    assert_eq!(
        foreign
            .err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("InvalidVpcID.NotFound")
    );
    assert!(vpc_ids(&ec2_a).await.contains(&vpc_id));
}

#[tokio::test]
async fn the_connection_test_reports_and_stores_the_provider_account() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let owner = app.client();
    owner.sign_in("owner@acme.test", PASSWORD).await;
    // A real-AWS-style account (not emulated) on moto: moto's default account.
    let created = owner
        .rpc(
            "create_cloud_account",
            &[
                ("name", "Staging"),
                ("region", "eu-west-1"),
                ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                ("secret_access_key", "moto-secret"),
                ("endpoint_url", &moto_url()),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(created.json()["provider_account_id"], "123456789012");
    let id = created.json()["cloud_account_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Forget it, then learn it again from the connection test.
    sqlx::query(
        "update cloud_account set provider_account_id = null where cloud_account_id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.db)
    .await
    .unwrap();
    let tested = owner
        .rpc("test_cloud_account", &[("cloud_account_id", &id)])
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert_eq!(tested.json()["provider_account_id"], "123456789012");
    let listed = owner.rpc("get_cloud_accounts", &[]).await.json();
    assert_eq!(listed[0]["provider_account_id"], "123456789012");

    // The sandbox's own account reports its moto account.
    let sandbox =
        accounts::register_sandbox(&app.db, &keyring(), acme.tenant_id, "Sandbox", &moto_url())
            .await
            .unwrap();
    sqlx::query("update cloud_account set provider_account_id = null where cloud_account_id = $1")
        .bind(sandbox.cloud_account_id)
        .execute(&app.db)
        .await
        .unwrap();
    let tested = owner
        .rpc(
            "test_cloud_account",
            &[("cloud_account_id", &sandbox.cloud_account_id.to_string())],
        )
        .await;
    assert_eq!(
        tested.json()["provider_account_id"],
        providers::aws::moto_account_id(sandbox.cloud_account_id)
    );
}

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    client.sign_in(email, PASSWORD).await;
    client
}

#[tokio::test]
async fn serve_puts_the_fault_proxy_in_front_of_the_sandbox_and_tenants_drive_their_own_rules() {
    let moto = moto_url();
    let app = TestApp::spawn_with(|s| s.sandbox_endpoint = Some(moto.clone())).await;
    // The demo tenant's sandbox account reaches moto through the proxy, not directly.
    let proxy_url: String =
        sqlx::query_scalar("select endpoint_url from cloud_account where name = $1 and emulated")
            .bind(accounts::SANDBOX_NAME)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_ne!(proxy_url, moto);
    assert!(proxy_url.starts_with("http://127.0.0.1:"), "{proxy_url}");

    let keys = keyring();
    let acme = app.tenant_with_roles("acme").await;
    let globex = app.tenant_with_roles("globex").await;
    let mine = accounts::register_sandbox(&app.db, &keys, acme.tenant_id, "Sandbox", &proxy_url)
        .await
        .unwrap();
    let theirs =
        accounts::register_sandbox(&app.db, &keys, globex.tenant_id, "Sandbox", &proxy_url)
            .await
            .unwrap();
    let mine_id = mine.cloud_account_id.to_string();

    let owner = signed_in(&app, "owner@acme.test").await;
    let added = owner
        .rpc(
            "add_fault_rule",
            &[
                ("cloud_account_id", &mine_id),
                ("action", "CreateSubnet"),
                ("effect", "error"),
                ("zone", "us-east-1b"),
                ("code", "InsufficientFreeAddressesInSubnet"),
                ("message", "No room in us-east-1b."),
                ("status", "400"),
                ("count", ""),
            ],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let rule_id = added.json().as_u64().expect("a rule id");
    let listed = owner
        .rpc("get_fault_rules", &[("cloud_account_id", &mine_id)])
        .await
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    // Whatever the form said, the rule is for this account's own moto account.
    assert_eq!(
        listed[0]["rule"]["account"],
        providers::aws::moto_account_id(mine.cloud_account_id)
    );

    // Stratus's calls for this account meet the rule; the other tenant's do not.
    let ec2 = |open: &providers::OpenAccount| providers::aws::ec2(&open.target);
    let open_mine = providers::open(
        &app.db,
        &keys,
        &crate::support::endpoints().with_sandbox_alias(&proxy_url),
        acme.tenant_id,
        mine.cloud_account_id,
    )
    .await
    .unwrap();
    let open_theirs = providers::open(
        &app.db,
        &keys,
        &crate::support::endpoints().with_sandbox_alias(&proxy_url),
        globex.tenant_id,
        theirs.cloud_account_id,
    )
    .await
    .unwrap();
    for (open, refused) in [(&open_mine, true), (&open_theirs, false)] {
        let client = ec2(open);
        let vpc = client
            .create_vpc()
            .cidr_block("10.88.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap();
        let subnet = client
            .create_subnet()
            .vpc_id(vpc_id)
            .cidr_block("10.88.2.0/24")
            .availability_zone("us-east-1b")
            .send()
            .await;
        match (refused, subnet) {
            (true, Err(e)) => {
                assert_eq!(e.code(), Some("InsufficientFreeAddressesInSubnet"));
                assert_eq!(e.message(), Some("No room in us-east-1b."));
            }
            (false, Ok(_)) => {}
            (refused, other) => panic!("refused={refused}: {other:?}"),
        }
    }

    // Members see the rules but do not change them; another tenant cannot reach them at all.
    let member = signed_in(&app, "member@acme.test").await;
    assert_eq!(
        member
            .rpc("get_fault_rules", &[("cloud_account_id", &mine_id)])
            .await
            .status,
        200
    );
    let member_add = member
        .rpc(
            "add_fault_rule",
            &[
                ("cloud_account_id", &mine_id),
                ("action", "RunInstances"),
                ("effect", "drop_reply"),
            ],
        )
        .await;
    assert_eq!(member_add.status, 403);
    let stranger = signed_in(&app, "owner@globex.test").await;
    assert_eq!(
        stranger
            .rpc("get_fault_rules", &[("cloud_account_id", &mine_id)])
            .await
            .status,
        404
    );
    assert_eq!(
        stranger
            .rpc(
                "remove_fault_rule",
                &[
                    ("cloud_account_id", &theirs.cloud_account_id.to_string()),
                    ("rule_id", &rule_id.to_string())
                ],
            )
            .await
            .status,
        404,
        "a rule of another tenant's account is not theirs to remove"
    );
    // Bad input is explained per field.
    let bad = owner
        .rpc(
            "add_fault_rule",
            &[
                ("cloud_account_id", &mine_id),
                ("action", "Run Instances!"),
                ("effect", "error"),
                ("code", ""),
                ("status", "200"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    for field in ["action", "code", "status"] {
        assert!(
            bad.body.contains(&format!("\"{field}\"")),
            "{field}: {}",
            bad.body
        );
    }
    // Instances reported impaired: always DescribeInstanceStatus, whatever the operation field
    // says; instance ids checked.
    let impaired = owner
        .rpc(
            "add_fault_rule",
            &[
                ("cloud_account_id", &mine_id),
                ("action", "RunInstances"),
                ("effect", "impair_instances"),
                ("instance_ids", "i-0abc1234, i-0def5678"),
                ("check", "system"),
            ],
        )
        .await;
    assert_eq!(impaired.status, 200, "{}", impaired.body);
    let impaired_id = impaired.json().as_u64().expect("a rule id");
    let listed = owner
        .rpc("get_fault_rules", &[("cloud_account_id", &mine_id)])
        .await
        .json();
    let rule = listed
        .as_array()
        .and_then(|l| l.iter().find(|r| r["id"] == impaired_id))
        .expect("the rule is listed");
    assert_eq!(rule["rule"]["action"], "DescribeInstanceStatus");
    assert_eq!(
        rule["rule"]["effect"],
        serde_json::json!({"kind": "impair_instances", "instance_ids": ["i-0abc1234", "i-0def5678"], "check": "system"})
    );
    let bad = owner
        .rpc(
            "add_fault_rule",
            &[
                ("cloud_account_id", &mine_id),
                ("action", "DescribeInstanceStatus"),
                ("effect", "impair_instances"),
                ("instance_ids", "web-1"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("\"instance_ids\""), "{}", bad.body);
    let removed = owner
        .rpc(
            "remove_fault_rule",
            &[
                ("cloud_account_id", &mine_id),
                ("rule_id", &impaired_id.to_string()),
            ],
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    // A real (not emulated) account has no faults to manage.
    let real = owner
        .rpc(
            "create_cloud_account",
            &[
                ("name", "Real"),
                ("region", "eu-west-1"),
                ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                ("secret_access_key", "x"),
                ("endpoint_url", &moto),
            ],
        )
        .await;
    let real_id = real.json()["cloud_account_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        owner
            .rpc("get_fault_rules", &[("cloud_account_id", &real_id)])
            .await
            .status,
        404
    );

    let removed = owner
        .rpc(
            "remove_fault_rule",
            &[
                ("cloud_account_id", &mine_id),
                ("rule_id", &rule_id.to_string()),
            ],
        )
        .await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(
        owner
            .rpc("get_fault_rules", &[("cloud_account_id", &mine_id)])
            .await
            .json()
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

/// Walks a REST list with `limit`, returning every item in order.
async fn walk(app: &TestApp, key: &str, base: &str, field: &str) -> Vec<String> {
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    let mut url = format!("{}{base}?limit=2", app.url);
    loop {
        let page: serde_json::Value = http
            .get(&url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().expect("a page");
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|i| i[field].to_string().trim_matches('"').to_string()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("{}{base}?limit=2&cursor={cursor}", app.url),
            None => return seen,
        }
    }
}

#[tokio::test]
async fn automation_lists_cloud_accounts_jobs_and_secrets_page_by_page() {
    use app::model::Role;
    let app = TestApp::spawn().await;
    let t = app.tenant_with_roles("auto").await;
    let key = app
        .api_key(t.user(Role::Owner), t.tenant_id, Role::Owner)
        .await;
    let http = reqwest::Client::new();
    let base = format!("/api/v1/tenants/{}", t.tenant_id);
    for name in ["delta", "alpha", "echo", "charlie", "bravo"] {
        let made = http
            .post(format!("{}{base}/secrets", app.url))
            .bearer_auth(&key)
            .json(&serde_json::json!({ "name": name, "value": format!("{name}-value") }))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201);
        let body = made.text().await.unwrap();
        assert!(!body.contains("-value"), "a value never comes back: {body}");
    }
    assert_eq!(
        walk(&app, &key, &format!("{base}/secrets"), "name").await,
        ["alpha", "bravo", "charlie", "delta", "echo"]
    );
    // Accounts: the sandbox one reports its moto account over REST too.
    let sandbox =
        accounts::register_sandbox(&app.db, &keyring(), t.tenant_id, "b-sandbox", &moto_url())
            .await
            .unwrap();
    for name in ["c-real", "a-real"] {
        let made = http
            .post(format!("{}{base}/cloud-accounts", app.url))
            .bearer_auth(&key)
            .json(&serde_json::json!({
                "name": name, "region": "eu-west-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "moto-secret", "endpoint_url": moto_url(),
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201);
        let body: serde_json::Value = made.json().await.unwrap();
        assert_eq!(body["provider_account_id"], "123456789012");
        assert!(body.get("secret_access_key").is_none());
    }
    assert_eq!(
        walk(&app, &key, &format!("{base}/cloud-accounts"), "name").await,
        ["a-real", "b-sandbox", "c-real"]
    );
    let tested: serde_json::Value = http
        .post(format!(
            "{}{base}/cloud-accounts/{}/test",
            app.url, sandbox.cloud_account_id
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        tested["provider_account_id"],
        providers::aws::moto_account_id(sandbox.cloud_account_id)
    );
    // Jobs, newest first: three surveys of three accounts.
    let mut started = Vec::new();
    let listed: Vec<String> = walk(
        &app,
        &key,
        &format!("{base}/cloud-accounts"),
        "cloud_account_id",
    )
    .await;
    for id in &listed {
        let job: serde_json::Value = http
            .post(format!("{}{base}/cloud-accounts/{id}/survey", app.url))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        started.push(job["job_id"].as_i64().unwrap().to_string());
    }
    started.reverse();
    assert_eq!(
        walk(&app, &key, &format!("{base}/jobs"), "job_id").await,
        started
    );
    // Text PostgreSQL cannot store is refused per field, not a 500.
    let nul = http
        .post(format!("{}{base}/cloud-accounts", app.url))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            "name": "a\u{0}b", "region": "eu-west-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
            "secret_access_key": "x", "endpoint_url": "http://h\u{0}st",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(nul.status(), 422);
    let nul = nul.text().await.unwrap();
    assert!(
        nul.contains("\"name\"") && nul.contains("\"endpoint_url\""),
        "{nul}"
    );
    // A bad cursor is a problem, not a crash.
    let bad = http
        .get(format!("{}{base}/jobs?cursor=bm90LWEtbnVtYmVy", app.url))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}
