//! The one place where the executor evaluates `${{ }}` expressions (step `if`, `run`, `env`, `with`,
//! `name`, `working-directory`, `shell`, `continue-on-error`, `timeout-minutes`, job `outputs`),
//! through `workflows::expr`.
//!
//! It must not decide what is in the contexts; the job runner assembles them. Text without `${{`
//! is returned as written, so plain steps never touch the expression engine.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde_json::Value;
use workflows::expr::{Condition, Context, Status, Template};

use super::artifacts::hash_files;

/// The contexts and job status an expression is evaluated against.
pub(super) struct Scope {
    pub values: IndexMap<String, Value>,
    pub status: Status,
    /// Where `hashFiles()` looks; `None` leaves the function unavailable.
    pub workspace: Option<PathBuf>,
}

impl Scope {
    /// A `${{ }}` template rendered to a string (GitHub's string conversion).
    pub(super) fn render(&self, text: &str) -> Result<String, String> {
        if !text.contains("${{") {
            return Ok(text.to_string());
        }
        let template = Template::parse(text).map_err(|error| describe(text, &error))?;
        self.with_context(|context| template.render(context))
            .map_err(|error| describe(text, &error))
    }

    /// A template's value: a lone `${{ expr }}` keeps its type (for booleans and numbers).
    pub(super) fn value(&self, text: &str) -> Result<Value, String> {
        if !text.contains("${{") {
            return Ok(Value::String(text.to_string()));
        }
        let template = Template::parse(text).map_err(|error| describe(text, &error))?;
        self.with_context(|context| template.evaluate(context))
            .map_err(|error| describe(text, &error))
    }

    /// A step `if:`; no condition means `success()`.
    pub(super) fn condition(&self, condition: Option<&str>) -> Result<bool, String> {
        // Not trimmed: text around a `${{ }}` (a trailing newline included) makes the condition
        // a non-empty string, always true (GitHub).
        let Some(text) = condition.filter(|text| !text.trim().is_empty()) else {
            return Ok(!self.status.failed && !self.status.cancelled);
        };
        let condition = Condition::parse(text).map_err(|error| describe(text, &error))?;
        self.with_context(|context| condition.evaluate(context))
            .map_err(|error| describe(text, &error))
    }

    fn with_context<T>(&self, evaluate: impl FnOnce(&Context) -> T) -> T {
        let hasher = |patterns: &[String]| match &self.workspace {
            Some(workspace) => hash_files(workspace, patterns),
            None => Err("hashFiles is not available here".to_string()),
        };
        let context = Context {
            values: self.values.clone(),
            status: self.status,
            hash_files: self
                .workspace
                .as_ref()
                .map(|_| &hasher as &dyn Fn(&[String]) -> Result<String, String>),
        };
        evaluate(&context)
    }
}

fn describe(text: &str, error: &impl std::fmt::Display) -> String {
    format!("failed to evaluate `{text}`: {error}")
}
