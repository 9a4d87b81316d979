//! Zones from the portal: list, read, and plan-then-apply for create, rename and delete.

use super::*;
use crate::model::resources::{NewZone, SurveyedZone, ZoneChange, ZonePatch, ZoneView};

#[cfg(feature = "ssr")]
use crate::backend::resources::{zones, WriteOptions};

#[cfg(feature = "ssr")]
fn options(dry_run: bool, fingerprint: Option<String>) -> WriteOptions {
    WriteOptions {
        dry_run,
        fingerprint,
    }
}

#[server(prefix = "/rpc", endpoint = "list_zones", output = super::codec::StrJson)]
pub async fn list_zones() -> Result<Vec<ZoneView>, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            zones::list(&db, &actor, tenant_id, None, 500).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_zone", output = super::codec::StrJson)]
pub async fn get_zone(zone_id: Uuid) -> Result<ZoneView, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            zones::get(&db, &actor, tenant_id, zone_id).await
        }
        .await,
    )
}

/// The cloud accounts and surveyed availability zones "Create zone" offers.
#[server(prefix = "/rpc", endpoint = "zone_choices", output = super::codec::StrJson)]
pub async fn zone_choices() -> Result<(Vec<CloudAccountView>, Vec<SurveyedZone>), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let accounts = crate::backend::cloud::accounts::list(&db, &actor, tenant_id).await?;
            let surveyed = zones::surveyed_zones(&db, &actor, tenant_id).await?;
            Ok((accounts, surveyed))
        }
        .await,
    )
}

/// `dry_run: true` returns the plan (the Review step); applying may carry its fingerprint.
#[server(prefix = "/rpc", endpoint = "create_zone", output = super::codec::StrJson)]
pub async fn create_zone(
    zone: NewZone,
    dry_run: bool,
    fingerprint: Option<String>,
) -> Result<ZoneChange, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            zones::create(&db, &actor, tenant_id, zone, options(dry_run, fingerprint)).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "update_zone", output = super::codec::StrJson)]
pub async fn update_zone(
    zone_id: Uuid,
    patch: ZonePatch,
    dry_run: bool,
    fingerprint: Option<String>,
) -> Result<ZoneChange, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            zones::update(
                &db,
                &actor,
                tenant_id,
                zone_id,
                patch,
                options(dry_run, fingerprint),
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_zone", output = super::codec::StrJson)]
pub async fn delete_zone(
    zone_id: Uuid,
    dry_run: bool,
    fingerprint: Option<String>,
) -> Result<ZoneChange, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            zones::delete(
                &db,
                &actor,
                tenant_id,
                zone_id,
                options(dry_run, fingerprint),
            )
            .await
        }
        .await,
    )
}
