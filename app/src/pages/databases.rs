//! Databases: the list, Create database with its Review step, and a database's page that
//! follows its reconcile live (progress, conditions, endpoint, pending changes, the instance
//! groups allowed to connect), with changes (size, backups, allowed groups), credentials
//! (reveal from Secrets, rotate) and delete with a typed-name confirmation.

use super::zones::ResourceStatusBadge;
use super::PageHeader;
use crate::api::{
    database_choices, get_database, list_databases, CreateDatabase, DeleteDatabase,
    RotateDatabaseCredentials, UpdateDatabase,
};
use crate::components::form::{FormError, TextField};
use crate::components::layout::use_session;
use crate::components::live::{use_tenant_resource_changes, LiveIndicator, RecentEvents};
use crate::components::review::{ConfirmByName, PlanView, ReviewStep};
use crate::components::status::{date_time, ErrorPanel, ProgressBar};
use crate::error::AppError;
use crate::live::use_live_events;
use crate::model::groups::GroupView;
use crate::model::resources::{
    ApplyAt, ConditionStatus, DatabaseChange, DatabasePatch, DatabaseView, NewDatabase, ZoneView,
};
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

/// The classes the form offers (the backend checks against the price list of the region).
const CLASSES: [&str; 5] = [
    "db.t3.micro",
    "db.t3.small",
    "db.t3.medium",
    "db.m5.large",
    "db.r5.large",
];

/// The live instance groups in a cloud account and region, as (id, name): what a database
/// there may allow to connect.
fn groups_in(groups: &[GroupView], cloud_account_id: Uuid, region: &str) -> Vec<(Uuid, String)> {
    groups
        .iter()
        .filter(|g| {
            g.deletion_requested_at.is_none()
                && g.cloud_account_id == cloud_account_id
                && g.region == region
        })
        .map(|g| (g.group_id, g.name.clone()))
        .collect()
}

/// The groups a database in `zone_id` may allow.
fn groups_for_zone(zones: &[ZoneView], groups: &[GroupView], zone_id: &str) -> Vec<(Uuid, String)> {
    zones
        .iter()
        .find(|z| z.zone_id.to_string() == zone_id)
        .map(|z| groups_in(groups, z.cloud_account_id, &z.region))
        .unwrap_or_default()
}

/// "Allowed to connect": a checkbox per offered group, bound to `allowed`.
#[component]
fn AllowedGroupsField(
    offered: impl Fn() -> Vec<(Uuid, String)> + Send + Sync + 'static,
    allowed: RwSignal<Vec<Uuid>>,
    error: Signal<Option<String>>,
    id: &'static str,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let described = error_id.clone();
    view! {
        <fieldset class="field choice-list" class:invalid=move || error.try_get().flatten().is_some() aria-describedby=described>
            <legend>"Allowed to connect"</legend>
            {move || {
                let offered = offered();
                if offered.is_empty() {
                    view! { <p class="hint">"No instance groups in this cloud account and region yet."</p> }.into_any()
                } else {
                    offered.into_iter().map(|(group_id, name)| view! {
                        <label class="choice">
                            <input type="checkbox" prop:checked=move || allowed.try_with(|a| a.contains(&group_id)).unwrap_or(false) on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                allowed.try_update(|a| {
                                    a.retain(|x| *x != group_id);
                                    if on { a.push(group_id); }
                                });
                            }/>
                            " Instance group " {name}
                        </label>
                    }).collect_view().into_any()
                }
            }}
            <p class="hint">"The instances of each ticked group may connect on the engine's port (5432 for PostgreSQL, 3306 for MySQL); other instances of the same zones cannot."</p>
            {move || error.try_get().flatten().map(|m| view! { <p class="field-error" id=error_id.clone()>{m}</p> })}
        </fieldset>
    }
    .into_any()
}

/// An action's error, for `FormError`.
macro_rules! error_of {
    ($action:expr) => {{
        let action = $action;
        Signal::derive(move || {
            action.value().with(|v| {
                v.as_ref()
                    .and_then(|r| r.as_ref().err())
                    .map(AppError::to_string)
            })
        })
    }};
}

