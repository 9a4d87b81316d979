//! The append-only audit log: triggers refuse UPDATE, DELETE and TRUNCATE.
//!
//! Every state-changing backend function records an event in the same transaction as its
//! change, so a change and its record commit (or roll back) together. Events never carry a
//! credential, a token, a password or a secret value: `target` names what was acted on and
//! `details` holds ids and before/after values chosen by the caller.

use crate::backend::identity::actor::Actor;
use crate::error::AppError;
use crate::model::{AuditAction, AuditEvent, AuditFilter, AuditPage, AuditScope};
use crate::rbac::{authorize, authorize_platform, Action, PlatformAction};
use crate::validate::Checks;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, Transaction};
use std::future::Future;
use std::net::IpAddr;
use time::{Date, OffsetDateTime, Time};
use uuid::Uuid;

/// Page size when none is asked for, and the most one page may hold.
pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

tokio::task_local! {
    // The peer address of the HTTP request being served. Set once per request by the HTTP
    // layer, so every event records it without threading it through each backend signature.
    static CLIENT_IP: IpAddr;
}

/// Runs `work` (one HTTP request) with its client address available to [`record`].
pub async fn with_client_ip<F: Future>(ip: IpAddr, work: F) -> F::Output {
    CLIENT_IP.scope(ip, work).await
}

tokio::task_local! {
    // The pool of the application serving this request, for events recorded outside any change
    // (a refused action, a cross-site post), where the caller has no pool at hand.
    static REQUEST_POOL: PgPool;
}

/// Runs `work` (one HTTP request) with the pool that [`record_refusal`] and
/// [`record_unauthenticated_here`] write with.
pub async fn with_pool<F: Future>(db: PgPool, work: F) -> F::Output {
    REQUEST_POOL.scope(db, work).await
}

/// Records that `actor` was refused `what` (an action's name), without delaying the refusal:
/// written in the background with the request's pool (nothing is written outside a request).
pub fn record_refusal(actor: &Actor, tenant_id: Option<Uuid>, what: &str) {
    let Ok(db) = REQUEST_POOL.try_with(PgPool::clone) else {
        return;
    };
    let ip = CLIENT_IP.try_with(|ip| *ip).ok();
    let (user_id, email, api_key) = {
        let by = By::from(actor);
        (by.user_id, by.email.map(str::to_string), by.api_key)
    };
    let what = what.to_string();
    let work = async move {
        let by = By {
            user_id,
            email: email.as_deref(),
            api_key,
        };
        let mut conn = db.acquire().await?;
        insert(
            &mut conn,
            by,
            tenant_id,
            AuditAction::AccessDenied.as_str(),
            &what,
            serde_json::json!({ "action": what }),
        )
        .await
    };
    tokio::spawn(async move {
        let result = match ip {
            Some(ip) => CLIENT_IP.scope(ip, work).await,
            None => work.await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "audit: recording a refusal failed");
        }
    });
}

/// [`record_unauthenticated`] with the request's pool, for layers that have none (the
/// cross-site check); errors are logged, never turned into the response.
pub async fn record_unauthenticated_here(action: AuditAction, target: &str, details: Value) {
    let Ok(db) = REQUEST_POOL.try_with(PgPool::clone) else {
        return;
    };
    if let Err(error) = record_unauthenticated(&db, action, target, details).await {
        tracing::warn!(%error, "audit: recording an unauthenticated event failed");
    }
}

fn client_ip() -> Option<String> {
    CLIENT_IP.try_with(|ip| ip.to_string()).ok()
}

/// Who did it: a signed-in person, or Stratus itself (`None`: the CLI, startup).
pub struct By<'a> {
    pub user_id: Option<Uuid>,
    pub email: Option<&'a str>,
    /// The API key used, when not a browser session (recorded as `details.via_api_key`).
    pub api_key: Option<Uuid>,
}

impl<'a> From<&'a Actor> for By<'a> {
    fn from(actor: &'a Actor) -> Self {
        By {
            user_id: Some(actor.user_id),
            email: Some(&actor.email),
            api_key: match actor.via {
                crate::backend::identity::actor::Via::ApiKey { key_id, .. } => Some(key_id),
                crate::backend::identity::actor::Via::Session => None,
            },
        }
    }
}

impl By<'_> {
    pub const SYSTEM: By<'static> = By {
        user_id: None,
        email: None,
        api_key: None,
    };
}

/// Records one of the listed actions with its details (ids, before/after values).
pub async fn record_with(
    conn: &mut PgConnection,
    by: By<'_>,
    tenant_id: Option<Uuid>,
    action: AuditAction,
    target: &str,
    details: Value,
) -> Result<(), sqlx::Error> {
    insert(conn, by, tenant_id, action.as_str(), target, details).await
}

