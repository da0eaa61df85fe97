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
    /// `name:`: the workflow's display name; the file name is shown when absent.
    pub name: Option<Spanned<String>>,
    /// `run-name:`: the name of each run, as written (it may hold `${{ }}` expressions).
    pub run_name: Option<Spanned<String>>,
    /// `on:`: the events that start the workflow.
    pub on: Triggers,
    /// Workflow-level `env:`, inherited by every job and step.
    pub env: Env,
    /// Workflow-level `defaults.run` (shell and working directory) for every `run` step.
    pub defaults: Option<Defaults>,
    /// Workflow-level `concurrency:`: the group runs of this workflow queue or cancel in.
    pub concurrency: Option<Concurrency>,
    /// Workflow-level `permissions:` of the `GITHUB_TOKEN`.
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
    /// Where the `on:` value starts in the file.
    pub span: Span,
    /// Event name → its configuration, in declaration order.
    pub events: IndexMap<String, EventTrigger>,
}

/// One event under `on:` with its activity types and filters. Fields that do not apply to an event
/// stay empty (validation reports filters used on events that do not take them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct EventTrigger {
    /// The event name as written, e.g. `push` or `pull_request`.
    pub name: Spanned<String>,
    /// `types:`: the activity types the event runs for; `None` when not given (every type, or
    /// GitHub's defaults).
    pub types: Option<Vec<Spanned<String>>>,
    /// `branches:` filter patterns; the event runs only for matching branches.
    pub branches: Option<Vec<Spanned<String>>>,
    /// `branches-ignore:` filter patterns; the event does not run for matching branches.
    pub branches_ignore: Option<Vec<Spanned<String>>>,
    /// `tags:` filter patterns; the event runs only for matching tags.
    pub tags: Option<Vec<Spanned<String>>>,
    /// `tags-ignore:` filter patterns; the event does not run for matching tags.
    pub tags_ignore: Option<Vec<Spanned<String>>>,
    /// `paths:` filter patterns; the event runs only when a changed file matches.
    pub paths: Option<Vec<Spanned<String>>>,
    /// `paths-ignore:` filter patterns; the event does not run when every changed file matches.
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
    /// The cron expression as written (five fields, e.g. `0 3 * * 1`).
    pub cron: Spanned<String>,
    /// IANA time zone name (`America/New_York`); UTC when absent.
    pub timezone: Option<Spanned<String>>,
}

/// The `type:` of a `workflow_dispatch` or `workflow_call` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// Any text (the default when `type:` is not given).
    #[default]
    String,
    /// `true` or `false`.
    Boolean,
    /// A number.
    Number,
    /// One of the input's `options:`.
    Choice,
    /// The name of one of the repository's deployment environments (`workflow_dispatch` only).
    Environment,
}

/// One input of `workflow_dispatch` or `workflow_call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// The input's name as written in `inputs:`.
    pub name: Spanned<String>,
    /// The input's `description:`, if any.
    pub description: Option<String>,
    /// Whether the caller must give the input (`required: true`); `false` when not written.
    pub required: bool,
    /// The input's `type:` (string when not written).
    pub kind: InputType,
    /// The default as written (`serde_json::Value::String` for strings, `Bool`, `Number`).
    pub default: Option<Spanned<serde_json::Value>>,
    /// `choice` options.
    pub options: Vec<Spanned<String>>,
}

/// One output a reusable workflow declares under `on.workflow_call.outputs`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallOutput {
    /// The output's name as written.
    pub name: Spanned<String>,
    /// The output's `description:`, if any.
    pub description: Option<String>,
    /// `value:`: the expression that gives the output from the called workflow's jobs.
    pub value: Spanned<String>,
}

/// One secret a reusable workflow declares under `on.workflow_call.secrets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallSecret {
    /// The secret's name as written.
    pub name: Spanned<String>,
    /// The secret's `description:`, if any.
    pub description: Option<String>,
    /// Whether the caller must pass the secret (`required: true`); `false` when not written.
    pub required: bool,
}

/// `defaults.run`: the shell and working directory `run` steps use unless they set their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Defaults {
    /// `shell:`: the shell `run` steps use, e.g. `bash` or `pwsh`.
    pub shell: Option<Spanned<String>>,
    /// `working-directory:`: where `run` steps start, relative to the workspace.
    pub working_directory: Option<Spanned<String>>,
}

/// `concurrency:`: at most one run or job of a group runs at a time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concurrency {
    /// The group name as written (it may hold `${{ }}` expressions); a string `concurrency:` is the
    /// group alone.
    pub group: Spanned<String>,
    /// `cancel-in-progress:`: whether a new entry cancels the one running in the group.
    pub cancel_in_progress: Option<Spanned<BoolOrExpr>>,
}

/// `permissions:` of the `GITHUB_TOKEN`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Permissions {
    /// `permissions: read-all`: read access to every scope.
    ReadAll,
    /// `permissions: write-all`: write access to every scope.
    WriteAll,
    /// Scope → `read` | `write` | `none`.
    Scopes(IndexMap<String, Spanned<String>>),
}

