//! Releases end to end through the binary: `slipway serve` (with one embedded runner) on a
//! loopback port, a real git repository watched with `slipway repo add`, a deployment record
//! written into the store before the engine starts, and the `slipway release …` commands. The
//! repository's `release` workflow appends `github.event.action` and the audience to a file, so
//! the test sees which runs each promotion and withdrawal started.
//!
//! Every wait is bounded; every process is killed when its handle drops.

use crate::support::engine::{Process, free_port};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use deploy::{Deployment, DeploymentId, DeploymentStatus, Environment, StrategyKind, Version};
use engine::store::{RecordKind, Store};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_slipway");

fn git(dir: &Path, args: &[&str]) -> String {
    crate::support::git_as("test", "test@localhost", dir, args)
}

/// Starts `slipway serve` and waits until it answers; tries again if the store was still
/// locked by the test's own writes.
async fn start_engine(data_dir: &Path, port: u16) -> Process {
    let client = reqwest::Client::new();
    for _ in 0..5 {
        let mut process = Process(
            Command::new(BIN)
                .envs(crate::support::user_env())
                .arg("serve")
                .arg("--data")
                .arg(data_dir)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(["--runners", "1"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start slipway serve"),
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = process.0.try_wait() {
                break;
            }
            let answer = client
                .get(format!("http://127.0.0.1:{port}/healthz"))
                .send()
                .await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return process;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("slipway serve did not come up");
}

struct Cli {
    url: String,
    token_file: PathBuf,
    cwd: PathBuf,
}

impl Cli {
    /// `--as NAME` runs the command with NAME's own token (`support::acting`).
    fn run(&self, args: &[&str]) -> Output {
        let admin = std::fs::read_to_string(&self.token_file).expect("admin.token exists");
        let (args, token) = crate::support::acting::acting(&self.url, admin.trim(), args);
        Command::new(BIN)
            .envs(crate::support::user_env())
            .args(args)
            .args(["--engine", &self.url, "--token", &token])
            .current_dir(&self.cwd)
            .env_remove("SLIPWAY_USER")
            .output()
            .expect("run slipway")
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "slipway {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).to_string()
    }
}

/// Waits (at most 90 s) until `path` has at least `count` lines.
async fn wait_lines(path: &Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} line(s) in {}, found {lines:?}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_promoted_to_ten_percent_then_withdrawn_runs_its_release_workflow_each_time() {
    let temp = tempfile::tempdir().expect("temp dir");
    let source = temp.path().join("acme").join("shop");
    let data = temp.path().join("data");
    let seen = temp.path().join("seen.txt");
    let workflow = format!(
        "on:\n  release:\n    types: [published, unpublished, released, edited]\njobs:\n  flags:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"${{{{ github.event_name }}}} ${{{{ github.event.action }}}} ${{{{ github.ref }}}} ${{{{ github.event.release.tag_name }}}} ${{{{ github.event.release.environment }}}} ${{{{ github.event.release.audience.kind }}}} ${{{{ github.event.release.audience.percent }}}} ${{{{ github.event.release.body }}}}\" >> '{}'\n",
        seen.display()
    );
    std::fs::create_dir_all(source.join(".github/workflows")).expect("create repo");
    std::fs::write(source.join(".github/workflows/flags.yml"), workflow).expect("workflow");
    git(&source, &["init", "-q", "-b", "main"]);
    git(&source, &["add", "-A"]);
    git(&source, &["commit", "-q", "-m", "first"]);
    git(&source, &["tag", "v1.0.0"]);
    let sha = git(&source, &["rev-parse", "v1.0.0^{commit}"]);

    // The repository as the engine names it (`github.repository` of its mirror), computed the
    // way the engine does, from a mirror of the same source.
    let probe = temp.path().join("probe.git");
    let mirror =
        engine::repos::triggers::Mirror::open_or_create(&probe, &source.display().to_string())
            .expect("probe mirror");
    mirror.fetch().expect("fetch probe");
    let repository = engine::runs::event::source_at_ref(&probe, "refs/tags/v1.0.0")
        .expect("tag resolves")
        .repository;

    // Environments and a successful deployment of v1.0.0 to production, written before the
    // engine starts (the deployment side is configured elsewhere).
    {
        let store = Store::open(&data).expect("open store");
        for name in ["staging", "production"] {
            store
                .put_record(RecordKind::Environments, name, &Environment::new(name))
                .await
                .expect("write environment");
        }
        let now: jiff::Timestamp = "2026-03-02T09:00:00Z".parse().expect("time");
        let mut deployment = Deployment::new(
            DeploymentId("d1".into()),
            "production",
            repository.clone(),
            Version {
                sha: sha.clone(),
                tag: Some("v1.0.0".into()),
                committed_at: None,
            },
            "refs/tags/v1.0.0",
            "erin",
            StrategyKind::BigBang,
            false,
            now,
        );
        deployment.status = DeploymentStatus::Success;
        deployment.finished_at = Some(now);
        store
            .put_record(RecordKind::Deployments, "d1", &deployment)
            .await
            .expect("write deployment");
    }

    let port = free_port();
    let _engine = start_engine(&data, port).await;
    let cli = Cli {
        url: format!("http://127.0.0.1:{port}"),
        token_file: data.join("admin.token"),
        cwd: temp.path().to_path_buf(),
    };
    cli.ok(&[
        "repo",
        "add",
        &source.display().to_string(),
        "--name",
        "shop",
    ]);
    let notes = temp.path().join("notes.md");
    std::fs::write(&notes, "faster-checkout").expect("notes");
    let created = cli.ok(&[
        "release",
        "create",
        "v1.0.0",
        "--notes",
        &notes.display().to_string(),
        "--name",
        "Spring",
        "--as",
        "alice",
    ]);
    assert!(created.contains("release v1.0.0 created"), "{created}");

    // Where the version is not deployed, the promotion is refused and says why.
    let refused = cli.run(&[
        "release",
        "promote",
        "v1.0.0",
        "--env",
        "staging",
        "--audience",
        "10%",
        "--as",
        "pat",
    ]);
    assert_eq!(refused.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr
            .contains("release `v1.0.0` is not deployed in `staging` (nothing is deployed there)"),
        "{stderr}"
    );
    let unknown = cli.run(&[
        "release",
        "promote",
        "v1.0.0",
        "--env",
        "production",
        "--audience",
        "0%",
        "--as",
        "pat",
    ]);
    assert_eq!(unknown.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("audience: audience `0%`"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );

    let promoted = cli.ok(&[
        "release",
        "promote",
        "v1.0.0",
        "--env",
        "production",
        "--audience",
        "10%",
        "--as",
        "pat",
    ]);
    assert!(promoted.contains("release event: published"), "{promoted}");
    assert!(promoted.contains("started run(s): "), "{promoted}");
    let lines = wait_lines(&seen, 1).await;
    assert_eq!(
        lines,
        vec!["release published refs/tags/v1.0.0 v1.0.0 production percent 10 faster-checkout"]
    );

    let status = cli.ok(&["env", "status"]);
    assert!(
        status.contains("production  deployed: v1.0.0")
            && status.contains("released: v1.0.0 to 10% ("),
        "{status}"
    );
    assert!(
        status.contains("staging  deployed: nothing  released: nothing"),
        "{status}"
    );

    let withdrawn = cli.ok(&[
        "release",
        "withdraw",
        "v1.0.0",
        "--env",
        "production",
        "--as",
        "pat",
        "--reason",
        "error rate",
    ]);
    assert!(
        withdrawn.contains("release event: unpublished"),
        "{withdrawn}"
    );
    let lines = wait_lines(&seen, 2).await;
    assert_eq!(
        lines.get(1).map(String::as_str),
        Some("release unpublished refs/tags/v1.0.0 v1.0.0 production percent 10 faster-checkout")
    );

    let list: Value =
        serde_json::from_str(&cli.ok(&["releases", "--json"])).expect("releases --json");
    let release = &list[0];
    assert_eq!(release["tag"], "v1.0.0");
    assert_eq!(release["name"], "Spring");
    assert_eq!(release["sha"], sha.as_str());
    assert_eq!(release["repository"], repository.as_str());
    assert_eq!(release["rollouts"], serde_json::json!({}));
    assert_eq!(release["history"].as_array().map(Vec::len), Some(2));
    let shown = cli.ok(&["release", "show", "v1.0.0"]);
    assert!(shown.contains("released    nowhere"), "{shown}");
    assert!(shown.contains("error rate"), "{shown}");

    let deleted = cli.ok(&["release", "delete", "v1.0.0", "--as", "pat"]);
    assert!(deleted.contains("v1.0.0 deleted"), "{deleted}");
    // `deleted` is not among the workflow's types: it starts nothing.
    assert!(deleted.contains("release event: deleted"), "{deleted}");
    assert!(!deleted.contains("started run(s)"), "{deleted}");
    let missing = cli.run(&["release", "show", "v1.0.0"]);
    assert_eq!(missing.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("release `v1.0.0` not found"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}
