use super::PageHeader;
use crate::api::{get_job, get_jobs, CancelJob, RetryJob};
use crate::components::form::{form_error, FormError};
use crate::components::layout::{can, use_session};
use crate::components::live::LiveIndicator;
use crate::components::page::{page_body, ConfirmButton, EmptyState};
use crate::components::status::{
    date_time, ErrorDetails, JobKind, JobStateBadge, ProgressBar, ReadableError,
};
use crate::live::{use_live_events, LiveEvent};
use crate::model::{JobDetail, JobState, JobSummary};
use crate::rbac::Action;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use std::collections::HashMap;

/// The tenant's jobs: every change Stratus makes runs as one. Live: progress moves in place,
/// and a new job or a change of state reloads the list.
#[component]
pub fn JobsPage() -> impl IntoView {
    let session = use_session();
    let topic = Signal::derive(move || {
        session
            .get()
            .and_then(|s| s.current)
            .map(|t| format!("tenant:{}", t.tenant_id))
    });
    let live = use_live_events(topic);
    let state_changes = Memo::new(move |_| {
        live.events.with(|list| {
            list.iter()
                .filter(|e| e.kind == "state")
                .map(|e| e.id)
                .max()
        })
    });
    // Progress since the list was loaded; a state event drops its job's entry (the reload has it).
    let progress = RwSignal::new(HashMap::<i64, (i16, String)>::new());
    Effect::new(move |_| {
        live.events.with(|list| {
            progress.update(|map| {
                map.clear();
                for e in list {
                    match (e.kind.as_str(), e.percent) {
                        ("progress", Some(p)) => {
                            map.insert(e.job_id, (p, e.message.clone()));
                        }
                        ("state", _) => {
                            map.remove(&e.job_id);
                        }
                        _ => {}
                    }
                }
            })
        })
    });
    let cancel = ServerAction::<CancelJob>::new();
    let retry = ServerAction::<RetryJob>::new();
    let jobs = Resource::new(
        move || {
            (
                live.generation.get(),
                state_changes.get(),
                cancel.version().get(),
                retry.version().get(),
            )
        },
        |_| get_jobs(),
    );
    // Row buttons only for roles the permission table lets manage jobs.
    let controls = can(Action::ManageJobs).then_some((cancel, retry));
    view! {
        <Title text="Jobs"/>
        <PageHeader title="Jobs".to_string() subtitle="Every change runs as a job: queued, run by a worker, retried when it fails.">
            <LiveIndicator status=live.status/>
        </PageHeader>
        <FormError error=form_error(cancel.value())/>
        <FormError error=form_error(retry.value())/>
        {page_body(jobs, move |list| if list.is_empty() {
            view! { <EmptyState title="No jobs yet" message="Every change Stratus makes runs as a job; they appear here as soon as something changes."/> }.into_any()
        } else {
            view! { <JobTable jobs=list link_prefix="/jobs" live=progress controls/> }.into_any()
        })}
    }
    .into_any()
}

