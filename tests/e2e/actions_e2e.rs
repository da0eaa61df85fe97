//! Remote actions end to end through the binary: real official actions (github-script v7,
//! setup-node v4, from `../shared/conformance/actions/`, made into git repositories here) and
//! actions written by the tests, mirrored from a local action source, pinned when the run is
//! planned, fetched by a runner process from the engine and run on the machine's node; the same
//! mirrors (and plain checkouts) with `slipway run`. No network.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common;
use crate::support;

use support::engine::TestEngine;
use support::{job, repo_with};

const NODE: &str = "/usr/bin/node";

fn git(dir: &Path, args: &[&str]) -> String {
    crate::support::git_as("test", "test@localhost", dir, args)
}

/// Commits everything in `dir` (a new repository when needed) and points `tag` at it; the sha.
fn commit_and_tag(dir: &Path, message: &str, tag: &str) -> String {
    if !dir.join(".git").exists() {
        git(dir, &["init", "-q", "-b", "main"]);
    }
    git(dir, &["add", "-A", "-f", "."]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", message]);
    git(dir, &["tag", "-f", tag]);
    git(dir, &["rev-parse", "HEAD"])
}

/// `sources/owner/repo`: a repository of the conformance snapshot `folder`, tagged `tag`.
fn official_action(sources: &Path, folder: &Path, owner: &str, repo: &str, tag: &str) -> String {
    let target = sources.join(owner).join(repo);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    let copied = Command::new("cp")
        .arg("-a")
        .arg(folder)
        .arg(&target)
        .status()
        .expect("cp");
    assert!(copied.success());
    commit_and_tag(&target, "snapshot", tag)
}

/// A JavaScript action covering pre/main/post, inputs (a default that is an expression, a name
/// with a space), outputs (file and legacy command), state (file and legacy command), masking and
/// groups. `greeting` says which version it is.
fn write_js_action(dir: &Path, greeting: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("action.yml"),
        r#"name: js action
inputs:
  who:
    required: true
  word:
    default: ${{ github.event_name }}
  my input:
    default: spaced
outputs:
  greeting:
    description: the greeting
runs:
  using: node20
  pre: pre.js
  main: main.js
  post: post.js
  post-if: always()
"#,
    )
    .unwrap();
    let trace = r#"const fs = require('fs');
function trace(line) { if (process.env.TRACE) fs.appendFileSync(process.env.TRACE, line + '\n'); }
"#;
    std::fs::write(
        dir.join("pre.js"),
        format!("{trace}trace('pre ' + process.env.INPUT_WHO);\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("main.js"),
        format!(
            r#"{trace}
const path = require('path');
const env = process.env;
if (!fs.existsSync(path.join(env.GITHUB_ACTION_PATH, 'action.yml'))) throw new Error('GITHUB_ACTION_PATH: ' + env.GITHUB_ACTION_PATH);
if (env.GITHUB_ACTION_REPOSITORY !== 'me/js-action') throw new Error('GITHUB_ACTION_REPOSITORY: ' + env.GITHUB_ACTION_REPOSITORY);
if (env.GITHUB_ACTION_REF !== 'v1') throw new Error('GITHUB_ACTION_REF: ' + env.GITHUB_ACTION_REF);
if (!env.RUNNER_TEMP || !env.RUNNER_TOOL_CACHE) throw new Error('RUNNER_TEMP/RUNNER_TOOL_CACHE missing');
if (env['INPUT_MY_INPUT'] !== 'spaced') throw new Error('INPUT_MY_INPUT: ' + env['INPUT_MY_INPUT']);
fs.appendFileSync(env.GITHUB_OUTPUT, 'greeting={greeting} ' + env.INPUT_WHO + '\n');
fs.appendFileSync(env.GITHUB_OUTPUT, 'word=' + env.INPUT_WORD + '\n');
fs.appendFileSync(env.GITHUB_STATE, 'from_file=abc\n');
console.log('::set-output name=legacy::yes');
console.log('::save-state name=from_command::kept');
console.log('::add-mask::supersecretvalue');
console.log('::group::inside the action');
console.log('the secret is supersecretvalue');
console.log('::endgroup::');
trace('main ' + env.INPUT_WHO);
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("post.js"),
        format!(
            r#"{trace}
if (process.env.STATE_from_file !== 'abc') throw new Error('STATE_from_file: ' + process.env.STATE_from_file);
if (process.env.STATE_from_command !== 'kept') throw new Error('STATE_from_command: ' + process.env.STATE_from_command);
trace('post ' + process.env.INPUT_WHO);
"#
        ),
    )
    .unwrap();
}

/// A composite action whose step uses the JavaScript action (pinned through the composite).
fn write_composite_action(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("action.yml"),
        r#"name: composite
inputs:
  who:
    default: composite
outputs:
  from-js:
    value: ${{ steps.inner.outputs.greeting }}
runs:
  using: composite
  steps:
    - id: inner
      uses: me/js-action@v1
      with:
        who: ${{ inputs.who }}
    - run: echo "composite ran with $WHO"
      shell: bash
      env:
        WHO: ${{ inputs.who }}
"#,
    )
    .unwrap();
}

/// Seeds `tool_cache` with the machine's node as `node/<version>/x64` (+ the `.complete`
/// marker), the way setup-node finds a cached node; the version.
fn seed_node_tool_cache(tool_cache: &Path) -> String {
    let output = Command::new(NODE).arg("--version").output().expect("node");
    let version = String::from_utf8_lossy(&output.stdout)
        .trim()
        .trim_start_matches('v')
        .to_string();
    let root = tool_cache.join("node").join(&version);
    let bin = root.join("x64").join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(NODE, bin.join("node")).unwrap();
    std::fs::write(root.join("x64.complete"), "").unwrap();
    version
}

fn logs(engine: &TestEngine, run_id: &str) -> String {
    let output = engine.cli().args(["logs", run_id]).output().unwrap();
    String::from_utf8_lossy(&output.stdout).to_string()
}

fn cli_ok(engine: &TestEngine, args: &[&str]) -> String {
    let output = engine.cli().args(args).output().unwrap();
    assert!(output.status.success(), "slipway {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).to_string()
}

struct Sources {
    dir: PathBuf,
    github_script: String,
    setup_node: String,
    js_v1: String,
}

fn make_sources(root: &Path) -> Option<Sources> {
    let conformance = common::conformance_dir("actions")?;
    assert!(Path::new(NODE).exists(), "node is expected at {NODE}");
    let dir = root.join("sources");
    let github_script = official_action(
        &dir,
        &conformance.join("actions-github-script-v7"),
        "actions",
        "github-script",
        "v7",
    );
    let setup_node = official_action(
        &dir,
        &conformance.join("actions-setup-node-v4"),
        "actions",
        "setup-node",
        "v4",
    );
    let js = dir.join("me").join("js-action");
    write_js_action(&js, "hello");
    let js_v1 = commit_and_tag(&js, "v1", "v1");
    let composite = dir.join("me").join("composite");
    write_composite_action(&composite);
    commit_and_tag(&composite, "v1", "v1");
    Some(Sources {
        dir,
        github_script,
        setup_node,
        js_v1,
    })
}

const WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  script:
    runs-on: self-hosted
    steps:
      - id: gs
        uses: actions/github-script@v7
        with:
          result-encoding: string
          script: |
            core.setOutput('greeting', 'hello from github-script');
            return 'returned-' + context.eventName;
      - run: |
          test "${{ steps.gs.outputs.greeting }}" = "hello from github-script"
          test "${{ steps.gs.outputs.result }}" = "returned-workflow_dispatch"
  js:
    runs-on: self-hosted
    steps:
      - run: echo "first step" >> "$TRACE"
        env:
          TRACE: TRACE_PATH
      - id: mine
        uses: me/js-action@v1
        env:
          TRACE: TRACE_PATH
        with:
          who: world
      - run: |
          test "${{ steps.mine.outputs.greeting }}" = "hello world"
          test "${{ steps.mine.outputs.word }}" = "workflow_dispatch"
          test "${{ steps.mine.outputs.legacy }}" = "yes"
  composite:
    runs-on: self-hosted
    steps:
      - id: c
        uses: me/composite@v1
      - run: test "${{ steps.c.outputs.from-js }}" = "hello composite"
  node:
    runs-on: self-hosted
    steps:
      - uses: actions/setup-node@v4
        with:
          node-version: 20
      - run: |
          echo "node is $(command -v node)"
          command -v node | grep -q "_tool/node/"
          node --version | grep -q '^v20\.'
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_actions_run_from_mirrors_pinned_and_fetched_by_runners() {
    let temp = tempfile::tempdir().expect("temp dir");
    let Some(sources) = make_sources(temp.path()) else {
        return;
    };
    let trace = temp.path().join("trace");
    let workflow = WORKFLOW.replace("TRACE_PATH", &trace.display().to_string());
    let repo = repo_with(temp.path(), &[("actions.yml", &workflow)]);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let runner_dir = temp.path().join("runner");
    let node_version = seed_node_tool_cache(&runner_dir.join("work").join("_tool"));
    assert!(
        node_version.starts_with("20."),
        "the machine's node: {node_version}"
    );
    let _runner = engine.start_runner(&runner_dir, None).await;

    cli_ok(
        &engine,
        &[
            "action",
            "source",
            "add",
            &sources.dir.display().to_string(),
            "--name",
            "local",
        ],
    );
    let mirrored = cli_ok(&engine, &["action", "mirror", "actions/github-script@v7"]);
    assert!(
        mirrored.contains("mirrored actions/github-script"),
        "{mirrored}"
    );
    let missing_ref = engine
        .cli()
        .args(["action", "mirror", "actions/github-script@v99"])
        .output()
        .unwrap();
    assert!(!missing_ref.status.success(), "{missing_ref:?}");

    // The others are fetched from the source when the run is planned.
    let run_id = engine.dispatch(&repo, "actions.yml").await;
    let run = engine.wait_completed(&run_id).await;
    let all_logs = logs(&engine, &run_id);
    for key in ["script", "js", "composite", "node"] {
        assert_eq!(
            job(&run, key)["conclusion"],
            "success",
            "job {key}: {run:#}\n{all_logs}"
        );
    }
    // Pinned: every action (the composite's nested one too) at its full commit.
    let pinned = &run["run"]["details"]["actions"];
    assert_eq!(
        pinned["actions/github-script@v7"],
        sources.github_script.as_str()
    );
    assert_eq!(pinned["actions/setup-node@v4"], sources.setup_node.as_str());
    assert_eq!(pinned["me/js-action@v1"], sources.js_v1.as_str());
    assert!(pinned["me/composite@v1"].is_string(), "{pinned:#}");
    let status = cli_ok(&engine, &["run-status", &run_id]);
    assert!(
        status.contains(&format!("action: me/js-action@v1 = {}", sources.js_v1)),
        "{status}"
    );
    // pre at the start of the job (before the first step), main, post with the state main saved.
    assert_eq!(
        support::lines(&trace),
        ["pre world", "first step", "main world", "post world"],
        "{all_logs}"
    );
    assert!(all_logs.contains("the secret is ***"), "{all_logs}");
    assert!(!all_logs.contains("supersecretvalue"), "{all_logs}");
    // The mirrors, as `slipway actions` lists them.
    let listed = cli_ok(&engine, &["actions"]);
    for expected in [
        "actions/github-script",
        "refs/tags/v7",
        sources.github_script.as_str(),
        "me/js-action",
        "me/composite",
    ] {
        assert!(listed.contains(expected), "{expected} in {listed}");
    }
    // The runner's cache holds each commit once.
    let cached = runner_dir
        .join("work/_actions/actions/github-script")
        .join(&sources.github_script);
    assert!(cached.join("action.yml").is_file(), "{}", cached.display());

    // The archive route serves lease holders only: a runner that holds no lease on the job
    // gets 403, no credential 401.
    let config = std::fs::read_to_string(runner_dir.join("runner.toml")).unwrap();
    let credential = config
        .lines()
        .find_map(|line| line.strip_prefix("credential = "))
        .unwrap()
        .trim_matches('"')
        .to_string();
    let archive_url = format!(
        "{}/api/v1/actions/actions/github-script/{}.tar.gz",
        engine.url, sources.github_script
    );
    let job_id = job(&run, "script")["job_id"]
        .as_str()
        .unwrap_or("none")
        .to_string();
    let refused = engine
        .client
        .get(&archive_url)
        .bearer_auth(&credential)
        .header("x-slipway-job", &job_id)
        .header("x-slipway-fencing-token", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    let anonymous = engine.client.get(&archive_url).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // A tag moved after the run: a re-run keeps the first attempt's commit; a new run takes the
    // new one once the mirror is refreshed.
    let js = sources.dir.join("me").join("js-action");
    write_js_action(&js, "bonjour");
    let js_v1_moved = commit_and_tag(&js, "v1 moved", "v1");
    assert_ne!(js_v1_moved, sources.js_v1);
    cli_ok(&engine, &["action", "mirror", "me/js-action@v1"]);
    let rerun = cli_ok(&engine, &["rerun", &run_id, "--job", "js", "--json"]);
    let rerun: Value = serde_json::from_str(&rerun).unwrap_or_default();
    let rerun_id = rerun["run_id"].as_str().expect("rerun run id").to_string();
    let again = engine.wait_completed(&rerun_id).await;
    assert_eq!(job(&again, "js")["conclusion"], "success", "{again:#}");
    assert_eq!(
        again["run"]["details"]["actions"]["me/js-action@v1"],
        sources.js_v1.as_str()
    );
    let fresh = engine.dispatch(&repo, "actions.yml").await;
    let fresh = engine.wait_completed(&fresh).await;
    assert_eq!(
        fresh["run"]["details"]["actions"]["me/js-action@v1"],
        js_v1_moved.as_str()
    );
    // The moved tag says "bonjour": the check step of the new run fails, as it should.
    assert_eq!(job(&fresh, "js")["conclusion"], "failure", "{fresh:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_that_is_not_available_fails_its_job_before_it_starts() {
    let temp = tempfile::tempdir().expect("temp dir");
    let workflow = r#"
on: workflow_dispatch
jobs:
  uses-missing:
    runs-on: self-hosted
    steps:
      - run: echo "must not run" > "$GITHUB_WORKSPACE/ran"
      - uses: nobody/missing@v4
  plain:
    runs-on: self-hosted
    steps:
      - run: echo fine
"#;
    let repo = repo_with(temp.path(), &[("missing.yml", workflow)]);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    // A source that does not have it changes nothing.
    let empty = temp.path().join("empty-source");
    std::fs::create_dir_all(&empty).unwrap();
    cli_ok(
        &engine,
        &["action", "source", "add", &empty.display().to_string()],
    );
    let run_id = engine.dispatch(&repo, "missing.yml").await;
    let run = engine.wait_completed(&run_id).await;
    let failed = job(&run, "uses-missing");
    assert_eq!(failed["conclusion"], "failure", "{run:#}");
    assert_eq!(
        failed["failure_reason"],
        "action nobody/missing@v4 is not available: mirror it with slipway action mirror nobody/missing",
        "{run:#}"
    );
    assert!(
        failed["runner_id"].is_null(),
        "no runner took it: {failed:#}"
    );
    assert_eq!(job(&run, "plain")["conclusion"], "success", "{run:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slipway_run_uses_the_mirrors_of_a_data_dir_and_action_dirs() {
    let temp = tempfile::tempdir().expect("temp dir");
    let Some(sources) = make_sources(temp.path()) else {
        return;
    };
    // Mirror github-script into a data dir with an engine, then stop using the engine.
    let data = temp.path().join("data");
    {
        let engine = TestEngine::builder(&data).runners(0).start().await;
        cli_ok(
            &engine,
            &[
                "action",
                "source",
                "add",
                &sources.dir.display().to_string(),
            ],
        );
        cli_ok(&engine, &["action", "mirror", "actions/github-script"]);
    }
    check_with_mirrors(temp.path(), &data);
    // A plain checkout of the JavaScript action, named owner/repo@ref.
    let action_dir = temp.path().join("action-dir");
    write_js_action(&action_dir.join("me").join("js-action@v1"), "hi");
    // An action written for node 24, on a machine with node 20: it runs, with a warning.
    let future = action_dir.join("me").join("future");
    std::fs::create_dir_all(&future).unwrap();
    std::fs::write(
        future.join("action.yml"),
        "runs:\n  using: node24\n  main: main.js\n",
    )
    .unwrap();
    std::fs::write(
        future.join("main.js"),
        "console.log('future ran on ' + process.version);\n",
    )
    .unwrap();
    let trace = temp.path().join("trace");
    let workflow = r#"
on: push
jobs:
  local:
    runs-on: ubuntu-latest
    steps:
      - id: gs
        uses: actions/github-script@v7
        with:
          script: return 21 * 2
      - run: test "${{ steps.gs.outputs.result }}" = "42"
      - id: mine
        uses: me/js-action@v1
        env:
          TRACE: TRACE_PATH
        with:
          who: local
      - run: test "${{ steps.mine.outputs.greeting }}" = "hi local"
      - uses: me/future@v1
"#
    .replace("TRACE_PATH", &trace.display().to_string());
    let repo = repo_with(temp.path(), &[("local.yml", &workflow)]);
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .envs(crate::support::user_env())
        .arg("run")
        .arg("-C")
        .arg(&repo)
        .args(["--workflow", ".github/workflows/local.yml", "--data"])
        .arg(&data)
        .arg("--action-dir")
        .arg(&action_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        support::lines(&trace),
        ["pre local", "main local", "post local"]
    );
    let logs = run_logs(&output);
    assert!(
        logs.contains("this action is written for node24; running it on node20"),
        "{logs}"
    );
    assert!(logs.contains("future ran on v20."), "{logs}");
    // Without the mirrors the action is not available, with the message that says what to do.
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .envs(crate::support::user_env())
        .arg("run")
        .arg("-C")
        .arg(&repo)
        .args(["--workflow", ".github/workflows/local.yml", "--data"])
        .arg(temp.path().join("no-data"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let log_text = run_logs(&output);
    assert!(
        format!("{text}{log_text}").contains(
            "action actions/github-script@v7 is not available: mirror it with slipway action mirror actions/github-script"
        ),
        "{text}\n{log_text}"
    );
}

/// `slipway check --data DIR`: a mirrored action raises no warning; its `with:` is checked against
/// its inputs at the right line and column; an action not mirrored is still a warning.
fn check_with_mirrors(dir: &Path, data: &Path) {
    let folder = dir.join("check/.github/workflows");
    std::fs::create_dir_all(&folder).unwrap();
    let file = folder.join("check.yml");
    std::fs::write(
        &file,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/github-script@v7\n        with:\n          scrip: return 1\n      - uses: actions/github-script@v7\n        with:\n          script: return 1\n      - uses: someone/else@v1\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .envs(crate::support::user_env())
        .args(["check", "--data"])
        .arg(data)
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains("check.yml:8:18: error: input `scrip` of step 1 of job `a` is not defined by `actions/github-script@v7`"),
        "{text}"
    );
    assert!(
        text.contains("check.yml:6:15: error: step 1 of job `a` does not give input `script`, which `actions/github-script@v7` requires"),
        "{text}"
    );
    assert!(
        !text.contains("uses `actions/github-script@v7`, which Slipway cannot run"),
        "{text}"
    );
    assert!(
        text.contains(
            "uses `someone/else@v1`, which Slipway cannot run unless the engine mirrors it"
        ),
        "{text}"
    );
    assert!(text.contains("2 errors, 1 warning"), "{text}");
}

/// The job logs of a `slipway run` (the folder it names at the end).
fn run_logs(output: &std::process::Output) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .find_map(|line| line.split_whitespace().find(|word| word.contains("/logs/")))
        .map(PathBuf::from)
        .map(|dir| {
            std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| std::fs::read_to_string(entry.path()).unwrap_or_default())
                .collect::<String>()
        })
        .unwrap_or_default()
}

const CACHE_WORKFLOW: &str = r#"
on:
  workflow_dispatch:
    inputs:
      key:
        type: string
        required: true
jobs:
  build:
    runs-on: self-hosted
    steps:
      - id: cache
        uses: actions/cache@v4
        with:
          path: cached
          key: ${{ inputs.key }}
          restore-keys: |
            deps-
      - run: |
          echo "cache-hit=[${{ steps.cache.outputs.cache-hit }}]"
          if [ -f cached/data.txt ]; then
            echo "restored: $(cat cached/data.txt)"
          else
            mkdir -p cached
            echo "${{ inputs.key }}" > cached/data.txt
            echo "made: ${{ inputs.key }}"
          fi
"#;

/// The real `actions/cache@v4`, mirrored, used as written (`uses:`): its post step saves through
/// the engine's cache service with the job's runtime token, and the next runs restore, by the
/// exact key and then by a restore key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mirrored_cache_action_saves_and_restores_when_used_unchanged() {
    let temp = tempfile::tempdir().expect("temp dir");
    let Some(conformance) = common::conformance_dir("actions") else {
        return;
    };
    assert!(Path::new(NODE).exists(), "node is expected at {NODE}");
    let sources = temp.path().join("sources");
    official_action(
        &sources,
        &conformance.join("actions-cache-v4"),
        "actions",
        "cache",
        "v4",
    );
    let repo = repo_with(temp.path(), &[("cache.yml", CACHE_WORKFLOW)]);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    cli_ok(
        &engine,
        &["action", "source", "add", &sources.display().to_string()],
    );
    cli_ok(&engine, &["action", "mirror", "actions/cache@v4"]);

    let mut outputs = Vec::new();
    for key in ["deps-1", "deps-1", "deps-2"] {
        let run_id = engine
            .dispatch_with_inputs(&repo, "cache.yml", serde_json::json!({"key": key}))
            .await;
        let run = engine.wait_completed(&run_id).await;
        let log = logs(&engine, &run_id);
        assert_eq!(
            job(&run, "build")["conclusion"],
            "success",
            "{run:#}\n{log}"
        );
        // The real action ran (not the built-in): pinned to the mirror's commit.
        assert!(
            run["run"]["details"]["actions"]["actions/cache@v4"]
                .as_str()
                .is_some_and(|sha| sha.len() == 40),
            "{run:#}"
        );
        outputs.push(log);
    }
    assert!(
        outputs[0].contains("cache-hit=[false]") || outputs[0].contains("cache-hit=[]"),
        "{}",
        outputs[0]
    );
    assert!(outputs[0].contains("made: deps-1"), "{}", outputs[0]);
    assert!(
        outputs[0].contains("Cache saved"),
        "the post step saved: {}",
        outputs[0]
    );
    assert!(outputs[1].contains("cache-hit=[true]"), "{}", outputs[1]);
    assert!(outputs[1].contains("restored: deps-1"), "{}", outputs[1]);
    assert!(outputs[2].contains("cache-hit=[false]"), "{}", outputs[2]);
    assert!(
        outputs[2].contains("restored: deps-1"),
        "a restore key matched: {}",
        outputs[2]
    );
}
