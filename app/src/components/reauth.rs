//! The "confirm it's you" step before a sensitive action (secret reveal, new API key).

use crate::api::Reauthenticate;
use crate::components::form::{field_error, Field};
use leptos::prelude::*;

/// Asks for the password (and a code, with two-factor authentication) while `needed` holds;
/// then tells the person to repeat `retry` (the name of the button they pressed).
#[component]
pub fn ReauthPanel(
    reauth: ServerAction<Reauthenticate>,
    #[prop(into)] needed: Signal<bool>,
    /// Why it is asked, e.g. "Revealing a secret".
    why: &'static str,
    retry: &'static str,
) -> impl IntoView {
    let av = reauth.value();
    let confirmed = move || matches!(av.get(), Some(Ok(())));
    view! {
        {move || (needed.get() && !confirmed()).then(|| view! {
            <section class="panel">
                <h2>"Confirm your password"</h2>
                <p class="muted">{why} " needs your password (and a code, with two-factor authentication) from the last 5 minutes."</p>
                <ActionForm action=reauth attr:class="form inline" attr:aria-label="Confirm your password">
                    <Field label="Password" name="password" kind="password" form="reauth" autocomplete="current-password" error=field_error(av, "password")/>
                    <Field label="Authentication code" name="code" form="reauth" autocomplete="one-time-code"
                        hint="If you use two-factor authentication." error=field_error(av, "code")/>
                    <button type="submit" class="button">"Confirm"</button>
                </ActionForm>
            </section>
        })}
        {move || confirmed().then(|| view! {
            <p class="saved" role="status">{format!("Confirmed for 5 minutes. Choose {retry} again.")}</p>
        })}
    }
    .into_any()
}