/// A boolean field that may also be an expression (`continue-on-error: ${{ matrix.experimental }}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum BoolOrExpr {
    /// A literal `true` or `false`.
    Bool(bool),
    /// An expression as written, evaluated later.
    Expr(String),
}

/// A number field that may also be an expression (`timeout-minutes: ${{ inputs.minutes }}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NumberOrExpr {
    /// A literal number.
    Number(f64),
    /// An expression as written, evaluated later.
    Expr(String),
}

/// One job. A job either has `steps` (a normal job) or `uses` (a call of a reusable workflow).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The job's key in `jobs:`, e.g. `build`.
    pub id: Spanned<String>,
    /// `name:`: the job's display name (it may hold `${{ }}` expressions).
    pub name: Option<Spanned<String>>,
    /// Direct dependencies as written (GitHub compares them case-insensitively).
    pub needs: Vec<Spanned<String>>,
    /// The `if:` condition as written (with or without `${{ }}`).
    pub condition: Option<Spanned<String>>,
    /// `runs-on:`: the labels (or group) of the runner the job needs.
    pub runs_on: Option<RunsOn>,
    /// `environment:`: the deployment environment the job deploys to.
    pub environment: Option<Environment>,
    /// Job-level `concurrency:`.
    pub concurrency: Option<Concurrency>,
    /// `outputs:`: output name → value template, read from the job's steps once it finishes.
    pub outputs: IndexMap<String, Spanned<String>>,
    /// Job-level `env:`, inherited by every step.
    pub env: Env,
    /// Job-level `defaults.run` for the job's `run` steps.
    pub defaults: Option<Defaults>,
    /// `timeout-minutes:`: how long the job may run, in minutes.
    pub timeout_minutes: Option<Spanned<NumberOrExpr>>,
    /// `continue-on-error:`: whether a failure of this job leaves the run successful.
    pub continue_on_error: Option<Spanned<BoolOrExpr>>,
    /// `strategy:`: the matrix and how its jobs run.
    pub strategy: Option<Strategy>,
    /// `container:`: the image the job's steps run in.
    pub container: Option<Container>,
    /// `services:`: service container name → its definition, started next to the job.
    pub services: IndexMap<String, Container>,
    /// Job-level `permissions:` of the `GITHUB_TOKEN`, replacing the workflow's.
    pub permissions: Option<Permissions>,
    /// The steps of a normal job, in order (empty for a reusable-workflow call).
    pub steps: Vec<Step>,
    /// A reusable-workflow call: `uses: ./.github/workflows/x.yml` or `owner/repo/path@ref`.
    pub uses: Option<Spanned<String>>,
    /// Inputs of a reusable-workflow call.
    pub with: IndexMap<String, Spanned<serde_json::Value>>,
    /// `secrets:` of a reusable-workflow call: `inherit` or a map of secrets to pass.
    pub secrets: Option<CallSecrets>,
    /// Slipway extension: how a deployment job rolls out (see the deploying docs).
    pub deployment: Option<DeploymentBlock>,
    /// Where the job's mapping starts in the file.
    pub span: Span,
}

/// `runs-on:` in all its forms: a label, a list of labels, `{group, labels}`, or an expression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunsOn {
    /// Where the `runs-on:` value starts in the file.
    pub span: Span,
    /// `group:`: the runner group the job runs in.
    pub group: Option<Spanned<String>>,
    /// Labels as written; an entry may be an expression (evaluated at job level).
    pub labels: Vec<Spanned<String>>,
}

/// A job's `environment:`: a name alone, or `{name, url}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// The environment's name as written (it may hold `${{ }}` expressions).
    pub name: Spanned<String>,
    /// `url:`: the deployment's URL shown for the job (it may hold `${{ }}` expressions).
    pub url: Option<Spanned<String>>,
}

/// What a reusable-workflow call passes as `secrets:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CallSecrets {
    /// `secrets: inherit`: the called workflow sees every secret of the caller.
    Inherit,
    /// Secret name → value expression, as written.
    Map(IndexMap<String, Spanned<String>>),
}

/// A job's `strategy:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    /// `matrix:`: the combinations the job runs for; `None` without a matrix.
    pub matrix: Option<Matrix>,
    /// `fail-fast:`: whether one failed matrix job cancels the others (GitHub's default: `true`).
    pub fail_fast: Option<Spanned<BoolOrExpr>>,
    /// `max-parallel:`: how many matrix jobs may run at once; no limit when absent.
    pub max_parallel: Option<Spanned<NumberOrExpr>>,
}

/// `strategy.matrix`: either one expression (`${{ fromJSON(needs.a.outputs.m) }}`) or a map of
/// dimensions plus `include` / `exclude`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Matrix {
    /// The whole matrix as one expression, evaluated at job level.
    Expr(Spanned<String>),
    /// Dimensions plus `include` / `exclude`.
    Map(MatrixMap),
}

