use super::mfa_enrolment::RecoveryCodes;
use super::PageHeader;
use crate::api::{
    get_account, get_sessions, ChangePassword, DisableMfa, Reauthenticate, RegenerateRecoveryCodes,
    RevokeSession,
};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::components::page::page_body;
use crate::components::status::date_time;
use crate::error::AppError;
use crate::model::{AccountView, SessionView};
use leptos::prelude::*;
use leptos_meta::Title;

/// The signed-in person's account: profile, password, two-factor authentication, sessions.
#[component]
pub fn AccountPage() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let disable = ServerAction::<DisableMfa>::new();
    let regenerate = ServerAction::<RegenerateRecoveryCodes>::new();
    let reauth = ServerAction::<Reauthenticate>::new();
    let revoke = ServerAction::<RevokeSession>::new();
    let account = Resource::new(
        move || (disable.version().get(), regenerate.version().get()),
        |_| get_account(),
    );
    let sessions = Resource::new(
        move || (revoke.version().get(), change.version().get()),
        |_| get_sessions(),
    );
    view! {
        <Title text="Account"/>
        <PageHeader title="Account".to_string() subtitle="Your profile, password, two-factor authentication and where you are signed in."/>
        {page_body(account, move |account| view! {
                        <Profile account=account.clone()/>
                        <TwoFactor account disable regenerate reauth/>
                    }.into_any())}
        <PasswordForm change/>
        {page_body(sessions, move |sessions| view! { <Sessions sessions revoke/> }.into_any())}
    }
    .into_any()
}

#[component]
fn Profile(account: AccountView) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="profile-heading">
            <h2 id="profile-heading">"Profile"</h2>
            <dl class="facts">
                <div><dt>"Name"</dt><dd>{account.display_name}</dd></div>
                <div><dt>"Email"</dt><dd>{account.email}</dd></div>
                {account.platform_admin.then(|| view! {
                    <div><dt>"Access"</dt><dd><span class="badge badge-admin">"Platform admin"</span></dd></div>
                })}
            </dl>
        </section>
    }
    .into_any()
}

#[component]
fn PasswordForm(change: ServerAction<ChangePassword>) -> impl IntoView {
    let value = change.value();
    view! {
        <section class="panel" aria-labelledby="password-heading">
            <h2 id="password-heading">"Change password"</h2>
            <p class="muted">"Changing your password signs you out everywhere else."</p>
            <ActionForm action=change attr:class="form inline" attr:aria-label="Change password">
                <FormError error=form_error(value)/>
                <Field label="Current password" name="current_password" kind="password" form="password" autocomplete="current-password" error=field_error(value, "current_password")/>
                <Field label="New password" name="new_password" kind="password" form="password" autocomplete="new-password"
                    hint="At least 12 characters; a few unrelated words work well."
                    error=field_error(value, "new_password")/>
                <button type="submit" class="button" disabled=move || change.pending().get()>"Change password"</button>
            </ActionForm>
            {move || match value.get() {
                Some(Ok(ended)) => Some(view! {
                    <p class="saved" role="status">
                        {match ended {
                            0 => "Password changed.".to_string(),
                            1 => "Password changed. 1 other session was signed out.".to_string(),
                            n => format!("Password changed. {n} other sessions were signed out."),
                        }}
                    </p>
                }),
                _ => None,
            }}
        </section>
    }
    .into_any()
}

