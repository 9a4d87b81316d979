//! Instances at the provider, for instance groups: one batched launch per zone, listing a
//! group's instances by tag, and terminating them (PROVISIONING.md §2.3, §4).
//!
//! A launch of `n` instances is one RunInstances call with `MinCount = MaxCount = n`, so every
//! instance of the batch carries the same tags, set by the call itself: the ownership tags and
//! the batch's write-ahead token (`stratus:token`). An instance's own identity is the pair
//! (token, `AmiLaunchIndex`), which EC2 numbers 0..n-1 within the call; that is what a
//! reconciler that crashed after the call matches its write-ahead rows against. `ClientToken`
//! carries the same token for AWS (the sandbox ignores it).
//!
//! Health comes from EC2's status checks (DescribeInstanceStatus), asked for the running
//! instances by id: at most 100 ids a call (EC2's limit when ids are named), and a bounded
//! number of pages each. `IncludeAllInstances` keeps an instance that stopped between the two
//! calls in the answer (as `not-applicable`) instead of leaving it out.

use super::aws::{self, Target};
use super::network::{Ownership, TAG_RESOURCE, TAG_TOKEN};
use super::{ErrorClass, ProviderError};
use crate::model::groups::{CheckStatus, StatusChecks};
use aws_sdk_ec2::types::{
    Filter, InstanceStateName, InstanceStatusSummary, InstanceType, Placement, ResourceType,
    TagSpecification,
};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// EC2 takes at most this many instance ids in one DescribeInstanceStatus call.
const STATUS_IDS_PER_CALL: usize = 100;
/// Pages followed per call: with named ids EC2 answers in one; this bounds a misbehaving answer.
const STATUS_PAGES_MAX: usize = 10;

/// What a launch asks for.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    pub availability_zone: String,
    /// The zone's subnet, when the zone has one.
    pub subnet_id: Option<String>,
    /// The zone's security group and the group's own.
    pub security_group_ids: Vec<String>,
    pub image_id: String,
    pub instance_type: String,
    /// Base64 is applied here; the caller passes the script as written.
    pub user_data: Option<String>,
    pub count: u32,
    /// Tags every instance of the batch carries (the token is the batch's write-ahead token).
    pub owner: Ownership,
    /// The template revision, tagged so an adopted instance's revision is known.
    pub revision: i64,
    /// The template's own tags, added to the ownership tags.
    pub extra_tags: Vec<(String, String)>,
}

pub const TAG_REVISION: &str = "stratus:revision";

/// One instance as the provider lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderInstance {
    pub instance_id: String,
    pub availability_zone: String,
    /// EC2's state name: `pending`, `running`, `stopping`, `stopped`, `shutting-down`,
    /// `terminated`.
    pub state: String,
    pub launch_token: Option<String>,
    pub launch_index: i32,
    pub revision: Option<i64>,
    pub launched_at: Option<OffsetDateTime>,
    /// The ids of the security groups it is in.
    pub security_groups: Vec<String>,
}

fn missing(call: &str) -> ProviderError {
    ProviderError {
        class: ErrorClass::UnknownOutcome,
        code: None,
        message: format!("{call} answered without the instances it launched"),
    }
}

/// Instance calls for one cloud account.
pub struct AwsInstances {
    read: aws_sdk_ec2::Client,
    once: aws_sdk_ec2::Client,
}

impl AwsInstances {
    pub fn new(target: &Target) -> Self {
        AwsInstances {
            read: aws::ec2(target),
            once: aws::ec2_without_retries(target),
        }
    }

