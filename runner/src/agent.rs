//! The runner process's loop: long-poll the engine for jobs while a slot is free, run each with
//! the executor, and report back: log lines in batched, numbered chunks, step events,
//! heartbeats every third of the lease (cancel requests come back on them), and the result.
//!
//! Reports outlive an engine restart (or an engine killed and started again): the step in
//! progress runs on, its reports are buffered and retried until the engine answers (at most
//! `RECONNECT_MAX_DELAY` apart; log text up to `MAX_BUFFERED_LOG_BYTES` per job), and the
//! restarted engine accepts them under the same lease;
//! when it answers that the lease is gone (409/403/404) the job is cancelled and its reports
//! dropped, since another runner owns it now.
//!
//! The engine may be several replicas on one database: `engine_url` is then a comma-separated
//! list, and every call (polls, heartbeats, logs, the result, artifacts) goes to the URL that
//! answered last, moving to the next one when it is down (the `client` crate's failover). A job
//! whose replica dies mid-step reports to another under the same lease.
//!
//! This module must not speak HTTP itself (that is `client`) nor run steps (that is `executor`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use protocol::wire::{Lease, LineTime, LogChunk, PhaseApproval};
use protocol::{JobEvent, JobResult, JobSpec};
use serde::{Deserialize, Serialize};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::executor::{
    DeploymentGate, ExecutorOptions, GateFuture, reachable_locally, run_job_with_gate,
    sanitise_path_component, unpack_source,
};
use client::{ClientError, EngineClient};

/// The longest wait between two tries to reach an engine that does not answer (polls and
/// reports alike): short, so that a restarted engine sees its runners, and their finished jobs,
/// within a second of coming back.
const RECONNECT_MAX_DELAY: Duration = Duration::from_millis(500);

/// What a registered runner needs to talk to its engine; written by `register` (mode 0600).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunnerConfig {
    /// The engine's base URL, e.g. `http://127.0.0.1:8080`, or several URLs of one engine's
    /// replicas separated by commas (`http://a:7766,http://b:7766`), tried in that order.
    pub engine_url: String,
    /// The id the engine gave this runner when it registered.
    pub runner_id: String,
    /// The secret the runner authenticates to the engine with (why the file is mode 0600).
    pub credential: String,
    /// The runner's name, shown in the engine's runner list.
    pub name: String,
    /// The labels jobs' `runs-on:` are matched against.
    pub labels: Vec<String>,
    /// How many jobs the runner runs at once (at least one).
    pub capacity: u32,
    /// Node executables for JavaScript actions by version (`node20 = "/usr/bin/node"`);
    /// none: `node` on the step's `PATH`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node12: Option<PathBuf>,
    /// Node executable for actions written for node 16.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node16: Option<PathBuf>,
    /// Node executable for actions written for node 20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node20: Option<PathBuf>,
    /// Node executable for actions written for node 24.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node24: Option<PathBuf>,
    /// Fail an action written for a node version not configured, instead of running it on
    /// another one with a warning.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub node_strict: bool,
}

