//! The files a push changed, computed the way GitHub documents it for path filters, and the
//! commits a push brought.
//!
//! GitHub's rules (workflow syntax, "Git diff comparisons"):
//! - a push to an existing ref: a two-dot diff of the `before` and `after` trees;
//! - a push that creates a ref: a two-dot diff against the parent of the deepest commit pushed
//!   (the commits pushed are those no other ref had). In the common case of a branch made from the
//!   default branch this is its merge base with the default branch; a ref created at a commit
//!   other refs already had changed no file; an orphan branch changed every file it holds;
//! - more than 1,000 commits pushed: the changed files are unknown and path filters let the
//!   workflow run ([`ChangedPaths::Unknown`]);
//! - only the first 300 changed files are considered: a workflow whose paths match only files
//!   beyond them does not run ([`MAX_DIFF_FILES`]).
//!
//! Renames count as a removal plus an addition, so both names are changed paths. This module reads
//! git objects; it never writes.

use git2::{Oid, Repository, Sort};

use super::TriggerError;
use super::refs::RefUpdate;

/// GitHub considers only this many changed files for path filters.
pub const MAX_DIFF_FILES: usize = 300;
/// Past this many pushed commits GitHub does not compute the changed files and runs the workflow.
pub const MAX_COMMITS_FOR_DIFF: usize = 1000;

/// The files an event changed, as far as path filters are concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangedPaths {
    /// The changed files, sorted, at most [`MAX_DIFF_FILES`]; `total` counts all of them.
    Known {
        /// The changed files' paths from the repository root, sorted, deduplicated.
        paths: Vec<String>,
        /// How many files changed in all, including those past the limit.
        total: usize,
    },
    /// Not computed (too many commits, a commit the mirror lacks, or an event without a diff):
    /// path filters then do not exclude.
    Unknown {
        /// Why the paths are not known, for the decision's reason.
        reason: String,
    },
}

impl ChangedPaths {
    /// Paths given by hand (`slipway plan --paths`), with GitHub's limit applied.
    pub fn from_list(mut paths: Vec<String>) -> ChangedPaths {
        paths.sort();
        paths.dedup();
        let total = paths.len();
        paths.truncate(MAX_DIFF_FILES);
        ChangedPaths::Known { paths, total }
    }

    /// Known to change no file, e.g. a deleted ref.
    pub fn none() -> ChangedPaths {
        ChangedPaths::Known {
            paths: Vec::new(),
            total: 0,
        }
    }

    /// What the trigger filters take: `None` when unknown.
    pub fn for_filters(&self) -> Option<Vec<String>> {
        match self {
            ChangedPaths::Known { paths, .. } => Some(paths.clone()),
            ChangedPaths::Unknown { .. } => None,
        }
    }

    /// True when GitHub's file limit cut the list.
    pub fn is_truncated(&self) -> bool {
        matches!(self, ChangedPaths::Known { paths, total } if *total > paths.len())
    }
}

/// The commits a push brought, oldest first, and where its diff starts.
#[derive(Debug, Clone, PartialEq)]
pub struct PushedCommits {
    /// Oldest first; at most `limit` of them (see [`pushed_commits`]).
    pub commits: Vec<Oid>,
    /// More commits were pushed than the limit.
    pub over_limit: bool,
    /// The commit the changed files are counted from; `None` means the empty tree.
    pub diff_base: Option<Oid>,
}

/// The commits in `new` that none of `known` (the ref values before the push) reach, oldest
/// first, at most `limit`. For an update, `known` should hold the old value; for a created ref,
/// every other ref's value. `diff_base` follows GitHub's rules (see the module doc).
pub fn pushed_commits(
    repo: &Repository,
    new: Oid,
    old: Option<Oid>,
    known: &[Oid],
    limit: usize,
) -> Result<PushedCommits, TriggerError> {
    let new = peel_to_commit(repo, new)?;
    let mut walk = repo
        .revwalk()
        .map_err(TriggerError::git("walk pushed commits"))?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME)
        .map_err(TriggerError::git("walk pushed commits"))?;
    walk.push(new)
        .map_err(TriggerError::git(format!("walk commits from {new}")))?;
    for hidden in known.iter().chain(old.iter()) {
        // A ref value the mirror lacks (or that is no commit) hides nothing.
        if let Ok(hidden) = peel_to_commit(repo, *hidden) {
            let _ = walk.hide(hidden);
        }
    }
    let mut newest_first = Vec::new();
    let mut over_limit = false;
    for oid in walk {
        let oid = oid.map_err(TriggerError::git("walk pushed commits"))?;
        if newest_first.len() == limit {
            over_limit = true;
            break;
        }
        newest_first.push(oid);
    }
    let diff_base = match old {
        Some(old) => Some(peel_to_commit(repo, old)?),
        None => match newest_first.last() {
            // Nothing new was pushed: the ref was made at a commit other refs had.
            None => Some(new),
            Some(deepest) => repo
                .find_commit(*deepest)
                .ok()
                .and_then(|commit| commit.parent_id(0).ok()),
        },
    };
    newest_first.reverse();
    Ok(PushedCommits {
        commits: newest_first,
        over_limit,
        diff_base,
    })
}

