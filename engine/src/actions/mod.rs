//! Remote actions (`uses: owner/repo[/path]@ref`): where they come from, the engine's mirrors of
//! them, and the commits a run is pinned to.
//!
//! Table of contents:
//! - this file: [`ActionMirrors`], the service — action sources (a git server base URL or a local
//!   directory of repositories, tried in the order they were added), bare mirrors under
//!   `<data>/actions/<owner>/<repo>.git` kept like watched repositories' mirrors, and their
//!   records in the store (`RecordKind::ActionSources`, `RecordKind::ActionMirrors`);
//! - `resolve`: a ref (tag, branch, short or full sha) → a full commit sha in a mirror, and the
//!   pinning of a run's `uses:` (nested composite actions included);
//! - `archive`: a commit's tree as a `.tar.gz`, what runners download.
//! - `reusable`: remote reusable workflows read from the mirrors at a pinned commit.
//!
//! Every git operation runs on a blocking thread; fetches are serialised by one lock, so two
//! runs needing the same action never fetch it twice at once.

pub mod archive;
pub mod resolve;
pub mod reusable;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use protocol::actions::{ActionMirror, ActionRef, ActionSource};

use crate::repos::triggers::Mirror;
use crate::repos::triggers::mirror::is_network_url;
use crate::runs::dispatch::Engine;
use crate::store::{RecordKind, Store, StoreError, now_us};

pub use resolve::{Pins, resolve_ref};

/// Why an action source or mirror could not be used. Messages read after "failed to …".
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The request itself is wrong, e.g. a malformed source URL or a ref that is not a commit sha.
    #[error("{0}")]
    Invalid(String),
    /// No source, mirror or commit matches what was asked for.
    #[error("{0}")]
    NotFound(String),
    /// The source or mirror being added is already registered.
    #[error("{0}")]
    Exists(String),
    /// A git fetch, clone or archive write failed; the message says which.
    #[error("{0}")]
    Fetch(String),
    /// Reading or writing the action records in the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The blocking thread running a git operation panicked or was cancelled.
    #[error("a background task failed: {0}")]
    Task(String),
}

/// The engine's action sources and mirrors. Cheap to make from an engine.
#[derive(Clone)]
pub struct ActionMirrors {
    data_dir: PathBuf,
    store: Arc<Store>,
}

/// One fetch at a time: git keeps a lock file per ref, and two fetches of one mirror would
/// fail each other.
static FETCH_LOCK: Mutex<()> = Mutex::new(());

impl ActionMirrors {
    /// The action service over `engine`'s data directory and store.
    pub fn new(engine: &Engine) -> ActionMirrors {
        ActionMirrors {
            data_dir: engine.config().data_dir.clone(),
            store: engine.store().clone(),
        }
    }

    /// Adds a source (a git server base URL, or a local directory of `owner/repo[.git]`
    /// repositories); the name defaults to the location's last path segment.
    pub async fn add_source(
        &self,
        location: &str,
        name: Option<&str>,
    ) -> Result<ActionSource, ActionError> {
        let location = location.trim().trim_end_matches('/').to_string();
        if location.is_empty() {
            return Err(ActionError::Invalid(
                "an action source needs a URL or a path".to_string(),
            ));
        }
        if !is_network_url(&location) {
            let path = Path::new(location.strip_prefix("file://").unwrap_or(&location));
            if !path.is_dir() {
                return Err(ActionError::Invalid(format!(
                    "action source {location} is neither a URL nor a directory"
                )));
            }
        }
        let name = match name {
            Some(name) if !name.trim().is_empty() => name.trim().to_string(),
            _ => location
                .rsplit(['/', ':'])
                .find(|part| !part.is_empty())
                .unwrap_or("source")
                .to_string(),
        };
        let existing = self.sources()?;
        if existing
            .iter()
            .any(|source| source.name == name || source.location == location)
        {
            return Err(ActionError::Exists(format!(
                "an action source named {name} or at {location} exists already"
            )));
        }
        let source = ActionSource {
            name,
            location,
            added_at_ms: now_us() / 1000,
        };
        let key = self.store.sortable_key()?;
        self.store
            .put_record(RecordKind::ActionSources, &key, &source)
            .await?;
        Ok(source)
    }

