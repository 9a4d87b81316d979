//! The append-only audit log (a trigger refuses UPDATE and DELETE). Never given a credential.

use super::actor::Actor;
use sqlx::PgConnection;
use uuid::Uuid;

pub async fn record(
    conn: &mut PgConnection,
    actor: &Actor,
    tenant_id: Option<Uuid>,
    action: &str,
    target: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into audit_event (actor_user_id, actor_email, tenant_id, action, target) values ($1, $2, $3, $4, $5)")
        .bind(actor.user_id)
        .bind(&actor.email)
        .bind(tenant_id)
        .bind(action)
        .bind(target)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records something a person did to their own account (sign-in, MFA, sessions, password),
/// for the moments when there is no `Actor` yet (sign-in) or the event is about the account.
pub async fn record_account_event(
    conn: &mut PgConnection,
    user_id: Uuid,
    email: &str,
    action: &str,
    target: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("insert into audit_event (actor_user_id, actor_email, action, target) values ($1, $2, $3, $4)")
        .bind(user_id)
        .bind(email)
        .bind(action)
        .bind(target)
        .execute(conn)
        .await?;
    Ok(())
}

/// A refused sign-in: no actor, only the email as typed (normalised) and where it came from.
pub async fn record_sign_in_failure(
    conn: &mut PgConnection,
    email: &str,
    ip: Option<std::net::IpAddr>,
) -> Result<(), sqlx::Error> {
    let from = ip.map_or_else(|| "unknown address".to_string(), |ip| ip.to_string());
    let email: String = email.chars().take(254).collect();
    sqlx::query("insert into audit_event (action, target) values ('user.sign_in_failed', $1)")
        .bind(format!("{email} from {from}"))
        .execute(conn)
        .await?;
    Ok(())
}
