//! Placeholders for the resource pages (instance groups) that arrive with
//! their own issues: the navigation already has their place, and each answers with the shared
//! empty state until its page replaces the route.

use super::PageHeader;
use crate::components::page::EmptyState;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn ComingSoon(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <PageHeader title=title.to_string()/>
        <EmptyState title=format!("{title} are coming soon") message=format!("{what} will be created and listed here, within your tenant's quotas.")>
            <a class="button secondary" href="/jobs">"See recent jobs"</a>
        </EmptyState>
    }
    .into_any()
}

#[component]
pub fn InstanceGroupsSoonPage() -> impl IntoView {
    view! { <ComingSoon title="Instance groups" what="Groups of identical instances"/> }.into_any()
}
