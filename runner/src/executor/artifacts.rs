//! The built-in `actions/upload-artifact`, `actions/download-artifact` and `actions/cache`, kept
//! simple but real: artifacts are directories under the run's artifact directory (shared by the
//! jobs of one run on this machine), caches are directories keyed by `key` under the cache directory.
//! Also `hashFiles()` for expressions.
//!
//! Everything here is plain file copying; it runs no user commands.

use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};
use sha2::{Digest, Sha256};

/// The files an `upload-artifact` `path:` input names (one pattern a line, `!` excludes), each with
/// the path it gets inside the artifact (relative to the patterns' common root, as GitHub does).
pub(super) fn select_files(base: &Path, patterns: &str) -> Result<Vec<(PathBuf, PathBuf)>, String> {
    let mut includes = Vec::new();
    let mut excludes = GlobSetBuilder::new();
    for pattern in patterns
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
    {
        if let Some(excluded) = pattern.strip_prefix('!') {
            let excluded = absolute_pattern(base, excluded.trim());
            excludes.add(
                glob(&excluded).map_err(|error| format!("invalid pattern `{pattern}`: {error}"))?,
            );
        } else {
            includes.push(absolute_pattern(base, pattern));
        }
    }
    let excludes = excludes.build().map_err(|error| error.to_string())?;

    let mut roots = Vec::new();
    let mut files = Vec::new();
    for pattern in &includes {
        let search_root = literal_prefix(pattern);
        if !has_glob(pattern) {
            let path = PathBuf::from(pattern);
            if path.is_file() {
                roots.push(path.parent().map(Path::to_path_buf).unwrap_or_default());
                files.push(path);
            } else if path.is_dir() {
                walk_files(&path, &mut files).map_err(|error| error.to_string())?;
                roots.push(path);
            }
            continue;
        }
        let matcher =
            glob(pattern).map_err(|error| format!("invalid pattern `{pattern}`: {error}"))?;
        let matcher = matcher.compile_matcher();
        let mut candidates = Vec::new();
        if search_root.is_dir() {
            walk_files(&search_root, &mut candidates).map_err(|error| error.to_string())?;
        }
        files.extend(candidates.into_iter().filter(|file| matcher.is_match(file)));
        roots.push(search_root);
    }
    let root = common_ancestor(&roots);
    let mut selected: Vec<(PathBuf, PathBuf)> = files
        .into_iter()
        .filter(|file| !excludes.is_match(file))
        .filter_map(|file| {
            let relative = file.strip_prefix(&root).ok()?.to_path_buf();
            Some((file, relative))
        })
        .collect();
    selected.sort();
    selected.dedup();
    Ok(selected)
}

/// Copies `files` (source, relative destination) under `destination`.
pub(super) fn copy_files(files: &[(PathBuf, PathBuf)], destination: &Path) -> io::Result<usize> {
    for (source, relative) in files {
        let target = destination.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(source, &target)?;
    }
    Ok(files.len())
}

/// Copies the tree under `source` into `destination`, returning how many files were copied.
pub(super) fn copy_tree(source: &Path, destination: &Path) -> io::Result<usize> {
    let mut files = Vec::new();
    walk_files(source, &mut files)?;
    let pairs: Vec<(PathBuf, PathBuf)> = files
        .into_iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(source).ok()?.to_path_buf();
            Some((file, relative))
        })
        .collect();
    copy_files(&pairs, destination)
}

