//! Artifacts live in the engine: a job on one runner uploads, a job on another runner (its own
//! work dir, nothing shared on disk) downloads, the CLI's API lists and fetches them, and a
//! re-run's attempt sees the artifacts of the jobs it kept. Real processes through the binary.

use serde_json::Value;

use crate::support;

use support::engine::TestEngine;
use support::{job, repo_with};

fn workflow(marker: &std::path::Path) -> String {
    r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: [self-hosted, builder]
    steps:
      - run: |
          mkdir -p dist/nested
          echo "binary v1" > dist/app.bin
          echo "deep file" > "dist/nested/read me.txt"
          echo "not me" > dist/skip.log
      - uses: actions/upload-artifact@v4
        with:
          name: dist (linux)
          path: |
            dist/
            !dist/*.log
      - uses: actions/upload-artifact@v4
        with:
          name: notes
          path: dist/app.bin
  deploy:
    needs: build
    runs-on: [self-hosted, deployer]
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: dist (linux)
          path: got
      - run: |
          test "$(cat got/app.bin)" = "binary v1"
          test "$(cat "got/nested/read me.txt")" = "deep file"
          test ! -e got/skip.log
          test ! -e dist
      - uses: actions/download-artifact@v4
        with:
          path: all
      - run: |
          test -f "all/dist (linux)/app.bin"
          test -f all/notes/app.bin
  check:
    needs: build
    runs-on: [self-hosted, deployer]
    steps:
      - uses: actions/download-artifact@v4
        with:
          name: notes
      - run: |
          test "$(cat app.bin)" = "binary v1"
          # Fails on the first attempt only: the re-run must still find the artifact of the
          # kept `build` job.
          if [ ! -e "$MARKER" ]; then touch "$MARKER"; exit 1; fi
        env:
          MARKER: MARKER_PATH
"#
    .replace("MARKER_PATH", &marker.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifacts_cross_runners_and_survive_a_rerun() {
    let temp = tempfile::tempdir().expect("temp dir");
    let workflow = workflow(&temp.path().join("marker-check"));
    let repo = repo_with(temp.path(), &[("artifacts.yml", &workflow)]);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    // Two runners with their own work dirs: `build` can only go to the first, the others only to
    // the second, so the artifact has to travel through the engine.
    let _builder = engine
        .start_runner(&temp.path().join("builder"), Some("self-hosted,builder"))
        .await;
    let _deployer = engine
        .start_runner(&temp.path().join("deployer"), Some("self-hosted,deployer"))
        .await;

    let run_id = engine.dispatch(&repo, "artifacts.yml").await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(job(&run, "build")["conclusion"], "success", "{run:#}");
    assert_eq!(job(&run, "deploy")["conclusion"], "success", "{run:#}");
    assert_eq!(
        job(&run, "check")["conclusion"],
        "failure",
        "the check fails on its first attempt: {run:#}"
    );

    // The API lists both artifacts with their files, and serves their bytes.
    let list = engine
        .get(&format!("/api/v1/runs/{run_id}/artifacts"))
        .await;
    let artifacts = list["artifacts"].as_array().expect("artifacts");
    let names: Vec<&str> = artifacts
        .iter()
        .filter_map(|artifact| artifact["name"].as_str())
        .collect();
    assert_eq!(names, ["dist (linux)", "notes"], "{list:#}");
    let dist = &artifacts[0];
    let mut paths: Vec<&str> = dist["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|file| file["path"].as_str())
        .collect();
    paths.sort();
    assert_eq!(paths, ["app.bin", "nested/read me.txt"], "{dist:#}");
    assert_eq!(dist["job_key"], "build");
    let (status, body) = engine
        .get_raw(&format!(
            "/api/v1/runs/{run_id}/artifacts/dist%20(linux)/files/nested/read%20me.txt"
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, b"deep file\n");
    let (status, _) = engine
        .get_raw(&format!(
            "/api/v1/runs/{run_id}/artifacts/dist%20(linux)/files/..%2F..%2Fadmin.token"
        ))
        .await;
    assert_eq!(status, 400, "a path leaving the artifact is refused");

    // The CLI lists the same two artifacts and downloads one's files with their contents.
    let listed = engine
        .cli()
        .args(["artifacts", &run_id, "--json"])
        .output()
        .expect("run slipway artifacts");
    assert!(listed.status.success(), "{listed:?}");
    let listed: Value = serde_json::from_slice(&listed.stdout).expect("artifacts --json");
    let names: Vec<&str> = listed["artifacts"]
        .as_array()
        .expect("artifacts")
        .iter()
        .filter_map(|artifact| artifact["name"].as_str())
        .collect();
    assert_eq!(names, ["dist (linux)", "notes"], "{listed:#}");
    let table = engine
        .cli()
        .args(["artifacts", &run_id])
        .output()
        .expect("run slipway artifacts");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("dist (linux)") && table.contains("build"),
        "{table}"
    );
    let into = temp.path().join("downloaded");
    let downloaded = engine
        .cli()
        .args(["artifacts", &run_id, "--download", "dist (linux)", "--dir"])
        .arg(&into)
        .output()
        .expect("run slipway artifacts --download");
    assert!(downloaded.status.success(), "{downloaded:?}");
    assert_eq!(
        std::fs::read_to_string(into.join("app.bin")).expect("app.bin"),
        "binary v1\n"
    );
    assert_eq!(
        std::fs::read_to_string(into.join("nested/read me.txt")).expect("read me.txt"),
        "deep file\n"
    );
    assert!(!into.join("skip.log").exists());
    let missing = engine
        .cli()
        .args(["artifacts", &run_id, "--download", "nothing"])
        .current_dir(temp.path())
        .output()
        .expect("run slipway artifacts --download");
    assert_eq!(missing.status.code(), Some(2), "{missing:?}");

    // Nothing of the build's workspace is on the deployer's side: the files came over HTTP.
    let on_deployer = walk(&temp.path().join("deployer"));
    assert!(
        !on_deployer.iter().any(|path| path.ends_with("skip.log")),
        "{on_deployer:?}"
    );

    // A re-run of the failed job: `build` is kept (not run again), and `check` of attempt 2
    // still downloads `notes` from attempt 1.
    let rerun = engine
        .cli()
        .args(["rerun", &run_id, "--failed", "--json"])
        .output()
        .expect("run slipway rerun");
    assert!(rerun.status.success(), "{rerun:?}");
    let answer: Value = serde_json::from_slice(&rerun.stdout).expect("rerun --json answer");
    let second = answer["run_id"].as_str().expect("new run id").to_string();
    let run = engine.wait_completed(&second).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(job(&run, "check")["conclusion"], "success", "{run:#}");
    let list = engine
        .get(&format!("/api/v1/runs/{second}/artifacts"))
        .await;
    assert_eq!(
        list["artifacts"].as_array().map(Vec::len),
        Some(2),
        "the second attempt sees the first one's artifacts: {list:#}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

const CACHE_WORKFLOW: &str = r#"
on: workflow_dispatch
jobs:
  save:
    runs-on: [self-hosted, builder]
    steps:
      - uses: actions/cache@v4
        id: cache
        with:
          path: deps
          key: deps-v1
      - run: test "${{ steps.cache.outputs.cache-hit }}" = "false"
      - run: mkdir -p deps/lib && echo "compiled once" > deps/lib/a.txt
  exact:
    needs: save
    runs-on: [self-hosted, deployer]
    steps:
      - uses: actions/cache@v4
        id: cache
        with:
          path: deps
          key: deps-v1
      - run: |
          test "${{ steps.cache.outputs.cache-hit }}" = "true"
          test "$(cat deps/lib/a.txt)" = "compiled once"
  prefix:
    needs: save
    runs-on: [self-hosted, deployer]
    steps:
      - uses: actions/cache/restore@v4
        id: cache
        with:
          path: deps
          key: deps-v2
          restore-keys: |
            other-
            deps-
      - run: |
          test "${{ steps.cache.outputs.cache-hit }}" = "false"
          test "${{ steps.cache.outputs.cache-matched-key }}" = "deps-v1"
          test "$(cat deps/lib/a.txt)" = "compiled once"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_saved_on_one_runner_is_restored_on_another() {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(temp.path(), &[("cache.yml", CACHE_WORKFLOW)]);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let _builder = engine
        .start_runner(&temp.path().join("builder"), Some("self-hosted,builder"))
        .await;
    let _deployer = engine
        .start_runner(&temp.path().join("deployer"), Some("self-hosted,deployer"))
        .await;
    let run_id = engine.dispatch(&repo, "cache.yml").await;
    let run = engine.wait_completed(&run_id).await;
    for key in ["save", "exact", "prefix"] {
        assert_eq!(job(&run, key)["conclusion"], "success", "{key}: {run:#}");
    }
    // The entry is in the engine's data dir, not only on the runner that saved it.
    let stored = walk(&temp.path().join("data").join("caches"));
    assert!(
        stored
            .iter()
            .any(|path| path.ends_with("paths/0/lib/a.txt")),
        "{stored:?}"
    );
}
