//! The real `actions/cache@v4` (its bundled `dist/restore` and `dist/save`, from
//! `../shared/conformance/actions/actions-cache-v4`) against a real engine: a workflow's `run:`
//! steps start the action with `node` the way the node action runner does (inputs as `INPUT_*`,
//! `GITHUB_STATE` carried from restore to save as `STATE_*`), with the toolkit env the runner gives
//! them (`--toolkit-env-in-run-steps`, through `SLIPWAY_TOOLKIT_ENV_IN_RUN_STEPS`). Runs save,
//! restore by exact key and by restore key, keep a feature branch's entries to that branch, and
//! refuse a bad or spent token with 401.
//!
//! Data and node are required under `CI=true`; elsewhere their absence is a loud SKIPPED.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value, json};

use crate::common;
use crate::support;

use support::engine::TestEngine;
use support::{job, repo_with};

/// The cache action's folder and node, or `None` (skipped) when either is missing outside CI.
fn prerequisites() -> Option<(PathBuf, PathBuf)> {
    let actions = common::conformance_dir("actions")?;
    let action = actions.join("actions-cache-v4");
    let node = ["/usr/bin/node", "/usr/local/bin/node"]
        .iter()
        .map(PathBuf::from)
        .find(|path| path.is_file());
    let ci = std::env::var("CI").is_ok_and(|value| value == "true");
    match node {
        Some(node) if action.join("dist/restore/index.js").is_file() => Some((action, node)),
        _ if ci => panic!("node or {} is missing (CI=true)", action.display()),
        _ => {
            eprintln!(
                "\n*** SKIPPED: toolkit e2e needs node and {} ***\n",
                action.display()
            );
            None
        }
    }
}

/// Restore (main), make or show `deps/`, save (post): each run appends what it saw to `out`.
fn workflow(action: &Path, node: &Path, out: &Path) -> String {
    let node_dir = node.parent().unwrap().display().to_string();
    format!(
        r#"
on:
  workflow_dispatch:
    inputs:
      key:
        required: true
      restore:
        default: ""
      bad:
        default: "no"
env:
  ACTION: {action}
  OUT: {out}
  PATH_PREFIX: {node_dir}
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: restore
        run: |
          export PATH="$PATH_PREFIX:$PATH"
          echo "$ACTIONS_RUNTIME_TOKEN" > "$OUT/token"
          # The same per-job token is `github.token` and `secrets.GITHUB_TOKEN`.
          test "${{{{ github.token }}}}" = "$ACTIONS_RUNTIME_TOKEN"
          test "${{{{ secrets.GITHUB_TOKEN }}}}" = "$ACTIONS_RUNTIME_TOKEN"
          : > "$RUNNER_TEMP/cache-state"
          started=$(date +%s%N)
          env "INPUT_KEY=${{{{ inputs.key }}}}" "INPUT_PATH=deps" \
              "INPUT_RESTORE-KEYS=${{{{ inputs.restore }}}}" \
              GITHUB_STATE="$RUNNER_TEMP/cache-state" \
              node "$ACTION/dist/restore/index.js"
          echo "restore $(( ($(date +%s%N) - started) / 1000000 ))" >> "$OUT/timing"
          # While the job runs: a tampered token is refused, the real one answers.
          node -e '
            const base = process.env.ACTIONS_CACHE_URL + "_apis/artifactcache/cache?keys=x&version=1";
            const ask = (token) => fetch(base, {{headers: {{Authorization: "Bearer " + token}}}}).then(r => r.status);
            Promise.all([ask(process.env.ACTIONS_RUNTIME_TOKEN + "x"), ask(process.env.ACTIONS_RUNTIME_TOKEN)])
              .then(([bad, good]) => require("fs").appendFileSync(process.env.OUT + "/statuses", bad + " " + good + "\n"));
          '
      - run: |
          restored=$(cat deps/data.txt 2>/dev/null || echo none)
          echo "${{{{ inputs.key }}}} hit=${{{{ steps.restore.outputs.cache-hit }}}} restored=$restored" >> "$OUT/seen"
          mkdir -p deps && echo "made-by-${{{{ inputs.key }}}}" > deps/data.txt
      - name: post cache
        run: |
          export PATH="$PATH_PREFIX:$PATH"
          started=$(date +%s%N)
          env "INPUT_PATH=deps" node -e '
            const fs = require("fs"), child = require("child_process");
            const text = fs.readFileSync(process.env.RUNNER_TEMP + "/cache-state", "utf8");
            const env = {{ ...process.env }};
            for (const m of text.matchAll(/^(.+?)<<(.+)\n([\s\S]*?)\n\2$/gm)) env["STATE_" + m[1]] = m[3];
            const ran = child.spawnSync(process.execPath, [process.argv[1]], {{ env, stdio: "inherit" }});
            process.exit(ran.status);
          ' "$ACTION/dist/save/index.js"
          echo "save $(( ($(date +%s%N) - started) / 1000000 ))" >> "$OUT/timing"
"#,
        action = action.display(),
        out = out.display(),
    )
}

