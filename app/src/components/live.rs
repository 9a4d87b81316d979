//! The live-updates indicator shown next to a page's title, and the live source of the
//! resource lists.

use crate::components::layout::use_session;
use crate::components::status::date_time;
use crate::live::{use_live_events, LiveEvent, LiveEvents, LiveStatus};
use leptos::prelude::*;

/// The current tenant's event stream for a resource list, and a key for the list's `Resource`:
/// it changes when the stream (re)connects or any of the tenant's resources has a new event, so
/// the list reloads then.
pub fn use_tenant_resource_changes() -> (LiveEvents, Memo<(u32, Option<i64>)>) {
    let session = use_session();
    let topic = Signal::derive(move || {
        session
            .get()
            .and_then(|s| s.current)
            .map(|t| format!("tenant:{}", t.tenant_id))
    });
    let live = use_live_events(topic);
    let changes = Memo::new(move |_| {
        let newest = live.events.with(|l| {
            l.iter()
                .filter(|e| e.resource_id.is_some())
                .map(|e| e.id)
                .max()
        });
        (live.generation.get(), newest)
    });
    (live, changes)
}

#[component]
pub fn LiveIndicator(status: ReadSignal<LiveStatus>) -> impl IntoView {
    let class = move || match status.get() {
        LiveStatus::Live => "live-indicator live-on",
        LiveStatus::Connecting | LiveStatus::Reconnecting => "live-indicator live-waiting",
        LiveStatus::Refused => "live-indicator live-off",
    };
    view! {
        <span class=class role="status" aria-live="polite" data-live=move || format!("{:?}", status.get()).to_lowercase()>
            <span class="live-dot" aria-hidden="true"></span>
            {move || status.get().label()}
        </span>
    }
    .into_any()
}

/// A resource page's recent job events as they arrive (the newest 30, newest first).
#[component]
pub fn RecentEvents(
    events: ReadSignal<Vec<LiveEvent>>,
    /// "zone", "database", "group": the empty state names it.
    noun: &'static str,
) -> impl IntoView {
    view! {
        <section class="panel">
            <h2>"Recent events"</h2>
            {move || {
                let events = events.get();
                if events.is_empty() {
                    view! { <p class="muted">{format!("Events of this {noun}'s jobs appear here as they happen.")}</p> }.into_any()
                } else {
                    view! {
                        <ol class="event-log" aria-live="polite">
                            {events.into_iter().rev().take(30).map(|e| view! {
                                <li><span class="muted small">{date_time(e.at)}</span> " " <a href=format!("/jobs/{}", e.job_id)>{format!("#{}", e.job_id)}</a> " " {e.message}</li>
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }
            }}
        </section>
    }
    .into_any()
}
