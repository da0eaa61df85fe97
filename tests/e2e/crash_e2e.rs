//! End to end through the binary: what survives a `kill -9`. The engine (`slipway serve`) is
//! killed at several points of a DAG while its embedded runners keep running; the restarted
//! `serve` adopts them, every job runs once and the run goes on without waiting out a lease. A
//! runner killed mid-step takes its step with it. `serve --repo` starts a commit's push
//! workflows once, however often it restarts.
//!
//! Every wait is bounded; the deadlines are generous (these are correctness tests): what they
//! tell apart is "a second or so" from "a 30 s lease expiry".

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support;
use crate::support::engine::TestEngine;

use support::{job, lines, repo_with};

use crate::support::SERIAL;

/// `slipway serve` with `runners` embedded runners, `lease_seconds` leases and `extra` arguments.
async fn start_serve(
    data_dir: &Path,
    runners: usize,
    lease_seconds: u32,
    extra: &[&str],
) -> TestEngine {
    let mut builder = TestEngine::builder(data_dir)
        .runners(runners)
        .lease_seconds(lease_seconds);
    for arg in extra {
        builder = builder.arg(*arg);
    }
    builder.start().await
}

/// Waits (bounded) until `path` has at least `count` lines.
async fn wait_lines(path: &Path, count: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(path).len() < count {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            lines(path)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether process `pid` still exists (a zombie counts as gone: it runs nothing).
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The DAG `a → b (matrix 2) → c`: every step appends its name to `marks` when it starts and
/// `<name> done` when it ends, and prints numbered log lines in between.
fn dag_workflow(marks: &Path, step_seconds: u32) -> String {
    let step = |name: &str| {
        format!(
            "echo \"{name}\" >> \"{marks}\"; for i in 1 2 3; do echo \"{name} line $i\"; done; sleep {step_seconds}; echo \"{name} line 4\"; echo \"{name} done\" >> \"{marks}\"",
            marks = marks.display()
        )
    };
    format!(
        r#"
on: workflow_dispatch
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: {a}
  b:
    needs: a
    runs-on: ubuntu-latest
    strategy:
      matrix:
        leg: [1, 2]
    steps:
      - run: {b}
  c:
    needs: b
    runs-on: ubuntu-latest
    steps:
      - run: {c}
"#,
        a = step("a"),
        b = step("b${{ matrix.leg }}"),
        c = step("c"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_killed_at_every_point_of_a_dag_runs_each_job_once_and_resumes_at_once() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let repo = repo_with(temp.path(), &[("dag.yml", &dag_workflow(&marks, 2))]);
    // A 30 s lease: a run that waited for an expiry would miss every deadline below.
    let mut serve = start_serve(&temp.path().join("data"), 2, 30, &[]).await;
    let quick = Duration::from_secs(15);

    // 1. While queued: killed right after the dispatch.
    let run_id = serve.dispatch(&repo, "dag.yml").await;
    serve.kill_engine();
    serve.respawn().await;

    // 2. Mid-step: `a` is running.
    serve.wait_lines(&run_id, &marks, 1, "job a to start").await;
    serve.kill_engine();
    // The step goes on without the engine and ends.
    serve
        .wait_lines(&run_id, &marks, 2, "job a to end while the engine is down")
        .await;
    // 3. Between the job's finish and its report: `a` ended, its runner holds the result.
    let restarted = serve.respawn().await;
    serve
        .wait_run_within(
            &run_id,
            "b's legs to start after the restart",
            quick,
            |run| {
                job(run, "b (1)")["status"] == "in_progress"
                    || job(run, "b (2)")["status"] == "in_progress"
            },
        )
        .await;
    assert!(
        restarted.elapsed() < quick,
        "the run went on {:?} after the restart",
        restarted.elapsed()
    );

    // 4. Mid-step of both matrix legs.
    serve
        .wait_lines(&run_id, &marks, 4, "both legs of b to start")
        .await;
    serve.kill_engine();
    let restarted = serve.respawn().await;
    let run = serve
        .wait_run_within(
            &run_id,
            "the run to complete",
            Duration::from_secs(60),
            |run| run["run"]["status"] == "completed",
        )
        .await;
    // Two steps of 2 s remain after this restart (b's legs finishing, then c).
    assert!(
        restarted.elapsed() < Duration::from_secs(4 + 5 + 10),
        "the run finished {:?} after the last restart: {run:#}",
        restarted.elapsed()
    );
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");

    let mut ran = lines(&marks);
    ran.sort();
    assert_eq!(
        ran,
        [
            "a", "a done", "b1", "b1 done", "b2", "b2 done", "c", "c done"
        ],
        "every job's step ran exactly once: {run:#}"
    );
    // No job was leased twice, but for one case the engine cannot tell apart: a lease granted at
    // the instant of a kill, whose answer never reached the runner. The runner never started it
    // (every step ran once, above), and it is granted again after one lease period.
    for listed in run["jobs"].as_array().expect("jobs") {
        let lost_in_flight = listed["attempt"] == 2
            && listed["retry_reasons"].as_array().is_some_and(|reasons| {
                reasons.len() == 1
                    && reasons[0]
                        .as_str()
                        .is_some_and(|reason| reason.starts_with("lease expired"))
            });
        assert!(
            listed["attempt"] == 1 || lost_in_flight,
            "no job was leased twice: {run:#}"
        );
    }
    // No log line lost: every job's log has its four lines, once each.
    for (key, name) in [("a", "a"), ("b (1)", "b1"), ("b (2)", "b2"), ("c", "c")] {
        let log = serve.log(&run_id, key).await;
        for i in 1..=4 {
            let line = format!("{name} line {i}");
            assert_eq!(
                log.lines().filter(|l| l.ends_with(&line)).count(),
                1,
                "{line:?} once in the log of {key}:\n{log}"
            );
        }
    }
    let adopted = serve.output();
    assert!(
        adopted.contains("adopted runner"),
        "the last restart adopted the runners: {adopted}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_step_takes_its_step_with_it() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let pids = temp.path().join("pids");
    let repo = repo_with(
        temp.path(),
        &[(
            "slow.yml",
            &format!(
                r#"
on: workflow_dispatch
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: echo $$ >> "{pids}"; echo start >> "{marks}"; sleep 4; echo end >> "{marks}"
"#,
                pids = pids.display(),
                marks = marks.display()
            ),
        )],
    );
    let serve = start_serve(&temp.path().join("data"), 2, 2, &[]).await;
    let run_id = serve.dispatch(&repo, "slow.yml").await;
    wait_lines(&pids, 1, "the step to start").await;
    let step_pid: u32 = lines(&pids)[0].trim().parse().expect("a pid");
    let run = serve
        .wait_run_within(
            &run_id,
            "the job's runner",
            Duration::from_secs(30),
            |run| job(run, "slow")["runner_id"].is_string(),
        )
        .await;
    let holder = job(&run, "slow")["runner_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Which embedded runner holds it: the one whose work dir lock names a live process and
    // whose config holds that runner id.
    let runners_dir = temp.path().join("data").join("runners");
    let runner_pid = (1..=2)
        .find_map(|n| {
            let dir = runners_dir.join(format!("runner-{n}"));
            let config = std::fs::read_to_string(dir.join("config.toml")).ok()?;
            config.contains(&holder).then(|| {
                std::fs::read_to_string(dir.join("work").join("runner.lock"))
                    .ok()?
                    .lines()
                    .next()?
                    .trim()
                    .parse::<u32>()
                    .ok()
            })?
        })
        .expect("the holder's pid");
    Command::new("kill")
        .args(["-KILL", &runner_pid.to_string()])
        .status()
        .expect("kill the runner");
    // Its step is gone at once: it cannot run beside the retry.
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_alive(step_pid) {
        assert!(
            Instant::now() < deadline,
            "the step {step_pid} outlived its runner"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = serve
        .wait_run_within(
            &run_id,
            "the retry to complete",
            Duration::from_secs(60),
            |run| run["run"]["status"] == "completed",
        )
        .await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(job(&run, "slow")["attempt"], 2, "{run:#}");
    assert_eq!(
        lines(&marks),
        ["start", "start", "end"],
        "the first attempt never finished and never overlapped the retry"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_repo_starts_a_commits_push_workflows_once_across_restarts() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let repo = repo_with(
        temp.path(),
        &[
            (
                "ci.yml",
                &format!(
                    "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ci >> \"{}\"\n",
                    marks.display()
                ),
            ),
            (
                "deploy.yml",
                &format!(
                    "on: workflow_dispatch\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo deploy >> \"{}\"\n",
                    marks.display()
                ),
            ),
            (
                "release.yml",
                &format!(
                    "on:\n  push:\n    tags: [v*]\njobs:\n  tag:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo tag >> \"{}\"\n",
                    marks.display()
                ),
            ),
        ],
    );
    let repo_arg = repo.display().to_string();
    let mut serve = start_serve(&temp.path().join("data"), 1, 30, &["--repo", &repo_arg]).await;
    serve.wait_output("start-up runs:").await;
    let runs = serve.get("/api/v1/runs").await;
    let listed = runs
        .as_array()
        .or_else(|| runs["runs"].as_array())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        listed.len(),
        1,
        "only ci.yml starts for a push of main: {runs:#}"
    );
    wait_lines(&marks, 1, "ci to run").await;

    for _ in 0..2 {
        serve.stop();
        serve.respawn().await;
        let output = serve.wait_output("start-up runs:").await;
        assert!(output.contains("start-up runs: 0 started"), "{output}");
        // A clean stop stopped the runners too: nothing was left to adopt.
        assert!(!output.contains("adopted runner"), "{output}");
        let runs = serve.get("/api/v1/runs").await;
        let listed = runs
            .as_array()
            .or_else(|| runs["runs"].as_array())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            listed.len(),
            1,
            "a restart at the same commit starts nothing: {runs:#}"
        );
    }
    // Killed rather than stopped: the same.
    serve.kill_engine();
    serve.respawn().await;
    let output = serve.wait_output("start-up runs:").await;
    assert!(output.contains("start-up runs: 0 started"), "{output}");

    // A new commit is a new push: the repository's watcher (it polls at every start) runs ci.yml
    // for it once, and the start-up logic leaves it to the watcher.
    std::fs::write(repo.join("README.md"), "more\n").expect("write a file");
    for args in [&["add", "."][..], &["commit", "-q", "-m", "more"][..]] {
        let status = Command::new("git")
            .args(["-c", "user.name=test", "-c", "user.email=test@localhost"])
            .args(args)
            .current_dir(&repo)
            .status()
            .expect("run git");
        assert!(status.success());
    }
    serve.stop();
    serve.respawn().await;
    let output = serve.wait_output("start-up runs:").await;
    assert!(output.contains("start-up runs: 0 started"), "{output}");
    wait_lines(&marks, 2, "ci to run for the new commit").await;
    // Give a second run the time it would need to show up: there is none.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(lines(&marks), ["ci", "ci"]);
}
