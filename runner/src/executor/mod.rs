//! The step executor: runs one job's steps on this machine (host shell) and reports events.
//! Used in-process by `slipway run` and by runner processes alike.
//!
//! Table of contents — who does what:
//! - `job`: the job loop — step conditions, env layering, contexts, results, job outputs;
//! - `background`: parallel steps — `background: true` steps in tasks of their own, and the
//!   `wait`, `wait-all` and `cancel` steps;
//! - `deployment`: a deployment job — the `deploy::DeploymentMachine` driven over the
//!   job's steps (execute phases) and hooks, with approvals asked through a `DeploymentGate`;
//! - `actions`: `uses:` steps — the built-in checkout / artifact / cache actions; `composite`:
//!   local composite actions (`uses: ./path`, `action.yml` read through `workflows::action`);
//! - `expressions`: the single door to `${{ }}` evaluation;
//! - `shell`: `shell:` → program and arguments; `process`: spawning, output lines, killing trees;
//!   `groups`: the on-disk record of steps' process groups, killed when the runner stops;
//! - `workflow_commands` (recognising `::cmd::` lines), `step_output` (acting on them) and
//!   `env_files` (the `$GITHUB_*` files): what a step says back;
//! - `masking`: secret masking of every log line; `workspace`: the job's directories;
//! - `checkout`, `artifacts`: the file work behind the built-in actions;
//! - `toolkit`: the env that points the official actions at the engine's services.
//! - `remote_actions`: a remote action's files (an action directory, or the pinned commit in the
//!   runner's content-addressed cache, fetched through an `ActionArchives`); `node_action`:
//!   JavaScript actions (`pre`, `main`, `post`, inputs, state, node versions).
//! - `container`: `container:` / `services:` on a Docker engine (a job's steps exec'd in its
//!   job container; `job::StepHost` says where a step's process runs).
//!
//! It must not talk to the engine or its store: everything goes out as `JobEvent`s.

mod actions;
mod artifacts;
mod background;
mod checkout;
mod composite;
pub mod container;
mod deployment;
mod env_files;
mod expressions;
pub mod groups;
mod job;
mod masking;
mod node_action;
mod process;
mod remote_actions;
mod shell;
mod step_output;
pub mod toolkit;
mod wire_step;
mod workflow_commands;
mod workspace;

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use protocol::{JobEvent, JobResult, JobSpec};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

pub use artifacts::{ArtifactFuture, ArtifactService, CacheService};
pub use checkout::{reachable_locally, unpack_source};
pub use deployment::{AutoApprove, DeploymentGate, GateFuture, NoGate};
pub use masking::{MASK, Masker};
pub use remote_actions::{ActionArchives, unpack_into_place};
pub use wire_step::step_from_wire;
pub use workspace::sanitise as sanitise_path_component;

/// How this machine runs jobs.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Root under which each job gets its own workspace and temp directories.
    pub work_dir: PathBuf,
    /// Steps inherit the invoking process's environment (as on a self-hosted runner).
    pub inherit_env: bool,
    /// Added on top of the inherited environment (`slipway run --env`).
    pub extra_env: IndexMap<String, String>,
    /// Time between SIGTERM and SIGKILL when a step is cancelled or times out.
    pub kill_grace: Duration,
    /// `runner.name` / `RUNNER_NAME`.
    pub runner_name: String,
    /// Where `upload-artifact` puts artifacts; `None`: `<work_dir>/<run_id>/_artifacts`. Jobs of one
    /// run share it, so they must run on machines that share it (or in one `slipway run`).
    pub artifacts_dir: Option<PathBuf>,
    /// When set, artifacts go to (and come from) this service instead of `artifacts_dir`: the
    /// engine, for a runner process (set per job by the agent).
    pub artifact_service: Option<std::sync::Arc<dyn ArtifactService>>,
    /// When set, `actions/cache` entries go to (and come from) this service instead of
    /// `cache_dir`: the engine, for a runner process (set per job by the agent).
    pub cache_service: Option<std::sync::Arc<dyn CacheService>>,
    /// Where `actions/cache` keeps its entries; `None`: `<work_dir>/_cache`.
    pub cache_dir: Option<PathBuf>,
    /// After a cancel or a job timeout, the time the `always()` steps still get, all together.
    pub cleanup_budget: Duration,
    /// How often a deployment waiting at a canary approval asks its gate again.
    pub approval_poll: Duration,
    /// The engine's services for the official actions (cache), for this job: set per job by
    /// the agent from the lease's runtime token; `None` for `slipway run`.
    pub toolkit: Option<toolkit::ToolkitAccess>,
    /// Give `run:` steps the toolkit env as well (off by default, as on GitHub, where only
    /// actions get it).
    pub toolkit_env_in_run_steps: bool,
    /// Where pinned remote actions are fetched from when they are not cached (the engine for a
    /// runner process, set per job by the agent; the engine's mirrors for `slipway run`).
    pub action_archives: Option<std::sync::Arc<dyn ActionArchives>>,
    /// Folders of plain action checkouts (`owner/repo@ref` or `owner/repo`), looked at first.
    pub action_dirs: Vec<PathBuf>,
    /// The content-addressed cache of action commits; `None`: `<work_dir>/_actions`.
    pub action_cache_dir: Option<PathBuf>,
    /// Node executables by major version (`node20 = /usr/bin/node` in the runner's config);
    /// a version not listed runs on the nearest newer one listed, else the nearest older one
    /// with a warning, else `node` on `PATH`.
    pub node_runtimes: IndexMap<u32, PathBuf>,
    /// Fail a JavaScript action whose node version is not configured instead of running it on
    /// another one.
    pub node_strict: bool,
    /// Put on every container and network a job creates (`slipway.runner`), so that a runner
    /// starting again removes what it left behind when it was killed.
    pub runner_id: String,
}

