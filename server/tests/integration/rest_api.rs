//! `/api/v1`: API keys and access tokens end to end, and every route × role × own/foreign tenant.

use crate::support::{TestApp, PASSWORD, TEST_JWT_KEYS};
use app::model::Role;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: String,
    pub(crate) body: Value,
}

pub(crate) async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", app.url));
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    Answer {
        status,
        content_type,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

async fn get(app: &TestApp, path: &str, bearer: &str) -> Answer {
    call(app, Method::GET, path, Some(bearer), None).await
}

async fn exchange(app: &TestApp, key: &str) -> Answer {
    call(
        app,
        Method::POST,
        "/api/v1/auth/token",
        None,
        Some(json!({ "api_key": key })),
    )
    .await
}

#[tokio::test]
async fn a_key_is_created_in_the_portal_after_reauthentication_and_works_until_revoked() {
    let app = TestApp::spawn().await;
    let t = app.tenant_with_roles("acme").await;
    let admin = app.client();
    admin.sign_in("admin@acme.test", PASSWORD).await;

    // Creating a key needs a fresh password confirmation.
    let form = [("name", "deploy bot"), ("role", "member"), ("days", "30")];
    let reply = admin.rpc("create_api_key", &form).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(reply.body.contains("ReauthRequired"), "{}", reply.body);
    let reply = admin.rpc("reauthenticate", &[("password", PASSWORD)]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // No higher than one's own role.
    let reply = admin
        .rpc(
            "create_api_key",
            &[("name", "x"), ("role", "owner"), ("days", "30")],
        )
        .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    let reply = admin.rpc("create_api_key", &form).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let created = reply.json();
    let secret = created["secret"].as_str().unwrap().to_string();
    let key_id = created["key"]["key_id"].as_str().unwrap().to_string();
    assert!(secret.starts_with("stx_") && secret.len() == 42);
    assert!(secret.starts_with(created["key"]["prefix"].as_str().unwrap()));

    // The list shows the key, never its secret; only the digest is stored.
    let list = admin.rpc("get_api_keys", &[]).await;
    assert!(list.body.contains("deploy bot") && !list.body.contains(&secret));
    let stored: i64 =
        sqlx::query_scalar("select count(*) from api_key where secret_sha256 = sha256($1::bytea)")
            .bind(secret.as_bytes())
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, 1);

    // The key works directly and through an access token; both act as a member of acme.
    let me = get(&app, "/api/v1/me", &secret).await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["role"], "member");
    assert_eq!(me.body["tenant_id"], t.tenant_id.to_string());
    let token = exchange(&app, &secret).await;
    assert_eq!(token.status, 200, "{:?}", token.body);
    assert_eq!(token.body["token_type"], "Bearer");
    assert_eq!(token.body["expires_in"], 900);
    let jwt = token.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(get(&app, "/api/v1/me", &jwt).await.status, 200);
    let used: Option<time::OffsetDateTime> =
        sqlx::query_scalar("select last_used_at from api_key where key_id = $1::uuid")
            .bind(&key_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(used.is_some(), "last use is recorded");

    // Revoking ends the key and every token exchanged for it.
    let reply = admin.rpc("revoke_api_key", &[("key_id", &key_id)]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    for credential in [&secret, &jwt] {
        let answer = get(&app, "/api/v1/me", credential).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.body["type"], "/problems/invalid-token");
    }
    assert_eq!(exchange(&app, &secret).await.status, 401);
}

#[tokio::test]
async fn expired_foreign_and_orphaned_keys_are_refused() {
    let app = TestApp::spawn().await;
    let a = app.tenant_with_roles("alpha").await;
    let b = app.tenant_with_roles("beta").await;
    let member = a.user(Role::Member);

    // Expired.
    let key = app.api_key(member, a.tenant_id, Role::Member).await;
    assert_eq!(get(&app, "/api/v1/me", &key).await.status, 200);
    sqlx::query("update api_key set expires_at = now() - interval '1 second'")
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(get(&app, "/api/v1/me", &key).await.status, 401);

    // A key reaches only its own tenant, even when its owner belongs to another.
    let owner_of_a = a.user(Role::Owner);
    sqlx::query("insert into membership (tenant_id, user_id, role) values ($1, $2, 'owner')")
        .bind(b.tenant_id)
        .bind(owner_of_a)
        .execute(&app.db)
        .await
        .unwrap();
    let key = app.api_key(owner_of_a, a.tenant_id, Role::Owner).await;
    let tenants = get(&app, "/api/v1/tenants", &key).await;
    assert_eq!(tenants.body["items"].as_array().unwrap().len(), 1);
    let foreign = get(
        &app,
        &format!("/api/v1/tenants/{}/members", b.tenant_id),
        &key,
    )
    .await;
    assert_eq!(foreign.status, 404);

    // A key is capped at its own role: an owner's viewer key cannot see invitations.
    let viewer_key = app.api_key(owner_of_a, a.tenant_id, Role::Viewer).await;
    let path = format!("/api/v1/tenants/{}/invitations", a.tenant_id);
    assert_eq!(get(&app, &path, &viewer_key).await.status, 403);
    assert_eq!(get(&app, &path, &key).await.status, 200);

    // Removing the member, or disabling the user, stops their keys at once.
    let admin = app.admin_actor().await;
    let admins_key = app
        .api_key(a.user(Role::Admin), a.tenant_id, Role::Admin)
        .await;
    let owner_actor = app.actor(owner_of_a).await;
    app::backend::tenancy::remove_member(&app.db, &owner_actor, a.tenant_id, a.user(Role::Admin))
        .await
        .unwrap();
    assert_eq!(get(&app, "/api/v1/me", &admins_key).await.status, 401);
    let viewers_key = app
        .api_key(a.user(Role::Viewer), a.tenant_id, Role::Viewer)
        .await;
    let jwt = exchange(&app, &viewers_key).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    app::backend::identity::set_user_disabled(&app.db, &admin, a.user(Role::Viewer), true)
        .await
        .unwrap();
    assert_eq!(get(&app, "/api/v1/me", &viewers_key).await.status, 401);
    assert_eq!(get(&app, "/api/v1/me", &jwt).await.status, 401);

    // A tampered key fails its checksum before any lookup; no header at all is 401 too.
    let mut tampered = key.clone().into_bytes();
    tampered[6] = if tampered[6] == b'A' { b'B' } else { b'A' };
    let answer = get(&app, "/api/v1/me", &String::from_utf8(tampered).unwrap()).await;
    assert_eq!(answer.status, 401);
    assert!(answer.body["detail"].as_str().unwrap().contains("checksum"));
    let answer = call(&app, Method::GET, "/api/v1/me", None, None).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.content_type, "application/problem+json");
}

