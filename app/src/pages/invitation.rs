use super::AuthCard;
use crate::api::{preview_invitation, AcceptInvitation, JoinInvitation};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::components::page::Loading;
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
    let join = ServerAction::<JoinInvitation>::new();
    let join_value = join.value();
    view! {
        <Title text="Accept invitation"/>
        <AuthCard>
            <Suspense fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match preview.await {
                        Err(error) => view! { <h1>"Invitation unavailable"</h1> <ErrorPanel error/> }.into_any(),
                        Ok(p) => view! {
                            <h1>"Join " {p.tenant_name.clone()}</h1>
                            <p class="subtitle">
                                "You are invited as " <strong>{p.role.label()}</strong> " with " <strong>{p.email.clone()}</strong> "."
                            </p>
                            {match p.signed_in_as.clone() {
                                // Signed in as the invited account: the session is the proof.
                                Some(me) if me == p.email => view! {
                                    <ActionForm action=join attr:class="form" attr:aria-label="Accept invitation">
                                        <input type="hidden" name="token" value=token()/>
                                        <FormError error=form_error(join_value)/>
                                        <button type="submit" class="button full" disabled=move || join.pending().get()>"Accept invitation"</button>
                                    </ActionForm>
                                }.into_any(),
                                Some(me) => view! {
                                    <p role="alert">"You are signed in as " <strong>{me}</strong> ". This invitation is for another email address: sign out, then open the link again."</p>
                                }.into_any(),
                                // Signed out: a new account chooses its password here; an existing
                                // one signs in first (the page does not say which the email has).
                                None => view! {
                                    <ActionForm action=accept attr:class="form" attr:aria-label="Accept invitation">
                                        <input type="hidden" name="token" value=token()/>
                                        <FormError error=form_error(value)/>
                                        <Field label="Your name" name="display_name" form="accept" autocomplete="name" error=field_error(value, "display_name")/>
                                        <Field label="Choose a password" name="password" kind="password" form="accept" autocomplete="new-password"
                                            hint="At least 12 characters. A few unrelated words make a strong, memorable password."
                                            error=field_error(value, "password")/>
                                        <button type="submit" class="button full" disabled=move || accept.pending().get()>"Accept and sign in"</button>
                                    </ActionForm>
                                    <p>"Already have a Stratus account with this email? " <a href="/login">"Sign in"</a> " first, then open this link again."</p>
                                }.into_any(),
                            }}
                        }.into_any(),
                    }
                })}
            </Suspense>
        </AuthCard>
    }
    .into_any()
}
