//! The live-updates indicator shown next to a page's title.

use crate::live::LiveStatus;
use leptos::prelude::*;

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
