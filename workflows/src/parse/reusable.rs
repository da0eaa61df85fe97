//! Reusable workflows as data: what a job's `uses:` names, loading the called workflows (through a
//! [`WorkflowSource`] the caller implements, so this crate stays free of I/O), and the rules a call
//! must follow against the called workflow's `on.workflow_call` (declared inputs with their types,
//! required inputs and secrets, nesting depth, the number of distinct workflows, cycles).
//!
//! Every finding about a call points at the caller's file, line and column (the `uses:`, `with:`
//! or `secrets:` value at fault); errors inside a called file point into that file. What can only
//! be known when the call runs (values written as `${{ }}`) is checked by [`coerce_input`] then.
//! This module never runs anything and never evaluates an expression.

use indexmap::IndexMap;

use crate::diagnostic::Diagnostic;
use crate::model::{CallSecrets, EventTrigger, InputType, Job, Permissions, Workflow};

/// GitHub connects at most ten levels of workflows: the top-level caller and nine levels of
/// reusable workflows ("Nesting reusable workflows", GitHub docs).
pub const MAX_WORKFLOW_LEVELS: usize = 10;

/// GitHub allows at most 50 distinct reusable workflows in the tree of one top-level workflow
/// (raised from 20 in 2025).
pub const MAX_CALLED_WORKFLOWS: usize = 50;

/// What a job's `uses:` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallTarget {
    /// `./.github/workflows/x.yml`: a file of the same repository at the same commit; `path` has
    /// no leading `./`.
    Local {
        /// The file's path from the repository root, e.g. `.github/workflows/x.yml`.
        path: String,
    },
    /// `owner/repo/.github/workflows/x.yml@ref`, as written.
    Remote {
        /// The whole `uses:` value, e.g. `owner/repo/.github/workflows/x.yml@v1`.
        reference: String,
    },
}

impl CallTarget {
    /// The target of a `uses:` value.
    pub fn of(uses: &str) -> CallTarget {
        let uses = uses.trim();
        match uses.strip_prefix("./") {
            Some(path) => CallTarget::Local {
                path: path.trim_start_matches("./").to_string(),
            },
            None => CallTarget::Remote {
                reference: uses.to_string(),
            },
        }
    }

    /// The key a loaded workflow is kept under (and its file name in diagnostics): the path of a
    /// local workflow, the reference of a remote one.
    pub fn key(&self) -> &str {
        match self {
            CallTarget::Local { path } => path,
            CallTarget::Remote { reference } => reference,
        }
    }
}

/// Where called workflows come from: `slipway run` reads the working tree, the engine the run's
/// commit. `Err` is a message that reads after "cannot load the called workflow: ".
pub trait WorkflowSource {
    /// The text of the workflow file `target` names; `Err` is a message explaining why it cannot
    /// be loaded.
    fn read(&mut self, target: &CallTarget) -> Result<String, String>;

    /// The repository's default `GITHUB_TOKEN` permissions, granted to a caller that sets none;
    /// `None` when unknown (the calls' permissions are then checked only against explicit ones).
    fn default_permissions(&self) -> Option<Permissions> {
        None
    }

    /// How many levels of workflows may connect (GitHub's [`MAX_WORKFLOW_LEVELS`]; a test source
    /// may set a lower one).
    fn max_workflow_levels(&self) -> usize {
        MAX_WORKFLOW_LEVELS
    }
}

/// The message a source gives for a remote reusable workflow while action mirrors cannot serve
/// one.
pub fn remote_unsupported(reference: &str) -> String {
    format!(
        "remote reusable workflows need an action mirror: `{reference}` is not in this repository \
         (call a copy of it as `./.github/workflows/<file>.yml`)"
    )
}

/// Every workflow reachable through calls from `root`, keyed by [`CallTarget::key`], plus every
/// diagnostic of loading and checking them. A call that cannot be loaded is left out of the map
/// (its error is among the diagnostics).
pub fn load_called(
    root: &Workflow,
    source: &mut dyn WorkflowSource,
) -> (IndexMap<String, Workflow>, Vec<Diagnostic>) {
    let mut loader = Loader {
        source,
        loaded: IndexMap::new(),
        failed: IndexMap::new(),
        deepest: IndexMap::new(),
        diagnostics: Vec::new(),
    };
    loader.visit(root, &mut vec![root.file.clone()]);
    (loader.loaded, loader.diagnostics)
}

