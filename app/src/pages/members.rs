use super::{InvitationLink, PageHeader};
use crate::api::{
    get_members, ChangeMemberRole, InviteMember, MembersPage as Data, RemoveMember,
    RevokeInvitation,
};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::components::page::{page_body, ConfirmButton};
use crate::components::status::{date, date_time, RoleBadge};
use crate::model::{Member, Role, TenantStatus};
use crate::rbac::{grantable_roles, may_manage_member, offers, Action};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn MembersPage() -> impl IntoView {
    let invite = ServerAction::<InviteMember>::new();
    let change = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let data = Resource::new(
        move || {
            (
                invite.version().get(),
                change.version().get(),
                remove.version().get(),
                revoke.version().get(),
            )
        },
        |_| get_members(),
    );
    view! {
        <Title text="Members"/>
        {page_body(data, move |page| view! { <Members page invite change remove revoke/> }.into_any())}
    }
    .into_any()
}

#[component]
fn Members(
    page: Data,
    invite: ServerAction<InviteMember>,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
    revoke: ServerAction<RevokeInvitation>,
) -> impl IntoView {
    let role = page.tenant.role;
    let suspended = page.tenant.status == TenantStatus::Suspended;
    let can_manage = offers(role, suspended, Action::ChangeMemberRole);
    let can_invite = offers(role, suspended, Action::InviteMember);
    let row_error = Signal::derive(move || {
        form_error(change.value())
            .get()
            .or_else(|| field_error(change.value(), "role").get())
            .or_else(|| form_error(remove.value()).get())
    });
    let members = page.members.clone();
    let me = page.me;
    view! {
        <PageHeader title="Members".to_string() subtitle=format!("People in {}", page.tenant.display_name)/>
        {suspended.then(|| view! {
            <div class="alert alert-warn" role="status">"This tenant is suspended: membership cannot change until it is resumed."</div>
        })}
        <FormError error=row_error/>
        <section class="panel">
            <table class="table">
                <thead>
                    <tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th>
                    {can_manage.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}</tr>
                </thead>
                <tbody>
                    {members.into_iter().map(|m| view! { <MemberRow m me role can_manage change remove/> }).collect_view()}
                </tbody>
            </table>
        </section>
        {can_invite.then(|| view! { <InviteForm role invite/> })}
        {page.invitations.filter(|list| !list.is_empty()).map(|list| view! {
            <section class="panel">
                <h2>"Pending invitations"</h2>
                <table class="table">
                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Expires"</th>
                    {can_manage.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}</tr></thead>
                    <tbody>
                        {list.into_iter().map(|i| view! {
                            <tr>
                                <td>{i.email.clone()}</td>
                                <td><RoleBadge role=i.role/></td>
                                <td>{date_time(i.expires_at)}</td>
                                {(can_manage && may_manage_member(role, i.role)).then(|| view! {
                                    <td class="actions">
                                        <ActionForm action=revoke>
                                            <input type="hidden" name="invitation_id" value=i.invitation_id.to_string()/>
                                            <ConfirmButton text="Revoke" label=format!("Revoke the invitation for {}", i.email)
                                                confirm=format!("Revoke the invitation for {}? The link stops working.", i.email)/>
                                        </ActionForm>
                                    </td>
                                })}
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            </section>
        })}
    }
    .into_any()
}

#[component]
fn MemberRow(
    m: Member,
    me: uuid::Uuid,
    role: Role,
    can_manage: bool,
    change: ServerAction<ChangeMemberRole>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    // Only owners may touch owners.
    let editable = can_manage && may_manage_member(role, m.role);
    let roles = grantable_roles(role);
    let select_id = format!("role-{}", m.user_id);
    // Each form's children own their copy: the buttons name the member.
    let save_label = format!("Save the role of {}", m.email);
    let (remove_label, remove_confirm) = (
        format!("Remove {}", m.email),
        format!(
            "Remove {} from this tenant? Their API keys stop working.",
            m.email
        ),
    );
    view! {
        <tr>
            <td>{m.display_name.clone()} {(m.user_id == me).then(|| view! { <span class="muted">" (you)"</span> })}</td>
            <td>{m.email.clone()}</td>
            <td><RoleBadge role=m.role/></td>
            <td>{date(m.joined_at)}</td>
            {can_manage.then(|| view! {
                <td class="actions">
                    {editable.then(|| view! {
                        <ActionForm action=change attr:class="inline-form">
                            <input type="hidden" name="user_id" value=m.user_id.to_string()/>
                            <label class="sr-only" for=select_id.clone()>{format!("Role of {}", m.email)}</label>
                            <select id=select_id.clone() name="role">
                                {roles.iter().map(|r| view! { <option value=r.as_str() selected=*r == m.role>{r.label()}</option> }).collect_view()}
                            </select>
                            <button type="submit" class="button small secondary" aria-label=save_label>"Save"</button>
                        </ActionForm>
                        <ActionForm action=remove attr:class="inline-form">
                            <input type="hidden" name="user_id" value=m.user_id.to_string()/>
                            {if m.user_id == me {
                                view! { <ConfirmButton text="Leave" label="Leave this tenant" confirm="Leave this tenant? You lose access at once."/> }
                            } else {
                                view! { <ConfirmButton text="Remove" label=remove_label confirm=remove_confirm/> }
                            }}
                        </ActionForm>
                    })}
                </td>
            })}
        </tr>
    }
    .into_any()
}

#[component]
fn InviteForm(role: Role, invite: ServerAction<InviteMember>) -> impl IntoView {
    let value = invite.value();
    let created = move || value.get().and_then(|r| r.ok());
    view! {
        <section class="panel">
            <h2>"Invite someone"</h2>
            <p class="muted">"They get a single-use link, valid for 72 hours. No email is sent: copy the link to them."</p>
            <ActionForm action=invite attr:class="form inline" attr:aria-label="Invite a member">
                <FormError error=form_error(value)/>
                <Field label="Email" name="email" kind="email" form="invite" error=field_error(value, "email")/>
                <div class="field">
                    <label for="invite-role">"Role"</label>
                    <select id="invite-role" name="role">
                        {grantable_roles(role).into_iter().map(|r| view! { <option value=r.as_str() selected=r == Role::Member>{r.label()}</option> }).collect_view()}
                    </select>
                </div>
                <button type="submit" class="button" disabled=move || invite.pending().get()>"Create invitation"</button>
            </ActionForm>
            {move || created().map(|invitation| view! { <InvitationLink invitation/> })}
        </section>
    }
    .into_any()
}
