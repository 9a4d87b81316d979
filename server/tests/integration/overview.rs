//! The overview pages show what the database holds: jobs created in known states and finish
//! times, in two tenants, and every number compared with an independent count.

use crate::support::{TestApp, PASSWORD};
use app::model::resources::{ResourceKind, ResourceStatus};
use app::model::{PlatformOverview, Role, TenantOverview};
use sqlx::PgPool;
use uuid::Uuid;

/// Jobs of `tenant`: `queued` waiting (due tomorrow, so no worker claims them), `running`
/// with a live lease, and one finished job per hour offset (state by offset), written
/// directly so their finish times are known.
async fn seed_jobs(db: &PgPool, tenant: Uuid, queued: i64, running: i64, offsets: &[i64]) {
    sqlx::query(
        "insert into job (kind, tenant_id, state, fair_seq, run_at)
         select 'test.overview', $1, 'queued', 0, now() + interval '1 day' from generate_series(1, $2)",
    )
    .bind(tenant)
    .bind(queued)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "insert into job (kind, tenant_id, state, fair_seq, attempt, started_at, lease_token, locked_by, lease_expires_at)
         select 'test.overview', $1, 'running', 0, 1, now(), -1, 'test', now() + interval '1 hour' from generate_series(1, $2)",
    )
    .bind(tenant)
    .bind(running)
    .execute(db)
    .await
    .unwrap();
    for &k in offsets {
        let state = match k % 4 {
            0 => "failed",
            1 => "cancelled",
            _ => "succeeded",
        };
        sqlx::query(
            "insert into job (kind, tenant_id, state, fair_seq, attempt, started_at, finished_at, last_error)
             values ('test.overview', $1, $2::job_state, 0, 1, now() - make_interval(hours => $3::int),
                     now() - make_interval(hours => $3::int),
                     case when $2 = 'failed' then 'dispatch failure: Connection refused (os error 111)' end)",
        )
        .bind(tenant)
        .bind(state)
        .bind(k as i32)
        .execute(db)
        .await
        .unwrap();
    }
}

