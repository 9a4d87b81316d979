//! `GET /api/v1/events`: the live event stream over WebSocket, and `POST /api/v1/events/ticket`.
//!
//! Three ways in: the session cookie (browsers; the handshake's `Origin` must be the portal's
//! own, exactly, or anyone's page could open a socket with the visitor's cookie), a bearer
//! token, or a single-use ticket in the query string for clients that cannot set headers.

use super::pages::problem;
use crate::startup::AppState;
use app::backend::events::{self, Connection, Delivery, EventHub, Filter};
use app::backend::identity::actor::{Actor, RequestActor};
use app::error::AppError;
use app::live::{ClientMessage, ServerMessage, Topic};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use sqlx::PgPool;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// Each connection's buffer of events not yet written; a client this far behind resyncs.
pub const CONNECTION_BUFFER: usize = 256;
/// The largest message a client may send (and frame).
const MAX_MESSAGE: usize = 64 * 1024;
/// Bytes read per attempt. tungstenite zero-fills this much on every poll of the socket, and a
/// connection is polled once per delivery, so the 128 KiB default cost ~10 µs per event per
/// client (and 128 KiB of memory each); clients send little.
const READ_CHUNK: usize = 4 * 1024;
/// Client messages: a burst of this many, refilled at `RATE_PER_SEC`.
const RATE_BURST: f64 = 40.0;
const RATE_PER_SEC: f64 = 20.0;
const MAX_SUBSCRIPTIONS: usize = 64;
/// Longer gaps are not replayed: the client reloads instead (`resync`).
const MAX_REPLAY: usize = 10_000;
const PING_EVERY: Duration = Duration::from_secs(20);
/// No frame at all from the client (not even a pong) for this long closes the socket.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A write that cannot complete in this time means the client stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Subscriptions are authorized again this often, so a removed member stops receiving.
const REAUTHORIZE_EVERY: Duration = Duration::from_secs(60);

/// What the stream needs from the application state.
#[derive(Clone)]
pub struct EventStream {
    pub hub: EventHub,
    /// The portal's origin (`scheme://host[:port]`), for cookie-authenticated handshakes.
    pub origin: std::sync::Arc<str>,
}

#[derive(Deserialize)]
pub struct HandshakeQuery {
    ticket: Option<String>,
}

pub async fn stream(
    State(state): State<AppState>,
    Query(query): Query<HandshakeQuery>,
    Extension(RequestActor(session_actor)): Extension<RequestActor>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let actor = match authenticate(&state, query.ticket.as_deref(), session_actor, &headers).await {
        Ok(actor) => actor,
        Err(error) => return problem(&error),
    };
    let db = state.db.clone();
    let hub = state.events.hub.clone();
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .read_buffer_size(READ_CHUNK)
        .on_upgrade(move |socket| serve(socket, db, hub, actor))
}

async fn authenticate(
    state: &AppState,
    ticket: Option<&str>,
    session_actor: Option<Actor>,
    headers: &HeaderMap,
) -> Result<Actor, AppError> {
    if let Some(ticket) = ticket {
        return events::redeem_ticket(&state.db, ticket).await;
    }
    if let Some(token) = bearer(headers) {
        return authenticate_bearer(state, token).await;
    }
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if origin != Some(&*state.events.origin) {
        tracing::warn!(origin = ?origin, "event stream: handshake from another origin refused");
        return Err(AppError::Forbidden(
            "This origin may not open the event stream.".into(),
        ));
    }
    session_actor.ok_or(AppError::Unauthenticated)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// API keys and the access tokens exchanged for them; the actor keeps the key's tenant and
/// role limits, which `rbac::authorize` applies to every subscription.
async fn authenticate_bearer(state: &AppState, token: &str) -> Result<Actor, AppError> {
    app::backend::identity::api_keys::authenticate_bearer(&state.db, &state.jwt, token).await
}

/// `POST /api/v1/events/ticket`: a single-use ticket for `GET /api/v1/events?ticket=…`, valid
/// for 30 seconds, for a signed-in person (cookie-authenticated, and so CSRF-checked).
pub async fn ticket(
    State(state): State<AppState>,
    Extension(RequestActor(session_actor)): Extension<RequestActor>,
    headers: HeaderMap,
) -> Response {
    let actor = match bearer(&headers) {
        // A ticket acts as a signed-in person; a key's holder can set the header instead, and
        // a ticket must not widen what the key may do.
        Some(token) => match authenticate_bearer(&state, token).await {
            Ok(_) => Err(AppError::Forbidden(
                "API keys open the event stream with their Authorization header, not a ticket."
                    .into(),
            )),
            Err(e) => Err(e),
        },
        None => session_actor.ok_or(AppError::Unauthenticated),
    };
    let result = match actor {
        Ok(actor) => events::issue_ticket(&state.db, &actor).await,
        Err(error) => Err(error),
    };
    match result {
        Ok(ticket) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({ "ticket": ticket, "expires_in": events::TICKET_TTL_SECS })),
        )
            .into_response(),
        Err(error) => problem(&error),
    }
}