#[component]
fn TwoFactor(
    account: AccountView,
    disable: ServerAction<DisableMfa>,
    regenerate: ServerAction<RegenerateRecoveryCodes>,
    reauth: ServerAction<Reauthenticate>,
) -> impl IntoView {
    let (dv, gv, av) = (disable.value(), regenerate.value(), reauth.value());
    let needs_reauth = move || {
        (matches!(dv.get(), Some(Err(AppError::ReauthRequired)))
            || matches!(gv.get(), Some(Err(AppError::ReauthRequired))))
            && !matches!(av.get(), Some(Ok(())))
    };
    let other_error = move || {
        [
            dv.get().and_then(Result::err),
            gv.get().and_then(Result::err),
        ]
        .into_iter()
        .flatten()
        .find(|e| *e != AppError::ReauthRequired)
        .map(|e| e.to_string())
    };
    let Some(since) = account.mfa_enabled_at else {
        return view! {
            <section class="panel" aria-labelledby="mfa-heading">
                <h2 id="mfa-heading">"Two-factor authentication"</h2>
                <p>
                    <span class="badge badge-warn">"Off"</span>
                    " Add a code from an authenticator app to your sign-in, so a stolen password is not enough."
                </p>
                <a class="button" href="/account/mfa">"Turn on two-factor authentication"</a>
            </section>
        }
        .into_any();
    };
    view! {
        <section class="panel" aria-labelledby="mfa-heading">
            <h2 id="mfa-heading">"Two-factor authentication"</h2>
            <p>
                <span class="badge badge-ok">"On"</span>
                " Since " {date_time(since)} ". "
                {format!("{} of 10 recovery codes left.", account.recovery_codes_left)}
            </p>
            <FormError error=Signal::derive(other_error)/>
            {move || needs_reauth().then(|| view! {
                <div class="reauth">
                    <p class="muted">"Confirm it is you: your password and a current code (or a recovery code), valid for 5 minutes."</p>
                    <ActionForm action=reauth attr:class="form inline" attr:aria-label="Confirm it is you">
                        <Field label="Password" name="password" kind="password" form="reauth" autocomplete="current-password" error=field_error(av, "password")/>
                        <Field label="Authentication code" name="code" form="reauth" autocomplete="one-time-code" error=field_error(av, "code")/>
                        <button type="submit" class="button">"Confirm"</button>
                    </ActionForm>
                </div>
            })}
            {move || matches!(av.get(), Some(Ok(()))).then(|| view! {
                <p class="saved" role="status">"Confirmed for 5 minutes. Choose the action again."</p>
            })}
            {move || gv.get().and_then(Result::ok).map(|codes| view! { <RecoveryCodes codes/> })}
            <div class="button-row">
                <ActionForm action=regenerate>
                    <button type="submit" class="button secondary">"New recovery codes"</button>
                </ActionForm>
                <ActionForm action=disable>
                    <button type="submit" class="button danger">"Turn off"</button>
                </ActionForm>
            </div>
            {account.platform_admin.then(|| view! {
                <p class="hint">"Platform admins must use two-factor authentication: turning it off asks you to set it up again at once."</p>
            })}
        </section>
    }
    .into_any()
}

#[component]
fn Sessions(sessions: Vec<SessionView>, revoke: ServerAction<RevokeSession>) -> impl IntoView {
    let rv = revoke.value();
    view! {
        <section class="panel" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Where you are signed in"</h2>
            <FormError error=form_error(rv)/>
            <table class="table">
                <thead><tr>
                    <th scope="col">"Browser"</th><th scope="col">"IP address"</th><th scope="col">"Signed in"</th>
                    <th scope="col">"Last seen"</th><th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {sessions.into_iter().map(|s| view! {
                        <tr>
                            <td>
                                {s.browser.clone()}
                                {s.current.then(|| view! { " " <span class="badge badge-ok">"This session"</span> })}
                            </td>
                            <td><code>{s.ip.clone().unwrap_or_else(|| "unknown".into())}</code></td>
                            <td>{date_time(s.signed_in_at)}</td>
                            <td>{date_time(s.last_seen_at)}</td>
                            <td class="actions">
                                <ActionForm action=revoke attr:class="inline-form">
                                    <input type="hidden" name="session_id" value=s.session_id.to_string()/>
                                    <button type="submit" class="button small secondary"
                                        aria-label=if s.current { "Sign out this session".to_string() } else { format!("Revoke session: {}, {}", s.browser, s.ip.clone().unwrap_or_default()) }>
                                        {if s.current { "Sign out" } else { "Revoke" }}
                                    </button>
                                </ActionForm>
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}