/// Ends a change: records it ([`record_with`]) and commits, so the change and its audit
/// record land together or not at all.
pub async fn commit_with(
    mut tx: Transaction<'_, Postgres>,
    by: By<'_>,
    tenant_id: Option<Uuid>,
    action: AuditAction,
    target: &str,
    details: Value,
) -> Result<(), sqlx::Error> {
    insert(&mut tx, by, tenant_id, action.as_str(), target, details).await?;
    tx.commit().await
}

async fn insert(
    conn: &mut PgConnection,
    by: By<'_>,
    tenant_id: Option<Uuid>,
    action: &str,
    target: &str,
    details: Value,
) -> Result<(), sqlx::Error> {
    let mut details = match details {
        Value::Null => Value::Object(Default::default()),
        other => other,
    };
    if let (Some(key), Value::Object(map)) = (by.api_key, &mut details) {
        map.insert("via_api_key".into(), Value::String(key.to_string()));
    }
    sqlx::query(
        "insert into audit_event (actor_user_id, actor_email, tenant_id, action, target, details, client_ip)
         values ($1, $2, $3, $4, $5, $6, $7::inet)",
    )
    .bind(by.user_id)
    .bind(by.email)
    .bind(tenant_id)
    .bind(action)
    .bind(target)
    .bind(details)
    .bind(client_ip())
    .execute(conn)
    .await?;
    Ok(())
}

/// Records something a person did to their own account (sign-in, MFA, sessions, password),
/// for the moments when there is no `Actor` yet (sign-in) or the event is about the account.
pub async fn record_account_event(
    conn: &mut PgConnection,
    user_id: Uuid,
    email: &str,
    action: AuditAction,
    target: &str,
) -> Result<(), sqlx::Error> {
    let by = By {
        user_id: Some(user_id),
        email: Some(email),
        api_key: None,
    };
    insert(conn, by, None, action.as_str(), target, Value::Null).await
}

/// A refused sign-in: no actor, only the email as typed (normalised); the client address is
/// recorded like every event's. Bounded like every event nobody is signed in for.
pub async fn record_sign_in_failure(
    db: &PgPool,
    email: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<(), AppError> {
    let details = serde_json::json!({ "address": ip.map(|ip| ip.to_string()) });
    record_unauthenticated(db, AuditAction::UserSignInFailed, email, details).await
}

/// Records an event that an unauthenticated request caused (a failed sign-in, a refused key, a
/// cross-site post). Anyone can cause these, so they are bounded: past
/// `Limit::UnauthenticatedAudit` per client address they are only logged, and the target is
/// cut to 254 characters.
pub async fn record_unauthenticated(
    db: &PgPool,
    action: AuditAction,
    target: &str,
    details: Value,
) -> Result<(), AppError> {
    use crate::backend::identity::rate_limit::{self, Limit};
    let address = CLIENT_IP
        .try_with(|ip| crate::backend::identity::user_sessions::address_bucket(*ip))
        .unwrap_or_else(|_| "unknown".into());
    if rate_limit::count(db, Limit::UnauthenticatedAudit, &address)
        .await?
        .over()
    {
        tracing::warn!(
            action = action.as_str(),
            "audit: unauthenticated event not recorded (over the limit)"
        );
        return Ok(());
    }
    let target: String = target.chars().take(254).collect();
    let mut conn = db.acquire().await?;
    insert(
        &mut conn,
        By::SYSTEM,
        None,
        action.as_str(),
        &target,
        details,
    )
    .await?;
    Ok(())
}

/// Records an event about a signed-in actor outside any change (a refusal, a token issued).
pub async fn record_now(
    db: &PgPool,
    by: By<'_>,
    tenant_id: Option<Uuid>,
    action: AuditAction,
    target: &str,
    details: Value,
) -> Result<(), AppError> {
    let mut conn = db.acquire().await?;
    insert(&mut conn, by, tenant_id, action.as_str(), target, details).await?;
    Ok(())
}

// ----- The hash chain -----------------------------------------------------------------------------

/// What `stratus audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCheck {
    /// Every link holds; `events` were checked.
    Intact { events: i64 },
    /// The first broken link: the event at chain position `chain_seq` (`audit_id`, when the
    /// row is there), and why.
    Broken {
        chain_seq: i64,
        audit_id: Option<i64>,
        reason: String,
    },
}

/// The canonical text an event's hash covers. The same expression as the migration's
/// `audit_event_canonical`, kept here on purpose: a redefined database function cannot make
/// a rewritten row verify.
const CANONICAL: &str =
    "jsonb_build_array(audit_id, chain_seq, floor(extract(epoch from at) * 1000000)::bigint, \
     actor_user_id, actor_email, tenant_id, action, target, details, host(client_ip))::text";

/// One event as the verifier reads it: id, position, previous hash, hash, canonical text.
type ChainRow = (i64, i64, Vec<u8>, Vec<u8>, String);