/// `hashFiles(patterns…)`: the SHA-256 over the SHA-256 of every matching file under `workspace`, in
/// path order; "" when nothing matches.
pub(super) fn hash_files(workspace: &Path, patterns: &[String]) -> Result<String, String> {
    let mut includes = GlobSetBuilder::new();
    let mut excludes = GlobSetBuilder::new();
    for pattern in patterns
        .iter()
        .map(|pattern| pattern.trim())
        .filter(|pattern| !pattern.is_empty())
    {
        let (set, pattern) = match pattern.strip_prefix('!') {
            Some(excluded) => (&mut excludes, excluded),
            None => (&mut includes, pattern),
        };
        let glob = glob(&absolute_pattern(workspace, pattern))
            .map_err(|error| format!("invalid hashFiles pattern `{pattern}`: {error}"))?;
        set.add(glob);
    }
    let (includes, excludes): (GlobSet, GlobSet) = (
        includes.build().map_err(|error| error.to_string())?,
        excludes.build().map_err(|error| error.to_string())?,
    );
    let mut files = Vec::new();
    walk_files(workspace, &mut files).map_err(|error| error.to_string())?;
    files.sort();
    let mut outer = Sha256::new();
    let mut any = false;
    for file in files
        .iter()
        .filter(|file| includes.is_match(file) && !excludes.is_match(file))
    {
        let bytes = std::fs::read(file)
            .map_err(|error| format!("failed to read {}: {error}", file.display()))?;
        outer.update(Sha256::digest(&bytes));
        any = true;
    }
    Ok(if any {
        hex(&outer.finalize())
    } else {
        String::new()
    })
}

/// A cache key or artifact name made safe as one directory name.
pub(super) fn key_directory(root: &Path, key: &str) -> PathBuf {
    root.join(super::workspace::sanitise(key))
}

/// A glob where `*` stays within one path component, as GitHub's patterns do (`**` crosses them).
fn glob(pattern: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(pattern).literal_separator(true).build()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn absolute_pattern(base: &Path, pattern: &str) -> String {
    let expanded = match pattern.strip_prefix("~/") {
        Some(rest) => std::env::var("HOME")
            .map(|home| format!("{home}/{rest}"))
            .unwrap_or_else(|_| pattern.into()),
        None => pattern.to_string(),
    };
    let path = Path::new(&expanded);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        base.join(path)
    };
    normalise(&joined).to_string_lossy().to_string()
}

/// Removes `.` and resolves `..` lexically.
fn normalise(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

fn has_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?', '[', '{'])
}

/// The directory part of a pattern before its first glob character.
fn literal_prefix(pattern: &str) -> PathBuf {
    let mut prefix = PathBuf::new();
    for component in Path::new(pattern).components() {
        if has_glob(&component.as_os_str().to_string_lossy()) {
            break;
        }
        prefix.push(component);
    }
    prefix
}

fn common_ancestor(paths: &[PathBuf]) -> PathBuf {
    let Some(first) = paths.first() else {
        return PathBuf::new();
    };
    let mut common: Vec<Component> = first.components().collect();
    for path in paths.iter().skip(1) {
        let shared = common
            .iter()
            .zip(path.components())
            .take_while(|(a, b)| **a == *b)
            .count();
        common.truncate(shared);
    }
    common.into_iter().collect()
}

fn walk_files(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk_files(&path, files)?;
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            files.push(path);
        }
    }
    Ok(())
}

/// A boxed future of an artifact service call.
pub type ArtifactFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send + 'a>>;

/// Where a job's artifacts go when they must outlive this machine: the engine keeps them, so a job
/// on another runner, or a later attempt of the run, downloads them. Without one (`slipway run`)
/// artifacts are folders of the run's artifact directory on this machine.
///
/// The executor stays ignorant of HTTP: the runner's agent provides the implementation.
pub trait ArtifactService: Send + Sync + std::fmt::Debug {
    /// Uploads `files` (the file on disk, its path inside the artifact) as the artifact `name`,
    /// all or nothing; returns how many files it holds.
    fn upload<'a>(
        &'a self,
        name: &'a str,
        files: &'a [(PathBuf, PathBuf)],
        overwrite: bool,
        retention_days: Option<u32>,
    ) -> ArtifactFuture<'a, usize>;
    /// The names of the artifacts this job may download (its run's, earlier attempts' included).
    fn list(&self) -> ArtifactFuture<'_, Vec<String>>;
    /// Downloads the artifact `name` into `target`; returns how many files it wrote.
    fn download<'a>(&'a self, name: &'a str, target: &'a Path) -> ArtifactFuture<'a, usize>;
}

