//! Trigger matching: does an event start a workflow? GitHub's filter-pattern syntax (`*`, `**`,
//! `?`, `+`, `[]`, `!` negation, later patterns win) for branches, tags and paths, and activity types.
//!
//! The rules, in the order [`triggers`] applies them:
//! 1. the event's name must be a key of `on:`;
//! 2. activity `types`: when listed, the event's action must be one of them; when not listed,
//!    `pull_request` and `pull_request_target` default to `opened`, `synchronize`, `reopened`
//!    and every other event accepts all its activity types (GitHub's documented defaults). An
//!    event whose action is unknown (`None`) is not excluded by types;
//! 3. refs, for `push` (branches and tags), `pull_request` / `pull_request_target` /
//!    `merge_group` (the base branch) and `workflow_run` (the triggering run's branch):
//!    `branches` selects, `branches-ignore` excludes, likewise `tags` / `tags-ignore`. A `push`
//!    workflow with only tag filters does not run for branch pushes and vice versa; with neither
//!    it runs for both;
//! 4. paths, for `push`, `pull_request` and `pull_request_target`: with `paths`, at least one
//!    changed path must be selected; with `paths-ignore`, the workflow runs unless every changed
//!    path is ignored. Unknown changed paths (`None`) never exclude. An empty list of changed
//!    paths selects nothing for `paths` and ignores nothing for `paths-ignore`.
//!
//! **Slipway decision:** GitHub does not evaluate path filters for tag pushes; Slipway does, so a
//! tag-push workflow with `paths:` runs only when the tagged push changed a selected path.
//!
//! Ref and path filters must both pass. Using `branches` with `branches-ignore` (or `tags` with
//! `tags-ignore`, `paths` with `paths-ignore`) for one event is invalid: validation reports it,
//! and [`triggers`] refuses to start such a workflow. This module must not read git or the clock:
//! the caller supplies the ref, the action and the changed paths.

mod pattern;

pub use pattern::{Pattern, compile_all, matches_patterns};

use crate::model::{EventTrigger, Workflow};
use crate::span::Spanned;

/// What happened, reduced to what the filters look at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerEvent {
    /// `push`, `pull_request`, `schedule`, `workflow_dispatch`, …
    pub name: String,
    /// Activity type (`opened`, `published`, …) where the event has one.
    pub action: Option<String>,
    /// Full ref (`refs/heads/main`, `refs/tags/v1`); for `pull_request` the base branch ref.
    pub git_ref: Option<String>,
    /// Files changed by the event; `None` when unknown (path filters then do not exclude).
    pub changed_paths: Option<Vec<String>>,
}

/// Whether the workflow runs for the event, and which part of `on:` decided.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerDecision {
    /// Whether the workflow runs for the event.
    pub triggers: bool,
    /// A human-readable explanation of which part of `on:` decided (or why nothing matched).
    pub reason: String,
}

/// The activity types an event runs for when `types` is not given, where GitHub restricts them.
/// `None` means every activity type.
pub fn default_activity_types(event_name: &str) -> Option<&'static [&'static str]> {
    match event_name {
        "pull_request" | "pull_request_target" => Some(&["opened", "synchronize", "reopened"]),
        _ => None,
    }
}

/// Decides whether `workflow` starts for `event`.
pub fn triggers(workflow: &Workflow, event: &TriggerEvent) -> TriggerDecision {
    let Some(trigger) = workflow.on.events.get(&event.name) else {
        return TriggerDecision::no(format!("event `{}` is not listed under `on:`", event.name));
    };
    let mut passed: Vec<String> = Vec::new();

    match check_types(trigger, event) {
        Check::Pass(Some(why)) => passed.push(why),
        Check::Pass(None) => {}
        Check::Fail(why) => return TriggerDecision::no(why),
    }
    if takes_ref_filters(&event.name) {
        match check_refs(trigger, event) {
            Check::Pass(Some(why)) => passed.push(why),
            Check::Pass(None) => {}
            Check::Fail(why) => return TriggerDecision::no(why),
        }
    }
    if takes_path_filters(&event.name) {
        match check_paths(trigger, event) {
            Check::Pass(Some(why)) => passed.push(why),
            Check::Pass(None) => {}
            Check::Fail(why) => return TriggerDecision::no(why),
        }
    }

    let reason = if passed.is_empty() {
        format!("event `{}` is listed under `on:`", event.name)
    } else {
        format!(
            "event `{}` is listed under `on:` and {}",
            event.name,
            passed.join(" and ")
        )
    };
    TriggerDecision {
        triggers: true,
        reason,
    }
}

