//! `jobs:`: normal jobs (`runs-on` + `steps`), reusable-workflow calls (`uses` + `with` +
//! `secrets`), their strategies, containers and steps. Shapes and required keys only; cross-job
//! checks (`needs` cycles, unknown job ids, expressions) belong to validation.

use indexmap::IndexMap;

use crate::model::{
    CallSecrets, DeploymentBlock, Environment, Job, Matrix, MatrixMap, MatrixValues, RunsOn, Step,
    StepControl, Strategy,
};
use crate::span::Spanned;
use crate::yaml::{Node, NodeValue, ScalarKind};

use super::reader::{Reader, is_expression};
use super::shared;

const JOB_KEYS: &[&str] = &[
    "name",
    "needs",
    "if",
    "runs-on",
    "environment",
    "concurrency",
    "outputs",
    "env",
    "defaults",
    "timeout-minutes",
    "continue-on-error",
    "strategy",
    "container",
    "services",
    "permissions",
    "steps",
    "uses",
    "with",
    "secrets",
    "deployment",
    "snapshot",
    "cancel-timeout-minutes",
];

/// Keys GitHub allows on a job that calls a reusable workflow.
const CALL_JOB_KEYS: &[&str] = &[
    "name",
    "uses",
    "with",
    "secrets",
    "strategy",
    "needs",
    "if",
    "concurrency",
    "permissions",
];

const STEP_KEYS: &[&str] = &[
    "id",
    "name",
    "if",
    "run",
    "uses",
    "shell",
    "with",
    "env",
    "working-directory",
    "continue-on-error",
    "timeout-minutes",
    "background",
    "wait",
    "wait-all",
    "cancel",
];

/// Keys a `wait`, `wait-all` or `cancel` step may have besides its own.
const CONTROL_STEP_KEYS: &[&str] = &["id", "name", "if"];

/// Keys of a `parallel:` group entry.
const PARALLEL_KEYS: &[&str] = &["parallel", "name"];

pub(crate) fn jobs(reader: &mut Reader, node: &Node) -> IndexMap<String, Job> {
    let mut jobs = IndexMap::new();
    let Some(entries) = reader.mapping(node, "`jobs`") else {
        return jobs;
    };
    if entries.is_empty() {
        reader.error(node.span, "`jobs` must define at least one job");
    }
    // GitHub compares job ids case-insensitively, so `build` and `BUILD` clash.
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        let id = Spanned::new(entry.key.clone(), entry.key_span);
        if !seen.insert(id.value.to_lowercase()) {
            reader.error(
                id.span,
                format!(
                    "job id `{}` is already defined (job ids are case-insensitive)",
                    id.value
                ),
            );
        }
        if id.value.starts_with("__") {
            reader.error(
                id.span,
                format!(
                    "invalid job id `{}`: ids starting with `__` are reserved",
                    id.value
                ),
            );
        } else if !is_valid_job_id(&id.value) {
            reader.error(
                id.span,
                format!(
                    "invalid job id `{}`: it must start with a letter or `_` and contain only letters, digits, `-` and `_`",
                    id.value
                ),
            );
        }
        if let Some(job) = job(reader, id, &entry.value) {
            jobs.insert(entry.key.clone(), job);
        }
    }
    jobs
}