/// Walks the chain from its genesis in `chain_seq` order, recomputing every hash, and
/// compares its end with the chain head (which catches removed newest events).
pub async fn verify_chain(db: &PgPool) -> Result<ChainCheck, sqlx::Error> {
    use sha2::{Digest, Sha256};
    const BATCH: i64 = 5000;
    let mut link = vec![0u8; 32];
    let mut expected: i64 = 1;
    loop {
        let rows: Vec<ChainRow> = sqlx::query_as(&format!(
            "select audit_id, chain_seq, prev_hash, hash, {CANONICAL} from audit_event
             where chain_seq >= $1 order by chain_seq limit $2"
        ))
        .bind(expected)
        .bind(BATCH)
        .fetch_all(db)
        .await?;
        let done = (rows.len() as i64) < BATCH;
        for (audit_id, chain_seq, prev_hash, hash, canonical) in rows {
            let broken = |reason: &str| ChainCheck::Broken {
                chain_seq,
                audit_id: Some(audit_id),
                reason: reason.to_string(),
            };
            if chain_seq != expected {
                return Ok(ChainCheck::Broken {
                    chain_seq: expected,
                    audit_id: None,
                    reason: format!(
                        "the event at chain position {expected} is missing (deleted); the next is audit event {audit_id}"
                    ),
                });
            }
            if prev_hash != link {
                return Ok(broken(
                    "it does not follow the event before it (an event was inserted, removed or re-hashed)",
                ));
            }
            let computed = Sha256::new()
                .chain_update(&link)
                .chain_update(canonical.as_bytes())
                .finalize();
            if computed.as_slice() != hash.as_slice() {
                return Ok(broken("its content was changed after it was recorded"));
            }
            link = hash;
            expected += 1;
        }
        if done {
            break;
        }
    }
    let (seq, head): (i64, Vec<u8>) = sqlx::query_as("select seq, hash from audit_chain_head")
        .fetch_one(db)
        .await?;
    if seq != expected - 1 || head != link {
        return Ok(ChainCheck::Broken {
            chain_seq: expected,
            audit_id: None,
            reason: format!(
                "the chain ends at position {} but its head records {seq}: the newest events were removed",
                expected - 1
            ),
        });
    }
    Ok(ChainCheck::Intact {
        events: expected - 1,
    })
}

// ----- Reading ------------------------------------------------------------------------------------

