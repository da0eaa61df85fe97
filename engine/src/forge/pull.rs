//! Pull/merge request webhooks of each forge → one [`PullRequest`]: GitHub's activity type
//! (`opened`, `synchronize`, `reopened`, `closed`, `labeled`, …) and a payload shaped like
//! GitHub's `pull_request` event, so `github.event.pull_request.*` reads the same whatever the
//! forge. Pure: no HTTP, no git, no clock.
//!
//! How each forge's actions map (GitHub's own pass through unchanged):
//! - Gitea/Forgejo (`X-Gitea-Event`/`X-Forgejo-Event: pull_request`): `synchronized` →
//!   `synchronize`, `label_updated` → `labeled`, `label_cleared` → `unlabeled`, `milestoned`/
//!   `demilestoned` → `milestoned`/`demilestoned`, the rest by the same name;
//! - GitLab (`X-Gitlab-Event: Merge Request Hook`): `open` → `opened`, `reopen` → `reopened`,
//!   `close` → `closed`, `merge` → `closed` with `merged: true`, `update` with new commits
//!   (`oldrev`) → `synchronize`, with label changes → `labeled`/`unlabeled`, else `edited`;
//!   approvals have no `pull_request` activity and are ignored.

use serde_json::{Value, json};

use super::ForgeKind;
use crate::repos::triggers::TriggerError;

/// What one pull/merge request webhook says, in GitHub's terms.
#[derive(Debug, Clone, PartialEq)]
pub struct PullRequest {
    /// The forge the webhook came from.
    pub forge: ForgeKind,
    /// The pull request's number (GitLab: the merge request's `iid`).
    pub number: u64,
    /// GitHub's activity type.
    pub action: String,
    /// The head commit (what the author pushed).
    pub head_sha: String,
    /// The head branch's short name (`github.head_ref`).
    pub head_ref: String,
    /// The base branch's short name (`github.base_ref`).
    pub base_ref: String,
    /// The head lives in another repository than the base (a fork).
    pub fork: bool,
    /// The pull request has been merged (`pull_request.merged`; GitLab: a `merge` action or state
    /// `merged`).
    pub merged: bool,
    /// Who caused the event (`sender.login`).
    pub sender: String,
    /// The GitHub-shaped payload (`github.event`).
    pub payload: Value,
}

/// Reads a pull/merge request webhook of `forge`. `Ok(None)`: an activity with no GitHub
/// `pull_request` counterpart (a GitLab approval), which starts nothing.
pub fn parse(forge: ForgeKind, body: &[u8]) -> Result<Option<PullRequest>, TriggerError> {
    let payload: Value = serde_json::from_slice(body)
        .map_err(|error| TriggerError::Invalid(format!("read webhook body: {error}")))?;
    match forge {
        ForgeKind::GitHub => from_github(payload).map(Some),
        ForgeKind::Gitea | ForgeKind::Forgejo => from_gitea(forge, payload).map(Some),
        ForgeKind::GitLab => from_gitlab(payload),
    }
}

fn text(value: &Value, pointer: &str) -> Result<String, TriggerError> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            TriggerError::Invalid(format!(
                "read webhook body: `{}` is missing or not a string",
                pointer.trim_start_matches('/').replace('/', ".")
            ))
        })
}

fn number(value: &Value, pointer: &str) -> Result<u64, TriggerError> {
    value
        .pointer(pointer)
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            TriggerError::Invalid(format!(
                "read webhook body: `{}` is missing or not a number",
                pointer.trim_start_matches('/').replace('/', ".")
            ))
        })
}