/// A token signed with the test signing key, with `edit` applied to its parts first.
pub(crate) fn forge(
    claims: Value,
    alg: jsonwebtoken::Algorithm,
    typ: Option<&str>,
    kid: &str,
) -> String {
    let (_, secret) = TEST_JWT_KEYS.split_once(':').unwrap();
    let secret = base64::engine::general_purpose::STANDARD
        .decode(secret)
        .unwrap();
    let mut header = jsonwebtoken::Header::new(alg);
    header.typ = typ.map(String::from);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .unwrap()
}

#[tokio::test]
async fn access_tokens_with_the_wrong_algorithm_audience_type_key_or_times_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant_with_roles("gamma").await;
    let user = t.user(Role::Member);
    let key = app.api_key(user, t.tenant_id, Role::Member).await;
    let key_id: Uuid = sqlx::query_scalar("select key_id from api_key")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |edit: &dyn Fn(&mut Value)| {
        let mut c = json!({
            "iss": "stratus", "aud": "stratus-api", "sub": user, "tid": t.tenant_id,
            "key": key_id, "role": "member", "iat": now, "nbf": now, "exp": now + 600,
            "jti": Uuid::new_v4(),
        });
        edit(&mut c);
        c
    };
    use jsonwebtoken::Algorithm::{HS256, HS512};
    let good = forge(claims(&|_| {}), HS256, Some("at+jwt"), "jwt1");
    assert_eq!(
        get(&app, "/api/v1/me", &good).await.status,
        200,
        "the control case works"
    );
    let bad = [
        (
            "another algorithm",
            forge(claims(&|_| {}), HS512, Some("at+jwt"), "jwt1"),
        ),
        ("no type", forge(claims(&|_| {}), HS256, None, "jwt1")),
        (
            "an id token's type",
            forge(claims(&|_| {}), HS256, Some("JWT"), "jwt1"),
        ),
        (
            "an unknown kid",
            forge(claims(&|_| {}), HS256, Some("at+jwt"), "other"),
        ),
        (
            "another audience",
            forge(
                claims(&|c| c["aud"] = json!("elsewhere")),
                HS256,
                Some("at+jwt"),
                "jwt1",
            ),
        ),
        (
            "another issuer",
            forge(
                claims(&|c| c["iss"] = json!("evil")),
                HS256,
                Some("at+jwt"),
                "jwt1",
            ),
        ),
        (
            "expired",
            forge(
                claims(&|c| c["exp"] = json!(now - 60)),
                HS256,
                Some("at+jwt"),
                "jwt1",
            ),
        ),
        (
            "not yet valid",
            forge(
                claims(&|c| c["nbf"] = json!(now + 600)),
                HS256,
                Some("at+jwt"),
                "jwt1",
            ),
        ),
        (
            "no expiry",
            forge(
                claims(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
                HS256,
                Some("at+jwt"),
                "jwt1",
            ),
        ),
        (
            "another tenant",
            forge(
                claims(&|c| c["tid"] = json!(Uuid::new_v4())),
                HS256,
                Some("at+jwt"),
                "jwt1",
            ),
        ),
    ];
    for (case, token) in bad {
        assert_eq!(get(&app, "/api/v1/me", &token).await.status, 401, "{case}");
    }
    // `alg: none` with the signature stripped.
    let unsigned = {
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"alg":"none","typ":"at+jwt","kid":"jwt1"}"#);
        let body =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims(&|_| {}).to_string());
        format!("{header}.{body}.")
    };
    assert_eq!(
        get(&app, "/api/v1/me", &unsigned).await.status,
        401,
        "alg none"
    );
    // An access token cannot be exchanged for another.
    assert_eq!(exchange(&app, &good).await.status, 401);
    drop(key);
}

