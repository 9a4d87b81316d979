//! Every backend action × every role × own and foreign tenant (and a suspended own tenant).
//! The expectations are written out here, independently of `rbac`'s table.

use crate::support::keyring;
use crate::support::TestApp;
use app::backend::identity::actor::Actor;

use app::backend::resources::{databases, groups, zones, WriteOptions};
use app::backend::{
    audit, cloud::accounts as cloud_accounts, identity, identity::api_keys, jobs, secrets, tenancy,
};
use app::error::AppError;
use app::model::resources::NewZone;
use app::model::{Quotas, Role, TenantStatus};
use app::rbac::{Action, PlatformAction};
use sqlx::PgPool;
use uuid::Uuid;

/// The lowest role the product spec allows for each action.
fn spec_min_role(action: Action) -> Role {
    match action {
        Action::ViewTenant | Action::ViewMembers => Role::Viewer,
        Action::ViewJobs | Action::ViewCloudAccounts => Role::Viewer,
        Action::ManageJobs => Role::Member,
        Action::ManageCloudAccounts
        | Action::ViewSecrets
        | Action::ManageSecrets
        | Action::RevealSecret
        | Action::ViewAuditLog => Role::Admin,
        Action::ViewInvitations
        | Action::InviteMember
        | Action::ChangeMemberRole
        | Action::RemoveMember
        | Action::RevokeInvitation => Role::Admin,
        Action::ManageOwnership => Role::Owner,
        Action::ManageOwnApiKeys => Role::Viewer,
        Action::ManageAllApiKeys => Role::Admin,
        Action::ViewResources => Role::Viewer,
        Action::ManageResources => Role::Member,
        Action::ManageDatabaseCredentials => Role::Admin,
    }
}

fn spec_is_read(action: Action) -> bool {
    matches!(
        action,
        Action::ViewTenant
            | Action::ViewMembers
            | Action::ViewInvitations
            | Action::ViewJobs
            | Action::ViewCloudAccounts
            | Action::ViewSecrets
            | Action::RevealSecret
            | Action::ViewAuditLog
            | Action::ManageAllApiKeys
            | Action::ViewResources
    )
}

/// A member added straight in the database (they never sign in), as the target of an action.
async fn add_target(db: &PgPool, tenant_id: Uuid, role: Role) -> Uuid {
    let user_id: Uuid = sqlx::query_scalar(
        "insert into app_user (email, display_name, password_hash) values ($1, 'Target', 'x') returning user_id",
    )
    .bind(format!("target-{}@stratus.test", Uuid::new_v4().simple()))
    .fetch_one(db)
    .await
    .unwrap();
    sqlx::query("insert into membership (tenant_id, user_id, role) values ($1, $2, $3)")
        .bind(tenant_id)
        .bind(user_id)
        .bind(role)
        .execute(db)
        .await
        .unwrap();
    user_id
}

