//! The `on:` section in its three spellings (`on: push`, `on: [push, fork]`, `on: {push: …}`),
//! with each event's filters, schedules and inputs. Which event takes which keys is GitHub's
//! documented syntax; whether values (crons, globs, activity types) are valid is for validation.

use indexmap::IndexMap;

use crate::model::{CallOutput, CallSecret, EventTrigger, Input, InputType, Schedule, Triggers};
use crate::span::Spanned;
use crate::yaml::{Entry, Node, NodeValue};

use super::reader::Reader;

/// Every event GitHub documents as a workflow trigger.
pub(crate) const EVENTS: &[&str] = &[
    "branch_protection_rule",
    "check_run",
    "check_suite",
    "create",
    "delete",
    "deployment",
    "deployment_status",
    "discussion",
    "discussion_comment",
    "fork",
    "gollum",
    "image_version",
    "issue_comment",
    "issues",
    "label",
    "merge_group",
    "milestone",
    "page_build",
    "project",
    "project_card",
    "project_column",
    "public",
    "pull_request",
    "pull_request_comment",
    "pull_request_review",
    "pull_request_review_comment",
    "pull_request_target",
    "push",
    "registry_package",
    "release",
    "repository_dispatch",
    "schedule",
    "status",
    "watch",
    "workflow_call",
    "workflow_dispatch",
    "workflow_run",
];

const PUSH_KEYS: &[&str] = &[
    "branches",
    "branches-ignore",
    "tags",
    "tags-ignore",
    "paths",
    "paths-ignore",
];
const PULL_REQUEST_KEYS: &[&str] = &[
    "types",
    "branches",
    "branches-ignore",
    "paths",
    "paths-ignore",
];
const WORKFLOW_RUN_KEYS: &[&str] = &["types", "workflows", "branches", "branches-ignore"];
const DISPATCH_KEYS: &[&str] = &["inputs"];
const CALL_KEYS: &[&str] = &["inputs", "outputs", "secrets"];
const IMAGE_VERSION_KEYS: &[&str] = &["types", "names", "versions"];
const MERGE_GROUP_KEYS: &[&str] = &["types", "branches", "branches-ignore"];
const TYPES_ONLY: &[&str] = &["types"];

pub(crate) fn triggers(reader: &mut Reader, node: &Node) -> Triggers {
    let mut triggers = Triggers {
        span: node.span,
        events: IndexMap::new(),
    };
    match &node.value {
        NodeValue::Scalar(_) if !node.is_null() => {
            if let Some(name) = reader.string(node, "`on`") {
                add_event(reader, &mut triggers, name, None);
            }
        }
        NodeValue::Sequence(items) => {
            if items.is_empty() {
                reader.error(node.span, "`on` must name at least one event");
            }
            for item in items {
                if let Some(name) = reader.string(item, "each event in `on`") {
                    if triggers.events.contains_key(&name.value) {
                        reader.error(
                            name.span,
                            format!("event `{}` is listed twice in `on`", name.value),
                        );
                        continue;
                    }
                    add_event(reader, &mut triggers, name, None);
                }
            }
        }
        NodeValue::Mapping(entries) => {
            if entries.is_empty() {
                reader.error(node.span, "`on` must name at least one event");
            }
            for entry in entries {
                let name = Spanned::new(entry.key.clone(), entry.key_span);
                add_event(reader, &mut triggers, name, Some(&entry.value));
            }
        }
        _ => reader.error(
            node.span,
            format!(
                "`on` must be an event name, a list of events or a mapping, found {}",
                node.describe()
            ),
        ),
    }
    triggers
}