/// The findings of one call job against the workflow it calls, at the caller's positions:
/// the called workflow must have `on.workflow_call`; every `with:` key must be a declared input
/// whose type a literal value fits; every required input and (unless `inherit`) every required
/// secret must be given; every passed secret must be declared.
pub fn check_call(
    caller_file: &str,
    job: &Job,
    target: &str,
    called: &Workflow,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let Some(uses) = &job.uses else {
        return diagnostics;
    };
    let id = &job.id.value;
    let Some(call) = called.on.events.get("workflow_call") else {
        diagnostics.push(Diagnostic::error(
            caller_file,
            uses.span,
            format!("job `{id}` calls `{target}`, which is not a reusable workflow: its `on:` has no `workflow_call`"),
        ));
        return diagnostics;
    };
    for (name, value) in &job.with {
        let Some(input) = declared_input(call, name) else {
            diagnostics.push(Diagnostic::error(
                caller_file,
                value.span,
                format!(
                    "input `{name}` in `with` of job `{id}` is not declared by `on.workflow_call.inputs` of `{target}`{}",
                    known_names(call.inputs.keys())
                ),
            ));
            continue;
        };
        if let serde_json::Value::String(text) = &value.value
            && text.contains("${{")
        {
            continue;
        }
        if let Err(message) = coerce_input(input.kind, &value.value) {
            diagnostics.push(Diagnostic::error(
                caller_file,
                value.span,
                format!("input `{name}` in `with` of job `{id}`: {message}"),
            ));
        }
    }
    for (name, input) in &call.inputs {
        let given = job.with.keys().any(|key| key.eq_ignore_ascii_case(name));
        if input.required && !given {
            diagnostics.push(Diagnostic::error(
                caller_file,
                uses.span,
                format!("job `{id}` calls `{target}` without its required input `{name}` (add it under `with`)"),
            ));
        }
    }
    // Slipway holds concurrency groups for runs and for jobs it hands out; a call is neither yet.
    if let Some(concurrency) = &job.concurrency {
        diagnostics.push(Diagnostic::warning(
            caller_file,
            concurrency.group.span,
            format!("the `concurrency` of job `{id}`, which calls a reusable workflow, is not applied by Slipway yet (put it on the called jobs)"),
        ));
    }
    if called.concurrency.is_some() {
        diagnostics.push(Diagnostic::warning(
            caller_file,
            uses.span,
            format!("the workflow-level `concurrency` of `{target}` is not applied when it is called (Slipway applies its jobs' `concurrency`)"),
        ));
    }
    match &job.secrets {
        Some(CallSecrets::Inherit) => {}
        Some(CallSecrets::Map(passed)) => {
            for (name, value) in passed {
                if !call
                    .secrets
                    .keys()
                    .any(|declared| declared.eq_ignore_ascii_case(name))
                {
                    diagnostics.push(Diagnostic::error(
                        caller_file,
                        value.span,
                        format!(
                            "secret `{name}` in `secrets` of job `{id}` is not declared by `on.workflow_call.secrets` of `{target}`{}",
                            known_names(call.secrets.keys())
                        ),
                    ));
                }
            }
            missing_secrets(&mut diagnostics, caller_file, job, target, call, |name| {
                passed.keys().any(|key| key.eq_ignore_ascii_case(name))
            });
        }
        None => missing_secrets(&mut diagnostics, caller_file, job, target, call, |_| false),
    }
    diagnostics
}

/// The `GITHUB_TOKEN` permissions a called workflow and its jobs request, against what the
/// caller grants (the call job's `permissions:`, else the caller workflow's, else the
/// repository's `default`): a called workflow can keep or lower them, never raise them. Findings
/// point at the call job. With none of the three known, nothing is checked.
pub fn check_call_permissions(
    caller: &Workflow,
    job: &Job,
    target: &str,
    called: &Workflow,
    default: Option<&Permissions>,
) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let Some(allowed) = job
        .permissions
        .as_ref()
        .or(caller.permissions.as_ref())
        .or(default)
    else {
        return diagnostics;
    };
    let mut requests: Vec<(String, &Permissions)> = Vec::new();
    if let Some(permissions) = &called.permissions {
        requests.push((format!("the workflow `{target}`"), permissions));
    }
    for (id, called_job) in &called.jobs {
        if let Some(permissions) = &called_job.permissions {
            let name = called_job
                .name
                .as_ref()
                .map_or(id.as_str(), |name| name.value.as_str());
            requests.push((format!("the called job `{name}`"), permissions));
        }
    }
    for (who, requested) in requests {
        for scope in PERMISSION_SCOPES {
            let wanted = permission_level(requested, scope);
            let granted = permission_level(allowed, scope);
            if wanted > granted {
                diagnostics.push(Diagnostic::error(
                    &caller.file,
                    job.id.span,
                    format!(
                        "job `{}` calls `{target}`: {who} requests `{scope}: {}`, but the caller allows only `{scope}: {}`",
                        job.id.value,
                        LEVELS[wanted],
                        LEVELS[granted]
                    ),
                ));
            }
        }
    }
    diagnostics
}