/// The tenant's databases; a change of any resource reloads the list.
#[component]
pub fn DatabasesPage() -> impl IntoView {
    let (live, changes) = use_tenant_resource_changes();
    let databases = Resource::new(move || changes.get(), |_| list_databases());
    view! {
        <Title text="Databases"/>
        <PageHeader title="Databases".to_string() subtitle="Managed PostgreSQL and MySQL databases in the tenant's zones, with backups and an optional standby.">
            <LiveIndicator status=live.status/>
            {can(Action::ManageResources).then(|| view! { <a class="button" href="/databases/new">"Create database"</a> })}
        </PageHeader>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match databases.await {
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <section class="panel empty"><p>"No databases yet. A database needs zones in two availability zones of a region."</p></section>
                    }.into_any(),
                    Ok(list) => view! { <DatabaseTable databases=list/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn DatabaseTable(databases: Vec<DatabaseView>) -> impl IntoView {
    view! {
        <section class="panel table-scroll">
            <table class="table">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Engine"</th>
                    <th scope="col">"Class"</th><th scope="col">"Availability"</th><th scope="col">"Endpoint"</th>
                </tr></thead>
                <tbody>
                    {databases.into_iter().map(|d| view! {
                        <tr>
                            <td><a href=format!("/databases/{}", d.database_id)>{d.name.clone()}</a></td>
                            <td><ResourceStatusBadge status=d.status/></td>
                            <td>{format!("{} {}", d.engine, d.engine_version)}</td>
                            <td><code>{d.instance_class.clone()}</code> " " <span class="muted small">{format!("{} GiB", d.storage_gb)}</span></td>
                            <td>{match &d.standby_zone_name {
                                Some(s) => format!("{} + standby in {s}", d.zone_name),
                                None => d.zone_name.clone(),
                            }}</td>
                            <td class="small">{d.endpoint_host.clone().map(|h| view! { <code class="id">{format!("{h}:{}", d.endpoint_port.unwrap_or(0))}</code> })}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
    .into_any()
}

#[component]
pub fn DatabaseCreatePage() -> impl IntoView {
    let choices = Resource::new(|| (), |_| database_choices());
    let name = RwSignal::new(String::new());
    let engine = RwSignal::new("postgres".to_string());
    let class = RwSignal::new("db.t3.micro".to_string());
    let storage = RwSignal::new("20".to_string());
    let max_storage = RwSignal::new("100".to_string());
    let zone = RwSignal::new(String::new());
    let standby = RwSignal::new(String::new());
    let retention = RwSignal::new("7".to_string());
    let protect = RwSignal::new(true);
    let allowed = RwSignal::new(Vec::<Uuid>::new());
    let review = ServerAction::<CreateDatabase>::new();
    let apply = ServerAction::<CreateDatabase>::new();
    let input = move || NewDatabase {
        name: name.get_untracked(),
        engine: engine.get_untracked(),
        engine_version: None,
        instance_class: class.get_untracked(),
        storage_gb: storage.get_untracked().trim().parse().unwrap_or(0),
        max_storage_gb: max_storage.get_untracked().trim().parse().ok(),
        zone_id: zone.get_untracked().parse().unwrap_or(Uuid::nil()),
        standby_zone_id: standby.get_untracked().parse().ok(),
        backup_retention_days: retention.get_untracked().trim().parse().ok(),
        backup_window: None,
        maintenance_window: None,
        deletion_protection: Some(protect.get_untracked()),
        allowed_groups: allowed.get_untracked(),
    };
    let reviewed = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(_)) = review.value().get() {
            reviewed.set(true);
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(DatabaseChange {
            database: Some(d), ..
        })) = apply.value().get()
        {
            use_navigate()(&format!("/databases/{}", d.database_id), Default::default());
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
    let allowed_error = Signal::derive(move || {
        review
            .value()
            .try_get()
            .flatten()
            .and_then(|r| r.err())
            .and_then(|e| e.field_message("allowed_groups"))
    });
    let apply_error = error_of!(apply);
    view! {
        <Title text="Create database"/>
        <p class="breadcrumb"><a href="/databases">"Databases"</a> " / Create"</p>
        <PageHeader title="Create database".to_string() subtitle="Stratus creates the DB instance with a subnet group over the tenant's zones in the region and a security group of its own, and keeps the master password as a secret."/>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match choices.await {
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    Ok((zones, _)) if zones.is_empty() => view! {
                        <section class="panel empty"><p>"Create zones first (two availability zones of a region): a database lives in them. "<a href="/zones">"Zones"</a></p></section>
                    }.into_any(),
                    Ok((zones, groups)) => {
                        if zone.get_untracked().is_empty() {
                            zone.set(zones[0].zone_id.to_string());
                        }
                        let standby_zones = zones.clone();
                        let (offer_zones, offer_groups) = (zones.clone(), groups.clone());
                        let (change_zones, change_groups) = (zones.clone(), groups);
                        // A closure, not a derived signal: this view lives inside the Suspend.
                        let offered = move || groups_for_zone(&offer_zones, &offer_groups, &zone.get());
                        view! {
                            <section class="panel" hidden=move || reviewed.get()>
                                <form class="form grid-2" aria-label="Create a database" on:submit=move |ev| {
                                    ev.prevent_default();
                                    review.dispatch(CreateDatabase { database: input(), dry_run: true, fingerprint: None });
                                }>
                                    <FormError error=form_error/>
                                    <TextField label="Name" id="db-name" value=name error=field_error("name") hint="Lowercase letters, digits and hyphens, like orders."/>
                                    <div class="field">
                                        <label for="db-engine">"Engine"</label>
                                        <select id="db-engine" prop:value=move || engine.get() on:change=move |ev| engine.set(event_target_value(&ev))>
                                            <option value="postgres">"PostgreSQL (newest major version)"</option>
                                            <option value="mysql">"MySQL (newest major version)"</option>
                                        </select>
                                    </div>
                                    <div class="field">
                                        <label for="db-class">"Class"</label>
                                        <select id="db-class" prop:value=move || class.get() on:change=move |ev| class.set(event_target_value(&ev))>
                                            {CLASSES.iter().map(|c| view! { <option value=*c>{*c}</option> }).collect_view()}
                                        </select>
                                        {move || field_error("instance_class").get().map(|m| view! { <p class="field-error">{m}</p> })}
                                    </div>
                                    <TextField label="Storage (GiB)" id="db-storage" value=storage error=field_error("storage_gb") hint="20 to 16384."/>
                                    <TextField label="Storage autoscaling ceiling (GiB)" id="db-max-storage" value=max_storage error=field_error("max_storage_gb") hint="Storage grows up to this when it fills."/>
                                    <div class="field" class:invalid=move || field_error("zone_id").get().is_some()>
                                        <label for="db-zone">"Zone"</label>
                                        <select id="db-zone" prop:value=move || zone.get() on:change=move |ev| {
                                            let chosen = event_target_value(&ev);
                                            // Only groups of the new zone's account and region stay ticked.
                                            let still: Vec<Uuid> = groups_for_zone(&change_zones, &change_groups, &chosen).into_iter().map(|(id, _)| id).collect();
                                            allowed.update(|a| a.retain(|id| still.contains(id)));
                                            zone.set(chosen);
                                        }>
                                            {zones.iter().map(|z| view! {
                                                <option value=z.zone_id.to_string()>{format!("{} ({}, {})", z.name, z.availability_zone, z.cloud_account_name)}</option>
                                            }).collect_view()}
                                        </select>
                                        {move || field_error("zone_id").get().map(|m| view! { <p class="field-error">{m}</p> })}
                                    </div>
                                    <div class="field" class:invalid=move || field_error("standby_zone_id").get().is_some()>
                                        <label for="db-standby">"Availability"</label>
                                        <select id="db-standby" prop:value=move || standby.get() on:change=move |ev| standby.set(event_target_value(&ev))>
                                            <option value="">"Single zone"</option>
                                            {standby_zones.iter().map(|z| view! {
                                                <option value=z.zone_id.to_string()>{format!("Standby in {} ({})", z.name, z.availability_zone)}</option>
                                            }).collect_view()}
                                        </select>
                                        <p class="hint">"A standby is not readable; if the primary fails, RDS fails over to it in one to two minutes."</p>
                                        {move || field_error("standby_zone_id").get().map(|m| view! { <p class="field-error">{m}</p> })}
                                    </div>
                                    <TextField label="Backup retention (days)" id="db-retention" value=retention error=field_error("backup_retention_days") hint="0 to 35; 0 turns automated backups off."/>
                                    <AllowedGroupsField offered allowed error=allowed_error id="db-groups"/>
                                    <div class="field">
                                        <label><input type="checkbox" id="db-protect" prop:checked=move || protect.get() on:change=move |ev| protect.set(event_target_checked(&ev))/> " Deletion protection"</label>
                                        <p class="hint">"A protected database cannot be deleted until protection is turned off."</p>
                                    </div>
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
                <ReviewStep plan=change.plan apply_error reviewed applying=apply.pending() label="Create database"
                    on_apply=Callback::new(move |fingerprint| {
                        apply.dispatch(CreateDatabase { database: input(), dry_run: false, fingerprint: Some(fingerprint) });
                    })/>
            }),
            _ => None,
        }}
    }
    .into_any()
}

#[component]
pub fn DatabasePage() -> impl IntoView {
    let params = use_params_map();
    let database_id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<Uuid>().ok())
    };
    let topic = Signal::derive(move || database_id().map(|id| format!("resource:{id}")));
    let live = use_live_events(topic);
    let latest = Memo::new(move |_| live.events.with(|l| l.last().map(|e| e.id)));
    let change = ServerAction::<UpdateDatabase>::new();
    let database = Resource::new(
        move || {
            (
                database_id(),
                live.generation.get(),
                latest.get(),
                change.version().get(),
            )
        },
        |(id, _, _, _)| async move { get_database(id.ok_or(AppError::NotFound)?).await },
    );
    // The instance groups "Change" offers; fetched once, not at every event.
    let choices = Resource::new(|| (), |_| database_choices());
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
                match database.await {
                    Err(error) => view! { <Title text="Database"/> <ErrorPanel error/> }.into_any(),
                    Ok(d) => {
                        let groups = choices.await.map(|(_, groups)| groups).unwrap_or_default();
                        view! { <DatabaseDetail database=d groups progress change live_status=live.status/> }.into_any()
                    }
                }
            })}
        </Transition>
        <RecentEvents events=live.events noun="database"/>
    }
    .into_any()
}

