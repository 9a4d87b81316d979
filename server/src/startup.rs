//! Builds the application; used by `main` and by the tests (which bind port 0).

use crate::config::Settings;
use crate::http;
use anyhow::Context;
use app::backend::cloud::endpoints::EndpointPolicy;
use app::backend::events::EventHub;
use app::backend::identity::jwt::JwtKeys;
use app::backend::jobs::worker::{Registry, Worker};
use app::backend::secrets::Keyring;
use app::backend::{cloud::accounts as cloud_accounts, identity::passwords, MIGRATOR};
use leptos::config::LeptosOptions;
use secrecy::ExposeSecret;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Shared by every handler.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub db: PgPool,
    pub leptos: LeptosOptions,
    pub keyring: Arc<Keyring>,
    pub events: http::events::EventStream,
    pub jwt: Arc<JwtKeys>,
    pub metrics: Arc<crate::metrics::Scrapes>,
    /// Where cloud accounts may connect.
    pub endpoints: Arc<EndpointPolicy>,
    /// The sandbox's fault proxy, when the sandbox runs (STRATUS_SANDBOX_ENDPOINT).
    pub faults: app::faults::Faults,
}

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    shutdown_grace: Duration,
    worker: Option<Worker>,
    pub db: PgPool,
}

/// Every job kind this build of Stratus can run.
pub fn registry(
    keyring: &Arc<Keyring>,
    settings: &Settings,
    endpoints: &Arc<EndpointPolicy>,
) -> Registry {
    let mut registry = Registry::default().with_builtins();
    app::backend::cloud::zone_survey::register(&mut registry, keyring.clone(), endpoints.clone());
    app::backend::resources::register(
        &mut registry,
        app::backend::resources::Engine {
            keyring: keyring.clone(),
            endpoints: endpoints.clone(),
            settings: settings.engine.clone(),
        },
    );
    registry
}

/// The cloud-endpoint policy from `STRATUS_ALLOWED_ENDPOINTS` and `STRATUS_SANDBOX_ENDPOINT`.
/// A fault proxy on a fixed address (`STRATUS_FAULT_PROXY_ADDR` with a port) is known to every
/// process, so separate `stratus worker`s reach the sandbox through it too.
pub fn endpoint_policy(settings: &Settings) -> anyhow::Result<Arc<EndpointPolicy>> {
    let policy = EndpointPolicy::new(
        &settings.allowed_endpoints,
        settings.sandbox_endpoint.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!("STRATUS_ALLOWED_ENDPOINTS is invalid: {e}"))?;
    Ok(Arc::new(
        match (&settings.sandbox_endpoint, settings.fault_proxy_addr.port()) {
            (Some(_), port) if port != 0 => {
                policy.with_sandbox_alias(&format!("http://{}", settings.fault_proxy_addr))
            }
            _ => policy,
        },
    ))
}

/// A process that runs jobs also runs the resource resync (coalesced across processes).
pub fn start_resync(db: &PgPool, settings: &Settings, stop: CancellationToken) {
    tokio::spawn(app::backend::resources::run_resync_loop(
        db.clone(),
        settings.engine.clone(),
        stop,
    ));
}

/// Connects lazily, with short timeouts, so an outage is answered quickly (503) instead of
/// hanging. As the configured role (`STRATUS_DATABASE_URL`): the CLI's operator commands.
pub fn connect(settings: &Settings) -> anyhow::Result<PgPool> {
    connect_as(settings, "stratus")
}

/// `application_name` tells the processes apart in `pg_stat_activity`.
pub fn connect_as(settings: &Settings, application_name: &str) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(settings.database_url.expose_secret())
        .context("DATABASE_URL is not a valid PostgreSQL URL")?;
    Ok(pool(settings, options, application_name))
}

/// As the schema owner (`STRATUS_MIGRATE_DATABASE_URL`, else `STRATUS_DATABASE_URL`), without
/// migrating.
pub fn connect_owner(settings: &Settings) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(crate::roles::owner_url(settings))
        .context("the database URL is not a valid PostgreSQL URL")?;
    Ok(pool(settings, options, "stratus-admin"))
}

fn pool(settings: &Settings, options: PgConnectOptions, application_name: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(settings.db_max_connections)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options.application_name(application_name))
}

pub async fn migrate(db: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(db)
        .await
        .context("applying database migrations")?;
    tower_sessions_sqlx_store::PostgresStore::new(db.clone())
        .migrate()
        .await
        .context("creating the session table")?;
    Ok(())
}