/// The map form of `strategy.matrix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct MatrixMap {
    /// Where the `matrix:` mapping starts in the file.
    pub span: Span,
    /// Dimension name → values, in declaration order (the first key varies slowest).
    pub dimensions: IndexMap<String, MatrixValues>,
    /// `include:`: combinations to add or to extend with extra keys.
    pub include: Option<MatrixValues>,
    /// `exclude:`: partial combinations removed from the cross product.
    pub exclude: Option<MatrixValues>,
}

/// A list of matrix values, or an expression that yields one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MatrixValues {
    /// A literal list of values.
    List(Spanned<Vec<serde_json::Value>>),
    /// An expression as written that evaluates to a list.
    Expr(Spanned<String>),
}

/// A job `container:` or one entry of `services:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Container {
    /// `image:`: the Docker image to run, e.g. `node:20`.
    pub image: Spanned<String>,
    /// `credentials:`: `username` and `password` for the image's registry, as written.
    pub credentials: IndexMap<String, Spanned<String>>,
    /// `env:` set inside the container.
    pub env: Env,
    /// `ports:` to publish, as written (e.g. `8080:80`).
    pub ports: Vec<Spanned<String>>,
    /// `volumes:` to mount, as written (e.g. `/data:/data`).
    pub volumes: Vec<Spanned<String>>,
    /// `options:`: extra `docker create` options, as one string.
    pub options: Option<Spanned<String>>,
    /// Service containers only: overrides of the image's entrypoint and command.
    #[serde(default)]
    pub entrypoint: Option<Spanned<String>>,
    /// Service containers only: the command the container runs instead of the image's.
    #[serde(default)]
    pub command: Option<Spanned<String>>,
}

/// One step: `run:` or `uses:`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// `id:`: the step's id, used by `steps.<id>` and `wait:`/`cancel:`.
    pub id: Option<Spanned<String>>,
    /// `name:`: the step's display name (it may hold `${{ }}` expressions).
    pub name: Option<Spanned<String>>,
    /// The `if:` condition as written (with or without `${{ }}`).
    pub condition: Option<Spanned<String>>,
    /// `run:`: the script to run in the shell.
    pub run: Option<Spanned<String>>,
    /// `uses:`: the action to run (`owner/repo@ref`, `./path` or `docker://image`).
    pub uses: Option<Spanned<String>>,
    /// `shell:`: the shell of a `run` step, e.g. `bash`, `pwsh` or a custom `cmd {0}`.
    pub shell: Option<Spanned<String>>,
    /// Action inputs; scalars are turned into their string form as GitHub does.
    pub with: IndexMap<String, Spanned<String>>,
    /// Step-level `env:`, added to the job's.
    pub env: Env,
    /// `working-directory:` of a `run` step, relative to the workspace.
    pub working_directory: Option<Spanned<String>>,
    /// `continue-on-error:`: whether a failure of this step lets the job go on as if it succeeded.
    pub continue_on_error: Option<Spanned<BoolOrExpr>>,
    /// `timeout-minutes:`: how long the step may run, in minutes.
    pub timeout_minutes: Option<Spanned<NumberOrExpr>>,
    /// `background: true`: the step starts and the job goes on without waiting for it (GitHub's
    /// parallel steps). The members of a `parallel:` group are background steps too.
    #[serde(default)]
    pub background: bool,
    /// A `wait`, `wait-all` or `cancel` step, which has no `run` or `uses`. A `parallel:` group
    /// ends with a generated `wait` on its members.
    #[serde(default)]
    pub control: Option<StepControl>,
    /// Where the step's mapping starts in the file.
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
    /// Where the `deployment:` value starts in the file.
    pub span: Span,
    /// The block read and checked (`parse::deployment`, `validate`); `None` while a value is a
    /// `${{ }}` expression (the engine reads it once evaluated) or when it has errors.
    pub typed: Option<Deployment>,
}

/// The `deployment:` block, typed, every value with its own position.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Deployment {
    /// Where the `deployment:` mapping starts in the file.
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
    /// A fixed number of targets per batch.
    Count(usize),
    /// A percentage (1–100) of the targets per batch, written `"25%"`.
    Percent(u8),
}

/// One canary phase: route `weight` percent of traffic to the new version, verify, then
/// optionally pause and/or wait for an approval before the next phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeploymentPhase {
    /// Where the phase's mapping starts in the file.
    pub span: Span,
    /// `weight:`: the percentage (1–100) of traffic routed to the new version in this phase.
    pub weight: Spanned<u8>,
    /// `pause:`: how long to wait after verifying the phase before the next one.
    pub pause: Option<Spanned<Duration>>,
    /// `approval:`: whether an operator must approve before the next phase.
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

    /// The strategy's name as operators write it (`big-bang`, `rolling`, `blue-green`, `canary`).
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
