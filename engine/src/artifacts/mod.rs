//! Artifacts live in the engine, not on the runner that made them: a job's `upload-artifact` sends
//! its files here, any job of the same run — on any runner — and any later attempt of that run
//! downloads them, and `slipway artifacts RUN` lists and fetches them.
//!
//! Layout under `<data>/artifacts/`: one folder per *run family* (the first attempt's run id; a
//! re-run's attempts share it, so a re-run sees the artifacts of the jobs it kept), in it one folder
//! per artifact holding its files and `.manifest.json`. Uploads are staged under
//! `<family>/.staging/<job>-<fencing token>/<name>/` and become visible all at once when the runner
//! commits them: every file's size and SHA-256 are checked against the manifest, then the staged
//! folder is renamed into place, so a reader never sees half an artifact and a crash mid-upload
//! leaves only staging that the sweep removes.
//!
//! Limits: [`MAX_ARTIFACT_BYTES`] per artifact, [`MAX_ARTIFACT_FILES`] files; names and paths are
//! checked before anything touches the disk. Retention: [`DEFAULT_RETENTION_DAYS`] (GitHub's
//! default and maximum) unless the step asks for fewer; [`sweep`] deletes what expired.
//!
//! This module does plain blocking file work: callers on the async runtime run it on a blocking
//! thread. It must not know HTTP (that is `api::artifacts`).

pub mod blobs;
pub mod caches;

use std::fs;
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use protocol::artifacts::{ArtifactFile, ArtifactManifest};
use sha2::{Digest, Sha256};

use crate::store::{RunId, Store, StoreError};

/// The largest artifact (sum of its files) the engine keeps.
pub const MAX_ARTIFACT_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// The most files one artifact may hold.
pub const MAX_ARTIFACT_FILES: usize = 100_000;
/// How long an artifact is kept when the step does not say (GitHub's default and maximum).
pub const DEFAULT_RETENTION_DAYS: u32 = 90;
/// Staged uploads older than this that were never committed are removed by the sweep.
const STAGING_MAX_AGE_US: u64 = 24 * 3600 * 1_000_000;
/// The name of the manifest file inside an artifact's folder.
const MANIFEST_FILE: &str = ".manifest.json";
const STAGING_DIR: &str = ".staging";

/// Why an artifact call failed. Messages read after "failed to …".
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The artifact name is empty, too long or has a character or form that is not allowed.
    #[error("store artifact: invalid artifact name `{name}`: {reason}")]
    InvalidName {
        /// The name as given by the step or the command line.
        name: String,
        /// Which rule the name breaks, e.g. "contains a path separator".
        reason: &'static str,
    },
    /// A file path inside the artifact is absolute, climbs out with `..` or is otherwise unsafe.
    #[error("store artifact `{name}`: invalid file path `{path}`: {reason}")]
    InvalidPath {
        /// The artifact the file belongs to.
        name: String,
        /// The file's path relative to the artifact's root, as given.
        path: String,
        /// Which rule the path breaks.
        reason: &'static str,
    },
    /// This run attempt already committed an artifact of that name and the upload did not ask
    /// for `overwrite`.
    #[error(
        "store artifact `{name}`: an artifact with this name was already uploaded in this run attempt (set `overwrite: true` to replace it)"
    )]
    Exists {
        /// The name already taken.
        name: String,
    },
    /// No committed artifact of that name in the run's family.
    #[error("find artifact `{name}` in run {run}")]
    NotFound {
        /// The artifact asked for.
        name: String,
        /// The run id it was looked up in, as text.
        run: String,
    },
    /// The artifact exists but its manifest does not list the file asked for.
    #[error("find file `{path}` of artifact `{name}`")]
    FileNotFound {
        /// The artifact looked in.
        name: String,
        /// The file's path relative to the artifact's root.
        path: String,
    },
    /// The artifact has more files than [`MAX_ARTIFACT_FILES`] or more bytes than
    /// [`MAX_ARTIFACT_BYTES`] (or a cache entry is over its limit).
    #[error(
        "store artifact `{name}`: {what} is {value}, over the limit of {limit} (MAX_ARTIFACT_{kind})"
    )]
    TooLarge {
        /// The artifact (or cache key) that is too large.
        name: String,
        /// What was measured, e.g. "the artifact's size" or "the number of files".
        what: &'static str,
        /// The measured amount (bytes or files).
        value: u64,
        /// The limit it went over, in the same unit.
        limit: u64,
        /// Which limit constant applies: `BYTES` or `FILES`.
        kind: &'static str,
    },
    /// A staged file does not match the manifest: missing, of another size or another SHA-256.
    #[error("store artifact `{name}`: file `{path}` {problem}")]
    Mismatch {
        /// The artifact being committed.
        name: String,
        /// The file's path relative to the artifact's root.
        path: String,
        /// What differs, e.g. "was never uploaded" or "does not match its SHA-256".
        problem: String,
    },
    /// The run the artifacts were asked for is not in the store.
    #[error("find run {0}")]
    RunNotFound(RunId),
    /// Reading or writing the artifact folders failed.
    #[error("artifact files under {path}: {source}")]
    Io {
        /// The file or folder the operation was on.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Reading the run from the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a run's artifacts live and which attempt it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunArtifacts {
    /// `<data>/artifacts/<first attempt's run id>`.
    pub family_dir: PathBuf,
    /// The run (this attempt) that reads or writes the artifacts.
    pub run_id: RunId,
    /// The run's attempt number, 1 for the first run; an upload replaces an earlier attempt's
    /// artifact of the same name.
    pub attempt: u32,
}