struct Subscribed {
    id: u64,
    topic: String,
    /// Topic's raw form, for re-authorization.
    parsed: Topic,
    /// The newest id sent on this topic: later deliveries at or below it are duplicates.
    last_sent: i64,
}

/// Client messages allowed now (token bucket).
struct RateLimit {
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.at).as_secs_f64() * RATE_PER_SEC)
            .min(RATE_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

enum Flow {
    Continue,
    Close(u16, &'static str),
}

async fn serve(mut socket: WebSocket, db: PgPool, hub: EventHub, actor: Actor) {
    let mut connection = hub.connect();
    metrics::gauge!("stratus_event_connections").increment(1.0);
    let mut subs: HashMap<u64, Subscribed> = HashMap::new();
    let mut rate = RateLimit {
        tokens: RATE_BURST,
        at: Instant::now(),
    };
    let mut heard = Instant::now();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.reset();
    let mut reauthorize = tokio::time::interval(REAUTHORIZE_EVERY);
    reauthorize.reset();
    let overflowed = connection.overflowed.clone();

    let close = loop {
        let flow = tokio::select! {
            biased;
            _ = overflowed.cancelled() => {
                let _ = send(&mut socket, &ServerMessage::Resync {
                    reason: "The connection fell behind the event stream.".into(),
                }).await;
                Flow::Close(1013, "fell behind: resync")
            }
            incoming = socket.recv() => match incoming {
                None | Some(Err(_)) => break None,
                Some(Ok(message)) => {
                    heard = Instant::now();
                    match message {
                        Message::Text(text) => {
                            if !rate.allow() {
                                let _ = send(&mut socket, &error(None, "rate_limited", "Too many messages: slow down.")).await;
                                Flow::Close(1008, "rate limited")
                            } else {
                                handle(&mut socket, &db, &hub, &actor, &mut connection, &mut subs, &text).await
                            }
                        }
                        Message::Binary(_) => {
                            send(&mut socket, &error(None, "bad_request", "Messages are JSON text.")).await
                        }
                        Message::Close(_) => break None,
                        Message::Ping(_) | Message::Pong(_) => Flow::Continue,
                    }
                }
            },
            Some(delivery) = connection.deliveries.recv() => deliver(&mut socket, &mut subs, delivery).await,
            _ = ping.tick() => {
                if heard.elapsed() > IDLE_TIMEOUT {
                    Flow::Close(1001, "idle")
                } else {
                    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Ping(Default::default()))).await {
                        Ok(Ok(())) => Flow::Continue,
                        _ => break None,
                    }
                }
            }
            _ = reauthorize.tick() => revalidate(&mut socket, &db, &hub, &actor, &mut subs).await,
        };
        if let Flow::Close(code, reason) = flow {
            break Some((code, reason));
        }
    };
    hub.disconnect(&connection);
    metrics::gauge!("stratus_event_connections").decrement(1.0);
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        };
        let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
    }
}

fn error(topic: Option<String>, code: &str, message: &str) -> ServerMessage {
    ServerMessage::Error {
        topic,
        code: code.into(),
        message: message.into(),
    }
}

fn error_for(topic: &str, e: &AppError) -> ServerMessage {
    let code = match e {
        AppError::NotFound => "not_found",
        AppError::Forbidden(_) | AppError::Suspended => "forbidden",
        AppError::Unauthenticated => "forbidden",
        AppError::Unavailable => "unavailable",
        _ => "internal",
    };
    error(Some(topic.to_string()), code, &e.to_string())
}

async fn send(socket: &mut WebSocket, message: &ServerMessage) -> Flow {
    let text = serde_json::to_string(message).expect("a server message serializes");
    send_text(socket, text).await
}

async fn send_text(socket: &mut WebSocket, text: String) -> Flow {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
        Ok(Ok(())) => Flow::Continue,
        _ => Flow::Close(1011, "write failed"),
    }
}

