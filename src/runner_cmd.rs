//! `slipway runner` (run jobs for an engine) and `slipway runner register` (trade a one-time
//! registration token for a runner credential): thin wrappers over `runner::agent`.
//!
//! This file must not run steps or speak the protocol itself: the agent does both.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use runner::agent::{self, AgentOptions, RunnerConfig};
use runner::executor::ExecutorOptions;
use tokio_util::sync::CancellationToken;

use crate::exit;

/// Set by `slipway serve` on its embedded runners. They outlive a killed engine (they finish
/// the step in progress, keep its result and reconnect; the restarted `serve` adopts them), but
/// exit once their runner directory is gone (the data dir was removed), so no orphan polls for
/// ever.
pub(crate) const EMBEDDED: &str = "SLIPWAY_EMBEDDED_RUNNER";
/// Set by `serve` for the runners it starts: the umask (octal) to run steps with, since `serve`
/// itself runs with 077 to keep its data dir private.
pub(crate) const UMASK: &str = "SLIPWAY_RUNNER_UMASK";

/// How often an embedded runner checks that its config file still exists.
const CONFIG_CHECK: Duration = Duration::from_secs(2);

/// The labels a runner carries unless told otherwise: `ubuntu-latest` too, so that ordinary
/// workflows (`runs-on: ubuntu-latest`) run on it.
pub(crate) fn default_labels() -> Vec<String> {
    ["self-hosted", "linux", "x64", "ubuntu-latest"]
        .map(str::to_string)
        .to_vec()
}

/// `labels` plus `docker` when a Docker engine answers here: such a runner takes the jobs with
/// `container:` or `services:`.
pub(crate) async fn with_docker_label(mut labels: Vec<String>) -> Vec<String> {
    if !labels
        .iter()
        .any(|label| label.eq_ignore_ascii_case("docker"))
        && runner::executor::container::docker_available().await
    {
        labels.push("docker".to_string());
    }
    labels
}

/// Everything `slipway runner` was asked.
#[derive(Debug, Clone)]
pub(crate) struct RunnerRequest {
    pub engine: Option<String>,
    pub labels: Option<Vec<String>>,
    pub capacity: Option<u32>,
    pub work_dir: Option<PathBuf>,
    pub config: PathBuf,
    pub once: bool,
    /// `--checkout engine`: always fetch the job's commit from the engine.
    pub checkout_from_engine: bool,
    /// `--toolkit-env-in-run-steps`: `run:` steps get the toolkit env too.
    pub toolkit_env_in_run_steps: bool,
}

/// Everything `slipway runner register` was asked.
#[derive(Debug, Clone)]
pub(crate) struct RegisterRequest {
    pub engine: String,
    pub token: String,
    pub name: Option<String>,
    pub labels: Option<Vec<String>>,
    pub capacity: u32,
    pub config: PathBuf,
}

pub(crate) fn register(request: RegisterRequest) -> i32 {
    if let Err(error) = ::client::parse_engine_urls(&request.engine) {
        eprintln!("error: --engine: {error}");
        return exit::USAGE;
    }
    let name = request.name.clone().unwrap_or_else(|| {
        std::env::var("HOSTNAME").unwrap_or_else(|_| "slipway-runner".to_string())
    });
    let labels = request.labels.clone().unwrap_or_else(default_labels);
    let labels = block_on(with_docker_label(labels.clone())).unwrap_or(labels);
    let outcome = block_on(agent::register(
        &request.engine,
        &request.token,
        &name,
        &labels,
        request.capacity.max(1),
        &request.config,
    ));
    match outcome {
        Some(Ok(config)) => {
            println!(
                "registered runner {} ({}); config written to {}",
                config.name,
                config.runner_id,
                request.config.display()
            );
            exit::SUCCESS
        }
        Some(Err(error)) => {
            eprintln!("error: {error}");
            exit::ENGINE
        }
        None => exit::FAILURE,
    }
}

