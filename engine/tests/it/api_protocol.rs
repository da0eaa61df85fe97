//! The runner protocol and read API over real HTTP on 127.0.0.1:0, with real sled directories:
//! registration, authentication, leases, heartbeats, fencing, lease expiry, the long poll, logs
//! (idempotent, followed live), cancel, and an in-process runner agent running a real job.

use std::sync::Arc;
use std::time::Duration;

use engine::api::{self, Server};
use engine::runs::dispatch::{Engine, EngineConfig, EngineEvent};
use engine::runs::orchestrator::Orchestrator;
use engine::store::RunId;
use protocol::{Conclusion, JobSpec, PROTOCOL_VERSION, Step};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;

/// Long enough that nothing flakes; every wait below ends as soon as its event comes.
const PATIENCE: Duration = Duration::from_secs(20);

struct Harness {
    dir: tempfile::TempDir,
    engine: Arc<Engine>,
    events: UnboundedReceiver<EngineEvent>,
    server: Server,
    http: reqwest::Client,
}

impl Harness {
    async fn start(lease: Duration) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        Harness::start_in(dir, lease).await
    }

    async fn start_in(dir: tempfile::TempDir, lease: Duration) -> Harness {
        Harness::start_at(dir, lease, "127.0.0.1:0".parse().unwrap()).await
    }

    async fn start_at(
        dir: tempfile::TempDir,
        lease: Duration,
        address: std::net::SocketAddr,
    ) -> Harness {
        let config = EngineConfig {
            lease_duration: lease,
            ..EngineConfig::new(dir.path())
        };
        // A restarted engine may find sled's lock still held for a moment by the tasks of the
        // engine before it (a long poll letting go); give it a few seconds, as an operator would.
        let mut attempts = 0;
        let (engine, events) = loop {
            match Engine::open(config.clone()).await {
                Ok(opened) => break opened,
                Err(error) if attempts < 100 => {
                    attempts += 1;
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(error) => panic!("engine did not open: {error}"),
            }
        };
        // Runs here are driven by hand (`enqueue_job`, the events read below): no orchestrator
        // task takes the engine's events.
        // The first start's admin user and its token (reads need a token too).
        engine::runs::orchestrator::ensure_admin_token(dir.path()).unwrap();
        let state = api::AppState::with_orchestrator(Orchestrator::detached(engine.clone()));
        let server = api::serve(state, address).await.unwrap();
        Harness {
            dir,
            engine,
            events,
            server,
            http: reqwest::Client::new(),
        }
    }

    /// Stops the server and the engine, leaving the data directory.
    async fn stop(self) -> tempfile::TempDir {
        self.server.stop().await;
        self.engine.shutdown();
        let Harness { dir, engine, .. } = self;
        // Wait for every task holding the engine to let go, so sled's lock is released.
        let weak = Arc::downgrade(&engine);
        drop(engine);
        for _ in 0..1000 {
            if weak.strong_count() == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        dir
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.url())
    }

    async fn post(
        &self,
        path: &str,
        credential: Option<&str>,
        mut body: Value,
    ) -> (StatusCode, Value) {
        if body.get("protocol_version").is_none() {
            body["protocol_version"] = json!(PROTOCOL_VERSION);
        }
        let mut request = self.http.post(self.url(path)).json(&body);
        if let Some(credential) = credential {
            request = request.bearer_auth(credential);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// The admin token of this engine's data directory.
    fn admin(&self) -> String {
        engine::runs::orchestrator::ensure_admin_token(self.dir.path()).unwrap()
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let response = self
            .http
            .get(self.url(path))
            .bearer_auth(self.admin())
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn register(&self, labels: &[&str], capacity: u32) -> String {
        let token = self
            .engine
            .store()
            .create_registration_token()
            .await
            .unwrap();
        let (status, body) = self
            .post(
                "/api/v1/runners/register",
                None,
                json!({"token": token, "name": "box", "labels": labels, "capacity": capacity}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["credential"].as_str().unwrap().to_string()
    }

    async fn run_with(&self, specs: Vec<JobSpec>) -> RunId {
        let run = self
            .engine
            .create_run("ci.yml", json!({"event": "push"}))
            .await
            .unwrap();
        for spec in specs {
            self.engine.enqueue_job(run.run_id, spec).await.unwrap();
        }
        run.run_id
    }

    async fn next(&self, credential: &str, wait_ms: u64) -> (StatusCode, Value) {
        self.post(
            "/api/v1/runner/next",
            Some(credential),
            json!({"wait_ms": wait_ms}),
        )
        .await
    }

    async fn next_event(&mut self) -> EngineEvent {
        tokio::time::timeout(PATIENCE, self.events.recv())
            .await
            .unwrap()
            .unwrap()
    }

    /// The next event that is not `JobStarted`.
    async fn next_outcome(&mut self) -> EngineEvent {
        loop {
            let event = self.next_event().await;
            if !matches!(event, EngineEvent::JobStarted { .. }) {
                return event;
            }
        }
    }
}

fn spec(job_key: &str, runs_on: &[&str], steps: Vec<Step>) -> JobSpec {
    JobSpec {
        job_key: job_key.to_string(),
        job_id: job_key.to_string(),
        display_name: job_key.to_string(),
        runs_on: runs_on.iter().map(|label| label.to_string()).collect(),
        steps,
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

fn success() -> Value {
    json!({"conclusion": "success", "outputs": {}, "steps": [], "summary": "", "failure_reason": null})
}

fn lease_of(body: &Value) -> (String, u64) {
    (
        body["job_id"].as_str().unwrap().to_string(),
        body["fencing_token"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn registration_is_one_time_and_a_bad_credential_changes_nothing() {
    let mut h = Harness::start(Duration::from_secs(30)).await;
    let token = h.engine.store().create_registration_token().await.unwrap();
    let body = json!({"token": token, "name": "box", "labels": ["linux"], "capacity": 1});
    let (status, first) = h.post("/api/v1/runners/register", None, body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, again) = h.post("/api/v1/runners/register", None, body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{again}");

    let credential = first["credential"].as_str().unwrap();
    let run_id = h.run_with(vec![spec("a", &[], vec![])]).await;
    let runners_before = h.get("/api/v1/runners").await.1;
    let wrong = format!(
        "{}.{}",
        first["runner_id"].as_str().unwrap(),
        "f".repeat(64)
    );
    for bad in [wrong.as_str(), "nonsense", ""] {
        let (status, _) = h.next(bad, 10).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = h
        .http
        .post(h.url("/api/v1/runner/next"))
        .json(&json!({"protocol_version": PROTOCOL_VERSION}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Nothing moved: the job is still queued, the runner's record is unchanged.
    let (_, run) = h.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(run["jobs"][0]["status"], "queued");
    assert_eq!(h.get("/api/v1/runners").await.1, runners_before);

    let (status, lease) = h.next(credential, 1000).await;
    assert_eq!(status, StatusCode::OK, "{lease}");
    assert!(matches!(
        h.next_event().await,
        EngineEvent::JobStarted { .. }
    ));
}

#[tokio::test]
async fn a_protocol_version_mismatch_is_refused_naming_both() {
    let h = Harness::start(Duration::from_secs(30)).await;
    let credential = h.register(&[], 1).await;
    let (status, body) = h
        .post(
            "/api/v1/runner/next",
            Some(&credential),
            json!({"protocol_version": 999, "wait_ms": 10}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains("999") && message.contains(&PROTOCOL_VERSION.to_string()),
        "{message}"
    );
    let response = h
        .http
        .post(h.url("/api/v1/runner/next"))
        .bearer_auth(&credential)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, _) = h.get("/api/v1/runs?protocol_version=999").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn lease_heartbeat_logs_events_and_finish() {
    let mut h = Harness::start(Duration::from_secs(30)).await;
    let credential = h.register(&["linux", "x64"], 1).await;
    let run_id = h.run_with(vec![spec("build", &["linux"], vec![])]).await;
    let (status, lease) = h.next(&credential, 1000).await;
    assert_eq!(status, StatusCode::OK, "{lease}");
    assert_eq!(lease["spec"]["job_key"], "build");
    assert_eq!(lease["attempt"], 1);
    let (job_id, token) = lease_of(&lease);
    let jobs = format!("/api/v1/jobs/{job_id}");

    let (status, beat) = h
        .post(
            &format!("{jobs}/heartbeat"),
            Some(&credential),
            json!({"fencing_token": token}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(beat["cancel_requested"], false);
    let chunks =
        json!({"fencing_token": token, "chunks": [{"seq": 0, "lines": ["hello", "world"]}]});
    let (status, logged) = h
        .post(&format!("{jobs}/logs"), Some(&credential), chunks.clone())
        .await;
    assert_eq!(
        (status, logged["last_seq"].as_u64()),
        (StatusCode::OK, Some(0))
    );
    // The same chunk again is a no-op.
    let (status, _) = h
        .post(&format!("{jobs}/logs"), Some(&credential), chunks)
        .await;
    assert_eq!(status, StatusCode::OK);
    let events = json!({"fencing_token": token, "events": [{"type": "step_started", "index": 0, "name": "Run echo"}]});
    let (status, _) = h
        .post(&format!("{jobs}/events"), Some(&credential), events)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, run) = h.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(run["run"]["status"], "in_progress");
    assert_eq!(run["jobs"][0]["status"], "in_progress");
    assert_eq!(run["jobs"][0]["steps"][0]["status"], "in_progress");

    let (status, _) = h
        .post(
            &format!("{jobs}/finish"),
            Some(&credential),
            json!({"fencing_token": token, "result": success()}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    match h.next_outcome().await {
        EngineEvent::JobFinished {
            run_id: finished_run,
            job_key,
            result,
            ..
        } => {
            assert_eq!((finished_run, job_key.as_str()), (run_id, "build"));
            assert_eq!(result.conclusion, Conclusion::Success);
        }
        other => panic!("unexpected {other:?}"),
    }
    let (_, run) = h.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(run["jobs"][0]["conclusion"], "success");
    let text = h
        .http
        .get(h.url(&format!("/api/v1/runs/{run_id}/jobs/build/logs")))
        .bearer_auth(h.admin())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(text, "hello\nworld\n");
    // After finishing, the lease is gone: every report is a conflict.
    let (status, _) = h
        .post(
            &format!("{jobs}/heartbeat"),
            Some(&credential),
            json!({"fencing_token": token}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, runs) = h.get("/api/v1/runs").await;
    assert_eq!(runs.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_regranted_lease_fences_out_the_old_holder_and_strangers_get_403() {
    let mut h = Harness::start(Duration::from_millis(300)).await;
    let first = h.register(&[], 1).await;
    let second = h.register(&[], 1).await;
    let run_id = h.run_with(vec![spec("a", &[], vec![])]).await;
    let (_, lease) = h.next(&first, 1000).await;
    let (job_id, old_token) = lease_of(&lease);
    let jobs = format!("/api/v1/jobs/{job_id}");
    // A runner that does not hold the lease cannot touch the job.
    let (status, _) = h
        .post(
            &format!("{jobs}/heartbeat"),
            Some(&second),
            json!({"fencing_token": old_token}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // No heartbeat: the lease expires and the job is queued again.
    assert!(matches!(
        h.next_outcome().await,
        EngineEvent::JobRequeued { .. }
    ));
    let (status, lease) = h.next(&second, 5000).await;
    assert_eq!(status, StatusCode::OK);
    let (same_job, new_token) = lease_of(&lease);
    assert_eq!(same_job, job_id);
    assert_ne!(new_token, old_token);
    assert_eq!(lease["attempt"], 2);

    for (path, body) in [
        ("heartbeat", json!({"fencing_token": old_token})),
        (
            "logs",
            json!({"fencing_token": old_token, "chunks": [{"seq": 0, "lines": ["late"]}]}),
        ),
        (
            "finish",
            json!({"fencing_token": old_token, "result": success()}),
        ),
    ] {
        let (status, _) = h.post(&format!("{jobs}/{path}"), Some(&first), body).await;
        assert!(
            status == StatusCode::CONFLICT || status == StatusCode::FORBIDDEN,
            "{path}: {status}"
        );
    }
    let (_, run) = h.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(run["jobs"][0]["status"], "in_progress");
    let (status, _) = h
        .post(
            &format!("{jobs}/finish"),
            Some(&second),
            json!({"fencing_token": new_token, "result": success()}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let log = h
        .http
        .get(h.url(&format!("/api/v1/runs/{run_id}/jobs/a/logs")))
        .bearer_auth(h.admin())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!log.contains("late"));
}

#[tokio::test]
async fn a_lost_runner_gets_one_retry_then_the_job_fails_as_runner_lost() {
    let mut h = Harness::start(Duration::from_millis(200)).await;
    let credential = h.register(&[], 1).await;
    let run_id = h.run_with(vec![spec("a", &[], vec![])]).await;
    let (status, _) = h.next(&credential, 1000).await;
    assert_eq!(status, StatusCode::OK);
    match h.next_outcome().await {
        EngineEvent::JobRequeued { reason, .. } => {
            assert!(reason.contains("lease expired"), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
    let (status, _) = h.next(&credential, 5000).await;
    assert_eq!(status, StatusCode::OK);
    match h.next_outcome().await {
        EngineEvent::JobFinished { result, .. } => {
            assert_eq!(result.conclusion, Conclusion::Failure);
            assert_eq!(result.failure_reason.as_deref(), Some("runner lost"));
        }
        other => panic!("unexpected {other:?}"),
    }
    let (_, run) = h.get(&format!("/api/v1/runs/{run_id}")).await;
    let job = &run["jobs"][0];
    assert_eq!(
        (job["status"].as_str(), job["attempt"].as_u64()),
        (Some("completed"), Some(2))
    );
    assert_eq!(job["retry_reasons"].as_array().unwrap().len(), 2);
    // Nothing is left to lease.
    let (status, _) = h.next(&credential, 50).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn the_long_poll_wakes_on_enqueue_and_respects_labels() {
    let h = Harness::start(Duration::from_secs(30)).await;
    let plain = h.register(&["linux"], 1).await;
    let gpu = h.register(&["linux", "gpu"], 1).await;
    let (status, _) = h.next(&plain, 50).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let run = h.engine.create_run("ci.yml", Value::Null).await.unwrap();
    let h = Arc::new(h);
    let waiting = {
        let h = h.clone();
        let gpu = gpu.clone();
        // Waits far longer than the test: only the wake-up on enqueue can answer it in time.
        tokio::spawn(async move { h.next(&gpu, 600_000).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    h.engine
        .enqueue_job(run.run_id, spec("train", &["gpu"], vec![]))
        .await
        .unwrap();
    let (status, lease) = tokio::time::timeout(PATIENCE, waiting)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lease["spec"]["job_key"], "train");
    // A job needing `gpu` is never given to a runner without it.
    h.engine
        .enqueue_job(run.run_id, spec("train2", &["gpu"], vec![]))
        .await
        .unwrap();
    let (status, _) = h.next(&plain, 100).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_followed_log_streams_every_line_in_order_and_ends_with_the_job() {
    let h = Harness::start(Duration::from_secs(30)).await;
    let credential = h.register(&[], 1).await;
    let run_id = h.run_with(vec![spec("a", &[], vec![])]).await;
    let (_, lease) = h.next(&credential, 1000).await;
    let (job_id, token) = lease_of(&lease);
    let jobs = format!("/api/v1/jobs/{job_id}");
    h.post(
        &format!("{jobs}/logs"),
        Some(&credential),
        json!({"fencing_token": token, "chunks": [{"seq": 0, "lines": ["line 0"]}]}),
    )
    .await;

    let mut follow = h
        .http
        .get(h.url(&format!("/api/v1/runs/{run_id}/jobs/a/logs?follow=1")))
        .bearer_auth(h.admin())
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), StatusCode::OK);
    for seq in 1..5u64 {
        let lines: Vec<String> = (0..3)
            .map(|i| format!("line {}", seq * 3 + i - 2))
            .collect();
        let (status, _) = h
            .post(
                &format!("{jobs}/logs"),
                Some(&credential),
                json!({"fencing_token": token, "chunks": [{"seq": seq, "lines": lines}]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    h.post(
        &format!("{jobs}/finish"),
        Some(&credential),
        json!({"fencing_token": token, "result": success()}),
    )
    .await;

    let mut text = String::new();
    while !text.contains("event: end") {
        let chunk = tokio::time::timeout(PATIENCE, follow.chunk())
            .await
            .unwrap()
            .unwrap();
        let Some(chunk) = chunk else { break };
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let lines: Vec<String> = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .filter_map(|data| serde_json::from_str::<Value>(data).ok())
        .filter_map(|value| value["line"].as_str().map(str::to_string))
        .collect();
    let expected: Vec<String> = (0..13).map(|i| format!("line {i}")).collect();
    assert_eq!(lines, expected);
    assert!(text.contains("event: end"));
}

#[tokio::test]
async fn cancel_completes_queued_jobs_and_signals_running_ones() {
    let mut h = Harness::start(Duration::from_secs(30)).await;
    let credential = h.register(&[], 1).await;
    let run_id = h
        .run_with(vec![
            spec("running", &[], vec![]),
            spec("waiting", &[], vec![]),
        ])
        .await;
    let (_, lease) = h.next(&credential, 1000).await;
    let (job_id, token) = lease_of(&lease);
    // Cancel is an admin call: without the admin token it is refused and changes nothing.
    let admin = engine::runs::orchestrator::ensure_admin_token(h.dir.path()).unwrap();
    let cancel = format!("/api/v1/runs/{run_id}/cancel");
    let (status, _) = h.post(&cancel, None, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, detail) = h.post(&cancel, Some(&admin), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["run"]["cancel_requested"], true);
    let waiting = detail["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["job_key"] == "waiting")
        .unwrap();
    assert_eq!(waiting["conclusion"], "cancelled");
    match h.next_outcome().await {
        EngineEvent::JobFinished {
            job_key, result, ..
        } => {
            assert_eq!(
                (job_key.as_str(), result.conclusion),
                ("waiting", Conclusion::Cancelled)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let (_, beat) = h
        .post(
            &format!("/api/v1/jobs/{job_id}/heartbeat"),
            Some(&credential),
            json!({"fencing_token": token}),
        )
        .await;
    assert_eq!(beat["cancel_requested"], true);
    // A reference that cannot name a run is a bad request; a run id no run has is not found.
    let (status, _) = h
        .post("/api/v1/runs/not-a-run/cancel", Some(&admin), json!({}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = h
        .post(
            "/api/v1/runs/01930000-0000-7000-8000-000000000000/cancel",
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_restarted_engine_keeps_the_lease_for_its_runner() {
    let h = Harness::start(Duration::from_secs(30)).await;
    let credential = h.register(&[], 1).await;
    let run_id = h
        .run_with(vec![spec("a", &[], vec![]), spec("b", &[], vec![])])
        .await;
    let (_, lease) = h.next(&credential, 1000).await;
    let (job_id, token) = lease_of(&lease);
    let dir = h.stop().await;

    let h = Harness::start_in(dir, Duration::from_secs(30)).await;
    let jobs = format!("/api/v1/jobs/{job_id}");
    let (status, _) = h
        .post(
            &format!("{jobs}/heartbeat"),
            Some(&credential),
            json!({"fencing_token": token}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = h
        .post(
            &format!("{jobs}/finish"),
            Some(&credential),
            json!({"fencing_token": token, "result": success()}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The job still queued before the restart is handed out after it.
    let (status, lease) = h.next(&credential, 1000).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lease["spec"]["job_key"], "b");
    let (_, run) = h.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(run["jobs"][0]["conclusion"], "success");
}

#[tokio::test]
async fn a_runner_agent_pulls_runs_and_reports_a_job() {
    let mut h = Harness::start(Duration::from_secs(30)).await;
    let token = h.engine.store().create_registration_token().await.unwrap();
    let config_path = h.dir.path().join("runner").join("runner.toml");
    let labels = vec!["linux".to_string()];
    let config =
        runner::agent::register(&h.server.url(), &token, "agent", &labels, 1, &config_path)
            .await
            .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config_path)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        runner::agent::RunnerConfig::load(&config_path).unwrap(),
        config
    );

    let steps = vec![
        run_step("echo hello from the agent"),
        run_step("echo second step"),
    ];
    let run_id = h.run_with(vec![spec("build", &["linux"], steps)]).await;
    let work_dir = h.dir.path().join("work");
    let mut options =
        runner::agent::AgentOptions::new(config, runner::executor::ExecutorOptions::new(&work_dir));
    options.once = true;
    options.long_poll = Duration::from_secs(5);
    let summary = tokio::time::timeout(PATIENCE, runner::agent::run_agent(options))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.jobs_finished, 1);
    let result = match h.next_outcome().await {
        EngineEvent::JobFinished { result, .. } => result,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(result.conclusion, Conclusion::Success, "{result:?}");
    let log = h
        .http
        .get(h.url(&format!("/api/v1/runs/{run_id}/jobs/build/logs")))
        .bearer_auth(h.admin())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let hello = log.find("hello from the agent").expect(&log);
    let second = log.find("second step").expect(&log);
    assert!(hello < second, "{log}");
    let (_, run) = h.get(&format!("/api/v1/runs/{run_id}")).await;
    let steps = run["jobs"][0]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{run}");
    assert!(
        steps.iter().all(|step| step["status"] == "success"),
        "{run}"
    );
}

#[tokio::test]
async fn a_runner_agent_keeps_its_job_through_an_engine_restart() {
    let mut h = Harness::start(Duration::from_secs(30)).await;
    let token = h.engine.store().create_registration_token().await.unwrap();
    let config_path = h.dir.path().join("runner.toml");
    let config = runner::agent::register(&h.server.url(), &token, "agent", &[], 1, &config_path)
        .await
        .unwrap();
    let steps = vec![run_step(
        "echo before the restart; sleep 2; echo after the restart",
    )];
    let run_id = h.run_with(vec![spec("build", &[], steps)]).await;
    let mut options = runner::agent::AgentOptions::new(
        config,
        runner::executor::ExecutorOptions::new(h.dir.path().join("work")),
    );
    options.once = true;
    options.long_poll = Duration::from_secs(5);
    let agent = tokio::spawn(runner::agent::run_agent(options));
    assert!(matches!(
        h.next_event().await,
        EngineEvent::JobStarted { .. }
    ));

    // The engine goes away while the step sleeps, and comes back on the same address.
    let address = h.server.local_addr();
    let dir = h.stop().await;
    let mut h = Harness::start_at(dir, Duration::from_secs(30), address).await;
    let summary = tokio::time::timeout(PATIENCE, agent)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(summary.jobs_finished, 1);
    match h.next_outcome().await {
        EngineEvent::JobFinished { result, .. } => {
            assert_eq!(result.conclusion, Conclusion::Success)
        }
        other => panic!("unexpected {other:?}"),
    }
    let log = h
        .http
        .get(h.url(&format!("/api/v1/runs/{run_id}/jobs/build/logs")))
        .bearer_auth(h.admin())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        log.contains("before the restart") && log.contains("after the restart"),
        "{log}"
    );
    // Counted as whole lines: the step markers repeat the script in the step's name.
    let printed = log.lines().filter(|line| *line == "before the restart");
    assert_eq!(printed.count(), 1, "{log}");
}

#[tokio::test]
async fn environment_settings_are_a_typed_patch_and_a_bad_field_is_named() {
    let h = Harness::start(Duration::from_secs(30)).await;
    let admin = engine::runs::orchestrator::ensure_admin_token(h.dir.path()).unwrap();
    // A misspelt field is refused by name, and nothing is stored.
    let (status, body) = h
        .post(
            "/api/v1/environments",
            Some(&admin),
            json!({"name": "production", "settings": {"deploy": {"aprovals": 2}}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("aprovals"), "{body}");
    // A bad value is refused naming the setting's path.
    let (status, body) = h
        .post(
            "/api/v1/environments",
            Some(&admin),
            json!({"name": "production", "settings": {"release": {"wait": "5x"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.to_string().contains("release.wait"), "{body}");
    let (_, listed) = h.get("/api/v1/environments").await;
    assert_eq!(listed, json!([]), "refusals store nothing");
    let (status, created) = h
        .post(
            "/api/v1/environments",
            Some(&admin),
            json!({"name": "production", "settings": {
                "deploy": {"approvals": 1, "approvers": ["alice"], "wait": "5m"},
                "add_freeze": ["Fri 16:00-Mon 08:00 UTC"]
            }}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // PATCH changes what it names and keeps the rest.
    let mut body = json!({"protocol_version": PROTOCOL_VERSION, "settings": {"url": "https://prod.example.com"}});
    body["settings"]["deploy"] = json!({"branches": ["main"]});
    let response = h
        .http
        .patch(h.url("/api/v1/environments/production"))
        .bearer_auth(&admin)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, shown) = h.get("/api/v1/environments/production").await;
    let environment = &shown["environment"];
    assert_eq!(
        environment["protection"]["required_approvals"], 1,
        "{shown}"
    );
    assert_eq!(environment["protection"]["branches"], json!(["main"]));
    assert_eq!(environment["url"], "https://prod.example.com");
    assert_eq!(
        environment["freeze_windows"].as_array().map(Vec::len),
        Some(1)
    );
}
