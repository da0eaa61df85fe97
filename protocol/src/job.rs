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
    /// The id (a UUID) of the run this job belongs to.
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
    /// The job's steps in order, as written in the workflow.
    pub steps: Vec<Step>,
    /// Workflow `env` then job `env`, as written: the runner evaluates them (GitHub does the same,
    /// so `github.workspace` works there).
    pub env: IndexMap<String, String>,
    /// `defaults.run` after job defaults override workflow defaults.
    pub default_shell: Option<String>,
    /// `defaults.run.working-directory` after job defaults override workflow defaults.
    pub default_working_directory: Option<String>,
    /// `timeout-minutes:` evaluated (fractions allowed; 360 when not written): the job fails when it runs longer.
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
    /// The id of the deployment record the engine made for this job.
    pub deployment_id: String,
    /// The phases the runner carries out, in order.
    pub plan: DeploymentPlan,
    /// The checked `deployment:` block (a redeploy rollback is planned from it).
    pub spec: DeploymentSpec,
    /// The version live before this deployment: what a failed check rolls back to.
    pub last_good: Option<Version>,
}

/// What a deployment job did, reported with its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentReport {
    /// The id of the deployment record, as in `DeploymentAssignment::deployment_id`.
    pub deployment_id: String,
    /// `success`, `failure` (nothing changed or nothing to roll back to) or `rolled_back`.
    pub status: DeploymentStatus,
    /// Why the deployment failed or rolled back; `None` on success.
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
    /// The version the rollback restored: the one live before the deployment.
    pub to_version: Version,
    /// Whether traffic switched back to the old slot or the last good version was redeployed.
    pub mode: RollbackMode,
    /// Whether the rollback itself succeeded (a failed rollback is not rolled back again).
    pub succeeded: bool,
    /// Why the rollback was needed, or why it failed.
    pub reason: Option<String>,
    /// The rollback's own phases as they ran, with their times.
    pub phases: Vec<PhaseRecord>,
}

/// A job's `environment:` after evaluation: the environment name and the URL shown for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentRef {
    /// The environment's name, e.g. `production`.
    pub name: String,
    /// `environment.url` evaluated, shown with the deployment; `None` when not given.
    pub url: Option<String>,
}

/// Where the runner gets the repository at the exact commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkout {
    /// A path or URL git can clone from.
    pub repository: String,
    /// The full commit sha to check out.
    pub sha: String,
    /// The full ref the run is for (`refs/heads/main`), given to the checkout step as its `ref` output; `None` when unknown.
    pub git_ref: Option<String>,
    /// `slipway run` only: `repository` is a local directory whose files, as they are now
    /// (uncommitted changes included, ignored files left out), are laid over the checkout. A
    /// directory outside git (or a repository with no commit) is copied as it is.
    #[serde(default)]
    pub working_tree: bool,
}

/// How a job, a step or a run ended, as GitHub names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conclusion {
    /// It ran and did not fail.
    Success,
    /// It failed: a step failed, it timed out, or it could not start.
    Failure,
    /// It was cancelled before it finished (the run or the job was cancelled).
    Cancelled,
    /// It did not run: its `if:` was false, or a job it needs did not succeed.
    Skipped,
}

impl Conclusion {
    /// The JSON spelling (`success`, `failure`, `cancelled`, `skipped`).
    pub fn as_str(self) -> &'static str {
        match self {
            Conclusion::Success => "success",
            Conclusion::Failure => "failure",
            Conclusion::Cancelled => "cancelled",
            Conclusion::Skipped => "skipped",
        }
    }
}

/// How one step of a job ended, with the outputs it set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step's `id`, or `__N` (N = index) when it has none.
    pub id: String,
    /// The step's display name (`name:` evaluated, or one made from its `run:` or `uses:`).
    pub name: String,
    /// How the step ended before `continue-on-error` is applied (`steps.<id>.outcome`).
    pub outcome: Conclusion,
    /// How the step ended after `continue-on-error` is applied (`steps.<id>.conclusion`): a tolerated failure is `success`.
    pub conclusion: Conclusion,
    /// The outputs the step set (`$GITHUB_OUTPUT` or the action's outputs), by name.
    pub outputs: IndexMap<String, String>,
}

/// How a job ended: its conclusion, outputs, step results and summary, reported by its runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    /// How the job ended.
    pub conclusion: Conclusion,
    /// The job's `outputs:` evaluated when it ended, by name (`needs.<job>.outputs`).
    pub outputs: IndexMap<String, String>,
    /// The results of the job's steps, in step order.
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
    /// A step started; its log lines follow.
    StepStarted {
        /// The step's position in `JobSpec::steps`, from 0.
        index: usize,
        /// The step's display name.
        name: String,
    },
    /// One line of output, secrets already masked.
    Log {
        /// The step the line belongs to (its index in `JobSpec::steps`); `None` for job-level lines (setup, post scripts, deployment phases).
        step: Option<usize>,
        /// The line's text without its newline.
        line: String,
    },
    /// A step ended.
    StepFinished {
        /// The step's position in `JobSpec::steps`, from 0.
        index: usize,
        /// How the step ended.
        result: StepResult,
    },
    /// The job ended, with its result.
    JobFinished {
        /// How the job ended.
        result: JobResult,
    },
}
