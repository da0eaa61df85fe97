//! The `slipway` binary's engine commands against a real engine: an in-process `Engine` with
//! the HTTP API on 127.0.0.1:0 over a temp data directory, jobs enqueued directly, and an
//! in-process runner agent running them. Covers `runs`, `run-status`, `logs` (and `-f` live),
//! `cancel`, `runners`, `secret`, `var`, admin refusal and an unreachable engine.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use engine::api::{self, Server};
use engine::runs::dispatch::{Engine, EngineConfig, EngineEvent};
use engine::runs::orchestrator::Orchestrator;
use engine::store::{JobState, RunId};
use protocol::{JobSpec, Step};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::UnboundedReceiver;

/// Long enough that nothing flakes; every wait below ends as soon as its event comes.
const PATIENCE: Duration = Duration::from_secs(30);
const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
const SECRET_VALUE: &str = "s3cr3t-Value-8f1c2e";

struct Harness {
    dir: tempfile::TempDir,
    engine: Arc<Engine>,
    events: UnboundedReceiver<EngineEvent>,
    server: Server,
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let config = EngineConfig {
            lease_duration: Duration::from_secs(3),
            ..EngineConfig::new(dir.path().join("data"))
        };
        let (engine, events) = Engine::open(config).await.unwrap();
        std::fs::write(
            dir.path().join("data").join(api::ADMIN_TOKEN_FILE),
            format!("{ADMIN_TOKEN}\n"),
        )
        .unwrap();
        // Runs here are driven by hand (the events read below): no orchestrator task takes the
        // engine's events.
        let state = api::AppState::with_orchestrator(Orchestrator::detached(engine.clone()));
        let server = api::serve(state, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        Harness {
            dir,
            engine,
            events,
            server,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `slipway <args>` against this engine (via `SLIPWAY_ENGINE`), with the admin token.
    async fn cli(&self, args: &[&str]) -> Output {
        self.cli_with(args, Some(ADMIN_TOKEN), None).await
    }

    async fn cli_with(&self, args: &[&str], token: Option<&str>, stdin: Option<&str>) -> Output {
        let mut command = slipway(self.dir.path());
        command.args(args).env("SLIPWAY_ENGINE", self.server.url());
        if let Some(token) = token {
            command.env("SLIPWAY_TOKEN", token);
        }
        command.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = command.spawn().unwrap();
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().unwrap();
            pipe.write_all(text.as_bytes()).await.unwrap();
            drop(pipe);
        }
        tokio::time::timeout(PATIENCE, child.wait_with_output())
            .await
            .unwrap()
            .unwrap()
    }

    async fn json(&self, args: &[&str]) -> Value {
        let output = self.cli(args).await;
        assert_success(&output, args);
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// `run-status RUN --json` of a run this harness never completes (no orchestrator): the
    /// exit code says it has not finished (6).
    async fn status_json(&self, run: &str) -> Value {
        let args = ["run-status", run, "--json"];
        let output = self.cli(&args).await;
        assert_eq!(output.status.code(), Some(6), "{}", stderr(&output));
        serde_json::from_slice(&output.stdout).unwrap()
    }

    async fn run_with(&self, specs: Vec<JobSpec>) -> RunId {
        let run = self
            .engine
            .create_run(
                "ci.yml",
                json!({"event": "push", "ref": "refs/heads/main", "repository": "org/app"}),
            )
            .await
            .unwrap();
        for mut spec in specs {
            spec.run_id = run.run_id.to_string();
            self.engine.enqueue_job(run.run_id, spec).await.unwrap();
        }
        run.run_id
    }

    /// Registers an in-process runner agent named `agent` and starts it for one job.
    async fn agent(&self) -> tokio::task::JoinHandle<runner::agent::AgentSummary> {
        let token = self
            .engine
            .store()
            .create_registration_token()
            .await
            .unwrap();
        let config_path = self.dir.path().join("runner.toml");
        let labels = vec!["linux".to_string()];
        let config = runner::agent::register(
            &self.server.url(),
            &token,
            "agent",
            &labels,
            1,
            &config_path,
        )
        .await
        .unwrap();
        let mut executor = runner::executor::ExecutorOptions::new(self.dir.path().join("work"));
        executor.kill_grace = Duration::from_millis(500);
        let mut options = runner::agent::AgentOptions::new(config, executor);
        options.once = true;
        options.long_poll = Duration::from_secs(5);
        tokio::spawn(async move { runner::agent::run_agent(options).await.unwrap() })
    }

    async fn job_started(&mut self) {
        loop {
            let event = tokio::time::timeout(PATIENCE, self.events.recv())
                .await
                .unwrap()
                .unwrap();
            if matches!(event, EngineEvent::JobStarted { .. }) {
                return;
            }
        }
    }
}

fn slipway(cwd: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .envs(crate::support::user_env())
        .current_dir(cwd)
        .env_remove("SLIPWAY_ENGINE")
        .env_remove("SLIPWAY_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

fn spec(job_key: &str, scripts: &[&str]) -> JobSpec {
    JobSpec {
        job_key: job_key.to_string(),
        job_id: job_key.to_string(),
        display_name: job_key.to_string(),
        runs_on: vec!["linux".to_string()],
        steps: scripts.iter().map(|script| run_step(script)).collect(),
        timeout_minutes: 5.0,
        ..JobSpec::default()
    }
}

fn run_step(script: &str) -> Step {
    Step {
        run: Some(script.to_string()),
        ..Step::default()
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_success(output: &Output, args: &[&str]) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "slipway {args:?}\nstdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_run_status_logs_and_runners_read_a_finished_run() {
    let h = Harness::start().await;
    let run_id = h
        .run_with(vec![spec(
            "build",
            &["echo first line", "echo second line; echo third line"],
        )])
        .await;
    let agent = h.agent().await;
    let summary = tokio::time::timeout(PATIENCE, agent)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.jobs_finished, 1);
    let run_id = run_id.to_string();

    let runs = h.json(&["runs", "--json"]).await;
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["run_id"], run_id.as_str());
    assert_eq!(runs[0]["run_number"], 1);
    assert_eq!(runs[0]["workflow"], "ci.yml");
    let limited = h.json(&["runs", "--json", "--limit", "0"]).await;
    assert_eq!(limited, json!([]));

    let table = h.cli(&["runs"]).await;
    assert_success(&table, &["runs"]);
    let table = stdout(&table);
    let header = table.lines().next().unwrap();
    for column in [
        "RUN ID", "NUMBER", "WORKFLOW", "EVENT", "REF", "STATUS", "STARTED", "DURATION",
    ] {
        assert!(header.contains(column), "{table}");
    }
    assert!(table.contains(&run_id), "{table}");
    assert!(
        table.contains("refs/heads/main") && table.contains("push"),
        "{table}"
    );

    let status = h.status_json(&run_id).await;
    let job = &status["jobs"][0];
    assert_eq!(job["job_key"], "build");
    assert_eq!(job["conclusion"], "success", "{status}");
    assert_eq!(job["attempt"], 1);
    assert_eq!(job["runner_name"], "agent");
    let queued = job["queued_at"].as_u64().unwrap();
    let started = job["started_at"].as_u64().unwrap();
    let finished = job["finished_at"].as_u64().unwrap();
    assert!(queued <= started && started <= finished, "{status}");
    assert_eq!(job["queued_at_us"], job["queued_at"]);
    // The run number names the same run.
    let by_number = h.status_json("1").await;
    assert_eq!(by_number["run"]["run_id"], run_id.as_str());
    let human = h.cli(&["run-status", &run_id]).await;
    assert_eq!(human.status.code(), Some(6), "{}", stderr(&human));
    let human = stdout(&human);
    assert!(
        human.contains("build") && human.contains("success") && human.contains("agent"),
        "{human}"
    );

    for args in [
        vec!["logs", run_id.as_str()],
        vec!["logs", run_id.as_str(), "--job", "build"],
    ] {
        let output = h.cli(&args).await;
        assert_success(&output, &args);
        let log = stdout(&output);
        let first = log.find("first line").expect(&log);
        let second = log.find("second line").expect(&log);
        let third = log.find("third line").expect(&log);
        assert!(first < second && second < third, "{log}");
    }
    let missing = h.cli(&["logs", &run_id, "--job", "nope"]).await;
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("build"), "{}", stderr(&missing));
    let unknown = h
        .cli(&["run-status", "0190a1b2-0000-7000-8000-000000000000"])
        .await;
    // No such run: a usage error naming it (the engine's resolver found nothing).
    assert_eq!(unknown.status.code(), Some(2), "{}", stderr(&unknown));

    let runners = h.json(&["runners", "--json"]).await;
    assert_eq!(runners.as_array().unwrap().len(), 1, "{runners}");
    assert_eq!(runners[0]["name"], "agent");
    assert_eq!(runners[0]["labels"], json!(["linux"]));
    assert_eq!(runners[0]["capacity"], 1);
    assert!(
        runners[0]["last_seen_at_us"].as_u64().is_some(),
        "{runners}"
    );
    assert_eq!(runners[0]["current_jobs"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_prints_lines_live_and_in_order_until_the_job_ends() {
    let mut h = Harness::start().await;
    let gate = h.dir.path().join("gate");
    let script = format!(
        "echo line-one; while [ ! -f '{}' ]; do sleep 0.05; done; echo line-two; echo line-three",
        gate.display()
    );
    let run_id = h.run_with(vec![spec("build", &[&script])]).await;
    let agent = h.agent().await;
    h.job_started().await;
    let run_id = run_id.to_string();

    let mut follower = slipway(h.dir.path())
        .args(["logs", &run_id, "--job", "build", "-f"])
        .args(["--engine", &h.server.url()])
        // Reads need a token too (the viewer role).
        .env("SLIPWAY_TOKEN", ADMIN_TOKEN)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(follower.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    loop {
        let line = tokio::time::timeout(PATIENCE, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("the follower ended before line-one");
        let done = line.contains("line-one") && !line.contains("echo");
        seen.push(line);
        if done {
            break;
        }
    }
    // The job cannot have finished: it waits for the gate, so this line arrived live.
    let job = h
        .engine
        .store()
        .job_by_key(run_id.parse().unwrap(), "build")
        .unwrap()
        .unwrap();
    assert_eq!(job.state, JobState::Leased);
    let busy = h.json(&["runners", "--json"]).await;
    assert_eq!(
        busy[0]["current_jobs"],
        json!([{"run_id": run_id, "job_key": "build"}]),
        "{busy}"
    );

    std::fs::write(&gate, "open").unwrap();
    while let Some(line) = tokio::time::timeout(PATIENCE, lines.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        seen.push(line);
    }
    let status = tokio::time::timeout(PATIENCE, follower.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{seen:?}");
    let position = |wanted: &str| {
        seen.iter()
            .position(|line| line.trim() == wanted)
            .unwrap_or_else(|| panic!("no `{wanted}` in {seen:?}"))
    };
    assert!(position("line-one") < position("line-two"));
    assert!(position("line-two") < position("line-three"));
    tokio::time::timeout(PATIENCE, agent)
        .await
        .unwrap()
        .unwrap();
    // What was followed is exactly what the stored log holds.
    let whole = h.cli(&["logs", &run_id, "--job", "build"]).await;
    assert_eq!(stdout(&whole).lines().collect::<Vec<_>>(), seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_job() {
    let mut h = Harness::start().await;
    let run_id = h
        .run_with(vec![spec(
            "build",
            &["echo waiting; while true; do sleep 0.05; done"],
        )])
        .await;
    let agent = h.agent().await;
    h.job_started().await;
    let run_id = run_id.to_string();
    let output = h.cli(&["cancel", &run_id]).await;
    assert_success(&output, &["cancel"]);
    assert!(stdout(&output).contains(&run_id), "{}", stdout(&output));
    tokio::time::timeout(PATIENCE, agent)
        .await
        .unwrap()
        .unwrap();
    let status = h.status_json(&run_id).await;
    assert_eq!(status["run"]["cancel_requested"], true, "{status}");
    assert_eq!(status["jobs"][0]["conclusion"], "cancelled", "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_are_masked_in_logs_and_never_stored_or_shown_in_plaintext() {
    let h = Harness::start().await;
    // From stdin, with a trailing newline that is not part of the value.
    let set = h
        .cli_with(
            &["secret", "set", "api_key"],
            Some(ADMIN_TOKEN),
            Some(&format!("{SECRET_VALUE}\n")),
        )
        .await;
    assert_success(&set, &["secret", "set"]);
    assert!(!stdout(&set).contains(SECRET_VALUE));
    let scoped = h
        .cli(&[
            "secret",
            "set",
            "DB_PASSWORD",
            "--repo",
            "org/app",
            "--value",
            "db-pass-77",
        ])
        .await;
    assert_success(&scoped, &["secret", "set", "--repo"]);

    let listed = h.cli(&["secret", "list", "--json"]).await;
    assert_success(&listed, &["secret", "list"]);
    assert!(!stdout(&listed).contains(SECRET_VALUE));
    assert!(!stdout(&listed).contains("db-pass-77"));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    let names: Vec<(&str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|secret| {
            (
                secret["name"].as_str().unwrap(),
                secret["repository"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("API_KEY", ""), ("DB_PASSWORD", "org/app")]);
    let table = h.cli(&["secret", "list"]).await;
    assert!(stdout(&table).contains("API_KEY") && !stdout(&table).contains(SECRET_VALUE));
    let only_app = h
        .json(&["secret", "list", "--repo", "org/app", "--json"])
        .await;
    assert_eq!(only_app.as_array().unwrap().len(), 1, "{only_app}");

    // A run of org/app sees both; another repository only the every-repository one.
    let for_app = h.engine.secrets_for_run("org/app").unwrap();
    assert_eq!(
        for_app.get("API_KEY").map(String::as_str),
        Some(SECRET_VALUE)
    );
    assert_eq!(
        for_app.get("DB_PASSWORD").map(String::as_str),
        Some("db-pass-77")
    );
    let for_other = h.engine.secrets_for_run("org/other").unwrap();
    assert_eq!(for_other.keys().collect::<Vec<_>>(), ["API_KEY"]);

    // A wrong admin token is refused and changes nothing.
    let refused = h
        .cli_with(
            &["secret", "set", "API_KEY", "--value", "attacker-value"],
            Some("wrong-token"),
            None,
        )
        .await;
    assert_eq!(refused.status.code(), Some(3), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("invalid token"),
        "{}",
        stderr(&refused)
    );
    let removed = h
        .cli_with(&["secret", "rm", "API_KEY"], Some("wrong-token"), None)
        .await;
    assert_eq!(removed.status.code(), Some(3));
    assert_eq!(
        h.engine
            .secrets_for_run("")
            .unwrap()
            .get("API_KEY")
            .map(String::as_str),
        Some(SECRET_VALUE)
    );
    assert_eq!(h.json(&["secret", "list", "--json"]).await, listed);

    // A job that echoes it shows `***`.
    let mut job = spec("leak", &["echo \"key=${{ secrets.API_KEY }}\""]);
    job.secrets = h.engine.secrets_for_run("org/app").unwrap();
    let run_id = h.run_with(vec![job]).await;
    let agent = h.agent().await;
    tokio::time::timeout(PATIENCE, agent)
        .await
        .unwrap()
        .unwrap();
    let logs = h.cli(&["logs", &run_id.to_string()]).await;
    assert_success(&logs, &["logs"]);
    assert!(stdout(&logs).contains("key=***"), "{}", stdout(&logs));
    assert!(!stdout(&logs).contains(SECRET_VALUE));

    // Nothing under the data directory (sled, key file, logs) holds a value in plaintext.
    h.engine.store().flush().await.unwrap();
    for file in files_under(&h.data_dir()) {
        let bytes = std::fs::read(&file).unwrap();
        for value in [SECRET_VALUE, "db-pass-77"] {
            assert!(
                !contains_bytes(&bytes, value.as_bytes()),
                "{} holds `{value}`",
                file.display()
            );
        }
    }

    // Names follow GitHub's rules: refused before anything is sent.
    for bad in ["GITHUB_TOKEN", "1KEY", "MY-KEY"] {
        let output = h.cli(&["secret", "set", bad, "--value", "x"]).await;
        assert_eq!(output.status.code(), Some(2), "{bad}: {}", stderr(&output));
    }
    let rm = h
        .cli(&["secret", "rm", "db_password", "--repo", "org/app"])
        .await;
    assert_success(&rm, &["secret", "rm"]);
    let again = h
        .cli(&["secret", "rm", "DB_PASSWORD", "--repo", "org/app"])
        .await;
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    assert!(
        h.engine
            .secrets_for_run("org/app")
            .unwrap()
            .get("DB_PASSWORD")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_are_scoped_and_listed_with_their_values() {
    let h = Harness::start().await;
    for args in [
        vec!["var", "set", "region", "eu-west-1"],
        vec!["var", "set", "REGION", "us-east-2", "--repo", "org/app"],
        vec!["var", "set", "LEVEL", "debug", "--repo", "org/app"],
    ] {
        let output = h.cli(&args).await;
        assert_success(&output, &args);
    }
    let listed = h.json(&["var", "list", "--json"]).await;
    let rows: Vec<(&str, &str, &str)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|var| {
            (
                var["name"].as_str().unwrap(),
                var["repository"].as_str().unwrap(),
                var["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("REGION", "", "eu-west-1"),
            ("LEVEL", "org/app", "debug"),
            ("REGION", "org/app", "us-east-2"),
        ]
    );
    let vars = h.engine.vars_for_run("org/app").unwrap();
    assert_eq!(vars.get("REGION").map(String::as_str), Some("us-east-2"));
    assert_eq!(vars.get("LEVEL").map(String::as_str), Some("debug"));
    let vars = h.engine.vars_for_run("elsewhere").unwrap();
    assert_eq!(vars.get("REGION").map(String::as_str), Some("eu-west-1"));
    assert_eq!(vars.len(), 1);

    let refused = h
        .cli_with(&["var", "set", "REGION", "hijack"], Some("nope"), None)
        .await;
    assert_eq!(refused.status.code(), Some(3));
    let rm = h.cli(&["var", "rm", "REGION", "--repo", "org/app"]).await;
    assert_success(&rm, &["var", "rm"]);
    let vars = h.engine.vars_for_run("org/app").unwrap();
    assert_eq!(vars.get("REGION").map(String::as_str), Some("eu-west-1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_engine_exits_3_with_a_clear_message() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["runs", "--engine", url.as_str()],
        vec!["runners", "--json", "--engine", url.as_str()],
        vec!["secret", "list", "--engine", url.as_str()],
    ] {
        let output = slipway(dir.path()).args(&args).output().await.unwrap();
        assert_eq!(output.status.code(), Some(3), "{args:?}");
        let message = stderr(&output);
        assert!(message.contains("cannot reach the engine"), "{message}");
        assert!(message.contains(&url), "{message}");
    }
    let bad_url = slipway(dir.path())
        .args(["runs", "--engine", "127.0.0.1:1"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad_url.status.code(), Some(2), "{}", stderr(&bad_url));
}
