//! Reusable workflows end to end through the binary: `slipway run` on a real git repository and
//! a real engine with a runner process. Every called job checks what it sees itself (a wrong
//! value fails its step), and the tests read outputs, keys, names and errors from the outside.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::engine::TestEngine;
use crate::support::{SERIAL, job, repo_with};

/// The top-level workflow: a plain call with typed inputs and a secret, a matrix call, a nested
/// call, and a job after them that reads their outputs through `needs`.
const CI: &str = r#"
name: CI
on: [push, workflow_dispatch]
jobs:
  setup:
    runs-on: ubuntu-latest
    outputs:
      version: ${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=1.2" >> "$GITHUB_OUTPUT"
  build:
    name: Build
    needs: setup
    uses: ./.github/workflows/build.yml
    with:
      version: ${{ needs.setup.outputs.version }}
      release: ${{ github.event_name == 'push' || github.event_name == 'workflow_dispatch' }}
      retries: 3
    secrets:
      token: ${{ secrets.DEPLOY_TOKEN }}
  test:
    needs: build
    strategy:
      matrix:
        os: [linux, mac]
    uses: ./.github/workflows/test.yml
    with:
      os: ${{ matrix.os }}
      artifact: ${{ needs.build.outputs.artifact }}
  outer:
    uses: ./.github/workflows/outer.yml
    secrets: inherit
  report:
    needs: [build, test, outer]
    runs-on: ubuntu-latest
    outputs:
      line: ${{ steps.r.outputs.line }}
    steps:
      - id: r
        run: |
          test "${{ needs.build.result }}" = success
          test "${{ needs.build.outputs.artifact }}" = "app-1.2.tgz"
          test "${{ needs.outer.outputs.deep }}" = "deep-from-outer"
          echo "line=${{ needs.build.outputs.artifact }} ${{ needs.outer.outputs.deep }}" >> "$GITHUB_OUTPUT"
"#;

const BUILD: &str = r#"
on:
  workflow_call:
    inputs:
      version:
        type: string
        required: true
      release:
        type: boolean
        required: true
      retries:
        type: number
      channel:
        type: string
        default: ${{ github.event_name }}-stable
    secrets:
      token:
        required: true
    outputs:
      artifact:
        value: ${{ jobs.package.outputs.file }}
jobs:
  package:
    runs-on: ubuntu-latest
    outputs:
      file: ${{ steps.p.outputs.file }}
    steps:
      - id: p
        env:
          TOKEN: ${{ secrets.token }}
        run: |
          test "${{ inputs.version }}" = 1.2
          test "${{ toJSON(inputs.release) }}" = true
          test "${{ toJSON(inputs.retries) }}" = 3
          test "${{ inputs.channel }}" = "${{ github.event_name }}-stable"
          test "$TOKEN" = s3cret
          test "${{ github.job }}" = package
          test "${{ github.workflow }}" = CI
          case "${{ github.job_workflow_ref }}" in */.github/workflows/build.yml@refs/heads/main) ;; *) exit 1 ;; esac
          case "${{ github.workflow_ref }}" in */.github/workflows/ci.yml@refs/heads/main) ;; *) exit 1 ;; esac
          echo "file=app-${{ inputs.version }}.tgz" >> "$GITHUB_OUTPUT"
"#;

const TEST: &str = r#"
on:
  workflow_call:
    inputs:
      os:
        type: string
        required: true
      artifact:
        type: string
jobs:
  run:
    runs-on: ubuntu-latest
    steps:
      - run: |
          test "${{ inputs.artifact }}" = "app-1.2.tgz"
          case "${{ inputs.os }}" in linux|mac) ;; *) exit 1 ;; esac
          test -z "${{ secrets.DEPLOY_TOKEN }}"
"#;

const OUTER: &str = r#"
on:
  workflow_call:
    outputs:
      deep:
        value: ${{ jobs.middle.outputs.deep }}
jobs:
  middle:
    uses: ./.github/workflows/inner.yml
    with:
      from: outer
    secrets: inherit
"#;

const INNER: &str = r#"
on:
  workflow_call:
    inputs:
      from:
        type: string
        required: true
    outputs:
      deep:
        value: deep-from-${{ inputs.from }}
jobs:
  leaf:
    runs-on: ubuntu-latest
    steps:
      - run: test "${{ secrets.DEPLOY_TOKEN }}" = s3cret
