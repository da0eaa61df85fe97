//! Trigger matching: does an event start a workflow? GitHub's filter-pattern syntax (`*`, `**`,
//! `?`, `+`, `[]`, `!` negation, later patterns win) for branches, tags and paths, and activity types.
//!
//! INTERFACE STUB: filled in by the trigger-filter work.

use crate::model::Workflow;

/// What happened, reduced to what the filters look at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerEvent {
    /// `push`, `pull_request`, `schedule`, `workflow_dispatch`, …
    pub name: String,
    /// Activity type (`opened`, `published`, …) where the event has one.
    pub action: Option<String>,
    /// Full ref (`refs/heads/main`, `refs/tags/v1`); for `pull_request` the base branch ref.
    pub git_ref: Option<String>,
    /// Files changed by the event; `None` when unknown (path filters then do not exclude).
    pub changed_paths: Option<Vec<String>>,
}

/// Whether the workflow runs for the event, and which part of `on:` decided.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerDecision {
    pub triggers: bool,
    pub reason: String,
}

/// A compiled filter pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub negated: bool,
    regex: regex::Regex,
}

impl Pattern {
    /// Compiles one pattern as written in a workflow (a leading `!` negates it).
    pub fn compile(_pattern: &str) -> Result<Pattern, String> {
        Err("filter patterns are not built yet".into())
    }

    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

/// Applies a list of patterns in order (later patterns win; `!` excludes). True when `value` is
/// selected.
pub fn matches_patterns(_patterns: &[Pattern], _value: &str) -> bool {
    false
}

/// Decides whether `workflow` starts for `event`.
pub fn triggers(_workflow: &Workflow, _event: &TriggerEvent) -> TriggerDecision {
    TriggerDecision {
        triggers: false,
        reason: "trigger filters are not built yet".into(),
    }
}
