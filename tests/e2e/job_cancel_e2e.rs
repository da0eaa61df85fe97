//! Cancelling one job of a run, end to end through the binary: `slipway cancel RUN --job KEY`
//! against a real `slipway serve` with its runner processes. A running job stops (its runner
//! hears it through the heartbeat), a queued one and one waiting at an environment's gate
//! conclude at once; the jobs that need a cancelled job are skipped unless their `if:` says
//! `always()`, the run's other jobs go on, and the run concludes `cancelled`. Unknown, finished
//! and unauthenticated cancels are refused with the reason.

use serde_json::{Value, json};

use crate::support::engine::{BIN, TestEngine};
use crate::support::{SERIAL, job, repo_with};

const WORKFLOW: &str = r#"on: [workflow_dispatch]
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: echo slow-started; sleep 60; echo slow-never-finished
  after-slow:
    needs: slow
    runs-on: ubuntu-latest
    steps:
      - run: echo should-not-run
  cleanup:
    needs: slow
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo cleaned-up
  other:
    runs-on: ubuntu-latest
    steps:
      - run: echo other-done
  stuck:
    runs-on: [self-hosted, nobody-has-this]
    steps:
      - run: "true"
"#;

const DEPLOY: &str = r#"on: [workflow_dispatch]
jobs:
  ship:
    runs-on: ubuntu-latest
    environment: production
    steps:
      - run: echo shipped
  announce:
    needs: ship
    runs-on: ubuntu-latest
    steps:
      - run: echo announced
"#;

fn conclusion(run: &Value, key: &str) -> Value {
    job(run, key)["conclusion"].clone()
}

fn cli(engine: &TestEngine, args: &[&str]) -> (bool, String) {
    let output = engine.cli().args(args).output().expect("run slipway");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_job_is_cancelled_and_its_dependents_skip_while_the_run_goes_on() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().unwrap();
    let repo = repo_with(
        temp.path(),
        &[("jobs.yml", WORKFLOW), ("deploy.yml", DEPLOY)],
    );
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(2)
        .lease_seconds(5)
        .start()
        .await;
    engine.watch(&repo).await;
    let run_id = engine.dispatch(&repo, "jobs.yml").await;
    engine.wait_job_running(&run_id, "slow").await;
    engine
        .wait_run(&run_id, "`stuck` to be queued", |run| {
            job(run, "stuck")["status"] == "queued"
        })
        .await;

    // A queued job no runner can take: cancelled at once.
    let (ok, said) = cli(&engine, &["cancel", &run_id, "--job", "stuck"]);
    assert!(ok, "{said}");
    assert!(said.contains("cancel requested for job stuck"), "{said}");
    let run = engine.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(conclusion(&run, "stuck"), "cancelled", "{run:#}");
    assert_ne!(run["run"]["status"], "completed", "{run:#}");

    // A running job: its runner stops it; `after-slow` is skipped, `cleanup` (always()) runs.
    let (ok, said) = cli(&engine, &["cancel", &run_id, "--job", "slow"]);
    assert!(ok, "{said}");
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(conclusion(&run, "slow"), "cancelled", "{run:#}");
    assert_eq!(conclusion(&run, "after-slow"), "skipped", "{run:#}");
    assert_eq!(conclusion(&run, "cleanup"), "success", "{run:#}");
    assert_eq!(conclusion(&run, "other"), "success", "{run:#}");
    assert_eq!(run["run"]["conclusion"], "cancelled", "{run:#}");
    let log = engine.log(&run_id, "slow").await;
    assert!(log.contains("slow-started"), "{log}");
    assert!(
        !log.lines().any(|line| line == "slow-never-finished"),
        "{log}"
    );
    assert!(engine.log(&run_id, "cleanup").await.contains("cleaned-up"));

    // Refusals name what is wrong.
    let (ok, said) = cli(&engine, &["cancel", &run_id, "--job", "slow"]);
    assert!(!ok);
    assert!(said.contains("already concluded (cancelled)"), "{said}");
    let (status, answer) = engine
        .post_admin(
            &format!("/api/v1/runs/{run_id}/jobs/nope/cancel"),
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer.to_string().contains("find job `nope`"), "{answer}");
    let anonymous = std::process::Command::new(BIN)
        .args(["cancel", &run_id, "--job", "other", "--engine", &engine.url])
        .env_remove("SLIPWAY_TOKEN")
        .current_dir(&engine.data_dir)
        .output()
        .unwrap();
    assert!(!anonymous.status.success());

    // A job waiting at an environment's gate: cancelled at once, its dependent skipped.
    let (ok, said) = cli(
        &engine,
        &[
            "env",
            "create",
            "production",
            "--approvals",
            "1",
            "--approvers",
            "alice",
        ],
    );
    assert!(ok, "{said}");
    let deploy = engine.dispatch(&repo, "deploy.yml").await;
    engine
        .wait_run(&deploy, "the deploy to wait", |run| {
            job(run, "ship")["status"] == "waiting"
        })
        .await;
    let (status, answer) = engine
        .post_admin(
            &format!("/api/v1/runs/{deploy}/jobs/ship/cancel"),
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let run = engine.wait_completed(&deploy).await;
    assert_eq!(conclusion(&run, "ship"), "cancelled", "{run:#}");
    assert_eq!(conclusion(&run, "announce"), "skipped", "{run:#}");
    assert_eq!(run["run"]["conclusion"], "cancelled", "{run:#}");
    // The environment's lane is free again: the next deploy waits for its own approval only.
    let next = engine.dispatch(&repo, "deploy.yml").await;
    let run = engine
        .wait_run(&next, "the next deploy to wait", |run| {
            job(run, "ship")["status"] == "waiting"
        })
        .await;
    let why = job(&run, "ship")["waiting_reason"].to_string();
    // At its gate (approvals, protection rules), not behind the cancelled one in the lane.
    assert!(
        why.contains("approval") || why.contains("protection rules"),
        "{why}"
    );
    assert!(!why.contains("lane") && !why.contains("queue"), "{why}");
}
