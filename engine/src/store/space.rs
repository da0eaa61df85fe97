//! Free space on the data dir's disk, and the two floors the store keeps above "full".
//!
//! Why: sled 0.34 turns any failed write of its own files into a sticky error — every later
//! write fails until the database is opened again, even after space came back (issue 22). So the
//! store never lets sled reach a full disk: job logs (the bulk of what the engine writes) stop
//! at the *log floor*, and the writer refuses database writes below the lower *store floor*,
//! before sled sees them (`StoreError::NoSpace`, one operation, a clear error). Between the two
//! floors the database still has room for the writes that conclude jobs and runs.
//!
//! The floors scale with the disk: the log floor is 1/20 of its size, at least 4 MiB and at
//! most 256 MiB; the store floor is half of it.
//!
//! This file must not write anything: it measures and compares.

use std::path::{Path, PathBuf};

use super::StoreError;

const MIB: u64 = 1024 * 1024;

/// What the disk under a directory has, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DiskSpace {
    /// Bytes an unprivileged writer can still use.
    pub(super) free: u64,
    /// The file system's size.
    pub(super) size: u64,
}

impl DiskSpace {
    /// Measures the disk under `dir`; `None` when it cannot be measured (then nothing is
    /// refused for lack of space: the write itself says what went wrong).
    pub(super) fn of(dir: &Path) -> Option<DiskSpace> {
        let stat = nix::sys::statvfs::statvfs(dir).ok()?;
        let unit = stat.fragment_size().max(1);
        Some(DiskSpace {
            free: stat.blocks_available().saturating_mul(unit),
            size: stat.blocks().saturating_mul(unit),
        })
    }

    /// Below this, log output is dropped (with a notice in the log).
    pub(super) fn log_floor(&self) -> u64 {
        (self.size / 20).clamp(4 * MIB, 256 * MIB)
    }

    /// Below this, database writes are refused before sled sees them.
    pub(super) fn store_floor(&self) -> u64 {
        self.log_floor() / 2
    }

    /// Whether `bytes` more of log leave the log floor free.
    pub(super) fn fits_log(&self, bytes: u64) -> bool {
        self.free >= self.log_floor().saturating_add(bytes)
    }
}

/// The error of a write refused for lack of space on the disk under `dir`.
pub(super) fn no_space(dir: &Path, space: DiskSpace, floor: u64) -> StoreError {
    StoreError::NoSpace {
        path: PathBuf::from(dir),
        free: space.free,
        floor,
    }
}

/// How close to the log floor counts as short for `/healthz`: a runner's log chunk (1 MiB)
/// that does not fit is dropped, so a log stops between the floor and this much above it.
const HEALTH_MARGIN: u64 = MIB;

/// Why the disk under `dir` is short of space (near or below the log floor: logs are being
/// dropped), for `/healthz`; `None` when it is not.
pub(super) fn shortage(dir: &Path) -> Option<String> {
    let space = DiskSpace::of(dir)?;
    (space.free < space.log_floor() + HEALTH_MARGIN).then(|| {
        format!(
            "the data dir's disk ({}) has {} bytes free, at the {} bytes kept free: job output is dropped{}",
            dir.display(),
            space.free,
            space.log_floor(),
            if space.free < space.store_floor() {
                " and store writes are refused"
            } else {
                ""
            }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors_scale_with_the_disk_within_bounds() {
        let check = |size: u64, log: u64| {
            let space = DiskSpace { free: 0, size };
            assert_eq!(space.log_floor(), log, "size {size}");
            assert_eq!(space.store_floor(), log / 2, "size {size}");
        };
        check(20 * MIB, 4 * MIB);
        check(200 * MIB, 10 * MIB);
        check(1024 * 1024 * MIB, 256 * MIB);
    }

    #[test]
    fn a_log_write_must_leave_the_log_floor_free() {
        let space = DiskSpace {
            free: 5 * MIB,
            size: 20 * MIB,
        };
        assert!(space.fits_log(MIB));
        assert!(!space.fits_log(MIB + 1));
    }

    #[test]
    fn the_temp_dir_is_measured() {
        let dir = tempfile::tempdir().unwrap();
        let space = DiskSpace::of(dir.path()).unwrap();
        assert!(space.size > 0 && space.free <= space.size);
    }
}
