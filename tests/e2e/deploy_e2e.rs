//! Deploying end to end through the binary: `slipway serve` with two runner processes on
//! 127.0.0.1, a real git repository, and the CLI (`env create`, `dispatch`, `approve`,
//! `deployments`, `audit`) as a user types it. Side-effect files written by the deploy steps
//! show what ran; the engine's API shows what it recorded. Waits are bounded, never timed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::SERIAL;
use crate::support::engine::{BIN, TestEngine};

/// The kit's engine with two runners, 3 s leases and a clock file the tests move.
struct Engine {
    kit: TestEngine,
    clock: PathBuf,
}

impl Engine {
    async fn start(dir: &Path) -> Engine {
        let clock = dir.join("clock");
        let kit = TestEngine::builder(&dir.join("data"))
            .runners(2)
            .lease_seconds(3)
            .arg("--clock-file")
            .arg(clock.to_string_lossy())
            // The run's actor (github.actor) is the engine's user.
            .env("USER", "dev")
            .start()
            .await;
        Engine { kit, clock }
    }

    /// SIGKILL, then the same engine again on the same data directory and port.
    async fn kill_and_restart(&mut self) {
        self.kit.restart().await;
    }

    /// Runs the CLI against this engine.
    /// `--as NAME` runs the command with NAME's own token (`support::acting`).
    fn cli(&self, args: &[&str]) -> Output {
        self.kit
            .cli_acting(args)
            .env_remove("SLIPWAY_USER")
            .output()
            .expect("run the slipway CLI")
    }

