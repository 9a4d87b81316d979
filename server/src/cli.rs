//! The subcommands of `stratus`.

use crate::config::Settings;
use crate::startup::{self, Application};
use app::backend::identity;

pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    // The first admin exists before startup registers the sandbox, which it owns.
    let db = startup::prepare_database(&settings).await?;
    let password = first_admin(&db, &settings.admin_email).await?;
    db.close().await;
    let admin_email = settings.admin_email.clone();
    let app = Application::build(settings).await?;
    let url = format!("http://{}", app.addr());
    print_sign_in(&admin_email, password.as_deref(), &url);
    tracing::info!(%url, "Stratus is listening");
    app.run_until_stopped().await
}

pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    startup::prepare_database(settings).await?;
    println!("migrations applied");
    Ok(())
}

pub async fn create_admin(settings: &Settings, email: &str) -> anyhow::Result<()> {
    let db = startup::prepare_database(settings).await?;
    let password = first_admin(&db, email).await?;
    print_sign_in(email, password.as_deref(), "the portal");
    Ok(())
}

/// Creates the first admin when there is none; returns its generated password.
async fn first_admin(db: &sqlx::PgPool, email: &str) -> anyhow::Result<Option<String>> {
    identity::ensure_first_admin(db, email)
        .await
        .map_err(|e| anyhow::anyhow!("creating the first admin: {e}"))
}

/// How to sign in; the first admin's password is printed this once and stored nowhere.
fn print_sign_in(email: &str, password: Option<&str>, url: &str) {
    match password {
        Some(password) => println!(
            "\n  First platform admin created. This password is shown only once:\n\n    email:    {email}\n    password: {password}\n\n  Sign in at {url}\n"
        ),
        None => println!(
            "\n  Stratus is at {url}. Sign in as {email} with the password printed when it was created\n  (lost it? `stratus reset-password {email}` prints a new one).\n"
        ),
    }
}

pub async fn reset_password(settings: &Settings, email: &str) -> anyhow::Result<()> {
    let db = startup::connect(settings)?;
    let password = identity::reset_password(&db, email)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reset the password of {email}: {e}"))?;
    println!("New password for {email} (shown once): {password}");
    Ok(())
}

pub async fn create_api_key(
    settings: &Settings,
    email: &str,
    tenant: &str,
    role: &str,
    days: i64,
    name: &str,
) -> anyhow::Result<()> {
    let role: app::model::Role = role
        .parse()
        .map_err(|_| anyhow::anyhow!("--role must be viewer, member, admin or owner"))?;
    let db = startup::connect(settings)?;
    let row: Option<(uuid::Uuid, String, bool, uuid::Uuid)> = sqlx::query_as(
        "select u.user_id, u.display_name, u.platform_admin, t.tenant_id
         from app_user u join membership m using (user_id) join tenant t using (tenant_id)
         where u.email = $1 and t.slug = $2",
    )
    .bind(identity::normalize_email(email))
    .bind(tenant)
    .fetch_optional(&db)
    .await?;
    let (user_id, display_name, platform_admin, tenant_id) =
        row.ok_or_else(|| anyhow::anyhow!("{email} is not a member of a tenant {tenant:?}"))?;
    let actor = app::backend::identity::actor::Actor {
        user_id,
        email: email.to_string(),
        display_name,
        platform_admin,
        current_tenant: Some(tenant_id),
        reauthenticated_at: Some(time::OffsetDateTime::now_utc().unix_timestamp()),
        via: app::backend::identity::actor::Via::Session,
    };
    let created =
        app::backend::identity::api_keys::create(&db, &actor, tenant_id, name, role, days)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the key: {e}"))?;
    eprintln!(
        "API key {} for {email} in {tenant} ({}), expires {} (shown once):",
        created.key.prefix,
        role.as_str(),
        created.key.expires_at.date()
    );
    println!("{}", created.secret);
    Ok(())
}

pub async fn reset_mfa(settings: &Settings, email: &str) -> anyhow::Result<()> {
    let db = startup::connect(settings)?;
    app::backend::identity::mfa::reset(&db, email)
        .await
        .map_err(|e| anyhow::anyhow!("cannot reset two-factor authentication of {email}: {e}"))?;
    println!("Two-factor authentication is off for {email}; their sessions have ended.");
    Ok(())
}

/// `stratus worker`: runs jobs only (scale-out), until SIGTERM/SIGINT, or until the queue is
/// drained with `--once`.
pub async fn worker(settings: Settings, concurrency: usize, once: bool) -> anyhow::Result<()> {
    let keyring = std::sync::Arc::new(crate::keys::load(&settings)?);
    let db = startup::serving_pool(&settings, &keyring, "stratus-worker").await?;
    crate::metrics::install();
    let mut config = settings.worker(concurrency);
    config.once = once;
    let endpoints = startup::endpoint_policy(&settings)?;
    let worker = app::backend::jobs::worker::Worker::start(
        db.clone(),
        startup::registry(&keyring, &settings, &endpoints),
        config,
    );
    if !once {
        startup::start_resync(&db, &settings, worker.stop_token());
    }
    if once {
        worker.wait().await;
    } else {
        let stop = worker.stop_token();
        tokio::select! {
            _ = startup::shutdown_signal() => stop.cancel(),
            _ = stop.cancelled() => {}
        }
        worker.shutdown().await;
    }
    Ok(())
}

/// `stratus keys rotate`: re-wraps every data key under the active key-encryption key.
pub async fn rotate_keys(settings: &Settings) -> anyhow::Result<()> {
    let keyring = crate::keys::load(settings)?;
    let db = startup::prepare_database(settings).await?;
    let report = app::backend::secrets::rotate(&db, &keyring)
        .await
        .map_err(|e| anyhow::anyhow!("rotation failed: {e}"))?;
    println!(
        "active key {}: re-wrapped {} secrets ({} were already under it) and {} TOTP seeds",
        keyring.active().id,
        report.rewrapped,
        report.already_current,
        report.seeds_rewrapped
    );
    for (secret_id, error) in &report.failed {
        println!("  could not re-wrap secret or seed {secret_id}: {error}");
    }
    anyhow::ensure!(
        report.failed.is_empty(),
        "{} secrets could not be re-wrapped",
        report.failed.len()
    );
    println!(
        "Every secret is now under {}; older keys can be removed from the configuration.",
        keyring.active().id
    );
    Ok(())
}

/// `stratus audit verify`: walks the audit log's hash chain; fails naming the first broken link.
pub async fn verify_audit(settings: &Settings) -> anyhow::Result<()> {
    // As the owner: the chain head is not readable by the runtime role.
    let db = startup::connect_owner(settings)?;
    match app::backend::audit::verify_chain(&db).await? {
        app::backend::audit::ChainCheck::Intact { events } => {
            println!("audit log intact: {events} events, every link verified");
            Ok(())
        }
        app::backend::audit::ChainCheck::Broken {
            chain_seq,
            audit_id,
            reason,
        } => {
            let which = match audit_id {
                Some(id) => format!("audit event {id} (chain position {chain_seq})"),
                None => format!("chain position {chain_seq}"),
            };
            println!("audit log BROKEN at {which}: {reason}");
            anyhow::bail!("the audit log's hash chain is broken at {which}")
        }
    }
}
