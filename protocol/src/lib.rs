//! The only types that cross between the engine and a runner. Everything here is plain data,
//! serialised as JSON over HTTP; `PROTOCOL_VERSION` changes whenever a field changes meaning.
//!
//! **Architecture Invariant:** no behaviour lives here beyond small helpers on the data.

pub mod job;
pub mod run;
pub mod wire;

pub use job::{
    Conclusion, DeploymentAssignment, DeploymentReport, EnvironmentRef, JobEvent, JobResult,
    JobSpec, RollbackReport, StepResult,
};
pub use run::RunFacts;

/// Sent by both sides; a mismatch is refused with a clear error.
pub const PROTOCOL_VERSION: u32 = 1;
