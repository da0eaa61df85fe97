//! The run scheduler: a pure state machine `(state, event, now) → actions` (DESIGN.md invariant 3),
//! used alike by `slipway run` (an in-process executor) and by the engine (jobs leased to runner
//! processes).
//!
//! Who talks to whom:
//! - `events`: the messages. The caller sends `Event`s (start, job started/finished, cancel, tick)
//!   and carries out the `Action`s it gets back (start job, cancel job, job skipped/concluded, run
//!   finished).
//! - `machine`: the `Scheduler` that turns events into actions: readiness by `needs` (no stage
//!   layers), fail-fast, `max-parallel`, run cancel, timeouts, the run's conclusion.
//! - `conditions`: a job's `if:` with the status functions folded over all its ancestors.
//! - `plan`: the run's input, the job selection, the contexts of job-level expressions, matrix
//!   expansion into legs and the `JobSpec` of each leg.
//! - `reusable`: reusable-workflow calls: the nested run of each call leg (its input from `with:`
//!   and `secrets:`, keys and names prefixed `caller / called`) and the call's outputs.
//! - `rerun`: which jobs a re-run runs again and the results it keeps from the earlier attempt
//!   (`Scheduler::seed`).
//! - `state`: the run, job and leg states with their legal moves.
//! - `driver`: the loop that feeds events in and hands each action to a `Driver` (the engine's
//!   orchestrator queues jobs for runners; `slipway run` runs them in-process).
//! - `github`: the one builder of the `github` context from the run's facts, and the numeric
//!   `github.run_id`.
//! - `errors`: events the scheduler refuses.
//!
//! It is deliberately not a generic DAG framework: it knows jobs, `needs`, matrices and the job
//! fields GitHub evaluates at job level, nothing more. It reads no clock, does no I/O and never
//! sleeps.
//!
//! Decisions where GitHub is silent or where we differ:
//! - `--job ID` runs the job and every job it needs, transitively (as act does).
//! - A job with job-level `continue-on-error` that fails keeps `failure` as its own conclusion,
//!   but its dependents see `needs.<id>.result == 'success'` and `success()` stays true, it does
//!   not fail the run and does not trigger fail-fast (GitHub behaves this way).
//! - A job left unstarted by a run cancel (its `if:` is false after the cancel) concludes
//!   `cancelled`, not `skipped`.
//! - A reusable-workflow call job (`uses:` at job level) runs, per matrix leg, a nested run of the
//!   called workflow; the leg concludes with that run's conclusion and carries the called
//!   workflow's outputs. Only the called jobs are handed out (keys `call/build`, names
//!   `call / build`); a cancel reaches every nested run, whose jobs decide by their own `if:`.
//! - A job that times out concludes `failure`.
//! - Matrix job outputs merge in the order legs finished; an empty value never overwrites
//!   another leg's value.
//! - An explicit `success()` in a job's `if:` is true when no ancestor failed and the run was not
//!   cancelled (a skipped ancestor does not make it false); without a status function a skipped
//!   ancestor skips the job, as on GitHub.

mod conditions;
mod driver;
mod errors;
mod events;
mod github;
mod machine;
mod plan;
mod rerun;
mod reusable;
mod state;
mod wire_step;

pub use conditions::{AncestorStatus, Decision};
pub use driver::{Driver, Started, dispatch, drive};
pub use errors::SchedulerError;
pub use events::{Action, CancelReason, Event, Millis};
pub use github::{github_context, numeric_run_id, repository_owner};
pub use machine::{JobView, LegView, Scheduler};
pub use plan::{
    DEFAULT_TIMEOUT_MINUTES, RunInput, Selection, combination_label, evaluate_concurrency,
    secrets_for_spec, workflow_level_values,
};
pub use rerun::{KeptJob, KeptLeg, RerunMode, job_conclusion, jobs_to_rerun};
pub use reusable::{CallFrame, load_called};
pub use state::{IllegalMove, JobPhase, LegState, RunPhase};
pub use wire_step::step_to_wire;

#[cfg(test)]
mod tests;
