//! A job's directories on disk: `<work_dir>/<run_id>/<job_key>/workspace` (`GITHUB_WORKSPACE`), a temp
//! directory (`RUNNER_TEMP`), the event payload file and the fresh per-step command files
//! (`GITHUB_ENV`, `GITHUB_OUTPUT`, `GITHUB_STATE`, `GITHUB_PATH`, `GITHUB_STEP_SUMMARY`).
//!
//! It creates and names files; it does not parse them or run anything.

use std::io;
use std::path::{Path, PathBuf};

/// The directories of one job.
#[derive(Debug, Clone)]
pub(super) struct JobDirs {
    /// `<work_dir>/<run_id>/<job_key>`, the runner's `RUNNER_WORKSPACE`.
    pub root: PathBuf,
    pub workspace: PathBuf,
    pub temp: PathBuf,
    pub event_path: PathBuf,
}

/// The command files handed to one step, created empty.
#[derive(Debug, Clone)]
pub(super) struct StepFiles {
    pub env: PathBuf,
    pub output: PathBuf,
    pub state: PathBuf,
    pub path: PathBuf,
    pub summary: PathBuf,
}

impl JobDirs {
    /// Creates fresh directories for the job (a leftover workspace from an earlier attempt of the same
    /// run and job key is removed) and writes the event payload.
    pub(super) fn create(
        work_dir: &Path,
        run_id: &str,
        job_key: &str,
        payload: &serde_json::Value,
    ) -> io::Result<JobDirs> {
        let root = work_dir.join(sanitise(run_id)).join(sanitise(job_key));
        if root.exists() {
            std::fs::remove_dir_all(&root)?;
        }
        let dirs = JobDirs {
            workspace: root.join("workspace"),
            temp: root.join("temp"),
            event_path: root.join("temp").join("event.json"),
            root,
        };
        std::fs::create_dir_all(&dirs.workspace)?;
        std::fs::create_dir_all(dirs.temp.join("_runner_file_commands"))?;
        let payload = serde_json::to_vec_pretty(payload).map_err(io::Error::other)?;
        std::fs::write(&dirs.event_path, payload)?;
        Ok(dirs)
    }

    /// Empty command files for one step; `label` is unique per step in the job (composite steps too).
    pub(super) fn step_files(&self, label: &str) -> io::Result<StepFiles> {
        let dir = self.temp.join("_runner_file_commands");
        let label = sanitise(label);
        let files = StepFiles {
            env: dir.join(format!("set_env_{label}")),
            output: dir.join(format!("set_output_{label}")),
            state: dir.join(format!("save_state_{label}")),
            path: dir.join(format!("add_path_{label}")),
            summary: dir.join(format!("step_summary_{label}")),
        };
        for file in [
            &files.env,
            &files.output,
            &files.state,
            &files.path,
            &files.summary,
        ] {
            std::fs::write(file, b"")?;
        }
        Ok(files)
    }

    /// Removes the temp directory (the workspace stays for inspection).
    pub(super) fn remove_temp(&self) {
        let _ = std::fs::remove_dir_all(&self.temp);
    }
}

/// A name safe as one path component: letters, digits, `.`, `-`, `_` kept, anything else `_`; when
/// anything was replaced a short hash of the original is appended so that distinct keys (matrix legs)
/// stay distinct.
pub fn sanitise(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let cleaned = if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        format!("_{cleaned}")
    } else {
        cleaned
    };
    if cleaned == name {
        return cleaned;
    }
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{cleaned}-{:08x}", hash & 0xffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitised_names_are_safe_and_distinct() {
        assert_eq!(sanitise("build"), "build");
        let a = sanitise("build (ubuntu, 1)");
        let b = sanitise("build (ubuntu; 1)");
        assert_ne!(a, b);
        assert!(a.starts_with("build__ubuntu__1_-"));
        assert!(!sanitise("../x").contains('/'));
        assert_ne!(sanitise(".."), "..");
        assert_ne!(sanitise(""), "");
    }
}
