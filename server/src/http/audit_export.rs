//! The audit log as an NDJSON download: one JSON object per line, newest first, streamed in
//! pages so an export of any size holds one page in memory. Every page goes through
//! `audit::list`, so the export is authorized and filtered exactly like the pages.

use super::pages::problem;
use crate::startup::AppState;
use app::backend::identity::actor::{Actor, RequestActor};
use app::backend::{audit, tenancy};
use app::error::AppError;
use app::model::{AuditFilter, AuditPage, AuditScope};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use sqlx::PgPool;

const PAGE: i64 = audit::MAX_LIMIT;

/// `GET /audit/export.ndjson?action=&actor=&from=&to=`: the current tenant's log.
pub async fn tenant_export(
    State(state): State<AppState>,
    Extension(RequestActor(actor)): Extension<RequestActor>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let Some(actor) = actor else {
        return problem(&AppError::Unauthenticated);
    };
    let current = match tenancy::session_info(&state.db, &actor).await {
        Ok(info) => info.current,
        Err(error) => return problem(&error),
    };
    let Some(tenant) = current else {
        return problem(&AppError::Forbidden(
            "You are not a member of any tenant yet.".into(),
        ));
    };
    let scope = AuditScope::Tenant(tenant.tenant_id);
    export(state.db, actor, scope, filter, &tenant.slug).await
}

/// `GET /admin/audit/export.ndjson?action=&actor=&from=&to=&tenant=`: every tenant's log.
pub async fn admin_export(
    State(state): State<AppState>,
    Extension(RequestActor(actor)): Extension<RequestActor>,
    Query(filter): Query<AuditFilter>,
) -> Response {
    let Some(actor) = actor else {
        return problem(&AppError::Unauthenticated);
    };
    export(state.db, actor, AuditScope::AllTenants, filter, "all").await
}

enum Next {
    Page(AuditPage),
    After(i64),
    Done,
}

async fn export(
    db: PgPool,
    actor: Actor,
    scope: AuditScope,
    filter: AuditFilter,
    label: &str,
) -> Response {
    // The first page is read before answering, so a refusal or bad filter gets its own status.
    let first = match audit::list(&db, &actor, scope, &filter, None, PAGE).await {
        Ok(page) => page,
        Err(error) => return problem(&error),
    };
    let pages = futures_util::stream::unfold(Next::Page(first), move |next| {
        let (db, actor, filter) = (db.clone(), actor.clone(), filter.clone());
        async move {
            let page = match next {
                Next::Done => return None,
                Next::Page(page) => page,
                Next::After(cursor) => {
                    match audit::list(&db, &actor, scope, &filter, Some(cursor), PAGE).await {
                        Ok(page) => page,
                        Err(error) => {
                            // Headers are gone: cut the body short so the download visibly fails.
                            tracing::error!(%error, "audit export stopped");
                            let failed = std::io::Error::other(error.to_string());
                            return Some((Err(failed), Next::Done));
                        }
                    }
                }
            };
            let mut lines = Vec::with_capacity(page.events.len() * 256);
            for event in &page.events {
                if let Err(error) = serde_json::to_writer(&mut lines, event) {
                    return Some((Err(std::io::Error::other(error)), Next::Done));
                }
                lines.push(b'\n');
            }
            let next = page.next_cursor.map_or(Next::Done, Next::After);
            Some((Ok(Bytes::from(lines)), next))
        }
    });
    let day = time::OffsetDateTime::now_utc().date();
    let disposition = format!("attachment; filename=\"stratus-audit-{label}-{day}.ndjson\"");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(pages),
    )
        .into_response()
}
