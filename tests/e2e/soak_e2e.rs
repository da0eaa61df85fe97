//! The soak test of issue 22, through the binary: 16 parallel dispatchers fire runs of a 3-job
//! workflow (`a`, then `b` and `c`) at one `slipway serve` with 2 embedded runners while the engine
//! is killed with SIGKILL 1 s after the dispatchers start (in the dispatch storm) and then every
//! `SLIPWAY_SOAK_KILL_EVERY_S` seconds (default 20), and started again on the same data dir. It checks that the engine never hangs
//! (every API call is answered within `SLIPWAY_SOAK_CALL_BUDGET_MS`, default 2,000 ms, or counted
//! as a failure: connection errors while the engine is down are not answers, and are retried with
//! a fresh run tag), that every acknowledged run concludes `success`, that each job of every run
//! (acknowledged or not) ran exactly once (each step appends a line to a marker file of its own),
//! that every run the engine holds ends, and that the engine's resident memory stays under
//! `SLIPWAY_SOAK_MAX_RSS_MB` (default 1,024).
//!
//! Its size is `SLIPWAY_SOAK_RUNS` (default 400: ~30-60 s on a debug build with 2 cores);
//! `SLIPWAY_SOAK_BIN` runs the same load against another build (`bench/soak.sh` runs 5,000 runs
//! on a release build). It prints one `soak:` line with the figures (throughput, p50/p99 API
//! latency, peak RSS, kills) and asserts no speed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::engine::TestEngine;
use crate::support::{SERIAL, repo_with};

/// Runs each of the 16 dispatchers fires: `SLIPWAY_SOAK_RUNS / 16`, rounded up.
const DISPATCHERS: usize = 16;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(default)
}

/// The 3-job workflow: every step appends its job's name to `<marks>/<tag>.<job>`.
fn workflow(marks: &Path) -> String {
    let step = |job: &str| {
        format!(
            "echo {job} >> \"{marks}/${{{{ inputs.tag }}}}.{job}\"",
            marks = marks.display()
        )
    };
    format!(
        "on:\n  workflow_dispatch:\n    inputs:\n      tag: {{type: string, required: true}}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: {a}\n  b:\n    needs: a\n    runs-on: ubuntu-latest\n    steps:\n      - run: {b}\n  c:\n    needs: a\n    runs-on: ubuntu-latest\n    steps:\n      - run: {c}\n",
        a = step("a"),
        b = step("b"),
        c = step("c"),
    )
}

/// What every API call of the test came to.
#[derive(Default)]
struct Calls {
    /// Answered calls' latencies.
    latencies: Vec<Duration>,
    /// Calls not answered within the budget (the engine was up): each a description.
    unanswered: Vec<String>,
    /// Connection errors (the engine was down or being killed): retried, not failures.
    refused: usize,
    /// Answers that were neither success nor an expected refusal.
    errors: Vec<String>,
}

/// The outcome of one call.
enum Outcome {
    Answered(u16, Value),
    /// No connection, or the connection died with the engine: the caller retries.
    Down,
    /// Not answered within the budget (counted).
    Unanswered,
}

async fn call(calls: &Mutex<Calls>, what: &str, request: reqwest::RequestBuilder) -> Outcome {
    let asked = Instant::now();
    let answer = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            response
                .json::<Value>()
                .await
                .map(|body| (status, body))
                .or_else(|error| {
                    if status == 200 {
                        Err(error)
                    } else {
                        Ok((status, Value::Null))
                    }
                })
        }
        Err(error) => Err(error),
    };
    let elapsed = asked.elapsed();
    let mut calls = calls.lock().unwrap();
    match answer {
        Ok((status, body)) => {
            calls.latencies.push(elapsed);
            Outcome::Answered(status, body)
        }
        Err(error) if error.is_timeout() => {
            calls.unanswered.push(format!(
                "{what}: no answer within {} ms",
                elapsed.as_millis()
            ));
            Outcome::Unanswered
        }
        Err(_) => {
            calls.refused += 1;
            Outcome::Down
        }
    }
}

/// The engine's resident memory in bytes (`VmRSS` of `/proc/PID/status`).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Nearest-rank percentile of sorted `samples`.
fn percentile(samples: &[Duration], p: usize) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let rank = (samples.len() * p).div_ceil(100).max(1);
    samples[rank - 1]
}

struct Shared {
    client: reqwest::Client,
    url: String,
    token: String,
    repo: PathBuf,
    calls: Mutex<Calls>,
}

