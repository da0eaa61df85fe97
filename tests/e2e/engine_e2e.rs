//! End to end through the binary: `slipway serve` and `slipway runner` as real processes on
//! 127.0.0.1, temp data dirs and temp git repositories. Every wait is bounded; every process is
//! killed when its handle drops.

use serde_json::{Value, json};

use crate::support;

use support::{job, lines, repo_with};

use crate::support::SERIAL;
use crate::support::engine::TestEngine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_with_a_matrix_and_outputs_completes_on_two_runner_processes() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "dag.yml",
            r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    outputs:
      value: ${{ steps.made.outputs.value }}
    steps:
      - id: made
        run: echo "value=built-${{ matrix.n }}" >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: ubuntu-latest
    outputs:
      seen: ${{ steps.read.outputs.seen }}
    steps:
      - id: read
        run: echo "seen=${{ needs.build.outputs.value }}" >> "$GITHUB_OUTPUT"
"#,
        )],
    );
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(2)
        .start()
        .await;
    let run_id = engine.dispatch(&repo, "dag.yml").await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    let legs: Vec<&Value> = run["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|job| {
            job["job_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("build"))
        })
        .collect();
    assert_eq!(legs.len(), 2, "{run:#}");
    assert!(legs.iter().all(|leg| leg["conclusion"] == "success"));
    let seen = job(&run, "test")["result"]["outputs"]["seen"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(seen == "built-1" || seen == "built-2", "{run:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_job_has_its_job_retried_on_the_other_runner() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
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
      - run: echo started >> "{}" && sleep 3
"#,
                marks.display()
            ),
        )],
    );
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let (first, first_id) = engine.start_runner(&temp.path().join("r1"), None).await;
    let (second, second_id) = engine.start_runner(&temp.path().join("r2"), None).await;
    let mut runners = [(first, first_id), (second, second_id)];
    let run_id = engine.dispatch(&repo, "slow.yml").await;
    let leased = engine
        .wait_run(&run_id, "the job to be leased", |run| {
            job(run, "slow")["status"] == "in_progress" && job(run, "slow")["runner_id"].is_string()
        })
        .await;
    let holder = job(&leased, "slow")["runner_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let index = runners
        .iter()
        .position(|(_, id)| *id == holder)
        .expect("the holder is one of ours");
    runners[index].0.kill();
    let run = engine.wait_completed(&run_id).await;
    let slow = job(&run, "slow");
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(slow["attempt"], 2, "{run:#}");
    assert_ne!(slow["runner_id"].as_str(), Some(holder.as_str()));
    assert_eq!(slow["retry_reasons"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_killed_mid_dag_resumes_and_runs_each_job_once() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let step = |name: &str| format!("echo {name} >> \"{}\" && sleep 1", marks.display());
    let repo = repo_with(
        temp.path(),
        &[(
            "chain.yml",
            &format!(
                r#"
on: workflow_dispatch
jobs:
  first:
    runs-on: ubuntu-latest
    steps:
      - run: {}
  second:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - run: {}
  third:
    needs: second
    runs-on: ubuntu-latest
    steps:
      - run: {}
"#,
                step("first"),
                step("second"),
                step("third")
            ),
        )],
    );
    let mut engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let _first = engine.start_runner(&temp.path().join("r1"), None).await;
    let _second = engine.start_runner(&temp.path().join("r2"), None).await;
    let run_id = engine.dispatch(&repo, "chain.yml").await;
    engine
        .wait_run(&run_id, "the second job to start", |run| {
            job(run, "second")["status"] == "in_progress"
        })
        .await;
    engine.restart().await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    let mut ran = lines(&marks);
    ran.sort();
    assert_eq!(ran, ["first", "second", "third"], "{run:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_long_sleep() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "sleep.yml",
            r#"
on: workflow_dispatch
jobs:
  sleepy:
    runs-on: ubuntu-latest
    steps:
      - run: sleep 120
  after:
    needs: sleepy
    runs-on: ubuntu-latest
    steps:
      - run: echo never
"#,
        )],
    );
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    let run_id = engine.dispatch(&repo, "sleep.yml").await;
    engine
        .wait_run(&run_id, "the sleep to start", |run| {
            job(run, "sleepy")["steps"]
                .as_array()
                .is_some_and(|steps| !steps.is_empty())
        })
        .await;
    let (status, _) = engine
        .post_admin(
            &format!("/api/v1/runs/{run_id}/cancel"),
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 200);
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "cancelled", "{run:#}");
    assert_eq!(job(&run, "sleepy")["conclusion"], "cancelled", "{run:#}");
    assert_ne!(job(&run, "after")["conclusion"], "success", "{run:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_runner_token_is_refused_and_changes_nothing() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let before = engine.get("/api/v1/runners").await;
    let next = engine
        .client
        .post(format!("{}/api/v1/runner/next", engine.url))
        .bearer_auth("not-a-runner.credential")
        .json(&json!({"protocol_version": protocol::PROTOCOL_VERSION, "wait_ms": 10}))
        .send()
        .await
        .expect("engine answers");
    assert_eq!(next.status().as_u16(), 401);
    let register = engine
        .client
        .post(format!("{}/api/v1/runners/register", engine.url))
        .json(
            &json!({"protocol_version": protocol::PROTOCOL_VERSION, "token": "made-up", "name": "x",
                      "labels": ["linux"], "capacity": 1}),
        )
        .send()
        .await
        .expect("engine answers");
    assert_eq!(register.status().as_u16(), 401);
    let dispatch = engine
        .client
        .post(format!("{}/api/v1/dispatch", engine.url))
        .bearer_auth("wrong-admin-token")
        .json(&json!({"protocol_version": protocol::PROTOCOL_VERSION, "repository": "/nowhere", "workflow": "x.yml"}))
        .send()
        .await
        .expect("engine answers");
    assert_eq!(dispatch.status().as_u16(), 401);
    assert_eq!(engine.get("/api/v1/runners").await, before);
    assert_eq!(engine.get("/api/v1/runs").await, json!([]));
}
