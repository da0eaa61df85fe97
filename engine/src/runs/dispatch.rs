//! Dispatch: the `Engine` hands queued jobs to runners as leases, keeps the lease clocks, and
//! tells the run orchestrator what happened to each job (`EngineEvent`).
//!
//! The lease clocks live in memory: a heartbeat renews one without touching the disk, and a
//! restarted engine gives every lease it finds in the store one full period for its runner to
//! re-attach. The reaper task is the only place that reads the clock to end leases.
//!
//! This module must not speak HTTP (that is `api`) nor know sled (that is `store`), and it does
//! not decide what a run does next: it reports `JobFinished` and the orchestrator decides.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use protocol::wire::{LogChunk, WaitingFor};
use protocol::{JobEvent, JobResult, JobSpec};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::store::{
    ExpiredLease, JobId, JobRecord, LogAppend, RunId, RunRecord, RunnerId, RunnerRecord, Store,
    StoreError,
};

/// How the engine runs; `Default` is what `slipway serve` uses.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The directory holding the store, the secret key, the admin token and the action mirrors.
    pub data_dir: PathBuf,
    /// Where the store's database is (log files are under `data_dir` either way).
    pub store: crate::store::StoreLocation,
    /// How long a lease lives without a heartbeat.
    pub lease_duration: Duration,
    /// The longest a `next` call waits for work before answering 204.
    pub long_poll: Duration,
    /// How many times a job whose runner was lost is queued again before it fails.
    pub max_infra_retries: u32,
    /// Where deployment decisions read the time (wait timers, freeze windows).
    pub clock: crate::deploy::Clock,
    /// A queued job that no registered runner can take fails after this long (GitHub: 24 h).
    pub no_runner_timeout: Duration,
    /// Finished runs older than this are removed by the retention sweep (`runs::retention`);
    /// `None`: kept until `slipway gc`.
    pub retain: Option<Duration>,
    /// The largest artifact (bytes) the engine takes, from the built-in upload-artifact or the
    /// toolkit's artifact service (`crate::artifacts::MAX_ARTIFACT_BYTES` unless
    /// `serve --max-artifact-bytes` says less).
    pub max_artifact_bytes: u64,
}

impl EngineConfig {
    /// The defaults, with data under `data_dir`: 30 s leases and long polls, one infrastructure
    /// retry, the system clock, a 24 h no-runner timeout, runs kept until `slipway gc`.
    pub fn new(data_dir: impl Into<PathBuf>) -> EngineConfig {
        EngineConfig {
            data_dir: data_dir.into(),
            store: crate::store::StoreLocation::Sled,
            lease_duration: Duration::from_secs(30),
            long_poll: Duration::from_secs(30),
            max_infra_retries: 1,
            clock: crate::deploy::Clock::System,
            no_runner_timeout: Duration::from_secs(24 * 3600),
            retain: None,
            max_artifact_bytes: crate::artifacts::MAX_ARTIFACT_BYTES,
        }
    }
}

/// What happened to a job, for the run orchestrator (in order per job).
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// A runner took the job.
    JobStarted {
        /// The run the job belongs to.
        run_id: RunId,
        /// The job's key in the run, e.g. `build (linux, 18)` for a matrix leg.
        job_key: String,
        /// The job's id in the store.
        job_id: JobId,
        /// The runner that took the lease.
        runner_id: RunnerId,
        /// Which lease of the job this is: 1 for the first, more after requeues.
        attempt: u32,
    },
    /// The job's runner was lost; it waits in the queue for another.
    JobRequeued {
        /// The run the job belongs to.
        run_id: RunId,
        /// The job's key in the run.
        job_key: String,
        /// The job's id in the store.
        job_id: JobId,
        /// Why the lease ended, e.g. `lease expired: runner … sent no heartbeat for 30000 ms`.
        reason: String,
    },
    /// The job is completed (by its runner, by cancel, or because its runner was lost).
    JobFinished {
        /// The run the job belongs to.
        run_id: RunId,
        /// The job's key in the run.
        job_key: String,
        /// The job's id in the store.
        job_id: JobId,
        /// The job's conclusion, outputs, step results and summary.
        result: JobResult,
    },
    /// (Several replicas) Another replica moved this job: its record in the store says how.
    JobChanged {
        /// The run the job belongs to.
        run_id: RunId,
        /// The job's key in the run.
        job_key: String,
    },
    /// (Several replicas) A replica saved a new run's plan for the driving replica to take up.
    RunPlanned {
        /// The planned run.
        run_id: RunId,
    },
    /// (Several replicas) This replica took (`true`) or lost (`false`) the driving of runs.
    Driving(bool),
}