/// Performs `action` in `tenant_id` as `actor`, through the backend function that implements it.
async fn perform(
    app: &TestApp,
    actor: &Actor,
    tenant_id: Uuid,
    action: Action,
) -> Result<(), AppError> {
    let db = &app.db;
    match action {
        Action::ViewTenant => tenancy::tenant_overview(db, actor, tenant_id)
            .await
            .map(drop),
        Action::ViewMembers => tenancy::list_members(db, actor, tenant_id).await.map(drop),
        Action::ViewInvitations => tenancy::list_invitations(db, actor, tenant_id)
            .await
            .map(drop),
        Action::InviteMember => {
            let email = format!("new-{}@stratus.test", Uuid::new_v4().simple());
            tenancy::invite_member(db, actor, tenant_id, &email, Role::Viewer)
                .await
                .map(drop)
        }
        Action::ChangeMemberRole => {
            let target = add_target(db, tenant_id, Role::Member).await;
            tenancy::change_role(db, actor, tenant_id, target, Role::Viewer).await
        }
        Action::RemoveMember => {
            let target = add_target(db, tenant_id, Role::Member).await;
            tenancy::remove_member(db, actor, tenant_id, target).await
        }
        Action::RevokeInvitation => {
            let invitation_id: Uuid = sqlx::query_scalar(
                "insert into invitation (tenant_id, email, role, token_sha256, expires_at)
                 values ($1, $2, 'viewer', $3, now() + interval '1 hour') returning invitation_id",
            )
            .bind(tenant_id)
            .bind(format!("inv-{}@stratus.test", Uuid::new_v4().simple()))
            .bind(Uuid::new_v4().as_bytes().to_vec())
            .fetch_one(db)
            .await
            .unwrap();
            tenancy::revoke_invitation(db, actor, tenant_id, invitation_id).await
        }
        Action::ManageOwnership => {
            let target = add_target(db, tenant_id, Role::Member).await;
            tenancy::change_role(db, actor, tenant_id, target, Role::Owner).await
        }
        Action::ViewJobs => jobs::list_tenant_jobs(db, actor, tenant_id, 50)
            .await
            .map(drop),
        Action::ManageJobs => {
            let mut conn = db.acquire().await.unwrap();
            let job = jobs::enqueue(
                &mut conn,
                jobs::NewJob::new("test.later")
                    .tenant(tenant_id)
                    .run_at(time::OffsetDateTime::now_utc() + time::Duration::hours(1)),
            )
            .await
            .unwrap();
            jobs::cancel_tenant_job(db, actor, tenant_id, job.job_id)
                .await
                .map(drop)
        }
        Action::ViewCloudAccounts => cloud_accounts::list(db, actor, tenant_id).await.map(drop),
        Action::ViewAuditLog => {
            let scope = app::model::AuditScope::Tenant(tenant_id);
            audit::list(db, actor, scope, &Default::default(), None, 10)
                .await
                .map(drop)
        }
        Action::ManageCloudAccounts => {
            let account = cloud_accounts::NewCloudAccount {
                name: format!("acct-{}", Uuid::new_v4().simple()),
                region: "eu-west-1".into(),
                access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_access_key: "not-a-real-key".into(),
                endpoint_url: None,
                emulated: false,
            };
            let endpoints = app::backend::cloud::endpoints::EndpointPolicy::default();
            cloud_accounts::create(db, &keyring(), &endpoints, actor, tenant_id, account)
                .await
                .map(drop)
        }
        Action::ViewSecrets => secrets::list_secrets(db, actor, tenant_id).await.map(drop),
        Action::ManageSecrets => {
            let name = format!("s-{}", Uuid::new_v4().simple());
            secrets::create_secret(db, &keyring(), actor, tenant_id, &name, "value".into())
                .await
                .map(drop)
        }
        Action::RevealSecret => {
            let secret_id: Uuid = sqlx::query_scalar(
                "select secret_id from secret where tenant_id = $1 and name = 'seeded'",
            )
            .bind(tenant_id)
            .fetch_one(db)
            .await
            .unwrap();
            let mut actor = actor.clone();
            actor.reauthenticated_at = Some(time::OffsetDateTime::now_utc().unix_timestamp());
            secrets::reveal_secret(db, &keyring(), &actor, tenant_id, secret_id)
                .await
                .map(drop)
        }
        Action::ManageOwnApiKeys => {
            let mut actor = actor.clone();
            actor.reauthenticated_at = Some(time::OffsetDateTime::now_utc().unix_timestamp());
            api_keys::create(db, &actor, tenant_id, "ci", Role::Viewer, 7)
                .await
                .map(drop)
        }
        Action::ManageAllApiKeys => {
            // Someone else's key.
            let key_id: Uuid = sqlx::query_scalar(
                "insert into api_key (tenant_id, user_id, name, prefix, secret_sha256, role, expires_at)
                 select $1, user_id, 'theirs', 'stx_x', $2, 'viewer', now() + interval '1 day'
                 from membership where tenant_id = $1 and user_id <> $3 limit 1
                 returning key_id",
            )
            .bind(tenant_id)
            .bind(Uuid::new_v4().as_bytes().to_vec())
            .bind(actor.user_id)
            .fetch_one(db)
            .await
            .unwrap();
            api_keys::revoke(db, actor, tenant_id, key_id)
                .await
                .map(drop)
        }
        Action::ViewResources => same(
            zones::list(db, actor, tenant_id, None, 50).await.map(drop),
            groups::list(db, actor, tenant_id, None, 50).await.map(drop),
        ),
        Action::ManageResources => {
            // A dry run: the whole write path (authorize, validate, plan) without writing.
            let cloud_account_id: Uuid = sqlx::query_scalar(
                "select cloud_account_id from cloud_account where tenant_id = $1 and name = 'seeded'",
            )
            .bind(tenant_id)
            .fetch_one(db)
            .await
            .unwrap();
            let zone = NewZone {
                name: "matrix".into(),
                cloud_account_id,
                availability_zone: "eu-west-1a".into(),
                network_cidr: None,
            };
            let options = WriteOptions {
                dry_run: true,
                fingerprint: None,
            };
            let zone_result = zones::create(db, actor, tenant_id, zone, options.clone())
                .await
                .map(drop);
            let zone_id: Uuid = sqlx::query_scalar(
                "select resource_id from resource where tenant_id = $1 and kind = 'zone' and name = 'seeded'",
            )
            .bind(tenant_id)
            .fetch_one(db)
            .await
            .unwrap();
            let group = app::model::groups::NewGroup {
                name: "matrix".into(),
                zone_ids: vec![zone_id],
                template: app::model::groups::GroupTemplate {
                    instance_type: "t3.micro".into(),
                    image_id: "ami-12c6146b".into(),
                    user_data: None,
                    tags: Default::default(),
                },
                min: 0,
                max: 3,
                desired: Some(2),
                policy: Default::default(),
            };
            same(
                zone_result,
                groups::create(db, actor, tenant_id, group, options)
                    .await
                    .map(drop),
            )
        }
        Action::ManageDatabaseCredentials => {
            let database_id: Uuid = sqlx::query_scalar(
                "select resource_id from resource where tenant_id = $1 and kind = 'database' and name = 'seeded'",
            )
            .bind(tenant_id)
            .fetch_one(db)
            .await
            .unwrap();
            databases::rotate_credentials(db, &keyring(), actor, tenant_id, database_id)
                .await
                .map(drop)
        }
    }
}