/// The `GITHUB_TOKEN` permission scopes GitHub documents.
const PERMISSION_SCOPES: &[&str] = &[
    "actions",
    "attestations",
    "checks",
    "contents",
    "deployments",
    "discussions",
    "id-token",
    "issues",
    "models",
    "packages",
    "pages",
    "pull-requests",
    "repository-projects",
    "security-events",
    "statuses",
];

const LEVELS: [&str; 3] = ["none", "read", "write"];

/// 0 none, 1 read, 2 write. `read-all`/`write-all` cover every scope but `id-token`, which only
/// `write-all` grants (as write) and `read-all` leaves at none.
fn permission_level(permissions: &Permissions, scope: &str) -> usize {
    match permissions {
        Permissions::ReadAll if scope == "id-token" => 0,
        Permissions::ReadAll => 1,
        Permissions::WriteAll => 2,
        Permissions::Scopes(scopes) => scopes
            .get(scope)
            .and_then(|level| LEVELS.iter().position(|known| *known == level.value))
            .unwrap_or(0),
    }
}

/// A call's input value turned into the declared type, as GitHub accepts it: a `boolean` takes
/// `true`/`false` (also as text), a `number` a number (also as numeric text), a `string` any
/// scalar (`null` becomes empty, numbers and booleans their text). `Err` says what was wrong.
pub fn coerce_input(
    kind: InputType,
    value: &serde_json::Value,
) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    match (kind, value) {
        (InputType::Boolean, Value::Bool(_)) | (InputType::Number, Value::Number(_)) => {
            Ok(value.clone())
        }
        (InputType::Boolean, Value::String(text)) if text.eq_ignore_ascii_case("true") => {
            Ok(Value::Bool(true))
        }
        (InputType::Boolean, Value::String(text)) if text.eq_ignore_ascii_case("false") => {
            Ok(Value::Bool(false))
        }
        (InputType::Number, Value::String(text)) => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|number| number.is_finite())
            .and_then(|number| {
                if number.fract() == 0.0 && number.abs() < 9.0e15 {
                    Some(Value::from(number as i64))
                } else {
                    serde_json::Number::from_f64(number).map(Value::Number)
                }
            })
            .ok_or_else(|| format!("expected a number, got `{text}`")),
        (InputType::Boolean, other) => Err(format!("expected a boolean, got `{}`", shown(other))),
        (InputType::Number, other) => Err(format!("expected a number, got `{}`", shown(other))),
        (_, Value::Null) => Ok(Value::String(String::new())),
        (_, Value::String(_)) => Ok(value.clone()),
        (_, Value::Bool(_) | Value::Number(_)) => Ok(Value::String(value.to_string())),
        (_, other) => Err(format!("expected a string, got `{}`", shown(other))),
    }
}

/// The declared input `name` of a `workflow_call` trigger (names compare case-insensitively).
pub fn declared_input<'a>(call: &'a EventTrigger, name: &str) -> Option<&'a crate::model::Input> {
    call.inputs
        .iter()
        .find(|(declared, _)| declared.eq_ignore_ascii_case(name))
        .map(|(_, input)| input)
}

struct Loader<'s> {
    source: &'s mut dyn WorkflowSource,
    loaded: IndexMap<String, Workflow>,
    /// Targets that could not be loaded, so each is reported once.
    failed: IndexMap<String, ()>,
    /// The deepest level each loaded workflow was reached at: a workflow is walked again only
    /// when reached deeper (its own calls may then pass the level limit).
    deepest: IndexMap<String, usize>,
    diagnostics: Vec<Diagnostic>,
}

