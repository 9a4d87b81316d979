use super::PageHeader;
use crate::api::{get_job, get_jobs, CancelJob, RetryJob};
use crate::components::form::{form_error, FormError};
use crate::components::layout::use_session;
use crate::components::status::{date_time, ErrorPanel, JobStateBadge, ProgressBar};
use crate::model::{JobDetail, JobState, JobSummary};
use crate::rbac::{allows, Action};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// The tenant's jobs: every change Stratus makes runs as one.
#[component]
pub fn JobsPage() -> impl IntoView {
    let jobs = Resource::new(|| (), |_| get_jobs());
    view! {
        <Title text="Jobs"/>
        <PageHeader title="Jobs".to_string() subtitle="Every change runs as a job: queued, run by a worker, retried when it fails."/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match jobs.await {
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <section class="panel empty"><p>"No jobs yet. They appear here as soon as something changes."</p></section>
                    }.into_any(),
                    Ok(list) => view! { <JobTable jobs=list link_prefix="/jobs"/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
pub fn JobTable(jobs: Vec<JobSummary>, link_prefix: &'static str) -> impl IntoView {
    view! {
        <section class="panel">
            <table class="table">
                <thead><tr>
                    <th scope="col">"Job"</th><th scope="col">"Kind"</th><th scope="col">"State"</th>
                    <th scope="col">"Progress"</th><th scope="col">"Attempt"</th><th scope="col">"Created"</th>
                </tr></thead>
                <tbody>
                    {jobs.into_iter().map(|j| view! {
                        <tr>
                            <td><a href=format!("{link_prefix}/{}", j.job_id)>{format!("#{}", j.job_id)}</a></td>
                            <td><code>{j.kind.clone()}</code></td>
                            <td><JobStateBadge state=j.state/></td>
                            <td class="progress-cell">
                                <ProgressBar percent=j.progress label=format!("Progress of job {}", j.job_id)/>
                                <span class="muted small">{j.progress_message.clone().unwrap_or_default()}</span>
                            </td>
                            <td class="num">{format!("{} / {}", j.attempt, j.max_attempts)}</td>
                            <td>{date_time(j.created_at)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
pub fn JobPage() -> impl IntoView {
    let params = use_params_map();
    let cancel = ServerAction::<CancelJob>::new();
    let retry = ServerAction::<RetryJob>::new();
    let job = Resource::new(
        move || {
            (
                params.read().get("id"),
                cancel.version().get(),
                retry.version().get(),
            )
        },
        |(id, _, _)| async move {
            let id = id
                .and_then(|s| s.parse().ok())
                .ok_or(crate::error::AppError::NotFound)?;
            get_job(id).await
        },
    );
    let can_manage = move || {
        use_session()
            .get()
            .and_then(|s| s.role())
            .is_some_and(|r| allows(r, Action::ManageJobs))
    };
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match job.await {
                    Err(error) => view! { <Title text="Job"/> <ErrorPanel error/> }.into_any(),
                    Ok(detail) => view! {
                        <p class="breadcrumb"><a href="/jobs">"Jobs"</a> " / " {format!("#{}", detail.job.job_id)}</p>
                        <JobDetailView detail=detail.clone()/>
                        {can_manage().then(|| view! { <JobControls job=detail.job cancel retry/> })}
                    }.into_any(),
                }
            })}
        </Transition>
    }
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
                    <button type="submit" class="button danger">"Cancel job"</button>
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
}

/// A job's header, progress and event log (shared by the tenant and admin pages).
#[component]
pub fn JobDetailView(detail: JobDetail) -> impl IntoView {
    let j = detail.job;
    view! {
        <Title text=format!("Job #{}", j.job_id)/>
        <PageHeader title=format!("Job #{}", j.job_id) subtitle=j.kind.clone()>
            <JobStateBadge state=j.state/>
        </PageHeader>
        <section class="panel">
            <ProgressBar percent=j.progress label="Job progress".to_string()/>
            <p class="muted">{format!("{}% · {}", j.progress, j.progress_message.clone().unwrap_or_else(|| "no progress reported yet".into()))}</p>
            <dl class="facts">
                <div><dt>"Attempt"</dt><dd>{format!("{} of {}", j.attempt, j.max_attempts)}</dd></div>
                <div><dt>"Created"</dt><dd>{date_time(j.created_at)}</dd></div>
                <div><dt>"Started"</dt><dd>{j.started_at.map(date_time).unwrap_or_else(|| "—".into())}</dd></div>
                <div><dt>"Finished"</dt><dd>{j.finished_at.map(date_time).unwrap_or_else(|| "—".into())}</dd></div>
            </dl>
            {j.cancel_requested.then(|| view! { <p class="alert alert-warn">"Cancellation requested: the job stops at its next check."</p> })}
            {j.last_error.clone().map(|e| view! {
                <div class="alert alert-error"><strong>"Last error"</strong><pre class="error-text">{e}</pre></div>
            })}
        </section>
        <section class="panel">
            <h2>"Events"</h2>
            {if detail.events.is_empty() {
                view! { <p class="muted">"No events yet."</p> }.into_any()
            } else {
                view! {
                    <ol class="events">
                        {detail.events.into_iter().map(|e| view! {
                            <li class=format!("event event-{}", e.kind)>
                                <time>{date_time(e.created_at)}</time>
                                <span class="event-kind">{e.kind.clone()}</span>
                                {e.percent.map(|p| view! { <span class="event-percent">{format!("{p}%")}</span> })}
                                <span class="event-message">{e.message.clone()}</span>
                            </li>
                        }).collect_view()}
                    </ol>
                }.into_any()
            }}
        </section>
    }
}