/// Zones and instance groups answer the same to the same action: one outcome, or a mismatch.
fn same(zones: Result<(), AppError>, groups: Result<(), AppError>) -> Result<(), AppError> {
    if outcome(&zones) == outcome(&groups) {
        zones
    } else {
        Err(AppError::Request(format!(
            "zones: {zones:?}, instance groups: {groups:?}"
        )))
    }
}

/// A database named "seeded" (rows only: no worker runs here), for the credential cases.
async fn seed_database(app: &TestApp, tenant_id: Uuid) {
    let mut tx = app.db.begin().await.unwrap();
    let (account_id, secret_id): (Uuid, Uuid) = sqlx::query_as(
        "select c.cloud_account_id, s.secret_id from cloud_account c, secret s
         where c.tenant_id = $1 and c.name = 'seeded' and s.tenant_id = $1 and s.name = 'seeded'",
    )
    .bind(tenant_id)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let zone_id = Uuid::new_v4();
    let spec = serde_json::json!({
        "engine": "postgres", "engine_version": "16", "instance_class": "db.t3.micro",
        "storage_gb": 20, "max_storage_gb": null, "zone_id": zone_id, "standby_zone_id": null,
        "subnet_zone_ids": [zone_id], "backup_retention_days": 7, "backup_window": "03:00-03:30",
        "maintenance_window": "sun:04:00-sun:04:30", "deletion_protection": true,
    });
    let database_id: Uuid = sqlx::query_scalar(
        "insert into resource (tenant_id, kind, name, cloud_account_id, spec) values ($1, 'database', 'seeded', $2, $3) returning resource_id",
    )
    .bind(tenant_id)
    .bind(account_id)
    .bind(&spec)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "insert into managed_database (resource_id, identifier, master_username, secret_id) values ($1, $2, 'stratus', $3)",
    )
    .bind(database_id)
    .bind(databases::identifier(database_id))
    .bind(secret_id)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// A secret named "seeded" in the tenant, for the reveal cases, and a cloud account named
/// "seeded", for the resource cases.
async fn seed_secret(app: &TestApp, fixture: &crate::support::Fixture) {
    let owner = app.actor(fixture.user(Role::Owner)).await;
    let account = cloud_accounts::NewCloudAccount {
        name: "seeded".into(),
        region: "eu-west-1".into(),
        access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
        secret_access_key: "not-a-real-key".into(),
        endpoint_url: None,
        emulated: false,
    };
    let endpoints = app::backend::cloud::endpoints::EndpointPolicy::default();
    cloud_accounts::create(
        &app.db,
        &keyring(),
        &endpoints,
        &owner,
        fixture.tenant_id,
        account,
    )
    .await
    .unwrap();
    // A Ready zone named "seeded" (no worker runs here), for the instance-group cases.
    let account_id: Uuid = sqlx::query_scalar(
        "select cloud_account_id from cloud_account where tenant_id = $1 and name = 'seeded'",
    )
    .bind(fixture.tenant_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let zone = zones::create(
        &app.db,
        &owner,
        fixture.tenant_id,
        NewZone {
            name: "seeded".into(),
            cloud_account_id: account_id,
            availability_zone: "eu-west-1b".into(),
            network_cidr: None,
        },
        WriteOptions::default(),
    )
    .await
    .unwrap()
    .zone
    .unwrap();
    sqlx::query("update resource set status = 'ready' where resource_id = $1")
        .bind(zone.zone_id)
        .execute(&app.db)
        .await
        .unwrap();
    secrets::create_secret(
        &app.db,
        &keyring(),
        &owner,
        fixture.tenant_id,
        "seeded",
        "value".into(),
    )
    .await
    .unwrap();
}

fn outcome(result: &Result<(), AppError>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(AppError::Forbidden(_)) => "forbidden",
        Err(AppError::NotFound) => "not found",
        Err(AppError::Suspended) => "suspended",
        Err(_) => "other error",
    }
}

