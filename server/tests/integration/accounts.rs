//! Account security: TOTP enrolment and sign-in, single-use codes, recovery codes, forced
//! enrolment of platform admins, re-authentication, sessions, password change, rate limits.

use crate::support::{keyring, Authenticator, Client, TestApp, PASSWORD, TEST_KEYS};

const OWNER: &str = "owner@acme.test";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/// A tenant whose owner is signed in (no MFA yet).
async fn owner(app: &TestApp) -> Client {
    app.tenant_with_roles("acme").await;
    let client = app.client();
    let reply = client.sign_in(OWNER, PASSWORD).await;
    assert_eq!(reply.json(), "signed_in");
    client
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("select count(*) from audit_event where action = $1")
        .bind(action)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

fn problem_type(reply: &crate::support::Reply) -> String {
    reply.json()["type"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A code that is certainly wrong now: the one for a step well outside the skew window.
fn stale_code(authenticator: &Authenticator) -> String {
    authenticator.code_at(Authenticator::now_step() - 10)
}

#[tokio::test]
async fn totp_enrolment_then_sign_in_needs_the_code() {
    let app = TestApp::spawn().await;
    let client = owner(&app).await;
    let (authenticator, codes) = client.enrol_mfa(PASSWORD).await;
    assert_eq!(codes.len(), 10);
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10, "recovery codes are distinct");
    assert_eq!(audit_count(&app, "mfa.enabled").await, 1);
    let account = client.rpc("get_account", &[]).await.json();
    assert!(account["mfa_enabled_at"].is_string());
    assert_eq!(account["recovery_codes_left"], 10);

    // The seed is stored encrypted, and only digests of the recovery codes are kept.
    let (ciphertext, kek): (Vec<u8>, String) =
        sqlx::query_as("select ciphertext, kek_id from user_totp")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(kek, "test1");
    let seed = authenticator.seed();
    assert!(!ciphertext.windows(seed.len()).any(|w| w == seed));
    let plain: i64 = sqlx::query_scalar(
        "select count(*) from recovery_code r
         where r::text ilike '%' || $1 || '%' or encode(r.code_sha256, 'hex') = encode(sha256($2::bytea), 'hex')",
    )
    .bind(&codes[0][..5])
    .bind(codes[0].replace('-', "").into_bytes())
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        plain, 0,
        "neither the code nor its unsalted digest is stored"
    );

    // Signing in again: the password only half signs in.
    client.rpc("sign_out", &[]).await;
    let first = client.sign_in(OWNER, PASSWORD).await;
    assert_eq!(first.json(), "second_factor");
    assert_eq!(first.headers["location"], "/login/mfa");
    let page = client.get("/").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.headers["location"], "/login");
    assert_eq!(client.get("/login/mfa").await.status, 200);
    assert_eq!(client.rpc("get_account", &[]).await.status, 401);
    assert_eq!(
        client.rpc("get_session_info", &[]).await.json(),
        serde_json::Value::Null
    );

    let wrong = client
        .rpc(
            "verify_second_factor",
            &[("code", &stale_code(&authenticator))],
        )
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("not valid"), "{}", wrong.body);
    let code = authenticator.next_code().await;
    let second = client.rpc("verify_second_factor", &[("code", &code)]).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.json(), "signed_in");
    assert_eq!(client.get("/").await.status, 200);
    assert_eq!(audit_count(&app, "user.signed_in").await, 2);

    // Without a pending sign-in there is nothing to complete.
    let stray = app
        .client()
        .rpc("verify_second_factor", &[("code", "123456")])
        .await;
    assert_eq!(stray.status, 410, "{}", stray.body);
}

