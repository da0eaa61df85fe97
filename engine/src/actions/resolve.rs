//! Pinning: every remote `uses:` of a run resolved to a full commit sha in the engine's mirrors
//! when the run is planned, so a tag moved later changes nothing for the run (or its re-runs).
//!
//! A ref is looked up as GitHub does: a full sha, then a tag, then a branch, then a short sha.
//! An action not mirrored (or whose ref the mirror lacks) is fetched from the sources when there
//! are any; one still missing is recorded as unavailable with the message its jobs fail with.
//! Composite actions are read at their pinned commit and their own `uses:` pinned too.

use std::collections::HashSet;
use std::path::Path;

use git2::{Oid, Repository};
use indexmap::IndexMap;
use protocol::actions::{ActionMirror, ActionSource};
use serde::{Deserialize, Serialize};
use workflows::action::{BuiltIn, RemoteAction, parse_action};
use workflows::model::Workflow;

use super::{fetch_from_sources, mirror_path};

/// What pinning a run's actions found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Pins {
    /// `uses` as written → full commit sha.
    pub pinned: IndexMap<String, String>,
    /// `uses` as written → why it is not available (the message its jobs fail with).
    pub unavailable: IndexMap<String, String>,
}

/// Composite actions using composite actions: deeper than this is not followed.
const MAX_DEPTH: usize = 10;

/// The remote `uses:` of every step of every job, in order, without repeats (`actions/checkout`,
/// always built in, left out).
pub fn remote_uses_of(workflow: &Workflow) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut uses = Vec::new();
    for job in workflow.jobs.values() {
        for step in &job.steps {
            let Some(value) = &step.uses else { continue };
            let value = value.value.trim().to_string();
            let Some(action) = RemoteAction::parse(&value) else {
                continue;
            };
            if action.built_in() != BuiltIn::Always && seen.insert(value.clone()) {
                uses.push(value);
            }
        }
    }
    uses
}

/// Resolves `git_ref` in `repo` to a commit: a full sha, a tag, a branch, then a short sha.
pub fn resolve_ref(repo: &Repository, git_ref: &str) -> Option<Oid> {
    let git_ref = git_ref.trim();
    let is_hex = !git_ref.is_empty() && git_ref.chars().all(|c| c.is_ascii_hexdigit());
    if is_hex
        && git_ref.len() == 40
        && let Ok(oid) = Oid::from_str(git_ref)
    {
        return repo.find_commit(oid).ok().map(|commit| commit.id());
    }
    for name in [
        format!("refs/tags/{git_ref}"),
        format!("refs/heads/{git_ref}"),
    ] {
        if let Ok(reference) = repo.find_reference(&name)
            && let Ok(commit) = reference.peel_to_commit()
        {
            return Some(commit.id());
        }
    }
    if is_hex && git_ref.len() >= 4 {
        return repo
            .revparse_single(git_ref)
            .ok()
            .and_then(|object| object.peel_to_commit().ok())
            .map(|commit| commit.id());
    }
    None
}

/// Pins `uses` (and the `uses:` of composite actions among them); also the mirror records of the
/// repositories fetched on the way.
pub(crate) fn pin_all(
    data_dir: &Path,
    sources: &[ActionSource],
    uses: Vec<String>,
) -> (Pins, Vec<ActionMirror>) {
    let mut pins = Pins::default();
    let mut fetched: Vec<ActionMirror> = Vec::new();
    let mut queue: Vec<(String, usize)> = uses.into_iter().rev().map(|u| (u, 0)).collect();
    let mut tried_fetch: HashSet<String> = HashSet::new();
    while let Some((uses, depth)) = queue.pop() {
        if pins.pinned.contains_key(&uses) || pins.unavailable.contains_key(&uses) {
            continue;
        }
        let Some(action) = RemoteAction::parse(&uses) else {
            continue;
        };
        let built_in = action.built_in();
        if built_in == BuiltIn::Always {
            continue;
        }
        let path = mirror_path(data_dir, &action.owner, &action.repo);
        let mut found = resolve_in_mirror(&path, &action.git_ref);
        // A built-in's real action runs only when it is mirrored already: it is never fetched.
        let repository = action.repository().to_ascii_lowercase();
        if found.is_none()
            && built_in == BuiltIn::No
            && !sources.is_empty()
            && tried_fetch.insert(repository)
        {
            match fetch_from_sources(data_dir, sources, &action.owner, &action.repo) {
                Ok(record) => {
                    fetched.push(record);
                    found = resolve_in_mirror(&path, &action.git_ref);
                }
                Err(error) => tracing::warn!(%error, %uses, "action not fetched"),
            }
        }
        match found {
            Some(sha) => {
                if depth < MAX_DEPTH {
                    for nested in nested_uses(&path, sha, &action.path) {
                        queue.push((nested, depth + 1));
                    }
                }
                pins.pinned.insert(uses, sha.to_string());
            }
            None if built_in == BuiltIn::UnlessMirrored => {}
            None => {
                pins.unavailable.insert(uses, action.not_available());
            }
        }
    }
    (pins, fetched)
}