/// The channels replicas sharing a store wake each other on.
const CHANNELS: &[&str] = &[WORK_CHANNEL, JOBS_CHANNEL, RUNS_CHANNEL];
/// A job was queued (payload empty): waiting runners look again.
const WORK_CHANNEL: &str = "slipway_work";
/// A job moved (payload `RUN_ID JOB_KEY`): the driving replica reads it.
const JOBS_CHANNEL: &str = "slipway_jobs";
/// A run was planned (payload `RUN_ID`): the driving replica takes it up.
pub(crate) const RUNS_CHANNEL: &str = "slipway_runs";
/// The store-wide lock the replica driving runs holds.
const DRIVER_LOCK: &str = "driver";

/// What a heartbeat tells the runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatOutcome {
    /// The job was cancelled: the runner should stop it and report it `cancelled`.
    pub cancel_requested: bool,
    /// How long the renewed lease lives without another heartbeat.
    pub lease_expires_in: Duration,
}

/// A granted lease, as the API returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantedLease {
    /// The leased job, as the store holds it after the grant.
    pub job: JobRecord,
    /// The lease's fencing token: the runner sends it with every heartbeat, log and result, and a
    /// stale one is refused.
    pub fencing_token: u64,
    /// How long the lease lives without a heartbeat.
    pub lease_expires_in: Duration,
}

/// The engine's core: the store, the wake-up for waiting runners, the lease clocks and the
/// event hook. Shared as `Arc<Engine>` by the API and the orchestrator.
pub struct Engine {
    store: Arc<Store>,
    config: EngineConfig,
    work_ready: Notify,
    lease_clocks: Mutex<HashMap<JobId, LeaseClock>>,
    events: mpsc::UnboundedSender<EngineEvent>,
    shutdown: CancellationToken,
    /// Set while the orchestrator recovers after a restart: the API does not answer yet, so no
    /// runner can renew its lease and none expires (`hold_lease_clocks`).
    recovering: std::sync::atomic::AtomicBool,
    /// Several replicas share the store: lease heartbeats are kept in it, and events travel
    /// as notifications to the replica driving runs.
    shared: bool,
    /// On a shared store: whether this replica holds the driver lock (`drives`).
    driving: std::sync::atomic::AtomicBool,
    /// When this process opened the engine (µs): on a shared store, no lease expires sooner
    /// than a full period after it (every replica may have been down).
    opened_at_us: u64,
}

#[derive(Debug, Clone, Copy)]
struct LeaseClock {
    runner_id: RunnerId,
    fencing_token: u64,
    expires_at: Instant,
}

