//! `slipway serve`: the engine, its HTTP API, the run orchestrator and N embedded runner
//! processes (this binary's `runner` subcommand), supervised until Ctrl-C or SIGTERM. With
//! `--demo` it creates a demo repository from the embedded example workflows and runs them.
//!
//! This file only wires the engine's library pieces together and supervises processes; it plans
//! nothing itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use engine::dispatch::{Engine, EngineConfig};
use engine::orchestrator::{Orchestrator, RunRequest, ensure_admin_token};
use engine::store::create_registration_token;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use crate::exit;

/// Everything `slipway serve` was asked.
#[derive(Debug, Clone)]
pub struct ServeRequest {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub runners: usize,
    pub repos: Vec<PathBuf>,
    pub lease_seconds: u64,
    pub demo: bool,
    /// Where a JSON body is POSTed when a run completes.
    pub notify_url: Option<String>,
    /// Deployment time from a file (see `engine::deploy::Clock`).
    pub clock_file: Option<PathBuf>,
}

/// The example workflows the demo repository holds.
const DEMO_WORKFLOWS: &[(&str, &str)] = &[
    (
        "conditions.yml",
        include_str!("../workflows/examples/conditions.yml"),
    ),
    ("dag.yml", include_str!("../workflows/examples/dag.yml")),
    (
        "deploy.yml",
        include_str!("../workflows/examples/deploy.yml"),
    ),
    (
        "env-files.yml",
        include_str!("../workflows/examples/env-files.yml"),
    ),
    (
        "matrix.yml",
        include_str!("../workflows/examples/matrix.yml"),
    ),
    (
        "timeouts-and-cleanup.yml",
        include_str!("../workflows/examples/timeouts-and-cleanup.yml"),
    ),
];

pub fn run(request: ServeRequest) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return exit::FAILURE;
        }
    };
    match runtime.block_on(serve(request)) {
        Ok(()) => exit::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            exit::FAILURE
        }
    }
}

async fn serve(request: ServeRequest) -> Result<(), String> {
    let data_dir = absolute(&request.data_dir);
    std::fs::create_dir_all(&data_dir)
        .map_err(|error| format!("create data dir {}: {error}", data_dir.display()))?;
    ensure_admin_token(&data_dir).map_err(|error| {
        format!(
            "write the admin token under {}: {error}",
            data_dir.display()
        )
    })?;
    let mut config = EngineConfig::new(&data_dir);
    config.lease_duration = Duration::from_secs(request.lease_seconds.max(1));
    if let Some(path) = &request.clock_file {
        config.clock = engine::deploy::Clock::File(path.clone());
    }
    let (engine, events) = Engine::open(config)
        .await
        .map_err(|error| format!("open the engine store: {error}"))?;
    let orchestrator = Orchestrator::start(engine.clone(), events)
        .await
        .map_err(|error| format!("resume unfinished runs: {error}"))?;
    // Watched repositories: hook and webhook intake, polling and schedules start runs through
    // the orchestrator.
    let repos = engine::repos::Repos::new(engine.clone(), Arc::new(orchestrator.clone()));
    let repos_shutdown = CancellationToken::new();
    let _repos_task = repos.spawn(repos_shutdown.clone());
    if let Some(url) = &request.notify_url {
        let _notifier = engine::repos::spawn_completion_notifier(
            engine.clone(),
            url.clone(),
            repos_shutdown.clone(),
        );
    }
    let server = engine::api::serve_with_repos(orchestrator.clone(), repos, request.listen)
        .await
        .map_err(|error| format!("listen on {}: {error}", request.listen))?;
    let url = server.url();
    println!("slipway engine listening on {url}");
    println!("data directory: {}", data_dir.display());

    let stop = CancellationToken::new();
    let mut supervisors = Vec::new();
    for index in 0..request.runners {
        let runner_dir = data_dir
            .join("runners")
            .join(format!("runner-{}", index + 1));
        let config_path = runner_dir.join("config.toml");
        if !config_path.exists() {
            let token = create_registration_token(engine.store())
                .await
                .map_err(|error| format!("make a registration token: {error}"))?;
            runner::agent::register(
                &url,
                &token,
                &format!("embedded-{}", index + 1),
                &crate::runner_cmd::default_labels(),
                1,
                &config_path,
            )
            .await
            .map_err(|error| format!("register embedded runner {}: {error}", index + 1))?;
        }
        supervisors.push(tokio::spawn(supervise_runner(
            url.clone(),
            runner_dir,
            config_path,
            stop.clone(),
        )));
    }

    let mut repos = request.repos.clone();
    if request.demo {
        let demo = data_dir.join("demo-repo");
        create_demo_repo(&demo)?;
        repos.push(demo);
    }
    let mut started_any = false;
    for repo in &repos {
        for file in workflow_files(repo) {
            let started = orchestrator
                .start_run(RunRequest {
                    sha: None,
                    repository: absolute(repo),
                    workflow: file.clone(),
                    event_name: "push".to_string(),
                    git_ref: "HEAD".to_string(),
                    inputs: Vec::new(),
                    payload: None,
                })
                .await;
            match started {
                Ok(run) => {
                    started_any = true;
                    println!("started {file} #{} as run {}", run.run_number, run.run_id);
                }
                Err(error) => eprintln!("warning: {}: {file}: {error}", repo.display()),
            }
        }
    }
    if started_any {
        println!("follow them with `slipway runs` and `slipway logs RUN -f`");
    }

    wait_for_stop_signal().await;
    println!("stopping: runners get SIGTERM");
    stop.cancel();
    repos_shutdown.cancel();
    for supervisor in supervisors {
        let _ = supervisor.await;
    }
    engine.shutdown();
    server.stop().await;
    Ok(())
}

