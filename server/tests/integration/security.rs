//! Platform hardening, attacked over HTTP: security headers on every kind of answer and the
//! `Host` check against DNS rebinding.

use crate::support::{Reply, TestApp};

fn header<'a>(reply: &'a Reply, name: &str) -> &'a str {
    reply
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The headers every answer carries, whatever produced it.
fn assert_hardened(what: &str, reply: &Reply) {
    assert_eq!(header(reply, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(reply, "referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header(reply, "x-frame-options"), "DENY", "{what}");
    let csp = header(reply, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp:?}");
    assert!(csp.contains("base-uri 'none'"), "{what}: {csp:?}");
    let directive = |name: &str| csp.split(';').find(|d| d.trim().starts_with(name));
    let scripts = directive("script-src")
        .or_else(|| directive("default-src"))
        .unwrap_or_default();
    assert!(
        !scripts.contains("'unsafe-inline'") && !scripts.contains("'unsafe-eval'"),
        "{what}: {csp}"
    );
    // Served over plain http: no HSTS (it would be ignored, and is wrong to promise).
    assert!(
        reply.headers.get("strict-transport-security").is_none(),
        "{what}"
    );
}

/// A page's policy names a fresh nonce, and its hydration script carries exactly that nonce.
fn page_nonce(what: &str, reply: &Reply) -> String {
    let csp = header(reply, "content-security-policy");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("{what}: no nonce in {csp:?}"))
        .to_string();
    assert!(nonce.len() >= 16, "{what}: {nonce}");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{what}: {csp}");
    assert!(
        reply.body.contains(&format!("nonce=\"{nonce}\"")),
        "{what}: the hydration script lacks the policy's nonce"
    );
    nonce
}

#[tokio::test]
async fn every_kind_of_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let anonymous = app.client();

    // Pages: signed in, signed out, and the not-found page.
    let dashboard = admin.get("/").await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.body);
    assert_hardened("signed-in page", &dashboard);
    assert_eq!(header(&dashboard, "cache-control"), "no-store");
    let first = page_nonce("signed-in page", &dashboard);
    let again = page_nonce("signed-in page", &admin.get("/").await);
    assert_ne!(first, again, "a nonce is used once");

    let login = anonymous.get("/login").await;
    assert_eq!(login.status, 200);
    assert_hardened("sign-in page", &login);
    page_nonce("sign-in page", &login);

    let missing = admin.get("/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert_hardened("not-found page", &missing);

    // A server function (the hydrated UI's calls) and its errors.
    let rpc = admin.rpc("get_overview", &[]).await;
    assert_eq!(rpc.status, 200, "{}", rpc.body);
    assert_hardened("server function", &rpc);
    assert_eq!(header(&rpc, "cache-control"), "no-store");
    assert!(
        header(&rpc, "content-security-policy").contains("default-src 'none'"),
        "answers that are not pages run no script"
    );
    let refused = anonymous.rpc("get_overview", &[]).await;
    assert_eq!(refused.status, 401);
    assert_hardened("server function error", &refused);

    // REST: an error, an unknown route, the OpenAPI document and its reference page.
    let unauthenticated = anonymous.get("/api/v1/me").await;
    assert_eq!(unauthenticated.status, 401);
    assert_hardened("REST error", &unauthenticated);
    assert_eq!(header(&unauthenticated, "cache-control"), "no-store");
    assert_hardened("REST 404", &anonymous.get("/api/v1/nope").await);
    let openapi = anonymous.get("/api/v1/openapi.json").await;
    assert_eq!(openapi.status, 200);
    assert_hardened("OpenAPI document", &openapi);
    assert_hardened("API reference", &anonymous.get("/api/v1/docs").await);

    // Static files (revalidated, not no-store) and the health checks.
    let asset = anonymous.get("/pkg/stratus.css").await;
    assert_hardened("static asset", &asset);
    if asset.status == 200 {
        assert_eq!(header(&asset, "cache-control"), "no-cache");
    }
    assert_hardened("health check", &anonymous.get("/readyz").await);
}

#[tokio::test]
async fn requests_for_another_host_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let evil = |req: reqwest::RequestBuilder| req.header("host", "evil.example");

    for path in ["/", "/login", "/metrics", "/api/v1/me", "/members"] {
        let res = evil(client.http.get(format!("{}{path}", app.url)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 421, "{path}");
        assert!(res.headers().get("set-cookie").is_none(), "{path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["type"], "/problems/misdirected-request");
    }

    // A sign-in under the rebound name is not processed: no session, no attempt recorded.
    let sign_in = evil(
        client
            .http
            .post(format!("{}/rpc/sign_in", app.url))
            .form(&[("email", app.admin_email.as_str()), ("password", "wrong")]),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(sign_in.status().as_u16(), 421);
    assert!(sign_in.headers().get("set-cookie").is_none());
    let attempts: i64 =
        sqlx::query_scalar("select count(*) from audit_event where action like 'user.sign_in%'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(attempts, 0, "the refused sign-in reached the backend");

    // The address itself (tests, probes, local use) and localhost are answered.
    assert_eq!(client.get("/login").await.status, 200);
    let port = app.url.rsplit(':').next().unwrap();
    let local = client
        .http
        .get(format!("{}/login", app.url))
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status().as_u16(), 200);
    // Probes answer under any name.
    let probe = evil(client.http.get(format!("{}/healthz", app.url)))
        .send()
        .await
        .unwrap();
    assert_eq!(probe.status().as_u16(), 200);
}

#[tokio::test]
async fn an_https_public_url_adds_hsts_and_names_the_only_host() {
    let app = TestApp::spawn_with(|settings| {
        settings.public_url = Some("https://stratus.example.com".into());
    })
    .await;
    let client = app.client();
    let named = client
        .http
        .get(format!("{}/login", app.url))
        .header("host", "stratus.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(named.status().as_u16(), 200);
    assert_eq!(
        named.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    let other = client
        .http
        .get(format!("{}/login", app.url))
        .header("host", "stratus.example.com.evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 421);
}

async fn scrape(app: &TestApp, token: Option<&str>) -> (u16, String) {
    let mut req = app.client().http.get(format!("{}/metrics", app.url));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn metrics_need_the_token_and_count_only_live_jobs() {
    let app = TestApp::spawn().await;
    let (status, body) = scrape(&app, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("stratus_jobs"));
    assert_eq!(scrape(&app, Some("not-the-token-at-all")).await.0, 401);

    // A long history of finished jobs, and a few live ones.
    sqlx::query(
        "insert into job (kind, state, fair_seq, finished_at)
         select 'test.history', 'succeeded', g, now() from generate_series(1, 100000) g",
    )
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query(
        "insert into job (kind, state, fair_seq) select 'test.live', 'queued', g from generate_series(1, 3) g",
    )
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("analyze job").execute(&app.db).await.unwrap();
    let plan: Vec<String> =
        sqlx::query_scalar(&format!("explain {}", server::metrics::LIVE_JOB_COUNTS))
            .fetch_all(&app.db)
            .await
            .unwrap();
    let plan = plan.join("\n");
    assert!(
        !plan.contains("Seq Scan"),
        "the gauges scan the history:\n{plan}"
    );

    let (status, body) = scrape(&app, Some(crate::support::METRICS_TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("stratus_jobs{kind=\"test.live\",state=\"queued\"} 3"),
        "{body}"
    );
    assert!(!body.contains("test.history"), "{body}");

    // Fifty scrapers at once leave the pool (5 connections) to everyone else.
    let scrapes: Vec<_> = (0..50)
        .map(|_| {
            let url = app.url.clone();
            tokio::spawn(async move {
                reqwest::Client::new()
                    .get(format!("{url}/metrics"))
                    .bearer_auth(crate::support::METRICS_TOKEN)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let started = std::time::Instant::now();
    let ready = app.client().get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "readiness waited {:?} behind the scrapes",
        started.elapsed()
    );
    for scrape in scrapes {
        assert_eq!(scrape.await.unwrap().unwrap(), 200);
    }
}

#[tokio::test]
async fn without_a_token_configured_metrics_do_not_exist() {
    let app = TestApp::spawn_with(|settings| settings.metrics_token = None).await;
    let (status, body) = scrape(&app, Some(crate::support::METRICS_TOKEN)).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(scrape(&app, None).await.0, 404);
}

async fn tenant_owner(app: &TestApp) -> crate::support::Client {
    app.tenant_with_roles("acme").await;
    let client = app.client();
    client
        .sign_in("owner@acme.test", crate::support::PASSWORD)
        .await;
    client
}

async fn create_account(client: &crate::support::Client, name: &str, endpoint: &str) -> Reply {
    client
        .rpc(
            "create_cloud_account",
            &[
                ("name", name),
                ("region", "eu-west-1"),
                ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                ("secret_access_key", "secret-access-key"),
                ("endpoint_url", endpoint),
            ],
        )
        .await
}

/// Private, loopback, link-local and special addresses (and names resolving to them).
fn forbidden_endpoints(listening: std::net::SocketAddr) -> Vec<String> {
    vec![
        format!("http://{listening}"),
        "http://127.0.0.2:9".into(),
        "http://10.0.0.1".into(),
        "http://169.254.169.254/latest/meta-data/".into(),
        format!("http://localhost:{}", listening.port()),
        "http://[::1]:5055".into(),
        "http://[::ffff:127.0.0.1]:5055".into(),
        "http://0.0.0.0:5055".into(),
        "http://192.168.1.1".into(),
        "http://[fd00::1]".into(),
        "http://224.0.0.1".into(),
    ]
}

#[tokio::test]
async fn private_cloud_endpoints_are_refused_at_creation_and_at_connection() {
    let app = TestApp::spawn().await;
    let owner = tenant_owner(&app).await;
    // Something does listen here: the refusal must not depend on it.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listening = listener.local_addr().unwrap();

    for endpoint in forbidden_endpoints(listening) {
        let refused = create_account(&owner, "Private", &endpoint).await;
        assert_eq!(refused.status, 422, "{endpoint}: {}", refused.body);
        assert!(
            refused.body.contains("\"endpoint_url\"") && refused.body.contains("not allowed"),
            "{endpoint}: {}",
            refused.body
        );
    }

    // Accounts that exist already (made before the rule, or whose name moved) are refused at
    // connection time, before any connection, with the same words for every address.
    let created = create_account(&owner, "Moto", &crate::support::moto_url()).await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.json()["cloud_account_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut answers = std::collections::BTreeSet::new();
    for endpoint in forbidden_endpoints(listening) {
        sqlx::query("update cloud_account set endpoint_url = $2 where cloud_account_id = $1::uuid")
            .bind(&id)
            .bind(&endpoint)
            .execute(&app.db)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let tested = owner
            .rpc("test_cloud_account", &[("cloud_account_id", &id)])
            .await;
        assert_eq!(tested.status, 422, "{endpoint}: {}", tested.body);
        // The server function's error (the REST API would say /problems/endpoint-not-allowed).
        assert!(
            tested.body.contains("EndpointNotAllowed"),
            "{endpoint}: {}",
            tested.body
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{endpoint}: no connection is attempted"
        );
        answers.insert(tested.body.clone());
    }
    assert_eq!(
        answers.len(),
        1,
        "the answers differ by address: {answers:?}"
    );
    let answer = answers.into_iter().next().unwrap();
    for leak in ["refused", "dispatch", "timed out", "127.0.0.1", "io error"] {
        assert!(!answer.contains(leak), "{leak}: {answer}");
    }
    let refusals: i64 = sqlx::query_scalar(
        "select count(*) from audit_event where action = 'cloud_account.tested' and details->>'endpoint_refused' = 'true'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(refusals, forbidden_endpoints(listening).len() as i64);

    // The operator's allowlist (here: moto) still works.
    sqlx::query("update cloud_account set endpoint_url = $2 where cloud_account_id = $1::uuid")
        .bind(&id)
        .bind(crate::support::moto_url())
        .execute(&app.db)
        .await
        .unwrap();
    let tested = owner
        .rpc("test_cloud_account", &[("cloud_account_id", &id)])
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    drop(listener);
}

#[tokio::test]
async fn the_sandbox_account_is_the_exception_not_its_address() {
    let moto = crate::support::moto_url();
    let app = TestApp::spawn_with(|settings| {
        settings.allowed_endpoints.clear();
        settings.sandbox_endpoint = Some(moto.clone());
    })
    .await;
    let admin = app.admin().await;
    // The sandbox (registered at startup for the demo tenant) tests fine.
    let (tenant_id, account_id): (uuid::Uuid, uuid::Uuid) =
        sqlx::query_as("select tenant_id, cloud_account_id from cloud_account where emulated")
            .fetch_one(&app.db)
            .await
            .unwrap();
    sqlx::query("insert into membership (tenant_id, user_id, role) select $1, user_id, 'owner' from app_user where platform_admin on conflict do nothing")
        .bind(tenant_id)
        .execute(&app.db)
        .await
        .unwrap();
    admin
        .rpc("switch_tenant", &[("tenant_id", &tenant_id.to_string())])
        .await;
    let tested = admin
        .rpc(
            "test_cloud_account",
            &[("cloud_account_id", &account_id.to_string())],
        )
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);

    // A tenant's own account at the sandbox's address is not the sandbox.
    let owner = tenant_owner(&app).await;
    let copy = create_account(&owner, "Copy", &moto).await;
    assert_eq!(copy.status, 422, "{}", copy.body);
}

async fn audit_verify(app: &TestApp) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["audit", "verify"])
        .env("DATABASE_URL", &app.database_url)
        .env("STRATUS_LOG", "warn")
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn the_server_cannot_rewrite_the_audit_log_and_verify_finds_a_rewrite() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("acme").await;

    // The server's own role: not a superuser, owns nothing, may only add and read events.
    let (superuser, owner): (bool, String) = sqlx::query_as(
        "select rolsuper, (select tableowner::text from pg_tables where tablename = 'audit_event')
         from pg_roles where rolname = current_user",
    )
    .fetch_one(&app.app_db)
    .await
    .unwrap();
    assert!(!superuser);
    let me: String = sqlx::query_scalar("select current_user::text")
        .fetch_one(&app.app_db)
        .await
        .unwrap();
    assert_ne!(owner, me, "the server owns the audit log");
    for attack in [
        "update audit_event set target = 'rewritten'",
        "delete from audit_event",
        "truncate audit_event",
        "alter table audit_event disable trigger audit_event_no_change",
        "drop trigger audit_event_no_change on audit_event",
        "update audit_chain_head set seq = 0",
        "set session_replication_role = replica",
    ] {
        let refused = sqlx::raw_sql(attack).execute(&app.app_db).await;
        assert!(refused.is_err(), "the server's role may run: {attack}");
    }

    // Concurrent inserts (each its own transaction) keep the chain whole.
    let inserts: Vec<_> = (0..20)
        .map(|i| {
            let db = app.app_db.clone();
            tokio::spawn(async move {
                let mut tx = db.begin().await.unwrap();
                app::backend::audit::record_with(
                    &mut tx,
                    app::backend::audit::By::SYSTEM,
                    None,
                    app::model::AuditAction::UserSignInFailed,
                    &format!("nobody{i}@example.test"),
                    serde_json::Value::Null,
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
            })
        })
        .collect();
    for insert in inserts {
        insert.await.unwrap();
    }
    // A rolled-back insert leaves no gap.
    let mut tx = app.app_db.begin().await.unwrap();
    app::backend::audit::record_with(
        &mut tx,
        app::backend::audit::By::SYSTEM,
        None,
        app::model::AuditAction::UserSignInFailed,
        "rolled@back.test",
        serde_json::Value::Null,
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();

    let (ok, output) = audit_verify(&app).await;
    assert!(ok, "{output}");
    assert!(output.contains("intact"), "{output}");

    // A superuser rewrites one event in the middle, around the triggers.
    let victim: i64 = sqlx::query_scalar(
        "select audit_id from audit_event where target = 'nobody7@example.test'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    sqlx::raw_sql(&format!(
        "alter table audit_event disable trigger audit_event_no_change;
         update audit_event set target = 'somebody-else@example.test' where audit_id = {victim};
         alter table audit_event enable trigger audit_event_no_change;"
    ))
    .execute(&app.db)
    .await
    .unwrap();
    let (ok, output) = audit_verify(&app).await;
    assert!(!ok, "verify passed a rewritten log: {output}");
    assert!(
        output.contains(&format!("audit event {victim} ")),
        "{output}"
    );
    assert!(output.contains("content was changed"), "{output}");
}