/// Creates the database if it does not exist yet (the embedded default), then connects as the
/// schema owner (`STRATUS_MIGRATE_DATABASE_URL`, else `STRATUS_DATABASE_URL`) and migrates.
pub async fn prepare_database(settings: &Settings) -> anyhow::Result<PgPool> {
    use sqlx::migrate::MigrateDatabase;
    let url = crate::roles::owner_url(settings);
    let exists = sqlx::Postgres::database_exists(url).await.context(
        "cannot reach PostgreSQL: set DATABASE_URL, or start the local server (scripts/run does both)",
    )?;
    if !exists {
        sqlx::Postgres::create_database(url)
            .await
            .context("creating the database")?;
        tracing::info!("created the database");
    }
    let options = PgConnectOptions::from_str(url)
        .context("the database URL is not a valid PostgreSQL URL")?;
    let db = pool(settings, options, "stratus-migrate");
    migrate(&db).await?;
    Ok(db)
}

/// Migrates as the owner, then connects as the runtime role (see `crate::roles`): what
/// `serve` and `worker` use.
pub async fn serving_pool(
    settings: &Settings,
    keyring: &Keyring,
    application_name: &str,
) -> anyhow::Result<PgPool> {
    let owner = prepare_database(settings).await?;
    let options = crate::roles::runtime_options(settings, &owner, keyring).await;
    owner.close().await;
    Ok(pool(settings, options?, application_name))
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let keyring = Arc::new(crate::keys::load(&settings)?);
        let jwt = Arc::new(crate::keys::load_jwt(&settings)?);
        let mut endpoints = endpoint_policy(&settings)?;
        let db = serving_pool(&settings, &keyring, "stratus").await?;
        tokio::task::spawn_blocking(passwords::warm_up);

        let listener = TcpListener::bind(settings.addr)
            .await
            .with_context(|| format!("cannot listen on {} (STRATUS_ADDR)", settings.addr))?;
        let addr = listener.local_addr()?;
        let leptos = LeptosOptions::builder()
            .output_name("stratus")
            .site_root(settings.site_root.as_str())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let mut faults = app::faults::Faults::default();
        if let Some(endpoint) = &settings.sandbox_endpoint {
            // Stratus reaches the sandbox through the fault proxy, so rules apply to its calls.
            let proxy =
                crate::fault_proxy::FaultProxy::start_on(settings.fault_proxy_addr, endpoint)
                    .await?;
            let proxied = proxy.url();
            endpoints = Arc::new((*endpoints).clone().with_sandbox_alias(&proxied));
            cloud_accounts::ensure_sandbox(&db, &keyring, &proxied)
                .await
                .map_err(|e| anyhow::anyhow!("registering the sandbox cloud: {e}"))?;
            tracing::info!(moto = %endpoint, fault_proxy = %proxied, control = %format!("{proxied}{}", crate::fault_proxy::CONTROL_PATH), "the demo tenant's sandbox cloud (emulated AWS) is registered behind the fault proxy");
            faults = app::faults::Faults(Some(Arc::new(proxy)));
        }
        let events = http::events::EventStream {
            hub: EventHub::start(
                db.clone(),
                http::events::CONNECTION_BUFFER,
                CancellationToken::new(),
            ),
            origin: settings.origin(addr).into(),
            recheck_every: settings.stream.recheck_every,
            admission: http::events::Admission::new(http::events::StreamLimits {
                per_credential: settings.stream.max_per_credential,
                per_address: settings.stream.max_per_address,
                max_replay: settings.stream.max_replay,
                replays_per_minute: settings.stream.replays_per_minute,
            }),
        };
        let state_keyring = keyring.clone();
        let state = AppState {
            db: db.clone(),
            leptos,
            keyring,
            events,
            jwt,
            metrics: Arc::new(crate::metrics::Scrapes::new(
                settings.metrics_token.as_ref(),
            )),
            endpoints: endpoints.clone(),
            faults,
        };
        let router = http::router(state, &settings).await?;
        let worker = (settings.worker_concurrency > 0).then(|| {
            let worker = Worker::start(
                db.clone(),
                registry(&state_keyring, &settings, &endpoints),
                settings.worker(settings.worker_concurrency),
            );
            start_resync(&db, &settings, worker.stop_token());
            worker
        });
        Ok(Application {
            listener,
            router,
            shutdown_grace: settings.shutdown_grace,
            worker,
            db,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until SIGINT/SIGTERM, then lets requests in flight finish (up to the grace period).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let grace = self.shutdown_grace;
        use axum::serve::ListenerExt;
        // Streamed pages are written in several small pieces: without TCP_NODELAY, Nagle's
        // algorithm and delayed ACKs add ~40 ms to each.
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal());
        let server = tokio::spawn(async move { server.await });
        let http = async {
            tokio::select! {
                result = server => result?.map_err(anyhow::Error::from),
                _ = async { shutdown_signal().await; tokio::time::sleep(grace).await } => {
                    tracing::warn!("requests still running after the grace period; stopping anyway");
                    Ok(())
                }
            }
        };
        // The in-process worker stops claiming at the same signal and finishes or releases its jobs.
        let worker = self.worker;
        let jobs = async move {
            if let Some(worker) = worker {
                shutdown_signal().await;
                worker.shutdown().await;
            }
        };
        let (result, ()) = tokio::join!(http, jobs);
        tracing::info!("stopped");
        result
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}
