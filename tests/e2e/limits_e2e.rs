//! End to end through the binary: the engine holds under hostile input. Limits are refused before
//! any work with an error naming the limit and the value (a huge matrix, a deep `needs` chain,
//! too many / undeclared / oversized dispatch inputs, an oversized body), a slowloris of 1,100
//! half-sent requests neither blocks the API nor costs a running job its lease, and a flood of
//! requests past the in-flight budget is refused (503) while the job's heartbeats keep its lease.
//!
//! Every wait is bounded. The one time bound on an answer (2 s under the slowloris) is the
//! behaviour under test: an API blocked by half-sent requests answers in tens of seconds.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support;

use support::engine::TestEngine;
use support::{lines, repo_with};

use crate::support::SERIAL;

fn matrix_workflow(jobs: usize, legs: usize) -> String {
    let values: Vec<String> = (0..legs).map(|i| i.to_string()).collect();
    let mut yaml = String::from("on: workflow_dispatch\njobs:\n");
    for j in 0..jobs {
        yaml.push_str(&format!(
            "  j{j}:\n    runs-on: x\n    strategy:\n      matrix:\n        n: [{}]\n    steps:\n      - run: echo\n",
            values.join(", ")
        ));
    }
    yaml
}

fn chain_workflow(length: usize) -> String {
    let mut yaml = String::from("on: workflow_dispatch\njobs:\n");
    for j in 0..length {
        yaml.push_str(&format!("  j{j}:\n    runs-on: x\n"));
        if j > 0 {
            yaml.push_str(&format!("    needs: j{}\n", j - 1));
        }
        yaml.push_str("    steps:\n      - run: echo\n");
    }
    yaml
}

const INPUTS: &str = "on:\n  workflow_dispatch:\n    inputs:\n      name: {type: string, default: x}\n      level: {type: number, default: 1}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ inputs.name }}\n";

fn diagnostics(run: &Value) -> String {
    run["run"]["details"]["diagnostics"].to_string()
}

