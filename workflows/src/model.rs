//! The typed model of a workflow file, in GitHub's own vocabulary (`on`, `runs_on`, `needs`, …).
//!
//! Every value keeps its source position. Strings that may hold `${{ }}` expressions are kept as
//! written (the raw text, expressions included); who evaluates them and when is decided elsewhere
//! (job-level fields by the engine, step-level fields by the runner). Values that GitHub allows to be
//! either a literal or an expression use the small `*OrExpr` enums.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::duration::Duration;
use crate::span::{Span, Spanned};

/// A whole workflow file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Workflow {
    /// The file name as given to the parser (e.g. `.github/workflows/ci.yml`).
    pub file: String,
    pub name: Option<Spanned<String>>,
    pub run_name: Option<Spanned<String>>,
    pub on: Triggers,
    pub env: Env,
    pub defaults: Option<Defaults>,
    pub concurrency: Option<Concurrency>,
    pub permissions: Option<Permissions>,
    /// Jobs keyed by job id, in the order the file declares them.
    pub jobs: IndexMap<String, Job>,
}

/// Environment variables: name → value as written (numbers and booleans turned into their YAML text).
///
/// `env: ${{ fromJSON(…) }}` (the whole mapping as one expression, which GitHub allows at workflow,
/// job and step level) is one entry whose name starts with [`ENV_EXPRESSION_PREFIX`]: whoever
/// evaluates the env evaluates it to an object and puts its entries in its place.
pub type Env = IndexMap<String, Spanned<String>>;

/// The first character of an [`Env`] entry that stands for a whole mapping given as one
/// expression. `=` cannot start a real variable name, so the entry never clashes with one.
pub const ENV_EXPRESSION_PREFIX: char = '=';

/// Whether the [`Env`] entry named `name` is a whole mapping given as one expression.
pub fn is_env_expression(name: &str) -> bool {
    name.starts_with(ENV_EXPRESSION_PREFIX)
}

/// The `on:` section, whichever of its three spellings (string, list, map) was used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Triggers {
    pub span: Span,
    /// Event name → its configuration, in declaration order.
    pub events: IndexMap<String, EventTrigger>,
}

/// One event under `on:` with its activity types and filters. Fields that do not apply to an event
/// stay empty (validation reports filters used on events that do not take them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EventTrigger {
    pub name: Spanned<String>,
    pub types: Option<Vec<Spanned<String>>>,
    pub branches: Option<Vec<Spanned<String>>>,
    pub branches_ignore: Option<Vec<Spanned<String>>>,
    pub tags: Option<Vec<Spanned<String>>>,
    pub tags_ignore: Option<Vec<Spanned<String>>>,
    pub paths: Option<Vec<Spanned<String>>>,
    pub paths_ignore: Option<Vec<Spanned<String>>>,
    /// `schedule:` entries: the cron strings.
    pub cron: Vec<Spanned<String>>,
    /// `schedule:` entries with their optional IANA `timezone` (same order as `cron`).
    #[serde(default)]
    pub schedules: Vec<Schedule>,
    /// `workflow_run:` workflow names.
    pub workflows: Option<Vec<Spanned<String>>>,
    /// `workflow_dispatch` and `workflow_call` inputs.
    pub inputs: IndexMap<String, Input>,
    /// `workflow_call` outputs: name → value expression.
    pub outputs: IndexMap<String, CallOutput>,
    /// `workflow_call` secrets.
    pub secrets: IndexMap<String, CallSecret>,
}

