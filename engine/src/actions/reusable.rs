//! Remote reusable workflows (`jobs.<id>.uses: owner/repo/.github/workflows/x.yml@ref`) served
//! from the action mirrors: the repository is found (or fetched from the sources) exactly as an
//! action's, `@ref` is pinned to a full commit sha, and the file is read at that commit.
//!
//! Everything here is blocking git; callers run it on a blocking thread.

use std::path::Path;

use git2::{Oid, Repository};
use protocol::actions::{ActionMirror, ActionSource};

use super::{fetch_from_sources, mirror_path, resolve_ref, split_repository};

/// A remote call's reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWorkflow {
    /// The owner of the repository holding the workflow, e.g. `octo-org`.
    pub owner: String,
    /// The repository's name, without its owner.
    pub repo: String,
    /// The file in the repository, `.github/workflows/x.yml`.
    pub path: String,
    /// The ref after the `@`, as written: a tag, branch or commit sha.
    pub git_ref: String,
}

impl RemoteWorkflow {
    /// `owner/repo/path@ref` → its parts; `None` when it is not of that shape.
    pub fn parse(reference: &str) -> Option<RemoteWorkflow> {
        let (location, git_ref) = reference.trim().rsplit_once('@')?;
        let mut parts = location.splitn(3, '/');
        let (owner, repo, path) = (parts.next()?, parts.next()?, parts.next()?);
        split_repository(&format!("{owner}/{repo}")).ok()?;
        if git_ref.is_empty()
            || path.is_empty()
            || path
                .split('/')
                .any(|part| part.is_empty() || part == "." || part == "..")
        {
            return None;
        }
        Some(RemoteWorkflow {
            owner: owner.to_string(),
            repo: repo.to_string(),
            path: path.to_string(),
            git_ref: git_ref.to_string(),
        })
    }

    /// `owner/repo`.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.owner, self.repo)
    }
}

/// The message of a remote call that no mirror (nor source) can serve.
pub fn not_available(reference: &str, repository: &str) -> String {
    format!(
        "workflow {reference} is not available: mirror it with slipway action mirror {repository}"
    )
}

/// What reading a remote workflow found.
#[derive(Debug, Clone)]
pub struct ReadWorkflow {
    /// The full commit sha `@ref` was pinned to.
    pub sha: String,
    /// The file's text at that commit.
    pub text: String,
    /// The mirror record when the repository was fetched on the way.
    pub fetched: Option<ActionMirror>,
}

/// Reads the remote workflow `reference` from the mirrors under `data_dir`: at `pinned` when
/// given (a re-run), else at its ref resolved now. A repository not mirrored, or lacking the
/// ref, is fetched from `sources` (none: nothing is fetched). `Err` is the message of the call.
pub fn read_remote_workflow(
    data_dir: &Path,
    sources: &[ActionSource],
    reference: &str,
    pinned: Option<&str>,
) -> Result<ReadWorkflow, String> {
    let Some(remote) = RemoteWorkflow::parse(reference) else {
        return Err(format!(
            "`{reference}` is not a remote reusable workflow (owner/repo/.github/workflows/<file>.yml@ref)"
        ));
    };
    let path = mirror_path(data_dir, &remote.owner, &remote.repo);
    let wanted = pinned.unwrap_or(&remote.git_ref);
    let mut found = resolve_in(&path, wanted);
    let mut fetched = None;
    if found.is_none() && !sources.is_empty() {
        match fetch_from_sources(data_dir, sources, &remote.owner, &remote.repo) {
            Ok(record) => {
                fetched = Some(record);
                found = resolve_in(&path, wanted);
            }
            Err(error) => tracing::warn!(%error, %reference, "reusable workflow not fetched"),
        }
    }
    let Some(sha) = found else {
        return Err(not_available(reference, &remote.repository()));
    };
    let text = file_at(&path, sha, &remote.path).map_err(|message| {
        format!(
            "`{}` is not in commit {sha} of {}: {message}",
            remote.path,
            remote.repository()
        )
    })?;
    Ok(ReadWorkflow {
        sha: sha.to_string(),
        text,
        fetched,
    })
}

fn resolve_in(path: &Path, git_ref: &str) -> Option<Oid> {
    if !path.join("HEAD").exists() {
        return None;
    }
    let repo = Repository::open_bare(path).ok()?;
    resolve_ref(&repo, git_ref)
}

fn file_at(mirror: &Path, sha: Oid, file: &str) -> Result<String, String> {
    let repo = Repository::open_bare(mirror).map_err(|error| error.message().to_string())?;
    let tree = repo
        .find_commit(sha)
        .and_then(|commit| commit.tree())
        .map_err(|error| error.message().to_string())?;
    let entry = tree
        .get_path(Path::new(file))
        .map_err(|error| error.message().to_string())?;
    let blob = repo
        .find_blob(entry.id())
        .map_err(|error| error.message().to_string())?;
    Ok(String::from_utf8_lossy(blob.content()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_remote_references() {
        let parsed = RemoteWorkflow::parse("Org/tools/.github/workflows/build.yml@v1").unwrap();
        assert_eq!(parsed.repository(), "Org/tools");
        assert_eq!(parsed.path, ".github/workflows/build.yml");
        assert_eq!(parsed.git_ref, "v1");
        assert!(RemoteWorkflow::parse("o/r/.github/workflows/x.yml").is_none());
        assert!(RemoteWorkflow::parse("o/r/../x.yml@v1").is_none());
        assert!(RemoteWorkflow::parse("o@v1").is_none());
    }

    #[test]
    fn a_missing_mirror_is_not_available() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_remote_workflow(dir.path(), &[], "o/r/.github/workflows/x.yml@v1", None)
            .unwrap_err();
        assert_eq!(
            error,
            "workflow o/r/.github/workflows/x.yml@v1 is not available: mirror it with slipway action mirror o/r"
        );
    }
}