/// Whether an artifact name matches a `download-artifact` `pattern:` (a glob over names).
pub(super) fn name_matches(pattern: Option<&str>, name: &str) -> Result<bool, String> {
    let Some(pattern) = pattern.map(str::trim).filter(|pattern| !pattern.is_empty()) else {
        return Ok(true);
    };
    let matcher = GlobBuilder::new(pattern)
        .build()
        .map_err(|error| format!("invalid pattern `{pattern}`: {error}"))?
        .compile_matcher();
    Ok(matcher.is_match(name))
}

/// Where `actions/cache` entries go when they must be shared by every runner: the engine. Without
/// one (`slipway run`) entries are folders of this machine's cache directory. Entries hold the
/// saved paths as `paths/<index>/…` (a directory) or `paths/<index>.file` (a file).
pub trait CacheService: Send + Sync + std::fmt::Debug {
    /// Finds the entry a restore of `key` with `restore_keys` gets and downloads its files into
    /// `into`; the key it matched, or `None` when nothing matched.
    fn restore<'a>(
        &'a self,
        key: &'a str,
        restore_keys: &'a [String],
        into: &'a Path,
    ) -> ArtifactFuture<'a, Option<String>>;
    /// Saves `files` (the file on disk, its path inside the entry) as the entry `key`; `false`
    /// when an entry with that key exists already (entries are immutable).
    fn save<'a>(
        &'a self,
        key: &'a str,
        files: &'a [(PathBuf, PathBuf)],
    ) -> ArtifactFuture<'a, bool>;
}

/// The files of a cache entry for `paths`: each directory's files under `paths/<index>/`, each
/// file as `paths/<index>.file`; paths that do not exist are left out.
pub(super) fn cache_entry_files(paths: &[PathBuf]) -> io::Result<Vec<(PathBuf, PathBuf)>> {
    let mut entry = Vec::new();
    for (index, path) in paths.iter().enumerate() {
        if path.is_dir() {
            let mut files = Vec::new();
            walk_files(path, &mut files)?;
            for file in files {
                if let Ok(relative) = file.strip_prefix(path) {
                    let inside = PathBuf::from("paths")
                        .join(index.to_string())
                        .join(relative);
                    entry.push((file.clone(), inside));
                }
            }
        } else if path.is_file() {
            entry.push((
                path.clone(),
                PathBuf::from("paths").join(format!("{index}.file")),
            ));
        }
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selects_files_relative_to_common_root() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("out/a")).unwrap();
        std::fs::write(base.join("out/a/one.txt"), "1").unwrap();
        std::fs::write(base.join("out/two.txt"), "2").unwrap();
        std::fs::write(base.join("out/skip.log"), "x").unwrap();
        let names = |selected: Vec<(PathBuf, PathBuf)>| {
            selected
                .into_iter()
                .map(|(_, relative)| relative.to_string_lossy().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(select_files(base, "out/two.txt").unwrap()),
            vec!["two.txt"]
        );
        assert_eq!(
            names(select_files(base, "out\n!out/*.log").unwrap()),
            vec!["a/one.txt", "two.txt"]
        );
        assert_eq!(
            names(select_files(base, "out/**/*.txt").unwrap()),
            vec!["a/one.txt", "two.txt"]
        );
        assert!(select_files(base, "missing").unwrap().is_empty());
    }

    #[test]
    fn hash_files_changes_with_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Cargo.lock"), "a").unwrap();
        let first = hash_files(dir.path(), &["**/Cargo.lock".into()]).unwrap();
        assert_eq!(first.len(), 64);
        std::fs::write(dir.path().join("Cargo.lock"), "b").unwrap();
        assert_ne!(
            first,
            hash_files(dir.path(), &["**/Cargo.lock".into()]).unwrap()
        );
        assert_eq!(hash_files(dir.path(), &["nothing-*".into()]).unwrap(), "");
    }
}