#[component]
pub fn JobTable(
    jobs: Vec<JobSummary>,
    link_prefix: &'static str,
    /// Live progress by job id, newer than `jobs`.
    #[prop(optional)]
    live: Option<RwSignal<HashMap<i64, (i16, String)>>>,
    /// Cancel and Retry on each row, for roles that may manage jobs.
    #[prop(optional_no_strip)]
    controls: Option<(ServerAction<CancelJob>, ServerAction<RetryJob>)>,
) -> impl IntoView {
    view! {
        <section class="panel">
            <table class="table">
                <thead><tr>
                    <th scope="col">"Job"</th><th scope="col">"Kind"</th><th scope="col">"State"</th>
                    <th scope="col">"Progress"</th><th scope="col">"Attempt"</th><th scope="col">"Created"</th>
                    {controls.is_some().then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                </tr></thead>
                <tbody>
                    {jobs.into_iter().map(|j| {
                        let id = j.job_id;
                        let latest = move || live.and_then(|l| l.with(|m| m.get(&id).cloned()));
                        let percent = move || latest().map_or(j.progress, |(p, _)| p);
                        let base_message = j.progress_message.clone().unwrap_or_default();
                        let message = move || latest().map_or_else(|| base_message.clone(), |(_, m)| m);
                        view! {
                        <tr>
                            <td class="job-id"><a href=format!("{link_prefix}/{}", j.job_id)>{format!("#{}", j.job_id)}</a></td>
                            <td><JobKind kind=j.kind.clone()/></td>
                            <td><JobStateBadge state=j.state/></td>
                            <td class="progress-cell">
                                <ProgressBar percent label=format!("Progress of job {}", j.job_id)/>
                                <span class="muted small">{message}</span>
                                {j.last_error.clone().filter(|_| j.state == JobState::Failed).map(|e| view! {
                                    <span class="small error-summary">{crate::readable::summarize(&e)}</span>
                                })}
                            </td>
                            <td class="num">{format!("{} / {}", j.attempt, j.max_attempts)}</td>
                            <td>{date_time(j.created_at)}</td>
                            {controls.map(|(cancel, retry)| view! {
                                <td class="actions"><RowControls job=j.clone() cancel retry/></td>
                            })}
                        </tr>
                    }}).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let cancel = ServerAction::<CancelJob>::new();
    let retry = ServerAction::<RetryJob>::new();
    let topic = Signal::derive(move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .map(|id| format!("job:{id}"))
    });
    let live = use_live_events(topic);
    // A change of state reloads the job (attempts, times, errors); progress and log lines
    // are appended in place.
    let state_changes = Memo::new(move |_| {
        live.events.with(|list| {
            list.iter()
                .filter(|e| e.kind == "state")
                .map(|e| e.id)
                .max()
        })
    });
    let job = Resource::new(
        move || {
            (
                params.read().get("id"),
                cancel.version().get(),
                retry.version().get(),
                (live.generation.get(), state_changes.get()),
            )
        },
        |(id, _, _, _)| async move {
            let id = id
                .and_then(|s| s.parse().ok())
                .ok_or(crate::error::AppError::NotFound)?;
            get_job(id).await
        },
    );
    let can_manage = can(Action::ManageJobs);
    view! {
        <Title text="Job"/>
        {page_body(job, move |detail| view! {
            <p class="breadcrumb"><a href="/jobs">"Jobs"</a> " / " {format!("#{}", detail.job.job_id)}</p>
            <div class="live-row"><LiveIndicator status=live.status/></div>
            <JobDetailView detail=detail.clone() live=live.events/>
            {can_manage.then(|| view! { <JobControls job=detail.job cancel retry/> })}
        }.into_any())}
    }
    .into_any()
}

#[component]
pub fn JobControls(
    job: JobSummary,
    cancel: ServerAction<CancelJob>,
    retry: ServerAction<RetryJob>,
) -> impl IntoView {
    let id = job.job_id;
    let cancellable =
        matches!(job.state, JobState::Queued | JobState::Running) && !job.cancel_requested;
    let retryable = matches!(job.state, JobState::Failed | JobState::Cancelled);
    view! {
        <FormError error=form_error(cancel.value())/>
        <FormError error=form_error(retry.value())/>
        <div class="button-row">
            {cancellable.then(|| view! {
                <ActionForm action=cancel>
                    <input type="hidden" name="job_id" value=id.to_string()/>
                    <ConfirmButton text="Cancel job" label=format!("Cancel job {id}") class="button danger"
                        confirm=format!("Cancel job {id}? A running job stops at its next check.")/>
                </ActionForm>
            })}
            {retryable.then(|| view! {
                <ActionForm action=retry>
                    <input type="hidden" name="job_id" value=id.to_string()/>
                    <button type="submit" class="button">"Retry job"</button>
                </ActionForm>
            })}
        </div>
    }
    .into_any()
}

/// A job row's own Cancel (queued or running) and Retry (failed or cancelled) buttons, each
/// labelled with the job it acts on.
#[component]
fn RowControls(
    job: JobSummary,
    cancel: ServerAction<CancelJob>,
    retry: ServerAction<RetryJob>,
) -> impl IntoView {
    let id = job.job_id;
    let cancellable =
        matches!(job.state, JobState::Queued | JobState::Running) && !job.cancel_requested;
    let retryable = matches!(job.state, JobState::Failed | JobState::Cancelled);
    view! {
        {cancellable.then(|| view! {
            <ActionForm action=cancel attr:class="inline-form">
                <input type="hidden" name="job_id" value=id.to_string()/>
                <ConfirmButton text="Cancel" label=format!("Cancel job {id}") class="button small secondary"
                    confirm=format!("Cancel job {id}? A running job stops at its next check.")/>
            </ActionForm>
        })}
        {retryable.then(|| view! {
            <ActionForm action=retry attr:class="inline-form">
                <input type="hidden" name="job_id" value=id.to_string()/>
                <button type="submit" class="button small secondary" aria-label=format!("Retry job {id}")>"Retry"</button>
            </ActionForm>
        })}
    }
    .into_any()
}

/// A job's header, progress and event log (shared by the tenant and admin pages). With `live`,
/// events newer than `detail` are appended and move the progress bar.
#[component]
pub fn JobDetailView(
    detail: JobDetail,
    #[prop(optional)] live: Option<ReadSignal<Vec<LiveEvent>>>,
) -> impl IntoView {
    let j = detail.job;
    let seen = detail.events.iter().map(|e| e.event_id).max().unwrap_or(0);
    let newer = move || -> Vec<LiveEvent> {
        live.map(|l| l.with(|list| list.iter().filter(|e| e.id > seen).cloned().collect()))
            .unwrap_or_default()
    };
    let latest_progress = move || {
        newer()
            .into_iter()
            .rev()
            .find(|e| e.kind == "progress" && e.percent.is_some())
    };
    let (base_percent, base_message) = (j.progress, j.progress_message.clone());
    let percent = move || {
        latest_progress()
            .and_then(|e| e.percent)
            .unwrap_or(base_percent)
    };
    let progress_text = move || {
        let message = latest_progress()
            .map(|e| e.message)
            .or_else(|| base_message.clone())
            .unwrap_or_else(|| "no progress reported yet".into());
        format!("{}% · {}", percent(), message)
    };
    let has_events = !detail.events.is_empty();
    view! {
        <Title text=format!("Job #{}", j.job_id)/>
        <PageHeader title=format!("Job #{}", j.job_id) subtitle=j.kind.clone()>
            <JobStateBadge state=j.state/>
        </PageHeader>
        <section class="panel">
            <ProgressBar percent label="Job progress".to_string()/>
            <p class="muted">{progress_text}</p>
            <dl class="facts">
                <div><dt>"Attempt"</dt><dd>{format!("{} of {}", j.attempt, j.max_attempts)}</dd></div>
                <div><dt>"Created"</dt><dd>{date_time(j.created_at)}</dd></div>
                <div><dt>"Started"</dt><dd>{j.started_at.map(date_time).unwrap_or_else(|| "—".into())}</dd></div>
                <div><dt>"Finished"</dt><dd>{j.finished_at.map(date_time).unwrap_or_else(|| "—".into())}</dd></div>
            </dl>
            {j.cancel_requested.then(|| view! { <p class="alert alert-warn">"Cancellation requested: the job stops at its next check."</p> })}
            {j.last_error.clone().map(|e| view! { <ReadableError verbatim=e/> })}
        </section>
        <section class="panel">
            <h2>"Events"</h2>
            {move || (!has_events && newer().is_empty()).then(|| view! { <p class="muted">"No events yet."</p> })}
            <ol class="events">
                {detail.events.into_iter().map(|e| view! {
                    <EventItem kind=e.kind at=e.created_at percent=e.percent message=e.message/>
                }).collect_view()}
                <For each=newer key=|e| e.id let:e>
                    <EventItem kind=e.kind at=e.at percent=e.percent message=e.message/>
                </For>
            </ol>
        </section>
    }
    .into_any()
}

#[component]
fn EventItem(
    kind: String,
    at: time::OffsetDateTime,
    percent: Option<i16>,
    message: String,
) -> impl IntoView {
    let class = format!("event event-{kind}");
    view! {
        <li class=class>
            <time>{date_time(at)}</time>
            <span class="event-kind">{kind}</span>
            {percent.map(|p| view! { <span class="event-percent">{format!("{p}%")}</span> })}
            {match crate::readable::failed_attempt(&message) {
                // A failed attempt reads as one sentence; the provider's words stay behind
                // "Details", as on the job's last error.
                Some((what, error)) => view! {
                    <span class="event-message">
                        {format!("{what}: {}", crate::readable::summarize(error))}
                        <ErrorDetails verbatim=error.to_string()/>
                    </span>
                }.into_any(),
                None => view! { <span class="event-message">{message.clone()}</span> }.into_any(),
            }}
        </li>
    }
    .into_any()
}