/// Why the agent (registering, polling, or its config file) failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The runner config file could not be read, parsed or written.
    #[error("read or write runner config {path}: {message}")]
    Config {
        /// The config file's path.
        path: PathBuf,
        /// What went wrong with it (the I/O or TOML error).
        message: String,
    },
    /// The engine refused or failed the registration.
    #[error("register with the engine: {0}")]
    Register(#[source] ClientError),
    /// Asking the engine for the next job failed (for example a refused credential).
    #[error("poll the engine for work: {0}")]
    Poll(#[source] ClientError),
    /// The engine client could not be built (for example an invalid engine URL).
    #[error("set up the engine client: {0}")]
    Client(#[source] ClientError),
}

impl RunnerConfig {
    /// The configured node executables by major version.
    pub fn node_runtimes(&self) -> indexmap::IndexMap<u32, PathBuf> {
        [
            (12, &self.node12),
            (16, &self.node16),
            (20, &self.node20),
            (24, &self.node24),
        ]
        .into_iter()
        .filter_map(|(version, path)| path.clone().map(|path| (version, path)))
        .collect()
    }

    /// Reads the runner config (TOML) written by `register` from `path`; `Config` error when it
    /// cannot be read or parsed.
    pub fn load(path: &Path) -> Result<RunnerConfig, AgentError> {
        let config_error = |message: String| AgentError::Config {
            path: path.to_path_buf(),
            message,
        };
        let text =
            std::fs::read_to_string(path).map_err(|error| config_error(error.to_string()))?;
        toml::from_str(&text).map_err(|error| config_error(error.to_string()))
    }

    /// Writes the config readable by its owner only: it holds the credential.
    pub fn save(&self, path: &Path) -> Result<(), AgentError> {
        let config_error = |message: String| AgentError::Config {
            path: path.to_path_buf(),
            message,
        };
        let text = toml::to_string(self).map_err(|error| config_error(error.to_string()))?;
        if let Some(parent) = path
            .parent()
            .filter(|parent| !parent.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent).map_err(|error| config_error(error.to_string()))?;
        }
        files::write_private(path, text.as_bytes(), files::Existing::Replace)
            .map_err(|error| config_error(error.to_string()))
    }
}

/// Registers this machine with the engine using a one-time `token` and writes the config
/// (engine URL, runner id, credential) to `config_path` with mode 0600. `engine_url` may list
/// several URLs (comma-separated): the first that answers registers, and the config keeps the
/// whole list.
pub async fn register(
    engine_url: &str,
    token: &str,
    name: &str,
    labels: &[String],
    capacity: u32,
    config_path: &Path,
) -> Result<RunnerConfig, AgentError> {
    let client =
        EngineClient::new(engine_url, None, Duration::from_secs(1)).map_err(AgentError::Client)?;
    let answer = client
        .register(token, name, labels, capacity)
        .await
        .map_err(AgentError::Register)?;
    let config = RunnerConfig {
        engine_url: client.engine_urls().join(","),
        runner_id: answer.runner_id,
        credential: answer.credential,
        name: name.to_string(),
        labels: labels.to_vec(),
        capacity,
        node12: None,
        node16: None,
        node20: None,
        node24: None,
        node_strict: false,
    };
    config.save(config_path)?;
    Ok(config)
}

/// How the agent runs.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// The registered runner's config: engine, identity, labels, capacity, node executables.
    pub config: RunnerConfig,
    /// How jobs are executed: work dir, timeouts and the services the executor uses.
    pub executor: ExecutorOptions,
    /// Take one job, run it, report it, return.
    pub once: bool,
    /// Stop polling; running jobs still finish and report.
    pub shutdown: CancellationToken,
    /// How long one `next` call may wait.
    pub long_poll: Duration,
    /// A log chunk is sent once its lines take this many bytes as JSON (default 1 MiB: few
    /// enough requests, each a durable write on the engine, for a step that prints fast; well
    /// under the engine's 2 MiB body limit, since escaping is counted)…
    pub log_batch_bytes: usize,
    /// …or once its first line is this old.
    pub log_batch_interval: Duration,
    /// Where a job's commit comes from (default: `SLIPWAY_CHECKOUT`, else `Auto`).
    pub checkout_source: CheckoutSource,
}

/// Where a runner gets a job's commit for `actions/checkout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckoutSource {
    /// From the repository's path when this machine can open it, else from the engine.
    #[default]
    Auto,
    /// Always from the engine (`SLIPWAY_CHECKOUT=engine`): for runners on other machines, and to
    /// test that path on one machine.
    Engine,
}

impl CheckoutSource {
    /// `SLIPWAY_CHECKOUT`: `engine` forces the engine; anything else (or unset) is `Auto`.
    pub fn from_env() -> CheckoutSource {
        match std::env::var("SLIPWAY_CHECKOUT") {
            Ok(value) if value.trim().eq_ignore_ascii_case("engine") => CheckoutSource::Engine,
            _ => CheckoutSource::Auto,
        }
    }
}

impl AgentOptions {
    /// Options with the defaults: poll until shut down, 30-second long polls, log chunks of 1 MiB
    /// or 50 ms, the checkout source from `SLIPWAY_CHECKOUT`.
    pub fn new(config: RunnerConfig, executor: ExecutorOptions) -> AgentOptions {
        AgentOptions {
            config,
            executor,
            once: false,
            shutdown: CancellationToken::new(),
            long_poll: Duration::from_secs(30),
            log_batch_bytes: 1024 * 1024,
            log_batch_interval: Duration::from_millis(50),
            checkout_source: CheckoutSource::from_env(),
        }
    }
}