/// What a route needs: a role in the credential's tenant, or nothing tenant-specific.
#[derive(Clone, Copy)]
enum Needs {
    AnyCredential,
    Role(Role),
}

struct Route {
    method: Method,
    path: String,
    body: Option<Value>,
    needs: Needs,
    ok: u16,
}

/// A fresh target member, invitation and someone else's key in `tenant_id`, so every call has
/// something of its own to act on.
async fn targets(app: &TestApp, tenant_id: Uuid, key_owner: Uuid) -> (Uuid, Uuid, Uuid) {
    let user_id: Uuid = sqlx::query_scalar(
        "insert into app_user (email, display_name, password_hash) values ($1, 'Target', 'x') returning user_id",
    )
    .bind(format!("target-{}@stratus.test", Uuid::new_v4().simple()))
    .fetch_one(&app.db)
    .await
    .unwrap();
    sqlx::query("insert into membership (tenant_id, user_id, role) values ($1, $2, 'member')")
        .bind(tenant_id)
        .bind(user_id)
        .execute(&app.db)
        .await
        .unwrap();
    let invitation_id: Uuid = sqlx::query_scalar(
        "insert into invitation (tenant_id, email, role, token_sha256, expires_at)
         values ($1, $2, 'viewer', $3, now() + interval '1 hour') returning invitation_id",
    )
    .bind(tenant_id)
    .bind(format!("inv-{}@stratus.test", Uuid::new_v4().simple()))
    .bind(Uuid::new_v4().as_bytes().to_vec())
    .fetch_one(&app.db)
    .await
    .unwrap();
    let key_id: Uuid = sqlx::query_scalar(
        "insert into api_key (tenant_id, user_id, name, prefix, secret_sha256, role, expires_at)
         values ($1, $2, 'theirs', 'stx_x', $3, 'viewer', now() + interval '1 day') returning key_id",
    )
    .bind(tenant_id)
    .bind(key_owner)
    .bind(Uuid::new_v4().as_bytes().to_vec())
    .fetch_one(&app.db)
    .await
    .unwrap();
    (user_id, invitation_id, key_id)
}

