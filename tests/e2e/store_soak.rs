//! Load through the binary: one `slipway serve` with 2 embedded runners and 8 parallel
//! dispatchers firing a bounded number of runs through the HTTP API (issue 22: sled's concurrent
//! flush deadlock hung the engine for good under exactly this load). Every call has a 10 s client
//! timeout and must be answered; every run must conclude; `/healthz` must say `ok` at the end.
//! Also: cancel ends a run that has no jobs (one waiting for its concurrency group). Bounded in
//! count and time, loopback only; it asserts no speed.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support;
use crate::support::engine::{Process, free_port};

use support::repo_with;

const BIN: &str = env!("CARGO_BIN_EXE_slipway");

/// Runs fired in all (8 dispatchers × 50).
const DISPATCHERS: usize = 8;
const RUNS_EACH: usize = 50;
/// Every API call must be answered within this.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The engine binary: this build's, or `SLIPWAY_SOAK_BIN` (to run the same load against
/// another build, e.g. the one before a fix).
fn engine_binary() -> String {
    std::env::var("SLIPWAY_SOAK_BIN").unwrap_or_else(|_| BIN.to_string())
}

fn spawn_engine(data_dir: &Path, port: u16) -> Process {
    let child = Command::new(engine_binary())
        .envs(crate::support::user_env())
        .arg("serve")
        .arg("--data")
        .arg(data_dir)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--runners", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start slipway serve");
    Process(child)
}

/// A client with the call budget that sends `token` with every request.
fn authed_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .default_headers(headers)
        .build()
        .expect("http client")
}

