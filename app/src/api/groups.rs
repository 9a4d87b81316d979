//! Instance groups from the portal: list, read (with the group's monthly cost and its per-zone
//! chart drawn by the server), the group's instances, plan-then-apply for create, change and
//! delete, and protecting an instance from scale-in.
//!
//! The writes take their arguments as JSON (`input`): a group carries nested enums
//! (`{"count": 1}`) and a list of zones that may be empty, which the default URL encoding
//! cannot round-trip (an empty list arrives as a missing field instead of "choose a zone").

use super::*;
use crate::model::groups::{
    GroupChange, GroupOverview, GroupPatch, GroupView, InstanceTypeChoice, InstanceView, NewGroup,
};
use crate::model::resources::ZoneView;

#[cfg(feature = "ssr")]
use crate::backend::resources::{groups, prices, zones, WriteOptions};

#[cfg(feature = "ssr")]
fn options(dry_run: bool, fingerprint: Option<String>) -> WriteOptions {
    WriteOptions {
        dry_run,
        fingerprint,
    }
}

/// The tenant's groups, each with its monthly cost (`None` when the price list has no price).
#[server(prefix = "/rpc", endpoint = "list_groups", output = super::codec::StrJson)]
pub async fn list_groups() -> Result<Vec<(GroupView, Option<i64>)>, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let list = groups::list(&db, &actor, tenant_id, None, 500).await?;
            Ok(list
                .into_iter()
                .map(|g| {
                    let cost = groups::chart::monthly_cents(&g);
                    (g, cost)
                })
                .collect())
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_group", output = super::codec::StrJson)]
pub async fn get_group(group_id: Uuid) -> Result<GroupOverview, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let group = groups::get(&db, &actor, tenant_id, group_id).await?;
            Ok(groups::chart::overview(group))
        }
        .await,
    )
}

/// The group's instances, and the server's clock (seconds since the epoch) their ages are
/// counted from, so the server's page and the browser's agree.
#[server(prefix = "/rpc", endpoint = "list_group_instances", output = super::codec::StrJson)]
pub async fn list_group_instances(group_id: Uuid) -> Result<(Vec<InstanceView>, i64), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let instances =
                groups::list_instances(&db, &actor, tenant_id, group_id, None, 500).await?;
            Ok((instances, time::OffsetDateTime::now_utc().unix_timestamp()))
        }
        .await,
    )
}

/// What "Create instance group" offers: the tenant's zones and the instance types of the
/// price list.
#[server(prefix = "/rpc", endpoint = "group_choices", output = super::codec::StrJson)]
pub async fn group_choices() -> Result<(Vec<ZoneView>, Vec<InstanceTypeChoice>), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let zones = zones::list(&db, &actor, tenant_id, None, 500).await?;
            let types = prices::instance_types()
                .into_iter()
                .map(|t| InstanceTypeChoice {
                    instance_type: t.to_string(),
                    vcpus: prices::instance_vcpus(t).unwrap_or(0),
                })
                .collect();
            Ok((zones, types))
        }
        .await,
    )
}

/// `dry_run: true` returns the plan (the Review step); applying may carry its fingerprint.
#[server(prefix = "/rpc", endpoint = "create_group", input = super::codec::StrJson, output = super::codec::StrJson)]
pub async fn create_group(
    group: NewGroup,
    dry_run: bool,
    fingerprint: Option<String>,
) -> Result<GroupChange, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            groups::create(&db, &actor, tenant_id, group, options(dry_run, fingerprint)).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "update_group", input = super::codec::StrJson, output = super::codec::StrJson)]
pub async fn update_group(
    group_id: Uuid,
    patch: GroupPatch,
    dry_run: bool,
    fingerprint: Option<String>,
) -> Result<GroupChange, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            groups::update(
                &db,
                &actor,
                tenant_id,
                group_id,
                patch,
                options(dry_run, fingerprint),
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_group", output = super::codec::StrJson)]
pub async fn delete_group(
    group_id: Uuid,
    dry_run: bool,
    fingerprint: Option<String>,
) -> Result<GroupChange, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            groups::delete(
                &db,
                &actor,
                tenant_id,
                group_id,
                options(dry_run, fingerprint),
            )
            .await
        }
        .await,
    )
}

/// Protects an instance from scale-in, or unprotects it.
#[server(prefix = "/rpc", endpoint = "set_instance_protection", output = super::codec::StrJson)]
pub async fn set_instance_protection(
    group_id: Uuid,
    instance_id: Uuid,
    protected: bool,
) -> Result<InstanceView, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            groups::set_protection(
                &db,
                &actor,
                tenant_id,
                group_id,
                &instance_id.to_string(),
                crate::model::groups::InstancePatch { protected },
            )
            .await
        }
        .await,
    )
}
