//! Re-authentication, secrets, cloud accounts.

use super::*;

#[cfg(feature = "ssr")]
use crate::backend::{cloud::accounts as cloud_accounts, secrets};

/// Confirms the signed-in person: their password, and a current code when they have MFA on.
/// Sensitive actions accept it for 5 minutes.
#[server(prefix = "/rpc", endpoint = "reauthenticate", output = super::codec::StrJson)]
pub async fn reauthenticate(
    password: String,
    #[server(default)] code: String,
) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor) = (db()?, actor().await?);
            crate::backend::identity::account::reauthenticate(
                &db,
                &*keyring()?,
                &session().await?,
                &actor,
                password.into(),
                Some(&code),
                &client_info().await,
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_secrets", output = super::codec::StrJson)]
pub async fn get_secrets() -> Result<Vec<SecretView>, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            secrets::list_secrets(&db, &actor, tenant_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_secret", output = super::codec::StrJson)]
pub async fn create_secret(name: String, value: String) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            secrets::create_secret(&db, &*keyring()?, &actor, tenant_id, &name, value.into())
                .await
                .map(drop)
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "update_secret", output = super::codec::StrJson)]
pub async fn update_secret(secret_id: Uuid, value: String) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            secrets::update_secret(
                &db,
                &*keyring()?,
                &actor,
                tenant_id,
                secret_id,
                value.into(),
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_secret", output = super::codec::StrJson)]
pub async fn delete_secret(secret_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            secrets::delete_secret(&db, &actor, tenant_id, secret_id).await
        }
        .await,
    )
}

/// The one response that carries a secret's value.
#[server(prefix = "/rpc", endpoint = "reveal_secret", output = super::codec::StrJson)]
pub async fn reveal_secret(secret_id: Uuid) -> Result<String, AppError> {
    respond(
        async {
            use secrecy::ExposeSecret;
            let (db, actor, tenant_id) = in_tenant().await?;
            let value =
                secrets::reveal_secret(&db, &*keyring()?, &actor, tenant_id, secret_id).await?;
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.insert_header(
                    http::header::CACHE_CONTROL,
                    http::HeaderValue::from_static("no-store"),
                );
            }
            Ok(value.expose_secret().to_string())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_cloud_accounts", output = super::codec::StrJson)]
pub async fn get_cloud_accounts() -> Result<Vec<CloudAccountView>, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            cloud_accounts::list(&db, &actor, tenant_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_cloud_account", output = super::codec::StrJson)]
pub async fn create_cloud_account(
    name: String,
    region: String,
    access_key_id: String,
    secret_access_key: String,
    endpoint_url: String,
) -> Result<CloudAccountView, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let new = cloud_accounts::NewCloudAccount {
                name,
                region,
                access_key_id,
                secret_access_key: secret_access_key.into(),
                endpoint_url: Some(endpoint_url),
                emulated: false,
            };
            cloud_accounts::create(
                &db,
                &*keyring()?,
                &*endpoint_policy()?,
                &actor,
                tenant_id,
                new,
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_cloud_account", output = super::codec::StrJson)]
pub async fn delete_cloud_account(cloud_account_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            cloud_accounts::delete(&db, &actor, tenant_id, cloud_account_id).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "test_cloud_account", output = super::codec::StrJson)]
pub async fn test_cloud_account(cloud_account_id: Uuid) -> Result<ConnectionTest, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            cloud_accounts::test_connection(
                &db,
                &*keyring()?,
                &*endpoint_policy()?,
                &actor,
                tenant_id,
                cloud_account_id,
            )
            .await
        }
        .await,
    )
}
