//! The built-in `actions/checkout`: the job's repository at the exact commit, into the workspace
//! (or `with: path:` under it), with `.git` present and HEAD detached at the commit.
//!
//! Only git2 is used (local paths and `file://` URLs; network transports are not compiled in). It
//! must not run user commands.
//!
//! A runner that cannot reach the repository gets the commit from the engine instead
//! (`POST /api/v1/jobs/{id}/source`: refs plus a packfile, see the engine's `api/source.rs` for
//! why a packfile). [`unpack_source`] indexes that packfile into a bare repository on this
//! machine as it arrives; the agent then points the job's checkout at it, so `check_out` (and so
//! `actions/checkout`) does the same local clone either way. This file does no HTTP itself.

use std::io::Write;
use std::path::Path;

use git2::{FetchOptions, Oid, Repository, build::CheckoutBuilder};
use protocol::job::Checkout;

#[derive(Debug, thiserror::Error)]
#[error("failed to check out {what}: {source}")]
pub struct CheckoutError {
    what: String,
    #[source]
    source: git2::Error,
}

/// Clones `checkout.repository` into `target` (emptied first) and detaches HEAD at the commit:
/// `wanted_ref` (a `with: ref:` input) when given, else `checkout.sha`. Returns the commit checked out.
pub(super) fn check_out(
    checkout: &Checkout,
    wanted_ref: Option<&str>,
    target: &Path,
) -> Result<String, CheckoutError> {
    let fail = |what: &str| {
        let what = format!("{what} ({} at {})", checkout.repository, checkout.sha);
        move |source: git2::Error| CheckoutError { what, source }
    };
    empty_directory(target)
        .map_err(|error| fail("the target directory")(git2::Error::from_str(&error.to_string())))?;
    let repository = Repository::init(target).map_err(fail("a new repository"))?;
    let mut remote = repository
        .remote("origin", &checkout.repository)
        .map_err(fail("the remote"))?;
    let refspecs = [
        "+refs/heads/*:refs/remotes/origin/*",
        "+refs/tags/*:refs/tags/*",
    ];
    remote
        .fetch(&refspecs, Some(&mut FetchOptions::new()), None)
        .map_err(fail("the repository"))?;

    let commit_id = match wanted_ref
        .map(str::trim)
        .filter(|wanted| !wanted.is_empty())
    {
        Some(wanted) => {
            resolve(&repository, &mut remote, wanted).map_err(fail(&format!("ref `{wanted}`")))?
        }
        None => {
            let oid = Oid::from_str(&checkout.sha).map_err(fail("the commit id"))?;
            if repository.find_commit(oid).is_err() {
                // The commit may be reachable from no branch or tag; ask for it by id.
                remote
                    .fetch(
                        &[checkout.sha.as_str()],
                        Some(&mut FetchOptions::new()),
                        None,
                    )
                    .map_err(fail("the commit"))?;
            }
            oid
        }
    };
    drop(remote);
    let commit = repository
        .find_commit(commit_id)
        .map_err(fail("the commit"))?;
    repository
        .set_head_detached(commit.id())
        .map_err(fail("HEAD"))?;
    repository
        .checkout_head(Some(CheckoutBuilder::new().force()))
        .map_err(fail("the working tree"))?;
    Ok(commit.id().to_string())
}

