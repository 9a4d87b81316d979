//! The live event feed: one PostgreSQL listener per process fans job events out to every
//! WebSocket of that process, in commit-safe id order, with no gap and no duplicate.
//!
//! Event ids come from an identity column, so a transaction can draw id 10, another id 11,
//! and the second commit first. The hub therefore delivers only a *contiguous* prefix of ids:
//! its cursor is the highest id below which every id is final (visible, or known never to
//! appear). On a hole at `cursor + 1` it notes the snapshot's `xmax`; once the oldest running
//! transaction (`xmin`) has passed it, every transaction that could have drawn the missing id
//! has ended, and an id still missing belonged to a rolled-back insert: it is skipped. Every
//! writer of `job_event` has written (and so holds an xid) before it draws an event id.
//!
//! Fan-out holds no lock while sending: the publisher moves the cursor and takes a per-tenant
//! routing table (rebuilt only after a subscription changes) under the lock, then sends to that
//! tenant's subscriptions alone. Subscribing never waits for a fan-out, nor it for subscribers.

use crate::backend::identity::actor::Actor;
use crate::backend::identity::credential::Credential;
use crate::backend::jobs::queue::EVENTS_CHANNEL;
use crate::error::AppError;
use crate::live::{LiveEvent, Topic};
use crate::rbac::{authorize, Action};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgListener;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Events read per query while catching up.
const BATCH: i64 = 500;
/// Without a NOTIFY (lost while the listener reconnected), the table is read this often anyway.
const POLL: Duration = Duration::from_millis(500);
/// A hole that outlives this is skipped even if an old transaction is still open (an idle
/// session in a transaction must not stall every stream).
const HOLE_PATIENCE: Duration = Duration::from_secs(30);

/// What a subscription lets through, after authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    pub tenant_id: Uuid,
    pub job_id: Option<i64>,
    pub resource_id: Option<Uuid>,
}

impl Filter {
    fn matches(&self, e: &HubEvent) -> bool {
        e.tenant_id == Some(self.tenant_id)
            && self.job_id.is_none_or(|j| j == e.job_id)
            && self.resource_id.is_none_or(|r| Some(r) == e.resource_id)
    }
}

/// An event as the hub fans it out: serialized once for every socket.
#[derive(Debug)]
pub struct HubEvent {
    pub id: i64,
    pub job_id: i64,
    pub tenant_id: Option<Uuid>,
    pub resource_id: Option<Uuid>,
    /// The event as JSON (a [`LiveEvent`]).
    pub json: Box<str>,
}

/// One event for one subscription of a connection.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub subscription: u64,
    pub event: Arc<HubEvent>,
}

/// A connection's side of the hub: its bounded buffer and the signal that it fell behind.
pub struct Connection {
    pub id: u64,
    pub deliveries: mpsc::Receiver<Delivery>,
    /// Fired when the buffer overflowed: the connection must send `resync` and close.
    pub overflowed: CancellationToken,
    sender: mpsc::Sender<Delivery>,
}

struct Subscription {
    connection: u64,
    filter: Filter,
    sender: mpsc::Sender<Delivery>,
    overflowed: CancellationToken,
}

/// The subscriptions of each tenant, as the publisher reads them.
type Routes = HashMap<Uuid, Vec<(u64, Arc<Subscription>)>>;

#[derive(Default)]
struct HubState {
    /// Every id up to here is final and has been (or is being) fanned out.
    cursor: i64,
    subscriptions: HashMap<u64, Arc<Subscription>>,
    /// A copy of `subscriptions` by tenant, rebuilt after a change. The publisher takes it (an
    /// `Arc` clone) under the lock and fans out without it, so subscribing, unsubscribing and
    /// other processes' work never wait for a fan-out to every socket, nor it for them.
    routes: Option<Arc<Routes>>,
}

impl HubState {
    fn changed(&mut self) {
        self.routes = None;
    }