impl RunArtifacts {
    /// The artifact folder of `run_id`'s family (following `rerun_of` back to the first attempt).
    pub fn of(
        store: &Store,
        data_dir: &Path,
        run_id: RunId,
    ) -> Result<RunArtifacts, ArtifactError> {
        let run = store
            .run(run_id)?
            .ok_or(ArtifactError::RunNotFound(run_id))?;
        let attempt = crate::runs::rerun::attempt_of(&run.details);
        let mut root = run_id;
        let mut details = run.details;
        // A chain of re-runs is short; the bound guards against a corrupted cycle.
        for _ in 0..10_000 {
            let Some(previous) = details
                .get("rerun_of")
                .and_then(|value| value.as_str())
                .and_then(|text| text.parse::<RunId>().ok())
            else {
                break;
            };
            let Some(record) = store.run(previous)? else {
                break;
            };
            root = previous;
            details = record.details;
        }
        Ok(RunArtifacts {
            family_dir: data_dir.join("artifacts").join(root.to_string()),
            run_id,
            attempt,
        })
    }

    /// Every artifact of the family, by name.
    pub fn list(&self) -> Result<Vec<ArtifactManifest>, ArtifactError> {
        let entries = match fs::read_dir(&self.family_dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io_error(&self.family_dir, source)),
        };
        let mut manifests: Vec<ArtifactManifest> = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            if let Some(manifest) = read_manifest(&entry.path())? {
                manifests.push(manifest);
            }
        }
        manifests.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(manifests)
    }

    /// One artifact's manifest.
    pub fn manifest(&self, name: &str) -> Result<ArtifactManifest, ArtifactError> {
        check_name(name)?;
        read_manifest::<ArtifactManifest>(&self.family_dir.join(name))?.ok_or_else(|| {
            ArtifactError::NotFound {
                name: name.to_string(),
                run: self.run_id.to_string(),
            }
        })
    }

    /// The path of one committed file, after checking that the manifest lists it.
    pub fn file(&self, name: &str, path: &str) -> Result<PathBuf, ArtifactError> {
        let manifest = self.manifest(name)?;
        let relative = check_path(name, path)?;
        if !manifest.files.iter().any(|file| file.path == path) {
            return Err(ArtifactError::FileNotFound {
                name: name.to_string(),
                path: path.to_string(),
            });
        }
        Ok(self.family_dir.join(name).join(relative))
    }

    /// Where an upload of `name` by one lease of one job is staged (created when missing).
    pub fn staging(
        &self,
        job_id: &str,
        fencing_token: u64,
        name: &str,
    ) -> Result<PathBuf, ArtifactError> {
        check_name(name)?;
        let dir = self
            .family_dir
            .join(STAGING_DIR)
            .join(format!("{job_id}-{fencing_token}"))
            .join(name);
        fs::create_dir_all(&dir).map_err(|source| io_error(&dir, source))?;
        Ok(dir)
    }

    /// Checks the staged files against `files` and makes them the artifact `name`, all at once.
    /// An artifact of the same name from an earlier attempt is replaced; one from this attempt
    /// only with `overwrite`.
    #[allow(clippy::too_many_arguments)]
    pub fn commit(
        &self,
        job_id: &str,
        fencing_token: u64,
        job_key: &str,
        name: &str,
        files: Vec<ArtifactFile>,
        overwrite: bool,
        retention_days: Option<u32>,
        now_us: u64,
    ) -> Result<ArtifactManifest, ArtifactError> {
        check_name(name)?;
        if files.len() > MAX_ARTIFACT_FILES {
            return Err(ArtifactError::TooLarge {
                name: name.to_string(),
                what: "the number of files",
                value: files.len() as u64,
                limit: MAX_ARTIFACT_FILES as u64,
                kind: "FILES",
            });
        }
        let staged = self.staging(job_id, fencing_token, name)?;
        let size = verify_staged(name, &staged, &files)?;
        if size > MAX_ARTIFACT_BYTES {
            return Err(ArtifactError::TooLarge {
                name: name.to_string(),
                what: "the artifact's size",
                value: size,
                limit: MAX_ARTIFACT_BYTES,
                kind: "BYTES",
            });
        }
        let days = retention_days
            .filter(|days| *days > 0)
            .unwrap_or(DEFAULT_RETENTION_DAYS)
            .min(DEFAULT_RETENTION_DAYS);
        let manifest = ArtifactManifest {
            name: name.to_string(),
            run_id: self.run_id.to_string(),
            attempt: self.attempt,
            job_key: job_key.to_string(),
            size,
            created_at_us: now_us,
            expires_at_us: now_us.saturating_add(u64::from(days) * 24 * 3600 * 1_000_000),
            files,
        };
        write_manifest(&staged, &manifest)?;

        // One commit at a time per engine: the check for an existing artifact and the rename
        // that replaces it must not interleave with another job's.
        static COMMITS: Mutex<()> = Mutex::new(());
        let _guard = COMMITS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let target = self.family_dir.join(name);
        if let Some(existing) = read_manifest::<ArtifactManifest>(&target)? {
            if existing.attempt >= self.attempt && !overwrite {
                return Err(ArtifactError::Exists {
                    name: name.to_string(),
                });
            }
            let trash = self
                .family_dir
                .join(STAGING_DIR)
                .join(format!("replaced-{name}-{now_us}"));
            fs::rename(&target, &trash).map_err(|source| io_error(&target, source))?;
            fs::remove_dir_all(&trash).map_err(|source| io_error(&trash, source))?;
        }
        fs::rename(&staged, &target).map_err(|source| io_error(&target, source))?;
        sync_dir(&self.family_dir);
        Ok(manifest)
    }
}

