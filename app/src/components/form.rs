//! Form pieces that show the server's validation errors beside the field they are about.

use crate::error::AppError;
use leptos::prelude::*;

/// The error message for `field` from the last result of an action.
///
/// Read with `try_get`: a form inside a refetching list outlives its derived signal by the
/// length of the fetch (the old view stays on screen), and reads as error-free meanwhile.
pub fn field_error<T, S>(value: S, field: &'static str) -> Signal<Option<String>>
where
    T: Send + Sync + 'static,
    S: With<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || {
        value.with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().err())
                .and_then(|e| e.field_message(field))
        })
    })
}

/// The message for the whole form from the last result of an action.
pub fn form_error<T, S>(value: S) -> Signal<Option<String>>
where
    T: Send + Sync + 'static,
    S: With<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || {
        value.with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().err())
                .and_then(|e| e.form_message())
        })
    })
}

/// A labelled input with its error in place.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(into, optional)] value: String,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] form: Option<&'static str>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let id = format!("{}-{name}", form.unwrap_or("field"));
    let message_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = move || match (error.try_get().flatten().is_some(), hint.is_some()) {
        (true, _) => Some(message_id.clone()),
        (false, true) => Some(hint_id.clone()),
        _ => None,
    };
    let message_id2 = format!("{id}-error");
    let hint_id2 = format!("{id}-hint");
    view! {
        <div class="field" class:invalid=move || error.try_get().flatten().is_some()>
            <label for=id.clone()>{label}</label>
            <input
                id=id.clone()
                name=name
                type=kind
                value=value
                autocomplete=autocomplete
                aria-invalid=move || if error.try_get().flatten().is_some() { "true" } else { "false" }
                aria-describedby=described
            />
            {hint.map(|h| view! { <p class="hint" id=hint_id2.clone()>{h}</p> })}
            {move || error.try_get().flatten().map(|m| view! { <p class="field-error" id=message_id2.clone()>{m}</p> })}
        </div>
    }
    .into_any()
}

/// A banner for errors that are not about one field.
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    move || {
        error
            .try_get()
            .flatten()
            .map(|m| view! { <div class="alert alert-error" role="alert">{m}</div> })
    }
}

/// A text input bound to a signal (forms whose values the page reads, such as a Review step),
/// with its error in place.
#[component]
pub fn TextField(
    #[prop(into)] label: String,
    id: &'static str,
    value: RwSignal<String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let message_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let (m2, h2) = (message_id.clone(), hint_id.clone());
    view! {
        <div class="field" class:invalid=move || error.try_get().flatten().is_some()>
            <label for=id>{label}</label>
            <input id=id type="text" prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))
                aria-invalid=move || if error.try_get().flatten().is_some() { "true" } else { "false" }
                aria-describedby=move || if error.try_get().flatten().is_some() { Some(message_id.clone()) } else { hint.map(|_| hint_id.clone()) }/>
            {hint.map(|h| view! { <p class="hint" id=h2.clone()>{h}</p> })}
            {move || error.try_get().flatten().map(|m| view! { <p class="field-error" id=m2.clone()>{m}</p> })}
        </div>
    }
    .into_any()
}
