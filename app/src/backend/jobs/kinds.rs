//! The job kinds Stratus itself runs, and their payloads. Tests and benchmarks may register
//! kinds of their own by name; everything in the product goes through this enum.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Does nothing (benchmarks).
    Noop,
    /// Waits, reporting progress (`{"millis": n, "steps": k}`).
    Sleep,
    /// Walks a cloud account's availability zones.
    SurveyZones,
    /// Brings one resource to its spec (or deletes it): [`ReconcilePayload`].
    Reconcile,
    /// Deletes what this installation tagged in a cloud account and no longer tracks.
    SweepOrphans,
}

impl JobKind {
    pub const ALL: [JobKind; 5] = [
        JobKind::Noop,
        JobKind::Sleep,
        JobKind::SurveyZones,
        JobKind::Reconcile,
        JobKind::SweepOrphans,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Noop => "system.noop",
            JobKind::Sleep => "system.sleep",
            JobKind::SurveyZones => "cloud_account.survey_zones",
            JobKind::Reconcile => "resource.reconcile",
            JobKind::SweepOrphans => "cloud_account.sweep_orphans",
        }
    }
}

impl From<JobKind> for String {
    fn from(kind: JobKind) -> String {
        kind.as_str().to_string()
    }
}

/// What a job event is: a progress step (with a percent), a log line, or a change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Progress,
    Log,
    State,
}

impl EventKind {
    /// As stored in `job_event.kind` and sent on the event stream.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Progress => "progress",
            EventKind::Log => "log",
            EventKind::State => "state",
        }
    }
}

/// `resource.reconcile`: which resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReconcilePayload {
    pub resource_id: Uuid,
}

/// `cloud_account.survey_zones` and `cloud_account.sweep_orphans`: which account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CloudAccountPayload {
    pub cloud_account_id: Uuid,
}

/// Reads a job's payload as its typed form.
pub fn payload<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T, String> {
    serde_json::from_value(value.clone()).map_err(|e| format!("malformed job payload: {e}"))
}

/// The unique key of a resource's reconcile job: one live reconcile per resource.
pub fn reconcile_key(resource_id: Uuid) -> String {
    format!("reconcile:{resource_id}")
}
