//! End to end through the binary on PostgreSQL (a private cluster of this test binary, see
//! `engine/tests/it/pg_cluster.rs`): `slipway serve --store postgres://…` runs a multi-job
//! workflow to success with its state in the database and its logs readable with
//! `slipway logs`; a `kill -9` mid-run and a restart on the same database finish the run with
//! every job run once. `slipway migrate --from sled:DIR --to postgres://…` moves a sled store's
//! runs so they are listed and their logs read when serving from PostgreSQL.
//!
//! Skipped loudly when PostgreSQL cannot be started, failed under `CI=true`.

use std::path::Path;
use std::process::Output;

use crate::pg_cluster;
use crate::support::engine::TestEngine;
use crate::support::{SERIAL, job, lines, repo_with};

/// `a → b (matrix 2) → c`; each job appends its name to `marks` as it starts and as it ends,
/// and logs numbered lines. `b` sleeps `seconds` (the window to kill the engine in).
fn dag(marks: &Path, seconds: u32) -> String {
    let step = |name: &str, sleep: u32| {
        format!(
            "echo \"{name}\" >> \"{marks}\"; echo \"{name} line 1\"; sleep {sleep}; echo \"{name} line 2\"; echo \"{name} done\" >> \"{marks}\"",
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
        a = step("a", 0),
        b = step("b${{ matrix.leg }}", seconds),
        c = step("c", 0),
    )
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn assert_all_succeeded(run: &serde_json::Value) {
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    for key in ["a", "b (1)", "b (2)", "c"] {
        assert_eq!(job(run, key)["conclusion"], "success", "{key}: {run:#}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_runs_on_postgres_and_survives_an_engine_kill() {
    let _serial = SERIAL.lock().await;
    let test = "a_dag_runs_on_postgres_and_survives_an_engine_kill";
    let Some(cluster) = pg_cluster::cluster(test) else {
        return;
    };
    let url = cluster.new_database("serve");
    let database = url.rsplit('/').next().unwrap().to_string();
    let temp = tempfile::tempdir().unwrap();
    let marks = temp.path().join("marks");
    let repo = repo_with(temp.path(), &[("dag.yml", &dag(&marks, 3))]);
    let data = temp.path().join("data");
    let mut serve = TestEngine::builder(&data)
        .runners(2)
        .lease_seconds(30)
        .arg("--store")
        .arg(url.clone())
        .start()
        .await;
    let output = serve.wait_output("store: postgres://").await;
    assert!(output.contains(&format!("store: {url}")), "{output}");

    let run_id = serve.dispatch(&repo, "dag.yml").await;
    // Killed while `b` runs: its legs go on without the engine.
    serve.wait_job_running(&run_id, "b (1)").await;
    serve.kill_engine();
    serve.respawn().await;
    let run = serve.wait_completed(&run_id).await;
    assert_all_succeeded(&run);
    // Every job ran exactly once.
    let marks = lines(&marks);
    for name in ["a", "b1", "b2", "c"] {
        let started = marks.iter().filter(|line| **line == name).count();
        assert_eq!(started, 1, "{name} started {started} times: {marks:?}");
    }
    // The state is in the database, not in a sled directory.
    assert!(!data.join("db").exists(), "a sled store was created");
    assert_eq!(
        cluster.psql(
            &database,
            "SELECT count(*) FROM slipway_kv WHERE tree = 'runs'"
        ),
        "1"
    );
    assert_eq!(
        cluster.psql(
            &database,
            "SELECT count(*) FROM slipway_kv WHERE tree = 'jobs'"
        ),
        "4"
    );
    // Logs are read with the CLI, after a second kill and restart too.
    serve.kill_engine();
    serve.respawn().await;
    let logs = serve.cli().args(["logs", &run_id]).output().unwrap();
    let logs_text = text(&logs);
    assert!(logs.status.success(), "{logs_text}");
    for line in ["a line 1", "b1 line 2", "b2 line 2", "c line 2"] {
        assert!(logs_text.contains(line), "{line} missing: {logs_text}");
    }
    let run = serve.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_all_succeeded(&run);
    serve.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_made_on_sled_are_served_from_postgres_after_migrate() {
    let _serial = SERIAL.lock().await;
    let test = "runs_made_on_sled_are_served_from_postgres_after_migrate";
    let Some(cluster) = pg_cluster::cluster(test) else {
        return;
    };
    let url = cluster.new_database("migrate");
    let temp = tempfile::tempdir().unwrap();
    let marks = temp.path().join("marks");
    let repo = repo_with(temp.path(), &[("dag.yml", &dag(&marks, 0))]);
    let data = temp.path().join("data");

    // History on sled: a finished run, a secret.
    let mut serve = TestEngine::builder(&data).runners(1).start().await;
    let run_id = serve.dispatch(&repo, "dag.yml").await;
    assert_all_succeeded(&serve.wait_completed(&run_id).await);
    let secret = serve
        .cli()
        .args(["secret", "set", "DEPLOY_KEY", "--value", "s3cret"])
        .output()
        .unwrap();
    assert!(secret.status.success(), "{}", text(&secret));
    serve.stop();

    // A running engine's store cannot be copied; a stopped one can.
    let migrated = serve
        .cli()
        .args(["migrate", "--from"])
        .arg(format!("sled:{}", data.display()))
        .args(["--to", &url])
        .output()
        .unwrap();
    let migrated_text = text(&migrated);
    assert!(migrated.status.success(), "{migrated_text}");
    assert!(migrated_text.contains("runs: 1"), "{migrated_text}");
    assert!(migrated_text.contains("jobs: 4"), "{migrated_text}");
    // Into a database that holds a store already: refused, nothing changed.
    let again = serve
        .cli()
        .args(["migrate", "--from"])
        .arg(format!("sled:{}", data.display()))
        .args(["--to", &url])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(
        text(&again).contains("holds a Slipway store already"),
        "{}",
        text(&again)
    );
    // A URL that is not PostgreSQL is a usage error.
    let wrong = serve
        .cli()
        .args(["migrate", "--from", "sled:/nowhere", "--to", "mysql://x/y"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));

    // Served from PostgreSQL: the run is listed, its logs read, the secret still there, and new
    // runs go on with fresh numbers.
    std::fs::remove_dir_all(data.join("db")).unwrap();
    let mut serve = TestEngine::builder(&data)
        .runners(1)
        .arg("--store")
        .arg(url.clone())
        .start()
        .await;
    let runs = serve.cli().args(["runs", "--json"]).output().unwrap();
    let runs_text = text(&runs);
    assert!(runs.status.success(), "{runs_text}");
    assert!(runs_text.contains(&run_id), "{runs_text}");
    let logs = serve.cli().args(["logs", &run_id]).output().unwrap();
    let logs_text = text(&logs);
    assert!(logs.status.success(), "{logs_text}");
    assert!(logs_text.contains("c line 2"), "{logs_text}");
    let secrets = serve.cli().args(["secret", "list"]).output().unwrap();
    assert!(text(&secrets).contains("DEPLOY_KEY"), "{}", text(&secrets));
    let second = serve.dispatch(&repo, "dag.yml").await;
    let run = serve.wait_completed(&second).await;
    assert_all_succeeded(&run);
    assert_eq!(run["run"]["run_number"], 2, "{run:#}");
    serve.stop();
}
