//! Reusable workflows a run calls, read from the repository at the run's commit (never from a
//! working tree), on a blocking thread: git2 reads must not stall the runtime. The scheduler
//! plans the calls from what this loads (`RunInput::called`).

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use workflows::Workflow;
use workflows::parse::reusable::{CallTarget, WorkflowSource, remote_unsupported};

use crate::runs::event;
use crate::runs::orchestrator::OrchestratorError;

/// Every workflow `workflow` calls (nested calls included) at commit `sha` of `repository`, and
/// the errors of loading and checking the calls (each `file:line:col: error: message`). An
/// error means the run must not start.
pub(crate) async fn load_at_commit(
    repository: &Path,
    sha: &str,
    workflow: &Workflow,
) -> Result<(IndexMap<String, Workflow>, Vec<String>), OrchestratorError> {
    if workflow.jobs.values().all(|job| job.uses.is_none()) {
        return Ok((IndexMap::new(), Vec::new()));
    }
    let mut source = CommitSource {
        repository: repository.to_path_buf(),
        sha: sha.to_string(),
    };
    let workflow = workflow.clone();
    let (called, diagnostics) =
        tokio::task::spawn_blocking(move || scheduler::load_called(&workflow, &mut source))
            .await
            .map_err(|error| OrchestratorError::Plan(error.to_string()))?;
    let errors = diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.is_error())
        .map(ToString::to_string)
        .collect();
    Ok((called, errors))
}

/// Called workflows from one commit of one repository.
struct CommitSource {
    repository: PathBuf,
    sha: String,
}

impl WorkflowSource for CommitSource {
    fn read(&mut self, target: &CallTarget) -> Result<String, String> {
        match target {
            CallTarget::Remote { reference } => Err(remote_unsupported(reference)),
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
