use super::PageHeader;
use crate::api::{
    get_cloud_accounts, get_sandbox_faults, AddFaultRule, CreateCloudAccount, DeleteCloudAccount,
    RemoveFaultRule, SurveyCloudAccount, TestCloudAccount,
};
use crate::components::form::{field_error, form_error, Field, FormError};
use crate::components::layout::can;
use crate::components::page::{page_body, ConfirmButton, EmptyState};
use crate::components::status::{date, ReadableError};
use crate::faults::RuleView;
use crate::model::CloudAccountView;
use crate::rbac::Action;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn CloudAccountsPage() -> impl IntoView {
    let create = ServerAction::<CreateCloudAccount>::new();
    let delete = ServerAction::<DeleteCloudAccount>::new();
    let test = ServerAction::<TestCloudAccount>::new();
    let survey = ServerAction::<SurveyCloudAccount>::new();
    // A started survey opens its job page, which follows it live.
    Effect::new(move |_| {
        if let Some(Ok(job_id)) = survey.value().get() {
            leptos_router::hooks::use_navigate()(&format!("/jobs/{job_id}"), Default::default());
        }
    });
    let list = Resource::new(
        move || (create.version().get(), delete.version().get()),
        |_| get_cloud_accounts(),
    );
    let can_manage = can(Action::ManageCloudAccounts);
    let add_fault = ServerAction::<AddFaultRule>::new();
    let remove_fault = ServerAction::<RemoveFaultRule>::new();
    let sandboxes = Resource::new(
        move || {
            (
                create.version().get(),
                delete.version().get(),
                add_fault.version().get(),
                remove_fault.version().get(),
            )
        },
        |_| get_sandbox_faults(),
    );
    let tv = test.value();
    view! {
        <Title text="Cloud accounts"/>
        <PageHeader title="Cloud accounts".to_string() subtitle="Where this tenant's zones, instances and databases are created."/>
        <FormError error=form_error(delete.value())/>
        <FormError error=form_error(survey.value())/>
        {move || match tv.get() {
            Some(Ok(result)) => Some(view! {
                <div class="alert alert-ok" role="status">
                    <strong>{format!("Connected: {} availability zones in {}", result.zones.len(), result.region)}</strong>
                    {result.provider_account_id.map(|id| view! { <p>"Provider account: " <code>{id}</code></p> })}
                    <ul class="zone-list">{result.zones.into_iter().map(|z| view! { <li><code>{z}</code></li> }).collect_view()}</ul>
                </div>
            }.into_any()),
            Some(Err(error)) => Some(view! {
                <div role="alert"><ReadableError verbatim=error.to_string() title="The connection test failed"/></div>
            }.into_any()),
            None => None,
        }}
        {page_body(list, move |accounts| if accounts.is_empty() {
            view! {
                <EmptyState title="No cloud accounts yet" message=if can_manage {
                    "Add an AWS account below: zones, instances and databases are created in it."
                } else {
                    "A tenant admin adds the AWS accounts this tenant's resources are created in."
                }/>
            }.into_any()
        } else {
            view! { <AccountTable accounts can_manage test delete survey/> }.into_any()
        })}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                sandboxes.await.ok().map(|panels| panels.into_iter().map(|p| view! {
                    <SandboxFaults account=p.account rules=p.rules can_manage add=add_fault remove=remove_fault/>
                }).collect_view())
            })}
        </Transition>
        {can_manage.then(|| view! { <CreateForm create/> })}
    }
    .into_any()
}

