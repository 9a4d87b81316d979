//! Signing in and out, and the session.

use super::*;

#[server(prefix = "/rpc", endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), AppError> {
    respond(
        async {
            let db = db()?;
            let user = identity::authenticate(&db, &email, password.into()).await?;
            session::begin(&session().await?, user.user_id, user.session_epoch).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    respond(
        async {
            session::end(&session().await?).await?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// Who is signed in (`None` when nobody is).
#[server(prefix = "/rpc", endpoint = "get_session_info")]
pub async fn get_session_info() -> Result<Option<SessionInfo>, AppError> {
    respond(
        async {
            match maybe_actor().await? {
                Some(actor) => Ok(Some(tenancy::session_info(&db()?, &actor).await?)),
                None => Ok(None),
            }
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "switch_tenant")]
pub async fn switch_tenant(tenant_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let actor = actor().await?;
            tenancy::tenant_overview(&db()?, &actor, tenant_id).await?;
            session::choose_tenant(&session().await?, tenant_id).await?;
            leptos_axum::redirect("/");
            Ok(())
        }
        .await,
    )
}
