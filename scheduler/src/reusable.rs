//! Reusable-workflow calls at run time: a job with `uses: ./.github/workflows/x.yml` runs, per
//! leg of its matrix, a nested run of the called workflow inside the caller's run.
//!
//! The called workflows are loaded before the run is planned (`load_called`, through a
//! `workflows::parse::reusable::WorkflowSource`: `slipway run` reads the working tree, the engine
//! the run's commit) and travel in `RunInput::called`. When a call leg is handed out, this module
//! builds the nested run's input: the `inputs` context from `with:` (evaluated over the caller's
//! contexts, typed and defaulted as `on.workflow_call.inputs` declares), the `secrets` passed (or
//! inherited), the caller's `vars` and `github` (event, ref, sha) with `job_workflow_ref` naming the
//! called file, and the job keys and names prefixed as GitHub shows them (`call / build`). When the
//! nested run finishes, its `on.workflow_call.outputs` become the call leg's outputs.
//!
//! Pure like the rest of the scheduler: no I/O, no clock.

use indexmap::IndexMap;
use protocol::{Conclusion, JobResult};
use serde::{Deserialize, Serialize};
use serde_json::json;
use workflows::Workflow;
use workflows::expr::{Value, to_display_string};
use workflows::model::{CallSecrets, InputType, Job};
use workflows::parse::reusable::{CallTarget, coerce_input, declared_input};

use super::plan::{RunInput, evaluate, render};

/// Where a nested run sits in the caller's run: what its job keys and display names start with.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CallFrame {
    /// Prefix of every job key of the nested run (`call/`, `call (a)/inner/`): keys stay unique
    /// in the whole run.
    pub key_prefix: String,
    /// Prefix of every display name (`Call / `), as GitHub shows called jobs.
    pub name_prefix: String,
    /// The called workflow's key in `RunInput::called` (its path in the repository).
    pub workflow: String,
    /// How many workflows sit above this one (1 for a workflow the top-level file calls).
    pub depth: usize,
}

/// Loads every workflow `workflow` calls, directly or through other called workflows, and checks
/// each call (see `workflows::parse::reusable`). The map goes into `RunInput::called`; an error
/// among the diagnostics means the run must not start.
pub fn load_called(
    workflow: &Workflow,
    source: &mut dyn workflows::parse::reusable::WorkflowSource,
) -> (IndexMap<String, Workflow>, Vec<workflows::Diagnostic>) {
    workflows::parse::reusable::load_called(workflow, source)
}