async fn wait_ready(client: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = client.get(format!("{url}/healthz")).send().await;
        if answer.is_ok_and(|response| response.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "engine did not come up in 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_parallel_dispatchers_never_hang_the_engine() {
    // The heaviest test of the binary: nothing timing-sensitive runs beside it.
    let _serial = crate::support::SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "one.yml",
            "on: workflow_dispatch\njobs:\n  only:\n    runs-on: ubuntu-latest\n    steps:\n      - run: true\n",
        )],
    );
    let data = temp.path().join("data");
    let port = free_port();
    let _engine = spawn_engine(&data, port);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .expect("http client");
    wait_ready(&client, &url).await;
    let token = std::fs::read_to_string(data.join("admin.token"))
        .expect("admin.token exists")
        .trim()
        .to_string();
    // Every call carries the admin token (reads need a token too).
    let client = authed_client(&token);

    // Only a watched repository is dispatched.
    let watched = client
        .post(format!("{url}/api/v1/repos"))
        .bearer_auth(&token)
        .json(&json!({"source": repo.display().to_string(), "name": "soak"}))
        .send()
        .await
        .expect("the engine answers in 10 s");
    assert_eq!(watched.status().as_u16(), 201, "repo add");
    let shared = Arc::new((client.clone(), url.clone(), token, repo));
    let mut dispatchers = Vec::new();
    for dispatcher in 0..DISPATCHERS {
        let shared = shared.clone();
        dispatchers.push(tokio::spawn(async move {
            let (client, url, token, repo) = &*shared;
            let mut run_ids = Vec::new();
            for n in 0..RUNS_EACH {
                let answer = client
                    .post(format!("{url}/api/v1/dispatch"))
                    .bearer_auth(token)
                    .json(&json!({"protocol_version": protocol::PROTOCOL_VERSION,
                                  "repository": repo.display().to_string(),
                                  "workflow": "one.yml", "ref": "main"}))
                    .send()
                    .await
                    .map_err(|error| format!("dispatcher {dispatcher}, call {n}: {error}"))?;
                if answer.status().as_u16() != 200 {
                    return Err(format!(
                        "dispatcher {dispatcher}, call {n}: status {}",
                        answer.status()
                    ));
                }
                let body: Value = answer
                    .json()
                    .await
                    .map_err(|error| format!("dispatcher {dispatcher}, call {n}: {error}"))?;
                run_ids.push(body["run_id"].as_str().unwrap_or_default().to_string());
            }
            Ok::<_, String>(run_ids)
        }));
    }
    let mut run_ids = Vec::new();
    let mut failures = Vec::new();
    for dispatcher in dispatchers {
        match dispatcher.await.expect("dispatcher task ends") {
            Ok(ids) => run_ids.extend(ids),
            Err(failure) => failures.push(failure),
        }
    }
    if !failures.is_empty() {
        // Tell a hang from slowness: does the engine answer at all within a minute now?
        let patient = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("http client");
        let started = Instant::now();
        let later = patient.get(format!("{url}/api/v1/runs")).send().await;
        panic!(
            "{} dispatch calls failed (10 s budget each), first: {}; afterwards the run list {}",
            failures.len(),
            failures[0],
            match later {
                Ok(response) => format!(
                    "answered {} after {} ms",
                    response.status(),
                    started.elapsed().as_millis()
                ),
                Err(error) => format!("did not answer within 60 s (the engine hangs): {error}"),
            }
        );
    }
    assert_eq!(run_ids.len(), DISPATCHERS * RUNS_EACH);

    // Every run concludes (bounded): the list is read with the same 10 s call budget.
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let runs: Vec<Value> = client
            .get(format!("{url}/api/v1/runs"))
            .send()
            .await
            .expect("the run list answered in 10 s")
            .json()
            .await
            .expect("json answer");
        let open: Vec<&Value> = runs
            .iter()
            .filter(|run| run["status"] != "completed")
            .collect();
        if runs.len() == run_ids.len() && open.is_empty() {
            assert!(
                runs.iter().all(|run| run["conclusion"] == "success"),
                "every run succeeds"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {} runs still open after 10 minutes, e.g. {:#}",
            open.len(),
            runs.len(),
            open.first().copied().unwrap_or(&Value::Null)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let health = client
        .get(format!("{url}/healthz"))
        .send()
        .await
        .expect("healthz answered in 10 s");
    let status = health.status().as_u16();
    let text = health.text().await.unwrap_or_default();
    assert_eq!((status, text.trim()), (200, "ok"), "healthz after the load");
}

async fn admin_post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Value {
    let answer = client
        .post(format!("{url}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the engine answers in 10 s");
    assert_eq!(answer.status().as_u16(), 200, "{path}");
    answer.json().await.expect("json answer")
}

async fn wait_status(client: &reqwest::Client, url: &str, run_id: &str, status: &str) -> Value {
    wait_run(client, url, run_id, status, |run| {
        run["run"]["status"] == status
    })
    .await
}

async fn wait_run(
    client: &reqwest::Client,
    url: &str,
    run_id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let run: Value = client
            .get(format!("{url}/api/v1/runs/{run_id}"))
            .send()
            .await
            .expect("the engine answers in 10 s")
            .json()
            .await
            .expect("json answer");
        if done(&run) {
            return run;
        }
        assert!(
            Instant::now() < deadline,
            "run {run_id} not {what} in 60 s: {run:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_a_run_that_has_no_jobs() {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repo_with(
        temp.path(),
        &[(
            "grouped.yml",
            "on: workflow_dispatch\nconcurrency:\n  group: one-at-a-time\n  cancel-in-progress: false\njobs:\n  slow:\n    runs-on: ubuntu-latest\n    steps:\n      - run: sleep 30\n",
        )],
    );
    let data = temp.path().join("data");
    let port = free_port();
    let _engine = spawn_engine(&data, port);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .build()
        .expect("http client");
    wait_ready(&client, &url).await;
    let token = std::fs::read_to_string(data.join("admin.token"))
        .expect("admin.token exists")
        .trim()
        .to_string();
    // Every call carries the admin token (reads need a token too).
    let client = authed_client(&token);
    // Only a watched repository is dispatched.
    let watched = client
        .post(format!("{url}/api/v1/repos"))
        .bearer_auth(&token)
        .json(&json!({"source": repo.display().to_string(), "name": "grouped"}))
        .send()
        .await
        .expect("the engine answers in 10 s");
    assert_eq!(watched.status().as_u16(), 201, "repo add");
    let dispatch = json!({"protocol_version": protocol::PROTOCOL_VERSION, "repository": repo.display().to_string(),
                          "workflow": "grouped.yml", "ref": "main"});
    let first = admin_post(&client, &url, &token, "/api/v1/dispatch", dispatch.clone()).await;
    let first = first["run_id"].as_str().expect("run_id").to_string();
    wait_status(&client, &url, &first, "in_progress").await;
    let second = admin_post(&client, &url, &token, "/api/v1/dispatch", dispatch).await;
    let second = second["run_id"].as_str().expect("run_id").to_string();
    // Held back by its group: queued, with a waiting reason and no jobs at all.
    let waiting = wait_run(&client, &url, &second, "waiting for its group", |run| {
        !run["run"]["details"]["waiting_reason"].is_null()
    })
    .await;
    assert_eq!(waiting["run"]["status"], "queued", "{waiting:#}");
    assert_eq!(waiting["jobs"], json!([]), "{waiting:#}");

    let cancel = json!({"protocol_version": protocol::PROTOCOL_VERSION});
    admin_post(
        &client,
        &url,
        &token,
        &format!("/api/v1/runs/{second}/cancel"),
        cancel.clone(),
    )
    .await;
    let ended = wait_status(&client, &url, &second, "completed").await;
    assert_eq!(ended["run"]["conclusion"], "cancelled", "{ended:#}");
    admin_post(
        &client,
        &url,
        &token,
        &format!("/api/v1/runs/{first}/cancel"),
        cancel,
    )
    .await;
    let ended = wait_status(&client, &url, &first, "completed").await;
    assert_eq!(ended["run"]["conclusion"], "cancelled", "{ended:#}");
}

/// `slow.yml` (its planning held by the test hook) and `quick.yml`, each one job that appends its
/// name to `marks`.
fn planning_repo(dir: &Path, marks: &Path) -> std::path::PathBuf {
    let workflow = |name: &str| {
        format!(
            "on: workflow_dispatch\njobs:\n  only:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo {name} >> \"{}\"\n",
            marks.display()
        )
    };
    repo_with(
        dir,
        &[
            ("slow.yml", &workflow("slow")),
            ("quick.yml", &workflow("quick")),
        ],
    )
}

/// Dispatches `workflow` in the background (its answer is not awaited: planning is held) and
/// waits (bounded) until the engine lists the run; its id.
async fn dispatch_held(
    engine: &crate::support::engine::TestEngine,
    repo: &Path,
    workflow: &str,
) -> String {
    engine.watch(repo).await;
    let client = engine.client.clone();
    let url = engine.url.clone();
    let token = engine.admin_token();
    let body = json!({"protocol_version": protocol::PROTOCOL_VERSION,
                      "repository": repo.display().to_string(),
                      "workflow": workflow, "ref": "main"});
    tokio::spawn(async move {
        let _ = client
            .post(format!("{url}/api/v1/dispatch"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await;
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let runs = engine.get("/api/v1/runs").await;
        if let Some(run) = runs.as_array().and_then(|runs| runs.first()) {
            assert_eq!(run["status"], "queued", "{run:#}");
            return run["run_id"].as_str().expect("run_id").to_string();
        }
        assert!(Instant::now() < deadline, "the run never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_before_its_plan_was_saved_fails_with_the_reason_on_restart() {
    let _serial = crate::support::SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let repo = planning_repo(temp.path(), &marks);
    // Planning of slow.yml is held for a minute after its run record is written.
    let mut engine = crate::support::engine::TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .env("SLIPWAY_TEST_PAUSE_PLANNING", "slow.yml:60000")
        .start()
        .await;
    let held = dispatch_held(&engine, &repo, "slow.yml").await;
    let before = engine.get(&format!("/api/v1/runs/{held}")).await;
    assert_eq!(before["jobs"], json!([]), "{before:#}");

    // kill -9 in that window: the run record is durable, its plan never was.
    engine.kill_engine();
    engine.respawn().await;
    let run = engine
        .wait_run_within(
            &held,
            "the unplanned run to end",
            Duration::from_secs(10),
            |run| run["run"]["status"] == "completed",
        )
        .await;
    assert_eq!(run["run"]["conclusion"], "failure", "{run:#}");
    let why = run["run"]["details"]["diagnostics"].to_string();
    assert!(
        why.contains("the engine stopped before this run was planned"),
        "{why}"
    );
    // A cancel of the ended run changes nothing and is answered.
    let (status, _) = engine
        .post_admin(
            &format!("/api/v1/runs/{held}/cancel"),
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 200);
    // The engine goes on: another workflow runs.
    let quick = engine.dispatch(&repo, "quick.yml").await;
    let run = engine.wait_completed(&quick).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(crate::support::lines(&marks), ["quick"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_a_run_whose_planning_is_slow_before_any_job_starts() {
    let _serial = crate::support::SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let repo = planning_repo(temp.path(), &marks);
    let engine = crate::support::engine::TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .env("SLIPWAY_TEST_PAUSE_PLANNING", "slow.yml:3000")
        .start()
        .await;
    let held = dispatch_held(&engine, &repo, "slow.yml").await;
    let (status, answer) = engine
        .post_admin(
            &format!("/api/v1/runs/{held}/cancel"),
            json!({"protocol_version": protocol::PROTOCOL_VERSION}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let run = engine
        .wait_run_within(
            &held,
            "the cancelled run to end",
            Duration::from_secs(15),
            |run| run["run"]["status"] == "completed",
        )
        .await;
    assert_eq!(run["run"]["conclusion"], "cancelled", "{run:#}");
    assert_eq!(run["jobs"], json!([]), "no job was created: {run:#}");
    // Give a job the time it would need to run: none does.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(crate::support::lines(&marks).is_empty(), "no step ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_lease_expires_while_a_restarted_engine_recovers() {
    let _serial = crate::support::SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    let repo = repo_with(
        temp.path(),
        &[(
            "slow.yml",
            &format!(
                "on: workflow_dispatch\njobs:\n  slow:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ran >> \"{}\" && sleep 6\n",
                marks.display()
            ),
        )],
    );
    // Recovery takes 5 s (as thousands of runs would), more than two 2 s lease periods.
    let mut engine = crate::support::engine::TestEngine::builder(&temp.path().join("data"))
        .runners(2)
        .lease_seconds(2)
        .env("SLIPWAY_TEST_PAUSE_RECOVERY_MS", "5000")
        .start()
        .await;
    let run_id = engine.dispatch(&repo, "slow.yml").await;
    engine
        .wait_lines(&run_id, &marks, 1, "the step to start")
        .await;
    engine.kill_engine();
    engine.respawn().await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(
        crate::support::lines(&marks),
        ["ran"],
        "the job ran once: its lease outlived the recovery"
    );
    assert_eq!(crate::support::job(&run, "slow")["attempt"], 1, "{run:#}");
}