fn add_event(
    reader: &mut Reader,
    triggers: &mut Triggers,
    name: Spanned<String>,
    config: Option<&Node>,
) {
    if !EVENTS.contains(&name.value.as_str()) {
        let message = match super::reader::suggest(&name.value, EVENTS) {
            Some(suggestion) => format!(
                "unknown event `{}` in `on` (did you mean `{suggestion}`?)",
                name.value
            ),
            None => format!("unknown event `{}` in `on`", name.value),
        };
        reader.error(name.span, message);
        return;
    }
    let mut trigger = EventTrigger {
        name: name.clone(),
        ..EventTrigger::default()
    };
    let event = name.value.as_str();
    if event == "schedule" {
        match config {
            Some(node) => {
                trigger.schedules = schedule(reader, node);
                trigger.cron = trigger
                    .schedules
                    .iter()
                    .map(|entry| entry.cron.clone())
                    .collect();
            }
            None => reader.error(
                name.span,
                "`schedule` in `on` needs a list of `cron` entries",
            ),
        }
        triggers.events.insert(name.value.clone(), trigger);
        return;
    }
    if let Some(node) = config {
        let place = format!("`on.{event}`");
        if let Some(entries) = reader.mapping_or_null(node, &place) {
            let known = match event {
                "push" => PUSH_KEYS,
                "pull_request" | "pull_request_target" => PULL_REQUEST_KEYS,
                "workflow_run" => WORKFLOW_RUN_KEYS,
                "merge_group" => MERGE_GROUP_KEYS,
                "workflow_dispatch" => DISPATCH_KEYS,
                "workflow_call" => CALL_KEYS,
                "image_version" => IMAGE_VERSION_KEYS,
                _ => TYPES_ONLY,
            };
            for entry in entries {
                if !known.contains(&entry.key.as_str()) {
                    if event == "workflow_dispatch" {
                        // GitHub ignores unknown keys here; say so instead of failing.
                        reader.warning(
                            entry.key_span,
                            format!("unknown key `{}` in {place} is ignored", entry.key),
                        );
                    } else {
                        reader.unknown_key(entry, known, &place);
                    }
                    continue;
                }
                event_key(reader, &mut trigger, entry, &place);
            }
        }
    }
    triggers.events.insert(name.value.clone(), trigger);
}

fn event_key(reader: &mut Reader, trigger: &mut EventTrigger, entry: &Entry, place: &str) {
    let what = format!("`{}` of {place}", entry.key);
    let list = |reader: &mut Reader| reader.string_list(&entry.value, &what);
    match entry.key.as_str() {
        "types" => trigger.types = list(reader),
        "branches" => trigger.branches = list(reader),
        "branches-ignore" => trigger.branches_ignore = list(reader),
        "tags" => trigger.tags = list(reader),
        "tags-ignore" => trigger.tags_ignore = list(reader),
        "paths" => trigger.paths = list(reader),
        "paths-ignore" => trigger.paths_ignore = list(reader),
        "workflows" => trigger.workflows = list(reader),
        // `image_version` filters: read for their shape, not modelled (Slipway never sees the event).
        "names" | "versions" => {
            let _ = list(reader);
        }
        "inputs" => {
            trigger.inputs = inputs(
                reader,
                &entry.value,
                trigger.name.value == "workflow_call",
                place,
            )
        }
        "outputs" => trigger.outputs = call_outputs(reader, &entry.value, place),
        "secrets" => trigger.secrets = call_secrets(reader, &entry.value, place),
        _ => {}
    }
}

fn schedule(reader: &mut Reader, node: &Node) -> Vec<Schedule> {
    let mut schedules = Vec::new();
    let Some(items) = reader.sequence(node, "`on.schedule`") else {
        return schedules;
    };
    for item in items {
        let Some(entries) = reader.mapping(item, "each entry of `on.schedule`") else {
            continue;
        };
        let mut cron = None;
        let mut timezone = None;
        for entry in entries {
            match entry.key.as_str() {
                "cron" => cron = reader.string(&entry.value, "`cron` of `on.schedule`"),
                "timezone" => timezone = reader.string(&entry.value, "`timezone` of `on.schedule`"),
                _ => reader.unknown_key(entry, &["cron", "timezone"], "`on.schedule`"),
            }
        }
        match cron {
            Some(cron) => schedules.push(Schedule { cron, timezone }),
            None if !entries.iter().any(|entry| entry.key == "cron") => {
                reader.error(item.span, "each entry of `on.schedule` needs a `cron`");
            }
            None => {}
        }
    }
    schedules
}

