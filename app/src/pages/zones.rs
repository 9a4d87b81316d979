//! Zones: the list, Create zone with its Review step, and a zone's page that follows its
//! reconcile live (progress, conditions, the provider's ids) with rename and delete.

use super::PageHeader;
use crate::api::{get_zone, list_zones, zone_choices, CreateZone, DeleteZone, UpdateZone};
use crate::components::form::{FormError, TextField};
use crate::components::layout::use_session;
use crate::components::live::{use_tenant_resource_changes, LiveIndicator, RecentEvents};
use crate::components::review::{ConfirmByName, ReviewStep};
use crate::components::status::{date_time, ErrorPanel, ProgressBar};
use crate::error::AppError;
use crate::live::use_live_events;
use crate::model::resources::{
    ConditionStatus, NewZone, ResourceStatus, ZoneChange, ZonePatch, ZoneView,
};
use crate::rbac::{allows, Action};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};
use uuid::Uuid;

fn can_manage() -> bool {
    use_session()
        .get_untracked()
        .and_then(|s| s.role())
        .is_some_and(|r| allows(r, Action::ManageResources))
}

#[component]
pub fn ResourceStatusBadge(status: ResourceStatus) -> impl IntoView {
    let class = match status {
        ResourceStatus::Ready => "badge badge-ok",
        ResourceStatus::Failed => "badge badge-error",
        ResourceStatus::Deleting | ResourceStatus::Deleted => "badge badge-warn",
        _ => "badge badge-info",
    };
    view! { <span class=class data-status=status.as_str()>{status.as_str()}</span> }.into_any()
}

