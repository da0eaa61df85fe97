//! The entry point: workflow text → typed model plus every diagnostic (YAML errors, schema errors,
//! validation findings).
//!
//! INTERFACE STUB: filled in by the parser work.

use crate::diagnostic::Diagnostic;
use crate::model::Workflow;

/// The result of reading one workflow file. `workflow` is `None` only when the file could not be
/// read as a workflow at all; it may be present alongside errors.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub workflow: Option<Workflow>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and validates one workflow file. `file` names it in diagnostics.
pub fn parse_workflow(file: &str, _source: &str) -> Parsed {
    Parsed {
        workflow: None,
        diagnostics: vec![Diagnostic::error(
            file,
            Default::default(),
            "workflow parsing is not built yet",
        )],
    }
}

/// Like `parse_workflow`, for raw file bytes: invalid UTF-8 is reported at its line and column.
pub fn parse_workflow_bytes(file: &str, bytes: &[u8]) -> Parsed {
    match std::str::from_utf8(bytes) {
        Ok(source) => parse_workflow(file, source),
        Err(err) => {
            let valid = &bytes[..err.valid_up_to()];
            let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
            let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
            let column = String::from_utf8_lossy(&valid[line_start..])
                .chars()
                .count() as u32
                + 1;
            Parsed {
                workflow: None,
                diagnostics: vec![Diagnostic::error(
                    file,
                    crate::span::Span::new(err.valid_up_to(), line, column),
                    "file is not valid UTF-8",
                )],
            }
        }
    }
}
