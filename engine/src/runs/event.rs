//! Events as GitHub shapes them: the run facts (from which `scheduler` builds the `github`
//! context) and the event payload for a commit of a
//! repository, read with git2. Used by `slipway run` (the working copy's HEAD) and by the triggers.
//!
//! This module reads git; it never writes the repository.

use std::path::Path;

use indexmap::IndexMap;
use serde_json::{Value, json};
use workflows::Workflow;
use workflows::model::InputType;

use protocol::RunFacts;
use scheduler::RunInput;

/// The commit an event is about, and the identity GitHub would give it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSource {
    /// Full ref (`refs/heads/main`, `refs/tags/v1`); empty when the directory is not a repository.
    pub git_ref: String,
    /// The commit, as 40 hex digits ([`ZERO_SHA`] when there is none).
    pub sha: String,
    /// The parent commit (push `before`), zeros when there is none.
    pub before: String,
    /// `owner/name`.
    pub repository: String,
    /// Who triggered the event (`github.actor`): `$USER` or git's `user.name` for a local run.
    pub actor: String,
    /// The repository's default branch's short name, e.g. `main`.
    pub default_branch: String,
    /// A path or URL that git can clone the commit from.
    pub clone_from: String,
    /// The commit as GitHub shows it in a push payload's `head_commit`; `None` when there is no
    /// commit.
    pub head_commit: Option<Value>,
}

/// The all-zero sha GitHub uses for "no commit", e.g. the `before` of a new branch.
pub const ZERO_SHA: &str = "0000000000000000000000000000000000000000";

/// Reads HEAD of the repository that contains `dir`. A directory outside any repository gives a
/// source with zero shas (workflows still run, checkout is then a copy of nothing).
pub fn source_from_directory(dir: &Path) -> Result<EventSource, git2::Error> {
    let fallback_name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "repository".to_string());
    let mut actor = std::env::var("USER").unwrap_or_else(|_| "slipway".to_string());
    let repo = match git2::Repository::discover(dir) {
        Ok(repo) => repo,
        Err(_) => {
            return Ok(EventSource {
                git_ref: "refs/heads/main".into(),
                sha: ZERO_SHA.into(),
                before: ZERO_SHA.into(),
                repository: format!("local/{fallback_name}"),
                actor,
                default_branch: "main".into(),
                clone_from: dir.display().to_string(),
                head_commit: None,
            });
        }
    };
    if std::env::var("USER").is_err()
        && let Ok(name) = repo
            .config()
            .and_then(|config| config.get_string("user.name"))
    {
        actor = name;
    }
    let workdir = repo.workdir().unwrap_or_else(|| repo.path()).to_path_buf();
    let repository = repo
        .find_remote("origin")
        .ok()
        .and_then(|remote| remote.url().ok().and_then(owner_and_name))
        .unwrap_or_else(|| {
            let name = workdir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(fallback_name);
            format!("local/{name}")
        });
    let (git_ref, sha, before, head_commit) = match repo.head() {
        Ok(head) => {
            let git_ref = head
                .name()
                .ok()
                .filter(|n| n.starts_with("refs/"))
                .unwrap_or("HEAD")
                .to_string();
            let commit = head.peel_to_commit()?;
            let before = commit
                .parent_id(0)
                .map(|id| id.to_string())
                .unwrap_or_else(|_| ZERO_SHA.into());
            (
                git_ref,
                commit.id().to_string(),
                before,
                Some(commit_json(&commit)),
            )
        }
        // A repository with no commit yet.
        Err(_) => (
            "refs/heads/main".to_string(),
            ZERO_SHA.to_string(),
            ZERO_SHA.to_string(),
            None,
        ),
    };
    let default_branch = repo
        .find_reference("refs/remotes/origin/HEAD")
        .ok()
        .and_then(|r| {
            r.symbolic_target()
                .ok()
                .flatten()
                .map(|t| t.trim_start_matches("refs/remotes/origin/").to_string())
        })
        .or_else(|| git_ref.strip_prefix("refs/heads/").map(str::to_string))
        .unwrap_or_else(|| "main".to_string());
    Ok(EventSource {
        git_ref,
        sha,
        before,
        repository,
        actor,
        default_branch,
        clone_from: workdir.display().to_string(),
        head_commit,
    })
}

