//! Resolves each request's client address, for rate limits, caps and the audit log (and gives
//! the audit log the request's pool, for events recorded outside any change).
//!
//! The TCP peer is the client, unless it is one of `STRATUS_TRUSTED_PROXIES`: then the
//! `X-Forwarded-For` chain is read from the right, each trusted hop skipped, and the first
//! untrusted address is the client. A header from anyone else is the client's to choose, so it
//! is ignored.

use app::backend::audit;
use app::backend::identity::user_sessions::ClientAddress;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Default)]
pub struct TrustedProxies(pub Arc<[IpNet]>);

/// What the middleware needs: whom to believe, and the pool events outside any change are
/// recorded with.
#[derive(Clone)]
pub struct RequestContext {
    pub trusted: TrustedProxies,
    pub db: sqlx::PgPool,
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client behind `peer`, given the request's `X-Forwarded-For` values in order.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip.to_canonical();
                    if !self.trusts(client) {
                        break;
                    }
                }
                // A malformed hop ends what can be believed: the last proxy is the client.
                Err(_) => break,
            }
        }
        client
    }
}

pub async fn remember_client_ip(
    State(RequestContext { trusted, db }): State<RequestContext>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical());
    let Some(peer) = peer else {
        return audit::with_pool(db, next.run(req)).await;
    };
    let forwarded: Vec<String> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let ip = trusted.client(peer, forwarded.iter().map(String::as_str));
    req.extensions_mut().insert(ClientAddress(ip));
    audit::with_pool(db, audit::with_client_ip(ip, next.run(req))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let trusted = TrustedProxies(vec!["10.0.0.0/8".parse().unwrap()].into());
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        // From a stranger, the header is ignored.
        assert_eq!(
            trusted.client(stranger, ["203.0.113.9"].into_iter()),
            stranger
        );
        // Through the proxy, the rightmost untrusted hop is the client (a spoofed left part is not).
        assert_eq!(
            trusted.client(proxy, ["6.6.6.6, 203.0.113.9, 10.9.9.9"].into_iter()),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(trusted.client(proxy, ["garbage"].into_iter()), proxy);
        assert_eq!(trusted.client(proxy, std::iter::empty()), proxy);
    }
}
