//! Two database roles: the owner applies migrations; the server serves as a runtime role that
//! may read and write the application's rows but owns nothing, so it cannot drop or disable
//! the audit log's triggers, and on `audit_event` holds only INSERT and SELECT.
//!
//! Two ways to get there (see docs/security-platform.md):
//! - `STRATUS_MIGRATE_DATABASE_URL` names the owner and `STRATUS_DATABASE_URL` the runtime
//!   role, which the operator created; Stratus grants it what it needs after migrating.
//! - Only `STRATUS_DATABASE_URL`, as a role that may create roles (the embedded default: a
//!   superuser on the local PostgreSQL): Stratus creates `<database>_app`, with a password
//!   derived from the active master key, and serves as it.
//!
//! Otherwise it serves as the one role it has, and says so in the log.

use crate::config::Settings;
use anyhow::Context;
use app::backend::secrets::Keyring;
use secrecy::ExposeSecret;
use sqlx::postgres::PgConnectOptions;
use sqlx::PgPool;
use std::str::FromStr;

/// Where the owner connects: the migration URL when set, else the one URL.
pub fn owner_url(settings: &Settings) -> &str {
    settings
        .migrate_database_url
        .as_ref()
        .unwrap_or(&settings.database_url)
        .expose_secret()
}

/// `"name"` as an SQL identifier.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// How the runtime role connects, after making sure it exists and holds exactly its grants.
/// `owner` is a pool of the (migrated) schema owner.
pub async fn runtime_options(
    settings: &Settings,
    owner: &PgPool,
    keyring: &Keyring,
) -> anyhow::Result<PgConnectOptions> {
    let configured = PgConnectOptions::from_str(settings.database_url.expose_secret())
        .context("DATABASE_URL is not a valid PostgreSQL URL")?;
    if settings.migrate_database_url.is_some() {
        let role = configured.get_username().to_string();
        let owner_role: String = sqlx::query_scalar("select current_user::text")
            .fetch_one(owner)
            .await?;
        if role == owner_role {
            tracing::warn!(%role, "STRATUS_MIGRATE_DATABASE_URL and STRATUS_DATABASE_URL name the same role: the server owns the audit log");
        } else {
            grant(owner, &role).await?;
        }
        return Ok(configured);
    }
    let (may_create_roles, database): (bool, String) = sqlx::query_as(
        "select rolsuper or rolcreaterole, current_database()::text from pg_roles where rolname = current_user",
    )
    .fetch_one(owner)
    .await?;
    if !may_create_roles {
        tracing::warn!(
            "serving as the schema owner: set STRATUS_MIGRATE_DATABASE_URL (owner) and \
             STRATUS_DATABASE_URL (a role without ownership) so the server cannot rewrite the audit log"
        );
        return Ok(configured);
    }
    let role = runtime_role_name(&database);
    let password = hex::encode(keyring.derive(&format!("database role {role}")));
    ensure_role(owner, &role, &password).await?;
    grant(owner, &role).await?;
    Ok(configured.username(&role).password(&password))
}

/// `<database>_app`, within PostgreSQL's 63-byte identifiers.
pub fn runtime_role_name(database: &str) -> String {
    let mut base: String = database.to_string();
    while base.len() > 59 {
        base.pop();
    }
    format!("{base}_app")
}

/// Creates the role, or sets its password (the active master key may have changed). Roles are
/// shared by every database of the cluster; this one is named after its database.
async fn ensure_role(owner: &PgPool, role: &str, password: &str) -> anyhow::Result<()> {
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_roles where rolname = $1)")
            .bind(role)
            .fetch_one(owner)
            .await?;
    // DDL takes no bind parameters; the password is hex, the name quoted.
    let attributes = format!(
        "login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password '{password}'"
    );
    let statement = if exists {
        format!("alter role {} with {attributes}", quote(role))
    } else {
        format!("create role {} with {attributes}", quote(role))
    };
    sqlx::raw_sql(&statement)
        .execute(owner)
        .await
        .with_context(|| format!("creating the runtime database role {role}"))?;
    Ok(())
}

/// The runtime role's privileges, granted afresh after every migration: rows of every table,
/// but on the audit log only INSERT and SELECT, nothing on the chain head (the trigger that
/// extends the chain runs as the owner), and only SELECT on the migration history.
async fn grant(owner: &PgPool, role: &str) -> anyhow::Result<()> {
    let r = quote(role);
    let statements = format!(
        "grant usage on schema public to {r};
         grant select, insert, update, delete on all tables in schema public to {r};
         grant usage, select on all sequences in schema public to {r};
         revoke update, delete, truncate, references, trigger on audit_event from {r};
         revoke all on audit_chain_head from {r};
         revoke insert, update, delete, truncate on _sqlx_migrations from {r};
         grant usage on schema tower_sessions to {r};
         grant select, insert, update, delete on all tables in schema tower_sessions to {r};"
    );
    sqlx::raw_sql(&statements)
        .execute(owner)
        .await
        .with_context(|| format!("granting the runtime database role {role} its privileges"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_fit_postgresql_identifiers() {
        assert_eq!(runtime_role_name("stratus"), "stratus_app");
        assert_eq!(runtime_role_name(&"x".repeat(80)).len(), 63);
        assert_eq!(quote("a\"b"), "\"a\"\"b\"");
    }
}