/// The tenant's zones; a change of any of them (a job event for the tenant) reloads the list.
#[component]
pub fn ZonesPage() -> impl IntoView {
    let (live, changes) = use_tenant_resource_changes();
    let zones = Resource::new(move || changes.get(), |_| list_zones());
    view! {
        <Title text="Zones"/>
        <PageHeader title="Zones".to_string() subtitle="Where this tenant's instances and databases run: an availability zone of a cloud account, with its network.">
            <LiveIndicator status=live.status/>
            {can_manage().then(|| view! { <a class="button" href="/zones/new">"Create zone"</a> })}
        </PageHeader>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match zones.await {
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <section class="panel empty"><p>"No zones yet. Create one to choose where this tenant's instances and databases run."</p></section>
                    }.into_any(),
                    Ok(list) => view! { <ZoneTable zones=list/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn ZoneTable(zones: Vec<ZoneView>) -> impl IntoView {
    view! {
        <section class="panel table-scroll">
            <table class="table">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Availability zone"</th>
                    <th scope="col">"Cloud account"</th><th scope="col">"Subnet"</th><th scope="col">"AWS ids"</th>
                </tr></thead>
                <tbody>
                    {zones.into_iter().map(|z| view! {
                        <tr>
                            <td><a href=format!("/zones/{}", z.zone_id)>{z.name.clone()}</a></td>
                            <td><ResourceStatusBadge status=z.status/></td>
                            <td><code>{z.availability_zone.clone()}</code></td>
                            <td>{z.cloud_account_name.clone()}</td>
                            <td><code>{z.subnet_cidr.clone()}</code></td>
                            <td class="small">
                                {[z.vpc_id.clone(), z.subnet_id.clone(), z.security_group_id.clone()]
                                    .into_iter().flatten().map(|id| view! { <div><code class="id">{id}</code></div> }).collect_view()}
                            </td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
pub fn ZoneCreatePage() -> impl IntoView {
    let choices = Resource::new(|| (), |_| zone_choices());
    let name = RwSignal::new(String::new());
    let account = RwSignal::new(String::new());
    let zone = RwSignal::new(String::new());
    let cidr = RwSignal::new(String::new());
    let review = ServerAction::<CreateZone>::new();
    let apply = ServerAction::<CreateZone>::new();
    let input = move || NewZone {
        name: name.get_untracked(),
        cloud_account_id: account.get_untracked().parse().unwrap_or(Uuid::nil()),
        availability_zone: zone.get_untracked(),
        network_cidr: Some(cidr.get_untracked()).filter(|c| !c.trim().is_empty()),
    };
    // Editing after a review makes the plan stale: show the form again.
    let reviewed = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(_)) = review.value().get() {
            reviewed.set(true);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(ZoneChange { zone: Some(z), .. })) = apply.value().get() {
            use_navigate()(&format!("/zones/{}", z.zone_id), Default::default());
        }
    });
    let field_error = move |field: &'static str| {
        Signal::derive(move || {
            review.value().with(|v| {
                v.as_ref()
                    .and_then(|r| r.as_ref().err())
                    .and_then(|e| e.field_message(field))
            })
        })
    };
    let form_error = Signal::derive(move || {
        review.value().with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().err())
                .and_then(|e| e.form_message())
        })
    });
    let apply_error = Signal::derive(move || {
        apply.value().with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().err())
                .map(AppError::to_string)
        })
    });
    view! {
        <Title text="Create zone"/>
        <p class="breadcrumb"><a href="/zones">"Zones"</a> " / Create"</p>
        <PageHeader title="Create zone".to_string() subtitle="A zone is an availability zone of one of the tenant's cloud accounts, with a subnet and security group in the tenant's network there."/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match choices.await {
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    Ok((accounts, _)) if accounts.is_empty() => view! {
                        <section class="panel empty"><p>"Add a cloud account first: a zone lives in one of them. "<a href="/cloud-accounts">"Cloud accounts"</a></p></section>
                    }.into_any(),
                    Ok((accounts, surveyed)) => {
                        if account.get_untracked().is_empty() {
                            account.set(accounts[0].cloud_account_id.to_string());
                        }
                        let accounts_for_zones = accounts.clone();
                        let offered = move || {
                            let id: Option<Uuid> = account.get().parse().ok();
                            surveyed.iter().filter(|s| Some(s.cloud_account_id) == id).cloned().collect::<Vec<_>>()
                        };
                        let region = move || {
                            let id: Option<Uuid> = account.get().parse().ok();
                            accounts_for_zones.iter().find(|a| Some(a.cloud_account_id) == id).map(|a| a.region.clone()).unwrap_or_default()
                        };
                        view! {
                            <section class="panel" hidden=move || reviewed.get()>
                                <form class="form grid-2" aria-label="Create a zone" on:submit=move |ev| {
                                    ev.prevent_default();
                                    review.dispatch(CreateZone { zone: input(), dry_run: true, fingerprint: None });
                                }>
                                    <FormError error=form_error/>
                                    <TextField label="Name" id="zone-name" value=name error=field_error("name") hint="Lowercase letters, digits and hyphens, like web-a."/>
                                    <div class="field">
                                        <label for="zone-account">"Cloud account"</label>
                                        <select id="zone-account" prop:value=move || account.get() on:change=move |ev| { account.set(event_target_value(&ev)); zone.set(String::new()); }>
                                            {accounts.iter().map(|a| view! {
                                                <option value=a.cloud_account_id.to_string()>{format!("{} ({})", a.name, a.region)}</option>
                                            }).collect_view()}
                                        </select>
                                    </div>
                                    {move || {
                                        let offered = offered();
                                        if offered.is_empty() {
                                            view! {
                                                <TextField label="Availability zone" id="zone-az" value=zone error=field_error("availability_zone")
                                                    hint="Survey the account's zones (Cloud accounts) to choose from a list, or type one, like us-east-1a."/>
                                            }.into_any()
                                        } else {
                                            if zone.get_untracked().is_empty() {
                                                zone.set(offered[0].availability_zone.clone());
                                            }
                                            view! {
                                                <div class="field">
                                                    <label for="zone-az">"Availability zone"</label>
                                                    <select id="zone-az" prop:value=move || zone.get() on:change=move |ev| zone.set(event_target_value(&ev))>
                                                        {offered.into_iter().map(|s| view! {
                                                            <option value=s.availability_zone.clone()>{format!("{} ({} instance types)", s.availability_zone, s.instance_types)}</option>
                                                        }).collect_view()}
                                                    </select>
                                                    {move || field_error("availability_zone").get().map(|m| view! { <p class="field-error">{m}</p> })}
                                                </div>
                                            }.into_any()
                                        }
                                    }}
                                    <TextField label="Network CIDR (optional)" id="zone-cidr" value=cidr error=field_error("network_cidr")
                                        hint="Only for the first zone in a region: the tenant's private /16 there. Default: the first free 10.N.0.0/16."/>
                                    <p class="muted small">{move || format!("Region: {}", region())}</p>
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
                <ReviewStep plan=change.plan apply_error reviewed applying=apply.pending() label="Create zone"
                    on_apply=Callback::new(move |fingerprint| {
                        apply.dispatch(CreateZone { zone: input(), dry_run: false, fingerprint: Some(fingerprint) });
                    })/>
            }),
            _ => None,
        }}
    }
    .into_any()
}

