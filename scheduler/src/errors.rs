//! The scheduler's errors: events it refuses. A refused event changes nothing; the caller logs it
//! and carries on (a duplicate delivery after a restart is the usual cause). A failing workflow is
//! never an error here: it is a run concluded `failure`.

use super::state::IllegalMove;

/// Why the scheduler refused an event or a request; a refused one leaves the run unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    /// A selected job (`--job`, or the job of a re-run) is not in the workflow.
    #[error("failed to select job `{job}`: the workflow has no such job")]
    UnknownSelectedJob {
        /// The job id as the caller gave it (`--job`, or the job of a re-run).
        job: String,
    },
    /// An event names a job key that no leg of this run has.
    #[error("no job `{job_key}` in this run")]
    UnknownJobKey {
        /// The job key the event named (the job id, plus the matrix values for a leg).
        job_key: String,
    },
    /// A job's leg cannot make the move an event asks for, e.g. a `JobFinished` delivered twice.
    #[error("job `{job_key}`: {source}")]
    IllegalMove {
        /// The key of the job (or matrix leg) the event was about.
        job_key: String,
        /// The move that was refused and the state the leg was in.
        #[source]
        source: IllegalMove,
    },
    /// The run itself cannot make the move asked for, e.g. a second `Event::Start`.
    #[error("the run: {source}")]
    IllegalRunMove {
        /// The move that was refused and the state the run was in.
        #[source]
        source: IllegalMove,
    },
    /// A re-run of the failed jobs was asked for, but every job of the earlier attempt succeeded or
    /// was skipped.
    #[error("nothing to re-run: no job of the run failed or was cancelled")]
    NothingToRerun,
    /// `Scheduler::seed` cannot put an earlier attempt's result in place: the run already started,
    /// or it has no such job.
    #[error("failed to keep the result of job `{job}`: {reason}")]
    CannotKeep {
        /// The id of the job whose result could not be kept.
        job: String,
        /// Why, in words, e.g. "the run has no such job".
        reason: String,
    },
}