/// Keeps one embedded runner process alive: restarts it when it dies (1 s, doubling, at most
/// 30 s between tries), stops it with SIGTERM (then SIGKILL after 10 s) when `stop` fires.
async fn supervise_runner(
    url: String,
    runner_dir: PathBuf,
    config_path: PathBuf,
    stop: CancellationToken,
) {
    let mut backoff = Duration::from_secs(1);
    loop {
        let mut child = match spawn_runner(&url, &runner_dir, &config_path) {
            Ok(child) => child,
            Err(error) => {
                eprintln!("warning: start runner {}: {error}", runner_dir.display());
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        let started = tokio::time::Instant::now();
        tokio::select! {
            status = child.wait() => {
                eprintln!("warning: runner {} exited ({}); restarting", runner_dir.display(),
                    status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()));
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = Duration::from_secs(1);
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            _ = stop.cancelled() => {
                terminate(&mut child).await;
                return;
            }
        }
    }
}

fn spawn_runner(url: &str, runner_dir: &Path, config_path: &Path) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    Command::new(exe)
        .arg("runner")
        .arg("--engine")
        .arg(url)
        .arg("--config")
        .arg(config_path)
        .arg("--work-dir")
        .arg(runner_dir.join("work"))
        .env(
            crate::runner_cmd::EXIT_WITH_PARENT,
            std::process::id().to_string(),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
}

async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

async fn wait_for_stop_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// The workflow files of a repository at HEAD's working tree listing (`.github/workflows`); the
/// orchestrator reads each at the commit.
fn workflow_files(repo: &Path) -> Vec<String> {
    let dir = repo.join(".github").join("workflows");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.ends_with(".yml") || name.ends_with(".yaml"))
        .collect();
    files.sort();
    files
}

/// Creates the demo repository once: the example workflows, committed on `main`.
fn create_demo_repo(dir: &Path) -> Result<(), String> {
    if dir.join(".git").exists() {
        return Ok(());
    }
    let fail = |error: &dyn std::fmt::Display| {
        format!("create the demo repository {}: {error}", dir.display())
    };
    let workflows_dir = dir.join(".github").join("workflows");
    std::fs::create_dir_all(&workflows_dir).map_err(|e| fail(&e))?;
    for (name, text) in DEMO_WORKFLOWS {
        std::fs::write(workflows_dir.join(name), text).map_err(|e| fail(&e))?;
    }
    std::fs::write(
        dir.join("README.md"),
        "A demo repository made by `slipway serve --demo`.\n",
    )
    .map_err(|e| fail(&e))?;
    let repo =
        git2::Repository::init_opts(dir, git2::RepositoryInitOptions::new().initial_head("main"))
            .map_err(|e| fail(&e))?;
    let mut index = repo.index().map_err(|e| fail(&e))?;
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .map_err(|e| fail(&e))?;
    index.write().map_err(|e| fail(&e))?;
    let tree_id = index.write_tree().map_err(|e| fail(&e))?;
    let tree = repo.find_tree(tree_id).map_err(|e| fail(&e))?;
    let signature = git2::Signature::now("slipway", "slipway@localhost").map_err(|e| fail(&e))?;
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        "Demo workflows",
        &tree,
        &[],
    )
    .map_err(|e| fail(&e))?;
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}
