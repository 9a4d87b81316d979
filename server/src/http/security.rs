//! Browser-facing hardening on every answer: the `Host` check against DNS rebinding and the
//! security headers (CSP, framing, sniffing, referrer, HSTS, caching).
//!
//! Pages get a Content-Security-Policy with a fresh nonce for Leptos' hydration scripts
//! ([`page_policy`], set while the page renders); everything else (JSON, problems, static
//! files, the API reference) gets [`STATIC_POLICY`], which runs no script at all.

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;

/// Answers that are not pages: no script, no plugin, styles and images from here only.
pub const STATIC_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// A page's policy: scripts only from this origin or carrying this response's nonce (the
/// inline hydration bootstrap), WebAssembly compiled from them, no framing. Inline `style`
/// attributes stay allowed (the progress bar's width); they cannot run code.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Which `Host` headers this portal answers, and whether it is served over HTTPS.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    /// The public URL's host (lowercase, no trailing dot) and port (explicit or the scheme's).
    public: Option<(String, u16)>,
    https: bool,
}

impl HostPolicy {
    /// From `STRATUS_PUBLIC_URL` (already validated by the configuration).
    pub fn new(public_url: Option<&str>) -> HostPolicy {
        let Some(origin) = public_url.and_then(|url| crate::config::origin_of(url).ok()) else {
            return HostPolicy {
                public: None,
                https: false,
            };
        };
        let https = origin.starts_with("https://");
        let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or_default();
        let default_port = if https { 443 } else { 80 };
        let public =
            split_authority(authority).map(|(host, port)| (host, port.unwrap_or(default_port)));
        HostPolicy { public, https }
    }

    /// Whether a request naming `host` (the `Host` header) may be answered.
    ///
    /// A DNS-rebinding page talks to us under the attacker's name, so its requests carry that
    /// name: refusing names other than the public URL's closes it. IP literals and `localhost`
    /// cannot be rebound (no DNS answer is involved), so they are always accepted: probes,
    /// scrapers, tests and local use reach the server by address.
    pub fn allows(&self, host: &str) -> bool {
        let Some((name, port)) = split_authority(host) else {
            return false;
        };
        if name == "localhost" || name.parse::<IpAddr>().is_ok() {
            return true;
        }
        match &self.public {
            Some((public_host, public_port)) => {
                let default_port = if self.https { 443 } else { 80 };
                name == *public_host && port.unwrap_or(default_port) == *public_port
            }
            None => false,
        }
    }
}

/// `host[:port]` → (lowercase host without brackets or trailing dot, port).
fn split_authority(authority: &str) -> Option<(String, Option<u16>)> {
    let authority = authority.trim();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port.parse().ok()?)),
            None => (authority, None),
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || host.contains(['/', '@', ' ']) {
        return None;
    }
    Some((host, port))
}

/// Health probes come from orchestrators under whatever name they use; they reveal nothing.
fn is_probe(path: &str) -> bool {
    path == "/healthz" || path == "/readyz"
}

/// Refuses requests for another host (421, a problem document) before anything else runs.
pub async fn check_host(
    State(policy): State<Arc<HostPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    if is_probe(req.uri().path()) {
        return next.run(req).await;
    }
    // HTTP/1.1 carries `Host`; HTTP/2 the URI's authority.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    match host {
        Some(host) if policy.allows(&host) => next.run(req).await,
        _ => {
            tracing::warn!(path = %req.uri().path(), "request for another host refused");
            misdirected()
        }
    }
}

fn misdirected() -> Response {
    let body = serde_json::json!({
        "type": "/problems/misdirected-request",
        "title": "Misdirected Request",
        "status": 421,
        "detail": "This server does not answer for that host name. Use the portal's address (STRATUS_PUBLIC_URL).",
    });
    (
        StatusCode::MISDIRECTED_REQUEST,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

/// Adds the security headers to every answer; a page's own CSP (with its nonce) and a
/// handler's own `Cache-Control` are kept.
pub async fn add_headers(
    State(policy): State<Arc<HostPolicy>>,
    req: Request,
    next: Next,
) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    let set_default = |headers: &mut http::HeaderMap, name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set_default(headers, header::CONTENT_SECURITY_POLICY, STATIC_POLICY);
    // Signed-in pages and API answers must not stay in shared or back/forward caches; static
    // files set their own (`no-cache`: revalidate, then reuse).
    set_default(headers, header::CACHE_CONTROL, "no-store");
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Invitation tokens travel in URLs: never send them on to another site.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // For browsers that predate `frame-ancestors`.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if policy.https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_public_name_or_an_address_is_answered() {
        let policy = HostPolicy::new(Some("https://Stratus.Example.com/"));
        assert!(policy.allows("stratus.example.com"));
        assert!(policy.allows("STRATUS.example.com.:443"));
        assert!(!policy.allows("stratus.example.com:8443"));
        assert!(!policy.allows("evil.example"));
        assert!(!policy.allows("stratus.example.com.evil.example"));
        assert!(policy.allows("127.0.0.1:3000"));
        assert!(policy.allows("[::1]:3000"));
        assert!(policy.allows("localhost:3000"));
        assert!(!policy.allows(""));
        assert!(!policy.allows("a@b"));

        let local = HostPolicy::new(None);
        assert!(local.allows("127.0.0.1:41234"));
        assert!(!local.allows("evil.example:41234"));
        assert!(!local.https);

        let port = HostPolicy::new(Some("http://portal.internal:8080"));
        assert!(port.allows("portal.internal:8080"));
        assert!(!port.allows("portal.internal"));
    }
}
