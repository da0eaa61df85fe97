//! The workflow language's integration tests: parsing, validation, expressions, matrices, filters, conformance data.
//!
//! One binary per crate (each file below was its own binary): it links once and its tests share
//! helpers as modules.

#![allow(clippy::unwrap_used)] // test helpers may unwrap: a panic there fails the test

mod common;

mod bad_input;
mod conformance_actionlint;
mod conformance_expressions;
mod conformance_parser;
mod expr_api;
mod expr_proptest;
mod filters_patterns;
mod filters_properties;
mod filters_triggers;
mod matrix_expand;
mod matrix_properties;
mod parse_errors;
mod parse_ok;
mod validate_examples;
mod validate_rules;