/// What the agent did before it returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentSummary {
    /// Jobs whose result the engine accepted.
    pub jobs_finished: usize,
    /// Jobs whose lease was lost before the result was accepted.
    pub jobs_lost: usize,
}

/// How a job ended on this side.
#[derive(Debug, Clone, PartialEq)]
enum JobOutcome {
    Finished(JobResult),
    LeaseLost,
    ShutDown,
}

/// Runs until `options.shutdown` fires (or after one job with `once`), then waits for running
/// jobs to report. A refused credential ends it with an error; other poll failures are retried.
pub async fn run_agent(options: AgentOptions) -> Result<AgentSummary, AgentError> {
    let options = Arc::new(options);
    let client = Arc::new(
        EngineClient::new(
            &options.config.engine_url,
            Some(options.config.credential.clone()),
            options.long_poll,
        )
        .map_err(AgentError::Client)?,
    );
    let slots = Arc::new(Semaphore::new(options.config.capacity.max(1) as usize));
    let shutdown = options.shutdown.clone();
    let mut jobs = JoinSet::new();
    let mut summary = AgentSummary::default();
    let mut poll_delay = Duration::from_millis(100);
    loop {
        while let Some(done) = jobs.try_join_next() {
            tally(&mut summary, done);
        }
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = shutdown.cancelled() => break,
        };
        let polled = tokio::select! {
            polled = client.next(options.long_poll) => polled,
            _ = shutdown.cancelled() => break,
        };
        match polled {
            Ok(Some(lease)) => {
                poll_delay = Duration::from_millis(100);
                tracing::info!(job_id = %lease.job_id, job_key = %lease.spec.job_key, attempt = lease.attempt, "job leased");
                let job_client = client.clone();
                let job_options = options.clone();
                jobs.spawn(async move {
                    let outcome = run_leased_job(&job_client, &job_options, lease).await;
                    drop(permit);
                    outcome
                });
                if options.once {
                    break;
                }
            }
            Ok(None) => {}
            Err(error) if error.is_unauthorized() => return Err(AgentError::Poll(error)),
            Err(error) => {
                // Once per outage, not every half second while the engine is down.
                if poll_delay == Duration::from_millis(100) {
                    tracing::warn!(%error, "polling the engine failed; retrying until it answers");
                } else {
                    tracing::debug!(%error, "polling the engine failed; retrying");
                }
                tokio::select! {
                    _ = tokio::time::sleep(poll_delay) => {}
                    _ = shutdown.cancelled() => break,
                }
                poll_delay = (poll_delay * 2).min(RECONNECT_MAX_DELAY);
            }
        }
    }
    while let Some(done) = jobs.join_next().await {
        tally(&mut summary, done);
    }
    Ok(summary)
}

fn tally(summary: &mut AgentSummary, done: Result<JobOutcome, tokio::task::JoinError>) {
    match done {
        Ok(JobOutcome::Finished(_)) => summary.jobs_finished += 1,
        Ok(JobOutcome::LeaseLost | JobOutcome::ShutDown) => summary.jobs_lost += 1,
        Err(error) => {
            tracing::error!(%error, "a job task failed");
            summary.jobs_lost += 1;
        }
    }
}

