//! Cache saves of the toolkit's cache protocol (`actions/cache@v4`): the job reserves a key and
//! version and gets a numeric cache id, uploads one archive in byte ranges (in parallel, in any
//! order), then commits it with its size; the engine checks that the ranges cover the archive
//! exactly before the archive becomes the entry (`<key, version>` of the job's ref).
//!
//! A reservation is a staging folder `<scope>/.staging/toolkit-<id>/` holding `reservation.json`,
//! the archive being written and a `ranges` file (one `start end` line per range received, written
//! after the range's bytes), so it survives an engine restart. Only the job (and lease) that
//! reserved it may write or commit it; anyone else is told it does not exist.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use protocol::artifacts::{ArtifactFile, CacheEntry};
use serde::{Deserialize, Serialize};

use super::{JobCaches, MAX_CACHE_BYTES, STAGING_DIR, check_key};
use crate::artifacts::{ArtifactError, hash_file, io_error, write_manifest};

/// The name of the one file of a toolkit cache entry: the archive the action made.
pub const TOOLKIT_ARCHIVE: &str = "archive";
const RESERVATION_FILE: &str = "reservation.json";
const RANGES_FILE: &str = "ranges";

/// A reserved cache save.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheReservation {
    /// The number the action names it by (below 2^53, so JavaScript keeps it exact).
    pub cache_id: u64,
    /// The cache key the action asked to save under, e.g. `cargo-linux-<hash of Cargo.lock>`.
    pub key: String,
    /// The action's version string for the key (a hash of the cached paths and compression
    /// method); the entry is `<key, version>`.
    pub version: String,
    /// The job (engine job id) and the lease that reserved it.
    pub job_id: String,
    /// The fencing token of the lease that reserved it; writes and the commit under another
    /// lease are refused.
    pub fencing_token: u64,
    /// When the reservation was made, in microseconds since the Unix epoch.
    pub reserved_at_us: u64,
}

