//! Ref updates and other happenings → events as GitHub shapes them, so `github.event.*` works.
//!
//! What one push makes, following GitHub:
//! - every branch or tag that was created or moved: a `push` event (`created`, `forced`,
//!   `commits` oldest first, at most [`MAX_PAYLOAD_COMMITS`]); a created one also a `create` event;
//! - every deleted branch or tag: a `delete` event only. GitHub Actions starts no `push` workflow
//!   for a deletion; the `delete` event runs with `GITHUB_SHA`/`GITHUB_REF` of the default
//!   branch, whose workflows are the ones read;
//! - more than [`MAX_TAGS_PER_PUSH`] tags pushed (or deleted) at once: no event for those tags.
//!
//! Refs outside `refs/heads/` and `refs/tags/` make no event. This module reads git objects and
//! never writes them.

use git2::{Oid, Repository};
use serde_json::{Map, Value, json};
use workflows::filters::TriggerEvent;

use super::TriggerError;
use super::paths::{self, ChangedPaths, peel_to_commit};
use super::refs::{RefKind, RefUpdate, short_name};
use crate::runs::event::{self, EventSource, ZERO_SHA};

/// GitHub makes no event for the tags of a push that carries more tags than this.
pub const MAX_TAGS_PER_PUSH: usize = 3;
/// GitHub's push payload lists at most this many commits.
pub const MAX_PAYLOAD_COMMITS: usize = 2048;

/// The repository an event happens in, as payloads name it.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoInfo {
    /// `owner/name`.
    pub full_name: String,
    /// Short name (`main`).
    pub default_branch: String,
    /// A path or URL git can clone from (the engine's mirror).
    pub clone_url: String,
}

/// One event, ready to be matched against workflows and turned into runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RepoEvent {
    /// `push`, `create`, `delete`, `schedule`, `workflow_dispatch`.
    pub name: String,
    /// `GITHUB_REF`: the full ref the run is for.
    pub git_ref: String,
    /// `GITHUB_SHA`: the commit the run is for, and whose workflow files are read. `None` only when
    /// the ref it would be taken from does not exist (an empty repository).
    pub sha: Option<Oid>,
    /// `github.event`.
    pub payload: Value,
    /// The files the event changed, for `paths:` and `paths-ignore:` filters.
    pub changed_paths: ChangedPaths,
}

impl RepoEvent {
    /// What the trigger filters look at.
    pub fn trigger_event(&self) -> TriggerEvent {
        TriggerEvent {
            name: self.name.clone(),
            action: None,
            git_ref: Some(self.git_ref.clone()),
            changed_paths: self.changed_paths.for_filters(),
        }
    }

    /// The identity `event::github_context` takes, for a run of this event.
    pub fn source(&self, repo: &RepoInfo, actor: &str) -> EventSource {
        let head_commit = self
            .payload
            .get("head_commit")
            .filter(|commit| !commit.is_null())
            .cloned();
        EventSource {
            git_ref: self.git_ref.clone(),
            sha: sha_hex(self.sha),
            before: self
                .payload
                .get("before")
                .and_then(Value::as_str)
                .unwrap_or(ZERO_SHA)
                .to_string(),
            repository: repo.full_name.clone(),
            actor: actor.to_string(),
            default_branch: repo.default_branch.clone(),
            clone_from: repo.clone_url.clone(),
            head_commit,
        }
    }
}

/// The events one push (a batch of ref updates) makes, in the order of `updates`, `push` before
/// `create` for a created ref. `repo` must already hold the new objects (fetch first).
pub fn events_for_updates(
    repo: &Repository,
    info: &RepoInfo,
    pusher: &str,
    updates: &[RefUpdate],
) -> Result<Vec<RepoEvent>, TriggerError> {
    let tags_pushed = updates
        .iter()
        .filter(|u| !u.is_deleted() && matches!(u.kind(), RefKind::Tag(_)))
        .count();
    let tags_deleted = updates
        .iter()
        .filter(|u| u.is_deleted() && matches!(u.kind(), RefKind::Tag(_)))
        .count();
    let known = values_before(repo, updates);
    let mut events = Vec::new();
    for update in updates {
        let is_tag = match update.kind() {
            RefKind::Other => continue,
            RefKind::Tag(_) => true,
            RefKind::Branch(_) => false,
        };
        if update.is_deleted() {
            if !(is_tag && tags_deleted > MAX_TAGS_PER_PUSH) {
                events.push(delete_event(repo, info, pusher, update)?);
            }
            continue;
        }
        if is_tag && tags_pushed > MAX_TAGS_PER_PUSH {
            continue;
        }
        events.push(push_event_with(repo, info, pusher, update, &known)?);
        if update.is_created() {
            events.push(create_event(repo, info, pusher, update)?);
        }
    }
    Ok(events)
}

