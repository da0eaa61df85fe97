//! Deployments in the engine: a job with `environment:` does not go straight to the queue. It
//! becomes a deployment record and waits (job state `waiting`) at its environment's protection
//! gate (approvals, wait timer, ref policy), then in the environment's lane (one deployment at a
//! time, FIFO across runs, paused by freeze windows). When it leaves the lane the version guard
//! is checked, the plan is made (strategy, blue-green slot, last good version), environment
//! secrets and variables are added, and the job is queued for a runner with its
//! `DeploymentAssignment`. Its result's `DeploymentReport` moves the record to success, failure
//! or rolled back (with a `rollback` record), and the lane moves on.
//!
//! The rules are `deploy`'s (pure); this module keeps their state in the store (`RecordKind`
//! trees), reads git for the version guard, and tells the engine to hold, release or conclude
//! jobs. One lock serialises every decision, so two approvals or a finish racing a tick cannot
//! both start a deployment. A restart loses nothing: every decision is written before it is
//! acted on, and `tick` re-derives what to do from the records.
//!
//! It must not speak HTTP (that is `api::environments`) nor know sled.
//!
//! The parts, in the order a deployment meets them:
//! - `clock`: where "now" comes from;
//! - `environments`: environment configuration and approver groups (CRUD);
//! - `gate`: a job with `environment:` becomes a deployment and waits at its protection gate;
//! - `lane`: one deployment at a time per environment; the version guard, the plan, the start;
//! - `canary`: approvals of canary phases while a deployment runs;
//! - `settle`: a finished job's outcome recorded (`deploy::settle` decides it);
//! - `rollback`: `slipway rollback ENV`, a run with one engine-made job;
//! - `job`: what is read from and added to a deployment job's spec;
//! - `records`: store reads and writes shared by the parts;
//! - `git`: git reads on blocking threads.

pub mod releases;

mod canary;
mod clock;
mod environments;
mod gate;
mod git;
mod job;
mod lane;
mod records;
mod rollback;
mod settle;

use std::sync::Arc;

use deploy::{Environment, Lane};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::runs::dispatch::Engine;
use crate::store::StoreError;

pub use clock::Clock;

/// What went wrong; the message names the environment, run or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// Reading or writing the environment, deployment or audit records failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No environment of that name is configured.
    #[error("environment `{0}` does not exist (create it with `slipway env create {0}`)")]
    UnknownEnvironment(String),
    /// `slipway env create` named an environment that is configured already.
    #[error("environment `{0}` exists already (change it with `slipway env edit {0}`)")]
    EnvironmentExists(String),
    /// An environment's settings are not valid (bad patch, unknown approver group, bad window);
    /// the text says which.
    #[error("{0}")]
    Invalid(String),
    /// A decision named a run with no deployment waiting at that environment's gate.
    #[error("run {run_id} has no deployment waiting for `{environment}`")]
    NothingToApprove {
        /// The run id the decision named.
        run_id: String,
        /// The environment's name.
        environment: String,
    },
    /// The approver's decision was refused (not an approver, self-review, no approval needed).
    #[error(transparent)]
    Approval(#[from] deploy::ApprovalError),
    /// A rollback was asked for an environment with no earlier successful deployment.
    #[error("nothing to roll back to in `{0}`: it has no earlier successful deployment")]
    NothingToRollBack(String),
}

/// Where approver groups (`@ops` in `--approvers`) are kept: one `deploy::Groups` record.
pub const GROUPS_KEY: &str = "groups";

/// The deployments service; one per engine, shared (`Arc`).
pub struct Deployments {
    engine: Arc<Engine>,
    clock: Clock,
    lock: Mutex<()>,
    /// Whether any deployment may be unfinished: `tick` reads the records only then. Set when
    /// one is recorded (and on start, to look once); cleared when a look finds none.
    maybe_active: std::sync::atomic::AtomicBool,
}

pub use protocol::environments::ApprovalOutcome;

/// One environment as the API shows it: its settings and its lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentView {
    /// The environment's settings: protection rules, approvers, freeze windows.
    pub environment: Environment,
    /// The environment's deployment lane: the deployment holding it and those queued.
    pub lane: Lane,
    /// `idle`, `busy`, `frozen until …`, `ready`.
    pub lane_state: String,
}

impl Deployments {
    /// The deployments service of `engine`, taking "now" from `clock`.
    pub fn new(engine: Arc<Engine>, clock: Clock) -> Deployments {
        Deployments {
            engine,
            clock,
            lock: Mutex::new(()),
            maybe_active: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// The current instant by the service's clock (the system's, or a test's file).
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    // ---- environments -------------------------------------------------------------------
}
