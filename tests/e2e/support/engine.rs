//! The test kit's engine: `slipway serve` as a real process on a free loopback port with its own
//! data dir, runner processes started beside it (`slipway runner`, each with its own labels and
//! work dir), and the API calls the tests make. Every wait is bounded; every process is killed
//! (SIGKILL) when its handle drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The binary under test.
pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_slipway");

/// A child process killed (SIGKILL) when dropped.
pub(crate) struct Process(pub Child);

impl Process {
    /// Kills the process and reaps it.
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free TCP port on 127.0.0.1.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// How to start an engine: `TestEngine::builder(dir).runners(2).start().await`.
pub(crate) struct EngineBuilder {
    data_dir: PathBuf,
    runners: usize,
    lease_seconds: u32,
    extra_args: Vec<String>,
    envs: Vec<(String, String)>,
    binary: PathBuf,
    output_name: Option<String>,
}

impl EngineBuilder {
    /// Names this engine's stdout and stderr files (`<data dir>.<name>.stdout.N`), for engines
    /// that share one data dir (replicas on one PostgreSQL store).
    pub(crate) fn output_name(mut self, name: &str) -> EngineBuilder {
        self.output_name = Some(name.to_string());
        self
    }

    /// The `slipway` binary to start as the engine (this build's unless set), e.g. a release
    /// build for a benchmark run of a test.
    pub(crate) fn binary(mut self, binary: impl Into<PathBuf>) -> EngineBuilder {
        self.binary = binary.into();
        self
    }

    /// An environment variable for `slipway serve` (and the runners it starts, which inherit it).
    pub(crate) fn env(mut self, name: &str, value: &str) -> EngineBuilder {
        self.envs.push((name.to_string(), value.to_string()));
        self
    }

    /// Embedded runner processes (`serve --runners N`); 0 for runners started by the test.
    pub(crate) fn runners(mut self, runners: usize) -> EngineBuilder {
        self.runners = runners;
        self
    }

    /// The lease period (`--lease-seconds`), 2 s unless set.
    pub(crate) fn lease_seconds(mut self, seconds: u32) -> EngineBuilder {
        self.lease_seconds = seconds;
        self
    }

    /// More arguments for `slipway serve`.
    pub(crate) fn arg(mut self, arg: impl Into<String>) -> EngineBuilder {
        self.extra_args.push(arg.into());
        self
    }

    /// Starts the engine and waits until its API answers.
    pub(crate) async fn start(self) -> TestEngine {
        let port = free_port();
        let engine = TestEngine {
            process: None,
            starts: 0,
            data_dir: self.data_dir,
            port,
            url: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            runners: self.runners,
            lease_seconds: self.lease_seconds,
            extra_args: self.extra_args,
            envs: self.envs,
            binary: self.binary,
            output_name: self.output_name,
        };
        engine.spawned().await
    }
}

/// A running engine. Its stdout and stderr go to files beside the data dir, one pair per start
/// (`output()`, `errors()`). Dropping it stops it cleanly (SIGTERM, which stops its embedded
/// runners too), or with SIGKILL when it has not stopped within 10 s.
pub(crate) struct TestEngine {
    process: Option<Process>,
    starts: usize,
    pub data_dir: PathBuf,
    pub port: u16,
    pub url: String,
    pub client: reqwest::Client,
    runners: usize,
    lease_seconds: u32,
    extra_args: Vec<String>,
    envs: Vec<(String, String)>,
    binary: PathBuf,
    output_name: Option<String>,
}

impl TestEngine {
    /// An engine on `data_dir` (created when missing), 2 embedded runners, 2 s leases.
    pub(crate) fn builder(data_dir: &Path) -> EngineBuilder {
        EngineBuilder {
            data_dir: data_dir.to_path_buf(),
            runners: 2,
            lease_seconds: 2,
            extra_args: Vec::new(),
            envs: Vec::new(),
            binary: PathBuf::from(BIN),
            output_name: None,
        }
    }