/// Makes a bare repository at `target` (emptied first) from a source answer: writes the
/// packfile `pack` yields, chunk by chunk, into its object database (git2 indexes and checks it
/// as it goes), then creates `refs` (name, target hex id) whose objects arrived. Fails when the
/// pack is cut off or corrupt, larger than `max_bytes`, or lacks `commit`.
pub fn unpack_source<I>(
    target: &Path,
    commit: &str,
    refs: &[(String, String)],
    pack: I,
    max_bytes: u64,
) -> Result<(), CheckoutError>
where
    I: IntoIterator<Item = Result<Vec<u8>, String>>,
{
    let fail = |what: &str| {
        let what = format!("{what} (the engine's copy of {commit})");
        move |source: git2::Error| CheckoutError { what, source }
    };
    let plain = |message: String| git2::Error::from_str(&message);
    empty_directory(target)
        .map_err(|error| fail("the source directory")(plain(error.to_string())))?;
    let repository = Repository::init_bare(target).map_err(fail("a local repository"))?;
    let commit_id = Oid::from_str(commit).map_err(fail("the commit id"))?;
    {
        let odb = repository.odb().map_err(fail("the object database"))?;
        let mut writer = odb.packwriter().map_err(fail("the pack writer"))?;
        let mut received: u64 = 0;
        for chunk in pack {
            let chunk = chunk.map_err(|message| fail("the pack")(plain(message)))?;
            received += chunk.len() as u64;
            if received > max_bytes {
                return Err(fail("the pack")(plain(format!(
                    "it is larger than {max_bytes} bytes"
                ))));
            }
            writer
                .write_all(&chunk)
                .map_err(|error| fail("the pack")(plain(error.to_string())))?;
        }
        writer.commit().map_err(fail("the pack"))?;
    }
    repository
        .find_commit(commit_id)
        .map_err(fail("the commit"))?;
    for (name, target_id) in refs {
        let Ok(target_id) = Oid::from_str(target_id) else {
            continue;
        };
        if !git2::Reference::is_valid_name(name) || repository.find_object(target_id, None).is_err()
        {
            continue;
        }
        repository
            .reference(name, target_id, true, "slipway: from the engine")
            .map_err(fail(&format!("ref `{name}`")))?;
    }
    Ok(())
}

/// Whether this machine can clone `repository` itself: a local path (or `file://` URL) that
/// opens as a git repository. Network URLs never can (git2 is built without its network
/// transports), so their jobs get the source from the engine.
pub fn reachable_locally(repository: &str) -> bool {
    let path = repository.strip_prefix("file://").unwrap_or(repository);
    if path.contains("://") {
        return false;
    }
    Repository::open(path).is_ok()
}

fn resolve(
    repository: &Repository,
    remote: &mut git2::Remote,
    wanted: &str,
) -> Result<Oid, git2::Error> {
    let candidates = [
        wanted.to_string(),
        format!("refs/remotes/origin/{wanted}"),
        format!("refs/tags/{wanted}"),
        wanted.replacen("refs/heads/", "refs/remotes/origin/", 1),
    ];
    for candidate in &candidates {
        if let Ok(object) = repository.revparse_single(candidate)
            && let Ok(commit) = object.peel_to_commit()
        {
            return Ok(commit.id());
        }
    }
    let oid = Oid::from_str(wanted)?;
    remote.fetch(&[wanted], Some(&mut FetchOptions::new()), None)?;
    Ok(repository.find_commit(oid)?.id())
}

/// Lays the files of the working tree at `source` over `target`: for a git repository the tracked
/// files plus untracked ones that are not ignored (so build output under `.gitignore` is not
/// copied), for any other directory every file. `.git` itself is never copied.
pub(super) fn copy_working_tree(source: &Path, target: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(target)?;
    let files = match Repository::open(source) {
        Ok(repository) if !repository.is_bare() => {
            tracked_and_untracked(&repository).map_err(std::io::Error::other)?
        }
        _ => every_file(source)?,
    };
    let mut copied = 0;
    for relative in files {
        let from = source.join(&relative);
        let to = target.join(&relative);
        let Ok(metadata) = std::fs::symlink_metadata(&from) else {
            continue; // deleted in the working tree but still in the index
        };
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if metadata.file_type().is_symlink() {
            let link = std::fs::read_link(&from)?;
            let _ = std::fs::remove_file(&to);
            std::os::unix::fs::symlink(link, &to)?;
        } else if metadata.is_file() {
            std::fs::copy(&from, &to)?;
        } else {
            continue;
        }
        copied += 1;
    }
    Ok(copied)
}

fn tracked_and_untracked(repository: &Repository) -> Result<Vec<std::path::PathBuf>, git2::Error> {
    let mut files = Vec::new();
    let index = repository.index()?;
    for entry in index.iter() {
        files.push(std::path::PathBuf::from(
            String::from_utf8_lossy(&entry.path).into_owned(),
        ));
    }
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(true)
        .include_ignored(false);
    for status in repository.statuses(Some(&mut options))?.iter() {
        if status.status().contains(git2::Status::WT_NEW)
            && let Ok(path) = status.path()
        {
            files.push(std::path::PathBuf::from(path));
        }
    }
    Ok(files)
}

