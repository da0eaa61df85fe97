//! Retention: finished runs older than an age go, with their jobs, logs, artifacts and the work
//! dirs of the engine's embedded runners (`<data>/runners/*/work/<run_id>`). `serve --retain`
//! runs the sweep at start and every hour (or every `retain`, if shorter);
//! `POST /api/v1/admin/gc` (`slipway gc`) runs it on demand.
//!
//! A run still going is never removed, nor a finished one whose re-run family (the attempts
//! sharing one artifact folder) has a member that is younger or still going: a family goes
//! whole, so a kept attempt never loses its artifacts. Store records go first (one write per
//! run), files after; files left by a crash in between are found again by the next sweep (log
//! and artifact folders of runs the store no longer knows).
//!
//! This file decides what goes; `store` removes records, and it never touches a run's files
//! while the run exists.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::runs::dispatch::Engine;
use crate::store::{RunId, RunRecord, RunStatus, StoreError, now_us};

/// The age used when neither the request nor `serve --retain` gives one.
pub const DEFAULT_RETAIN: Duration = Duration::from_secs(30 * 24 * 3600);

/// A folder of an unknown run is removed once it is this old (see `remove_orphans`).
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// How often `serve --retain` sweeps at most: every hour, or every `retain` when that is
/// shorter, so a run outlives its retention by at most one period.
const SWEEP_EVERY: Duration = Duration::from_secs(3600);

/// What a sweep removed (or, dry, would remove).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Swept {
    /// The runs, oldest first.
    pub runs: Vec<RunRecord>,
    /// Bytes of files removed (or that would be).
    pub bytes: u64,
}

/// Removes every finished run that ended more than `older_than` ago (see the module doc);
/// `dry_run` only says what would go.
pub async fn sweep(
    engine: &Arc<Engine>,
    older_than: Duration,
    dry_run: bool,
) -> Result<Swept, StoreError> {
    let cutoff = now_us().saturating_sub(u64::try_from(older_than.as_micros()).unwrap_or(u64::MAX));
    let store = engine.store().clone();
    let runs = store.runs()?;
    let expired = expired_runs(&runs, cutoff);
    let data_dir = engine.config().data_dir.clone();
    let mut swept = Swept::default();
    for run in expired {
        let folders = run_folders(&data_dir, run.run_id);
        if dry_run {
            swept.bytes += folders.iter().map(|path| size_of(path)).sum::<u64>();
            swept.runs.push(run);
            continue;
        }
        let Some(removed) = store.delete_finished_run(run.run_id).await? else {
            continue;
        };
        swept.bytes += tokio::task::spawn_blocking(move || remove_all(&folders))
            .await
            .unwrap_or(0);
        swept.runs.push(removed);
    }
    if !dry_run {
        // Folders whose run the store no longer knows (a crash between the two steps).
        let known: HashSet<RunId> = store.runs()?.iter().map(|run| run.run_id).collect();
        let data_dir = data_dir.clone();
        swept.bytes += tokio::task::spawn_blocking(move || remove_orphans(&data_dir, &known))
            .await
            .unwrap_or(0);
    }
    Ok(swept)
}

