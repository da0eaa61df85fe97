//! Validation of a parsed workflow (needs cycles, ids, crons, expressions, contexts). Stub.

use crate::diagnostic::Diagnostic;
use crate::model::Workflow;

pub fn validate(_: &Workflow, _: &str) -> Vec<Diagnostic> {
    Vec::new()
}