async fn dispatch_with(
    engine: &TestEngine,
    repo: &Path,
    workflow: &str,
    inputs: Value,
) -> (u16, Value) {
    engine.watch(repo).await;
    engine
        .post_admin(
            "/api/v1/dispatch",
            json!({"protocol_version": protocol::PROTOCOL_VERSION, "repository": repo.display().to_string(),
                   "workflow": workflow, "ref": "main", "inputs": inputs}),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_workflows_are_refused_before_any_work() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("tempdir");
    let huge = matrix_workflow(400, 256);
    let repo = repo_with(
        temp.path(),
        &[
            ("huge.yml", &huge),
            ("wide.yml", &matrix_workflow(20, 251)),
            ("deep.yml", &chain_workflow(101)),
        ],
    );
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;

    // The file (400 jobs × 256 legs) took the engine past 3 GB; now it is refused with
    // the limit named, before a leg exists.
    let started = Instant::now();
    let run_id = engine.dispatch(&repo, "huge.yml").await;
    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "failure", "{run:#}");
    let why = diagnostics(&run);
    assert!(
        why.contains("102400 combinations") && why.contains("expansion limit of 65536"),
        "{why}"
    );
    assert!(run["jobs"].as_array().is_none_or(Vec::is_empty), "{run:#}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "refusing took {:?}",
        started.elapsed()
    );

    let run = engine
        .wait_completed(&engine.dispatch(&repo, "wide.yml").await)
        .await;
    let why = diagnostics(&run);
    assert!(
        why.contains("5020 jobs after matrix expansion") && why.contains("5000 jobs per run"),
        "{why}"
    );

    let run = engine
        .wait_completed(&engine.dispatch(&repo, "deep.yml").await)
        .await;
    let why = diagnostics(&run);
    assert!(
        why.contains("`needs` chain of 101 jobs") && why.contains("limit of 100"),
        "{why}"
    );

    // `slipway check` says the same without an engine.
    let checked = std::process::Command::new(support::engine::BIN)
        .envs(crate::support::user_env())
        .arg("check")
        .arg(repo.join(".github/workflows/huge.yml"))
        .output()
        .expect("run slipway check");
    assert!(!checked.status.success());
    let text = String::from_utf8_lossy(&checked.stdout).to_string()
        + &String::from_utf8_lossy(&checked.stderr);
    assert!(text.contains("expansion limit of 65536"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatch_inputs_are_checked_against_the_declared_ones() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("tempdir");
    let repo = repo_with(temp.path(), &[("inputs.yml", INPUTS)]);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;

    let (status, answer) = dispatch_with(&engine, &repo, "inputs.yml", json!({"nmae": "a"})).await;
    assert_eq!(status, 422, "{answer}");
    let message = answer["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("input `nmae` is not declared")
            && message.contains("declared: name, level"),
        "{answer}"
    );

    let many: serde_json::Map<String, Value> =
        (0..26).map(|i| (format!("i{i}"), json!("v"))).collect();
    let (status, answer) = dispatch_with(&engine, &repo, "inputs.yml", Value::Object(many)).await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|m| m.contains("26 inputs given, more than the limit of 25")),
        "{answer}"
    );

    let (status, answer) = dispatch_with(
        &engine,
        &repo,
        "inputs.yml",
        json!({"name": "x".repeat(70_000)}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|m| m.contains("more than the limit of 65535 characters")),
        "{answer}"
    );

    let (status, answer) =
        dispatch_with(&engine, &repo, "inputs.yml", json!({"name": "octo"})).await;
    assert_eq!(status, 200, "{answer}");

    // The CLI gets the same answer and says it.
    let refused = engine
        .cli()
        .args([
            "dispatch",
            "inputs.yml",
            "--ref",
            "main",
            "--input",
            "nope=1",
            "--repo",
        ])
        .arg(&repo)
        .output()
        .expect("run slipway dispatch");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("input `nope` is not declared"), "{stderr}");

    // `slipway run --input` checks locally too.
    let local = std::process::Command::new(support::engine::BIN)
        .envs(crate::support::user_env())
        .args([
            "run",
            "--workflow",
            ".github/workflows/inputs.yml",
            "--event",
            "workflow_dispatch",
        ])
        .args(["--input", "nope=1", "-C"])
        .arg(&repo)
        .output()
        .expect("run slipway run");
    assert!(!local.status.success());
    let stderr = String::from_utf8_lossy(&local.stderr);
    assert!(stderr.contains("input `nope` is not declared"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bodies_have_per_route_limits() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("tempdir");
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    // 2 MB of JSON to an admin call (limit 1 MiB): refused before it is read.
    let body =
        json!({"protocol_version": protocol::PROTOCOL_VERSION, "pad": "x".repeat(2 * 1024 * 1024)});
    let response = engine
        .client
        .post(format!("{}/api/v1/dispatch", engine.url))
        .bearer_auth(engine.admin_token())
        .json(&body)
        .send()
        .await
        .expect("engine answers");
    assert_eq!(response.status().as_u16(), 413);
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(
        answer["error"]
            .as_str()
            .is_some_and(|m| m.contains("limit of 1048576 bytes")),
        "{answer}"
    );
    // A chunked body (no length) past the limit is cut off too.
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", engine.port))
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/dispatch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        engine.admin_token()
    );
    stream.write_all(head.as_bytes()).await.expect("send head");
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..48 {
        // The engine may close the connection once the limit is passed.
        if stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .is_err()
            || stream.write_all(&chunk).await.is_err()
            || stream.write_all(b"\r\n").await.is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stream.read(&mut buffer).await {
            if read == 0 {
                break;
            }
            answer.extend_from_slice(&buffer[..read]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    })
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413") || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_neither_blocks_the_api_nor_costs_a_lease() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("tempdir");
    let marker = temp.path().join("ran");
    let workflow = format!(
        "on: workflow_dispatch\njobs:\n  slow:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo once >> '{}' && sleep 8\n",
        marker.display()
    );
    let repo = repo_with(temp.path(), &[("slow.yml", &workflow)]);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .lease_seconds(2)
        .start()
        .await;
    let run_id = engine.dispatch(&repo, "slow.yml").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&marker).is_empty() {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 1,100 requests that never finish their headers (the slowloris), more than the
    // listener's connection caps.
    let mut half_sent = Vec::new();
    for _ in 0..1100 {
        let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", engine.port)).await
        else {
            continue;
        };
        let _ = stream
            .write_all(b"POST /api/v1/dispatch HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            .await;
        half_sent.push(stream);
    }
    assert!(
        half_sent.len() >= 1000,
        "only {} connections opened",
        half_sent.len()
    );

    // The API keeps answering, each call within 2 s, while they hang (fresh connections each time).
    for _ in 0..5 {
        let fresh = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        let asked = Instant::now();
        let answer = tokio::time::timeout(
            Duration::from_secs(2),
            fresh
                .get(format!("{}/api/v1/runs/{run_id}", engine.url))
                .bearer_auth(engine.admin_token())
                .send(),
        )
        .await;
        assert!(
            matches!(answer, Ok(Ok(ref response)) if response.status().is_success()),
            "the API did not answer within 2 s under the slowloris ({:?}): {answer:?}",
            asked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    let run = engine.wait_completed(&run_id).await;
    drop(half_sent);
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(lines(&marker), vec!["once"], "the job ran exactly once");
    assert_eq!(
        support::job(&run, "slow")["attempt"],
        1,
        "its heartbeats kept the lease: {run:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_is_refused_while_heartbeats_keep_the_lease() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("tempdir");
    let marker = temp.path().join("ran");
    let workflow = format!(
        "on: workflow_dispatch\njobs:\n  slow:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo once >> '{}' && sleep 8\n",
        marker.display()
    );
    let repo = repo_with(temp.path(), &[("slow.yml", &workflow)]);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .lease_seconds(2)
        .start()
        .await;
    let run_id = engine.dispatch(&repo, "slow.yml").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&marker).is_empty() {
        assert!(Instant::now() < deadline, "the job never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 600 authenticated requests whose bodies never finish, from three loopback addresses (each
    // under the per-address connection cap): more than the 512 requests handled at once.
    let token = engine.admin_token();
    let mut flood = Vec::new();
    for i in 0..600u16 {
        let last = 2 + u8::try_from(i % 3).unwrap();
        let source = std::net::SocketAddr::from(([127, 0, 0, last], 0));
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind(source).expect("bind a loopback address");
        let Ok(mut stream) = socket
            .connect(std::net::SocketAddr::from(([127, 0, 0, 1], engine.port)))
            .await
        else {
            continue;
        };
        let head = format!(
            "POST /api/v1/dispatch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"protocol_version\""
        );
        if stream.write_all(head.as_bytes()).await.is_ok() {
            flood.push(stream);
        }
    }
    assert!(flood.len() >= 550, "only {} requests sent", flood.len());

    // The budget is spent: an ordinary call is refused at once, with Retry-After.
    let refused = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = tokio::time::timeout(
            Duration::from_secs(2),
            engine
                .client
                .get(format!("{}/api/v1/runs/{run_id}", engine.url))
                .send(),
        )
        .await;
        let answer = answer
            .expect("answered within 2 s under the flood")
            .expect("an answer");
        if answer.status().as_u16() == 503 {
            assert!(answer.headers().contains_key("retry-after"));
            break;
        }
        assert!(
            Instant::now() < refused,
            "the flood never filled the budget"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Three lease periods under the flood: the job's heartbeats have their own budget.
    tokio::time::sleep(Duration::from_secs(6)).await;
    drop(flood);

    let run = engine.wait_completed(&run_id).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert_eq!(lines(&marker), vec!["once"], "the job ran exactly once");
    assert_eq!(
        support::job(&run, "slow")["attempt"],
        1,
        "its heartbeats kept the lease through the flood: {run:#}"
    );
}
