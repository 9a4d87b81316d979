//! `GET /api/v1/events`: the live event stream over WebSocket, and `POST /api/v1/events/ticket`.
//!
//! Three ways in: the session cookie (browsers; the handshake's `Origin` must be the portal's
//! own, exactly, or anyone's page could open a socket with the visitor's cookie), a bearer
//! token, or a single-use ticket in the query string for clients that cannot set headers.

use super::pages::problem;
use crate::startup::AppState;
use app::backend::events::{self, Connection, Delivery, EventHub, Filter};
use app::backend::identity::actor::{Actor, RequestActor};
use app::backend::identity::credential::{self, Credential};
use app::backend::identity::user_sessions::{address_bucket, ClientAddress};
use app::backend::identity::{api_keys, session as identity_session};
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
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tower_sessions::Session;

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
const PING_EVERY: Duration = Duration::from_secs(20);
/// No frame at all from the client (not even a pong) for this long closes the socket.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// A write that cannot complete in this time means the client stopped reading.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What the stream needs from the application state.
#[derive(Clone)]
pub struct EventStream {
    pub hub: EventHub,
    /// The portal's origin (`scheme://host[:port]`), for cookie-authenticated handshakes.
    pub origin: std::sync::Arc<str>,
    /// How often a socket's credential and subscriptions are checked again, so a revoked key,
    /// an ended session or a removed member stops receiving.
    pub recheck_every: Duration,
    /// What one credential or address may take (sockets, replays).
    pub admission: Admission,
}

/// Caps on open sockets per credential and per client address, and the replay budget per
/// credential, for this process. A socket holds its place (an [`Admitted`]) until it ends.
#[derive(Clone)]
pub struct Admission {
    inner: Arc<Mutex<AdmissionState>>,
    pub limits: StreamLimits,
}

#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    pub per_credential: usize,
    pub per_address: usize,
    /// Most events one replay sends before the client is told to reload.
    pub max_replay: usize,
    pub replays_per_minute: u32,
}

#[derive(Default)]
struct AdmissionState {
    open: HashMap<String, usize>,
    /// Replays allowed now per credential (a token bucket: tokens, last refill).
    replays: HashMap<String, (f64, Instant)>,
}

/// A socket's place in the caps; given back when dropped.
pub struct Admitted {
    admission: Admission,
    keys: [String; 2],
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut state = self.admission.inner.lock().expect("admission lock");
        for key in &self.keys {
            if let Some(n) = state.open.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    state.open.remove(key);
                }
            }
        }
    }
}

impl Admission {
    pub fn new(limits: StreamLimits) -> Admission {
        Admission {
            inner: Default::default(),
            limits,
        }
    }

    /// Takes a place for one more socket of `holder` from `address`, or says which cap is full.
    fn admit(&self, holder: &str, address: &str) -> Result<Admitted, AppError> {
        let keys = [format!("credential {holder}"), format!("address {address}")];
        let caps = [self.limits.per_credential, self.limits.per_address];
        let mut state = self.inner.lock().expect("admission lock");
        for (key, cap) in keys.iter().zip(caps) {
            if state.open.get(key).copied().unwrap_or(0) >= cap {
                tracing::warn!(%key, cap, "event stream: socket refused, cap reached");
                return Err(AppError::RateLimited {
                    retry_after_secs: 10,
                });
            }
        }
        for key in &keys {
            *state.open.entry(key.clone()).or_default() += 1;
        }
        Ok(Admitted {
            admission: self.clone(),
            keys,
        })
    }

    /// Whether `holder` may replay from an old event id now (a bucket of `replays_per_minute`,
    /// refilled continuously).
    fn allow_replay(&self, holder: &str) -> bool {
        let per_minute = f64::from(self.limits.replays_per_minute);
        let now = Instant::now();
        let mut state = self.inner.lock().expect("admission lock");
        if state.replays.len() > 10_000 {
            // Forget buckets that are full again, so the map stays small.
            state.replays.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * per_minute / 60.0 < per_minute
            });
        }
        let (tokens, at) = state
            .replays
            .entry(holder.to_string())
            .or_insert((per_minute, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * per_minute / 60.0).min(per_minute);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Deserialize)]
