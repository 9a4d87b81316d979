use super::PageHeader;
use crate::api::{admin_list_users, AdminSetUserDisabled};
use crate::components::form::{form_error, FormError};
use crate::components::layout::use_session;
use crate::components::page::{page_body, ConfirmButton};
use crate::components::status::date;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let toggle = ServerAction::<AdminSetUserDisabled>::new();
    let users = Resource::new(move || toggle.version().get(), |_| admin_list_users());
    let me = use_session().get_untracked().map(|s| s.user_id);
    view! {
        <Title text="Users"/>
        <PageHeader title="Users".to_string() subtitle="Everyone with a Stratus account. Disabling ends their sessions at once."/>
        <FormError error=form_error(toggle.value())/>
        {page_body(users, move |list| view! {
                        <section class="panel">
                            <table class="table">
                                <thead><tr>
                                    <th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col" class="num">"Tenants"</th>
                                    <th scope="col">"Created"</th><th scope="col">"Status"</th><th scope="col"><span class="sr-only">"Actions"</span></th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u| view! {
                                        <tr>
                                            <td>{u.display_name.clone()} {u.platform_admin.then(|| view! { " " <span class="badge badge-admin">"Platform admin"</span> })}</td>
                                            <td>{u.email.clone()}</td>
                                            <td class="num">{u.tenant_count}</td>
                                            <td>{date(u.created_at)}</td>
                                            <td>{if u.disabled { view! { <span class="badge badge-warn">"Disabled"</span> }.into_any() } else { view! { <span class="badge badge-ok">"Active"</span> }.into_any() }}</td>
                                            <td class="actions">
                                                {(Some(u.user_id) != me).then(|| view! {
                                                    <ActionForm action=toggle>
                                                        <input type="hidden" name="user_id" value=u.user_id.to_string()/>
                                                        <input type="hidden" name="disabled" value=(!u.disabled).to_string()/>
                                                        {if u.disabled {
                                                            view! { <button type="submit" class="button small secondary" aria-label=format!("Enable {}", u.email)>"Enable"</button> }.into_any()
                                                        } else {
                                                            view! { <ConfirmButton text="Disable" label=format!("Disable {}", u.email) class="button small danger"
                                                                confirm=format!("Disable {}? Their sessions end at once.", u.email)/> }.into_any()
                                                        }}
                                                    </ActionForm>
                                                })}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    }.into_any())}
    }
    .into_any()
}