// ---------------------------------------------------------------------------------------------

impl TriggerDecision {
    fn no(reason: String) -> TriggerDecision {
        TriggerDecision {
            triggers: false,
            reason,
        }
    }
}

/// The outcome of one filter: passed (with what to say about it, if anything) or failed (why).
enum Check {
    Pass(Option<String>),
    Fail(String),
}

fn takes_ref_filters(event_name: &str) -> bool {
    matches!(
        event_name,
        "push" | "pull_request" | "pull_request_target" | "merge_group" | "workflow_run"
    )
}

fn takes_path_filters(event_name: &str) -> bool {
    matches!(event_name, "push" | "pull_request" | "pull_request_target")
}

fn check_types(trigger: &EventTrigger, event: &TriggerEvent) -> Check {
    let (allowed, listed): (Vec<&str>, bool) = match &trigger.types {
        Some(types) => (types.iter().map(|t| t.value.as_str()).collect(), true),
        None => match default_activity_types(&event.name) {
            Some(defaults) => (defaults.to_vec(), false),
            None => return Check::Pass(None),
        },
    };
    let Some(action) = &event.action else {
        return Check::Pass(None);
    };
    let shown = format!("`types: [{}]`", allowed.join(", "));
    let shown = if listed {
        shown
    } else {
        format!("{shown} (the default for `{}`)", event.name)
    };
    if allowed.iter().any(|allowed| *allowed == action) {
        Check::Pass(Some(format!("activity `{action}` is one of {shown}")))
    } else {
        Check::Fail(format!("activity `{action}` is not one of {shown}"))
    }
}

/// What a ref names: a branch, a tag, or something else (`refs/pull/1/merge`).
enum RefName<'a> {
    Branch(&'a str),
    Tag(&'a str),
    Other(&'a str),
}

fn classify_ref(git_ref: &str) -> RefName<'_> {
    if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        RefName::Branch(branch)
    } else if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        RefName::Tag(tag)
    } else if git_ref.starts_with("refs/") {
        RefName::Other(git_ref)
    } else {
        // A bare name (`main`), as some callers give a pull request's base branch.
        RefName::Branch(git_ref)
    }
}

fn check_refs(trigger: &EventTrigger, event: &TriggerEvent) -> Check {
    let branch_filter = Filter::new("branches", &trigger.branches, &trigger.branches_ignore);
    // Only `push` takes tag filters; on other events validation reports them.
    let tag_filter = if event.name == "push" {
        Filter::new("tags", &trigger.tags, &trigger.tags_ignore)
    } else {
        Filter::None
    };
    if branch_filter.is_none() && tag_filter.is_none() {
        return Check::Pass(None);
    }
    let Some(git_ref) = event.git_ref.as_deref() else {
        return Check::Fail(format!(
            "`{}` has ref filters but the event names no ref to match them against",
            event.name
        ));
    };
    match classify_ref(git_ref) {
        RefName::Branch(branch) => {
            if branch_filter.is_none() {
                return Check::Fail(format!(
                    "branch `{branch}` is not considered: `{}` filters only tags",
                    event.name
                ));
            }
            branch_filter.check_one("branch", branch)
        }
        RefName::Tag(tag) => {
            if tag_filter.is_none() {
                return Check::Fail(format!(
                    "tag `{tag}` is not considered: `{}` filters only branches",
                    event.name
                ));
            }
            tag_filter.check_one("tag", tag)
        }
        RefName::Other(other) => Check::Fail(format!(
            "ref `{other}` is neither a branch nor a tag, and `{}` filters refs",
            event.name
        )),
    }
}

fn check_paths(trigger: &EventTrigger, event: &TriggerEvent) -> Check {
    let filter = Filter::new("paths", &trigger.paths, &trigger.paths_ignore);
    if filter.is_none() {
        return Check::Pass(None);
    }
    let Some(changed) = &event.changed_paths else {
        return Check::Pass(Some(
            "the changed paths are unknown, so path filters do not apply".to_string(),
        ));
    };
    filter.check_paths(changed)
}

