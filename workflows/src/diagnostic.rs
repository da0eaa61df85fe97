//! Diagnostics: what the workflow core reports instead of failing. Messages are lowercase fragments
//! without a trailing period that name the key, job or step at fault.

use serde::{Deserialize, Serialize};

use crate::span::Span;

/// How serious a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The file cannot be used as written (parsing or validation fails).
    Error,
    /// The file works but something is likely wrong or deprecated.
    Warning,
}

/// One problem found in a workflow or action file, with its position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Whether this is an error or only a warning.
    pub severity: Severity,
    /// The file as it was named to the parser (a path relative to the repository root, usually).
    pub file: String,
    /// Where the problem is in the file.
    pub span: Span,
    /// What is wrong: a lowercase fragment without a trailing period (see the module docs).
    pub message: String,
}

impl Diagnostic {
    /// An error about `file` at `span`.
    pub fn error(file: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.to_string(),
            span,
            message: message.into(),
        }
    }

    /// A warning about `file` at `span`.
    pub fn warning(file: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            file: file.to_string(),
            span,
            message: message.into(),
        }
    }

    /// Whether this diagnostic is an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.span.line, self.span.column, severity, self.message
        )
    }
}
