//! Secrets and cloud accounts: envelope encryption, tampering, rotation, reveal, moto.

use crate::support::{keyring, moto_url, Client, TestApp, PASSWORD, TEST_KEYS};
use app::backend::secrets::{self, Keyring};
use app::error::AppError;
use secrecy::ExposeSecret;
use std::time::Duration;
use uuid::Uuid;

const VALUE: &str = "plaintext-Zq8v-do-not-store-me";

async fn owner(app: &TestApp, slug: &str) -> (Client, Uuid) {
    let fixture = app.tenant_with_roles(slug).await;
    let client = app.client();
    client
        .sign_in(&format!("owner@{slug}.test"), PASSWORD)
        .await;
    (client, fixture.tenant_id)
}

async fn secret_id(app: &TestApp, tenant_id: Uuid, name: &str) -> Uuid {
    sqlx::query_scalar("select secret_id from secret where tenant_id = $1 and name = $2")
        .bind(tenant_id)
        .bind(name)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Every row of every table, as text: the secret's plaintext must be in none of them.
async fn database_contains(app: &TestApp, needle: &str) -> bool {
    let tables: Vec<String> = sqlx::query_scalar(
        "select format('%I.%I', table_schema, table_name) from information_schema.tables
         where table_schema in ('public', 'tower_sessions') and table_type = 'BASE TABLE'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("select t::text from {table} t"))
            .fetch_all(&app.db)
            .await
            .unwrap();
        if rows.iter().any(|r| r.contains(needle)) {
            return true;
        }
        let bytes: Vec<Vec<u8>> = sqlx::query_scalar(&format!(
            "select convert_to(t::text, 'UTF8') from {table} t"
        ))
        .fetch_all(&app.db)
        .await
        .unwrap();
        if bytes
            .iter()
            .any(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn secrets_are_write_only_and_reveal_needs_a_fresh_password() {
    let app = TestApp::spawn().await;
    let (owner, tenant_id) = owner(&app, "acme").await;
    let created = owner
        .rpc(
            "create_secret",
            &[("name", "ci/deploy-token"), ("value", VALUE)],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let list = owner.rpc("get_secrets", &[]).await;
    assert!(
        list.body.contains("ci/deploy-token") && !list.body.contains(VALUE),
        "{}",
        list.body
    );
    assert!(
        !database_contains(&app, VALUE).await,
        "the plaintext is stored somewhere"
    );

    let id = secret_id(&app, tenant_id, "ci/deploy-token")
        .await
        .to_string();
    let refused = owner.rpc("reveal_secret", &[("secret_id", &id)]).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("ReauthRequired"), "{}", refused.body);
    assert_eq!(
        owner
            .rpc("reauthenticate", &[("password", "not my password")])
            .await
            .status,
        422
    );
    assert_eq!(
        owner
            .rpc("reauthenticate", &[("password", PASSWORD)])
            .await
            .status,
        200
    );
    let revealed = owner.rpc("reveal_secret", &[("secret_id", &id)]).await;
    assert_eq!(revealed.status, 200, "{}", revealed.body);
    assert_eq!(revealed.json(), VALUE);
    assert_eq!(revealed.headers["cache-control"], "no-store");

    for role in ["member", "viewer"] {
        let client = app.client();
        client.sign_in(&format!("{role}@acme.test"), PASSWORD).await;
        client
            .rpc("reauthenticate", &[("password", PASSWORD)])
            .await;
        assert_eq!(
            client
                .rpc("reveal_secret", &[("secret_id", &id)])
                .await
                .status,
            403,
            "{role}"
        );
        assert_eq!(client.rpc("get_secrets", &[]).await.status, 403, "{role}");
    }
    // Another tenant's secret is not found, even for an owner who re-authenticated.
    let (other, _) = self::owner(&app, "globex").await;
    other.rpc("reauthenticate", &[("password", PASSWORD)]).await;
    assert_eq!(
        other
            .rpc("reveal_secret", &[("secret_id", &id)])
            .await
            .status,
        404
    );

    let audit: Vec<String> =
        sqlx::query_scalar("select action from audit_event where tenant_id = $1 and action like 'secret.%' order by audit_id")
            .bind(tenant_id)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(audit, ["secret.created", "secret.revealed"]);
    let tamper = sqlx::query("delete from audit_event")
        .execute(&app.db)
        .await;
    assert!(tamper.unwrap_err().to_string().contains("append-only"));
}

#[tokio::test]
async fn tampered_moved_or_unkeyed_ciphertexts_fail_clearly_and_nothing_else_breaks() {
    let app = TestApp::spawn().await;
    let keys = keyring();
    let a = app.tenant_with_roles("alpha").await;
    let b = app.tenant_with_roles("beta").await;
    let owner_a = app.actor(a.user(app::model::Role::Owner)).await;
    let owner_b = app.actor(b.user(app::model::Role::Owner)).await;
    let good = secrets::create_secret(&app.db, &keys, &owner_a, a.tenant_id, "good", VALUE.into())
        .await
        .unwrap();
    let flipped = secrets::create_secret(
        &app.db,
        &keys,
        &owner_a,
        a.tenant_id,
        "flipped",
        VALUE.into(),
    )
    .await
    .unwrap();
    let victim = secrets::create_secret(
        &app.db,
        &keys,
        &owner_b,
        b.tenant_id,
        "victim",
        "beta's own".into(),
    )
    .await
    .unwrap();
    let unkeyed = secrets::create_secret(
        &app.db,
        &keys,
        &owner_a,
        a.tenant_id,
        "unkeyed",
        VALUE.into(),
    )
    .await
    .unwrap();

    sqlx::query("update secret set ciphertext = set_byte(ciphertext, 0, get_byte(ciphertext, 0) # 1) where secret_id = $1")
        .bind(flipped)
        .execute(&app.db)
        .await
        .unwrap();
    // Copy alpha's ciphertext into beta's row.
    sqlx::query(
        "update secret v set kek_id = s.kek_id, dek_nonce = s.dek_nonce, wrapped_dek = s.wrapped_dek, nonce = s.nonce, ciphertext = s.ciphertext
         from secret s where s.secret_id = $1 and v.secret_id = $2",
    )
    .bind(good)
    .bind(victim)
    .execute(&app.db)
    .await
    .unwrap();
    sqlx::query("update secret set kek_id = 'retired-key' where secret_id = $1")
        .bind(unkeyed)
        .execute(&app.db)
        .await
        .unwrap();

    let read = |tenant, id| {
        let db = app.db.clone();
        let keys = keyring();
        async move {
            secrets::read(&db, &keys, tenant, id)
                .await
                .map(|v| v.expose_secret().to_string())
        }
    };
    assert_eq!(read(a.tenant_id, good).await.unwrap(), VALUE);
    let e = read(a.tenant_id, flipped).await.unwrap_err();
    assert!(
        matches!(&e, AppError::Undecryptable(m) if m.contains("\"flipped\"") && m.contains("altered")),
        "{e:?}"
    );
    let e = read(b.tenant_id, victim).await.unwrap_err();
    assert!(
        matches!(&e, AppError::Undecryptable(m) if m.contains("another tenant")),
        "{e:?}"
    );
    let e = read(a.tenant_id, unkeyed).await.unwrap_err();
    assert!(
        matches!(&e, AppError::Undecryptable(m) if m.contains("retired-key")),
        "{e:?}"
    );

    // Through HTTP: a clear problem for the broken one, the rest of the service unaffected.
    let owner = app.client();
    owner.sign_in("owner@alpha.test", PASSWORD).await;
    owner.rpc("reauthenticate", &[("password", PASSWORD)]).await;
    let broken = owner
        .rpc("reveal_secret", &[("secret_id", &flipped.to_string())])
        .await;
    assert_eq!(broken.status, 500);
    assert!(
        broken.body.contains("cannot be decrypted"),
        "{}",
        broken.body
    );
    assert_eq!(
        owner
            .rpc("reveal_secret", &[("secret_id", &good.to_string())])
            .await
            .json(),
        VALUE
    );
    assert_eq!(owner.get("/").await.status, 200);
}

#[tokio::test]
async fn rotation_rewraps_everything_so_the_old_key_can_go() {
    let app = TestApp::spawn().await;
    let fixture = app.tenant_with_roles("acme").await;
    let owner = app.actor(fixture.user(app::model::Role::Owner)).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            secrets::create_secret(
                &app.db,
                &keyring(),
                &owner,
                fixture.tenant_id,
                &format!("s{i}"),
                format!("value {i}").into(),
            )
            .await
            .unwrap(),
        );
    }
    // The operator puts a new key first and runs `stratus keys rotate`.
    let new_key = Keyring::generate_line("test2");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["keys", "rotate"])
        .env("DATABASE_URL", &app.database_url)
        .env("STRATUS_MASTER_KEYS", format!("{new_key},{TEST_KEYS}"))
        .env("STRATUS_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("re-wrapped 5 secrets"), "{stdout}");
    let kek_ids: Vec<String> = sqlx::query_scalar("select distinct kek_id from secret")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(kek_ids, ["test2"]);

    // Then removes the old key: everything still reads.
    let only_new = Keyring::parse(&new_key, "test").unwrap();
    for (i, id) in ids.iter().enumerate() {
        let value = secrets::read(&app.db, &only_new, fixture.tenant_id, *id)
            .await
            .unwrap();
        assert_eq!(value.expose_secret(), format!("value {i}"));
    }
    assert!(
        secrets::read(&app.db, &keyring(), fixture.tenant_id, ids[0])
            .await
            .is_err(),
        "the old key alone no longer opens them"
    );
}

#[tokio::test]
async fn malformed_keys_stop_startup_naming_the_variable() {
    let app = TestApp::spawn().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["serve"])
        .env("DATABASE_URL", &app.database_url)
        .env("STRATUS_ADDR", "127.0.0.1:0")
        .env("STRATUS_MASTER_KEYS", "k1:this-is-not-base64!")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("STRATUS_MASTER_KEYS") && stderr.contains("base64"),
        "{stderr}"
    );
}

