//! The sessions a person can see and end: one `user_session` row per signed-in browser,
//! named by a random id kept inside the tower session. Deleting the row (and the tower record)
//! signs that browser out on its next request.

use crate::backend::audit;
use crate::backend::identity::actor::Actor;
use crate::error::AppError;
use crate::model::AuditAction;
use crate::model::SessionView;
use sqlx::{PgConnection, PgPool};
use std::net::IpAddr;
use uuid::Uuid;

/// Where a request comes from: the socket's peer address and the browser's User-Agent.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: String,
}

/// The client's address as the HTTP layer resolved it (the TCP peer, or the address a trusted
/// proxy forwarded): a request extension, so every handler sees the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl ClientInfo {
    /// The key for per-address limits (see [`address_bucket`]).
    pub fn address_key(&self) -> String {
        self.ip.map_or_else(|| "unknown".into(), address_bucket)
    }
}

/// The key for per-address limits and caps: an IPv4 address, or an IPv6 address's /64 (one
/// subscriber usually holds a whole /64, so single IPv6 addresses are free to them).
pub fn address_bucket(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

pub async fn create(db: &PgPool, user_id: Uuid, client: &ClientInfo) -> Result<Uuid, AppError> {
    let id = Uuid::new_v4();
    let user_agent: String = client.user_agent.chars().take(512).collect();
    sqlx::query(
        "insert into user_session (user_session_id, user_id, user_agent, client_ip)
         values ($1, $2, $3, $4::inet)",
    )
    .bind(id)
    .bind(user_id)
    .bind(user_agent)
    .bind(client.ip.map(|ip| ip.to_string()))
    .execute(db)
    .await?;
    Ok(id)
}

/// Records that the session was used (callers do so at most once a minute) and which tower
/// record carries it.
pub async fn touch(db: &PgPool, id: Uuid, store_id: Option<String>) -> Result<(), AppError> {
    sqlx::query(
        "update user_session set last_seen_at = now(), store_id = coalesce($2, store_id)
         where user_session_id = $1",
    )
    .bind(id)
    .bind(store_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Forgets a session row (sign-out); the caller flushes the tower session itself.
pub async fn forget(db: &PgPool, id: Uuid) -> Result<(), AppError> {
    sqlx::query("delete from user_session where user_session_id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Deletes session rows and their tower records; returns how many rows went.
async fn delete_where(
    conn: &mut PgConnection,
    user_id: Uuid,
    only: Option<Uuid>,
    except: Option<Uuid>,
) -> Result<Vec<(Uuid, String)>, AppError> {
    let gone: Vec<(Uuid, Option<String>, String)> = sqlx::query_as(
        "delete from user_session
         where user_id = $1 and ($2::uuid is null or user_session_id = $2)
               and ($3::uuid is null or user_session_id <> $3)
         returning user_session_id, store_id, user_agent",
    )
    .bind(user_id)
    .bind(only)
    .bind(except)
    .fetch_all(&mut *conn)
    .await?;
    let store_ids: Vec<String> = gone.iter().filter_map(|g| g.1.clone()).collect();
    if !store_ids.is_empty() {
        sqlx::query("delete from tower_sessions.session where id = any($1)")
            .bind(&store_ids)
            .execute(&mut *conn)
            .await?;
    }
    Ok(gone.into_iter().map(|(id, _, ua)| (id, ua)).collect())
}

/// The actor's live sessions, newest first; `current` is the session of this request.
pub async fn list(
    db: &PgPool,
    actor: &Actor,
    current: Option<Uuid>,
) -> Result<Vec<SessionView>, AppError> {
    prune_user(db, actor.user_id).await?;
    let rows: Vec<(
        Uuid,
        String,
        Option<String>,
        time::OffsetDateTime,
        time::OffsetDateTime,
    )> = sqlx::query_as(
        "select user_session_id, user_agent, host(client_ip), signed_in_at, last_seen_at
             from user_session where user_id = $1 order by signed_in_at desc",
    )
    .bind(actor.user_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(session_id, user_agent, ip, signed_in_at, last_seen_at)| SessionView {
                session_id,
                browser: describe_user_agent(&user_agent),
                ip,
                signed_in_at,
                last_seen_at,
                current: Some(session_id) == current,
            },
        )
        .collect())
}

/// Ends one of the actor's own sessions (another person's id answers 404).
pub async fn revoke(db: &PgPool, actor: &Actor, session_id: Uuid) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    let gone = delete_where(&mut tx, actor.user_id, Some(session_id), None).await?;
    let Some((_, user_agent)) = gone.first() else {
        return Err(AppError::NotFound);
    };
    audit::record_account_event(
        &mut tx,
        actor.user_id,
        &actor.email,
        AuditAction::SessionRevoked,
        &describe_user_agent(user_agent),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = %actor.user_id, %session_id, "session revoked");
    Ok(())
}

/// Ends every session of the user except `keep` (inside the caller's transaction).
pub async fn revoke_others(
    conn: &mut PgConnection,
    user_id: Uuid,
    keep: Option<Uuid>,
) -> Result<usize, AppError> {
    Ok(delete_where(conn, user_id, None, keep).await?.len())
}

/// Rows of sessions that timed out (idle or absolute) are dead weight: drop them.
async fn prune_user(db: &PgPool, user_id: Uuid) -> Result<(), AppError> {
    sqlx::query(&format!(
        "delete from user_session where user_id = $1 and {EXPIRED}"
    ))
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A session row is dead once its session can no longer be used (last-seen is written at most
/// once a minute, hence the extra minute).
const EXPIRED: &str =
    "(last_seen_at < now() - interval '31 minutes' or signed_in_at < now() - interval '12 hours')";

pub async fn prune(db: &PgPool) -> Result<u64, AppError> {
    Ok(
        sqlx::query(&format!("delete from user_session where {EXPIRED}"))
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// "Firefox on Linux": enough to recognise a session, not a full User-Agent parser.
pub fn describe_user_agent(ua: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("reqwest", "reqwest"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b.to_string(),
        (None, Some(o)) => format!("Browser on {o}"),
        (None, None) if ua.is_empty() => "Unknown client".into(),
        (None, None) => "Other client".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{address_bucket, describe_user_agent};

    #[test]
    fn ipv6_clients_share_their_64() {
        let a = address_bucket("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_bucket("2001:db8:1:2:ffff:1:2:3".parse().unwrap());
        assert_eq!(a, b);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_ne!(a, address_bucket("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(
            address_bucket("::ffff:10.0.0.7".parse().unwrap()),
            "10.0.0.7"
        );
    }

    #[test]
    fn user_agents_are_named_simply() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(describe_user_agent(chrome), "Chrome on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0";
        assert_eq!(describe_user_agent(edge), "Edge on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(describe_user_agent(safari), "Safari on iOS");
        let firefox =
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(describe_user_agent(firefox), "Firefox on macOS");
        assert_eq!(describe_user_agent(""), "Unknown client");
    }
}