/// One `on.schedule` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    pub cron: Spanned<String>,
    /// IANA time zone name (`America/New_York`); UTC when absent.
    pub timezone: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    #[default]
    String,
    Boolean,
    Number,
    Choice,
    Environment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub required: bool,
    pub kind: InputType,
    /// The default as written (`serde_json::Value::String` for strings, `Bool`, `Number`).
    pub default: Option<Spanned<serde_json::Value>>,
    /// `choice` options.
    pub options: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallOutput {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub value: Spanned<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSecret {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Defaults {
    pub shell: Option<Spanned<String>>,
    pub working_directory: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concurrency {
    pub group: Spanned<String>,
    pub cancel_in_progress: Option<Spanned<BoolOrExpr>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Permissions {
    ReadAll,
    WriteAll,
    /// Scope → `read` | `write` | `none`.
    Scopes(IndexMap<String, Spanned<String>>),
}

/// A boolean field that may also be an expression (`continue-on-error: ${{ matrix.experimental }}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BoolOrExpr {
    Bool(bool),
    Expr(String),
}

/// A number field that may also be an expression (`timeout-minutes: ${{ inputs.minutes }}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NumberOrExpr {
    Number(f64),
    Expr(String),
}

/// One job. A job either has `steps` (a normal job) or `uses` (a call of a reusable workflow).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: Spanned<String>,
    pub name: Option<Spanned<String>>,
    /// Direct dependencies as written (GitHub compares them case-insensitively).
    pub needs: Vec<Spanned<String>>,
    /// The `if:` condition as written (with or without `${{ }}`).
    pub condition: Option<Spanned<String>>,
    pub runs_on: Option<RunsOn>,
    pub environment: Option<Environment>,
    pub concurrency: Option<Concurrency>,
    pub outputs: IndexMap<String, Spanned<String>>,
    pub env: Env,
    pub defaults: Option<Defaults>,
    pub timeout_minutes: Option<Spanned<NumberOrExpr>>,
    pub continue_on_error: Option<Spanned<BoolOrExpr>>,
    pub strategy: Option<Strategy>,
    pub container: Option<Container>,
    pub services: IndexMap<String, Container>,
    pub permissions: Option<Permissions>,
    pub steps: Vec<Step>,
    /// A reusable-workflow call: `uses: ./.github/workflows/x.yml` or `owner/repo/path@ref`.
    pub uses: Option<Spanned<String>>,
    /// Inputs of a reusable-workflow call.
    pub with: IndexMap<String, Spanned<serde_json::Value>>,
    pub secrets: Option<CallSecrets>,
    /// Slipway extension: how a deployment job rolls out (see the deploying docs).
    pub deployment: Option<DeploymentBlock>,
    pub span: Span,
}

/// `runs-on:` in all its forms: a label, a list of labels, `{group, labels}`, or an expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunsOn {
    pub span: Span,
    pub group: Option<Spanned<String>>,
    /// Labels as written; an entry may be an expression (evaluated at job level).
    pub labels: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub name: Spanned<String>,
    pub url: Option<Spanned<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CallSecrets {
    Inherit,
    Map(IndexMap<String, Spanned<String>>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    pub matrix: Option<Matrix>,
    pub fail_fast: Option<Spanned<BoolOrExpr>>,
    pub max_parallel: Option<Spanned<NumberOrExpr>>,
}

/// `strategy.matrix`: either one expression (`${{ fromJSON(needs.a.outputs.m) }}`) or a map of
/// dimensions plus `include` / `exclude`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Matrix {
    Expr(Spanned<String>),
    Map(MatrixMap),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MatrixMap {
    pub span: Span,
    /// Dimension name → values, in declaration order (the first key varies slowest).
    pub dimensions: IndexMap<String, MatrixValues>,
    pub include: Option<MatrixValues>,
    pub exclude: Option<MatrixValues>,
}

/// A list of matrix values, or an expression that yields one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MatrixValues {
    List(Spanned<Vec<serde_json::Value>>),
    Expr(Spanned<String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    pub image: Spanned<String>,
    pub credentials: IndexMap<String, Spanned<String>>,
    pub env: Env,
    pub ports: Vec<Spanned<String>>,
    pub volumes: Vec<Spanned<String>>,
    pub options: Option<Spanned<String>>,
    /// Service containers only: overrides of the image's entrypoint and command.
    #[serde(default)]
    pub entrypoint: Option<Spanned<String>>,
    #[serde(default)]
    pub command: Option<Spanned<String>>,
}

/// One step: `run:` or `uses:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub id: Option<Spanned<String>>,
    pub name: Option<Spanned<String>>,
    pub condition: Option<Spanned<String>>,
    pub run: Option<Spanned<String>>,
    pub uses: Option<Spanned<String>>,
    pub shell: Option<Spanned<String>>,
    /// Action inputs; scalars are turned into their string form as GitHub does.
    pub with: IndexMap<String, Spanned<String>>,
    pub env: Env,
    pub working_directory: Option<Spanned<String>>,
    pub continue_on_error: Option<Spanned<BoolOrExpr>>,
    pub timeout_minutes: Option<Spanned<NumberOrExpr>>,
    /// `background: true`: the step starts and the job goes on without waiting for it (GitHub's
    /// parallel steps). The members of a `parallel:` group are background steps too.
    #[serde(default)]
    pub background: bool,
    /// A `wait`, `wait-all` or `cancel` step, which has no `run` or `uses`. A `parallel:` group
    /// ends with a generated `wait` on its members.
    #[serde(default)]
    pub control: Option<StepControl>,
    pub span: Span,
}

/// A step that steers background steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StepControl {
    /// `wait: id` or `wait: [ids]`: until those background steps have finished.
    Wait(Vec<Spanned<String>>),
    /// `wait-all:`: until every background step started before has finished.
    WaitAll,
    /// `cancel: id` (or a list): stop those background steps.
    Cancel(Vec<Spanned<String>>),
}

