//! Instance groups: the list, Create instance group with its Review step, and a group's page:
//! status and conditions, the per-zone distribution (a chart drawn by the server, and the same
//! numbers as a table), the instances with protection from scale-in, all following the group's
//! reconcile live; scaling and changing the template, sizes and rollout budgets through Review,
//! and delete with a typed-name confirmation.
//!
//! The group page keeps three resources side by side, each in its own `<Transition>`: the group
//! and its instances refetch on every event of the group, while the controls (scale, change,
//! delete) refetch only after a change is applied, so a person typing a count is not interrupted
//! by the reconcile they are watching. The controls' actions live at page level for the same
//! reason.

use super::zones::ResourceStatusBadge;
use super::PageHeader;
use crate::api::{
    get_group, group_choices, list_group_instances, list_groups, CreateGroup, DeleteGroup,
    SetInstanceProtection, UpdateGroup,
};
use crate::components::form::{FormError, TextField};
use crate::components::layout::use_session;
use crate::components::live::{use_tenant_resource_changes, LiveIndicator, RecentEvents};
use crate::components::page::EmptyState;
use crate::components::review::{ConfirmByName, ReviewStep};
use crate::components::status::{date_time, ErrorPanel, ProgressBar};
use crate::error::AppError;
use crate::live::use_live_events;
use crate::model::groups::{
    Distribution, GroupChange, GroupOverview, GroupPatch, GroupPolicy, GroupPolicyPatch,
    GroupTemplate, GroupView, Health, InstanceTypeChoice, InstanceView, NewGroup, RolloutBudget,
    ScaleInOrder,
};
use crate::model::resources::{dollars, ConditionStatus, ResourceStatus};
use crate::rbac::{allows, Action};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use uuid::Uuid;

fn can(action: Action) -> bool {
    use_session()
        .get_untracked()
        .and_then(|s| s.role())
        .is_some_and(|r| allows(r, action))
}

/// The message of an action's last error, for `FormError` (read with `try_get`: see
/// `components::form`).
fn error_of<T>(action: ServerAction<T>) -> impl Fn() -> Option<String> + Copy + Send + Sync
where
    T: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    T::Output: Clone + Send + Sync + 'static,
{
    move || {
        action
            .value()
            .try_get()
            .flatten()
            .and_then(|r| r.err())
            .map(|e| e.to_string())
    }
}

/// The server's message for one field from the action's last error.
fn field_error_of<T>(
    action: ServerAction<T>,
    field: &'static str,
) -> impl Fn() -> Option<String> + Copy + Send + Sync
where
    T: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    T::Output: Clone + Send + Sync + 'static,
{
    move || {
        action
            .value()
            .try_get()
            .flatten()
            .and_then(|r| r.err())
            .and_then(|e| e.field_message(field))
    }
}

/// A count typed in a form.
fn count(text: &str) -> Option<u32> {
    text.trim().parse().ok()
}

fn monthly(cents: Option<i64>) -> String {
    cents.map_or_else(
        || "not priced".to_string(),
        |c| format!("{}/month", dollars(c)),
    )
}

/// "42 s", "5 min", "3 h", "2 d": how long ago, counted from the server's clock.
fn age(now: i64, then: time::OffsetDateTime) -> String {
    let secs = (now - then.unix_timestamp()).max(0);
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86_400),
    }
}

