//! `slipway runner` (run jobs for an engine) and `slipway runner register` (trade a one-time
//! registration token for a runner credential): thin wrappers over `runner::agent`.
//!
//! This file must not run steps or speak the protocol itself: the agent does both.

use std::path::PathBuf;
use std::time::Duration;

use runner::agent::{self, AgentOptions, RunnerConfig};
use runner::executor::ExecutorOptions;
use tokio_util::sync::CancellationToken;

use crate::exit;

/// Set by `slipway serve` on its embedded runners: the runner exits when this process (its
/// parent) is gone, so a killed engine leaves no orphans behind.
pub const EXIT_WITH_PARENT: &str = "SLIPWAY_EXIT_WITH_PARENT";

/// The labels a runner carries unless told otherwise: `ubuntu-latest` too, so that ordinary
/// workflows (`runs-on: ubuntu-latest`) run on it.
pub fn default_labels() -> Vec<String> {
    ["self-hosted", "linux", "x64", "ubuntu-latest"]
        .map(str::to_string)
        .to_vec()
}

/// Everything `slipway runner` was asked.
#[derive(Debug, Clone)]
pub struct RunnerRequest {
    pub engine: Option<String>,
    pub labels: Option<Vec<String>>,
    pub capacity: Option<u32>,
    pub work_dir: Option<PathBuf>,
    pub config: PathBuf,
    pub once: bool,
    /// `--checkout engine`: always fetch the job's commit from the engine.
    pub checkout_from_engine: bool,
}

/// Everything `slipway runner register` was asked.
#[derive(Debug, Clone)]
pub struct RegisterRequest {
    pub engine: String,
    pub token: String,
    pub name: Option<String>,
    pub labels: Option<Vec<String>>,
    pub capacity: u32,
    pub config: PathBuf,
}

pub fn register(request: RegisterRequest) -> i32 {
    let name = request.name.clone().unwrap_or_else(|| {
        std::env::var("HOSTNAME").unwrap_or_else(|_| "slipway-runner".to_string())
    });
    let labels = request.labels.clone().unwrap_or_else(default_labels);
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

pub fn run(request: RunnerRequest) -> i32 {
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
    let mut executor = ExecutorOptions::new(work_dir);
    executor.runner_name = config.name.clone();
    let mut options = AgentOptions::new(config, executor);
    options.once = request.once;
    if request.checkout_from_engine {
        options.checkout_source = runner::agent::CheckoutSource::Engine;
    }
    let shutdown = options.shutdown.clone();
    let outcome = block_on(async move {
        spawn_stop_watchers(shutdown);
        agent::run_agent(options).await
    });
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

/// Ctrl-C or SIGTERM stops polling (running jobs still finish and report); a vanished parent
/// (see `EXIT_WITH_PARENT`) ends the process at once.
fn spawn_stop_watchers(shutdown: CancellationToken) {
    let on_signal = shutdown.clone();
    tokio::spawn(async move {
        let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match terminate {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        on_signal.cancel();
    });
    let parent: Option<u32> = std::env::var(EXIT_WITH_PARENT)
        .ok()
        .and_then(|pid| pid.parse().ok());
    if let Some(parent) = parent {
        tokio::spawn(async move {
            loop {
                if std::os::unix::process::parent_id() != parent {
                    eprintln!("runner: the engine process {parent} is gone; exiting");
                    std::process::exit(exit::FAILURE);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }
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