/// The event payload GitHub would send for `event_name` at `source` (`push` and the common ones;
/// other events get the shared fields: repository, sender).
pub fn payload(
    event_name: &str,
    source: &EventSource,
    inputs: &serde_json::Map<String, Value>,
) -> Value {
    let repository = repository_json(
        &source.repository,
        &source.default_branch,
        &source.clone_from,
    );
    let sender = sender_json(&source.actor);
    match event_name {
        "push" => json!({
            "ref": source.git_ref,
            "before": source.before,
            "after": source.sha,
            "created": false,
            "deleted": false,
            "forced": false,
            "base_ref": null,
            "compare": "",
            "commits": source.head_commit.iter().cloned().collect::<Vec<_>>(),
            "head_commit": source.head_commit,
            "pusher": {"name": source.actor},
            "repository": repository,
            "sender": sender,
        }),
        "workflow_dispatch" => json!({
            "ref": source.git_ref,
            "inputs": inputs,
            "workflow": "",
            "repository": repository,
            "sender": sender,
        }),
        "schedule" => json!({"schedule": "", "repository": repository, "sender": sender}),
        _ => json!({"repository": repository, "sender": sender}),
    }
}

/// The name the engine's own events carry as their sender (`slipway`): not a person.
fn deploy_system_actor() -> &'static str {
    deploy::SYSTEM_ACTOR
}

/// The `repository` object of a payload: `full_name` is `owner/name`.
pub fn repository_json(full_name: &str, default_branch: &str, clone_url: &str) -> Value {
    let (owner, name) = full_name.split_once('/').unwrap_or(("local", full_name));
    json!({
        "name": name,
        "full_name": full_name,
        "owner": {"login": owner, "name": owner},
        "default_branch": default_branch,
        "master_branch": default_branch,
        "private": true,
        "html_url": html_url(full_name),
        "clone_url": clone_url,
    })
}

/// The `sender` object of a payload.
pub fn sender_json(actor: &str) -> Value {
    json!({"login": actor, "type": "User"})
}

/// Where the web pages of a repository would be. Slipway has no such pages for a repository, so
/// the host is reserved (`.invalid`) and no link resolves anywhere by accident.
pub fn html_url(full_name: &str) -> String {
    format!("https://slipway.invalid/{full_name}")
}

/// A commit as GitHub shows it in `commits` and `head_commit`.
pub fn commit_json(commit: &git2::Commit) -> Value {
    let author = commit.author();
    let committer = commit.committer();
    let timestamp = jiff::Timestamp::from_second(commit.time().seconds())
        .map(|t| t.to_string())
        .unwrap_or_default();
    json!({
        "id": commit.id().to_string(),
        "tree_id": commit.tree_id().to_string(),
        "message": commit.message().unwrap_or(""),
        "timestamp": timestamp,
        "author": {"name": author.name().unwrap_or(""), "email": author.email().unwrap_or("")},
        "committer": {"name": committer.name().unwrap_or(""), "email": committer.email().unwrap_or("")},
        "added": [], "removed": [], "modified": [],
    })
}

