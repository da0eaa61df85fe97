//! `slipway check`'s look at the actions a workflow uses: a remote action the engine's mirrors
//! (in the data dir) hold is no longer a warning, and the `with:` of a step whose action can be
//! read — a local `./path` in the repository, or a mirrored one at the commit its ref resolves to
//! — is checked against the action's declared inputs (unknown input, missing required input), at
//! the line and column of the value or of `uses:`.

use std::path::Path;

use workflows::Diagnostic;
use workflows::action::{Action, RemoteAction, parse_action};
use workflows::model::Workflow;

/// Adjusts and extends `diagnostics` of `file` (whose repository root is `repo_root`, when known)
/// with what the actions say.
pub(crate) fn check(
    file: &str,
    workflow: &Workflow,
    repo_root: Option<&Path>,
    data_dir: &Path,
    diagnostics: &mut Vec<Diagnostic>,
) {
    let pinned = crate::local_actions::pin(data_dir, workflow);
    for (job_id, job) in &workflow.jobs {
        for (index, step) in job.steps.iter().enumerate() {
            let Some(uses) = &step.uses else { continue };
            let value = uses.value.trim();
            let label = match &step.name {
                Some(name) => format!("step `{}`", name.value),
                None => format!("step {} of job `{job_id}`", index + 1),
            };
            let metadata = if let Some(sha) = pinned.get(value) {
                // Mirrored: it runs, so the "cannot run" warning goes.
                diagnostics.retain(|diagnostic| {
                    !(diagnostic.span == uses.span
                        && !diagnostic.is_error()
                        && diagnostic.message.contains("which Slipway cannot run"))
                });
                engine::actions::metadata_from_mirror(data_dir, value, sha)
                    .map(|(path, text)| (format!("{value} ({path})"), text))
            } else if let (Some(relative), Some(root)) = (value.strip_prefix("./"), repo_root) {
                let dir = root.join(relative);
                ["action.yml", "action.yaml"].iter().find_map(|name| {
                    let text = std::fs::read_to_string(dir.join(name)).ok()?;
                    Some((format!("./{relative}/{name}"), text))
                })
            } else {
                None
            };
            let Some((shown, text)) = metadata else {
                continue;
            };
            let (Some(action), _) = parse_action(&shown, &text) else {
                continue;
            };
            if RemoteAction::parse(value).is_some() || value.starts_with("./") {
                check_inputs(file, &label, value, &action, step, uses.span, diagnostics);
            }
        }
    }
}

fn check_inputs(
    file: &str,
    label: &str,
    uses: &str,
    action: &Action,
    step: &workflows::model::Step,
    uses_span: workflows::Span,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (name, value) in &step.with {
        let declared = action
            .inputs
            .keys()
            .any(|input| input.eq_ignore_ascii_case(name));
        if !declared {
            let valid: Vec<&str> = action.inputs.keys().map(String::as_str).collect();
            diagnostics.push(Diagnostic::error(
                file,
                value.span,
                format!(
                    "input `{name}` of {label} is not defined by `{uses}` (its inputs: {})",
                    if valid.is_empty() {
                        "none".to_string()
                    } else {
                        valid.join(", ")
                    }
                ),
            ));
        }
    }
    for (name, input) in &action.inputs {
        let given = step
            .with
            .keys()
            .any(|given| given.eq_ignore_ascii_case(name));
        if input.required && input.default.is_none() && !given {
            diagnostics.push(Diagnostic::error(
                file,
                uses_span,
                format!("{label} does not give input `{name}`, which `{uses}` requires"),
            ));
        }
    }
}
