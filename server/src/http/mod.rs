//! The HTTP surface: pages (SSR), server functions under `/rpc`, health checks, static files.

mod actor;
mod audit_export;
mod client_ip;
mod csrf;
pub mod events;
mod health;
mod pages;
pub mod rest;
pub mod security;

pub(crate) use pages::problem;

use crate::config::Settings;
use crate::startup::AppState;
use app::{shell, App};
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower::ServiceBuilder;
use tower_http::compression::{CompressionLayer, CompressionLevel};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

/// The session cookie: `__Host-` prefixed, so it is Secure, host-only and path `/`.
pub const SESSION_COOKIE: &str = "__Host-stratus";

/// The portal's page routes, generated once per process. Leptos generates them by rendering the
/// app with resource loads suppressed process-wide, and a page being served meanwhile waits
/// for its data forever (leptos-rs/leptos#4773). One server generates them before it serves;
/// a process running several (the integration tests) must not while another renders.
fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub async fn router(state: AppState, settings: &Settings) -> anyhow::Result<Router> {
    crate::metrics::install();
    let store = PostgresStore::new(state.db.clone());
    tokio::spawn(
        tower_sessions::session_store::ExpiredDeletion::continuously_delete_expired(
            store.clone(),
            std::time::Duration::from_secs(300),
        ),
    );
    tokio::spawn(app::backend::identity::account::prune_continuously(
        state.db.clone(),
    ));
    let sessions = SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_secure(true)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(
            app::backend::identity::session::IDLE_TIMEOUT,
        ))
        // Save on every request, so the idle timeout counts from the last request, not the
        // last change.
        .with_always_save(true);

    let leptos = state.leptos.clone();
    let db = state.db.clone();
    let keyring = state.keyring.clone();
    let endpoints = state.endpoints.clone();
    let faults = state.faults.clone();
    let context = move || {
        provide_context(db.clone());
        provide_context(keyring.clone());
        provide_context(endpoints.clone());
        provide_context(faults.clone());
        // Pages: Leptos made this response's nonce (its hydration scripts carry it); the
        // policy naming it goes out with the page. Server functions have none and keep the
        // script-free default.
        if let (Some(nonce), Some(response)) = (
            leptos::nonce::use_nonce(),
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
        ) {
            if let Ok(policy) =
                http::HeaderValue::from_str(&security::page_policy(&nonce.to_string()))
            {
                response.insert_header(http::header::CONTENT_SECURITY_POLICY, policy);
            }
        }
    };
    let routes = page_routes();

    // Everything a person reaches with the session cookie.
    let portal = Router::new()
        .route("/audit/export.ndjson", get(audit_export::tenant_export))
        .route(
            "/admin/audit/export.ndjson",
            get(audit_export::admin_export),
        )
        .route("/api/v1/events", get(events::stream))
        .route("/api/v1/events/ticket", post(events::ticket))
        .route(
            "/rpc/{*name}",
            post({
                let context = context.clone();
                move |req| handle_server_fns_with_context(context.clone(), req)
            }),
        )
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let leptos = leptos.clone();
            move || shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(context, shell))
        .layer(
            ServiceBuilder::new()
                .layer(axum::middleware::from_fn(csrf::refuse_cross_site))
                .layer(sessions)
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    actor::resolve_actor,
                )),
        );

    let pkg = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("no-cache"),
        ))
        .service(
            ServeDir::new(format!("{}/pkg", settings.site_root))
                .precompressed_gzip()
                .precompressed_br(),
        );

    let hosts = std::sync::Arc::new(security::HostPolicy::new(settings.public_url.as_deref()));
    Ok(Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .nest_service("/pkg", pkg)
        .merge(rest::router())
        .merge(portal)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
                .layer(axum::middleware::from_fn_with_state(hosts.clone(), security::add_headers))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &http::Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                }))
                .layer(PropagateRequestIdLayer::x_request_id())
                // Before sessions, sign-in or metrics see the request.
                .layer(axum::middleware::from_fn_with_state(hosts, security::check_host))
                .layer(TimeoutLayer::with_status_code(http::StatusCode::REQUEST_TIMEOUT, settings.request_timeout))
                .layer(CompressionLayer::new().quality(CompressionLevel::Precise(4)))
                .layer(axum::middleware::from_fn_with_state(
                    client_ip::RequestContext {
                        trusted: client_ip::TrustedProxies(settings.trusted_proxies.clone().into()),
                        db: state.db.clone(),
                    },
                    client_ip::remember_client_ip,
                )),
        )
        .with_state(state))
}