impl Loader<'_> {
    /// Loads and checks the calls of `workflow`, which sits at level `chain.len()` (`chain` holds
    /// the keys from the top-level file down to `workflow`).
    fn visit(&mut self, workflow: &Workflow, chain: &mut Vec<String>) {
        for job in workflow.jobs.values() {
            let Some(uses) = &job.uses else { continue };
            if uses.value.contains("${{") {
                continue; // the validator reports it
            }
            let target = CallTarget::of(&uses.value);
            let key = target.key().to_string();
            let id = &job.id.value;
            if chain.contains(&key) {
                self.diagnostics.push(Diagnostic::error(
                    &workflow.file,
                    uses.span,
                    format!(
                        "job `{id}` calls `{key}`, which is already being called: a cycle of reusable workflows ({} → {key})",
                        chain.join(" → ")
                    ),
                ));
                continue;
            }
            let level = chain.len() + 1;
            let max_levels = self.source.max_workflow_levels();
            if level > max_levels {
                self.diagnostics.push(Diagnostic::error(
                    &workflow.file,
                    uses.span,
                    format!(
                        "job `{id}` calls `{key}` at level {level}: reusable workflows connect at most {max_levels} levels of workflows ({})",
                        chain.join(" → ")
                    ),
                ));
                continue;
            }
            let Some(called) = self.load(&target, workflow, job) else {
                continue;
            };
            self.diagnostics
                .extend(check_call(&workflow.file, job, &key, &called));
            self.diagnostics.extend(check_call_permissions(
                workflow,
                job,
                &key,
                &called,
                self.source.default_permissions().as_ref(),
            ));
            if self
                .deepest
                .get(&key)
                .is_some_and(|deepest| *deepest >= level)
            {
                continue;
            }
            self.deepest.insert(key.clone(), level);
            chain.push(key);
            self.visit(&called, chain);
            chain.pop();
        }
    }

    /// The called workflow, read and parsed once; `None` (with an error at the caller's `uses`)
    /// when it cannot be read, is invalid or is one too many.
    fn load(&mut self, target: &CallTarget, caller: &Workflow, job: &Job) -> Option<Workflow> {
        let key = target.key();
        if let Some(workflow) = self.loaded.get(key) {
            return Some(workflow.clone());
        }
        if self.failed.contains_key(key) {
            return None;
        }
        let uses_span = job.uses.as_ref().map(|uses| uses.span).unwrap_or(job.span);
        let id = &job.id.value;
        let fail = |loader: &mut Self, message: String| {
            loader
                .diagnostics
                .push(Diagnostic::error(&caller.file, uses_span, message));
            loader.failed.insert(key.to_string(), ());
            None
        };
        if self.loaded.len() >= MAX_CALLED_WORKFLOWS {
            return fail(
                self,
                format!(
                    "job `{id}` calls `{key}`: a workflow may use at most {MAX_CALLED_WORKFLOWS} distinct reusable workflows, nested calls included"
                ),
            );
        }
        let text = match self.source.read(target) {
            Ok(text) => text,
            Err(message) => {
                return fail(
                    self,
                    format!("job `{id}` calls `{key}`: cannot load the called workflow: {message}"),
                );
            }
        };
        let parsed = crate::parse::parse_workflow(key, &text);
        let errors: Vec<Diagnostic> = parsed
            .diagnostics
            .into_iter()
            .filter(Diagnostic::is_error)
            .collect();
        match parsed.workflow {
            Some(workflow) if errors.is_empty() => {
                self.loaded.insert(key.to_string(), workflow.clone());
                Some(workflow)
            }
            _ => {
                let count = errors.len().max(1);
                self.diagnostics.extend(errors);
                fail(
                    self,
                    format!(
                        "job `{id}` calls `{key}`, which is not a valid workflow ({count} error(s) in it)"
                    ),
                )
            }
        }
    }
}

fn missing_secrets(
    diagnostics: &mut Vec<Diagnostic>,
    caller_file: &str,
    job: &Job,
    target: &str,
    call: &EventTrigger,
    given: impl Fn(&str) -> bool,
) {
    let Some(uses) = &job.uses else { return };
    for (name, secret) in &call.secrets {
        if secret.required && !given(name) {
            diagnostics.push(Diagnostic::error(
                caller_file,
                uses.span,
                format!(
                    "job `{}` calls `{target}` without its required secret `{name}` (add it under `secrets`, or `secrets: inherit`)",
                    job.id.value
                ),
            ));
        }
    }
}

fn known_names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<String> = names.map(|name| format!("`{name}`")).collect();
    if names.is_empty() {
        " (it declares none)".to_string()
    } else {
        format!(" (declared: {})", names.join(", "))
    }
}