    fn routes(&mut self) -> Arc<Routes> {
        if let Some(routes) = &self.routes {
            return routes.clone();
        }
        let mut routes: Routes = HashMap::new();
        for (id, sub) in &self.subscriptions {
            routes
                .entry(sub.filter.tenant_id)
                .or_default()
                .push((*id, sub.clone()));
        }
        let routes = Arc::new(routes);
        self.routes = Some(routes.clone());
        routes
    }
}

/// The process-wide fan-out (cheap to clone).
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<HubState>,
    ready: watch::Receiver<bool>,
    next_id: AtomicU64,
    buffer: usize,
}

#[derive(sqlx::FromRow)]
struct Row {
    xmin: i64,
    xmax: i64,
    event_id: Option<i64>,
    job_id: Option<i64>,
    tenant_id: Option<Uuid>,
    resource_id: Option<Uuid>,
    kind: Option<String>,
    percent: Option<i16>,
    message: Option<String>,
    created_at: Option<OffsetDateTime>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    event_id: i64,
    job_id: i64,
    tenant_id: Option<Uuid>,
    resource_id: Option<Uuid>,
    kind: String,
    percent: Option<i16>,
    message: String,
    created_at: OffsetDateTime,
}

impl EventRow {
    fn into_hub_event(self) -> HubEvent {
        let event = LiveEvent {
            id: self.event_id,
            job_id: self.job_id,
            tenant_id: self.tenant_id,
            resource_id: self.resource_id,
            kind: self.kind,
            percent: self.percent,
            message: self.message,
            at: self.created_at,
        };
        HubEvent {
            id: event.id,
            job_id: event.job_id,
            tenant_id: event.tenant_id,
            resource_id: event.resource_id,
            json: serde_json::to_string(&event)
                .expect("an event serializes")
                .into(),
        }
    }
}

/// A hole in the ids right after the cursor, waiting for its transaction to end.
struct Hole {
    at: i64,
    xmax: i64,
    since: Instant,
}

impl EventHub {
    /// Starts the process's listener; `buffer` is each connection's queue length.
    pub fn start(db: PgPool, buffer: usize, stop: CancellationToken) -> EventHub {
        let (ready_tx, ready) = watch::channel(false);
        let hub = EventHub {
            inner: Arc::new(Inner {
                state: Mutex::new(HubState::default()),
                ready,
                next_id: AtomicU64::new(1),
                buffer: buffer.max(1),
            }),
        };
        tokio::spawn(hub.clone().run(db, ready_tx, stop));
        hub
    }

    /// A new connection with its own bounded buffer.
    pub fn connect(&self) -> Connection {
        let (sender, deliveries) = mpsc::channel(self.inner.buffer);
        Connection {
            id: self.inner.next_id.fetch_add(1, Ordering::Relaxed),
            deliveries,
            overflowed: CancellationToken::new(),
            sender,
        }
    }

    /// Adds a subscription; returns its id and the cursor at that instant. Every event after
    /// the cursor will be delivered live; the caller replays the ones it missed up to it.
    pub async fn subscribe(
        &self,
        connection: &Connection,
        filter: Filter,
    ) -> Result<(u64, i64), AppError> {
        let mut ready = self.inner.ready.clone();
        tokio::time::timeout(Duration::from_secs(10), ready.wait_for(|r| *r))
            .await
            .map_err(|_| AppError::Unavailable)?
            .map_err(|_| AppError::Unavailable)?;
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut state = self.inner.state.lock().expect("hub lock");
        state.subscriptions.insert(
            id,
            Arc::new(Subscription {
                connection: connection.id,
                filter,
                sender: connection.sender.clone(),
                overflowed: connection.overflowed.clone(),
            }),
        );
        state.changed();
        Ok((id, state.cursor))
    }

    pub fn unsubscribe(&self, subscription: u64) {
        let mut state = self.inner.state.lock().expect("hub lock");
        if state.subscriptions.remove(&subscription).is_some() {
            state.changed();
        }
    }

    pub fn disconnect(&self, connection: &Connection) {
        let mut state = self.inner.state.lock().expect("hub lock");
        let before = state.subscriptions.len();
        state
            .subscriptions
            .retain(|_, s| s.connection != connection.id);
        if state.subscriptions.len() != before {
            state.changed();
        }
    }