#[tokio::test]
async fn cloud_accounts_test_their_connection_against_moto_and_report_failures_verbatim() {
    // A port nobody listens on, allowed by the operator (loopback is refused otherwise).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = TestApp::spawn_with(|settings| {
        settings.allowed_endpoints.push(closed.to_string());
    })
    .await;
    let (owner, tenant_id) = owner(&app, "acme").await;
    let secret_key = "moto-secret-access-key-XYZ123";
    let created = owner
        .rpc(
            "create_cloud_account",
            &[
                ("name", "Moto"),
                ("region", "eu-west-1"),
                ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                ("secret_access_key", secret_key),
                ("endpoint_url", &moto_url()),
            ],
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    assert!(!created.body.contains(secret_key));
    let id = created.json()["cloud_account_id"]
        .as_str()
        .unwrap()
        .to_string();
    let tested = owner
        .rpc("test_cloud_account", &[("cloud_account_id", &id)])
        .await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    let zones: Vec<String> = serde_json::from_value(tested.json()["zones"].clone()).unwrap();
    assert!(zones.contains(&"eu-west-1a".to_string()), "{zones:?}");
    assert!(!database_contains(&app, secret_key).await);

    // Members see accounts but neither test (the endpoint is tenant-chosen) nor change them.
    let member = app.client();
    member.sign_in("member@acme.test", PASSWORD).await;
    assert_eq!(member.rpc("get_cloud_accounts", &[]).await.status, 200);
    assert_eq!(
        member
            .rpc("test_cloud_account", &[("cloud_account_id", &id)])
            .await
            .status,
        403
    );
    assert_eq!(
        member
            .rpc("delete_cloud_account", &[("cloud_account_id", &id)])
            .await
            .status,
        403
    );
    // Its credentials are a secret that cannot be revealed or replaced as a plain secret.
    owner.rpc("reauthenticate", &[("password", PASSWORD)]).await;
    let credentials: Uuid =
        sqlx::query_scalar("select secret_id from cloud_account where cloud_account_id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        owner
            .rpc("reveal_secret", &[("secret_id", &credentials.to_string())])
            .await
            .status,
        403
    );
    assert_eq!(
        owner
            .rpc(
                "update_secret",
                &[("secret_id", &credentials.to_string()), ("value", "x")]
            )
            .await
            .status,
        404
    );

    // Bad input is explained per field.
    let bad = owner
        .rpc(
            "create_cloud_account",
            &[
                ("name", ""),
                ("region", "mars"),
                ("access_key_id", "short"),
                ("secret_access_key", ""),
                ("endpoint_url", "ftp://x"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    for field in [
        "name",
        "region",
        "access_key_id",
        "secret_access_key",
        "endpoint_url",
    ] {
        assert!(
            bad.body.contains(&format!("\"{field}\"")),
            "{field}: {}",
            bad.body
        );
    }

    // An allowed endpoint nobody listens on: a clear provider error, quickly.
    let unreachable = owner
        .rpc(
            "create_cloud_account",
            &[
                ("name", "Nowhere"),
                ("region", "eu-west-1"),
                ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                ("secret_access_key", "x"),
                ("endpoint_url", &format!("http://{closed}")),
            ],
        )
        .await;
    let nowhere = unreachable.json()["cloud_account_id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = tokio::time::timeout(
        Duration::from_secs(60),
        owner.rpc("test_cloud_account", &[("cloud_account_id", &nowhere)]),
    )
    .await
    .expect("test connection must not hang");
    assert_eq!(failed.status, 502, "{}", failed.body);
    assert!(
        failed.body.contains("Connection refused") || failed.body.contains("connect"),
        "{}",
        failed.body
    );

    // A wrong region name reaches the user in the provider's own words.
    sqlx::query(
        "update cloud_account set region = 'xx-nowhere-9' where cloud_account_id = $1::uuid",
    )
    .bind(&id)
    .execute(&app.db)
    .await
    .unwrap();
    let wrong = owner
        .rpc("test_cloud_account", &[("cloud_account_id", &id)])
        .await;
    assert!(wrong.status == 200 || wrong.status == 502, "{}", wrong.body);
    let _ = tenant_id;
}

#[tokio::test]
async fn secret_values_never_reach_the_logs() {
    let app = TestApp::spawn().await;
    let fixture = app.tenant_with_roles("acme").await;
    let _ = fixture;
    // A second server process on the same database, logging at debug level.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_stratus"))
        .args(["serve"])
        .env("DATABASE_URL", &app.database_url)
        .env("STRATUS_ADDR", format!("127.0.0.1:{port}"))
        .env("STRATUS_MASTER_KEYS", TEST_KEYS)
        .env("STRATUS_LOG", "debug")
        .env("STRATUS_LOG_FORMAT", "json")
        .env("STRATUS_WORKER_CONCURRENCY", "0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Drain the pipes as the server writes: a full pipe would block its logging, and with it
    // the server.
    let drain = |pipe: Option<Box<dyn tokio::io::AsyncRead + Send + Unpin>>| {
        tokio::spawn(async move {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut pipe, &mut bytes).await;
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let base = format!("http://127.0.0.1:{port}");
    let client = Client {
        base: base.clone(),
        http: reqwest::Client::new(),
        cookie: Default::default(),
    };
    crate::support::wait_until("the second server", Duration::from_secs(30), || async {
        reqwest::get(format!("{base}/healthz")).await.is_ok()
    })
    .await;
    client.sign_in("owner@acme.test", PASSWORD).await;
    client
        .rpc("create_secret", &[("name", "logged"), ("value", VALUE)])
        .await;
    client
        .rpc("reauthenticate", &[("password", PASSWORD)])
        .await;
    let id = sqlx::query_scalar::<_, Uuid>("select secret_id from secret where name = 'logged'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        client
            .rpc("reveal_secret", &[("secret_id", &id.to_string())])
            .await
            .json(),
        VALUE
    );
    client
        .rpc("create_secret", &[("name", "bad name!"), ("value", VALUE)])
        .await;
    client
        .rpc(
            "create_cloud_account",
            &[
                ("name", "Logged"),
                ("region", "eu-west-1"),
                ("access_key_id", "AKIAIOSFODNN7EXAMPLE"),
                ("secret_access_key", VALUE),
                ("endpoint_url", "http://127.0.0.1:9"),
            ],
        )
        .await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&stdout.await.unwrap()),
        String::from_utf8_lossy(&stderr.await.unwrap())
    );
    assert!(
        logs.contains("signed in"),
        "the capture holds the server's logs"
    );
    assert!(!logs.contains(VALUE), "a secret value was logged");
    assert!(!logs.contains(PASSWORD), "a password was logged");
}
