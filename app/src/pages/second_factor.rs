use super::AuthCard;
use crate::api::VerifySecondFactor;
use crate::components::form::{field_error, form_error, Field, FormError};
use leptos::prelude::*;
use leptos_meta::Title;

/// Sign-in's second step (`/login/mfa`): the password was right, a code is due.
#[component]
pub fn SecondFactorPage() -> impl IntoView {
    let verify = ServerAction::<VerifySecondFactor>::new();
    let value = verify.value();
    view! {
        <Title text="Two-factor authentication"/>
        <AuthCard>
            <h1>"Two-factor authentication"</h1>
            <p class="subtitle">"Enter the 6-digit code from your authenticator app."</p>
            <ActionForm action=verify attr:class="form" attr:aria-label="Two-factor authentication">
                <FormError error=form_error(value)/>
                <Field label="Authentication code" name="code" form="mfa" autocomplete="one-time-code"
                    hint="Lost your device? Enter one of your recovery codes instead."
                    error=field_error(value, "code")/>
                <button type="submit" class="button full" disabled=move || verify.pending().get()>
                    {move || if verify.pending().get() { "Verifying…" } else { "Verify" }}
                </button>
            </ActionForm>
            <p class="small"><a href="/login">"Start again with your password"</a></p>
        </AuthCard>
    }
    .into_any()
}
