//! Dependency caches (`actions/cache`) live in the engine, so a cache saved by a job on one runner
//! is restored by a job on any other, as GitHub's cache service does.
//!
//! Layout under `<data>/caches/`: `<repository>/<scope>/<key digest>/` per entry, holding its files
//! and the manifest (`CacheEntry`), where `<repository>` and `<scope>` (the git ref of the run that
//! saved it) are digests too, so any name is a safe folder name. Entries are immutable: saving a
//! key that exists is refused (the runner says so and goes on). Uploads are staged and committed
//! exactly like artifacts (`crate::artifacts`), checked file by file.
//!
//! Retention (`retention`): entries unused for 7 days go, and the least recently used when a
//! repository's entries pass 10 GiB, as on GitHub.
//!
//! Restores follow GitHub's documented search: in the run's own ref, the exact key, then the newest
//! entry whose key starts with the key, then with each restore key in order; then the same in the
//! default branch. A branch never sees another (non-default) branch's entries.
//!
//! An entry has a version (`CacheEntry::version`): the toolkit's cache protocol (`actions/cache@v4`,
//! `api::toolkit`) names one (a digest of the paths and the compression) and restores only entries
//! of the same version, as GitHub does; the built-in cache's entries have none. Both kinds share
//! the layout, the limits and the scoping; an entry's folder digests its version with its key.
//! The toolkit uploads one archive in ranges under a reservation (`reservations`).
//!
//! Blocking file work only; callers on the async runtime use a blocking thread.

mod reservations;
mod retention;

pub use reservations::{CacheReservation, TOOLKIT_ARCHIVE};
pub use retention::{REPOSITORY_LIMIT_BYTES, UNUSED_LIMIT_US, sweep};

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use protocol::artifacts::{ArtifactFile, CacheEntry};
use sha2::{Digest, Sha256};

use crate::artifacts::{
    ArtifactError, hex_digest, io_error, read_manifest, sync_dir, verify_staged, write_manifest,
};

/// The largest cache entry kept (GitHub's limit per repository is 10 GB).
pub const MAX_CACHE_BYTES: u64 = 10 * 1024 * 1024 * 1024;
const STAGING_DIR: &str = ".staging";

/// The caches one job may read and write: its repository, its ref, the default branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCaches {
    repository_dir: PathBuf,
    scope: String,
    default_scope: String,
}

impl JobCaches {
    /// The caches of `repository` for a run at `git_ref` whose default branch is `default_branch`.
    pub fn new(
        data_dir: &Path,
        repository: &str,
        git_ref: &str,
        default_branch: &str,
    ) -> JobCaches {
        let default_scope = if default_branch.starts_with("refs/") {
            default_branch.to_string()
        } else {
            format!("refs/heads/{default_branch}")
        };
        JobCaches {
            repository_dir: data_dir.join("caches").join(digest(repository)),
            scope: git_ref.to_string(),
            default_scope,
        }
    }

    /// The entry a restore of `key` with `restore_keys` gets, if any (built-in entries only).
    pub fn lookup(
        &self,
        key: &str,
        restore_keys: &[String],
    ) -> Result<Option<CacheEntry>, ArtifactError> {
        self.lookup_version(key, restore_keys, None)
    }

    /// The entry of `version` a restore of `key` with `restore_keys` gets, if any: GitHub's
    /// order (this ref, then the default branch; in each the exact key, then the newest entry
    /// whose key starts with the key, then with each restore key).
    pub fn lookup_version(
        &self,
        key: &str,
        restore_keys: &[String],
        version: Option<&str>,
    ) -> Result<Option<CacheEntry>, ArtifactError> {
        let mut scopes = vec![self.scope.as_str()];
        if self.default_scope != self.scope {
            scopes.push(self.default_scope.as_str());
        }
        for scope in scopes {
            let mut entries = self.entries(scope)?;
            entries.retain(|entry| entry.version.as_deref() == version);
            if let Some(exact) = entries.iter().find(|entry| entry.key == key) {
                return Ok(Some(self.used(scope, exact)));
            }
            let prefixes = std::iter::once(key).chain(restore_keys.iter().map(String::as_str));
            for prefix in prefixes.filter(|prefix| !prefix.is_empty()) {
                let newest = entries
                    .iter()
                    .filter(|entry| entry.key.starts_with(prefix))
                    .max_by_key(|entry| entry.created_at_us);
                if let Some(entry) = newest {
                    return Ok(Some(self.used(scope, entry)));
                }
            }
        }
        Ok(None)
    }

