//! The audit log: the current tenant's, and all tenants' for the admin console.

use super::*;

#[cfg(feature = "ssr")]
use crate::backend::audit;

/// The current tenant's audit log, newest first; `before` is the previous page's cursor.
#[server(prefix = "/rpc", endpoint = "get_audit_log", output = super::codec::StrJson)]
pub async fn get_audit_log(
    action: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
) -> Result<AuditPage, AppError> {
    respond(
        async {
            let (db, me, tenant_id) = in_tenant().await?;
            let filter = AuditFilter {
                action,
                actor,
                from,
                to,
                tenant: None,
            };
            let scope = AuditScope::Tenant(tenant_id);
            audit::list(&db, &me, scope, &filter, before, audit::DEFAULT_LIMIT).await
        }
        .await,
    )
}

/// Every tenant's audit log (platform admins), optionally narrowed to one tenant.
#[server(prefix = "/rpc", endpoint = "admin_audit_log", output = super::codec::StrJson)]
pub async fn admin_audit_log(
    action: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    tenant: Option<String>,
    before: Option<i64>,
) -> Result<AuditPage, AppError> {
    respond(
        async {
            let (db, me) = (db()?, super::actor().await?);
            let filter = AuditFilter {
                action,
                actor,
                from,
                to,
                tenant,
            };
            let scope = AuditScope::AllTenants;
            audit::list(&db, &me, scope, &filter, before, audit::DEFAULT_LIMIT).await
        }
        .await,
    )
}
