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
    /// Where the step starts in its workflow file (1-based; 0 when unknown).
    #[serde(default)]
    pub line: u32,
    #[serde(default)]
    pub column: u32,
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
