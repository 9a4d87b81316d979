//! Databases against the sandbox (moto through the real AWS SDK): create with a standby, the
//! credentials as a secret (and nowhere else), resize, deletion protection, delete with a final
//! snapshot leaving nothing else, dry runs, the quota race, a provider error in its own words,
//! a status held at `creating` by the fault proxy, a worker killed right after
//! CreateDBInstance, rotation, and REST. moto is shared by tests running at once, so
//! assertions about the cloud filter by this test's tenant or resource.

use crate::support::{endpoints, keyring, moto_url, wait_until, worker_process, TestApp, PASSWORD};
use app::backend::cloud::accounts as cloud_accounts;
use app::backend::cloud::providers::aws;
use app::backend::identity::actor::Actor;
use app::backend::jobs::worker::{Worker, WorkerConfig};
use app::backend::resources::{databases, zones, WriteOptions};
use app::backend::secrets;
use app::error::AppError;
use app::model::resources::{
    ApplyAt, ChangeAction, ConditionStatus, DatabaseDeletion, DatabasePatch, DatabaseView,
    NewDatabase, NewZone, ResourceStatus,
};
use app::model::Role;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

struct Env {
    app: TestApp,
    tenant_id: Uuid,
    account_id: Uuid,
    member: Actor,
    admin: Actor,
    viewer: Actor,
    owner_id: Uuid,
    viewer_id: Uuid,
    zones: Vec<Uuid>,
}

async fn env(slug: &str) -> Env {
    env_with(slug, None).await
}

/// A tenant with a sandbox account (reached through `endpoint`, or moto itself).
async fn env_with(slug: &str, endpoint: Option<String>) -> Env {
    let app = TestApp::spawn().await;
    let fixture = app.tenant_with_roles(slug).await;
    let owner = app.actor(fixture.user(Role::Owner)).await;
    let account = cloud_accounts::NewCloudAccount {
        name: "sandbox".into(),
        region: "us-east-1".into(),
        access_key_id: "AKIASANDBOXEXAMPLE00".into(),
        secret_access_key: "sandbox-secret".into(),
        endpoint_url: Some(moto_url()),
        // Moto's default account, which `rds()` below inspects.
        emulated: false,
    };
    let account = cloud_accounts::create(
        &app.db,
        &keyring(),
        &endpoints(),
        &owner,
        fixture.tenant_id,
        account,
    )
    .await
    .expect("the sandbox account is accepted");
    if let Some(endpoint) = endpoint {
        sqlx::query("update cloud_account set endpoint_url = $2 where cloud_account_id = $1")
            .bind(account.cloud_account_id)
            .bind(endpoint)
            .execute(&app.db)
            .await
            .unwrap();
    }
    Env {
        member: app.actor(fixture.user(Role::Member)).await,
        admin: app.actor(fixture.user(Role::Admin)).await,
        viewer: app.actor(fixture.user(Role::Viewer)).await,
        owner_id: fixture.user(Role::Owner),
        viewer_id: fixture.user(Role::Viewer),
        tenant_id: fixture.tenant_id,
        account_id: account.cloud_account_id,
        zones: Vec::new(),
        app,
    }
}

fn worker_for(env: &Env, policy: app::backend::cloud::endpoints::EndpointPolicy) -> Worker {
    let mut settings = crate::support::settings(&env.app.database_url);
    settings.engine.resync_interval = Duration::from_millis(500);
    settings.engine.sweep_grace = Duration::from_secs(60);
    let registry = server::startup::registry(&Arc::new(keyring()), &settings, &Arc::new(policy));
    let mut config = WorkerConfig::new(4);
    config.poll_interval = Duration::from_millis(100);
    config.backoff_base = Duration::from_millis(100);
    let worker = Worker::start(env.app.db.clone(), registry, config);
    server::startup::start_resync(&env.app.db, &settings, worker.stop_token());
    worker
}

impl Env {
    /// Zones in `azs`, ready (rows only when `ready` is false: no worker needed).
    async fn with_zones(mut self, azs: &[&str]) -> Env {
        for az in azs {
            let zone = zones::create(
                &self.app.db,
                &self.member,
                self.tenant_id,
                NewZone {
                    name: format!("zone-{}", az.chars().last().unwrap()),
                    cloud_account_id: self.account_id,
                    availability_zone: az.to_string(),
                    network_cidr: None,
                },
                WriteOptions::default(),
            )
            .await
            .expect("the zone is accepted")
            .zone
            .unwrap();
            self.zones.push(zone.zone_id);
        }
        self
    }

    async fn wait_zones_ready(&self) {
        for zone_id in &self.zones {
            wait_until("the zone to be ready", Duration::from_secs(60), || async {
                zones::get(&self.app.db, &self.member, self.tenant_id, *zone_id)
                    .await
                    .is_ok_and(|z| z.status == ResourceStatus::Ready)
            })
            .await;
        }
    }

    fn new_database(&self, name: &str) -> NewDatabase {
        NewDatabase {
            name: name.into(),
            engine: "postgres".into(),
            engine_version: None,
            instance_class: "db.t3.micro".into(),
            storage_gb: 20,
            max_storage_gb: Some(100),
            zone_id: self.zones[0],
            standby_zone_id: None,
            backup_retention_days: None,
            backup_window: None,
            maintenance_window: None,
            deletion_protection: None,
            allowed_groups: Vec::new(),
        }
    }

    async fn create(&self, input: NewDatabase) -> DatabaseView {
        databases::create(
            &self.app.db,
            &keyring(),
            &self.member,
            self.tenant_id,
            input,
            WriteOptions::default(),
        )
        .await
        .expect("the database is accepted")
        .database
        .expect("an apply returns the database")
    }

    async fn database(&self, id: Uuid) -> Result<DatabaseView, AppError> {
        databases::get(&self.app.db, &self.member, self.tenant_id, id).await
    }

    async fn wait_ready(&self, id: Uuid, generation: i64) -> DatabaseView {
        wait_until(
            "the database to be ready",
            Duration::from_secs(90),
            || async {
                self.database(id).await.is_ok_and(|d| {
                    d.status == ResourceStatus::Ready && d.observed_generation >= generation
                })
            },
        )
        .await;
        self.database(id).await.unwrap()
    }

    async fn wait_deleted(&self, id: Uuid) {
        wait_until(
            "the database to be deleted",
            Duration::from_secs(90),
            || async { matches!(self.database(id).await, Err(AppError::NotFound)) },
        )
        .await;
    }

