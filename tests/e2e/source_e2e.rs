//! Runners that get the code from the engine, end to end through the binary: `slipway serve`
//! with its runner forced (`SLIPWAY_CHECKOUT=engine`) to fetch the job's commit over
//! `POST /api/v1/jobs/{id}/source`, a push through an installed `reference-transaction` hook, a
//! `--notify-url` listener in this test; and the endpoint refusing whoever does not hold the
//! job's lease. Every wait is bounded; no timing assertions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use client::EngineClient;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_slipway");

/// How long a bounded wait lasts before the test is called failed.
const PATIENCE: Duration = Duration::from_secs(90);

use crate::support::SERIAL;
use crate::support::engine::{Process, free_port};

const DESCRIBE_WORKFLOW: &str = r#"on:
  push:
    branches: [main]
jobs:
  describe:
    runs-on: self-hosted
    steps:
      - uses: actions/checkout@v4
      - run: |
          {
            echo "describe=$(git describe --tags)"
            echo "head=$(git rev-parse HEAD)"
            echo "origin=$(git remote get-url origin)"
            echo "tags=$(git tag -l | tr '\n' ' ')"
            echo "dirty=$(git status --porcelain | wc -l | tr -d ' ')"
            echo "file=$(cat app.txt)"
          } > "$SLIPWAY_TEST_OUT"
"#;

struct Engine {
    _process: Process,
    data_dir: PathBuf,
    url: String,
}

