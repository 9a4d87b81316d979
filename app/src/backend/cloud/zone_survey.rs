//! A cloud account's zone survey: a job that walks every availability zone of the account's
//! region and records how many instance types each offers (what a zone can later run), one
//! progress step per zone.

use crate::backend::identity::actor::Actor;
use crate::backend::jobs::worker::{JobError, Registry};
use crate::backend::jobs::{enqueue, NewJob};
use crate::backend::cloud::providers::aws;
use crate::backend::secrets::{self, Keyring};
use crate::error::AppError;
use crate::rbac::{authorize, Action};
use aws_sdk_ec2::types::{Filter, LocationType};
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

pub const KIND: &str = "cloud_account.survey_zones";

/// Queues a survey of the account's zones; returns the job id (an existing one when a survey of
/// this account is already queued or running). Admins only, like the connection test: the
/// calls go to an endpoint the tenant chose.
pub async fn start(
    db: &PgPool,
    actor: &Actor,
    tenant_id: Uuid,
    cloud_account_id: Uuid,
) -> Result<i64, AppError> {
    authorize(db, actor, tenant_id, Action::ManageCloudAccounts).await?;
    let mut tx = db.begin().await?;
    let exists: Option<i32> = sqlx::query_scalar(
        "select 1 from cloud_account where cloud_account_id = $1 and tenant_id = $2",
    )
    .bind(cloud_account_id)
    .bind(tenant_id)
    .fetch_optional(&mut *tx)
    .await?;
    exists.ok_or(AppError::NotFound)?;
    let job = enqueue(
        &mut tx,
        NewJob::new(KIND)
            .tenant(tenant_id)
            .resource(cloud_account_id)
            .payload(json!({ "cloud_account_id": cloud_account_id }))
            .max_attempts(3)
            .unique_key(format!("{KIND}:{cloud_account_id}")),
    )
    .await?;
    tx.commit().await?;
    Ok(job.job_id)
}

/// Registers the survey's handler; it needs the keyring to open the account's credentials.
pub fn register(registry: &mut Registry, keyring: Arc<Keyring>) {
    registry.register(KIND, move |ctx| {
        let keyring = keyring.clone();
        async move {
            let tenant_id = ctx
                .job
                .tenant_id
                .ok_or_else(|| JobError::Fatal("a survey belongs to a tenant".into()))?;
            let account_id: Uuid = serde_json::from_value(ctx.job.payload["cloud_account_id"].clone())
                .map_err(|_| JobError::Fatal("the payload names no cloud account".into()))?;
            let account: Option<(String, Option<String>, String, Uuid)> = sqlx::query_as(
                "select region, endpoint_url, access_key_id, secret_id from cloud_account where cloud_account_id = $1 and tenant_id = $2",
            )
            .bind(account_id)
            .bind(tenant_id)
            .fetch_optional(&ctx.db)
            .await
            .map_err(JobError::failed)?;
            let (region, endpoint_url, access_key_id, secret_id) =
                account.ok_or_else(|| JobError::Fatal("the cloud account was deleted".into()))?;
            let secret_access_key = secrets::read(&ctx.db, &keyring, tenant_id, secret_id)
                .await
                .map_err(|e| JobError::Fatal(e.to_string()))?;
            let target = aws::Target {
                region: region.clone(),
                endpoint_url,
                access_key_id,
                secret_access_key,
            };
            let zones = aws::availability_zones(&target).await.map_err(JobError::Failed)?;
            ctx.log(format!("{} availability zones in {region}", zones.len()))
                .await?;
            let ec2 = aws::ec2(&target);
            for (done, zone) in zones.iter().enumerate() {
                let offered = ec2
                    .describe_instance_type_offerings()
                    .location_type(LocationType::AvailabilityZone)
                    .filters(Filter::builder().name("location").values(zone).build())
                    .into_paginator()
                    .items()
                    .send()
                    .collect::<Result<Vec<_>, _>>()
                    .await
                    .map_err(|e| JobError::Failed(aws::describe_error(&e)))?;
                ctx.progress(
                    ((done + 1) * 100 / zones.len()) as u8,
                    format!("{zone}: {} instance types offered", offered.len()),
                )
                .await?;
            }
            Ok(())
        }
    });
}
