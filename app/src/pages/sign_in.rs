use super::AuthCard;
use crate::api::SignIn;
use crate::components::form::{field_error, form_error, Field, FormError};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SignInPage() -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let value = sign_in.value();
    view! {
        <Title text="Sign in"/>
        <AuthCard>
            <h1>"Sign in"</h1>
            <p class="subtitle">"Self-service cloud capacity for your team."</p>
            <ActionForm action=sign_in attr:class="form" attr:aria-label="Sign in">
                <FormError error=form_error(value)/>
                <Field label="Email" name="email" kind="email" form="signin" autocomplete="username" error=field_error(value, "email")/>
                <Field label="Password" name="password" kind="password" form="signin" autocomplete="current-password" error=field_error(value, "password")/>
                <button type="submit" class="button full" disabled=move || sign_in.pending().get()>
                    {move || if sign_in.pending().get() { "Signing in…" } else { "Sign in" }}
                </button>
            </ActionForm>
        </AuthCard>
    }
    .into_any()
}
