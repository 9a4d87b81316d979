//! CSRF defence for cookie-authenticated requests: an unsafe method from another site is refused.
//!
//! Browsers say where a request comes from in `Sec-Fetch-Site` (and `Origin`); a request from
//! our own pages is `same-origin`. Clients that send neither are not browsers and carry no
//! ambient cookie to abuse.

use super::pages::problem;
use app::error::AppError;
use app::model::AuditAction;
use axum::extract::Request;
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::Response;

pub async fn refuse_cross_site(req: Request, next: Next) -> Response {
    if is_safe(req.method()) || is_same_origin(&req) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "cross-site request refused");
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(|o| o.chars().take(200).collect::<String>());
    app::backend::audit::record_unauthenticated_here(
        AuditAction::CrossSiteRefused,
        req.uri().path(),
        serde_json::json!({ "origin": origin }),
    )
    .await;
    problem(&AppError::Forbidden("Cross-site request refused.".into()))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_same_origin(req: &Request) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin") | Ok("none"));
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin_host = origin.to_str().ok().and_then(|o| {
                o.strip_prefix("http://")
                    .or_else(|| o.strip_prefix("https://"))
            });
            matches!((origin_host, host), (Some(o), Some(h)) if o == h)
        }
    }
}