/// Runs one leased job to the end and reports it.
async fn run_leased_job(
    client: &EngineClient,
    options: &AgentOptions,
    mut lease: Lease,
) -> JobOutcome {
    // The lease's runtime token is the job's `github.token` and its key to the toolkit services.
    if let Some(token) = &lease.runtime_token {
        crate::executor::toolkit::give_job_token(&mut lease.spec, token);
    }
    let job = JobLink {
        client: client.clone(),
        job_id: lease.job_id.clone(),
        fencing_token: lease.fencing_token,
        lost: CancellationToken::new(),
        shutdown: options.shutdown.clone(),
    };
    let cancel = CancellationToken::new();
    let (events, from_executor) = mpsc::unbounded_channel();
    let (to_reporter, received) = mpsc::unbounded_channel();
    let buffered = Arc::new(AtomicUsize::new(0));
    tokio::spawn(bound_log_buffer(
        from_executor,
        to_reporter,
        buffered.clone(),
        MAX_BUFFERED_LOG_BYTES,
    ));
    let reporter = tokio::spawn(report_events(
        job.clone(),
        received,
        buffered,
        options.log_batch_bytes,
        options.log_batch_interval,
        cancel.clone(),
    ));
    let heartbeats_stop = CancellationToken::new();
    let heartbeat_period =
        (Duration::from_millis(lease.lease_expires_in_ms) / 3).max(Duration::from_millis(20));
    let heartbeats = tokio::spawn(send_heartbeats(
        job.clone(),
        heartbeat_period,
        cancel.clone(),
        heartbeats_stop.clone(),
    ));
    let (spec, source_dir) = source_for_job(&job, options, lease.spec, &events, &cancel).await;
    let gate = EngineGate {
        client: client.clone(),
        job_id: lease.job_id.clone(),
        fencing_token: lease.fencing_token,
    };
    // Artifacts and caches go to the engine, so jobs on other runners (and later attempts) see
    // them.
    let mut executor = options.executor.clone();
    executor.artifact_service = Some(Arc::new(crate::engine_artifacts::EngineArtifacts {
        client: client.clone(),
        job_id: lease.job_id.clone(),
        fencing_token: lease.fencing_token,
    }));
    executor.cache_service = Some(Arc::new(crate::engine_artifacts::EngineCaches {
        client: client.clone(),
        job_id: lease.job_id.clone(),
        fencing_token: lease.fencing_token,
    }));
    // The URL the lease came from: the one that answers now (the toolkit's own calls, from the
    // job's steps, do not fail over).
    executor.toolkit =
        lease
            .runtime_token
            .clone()
            .map(|runtime_token| crate::executor::toolkit::ToolkitAccess {
                engine_url: client.base_url().to_string(),
                runtime_token,
            });
    // Pinned actions come from the engine's mirrors, into this runner's shared cache.
    executor.action_archives = Some(Arc::new(crate::engine_artifacts::EngineActions {
        client: client.clone(),
        job_id: lease.job_id.clone(),
        fencing_token: lease.fencing_token,
    }));
    if executor.node_runtimes.is_empty() {
        executor.node_runtimes = options.config.node_runtimes();
        executor.node_strict = options.config.node_strict;
    }
    let result = run_job_with_gate(spec, &executor, events, cancel.clone(), &gate).await;
    // The executor dropped its sender: the reporter drains what is left and ends.
    let _ = reporter.await;
    if let Some(source_dir) = source_dir {
        let _ = tokio::fs::remove_dir_all(&source_dir).await;
    }
    let outcome = if job.lost.is_cancelled() {
        JobOutcome::LeaseLost
    } else {
        let finished = job
            .deliver("finish", || {
                job.client
                    .finish(&job.job_id, job.fencing_token, result.clone())
            })
            .await;
        match finished {
            Delivery::Delivered(()) => JobOutcome::Finished(result),
            Delivery::LeaseLost => JobOutcome::LeaseLost,
            Delivery::ShutDown => JobOutcome::ShutDown,
        }
    };
    heartbeats_stop.cancel();
    let _ = heartbeats.await;
    tracing::info!(job_id = %lease.job_id, ?outcome, "job done");
    outcome
}

/// A deployment job's gate: progress and approval questions go to
/// `POST /api/v1/jobs/{id}/deployment` under the job's lease. Failures are logged and answer
/// `None` (the executor asks again); an engine without the endpoint (404) rejects approvals.
struct EngineGate {
    client: EngineClient,
    job_id: String,
    fencing_token: u64,
}

