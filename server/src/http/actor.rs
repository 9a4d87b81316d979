//! Resolves the signed-in user for every portal request, and keeps signed-out people on the
//! pages they may see.

use super::pages::{problem, unavailable_page};
use crate::startup::AppState;
use app::backend::actor::RequestActor;
use app::backend::session;
use app::error::AppError;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

/// Pages a signed-out person may open.
fn is_public_page(path: &str) -> bool {
    path == "/login" || path.starts_with("/invite/")
}

pub async fn resolve_actor(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    // The API answers with problems, never with the sign-in page.
    let is_rpc = path.starts_with("/rpc/") || path.starts_with("/api/");
    let actor = match session::resolve(&session, &state.db).await {
        Ok(actor) => actor,
        Err(error) if is_rpc => return problem(&error),
        Err(AppError::Unavailable) => return unavailable_page(),
        Err(error) => return problem(&error),
    };
    let is_page = req.method() == Method::GET && !is_rpc;
    if is_page {
        match (&actor, is_public_page(&path)) {
            (None, false) => return Redirect::to("/login").into_response(),
            (Some(_), true) if path == "/login" => return Redirect::to("/").into_response(),
            _ => {}
        }
    }
    req.extensions_mut().insert(RequestActor(actor));
    next.run(req).await
}