    /// Subscriptions currently open in this process.
    pub fn subscriptions(&self) -> usize {
        self.inner
            .state
            .lock()
            .expect("hub lock")
            .subscriptions
            .len()
    }

    /// Fans a batch out. The cursor moves first, in the same lock as taking the routes: a
    /// subscription made after that sees the new cursor and replays the batch from the table;
    /// one made before is in the routes and gets it live. No gap either way, and the lock is
    /// not held while sending.
    fn publish(&self, events: Vec<HubEvent>, cursor: i64) {
        let routes = {
            let mut state = self.inner.state.lock().expect("hub lock");
            state.cursor = cursor;
            state.routes()
        };
        let mut behind = Vec::new();
        for event in events {
            let Some(subs) = event.tenant_id.and_then(|t| routes.get(&t)) else {
                continue;
            };
            let event = Arc::new(event);
            for (id, sub) in subs {
                if !sub.filter.matches(&event) || sub.overflowed.is_cancelled() {
                    continue;
                }
                let delivery = Delivery {
                    subscription: *id,
                    event: event.clone(),
                };
                if sub.sender.try_send(delivery).is_err() {
                    // A slow client must not hold the others back: it resyncs instead.
                    sub.overflowed.cancel();
                    behind.push(sub.connection);
                }
            }
        }
        if !behind.is_empty() {
            let mut state = self.inner.state.lock().expect("hub lock");
            state
                .subscriptions
                .retain(|_, s| !behind.contains(&s.connection));
            state.changed();
        }
    }

    async fn run(self, db: PgPool, ready: watch::Sender<bool>, stop: CancellationToken) {
        let mut listener = None;
        let mut cursor = None;
        let mut hole: Option<Hole> = None;
        let mut poll = tokio::time::interval(POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if listener.is_none() {
                listener = listen(&db).await;
            }
            if cursor.is_none() {
                match start_cursor(&db).await {
                    Ok(c) => {
                        self.inner.state.lock().expect("hub lock").cursor = c;
                        cursor = Some(c);
                        let _ = ready.send(true);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "event stream: cannot read the event log yet")
                    }
                }
            }
            if let Some(c) = cursor {
                match self.catch_up(&db, c, &mut hole).await {
                    Ok(c) => cursor = Some(c),
                    Err(error) => tracing::warn!(%error, "event stream: reading new events failed"),
                }
            }
            // Wait for a NOTIFY (any payload: the table is the truth) or the poll.
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stop.cancelled() => return,
                result = notified => {
                    if let Err(error) = result {
                        tracing::warn!(%error, "event stream: listener lost; polling until it is back");
                        listener = None;
                    }
                    // Several NOTIFYs are answered by one read.
                    if let Some(l) = listener.as_mut() {
                        while l.next_buffered().is_some() {}
                    }
                }
                _ = poll.tick() => {}
            }
        }
    }

    /// Reads and fans out what became final since `cursor`; returns the new cursor.
    async fn catch_up(
        &self,
        db: &PgPool,
        mut cursor: i64,
        hole: &mut Option<Hole>,
    ) -> Result<i64, sqlx::Error> {
        loop {
            // One statement: the rows and the snapshot they were read in.
            let rows: Vec<Row> = sqlx::query_as(
                "with snap as (select pg_current_snapshot() as s)
                 select pg_snapshot_xmin(s)::text::int8 as xmin, pg_snapshot_xmax(s)::text::int8 as xmax,
                        e.event_id, e.job_id, e.tenant_id, e.resource_id, e.kind, e.percent, e.message, e.created_at
                 from snap left join lateral (
                     select e.event_id, e.job_id, e.tenant_id, j.resource_id, e.kind, e.percent, e.message, e.created_at
                     from job_event e left join job j on j.job_id = e.job_id
                     where e.event_id > $1 order by e.event_id limit $2
                 ) e on true",
            )
            .bind(cursor)
            .bind(BATCH)
            .fetch_all(db)
            .await?;
            let (Some(first), read) = (rows.first(), rows.len() as i64) else {
                return Ok(cursor);
            };
            let (xmin, xmax) = (first.xmin, first.xmax);
            let start = cursor;
            let mut events = Vec::new();
            for row in rows {
                let Some(id) = row.event_id else { break };
                if id != cursor + 1 {
                    match hole {
                        Some(h)
                            if h.at == cursor + 1
                                && (xmin >= h.xmax || h.since.elapsed() > HOLE_PATIENCE) =>
                        {
                            if xmin < h.xmax {
                                tracing::warn!(
                                    from = cursor + 1,
                                    to = id - 1,
                                    "event stream: skipping ids held by a transaction open for {}s",
                                    HOLE_PATIENCE.as_secs()
                                );
                            }
                            *hole = None;
                        }
                        Some(h) if h.at == cursor + 1 => break,
                        _ => {
                            *hole = Some(Hole {
                                at: cursor + 1,
                                xmax,
                                since: Instant::now(),
                            });
                            break;
                        }
                    }
                }
                cursor = id;
                events.push(
                    EventRow {
                        event_id: id,
                        job_id: row.job_id.unwrap_or_default(),
                        tenant_id: row.tenant_id,
                        resource_id: row.resource_id,
                        kind: row.kind.unwrap_or_default(),
                        percent: row.percent,
                        message: row.message.unwrap_or_default(),
                        created_at: row.created_at.unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    }
                    .into_hub_event(),
                );
            }
            if hole.as_ref().is_some_and(|h| h.at <= cursor) {
                *hole = None;
            }
            let progressed = cursor > start;
            if progressed {
                self.publish(events, cursor);
            }
            if !progressed || read < BATCH {
                return Ok(cursor);
            }
        }
    }
}