impl DeploymentGate for EngineGate {
    fn progress<'a>(
        &'a self,
        deployment_id: &'a str,
        phases: &'a [deploy::PhaseRecord],
        awaiting_approval: Option<usize>,
    ) -> GateFuture<'a> {
        Box::pin(async move {
            let answer = self
                .client
                .deployment_progress(
                    &self.job_id,
                    self.fencing_token,
                    deployment_id,
                    phases.to_vec(),
                    awaiting_approval,
                )
                .await;
            match answer {
                Ok(answer) => answer.approval,
                Err(ClientError::Status { status: 404, .. }) if awaiting_approval.is_some() => {
                    Some(PhaseApproval::Rejected {
                        by: "engine".to_string(),
                        comment: Some(
                            "the engine does not take deployment approvals (404 from /deployment): upgrade it to run canary approval phases"
                                .to_string(),
                        ),
                    })
                }
                Err(error) => {
                    tracing::warn!(job_id = %self.job_id, %error, "deployment progress not delivered");
                    None
                }
            }
        })
    }
}

/// Everything a job's reporting tasks share.
#[derive(Clone)]
struct JobLink {
    client: EngineClient,
    job_id: String,
    fencing_token: u64,
    /// Fires when the engine says this runner no longer holds the lease.
    lost: CancellationToken,
    shutdown: CancellationToken,
}

enum Delivery<T> {
    Delivered(T),
    LeaseLost,
    ShutDown,
}

impl JobLink {
    /// Sends until the engine answers: retried with backoff through network errors and engine
    /// restarts; a lease-gone answer marks the lease lost.
    async fn deliver<T, F, Fut>(&self, what: &str, send: F) -> Delivery<T>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let mut delay = Duration::from_millis(100);
        loop {
            if self.lost.is_cancelled() {
                return Delivery::LeaseLost;
            }
            match send().await {
                Ok(value) => return Delivery::Delivered(value),
                Err(error) if error.is_lease_gone() => {
                    tracing::warn!(job_id = %self.job_id, %error, "lease lost; dropping reports");
                    self.lost.cancel();
                    return Delivery::LeaseLost;
                }
                Err(error) if delay == Duration::from_millis(100) => {
                    tracing::warn!(job_id = %self.job_id, %error, "{what} not delivered; retrying until the engine answers");
                }
                Err(error) => {
                    tracing::debug!(job_id = %self.job_id, %error, "{what} not delivered; retrying");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.lost.cancelled() => return Delivery::LeaseLost,
                _ = self.shutdown.cancelled() => return Delivery::ShutDown,
            }
            delay = (delay * 2).min(RECONNECT_MAX_DELAY);
        }
    }
}

/// Batches log lines into numbered chunks (by size or age) and step events, and sends them in
/// order. Ends when the executor's sender is dropped, after sending what is left.
async fn report_events(
    job: JobLink,
    mut received: mpsc::UnboundedReceiver<(u64, JobEvent)>,
    buffered: Arc<AtomicUsize>,
    batch_bytes: usize,
    batch_interval: Duration,
    cancel: CancellationToken,
) {
    let mut batch = Batch::default();
    let mut next_seq = 0u64;
    let mut deadline: Option<Instant> = None;
    loop {
        let flush_due = tokio::select! {
            event = received.recv() => match event {
                Some((unix_ms, event)) => {
                    buffered.fetch_sub(log_bytes(&event), Ordering::Relaxed);
                    batch.push(unix_ms, event);
                    deadline.get_or_insert_with(|| Instant::now() + batch_interval);
                    batch.bytes >= batch_bytes
                }
                None => {
                    flush(&job, &mut batch, &mut next_seq, &cancel).await;
                    return;
                }
            },
            _ = sleep_until_some(deadline) => true,
        };
        if flush_due {
            flush(&job, &mut batch, &mut next_seq, &cancel).await;
            deadline = None;
        }
    }
}

/// The most log text one job keeps waiting in memory for the engine (an engine that is down,
/// a slow link). Past it, new lines are dropped (counted, and the count is logged once there is
/// room again); step events are always kept.
const MAX_BUFFERED_LOG_BYTES: usize = 64 * 1024 * 1024;

