//! The runner's integration tests: the step executor on real processes.
//!
//! One binary per crate (each file below was its own binary): it links once and its tests share
//! helpers as modules.

#![allow(clippy::unwrap_used)] // test helpers may unwrap: a panic there fails the test

mod executor_support;

mod executor_actions;
mod executor_deployment;
mod executor_expressions;
mod executor_processes;
mod executor_steps;
