//! The one page skeleton: every page shows loading, error and empty states the same way.

use crate::components::status::ErrorPanel;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{de::DeserializeOwned, Serialize};

/// The page's content while it loads.
#[component]
pub fn Loading() -> impl IntoView {
    view! { <p class="loading" role="status">"Loading…"</p> }.into_any()
}

/// The one empty-state style: a title, a sentence, and optionally what to do next.
#[component]
pub fn EmptyState(
    #[prop(into)] title: String,
    #[prop(into)] message: String,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <section class="panel empty">
            <h2>{title}</h2>
            <p>{message}</p>
            {children.map(|c| view! { <div class="empty-actions">{c()}</div> })}
        </section>
    }
    .into_any()
}

/// Loads `data` and shows the skeleton's loading and error states around `render`. `render`
/// returns `AnyView` so each page adds one monomorphised view, not one per branch.
pub fn page_body<T>(
    data: Resource<Result<T, AppError>>,
    render: impl Fn(T) -> AnyView + Clone + Send + Sync + 'static,
) -> AnyView
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    view! {
        <Transition fallback=|| view! { <Loading/> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(value) => render(value),
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
    .into_any()
}

/// The submit button of a destructive action: the browser asks "`confirm`" first, and nothing
/// is sent unless the person agrees. `label` names the row it acts on for screen readers.
#[component]
pub fn ConfirmButton(
    #[prop(into)] text: String,
    #[prop(into)] label: String,
    #[prop(into)] confirm: String,
    #[prop(optional)] class: Option<&'static str>,
) -> impl IntoView {
    let ask = move |ev: leptos::ev::MouseEvent| {
        #[cfg(feature = "hydrate")]
        {
            if !window().confirm_with_message(&confirm).unwrap_or(false) {
                ev.prevent_default();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&ev, &confirm);
    };
    view! {
        <button type="submit" class=class.unwrap_or("button small link danger") aria-label=label on:click=ask>
            {text}
        </button>
    }
    .into_any()
}
