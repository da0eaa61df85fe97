//! A closed output pipe ends a command promptly and quietly, as GNU tools end: `slipway run …
//! 2>&1 | head -1` (the run's steps are stopped too), `slipway logs -f RUN | head -1` while the
//! run prints nothing more, and `slipway runs | head -1`. Each through `bash` with `pipefail`,
//! as a user's shell runs it; the command's own exit code is 141 (128 + SIGPIPE).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::engine::{BIN, TestEngine};
use crate::support::repo_with;

/// A step that prints a line and appends a tick to `ticks` every 100 ms for a minute.
fn busy(ticks: &Path) -> String {
    format!(
        "on: [push, workflow_dispatch]
jobs:
  busy:
    runs-on: ubuntu-latest
    steps:
      - run: |
          for n in $(seq 1 600); do echo line-$n; echo $n >> '{}'; sleep 0.1; done
",
        ticks.display()
    )
}

/// `bash -c SCRIPT` with pipefail (and the engine's URL and token when given); its output and
/// how long it took.
fn shell(script: &str, engine: Option<&TestEngine>) -> (Output, Duration) {
    let mut command = Command::new("bash");
    command
        .arg("-c")
        .arg(format!("set -o pipefail; {script}"))
        .env("SLIPWAY", BIN)
        .stdin(Stdio::null());
    if let Some(engine) = engine {
        command
            .env("SLIPWAY_ENGINE", &engine.url)
            .env("SLIPWAY_TOKEN", engine.admin_token());
    }
    let started = Instant::now();
    let output = command.output().expect("run bash");
    (output, started.elapsed())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn slipway_run_into_a_closed_pipe_ends_promptly_and_stops_its_steps() {
    let dir = tempfile::tempdir().unwrap();
    let ticks = dir.path().join("ticks");
    let repo = repo_with(dir.path(), &[("busy.yml", &busy(&ticks))]);
    let (output, took) = shell(
        &format!(
            "\"$SLIPWAY\" run -C '{}' --workflow busy.yml 2>&1 | head -1",
            repo.display()
        ),
        None,
    );
    assert_eq!(
        output.status.code(),
        Some(141),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(text(&output.stdout).lines().count(), 1, "{output:?}");
    assert!(!text(&output.stderr).contains("panicked"), "{output:?}");
    // The step was stopped with the command: its ticks stop growing.
    let before = std::fs::read_to_string(&ticks).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(700));
    let after = std::fs::read_to_string(&ticks).unwrap_or_default();
    assert_eq!(
        before.lines().count(),
        after.lines().count(),
        "the step still runs after the command ended"
    );
    assert!(before.lines().count() < 100, "the run went on: {before}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_and_runs_into_a_closed_pipe_end_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    // Prints one line, then nothing until the gate file exists.
    let quiet = format!(
        "on: workflow_dispatch
jobs:
  quiet:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo first-line
          while [ ! -f '{}' ]; do sleep 0.05; done
          echo after-gate
",
        gate.display()
    );
    let repo = repo_with(dir.path(), &[("quiet.yml", &quiet)]);
    let engine = TestEngine::builder(&dir.path().join("data")).start().await;
    engine.watch(&repo).await;
    let run_id = engine.dispatch(&repo, "quiet.yml").await;

    // `logs -f` of a run that prints nothing more: head's exit alone ends it.
    let (output, took) = shell(
        &format!("\"$SLIPWAY\" logs -f {run_id} | head -1"),
        Some(&engine),
    );
    assert_eq!(
        output.status.code(),
        Some(141),
        "stdout: {}\nstderr: {}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert!(text(&output.stdout).contains("first-line"), "{output:?}");
    assert!(!text(&output.stderr).contains("panicked"), "{output:?}");

    // A table into a pipe that closes after its first line: quiet, and no panic.
    let (output, took) = shell("\"$SLIPWAY\" runs | head -1", Some(&engine));
    let code = output.status.code();
    assert!(code == Some(0) || code == Some(141), "{output:?}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
    assert_eq!(text(&output.stdout).lines().count(), 1, "{output:?}");
    assert!(!text(&output.stderr).contains("panicked"), "{output:?}");
    std::fs::write(&gate, "").unwrap();
}
