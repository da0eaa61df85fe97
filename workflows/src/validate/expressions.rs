//! Every `${{ }}` in every string field of the workflow: is an expression allowed there, does it
//! parse (errors at the exact file position), are the contexts and special functions it uses
//! available at that key (`crate::contexts`), and do the names it reads exist — matrix keys of the
//! job's literal matrix, the job's direct `needs`, earlier step ids, declared inputs.

use std::collections::HashSet;

use serde_json::Value;

use crate::contexts::{self, ALL_CONTEXTS, Availability, NO_EXPRESSIONS};
use crate::expr::{Condition, Expr, ExprError, ExprErrorKind, Template};
use crate::model::{
    BoolOrExpr, Concurrency, Container, Job, Matrix, MatrixValues, NumberOrExpr, Step, Workflow,
};
use crate::span::{Span, Spanned};

use super::Checker;
use super::jobs::step_label;
use super::scan::{self, Reference};

pub(super) fn check(checker: &mut Checker, workflow: &Workflow) {
    let inputs = declared_inputs(workflow);
    let top = Scope {
        inputs: inputs.clone(),
        ..Scope::default()
    };
    let mut walker = Walker {
        checker,
        scope: top,
    };

    if let Some(name) = &workflow.name {
        walker.template("name", "name".into(), name);
    }
    if let Some(run_name) = &workflow.run_name {
        walker.template("run-name", "run-name".into(), run_name);
    }
    for (name, value) in &workflow.env {
        walker.template("env", format!("env.{name}"), value);
    }
    if let Some(defaults) = &workflow.defaults {
        if let Some(shell) = &defaults.shell {
            walker.template("defaults.run.shell", "defaults.run.shell".into(), shell);
        }
        if let Some(directory) = &defaults.working_directory {
            walker.template(
                "defaults.run.working-directory",
                "defaults.run.working-directory".into(),
                directory,
            );
        }
    }
    if let Some(concurrency) = &workflow.concurrency {
        walker.concurrency("concurrency", "concurrency", concurrency);
    }
    if let Some(crate::model::Permissions::Scopes(scopes)) = &workflow.permissions {
        for (scope, value) in scopes {
            walker.template("permissions", format!("permissions.{scope}"), value);
        }
    }
    if let Some(call) = workflow.on.events.get("workflow_call") {
        for (name, input) in &call.inputs {
            if let Some(Spanned {
                value: Value::String(text),
                span,
            }) = &input.default
            {
                let key = "on.workflow_call.inputs.<inputs_id>.default";
                walker.template(
                    key,
                    format!("on.workflow_call.inputs.{name}.default"),
                    &Spanned::new(text.clone(), *span),
                );
            }
        }
        for (name, output) in &call.outputs {
            let key = "on.workflow_call.outputs.<output_id>.value";
            walker.template(
                key,
                format!("on.workflow_call.outputs.{name}.value"),
                &output.value,
            );
        }
    }
    for job in workflow.jobs.values() {
        walker.scope = Scope::for_job(job, inputs.clone());
        walker.job(job);
    }
}

/// What names an expression may read at the place being checked. `None`: not checked.
#[derive(Debug, Clone, Default)]
struct Scope {
    job_id: Option<String>,
    /// Keys of the job's literal matrix (lowercase); `None` when the matrix is an expression.
    matrix_keys: Option<HashSet<String>>,
    /// The job's direct needs (lowercase).
    needs: Option<HashSet<String>>,
    /// Step ids that `steps.<id>` may name here (lowercase).
    steps: Option<HashSet<String>>,
    /// Declared inputs, when the workflow has an event that takes inputs.
    inputs: Option<Inputs>,
}

#[derive(Debug, Clone, Default)]
struct Inputs {
    /// Input names (lowercase) declared by `workflow_dispatch` and `workflow_call`.
    declared: HashSet<String>,
    /// Whether every event of the workflow takes inputs (then an undeclared name is surely wrong;
    /// otherwise it is empty for the other events, so only a warning).
    only_events_with_inputs: bool,
}