impl Engine {
    /// Opens the store under `config.data_dir`, restarts the lease clocks of leased jobs (one
    /// full period each) and starts the reaper. Must run inside a tokio runtime.
    pub async fn open(
        config: EngineConfig,
    ) -> Result<(Arc<Engine>, mpsc::UnboundedReceiver<EngineEvent>), StoreError> {
        let store = Arc::new(Store::open_at(&config.data_dir, &config.store)?);
        crate::secrets::SecretKey::shared(&config.data_dir)
            .map_err(|error| crate::secrets::as_store_error(&config.data_dir, error))?;
        let (events, receiver) = mpsc::unbounded_channel();
        let now = Instant::now();
        let mut clocks = HashMap::new();
        let shared = store.is_shared();
        // On a shared store the lease clocks are the heartbeats kept in it.
        for job in if shared {
            Vec::new()
        } else {
            store.leased_jobs()?
        } {
            if let Some(lease) = &job.lease {
                clocks.insert(
                    job.job_id,
                    LeaseClock {
                        runner_id: lease.runner_id,
                        fencing_token: lease.fencing_token,
                        expires_at: now + config.lease_duration,
                    },
                );
            }
        }
        let engine = Arc::new(Engine {
            store,
            config,
            work_ready: Notify::new(),
            lease_clocks: Mutex::new(clocks),
            events,
            shutdown: CancellationToken::new(),
            recovering: std::sync::atomic::AtomicBool::new(false),
            shared,
            driving: std::sync::atomic::AtomicBool::new(false),
            opened_at_us: crate::store::now_us(),
        });
        if shared {
            let (signals, heard) = mpsc::unbounded_channel();
            if engine.store.coordinate(CHANNELS, DRIVER_LOCK, signals) {
                tokio::spawn(relay_signals(Arc::downgrade(&engine), heard));
            }
        }
        tokio::spawn(reap_expired_leases(
            Arc::downgrade(&engine),
            engine.shutdown.clone(),
            reaper_period(engine.config.lease_duration),
        ));
        Ok((engine, receiver))
    }

    /// The engine's store of runs, jobs, logs and records.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The configuration the engine was opened with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Fires when the engine shuts down (long polls and log followers end).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops the reaper and ends waiting long polls and followers.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Creates a run (see `Store::create_run`).
    pub async fn create_run(
        &self,
        workflow: &str,
        details: serde_json::Value,
    ) -> Result<RunRecord, StoreError> {
        self.store.create_run(workflow, details).await
    }

    /// Queues a ready job and wakes every waiting runner; durable on return.
    /// The spec's secrets are sealed while it sits in the store and opened for the lease holder.
    pub async fn enqueue_job(&self, run_id: RunId, spec: JobSpec) -> Result<JobRecord, StoreError> {
        let spec = self.seal_secrets(spec)?;
        let job = self
            .store
            .enqueue_job(run_id, spec, self.config.max_infra_retries)
            .await?;
        self.work_ready.notify_waiters();
        self.store.notify(WORK_CHANNEL, "");
        Ok(job)
    }

    /// Records a ready job held back with `reason` (state `waiting`); durable on return.
    pub async fn hold_job(
        &self,
        run_id: RunId,
        spec: JobSpec,
        waiting_for: WaitingFor,
        reason: &str,
    ) -> Result<JobRecord, StoreError> {
        let spec = self.seal_secrets(spec)?;
        self.store
            .hold_job(
                run_id,
                spec,
                self.config.max_infra_retries,
                waiting_for,
                reason,
            )
            .await
    }

    /// Queues a waiting job with `spec` (its secrets sealed) and wakes every waiting runner.
    /// `None` when the job is no longer waiting.
    pub async fn release_job(
        &self,
        job_id: JobId,
        spec: JobSpec,
    ) -> Result<Option<JobRecord>, StoreError> {
        let spec = self.seal_secrets(spec)?;
        let job = self.store.release_job(job_id, spec).await?;
        if job.is_some() {
            self.work_ready.notify_waiters();
        }
        Ok(job)
    }

    /// Completes a waiting job with `result` without running it, and reports it.
    pub async fn conclude_waiting_job(
        &self,
        job_id: JobId,
        result: JobResult,
    ) -> Result<Option<JobRecord>, StoreError> {
        let job = self.store.conclude_waiting_job(job_id, result).await?;
        if let Some(job) = &job {
            self.report_finished(job);
        }
        Ok(job)
    }

    /// The spec of a stored job with its secrets opened (for a gate that re-queues it).
    pub fn opened_spec(&self, job: &JobRecord) -> Result<JobSpec, StoreError> {
        self.open_secrets(job.spec.clone())
    }

