//! What `slipway run` runs and where it keeps its files: the workflow a `--workflow` names (a
//! bare `ci.yml` is looked up under `.github/workflows`), whether the working tree has
//! uncommitted changes, a snapshot of HEAD's files for `--commit`, and the cache folder of local
//! runs (`$XDG_CACHE_HOME/slipway/runs`), of which only the newest N are kept.
//!
//! This file reads git and files; it runs nothing.

use std::path::{Path, PathBuf};

/// The cache folder of local runs: one folder per run (its workspaces and artifacts), and the
/// shared `_actions`, `_cache` and `_tool` folders of the executor.
pub(crate) fn runs_dir() -> PathBuf {
    crate::config::user_cache_dir().join("runs")
}

/// The cache folder of local runs' logs: `<logs_dir>/<run id>/<job>.log`.
pub(crate) fn logs_dir() -> PathBuf {
    crate::config::user_cache_dir().join("logs")
}

/// The workflow file `--workflow` names: a path that exists as given (or under `directory`),
/// else a file of that name under `directory/.github/workflows` (with `.yml`/`.yaml` added to a
/// name without one). An error lists where it looked.
pub(crate) fn resolve_workflow(directory: &Path, given: &Path) -> Result<PathBuf, String> {
    let workflows = directory.join(".github").join("workflows");
    let mut candidates = Vec::new();
    if given.is_absolute() {
        candidates.push(given.to_path_buf());
    } else {
        candidates.push(given.to_path_buf());
        candidates.push(directory.join(given));
        candidates.push(workflows.join(given));
        if given.extension().is_none() {
            for extension in ["yml", "yaml"] {
                candidates.push(workflows.join(given).with_extension(extension));
            }
        }
    }
    if let Some(found) = candidates.iter().find(|path| path.is_file()) {
        return Ok(found.clone());
    }
    Err(format!(
        "no workflow file `{}`: looked for {}",
        given.display(),
        candidates
            .iter()
            .map(|path| path.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Whether the repository holding `directory` has changes HEAD does not (modified, staged or
/// untracked files; ignored ones do not count). `false` outside git.
pub(crate) fn has_uncommitted_changes(directory: &Path) -> bool {
    let Ok(repo) = git2::Repository::discover(directory) else {
        return false;
    };
    let mut options = git2::StatusOptions::new();
    options
        .include_untracked(true)
        .recurse_untracked_dirs(false)
        .include_ignored(false)
        .exclude_submodules(true);
    repo.statuses(Some(&mut options))
        .map(|statuses| !statuses.is_empty())
        .unwrap_or(false)
}

/// Writes HEAD's files of the repository holding `directory` into `into` (created; emptied
/// first) and returns the folder in the snapshot that stands for `directory`.
pub(crate) fn head_snapshot(directory: &Path, into: &Path) -> Result<PathBuf, String> {
    let repo = git2::Repository::discover(directory).map_err(|error| {
        format!(
            "find the git repository of {} (--commit runs a commit): {}",
            directory.display(),
            error.message()
        )
    })?;
    let workdir = repo
        .workdir()
        .ok_or_else(|| format!("{} is a bare repository", repo.path().display()))?
        .to_path_buf();
    let head = repo
        .head()
        .and_then(|head| head.peel_to_tree())
        .map_err(|error| format!("read HEAD of {}: {}", workdir.display(), error.message()))?;
    if into.exists() {
        std::fs::remove_dir_all(into)
            .map_err(|error| format!("empty {}: {error}", into.display()))?;
    }
    std::fs::create_dir_all(into).map_err(|error| format!("create {}: {error}", into.display()))?;
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout.target_dir(into).force().update_index(false);
    repo.checkout_tree(head.as_object(), Some(&mut checkout))
        .map_err(|error| {
            format!(
                "write HEAD's files into {}: {}",
                into.display(),
                error.message()
            )
        })?;
    let relative = directory
        .canonicalize()
        .ok()
        .zip(workdir.canonicalize().ok())
        .and_then(|(directory, workdir)| {
            directory.strip_prefix(&workdir).ok().map(Path::to_path_buf)
        })
        .unwrap_or_default();
    Ok(into.join(relative))
}

/// Removes the oldest run folders under `runs_dir` (with their logs under `logs_dir`) until `keep`
/// are left.
/// Shared folders (`_actions`, …) stay, and so does the folder of a run still going in another
/// `slipway run` (its id, `<ms>-<pid>-<n>`, names a live process). Returns how many went.
pub(crate) fn prune_runs(runs_dir: &Path, logs_dir: &Path, keep: usize) -> usize {
    let Ok(entries) = std::fs::read_dir(runs_dir) else {
        return 0;
    };
    let mut runs: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('_'))
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| {
            let modified = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (modified, entry.path())
        })
        .collect();
    if runs.len() <= keep {
        return 0;
    }
    // Newest first by time, then by name (run ids start with the start time in ms).
    runs.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| b.1.cmp(&a.1)));
    let mut removed = 0;
    for (_, path) in runs.into_iter().skip(keep) {
        if run_is_live(&path) {
            continue;
        }
        if let Some(name) = path.file_name() {
            let _ = std::fs::remove_dir_all(logs_dir.join(name));
        }
        if std::fs::remove_dir_all(&path).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Whether the process that named this run folder (`<ms>-<pid>-<n>`) still runs.
fn run_is_live(folder: &Path) -> bool {
    let Some(pid) = folder
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.split('-').nth(1))
        .and_then(|pid| pid.parse::<i32>().ok())
        .filter(|pid| *pid > 0)
    else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) => true,
        Err(errno) => errno == nix::errno::Errno::EPERM,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_workflow_name_is_found_under_github_workflows() {
        let dir = tempfile::tempdir().unwrap();
        let workflows = dir.path().join(".github/workflows");
        std::fs::create_dir_all(&workflows).unwrap();
        std::fs::write(workflows.join("ci.yml"), "on: push\n").unwrap();
        let found = resolve_workflow(dir.path(), Path::new("ci.yml")).unwrap();
        assert_eq!(found, workflows.join("ci.yml"));
        let found = resolve_workflow(dir.path(), Path::new("ci")).unwrap();
        assert_eq!(found, workflows.join("ci.yml"));
        let error = resolve_workflow(dir.path(), Path::new("cd.yml")).unwrap_err();
        assert!(error.contains(".github/workflows/cd.yml"), "{error}");
    }

    #[test]
    fn pruning_keeps_the_newest_runs_and_the_shared_folders() {
        let dir = tempfile::tempdir().unwrap();
        // Pids far beyond any pid_max: no such process runs.
        for name in [
            "_actions",
            "1000-999999999-1",
            "2000-999999999-1",
            "3000-999999999-1",
        ] {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let logs = dir.path().join("_logs");
        std::fs::create_dir_all(logs.join("1000-999999999-1")).unwrap();
        assert_eq!(prune_runs(dir.path(), &logs, 2), 1);
        assert!(!logs.join("1000-999999999-1").exists());
        assert!(dir.path().join("_actions").exists());
        assert!(!dir.path().join("1000-999999999-1").exists());
        assert!(dir.path().join("3000-999999999-1").exists());
        // A run of a live process is kept even past the count.
        let live = format!("500-{}-1", std::process::id());
        std::fs::create_dir_all(dir.path().join(&live)).unwrap();
        assert_eq!(prune_runs(dir.path(), &logs, 0), 2);
        assert!(dir.path().join(&live).exists());
    }
}
