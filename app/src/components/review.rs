//! The Review step every resource change goes through: the plan (diff, provider changes,
//! quota, cost), then Apply; and the typed-name confirmation of a delete.

use crate::components::form::{FormError, TextField};
use crate::components::status::ProgressBar;
use crate::model::resources::{dollars, ChangeAction, Plan};
use leptos::prelude::*;

/// A plan as the Review step shows it: the spec's diff, what happens at the provider, the quota
/// and the monthly cost, and any warnings.
#[component]
pub fn PlanView(plan: Plan) -> impl IntoView {
    let over_quota = plan.quota.iter().any(|q| q.exceeded());
    view! {
        <section class="panel plan" aria-label="Plan">
            <h2>"Review"</h2>
            {(!plan.warnings.is_empty()).then(|| view! {
                <div class="alert alert-warn" role="note">
                    <ul>{plan.warnings.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
                </div>
            })}
            // A change of nothing but how it is applied (a database's "apply now") has no fields.
            {(!plan.diff.is_empty()).then(|| view! {
                <h3>"Changes"</h3>
                <table class="table compact">
                    <thead><tr><th scope="col">"Field"</th><th scope="col">"Now"</th><th scope="col">"After"</th></tr></thead>
                    <tbody>
                        {plan.diff.iter().map(|d| view! {
                            <tr>
                                <th scope="row">{d.field.replace('_', " ")}</th>
                                <td>{d.old.clone().unwrap_or_else(|| "—".into())}</td>
                                <td>{d.new.clone().unwrap_or_else(|| "—".into())}</td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            })}
            <h3>"At the cloud provider"</h3>
            <ul class="provider-changes">
                {plan.provider_changes.iter().map(|c| {
                    let (class, verb) = match c.action {
                        ChangeAction::Create => ("change-create", "create"),
                        ChangeAction::Update => ("change-update", "update"),
                        ChangeAction::Destroy => ("change-destroy", "destroy"),
                        ChangeAction::Keep => ("change-keep", "keep"),
                    };
                    view! { <li class=class><span class="change-verb">{verb}</span> " " <strong>{c.object.clone()}</strong> " " {c.detail.clone()}</li> }
                }).collect_view()}
            </ul>
            <div class="plan-facts">
                {plan.quota.iter().map(|q| {
                    let percent = if q.limit > 0 { (q.used_after * 100 / q.limit).clamp(0, 100) as i16 } else { 100 };
                    view! {
                        <div class="quota" class:over=q.exceeded()>
                            <span>{format!("{} quota: {} → {} of {}", q.quota, q.used_before, q.used_after, q.limit)}</span>
                            <ProgressBar percent=move || percent label=format!("{} quota after this change", q.quota)/>
                        </div>
                    }
                }).collect_view()}
                <p class="cost">
                    "Monthly cost: " {dollars(plan.cost.monthly_before_cents)} " → " <strong>{dollars(plan.cost.monthly_after_cents)}</strong>
                    <span class="muted small">{format!(" {} ({})", plan.cost.note, plan.cost.price_list)}</span>
                </p>
            </div>
            {over_quota.then(|| view! { <div class="alert alert-error" role="alert">"This change would exceed the tenant's quota: ask a platform admin to raise it."</div> })}
        </section>
    }
    .into_any()
}

/// A create's Review step: the plan, the apply's error, "Back to edit" (which hides the plan and
/// shows the form again: an edit makes the plan stale) and the apply button, which sends the
/// plan's fingerprint and is off over quota or while applying.
#[component]
pub fn ReviewStep(
    plan: Plan,
    #[prop(into)] apply_error: Signal<Option<String>>,
    reviewed: RwSignal<bool>,
    #[prop(into)] applying: Signal<bool>,
    /// The apply button's text, e.g. "Create zone".
    label: &'static str,
    /// Called with the plan's fingerprint.
    on_apply: Callback<String>,
) -> impl IntoView {
    let fingerprint = plan.fingerprint.clone();
    let over = plan.quota.iter().any(|q| q.exceeded());
    view! {
        <PlanView plan/>
        <FormError error=apply_error/>
        <div class="button-row">
            <button class="button secondary" on:click=move |_| reviewed.set(false)>"Back to edit"</button>
            <button class="button" disabled=move || over || applying.get() on:click=move |_| on_apply.run(fingerprint.clone())>{label}</button>
        </div>
    }
    .into_any()
}

/// A delete's confirmation after its plan: the plan, the apply's error, and the resource's name
/// typed before "Delete <kind> <name>" is enabled.
#[component]
pub fn ConfirmByName(
    plan: Plan,
    #[prop(into)] apply_error: Signal<Option<String>>,
    #[prop(into)] applying: Signal<bool>,
    /// "zone", "database", "instance group".
    kind: &'static str,
    name: String,
    /// The confirmation field's id.
    id: &'static str,
    /// Called with the plan's fingerprint.
    on_confirm: Callback<String>,
) -> impl IntoView {
    let fingerprint = plan.fingerprint.clone();
    let typed = RwSignal::new(String::new());
    let expected = name.clone();
    let matches = move || typed.get() == expected;
    view! {
        <PlanView plan/>
        <FormError error=apply_error/>
        <form class="form inline" aria-label="Confirm deletion" on:submit=move |ev| {
            ev.prevent_default();
            on_confirm.run(fingerprint.clone());
        }>
            <TextField label=format!("Type the {kind}'s name to confirm") id value=typed error=Signal::derive(|| None::<String>)/>
            <button type="submit" class="button danger" disabled=move || !matches() || applying.get()>{format!("Delete {kind} {name}")}</button>
        </form>
    }
    .into_any()
}
