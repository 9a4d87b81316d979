use super::{InvitationLink, PageHeader};
use crate::api::{admin_list_tenants, AdminCreateTenant};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::components::page::{page_body, EmptyState};
use crate::components::status::{date, StatusBadge};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminTenantsPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateTenant>::new();
    let value = create.value();
    let tenants = Resource::new(move || create.version().get(), |_| admin_list_tenants());
    view! {
        <Title text="Tenants"/>
        <PageHeader title="Tenants".to_string() subtitle="Admin console: every organisation on this Stratus."/>
        <section class="panel">
            <h2>"Create a tenant"</h2>
            <ActionForm action=create attr:class="form grid-3" attr:aria-label="Create a tenant">
                <FormError error=form_error(value)/>
                <Field label="Slug" name="slug" form="tenant" hint="Lowercase letters, digits, hyphens; used in URLs and tags." error=field_error(value, "slug")/>
                <Field label="Display name" name="display_name" form="tenant" error=field_error(value, "display_name")/>
                <Field label="First owner's email" name="owner_email" kind="email" form="tenant" error=field_error(value, "owner_email")/>
                <div class="form-actions">
                    <button type="submit" class="button" disabled=move || create.pending().get()>"Create tenant and invite owner"</button>
                </div>
            </ActionForm>
            {move || value.get().and_then(|r| r.ok()).map(|created| view! {
                <p class="muted">"Created " <a href=format!("/admin/tenants/{}", created.tenant.tenant_id)>{created.tenant.display_name.clone()}</a> "."</p>
                <InvitationLink invitation=created.invitation/>
            })}
        </section>
        {page_body(tenants, move |list| if list.is_empty() {
            view! { <EmptyState title="No tenants yet" message="Create the first one above: its owner gets an invitation link."/> }.into_any()
        } else {
            view! {
                        <section class="panel">
                            <table class="table">
                                <thead><tr>
                                    <th scope="col">"Tenant"</th><th scope="col">"Slug"</th><th scope="col">"Status"</th>
                                    <th scope="col" class="num">"Members"</th><th scope="col">"Created"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|t| view! {
                                        <tr>
                                            <td><a href=format!("/admin/tenants/{}", t.tenant_id)>{t.display_name.clone()}</a></td>
                                            <td><code>{t.slug.clone()}</code></td>
                                            <td><StatusBadge status=t.status/></td>
                                            <td class="num">{t.member_count}</td>
                                            <td>{date(t.created_at)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
            }.into_any()
        })}
    }
    .into_any()
}