impl Scope {
    fn for_job(job: &Job, inputs: Option<Inputs>) -> Scope {
        Scope {
            job_id: Some(job.id.value.clone()),
            matrix_keys: matrix_keys(job),
            needs: Some(
                job.needs
                    .iter()
                    .map(|n| n.value.to_ascii_lowercase())
                    .collect(),
            ),
            steps: None,
            inputs,
        }
    }
}

struct Walker<'c, 'a> {
    checker: &'c mut Checker<'a>,
    scope: Scope,
}

impl Walker<'_, '_> {
    fn job(&mut self, job: &Job) {
        let id = job.id.value.as_str();
        let at = |key: &str| format!("jobs.{id}.{key}");
        let all_steps: HashSet<String> = job
            .steps
            .iter()
            .filter_map(|s| s.id.as_ref())
            .map(|i| i.value.to_ascii_lowercase())
            .collect();

        if let Some(name) = &job.name {
            self.template("jobs.<job_id>.name", at("name"), name);
        }
        if let Some(condition) = &job.condition {
            self.condition("jobs.<job_id>.if", at("if"), condition);
        }
        if let Some(runs_on) = &job.runs_on {
            for label in runs_on.group.iter().chain(&runs_on.labels) {
                self.template("jobs.<job_id>.runs-on", at("runs-on"), label);
            }
        }
        if let Some(environment) = &job.environment {
            self.template(
                "jobs.<job_id>.environment",
                at("environment"),
                &environment.name,
            );
            if let Some(url) = &environment.url {
                self.with_steps(Some(all_steps.clone()), |w| {
                    w.template("jobs.<job_id>.environment.url", at("environment.url"), url)
                });
            }
        }
        if let Some(concurrency) = &job.concurrency {
            self.concurrency("jobs.<job_id>.concurrency", &at("concurrency"), concurrency);
        }
        self.with_steps(Some(all_steps), |w| {
            for (name, value) in &job.outputs {
                w.template(
                    "jobs.<job_id>.outputs.<output_id>",
                    at(&format!("outputs.{name}")),
                    value,
                );
            }
        });
        for (name, value) in &job.env {
            self.template("jobs.<job_id>.env", at(&format!("env.{name}")), value);
        }
        if let Some(defaults) = &job.defaults {
            for (field, value) in [
                ("shell", &defaults.shell),
                ("working-directory", &defaults.working_directory),
            ] {
                if let Some(value) = value {
                    self.template(
                        "jobs.<job_id>.defaults.run",
                        at(&format!("defaults.run.{field}")),
                        value,
                    );
                }
            }
        }
        self.number(
            "jobs.<job_id>.timeout-minutes",
            at("timeout-minutes"),
            &job.timeout_minutes,
        );
        self.boolean(
            "jobs.<job_id>.continue-on-error",
            at("continue-on-error"),
            &job.continue_on_error,
        );
        if let Some(strategy) = &job.strategy {
            let key = "jobs.<job_id>.strategy";
            match &strategy.matrix {
                Some(Matrix::Expr(expression)) => {
                    self.template(key, at("strategy.matrix"), expression)
                }
                Some(Matrix::Map(matrix)) => {
                    let sections = matrix
                        .dimensions
                        .iter()
                        .map(|(name, values)| (name.as_str(), values))
                        .chain(matrix.include.iter().map(|values| ("include", values)))
                        .chain(matrix.exclude.iter().map(|values| ("exclude", values)));
                    for (name, values) in sections {
                        let path = at(&format!("strategy.matrix.{name}"));
                        match values {
                            MatrixValues::Expr(expression) => self.template(key, path, expression),
                            MatrixValues::List(list) => {
                                for value in &list.value {
                                    self.json(key, &path, value, list.span);
                                }
                            }
                        }
                    }
                }
                None => {}
            }
            self.boolean(key, at("strategy.fail-fast"), &strategy.fail_fast);
            self.number(key, at("strategy.max-parallel"), &strategy.max_parallel);
        }
        if let Some(container) = &job.container {
            self.container("jobs.<job_id>.container", &at("container"), container);
        }
        for (name, service) in &job.services {
            self.container(
                "jobs.<job_id>.services",
                &at(&format!("services.{name}")),
                service,
            );
        }
        if let Some(crate::model::Permissions::Scopes(scopes)) = &job.permissions {
            for (scope, value) in scopes {
                self.template(
                    "jobs.<job_id>.permissions",
                    at(&format!("permissions.{scope}")),
                    value,
                );
            }
        }
        for (name, value) in &job.with {
            self.json(
                "jobs.<job_id>.with.<with_id>",
                &at(&format!("with.{name}")),
                &value.value,
                value.span,
            );
        }
        if let Some(crate::model::CallSecrets::Map(secrets)) = &job.secrets {
            for (name, value) in secrets {
                self.template(
                    "jobs.<job_id>.secrets.<secrets_id>",
                    at(&format!("secrets.{name}")),
                    value,
                );
            }
        }
        let mut earlier = HashSet::new();
        for (index, step) in job.steps.iter().enumerate() {
            self.with_steps(Some(earlier.clone()), |w| w.step(id, index, step));
            if let Some(step_id) = &step.id {
                earlier.insert(step_id.value.to_ascii_lowercase());
            }
        }
    }

