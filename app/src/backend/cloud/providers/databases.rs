//! Managed databases at the provider (RDS): a DB subnet group over the database's zones'
//! subnets, and the DB instance. Both are named deterministically from the resource id and
//! carry the ownership tags from the create call itself, so a reconciler that crashed after a
//! create finds them again by tag (or, failing that, by name).
//!
//! RDS cannot filter DescribeDBInstances by tag, so lookups by token list the account's
//! instances (paginated, bounded) and read each one's `TagList`; subnet groups carry no tags in
//! their description, so their tags are read with ListTagsForResource.

use super::aws::{self, Target, MAX_PAGES};
use super::network::{ObjectKind, OwnedObject, Ownership, TAG_INSTALLATION, TAG_TOKEN};
use super::{ErrorClass, ProviderError};
use aws_sdk_rds::types::Tag;
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;

/// What Stratus asks RDS to create.
#[derive(Debug, Clone)]
pub struct DbInstanceRequest {
    pub identifier: String,
    pub engine: String,
    pub engine_version: String,
    pub instance_class: String,
    pub storage_gb: i32,
    pub max_storage_gb: Option<i32>,
    pub subnet_group: String,
    pub security_group_id: String,
    /// The primary's zone; with `multi_az` RDS places the standby in another zone of the
    /// subnet group.
    pub availability_zone: String,
    pub multi_az: bool,
    pub backup_retention_days: i32,
    pub backup_window: String,
    pub maintenance_window: String,
    pub deletion_protection: bool,
    pub master_username: String,
}

/// A DB instance as the provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedDb {
    pub identifier: String,
    /// `creating`, `available`, `modifying`, `backing-up`, `deleting`, ...
    pub status: String,
    pub instance_class: String,
    pub storage_gb: i32,
    pub max_storage_gb: Option<i32>,
    pub multi_az: bool,
    pub availability_zone: Option<String>,
    pub secondary_availability_zone: Option<String>,
    pub backup_retention_days: i32,
    pub backup_window: Option<String>,
    pub maintenance_window: Option<String>,
    pub deletion_protection: bool,
    pub endpoint_host: Option<String>,
    pub endpoint_port: Option<i32>,
    pub subnet_group: Option<String>,
    /// Changes the provider accepted but has not applied yet (field → new value).
    pub pending: Vec<(String, String)>,
    pub tags: HashMap<String, String>,
}

/// A change to an existing DB instance; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbModification {
    pub instance_class: Option<String>,
    pub storage_gb: Option<i32>,
    pub max_storage_gb: Option<i32>,
    pub multi_az: Option<bool>,
    pub backup_retention_days: Option<i32>,
    pub backup_window: Option<String>,
    pub maintenance_window: Option<String>,
    pub deletion_protection: Option<bool>,
    /// Now, or at the next maintenance window.
    pub apply_immediately: bool,
}

impl DbModification {
    pub fn is_empty(&self) -> bool {
        *self
            == DbModification {
                apply_immediately: self.apply_immediately,
                ..Default::default()
            }
    }
}

