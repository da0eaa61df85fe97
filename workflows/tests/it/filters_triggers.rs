//! `triggers(workflow, event)`: event names, activity types (explicit and GitHub's defaults),
//! branch/tag filters, path filters, and the reasons given. Workflows are built directly from
//! the model types, independent of the YAML parser.

use indexmap::IndexMap;
use workflows::filters::{TriggerEvent, default_activity_types, triggers};
use workflows::model::{EventTrigger, Triggers, Workflow};
use workflows::span::{Span, Spanned};

fn spanned_list(items: &[&str]) -> Option<Vec<Spanned<String>>> {
    Some(
        items
            .iter()
            .map(|item| Spanned::new(item.to_string(), Span::default()))
            .collect(),
    )
}

/// One `on:` entry, built up with the setters below.
#[derive(Default)]
struct On {
    event: EventTrigger,
}

impl On {
    fn new(name: &str) -> On {
        On {
            event: EventTrigger {
                name: Spanned::new(name.to_string(), Span::default()),
                ..EventTrigger::default()
            },
        }
    }
    fn types(mut self, items: &[&str]) -> On {
        self.event.types = spanned_list(items);
        self
    }
    fn branches(mut self, items: &[&str]) -> On {
        self.event.branches = spanned_list(items);
        self
    }
    fn branches_ignore(mut self, items: &[&str]) -> On {
        self.event.branches_ignore = spanned_list(items);
        self
    }
    fn tags(mut self, items: &[&str]) -> On {
        self.event.tags = spanned_list(items);
        self
    }
    fn tags_ignore(mut self, items: &[&str]) -> On {
        self.event.tags_ignore = spanned_list(items);
        self
    }
    fn paths(mut self, items: &[&str]) -> On {
        self.event.paths = spanned_list(items);
        self
    }
    fn paths_ignore(mut self, items: &[&str]) -> On {
        self.event.paths_ignore = spanned_list(items);
        self
    }
}

fn workflow(on: Vec<On>) -> Workflow {
    let events: IndexMap<String, EventTrigger> = on
        .into_iter()
        .map(|entry| (entry.event.name.value.clone(), entry.event))
        .collect();
    Workflow {
        file: ".github/workflows/test.yml".to_string(),
        name: None,
        run_name: None,
        on: Triggers {
            span: Span::default(),
            events,
        },
        env: IndexMap::new(),
        defaults: None,
        concurrency: None,
        permissions: None,
        jobs: IndexMap::new(),
    }
}

fn event(name: &str) -> TriggerEvent {
    TriggerEvent {
        name: name.to_string(),
        ..TriggerEvent::default()
    }
}

fn push(git_ref: &str, changed: Option<&[&str]>) -> TriggerEvent {
    TriggerEvent {
        name: "push".to_string(),
        action: None,
        git_ref: Some(git_ref.to_string()),
        changed_paths: changed.map(|paths| paths.iter().map(|p| p.to_string()).collect()),
    }
}

fn pull_request(action: &str, base: &str, changed: Option<&[&str]>) -> TriggerEvent {
    TriggerEvent {
        name: "pull_request".to_string(),
        action: Some(action.to_string()),
        git_ref: Some(base.to_string()),
        changed_paths: changed.map(|paths| paths.iter().map(|p| p.to_string()).collect()),
    }
}

#[track_caller]
fn runs(workflow: &Workflow, event: &TriggerEvent) -> String {
    let decision = triggers(workflow, event);
    assert!(
        decision.triggers,
        "expected {event:?} to trigger: {}",
        decision.reason
    );
    decision.reason
}

#[track_caller]
fn skips(workflow: &Workflow, event: &TriggerEvent) -> String {
    let decision = triggers(workflow, event);
    assert!(
        !decision.triggers,
        "expected {event:?} not to trigger: {}",
        decision.reason
    );
    decision.reason
}

#[test]
fn event_must_be_listed() {
    let wf = workflow(vec![On::new("push")]);
    let reason = skips(&wf, &pull_request("opened", "refs/heads/main", None));
    assert_eq!(reason, "event `pull_request` is not listed under `on:`");
    runs(&wf, &push("refs/heads/main", None));
}