"#;

fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("ci.yml", CI),
        ("build.yml", BUILD),
        ("test.yml", TEST),
        ("outer.yml", OUTER),
        ("inner.yml", INNER),
    ]
}

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

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn slipway_run_runs_calls_with_inputs_secrets_outputs_matrix_and_nesting() {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(temp.path(), &files());
    let output = slipway_run(
        &repo,
        &[
            "--workflow",
            ".github/workflows/ci.yml",
            "--secret",
            "DEPLOY_TOKEN=s3cret",
            "--json",
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let jobs = report["workflows"][0]["jobs"].as_array().expect("jobs");
    let keys: Vec<&str> = jobs.iter().filter_map(|job| job["job"].as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "setup",
            "build/package",
            "test (linux)/run",
            "test (mac)/run",
            "outer/middle/leaf",
            "report"
        ],
        "{report:#}"
    );
    assert!(
        jobs.iter().all(|job| job["result"] == "success"),
        "{report:#}"
    );
    assert_eq!(
        jobs[5]["outputs"]["line"], "app-1.2.tgz deep-from-outer",
        "{report:#}"
    );
}

#[test]
fn a_wrong_secret_fails_the_called_job_and_skips_what_needs_the_call() {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(temp.path(), &files());
    let output = slipway_run(
        &repo,
        &[
            "--workflow",
            ".github/workflows/ci.yml",
            "--secret",
            "DEPLOY_TOKEN=wrong",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let result = |key: &str| {
        report["workflows"][0]["jobs"]
            .as_array()
            .and_then(|jobs| jobs.iter().find(|job| job["job"] == key))
            .map(|job| job["result"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(result("build/package"), "failure", "{report:#}");
    assert_eq!(result("test"), "skipped", "{report:#}");
    assert_eq!(result("report"), "skipped", "{report:#}");
}

#[test]
fn bad_calls_are_refused_before_anything_runs_naming_the_callers_position() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "on: push\njobs:\n  call:\n    uses: ./.github/workflows/build.yml\n    with:\n      version: 1\n      release: maybe\n    secrets:\n      token: x\n",
            ".github/workflows/ci.yml:7:16: error: input `release` in `with` of job `call`: expected a boolean, got `maybe`",
            "boolean",
        ),
        (
            "on: push\njobs:\n  call:\n    uses: ./.github/workflows/build.yml\n    with:\n      version: 1\n      release: true\n      colour: red\n",
            ".github/workflows/ci.yml:8:15: error: input `colour` in `with` of job `call` is not declared",
            "unknown input",
        ),
        (
            "on: push\njobs:\n  call:\n    uses: ./.github/workflows/build.yml\n    with:\n      release: true\n    secrets:\n      token: x\n",
            ".github/workflows/ci.yml:4:11: error: job `call` calls `.github/workflows/build.yml` without its required input `version`",
            "required input",
        ),
        (
            "on: push\njobs:\n  call:\n    uses: ./.github/workflows/build.yml\n    with:\n      version: 1\n      release: true\n    secrets:\n      token: x\n      other: y\n",
            ".github/workflows/ci.yml:10:14: error: secret `other` in `secrets` of job `call` is not declared",
            "undeclared secret",
        ),
        (
            "on: push\njobs:\n  call:\n    uses: ./.github/workflows/missing.yml\n",
            ".github/workflows/ci.yml:4:11: error: job `call` calls `.github/workflows/missing.yml`: cannot load the called workflow: `.github/workflows/missing.yml` does not exist",
            "missing file",
        ),
        (
            "on: push\njobs:\n  call:\n    uses: octo/shared/.github/workflows/build.yml@v1\n",
            "cannot load the called workflow: workflow octo/shared/.github/workflows/build.yml@v1 is not available: mirror it with slipway action mirror octo/shared",
            "remote",
        ),
        (
            "on: push\njobs:\n  call:\n    uses: ./.github/workflows/loop.yml\n",
            ".github/workflows/loop.yml:4:11: error: job `again` calls `.github/workflows/loop.yml`, which is already being called",
            "cycle",
        ),
    ];
    for (caller, expected, what) in cases {
        let temp = tempfile::tempdir().expect("temp dir");
        let loop_file =
            "on: workflow_call\njobs:\n  again:\n    uses: ./.github/workflows/loop.yml\n";
        let repo = repo_with(
            temp.path(),
            &[
                ("ci.yml", caller),
                ("build.yml", BUILD),
                ("loop.yml", loop_file),
            ],
        );
        let marker = repo.join("ran");
        let output = slipway_run(&repo, &["--workflow", ".github/workflows/ci.yml"]);
        assert_eq!(output.status.code(), Some(2), "{what}: {}", text(&output));
        assert!(
            text(&output).contains(expected),
            "{what}: {}",
            text(&output)
        );
        assert!(!marker.exists());
        // `slipway check` reports the same finding at the same place (a remote call is only a
        // warning there: it cannot be looked at).
        if *what != "remote" && *what != "cycle" {
            let checked = Command::new(env!("CARGO_BIN_EXE_slipway"))
                .envs(crate::support::user_env())
                .arg("check")
                .arg(repo.join(".github/workflows/ci.yml"))
                .output()
                .expect("slipway check runs");
            assert_eq!(checked.status.code(), Some(1), "{what}: {}", text(&checked));
            let position = expected.split(": error").next().unwrap_or_default();
            let position = position.trim_start_matches(".github/workflows/ci.yml");
            assert!(
                text(&checked).contains(&format!("ci.yml{position}: error")),
                "{what}: {}",
                text(&checked)
            );
        }
    }
}

#[test]
fn nesting_deeper_than_ten_levels_is_refused() {
    let temp = tempfile::tempdir().expect("temp dir");
    let mut owned: Vec<(String, String)> = vec![(
        "ci.yml".to_string(),
        "on: push\njobs:\n  call:\n    uses: ./.github/workflows/l1.yml\n".to_string(),
    )];
    for level in 1..=10 {
        owned.push((
            format!("l{level}.yml"),
            format!(
                "on: workflow_call\njobs:\n  next:\n    uses: ./.github/workflows/l{}.yml\n",
                level + 1
            ),
        ));
    }
    owned.push((
        "l11.yml".to_string(),
        "on: workflow_call\njobs:\n  leaf:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n".to_string(),
    ));
    let files: Vec<(&str, &str)> = owned
        .iter()
        .map(|(name, text)| (name.as_str(), text.as_str()))
        .collect();
    let repo = repo_with(temp.path(), &files);
    let output = slipway_run(&repo, &["--workflow", ".github/workflows/ci.yml"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains(
            ".github/workflows/l9.yml:4:11: error: job `next` calls `.github/workflows/l10.yml` at level 11: reusable workflows connect at most 10 levels"
        ),
        "{}",
        text(&output)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_runs_calls_at_the_commit_with_names_as_github_shows_them() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(temp.path(), &files());
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    let set = engine
        .cli()
        .args(["secret", "set", "DEPLOY_TOKEN", "--value", "s3cret"])
        .output()
        .expect("slipway secret set runs");
    assert!(set.status.success(), "{}", text(&set));
    let run_id = engine.dispatch(&repo, "ci.yml").await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    let names: Vec<(&str, &str)> = run["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|job| {
            (
                job["job_key"].as_str().unwrap_or_default(),
                job["display_name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    for expected in [
        ("build/package", "Build / package"),
        ("test (linux)/run", "test (linux) / run"),
        ("outer/middle/leaf", "outer / middle / leaf"),
    ] {
        assert!(names.contains(&expected), "{expected:?} in {names:?}");
    }
    assert_eq!(
        job(&run, "report")["result"]["outputs"]["line"],
        "app-1.2.tgz deep-from-outer",
        "{run:#}"
    );

    // A called job's log is read by its run key (the `/` travels percent-encoded).
    let logs = engine
        .cli()
        .args(["logs", &run_id, "--job", "outer/middle/leaf"])
        .output()
        .expect("slipway logs runs");
    assert!(logs.status.success(), "{}", text(&logs));
    assert!(text(&logs).contains("DEPLOY_TOKEN"), "{}", text(&logs));

    // A bad call is a failed run whose diagnostics name the caller's file, line and column.
    std::fs::write(
        repo.join(".github/workflows/bad.yml"),
        "on: workflow_dispatch\njobs:\n  call:\n    uses: ./.github/workflows/build.yml\n    with:\n      version: 1\n",
    )
    .expect("write bad.yml");
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
            .args(args)
            .current_dir(&repo)
            .status()
            .expect("git runs");
        assert!(status.success());
    };
    git(&["add", "-A"]);
    git(&["commit", "-qm", "bad call"]);
    let bad = engine.dispatch(&repo, "bad.yml").await;
    let run = engine.wait_completed(&bad).await;
    assert_eq!(run["run"]["conclusion"], "failure", "{run:#}");
    let shown = run.to_string();
    assert!(
        shown.contains(".github/workflows/bad.yml:4:11: error: job `call` calls `.github/workflows/build.yml` without its required input `release`"),
        "{run:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_restarted_inside_a_call_resumes_the_nested_run_and_runs_each_job_once() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let step = |name: &str| format!("echo {name} >> \"{}\" && sleep 1", marks.display());
    let caller = format!(
        r#"
on: workflow_dispatch
jobs:
  call:
    uses: ./.github/workflows/steps.yml
  after:
    needs: call
    runs-on: ubuntu-latest
    steps:
      - run: test "${{{{ needs.call.outputs.last }}}}" = third && {}
"#,
        step("after")
    );
    let called = format!(
        r#"
on:
  workflow_call:
    outputs:
      last:
        value: ${{{{ jobs.third.outputs.name }}}}
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
    outputs:
      name: ${{{{ steps.n.outputs.name }}}}
    steps:
      - id: n
        run: {} && echo name=third >> "$GITHUB_OUTPUT"
"#,
        step("first"),
        step("second"),
        step("third")
    );
    let repo = repo_with(
        temp.path(),
        &[("caller.yml", &caller), ("steps.yml", &called)],
    );
    let mut engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let _runner = engine.start_runner(&temp.path().join("r1"), None).await;
    let run_id = engine.dispatch(&repo, "caller.yml").await;
    engine
        .wait_run(&run_id, "the second called job to start", |run| {
            job(run, "call/second")["status"] == "in_progress"
        })
        .await;
    engine.restart().await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    let mut ran = crate::support::lines(&marks);
    ran.sort();
    assert_eq!(ran, ["after", "first", "second", "third"], "{run:#}");
}

/// A remote reusable workflow (its repository in an action source, tagged `v1`): typed inputs, a
/// secret, an output, `job_workflow_ref` as written, and `./` paths that GitHub resolves in the
/// caller's repository: a nested call (`helper.yml` exists only there) and a local action after
/// `actions/checkout` (`tools/hello`, only there too). `VERSION` says which commit ran.
const REMOTE: &str = r#"
on:
  workflow_call:
    inputs:
      version:
        type: string
        required: true
      retries:
        type: number
    secrets:
      token:
        required: true
    outputs:
      artifact:
        value: ${{ jobs.package.outputs.file }}
      helper:
        value: ${{ jobs.help.outputs.from }}
jobs:
  package:
    runs-on: ubuntu-latest
    outputs:
      file: ${{ steps.p.outputs.file }}
    steps:
      - id: p
        env:
          TOKEN: ${{ secrets.token }}
        run: |
          test "${{ inputs.version }}" = 1.2
          test "${{ toJSON(inputs.retries) }}" = 3
          test "$TOKEN" = s3cret
          test "${{ github.job_workflow_ref }}" = "octo/shared/.github/workflows/build.yml@v1"
          case "${{ github.workflow_ref }}" in */.github/workflows/remote.yml@refs/heads/main) ;; *) exit 1 ;; esac
          echo "file=VERSION-${{ inputs.version }}" >> "$GITHUB_OUTPUT"
      - uses: actions/checkout@v4
      - id: hello
        uses: ./tools/hello
      - run: test "${{ steps.hello.outputs.said }}" = "hello from the caller"
  help:
    uses: ./.github/workflows/helper.yml
"#;

const HELPER: &str = r#"
on:
  workflow_call:
    outputs:
      from:
        value: ${{ jobs.h.outputs.from }}
jobs:
  h:
    runs-on: ubuntu-latest
    outputs:
      from: ${{ steps.s.outputs.from }}
    steps:
      - id: s
        run: echo "from=caller-repo" >> "$GITHUB_OUTPUT"
"#;

const REMOTE_CALLER: &str = r#"
on: [push, workflow_dispatch]
jobs:
  call:
    uses: octo/shared/.github/workflows/build.yml@v1
    with:
      version: "1.2"
      retries: 3
    secrets:
      token: ${{ secrets.DEPLOY_TOKEN }}
  after:
    needs: call
    runs-on: ubuntu-latest
    outputs:
      line: ${{ steps.r.outputs.line }}
    steps:
      - id: r
        run: echo "line=${{ needs.call.outputs.artifact }} ${{ needs.call.outputs.helper }}" >> "$GITHUB_OUTPUT"
"#;

/// `sources/octo/shared` with `REMOTE` saying `version`, committed and tagged `v1` (moved when
/// it exists); the commit.
fn remote_source(sources: &Path, version: &str) -> String {
    let repo = sources.join("octo").join("shared");
    let folder = repo.join(".github/workflows");
    std::fs::create_dir_all(&folder).expect("create the source repo");
    std::fs::write(folder.join("build.yml"), REMOTE.replace("VERSION", version))
        .expect("write build.yml");
    let git = |args: &[&str]| {
        let output = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
            .args(args)
            .current_dir(&repo)
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    if !repo.join(".git").exists() {
        git(&["init", "-q", "-b", "main"]);
    }
    git(&["add", "-A"]);
    git(&["commit", "-qm", version]);
    git(&["tag", "-f", "v1"]);
    git(&["rev-parse", "HEAD"])
}

fn cli_json(engine: &TestEngine, args: &[&str]) -> Value {
    let output = engine.cli().args(args).output().expect("slipway runs");
    assert!(
        output.status.success(),
        "slipway {args:?}: {}",
        text(&output)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_reusable_workflows_run_from_the_mirrors_pinned_like_actions() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let sources = temp.path().join("sources");
    let first = remote_source(&sources, "one");
    let repo = repo_with(
        temp.path(),
        &[("remote.yml", REMOTE_CALLER), ("helper.yml", HELPER)],
    );
    // A local action of the caller's repository, used by the remote workflow as `./tools/hello`.
    let hello = repo.join("tools/hello");
    std::fs::create_dir_all(&hello).expect("create tools/hello");
    std::fs::write(
        hello.join("action.yml"),
        "name: hello\noutputs:\n  said:\n    value: ${{ steps.s.outputs.said }}\nruns:\n  using: composite\n  steps:\n    - id: s\n      shell: bash\n      run: echo \"said=hello from the caller\" >> \"$GITHUB_OUTPUT\"\n",
    )
    .expect("write action.yml");
    let git_in_repo = |args: &[&str]| {
        let status = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@localhost"])
            .args(args)
            .current_dir(&repo)
            .status()
            .expect("git runs");
        assert!(status.success());
    };
    git_in_repo(&["add", "-A"]);
    git_in_repo(&["commit", "-qm", "local action"]);
    let data = temp.path().join("data");
    let engine = TestEngine::builder(&data).runners(1).start().await;
    for args in [
        vec!["secret", "set", "DEPLOY_TOKEN", "--value", "s3cret"],
        vec![
            "action",
            "source",
            "add",
            sources.to_str().expect("utf-8 path"),
        ],
    ] {
        let output = engine.cli().args(&args).output().expect("slipway runs");
        assert!(output.status.success(), "{args:?}: {}", text(&output));
    }

    // Not mirrored yet: fetched from the source when the run is planned, and pinned.
    let run_id = engine.dispatch(&repo, "remote.yml").await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    let reference = "octo/shared/.github/workflows/build.yml@v1";
    assert_eq!(
        run["run"]["details"]["actions"][reference],
        first.as_str(),
        "{run:#}"
    );
    assert_eq!(
        job(&run, "after")["result"]["outputs"]["line"],
        "one-1.2 caller-repo",
        "{run:#}"
    );
    assert_eq!(
        job(&run, "call/package")["display_name"],
        "call / package",
        "{run:#}"
    );

    // The tag moves and the mirror is refreshed: a re-run keeps the pinned commit, a new run
    // takes the new one.
    let second = remote_source(&sources, "two");
    assert_ne!(first, second);
    let refreshed = engine
        .cli()
        .args(["action", "mirror", "octo/shared@v1"])
        .output()
        .expect("slipway runs");
    assert!(refreshed.status.success(), "{}", text(&refreshed));
    let rerun = cli_json(&engine, &["rerun", &run_id, "--json"]);
    let rerun_id = rerun["run_id"].as_str().expect("a rerun id").to_string();
    let again = engine.wait_completed(&rerun_id).await;
    let again_logs = engine
        .cli()
        .args(["logs", &rerun_id, "--job", "call/package"])
        .output()
        .expect("slipway logs runs");
    assert_eq!(
        again["run"]["conclusion"],
        "success",
        "{again:#}\n{}",
        text(&again_logs)
    );
    assert_eq!(
        again["run"]["details"]["actions"][reference],
        first.as_str()
    );
    assert_eq!(
        job(&again, "after")["result"]["outputs"]["line"],
        "one-1.2 caller-repo",
        "{again:#}"
    );
    let fresh = engine.dispatch(&repo, "remote.yml").await;
    let fresh = engine.wait_completed(&fresh).await;
    assert_eq!(
        fresh["run"]["details"]["actions"][reference],
        second.as_str()
    );
    assert_eq!(
        job(&fresh, "after")["result"]["outputs"]["line"],
        "two-1.2 caller-repo",
        "{fresh:#}"
    );

    // One that no source has: the run fails before any job starts, saying what to do.
    std::fs::write(
        repo.join(".github/workflows/missing.yml"),
        "on: workflow_dispatch\njobs:\n  call:\n    uses: nobody/none/.github/workflows/x.yml@v1\n  plain:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo must not run\n",
    )
    .expect("write missing.yml");
    git_in_repo(&["add", "-A"]);
    git_in_repo(&["commit", "-qm", "missing"]);
    let missing = engine.dispatch(&repo, "missing.yml").await;
    let missing = engine.wait_completed(&missing).await;
    assert_eq!(missing["run"]["conclusion"], "failure", "{missing:#}");
    assert!(
        missing.to_string().contains(
            "workflow nobody/none/.github/workflows/x.yml@v1 is not available: mirror it with slipway action mirror nobody/none"
        ),
        "{missing:#}"
    );
    assert!(
        missing["jobs"].as_array().is_none_or(Vec::is_empty),
        "no job started: {missing:#}"
    );

    // `slipway run --data`: the same mirrors (the moved tag: "two"), no engine involved.
    let output = slipway_run(
        &repo,
        &[
            "--workflow",
            ".github/workflows/remote.yml",
            "--secret",
            "DEPLOY_TOKEN=s3cret",
            "--json",
            "--data",
            data.to_str().expect("utf-8 path"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    let report: Value = serde_json::from_slice(&output.stdout).expect("a JSON report");
    let after = report["workflows"][0]["jobs"]
        .as_array()
        .and_then(|jobs| jobs.iter().find(|job| job["job"] == "after"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        after["outputs"]["line"], "two-1.2 caller-repo",
        "{report:#}"
    );
    // `--action-dir`: a plain checkout (the source's working tree, `octo/shared`).
    let empty = temp.path().join("no-data");
    let output = slipway_run(
        &repo,
        &[
            "--workflow",
            ".github/workflows/remote.yml",
            "--secret",
            "DEPLOY_TOKEN=s3cret",
            "--data",
            empty.to_str().expect("utf-8 path"),
            "--action-dir",
            sources.to_str().expect("utf-8 path"),
        ],
    );
    assert!(output.status.success(), "{}", text(&output));
    // Neither: refused before anything runs, with the message.
    let output = slipway_run(
        &repo,
        &[
            "--workflow",
            ".github/workflows/remote.yml",
            "--data",
            empty.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains(&format!(
            "workflow {reference} is not available: mirror it with slipway action mirror octo/shared"
        )),
        "{}",
        text(&output)
    );

    // `slipway check`: mirrored (with `--data`) → no warning; without the mirrors → a warning.
    let check = |data: &Path| {
        let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .envs(crate::support::user_env())
            .arg("check")
            .arg(repo.join(".github/workflows/remote.yml"))
            .arg("--data")
            .arg(data)
            .output()
            .expect("slipway check runs");
        text(&output)
    };
    let mirrored = check(&data);
    assert!(
        !mirrored.contains("calls the remote workflow"),
        "{mirrored}"
    );
    assert!(mirrored.contains("0 errors, 0 warnings"), "{mirrored}");
    let unmirrored = check(&empty);
    assert!(
        unmirrored.contains("runs only from an action mirror (slipway action mirror octo/shared)"),
        "{unmirrored}"
    );
}