/// Forwards the executor's events to the reporter, each with the time it was written (in
/// milliseconds since the epoch: taken here, as the line comes, not when the engine is reached),
/// keeping at most `max_bytes` of log lines waiting (`buffered` counts them: added here, taken
/// off by the reporter as it receives).
async fn bound_log_buffer(
    mut from_executor: mpsc::UnboundedReceiver<JobEvent>,
    to_reporter: mpsc::UnboundedSender<(u64, JobEvent)>,
    buffered: Arc<AtomicUsize>,
    max_bytes: usize,
) {
    let mut dropped = 0u64;
    while let Some(event) = from_executor.recv().await {
        let bytes = log_bytes(&event);
        if bytes > 0 && buffered.load(Ordering::Relaxed) + bytes > max_bytes {
            dropped += 1;
            continue;
        }
        if dropped > 0 {
            let line = format!(
                "##[warning]{dropped} log lines were dropped: more than {max_bytes} bytes of log waited for the engine"
            );
            buffered.fetch_add(line.len(), Ordering::Relaxed);
            let _ = to_reporter.send((unix_ms_now(), JobEvent::Log { step: None, line }));
            dropped = 0;
        }
        buffered.fetch_add(bytes, Ordering::Relaxed);
        if to_reporter.send((unix_ms_now(), event)).is_err() {
            return;
        }
    }
}

/// Milliseconds since the Unix epoch (0 on a clock set before it).
fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// The bytes of log text an event carries (0 for step events).
fn log_bytes(event: &JobEvent) -> usize {
    match event {
        JobEvent::Log { line, .. } => line.len(),
        _ => 0,
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[derive(Default)]
struct Batch {
    lines: Vec<String>,
    /// When `lines` were written: an entry where the millisecond changes (`LogChunk::times`).
    times: Vec<LineTime>,
    bytes: usize,
    steps: Vec<JobEvent>,
}

impl Batch {
    fn push(&mut self, unix_ms: u64, event: JobEvent) {
        if !matches!(event, JobEvent::JobFinished { .. })
            && self.times.last().is_none_or(|last| last.unix_ms != unix_ms)
        {
            self.times.push(LineTime {
                line: self.lines.len() as u32,
                unix_ms,
            });
            self.bytes += 32;
        }
        match event {
            JobEvent::Log { line, .. } => {
                self.bytes += json_string_len(&line) + 1;
                self.lines.push(line);
            }
            JobEvent::StepStarted { .. } | JobEvent::StepFinished { .. } => {
                // The stored log carries step markers, in order with the lines, as the log
                // of `slipway run` does, so `slipway logs` reads the same.
                let marker = match &event {
                    JobEvent::StepStarted { name, .. } => format!("##[step] {name}"),
                    JobEvent::StepFinished { result, .. } => format!(
                        "##[step-end] {}: {}",
                        result.name,
                        result.conclusion.as_str()
                    ),
                    _ => String::new(),
                };
                self.bytes += marker.len() + 1;
                self.lines.push(marker);
                self.steps.push(event);
            }
            // The result goes in `finish`, from the executor's return value.
            JobEvent::JobFinished { .. } => {}
        }
    }
}

/// The bytes `text` takes as a JSON string, quotes included: what a chunk costs on the wire.
fn json_string_len(text: &str) -> usize {
    let escapes: usize = text
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 1,
            0..=0x1f => 5,
            _ => 0,
        })
        .sum();
    text.len() + escapes + 2
}

/// Sends the batch's lines (as chunk `next_seq`) then its step events; a lost lease cancels
/// the job and drops them.
async fn flush(job: &JobLink, batch: &mut Batch, next_seq: &mut u64, cancel: &CancellationToken) {
    let lines = std::mem::take(&mut batch.lines);
    let times = std::mem::take(&mut batch.times);
    let steps = std::mem::take(&mut batch.steps);
    batch.bytes = 0;
    if job.lost.is_cancelled() {
        return;
    }
    if !lines.is_empty() {
        let chunk = LogChunk {
            seq: *next_seq,
            lines,
            times,
        };
        let sent = job
            .deliver("log chunk", || {
                job.client
                    .send_logs(&job.job_id, job.fencing_token, vec![chunk.clone()])
            })
            .await;
        if matches!(sent, Delivery::LeaseLost) {
            cancel.cancel();
            return;
        }
        *next_seq += 1;
    }
    if !steps.is_empty() {
        let sent = job
            .deliver("step events", || {
                job.client
                    .send_events(&job.job_id, job.fencing_token, steps.clone())
            })
            .await;
        if matches!(sent, Delivery::LeaseLost) {
            cancel.cancel();
        }
    }
}