fn full_name(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// GitHub and Gitea/Forgejo share the shape; GitHub's action names are GitHub's.
fn from_github(payload: Value) -> Result<PullRequest, TriggerError> {
    let action = text(&payload, "/action")?;
    common(ForgeKind::GitHub, action, payload)
}

fn from_gitea(forge: ForgeKind, mut payload: Value) -> Result<PullRequest, TriggerError> {
    let given = text(&payload, "/action")?;
    let action = match given.as_str() {
        "synchronized" => "synchronize",
        "label_updated" => "labeled",
        "label_cleared" => "unlabeled",
        other => other,
    }
    .to_string();
    payload["action"] = Value::String(action.clone());
    common(forge, action, payload)
}

fn common(forge: ForgeKind, action: String, payload: Value) -> Result<PullRequest, TriggerError> {
    let number = match payload.get("number").and_then(Value::as_u64) {
        Some(number) => number,
        None => number(&payload, "/pull_request/number")?,
    };
    let head_sha = text(&payload, "/pull_request/head/sha")?;
    let head_ref = text(&payload, "/pull_request/head/ref")?;
    let base_ref = text(&payload, "/pull_request/base/ref")?;
    let head_repo = full_name(&payload, "/pull_request/head/repo/full_name");
    let base_repo = full_name(&payload, "/pull_request/base/repo/full_name")
        .or_else(|| full_name(&payload, "/repository/full_name"));
    // The head's repository is another one (a fork), or gone (a deleted fork). Its own `fork`
    // flag says nothing here: a same-repository pull request in a fork has it set.
    let fork = head_repo.is_none() || head_repo != base_repo;
    let merged = payload
        .pointer("/pull_request/merged")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let sender = [
        "/sender/login",
        "/sender/username",
        "/pull_request/user/login",
    ]
    .iter()
    .find_map(|pointer| payload.pointer(pointer).and_then(Value::as_str))
    .filter(|name| !name.is_empty())
    .unwrap_or("unknown")
    .to_string();
    Ok(PullRequest {
        forge,
        number,
        action,
        head_sha,
        head_ref,
        base_ref,
        fork,
        merged,
        sender,
        payload,
    })
}

fn from_gitlab(hook: Value) -> Result<Option<PullRequest>, TriggerError> {
    let kind = hook.get("object_kind").and_then(Value::as_str);
    if kind != Some("merge_request") {
        return Err(TriggerError::Invalid(format!(
            "read webhook body: `object_kind` is {} where a Merge Request Hook has `merge_request`",
            kind.map_or("missing".to_string(), |kind| format!("`{kind}`"))
        )));
    }
    let attributes = hook
        .get("object_attributes")
        .cloned()
        .unwrap_or(Value::Null);
    let given = text(&hook, "/object_attributes/action")?;
    let label_changes = hook.pointer("/changes/labels");
    let action = match given.as_str() {
        "open" => "opened",
        "reopen" => "reopened",
        "close" | "merge" => "closed",
        "update" if attributes.get("oldrev").is_some_and(|rev| !rev.is_null()) => "synchronize",
        "update" => match label_changes {
            Some(changes) => {
                let count = |key: &str| {
                    changes
                        .get(key)
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len)
                };
                if count("current") >= count("previous") {
                    "labeled"
                } else {
                    "unlabeled"
                }
            }
            None => "edited",
        },
        _ => return Ok(None),
    }
    .to_string();
    let number = number(&hook, "/object_attributes/iid")?;
    let head_sha = text(&hook, "/object_attributes/last_commit/id")?;
    let head_ref = text(&hook, "/object_attributes/source_branch")?;
    let base_ref = text(&hook, "/object_attributes/target_branch")?;
    let source_project = hook.pointer("/object_attributes/source_project_id");
    let target_project = hook.pointer("/object_attributes/target_project_id");
    let fork = source_project != target_project;
    let merged =
        given == "merge" || attributes.get("state").and_then(Value::as_str) == Some("merged");
    let sender = full_name(&hook, "/user/username").unwrap_or_else(|| "unknown".into());
    let base_repo = full_name(&hook, "/object_attributes/target/path_with_namespace")
        .or_else(|| full_name(&hook, "/project/path_with_namespace"));
    // A fork's head repository is never named like the base (see `trust`).
    let head_repo = match full_name(&hook, "/object_attributes/source/path_with_namespace") {
        Some(path) if fork && Some(&path) == base_repo.as_ref() => None,
        Some(path) => Some(path),
        None if fork => None,
        None => base_repo.clone(),
    };
    let labels: Vec<Value> = hook
        .get("labels")
        .and_then(Value::as_array)
        .map(|labels| {
            labels
                .iter()
                .filter_map(|label| label.get("title"))
                .map(|title| json!({ "name": title }))
                .collect()
        })
        .unwrap_or_default();
    let state = if given == "merge" || given == "close" {
        "closed"
    } else {
        "open"
    };
    let payload = json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "title": attributes.get("title").cloned().unwrap_or(Value::Null),
            "body": attributes.get("description").cloned().unwrap_or(Value::Null),
            "state": state,
            "draft": attributes.get("draft").cloned().unwrap_or(Value::Bool(false)),
            "merged": merged,
            "merge_commit_sha": attributes.get("merge_commit_sha").cloned().unwrap_or(Value::Null),
            "html_url": attributes.get("url").cloned().unwrap_or(Value::Null),
            "user": { "login": sender },
            "labels": labels,
            "head": {
                "ref": head_ref,
                "sha": head_sha,
                "label": head_ref,
                "repo": { "full_name": head_repo, "fork": fork },
            },
            "base": {
                "ref": base_ref,
                "sha": Value::Null,
                "label": base_ref,
                "repo": { "full_name": base_repo, "fork": false },
            },
        },
        "repository": { "full_name": base_repo },
        "sender": { "login": sender },
    });
    Ok(Some(PullRequest {
        forge: ForgeKind::GitLab,
        number,
        action,
        head_sha,
        head_ref,
        base_ref,
        fork,
        merged,
        sender,
        payload,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn github(action: &str, head_repo: &str) -> Vec<u8> {
        json!({
            "action": action,
            "number": 7,
            "pull_request": {
                "number": 7,
                "head": {"ref": "feature", "sha": "a".repeat(40), "repo": {"full_name": head_repo, "fork": head_repo != "o/app"}},
                "base": {"ref": "main", "sha": "b".repeat(40), "repo": {"full_name": "o/app"}},
                "merged": false,
            },
            "repository": {"full_name": "o/app"},
            "sender": {"login": "ann"},
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn github_payloads_pass_through() {
        let pr = parse(ForgeKind::GitHub, &github("opened", "o/app"))
            .unwrap()
            .unwrap();
        assert_eq!((pr.number, pr.action.as_str()), (7, "opened"));
        assert_eq!(
            (pr.head_ref.as_str(), pr.base_ref.as_str()),
            ("feature", "main")
        );
        assert!(!pr.fork);
        assert_eq!(pr.sender, "ann");
        let fork = parse(ForgeKind::GitHub, &github("synchronize", "eve/app"))
            .unwrap()
            .unwrap();
        assert!(fork.fork);
    }

    #[test]
    fn gitea_actions_are_renamed() {
        let pr = parse(ForgeKind::Forgejo, &github("synchronized", "o/app"))
            .unwrap()
            .unwrap();
        assert_eq!(pr.action, "synchronize");
        assert_eq!(pr.payload["action"], "synchronize");
        let labeled = parse(ForgeKind::Gitea, &github("label_updated", "o/app"))
            .unwrap()
            .unwrap();
        assert_eq!(labeled.action, "labeled");
    }

    #[test]
    fn gitlab_merge_requests_become_pull_requests() {
        let hook = |action: &str, extra: Value| {
            let mut hook = json!({
                "object_kind": "merge_request",
                "user": {"username": "ann"},
                "project": {"path_with_namespace": "g/app"},
                "object_attributes": {
                    "iid": 3, "action": action, "source_branch": "feature", "target_branch": "main",
                    "last_commit": {"id": "c".repeat(40)}, "source_project_id": 1, "target_project_id": 1,
                    "title": "Add it",
                },
            });
            if let (Some(attributes), Value::Object(extra)) =
                (hook["object_attributes"].as_object_mut(), extra)
            {
                attributes.extend(extra);
            }
            hook.to_string().into_bytes()
        };
        let opened = parse(ForgeKind::GitLab, &hook("open", json!({})))
            .unwrap()
            .unwrap();
        assert_eq!((opened.number, opened.action.as_str()), (3, "opened"));
        assert_eq!(opened.payload["pull_request"]["head"]["ref"], "feature");
        assert_eq!(opened.payload["pull_request"]["title"], "Add it");
        let pushed = parse(ForgeKind::GitLab, &hook("update", json!({"oldrev": "d"})))
            .unwrap()
            .unwrap();
        assert_eq!(pushed.action, "synchronize");
        let merged = parse(ForgeKind::GitLab, &hook("merge", json!({})))
            .unwrap()
            .unwrap();
        assert!(merged.merged && merged.action == "closed");
        let fork = parse(
            ForgeKind::GitLab,
            &hook("open", json!({"source_project_id": 9})),
        )
        .unwrap()
        .unwrap();
        assert!(fork.fork);
        assert!(
            parse(ForgeKind::GitLab, &hook("approved", json!({})))
                .unwrap()
                .is_none()
        );
        let wrong = parse(ForgeKind::GitLab, br#"{"object_kind":"push"}"#).unwrap_err();
        assert!(wrong.to_string().contains("object_kind"), "{wrong}");
    }

    #[test]
    fn missing_fields_are_named() {
        let error = parse(ForgeKind::GitHub, br#"{"action":"opened","number":1}"#).unwrap_err();
        assert!(
            error.to_string().contains("pull_request.head.sha"),
            "{error}"
        );
    }
}