async fn listen(db: &PgPool) -> Option<PgListener> {
    let mut listener = match PgListener::connect_with(db).await {
        Ok(l) => l,
        Err(error) => {
            tracing::warn!(%error, "event stream: cannot connect the listener");
            return None;
        }
    };
    match listener.listen(EVENTS_CHANNEL).await {
        Ok(()) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, "event stream: cannot LISTEN");
            None
        }
    }
}

/// The cursor a fresh process starts from: the newest id, once every transaction that was
/// open when it was read has ended (so no smaller id can still appear).
async fn start_cursor(db: &PgPool) -> Result<i64, sqlx::Error> {
    let (max, xmax): (i64, i64) = sqlx::query_as(
        "select coalesce(max(event_id), 0), pg_snapshot_xmax(pg_current_snapshot())::text::int8 from job_event",
    )
    .fetch_one(db)
    .await?;
    let since = Instant::now();
    loop {
        let xmin: i64 =
            sqlx::query_scalar("select pg_snapshot_xmin(pg_current_snapshot())::text::int8")
                .fetch_one(db)
                .await?;
        if xmin >= xmax || since.elapsed() > HOLE_PATIENCE {
            return Ok(max);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Authorizes a subscription like any read of the same data: another tenant's tenant, job
/// or resource answers `NotFound`, as a missing one does.
pub async fn authorize_topic(db: &PgPool, actor: &Actor, topic: Topic) -> Result<Filter, AppError> {
    let filter = match topic {
        Topic::Tenant(tenant_id) => Filter {
            tenant_id,
            job_id: None,
            resource_id: None,
        },
        Topic::Job(job_id) => {
            let tenant: Option<Option<Uuid>> =
                sqlx::query_scalar("select tenant_id from job where job_id = $1")
                    .bind(job_id)
                    .fetch_optional(db)
                    .await?;
            Filter {
                tenant_id: tenant.flatten().ok_or(AppError::NotFound)?,
                job_id: Some(job_id),
                resource_id: None,
            }
        }
        Topic::Resource(resource_id) => {
            let tenant: Option<Option<Uuid>> = sqlx::query_scalar(
                "select tenant_id from job where resource_id = $1 order by job_id desc limit 1",
            )
            .bind(resource_id)
            .fetch_optional(db)
            .await?;
            Filter {
                tenant_id: tenant.flatten().ok_or(AppError::NotFound)?,
                job_id: None,
                resource_id: Some(resource_id),
            }
        }
    };
    authorize(db, actor, filter.tenant_id, Action::ViewJobs).await?;
    Ok(filter)
}

/// The subscription's events with ids in (after, until], oldest first, at most `limit`.
pub async fn replay(
    db: &PgPool,
    filter: &Filter,
    after: i64,
    until: i64,
    limit: i64,
) -> Result<Vec<HubEvent>, AppError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "select e.event_id, e.job_id, e.tenant_id, j.resource_id, e.kind, e.percent, e.message, e.created_at
         from job_event e join job j on j.job_id = e.job_id
         where e.tenant_id = $1 and e.event_id > $2 and e.event_id <= $3
           and ($4::int8 is null or e.job_id = $4) and ($5::uuid is null or j.resource_id = $5)
         order by e.event_id limit $6",
    )
    .bind(filter.tenant_id)
    .bind(after)
    .bind(until)
    .bind(filter.job_id)
    .bind(filter.resource_id)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(EventRow::into_hub_event).collect())
}