/// Checks every file of `files` against what was staged under `staged` (present, size, SHA-256);
/// the total size. `name` names the artifact or cache entry in errors.
pub(crate) fn verify_staged(
    name: &str,
    staged: &Path,
    files: &[ArtifactFile],
) -> Result<u64, ArtifactError> {
    let mut size = 0u64;
    for file in files {
        let relative = check_path(name, &file.path)?;
        let path = staged.join(&relative);
        let (actual_size, digest) = hash_file(&path).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => ArtifactError::Mismatch {
                name: name.to_string(),
                path: file.path.clone(),
                problem: "was never uploaded".to_string(),
            },
            _ => io_error(&path, error),
        })?;
        if actual_size != file.size {
            return Err(ArtifactError::Mismatch {
                name: name.to_string(),
                path: file.path.clone(),
                problem: format!("has {actual_size} bytes, the manifest says {}", file.size),
            });
        }
        if !digest.eq_ignore_ascii_case(&file.sha256) {
            return Err(ArtifactError::Mismatch {
                name: name.to_string(),
                path: file.path.clone(),
                problem: "does not match its SHA-256".to_string(),
            });
        }
        size = size.saturating_add(actual_size);
    }
    Ok(size)
}

/// Deletes artifacts past their expiry and staged uploads never committed; returns how many
/// artifacts went. Errors on single entries are logged and skipped.
pub fn sweep(data_dir: &Path, now_us: u64) -> usize {
    let root = data_dir.join("artifacts");
    let Ok(families) = fs::read_dir(&root) else {
        return 0;
    };
    let mut removed = 0;
    for family in families.flatten() {
        let family_dir = family.path();
        let Ok(entries) = fs::read_dir(&family_dir) else {
            continue;
        };
        let mut left = 0;
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name() == STAGING_DIR {
                sweep_staging(&path, now_us);
                continue;
            }
            match read_manifest::<ArtifactManifest>(&path) {
                Ok(Some(manifest)) if manifest.expires_at_us <= now_us => {
                    match fs::remove_dir_all(&path) {
                        Ok(()) => removed += 1,
                        Err(error) => {
                            tracing::warn!(path = %path.display(), %error, "failed to delete an expired artifact");
                            left += 1;
                        }
                    }
                }
                _ => left += 1,
            }
        }
        if left == 0 {
            // Only staging (or nothing) is left: the family goes once staging is empty.
            let _ = fs::remove_dir(family_dir.join(STAGING_DIR));
            let _ = fs::remove_dir(&family_dir);
        }
    }
    removed
}