fn git(repo: &Path, args: &[&str]) {
    crate::support::git_as("test", "test@localhost", repo, args);
}

async fn run(engine: &TestEngine, repo: &Path, git_ref: &str, key: &str, restore: &str) -> Value {
    engine.watch(repo).await;
    let (status, answer) = engine
        .post_admin(
            "/api/v1/dispatch",
            json!({"protocol_version": protocol::PROTOCOL_VERSION,
                   "repository": repo.display().to_string(), "workflow": "cache.yml",
                   "ref": git_ref, "inputs": {"key": key, "restore": restore}}),
        )
        .await;
    assert_eq!(status, 200, "dispatch answered {answer}");
    let run_id = answer["run_id"].as_str().expect("run_id").to_string();
    let run = engine.wait_completed(&run_id).await;
    let (_, log) = engine
        .get_raw(&format!("/api/v1/runs/{run_id}/jobs/build/logs"))
        .await;
    let log = String::from_utf8_lossy(&log).to_string();
    assert_eq!(
        job(&run, "build")["conclusion"],
        "success",
        "{run:#}\n{log}"
    );
    json!({"run": run, "log": log})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_cache_action_saves_and_restores_through_the_engine() {
    let Some((action, node)) = prerequisites() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let repo = repo_with(
        dir.path(),
        &[("cache.yml", &workflow(&action, &node, &out))],
    );
    git(&repo, &["branch", "feature"]);
    let engine = TestEngine::builder(&dir.path().join("data"))
        .runners(1)
        .lease_seconds(10)
        .env("SLIPWAY_TOOLKIT_ENV_IN_RUN_STEPS", "1")
        .start()
        .await;

    // 1. Nothing yet: a miss, then the post step saves `deps-1` on main.
    let first = run(&engine, &repo, "main", "deps-1", "").await;
    let log = first["log"].as_str().unwrap();
    assert!(log.contains("Cache saved with key: deps-1"), "{log}");
    // The token is a secret: masked in the log.
    let token = std::fs::read_to_string(out.join("token")).unwrap();
    let token = token.trim();
    assert!(token.len() > 40 && !log.contains(token));
    // 2. The exact key: a hit, and no second save.
    let second = run(&engine, &repo, "main", "deps-1", "").await;
    let log = second["log"].as_str().unwrap();
    assert!(log.contains("Cache restored from key: deps-1"), "{log}");
    assert!(log.contains("not saving cache"), "{log}");
    // 3. A new key restored through a restore key (not a hit), then saved.
    let third = run(&engine, &repo, "main", "deps-2", "deps-").await;
    assert!(
        third["log"]
            .as_str()
            .unwrap()
            .contains("Cache saved with key: deps-2")
    );
    // 4. A feature branch restores from the default branch, saves into its own scope.
    run(&engine, &repo, "feature", "feat-1", "deps-").await;
    // 5. main does not see the feature branch's entry; 6. the feature branch does.
    run(&engine, &repo, "main", "feat-1", "").await;
    run(&engine, &repo, "feature", "feat-1", "").await;

    let seen = support::lines(&out.join("seen"));
    assert_eq!(
        seen,
        [
            "deps-1 hit= restored=none",
            "deps-1 hit=true restored=made-by-deps-1",
            "deps-2 hit=false restored=made-by-deps-1",
            "feat-1 hit=false restored=made-by-deps-2",
            "feat-1 hit= restored=none",
            "feat-1 hit=true restored=made-by-feat-1",
        ]
    );
    // While each job ran, a tampered token got 401 and the real one an answer (204: no entry
    // for that key).
    let statuses = support::lines(&out.join("statuses"));
    assert_eq!(statuses.len(), 6);
    assert!(
        statuses.iter().all(|line| line == "401 204"),
        "{statuses:?}"
    );
    // After its job ended, a token is refused.
    let response = engine
        .client
        .get(format!(
            "{}/api/v1/toolkit/_apis/artifactcache/cache?keys=deps-1&version=1",
            engine.url
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("token"));
}

/// Cache save and restore throughput of the real action for a 100 MB path (a figure, printed;
/// no assertion on speed). Ignored by default: `cargo test --test e2e -- --ignored toolkit`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run on demand"]
async fn cache_throughput_for_100_mb() {
    let Some((action, node)) = prerequisites() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let text = workflow(&action, &node, &out).replace(
        "mkdir -p deps && echo \"made-by-${{ inputs.key }}\" > deps/data.txt",
        "mkdir -p deps && echo \"made-by-${{ inputs.key }}\" > deps/data.txt && { test -f deps/blob || head -c 100000000 /dev/urandom > deps/blob; }",
    );
    let repo = repo_with(dir.path(), &[("cache.yml", &text)]);
    let engine = TestEngine::builder(&dir.path().join("data"))
        .runners(1)
        .lease_seconds(10)
        .env("SLIPWAY_TOOLKIT_ENV_IN_RUN_STEPS", "1")
        .start()
        .await;
    let started = Instant::now();
    run(&engine, &repo, "main", "big-1", "").await;
    let save_run = started.elapsed();
    let started = Instant::now();
    let second = run(&engine, &repo, "main", "big-1", "").await;
    let restore_run = started.elapsed();
    // `timing`: restore, save (first run), restore (second run), save (skipped: a hit).
    let timing: Vec<f64> = support::lines(&out.join("timing"))
        .iter()
        .filter_map(|line| line.split_once(' ')?.1.parse::<f64>().ok())
        .map(|ms| ms / 1000.0)
        .collect();
    let (save, restore) = (timing[1], timing[2]);
    eprintln!(
        "toolkit cache, 100 MB of random bytes (zstd archive): save {save:.2} s ({:.1} MB/s), \
         restore {restore:.2} s ({:.1} MB/s), node start-up included; whole runs {:.2} s / {:.2} s",
        100.0 / save,
        100.0 / restore,
        save_run.as_secs_f64(),
        restore_run.as_secs_f64()
    );
    assert!(
        second["log"]
            .as_str()
            .unwrap()
            .contains("Cache restored from key: big-1")
    );
}

/// A job that writes its runtime token to `$OUT/token-TAG` and waits for `$OUT/go-TAG`.
fn holding_workflow(out: &Path) -> String {
    format!(
        r#"
on:
  workflow_dispatch:
    inputs:
      tag:
        required: true
env:
  OUT: {out}
jobs:
  hold:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "$ACTIONS_RUNTIME_TOKEN" > "$OUT/token.tmp" && mv "$OUT/token.tmp" "$OUT/token-${{{{ inputs.tag }}}}"
          while [ ! -f "$OUT/go-${{{{ inputs.tag }}}}" ]; do sleep 0.1; done
"#,
        out = out.display()
    )
}

/// Starts the holding job on `git_ref`; its run id and the job's live token.
async fn hold(
    engine: &TestEngine,
    repo: &Path,
    out: &Path,
    git_ref: &str,
    tag: &str,
) -> (String, String) {
    engine.watch(repo).await;
    let (status, answer) = engine
        .post_admin(
            "/api/v1/dispatch",
            json!({"protocol_version": protocol::PROTOCOL_VERSION,
                   "repository": repo.display().to_string(), "workflow": "hold.yml",
                   "ref": git_ref, "inputs": {"tag": tag}}),
        )
        .await;
    assert_eq!(status, 200, "dispatch answered {answer}");
    let run_id = answer["run_id"].as_str().unwrap().to_string();
    let path = out.join(format!("token-{tag}"));
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while !path.exists() {
        assert!(Instant::now() < deadline, "the holding job never started");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let token = std::fs::read_to_string(&path).unwrap().trim().to_string();
    (run_id, token)
}

async fn release(engine: &TestEngine, out: &Path, tag: &str, run_id: &str) {
    std::fs::write(out.join(format!("go-{tag}")), "").unwrap();
    let run = engine.wait_completed(run_id).await;
    assert_eq!(job(&run, "hold")["conclusion"], "success", "{run:#}");
}

/// The cache protocol over real HTTP with a live job's token: ranges checked, commits checked,
/// entries immutable, and a job of another branch sees neither the entry nor the reservation.
/// Needs no node and no conformance data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_protocol_checks_ranges_tokens_and_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let repo = repo_with(dir.path(), &[("hold.yml", &holding_workflow(&out))]);
    git(&repo, &["branch", "feature"]);
    let engine = TestEngine::builder(&dir.path().join("data"))
        .runners(1)
        .lease_seconds(10)
        .env("SLIPWAY_TOOLKIT_ENV_IN_RUN_STEPS", "1")
        .start()
        .await;
    let base = format!("{}/api/v1/toolkit/_apis/artifactcache", engine.url);
    let client = engine.client.clone();
    let send = |request: reqwest::RequestBuilder| async move {
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    };
    let json_of = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap();

    // A job on the feature branch saves `k1` of version `v1`.
    let (feature_run, token) = hold(&engine, &repo, &out, "feature", "f").await;
    let (status, body) = send(
        client
            .post(format!("{base}/caches"))
            .bearer_auth(&token)
            .json(&json!({"key": "k1", "version": "v1", "cacheSize": 6})),
    )
    .await;
    assert_eq!(status, 201);
    let cache_id = json_of(&body)["cacheId"].as_u64().unwrap();
    let patch = |range: &str, bytes: &'static [u8], token: &str| {
        client
            .patch(format!("{base}/caches/{cache_id}"))
            .bearer_auth(token)
            .header("content-range", range)
            .body(bytes)
    };
    // A body shorter than its range is refused.
    assert_eq!(send(patch("bytes 0-5/*", b"abc", &token)).await.0, 400);
    assert_eq!(send(patch("bytes 3-5/*", b"def", &token)).await.0, 204);
    // A commit with bytes missing is refused, and then accepted once they came.
    let commit = |size: u64| {
        client
            .post(format!("{base}/caches/{cache_id}"))
            .bearer_auth(&token)
            .json(&json!({"size": size}))
    };
    let (status, body) = send(commit(6)).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    assert!(
        json_of(&body)["message"]
            .as_str()
            .unwrap()
            .contains("missing bytes")
    );
    assert_eq!(send(patch("bytes 0-2/*", b"abc", &token)).await.0, 204);
    assert_eq!(send(commit(6)).await.0, 204);
    // Entries are immutable.
    let (status, _) = send(
        client
            .post(format!("{base}/caches"))
            .bearer_auth(&token)
            .json(&json!({"key": "k1", "version": "v1"})),
    )
    .await;
    assert_eq!(status, 409);
    // The lookup finds it (only with its version) and its archive downloads as saved.
    let lookup = |keys: &str, version: &str, token: &str| {
        client
            .get(format!("{base}/cache?keys={keys}&version={version}"))
            .bearer_auth(token)
    };
    assert_eq!(send(lookup("k1", "v2", &token)).await.0, 204);
    let (status, body) = send(lookup("k", "v1", &token)).await;
    assert_eq!(status, 200);
    let found = json_of(&body);
    assert_eq!(found["cacheKey"], "k1");
    assert_eq!(found["scope"], "refs/heads/feature");
    let location = found["archiveLocation"].as_str().unwrap().to_string();
    let (status, bytes) = send(client.get(&location)).await;
    assert_eq!((status, bytes.as_slice()), (200, b"abcdef".as_slice()));
    let eleven = (0..11)
        .map(|i| format!("k{i}"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(send(lookup(&eleven, "v1", &token)).await.0, 400);
    release(&engine, &out, "f", &feature_run).await;
    // The job ended: its token (in the archive URL too) is refused.
    assert_eq!(send(client.get(&location)).await.0, 401);
    assert_eq!(send(lookup("k1", "v1", &token)).await.0, 401);

    // A job on main sees neither the feature branch's entry nor its reservations.
    let (main_run, main_token) = hold(&engine, &repo, &out, "main", "m").await;
    assert_eq!(send(lookup("k1", "v1", &main_token)).await.0, 204);
    let forged =
        format!("{base}/archive?scope=refs%2Fheads%2Ffeature&key=k1&version=v1&token={main_token}");
    assert_eq!(send(client.get(&forged)).await.0, 404);
    assert_eq!(send(patch("bytes 0-2/*", b"xyz", &main_token)).await.0, 404);
    // No token, or a made-up one: 401.
    assert_eq!(
        send(client.get(format!("{base}/cache?keys=k1&version=v1")))
            .await
            .0,
        401
    );
    assert_eq!(send(lookup("k1", "v1", "a.b.c")).await.0, 401);
    release(&engine, &out, "m", &main_run).await;
}