/// Job ids start with a letter or `_` and hold only alphanumerics, `-` and `_`.
pub(crate) fn is_valid_job_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn job(reader: &mut Reader, id: Spanned<String>, node: &Node) -> Option<Job> {
    let place = format!("job `{}`", id.value);
    let entries = reader.mapping(node, &place)?;
    let mut job = Job {
        id,
        name: None,
        needs: Vec::new(),
        condition: None,
        runs_on: None,
        environment: None,
        concurrency: None,
        outputs: IndexMap::new(),
        env: IndexMap::new(),
        defaults: None,
        timeout_minutes: None,
        continue_on_error: None,
        strategy: None,
        container: None,
        services: IndexMap::new(),
        permissions: None,
        steps: Vec::new(),
        uses: None,
        with: IndexMap::new(),
        secrets: None,
        deployment: None,
        span: node.span,
    };
    let is_call = entries.iter().any(|entry| entry.key == "uses");
    let mut has_steps = false;
    for entry in entries {
        let key = entry.key.as_str();
        let what = format!("`{key}` of {place}");
        if !JOB_KEYS.contains(&key) {
            reader.unknown_key(entry, JOB_KEYS, &place);
            continue;
        }
        if is_call && !CALL_JOB_KEYS.contains(&key) {
            reader.error(
                entry.key_span,
                format!("`{key}` is not allowed in {place}, which calls a reusable workflow"),
            );
            continue;
        }
        if !is_call && matches!(key, "with" | "secrets") {
            reader.error(
                entry.key_span,
                format!("`{key}` is only allowed in a job that calls a reusable workflow (`uses`)"),
            );
            continue;
        }
        let value = &entry.value;
        match key {
            "name" => job.name = reader.string(value, &what),
            "needs" => job.needs = reader.string_list(value, &what).unwrap_or_default(),
            "if" if value.is_null() => {}
            "if" => job.condition = reader.condition(value, &what),
            "runs-on" => job.runs_on = runs_on(reader, value, &place),
            "environment" => job.environment = environment(reader, value, &place),
            "concurrency" => job.concurrency = shared::concurrency(reader, value, &place),
            "outputs" => job.outputs = reader.string_map(value, &what),
            "env" => job.env = shared::env(reader, value, &place),
            "defaults" => job.defaults = shared::defaults(reader, value, &place),
            "timeout-minutes" => job.timeout_minutes = reader.number_or_expr(value, &what),
            "continue-on-error" => job.continue_on_error = reader.bool_or_expr(value, &what),
            "strategy" => job.strategy = strategy(reader, value, &place),
            "container" if value.is_null() => {}
            "container" => job.container = shared::container(reader, value, &format!("`container` of {place}")),
            "cancel-timeout-minutes" if reader.number_or_expr(value, &what).is_some() => {
                reader.warning(entry.key_span, format!("{what} is not supported by slipway and is ignored"));
            }
            "snapshot" => reader.warning(
                entry.key_span,
                format!("`snapshot` of {place} (custom runner images) is not supported by slipway and is ignored"),
            ),
            "services" => job.services = services(reader, value, &place),
            "permissions" => job.permissions = shared::permissions(reader, value, &place),
            "steps" => {
                has_steps = true;
                job.steps = steps(reader, value, &place);
            }
            "uses" => job.uses = reader.string(value, &what),
            "with" => job.with = call_with(reader, value, &what),
            "secrets" => job.secrets = call_secrets(reader, value, &what),
            "deployment" if reader.mapping(value, &what).is_some() => {
                job.deployment = Some(deployment_block(reader, value, &job.id.value));
            }
            _ => {}
        }
    }
    if !is_call {
        if job.runs_on.is_none() && !entries.iter().any(|entry| entry.key == "runs-on") {
            // Like GitHub, a missing property is reported where the mapping that lacks it starts.
            reader.error(
                node.span,
                format!("{place} needs `runs-on` (or `uses` to call a reusable workflow)"),
            );
        }
        if !has_steps {
            reader.error(
                node.span,
                format!("{place} needs `steps` (or `uses` to call a reusable workflow)"),
            );
        }
    }
    Some(job)
}