    async fn patch(&self, id: Uuid, patch: DatabasePatch) -> DatabaseView {
        databases::update(
            &self.app.db,
            &self.member,
            self.tenant_id,
            id,
            patch,
            WriteOptions::default(),
        )
        .await
        .expect("the change is accepted")
        .database
        .unwrap()
    }

    /// This tenant's DB instances in moto: (identifier, status, class, storage, multi-AZ,
    /// subnet group, security groups, tags).
    async fn instances(&self) -> Vec<aws_sdk_rds::types::DbInstance> {
        let tenant = self.tenant_id.to_string();
        rds()
            .describe_db_instances()
            .send()
            .await
            .unwrap()
            .db_instances()
            .iter()
            .filter(|d| {
                d.tag_list().iter().any(|t| {
                    t.key() == Some("stratus:tenant") && t.value() == Some(tenant.as_str())
                })
            })
            .cloned()
            .collect()
    }

    async fn subnet_groups(&self, identifier: &str) -> usize {
        rds()
            .describe_db_subnet_groups()
            .send()
            .await
            .unwrap()
            .db_subnet_groups()
            .iter()
            .filter(|g| g.db_subnet_group_name() == Some(identifier))
            .count()
    }

    async fn security_groups_of(&self, resource: Uuid) -> Vec<String> {
        use aws_sdk_ec2::types::Filter;
        ec2()
            .describe_security_groups()
            .filters(
                Filter::builder()
                    .name("tag:stratus:resource")
                    .values(resource.to_string())
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .security_groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect()
    }
}

fn target(endpoint: String) -> aws::Target {
    aws::Target::new(
        "us-east-1".into(),
        Some(endpoint),
        "AKIASANDBOXEXAMPLE00".into(),
        SecretString::from("sandbox-secret"),
        app::backend::cloud::endpoints::Route::Trusted,
    )
}

fn rds() -> aws_sdk_rds::Client {
    aws::rds(&target(moto_url()))
}

fn ec2() -> aws_sdk_ec2::Client {
    aws::ec2(&target(moto_url()))
}

/// A pass-through proxy in front of moto that keeps the `MasterUserPassword` of every
/// CreateDBInstance and ModifyDBInstance it forwards: what the sandbox was given (moto's own
/// model dump fails once a DB instance has a subnet group).
struct Recorder {
    url: String,
    passwords: Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl Recorder {
    async fn start() -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let passwords = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = passwords.clone();
        let client = reqwest::Client::new();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let (seen, client) = (seen.clone(), client.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
                let params: std::collections::HashMap<String, String> =
                    form_urlencoded::parse(&body).into_owned().collect();
                if let (Some(action), Some(password)) =
                    (params.get("Action"), params.get("MasterUserPassword"))
                {
                    seen.lock()
                        .unwrap()
                        .push((action.clone(), password.clone()));
                }
                let mut forward =
                    client.request(parts.method.clone(), format!("{}{}", moto_url(), parts.uri));
                for (name, value) in &parts.headers {
                    if name != "host" && name != "content-length" {
                        forward = forward.header(name, value);
                    }
                }
                let answer = forward.body(body).send().await.unwrap();
                let status = answer.status();
                let content_type = answer
                    .headers()
                    .get("content-type")
                    .cloned()
                    .unwrap_or(http::HeaderValue::from_static("text/xml"));
                let bytes = answer.bytes().await.unwrap();
                (status, [(http::header::CONTENT_TYPE, content_type)], bytes)
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Recorder { url, passwords }
    }

    /// The last master password sent (by CreateDBInstance or ModifyDBInstance).
    fn last(&self) -> Option<String> {
        self.passwords
            .lock()
            .unwrap()
            .last()
            .map(|(_, p)| p.clone())
    }

    fn policy(&self) -> app::backend::cloud::endpoints::EndpointPolicy {
        app::backend::cloud::endpoints::EndpointPolicy::new(&[self.url.clone(), moto_url()], None)
            .unwrap()
    }
}

/// Tables whose rows contain `needle` anywhere, as text.
async fn tables_containing(db: &sqlx::PgPool, needle: &str) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_name::text from information_schema.tables
         where table_schema = 'public' and table_type = 'BASE TABLE'",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let mut found = Vec::new();
    for table in tables {
        let hit: bool = sqlx::query_scalar(&format!(
            "select exists (select 1 from \"{table}\" t where t::text like '%' || $1 || '%')"
        ))
        .bind(needle)
        .fetch_one(db)
        .await
        .unwrap();
        if hit {
            found.push(table);
        }
    }
    found
}

async fn password_of(env: &Env, database: &DatabaseView) -> SecretString {
    secrets::read(
        &env.app.db,
        &keyring(),
        env.tenant_id,
        database
            .credentials_secret_id
            .expect("a credentials secret"),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_standby_database_is_made_resized_protected_and_deleted_leaving_a_snapshot_only() {
    let recorder = Recorder::start().await;
    let env = env_with("dbmain", Some(recorder.url.clone()))
        .await
        .with_zones(&["us-east-1a", "us-east-1b"])
        .await;
    let worker = worker_for(&env, recorder.policy());
    env.wait_zones_ready().await;
    let mut input = env.new_database("orders");
    input.standby_zone_id = Some(env.zones[1]);
    let created = env.create(input).await;
    assert_eq!(created.engine_version, "17");
    assert!(created.deletion_protection, "protection is on by default");
    assert_eq!(created.backup_retention_days, 7);
    let db = env.wait_ready(created.database_id, 1).await;

    // At the provider: one instance with its tags, subnet group, security group and standby.
    let instances = env.instances().await;
    assert_eq!(instances.len(), 1);
    let instance = &instances[0];
    assert_eq!(
        instance.db_instance_identifier(),
        Some(db.db_instance_id.as_str())
    );
    assert_eq!(instance.multi_az(), Some(true));
    assert_eq!(instance.db_instance_class(), Some("db.t3.micro"));
    assert_eq!(instance.deletion_protection(), Some(true));
    assert_eq!(
        instance
            .db_subnet_group()
            .and_then(|g| g.db_subnet_group_name()),
        Some(db.db_instance_id.as_str())
    );
    let subnets = instance
        .db_subnet_group()
        .map(|g| g.subnets().len())
        .unwrap_or(0);
    assert_eq!(subnets, 2, "the subnet group spans both zones");
    let groups: Vec<&str> = instance
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups, vec![db.security_group_id.clone().unwrap().as_str()]);
    let tags: std::collections::HashMap<&str, &str> = instance
        .tag_list()
        .iter()
        .filter_map(|t| Some((t.key()?, t.value()?)))
        .collect();
    assert_eq!(tags["stratus:resource"], db.database_id.to_string());
    assert_eq!(tags["stratus:tenant"], env.tenant_id.to_string());
    assert_eq!(
        tags["stratus:token"],
        format!("db-instance:{}", db.database_id)
    );
    assert!(tags.contains_key("stratus:installation"));
    assert!(db.endpoint_host.is_some() && db.endpoint_port == Some(5432));
    assert_eq!(db.subnet_zones, vec!["us-east-1a", "us-east-1b"]);

    // The credentials: a secret that decrypts to what the sandbox was given, in no table in
    // plaintext, and in no answer.
    let password = password_of(&env, &db).await;
    assert_eq!(password.expose_secret().len(), 32);
    assert_eq!(
        recorder.last().as_deref(),
        Some(password.expose_secret()),
        "the secret holds what CreateDBInstance gave the sandbox"
    );
    assert_eq!(
        tables_containing(&env.app.db, password.expose_secret()).await,
        Vec::<String>::new(),
        "the password is in no table in plaintext"
    );
    let key = env
        .app
        .api_key(env.owner_id, env.tenant_id, Role::Owner)
        .await;
    let answer = reqwest::Client::new()
        .get(format!(
            "{}/api/v1/tenants/{}/databases/{}",
            env.app.url, env.tenant_id, db.database_id
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(answer.contains(&db.db_instance_id));
    assert!(!answer.contains(password.expose_secret()));

    // Resize: class and storage.
    let changed = env
        .patch(
            db.database_id,
            DatabasePatch {
                instance_class: Some("db.t3.small".into()),
                storage_gb: Some(30),
                ..Default::default()
            },
        )
        .await;
    let db = env.wait_ready(db.database_id, changed.generation).await;
    assert_eq!(
        (db.instance_class.as_str(), db.storage_gb),
        ("db.t3.small", 30)
    );
    let instance = &env.instances().await[0];
    assert_eq!(instance.db_instance_class(), Some("db.t3.small"));
    assert_eq!(instance.allocated_storage(), Some(30));

    // Protected: the delete is refused with a clear message.
    let refused = databases::delete(
        &env.app.db,
        &env.member,
        env.tenant_id,
        db.database_id,
        DatabaseDeletion::default(),
        WriteOptions::default(),
    )
    .await;
    assert!(
        matches!(&refused, Err(AppError::Conflict { message, .. }) if message.contains("deletion protection on")),
        "{refused:?}"
    );
    assert_eq!(refused.unwrap_err().status(), 409);

    // Unprotect, then delete: a final snapshot stays, nothing else does.
    let changed = env
        .patch(
            db.database_id,
            DatabasePatch {
                deletion_protection: Some(false),
                ..Default::default()
            },
        )
        .await;
    env.wait_ready(db.database_id, changed.generation).await;
    let deleting = databases::delete(
        &env.app.db,
        &env.member,
        env.tenant_id,
        db.database_id,
        DatabaseDeletion::default(),
        WriteOptions::default(),
    )
    .await
    .unwrap();
    let snapshot = format!("{}-final", db.db_instance_id);
    assert!(deleting
        .plan
        .provider_changes
        .iter()
        .any(|c| c.detail.contains(&snapshot)));
    env.wait_deleted(db.database_id).await;
    assert!(env.instances().await.is_empty(), "no instance left");
    assert_eq!(env.subnet_groups(&db.db_instance_id).await, 0);
    assert!(env.security_groups_of(db.database_id).await.is_empty());
    let snapshots = rds()
        .describe_db_snapshots()
        .db_snapshot_identifier(&snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(
        snapshots.db_snapshots().len(),
        1,
        "the final snapshot stays"
    );
    let leftovers: (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from provider_object where resource_id = $1),
                (select count(*) from resource_zone where resource_id = $1),
                (select count(*) from secret where secret_id = $2)",
    )
    .bind(db.database_id)
    .bind(db.credentials_secret_id.unwrap())
    .fetch_one(&env.app.db)
    .await
    .unwrap();
    assert_eq!(
        leftovers,
        (0, 0, 0),
        "no intent rows, zones free, secret gone"
    );
    let final_snapshot: Option<String> = sqlx::query_scalar(
        "select outputs->>'final_snapshot' from resource where resource_id = $1",
    )
    .bind(db.database_id)
    .fetch_one(&env.app.db)
    .await
    .unwrap();
    assert_eq!(final_snapshot, Some(snapshot));
    worker.shutdown().await;
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_too_few_zones_are_said_plainly() {
    let env = env("dbdry").await.with_zones(&["us-east-1a"]).await;
    // One zone: RDS needs two.
    let refused = databases::create(
        &env.app.db,
        &keyring(),
        &env.member,
        env.tenant_id,
        env.new_database("lonely"),
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await;
    match refused {
        Err(AppError::Invalid(errors)) => {
            assert_eq!(errors[0].field, "zone_id");
            assert!(
                errors[0]
                    .message
                    .contains("at least two availability zones"),
                "{errors:?}"
            );
        }
        other => panic!("expected a field error, got {other:?}"),
    }
    let env = env.with_zones(&["us-east-1b"]).await;
    let counts = || async {
        sqlx::query_as::<_, (i64, i64, i64, i64, i64)>(
            "select (select count(*) from resource), (select count(*) from managed_database),
                    (select count(*) from secret), (select count(*) from job), (select count(*) from audit_event)",
        )
        .fetch_one(&env.app.db)
        .await
        .unwrap()
    };
    let before = counts().await;
    let plan = databases::create(
        &env.app.db,
        &keyring(),
        &env.member,
        env.tenant_id,
        env.new_database("planned"),
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await
    .unwrap();
    assert!(plan.dry_run && plan.database.is_none() && plan.job_id.is_none());
    assert_eq!(counts().await, before, "a dry run changes nothing");
    assert_eq!(plan.plan.quota[0].quota, "databases");
    assert_eq!(plan.plan.quota[0].used_after, 1);
    // db.t3.micro, 20 GiB, us-east-1: $13.14 + $2.30.
    assert_eq!(plan.plan.cost.monthly_before_cents, 0);
    assert_eq!(plan.plan.cost.monthly_after_cents, 1544);
    assert!(plan
        .plan
        .provider_changes
        .iter()
        .any(|c| c.object == "DB subnet group" && c.detail.contains("us-east-1b")));

    // Bad input, field by field.
    let mut bad = env.new_database("Bad Name");
    bad.engine = "oracle".into();
    bad.storage_gb = 5;
    bad.backup_retention_days = Some(40);
    bad.backup_window = Some("25:00-25:30".into());
    match databases::create(
        &env.app.db,
        &keyring(),
        &env.member,
        env.tenant_id,
        bad,
        WriteOptions::default(),
    )
    .await
    {
        Err(AppError::Invalid(errors)) => {
            let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            for field in [
                "name",
                "engine",
                "storage_gb",
                "backup_retention_days",
                "backup_window",
            ] {
                assert!(fields.contains(&field), "{field} in {fields:?}");
            }
        }
        other => panic!("expected field errors, got {other:?}"),
    }
}

#[tokio::test]
async fn with_one_database_of_quota_left_two_concurrent_creates_give_one() {
    let env = env("dbquota")
        .await
        .with_zones(&["us-east-1a", "us-east-1b"])
        .await;
    sqlx::query("update tenant set max_databases = 1 where tenant_id = $1")
        .bind(env.tenant_id)
        .execute(&env.app.db)
        .await
        .unwrap();
    let keys = keyring();
    let (first, second) = tokio::join!(
        databases::create(
            &env.app.db,
            &keys,
            &env.member,
            env.tenant_id,
            env.new_database("one"),
            WriteOptions::default()
        ),
        databases::create(
            &env.app.db,
            &keys,
            &env.member,
            env.tenant_id,
            env.new_database("two"),
            WriteOptions::default()
        ),
    );
    let results = [first, second];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    let refusal = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(
        matches!(refusal, AppError::QuotaExceeded(m) if m.contains("databases quota is 1")),
        "{refusal:?}"
    );
    assert_eq!(refusal.status(), 409);
}

/// The provider refuses CreateDBInstance: its words, verbatim, reach the database's status,
/// its Ready condition and REST.
#[tokio::test]
async fn a_provider_refusal_reaches_the_user_verbatim() {
    use server::fault_proxy::{FaultProxy, Rule};
    let proxy = FaultProxy::start(&moto_url()).await.unwrap();
    let words = "The request would result in the user exceeding the allowed amount of storage available across all DB instances.";
    proxy.add_rule(Rule::error(
        "CreateDBInstance",
        "StorageQuotaExceeded",
        words,
        400,
    ));
    let env = env_with("dbrefused", Some(proxy.url()))
        .await
        .with_zones(&["us-east-1a", "us-east-1b"])
        .await;
    let policy =
        app::backend::cloud::endpoints::EndpointPolicy::new(&[proxy.url(), moto_url()], None)
            .unwrap();
    let worker = worker_for(&env, policy);
    env.wait_zones_ready().await;
    let db = env.create(env.new_database("refused")).await;
    wait_until("the database to fail", Duration::from_secs(60), || async {
        env.database(db.database_id)
            .await
            .is_ok_and(|d| d.status == ResourceStatus::Failed)
    })
    .await;
    let db = env.database(db.database_id).await.unwrap();
    let expected = format!("StorageQuotaExceeded: {words}");
    assert_eq!(db.last_error.as_deref(), Some(expected.as_str()));
    let ready = db.conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.message, expected);
    assert!(env.instances().await.is_empty());
    worker.shutdown().await;
}

/// RDS takes minutes to create an instance; the sandbox does not. With the status held at
/// `creating`, the job keeps reporting what it waits for, and the database is ready once the
/// hold is lifted.
#[tokio::test]
async fn a_status_held_at_creating_keeps_progress_coming_until_it_is_available() {
    use server::fault_proxy::{FaultProxy, Rule};
    let proxy = FaultProxy::start(&moto_url()).await.unwrap();
    let env = env_with("dbslow", Some(proxy.url()))
        .await
        .with_zones(&["us-east-1a", "us-east-1b"])
        .await;
    let policy =
        app::backend::cloud::endpoints::EndpointPolicy::new(&[proxy.url(), moto_url()], None)
            .unwrap();
    let worker = worker_for(&env, policy);
    env.wait_zones_ready().await;
    let hold = proxy.add_rule(Rule::hold_rds_status("creating"));
    let db = env.create(env.new_database("slow")).await;
    let waiting = format!(
        "waiting for DB instance {} (creating) to be available",
        db.db_instance_id
    );
    let events = || async {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from job_event e join job j using (job_id)
             where j.resource_id = $1 and e.message = $2",
        )
        .bind(db.database_id)
        .bind(&waiting)
        .fetch_one(&env.app.db)
        .await
        .unwrap()
    };
    wait_until("two waiting events", Duration::from_secs(60), || async {
        events().await >= 2
    })
    .await;
    let held = env.database(db.database_id).await.unwrap();
    assert_eq!(held.status, ResourceStatus::Provisioning);
    assert_eq!(held.provider_status.as_deref(), Some("creating"));
    let progressing = held
        .conditions
        .iter()
        .find(|c| c.type_ == "Progressing")
        .unwrap();
    assert_eq!(progressing.message, waiting);
    proxy.remove_rule(hold);
    let ready = env.wait_ready(db.database_id, 1).await;
    assert_eq!(ready.provider_status.as_deref(), Some("available"));
    worker.shutdown().await;
}

/// A change for the next maintenance window stays pending (the fault proxy keeps it as RDS
/// would; moto applies every change at once), shown on the database and in its condition; an
/// "apply now" of nothing else applies it; a second held change is applied by the window itself.
#[tokio::test]
async fn a_change_for_the_next_window_stays_pending_until_applied_now_or_by_the_window() {
    use server::fault_proxy::{FaultProxy, Rule};
    let proxy = FaultProxy::start(&moto_url()).await.unwrap();
    let env = env_with("dbwindow", Some(proxy.url()))
        .await
        .with_zones(&["us-east-1a", "us-east-1b"])
        .await;
    let policy =
        app::backend::cloud::endpoints::EndpointPolicy::new(&[proxy.url(), moto_url()], None)
            .unwrap();
    let worker = worker_for(&env, policy);
    env.wait_zones_ready().await;
    let db = env.create(env.new_database("window")).await;
    let db = env.wait_ready(db.database_id, 1).await;
    proxy.add_rule(Rule::maintenance_window());
    let class_in_moto = || async {
        let instances = env.instances().await;
        instances[0]
            .db_instance_class()
            .unwrap_or_default()
            .to_string()
    };

    // For the next window: Ready, with the change pending, and the instance unchanged.
    let changed = env
        .patch(
            db.database_id,
            DatabasePatch {
                instance_class: Some("db.t3.small".into()),
                apply: Some(ApplyAt::NextWindow),
                ..Default::default()
            },
        )
        .await;
    let pending = env.wait_ready(db.database_id, changed.generation).await;
    assert_eq!(
        pending
            .pending_changes
            .iter()
            .map(|c| (c.field.as_str(), c.new.as_deref()))
            .collect::<Vec<_>>(),
        vec![("instance_class", Some("db.t3.small"))]
    );
    let condition = pending
        .conditions
        .iter()
        .find(|c| c.type_ == "PendingChanges")
        .expect("a PendingChanges condition");
    assert_eq!(condition.status, ConditionStatus::True);
    assert!(
        condition.message.contains("instance_class → db.t3.small"),
        "{}",
        condition.message
    );
    assert_eq!(
        class_in_moto().await,
        "db.t3.micro",
        "held until the window"
    );
    // Resyncs do not ask again or apply it: still pending a few resyncs later.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(class_in_moto().await, "db.t3.micro");
    assert_eq!(
        env.database(db.database_id)
            .await
            .unwrap()
            .pending_changes
            .len(),
        1
    );

    // "Apply now": a change of nothing but `apply`, planned as applying the pending change.
    let plan = databases::update(
        &env.app.db,
        &env.member,
        env.tenant_id,
        db.database_id,
        DatabasePatch {
            apply: Some(ApplyAt::Now),
            ..Default::default()
        },
        WriteOptions {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .plan;
    assert!(
        plan.provider_changes
            .iter()
            .any(|c| c.detail.contains("instance_class → db.t3.small")
                && c.detail.contains("applied now")),
        "{:?}",
        plan.provider_changes
    );
    assert!(plan.warnings.iter().any(|w| w.contains("restarts")));
    let now = env
        .patch(
            db.database_id,
            DatabasePatch {
                apply: Some(ApplyAt::Now),
                ..Default::default()
            },
        )
        .await;
    assert!(
        now.generation > changed.generation,
        "apply now is a new generation"
    );
    wait_until(
        "the class to be applied",
        Duration::from_secs(60),
        || async { class_in_moto().await == "db.t3.small" },
    )
    .await;
    let applied = env.wait_ready(db.database_id, now.generation).await;
    assert!(applied.pending_changes.is_empty());
    assert_eq!(applied.instance_class, "db.t3.small");

    // Held again, then the maintenance window comes: applied without asking, and the
    // condition clears at the next resync.
    env.patch(
        db.database_id,
        DatabasePatch {
            backup_retention_days: Some(14),
            apply: Some(ApplyAt::NextWindow),
            ..Default::default()
        },
    )
    .await;
    wait_until(
        "the retention to be pending",
        Duration::from_secs(60),
        || async {
            env.database(db.database_id).await.is_ok_and(|d| {
                d.pending_changes
                    .iter()
                    .any(|c| c.field == "backup_retention_days")
            })
        },
    )
    .await;
    assert_eq!(proxy.run_maintenance_window().await, 1);
    wait_until(
        "the pending change to clear",
        Duration::from_secs(60),
        || async {
            env.database(db.database_id).await.is_ok_and(|d| {
                d.pending_changes.is_empty()
                    && d.conditions
                        .iter()
                        .any(|c| c.type_ == "PendingChanges" && c.status == ConditionStatus::False)
            })
        },
    )
    .await;
    assert_eq!(env.instances().await[0].backup_retention_period(), Some(14));
    worker.shutdown().await;
}

/// A worker process stopped right after CreateDBInstance answered (before recording it) and
/// killed; a second worker adopts the instance by tag: exactly one instance.
#[tokio::test]
async fn a_worker_killed_after_create_db_instance_leaves_one_instance() {
    let env = env("dbcrash")
        .await
        .with_zones(&["us-east-1a", "us-east-1b"])
        .await;
    let spawn_worker = |failpoints: &str| worker_process(&env.app.database_url, failpoints);
    let mut doomed = spawn_worker("db_instance.created");
    env.wait_zones_ready().await;
    let db = env.create(env.new_database("crashy")).await;
    wait_until(
        "the DB instance to exist in the sandbox",
        Duration::from_secs(60),
        || async { env.instances().await.len() == 1 },
    )
    .await;
    let recorded: Option<String> =
        sqlx::query_scalar("select provider_id from provider_object where token = $1")
            .bind(format!("db-instance:{}", db.database_id))
            .fetch_one(&env.app.db)
            .await
            .unwrap();
    assert_eq!(
        recorded, None,
        "the worker stopped before recording the instance"
    );
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();

    let mut rescuer = spawn_worker("");
    let db = env.wait_ready(db.database_id, 1).await;
    let instances = env.instances().await;
    assert_eq!(instances.len(), 1, "exactly one instance, the adopted one");
    assert_eq!(
        instances[0].db_instance_identifier(),
        Some(db.db_instance_id.as_str())
    );
    rescuer.start_kill().unwrap();
    rescuer.wait().await.unwrap();
}

/// A worker process stopped right after DeleteDBInstance was sent (failpoint
/// `db_instance.delete_sent`) and killed; a second worker finishes the delete: the database is
/// gone, its final snapshot exists once, and nothing else is left.
#[tokio::test]
async fn a_worker_killed_mid_delete_still_ends_with_the_database_gone_and_one_snapshot() {
    let env = env("dbdelcrash")
        .await
        .with_zones(&["us-east-1a", "us-east-1b"])
        .await;
    let spawn_worker = |failpoints: &str| worker_process(&env.app.database_url, failpoints);
    let mut doomed = spawn_worker("db_instance.delete_sent");
    env.wait_zones_ready().await;
    let mut input = env.new_database("doomed");
    input.deletion_protection = Some(false);
    let db = env.create(input).await;
    let db = env.wait_ready(db.database_id, 1).await;
    databases::delete(
        &env.app.db,
        &env.member,
        env.tenant_id,
        db.database_id,
        DatabaseDeletion::default(),
        WriteOptions::default(),
    )
    .await
    .unwrap();
    // The worker sends the delete (moto deletes at once), then sleeps at the failpoint before
    // it records anything: killed there.
    wait_until(
        "the delete to reach the sandbox",
        Duration::from_secs(60),
        || async { env.instances().await.is_empty() },
    )
    .await;
    doomed.start_kill().unwrap();
    doomed.wait().await.unwrap();
    assert!(
        env.database(db.database_id).await.is_ok(),
        "the delete is not finished yet"
    );

    let mut rescuer = spawn_worker("");
    env.wait_deleted(db.database_id).await;
    assert!(env.instances().await.is_empty(), "no instance left");
    assert_eq!(env.subnet_groups(&db.db_instance_id).await, 0);
    let snapshot = format!("{}-final", db.db_instance_id);
    let snapshots = rds()
        .describe_db_snapshots()
        .db_snapshot_identifier(&snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(snapshots.db_snapshots().len(), 1, "one final snapshot");
    let leftovers: (i64, i64) = sqlx::query_as(
        "select (select count(*) from provider_object where resource_id = $1),
                (select count(*) from secret where secret_id = $2)",
    )
    .bind(db.database_id)
    .bind(db.credentials_secret_id.unwrap())
    .fetch_one(&env.app.db)
    .await
    .unwrap();
    assert_eq!(leftovers, (0, 0), "no intent rows, secret gone");
    rescuer.start_kill().unwrap();
    rescuer.wait().await.unwrap();
}

#[tokio::test]
async fn rotation_replaces_the_password_everywhere_and_is_audited() {
    let recorder = Recorder::start().await;
    let env = env_with("dbrotate", Some(recorder.url.clone()))
        .await
        .with_zones(&["us-east-1a", "us-east-1b"])
        .await;
    let worker = worker_for(&env, recorder.policy());
    env.wait_zones_ready().await;
    let db = env.create(env.new_database("rotating")).await;
    let db = env.wait_ready(db.database_id, 1).await;
    let old = password_of(&env, &db).await;

    // Members and viewers may not rotate; a viewer may not reveal.
    for actor in [&env.member, &env.viewer] {
        let refused = databases::rotate_credentials(
            &env.app.db,
            &keyring(),
            actor,
            env.tenant_id,
            db.database_id,
        )
        .await;
        assert!(
            matches!(refused, Err(AppError::Forbidden(_))),
            "{refused:?}"
        );
    }
    let mut viewer = env.app.actor(env.viewer_id).await;
    viewer.reauthenticated_at = Some(time::OffsetDateTime::now_utc().unix_timestamp());
    let refused = secrets::reveal_secret(
        &env.app.db,
        &keyring(),
        &viewer,
        env.tenant_id,
        db.credentials_secret_id.unwrap(),
    )
    .await;
    assert!(
        matches!(refused, Err(AppError::Forbidden(_))),
        "{refused:?}"
    );

    databases::rotate_credentials(
        &env.app.db,
        &keyring(),
        &env.admin,
        env.tenant_id,
        db.database_id,
    )
    .await
    .unwrap();
    let new = password_of(&env, &db).await;
    assert_ne!(new.expose_secret(), old.expose_secret());
    assert_eq!(recorder.last().as_deref(), Some(old.expose_secret()));
    wait_until(
        "the sandbox to be given the new password",
        Duration::from_secs(60),
        || async { recorder.last().as_deref() == Some(new.expose_secret()) },
    )
    .await;
    // The admin reveals the new one (after a fresh password confirmation); the old is gone.
    let mut admin = env.admin.clone();
    admin.reauthenticated_at = Some(time::OffsetDateTime::now_utc().unix_timestamp());
    let revealed = secrets::reveal_secret(
        &env.app.db,
        &keyring(),
        &admin,
        env.tenant_id,
        db.credentials_secret_id.unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(revealed.expose_secret(), new.expose_secret());
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_event where tenant_id = $1 and action in ('database.credentials_rotated', 'secret.revealed') order by audit_id",
    )
    .bind(env.tenant_id)
    .fetch_all(&env.app.db)
    .await
    .unwrap();
    assert_eq!(
        actions,
        vec!["database.credentials_rotated", "secret.revealed"]
    );
    for password in [&old, &new] {
        assert_eq!(
            tables_containing(&env.app.db, password.expose_secret()).await,
            Vec::<String>::new()
        );
    }
    worker.shutdown().await;
}

#[tokio::test]
async fn rest_plans_applies_replays_and_hides_other_tenants_databases() {
    let env = env("dbrest")
        .await
        .with_zones(&["us-east-1a", "us-east-1b"])
        .await;
    let key = env
        .app
        .api_key(env.owner_id, env.tenant_id, Role::Owner)
        .await;
    let viewer_key = env
        .app
        .api_key(env.viewer_id, env.tenant_id, Role::Viewer)
        .await;
    let http = reqwest::Client::new();
    let base = format!("{}/api/v1/tenants/{}/databases", env.app.url, env.tenant_id);
    let body = serde_json::to_value(env.new_database("api")).unwrap();

    let plan = http
        .post(format!("{base}?dry_run=true"))
        .bearer_auth(&key)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(plan.status(), 200);
    let plan: serde_json::Value = plan.json().await.unwrap();
    assert_eq!(plan["dry_run"], true);
    let fingerprint = plan["plan"]["fingerprint"].as_str().unwrap().to_string();

    let send = || {
        http.post(&base)
            .bearer_auth(&key)
            .header("Idempotency-Key", "create-api-db")
            .header("If-Match", format!("\"{fingerprint}\""))
            .json(&body)
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 202);
    let first: serde_json::Value = first.json().await.unwrap();
    let again: serde_json::Value = send().await.unwrap().json().await.unwrap();
    assert_eq!(first, again, "the replay is the first answer");
    let id = first["database"]["database_id"]
        .as_str()
        .unwrap()
        .to_string();
    let count: i64 = sqlx::query_scalar(
        "select count(*) from resource where tenant_id = $1 and kind = 'database'",
    )
    .bind(env.tenant_id)
    .fetch_one(&env.app.db)
    .await
    .unwrap();
    assert_eq!(count, 1);

    let list: serde_json::Value = http
        .get(format!("{base}?limit=10"))
        .bearer_auth(&viewer_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["name"], "api");

    // A viewer cannot change it; a stale plan is refused.
    let patch = serde_json::json!({ "instance_class": "db.t3.small" });
    let refused = http
        .patch(format!("{base}/{id}"))
        .bearer_auth(&viewer_key)
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let stale = http
        .patch(format!("{base}/{id}"))
        .bearer_auth(&key)
        .header("If-Match", "\"0000\"")
        .json(&patch)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let protected = http
        .delete(format!("{base}/{id}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(protected.status(), 409);
    let problem: serde_json::Value = protected.json().await.unwrap();
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("deletion protection"));

    // Another tenant's database answers 404 everywhere.
    let other = env.app.tenant_with_roles("dbrest-other").await;
    let other_key = env
        .app
        .api_key(other.user(Role::Owner), other.tenant_id, Role::Owner)
        .await;
    let foreign = format!("{base}/{id}");
    for request in [
        http.get(&foreign),
        http.patch(&foreign).json(&patch),
        http.delete(&foreign),
        http.post(format!("{foreign}/rotate-credentials")),
    ] {
        let answer = request.bearer_auth(&other_key).send().await.unwrap();
        assert_eq!(answer.status(), 404);
    }
}

/// The inbound rules of a security group in moto, as (source security group, port).
async fn ingress_of(ec2: &aws_sdk_ec2::Client, group_id: &str) -> Vec<(String, i32)> {
    let answer = ec2
        .describe_security_groups()
        .group_ids(group_id)
        .send()
        .await
        .unwrap();
    let mut rules: Vec<(String, i32)> = answer
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .flat_map(|p| {
            p.user_id_group_pairs().iter().filter_map(|pair| {
                Some((pair.group_id()?.to_string(), p.from_port().unwrap_or(-1)))
            })
        })
        .collect();
    rules.sort();
    rules
}

/// The running instances of a group in moto, with the security groups each is in.
async fn instance_groups_of(
    ec2: &aws_sdk_ec2::Client,
    group_id: Uuid,
) -> Vec<(String, Vec<String>)> {
    let answer = ec2
        .describe_instances()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("tag:stratus:resource")
                .values(group_id.to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mut out: Vec<(String, Vec<String>)> = answer
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter(|i| i.state().and_then(|s| s.name()).map(|n| n.as_str()) == Some("running"))
        .map(|i| {
            let mut groups: Vec<String> = i
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(str::to_string))
                .collect();
            groups.sort();
            (i.instance_id().unwrap_or_default().to_string(), groups)
        })
        .collect();
    out.sort();
    out
}

/// The database once Ready at `generation` or later.
async fn ready(e: &crate::instance_groups::Engine, id: Uuid, generation: i64) -> DatabaseView {
    let get = || databases::get(&e.app.db, &e.member, e.tenant_id, id);
    wait_until(
        "the database to be ready",
        Duration::from_secs(90),
        || async {
            get().await.is_ok_and(|d| {
                d.status == ResourceStatus::Ready && d.observed_generation >= generation
            })
        },
    )
    .await;
    get().await.unwrap()
}

/// Network: each instance group has a security group of its own on every instance; a database
/// admits exactly the groups it allows (a rule from the group's security group on 5432), a
/// change that drops one revokes its rule, a group a database allows cannot be deleted (409
/// naming the database), another tenant's group is refused without a word about it, and a
/// deleted group's security group is gone from the sandbox.
#[tokio::test]
async fn a_database_admits_exactly_the_instance_groups_it_allows() {
    use crate::instance_groups::engine_on;
    use app::backend::resources::groups;

    let e = engine_on("dbnet", false, None).await;
    let ec2 = aws::ec2(&e.target);
    let web = e.create(e.new_group("web", 2)).await.group_id;
    let batch = e.create(e.new_group("batch", 1)).await.group_id;
    let web = e.wait_ready(web).await;
    let batch = e.wait_ready(batch).await;
    let (web_sg, batch_sg) = (
        web.security_group_id
            .clone()
            .expect("web has its security group"),
        batch
            .security_group_id
            .clone()
            .expect("batch has its security group"),
    );
    assert_ne!(web_sg, batch_sg);

    // Every instance of web carries web's security group besides its zone's.
    let groups_of = instance_groups_of(&ec2, web.group_id).await;
    assert_eq!(groups_of.len(), 2, "{groups_of:?}");
    for (_, groups) in &groups_of {
        assert!(groups.contains(&web_sg), "{groups:?}");
        assert!(!groups.contains(&batch_sg), "{groups:?}");
        assert_eq!(groups.len(), 2, "the zone's and the group's: {groups:?}");
    }
    // One stripped of it behind Stratus's back (or launched before groups had one) gets it
    // back at the next resync.
    let (stripped, groups) = &groups_of[0];
    let zone_only: Vec<String> = groups.iter().filter(|g| **g != web_sg).cloned().collect();
    e.provider
        .set_security_groups(stripped, &zone_only)
        .await
        .unwrap();
    wait_until(
        "the group's security group to be back on the instance",
        Duration::from_secs(15),
        || async {
            instance_groups_of(&ec2, web.group_id)
                .await
                .iter()
                .all(|(_, groups)| groups.contains(&web_sg) && groups.len() == 2)
        },
    )
    .await;

    // A database allowing web: planned, then one rule from web's security group on 5432.
    let input = NewDatabase {
        name: "orders".into(),
        engine: "postgres".into(),
        engine_version: None,
        instance_class: "db.t3.micro".into(),
        storage_gb: 20,
        max_storage_gb: None,
        zone_id: e.zone_ids[0],
        standby_zone_id: None,
        backup_retention_days: None,
        backup_window: None,
        maintenance_window: None,
        deletion_protection: Some(false),
        allowed_groups: vec![web.group_id],
    };
    let dry = databases::create(
        &e.app.db,
        &keyring(),
        &e.member,
        e.tenant_id,
        input.clone(),
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await
    .unwrap();
    assert!(
        dry.plan
            .provider_changes
            .iter()
            .any(|c| c.object == "security group rule"
                && c.detail == "allow instance group web to connect on port 5432"),
        "{:?}",
        dry.plan.provider_changes
    );
    let created = databases::create(
        &e.app.db,
        &keyring(),
        &e.member,
        e.tenant_id,
        input,
        WriteOptions::default(),
    )
    .await
    .expect("the database is accepted")
    .database
    .unwrap();
    let db = ready(&e, created.database_id, 1).await;
    let db_sg = db.security_group_id.clone().unwrap();
    assert_eq!(ingress_of(&ec2, &db_sg).await, vec![(web_sg.clone(), 5432)]);
    assert_eq!(db.allowed_groups.len(), 1);
    assert_eq!(db.allowed_groups[0].name, "web");
    assert_eq!(
        db.allowed_groups[0].security_group_id.as_ref(),
        Some(&web_sg)
    );

    // The portal, rendered by the server: the database's page links web and offers both
    // groups to its change form; web's page shows its security group.
    let client = e.app.client();
    client.sign_in("member@dbnet.test", PASSWORD).await;
    let page = client.get(&format!("/databases/{}", db.database_id)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Allowed to connect"), "{}", page.body);
    assert!(page
        .body
        .contains(&format!("href=\"/instance-groups/{}\"", web.group_id)));
    assert!(page.body.contains("db-change-groups-error"));
    assert!(page.body.contains("batch"));
    let page = client
        .get(&format!("/instance-groups/{}", web.group_id))
        .await;
    assert!(page.body.contains(&web_sg));
    let page = client.get("/databases/new").await;
    assert!(page.body.contains("db-groups-error"), "{}", page.body);

    // Deleting web while orders allows it: 409 problem+json naming the database.
    let key = e.app.api_key(e.member_id, e.tenant_id, Role::Member).await;
    let http = reqwest::Client::new();
    let refused = http
        .delete(format!(
            "{}/api/v1/tenants/{}/instance-groups/{}",
            e.app.url, e.tenant_id, web.group_id
        ))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 409);
    assert_eq!(
        refused.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: serde_json::Value = refused.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("database orders"), "{problem}");

    // Another tenant's group: refused on allowed_groups, saying nothing of it.
    let other = e.app.tenant_with_roles("dbnet-other").await;
    let other_owner = e.app.actor(other.user(Role::Owner)).await;
    let other_account = cloud_accounts::create(
        &e.app.db,
        &keyring(),
        &endpoints(),
        &other_owner,
        other.tenant_id,
        cloud_accounts::NewCloudAccount {
            name: "theirs".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIASANDBOXEXAMPLE00".into(),
            secret_access_key: "sandbox-secret".into(),
            endpoint_url: Some(moto_url()),
            emulated: true,
        },
    )
    .await
    .unwrap();
    let foreign: Uuid = sqlx::query_scalar(
        "insert into resource (tenant_id, kind, name, cloud_account_id, spec)
         values ($1, 'instance_group', 'their-secret-group', $2, '{}') returning resource_id",
    )
    .bind(other.tenant_id)
    .bind(other_account.cloud_account_id)
    .fetch_one(&e.app.db)
    .await
    .unwrap();
    let refused = http
        .patch(format!(
            "{}/api/v1/tenants/{}/databases/{}",
            e.app.url, e.tenant_id, db.database_id
        ))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "allowed_groups": [web.group_id, foreign] }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let problem: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "allowed_groups", "{problem}");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(&foreign.to_string()), "{problem}");
    assert!(
        !problem.to_string().contains("their-secret-group"),
        "{problem}"
    );

    // Swap web for batch: the plan says both, web's rule is revoked, batch's added.
    let swap = DatabasePatch {
        allowed_groups: Some(vec![batch.group_id]),
        ..Default::default()
    };
    let dry = databases::update(
        &e.app.db,
        &e.member,
        e.tenant_id,
        db.database_id,
        swap.clone(),
        WriteOptions {
            dry_run: true,
            fingerprint: None,
        },
    )
    .await
    .unwrap();
    let changes: Vec<(ChangeAction, &str)> = dry
        .plan
        .provider_changes
        .iter()
        .map(|c| (c.action, c.detail.as_str()))
        .collect();
    assert_eq!(
        changes,
        vec![
            (
                ChangeAction::Create,
                "allow instance group batch to connect on port 5432"
            ),
            (
                ChangeAction::Destroy,
                "allow instance group web to connect on port 5432"
            ),
        ],
        "only the rules change, not the DB instance"
    );
    let changed = databases::update(
        &e.app.db,
        &e.member,
        e.tenant_id,
        db.database_id,
        swap,
        WriteOptions::default(),
    )
    .await
    .unwrap()
    .database
    .unwrap();
    let db = ready(&e, db.database_id, changed.generation).await;
    assert_eq!(
        ingress_of(&ec2, &db_sg).await,
        vec![(batch_sg.clone(), 5432)]
    );

    // A group whose security group is not made yet (a bare row: no reconcile makes one) is
    // waited for by name, run after run; once it is dropped the database is Ready again.
    let later: Uuid = sqlx::query_scalar(
        "insert into resource (tenant_id, kind, name, cloud_account_id, spec)
         values ($1, 'instance_group', 'later', $2, '{}') returning resource_id",
    )
    .bind(e.tenant_id)
    .bind(web.cloud_account_id)
    .fetch_one(&e.app.db)
    .await
    .unwrap();
    let patch = |groups: Vec<Uuid>| {
        databases::update(
            &e.app.db,
            &e.member,
            e.tenant_id,
            db.database_id,
            DatabasePatch {
                allowed_groups: Some(groups),
                ..Default::default()
            },
            WriteOptions::default(),
        )
    };
    patch(vec![batch.group_id, later]).await.unwrap();
    let waiting = "waiting for instance group later to have its security group";
    wait_until(
        "the database to say what it waits for",
        Duration::from_secs(30),
        || async {
            let events: i64 = sqlx::query_scalar(
                "select count(*) from job_event e join job j using (job_id)
                 where j.resource_id = $1 and e.kind = 'progress' and e.message = $2",
            )
            .bind(db.database_id)
            .bind(waiting)
            .fetch_one(&e.app.db)
            .await
            .unwrap();
            let shown = databases::get(&e.app.db, &e.member, e.tenant_id, db.database_id)
                .await
                .is_ok_and(|d| {
                    d.status != ResourceStatus::Ready
                        && d.conditions
                            .iter()
                            .any(|c| c.type_ == "Progressing" && c.message == waiting)
                });
            events >= 2 && shown
        },
    )
    .await;
    let changed = patch(vec![batch.group_id]).await.unwrap().database.unwrap();
    ready(&e, db.database_id, changed.generation).await;
    assert_eq!(
        ingress_of(&ec2, &db_sg).await,
        vec![(batch_sg.clone(), 5432)]
    );

    // web is free to go now: its instances, then its security group, are gone.
    groups::delete(
        &e.app.db,
        &e.member,
        e.tenant_id,
        web.group_id,
        WriteOptions::default(),
    )
    .await
    .expect("a group no database allows can be deleted");
    wait_until("web to be deleted", Duration::from_secs(30), || async {
        matches!(e.group(web.group_id).await, Err(AppError::NotFound))
    })
    .await;
    let left = ec2
        .describe_security_groups()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&web_sg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        left.security_groups().is_empty(),
        "web's security group is deleted"
    );
    let intents: i64 =
        sqlx::query_scalar("select count(*) from provider_object where resource_id = $1")
            .bind(web.group_id)
            .fetch_one(&e.app.db)
            .await
            .unwrap();
    assert_eq!(intents, 0);

    // Leave nothing behind in the sandbox.
    databases::delete(
        &e.app.db,
        &e.member,
        e.tenant_id,
        db.database_id,
        DatabaseDeletion {
            final_snapshot: false,
        },
        WriteOptions::default(),
    )
    .await
    .unwrap();
    wait_until(
        "the database to be deleted",
        Duration::from_secs(90),
        || async {
            matches!(
                databases::get(&e.app.db, &e.member, e.tenant_id, db.database_id).await,
                Err(AppError::NotFound)
            )
        },
    )
    .await;
    e.finish().await;
}