/// One dispatcher: `runs` acknowledged dispatches (retrying with a fresh tag while the engine is
/// down); the acknowledged (tag, run id) pairs.
async fn dispatcher(shared: Arc<Shared>, index: usize, runs: usize) -> Vec<(String, String)> {
    let mut acknowledged = Vec::new();
    let mut attempt = 0;
    let give_up = Instant::now() + Duration::from_secs(3600);
    while acknowledged.len() < runs && Instant::now() < give_up {
        attempt += 1;
        let tag = format!("d{index}-{attempt}");
        let request = shared
            .client
            .post(format!("{}/api/v1/dispatch", shared.url))
            .bearer_auth(&shared.token)
            .json(&json!({"protocol_version": protocol::PROTOCOL_VERSION,
                          "repository": shared.repo.display().to_string(),
                          "workflow": "soak.yml", "ref": "main", "inputs": {"tag": tag}}));
        match call(&shared.calls, &format!("dispatch {tag}"), request).await {
            Outcome::Answered(200, body) => {
                let run_id = body["run_id"].as_str().unwrap_or_default().to_string();
                acknowledged.push((tag, run_id));
            }
            Outcome::Answered(503, _) => tokio::time::sleep(Duration::from_millis(100)).await,
            Outcome::Answered(status, body) => {
                shared
                    .calls
                    .lock()
                    .unwrap()
                    .errors
                    .push(format!("dispatch {tag}: {status} {body}"));
            }
            Outcome::Down => tokio::time::sleep(Duration::from_millis(100)).await,
            Outcome::Unanswered => {}
        }
    }
    acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_dispatchers_and_a_kill_every_20_s_lose_nothing_and_run_each_job_once() {
    let _serial = SERIAL.lock().await;
    let total_runs = env_number("SLIPWAY_SOAK_RUNS", 400) as usize;
    let kill_every = Duration::from_secs(env_number("SLIPWAY_SOAK_KILL_EVERY_S", 20));
    let budget = Duration::from_millis(env_number("SLIPWAY_SOAK_CALL_BUDGET_MS", 2000));
    let max_rss = env_number("SLIPWAY_SOAK_MAX_RSS_MB", 1024) * 1024 * 1024;
    let temp = tempfile::tempdir().expect("temp dir");
    let marks = temp.path().join("marks");
    std::fs::create_dir_all(&marks).expect("marks dir");
    let repo = repo_with(temp.path(), &[("soak.yml", &workflow(&marks))]);
    let mut builder = TestEngine::builder(&temp.path().join("data"))
        .runners(2)
        // Leases long enough that a busy 2-core machine never expires a healthy one; a restart
        // gives each lease a full period for its runner to re-attach.
        .lease_seconds(10);
    if let Ok(binary) = std::env::var("SLIPWAY_SOAK_BIN") {
        builder = builder.binary(binary);
    }
    let mut engine = builder.start().await;
    engine.watch(&repo).await;

    let shared = Arc::new(Shared {
        client: reqwest::Client::builder()
            .timeout(budget)
            .pool_idle_timeout(Duration::from_secs(5))
            .build()
            .expect("http client"),
        url: engine.url.clone(),
        token: engine.admin_token(),
        repo: repo.clone(),
        calls: Mutex::new(Calls::default()),
    });
    let started = Instant::now();
    let each = total_runs.div_ceil(DISPATCHERS);
    let dispatchers: Vec<_> = (0..DISPATCHERS)
        .map(|index| {
            let runs = each.min(total_runs.saturating_sub(index * each));
            tokio::spawn(dispatcher(shared.clone(), index, runs))
        })
        .collect();

    // The first kill lands in the dispatch storm (runs half created, answers lost), the
    // others while the runs execute.
    let mut next_kill = started + Duration::from_secs(1);
    let mut kills = 0;
    let mut peak_rss = 0u64;
    let mut sample_rss = |engine: &TestEngine| {
        if let Some(rss) = engine.pid().and_then(rss_bytes) {
            peak_rss = peak_rss.max(rss);
        }
    };
    // Dispatching, with the engine killed on schedule.
    while !dispatchers.iter().all(|task| task.is_finished()) {
        if Instant::now() >= next_kill {
            sample_rss(&engine);
            engine.kill_engine();
            engine.respawn().await;
            kills += 1;
            next_kill = Instant::now() + kill_every;
        }
        sample_rss(&engine);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    for task in dispatchers {
        acknowledged.extend(task.await.expect("dispatcher ends"));
    }
    let dispatched_in = started.elapsed();
    assert_eq!(
        acknowledged.len(),
        total_runs,
        "every dispatcher got its runs acknowledged"
    );

    // Every run the engine holds concludes, while the kills go on.
    let deadline = Instant::now() + Duration::from_secs(600);
    let runs: Vec<Value> = loop {
        if Instant::now() >= next_kill {
            sample_rss(&engine);
            engine.kill_engine();
            engine.respawn().await;
            kills += 1;
            next_kill = Instant::now() + kill_every;
        }
        sample_rss(&engine);
        let request = shared
            .client
            .get(format!("{}/api/v1/runs", shared.url))
            .bearer_auth(&shared.token);
        if let Outcome::Answered(200, Value::Array(runs)) =
            call(&shared.calls, "list runs", request).await
        {
            let open = runs
                .iter()
                .filter(|run| run["status"] != "completed")
                .count();
            if open == 0 && runs.len() >= total_runs {
                break runs;
            }
            assert!(
                Instant::now() < deadline,
                "{open} of {} runs still open 10 minutes after the last dispatch, e.g. {:#}\n{}",
                runs.len(),
                runs.iter()
                    .find(|run| run["status"] != "completed")
                    .unwrap_or(&Value::Null),
                engine.errors()
            );
        }
        assert!(
            Instant::now() < deadline,
            "the run list was not answered for 10 minutes after the last dispatch\n{}",
            engine.errors()
        );
        // The list grows with the soak: asked once a second, it stays a small part of the load.
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let elapsed = started.elapsed();
    sample_rss(&engine);

    // Every acknowledged run succeeded; the others (their dispatch answer was lost to a kill)
    // ended too, failed with a reason when the engine died before their plan was durable.
    let by_id: HashMap<&str, &Value> = runs
        .iter()
        .filter_map(|run| Some((run["run_id"].as_str()?, run)))
        .collect();
    for (tag, run_id) in &acknowledged {
        let run = by_id
            .get(run_id.as_str())
            .unwrap_or_else(|| panic!("acknowledged run {run_id} ({tag}) is in the list"));
        assert_eq!(run["conclusion"], "success", "run {tag}: {run:#}");
    }
    // Each job ran exactly once: one line in each marker file; an acknowledged run has all three.
    let mut marker_lines: BTreeMap<String, usize> = BTreeMap::new();
    for entry in std::fs::read_dir(&marks).expect("read marks") {
        let entry = entry.expect("a marker");
        let text = std::fs::read_to_string(entry.path()).expect("read a marker");
        marker_lines.insert(
            entry.file_name().to_string_lossy().to_string(),
            text.lines().count(),
        );
    }
    let twice: Vec<_> = marker_lines
        .iter()
        .filter(|(_, lines)| **lines != 1)
        .collect();
    assert!(twice.is_empty(), "jobs that ran more than once: {twice:?}");
    for (tag, _) in &acknowledged {
        for job in ["a", "b", "c"] {
            assert!(
                marker_lines.contains_key(&format!("{tag}.{job}")),
                "job {job} of acknowledged run {tag} left no marker"
            );
        }
    }

    // The engine is healthy at the end.
    let health = shared
        .client
        .get(format!("{}/healthz", shared.url))
        .send()
        .await
        .expect("healthz answers");
    assert_eq!(health.status().as_u16(), 200, "healthz after the soak");

    let calls = shared.calls.lock().unwrap();
    let mut latencies = calls.latencies.clone();
    latencies.sort();
    let jobs = marker_lines.len();
    println!(
        "soak: {} runs acknowledged ({} in the engine), {jobs} jobs, {kills} kills, dispatched in {:.1} s, all concluded in {:.1} s: {:.1} runs/s, {:.1} jobs/s; API calls {} answered, p50 {} ms, p99 {} ms, max {} ms, {} unanswered within {} ms, {} refused while down; engine peak RSS {:.1} MB",
        acknowledged.len(),
        runs.len(),
        dispatched_in.as_secs_f64(),
        elapsed.as_secs_f64(),
        runs.len() as f64 / elapsed.as_secs_f64(),
        jobs as f64 / elapsed.as_secs_f64(),
        latencies.len(),
        percentile(&latencies, 50).as_millis(),
        percentile(&latencies, 99).as_millis(),
        latencies.last().copied().unwrap_or_default().as_millis(),
        calls.unanswered.len(),
        budget.as_millis(),
        calls.refused,
        peak_rss as f64 / 1e6,
    );
    assert!(kills >= 1, "the engine was killed at least once");
    assert!(
        calls.unanswered.is_empty(),
        "{} API calls were not answered within {} ms (a hang), e.g. {:?}",
        calls.unanswered.len(),
        budget.as_millis(),
        &calls.unanswered[..calls.unanswered.len().min(5)]
    );
    assert!(
        calls.errors.is_empty(),
        "unexpected answers: {:?}",
        calls.errors
    );
    assert!(
        peak_rss < max_rss,
        "the engine's resident memory reached {:.1} MB (bound {} MB)",
        peak_rss as f64 / 1e6,
        max_rss / 1024 / 1024
    );
}