fn tags(owner: &Ownership) -> Vec<Tag> {
    owner
        .pairs()
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn tag_map(tags: &[Tag]) -> HashMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

fn observe(db: &aws_sdk_rds::types::DbInstance) -> Option<ObservedDb> {
    let mut pending = Vec::new();
    if let Some(p) = db.pending_modified_values() {
        if let Some(v) = p.db_instance_class() {
            pending.push(("instance_class".into(), v.to_string()));
        }
        if let Some(v) = p.allocated_storage() {
            pending.push(("storage_gb".into(), v.to_string()));
        }
        if let Some(v) = p.backup_retention_period() {
            pending.push(("backup_retention_days".into(), v.to_string()));
        }
        if let Some(v) = p.multi_az() {
            pending.push(("standby".into(), v.to_string()));
        }
        if let Some(v) = p.engine_version() {
            pending.push(("engine_version".into(), v.to_string()));
        }
        if p.master_user_password().is_some() {
            pending.push(("master_password".into(), "(new password)".into()));
        }
    }
    Some(ObservedDb {
        identifier: db.db_instance_identifier()?.to_string(),
        status: db.db_instance_status().unwrap_or("unknown").to_string(),
        instance_class: db.db_instance_class().unwrap_or_default().to_string(),
        storage_gb: db.allocated_storage().unwrap_or(0),
        max_storage_gb: db.max_allocated_storage(),
        multi_az: db.multi_az().unwrap_or(false),
        availability_zone: db.availability_zone().map(str::to_string),
        secondary_availability_zone: db.secondary_availability_zone().map(str::to_string),
        backup_retention_days: db.backup_retention_period().unwrap_or(0),
        backup_window: db.preferred_backup_window().map(str::to_string),
        maintenance_window: db.preferred_maintenance_window().map(str::to_string),
        deletion_protection: db.deletion_protection().unwrap_or(false),
        endpoint_host: db.endpoint().and_then(|e| e.address()).map(str::to_string),
        endpoint_port: db.endpoint().and_then(|e| e.port()),
        subnet_group: db
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string),
        pending,
        tags: tag_map(db.tag_list()),
    })
}

/// Database calls for one cloud account.
pub struct AwsDatabases {
    /// Reads keep the SDK's retries; creates, changes and deletes go through `once`.
    read: aws_sdk_rds::Client,
    once: aws_sdk_rds::Client,
}

impl AwsDatabases {
    pub fn new(target: &Target) -> Self {
        AwsDatabases {
            read: aws::rds(target),
            once: aws::rds_without_retries(target),
        }
    }