/// `git@github.com:owner/name.git`, `https://host/owner/name(.git)` → `owner/name`.
pub(crate) fn owner_and_name(url: &str) -> Option<String> {
    let trimmed = url.trim_end_matches('/').trim_end_matches(".git");
    let path = trimmed.rsplit_once(':').map(|(_, p)| p).unwrap_or(trimmed);
    let mut parts = path.rsplit('/');
    let name = parts.next()?;
    let owner = parts.next()?;
    if owner.is_empty() || name.is_empty() || owner.contains('.') && owner.contains("//") {
        return None;
    }
    Some(format!("{owner}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_and_name_from_remote_urls() {
        assert_eq!(
            owner_and_name("git@github.com:acme/rocket.git").as_deref(),
            Some("acme/rocket")
        );
        assert_eq!(
            owner_and_name("https://github.com/acme/rocket").as_deref(),
            Some("acme/rocket")
        );
        assert_eq!(
            owner_and_name("https://example.org/git/acme/rocket.git/").as_deref(),
            Some("acme/rocket")
        );
    }

    #[test]
    fn github_context_names_tags_and_branches() {
        let source = EventSource {
            git_ref: "refs/tags/v1.2.0".into(),
            sha: "a".repeat(40),
            before: ZERO_SHA.into(),
            repository: "acme/rocket".into(),
            actor: "alice".into(),
            default_branch: "main".into(),
            clone_from: "/tmp/x".into(),
            head_commit: None,
        };
        let parsed = workflows::parse::parse_workflow(
            ".github/workflows/ci.yml",
            "name: CI\non: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n",
        );
        let workflow = parsed.workflow.expect("a workflow");
        let input = run_input_for(&RunInputRequest {
            workflow: &workflow,
            event_name: "push",
            source: &source,
            custom_payload: None,
            inputs: &[],
            run_id: "r",
            github_run_id: 7,
            run_number: 3,
            attempt: 1,
        })
        .expect("run input");
        let github = scheduler::github_context(&input.run, &input.event_payload);
        assert_eq!(github["ref_type"], "tag");
        assert_eq!(github["ref_name"], "v1.2.0");
        assert_eq!(github["repository_owner"], "acme");
        assert_eq!(github["run_number"], "3");
        assert_eq!(github["run_id"], "7");
        assert_eq!(github["workflow"], "CI");
        assert_eq!(github["event"]["after"], "a".repeat(40));
    }

    #[test]
    fn the_actor_is_who_the_event_payload_names() {
        let source = EventSource {
            git_ref: "refs/heads/main".into(),
            sha: "b".repeat(40),
            before: ZERO_SHA.into(),
            repository: "acme/rocket".into(),
            actor: "engine-user".into(),
            default_branch: "main".into(),
            clone_from: "/tmp/x".into(),
            head_commit: None,
        };
        let parsed = workflows::parse::parse_workflow(
            "ci.yml",
            "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n",
        );
        let workflow = parsed.workflow.expect("a workflow");
        let input_with = |payload: Option<Value>| {
            run_input_for(&RunInputRequest {
                workflow: &workflow,
                event_name: "push",
                source: &source,
                custom_payload: payload,
                inputs: &[],
                run_id: "1",
                github_run_id: 1,
                run_number: 1,
                attempt: 1,
            })
            .expect("run input")
        };
        let pushed = input_with(Some(json!({"sender": {"login": "erin"}})));
        assert_eq!(pushed.run.actor, "erin");
        assert_eq!(pushed.run.triggering_actor, "erin");
        let by_engine = input_with(Some(json!({"sender": {"login": "slipway"}})));
        assert_eq!(by_engine.run.actor, "engine-user");
        assert_eq!(input_with(None).run.actor, "engine-user");
    }

    #[test]
    fn inputs_must_be_declared_few_and_small() {
        let parsed = workflows::parse::parse_workflow(
            "ci.yml",
            "on:\n  workflow_dispatch:\n    inputs:\n      name: {type: string, default: x}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n",
        );
        let workflow = parsed.workflow.expect("a workflow");
        let given =
            |pairs: Vec<(String, String)>| inputs_for(&workflow, "workflow_dispatch", &pairs, None);
        let ok = given(vec![("NAME".into(), "octo".into())]).expect("declared input");
        assert_eq!(ok.0["name"], "octo");
        let error = given(vec![("nmae".into(), "octo".into())]).expect_err("undeclared");
        assert_eq!(
            error,
            "input `nmae` is not declared by `on.workflow_dispatch.inputs` (declared: name)"
        );
        let many = (0..26).map(|i| (format!("i{i}"), String::new())).collect();
        assert_eq!(
            given(many).expect_err("too many"),
            "26 inputs given, more than the limit of 25 inputs"
        );
        let long = given(vec![("name".into(), "x".repeat(MAX_INPUT_CHARS))]).expect_err("too long");
        assert!(long.contains("65539 characters long"), "{long}");
        let pushed = inputs_for(&workflow, "push", &[("name".into(), "x".into())], None)
            .expect_err("push takes no inputs");
        assert!(
            pushed.contains("(declared: none)") && pushed.contains("--event workflow_dispatch")
        );
    }
}

/// What the scheduler's input of one run is built from (shared by `slipway run` and the engine).
#[derive(Debug, Clone)]
pub struct RunInputRequest<'a> {
    /// The workflow to run.
    pub workflow: &'a Workflow,
    /// The triggering event's name (`github.event_name`), e.g. `push` or `workflow_dispatch`.
    pub event_name: &'a str,
    /// The commit and identity the event is about.
    pub source: &'a EventSource,
    /// A payload given by the caller (`--event-file`, a webhook); `None` builds one from `source`.
    pub custom_payload: Option<Value>,
    /// `workflow_dispatch` / `workflow_call` inputs as given (strings).
    pub inputs: &'a [(String, String)],
    /// The engine's id of the run, as text.
    pub run_id: &'a str,
    /// `github.run_id`: the number of the run's first attempt (`scheduler::numeric_run_id`).
    pub github_run_id: u64,
    /// `github.run_number`: the run's number among its workflow's runs, from 1.
    pub run_number: u64,
    /// `github.run_attempt`: 1 for the first attempt, more for reruns.
    pub attempt: u32,
}

