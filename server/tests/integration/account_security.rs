//! Issue 12, the account side: each test drives the real server the way the attack did.

use crate::support::{TestApp, PASSWORD};

fn invitation_token(reply: &crate::support::Reply) -> String {
    reply.json()["link_path"]
        .as_str()
        .unwrap_or_else(|| panic!("no link in {}", reply.body))
        .trim_start_matches("/invite/")
        .to_string()
}

/// An admin of tenant B invites tenant A's owner and keeps the link. Before the fix the link
/// checked the account's password with no limit: a guessing loop that, on a hit, signed the
/// attacker in as the victim.
#[tokio::test]
async fn an_invitation_link_is_no_password_channel_for_an_existing_account() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("alpha").await;
    app.tenant_with_roles("beta").await;
    let attacker = app.client();
    attacker.sign_in("owner@beta.test", PASSWORD).await;
    let invite = attacker
        .rpc(
            "invite_member",
            &[("email", "owner@alpha.test"), ("role", "admin")],
        )
        .await;
    assert_eq!(invite.status, 200, "{}", invite.body);
    let token = invitation_token(&invite);

    // Signed out, the page does not say whether the email has an account.
    let guesser = app.client();
    let preview = guesser
        .rpc("preview_invitation", &[("token", &token)])
        .await;
    assert_eq!(preview.status, 200, "{}", preview.body);
    assert!(preview.json()["signed_in_as"].is_null());
    assert!(
        preview.json().get("existing_user").is_none(),
        "{}",
        preview.body
    );

    // The guessing loop: wrong passwords, then the right one. Every answer is the same
    // refusal, and none signs anyone in.
    let mut answers = Vec::new();
    for i in 0..12 {
        let guess = if i == 11 {
            PASSWORD.to_string()
        } else {
            format!("guess number {i} for you")
        };
        let r = guesser
            .rpc(
                "accept_invitation",
                &[
                    ("token", &token),
                    ("display_name", "Mallory"),
                    ("password", &guess),
                ],
            )
            .await;
        assert_eq!(r.status, 409, "{}", r.body);
        answers.push(r.body.clone());
        let me = guesser.rpc("get_session_info", &[]).await;
        assert!(me.json().is_null(), "signed in by a guess: {}", me.body);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");

    // Another signed-in person cannot take the invitation.
    let other = app.client();
    other.sign_in("member@alpha.test", PASSWORD).await;
    let preview = other.rpc("preview_invitation", &[("token", &token)]).await;
    assert_eq!(preview.json()["signed_in_as"], "member@alpha.test");
    let refused = other.rpc("join_invitation", &[("token", &token)]).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    let tenants = other.rpc("get_session_info", &[]).await.json()["tenants"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(tenants, 1);
    // Nor can an unsigned request.
    let anonymous = app
        .client()
        .rpc("join_invitation", &[("token", &token)])
        .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    // The invited person: half signed in (second factor due) is not enough ...
    let victim = app.client();
    victim.sign_in("owner@alpha.test", PASSWORD).await;
    let (authenticator, _) = victim.enrol_mfa(PASSWORD).await;
    let invited = app.client();
    let first = invited.sign_in("owner@alpha.test", PASSWORD).await;
    assert_eq!(first.json(), "second_factor");
    let half = invited.rpc("join_invitation", &[("token", &token)]).await;
    assert_eq!(half.status, 401, "{}", half.body);
    // ... signed in fully, they accept without any password, and land in the tenant.
    let code = authenticator.next_code().await;
    let second = invited
        .rpc("verify_second_factor", &[("code", code.as_str())])
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    let joined = invited.rpc("join_invitation", &[("token", &token)]).await;
    assert!(joined.status < 400, "{} {}", joined.status, joined.body);
    let info = invited.rpc("get_session_info", &[]).await.json();
    assert_eq!(info["tenants"].as_array().unwrap().len(), 2);
    assert_eq!(info["current"]["slug"], "beta");
    // The link is spent.
    let again = invited.rpc("join_invitation", &[("token", &token)]).await;
    assert_eq!(again.status, 410, "{}", again.body);
}

async fn audit_count(app: &TestApp, action: &str) -> i64 {
    sqlx::query_scalar("select count(*) from audit_event where action = $1")
        .bind(action)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Seen before the fix: ten wrong passwords from anywhere, then the right one from the owner,
/// answered 429 for 15 minutes. Now the limit is per account and address; behind a trusted
/// proxy the forwarded address counts, and IPv6 clients count by /64.
#[tokio::test]
async fn failed_sign_ins_elsewhere_do_not_lock_the_owner_out() {
    let app = TestApp::spawn_with(|s| {
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    app.tenant_with_roles("acme").await;
    let attempt = |from: &'static str, password: &'static str| {
        let client = app.client();
        async move {
            client
                .rpc_with(
                    "sign_in",
                    &[("email", "owner@acme.test"), ("password", password)],
                    &[("x-forwarded-for", from)],
                )
                .await
        }
    };
    for _ in 0..10 {
        assert_eq!(
            attempt("203.0.113.9", "wrong password here").await.status,
            401
        );
    }
    let locked = attempt("203.0.113.9", PASSWORD).await;
    assert_eq!(locked.status, 429, "the guessing address is locked out");
    assert_eq!(attempt("203.0.113.9", PASSWORD).await.status, 429);
    let owner = attempt("198.51.100.7", PASSWORD).await;
    assert_eq!(
        owner.status, 200,
        "the owner elsewhere signs in: {}",
        owner.body
    );
    assert_eq!(
        audit_count(&app, "user.sign_in_locked").await,
        1,
        "one lockout, once"
    );

    // IPv6: a /64 is one client, whichever addresses in it are used.
    for i in 0..10 {
        let from: &'static str = Box::leak(format!("2001:db8:5:6::{i:x}").into_boxed_str());
        assert_eq!(attempt(from, "wrong password here").await.status, 401);
    }
    assert_eq!(attempt("2001:db8:5:6::ffff", PASSWORD).await.status, 429);
    assert_eq!(attempt("2001:db8:5:7::1", PASSWORD).await.status, 200);
}

/// Turning MFA on needs the password again, and gives the session a new id (before, a
/// platform admin's restricted session id stayed the same through enrolment).
#[tokio::test]
async fn enabling_mfa_needs_the_password_and_cycles_the_session_id() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("acme").await;
    let client = app.client();
    client.sign_in("owner@acme.test", PASSWORD).await;
    let started = client.rpc("start_mfa_enrolment", &[]).await;
    assert_eq!(started.status, 200, "{}", started.body);
    let authenticator = crate::support::Authenticator::from_manual_key(
        started.json()["manual_key"].as_str().unwrap(),
    );
    let before = client.cookie().unwrap();
    let code = authenticator.next_code().await;
    for (password, expect) in [("", 422), ("not my password at all", 422)] {
        let r = client
            .rpc(
                "confirm_mfa_enrolment",
                &[("code", code.as_str()), ("password", password)],
            )
            .await;
        assert_eq!(r.status, expect, "{}", r.body);
        assert!(r.body.contains("password"), "{}", r.body);
    }
    let code = authenticator.next_code().await;
    let on = client
        .rpc(
            "confirm_mfa_enrolment",
            &[("code", code.as_str()), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(on.status, 200, "{}", on.body);
    let after = client.cookie().unwrap();
    assert_ne!(before, after, "a new session id");
    let stale = app.client();
    stale.set_cookie(Some(before));
    assert_eq!(
        stale.get("/").await.status,
        303,
        "the old id signs nobody in"
    );
    assert_eq!(client.get("/").await.status, 200);

    // Confirming the password (re-authentication) cycles it too.
    let code = authenticator.next_code().await;
    let confirmed = client
        .rpc(
            "reauthenticate",
            &[("password", PASSWORD), ("code", code.as_str())],
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.body);
    assert_ne!(client.cookie().unwrap(), after);
}

/// The second-factor limit also counts per day, and every wrong code is audited.
#[tokio::test]
async fn second_factor_attempts_are_capped_per_day_and_audited() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("acme").await;
    let enrolled = app.client();
    enrolled.sign_in("owner@acme.test", PASSWORD).await;
    let (authenticator, _) = enrolled.enrol_mfa(PASSWORD).await;
    let client = app.client();
    client.sign_in("owner@acme.test", PASSWORD).await;
    let wrong = authenticator.code_at(crate::support::Authenticator::now_step() - 10);
    for _ in 0..3 {
        for _ in 0..10 {
            let r = client
                .rpc("verify_second_factor", &[("code", wrong.as_str())])
                .await;
            assert_eq!(r.status, 422, "{}", r.body);
        }
        // Fifteen minutes pass (the short window ends; the day's does not).
        sqlx::query(
            "update rate_limit set window_start = window_start - interval '16 minutes'
             where bucket = 'second-factor'",
        )
        .execute(&app.db)
        .await
        .unwrap();
        client.sign_in("owner@acme.test", PASSWORD).await;
    }
    let code = authenticator.next_code().await;
    let r = client
        .rpc("verify_second_factor", &[("code", code.as_str())])
        .await;
    assert_eq!(r.status, 429, "30 failures in a day: {}", r.body);
    assert_eq!(audit_count(&app, "mfa.code_rejected").await, 30);
    assert_eq!(audit_count(&app, "user.sign_in_locked").await, 1);
}

/// Before the fix a removed member's keys came back when they were invited again, and a
/// disabled user's when they were enabled again.
#[tokio::test]
async fn removing_or_disabling_a_person_revokes_their_keys_for_good() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let member = acme.user(app::model::Role::Member);
    let viewer = acme.user(app::model::Role::Viewer);
    let member_key = app
        .api_key(member, acme.tenant_id, app::model::Role::Member)
        .await;
    let viewer_key = app
        .api_key(viewer, acme.tenant_id, app::model::Role::Viewer)
        .await;
    let me = |key: String| {
        let url = format!("{}/api/v1/me", app.url);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(me(member_key.clone()).await, 200);

    let owner = app.client();
    owner.sign_in("owner@acme.test", PASSWORD).await;
    let removed = owner
        .rpc("remove_member", &[("user_id", &member.to_string())])
        .await;
    assert!(removed.status < 400, "{}", removed.body);
    let invite = owner
        .rpc(
            "invite_member",
            &[("email", "member@acme.test"), ("role", "member")],
        )
        .await;
    let back = app.client();
    back.sign_in("member@acme.test", PASSWORD).await;
    let joined = back
        .rpc("join_invitation", &[("token", &invitation_token(&invite))])
        .await;
    assert!(joined.status < 400, "{}", joined.body);
    assert_eq!(
        me(member_key).await,
        401,
        "a member again, but the key stays revoked"
    );

    let admin = app.admin().await;
    for disabled in ["true", "false"] {
        let r = admin
            .rpc(
                "admin_set_user_disabled",
                &[("user_id", &viewer.to_string()), ("disabled", disabled)],
            )
            .await;
        assert!(r.status < 400, "{}", r.body);
    }
    assert_eq!(
        me(viewer_key).await,
        401,
        "enabled again, but the key stays revoked"
    );
}

/// A 100,000-character email answered 500 (its index row was too large); names and emails
/// with direction overrides or zero-width characters were accepted.
#[tokio::test]
async fn text_inputs_are_bounded_and_deceptive_characters_refused() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let huge = format!("{}@acme.test", "a".repeat(100_000));
    let r = app
        .client()
        .rpc(
            "sign_in",
            &[("email", &huge), ("password", "whatever it is")],
        )
        .await;
    assert_eq!(r.status, 422, "{}", &r.body[..r.body.len().min(300)]);
    let key = app
        .api_key(
            acme.user(app::model::Role::Admin),
            acme.tenant_id,
            app::model::Role::Admin,
        )
        .await;
    let path = format!("/api/v1/tenants/{}/invitations", acme.tenant_id);
    for email in [
        huge.as_str(),
        "admin\u{202E}@acme.test",
        "ad\u{200B}min@acme.test",
    ] {
        let r = crate::rest_api::call(
            &app,
            reqwest::Method::POST,
            &path,
            Some(&key),
            Some(serde_json::json!({ "email": email, "role": "viewer" })),
        )
        .await;
        assert_eq!(r.status, 422, "{:?}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
    }
    let r = crate::rest_api::call(
        &app,
        reqwest::Method::POST,
        "/api/v1/auth/token",
        None,
        Some(serde_json::json!({ "api_key": "x".repeat(100_000) })),
    )
    .await;
    assert_eq!(r.status, 401, "{:?}", r.body);

    // A new account's name.
    let owner = app.client();
    owner.sign_in("owner@acme.test", PASSWORD).await;
    let invite = owner
        .rpc(
            "invite_member",
            &[("email", "new@acme.test"), ("role", "viewer")],
        )
        .await;
    let r = app
        .client()
        .rpc(
            "accept_invitation",
            &[
                ("token", &invitation_token(&invite)),
                ("display_name", "Ann \u{202E}nimdA"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
}

/// The token-exchange limit counted per key prefix, so anyone who saw a key's prefix in a
/// list could block it with wrong keys sharing that prefix.
#[tokio::test]
async fn a_keys_exchange_limit_cannot_be_spent_by_someone_who_knows_its_prefix() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let key = app
        .api_key(
            acme.user(app::model::Role::Member),
            acme.tenant_id,
            app::model::Role::Member,
        )
        .await;
    let exchange = |api_key: String| {
        let url = format!("{}/api/v1/auth/token", app.url);
        async move {
            reqwest::Client::new()
                .post(url)
                .json(&serde_json::json!({ "api_key": api_key }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let prefix = &key[..12];
    for i in 0..31 {
        let fake = format!("{prefix}{:0>30}", i);
        assert_ne!(exchange(fake).await, 200);
    }
    assert_eq!(exchange(key.clone()).await, 200, "the real key still works");
    assert_eq!(audit_count(&app, "api_key.token_issued").await, 1);
    assert!(audit_count(&app, "api_key.rejected").await >= 31);
}

/// Recovery codes were stored as plain SHA-256 of 50-bit codes (brute-forced offline in
/// hours); now as HMAC-SHA256 under a key derived from the master keys. Codes stored the old
/// way keep working.
#[tokio::test]
async fn recovery_codes_are_stored_with_a_keyed_digest_and_old_ones_still_work() {
    use sha2::Digest;
    let app = TestApp::spawn().await;
    app.tenant_with_roles("acme").await;
    let client = app.client();
    client.sign_in("owner@acme.test", PASSWORD).await;
    let (_, codes) = client.enrol_mfa(PASSWORD).await;
    let user_id: uuid::Uuid =
        sqlx::query_scalar("select user_id from app_user where email = 'owner@acme.test'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("select code_sha256 from recovery_code")
        .fetch_all(&app.db)
        .await
        .unwrap();
    let plain = |code: &str| {
        let mut h = sha2::Sha256::new();
        h.update(user_id.as_bytes());
        h.update(code.replace('-', "").as_bytes());
        h.finalize().to_vec()
    };
    assert!(
        codes.iter().all(|c| !stored.contains(&plain(c))),
        "no plain digests"
    );

    // A code stored the old way (before this release) still signs in, once.
    sqlx::query("insert into recovery_code (user_id, code_sha256) values ($1, $2)")
        .bind(user_id)
        .bind(plain("oldco-de234"))
        .execute(&app.db)
        .await
        .unwrap();
    for (code, expect) in [("oldco-de234", 200), (codes[0].as_str(), 200)] {
        let c = app.client();
        c.sign_in("owner@acme.test", PASSWORD).await;
        let r = c.rpc("verify_second_factor", &[("code", code)]).await;
        assert_eq!(r.status, expect, "{code}: {}", r.body);
    }
    let c = app.client();
    c.sign_in("owner@acme.test", PASSWORD).await;
    let r = c
        .rpc("verify_second_factor", &[("code", "oldco-de234")])
        .await;
    assert_eq!(r.status, 422, "used once: {}", r.body);
}

/// The security events that were missing are audited; what unauthenticated requests can
/// write there is bounded per address.
#[tokio::test]
async fn missing_security_events_are_audited_within_a_bound() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("acme").await;
    let viewer = app.client();
    viewer.sign_in("viewer@acme.test", PASSWORD).await;
    // A permission refusal.
    let refused = viewer
        .rpc(
            "invite_member",
            &[("email", "x@acme.test"), ("role", "viewer")],
        )
        .await;
    assert_eq!(refused.status, 403);
    // A cross-site post.
    let cross = viewer
        .rpc_with(
            "sign_out",
            &[],
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil.test"),
            ],
        )
        .await;
    assert_eq!(cross.status, 403);
    // Signing out.
    assert!(viewer.rpc("sign_out", &[]).await.status < 400);
    for action in [
        "access.denied",
        "request.cross_site_refused",
        "user.signed_out",
    ] {
        let db = app.db.clone();
        crate::support::wait_until(action, std::time::Duration::from_secs(5), || {
            let db = db.clone();
            async move {
                sqlx::query_scalar::<_, i64>("select count(*) from audit_event where action = $1")
                    .bind(action)
                    .fetch_one(&db)
                    .await
                    .unwrap()
                    == 1
            }
        })
        .await;
    }
    // Made-up keys: each is recorded until the address's allowance is spent.
    for i in 0..70 {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/me", app.url))
            .bearer_auth(format!("stx_madeup{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    let rejected = audit_count(&app, "api_key.rejected").await;
    assert!(
        (50..=60).contains(&rejected),
        "{rejected} rows for 70 bad keys"
    );
}
