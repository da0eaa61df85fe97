//! The admin API's run calls: start a run (`dispatch`), re-run one (`rerun`), make a runner
//! registration token. Each is sent with the admin token.
//!
//! **Architecture Invariant:** plain data only; the engine decides what a request means.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::job::Conclusion;

/// `POST /api/v1/dispatch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispatchRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The repository's directory on the engine's machine.
    pub repository: String,
    /// The workflow file name under `.github/workflows` (or a path from the repository root).
    pub workflow: String,
    /// Branch, tag, full ref or sha; default `HEAD`.
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
    /// The workflow's `workflow_dispatch` inputs, by input name, values as strings.
    #[serde(default)]
    pub inputs: IndexMap<String, String>,
    /// The event name; default `workflow_dispatch`.
    #[serde(default)]
    pub event: Option<String>,
}

/// The answer to `dispatch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DispatchResponse {
    /// The engine's `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// The started run's id (a UUID).
    pub run_id: String,
    /// The run's number among the runs of its workflow, from 1.
    pub run_number: u64,
    /// Set when the run concluded at once (an invalid workflow concludes `failure`).
    pub conclusion: Option<Conclusion>,
}

/// `POST /api/v1/runners/tokens`: a one-time runner registration token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The engine's `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// The one-time secret a runner exchanges for its runner id and credential when it registers.
    pub token: String,
}

/// `POST /api/v1/runs/{run_id}/rerun`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerunRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// Re-run only the jobs that failed or were cancelled (and their dependents).
    #[serde(default, alias = "failed_only")]
    pub failed: bool,
    /// Re-run this job and its dependents.
    #[serde(default)]
    pub job: Option<String>,
}

/// The answer to `rerun`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RerunResponse {
    /// The engine's `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// The id (a UUID) of the new run that is the new attempt.
    pub run_id: String,
    /// The run's number among the runs of its workflow; a re-run keeps it.
    pub run_number: u64,
    /// The new attempt's number: 1 for the first attempt, one more for each re-run.
    pub attempt: u32,
    /// The id of the finished run that was re-run.
    pub rerun_of: String,
    /// The job ids that run again.
    pub jobs: Vec<String>,
}

/// `POST /api/v1/admin/gc`: remove finished runs that ended before a time, with their jobs,
/// logs, artifacts and work dirs (the same sweep `serve --retain` runs every hour).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// Runs finished more than this many seconds ago go; default: the engine's `--retain`,
    /// else 30 days.
    #[serde(default)]
    pub older_than_seconds: Option<u64>,
    /// Only say what would go.
    #[serde(default)]
    pub dry_run: bool,
}

/// The answer to `gc`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcResponse {
    /// The engine's `PROTOCOL_VERSION`.
    pub protocol_version: u32,
    /// The age used.
    pub older_than_seconds: u64,
    /// Nothing was removed: `runs` is what would go.
    pub dry_run: bool,
    /// The runs removed (or that would be), oldest first.
    pub runs: Vec<GcRun>,
    /// Bytes of logs, artifacts and work dirs freed (or that would be).
    pub bytes: u64,
}

/// One run a `gc` removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GcRun {
    /// The removed run's id (a UUID).
    pub run_id: String,
    /// The run's workflow file, relative to the repository root.
    pub workflow: String,
    /// The run's number among the runs of its workflow.
    pub run_number: u64,
    /// Microseconds since the Unix epoch when the run finished.
    pub finished_at_us: u64,
}
