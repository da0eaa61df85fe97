//! Reusable workflows a run calls, read on a blocking thread (git2 reads must not stall the
//! runtime): a local `./.github/workflows/x.yml` from the caller's repository at the run's
//! commit (never from a working tree; nested local calls inside a remote workflow too, as on
//! GitHub, where a called workflow runs in the caller's context), a remote
//! `owner/repo/.github/workflows/x.yml@ref` from the action mirrors at the commit its ref is
//! pinned to (fetched from the action sources when not mirrored, as actions are). The scheduler
//! plans the calls from what this loads (`RunInput::called`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use protocol::actions::{ActionMirror, ActionSource};
use workflows::Workflow;
use workflows::parse::reusable::{CallTarget, WorkflowSource};

use crate::actions::ActionMirrors;
use crate::runs::dispatch::Engine;
use crate::runs::event;
use crate::runs::orchestrator::OrchestratorError;

/// What loading a run's calls found.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    /// Every called workflow by its key (path or remote reference).
    pub called: IndexMap<String, Workflow>,
    /// The errors of loading and checking the calls (each `file:line:col: error: message`): the
    /// run must not start.
    pub errors: Vec<String>,
    /// Remote references → the full commit sha each was read at, kept with the run's action
    /// pins so re-runs read the same commits.
    pub pins: IndexMap<String, String>,
}

/// Every workflow `workflow` calls (nested calls included) at commit `sha` of `repository`;
/// remote ones at `pinned` commits when given there (a re-run), else at their refs now.
pub(crate) async fn load_at_commit(
    engine: &Arc<Engine>,
    repository: &Path,
    sha: &str,
    workflow: &Workflow,
    pinned: &IndexMap<String, String>,
) -> Result<Loaded, OrchestratorError> {
    if workflow.jobs.values().all(|job| job.uses.is_none()) {
        return Ok(Loaded::default());
    }
    let mirrors = ActionMirrors::new(engine);
    let sources = mirrors.sources().unwrap_or_else(|error| {
        tracing::warn!(%error, "failed to read the action sources");
        Vec::new()
    });
    let mut source = CommitSource {
        repository: repository.to_path_buf(),
        sha: sha.to_string(),
        data_dir: mirrors.data_dir().to_path_buf(),
        sources,
        pinned: pinned.clone(),
        pins: IndexMap::new(),
        fetched: Vec::new(),
    };
    let workflow = workflow.clone();
    let (called, diagnostics, source) = tokio::task::spawn_blocking(move || {
        let (called, diagnostics) = scheduler::load_called(&workflow, &mut source);
        (called, diagnostics, source)
    })
    .await
    .map_err(|error| OrchestratorError::Plan(error.to_string()))?;
    if let Err(error) = mirrors.record_mirrors(source.fetched).await {
        tracing::warn!(%error, "failed to record the fetched mirrors");
    }
    let errors = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.is_error())
        .map(ToString::to_string)
        .collect();
    Ok(Loaded {
        called,
        errors,
        pins: source.pins,
    })
}

/// Called workflows from one commit of one repository, and remote ones from the mirrors.
struct CommitSource {
    repository: PathBuf,
    sha: String,
    data_dir: PathBuf,
    sources: Vec<ActionSource>,
    pinned: IndexMap<String, String>,
    pins: IndexMap<String, String>,
    fetched: Vec<ActionMirror>,
}

impl WorkflowSource for CommitSource {
    fn read(&mut self, target: &CallTarget) -> Result<String, String> {
        match target {
            CallTarget::Remote { reference } => {
                let read = crate::actions::reusable::read_remote_workflow(
                    &self.data_dir,
                    &self.sources,
                    reference,
                    self.pinned.get(reference).map(String::as_str),
                )?;
                self.fetched.extend(read.fetched);
                self.pins.insert(reference.clone(), read.sha);
                Ok(read.text)
            }
            CallTarget::Local { path } => event::file_at_commit(&self.repository, &self.sha, path)
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
                .map_err(|error| {
                    format!(
                        "`{path}` is not in commit {}: {}",
                        self.sha,
                        error.message()
                    )
                }),
        }
    }
}
