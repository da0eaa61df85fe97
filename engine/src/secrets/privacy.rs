//! The data directory holds sealed secrets, the secrets key, runner credentials' hashes, logs and
//! artifacts: it and everything in it is private to the engine's user (directories 0700, files
//! 0600). [`secure_data_dir`] checks that at start, fixes what is not, and says what it fixed —
//! a data dir copied or restored with looser modes is reported, not silently accepted.
//!
//! This module only reads and changes permissions; it never reads the files' contents.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// What [`secure_data_dir`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PrivacyReport {
    /// Entries whose mode let other users in, with the mode they had (now fixed).
    pub fixed: Vec<(PathBuf, u32)>,
    /// Entries whose mode could not be changed, with why.
    pub failed: Vec<(PathBuf, String)>,
}

/// Creates `data_dir` when missing, then makes it and every entry under it private: group and
/// other permission bits are cleared (directories end at most 0700, files at most 0600).
/// Symbolic links are not followed. The embedded runners' work dirs
/// (`<data>/runners/<runner>/work`) hold users' workspaces, made with the user's umask: they are
/// left as they are (the private data dir already keeps other users out).
pub fn secure_data_dir(data_dir: &Path) -> io::Result<PrivacyReport> {
    fs::create_dir_all(data_dir)?;
    let mut report = PrivacyReport::default();
    let mut stack = vec![data_dir.to_path_buf()];
    let runners = data_dir.join("runners");
    while let Some(path) = stack.pop() {
        if path.file_name().is_some_and(|name| name == "work")
            && path.parent().and_then(Path::parent) == Some(runners.as_path())
        {
            continue;
        }
        let metadata = match fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            Err(error) => {
                report.failed.push((path, error.to_string()));
                continue;
            }
        };
        if metadata.file_type().is_symlink() {
            continue;
        }
        let mode = metadata.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            let private = mode & !0o077;
            match fs::set_permissions(&path, fs::Permissions::from_mode(private)) {
                Ok(()) => report.fixed.push((path.clone(), mode)),
                Err(error) => report.failed.push((path.clone(), error.to_string())),
            }
        }
        if metadata.is_dir() {
            match fs::read_dir(&path) {
                Ok(entries) => stack.extend(entries.flatten().map(|entry| entry.path())),
                Err(error) => report.failed.push((path, error.to_string())),
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_modes_are_fixed_and_reported() {
        let temp = tempfile::tempdir().expect("temp dir");
        let data = temp.path().join("data");
        fs::create_dir_all(data.join("logs")).expect("dirs");
        fs::write(data.join("secrets.key"), "k").expect("file");
        fs::write(data.join("logs/a.log"), "line").expect("file");
        fs::set_permissions(&data, fs::Permissions::from_mode(0o755)).expect("chmod");
        fs::set_permissions(data.join("secrets.key"), fs::Permissions::from_mode(0o644))
            .expect("chmod");
        fs::set_permissions(data.join("logs/a.log"), fs::Permissions::from_mode(0o600))
            .expect("chmod");

        let report = secure_data_dir(&data).expect("secure");
        let fixed: Vec<&Path> = report
            .fixed
            .iter()
            .map(|(path, _)| path.as_path())
            .collect();
        assert!(fixed.contains(&data.as_path()), "{report:?}");
        assert!(
            fixed.contains(&data.join("secrets.key").as_path()),
            "{report:?}"
        );
        assert!(
            !fixed.contains(&data.join("logs/a.log").as_path()),
            "{report:?}"
        );
        let mode = |path: &Path| fs::metadata(path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("secrets.key")), 0o600);
        assert_eq!(mode(&data.join("logs")) & 0o077, 0);

        let again = secure_data_dir(&data).expect("secure");
        assert!(again.fixed.is_empty(), "{again:?}");
    }
}
