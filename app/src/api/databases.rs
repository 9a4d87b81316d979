//! Databases from the portal: list, read, plan-then-apply for create, change and delete, and
//! rotating the master password.
//!
//! Create and change take their arguments as JSON (`input`): the allowed groups are a list that
//! may be empty, which the default URL encoding cannot tell from "not given" (a change that
//! unticks the last group would keep it).

use super::*;
use crate::model::groups::GroupView;
use crate::model::resources::{DatabaseChange, DatabasePatch, DatabaseView, NewDatabase, ZoneView};

#[cfg(feature = "ssr")]
use crate::backend::resources::{databases, groups, zones, WriteOptions};

#[cfg(feature = "ssr")]
fn options(dry_run: bool, fingerprint: Option<String>) -> WriteOptions {
    WriteOptions {
        dry_run,
        fingerprint,
    }
}

#[server(prefix = "/rpc", endpoint = "list_databases", output = super::codec::StrJson)]
pub async fn list_databases() -> Result<Vec<DatabaseView>, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            databases::list(&db, &actor, tenant_id, None, 500).await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "get_database", output = super::codec::StrJson)]
pub async fn get_database(database_id: Uuid) -> Result<DatabaseView, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            databases::get(&db, &actor, tenant_id, database_id).await
        }
        .await,
    )
}

/// The zones "Create database" offers, and the instance groups it and "Change" offer as
/// allowed to connect.
#[server(prefix = "/rpc", endpoint = "database_choices", output = super::codec::StrJson)]
pub async fn database_choices() -> Result<(Vec<ZoneView>, Vec<GroupView>), AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            let zones = zones::list(&db, &actor, tenant_id, None, 500).await?;
            let groups = groups::list(&db, &actor, tenant_id, None, 500).await?;
            Ok((zones, groups))
        }
        .await,
    )
}

/// `dry_run: true` returns the plan (the Review step); applying may carry its fingerprint.
#[server(prefix = "/rpc", endpoint = "create_database", input = super::codec::StrJson, output = super::codec::StrJson)]
pub async fn create_database(
    database: NewDatabase,
    dry_run: bool,
    fingerprint: Option<String>,
) -> Result<DatabaseChange, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            databases::create(
                &db,
                &*keyring()?,
                &actor,
                tenant_id,
                database,
                options(dry_run, fingerprint),
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "update_database", input = super::codec::StrJson, output = super::codec::StrJson)]
pub async fn update_database(
    database_id: Uuid,
    patch: DatabasePatch,
    dry_run: bool,
    fingerprint: Option<String>,
) -> Result<DatabaseChange, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            databases::update(
                &db,
                &actor,
                tenant_id,
                database_id,
                patch,
                options(dry_run, fingerprint),
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "delete_database", output = super::codec::StrJson)]
pub async fn delete_database(
    database_id: Uuid,
    final_snapshot: bool,
    dry_run: bool,
    fingerprint: Option<String>,
) -> Result<DatabaseChange, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            databases::delete(
                &db,
                &actor,
                tenant_id,
                database_id,
                crate::model::resources::DatabaseDeletion { final_snapshot },
                options(dry_run, fingerprint),
            )
            .await
        }
        .await,
    )
}

#[server(prefix = "/rpc", endpoint = "rotate_database_credentials", output = super::codec::StrJson)]
pub async fn rotate_database_credentials(database_id: Uuid) -> Result<DatabaseView, AppError> {
    respond(
        async {
            let (db, actor, tenant_id) = in_tenant().await?;
            databases::rotate_credentials(&db, &*keyring()?, &actor, tenant_id, database_id).await
        }
        .await,
    )
}
