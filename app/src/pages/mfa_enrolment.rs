use super::AuthCard;
use crate::api::{ConfirmMfaEnrolment, SignOut, StartMfaEnrolment};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::model::MfaEnrolment;
use leptos::prelude::*;
use leptos_meta::Title;

/// `/account/mfa`: set up an authenticator app. Platform admins without MFA are kept here
/// until they finish; everyone else comes from the Account page.
#[component]
pub fn MfaEnrolmentPage() -> impl IntoView {
    let start = ServerAction::<StartMfaEnrolment>::new();
    let confirm = ServerAction::<ConfirmMfaEnrolment>::new();
    let sign_out = ServerAction::<SignOut>::new();
    // Memos, so a wrong code re-renders only the error, not the whole step.
    let enrolment = Memo::new(move |_| start.value().get().and_then(Result::ok));
    let codes = Memo::new(move |_| confirm.value().get().and_then(Result::ok));
    view! {
        <Title text="Set up two-factor authentication"/>
        <AuthCard>
            <h1>"Two-factor authentication"</h1>
            {move || match (enrolment.get(), codes.get()) {
                (enrolment, Some(codes)) => {
                    let next = if enrolment.is_some_and(|e| e.required) { "/" } else { "/account" };
                    view! {
                        <p class="saved" role="status">"Two-factor authentication is on."</p>
                        <RecoveryCodes codes/>
                        <a class="button full" href=next>"I have saved my recovery codes"</a>
                    }.into_any()
                }
                (Some(enrolment), None) => view! { <EnrolmentStep enrolment confirm/> }.into_any(),
                (None, None) => view! {
                    <p class="subtitle">
                        "Each time you sign in, Stratus will ask for a code from an authenticator app on your phone (any app for TOTP codes) as well as your password. Platform admins must turn it on."
                    </p>
                    <FormError error=form_error(start.value())/>
                    <ActionForm action=start attr:class="form" attr:aria-label="Set up an authenticator app">
                        <button type="submit" class="button full">"Set up an authenticator app"</button>
                    </ActionForm>
                    <div class="form-actions small">
                        <a href="/account">"Back to your account"</a>
                        <ActionForm action=sign_out attr:class="inline-form">
                            <button type="submit" class="button link">"Sign out"</button>
                        </ActionForm>
                    </div>
                }.into_any(),
            }}
        </AuthCard>
    }
    .into_any()
}

#[component]
fn EnrolmentStep(
    enrolment: MfaEnrolment,
    confirm: ServerAction<ConfirmMfaEnrolment>,
) -> impl IntoView {
    let value = confirm.value();
    view! {
        <p>"1. Scan this QR code with your authenticator app."</p>
        <div class="qr" role="img" aria-label="QR code that adds Stratus to an authenticator app" inner_html=enrolment.qr_svg></div>
        <p class="small">"Cannot scan it? Add an account by hand with this key (time-based):"</p>
        <p><code id="manual-key" class="manual-key">{enrolment.manual_key}</code></p>
        <p>"2. Enter the 6-digit code the app shows to finish."</p>
        <ActionForm action=confirm attr:class="form" attr:aria-label="Confirm the authenticator app">
            <FormError error=form_error(value)/>
            <Field label="Code from the app" name="code" form="enrol" autocomplete="one-time-code" error=field_error(value, "code")/>
            <Field label="Your password" name="password" kind="password" form="enrol" autocomplete="current-password"
                hint="Turning on two-factor authentication needs your password again."
                error=field_error(value, "password")/>
            <button type="submit" class="button full" disabled=move || confirm.pending().get()>"Turn on two-factor authentication"</button>
        </ActionForm>
    }
    .into_any()
}

/// Freshly made recovery codes: shown once.
#[component]
pub(crate) fn RecoveryCodes(codes: Vec<String>) -> impl IntoView {
    view! {
        <div class="alert alert-warn recovery" role="status">
            <p>
                <strong>"Save these recovery codes now."</strong>
                " Each one signs you in once if you lose your device. They will not be shown again."
            </p>
            <ul class="recovery-codes" aria-label="Recovery codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ul>
        </div>
    }
    .into_any()
}
