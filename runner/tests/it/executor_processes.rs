//! Killing process trees: step timeouts, the job's timeout, cancellation (SIGTERM, then SIGKILL after
//! the grace period), and background processes left behind by a step.

use crate::executor_support;

use std::path::Path;
use std::time::Duration;

use executor_support::*;
use protocol::{Conclusion, JobEvent};
use tokio_util::sync::CancellationToken;

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

fn read_pids(path: &Path) -> Vec<i32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// Waits (bounded) until none of `pids` is alive; reaping by init may take a moment.
async fn all_dead(pids: &[i32]) -> bool {
    for _ in 0..100 {
        if pids.iter().all(|pid| !alive(*pid)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test]
async fn step_timeout_kills_grandchildren() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let script = format!(
        "sleep 100 &\necho $! >> {pids}\nbash -c 'echo $$ >> {pids}; exec sleep 100' &\nsleep 0.2\necho started\nwait",
        pids = pids.display()
    );
    let spec = job(vec![run(&script).timeout_minutes(0.02), run("echo next")]);
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(ran.outcome(0), ("failure", "failure"));
    assert!(
        ran.logs(0).iter().any(|line| line.contains("timed out")),
        "{:?}",
        ran.logs(0)
    );
    assert_eq!(ran.outcome(1), ("skipped", "skipped"));
    let pids = read_pids(&pids);
    assert_eq!(pids.len(), 2, "both background processes started");
    assert!(all_dead(&pids).await, "grandchildren {pids:?} were killed");
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
}

#[tokio::test]
async fn job_timeout_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![run("sleep 100"), run("echo never")]);
    spec.timeout_minutes = 0.02;
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(0), ("failure", "failure"));
    assert_eq!(ran.outcome(1), ("skipped", "skipped"));
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
    assert!(
        ran.result
            .failure_reason
            .as_deref()
            .is_some_and(|reason| reason.contains("timeout"))
    );
}

#[tokio::test]
async fn cancel_sends_sigterm_then_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("got-term");
    let pids = dir.path().join("pids");
    let script = format!(
        "trap 'echo term > {marker}' TERM\necho $$ >> {pids}\necho ready\nwhile true; do sleep 0.1 || true; done",
        marker = marker.display(),
        pids = pids.display()
    );
    let spec = job(vec![run(&script), run("echo not after cancel")]);
    let options = options(&dir.path().join("work"));
    let cancel = CancellationToken::new();
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let job = tokio::spawn({
        let cancel = cancel.clone();
        let options = options.clone();
        async move { runner::executor::run_job(spec, &options, sender, cancel).await }
    });
    let mut events = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(60), receiver.recv())
        .await
        .unwrap()
    {
        let ready = matches!(&event, JobEvent::Log { line, .. } if line == "ready");
        events.push(event);
        if ready {
            break;
        }
    }
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(60), job)
        .await
        .unwrap()
        .unwrap();
    assert!(marker.exists(), "the step received SIGTERM first");
    assert!(
        all_dead(&read_pids(&pids)).await,
        "the step ignoring SIGTERM was killed"
    );
    assert_eq!(result.conclusion, Conclusion::Cancelled);
    assert_eq!(result.steps[0].outcome, Conclusion::Cancelled);
    assert_eq!(result.steps[1].conclusion, Conclusion::Skipped);
}

#[tokio::test]
async fn cancel_before_the_job_starts_skips_ordinary_steps() {
    let dir = tempfile::tempdir().unwrap();
    let cancel = CancellationToken::new();
    cancel.cancel();
    let ran = run_with_cancel(job(vec![run("echo hi")]), &options(dir.path()), cancel).await;
    assert_eq!(ran.outcome(0), ("skipped", "skipped"));
    assert_eq!(ran.result.conclusion, Conclusion::Cancelled);
}

#[tokio::test]
async fn background_processes_are_killed_at_job_end() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let spec = job(vec![
        run(&format!(
            "nohup sleep 100 > /dev/null 2>&1 &\necho $! >> {}",
            pids.display()
        )),
        run("echo the daemon survives between steps"),
        run(&format!(
            "kill -0 $(cat {}) && echo still-running",
            pids.display()
        )),
    ]);
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(ran.logs(2), vec!["still-running".to_string()]);
    assert!(all_dead(&read_pids(&pids)).await);
    assert_eq!(ran.result.conclusion, Conclusion::Success);
}

#[tokio::test]
async fn a_background_writer_holding_stdout_neither_blocks_the_step_nor_dies() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let spec = job(vec![
        run(&format!(
            "(while true; do echo tick; sleep 0.05; done) &\necho $! >> {}\necho started",
            pids.display()
        )),
        run(&format!(
            "sleep 0.3; kill -0 $(cat {}) && echo writer-alive",
            pids.display()
        )),
    ]);
    let ran = run_spec(spec, &options(&dir.path().join("work"))).await;
    assert_eq!(ran.outcome(0), ("success", "success"));
    assert!(ran.logs(0).contains(&"started".to_string()));
    assert_eq!(ran.logs(1), vec!["writer-alive".to_string()]);
    assert!(all_dead(&read_pids(&pids)).await, "killed at job end");
}