    fn step(&mut self, job_id: &str, index: usize, step: &Step) {
        let label = step_label(step, index);
        let at = |field: &str| format!("jobs.{job_id}.steps[{index}].{field} ({label})");
        if let Some(name) = &step.name {
            self.template("jobs.<job_id>.steps.name", at("name"), name);
        }
        if let Some(condition) = &step.condition {
            self.condition("jobs.<job_id>.steps.if", at("if"), condition);
        }
        if let Some(run) = &step.run {
            self.template("jobs.<job_id>.steps.run", at("run"), run);
        }
        if let Some(shell) = &step.shell {
            self.template("jobs.<job_id>.steps.shell", at("shell"), shell);
        }
        for (name, value) in &step.with {
            self.template(
                "jobs.<job_id>.steps.with",
                at(&format!("with.{name}")),
                value,
            );
        }
        for (name, value) in &step.env {
            self.template("jobs.<job_id>.steps.env", at(&format!("env.{name}")), value);
        }
        if let Some(directory) = &step.working_directory {
            self.template(
                "jobs.<job_id>.steps.working-directory",
                at("working-directory"),
                directory,
            );
        }
        self.boolean(
            "jobs.<job_id>.steps.continue-on-error",
            at("continue-on-error"),
            &step.continue_on_error,
        );
        self.number(
            "jobs.<job_id>.steps.timeout-minutes",
            at("timeout-minutes"),
            &step.timeout_minutes,
        );
    }

    fn container(&mut self, key: &str, path: &str, container: &Container) {
        self.template(
            &format!("{key}.image"),
            format!("{path}.image"),
            &container.image,
        );
        for value in container
            .ports
            .iter()
            .chain(&container.volumes)
            .chain(&container.options)
        {
            self.template(key, path.to_string(), value);
        }
        let prefix = if key.ends_with("services") {
            format!("{key}.<service_id>")
        } else {
            key.to_string()
        };
        for (name, value) in &container.credentials {
            self.template(
                &format!("{prefix}.credentials"),
                format!("{path}.credentials.{name}"),
                value,
            );
        }
        for (name, value) in &container.env {
            self.template(
                &format!("{prefix}.env.<env_id>"),
                format!("{path}.env.{name}"),
                value,
            );
        }
    }

    fn concurrency(&mut self, key: &str, path: &str, concurrency: &Concurrency) {
        self.template(key, format!("{path}.group"), &concurrency.group);
        self.boolean(
            key,
            format!("{path}.cancel-in-progress"),
            &concurrency.cancel_in_progress,
        );
    }