impl JobCaches {
    /// Reserves `key` of `version` in this job's ref for an upload by `job_id` under
    /// `fencing_token`. Refused when that entry exists already (entries are immutable) or when
    /// `declared_size` is over the limit.
    pub fn reserve(
        &self,
        job_id: &str,
        fencing_token: u64,
        key: &str,
        version: &str,
        declared_size: Option<u64>,
        now_us: u64,
    ) -> Result<CacheReservation, ArtifactError> {
        check_key(key)?;
        check_version(key, version)?;
        if let Some(size) = declared_size.filter(|size| *size > MAX_CACHE_BYTES) {
            return Err(too_large(key, size));
        }
        if self.entry_dir(&self.scope, key, Some(version)).exists() {
            return Err(ArtifactError::Exists {
                name: key.to_string(),
            });
        }
        let staging = self.scope_dir(&self.scope).join(STAGING_DIR);
        fs::create_dir_all(&staging).map_err(|source| io_error(&staging, source))?;
        let mut cache_id = next_cache_id(now_us);
        let dir = loop {
            let dir = staging.join(format!("toolkit-{cache_id}"));
            match fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    cache_id = next_cache_id(now_us);
                }
                Err(source) => return Err(io_error(&dir, source)),
            }
        };
        let reservation = CacheReservation {
            cache_id,
            key: key.to_string(),
            version: version.to_string(),
            job_id: job_id.to_string(),
            fencing_token,
            reserved_at_us: now_us,
        };
        let path = dir.join(RESERVATION_FILE);
        let bytes = serde_json::to_vec(&reservation).map_err(|error| ArtifactError::Io {
            path: path.clone(),
            source: std::io::Error::other(error),
        })?;
        fs::write(&path, bytes).map_err(|source| io_error(&path, source))?;
        Ok(reservation)
    }

    /// The reservation `cache_id` of this job's ref and the path its archive is written to,
    /// when `job_id` under `fencing_token` made it (else `NotFound`, as if there were none).
    pub fn reservation(
        &self,
        cache_id: u64,
        job_id: &str,
        fencing_token: u64,
    ) -> Result<(CacheReservation, PathBuf), ArtifactError> {
        let dir = self.reservation_dir(cache_id);
        let not_found = || ArtifactError::NotFound {
            name: format!("cache reservation {cache_id}"),
            run: format!("the reservations of this job in {}", self.scope),
        };
        let reservation: CacheReservation = match fs::read(dir.join(RESERVATION_FILE)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|_| not_found())?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
            Err(source) => return Err(io_error(&dir, source)),
        };
        if reservation.job_id != job_id || reservation.fencing_token != fencing_token {
            return Err(not_found());
        }
        Ok((reservation, dir.join(TOOLKIT_ARCHIVE)))
    }

    /// Notes that the bytes `start..=end` of reservation `cache_id`'s archive were written.
    pub fn record_range(&self, cache_id: u64, start: u64, end: u64) -> Result<(), ArtifactError> {
        let path = self.reservation_dir(cache_id).join(RANGES_FILE);
        let mut file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| io_error(&path, source))?;
        // One small append per range: concurrent appends never interleave within a line.
        file.write_all(format!("{start} {end}\n").as_bytes())
            .map_err(|source| io_error(&path, source))
    }

    /// Makes reservation `cache_id`'s archive the entry, after checking that the ranges received
    /// cover exactly `size` bytes.
    pub fn commit_reservation(
        &self,
        cache_id: u64,
        job_id: &str,
        fencing_token: u64,
        size: u64,
        now_us: u64,
    ) -> Result<CacheEntry, ArtifactError> {
        let (reservation, archive) = self.reservation(cache_id, job_id, fencing_token)?;
        let key = reservation.key.clone();
        if size > MAX_CACHE_BYTES {
            return Err(too_large(&key, size));
        }
        let dir = self.reservation_dir(cache_id);
        let mismatch = |problem: String| ArtifactError::Mismatch {
            name: key.clone(),
            path: TOOLKIT_ARCHIVE.to_string(),
            problem,
        };
        let ranges = read_ranges(&dir.join(RANGES_FILE))?;
        if let Some(gap) = first_gap(ranges, size) {
            return Err(mismatch(format!(
                "is missing bytes from offset {gap} of the {size} committed"
            )));
        }
        if size == 0 && !archive.exists() {
            fs::write(&archive, b"").map_err(|source| io_error(&archive, source))?;
        }
        let (actual, sha256) = hash_file(&archive).map_err(|source| io_error(&archive, source))?;
        if actual != size {
            return Err(mismatch(format!(
                "has {actual} bytes, the commit says {size}"
            )));
        }
        for leftover in [RESERVATION_FILE, RANGES_FILE] {
            let _ = fs::remove_file(dir.join(leftover));
        }
        let entry = CacheEntry {
            key,
            scope: self.scope.clone(),
            size,
            created_at_us: now_us,
            files: vec![ArtifactFile {
                path: TOOLKIT_ARCHIVE.to_string(),
                size,
                sha256,
            }],
            version: Some(reservation.version),
        };
        write_manifest(&dir, &entry)?;
        self.put_in_place(&dir, entry)
    }

    /// The entries of this job's ref (both kinds), for the toolkit's listing.
    pub fn own_entries(&self) -> Result<Vec<CacheEntry>, ArtifactError> {
        self.entries(&self.scope)
    }

    fn reservation_dir(&self, cache_id: u64) -> PathBuf {
        self.scope_dir(&self.scope)
            .join(STAGING_DIR)
            .join(format!("toolkit-{cache_id}"))
    }
}

/// A cache id above every one given before in this process and at least `now_us`; below 2^53.
fn next_cache_id(now_us: u64) -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let floor = now_us % (1 << 53);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = floor.max(last + 1).max(1);
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

fn check_version(key: &str, version: &str) -> Result<(), ArtifactError> {
    let fine = !version.is_empty()
        && version.len() <= 512
        && version.chars().all(|c| c.is_ascii_graphic());
    if fine {
        Ok(())
    } else {
        Err(ArtifactError::InvalidName {
            name: key.to_string(),
            reason: "a cache version must be 1 to 512 printable ASCII characters",
        })
    }
}

fn too_large(key: &str, size: u64) -> ArtifactError {
    ArtifactError::TooLarge {
        name: key.to_string(),
        what: "the cache entry's size",
        value: size,
        limit: MAX_CACHE_BYTES,
        kind: "BYTES",
    }
}

fn read_ranges(path: &Path) -> Result<Vec<(u64, u64)>, ArtifactError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => return Err(io_error(path, source)),
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let (start, end) = line.split_once(' ')?;
            Some((start.parse().ok()?, end.parse().ok()?))
        })
        .collect())
}