fn runs_on(reader: &mut Reader, node: &Node, place: &str) -> Option<RunsOn> {
    let what = format!("`runs-on` of {place}");
    let mut runs_on = RunsOn {
        span: node.span,
        group: None,
        labels: Vec::new(),
    };
    match &node.value {
        NodeValue::Scalar(scalar) if scalar.kind == ScalarKind::String => {
            runs_on.labels = vec![Spanned::new(scalar.text.clone(), node.span)];
        }
        NodeValue::Sequence(items) => {
            if items.is_empty() {
                reader.error(node.span, format!("{what} must name at least one label"));
            }
            runs_on.labels = reader.string_list(node, &what)?;
        }
        NodeValue::Mapping(entries) => {
            for entry in entries {
                let entry_what = format!("`runs-on.{}` of {place}", entry.key);
                match entry.key.as_str() {
                    "group" => runs_on.group = reader.string(&entry.value, &entry_what),
                    "labels" => {
                        runs_on.labels = reader
                            .string_list(&entry.value, &entry_what)
                            .unwrap_or_default()
                    }
                    _ => reader.unknown_key(entry, &["group", "labels"], &what),
                }
            }
            // `runs-on: {}` is allowed by GitHub's schema (both keys are optional): any runner.
        }
        _ => {
            reader.error(
                node.span,
                format!(
                    "{what} must be a string, a list of strings or a mapping, found {}",
                    node.describe()
                ),
            );
            return None;
        }
    }
    Some(runs_on)
}

/// The `deployment:` block, typed. A block with a `${{ }}` expression is kept as written: the
/// engine reads it once the expressions are evaluated.
fn deployment_block(reader: &mut Reader, node: &Node, job_id: &str) -> DeploymentBlock {
    let value = node.to_json();
    let templated = value.to_string().contains("${{");
    let typed = if templated {
        None
    } else {
        let (typed, problems) = super::deployment::read_deployment(node);
        for problem in &problems {
            reader.error(problem.span, format!("in `jobs.{job_id}`: {problem}"));
        }
        problems.is_empty().then_some(typed)
    };
    DeploymentBlock {
        value,
        span: node.span,
        typed,
    }
}

