//! The authenticated user behind a request, and the credential they used.

use crate::model::Role;
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
    pub via: Via,
}

/// How the actor proved who they are; an API key narrows what they may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A browser session: the person's own memberships and roles.
    Session,
    /// An API key (directly, or through an access token exchanged for it): one tenant, at most
    /// the key's role, never the admin console.
    ApiKey {
        key_id: Uuid,
        tenant_id: Uuid,
        role: Role,
    },
}

impl Actor {
    /// The tenant and role an API key is limited to, if the actor used one.
    pub fn key_scope(&self) -> Option<(Uuid, Role)> {
        match self.via {
            Via::Session => None,
            Via::ApiKey {
                tenant_id, role, ..
            } => Some((tenant_id, role)),
        }
    }
}

/// What the HTTP layer resolved for this request: set on every page and server-function request.
#[derive(Debug, Clone)]
pub struct RequestActor(pub Option<Actor>);