    /// The sources, in the order they are tried.
    pub fn sources(&self) -> Result<Vec<ActionSource>, ActionError> {
        Ok(self.store.records(RecordKind::ActionSources, "")?)
    }

    /// Every mirrored action repository, by name.
    pub fn list(&self) -> Result<Vec<ActionMirror>, ActionError> {
        Ok(self.store.records(RecordKind::ActionMirrors, "")?)
    }

    /// Fetches `owner/repo` now from the first source that has it (a refresh when it is
    /// mirrored already) and records the mirror; `git_ref`, when given, must exist afterwards.
    pub async fn mirror(
        &self,
        repository: &str,
        git_ref: Option<&str>,
    ) -> Result<ActionMirror, ActionError> {
        let (owner, repo) = split_repository(repository)?;
        let sources = self.sources()?;
        if sources.is_empty() {
            return Err(ActionError::Invalid(
                "there is no action source: add one with slipway action source add URL|PATH"
                    .to_string(),
            ));
        }
        let data_dir = self.data_dir.clone();
        let wanted = git_ref.map(str::to_string);
        let record = tokio::task::spawn_blocking(move || {
            let record = fetch_from_sources(&data_dir, &sources, &owner, &repo)?;
            if let Some(wanted) = wanted {
                let mirror = Mirror::open(&mirror_path(&data_dir, &owner, &repo))
                    .map_err(|error| ActionError::Fetch(error.to_string()))?;
                if resolve_ref(mirror.repository(), &wanted).is_none() {
                    return Err(ActionError::NotFound(format!(
                        "{owner}/{repo} has no ref or commit {wanted} at {}",
                        record.source
                    )));
                }
            }
            Ok(record)
        })
        .await
        .map_err(|error| ActionError::Task(error.to_string()))??;
        self.store
            .put_record(
                RecordKind::ActionMirrors,
                &record.repository.to_ascii_lowercase(),
                &record,
            )
            .await?;
        Ok(record)
    }

    /// Resolves every remote `uses:` to a full commit sha (nested composite actions too),
    /// fetching an action that is not mirrored from the sources, if any are configured.
    pub async fn pin(&self, uses: Vec<String>) -> Result<Pins, ActionError> {
        let sources = self.sources()?;
        let data_dir = self.data_dir.clone();
        let (pins, fetched) =
            tokio::task::spawn_blocking(move || resolve::pin_all(&data_dir, &sources, uses))
                .await
                .map_err(|error| ActionError::Task(error.to_string()))?;
        for record in fetched {
            self.store
                .put_record(
                    RecordKind::ActionMirrors,
                    &record.repository.to_ascii_lowercase(),
                    &record,
                )
                .await?;
        }
        Ok(pins)
    }

    /// Records mirrors fetched on the way (by the loader of remote reusable workflows).
    pub(crate) async fn record_mirrors(
        &self,
        records: Vec<ActionMirror>,
    ) -> Result<(), ActionError> {
        for record in records {
            self.store
                .put_record(
                    RecordKind::ActionMirrors,
                    &record.repository.to_ascii_lowercase(),
                    &record,
                )
                .await?;
        }
        Ok(())
    }

    /// Where the mirrors live (the engine's data dir).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The tree of `owner/repo` at the full commit `sha` as a gzipped tar archive.
    pub async fn archive(&self, repository: &str, sha: &str) -> Result<Vec<u8>, ActionError> {
        let (owner, repo) = split_repository(repository)?;
        let path = mirror_path(&self.data_dir, &owner, &repo);
        let sha = sha.to_string();
        tokio::task::spawn_blocking(move || archive::tar_gz_of_commit(&path, &sha))
            .await
            .map_err(|error| ActionError::Task(error.to_string()))?
    }
}

/// Pins `uses` against the mirrors under `data_dir` alone, fetching nothing (`slipway run`).
pub fn pin_from_mirrors(data_dir: &Path, uses: Vec<String>) -> Pins {
    resolve::pin_all(data_dir, &[], uses).0
}

/// The archive of `owner/repo` at `sha` from the mirror under `data_dir` (`slipway run`).
pub fn archive_from_mirror(
    data_dir: &Path,
    repository: &str,
    sha: &str,
) -> Result<Vec<u8>, ActionError> {
    let (owner, repo) = split_repository(repository)?;
    archive::tar_gz_of_commit(&mirror_path(data_dir, &owner, &repo), sha)
}