/// The tenant's instance groups; a change of any resource reloads the list.
#[component]
pub fn InstanceGroupsPage() -> impl IntoView {
    let (live, changes) = use_tenant_resource_changes();
    let groups = Resource::new(move || changes.get(), |_| list_groups());
    view! {
        <Title text="Instance groups"/>
        <PageHeader title="Instance groups".to_string() subtitle="Identical instances spread over your zones and kept at the count you ask for.">
            <LiveIndicator status=live.status/>
            {can(Action::ManageResources).then(|| view! { <a class="button" href="/instance-groups/new">"Create instance group"</a> })}
        </PageHeader>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match groups.await {
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <EmptyState title="No instance groups yet" message="A group runs identical instances spread over Ready zones of one cloud account.">
                            {can(Action::ManageResources).then(|| view! { <a class="button secondary" href="/instance-groups/new">"Create instance group"</a> })}
                        </EmptyState>
                    }.into_any(),
                    Ok(list) => view! { <GroupTable groups=list/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn GroupTable(groups: Vec<(GroupView, Option<i64>)>) -> impl IntoView {
    view! {
        <section class="panel table-scroll">
            <table class="table stack">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Zones"</th>
                    <th scope="col">"Running / desired"</th><th scope="col">"Instance type"</th><th scope="col">"Monthly cost"</th>
                </tr></thead>
                <tbody>
                    {groups.into_iter().map(|(g, cost)| view! {
                        <tr>
                            <td data-label="Name"><a href=format!("/instance-groups/{}", g.group_id)>{g.name.clone()}</a></td>
                            <td data-label="Status"><ResourceStatusBadge status=g.status/></td>
                            <td data-label="Zones" class="small wrap">{g.zones.iter().map(|z| z.name.clone()).collect::<Vec<_>>().join(", ")}</td>
                            <td data-label="Running / desired"><span>{format!("{} / {}", g.running, g.desired)} <span class="muted small">{format!(" (min {}, max {})", g.min, g.max)}</span></span></td>
                            <td data-label="Instance type"><code>{g.template.instance_type.clone()}</code></td>
                            <td data-label="Monthly cost">{monthly(cost)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
pub fn InstanceGroupCreatePage() -> impl IntoView {
    let choices = Resource::new(|| (), |_| group_choices());
    let name = RwSignal::new(String::new());
    let account = RwSignal::new(String::new());
    let chosen = RwSignal::new(Vec::<Uuid>::new());
    let instance_type = RwSignal::new("t3.micro".to_string());
    let image = RwSignal::new(String::new());
    let min = RwSignal::new("1".to_string());
    let max = RwSignal::new("6".to_string());
    let desired = RwSignal::new("2".to_string());
    let distribution = RwSignal::new("balanced".to_string());
    let scale_in = RwSignal::new("oldest-first".to_string());
    // Counts that are not whole numbers are refused here, beside their field.
    let typos = RwSignal::new(Vec::<&'static str>::new());
    let review = ServerAction::<CreateGroup>::new();
    let apply = ServerAction::<CreateGroup>::new();
    let input = move || -> Option<NewGroup> {
        let fields = [("min", min), ("max", max), ("desired", desired)];
        let bad: Vec<&'static str> = fields
            .iter()
            .filter(|(_, v)| count(&v.get_untracked()).is_none())
            .map(|(f, _)| *f)
            .collect();
        typos.set(bad.clone());
        if !bad.is_empty() {
            return None;
        }
        Some(NewGroup {
            name: name.get_untracked(),
            zone_ids: chosen.get_untracked(),
            template: GroupTemplate {
                instance_type: instance_type.get_untracked(),
                image_id: image.get_untracked(),
                user_data: None,
                tags: Default::default(),
            },
            min: count(&min.get_untracked()).unwrap_or(0),
            max: count(&max.get_untracked()).unwrap_or(0),
            desired: count(&desired.get_untracked()),
            policy: GroupPolicy {
                distribution: Distribution::parse(&distribution.get_untracked())
                    .unwrap_or(Distribution::Balanced),
                scale_in: ScaleInOrder::parse(&scale_in.get_untracked())
                    .unwrap_or(ScaleInOrder::OldestFirst),
                ..GroupPolicy::default()
            },
        })
    };
    // Editing after a review makes the plan stale: show the form again.
    let reviewed = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(_)) = review.value().get() {
            reviewed.set(true);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(GroupChange { group: Some(g), .. })) = apply.value().get() {
            use_navigate()(
                &format!("/instance-groups/{}", g.group_id),
                Default::default(),
            );
        }
    });
    let field_error = move |field: &'static str| {
        let server = field_error_of(review, field);
        move || {
            if typos.try_get().is_some_and(|t| t.contains(&field)) {
                Some("Use a whole number.".to_string())
            } else {
                server()
            }
        }
    };
    let form_error = move || {
        review
            .value()
            .try_get()
            .flatten()
            .and_then(|r| r.err())
            .and_then(|e| e.form_message())
    };
    let apply_error = error_of(apply);
    view! {
        <Title text="Create instance group"/>
        <p class="breadcrumb"><a href="/instance-groups">"Instance groups"</a> " / Create"</p>
        <PageHeader title="Create instance group".to_string() subtitle="Stratus launches the instances spread over the zones you choose and keeps the group at the count you ask for."/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match choices.await {
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    Ok((zones, _)) if !zones.iter().any(|z| z.status == ResourceStatus::Ready) => view! {
                        <section class="panel empty"><p>"Create zones first and wait until they are Ready: a group's instances run in them. "<a href="/zones">"Zones"</a></p></section>
                    }.into_any(),
                    Ok((zones, types)) => {
                        let ready: Vec<_> = zones.iter().filter(|z| z.status == ResourceStatus::Ready).cloned().collect();
                        let waiting = zones.len() - ready.len();
                        let mut accounts: Vec<(Uuid, String)> = Vec::new();
                        for z in &ready {
                            if !accounts.iter().any(|(id, _)| *id == z.cloud_account_id) {
                                accounts.push((z.cloud_account_id, format!("{} ({})", z.cloud_account_name, z.region)));
                            }
                        }
                        if account.get_untracked().is_empty() {
                            let first = accounts[0].0;
                            account.set(first.to_string());
                            chosen.set(ready.iter().filter(|z| z.cloud_account_id == first).map(|z| z.zone_id).collect());
                        }
                        if !types.iter().any(|t| t.instance_type == instance_type.get_untracked()) {
                            if let Some(t) = types.first() {
                                instance_type.set(t.instance_type.clone());
                            }
                        }
                        let offered = move || {
                            let id: Option<Uuid> = account.get().parse().ok();
                            ready.iter().filter(|z| Some(z.cloud_account_id) == id).cloned().collect::<Vec<_>>()
                        };
                        let zones_error = field_error("zone_ids");
                        view! {
                            <section class="panel" hidden=move || reviewed.get()>
                                <form class="form grid-3" aria-label="Create an instance group" on:submit=move |ev| {
                                    ev.prevent_default();
                                    if let Some(group) = input() {
                                        review.dispatch(CreateGroup { group, dry_run: true, fingerprint: None });
                                    }
                                }>
                                    <FormError error=Signal::derive(form_error)/>
                                    <TextField label="Name" id="group-name" value=name error=Signal::derive(field_error("name")) hint="Lowercase letters, digits and hyphens, like web."/>
                                    <div class="field">
                                        <label for="group-account">"Cloud account"</label>
                                        <select id="group-account" prop:value=move || account.get() on:change=move |ev| {
                                            account.set(event_target_value(&ev));
                                            chosen.set(Vec::new());
                                        }>
                                            {accounts.iter().map(|(id, label)| view! { <option value=id.to_string()>{label.clone()}</option> }).collect_view()}
                                        </select>
                                        <p class="hint">"A group's zones share one cloud account and region."</p>
                                    </div>
                                    <fieldset class="field choice-list" class:invalid=move || zones_error().is_some() aria-describedby="group-zones-error">
                                        <legend>"Zones"</legend>
                                        {move || offered().into_iter().map(|z| {
                                            let id = z.zone_id;
                                            view! {
                                                <label class="choice">
                                                    <input type="checkbox" prop:checked=move || chosen.with(|c| c.contains(&id)) on:change=move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        chosen.update(|c| {
                                                            c.retain(|x| *x != id);
                                                            if on { c.push(id); }
                                                        });
                                                    }/>
                                                    " " {z.name.clone()} " " <span class="muted small">{z.availability_zone.clone()}</span>
                                                </label>
                                            }
                                        }).collect_view()}
                                        <p class="hint">{if waiting > 0 { format!("Ready zones only ({waiting} not ready yet). Instances are spread evenly; the order you tick them breaks ties.") } else { "Instances are spread evenly; the order you tick them breaks ties.".to_string() }}</p>
                                        {move || zones_error().map(|m| view! { <p class="field-error" id="group-zones-error">{m}</p> })}
                                    </fieldset>
                                    <div class="field" class:invalid=move || field_error("template.instance_type")().is_some()>
                                        <label for="group-type">"Instance type"</label>
                                        <select id="group-type" prop:value=move || instance_type.get() on:change=move |ev| instance_type.set(event_target_value(&ev))>
                                            {types.iter().map(|t| view! {
                                                <option value=t.instance_type.clone()>{format!("{} · {} vCPU{}", t.instance_type, t.vcpus, if t.vcpus == 1 { "" } else { "s" })}</option>
                                            }).collect_view()}
                                        </select>
                                        {move || field_error("template.instance_type")().map(|m| view! { <p class="field-error">{m}</p> })}
                                    </div>
                                    <TextField label="Image id" id="group-image" value=image error=Signal::derive(field_error("template.image_id")) hint="The machine image, like ami-0abcdef1234567890."/>
                                    <TextField label="Minimum" id="group-min" value=min error=Signal::derive(field_error("min"))/>
                                    <TextField label="Maximum" id="group-max" value=max error=Signal::derive(field_error("max")) hint="At most 1000."/>
                                    <TextField label="Desired" id="group-desired" value=desired error=Signal::derive(field_error("desired")) hint="Between the minimum and the maximum."/>
                                    <PolicyChoice label="Distribution" id="group-distribution" value=distribution options=distributions() hint=DISTRIBUTION_HINT/>
                                    <PolicyChoice label="Scale-in order" id="group-scale-in" value=scale_in options=scale_in_orders() hint=SCALE_IN_HINT/>
                                    <div class="form-actions">
                                        <button type="submit" class="button" disabled=move || review.pending().get()>"Review"</button>
                                    </div>
                                </form>
                            </section>
                        }.into_any()
                    }
                }
            })}
        </Transition>
        {move || match (reviewed.get(), review.value().get()) {
            (true, Some(Ok(change))) => Some(view! {
                <ReviewStep plan=change.plan apply_error=Signal::derive(apply_error) reviewed applying=apply.pending() label="Create instance group"
                    on_apply=Callback::new(move |fingerprint| {
                        if let Some(group) = input() {
                            apply.dispatch(CreateGroup { group, dry_run: false, fingerprint: Some(fingerprint) });
                        }
                    })/>
            }),
            _ => None,
        }}
    }
    .into_any()
}

#[component]
pub fn InstanceGroupPage() -> impl IntoView {
    let params = use_params_map();
    let group_id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<Uuid>().ok())
    };
    let topic = Signal::derive(move || group_id().map(|id| format!("resource:{id}")));
    let live = use_live_events(topic);
    let latest = Memo::new(move |_| live.events.with(|l| l.last().map(|e| e.id)));
    let scale_review = ServerAction::<UpdateGroup>::new();
    let scale_apply = ServerAction::<UpdateGroup>::new();
    let edit_review = ServerAction::<UpdateGroup>::new();
    let edit_apply = ServerAction::<UpdateGroup>::new();
    let delete_review = ServerAction::<DeleteGroup>::new();
    let delete_apply = ServerAction::<DeleteGroup>::new();
    let protect = ServerAction::<SetInstanceProtection>::new();
    let group = Resource::new(
        move || {
            (
                group_id(),
                live.generation.get(),
                latest.get(),
                scale_apply.version().get(),
                edit_apply.version().get(),
                delete_apply.version().get(),
            )
        },
        |(id, ..)| async move { get_group(id.ok_or(AppError::NotFound)?).await },
    );
    let instances = Resource::new(
        move || {
            (
                group_id(),
                live.generation.get(),
                latest.get(),
                protect.version().get(),
            )
        },
        |(id, ..)| async move {
            let id = id.ok_or(AppError::NotFound)?;
            list_group_instances(id)
                .await
                .map(|(list, now)| (id, list, now))
        },
    );
    // The controls refetch only after a change is applied (see the module comment).
    let controls = Resource::new(
        move || {
            (
                group_id(),
                scale_apply.version().get(),
                edit_apply.version().get(),
                delete_apply.version().get(),
            )
        },
        |(id, ..)| async move { get_group(id.ok_or(AppError::NotFound)?).await },
    );
    // The instance types the Change form offers (the price list's); asked only by those who
    // see the form.
    let manage = can(Action::ManageResources);
    let choices = Resource::new(
        move || manage,
        |manage| async move {
            if manage {
                group_choices().await
            } else {
                Ok(Default::default())
            }
        },
    );
    // One Review on the page at a time: a new review of one control hides the other's plan.
    let scale_reviewed = RwSignal::new(false);
    let edit_reviewed = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(_)) = scale_review.value().get() {
            scale_reviewed.set(true);
            edit_reviewed.set(false);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = scale_apply.value().get() {
            scale_reviewed.set(false);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = edit_review.value().get() {
            edit_reviewed.set(true);
            scale_reviewed.set(false);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = edit_apply.value().get() {
            edit_reviewed.set(false);
        }
    });
    let progress = Signal::derive(move || {
        live.events.with(|l| {
            l.iter()
                .rev()
                .find(|e| e.kind == "progress")
                .map(|e| (e.percent.unwrap_or(0), e.message.clone()))
        })
    });
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match group.await {
                    Err(error) => view! { <Title text="Instance group"/> <ErrorPanel error/> }.into_any(),
                    Ok(overview) => view! { <GroupDetail overview progress live_status=live.status/> }.into_any(),
                }
            })}
        </Transition>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match instances.await {
                    Err(_) => ().into_any(),
                    Ok((group_id, list, now)) => view! { <InstanceTable group_id instances=list now protect manage/> }.into_any(),
                }
            })}
        </Transition>
        {manage.then(|| view! {
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let types = choices.await.map(|(_, types)| types).unwrap_or_default();
                    match controls.await {
                        Ok(overview) if overview.group.deletion_requested_at.is_none() => {
                            let g = overview.group;
                            view! {
                                <GroupScale group=g.clone() review=scale_review apply=scale_apply reviewed=scale_reviewed/>
                                <GroupEdit group=g.clone() types review=edit_review apply=edit_apply reviewed=edit_reviewed/>
                                <GroupDelete group=g review=delete_review apply=delete_apply/>
                            }.into_any()
                        }
                        Ok(_) => view! {
                            <p class="alert alert-warn" role="status">"Deletion requested: every instance is terminated and confirmed gone, then the group is removed."</p>
                        }.into_any(),
                        Err(_) => ().into_any(),
                    }
                })}
            </Transition>
        })}
        <RecentEvents events=live.events noun="group"/>
    }
    .into_any()
}

