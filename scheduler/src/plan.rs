//! What a run is made of and how a job becomes runnable work: the run's input (`RunInput`), the
//! job selection (`--job`, `--matrix`), the contexts job-level expressions see, matrix expansion
//! into legs with their keys, and the `JobSpec` handed to whoever runs a leg.
//!
//! Job-level expressions are evaluated here (invariant 4: the engine evaluates job-level
//! expressions, the runner step-level ones). Nothing here keeps state or decides order: that is
//! `machine`'s work.

use indexmap::{IndexMap, IndexSet};
use protocol::job::Checkout;
use protocol::{EnvironmentRef, JobSpec, RunFacts};
use serde::{Deserialize, Serialize};
use serde_json::json;
use workflows::Workflow;
use workflows::expr::{
    Context, JobExpressions, SecretReferences, Template, Value, is_truthy, to_display_string,
};
use workflows::matrix::{self, Combination, MatrixInput};
use workflows::model::{BoolOrExpr, Concurrency, Job, Matrix, MatrixValues, NumberOrExpr};
use workflows::validate::limits::MAX_JOBS_PER_RUN;

use super::conditions::expression_parts;
use super::errors::SchedulerError;
use super::github::numeric_run_id;

/// GitHub's default job timeout.
pub const DEFAULT_TIMEOUT_MINUTES: f64 = 360.0;

/// Everything a run starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInput {
    /// The parsed workflow the run executes.
    pub workflow: Workflow,
    /// The caller's key of the run (the engine's run uuid, `slipway run`'s local key): the
    /// `JobSpec::run_id` of every job.
    pub run_id: String,
    /// Who, what, where and which run: the `github` context is built from these
    /// (`github::github_context`) and every job carries them (`JobSpec::run`).
    #[serde(default)]
    pub run: RunFacts,
    /// Values laid over the `github` context built from `run` (tests, and fields a caller knows
    /// better); `job` is set per job.
    pub github: IndexMap<String, Value>,
    /// The `inputs` context (typed: booleans stay booleans).
    pub inputs: IndexMap<String, Value>,
    /// The `vars` context.
    pub vars: IndexMap<String, Value>,
    /// Every secret the run may use; a job receives only those its expressions read
    /// (`workflows::expr::SecretReferences`).
    pub secrets: IndexMap<String, String>,
    /// The event payload (`github.event`, `$GITHUB_EVENT_PATH`).
    pub event_payload: Value,
    /// How jobs get the code (`JobSpec::checkout`); `None` runs them in an empty workspace.
    pub checkout: Option<Checkout>,
    /// Which jobs and matrix legs take part (`--job`, `--matrix`); the default takes them all.
    pub selection: Selection,
    /// The timeout, in minutes, of a job without `timeout-minutes` (`DEFAULT_TIMEOUT_MINUTES`
    /// unless the caller sets another).
    pub default_timeout_minutes: f64,
    /// Remote actions pinned when the run was planned (`uses` as written → full commit sha),
    /// given to every job (`JobSpec::actions`); a re-run reuses the first attempt's.
    #[serde(default)]
    pub actions: IndexMap<String, String>,
    /// Every reusable workflow the run may call (directly or nested), keyed by its path in the
    /// repository (`.github/workflows/x.yml`): loaded before the run is planned
    /// (`reusable::load_called`).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub called: IndexMap<String, Workflow>,
    /// Set when this input is the nested run of a reusable-workflow call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame: Option<crate::reusable::CallFrame>,
}

impl RunInput {
    /// A run of `workflow` with empty contexts, run number 1, attempt 1 (`run.run_id` derived
    /// from `run_id`), no selection and the default timeout.
    pub fn new(workflow: Workflow, run_id: impl Into<String>) -> RunInput {
        let run_id = run_id.into();
        let run = RunFacts {
            workflow: workflow
                .name
                .as_ref()
                .map_or_else(|| workflow.file.clone(), |name| name.value.clone()),
            workflow_file: workflow.file.clone(),
            run_id: numeric_run_id(&run_id),
            run_number: 1,
            run_attempt: 1,
            ..RunFacts::default()
        };
        RunInput {
            workflow,
            run_id,
            run,
            github: IndexMap::new(),
            inputs: IndexMap::new(),
            vars: IndexMap::new(),
            secrets: IndexMap::new(),
            event_payload: json!({}),
            checkout: None,
            selection: Selection::default(),
            default_timeout_minutes: DEFAULT_TIMEOUT_MINUTES,
            actions: IndexMap::new(),
            called: IndexMap::new(),
            frame: None,
        }
    }