    fn with_steps(&mut self, steps: Option<HashSet<String>>, body: impl FnOnce(&mut Self)) {
        let saved = std::mem::replace(&mut self.scope.steps, steps);
        body(self);
        self.scope.steps = saved;
    }

    fn boolean(&mut self, key: &str, path: String, value: &Option<Spanned<BoolOrExpr>>) {
        if let Some(Spanned {
            value: BoolOrExpr::Expr(text),
            span,
        }) = value
        {
            self.template(key, path, &Spanned::new(text.clone(), *span));
        }
    }

    fn number(&mut self, key: &str, path: String, value: &Option<Spanned<NumberOrExpr>>) {
        if let Some(Spanned {
            value: NumberOrExpr::Expr(text),
            span,
        }) = value
        {
            self.template(key, path, &Spanned::new(text.clone(), *span));
        }
    }

    /// Strings anywhere inside a JSON value (matrix entries, reusable-workflow inputs).
    fn json(&mut self, key: &str, path: &str, value: &Value, span: Span) {
        match value {
            Value::String(text) => {
                let found = self.checker.map.find_value(span, text);
                self.template(key, path.to_string(), &Spanned::new(text.clone(), found));
            }
            Value::Array(items) => items
                .iter()
                .for_each(|item| self.json(key, path, item, span)),
            Value::Object(map) => map
                .values()
                .for_each(|item| self.json(key, path, item, span)),
            _ => {}
        }
    }

    /// A string that may hold `${{ }}` parts.
    fn template(&mut self, key: &str, path: String, value: &Spanned<String>) {
        if !value.value.contains("${{") {
            return;
        }
        let Some(availability) = self.allowed(key, &path, value) else {
            return;
        };
        if let Some(error) = Template::parse(&value.value).err().and_then(syntax_error) {
            let index = char_to_byte(&value.value, error.column);
            let span = self.checker.map.locate(value.span, &value.value, index);
            self.checker.error(
                span,
                format!("expression syntax error in `{path}`: {}", error.message),
            );
            return;
        }
        if !self.well_formed(&path, value) {
            return;
        }
        for part in scan::embedded_expressions(&value.value) {
            if part.closed {
                self.expression(availability, &path, value, &part.inner, part.inner_start);
            }
        }
    }

    /// `${{` without `}}`, and `${{ }}` with nothing inside, reported even when the expression
    /// parser has not said so. Returns whether the string is well formed.
    fn well_formed(&mut self, path: &str, value: &Spanned<String>) -> bool {
        for part in scan::embedded_expressions(&value.value) {
            let span = self
                .checker
                .map
                .locate(value.span, &value.value, part.start);
            if !part.closed {
                self.checker.error(
                    span,
                    format!("expression syntax error in `{path}`: `${{{{` is not closed by `}}}}`"),
                );
                return false;
            }
            if part.inner.trim().is_empty() {
                self.checker.error(
                    span,
                    format!("expression syntax error in `{path}`: an expression was expected"),
                );
                return false;
            }
        }
        true
    }

    /// An `if:` condition: a bare expression or one `${{ }}`.
    fn condition(&mut self, key: &str, path: String, value: &Spanned<String>) {
        let Some(availability) = self.allowed(key, &path, value) else {
            return;
        };
        let text = value.value.as_str();
        let parts = scan::embedded_expressions(text);
        // Exactly one `${{ }}` and nothing else: a trailing newline (a block scalar) already makes
        // the condition a non-empty string on GitHub.
        let whole = matches!(parts.as_slice(), [only] if only.start == 0 && only.closed && only.end == text.len());
        if !parts.is_empty() && !whole {
            let span = self.checker.map.locate(value.span, text, 0);
            self.checker.warning(
                span,
                format!(
                    "`{path}` mixes `${{{{ }}}}` with other text, so GitHub reads it as a non-empty string, which is \
                     always true; put the whole condition inside one `${{{{ }}}}` or drop the braces"
                ),
            );
            self.template(key, path, value);
            return;
        }
        if let Some(error) = Condition::parse(text).err().and_then(syntax_error) {
            let index = char_to_byte(text, error.column);
            let span = self.checker.map.locate(value.span, text, index);
            self.checker.error(
                span,
                format!("expression syntax error in `{path}`: {}", error.message),
            );
            return;
        }
        match parts.first() {
            Some(only) if whole => {
                self.expression(availability, &path, value, &only.inner, only.inner_start)
            }
            _ => self.expression(availability, &path, value, text, 0),
        }
    }

