use super::PageHeader;
use crate::api::{admin_queue, AdminCancelJob, AdminRetryJob};
use crate::components::form::{form_error, FormError};
use crate::components::page::page_body;
use crate::components::status::{date_time, ErrorDetails, JobKind, JobStateBadge};
use crate::model::{JobState, QueueOverview};
use leptos::prelude::*;
use leptos_meta::Title;

/// Admin console: the queue's health across all tenants.
#[component]
pub fn AdminQueuePage() -> impl IntoView {
    let retry = ServerAction::<AdminRetryJob>::new();
    let cancel = ServerAction::<AdminCancelJob>::new();
    let overview = Resource::new(
        move || (retry.version().get(), cancel.version().get()),
        |_| admin_queue(),
    );
    view! {
        <Title text="Queue"/>
        <PageHeader title="Queue".to_string() subtitle="Jobs across all tenants: what waits, what runs, what failed."/>
        <FormError error=form_error(retry.value())/>
        <FormError error=form_error(cancel.value())/>
        {page_body(overview, move |o| view! { <Overview o retry cancel/> }.into_any())}
    }
    .into_any()
}

#[component]
fn Overview(
    o: QueueOverview,
    retry: ServerAction<AdminRetryJob>,
    cancel: ServerAction<AdminCancelJob>,
) -> impl IntoView {
    let total = |state: JobState| {
        o.counts
            .iter()
            .filter(|c| c.state == state)
            .map(|c| c.count)
            .sum::<i64>()
    };
    let tiles = [
        ("Queued", total(JobState::Queued)),
        ("Running", total(JobState::Running)),
        ("Succeeded", total(JobState::Succeeded)),
        ("Failed", total(JobState::Failed)),
        ("Cancelled", total(JobState::Cancelled)),
    ];
    let oldest = o
        .oldest_waiting_seconds
        .map(|s| format!("{s:.1} s"))
        .unwrap_or_else(|| "nothing waiting".into());
    view! {
        <div class="grid cards five">
            {tiles.into_iter().map(|(label, n)| view! {
                <section class="panel stat"><h2>{label}</h2><p class="stat-value">{n}</p></section>
            }).collect_view()}
        </div>
        <section class="panel">
            <h2>"Oldest waiting job"</h2>
            <p class="stat-value small">{oldest}</p>
            <p class="muted">"How long the oldest due job has waited for a worker. Growing means workers cannot keep up."</p>
        </section>
        <section class="panel">
            <h2>"By kind"</h2>
            {if o.counts.is_empty() {
                view! { <p class="muted">"The queue is empty."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th scope="col">"Kind"</th><th scope="col">"State"</th><th scope="col" class="num">"Jobs"</th></tr></thead>
                        <tbody>
                            {o.counts.into_iter().map(|c| view! {
                                <tr><td><JobKind kind=c.kind/></td><td><JobStateBadge state=c.state/></td><td class="num">{c.count}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <section class="panel">
            <h2>"Recent failures"</h2>
            {if o.recent_failures.is_empty() {
                view! { <p class="muted">"No failed jobs."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th scope="col">"Job"</th><th scope="col">"Kind"</th><th scope="col">"Error"</th>
                            <th scope="col">"Finished"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {o.recent_failures.into_iter().map(|j| view! {
                                <tr>
                                    <td>{format!("#{}", j.job_id)}</td>
                                    <td><JobKind kind=j.kind.clone()/></td>
                                    <td class="job-error-cell">
                                        <span class="error-summary">{crate::readable::summarize(j.last_error.as_deref().unwrap_or_default())}</span>
                                        <ErrorDetails verbatim=j.last_error.clone().unwrap_or_default()/>
                                    </td>
                                    <td>{j.finished_at.map(date_time).unwrap_or_default()}</td>
                                    <td class="actions">
                                        <ActionForm action=retry attr:class="inline-form">
                                            <input type="hidden" name="job_id" value=j.job_id.to_string()/>
                                            <button type="submit" class="button small" aria-label=format!("Retry job {}", j.job_id)>"Retry"</button>
                                        </ActionForm>
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
        <AdminCancelForm cancel/>
    }
    .into_any()
}

/// Cancel any queued or running job by its number.
#[component]
fn AdminCancelForm(cancel: ServerAction<AdminCancelJob>) -> impl IntoView {
    let value = cancel.value();
    view! {
        <section class="panel">
            <h2>"Cancel a job"</h2>
            <ActionForm action=cancel attr:class="form inline" attr:aria-label="Cancel a job">
                <div class="field">
                    <label for="cancel-job-id">"Job number"</label>
                    <input id="cancel-job-id" name="job_id" type="number" min="1" required/>
                </div>
                <button type="submit" class="button danger">"Cancel job"</button>
            </ActionForm>
            {move || matches!(value.get(), Some(Ok(_))).then(|| view! { <p class="saved" role="status">"Cancellation recorded."</p> })}
        </section>
    }
    .into_any()
}
