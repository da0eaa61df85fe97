//! A job as the engine hands it to a runner, what the runner reports while it runs, and its result.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::deployment::{
    DeploymentPlan, DeploymentSpec, DeploymentStatus, PhaseRecord, RollbackMode, Version,
};
use crate::step::Step;

/// A job resolved by the engine: job-level expressions are evaluated already; step-level ones
/// (`if`, `run`, `env`, `with`, …) are left as written for the runner to evaluate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct JobSpec {
    pub run_id: String,
    /// The run's facts (actor, event, ref, sha, repository, run id, number and attempt).
    #[serde(default)]
    pub run: crate::RunFacts,
    /// The job's unique key inside the run (the job id, plus the matrix values for a matrix leg).
    pub job_key: String,
    /// The job id from the workflow (shared by all legs of a matrix).
    pub job_id: String,
    /// The display name (`name:` evaluated, or the key).
    pub display_name: String,
    /// Workflow file relative to the repository root, for diagnostics.
    pub workflow_file: String,
    pub steps: Vec<Step>,
    /// Workflow `env` then job `env`, as written: the runner evaluates them (GitHub does the same,
    /// so `github.workspace` works there).
    pub env: IndexMap<String, String>,
    /// `defaults.run` after job defaults override workflow defaults.
    pub default_shell: Option<String>,
    pub default_working_directory: Option<String>,
    pub timeout_minutes: f64,
    /// Contexts the step expressions read: `github`, `matrix`, `needs`, `strategy`, `inputs`,
    /// `vars`, `job`, `runner` (the runner fills in `runner`, `env`, `steps` as it goes).
    pub contexts: IndexMap<String, serde_json::Value>,
    /// The secrets this job may read (masked in every log line).
    pub secrets: IndexMap<String, String>,
    /// Job outputs: name → template, evaluated by the runner when the job ends.
    pub outputs: IndexMap<String, String>,
    /// How to get the code; `None` runs in an empty workspace.
    pub checkout: Option<Checkout>,
    /// The event payload (written to `$GITHUB_EVENT_PATH`). It travels only here: the runner
    /// puts it back as `github.event` in the contexts it evaluates.
    pub event_payload: serde_json::Value,
    /// `runs-on` labels, evaluated: a runner takes the job only when it carries every label.
    #[serde(default)]
    pub runs_on: Vec<String>,
    /// `runs-on.group`, evaluated, when given.
    #[serde(default)]
    pub runs_on_group: Option<String>,
    /// `environment:` evaluated (the deployment target this job works against), when given.
    #[serde(default)]
    pub environment: Option<EnvironmentRef>,
    /// Set by the engine when the job deploys into a configured environment: the plan the
    /// runner carries out (Slipway's `deployment:` extension; a plain job runs its steps once).
    #[serde(default)]
    pub deployment: Option<DeploymentAssignment>,
    /// The job's `deployment:` block as JSON, job-level expressions evaluated (strings that
    /// read the `deployment` context stay as written for the runner). The engine checks it
    /// with `DeploymentSpec::parse` when it plans the deployment.
    #[serde(default)]
    pub deployment_block: Option<serde_json::Value>,
    /// Remote actions pinned when the run was planned: each `uses:` as written
    /// (`owner/repo[/path]@ref`) → the full commit sha it resolved to. The runner fetches
    /// exactly these commits; a `uses:` missing here is not available to the job.
    #[serde(default)]
    pub actions: IndexMap<String, String>,
    /// `container:`: the steps run inside this container (the runner needs a Docker engine).
    #[serde(default)]
    pub container: Option<crate::ContainerSpec>,
    /// `services:` by id: containers started next to the job on a network of its own.
    #[serde(default)]
    pub services: IndexMap<String, crate::ContainerSpec>,
}

impl JobSpec {
    /// Whether the job needs a Docker engine (`container:` or `services:`).
    pub fn needs_docker(&self) -> bool {
        self.container.is_some() || !self.services.is_empty()
    }
}

/// A deployment job's assignment: the runner drives its deployment machine over `plan`,
/// running the job's steps for each `execute` phase and the hooks (`verify`, `acceptance`,
/// `switch`) as shell commands, each with the phase's `deployment` context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentAssignment {
    pub deployment_id: String,
    pub plan: DeploymentPlan,
    /// The checked `deployment:` block (a redeploy rollback is planned from it).
    pub spec: DeploymentSpec,
    /// The version live before this deployment: what a failed check rolls back to.
    pub last_good: Option<Version>,
}

/// What a deployment job did, reported with its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentReport {
    pub deployment_id: String,
    /// `success`, `failure` (nothing changed or nothing to roll back to) or `rolled_back`.
    pub status: DeploymentStatus,
    pub reason: Option<String>,
    /// The phases as they ran, with their times.
    pub phases: Vec<PhaseRecord>,
    /// Blue-green: the slot live when the job ended.
    pub live_slot: Option<String>,
    /// Set when a failed check rolled the environment back.
    pub rollback: Option<RollbackReport>,
}

/// The rollback a failed deployment job carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackReport {
    pub to_version: Version,
    pub mode: RollbackMode,
    pub succeeded: bool,
    pub reason: Option<String>,
    pub phases: Vec<PhaseRecord>,
}

/// A job's `environment:` after evaluation: the environment name and the URL shown for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentRef {
    pub name: String,
    pub url: Option<String>,
}

/// Where the runner gets the repository at the exact commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkout {
    /// A path or URL git can clone from.
    pub repository: String,
    pub sha: String,
    pub git_ref: Option<String>,
    /// `slipway run` only: `repository` is a local directory whose files, as they are now
    /// (uncommitted changes included, ignored files left out), are laid over the checkout. A
    /// directory outside git (or a repository with no commit) is copied as it is.
    #[serde(default)]
    pub working_tree: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    Success,
    Failure,
    Cancelled,
    Skipped,
}

impl Conclusion {
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's `id`, or `__N` (N = index) when it has none.
    pub id: String,
    pub name: String,
    pub outcome: Conclusion,
    pub conclusion: Conclusion,
    pub outputs: IndexMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    pub conclusion: Conclusion,
    pub outputs: IndexMap<String, String>,
    pub steps: Vec<StepResult>,
    /// `$GITHUB_STEP_SUMMARY` contents, concatenated over the steps.
    pub summary: String,
    /// Why the job failed when no step says so (timeout, cancel, infrastructure).
    pub failure_reason: Option<String>,
    /// A deployment job's report (see `JobSpec::deployment`).
    #[serde(default)]
    pub deployment: Option<Box<DeploymentReport>>,
}

impl JobResult {
    /// A job that ended with `conclusion` before (or without) any step's result: `reason` says
    /// why (a timeout, a cancel, no runner, an infrastructure error).
    pub fn unrun(conclusion: Conclusion, reason: impl Into<String>) -> JobResult {
        JobResult {
            conclusion,
            outputs: IndexMap::new(),
            steps: Vec::new(),
            summary: String::new(),
            failure_reason: Some(reason.into()),
            deployment: None,
        }
    }

    /// A failed job that has no step results, for `reason`.
    pub fn failed(reason: impl Into<String>) -> JobResult {
        JobResult::unrun(Conclusion::Failure, reason)
    }
}

/// What a runner reports while a job runs (in order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobEvent {
    StepStarted {
        index: usize,
        name: String,
    },
    /// One line of output, secrets already masked.
    Log {
        step: Option<usize>,
        line: String,
    },
    StepFinished {
        index: usize,
        result: StepResult,
    },
    JobFinished {
        result: JobResult,
    },
}
