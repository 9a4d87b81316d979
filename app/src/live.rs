//! Live events: the WebSocket protocol of `GET /api/v1/events` (shared by the server and the
//! browser) and `use_live_events`, the hook that keeps a page up to date.
//!
//! Client → server: `{"type":"subscribe","topic":"job:42","after":1234}` (`after` optional: the
//! last event id seen on that topic, to resume), `{"type":"unsubscribe","topic":"job:42"}`,
//! `{"type":"ping"}`. Server → client: `subscribed`, `event`, `unsubscribed`, `error`, `resync`,
//! `pong` (see [`ServerMessage`]). Topics: `tenant:<uuid>`, `job:<id>`, `resource:<uuid>`.

use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;
use uuid::Uuid;

/// What a subscription follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topic {
    Tenant(Uuid),
    Job(i64),
    Resource(Uuid),
}

impl std::str::FromStr for Topic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let invalid =
            || format!("Unknown topic {s:?}: use tenant:<uuid>, job:<id> or resource:<uuid>.");
        let (kind, id) = s.split_once(':').ok_or_else(invalid)?;
        match kind {
            "tenant" => id.parse().map(Topic::Tenant).map_err(|_| invalid()),
            "job" => id
                .parse()
                .ok()
                .filter(|id| *id > 0)
                .map(Topic::Job)
                .ok_or_else(invalid),
            "resource" => id.parse().map(Topic::Resource).map_err(|_| invalid()),
            _ => Err(invalid()),
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Tenant(id) => write!(f, "tenant:{id}"),
            Topic::Job(id) => write!(f, "job:{id}"),
            Topic::Resource(id) => write!(f, "resource:{id}"),
        }
    }
}

/// One job event as the stream carries it. `id` grows monotonically; on one topic events
/// arrive in id order, each exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub id: i64,
    pub job_id: i64,
    pub tenant_id: Option<Uuid>,
    pub resource_id: Option<Uuid>,
    /// `progress`, `log` or `state` (queued, running, succeeded, failed, cancelled, retried).
    pub kind: String,
    pub percent: Option<i16>,
    pub message: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    Subscribe {
        topic: String,
        #[serde(default)]
        after: Option<i64>,
    },
    Unsubscribe {
        topic: String,
    },
    Ping,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// The subscription is live. `head` is the newest event id that was final when it started:
    /// with `after`, the events in (after, head] were replayed right after this message.
    Subscribed {
        topic: String,
        head: i64,
    },
    Event {
        topic: String,
        event: LiveEvent,
    },
    Unsubscribed {
        topic: String,
    },
    /// `code`: `bad_request`, `not_found` (also another tenant's topic), `forbidden`,
    /// `rate_limited`, `too_many_subscriptions`, `unavailable`, `internal`.
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        topic: Option<String>,
        code: String,
        message: String,
    },
    /// The server dropped this connection (it fell behind, or replay would be too long): reload
    /// what you show, then reconnect and subscribe again.
    Resync {
        reason: String,
    },
    Pong,
}

/// The state of the live connection, for the indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveStatus {
    Connecting,
    Live,
    Reconnecting,
    /// The server refused the topic (no access); no retry.
    Refused,
}

impl LiveStatus {
    pub fn label(self) -> &'static str {
        match self {
            LiveStatus::Connecting => "Connecting…",
            LiveStatus::Live => "Live",
            LiveStatus::Reconnecting => "Reconnecting…",
            LiveStatus::Refused => "Live updates unavailable",
        }
    }
}

pub use hook::{use_live_events, LiveEvents};

mod hook {
    use super::*;
    use leptos::prelude::*;

    /// What a page gets from [`use_live_events`].
    #[derive(Clone, Copy)]
    pub struct LiveEvents {
        /// Events received so far (the newest 500), oldest first.
        pub events: ReadSignal<Vec<LiveEvent>>,
        pub status: ReadSignal<LiveStatus>,
        /// Bumped each time a subscription becomes live (first connect and every reconnect):
        /// a page reloads its data then, so nothing that happened while offline is missed.
        pub generation: ReadSignal<u32>,
    }

