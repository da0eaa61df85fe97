//! The record of the steps' process groups that may still be running, kept as one small file
//! per group under `<work_dir>/_step_groups/`, so that a step never outlives its runner: the
//! runner kills what is recorded when it stops (any way it stops), its guard process does it
//! when the runner was killed outright, and a new runner process on the same work dir reaps
//! what a crashed one left before it takes work.
//!
//! A record holds the group leader's start time (from `/proc`) so a pid reused by an unrelated
//! process is never signalled. This module only records and kills; it does not decide when.

use std::path::{Path, PathBuf};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The folder of group records under a runner's work dir.
pub fn records_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("_step_groups")
}

/// Records `pgid` (a step's process group, whose leader is the process `pgid`) as running;
/// returns the record's path. Failures are returned for the caller to log: a step still runs.
pub fn record(dir: &Path, pgid: i32) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(pgid.to_string());
    let started = start_time(pgid).unwrap_or_default();
    std::fs::write(&path, started)?;
    Ok(path)
}

/// SIGKILL to every recorded group still alive, then the records are removed. Returns the
/// groups signalled. A missing folder is nothing to do.
pub fn kill_recorded(dir: &Path) -> Vec<i32> {
    let mut killed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return killed;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(pgid) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.parse::<i32>().ok())
            .filter(|pgid| *pgid > 1)
        else {
            continue;
        };
        let recorded = std::fs::read_to_string(&path).unwrap_or_default();
        if still_ours(pgid, recorded.trim()) && killpg(Pid::from_raw(pgid), Signal::SIGKILL).is_ok()
        {
            killed.push(pgid);
        }
        let _ = std::fs::remove_file(&path);
    }
    killed
}

/// Whether signalling group `pgid` reaches the group that was recorded. While any member of a
/// group lives, Linux does not hand its id to a new process; so when a process with that pid
/// exists, it is the recorded leader only if it started at the recorded time. When no such
/// process exists, only members of the recorded group can carry that group id.
fn still_ours(pgid: i32, recorded_start: &str) -> bool {
    match start_time(pgid) {
        Some(now) => recorded_start.is_empty() || now == recorded_start,
        None => true,
    }
}

/// The start time of process `pid` (field 22 of `/proc/<pid>/stat`, clock ticks since boot).
fn start_time(pid: i32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    #[test]
    fn a_recorded_group_is_killed_and_its_record_removed() {
        let temp = tempfile::tempdir().unwrap();
        let dir = records_dir(temp.path());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(child.id()).unwrap();
        let path = record(&dir, pgid).unwrap();
        assert!(path.exists());
        assert_eq!(kill_recorded(&dir), vec![pgid]);
        let status = child.wait().unwrap();
        assert!(!status.success());
        assert!(!path.exists());
    }

    #[test]
    fn a_record_whose_pid_now_names_another_process_is_left_alone() {
        let temp = tempfile::tempdir().unwrap();
        let dir = records_dir(temp.path());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(child.id()).unwrap();
        let path = record(&dir, pgid).unwrap();
        std::fs::write(&path, "1").unwrap();
        assert!(kill_recorded(&dir).is_empty());
        assert!(!path.exists());
        child.kill().unwrap();
        let _ = child.wait();
    }
}