/// Renews the lease every `period` until `stop`; a cancel request (or a lost lease) cancels
/// the job. Failed heartbeats are only logged: the next one may get through.
async fn send_heartbeats(
    job: JobLink,
    period: Duration,
    cancel: CancellationToken,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.cancelled() => return,
        }
        match job.client.heartbeat(&job.job_id, job.fencing_token).await {
            Ok(answer) if answer.cancel_requested => cancel.cancel(),
            Ok(_) => {}
            Err(error) if error.is_lease_gone() => {
                tracing::warn!(job_id = %job.job_id, %error, "lease lost; cancelling the job");
                job.lost.cancel();
                cancel.cancel();
                return;
            }
            Err(error) => tracing::warn!(job_id = %job.job_id, %error, "heartbeat failed"),
        }
    }
}

/// The longest source the agent accepts from the engine.
const MAX_SOURCE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// The longest the agent waits for a source to arrive.
const MAX_SOURCE_TIME: Duration = Duration::from_secs(15 * 60);

/// When the job checks out code this machine cannot clone itself (or `checkout_source` is
/// `Engine`), fetches the commit from the engine into `<work_dir>/_sources/<job id>.git` and
/// points the job's checkout there, so `actions/checkout` clones from it exactly as from a local
/// repository. Returns the spec to run and the directory to remove afterwards. A failed fetch is
/// written to the job's log and leaves the spec as it was: the checkout step then fails.
async fn source_for_job(
    job: &JobLink,
    options: &AgentOptions,
    mut spec: JobSpec,
    events: &mpsc::UnboundedSender<JobEvent>,
    cancel: &CancellationToken,
) -> (JobSpec, Option<PathBuf>) {
    let checks_out = spec.steps.iter().any(|step| {
        step.uses.as_ref().is_some_and(|uses| {
            let uses = uses.trim().to_ascii_lowercase();
            uses == "actions/checkout" || uses.starts_with("actions/checkout@")
        })
    });
    let Some(checkout) = spec.checkout.as_mut() else {
        return (spec, None);
    };
    let has_commit = checkout.sha.chars().any(|c| c != '0');
    if checkout.working_tree || !has_commit || !checks_out {
        return (spec, None);
    }
    if options.checkout_source == CheckoutSource::Auto {
        let repository = checkout.repository.clone();
        let reachable = tokio::task::spawn_blocking(move || reachable_locally(&repository))
            .await
            .unwrap_or(false);
        if reachable {
            return (spec, None);
        }
    }
    let dir = options
        .executor
        .work_dir
        .join("_sources")
        .join(format!("{}.git", sanitise_path_component(&job.job_id)));
    let fetched = tokio::select! {
        fetched = tokio::time::timeout(MAX_SOURCE_TIME, fetch_source(job, &dir, &checkout.sha)) => {
            fetched.unwrap_or_else(|_| Err(format!("it took longer than {} s", MAX_SOURCE_TIME.as_secs())))
        }
        _ = cancel.cancelled() => Err("the job was cancelled".to_string()),
    };
    let line = match fetched {
        Ok(()) => {
            checkout.repository = dir.display().to_string();
            format!("fetched commit {} from the engine", checkout.sha)
        }
        Err(message) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            format!(
                "##[error]failed to get commit {} from the engine: {message}",
                checkout.sha
            )
        }
    };
    let _ = events.send(JobEvent::Log { step: None, line });
    let keep = spec
        .checkout
        .as_ref()
        .is_some_and(|checkout| Path::new(&checkout.repository) == dir);
    (spec, keep.then_some(dir))
}