fn resolve_in_mirror(path: &Path, git_ref: &str) -> Option<Oid> {
    if !path.join("HEAD").exists() {
        return None;
    }
    let repo = Repository::open_bare(path).ok()?;
    resolve_ref(&repo, git_ref)
}

/// The remote `uses:` of the composite action at `action_path` in commit `sha` of the mirror.
fn nested_uses(mirror: &Path, sha: Oid, action_path: &str) -> Vec<String> {
    let Some((file, text)) = metadata_at(mirror, sha, action_path) else {
        return Vec::new();
    };
    let (Some(action), _) = parse_action(&file, &text) else {
        return Vec::new();
    };
    if !action.runs.is_composite() {
        return Vec::new();
    }
    action
        .runs
        .steps
        .iter()
        .filter_map(|step| step.uses.as_ref())
        .map(|uses| uses.value.trim().to_string())
        .filter(|uses| RemoteAction::parse(uses).is_some())
        .collect()
}

/// The metadata file (`action.yml` or `action.yaml` in `action_path`) at commit `sha` of the
/// mirror: its path in the repository and its text.
pub fn metadata_at(mirror: &Path, sha: Oid, action_path: &str) -> Option<(String, String)> {
    let repo = Repository::open_bare(mirror).ok()?;
    let tree = repo
        .find_commit(sha)
        .and_then(|commit| commit.tree())
        .ok()?;
    let base = Path::new(action_path);
    ["action.yml", "action.yaml"].iter().find_map(|name| {
        let entry = tree.get_path(&base.join(name)).ok()?;
        let blob = repo.find_blob(entry.id()).ok()?;
        Some((
            base.join(name).display().to_string(),
            String::from_utf8_lossy(blob.content()).to_string(),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(repo: &Repository, message: &str) -> Oid {
        let signature = git2::Signature::now("t", "t@example.com").unwrap();
        let tree_id = {
            let mut index = repo.index().unwrap();
            index.write_tree().unwrap()
        };
        let tree = repo.find_tree(tree_id).unwrap();
        let parents: Vec<git2::Commit> = repo
            .head()
            .ok()
            .and_then(|head| head.peel_to_commit().ok())
            .into_iter()
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(
            Some("HEAD"),
            &signature,
            &signature,
            message,
            &tree,
            &parents,
        )
        .unwrap()
    }

    #[test]
    fn resolves_tags_branches_and_shas() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let first = commit(&repo, "one");
        let object = repo.find_object(first, None).unwrap();
        repo.tag_lightweight("v1", &object, false).unwrap();
        let second = commit(&repo, "two");
        let head = repo.head().unwrap().shorthand().unwrap().to_string();
        let check = |git_ref: &str, expected: Option<Oid>| {
            assert_eq!(resolve_ref(&repo, git_ref), expected, "{git_ref}");
        };
        check("v1", Some(first));
        check(&head, Some(second));
        check(&first.to_string(), Some(first));
        check(&second.to_string()[..7], Some(second));
        check("v2", None);
        check(&"0".repeat(40), None);
        check("", None);
    }
}