/// The metadata file of the remote action `uses` at its pinned `sha` in the mirrors under
/// `data_dir`: its path in the repository and its text (`slipway check`).
pub fn metadata_from_mirror(data_dir: &Path, uses: &str, sha: &str) -> Option<(String, String)> {
    let action = workflows::action::RemoteAction::parse(uses)?;
    let oid = git2::Oid::from_str(sha).ok()?;
    resolve::metadata_at(
        &mirror_path(data_dir, &action.owner, &action.repo),
        oid,
        &action.path,
    )
}

/// Where the mirror of `owner/repo` lives: `<data>/actions/<owner>/<repo>.git`, lower-cased
/// (GitHub's names compare case-insensitively).
pub fn mirror_path(data_dir: &Path, owner: &str, repo: &str) -> PathBuf {
    data_dir
        .join("actions")
        .join(owner.to_ascii_lowercase())
        .join(format!("{}.git", repo.to_ascii_lowercase()))
}

/// `owner/repo` → its two parts, each a plain name.
pub fn split_repository(repository: &str) -> Result<(String, String), ActionError> {
    let invalid = || {
        ActionError::Invalid(format!(
            "`{repository}` is not an action repository (owner/repo)"
        ))
    };
    let (owner, repo) = repository.trim().split_once('/').ok_or_else(invalid)?;
    let plain = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if !plain(owner) || !plain(repo) {
        return Err(invalid());
    }
    Ok((owner.to_string(), repo.to_string()))
}

/// Fetches `owner/repo` into its mirror from the first source that has it; the new record.
pub(crate) fn fetch_from_sources(
    data_dir: &Path,
    sources: &[ActionSource],
    owner: &str,
    repo: &str,
) -> Result<ActionMirror, ActionError> {
    let _one_at_a_time = FETCH_LOCK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = mirror_path(data_dir, owner, repo);
    let existed = path.join("HEAD").exists();
    let mut failures = Vec::new();
    for source in sources {
        for candidate in candidates(&source.location, owner, repo) {
            let fetched = Mirror::open_or_create(&path, &candidate).and_then(|mirror| {
                mirror.fetch()?;
                Ok(mirror)
            });
            match fetched {
                Ok(mirror) => {
                    let refs = mirror_refs(mirror.repository());
                    if refs.is_empty() {
                        failures.push(format!("{candidate}: no branches or tags"));
                        continue;
                    }
                    return Ok(ActionMirror {
                        repository: format!("{owner}/{repo}"),
                        source: candidate,
                        fetched_at_ms: now_us() / 1000,
                        refs,
                    });
                }
                Err(error) => failures.push(error.to_string()),
            }
        }
    }
    if !existed {
        let _ = std::fs::remove_dir_all(&path);
    }
    Err(ActionError::Fetch(format!(
        "fetch {owner}/{repo} from the action sources: {}",
        if failures.is_empty() {
            "no source has it".to_string()
        } else {
            failures.join("; ")
        }
    )))
}

/// Where a source may keep `owner/repo`: `URL/owner/repo` for a server; `DIR/owner/repo.git` or
/// `DIR/owner/repo` (existing ones only) for a directory.
fn candidates(location: &str, owner: &str, repo: &str) -> Vec<String> {
    if is_network_url(location) {
        return vec![format!("{location}/{owner}/{repo}")];
    }
    let base = Path::new(location.strip_prefix("file://").unwrap_or(location));
    [format!("{repo}.git"), repo.to_string()]
        .into_iter()
        .map(|leaf| base.join(owner).join(leaf))
        .filter(|path| path.exists())
        .map(|path| path.display().to_string())
        .collect()
}

/// Branches and tags of a mirror, tags peeled to their commits.
fn mirror_refs(repo: &git2::Repository) -> Vec<ActionRef> {
    let mut refs = Vec::new();
    let Ok(references) = repo.references() else {
        return refs;
    };
    for reference in references.flatten() {
        let Ok(name) = reference.name() else { continue };
        if !(name.starts_with("refs/heads/") || name.starts_with("refs/tags/")) {
            continue;
        }
        if let Ok(commit) = reference.peel_to_commit() {
            refs.push(ActionRef {
                name: name.to_string(),
                sha: commit.id().to_string(),
            });
        }
    }
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    refs
}