/// The first offset below `size` no range (inclusive `start..=end`) covers, if any.
fn first_gap(mut ranges: Vec<(u64, u64)>, size: u64) -> Option<u64> {
    ranges.sort_unstable();
    let mut covered = 0u64; // every offset below this is covered
    for (start, end) in ranges {
        if start > covered {
            break;
        }
        covered = covered.max(end.saturating_add(1));
    }
    (covered < size).then_some(covered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(caches: &JobCaches, id: u64, archive: &Path, start: u64, bytes: &[u8]) {
        use std::os::unix::fs::FileExt;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(archive)
            .unwrap();
        file.write_all_at(bytes, start).unwrap();
        caches
            .record_range(id, start, start + bytes.len() as u64 - 1)
            .unwrap();
    }

    #[test]
    fn ranges_in_any_order_become_an_entry_of_that_version() {
        let data = tempfile::tempdir().unwrap();
        let caches = JobCaches::new(data.path(), "org/app", "refs/heads/main", "main");
        let reserved = caches
            .reserve("job", 1, "deps-a", "v1", Some(10), 5)
            .unwrap();
        let (_, archive) = caches.reservation(reserved.cache_id, "job", 1).unwrap();
        upload(&caches, reserved.cache_id, &archive, 6, b"6789");
        upload(&caches, reserved.cache_id, &archive, 0, b"012345");
        let entry = caches
            .commit_reservation(reserved.cache_id, "job", 1, 10, 7)
            .unwrap();
        assert_eq!(entry.version.as_deref(), Some("v1"));
        let found = caches
            .lookup_version("deps-b", &["deps-".into()], Some("v1"))
            .unwrap()
            .unwrap();
        assert_eq!(found.key, "deps-a");
        let file = caches
            .file_of_version("refs/heads/main", "deps-a", Some("v1"), TOOLKIT_ARCHIVE)
            .unwrap();
        assert_eq!(fs::read(file).unwrap(), b"0123456789");
        // Another version, or the built-in cache, does not see it.
        assert_eq!(
            caches.lookup_version("deps-a", &[], Some("v2")).unwrap(),
            None
        );
        assert_eq!(caches.lookup("deps-a", &[]).unwrap(), None);
        // The same key and version cannot be reserved again.
        assert!(matches!(
            caches.reserve("job", 1, "deps-a", "v1", None, 8),
            Err(ArtifactError::Exists { .. })
        ));
        assert!(caches.reserve("job", 1, "deps-a", "v2", None, 8).is_ok());
    }

    #[test]
    fn a_gap_or_another_job_is_refused() {
        let data = tempfile::tempdir().unwrap();
        let caches = JobCaches::new(data.path(), "org/app", "refs/heads/main", "main");
        let reserved = caches.reserve("job", 1, "k", "v", None, 5).unwrap();
        let id = reserved.cache_id;
        let (_, archive) = caches.reservation(id, "job", 1).unwrap();
        upload(&caches, id, &archive, 0, b"abc");
        upload(&caches, id, &archive, 5, b"fg");
        assert!(matches!(
            caches.commit_reservation(id, "job", 1, 7, 9),
            Err(ArtifactError::Mismatch { .. })
        ));
        assert!(matches!(
            caches.reservation(id, "job", 2),
            Err(ArtifactError::NotFound { .. })
        ));
        assert!(matches!(
            caches.reservation(id, "other", 1),
            Err(ArtifactError::NotFound { .. })
        ));
        let feature = JobCaches::new(data.path(), "org/app", "refs/heads/feature", "main");
        assert!(matches!(
            feature.reservation(id, "job", 1),
            Err(ArtifactError::NotFound { .. })
        ));
        upload(&caches, id, &archive, 3, b"de");
        assert!(caches.commit_reservation(id, "job", 1, 7, 9).is_ok());
    }

    #[test]
    fn gaps() {
        assert_eq!(first_gap(vec![], 0), None);
        assert_eq!(first_gap(vec![], 1), Some(0));
        assert_eq!(first_gap(vec![(0, 4), (5, 9)], 10), None);
        assert_eq!(first_gap(vec![(5, 9), (0, 3)], 10), Some(4));
        assert_eq!(first_gap(vec![(0, 9), (2, 3)], 10), None);
        assert_eq!(first_gap(vec![(0, 8)], 10), Some(9));
    }
}
