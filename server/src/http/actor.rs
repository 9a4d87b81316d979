//! Resolves the signed-in user for every portal request, and keeps signed-out people on the
//! pages they may see.

use super::pages::{problem, unavailable_page};
use crate::startup::AppState;
use app::backend::identity::actor::RequestActor;
use app::backend::{identity::mfa, identity::session};
use app::error::AppError;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// Pages a signed-out person may open.
fn is_public_page(path: &str) -> bool {
    path == "/login" || path == "/login/mfa" || path.starts_with("/invite/")
}

/// Where a platform admin without MFA is kept until they enrol.
const ENROLMENT_PAGE: &str = "/account/mfa";

pub async fn resolve_actor(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let rpc = path.strip_prefix("/rpc/");
    // The API answers with problems, never with the sign-in page.
    let is_api = path.starts_with("/api/");
    let resolved = match session::resolve(&session, &state.db).await {
        Ok(resolved) => resolved,
        Err(error) if rpc.is_some() || is_api => return problem(&error),
        Err(AppError::Unavailable) => return unavailable_page(),
        Err(error) => return problem(&error),
    };
    let is_page = req.method() == Method::GET && rpc.is_none() && !is_api;
    if resolved.as_ref().is_some_and(|r| r.must_enrol_mfa) {
        match rpc {
            Some(name) if !mfa::ALLOWED_BEFORE_ENROLMENT.contains(&name) => {
                return problem(&AppError::MfaEnrolmentRequired)
            }
            None if is_page && path != ENROLMENT_PAGE => {
                return Redirect::to(ENROLMENT_PAGE).into_response()
            }
            _ => {}
        }
    }
    let actor = resolved.map(|r| r.actor);
    if is_page {
        match (&actor, is_public_page(&path)) {
            (None, false) => return Redirect::to("/login").into_response(),
            (Some(_), true) if path.starts_with("/login") => {
                return Redirect::to("/").into_response()
            }
            _ => {}
        }
    }
    req.extensions_mut().insert(RequestActor(actor));
    next.run(req).await
}