fn inputs(reader: &mut Reader, node: &Node, is_call: bool, place: &str) -> IndexMap<String, Input> {
    let mut inputs = IndexMap::new();
    let Some(entries) = reader.mapping_or_null(node, &format!("`inputs` of {place}")) else {
        return inputs;
    };
    let known: &[&str] = if is_call {
        &["description", "required", "default", "type"]
    } else {
        &["description", "required", "default", "type", "options"]
    };
    for entry in entries {
        let input_place = format!("input `{}` of {place}", entry.key);
        let mut input = Input {
            name: Spanned::new(entry.key.clone(), entry.key_span),
            description: None,
            required: false,
            kind: InputType::String,
            default: None,
            options: Vec::new(),
        };
        let mut has_type = false;
        if let Some(settings) = reader.mapping_or_null(&entry.value, &input_place) {
            for setting in settings {
                let what = format!("`{}` of {input_place}", setting.key);
                match setting.key.as_str() {
                    "description" => {
                        input.description = reader.string(&setting.value, &what).map(|s| s.value)
                    }
                    "required" => {
                        input.required = reader.bool(&setting.value, &what).unwrap_or(false)
                    }
                    "default" => input.default = reader.scalar_json(&setting.value, &what),
                    "options" => {
                        input.options = reader
                            .string_list(&setting.value, &what)
                            .unwrap_or_default()
                    }
                    "type" => {
                        let Some(kind) = reader.string(&setting.value, &what) else {
                            continue;
                        };
                        let allowed: &[&str] = if is_call {
                            &["string", "boolean", "number"]
                        } else {
                            &["string", "boolean", "number", "choice", "environment"]
                        };
                        input.kind = match kind.value.as_str() {
                            "string" => InputType::String,
                            "boolean" => InputType::Boolean,
                            "number" => InputType::Number,
                            "choice" => InputType::Choice,
                            "environment" => InputType::Environment,
                            _ => InputType::String,
                        };
                        if allowed.contains(&kind.value.as_str()) {
                            has_type = true;
                        } else {
                            let list = allowed
                                .iter()
                                .map(|a| format!("`{a}`"))
                                .collect::<Vec<_>>()
                                .join(", ");
                            reader.error(
                                kind.span,
                                format!("{what} must be one of {list}, found `{}`", kind.value),
                            );
                        }
                    }
                    _ => reader.unknown_key(setting, known, &input_place),
                }
            }
        }
        if is_call
            && !has_type
            && entry
                .value
                .as_mapping()
                .is_some_and(|m| !m.iter().any(|e| e.key == "type"))
        {
            reader.error(entry.value.span, format!("{input_place} needs a `type`"));
        }
        if is_call && entry.value.is_null() {
            reader.error(entry.key_span, format!("{input_place} needs a `type`"));
        }
        if input.kind == InputType::Choice && input.options.is_empty() {
            reader.error(
                entry.key_span,
                format!("{input_place} of type `choice` needs `options`"),
            );
        }
        inputs.insert(entry.key.clone(), input);
    }
    inputs
}

fn call_outputs(reader: &mut Reader, node: &Node, place: &str) -> IndexMap<String, CallOutput> {
    let mut outputs = IndexMap::new();
    let Some(entries) = reader.mapping_or_null(node, &format!("`outputs` of {place}")) else {
        return outputs;
    };
    for entry in entries {
        let output_place = format!("output `{}` of {place}", entry.key);
        let Some(settings) = reader.mapping(&entry.value, &output_place) else {
            continue;
        };
        let mut description = None;
        let mut value = None;
        for setting in settings {
            let what = format!("`{}` of {output_place}", setting.key);
            match setting.key.as_str() {
                "description" => {
                    description = reader.string(&setting.value, &what).map(|s| s.value)
                }
                "value" => value = reader.string(&setting.value, &what),
                _ => reader.unknown_key(setting, &["description", "value"], &output_place),
            }
        }
        let Some(value) = value else {
            let at = if entry.value.as_mapping().is_some() {
                entry.value.span
            } else {
                entry.key_span
            };
            reader.error(at, format!("{output_place} needs a `value`"));
            continue;
        };
        let name = Spanned::new(entry.key.clone(), entry.key_span);
        outputs.insert(
            entry.key.clone(),
            CallOutput {
                name,
                description,
                value,
            },
        );
    }
    outputs
}

fn call_secrets(reader: &mut Reader, node: &Node, place: &str) -> IndexMap<String, CallSecret> {
    let mut secrets = IndexMap::new();
    let Some(entries) = reader.mapping_or_null(node, &format!("`secrets` of {place}")) else {
        return secrets;
    };
    for entry in entries {
        let secret_place = format!("secret `{}` of {place}", entry.key);
        let mut secret = CallSecret {
            name: Spanned::new(entry.key.clone(), entry.key_span),
            description: None,
            required: false,
        };
        if let Some(settings) = reader.mapping_or_null(&entry.value, &secret_place) {
            for setting in settings {
                let what = format!("`{}` of {secret_place}", setting.key);
                match setting.key.as_str() {
                    "description" => {
                        secret.description = reader.string(&setting.value, &what).map(|s| s.value)
                    }
                    "required" => {
                        secret.required = reader.bool(&setting.value, &what).unwrap_or(false)
                    }
                    _ => reader.unknown_key(setting, &["description", "required"], &secret_place),
                }
            }
        }
        secrets.insert(entry.key.clone(), secret);
    }
    secrets
}
