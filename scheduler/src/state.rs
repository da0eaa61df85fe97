//! The states of a run, of a job and of one leg of a job, with the legal moves between them
//! written as functions. A move that is not legal returns `IllegalMove` and changes nothing, so an
//! event delivered twice (a retry after a restart) is refused instead of corrupting the run.
//!
//! This module knows nothing of expressions or matrices; `machine` decides which move to make.

use protocol::Conclusion;
use serde::{Deserialize, Serialize};

use super::events::{CancelReason, Millis};

/// Where one runnable unit stands: a job without a matrix has one leg, a matrix job one per
/// combination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LegState {
    /// Planned, not handed out yet: waiting for a `max-parallel` slot.
    Pending,
    /// Handed out with `StartJob`, not started yet. `cancel` is set once a cancel was asked for.
    Queued {
        /// The reason of the cancel asked for while queued, if any.
        cancel: Option<CancelReason>,
    },
    /// Started at `started_at` (the caller's time).
    Running {
        /// When the leg started, in the caller's time.
        started_at: Millis,
        /// The reason of the cancel asked for, if any (possibly while it was still queued).
        cancel: Option<CancelReason>,
    },
    /// Over, with the conclusion as it happened (before `continue-on-error` is applied).
    Finished {
        /// The leg's conclusion as the caller reported it.
        conclusion: Conclusion,
    },
}

/// A move the current state does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {attempted} a job that is {state}")]
pub struct IllegalMove {
    /// The move tried, in words, e.g. `hand out` or `start`.
    pub attempted: &'static str,
    /// The state the leg, job or run was in, in words, e.g. `queued`.
    pub state: &'static str,
}

impl LegState {
    /// Pending → Queued: the leg is handed out with `StartJob`.
    pub fn hand_out(self) -> Result<LegState, IllegalMove> {
        match self {
            LegState::Pending => Ok(LegState::Queued { cancel: None }),
            other => Err(other.illegal("hand out")),
        }
    }

    /// Queued → Running: the caller reports that the leg started.
    pub fn start(self, now: Millis) -> Result<LegState, IllegalMove> {
        match self {
            LegState::Queued { cancel } => Ok(LegState::Running {
                started_at: now,
                cancel,
            }),
            other => Err(other.illegal("start")),
        }
    }

    /// Queued | Running → Finished: the caller reports the leg's result.
    pub fn finish(self, conclusion: Conclusion) -> Result<LegState, IllegalMove> {
        match self {
            LegState::Queued { .. } | LegState::Running { .. } => {
                Ok(LegState::Finished { conclusion })
            }
            other => Err(other.illegal("finish")),
        }
    }

    /// Pending → Finished: the scheduler concludes a leg that was never handed out (fail-fast,
    /// run cancel, an expression error while building it).
    pub fn conclude_unstarted(self, conclusion: Conclusion) -> Result<LegState, IllegalMove> {
        match self {
            LegState::Pending => Ok(LegState::Finished { conclusion }),
            other => Err(other.illegal("conclude without running")),
        }
    }

    /// Queued | Running (not cancelled yet) → the same state, marked as being cancelled.
    pub fn request_cancel(self, reason: CancelReason) -> Result<LegState, IllegalMove> {
        match self {
            LegState::Queued { cancel: None } => Ok(LegState::Queued {
                cancel: Some(reason),
            }),
            LegState::Running {
                started_at,
                cancel: None,
            } => Ok(LegState::Running {
                started_at,
                cancel: Some(reason),
            }),
            other => Err(other.illegal("cancel")),
        }
    }

    /// Handed out and not finished: it holds a `max-parallel` slot.
    pub fn is_active(self) -> bool {
        matches!(self, LegState::Queued { .. } | LegState::Running { .. })
    }

    /// Whether the leg is over (`Finished`).
    pub fn is_finished(self) -> bool {
        matches!(self, LegState::Finished { .. })
    }

    /// The reason a cancel was asked for, if one was.
    pub fn cancel_reason(self) -> Option<CancelReason> {
        match self {
            LegState::Queued { cancel } | LegState::Running { cancel, .. } => cancel,
            _ => None,
        }
    }

    /// The state in words (`pending`, `queued`, `running`, `finished`), as `IllegalMove` reports
    /// it.
    pub fn name(self) -> &'static str {
        match self {
            LegState::Pending => "pending",
            LegState::Queued { .. } => "queued",
            LegState::Running { .. } => "running",
            LegState::Finished { .. } => "finished",
        }
    }

    fn illegal(self, attempted: &'static str) -> IllegalMove {
        IllegalMove {
            attempted,
            state: self.name(),
        }
    }
}

/// Where a job (all its legs together) stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum JobPhase {
    /// Some job it needs has not concluded yet.
    Waiting,
    /// Its `if:` held and its legs are planned; the legs carry the progress.
    Expanded,
    /// Concluded without any leg running: skipped, failed before running, or cancelled.
    Concluded {
        /// How the job concluded, e.g. `skipped` or `cancelled`.
        conclusion: Conclusion,
        /// Why it concluded without running, for the run's log.
        reason: String,
    },
}

