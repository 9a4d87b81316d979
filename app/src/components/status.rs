//! Small display helpers: dates, status badges, error panels.

use crate::error::AppError;
use crate::model::{Role, TenantStatus};
use leptos::prelude::*;
use time::OffsetDateTime;

// Written out rather than with `time`'s formatter, which is 20 KB of the browser bundle.
pub fn date(t: OffsetDateTime) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

pub fn date_time(t: OffsetDateTime) -> String {
    format!("{} {:02}:{:02} UTC", date(t), t.hour(), t.minute())
}

#[component]
pub fn StatusBadge(status: TenantStatus) -> impl IntoView {
    match status {
        TenantStatus::Active => view! { <span class="badge badge-ok">"Active"</span> },
        TenantStatus::Suspended => view! { <span class="badge badge-warn">"Suspended"</span> },
    }
}

#[component]
pub fn RoleBadge(role: Role) -> impl IntoView {
    view! { <span class=format!("badge role-{}", role.as_str())>{role.label()}</span> }.into_any()
}

/// Shown in place of a page's content when loading it failed.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    let title = match &error {
        AppError::NotFound => "Not found",
        AppError::Forbidden(_) => "Not allowed",
        AppError::Unavailable => "Temporarily unavailable",
        _ => "Something went wrong",
    };
    view! {
        <section class="panel error-panel" role="alert">
            <h2>{title}</h2>
            <p>{error.to_string()}</p>
        </section>
    }
    .into_any()
}

#[component]
pub fn JobStateBadge(state: crate::model::JobState) -> impl IntoView {
    use crate::model::JobState::*;
    let class = match state {
        Queued => "badge",
        Running => "badge badge-info",
        Succeeded => "badge badge-ok",
        Failed => "badge badge-error",
        Cancelled => "badge badge-warn",
    };
    view! { <span class=class>{state.as_str()}</span> }.into_any()
}

/// A job's kind (`cloud_account.survey_zones`) as code that a narrow table cell breaks after a
/// `.` or `_`, not in the middle of a word.
#[component]
pub fn JobKind(kind: String) -> impl IntoView {
    let mut parts = Vec::new();
    let mut rest = kind.as_str();
    while let Some(at) = rest.find(['.', '_']) {
        parts.push(rest[..=at].to_string());
        rest = &rest[at + 1..];
    }
    parts.push(rest.to_string());
    let last = parts.len() - 1;
    view! {
        <code class="job-kind">
            {parts
                .into_iter()
                .enumerate()
                .map(|(i, part)| view! { {part} {(i < last).then(|| view! { <wbr/> })} })
                .collect_view()}
        </code>
    }
    .into_any()
}

/// An accessible progress bar (0–100).
#[component]
pub fn ProgressBar<F>(
    /// Read on every change. A plain closure, not a `Signal::derive`: rows of a live list are
    /// rebuilt on refetch, and a derived signal owned by the old rows is disposed while their
    /// DOM still listens (reading it then panics the whole browser app).
    percent: F,
    #[prop(into, optional)] label: String,
) -> impl IntoView
where
    F: Fn() -> i16 + Clone + Send + Sync + 'static,
{
    let width = percent.clone();
    view! {
        <div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100"
            aria-valuenow=move || percent().to_string() aria-label=label>
            <div class="progress-fill" style:width=move || format!("{}%", width().clamp(0, 100))></div>
        </div>
    }
    .into_any()
}

/// A failed job's or a provider's error as people read it: one sentence derived from the
/// error's class and code (`readable::summarize`), and the provider's own words, verbatim,
/// behind a "Details" disclosure.
#[component]
pub fn ReadableError(
    #[prop(into)] verbatim: String,
    #[prop(optional)] title: Option<&'static str>,
) -> impl IntoView {
    let short = crate::readable::summarize(&verbatim);
    view! {
        <div class="alert alert-error readable-error">
            <strong>{title.unwrap_or("Last error")}</strong>
            <p class="error-summary">{short}</p>
            <ErrorDetails verbatim/>
        </div>
    }
    .into_any()
}

/// The verbatim error behind a disclosure (closed by default).
#[component]
pub fn ErrorDetails(verbatim: String) -> impl IntoView {
    view! {
        <details class="error-details">
            <summary>"Details"</summary>
            <pre class="error-text">{verbatim}</pre>
        </details>
    }
    .into_any()
}