/// The `push` event for one created or moved ref. The ref values before the push are taken to
/// be the repository's other refs (see [`events_for_updates`] for a batch).
pub fn push_event(
    repo: &Repository,
    info: &RepoInfo,
    pusher: &str,
    update: &RefUpdate,
) -> Result<RepoEvent, TriggerError> {
    let known = values_before(repo, std::slice::from_ref(update));
    push_event_with(repo, info, pusher, update, &known)
}

/// The `create` event for a created branch or tag.
pub fn create_event(
    repo: &Repository,
    info: &RepoInfo,
    pusher: &str,
    update: &RefUpdate,
) -> Result<RepoEvent, TriggerError> {
    let sha = match update.new {
        Some(new) => Some(peel_to_commit(repo, new)?),
        None => None,
    };
    Ok(RepoEvent {
        name: "create".into(),
        git_ref: update.name.clone(),
        sha,
        payload: json!({
            "ref": short_name(&update.name),
            "ref_type": ref_type(update),
            "master_branch": info.default_branch,
            "description": null,
            "pusher_type": "user",
            "repository": repository(info),
            "sender": event::sender_json(pusher),
        }),
        changed_paths: ChangedPaths::Unknown {
            reason: "`create` events have no changed files".into(),
        },
    })
}

/// The `delete` event for a deleted branch or tag: it runs at the default branch.
pub fn delete_event(
    repo: &Repository,
    info: &RepoInfo,
    pusher: &str,
    update: &RefUpdate,
) -> Result<RepoEvent, TriggerError> {
    let (git_ref, sha) = default_branch_tip(repo, info);
    Ok(RepoEvent {
        name: "delete".into(),
        git_ref,
        sha,
        payload: json!({
            "ref": short_name(&update.name),
            "ref_type": ref_type(update),
            "pusher_type": "user",
            "repository": repository(info),
            "sender": event::sender_json(pusher),
        }),
        changed_paths: ChangedPaths::Unknown {
            reason: "`delete` events have no changed files".into(),
        },
    })
}

/// A `schedule` event for one cron string: it runs at the default branch.
pub fn schedule_event(repo: &Repository, info: &RepoInfo, cron: &str) -> RepoEvent {
    let (git_ref, sha) = default_branch_tip(repo, info);
    RepoEvent {
        name: "schedule".into(),
        git_ref,
        sha,
        payload: json!({
            "schedule": cron,
            "repository": repository(info),
            "sender": event::sender_json("slipway"),
        }),
        changed_paths: ChangedPaths::Unknown {
            reason: "`schedule` events have no changed files".into(),
        },
    }
}

/// A `workflow_dispatch` event at `git_ref` (a full ref) with the inputs as given (strings, as
/// `github.event.inputs` holds them; typed `inputs` are the planner's business).
pub fn dispatch_event(
    repo: &Repository,
    info: &RepoInfo,
    actor: &str,
    git_ref: &str,
    inputs: &Map<String, Value>,
) -> Result<RepoEvent, TriggerError> {
    let sha = repo
        .refname_to_id(git_ref)
        .map_err(TriggerError::git(format!("resolve `{git_ref}`")))?;
    let sha = peel_to_commit(repo, sha)?;
    Ok(RepoEvent {
        name: "workflow_dispatch".into(),
        git_ref: git_ref.to_string(),
        sha: Some(sha),
        payload: json!({
            "ref": git_ref,
            "inputs": inputs,
            "workflow": "",
            "repository": repository(info),
            "sender": event::sender_json(actor),
        }),
        changed_paths: ChangedPaths::Unknown {
            reason: "`workflow_dispatch` events have no changed files".into(),
        },
    })
}

// ---------------------------------------------------------------------------------------------

