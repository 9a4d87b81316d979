use super::PageHeader;
use crate::api::{
    get_secrets, CreateSecret, DeleteSecret, Reauthenticate, RevealSecret, UpdateSecret,
};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::components::page::{page_body, ConfirmButton, EmptyState};
use crate::components::reauth::ReauthPanel;
use crate::components::status::{date, date_time};
use crate::error::AppError;
use crate::model::SecretView;
use leptos::prelude::*;
use leptos_meta::Title;

/// Tenant secrets: write-only values; revealing one needs a fresh password confirmation.
#[component]
pub fn SecretsPage() -> impl IntoView {
    let create = ServerAction::<CreateSecret>::new();
    let update = ServerAction::<UpdateSecret>::new();
    let delete = ServerAction::<DeleteSecret>::new();
    let reveal = ServerAction::<RevealSecret>::new();
    let reauth = ServerAction::<Reauthenticate>::new();
    let list = Resource::new(
        move || {
            (
                create.version().get(),
                update.version().get(),
                delete.version().get(),
                reveal.version().get(),
            )
        },
        |_| get_secrets(),
    );
    let cv = create.value();
    view! {
        <Title text="Secrets"/>
        <PageHeader title="Secrets".to_string() subtitle="Encrypted at rest. Values can be replaced but not read back, except by an audited reveal."/>
        <FormError error=form_error(update.value())/>
        <FormError error=form_error(delete.value())/>
        <RevealPanel reveal reauth/>
        {page_body(list, move |secrets| if secrets.is_empty() {
            view! { <EmptyState title="No secrets yet" message="Add one below: values are encrypted and never shown again unless revealed."/> }.into_any()
        } else {
            view! { <SecretTable secrets update delete reveal/> }.into_any()
        })}
        <section class="panel">
            <h2>"Add a secret"</h2>
            <ActionForm action=create attr:class="form inline" attr:aria-label="Add a secret">
                <FormError error=form_error(cv)/>
                <Field label="Name" name="name" form="secret" hint="e.g. ci/deploy-token" error=field_error(cv, "name")/>
                <Field label="Value" name="value" kind="password" form="secret" autocomplete="off" error=field_error(cv, "value")/>
                <button type="submit" class="button">"Save secret"</button>
            </ActionForm>
            {move || matches!(cv.get(), Some(Ok(()))).then(|| view! { <p class="saved" role="status">"Saved. The value is encrypted and will not be shown again."</p> })}
        </section>
    }
    .into_any()
}

#[component]
fn SecretTable(
    secrets: Vec<SecretView>,
    update: ServerAction<UpdateSecret>,
    delete: ServerAction<DeleteSecret>,
    reveal: ServerAction<RevealSecret>,
) -> impl IntoView {
    view! {
        <section class="panel">
            <table class="table">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Kind"</th><th scope="col">"Created"</th><th scope="col">"Updated"</th>
                    <th scope="col">"Last revealed"</th><th scope="col"><span class="sr-only">"Actions"</span></th>
                </tr></thead>
                <tbody>
                    {secrets.into_iter().map(|s| {
                        let id = s.secret_id;
                        let user = s.purpose == "user";
                        let value_id = format!("value-{id}");
                        // Each form's children own their copy: the buttons name the secret.
                        let (reveal_label, replace_label, new_value_label, delete_label, delete_confirm) = (
                            format!("Reveal {}", s.name),
                            format!("Replace {}", s.name),
                            format!("New value for {}", s.name),
                            format!("Delete {}", s.name),
                            format!("Delete the secret {}? Its value cannot be recovered.", s.name),
                        );
                        view! {
                            <tr>
                                <td class="wrap"><code>{s.name.clone()}</code></td>
                                <td>{if user { "Secret" } else { "Cloud credentials" }}</td>
                                <td>{date(s.created_at)}</td>
                                <td>{date_time(s.updated_at)}</td>
                                <td>{s.last_revealed_at.map(date_time).unwrap_or_else(|| "never".into())}</td>
                                <td class="actions">
                                    {user.then(|| view! {
                                        <ActionForm action=reveal attr:class="inline-form">
                                            <input type="hidden" name="secret_id" value=id.to_string()/>
                                            <button type="submit" class="button small secondary" aria-label=reveal_label>"Reveal"</button>
                                        </ActionForm>
                                        <details class="row-details">
                                            <summary class="button small secondary" aria-label=replace_label>"Replace…"</summary>
                                            <ActionForm action=update attr:class="inline-form">
                                                <input type="hidden" name="secret_id" value=id.to_string()/>
                                                <label class="sr-only" for=value_id.clone()>{new_value_label}</label>
                                                <input id=value_id.clone() name="value" type="password" autocomplete="off" placeholder="New value" required/>
                                                <button type="submit" class="button small">"Save"</button>
                                            </ActionForm>
                                        </details>
                                        <ActionForm action=delete attr:class="inline-form">
                                            <input type="hidden" name="secret_id" value=id.to_string()/>
                                            <ConfirmButton text="Delete" label=delete_label confirm=delete_confirm/>
                                        </ActionForm>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

/// Shows a revealed value, or asks for the password when the reveal needs it.
#[component]
fn RevealPanel(
    reveal: ServerAction<RevealSecret>,
    reauth: ServerAction<Reauthenticate>,
) -> impl IntoView {
    let rv = reveal.value();
    let needed = Signal::derive(move || matches!(rv.get(), Some(Err(AppError::ReauthRequired))));
    view! {
        <ReauthPanel reauth needed why="Revealing a secret (the reveal is recorded in the audit log)" retry="Reveal"/>
        {move || match rv.get() {
            Some(Ok(value)) => Some(view! {
                <div class="alert alert-ok" role="status">
                    <label for="revealed-value"><strong>"Secret value"</strong></label>
                    <input id="revealed-value" class="copy-field" readonly value=value/>
                </div>
            }.into_any()),
            Some(Err(AppError::ReauthRequired)) | None => None,
            Some(Err(error)) => Some(view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any()),
        }}
    }
    .into_any()
}