    async fn spawned(mut self) -> TestEngine {
        self.spawn();
        self.wait_ready().await;
        self
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let stdout = std::fs::File::create(self.stdout_path()).expect("create stdout file");
        let stderr = std::fs::File::create(self.stderr_path()).expect("create stderr file");
        let child = Command::new(&self.binary)
            .envs(crate::support::user_env())
            .arg("serve")
            .arg("--data")
            .arg(&self.data_dir)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .args(["--runners", &self.runners.to_string()])
            .args(["--lease-seconds", &self.lease_seconds.to_string()])
            .args(&self.extra_args)
            .envs(self.envs.iter().map(|(name, value)| (name, value)))
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .expect("start slipway serve");
        self.process = Some(Process(child));
    }

    /// Where the latest start writes its stdout.
    pub(crate) fn stdout_path(&self) -> PathBuf {
        self.output_path("stdout")
    }

    fn stderr_path(&self) -> PathBuf {
        self.output_path("stderr")
    }

    fn output_path(&self, stream: &str) -> PathBuf {
        let extension = match &self.output_name {
            Some(name) => format!("{name}.{stream}.{}", self.starts),
            None => format!("{stream}.{}", self.starts),
        };
        self.data_dir.with_extension(extension)
    }

    /// What the latest start printed on stdout.
    pub(crate) fn output(&self) -> String {
        std::fs::read_to_string(self.stdout_path()).unwrap_or_default()
    }

