//! The Slipway engine: it owns run state and never runs user commands.
//!
//! **Architecture Invariant:** only `store` knows sled; only `api` serves HTTP; the `scheduler` is a
//! pure state machine `(state, event, now) → actions` with no sockets, clocks or sleeps of its own.

pub mod api;
pub mod concurrency;
pub mod deploy;
pub mod dispatch;
pub mod event;
pub mod orchestrator;
pub mod releases;
pub mod repos;
pub mod rerun;
pub mod scheduler;
pub mod secrets;
pub mod store;
pub mod triggers;