#[test]
fn events_without_filters_trigger_when_listed() {
    for name in [
        "schedule",
        "workflow_dispatch",
        "workflow_call",
        "repository_dispatch",
        "release",
        "issues",
    ] {
        let wf = workflow(vec![On::new(name)]);
        let reason = runs(&wf, &event(name));
        assert!(reason.contains(name), "{reason}");
        skips(&workflow(vec![On::new("push")]), &event(name));
    }
}

#[test]
fn push_without_filters_runs_for_branches_and_tags() {
    let wf = workflow(vec![On::new("push")]);
    runs(&wf, &push("refs/heads/feature/x", None));
    runs(&wf, &push("refs/tags/v1.0.0", Some(&["a"])));
}

#[test]
fn branch_filters() {
    let wf = workflow(vec![On::new("push").branches(&["main", "releases/**"])]);
    runs(&wf, &push("refs/heads/main", None));
    runs(&wf, &push("refs/heads/releases/1.0", None));
    let reason = skips(&wf, &push("refs/heads/docs", None));
    assert_eq!(
        reason,
        "branch `docs` does not match `branches: [main, releases/**]`"
    );

    let wf = workflow(vec![On::new("push").branches_ignore(&["docs/**", "wip"])]);
    runs(&wf, &push("refs/heads/main", None));
    let reason = skips(&wf, &push("refs/heads/docs/intro", None));
    assert_eq!(
        reason,
        "branch `docs/intro` is excluded by `branches-ignore: [docs/**, wip]`"
    );
}

#[test]
fn negated_branch_patterns_apply_in_order() {
    let wf = workflow(vec![
        On::new("pull_request").branches(&["releases/**", "!releases/**-alpha"]),
    ]);
    runs(&wf, &pull_request("opened", "refs/heads/releases/10", None));
    runs(
        &wf,
        &pull_request("opened", "refs/heads/releases/beta/mona", None),
    );
    skips(
        &wf,
        &pull_request("opened", "refs/heads/releases/10-alpha", None),
    );
    skips(
        &wf,
        &pull_request("opened", "refs/heads/releases/beta/3-alpha", None),
    );
}

#[test]
fn tag_only_filters_skip_branch_pushes_and_vice_versa() {
    let tags_only = workflow(vec![On::new("push").tags(&["v*"])]);
    runs(&tags_only, &push("refs/tags/v1.2", None));
    skips(&tags_only, &push("refs/tags/release-1", None));
    let reason = skips(&tags_only, &push("refs/heads/main", None));
    assert!(
        reason.contains("branch `main`") && reason.contains("only tags"),
        "{reason}"
    );

    let tags_ignore_only = workflow(vec![On::new("push").tags_ignore(&["nightly*"])]);
    runs(&tags_ignore_only, &push("refs/tags/v1", None));
    skips(&tags_ignore_only, &push("refs/tags/nightly-2024", None));
    skips(&tags_ignore_only, &push("refs/heads/main", None));

    let branches_only = workflow(vec![On::new("push").branches(&["**"])]);
    runs(&branches_only, &push("refs/heads/main", None));
    let reason = skips(&branches_only, &push("refs/tags/v1", None));
    assert!(
        reason.contains("tag `v1`") && reason.contains("only branches"),
        "{reason}"
    );

    let branches_ignore_only = workflow(vec![On::new("push").branches_ignore(&["wip"])]);
    skips(&branches_ignore_only, &push("refs/tags/v1", None));

    let both = workflow(vec![On::new("push").branches(&["main"]).tags(&["v*"])]);
    runs(&both, &push("refs/heads/main", None));
    runs(&both, &push("refs/tags/v2", None));
    skips(&both, &push("refs/heads/dev", None));
    skips(&both, &push("refs/tags/x", None));
}

