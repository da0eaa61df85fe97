//! End to end through the binary: a full disk (issue 22). The engine's data dir is a 20 MiB
//! tmpfs; a step prints 100 MB. The log stops short of filling the disk (its output is dropped
//! with a notice, the job goes on and succeeds), `/healthz` says the disk is short; with the disk
//! then filled by another file, a dispatch fails with a clear error (507) and nothing else; once
//! the filler files are deleted the engine is healthy again by itself within seconds and a new
//! run passes.
//!
//! Mounting needs root (or the capability); where `mount` is refused the test says so loudly on
//! stderr and passes without running.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::engine::TestEngine;
use crate::support::{SERIAL, repo_with};

const MIB: u64 = 1024 * 1024;

/// A tmpfs mounted on a directory, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|error| format!("run mount: {error}"))?;
        if output.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    let stat = nix::sys::statvfs::statvfs(dir).expect("statvfs");
    stat.blocks_available() * stat.fragment_size()
}

/// Writes a file of `bytes` bytes (stopping early if the disk is full).
fn fill(path: &Path, bytes: u64) {
    let mut file = std::fs::File::create(path).expect("create filler");
    let block = vec![b'f'; 64 * 1024];
    let mut written = 0;
    while written < bytes {
        let size = (bytes - written).min(block.len() as u64) as usize;
        if file.write_all(&block[..size]).is_err() {
            break;
        }
        written += size as u64;
    }
    let _ = file.sync_all();
}

async fn healthz(engine: &TestEngine) -> (u16, String) {
    let response = engine
        .client
        .get(format!("{}/healthz", engine.url))
        .send()
        .await
        .expect("healthz answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Polls `/healthz` (bounded) until its status is `status` and its body holds `text`; the body.
async fn wait_health(engine: &TestEngine, status: u16, text: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        let (now, body) = healthz(engine).await;
        if now == status && body.contains(text) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "healthz still {now} ({body:?}) after {within:?}, wanted {status}\n{}",
            engine.errors()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_one_operation_keeps_logs_bounded_and_recovers_by_itself() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let _tmpfs = match Tmpfs::mount(&data, "20m") {
        Ok(mounted) => mounted,
        Err(reason) => {
            eprintln!(
                "SKIPPED disk_e2e::a_full_disk_fails_one_operation_keeps_logs_bounded_and_recovers_by_itself: cannot mount a tmpfs here ({reason})"
            );
            return;
        }
    };
    let repo = repo_with(
        temp.path(),
        &[
            (
                "flood.yml",
                "on: workflow_dispatch\njobs:\n  flood:\n    runs-on: ubuntu-latest\n    steps:\n      - run: yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -n 1000000\n      - run: echo the job goes on\n",
            ),
            (
                "ok.yml",
                "on: workflow_dispatch\njobs:\n  ok:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo fine after the flood\n",
            ),
        ],
    );
    let engine = TestEngine::builder(&data).runners(1).start().await;
    engine.watch(&repo).await;
    assert_eq!(healthz(&engine).await.0, 200, "healthy at the start");

    // Part of the disk is taken by something else; the step's 100 MB meets the rest.
    let filler = data.join("filler-1");
    fill(&filler, 6 * MIB);
    let flood = engine.dispatch(&repo, "flood.yml").await;
    let run = engine
        .wait_run_within(
            &flood,
            "the flood to end",
            Duration::from_secs(300),
            |run| run["run"]["status"] == "completed",
        )
        .await;
    assert_eq!(
        run["run"]["conclusion"], "success",
        "the job goes on: {run:#}"
    );
    let log = engine.log(&flood, "flood").await;
    assert!(
        log.contains("no space left for logs on the data dir's disk"),
        "the log says why it stops: {}",
        &log[log.len().saturating_sub(2000)..]
    );
    assert!(
        (log.len() as u64) < 20 * MIB,
        "the log stays bounded: {} bytes",
        log.len()
    );
    let body = wait_health(
        &engine,
        503,
        "job output is dropped",
        Duration::from_secs(15),
    )
    .await;
    assert!(body.contains("bytes free"), "{body}");

    // The disk is all but full: a store write is refused before the database sees it, with a
    // clear error, and only that operation fails.
    let filler_2 = data.join("filler-2");
    fill(&filler_2, free_bytes(&data).saturating_sub(MIB));
    let (status, answer) = engine
        .post_admin(
            "/api/v1/dispatch",
            json!({"protocol_version": protocol::PROTOCOL_VERSION,
                   "repository": repo.display().to_string(),
                   "workflow": "ok.yml", "ref": "main"}),
        )
        .await;
    assert_eq!(status, 507, "{answer}");
    let message = answer["error"].as_str().unwrap_or_default();
    assert!(
        message.contains("bytes free") && message.contains(&data.display().to_string()),
        "{answer}"
    );
    let refused = engine
        .cli()
        .args(["dispatch", "ok.yml", "--ref", "main", "--repo"])
        .arg(&repo)
        .output()
        .expect("run slipway dispatch");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("bytes free"), "{stderr}");
    wait_health(
        &engine,
        503,
        "store writes are refused",
        Duration::from_secs(15),
    )
    .await;
    // Reads still work.
    let runs = engine.get("/api/v1/runs").await;
    assert!(
        runs.as_array().is_some_and(|runs| !runs.is_empty()),
        "{runs}"
    );

    // Space comes back: the engine recovers by itself, with no restart.
    std::fs::remove_file(&filler).expect("remove filler");
    std::fs::remove_file(&filler_2).expect("remove filler");
    let freed = Instant::now();
    wait_health(&engine, 200, "ok", Duration::from_secs(10)).await;
    let ok = engine.dispatch(&repo, "ok.yml").await;
    let run = engine.wait_completed(&ok).await;
    assert_eq!(run["run"]["conclusion"], "success", "{run:#}");
    assert!(
        engine.log(&ok, "ok").await.contains("fine after the flood"),
        "the new run's log is whole"
    );
    eprintln!(
        "disk_e2e: healthy again and a new run passed {:?} after space was freed",
        freed.elapsed()
    );
}
