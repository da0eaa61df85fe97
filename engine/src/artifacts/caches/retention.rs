//! Cache retention as GitHub documents it: an entry not restored (or saved) for 7 days is deleted,
//! and when a repository's entries add up to more than 10 GiB the least recently used go first
//! until they fit. Staged saves never committed are deleted after a day. Applies to both kinds of
//! entry (built-in and toolkit); the engine's hourly sweeper calls `sweep`.
//!
//! "Used" is the newer of the entry's creation and its last restore, kept in a `used` file beside
//! its manifest (`mark_used`, written on every hit).

use std::fs;
use std::path::{Path, PathBuf};

use protocol::artifacts::CacheEntry;

use super::{MAX_CACHE_BYTES, STAGING_DIR};
use crate::artifacts::read_manifest;

/// An entry unused this long is deleted.
pub const UNUSED_LIMIT_US: u64 = 7 * 24 * 3600 * 1_000_000;
/// What one repository's entries may add up to before the least recently used are deleted.
pub const REPOSITORY_LIMIT_BYTES: u64 = MAX_CACHE_BYTES;
/// A staged, never committed save is deleted after this long.
const STAGING_LIMIT_US: u64 = 24 * 3600 * 1_000_000;
const USED_FILE: &str = "used";

/// Notes that the entry in `dir` was restored at `now_us`.
pub(super) fn mark_used(dir: &Path, now_us: u64) {
    // Best effort: a failure only makes the entry look older than it is.
    let _ = fs::write(dir.join(USED_FILE), now_us.to_string());
}

/// Deletes what retention says must go under `<data_dir>/caches`; returns how many entries went.
pub fn sweep(data_dir: &Path, now_us: u64) -> usize {
    sweep_with_limit(data_dir, now_us, REPOSITORY_LIMIT_BYTES)
}

fn sweep_with_limit(data_dir: &Path, now_us: u64, repository_limit: u64) -> usize {
    let mut removed = 0;
    for repository in subdirs(&data_dir.join("caches")) {
        // (last used, size, folder) of every entry kept so far.
        let mut kept: Vec<(u64, u64, PathBuf)> = Vec::new();
        for scope in subdirs(&repository) {
            for dir in subdirs(&scope) {
                if dir.file_name().is_some_and(|name| name == STAGING_DIR) {
                    sweep_staging(&dir, now_us);
                    continue;
                }
                let Ok(Some(entry)) = read_manifest::<CacheEntry>(&dir) else {
                    continue;
                };
                let used = last_used(&dir, &entry);
                if now_us.saturating_sub(used) > UNUSED_LIMIT_US {
                    if fs::remove_dir_all(&dir).is_ok() {
                        removed += 1;
                    }
                } else {
                    kept.push((used, entry.size, dir));
                }
            }
        }
        let mut total: u64 = kept.iter().map(|(_, size, _)| size).sum();
        kept.sort_by_key(|(used, _, _)| *used);
        for (_, size, dir) in kept {
            if total <= repository_limit {
                break;
            }
            if fs::remove_dir_all(&dir).is_ok() {
                removed += 1;
                total = total.saturating_sub(size);
            }
        }
    }
    removed
}

fn last_used(dir: &Path, entry: &CacheEntry) -> u64 {
    let marked = fs::read_to_string(dir.join(USED_FILE))
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .unwrap_or(0);
    marked.max(entry.created_at_us)
}

fn sweep_staging(staging: &Path, now_us: u64) {
    for dir in subdirs(staging) {
        let modified_us = fs::metadata(&dir)
            .and_then(|meta| meta.modified())
            .ok()
            .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(now_us);
        if now_us.saturating_sub(modified_us) > STAGING_LIMIT_US {
            let _ = fs::remove_dir_all(&dir);
        }
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(listing) = fs::read_dir(dir) else {
        return Vec::new();
    };
    listing
        .flatten()
        .filter(|item| item.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|item| item.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::JobCaches;
    use super::*;

    const DAY: u64 = 24 * 3600 * 1_000_000;

    fn save(caches: &JobCaches, key: &str, bytes: &[u8], now: u64) {
        let reserved = caches.reserve("job", 1, key, "v", None, now).unwrap();
        let (_, archive) = caches.reservation(reserved.cache_id, "job", 1).unwrap();
        fs::write(&archive, bytes).unwrap();
        caches
            .record_range(reserved.cache_id, 0, bytes.len() as u64 - 1)
            .unwrap();
        caches
            .commit_reservation(reserved.cache_id, "job", 1, bytes.len() as u64, now)
            .unwrap();
    }

    fn keys(caches: &JobCaches) -> Vec<String> {
        let mut keys: Vec<String> = caches
            .own_entries()
            .unwrap()
            .into_iter()
            .map(|entry| entry.key)
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn unused_entries_go_after_a_week_and_a_restore_counts_as_use() {
        let data = tempfile::tempdir().unwrap();
        let caches = JobCaches::new(data.path(), "org/app", "refs/heads/main", "main");
        let start = 100 * DAY;
        save(&caches, "old", b"1", start);
        save(&caches, "restored", b"2", start);
        save(&caches, "new", b"3", start + 6 * DAY);
        let hit = caches
            .lookup_version("restored", &[], Some("v"))
            .unwrap()
            .unwrap();
        assert_eq!(hit.key, "restored");
        // The restore above happened "now" (the real clock), far later than `start`.
        assert_eq!(sweep(data.path(), start + 8 * DAY), 1);
        assert_eq!(keys(&caches), ["new", "restored"]);
    }

    #[test]
    fn over_the_repository_limit_the_least_recently_used_go_first() {
        let data = tempfile::tempdir().unwrap();
        let main = JobCaches::new(data.path(), "org/app", "refs/heads/main", "main");
        let feature = JobCaches::new(data.path(), "org/app", "refs/heads/f", "main");
        save(&main, "a", b"aaaa", 10);
        save(&feature, "b", b"bbbb", 20);
        save(&main, "c", b"cccc", 30);
        assert_eq!(sweep_with_limit(data.path(), 40, 8), 1);
        assert_eq!(keys(&main), ["c"]);
        assert_eq!(keys(&feature), ["b"]);
    }
}
