//! The `on:` section: known events, filters only where an event takes them and never with their
//! `-ignore` twin, valid filter patterns, known activity types, cron schedules in GitHub's
//! five-field syntax, and `workflow_dispatch` inputs (choice options, defaults, count).

use crate::filters::Pattern;
use crate::model::{EventTrigger, Input, InputType, Workflow};
use crate::span::{Span, Spanned};

use super::{Checker, did_you_mean};

/// GitHub's limit on `workflow_dispatch` inputs.
pub(crate) const MAX_DISPATCH_INPUTS: usize = 25;

const PULL_REQUEST_TYPES: &[&str] = &[
    "assigned",
    "unassigned",
    "labeled",
    "unlabeled",
    "opened",
    "edited",
    "closed",
    "reopened",
    "synchronize",
    "converted_to_draft",
    "ready_for_review",
    "locked",
    "unlocked",
    "review_requested",
    "review_request_removed",
    "auto_merge_enabled",
    "auto_merge_disabled",
    "milestoned",
    "demilestoned",
    "enqueued",
    "dequeued",
    "stacked",
];

/// Event name → its activity types (`None`: the event takes no `types`; `Some([])`: any type).
const EVENTS: &[(&str, Option<&[&str]>)] = &[
    (
        "branch_protection_rule",
        Some(&["created", "edited", "deleted"]),
    ),
    (
        "check_run",
        Some(&["created", "rerequested", "completed", "requested_action"]),
    ),
    ("check_suite", Some(&["completed"])),
    ("create", None),
    ("delete", None),
    ("deployment", None),
    ("deployment_status", None),
    (
        "discussion",
        Some(&[
            "created",
            "edited",
            "deleted",
            "transferred",
            "pinned",
            "unpinned",
            "labeled",
            "unlabeled",
            "locked",
            "unlocked",
            "category_changed",
            "answered",
            "unanswered",
        ]),
    ),
    (
        "discussion_comment",
        Some(&["created", "edited", "deleted"]),
    ),
    ("fork", None),
    ("gollum", None),
    ("image_version", Some(&[])),
    ("issue_comment", Some(&["created", "edited", "deleted"])),
    (
        "issues",
        Some(&[
            "opened",
            "edited",
            "deleted",
            "transferred",
            "pinned",
            "unpinned",
            "closed",
            "reopened",
            "assigned",
            "unassigned",
            "labeled",
            "unlabeled",
            "locked",
            "unlocked",
            "milestoned",
            "demilestoned",
            "typed",
            "untyped",
            "field_added",
            "field_removed",
        ]),
    ),
    ("label", Some(&["created", "edited", "deleted"])),
    ("merge_group", Some(&["checks_requested"])),
    (
        "milestone",
        Some(&["created", "closed", "opened", "edited", "deleted"]),
    ),
    ("page_build", None),
    (
        "project",
        Some(&["created", "closed", "reopened", "edited", "deleted"]),
    ),
    (
        "project_card",
        Some(&["created", "moved", "converted", "edited", "deleted"]),
    ),
    (
        "project_column",
        Some(&["created", "updated", "moved", "deleted"]),
    ),
    ("public", None),
    ("pull_request", Some(PULL_REQUEST_TYPES)),
    (
        "pull_request_comment",
        Some(&["created", "edited", "deleted"]),
    ),
    (
        "pull_request_review",
        Some(&["submitted", "edited", "dismissed"]),
    ),
    (
        "pull_request_review_comment",
        Some(&["created", "edited", "deleted"]),
    ),
    ("pull_request_target", Some(PULL_REQUEST_TYPES)),
    ("push", None),
    ("registry_package", Some(&["published", "updated"])),
    (
        "release",
        Some(&[
            "published",
            "unpublished",
            "created",
            "edited",
            "deleted",
            "prereleased",
            "released",
        ]),
    ),
    ("repository_dispatch", Some(&[])),
    ("schedule", None),
    ("status", None),
    ("watch", Some(&["started"])),
    ("workflow_call", None),
    ("workflow_dispatch", None),
    (
        "workflow_run",
        Some(&["completed", "requested", "in_progress"]),
    ),
];

