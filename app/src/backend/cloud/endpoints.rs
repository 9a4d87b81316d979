//! Where a cloud account's requests may go: the server-side request forgery defence.
//!
//! A tenant chooses a cloud account's endpoint URL, and Stratus then calls it from inside the
//! operator's network. Without a check that reaches the metadata service (169.254.169.254),
//! the database, or anything listening on loopback or a private range, and the connection
//! test's error messages map out which ports are open. So an endpoint must resolve to public
//! addresses only, checked when the account is created and again at every connection, where
//! the SDK's HTTP client resolves names through [`PublicOnly`]: it refuses a name with any
//! non-public address and connects only to the addresses it checked (pinned), so a DNS answer
//! that changes between the check and the connection (rebinding) changes nothing.
//!
//! The exceptions are the operator's: the sandbox account registered at startup
//! (`STRATUS_SANDBOX_ENDPOINT`) and the allowlist `STRATUS_ALLOWED_ENDPOINTS`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What a refused endpoint is told: the same words whatever the reason (private address,
/// unresolvable name), so the answer maps nothing out.
pub const NOT_ALLOWED: &str = "This endpoint is not allowed: a cloud account's endpoint must be a \
     public address (a host name that resolves only to public addresses). Ask the operator to \
     add it to STRATUS_ALLOWED_ENDPOINTS if it is a private cloud.";

/// An endpoint URL taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub https: bool,
    /// Lowercase; an IPv6 address without brackets.
    pub host: String,
    /// Explicit or the scheme's default.
    pub port: u16,
    /// Everything after the authority (`/`, `/v1/...`), never empty.
    pub path: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, String> {
        let invalid = || {
            "Enter a URL starting with https:// (or http:// for a local emulator), or leave it empty."
                .to_string()
        };
        let url = url.trim();
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(invalid());
        };
        if rest.contains(char::is_whitespace) {
            return Err(invalid());
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        if authority.contains('@') {
            return Err("An endpoint URL cannot carry a user name or password.".into());
        }
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or_else(invalid)?;
            host.parse::<Ipv6Addr>().map_err(|_| invalid())?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        let port = match port {
            Some(port) => port.parse::<u16>().map_err(|_| invalid())?,
            None if https => 443,
            None => 80,
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let host_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_'));
        if !host_ok || port == 0 {
            return Err(invalid());
        }
        Ok(Endpoint {
            https,
            host,
            port,
            path: if path.is_empty() {
                "/".into()
            } else {
                path.into()
            },
        })
    }

    /// The host as an address, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }
}

/// One allowlist entry: `host:port`, or a URL prefix such as `https://cloud.internal/ec2/`.
#[derive(Debug, Clone)]
enum Allowed {
    HostPort(String, u16),
    Prefix(Endpoint),
}

impl Allowed {
    fn parse(entry: &str) -> Result<Allowed, String> {
        if entry.contains("://") {
            return Endpoint::parse(entry)
                .map(Allowed::Prefix)
                .map_err(|_| format!("{entry:?} is not a URL prefix such as https://host:port/"));
        }
        let probe = Endpoint::parse(&format!("http://{entry}"))
            .map_err(|_| format!("{entry:?} is not host:port"))?;
        if !entry.contains(':') || probe.path != "/" {
            return Err(format!("{entry:?} must be host:port (with the port)"));
        }
        Ok(Allowed::HostPort(probe.host, probe.port))
    }

    fn matches(&self, endpoint: &Endpoint) -> bool {
        match self {
            Allowed::HostPort(host, port) => endpoint.host == *host && endpoint.port == *port,
            Allowed::Prefix(prefix) => {
                let path_ok = endpoint.path.starts_with(&prefix.path)
                    && (prefix.path.ends_with('/')
                        || endpoint.path.len() == prefix.path.len()
                        || endpoint.path[prefix.path.len()..].starts_with(['/', '?', '#']));
                prefix.https == endpoint.https
                    && prefix.host == endpoint.host
                    && prefix.port == endpoint.port
                    && path_ok
            }
        }
    }
}

