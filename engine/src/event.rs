//! Events as GitHub shapes them: the `github` context and the event payload for a commit of a
//! repository, read with git2. Used by `slipway run` (the working copy's HEAD) and by the triggers.
//!
//! This module reads git; it never writes the repository.

use std::path::Path;

use serde_json::{Value, json};

/// The commit an event is about, and the identity GitHub would give it.
#[derive(Debug, Clone, PartialEq)]
pub struct EventSource {
    /// Full ref (`refs/heads/main`, `refs/tags/v1`); empty when the directory is not a repository.
    pub git_ref: String,
    pub sha: String,
    /// The parent commit (push `before`), zeros when there is none.
    pub before: String,
    /// `owner/name`.
    pub repository: String,
    pub actor: String,
    pub default_branch: String,
    /// A path or URL that git can clone the commit from.
    pub clone_from: String,
    pub head_commit: Option<Value>,
}

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

/// The `github` context for a run of `workflow_name` (file `workflow_file`), without the
/// runner-side fields (`workspace`, `job`, `action`) that the runner fills in.
pub fn github_context(
    event_name: &str,
    source: &EventSource,
    payload: &Value,
    workflow_name: &str,
    workflow_file: &str,
    run: (u64, u64, u64),
) -> Value {
    let (run_id, run_number, run_attempt) = run;
    let git_ref = payload
        .get("ref")
        .and_then(Value::as_str)
        .unwrap_or(&source.git_ref)
        .to_string();
    let (ref_type, ref_name) = if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        ("tag", tag.to_string())
    } else if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        ("branch", branch.to_string())
    } else {
        ("branch", git_ref.clone())
    };
    let (owner, _) = source.repository.split_once('/').unwrap_or(("local", ""));
    json!({
        "action": "",
        "action_path": "",
        "action_ref": "",
        "action_repository": "",
        "actor": source.actor,
        "actor_id": "0",
        "api_url": "https://slipway.invalid/api",
        "base_ref": "",
        "env": "",
        "event": payload,
        "event_name": event_name,
        "event_path": "",
        "graphql_url": "https://slipway.invalid/graphql",
        "head_ref": "",
        "job": "",
        "path": "",
        "ref": git_ref,
        "ref_name": ref_name,
        "ref_protected": false,
        "ref_type": ref_type,
        "repository": source.repository,
        "repository_id": "0",
        "repository_owner": owner,
        "repository_owner_id": "0",
        "repositoryUrl": source.clone_from,
        "retention_days": "90",
        "run_attempt": run_attempt.to_string(),
        "run_id": run_id.to_string(),
        "run_number": run_number.to_string(),
        "secret_source": "None",
        "server_url": "https://slipway.invalid",
        "sha": source.sha,
        "token": "",
        "triggering_actor": source.actor,
        "workflow": workflow_name,
        "workflow_ref": format!("{}/{}@{}", source.repository, workflow_file, git_ref),
        "workflow_sha": source.sha,
        "workspace": "",
    })
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
fn owner_and_name(url: &str) -> Option<String> {
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
        let payload = payload("push", &source, &Default::default());
        let github = github_context(
            "push",
            &source,
            &payload,
            "CI",
            ".github/workflows/ci.yml",
            (7, 3, 1),
        );
        assert_eq!(github["ref_type"], "tag");
        assert_eq!(github["ref_name"], "v1.2.0");
        assert_eq!(github["repository_owner"], "acme");
        assert_eq!(github["run_number"], "3");
        assert_eq!(github["event"]["after"], "a".repeat(40));
    }
}
