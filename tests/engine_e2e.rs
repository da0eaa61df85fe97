//! End to end through the binary: `slipway serve` and `slipway runner` as real processes on
//! 127.0.0.1, temp data dirs and temp git repositories. Every wait is bounded; every process is
//! killed when its handle drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;

use support::{job, lines, repo_with};

const BIN: &str = env!("CARGO_BIN_EXE_slipway");

/// A child process killed (SIGKILL) when dropped.
/// The tests of this file each start an engine and runner processes; on two cores they run one
/// at a time so that a lease period means the same thing in every test.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Process(Child);

impl Process {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An engine (`slipway serve`) on a fixed loopback port with its own data dir.
struct TestEngine {
    process: Process,
    data_dir: PathBuf,
    port: u16,
    url: String,
    client: reqwest::Client,
}

impl TestEngine {
    async fn start(data_dir: &Path, port: u16, runners: usize) -> TestEngine {
        let process = spawn_engine(data_dir, port, runners);
        let engine = TestEngine {
            process,
            data_dir: data_dir.to_path_buf(),
            port,
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
        };
        engine.wait_ready().await;
        engine
    }

    /// Kills the engine with SIGKILL and starts it again on the same data dir and port.
    async fn restart(&mut self, runners: usize) {
        self.process.kill();
        self.process = spawn_engine(&self.data_dir, self.port, runners);
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answer = self
                .client
                .get(format!("{}/api/v1/runs", self.url))
                .send()
                .await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "engine did not come up in 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.token"))
            .expect("admin.token exists")
            .trim()
            .to_string()
    }

    async fn post_admin(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(self.admin_token())
            .json(&body)
            .send()
            .await
            .expect("engine answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("engine answers")
            .json()
            .await
            .expect("json answer")
    }

    async fn dispatch(&self, repo: &Path, workflow: &str) -> String {
        // Only a watched repository is dispatched; watching it again is a no-op (409).
        let (status, answer) = self
            .post_admin(
                "/api/v1/repos",
                json!({"source": repo.display().to_string(), "name": watch_name(repo)}),
            )
            .await;
        assert!(
            status == 201 || status == 409,
            "repo add answered {status}: {answer}"
        );
        let (status, answer) = self
            .post_admin(
                "/api/v1/dispatch",
                json!({"protocol_version": protocol::PROTOCOL_VERSION, "repository": repo.display().to_string(),
                       "workflow": workflow, "ref": "main"}),
            )
            .await;
        assert_eq!(status, 200, "dispatch answered {answer}");
        answer["run_id"].as_str().expect("run_id").to_string()
    }

    /// Registers a runner with a fresh token and starts it as a process.
    async fn start_runner(&self, dir: &Path) -> (Process, String) {
        let (status, answer) = self
            .post_admin(
                "/api/v1/admin/registration-tokens",
                json!({"protocol_version": protocol::PROTOCOL_VERSION}),
            )
            .await;
        assert_eq!(status, 200, "token answered {answer}");
        let token = answer["token"].as_str().expect("token");
        let config = dir.join("runner.toml");
        let registered = Command::new(BIN)
            .args([
                "runner", "register", "--engine", &self.url, "--token", token,
            ])
            .arg("--config")
            .arg(&config)
            .output()
            .expect("run slipway runner register");
        assert!(registered.status.success(), "{registered:?}");
        let text = std::fs::read_to_string(&config).expect("runner config written");
        let runner_id = text
            .lines()
            .find_map(|line| line.strip_prefix("runner_id = "))
            .expect("runner_id in config")
            .trim_matches('"')
            .to_string();
        let child = Command::new(BIN)
            .args(["runner", "--engine", &self.url])
            .arg("--config")
            .arg(&config)
            .arg("--work-dir")
            .arg(dir.join("work"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("start slipway runner");
        (Process(child), runner_id)
    }

    /// Polls the run until `done` holds for it (bounded).
    async fn wait_run(&self, run_id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let run = self.get(&format!("/api/v1/runs/{run_id}")).await;
            if done(&run) {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {run:#}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn wait_completed(&self, run_id: &str) -> Value {
        self.wait_run(run_id, "the run to complete", |run| {
            run["run"]["status"] == "completed"
        })
        .await
    }
}

fn spawn_engine(data_dir: &Path, port: u16, runners: usize) -> Process {
    let child = Command::new(BIN)
        .arg("serve")
        .arg("--data")
        .arg(data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--runners", &runners.to_string(), "--lease-seconds", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start slipway serve");
    Process(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_with_a_matrix_and_outputs_completes_on_two_runner_processes() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "dag.yml",
            r#"
on: workflow_dispatch
jobs:
  build:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    outputs:
      value: ${{ steps.made.outputs.value }}
    steps:
      - id: made
        run: echo "value=built-${{ matrix.n }}" >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: ubuntu-latest
    outputs:
      seen: ${{ steps.read.outputs.seen }}
    steps:
      - id: read
        run: echo "seen=${{ needs.build.outputs.value }}" >> "$GITHUB_OUTPUT"
"#,
        )],
    );
    let engine = TestEngine::start(&temp.path().join("data"), free_port(), 2).await;
    let run_id = engine.dispatch(&repo, "dag.yml").await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    let legs: Vec<&Value> = run["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|job| {
            job["job_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("build"))
        })
        .collect();
    assert_eq!(legs.len(), 2, "{run:#}");
    assert!(legs.iter().all(|leg| leg["conclusion"] == "success"));
    let seen = job(&run, "test")["result"]["outputs"]["seen"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(seen == "built-1" || seen == "built-2", "{run:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_job_has_its_job_retried_on_the_other_runner() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let repo = repo_with(
        temp.path(),
        &[(
            "slow.yml",
            &format!(
                r#"
on: workflow_dispatch
jobs:
  slow:
    runs-on: ubuntu-latest
    steps:
      - run: echo started >> "{}" && sleep 3
"#,
                marks.display()
            ),
        )],
    );
    let engine = TestEngine::start(&temp.path().join("data"), free_port(), 0).await;
    let (first, first_id) = engine.start_runner(&temp.path().join("r1")).await;
    let (second, second_id) = engine.start_runner(&temp.path().join("r2")).await;
    let mut runners = [(first, first_id), (second, second_id)];
    let run_id = engine.dispatch(&repo, "slow.yml").await;
    let leased = engine
        .wait_run(&run_id, "the job to be leased", |run| {
            job(run, "slow")["status"] == "in_progress" && job(run, "slow")["runner_id"].is_string()
        })
        .await;
    let holder = job(&leased, "slow")["runner_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let index = runners
        .iter()
        .position(|(_, id)| *id == holder)
        .expect("the holder is one of ours");
    runners[index].0.kill();
    let run = engine.wait_completed(&run_id).await;
    let slow = job(&run, "slow");
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(slow["attempt"], 2, "{run:#}");
    assert_ne!(slow["runner_id"].as_str(), Some(holder.as_str()));
    assert_eq!(slow["retry_reasons"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_killed_mid_dag_resumes_and_runs_each_job_once() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let step = |name: &str| format!("echo {name} >> \"{}\" && sleep 1", marks.display());
    let repo = repo_with(
        temp.path(),
        &[(
            "chain.yml",
            &format!(
                r#"
on: workflow_dispatch
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
    steps:
      - run: {}
"#,
                step("first"),
                step("second"),
                step("third")
            ),
        )],
    );
    let mut engine = TestEngine::start(&temp.path().join("data"), free_port(), 0).await;
    let _first = engine.start_runner(&temp.path().join("r1")).await;
    let _second = engine.start_runner(&temp.path().join("r2")).await;
    let run_id = engine.dispatch(&repo, "chain.yml").await;
    engine
        .wait_run(&run_id, "the second job to start", |run| {
            job(run, "second")["status"] == "in_progress"
        })
        .await;
    engine.restart(0).await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    let mut ran = lines(&marks);
    ran.sort();
    assert_eq!(ran, ["first", "second", "third"], "{run:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_long_sleep() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "sleep.yml",
            r#"
on: workflow_dispatch
jobs:
  sleepy:
    runs-on: ubuntu-latest
    steps:
      - run: sleep 120
  after:
    needs: sleepy
    runs-on: ubuntu-latest
    steps:
      - run: echo never
"#,
        )],
    );
    let engine = TestEngine::start(&temp.path().join("data"), free_port(), 1).await;
    let run_id = engine.dispatch(&repo, "sleep.yml").await;
    engine
        .wait_run(&run_id, "the sleep to start", |run| {
            job(run, "sleepy")["steps"]
                .as_array()
                .is_some_and(|steps| !steps.is_empty())
        })
        .await;
    let (status, _) = engine
        .post_admin(
            &format!("/api/v1/runs/{run_id}/cancel"),
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 200);
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "cancelled", "{run:#}");
    assert_eq!(job(&run, "sleepy")["conclusion"], "cancelled", "{run:#}");
    assert_ne!(job(&run, "after")["conclusion"], "success", "{run:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_runner_token_is_refused_and_changes_nothing() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let engine = TestEngine::start(&temp.path().join("data"), free_port(), 0).await;
    let before = engine.get("/api/v1/runners").await;
    let next = engine
        .client
        .post(format!("{}/api/v1/runner/next", engine.url))
        .bearer_auth("not-a-runner.credential")
        .json(&json!({"protocol_version": protocol::PROTOCOL_VERSION, "wait_ms": 10}))
        .send()
        .await
        .expect("engine answers");
    assert_eq!(next.status().as_u16(), 401);
    let register = engine
        .client
        .post(format!("{}/api/v1/runners/register", engine.url))
        .json(
            &json!({"protocol_version": protocol::PROTOCOL_VERSION, "token": "made-up", "name": "x",
                      "labels": ["linux"], "capacity": 1}),
        )
        .send()
        .await
        .expect("engine answers");
    assert_eq!(register.status().as_u16(), 401);
    let dispatch = engine
        .client
        .post(format!("{}/api/v1/dispatch", engine.url))
        .bearer_auth("wrong-admin-token")
        .json(&json!({"protocol_version": protocol::PROTOCOL_VERSION, "repository": "/nowhere", "workflow": "x.yml"}))
        .send()
        .await
        .expect("engine answers");
    assert_eq!(dispatch.status().as_u16(), 401);
    assert_eq!(engine.get("/api/v1/runners").await, before);
    assert_eq!(engine.get("/api/v1/runs").await, json!([]));
}

/// The name a test watches the repository at `path` under: its path made a valid repository
/// name, so two repositories with the same folder name do not collide.
fn watch_name(path: &Path) -> String {
    let name: String = path
        .display()
        .to_string()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let start = name.len().saturating_sub(90);
    format!("t{}", &name[start..])
}
