//! Jobs, the ready queue (FIFO by a store-generated sequence) and leases.
//!
//! Keys: `jobs` is keyed by the run id's 16 bytes then the job key, so a run's jobs are one
//! prefix scan; `job_ids` maps a job id to that key; `queue` maps a big-endian sequence to a job
//! id; `leases` maps a leased job's id to its runner (found again on open).
//!
//! This file must not decide policy (which runner, when a lease expires, how often to retry):
//! it applies the moves it is told, and refuses the ones a stale fencing token asks for.

use protocol::wire::WaitingFor;
use protocol::{Conclusion, JobEvent, JobResult, JobSpec};
use serde::{Deserialize, Serialize};

use super::{
    Core, JobId, RunId, RunnerId, Store, StoreError, Tx, TxResult, abort, decode, decode_tx,
    encode, now_us,
};

/// Where a job is in its life: held back, in the queue, on a runner, or done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Held back before the queue: a deployment gate (approvals, wait timer, lane, freeze) or a
    /// concurrency group; `waiting_reason` says which. No runner can lease it.
    Waiting,
    /// In the ready queue, waiting for a runner with matching labels to lease it.
    Queued,
    /// Leased by a runner, which runs it under the lease's fencing token.
    Leased,
    /// Finished: `result` holds its conclusion (success, failure, cancelled, …).
    Completed,
}

impl JobState {
    /// The word the API shows (`in_progress` for a leased job, as GitHub says).
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Queued => "queued",
            JobState::Leased => "in_progress",
            JobState::Completed => "completed",
        }
    }
}

/// The runner currently holding a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRecord {
    /// The runner that holds the lease.
    pub runner_id: RunnerId,
    /// The lease's fencing token; reports carrying an older token are refused.
    pub fencing_token: u64,
    /// When the lease was granted, in microseconds since the Unix epoch.
    pub granted_at_us: u64,
}

/// A step as the runner reported it: `conclusion` is `None` while it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepProgress {
    /// The step's position in the job's steps, as the runner numbers them.
    pub index: usize,
    /// The step's display name, e.g. `Run cargo test`.
    pub name: String,
    /// How the step ended; `None` while it runs.
    pub conclusion: Option<Conclusion>,
}

/// A job of a run as the store keeps it: its spec, state, lease and reported progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job's engine-wide id (runners and the API name it by this).
    pub job_id: JobId,
    /// The run the job belongs to.
    pub run_id: RunId,
    /// The job's key in the workflow (with matrix values when it has them), e.g. `build`.
    pub job_key: String,
    /// What the runner is to run: steps, container, environment, as planned for this job.
    pub spec: JobSpec,
    /// Where the job is: waiting, queued, leased or completed.
    pub state: JobState,
    /// 1 for the first lease; grows each time the job is leased again.
    pub attempt: u32,
    /// How many times a lost lease may re-queue the job before it fails.
    pub max_infra_retries: u32,
    /// Why earlier attempts ended without a result.
    pub retry_reasons: Vec<String>,
    /// The current lease; `None` unless the job is `leased`.
    pub lease: Option<LeaseRecord>,
    /// The runner of the latest attempt (kept after the lease ends).
    pub runner_id: Option<RunnerId>,
    /// The last fencing token granted, kept after the lease ends so stale reports are told apart.
    pub last_fencing_token: Option<u64>,
    /// Whether a cancel was asked; a leased job's runner is told at its next heartbeat.
    pub cancel_requested: bool,
    /// The job's sequence number in the ready queue while it is queued (FIFO order).
    pub queue_seq: Option<u64>,
    /// When the job was (last) queued, in microseconds since the Unix epoch.
    pub queued_at_us: u64,
    /// When the latest lease was granted, in microseconds since the Unix epoch; `None` before one.
    pub leased_at_us: Option<u64>,
    /// When the job completed, in microseconds since the Unix epoch; `None` until then.
    pub finished_at_us: Option<u64>,
    /// The steps the runner reported started, with their conclusions once finished.
    pub steps: Vec<StepProgress>,
    /// The job's result (conclusion, outputs) once completed; `None` until then.
    pub result: Option<JobResult>,
    /// Why a `waiting` job is held back (for people: "waiting for 1 more approval …").
    #[serde(default)]
    pub waiting_reason: Option<String>,
    /// What holds a `waiting` job back, for scripts (the API's `waiting_for`).
    #[serde(default)]
    pub waiting_for: Option<WaitingFor>,
}

