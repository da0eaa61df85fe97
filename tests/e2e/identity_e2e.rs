//! One identity per repository: a repository watched as `app` is `app` for every run started
//! by name or by a path naming it, a deployment dispatched by path is the one `release promote`
//! sees, and an unwatched path is refused with the command that watches it. Real processes
//! through the binary.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::support;

use support::engine::TestEngine;

const CI: &str = "on: workflow_dispatch\njobs:\n  build:\n    runs-on: self-hosted\n    steps:\n      - run: echo built\n";
const DEPLOY: &str = "on: workflow_dispatch\njobs:\n  ship:\n    runs-on: self-hosted\n    environment: production\n    steps:\n      - run: echo shipped\n";

fn git(repo: &Path, args: &[&str]) {
    crate::support::git_as("dev", "dev@localhost", repo, args);
}

/// `--as NAME` runs the command with NAME's own token (`support::acting`).
fn run_cli(engine: &TestEngine, args: &[&str]) -> Output {
    let (args, token) = crate::support::acting::acting(&engine.url, &engine.admin_token(), args);
    engine
        .cli_with_token(&token)
        .args(args)
        .env_remove("SLIPWAY_USER")
        .output()
        .expect("run the slipway CLI")
}

fn ok(engine: &TestEngine, args: &[&str]) -> String {
    let output = run_cli(engine, args);
    assert!(
        output.status.success(),
        "slipway {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn dispatched(stdout: &str) -> String {
    let answer: Value = serde_json::from_str(stdout).expect("dispatch --json");
    answer["run_id"].as_str().expect("run_id").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_repository_has_one_name_for_runs_deployments_and_releases() {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = temp.path().join("work").join("shop");
    std::fs::create_dir_all(repo.join(".github/workflows")).expect("repo dir");
    std::fs::write(repo.join(".github/workflows/ci.yml"), CI).expect("ci.yml");
    std::fs::write(repo.join(".github/workflows/deploy.yml"), DEPLOY).expect("deploy.yml");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    git(&repo, &["tag", "v1.0.0"]);
    let path = repo.display().to_string();

    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;

    // Not watched yet: refused, with the command that watches it.
    let refused = run_cli(
        &engine,
        &["dispatch", "ci.yml", "--repo", &path, "--ref", "main"],
    );
    assert_eq!(refused.status.code(), Some(3), "{refused:?}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("is not watched") && stderr.contains(&format!("slipway repo add {path}")),
        "{stderr}"
    );

    ok(&engine, &["repo", "add", &path, "--name", "app"]);
    let list: Value =
        serde_json::from_str(&ok(&engine, &["repo", "list", "--json"])).expect("repo list --json");
    assert_eq!(list[0]["name"], "app", "{list:#}");
    let github_repository = list[0]["github_repository"]
        .as_str()
        .expect("github_repository")
        .to_string();
    assert_eq!(github_repository, "work/shop", "{list:#}");
    let table = ok(&engine, &["repo", "list"]);
    assert!(table.contains("work/shop"), "{table}");

    // By name and by path: the same repository, the same name, the same github.repository.
    let by_name = dispatched(&ok(
        &engine,
        &[
            "dispatch", "ci.yml", "--repo", "app", "--ref", "main", "--json",
        ],
    ));
    let by_path = dispatched(&ok(
        &engine,
        &[
            "dispatch", "ci.yml", "--repo", &path, "--ref", "main", "--json",
        ],
    ));
    for run_id in [&by_name, &by_path] {
        let run = engine.wait_completed(run_id).await;
        assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
        assert_eq!(run["run"]["details"]["repository"], "app", "{run:#}");
    }

    // A deployment dispatched by path belongs to `app`: the release of its commit promotes.
    ok(&engine, &["env", "create", "production"]);
    let deploy = dispatched(&ok(
        &engine,
        &[
            "dispatch",
            "deploy.yml",
            "--repo",
            &path,
            "--ref",
            "v1.0.0",
            "--json",
        ],
    ));
    let run = engine.wait_completed(&deploy).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(run["run"]["details"]["repository"], "app", "{run:#}");
    ok(
        &engine,
        &[
            "release", "create", "v1.0.0", "--repo", "app", "--as", "alice",
        ],
    );
    let promoted = ok(
        &engine,
        &[
            "release",
            "promote",
            "v1.0.0",
            "--env",
            "production",
            "--audience",
            "10%",
            "--as",
            "pat",
        ],
    );
    assert!(promoted.contains("release event: published"), "{promoted}");
}