pub struct HandshakeQuery {
    ticket: Option<String>,
}

pub async fn stream(
    State(state): State<AppState>,
    Query(query): Query<HandshakeQuery>,
    Extension(RequestActor(session_actor)): Extension<RequestActor>,
    client: Option<Extension<ClientAddress>>,
    session: Session,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let (actor, credential) = match authenticate(
        &state,
        query.ticket.as_deref(),
        session_actor,
        &session,
        &headers,
    )
    .await
    {
        Ok(found) => found,
        Err(error) => return problem(&error),
    };
    let address = client.map_or_else(
        || "unknown".to_string(),
        |Extension(ClientAddress(ip))| address_bucket(ip),
    );
    let admitted = match state.events.admission.admit(&credential.holder(), &address) {
        Ok(admitted) => admitted,
        Err(error) => return problem(&error),
    };
    let socket_state = SocketState {
        db: state.db.clone(),
        hub: state.events.hub.clone(),
        actor,
        credential,
        recheck_every: state.events.recheck_every,
        admission: state.events.admission.clone(),
        _admitted: admitted,
    };
    upgrade
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .read_buffer_size(READ_CHUNK)
        .on_upgrade(move |socket| serve(socket, socket_state))
}

/// What one socket works with: who it acts for and the credential that must stay good.
struct SocketState {
    db: PgPool,
    hub: EventHub,
    actor: Actor,
    credential: Credential,
    recheck_every: Duration,
    admission: Admission,
    /// Held for the socket's life: its place in the caps.
    _admitted: Admitted,
}

async fn authenticate(
    state: &AppState,
    ticket: Option<&str>,
    session_actor: Option<Actor>,
    session: &Session,
    headers: &HeaderMap,
) -> Result<(Actor, Credential), AppError> {
    if let Some(ticket) = ticket {
        return events::redeem_ticket(&state.db, ticket).await;
    }
    if let Some(token) = bearer(headers) {
        return api_keys::authenticate_bearer_credential(&state.db, &state.jwt, token).await;
    }
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    if origin != Some(&*state.events.origin) {
        tracing::warn!(origin = ?origin, "event stream: handshake from another origin refused");
        return Err(AppError::Forbidden(
            "This origin may not open the event stream.".into(),
        ));
    }
    let actor = session_actor.ok_or(AppError::Unauthenticated)?;
    let credential = identity_session::credential(session)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    Ok((actor, credential))
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
    api_keys::authenticate_bearer(&state.db, &state.jwt, token).await
}