#[component]
fn DatabaseDetail(
    database: DatabaseView,
    /// The tenant's instance groups, for the change form's "Allowed to connect".
    groups: Vec<GroupView>,
    progress: Signal<Option<(i16, String)>>,
    change: ServerAction<UpdateDatabase>,
    live_status: ReadSignal<crate::live::LiveStatus>,
) -> impl IntoView {
    let d = database.clone();
    let in_progress = d.status.in_progress();
    // A closure, not a derived signal: this view lives inside the page's Suspend, which
    // disposes what it made when it refetches while the old view still renders.
    let percent = move || progress.try_get().flatten().map_or(0, |(p, _)| p);
    let waiting_for = d
        .conditions
        .iter()
        .find(|c| c.type_ == "Progressing" && c.status == ConditionStatus::True)
        .map(|c| c.message.clone());
    let message = move || {
        progress
            .try_get()
            .flatten()
            .map(|(_, m)| m)
            .or_else(|| waiting_for.clone())
            .unwrap_or_default()
    };
    let endpoint = match (&d.endpoint_host, d.endpoint_port) {
        (Some(h), Some(p)) => view! { <code class="id">{format!("{h}:{p}")}</code> }.into_any(),
        _ => view! { <span class="muted">"not available yet"</span> }.into_any(),
    };
    let availability = match &d.standby_zone_name {
        Some(s) => format!(
            "{} ({}), standby in {s}: not readable; failover takes one to two minutes",
            d.zone_name, d.availability_zone
        ),
        None => format!("single zone: {} ({})", d.zone_name, d.availability_zone),
    };
    view! {
        <Title text=format!("Database {}", d.name)/>
        <p class="breadcrumb"><a href="/databases">"Databases"</a> " / " {d.name.clone()}</p>
        <PageHeader title=d.name.clone() subtitle=format!("{} {} in {} ({})", d.engine, d.engine_version, d.region, d.cloud_account_name)>
            <LiveIndicator status=live_status/>
            <ResourceStatusBadge status=d.status/>
        </PageHeader>
        {in_progress.then(|| view! {
            <section class="panel">
                <ProgressBar percent label=format!("Progress of database {}", d.name)/>
                <p class="muted">{message}</p>
            </section>
        })}
        {d.last_error.clone().map(|e| view! {
            <div class="alert alert-error" role="alert">
                <strong>"The cloud provider refused"</strong>
                <details open><summary>"Details"</summary><pre class="error-text">{e}</pre></details>
            </div>
        })}
        {(!d.pending_changes.is_empty()).then(|| view! {
            <div class="alert alert-warn" role="note">
                <strong>{format!("Pending until the maintenance window ({})", d.maintenance_window)}</strong>
                <ul>{d.pending_changes.iter().map(|c| view! {
                    <li>{format!("{}: {} → {}", c.field.replace('_', " "), c.old.clone().unwrap_or_else(|| "—".into()), c.new.clone().unwrap_or_default())}</li>
                }).collect_view()}</ul>
                {(can(Action::ManageResources) && d.deletion_requested_at.is_none()).then(|| view! {
                    <ApplyPendingNow database_id=d.database_id change/>
                })}
            </div>
        })}
        <section class="panel">
            <dl class="facts">
                <dt>"Endpoint"</dt><dd>{endpoint}</dd>
                <dt>"Provider status"</dt><dd>{d.provider_status.clone().unwrap_or_else(|| "—".into())}</dd>
                <dt>"DB instance"</dt><dd><code class="id">{d.db_instance_id.clone()}</code></dd>
                <dt>"Class and storage"</dt><dd>{class_and_storage(&d)}</dd>
                <dt>"Availability"</dt><dd>{availability}</dd>
                <dt>"Subnet group zones"</dt><dd>{d.subnet_zones.join(", ")}</dd>
                <dt>"Backups"</dt><dd>{if d.backup_retention_days == 0 { "off (retention 0 days)".to_string() } else { format!("kept {} days, window {} UTC", d.backup_retention_days, d.backup_window) }}</dd>
                <dt>"Maintenance window"</dt><dd>{format!("{} UTC", d.maintenance_window)}</dd>
                <dt>"Deletion protection"</dt><dd>{if d.deletion_protection { "on" } else { "off" }}</dd>
                <dt>"Security group"</dt><dd>{d.security_group_id.clone().map(|v| view! { <code class="id">{v}</code> }.into_any()).unwrap_or_else(|| view! { <span class="muted">"not created yet"</span> }.into_any())}</dd>
                <dt>"Allowed to connect"</dt><dd>{if d.allowed_groups.is_empty() {
                    view! { <span class="muted">"no instance group"</span> }.into_any()
                } else {
                    view! { <ul class="plain-list">{d.allowed_groups.iter().map(|g| view! {
                        <li>
                            "Instance group " <a href=format!("/instance-groups/{}", g.group_id)>{g.name.clone()}</a>
                            {g.security_group_id.clone().map(|sg| view! { " " <span class="muted small">"from "</span> <code class="id">{sg}</code> })}
                        </li>
                    }).collect_view()}</ul> }.into_any()
                }}</dd>
                <dt>"Master user"</dt><dd><code>{d.master_username.clone()}</code></dd>
                {d.final_snapshot.clone().map(|s| view! { <dt>"Final snapshot"</dt><dd><code class="id">{s}</code></dd> })}
                <dt>"Generation"</dt><dd>{format!("{} (observed {})", d.generation, d.observed_generation)}</dd>
                <dt>"Created"</dt><dd>{date_time(d.created_at)}</dd>
            </dl>
        </section>
        <section class="panel table-scroll">
            <h2>"Conditions"</h2>
            <table class="table compact">
                <thead><tr><th scope="col">"Type"</th><th scope="col">"Status"</th><th scope="col">"Reason"</th><th scope="col">"Message"</th><th scope="col">"Since"</th></tr></thead>
                <tbody>
                    {d.conditions.iter().map(|c| view! {
                        <tr>
                            <th scope="row">{c.type_.clone()}</th>
                            <td>{match c.status { ConditionStatus::True => "True", ConditionStatus::False => "False", ConditionStatus::Unknown => "Unknown" }}</td>
                            <td>{c.reason.clone()}</td>
                            <td class="small wrap">{c.message.clone()}</td>
                            <td class="small">{date_time(c.last_transition_at)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <DatabaseCredentials database=database.clone()/>
        {(can(Action::ManageResources) && d.deletion_requested_at.is_none()).then(|| view! {
            <DatabaseResize database=database.clone() groups change/>
            <DatabaseDelete database=database.clone()/>
        })}
    }
    .into_any()
}

/// The class and storage the database runs with: while a change waits for the maintenance
/// window, what runs now, and what comes.
fn class_and_storage(d: &DatabaseView) -> String {
    let pending = |field: &str| {
        d.pending_changes
            .iter()
            .find(|c| c.field == field)
            .map(|c| (c.old.clone(), c.new.clone()))
    };
    let shown = |field: &str, spec: String| match pending(field) {
        Some((Some(now), Some(next))) => format!("{now} (→ {next} at the maintenance window)"),
        _ => spec,
    };
    format!(
        "{}, {} GiB{}",
        shown("instance_class", d.instance_class.clone()),
        shown("storage_gb", d.storage_gb.to_string()),
        d.max_storage_gb
            .map(|m| format!(" (autoscaling up to {m} GiB)"))
            .unwrap_or_default()
    )
}

/// Where the password is: revealed from Secrets (admins, after confirming their password), and
/// rotated here.
#[component]
fn DatabaseCredentials(database: DatabaseView) -> impl IntoView {
    let rotate = ServerAction::<RotateDatabaseCredentials>::new();
    let id = database.database_id;
    let rotate_error = error_of!(rotate);
    let secret = format!("database/{}/master-password", database.name);
    view! {
        <section class="panel">
            <h2>"Credentials"</h2>
            <p>
                "Master user " <code>{database.master_username.clone()}</code> ". Its password was generated by Stratus and is kept as the secret "
                <code>{secret}</code> ": admins reveal it on " <a href="/secrets">"Secrets"</a> " after confirming their password."
            </p>
            {can(Action::ManageDatabaseCredentials).then(|| view! {
                <FormError error=rotate_error/>
                {move || matches!(rotate.value().get(), Some(Ok(_))).then(|| view! {
                    <p class="alert alert-ok" role="status">"A new password is in the secret; the database gets it with its next step."</p>
                })}
                <button class="button secondary" disabled=move || rotate.pending().get() on:click=move |_| {
                    rotate.dispatch(RotateDatabaseCredentials { database_id: id });
                }>"Rotate password"</button>
            })}
        </section>
    }
    .into_any()
}

/// "Apply now" for changes waiting for the maintenance window: a change of nothing but `apply`,
/// reviewed like any other (the plan names what is applied and warns of a restart).
#[component]
fn ApplyPendingNow(database_id: Uuid, change: ServerAction<UpdateDatabase>) -> impl IntoView {
    let review = ServerAction::<UpdateDatabase>::new();
    let patch = || DatabasePatch {
        apply: Some(ApplyAt::Now),
        ..Default::default()
    };
    let review_error = error_of!(review);
    let apply_error = error_of!(change);
    view! {
        <FormError error=review_error/>
        <button class="button secondary" disabled=move || review.pending().get() on:click=move |_| {
            review.dispatch(UpdateDatabase { database_id, patch: patch(), dry_run: true, fingerprint: None });
        }>"Review applying them now"</button>
        {move || match review.value().get() {
            Some(Ok(planned)) => {
                let fingerprint = planned.plan.fingerprint.clone();
                Some(view! {
                    <PlanView plan=planned.plan/>
                    <FormError error=apply_error/>
                    <button class="button" disabled=move || change.pending().get() on:click=move |_| {
                        change.dispatch(UpdateDatabase { database_id, patch: patch(), dry_run: false, fingerprint: Some(fingerprint.clone()) });
                    }>"Apply now"</button>
                })
            }
            _ => None,
        }}
    }
    .into_any()
}

#[component]
fn DatabaseResize(
    database: DatabaseView,
    groups: Vec<GroupView>,
    change: ServerAction<UpdateDatabase>,
) -> impl IntoView {
    let class = RwSignal::new(database.instance_class.clone());
    let allowed = RwSignal::new(
        database
            .allowed_groups
            .iter()
            .map(|g| g.group_id)
            .collect::<Vec<_>>(),
    );
    // The groups of the database's account and region, and any it allows already.
    let mut offered = groups_in(&groups, database.cloud_account_id, &database.region);
    for g in &database.allowed_groups {
        if !offered.iter().any(|(id, _)| *id == g.group_id) {
            offered.push((g.group_id, g.name.clone()));
        }
    }
    let storage = RwSignal::new(database.storage_gb.to_string());
    let retention = RwSignal::new(database.backup_retention_days.to_string());
    let protect = RwSignal::new(database.deletion_protection);
    let later = RwSignal::new(false);
    let id = database.database_id;
    let review = ServerAction::<UpdateDatabase>::new();
    let patch = move || DatabasePatch {
        instance_class: Some(class.get_untracked()),
        storage_gb: storage.get_untracked().trim().parse().ok(),
        backup_retention_days: retention.get_untracked().trim().parse().ok(),
        deletion_protection: Some(protect.get_untracked()),
        allowed_groups: Some(allowed.get_untracked()),
        apply: Some(if later.get_untracked() {
            ApplyAt::NextWindow
        } else {
            ApplyAt::Now
        }),
        ..Default::default()
    };
    let field_error = move |field: &'static str| {
        Signal::derive(move || {
            review.value().with(|v| {
                v.as_ref()
                    .and_then(|r| r.as_ref().err())
                    .and_then(|e| e.field_message(field))
            })
        })
    };
    let apply_error = error_of!(change);
    view! {
        <section class="panel">
            <h2>"Change"</h2>
            <form class="form grid-2" aria-label="Change the database" on:submit=move |ev| {
                ev.prevent_default();
                review.dispatch(UpdateDatabase { database_id: id, patch: patch(), dry_run: true, fingerprint: None });
            }>
                <div class="field">
                    <label for="db-change-class">"Class"</label>
                    <select id="db-change-class" prop:value=move || class.get() on:change=move |ev| class.set(event_target_value(&ev))>
                        {CLASSES.iter().map(|c| view! { <option value=*c>{*c}</option> }).collect_view()}
                    </select>
                </div>
                <TextField label="Storage (GiB)" id="db-change-storage" value=storage error=field_error("storage_gb") hint="Storage can grow, not shrink."/>
                <TextField label="Backup retention (days)" id="db-change-retention" value=retention error=field_error("backup_retention_days")/>
                <AllowedGroupsField offered=move || offered.clone() allowed error=field_error("allowed_groups") id="db-change-groups"/>
                <div class="field">
                    <label><input type="checkbox" prop:checked=move || protect.get() on:change=move |ev| protect.set(event_target_checked(&ev))/> " Deletion protection"</label>
                    <label><input type="checkbox" prop:checked=move || later.get() on:change=move |ev| later.set(event_target_checked(&ev))/> " Apply at the next maintenance window"</label>
                </div>
                <div class="form-actions">
                    <button type="submit" class="button secondary" disabled=move || review.pending().get()>"Review change"</button>
                </div>
            </form>
            {move || match review.value().get() {
                Some(Ok(planned)) => {
                    let fingerprint = planned.plan.fingerprint.clone();
                    let nothing = planned.plan.diff.is_empty();
                    Some(view! {
                        <PlanView plan=planned.plan/>
                        <FormError error=apply_error/>
                        <button class="button" disabled=move || nothing || change.pending().get() on:click=move |_| {
                            change.dispatch(UpdateDatabase { database_id: id, patch: patch(), dry_run: false, fingerprint: Some(fingerprint.clone()) });
                        }>"Apply change"</button>
                    })
                }
                _ => None,
            }}
        </section>
    }
    .into_any()
}

/// Delete: the plan first (what is destroyed, the final snapshot), then the name typed to confirm.
#[component]
fn DatabaseDelete(database: DatabaseView) -> impl IntoView {
    let plan = ServerAction::<DeleteDatabase>::new();
    let apply = ServerAction::<DeleteDatabase>::new();
    let snapshot = RwSignal::new(true);
    let id = database.database_id;
    let name = database.name.clone();
    let protected = database.deletion_protection;
    let plan_error = error_of!(plan);
    let apply_error = error_of!(apply);
    view! {
        <section class="panel danger-zone">
            <h2>"Delete database"</h2>
            <FormError error=plan_error/>
            {move || match plan.value().get() {
                Some(Ok(change)) => {
                    let final_snapshot = snapshot.get_untracked();
                    view! {
                        <ConfirmByName plan=change.plan apply_error applying=apply.pending() kind="database" name=name.clone() id="db-delete-confirm"
                            on_confirm=Callback::new(move |fingerprint| {
                                apply.dispatch(DeleteDatabase { database_id: id, final_snapshot, dry_run: false, fingerprint: Some(fingerprint) });
                            })/>
                    }.into_any()
                }
                _ => view! {
                    {protected.then(|| view! { <p class="alert alert-warn" role="note">"Deletion protection is on: turn it off above before deleting."</p> })}
                    <label><input type="checkbox" prop:checked=move || snapshot.get() on:change=move |ev| snapshot.set(event_target_checked(&ev))/> " Take a final snapshot (named by Stratus, kept after the delete)"</label>
                    <p>
                        <button class="button danger" disabled=move || plan.pending().get() on:click=move |_| {
                            plan.dispatch(DeleteDatabase { database_id: id, final_snapshot: snapshot.get_untracked(), dry_run: true, fingerprint: None });
                        }>"Review deletion"</button>
                    </p>
                }.into_any(),
            }}
        </section>
    }
    .into_any()
}