/// Builds the scheduler's input of a run: the `github` context, the payload, typed inputs and
/// the checkout of `source`'s commit. Vars, secrets and the job selection are left empty.
pub fn run_input_for(request: &RunInputRequest<'_>) -> Result<RunInput, String> {
    let workflow = request.workflow;
    let (typed_inputs, string_inputs) = inputs_for(
        workflow,
        request.event_name,
        request.inputs,
        request.custom_payload.as_ref(),
    )?;
    // The run's actor is who the event names (a push's pusher, a webhook's sender) when it
    // names someone; else the engine's user.
    let sender = request
        .custom_payload
        .as_ref()
        .and_then(|payload| payload.pointer("/sender/login"))
        .and_then(Value::as_str)
        .filter(|login| !login.is_empty() && *login != deploy_system_actor());
    let source_with_actor;
    let source = match sender {
        Some(login) if login != request.source.actor => {
            source_with_actor = EventSource {
                actor: login.to_string(),
                ..request.source.clone()
            };
            &source_with_actor
        }
        _ => request.source,
    };
    let payload = match request.custom_payload.clone() {
        Some(mut payload) => {
            if let Value::Object(map) = &mut payload
                && request.event_name == "workflow_dispatch"
                && !map.contains_key("inputs")
            {
                map.insert("inputs".into(), Value::Object(string_inputs));
            }
            payload
        }
        None => payload(request.event_name, source, &string_inputs),
    };
    let mut input = RunInput::new(workflow.clone(), request.run_id);
    input.run = RunFacts {
        actor: source.actor.clone(),
        triggering_actor: source.actor.clone(),
        event_name: request.event_name.to_string(),
        git_ref: payload
            .get("ref")
            .and_then(Value::as_str)
            .unwrap_or(&source.git_ref)
            .to_string(),
        sha: source.sha.clone(),
        repository: source.repository.clone(),
        repository_owner: scheduler::repository_owner(&source.repository).to_string(),
        repository_url: source.clone_from.clone(),
        run_id: request.github_run_id,
        run_number: request.run_number,
        run_attempt: request.attempt,
        ..input.run
    };
    input.inputs = typed_inputs;
    input.event_payload = payload;
    input.checkout = (source.sha != ZERO_SHA).then(|| protocol::job::Checkout {
        repository: source.clone_from.clone(),
        sha: source.sha.clone(),
        git_ref: Some(source.git_ref.clone()),
        working_tree: false,
    });
    Ok(input)
}