/// The input of the nested run of one call leg. `values` are the caller's contexts for the leg
/// (github, needs, vars, inputs, strategy, matrix). `Err` is why the leg fails without running.
pub(crate) fn call_input(
    parent: &RunInput,
    job: &Job,
    leg_key: &str,
    display_name: &str,
    values: &IndexMap<String, Value>,
) -> Result<RunInput, String> {
    let Some(uses) = &job.uses else {
        return Err("the job calls no workflow".to_string());
    };
    let target = CallTarget::of(&uses.value);
    let key = target.key().to_string();
    let Some(called) = parent.called.get(&key) else {
        return Err(format!(
            "the called workflow `{key}` was not loaded for this run"
        ));
    };
    let Some(call) = called.on.events.get("workflow_call") else {
        return Err(format!(
            "`{key}` is not a reusable workflow: its `on:` has no `workflow_call`"
        ));
    };

    // `with:` over the caller's contexts, typed as the called workflow declares.
    let mut inputs: IndexMap<String, Value> = IndexMap::new();
    for (name, written) in &job.with {
        let Some(input) = declared_input(call, name) else {
            return Err(format!("`with.{name}`: `{key}` declares no input `{name}`"));
        };
        let value = match &written.value {
            Value::String(text) if text.contains("${{") => {
                evaluate(text, values).map_err(|error| format!("`with.{name}`: {error}"))?
            }
            other => other.clone(),
        };
        let typed = coerce_input(input.kind, &value).map_err(|error| {
            format!(
                "`with.{name}`: input `{}` of `{key}`: {error}",
                input.name.value
            )
        })?;
        inputs.insert(input.name.value.clone(), typed);
    }
    // Defaults (which may be expressions over `github`, `inputs` and `vars`), then required.
    for (name, input) in &call.inputs {
        if inputs.contains_key(name) {
            continue;
        }
        if input.required {
            return Err(format!(
                "`{key}` requires the input `{name}`, which the call does not give"
            ));
        }
        let value = match &input.default {
            Some(default) => {
                let mut default_values = IndexMap::new();
                for context in ["github", "vars"] {
                    if let Some(value) = values.get(context) {
                        default_values.insert(context.to_string(), value.clone());
                    }
                }
                default_values.insert(
                    "inputs".to_string(),
                    Value::Object(inputs.clone().into_iter().collect()),
                );
                let value = match &default.value {
                    Value::String(text) if text.contains("${{") => evaluate(text, &default_values)
                        .map_err(|error| {
                            format!("the default of input `{name}` of `{key}`: {error}")
                        })?,
                    other => other.clone(),
                };
                coerce_input(input.kind, &value)
                    .map_err(|error| format!("the default of input `{name}` of `{key}`: {error}"))?
            }
            None => empty_input(input.kind),
        };
        inputs.insert(name.clone(), value);
    }

    let secrets = match &job.secrets {
        Some(CallSecrets::Inherit) => parent.secrets.clone(),
        Some(CallSecrets::Map(passed)) => {
            let mut secret_values = values.clone();
            secret_values.insert(
                "secrets".to_string(),
                Value::Object(
                    parent
                        .secrets
                        .iter()
                        .map(|(name, value)| (name.clone(), Value::String(value.clone())))
                        .collect(),
                ),
            );
            let mut secrets = IndexMap::new();
            for (name, written) in passed {
                let value = render(&written.value, &secret_values)
                    .map_err(|error| format!("`secrets.{name}`: {error}"))?;
                let declared = call
                    .secrets
                    .keys()
                    .find(|declared| declared.eq_ignore_ascii_case(name))
                    .cloned()
                    .unwrap_or_else(|| name.clone());
                secrets.insert(declared, value);
            }
            secrets
        }
        None => IndexMap::new(),
    };

    let depth = parent.frame.as_ref().map_or(0, |frame| frame.depth) + 1;
    let mut github = parent.github.clone();
    let git_ref = values
        .get("github")
        .and_then(|github| github.get("ref"))
        .map(to_display_string)
        .unwrap_or_default();
    // A remote workflow is named as written (its own repository and ref) and its sha is the
    // commit it was pinned to; a local one is the caller's repository at the run's ref.
    let (job_workflow_ref, job_workflow_sha) = match &target {
        CallTarget::Remote { reference } => (
            reference.clone(),
            parent.actions.get(reference).cloned().unwrap_or_default(),
        ),
        CallTarget::Local { .. } => (
            format!("{}/{key}@{git_ref}", parent.run.repository),
            parent.run.sha.clone(),
        ),
    };
    github.insert(
        "job_workflow_ref".to_string(),
        Value::String(job_workflow_ref),
    );
    github.insert(
        "job_workflow_sha".to_string(),
        Value::String(job_workflow_sha),
    );
    Ok(RunInput {
        workflow: called.clone(),
        run_id: parent.run_id.clone(),
        run: parent.run.clone(),
        github,
        inputs,
        vars: parent.vars.clone(),
        secrets,
        event_payload: parent.event_payload.clone(),
        checkout: parent.checkout.clone(),
        selection: Default::default(),
        default_timeout_minutes: parent.default_timeout_minutes,
        called: parent.called.clone(),
        actions: parent.actions.clone(),
        frame: Some(CallFrame {
            key_prefix: format!("{leg_key}/"),
            name_prefix: format!("{display_name} / "),
            workflow: key,
            depth,
        }),
    })
}

/// The call leg's result once its nested run finished with `conclusion`: the run's conclusion and
/// the called workflow's `on.workflow_call.outputs`, evaluated over `github`, `inputs`, `vars` and
/// `jobs` (each called job's result and outputs). An output that cannot be evaluated fails the
/// call.
pub(crate) fn call_result(nested: &RunInput, jobs: Value, conclusion: Conclusion) -> JobResult {
    let mut result = JobResult {
        conclusion,
        outputs: IndexMap::new(),
        steps: Vec::new(),
        summary: String::new(),
        failure_reason: match conclusion {
            Conclusion::Failure => Some(format!(
                "a job of the called workflow `{}` failed",
                nested.workflow.file
            )),
            _ => None,
        },
        deployment: None,
    };
    let Some(call) = nested.workflow.on.events.get("workflow_call") else {
        return result;
    };
    let mut values = super::plan::workflow_level_values(nested);
    values.insert("jobs".to_string(), jobs);
    for (name, output) in &call.outputs {
        match render(&output.value.value, &values) {
            Ok(text) => {
                result.outputs.insert(name.clone(), text);
            }
            Err(error) => {
                result.conclusion = Conclusion::Failure;
                result.failure_reason = Some(format!(
                    "output `{name}` of the called workflow `{}`: {error}",
                    nested.workflow.file
                ));
            }
        }
    }
    result
}

/// The value of an optional input the call leaves out and the workflow gives no default:
/// `false`, `0` or the empty string by type.
fn empty_input(kind: InputType) -> Value {
    match kind {
        InputType::Boolean => json!(false),
        InputType::Number => json!(0),
        _ => json!(""),
    }
}
