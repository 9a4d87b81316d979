use crate::support::{TestApp, PASSWORD};

#[tokio::test]
async fn sign_in_sets_a_hardened_cookie_and_cycles_the_id() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let reply = client.sign_in(&app.admin_email, &app.admin_password).await;
    let cookie = reply
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("__Host-stratus="))
        .expect("session cookie");
    for attribute in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            cookie.contains(attribute),
            "{attribute} missing in {cookie}"
        );
    }
    assert!(
        !cookie.contains("Domain"),
        "__Host- cookies carry no Domain"
    );
    let first = client.cookie().unwrap();
    client.sign_in(&app.admin_email, &app.admin_password).await;
    let second = client.cookie().unwrap();
    assert_ne!(first, second, "signing in again issues a new session id");
    // Signed in, but a platform admin without MFA is kept on the enrolment page.
    let page = client.get("/").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.headers["location"], "/account/mfa");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_look_the_same() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let wrong = client
        .rpc(
            "sign_in",
            &[
                ("email", &app.admin_email),
                ("password", "not the password at all"),
            ],
        )
        .await;
    let unknown = client
        .rpc(
            "sign_in",
            &[
                ("email", "nobody@stratus.test"),
                ("password", "not the password at all"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(unknown.status, 401);
    assert_eq!(wrong.body, unknown.body);
    assert!(client.cookie().is_none());
}

#[tokio::test]
async fn sign_out_deletes_the_server_session() {
    let app = TestApp::spawn().await;
    let client = app.admin().await;
    let stolen = client.cookie();
    let out = client.rpc("sign_out", &[]).await;
    assert!(out.status < 400, "{}", out.body);
    let replay = app.client();
    replay.set_cookie(stolen);
    assert_eq!(
        replay.get("/").await.status,
        303,
        "the old cookie no longer works"
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from tower_sessions.session")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 0);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions() {
    let app = TestApp::spawn().await;
    let fixture = app.tenant_with_roles("acme").await;
    let viewer = app.client();
    viewer.sign_in("viewer@acme.test", PASSWORD).await;
    assert_eq!(viewer.get("/").await.status, 200);

    let admin = app.admin().await;
    let user_id = fixture.user(app::model::Role::Viewer).to_string();
    let r = admin
        .rpc(
            "admin_set_user_disabled",
            &[("user_id", &user_id), ("disabled", "true")],
        )
        .await;
    assert!(r.status < 400, "{}", r.body);
    assert_eq!(viewer.get("/").await.status, 303);
    let again = app
        .client()
        .rpc(
            "sign_in",
            &[("email", "viewer@acme.test"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(again.status, 403);
}

#[tokio::test]
async fn cross_site_mutations_are_refused() {
    let app = TestApp::spawn().await;
    let client = app.admin().await;
    let forged = client
        .rpc_with(
            "admin_create_tenant",
            &[
                ("slug", "evil"),
                ("display_name", "Evil"),
                ("owner_email", "x@evil.test"),
            ],
            &[
                ("sec-fetch-site", "cross-site"),
                ("origin", "https://evil.test"),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);
    assert_eq!(forged.json()["type"], "/problems/forbidden");
    let no_fetch_metadata = client
        .rpc_with(
            "admin_create_tenant",
            &[
                ("slug", "evil"),
                ("display_name", "Evil"),
                ("owner_email", "x@evil.test"),
            ],
            &[("origin", "https://evil.test")],
        )
        .await;
    assert_eq!(no_fetch_metadata.status, 403);
    let count: i64 = sqlx::query_scalar("select count(*) from tenant")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
    let same_site = client
        .rpc_with(
            "admin_create_tenant",
            &[
                ("slug", "good"),
                ("display_name", "Good"),
                ("owner_email", "x@good.test"),
            ],
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(same_site.status, 200, "{}", same_site.body);
}

#[tokio::test]
async fn new_passwords_follow_the_policy() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created = admin.create_tenant("acme", "Acme", "ann@acme.test").await;
    assert_eq!(created.status, 200, "{}", created.body);
    let link = created.json()["invitation"]["link_path"]
        .as_str()
        .unwrap()
        .to_string();
    let token = link.trim_start_matches("/invite/");
    let invitee = app.client();
    for (password, expect) in [
        ("short", "at least 12"),
        ("password1234", "most common"),
        (&"x".repeat(300)[..], "at most 256"),
    ] {
        let r = invitee
            .rpc(
                "accept_invitation",
                &[
                    ("token", token),
                    ("display_name", "Ann"),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        assert!(r.body.contains(expect), "{expect}: {}", r.body);
    }
    let long_ok = "a passphrase of more than one hundred and twenty eight characters is accepted because length beats complexity when people choose their own passwords ok";
    assert!(long_ok.len() > 128);
    let r = invitee
        .rpc(
            "accept_invitation",
            &[
                ("token", token),
                ("display_name", "Ann"),
                ("password", long_ok),
            ],
        )
        .await;
    assert!(r.status < 400, "{}", r.body);
    let again = app
        .client()
        .rpc(
            "accept_invitation",
            &[
                ("token", token),
                ("display_name", "Ann"),
                ("password", long_ok),
            ],
        )
        .await;
    assert_eq!(again.status, 410, "an invitation link works once");
}
