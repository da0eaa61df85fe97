//! Cancelling one job of a run rather than the whole run (`POST
//! /api/v1/runs/{id}/jobs/{key}/cancel`, `slipway cancel RUN --job KEY`, the UI's button on a
//! job): a queued or waiting job concludes `cancelled` at once, a running one hears it on its
//! runner's next heartbeat, exactly as a run cancel reaches it. The scheduler then sees a
//! cancelled job: the jobs that need it are skipped (unless their `if:` says otherwise, as on
//! GitHub), the others go on, and the run concludes `cancelled` unless a job failed.
//!
//! This file must not touch the scheduler or the store's records itself: it goes through
//! `Engine::cancel_job`, the path the scheduler's own cancels take.

use crate::runs::dispatch::Engine;
use crate::store::{JobRecord, JobState, RunId, StoreError};

/// Why a job could not be cancelled.
#[derive(Debug, thiserror::Error)]
pub enum JobCancelError {
    /// No such run.
    #[error("find run {0}")]
    RunNotFound(RunId),
    /// The run has no job (or matrix job) of that key: it may not have started yet.
    #[error(
        "find job `{job_key}` in run {run_id}: only a job that is queued, waiting or running can be cancelled (jobs: {known})"
    )]
    JobNotFound {
        /// The run that was searched.
        run_id: RunId,
        /// The job key or job id as given.
        job_key: String,
        /// The run's job keys, sorted and comma-separated (`none yet` when it has none), for the
        /// message.
        known: String,
    },
    /// Every job of that key has already concluded.
    #[error("cancel job `{job_key}` of run {run_id}: it already concluded ({conclusion})")]
    Completed {
        /// The run the job belongs to.
        run_id: RunId,
        /// The job key or job id as given.
        job_key: String,
        /// The conclusion the job already has, e.g. `success`.
        conclusion: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Engine {
    /// Cancels the job `job_key` of `run_id`: a job's key (`build (linux, 18)` for a matrix
    /// leg), or a job id that names every leg of a matrix job (`build`). Returns the jobs the
    /// cancel reached, as they are after it (a running one still running, `cancel_requested`).
    pub async fn cancel_one_job(
        &self,
        run_id: RunId,
        job_key: &str,
    ) -> Result<Vec<JobRecord>, JobCancelError> {
        let store = self.store();
        if store.run(run_id)?.is_none() {
            return Err(JobCancelError::RunNotFound(run_id));
        }
        let jobs = store.jobs_of_run(run_id)?;
        let named: Vec<&JobRecord> = match jobs.iter().find(|job| job.job_key == job_key) {
            Some(job) => vec![job],
            None => jobs
                .iter()
                .filter(|job| job.spec.job_id == job_key)
                .collect(),
        };
        if named.is_empty() {
            let mut known: Vec<&str> = jobs.iter().map(|job| job.job_key.as_str()).collect();
            known.sort_unstable();
            return Err(JobCancelError::JobNotFound {
                run_id,
                job_key: job_key.to_string(),
                known: if known.is_empty() {
                    "none yet".to_string()
                } else {
                    known.join(", ")
                },
            });
        }
        let open: Vec<&JobRecord> = named
            .iter()
            .copied()
            .filter(|job| job.state != JobState::Completed)
            .collect();
        if open.is_empty() {
            let conclusion = named
                .first()
                .and_then(|job| job.conclusion())
                .map_or("completed", |conclusion| conclusion.as_str());
            return Err(JobCancelError::Completed {
                run_id,
                job_key: job_key.to_string(),
                conclusion: conclusion.to_string(),
            });
        }
        let mut reached = Vec::with_capacity(open.len());
        for job in open {
            tracing::info!(%run_id, job_key = %job.job_key, "job cancel requested");
            self.cancel_job(run_id, &job.job_key).await?;
            if let Some(now) = store.job(job.job_id)? {
                reached.push(now);
            }
        }
        Ok(reached)
    }
}