/// Streams the job's source from the engine into a bare repository at `dir`.
async fn fetch_source(job: &JobLink, dir: &Path, sha: &str) -> Result<(), String> {
    let mut stream = job
        .client
        .fetch_source(&job.job_id, job.fencing_token)
        .await
        .map_err(|error| error.to_string())?;
    if !stream.header.commit.eq_ignore_ascii_case(sha) {
        return Err(format!(
            "the engine sent commit {} instead",
            stream.header.commit
        ));
    }
    let refs: Vec<(String, String)> = stream
        .header
        .refs
        .iter()
        .map(|source_ref| (source_ref.name.clone(), source_ref.target.clone()))
        .collect();
    let (chunks, mut received) = mpsc::channel::<Result<Vec<u8>, String>>(8);
    let target = dir.to_path_buf();
    let commit = stream.header.commit.clone();
    let unpack = tokio::task::spawn_blocking(move || {
        let pack = std::iter::from_fn(move || received.blocking_recv());
        unpack_source(&target, &commit, &refs, pack, MAX_SOURCE_BYTES)
    });
    loop {
        let next = stream.next_chunk().await;
        let (chunk, done) = match next {
            Ok(Some(chunk)) => (Ok(chunk), false),
            Ok(None) => break,
            Err(error) => (Err(error.to_string()), true),
        };
        // The unpacker stops reading only when it failed; its error says why.
        if chunks.send(chunk).await.is_err() || done {
            break;
        }
    }
    drop(chunks);
    unpack
        .await
        .map_err(|error| format!("the unpack task failed: {error}"))?
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod source_and_batching_tests {
    use super::*;

    #[tokio::test]
    async fn logs_waiting_for_the_engine_are_bounded_and_the_dropped_ones_counted() {
        let (executor, from_executor) = mpsc::unbounded_channel();
        let (to_reporter, mut reporter) = mpsc::unbounded_channel();
        let buffered = Arc::new(AtomicUsize::new(0));
        let forwarder = tokio::spawn(bound_log_buffer(
            from_executor,
            to_reporter,
            buffered.clone(),
            10,
        ));
        let log = |line: &str| JobEvent::Log {
            step: None,
            line: line.to_string(),
        };
        // Nothing is received (the engine is away): 10 bytes fit, the rest is dropped.
        for line in ["aaaa", "bbbb", "cccc", "dddd"] {
            executor.send(log(line)).unwrap();
        }
        executor
            .send(JobEvent::StepStarted {
                index: 0,
                name: "kept".to_string(),
            })
            .unwrap();
        let mut seen = Vec::new();
        for _ in 0..3 {
            let (_, event) = reporter.recv().await.unwrap();
            buffered.fetch_sub(log_bytes(&event), Ordering::Relaxed);
            seen.push(event);
        }
        // Room again: a count of what was lost comes first, where the lines were.
        executor.send(log("eeee")).unwrap();
        drop(executor);
        forwarder.await.unwrap();
        while let Some((_, event)) = reporter.recv().await {
            seen.push(event);
        }
        let lines: Vec<String> = seen
            .iter()
            .map(|event| match event {
                JobEvent::Log { line, .. } => line.clone(),
                JobEvent::StepStarted { name, .. } => format!("step {name}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(lines[..2], ["aaaa", "bbbb"]);
        assert!(lines[2].contains("2 log lines were dropped"), "{lines:?}");
        assert_eq!(lines[3..], ["step kept", "eeee"]);
    }

    #[test]
    fn a_batch_keeps_a_time_entry_only_where_the_millisecond_changes() {
        let log = |line: &str| JobEvent::Log {
            step: None,
            line: line.to_string(),
        };
        let mut batch = Batch::default();
        batch.push(1_000, log("a"));
        batch.push(1_000, log("b"));
        batch.push(
            1_005,
            JobEvent::StepStarted {
                index: 0,
                name: "s".to_string(),
            },
        );
        batch.push(1_005, log("c"));
        batch.push(1_009, log("d"));
        assert_eq!(batch.lines, ["a", "b", "##[step] s", "c", "d"]);
        let at = |line, unix_ms| LineTime { line, unix_ms };
        assert_eq!(batch.times, [at(0, 1_000), at(2, 1_005), at(4, 1_009)]);
    }

    #[test]
    fn a_lines_batch_cost_is_its_length_as_a_json_string() {
        for line in [
            "",
            "plain text",
            "quote \" and backslash \\",
            "tab\tbell\u{7}escape\u{1b}[31m",
            "unicode é ✓ 🚀",
            "\u{8}\u{c}\r",
        ] {
            let encoded = serde_json::to_string(line).unwrap();
            assert_eq!(json_string_len(line), encoded.len(), "{line:?}");
        }
    }
}
