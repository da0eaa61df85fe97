//! The Slipway runner: runs a job's steps on this machine and reports what happened.
//!
//! **Architecture Invariant:** a runner owns the step in progress and never writes the engine's
//! store; it learns about jobs only through `protocol` types.

pub mod agent;
pub mod engine_artifacts;
pub mod executor;
pub mod workdir_lock;