// ----- Tickets ------------------------------------------------------------------------------------

/// How long a ticket may wait before its handshake.
pub const TICKET_TTL_SECS: i64 = 30;

fn ticket_hash(ticket: &str) -> Vec<u8> {
    Sha256::digest(ticket.as_bytes()).to_vec()
}

/// A single-use credential for one handshake, for clients that cannot set headers. It is
/// bound to the browser session that asked for it: the stream it opens ends with that session.
pub async fn issue_ticket(
    db: &PgPool,
    actor: &Actor,
    credential: &Credential,
) -> Result<String, AppError> {
    if actor.key_scope().is_some() {
        // A ticket acts as its person; an API key's narrower scope would be lost.
        return Err(AppError::Forbidden(
            "API keys open the event stream with their Authorization header.".into(),
        ));
    }
    let Credential::Session {
        user_session_id,
        user_id,
        epoch,
    } = *credential
    else {
        return Err(AppError::Unauthenticated);
    };
    if user_id != actor.user_id {
        return Err(AppError::Unauthenticated);
    }
    use base64::Engine;
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let ticket = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    sqlx::query("delete from event_ticket where expires_at < now()")
        .execute(db)
        .await?;
    sqlx::query(
        "insert into event_ticket (ticket_hash, user_id, expires_at, user_session_id, session_epoch)
         values ($1, $2, now() + $3 * interval '1 second', $4, $5)",
    )
    .bind(ticket_hash(&ticket))
    .bind(actor.user_id)
    .bind(TICKET_TTL_SECS as f64)
    .bind(user_session_id)
    .bind(epoch)
    .execute(db)
    .await?;
    Ok(ticket)
}

/// Spends a ticket: the actor it was issued to and the session behind it, or
/// `Unauthenticated` (unknown, used, expired, or its session or user has ended since).
pub async fn redeem_ticket(db: &PgPool, ticket: &str) -> Result<(Actor, Credential), AppError> {
    let row: Option<(Uuid, String, String, bool, Uuid, i32)> = sqlx::query_as(
        "with spent as (
             delete from event_ticket where ticket_hash = $1
             returning user_id, expires_at, user_session_id, session_epoch
         )
         select u.user_id, u.email, u.display_name, u.platform_admin, spent.user_session_id, spent.session_epoch
         from spent join app_user u using (user_id)
         where spent.expires_at > now() and u.disabled_at is null
           and spent.user_session_id is not null and spent.session_epoch = u.session_epoch",
    )
    .bind(ticket_hash(ticket))
    .fetch_optional(db)
    .await?;
    let (user_id, email, display_name, platform_admin, user_session_id, epoch) =
        row.ok_or(AppError::Unauthenticated)?;
    let credential = Credential::Session {
        user_session_id,
        user_id,
        epoch,
    };
    crate::backend::identity::credential::check(db, &credential).await?;
    Ok((
        Actor {
            user_id,
            email,
            display_name,
            platform_admin,
            current_tenant: None,
            reauthenticated_at: None,
            via: crate::backend::identity::actor::Via::Session,
        },
        credential,
    ))
}