/// A filter after validation.
#[derive(Debug, Default)]
struct Criteria {
    action: Option<String>,
    actor: Option<String>,
    from: Option<OffsetDateTime>,
    until: Option<OffsetDateTime>,
    tenant: Option<Uuid>,
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn check_action(action: &str) -> Result<(), String> {
    let ok = action.len() <= 64
        && action.contains('.')
        && action
            .split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
    if ok {
        Ok(())
    } else {
        Err("Choose an action from the list, such as member.role_changed.".into())
    }
}

/// A day (`YYYY-MM-DD`, UTC) or an RFC 3339 instant. A day as the end of a range includes it.
fn parse_instant(value: &str, end_of_range: bool) -> Result<OffsetDateTime, String> {
    const DAY: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(day) = Date::parse(value, DAY) {
        let day = if end_of_range {
            day.next_day().ok_or("That date is out of range.")?
        } else {
            day
        };
        return Ok(day.with_time(Time::MIDNIGHT).assume_utc());
    }
    OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
        .map_err(|_| "Enter a date as YYYY-MM-DD (or an RFC 3339 time).".into())
}

fn validate(scope: AuditScope, filter: &AuditFilter) -> Result<Criteria, AppError> {
    let mut criteria = Criteria::default();
    let mut checks = Checks::default();
    if let Some(action) = present(&filter.action) {
        checks.check("action", check_action(action));
        criteria.action = Some(action.to_string());
    }
    if let Some(actor) = present(&filter.actor) {
        let ok = if actor.len() <= 254 {
            Ok(())
        } else {
            Err("Enter at most 254 characters of an email address.".to_string())
        };
        checks.check("actor", ok);
        criteria.actor = Some(actor.to_lowercase());
    }
    if let Some(from) = present(&filter.from) {
        match parse_instant(from, false) {
            Ok(at) => criteria.from = Some(at),
            Err(e) => {
                checks.check("from", Err(e));
            }
        }
    }
    if let Some(to) = present(&filter.to) {
        match parse_instant(to, true) {
            Ok(at) => criteria.until = Some(at),
            Err(e) => {
                checks.check("to", Err(e));
            }
        }
    }
    if let (Some(from), Some(until)) = (criteria.from, criteria.until) {
        if until <= from {
            checks.check("to", Err("The end must be after the start.".to_string()));
        }
    }
    if let Some(tenant) = present(&filter.tenant) {
        match (scope, tenant.parse::<Uuid>()) {
            (AuditScope::AllTenants, Ok(id)) => criteria.tenant = Some(id),
            (AuditScope::AllTenants, Err(_)) => {
                checks.check("tenant", Err("Choose a tenant from the list.".to_string()));
            }
            // Inside one tenant the scope decides; a tenant filter cannot widen it.
            (AuditScope::Tenant(_), _) => {}
        }
    }
    checks.finish()?;
    Ok(criteria)
}

/// One page of the audit log, newest first: `cursor` is the previous page's `next_cursor`.
///
/// The tenant scope needs [`Action::ViewAuditLog`] (admins and owners; a foreign tenant is
/// 404, lower roles 403); all tenants need [`PlatformAction::ViewAuditLog`].
pub async fn list(
    db: &PgPool,
    actor: &Actor,
    scope: AuditScope,
    filter: &AuditFilter,
    cursor: Option<i64>,
    limit: i64,
) -> Result<AuditPage, AppError> {
    let tenant = match scope {
        AuditScope::Tenant(tenant_id) => {
            authorize(db, actor, tenant_id, Action::ViewAuditLog).await?;
            Some(tenant_id)
        }
        AuditScope::AllTenants => {
            authorize_platform(actor, PlatformAction::ViewAuditLog)?;
            None
        }
    };
    let mut criteria = validate(scope, filter)?;
    if tenant.is_some() {
        criteria.tenant = tenant;
    }
    let limit = limit.clamp(1, MAX_LIMIT);

    // Only the conditions in use are in the SQL, so each shape gets a plan fit for its index.
    let mut sql: QueryBuilder<Postgres> = QueryBuilder::new(
        "select a.audit_id, a.at, a.actor_user_id, a.actor_email, a.tenant_id, t.slug as tenant_slug,
                a.action, a.target, a.details, host(a.client_ip) as client_ip
         from audit_event a left join tenant t using (tenant_id) where true",
    );
    if let Some(tenant_id) = criteria.tenant {
        sql.push(" and a.tenant_id = ").push_bind(tenant_id);
    }
    if let Some(action) = criteria.action {
        sql.push(" and a.action = ").push_bind(action);
    }
    if let Some(actor) = criteria.actor {
        // strpos, not LIKE: the input's % and _ are plain characters.
        sql.push(" and strpos(lower(a.actor_email), ")
            .push_bind(actor)
            .push(") > 0");
    }
    if let Some(from) = criteria.from {
        sql.push(" and a.at >= ").push_bind(from);
    }
    if let Some(until) = criteria.until {
        sql.push(" and a.at < ").push_bind(until);
    }
    if let Some(cursor) = cursor {
        sql.push(" and a.audit_id < ").push_bind(cursor);
    }
    sql.push(" order by a.audit_id desc limit ")
        .push_bind(limit + 1);
    let mut events: Vec<AuditEvent> = sql.build_query_as().fetch_all(db).await?;
    let next_cursor = if events.len() as i64 > limit {
        events.truncate(limit as usize);
        events.last().map(|e| e.audit_id)
    } else {
        None
    };
    Ok(AuditPage {
        events,
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(from: &str, to: &str) -> AuditFilter {
        AuditFilter {
            from: Some(from.into()),
            to: Some(to.into()),
            ..AuditFilter::default()
        }
    }

    #[test]
    fn a_day_range_includes_its_last_day() {
        let c = validate(AuditScope::AllTenants, &filter("2026-11-01", "2026-11-01")).unwrap();
        assert_eq!(
            c.from.unwrap(),
            time::macros::datetime!(2026-11-01 0:00 UTC)
        );
        assert_eq!(
            c.until.unwrap(),
            time::macros::datetime!(2026-11-02 0:00 UTC)
        );
    }

    #[test]
    fn bad_input_is_explained_per_field() {
        let bad = AuditFilter {
            action: Some("DROP TABLE".into()),
            from: Some("yesterday".into()),
            to: Some("2026-13-01".into()),
            tenant: Some("acme".into()),
            ..AuditFilter::default()
        };
        let AppError::Invalid(errors) = validate(AuditScope::AllTenants, &bad).unwrap_err() else {
            panic!("not a validation error");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["action", "from", "to", "tenant"]);
        assert!(validate(AuditScope::AllTenants, &filter("2026-11-02", "2026-11-01")).is_err());
    }

    #[test]
    fn empty_fields_mean_any() {
        let empty = AuditFilter {
            action: Some(" ".into()),
            actor: Some(String::new()),
            ..AuditFilter::default()
        };
        let c = validate(AuditScope::AllTenants, &empty).unwrap();
        assert!(c.action.is_none() && c.actor.is_none());
    }

    #[test]
    fn every_listed_action_is_a_valid_filter() {
        for action in AuditAction::ALL {
            check_action(action.as_str()).unwrap();
        }
    }
}
