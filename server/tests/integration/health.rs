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

/// Leptos suppresses resource loads process-wide while it generates an app's route list, and a
/// page whose data was first asked for in that window waited forever (leptos-rs/leptos#4773):
/// a 408 in CI, where tests start servers while others render pages. The route list is now
/// generated once per process. Threads of their own run the servers' tasks in parallel, as
/// in the test harness; before the fix this failed in 4 of 6 runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pages_render_while_another_server_starts_in_the_process() {
    use std::time::Duration;
    let app = TestApp::spawn_with(|s| s.request_timeout = Duration::from_secs(5)).await;
    let admin = app.admin().await;
    let started = std::sync::atomic::AtomicBool::new(false);
    let starting = async {
        for _ in 0..6 {
            TestApp::spawn().await;
        }
        started.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let rendering = async {
        let mut answers = Vec::new();
        while !started.load(std::sync::atomic::Ordering::Relaxed) {
            let pages = (0..8).map(|_| admin.get("/"));
            answers.extend(
                futures_util::future::join_all(pages)
                    .await
                    .into_iter()
                    .map(|r| r.status),
            );
        }
        answers
    };
    let ((), answers) = tokio::join!(starting, rendering);
    let failed: Vec<_> = answers.iter().filter(|s| **s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} pages failed: {failed:?}",
        failed.len(),
        answers.len()
    );
}
