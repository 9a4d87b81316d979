//! Issue 12, the event stream: sockets end with their credential, and no one credential or
//! address can take the stream over.

use crate::events::{next, open, send, sleep_job, subscribe, Ws};
use crate::support::{TestApp, PASSWORD};
use app::live::ServerMessage;
use app::model::Role;
use futures_util::StreamExt;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use uuid::Uuid;

/// A socket authenticated with `Authorization: Bearer <token>` (an API key or access token).
pub(crate) async fn with_bearer(base: &str, token: &str) -> Result<Ws, tungstenite::Error> {
    let url = format!("{}/api/v1/events", base.replacen("http://", "ws://", 1));
    let mut req = url.into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// What the server sent until it closed the socket (failing after `wait`): the protocol
/// messages and the close code.
async fn until_closed(ws: &mut Ws, wait: Duration) -> (Vec<ServerMessage>, Option<u16>) {
    let deadline = tokio::time::Instant::now() + wait;
    let mut got = Vec::new();
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .expect("the server closes the socket in time");
        match frame {
            None | Some(Err(_)) => return (got, None),
            Some(Ok(Message::Text(text))) => got.push(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => return (got, frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
        }
    }
}

fn is_event(m: &ServerMessage) -> bool {
    matches!(m, ServerMessage::Event { .. })
}

fn said_unauthenticated(messages: &[ServerMessage]) -> bool {
    messages
        .iter()
        .any(|m| matches!(m, ServerMessage::Error { code, .. } if code == "unauthenticated"))
}

async fn key_id(app: &TestApp) -> Uuid {
    sqlx::query_scalar("select key_id from api_key order by created_at desc limit 1")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// Seen before the fix: a socket opened with an API key kept receiving events more than a
/// minute after the key was revoked, and a new subscription after revocation was accepted.
#[tokio::test]
async fn a_socket_opened_with_an_api_key_ends_when_the_key_is_revoked() {
    let app = TestApp::spawn_with(|s| s.stream.recheck_every = Duration::from_secs(1)).await;
    let acme = app.tenant_with_roles("acme").await;
    let key = app
        .api_key(acme.user(Role::Admin), acme.tenant_id, Role::Viewer)
        .await;
    let topic = format!("tenant:{}", acme.tenant_id);
    let mut ws = with_bearer(&app.url, &key)
        .await
        .expect("the key opens the stream");
    subscribe(&mut ws, &topic, None).await;
    sleep_job(&app.db, acme.tenant_id, 0, 0).await;
    assert!(
        is_event(&next(&mut ws).await),
        "events flow while the key is good"
    );

    // The key's owner revokes it in the portal.
    let owner = app.client();
    owner.sign_in("admin@acme.test", PASSWORD).await;
    let revoked = owner
        .rpc(
            "revoke_api_key",
            &[("key_id", &key_id(&app).await.to_string())],
        )
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    // Events keep coming; the socket ends at the next check (every second here), not never.
    let revoked_at = std::time::Instant::now();
    let producer = {
        let (db, tenant_id) = (app.db.clone(), acme.tenant_id);
        tokio::spawn(async move {
            loop {
                sleep_job(&db, tenant_id, 0, 0).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let (after, code) = until_closed(&mut ws, Duration::from_secs(5)).await;
    producer.abort();
    assert_eq!(code, Some(1008), "closed as a policy violation: {after:?}");
    assert!(said_unauthenticated(&after), "{after:?}");
    assert!(
        revoked_at.elapsed() < Duration::from_secs(3),
        "the revoked key kept receiving for {:?}",
        revoked_at.elapsed()
    );
    // ... and the key opens no new socket.
    match with_bearer(&app.url, &key).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        other => panic!("a revoked key opened the stream: {:?}", other.map(|_| ())),
    }
}

/// Between two periodic checks, a subscription checks the credential itself.
#[tokio::test]
async fn a_revoked_key_subscribes_to_nothing_even_between_checks() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let key = app
        .api_key(acme.user(Role::Member), acme.tenant_id, Role::Member)
        .await;
    let mut ws = with_bearer(&app.url, &key).await.unwrap();
    subscribe(&mut ws, &format!("tenant:{}", acme.tenant_id), None).await;
    sqlx::query("update api_key set revoked_at = now()")
        .execute(&app.db)
        .await
        .unwrap();
    send(
        &mut ws,
        json!({"type": "subscribe", "topic": format!("job:{}", 1)}),
    )
    .await;
    let (after, code) = until_closed(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(code, Some(1008));
    assert!(said_unauthenticated(&after), "{after:?}");
    assert!(!after
        .iter()
        .any(|m| matches!(m, ServerMessage::Subscribed { .. })));
}

/// A browser's socket ends when the person signs out (the cookie path), and a ticket's socket
/// when the session that asked for the ticket is revoked.
#[tokio::test]
async fn a_session_socket_ends_with_its_session() {
    let app = TestApp::spawn_with(|s| s.stream.recheck_every = Duration::from_secs(1)).await;
    let acme = app.tenant_with_roles("acme").await;
    let topic = format!("tenant:{}", acme.tenant_id);

    let browser = app.client();
    browser.sign_in("member@acme.test", PASSWORD).await;
    let mut ws = open(&app.url, "", browser.cookie().as_deref(), Some(&app.url))
        .await
        .unwrap();
    subscribe(&mut ws, &topic, None).await;
    let ticket = browser
        .http
        .post(format!("{}/api/v1/events/ticket", app.url))
        .header(
            "cookie",
            format!("__Host-stratus={}", browser.cookie().unwrap()),
        )
        .header("origin", &app.url)
        .send()
        .await
        .unwrap();
    assert_eq!(ticket.status(), 200);
    let ticket: serde_json::Value = ticket.json().await.unwrap();
    let mut by_ticket = open(
        &app.url,
        &format!("?ticket={}", ticket["ticket"].as_str().unwrap()),
        None,
        None,
    )
    .await
    .unwrap();
    subscribe(&mut by_ticket, &topic, None).await;

    let out = browser.rpc("sign_out", &[]).await;
    assert!(out.status < 400, "{}", out.body);
    for socket in [&mut ws, &mut by_ticket] {
        let (after, code) = until_closed(socket, Duration::from_secs(5)).await;
        assert_eq!(code, Some(1008), "{after:?}");
        assert!(said_unauthenticated(&after), "{after:?}");
    }
}

/// An access token's socket closes at the token's `exp`, not at the next check.
#[tokio::test]
async fn an_access_tokens_socket_closes_when_the_token_expires() {
    let app = TestApp::spawn().await;
    let acme = app.tenant_with_roles("acme").await;
    let user = acme.user(Role::Member);
    app.api_key(user, acme.tenant_id, Role::Member).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": "stratus", "aud": "stratus-api", "sub": user, "tid": acme.tenant_id,
        "key": key_id(&app).await, "role": "member", "iat": now, "nbf": now, "exp": now + 2,
        "jti": Uuid::new_v4(),
    });
    let token = crate::rest_api::forge(
        claims,
        jsonwebtoken::Algorithm::HS256,
        Some("at+jwt"),
        "jwt1",
    );
    let mut ws = with_bearer(&app.url, &token).await.unwrap();
    subscribe(&mut ws, &format!("tenant:{}", acme.tenant_id), None).await;
    let started = std::time::Instant::now();
    let (after, code) = until_closed(&mut ws, Duration::from_secs(10)).await;
    assert_eq!(code, Some(1008), "{after:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "closed at the token's expiry"
    );
}

fn refused_with(result: Result<Ws, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        other => panic!("the handshake was accepted: {:?}", other.map(|_| ())),
    }
}

/// One credential, or one address, cannot hold every socket the process can serve.
#[tokio::test]
async fn sockets_are_capped_per_credential_and_per_address() {
    let app = TestApp::spawn_with(|s| {
        s.stream.max_per_credential = 2;
        s.stream.max_per_address = 3;
    })
    .await;
    let acme = app.tenant_with_roles("acme").await;
    let key_a = app
        .api_key(acme.user(Role::Member), acme.tenant_id, Role::Member)
        .await;
    let key_b = app
        .api_key(acme.user(Role::Viewer), acme.tenant_id, Role::Viewer)
        .await;
    let _a1 = with_bearer(&app.url, &key_a).await.unwrap();
    let mut a2 = with_bearer(&app.url, &key_a).await.unwrap();
    assert_eq!(refused_with(with_bearer(&app.url, &key_a).await), 429);
    // Another credential from the same address: one more socket, then the address is full.
    let _b1 = with_bearer(&app.url, &key_b).await.unwrap();
    assert_eq!(refused_with(with_bearer(&app.url, &key_b).await), 429);
    // A closed socket gives its place back.
    a2.close(None).await.unwrap();
    drop(a2);
    let (url, key) = (app.url.clone(), key_b.clone());
    crate::support::wait_until("a place is free again", Duration::from_secs(5), || {
        let (url, key) = (url.clone(), key.clone());
        async move { with_bearer(&url, &key).await.is_ok() }
    })
    .await;
}

/// Replays from an old event id are bounded in size and in rate per credential.
#[tokio::test]
async fn replays_from_an_old_id_are_capped_and_rate_limited() {
    let app = TestApp::spawn_with(|s| {
        s.stream.max_replay = 5;
        s.stream.replays_per_minute = 2;
    })
    .await;
    let acme = app.tenant_with_roles("acme").await;
    for _ in 0..8 {
        sleep_job(&app.db, acme.tenant_id, 0, 0).await;
    }
    let newest: i64 = sqlx::query_scalar("select max(event_id) from job_event")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let key = app
        .api_key(acme.user(Role::Member), acme.tenant_id, Role::Member)
        .await;
    let topic = format!("tenant:{}", acme.tenant_id);
    let mut ws = with_bearer(&app.url, &key).await.unwrap();
    // Wait until the process's stream has read every event (its head is the newest id).
    loop {
        let head = subscribe(&mut ws, &topic, None).await;
        send(&mut ws, json!({"type": "unsubscribe", "topic": topic})).await;
        assert!(matches!(
            next(&mut ws).await,
            ServerMessage::Unsubscribed { .. }
        ));
        if head >= newest {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A short gap is replayed whole.
    subscribe(&mut ws, &topic, Some(newest - 2)).await;
    for _ in 0..2 {
        assert!(is_event(&next(&mut ws).await));
    }
    send(&mut ws, json!({"type": "unsubscribe", "topic": topic})).await;
    assert!(matches!(
        next(&mut ws).await,
        ServerMessage::Unsubscribed { .. }
    ));

    // A long one sends at most 5 events, then tells the client to reload.
    subscribe(&mut ws, &topic, Some(0)).await;
    let (after, code) = until_closed(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(after.iter().filter(|m| is_event(m)).count(), 5, "{after:?}");
    assert!(
        matches!(after.last(), Some(ServerMessage::Resync { .. })),
        "{after:?}"
    );
    assert_eq!(code, Some(1013));

    // Two replays a minute per credential: a third is refused, on any socket of the key ...
    let mut again = with_bearer(&app.url, &key).await.unwrap();
    send(
        &mut again,
        json!({"type": "subscribe", "topic": topic, "after": 0}),
    )
    .await;
    assert!(
        matches!(next(&mut again).await, ServerMessage::Error { code, .. } if code == "rate_limited")
    );
    // ... while live subscriptions still work.
    subscribe(&mut again, &topic, None).await;
}