fn push_event_with(
    repo: &Repository,
    info: &RepoInfo,
    pusher: &str,
    update: &RefUpdate,
    known: &[Oid],
) -> Result<RepoEvent, TriggerError> {
    let Some(new) = update.new else {
        return Err(TriggerError::Invalid(format!(
            "make a push event: `{}` was deleted",
            update.name
        )));
    };
    let head = peel_to_commit(repo, new)?;
    let old_commit = update.old.and_then(|old| peel_to_commit(repo, old).ok());
    let forced = match (update.kind(), update.old, old_commit) {
        (_, None, _) => false,
        // Moving a tag always takes force; a branch is forced when the old commit is lost.
        (RefKind::Tag(_), Some(old), _) => old != new,
        (_, Some(_), Some(old)) => {
            old != head && !repo.graph_descendant_of(head, old).unwrap_or(false)
        }
        // The old commit is unknown here: it cannot be an ancestor of the new one.
        (_, Some(_), None) => true,
    };
    // An update lists the commits of `before...after`; a created ref those no other ref had.
    let hidden: &[Oid] = if update.is_created() { known } else { &[] };
    let pushed = if update.old.is_some() && old_commit.is_none() {
        None
    } else {
        Some(paths::pushed_commits(
            repo,
            new,
            old_commit,
            hidden,
            MAX_PAYLOAD_COMMITS,
        )?)
    };
    let commits: Vec<Value> = pushed
        .as_ref()
        .map(|pushed| {
            pushed
                .commits
                .iter()
                .filter_map(|oid| repo.find_commit(*oid).ok())
                .map(|commit| commit_payload(info, &commit))
                .collect()
        })
        .unwrap_or_default();
    let head_commit = repo
        .find_commit(head)
        .map(|commit| commit_payload(info, &commit))
        .unwrap_or(Value::Null);
    let changed_paths = paths::changed_paths(repo, update, known)?;
    let html = event::html_url(&info.full_name);
    let compare = if update.is_created() {
        format!("{html}/compare/{}", short_name(&update.name))
    } else {
        format!(
            "{html}/compare/{}...{}",
            short(&update.old_hex()),
            short(&update.new_hex())
        )
    };
    let base_ref = match update.kind() {
        RefKind::Tag(_) => branch_at(repo, info, head).map_or(Value::Null, Value::String),
        _ => Value::Null,
    };
    Ok(RepoEvent {
        name: "push".into(),
        git_ref: update.name.clone(),
        sha: Some(head),
        payload: json!({
            "ref": update.name,
            "before": update.old_hex(),
            "after": update.new_hex(),
            "created": update.is_created(),
            "deleted": false,
            "forced": forced,
            "base_ref": base_ref,
            "compare": compare,
            "commits": commits,
            "head_commit": head_commit,
            "pusher": {"name": pusher, "email": null},
            "repository": repository(info),
            "sender": event::sender_json(pusher),
        }),
        changed_paths,
    })
}

/// The ref values before the push: every ref not updated by it, plus the updated refs' old values.
fn values_before(repo: &Repository, updates: &[RefUpdate]) -> Vec<Oid> {
    let mut known: Vec<Oid> = updates.iter().filter_map(|u| u.old).collect();
    if let Ok(references) = repo.references() {
        for reference in references.flatten() {
            let Ok(name) = reference.name() else { continue };
            if updates.iter().any(|u| u.name == name) {
                continue;
            }
            if let Ok(commit) = reference.peel_to_commit() {
                known.push(commit.id());
            }
        }
    }
    known.sort();
    known.dedup();
    known
}

/// The default branch's ref and commit (`None` when it does not exist yet).
fn default_branch_tip(repo: &Repository, info: &RepoInfo) -> (String, Option<Oid>) {
    let git_ref = format!("refs/heads/{}", info.default_branch);
    let sha = repo
        .refname_to_id(&git_ref)
        .ok()
        .and_then(|oid| peel_to_commit(repo, oid).ok());
    (git_ref, sha)
}

/// A branch whose tip is `commit` (the default branch first): GitHub's `base_ref` of a tag push.
fn branch_at(repo: &Repository, info: &RepoInfo, commit: Oid) -> Option<String> {
    let default = format!("refs/heads/{}", info.default_branch);
    if repo.refname_to_id(&default).ok() == Some(commit) {
        return Some(default);
    }
    let branches = repo.branches(Some(git2::BranchType::Local)).ok()?;
    branches.flatten().find_map(|(branch, _)| {
        let reference = branch.get();
        (reference.target() == Some(commit))
            .then(|| reference.name().ok().map(str::to_string))
            .flatten()
    })
}

fn commit_payload(info: &RepoInfo, commit: &git2::Commit) -> Value {
    let mut value = event::commit_json(commit);
    if let Some(object) = value.as_object_mut() {
        object.insert("distinct".into(), Value::Bool(true));
        object.insert(
            "url".into(),
            Value::String(format!(
                "{}/commit/{}",
                event::html_url(&info.full_name),
                commit.id()
            )),
        );
    }
    value
}

fn repository(info: &RepoInfo) -> Value {
    event::repository_json(&info.full_name, &info.default_branch, &info.clone_url)
}

fn ref_type(update: &RefUpdate) -> &'static str {
    match update.kind() {
        RefKind::Tag(_) => "tag",
        _ => "branch",
    }
}

fn short(hex: &str) -> &str {
    hex.get(..12).unwrap_or(hex)
}

fn sha_hex(sha: Option<Oid>) -> String {
    sha.map(|oid| oid.to_string())
        .unwrap_or_else(|| ZERO_SHA.to_string())
}
