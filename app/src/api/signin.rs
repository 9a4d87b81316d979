//! Signing in and out, and the session.

use super::*;

/// Sign-in's first step. Says (and redirects to) what comes next: the portal, the second
/// factor (`/login/mfa`), or MFA enrolment for a platform admin without it.
#[server(prefix = "/rpc", endpoint = "sign_in", output = super::codec::StrJson)]
pub async fn sign_in(email: String, password: String) -> Result<SignInStep, AppError> {
    respond(
        async {
            let step = crate::backend::identity::account::sign_in(
                &db()?,
                &session().await?,
                &email,
                password.into(),
                &client_info().await,
            )
            .await?;
            leptos_axum::redirect(step.path());
            Ok(step)
        }
        .await,
    )
}

/// Sign-in's second step: a code from the authenticator app, or a recovery code.
#[server(prefix = "/rpc", endpoint = "verify_second_factor", output = super::codec::StrJson)]
pub async fn verify_second_factor(code: String) -> Result<SignInStep, AppError> {
    respond(
        async {
            let step = crate::backend::identity::account::complete_second_factor(
                &db()?,
                &*keyring()?,
                &session().await?,
                &code,
                &client_info().await,
            )
            .await?;
            leptos_axum::redirect(step.path());
            Ok(step)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "sign_out", output = super::codec::StrJson)]
pub async fn sign_out() -> Result<(), AppError> {
    respond(
        async {
            let actor = maybe_actor().await?;
            crate::backend::identity::account::sign_out(&db()?, &session().await?, actor.as_ref())
                .await?;
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
}

/// Who is signed in (`None` when nobody is).
#[server(prefix = "/rpc", endpoint = "get_session_info", output = super::codec::StrJson)]
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

#[server(prefix = "/rpc", endpoint = "switch_tenant", output = super::codec::StrJson)]
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
