//! The scheduler's integration tests: purity of the crate, plans from YAML.
//!
//! One binary per crate (each file below was its own binary): it links once and its tests share
//! helpers as modules.

#![allow(clippy::unwrap_used)] // test helpers may unwrap: a panic there fails the test

mod purity;
mod scheduler_yaml;
