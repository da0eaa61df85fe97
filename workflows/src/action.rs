//! The metadata file of a local action (`action.yml` / `action.yaml`): its inputs, outputs and how
//! it runs. Slipway runs composite actions (`runs.using: composite`); other kinds are read so that
//! the runner can name them in its error.
//!
//! Pure like the rest of the crate: the caller reads the file; this module only turns text into a
//! model plus diagnostics, and never panics on user input.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::diagnostic::Diagnostic;
use crate::model::Step;
use crate::span::{Span, Spanned};

/// A parsed `action.yml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// The file name as given to the parser.
    pub file: String,
    pub name: Option<Spanned<String>>,
    pub description: Option<Spanned<String>>,
    /// Inputs keyed by name as written (callers compare names case-insensitively).
    pub inputs: IndexMap<String, ActionInput>,
    pub outputs: IndexMap<String, ActionOutput>,
    pub runs: ActionRuns,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionInput {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub required: bool,
    /// The default as written; it may hold `${{ }}` (evaluated by the runner in the caller's contexts).
    pub default: Option<Spanned<String>>,
    pub deprecation_message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionOutput {
    pub name: Spanned<String>,
    pub description: Option<String>,
    /// For composite actions: the template mapping the output from the inner steps.
    pub value: Option<Spanned<String>>,
}

/// `runs:`. `steps` is filled only for composite actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRuns {
    /// `composite`, `node20`, `docker`, …
    pub using: Spanned<String>,
    pub steps: Vec<Step>,
    pub span: Span,
}

impl ActionRuns {
    pub fn is_composite(&self) -> bool {
        self.using.value.eq_ignore_ascii_case("composite")
    }
}

/// Parses one action metadata file. `file` names it in diagnostics. `action` is `None` only when
/// the file could not be read as an action at all.
pub fn parse_action(file: &str, _source: &str) -> (Option<Action>, Vec<Diagnostic>) {
    (
        None,
        vec![Diagnostic::error(
            file,
            Span::new(0, 1, 1),
            "action parsing is not built yet",
        )],
    )
}