pub(super) fn check(checker: &mut Checker, workflow: &Workflow) {
    for (name, trigger) in &workflow.on.events {
        let span = if trigger.name.span == Span::default() {
            workflow.on.span
        } else {
            trigger.name.span
        };
        // Unknown events are the parser's to report; it leaves them out of the model.
        let Some((_, types)) = EVENTS.iter().find(|(event, _)| event == name) else {
            continue;
        };
        check_types(checker, name, *types, trigger);
        check_filters(checker, name, trigger, span);
        if name == "schedule" {
            if trigger.cron.is_empty() {
                checker.error(span, "`schedule` needs at least one `cron` entry");
            }
            for cron in &trigger.cron {
                if let Err(message) = check_cron(&cron.value) {
                    checker.error(
                        cron.span,
                        format!("invalid cron `{}` in `schedule`: {message}", cron.value),
                    );
                }
            }
        }
        if name == "workflow_dispatch" || name == "workflow_call" {
            check_inputs(checker, name, trigger);
        }
    }
}

fn check_types(checker: &mut Checker, event: &str, known: Option<&[&str]>, trigger: &EventTrigger) {
    let Some(types) = &trigger.types else { return };
    let Some(known) = known else {
        if let Some(first) = types.first() {
            checker.error(
                first.span,
                format!("event `{event}` takes no activity `types`"),
            );
        }
        return;
    };
    if known.is_empty() {
        return;
    }
    for kind in types {
        if !known.contains(&kind.value.as_str()) {
            checker.error(
                kind.span,
                format!(
                    "unknown activity type `{}` for event `{event}`{}; known: {}",
                    kind.value,
                    did_you_mean(&kind.value, known.iter().copied()),
                    known.join(", ")
                ),
            );
        }
    }
}

fn check_filters(checker: &mut Checker, event: &str, trigger: &EventTrigger, event_span: Span) {
    type Filters<'t> = &'t Option<Vec<Spanned<String>>>;
    let pairs: [(&str, Filters, Filters, &[&str]); 3] = [
        (
            "branches",
            &trigger.branches,
            &trigger.branches_ignore,
            &[
                "push",
                "pull_request",
                "pull_request_target",
                "workflow_run",
                "merge_group",
            ],
        ),
        ("tags", &trigger.tags, &trigger.tags_ignore, &["push"]),
        (
            "paths",
            &trigger.paths,
            &trigger.paths_ignore,
            &["push", "pull_request", "pull_request_target"],
        ),
    ];
    for (filter, included, ignored, events) in pairs {
        for (key, patterns) in [
            (filter.to_string(), included),
            (format!("{filter}-ignore"), ignored),
        ] {
            let Some(patterns) = patterns else { continue };
            let span = patterns.first().map_or(event_span, |p| p.span);
            if !events.contains(&event) {
                checker.error(
                    span,
                    format!(
                        "`{key}` filter is not available for event `{event}` (only for {})",
                        events.join(", ")
                    ),
                );
                continue;
            }
            for pattern in patterns {
                if pattern.value.contains("${{") {
                    checker.error(
                        pattern.span,
                        format!("a template expression is not allowed in `{key}` of `{event}`"),
                    );
                } else if let Err(message) = Pattern::compile(&pattern.value) {
                    checker.error(
                        pattern.span,
                        format!("invalid `{key}` pattern `{}`: {message}", pattern.value),
                    );
                }
            }
        }
        if let (Some(_), Some(ignored)) = (included, ignored) {
            let span = ignored.first().map_or(event_span, |p| p.span);
            checker.error(
                span,
                format!("`{filter}` and `{filter}-ignore` cannot both be used for event `{event}` (use `!` to negate patterns)"),
            );
        }
    }
}

