//! Rate limits kept in PostgreSQL, so they hold across server processes.
//!
//! Each limit counts hits per key in a fixed window that starts at the key's first hit; one
//! upsert counts a hit and says whether the key is over its limit. A success can be forgiven
//! (`forgive`), so for sign-in the counters hold failures (plus attempts still in flight).
//!
//! ```ignore
//! rate_limit::check(db, Limit::SignInAddress, &ip.to_string()).await?; // 429 when over
//! ```

use crate::error::AppError;
use sqlx::PgPool;

/// The limits, with their numbers in one place (docs/security-accounts.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Failed sign-ins per account and client address together: 10 per 15 minutes. Someone
    /// guessing from one place is blocked there; the owner elsewhere still gets in.
    SignInPair,
    /// Failed sign-ins per account from everywhere: past 100 per 15 minutes each further
    /// attempt is slowed (never refused), so a spread-out attack cannot lock the owner out.
    SignInAccount,
    /// Failed sign-ins per client address: 30 per minute.
    SignInAddress,
    /// TOTP and recovery-code attempts per account (sign-in, enrolment, re-authentication):
    /// 10 per 15 minutes ...
    SecondFactor,
    /// ... and 30 per day.
    SecondFactorDaily,
    /// `POST /api/v1/auth/token` per client address: 60 per minute.
    TokenExchangeAddress,
    /// `POST /api/v1/auth/token` per API key (the digest of the key sent): 30 per minute.
    TokenExchangeKey,
    /// Audit events written for requests nobody is signed in for (failed sign-ins, refused
    /// keys, cross-site refusals), per client address: 60 per minute; more are only logged.
    UnauthenticatedAudit,
}

impl Limit {
    fn bucket(self) -> &'static str {
        match self {
            Limit::SignInPair => "sign-in-pair",
            Limit::SignInAccount => "sign-in-account",
            Limit::SignInAddress => "sign-in-address",
            Limit::SecondFactor => "second-factor",
            Limit::SecondFactorDaily => "second-factor-day",
            Limit::TokenExchangeAddress => "token-address",
            Limit::TokenExchangeKey => "token-key",
            Limit::UnauthenticatedAudit => "anonymous-audit",
        }
    }

    /// (most hits allowed in a window, window length in seconds)
    pub fn quota(self) -> (i32, i64) {
        match self {
            Limit::SignInPair => (10, 15 * 60),
            Limit::SignInAccount => (100, 15 * 60),
            Limit::SignInAddress => (30, 60),
            Limit::SecondFactor => (10, 15 * 60),
            Limit::SecondFactorDaily => (30, 24 * 3600),
            Limit::TokenExchangeAddress => (60, 60),
            Limit::TokenExchangeKey => (30, 60),
            Limit::UnauthenticatedAudit => (60, 60),
        }
    }
}

/// One counted hit: how many the key has in its window, and when the window ends.
#[derive(Debug, Clone, Copy)]
pub struct Hit {
    pub hits: i32,
    pub max: i32,
    pub retry_after_secs: u64,
}

impl Hit {
    pub fn over(&self) -> bool {
        self.hits > self.max
    }

    /// The first hit over the limit in this window (for recording a lockout once).
    pub fn just_over(&self) -> bool {
        self.hits == self.max + 1
    }

    pub fn refusal(&self) -> AppError {
        AppError::RateLimited {
            retry_after_secs: self.retry_after_secs,
        }
    }
}

/// Keys are bounded: anything long (an email as typed, say) is stored as its digest, so no
/// input can make an index row too large.
fn stored_key(key: &str) -> std::borrow::Cow<'_, str> {
    if key.len() <= 128 {
        key.into()
    } else {
        use sha2::Digest;
        format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(key.as_bytes()))
        )
        .into()
    }
}

/// Counts one hit for `key`; `RateLimited` (429, with the seconds until the window ends) once
/// the key is over its limit. Hits over the limit are counted too but never extend the window.
pub async fn check(db: &PgPool, limit: Limit, key: &str) -> Result<(), AppError> {
    let hit = count(db, limit, key).await?;
    if hit.over() {
        tracing::warn!(limit = limit.bucket(), "rate limit reached");
        return Err(hit.refusal());
    }
    Ok(())
}

/// Counts one hit for `key` and says where the key stands; the caller decides what over the
/// limit means (refuse, slow down, skip).
pub async fn count(db: &PgPool, limit: Limit, key: &str) -> Result<Hit, AppError> {
    let (max, window) = limit.quota();
    let (hits, retry_after): (i32, i64) = sqlx::query_as(
        "insert into rate_limit (bucket, key, window_start, hits) values ($1, $2, now(), 1)
         on conflict (bucket, key) do update set
             hits = case when rate_limit.window_start <= now() - make_interval(secs => $3)
                         then 1 else rate_limit.hits + 1 end,
             window_start = case when rate_limit.window_start <= now() - make_interval(secs => $3)
                                 then now() else rate_limit.window_start end
         returning hits,
                   ceil(extract(epoch from window_start + make_interval(secs => $3) - now()))::bigint",
    )
    .bind(limit.bucket())
    .bind(stored_key(key).as_ref())
    .bind(window as f64)
    .fetch_one(db)
    .await?;
    Ok(Hit {
        hits,
        max,
        retry_after_secs: retry_after.max(1) as u64,
    })
}

/// Takes back one hit (the attempt succeeded and should not count against the key).
pub async fn forgive(db: &PgPool, limit: Limit, key: &str) -> Result<(), AppError> {
    sqlx::query(
        "update rate_limit set hits = greatest(hits - 1, 0) where bucket = $1 and key = $2",
    )
    .bind(limit.bucket())
    .bind(stored_key(key).as_ref())
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes counters whose window ended long ago (run periodically).
pub async fn prune(db: &PgPool) -> Result<u64, AppError> {
    Ok(
        sqlx::query("delete from rate_limit where window_start < now() - interval '2 days'")
            .execute(db)
            .await?
            .rows_affected(),
    )
}
