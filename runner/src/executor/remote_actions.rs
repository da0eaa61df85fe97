//! Where a remote action's files come from on this machine: a plain checkout in an action
//! directory (`slipway run --action-dir DIR`: `DIR/owner/repo@ref` or `DIR/owner/repo`), or the
//! pinned commit (`JobSpec::actions`) in the content-addressed cache shared by every job of this
//! runner (`<work dir>/_actions/<owner>/<repo>/<sha>`), filled from an [`ActionArchives`] (the
//! engine for a runner process, the engine's mirrors for `slipway run`).
//!
//! Filling the cache is safe when jobs race: an archive is unpacked into a temporary folder
//! beside its place and renamed into place; whoever renames first wins, the other's copy is
//! removed. A folder in place is therefore always complete.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use workflows::action::RemoteAction;

use super::artifacts::ArtifactFuture;
use super::job::JobRun;

/// Gives the archive (`.tar.gz` of the repository's tree) of an action repository at a commit.
/// The executor stays ignorant of HTTP and git: the runner's agent or `slipway run` provides it.
pub trait ActionArchives: Send + Sync + std::fmt::Debug {
    /// The gzipped tar archive of `repository` (`owner/repo`) at the full commit `sha`.
    fn archive<'a>(&'a self, repository: &'a str, sha: &'a str) -> ArtifactFuture<'a, Vec<u8>>;
}

/// A remote action's files on this machine.
#[derive(Debug, Clone)]
pub(super) struct LocatedAction {
    /// The action's own folder (the repository's root joined with the `uses:` path).
    pub dir: PathBuf,
    /// `owner/repo`, for `GITHUB_ACTION_REPOSITORY`.
    pub repository: String,
    /// The ref as written, for `GITHUB_ACTION_REF`.
    pub git_ref: String,
    /// The pinned commit, when there is one.
    pub sha: Option<String>,
    /// Whether the files were in place already (no download).
    pub cached: bool,
}

/// Keeps temporary folder names apart within one process.
static UNPACKS: AtomicU64 = AtomicU64::new(0);

impl JobRun<'_> {
    /// Finds (or fetches) the files of the remote action `uses`.
    pub(super) async fn locate_remote(
        &self,
        action: &RemoteAction,
        uses: &str,
    ) -> Result<LocatedAction, String> {
        let with_path = |root: PathBuf| {
            if action.path.is_empty() {
                root
            } else {
                root.join(&action.path)
            }
        };
        for base in &self.options.action_dirs {
            let owner_dir = base.join(&action.owner);
            for leaf in [
                format!("{}@{}", action.repo, action.git_ref),
                action.repo.clone(),
            ] {
                let root = owner_dir.join(leaf);
                if root.is_dir() {
                    return Ok(LocatedAction {
                        dir: with_path(root),
                        repository: action.repository(),
                        git_ref: action.git_ref.clone(),
                        sha: None,
                        cached: true,
                    });
                }
            }
        }
        let Some(sha) = self.spec.actions.get(uses).cloned() else {
            return Err(action.not_available());
        };
        if sha.len() != 40 || !sha.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("the pin of {uses} is not a commit sha: {sha}"));
        }
        let root = self
            .action_cache_dir()
            .join(action.owner.to_ascii_lowercase())
            .join(action.repo.to_ascii_lowercase())
            .join(&sha);
        let cached = root.is_dir();
        if !cached {
            let archives = self.options.action_archives.clone().ok_or_else(|| {
                format!(
                    "{uses} (commit {sha}) is not on this machine and there is nowhere to fetch it from"
                )
            })?;
            let bytes = archives
                .archive(&action.repository(), &sha)
                .await
                .map_err(|error| format!("failed to fetch {uses} at {sha}: {error}"))?;
            let target = root.clone();
            tokio::task::spawn_blocking(move || unpack_into_place(&bytes, &target))
                .await
                .map_err(|error| format!("failed to unpack {uses}: {error}"))??;
        }
        Ok(LocatedAction {
            dir: with_path(root),
            repository: action.repository(),
            git_ref: action.git_ref.clone(),
            sha: Some(sha),
            cached,
        })
    }

    /// The runner's cache of action commits.
    pub(super) fn action_cache_dir(&self) -> PathBuf {
        self.options
            .action_cache_dir
            .clone()
            .unwrap_or_else(|| self.options.work_dir.join("_actions"))
    }
}

/// Unpacks the gzipped tar `bytes` into a temporary folder beside `target`, then renames it
/// into place. Another job that got there first wins; its copy is kept.
pub fn unpack_into_place(bytes: &[u8], target: &Path) -> Result<(), String> {
    let parent = target
        .parent()
        .ok_or_else(|| format!("{} has no parent folder", target.display()))?;
    std::fs::create_dir_all(parent)
        .map_err(|error| format!("failed to create {}: {error}", parent.display()))?;
    let temp = parent.join(format!(
        ".unpack-{}-{}",
        std::process::id(),
        UNPACKS.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&temp);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    let unpacked = archive.unpack(&temp);
    if let Err(error) = unpacked {
        let _ = std::fs::remove_dir_all(&temp);
        return Err(format!("failed to unpack the action archive: {error}"));
    }
    match std::fs::rename(&temp, target) {
        Ok(()) => Ok(()),
        Err(_) if target.is_dir() => {
            let _ = std::fs::remove_dir_all(&temp);
            Ok(())
        }
        Err(error) => {
            let _ = std::fs::remove_dir_all(&temp);
            Err(format!(
                "failed to move the action into {}: {error}",
                target.display()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive_of(files: &[(&str, &str)]) -> Vec<u8> {
        let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut builder = tar::Builder::new(encoder);
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            builder
                .append_data(&mut header, path, text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap().finish().unwrap()
    }

    #[test]
    fn unpacks_once_and_keeps_the_first_copy() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("o").join("r").join("sha");
        unpack_into_place(&archive_of(&[("action.yml", "first")]), &target).unwrap();
        unpack_into_place(&archive_of(&[("action.yml", "second")]), &target).unwrap();
        assert_eq!(
            std::fs::read_to_string(target.join("action.yml")).unwrap(),
            "first"
        );
        let leftovers: Vec<_> = std::fs::read_dir(target.parent().unwrap())
            .unwrap()
            .flatten()
            .filter(|entry| entry.file_name().to_string_lossy().starts_with(".unpack"))
            .collect();
        assert!(leftovers.is_empty());
        assert!(unpack_into_place(b"not gzip", &dir.path().join("x")).is_err());
        assert!(!dir.path().join("x").exists());
    }

    #[test]
    fn racing_unpacks_all_succeed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("o").join("r").join("sha");
        let bytes = archive_of(&[("a/b.js", "x"), ("action.yml", "y")]);
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let bytes = bytes.clone();
                let target = target.clone();
                std::thread::spawn(move || unpack_into_place(&bytes, &target))
            })
            .collect();
        for handle in handles {
            handle.join().unwrap().unwrap();
        }
        assert_eq!(std::fs::read_to_string(target.join("a/b.js")).unwrap(), "x");
    }
}