impl JobRecord {
    /// The conclusion once completed.
    pub fn conclusion(&self) -> Option<Conclusion> {
        self.result.as_ref().map(|result| result.conclusion)
    }
}

/// What happened to a job whose lease ran out.
#[derive(Debug, Clone, PartialEq)]
pub enum ExpiredLease {
    /// Back in the queue for another runner.
    Requeued(JobRecord),
    /// Out of retries (or cancelled): completed with this record's result.
    Finished(JobRecord),
    /// The lease had moved on already (finished, renewed by a new grant): nothing changed.
    Unchanged,
}

impl Store {
    /// Queues a job of `run_id` for any runner carrying `spec.runs_on`; durable on return.
    pub async fn enqueue_job(
        &self,
        run_id: RunId,
        spec: JobSpec,
        max_infra_retries: u32,
    ) -> Result<JobRecord, StoreError> {
        let job_id = JobId::new();
        let queued_at_us = now_us();
        let key = job_key(run_id, &spec.job_key);
        self.write(move |core| {
            let queue_seq = core.generate_id()?;
            core.transact(|tx| {
                ensure_new_job(tx, run_id, &key, &spec.job_key)?;
                let job = JobRecord {
                    queue_seq: Some(queue_seq),
                    max_infra_retries,
                    ..JobRecord::unstarted(job_id, run_id, &spec, JobState::Queued, queued_at_us)
                };
                put_job(tx, &job)?;
                tx.queue.insert(queue_seq.to_be_bytes(), job_id.to_key())?;
                Ok(job)
            })
        })
        .await
    }

    /// Records a job that is ready to run but held back (state `waiting`, not in the queue)
    /// with `reason`; `release_job` queues it later. Durable on return.
    pub async fn hold_job(
        &self,
        run_id: RunId,
        spec: JobSpec,
        max_infra_retries: u32,
        waiting_for: WaitingFor,
        reason: &str,
    ) -> Result<JobRecord, StoreError> {
        let job_id = JobId::new();
        let now = now_us();
        let key = job_key(run_id, &spec.job_key);
        let reason = reason.to_string();
        self.write(move |core| {
            core.transact(|tx| {
                ensure_new_job(tx, run_id, &key, &spec.job_key)?;
                let job = JobRecord {
                    max_infra_retries,
                    waiting_reason: Some(reason.clone()),
                    waiting_for: Some(waiting_for),
                    ..JobRecord::unstarted(job_id, run_id, &spec, JobState::Waiting, now)
                };
                put_job(tx, &job)?;
                Ok(job)
            })
        })
        .await
    }

    /// Changes why a waiting job waits (no flush of its own: a reason is for people, and the
    /// next state move makes it durable). `None` when the job is not waiting any more.
    pub fn set_waiting_reason(
        &self,
        job_id: JobId,
        waiting_for: WaitingFor,
        reason: &str,
    ) -> Result<Option<JobRecord>, StoreError> {
        let reason = reason.to_string();
        self.write_blocking(move |core| {
            core.transact(|tx| {
                let Some(mut job) = get_job(tx, job_id)? else {
                    return Ok(None);
                };
                if job.state != JobState::Waiting {
                    return Ok(None);
                }
                if job.waiting_reason.as_deref() != Some(reason.as_str())
                    || job.waiting_for != Some(waiting_for)
                {
                    job.waiting_reason = Some(reason.clone());
                    job.waiting_for = Some(waiting_for);
                    put_job(tx, &job)?;
                }
                Ok(Some(job))
            })
        })
    }