#[tokio::test]
async fn a_totp_code_is_refused_the_second_time() {
    let app = TestApp::spawn().await;
    let enrolled = owner(&app).await;
    let (authenticator, _) = enrolled.enrol_mfa(PASSWORD).await;

    let code = authenticator.next_code().await;
    let a = app.client();
    a.sign_in(OWNER, PASSWORD).await;
    let ok = a.rpc("verify_second_factor", &[("code", &code)]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    let b = app.client();
    b.sign_in(OWNER, PASSWORD).await;
    let replay = b.rpc("verify_second_factor", &[("code", &code)]).await;
    assert_eq!(replay.status, 422, "{}", replay.body);
    assert!(replay.body.contains("already been used"), "{}", replay.body);
    // The code of an earlier step (still within the skew window) is refused as well.
    let used_step: i64 = sqlx::query_scalar("select last_used_step from user_totp")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let earlier = authenticator.code_at(used_step as u64 - 1);
    let older = b.rpc("verify_second_factor", &[("code", &earlier)]).await;
    assert_eq!(older.status, 422, "{}", older.body);
    assert_eq!(b.get("/").await.status, 303, "still half signed in");
    let fresh = authenticator.next_code().await;
    let ok = b.rpc("verify_second_factor", &[("code", &fresh)]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
}

#[tokio::test]
async fn a_recovery_code_works_once() {
    let app = TestApp::spawn().await;
    let enrolled = owner(&app).await;
    let (_, codes) = enrolled.enrol_mfa(PASSWORD).await;

    let a = app.client();
    a.sign_in(OWNER, PASSWORD).await;
    // Typed in capitals with spaces: still the same code.
    let typed = format!(" {} ", codes[3].to_uppercase());
    let ok = a.rpc("verify_second_factor", &[("code", &typed)]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(a.get("/").await.status, 200);
    assert_eq!(audit_count(&app, "mfa.recovery_code_used").await, 1);
    assert_eq!(
        a.rpc("get_account", &[]).await.json()["recovery_codes_left"],
        9
    );

    let b = app.client();
    b.sign_in(OWNER, PASSWORD).await;
    let again = b.rpc("verify_second_factor", &[("code", &codes[3])]).await;
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(again.body.contains("already used"), "{}", again.body);
    let other = b.rpc("verify_second_factor", &[("code", &codes[4])]).await;
    assert_eq!(other.status, 200, "{}", other.body);
}

#[tokio::test]
async fn a_platform_admin_must_enrol_before_anything_else() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let reply = client.sign_in(&app.admin_email, &app.admin_password).await;
    assert_eq!(reply.json(), "enrol_mfa");
    assert_eq!(reply.headers["location"], "/account/mfa");
    for path in ["/", "/admin", "/account", "/secrets"] {
        let page = client.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.headers["location"], "/account/mfa", "{path}");
    }
    assert_eq!(client.get("/account/mfa").await.status, 200);
    for rpc in ["admin_list_tenants", "get_session_info", "get_account"] {
        let refused = client.rpc(rpc, &[]).await;
        assert_eq!(refused.status, 403, "{rpc}");
        assert_eq!(problem_type(&refused), "/problems/mfa-enrolment-required");
    }

    let (authenticator, _) = client.enrol_mfa(&app.admin_password).await;
    assert_eq!(client.get("/").await.status, 200);
    assert_eq!(client.rpc("admin_list_tenants", &[]).await.status, 200);

    // Next time the admin signs in with the code, and straight into the portal.
    let again = app.client();
    again
        .sign_in_with_totp(&app.admin_email, &app.admin_password, &authenticator)
        .await;
    assert_eq!(again.get("/admin").await.status, 200);
}

#[tokio::test]
async fn reauthentication_needs_a_code_when_mfa_is_on() {
    let app = TestApp::spawn().await;
    let client = owner(&app).await;
    let (authenticator, _) = client.enrol_mfa(PASSWORD).await;

    // Turning MFA off needs a fresh re-authentication...
    let refused = client.rpc("disable_mfa", &[]).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("ReauthRequired"), "{}", refused.body);
    // ... which needs the code as well as the password.
    let no_code = client
        .rpc("reauthenticate", &[("password", PASSWORD)])
        .await;
    assert_eq!(no_code.status, 422, "{}", no_code.body);
    assert!(no_code.body.contains("\"code\""), "{}", no_code.body);
    let wrong_code = client
        .rpc(
            "reauthenticate",
            &[
                ("password", PASSWORD),
                ("code", &stale_code(&authenticator)),
            ],
        )
        .await;
    assert_eq!(wrong_code.status, 422, "{}", wrong_code.body);
    let wrong_password = client
        .rpc(
            "reauthenticate",
            &[("password", "not my password at all"), ("code", "123456")],
        )
        .await;
    assert_eq!(wrong_password.status, 422, "{}", wrong_password.body);
    assert!(wrong_password.body.contains("\"password\""));
    assert_eq!(client.rpc("disable_mfa", &[]).await.status, 403);

    let code = authenticator.next_code().await;
    let ok = client
        .rpc("reauthenticate", &[("password", PASSWORD), ("code", &code)])
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let codes = client.rpc("regenerate_recovery_codes", &[]).await;
    assert_eq!(codes.status, 200, "{}", codes.body);
    assert_eq!(codes.headers["cache-control"], "no-store");
    assert_eq!(codes.json().as_array().unwrap().len(), 10);
    let off = client.rpc("disable_mfa", &[]).await;
    assert_eq!(off.status, 200, "{}", off.body);
    assert_eq!(audit_count(&app, "mfa.disabled").await, 1);

    // Without MFA the password alone re-authenticates again.
    let ok = client
        .rpc("reauthenticate", &[("password", PASSWORD)])
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let next = client.sign_in(OWNER, PASSWORD).await;
    assert_eq!(next.json(), "signed_in");
}