    /// Creates the DB subnet group `name` over `subnet_ids` (RDS needs two zones or more).
    pub async fn create_subnet_group(
        &self,
        name: &str,
        description: &str,
        subnet_ids: &[String],
        owner: &Ownership,
    ) -> Result<String, ProviderError> {
        let answer = self
            .once
            .create_db_subnet_group()
            .db_subnet_group_name(name)
            .db_subnet_group_description(description)
            .set_subnet_ids(Some(subnet_ids.to_vec()))
            .set_tags(Some(tags(owner)))
            .send()
            .await
            .map_err(|e| aws::classify(&e))?;
        answer
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name())
            .map(str::to_string)
            .ok_or_else(|| missing("CreateDBSubnetGroup", "a subnet group name"))
    }

    /// Creates the DB instance with the master password Stratus generated. The password goes
    /// only into this request; nothing here logs it.
    pub async fn create_instance(
        &self,
        request: &DbInstanceRequest,
        master_password: &SecretString,
        owner: &Ownership,
    ) -> Result<String, ProviderError> {
        let mut call = self
            .once
            .create_db_instance()
            .db_instance_identifier(&request.identifier)
            .engine(&request.engine)
            .engine_version(&request.engine_version)
            .db_instance_class(&request.instance_class)
            .allocated_storage(request.storage_gb)
            .set_max_allocated_storage(request.max_storage_gb)
            .db_subnet_group_name(&request.subnet_group)
            .vpc_security_group_ids(&request.security_group_id)
            .multi_az(request.multi_az)
            .backup_retention_period(request.backup_retention_days)
            .preferred_backup_window(&request.backup_window)
            .preferred_maintenance_window(&request.maintenance_window)
            .deletion_protection(request.deletion_protection)
            .publicly_accessible(false)
            .storage_encrypted(true)
            .copy_tags_to_snapshot(true)
            .master_username(&request.master_username)
            .master_user_password(master_password.expose_secret())
            .set_tags(Some(tags(owner)));
        // RDS refuses an availability zone together with Multi-AZ: it places both itself.
        if !request.multi_az {
            call = call.availability_zone(&request.availability_zone);
        }
        let answer = call.send().await.map_err(|e| aws::classify(&e))?;
        answer
            .db_instance()
            .and_then(|d| d.db_instance_identifier())
            .map(str::to_string)
            .ok_or_else(|| missing("CreateDBInstance", "a DB instance identifier"))
    }

    /// The DB instance `identifier`, or `None` when it does not exist.
    pub async fn describe(&self, identifier: &str) -> Result<Option<ObservedDb>, ProviderError> {
        match self
            .read
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
        {
            Ok(answer) => Ok(answer.db_instances().iter().find_map(observe)),
            Err(e) => {
                let e = aws::classify(&e);
                if e.class == ErrorClass::NotFound {
                    Ok(None)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Every DB instance of the account (bounded by [`MAX_PAGES`] pages).
    async fn all_instances(&self) -> Result<Vec<ObservedDb>, ProviderError> {
        let mut found = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let answer = self
                .read
                .describe_db_instances()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| aws::classify(&e))?;
            found.extend(answer.db_instances().iter().filter_map(observe));
            marker = answer.marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// Every DB subnet group of the account with its tags (bounded).
    async fn all_subnet_groups(
        &self,
    ) -> Result<Vec<(String, HashMap<String, String>)>, ProviderError> {
        let mut found = Vec::new();
        let mut marker: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let answer = self
                .read
                .describe_db_subnet_groups()
                .set_marker(marker.clone())
                .send()
                .await
                .map_err(|e| aws::classify(&e))?;
            for group in answer.db_subnet_groups() {
                let (Some(name), Some(arn)) =
                    (group.db_subnet_group_name(), group.db_subnet_group_arn())
                else {
                    continue;
                };
                // Only Stratus's own names are worth a tag lookup.
                if !name.starts_with("stratus-") {
                    continue;
                }
                let tags = self
                    .read
                    .list_tags_for_resource()
                    .resource_name(arn)
                    .send()
                    .await
                    .map_err(|e| aws::classify(&e))?;
                found.push((name.to_string(), tag_map(tags.tag_list())));
            }
            marker = answer.marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        Ok(found)
    }

    /// The ids (identifiers, names) of the objects of `kind` created for an intent token.
    pub async fn find_by_token(
        &self,
        kind: ObjectKind,
        token: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let carries =
            |tags: &HashMap<String, String>| tags.get(TAG_TOKEN).map(String::as_str) == Some(token);
        match kind {
            ObjectKind::DbInstance => Ok(self
                .all_instances()
                .await?
                .into_iter()
                // A deleted instance is gone, however long RDS keeps listing it.
                .filter(|d| carries(&d.tags) && d.status != "deleted")
                .map(|d| d.identifier)
                .collect()),
            ObjectKind::DbSubnetGroup => Ok(self
                .all_subnet_groups()
                .await?
                .into_iter()
                .filter(|(_, tags)| carries(tags))
                .map(|(name, _)| name)
                .collect()),
            other => Err(not_ours(other)),
        }
    }

    /// Whether the object still exists (an instance being deleted still does).
    pub async fn exists(&self, kind: ObjectKind, id: &str) -> Result<bool, ProviderError> {
        match kind {
            ObjectKind::DbInstance => Ok(self.describe(id).await?.is_some()),
            ObjectKind::DbSubnetGroup => match self
                .read
                .describe_db_subnet_groups()
                .db_subnet_group_name(id)
                .send()
                .await
            {
                Ok(answer) => Ok(!answer.db_subnet_groups().is_empty()),
                Err(e) => {
                    let e = aws::classify(&e);
                    if e.class == ErrorClass::NotFound {
                        Ok(false)
                    } else {
                        Err(e)
                    }
                }
            },
            other => Err(not_ours(other)),
        }
    }

    /// Deletes an object without a final snapshot (the sweeper's and the subnet group's
    /// delete); one already gone counts as deleted. A protected DB instance is refused by the
    /// provider, in its words.
    pub async fn delete(&self, kind: ObjectKind, id: &str) -> Result<(), ProviderError> {
        let result = match kind {
            ObjectKind::DbInstance => self.delete_instance(id, None).await,
            ObjectKind::DbSubnetGroup => self
                .once
                .delete_db_subnet_group()
                .db_subnet_group_name(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws::classify(&e)),
            other => Err(not_ours(other)),
        };
        match result {
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            other => other,
        }
    }

    /// Deletes the DB instance, taking the final snapshot `final_snapshot` when given.
    pub async fn delete_instance(
        &self,
        identifier: &str,
        final_snapshot: Option<&str>,
    ) -> Result<(), ProviderError> {
        let call = self
            .once
            .delete_db_instance()
            .db_instance_identifier(identifier)
            .delete_automated_backups(true);
        let call = match final_snapshot {
            Some(snapshot) => call
                .skip_final_snapshot(false)
                .final_db_snapshot_identifier(snapshot),
            None => call.skip_final_snapshot(true),
        };
        call.send().await.map(|_| ()).map_err(|e| aws::classify(&e))
    }

    /// Applies `change` to the DB instance.
    pub async fn modify(
        &self,
        identifier: &str,
        change: &DbModification,
    ) -> Result<(), ProviderError> {
        self.once
            .modify_db_instance()
            .db_instance_identifier(identifier)
            .set_db_instance_class(change.instance_class.clone())
            .set_allocated_storage(change.storage_gb)
            .set_max_allocated_storage(change.max_storage_gb)
            .set_multi_az(change.multi_az)
            .set_backup_retention_period(change.backup_retention_days)
            .set_preferred_backup_window(change.backup_window.clone())
            .set_preferred_maintenance_window(change.maintenance_window.clone())
            .set_deletion_protection(change.deletion_protection)
            .apply_immediately(change.apply_immediately)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws::classify(&e))
    }

    /// Sets a new master password, applied at once.
    pub async fn set_master_password(
        &self,
        identifier: &str,
        password: &SecretString,
    ) -> Result<(), ProviderError> {
        self.once
            .modify_db_instance()
            .db_instance_identifier(identifier)
            .master_user_password(password.expose_secret())
            .apply_immediately(true)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws::classify(&e))
    }

    /// Whether the DB snapshot exists (the final snapshot a delete left).
    pub async fn snapshot_exists(&self, snapshot: &str) -> Result<bool, ProviderError> {
        match self
            .read
            .describe_db_snapshots()
            .db_snapshot_identifier(snapshot)
            .send()
            .await
        {
            Ok(answer) => Ok(!answer.db_snapshots().is_empty()),
            Err(e) => {
                let e = aws::classify(&e);
                if e.class == ErrorClass::NotFound {
                    Ok(false)
                } else {
                    Err(e)
                }
            }
        }
    }

    /// DB instances and subnet groups carrying this installation's tag, at most `cap`
    /// (instances first: a subnet group in use cannot be deleted).
    pub async fn list_owned(
        &self,
        installation: uuid::Uuid,
        cap: usize,
    ) -> Result<Vec<OwnedObject>, ProviderError> {
        let ours = installation.to_string();
        let mut owned = Vec::new();
        for db in self.all_instances().await? {
            if db.tags.get(TAG_INSTALLATION) == Some(&ours) && db.status != "deleting" {
                owned.push(OwnedObject {
                    kind: ObjectKind::DbInstance,
                    id: db.identifier,
                    tags: db.tags,
                });
            }
        }
        for (name, tags) in self.all_subnet_groups().await? {
            if tags.get(TAG_INSTALLATION) == Some(&ours) {
                owned.push(OwnedObject {
                    kind: ObjectKind::DbSubnetGroup,
                    id: name,
                    tags,
                });
            }
        }
        owned.truncate(cap);
        Ok(owned)
    }
}

fn not_ours(kind: ObjectKind) -> ProviderError {
    ProviderError {
        class: ErrorClass::Terminal,
        code: None,
        message: format!("{} is not a database object", kind.label()),
    }
}

fn missing(call: &str, what: &str) -> ProviderError {
    ProviderError {
        class: ErrorClass::UnknownOutcome,
        code: None,
        message: format!("{call} answered without {what}"),
    }
}