#[component]
fn AccountTable(
    accounts: Vec<CloudAccountView>,
    can_manage: bool,
    test: ServerAction<TestCloudAccount>,
    delete: ServerAction<DeleteCloudAccount>,
    survey: ServerAction<SurveyCloudAccount>,
) -> impl IntoView {
    view! {
        <section class="panel">
            <table class="table">
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"Provider"</th><th scope="col">"Region"</th>
                    <th scope="col">"Access key and provider account"</th><th scope="col">"Added"</th>
                    {can_manage.then(|| view! { <th scope="col"><span class="sr-only">"Actions"</span></th> })}
                </tr></thead>
                <tbody>
                    {accounts.into_iter().map(|a| {
                        // Each form's children own their copy: the buttons name the account.
                        let (test_label, survey_label, delete_label, delete_confirm) = (
                            format!("Test connection of {}", a.name),
                            format!("Survey zones of {}", a.name),
                            format!("Delete {}", a.name),
                            format!("Delete the cloud account {}? Its credentials are deleted too.", a.name),
                        );
                        view! {
                        <tr>
                            <td class="wrap">
                                {a.name.clone()}
                                {a.emulated.then(|| view! { " " <span class="badge badge-warn" title="Runs against a local emulator (moto), not AWS">"Emulated"</span> })}
                                {a.endpoint_url.clone().map(|e| view! { <div class="muted small">{e}</div> })}
                            </td>
                            <td>{if a.emulated { "AWS API (emulated)".to_string() } else { "AWS".to_string() }}</td>
                            <td><code>{a.region.clone()}</code></td>
                            <td class="wrap">
                                <code>{a.access_key_id.clone()}</code>
                                <div class="small">{match a.provider_account_id.clone() {
                                    Some(id) => view! { <code title="The account these credentials reach (STS GetCallerIdentity)">{id}</code> }.into_any(),
                                    None => view! { <span class="muted" title="Not known yet: test the connection">"account not known yet"</span> }.into_any(),
                                }}</div>
                            </td>
                            <td>{date(a.created_at)}</td>
                            {can_manage.then(|| view! {
                                <td class="actions">
                                    <ActionForm action=test attr:class="inline-form">
                                        <input type="hidden" name="cloud_account_id" value=a.cloud_account_id.to_string()/>
                                        <button type="submit" class="button small secondary" aria-label=test_label
                                            disabled=move || test.pending().get()>"Test connection"</button>
                                    </ActionForm>
                                    <ActionForm action=survey attr:class="inline-form">
                                        <input type="hidden" name="cloud_account_id" value=a.cloud_account_id.to_string()/>
                                        <button type="submit" class="button small secondary" aria-label=survey_label
                                            disabled=move || survey.pending().get()>"Survey zones"</button>
                                    </ActionForm>
                                    <ActionForm action=delete attr:class="inline-form">
                                        <input type="hidden" name="cloud_account_id" value=a.cloud_account_id.to_string()/>
                                        <ConfirmButton text="Delete" label=delete_label confirm=delete_confirm/>
                                    </ActionForm>
                                </td>
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
fn CreateForm(create: ServerAction<CreateCloudAccount>) -> impl IntoView {
    let v = create.value();
    view! {
        <section class="panel">
            <h2>"Add an AWS account"</h2>
            <p class="muted">"The secret access key is encrypted and never shown again. An endpoint URL is only needed for emulators and AWS-compatible clouds."</p>
            <ActionForm action=create attr:class="form grid-3" attr:aria-label="Add a cloud account">
                <FormError error=form_error(v)/>
                <Field label="Name" name="name" form="account" error=field_error(v, "name")/>
                <Field label="Region" name="region" form="account" value="eu-west-1" error=field_error(v, "region")/>
                <Field label="Endpoint URL (optional)" name="endpoint_url" kind="url" form="account" error=field_error(v, "endpoint_url")/>
                <Field label="Access key id" name="access_key_id" form="account" autocomplete="off" error=field_error(v, "access_key_id")/>
                <Field label="Secret access key" name="secret_access_key" kind="password" form="account" autocomplete="off" error=field_error(v, "secret_access_key")/>
                <div class="form-actions">
                    <button type="submit" class="button">"Add account"</button>
                </div>
            </ActionForm>
        </section>
    }
    .into_any()
}

/// The fault proxy's rules for one sandbox account: what its next calls will meet.
#[component]
fn SandboxFaults(
    account: CloudAccountView,
    rules: Vec<RuleView>,
    can_manage: bool,
    add: ServerAction<AddFaultRule>,
    remove: ServerAction<RemoveFaultRule>,
) -> impl IntoView {
    let id = account.cloud_account_id;
    let v = add.value();
    view! {
        <section class="panel" aria-label=format!("Faults for {}", account.name)>
            <h2>{format!("Sandbox faults: {}", account.name)}</h2>
            <p class="muted">"The fault proxy in front of the sandbox applies these rules to this account's calls: answer an operation with an AWS error (optionally in one zone), lose its reply after it took effect, slow it down, hold a database's status, keep database changes pending for the maintenance window, or report instances' status checks impaired (an instance group repairs them). A rule with a count expires after firing that many times."</p>
            <FormError error=form_error(remove.value())/>
            {if rules.is_empty() {
                view! { <p class="muted">"No faults: calls reach the sandbox untouched."</p> }.into_any()
            } else {
                view! {
                    <table class="table">
                        <thead><tr><th scope="col">"Rule"</th><th scope="col">"Fired"</th><th scope="col">"Left"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                        <tbody>
                            {rules.into_iter().map(|r| view! {
                                <tr>
                                    <td><code>{r.rule.describe()}</code></td>
                                    <td>{r.fired}</td>
                                    <td>{r.remaining().map(|n| n.to_string()).unwrap_or_else(|| "until removed".into())}</td>
                                    <td class="actions">
                                        {can_manage.then(|| view! {
                                            <ActionForm action=remove attr:class="inline-form">
                                                <input type="hidden" name="cloud_account_id" value=id.to_string()/>
                                                <input type="hidden" name="rule_id" value=r.id.to_string()/>
                                                <button type="submit" class="button small link danger">"Remove"</button>
                                            </ActionForm>
                                        })}
                                    </td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
            {can_manage.then(|| view! {
                <h3>"Add a fault"</h3>
                <ActionForm action=add attr:class="form grid-3" attr:aria-label="Add a fault">
                    <FormError error=form_error(v)/>
                    <input type="hidden" name="cloud_account_id" value=id.to_string()/>
                    <Field label="Operation" name="action" form="fault" value="RunInstances" hint="An AWS operation: RunInstances, CreateSubnet, DescribeDBInstances…" error=field_error(v, "action")/>
                    <div class="field">
                        <label for="fault-effect">"Effect"</label>
                        <select id="fault-effect" name="effect">
                            <option value="error">"Answer with an AWS error"</option>
                            <option value="drop_reply">"Perform it, drop the reply"</option>
                            <option value="latency">"Add latency"</option>
                            <option value="hold_rds_status">"Hold the RDS status"</option>
                            <option value="maintenance_window">"Hold RDS changes for the maintenance window (ModifyDBInstance)"</option>
                            <option value="impair_instances">"Report instances impaired"</option>
                        </select>
                    </div>
                    <Field label="Zone (optional)" name="zone" form="fault" hint="Only calls naming this zone, or a subnet in it" error=field_error(v, "zone")/>
                    <Field label="Error code" name="code" form="fault" value="InsufficientInstanceCapacity" error=field_error(v, "code")/>
                    <Field label="Error message" name="message" form="fault" value="We currently do not have sufficient capacity in the Availability Zone you requested." error=field_error(v, "message")/>
                    <Field label="HTTP status" name="status" form="fault" value="500" error=field_error(v, "status")/>
                    <Field label="Latency (ms)" name="millis" form="fault" error=field_error(v, "millis")/>
                    <Field label="RDS status" name="rds_status" form="fault" value="creating" error=field_error(v, "rds_status")/>
                    <Field label="Instance ids (empty: every running instance)" name="instance_ids" form="fault" hint="For “Report instances impaired” (DescribeInstanceStatus): i-… separated by commas" error=field_error(v, "instance_ids")/>
                    <div class="field">
                        <label for="fault-check">"Status check"</label>
                        <select id="fault-check" name="check">
                            <option value="instance">"Instance status"</option>
                            <option value="system">"System status"</option>
                        </select>
                    </div>
                    <Field label="Times (empty: until removed)" name="count" form="fault" value="1" error=field_error(v, "count")/>
                    <div class="form-actions">
                        <button type="submit" class="button">"Add fault"</button>
                    </div>
                </ActionForm>
            })}
        </section>
    }
    .into_any()
}
