use super::AuthCard;
use crate::api::{preview_invitation, AcceptInvitation};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::components::status::ErrorPanel;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn InvitationPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let preview = Resource::new(token, preview_invitation);
    let accept = ServerAction::<AcceptInvitation>::new();
    let value = accept.value();
    view! {
        <Title text="Accept invitation"/>
        <AuthCard>
            <Suspense fallback=|| view! { <p>"Loading invitation…"</p> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        Err(error) => view! { <h1>"Invitation unavailable"</h1> <ErrorPanel error/> }.into_any(),
                        Ok(p) => view! {
                            <h1>"Join " {p.tenant_name.clone()}</h1>
                            <p class="subtitle">
                                "You are invited as " <strong>{p.role.label()}</strong> " with " <strong>{p.email.clone()}</strong> "."
                            </p>
                            <ActionForm action=accept attr:class="form" attr:aria-label="Accept invitation">
                                <input type="hidden" name="token" value=token()/>
                                <FormError error=form_error(value)/>
                                {if p.existing_user {
                                    view! {
                                        <input type="hidden" name="display_name" value=""/>
                                        <p>"You already have a Stratus account. Confirm with its password to join."</p>
                                        <Field label="Password" name="password" kind="password" form="accept" autocomplete="current-password" error=field_error(value, "password")/>
                                    }.into_any()
                                } else {
                                    view! {
                                        <Field label="Your name" name="display_name" form="accept" autocomplete="name" error=field_error(value, "display_name")/>
                                        <Field label="Choose a password" name="password" kind="password" form="accept" autocomplete="new-password"
                                            hint="At least 12 characters. A few unrelated words make a strong, memorable password."
                                            error=field_error(value, "password")/>
                                    }.into_any()
                                }}
                                <button type="submit" class="button full" disabled=move || accept.pending().get()>"Accept and sign in"</button>
                            </ActionForm>
                        }.into_any(),
                    }
                })}
            </Suspense>
        </AuthCard>
    }
}