#[test]
fn pull_request_branch_filters_look_at_the_base_ref() {
    let wf = workflow(vec![On::new("pull_request").branches(&["main"])]);
    runs(&wf, &pull_request("opened", "refs/heads/main", None));
    runs(&wf, &pull_request("synchronize", "main", None));
    let reason = skips(&wf, &pull_request("opened", "refs/heads/develop", None));
    assert_eq!(reason, "branch `develop` does not match `branches: [main]`");
}

#[test]
fn pull_request_default_activity_types() {
    assert_eq!(
        default_activity_types("pull_request"),
        Some(&["opened", "synchronize", "reopened"][..])
    );
    assert_eq!(
        default_activity_types("pull_request_target"),
        Some(&["opened", "synchronize", "reopened"][..])
    );
    assert_eq!(default_activity_types("issues"), None);
    assert_eq!(default_activity_types("release"), None);

    let wf = workflow(vec![On::new("pull_request")]);
    for action in ["opened", "synchronize", "reopened"] {
        runs(&wf, &pull_request(action, "refs/heads/main", None));
    }
    let reason = skips(&wf, &pull_request("closed", "refs/heads/main", None));
    assert_eq!(
        reason,
        "activity `closed` is not one of `types: [opened, synchronize, reopened]` (the default for `pull_request`)"
    );
    skips(&wf, &pull_request("labeled", "refs/heads/main", None));

    let target = workflow(vec![On::new("pull_request_target")]);
    let mut closed = pull_request("closed", "refs/heads/main", None);
    closed.name = "pull_request_target".to_string();
    skips(&target, &closed);
}

#[test]
fn explicit_activity_types() {
    let wf = workflow(vec![On::new("pull_request").types(&["closed", "labeled"])]);
    runs(&wf, &pull_request("closed", "refs/heads/main", None));
    let reason = skips(&wf, &pull_request("opened", "refs/heads/main", None));
    assert_eq!(
        reason,
        "activity `opened` is not one of `types: [closed, labeled]`"
    );

    let release = workflow(vec![On::new("release").types(&["published"])]);
    let mut published = event("release");
    published.action = Some("published".to_string());
    runs(&release, &published);
    published.action = Some("created".to_string());
    skips(&release, &published);

    let dispatch = workflow(vec![On::new("repository_dispatch").types(&["deploy"])]);
    let mut deploy = event("repository_dispatch");
    deploy.action = Some("deploy".to_string());
    runs(&dispatch, &deploy);
    deploy.action = Some("test".to_string());
    skips(&dispatch, &deploy);
}

#[test]
fn events_whose_defaults_are_all_types_accept_any_action() {
    for (name, action) in [
        ("issues", "labeled"),
        ("issue_comment", "deleted"),
        ("release", "unpublished"),
    ] {
        let wf = workflow(vec![On::new(name)]);
        let mut happened = event(name);
        happened.action = Some(action.to_string());
        runs(&wf, &happened);
    }
}

#[test]
fn path_filters() {
    let wf = workflow(vec![On::new("push").paths(&["src/**"])]);
    let reason = runs(
        &wf,
        &push("refs/heads/main", Some(&["README.md", "src/lib.rs"])),
    );
    assert!(reason.contains("`src/lib.rs`"), "{reason}");
    let reason = skips(
        &wf,
        &push("refs/heads/main", Some(&["README.md", "docs/a.md"])),
    );
    assert_eq!(reason, "no changed path matches `paths: [src/**]`");
    skips(&wf, &push("refs/heads/main", Some(&[])));
    // Unknown changed paths never exclude.
    runs(&wf, &push("refs/heads/main", None));
}

#[test]
fn path_filters_with_negation() {
    let wf = workflow(vec![
        On::new("push").paths(&["sub-project/**", "!sub-project/docs/**"]),
    ]);
    runs(
        &wf,
        &push("refs/heads/main", Some(&["sub-project/src/a.rs"])),
    );
    skips(
        &wf,
        &push("refs/heads/main", Some(&["sub-project/docs/a.md"])),
    );
    runs(
        &wf,
        &push(
            "refs/heads/main",
            Some(&["sub-project/docs/a.md", "sub-project/b.rs"]),
        ),
    );
}

