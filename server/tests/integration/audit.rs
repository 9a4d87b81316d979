//! The audit log: append-only, complete, readable only by those allowed, filtered, paged,
//! exported as NDJSON, and free of secrets.

use crate::support::{Client, Reply, TestApp, PASSWORD};
use app::backend::{audit, jobs};
use app::error::AppError;
use app::model::{AuditFilter, AuditScope, Role};
use serde_json::Value;
use uuid::Uuid;

const VALUE: &str = "audit-plaintext-Vx93-never-log-me";
const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYAUDITKEY";

async fn signed_in(app: &TestApp, email: &str) -> Client {
    let client = app.client();
    client.sign_in(email, PASSWORD).await;
    client
}

fn ok(reply: Reply) -> Reply {
    assert!(reply.status < 400, "{} {}", reply.status, reply.body);
    reply
}

/// An event as (action, actor email, target, details, client ip).
type Row = (String, Option<String>, String, Value, Option<String>);

/// The tenant's events (all platform events for `None`), oldest first.
async fn events(app: &TestApp, tenant_id: Option<Uuid>) -> Vec<Row> {
    sqlx::query_as(
        "select action, actor_email, target, details, host(client_ip) from audit_event
         where tenant_id is not distinct from $1 order by audit_id",
    )
    .bind(tenant_id)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

fn find<'a>(events: &'a [Row], action: &str, target: &str) -> &'a Row {
    events
        .iter()
        .find(|e| e.0 == action && e.2 == target)
        .unwrap_or_else(|| panic!("no {action} on {target} in {events:#?}"))
}