async fn sign_in(client: &Client, user_agent: &str) {
    let form = [("email", OWNER), ("password", PASSWORD)];
    let reply = client
        .rpc_with("sign_in", &form, &[("user-agent", user_agent)])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn sessions_are_listed_and_a_revoked_one_ends() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("acme").await;
    let firefox = app.client();
    sign_in(&firefox, FIREFOX).await;
    let chrome = app.client();
    sign_in(&chrome, CHROME).await;
    assert_eq!(chrome.get("/").await.status, 200);

    let list = firefox.rpc("get_sessions", &[]).await.json();
    let sessions = list.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{list}");
    let mine = sessions.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(mine["browser"], "Firefox on Linux");
    assert_eq!(mine["ip"], "127.0.0.1");
    let other = sessions.iter().find(|s| s["current"] == false).unwrap();
    assert_eq!(other["browser"], "Chrome on Windows");

    // Someone else cannot end it: another user's session id is not found.
    let viewer = app.client();
    viewer.sign_in("viewer@acme.test", PASSWORD).await;
    let id = other["session_id"].as_str().unwrap();
    let foreign = viewer.rpc("revoke_session", &[("session_id", id)]).await;
    assert_eq!(foreign.status, 404);
    assert_eq!(chrome.get("/").await.status, 200);

    let revoked = firefox.rpc("revoke_session", &[("session_id", id)]).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let page = chrome.get("/").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.headers["location"], "/login");
    assert_eq!(firefox.get("/").await.status, 200);
    assert_eq!(audit_count(&app, "session.revoked").await, 1);
    // Its tower-sessions record is gone too: the owner has one session left, the viewer one.
    let records: i64 = sqlx::query_scalar("select count(*) from tower_sessions.session")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(records, 2);
    assert_eq!(
        firefox
            .rpc("get_sessions", &[])
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_only() {
    let app = TestApp::spawn().await;
    let here = owner(&app).await;
    let elsewhere = app.client();
    elsewhere.sign_in(OWNER, PASSWORD).await;
    let new_password = "a brand new passphrase for ann";

    let wrong = here
        .rpc(
            "change_password",
            &[
                ("current_password", "not the password"),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("current_password"), "{}", wrong.body);
    let weak = here
        .rpc(
            "change_password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "password1234"),
            ],
        )
        .await;
    assert_eq!(weak.status, 422);
    assert!(weak.body.contains("most common"), "{}", weak.body);

    let changed = here
        .rpc(
            "change_password",
            &[
                ("current_password", PASSWORD),
                ("new_password", new_password),
            ],
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json(), 1, "one other session ended");
    assert_eq!(here.get("/").await.status, 200, "this session stays");
    assert_eq!(elsewhere.get("/").await.status, 303, "the other one ends");
    assert_eq!(audit_count(&app, "user.password_changed").await, 1);

    let old = app
        .client()
        .rpc("sign_in", &[("email", OWNER), ("password", PASSWORD)])
        .await;
    assert_eq!(old.status, 401);
    app.client().sign_in(OWNER, new_password).await;
    let audit: Vec<String> = sqlx::query_scalar("select target from audit_event")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert!(audit
        .iter()
        .all(|t| !t.contains(new_password) && !t.contains(PASSWORD)));
}

fn retry_after(reply: &crate::support::Reply) -> u64 {
    reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn sign_in_is_limited_per_account() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("acme").await;
    let client = app.client();
    for _ in 0..10 {
        let r = client
            .rpc(
                "sign_in",
                &[("email", OWNER), ("password", "wrong password here")],
            )
            .await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let limited = client
        .rpc(
            "sign_in",
            &[("email", "  Owner@ACME.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    // Server functions answer with the typed error (the UI words it); the header is HTTP's.
    let error: app::error::AppError = serde_json::from_str(&limited.body).unwrap();
    assert_eq!(error.problem_type(), "/problems/rate-limited");
    assert!(error
        .to_string()
        .starts_with("Too many attempts. Try again in"));
    let wait = retry_after(&limited);
    assert!((1..=900).contains(&wait), "Retry-After {wait}");
    assert!(
        matches!(error, app::error::AppError::RateLimited { retry_after_secs } if retry_after_secs == wait)
    );
    // Other accounts are not affected.
    client.sign_in("viewer@acme.test", PASSWORD).await;

    // Failures are audited without an actor, and without the password.
    let failures: Vec<(Option<uuid::Uuid>, String)> = sqlx::query_as(
        "select actor_user_id, target || ' from ' || (details->>'address') from audit_event
         where action = 'user.sign_in_failed'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(failures.len(), 10);
    assert!(failures
        .iter()
        .all(|(actor, target)| actor.is_none() && target == "owner@acme.test from 127.0.0.1"));
}

#[tokio::test]
async fn sign_in_is_limited_per_address() {
    let app = TestApp::spawn().await;
    let client = app.client();
    for i in 0..30 {
        let email = format!("nobody{i}@acme.test");
        let r = client
            .rpc(
                "sign_in",
                &[("email", &email), ("password", "wrong password here")],
            )
            .await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let limited = client
        .rpc(
            "sign_in",
            &[
                ("email", &app.admin_email),
                ("password", &app.admin_password),
            ],
        )
        .await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    let wait = retry_after(&limited);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
}

#[tokio::test]
async fn second_factor_attempts_are_limited() {
    let app = TestApp::spawn().await;
    let enrolled = owner(&app).await;
    let (authenticator, _) = enrolled.enrol_mfa(PASSWORD).await;
    let client = app.client();
    client.sign_in(OWNER, PASSWORD).await;
    for _ in 0..10 {
        let r = client
            .rpc(
                "verify_second_factor",
                &[("code", &stale_code(&authenticator))],
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
    }
    let code = authenticator.next_code().await;
    let limited = client.rpc("verify_second_factor", &[("code", &code)]).await;
    assert_eq!(limited.status, 429, "{}", limited.body);
    assert!((1..=900).contains(&retry_after(&limited)));
    assert_eq!(client.get("/").await.status, 303);
}

#[tokio::test]
async fn cross_site_posts_to_account_functions_are_refused() {
    let app = TestApp::spawn().await;
    let client = owner(&app).await;
    let cross_site = [
        ("sec-fetch-site", "cross-site"),
        ("origin", "https://evil.test"),
    ];
    let change = client
        .rpc_with(
            "change_password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "an attacker's new passphrase"),
            ],
            &cross_site,
        )
        .await;
    assert_eq!(change.status, 403);
    assert_eq!(problem_type(&change), "/problems/forbidden");
    let start = client
        .rpc_with("start_mfa_enrolment", &[], &cross_site)
        .await;
    assert_eq!(start.status, 403);
    let pending: i64 = sqlx::query_scalar("select count(*) from user_totp")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    app.client().sign_in(OWNER, PASSWORD).await;
}

#[tokio::test]
async fn key_rotation_rewraps_totp_seeds() {
    let app = TestApp::spawn().await;
    let enrolled = owner(&app).await;
    let (authenticator, _) = enrolled.enrol_mfa(PASSWORD).await;
    let new_key = app::backend::secrets::Keyring::generate_line("k2");
    let both =
        app::backend::secrets::Keyring::parse(&format!("{new_key},{TEST_KEYS}"), "t").unwrap();
    let report = app::backend::secrets::rotate(&app.db, &both).await.unwrap();
    assert_eq!(report.seeds_rewrapped, 1);
    assert!(report.failed.is_empty());
    // Only the new key is needed now; the old one cannot open the seed any more.
    let only_new = app::backend::secrets::Keyring::parse(&new_key, "t").unwrap();
    let user_id: uuid::Uuid = sqlx::query_scalar("select user_id from user_totp")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let code = authenticator.next_code().await;
    let verified =
        app::backend::identity::mfa::verify(&app.db, &only_new, user_id, OWNER, &code).await;
    assert_eq!(verified, Ok(app::backend::identity::mfa::Verified::Totp));
    let code = authenticator.next_code().await;
    let old = app::backend::identity::mfa::verify(&app.db, &keyring(), user_id, OWNER, &code).await;
    assert!(
        matches!(old, Err(app::error::AppError::Undecryptable(_))),
        "{old:?}"
    );
}

#[tokio::test]
async fn reset_mfa_turns_it_off_and_ends_sessions() {
    let app = TestApp::spawn().await;
    let client = owner(&app).await;
    client.enrol_mfa(PASSWORD).await;
    app::backend::identity::mfa::reset(&app.db, "Owner@acme.test")
        .await
        .unwrap();
    assert_eq!(client.get("/").await.status, 303, "sessions ended");
    let again = app.client().sign_in(OWNER, PASSWORD).await;
    assert_eq!(again.json(), "signed_in", "no code asked any more");
    assert_eq!(audit_count(&app, "mfa.reset").await, 1);
    let unknown = app::backend::identity::mfa::reset(&app.db, "nobody@acme.test").await;
    assert_eq!(unknown, Err(app::error::AppError::NotFound));
}
