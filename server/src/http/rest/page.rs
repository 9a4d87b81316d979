//! Cursor pagination for every list: `?limit=&cursor=`, answered as `{items, next_cursor}`.
//!
//! Items are ordered by a unique key (an id, an email, a slug); the cursor is that key of the
//! last item returned, opaque to clients, so pages never repeat or skip an item when rows are
//! added or removed between requests.

use super::extract::ApiError;
use app::error::AppError;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items to return (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<usize>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl PageQuery {
    /// For lists paged in SQL: the key to start after, and the page size. Fetch `limit + 1`
    /// rows ordered by the key and hand them to [`PageQuery::page_of_keyset`].
    pub fn keyset(&self) -> Result<(Option<String>, usize), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(
                AppError::invalid("limit", format!("Use a limit from 1 to {MAX_LIMIT}.")).into(),
            );
        }
        let after = match &self.cursor {
            None => None,
            Some(cursor) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| {
                        AppError::invalid("cursor", "This cursor is not one we issued.")
                    })?,
            ),
        };
        Ok((after, limit))
    }

    /// [`PageQuery::keyset`] for lists ordered by an id: the cursor must be one.
    pub fn keyset_id(&self) -> Result<(Option<uuid::Uuid>, usize), ApiError> {
        let (after, limit) = self.keyset()?;
        let after = match after {
            None => None,
            Some(a) => Some(a.parse().map_err(|_| {
                ApiError::from(AppError::invalid(
                    "cursor",
                    "This cursor is not one we issued.",
                ))
            })?),
        };
        Ok((after, limit))
    }

    /// The page from at most `limit + 1` rows fetched in key order.
    pub fn page_of_keyset<T>(
        &self,
        mut rows: Vec<T>,
        limit: usize,
        key: impl Fn(&T) -> String,
    ) -> Page<T> {
        let next_cursor = (rows.len() > limit).then(|| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key(&rows[limit - 1]))
        });
        rows.truncate(limit);
        Page {
            items: rows,
            next_cursor,
        }
    }
}
