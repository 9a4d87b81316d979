//! The REST API for automation, `/api/v1`: bearer credentials only, problem+json errors, cursor
//! pagination, and an OpenAPI 3.1 document generated from the handlers themselves.

mod account;
mod audit;
mod cloud_accounts;
mod databases;
mod docs;
mod extract;
mod idempotency;
mod instance_groups;
mod jobs;
mod keys;
mod page;
mod problems;
mod secrets;
mod tenants;
mod zones;

use crate::http::problem;
use crate::startup::AppState;
use app::error::AppError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stratus API",
        version = "1",
        description = "Self-service cloud capacity for automation. Authenticate with an API key \
            created in the portal (`Authorization: Bearer stx_…`), or exchange it at \
            `POST /api/v1/auth/token` for a 15-minute access token. Errors are RFC 9457 problem \
            documents with a stable `type`; lists are paginated with `limit` and `cursor`."
    ),
    modifiers(&BearerAuth),
    components(schemas(problems::Problem))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API key (`stx_…`) or an access token (JWT)"))
                    .build(),
            ),
        );
    }
}

/// The routes and the document that describes them, built from the same list.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let v1 = OpenApiRouter::new()
        .routes(routes!(account::token))
        .routes(routes!(account::me))
        .routes(routes!(account::roles))
        .routes(routes!(tenants::list))
        .routes(routes!(tenants::get))
        .routes(routes!(tenants::members))
        .routes(routes!(tenants::change_role, tenants::remove_member))
        .routes(routes!(tenants::invitations, tenants::invite))
        .routes(routes!(tenants::revoke_invitation))
        .routes(routes!(keys::list))
        .routes(routes!(keys::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(zones::list, zones::create))
        .routes(routes!(zones::get, zones::update, zones::delete))
        .routes(routes!(instance_groups::list, instance_groups::create))
        .routes(routes!(
            instance_groups::get,
            instance_groups::update,
            instance_groups::delete
        ))
        .routes(routes!(instance_groups::instances))
        .routes(routes!(instance_groups::protect))
        .routes(routes!(databases::list, databases::create))
        .routes(routes!(
            databases::get,
            databases::update,
            databases::delete
        ))
        .routes(routes!(databases::rotate_credentials))
        .routes(routes!(cloud_accounts::list, cloud_accounts::create))
        .routes(routes!(cloud_accounts::delete))
        .routes(routes!(cloud_accounts::test_connection))
        .routes(routes!(cloud_accounts::survey))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get))
        .routes(routes!(jobs::events))
        .routes(routes!(jobs::cancel))
        .routes(routes!(jobs::retry))
        .routes(routes!(secrets::list, secrets::create))
        .routes(routes!(secrets::replace, secrets::delete));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", v1)
        .split_for_parts()
}

/// The OpenAPI document as served at `/api/v1/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

pub fn router() -> Router<AppState> {
    let (routes, openapi) = api();
    let json = Arc::new(
        openapi
            .to_pretty_json()
            .expect("the OpenAPI document serializes"),
    );
    let reference = Arc::new(docs::render(&openapi));
    routes
        .route(
            "/api/v1/openapi.json",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    json.to_string(),
                )
            }),
        )
        .route(
            "/api/v1/docs",
            get(move || async move { axum::response::Html(reference.to_string()) }),
        )
        // Unknown API paths answer like any other missing thing, not with the portal's page.
        .route(
            "/api/v1/{*rest}",
            any(|| async { problem(&AppError::NotFound) }),
        )
        .method_not_allowed_fallback(|| async { method_not_allowed() })
}

fn method_not_allowed() -> Response {
    let body = serde_json::json!({
        "type": "/problems/method-not-allowed",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": "This route does not accept that method.",
    });
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}
