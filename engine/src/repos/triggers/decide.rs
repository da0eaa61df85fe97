//! The workflow files at a commit + an event → which workflows run, and for each the filter that
//! decided. The filter semantics live in `workflows::filters`; this module reads the files, reports
//! invalid ones and never runs them.

use serde::Serialize;
use workflows::filters::{TriggerEvent, triggers};
use workflows::{Diagnostic, Workflow, parse_workflow_bytes};

/// One workflow file as stored at a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowFile {
    /// Path from the repository root (`.github/workflows/ci.yml`).
    pub path: String,
    /// The file's contents as committed (YAML, not yet parsed).
    pub bytes: Vec<u8>,
}

/// Whether one workflow starts for an event, and why.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowDecision {
    /// The workflow file's path from the repository root, e.g. `.github/workflows/ci.yml`.
    pub file: String,
    /// The workflow's `name:` when it has one.
    pub name: Option<String>,
    /// Whether the workflow starts a run for the event.
    pub triggers: bool,
    /// Which part of `on:` decided (or why the file cannot run).
    pub reason: String,
    /// The file has errors: it never runs, whatever its filters say.
    pub invalid: bool,
    /// Every diagnostic of the file (errors and warnings).
    pub diagnostics: Vec<Diagnostic>,
    /// The parsed workflow, for whoever plans the run (absent when the file could not be read).
    #[serde(skip)]
    pub workflow: Option<Workflow>,
}

/// Decides every workflow file for `event`, in the order given.
pub fn decide(files: &[WorkflowFile], event: &TriggerEvent) -> Vec<WorkflowDecision> {
    files.iter().map(|file| decide_one(file, event)).collect()
}

fn decide_one(file: &WorkflowFile, event: &TriggerEvent) -> WorkflowDecision {
    let parsed = parse_workflow_bytes(&file.path, &file.bytes);
    let has_errors = parsed.has_errors();
    let name = parsed
        .workflow
        .as_ref()
        .and_then(|workflow| workflow.name.as_ref())
        .map(|name| name.value.clone());
    let first_error = parsed
        .diagnostics
        .iter()
        .find(|diagnostic| diagnostic.is_error())
        .map(ToString::to_string);
    let (triggers, reason) = match (&parsed.workflow, first_error) {
        (_, Some(error)) => {
            // Say whether the event would have started it: that is when GitHub shows a failed run.
            let would = parsed
                .workflow
                .as_ref()
                .map(|workflow| triggers(workflow, event).triggers)
                .unwrap_or(false);
            let count = parsed.diagnostics.iter().filter(|d| d.is_error()).count();
            let lead = if would {
                "the event matches `on:` but the workflow file is invalid"
            } else {
                "the workflow file is invalid"
            };
            (
                false,
                format!(
                    "{lead} ({count} error{}; first: {error})",
                    if count == 1 { "" } else { "s" }
                ),
            )
        }
        (Some(workflow), None) => {
            let decision = triggers(workflow, event);
            (decision.triggers, decision.reason)
        }
        (None, None) => (false, "the workflow file could not be read".to_string()),
    };
    WorkflowDecision {
        file: file.path.clone(),
        name,
        triggers,
        reason,
        invalid: has_errors,
        diagnostics: parsed.diagnostics,
        workflow: parsed.workflow,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> WorkflowFile {
        WorkflowFile {
            path: path.into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    fn push(git_ref: &str, paths: &[&str]) -> TriggerEvent {
        TriggerEvent {
            name: "push".into(),
            action: None,
            git_ref: Some(git_ref.into()),
            changed_paths: Some(paths.iter().map(|p| p.to_string()).collect()),
        }
    }

    const JOB: &str = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n";

    #[test]
    fn invalid_files_are_reported_and_never_run() {
        let files = vec![
            file("bad.yml", "on: push\njobs: [\n"),
            file("ok.yml", &format!("on: push\n{JOB}")),
        ];
        let decisions = decide(&files, &push("refs/heads/main", &["a"]));
        let bad = &decisions[0];
        assert!(!bad.triggers && bad.invalid);
        assert!(bad.reason.contains("invalid"), "{}", bad.reason);
        assert!(!bad.diagnostics.is_empty());
        assert!(decisions[1].triggers, "{}", decisions[1].reason);
    }

    #[test]
    fn filters_say_which_rule_decided() {
        let files = vec![file(
            "ci.yml",
            &format!("name: CI\non:\n  push:\n    paths: ['src/**']\n{JOB}"),
        )];
        let skipped = decide(&files, &push("refs/heads/main", &["docs/a.md"]));
        assert!(!skipped[0].triggers);
        assert!(skipped[0].reason.contains("paths"), "{}", skipped[0].reason);
        assert_eq!(skipped[0].name.as_deref(), Some("CI"));
        let started = decide(&files, &push("refs/heads/main", &["src/main.rs"]));
        assert!(started[0].triggers);
        assert!(started[0].workflow.is_some());
    }
}