    /// Where one lease's upload of `key` is staged (created when missing).
    pub fn staging(
        &self,
        job_id: &str,
        fencing_token: u64,
        key: &str,
    ) -> Result<PathBuf, ArtifactError> {
        let dir = self
            .scope_dir(&self.scope)
            .join(STAGING_DIR)
            .join(format!("{job_id}-{fencing_token}"))
            .join(digest(key));
        fs::create_dir_all(&dir).map_err(|source| io_error(&dir, source))?;
        Ok(dir)
    }

    /// Checks the staged files and makes them the entry `key` of this job's ref. Refused when the
    /// key exists already (entries are immutable).
    pub fn commit(
        &self,
        job_id: &str,
        fencing_token: u64,
        key: &str,
        files: Vec<ArtifactFile>,
        now_us: u64,
    ) -> Result<CacheEntry, ArtifactError> {
        check_key(key)?;
        let staged = self.staging(job_id, fencing_token, key)?;
        let size = verify_staged(key, &staged, &files)?;
        if size > MAX_CACHE_BYTES {
            return Err(ArtifactError::TooLarge {
                name: key.to_string(),
                what: "the cache entry's size",
                value: size,
                limit: MAX_CACHE_BYTES,
                kind: "BYTES",
            });
        }
        let entry = CacheEntry {
            key: key.to_string(),
            scope: self.scope.clone(),
            size,
            created_at_us: now_us,
            files,
            version: None,
        };
        write_manifest(&staged, &entry)?;
        self.put_in_place(&staged, entry)
    }

    /// Renames the staged folder `staged` (its manifest written) into place as `entry` of this
    /// job's ref; refused when that key and version exist already.
    fn put_in_place(&self, staged: &Path, entry: CacheEntry) -> Result<CacheEntry, ArtifactError> {
        static COMMITS: Mutex<()> = Mutex::new(());
        let _guard = COMMITS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let target = self.entry_dir(&self.scope, &entry.key, entry.version.as_deref());
        if target.exists() {
            let _ = fs::remove_dir_all(staged);
            return Err(ArtifactError::Exists {
                name: entry.key.clone(),
            });
        }
        fs::rename(staged, &target).map_err(|source| io_error(&target, source))?;
        sync_dir(&self.scope_dir(&self.scope));
        Ok(entry)
    }

    /// The path of one file of the entry `key` in `scope` (one of this job's scopes), after
    /// checking that its manifest lists it.
    pub fn file(&self, scope: &str, key: &str, path: &str) -> Result<PathBuf, ArtifactError> {
        self.file_of_version(scope, key, None, path)
    }

    /// `file`, of the entry `key` of `version`.
    pub fn file_of_version(
        &self,
        scope: &str,
        key: &str,
        version: Option<&str>,
        path: &str,
    ) -> Result<PathBuf, ArtifactError> {
        if scope != self.scope && scope != self.default_scope {
            return Err(ArtifactError::NotFound {
                name: key.to_string(),
                run: format!("the caches this job may read ({scope} is not one of them)"),
            });
        }
        let dir = self.entry_dir(scope, key, version);
        let entry: CacheEntry = read_manifest(&dir)?.ok_or_else(|| ArtifactError::NotFound {
            name: key.to_string(),
            run: format!("the caches of {scope}"),
        })?;
        let relative = crate::artifacts::check_path(key, path)?;
        if !entry.files.iter().any(|file| file.path == path) {
            return Err(ArtifactError::FileNotFound {
                name: key.to_string(),
                path: path.to_string(),
            });
        }
        Ok(dir.join(relative))
    }

    fn entries(&self, scope: &str) -> Result<Vec<CacheEntry>, ArtifactError> {
        let dir = self.scope_dir(scope);
        let listing = match fs::read_dir(&dir) {
            Ok(listing) => listing,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(io_error(&dir, source)),
        };
        let mut entries = Vec::new();
        for item in listing.flatten() {
            if item.file_name() == STAGING_DIR {
                continue;
            }
            if let Some(entry) = read_manifest::<CacheEntry>(&item.path())? {
                entries.push(entry);
            }
        }
        Ok(entries)
    }

