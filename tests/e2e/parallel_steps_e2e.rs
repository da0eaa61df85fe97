//! Parallel steps (`background`, `wait`, `wait-all`, `cancel`, `parallel:`) and the GitHub
//! semantics of issue 13 point 3, run through `slipway run` the way a user runs them.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

fn slipway_run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .envs(crate::support::user_env())
        .arg("run")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("slipway runs")
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// Runs `workflow` (as `flow.yml` in a fresh directory) with `args`; returns the JSON report.
fn run_workflow(workflow: &str, args: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "flow.yml", workflow);
    let mut all = vec!["--workflow", "flow.yml", "--json"];
    all.extend_from_slice(args);
    let output = slipway_run(dir.path(), &all);
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, report)
}

fn job<'r>(report: &'r Value, key: &str) -> &'r Value {
    report["workflows"][0]["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|job| job["job"] == key))
        .unwrap_or_else(|| panic!("no job `{key}` in {report:#}"))
}

fn step<'r>(job: &'r Value, name: &str) -> &'r Value {
    job["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["name"] == name))
        .unwrap_or_else(|| panic!("no step `{name}` in {job:#}"))
}

#[test]
fn parallel_groups_run_at_once_and_their_outputs_and_env_appear_after_the_wait() {
    let workflow = r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      a: ${{ steps.a.outputs.value }}
    steps:
      - parallel:
          - id: a
            name: first
            run: |
              sleep 2
              echo "value=from-a" >> "$GITHUB_OUTPUT"
              echo "FROM_A=yes" >> "$GITHUB_ENV"
          - name: second
            run: sleep 2
      - name: after
        run: |
          test "${{ steps.a.outputs.value }}" = from-a
          test "$FROM_A" = yes
"#;
    let started = Instant::now();
    let (output, report) = run_workflow(workflow, &[]);
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{report:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let build = job(&report, "build");
    assert_eq!(build["outputs"]["a"], "from-a");
    assert_eq!(step(build, "first")["conclusion"], "success");
    assert_eq!(step(build, "second")["conclusion"], "success");
    assert_eq!(
        step(build, "Wait for the parallel steps")["conclusion"],
        "success"
    );
    // Two 2 s steps one after the other would take 4 s or more.
    assert!(
        elapsed < Duration::from_millis(3900),
        "the parallel steps ran one after the other ({elapsed:?})"
    );
}

#[test]
fn cancel_interrupts_a_background_service_and_the_job_still_succeeds() {
    let workflow = r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: server
        name: server
        background: true
        run: |
          trap 'echo interrupted > "$RUNNER_TEMP/../signal.txt"; exit 130' INT
          echo started > "$RUNNER_TEMP/../started.txt"
          while true; do sleep 0.1; done
      - name: use it
        run: |
          for i in $(seq 50); do test -f "$RUNNER_TEMP/../started.txt" && break; sleep 0.1; done
          test -f "$RUNNER_TEMP/../started.txt"
      - cancel: server
      - name: check
        run: test "$(cat "$RUNNER_TEMP/../signal.txt")" = interrupted
"#;
    let (output, report) = run_workflow(workflow, &[]);
    assert!(
        output.status.success(),
        "{report:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let build = job(&report, "build");
    assert_eq!(step(build, "server")["conclusion"], "cancelled");
    assert_eq!(step(build, "Cancel")["conclusion"], "success");
    assert_eq!(step(build, "check")["conclusion"], "success");
}

#[test]
fn a_failing_background_step_fails_the_wait_unless_it_may_continue_on_error() {
    let workflow = r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: tolerated
        name: tolerated
        background: true
        continue-on-error: true
        run: exit 3
      - id: broken
        name: broken
        background: true
        run: exit 4
      - wait: tolerated
      - name: between
        run: echo still fine
      - wait-all:
      - name: skipped after the failure
        run: echo never
      - name: cleanup
        if: always()
        run: echo "${{ steps.broken.outcome }}/${{ steps.tolerated.outcome }}/${{ steps.tolerated.conclusion }}" > "$RUNNER_TEMP/../seen.txt"
"#;
    let (output, report) = run_workflow(workflow, &[]);
    assert!(!output.status.success(), "{report:#}");
    let build = job(&report, "build");
    assert_eq!(build["result"], "failure");
    assert_eq!(step(build, "tolerated")["outcome"], "failure");
    assert_eq!(step(build, "tolerated")["conclusion"], "success");
    assert_eq!(step(build, "Wait")["conclusion"], "success");
    assert_eq!(step(build, "between")["conclusion"], "success");
    assert_eq!(step(build, "broken")["conclusion"], "failure");
    assert_eq!(step(build, "Wait for all")["conclusion"], "failure");
    assert_eq!(
        step(build, "skipped after the failure")["conclusion"],
        "skipped"
    );
    assert_eq!(step(build, "cleanup")["conclusion"], "success");
}

#[test]
fn a_background_step_times_out_on_its_own_timeout() {
    let workflow = r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: slow
        name: slow
        background: true
        timeout-minutes: 0.02
        run: sleep 30
      - wait: slow
"#;
    let started = Instant::now();
    let (output, report) = run_workflow(workflow, &[]);
    assert!(!output.status.success(), "{report:#}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let build = job(&report, "build");
    assert_eq!(step(build, "slow")["conclusion"], "failure");
}

#[test]
fn check_rejects_waits_on_unknown_or_foreground_steps_at_their_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - id: plain\n        run: echo\n      - wait: plain\n      - cancel: nothing\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .envs(crate::support::user_env())
        .arg("check")
        .arg(dir.path())
        .output()
        .expect("slipway check runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("ci.yml:8:15"), "{text}");
    assert!(text.contains("does not run in the background"), "{text}");
    assert!(text.contains("ci.yml:9:17"), "{text}");
    assert!(text.contains("unknown step id `nothing`"), "{text}");
}

#[test]
fn job_conditions_follow_github_status_rules() {
    let workflow = r#"on: push
jobs:
  ok:
    runs-on: ubuntu-latest
    steps:
      - run: echo ok
  bad:
    runs-on: ubuntu-latest
    continue-on-error: false
    steps:
      - run: exit 1
  skipped:
    if: false
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  named-success:
    needs: [ok, bad]
    if: success('ok')
    runs-on: ubuntu-latest
    steps:
      - run: echo ran
  named-failure:
    needs: [ok, bad]
    if: failure('bad')
    runs-on: ubuntu-latest
    steps:
      - run: echo ran
  after-skip:
    needs: skipped
    if: success()
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  after-skip-always:
    needs: skipped
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo ran
"#;
    let (_, report) = run_workflow(workflow, &[]);
    assert_eq!(
        job(&report, "named-success")["result"],
        "success",
        "{report:#}"
    );
    assert_eq!(
        job(&report, "named-failure")["result"],
        "success",
        "{report:#}"
    );
    assert_eq!(
        job(&report, "after-skip")["result"],
        "skipped",
        "{report:#}"
    );
    assert_eq!(
        job(&report, "after-skip-always")["result"],
        "success",
        "{report:#}"
    );
}

#[test]
fn step_conditions_env_expressions_and_runs_on_shapes() {
    let workflow = r#"on: push
env: ${{ fromJSON('{"WORKFLOW_LEVEL":"w","SHARED":"from-workflow"}') }}
jobs:
  build:
    runs-on: {}
    env: ${{ fromJSON('{"JOB_LEVEL":"j","SHARED":"from-job"}') }}
    steps:
      - name: own env in if
        if: env.GATE == 'open'
        env:
          GATE: open
        run: echo gate
      - name: zero is false
        if: 0
        run: exit 1
      - name: inf is true
        if: .inf
        run: echo inf
      - name: nan is false
        if: .nan
        run: exit 1
      - name: text around the braces is always true
        if: ${{ false }} && true
        run: echo always
      - name: a trailing newline is text too
        if: |
          ${{ false }}
        run: echo always
      - name: whole env from one expression
        env: ${{ fromJSON('{"STEP_LEVEL":"s"}') }}
        run: test "$WORKFLOW_LEVEL/$JOB_LEVEL/$STEP_LEVEL/$SHARED" = "w/j/s/from-job"
  grouped:
    runs-on:
      labels: [ubuntu-latest]
    steps:
      - run: echo labels
"#;
    let (output, report) = run_workflow(workflow, &[]);
    assert!(
        output.status.success(),
        "{report:#}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let build = job(&report, "build");
    assert_eq!(step(build, "own env in if")["conclusion"], "success");
    assert_eq!(step(build, "zero is false")["conclusion"], "skipped");
    assert_eq!(step(build, "inf is true")["conclusion"], "success");
    assert_eq!(step(build, "nan is false")["conclusion"], "skipped");
    assert_eq!(
        step(build, "text around the braces is always true")["conclusion"],
        "success"
    );
    assert_eq!(
        step(build, "a trailing newline is text too")["conclusion"],
        "success"
    );
    assert_eq!(
        step(build, "whole env from one expression")["conclusion"],
        "success"
    );
}

#[test]
fn dispatch_inputs_follow_their_declarations_and_an_unmatched_event_is_not_an_error() {
    let workflow = r#"on:
  workflow_dispatch:
    inputs:
      level:
        type: choice
        options: [low, high]
      flag:
        type: boolean
        default: false
      count:
        type: number
        default: 2
jobs:
  show:
    runs-on: ubuntu-latest
    steps:
      - run: test "${{ inputs.level }}/${{ inputs.flag }}/${{ inputs.count }}" = "${{ github.event.inputs.level }}/true/3"
      - run: test "${{ inputs.flag == true }}" = true
"#;
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), ".github/workflows/flow.yml", workflow);
    let ok = slipway_run(
        dir.path(),
        &[
            "--event",
            "workflow_dispatch",
            "--input",
            "flag=true",
            "--input",
            "count=3",
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out_of_range = slipway_run(
        dir.path(),
        &["--event", "workflow_dispatch", "--input", "level=medium"],
    );
    assert!(!out_of_range.status.success());
    assert!(
        String::from_utf8_lossy(&out_of_range.stderr).contains("must be one of low, high"),
        "{}",
        String::from_utf8_lossy(&out_of_range.stderr)
    );
    let undeclared = slipway_run(
        dir.path(),
        &["--event", "workflow_dispatch", "--input", "nope=1"],
    );
    assert!(!undeclared.status.success());
    let nothing = slipway_run(dir.path(), &["--event", "push"]);
    assert_eq!(
        nothing.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&nothing.stderr)
    );
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("nothing to do"));
}

#[test]
fn cancelling_the_run_stops_background_steps_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("interrupted.txt");
    let workflow = format!(
        r#"on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: service
        background: true
        run: |
          trap 'echo yes > "{marker}"; exit 1' INT TERM
          while true; do sleep 0.1; done
      - name: long
        run: sleep 60
"#,
        marker = marker.display()
    );
    write(dir.path(), "flow.yml", &workflow);
    let mut child = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .envs(crate::support::user_env())
        .arg("run")
        .arg("-C")
        .arg(dir.path())
        .args(["--workflow", "flow.yml"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("slipway runs");
    std::thread::sleep(Duration::from_secs(3));
    let started = Instant::now();
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let finished = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "slipway run did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!finished.success());
    assert_eq!(
        std::fs::read_to_string(&marker)
            .map(|text| text.trim().to_string())
            .ok(),
        Some("yes".to_string()),
        "the background step was not signalled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_steps_run_on_a_runner_of_the_engine() {
    use crate::support::engine::TestEngine;
    use crate::support::{SERIAL, job, repo_with};

    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "parallel.yml",
            r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      both: ${{ steps.a.outputs.v }}-${{ steps.b.outputs.v }}
    steps:
      - parallel:
          - id: a
            run: sleep 1 && echo "v=a" >> "$GITHUB_OUTPUT"
          - id: b
            run: sleep 1 && echo "v=b" >> "$GITHUB_OUTPUT"
      - id: service
        background: true
        run: while true; do sleep 0.1; done
      - cancel: service
"#,
        )],
    );
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    let run_id = engine.dispatch(&repo, "parallel.yml").await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    let build = job(&run, "build");
    assert_eq!(build["result"]["outputs"]["both"], "a-b", "{run:#}");
    let steps = build["result"]["steps"].as_array().expect("steps");
    let service = steps
        .iter()
        .find(|step| step["id"] == "service")
        .expect("the service step is reported");
    assert_eq!(service["conclusion"], "cancelled", "{run:#}");
}

#[test]
fn check_reports_time_zones_shells_and_untrusted_input_at_their_positions() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        ".github/workflows/ci.yml",
        "on:\n  schedule:\n    - cron: '0 5 * * *'\n      timezone: Mars/Olympus\n    - cron: '0 6 * * *'\n      timezone: Europe/Berlin\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"${{ github.event.issue.title }}\"\n        shell: zsh\n",
    );
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .envs(crate::support::user_env())
        .arg("check")
        .arg(dir.path())
        .output()
        .expect("slipway check runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("ci.yml:4:17: error: unknown time zone `Mars/Olympus`"),
        "{text}"
    );
    assert!(!text.contains("ci.yml:6:"), "{text}");
    assert!(
        text.contains("ci.yml:11:20: warning: `github.event.issue.title`"),
        "{text}"
    );
    assert!(text.contains("env:"), "{text}");
    assert!(
        text.contains("ci.yml:12:16: error: unknown shell `zsh`"),
        "{text}"
    );
}