/// The operator's exceptions to "public addresses only".
#[derive(Debug, Clone, Default)]
pub struct EndpointPolicy {
    allowed: Vec<Allowed>,
    /// The sandbox's addresses: moto's (`STRATUS_SANDBOX_ENDPOINT`) and the fault proxy's in
    /// front of it, where the sandbox account is registered.
    sandbox: Vec<String>,
}

/// How a vetted endpoint is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// An operator's exception: connect as configured.
    Trusted,
    /// Public addresses only, checked again (and pinned) at connection time.
    PublicOnly,
}

/// A refusal; its message is [`NOT_ALLOWED`] whatever the cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAllowed;

impl std::fmt::Display for NotAllowed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(NOT_ALLOWED)
    }
}

impl EndpointPolicy {
    /// From `STRATUS_ALLOWED_ENDPOINTS` entries and `STRATUS_SANDBOX_ENDPOINT`.
    pub fn new(allowed: &[String], sandbox: Option<&str>) -> Result<EndpointPolicy, String> {
        Ok(EndpointPolicy {
            allowed: allowed
                .iter()
                .map(|e| Allowed::parse(e.trim()))
                .collect::<Result<_, _>>()?,
            sandbox: sandbox
                .map(|s| s.trim().trim_end_matches('/').to_string())
                .into_iter()
                .collect(),
        })
    }

    /// Another address of the sandbox: the fault proxy in front of it.
    pub fn with_sandbox_alias(mut self, url: &str) -> EndpointPolicy {
        self.sandbox
            .push(url.trim().trim_end_matches('/').to_string());
        self
    }

    /// Whether `url` may be called, and how. `emulated` is the sandbox account's flag: it
    /// is exempt only while its endpoint is still the configured sandbox.
    pub async fn vet(&self, url: &str, emulated: bool) -> Result<Route, NotAllowed> {
        let endpoint = Endpoint::parse(url).map_err(|_| NotAllowed)?;
        let is_sandbox = emulated
            && self
                .sandbox
                .iter()
                .any(|s| s == url.trim().trim_end_matches('/'));
        if is_sandbox || self.allowed.iter().any(|a| a.matches(&endpoint)) {
            return Ok(Route::Trusted);
        }
        match endpoint.ip() {
            Some(ip) if is_public(ip) => Ok(Route::PublicOnly),
            Some(_) => Err(NotAllowed),
            None => {
                resolve_public(&endpoint.host).await?;
                Ok(Route::PublicOnly)
            }
        }
    }
}

/// The addresses of `host`, all public, or a refusal (no answer counts as a refusal).
pub async fn resolve_public(host: &str) -> Result<Vec<IpAddr>, NotAllowed> {
    let addresses: Vec<IpAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|_| NotAllowed)?
        .map(|a| a.ip())
        .collect();
    if addresses.is_empty() || !addresses.iter().all(|ip| is_public(*ip)) {
        return Err(NotAllowed);
    }
    Ok(addresses)
}

/// Whether an address is on the public internet: not loopback, private, link-local (cloud
/// metadata), unique-local, carrier-grade NAT, unspecified, multicast, broadcast, reserved or
/// documentation space, including IPv4 addresses carried inside IPv6 ones.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || a == 0
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        // 100.64.0.0/10 carrier-grade NAT, 192.0.0.0/24 protocol assignments,
        // 198.18.0.0/15 benchmarking, 240.0.0.0/4 reserved.
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) and the deprecated IPv4-compatible form (::a.b.c.d) reach IPv4.
    if (segments[0] == 0x64 && segments[1] == 0xff9b && segments[2..6] == [0; 4])
        || segments[..6] == [0; 6]
    {
        let [_, _, _, _, _, _, hi, lo] = segments;
        let v4 = Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
        return !ip.is_unspecified() && !ip.is_loopback() && is_public_v4(v4);
    }
    // 6to4 (2002::/16) embeds an IPv4 address too.
    if segments[0] == 0x2002 {
        let v4 = Ipv4Addr::new(
            (segments[1] >> 8) as u8,
            segments[1] as u8,
            (segments[2] >> 8) as u8,
            segments[2] as u8,
        );
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7 unique-local, fe80::/10 link-local, fec0::/10 site-local,
        // 2001:db8::/32 documentation, 2001::/32 Teredo (tunnels to anywhere).
        || (segments[0] & 0xfe00) == 0xfc00
        || (segments[0] & 0xffc0) == 0xfe80
        || (segments[0] & 0xffc0) == 0xfec0
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || (segments[0] == 0x2001 && segments[1] == 0))
}