    /// Moves a waiting job into the queue with `spec` (the held spec, possibly completed with
    /// what the gate adds: environment secrets, the deployment plan). `None` when the job is
    /// not waiting (cancelled meanwhile). Durable on return.
    pub async fn release_job(
        &self,
        job_id: JobId,
        spec: JobSpec,
    ) -> Result<Option<JobRecord>, StoreError> {
        let now = now_us();
        self.write(move |core| {
            let queue_seq = core.generate_id()?;
            core.transact(|tx| {
                let Some(mut job) = get_job(tx, job_id)? else {
                    return Ok(None);
                };
                if job.state != JobState::Waiting {
                    return Ok(None);
                }
                job.state = JobState::Queued;
                job.spec = spec.clone();
                job.queue_seq = Some(queue_seq);
                job.queued_at_us = now;
                job.waiting_reason = None;
                job.waiting_for = None;
                put_job(tx, &job)?;
                tx.queue.insert(queue_seq.to_be_bytes(), job_id.to_key())?;
                Ok(Some(job))
            })
        })
        .await
    }

    /// Completes a waiting job without running it (a rejected approval, a refused version, a
    /// cancelled concurrency group). `None` when it is not waiting. Durable on return.
    pub async fn conclude_waiting_job(
        &self,
        job_id: JobId,
        result: JobResult,
    ) -> Result<Option<JobRecord>, StoreError> {
        let now = now_us();
        let job = self
            .write(move |core| {
                core.transact(|tx| {
                    let Some(mut job) = get_job(tx, job_id)? else {
                        return Ok(None);
                    };
                    if job.state != JobState::Waiting {
                        return Ok(None);
                    }
                    job.waiting_reason = None;
                    job.waiting_for = None;
                    complete(&mut job, result.clone(), now);
                    put_job(tx, &job)?;
                    Ok(Some(job))
                })
            })
            .await?;
        if let Some(job) = &job {
            self.logs.close(job.job_id);
        }
        Ok(job)
    }

    /// Records a job that will never run (its `if:` was false, a `needs` failed…) as completed
    /// with `result`, without queueing it; durable on return.
    pub async fn record_finished_job(
        &self,
        run_id: RunId,
        spec: JobSpec,
        result: JobResult,
    ) -> Result<JobRecord, StoreError> {
        let job_id = JobId::new();
        let now = now_us();
        let key = job_key(run_id, &spec.job_key);
        let job = self
            .write(move |core| {
                core.transact(|tx| {
                    ensure_new_job(tx, run_id, &key, &spec.job_key)?;
                    let job = JobRecord {
                        finished_at_us: Some(now),
                        result: Some(result.clone()),
                        ..JobRecord::unstarted(job_id, run_id, &spec, JobState::Completed, now)
                    };
                    put_job(tx, &job)?;
                    Ok(job)
                })
            })
            .await?;
        self.logs.close(job_id);
        Ok(job)
    }
}

