//! Runs: from a request to a concluded run. The `orchestrator` owns every active run's
//! `scheduler::Scheduler` and carries its actions out; `dispatch` is the `Engine` (the job queue,
//! leases with fencing tokens, expiry, retry); `event` builds payloads and run facts from git and
//! checks dispatch inputs; `concurrency` holds workflow- and job-level groups across runs; `rerun`
//! makes new attempts; `called` reads the reusable workflows a run calls at its commit; `unrunnable` says why no runner can take a job; `job_cancel` cancels one job of a run.
//!
//! Nothing here speaks HTTP (that is `api`) or knows sled (that is `store`).

pub(crate) mod called;
pub mod concurrency;
pub mod dispatch;
pub mod event;
pub mod job_cancel;
pub mod orchestrator;
pub mod rerun;
pub mod retention;
pub mod unrunnable;
