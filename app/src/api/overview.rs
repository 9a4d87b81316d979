//! The overview pages: the tenant's landing page and the admin console's overview.

use super::*;

#[cfg(feature = "ssr")]
use crate::backend::overview;

/// The current tenant's overview; `None` when the person is in no tenant yet.
#[server(prefix = "/rpc", endpoint = "get_tenant_overview", output = super::codec::StrJson)]
pub async fn get_tenant_overview() -> Result<Option<TenantOverview>, AppError> {
    respond(
        async {
            let (db, actor) = (db()?, actor().await?);
            let Some(current) = tenancy::session_info(&db, &actor).await?.current else {
                return Ok(None);
            };
            Ok(Some(
                overview::tenant(&db, &actor, current.tenant_id).await?,
            ))
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "admin_overview", output = super::codec::StrJson)]
pub async fn admin_overview() -> Result<PlatformOverview, AppError> {
    respond(async { overview::platform(&db()?, &actor().await?).await }.await)
}