impl ExecutorOptions {
    /// Options with the defaults: inherit the environment, 5 s kill grace, 5 min cleanup budget.
    pub fn new(work_dir: impl Into<PathBuf>) -> ExecutorOptions {
        ExecutorOptions {
            work_dir: work_dir.into(),
            inherit_env: true,
            extra_env: IndexMap::new(),
            kill_grace: Duration::from_secs(5),
            runner_name: "slipway".to_string(),
            artifacts_dir: None,
            artifact_service: None,
            cache_service: None,
            cache_dir: None,
            cleanup_budget: Duration::from_secs(5 * 60),
            approval_poll: Duration::from_secs(2),
            toolkit: None,
            toolkit_env_in_run_steps: false,
            action_archives: None,
            action_dirs: Vec::new(),
            action_cache_dir: None,
            node_runtimes: IndexMap::new(),
            node_strict: false,
            runner_id: format!("local-{}", std::process::id()),
        }
    }
}

impl Default for ExecutorOptions {
    fn default() -> ExecutorOptions {
        ExecutorOptions::new(std::env::temp_dir().join("slipway-work"))
    }
}

/// Runs the job to the end (or until `cancel` fires: then running steps get SIGTERM, then SIGKILL
/// after `kill_grace`, and `always()` steps still run). Every event is sent in order on `events`,
/// ending with `JobEvent::JobFinished`; the same result is returned. A deployment job
/// (`JobSpec::deployment`) run this way cannot get approvals: use `run_job_with_gate`.
pub async fn run_job(
    spec: JobSpec,
    options: &ExecutorOptions,
    events: UnboundedSender<JobEvent>,
    cancel: CancellationToken,
) -> JobResult {
    run_job_with_gate(spec, options, events, cancel, &NoGate).await
}

/// `run_job`, with `gate` told of a deployment's progress and asked about its approvals.
pub async fn run_job_with_gate(
    spec: JobSpec,
    options: &ExecutorOptions,
    events: UnboundedSender<JobEvent>,
    cancel: CancellationToken,
    gate: &dyn DeploymentGate,
) -> JobResult {
    let result = job::JobRun::start(spec, options, events.clone(), cancel, gate).await;
    let _ = events.send(JobEvent::JobFinished {
        result: result.clone(),
    });
    result
}

/// A step's timeout as a person reads it: `2 minutes`, `1 minute`, `1.8 s` (never
/// `0.030000000000000002 minutes`).
pub(crate) fn timeout_text(timeout: std::time::Duration) -> String {
    let millis = timeout.as_millis();
    if millis > 0 && millis.is_multiple_of(60_000) {
        let minutes = millis / 60_000;
        return format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" });
    }
    let tenths = millis.div_ceil(100);
    if tenths.is_multiple_of(10) {
        format!("{} s", tenths / 10)
    } else {
        format!("{}.{} s", tenths / 10, tenths % 10)
    }
}

#[cfg(test)]
mod timeout_text_tests {
    use super::timeout_text;
    use std::time::Duration;

    #[test]
    fn timeouts_read_as_people_write_them() {
        assert_eq!(timeout_text(Duration::from_secs(120)), "2 minutes");
        assert_eq!(timeout_text(Duration::from_secs(60)), "1 minute");
        assert_eq!(timeout_text(Duration::from_millis(1_800)), "1.8 s");
        // 0.03 minutes, as `timeout-minutes: 0.03` gives it.
        assert_eq!(timeout_text(Duration::from_secs_f64(0.03 * 60.0)), "1.8 s");
        assert_eq!(timeout_text(Duration::from_secs(90)), "90 s");
    }
}
