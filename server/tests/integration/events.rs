//! The live event stream over a real WebSocket: order, resume without gaps or duplicates,
//! tenant isolation, origin checks, tickets, and fan-out across two server processes.

use crate::support::{TestApp, PASSWORD};
use app::backend::jobs::worker::{Registry, Worker, WorkerConfig};
use app::backend::jobs::{enqueue, NewJob};
use app::live::{LiveEvent, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) async fn open(
    base: &str,
    query: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let url = format!(
        "{}/api/v1/events{query}",
        base.replacen("http://", "ws://", 1)
    );
    let mut req = url.into_client_request()?;
    if let Some(cookie) = cookie {
        req.headers_mut().insert(
            "cookie",
            format!("__Host-stratus={cookie}").parse().unwrap(),
        );
    }
    if let Some(origin) = origin {
        req.headers_mut().insert("origin", origin.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// A signed-in member's socket, from the portal's own origin.
async fn member_socket(app: &TestApp, base: &str, email: &str) -> Ws {
    let client = app.client();
    client.sign_in(email, PASSWORD).await;
    open(base, "", client.cookie().as_deref(), Some(base))
        .await
        .expect("the handshake succeeds")
}

pub(crate) async fn send(ws: &mut Ws, value: serde_json::Value) {
    ws.send(Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// The next protocol message (control frames skipped); panics after 10 s.
pub(crate) async fn next(ws: &mut Ws) -> ServerMessage {
    next_within(ws, Duration::from_secs(10))
        .await
        .expect("a message within 10 s")
}

pub(crate) async fn next_within(ws: &mut Ws, wait: Duration) -> Option<ServerMessage> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next()).await.ok()??;
        match frame.expect("the socket stays open") {
            Message::Text(text) => return Some(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => panic!("closed by the server: {frame:?}"),
            _ => continue,
        }
    }
}

pub(crate) async fn subscribe(ws: &mut Ws, topic: &str, after: Option<i64>) -> i64 {
    send(
        ws,
        json!({"type": "subscribe", "topic": topic, "after": after}),
    )
    .await;
    match next(ws).await {
        ServerMessage::Subscribed { head, .. } => head,
        other => panic!("expected subscribed, got {other:?}"),
    }
}

/// Events until the job's final state event (succeeded/failed/cancelled).
async fn until_finished(ws: &mut Ws, job_id: i64, into: &mut Vec<LiveEvent>) {
    loop {
        match next(ws).await {
            ServerMessage::Event { event, .. } => {
                let done = event.job_id == job_id
                    && event.kind == "state"
                    && ["succeeded", "cancelled"].contains(&event.message.as_str());
                into.push(event);
                if done {
                    return;
                }
            }
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

pub(crate) async fn sleep_job(db: &PgPool, tenant_id: Uuid, millis: u64, steps: u64) -> i64 {
    enqueue(
        &mut db.acquire().await.unwrap(),
        NewJob::new("system.sleep")
            .tenant(tenant_id)
            .payload(json!({"millis": millis, "steps": steps})),
    )
    .await
    .unwrap()
    .job_id
}

fn worker(db: &PgPool) -> Worker {
    let mut config = WorkerConfig::new(2);
    config.poll_interval = Duration::from_millis(100);
    Worker::start(db.clone(), Registry::default().with_builtins(), config)
}

async fn event_ids(db: &PgPool, job_id: i64) -> Vec<i64> {
    sqlx::query_scalar("select event_id from job_event where job_id = $1 order by event_id")
        .bind(job_id)
        .fetch_all(db)
        .await
        .unwrap()
}

fn ids(events: &[LiveEvent]) -> Vec<i64> {
    events.iter().map(|e| e.id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_gets_every_progress_step_in_order() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let mut ws = member_socket(&app, &app.url, "viewer@acme.test").await;
    subscribe(&mut ws, &format!("tenant:{}", acme.tenant_id), None).await;

    let job_id = sleep_job(&app.db, acme.tenant_id, 500, 5).await;
    let worker = worker(&app.db);
    let mut got = Vec::new();
    until_finished(&mut ws, job_id, &mut got).await;
    worker.shutdown().await;

    let timeline: Vec<(String, Option<i16>)> =
        got.iter().map(|e| (e.kind.clone(), e.percent)).collect();
    assert_eq!(got[0].message, "queued");
    assert_eq!(got[1].message, "running (attempt 1 of 5)");
    assert_eq!(
        timeline[2..],
        [
            ("progress".into(), Some(20)),
            ("progress".into(), Some(40)),
            ("progress".into(), Some(60)),
            ("progress".into(), Some(80)),
            ("progress".into(), Some(100)),
            ("state".into(), Some(100)),
        ]
    );
    assert_eq!(got.last().unwrap().message, "succeeded");
    assert!(got
        .iter()
        .all(|e| e.job_id == job_id && e.tenant_id == Some(acme.tenant_id)));
    // Exactly the rows of the log, in id order.
    assert_eq!(ids(&got), event_ids(&app.db, job_id).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resumed_from_its_last_id_sees_every_event_exactly_once() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let job_id = sleep_job(&app.db, acme.tenant_id, 2000, 10).await;
    let topic = format!("job:{job_id}");
    let worker = worker(&app.db);

    // From the start (after 0 replays the 'queued' event), then cut off mid-job.
    let mut ws = member_socket(&app, &app.url, "member@acme.test").await;
    subscribe(&mut ws, &topic, Some(0)).await;
    let mut got = Vec::new();
    while got.len() < 4 {
        match next(&mut ws).await {
            ServerMessage::Event { event, .. } => got.push(event),
            other => panic!("expected an event, got {other:?}"),
        }
    }
    drop(ws);
    // Events keep happening while the client is away.
    tokio::time::sleep(Duration::from_millis(700)).await;

    let last = got.last().unwrap().id;
    let mut ws = member_socket(&app, &app.url, "member@acme.test").await;
    let head = subscribe(&mut ws, &topic, Some(last)).await;
    assert!(head > last, "events happened while disconnected");
    until_finished(&mut ws, job_id, &mut got).await;
    worker.shutdown().await;

    let received = ids(&got);
    assert_eq!(
        received,
        event_ids(&app.db, job_id).await,
        "no gap, no duplicate"
    );
    assert_eq!(received.len(), 13, "queued, running, 10 steps, succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_committed_out_of_order_are_delivered_in_order_and_holes_are_skipped() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let job_id = sleep_job(&app.db, acme.tenant_id, 0, 1).await;
    let mut ws = member_socket(&app, &app.url, "viewer@acme.test").await;
    // From the start, so the job's 'queued' event comes first, replayed or live.
    subscribe(&mut ws, &format!("job:{job_id}"), Some(0)).await;
    match next(&mut ws).await {
        ServerMessage::Event { event, .. } => assert_eq!(event.message, "queued"),
        other => panic!("expected the queued event, got {other:?}"),
    }

    let append = "insert into job_event (job_id, tenant_id, kind, message) values ($1, $2, 'log', $3) returning event_id";
    // A slow transaction draws the smaller id (after a write, as every writer does)...
    let mut slow = app.db.begin().await.unwrap();
    sqlx::query("update job set progress = progress where job_id = $1")
        .bind(job_id)
        .execute(&mut *slow)
        .await
        .unwrap();
    let first: i64 = sqlx::query_scalar(append)
        .bind(job_id)
        .bind(acme.tenant_id)
        .bind("slow")
        .fetch_one(&mut *slow)
        .await
        .unwrap();
    // ...a quick one the next, and commits first.
    let second: i64 = sqlx::query_scalar(append)
        .bind(job_id)
        .bind(acme.tenant_id)
        .bind("quick")
        .fetch_one(&app.db)
        .await
        .unwrap();
    sqlx::query("select pg_notify('stratus_job_events', '')")
        .execute(&app.db)
        .await
        .unwrap();
    assert!(second > first);
    assert!(
        next_within(&mut ws, Duration::from_millis(700))
            .await
            .is_none(),
        "the later id waits for the earlier one"
    );
    slow.commit().await.unwrap();
    sqlx::query("select pg_notify('stratus_job_events', '')")
        .execute(&app.db)
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        match next(&mut ws).await {
            ServerMessage::Event { event, .. } => got.push(event.id),
            other => panic!("expected an event, got {other:?}"),
        }
    }
    assert_eq!(got, [first, second]);

    // A rolled-back insert leaves a hole for good: the stream moves past it.
    let mut doomed = app.db.begin().await.unwrap();
    sqlx::query("update job set progress = progress where job_id = $1")
        .bind(job_id)
        .execute(&mut *doomed)
        .await
        .unwrap();
    let lost: i64 = sqlx::query_scalar(append)
        .bind(job_id)
        .bind(acme.tenant_id)
        .bind("rolled back")
        .fetch_one(&mut *doomed)
        .await
        .unwrap();
    let after_hole: i64 = sqlx::query_scalar(append)
        .bind(job_id)
        .bind(acme.tenant_id)
        .bind("after the hole")
        .fetch_one(&app.db)
        .await
        .unwrap();
    doomed.rollback().await.unwrap();
    match next(&mut ws).await {
        ServerMessage::Event { event, .. } => {
            assert_eq!(event.id, after_hole);
            assert_eq!(event.message, "after the hole");
            assert!(event.id > lost);
        }
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_topics_are_refused_and_deliver_nothing() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let globex = app.tenant_with_roles("globex").await;
    let globex_job = sleep_job(&app.db, globex.tenant_id, 0, 1).await;
    let resource = Uuid::new_v4();
    enqueue(
        &mut app.db.acquire().await.unwrap(),
        NewJob::new("system.noop")
            .tenant(globex.tenant_id)
            .resource(resource),
    )
    .await
    .unwrap();

    let mut ws = member_socket(&app, &app.url, "owner@acme.test").await;
    for topic in [
        format!("tenant:{}", globex.tenant_id),
        format!("job:{globex_job}"),
        format!("resource:{resource}"),
        "job:999999".to_string(),
    ] {
        send(
            &mut ws,
            json!({"type": "subscribe", "topic": topic, "after": 0}),
        )
        .await;
        match next(&mut ws).await {
            ServerMessage::Error { topic: t, code, .. } => {
                assert_eq!(code, "not_found", "{topic}");
                assert_eq!(t.as_deref(), Some(topic.as_str()));
            }
            other => panic!("{topic}: expected an error, got {other:?}"),
        }
    }
    // Malformed input is answered, not fatal.
    send(&mut ws, json!({"type": "subscribe", "topic": "everything"})).await;
    assert!(
        matches!(next(&mut ws).await, ServerMessage::Error { code, .. } if code == "bad_request")
    );
    ws.send(Message::Text("{not json".into())).await.unwrap();
    assert!(
        matches!(next(&mut ws).await, ServerMessage::Error { code, .. } if code == "bad_request")
    );

    // Globex's jobs run; nothing of theirs reaches the acme owner, who still gets acme's.
    subscribe(&mut ws, &format!("tenant:{}", acme.tenant_id), None).await;
    let worker = worker(&app.db);
    sleep_job(&app.db, globex.tenant_id, 100, 2).await;
    let acme_job = sleep_job(&app.db, acme.tenant_id, 300, 1).await;
    let mut got = Vec::new();
    until_finished(&mut ws, acme_job, &mut got).await;
    worker.shutdown().await;
    assert!(
        got.iter().all(|e| e.tenant_id == Some(acme.tenant_id)),
        "{got:?}"
    );
    assert_eq!(ids(&got), event_ids(&app.db, acme_job).await);
}

#[tokio::test]
async fn handshakes_need_the_portal_origin_and_a_credential() {
    let app = TestApp::spawn().await;
    app.tenant_with_roles("acme").await;
    let client = app.client();
    client.sign_in("member@acme.test", PASSWORD).await;
    let cookie = client.cookie();
    let status = |r: Result<Ws, tungstenite::Error>| match r {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => 101,
    };
    // Another site's page cannot use the visitor's cookie.
    assert_eq!(
        status(open(&app.url, "", cookie.as_deref(), Some("http://evil.example")).await),
        403
    );
    assert_eq!(
        status(
            open(
                &app.url,
                "",
                cookie.as_deref(),
                Some(&app.url.replace("127.0.0.1", "localhost"))
            )
            .await
        ),
        403
    );
    assert_eq!(
        status(open(&app.url, "", cookie.as_deref(), None).await),
        403
    );
    // The right origin without a session, or a made-up ticket: 401.
    assert_eq!(status(open(&app.url, "", None, Some(&app.url)).await), 401);
    assert_eq!(
        status(open(&app.url, "?ticket=made-up", None, None).await),
        401
    );
    assert_eq!(
        status(open(&app.url, "", cookie.as_deref(), Some(&app.url)).await),
        101
    );
}

#[tokio::test]
async fn a_ticket_opens_one_handshake() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let client = app.client();
    client.sign_in("viewer@acme.test", PASSWORD).await;

    // Cross-site POSTs are refused like any other.
    let refused = client
        .http
        .post(format!("{}/api/v1/events/ticket", app.url))
        .header(
            "cookie",
            format!("__Host-stratus={}", client.cookie().unwrap()),
        )
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let anonymous = app
        .client()
        .http
        .post(format!("{}/api/v1/events/ticket", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let reply: serde_json::Value = client
        .http
        .post(format!("{}/api/v1/events/ticket", app.url))
        .header(
            "cookie",
            format!("__Host-stratus={}", client.cookie().unwrap()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ticket = reply["ticket"].as_str().unwrap();
    assert_eq!(reply["expires_in"], 30);

    // No cookie, no origin: the ticket is the credential, and it acts as its user.
    let mut ws = open(&app.url, &format!("?ticket={ticket}"), None, None)
        .await
        .unwrap();
    subscribe(&mut ws, &format!("tenant:{}", acme.tenant_id), None).await;
    let other = app.tenant_with_roles("globex").await;
    send(
        &mut ws,
        json!({"type": "subscribe", "topic": format!("tenant:{}", other.tenant_id)}),
    )
    .await;
    assert!(
        matches!(next(&mut ws).await, ServerMessage::Error { code, .. } if code == "not_found")
    );
    // Single use.
    match open(&app.url, &format!("?ticket={ticket}"), None, None).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a spent ticket was accepted: {:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_produced_in_one_process_reaches_a_socket_on_another() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    // A second server process on the same database (its own pool, listener and hub).
    let second = server::startup::Application::build(crate::support::settings(&app.database_url))
        .await
        .unwrap();
    let second_url = format!("http://{}", second.addr());
    let second_db = second.db.clone();
    tokio::spawn(second.run_until_stopped());

    // Signed in on the first process, connected to the second (sessions live in the database).
    let client = app.client();
    client.sign_in("viewer@acme.test", PASSWORD).await;
    let mut ws = open(
        &second_url,
        "",
        client.cookie().as_deref(),
        Some(&second_url),
    )
    .await
    .unwrap();
    subscribe(&mut ws, &format!("tenant:{}", acme.tenant_id), None).await;

    // The job is enqueued and run by the first process's pool and worker.
    let job_id = sleep_job(&app.db, acme.tenant_id, 300, 3).await;
    let worker = worker(&app.db);
    let mut got = Vec::new();
    until_finished(&mut ws, job_id, &mut got).await;
    worker.shutdown().await;
    assert_eq!(ids(&got), event_ids(&second_db, job_id).await);
    assert_eq!(got.iter().filter(|e| e.kind == "progress").count(), 3);
}

#[tokio::test]
async fn an_api_key_opens_the_stream_within_its_tenant() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let globex = app.tenant_with_roles("globex").await;
    let key = app
        .api_key(
            acme.user(app::model::Role::Admin),
            acme.tenant_id,
            app::model::Role::Viewer,
        )
        .await;
    let with_bearer = |token: &str| {
        let url = format!("{}/api/v1/events", app.url.replacen("http://", "ws://", 1));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        tokio_tungstenite::connect_async(req)
    };
    match with_bearer("stx_not-a-real-key").await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a made-up key was accepted: {:?}", other.map(|_| ())),
    }
    // No cookie and no origin: the key is the credential (automation, not a browser).
    let (mut ws, _) = with_bearer(&key).await.expect("the key opens the stream");
    subscribe(&mut ws, &format!("tenant:{}", acme.tenant_id), None).await;
    send(
        &mut ws,
        json!({"type": "subscribe", "topic": format!("tenant:{}", globex.tenant_id)}),
    )
    .await;
    assert!(
        matches!(next(&mut ws).await, ServerMessage::Error { code, .. } if code == "not_found")
    );
    // A ticket would act as the whole person: keys use their header instead.
    let ticket = app
        .client()
        .http
        .post(format!("{}/api/v1/events/ticket", app.url))
        .header("authorization", format!("Bearer {key}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ticket.status(), 403);
}
