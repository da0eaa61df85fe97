//! The CLI as scripts use it, through the `slipway` binary against a real engine (`slipway
//! serve` with embedded runners, a real git repository): the exit-code table (`run-status`,
//! `logs -f`, `dispatch --wait`, `cancel`, bad references, an unreachable engine), the failing
//! step named with its last lines, run references (`WORKFLOW#NUMBER`, id prefixes), the runs
//! list's filters, and `logs` followed live: parallel jobs interleaved, markers rendered,
//! `--json` and `--timestamps`, and a follow that survives the engine being killed and started
//! again without repeating a line.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::engine::TestEngine;
use crate::support::repo_with;

const PASS: &str = "on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo built
";

const FAIL: &str = "on: workflow_dispatch
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - name: Build
        run: echo compiled
      - name: Run tests
        run: |
          for n in 1 2 3 4 5 6 7 8 9 10 11 12; do echo test-line-$n; done
          echo '::error::3 tests failed'
          exit 1
      - name: Publish
        run: echo never
";

/// Two jobs that each print a line, then wait for `$GATE` (a file the test creates).
fn parallel(gate: &Path) -> String {
    format!(
        "on: workflow_dispatch
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - name: Start a
        run: |
          echo '::group::setup a'
          echo inside-group-a
          echo '::endgroup::'
          echo a-start
          while [ ! -f '{gate}' ]; do sleep 0.05; done
          echo a-end
  b:
    runs-on: ubuntu-latest
    steps:
      - name: Start b
        run: |
          echo b-start
          while [ ! -f '{gate}' ]; do sleep 0.05; done
          echo b-end
",
        gate = gate.display()
    )
}

/// Prints `tick-1`, waits for `$GATE`, prints `tick-2`.
fn ticking(gate: &Path) -> String {
    format!(
        "on: workflow_dispatch
jobs:
  tick:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo tick-1
          while [ ! -f '{gate}' ]; do sleep 0.05; done
          echo tick-2
",
        gate = gate.display()
    )
}

fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn cli(engine: &TestEngine, args: &[&str]) -> Output {
    run(&mut engine.cli_acting(args))
}

/// The command's exit code, with its output in the message when it is not `expected`.
fn expect_code(output: &Output, expected: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(expected),
        "{what}: stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

/// A follower process whose stdout lines arrive on a channel.
struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    fn start(engine: &TestEngine, args: &[&str]) -> Follower {
        let mut child = engine
            .cli()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        Follower {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Reads lines until every one of `wanted` was seen (bounded).
    fn wait_for(&mut self, wanted: &[&str]) {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !wanted
            .iter()
            .all(|want| self.seen.iter().any(|line| line == want))
        {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("never saw all of {wanted:?}; saw {:#?}", self.seen),
            }
        }
    }

    /// Reads to the end; the exit code and every line seen.
    fn finish(mut self) -> (i32, Vec<String>, String) {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(60)) {
            self.seen.push(line);
        }
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        (status.code().unwrap_or(-1), self.seen, stderr)
    }
}