#[test]
fn paths_ignore_runs_unless_every_changed_path_is_ignored() {
    let wf = workflow(vec![On::new("push").paths_ignore(&["docs/**", "*.md"])]);
    runs(
        &wf,
        &push("refs/heads/main", Some(&["docs/a.md", "src/main.rs"])),
    );
    let reason = skips(
        &wf,
        &push("refs/heads/main", Some(&["docs/a.md", "README.md"])),
    );
    assert_eq!(
        reason,
        "every changed path is excluded by `paths-ignore: [docs/**, *.md]`"
    );
    runs(&wf, &push("refs/heads/main", None));
    runs(&wf, &push("refs/heads/main", Some(&[])));
}

#[test]
fn ref_and_path_filters_must_both_pass() {
    let wf = workflow(vec![On::new("push").branches(&["main"]).paths(&["src/**"])]);
    let reason = runs(&wf, &push("refs/heads/main", Some(&["src/a.rs"])));
    assert!(
        reason.contains("branch `main`") && reason.contains("src/a.rs"),
        "{reason}"
    );
    skips(&wf, &push("refs/heads/main", Some(&["docs/a.md"])));
    skips(&wf, &push("refs/heads/dev", Some(&["src/a.rs"])));

    let pr = workflow(vec![
        On::new("pull_request")
            .branches(&["main"])
            .paths_ignore(&["docs/**"]),
    ]);
    runs(
        &pr,
        &pull_request("opened", "refs/heads/main", Some(&["src/a.rs"])),
    );
    skips(
        &pr,
        &pull_request("opened", "refs/heads/main", Some(&["docs/a.md"])),
    );
    skips(
        &pr,
        &pull_request("closed", "refs/heads/main", Some(&["src/a.rs"])),
    );
}

#[test]
fn path_filters_apply_to_tag_pushes_in_slipway() {
    // GitHub ignores path filters for tag pushes; Slipway applies them (documented decision).
    let wf = workflow(vec![On::new("push").tags(&["v*"]).paths(&["src/**"])]);
    runs(&wf, &push("refs/tags/v1", Some(&["src/a.rs"])));
    skips(&wf, &push("refs/tags/v1", Some(&["docs/a.md"])));
}

#[test]
fn select_and_ignore_together_never_trigger() {
    let wf = workflow(vec![
        On::new("push")
            .branches(&["main"])
            .branches_ignore(&["dev"]),
    ]);
    let reason = skips(&wf, &push("refs/heads/main", None));
    assert_eq!(
        reason,
        "`branches` and `branches-ignore` cannot both be used for one event"
    );
    let wf = workflow(vec![On::new("push").paths(&["a"]).paths_ignore(&["b"])]);
    skips(&wf, &push("refs/heads/main", Some(&["a"])));
}

#[test]
fn invalid_patterns_never_trigger() {
    let wf = workflow(vec![On::new("push").branches(&["release/v[0-9"])]);
    let reason = skips(&wf, &push("refs/heads/release/v1", None));
    assert!(reason.contains("release/v[0-9"), "{reason}");
}

#[test]
fn unknown_or_odd_refs_with_ref_filters_do_not_trigger() {
    let wf = workflow(vec![On::new("push").branches(&["main"])]);
    skips(&wf, &event("push"));
    skips(&wf, &push("refs/pull/1/merge", None));
}

#[test]
fn multiple_events_each_use_their_own_filters() {
    let wf = workflow(vec![
        On::new("push").branches(&["main"]),
        On::new("pull_request").branches(&["develop"]),
        On::new("workflow_dispatch"),
    ]);
    runs(&wf, &push("refs/heads/main", None));
    skips(&wf, &push("refs/heads/develop", None));
    runs(&wf, &pull_request("opened", "refs/heads/develop", None));
    skips(&wf, &pull_request("opened", "refs/heads/main", None));
    runs(&wf, &event("workflow_dispatch"));
    skips(&wf, &event("schedule"));
}