/// The event source for `git_ref` (a branch, tag, full ref or sha) of the repository at `dir`:
/// like `source_from_directory`, but at that commit instead of HEAD.
pub fn source_at_ref(dir: &Path, git_ref: &str) -> Result<EventSource, git2::Error> {
    let mut source = source_from_directory(dir)?;
    let repo = git2::Repository::discover(dir)?;
    let (object, reference) = repo.revparse_ext(git_ref)?;
    let commit = object.peel_to_commit()?;
    source.git_ref = reference
        .and_then(|r| r.name().ok().map(str::to_string))
        .filter(|name| name.starts_with("refs/"))
        .unwrap_or_else(|| {
            if git_ref.starts_with("refs/") {
                git_ref.to_string()
            } else {
                format!("refs/heads/{git_ref}")
            }
        });
    source.sha = commit.id().to_string();
    source.before = commit
        .parent_id(0)
        .map(|id| id.to_string())
        .unwrap_or_else(|_| ZERO_SHA.into());
    source.head_commit = Some(commit_json(&commit));
    Ok(source)
}

/// The bytes of `path` (relative to the repository root) in the commit `sha`: what the workflow
/// file says at that commit, never what the working tree holds.
pub fn file_at_commit(dir: &Path, sha: &str, path: &str) -> Result<Vec<u8>, git2::Error> {
    let repo = git2::Repository::discover(dir)?;
    let commit = repo.find_commit(git2::Oid::from_str(sha)?)?;
    let entry = commit.tree()?.get_path(Path::new(path))?;
    let blob = entry.to_object(&repo)?.peel_to_blob()?;
    Ok(blob.content().to_vec())
}

/// The `inputs` context (typed) and `github.event.inputs` (strings).
pub type RunInputs = (IndexMap<String, Value>, serde_json::Map<String, Value>);

/// The `inputs` context (typed) and `github.event.inputs` (strings), from `--input` and the
/// declared defaults of `workflow_dispatch` / `workflow_call`.
pub fn inputs_for(
    workflow: &Workflow,
    event_name: &str,
    given: &[(String, String)],
    payload: Option<&Value>,
) -> Result<RunInputs, String> {
    let mut typed = IndexMap::new();
    let mut strings = serde_json::Map::new();
    let from_payload = payload
        .and_then(|p| p.get("inputs"))
        .and_then(Value::as_object);
    let declared = workflow
        .on
        .events
        .get(event_name)
        .map(|trigger| &trigger.inputs);
    check_input_limits(event_name, declared, given, from_payload)?;
    if let Some(declared) = declared {
        for (name, input) in declared {
            let given_value = given
                .iter()
                .rev()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| Value::String(v.clone()))
                .or_else(|| {
                    from_payload.and_then(|m| {
                        m.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(name))
                            .map(|(_, v)| v.clone())
                    })
                });
            // A `choice` without a default starts at its first option, as GitHub's form does.
            let first_option = (input.kind == InputType::Choice)
                .then(|| input.options.first())
                .flatten()
                .map(|option| Value::String(option.value.clone()));
            let value = match given_value
                .or_else(|| input.default.as_ref().map(|d| d.value.clone()))
                .or(first_option)
            {
                Some(value) => value,
                None if input.required => {
                    return Err(format!(
                        "input `{name}` is required (pass --input {name}=VALUE)"
                    ));
                }
                None => match input.kind {
                    InputType::Boolean => Value::Bool(false),
                    _ => Value::String(String::new()),
                },
            };
            let value = typed_input(name, input.kind, value)?;
            if input.kind == InputType::Choice && !input.options.is_empty() {
                let text = workflows::expr::to_display_string(&value);
                if !input.options.iter().any(|option| option.value == text) {
                    let options: Vec<&str> =
                        input.options.iter().map(|o| o.value.as_str()).collect();
                    return Err(format!(
                        "input `{name}` must be one of {}, got `{text}`",
                        options.join(", ")
                    ));
                }
            }
            strings.insert(
                name.clone(),
                Value::String(workflows::expr::to_display_string(&value)),
            );
            typed.insert(name.clone(), value);
        }
    }
    Ok((typed, strings))
}