fn environment(reader: &mut Reader, node: &Node, place: &str) -> Option<Environment> {
    let what = format!("`environment` of {place}");
    match &node.value {
        NodeValue::Mapping(entries) => {
            let mut name = None;
            let mut url = None;
            for entry in entries {
                let entry_what = format!("`environment.{}` of {place}", entry.key);
                match entry.key.as_str() {
                    "name" => name = reader.string(&entry.value, &entry_what),
                    "url" => url = reader.string(&entry.value, &entry_what),
                    "deployment" => {
                        if reader.bool_or_expr(&entry.value, &entry_what).is_some() {
                            reader.warning(
                                entry.key_span,
                                format!("{entry_what} is not supported by slipway and is ignored"),
                            );
                        }
                    }
                    _ => reader.unknown_key(entry, &["name", "url", "deployment"], &what),
                }
            }
            let Some(name) = name else {
                reader.error(node.span, format!("{what} needs a `name`"));
                return None;
            };
            Some(Environment { name, url })
        }
        NodeValue::Scalar(_) if !node.is_null() => Some(Environment {
            name: reader.string(node, &what)?,
            url: None,
        }),
        _ => {
            reader.error(
                node.span,
                format!(
                    "{what} must be a string or a mapping, found {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

fn strategy(reader: &mut Reader, node: &Node, place: &str) -> Option<Strategy> {
    let what = format!("`strategy` of {place}");
    let entries = reader.mapping(node, &what)?;
    let mut strategy = Strategy {
        matrix: None,
        fail_fast: None,
        max_parallel: None,
    };
    for entry in entries {
        let entry_what = format!("`strategy.{}` of {place}", entry.key);
        match entry.key.as_str() {
            "matrix" => strategy.matrix = matrix(reader, &entry.value, place),
            "fail-fast" => strategy.fail_fast = reader.bool_or_expr(&entry.value, &entry_what),
            "max-parallel" => {
                strategy.max_parallel = reader.number_or_expr(&entry.value, &entry_what)
            }
            _ => reader.unknown_key(entry, &["matrix", "fail-fast", "max-parallel"], &what),
        }
    }
    Some(strategy)
}

fn matrix(reader: &mut Reader, node: &Node, place: &str) -> Option<Matrix> {
    let what = format!("`strategy.matrix` of {place}");
    let entries = match &node.value {
        NodeValue::Mapping(entries) => entries,
        NodeValue::Scalar(scalar) if is_expression(&scalar.text) => {
            return Some(Matrix::Expr(Spanned::new(scalar.text.clone(), node.span)));
        }
        _ => {
            reader.error(
                node.span,
                format!(
                    "{what} must be a mapping or an expression, found {}",
                    node.describe()
                ),
            );
            return None;
        }
    };
    let mut matrix = MatrixMap {
        span: node.span,
        ..MatrixMap::default()
    };
    for entry in entries {
        let values = match &entry.value.value {
            NodeValue::Scalar(scalar) if is_expression(&scalar.text) => {
                MatrixValues::Expr(Spanned::new(scalar.text.clone(), entry.value.span))
            }
            NodeValue::Sequence(items) => {
                let is_combination_list = matches!(entry.key.as_str(), "include" | "exclude");
                if items.is_empty() && !is_combination_list {
                    reader.error(
                        entry.value.span,
                        format!("matrix dimension `{}` of {place} has no values", entry.key),
                    );
                }
                if is_combination_list {
                    for item in items {
                        let item_is_expr = item.as_scalar().is_some_and(|s| is_expression(&s.text));
                        if item.as_mapping().is_none() && !item_is_expr {
                            reader.error(
                                item.span,
                                format!("each entry of `matrix.{}` of {place} must be a mapping, found {}", entry.key, item.describe()),
                            );
                        }
                    }
                }
                MatrixValues::List(Spanned::new(
                    items.iter().map(Node::to_json).collect(),
                    entry.value.span,
                ))
            }
            _ => {
                let noun = match entry.key.as_str() {
                    "include" | "exclude" => format!("`matrix.{}` of {place}", entry.key),
                    _ => format!("matrix dimension `{}` of {place}", entry.key),
                };
                reader.error(
                    entry.value.span,
                    format!(
                        "{noun} must be a list or an expression, found {}",
                        entry.value.describe()
                    ),
                );
                continue;
            }
        };
        match entry.key.as_str() {
            "include" => matrix.include = Some(values),
            "exclude" => matrix.exclude = Some(values),
            _ => {
                matrix.dimensions.insert(entry.key.clone(), values);
            }
        }
    }
    Some(Matrix::Map(matrix))
}

fn services(
    reader: &mut Reader,
    node: &Node,
    place: &str,
) -> IndexMap<String, crate::model::Container> {
    let mut services = IndexMap::new();
    let what = format!("`services` of {place}");
    if reader.unsupported_expression(node, &what) {
        return services;
    }
    let Some(entries) = reader.mapping(node, &what) else {
        return services;
    };
    for entry in entries {
        let service_place = format!("service `{}` of {place}", entry.key);
        if let Some(container) = shared::container(reader, &entry.value, &service_place) {
            services.insert(entry.key.clone(), container);
        }
    }
    services
}

/// Inputs of a reusable-workflow call: scalars keep their YAML type.
fn call_with(
    reader: &mut Reader,
    node: &Node,
    what: &str,
) -> IndexMap<String, Spanned<serde_json::Value>> {
    let mut with = IndexMap::new();
    let Some(entries) = reader.mapping(node, what) else {
        return with;
    };
    for entry in entries {
        if let Some(value) = reader.scalar_json(&entry.value, &format!("`{}` in {what}", entry.key))
        {
            with.insert(entry.key.clone(), value);
        }
    }
    with
}

fn call_secrets(reader: &mut Reader, node: &Node, what: &str) -> Option<CallSecrets> {
    match &node.value {
        NodeValue::Scalar(scalar) if scalar.text == "inherit" => Some(CallSecrets::Inherit),
        NodeValue::Mapping(_) => Some(CallSecrets::Map(reader.string_map(node, what))),
        _ => {
            reader.error(
                node.span,
                format!(
                    "{what} must be `inherit` or a mapping, found {}",
                    node.describe()
                ),
            );
            None
        }
    }
}

pub(crate) fn steps(reader: &mut Reader, node: &Node, place: &str) -> Vec<Step> {
    let Some(items) = reader.sequence(node, &format!("`steps` of {place}")) else {
        return Vec::new();
    };
    if items.is_empty() {
        reader.error(
            node.span,
            format!("`steps` of {place} must hold at least one step"),
        );
    }
    let mut steps = Vec::new();
    let mut groups = 0;
    for (index, item) in items.iter().enumerate() {
        let step_place = format!("step {} of {place}", index + 1);
        if parallel_key(item).is_some() {
            groups += 1;
            parallel_group(reader, item, &step_place, groups, &mut steps);
        } else if let Some(step) = step(reader, item, &step_place) {
            steps.push(step);
        }
    }
    steps
}

/// The `parallel` entry of a step mapping, when it has one.
fn parallel_key(node: &Node) -> Option<&crate::yaml::Entry> {
    node.as_mapping()?
        .iter()
        .find(|entry| entry.key == "parallel")
}

/// `- parallel: [steps]`: GitHub's shorthand for its members run as background steps followed by
/// a `wait` on all of them. Members without an `id` get a generated one so the wait can name them.
fn parallel_group(
    reader: &mut Reader,
    node: &Node,
    place: &str,
    group: usize,
    steps: &mut Vec<Step>,
) {
    let Some(entries) = node.as_mapping() else {
        return;
    };
    let mut name = None;
    let mut members_node = None;
    for entry in entries {
        match entry.key.as_str() {
            "parallel" => members_node = Some(&entry.value),
            "name" => name = reader.string(&entry.value, &format!("`name` of {place}")),
            _ => reader.unknown_key(
                entry,
                PARALLEL_KEYS,
                &format!("the `parallel` group {place}"),
            ),
        }
    }
    let Some(members_node) = members_node else {
        return;
    };
    let Some(items) = reader.sequence(members_node, &format!("`parallel` of {place}")) else {
        return;
    };
    if items.is_empty() {
        reader.error(
            members_node.span,
            format!("`parallel` of {place} must hold at least one step"),
        );
    }
    let mut member_ids = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let member_place = format!("step {} of the `parallel` group {place}", index + 1);
        if let Some(nested) = parallel_key(item) {
            reader.error(
                nested.key_span,
                format!("{member_place} is a `parallel` group: `parallel` groups cannot be nested"),
            );
            continue;
        }
        let Some(mut member) = step(reader, item, &member_place) else {
            continue;
        };
        let member_keys = item.as_mapping().unwrap_or_default();
        for key in ["background", "wait", "wait-all", "cancel"] {
            if let Some(entry) = member_keys.iter().find(|entry| entry.key == key) {
                reader.error(
                    entry.key_span,
                    format!("`{key}` is not allowed in {member_place}: a `parallel` group holds only `run` and `uses` steps"),
                );
            }
        }
        if member.control.is_some() {
            continue;
        }
        member.background = true;
        let id = member.id.clone().unwrap_or_else(|| {
            Spanned::new(
                crate::model::parallel_member_id(group, index + 1),
                member.span,
            )
        });
        member.id = Some(id.clone());
        member_ids.push(id);
        steps.push(member);
    }
    steps.push(Step {
        id: None,
        name: Some(Spanned::new(
            format!(
                "Wait for {}",
                name.as_ref()
                    .map_or("the parallel steps", |name| name.value.as_str())
            ),
            node.span,
        )),
        condition: None,
        run: None,
        uses: None,
        shell: None,
        with: IndexMap::new(),
        env: IndexMap::new(),
        working_directory: None,
        continue_on_error: None,
        timeout_minutes: None,
        background: false,
        control: Some(StepControl::Wait(member_ids)),
        span: node.span,
    });
}

fn step(reader: &mut Reader, node: &Node, place: &str) -> Option<Step> {
    let entries = reader.mapping(node, place)?;
    let mut step = Step {
        id: None,
        name: None,
        condition: None,
        run: None,
        uses: None,
        shell: None,
        with: IndexMap::new(),
        env: IndexMap::new(),
        working_directory: None,
        continue_on_error: None,
        timeout_minutes: None,
        background: false,
        control: None,
        span: node.span,
    };
    let key_span = |key: &str| {
        entries
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| entry.key_span)
    };
    for entry in entries {
        let what = format!("`{}` of {place}", entry.key);
        let value = &entry.value;
        match entry.key.as_str() {
            "id" => step.id = reader.string(value, &what),
            "name" => step.name = reader.string(value, &what),
            "if" if value.is_null() => {}
            "if" => step.condition = reader.condition(value, &what),
            "run" => step.run = reader.string(value, &what),
            "uses" => step.uses = reader.string(value, &what),
            "shell" => step.shell = reader.string(value, &what),
            "with" => step.with = reader.string_map(value, &what),
            "env" => step.env = shared::env(reader, value, place),
            "working-directory" => step.working_directory = reader.string(value, &what),
            "continue-on-error" => step.continue_on_error = reader.bool_or_expr(value, &what),
            "timeout-minutes" => step.timeout_minutes = reader.number_or_expr(value, &what),
            "background" => step.background = reader.bool(value, &what).unwrap_or(false),
            "wait" => {
                let ids = reader.string_list(value, &what).unwrap_or_default();
                if ids.is_empty() && !value.is_null() {
                    reader.error(value.span, format!("{what} must name at least one step"));
                }
                step.control = Some(StepControl::Wait(ids));
            }
            "wait-all" => {
                if !value.is_null() && reader.bool(value, &what) == Some(false) {
                    reader.error(value.span, format!("{what} must be `true` or empty"));
                }
                step.control = Some(StepControl::WaitAll);
            }
            "cancel" => {
                step.control = Some(StepControl::Cancel(
                    reader.string_list(value, &what).unwrap_or_default(),
                ));
            }
            _ => reader.unknown_key(entry, STEP_KEYS, place),
        }
    }
    let controls: Vec<&crate::yaml::Entry> = entries
        .iter()
        .filter(|entry| matches!(entry.key.as_str(), "wait" | "wait-all" | "cancel"))
        .collect();
    if let Some(first) = controls.first() {
        for extra in &controls[1..] {
            reader.error(
                extra.key_span,
                format!(
                    "{place} has both `{}` and `{}`; a step does one or the other",
                    first.key, extra.key
                ),
            );
        }
        for entry in entries {
            let key = entry.key.as_str();
            if !CONTROL_STEP_KEYS.contains(&key) && !matches!(key, "wait" | "wait-all" | "cancel") {
                reader.error(
                    entry.key_span,
                    format!(
                        "`{key}` is not allowed in {place}, which is a `{}` step",
                        first.key
                    ),
                );
            }
        }
        return Some(step);
    }
    match (key_span("run"), key_span("uses")) {
        (Some(_), Some(uses)) => reader.error(
            uses,
            format!("{place} has both `run` and `uses`; a step does one or the other"),
        ),
        (None, None) => reader.error(
            node.span,
            format!("{place} needs `run` or `uses` (or is a `wait`, `wait-all`, `cancel` or `parallel` step)"),
        ),
        (Some(_), None) => {
            if let Some(with) = key_span("with") {
                reader.error(
                    with,
                    format!("`with` is not allowed in {place}, which has `run` (it is for `uses`)"),
                );
            }
        }
        (None, Some(_)) => {
            for key in ["shell", "working-directory"] {
                if let Some(span) = key_span(key) {
                    reader.error(
                        span,
                        format!(
                            "`{key}` is not allowed in {place}, which has `uses` (it is for `run`)"
                        ),
                    );
                }
            }
        }
    }
    Some(step)
}