fn ndjson(body: &str) -> Vec<Value> {
    body.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

#[tokio::test]
async fn the_log_refuses_update_delete_and_truncate_through_the_apps_pool() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("acme").await;
    let before: i64 = sqlx::query_scalar("select count(*) from audit_event")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(before > 0);
    for statement in [
        "update audit_event set target = 'forged'",
        "delete from audit_event",
        "truncate audit_event",
    ] {
        let error = sqlx::query(statement).execute(&app.db).await.unwrap_err();
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    let after: i64 = sqlx::query_scalar("select count(*) from audit_event")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn each_change_records_its_event_in_its_own_transaction() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created = ok(admin.create_tenant("acme", "Acme", "boss@acme.test").await).json();
    let tenant_id: Uuid = created["tenant"]["tenant_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let tenant = tenant_id.to_string();
    let owner_link = created["invitation"]["link_path"]
        .as_str()
        .unwrap()
        .to_string();
    let owner = app.client();
    ok(owner
        .rpc(
            "accept_invitation",
            &[
                ("token", owner_link.trim_start_matches("/invite/")),
                ("display_name", "Boss"),
                ("password", PASSWORD),
            ],
        )
        .await);

    // Invitations: created, replaced, revoked, accepted; then role change and removal.
    ok(owner
        .rpc(
            "invite_member",
            &[("email", "ann@acme.test"), ("role", "viewer")],
        )
        .await);
    let invited = ok(owner
        .rpc(
            "invite_member",
            &[("email", "ann@acme.test"), ("role", "member")],
        )
        .await)
    .json();
    let ann_link = invited["link_path"].as_str().unwrap().to_string();
    let bob = ok(owner
        .rpc(
            "invite_member",
            &[("email", "bob@acme.test"), ("role", "viewer")],
        )
        .await)
    .json();
    ok(owner
        .rpc(
            "revoke_invitation",
            &[("invitation_id", bob["invitation_id"].as_str().unwrap())],
        )
        .await);
    let ann = app.accept(&ann_link, "Ann").await.to_string();
    ok(owner
        .rpc(
            "change_member_role",
            &[("user_id", &ann), ("role", "admin")],
        )
        .await);
    // A refused change records nothing: the event would have shared its transaction.
    let me: String =
        sqlx::query_scalar("select user_id::text from app_user where email = 'boss@acme.test'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        owner
            .rpc(
                "change_member_role",
                &[("user_id", &me), ("role", "viewer")]
            )
            .await
            .status,
        409
    );
    ok(owner.rpc("remove_member", &[("user_id", &ann)]).await);

    // Secrets, including a reveal.
    ok(owner
        .rpc("create_secret", &[("name", "ci/token"), ("value", VALUE)])
        .await);
    let secret_id: String =
        sqlx::query_scalar("select secret_id::text from secret where name = 'ci/token'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    ok(owner.rpc("reauthenticate", &[("password", PASSWORD)]).await);
    ok(owner
        .rpc("reveal_secret", &[("secret_id", &secret_id)])
        .await);
    ok(owner
        .rpc(
            "update_secret",
            &[
                ("secret_id", &secret_id),
                ("value", "another-value-entirely"),
            ],
        )
        .await);
    ok(owner
        .rpc("delete_secret", &[("secret_id", &secret_id)])
        .await);

    // Cloud accounts: created, tested (against a closed port: it fails, and is still recorded), deleted.
    let account = ok(owner
        .rpc(
            "create_cloud_account",
            &[
                ("name", "Prod"),
                ("region", "eu-west-1"),
                ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                ("secret_access_key", SECRET_KEY),
                ("endpoint_url", "http://127.0.0.1:9"),
            ],
        )
        .await)
    .json();
    let account_id = account["cloud_account_id"].as_str().unwrap().to_string();
    assert_eq!(
        owner
            .rpc("test_cloud_account", &[("cloud_account_id", &account_id)])
            .await
            .status,
        502
    );
    ok(owner
        .rpc("delete_cloud_account", &[("cloud_account_id", &account_id)])
        .await);

    // Jobs: cancelled and retried.
    let mut conn = app.db.acquire().await.unwrap();
    let job = jobs::enqueue(
        &mut conn,
        jobs::NewJob::new("test.later")
            .tenant(tenant_id)
            .run_at(time::OffsetDateTime::now_utc() + time::Duration::hours(1)),
    )
    .await
    .unwrap();
    drop(conn);
    let job_id = job.job_id.to_string();
    ok(owner.rpc("cancel_job", &[("job_id", &job_id)]).await);
    ok(owner.rpc("retry_job", &[("job_id", &job_id)]).await);

    // The platform: suspension, quotas, users.
    ok(admin
        .rpc(
            "admin_set_suspended",
            &[("tenant_id", &tenant), ("suspended", "true")],
        )
        .await);
    ok(admin
        .rpc(
            "admin_set_suspended",
            &[("tenant_id", &tenant), ("suspended", "false")],
        )
        .await);
    ok(admin
        .rpc(
            "admin_update_quotas",
            &[
                ("tenant_id", &tenant),
                ("max_zones", "3"),
                ("max_instances", "30"),
                ("max_vcpus", "60"),
                ("max_databases", "2"),
            ],
        )
        .await);
    ok(admin
        .rpc(
            "admin_set_user_disabled",
            &[("user_id", &ann), ("disabled", "true")],
        )
        .await);
    ok(admin
        .rpc(
            "admin_set_user_disabled",
            &[("user_id", &ann), ("disabled", "false")],
        )
        .await);

    let log = events(&app, Some(tenant_id)).await;
    let admin_email = Some(app.admin_email.clone());
    let boss = Some("boss@acme.test".to_string());
    let e = find(&log, "tenant.created", "acme");
    assert_eq!(e.1, admin_email);
    assert_eq!(
        e.4.as_deref(),
        Some("127.0.0.1"),
        "the client address is recorded"
    );
    assert_eq!(find(&log, "invitation.accepted", "boss@acme.test").1, boss);
    let replaced: Vec<_> = log
        .iter()
        .filter(|e| e.0 == "invitation.created" && e.2 == "ann@acme.test")
        .map(|e| (e.3["role"].clone(), e.3["replaced_pending"].clone()))
        .collect();
    assert_eq!(
        replaced,
        [
            (Value::from("viewer"), Value::from(false)),
            (Value::from("member"), Value::from(true))
        ]
    );
    assert_eq!(
        find(&log, "invitation.revoked", "bob@acme.test").3["role"],
        "viewer"
    );
    let accepted = find(&log, "invitation.accepted", "ann@acme.test");
    assert_eq!(accepted.1.as_deref(), Some("ann@acme.test"));
    assert_eq!(accepted.3["new_account"], true);
    let changed = find(&log, "member.role_changed", "ann@acme.test");
    assert_eq!(
        (changed.3["from"].as_str(), changed.3["to"].as_str()),
        (Some("member"), Some("admin"))
    );
    assert_eq!(changed.3["user_id"], ann.as_str());
    assert_eq!(
        log.iter().filter(|e| e.0 == "member.role_changed").count(),
        1,
        "the refused demotion left no event"
    );
    assert_eq!(
        find(&log, "member.removed", "ann@acme.test").3["role"],
        "admin"
    );
    for action in [
        "secret.created",
        "secret.revealed",
        "secret.updated",
        "secret.deleted",
    ] {
        let e = find(&log, action, "ci/token");
        assert_eq!(
            (e.1.as_ref(), e.3["secret_id"].as_str()),
            (boss.as_ref(), Some(secret_id.as_str()))
        );
    }
    find(&log, "cloud_account.created", "Prod");
    let tested = find(&log, "cloud_account.tested", "Prod");
    assert_eq!(tested.3["succeeded"], false);
    find(&log, "cloud_account.deleted", "Prod");
    let target = format!("job #{job_id}");
    assert_eq!(find(&log, "job.cancelled", &target).3["state"], "cancelled");
    assert_eq!(find(&log, "job.retried", &target).3["kind"], "test.later");
    assert_eq!(find(&log, "tenant.suspended", "acme").1, admin_email);
    find(&log, "tenant.resumed", "acme");
    let quotas = find(&log, "tenant.quotas_changed", "acme");
    assert_eq!(
        (
            quotas.3["from"]["max_zones"].as_i64(),
            quotas.3["to"]["max_zones"].as_i64()
        ),
        (Some(10), Some(3))
    );

    let platform = events(&app, None).await;
    find(&platform, "user.created", &app.admin_email);
    assert_eq!(
        find(&platform, "user.disabled", "ann@acme.test").1,
        admin_email
    );
    find(&platform, "user.enabled", "ann@acme.test");

    // Every event of the tenant is one of the listed actions.
    let listed: Vec<&str> = app::model::AuditAction::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    for e in &log {
        assert!(listed.contains(&e.0.as_str()), "unlisted action {}", e.0);
    }
}

#[tokio::test]
async fn admins_and_owners_read_their_tenant_others_are_refused() {
    let app = TestApp::spawn().await;
    let own = app.tenant_with_roles("own").await;
    let other = app.tenant_with_roles("other").await;

    for role in ["owner", "admin"] {
        let client = signed_in(&app, &format!("{role}@own.test")).await;
        let page = ok(client.rpc("get_audit_log", &[]).await).json();
        let events = page["events"].as_array().unwrap();
        assert!(!events.is_empty());
        assert!(
            events
                .iter()
                .all(|e| e["tenant_id"] == own.tenant_id.to_string()),
            "{role} sees another tenant: {page}"
        );
        let export = client.get("/audit/export.ndjson").await;
        assert_eq!(export.status, 200, "{}", export.body);
        assert!(ndjson(&export.body)
            .iter()
            .all(|e| e["tenant_id"] == own.tenant_id.to_string()));
        // Not the admin console's, though.
        assert_eq!(client.rpc("admin_audit_log", &[]).await.status, 403);
        assert_eq!(client.get("/admin/audit/export.ndjson").await.status, 403);
    }
    for role in ["member", "viewer"] {
        let client = signed_in(&app, &format!("{role}@own.test")).await;
        let refused = client.rpc("get_audit_log", &[]).await;
        assert_eq!(refused.status, 403, "{role}: {}", refused.body);
        let export = client.get("/audit/export.ndjson").await;
        assert_eq!(export.status, 403, "{role}: {}", export.body);
        assert_eq!(export.json()["type"], "/problems/forbidden");
    }
    // A foreign tenant is indistinguishable from a missing one.
    let owner = app.actor(own.user(Role::Owner)).await;
    let foreign = audit::list(
        &app.db,
        &owner,
        AuditScope::Tenant(other.tenant_id),
        &AuditFilter::default(),
        None,
        10,
    )
    .await;
    assert_eq!(foreign.unwrap_err(), AppError::NotFound);
    let missing = audit::list(
        &app.db,
        &owner,
        AuditScope::Tenant(Uuid::new_v4()),
        &AuditFilter::default(),
        None,
        10,
    )
    .await;
    assert_eq!(missing.unwrap_err(), AppError::NotFound);
    // Signed out: no log.
    assert_eq!(app.client().rpc("get_audit_log", &[]).await.status, 401);

    // The platform admin sees both tenants, and can narrow to one.
    let admin = app.admin().await;
    let all = ok(admin.rpc("admin_audit_log", &[]).await).json();
    let tenants: std::collections::HashSet<String> = all["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["tenant_slug"].as_str().map(str::to_string))
        .collect();
    assert!(
        tenants.contains("own") && tenants.contains("other"),
        "{tenants:?}"
    );
    let narrowed = ok(admin
        .rpc(
            "admin_audit_log",
            &[("tenant", &other.tenant_id.to_string())],
        )
        .await)
    .json();
    assert!(narrowed["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["tenant_slug"] == "other"));
}

#[tokio::test]
async fn filters_and_cursor_pagination() {
    let app = TestApp::spawn().await;
    let own = app.tenant_with_roles("acme").await;
    let owner = app.actor(own.user(Role::Owner)).await;
    let admin = app.actor(own.user(Role::Admin)).await;
    let keys = crate::support::keyring();
    for i in 0..7 {
        app::backend::secrets::create_secret(
            &app.db,
            &keys,
            &owner,
            own.tenant_id,
            &format!("o{i}"),
            "v".into(),
        )
        .await
        .unwrap();
    }
    for i in 0..3 {
        app::backend::secrets::create_secret(
            &app.db,
            &keys,
            &admin,
            own.tenant_id,
            &format!("a{i}"),
            "v".into(),
        )
        .await
        .unwrap();
    }
    let scope = AuditScope::Tenant(own.tenant_id);
    let total: i64 = sqlx::query_scalar("select count(*) from audit_event where tenant_id = $1")
        .bind(own.tenant_id)
        .fetch_one(&app.db)
        .await
        .unwrap();

    // Walking the pages visits every event once, newest first.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = audit::list(&app.db, &owner, scope, &AuditFilter::default(), cursor, 4)
            .await
            .unwrap();
        assert!(page.events.len() <= 4);
        seen.extend(page.events.iter().map(|e| e.audit_id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len() as i64, total);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");

    let by = |action: Option<&str>, actor: Option<&str>| AuditFilter {
        action: action.map(str::to_string),
        actor: actor.map(str::to_string),
        ..AuditFilter::default()
    };
    let created = audit::list(
        &app.db,
        &owner,
        scope,
        &by(Some("secret.created"), None),
        None,
        100,
    )
    .await
    .unwrap();
    assert_eq!(created.events.len(), 10);
    assert!(created.events.iter().all(|e| e.action == "secret.created"));
    let admins = audit::list(
        &app.db,
        &owner,
        scope,
        &by(Some("secret.created"), Some("ADMIN@acme")),
        None,
        100,
    )
    .await
    .unwrap();
    let targets: Vec<&str> = admins.events.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(targets, ["a2", "a1", "a0"]);
    // Wildcards in the input are plain characters.
    let none = audit::list(&app.db, &owner, scope, &by(None, Some("%")), None, 100)
        .await
        .unwrap();
    assert!(none.events.is_empty());

    // Dates are UTC days, both ends included.
    for at in [
        "2026-01-15T12:00:00Z",
        "2026-01-16T23:59:59Z",
        "2026-01-17T00:00:00Z",
    ] {
        sqlx::query("insert into audit_event (at, actor_email, tenant_id, action, target) values ($1::timestamptz, 'old@acme.test', $2, 'secret.created', $1)")
            .bind(at)
            .bind(own.tenant_id)
            .execute(&app.db)
            .await
            .unwrap();
    }
    let day = AuditFilter {
        from: Some("2026-01-16".into()),
        to: Some("2026-01-16".into()),
        ..AuditFilter::default()
    };
    let on_the_day = audit::list(&app.db, &owner, scope, &day, None, 100)
        .await
        .unwrap();
    let targets: Vec<&str> = on_the_day
        .events
        .iter()
        .map(|e| e.target.as_str())
        .collect();
    assert_eq!(targets, ["2026-01-16T23:59:59Z"]);
    let since = AuditFilter {
        from: Some("2026-01-17T00:00:00Z".into()),
        ..AuditFilter::default()
    };
    let recent = audit::list(&app.db, &owner, scope, &since, None, 500)
        .await
        .unwrap();
    assert_eq!(recent.events.len() as i64, total + 1);

    // Bad filters are explained per field, over HTTP too.
    let client = signed_in(&app, "owner@acme.test").await;
    let bad = client
        .rpc(
            "get_audit_log",
            &[
                ("action", "Robert'); drop table"),
                ("from", "soon"),
                ("to", "2026-02-30"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    for field in ["action", "from", "to"] {
        assert!(
            bad.body.contains(&format!("\"field\":\"{field}\"")),
            "{field}: {}",
            bad.body
        );
    }
    let export = client.get("/audit/export.ndjson?from=soon").await;
    assert_eq!(export.status, 422, "{}", export.body);
    // The page's "older" cursor over HTTP (its pages hold 50).
    sqlx::query(
        "insert into audit_event (actor_email, tenant_id, action, target)
         select 'bulk@acme.test', $1, 'job.retried', 'job #' || n from generate_series(1, 60) n",
    )
    .bind(own.tenant_id)
    .execute(&app.db)
    .await
    .unwrap();
    let first = ok(client.rpc("get_audit_log", &[]).await).json();
    let next = first["next_cursor"].as_i64().expect("more than one page");
    let second = ok(client
        .rpc("get_audit_log", &[("before", &next.to_string())])
        .await)
    .json();
    let first_ids: Vec<i64> = first["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["audit_id"].as_i64().unwrap())
        .collect();
    let second_ids: Vec<i64> = second["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["audit_id"].as_i64().unwrap())
        .collect();
    assert_eq!(first_ids.len(), audit::DEFAULT_LIMIT as usize);
    assert!(second_ids.iter().all(|id| *id < *first_ids.last().unwrap()));
}

#[tokio::test]
async fn the_export_is_ndjson_honours_filters_and_holds_no_secret() {
    let app = TestApp::spawn().await;
    let own = app.tenant_with_roles("acme").await;
    let owner = signed_in(&app, "owner@acme.test").await;
    ok(owner
        .rpc(
            "create_secret",
            &[("name", "db/password"), ("value", VALUE)],
        )
        .await);
    let secret_id: String =
        sqlx::query_scalar("select secret_id::text from secret where name = 'db/password'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    ok(owner.rpc("reauthenticate", &[("password", PASSWORD)]).await);
    let revealed = ok(owner
        .rpc("reveal_secret", &[("secret_id", &secret_id)])
        .await);
    assert_eq!(revealed.json(), VALUE);
    ok(owner
        .rpc(
            "create_cloud_account",
            &[
                ("name", "Prod"),
                ("region", "eu-west-1"),
                ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                ("secret_access_key", SECRET_KEY),
                ("endpoint_url", ""),
            ],
        )
        .await);
    let invitation = ok(owner
        .rpc(
            "invite_member",
            &[("email", "new@acme.test"), ("role", "viewer")],
        )
        .await)
    .json();
    let token = invitation["link_path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/invite/")
        .to_string();
    // More than one export page (500), so the stream's pagination is exercised.
    sqlx::query(
        "insert into audit_event (actor_email, tenant_id, action, target)
         select 'bulk@acme.test', $1, 'job.retried', 'job #' || n from generate_series(1, 1200) n",
    )
    .bind(own.tenant_id)
    .execute(&app.db)
    .await
    .unwrap();
    let total: i64 = sqlx::query_scalar("select count(*) from audit_event where tenant_id = $1")
        .bind(own.tenant_id)
        .fetch_one(&app.db)
        .await
        .unwrap();

    let export = owner.get("/audit/export.ndjson").await;
    assert_eq!(export.status, 200, "{}", export.body);
    assert_eq!(export.headers["content-type"], "application/x-ndjson");
    let disposition = export.headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.starts_with("attachment; filename=\"stratus-audit-acme-"),
        "{disposition}"
    );
    assert!(export.body.ends_with('\n'));
    let lines = ndjson(&export.body);
    assert_eq!(lines.len() as i64, total);
    let ids: Vec<i64> = lines
        .iter()
        .map(|e| e["audit_id"].as_i64().unwrap())
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    let reveal = lines
        .iter()
        .find(|e| e["action"] == "secret.revealed")
        .expect("the reveal is exported");
    assert_eq!(reveal["target"], "db/password");
    assert_eq!(reveal["actor_email"], "owner@acme.test");
    assert!(
        reveal["at"].as_str().unwrap().contains('T'),
        "RFC 3339 times"
    );

    let filtered = owner
        .get("/audit/export.ndjson?action=secret.revealed&actor=OWNER@")
        .await;
    let lines = ndjson(&filtered.body);
    assert_eq!(lines.len(), 1, "{}", filtered.body);
    assert_eq!(lines[0]["action"], "secret.revealed");

    // Neither the export, the list nor the admin console's export holds a value or key material.
    let list = ok(owner.rpc("get_audit_log", &[]).await).body;
    let admin = app.admin().await;
    let everything = admin.get("/admin/audit/export.ndjson").await;
    assert_eq!(everything.status, 200);
    for body in [&export.body, &list, &everything.body] {
        for needle in [VALUE, SECRET_KEY, token.as_str(), PASSWORD] {
            assert!(!body.contains(needle), "{needle} leaked");
        }
    }
    assert!(!everything.body.contains("password_hash") && !everything.body.contains("$argon2"));
}
