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
