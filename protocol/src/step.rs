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
    /// The step's `id:`, which later steps use to read its outputs (`steps.<id>`).
    #[serde(default)]
    pub id: Option<String>,
    /// The step's `name:`, shown in logs and the UI.
    #[serde(default)]
    pub name: Option<String>,
    /// The `if:` condition as written.
    #[serde(rename = "if", default)]
    pub condition: Option<String>,
    /// The `run:` script as written, for a step that runs a shell command.
    #[serde(default)]
    pub run: Option<String>,
    /// The `uses:` action reference as written, e.g. `actions/checkout@v4`.
    #[serde(default)]
    pub uses: Option<String>,
    /// The `shell:` the `run:` script runs with (default: the job's `defaults.run.shell`, else bash or sh).
    #[serde(default)]
    pub shell: Option<String>,
    /// Action inputs, scalars in their string form.
    #[serde(default)]
    pub with: IndexMap<String, String>,
    /// The step's `env:` variables, values as written (expressions unevaluated).
    #[serde(default)]
    pub env: IndexMap<String, String>,
    /// The `working-directory:` a `run:` step runs in, as written.
    #[serde(default)]
    pub working_directory: Option<String>,
    /// `continue-on-error:`: whether a failure of this step lets the job go on.
    #[serde(default)]
    pub continue_on_error: Option<BoolOrExpression>,
    /// `timeout-minutes:`: how long the step may run before it is stopped.
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
    /// The column where the step starts on `line` (1-based; 0 when unknown).
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
    /// A literal `true` or `false`.
    Bool(bool),
    /// An expression as written (`${{ … }}`), evaluated by the runner when the step runs.
    Expression(String),
}

/// `timeout-minutes:` — a number (fractions allowed), or an expression the runner evaluates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberOrExpression {
    /// A literal number of minutes.
    Number(f64),
    /// An expression as written (`${{ … }}`), evaluated by the runner when the step runs.
    Expression(String),
}