/// GitHub's limit on the top-level inputs of a `workflow_dispatch` event.
pub const MAX_INPUTS: usize = 25;

/// GitHub's limit on a dispatch payload, in characters; Slipway counts the names and values of
/// the given inputs against it (so it bounds each value too).
pub const MAX_INPUT_CHARS: usize = 65_535;

/// Refuses, before any work, inputs GitHub refuses: more than [`MAX_INPUTS`], more than
/// [`MAX_INPUT_CHARS`] characters in all, and (from `--input` or the API) a name the workflow
/// does not declare for `event_name`.
fn check_input_limits(
    event_name: &str,
    declared: Option<&IndexMap<String, workflows::model::Input>>,
    given: &[(String, String)],
    from_payload: Option<&serde_json::Map<String, Value>>,
) -> Result<(), String> {
    let count = given.len() + from_payload.map_or(0, serde_json::Map::len);
    if count > MAX_INPUTS {
        return Err(format!(
            "{count} inputs given, more than the limit of {MAX_INPUTS} inputs"
        ));
    }
    let mut chars: usize = 0;
    for (name, value) in given {
        chars = chars
            .saturating_add(name.chars().count())
            .saturating_add(value.chars().count());
    }
    for (name, value) in from_payload.into_iter().flatten() {
        let length = match value {
            Value::String(text) => text.chars().count(),
            other => other.to_string().chars().count(),
        };
        chars = chars
            .saturating_add(name.chars().count())
            .saturating_add(length);
    }
    if chars > MAX_INPUT_CHARS {
        return Err(format!(
            "the inputs are {chars} characters long, more than the limit of {MAX_INPUT_CHARS} characters"
        ));
    }
    for (name, _) in given {
        let known = declared.is_some_and(|declared| {
            declared
                .keys()
                .any(|known| known.eq_ignore_ascii_case(name))
        });
        if !known {
            let names: Vec<&str> = declared
                .map(|declared| declared.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let names = if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            };
            return Err(format!(
                "input `{name}` is not declared by `on.{event_name}.inputs` (declared: {names}){}",
                if declared.is_none_or(IndexMap::is_empty) && event_name != "workflow_dispatch" {
                    " (inputs are given to `workflow_dispatch`: pass --event workflow_dispatch)"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(())
}

/// Converts an input `value` given as a string to its declared `kind` (boolean or number); other
/// values pass through. Errs with a message naming the input when the string does not parse.
pub fn typed_input(name: &str, kind: InputType, value: Value) -> Result<Value, String> {
    match (kind, &value) {
        (InputType::Boolean, Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("input `{name}` is a boolean, got `{s}`")),
        },
        (InputType::Number, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(|n| {
                if n.as_f64()
                    .is_some_and(|f| f.fract() == 0.0 && f.abs() < 1e15)
                {
                    json!(n.as_f64().unwrap_or_default() as i64)
                } else {
                    Value::Number(n)
                }
            })
            .ok_or_else(|| format!("input `{name}` is a number, got `{s}`")),
        _ => Ok(value),
    }
}