fn shown(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Files(Vec<(&'static str, &'static str)>);

    impl WorkflowSource for Files {
        fn read(&mut self, target: &CallTarget) -> Result<String, String> {
            match target {
                CallTarget::Remote { reference } => Err(remote_unsupported(reference)),
                CallTarget::Local { path } => self
                    .0
                    .iter()
                    .find(|(name, _)| name == path)
                    .map(|(_, text)| text.to_string())
                    .ok_or_else(|| format!("`{path}` does not exist")),
            }
        }
    }

    fn load(root: &str, files: Vec<(&'static str, &'static str)>) -> Vec<String> {
        let parsed = crate::parse::parse_workflow(".github/workflows/root.yml", root);
        let workflow = parsed.workflow.expect("root parses");
        let (_, diagnostics) = load_called(&workflow, &mut Files(files));
        diagnostics.iter().map(ToString::to_string).collect()
    }

    const CALLED: &str = "on:\n  workflow_call:\n    inputs:\n      flag:\n        type: boolean\n        required: true\n      n:\n        type: number\n        default: 2\n    secrets:\n      token:\n        required: true\njobs:\n  build:\n    runs-on: x\n    steps:\n      - run: echo\n";

    #[test]
    fn a_good_call_loads_clean() {
        let root = "on: push\njobs:\n  call:\n    uses: ./.github/workflows/called.yml\n    with:\n      flag: ${{ github.ref == 'x' }}\n      n: 3\n    secrets:\n      token: abc\n";
        assert_eq!(
            load(root, vec![(".github/workflows/called.yml", CALLED)]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn call_errors_point_at_the_caller() {
        let root = "on: push\njobs:\n  call:\n    uses: ./.github/workflows/called.yml\n    with:\n      n: many\n      other: 1\n    secrets:\n      nope: x\n";
        let found = load(root, vec![(".github/workflows/called.yml", CALLED)]);
        let expect = [
            ".github/workflows/root.yml:6:10: error: input `n` in `with` of job `call`: expected a number, got `many`",
            ".github/workflows/root.yml:7:14: error: input `other` in `with` of job `call` is not declared",
            ".github/workflows/root.yml:4:11: error: job `call` calls `.github/workflows/called.yml` without its required input `flag`",
            ".github/workflows/root.yml:9:13: error: secret `nope` in `secrets` of job `call` is not declared",
            ".github/workflows/root.yml:4:11: error: job `call` calls `.github/workflows/called.yml` without its required secret `token`",
        ];
        assert_eq!(found.len(), expect.len(), "{found:#?}");
        for (found, expect) in found.iter().zip(expect) {
            assert!(found.starts_with(expect), "{found}\nexpected {expect}");
        }
    }

    #[test]
    fn missing_files_remote_calls_and_plain_workflows_are_errors() {
        let root = "on: push\njobs:\n  a:\n    uses: ./.github/workflows/missing.yml\n  b:\n    uses: o/r/.github/workflows/x.yml@v1\n  c:\n    uses: ./.github/workflows/plain.yml\n";
        let found = load(
            root,
            vec![(
                ".github/workflows/plain.yml",
                "on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: echo\n",
            )],
        );
        assert_eq!(found.len(), 3, "{found:#?}");
        assert!(
            found[0].contains(
                "4:11: error: job `a` calls `.github/workflows/missing.yml`: cannot load"
            )
        );
        assert!(found[1].contains("6:11: error: job `b` calls `o/r/.github/workflows/x.yml@v1`: cannot load the called workflow: remote reusable workflows need an action mirror"));
        assert!(found[2].contains("8:11: error: job `c` calls `.github/workflows/plain.yml`, which is not a reusable workflow"));
    }

    #[test]
    fn cycles_and_depth_are_refused() {
        let cycle = "on: workflow_call\njobs:\n  again:\n    uses: ./.github/workflows/a.yml\n";
        let root = "on: push\njobs:\n  call:\n    uses: ./.github/workflows/a.yml\n";
        let found = load(root, vec![(".github/workflows/a.yml", cycle)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].starts_with(".github/workflows/a.yml:4:11: error: job `again` calls `.github/workflows/a.yml`, which is already being called"), "{}", found[0]);

        let chain: Vec<(&'static str, &'static str)> = (1..=10)
            .map(|level| {
                let name: &'static str =
                    Box::leak(format!(".github/workflows/l{level}.yml").into_boxed_str());
                let text: &'static str = Box::leak(
                    format!("on: workflow_call\njobs:\n  next:\n    uses: ./.github/workflows/l{}.yml\n", level + 1)
                        .into_boxed_str(),
                );
                (name, text)
            })
            .collect();
        let root = "on: push\njobs:\n  call:\n    uses: ./.github/workflows/l1.yml\n";
        let found = load(root, chain);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].starts_with(".github/workflows/l9.yml:4:11: error: job `next` calls `.github/workflows/l10.yml` at level 11"), "{}", found[0]);
    }

    #[test]
    fn a_called_workflow_cannot_raise_the_callers_permissions() {
        let called = "on: workflow_call\npermissions:\n  contents: read\njobs:\n  deploy:\n    name: Deploy\n    permissions:\n      actions: write\n    runs-on: x\n    steps:\n      - run: echo\n";
        let root = "on: push\npermissions:\n  contents: write\njobs:\n  call:\n    permissions:\n      actions: read\n      contents: read\n    uses: ./.github/workflows/c.yml\n";
        let found = load(root, vec![(".github/workflows/c.yml", called)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].starts_with(".github/workflows/root.yml:5:3: error: job `call` calls `.github/workflows/c.yml`: the called job `Deploy` requests `actions: write`, but the caller allows only `actions: read`"), "{}", found[0]);
        // Without the job's own permissions the workflow's apply: `actions` is then `none`.
        let root = "on: push\npermissions:\n  contents: write\njobs:\n  call:\n    uses: ./.github/workflows/c.yml\n";
        let found = load(root, vec![(".github/workflows/c.yml", called)]);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(
            found[0].contains("but the caller allows only `actions: none`"),
            "{}",
            found[0]
        );
        // A caller that says nothing leaves the repository's default in charge: unchecked here.
        let root = "on: push\njobs:\n  call:\n    uses: ./.github/workflows/c.yml\n";
        assert!(load(root, vec![(".github/workflows/c.yml", called)]).is_empty());
    }

    #[test]
    fn at_most_fifty_distinct_workflows_are_called() {
        let leaf =
            "on: workflow_call\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: echo\n";
        let mut root = String::from("on: push\njobs:\n");
        let mut files = Vec::new();
        for index in 0..=MAX_CALLED_WORKFLOWS {
            root.push_str(&format!(
                "  c{index}:\n    uses: ./.github/workflows/w{index}.yml\n"
            ));
            let name: &'static str =
                Box::leak(format!(".github/workflows/w{index}.yml").into_boxed_str());
            files.push((name, leaf));
        }
        let root: &'static str = Box::leak(root.into_boxed_str());
        let found = load(root, files);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("job `c50` calls `.github/workflows/w50.yml`: a workflow may use at most 50 distinct reusable workflows"), "{}", found[0]);
    }

    #[test]
    fn concurrency_a_call_cannot_hold_yet_is_a_warning() {
        let called = "on: workflow_call\nconcurrency: deploy\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: echo\n";
        let root = "on: push\njobs:\n  call:\n    concurrency: mine\n    uses: ./.github/workflows/c.yml\n";
        let parsed = crate::parse::parse_workflow(".github/workflows/root.yml", root);
        let workflow = parsed.workflow.expect("root parses");
        let (_, found) = load_called(
            &workflow,
            &mut Files(vec![(".github/workflows/c.yml", called)]),
        );
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{shown:#?}");
        assert!(found.iter().all(|d| !d.is_error()), "{shown:#?}");
        assert!(
            shown[0].starts_with(
                ".github/workflows/root.yml:4:18: warning: the `concurrency` of job `call`"
            ),
            "{}",
            shown[0]
        );
        assert!(
            shown[1].starts_with(
                ".github/workflows/root.yml:5:11: warning: the workflow-level `concurrency`"
            ),
            "{}",
            shown[1]
        );
    }

    #[test]
    fn inputs_coerce_as_github_does() {
        assert_eq!(coerce_input(InputType::String, &json!(null)), Ok(json!("")));
        assert_eq!(
            coerce_input(InputType::String, &json!(456)),
            Ok(json!("456"))
        );
        assert_eq!(
            coerce_input(InputType::String, &json!(true)),
            Ok(json!("true"))
        );
        assert_eq!(
            coerce_input(InputType::Boolean, &json!("TRUE")),
            Ok(json!(true))
        );
        assert_eq!(coerce_input(InputType::Number, &json!("1")), Ok(json!(1)));
        assert_eq!(
            coerce_input(InputType::Number, &json!("1.5")),
            Ok(json!(1.5))
        );
        assert!(coerce_input(InputType::Boolean, &json!("yes")).is_err());
        assert!(coerce_input(InputType::Number, &json!(true)).is_err());
        assert!(coerce_input(InputType::String, &json!([1])).is_err());
    }
}