/// The SDK's DNS resolver for [`Route::PublicOnly`] endpoints: resolves once, refuses a name
/// with any non-public address, and hands the connector exactly the addresses it checked.
#[derive(Debug, Clone, Default)]
pub struct PublicOnly {
    /// Set when a name was refused, so the caller can tell a refusal from a transport error.
    pub refused: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl aws_smithy_runtime_api::client::dns::ResolveDns for PublicOnly {
    fn resolve_dns<'a>(
        &'a self,
        name: &'a str,
    ) -> aws_smithy_runtime_api::client::dns::DnsFuture<'a> {
        use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDnsError};
        DnsFuture::new(async move {
            resolve_public(name.trim_end_matches('.'))
                .await
                .map_err(|refusal| {
                    self.refused
                        .store(true, std::sync::atomic::Ordering::SeqCst);
                    ResolveDnsError::new(refusal.to_string())
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(ip: &str) -> bool {
        is_public(ip.parse().unwrap())
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2001:db8::1",
        ] {
            assert!(!public(ip), "{ip} counted as public");
        }
        for ip in [
            "52.94.76.10",
            "8.8.8.8",
            "2600:1f18::1",
            "::ffff:52.94.76.10",
        ] {
            assert!(public(ip), "{ip} counted as private");
        }
    }

    #[test]
    fn endpoints_are_parsed_strictly() {
        let e = Endpoint::parse("https://EC2.Example.com./v1").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("ec2.example.com", 443, "/v1")
        );
        let e = Endpoint::parse("http://[::1]:5000").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 5000));
        for bad in [
            "ftp://x",
            "http://",
            "http://user:pw@host",
            "http://h:99999",
            "http://a b",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_sdk_resolver_refuses_names_of_private_addresses() {
        use aws_smithy_runtime_api::client::dns::ResolveDns;
        let resolver = PublicOnly::default();
        assert!(resolver.resolve_dns("localhost").await.is_err());
        assert!(resolver.refused.load(std::sync::atomic::Ordering::SeqCst));
    }

    #[tokio::test]
    async fn the_allowlist_and_the_sandbox_are_the_only_exceptions() {
        let policy = EndpointPolicy::new(
            &[
                "127.0.0.1:5055".into(),
                "https://cloud.internal/ec2/".into(),
            ],
            Some("http://127.0.0.1:6000/"),
        )
        .unwrap();
        assert_eq!(
            policy.vet("http://127.0.0.1:5055", false).await,
            Ok(Route::Trusted)
        );
        assert_eq!(
            policy.vet("http://127.0.0.1:5055/x", false).await,
            Ok(Route::Trusted)
        );
        assert_eq!(
            policy.vet("http://127.0.0.1:5056", false).await,
            Err(NotAllowed)
        );
        assert_eq!(
            policy.vet("https://cloud.internal/ec2/a", false).await,
            Ok(Route::Trusted)
        );
        assert_eq!(
            policy.vet("https://cloud.internal/ec22", false).await,
            Err(NotAllowed)
        );
        assert_eq!(
            policy.vet("http://127.0.0.1:6000", true).await,
            Ok(Route::Trusted)
        );
        assert_eq!(
            policy.vet("http://127.0.0.1:6000", false).await,
            Err(NotAllowed)
        );
        assert_eq!(policy.vet("http://10.0.0.1", false).await, Err(NotAllowed));
        assert_eq!(
            policy.vet("http://localhost:5055", false).await,
            Err(NotAllowed)
        );
        assert_eq!(
            policy.vet("http://52.94.76.10", false).await,
            Ok(Route::PublicOnly)
        );
        assert!(EndpointPolicy::new(&["nohostport".into()], None).is_err());
    }
}