async fn start(dir: &Path, workflows: &[(&str, &str)]) -> (TestEngine, PathBuf) {
    let repo = repo_with(dir, workflows);
    let engine = TestEngine::builder(&dir.join("data")).start().await;
    engine.watch(&repo).await;
    (engine, repo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_follow_the_run_and_the_failing_step_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    let tick = ticking(&gate);
    let (engine, repo) = start(
        dir.path(),
        &[("pass.yml", PASS), ("fail.yml", FAIL), ("slow.yml", &tick)],
    )
    .await;
    let repo_arg = repo.display().to_string();

    // dispatch --wait: 0 for a success, 1 for a failure (which it names).
    let passed = cli(
        &engine,
        &[
            "dispatch", "pass.yml", "--repo", &repo_arg, "--ref", "main", "--wait",
        ],
    );
    expect_code(&passed, 0, "dispatch --wait of a passing workflow");
    assert!(
        text(&passed.stdout).contains("[build] built"),
        "{}",
        text(&passed.stdout)
    );
    let failed = cli(
        &engine,
        &[
            "dispatch", "fail.yml", "--repo", &repo_arg, "--ref", "main", "--wait",
        ],
    );
    expect_code(&failed, 1, "dispatch --wait of a failing workflow");
    let failed_out = text(&failed.stdout);
    assert!(
        failed_out.contains("✗ test: step 2 \"Run tests\" failed"),
        "{failed_out}"
    );

    // run-status by WORKFLOW#NUMBER: 1, the step named with its last lines, no marker.
    let status = cli(&engine, &["run-status", "fail#1"]);
    expect_code(&status, 1, "run-status of a failed run");
    let shown = text(&status.stdout);
    assert!(shown.contains("step 2 \"Run tests\" failed"), "{shown}");
    assert!(shown.contains("    error: 3 tests failed"), "{shown}");
    assert!(shown.contains("    test-line-12"), "{shown}");
    assert!(
        !shown.contains("test-line-2\n"),
        "only the last lines: {shown}"
    );
    assert!(!shown.contains("##["), "{shown}");
    let json: Value =
        serde_json::from_slice(&cli(&engine, &["run-status", "fail.yml#1", "--json"]).stdout)
            .unwrap();
    assert_eq!(json["failures"][0]["job"], "test", "{json:#}");
    assert_eq!(json["failures"][0]["step"], "Run tests", "{json:#}");
    assert_eq!(json["failures"][0]["step_number"], 2, "{json:#}");
    let last = json["failures"][0]["last_lines"].as_array().unwrap();
    assert_eq!(last.len(), 10, "{json:#}");
    let run_id = json["run"]["run_id"].as_str().unwrap().to_string();
    // A unique prefix of the id names it too; a short one or an unknown one is a usage error.
    let by_prefix = cli(&engine, &["run-status", &run_id[..13], "--json"]);
    expect_code(&by_prefix, 1, "run-status by id prefix");
    let by_prefix: Value = serde_json::from_slice(&by_prefix.stdout).unwrap();
    assert_eq!(by_prefix["run"]["run_id"], run_id.as_str());
    for bad in [&run_id[..5], "fail#9", "nope.yml#1"] {
        let refused = cli(&engine, &["run-status", bad]);
        expect_code(&refused, 2, bad);
        assert!(
            text(&refused.stderr).contains(bad),
            "{}",
            text(&refused.stderr)
        );
    }
    // `1` alone is ambiguous (pass.yml#1 and fail.yml#1): the error lists both.
    let ambiguous = cli(&engine, &["logs", "1"]);
    expect_code(&ambiguous, 2, "an ambiguous run number");
    let message = text(&ambiguous.stderr);
    assert!(
        message.contains("pass.yml#1.1") && message.contains("fail.yml#1.1"),
        "{message}"
    );
    let passed_status = cli(&engine, &["run-status", "pass#1"]);
    expect_code(&passed_status, 0, "run-status of a passed run");
    // logs -f of a finished run ends at once, by its conclusion.
    expect_code(
        &cli(&engine, &["logs", "fail#1", "-f"]),
        1,
        "logs -f of a failed run",
    );
    expect_code(
        &cli(&engine, &["logs", "pass#1", "-f"]),
        0,
        "logs -f of a passed run",
    );

    // A running run: run-status says 6; cancel stops it (0), then run-status says 4 and a
    // second cancel says it already finished (7).
    let slow = engine.dispatch(&repo, "slow.yml").await;
    engine.wait_job_running(&slow, "tick").await;
    expect_code(
        &cli(&engine, &["run-status", "slow#1"]),
        6,
        "run-status while running",
    );
    let cancelled = cli(&engine, &["cancel", &slow]);
    expect_code(&cancelled, 0, "cancel of a running run");
    engine.wait_completed(&slow).await;
    expect_code(
        &cli(&engine, &["run-status", &slow]),
        4,
        "run-status of a cancelled run",
    );
    let again = cli(&engine, &["cancel", "slow#1"]);
    expect_code(&again, 7, "cancel of a finished run");
    assert!(
        text(&again.stdout).contains("already finished: cancelled"),
        "{}",
        text(&again.stdout)
    );

    // The runs list: new columns, filters done by the engine.
    let table = text(&cli(&engine, &["runs"]).stdout);
    let header = table.lines().next().unwrap_or_default();
    for column in ["REPOSITORY", "COMMIT", "ACTOR", "STATUS", "STARTED"] {
        assert!(header.contains(column), "{table}");
    }
    let failures: Value =
        serde_json::from_slice(&cli(&engine, &["runs", "--status", "failure", "--json"]).stdout)
            .unwrap();
    let workflows: Vec<&str> = failures
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|run| run["workflow"].as_str())
        .collect();
    assert_eq!(
        workflows,
        vec![".github/workflows/fail.yml"],
        "{failures:#}"
    );
    let by_workflow: Value = serde_json::from_slice(
        &cli(
            &engine,
            &["runs", "--workflow", "pass", "--branch", "main", "--json"],
        )
        .stdout,
    )
    .unwrap();
    assert_eq!(by_workflow.as_array().unwrap().len(), 1, "{by_workflow:#}");
    let limited: Value =
        serde_json::from_slice(&cli(&engine, &["runs", "--limit", "2", "--json"]).stdout).unwrap();
    assert_eq!(limited.as_array().unwrap().len(), 2, "{limited:#}");
    let none: Value =
        serde_json::from_slice(&cli(&engine, &["runs", "--repo", "elsewhere", "--json"]).stdout)
            .unwrap();
    assert_eq!(none, serde_json::json!([]));

    // An engine that is not there: 3. A bad flag: 2.
    let unreachable = run(Command::new(crate::support::engine::BIN)
        .args(["run-status", "fail#1"])
        .env("SLIPWAY_ENGINE", "http://127.0.0.1:1"));
    expect_code(&unreachable, 3, "an unreachable engine");
    expect_code(&cli(&engine, &["runs", "--no-such-flag"]), 2, "a bad flag");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_interleaves_parallel_jobs_live_and_renders_markers() {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    let workflow = parallel(&gate);
    let (engine, repo) = start(dir.path(), &[("parallel.yml", &workflow)]).await;
    let run_id = engine.dispatch(&repo, "parallel.yml").await;

    let mut follower = Follower::start(&engine, &["logs", &run_id, "-f"]);
    // Both jobs' first lines arrive while both still wait for the gate: a follower that
    // printed jobs one after another could not show b's before a ended.
    follower.wait_for(&["[a] a-start", "[b] b-start"]);
    std::fs::write(&gate, "open").unwrap();
    let (code, seen, stderr) = follower.finish();
    assert_eq!(code, 0, "{seen:#?}\n{stderr}");
    for wanted in [
        "[a] ▶ Start a",
        "[b] ▶ Start b",
        "[a] ▸ setup a",
        "[a]   inside-group-a",
        "[a] a-end",
        "[b] b-end",
    ] {
        assert!(
            seen.iter().any(|line| line == wanted),
            "no {wanted:?} in {seen:#?}"
        );
    }
    for line in &seen {
        assert!(
            !line.contains("##[") && !line.contains("::group::"),
            "{seen:#?}"
        );
        assert!(
            line.starts_with("[a] ") || line.starts_with("[b] "),
            "{seen:#?}"
        );
    }
    let position = |wanted: &str| seen.iter().position(|line| line == wanted).unwrap();
    assert!(position("[a] a-start") < position("[a] a-end"));
    assert!(position("[b] b-start") < position("[a] a-end"), "{seen:#?}");

    // --json: one object per line with the job, the step and the time it was stored.
    let json = cli(&engine, &["logs", &run_id, "--json", "--job", "a"]);
    expect_code(&json, 0, "logs --json");
    let objects: Vec<Value> = text(&json.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let end = objects
        .iter()
        .find(|object| object["line"] == "a-end")
        .unwrap_or_else(|| panic!("{objects:#?}"));
    assert_eq!(end["job"], "a");
    assert_eq!(end["step"], "Start a");
    assert_eq!(end["step_number"], 1);
    assert_eq!(end["kind"], "output");
    assert!(end["time_us"].as_u64().is_some(), "{end}");
    assert!(end["time"].as_str().unwrap().ends_with('Z'), "{end}");
    // --timestamps: every line starts with the one time style.
    let stamped = text(&cli(&engine, &["logs", &run_id, "--timestamps", "--job", "b"]).stdout);
    let b_end = stamped
        .lines()
        .find(|line| line.ends_with(" b-end"))
        .unwrap_or_else(|| panic!("{stamped}"));
    let stamp = &b_end[..b_end.len() - " b-end".len()];
    assert_eq!(stamp.len(), "2026-12-04 23:12:35Z".len(), "{b_end}");
    assert!(
        stamp.ends_with('Z') && stamp.as_bytes()[10] == b' ',
        "{b_end}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_resumes_after_the_engine_restarts_without_repeating_lines() {
    let _serial = crate::support::SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    let workflow = ticking(&gate);
    let (mut engine, repo) = start(dir.path(), &[("tick.yml", &workflow)]).await;
    let run_id = engine.dispatch(&repo, "tick.yml").await;

    let mut follower = Follower::start(&engine, &["logs", &run_id, "--job", "tick", "-f"]);
    follower.wait_for(&["tick-1"]);
    engine.kill_engine();
    engine.respawn().await;
    std::fs::write(&gate, "open").unwrap();
    let (code, seen, stderr) = follower.finish();
    assert_eq!(code, 0, "{seen:#?}\n{stderr}");
    let count = |wanted: &str| seen.iter().filter(|line| *line == wanted).count();
    assert_eq!(count("tick-1"), 1, "{seen:#?}");
    assert_eq!(count("tick-2"), 1, "{seen:#?}");
    // What was followed is what the log holds, line for line.
    let whole = text(&cli(&engine, &["logs", &run_id, "--job", "tick"]).stdout);
    assert_eq!(whole.lines().collect::<Vec<_>>(), seen);
}

const DEPLOY: &str = "on: workflow_dispatch
jobs:
  ship:
    runs-on: ubuntu-latest
    environment: production
    steps:
      - run: echo shipped
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_an_approval_has_its_own_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(dir.path(), &[("deploy.yml", DEPLOY)]);
    let tagged = Command::new("git")
        .args(["tag", "v1.0.0"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(tagged.status.success(), "{tagged:?}");
    let engine = TestEngine::builder(&dir.path().join("data")).start().await;
    engine.watch(&repo).await;
    let created = cli(
        &engine,
        &[
            "env",
            "create",
            "production",
            "--approvals",
            "1",
            "--approvers",
            "quinn",
            "--release-approvals",
            "1",
            "--release-approvers",
            "quinn",
        ],
    );
    expect_code(&created, 0, "env create");

    // A deployment job held at the gate: run-status says 5, not 6 and not "refused".
    let run_id = engine.dispatch(&repo, "deploy.yml").await;
    engine
        .wait_run(&run_id, "the deployment to wait for approval", |run| {
            let ship = crate::support::job(run, "ship");
            ship["status"] == "waiting" && ship["waiting_for"] == "approval"
        })
        .await;
    let waiting = cli(&engine, &["run-status", "deploy#1"]);
    expect_code(&waiting, 5, "run-status of a run waiting for approval");
    // Scripts read what holds it from a field, not from the sentence.
    let json = cli(&engine, &["run-status", "deploy#1", "--json"]);
    expect_code(&json, 5, "run-status --json of a run waiting for approval");
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    let ship = json["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|job| job["job_key"] == "ship"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(ship["waiting_for"], "approval", "{json:#}");
    let approved = cli(
        &engine,
        &[
            "approve",
            "deploy#1",
            "--env",
            "production",
            "--as",
            "quinn",
        ],
    );
    expect_code(&approved, 0, "approve by WORKFLOW#NUMBER");
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    expect_code(
        &cli(&engine, &["run-status", "deploy#1"]),
        0,
        "run-status once deployed",
    );

    // A release promotion held for its approval: 5 with what is missing; approved: 0.
    let release = cli(&engine, &["release", "create", "v1.0.0", "--as", "alice"]);
    expect_code(&release, 0, "release create");
    let promote = [
        "release",
        "promote",
        "v1.0.0",
        "--env",
        "production",
        "--audience",
        "10%",
        "--as",
        "pat",
    ];
    let pending = cli(&engine, &promote);
    expect_code(&pending, 5, "release promote waiting for approval");
    assert!(
        text(&pending.stdout).contains("waits for approval"),
        "{}",
        text(&pending.stdout)
    );
    let json = cli(&engine, &[&promote[..], &["--json"]].concat());
    expect_code(&json, 5, "release promote --json waiting for approval");
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["state"], "pending", "{json:#}");
    let approved = cli(
        &engine,
        &[
            "release",
            "approve",
            "v1.0.0",
            "--env",
            "production",
            "--as",
            "quinn",
        ],
    );
    expect_code(&approved, 0, "release approve");
    assert!(
        text(&approved.stdout).contains("released to 10% in production"),
        "{}",
        text(&approved.stdout)
    );
}

const LOCAL: &str = "on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - name: Build
        run: echo compiled
      - name: Run tests
        run: |
          echo '### 3 tests failed' >> \"$GITHUB_STEP_SUMMARY\"
          for n in 1 2 3 4 5 6 7 8 9 10 11 12; do echo test-line-$n; done
          exit 1
      - name: Publish
        run: echo never
  slow:
    runs-on: ubuntu-latest
    steps:
      - name: Sleep
        timeout-minutes: 0.03
        run: sleep 20
";

#[test]
fn slipway_run_names_the_failing_step_keeps_the_summary_and_says_why_steps_were_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(dir.path(), &[("local.yml", LOCAL)]);
    let workflow = repo.join(".github/workflows/local.yml");
    let local = |json: bool| {
        let mut command = Command::new(crate::support::engine::BIN);
        command
            .arg("run")
            .arg("-C")
            .arg(&repo)
            .arg("--workflow")
            .arg(&workflow);
        if json {
            command.arg("--json");
        }
        run(&mut command)
    };
    let output = local(false);
    expect_code(&output, 1, "slipway run of a failing workflow");
    let shown = text(&output.stderr);
    for wanted in [
        "step 2 \"Run tests\" failed",
        "    test-line-12",
        "[test] skipping step `Publish`: an earlier step failed",
        "the step timed out after 1.8 s and was killed",
        "step summary of test:",
        "  ### 3 tests failed",
    ] {
        assert!(shown.contains(wanted), "no {wanted:?} in:\n{shown}");
    }
    assert!(
        !shown.contains("0.0300") && !shown.contains("`__"),
        "{shown}"
    );
    let report: Value = serde_json::from_slice(&local(true).stdout).unwrap();
    let test = report["workflows"][0]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["job"] == "test")
        .unwrap()
        .clone();
    assert_eq!(test["failed_step"]["name"], "Run tests", "{test:#}");
    assert_eq!(test["failed_step"]["number"], 2, "{test:#}");
    assert_eq!(
        test["failed_step"]["last_lines"].as_array().map(Vec::len),
        Some(10),
        "{test:#}"
    );
    assert!(
        test["summary"]
            .as_str()
            .unwrap()
            .contains("### 3 tests failed"),
        "{test:#}"
    );
    let kept = std::fs::read_dir(report["workflows"][0]["logs"].as_str().unwrap())
        .unwrap()
        .filter_map(Result::ok)
        .any(|entry| entry.file_name().to_string_lossy().ends_with(".summary.md"));
    assert!(kept, "the step summary is kept beside the logs");
}
