//! A workflow step as the engine sends it to a runner: plain data, the fields as written in the
//! workflow (expressions unevaluated), plus where the step starts in its file for messages.
//!
//! The engine converts `workflows::model::Step` into this; the runner converts it back into the
//! type its executor runs. **Architecture Invariant:** no parsing, no evaluation here.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// One step of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub struct Step {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// The `if:` condition as written.
    #[serde(rename = "if", default)]
    pub condition: Option<String>,
    #[serde(default)]
    pub run: Option<String>,
    #[serde(default)]
    pub uses: Option<String>,
    #[serde(default)]
    pub shell: Option<String>,
    /// Action inputs, scalars in their string form.
    #[serde(default)]
    pub with: IndexMap<String, String>,
    #[serde(default)]
    pub env: IndexMap<String, String>,
    #[serde(default)]
    pub working_directory: Option<String>,
    #[serde(default)]
    pub continue_on_error: Option<BoolOrExpression>,
    #[serde(default)]
    pub timeout_minutes: Option<NumberOrExpression>,
    /// `background: true`: the step starts and the job goes on without waiting for it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub background: bool,
    /// A `wait`, `wait-all` or `cancel` step (it has no `run` or `uses`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control: Option<StepControl>,
    /// Where the step starts in its workflow file (1-based; 0 when unknown).
    #[serde(default)]
    pub line: u32,
    #[serde(default)]
    pub column: u32,
}

/// A step that steers background steps instead of running anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "steps")]
pub enum StepControl {
    /// Waits until the background steps with these ids have finished.
    Wait(Vec<String>),
    /// Waits until every background step started so far has finished.
    WaitAll,
    /// Stops the background steps with these ids (SIGINT, then SIGTERM, then SIGKILL).
    Cancel(Vec<String>),
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// `continue-on-error:` — a boolean, or an expression the runner evaluates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BoolOrExpression {
    Bool(bool),
    Expression(String),
}

/// `timeout-minutes:` — a number (fractions allowed), or an expression the runner evaluates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberOrExpression {
    Number(f64),
    Expression(String),
}