impl Engine {
    /// `slipway serve` with `runners` embedded runners and `extra` arguments and environment.
    async fn start(data_dir: &Path, runners: usize, args: &[&str], env: &[(&str, &str)]) -> Engine {
        let port = free_port();
        let mut command = Command::new(BIN);
        command
            .envs(crate::support::user_env())
            .arg("serve")
            .arg("--data")
            .arg(data_dir)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--runners", &runners.to_string(), "--lease-seconds", "2"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        let engine = Engine {
            _process: Process(command.spawn().expect("start slipway serve")),
            data_dir: data_dir.to_path_buf(),
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + PATIENCE;
        let client = reqwest::Client::new();
        loop {
            let answer = client.get(format!("{}/healthz", engine.url)).send().await;
            if answer.is_ok_and(|response| response.status().is_success()) {
                return engine;
            }
            assert!(Instant::now() < deadline, "engine did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("admin.token"))
            .expect("admin.token exists")
            .trim()
            .to_string()
    }

    /// Runs `slipway ARGS` against this engine; panics unless it exits 0.
    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(BIN)
            .envs(crate::support::user_env())
            .args(args)
            .args(["--engine", &self.url, "--token", &self.admin_token()])
            .output()
            .expect("run slipway");
        assert!(
            output.status.success(),
            "slipway {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    async fn post_admin(&self, path: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(self.admin_token())
            .json(&body)
            .send()
            .await
            .expect("engine answers");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json answer")
    }

    /// A runner registered with a fresh registration token.
    async fn register_runner(&self, name: &str) -> EngineClient {
        let token = self
            .post_admin(
                "/api/v1/admin/registration-tokens",
                json!({"protocol_version": protocol::PROTOCOL_VERSION}),
            )
            .await["token"]
            .as_str()
            .expect("token")
            .to_string();
        let anonymous = EngineClient::new(&self.url, None, Duration::from_secs(1)).unwrap();
        let labels = vec!["self-hosted".to_string()];
        let answer = anonymous.register(&token, name, &labels, 1).await.unwrap();
        EngineClient::new(&self.url, Some(answer.credential), Duration::from_secs(1)).unwrap()
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(["-c", "user.name=Dev", "-c", "user.email=dev@example.org"])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn commit(work: &Path, file: &str, text: &str) -> String {
    let path = work.join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    git(work, &["add", "-A"]);
    git(work, &["commit", "-q", "-m", file]);
    git(work, &["rev-parse", "HEAD"])
}

/// A bare `origin.git` (main pushed with the workflow) and its clone `work`.
fn repositories(root: &Path) -> (PathBuf, PathBuf) {
    let origin = root.join("origin.git");
    git(root, &["init", "-q", "--bare", "-b", "main", "origin.git"]);
    let work = root.join("work");
    git(root, &["init", "-q", "-b", "main", "work"]);
    git(
        &work,
        &["remote", "add", "origin", origin.to_str().unwrap()],
    );
    commit(&work, ".github/workflows/describe.yml", DESCRIBE_WORKFLOW);
    commit(&work, "app.txt", "one\n");
    git(&work, &["push", "-q", "origin", "main"]);
    (origin, work)
}

/// Answers one HTTP request on `listener` with 204 and hands its body over.
fn one_request_body(listener: TcpListener) -> mpsc::Receiver<String> {
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        while let Ok((stream, _)) = listener.accept() {
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
            if sender
                .send(String::from_utf8_lossy(&body).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    received
}

async fn wait_for_file(path: &Path) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.contains("file=")
        {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The HTTP status a call ended with (200 for success).
fn status<T>(result: Result<T, client::ClientError>) -> u16 {
    match result {
        Ok(_) => 200,
        Err(client::ClientError::Status { status, .. }) => status,
        Err(error) => panic!("unexpected error: {error}"),
    }
}

fn field<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no `{name}=` line in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_through_the_reference_transaction_hook_runs_a_job_whose_source_came_from_the_engine()
 {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().unwrap();
    let (origin, work) = repositories(temp.path());
    let out = temp.path().join("out.txt");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let notify_url = format!("http://{}/done", listener.local_addr().unwrap());
    let notifications = one_request_body(listener);
    let engine = Engine::start(
        &temp.path().join("data"),
        1,
        &["--notify-url", &notify_url],
        &[
            ("SLIPWAY_CHECKOUT", "engine"),
            ("SLIPWAY_TEST_OUT", out.to_str().unwrap()),
        ],
    )
    .await;
    engine.cli(&["repo", "add", origin.to_str().unwrap(), "--name", "app"]);
    let installed = engine.cli(&[
        "repo",
        "hook",
        "install",
        origin.to_str().unwrap(),
        "--name",
        "app",
        "--kind",
        "reference-transaction",
    ]);
    assert!(installed.contains("reference-transaction"), "{installed}");
    assert!(!origin.join("hooks/post-receive").exists());

    // v1.2.0 on the pushed commit's parent; v9.9.9 on a side branch the commit cannot reach.
    git(&work, &["tag", "-a", "v1.2.0", "-m", "release 1.2.0"]);
    let head = commit(&work, "app.txt", "two\n");
    git(&work, &["checkout", "-q", "-b", "side", "HEAD~1"]);
    commit(&work, "side.txt", "side\n");
    git(&work, &["tag", "v9.9.9"]);
    git(&work, &["checkout", "-q", "main"]);
    // One atomic push is one ref transaction, so the hook announces every ref at once (a
    // non-atomic push commits, and announces, ref by ref).
    git(
        &work,
        &[
            "push", "-q", "--atomic", "origin", "main", "side", "v1.2.0", "v9.9.9",
        ],
    );
    let expected_describe = git(&work, &["describe", "--tags", "main"]);
    assert!(
        expected_describe.starts_with("v1.2.0-1-g"),
        "{expected_describe}"
    );

    let text = wait_for_file(&out).await;
    assert_eq!(field(&text, "describe"), expected_describe, "{text}");
    assert_eq!(field(&text, "head"), head, "{text}");
    assert_eq!(field(&text, "file"), "two", "{text}");
    assert_eq!(field(&text, "dirty"), "0", "{text}");
    // The workspace was cloned from the runner's copy of the engine's pack, not the mirror.
    assert!(field(&text, "origin").contains("_sources"), "{text}");
    let tags: Vec<&str> = field(&text, "tags").split_whitespace().collect();
    assert_eq!(tags, ["v1.2.0"], "{text}");

    let body = notifications
        .recv_timeout(PATIENCE)
        .expect("a completion notification");
    let body: Value = serde_json::from_str(&body).expect("a JSON notification");
    assert_eq!(body["state"], "success", "{body}");
    assert_eq!(body["sha"], head.as_str(), "{body}");
    assert_eq!(body["ref"], "refs/heads/main", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_goes_only_to_the_lease_holder_with_its_current_fencing_token() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().unwrap();
    let (_origin, work) = repositories(temp.path());
    let sha = git(&work, &["rev-parse", "HEAD"]);
    let engine = Engine::start(&temp.path().join("data"), 0, &[], &[]).await;
    let first = engine.register_runner("first").await;
    let second = engine.register_runner("second").await;
    // Only a watched repository is dispatched.
    engine
        .post_admin(
            "/api/v1/repos",
            json!({"source": work.display().to_string(), "name": "work"}),
        )
        .await;
    engine
        .post_admin(
            "/api/v1/dispatch",
            json!({"protocol_version": protocol::PROTOCOL_VERSION, "repository": work.display().to_string(),
                   "workflow": "describe.yml", "ref": "main"}),
        )
        .await;
    let lease = first
        .next(Duration::from_secs(10))
        .await
        .unwrap()
        .expect("a job for the first runner");
    let job_id = lease.job_id.as_str();
    let token = lease.fencing_token;

    // The lease holder gets the header and a pack that unpacks into a repository with the commit.
    let mut stream = first.fetch_source(job_id, token).await.unwrap();
    assert_eq!(stream.header.commit, sha);
    assert!(
        stream
            .header
            .refs
            .iter()
            .any(|r| r.name == "refs/heads/main" && r.target == sha),
        "{:?}",
        stream.header.refs
    );
    let mut pack = Vec::new();
    while let Some(chunk) = stream.next_chunk().await.unwrap() {
        pack.push(Ok(chunk));
    }
    let copy = temp.path().join("copy.git");
    let refs: Vec<(String, String)> = stream
        .header
        .refs
        .iter()
        .map(|r| (r.name.clone(), r.target.clone()))
        .collect();
    runner::executor::unpack_source(&copy, &sha, &refs, pack, u64::MAX).unwrap();
    assert_eq!(git(&copy, &["rev-parse", "refs/heads/main"]), sha);
    assert_eq!(git(&copy, &["show", "main:app.txt"]), "one");

    // A wrong token, another runner, no credential and a made-up credential learn nothing.
    assert_eq!(status(first.fetch_source(job_id, token + 1).await), 403);
    assert_eq!(status(second.fetch_source(job_id, token).await), 403);
    assert_eq!(status(second.fetch_source("0000", token).await), 403);
    let anonymous = EngineClient::new(&engine.url, None, Duration::from_secs(1)).unwrap();
    assert_eq!(status(anonymous.fetch_source(job_id, token).await), 401);
    let forged = EngineClient::new(
        &engine.url,
        Some("not-a-credential".into()),
        Duration::from_secs(1),
    )
    .unwrap();
    assert_eq!(status(forged.fetch_source(job_id, token).await), 401);

    // The first lease expires (no heartbeats); the second runner gets the job with a new token,
    // and the first runner's token is stale from then on.
    let retried = second
        .next(Duration::from_secs(20))
        .await
        .unwrap()
        .expect("the job again, for the second runner");
    assert_eq!(retried.job_id, lease.job_id);
    assert_ne!(retried.fencing_token, token);
    assert_eq!(status(first.fetch_source(job_id, token).await), 403);
    assert_eq!(status(second.fetch_source(job_id, token).await), 403);
    let stream = second
        .fetch_source(job_id, retried.fencing_token)
        .await
        .unwrap();
    assert_eq!(stream.header.commit, sha);
}
