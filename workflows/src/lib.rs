//! Slipway's workflow language: GitHub Actions workflow YAML turned into a typed model with source
//! positions, the `${{ }}` expression language, matrix expansion, trigger filters and validation.
//!
//! **Architecture Invariant:** this crate is pure. It does no I/O, spawns nothing, knows nothing of
//! sled, HTTP or tokio, and never panics on user input: every entry point returns a value plus the
//! diagnostics it found, each with file, line and column.

pub mod action;
pub mod contexts;
pub mod diagnostic;
pub mod duration;
pub mod expr;
pub mod filters;
pub mod matrix;
pub mod model;
pub mod parse;
pub mod span;
pub mod suggest;
pub mod validate;
pub mod yaml;

pub use diagnostic::{Diagnostic, Severity};
pub use model::Workflow;
pub use parse::{Parsed, parse_workflow, parse_workflow_bytes};
pub use span::{Span, Spanned};
