mod account;
mod admin_audit;
mod admin_overview;
mod admin_queue;
mod admin_tenant;
mod admin_tenants;
mod admin_users;
mod api_keys;
mod audit;
mod cloud_accounts;
mod dashboard;
mod databases;
mod groups;
mod invitation;
mod jobs;
mod members;
mod mfa_enrolment;
mod not_found;
mod second_factor;
mod secrets;
mod sign_in;
mod zones;

pub use account::AccountPage;
pub use admin_audit::AdminAuditPage;
pub use admin_overview::AdminOverviewPage;
pub use admin_queue::AdminQueuePage;
pub use admin_tenant::AdminTenantPage;
pub use admin_tenants::AdminTenantsPage;
pub use admin_users::AdminUsersPage;
pub use api_keys::ApiKeysPage;
pub use audit::AuditPage;
pub use cloud_accounts::CloudAccountsPage;
pub use dashboard::DashboardPage;
pub use databases::{DatabaseCreatePage, DatabasePage, DatabasesPage};
pub use groups::{InstanceGroupCreatePage, InstanceGroupPage, InstanceGroupsPage};
pub use invitation::InvitationPage;
pub use jobs::{JobPage, JobsPage};
pub use members::MembersPage;
pub use mfa_enrolment::MfaEnrolmentPage;
pub use not_found::NotFoundPage;
pub use second_factor::SecondFactorPage;
pub use secrets::SecretsPage;
pub use sign_in::SignInPage;
pub use zones::{ZoneCreatePage, ZonePage, ZonesPage};

use leptos::prelude::*;

/// A page's heading block.
#[component]
fn PageHeader(
    title: String,
    #[prop(optional, into)] subtitle: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="page-header">
            <div>
                <h1>{title}</h1>
                {subtitle.map(|s| view! { <p class="subtitle">{s}</p> })}
            </div>
            {children.map(|c| c())}
        </div>
    }
    .into_any()
}

/// Centered card used by the signed-out pages.
#[component]
fn AuthCard(children: Children) -> impl IntoView {
    view! {
        <main id="main" class="auth">
            <div class="auth-brand">
                <span class="logo" aria-hidden="true">"◆"</span>
                "Stratus"
            </div>
            <section class="card auth-card">{children()}</section>
        </main>
    }
    .into_any()
}

/// Shows a freshly created invitation link once, ready to copy.
#[component]
fn InvitationLink(invitation: crate::model::CreatedInvitation) -> impl IntoView {
    let origin = {
        #[cfg(feature = "hydrate")]
        {
            window().location().origin().unwrap_or_default()
        }
        #[cfg(not(feature = "hydrate"))]
        {
            String::new()
        }
    };
    let link = format!("{origin}{}", invitation.link_path);
    view! {
        <div class="alert alert-ok invitation-link" role="status">
            <p>
                "Invitation for " <strong>{invitation.email.clone()}</strong> " as " {invitation.role.label()}
                ". Copy this single-use link and send it to them; it expires "
                {crate::components::status::date_time(invitation.expires_at)} "."
            </p>
            <label class="sr-only" for="invitation-url">"Invitation link"</label>
            <input id="invitation-url" class="copy-field" readonly value=link onfocus="this.select()"/>
        </div>
    }
    .into_any()
}