fn event_text(topic: &str, json: &str) -> String {
    let topic = serde_json::to_string(topic).expect("a string serializes");
    format!(r#"{{"type":"event","topic":{topic},"event":{json}}}"#)
}

async fn deliver(socket: &mut WebSocket, subs: &mut HashMap<u64, Subscribed>, d: Delivery) -> Flow {
    let Some(sub) = subs.get_mut(&d.subscription) else {
        return Flow::Continue;
    };
    if d.event.id <= sub.last_sent {
        return Flow::Continue;
    }
    sub.last_sent = d.event.id;
    let text = event_text(&sub.topic, &d.event.json);
    send_text(socket, text).await
}

async fn handle(
    socket: &mut WebSocket,
    db: &PgPool,
    hub: &EventHub,
    actor: &Actor,
    connection: &mut Connection,
    subs: &mut HashMap<u64, Subscribed>,
    text: &str,
) -> Flow {
    let message: ClientMessage = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            return send(
                socket,
                &error(None, "bad_request", &format!("Unreadable message: {e}")),
            )
            .await
        }
    };
    match message {
        ClientMessage::Ping => send(socket, &ServerMessage::Pong).await,
        ClientMessage::Unsubscribe { topic } => {
            match subs
                .iter()
                .find(|(_, s)| s.topic == topic)
                .map(|(id, _)| *id)
            {
                Some(id) => {
                    hub.unsubscribe(id);
                    subs.remove(&id);
                    send(socket, &ServerMessage::Unsubscribed { topic }).await
                }
                None => {
                    send(
                        socket,
                        &error(Some(topic), "bad_request", "Not subscribed to this topic."),
                    )
                    .await
                }
            }
        }
        ClientMessage::Subscribe { topic, after } => {
            let parsed: Topic = match topic.parse() {
                Ok(t) => t,
                Err(message) => {
                    return send(socket, &error(Some(topic), "bad_request", &message)).await
                }
            };
            // The canonical spelling, so `job:042` and `job:42` are one subscription.
            let topic = parsed.to_string();
            if subs.values().any(|s| s.topic == topic) {
                return send(
                    socket,
                    &error(
                        Some(topic),
                        "bad_request",
                        "Already subscribed to this topic.",
                    ),
                )
                .await;
            }
            if subs.len() >= MAX_SUBSCRIPTIONS {
                return send(
                    socket,
                    &error(
                        Some(topic),
                        "too_many_subscriptions",
                        "Too many subscriptions on one connection.",
                    ),
                )
                .await;
            }
            if after.is_some_and(|a| a < 0) {
                return send(
                    socket,
                    &error(
                        Some(topic),
                        "bad_request",
                        "after must be an event id (0 or more).",
                    ),
                )
                .await;
            }
            let filter = match events::authorize_topic(db, actor, parsed).await {
                Ok(f) => f,
                Err(e) => return send(socket, &error_for(&topic, &e)).await,
            };
            let (id, head) = match hub.subscribe(connection, filter).await {
                Ok(x) => x,
                Err(e) => return send(socket, &error_for(&topic, &e)).await,
            };
            subs.insert(
                id,
                Subscribed {
                    id,
                    topic: topic.clone(),
                    parsed,
                    last_sent: after.map_or(head, |a| a.max(head)),
                },
            );
            if let Flow::Close(c, r) = send(
                socket,
                &ServerMessage::Subscribed {
                    topic: topic.clone(),
                    head,
                },
            )
            .await
            {
                return Flow::Close(c, r);
            }
            match after {
                Some(after) if after < head => {
                    replay(socket, db, &filter, &topic, after, head).await
                }
                _ => Flow::Continue,
            }
        }
    }
}

/// Sends what the client missed, (after, head], from the table; live events after `head`
/// wait in the connection's buffer meanwhile.
async fn replay(
    socket: &mut WebSocket,
    db: &PgPool,
    filter: &Filter,
    topic: &str,
    mut after: i64,
    head: i64,
) -> Flow {
    let mut sent = 0;
    loop {
        let page = match events::replay(db, filter, after, head, 500).await {
            Ok(p) => p,
            Err(e) => {
                let _ = send(socket, &error_for(topic, &e)).await;
                return Flow::Close(1011, "replay failed");
            }
        };
        let done = page.len() < 500;
        for event in page {
            after = event.id;
            sent += 1;
            if let Flow::Close(c, r) = send_text(socket, event_text(topic, &event.json)).await {
                return Flow::Close(c, r);
            }
        }
        if done {
            return Flow::Continue;
        }
        if sent >= MAX_REPLAY {
            let _ = send(socket, &ServerMessage::Resync {
                reason: format!("More than {MAX_REPLAY} events were missed: reload, then subscribe without after."),
            })
            .await;
            return Flow::Close(1013, "replay too long: resync");
        }
    }
}

/// Authorizes every subscription again: a member removed from the tenant (or a job that was
/// pruned) stops receiving, with an error message naming the topic.
async fn revalidate(
    socket: &mut WebSocket,
    db: &PgPool,
    hub: &EventHub,
    actor: &Actor,
    subs: &mut HashMap<u64, Subscribed>,
) -> Flow {
    let mut refused = Vec::new();
    for sub in subs.values() {
        match events::authorize_topic(db, actor, sub.parsed).await {
            Ok(_) => {}
            Err(AppError::Unavailable) => {}
            Err(e) => refused.push((sub.id, error_for(&sub.topic, &e))),
        }
    }
    for (id, message) in refused {
        hub.unsubscribe(id);
        subs.remove(&id);
        if let Flow::Close(c, r) = send(socket, &message).await {
            return Flow::Close(c, r);
        }
    }
    Flow::Continue
}
