//! Removing a finished run from the store: the run record, its jobs (and their id index), their
//! log index entries and whatever scheduler state is left, for the retention sweep
//! (`runs::retention`). Files (logs, artifacts, work dirs) are the sweep's to remove.
//!
//! This file must not decide which runs go: it removes what it is told, and refuses a run that
//! is not completed.

use super::{Core, JobId, RunId, RunRecord, RunStatus, Store, StoreError, abort, decode_tx};

impl Store {
    /// Removes a completed run with its jobs, their log index entries and its scheduler state, in
    /// one write; durable on return. `Ok(None)` when the run is unknown or not completed (a run
    /// still going is never removed).
    pub async fn delete_finished_run(
        &self,
        run_id: RunId,
    ) -> Result<Option<RunRecord>, StoreError> {
        self.write(move |core| delete(core, run_id)).await
    }
}

fn delete(core: &Core, run_id: RunId) -> Result<Option<RunRecord>, StoreError> {
    let db = |error| core.database_error(error);
    // The run's job keys are read first: a transaction cannot scan. Only the writer thread adds
    // jobs, and it is running this, so none can appear in between.
    let mut jobs: Vec<(Vec<u8>, JobId)> = Vec::new();
    for entry in core.trees.jobs.scan_prefix(run_id.to_key()) {
        let (key, bytes) = entry.map_err(db)?;
        let job: super::JobRecord = super::decode("jobs", &bytes)?;
        jobs.push((key.to_vec(), job.job_id));
    }
    let removed = core.transact(|tx| {
        let Some(bytes) = tx.runs.get(run_id.to_key())? else {
            return Ok(None);
        };
        let run: RunRecord = decode_tx("runs", &bytes)?;
        if run.status != RunStatus::Completed {
            return Ok(None);
        }
        for (key, job_id) in &jobs {
            if tx.leases.get(job_id.to_key())?.is_some() {
                return abort(StoreError::JobNotFound(format!(
                    "{job_id} of run {run_id} still holds a lease"
                )));
            }
            tx.jobs.remove(key.as_slice())?;
            tx.job_ids.remove(job_id.to_key())?;
        }
        tx.runs.remove(run_id.to_key())?;
        Ok(Some(run))
    })?;
    if removed.is_some() {
        for (_, job_id) in &jobs {
            core.trees.log_index.remove(job_id.to_key()).map_err(db)?;
        }
        core.trees
            .schedules
            .remove(super::schedules::input_key(run_id))
            .map_err(db)?;
        core.trees.schedules.remove(run_id.to_key()).map_err(db)?;
    }
    Ok(removed)
}
