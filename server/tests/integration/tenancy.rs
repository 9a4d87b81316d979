//! Tenants, invitations and memberships through the HTTP surface the UI uses.

use crate::support::{Client, TestApp, PASSWORD};

async fn accept(app: &TestApp, link: &str, name: &str) -> Client {
    let client = app.client();
    let token = link.trim_start_matches("/invite/");
    let r = client
        .rpc(
            "accept_invitation",
            &[
                ("token", token),
                ("display_name", name),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(r.status < 400, "accept failed: {} {}", r.status, r.body);
    client
}

fn link(reply: &crate::support::Reply, pointer: &str) -> String {
    reply
        .json()
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("no {pointer} in {}", reply.body))
        .to_string()
}

#[tokio::test]
async fn admin_creates_tenant_owner_invites_viewer_who_cannot_invite() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let created = admin
        .create_tenant("acme", "Acme Corp", "Ann@Acme.test")
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let owner = accept(&app, &link(&created, "/invitation/link_path"), "Ann").await;

    let overview = owner.rpc("get_overview", &[]).await.json();
    assert_eq!(overview["display_name"], "Acme Corp");
    assert_eq!(overview["role"], "owner");

    let invited = owner
        .rpc(
            "invite_member",
            &[("email", "vic@acme.test"), ("role", "viewer")],
        )
        .await;
    assert_eq!(invited.status, 200, "{}", invited.body);
    let viewer = accept(&app, &link(&invited, "/link_path"), "Vic").await;

    let members = viewer.rpc("get_members", &[]).await;
    assert_eq!(members.status, 200);
    assert_eq!(members.json()["members"].as_array().unwrap().len(), 2);
    assert!(
        members.json()["invitations"].is_null(),
        "viewers do not see invitations"
    );

    let forged = viewer
        .rpc(
            "invite_member",
            &[("email", "mallory@acme.test"), ("role", "admin")],
        )
        .await;
    assert_eq!(forged.status, 403);
    let pending: i64 =
        sqlx::query_scalar("select count(*) from invitation where email = 'mallory@acme.test'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(pending, 0);

    let page = viewer.get("/members").await;
    assert_eq!(page.status, 200);
    assert!(
        !page.body.contains("Create invitation"),
        "no invite form for viewers"
    );
    let owner_page = owner.get("/members").await;
    assert!(owner_page.body.contains("Create invitation"));
}

#[tokio::test]
async fn bad_tenant_input_is_explained_per_field_and_conflicts_are_clear() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let bad = admin.create_tenant("-X", "", "nope").await;
    assert_eq!(bad.status, 422);
    let fields: Vec<String> = bad.json()["Invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(fields, ["slug", "display_name", "owner_email"]);
    let count: i64 = sqlx::query_scalar("select count(*) from tenant")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing is created when input is bad");

    let ok = admin.create_tenant("acme", "Acme", "a@acme.test").await;
    assert_eq!(ok.status, 200);
    let dup = admin.create_tenant("acme", "Acme 2", "b@acme.test").await;
    assert_eq!(dup.status, 409);
    assert!(dup.body.contains("already taken"), "{}", dup.body);
}

/// The tenant and its owner's invitation commit together: when the invitation cannot be
/// written (here a trigger in this test's database refuses it), no tenant is left behind.
#[tokio::test]
async fn a_tenant_is_not_created_without_its_owner_invitation() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    sqlx::raw_sql(
        "create function refuse_invitation() returns trigger language plpgsql as
             $$ begin raise exception 'invitations are refused in this test'; end $$;
         create trigger refuse_invitation before insert on invitation
             for each row execute function refuse_invitation();",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let failed = admin.create_tenant("acme", "Acme", "ann@acme.test").await;
    assert_eq!(failed.status, 500, "{}", failed.body);
    let tenants: i64 = sqlx::query_scalar("select count(*) from tenant")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(tenants, 0, "the tenant was rolled back with its invitation");

    sqlx::raw_sql("drop trigger refuse_invitation on invitation")
        .execute(&app.db)
        .await
        .unwrap();
    let created = admin.create_tenant("acme", "Acme", "ann@acme.test").await;
    assert_eq!(
        created.status, 200,
        "the slug is free again: {}",
        created.body
    );
}

#[tokio::test]
async fn the_last_owner_stays() {
    let app = TestApp::spawn().await;
    let fixture = app.tenant_with_roles("acme").await;
    let owner = app.client();
    owner.sign_in("owner@acme.test", PASSWORD).await;
    let me = fixture.user(app::model::Role::Owner).to_string();
    let demote = owner
        .rpc("change_member_role", &[("user_id", &me), ("role", "admin")])
        .await;
    assert_eq!(demote.status, 409, "{}", demote.body);
    let remove = owner.rpc("remove_member", &[("user_id", &me)]).await;
    assert_eq!(remove.status, 409);

    // With a second owner, the first may step down.
    let admin_id = fixture.user(app::model::Role::Admin).to_string();
    assert_eq!(
        owner
            .rpc(
                "change_member_role",
                &[("user_id", &admin_id), ("role", "owner")]
            )
            .await
            .status,
        200
    );
    assert_eq!(
        owner
            .rpc("change_member_role", &[("user_id", &me), ("role", "admin")])
            .await
            .status,
        200
    );

    // An admin cannot touch owners.
    let admin = app.client();
    admin.sign_in("member@acme.test", PASSWORD).await;
    assert_eq!(
        admin
            .rpc("remove_member", &[("user_id", &admin_id)])
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn suspension_allows_reading_and_refuses_changes() {
    let app = TestApp::spawn().await;
    let fixture = app.tenant_with_roles("acme").await;
    let owner = app.client();
    owner.sign_in("owner@acme.test", PASSWORD).await;
    let admin = app.admin().await;
    let id = fixture.tenant_id.to_string();
    assert_eq!(
        admin
            .rpc(
                "admin_set_suspended",
                &[("tenant_id", &id), ("suspended", "true")]
            )
            .await
            .status,
        200
    );

    assert_eq!(owner.rpc("get_members", &[]).await.status, 200);
    let refused = owner
        .rpc(
            "invite_member",
            &[("email", "new@acme.test"), ("role", "member")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.json()["Suspended"], serde_json::Value::Null);
    assert!(refused.body.contains("Suspended"), "{}", refused.body);
    let page = owner.get("/").await;
    assert!(page.body.contains("This tenant is suspended"));

    assert_eq!(
        admin
            .rpc(
                "admin_set_suspended",
                &[("tenant_id", &id), ("suspended", "false")]
            )
            .await
            .status,
        200
    );
    assert_eq!(
        owner
            .rpc(
                "invite_member",
                &[("email", "new@acme.test"), ("role", "member")]
            )
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn quotas_are_validated_and_stored() {
    let app = TestApp::spawn().await;
    let fixture = app.tenant_with_roles("acme").await;
    let admin = app.admin().await;
    let id = fixture.tenant_id.to_string();
    let bad = admin
        .rpc(
            "admin_update_quotas",
            &[
                ("tenant_id", &id),
                ("max_zones", "-1"),
                ("max_instances", "10"),
                ("max_vcpus", "20"),
                ("max_databases", "1"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains("max_zones"));
    let ok = admin
        .rpc(
            "admin_update_quotas",
            &[
                ("tenant_id", &id),
                ("max_zones", "2"),
                ("max_instances", "10"),
                ("max_vcpus", "20"),
                ("max_databases", "1"),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let tenant = admin
        .rpc("admin_get_tenant", &[("tenant_id", &id)])
        .await
        .json();
    assert_eq!(tenant["quotas"]["max_zones"], 2);
    assert_eq!(tenant["quotas"]["max_vcpus"], 20);
}

#[tokio::test]
async fn a_user_in_two_tenants_switches_between_them_but_not_into_others() {
    let app = TestApp::spawn().await;
    let a = app.tenant_with_roles("alpha").await;
    let b = app.tenant_with_roles("beta").await;
    let c = app.tenant_with_roles("gamma").await;
    let b_owner = app.client();
    b_owner.sign_in("owner@beta.test", PASSWORD).await;
    let invite = b_owner
        .rpc(
            "invite_member",
            &[("email", "owner@alpha.test"), ("role", "member")],
        )
        .await;
    // The invitee already has an account: they sign in, then accept without a password.
    let token = link(&invite, "/link_path");
    let token = token.trim_start_matches("/invite/");
    let user = app.client();
    user.sign_in("owner@alpha.test", PASSWORD).await;
    let preview = user
        .rpc("preview_invitation", &[("token", token)])
        .await
        .json();
    assert_eq!(preview["signed_in_as"], "owner@alpha.test");
    assert!(preview.get("existing_user").is_none());
    let joined = user.rpc("join_invitation", &[("token", token)]).await;
    assert!(joined.status < 400, "{} {}", joined.status, joined.body);

    let info = user.rpc("get_session_info", &[]).await.json();
    assert_eq!(info["tenants"].as_array().unwrap().len(), 2);
    assert_eq!(
        info["current"]["tenant_id"],
        b.tenant_id.to_string(),
        "accepting lands in the tenant"
    );
    assert_eq!(
        user.rpc("switch_tenant", &[("tenant_id", &a.tenant_id.to_string())])
            .await
            .status,
        200
    );
    assert_eq!(user.rpc("get_overview", &[]).await.json()["slug"], "alpha");
    let foreign = user
        .rpc("switch_tenant", &[("tenant_id", &c.tenant_id.to_string())])
        .await;
    assert_eq!(foreign.status, 404);
    assert_eq!(user.rpc("get_overview", &[]).await.json()["slug"], "alpha");
}

#[tokio::test]
async fn tenant_jobs_pages_show_own_jobs_and_refuse_foreign_ones() {
    use app::backend::jobs::{enqueue, NewJob};
    let app = TestApp::spawn().await;
    let own = app.tenant_with_roles("acme").await;
    let other = app.tenant_with_roles("globex").await;
    let mut conn = app.db.acquire().await.unwrap();
    let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mine = enqueue(
        &mut conn,
        NewJob::new("zone.create")
            .tenant(own.tenant_id)
            .run_at(later),
    )
    .await
    .unwrap()
    .job_id;
    let theirs = enqueue(
        &mut conn,
        NewJob::new("zone.create")
            .tenant(other.tenant_id)
            .run_at(later),
    )
    .await
    .unwrap()
    .job_id;
    drop(conn);

    let viewer = app.client();
    viewer.sign_in("viewer@acme.test", PASSWORD).await;
    let list = viewer.rpc("get_jobs", &[]).await.json();
    let ids: Vec<i64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [mine]);
    let page = viewer.get(&format!("/jobs/{mine}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("zone.create") && page.body.contains("progressbar"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("Cancel job"), "viewers cannot cancel");
    assert_eq!(
        viewer
            .rpc("cancel_job", &[("job_id", &mine.to_string())])
            .await
            .status,
        403
    );
    assert_eq!(
        viewer
            .rpc("get_job", &[("job_id", &theirs.to_string())])
            .await
            .status,
        404
    );

    let member = app.client();
    member.sign_in("member@acme.test", PASSWORD).await;
    assert!(member
        .get(&format!("/jobs/{mine}"))
        .await
        .body
        .contains("Cancel job"));
    assert_eq!(
        member
            .rpc("cancel_job", &[("job_id", &theirs.to_string())])
            .await
            .status,
        404
    );
    let cancelled = member
        .rpc("cancel_job", &[("job_id", &mine.to_string())])
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json(), "cancelled");

    let admin = app.admin().await;
    let queue = admin.get("/admin/queue").await;
    assert_eq!(queue.status, 200);
    assert!(queue.body.contains("zone.create"));
    assert_eq!(viewer.rpc("admin_queue", &[]).await.status, 403);
}
