//! Files only their owner may read. The engine keeps its admin token and secrets key this way,
//! the runner its credential: one function, so the two cannot drift apart.
//!
//! **Architecture Invariant:** no dependencies beyond `std`; nothing here knows what the bytes mean.

use std::io;
use std::path::Path;

/// What to do when the file exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Overwrite it, and narrow its mode to 0600 if it was looser.
    Replace,
    /// Refuse with `AlreadyExists` (two writers racing for a new file: one wins, cleanly).
    Refuse,
}

/// Writes `bytes` to `path` readable and writable by its owner only (0600 on Unix), then syncs it
/// to disk.
pub fn write_private(path: &Path, bytes: &[u8], existing: Existing) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    match existing {
        Existing::Replace => options.create(true).truncate(true),
        Existing::Refuse => options.create_new(true),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let mut file = options.open(path)?;
        // An existing file keeps its old mode on open: narrow it too.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    #[test]
    fn new_files_are_private_and_replace_narrows_an_old_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        write_private(&path, b"one", Existing::Refuse).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        let again = write_private(&path, b"two", Existing::Refuse).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"one",
            "a refusal changes nothing"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(mode(&path), 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        write_private(&path, b"three", Existing::Replace).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
    }
}