    /// Runs the CLI and insists it succeeds; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "slipway {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn dispatch(&self, repo: &Path, git_ref: &str) -> String {
        // Only a watched repository is dispatched; adding it again fails harmlessly.
        let _ = self.cli(&["repo", "add", repo.to_str().expect("utf-8 path")]);
        let out = self.ok(&[
            "dispatch",
            "deliver.yml",
            "--repo",
            repo.to_str().expect("utf-8 path"),
            "--ref",
            git_ref,
            "--json",
            // The run's actor (github.actor) is who dispatched it.
            "--as",
            "dev",
        ]);
        let answer: Value = serde_json::from_str(&out).expect("dispatch --json");
        answer["run_id"].as_str().expect("run_id").to_string()
    }

    async fn get(&self, path: &str) -> Value {
        self.kit.get(path).await
    }

    async fn job(&self, run_id: &str, key: &str) -> Value {
        let detail = self.get(&format!("/api/v1/runs/{run_id}")).await;
        detail["jobs"]
            .as_array()
            .and_then(|jobs| jobs.iter().find(|job| job["job_key"] == key))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// Waits (≤ 60 s) until `check` holds for the run's detail.
    async fn wait_for(&self, run_id: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let detail = self.get(&format!("/api/v1/runs/{run_id}")).await;
            if check(&detail) {
                return detail;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; run is {detail:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_job_state(&self, run_id: &str, key: &str, status: &str) -> Value {
        let detail = self
            .wait_for(run_id, &format!("job {key} to be {status}"), |detail| {
                detail["jobs"].as_array().is_some_and(|jobs| {
                    jobs.iter()
                        .any(|job| job["job_key"] == key && job["status"] == status)
                })
            })
            .await;
        detail["jobs"]
            .as_array()
            .and_then(|jobs| jobs.iter().find(|job| job["job_key"] == key))
            .cloned()
            .unwrap_or(Value::Null)
    }

    async fn wait_finished(&self, run_id: &str) -> Value {
        self.wait_for(run_id, "the run to finish", |detail| {
            detail["run"]["conclusion"].is_string()
        })
        .await
    }
}

/// One test's engine, its repository with the deliver workflow, and where the steps write.
/// Fields drop in order: the engine stops before its directory goes.
struct World {
    engine: Engine,
    repo: PathBuf,
    out: PathBuf,
    _dir: tempfile::TempDir,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl World {
    async fn deliver() -> World {
        let serial = SERIAL.lock().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).expect("out dir");
        let repo = repository(dir.path(), &out);
        let engine = Engine::start(dir.path()).await;
        World {
            engine,
            repo,
            out,
            _dir: dir,
            _serial: serial,
        }
    }
}

const DELIVER: &str = r#"name: deliver
on: workflow_dispatch
jobs:
  build:
    runs-on: self-hosted
    steps:
      - run: echo build
  test:
    needs: build
    runs-on: self-hosted
    steps:
      - run: echo test
  deploy-staging:
    needs: test
    runs-on: self-hosted
    environment: staging
    steps:
      - run: echo "${{ github.sha }} ${{ vars.REGION }}" > "$OUT/staging"
  deploy-production:
    needs: deploy-staging
    runs-on: self-hosted
    environment:
      name: production
      url: https://shop.example.com
    steps:
      - run: echo "${{ github.sha }} ${{ vars.REGION }} ${{ secrets.PROD_KEY }}" > "$OUT/production"
"#;

/// A repository with the deliver workflow; `OUT` (the side-effect directory) is baked in as a
/// workflow-level env so the runners write where the test looks.
fn repository(dir: &Path, out: &Path) -> PathBuf {
    let repo = workflow_repository(dir, DELIVER, "OUT", out);
    commit(&repo, "first");
    repo
}

/// `dir/repo`, a git repository (nothing committed yet) holding `workflow` as
/// `.github/workflows/deliver.yml`, with the workflow-level env `variable` set to `path`.
fn workflow_repository(dir: &Path, workflow: &str, variable: &str, path: &Path) -> PathBuf {
    let repo = dir.join("repo");
    std::fs::create_dir_all(repo.join(".github/workflows")).expect("repo dir");
    let text = workflow.replacen(
        "on: workflow_dispatch\n",
        &format!(
            "on: workflow_dispatch\nenv:\n  {variable}: {}\n",
            path.display()
        ),
        1,
    );
    std::fs::write(repo.join(".github/workflows/deliver.yml"), text).expect("workflow");
    git(&repo, &["init", "-q", "-b", "main"]);
    repo
}

fn git(repo: &Path, args: &[&str]) -> String {
    crate::support::git_as("dev", "dev@localhost", repo, args)
}

fn commit(repo: &Path, message: &str) -> String {
    std::fs::write(repo.join("VERSION"), message).expect("write VERSION");
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
    git(repo, &["rev-parse", "HEAD"])
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_waits_for_two_approvals_and_refuses_self_approval() {
    let world = World::deliver().await;
    let (out, repo, engine) = (world.out.clone(), world.repo.clone(), &world.engine);
    engine.ok(&[
        "env",
        "create",
        "production",
        "--approvals",
        "2",
        "--approvers",
        "dev,alice,bob,carol",
        "--branches",
        "main",
        "--var",
        "REGION=eu-west",
        "--secret",
        "PROD_KEY",
    ]);
    engine.ok(&[
        "secret",
        "set",
        "PROD_KEY",
        "--env",
        "production",
        "--value",
        "hunter2",
    ]);
    let run = engine.dispatch(&repo, "main");

    let waiting = engine
        .wait_job_state(&run, "deploy-production", "waiting")
        .await;
    let reason = waiting["waiting_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("approval"), "waiting reason: {reason}");
    // Staging (unprotected) deployed; production did not.
    engine
        .wait_job_state(&run, "deploy-staging", "completed")
        .await;
    let staging = std::fs::read_to_string(out.join("staging")).expect("staging deployed");
    assert!(
        !staging.contains("eu-west"),
        "staging sees no production vars: {staging}"
    );
    assert!(
        !out.join("production").exists(),
        "production ran without approvals"
    );

    // The run's actor may not approve it; a stranger may not either.
    let own = engine.cli(&["approve", &run, "--env", "production", "--as", "dev"]);
    assert!(!own.status.success(), "self-approval was accepted");
    assert!(stderr(&own).contains("may not approve"), "{}", stderr(&own));
    let stranger = engine.cli(&["approve", &run, "--env", "production", "--as", "mallory"]);
    assert!(!stranger.status.success());
    assert!(
        stderr(&stranger).contains("not an approver"),
        "{}",
        stderr(&stranger)
    );

    let first = engine.ok(&[
        "approve",
        &run,
        "--env",
        "production",
        "--as",
        "alice",
        "--comment",
        "lgtm",
    ]);
    assert!(first.contains("1 more"), "{first}");
    assert_eq!(
        engine.job(&run, "deploy-production").await["status"],
        "waiting"
    );
    assert!(!out.join("production").exists());
    engine.ok(&["approve", &run, "--env", "production", "--as", "bob"]);

    let detail = engine.wait_finished(&run).await;
    assert_eq!(detail["run"]["conclusion"], "success", "{detail:#}");
    let sha = git(&repo, &["rev-parse", "HEAD"]);
    let production = std::fs::read_to_string(out.join("production")).expect("production deployed");
    assert!(
        production.starts_with(&format!("{sha} eu-west hunter2")),
        "environment vars and secrets reach the job after approval: {production}"
    );

    let deployments: Value =
        serde_json::from_str(&engine.ok(&["deployments", "production", "--json"])).expect("json");
    let record = &deployments[0];
    assert_eq!(record["status"], "success");
    assert_eq!(record["version"]["sha"], sha.as_str());
    assert_eq!(record["triggered_by"], "dev");
    let approvers: Vec<&str> = record["approvals"]
        .as_array()
        .expect("approvals")
        .iter()
        .filter_map(|approval| approval["approver"].as_str())
        .collect();
    assert_eq!(approvers, ["alice", "bob"]);
    let audit = engine.ok(&["audit", "--env", "production"]);
    for expected in [
        "approved",
        "gate opened",
        "deployment started",
        "deployment finished",
    ] {
        assert!(
            audit.contains(expected),
            "audit lacks `{expected}`:\n{audit}"
        );
    }
    let status = engine.ok(&["env", "status"]);
    assert!(
        status.contains(&sha[..7]),
        "env status shows the live version:\n{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_fails_the_deployment_job_and_closes_the_gate() {
    let world = World::deliver().await;
    let (out, repo, engine) = (world.out.clone(), world.repo.clone(), &world.engine);
    engine.ok(&[
        "env",
        "create",
        "production",
        "--approvals",
        "1",
        "--approvers",
        "alice",
    ]);
    let run = engine.dispatch(&repo, "main");
    engine
        .wait_job_state(&run, "deploy-production", "waiting")
        .await;
    engine.ok(&[
        "reject",
        &run,
        "--env",
        "production",
        "--as",
        "alice",
        "--comment",
        "not today",
    ]);
    let detail = engine.wait_finished(&run).await;
    assert_eq!(detail["run"]["conclusion"], "failure");
    let job = engine.job(&run, "deploy-production").await;
    assert_eq!(job["conclusion"], "failure");
    let reason = job["failure_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("rejected by `alice`") && reason.contains("not today"),
        "{reason}"
    );
    assert!(!out.join("production").exists());
    // Deciding again on a closed gate is refused.
    let again = engine.cli(&["approve", &run, "--env", "production", "--as", "alice"]);
    assert!(!again.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_version_guard_refuses_an_older_commit_when_the_job_starts() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let repo = repository(dir.path(), &out);
    let old = git(&repo, &["rev-parse", "HEAD"]);
    let new = commit(&repo, "second");
    let engine = Engine::start(dir.path()).await;
    let first = engine.dispatch(&repo, "main");
    let detail = engine.wait_finished(&first).await;
    assert_eq!(detail["run"]["conclusion"], "success", "{detail:#}");

    let older = engine.dispatch(&repo, &old);
    let detail = engine.wait_finished(&older).await;
    assert_eq!(detail["run"]["conclusion"], "failure");
    let job = engine.job(&older, "deploy-staging").await;
    let reason = job["failure_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("refusing to deploy"), "{reason}");
    let staging = std::fs::read_to_string(out.join("staging")).expect("staging");
    assert!(
        staging.starts_with(&new),
        "the newer version stays live: {staging}"
    );
    let deployments: Value =
        serde_json::from_str(&engine.ok(&["deployments", "staging", "--json"])).expect("json");
    let statuses: Vec<&str> = deployments
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|deployment| deployment["status"].as_str())
        .collect();
    assert_eq!(statuses, ["success", "failure"]);
    let audit = engine.ok(&["audit", "--env", "staging"]);
    assert!(audit.contains("version refused"), "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_freeze_window_holds_the_lane_until_it_ends() {
    let world = World::deliver().await;
    let (out, repo, engine) = (world.out.clone(), world.repo.clone(), &world.engine);
    std::fs::write(&engine.clock, "2026-12-24T12:00:00Z").expect("clock");
    engine.ok(&[
        "env",
        "create",
        "staging",
        "--freeze",
        "2026-12-24T00:00Z/2026-12-27T00:00Z",
    ]);
    let run = engine.dispatch(&repo, "main");
    let waiting = engine
        .wait_job_state(&run, "deploy-staging", "waiting")
        .await;
    let reason = waiting["waiting_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("frozen until 2026-12-27"), "{reason}");
    let listed = engine.ok(&["env", "list"]);
    assert!(listed.contains("frozen until"), "{listed}");
    // Still held a while later (the lane re-checks every second).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        engine.job(&run, "deploy-staging").await["status"],
        "waiting"
    );
    assert!(!out.join("staging").exists());

    std::fs::write(&engine.clock, "2026-12-27T00:00:01Z").expect("clock");
    let detail = engine.wait_finished(&run).await;
    assert_eq!(detail["run"]["conclusion"], "success", "{detail:#}");
    assert!(out.join("staging").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_environment_settings_are_refused_naming_the_option() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::start(dir.path()).await;
    let typo = engine.cli(&["env", "create", "production", "--aprovals", "2"]);
    assert!(!typo.status.success());
    assert!(stderr(&typo).contains("--aprovals"), "{}", stderr(&typo));
    let freeze = engine.cli(&[
        "env",
        "create",
        "production",
        "--freeze",
        "Fry 16:00-Mon 08:00",
    ]);
    assert!(!freeze.status.success());
    assert!(stderr(&freeze).contains("Fry"), "{}", stderr(&freeze));
    let name = engine.cli(&["env", "create", "prod/uction"]);
    assert!(!name.status.success());
    // Nothing was stored by the refusals.
    let listed = engine.ok(&["env", "list", "--json"]);
    assert_eq!(listed.trim(), "[]");
    engine.ok(&[
        "env",
        "create",
        "production",
        "--approvals",
        "1",
        "--approvers",
        "alice",
    ]);
    let twice = engine.cli(&["env", "create", "production"]);
    assert!(!twice.status.success());
    assert!(
        stderr(&twice).contains("exists already"),
        "{}",
        stderr(&twice)
    );
    let shown = engine.ok(&["env", "show", "production"]);
    assert!(shown.contains("1 of alice"), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_redeploys_the_previous_version_as_a_rollback_record() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let repo = repository(dir.path(), &out);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    let engine = Engine::start(dir.path()).await;
    let nothing = engine.cli(&["rollback", "staging", "--as", "ops"]);
    assert!(
        !nothing.status.success(),
        "a rollback with nothing deployed"
    );
    let run = engine.dispatch(&repo, "main");
    assert_eq!(
        engine.wait_finished(&run).await["run"]["conclusion"],
        "success"
    );
    let second = commit(&repo, "second");
    let run = engine.dispatch(&repo, "main");
    assert_eq!(
        engine.wait_finished(&run).await["run"]["conclusion"],
        "success"
    );
    let staging = std::fs::read_to_string(out.join("staging")).expect("staging");
    assert!(staging.starts_with(&second));

    let answer: Value =
        serde_json::from_str(&engine.ok(&["rollback", "staging", "--as", "ops", "--json"]))
            .expect("rollback --json");
    assert_eq!(answer["is_rollback"], true);
    assert_eq!(answer["version"]["sha"], first.as_str());
    let rollback_run = answer["run_id"].as_str().expect("rollback run").to_string();
    let detail = engine.wait_finished(&rollback_run).await;
    assert_eq!(detail["run"]["conclusion"], "success", "{detail:#}");
    let staging = std::fs::read_to_string(out.join("staging")).expect("staging");
    assert!(
        staging.starts_with(&first),
        "the first version's steps ran again: {staging}"
    );
    let deployments: Value =
        serde_json::from_str(&engine.ok(&["deployments", "staging", "--json"])).expect("json");
    let rows: Vec<(String, bool, String)> = deployments
        .as_array()
        .expect("list")
        .iter()
        .map(|deployment| {
            (
                deployment["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                deployment["is_rollback"].as_bool().unwrap_or_default(),
                deployment["triggered_by"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("inactive".to_string(), false, "dev".to_string()),
            ("inactive".to_string(), false, "dev".to_string()),
            ("success".to_string(), true, "ops".to_string()),
        ]
    );
    let status = engine.ok(&["env", "status"]);
    assert!(
        status.contains(&first[..7]) && status.contains(", rollback)"),
        "{status}"
    );
}

/// Serves `root/<slot>/index` over HTTP on a loopback port: one slot of a blue-green pair.
async fn slot_server(root: PathBuf, slot: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a slot port");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let file = root.join(slot).join("index");
            tokio::spawn(async move {
                let mut request = [0u8; 1024];
                let _ = stream.read(&mut request).await;
                let response = match std::fs::read_to_string(&file) {
                    Ok(body) => format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Err(_) => {
                        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                            .to_string()
                    }
                };
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    port
}

const BLUE_GREEN: &str = r#"name: deliver
on: workflow_dispatch
jobs:
  deploy:
    runs-on: self-hosted
    environment: production
    deployment:
      strategy: blue-green
      slots: [blue, green]
      switch: echo "${{ deployment.slot }}" > "$STATE/live"
      acceptance: curl -fsS "http://127.0.0.1:$(cat "$STATE/port-$(cat "$STATE/live")")/" | grep -q '^healthy'
    steps:
      - uses: actions/checkout@v4
      - run: |
          mkdir -p "$STATE/${{ deployment.slot }}"
          printf '%s %s\n' "$(cat HEALTH)" "${{ github.sha }}" > "$STATE/${{ deployment.slot }}/index"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blue_green_switches_back_when_the_acceptance_check_fails() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let state = dir.path().join("state");
    std::fs::create_dir_all(&state).expect("state dir");
    for slot in ["blue", "green"] {
        let port = slot_server(state.clone(), slot).await;
        std::fs::write(state.join(format!("port-{slot}")), port.to_string()).expect("port file");
    }
    let repo = workflow_repository(dir.path(), BLUE_GREEN, "STATE", &state);
    std::fs::write(repo.join("HEALTH"), "healthy").expect("HEALTH");
    let good = commit(&repo, "good");
    let engine = Engine::start(dir.path()).await;

    let run = engine.dispatch(&repo, "main");
    let detail = engine.wait_finished(&run).await;
    assert_eq!(detail["run"]["conclusion"], "success", "{detail:#}");
    let live = std::fs::read_to_string(state.join("live")).expect("live slot");
    assert_eq!(
        live.trim(),
        "blue",
        "the first deployment goes to the first slot"
    );

    std::fs::write(repo.join("HEALTH"), "broken").expect("HEALTH");
    let bad = commit(&repo, "bad");
    let run = engine.dispatch(&repo, "main");
    let detail = engine.wait_finished(&run).await;
    assert_eq!(detail["run"]["conclusion"], "failure", "{detail:#}");
    let green = std::fs::read_to_string(state.join("green/index")).expect("green slot");
    assert!(green.starts_with(&format!("broken {bad}")), "{green}");
    let live = std::fs::read_to_string(state.join("live")).expect("live slot");
    assert_eq!(live.trim(), "blue", "traffic switched back to the old slot");
    let blue = std::fs::read_to_string(state.join("blue/index")).expect("blue slot");
    assert!(blue.starts_with(&format!("healthy {good}")), "{blue}");

    let deployments: Value =
        serde_json::from_str(&engine.ok(&["deployments", "production", "--json"])).expect("json");
    let rows: Vec<(String, String, bool, String)> = deployments
        .as_array()
        .expect("list")
        .iter()
        .map(|deployment| {
            (
                deployment["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                deployment["version"]["sha"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                deployment["is_rollback"].as_bool().unwrap_or_default(),
                deployment["slot"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "inactive".to_string(),
                good.clone(),
                false,
                "blue".to_string()
            ),
            (
                "rolled_back".to_string(),
                bad.clone(),
                false,
                "green".to_string()
            ),
            (
                "success".to_string(),
                good.clone(),
                true,
                "blue".to_string()
            ),
        ]
    );
    let failed = &deployments[1];
    let phases: Vec<&str> = failed["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .filter_map(|phase| phase["activity"].as_str())
        .collect();
    assert!(
        phases.contains(&"switch") && phases.contains(&"acceptance-test"),
        "{phases:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_deployment_survives_an_engine_kill() {
    let mut world = World::deliver().await;
    let (out, repo) = (world.out.clone(), world.repo.clone());
    let engine = &mut world.engine;
    engine.ok(&[
        "env",
        "create",
        "production",
        "--approvals",
        "1",
        "--approvers",
        "alice",
    ]);
    let run = engine.dispatch(&repo, "main");
    engine
        .wait_job_state(&run, "deploy-production", "waiting")
        .await;
    engine.kill_and_restart().await;
    // Nothing moved while it was down, and the gate still waits.
    assert_eq!(
        engine.job(&run, "deploy-production").await["status"],
        "waiting"
    );
    assert!(!out.join("production").exists());
    engine.ok(&["approve", &run, "--env", "production", "--as", "alice"]);
    let detail = engine.wait_finished(&run).await;
    assert_eq!(detail["run"]["conclusion"], "success", "{detail:#}");
    assert!(out.join("production").exists());
    let deployments: Value =
        serde_json::from_str(&engine.ok(&["deployments", "production", "--json"])).expect("json");
    assert_eq!(
        deployments.as_array().map(Vec::len),
        Some(1),
        "{deployments:#}"
    );
    assert_eq!(deployments[0]["status"], "success");
}

const CANARY: &str = r#"name: deliver
on: workflow_dispatch
jobs:
  deploy:
    runs-on: self-hosted
    environment: production
    deployment:
      strategy: canary
      phases:
        - weight: 10
          approval: true
        - weight: 100
    steps:
      - run: echo "${{ deployment.weight }}" >> "$OUT/weights"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_waits_at_its_approval_phase_until_someone_approves() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let repo = workflow_repository(dir.path(), CANARY, "OUT", &out);
    commit(&repo, "first");
    let engine = Engine::start(dir.path()).await;
    let run = engine.dispatch(&repo, "main");
    // The 10% phase runs, then the deployment waits for an approval.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let deployments: Value = engine.get("/api/v1/deployments").await;
        let phases = deployments[0]["phases"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let waiting = phases
            .iter()
            .any(|phase| phase["activity"] == "approval" && phase["finished_at"].is_null());
        if waiting {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no approval phase: {deployments:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let weights = std::fs::read_to_string(out.join("weights")).expect("weights");
    assert_eq!(weights.lines().collect::<Vec<_>>(), ["10"]);
    assert_eq!(engine.job(&run, "deploy").await["status"], "in_progress");
    // The run's own actor may not approve the next weight.
    let own = engine.cli(&["approve", &run, "--env", "production", "--as", "dev"]);
    assert!(!own.status.success(), "self-approval of a canary phase");
    let approved = engine.ok(&["approve", &run, "--env", "production", "--as", "ops"]);
    assert!(approved.contains("approved"), "{approved}");
    let detail = engine.wait_finished(&run).await;
    assert_eq!(detail["run"]["conclusion"], "success", "{detail:#}");
    let weights = std::fs::read_to_string(out.join("weights")).expect("weights");
    assert_eq!(weights.lines().collect::<Vec<_>>(), ["10", "100"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_approvers_approves_through_any_member() {
    let world = World::deliver().await;
    let (repo, engine) = (world.repo.clone(), &world.engine);
    engine.ok(&[
        "env",
        "create",
        "production",
        "--approvals",
        "1",
        "--approvers",
        "@ops",
    ]);
    engine.ok(&["group", "set", "ops", "carol,erin"]);
    let groups = engine.ok(&["group", "list"]);
    assert!(
        groups.contains("@ops") && groups.contains("carol, erin"),
        "{groups}"
    );
    let run = engine.dispatch(&repo, "main");
    engine
        .wait_job_state(&run, "deploy-production", "waiting")
        .await;
    let outsider = engine.cli(&["approve", &run, "--env", "production", "--as", "mallory"]);
    assert!(!outsider.status.success());
    assert!(
        stderr(&outsider).contains("not an approver"),
        "{}",
        stderr(&outsider)
    );
    engine.ok(&["approve", &run, "--env", "production", "--as", "erin"]);
    let detail = engine.wait_finished(&run).await;
    assert_eq!(detail["run"]["conclusion"], "success", "{detail:#}");
    let bad = engine.cli(&["group", "set", "ops", "@admins"]);
    assert!(!bad.status.success(), "a group inside a group");
}

const USER_ROLLBACK_JOB: &str = r#"name: deliver
on: workflow_dispatch
jobs:
  rollback:
    runs-on: self-hosted
    environment: staging
    steps:
      - run: echo "${{ github.sha }}" > "$OUT/rollback"
  after:
    needs: rollback
    runs-on: self-hosted
    steps:
      - run: |
          echo after > "$OUT/after"
          exit 3
"#;

/// A user's job may be called `rollback`: it is a plain (here deploying) job of its run, not
/// the engine's rollback job, so its end does not end the run: the run waits for `after`, and
/// its failure fails the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_job_named_rollback_runs_like_any_other() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    let repo = workflow_repository(dir.path(), USER_ROLLBACK_JOB, "OUT", &out);
    let sha = commit(&repo, "first");
    let engine = Engine::start(dir.path()).await;
    let run = engine.dispatch(&repo, "main");
    let detail = engine.wait_finished(&run).await;
    assert_eq!(detail["run"]["conclusion"], "failure", "{detail:#}");
    for (key, conclusion) in [("rollback", "success"), ("after", "failure")] {
        let job = engine.job(&run, key).await;
        assert_eq!(job["conclusion"], conclusion, "job {key}: {detail:#}");
    }
    assert!(
        out.join("after").exists(),
        "the job after `rollback` ran before the run finished"
    );
    let deployed = std::fs::read_to_string(out.join("rollback")).expect("rollback ran");
    assert!(deployed.starts_with(&sha));
    let deployments: Value =
        serde_json::from_str(&engine.ok(&["deployments", "staging", "--json"])).expect("json");
    let rows: Vec<(String, bool)> = deployments
        .as_array()
        .expect("list")
        .iter()
        .map(|deployment| {
            (
                deployment["status"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                deployment["is_rollback"].as_bool().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(rows, [("success".to_string(), false)]);
}

/// `slipway check` places a bad `deployment:` value at its own line and column.
#[test]
fn check_points_at_the_bad_deployment_value() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("cd.yml");
    let cases = [
        (
            "      strategy: canary\n      phases:\n        - weight: 10\n        - weight: 150\n        - weight: 100\n",
            "cd.yml:11:19",
            "`deployment.phases[1].weight`: must be a whole percentage from 1 to 100, not the number `150`",
        ),
        (
            "      strategy: rolling\n      targets: [a]\n      colour: red\n",
            "cd.yml:10:7",
            "`deployment.colour`: unknown key",
        ),
        (
            "      strategy: blue-grene\n",
            "cd.yml:8:17",
            "`deployment.strategy`: unknown strategy `blue-grene` (use big-bang, rolling, blue-green or canary)",
        ),
    ];
    for (block, place, message) in cases {
        let text = format!(
            "on: push\njobs:\n  ship:\n    runs-on: x\n    environment: production\n    steps: [run: x]\n    deployment:\n{block}"
        );
        std::fs::write(&file, text).expect("workflow");
        let output = Command::new(BIN)
            .envs(crate::support::user_env())
            .arg("check")
            .arg(&file)
            .current_dir(dir.path())
            .output()
            .expect("slipway check");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{stdout}{}", stderr(&output));
        let json = Command::new(BIN)
            .envs(crate::support::user_env())
            .args(["check", "--json"])
            .arg(&file)
            .output()
            .expect("slipway check --json");
        let report: Value = serde_json::from_slice(&json.stdout).expect("check --json");
        let found = &report["files"][0]["diagnostics"][0];
        let at = format!(
            "cd.yml:{}:{}",
            found["line"].as_u64().unwrap_or_default(),
            found["column"].as_u64().unwrap_or_default()
        );
        assert_eq!(at, place, "{found:#}");
        assert_eq!(
            found["message"],
            format!("in `jobs.ship`: {message}"),
            "{stdout}"
        );
    }
}
