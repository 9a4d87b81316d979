//! API keys in the portal: list, create (after re-authentication), revoke.

use super::*;
#[cfg(feature = "ssr")]
use crate::backend::identity::api_keys;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ApiKeysPage {
    pub keys: Vec<ApiKeyView>,
    /// The highest role a new key may have: the person's own.
    pub my_role: Role,
    /// Whether the list holds everyone's keys (admins) or only the person's own.
    pub everyone: bool,
}

#[server(prefix = "/rpc", endpoint = "get_api_keys", output = super::codec::StrJson)]
pub async fn get_api_keys() -> Result<ApiKeysPage, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let my_role = tenancy::tenant_overview(&db, &actor, tenant_id).await?.role;
            Ok(ApiKeysPage {
                keys: api_keys::list(&db, &actor, tenant_id).await?,
                my_role,
                everyone: crate::rbac::allows(my_role, crate::rbac::Action::ManageAllApiKeys),
            })
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "create_api_key", output = super::codec::StrJson)]
pub async fn create_api_key(
    name: String,
    role: Role,
    days: i64,
) -> Result<CreatedApiKey, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            api_keys::create(&db, &actor, tenant_id, &name, role, days).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "revoke_api_key", output = super::codec::StrJson)]
pub async fn revoke_api_key(key_id: Uuid) -> Result<(), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            api_keys::revoke(&db, &actor, tenant_id, key_id)
                .await
                .map(drop)
        }
        .await,
    )
}
