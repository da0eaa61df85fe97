//! A pull request's commits in the mirror: its head fetched from the forge's head ref into
//! `refs/pull/N/head`, and the commit a `pull_request` run is at — the merge of the head into
//! the base branch's tip, kept at `refs/pull/N/merge`. The forge's own merge preview is used when
//! it has one whose parents are exactly (base tip, head); otherwise the engine merges itself
//! (git2, in memory; a conflict means no merge commit). Also the files the pull request changes,
//! as GitHub counts them for `paths` filters: the head's tree against the merge base's.
//!
//! Blocking git work: call it on a blocking thread. It writes only the mirror's `refs/pull/*`
//! and the objects of the merge commit; the mirror's fetch never prunes those refs.

use git2::{Oid, Repository, Signature, Time};

use super::ForgeKind;
use super::pull::PullRequest;
use crate::repos::triggers::paths::{ChangedPaths, diff_paths, peel_to_commit};
use crate::repos::triggers::{Mirror, TriggerError};

/// What the mirror holds for one pull request event.
#[derive(Debug, Clone, PartialEq)]
pub struct PullCommits {
    /// The pull request's head commit, fetched into the mirror.
    pub head: Oid,
    /// The base branch's tip (`None` when the base branch does not exist).
    pub base: Option<Oid>,
    /// Whether the head merges into the base, and the merge commit when it does.
    pub outcome: MergeOutcome,
    /// The files the pull request changes, for `paths` filters.
    pub changed: ChangedPaths,
}

/// The merge of the head into the base.
#[derive(Debug, Clone, PartialEq)]
pub enum MergeOutcome {
    /// A merge commit at `refs/pull/N/merge`; `by_forge` when it is the forge's own.
    Merged {
        /// The merge commit's id in the mirror.
        commit: Oid,
        /// The forge built the commit (its own `refs/pull/N/merge`), not the engine.
        by_forge: bool,
    },
    /// The head does not merge cleanly; the paths in conflict.
    Conflict {
        /// The repository paths git reported in conflict.
        paths: Vec<String>,
    },
    /// No base branch to merge into.
    NoBase,
}

/// Fetches the pull request's head (and the forge's merge preview, when it offers one), then
/// finds or builds the merge commit. The mirror's branches must have been fetched first.
pub fn prepare(mirror: &Mirror, pull: &PullRequest) -> Result<PullCommits, TriggerError> {
    let repo = mirror.repository();
    let number = pull.number;
    let head_ref = format!("refs/pull/{number}/head");
    let head = Oid::from_str(&pull.head_sha).map_err(|_| {
        TriggerError::Invalid(format!(
            "read webhook body: head sha `{}` is not a commit id",
            pull.head_sha
        ))
    })?;
    let fetched = mirror.fetch_refspecs(&[format!("+{}:{head_ref}", pull.forge.head_ref(number))]);
    if repo.find_commit(head).is_err() {
        let why = fetched.err().map(|e| format!(": {e}")).unwrap_or_default();
        return Err(TriggerError::Invalid(format!(
            "fetch the head {head} of pull request #{number}{why}"
        )));
    }
    // The event names the head; the ref may have moved on since (a later event follows).
    repo.reference(&head_ref, head, true, "slipway: pull request head")
        .map_err(TriggerError::git(format!("write {head_ref}")))?;
    let base = repo
        .refname_to_id(&format!("refs/heads/{}", pull.base_ref))
        .ok()
        .and_then(|oid| peel_to_commit(repo, oid).ok());
    let changed = changed_files(repo, base, head)?;
    let Some(base) = base else {
        return Ok(PullCommits {
            head,
            base: None,
            outcome: MergeOutcome::NoBase,
            changed,
        });
    };
    let merge_ref = format!("refs/pull/{number}/merge");
    if let Some(commit) = forge_merge(mirror, pull.forge, number, base, head) {
        repo.reference(&merge_ref, commit, true, "slipway: the forge's merge")
            .map_err(TriggerError::git(format!("write {merge_ref}")))?;
        return Ok(PullCommits {
            head,
            base: Some(base),
            outcome: MergeOutcome::Merged {
                commit,
                by_forge: true,
            },
            changed,
        });
    }
    let outcome = match merge(repo, base, head, &pull.head_ref, &pull.base_ref, number)? {
        Ok(commit) => {
            repo.reference(&merge_ref, commit, true, "slipway: pull request merge")
                .map_err(TriggerError::git(format!("write {merge_ref}")))?;
            MergeOutcome::Merged {
                commit,
                by_forge: false,
            }
        }
        Err(paths) => MergeOutcome::Conflict { paths },
    };
    Ok(PullCommits {
        head,
        base: Some(base),
        outcome,
        changed,
    })
}

/// The forge's merge preview, when it has one made from this exact base and head.
fn forge_merge(
    mirror: &Mirror,
    forge: ForgeKind,
    number: u64,
    base: Oid,
    head: Oid,
) -> Option<Oid> {
    let source = forge.merge_ref(number)?;
    let local = format!("refs/pull/{number}/forge-merge");
    mirror
        .fetch_refspecs(&[format!("+{source}:{local}")])
        .ok()?;
    let repo = mirror.repository();
    let commit = repo
        .refname_to_id(&local)
        .ok()
        .and_then(|oid| repo.find_commit(oid).ok())?;
    let parents: Vec<Oid> = commit.parent_ids().collect();
    (parents == [base, head]).then(|| commit.id())
}