#[tokio::test]
async fn every_tenant_action_for_every_role_in_own_and_foreign_tenants() {
    let app = TestApp::spawn().await;
    let own = app.tenant_with_roles("own").await;
    let foreign = app.tenant_with_roles("foreign").await;
    seed_secret(&app, &own).await;
    seed_secret(&app, &foreign).await;
    seed_database(&app, own.tenant_id).await;
    seed_database(&app, foreign.tenant_id).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for role in Role::ALL {
        let actor = app.actor(own.user(role)).await;
        for action in Action::ALL {
            let expected = if role >= spec_min_role(action) {
                "ok"
            } else {
                "forbidden"
            };
            let got = perform(&app, &actor, own.tenant_id, action).await;
            if outcome(&got) != expected {
                failures.push(format!(
                    "{role:?} {action:?} own: expected {expected}, got {got:?}"
                ));
            }
            let got = perform(&app, &actor, foreign.tenant_id, action).await;
            if outcome(&got) != "not found" {
                failures.push(format!(
                    "{role:?} {action:?} foreign: expected not found, got {got:?}"
                ));
            }
            checked += 2;
        }
    }
    // A platform admin is not a tenant member: tenant internals are not theirs.
    let platform = app.admin_actor().await;
    for action in Action::ALL {
        let got = perform(&app, &platform, own.tenant_id, action).await;
        if outcome(&got) != "not found" {
            failures.push(format!(
                "platform admin {action:?}: expected not found, got {got:?}"
            ));
        }
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} cases wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_suspended_tenant_can_be_read_but_not_changed() {
    let app = TestApp::spawn().await;
    let own = app.tenant_with_roles("sleepy").await;
    seed_secret(&app, &own).await;
    seed_database(&app, own.tenant_id).await;
    let platform = app.admin_actor().await;
    tenancy::set_tenant_status(&app.db, &platform, own.tenant_id, TenantStatus::Suspended)
        .await
        .unwrap();
    let mut failures = Vec::new();
    for role in Role::ALL {
        let actor = app.actor(own.user(role)).await;
        for action in Action::ALL {
            let expected = match (role >= spec_min_role(action), spec_is_read(action)) {
                (false, _) => "forbidden",
                (true, true) => "ok",
                (true, false) => "suspended",
            };
            let got = perform(&app, &actor, own.tenant_id, action).await;
            if outcome(&got) != expected {
                failures.push(format!(
                    "{role:?} {action:?}: expected {expected}, got {got:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn perform_platform(
    app: &TestApp,
    actor: &Actor,
    tenant_id: Uuid,
    user_id: Uuid,
    action: PlatformAction,
) -> Result<(), AppError> {
    let db = &app.db;
    match action {
        PlatformAction::ListTenants => tenancy::list_tenants(db, actor).await.map(drop),
        PlatformAction::CreateTenant => {
            let slug = format!("t-{}", &Uuid::new_v4().simple().to_string()[..8]);
            tenancy::create_tenant(db, actor, &slug, "New", "owner@new.test")
                .await
                .map(drop)
        }
        PlatformAction::SuspendTenant => {
            tenancy::set_tenant_status(db, actor, tenant_id, TenantStatus::Active).await
        }
        PlatformAction::EditQuotas => {
            let quotas = Quotas {
                max_zones: 3,
                max_instances: 30,
                max_vcpus: 60,
                max_databases: 2,
            };
            tenancy::update_quotas(db, actor, tenant_id, quotas).await
        }
        PlatformAction::InviteTenantOwner => {
            tenancy::invite_owner(db, actor, tenant_id, "boss@stratus.test")
                .await
                .map(drop)
        }
        PlatformAction::ListUsers => identity::list_users(db, actor).await.map(drop),
        PlatformAction::DisableUser => identity::set_user_disabled(db, actor, user_id, false).await,
        PlatformAction::ManageQueue => jobs::queue_overview(db, actor).await.map(drop),
        PlatformAction::ViewAuditLog => {
            let scope = app::model::AuditScope::AllTenants;
            audit::list(db, actor, scope, &Default::default(), None, 10)
                .await
                .map(drop)
        }
    }
}

#[tokio::test]
async fn admin_console_actions_need_a_platform_admin() {
    let app = TestApp::spawn().await;
    let own = app.tenant_with_roles("own").await;
    let platform = app.admin_actor().await;
    let target = own.user(Role::Viewer);
    let mut failures = Vec::new();
    for action in PlatformAction::ALL {
        let got = perform_platform(&app, &platform, own.tenant_id, target, action).await;
        if outcome(&got) != "ok" {
            failures.push(format!("platform admin {action:?}: {got:?}"));
        }
        for role in Role::ALL {
            let actor = app.actor(own.user(role)).await;
            let got = perform_platform(&app, &actor, own.tenant_id, target, action).await;
            if outcome(&got) != "forbidden" {
                failures.push(format!(
                    "{role:?} {action:?}: expected forbidden, got {got:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
