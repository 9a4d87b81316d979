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

/// The limits, with their numbers in one place (README, "Security").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Failed sign-ins per account (by normalised email, known or not): 10 per 15 minutes.
    SignInAccount,
    /// Failed sign-ins per client address: 30 per minute.
    SignInAddress,
    /// TOTP and recovery-code attempts per account (sign-in, enrolment, re-authentication):
    /// 10 per 15 minutes.
    SecondFactor,
    /// `POST /api/v1/auth/token` per client address: 60 per minute.
    TokenExchangeAddress,
    /// `POST /api/v1/auth/token` per API key prefix: 30 per minute.
    TokenExchangeKey,
}

impl Limit {
    fn bucket(self) -> &'static str {
        match self {
            Limit::SignInAccount => "sign-in-account",
            Limit::SignInAddress => "sign-in-address",
            Limit::SecondFactor => "second-factor",
            Limit::TokenExchangeAddress => "token-address",
            Limit::TokenExchangeKey => "token-key",
        }
    }

    /// (most hits allowed in a window, window length in seconds)
    pub fn quota(self) -> (i32, i64) {
        match self {
            Limit::SignInAccount => (10, 15 * 60),
            Limit::SignInAddress => (30, 60),
            Limit::SecondFactor => (10, 15 * 60),
            Limit::TokenExchangeAddress => (60, 60),
            Limit::TokenExchangeKey => (30, 60),
        }
    }
}

/// Counts one hit for `key`; `RateLimited` (429, with the seconds until the window ends) once
/// the key is over its limit. Hits over the limit are counted too but never extend the window.
pub async fn check(db: &PgPool, limit: Limit, key: &str) -> Result<(), AppError> {
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
    .bind(key)
    .bind(window as f64)
    .fetch_one(db)
    .await?;
    if hits > max {
        tracing::warn!(limit = limit.bucket(), "rate limit reached");
        return Err(AppError::RateLimited {
            retry_after_secs: retry_after.max(1) as u64,
        });
    }
    Ok(())
}

/// Takes back one hit (the attempt succeeded and should not count against the key).
pub async fn forgive(db: &PgPool, limit: Limit, key: &str) -> Result<(), AppError> {
    sqlx::query(
        "update rate_limit set hits = greatest(hits - 1, 0) where bucket = $1 and key = $2",
    )
    .bind(limit.bucket())
    .bind(key)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes counters whose window ended long ago (run periodically).
pub async fn prune(db: &PgPool) -> Result<u64, AppError> {
    Ok(
        sqlx::query("delete from rate_limit where window_start < now() - interval '1 day'")
            .execute(db)
            .await?
            .rows_affected(),
    )
}