    /// Waits up to `wait` (capped by the configured long poll) for a queued job whose `runs_on`
    /// labels `runner` carries, and leases it. `None` on timeout, on shutdown, or while the
    /// runner already holds as many leases as its capacity.
    pub async fn next_lease(
        &self,
        runner: &RunnerRecord,
        wait: Option<Duration>,
    ) -> Result<Option<GrantedLease>, StoreError> {
        let wait = wait.map_or(self.config.long_poll, |wait| {
            wait.min(self.config.long_poll)
        });
        let deadline = Instant::now() + wait;
        loop {
            // Registered before looking, so a job queued during the look still wakes us.
            let notified = self.work_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.leases_held_by(runner.runner_id)? < runner.capacity.max(1) as usize {
                let carrier = runner.clone();
                let leased = self
                    .store
                    .lease_next(runner.runner_id, move |spec| carrier.carries(&spec.runs_on))
                    .await?;
                if let Some(job) = leased {
                    // The clock starts first: should the spec not open, the lease still ends.
                    let mut granted = self.start_clock(job);
                    granted.job.spec = self.open_secrets(granted.job.spec)?;
                    return Ok(Some(granted));
                }
            }
            tokio::select! {
                _ = notified => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(None),
                _ = self.shutdown.cancelled() => return Ok(None),
            }
        }
    }

    /// Renews the lease and says whether the job should stop.
    pub fn heartbeat(
        &self,
        runner_id: RunnerId,
        job_id: JobId,
        fencing_token: u64,
    ) -> Result<HeartbeatOutcome, StoreError> {
        let job = self.store.leased_job(job_id, runner_id, fencing_token)?;
        let lease_expires_in = self.config.lease_duration;
        if self.shared {
            self.store.record_lease_beat(job_id, fencing_token)?;
            return Ok(HeartbeatOutcome {
                cancel_requested: job.cancel_requested,
                lease_expires_in,
            });
        }
        self.clocks().insert(
            job_id,
            LeaseClock {
                runner_id,
                fencing_token,
                expires_at: Instant::now() + lease_expires_in,
            },
        );
        Ok(HeartbeatOutcome {
            cancel_requested: job.cancel_requested,
            lease_expires_in,
        })
    }

    /// Stores log chunks from the lease holder (repeats are ignored); durable on return.
    pub async fn append_logs(
        &self,
        runner_id: RunnerId,
        job_id: JobId,
        fencing_token: u64,
        chunks: &[LogChunk],
    ) -> Result<LogAppend, StoreError> {
        let job = self.store.leased_job(job_id, runner_id, fencing_token)?;
        self.store
            .append_log_chunks(&job, fencing_token, chunks)
            .await
    }

    /// Records step progress from the lease holder.
    pub fn record_events(
        &self,
        runner_id: RunnerId,
        job_id: JobId,
        fencing_token: u64,
        events: &[JobEvent],
    ) -> Result<JobRecord, StoreError> {
        self.store
            .record_step_events(job_id, runner_id, fencing_token, events)
    }

    /// Completes the job with the lease holder's result and tells the orchestrator.
    pub async fn finish_job(
        &self,
        runner_id: RunnerId,
        job_id: JobId,
        fencing_token: u64,
        result: JobResult,
    ) -> Result<JobRecord, StoreError> {
        let (job, repeat) = self
            .store
            .finish_job_once(job_id, runner_id, fencing_token, result)
            .await?;
        if repeat {
            // Its first answer was lost: told once already.
            return Ok(job);
        }
        self.clocks().remove(&job_id);
        self.store.forget_lease_beat(job_id);
        self.report_finished(&job);
        Ok(job)
    }

    /// Cancels a run: queued jobs complete as cancelled now (and are reported), running ones
    /// hear it on their next heartbeat.
    pub async fn cancel_run(&self, run_id: RunId) -> Result<Vec<JobRecord>, StoreError> {
        let cancelled = self.store.cancel_run(run_id).await?;
        for job in &cancelled {
            self.report_finished(job);
        }
        Ok(cancelled)
    }

    /// Cancels one job of a run (by its key): a queued job completes as cancelled now (and is
    /// reported), a running one hears it on its next heartbeat. An unknown key is no error.
    pub async fn cancel_job(&self, run_id: RunId, job_key: &str) -> Result<(), StoreError> {
        let Some(job) = self.store.job_by_key(run_id, job_key)? else {
            return Ok(());
        };
        if let Some(cancelled) = self.store.cancel_job(job.job_id).await? {
            self.report_finished(&cancelled);
        }
        Ok(())
    }

