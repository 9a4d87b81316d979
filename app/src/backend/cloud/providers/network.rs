//! Networks at the provider: the VPC a tenant's zones share in a region, and each zone's subnet
//! and security group. Every object carries its ownership tags from the create call itself
//! (`TagSpecifications`), so a reconciler that crashed after a create finds it again by tag.

use super::aws::{self, Target};
use super::{ErrorClass, ProviderError};
use aws_sdk_ec2::types::{
    Filter, IpPermission, ResourceType, Tag, TagSpecification, UserIdGroupPair,
};
use std::collections::HashMap;

pub const TAG_INSTALLATION: &str = "stratus:installation";
pub const TAG_TENANT: &str = "stratus:tenant";
pub const TAG_RESOURCE: &str = "stratus:resource";
/// The write-ahead token of the intent row that asked for the object (PROVISIONING.md §2.3).
pub const TAG_TOKEN: &str = "stratus:token";
/// When the create was sent (RFC 3339): the orphan sweeper's grace period starts there.
pub const TAG_CREATED_AT: &str = "stratus:created-at";

/// The kinds of cloud object Stratus records as `provider_object` rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "provider_object_kind", rename_all = "snake_case")]
pub enum ObjectKind {
    Vpc,
    Subnet,
    SecurityGroup,
    Instance,
    DbInstance,
    DbSubnetGroup,
}

impl ObjectKind {
    pub fn label(self) -> &'static str {
        match self {
            ObjectKind::Vpc => "VPC",
            ObjectKind::Subnet => "subnet",
            ObjectKind::SecurityGroup => "security group",
            ObjectKind::Instance => "instance",
            ObjectKind::DbInstance => "database instance",
            ObjectKind::DbSubnetGroup => "database subnet group",
        }
    }
}

/// The tags every object Stratus creates carries.
#[derive(Debug, Clone)]
pub struct Ownership {
    pub installation: uuid::Uuid,
    pub tenant: uuid::Uuid,
    pub resource: uuid::Uuid,
    pub token: String,
    /// The `Name` people see in the provider's console.
    pub name: String,
}

impl Ownership {
    /// The tags as (key, value) pairs, for any provider's tag type.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let created = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        vec![
            ("Name", self.name.clone()),
            (TAG_INSTALLATION, self.installation.to_string()),
            (TAG_TENANT, self.tenant.to_string()),
            (TAG_RESOURCE, self.resource.to_string()),
            (TAG_TOKEN, self.token.clone()),
            (TAG_CREATED_AT, created),
        ]
    }

    pub fn tags(&self) -> Vec<Tag> {
        let created = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        [
            ("Name", self.name.clone()),
            (TAG_INSTALLATION, self.installation.to_string()),
            (TAG_TENANT, self.tenant.to_string()),
            (TAG_RESOURCE, self.resource.to_string()),
            (TAG_TOKEN, self.token.clone()),
            (TAG_CREATED_AT, created),
        ]
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
    }

    fn spec(&self, kind: ResourceType) -> TagSpecification {
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(self.tags()))
            .build()
    }
}

/// An object found at the provider with this installation's tag (for the orphan sweeper).
#[derive(Debug, Clone)]
pub struct OwnedObject {
    pub kind: ObjectKind,
    pub id: String,
    pub tags: HashMap<String, String>,
}

/// An inbound TCP rule of a security group whose source is another security group, on one port
/// (the shape of the rules Stratus adds to a database's security group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupIngress {
    pub source_group_id: String,
    pub port: i32,
    /// Kept as the provider reports it: the sandbox matches a revoke on it.
    pub description: Option<String>,
}

fn tag_map(tags: &[Tag]) -> HashMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
        .collect()
}

fn filter(name: &str, value: impl Into<String>) -> Filter {
    Filter::builder().name(name).values(value).build()
}

/// Network calls for one cloud account.
pub struct AwsNetworks {
    /// Reads keep the SDK's retries; creates and deletes go through `once`.
    read: aws_sdk_ec2::Client,
    once: aws_sdk_ec2::Client,
}

impl AwsNetworks {
    pub fn new(target: &Target) -> Self {
        AwsNetworks {
            read: aws::ec2(target),
            once: aws::ec2_without_retries(target),
        }
    }

