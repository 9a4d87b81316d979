use crate::support::TestApp;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let health = client.get("/healthz").await;
    assert_eq!(health.status, 200);
    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.json()["status"], "ready");
    assert!(ready.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn database_outage_gives_503_and_a_friendly_page() {
    let app = TestApp::spawn().await;
    let client = app.admin().await;
    // Take the database away under the running server.
    let name = app.database_url.rsplit('/').next().unwrap().to_string();
    let admin_db = sqlx::PgPool::connect(&crate::support::database_url("postgres"))
        .await
        .unwrap();
    sqlx::query(&format!("drop database \"{name}\" with (force)"))
        .execute(&admin_db)
        .await
        .unwrap();

    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.json()["status"], "unavailable");
    assert_eq!(
        client.get("/healthz").await.status,
        200,
        "the process itself is alive"
    );

    let page = client.get("/").await;
    assert_eq!(page.status, 503);
    assert!(
        page.body.contains("temporarily unavailable"),
        "{}",
        page.body
    );
    let rpc = client.rpc("get_overview", &[]).await;
    assert_eq!(rpc.status, 503);
    assert_eq!(rpc.json()["type"], "/problems/unavailable");
}

#[tokio::test]
async fn unknown_routes_get_a_404_page() {
    let app = TestApp::spawn().await;
    let client = app.admin().await;
    let page = client.get("/no/such/page").await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains("Page not found"));
}

#[tokio::test]
async fn signed_out_people_are_sent_to_sign_in() {
    let app = TestApp::spawn().await;
    let client = app.client();
    let page = client.get("/members").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.headers["location"], "/login");
    let login = client.get("/login").await;
    assert_eq!(login.status, 200);
    assert!(login.body.contains("Sign in"));
    assert!(
        login.body.contains("/pkg/stratus.js"),
        "the page loads its hydration script"
    );
}
