//! Helpers shared by the end-to-end tests that drive `slipway serve` and read its runs: a
//! repository with workflow files, a job of a run as the API shows it, and side-effect files.
//! Each test file includes it with `mod support;` and uses what it needs.

#![allow(dead_code)] // not every test file uses every helper

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Taken by the tests that start engines with short leases and wait on their timing: they run one
/// at a time (as they did when each file was its own binary), so that a lease period means the same
/// thing in every test on a 2-core machine.
pub(crate) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// `dir/repo`: a git repository with `workflows` (file name, text) under `.github/workflows`,
/// committed on `main`.
pub(crate) fn repo_with(dir: &Path, workflows: &[(&str, &str)]) -> PathBuf {
    let repo = dir.join("repo");
    let folder = repo.join(".github/workflows");
    std::fs::create_dir_all(&folder).expect("create repo dir");
    for (name, text) in workflows {
        std::fs::write(folder.join(name), text).expect("write workflow");
    }
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@localhost"])
            .args(args)
            .current_dir(&repo)
            .output()
            .expect("run git");
        assert!(status.status.success(), "git {args:?}: {status:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-q", "-m", "workflows"]);
    repo
}

/// The job `key` of a run as `GET /api/v1/runs/{id}` shows it (`null` when absent).
pub(crate) fn job<'a>(run: &'a Value, key: &str) -> &'a Value {
    run["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|job| job["job_key"] == key))
        .unwrap_or(&Value::Null)
}

/// The lines of a side-effect file (none when it does not exist).
pub(crate) fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
pub(crate) mod acting;
pub(crate) mod engine;

/// The user's folders every `slipway` a test starts is given (`HOME`, `XDG_CONFIG_HOME`,
/// `XDG_CACHE_HOME`, all under the target dir's `tmp/e2e-home`), so no test reads or writes
/// the real user's config file or cache: `Command::new(BIN).envs(support::user_env())`.
pub(crate) fn user_env() -> [(&'static str, PathBuf); 3] {
    let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-home");
    [
        ("XDG_CONFIG_HOME", home.join("config")),
        ("XDG_CACHE_HOME", home.join("cache")),
        ("HOME", home),
    ]
}

/// `git ARGS` in `dir` as the committer `name <email>`; insists it succeeds and answers its
/// stdout, trimmed.
pub(crate) fn git_as(name: &str, email: &str, dir: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .args([
            "-c",
            &format!("user.name={name}"),
            "-c",
            &format!("user.email={email}"),
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
