use super::{InvitationLink, PageHeader};
use crate::api::{admin_get_tenant, AdminInviteOwner, AdminSetSuspended, AdminUpdateQuotas};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::components::page::page_body;
use crate::components::status::{date, StatusBadge};
use crate::model::{TenantAdminView, TenantStatus};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn AdminTenantPage() -> impl IntoView {
    let params = use_params_map();
    let suspend = ServerAction::<AdminSetSuspended>::new();
    let quotas = ServerAction::<AdminUpdateQuotas>::new();
    let invite = ServerAction::<AdminInviteOwner>::new();
    let tenant = Resource::new(
        move || {
            (
                params.read().get("id"),
                suspend.version().get(),
                quotas.version().get(),
            )
        },
        |(id, _, _)| async move {
            let id = id
                .and_then(|s| s.parse().ok())
                .ok_or(crate::error::AppError::NotFound)?;
            admin_get_tenant(id).await
        },
    );
    view! {
        <Title text="Tenant"/>
        {page_body(tenant, move |t| view! { <TenantDetail t suspend quotas invite/> }.into_any())}
    }
    .into_any()
}

#[component]
fn TenantDetail(
    t: TenantAdminView,
    suspend: ServerAction<AdminSetSuspended>,
    quotas: ServerAction<AdminUpdateQuotas>,
    invite: ServerAction<AdminInviteOwner>,
) -> impl IntoView {
    let id = t.tenant_id;
    let suspended = t.status == TenantStatus::Suspended;
    let q = t.quotas;
    let qv = quotas.value();
    let iv = invite.value();
    view! {
        <Title text=t.display_name.clone()/>
        <p class="breadcrumb"><a href="/admin">"Tenants"</a> " / " {t.display_name.clone()}</p>
        <PageHeader title=t.display_name.clone() subtitle=format!("{} · {} members · created {}", t.slug, t.member_count, date(t.created_at))>
            <StatusBadge status=t.status/>
        </PageHeader>
        <div class="grid two">
            <section class="panel">
                <h2>"Status"</h2>
                {if suspended {
                    view! { <p>"Suspended: members can sign in and read, and every change is refused."</p> }.into_any()
                } else {
                    view! { <p>"Active. Suspending keeps all data and lets members read, but refuses every change."</p> }.into_any()
                }}
                <FormError error=form_error(suspend.value())/>
                <ActionForm action=suspend>
                    <input type="hidden" name="tenant_id" value=id.to_string()/>
                    <input type="hidden" name="suspended" value=(!suspended).to_string()/>
                    <button type="submit" class=if suspended { "button" } else { "button danger" }>
                        {if suspended { "Resume tenant" } else { "Suspend tenant" }}
                    </button>
                </ActionForm>
            </section>
            <section class="panel">
                <h2>"Invite an owner"</h2>
                <ActionForm action=invite attr:class="form" attr:aria-label="Invite an owner">
                    <input type="hidden" name="tenant_id" value=id.to_string()/>
                    <FormError error=form_error(iv)/>
                    <Field label="Email" name="email" kind="email" form="owner" error=field_error(iv, "email")/>
                    <button type="submit" class="button secondary">"Create owner invitation"</button>
                </ActionForm>
                {move || iv.get().and_then(|r| r.ok()).map(|invitation| view! { <InvitationLink invitation/> })}
            </section>
        </div>
        <section class="panel">
            <h2>"Quotas"</h2>
            <ActionForm action=quotas attr:class="form grid-4" attr:aria-label="Quotas">
                <input type="hidden" name="tenant_id" value=id.to_string()/>
                <FormError error=form_error(qv)/>
                <Field label="Max zones" name="max_zones" kind="number" form="quota" value=q.max_zones.to_string() error=field_error(qv, "max_zones")/>
                <Field label="Max instances" name="max_instances" kind="number" form="quota" value=q.max_instances.to_string() error=field_error(qv, "max_instances")/>
                <Field label="Max vCPUs" name="max_vcpus" kind="number" form="quota" value=q.max_vcpus.to_string() error=field_error(qv, "max_vcpus")/>
                <Field label="Max databases" name="max_databases" kind="number" form="quota" value=q.max_databases.to_string() error=field_error(qv, "max_databases")/>
                <div class="form-actions">
                    <button type="submit" class="button">"Save quotas"</button>
                    {move || matches!(qv.get(), Some(Ok(()))).then(|| view! { <span class="saved" role="status">"Saved."</span> })}
                </div>
            </ActionForm>
        </section>
    }
    .into_any()
}
