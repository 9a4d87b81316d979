//! Settings from `STRATUS_*` environment variables (see the README's table).

use anyhow::{bail, Context};
use secrecy::SecretString;
use std::net::SocketAddr;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen; port 0 picks a free one (tests).
    pub addr: SocketAddr,
    pub database_url: SecretString,
    pub db_max_connections: u32,
    /// Folder holding `pkg/` (the WASM bundle and CSS).
    pub site_root: String,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub request_timeout: Duration,
    /// How long shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    pub admin_email: String,
    /// Jobs run at once by the worker inside `serve`; 0 runs no worker there.
    pub worker_concurrency: usize,
    /// Most jobs one claim takes (and a worker holds before starting them).
    pub claim_batch: usize,
    pub job_lease: Duration,
    pub job_poll_interval: Duration,
    pub job_retention: Duration,
    /// Key-encryption keys as `id:base64` pairs, the first active (`STRATUS_MASTER_KEYS`).
    pub master_keys: Option<SecretString>,
    /// ... or a file of such lines (`STRATUS_MASTER_KEY_FILE`).
    pub master_key_file: Option<std::path::PathBuf>,
    /// Access-token signing keys as `kid:base64` pairs, the first signs (`STRATUS_JWT_KEYS`).
    pub jwt_keys: Option<SecretString>,
    /// ... or a file of such lines (`STRATUS_JWT_KEY_FILE`).
    pub jwt_key_file: Option<std::path::PathBuf>,
    /// Where the embedded default keeps its generated key files.
    pub data_dir: std::path::PathBuf,
    /// A moto server to register as the demo tenant's sandbox cloud (`scripts/run` sets it).
    pub sandbox_endpoint: Option<String>,
    /// Where the sandbox's fault proxy listens (`STRATUS_FAULT_PROXY_ADDR`; default a free
    /// loopback port). Only with the sandbox.
    pub fault_proxy_addr: SocketAddr,
    /// Where people reach the portal (`STRATUS_PUBLIC_URL`); WebSocket handshakes carrying a
    /// session cookie must come from exactly this origin. Default: `http://` + the listen address.
    pub public_url: Option<String>,
    /// Pacing of the resource engine: resync, orphan sweeps.
    pub engine: app::backend::resources::EngineSettings,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`STRATUS_TRUSTED_PROXIES`, a
    /// comma-separated list of addresses or CIDR ranges; empty: the TCP peer is the client).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The event stream's limits.
    pub stream: StreamSettings,
    /// The bearer token `/metrics` asks for (`STRATUS_METRICS_TOKEN`); without it `/metrics`
    /// answers 404.
    pub metrics_token: Option<SecretString>,
    /// Endpoint URLs (prefixes) or `host:port` pairs cloud accounts may use although they are
    /// private addresses (`STRATUS_ALLOWED_ENDPOINTS`, comma-separated).
    pub allowed_endpoints: Vec<String>,
    /// The role that owns the schema and applies migrations (`STRATUS_MIGRATE_DATABASE_URL`);
    /// the server then serves as the role of `STRATUS_DATABASE_URL`.
    pub migrate_database_url: Option<SecretString>,
}

/// How much one credential or address may take of the event stream (issue 12).
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// How often a socket's credential and subscriptions are checked again
    /// (`STRATUS_EVENTS_RECHECK_SECS`, 60).
    pub recheck_every: Duration,
    /// Sockets open at once per credential: one browser session or one API key
    /// (`STRATUS_EVENTS_MAX_PER_CREDENTIAL`, 8).
    pub max_per_credential: usize,
    /// Sockets open at once per client address, IPv6 by /64 (`STRATUS_EVENTS_MAX_PER_ADDRESS`, 32).
    pub max_per_address: usize,
    /// Most events one replay (`after` an old id) sends before the client is told to reload
    /// (`STRATUS_EVENTS_MAX_REPLAY`, 2000).
    pub max_replay: usize,
    /// Replays per credential per minute (`STRATUS_EVENTS_REPLAYS_PER_MINUTE`, 30).
    pub replays_per_minute: u32,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings {
            recheck_every: Duration::from_secs(60),
            max_per_credential: 8,
            max_per_address: 32,
            max_replay: 2000,
            replays_per_minute: 30,
        }
    }
}

