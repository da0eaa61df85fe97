//! What a user sets reaches the job, and nothing waits silently: end to end through the binary
//! with a real engine and runner processes.

use std::time::{Duration, Instant};

use crate::support;

use support::engine::TestEngine;
use support::{job, repo_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_no_runner_can_take_says_why_in_run_status() {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "mac.yml",
            "on: workflow_dispatch\njobs:\n  build:\n    runs-on: macos-latest\n    steps:\n      - run: echo never\n",
        )],
    );
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .arg("--no-runner-timeout")
        .arg("4s")
        .start()
        .await;
    let run_id = engine.dispatch(&repo, "mac.yml").await;
    let run = engine
        .wait_run(&run_id, "the job's waiting reason", |run| {
            job(run, "build")["waiting_reason"].is_string()
        })
        .await;
    let reason = job(&run, "build")["waiting_reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        reason.starts_with("no runner has labels [macos-latest]; runners have ["),
        "{reason}"
    );
    assert!(reason.contains("ubuntu-latest"), "{reason}");
    assert_eq!(job(&run, "build")["status"], "queued", "{run:#}");

    // The CLI shows the same reason.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = engine
            .cli()
            .args(["run-status", &run_id])
            .output()
            .expect("run slipway run-status");
        let text = String::from_utf8_lossy(&status.stdout).to_string();
        if text.contains("no runner has labels [macos-latest]") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "run-status never said why: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_variables_set_with_the_cli_reach_engine_runs_with_repository_precedence() {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "settings.yml",
            r#"on: workflow_dispatch
jobs:
  read:
    runs-on: ubuntu-latest
    steps:
      - run: |
          test "${{ secrets.TOKEN_A }}" = "repo-level"
          test "${{ secrets.only_global }}" = "g2"
          test "${{ vars.GREETING }}" = "hello"
          test "${{ vars.COLOR }}" = "blue"
          echo "token is ${{ secrets.TOKEN_A }}"
"#,
        )],
    );
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    let cli = |args: &[&str]| {
        let output = engine.cli().args(args).output().expect("run slipway");
        assert!(output.status.success(), "slipway {args:?}: {output:?}");
    };
    let repo_text = repo.display().to_string();
    cli(&["repo", "add", &repo_text, "--name", "app"]);
    cli(&["secret", "set", "TOKEN_A", "--value", "global"]);
    cli(&[
        "secret",
        "set",
        "TOKEN_A",
        "--repo",
        "app",
        "--value",
        "repo-level",
    ]);
    cli(&["secret", "set", "ONLY_GLOBAL", "--value", "g2"]);
    cli(&["var", "set", "GREETING", "hello"]);
    cli(&["var", "set", "COLOR", "red"]);
    cli(&["var", "set", "COLOR", "blue", "--repo", "app"]);

    let run_id = engine.dispatch(&repo, "settings.yml").await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    let logs = engine
        .cli()
        .args(["logs", &run_id])
        .output()
        .expect("run slipway logs");
    let text = String::from_utf8_lossy(&logs.stdout);
    assert!(text.contains("token is ***"), "{text}");
    assert!(!text.contains("repo-level"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_dir_is_private_and_loose_modes_are_fixed_at_start() {
    use std::os::unix::fs::PermissionsExt;
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut engine = TestEngine::builder(&data).runners(1).start().await;
    let repo = repo_with(
        temp.path(),
        &[(
            "ci.yml",
            "on: workflow_dispatch\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n",
        )],
    );
    let run_id = engine.dispatch(&repo, "ci.yml").await;
    engine.wait_completed(&run_id).await;
    let loose = |root: &std::path::Path| {
        let mut found = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(path) = stack.pop() {
            if path.ends_with("work")
                && path.parent().and_then(|p| p.parent()) == Some(&root.join("runners"))
            {
                continue;
            }
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 && !meta.file_type().is_symlink() {
                found.push(path.clone());
            }
            if meta.is_dir() {
                stack.extend(
                    std::fs::read_dir(&path)
                        .expect("read dir")
                        .flatten()
                        .map(|e| e.path()),
                );
            }
        }
        found
    };
    assert_eq!(loose(&data), Vec::<std::path::PathBuf>::new());
    // A file made readable by others is fixed on the next start.
    let key = data.join("secrets.key");
    let target = if key.exists() {
        key
    } else {
        data.join("admin.token")
    };
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    engine.restart().await;
    assert_eq!(loose(&data), Vec::<std::path::PathBuf>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_warns_about_labels_no_runner_of_the_engine_carries() {
    let temp = tempfile::tempdir().expect("temp dir");
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    // The embedded runner registers itself shortly after the engine answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    while engine
        .get("/api/v1/runners")
        .await
        .as_array()
        .map_or(0, Vec::len)
        == 0
    {
        assert!(
            Instant::now() < deadline,
            "the embedded runner never registered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let file = temp.path().join("ci.yml");
    std::fs::write(
        &file,
        "on: push\njobs:\n  linux:\n    runs-on: Ubuntu-Latest\n    steps:\n      - run: echo hi\n  mac:\n    runs-on: [self-hosted, macos-latest]\n    steps:\n      - run: echo hi\n",
    )
    .expect("write workflow");
    let output = engine
        .cli()
        .args(["check"])
        .arg(&file)
        .output()
        .expect("run slipway check");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "warnings do not fail check: {output:?}"
    );
    assert!(
        text.contains(":8:14: warning: `jobs.mac.runs-on`: no runner of the engine at")
            && text.contains("has labels [self-hosted, macos-latest]; runners have [")
            && text.contains("1 warning"),
        "{text}"
    );
    assert!(
        !text.contains("jobs.linux"),
        "labels compare case-insensitively: {text}"
    );
}