fn every_file(root: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![std::path::PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in std::fs::read_dir(root.join(&relative))? {
            let entry = entry?;
            let name = entry.file_name();
            if relative.as_os_str().is_empty() && name == ".git" {
                continue;
            }
            let path = relative.join(&name);
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

fn empty_directory(target: &Path) -> std::io::Result<()> {
    if target.exists() {
        for entry in std::fs::read_dir(target)? {
            let path = entry?.path();
            if path.is_dir() && !path.is_symlink() {
                std::fs::remove_dir_all(&path)?;
            } else {
                std::fs::remove_file(&path)?;
            }
        }
    }
    std::fs::create_dir_all(target)
}

#[cfg(test)]
mod unpack_tests {
    use super::*;

    /// A repository with two commits and a tag on the first; returns it, the pack of the second
    /// commit's history and the commit ids.
    fn packed() -> (tempfile::TempDir, Vec<u8>, Oid, Oid) {
        let temp = tempfile::tempdir().unwrap();
        let repository = Repository::init(temp.path().join("source")).unwrap();
        let signature = git2::Signature::now("Dev", "dev@example.org").unwrap();
        let mut parents = Vec::new();
        for text in ["one", "two"] {
            let blob = repository.blob(text.as_bytes()).unwrap();
            let mut tree = repository.treebuilder(None).unwrap();
            tree.insert("file.txt", blob, 0o100644).unwrap();
            let tree = repository.find_tree(tree.write().unwrap()).unwrap();
            let parent_commits: Vec<git2::Commit> = parents
                .iter()
                .map(|id| repository.find_commit(*id).unwrap())
                .collect();
            let parent_refs: Vec<&git2::Commit> = parent_commits.iter().collect();
            let id = repository
                .commit(None, &signature, &signature, text, &tree, &parent_refs)
                .unwrap();
            parents = vec![id];
        }
        let second = parents[0];
        let first = repository
            .find_commit(second)
            .unwrap()
            .parent_id(0)
            .unwrap();
        let mut builder = repository.packbuilder().unwrap();
        let mut walk = repository.revwalk().unwrap();
        walk.push(second).unwrap();
        builder.insert_walk(&mut walk).unwrap();
        let mut pack = Vec::new();
        builder
            .foreach(|data| {
                pack.extend_from_slice(data);
                true
            })
            .unwrap();
        (temp, pack, first, second)
    }

    fn chunks(pack: &[u8]) -> Vec<Result<Vec<u8>, String>> {
        pack.chunks(100).map(|chunk| Ok(chunk.to_vec())).collect()
    }

    #[test]
    fn a_whole_pack_makes_a_repository_with_the_commit_and_the_refs() {
        let (temp, pack, first, second) = packed();
        let target = temp.path().join("copy.git");
        let refs = [
            ("refs/heads/main".to_string(), second.to_string()),
            ("refs/tags/v1".to_string(), first.to_string()),
            ("refs/tags/missing".to_string(), "1".repeat(40)),
        ];
        unpack_source(&target, &second.to_string(), &refs, chunks(&pack), u64::MAX).unwrap();
        let copy = Repository::open_bare(&target).unwrap();
        assert_eq!(copy.refname_to_id("refs/heads/main").unwrap(), second);
        assert_eq!(copy.refname_to_id("refs/tags/v1").unwrap(), first);
        assert!(copy.find_reference("refs/tags/missing").is_err());
    }

    #[test]
    fn a_cut_off_oversized_or_failed_pack_is_refused() {
        let (temp, pack, _, second) = packed();
        let target = temp.path().join("copy.git");
        let sha = second.to_string();
        let cut = chunks(pack.get(..pack.len() - 30).unwrap());
        assert!(unpack_source(&target, &sha, &[], cut, u64::MAX).is_err());
        let too_big = u64::try_from(pack.len()).unwrap() - 1;
        assert!(unpack_source(&target, &sha, &[], chunks(&pack), too_big).is_err());
        let mut failed = chunks(&pack);
        failed.push(Err("the engine cut the answer off".to_string()));
        let error = unpack_source(&target, &sha, &[], failed, u64::MAX).unwrap_err();
        assert!(error.to_string().contains("cut the answer off"), "{error}");
        // The commit must be the one asked for.
        let other = "2".repeat(40);
        assert!(unpack_source(&target, &other, &[], chunks(&pack), u64::MAX).is_err());
    }
}