    /// One RunInstances call: all `count` instances or none. A capacity refusal comes back as
    /// `ErrorClass::Capacity` naming the zone, with the provider's words.
    pub async fn launch(
        &self,
        req: &LaunchRequest,
    ) -> Result<Vec<ProviderInstance>, ProviderError> {
        use base64::Engine as _;
        let count = i32::try_from(req.count).unwrap_or(i32::MAX);
        let mut tags = req.owner.tags();
        tags.push(
            aws_sdk_ec2::types::Tag::builder()
                .key(TAG_REVISION)
                .value(req.revision.to_string())
                .build(),
        );
        for (key, value) in &req.extra_tags {
            tags.push(
                aws_sdk_ec2::types::Tag::builder()
                    .key(key)
                    .value(value)
                    .build(),
            );
        }
        let mut call = self
            .once
            .run_instances()
            .image_id(&req.image_id)
            .instance_type(InstanceType::from(req.instance_type.as_str()))
            .min_count(count)
            .max_count(count)
            // ≤ 64 ASCII characters: the token is built to fit.
            .client_token(&req.owner.token)
            .placement(
                Placement::builder()
                    .availability_zone(&req.availability_zone)
                    .build(),
            )
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .set_tags(Some(tags))
                    .build(),
            );
        if let Some(subnet) = &req.subnet_id {
            call = call.subnet_id(subnet);
        }
        if !req.security_group_ids.is_empty() {
            call = call.set_security_group_ids(Some(req.security_group_ids.clone()));
        }
        if let Some(data) = &req.user_data {
            call = call.user_data(base64::engine::general_purpose::STANDARD.encode(data));
        }
        let answer = call.send().await.map_err(|e| {
            let mut err = aws::classify(&e);
            if let ErrorClass::Capacity { zone } = &mut err.class {
                *zone = Some(req.availability_zone.clone());
            }
            err
        })?;
        let instances: Vec<ProviderInstance> = answer.instances().iter().map(convert).collect();
        if instances.len() != req.count as usize {
            return Err(missing("RunInstances"));
        }
        Ok(instances)
    }

    /// Every instance tagged with this resource (terminated ones included while EC2 still
    /// lists them).
    pub async fn list_for_resource(
        &self,
        resource_id: uuid::Uuid,
    ) -> Result<Vec<ProviderInstance>, ProviderError> {
        self.list(
            Filter::builder()
                .name(format!("tag:{TAG_RESOURCE}"))
                .values(resource_id.to_string())
                .build(),
        )
        .await
    }

    /// The instances one launch call made, found by its token.
    pub async fn find_by_token(&self, token: &str) -> Result<Vec<ProviderInstance>, ProviderError> {
        self.list(
            Filter::builder()
                .name(format!("tag:{TAG_TOKEN}"))
                .values(token)
                .build(),
        )
        .await
    }

    async fn list(&self, filter: Filter) -> Result<Vec<ProviderInstance>, ProviderError> {
        let mut out = Vec::new();
        let mut pages = self
            .read
            .describe_instances()
            .filters(filter)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| aws::classify(&e))?;
            for r in page.reservations() {
                out.extend(r.instances().iter().map(convert));
            }
        }
        out.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
        Ok(out)
    }

    /// Puts the instance in exactly these security groups (EC2 replaces the whole list).
    pub async fn set_security_groups(
        &self,
        instance_id: &str,
        groups: &[String],
    ) -> Result<(), ProviderError> {
        self.once
            .modify_instance_attribute()
            .instance_id(instance_id)
            .set_groups(Some(groups.to_vec()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws::classify(&e))
    }

    /// EC2's status checks of these instances, by id. An id missing from the answer has no
    /// report this time (the caller keeps what it knew). An id EC2 does not know fails the
    /// whole call; it is left out (EC2 names it) and the call made once more.
    pub async fn status_checks(
        &self,
        ids: &[String],
    ) -> Result<BTreeMap<String, StatusChecks>, ProviderError> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(STATUS_IDS_PER_CALL) {
            match self.status_page(chunk, &mut out).await {
                Err(e) if e.class == ErrorClass::NotFound => {
                    let known: Vec<String> = chunk
                        .iter()
                        .filter(|id| !e.message.contains(id.as_str()))
                        .cloned()
                        .collect();
                    if !known.is_empty() && known.len() < chunk.len() {
                        match self.status_page(&known, &mut out).await {
                            Err(e) if e.class == ErrorClass::NotFound => {}
                            other => other?,
                        }
                    }
                }
                other => other?,
            }
        }
        Ok(out)
    }

    async fn status_page(
        &self,
        ids: &[String],
        out: &mut BTreeMap<String, StatusChecks>,
    ) -> Result<(), ProviderError> {
        let mut next: Option<String> = None;
        for _ in 0..STATUS_PAGES_MAX {
            let answer = self
                .read
                .describe_instance_status()
                .set_instance_ids(Some(ids.to_vec()))
                .include_all_instances(true)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| aws::classify(&e))?;
            for s in answer.instance_statuses() {
                let summary = |c: Option<&InstanceStatusSummary>| {
                    c.and_then(|c| c.status())
                        .and_then(|s| CheckStatus::parse(s.as_str()))
                };
                if let (Some(id), Some(instance), Some(system)) = (
                    s.instance_id(),
                    summary(s.instance_status()),
                    summary(s.system_status()),
                ) {
                    out.insert(id.to_string(), StatusChecks { instance, system });
                }
            }
            match answer.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_string()),
                _ => break,
            }
        }
        Ok(())
    }

    /// TerminateInstances for these ids; ids EC2 no longer knows count as done.
    pub async fn terminate(&self, ids: &[String]) -> Result<(), ProviderError> {
        if ids.is_empty() {
            return Ok(());
        }
        match self
            .once
            .terminate_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = aws::classify(&e);
                if err.class == ErrorClass::NotFound && ids.len() > 1 {
                    // One unknown id fails the whole call: terminate the rest one by one.
                    for id in ids {
                        Box::pin(self.terminate(std::slice::from_ref(id))).await?;
                    }
                    Ok(())
                } else if err.class == ErrorClass::NotFound {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }
}

fn convert(i: &aws_sdk_ec2::types::Instance) -> ProviderInstance {
    let tag = |key: &str| {
        i.tags()
            .iter()
            .find(|t| t.key() == Some(key))
            .and_then(|t| t.value())
            .map(str::to_string)
    };
    ProviderInstance {
        instance_id: i.instance_id().unwrap_or_default().to_string(),
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        state: i
            .state()
            .and_then(|s| s.name())
            .map(|n: &InstanceStateName| n.as_str().to_string())
            .unwrap_or_else(|| "pending".into()),
        launch_token: tag(TAG_TOKEN),
        launch_index: i.ami_launch_index().unwrap_or(0),
        revision: tag(TAG_REVISION).and_then(|r| r.parse().ok()),
        launched_at: i
            .launch_time()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t.secs()).ok()),
        security_groups: i
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
    }
}
