//! `stratus bench-events`: event-to-client latency of the live stream (driven by
//! `scripts/bench-events`). It opens N WebSockets to a running server (tickets, one tenant
//! topic each), then appends job events one at a time straight into the database and times
//! how long each takes to reach every socket: from just before the insert+NOTIFY commits to
//! the frame being read, on one monotonic clock.

use crate::config::Settings;
use crate::startup;
use anyhow::Context;
use app::backend::events::issue_ticket;
use app::backend::identity::actor::Actor;
use app::backend::identity::credential::Credential;
use app::backend::identity::user_sessions::{create as create_session, ClientInfo};
use app::backend::jobs::{enqueue, NewJob};
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

#[derive(clap::Args)]
pub struct BenchEvents {
    /// The server to measure (its database is DATABASE_URL).
    #[arg(long)]
    pub url: String,
    /// Client counts, comma-separated; one round each.
    #[arg(long, default_value = "1,100,1000", value_delimiter = ',')]
    pub clients: Vec<usize>,
    /// Events timed per round.
    #[arg(long, default_value_t = 200)]
    pub events: usize,
    /// Pause between events, in milliseconds.
    #[arg(long, default_value_t = 20)]
    pub interval_ms: u64,
    /// The server's process id, to report its resident memory.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

pub async fn run(settings: Settings, args: BenchEvents) -> anyhow::Result<()> {
    let db = startup::prepare_database(&settings).await?;
    let slug = format!("bench-{}", &Uuid::new_v4().simple().to_string()[..8]);
    let tenant_id: Uuid = sqlx::query_scalar(
        "insert into tenant (slug, display_name) values ($1, $1) returning tenant_id",
    )
    .bind(&slug)
    .fetch_one(&db)
    .await?;
    let email = format!("{slug}@bench.invalid");
    let user_id: Uuid = sqlx::query_scalar(
        "insert into app_user (email, display_name, password_hash) values ($1, 'Bench', '!') returning user_id",
    )
    .bind(&email)
    .fetch_one(&db)
    .await?;
    sqlx::query("insert into membership (tenant_id, user_id, role) values ($1, $2, 'viewer')")
        .bind(tenant_id)
        .bind(user_id)
        .execute(&db)
        .await?;
    let actor = Actor {
        user_id,
        email,
        display_name: "Bench".into(),
        platform_admin: false,
        current_tenant: None,
        reauthenticated_at: None,
        via: app::backend::identity::actor::Via::Session,
    };
    // Events hang off a job that never runs.
    let job_id = enqueue(
        &mut *db.acquire().await?,
        NewJob::new("system.noop")
            .tenant(tenant_id)
            .run_at(time::OffsetDateTime::now_utc() + time::Duration::days(365)),
    )
    .await?
    .job_id;

    println!("| clients | events | deliveries | p50 ms | p99 ms | max ms | server RSS MB |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for &clients in &args.clients {
        let (tx, mut rx) = mpsc::unbounded_channel::<(i64, Instant)>();
        let ws_url = format!("{}/api/v1/events", args.url.replacen("http", "ws", 1));
        let mut tasks = Vec::with_capacity(clients);
        for _ in 0..clients {
            // One browser session per client, as people would have: a ticket belongs to one.
            let user_session_id = create_session(&db, user_id, &ClientInfo::default())
                .await
                .map_err(|e| anyhow::anyhow!("session: {e}"))?;
            let epoch: i32 =
                sqlx::query_scalar("select session_epoch from app_user where user_id = $1")
                    .bind(user_id)
                    .fetch_one(&db)
                    .await?;
            let credential = Credential::Session {
                user_session_id,
                user_id,
                epoch,
            };
            let ticket = issue_ticket(&db, &actor, &credential)
                .await
                .map_err(|e| anyhow::anyhow!("ticket: {e}"))?;
            // A small read chunk, as the server uses: tungstenite zero-fills it on every read.
            let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
            let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
                format!("{ws_url}?ticket={ticket}"),
                Some(config),
                false,
            )
            .await
            .context("connecting a client")?;
            let subscribe = format!(r#"{{"type":"subscribe","topic":"tenant:{tenant_id}"}}"#);
            ws.send(Message::Text(subscribe.into())).await?;
            // Wait for `subscribed`, so every client is live before timing starts.
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) if t.contains(r#""type":"subscribed""#) => break,
                    Some(Ok(Message::Text(t))) => anyhow::bail!("unexpected answer: {t}"),
                    Some(Ok(_)) => continue,
                    other => anyhow::bail!("the server closed a client: {other:?}"),
                }
            }
            let tx = tx.clone();
            tasks.push(tokio::spawn(async move {
                while let Some(Ok(message)) = ws.next().await {
                    let at = Instant::now();
                    if let Message::Text(text) = message {
                        if let Some(id) = event_id(&text) {
                            let _ = tx.send((id, at));
                        }
                    }
                }
            }));
        }
        drop(tx);

        let mut latencies = Vec::with_capacity(args.events * clients);
        for _ in 0..args.events {
            let start = Instant::now();
            let id: i64 = sqlx::query_scalar(
                "with ev as (insert into job_event (job_id, tenant_id, kind, message)
                             values ($1, $2, 'log', 'bench') returning event_id)
                 select event_id from ev, lateral (select pg_notify('stratus_job_events', ev.event_id::text)) n",
            )
            .bind(job_id)
            .bind(tenant_id)
            .fetch_one(&db)
            .await?;
            let mut got = 0;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            while got < clients {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some((event, at))) if event == id => {
                        latencies.push(at.duration_since(start));
                        got += 1;
                    }
                    Ok(Some(_)) => {}
                    _ => {
                        anyhow::bail!("event {id} reached only {got} of {clients} clients in 10 s")
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
        let rss = args.server_pid.and_then(resident_mb);
        latencies.sort();
        let ms = |q: f64| {
            let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
            latencies[i].as_secs_f64() * 1000.0
        };
        println!(
            "| {clients} | {} | {} | {:.2} | {:.2} | {:.2} | {} |",
            args.events,
            latencies.len(),
            ms(0.50),
            ms(0.99),
            ms(1.0),
            rss.map_or("—".into(), |mb| format!("{mb:.0}")),
        );
        for task in tasks {
            task.abort();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    sqlx::query("delete from tenant where tenant_id = $1")
        .bind(tenant_id)
        .execute(&db)
        .await?;
    sqlx::query("delete from app_user where user_id = $1")
        .bind(user_id)
        .execute(&db)
        .await?;
    Ok(())
}

/// The event id of an `event` message, without parsing the whole frame.
fn event_id(text: &str) -> Option<i64> {
    let rest = text.split_once(r#""event":{"id":"#)?.1;
    rest[..rest.find(|c: char| !c.is_ascii_digit())?]
        .parse()
        .ok()
}

fn resident_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}