impl JobPhase {
    /// Waiting → Expanded: the job's needs concluded, its `if:` held, its legs were planned.
    pub fn expand(&self) -> Result<JobPhase, IllegalMove> {
        match self {
            JobPhase::Waiting => Ok(JobPhase::Expanded),
            other => Err(IllegalMove {
                attempted: "expand",
                state: other.name(),
            }),
        }
    }

    /// Waiting → Concluded: the job will not run.
    pub fn conclude_without_running(
        &self,
        conclusion: Conclusion,
        reason: String,
    ) -> Result<JobPhase, IllegalMove> {
        match self {
            JobPhase::Waiting => Ok(JobPhase::Concluded { conclusion, reason }),
            other => Err(IllegalMove {
                attempted: "conclude without running",
                state: other.name(),
            }),
        }
    }

    /// The phase in words, e.g. `waiting for its needs`, as `IllegalMove` reports it.
    pub fn name(&self) -> &'static str {
        match self {
            JobPhase::Waiting => "waiting for its needs",
            JobPhase::Expanded => "planned",
            JobPhase::Concluded { .. } => "concluded",
        }
    }
}

/// Where the run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunPhase {
    /// Built, `Start` not received yet.
    Created,
    /// Started; `cancel_requested` once the user cancelled.
    Running {
        /// Whether the user cancelled the run.
        cancel_requested: bool,
    },
    /// `RunFinished` was emitted.
    Finished {
        /// The run's overall conclusion.
        conclusion: Conclusion,
    },
}

impl RunPhase {
    /// Created → Running.
    pub fn start(self) -> Result<RunPhase, IllegalMove> {
        match self {
            RunPhase::Created => Ok(RunPhase::Running {
                cancel_requested: false,
            }),
            other => Err(IllegalMove {
                attempted: "start",
                state: other.name(),
            }),
        }
    }

    /// Running → Running (cancelled). Cancelling twice is harmless and changes nothing.
    pub fn cancel(self) -> Result<RunPhase, IllegalMove> {
        match self {
            RunPhase::Running { .. } => Ok(RunPhase::Running {
                cancel_requested: true,
            }),
            other => Err(IllegalMove {
                attempted: "cancel",
                state: other.name(),
            }),
        }
    }

    /// Running → Finished.
    pub fn finish(self, conclusion: Conclusion) -> Result<RunPhase, IllegalMove> {
        match self {
            RunPhase::Running { .. } => Ok(RunPhase::Finished { conclusion }),
            other => Err(IllegalMove {
                attempted: "finish",
                state: other.name(),
            }),
        }
    }

    /// Whether the run is running and the user cancelled it.
    pub fn is_cancel_requested(self) -> bool {
        matches!(
            self,
            RunPhase::Running {
                cancel_requested: true
            }
        )
    }

    /// The phase in words (`not started`, `running`, `finished`), as `IllegalMove` reports it.
    pub fn name(self) -> &'static str {
        match self {
            RunPhase::Created => "not started",
            RunPhase::Running { .. } => "running",
            RunPhase::Finished { .. } => "finished",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leg_moves_pending_queued_running_finished() {
        let leg = LegState::Pending
            .hand_out()
            .and_then(|s| s.start(Millis(5)));
        assert_eq!(
            leg,
            Ok(LegState::Running {
                started_at: Millis(5),
                cancel: None
            })
        );
        let finished = leg.and_then(|s| s.finish(Conclusion::Success));
        assert_eq!(
            finished,
            Ok(LegState::Finished {
                conclusion: Conclusion::Success
            })
        );
    }

    #[test]
    fn illegal_moves_are_refused() {
        assert!(LegState::Pending.start(Millis(0)).is_err());
        assert!(LegState::Pending.finish(Conclusion::Success).is_err());
        let done = LegState::Finished {
            conclusion: Conclusion::Failure,
        };
        assert!(done.finish(Conclusion::Success).is_err());
        assert!(done.request_cancel(CancelReason::FailFast).is_err());
        let cancelling = LegState::Queued {
            cancel: Some(CancelReason::FailFast),
        };
        assert!(
            cancelling
                .request_cancel(CancelReason::RunCancelled)
                .is_err()
        );
        assert!(RunPhase::Created.cancel().is_err());
        assert!(JobPhase::Expanded.expand().is_err());
    }

    #[test]
    fn a_cancel_request_survives_the_start() {
        let leg = LegState::Queued {
            cancel: Some(CancelReason::RunCancelled),
        }
        .start(Millis(1));
        assert_eq!(
            leg.map(LegState::cancel_reason),
            Ok(Some(CancelReason::RunCancelled))
        );
    }
}