    /// Ids of the objects of `kind` that carry `filter_name = value` (a tag filter or an id).
    async fn ids(
        &self,
        kind: ObjectKind,
        by: Filter,
    ) -> Result<Vec<(String, HashMap<String, String>)>, ProviderError> {
        Ok(match kind {
            ObjectKind::Vpc => self
                .read
                .describe_vpcs()
                .filters(by)
                .send()
                .await
                .map_err(|e| aws::classify(&e))?
                .vpcs()
                .iter()
                .filter_map(|v| Some((v.vpc_id()?.to_string(), tag_map(v.tags()))))
                .collect(),
            ObjectKind::Subnet => self
                .read
                .describe_subnets()
                .filters(by)
                .send()
                .await
                .map_err(|e| aws::classify(&e))?
                .subnets()
                .iter()
                .filter_map(|s| Some((s.subnet_id()?.to_string(), tag_map(s.tags()))))
                .collect(),
            ObjectKind::SecurityGroup => self
                .read
                .describe_security_groups()
                .filters(by)
                .send()
                .await
                .map_err(|e| aws::classify(&e))?
                .security_groups()
                .iter()
                .filter_map(|g| Some((g.group_id()?.to_string(), tag_map(g.tags()))))
                .collect(),
            other => {
                return Err(ProviderError {
                    class: ErrorClass::Terminal,
                    code: None,
                    message: format!("{} is not a network object", other.label()),
                })
            }
        })
    }

    /// The ids of the objects created for an intent token (normally none or one).
    pub async fn find_by_token(
        &self,
        kind: ObjectKind,
        token: &str,
    ) -> Result<Vec<String>, ProviderError> {
        let found = self
            .ids(kind, filter(&format!("tag:{TAG_TOKEN}"), token))
            .await?;
        Ok(found.into_iter().map(|(id, _)| id).collect())
    }

    /// Whether the object still exists (a deleted one is gone, however the provider says it).
    pub async fn exists(&self, kind: ObjectKind, id: &str) -> Result<bool, ProviderError> {
        let by = match kind {
            ObjectKind::Vpc => filter("vpc-id", id),
            ObjectKind::Subnet => filter("subnet-id", id),
            _ => filter("group-id", id),
        };
        Ok(!self.ids(kind, by).await?.is_empty())
    }

    pub async fn create_vpc(&self, cidr: &str, owner: &Ownership) -> Result<String, ProviderError> {
        let answer = self
            .once
            .create_vpc()
            .cidr_block(cidr)
            .tag_specifications(owner.spec(ResourceType::Vpc))
            .send()
            .await
            .map_err(|e| aws::classify(&e))?;
        answer
            .vpc()
            .and_then(|v| v.vpc_id())
            .map(str::to_string)
            .ok_or_else(|| missing("CreateVpc", "a VPC id"))
    }

    pub async fn create_subnet(
        &self,
        vpc_id: &str,
        availability_zone: &str,
        cidr: &str,
        owner: &Ownership,
    ) -> Result<String, ProviderError> {
        let answer = self
            .once
            .create_subnet()
            .vpc_id(vpc_id)
            .availability_zone(availability_zone)
            .cidr_block(cidr)
            .tag_specifications(owner.spec(ResourceType::Subnet))
            .send()
            .await
            .map_err(|e| aws::classify(&e))?;
        answer
            .subnet()
            .and_then(|s| s.subnet_id())
            .map(str::to_string)
            .ok_or_else(|| missing("CreateSubnet", "a subnet id"))
    }

    /// `group_name` must be unique in the VPC and cannot change later: callers use a stable id.
    pub async fn create_security_group(
        &self,
        vpc_id: &str,
        group_name: &str,
        description: &str,
        owner: &Ownership,
    ) -> Result<String, ProviderError> {
        let answer = self
            .once
            .create_security_group()
            .vpc_id(vpc_id)
            .group_name(group_name)
            .description(description)
            .tag_specifications(owner.spec(ResourceType::SecurityGroup))
            .send()
            .await
            .map_err(|e| aws::classify(&e))?;
        answer
            .group_id()
            .map(str::to_string)
            .ok_or_else(|| missing("CreateSecurityGroup", "a group id"))
    }