/// Checks one cron string against GitHub's syntax: five fields (minute, hour, day of month, month,
/// day of week) of numbers, `*`, `,`, `-`, `/`, and month/day names in their fields.
pub(crate) fn check_cron(cron: &str) -> Result<(), String> {
    let fields: Vec<&str> = cron.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!(
            "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        ));
    }
    const NAMES: [(&str, &[&str]); 5] = [
        ("minute", &[]),
        ("hour", &[]),
        ("day of month", &[]),
        (
            "month",
            &[
                "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
            ],
        ),
        (
            "day of week",
            &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
        ),
    ];
    for (field, (what, names)) in fields.iter().zip(NAMES) {
        let mut word = String::new();
        for c in field.chars().chain(std::iter::once(' ')) {
            if c.is_ascii_alphabetic() {
                word.push(c.to_ascii_lowercase());
                continue;
            }
            if !word.is_empty() {
                if !names.contains(&word.as_str()) {
                    return Err(format!("`{word}` is not valid in the {what} field"));
                }
                word.clear();
            }
            if !(c.is_ascii_digit() || matches!(c, '*' | ',' | '-' | '/' | ' ')) {
                return Err(format!("`{c}` is not valid in the {what} field"));
            }
        }
    }
    let parser = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Disallowed)
        .year(croner::parser::Year::Disallowed)
        .build();
    parser
        .parse(cron)
        .map(|_| ())
        .map_err(|error| error.to_string().to_lowercase())
}

fn check_inputs(checker: &mut Checker, event: &str, trigger: &EventTrigger) {
    if event == "workflow_dispatch"
        && trigger.inputs.len() > MAX_DISPATCH_INPUTS
        && let Some(input) = trigger.inputs.values().nth(MAX_DISPATCH_INPUTS)
    {
        checker.error(
            input.name.span,
            format!(
                "`workflow_dispatch` takes at most {MAX_DISPATCH_INPUTS} inputs, found {}",
                trigger.inputs.len()
            ),
        );
    }
    for input in trigger.inputs.values() {
        check_input(checker, event, input);
    }
}

fn check_input(checker: &mut Checker, event: &str, input: &Input) {
    let name = &input.name.value;
    if input.kind == InputType::Choice {
        let mut seen = std::collections::HashSet::new();
        for option in &input.options {
            if !seen.insert(option.value.as_str()) {
                checker.error(
                    option.span,
                    format!(
                        "option `{}` of input `{name}` is listed twice",
                        option.value
                    ),
                );
            }
        }
    } else if !input.options.is_empty() {
        checker.error(
            input.name.span,
            format!("input `{name}` has `options` but its type is not `choice`"),
        );
    }
    let Some(default) = &input.default else {
        return;
    };
    if input.required && event == "workflow_call" {
        checker.warning(
            default.span,
            format!("input `{name}` of `workflow_call` is required, so its default is never used"),
        );
    }
    if matches!(&default.value, serde_json::Value::String(text) if text.contains("${{")) {
        return;
    }
    let text = match &default.value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    let in_options = input.options.iter().any(|option| option.value == text);
    let problem = match input.kind {
        InputType::Choice if !input.options.is_empty() && !in_options => {
            let options: Vec<String> = input
                .options
                .iter()
                .map(|o| format!("`{}`", o.value))
                .collect();
            Some(format!(
                "default `{text}` of input `{name}` is not one of its options ({})",
                options.join(", ")
            ))
        }
        InputType::Boolean if !matches!(text.as_str(), "true" | "false") => Some(format!(
            "default of boolean input `{name}` must be `true` or `false`, not `{text}`"
        )),
        InputType::Number if text.trim().parse::<f64>().is_err() => Some(format!(
            "default of number input `{name}` must be a number, not `{text}`"
        )),
        _ => None,
    };
    if let Some(problem) = problem {
        checker.error(default.span, problem);
    }
}

#[cfg(test)]
mod tests {
    use super::check_cron;

    #[test]
    fn cron_syntax() {
        for good in [
            "*/15 * * * *",
            "0 9 * * MON-FRI",
            "30 5,17 1-15/2 JAN,jun *",
            "0 0 * * 0",
        ] {
            assert_eq!(check_cron(good), Ok(()), "{good}");
        }
        for bad in [
            "* * * *",
            "0 0 * * * *",
            "@hourly",
            "61 * * * *",
            "0 0 L * *",
            "0 0 * * MON#1",
            "0 0 * MON *",
        ] {
            assert!(check_cron(bad).is_err(), "{bad}");
        }
    }
}
