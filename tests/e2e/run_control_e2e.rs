//! Run control end to end through the binary: `slipway serve` with its two embedded runner
//! processes on 127.0.0.1, temp data dirs and temp git repositories. Concurrency groups at
//! workflow and job level, `slipway rerun --failed` keeping results and outputs, cancel needing
//! the admin token, and step markers in stored logs. Every wait is bounded; ordering is checked
//! with the engine's own timestamps, never with wall-clock durations.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support;
use crate::support::engine::{BIN, TestEngine};

use support::{job, lines, repo_with};

use crate::support::SERIAL;

async fn start(data_dir: &Path) -> TestEngine {
    TestEngine::builder(data_dir).lease_seconds(5).start().await
}

/// `slipway ARGS… --engine URL` with extra environment and no token unless given, as a process.
fn cli(engine: &TestEngine, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .envs(crate::support::user_env())
        .args(args)
        .args(["--engine", &engine.url])
        .env_remove("SLIPWAY_TOKEN")
        .current_dir(&engine.data_dir);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run slipway")
}

async fn run(engine: &TestEngine, run_id: &str) -> Value {
    engine.get(&format!("/api/v1/runs/{run_id}")).await
}

fn micros(value: &Value) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("a timestamp, got {value}"))
}

/// A workflow that sleeps `inputs.seconds` under the workflow-level `group`.
fn grouped_workflow(group: &str, cancel_in_progress: bool) -> String {
    format!(
        r#"
on:
  workflow_dispatch:
    inputs:
      seconds:
        default: "0"
concurrency:
  group: {group}
  cancel-in-progress: {cancel_in_progress}
jobs:
  go:
    runs-on: ubuntu-latest
    steps:
      - run: sleep ${{{{ inputs.seconds }}}}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_in_progress_cancels_the_running_run_of_the_group_and_the_new_one_completes() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    // Two workflow files whose groups differ only in case: one group.
    let repo = repo_with(
        temp.path(),
        &[
            (
                "first.yml",
                &grouped_workflow("Deploy-${{ github.ref_name }}", true),
            ),
            ("second.yml", &grouped_workflow("deploy-MAIN", true)),
        ],
    );
    let engine = start(&temp.path().join("data")).await;
    let first = engine
        .dispatch_with_inputs(&repo, "first.yml", json!({"seconds": "120"}))
        .await;
    engine.wait_job_running(&first, "go").await;
    let second = engine
        .dispatch_with_inputs(&repo, "second.yml", json!({"seconds": "0"}))
        .await;

    let first_run = engine.wait_completed(&first).await;
    assert_eq!(first_run["run"]["conclusion"], "cancelled", "{first_run:#}");
    let reason = first_run["run"]["details"]["conclusion_reason"]
        .as_str()
        .unwrap_or_default();
    assert!(
        reason.contains("concurrency group `deploy-MAIN`"),
        "{first_run:#}"
    );
    let second_run = engine.wait_completed(&second).await;
    assert_eq!(second_run["run"]["conclusion"], "success", "{second_run:#}");
    // The new run started only once the cancelled one had let go of the group.
    assert!(
        micros(&job(&second_run, "go")["queued_at_us"])
            >= micros(&job(&first_run, "go")["finished_at_us"]),
        "{first_run:#}\n{second_run:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_cancel_in_progress_one_waits_and_a_newer_waiting_run_replaces_it() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "deploy.yml",
            &grouped_workflow("deploy-${{ github.ref }}", false),
        )],
    );
    let engine = start(&temp.path().join("data")).await;
    let first = engine
        .dispatch_with_inputs(&repo, "deploy.yml", json!({"seconds": "4"}))
        .await;
    engine.wait_job_running(&first, "go").await;
    let second = engine
        .dispatch_with_inputs(&repo, "deploy.yml", json!({}))
        .await;
    let waiting = engine
        .wait_run(&second, "the run to wait for its group", |run| {
            !run["run"]["details"]["waiting_reason"].is_null()
        })
        .await;
    assert_eq!(waiting["run"]["status"], "queued", "{waiting:#}");
    assert_eq!(
        waiting["run"]["details"]["waiting_reason"],
        "waiting for concurrency group `deploy-refs/heads/main`",
        "{waiting:#}"
    );
    assert_eq!(waiting["jobs"], json!([]), "a waiting run has not started");
    let third = engine
        .dispatch_with_inputs(&repo, "deploy.yml", json!({}))
        .await;

    // The second was replaced by the third while both waited.
    let second_run = engine.wait_completed(&second).await;
    assert_eq!(
        second_run["run"]["conclusion"], "cancelled",
        "{second_run:#}"
    );
    assert!(
        second_run["run"]["details"]["conclusion_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("`deploy-refs/heads/main`")),
        "{second_run:#}"
    );
    // The first is not disturbed; the third runs once it is done.
    let first_run = engine.wait_completed(&first).await;
    assert_eq!(first_run["run"]["conclusion"], "success", "{first_run:#}");
    let third_run = engine.wait_completed(&third).await;
    assert_eq!(third_run["run"]["conclusion"], "success", "{third_run:#}");
    assert!(third_run["run"]["details"].get("waiting_reason").is_none());
    assert!(
        micros(&job(&third_run, "go")["queued_at_us"])
            >= micros(&job(&first_run, "go")["finished_at_us"]),
        "{first_run:#}\n{third_run:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_level_group_holds_the_second_job_until_the_first_is_done() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "jobs.yml",
            r#"
on: workflow_dispatch
jobs:
  one:
    runs-on: ubuntu-latest
    concurrency: lane-${{ github.workflow }}
    steps:
      - run: sleep 3
  two:
    runs-on: ubuntu-latest
    concurrency:
      group: LANE-${{ github.workflow }}
    steps:
      - run: "true"
  free:
    runs-on: ubuntu-latest
    steps:
      - run: "true"
"#,
        )],
    );
    let engine = start(&temp.path().join("data")).await;
    let run_id = engine
        .dispatch_with_inputs(&repo, "jobs.yml", json!({}))
        .await;
    let held = engine
        .wait_run(&run_id, "a job held by its group", |run| {
            job(run, "one")["status"] == "waiting" || job(run, "two")["status"] == "waiting"
        })
        .await;
    let (first, second) = if job(&held, "one")["status"] == "waiting" {
        ("two", "one")
    } else {
        ("one", "two")
    };
    // The group is named as the job that holds it wrote it; names compare case-insensitively.
    let reason = job(&held, second)["waiting_reason"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert_eq!(
        reason, "waiting for concurrency group `lane-.github/workflows/jobs.yml`",
        "{held:#}"
    );
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert!(
        micros(&job(&run, second)["leased_at_us"]) >= micros(&job(&run, first)["finished_at_us"]),
        "{run:#}"
    );
    assert_eq!(job(&run, "free")["conclusion"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerun_failed_reruns_the_failed_job_and_its_dependents_and_keeps_the_rest() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let flag = temp.path().join("flag");
    let workflow = format!(
        r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      stamp: ${{{{ steps.made.outputs.stamp }}}}
    steps:
      - id: made
        run: |
          echo "build $GITHUB_RUN_ATTEMPT" >> "{marks}"
          echo "stamp=$(date +%s%N)" >> "$GITHUB_OUTPUT"
  flaky:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - name: needs the flag
        run: |
          echo "flaky $GITHUB_RUN_ATTEMPT" >> "{marks}"
          test -f "{flag}"
  report:
    needs: [build, flaky]
    runs-on: ubuntu-latest
    outputs:
      seen: ${{{{ steps.read.outputs.seen }}}}
    steps:
      - id: read
        run: echo "seen=${{{{ needs.build.outputs.stamp }}}}" >> "$GITHUB_OUTPUT"
  other:
    runs-on: ubuntu-latest
    steps:
      - run: echo "other $GITHUB_RUN_ATTEMPT" >> "{marks}"
"#,
        marks = marks.display(),
        flag = flag.display()
    );
    let repo = repo_with(temp.path(), &[("ci.yml", &workflow)]);
    let engine = start(&temp.path().join("data")).await;
    let first = engine
        .dispatch_with_inputs(&repo, "ci.yml", json!({}))
        .await;
    let first_run = engine.wait_completed(&first).await;
    assert_eq!(first_run["run"]["conclusion"], "failure", "{first_run:#}");
    assert_eq!(job(&first_run, "flaky")["conclusion"], "failure");
    assert_eq!(job(&first_run, "report")["conclusion"], "skipped");
    let stamp = job(&first_run, "build")["result"]["outputs"]["stamp"]
        .as_str()
        .expect("build's output")
        .to_string();

    // A re-run before it is allowed: with --job and --failed together the CLI refuses.
    std::fs::write(&flag, "now it passes").expect("write flag");
    let token = engine.admin_token();
    let refused = cli(
        &engine,
        &[
            "rerun", &first, "--failed", "--job", "flaky", "--token", &token,
        ],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
    let output = cli(
        &engine,
        &["rerun", "1", "--failed", "--json"],
        &[("SLIPWAY_TOKEN", &token)],
    );
    assert!(output.status.success(), "{output:?}");
    let answer: Value = serde_json::from_slice(&output.stdout).expect("rerun --json");
    assert_eq!(answer["attempt"], 2, "{answer}");
    assert_eq!(answer["run_number"], 1, "{answer}");
    assert_eq!(answer["rerun_of"], first.as_str());
    assert_eq!(answer["jobs"], json!(["flaky", "report"]));
    let second = answer["run_id"].as_str().expect("run_id").to_string();

    let second_run = engine.wait_completed(&second).await;
    assert_eq!(second_run["run"]["conclusion"], "success", "{second_run:#}");
    assert_eq!(second_run["run"]["run_number"], 1);
    assert_eq!(second_run["run"]["details"]["attempt"], 2);
    assert_eq!(second_run["run"]["details"]["rerun_of"], first.as_str());
    let linked = run(&engine, &first).await;
    assert_eq!(linked["run"]["details"]["next_attempt"], second.as_str());
    // Kept jobs are listed with their earlier results; the dependent saw the kept output.
    assert_eq!(job(&second_run, "build")["conclusion"], "success");
    assert_eq!(
        job(&second_run, "build")["result"]["outputs"]["stamp"],
        stamp.as_str()
    );
    assert_eq!(job(&second_run, "other")["conclusion"], "success");
    assert_eq!(job(&second_run, "flaky")["conclusion"], "success");
    assert_eq!(
        job(&second_run, "report")["result"]["outputs"]["seen"],
        stamp.as_str(),
        "{second_run:#}"
    );
    let mut ran = lines(&marks);
    ran.sort();
    assert_eq!(ran, ["build 1", "flaky 1", "flaky 2", "other 1"]);

    // `runs` and `run-status` show the attempt (reads need a token too).
    let admin = engine.admin_token();
    let reader: &[(&str, &str)] = &[("SLIPWAY_TOKEN", admin.as_str())];
    let runs = cli(&engine, &["runs"], reader);
    let table = String::from_utf8_lossy(&runs.stdout).to_string();
    assert!(
        table
            .lines()
            .next()
            .is_some_and(|header| header.contains("ATTEMPT")),
        "{table}"
    );
    let status = cli(&engine, &["run-status", &second], reader);
    let text = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(text.contains("#1, attempt 2"), "{text}");
    assert!(text.contains(&format!("re-run of: {first}")), "{text}");

    // The stored log has step markers around the output; `logs` renders them as text.
    let logs = cli(&engine, &["logs", &second, "--job", "flaky"], reader);
    let log = String::from_utf8_lossy(&logs.stdout).to_string();
    assert!(log.contains("▶ needs the flag"), "{log}");
    assert!(!log.contains("##[step"), "{log}");
    let stored = engine.log(&second, "flaky").await;
    let started = stored.find("##[step] needs the flag").expect(&stored);
    let ended = stored
        .find("##[step-end] needs the flag: success")
        .expect(&stored);
    assert!(started < ended, "{stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_needs_the_admin_token_and_a_refused_cancel_changes_nothing() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[("slow.yml", &grouped_workflow("slow", false))],
    );
    let engine = start(&temp.path().join("data")).await;
    let run_id = engine
        .dispatch_with_inputs(&repo, "slow.yml", json!({"seconds": "2"}))
        .await;
    engine.wait_job_running(&run_id, "go").await;
    let path = format!("/api/v1/runs/{run_id}/cancel");
    let (status, _) = engine
        .post(
            &path,
            None,
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = engine
        .post(
            &path,
            Some("not-the-token"),
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 401);
    // The CLI without a token is refused the same way (exit 3), and says how to pass one.
    // (With a config folder of its own: `serve` records the token in the user's config file.)
    let nowhere = tempfile::tempdir().unwrap();
    let nowhere = nowhere.path().to_str().unwrap();
    let output = cli(
        &engine,
        &["cancel", &run_id],
        &[("XDG_CONFIG_HOME", nowhere), ("HOME", nowhere)],
    );
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(run["run"]["cancel_requested"], false);

    // With the token (the old `--engine-token` spelling still works) a cancel goes through.
    let long = engine
        .dispatch_with_inputs(&repo, "slow.yml", json!({"seconds": "120"}))
        .await;
    engine.wait_job_running(&long, "go").await;
    let token = engine.admin_token();
    let output = cli(&engine, &["cancel", &long, "--engine-token", &token], &[]);
    assert!(output.status.success(), "{output:?}");
    let run = engine.wait_completed(&long).await;
    assert_eq!(run["run"]["conclusion"], "cancelled", "{run:#}");
}
