//! The messages that cross the scheduler's boundary: `Event`s the caller feeds in, `Action`s the
//! scheduler hands back, and the caller's notion of time (`Millis`).
//!
//! The caller is `slipway run` (an in-process executor) or the engine (jobs leased to runner
//! processes); both execute the actions and report what happened as events. Nothing here does
//! anything by itself: no clocks, no I/O.

use protocol::{Conclusion, JobResult, JobSpec};
use serde::{Deserialize, Serialize};

/// A point in time as the caller sees it, in milliseconds since any fixed origin. The scheduler
/// never reads a clock: every event comes with the caller's `now`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Millis(pub u64);

impl Millis {
    /// This time plus `millis` milliseconds, capped at the largest `Millis` instead of overflowing.
    pub fn saturating_add(self, millis: u64) -> Millis {
        Millis(self.0.saturating_add(millis))
    }
}

/// What happened, as reported by the caller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The run begins: jobs without `needs` become ready.
    Start,
    /// A job handed out with `Action::StartJob` began running (a runner took it, or the local
    /// executor started it). Its timeout counts from here.
    JobStarted {
        /// The key of the job (or matrix leg) that started, as in its `JobSpec::job_key`.
        job_key: String,
    },
    /// A job handed out with `Action::StartJob` ended, whether it ran or was cancelled first.
    JobFinished {
        /// The key of the job (or matrix leg) that ended.
        job_key: String,
        /// What the job produced: its conclusion, outputs and step results.
        result: JobResult,
    },
    /// The user cancelled the run.
    CancelRequested,
    /// Nothing happened but time passed (the caller sends these so that timeouts fire).
    Tick,
}

/// What the caller must do next. Actions are listed in the order they should be carried out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    /// Run this job (or matrix leg): queue it for a runner, or start it locally. The caller answers
    /// with `JobStarted` and later `JobFinished`.
    StartJob(Box<JobSpec>),
    /// Stop a job handed out earlier (queued or running). The caller answers with `JobFinished`
    /// (conclusion `cancelled` when it never ran).
    CancelJob {
        /// The key of the job (or matrix leg) to stop.
        job_key: String,
        /// Why the scheduler stops it.
        reason: CancelReason,
    },
    /// The job will not run: its `if:` is false (by default: a job it needs did not succeed).
    JobSkipped {
        /// The key of the job that will not run.
        job_key: String,
        /// Why, worded to read after "skipped because …".
        reason: String,
    },
    /// The scheduler concluded a job without running it: an expression error, an unsupported
    /// feature, a matrix leg cancelled before it started, a job left over after a cancelled run.
    JobConcluded {
        /// The key of the job (or matrix leg) concluded.
        job_key: String,
        /// The conclusion it gets, e.g. `failure` or `cancelled`.
        conclusion: Conclusion,
        /// Why it concluded without running, for the run's log.
        reason: String,
    },
    /// Every job has concluded; nothing more will happen in this run.
    RunFinished {
        /// The run's overall conclusion.
        conclusion: Conclusion,
    },
}

/// Why the scheduler asks for a job to be cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The user cancelled the run and the job's `if:` does not hold after a cancel.
    RunCancelled,
    /// A sibling matrix leg failed and the job's `strategy.fail-fast` is on.
    FailFast,
    /// The job ran longer than its `timeout-minutes`; it concludes `failure`.
    TimedOut,
}

impl CancelReason {
    /// The reason in words, for logs and for the reason of a job concluded `cancelled`, e.g. "the
    /// run was cancelled".
    pub fn describe(self) -> &'static str {
        match self {
            CancelReason::RunCancelled => "the run was cancelled",
            CancelReason::FailFast => "another leg of the matrix failed (fail-fast)",
            CancelReason::TimedOut => "the job exceeded its timeout",
        }
    }
}