    /// What the latest start wrote to stderr, without the runners' retry warnings.
    pub(crate) fn errors(&self) -> String {
        std::fs::read_to_string(self.stderr_path())
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.contains("retrying"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits (bounded) until the latest start printed `text`; its whole output.
    pub(crate) async fn wait_output(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let output = self.output();
            if output.contains(text) {
                return output;
            }
            assert!(
                Instant::now() < deadline,
                "serve never printed {text:?}: {output}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The engine process's id while it runs.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(|process| process.0.id())
    }

    /// `kill -9` of the engine process only: its embedded runners are processes of their own
    /// and keep running.
    pub(crate) fn kill_engine(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Starts `serve` again on the same data dir and port; the instant it answered.
    pub(crate) async fn respawn(&mut self) -> Instant {
        self.spawn();
        self.wait_ready().await;
        Instant::now()
    }

    /// SIGTERM and wait (bounded): the clean stop, which stops the embedded runners too.
    pub(crate) fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &process.0.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if matches!(process.0.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            process.kill();
        }
    }

    /// Kills the engine with SIGKILL and starts it again on the same data dir and port.
    pub(crate) async fn restart(&mut self) {
        self.kill_engine();
        self.respawn().await;
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            // Reads need a token too (the viewer role); the engine writes `admin.token` before
            // it serves.
            let token = std::fs::read_to_string(self.data_dir.join("admin.token"))
                .unwrap_or_default()
                .trim()
                .to_string();
            let answer = self
                .client
                .get(format!("{}/api/v1/runs", self.url))
                .bearer_auth(token)
                .send()
                .await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return;
            }
            assert!(Instant::now() < deadline, "engine did not come up in 60 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The admin token the engine wrote into its data dir.
    pub(crate) fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.token"))
            .expect("admin.token exists")
            .trim()
            .to_string()
    }

    /// A `slipway` command pointed at this engine with its admin token.
    pub(crate) fn cli(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .envs(crate::support::user_env())
            .env("SLIPWAY_ENGINE", &self.url)
            .env("SLIPWAY_TOKEN", self.admin_token());
        command
    }

    /// `slipway ARGS` where a test written before users says `--as NAME`: the command runs with
    /// NAME's own token (`support::acting`), else with the admin token.
    pub(crate) fn cli_acting(&self, args: &[&str]) -> Command {
        let (args, token) = super::acting::acting(&self.url, &self.admin_token(), args);
        let mut command = self.cli();
        command.env("SLIPWAY_TOKEN", token).args(args);
        command
    }

    /// Adds user `name` with `role` (unless it exists) and makes a token for it with the CLI,
    /// as an admin types it: the token's secret.
    pub(crate) fn user_token(&self, name: &str, role: &str) -> String {
        let _ = self
            .cli()
            .args(["user", "add", name, "--role", role])
            .output()
            .expect("run slipway user add");
        let output = self
            .cli()
            .args(["token", "create", "--user", name, "--name", "test"])
            .output()
            .expect("run slipway token create");
        assert!(output.status.success(), "token create: {output:?}");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    /// A `slipway` command pointed at this engine with `token` (another user's).
    pub(crate) fn cli_with_token(&self, token: &str) -> Command {
        let mut command = Command::new(BIN);
        command
            .env("SLIPWAY_ENGINE", &self.url)
            .env("SLIPWAY_TOKEN", token);
        command
    }

    /// `POST path` with the admin token: the status and the JSON answer (`null` when none).
    pub(crate) async fn post_admin(&self, path: &str, body: Value) -> (u16, Value) {
        self.post(path, Some(&self.admin_token()), body).await
    }

    /// `POST path` with `token` (none: anonymous): the status and the JSON answer.
    pub(crate) async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut request = self.client.post(format!("{}{path}", self.url)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("engine answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET path` with the admin token: the JSON answer.
    pub(crate) async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.url))
            .bearer_auth(self.admin_token())
            .send()
            .await
            .expect("engine answers")
            .json()
            .await
            .expect("json answer")
    }

    /// `GET path` with the admin token: the status and the raw body.
    pub(crate) async fn get_raw(&self, path: &str) -> (u16, Vec<u8>) {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(self.admin_token())
            .send()
            .await
            .expect("engine answers");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("a body").to_vec())
    }

    /// Watches the repository at `repo` under its folder's name (or, when another repository
    /// has that name, a name made of its path), unless it is watched already: only a watched
    /// repository is dispatched.
    pub(crate) async fn watch(&self, repo: &Path) {
        let source = std::path::absolute(repo)
            .expect("an absolute path")
            .display()
            .to_string();
        let watched: Value = self
            .client
            .get(format!("{}/api/v1/repos", self.url))
            .bearer_auth(self.admin_token())
            .send()
            .await
            .expect("engine answers")
            .json()
            .await
            .expect("a JSON repository list");
        let known = watched
            .as_array()
            .into_iter()
            .flatten()
            .any(|record| record["source"].as_str() == Some(source.as_str()));
        if known {
            return;
        }
        let (status, answer) = self
            .post_admin("/api/v1/repos", json!({"source": source}))
            .await;
        if status == 409 {
            let (status, answer) = self
                .post_admin(
                    "/api/v1/repos",
                    json!({"source": source, "name": watch_name(repo)}),
                )
                .await;
            assert_eq!(status, 201, "repo add answered {answer}");
        } else {
            assert_eq!(status, 201, "repo add answered {answer}");
        }
    }

    /// Starts `workflow` of the repository at `repo` on `main`; the run id.
    pub(crate) async fn dispatch(&self, repo: &Path, workflow: &str) -> String {
        self.dispatch_with_inputs(repo, workflow, json!({})).await
    }

    /// Starts `workflow` of the repository at `repo` on `main` with `workflow_dispatch` inputs.
    pub(crate) async fn dispatch_with_inputs(
        &self,
        repo: &Path,
        workflow: &str,
        inputs: Value,
    ) -> String {
        self.watch(repo).await;
        let (status, answer) = self
            .post_admin(
                "/api/v1/dispatch",
                json!({"protocol_version": protocol::PROTOCOL_VERSION, "repository": repo.display().to_string(),
                       "workflow": workflow, "ref": "main", "inputs": inputs}),
            )
            .await;
        assert_eq!(status, 200, "dispatch answered {answer}");
        answer["run_id"].as_str().expect("run_id").to_string()
    }

    /// Registers a runner with a fresh token and starts it as a process with `labels` (the
    /// defaults when `None`) and its own work dir under `dir`; the process and the runner's id.
    pub(crate) async fn start_runner(&self, dir: &Path, labels: Option<&str>) -> (Process, String) {
        self.start_runner_with_env(dir, labels, &[]).await
    }

    /// `start_runner` with extra environment variables for the runner process (e.g.
    /// `SLIPWAY_TOOLKIT_ENV_IN_RUN_STEPS`).
    pub(crate) async fn start_runner_with_env(
        &self,
        dir: &Path,
        labels: Option<&str>,
        envs: &[(&str, &str)],
    ) -> (Process, String) {
        std::fs::create_dir_all(dir).expect("runner dir");
        let (status, answer) = self
            .post_admin(
                "/api/v1/admin/registration-tokens",
                json!({"protocol_version": protocol::PROTOCOL_VERSION}),
            )
            .await;
        assert_eq!(status, 200, "token answered {answer}");
        let token = answer["token"].as_str().expect("token");
        let config = dir.join("runner.toml");
        let label_args: Vec<&str> = match labels {
            Some(labels) => vec!["--labels", labels],
            None => Vec::new(),
        };
        let registered = Command::new(BIN)
            .envs(crate::support::user_env())
            .args([
                "runner", "register", "--engine", &self.url, "--token", token,
            ])
            .args(&label_args)
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
            .envs(crate::support::user_env())
            .envs(envs.iter().copied())
            .args(["runner", "--engine", &self.url])
            .args(&label_args)
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
    pub(crate) async fn wait_run(
        &self,
        run_id: &str,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        self.wait_run_within(run_id, what, Duration::from_secs(90), done)
            .await
    }

    /// The stored log of job `job_key` of the run.
    pub(crate) async fn log(&self, run_id: &str, job_key: &str) -> String {
        let mut url = reqwest::Url::parse(&self.url).expect("engine url");
        url.path_segments_mut()
            .expect("a base url")
            .extend(["api", "v1", "runs", run_id, "jobs", job_key, "logs"]);
        self.client
            .get(url)
            .bearer_auth(self.admin_token())
            .send()
            .await
            .expect("engine answers")
            .text()
            .await
            .expect("log text")
    }

    /// Polls the run until `done` holds for it, within `within`.
    pub(crate) async fn wait_run_within(
        &self,
        run_id: &str,
        what: &str,
        within: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let run = self.get(&format!("/api/v1/runs/{run_id}")).await;
            if done(&run) {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {run:#}\n{}\n{}",
                self.output(),
                self.errors()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (bounded) until the file at `path` has at least `count` lines; a timeout shows the
    /// run and the engine's output.
    pub(crate) async fn wait_lines(&self, run_id: &str, path: &Path, count: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while crate::support::lines(path).len() < count {
            if Instant::now() >= deadline {
                let run = self.get(&format!("/api/v1/runs/{run_id}")).await;
                panic!(
                    "timed out waiting for {what}: {:?}\n{run:#}\n{}\n{}",
                    crate::support::lines(path),
                    self.output(),
                    self.errors()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Polls the run until the job `key` is in progress.
    pub(crate) async fn wait_job_running(&self, run_id: &str, key: &str) -> Value {
        self.wait_run(run_id, &format!("job `{key}` to run"), |run| {
            crate::support::job(run, key)["status"] == "in_progress"
        })
        .await
    }

    /// Polls the run until it completed.
    pub(crate) async fn wait_completed(&self, run_id: &str) -> Value {
        self.wait_run(run_id, "the run to complete", |run| {
            run["run"]["status"] == "completed"
        })
        .await
    }
}

/// The name a test watches the repository at `path` under: its path made a valid repository
/// name, so two repositories with the same folder name do not collide.
pub(crate) fn watch_name(path: &Path) -> String {
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

impl Drop for TestEngine {
    fn drop(&mut self) {
        self.stop();
    }
}