    /// A job key of this run as the whole run knows it: prefixed with the call it sits in.
    pub fn run_key(&self, key: &str) -> String {
        match &self.frame {
            Some(frame) => format!("{}{key}", frame.key_prefix),
            None => key.to_string(),
        }
    }

    /// A display name as GitHub shows it: `caller / called` inside a call.
    pub fn run_display_name(&self, name: &str) -> String {
        match &self.frame {
            Some(frame) => format!("{}{name}", frame.name_prefix),
            None => name.to_string(),
        }
    }
}

/// Which part of the workflow runs (`slipway run --job ID --matrix K=V`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Selection {
    /// Run only this job and every job it needs, directly or not (as act does): the job cannot
    /// run without its needs' outputs and results. Compared case-insensitively.
    pub job: Option<String>,
    /// Run only the matrix legs whose value for each key K displays as V. A matrix job without
    /// key K is not filtered by it. Keys compare case-insensitively, values exactly.
    pub matrix: Vec<(String, String)>,
}

/// The workflow's job ids that take part in the run, in declaration order.
pub(crate) fn select_jobs(
    workflow: &Workflow,
    selection: &Selection,
) -> Result<IndexSet<String>, SchedulerError> {
    let Some(wanted) = &selection.job else {
        return Ok(workflow.jobs.keys().cloned().collect());
    };
    let Some(root) = resolve_job_id(workflow, wanted) else {
        return Err(SchedulerError::UnknownSelectedJob {
            job: wanted.clone(),
        });
    };
    let mut chosen: IndexSet<String> = IndexSet::new();
    let mut to_visit = vec![root.to_string()];
    while let Some(id) = to_visit.pop() {
        if !chosen.insert(id.clone()) {
            continue;
        }
        if let Some(job) = workflow.jobs.get(&id) {
            for need in &job.needs {
                if let Some(need_id) = resolve_job_id(workflow, need) {
                    to_visit.push(need_id.to_string());
                }
            }
        }
    }
    Ok(workflow
        .jobs
        .keys()
        .filter(|id| chosen.contains(*id))
        .cloned()
        .collect())
}

/// The declared job id matching `name` case-insensitively (GitHub compares job ids that way).
pub(crate) fn resolve_job_id<'w>(workflow: &'w Workflow, name: &str) -> Option<&'w str> {
    if let Some((id, _)) = workflow.jobs.get_key_value(name) {
        return Some(id.as_str());
    }
    workflow
        .jobs
        .keys()
        .find(|id| id.eq_ignore_ascii_case(name))
        .map(String::as_str)
}

/// The contexts a job-level expression may read. Which ones are present depends on the field, as
/// GitHub's context availability table says.
#[derive(Debug, Clone)]
pub(crate) struct JobContexts {
    pub github: Value,
    pub needs: Value,
    pub vars: Value,
    pub inputs: Value,
}

impl JobContexts {
    pub(crate) fn new(input: &RunInput, job_id: &str, needs: Value) -> JobContexts {
        JobContexts {
            github: github_context(input, job_id),
            needs,
            vars: Value::Object(input.vars.clone().into_iter().collect()),
            inputs: Value::Object(input.inputs.clone().into_iter().collect()),
        }
    }

    /// `github`, `needs`, `vars`, `inputs`: for `if:` and `strategy`.
    pub(crate) fn for_condition(&self) -> IndexMap<String, Value> {
        let mut values = IndexMap::new();
        values.insert("github".to_string(), self.github.clone());
        values.insert("needs".to_string(), self.needs.clone());
        values.insert("vars".to_string(), self.vars.clone());
        values.insert("inputs".to_string(), self.inputs.clone());
        values
    }

    /// Plus `strategy` and `matrix`: for `name`, `runs-on`, `env`, `timeout-minutes`,
    /// `continue-on-error`, `environment` of one leg.
    pub(crate) fn for_leg(&self, leg: &LegPlan) -> IndexMap<String, Value> {
        let mut values = self.for_condition();
        values.insert("strategy".to_string(), leg.strategy.clone());
        values.insert("matrix".to_string(), leg.matrix_value());
        values
    }
}

/// The run's `github` context as job `job_id` sees it (`event` included: job-level expressions
/// may read it).
pub(crate) fn github_context(input: &RunInput, job_id: &str) -> Value {
    let mut github = crate::github::github_context(&input.run, &input.event_payload);
    for (key, value) in &input.github {
        github.insert(key.clone(), value.clone());
    }
    // Outside a reusable-workflow call the job's workflow is the run's workflow.
    if !github.contains_key("job_workflow_ref") {
        let workflow_ref = github.get("workflow_ref").cloned().unwrap_or_default();
        github.insert("job_workflow_ref".to_string(), workflow_ref);
        let workflow_sha = github.get("workflow_sha").cloned().unwrap_or_default();
        github.insert("job_workflow_sha".to_string(), workflow_sha);
    }
    github.insert("job".to_string(), Value::String(job_id.to_string()));
    Value::Object(github)
}