    /// Whether expressions are allowed at `key`; reports the first `${{` when they are not.
    fn allowed(
        &mut self,
        key: &str,
        path: &str,
        value: &Spanned<String>,
    ) -> Option<&'static Availability> {
        let availability = contexts::availability(key);
        if availability.is_none() || NO_EXPRESSIONS.contains(&key) {
            if value.value.contains("${{") {
                // At the value's start, where GitHub reports it.
                self.checker.error(
                    value.span,
                    format!("a template expression is not allowed in `{path}`"),
                );
            }
            return None;
        }
        availability
    }

    /// One expression's contexts, functions and names.
    fn expression(
        &mut self,
        availability: &Availability,
        path: &str,
        value: &Spanned<String>,
        inner: &str,
        offset: usize,
    ) {
        let (references, calls) = scan::references(inner);
        let mut reported = HashSet::new();
        let parsed_contexts = Expr::parse(inner)
            .map(|e| e.referenced_contexts())
            .unwrap_or_default();
        let mut names: Vec<(String, usize)> = references
            .iter()
            .map(|r| (r.context.clone(), r.offset))
            .collect();
        for context in parsed_contexts {
            if !names
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(&context))
            {
                names.push((context.to_ascii_lowercase(), 0));
            }
        }
        for (name, at) in names {
            if !reported.insert(name.clone()) {
                continue;
            }
            let span = self
                .checker
                .map
                .locate(value.span, &value.value, offset + at);
            if !ALL_CONTEXTS.contains(&name.as_str()) {
                self.checker
                    .error(span, format!("unknown context `{name}` in `{path}`"));
            } else if !availability.allows_context(&name) {
                let available = if availability.contexts.is_empty() {
                    "no context is available there".to_string()
                } else {
                    format!("available: {}", availability.contexts.join(", "))
                };
                self.checker.error(
                    span,
                    format!("context `{name}` is not available in `{path}`; {available}"),
                );
            }
        }
        for call in &calls {
            // Job names in `success(...)` / `failure(...)` are a job-level `if:` feature (GitHub's
            // schema: `success(0,MAX)` there, `success(0,0)` everywhere else).
            let named_status = matches!(call.name.as_str(), "success" | "failure")
                && availability.key != "jobs.<job_id>.if"
                && inner
                    .get(call.offset + call.name.len()..)
                    .and_then(|rest| rest.trim_start().strip_prefix('('))
                    .is_some_and(|args| !args.trim_start().starts_with(')'));
            if named_status {
                let span = self
                    .checker
                    .map
                    .locate(value.span, &value.value, offset + call.offset);
                self.checker.error(
                    span,
                    format!(
                        "`{}(...)` takes job names only in a job's `if`, not in `{path}`",
                        call.name
                    ),
                );
            }
            let special = contexts::SPECIAL_FUNCTIONS.contains(&call.name.as_str());
            if special && !availability.allows_function(&call.name) {
                let span = self
                    .checker
                    .map
                    .locate(value.span, &value.value, offset + call.offset);
                self.checker.error(
                    span,
                    format!("function `{}` is not available in `{path}`", call.name),
                );
            }
        }
        for reference in &references {
            if availability.allows_context(&reference.context) {
                self.names(reference, path, value, offset);
            }
        }
    }

    /// `matrix.X`, `needs.X`, `steps.X`, `inputs.X` naming something that does not exist.
    fn names(&mut self, reference: &Reference, path: &str, value: &Spanned<String>, offset: usize) {
        let Some((property, at)) = &reference.property else {
            return;
        };
        let lower = property.to_ascii_lowercase();
        let span = self
            .checker
            .map
            .locate(value.span, &value.value, offset + at);
        let job = self.scope.job_id.clone().unwrap_or_default();
        let listed = |set: &HashSet<String>| {
            let mut names: Vec<&str> = set.iter().map(String::as_str).collect();
            names.sort_unstable();
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        };
        match reference.context.as_str() {
            "matrix" => {
                if let Some(keys) = &self.scope.matrix_keys
                    && !keys.contains(&lower)
                {
                    let known = listed(keys);
                    self.checker.warning(
                        span,
                        format!("`matrix.{property}` in `{path}`: the matrix of job `{job}` has no key `{property}` (keys: {known})"),
                    );
                }
            }
            "needs" => {
                if let Some(needs) = &self.scope.needs
                    && !needs.contains(&lower)
                {
                    let known = listed(needs);
                    self.checker.warning(
                        span,
                        format!("`needs.{property}` in `{path}`: job `{job}` does not directly need `{property}` (needs: {known})"),
                    );
                }
            }
            "steps" => {
                if let Some(steps) = &self.scope.steps
                    && !steps.contains(&lower)
                {
                    let known = listed(steps);
                    self.checker.warning(
                        span,
                        format!("`steps.{property}` in `{path}`: no step with id `{property}` runs before this point in job `{job}` (earlier ids: {known})"),
                    );
                }
            }
            "inputs" => {
                if let Some(inputs) = &self.scope.inputs
                    && !inputs.declared.contains(&lower)
                {
                    let known = listed(&inputs.declared);
                    let message = format!(
                        "`inputs.{property}` in `{path}`: no input `{property}` is declared (inputs: {known})"
                    );
                    if inputs.only_events_with_inputs {
                        self.checker.error(span, message);
                    } else {
                        self.checker.warning(span, message);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Inputs declared by `workflow_dispatch` and `workflow_call`, when at least one of them is an
/// event of the workflow (without them, `inputs` is empty and names are not checked).
fn declared_inputs(workflow: &Workflow) -> Option<Inputs> {
    let events: Vec<_> = ["workflow_dispatch", "workflow_call"]
        .iter()
        .filter_map(|name| workflow.on.events.get(*name))
        .collect();
    if events.is_empty() {
        return None;
    }
    Some(Inputs {
        declared: events
            .iter()
            .flat_map(|event| event.inputs.keys())
            .map(|name| name.to_ascii_lowercase())
            .collect(),
        only_events_with_inputs: events.len() == workflow.on.events.len(),
    })
}

/// Keys of the job's literal matrix (dimensions plus keys `include` adds); `None` when any part is
/// an expression. A job without a matrix has no keys.
fn matrix_keys(job: &Job) -> Option<HashSet<String>> {
    let Some(matrix) = job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) else {
        return Some(HashSet::new());
    };
    let Matrix::Map(matrix) = matrix else {
        return None;
    };
    let mut keys: HashSet<String> = matrix
        .dimensions
        .keys()
        .map(|k| k.to_ascii_lowercase())
        .collect();
    match &matrix.include {
        Some(MatrixValues::Expr(_)) => return None,
        Some(MatrixValues::List(list)) => {
            for entry in &list.value {
                match entry {
                    Value::Object(map) => keys.extend(map.keys().map(|k| k.to_ascii_lowercase())),
                    _ => return None,
                }
            }
        }
        None => {}
    }
    Some(keys)
}

/// Only lexing and parsing errors are syntax errors; an evaluation error cannot come from parsing
/// (the expression module reports "not available" that way while it is a stub), so it is ignored.
fn syntax_error(error: ExprError) -> Option<ExprError> {
    match error.kind {
        ExprErrorKind::Lexing | ExprErrorKind::Parsing => Some(error),
        ExprErrorKind::Evaluation => None,
    }
}

fn char_to_byte(text: &str, column: usize) -> usize {
    text.char_indices()
        .nth(column)
        .map_or(text.len(), |(byte, _)| byte)
}