/// Merges `head` into `base` in memory. `Ok(Err(paths))`: the paths in conflict. The commit is
/// the same for the same base and head (its time is the later of theirs), so a repeated event
/// makes no second merge commit.
pub fn merge(
    repo: &Repository,
    base: Oid,
    head: Oid,
    head_name: &str,
    base_name: &str,
    number: u64,
) -> Result<Result<Oid, Vec<String>>, TriggerError> {
    let tree_id = match merged_tree(repo, base, head)? {
        Ok(tree) => tree,
        Err(paths) => return Ok(Err(paths)),
    };
    let base_commit = repo
        .find_commit(base)
        .map_err(TriggerError::git(format!("read the base commit {base}")))?;
    let head_commit = repo
        .find_commit(head)
        .map_err(TriggerError::git(format!("read the head commit {head}")))?;
    let tree = repo
        .find_tree(tree_id)
        .map_err(TriggerError::git("read the merge tree"))?;
    let seconds = base_commit
        .committer()
        .when()
        .seconds()
        .max(head_commit.committer().when().seconds());
    let signature = Signature::new("Slipway", "slipway@localhost", &Time::new(seconds, 0))
        .map_err(TriggerError::git("make the merge signature"))?;
    let message = format!(
        "Merge {head} into {base}\n\nPull request #{number}: {head_name} into {base_name}\n"
    );
    repo.commit(
        None,
        &signature,
        &signature,
        &message,
        &tree,
        &[&base_commit, &head_commit],
    )
    .map(Ok)
    .map_err(TriggerError::git("write the merge commit"))
}

/// The tree of `head` merged into `base` (written to the object database, no ref), or the
/// paths in conflict.
pub fn merged_tree(
    repo: &Repository,
    base: Oid,
    head: Oid,
) -> Result<Result<Oid, Vec<String>>, TriggerError> {
    let base_commit = repo
        .find_commit(base)
        .map_err(TriggerError::git(format!("read the base commit {base}")))?;
    let head_commit = repo
        .find_commit(head)
        .map_err(TriggerError::git(format!("read the head commit {head}")))?;
    let mut index = repo
        .merge_commits(&base_commit, &head_commit, None)
        .map_err(TriggerError::git(format!("merge {head} into {base}")))?;
    if index.has_conflicts() {
        let mut paths: Vec<String> = index
            .conflicts()
            .map_err(TriggerError::git("list merge conflicts"))?
            .flatten()
            .filter_map(|conflict| {
                conflict
                    .our
                    .or(conflict.their)
                    .or(conflict.ancestor)
                    .map(|entry| String::from_utf8_lossy(&entry.path).into_owned())
            })
            .collect();
        paths.sort();
        paths.dedup();
        return Ok(Err(paths));
    }
    index
        .write_tree_to(repo)
        .map(Ok)
        .map_err(TriggerError::git("write the merge tree"))
}

/// The files the pull request changes: the head against its merge base with the base branch
/// (GitHub's three-dot diff); every file of the head when they share no history.
pub fn changed_files(
    repo: &Repository,
    base: Option<Oid>,
    head: Oid,
) -> Result<ChangedPaths, TriggerError> {
    let from = base.and_then(|base| repo.merge_base(base, head).ok());
    Ok(ChangedPaths::from_list(diff_paths(repo, from, head)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn commit(repo: &Repository, parent: Option<Oid>, files: &[(&str, &str)], when: i64) -> Oid {
        let mut builder = repo
            .treebuilder(
                parent
                    .map(|p| repo.find_commit(p).unwrap().tree().unwrap())
                    .as_ref(),
            )
            .unwrap();
        for (name, text) in files {
            let blob = repo.blob(text.as_bytes()).unwrap();
            builder.insert(name, blob, 0o100644).unwrap();
        }
        let tree = repo.find_tree(builder.write().unwrap()).unwrap();
        let who = Signature::new("T", "t@example", &Time::new(when, 0)).unwrap();
        let parents: Vec<git2::Commit> = parent
            .into_iter()
            .map(|p| repo.find_commit(p).unwrap())
            .collect();
        let parents: Vec<&git2::Commit> = parents.iter().collect();
        repo.commit(None, &who, &who, "c", &tree, &parents).unwrap()
    }

    #[test]
    fn merges_are_built_once_and_conflicts_named() {
        let temp = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(Path::new(temp.path())).unwrap();
        let root = commit(&repo, None, &[("a", "1"), ("b", "1")], 10);
        let base = commit(&repo, Some(root), &[("a", "2")], 20);
        let head = commit(&repo, Some(root), &[("b", "2"), ("c", "new")], 30);
        let merged = merge(&repo, base, head, "f", "main", 1).unwrap().unwrap();
        let again = merge(&repo, base, head, "f", "main", 1).unwrap().unwrap();
        assert_eq!(merged, again, "the same inputs make the same commit");
        let commit_ = repo.find_commit(merged).unwrap();
        assert_eq!(commit_.parent_ids().collect::<Vec<_>>(), vec![base, head]);
        let tree = commit_.tree().unwrap();
        for (name, text) in [("a", "2"), ("b", "2"), ("c", "new")] {
            let blob = repo.find_blob(tree.get_name(name).unwrap().id()).unwrap();
            assert_eq!(blob.content(), text.as_bytes(), "{name}");
        }
        let changed = changed_files(&repo, Some(base), head).unwrap();
        assert_eq!(changed.for_filters().unwrap(), vec!["b", "c"]);
        let clash = commit(&repo, Some(root), &[("a", "3")], 40);
        let conflict = merge(&repo, base, clash, "g", "main", 2).unwrap();
        assert_eq!(conflict.unwrap_err(), vec!["a".to_string()]);
    }
}
