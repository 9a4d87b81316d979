//! A cloud account's zone survey: a job that walks every availability zone of the account's
//! region and records how many instance types each offers (what a zone can later run), one
//! progress step per zone.

use crate::backend::cloud::endpoints::EndpointPolicy;
use crate::backend::cloud::providers;
use crate::backend::cloud::providers::aws;
use crate::backend::identity::actor::Actor;
use crate::backend::jobs::kinds::{self, CloudAccountPayload, JobKind};
use crate::backend::jobs::worker::{JobError, Registry};
use crate::backend::jobs::{enqueue, NewJob};
use crate::backend::secrets::Keyring;
use crate::error::AppError;
use crate::rbac::{authorize, Action};
use aws_sdk_ec2::types::{Filter, LocationType};
use serde_json::json;
use sqlx::PgPool;
use std::sync::Arc;
use uuid::Uuid;

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
        NewJob::new(JobKind::SurveyZones)
            .tenant(tenant_id)
            .resource(cloud_account_id)
            .payload(json!(CloudAccountPayload { cloud_account_id }))
            .max_attempts(3)
            .unique_key(format!("survey:{cloud_account_id}")),
    )
    .await?;
    tx.commit().await?;
    Ok(job.job_id)
}

/// A refused endpoint will not change by retrying; a provider's error might.
fn survey_error(error: aws::CallError) -> JobError {
    match error {
        aws::CallError::NotAllowed => JobError::Fatal(error.to_string()),
        aws::CallError::Provider(message) => JobError::Failed(message),
    }
}

/// Registers the survey's handler; it needs the keyring to open the account's credentials and
/// the endpoint policy to vet where it sends them.
pub fn register(registry: &mut Registry, keyring: Arc<Keyring>, endpoints: Arc<EndpointPolicy>) {
    registry.register(JobKind::SurveyZones.as_str(), move |ctx| {
        let keyring = keyring.clone();
        let endpoints = endpoints.clone();
        async move {
            let tenant_id = ctx
                .job
                .tenant_id
                .ok_or_else(|| JobError::Fatal("a survey belongs to a tenant".into()))?;
            let payload: CloudAccountPayload =
                kinds::payload(&ctx.job.payload).map_err(JobError::Fatal)?;
            let account = match providers::open(&ctx.db, &keyring, &endpoints, tenant_id, payload.cloud_account_id).await {
                Ok(account) => account,
                Err(AppError::NotFound) => return Err(JobError::Fatal("the cloud account was deleted".into())),
                Err(e) => return Err(JobError::Fatal(e.to_string())),
            };
            let (target, region) = (&account.target, &account.region);
            let zones = aws::availability_zones(target).await.map_err(survey_error)?;
            ctx.log(format!("{} availability zones in {region}", zones.len()))
                .await?;
            let ec2 = aws::ec2(target);
            for (done, zone) in zones.iter().enumerate() {
                // Page by page, up to a bound: the answers come from a tenant-chosen endpoint.
                let mut pages = ec2
                    .describe_instance_type_offerings()
                    .location_type(LocationType::AvailabilityZone)
                    .filters(Filter::builder().name("location").values(zone).build())
                    .into_paginator()
                    .send();
                let mut offered = 0usize;
                let mut taken = 0usize;
                while let Some(page) = pages.next().await {
                    let page = page.map_err(|e| survey_error(target.error(&e)))?;
                    offered += page.instance_type_offerings().len();
                    taken += 1;
                    if taken > aws::MAX_PAGES {
                        return Err(JobError::Fatal(format!(
                            "{zone}: the endpoint answered more than {} pages of instance types",
                            aws::MAX_PAGES
                        )));
                    }
                }
                // What "Create zone" offers; a zone that disappeared from the region goes.
                sqlx::query(
                    "insert into cloud_account_zone (cloud_account_id, availability_zone, instance_types)
                     values ($1, $2, $3)
                     on conflict (cloud_account_id, availability_zone)
                     do update set instance_types = excluded.instance_types, surveyed_at = now()",
                )
                .bind(payload.cloud_account_id)
                .bind(zone)
                .bind(offered as i32)
                .execute(&ctx.db)
                .await
                .map_err(JobError::failed)?;
                ctx.progress(
                    ((done + 1) * 100 / zones.len()) as u8,
                    format!("{zone}: {offered} instance types offered"),
                )
                .await?;
            }
            sqlx::query(
                "delete from cloud_account_zone where cloud_account_id = $1 and availability_zone <> all($2)",
            )
            .bind(payload.cloud_account_id)
            .bind(&zones)
            .execute(&ctx.db)
            .await
            .map_err(JobError::failed)?;
            Ok(())
        }
    });
}