/// A cloud account, a zone, an instance group one of its instances and a database in two zones of another account in the tenant, for the
/// resource routes (made once per tenant: the routes only plan changes to them, and protect).
async fn resource_targets(
    app: &TestApp,
    tenant_id: Uuid,
    member: Uuid,
) -> (Uuid, Uuid, Uuid, Uuid, Uuid, Uuid, Uuid) {
    use app::backend::cloud::accounts as cloud_accounts;
    use app::backend::resources::{databases, zones, WriteOptions};
    let owner: Uuid = sqlx::query_scalar(
        "select user_id from membership where tenant_id = $1 and role = 'owner' limit 1",
    )
    .bind(tenant_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let account = cloud_accounts::NewCloudAccount {
        name: "routes".into(),
        region: "us-east-1".into(),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: "not-a-real-key".into(),
        endpoint_url: None,
        emulated: false,
    };
    let account = cloud_accounts::create(
        &app.db,
        &crate::support::keyring(),
        &Default::default(),
        &app.actor(owner).await,
        tenant_id,
        account,
    )
    .await
    .unwrap();
    let zone = app::model::resources::NewZone {
        name: "routes".into(),
        cloud_account_id: account.cloud_account_id,
        availability_zone: "us-east-1a".into(),
        network_cidr: None,
    };
    let change = zones::create(
        &app.db,
        &app.actor(member).await,
        tenant_id,
        zone,
        WriteOptions::default(),
    )
    .await
    .unwrap();
    let zone_id = change.zone.unwrap().zone_id;
    // The group's zone is another one (a zone in use cannot be deleted, even in a dry run); no
    // worker runs here, so it is made Ready by hand.
    let group_zone = zones::create(
        &app.db,
        &app.actor(member).await,
        tenant_id,
        app::model::resources::NewZone {
            name: "grouped".into(),
            cloud_account_id: account.cloud_account_id,
            availability_zone: "us-east-1c".into(),
            network_cidr: None,
        },
        WriteOptions::default(),
    )
    .await
    .unwrap()
    .zone
    .unwrap()
    .zone_id;
    sqlx::query("update resource set status = 'ready' where resource_id = $1")
        .bind(group_zone)
        .execute(&app.db)
        .await
        .unwrap();
    let group = app::backend::resources::groups::create(
        &app.db,
        &app.actor(member).await,
        tenant_id,
        group_input("routes", group_zone),
        WriteOptions::default(),
    )
    .await
    .unwrap()
    .group
    .unwrap();
    let instance: Uuid = sqlx::query_scalar(
        "insert into instance (resource_id, tenant_id, availability_zone, launch_token, launch_index, revision, provider_id, state)
         values ($1, $2, 'us-east-1a', $3, 0, 1, $4, 'running') returning instance_row_id",
    )
    .bind(group.group_id)
    .bind(tenant_id)
    .bind(format!("ig{}", Uuid::new_v4().simple()))
    .bind(format!("i-{}", &Uuid::new_v4().simple().to_string()[..17]))
    .fetch_one(&app.db)
    .await
    .unwrap();
    // A database in zones of another account and region (it needs two availability zones,
    // and the zone above must stay free to plan its delete), unprotected so its delete plans
    // rather than refuses. Rows only: no worker runs here.
    let db_account = cloud_accounts::NewCloudAccount {
        name: "routes-db".into(),
        region: "eu-west-1".into(),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: "not-a-real-key".into(),
        endpoint_url: None,
        emulated: false,
    };
    let db_account = cloud_accounts::create(
        &app.db,
        &crate::support::keyring(),
        &Default::default(),
        &app.actor(owner).await,
        tenant_id,
        db_account,
    )
    .await
    .unwrap();
    let mut db_zones = Vec::new();
    for az in ["eu-west-1a", "eu-west-1b"] {
        let new = app::model::resources::NewZone {
            name: format!("db-{}", &az[9..]),
            cloud_account_id: db_account.cloud_account_id,
            availability_zone: az.into(),
            network_cidr: None,
        };
        let made = zones::create(
            &app.db,
            &app.actor(member).await,
            tenant_id,
            new,
            WriteOptions::default(),
        )
        .await
        .unwrap();
        db_zones.push(made.zone.unwrap().zone_id);
    }
    let database = app::model::resources::NewDatabase {
        name: "routes".into(),
        engine: "postgres".into(),
        engine_version: None,
        instance_class: "db.t3.micro".into(),
        storage_gb: 20,
        max_storage_gb: None,
        zone_id: db_zones[0],
        standby_zone_id: None,
        backup_retention_days: None,
        backup_window: None,
        maintenance_window: None,
        deletion_protection: Some(false),
        allowed_groups: Vec::new(),
    };
    let database = databases::create(
        &app.db,
        &crate::support::keyring(),
        &app.actor(member).await,
        tenant_id,
        database,
        WriteOptions::default(),
    )
    .await
    .unwrap();
    (
        account.cloud_account_id,
        zone_id,
        group.group_id,
        group_zone,
        instance,
        database.database.unwrap().database_id,
        db_zones[1],
    )
}

fn group_input(name: &str, zone_id: Uuid) -> app::model::groups::NewGroup {
    app::model::groups::NewGroup {
        name: name.into(),
        zone_ids: vec![zone_id],
        template: app::model::groups::GroupTemplate {
            instance_type: "t3.micro".into(),
            image_id: "ami-12c6146b".into(),
            user_data: None,
            tags: Default::default(),
        },
        min: 0,
        max: 5,
        desired: Some(1),
        policy: Default::default(),
    }
}

fn routes(
    tenant: Uuid,
    member: Uuid,
    invitation: Uuid,
    key: Uuid,
    resources: (Uuid, Uuid, Uuid, Uuid, Uuid, Uuid, Uuid),
) -> Vec<Route> {
    let (account, zone, group, group_zone, instance, database, db_zone) = resources;
    let t = format!("/api/v1/tenants/{tenant}");
    let route = |method, path: String, body, needs, ok| Route {
        method,
        path,
        body,
        needs,
        ok,
    };
    vec![
        route(
            Method::GET,
            "/api/v1/me".into(),
            None,
            Needs::AnyCredential,
            200,
        ),
        route(
            Method::GET,
            "/api/v1/roles".into(),
            None,
            Needs::AnyCredential,
            200,
        ),
        route(
            Method::GET,
            "/api/v1/tenants".into(),
            None,
            Needs::AnyCredential,
            200,
        ),
        route(Method::GET, t.clone(), None, Needs::Role(Role::Viewer), 200),
        route(
            Method::GET,
            format!("{t}/members"),
            None,
            Needs::Role(Role::Viewer),
            200,
        ),
        route(
            Method::PATCH,
            format!("{t}/members/{member}"),
            Some(json!({ "role": "viewer" })),
            Needs::Role(Role::Admin),
            200,
        ),
        route(
            Method::DELETE,
            format!("{t}/members/{member}"),
            None,
            Needs::Role(Role::Admin),
            204,
        ),
        route(
            Method::GET,
            format!("{t}/invitations"),
            None,
            Needs::Role(Role::Admin),
            200,
        ),
        route(
            Method::POST,
            format!("{t}/invitations"),
            Some(
                json!({ "email": format!("new-{}@stratus.test", Uuid::new_v4().simple()), "role": "viewer" }),
            ),
            Needs::Role(Role::Admin),
            201,
        ),
        route(
            Method::DELETE,
            format!("{t}/invitations/{invitation}"),
            None,
            Needs::Role(Role::Admin),
            204,
        ),
        route(
            Method::GET,
            format!("{t}/api-keys"),
            None,
            Needs::Role(Role::Viewer),
            200,
        ),
        route(
            Method::DELETE,
            format!("{t}/api-keys/{key}"),
            None,
            Needs::Role(Role::Admin),
            200,
        ),
        route(
            Method::GET,
            format!("{t}/audit?action=member.removed"),
            None,
            Needs::Role(Role::Admin),
            200,
        ),
        route(
            Method::GET,
            format!("{t}/zones"),
            None,
            Needs::Role(Role::Viewer),
            200,
        ),
        route(
            Method::POST,
            format!("{t}/zones?dry_run=true"),
            Some(
                json!({ "name": "planned", "cloud_account_id": account, "availability_zone": "us-east-1b" }),
            ),
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::GET,
            format!("{t}/zones/{zone}"),
            None,
            Needs::Role(Role::Viewer),
            200,
        ),
        route(
            Method::PATCH,
            format!("{t}/zones/{zone}?dry_run=true"),
            Some(json!({ "name": "renamed" })),
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::DELETE,
            format!("{t}/zones/{zone}?dry_run=true"),
            None,
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::GET,
            format!("{t}/instance-groups"),
            None,
            Needs::Role(Role::Viewer),
            200,
        ),
        route(
            Method::POST,
            format!("{t}/instance-groups?dry_run=true"),
            Some(serde_json::to_value(group_input("planned", group_zone)).unwrap()),
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::GET,
            format!("{t}/instance-groups/{group}"),
            None,
            Needs::Role(Role::Viewer),
            200,
        ),
        route(
            Method::PATCH,
            format!("{t}/instance-groups/{group}?dry_run=true"),
            Some(json!({ "desired": 2 })),
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::DELETE,
            format!("{t}/instance-groups/{group}?dry_run=true"),
            None,
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::GET,
            format!("{t}/instance-groups/{group}/instances"),
            None,
            Needs::Role(Role::Viewer),
            200,
        ),
        route(
            Method::PATCH,
            format!("{t}/instance-groups/{group}/instances/{instance}"),
            Some(json!({ "protected": true })),
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::GET,
            format!("{t}/databases"),
            None,
            Needs::Role(Role::Viewer),
            200,
        ),
        route(
            Method::POST,
            format!("{t}/databases?dry_run=true"),
            Some(
                json!({ "name": "planned", "engine": "postgres", "instance_class": "db.t3.micro", "storage_gb": 20, "zone_id": db_zone }),
            ),
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::GET,
            format!("{t}/databases/{database}"),
            None,
            Needs::Role(Role::Viewer),
            200,
        ),
        route(
            Method::PATCH,
            format!("{t}/databases/{database}?dry_run=true"),
            Some(json!({ "storage_gb": 30 })),
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::DELETE,
            format!("{t}/databases/{database}?dry_run=true"),
            None,
            Needs::Role(Role::Member),
            200,
        ),
        route(
            Method::POST,
            format!("{t}/databases/{database}/rotate-credentials"),
            None,
            Needs::Role(Role::Admin),
            202,
        ),
    ]
}

/// Fresh cloud accounts, jobs and secrets of the tenant, for the automation routes: one of each
/// to read or act on, and one more to delete.
struct CloudTargets {
    account: Uuid,
    doomed_account: Uuid,
    job: i64,
    finished_job: i64,
    secret: Uuid,
    doomed_secret: Uuid,
}

async fn cloud_targets(app: &TestApp, tenant_id: Uuid, owner: Uuid) -> CloudTargets {
    use app::backend::{cloud::accounts, jobs, secrets};
    let owner = app.actor(owner).await;
    let keys = crate::support::keyring();
    let mut accounts_made = Vec::new();
    for _ in 0..2 {
        let new = accounts::NewCloudAccount {
            name: format!("acct-{}", Uuid::new_v4().simple()),
            region: "eu-west-1".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "moto-secret".into(),
            endpoint_url: Some(crate::support::moto_url()),
            emulated: false,
        };
        let made = accounts::create(
            &app.db,
            &keys,
            &crate::support::endpoints(),
            &owner,
            tenant_id,
            new,
        )
        .await
        .unwrap();
        accounts_made.push(made.cloud_account_id);
    }
    let mut jobs_made = Vec::new();
    for _ in 0..2 {
        let mut conn = app.db.acquire().await.unwrap();
        let job = jobs::enqueue(
            &mut conn,
            jobs::NewJob::new("test.later")
                .tenant(tenant_id)
                .run_at(time::OffsetDateTime::now_utc() + time::Duration::hours(1)),
        )
        .await
        .unwrap();
        jobs_made.push(job.job_id);
    }
    // The second is cancelled, so it can be retried.
    jobs::cancel_tenant_job(&app.db, &owner, tenant_id, jobs_made[1])
        .await
        .unwrap();
    let mut secrets_made = Vec::new();
    for _ in 0..2 {
        let name = format!("s-{}", Uuid::new_v4().simple());
        secrets_made.push(
            secrets::create_secret(&app.db, &keys, &owner, tenant_id, &name, "value".into())
                .await
                .unwrap(),
        );
    }
    CloudTargets {
        account: accounts_made[0],
        doomed_account: accounts_made[1],
        job: jobs_made[0],
        finished_job: jobs_made[1],
        secret: secrets_made[0],
        doomed_secret: secrets_made[1],
    }
}

/// Cloud accounts, jobs and secrets for automation.
fn cloud_routes(tenant: Uuid, c: &CloudTargets) -> Vec<Route> {
    let t = format!("/api/v1/tenants/{tenant}");
    let route = |method, path: String, body, min, ok| Route {
        method,
        path,
        body,
        needs: Needs::Role(min),
        ok,
    };
    let new_account = json!({
        "name": format!("api-{}", Uuid::new_v4().simple()),
        "region": "eu-west-1",
        "access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "secret_access_key": "moto-secret",
        "endpoint_url": crate::support::moto_url(),
    });
    let new_secret = json!({ "name": format!("api-{}", Uuid::new_v4().simple()), "value": "v" });
    vec![
        route(
            Method::GET,
            format!("{t}/cloud-accounts"),
            None,
            Role::Viewer,
            200,
        ),
        route(
            Method::POST,
            format!("{t}/cloud-accounts"),
            Some(new_account),
            Role::Admin,
            201,
        ),
        route(
            Method::POST,
            format!("{t}/cloud-accounts/{}/test", c.account),
            None,
            Role::Admin,
            200,
        ),
        route(
            Method::POST,
            format!("{t}/cloud-accounts/{}/survey", c.account),
            None,
            Role::Admin,
            202,
        ),
        route(
            Method::DELETE,
            format!("{t}/cloud-accounts/{}", c.doomed_account),
            None,
            Role::Admin,
            204,
        ),
        route(Method::GET, format!("{t}/jobs"), None, Role::Viewer, 200),
        route(
            Method::GET,
            format!("{t}/jobs/{}", c.job),
            None,
            Role::Viewer,
            200,
        ),
        route(
            Method::GET,
            format!("{t}/jobs/{}/events", c.job),
            None,
            Role::Viewer,
            200,
        ),
        route(
            Method::POST,
            format!("{t}/jobs/{}/cancel", c.job),
            None,
            Role::Member,
            200,
        ),
        route(
            Method::POST,
            format!("{t}/jobs/{}/retry", c.finished_job),
            None,
            Role::Member,
            204,
        ),
        route(Method::GET, format!("{t}/secrets"), None, Role::Admin, 200),
        route(
            Method::POST,
            format!("{t}/secrets"),
            Some(new_secret),
            Role::Admin,
            201,
        ),
        route(
            Method::PUT,
            format!("{t}/secrets/{}", c.secret),
            Some(json!({ "value": "w" })),
            Role::Admin,
            200,
        ),
        route(
            Method::DELETE,
            format!("{t}/secrets/{}", c.doomed_secret),
            None,
            Role::Admin,
            204,
        ),
    ]
}

/// Route templates as the OpenAPI document names them, to check the matrix covers every route.
fn template(path: &str) -> String {
    let path = path.split('?').next().unwrap();
    path.split('/')
        .map(|seg| {
            if Uuid::parse_str(seg).is_ok() || (!seg.is_empty() && seg.parse::<i64>().is_ok()) {
                "{}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_route_for_every_role_in_own_and_foreign_tenants_with_keys_and_tokens() {
    let app = TestApp::spawn().await;
    let own = app.tenant_with_roles("own").await;
    let foreign = app.tenant_with_roles("foreign").await;
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut covered = std::collections::BTreeSet::new();
    let own_resources = resource_targets(&app, own.tenant_id, own.user(Role::Member)).await;
    let foreign_resources =
        resource_targets(&app, foreign.tenant_id, foreign.user(Role::Member)).await;
    for role in Role::ALL {
        let key = app.api_key(own.user(role), own.tenant_id, role).await;
        let jwt = exchange(&app, &key).await.body["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        for (kind, credential) in [("key", &key), ("token", &jwt)] {
            for (tenant, is_own) in [(&own, true), (&foreign, false)] {
                let (member, invitation, other_key) =
                    targets(&app, tenant.tenant_id, tenant.user(Role::Owner)).await;
                let resources = if is_own {
                    own_resources
                } else {
                    foreign_resources
                };
                let cloud = cloud_targets(&app, tenant.tenant_id, tenant.user(Role::Owner)).await;
                let routes = routes(tenant.tenant_id, member, invitation, other_key, resources)
                    .into_iter()
                    .chain(cloud_routes(tenant.tenant_id, &cloud));
                for route in routes {
                    let expected = match route.needs {
                        Needs::AnyCredential => route.ok,
                        Needs::Role(_) if !is_own => 404,
                        Needs::Role(min) if role >= min => route.ok,
                        Needs::Role(_) => 403,
                    };
                    if matches!(route.needs, Needs::AnyCredential) && !is_own {
                        continue; // nothing tenant-specific to vary
                    }
                    covered.insert((route.method.to_string(), template(&route.path)));
                    let answer = call(
                        &app,
                        route.method.clone(),
                        &route.path,
                        Some(credential),
                        route.body.clone(),
                    )
                    .await;
                    checked += 1;
                    if answer.status != expected {
                        failures.push(format!(
                            "{role:?} {kind} {} {} ({}): expected {expected}, got {} {}",
                            route.method,
                            route.path,
                            if is_own { "own" } else { "foreign" },
                            answer.status,
                            answer.body
                        ));
                    } else if expected >= 400 && answer.content_type != "application/problem+json" {
                        failures.push(format!(
                            "{} {}: not a problem document",
                            route.method, route.path
                        ));
                    }
                }
            }
        }
        // No credential: every protected route is 401.
        let (member, invitation, other_key) =
            targets(&app, own.tenant_id, own.user(Role::Owner)).await;
        let cloud = cloud_targets(&app, own.tenant_id, own.user(Role::Owner)).await;
        let routes = routes(own.tenant_id, member, invitation, other_key, own_resources)
            .into_iter()
            .chain(cloud_routes(own.tenant_id, &cloud));
        for route in routes {
            let answer = call(
                &app,
                route.method.clone(),
                &route.path,
                None,
                route.body.clone(),
            )
            .await;
            checked += 1;
            if answer.status != 401 {
                failures.push(format!(
                    "anonymous {} {}: got {}",
                    route.method, route.path, answer.status
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Every protected operation in the OpenAPI document is in the matrix.
    let doc = call(&app, Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .body;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").is_none() {
                continue;
            }
            let route = (
                method.to_uppercase(),
                path.split('/')
                    .map(|s| if s.starts_with('{') { "{}" } else { s })
                    .collect::<Vec<_>>()
                    .join("/"),
            );
            assert!(covered.contains(&route), "{route:?} is not in the matrix");
        }
    }
}

#[tokio::test]
async fn lists_page_with_cursors_and_bad_input_gets_problems() {
    let app = TestApp::spawn().await;
    let t = app.tenant_with_roles("delta").await;
    let key = app
        .api_key(t.user(Role::Owner), t.tenant_id, Role::Owner)
        .await;
    let base = format!("/api/v1/tenants/{}/members", t.tenant_id);
    let mut seen = Vec::new();
    let mut path = format!("{base}?limit=3");
    loop {
        let page = get(&app, &path, &key).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        let items = page.body["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(
            items
                .iter()
                .map(|m| m["email"].as_str().unwrap().to_string()),
        );
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("{base}?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "ordered, no repeats");
    assert_eq!(seen.len(), 4, "every member once");

    for (path, status) in [
        (format!("{base}?limit=0"), 422),
        (format!("{base}?limit=lots"), 400),
        (format!("{base}?cursor=%%%"), 422),
        ("/api/v1/tenants/not-a-uuid".to_string(), 400),
        ("/api/v1/nothing-here".to_string(), 404),
    ] {
        let answer = get(&app, &path, &key).await;
        assert_eq!(answer.status, status, "{path}: {:?}", answer.body);
        assert_eq!(answer.content_type, "application/problem+json", "{path}");
        assert!(answer.body["type"]
            .as_str()
            .unwrap()
            .starts_with("/problems/"));
    }
    let bad_role = call(
        &app,
        Method::POST,
        &format!("/api/v1/tenants/{}/invitations", t.tenant_id),
        Some(&key),
        Some(json!({ "email": "x@y.test", "role": "emperor" })),
    )
    .await;
    assert_eq!(bad_role.status, 422);
    let bad_email = call(
        &app,
        Method::POST,
        &format!("/api/v1/tenants/{}/invitations", t.tenant_id),
        Some(&key),
        Some(json!({ "email": "nobody", "role": "viewer" })),
    )
    .await;
    assert_eq!(bad_email.status, 422);
    assert_eq!(bad_email.body["errors"][0]["field"], "email");
    let wrong_method = call(&app, Method::PUT, "/api/v1/me", Some(&key), None).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.content_type, "application/problem+json");
}

#[tokio::test]
async fn the_openapi_document_and_reference_page_are_served() {
    let app = TestApp::spawn().await;
    let doc = call(&app, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    assert!(doc.body["paths"]["/api/v1/tenants/{tenant_id}/members"]["get"].is_object());
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
    let page = reqwest::get(format!("{}/api/v1/docs", app.url))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("/api/v1/auth/token") && html.contains("Page_Member")
            || html.contains("Member")
    );
}
