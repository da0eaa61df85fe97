//! Git reads of the deployments service: the version guard's ancestry and a commit's time.
//! git2 blocks, so each read runs on a blocking thread (`tokio::task::spawn_blocking`) and the
//! async callers await it; nothing here runs on the async executor. It must not write to a
//! repository nor decide anything (the guard's rule is `deploy::check_version`).

use std::path::{Path, PathBuf};

use jiff::Timestamp;

/// Which of two commits descends from the other, read once for the version guard.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Ancestry {
    first: String,
    second: String,
    first_is_ancestor_of_second: bool,
    second_is_ancestor_of_first: bool,
}

impl Ancestry {
    /// Reads both directions between `first` and `second` in the repository at `path` (no
    /// repository, or one that cannot be read: neither descends from the other).
    pub(super) async fn read(path: Option<PathBuf>, first: &str, second: &str) -> Ancestry {
        let mut ancestry = Ancestry {
            first: first.to_string(),
            second: second.to_string(),
            ..Ancestry::default()
        };
        let Some(path) = path else {
            return ancestry;
        };
        let (first, second) = (first.to_string(), second.to_string());
        let read = tokio::task::spawn_blocking(move || {
            (
                is_ancestor(&path, &first, &second),
                is_ancestor(&path, &second, &first),
            )
        })
        .await;
        if let Ok((forward, backward)) = read {
            ancestry.first_is_ancestor_of_second = forward;
            ancestry.second_is_ancestor_of_first = backward;
        }
        ancestry
    }

    /// Whether `ancestor` is an ancestor of `descendant`, for the two commits read.
    pub(super) fn is_ancestor(&self, ancestor: &str, descendant: &str) -> bool {
        if ancestor == self.first && descendant == self.second {
            self.first_is_ancestor_of_second
        } else if ancestor == self.second && descendant == self.first {
            self.second_is_ancestor_of_first
        } else {
            false
        }
    }
}

/// The committer time of `sha` in the repository at `path`, read on a blocking thread.
pub(super) async fn commit_time(path: Option<PathBuf>, sha: &str) -> Option<Timestamp> {
    let path = path?;
    let sha = sha.to_string();
    tokio::task::spawn_blocking(move || read_commit_time(&path, &sha))
        .await
        .ok()
        .flatten()
}

/// Whether `ancestor` is an ancestor of `descendant` in the repository at `path` (blocking).
fn is_ancestor(path: &Path, ancestor: &str, descendant: &str) -> bool {
    let Ok(repository) = git2::Repository::open(path) else {
        return false;
    };
    let (Ok(ancestor), Ok(descendant)) = (
        git2::Oid::from_str(ancestor),
        git2::Oid::from_str(descendant),
    ) else {
        return false;
    };
    repository
        .graph_descendant_of(descendant, ancestor)
        .unwrap_or(false)
}

fn read_commit_time(path: &Path, sha: &str) -> Option<Timestamp> {
    let repository = git2::Repository::open(path).ok()?;
    let commit = repository
        .find_commit(git2::Oid::from_str(sha).ok()?)
        .ok()?;
    Timestamp::from_second(commit.time().seconds()).ok()
}