pub(crate) fn run(request: RunnerRequest) -> i32 {
    if let Some(mask) = std::env::var(UMASK)
        .ok()
        .and_then(|text| u32::from_str_radix(text.trim(), 8).ok())
    {
        nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
    }
    let mut config = match RunnerConfig::load(&request.config) {
        Ok(config) => config,
        Err(error) => {
            eprintln!(
                "error: {error} (register first: slipway runner register --engine URL --token TOKEN --config {})",
                request.config.display()
            );
            return exit::USAGE;
        }
    };
    if let Some(engine) = &request.engine {
        config.engine_url = engine.clone();
    }
    // One URL or several replicas' (comma-separated), each checked before anything starts.
    if let Err(error) = ::client::parse_engine_urls(&config.engine_url) {
        let from = if request.engine.is_some() {
            "--engine".to_string()
        } else {
            format!("engine_url in {}", request.config.display())
        };
        eprintln!("error: {from}: {error}");
        return exit::USAGE;
    }
    if let Some(labels) = &request.labels {
        config.labels = labels.clone();
    }
    if let Some(capacity) = request.capacity {
        config.capacity = capacity.max(1);
    }
    let work_dir = request.work_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir()
            .join("slipway-runner")
            .join(&config.name)
    });
    // One runner process per work dir: the step records below are this process's alone.
    let _lock = match runner::workdir_lock::WorkDirLock::acquire(&work_dir, &config.engine_url) {
        Ok(lock) => lock,
        Err(error) => {
            eprintln!("error: {error}");
            return exit::FAILURE;
        }
    };
    // Steps a crashed runner on this dir left running can no longer report: end them before
    // taking work (the engine re-queues their jobs once their leases expire).
    let records = runner::executor::groups::records_dir(&work_dir);
    for pgid in runner::executor::groups::kill_recorded(&records) {
        eprintln!("runner: killed the process group {pgid} a previous runner process left");
    }
    // The guard kills this runner's steps should the runner die without doing it itself.
    let _guard = spawn_step_guard(&records);
    let mut executor = ExecutorOptions::new(work_dir);
    executor.runner_name = config.name.clone();
    executor.toolkit_env_in_run_steps = request.toolkit_env_in_run_steps;
    executor.runner_id = config.runner_id.clone();
    let runner_id = config.runner_id.clone();
    let mut options = AgentOptions::new(config, executor);
    options.once = request.once;
    if request.checkout_from_engine {
        options.checkout_source = runner::agent::CheckoutSource::Engine;
    }
    let shutdown = options.shutdown.clone();
    let watched_config = std::env::var_os(EMBEDDED).map(|_| request.config.clone());
    let watched_records = records.clone();
    let outcome = block_on(async move {
        remove_docker_leftovers(&options.executor.runner_id).await;
        spawn_stop_watchers(shutdown, watched_config, watched_records);
        agent::run_agent(options).await
    });
    // Nor does any of its containers.
    block_on(remove_docker_leftovers(&runner_id));
    // However the agent ended, no step of this runner outlives it.
    runner::executor::groups::kill_recorded(&records);
    match outcome {
        Some(Ok(summary)) => {
            eprintln!(
                "runner stopped: {} jobs finished, {} lost",
                summary.jobs_finished, summary.jobs_lost
            );
            exit::SUCCESS
        }
        Some(Err(error)) => {
            eprintln!("error: {error}");
            exit::ENGINE
        }
        None => exit::FAILURE,
    }
}

/// Removes the containers and networks this runner's jobs left (a runner killed mid-job cannot
/// remove them itself). Without a Docker engine there is nothing to remove.
async fn remove_docker_leftovers(runner_id: &str) {
    if !runner::executor::container::docker_available().await {
        return;
    }
    match runner::executor::container::remove_leftovers(runner_id).await {
        Ok(0) => {}
        Ok(removed) => {
            eprintln!(
                "runner: removed {removed} containers and networks a previous runner process left"
            )
        }
        Err(error) => eprintln!("runner: removing leftover containers failed: {error}"),
    }
}

/// Ctrl-C or SIGTERM stops polling (running jobs still finish and report); a second one ends
/// the process at once, its steps' process groups killed first. An embedded runner (see
/// `EMBEDDED`) whose config file is gone exits at once; its steps are killed by the guard.
fn spawn_stop_watchers(
    shutdown: CancellationToken,
    watched_config: Option<PathBuf>,
    records: PathBuf,
) {
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match terminate {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                on_signal.cancel();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                eprintln!("runner: stopped again; killing its steps and exiting");
                runner::executor::groups::kill_recorded(&records);
                std::process::exit(exit::FAILURE);
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                on_signal.cancel();
            }
        }
    });
    if let Some(config) = watched_config {
        tokio::spawn(async move {
            loop {
                if !config.exists() {
                    eprintln!(
                        "runner: its config {} is gone (data dir removed); exiting",
                        config.display()
                    );
                    std::process::exit(exit::FAILURE);
                }
                tokio::time::sleep(CONFIG_CHECK).await;
            }
        });
    }
}

/// Starts `slipway runner --guard-steps-of RECORDS` with a pipe on its stdin; the returned
/// handle holds the pipe's write end. When this process ends, however it ends, the kernel
/// closes the pipe and the guard kills every step process group still recorded. `None` (with a
/// warning) when the guard cannot start: the runner still kills its steps when it stops itself.
fn spawn_step_guard(records: &Path) -> Option<std::process::ChildStdin> {
    let started = std::env::current_exe().and_then(|exe| {
        std::process::Command::new(exe)
            .arg("runner")
            .arg("--guard-steps-of")
            .arg(records)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            // Its own process group: a signal to the runner's group must not end the guard first.
            .process_group(0)
            .spawn()
    });
    match started {
        Ok(mut child) => child.stdin.take(),
        Err(error) => {
            eprintln!("warning: failed to start the step guard: {error}");
            None
        }
    }
}

/// `slipway runner --guard-steps-of RECORDS` (internal): waits until its stdin closes (its
/// runner ended), then kills the step process groups recorded under `RECORDS`.
pub(crate) fn guard_steps(records: &Path) -> i32 {
    use std::io::Read;
    let mut sink = [0u8; 64];
    let mut stdin = std::io::stdin();
    while matches!(stdin.read(&mut sink), Ok(read) if read > 0) {}
    for pgid in runner::executor::groups::kill_recorded(records) {
        eprintln!("runner guard: killed the step process group {pgid} its runner left");
    }
    exit::SUCCESS
}

fn block_on<F: std::future::Future>(future: F) -> Option<F::Output> {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime.block_on(future)),
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            None
        }
    }
}
