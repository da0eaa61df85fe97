//! One runner process per work dir: the runner holds an exclusive `flock` on
//! `<work_dir>/runner.lock` for its whole life and writes its pid and engine URL into it. A
//! supervisor (`slipway serve`) asks `holder` whether a live runner already uses a work dir, and
//! adopts it instead of starting a second one; the kernel drops the lock when the process dies,
//! however it dies, so a stale file never looks alive.
//!
//! This module only locks and reads the lock; it does not start, stop or signal processes.

use std::io::Write;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

/// A live runner found holding a work dir's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// The holder's process id, as written in the lock file.
    pub pid: u32,
    /// The engine URL the holder talks to (empty when it did not say).
    pub engine_url: String,
}

/// Why the work dir's lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum WorkDirLockError {
    /// Another live runner process holds the lock.
    #[error("another runner process (pid {pid}) uses the work dir {dir}")]
    Held {
        /// The work dir the other runner uses.
        dir: PathBuf,
        /// The process id of the runner holding it.
        pid: u32,
    },
    /// The lock file could not be opened, locked or written.
    #[error("lock the work dir {dir}: {source}")]
    Io {
        /// The work dir whose lock file failed.
        dir: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The lock, held until dropped (or the process ends).
#[derive(Debug)]
pub struct WorkDirLock {
    _lock: Flock<std::fs::File>,
}

/// The lock file of a work dir.
pub fn lock_path(work_dir: &Path) -> PathBuf {
    work_dir.join("runner.lock")
}

impl WorkDirLock {
    /// Takes the work dir's lock for this process and writes this process's pid and
    /// `engine_url` into it; refused while another live process holds it.
    pub fn acquire(work_dir: &Path, engine_url: &str) -> Result<WorkDirLock, WorkDirLockError> {
        let io = |source| WorkDirLockError::Io {
            dir: work_dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(work_dir).map_err(io)?;
        let path = lock_path(work_dir);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io)?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, _)) => {
                let pid = read_holder(&path).map(|holder| holder.pid).unwrap_or(0);
                return Err(WorkDirLockError::Held {
                    dir: work_dir.to_path_buf(),
                    pid,
                });
            }
        };
        lock.set_len(0).map_err(io)?;
        writeln!(lock, "{}\n{engine_url}", std::process::id()).map_err(io)?;
        lock.sync_all().map_err(io)?;
        Ok(WorkDirLock { _lock: lock })
    }
}

/// The live runner holding `work_dir`'s lock, if any. Taking the lock for a moment is the test:
/// it succeeds only when no process holds it.
pub fn holder(work_dir: &Path) -> Option<LockHolder> {
    let path = lock_path(work_dir);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // Nobody holds it; the shared lock ends when `_free` drops.
        Ok(_free) => None,
        Err(_) => read_holder(&path).filter(|holder| holder.pid > 0),
    }
}

fn read_holder(path: &Path) -> Option<LockHolder> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let pid = lines.next()?.trim().parse().ok()?;
    let engine_url = lines.next().unwrap_or_default().trim().to_string();
    Some(LockHolder { pid, engine_url })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_names_its_holder_and_refuses_a_second_one() {
        let temp = tempfile::tempdir().unwrap();
        assert_eq!(holder(temp.path()), None);
        let lock = WorkDirLock::acquire(temp.path(), "http://127.0.0.1:1").unwrap();
        // flock locks belong to the open file: a second open in this process conflicts too.
        let found = holder(temp.path()).unwrap();
        assert_eq!(found.pid, std::process::id());
        assert_eq!(found.engine_url, "http://127.0.0.1:1");
        assert!(matches!(
            WorkDirLock::acquire(temp.path(), "x"),
            Err(WorkDirLockError::Held { .. })
        ));
        drop(lock);
        assert_eq!(holder(temp.path()), None);
        assert!(WorkDirLock::acquire(temp.path(), "y").is_ok());
    }
}