#[component]
pub fn ZonePage() -> impl IntoView {
    let params = use_params_map();
    let zone_id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<Uuid>().ok())
    };
    let topic = Signal::derive(move || zone_id().map(|id| format!("resource:{id}")));
    let live = use_live_events(topic);
    let latest = Memo::new(move |_| live.events.with(|l| l.last().map(|e| e.id)));
    let rename = ServerAction::<UpdateZone>::new();
    let zone = Resource::new(
        move || {
            (
                zone_id(),
                live.generation.get(),
                latest.get(),
                rename.version().get(),
            )
        },
        |(id, _, _, _)| async move { get_zone(id.ok_or(AppError::NotFound)?).await },
    );
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
                match zone.await {
                    Err(error) => view! { <Title text="Zone"/> <ErrorPanel error/> }.into_any(),
                    Ok(z) => view! { <ZoneDetail zone=z progress rename live_status=live.status/> }.into_any(),
                }
            })}
        </Transition>
        <RecentEvents events=live.events noun="zone"/>
    }
    .into_any()
}

#[component]
fn ZoneDetail(
    zone: ZoneView,
    progress: Signal<Option<(i16, String)>>,
    rename: ServerAction<UpdateZone>,
    live_status: ReadSignal<crate::live::LiveStatus>,
) -> impl IntoView {
    let in_progress = zone.status.in_progress();
    let percent = move || progress.get().map_or(0, |(p, _)| p);
    let message = move || progress.get().map(|(_, m)| m).unwrap_or_default();
    view! {
        <Title text=format!("Zone {}", zone.name)/>
        <p class="breadcrumb"><a href="/zones">"Zones"</a> " / " {zone.name.clone()}</p>
        <PageHeader title=zone.name.clone() subtitle=format!("{} in {} ({})", zone.availability_zone, zone.region, zone.cloud_account_name)>
            <LiveIndicator status=live_status/>
            <ResourceStatusBadge status=zone.status/>
        </PageHeader>
        {in_progress.then(|| view! {
            <section class="panel">
                <ProgressBar percent label=format!("Progress of zone {}", zone.name)/>
                <p class="muted">{message}</p>
            </section>
        })}
        {zone.last_error.clone().map(|e| view! {
            <div class="alert alert-error" role="alert">
                <strong>"The cloud provider refused"</strong>
                <details><summary>"Details"</summary><pre class="error-text">{e}</pre></details>
            </div>
        })}
        <section class="panel">
            <dl class="facts">
                <dt>"Network"</dt><dd><code>{zone.network_cidr.clone()}</code> {zone.vpc_id.clone().map(|v| view! { " " <code class="id">{v}</code> })}</dd>
                <dt>"Subnet"</dt><dd><code>{zone.subnet_cidr.clone()}</code> {zone.subnet_id.clone().map(|v| view! { " " <code class="id">{v}</code> })}</dd>
                <dt>"Security group"</dt><dd>{zone.security_group_id.clone().map(|v| view! { <code class="id">{v}</code> }.into_any()).unwrap_or_else(|| view! { <span class="muted">"not created yet"</span> }.into_any())}</dd>
                <dt>"Generation"</dt><dd>{format!("{} (observed {})", zone.generation, zone.observed_generation)}</dd>
                <dt>"Created"</dt><dd>{date_time(zone.created_at)}</dd>
            </dl>
        </section>
        <section class="panel">
            <h2>"Conditions"</h2>
            <table class="table compact">
                <thead><tr><th scope="col">"Type"</th><th scope="col">"Status"</th><th scope="col">"Reason"</th><th scope="col">"Message"</th><th scope="col">"Since"</th></tr></thead>
                <tbody>
                    {zone.conditions.iter().map(|c| view! {
                        <tr>
                            <th scope="row">{c.type_.clone()}</th>
                            <td>{match c.status { ConditionStatus::True => "True", ConditionStatus::False => "False", ConditionStatus::Unknown => "Unknown" }}</td>
                            <td>{c.reason.clone()}</td>
                            <td class="small">{c.message.clone()}</td>
                            <td class="small">{date_time(c.last_transition_at)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        {(can_manage() && zone.deletion_requested_at.is_none()).then(|| view! {
            <ZoneRename zone=zone.clone() rename/>
            <ZoneDelete zone=zone.clone()/>
        })}
    }
    .into_any()
}

#[component]
fn ZoneRename(zone: ZoneView, rename: ServerAction<UpdateZone>) -> impl IntoView {
    let name = RwSignal::new(zone.name.clone());
    let id = zone.zone_id;
    let error = Signal::derive(move || {
        rename.value().with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().err())
                .and_then(|e| e.field_message("name"))
        })
    });
    view! {
        <section class="panel">
            <h2>"Rename"</h2>
            <form class="form inline" aria-label="Rename the zone" on:submit=move |ev| {
                ev.prevent_default();
                rename.dispatch(UpdateZone { zone_id: id, patch: ZonePatch { name: Some(name.get_untracked()) }, dry_run: false, fingerprint: None });
            }>
                <TextField label="New name" id="zone-rename" value=name error/>
                <button type="submit" class="button secondary" disabled=move || rename.pending().get()>"Rename zone"</button>
            </form>
        </section>
    }
    .into_any()
}

/// Delete: the plan first (what is destroyed), then the zone's name typed to confirm.
#[component]
fn ZoneDelete(zone: ZoneView) -> impl IntoView {
    let plan = ServerAction::<DeleteZone>::new();
    let apply = ServerAction::<DeleteZone>::new();
    let id = zone.zone_id;
    let name = zone.name.clone();
    let plan_error = Signal::derive(move || {
        plan.value().with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().err())
                .map(AppError::to_string)
        })
    });
    let apply_error = Signal::derive(move || {
        apply.value().with(|v| {
            v.as_ref()
                .and_then(|r| r.as_ref().err())
                .map(AppError::to_string)
        })
    });
    view! {
        <section class="panel danger-zone">
            <h2>"Delete zone"</h2>
            <FormError error=plan_error/>
            {move || match plan.value().get() {
                Some(Ok(change)) => view! {
                    <ConfirmByName plan=change.plan apply_error applying=apply.pending() kind="zone" name=name.clone() id="zone-delete-confirm"
                        on_confirm=Callback::new(move |fingerprint| {
                            apply.dispatch(DeleteZone { zone_id: id, dry_run: false, fingerprint: Some(fingerprint) });
                        })/>
                }.into_any(),
                _ => view! {
                    <p class="muted">"Deleting removes the zone's subnet and security group, and the network with the region's last zone."</p>
                    <button class="button danger" disabled=move || plan.pending().get() on:click=move |_| {
                        plan.dispatch(DeleteZone { zone_id: id, dry_run: true, fingerprint: None });
                    }>"Review deletion"</button>
                }.into_any(),
            }}
        </section>
    }
    .into_any()
}
