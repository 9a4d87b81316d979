//! Zone surveys of cloud accounts (jobs the portal follows live).

use super::*;

#[cfg(feature = "ssr")]
use crate::backend::cloud::zone_survey;

/// Starts a survey of the account's availability zones; returns its job id.
#[server(prefix = "/rpc", endpoint = "survey_cloud_account", output = super::codec::StrJson)]
pub async fn survey_cloud_account(cloud_account_id: Uuid) -> Result<i64, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            zone_survey::start(&db, &actor, tenant_id, cloud_account_id).await
        }
        .await,
    )
}
