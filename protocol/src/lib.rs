//! Every type that crosses a process boundary in Slipway: the runner protocol, the read API and
//! the admin API. Everything here is plain data, serialised as JSON over HTTP;
//! `PROTOCOL_VERSION` changes whenever a field changes (`tests/wire_shape.rs` holds it to that).
//!
//! **Architecture Invariant:** no behaviour lives here beyond small helpers on the data, and
//! this crate depends on no domain crate (`workflows`, `deploy`, `engine`, `runner`): domain
//! crates convert their types to and from these by hand.

pub mod actions;
pub mod admin;
pub mod artifacts;
pub mod container;
pub mod deployment;
pub mod environments;
pub mod job;
pub mod releases;
pub mod repos;
pub mod run;
pub mod step;
pub mod users;
pub mod wire;

pub use container::{ContainerSpec, RegistryCredentials};
pub use deployment::{
    Activity, BatchSize, CanaryPhase, DeploymentContext, DeploymentPlan, DeploymentSpec,
    DeploymentStatus, PhaseRecord, PlannedPhase, RollbackMode, StrategyKind, Version,
};
pub use job::{
    Checkout, Conclusion, DeploymentAssignment, DeploymentReport, EnvironmentRef, JobEvent,
    JobResult, JobSpec, RollbackReport, StepResult,
};
pub use run::RunFacts;
pub use step::{BoolOrExpression, NumberOrExpression, Step, StepControl};

/// Sent by both sides; a mismatch is refused with a clear error.
///
/// 2: steps and deployment values are protocol's own plain data (no `workflows` spans, no
/// `deploy` types), after the wire had changed in many commits at 1.
/// 3: environment settings travel as a typed `EnvironmentPatch`, not as command-line words.
/// 4: pinned remote actions, job containers and services, background/control steps, the
/// per-job runtime token in the lease, cache entry versions.
/// 6: a job's `waiting_for`, a release plan's `check`, an environment's `release_policies`.
pub const PROTOCOL_VERSION: u32 = 6;
