//! The step executor: runs one job's steps on this machine (host shell) and reports events.
//! Used in-process by `slipway run` and by runner processes alike.
//!
//! INTERFACE STUB: the signatures are the contract; the executor work fills in the body.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use protocol::{Conclusion, JobEvent, JobResult, JobSpec};
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

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
}

/// Runs the job to the end (or until `cancel` fires: then running steps get SIGTERM, then SIGKILL
/// after `kill_grace`, and `always()` steps still run). Every event is sent in order on `events`,
/// ending with `JobEvent::JobFinished`; the same result is returned.
pub async fn run_job(
    spec: JobSpec,
    _options: &ExecutorOptions,
    events: UnboundedSender<JobEvent>,
    _cancel: CancellationToken,
) -> JobResult {
    let result = JobResult {
        conclusion: Conclusion::Failure,
        outputs: IndexMap::new(),
        steps: Vec::new(),
        summary: String::new(),
        failure_reason: Some(format!(
            "the executor is not built yet (job {})",
            spec.job_key
        )),
    };
    let _ = events.send(JobEvent::JobFinished {
        result: result.clone(),
    });
    result
}