/// A job's `strategy` settings, evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StrategyPlan {
    pub fail_fast: bool,
    /// Legs allowed to run at once; `None` means no limit.
    pub max_parallel: Option<usize>,
}

/// One leg of a job as planned: the job itself when it has no matrix.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegPlan {
    pub job_key: String,
    pub combination: Option<Combination>,
    /// The `strategy` context (`fail-fast`, `job-index`, `job-total`, `max-parallel`).
    pub strategy: Value,
}

impl LegPlan {
    /// The `matrix` context: the combination, or `null` for a job without a matrix.
    pub(crate) fn matrix_value(&self) -> Value {
        match &self.combination {
            Some(combination) => Value::Object(combination.clone().into_iter().collect()),
            None => Value::Null,
        }
    }
}

/// Evaluates `strategy.fail-fast` and `strategy.max-parallel` (contexts: github, needs, vars, inputs).
pub(crate) fn plan_strategy(
    job: &Job,
    values: &IndexMap<String, Value>,
) -> Result<StrategyPlan, String> {
    let Some(strategy) = &job.strategy else {
        return Ok(StrategyPlan {
            fail_fast: true,
            max_parallel: None,
        });
    };
    let fail_fast = match &strategy.fail_fast {
        Some(value) => evaluate_bool(value, values)
            .map_err(|error| format!("`strategy.fail-fast`: {error}"))?,
        None => true,
    };
    let max_parallel = match &strategy.max_parallel {
        Some(value) => {
            let number = evaluate_number(value, values)
                .map_err(|error| format!("`strategy.max-parallel`: {error}"))?;
            if number.is_nan() || number < 1.0 {
                return Err(format!(
                    "`strategy.max-parallel`: must be at least 1, got {number}"
                ));
            }
            Some(number.floor() as usize)
        }
        None => None,
    };
    Ok(StrategyPlan {
        fail_fast,
        max_parallel,
    })
}

/// Plans the legs of a job: one for a job without a matrix, one per combination (after the
/// `--matrix` filter) for a matrix job. The matrix is evaluated with `values` (github, needs, vars,
/// inputs) and expanded with `workflows::matrix::expand`. An empty list means the filter removed
/// every leg.
pub(crate) fn plan_legs(
    job_id: &str,
    job: &Job,
    strategy: StrategyPlan,
    values: &IndexMap<String, Value>,
    filter: &[(String, String)],
) -> Result<Vec<LegPlan>, String> {
    let matrix_definition = job
        .strategy
        .as_ref()
        .and_then(|strategy| strategy.matrix.as_ref());
    let Some(matrix_definition) = matrix_definition else {
        return Ok(vec![LegPlan {
            job_key: job_id.to_string(),
            combination: None,
            strategy: strategy_context(strategy, 0, 1),
        }]);
    };
    let matrix_input = evaluate_matrix(matrix_definition, values)
        .map_err(|error| format!("`strategy.matrix`: {error}"))?;
    // GitHub names a leg after its matrix values, leaving out values an `include` entry added to
    // an existing combination; `expand_named` gives exactly that display.
    let combinations = matrix::expand_named(&matrix_input, job_id)
        .map_err(|error| format!("`strategy.matrix`: {}", error.message))?;
    if combinations.is_empty() {
        return Err("`strategy.matrix`: the matrix has no combinations".to_string());
    }
    let kept: Vec<matrix::NamedCombination> = combinations
        .into_iter()
        .filter(|named| matches_filter(&named.matrix, filter))
        .collect();
    let total = kept.len();
    let mut used_keys: IndexSet<String> = IndexSet::new();
    let mut legs = Vec::with_capacity(total);
    for (index, named) in kept.into_iter().enumerate() {
        let mut job_key = named.display_name.clone();
        // Two combinations can display alike (`1` and `"1"`); keys must stay unique.
        let mut suffix = 2;
        while used_keys.contains(&job_key) {
            job_key = format!("{} #{suffix}", named.display_name);
            suffix += 1;
        }
        used_keys.insert(job_key.clone());
        legs.push(LegPlan {
            job_key,
            combination: Some(named.matrix),
            strategy: strategy_context(strategy, index, total),
        });
    }
    Ok(legs)
}

