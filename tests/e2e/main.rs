//! End-to-end tests through the `slipway` binary: real engine and runner processes on loopback, temp git repositories, temp data dirs.
//!
//! One binary per crate (each file below was its own binary): it links once and its tests share
//! helpers as modules.

#![allow(clippy::unwrap_used)] // test helpers may unwrap: a panic there fails the test

#[path = "../../workflows/tests/it/common/mod.rs"]
mod common;
mod support;

mod actions_e2e;
mod artifacts_e2e;
mod cli_first_steps;
mod cli_pipes_e2e;
mod cli_scripts_e2e;
mod cli_snapshots;
mod cli_table_snapshots;
mod client_cli;
mod conformance_act;
mod containers_e2e;
mod crash_e2e;
mod deploy_e2e;
mod disk_e2e;
mod engine_e2e;
mod examples;
mod failover_e2e;
mod forge_e2e;
mod identity_e2e;
mod job_cancel_e2e;
mod limits_e2e;
mod local_run;
mod log_view_e2e;
mod ofrep_e2e;
mod parallel_steps_e2e;
#[path = "../../engine/tests/it/pg_cluster.rs"]
mod pg_cluster;
mod postgres_e2e;
mod release_plans_e2e;
mod releases_e2e;
mod replicas_e2e;
mod results_e2e;
mod reusable_e2e;
mod run_control_e2e;
mod soak_e2e;
mod source_e2e;
mod store_soak;
mod toolkit_e2e;
mod triggers_e2e;
mod trust_e2e;
mod ui_e2e;
mod users_e2e;
