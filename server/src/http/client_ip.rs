//! Makes the peer address of each request available to the audit log.

use app::backend::audit;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::net::SocketAddr;

/// The TCP peer, not `X-Forwarded-For`: a header is the client's to choose. Behind a reverse
/// proxy this is the proxy's address.
pub async fn remember_client_ip(req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical());
    match peer {
        Some(ip) => audit::with_client_ip(ip, next.run(req)).await,
        None => next.run(req).await,
    }
}
