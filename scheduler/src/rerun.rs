//! Re-runs: which jobs of an earlier attempt run again (`RerunMode`), and the results the new
//! attempt keeps from the earlier one (`KeptJob`), which `Scheduler::seed` puts in place before
//! `Event::Start`.
//!
//! GitHub's rule: re-running failed jobs (or one job) also re-runs every job that depends on
//! them, directly or not; the other jobs keep their results and outputs, and dependents read
//! those kept outputs through `needs`. This module only decides; it reads no store.

use indexmap::{IndexMap, IndexSet};
use protocol::{Conclusion, JobResult};
use serde::{Deserialize, Serialize};
use workflows::Workflow;

use super::errors::SchedulerError;
use super::plan::resolve_job_id;

/// What a re-run runs again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", content = "job", rename_all = "snake_case")]
pub enum RerunMode {
    /// Every job.
    All,
    /// Jobs that concluded `failure` or `cancelled`, and every job depending on them.
    Failed,
    /// This job (compared case-insensitively) and every job depending on it.
    Job(String),
}

/// A job of the earlier attempt whose result the new attempt keeps: its legs (one for a job
/// without a matrix) with their results, in the order they finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptJob {
    /// The job's id in the workflow, e.g. `build`.
    pub job_id: String,
    /// Its finished legs with their results, in the order they finished.
    pub legs: Vec<KeptLeg>,
}

/// One finished leg of a kept job, with its result from the earlier attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptLeg {
    /// The leg's key in the run (the job id, plus the matrix values for a matrix leg).
    pub job_key: String,
    /// The name shown for the leg (`name:` evaluated, or the key).
    pub display_name: String,
    /// The leg's result in the earlier attempt; dependents read its outputs through `needs`.
    pub result: JobResult,
}

/// The workflow's jobs that run again, in declaration order, given each job's conclusion in the
/// earlier attempt (`previous`, by job id; a matrix job's conclusion is its worst leg's). A job
/// with no conclusion in `previous` never ran to an end, so it runs again too.
pub fn jobs_to_rerun(
    workflow: &Workflow,
    previous: &IndexMap<String, Conclusion>,
    mode: &RerunMode,
) -> Result<IndexSet<String>, SchedulerError> {
    let roots: Vec<String> = match mode {
        RerunMode::All => return Ok(workflow.jobs.keys().cloned().collect()),
        RerunMode::Failed => workflow
            .jobs
            .keys()
            .filter(|id| {
                !matches!(
                    previous.get(*id),
                    Some(Conclusion::Success | Conclusion::Skipped)
                )
            })
            .cloned()
            .collect(),
        RerunMode::Job(name) => match resolve_job_id(workflow, name) {
            Some(id) => vec![id.to_string()],
            None => {
                return Err(SchedulerError::UnknownSelectedJob { job: name.clone() });
            }
        },
    };
    if roots.is_empty() {
        return Err(SchedulerError::NothingToRerun);
    }
    let mut chosen: IndexSet<String> = roots.into_iter().collect();
    // Dependents, to a fixed point: a job needing a chosen job is chosen.
    loop {
        let before = chosen.len();
        for (id, job) in &workflow.jobs {
            if chosen.contains(id) {
                continue;
            }
            let needs_chosen = job.needs.iter().any(|need| {
                resolve_job_id(workflow, need).is_some_and(|need_id| chosen.contains(need_id))
            });
            if needs_chosen {
                chosen.insert(id.clone());
            }
        }
        if chosen.len() == before {
            break;
        }
    }
    Ok(workflow
        .jobs
        .keys()
        .filter(|id| chosen.contains(*id))
        .cloned()
        .collect())
}

/// A job's conclusion from its legs' conclusions: failure wins, then cancelled; all skipped is
/// skipped; otherwise success.
pub fn job_conclusion(legs: &[Conclusion]) -> Conclusion {
    if legs.contains(&Conclusion::Failure) {
        Conclusion::Failure
    } else if legs.contains(&Conclusion::Cancelled) {
        Conclusion::Cancelled
    } else if !legs.is_empty() && legs.iter().all(|c| *c == Conclusion::Skipped) {
        Conclusion::Skipped
    } else {
        Conclusion::Success
    }
}