    /// Records a job that will not run (see `Store::record_finished_job`) and reports it.
    pub async fn record_finished_job(
        &self,
        run_id: RunId,
        spec: JobSpec,
        result: JobResult,
    ) -> Result<JobRecord, StoreError> {
        let spec = self.seal_secrets(spec)?;
        let job = self.store.record_finished_job(run_id, spec, result).await?;
        self.report_finished(&job);
        Ok(job)
    }

    /// Stops lease expiry while the orchestrator recovers after a restart (its runs are loaded
    /// before the API answers, which can take longer than a lease period with many runs): a
    /// runner cannot renew a lease then, and its job must not be handed out twice.
    pub(crate) fn hold_lease_clocks(&self) {
        self.recovering
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Recovery is done: every lease gets a full period from now for its runner to reach the
    /// engine, and expiry resumes.
    pub(crate) fn restart_lease_clocks(&self) {
        let renewed = Instant::now() + self.config.lease_duration;
        for clock in self.clocks().values_mut() {
            clock.expires_at = clock.expires_at.max(renewed);
        }
        self.recovering
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    /// Ends every lease whose clock ran out by `now`: the job is queued again or completed
    /// (see `Store::expire_lease`). Returns how many leases ended. The reaper calls this; it
    /// ends none while the orchestrator recovers (`hold_lease_clocks`).
    pub async fn expire_leases(&self, now: Instant) -> Result<usize, StoreError> {
        if self.recovering.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(0);
        }
        if self.shared {
            return self.expire_shared_leases().await;
        }
        let expired: Vec<(JobId, LeaseClock)> = self
            .clocks()
            .iter()
            .filter(|(_, clock)| clock.expires_at <= now)
            .map(|(job_id, clock)| (*job_id, *clock))
            .collect();
        let mut ended = 0;
        for (job_id, clock) in expired {
            let reason = format!(
                "lease expired: runner {} sent no heartbeat for {} ms",
                clock.runner_id,
                self.config.lease_duration.as_millis()
            );
            let outcome = self
                .store
                .expire_lease(job_id, clock.fencing_token, &reason, "runner lost")
                .await?;
            {
                let mut clocks = self.clocks();
                if clocks
                    .get(&job_id)
                    .is_some_and(|current| current.fencing_token == clock.fencing_token)
                {
                    clocks.remove(&job_id);
                }
            }
            ended += self.lease_ended(outcome, reason);
        }
        Ok(ended)
    }

    /// `expire_leases` on a shared store: every replica looks at every lease, and ends those
    /// whose last heartbeat (through any replica) is older than a lease period. Ending one is a
    /// transaction guarded by its fencing token, so two replicas ending it at once end it once.
    async fn expire_shared_leases(&self) -> Result<usize, StoreError> {
        let period_us = u64::try_from(self.config.lease_duration.as_micros()).unwrap_or(u64::MAX);
        let now_us = crate::store::now_us();
        let mut ended = 0;
        for job in self.store.leased_jobs()? {
            let Some(lease) = &job.lease else {
                continue;
            };
            let beat = self
                .store
                .lease_beat(job.job_id)?
                .filter(|(token, _)| *token == lease.fencing_token)
                .map_or(lease.granted_at_us, |(_, at_us)| at_us);
            if now_us.saturating_sub(beat.max(self.opened_at_us)) < period_us {
                continue;
            }
            let reason = format!(
                "lease expired: runner {} sent no heartbeat for {} ms",
                lease.runner_id,
                self.config.lease_duration.as_millis()
            );
            let outcome = self
                .store
                .expire_lease(job.job_id, lease.fencing_token, &reason, "runner lost")
                .await?;
            if !matches!(outcome, ExpiredLease::Unchanged) {
                self.store.forget_lease_beat(job.job_id);
            }
            ended += self.lease_ended(outcome, reason);
        }
        Ok(ended)
    }

    /// Tells who needs to know that a lease ended (`1`), or nothing when it had not (`0`).
    fn lease_ended(&self, outcome: ExpiredLease, reason: String) -> usize {
        match outcome {
            ExpiredLease::Requeued(job) => {
                tracing::warn!(job_id = %job.job_id, job_key = %job.job_key, %reason, "job re-queued");
                self.send(EngineEvent::JobRequeued {
                    run_id: job.run_id,
                    job_key: job.job_key.clone(),
                    job_id: job.job_id,
                    reason,
                });
                self.work_ready.notify_waiters();
                self.store.notify(WORK_CHANNEL, "");
                1
            }
            ExpiredLease::Finished(job) => {
                tracing::warn!(job_id = %job.job_id, job_key = %job.job_key, "job failed: runner lost");
                self.report_finished(&job);
                1
            }
            ExpiredLease::Unchanged => 0,
        }
    }

    fn start_clock(&self, job: JobRecord) -> GrantedLease {
        let lease_expires_in = self.config.lease_duration;
        let (runner_id, fencing_token) = job
            .lease
            .as_ref()
            .map(|lease| (lease.runner_id, lease.fencing_token))
            .unwrap_or_default();
        self.clocks().insert(
            job.job_id,
            LeaseClock {
                runner_id,
                fencing_token,
                expires_at: Instant::now() + lease_expires_in,
            },
        );
        self.send(EngineEvent::JobStarted {
            run_id: job.run_id,
            job_key: job.job_key.clone(),
            job_id: job.job_id,
            runner_id,
            attempt: job.attempt,
        });
        GrantedLease {
            job,
            fencing_token,
            lease_expires_in,
        }
    }

    fn seal_secrets(&self, spec: JobSpec) -> Result<JobSpec, StoreError> {
        if spec.secrets.is_empty() {
            return Ok(spec);
        }
        let dir = &self.config.data_dir;
        crate::secrets::SecretKey::shared(dir)
            .and_then(|key| crate::secrets::seal_job_secrets(&key, spec))
            .map_err(|error| crate::secrets::as_store_error(dir, error))
    }

    fn open_secrets(&self, spec: JobSpec) -> Result<JobSpec, StoreError> {
        if spec.secrets.is_empty() {
            return Ok(spec);
        }
        let dir = &self.config.data_dir;
        crate::secrets::SecretKey::shared(dir)
            .and_then(|key| crate::secrets::open_job_secrets(&key, spec))
            .map_err(|error| crate::secrets::as_store_error(dir, error))
    }

    fn leases_held_by(&self, runner_id: RunnerId) -> Result<usize, StoreError> {
        if self.shared {
            return self.store.leases_held(runner_id);
        }
        Ok(self
            .clocks()
            .values()
            .filter(|clock| clock.runner_id == runner_id)
            .count())
    }

    /// Fails every job queued for longer than the no-runner timeout whose `runs-on` labels no
    /// registered runner carries, with the reason recorded; returns how many.
    pub async fn fail_unrunnable_jobs(&self) -> Result<usize, StoreError> {
        let timeout_us =
            u64::try_from(self.config.no_runner_timeout.as_micros()).unwrap_or(u64::MAX);
        let now = crate::store::now_us();
        let queued = self.store.queued_jobs()?;
        if queued.is_empty() {
            return Ok(0);
        }
        let runners = self.store.runners()?;
        let mut failed = 0;
        for job in queued {
            if job.queued_at_us.saturating_add(timeout_us) > now {
                continue;
            }
            let Some(reason) =
                crate::runs::unrunnable::no_runner_reason(&job.spec.runs_on, &runners)
            else {
                continue;
            };
            let reason = format!(
                "{reason}; no runner took the job within {}",
                describe_duration(self.config.no_runner_timeout)
            );
            if let Some(job) = self
                .store
                .fail_queued_job(job.job_id, reason.clone())
                .await?
            {
                tracing::warn!(job_id = %job.job_id, job_key = %job.job_key, %reason, "job failed");
                self.report_finished(&job);
                failed += 1;
            }
        }
        Ok(failed)
    }

    fn report_finished(&self, job: &JobRecord) {
        if let Some(result) = &job.result {
            self.send(EngineEvent::JobFinished {
                run_id: job.run_id,
                job_key: job.job_key.clone(),
                job_id: job.job_id,
                result: result.clone(),
            });
        }
    }

    fn send(&self, event: EngineEvent) {
        if self.shared {
            // The replica driving runs hears it (itself included) and reads the job's record.
            let moved = match &event {
                EngineEvent::JobStarted {
                    run_id, job_key, ..
                }
                | EngineEvent::JobRequeued {
                    run_id, job_key, ..
                }
                | EngineEvent::JobFinished {
                    run_id, job_key, ..
                }
                | EngineEvent::JobChanged { run_id, job_key } => Some((run_id, job_key)),
                EngineEvent::RunPlanned { .. } | EngineEvent::Driving(_) => None,
            };
            if let Some((run_id, job_key)) = moved {
                self.store
                    .notify(JOBS_CHANNEL, &format!("{run_id} {job_key}"));
                return;
            }
        }
        // Nobody listening (tests, a CLI that only reads) is fine: the store has the truth.
        let _ = self.events.send(event);
    }

    /// Whether several replicas share the store (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Whether this process does the engine-wide duties (driving runs, release plans,
    /// completion notices): always alone; on a shared store, while it holds the driver lock.
    pub fn drives(&self) -> bool {
        !self.shared || self.driving.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn clocks(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, LeaseClock>> {
        self.lease_clocks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Turns what the other replicas say into wake-ups and events, until the engine is gone.
async fn relay_signals(
    engine: Weak<Engine>,
    mut heard: mpsc::UnboundedReceiver<crate::store::Signal>,
) {
    use crate::store::Signal;
    while let Some(signal) = heard.recv().await {
        let Some(engine) = engine.upgrade() else {
            return;
        };
        let event = match signal {
            Signal::Notified { channel, payload } => match channel.as_str() {
                WORK_CHANNEL => {
                    engine.work_ready.notify_waiters();
                    continue;
                }
                JOBS_CHANNEL => {
                    let Some((run_id, job_key)) = payload.split_once(' ') else {
                        continue;
                    };
                    let Ok(run_id) = run_id.parse() else {
                        continue;
                    };
                    EngineEvent::JobChanged {
                        run_id,
                        job_key: job_key.to_string(),
                    }
                }
                RUNS_CHANNEL => {
                    let Ok(run_id) = payload.parse() else {
                        continue;
                    };
                    EngineEvent::RunPlanned { run_id }
                }
                _ => continue,
            },
            // Wake-ups may have been missed while the connection was down.
            Signal::Connected => {
                engine.work_ready.notify_waiters();
                continue;
            }
            Signal::Driving(driving) => {
                engine
                    .driving
                    .store(driving, std::sync::atomic::Ordering::SeqCst);
                EngineEvent::Driving(driving)
            }
        };
        let _ = engine.events.send(event);
    }
}

/// Checks often enough that a lost runner is noticed well within one lease period.
fn reaper_period(lease_duration: Duration) -> Duration {
    (lease_duration / 8).clamp(Duration::from_millis(20), Duration::from_secs(1))
}

async fn reap_expired_leases(engine: Weak<Engine>, shutdown: CancellationToken, period: Duration) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut unrunnable_checked = Instant::now();
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        let Some(engine) = engine.upgrade() else {
            return;
        };
        if let Err(error) = engine.expire_leases(Instant::now()).await {
            tracing::error!(%error, "failed to end expired leases");
        }
        // Reading every queued job is not free: look for unrunnable ones a few times per
        // timeout, and at most every 10 s.
        let every = (engine.config.no_runner_timeout / 4).min(Duration::from_secs(10));
        if unrunnable_checked.elapsed() >= every {
            unrunnable_checked = Instant::now();
            if let Err(error) = engine.fail_unrunnable_jobs().await {
                tracing::error!(%error, "failed to fail jobs no runner can take");
            }
        }
    }
}

/// `90s`, `15m`, `24h`: the largest whole unit.
fn describe_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 3600 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds >= 60 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}
