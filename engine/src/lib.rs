//! The Slipway engine: it owns run state and never runs user commands.
//!
//! **Architecture Invariant:** only `store` knows sled; only `api` serves HTTP; the run scheduler
//! is the `scheduler` crate, a pure state machine `(state, event, now) → actions` whose
//! Cargo.toml names no runtime, store or server.

pub mod actions;
pub mod api;
pub mod artifacts;
pub mod deploy;
pub mod forge;
pub mod identity;
pub mod repos;
pub mod runs;
pub mod secrets;
pub mod store;
pub mod ui;

// What the binary needs to start an engine, named at the crate root so that it never reaches into
// `api` or `deploy` internals.
pub use api::artifacts::spawn_sweeper as spawn_artifact_sweeper;
pub use api::{AppState, Server, serve as serve_http};
pub use deploy::Clock;