/// The id a `parallel:` group gives a member that has none (`__parallel_<group>_<member>`).
pub fn parallel_member_id(group: usize, member: usize) -> String {
    format!("__parallel_{group}_{member}")
}

// ---- the `deployment:` block (a Slipway extension) -------------------------------------------

/// A job's `deployment:` block: as written (JSON, for the engine to evaluate its `${{ }}` and
/// send to the runner), and typed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentBlock {
    /// The block as written; string values may hold `${{ }}` expressions.
    pub value: serde_json::Value,
    pub span: Span,
    /// The block read and checked (`parse::deployment`, `validate`); `None` while a value is a
    /// `${{ }}` expression (the engine reads it once evaluated) or when it has errors.
    pub typed: Option<Deployment>,
}

/// The `deployment:` block, typed, every value with its own position.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Deployment {
    pub span: Span,
    /// `None`: the environment's default strategy (big-bang when it has none).
    pub strategy: Option<Spanned<StrategyKind>>,
    /// Hosts (or any names the steps understand) the version goes to; `targets: web` is one.
    pub targets: Option<Spanned<Vec<Spanned<String>>>>,
    /// Rolling: how many targets per batch.
    pub batch_size: Option<Spanned<BatchSize>>,
    /// The health check run before the first change and after each batch, slot or phase.
    pub verify: Option<Spanned<String>>,
    /// The acceptance test run once the new version is live.
    pub acceptance: Option<Spanned<String>>,
    /// Blue-green: the two slots.
    pub slots: Option<Spanned<[Spanned<String>; 2]>>,
    /// Blue-green: the command that moves traffic to `deployment.slot`.
    pub switch: Option<Spanned<String>>,
    /// Canary: the phases, in order.
    pub phases: Option<Spanned<Vec<DeploymentPhase>>>,
    /// The keys given, in order, each at its own position.
    pub keys: Vec<Spanned<String>>,
}

/// How a version reaches the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Everything at once.
    BigBang,
    /// In batches of targets, stopping at the first failed batch.
    Rolling,
    /// Into the idle slot, verified, then traffic switches; the old slot is kept.
    BlueGreen,
    /// Growing traffic weights with verification between them.
    Canary,
}

/// `batch-size: 2` or `batch-size: "25%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchSize {
    Count(usize),
    Percent(u8),
}

/// One canary phase: route `weight` percent of traffic to the new version, verify, then
/// optionally pause and/or wait for an approval before the next phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentPhase {
    pub span: Span,
    pub weight: Spanned<u8>,
    pub pause: Option<Spanned<Duration>>,
    pub approval: Option<Spanned<bool>>,
}

impl StrategyKind {
    /// Parses `big-bang`, `rolling`, `blue-green`, `canary` (also with `_` instead of `-`).
    pub fn parse(text: &str) -> Result<StrategyKind, String> {
        match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "big-bang" | "bigbang" => Ok(StrategyKind::BigBang),
            "rolling" => Ok(StrategyKind::Rolling),
            "blue-green" | "bluegreen" => Ok(StrategyKind::BlueGreen),
            "canary" => Ok(StrategyKind::Canary),
            _ => Err(format!(
                "unknown strategy `{text}` (use big-bang, rolling, blue-green or canary)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::BigBang => "big-bang",
            StrategyKind::Rolling => "rolling",
            StrategyKind::BlueGreen => "blue-green",
            StrategyKind::Canary => "canary",
        }
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
