//! End to end through the binary: runners and the CLI given several engine URLs (replicas of one
//! engine) use the first that answers and move to the next when one goes away. One real engine
//! stands in for the replicas: the other URLs are dead ports, and in the last test the engine is
//! killed and started again on another port of the list, its data dir the same (as a replica on
//! the same database would be).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::engine::{BIN, Process, TestEngine, free_port};
use crate::support::{SERIAL, job, lines, repo_with, user_env};

/// `http://127.0.0.1:<port>` where nothing listens.
fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// Registers a runner with `slipway runner register --engine <engines>` and starts it with only
/// `--config` (so it uses the list the config kept); its stderr goes to `dir/runner.stderr`.
async fn start_runner(engine: &TestEngine, dir: &Path, engines: &str) -> (Process, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let (status, answer) = engine
        .post_admin(
            "/api/v1/admin/registration-tokens",
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 200, "token answered {answer}");
    let token = answer["token"].as_str().unwrap();
    let config = dir.join("runner.toml");
    let registered = Command::new(BIN)
        .envs(user_env())
        .args(["runner", "register", "--engine", engines, "--token", token])
        .args(["--labels", "ubuntu-latest"])
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(registered.status.success(), "{registered:?}");
    let kept: toml::Value = toml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    assert_eq!(
        kept["engine_url"].as_str(),
        Some(engines),
        "the config keeps the whole list"
    );
    let stderr = dir.join("runner.stderr");
    let child = Command::new(BIN)
        .envs(user_env())
        .arg("runner")
        .arg("--config")
        .arg(&config)
        .arg("--work-dir")
        .arg(dir.join("work"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    (Process(child), stderr)
}

/// `slipway ARGS --engine <engines>` with the engine's admin token.
fn cli(engine: &TestEngine, engines: &str, args: &[&str]) -> Output {
    engine
        .cli()
        .args(args)
        .args(["--engine", engines])
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_and_the_cli_given_a_dead_url_first_work_through_the_next() {
    let temp = tempfile::tempdir().unwrap();
    let repo = repo_with(
        temp.path(),
        &[(
            "hello.yml",
            "on: workflow_dispatch\njobs:\n  hello:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hello from a replica\n",
        )],
    );
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let dead = dead_url();
    let engines = format!("{dead},{}", engine.url);
    let (_runner, runner_stderr) =
        start_runner(&engine, &temp.path().join("runner"), &engines).await;

    // `dispatch` tries the list too.
    engine.watch(&repo).await;
    let dispatched = cli(
        &engine,
        &engines,
        &[
            "dispatch",
            "hello.yml",
            "--ref",
            "main",
            "--repo",
            &repo.display().to_string(),
            "--json",
        ],
    );
    assert!(dispatched.status.success(), "{dispatched:?}");
    let answer: serde_json::Value = serde_json::from_slice(&dispatched.stdout).unwrap();
    let run_id = answer["run_id"].as_str().unwrap().to_string();
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert!(
        engine
            .log(&run_id, "hello")
            .await
            .contains("hello from a replica")
    );
    let warned = std::fs::read_to_string(&runner_stderr).unwrap();
    assert!(
        warned.contains(&format!("engine {dead} unreachable"))
            && warned.contains(&format!("using {}", engine.url)),
        "the runner says once that it moved: {warned}"
    );

    // The CLI: the first URL that answers serves the command.
    let runs = cli(&engine, &engines, &["runs"]);
    assert!(runs.status.success(), "{runs:?}");
    assert!(
        text(&runs.stdout).contains("hello"),
        "{}",
        text(&runs.stdout)
    );
    let status = cli(&engine, &engines, &["run-status", &run_id]);
    assert!(status.status.success(), "{status:?}");
    assert!(
        text(&status.stdout).contains("success"),
        "{}",
        text(&status.stdout)
    );
    let logs = cli(&engine, &engines, &["logs", &run_id, "-f"]);
    assert!(logs.status.success(), "{logs:?}");
    let printed = text(&logs.stdout);
    assert_eq!(
        printed
            .lines()
            .filter(|line| *line == "[hello] hello from a replica")
            .count(),
        1,
        "each line once: {printed}"
    );

    // None answers: the error names every URL and why.
    let (first, second) = (dead_url(), dead_url());
    let unreachable = cli(&engine, &format!("{first},{second}"), &["runs"]);
    assert_eq!(unreachable.status.code(), Some(3), "{unreachable:?}");
    let message = text(&unreachable.stderr);
    assert!(
        message.contains("cannot reach the engine at any of its URLs")
            && message.contains(&format!("{first}: "))
            && message.contains(&format!("{second}: "))
            && message.contains("refused"),
        "{message}"
    );

    // A bad entry is a usage error naming it, before anything is sent.
    for (list, named) in [
        (format!("{},,{}", engine.url, dead), "empty".to_string()),
        (
            format!("{},ftp://elsewhere", engine.url),
            "`ftp://elsewhere`".to_string(),
        ),
    ] {
        let refused = cli(&engine, &list, &["runs"]);
        assert_eq!(refused.status.code(), Some(2), "{refused:?}");
        assert!(text(&refused.stderr).contains(&named), "{refused:?}");
        let runner = Command::new(BIN)
            .envs(user_env())
            .args(["runner", "register", "--engine", &list, "--token", "t"])
            .arg("--config")
            .arg(temp.path().join("never.toml"))
            .output()
            .unwrap();
        assert_eq!(runner.status.code(), Some(2), "{runner:?}");
        assert!(text(&runner.stderr).contains(&named), "{runner:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_outlives_its_engine_and_reports_to_the_next_url() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().unwrap();
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
      - run: echo before the kill; echo start >> "{marks}"; sleep 8; echo after the kill; echo end >> "{marks}"
"#,
                marks = marks.display()
            ),
        )],
    );
    // A lease shorter than the step's time after the move: the job keeps it only if its
    // heartbeats (every 2 s) reach the engine on the next URL; else it would run again as
    // attempt 2.
    let mut engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .lease_seconds(6)
        .start()
        .await;
    let first = engine.url.clone();
    let next_port = free_port();
    let next = format!("http://127.0.0.1:{next_port}");
    let engines = format!("{first},{next}");
    let (_runner, runner_stderr) =
        start_runner(&engine, &temp.path().join("runner"), &engines).await;

    let run_id = engine.dispatch(&repo, "slow.yml").await;
    wait_lines(&marks, 1, "the step to start").await;
    // `logs -f` follows the job through the move too.
    let followed = temp.path().join("followed");
    let mut follower = engine.cli();
    follower
        .args(["logs", &run_id, "-f", "--engine", &engines])
        .stdout(std::fs::File::create(&followed).unwrap())
        .stderr(std::fs::File::create(temp.path().join("follower.stderr")).unwrap());
    let mut follower = Process(follower.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&followed)
        .unwrap_or_default()
        .contains("[slow] before the kill\n")
    {
        assert!(Instant::now() < deadline, "logs -f printed nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The replica the runner talks to dies mid-step; another serves on the next URL.
    engine.kill_engine();
    engine.port = next_port;
    engine.url = next.clone();
    engine.respawn().await;

    let run = engine
        .wait_run_within(
            &run_id,
            "the run to complete on the other URL",
            Duration::from_secs(60),
            |run| run["run"]["status"] == "completed",
        )
        .await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(job(&run, "slow")["attempt"], 1, "ran once: {run:#}");
    assert_eq!(lines(&marks), ["start", "end"], "the step ran once");
    let log = engine.log(&run_id, "slow").await;
    assert!(
        log.contains("before the kill") && log.contains("after the kill"),
        "{log}"
    );
    let warned = std::fs::read_to_string(&runner_stderr).unwrap();
    assert!(
        warned.contains(&format!("engine {first} unreachable")),
        "the runner says it left the dead URL: {warned}"
    );

    // The follower printed each line once, across the move, and ended with the run.
    let deadline = Instant::now() + Duration::from_secs(60);
    let ended = loop {
        if let Some(status) = follower.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "logs -f did not end with the run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let printed = std::fs::read_to_string(&followed).unwrap();
    assert!(ended.success(), "logs -f: {ended:?}\n{printed}");
    for line in ["before the kill", "after the kill"] {
        assert_eq!(
            printed
                .lines()
                .filter(|shown| *shown == format!("[slow] {line}"))
                .count(),
            1,
            "{line:?} once: {printed}"
        );
    }

    // The CLI given the same list finds the engine on the second URL.
    let status = cli(&engine, &engines, &["run-status", &run_id]);
    assert!(status.status.success(), "{status:?}");
}