/// Refuses legs that would take a run past `MAX_JOBS_PER_RUN` (the check `slipway check` makes
/// statically, repeated here for matrices known only once their expressions are evaluated).
/// `planned` is the number of legs the run has already.
pub(crate) fn check_run_size(job_id: &str, planned: usize, adding: usize) -> Result<(), String> {
    let total = planned.saturating_add(adding);
    if total > MAX_JOBS_PER_RUN {
        return Err(format!(
            "job `{job_id}` adds {adding} matrix legs, bringing the run to {total} jobs, more than the limit of {MAX_JOBS_PER_RUN} jobs per run"
        ));
    }
    Ok(())
}

/// GitHub's display of a combination: its values in order, joined by ", ".
pub fn combination_label(combination: &Combination) -> String {
    combination
        .values()
        .map(value_label)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A leg's display name: the job's `name` (rendered with the leg's contexts, the matrix values
/// appended unless the name reads `matrix`) or the leg's key.
pub(crate) fn display_name(
    job_id: &str,
    job: &Job,
    leg: &LegPlan,
    values: &IndexMap<String, Value>,
) -> Result<String, String> {
    Ok(match &job.name {
        Some(name) => {
            let rendered = render(name, values).map_err(|error| format!("`name`: {error}"))?;
            match &leg.combination {
                // `build (linux, 18)` shown as `Build (linux, 18)`: the same values after the name.
                Some(_) if !mentions_context(name, "matrix") => {
                    let values = leg.job_key.strip_prefix(job_id).unwrap_or_default();
                    format!("{rendered}{values}")
                }
                _ => rendered,
            }
        }
        None => leg.job_key.clone(),
    })
}

/// A leg's `JobSpec` plus the job-level settings only the scheduler needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LegSpec {
    pub spec: JobSpec,
    pub continue_on_error: bool,
}

/// Builds the `JobSpec` of one leg, evaluating the job-level fields. An `Err` is the reason the
/// leg fails without running (an expression error, named by field).
pub(crate) fn build_leg_spec(
    input: &RunInput,
    job_id: &str,
    job: &Job,
    contexts: &JobContexts,
    leg: &LegPlan,
) -> Result<LegSpec, String> {
    let workflow = &input.workflow;
    let values = contexts.for_leg(leg);

    let display_name = display_name(job_id, job, leg, &values)?;

    let mut runs_on = Vec::new();
    let mut runs_on_group = None;
    if let Some(spec) = &job.runs_on {
        for label in &spec.labels {
            match evaluate(label, &values).map_err(|error| format!("`runs-on`: {error}"))? {
                Value::Array(items) => runs_on.extend(items.iter().map(to_display_string)),
                Value::Null => {}
                other => runs_on.push(to_display_string(&other)),
            }
        }
        if let Some(group) = &spec.group {
            runs_on_group =
                Some(render(group, &values).map_err(|error| format!("`runs-on.group`: {error}"))?);
        }
    }

    // Workflow and job `env` go to the runner as written: as on GitHub they are evaluated there,
    // where runner-side values such as `github.workspace` are known. Evaluating them here and
    // again there would also evaluate text that came out of an output a second time.
    let mut env = IndexMap::new();
    for (name, value) in workflow.env.iter().chain(job.env.iter()) {
        env.insert(name.clone(), value.value.clone());
    }

    let job_defaults = job.defaults.as_ref();
    let workflow_defaults = workflow.defaults.as_ref();
    let default_shell = job_defaults
        .and_then(|defaults| defaults.shell.as_ref())
        .or_else(|| workflow_defaults.and_then(|defaults| defaults.shell.as_ref()))
        .map(|shell| shell.value.clone());
    let default_working_directory = job_defaults
        .and_then(|defaults| defaults.working_directory.as_ref())
        .or_else(|| workflow_defaults.and_then(|defaults| defaults.working_directory.as_ref()))
        .map(|directory| directory.value.clone());

    let timeout_minutes = match &job.timeout_minutes {
        Some(value) => {
            let minutes = evaluate_number(value, &values)
                .map_err(|error| format!("`timeout-minutes`: {error}"))?;
            if minutes.is_nan() || minutes <= 0.0 || minutes.is_infinite() {
                return Err(format!(
                    "`timeout-minutes`: must be a positive number, got {minutes}"
                ));
            }
            minutes
        }
        None => input.default_timeout_minutes,
    };

    let continue_on_error = match &job.continue_on_error {
        Some(value) => evaluate_bool(value, &values)
            .map_err(|error| format!("`continue-on-error`: {error}"))?,
        None => false,
    };

    let environment = match &job.environment {
        Some(environment) => Some(EnvironmentRef {
            name: render(&environment.name, &values)
                .map_err(|error| format!("`environment.name`: {error}"))?,
            // The URL may read `steps` outputs, so it stays as written until the job ends.
            url: environment.url.as_ref().map(|url| url.value.clone()),
        }),
        None => None,
    };

    let mut contexts_for_runner = IndexMap::new();
    // The payload travels once, as `event_payload`: the runner puts it back as `github.event`.
    let mut github_for_runner = contexts.github.clone();
    if let Value::Object(github) = &mut github_for_runner {
        github.shift_remove("event");
    }
    contexts_for_runner.insert("github".to_string(), github_for_runner);
    contexts_for_runner.insert("matrix".to_string(), leg.matrix_value());
    contexts_for_runner.insert("needs".to_string(), contexts.needs.clone());
    contexts_for_runner.insert("strategy".to_string(), leg.strategy.clone());
    contexts_for_runner.insert("inputs".to_string(), contexts.inputs.clone());
    contexts_for_runner.insert("vars".to_string(), contexts.vars.clone());
    contexts_for_runner.insert("job".to_string(), json!({}));

    let container = match &job.container {
        Some(container) => Some(container_spec(container, &values, "container")?),
        None => None,
    };
    let mut services = IndexMap::new();
    for (id, service) in &job.services {
        services.insert(
            id.clone(),
            container_spec(service, &values, &format!("services.{id}"))?,
        );
    }
    // A job with containers can only run where a Docker engine is: runners that have one carry
    // the `docker` label.
    if (container.is_some() || !services.is_empty())
        && !runs_on
            .iter()
            .any(|label| label.eq_ignore_ascii_case("docker"))
    {
        runs_on.push("docker".to_string());
    }

    let spec = JobSpec {
        run_id: input.run_id.clone(),
        run: input.run.clone(),
        job_key: leg.job_key.clone(),
        job_id: job_id.to_string(),
        display_name,
        workflow_file: workflow.file.clone(),
        steps: job
            .steps
            .iter()
            .map(super::wire_step::step_to_wire)
            .collect(),
        env,
        default_shell,
        default_working_directory,
        timeout_minutes,
        contexts: contexts_for_runner,
        secrets: SecretReferences::of_job(workflow, job).select(&input.secrets),
        outputs: job
            .outputs
            .iter()
            .map(|(name, value)| (name.clone(), value.value.clone()))
            .collect(),
        checkout: input.checkout.clone(),
        event_payload: input.event_payload.clone(),
        runs_on,
        runs_on_group,
        environment,
        deployment: None,
        deployment_block: match &job.deployment {
            Some(block) => Some(
                evaluate_block(&block.value, &values)
                    .map_err(|error| format!("`deployment`: {error}"))?,
            ),
            None => None,
        },
        actions: input.actions.clone(),
        container,
        services,
    };
    Ok(LegSpec {
        spec,
        continue_on_error,
    })
}

/// The secrets of `available` that `spec`'s expressions read (steps, env, outputs, the
/// `deployment:` block): for secrets added after planning, such as an environment's.
pub fn secrets_for_spec(
    spec: &JobSpec,
    available: &IndexMap<String, String>,
) -> IndexMap<String, String> {
    let mut templates: Vec<&str> = spec.env.values().map(String::as_str).collect();
    templates.extend(spec.outputs.values().map(String::as_str));
    // Container env and credentials that read `secrets` are evaluated by the runner.
    for container in spec.container.iter().chain(spec.services.values()) {
        templates.extend(container.env.values().map(String::as_str));
        if let Some(credentials) = &container.credentials {
            templates.extend([credentials.username.as_str(), credentials.password.as_str()]);
        }
    }
    let mut conditions: Vec<&str> = Vec::new();
    // The spec's steps are wire data: every text a runner evaluates is a template, but `if:`.
    for step in &spec.steps {
        let fields = [
            &step.name,
            &step.run,
            &step.uses,
            &step.shell,
            &step.working_directory,
        ];
        templates.extend(fields.into_iter().flatten().map(String::as_str));
        templates.extend(
            step.with
                .values()
                .chain(step.env.values())
                .map(String::as_str),
        );
        if let Some(protocol::BoolOrExpression::Expression(text)) = &step.continue_on_error {
            templates.push(text);
        }
        if let Some(protocol::NumberOrExpression::Expression(text)) = &step.timeout_minutes {
            templates.push(text);
        }
        if let Some(condition) = &step.condition {
            conditions.push(condition);
        }
    }
    SecretReferences::of(JobExpressions {
        steps: &[],
        templates: &templates,
        block: spec.deployment_block.as_ref(),
        conditions: &conditions,
    })
    .select(available)
}

/// The contexts a workflow-level expression reads (`concurrency` at the top of a workflow):
/// `github` (without `job`), `inputs`, `vars`.
pub fn workflow_level_values(input: &RunInput) -> IndexMap<String, Value> {
    let mut github = github_context(input, "");
    if let Value::Object(map) = &mut github {
        map.shift_remove("job");
    }
    let mut values = IndexMap::new();
    values.insert("github".to_string(), github);
    values.insert(
        "inputs".to_string(),
        Value::Object(input.inputs.clone().into_iter().collect()),
    );
    values.insert(
        "vars".to_string(),
        Value::Object(input.vars.clone().into_iter().collect()),
    );
    values
}

/// A `concurrency:` block evaluated with `values`: the group name and `cancel-in-progress`
/// (default false). An empty group means no group (GitHub ignores it too). `Err` names the
/// field at fault.
pub fn evaluate_concurrency(
    concurrency: &Concurrency,
    values: &IndexMap<String, Value>,
) -> Result<Option<(String, bool)>, String> {
    let group = render(&concurrency.group.value, values)
        .map_err(|error| format!("`concurrency.group`: {error}"))?;
    let cancel_in_progress = match &concurrency.cancel_in_progress {
        Some(value) => evaluate_bool(&value.value, values)
            .map_err(|error| format!("`concurrency.cancel-in-progress`: {error}"))?,
        None => false,
    };
    let group = group.trim().to_string();
    Ok((!group.is_empty()).then_some((group, cancel_in_progress)))
}

/// Renders a template with `values`; text without `${{` is returned as it is.
/// A `container:` or service entry with its job-level expressions evaluated; `field` names it
/// in errors (`container`, `services.db`).
fn container_spec(
    container: &workflows::model::Container,
    values: &IndexMap<String, Value>,
    field: &str,
) -> Result<protocol::ContainerSpec, String> {
    // What reads `secrets` stays as written: the runner, which holds the job's secrets,
    // evaluates it (GitHub allows `secrets` in container env and credentials).
    let text = |value: &workflows::span::Spanned<String>, what: &str| {
        if value.value.contains("secrets") {
            return Ok(value.value.clone());
        }
        render(&value.value, values).map_err(|error| format!("`{field}.{what}`: {error}"))
    };
    let mut env = IndexMap::new();
    for (name, value) in &container.env {
        env.insert(name.clone(), text(value, &format!("env.{name}"))?);
    }
    let credentials = if container.credentials.is_empty() {
        None
    } else {
        let get = |key: &str| match container.credentials.get(key) {
            Some(value) => text(value, &format!("credentials.{key}")),
            None => Ok(String::new()),
        };
        Some(protocol::RegistryCredentials {
            username: get("username")?,
            password: get("password")?,
        })
    };
    Ok(protocol::ContainerSpec {
        image: text(&container.image, "image")?,
        credentials,
        env,
        ports: container
            .ports
            .iter()
            .map(|port| text(port, "ports"))
            .collect::<Result<_, _>>()?,
        volumes: container
            .volumes
            .iter()
            .map(|volume| text(volume, "volumes"))
            .collect::<Result<_, _>>()?,
        options: container
            .options
            .as_ref()
            .map(|options| text(options, "options"))
            .transpose()?,
        entrypoint: container
            .entrypoint
            .as_ref()
            .map(|value| text(value, "entrypoint"))
            .transpose()?,
        command: container
            .command
            .as_ref()
            .map(|value| text(value, "command"))
            .transpose()?,
    })
}

pub(crate) fn render(text: &str, values: &IndexMap<String, Value>) -> Result<String, String> {
    if !text.contains("${{") {
        return Ok(text.to_string());
    }
    let template = Template::parse(text).map_err(|error| error.message)?;
    template
        .render(&context(values))
        .map_err(|error| error.message)
}

/// Evaluates the string leaves of a `deployment:` block. A string that reads the
/// `deployment` context (only known per phase, on the runner) stays as written.
fn evaluate_block(block: &Value, values: &IndexMap<String, Value>) -> Result<Value, String> {
    Ok(match block {
        Value::String(text) if text.contains("${{") => {
            if text.contains("deployment.") || text.contains("deployment[") {
                Value::String(text.clone())
            } else {
                evaluate(text, values)?
            }
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| evaluate_block(item, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), evaluate_block(item, values)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// Evaluates a template to a value (a lone `${{ expr }}` keeps its type); text without `${{` is
/// a string.
pub(crate) fn evaluate(text: &str, values: &IndexMap<String, Value>) -> Result<Value, String> {
    if !text.contains("${{") {
        return Ok(Value::String(text.to_string()));
    }
    let template = Template::parse(text).map_err(|error| error.message)?;
    template
        .evaluate(&context(values))
        .map_err(|error| error.message)
}

fn context(values: &IndexMap<String, Value>) -> Context<'static> {
    Context {
        values: values.clone(),
        ..Context::default()
    }
}

fn evaluate_bool(value: &BoolOrExpr, values: &IndexMap<String, Value>) -> Result<bool, String> {
    match value {
        BoolOrExpr::Bool(flag) => Ok(*flag),
        BoolOrExpr::Expr(text) => match evaluate(text, values)? {
            Value::Bool(flag) => Ok(flag),
            Value::String(text) if text.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(text) if text.eq_ignore_ascii_case("false") || text.is_empty() => {
                Ok(false)
            }
            other @ (Value::Null | Value::Number(_)) => Ok(is_truthy(&other)),
            other => Err(format!(
                "expected a boolean, got `{}`",
                to_display_string(&other)
            )),
        },
    }
}

fn evaluate_number(value: &NumberOrExpr, values: &IndexMap<String, Value>) -> Result<f64, String> {
    match value {
        NumberOrExpr::Number(number) => Ok(*number),
        NumberOrExpr::Expr(text) => {
            let value = evaluate(text, values)?;
            let number = match &value {
                Value::Number(number) => number.as_f64(),
                Value::String(text) => text.trim().parse::<f64>().ok(),
                _ => None,
            };
            number
                .filter(|number| number.is_finite())
                .ok_or_else(|| format!("expected a number, got `{}`", to_display_string(&value)))
        }
    }
}

fn evaluate_matrix(
    definition: &Matrix,
    values: &IndexMap<String, Value>,
) -> Result<MatrixInput, String> {
    match definition {
        Matrix::Expr(text) => {
            let value = evaluate(text, values)?;
            MatrixInput::from_value(&value).map_err(|error| error.message)
        }
        Matrix::Map(map) => {
            let mut input = MatrixInput::default();
            for (name, dimension) in &map.dimensions {
                let items = evaluate_matrix_values(dimension, values)
                    .map_err(|error| format!("`{name}`: {error}"))?;
                // GitHub evaluates an expression used as a mapping key (`${{ needs.a.outputs.k }}:`).
                let name = if name.contains("${{") {
                    to_display_string(&evaluate(name, values)?)
                } else {
                    name.clone()
                };
                input.dimensions.insert(name, items);
            }
            if let Some(include) = &map.include {
                input.include =
                    combinations_of(evaluate_matrix_values(include, values)?, "include")?;
            }
            if let Some(exclude) = &map.exclude {
                input.exclude =
                    combinations_of(evaluate_matrix_values(exclude, values)?, "exclude")?;
            }
            Ok(input)
        }
    }
}

/// A list of matrix values: the list as written (string items holding `${{ }}` evaluated), or an
/// expression that yields a list.
fn evaluate_matrix_values(
    values_written: &MatrixValues,
    values: &IndexMap<String, Value>,
) -> Result<Vec<Value>, String> {
    match values_written {
        MatrixValues::List(items) => {
            let mut evaluated = Vec::with_capacity(items.value.len());
            for item in &items.value {
                // An item that is one `${{ }}` yielding a list is spliced into the list, as
                // GitHub's template unraveller does for sequences.
                let whole_expression = item.as_str().is_some_and(|text| {
                    let text = text.trim();
                    text.starts_with("${{")
                        && text.ends_with("}}")
                        && text.matches("${{").count() == 1
                });
                match evaluate_nested(item, values)? {
                    Value::Array(spliced) if whole_expression => evaluated.extend(spliced),
                    other => evaluated.push(other),
                }
            }
            Ok(evaluated)
        }
        MatrixValues::Expr(text) => match evaluate(text, values)? {
            Value::Array(items) => Ok(items),
            other => Err(format!(
                "expected a list, got `{}`",
                to_display_string(&other)
            )),
        },
    }
}

/// A matrix value as written, with every string inside it that holds `${{ }}` evaluated (values
/// may be mappings and lists: `- env: {KEY: ${{ inputs.x }}}`).
fn evaluate_nested(item: &Value, values: &IndexMap<String, Value>) -> Result<Value, String> {
    match item {
        Value::String(text) if text.contains("${{") => evaluate(text, values),
        Value::Array(items) => items
            .iter()
            .map(|item| evaluate_nested(item, values))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut evaluated = serde_json::Map::with_capacity(map.len());
            for (key, value) in map {
                let value = evaluate_nested(value, values)?;
                if is_insert_directive(key) {
                    // `${{ insert }}: {…}` merges a mapping into the one around it (GitHub's
                    // templating directive).
                    match value {
                        Value::Object(inserted) => evaluated.extend(inserted),
                        other => {
                            return Err(format!(
                                "`${{{{ insert }}}}` needs a mapping, got `{}`",
                                to_display_string(&other)
                            ));
                        }
                    }
                } else if key.contains("${{") {
                    evaluated.insert(to_display_string(&evaluate(key, values)?), value);
                } else {
                    evaluated.insert(key.clone(), value);
                }
            }
            Ok(Value::Object(evaluated))
        }
        other => Ok(other.clone()),
    }
}

/// Whether a mapping key is the `${{ insert }}` directive (any spacing, any case).
fn is_insert_directive(key: &str) -> bool {
    key.trim()
        .strip_prefix("${{")
        .and_then(|rest| rest.strip_suffix("}}"))
        .is_some_and(|inner| inner.trim().eq_ignore_ascii_case("insert"))
}

fn combinations_of(items: Vec<Value>, field: &str) -> Result<Vec<Combination>, String> {
    let mut combinations = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Value::Object(map) => combinations.push(map.into_iter().collect()),
            // An entry written as `${{ fromJSON(...) }}` may yield a whole list of entries.
            Value::Array(entries) => combinations.extend(combinations_of(entries, field)?),
            other => {
                return Err(format!(
                    "`{field}`: expected a mapping, got `{}`",
                    to_display_string(&other)
                ));
            }
        }
    }
    Ok(combinations)
}

fn strategy_context(strategy: StrategyPlan, index: usize, total: usize) -> Value {
    let max_parallel = strategy
        .max_parallel
        .map_or(total, |limit| limit.min(total.max(1)));
    json!({
        "fail-fast": strategy.fail_fast,
        "job-index": index,
        "job-total": total,
        "max-parallel": max_parallel,
    })
}

fn matches_filter(combination: &Combination, filter: &[(String, String)]) -> bool {
    filter.iter().all(|(key, wanted)| {
        match combination
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
        {
            Some((_, value)) => value_label(value) == *wanted,
            None => true,
        }
    })
}

fn value_label(value: &Value) -> String {
    match value {
        Value::Object(_) | Value::Array(_) => value.to_string(),
        scalar => to_display_string(scalar),
    }
}

fn mentions_context(text: &str, context_name: &str) -> bool {
    text.contains("${{")
        && expression_parts(text)
            .iter()
            .any(|part| part.to_ascii_lowercase().contains(context_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_keeps_legs_whose_value_matches_and_ignores_other_keys() {
        let combination: Combination = [
            ("os".to_string(), json!("linux")),
            ("node".to_string(), json!(18)),
        ]
        .into_iter()
        .collect();
        assert!(matches_filter(
            &combination,
            &[("OS".into(), "linux".into())]
        ));
        assert!(matches_filter(
            &combination,
            &[("node".into(), "18".into())]
        ));
        assert!(!matches_filter(
            &combination,
            &[("node".into(), "20".into())]
        ));
        assert!(matches_filter(
            &combination,
            &[("arch".into(), "x64".into())]
        ));
    }

    #[test]
    fn combination_labels_follow_githubs_display() {
        let combination: Combination = [
            ("os".to_string(), json!("linux")),
            ("node".to_string(), json!(18)),
            ("x".to_string(), json!({"a": 1})),
        ]
        .into_iter()
        .collect();
        assert_eq!(combination_label(&combination), "linux, 18, {\"a\":1}");
    }

    #[test]
    fn matrices_known_only_at_plan_time_count_toward_the_run_limit() {
        use crate::{Action, Event, Millis, Scheduler};
        let values: Vec<String> = (0..251).map(|i| i.to_string()).collect();
        let mut yaml = String::from("on: push\njobs:\n");
        for j in 0..20 {
            yaml.push_str(&format!(
                "  j{j}:\n    runs-on: x\n    strategy:\n      matrix: ${{{{ fromJSON('{{\"n\":[{}]}}') }}}}\n    steps:\n      - run: echo\n",
                values.join(",")
            ));
        }
        let parsed = workflows::parse::parse_workflow("w.yml", &yaml);
        let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        let workflow = parsed.workflow.expect("a workflow");
        let mut scheduler = Scheduler::new(RunInput::new(workflow, "r")).expect("planned");
        let actions = scheduler.handle(Event::Start, Millis(0)).expect("started");
        let refused: Vec<&String> = actions
            .iter()
            .filter_map(|action| match action {
                Action::JobConcluded { reason, .. } => Some(reason),
                _ => None,
            })
            .collect();
        assert_eq!(refused.len(), 1, "{actions:?}");
        assert!(
            refused[0].contains(
                "bringing the run to 5020 jobs, more than the limit of 5000 jobs per run"
            ),
            "{}",
            refused[0]
        );
    }
}