/// One kind of filter (`branches`, `tags` or `paths`) as given for an event.
enum Filter<'a> {
    None,
    Select {
        key: &'static str,
        patterns: &'a [Spanned<String>],
    },
    Ignore {
        key: &'static str,
        patterns: &'a [Spanned<String>],
    },
    Both {
        key: &'static str,
    },
}

impl<'a> Filter<'a> {
    fn new(
        key: &'static str,
        select: &'a Option<Vec<Spanned<String>>>,
        ignore: &'a Option<Vec<Spanned<String>>>,
    ) -> Filter<'a> {
        match (select, ignore) {
            (None, None) => Filter::None,
            (Some(patterns), None) => Filter::Select { key, patterns },
            (None, Some(patterns)) => Filter::Ignore { key, patterns },
            (Some(_), Some(_)) => Filter::Both { key },
        }
    }

    fn is_none(&self) -> bool {
        matches!(self, Filter::None)
    }

    /// Checks one branch or tag name.
    fn check_one(&self, what: &str, name: &str) -> Check {
        match self {
            Filter::None => Check::Pass(None),
            Filter::Both { key } => Check::Fail(both_given(key)),
            Filter::Select { key, patterns } => match compile_list(patterns) {
                Err(error) => Check::Fail(format!("`{key}` has an invalid {error}")),
                Ok(compiled) if matches_patterns(&compiled, name) => Check::Pass(Some(format!(
                    "{what} `{name}` matches {}",
                    show(key, patterns)
                ))),
                Ok(_) => Check::Fail(format!(
                    "{what} `{name}` does not match {}",
                    show(key, patterns)
                )),
            },
            Filter::Ignore { key, patterns } => match compile_list(patterns) {
                Err(error) => Check::Fail(format!("`{key}-ignore` has an invalid {error}")),
                Ok(compiled) if matches_patterns(&compiled, name) => Check::Fail(format!(
                    "{what} `{name}` is excluded by {}",
                    show_ignore(key, patterns)
                )),
                Ok(_) => Check::Pass(Some(format!(
                    "{what} `{name}` is not excluded by {}",
                    show_ignore(key, patterns)
                ))),
            },
        }
    }

    /// Checks the changed paths of an event.
    fn check_paths(&self, changed: &[String]) -> Check {
        match self {
            Filter::None => Check::Pass(None),
            Filter::Both { key } => Check::Fail(both_given(key)),
            Filter::Select { key, patterns } => match compile_list(patterns) {
                Err(error) => Check::Fail(format!("`{key}` has an invalid {error}")),
                Ok(compiled) => match changed
                    .iter()
                    .find(|path| matches_patterns(&compiled, path))
                {
                    Some(path) => Check::Pass(Some(format!(
                        "changed path `{path}` matches {}",
                        show(key, patterns)
                    ))),
                    None => Check::Fail(format!("no changed path matches {}", show(key, patterns))),
                },
            },
            Filter::Ignore { key, patterns } => match compile_list(patterns) {
                Err(error) => Check::Fail(format!("`{key}-ignore` has an invalid {error}")),
                Ok(compiled) => {
                    if changed.is_empty() {
                        return Check::Pass(Some(format!(
                            "no changed path is excluded by {}",
                            show_ignore(key, patterns)
                        )));
                    }
                    match changed
                        .iter()
                        .find(|path| !matches_patterns(&compiled, path))
                    {
                        Some(path) => Check::Pass(Some(format!(
                            "changed path `{path}` is not excluded by {}",
                            show_ignore(key, patterns)
                        ))),
                        None => Check::Fail(format!(
                            "every changed path is excluded by {}",
                            show_ignore(key, patterns)
                        )),
                    }
                }
            },
        }
    }
}

fn compile_list(patterns: &[Spanned<String>]) -> Result<Vec<Pattern>, String> {
    patterns
        .iter()
        .map(|pattern| Pattern::compile(&pattern.value))
        .collect()
}

fn both_given(key: &str) -> String {
    format!("`{key}` and `{key}-ignore` cannot both be used for one event")
}

fn show(key: &str, patterns: &[Spanned<String>]) -> String {
    let list: Vec<&str> = patterns
        .iter()
        .map(|pattern| pattern.value.as_str())
        .collect();
    format!("`{key}: [{}]`", list.join(", "))
}

fn show_ignore(key: &str, patterns: &[Spanned<String>]) -> String {
    show(&format!("{key}-ignore"), patterns)
}
