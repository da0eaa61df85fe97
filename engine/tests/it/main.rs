//! The engine's integration tests: store, triggers, deployments and the HTTP API, in process.
//!
//! One binary per crate (each file below was its own binary): it links once and its tests share
//! helpers as modules.

#![allow(clippy::unwrap_used)] // test helpers may unwrap: a panic there fails the test

mod api_protocol;
mod deploy_flow;
mod deploy_invariants;
mod hook_reference_transaction;
mod lease_fencing_props;
mod log_times;
mod pg_cluster;
mod store_recovery;
mod store_suite;
mod triggers_git;
mod triggers_hook;
mod triggers_pure;