/// Reads: from any thread, straight from the database.
impl Core {
    /// The job with this id, or `None` when there is none.
    pub fn job(&self, job_id: JobId) -> Result<Option<JobRecord>, StoreError> {
        let db = |error| self.database_error(error);
        let Some(key) = self.trees.job_ids.get(job_id.to_key()).map_err(db)? else {
            return Ok(None);
        };
        match self.trees.jobs.get(key).map_err(db)? {
            Some(bytes) => decode("jobs", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The job `key` of run `run_id`, or `None` when that run has no such job.
    pub fn job_by_key(&self, run_id: RunId, key: &str) -> Result<Option<JobRecord>, StoreError> {
        match self
            .trees
            .jobs
            .get(job_key(run_id, key))
            .map_err(|error| self.database_error(error))?
        {
            Some(bytes) => decode("jobs", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The run's jobs in the order they were created.
    pub fn jobs_of_run(&self, run_id: RunId) -> Result<Vec<JobRecord>, StoreError> {
        let mut jobs: Vec<JobRecord> = Vec::new();
        for entry in self.trees.jobs.scan_prefix(run_id.to_key()) {
            let (_, bytes) = entry.map_err(|error| self.database_error(error))?;
            jobs.push(decode("jobs", &bytes)?);
        }
        jobs.sort_by_key(|job| job.job_id);
        Ok(jobs)
    }

    /// Jobs waiting in the queue, oldest first.
    pub fn queued_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let mut jobs = Vec::new();
        for entry in self.trees.queue.iter() {
            let (_, id) = entry.map_err(|error| self.database_error(error))?;
            if let Some(job) = JobId::from_key(&id).and_then(|id| self.job(id).transpose()) {
                jobs.push(job?);
            }
        }
        Ok(jobs)
    }

    /// Leased jobs (what a restarted engine must watch for expiry).
    pub fn leased_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        let mut jobs = Vec::new();
        for entry in self.trees.leases.iter() {
            let (id, _) = entry.map_err(|error| self.database_error(error))?;
            if let Some(job) = JobId::from_key(&id).and_then(|id| self.job(id).transpose()) {
                jobs.push(job?);
            }
        }
        Ok(jobs)
    }
}

impl Store {
    /// Grants the oldest queued job that `accepts` to `runner_id`, with a fresh fencing token;
    /// durable on return. `None` when no queued job fits.
    pub async fn lease_next(
        &self,
        runner_id: RunnerId,
        accepts: impl Fn(&JobSpec) -> bool + Send + Sync + 'static,
    ) -> Result<Option<JobRecord>, StoreError> {
        if self.backend.shared() {
            return self.lease_next_shared(runner_id, accepts).await;
        }
        for entry in self.trees.queue.iter() {
            let (seq_key, id) = entry.map_err(|error| self.database_error(error))?;
            let Some(job_id) = JobId::from_key(&id) else {
                continue;
            };
            let Some(candidate) = self.job(job_id)? else {
                continue;
            };
            if candidate.state != JobState::Queued || !accepts(&candidate.spec) {
                continue;
            }
            let leased_at_us = now_us();
            let seq_key = seq_key.to_vec();
            let granted = self
                .write(move |core| {
                    let fencing_token = core.generate_id()?;
                    core.transact(|tx| {
                        // Another runner may have taken it since the scan: then try the next one.
                        if tx.queue.remove(seq_key.as_slice())?.is_none() {
                            return Ok(None);
                        }
                        let Some(mut job) = get_job(tx, job_id)? else {
                            return Ok(None);
                        };
                        if job.state != JobState::Queued {
                            return Ok(None);
                        }
                        grant(tx, &mut job, runner_id, fencing_token, leased_at_us)?;
                        Ok(Some(job))
                    })
                })
                .await?;
            if let Some(job) = granted {
                return Ok(Some(job));
            }
        }
        Ok(None)
    }

    /// `lease_next` on a store several replicas share: one transaction takes the first queued
    /// rows no other replica holds (`FOR UPDATE SKIP LOCKED`) and leases the oldest that
    /// `accepts`, so two replicas never hand one job to two runners and never wait on each
    /// other. Runs on a blocking thread, beside the writer thread (PostgreSQL commits are
    /// durable on their own).
    async fn lease_next_shared(
        &self,
        runner_id: RunnerId,
        accepts: impl Fn(&JobSpec) -> bool + Send + Sync + 'static,
    ) -> Result<Option<JobRecord>, StoreError> {
        /// Queue rows looked at per try: enough to skip jobs this runner cannot take.
        const WINDOW: usize = 64;
        let core = self.core.clone();
        let leased = tokio::task::spawn_blocking(move || {
            let fencing_token = core.generate_id()?;
            let leased_at_us = now_us();
            core.transact(|tx| {
                let Some(rows) = tx.queue.first_unlocked(WINDOW)? else {
                    return Ok(None);
                };
                for (seq_key, id) in rows {
                    let Some(job_id) = JobId::from_key(&id) else {
                        continue;
                    };
                    let Some(mut job) = get_job(tx, job_id)? else {
                        continue;
                    };
                    if job.state != JobState::Queued || !accepts(&job.spec) {
                        continue;
                    }
                    tx.queue.remove(seq_key.as_slice())?;
                    grant(tx, &mut job, runner_id, fencing_token, leased_at_us)?;
                    return Ok(Some(job));
                }
                Ok(None)
            })
        })
        .await
        .map_err(|error| StoreError::Database {
            path: std::path::PathBuf::from(self.backend.describe()),
            message: format!("the lease thread failed: {error}"),
        })??;
        if let Some(job) = &leased
            && let Some(lease) = &job.lease
        {
            self.record_lease_beat(job.job_id, lease.fencing_token)?;
        }
        Ok(leased)
    }

    /// How many leases `runner_id` holds, as the store knows them.
    pub fn leases_held(&self, runner_id: RunnerId) -> Result<usize, StoreError> {
        let key = runner_id.to_key();
        let mut held = 0;
        for entry in self.trees.leases.iter() {
            let (_, holder) = entry.map_err(|error| self.database_error(error))?;
            if holder.as_slice() == key.as_slice() {
                held += 1;
            }
        }
        Ok(held)
    }

    /// The job as leased to `runner_id` under `fencing_token`, or why it is not.
    pub fn leased_job(
        &self,
        job_id: JobId,
        runner_id: RunnerId,
        fencing_token: u64,
    ) -> Result<JobRecord, StoreError> {
        let job = self
            .job(job_id)?
            .ok_or_else(|| StoreError::JobNotFound(job_id.to_string()))?;
        check_lease(&job, runner_id, fencing_token)?;
        Ok(job)
    }

    /// Records step started / finished events from the lease holder (no flush of its own: the
    /// job's finish makes them durable).
    pub fn record_step_events(
        &self,
        job_id: JobId,
        runner_id: RunnerId,
        fencing_token: u64,
        events: &[JobEvent],
    ) -> Result<JobRecord, StoreError> {
        let events = events.to_vec();
        self.write_blocking(move |core| {
            core.transact(|tx| {
                let mut job = get_leased_job(tx, job_id, runner_id, fencing_token)?;
                for event in &events {
                    match event {
                        JobEvent::StepStarted { index, name } => {
                            job.steps.retain(|step| step.index != *index);
                            job.steps.push(StepProgress {
                                index: *index,
                                name: name.clone(),
                                conclusion: None,
                            });
                        }
                        JobEvent::StepFinished { index, result } => {
                            match job.steps.iter_mut().find(|step| step.index == *index) {
                                Some(step) => step.conclusion = Some(result.conclusion),
                                None => job.steps.push(StepProgress {
                                    index: *index,
                                    name: result.name.clone(),
                                    conclusion: Some(result.conclusion),
                                }),
                            }
                        }
                        JobEvent::Log { .. } | JobEvent::JobFinished { .. } => {}
                    }
                }
                job.steps.sort_by_key(|step| step.index);
                put_job(tx, &job)?;
                Ok(job)
            })
        })
    }

    /// Completes a job with the lease holder's result; durable on return.
    pub async fn finish_job(
        &self,
        job_id: JobId,
        runner_id: RunnerId,
        fencing_token: u64,
        result: JobResult,
    ) -> Result<JobRecord, StoreError> {
        Ok(self
            .finish_job_once(job_id, runner_id, fencing_token, result)
            .await?
            .0)
    }

    /// `finish_job`, and whether this was a repeat: the same runner sending the same result
    /// under the same lease again (its answer was lost, and it asked again, perhaps at another
    /// engine replica). A repeat changes nothing and is answered like the first; any other
    /// report on a completed job is a stale lease.
    pub async fn finish_job_once(
        &self,
        job_id: JobId,
        runner_id: RunnerId,
        fencing_token: u64,
        result: JobResult,
    ) -> Result<(JobRecord, bool), StoreError> {
        let finished_at_us = now_us();
        let (job, repeat) = self
            .write(move |core| {
                core.transact(|tx| {
                    if let Some(done) = get_job(tx, job_id)?
                        && done.state == JobState::Completed
                        && done.runner_id == Some(runner_id)
                        && done.last_fencing_token == Some(fencing_token)
                        && done.result.as_ref() == Some(&result)
                    {
                        return Ok((done, true));
                    }
                    let mut job = get_leased_job(tx, job_id, runner_id, fencing_token)?;
                    complete(&mut job, result.clone(), finished_at_us);
                    tx.leases.remove(job_id.to_key())?;
                    put_job(tx, &job)?;
                    Ok((job, false))
                })
            })
            .await?;
        self.logs.close(job_id);
        Ok((job, repeat))
    }

    /// The lease `fencing_token` of `job_id` ran out: re-queue the job while it has retries
    /// left (recording `reason`), else complete it as failed with `final_reason`; a job whose
    /// cancel was requested completes as cancelled. Durable on return.
    pub async fn expire_lease(
        &self,
        job_id: JobId,
        fencing_token: u64,
        reason: &str,
        final_reason: &str,
    ) -> Result<ExpiredLease, StoreError> {
        let now = now_us();
        let reason = reason.to_string();
        let final_reason = final_reason.to_string();
        let outcome = self
            .write(move |core| {
                let queue_seq = core.generate_id()?;
                core.transact(|tx| {
                    let Some(mut job) = get_job(tx, job_id)? else {
                        return Ok(ExpiredLease::Unchanged);
                    };
                    let held = job.state == JobState::Leased
                        && job.lease.as_ref().map(|lease| lease.fencing_token)
                            == Some(fencing_token);
                    if !held {
                        return Ok(ExpiredLease::Unchanged);
                    }
                    tx.leases.remove(job_id.to_key())?;
                    job.lease = None;
                    let retries_used = u32::try_from(job.retry_reasons.len()).unwrap_or(u32::MAX);
                    if job.cancel_requested {
                        complete(
                            &mut job,
                            cancelled_result("cancelled while its runner was lost"),
                            now,
                        );
                        put_job(tx, &job)?;
                        return Ok(ExpiredLease::Finished(job));
                    }
                    job.retry_reasons.push(reason.clone());
                    if retries_used < job.max_infra_retries {
                        job.state = JobState::Queued;
                        job.queue_seq = Some(queue_seq);
                        job.queued_at_us = now;
                        job.leased_at_us = None;
                        job.steps.clear();
                        tx.queue.insert(queue_seq.to_be_bytes(), job_id.to_key())?;
                        put_job(tx, &job)?;
                        return Ok(ExpiredLease::Requeued(job));
                    }
                    complete(&mut job, failed_result(&final_reason), now);
                    put_job(tx, &job)?;
                    Ok(ExpiredLease::Finished(job))
                })
            })
            .await?;
        if let ExpiredLease::Finished(job) = &outcome {
            self.logs.close(job.job_id);
        }
        Ok(outcome)
    }

    /// Asks every job of the run to stop: queued jobs complete as cancelled at once (returned),
    /// leased ones get `cancel_requested` (their runner hears it on its next heartbeat). Durable
    /// on return.
    pub async fn cancel_run(&self, run_id: RunId) -> Result<Vec<JobRecord>, StoreError> {
        let now = now_us();
        let finished = self
            .write(move |core| {
                let run_prefix = run_id.to_key();
                core.transact(|tx| {
                    let Some(bytes) = tx.runs.get(run_prefix)? else {
                        return abort(StoreError::RunNotFound(run_id));
                    };
                    let mut run: super::RunRecord = decode_tx("runs", &bytes)?;
                    run.cancel_requested = true;
                    tx.runs.insert(run_prefix, encode(&run))?;
                    Ok(())
                })?;
                // The job list is read outside the transaction (sled transactions cannot scan);
                // each job then moves in its own transaction, re-checking its state. The writer
                // applies nothing else in between.
                let mut finished = Vec::new();
                for listed in core.jobs_of_run(run_id)? {
                    if let Some(job) = cancel_one_job(core, listed.job_id, now)? {
                        finished.push(job);
                    }
                }
                Ok(finished)
            })
            .await?;
        for job in &finished {
            self.logs.close(job.job_id);
        }
        Ok(finished)
    }

    /// Asks one job to stop: a queued job completes as cancelled at once (returned), a leased
    /// one gets `cancel_requested`, a completed one is left alone. Durable on return.
    pub async fn cancel_job(&self, job_id: JobId) -> Result<Option<JobRecord>, StoreError> {
        let now = now_us();
        let moved = self
            .write(move |core| cancel_one_job(core, job_id, now))
            .await?;
        if let Some(job) = &moved {
            self.logs.close(job.job_id);
        }
        Ok(moved)
    }
}

impl Store {
    /// Fails a job that is still queued (no runner took it) with `reason`; `None` when it is not
    /// queued any more (a runner took it meanwhile, or it ended). Durable on return.
    pub async fn fail_queued_job(
        &self,
        job_id: JobId,
        reason: String,
    ) -> Result<Option<JobRecord>, StoreError> {
        let now = now_us();
        let moved = self
            .write(move |core| {
                core.transact(|tx| {
                    let Some(mut job) = get_job(tx, job_id)? else {
                        return Ok(None);
                    };
                    if job.state != JobState::Queued {
                        return Ok(None);
                    }
                    if let Some(seq) = job.queue_seq {
                        tx.queue.remove(seq.to_be_bytes())?;
                    }
                    complete(&mut job, failed_result(&reason), now);
                    put_job(tx, &job)?;
                    Ok(Some(job))
                })
            })
            .await?;
        if let Some(job) = &moved {
            self.logs.close(job.job_id);
        }
        Ok(moved)
    }
}

/// The move `cancel_job` makes, on the writer thread.
fn cancel_one_job(core: &Core, job_id: JobId, now: u64) -> Result<Option<JobRecord>, StoreError> {
    core.transact(|tx| {
        let Some(mut job) = get_job(tx, job_id)? else {
            return Ok(None);
        };
        match job.state {
            JobState::Completed => Ok(None),
            JobState::Waiting => {
                job.cancel_requested = true;
                job.waiting_reason = None;
                job.waiting_for = None;
                complete(&mut job, cancelled_result("cancelled while waiting"), now);
                put_job(tx, &job)?;
                Ok(Some(job))
            }
            JobState::Leased => {
                job.cancel_requested = true;
                put_job(tx, &job)?;
                Ok(None)
            }
            JobState::Queued => {
                if let Some(seq) = job.queue_seq {
                    tx.queue.remove(seq.to_be_bytes())?;
                }
                job.cancel_requested = true;
                complete(
                    &mut job,
                    cancelled_result("cancelled before it started"),
                    now,
                );
                put_job(tx, &job)?;
                Ok(Some(job))
            }
        }
    })
}

fn job_key(run_id: RunId, key: &str) -> Vec<u8> {
    let mut bytes = run_id.to_key().to_vec();
    bytes.extend_from_slice(key.as_bytes());
    bytes
}

/// The run is in progress from its first lease on (in the lease's own transaction).
/// Leases a queued job (already out of the queue) to `runner_id` under `fencing_token`.
fn grant(
    tx: &Tx<'_>,
    job: &mut JobRecord,
    runner_id: RunnerId,
    fencing_token: u64,
    leased_at_us: u64,
) -> TxResult<()> {
    job.state = JobState::Leased;
    job.attempt += 1;
    job.queue_seq = None;
    job.lease = Some(LeaseRecord {
        runner_id,
        fencing_token,
        granted_at_us: leased_at_us,
    });
    job.last_fencing_token = Some(fencing_token);
    job.runner_id = Some(runner_id);
    job.leased_at_us = Some(leased_at_us);
    put_job(tx, job)?;
    tx.leases.insert(job.job_id.to_key(), runner_id.to_key())?;
    mark_run_started(tx, job.run_id)
}

fn mark_run_started(tx: &Tx<'_>, run_id: RunId) -> TxResult<()> {
    if let Some(bytes) = tx.runs.get(run_id.to_key())? {
        let mut run: super::RunRecord = decode_tx("runs", &bytes)?;
        if run.status == super::RunStatus::Queued {
            run.status = super::RunStatus::InProgress;
            tx.runs.insert(run_id.to_key(), encode(&run))?;
        }
    }
    Ok(())
}

fn put_job(tx: &Tx<'_>, job: &JobRecord) -> TxResult<()> {
    let key = job_key(job.run_id, &job.job_key);
    tx.job_ids.insert(job.job_id.to_key(), key.clone())?;
    tx.jobs.insert(key, encode(job))?;
    Ok(())
}

fn get_job(tx: &Tx<'_>, job_id: JobId) -> TxResult<Option<JobRecord>> {
    let Some(key) = tx.job_ids.get(job_id.to_key())? else {
        return Ok(None);
    };
    match tx.jobs.get(key)? {
        Some(bytes) => decode_tx("jobs", &bytes).map(Some),
        None => Ok(None),
    }
}

fn get_leased_job(
    tx: &Tx<'_>,
    job_id: JobId,
    runner_id: RunnerId,
    fencing_token: u64,
) -> TxResult<JobRecord> {
    let Some(job) = get_job(tx, job_id)? else {
        return abort(StoreError::JobNotFound(job_id.to_string()));
    };
    match check_lease(&job, runner_id, fencing_token) {
        Ok(()) => Ok(job),
        Err(error) => abort(error),
    }
}

/// A runner may touch a job only while it holds the lease under that exact fencing token.
fn check_lease(job: &JobRecord, runner_id: RunnerId, fencing_token: u64) -> Result<(), StoreError> {
    let stale = StoreError::StaleLease {
        job_id: job.job_id,
        given: fencing_token,
    };
    match &job.lease {
        Some(lease) if job.state == JobState::Leased => {
            if lease.runner_id != runner_id {
                Err(StoreError::NotYourJob {
                    job_id: job.job_id,
                    runner_id,
                })
            } else if lease.fencing_token != fencing_token {
                Err(stale)
            } else {
                Ok(())
            }
        }
        _ => Err(stale),
    }
}

fn complete(job: &mut JobRecord, result: JobResult, finished_at_us: u64) {
    job.state = JobState::Completed;
    job.lease = None;
    job.queue_seq = None;
    job.finished_at_us = Some(finished_at_us);
    job.result = Some(result);
}

fn failed_result(reason: &str) -> JobResult {
    JobResult::failed(reason)
}

fn cancelled_result(reason: &str) -> JobResult {
    JobResult::unrun(Conclusion::Cancelled, reason)
}

/// Refuses a job whose run does not exist or whose key the run already has.
fn ensure_new_job(tx: &Tx<'_>, run_id: RunId, key: &[u8], job_key: &str) -> TxResult<()> {
    if tx.runs.get(run_id.to_key())?.is_none() {
        return abort(StoreError::RunNotFound(run_id));
    }
    if tx.jobs.get(key)?.is_some() {
        return abort(StoreError::JobExists {
            run_id,
            job_key: job_key.to_string(),
        });
    }
    Ok(())
}

impl JobRecord {
    /// A job record as it is first written: never leased, no attempt, no result.
    fn unstarted(
        job_id: JobId,
        run_id: RunId,
        spec: &JobSpec,
        state: JobState,
        queued_at_us: u64,
    ) -> JobRecord {
        JobRecord {
            job_id,
            run_id,
            job_key: spec.job_key.clone(),
            spec: spec.clone(),
            state,
            attempt: 0,
            max_infra_retries: 0,
            retry_reasons: Vec::new(),
            lease: None,
            runner_id: None,
            last_fencing_token: None,
            cancel_requested: false,
            queue_seq: None,
            queued_at_us,
            leased_at_us: None,
            finished_at_us: None,
            steps: Vec::new(),
            result: None,
            waiting_reason: None,
            waiting_for: None,
        }
    }
}