/// `POST /api/v1/events/ticket`: a single-use ticket for `GET /api/v1/events?ticket=…`, valid
/// for 30 seconds, for a signed-in person (cookie-authenticated, and so CSRF-checked).
pub async fn ticket(
    State(state): State<AppState>,
    Extension(RequestActor(session_actor)): Extension<RequestActor>,
    session: Session,
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
        Ok(actor) => match identity_session::credential(&session).await {
            Ok(Some(credential)) => events::issue_ticket(&state.db, &actor, &credential).await,
            Ok(None) => Err(AppError::Unauthenticated),
            Err(error) => Err(error),
        },
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

async fn serve(mut socket: WebSocket, state: SocketState) {
    let SocketState {
        db,
        hub,
        actor,
        credential,
        recheck_every,
        admission,
        _admitted,
    } = state;
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
    let mut reauthorize = tokio::time::interval(recheck_every);
    reauthorize.reset();
    let overflowed = connection.overflowed.clone();
    // An access token ends the stream at its `exp`, between two checks or not.
    let expiry = credential.expires_at().map(|at| {
        let left = (at - time::OffsetDateTime::now_utc()).max(time::Duration::ZERO);
        Instant::now() + Duration::try_from(left).unwrap_or_default()
    });
    let expired = async {
        match expiry {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expired);

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
                                let who = Who { actor: &actor, credential: &credential, admission: &admission };
                                handle(&mut socket, &db, &hub, &who, &mut connection, &mut subs, &text).await
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
            _ = &mut expired => {
                let _ = send(&mut socket, &credential_gone(&AppError::InvalidToken("The access token has expired.".into()))).await;
                Flow::Close(1008, "credential expired")
            }
            _ = reauthorize.tick() => revalidate(&mut socket, &db, &hub, &actor, &credential, &mut subs).await,
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

/// Who a socket acts for, and what bounds it.
struct Who<'a> {
    actor: &'a Actor,
    credential: &'a Credential,
    admission: &'a Admission,
}

async fn handle(
    socket: &mut WebSocket,
    db: &PgPool,
    hub: &EventHub,
    who: &Who<'_>,
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
            // The credential itself first: a revoked key or an ended session subscribes to
            // nothing, and the socket closes.
            match credential::check(db, who.credential).await {
                Ok(()) => {}
                Err(AppError::Unavailable) => {
                    return send(socket, &error_for(&topic, &AppError::Unavailable)).await
                }
                Err(e) => {
                    let _ = send(socket, &credential_gone(&e)).await;
                    return Flow::Close(1008, "credential no longer valid");
                }
            }
            let replaying = after.is_some_and(|a| a >= 0);
            if replaying && !who.admission.allow_replay(&who.credential.holder()) {
                return send(
                    socket,
                    &error(
                        Some(topic),
                        "rate_limited",
                        "Too many replays from an old event id: wait a little, or subscribe without after.",
                    ),
                )
                .await;
            }
            let filter = match events::authorize_topic(db, who.actor, parsed).await {
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
                    let max = who.admission.limits.max_replay;
                    replay(socket, db, &filter, &topic, after, head, max).await
                }
                _ => Flow::Continue,
            }
        }
    }
}

/// Sends what the client missed, (after, head], from the table, at most `max` events (past
/// that the client is told to reload); live events after `head` wait in the connection's
/// buffer meanwhile.
async fn replay(
    socket: &mut WebSocket,
    db: &PgPool,
    filter: &Filter,
    topic: &str,
    mut after: i64,
    head: i64,
    max: usize,
) -> Flow {
    let mut sent = 0;
    loop {
        // One more than may be sent, to tell "exactly max" from "more than max".
        let want = (max + 1 - sent).min(500);
        let page = match events::replay(db, filter, after, head, want as i64).await {
            Ok(p) => p,
            Err(e) => {
                let _ = send(socket, &error_for(topic, &e)).await;
                return Flow::Close(1011, "replay failed");
            }
        };
        let full = page.len() == want;
        for event in page {
            if sent == max {
                let _ = send(socket, &ServerMessage::Resync {
                    reason: format!("More than {max} events were missed: reload, then subscribe without after."),
                })
                .await;
                return Flow::Close(1013, "replay too long: resync");
            }
            after = event.id;
            sent += 1;
            if let Flow::Close(c, r) = send_text(socket, event_text(topic, &event.json)).await {
                return Flow::Close(c, r);
            }
        }
        if !full {
            return Flow::Continue;
        }
    }
}

/// The message before a socket closes because its credential stopped working.
fn credential_gone(e: &AppError) -> ServerMessage {
    error(
        None,
        "unauthenticated",
        &format!("{e} The event stream is closed; connect again with a valid credential."),
    )
}

/// Checks the credential again (a revoked key, expired token or ended session closes the
/// socket), then authorizes every subscription again: a member removed from the tenant (or a
/// job that was pruned) stops receiving, with an error message naming the topic.
async fn revalidate(
    socket: &mut WebSocket,
    db: &PgPool,
    hub: &EventHub,
    actor: &Actor,
    credential: &Credential,
    subs: &mut HashMap<u64, Subscribed>,
) -> Flow {
    match credential::check(db, credential).await {
        // The database is away: keep the socket, check again next time.
        Ok(()) | Err(AppError::Unavailable) => {}
        Err(e) => {
            tracing::info!(user_id = %actor.user_id, "event stream: credential no longer valid; closing");
            let _ = send(socket, &credential_gone(&e)).await;
            return Flow::Close(1008, "credential no longer valid");
        }
    }
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