/// `10.0.0.0/8, 192.168.1.7` as address ranges (a bare address is a single-address range).
pub fn parse_proxies(raw: &str) -> anyhow::Result<Vec<ipnet::IpNet>> {
    raw.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    anyhow::anyhow!(
                        "STRATUS_TRUSTED_PROXIES: {p:?} is neither an address nor a CIDR range"
                    )
                })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={raw:?} is invalid: {e}")),
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let database_url = var("STRATUS_DATABASE_URL")
            .or_else(|| var("DATABASE_URL"))
            .unwrap_or_else(|| "postgres://127.0.0.1:5432/stratus".into());
        let log_format = match var("STRATUS_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => bail!("STRATUS_LOG_FORMAT={other:?} is invalid: use text or json"),
        };
        Ok(Settings {
            addr: parse("STRATUS_ADDR", SocketAddr::from(([127, 0, 0, 1], 3000)))?,
            database_url: SecretString::from(database_url),
            db_max_connections: parse("STRATUS_DB_MAX_CONNECTIONS", 10)?,
            site_root: var("STRATUS_SITE_ROOT").unwrap_or_else(|| "target/site".into()),
            log_format,
            log_filter: var("STRATUS_LOG")
                .unwrap_or_else(|| "info,sqlx=warn,tower_sessions=warn".into()),
            request_timeout: Duration::from_secs(parse("STRATUS_REQUEST_TIMEOUT_SECS", 30)?),
            shutdown_grace: Duration::from_secs(parse("STRATUS_SHUTDOWN_GRACE_SECS", 20)?),
            admin_email: var("STRATUS_ADMIN_EMAIL").unwrap_or_else(|| "admin@stratus.local".into()),
            worker_concurrency: parse("STRATUS_WORKER_CONCURRENCY", 8)?,
            claim_batch: parse::<usize>("STRATUS_CLAIM_BATCH", 500)?.max(1),
            job_lease: Duration::from_secs(parse("STRATUS_JOB_LEASE_SECS", 30)?),
            job_poll_interval: Duration::from_millis(parse("STRATUS_JOB_POLL_MS", 1000)?),
            job_retention: Duration::from_secs(
                parse::<u64>("STRATUS_JOB_RETENTION_DAYS", 14)? * 24 * 3600,
            ),
            master_keys: var("STRATUS_MASTER_KEYS").map(SecretString::from),
            master_key_file: var("STRATUS_MASTER_KEY_FILE").map(Into::into),
            jwt_keys: var("STRATUS_JWT_KEYS").map(SecretString::from),
            jwt_key_file: var("STRATUS_JWT_KEY_FILE").map(Into::into),
            data_dir: var("STRATUS_DATA_DIR")
                .unwrap_or_else(|| ".stratus".into())
                .into(),
            sandbox_endpoint: var("STRATUS_SANDBOX_ENDPOINT"),
            fault_proxy_addr: parse(
                "STRATUS_FAULT_PROXY_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 0)),
            )?,
            public_url: var("STRATUS_PUBLIC_URL"),
            engine: app::backend::resources::EngineSettings {
                resync_interval: Duration::from_millis(parse("STRATUS_RESYNC_MS", 60_000)?),
                group_resync_interval: Duration::from_millis(parse(
                    "STRATUS_GROUP_RESYNC_MS",
                    10_000,
                )?),
                sweep_interval: Duration::from_secs(parse("STRATUS_SWEEP_INTERVAL_SECS", 600)?),
                sweep_grace: Duration::from_secs(parse("STRATUS_SWEEP_GRACE_SECS", 900)?),
            },
            trusted_proxies: parse_proxies(&var("STRATUS_TRUSTED_PROXIES").unwrap_or_default())?,
            stream: {
                let d = StreamSettings::default();
                StreamSettings {
                    recheck_every: Duration::from_secs(
                        parse("STRATUS_EVENTS_RECHECK_SECS", d.recheck_every.as_secs())?.max(1),
                    ),
                    max_per_credential: parse(
                        "STRATUS_EVENTS_MAX_PER_CREDENTIAL",
                        d.max_per_credential,
                    )?,
                    max_per_address: parse("STRATUS_EVENTS_MAX_PER_ADDRESS", d.max_per_address)?,
                    max_replay: parse("STRATUS_EVENTS_MAX_REPLAY", d.max_replay)?,
                    replays_per_minute: parse(
                        "STRATUS_EVENTS_REPLAYS_PER_MINUTE",
                        d.replays_per_minute,
                    )?,
                }
            },
            metrics_token: var("STRATUS_METRICS_TOKEN").map(SecretString::from),
            allowed_endpoints: var("STRATUS_ALLOWED_ENDPOINTS")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|e| !e.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            migrate_database_url: var("STRATUS_MIGRATE_DATABASE_URL").map(SecretString::from),
        })
        .and_then(|s: Settings| {
            if s.db_max_connections == 0 {
                bail!("STRATUS_DB_MAX_CONNECTIONS must be at least 1");
            }
            if s.engine.group_resync_interval < Duration::from_millis(100) {
                bail!("STRATUS_GROUP_RESYNC_MS must be at least 100");
            }
            if s.engine.resync_interval < Duration::from_millis(100) {
                bail!("STRATUS_RESYNC_MS must be at least 100");
            }
            if s.job_lease < Duration::from_secs(1) {
                bail!("STRATUS_JOB_LEASE_SECS must be at least 1");
            }
            if let Some(url) = &s.public_url {
                origin_of(url)?;
            }
            if let Some(token) = &s.metrics_token {
                use secrecy::ExposeSecret;
                if token.expose_secret().trim().len() < 16 {
                    bail!("STRATUS_METRICS_TOKEN must be at least 16 characters");
                }
            }
            Ok(s)
        })
        .context("reading configuration")
    }
}

/// The origin (`scheme://host[:port]`) of a URL such as `https://stratus.example.com/`.
pub fn origin_of(url: &str) -> anyhow::Result<String> {
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "STRATUS_PUBLIC_URL={url:?} is invalid: it must start with http:// or https://"
            )
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        bail!("STRATUS_PUBLIC_URL={url:?} is invalid: it needs a host (and no user name)");
    }
    Ok(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

impl Settings {
    /// The portal's origin: from `STRATUS_PUBLIC_URL`, else the address actually bound.
    pub fn origin(&self, bound: std::net::SocketAddr) -> String {
        self.public_url
            .as_deref()
            .and_then(|url| origin_of(url).ok())
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    /// The worker settings for this process, with `concurrency` jobs at a time.
    pub fn worker(&self, concurrency: usize) -> app::backend::jobs::worker::WorkerConfig {
        let mut config = app::backend::jobs::worker::WorkerConfig::new(concurrency);
        config.lease = self.job_lease;
        config.poll_interval = self.job_poll_interval;
        config.claim_batch = self.claim_batch;
        config.retention = self.job_retention;
        config.shutdown_timeout = self.shutdown_grace;
        config
    }
}