async fn count(db: &PgPool, sql: &str, tenant: Option<Uuid>) -> i64 {
    sqlx::query_scalar(sql)
        .bind(tenant)
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_overviews_show_what_the_database_holds() {
    let app = TestApp::spawn().await;
    let ours = app.tenant_with_roles("ours").await;
    let theirs = app.tenant_with_roles("theirs").await;
    // Offsets 0..=22 hours fall inside the 24 UTC hours charted, 25..=30 outside (23 and 24
    // are left out: an hour boundary passing mid-test would move them).
    let inside: Vec<i64> = (0..=22).collect();
    let outside: Vec<i64> = (25..=30).collect();
    seed_jobs(
        &app.db,
        ours.tenant_id,
        3,
        2,
        &[inside.clone(), outside.clone()].concat(),
    )
    .await;
    seed_jobs(&app.db, theirs.tenant_id, 1, 4, &inside[..7]).await;

    // A viewer of ours sees ours.
    let viewer = app.client();
    viewer.sign_in("viewer@ours.test", PASSWORD).await;
    let reply = viewer.rpc("get_tenant_overview", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let o: Option<TenantOverview> = serde_json::from_str(&reply.body).unwrap();
    let o = o.expect("the viewer is in a tenant");
    assert_eq!(o.tenant.tenant_id, ours.tenant_id);
    assert_eq!(o.tenant.role, Role::Viewer);

    let db = &app.db;
    let t = Some(ours.tenant_id);
    assert_eq!(
        o.tenant.member_count,
        count(
            db,
            "select count(*) from membership where tenant_id = $1",
            t
        )
        .await
    );
    let (zones, instances, vcpus, databases): (i32, i32, i32, i32) = sqlx::query_as(
        "select max_zones, max_instances, max_vcpus, max_databases from tenant where tenant_id = $1",
    )
    .bind(ours.tenant_id)
    .fetch_one(db)
    .await
    .unwrap();
    let limits: Vec<i64> = o.usage.iter().map(|u| u.limit).collect();
    assert_eq!(limits, [zones, instances, vcpus, databases].map(i64::from));
    let zones_used = count(
        db,
        "select count(*) from resource where tenant_id = $1 and kind = 'zone' and status <> 'deleted'",
        t,
    )
    .await;
    assert_eq!(
        o.usage[0].used, zones_used,
        "zones in use, as the quota counts them"
    );

    assert_eq!(
        o.jobs.queued,
        count(
            db,
            "select count(*) from job where tenant_id = $1 and state = 'queued'",
            t
        )
        .await
    );
    assert_eq!(
        o.jobs.running,
        count(
            db,
            "select count(*) from job where tenant_id = $1 and state = 'running'",
            t
        )
        .await
    );
    assert_eq!((o.jobs.queued, o.jobs.running), (3, 2));

    // Every hour of the chart, against the job table.
    assert_eq!(o.per_hour.len(), 24);
    for h in &o.per_hour {
        let (succeeded, failed, cancelled): (i64, i64, i64) = sqlx::query_as(
            "select count(*) filter (where state = 'succeeded'), count(*) filter (where state = 'failed'),
                    count(*) filter (where state = 'cancelled')
             from job where tenant_id = $1 and finished_at >= $2 and finished_at < $2 + interval '1 hour'",
        )
        .bind(ours.tenant_id)
        .bind(h.hour)
        .fetch_one(db)
        .await
        .unwrap();
        assert_eq!(
            (h.succeeded, h.failed, h.cancelled),
            (succeeded, failed, cancelled),
            "{}",
            h.hour
        );
    }
    // Offsets 0..=22: 6 failed (k % 4 == 0), 6 cancelled (k % 4 == 1), 11 succeeded.
    assert_eq!(
        (
            o.jobs.succeeded_24h,
            o.jobs.failed_24h,
            o.jobs.cancelled_24h
        ),
        (11, 6, 6)
    );
    assert!(
        o.chart_svg.contains("23 in all, 6 failed"),
        "{}",
        o.chart_svg
    );

    // The lists: the newest live jobs and the newest failures, ours only.
    let active: Vec<i64> = sqlx::query_scalar(
        "select job_id from job where tenant_id = $1 and state in ('queued', 'running') order by job_id desc limit 5",
    )
    .bind(ours.tenant_id)
    .fetch_all(db)
    .await
    .unwrap();
    assert_eq!(
        o.active.iter().map(|j| j.job_id).collect::<Vec<_>>(),
        active
    );
    let failures: Vec<i64> = sqlx::query_scalar(
        "select job_id from job where tenant_id = $1 and state = 'failed'
           and finished_at > now() - interval '23 hours' order by finished_at desc limit 5",
    )
    .bind(ours.tenant_id)
    .fetch_all(db)
    .await
    .unwrap();
    assert_eq!(
        o.failures.iter().map(|j| j.job_id).collect::<Vec<_>>(),
        failures
    );
    assert_eq!(failures.len(), 5);

    // The viewer may not read the admin console's overview.
    assert_eq!(viewer.rpc("admin_overview", &[]).await.status, 403);

    // The admin console: the same across tenants.
    let admin = app.admin().await;
    let reply = admin.rpc("admin_overview", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let p: PlatformOverview = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        p.tenant_count,
        count(
            db,
            "select count(*) from tenant where $1::uuid is null",
            None
        )
        .await
    );
    assert_eq!(
        p.user_count,
        count(
            db,
            "select count(*) from app_user where $1::uuid is null",
            None
        )
        .await
    );
    assert_eq!((p.jobs.queued, p.jobs.running), (4, 6));
    assert_eq!(
        p.jobs.failed_24h + p.jobs.succeeded_24h + p.jobs.cancelled_24h,
        count(
            db,
            "select count(*) from job where tenant_id is not null and ($1::uuid is null)
               and state in ('succeeded', 'failed', 'cancelled')
               and finished_at >= date_trunc('hour', now(), 'UTC') - interval '23 hours'",
            None
        )
        .await
    );
    // Theirs: offsets 0..=6 give 2 failed (0, 4), 2 cancelled (1, 5), 3 succeeded.
    assert_eq!(
        (
            p.jobs.succeeded_24h,
            p.jobs.failed_24h,
            p.jobs.cancelled_24h
        ),
        (11 + 3, 6 + 2, 6 + 2)
    );
    for tenant in [&ours, &theirs] {
        let row = p
            .tenants
            .iter()
            .find(|r| r.tenant_id == tenant.tenant_id)
            .unwrap();
        let t = Some(tenant.tenant_id);
        assert_eq!(
            row.member_count,
            count(
                db,
                "select count(*) from membership where tenant_id = $1",
                t
            )
            .await
        );
        assert_eq!(
            row.queued,
            count(
                db,
                "select count(*) from job where tenant_id = $1 and state = 'queued'",
                t
            )
            .await
        );
        assert_eq!(
            row.running,
            count(
                db,
                "select count(*) from job where tenant_id = $1 and state = 'running'",
                t
            )
            .await
        );
        assert_eq!(
            row.failed_24h,
            count(db, "select count(*) from job where tenant_id = $1 and state = 'failed' and finished_at > now() - interval '23 hours'", t).await
        );
    }
}

/// Resources made through the write paths (no worker runs, so they stay as written): the
/// overview's quota usage, resources by state, cost and instance series equal what the
/// database holds and what the plans priced.
#[tokio::test]
async fn the_overview_counts_and_prices_the_tenants_resources() {
    use app::backend::cloud::accounts as cloud_accounts;
    use app::backend::resources::{databases, groups, zones, WriteOptions};
    use app::model::groups::{GroupTemplate, NewGroup};
    use app::model::resources::{NewDatabase, NewZone};
    let app = TestApp::spawn().await;
    let ours = app.tenant_with_roles("priced").await;
    let member = app.actor(ours.user(Role::Member)).await;
    let owner = app.actor(ours.user(Role::Owner)).await;
    let account = cloud_accounts::create(
        &app.db,
        &crate::support::keyring(),
        &Default::default(),
        &owner,
        ours.tenant_id,
        cloud_accounts::NewCloudAccount {
            name: "priced".into(),
            region: "us-east-1".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "not-a-real-key".into(),
            endpoint_url: None,
            emulated: false,
        },
    )
    .await
    .unwrap();
    let mut zone_ids = Vec::new();
    for az in ["us-east-1a", "us-east-1b"] {
        let zone = NewZone {
            name: format!("z-{}", &az[9..]),
            cloud_account_id: account.cloud_account_id,
            availability_zone: az.into(),
            network_cidr: None,
        };
        let made = zones::create(
            &app.db,
            &member,
            ours.tenant_id,
            zone,
            WriteOptions::default(),
        )
        .await
        .unwrap();
        zone_ids.push(made.zone.unwrap().zone_id);
    }
    // Groups need ready zones; no worker runs here.
    sqlx::query("update resource set status = 'ready' where resource_id = any($1)")
        .bind(&zone_ids)
        .execute(&app.db)
        .await
        .unwrap();
    let group = NewGroup {
        name: "web".into(),
        zone_ids: zone_ids.clone(),
        template: GroupTemplate {
            instance_type: "m5.large".into(),
            image_id: "ami-12c6146b".into(),
            user_data: None,
            tags: Default::default(),
        },
        min: 0,
        max: 10,
        desired: Some(3),
        policy: Default::default(),
    };
    let group = groups::create(
        &app.db,
        &member,
        ours.tenant_id,
        group,
        WriteOptions::default(),
    )
    .await
    .unwrap();
    let database = NewDatabase {
        name: "orders".into(),
        engine: "postgres".into(),
        engine_version: None,
        instance_class: "db.t3.micro".into(),
        storage_gb: 20,
        max_storage_gb: None,
        zone_id: zone_ids[0],
        standby_zone_id: Some(zone_ids[1]),
        backup_retention_days: None,
        backup_window: None,
        maintenance_window: None,
        deletion_protection: None,
        allowed_groups: Vec::new(),
    };
    let database = databases::create(
        &app.db,
        &crate::support::keyring(),
        &member,
        ours.tenant_id,
        database,
        WriteOptions::default(),
    )
    .await
    .unwrap();
    // The reconciler's samples, as it would write them: 2 and 1 running this hour, 1 and 0
    // three hours ago.
    let group_id = group.group.as_ref().unwrap().group_id;
    sqlx::query(
        "insert into instance_sample (resource_id, tenant_id, availability_zone, hour, running)
         select $1, $2, z, date_trunc('hour', now(), 'UTC') - make_interval(hours => h), n
         from (values ('us-east-1a', 0, 2), ('us-east-1b', 0, 1), ('us-east-1a', 3, 1), ('us-east-1b', 3, 0)) v(z, h, n)",
    )
    .bind(group_id)
    .bind(ours.tenant_id)
    .execute(&app.db)
    .await
    .unwrap();

    let viewer = app.client();
    viewer.sign_in("viewer@priced.test", PASSWORD).await;
    let reply = viewer.rpc("get_tenant_overview", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let o: TenantOverview = serde_json::from_str::<Option<TenantOverview>>(&reply.body)
        .unwrap()
        .unwrap();

    let used: Vec<(String, i64)> = o.usage.iter().map(|u| (u.label.clone(), u.used)).collect();
    let (instances, vcpus): (i64, i64) = sqlx::query_as(
        "select sum(reserved_instances)::bigint, sum(reserved_vcpus)::bigint from instance_group",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((instances, vcpus), (3, 6), "m5.large has 2 vCPUs");
    assert_eq!(
        used,
        [
            ("Zones", 2),
            ("Instances", 3),
            ("vCPUs", 6),
            ("Databases", 1)
        ]
        .map(|(l, n)| (l.to_string(), n))
    );
    let by_kind = |kind: ResourceKind| -> i64 {
        o.resources
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| r.count)
            .sum()
    };
    assert_eq!(
        (
            by_kind(ResourceKind::Zone),
            by_kind(ResourceKind::InstanceGroup),
            by_kind(ResourceKind::Database)
        ),
        (2, 1, 1)
    );
    let states: Vec<(ResourceKind, ResourceStatus, i64)> = sqlx::query_as(
        "select kind, status, count(*) from resource where tenant_id = $1 and status <> 'deleted'
         group by kind, status order by kind, status",
    )
    .bind(ours.tenant_id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        o.resources
            .iter()
            .map(|r| (r.kind, r.status, r.count))
            .collect::<Vec<_>>(),
        states
    );
    // The cost is what the two creates' plans said they add.
    let planned = group.plan.cost.monthly_after_cents + database.plan.cost.monthly_after_cents;
    assert!(planned > 0);
    assert_eq!(o.cost.cents, planned);
    assert_eq!(o.cost.unpriced, 0);

    assert_eq!(o.instances.len(), 2);
    assert_eq!(o.instances[0].availability_zone, "us-east-1a");
    assert_eq!(o.instances[0].running[23], 2);
    assert_eq!(o.instances[0].running[20], 1);
    assert_eq!(o.instances[1].running[23], 1);
    assert_eq!(o.instances[1].running.iter().sum::<i64>(), 1);
    assert!(
        o.instances_svg.contains("3 now in 2 zones"),
        "{}",
        o.instances_svg
    );
}
