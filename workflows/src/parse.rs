//! The entry point: workflow text → typed model plus every diagnostic (YAML errors, schema errors,
//! validation findings).
//!
//! Reading is in three steps: [`crate::yaml`] turns text into a spanned node tree, the builders
//! under `parse/` turn the tree into [`Workflow`] while recording every shape error (unknown keys,
//! wrong types, missing required keys) without stopping at the first, and
//! [`crate::validate::validate`] adds the checks that need the whole model. Nothing here panics on
//! user input or knows how a workflow is run.

pub mod deployment;
pub(crate) mod jobs;
pub(crate) mod reader;
pub mod reusable;
mod shared;
mod triggers;

use indexmap::IndexMap;

use crate::diagnostic::Diagnostic;
use crate::model::{Triggers, Workflow};
use crate::span::Span;
use crate::yaml::{self, Node, NodeValue};

use reader::Reader;

/// The result of reading one workflow file. `workflow` is `None` only when the file could not be
/// read as a workflow at all; it may be present alongside errors.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The workflow as read; `None` when the file could not be read as a workflow at all.
    pub workflow: Option<Workflow>,
    /// Every error and warning found, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Whether any diagnostic is an error (warnings alone do not count).
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Top-level keys of a workflow file.
const WORKFLOW_KEYS: &[&str] = &[
    "name",
    "description",
    "run-name",
    "on",
    "env",
    "defaults",
    "concurrency",
    "permissions",
    "jobs",
];

/// Parses and validates one workflow file. `file` names it in diagnostics.
pub fn parse_workflow(file: &str, source: &str) -> Parsed {
    let (root, yaml_errors) = yaml::parse(source);
    let mut diagnostics: Vec<Diagnostic> = yaml_errors
        .into_iter()
        .map(|error| Diagnostic::error(file, error.span, error.message))
        .collect();
    let Some(root) = root else {
        if diagnostics.is_empty() {
            diagnostics.push(Diagnostic::error(
                file,
                Span::new(0, 1, 1),
                "workflow file is empty",
            ));
        }
        return Parsed {
            workflow: None,
            diagnostics,
        };
    };
    let mut reader = Reader::new(file);
    let workflow = build_workflow(&mut reader, &root);
    diagnostics.append(&mut reader.diagnostics);
    if let Some(workflow) = &workflow {
        // The model builder and the validator both look at ids and matrix shapes; where the builder
        // already reported an error at a position, the validator's finding there adds nothing.
        let findings = crate::validate::validate(workflow, source);
        let reported: std::collections::HashSet<(u32, u32)> = diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| (d.span.line, d.span.column))
            .collect();
        diagnostics.extend(
            findings
                .into_iter()
                .filter(|d| !reported.contains(&(d.span.line, d.span.column))),
        );
    }
    Parsed {
        workflow,
        diagnostics,
    }
}

/// Like [`parse_workflow`], for raw file bytes: invalid UTF-8 is reported at its line and column.
pub fn parse_workflow_bytes(file: &str, bytes: &[u8]) -> Parsed {
    if bytes.len() > yaml::MAX_FILE_BYTES {
        let message = format!(
            "workflow file is too large ({} bytes, limit {} bytes)",
            bytes.len(),
            yaml::MAX_FILE_BYTES
        );
        return Parsed {
            workflow: None,
            diagnostics: vec![Diagnostic::error(file, Span::new(0, 1, 1), message)],
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(source) => parse_workflow(file, source),
        Err(error) => {
            let valid = bytes.get(..error.valid_up_to()).unwrap_or_default();
            // The prefix is valid UTF-8 by definition; count lines and characters in it.
            let prefix = std::str::from_utf8(valid).unwrap_or_default();
            let line = prefix.matches('\n').count() + 1;
            let line_start = prefix.rfind('\n').map_or(0, |at| at + 1);
            let column = prefix
                .get(line_start..)
                .map_or(0, |text| text.chars().count())
                + 1;
            let span = Span::new(
                valid.len(),
                u32::try_from(line).unwrap_or(u32::MAX),
                u32::try_from(column).unwrap_or(u32::MAX),
            );
            let diagnostic = Diagnostic::error(file, span, "workflow file is not valid utf-8");
            Parsed {
                workflow: None,
                diagnostics: vec![diagnostic],
            }
        }
    }
}

fn build_workflow(reader: &mut Reader, root: &Node) -> Option<Workflow> {
    let NodeValue::Mapping(entries) = &root.value else {
        let message = if root.is_null() {
            "workflow file is empty".to_string()
        } else {
            format!(
                "a workflow must be a mapping of keys (`on`, `jobs`, …), found {}",
                root.describe()
            )
        };
        reader.error(root.span, message);
        return None;
    };
    let mut workflow = Workflow {
        file: reader.file.to_string(),
        name: None,
        run_name: None,
        on: Triggers {
            span: root.span,
            events: IndexMap::new(),
        },
        env: IndexMap::new(),
        defaults: None,
        concurrency: None,
        permissions: None,
        jobs: IndexMap::new(),
    };
    let place = "the workflow";
    let (mut has_on, mut has_jobs) = (false, false);
    for entry in entries {
        let what = format!("`{}` of {place}", entry.key);
        let value = &entry.value;
        match entry.key.as_str() {
            "name" => workflow.name = reader.string(value, &what),
            // Documentation only: checked for its shape, not kept.
            "description" => {
                let _ = reader.string(value, &what);
            }
            "run-name" => workflow.run_name = reader.string(value, &what),
            "on" => {
                has_on = true;
                workflow.on = triggers::triggers(reader, value);
            }
            "env" => workflow.env = shared::env(reader, value, place),
            "defaults" => workflow.defaults = shared::defaults(reader, value, place),
            "concurrency" => workflow.concurrency = shared::concurrency(reader, value, place),
            "permissions" => workflow.permissions = shared::permissions(reader, value, place),
            "jobs" => {
                has_jobs = true;
                workflow.jobs = jobs::jobs(reader, value);
            }
            _ => reader.unknown_key(entry, WORKFLOW_KEYS, place),
        }
    }
    if !has_on {
        reader.error(
            root.span,
            "the workflow needs `on` (the events that trigger it)",
        );
    }
    if !has_jobs {
        reader.error(root.span, "the workflow needs `jobs`");
    }
    Some(workflow)
}