/// The files `update` changed (see the module doc). `known` holds the ref values before the push
/// (other refs), used for a created ref.
pub fn changed_paths(
    repo: &Repository,
    update: &RefUpdate,
    known: &[Oid],
) -> Result<ChangedPaths, TriggerError> {
    let Some(new) = update.new else {
        return Ok(ChangedPaths::none());
    };
    if let Some(old) = update.old
        && peel_to_commit(repo, old).is_err()
    {
        return Ok(ChangedPaths::Unknown {
            reason: format!("the previous commit {old} is not in the repository"),
        });
    }
    let hidden: &[Oid] = if update.old.is_none() { known } else { &[] };
    let pushed = pushed_commits(repo, new, update.old, hidden, MAX_COMMITS_FOR_DIFF)?;
    if pushed.over_limit {
        return Ok(ChangedPaths::Unknown {
            reason: format!(
                "more than {MAX_COMMITS_FOR_DIFF} commits were pushed, so path filters do not apply"
            ),
        });
    }
    let paths = diff_paths(repo, pushed.diff_base, new)?;
    Ok(ChangedPaths::from_list(paths))
}

/// Every path that differs between the trees of `base` (the empty tree when `None`) and `head`.
pub fn diff_paths(
    repo: &Repository,
    base: Option<Oid>,
    head: Oid,
) -> Result<Vec<String>, TriggerError> {
    let head_tree = repo
        .find_object(head, None)
        .and_then(|object| object.peel_to_tree())
        .map_err(TriggerError::git(format!("read the tree of {head}")))?;
    let base_tree = match base {
        Some(base) => Some(
            repo.find_object(base, None)
                .and_then(|object| object.peel_to_tree())
                .map_err(TriggerError::git(format!("read the tree of {base}")))?,
        ),
        None => None,
    };
    let diff = repo
        .diff_tree_to_tree(base_tree.as_ref(), Some(&head_tree), None)
        .map_err(TriggerError::git(format!("diff {head} with its base")))?;
    let mut paths = Vec::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path().and_then(|p| p.to_str()) {
                paths.push(path.to_string());
            }
        }
    }
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// The commit an oid names, through annotated tags.
pub fn peel_to_commit(repo: &Repository, oid: Oid) -> Result<Oid, TriggerError> {
    repo.find_object(oid, None)
        .and_then(|object| object.peel_to_commit())
        .map(|commit| commit.id())
        .map_err(TriggerError::git(format!("find commit {oid}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_lists_are_sorted_deduplicated_and_capped() {
        let paths: Vec<String> = (0..400).rev().map(|i| format!("f{i:03}")).collect();
        let mut with_duplicate = paths.clone();
        with_duplicate.push("f000".into());
        let changed = ChangedPaths::from_list(with_duplicate);
        assert!(changed.is_truncated());
        let ChangedPaths::Known { paths, total } = changed else {
            panic!("expected known paths");
        };
        assert_eq!(total, 400);
        assert_eq!(paths.len(), MAX_DIFF_FILES);
        assert_eq!(paths.first().map(String::as_str), Some("f000"));
    }

    #[test]
    fn unknown_paths_do_not_reach_the_filters() {
        let unknown = ChangedPaths::Unknown { reason: "x".into() };
        assert_eq!(unknown.for_filters(), None);
        assert_eq!(ChangedPaths::none().for_filters(), Some(vec![]));
    }
}