    /// The inbound single-port TCP rules of `group_id` whose source is a security group.
    pub async fn group_ingress(&self, group_id: &str) -> Result<Vec<GroupIngress>, ProviderError> {
        let answer = self
            .read
            .describe_security_groups()
            .group_ids(group_id)
            .send()
            .await
            .map_err(|e| aws::classify(&e))?;
        let mut rules = Vec::new();
        for permission in answer
            .security_groups()
            .iter()
            .flat_map(|g| g.ip_permissions())
        {
            let (Some(from), Some(to)) = (permission.from_port(), permission.to_port()) else {
                continue;
            };
            if permission.ip_protocol() != Some("tcp") || from != to {
                continue;
            }
            for pair in permission.user_id_group_pairs() {
                if let Some(source) = pair.group_id() {
                    rules.push(GroupIngress {
                        source_group_id: source.to_string(),
                        port: from,
                        description: pair.description().map(str::to_string),
                    });
                }
            }
        }
        Ok(rules)
    }

    /// Lets `source_group_id` reach `group_id` on TCP `port`; a rule already there counts.
    pub async fn allow_from_group(
        &self,
        group_id: &str,
        source_group_id: &str,
        port: i32,
        description: &str,
    ) -> Result<(), ProviderError> {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(source_group_id)
                    .description(description)
                    .build(),
            )
            .build();
        match self
            .once
            .authorize_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(permission)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = aws::classify(&e);
                if err.code.as_deref() == Some("InvalidPermission.Duplicate") {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Removes an inbound rule as [`group_ingress`](Self::group_ingress) reported it; one
    /// already gone counts as removed.
    pub async fn revoke_from_group(
        &self,
        group_id: &str,
        rule: &GroupIngress,
    ) -> Result<(), ProviderError> {
        let permission = IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(rule.port)
            .to_port(rule.port)
            .user_id_group_pairs(
                UserIdGroupPair::builder()
                    .group_id(&rule.source_group_id)
                    .set_description(rule.description.clone())
                    .build(),
            )
            .build();
        match self
            .once
            .revoke_security_group_ingress()
            .group_id(group_id)
            .ip_permissions(permission)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match aws::classify(&e) {
                err if err.class == ErrorClass::NotFound => Ok(()),
                err => Err(err),
            },
        }
    }

    /// Deletes an object; one that is already gone counts as deleted.
    pub async fn delete(&self, kind: ObjectKind, id: &str) -> Result<(), ProviderError> {
        let result = match kind {
            ObjectKind::Vpc => self
                .once
                .delete_vpc()
                .vpc_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws::classify(&e)),
            ObjectKind::Subnet => self
                .once
                .delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws::classify(&e)),
            ObjectKind::SecurityGroup => self
                .once
                .delete_security_group()
                .group_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws::classify(&e)),
            other => Err(ProviderError {
                class: ErrorClass::Terminal,
                code: None,
                message: format!("{} is not a network object", other.label()),
            }),
        };
        match result {
            Err(e) if e.class == ErrorClass::NotFound => Ok(()),
            other => other,
        }
    }

    /// Sets the `Name` tag people see in the provider's console.
    pub async fn rename(&self, id: &str, name: &str) -> Result<(), ProviderError> {
        self.once
            .create_tags()
            .resources(id)
            .tags(Tag::builder().key("Name").value(name).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws::classify(&e))
    }

    /// Every network object carrying this installation's tag, at most `cap` of them: an
    /// endpoint cannot make a sweep read without end.
    pub async fn list_owned(
        &self,
        installation: uuid::Uuid,
        cap: usize,
    ) -> Result<Vec<OwnedObject>, ProviderError> {
        let mut owned = Vec::new();
        // Security groups and subnets first: a sweep deletes in this order, the VPC last.
        for kind in [
            ObjectKind::SecurityGroup,
            ObjectKind::Subnet,
            ObjectKind::Vpc,
        ] {
            let by = filter(&format!("tag:{TAG_INSTALLATION}"), installation.to_string());
            for (id, tags) in self.ids(kind, by).await? {
                owned.push(OwnedObject { kind, id, tags });
                if owned.len() >= cap {
                    return Ok(owned);
                }
            }
        }
        Ok(owned)
    }
}

fn missing(call: &str, what: &str) -> ProviderError {
    ProviderError {
        class: ErrorClass::UnknownOutcome,
        code: None,
        message: format!("{call} answered without {what}"),
    }
}