    fn scope_dir(&self, scope: &str) -> PathBuf {
        self.repository_dir.join(digest(scope))
    }

    fn entry_dir(&self, scope: &str, key: &str, version: Option<&str>) -> PathBuf {
        match version {
            None => self.scope_dir(scope).join(digest(key)),
            Some(version) => self
                .scope_dir(scope)
                .join(digest(&format!("{version}\n{key}"))),
        }
    }

    /// `entry` of `scope`, noted as restored now (retention counts from the last use).
    fn used(&self, scope: &str, entry: &CacheEntry) -> CacheEntry {
        let dir = self.entry_dir(scope, &entry.key, entry.version.as_deref());
        retention::mark_used(&dir, crate::store::now_us());
        entry.clone()
    }

    /// The scope (git ref) this job saves into.
    pub fn scope(&self) -> &str {
        &self.scope
    }
}

/// Checks a cache key as GitHub does: not empty, at most 512 characters, no comma.
pub fn check_key(key: &str) -> Result<(), ArtifactError> {
    let invalid = |reason| ArtifactError::InvalidName {
        name: key.to_string(),
        reason,
    };
    if key.is_empty() {
        return Err(invalid("a cache key is empty"));
    }
    if key.chars().count() > 512 {
        return Err(invalid("a cache key is longer than 512 characters"));
    }
    if key.contains(',') {
        return Err(invalid("a cache key cannot contain commas"));
    }
    Ok(())
}

fn digest(text: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(text.as_bytes());
    let mut hex = hex_digest(hasher);
    hex.truncate(32);
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save(caches: &JobCaches, key: &str, now: u64) {
        let staged = caches.staging("job", 1, key).expect("staging");
        fs::write(staged.join("f"), key).expect("write");
        let mut hasher = Sha256::new();
        hasher.update(key.as_bytes());
        let file = ArtifactFile {
            path: "f".into(),
            size: key.len() as u64,
            sha256: hex_digest(hasher),
        };
        caches
            .commit("job", 1, key, vec![file], now)
            .expect("commit");
    }

    #[test]
    fn restores_search_the_ref_then_the_default_branch() {
        let data = tempfile::tempdir().expect("temp");
        let main = JobCaches::new(data.path(), "org/app", "refs/heads/main", "main");
        let feature = JobCaches::new(data.path(), "org/app", "refs/heads/feature", "main");
        save(&main, "deps-linux-aaa", 1);
        save(&main, "deps-linux-bbb", 2);
        save(&feature, "deps-linux-ccc", 3);

        let hit = |caches: &JobCaches, key: &str, restore: &[&str]| {
            let restore: Vec<String> = restore.iter().map(|s| s.to_string()).collect();
            caches
                .lookup(key, &restore)
                .expect("lookup")
                .map(|entry| entry.key)
        };
        assert_eq!(
            hit(&main, "deps-linux-aaa", &[]).as_deref(),
            Some("deps-linux-aaa")
        );
        // The newest prefix match of a restore key.
        assert_eq!(
            hit(&main, "deps-linux-zzz", &["deps-linux-"]).as_deref(),
            Some("deps-linux-bbb")
        );
        // A feature branch sees its own entries first, then the default branch's.
        assert_eq!(
            hit(&feature, "deps-linux-zzz", &["deps-"]).as_deref(),
            Some("deps-linux-ccc")
        );
        assert_eq!(
            hit(&feature, "deps-linux-aaa", &[]).as_deref(),
            Some("deps-linux-aaa")
        );
        // The default branch never sees a feature branch's entry.
        assert_eq!(hit(&main, "deps-linux-ccc", &[]), None);
        // Another repository sees nothing.
        let other = JobCaches::new(data.path(), "org/other", "refs/heads/main", "main");
        assert_eq!(hit(&other, "deps-linux-aaa", &["deps"]), None);
        // Entries are immutable.
        let staged = main.staging("job", 2, "deps-linux-aaa").expect("staging");
        fs::write(staged.join("f"), "x").expect("write");
        assert!(matches!(
            main.commit("job", 2, "deps-linux-aaa", Vec::new(), 9),
            Err(ArtifactError::Exists { .. })
        ));
    }
}
