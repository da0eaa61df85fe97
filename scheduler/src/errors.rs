//! The scheduler's errors: events it refuses. A refused event changes nothing; the caller logs it
//! and carries on (a duplicate delivery after a restart is the usual cause). A failing workflow is
//! never an error here: it is a run concluded `failure`.

use super::state::IllegalMove;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedulerError {
    #[error("failed to select job `{job}`: the workflow has no such job")]
    UnknownSelectedJob { job: String },
    #[error("no job `{job_key}` in this run")]
    UnknownJobKey { job_key: String },
    #[error("job `{job_key}`: {source}")]
    IllegalMove {
        job_key: String,
        #[source]
        source: IllegalMove,
    },
    #[error("the run: {source}")]
    IllegalRunMove {
        #[source]
        source: IllegalMove,
    },
    #[error("nothing to re-run: no job of the run failed or was cancelled")]
    NothingToRerun,
    #[error("failed to keep the result of job `{job}`: {reason}")]
    CannotKeep { job: String, reason: String },
}
