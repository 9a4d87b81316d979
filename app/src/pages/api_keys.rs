use super::PageHeader;
use crate::api::{get_api_keys, ApiKeysPage, CreateApiKey, Reauthenticate, RevokeApiKey};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::components::page::{page_body, ConfirmButton, EmptyState};
use crate::components::reauth::ReauthPanel;
use crate::components::status::{date, date_time};
use crate::error::AppError;
use crate::model::{ApiKeyView, CreatedApiKey, Role};
use leptos::prelude::*;
use leptos_meta::Title;

/// API keys for automation: shown once at creation, listed by prefix, revocable.
#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let reauth = ServerAction::<Reauthenticate>::new();
    let list = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| get_api_keys(),
    );
    view! {
        <Title text="API keys"/>
        <PageHeader title="API keys".to_string() subtitle="For scripts and pipelines using the REST API. A key acts for you in this tenant, with at most your role.">
            <a class="button secondary" href="/api/v1/docs">"API reference"</a>
        </PageHeader>
        <FormError error=form_error(revoke.value())/>
        <NewKey create reauth/>
        {page_body(list, move |page| view! { <KeyList page revoke create/> }.into_any())}
    }
    .into_any()
}

#[component]
fn NewKey(
    create: ServerAction<CreateApiKey>,
    reauth: ServerAction<Reauthenticate>,
) -> impl IntoView {
    let cv = create.value();
    let needed = Signal::derive(move || matches!(cv.get(), Some(Err(AppError::ReauthRequired))));
    view! {
        <ReauthPanel reauth needed why="Creating a key" retry="Create key"/>
        {move || match cv.get() {
            Some(Ok(created)) => Some(view! { <ShownOnce created/> }.into_any()),
            _ => None,
        }}
    }
    .into_any()
}

/// The new key's secret, the only time it is shown.
#[component]
fn ShownOnce(created: CreatedApiKey) -> impl IntoView {
    let example = format!(
        "curl -H 'Authorization: Bearer {}' {{origin}}/api/v1/me",
        created.secret
    );
    view! {
        <div class="alert alert-ok" role="status">
            <p>
                "Key " <strong>{created.key.name.clone()}</strong> " created. Copy it now: it is shown only once, and Stratus keeps only a digest."
            </p>
            <label class="sr-only" for="new-key">"New API key"</label>
            <input id="new-key" class="copy-field" readonly value=created.secret.clone() onfocus="this.select()"/>
            <p class="hint">"Try it: " <code>{example}</code></p>
        </div>
    }
    .into_any()
}

#[component]
fn KeyList(
    page: ApiKeysPage,
    revoke: ServerAction<RevokeApiKey>,
    create: ServerAction<CreateApiKey>,
) -> impl IntoView {
    let cv = create.value();
    let roles = crate::rbac::key_roles(page.my_role);
    let now = time::OffsetDateTime::now_utc();
    let everyone = page.everyone;
    view! {
        <section class="panel">
            <h2>"Create a key"</h2>
            <ActionForm action=create attr:class="form inline" attr:aria-label="Create an API key">
                <FormError error=form_error(cv)/>
                <Field label="Name" name="name" form="key" hint="What uses it, e.g. ci-deploy" error=field_error(cv, "name")/>
                <div class="field" class:invalid=move || field_error(cv, "role").get().is_some()>
                    <label for="key-role">"Role"</label>
                    <select id="key-role" name="role">
                        {roles.into_iter().map(|r| view! { <option value=r.as_str() selected=r == Role::Viewer>{r.label()}</option> }).collect_view()}
                    </select>
                    {move || field_error(cv, "role").get().map(|m| view! { <p class="field-error">{m}</p> })}
                </div>
                <div class="field" class:invalid=move || field_error(cv, "days").get().is_some()>
                    <label for="key-days">"Expires in (days)"</label>
                    <input id="key-days" name="days" type="number" min="1" max="365" value="90"/>
                    {move || field_error(cv, "days").get().map(|m| view! { <p class="field-error">{m}</p> })}
                </div>
                <button type="submit" class="button">"Create key"</button>
            </ActionForm>
        </section>
        {if page.keys.is_empty() {
            view! { <EmptyState title="No API keys yet" message="Create one above for a script or pipeline; it acts for you with the role you choose."/> }.into_any()
        } else {
            view! {
                <section class="panel">
                    <h2>{if everyone { "All keys in this tenant" } else { "Your keys" }}</h2>
                    <table class="table">
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Role"</th>
                            {everyone.then(|| view! { <th scope="col">"Owner"</th> })}
                            <th scope="col">"Created"</th><th scope="col">"Expires"</th><th scope="col">"Last used"</th>
                            <th scope="col"><span class="sr-only">"Actions"</span></th>
                        </tr></thead>
                        <tbody>
                            {page.keys.into_iter().map(|k| view! { <KeyRow key=k now everyone revoke/> }).collect_view()}
                        </tbody>
                    </table>
                </section>
            }.into_any()
        }}
    }
    .into_any()
}

#[component]
fn KeyRow(
    key: ApiKeyView,
    now: time::OffsetDateTime,
    everyone: bool,
    revoke: ServerAction<RevokeApiKey>,
) -> impl IntoView {
    let usable = key.is_usable(now);
    let state = match (key.revoked_at, usable) {
        (Some(at), _) => format!("revoked {}", date(at)),
        (None, false) => "expired".to_string(),
        (None, true) => date(key.expires_at),
    };
    view! {
        <tr class:muted=!usable>
            <td>{key.name.clone()}</td>
            <td><code>{format!("{}…", key.prefix)}</code></td>
            <td>{key.role.label()}</td>
            {everyone.then(|| view! { <td>{key.owner_email.clone()}</td> })}
            <td>{date(key.created_at)}</td>
            <td>{state}</td>
            <td>{key.last_used_at.map(date_time).unwrap_or_else(|| "never".into())}</td>
            <td class="actions">
                {usable.then(|| view! {
                    <ActionForm action=revoke attr:class="inline-form">
                        <input type="hidden" name="key_id" value=key.key_id.to_string()/>
                        <ConfirmButton text="Revoke" label=format!("Revoke {}", key.name)
                            confirm=format!("Revoke the key {}? Scripts using it stop working at once.", key.name)/>
                    </ActionForm>
                })}
            </td>
        </tr>
    }
    .into_any()
}