    /// Follows `topic` over the event stream, reconnecting with backoff and resuming from the
    /// last event id seen. On the server (SSR) it only returns the signals.
    pub fn use_live_events(topic: Signal<Option<String>>) -> LiveEvents {
        let (events, set_events) = signal(Vec::<LiveEvent>::new());
        let (status, set_status) = signal(LiveStatus::Connecting);
        let (generation, set_generation) = signal(0u32);
        // Both features are on when a workspace-wide build unifies them: that build is a server.
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        browser::follow(topic, set_events, set_status, set_generation);
        #[cfg(any(not(feature = "hydrate"), feature = "ssr"))]
        let _ = (topic, set_events, set_status, set_generation);
        LiveEvents {
            events,
            status,
            generation,
        }
    }

    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    mod browser {
        use super::*;
        use send_wrapper::SendWrapper;
        use std::cell::RefCell;
        use std::rc::Rc;
        use wasm_bindgen::prelude::*;
        use web_sys::{CloseEvent, MessageEvent, WebSocket};

        struct Conn {
            topic: Option<String>,
            socket: Option<WebSocket>,
            last_id: Option<i64>,
            failures: u32,
            /// Bumped on topic change and cleanup, so stale callbacks and timers do nothing.
            epoch: u32,
            set_events: WriteSignal<Vec<LiveEvent>>,
            set_status: WriteSignal<LiveStatus>,
            set_generation: WriteSignal<u32>,
        }

        type Shared = Rc<RefCell<Conn>>;

        /// Events kept for the page (the newest).
        const KEEP: usize = 500;

        pub fn follow(
            topic: Signal<Option<String>>,
            set_events: WriteSignal<Vec<LiveEvent>>,
            set_status: WriteSignal<LiveStatus>,
            set_generation: WriteSignal<u32>,
        ) {
            let conn: Shared = Rc::new(RefCell::new(Conn {
                topic: None,
                socket: None,
                last_id: None,
                failures: 0,
                epoch: 0,
                set_events,
                set_status,
                set_generation,
            }));
            let shared = SendWrapper::new(conn.clone());
            Effect::new(move |_| {
                let topic = topic.get();
                let conn = (*shared).clone();
                {
                    let mut c = conn.borrow_mut();
                    if c.topic == topic && c.socket.is_some() {
                        return;
                    }
                    c.epoch += 1;
                    c.topic = topic;
                    c.last_id = None;
                    c.failures = 0;
                    if let Some(old) = c.socket.take() {
                        let _ = old.close();
                    }
                    c.set_events.set(Vec::new());
                }
                open(&conn);
            });
            let cleanup = SendWrapper::new(conn);
            on_cleanup(move || {
                let mut c = cleanup.borrow_mut();
                c.epoch += 1;
                if let Some(socket) = c.socket.take() {
                    let _ = socket.close();
                }
            });
        }

        fn url() -> Option<String> {
            let location = web_sys::window()?.location();
            let scheme = if location.protocol().ok()? == "https:" {
                "wss"
            } else {
                "ws"
            };
            Some(format!(
                "{scheme}://{}/api/v1/events",
                location.host().ok()?
            ))
        }

        fn open(conn: &Shared) {
            let (topic, epoch) = {
                let c = conn.borrow();
                (c.topic.clone(), c.epoch)
            };
            let Some(topic) = topic else { return };
            let Some(socket) = url().and_then(|u| WebSocket::new(&u).ok()) else {
                retry_later(conn, epoch);
                return;
            };

            let on_open = {
                let conn = conn.clone();
                let socket = socket.clone();
                Closure::<dyn FnMut()>::new(move || {
                    let after = conn.borrow().last_id;
                    let message = ClientMessage::Subscribe {
                        topic: topic.clone(),
                        after,
                    };
                    if let Ok(text) = serde_json::to_string(&message) {
                        let _ = socket.send_with_str(&text);
                    }
                })
            };
            let on_message = {
                let conn = conn.clone();
                Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                    let Some(text) = e.data().as_string() else {
                        return;
                    };
                    let Ok(message) = serde_json::from_str::<ServerMessage>(&text) else {
                        return;
                    };
                    let mut c = conn.borrow_mut();
                    if c.epoch != epoch {
                        return;
                    }
                    match message {
                        ServerMessage::Subscribed { .. } => {
                            c.failures = 0;
                            c.set_status.set(LiveStatus::Live);
                            c.set_generation.update(|g| *g += 1);
                        }
                        ServerMessage::Event { event, .. } => {
                            if c.last_id.is_some_and(|last| event.id <= last) {
                                return;
                            }
                            c.last_id = Some(event.id);
                            c.set_events.update(|list| {
                                list.push(event);
                                if list.len() > KEEP {
                                    list.drain(..list.len() - KEEP);
                                }
                            });
                        }
                        ServerMessage::Error { code, .. }
                            if code == "not_found" || code == "forbidden" =>
                        {
                            c.epoch += 1;
                            c.set_status.set(LiveStatus::Refused);
                            if let Some(socket) = c.socket.take() {
                                let _ = socket.close();
                            }
                        }
                        // The server closes after a resync: reload everything on reconnect.
                        ServerMessage::Resync { .. } => c.last_id = None,
                        _ => {}
                    }
                })
            };
            let on_close = {
                let conn = conn.clone();
                Closure::<dyn FnMut(CloseEvent)>::new(move |_e: CloseEvent| {
                    {
                        let mut c = conn.borrow_mut();
                        if c.epoch != epoch {
                            return;
                        }
                        c.socket = None;
                        c.failures += 1;
                        c.set_status.set(LiveStatus::Reconnecting);
                    }
                    retry_later(&conn, epoch);
                })
            };
            socket.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));
            // The socket owns its callbacks for as long as it lives.
            on_open.forget();
            on_message.forget();
            on_close.forget();
            conn.borrow_mut().socket = Some(socket);
        }

        /// Exponential backoff with jitter: 0.5 s, 1 s, 2 s … up to 30 s.
        fn retry_later(conn: &Shared, epoch: u32) {
            let failures = conn.borrow().failures.min(7);
            let base = 500.0 * f64::from(1u32 << failures.saturating_sub(1));
            let delay = (base * (0.5 + js_sys::Math::random())).min(30_000.0);
            let conn = SendWrapper::new(conn.clone());
            set_timeout(
                move || {
                    if conn.borrow().epoch == epoch {
                        open(&conn);
                    }
                },
                std::time::Duration::from_millis(delay as u64),
            );
        }
    }
}
