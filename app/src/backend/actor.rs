//! The authenticated user behind a request.

use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub platform_admin: bool,
    /// The tenant the person last chose in the switcher (validated when used).
    pub current_tenant: Option<Uuid>,
    /// When the person last confirmed their password (unix seconds), for sensitive actions.
    pub reauthenticated_at: Option<i64>,
}

/// What the HTTP layer resolved for this request: set on every page and server-function request.
#[derive(Debug, Clone)]
pub struct RequestActor(pub Option<Actor>);