/// Checks an artifact name as GitHub does (no path separators or characters that are invalid in
/// file names on some system), and refuses names the layout reserves.
pub fn check_name(name: &str) -> Result<(), ArtifactError> {
    let invalid = |reason| ArtifactError::InvalidName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(invalid("it is empty"));
    }
    if name.len() > 255 {
        return Err(invalid("it is longer than 255 bytes"));
    }
    if name.starts_with('.') {
        return Err(invalid("it starts with `.`"));
    }
    if name.chars().any(|c| {
        matches!(c, '"' | ':' | '<' | '>' | '|' | '*' | '?' | '\\' | '/') || c.is_control()
    }) {
        return Err(invalid(
            "it contains one of \" : < > | * ? \\ / or a control character",
        ));
    }
    Ok(())
}

/// Checks a file path inside an artifact: relative, `/`-separated, no `.`/`..` parts.
pub fn check_path(name: &str, path: &str) -> Result<PathBuf, ArtifactError> {
    relative_path(path).map_err(|reason| ArtifactError::InvalidPath {
        name: name.to_string(),
        path: path.to_string(),
        reason,
    })
}

/// A path inside a stored file set (an artifact, a cache entry): relative, `/`-separated, no
/// `.`/`..` parts, not the manifest's name; the reason when it is not.
pub fn relative_path(path: &str) -> Result<PathBuf, &'static str> {
    if path.is_empty() {
        return Err("it is empty");
    }
    if path.contains('\\') || path.chars().any(char::is_control) {
        return Err("it contains `\\` or a control character");
    }
    let relative = PathBuf::from(path);
    let mut parts = 0;
    for component in relative.components() {
        match component {
            Component::Normal(part) => {
                if part == MANIFEST_FILE {
                    return Err("the name is reserved");
                }
                parts += 1;
            }
            _ => return Err("it must be relative, without `.` or `..` parts"),
        }
    }
    if parts == 0 {
        return Err("it names no file");
    }
    Ok(relative)
}

/// The lowercase hex SHA-256 of `bytes` read so far, as uploads compute it.
pub fn hex_digest(hasher: Sha256) -> String {
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn sweep_staging(staging: &Path, now_us: u64) {
    let Ok(entries) = fs::read_dir(staging) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|age| u64::try_from(age.as_micros()).unwrap_or(u64::MAX))
            .is_some_and(|modified_us| modified_us.saturating_add(STAGING_MAX_AGE_US) <= now_us);
        if old {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

pub(crate) fn read_manifest<T: serde::de::DeserializeOwned>(
    dir: &Path,
) -> Result<Option<T>, ArtifactError> {
    let path = dir.join(MANIFEST_FILE);
    match fs::read(&path) {
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(manifest) => Ok(Some(manifest)),
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "ignoring an unreadable artifact manifest");
                Ok(None)
            }
        },
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(io_error(&path, source)),
    }
}

pub(crate) fn write_manifest<T: serde::Serialize>(
    dir: &Path,
    manifest: &T,
) -> Result<(), ArtifactError> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = serde_json::to_vec_pretty(manifest).map_err(|error| ArtifactError::Io {
        path: path.clone(),
        source: io::Error::other(error),
    })?;
    fs::write(&path, bytes).map_err(|source| io_error(&path, source))?;
    if let Ok(file) = fs::File::open(&path) {
        let _ = file.sync_all();
    }
    Ok(())
}

pub(crate) fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((size, hex_digest(hasher)))
}

pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

pub(crate) fn io_error(path: &Path, source: io::Error) -> ArtifactError {
    ArtifactError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_are_checked() {
        assert!(check_name("build-output").is_ok());
        assert!(check_name("my artifact (linux)").is_ok());
        for bad in ["", ".hidden", "a/b", "a\\b", "a:b", "a*b", "a?b", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_path("a", "dir/file.txt").is_ok());
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "./x",
            "a\\b",
            ".manifest.json",
        ] {
            assert!(check_path("a", bad).is_err(), "{bad:?} accepted");
        }
    }
}