/// Sweeps with `retain` now and then every hour (or every `retain`, if shorter), until the
/// engine shuts down.
pub fn spawn_sweeper(engine: Arc<Engine>, retain: Duration) {
    tokio::spawn(async move {
        let shutdown = engine.shutdown_token();
        loop {
            match sweep(&engine, retain, false).await {
                Ok(swept) if !swept.runs.is_empty() => tracing::info!(
                    runs = swept.runs.len(),
                    bytes = swept.bytes,
                    "retention removed finished runs"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!("failed to remove expired runs: {error}"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(SWEEP_EVERY.min(retain).max(Duration::from_secs(1))) => {}
            }
        }
    });
}

/// The runs to remove, oldest first: completed before `cutoff`, in families all of whose
/// members are.
fn expired_runs(runs: &[RunRecord], cutoff: u64) -> Vec<RunRecord> {
    let by_id: HashMap<RunId, &RunRecord> = runs.iter().map(|run| (run.run_id, run)).collect();
    let family_of = |run: &RunRecord| -> RunId {
        let mut root = run.run_id;
        let mut details = &run.details;
        for _ in 0..10_000 {
            let Some(previous) = details
                .get("rerun_of")
                .and_then(|value| value.as_str())
                .and_then(|text| text.parse::<RunId>().ok())
                .and_then(|id| by_id.get(&id))
            else {
                break;
            };
            root = previous.run_id;
            details = &previous.details;
        }
        root
    };
    let expired = |run: &RunRecord| {
        run.status == RunStatus::Completed
            && run
                .finished_at_us
                .is_some_and(|finished| finished <= cutoff)
    };
    let mut kept_families = HashSet::new();
    for run in runs {
        if !expired(run) {
            kept_families.insert(family_of(run));
        }
    }
    let mut chosen: Vec<RunRecord> = runs
        .iter()
        .filter(|run| expired(run) && !kept_families.contains(&family_of(run)))
        .cloned()
        .collect();
    chosen.sort_by_key(|run| (run.finished_at_us, run.run_id));
    chosen
}

/// The files of a run under the data dir: its logs, its artifact folder (a family root's), the
/// embedded runners' work dirs for it.
fn run_folders(data_dir: &Path, run_id: RunId) -> Vec<PathBuf> {
    let id = run_id.to_string();
    let mut folders = vec![
        data_dir.join("logs").join(&id),
        data_dir.join("artifacts").join(&id),
    ];
    if let Ok(runners) = std::fs::read_dir(data_dir.join("runners")) {
        for runner in runners.flatten() {
            folders.push(runner.path().join("work").join(&id));
        }
    }
    folders.retain(|path| path.exists());
    folders
}

/// Removes each folder; returns the bytes they held.
fn remove_all(folders: &[PathBuf]) -> u64 {
    let mut bytes = 0;
    for folder in folders {
        let size = size_of(folder);
        match std::fs::remove_dir_all(folder) {
            Ok(()) => bytes += size,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!("failed to remove {}: {error}", folder.display()),
        }
    }
    bytes
}

/// Log and artifact folders named by a run id the store does not know.
fn remove_orphans(data_dir: &Path, known: &HashSet<RunId>) -> u64 {
    let mut orphans = Vec::new();
    for area in ["logs", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(data_dir.join(area)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(run_id) = name.to_str().and_then(|name| name.parse::<RunId>().ok()) else {
                continue;
            };
            // A folder a run made a moment after `known` was read is young: left alone.
            let settled = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age > ORPHAN_AGE);
            if !known.contains(&run_id) && settled {
                orphans.push(entry.path());
            }
        }
    }
    remove_all(&orphans)
}

/// The bytes of the files under `path` (symbolic links not followed).
fn size_of(path: &Path) -> u64 {
    let Ok(metadata) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !metadata.is_dir() {
        return metadata.len();
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().map(|entry| size_of(&entry.path())).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(finished: Option<u64>, rerun_of: Option<RunId>) -> RunRecord {
        RunRecord {
            run_id: RunId::new(),
            workflow: "ci.yml".into(),
            run_number: 1,
            status: if finished.is_some() {
                RunStatus::Completed
            } else {
                RunStatus::InProgress
            },
            conclusion: None,
            cancel_requested: false,
            created_at_us: 0,
            finished_at_us: finished,
            details: match rerun_of {
                Some(id) => json!({"rerun_of": id.to_string()}),
                None => json!({}),
            },
        }
    }

    #[test]
    fn old_finished_runs_go_and_running_or_young_ones_stay() {
        let old = run(Some(10), None);
        let young = run(Some(1_000), None);
        let running = run(None, None);
        let chosen = expired_runs(&[old.clone(), young, running], 100);
        assert_eq!(chosen, vec![old]);
    }

    #[test]
    fn a_family_goes_whole_or_not_at_all() {
        let first = run(Some(10), None);
        let young_rerun = run(Some(1_000), Some(first.run_id));
        assert!(expired_runs(&[first.clone(), young_rerun], 100).is_empty());
        let old_rerun = run(Some(20), Some(first.run_id));
        let chosen = expired_runs(&[first.clone(), old_rerun.clone()], 100);
        assert_eq!(chosen, vec![first, old_rerun]);
    }
}