#[component]
fn GroupDetail(
    overview: GroupOverview,
    progress: Signal<Option<(i16, String)>>,
    live_status: ReadSignal<crate::live::LiveStatus>,
) -> impl IntoView {
    let GroupOverview {
        group: g,
        monthly_cents,
        chart_svg,
    } = overview;
    let in_progress = g.status.in_progress();
    let percent = move || progress.try_get().flatten().map_or(0, |(p, _)| p);
    let message = move || {
        progress
            .try_get()
            .flatten()
            .map(|(_, m)| m)
            .unwrap_or_default()
    };
    let set_by = match &g.desired_set_by {
        Some(who) => format!("set by {who}, {}", date_time(g.desired_set_at)),
        None => format!("set {}", date_time(g.desired_set_at)),
    };
    view! {
        <Title text=format!("Instance group {}", g.name)/>
        <p class="breadcrumb"><a href="/instance-groups">"Instance groups"</a> " / " {g.name.clone()}</p>
        <PageHeader title=g.name.clone() subtitle=format!("{} × {} in {} ({})", g.desired, g.template.instance_type, g.region, g.cloud_account_name)>
            <LiveIndicator status=live_status/>
            <ResourceStatusBadge status=g.status/>
        </PageHeader>
        {in_progress.then(|| view! {
            <section class="panel">
                <ProgressBar percent label=format!("Progress of instance group {}", g.name)/>
                <p class="muted">{message}</p>
            </section>
        })}
        {(!g.waiting.is_empty()).then(|| view! {
            <div class="alert alert-warn" role="note">
                <strong>"Waiting"</strong>
                <ul>{g.waiting.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
            </div>
        })}
        {g.last_error.clone().map(|e| view! {
            <div class="alert alert-error" role="alert">
                <strong>"The cloud provider refused"</strong>
                <details><summary>"Details"</summary><pre class="error-text">{e}</pre></details>
            </div>
        })}
        <section class="panel">
            <dl class="facts">
                <div><dt>"Instances"</dt><dd>{format!("{} running of {} desired (min {}, max {})", g.running, g.desired, g.min, g.max)}</dd></div>
                <div><dt>"Desired"</dt><dd>{set_by}</dd></div>
                <div><dt>"Template"</dt><dd><code>{g.template.instance_type.clone()}</code> " " <code class="id">{g.template.image_id.clone()}</code> {format!(" (revision {})", g.revision)}</dd></div>
                <div><dt>"Distribution"</dt><dd>{format!("{}; scale-in {}", g.policy.distribution.as_str(), g.policy.scale_in.as_str())}</dd></div>
                <div><dt>"Rollout"</dt><dd>{format!("max surge {}, max unavailable {}", g.policy.max_surge.label(), g.policy.max_unavailable.label())}</dd></div>
                <div><dt>"Health"</dt><dd>{format!("the provider's status checks, after a grace of {} s; repair while at most {}% is unhealthy", g.policy.health_grace_secs, g.policy.repair_budget_percent)}</dd></div>
                <div><dt>"Security group"</dt><dd>{g.security_group_id.clone().map(|v| view! { <code class="id">{v}</code> }.into_any()).unwrap_or_else(|| view! { <span class="muted">"not created yet"</span> }.into_any())}</dd></div>
                <div><dt>"Monthly cost"</dt><dd>{monthly(monthly_cents)}</dd></div>
                <div><dt>"Generation"</dt><dd>{format!("{} (observed {})", g.generation, g.observed_generation)}</dd></div>
                <div><dt>"Created"</dt><dd>{date_time(g.created_at)}</dd></div>
            </dl>
        </section>
        <section class="panel table-scroll" aria-labelledby="distribution-heading">
            <h2 id="distribution-heading">"Distribution over zones"</h2>
            <p class="muted small">
                <span class="legend legend-ok">"running"</span>
                <span class="legend legend-starting">"starting"</span>
                <span class="legend legend-target">"wanted by the plan"</span>
            </p>
            <div class="chart-box distribution-chart" inner_html=chart_svg></div>
            <table class="table compact stack">
                <caption class="sr-only">"The current plan, per zone"</caption>
                <thead><tr>
                    <th scope="col">"Zone"</th><th scope="col">"Running"</th><th scope="col">"Members"</th>
                    <th scope="col">"Target"</th><th scope="col">"Capacity"</th>
                </tr></thead>
                <tbody>
                    {g.zones.iter().map(|z| view! {
                        <tr>
                            <td data-label="Zone"><span><strong>{z.name.clone()}</strong> " " <span class="muted small">{z.availability_zone.clone()}</span></span></td>
                            <td data-label="Running">{z.running}</td>
                            <td data-label="Members">{z.current}</td>
                            <td data-label="Target">{z.target}</td>
                            <td data-label="Capacity" class="small wrap">{z.capacity_failure.clone().unwrap_or_else(|| "available".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section class="panel table-scroll">
            <h2>"Conditions"</h2>
            <table class="table compact stack">
                <thead><tr><th scope="col">"Type"</th><th scope="col">"Status"</th><th scope="col">"Reason"</th><th scope="col">"Message"</th><th scope="col">"Since"</th></tr></thead>
                <tbody>
                    {g.conditions.iter().map(|c| view! {
                        <tr>
                            <th scope="row">{c.type_.clone()}</th>
                            <td data-label="Status">{match c.status { ConditionStatus::True => "True", ConditionStatus::False => "False", ConditionStatus::Unknown => "Unknown" }}</td>
                            <td data-label="Reason">{c.reason.clone()}</td>
                            <td data-label="Message" class="small wrap">{c.message.clone()}</td>
                            <td data-label="Since" class="small">{date_time(c.last_transition_at)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
fn InstanceTable(
    group_id: Uuid,
    instances: Vec<InstanceView>,
    now: i64,
    protect: ServerAction<SetInstanceProtection>,
    manage: bool,
) -> impl IntoView {
    let total = instances.len();
    let protect_error = error_of(protect);
    view! {
        <section class="panel table-scroll" aria-labelledby="instances-heading">
            <h2 id="instances-heading">{format!("Instances ({total})")}</h2>
            <FormError error=Signal::derive(protect_error)/>
            {if instances.is_empty() {
                view! { <p class="muted">"No instances: they appear here as they are launched."</p> }.into_any()
            } else {
                view! {
                    <table class="table compact stack instances">
                        <thead><tr>
                            <th scope="col">"Instance"</th><th scope="col">"Zone"</th><th scope="col">"Revision"</th>
                            <th scope="col">"State"</th><th scope="col">"Health"</th><th scope="col">"Age"</th><th scope="col">"Protected"</th>
                            {manage.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                        </tr></thead>
                        <tbody>
                            {instances.into_iter().map(|i| {
                                let name = i.provider_id.clone().unwrap_or_else(|| "launching".to_string());
                                // The status checks say why: "impaired" over the failing
                                // check's name, "initializing"; both ok reads "healthy".
                                let (health_class, health, failing) = match (i.health, i.checks) {
                                    (_, Some(c)) if c.impaired() => ("badge badge-error", "impaired".to_string(), c.failing()),
                                    (Health::Healthy, _) => ("badge badge-ok", "healthy".to_string(), None),
                                    (Health::Unhealthy, _) => ("badge badge-error", "unhealthy".to_string(), None),
                                    (Health::Unknown, Some(c)) => ("badge", c.summary().as_str().replace('-', " "), None),
                                    (Health::Unknown, None) => ("badge", "unknown".to_string(), None),
                                };
                                let (instance_id, protected) = (i.instance_id, i.protected);
                                view! {
                                    <tr data-instance=i.instance_id.to_string()>
                                        <td data-label="Instance">{match &i.provider_id {
                                            Some(p) => view! { <div><code class="id">{p.clone()}</code></div> }.into_any(),
                                            None => view! { <span class="muted">"launching…"</span> }.into_any(),
                                        }}</td>
                                        <td data-label="Zone"><code>{i.availability_zone.clone()}</code></td>
                                        <td data-label="Revision">{i.revision}</td>
                                        <td data-label="State">{i.state.as_str().replace('_', " ")}</td>
                                        <td data-label="Health"><span class="health"><span class=health_class>{health}</span>{failing.map(|f| view! { <span class="small muted">{f}</span> })}</span></td>
                                        <td data-label="Age">{age(now, i.launched_at)}</td>
                                        <td data-label="Protected">{if protected { "yes" } else { "no" }}</td>
                                        {manage.then(|| view! {
                                            <td class="actions">
                                                <button class="button small secondary" disabled=move || protect.pending().try_get().unwrap_or(true)
                                                    aria-label=format!("{} instance {name}", if protected { "Unprotect" } else { "Protect" })
                                                    on:click=move |_| {
                                                        protect.dispatch(SetInstanceProtection { group_id, instance_id, protected: !protected });
                                                    }>
                                                    {if protected { "Unprotect" } else { "Protect" }}
                                                </button>
                                            </td>
                                        })}
                                    </tr>
                                }
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
    .into_any()
}

/// Scale: the new desired count, its plan (per zone, quota, cost), then Apply.
#[component]
fn GroupScale(
    group: GroupView,
    review: ServerAction<UpdateGroup>,
    apply: ServerAction<UpdateGroup>,
    reviewed: RwSignal<bool>,
) -> impl IntoView {
    let desired = RwSignal::new(group.desired.to_string());
    let typo = RwSignal::new(false);
    let id = group.group_id;
    let (min, max) = (group.min, group.max);
    let server_error = field_error_of(review, "desired");
    let error = move || {
        if typo.try_get().unwrap_or(false) {
            Some(format!("Use a whole number from {min} to {max}."))
        } else {
            server_error()
        }
    };
    let form_error = move || {
        review
            .value()
            .try_get()
            .flatten()
            .and_then(|r| r.err())
            .and_then(|e| e.form_message())
    };
    let apply_error = error_of(apply);
    let patch = move |n: u32| GroupPatch {
        desired: Some(n),
        ..Default::default()
    };
    view! {
        <section class="panel" aria-labelledby="scale-heading">
            <h2 id="scale-heading">"Scale"</h2>
            <form class="form inline" aria-label="Scale the group" on:submit=move |ev| {
                ev.prevent_default();
                match count(&desired.get_untracked()) {
                    None => typo.set(true),
                    Some(n) => {
                        typo.set(false);
                        review.dispatch(UpdateGroup { group_id: id, patch: patch(n), dry_run: true, fingerprint: None });
                    }
                }
            }>
                <FormError error=Signal::derive(form_error)/>
                <TextField label="Desired instances" id="group-scale-desired" value=desired error=Signal::derive(error)/>
                <button type="submit" class="button secondary" disabled=move || review.pending().try_get().unwrap_or(true)>"Review scale"</button>
            </form>
            <p class="hint">{format!("From {min} to {max}. Scale-in takes zone balance first, then old template revisions, then {}; never protected instances.", group.policy.scale_in.as_str().replace('-', " "))}</p>
            {move || match (reviewed.try_get().unwrap_or(false), review.value().try_get().flatten()) {
                (true, Some(Ok(change))) => Some(view! {
                    <ReviewStep plan=change.plan apply_error=Signal::derive(apply_error) reviewed applying=apply.pending() label="Apply scale"
                        on_apply=Callback::new(move |fingerprint| {
                            if let Some(n) = count(&desired.get_untracked()) {
                                apply.dispatch(UpdateGroup { group_id: id, patch: patch(n), dry_run: false, fingerprint: Some(fingerprint) });
                            }
                        })/>
                }),
                _ => None,
            }}
            {move || match apply.value().try_get().flatten() {
                Some(Ok(change)) => change.group.map(|g| view! {
                    <p class="alert alert-ok" role="status">{format!("Desired is now {}: the instances above follow it live.", g.desired)}</p>
                }),
                _ => None,
            }}
        </section>
    }
    .into_any()
}

/// A choice among a policy's values (`(value, label)`): distribution and scale-in order, on the
/// create page and in Change.
#[component]
fn PolicyChoice(
    label: &'static str,
    id: &'static str,
    value: RwSignal<String>,
    options: Vec<(&'static str, &'static str)>,
    hint: &'static str,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id prop:value=move || value.get() on:change=move |ev| value.set(event_target_value(&ev))>
                {options.into_iter().map(|(v, text)| view! { <option value=v>{text}</option> }).collect_view()}
            </select>
            <p class="hint">{hint}</p>
        </div>
    }
    .into_any()
}

/// The distribution choices: each value is the policy's own name, so the choice always parses.
fn distributions() -> Vec<(&'static str, &'static str)> {
    Distribution::ALL
        .into_iter()
        .map(|d| {
            let label = match d {
                Distribution::Balanced => "Balanced: as even as capacity allows",
                Distribution::EvenStrict => "Even, strict: zones differ by at most one",
                Distribution::Any => "Any: wherever capacity is",
            };
            (d.as_str(), label)
        })
        .collect()
}
const DISTRIBUTION_HINT: &str = "Balanced launches elsewhere while a zone has no capacity and rebalances when it recovers; even-strict waits for it.";
/// The scale-in orders, named as the policy names them.
fn scale_in_orders() -> Vec<(&'static str, &'static str)> {
    ScaleInOrder::ALL
        .into_iter()
        .map(|o| {
            let label = match o {
                ScaleInOrder::OldestFirst => "Oldest first",
                ScaleInOrder::NewestFirst => "Newest first",
            };
            (o.as_str(), label)
        })
        .collect()
}
const SCALE_IN_HINT: &str =
    "After zone balance and old template revisions; protected instances are never chosen.";

/// Change: the template's instance type and image (a new revision, rolled out within max surge
/// and max unavailable, shown per zone in the plan), min and max, the rollout budgets,
/// distribution, scale-in order and health, through Review. Only the fields that differ from
/// the group go into the change, so `desired` and everything else are kept.
#[component]
fn GroupEdit(
    group: GroupView,
    types: Vec<InstanceTypeChoice>,
    review: ServerAction<UpdateGroup>,
    apply: ServerAction<UpdateGroup>,
    reviewed: RwSignal<bool>,
) -> impl IntoView {
    let id = group.group_id;
    let instance_type = RwSignal::new(group.template.instance_type.clone());
    let image = RwSignal::new(group.template.image_id.clone());
    let min = RwSignal::new(group.min.to_string());
    let max = RwSignal::new(group.max.to_string());
    let surge = RwSignal::new(group.policy.max_surge.label());
    let unavailable = RwSignal::new(group.policy.max_unavailable.label());
    let distribution = RwSignal::new(group.policy.distribution.as_str().to_string());
    let scale_in = RwSignal::new(group.policy.scale_in.as_str().to_string());
    let grace = RwSignal::new(group.policy.health_grace_secs.to_string());
    let repair = RwSignal::new(group.policy.repair_budget_percent.to_string());
    // Fields the browser refuses (not a count, not a budget), and "nothing changed".
    let typos = RwSignal::new(Vec::<&'static str>::new());
    let unchanged = RwSignal::new(false);
    let mut offered = types;
    if !offered
        .iter()
        .any(|t| t.instance_type == group.template.instance_type)
    {
        // A type the price list no longer has: still shown as what the group runs.
        offered.insert(
            0,
            InstanceTypeChoice {
                instance_type: group.template.instance_type.clone(),
                vcpus: 0,
            },
        );
    }
    let current = StoredValue::new(group);
    let patch = move || -> Option<GroupPatch> {
        let g = current.get_value();
        let (min_v, max_v) = (count(&min.get_untracked()), count(&max.get_untracked()));
        let surge_v = RolloutBudget::parse(&surge.get_untracked());
        let unavailable_v = RolloutBudget::parse(&unavailable.get_untracked());
        let (grace_v, repair_v) = (
            count(&grace.get_untracked()),
            count(&repair.get_untracked()),
        );
        let mut bad = Vec::new();
        for (field, ok) in [
            ("min", min_v.is_some()),
            ("max", max_v.is_some()),
            ("policy.max_surge", surge_v.is_some()),
            ("policy.max_unavailable", unavailable_v.is_some()),
            ("policy.health_grace_secs", grace_v.is_some()),
            ("policy.repair_budget_percent", repair_v.is_some()),
        ] {
            if !ok {
                bad.push(field);
            }
        }
        typos.set(bad.clone());
        let (
            Some(min_v),
            Some(max_v),
            Some(surge_v),
            Some(unavailable_v),
            Some(grace_v),
            Some(repair_v),
        ) = (min_v, max_v, surge_v, unavailable_v, grace_v, repair_v)
        else {
            return None;
        };
        let mut template = g.template.clone();
        template.instance_type = instance_type.get_untracked();
        template.image_id = image.get_untracked().trim().to_string();
        let policy = GroupPolicyPatch {
            max_surge: (surge_v != g.policy.max_surge).then_some(surge_v),
            max_unavailable: (unavailable_v != g.policy.max_unavailable).then_some(unavailable_v),
            distribution: Distribution::parse(&distribution.get_untracked())
                .filter(|d| *d != g.policy.distribution),
            scale_in: ScaleInOrder::parse(&scale_in.get_untracked())
                .filter(|o| *o != g.policy.scale_in),
            health_grace_secs: (grace_v != g.policy.health_grace_secs).then_some(grace_v),
            repair_budget_percent: (repair_v != g.policy.repair_budget_percent).then_some(repair_v),
            ..Default::default()
        };
        Some(GroupPatch {
            template: (template != g.template).then_some(template),
            min: (min_v != g.min).then_some(min_v),
            max: (max_v != g.max).then_some(max_v),
            policy: (policy != GroupPolicyPatch::default()).then_some(policy),
            ..Default::default()
        })
    };
    let field_error = move |field: &'static str| {
        let server = field_error_of(review, field);
        move || {
            if typos.try_get().is_some_and(|t| t.contains(&field)) {
                Some(
                    if matches!(field, "policy.max_surge" | "policy.max_unavailable") {
                        "Use a count such as 1, or a percentage such as 25%.".to_string()
                    } else {
                        "Use a whole number.".to_string()
                    },
                )
            } else {
                server()
            }
        }
    };
    let form_error = move || {
        if unchanged.try_get().unwrap_or(false) {
            return Some("Nothing is changed yet: edit a field, then review.".to_string());
        }
        review
            .value()
            .try_get()
            .flatten()
            .and_then(|r| r.err())
            .and_then(|e| e.form_message())
    };
    let apply_error = error_of(apply);
    let type_error = field_error("template.instance_type");
    view! {
        <section class="panel" aria-labelledby="edit-heading">
            <h2 id="edit-heading">"Change"</h2>
            <form class="form grid-3" aria-label="Change the group" on:submit=move |ev| {
                ev.prevent_default();
                let Some(patch) = patch() else { return };
                let nothing = patch == GroupPatch::default();
                unchanged.set(nothing);
                if !nothing {
                    review.dispatch(UpdateGroup { group_id: id, patch, dry_run: true, fingerprint: None });
                }
            }>
                <FormError error=Signal::derive(form_error)/>
                <div class="field" class:invalid=move || type_error().is_some()>
                    <label for="group-edit-type">"Instance type"</label>
                    <select id="group-edit-type" prop:value=move || instance_type.get() on:change=move |ev| instance_type.set(event_target_value(&ev))
                        aria-invalid=move || if type_error().is_some() { "true" } else { "false" }
                        aria-describedby=move || type_error().map(|_| "group-edit-type-error")>
                        {offered.iter().map(|t| view! {
                            <option value=t.instance_type.clone()>{if t.vcpus == 0 { t.instance_type.clone() } else { format!("{} · {} vCPU{}", t.instance_type, t.vcpus, if t.vcpus == 1 { "" } else { "s" }) }}</option>
                        }).collect_view()}
                    </select>
                    {move || type_error().map(|m| view! { <p class="field-error" id="group-edit-type-error">{m}</p> })}
                </div>
                <TextField label="Image id" id="group-edit-image" value=image error=Signal::derive(field_error("template.image_id"))/>
                <TextField label="Minimum" id="group-edit-min" value=min error=Signal::derive(field_error("min"))/>
                <TextField label="Maximum" id="group-edit-max" value=max error=Signal::derive(field_error("max"))/>
                <TextField label="Max surge" id="group-edit-surge" value=surge error=Signal::derive(field_error("policy.max_surge")) hint="Extra instances while rolling: 1, or 25% of each zone."/>
                <TextField label="Max unavailable" id="group-edit-unavailable" value=unavailable error=Signal::derive(field_error("policy.max_unavailable")) hint="Fewer than desired while rolling: 0 never drops below it."/>
                <PolicyChoice label="Distribution" id="group-edit-distribution" value=distribution options=distributions() hint=DISTRIBUTION_HINT/>
                <PolicyChoice label="Scale-in order" id="group-edit-scale-in" value=scale_in options=scale_in_orders() hint=SCALE_IN_HINT/>
                <TextField label="Health grace (seconds)" id="group-edit-grace" value=grace error=Signal::derive(field_error("policy.health_grace_secs")) hint="A new instance is not judged unhealthy before this."/>
                <TextField label="Repair budget (%)" id="group-edit-repair" value=repair error=Signal::derive(field_error("policy.repair_budget_percent")) hint="Replace unhealthy instances while at most this share is unhealthy; beyond it the group is Degraded."/>
                <div class="form-actions">
                    <button type="submit" class="button secondary" disabled=move || review.pending().try_get().unwrap_or(true)>"Review change"</button>
                </div>
            </form>
            <p class="hint">"A new instance type or image is a new template revision: the group's instances are replaced zone by zone within max surge and max unavailable. Desired is changed under Scale. Fields left as they are are kept; zones, user data, tags and the capacity retry are changed through the API."</p>
            {move || match (reviewed.try_get().unwrap_or(false), review.value().try_get().flatten()) {
                (true, Some(Ok(change))) => Some(view! {
                    <ReviewStep plan=change.plan apply_error=Signal::derive(apply_error) reviewed applying=apply.pending() label="Apply change"
                        on_apply=Callback::new(move |fingerprint| {
                            if let Some(patch) = patch() {
                                apply.dispatch(UpdateGroup { group_id: id, patch, dry_run: false, fingerprint: Some(fingerprint) });
                            }
                        })/>
                }),
                _ => None,
            }}
            {move || match apply.value().try_get().flatten() {
                Some(Ok(change)) => change.group.map(|g| view! {
                    <p class="alert alert-ok" role="status">{format!(
                        "Changed: {} on revision {}, min {}, max {}. The instances above follow it live.",
                        g.template.instance_type, g.revision, g.min, g.max
                    )}</p>
                }),
                _ => None,
            }}
        </section>
    }
    .into_any()
}

/// Delete: the plan first (every instance terminated, protected ones too), then the group's
/// name typed to confirm.
#[component]
fn GroupDelete(
    group: GroupView,
    review: ServerAction<DeleteGroup>,
    apply: ServerAction<DeleteGroup>,
) -> impl IntoView {
    let id = group.group_id;
    let name = group.name.clone();
    let review_error = error_of(review);
    let apply_error = error_of(apply);
    view! {
        <section class="panel danger-zone">
            <h2>"Delete instance group"</h2>
            <FormError error=Signal::derive(review_error)/>
            {move || match review.value().try_get().flatten() {
                Some(Ok(change)) => view! {
                    <ConfirmByName plan=change.plan apply_error=Signal::derive(apply_error) applying=apply.pending() kind="instance group" name=name.clone() id="group-delete-confirm"
                        on_confirm=Callback::new(move |fingerprint| {
                            apply.dispatch(DeleteGroup { group_id: id, dry_run: false, fingerprint: Some(fingerprint) });
                        })/>
                }.into_any(),
                _ => view! {
                    <p class="muted">"Deleting terminates every instance of the group, protected ones too, and confirms each is gone before the group is removed."</p>
                    <button class="button danger" disabled=move || review.pending().try_get().unwrap_or(true) on:click=move |_| {
                        review.dispatch(DeleteGroup { group_id: id, dry_run: true, fingerprint: None });
                    }>"Review deletion"</button>
                }.into_any(),
            }}
        </section>
    }
    .into_any()
}
