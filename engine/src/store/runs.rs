//! Runs and their per-workflow run numbers.
//!
//! This file must not decide when a run is finished: the run orchestrator says so.

use protocol::Conclusion;
use serde::{Deserialize, Serialize};

use super::{Core, RunId, Store, StoreError, abort, decode, decode_tx, encode, now_us};

/// Where a run is: not started, running, or finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Recorded, no job of it leased yet.
    Queued,
    /// At least one of its jobs has been leased; not all have finished.
    InProgress,
    /// Finished: `conclusion` says how.
    Completed,
}

impl RunStatus {
    /// The word the API shows, as GitHub says it: `queued`, `in_progress` or `completed`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::InProgress => "in_progress",
            RunStatus::Completed => "completed",
        }
    }
}

/// One run of a workflow as the store keeps it: its status, conclusion and trigger details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's engine-wide id.
    pub run_id: RunId,
    /// The workflow file, relative to the repository root; run numbers count per workflow.
    pub workflow: String,
    /// The run's number among the runs of its workflow (`github.run_number`), from 1.
    pub run_number: u64,
    /// Where the run is: queued, in progress or completed.
    pub status: RunStatus,
    /// How the run ended (success, failure, cancelled, …); `None` until completed.
    pub conclusion: Option<Conclusion>,
    /// Whether a cancel of the whole run was asked.
    pub cancel_requested: bool,
    /// When the run was recorded, in microseconds since the Unix epoch.
    pub created_at_us: u64,
    /// When the run completed, in microseconds since the Unix epoch; `None` until then.
    pub finished_at_us: Option<u64>,
    /// Whatever the planner wants to show about the trigger (event, ref, sha, …).
    pub details: serde_json::Value,
}

impl Store {
    /// Creates a run with the next run number of `workflow`; durable when this returns.
    pub async fn create_run(
        &self,
        workflow: &str,
        details: serde_json::Value,
    ) -> Result<RunRecord, StoreError> {
        let run_id = RunId::new();
        let created_at_us = now_us();
        let counter_key = format!("run_number/{workflow}");
        let workflow = workflow.to_string();
        self.write(move |core| {
            core.transact(|tx| {
                let previous = match tx.counters.get(counter_key.as_bytes())? {
                    Some(bytes) => u64_from_be(&bytes),
                    None => 0,
                };
                let run_number = previous + 1;
                tx.counters
                    .insert(counter_key.as_bytes(), run_number.to_be_bytes())?;
                let run = RunRecord {
                    run_id,
                    workflow: workflow.clone(),
                    run_number,
                    status: RunStatus::Queued,
                    conclusion: None,
                    cancel_requested: false,
                    created_at_us,
                    finished_at_us: None,
                    details: details.clone(),
                };
                tx.runs.insert(run_id.to_key(), encode(&run))?;
                Ok(run)
            })
        })
        .await
    }

    /// Creates a new attempt of a run: a new run id with the given `run_number` (a re-run keeps
    /// its run number; the workflow's counter does not move); durable when this returns.
    pub async fn create_run_attempt(
        &self,
        workflow: &str,
        run_number: u64,
        details: serde_json::Value,
    ) -> Result<RunRecord, StoreError> {
        let run = RunRecord {
            run_id: RunId::new(),
            workflow: workflow.to_string(),
            run_number,
            status: RunStatus::Queued,
            conclusion: None,
            cancel_requested: false,
            created_at_us: now_us(),
            finished_at_us: None,
            details,
        };
        let bytes = encode(&run);
        let key = run.run_id.to_key();
        self.write(move |core| {
            core.transact(|tx| {
                tx.runs.insert(key, bytes.clone())?;
                Ok(())
            })
        })
        .await?;
        Ok(run)
    }

    /// Changes the run's `details` (for people: why it waits, why it was cancelled, which
    /// attempt followed it); durable on return.
    pub async fn update_run_details(
        &self,
        run_id: RunId,
        change: impl Fn(&mut serde_json::Value),
    ) -> Result<RunRecord, StoreError> {
        // `change` borrows from the caller, so it runs here on a copy; the writer applies the
        // result only if the details are still what the copy was made from (else: again).
        loop {
            let run = self.run(run_id)?.ok_or(StoreError::RunNotFound(run_id))?;
            let before = run.details;
            let mut after = before.clone();
            change(&mut after);
            let moved = self
                .write(move |core| {
                    core.transact(|tx| {
                        let Some(bytes) = tx.runs.get(run_id.to_key())? else {
                            return abort(StoreError::RunNotFound(run_id));
                        };
                        let mut run: RunRecord = decode_tx("runs", &bytes)?;
                        if run.details != before {
                            return Ok(None);
                        }
                        run.details = after.clone();
                        tx.runs.insert(run_id.to_key(), encode(&run))?;
                        Ok(Some(run))
                    })
                })
                .await?;
            if let Some(run) = moved {
                return Ok(run);
            }
        }
    }
}

/// Reads: from any thread, straight from the database.
impl Core {
    /// The run with this id, or `None` when there is none.
    pub fn run(&self, run_id: RunId) -> Result<Option<RunRecord>, StoreError> {
        match self
            .trees
            .runs
            .get(run_id.to_key())
            .map_err(|error| self.database_error(error))?
        {
            Some(bytes) => decode("runs", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every run, newest first.
    pub fn runs(&self) -> Result<Vec<RunRecord>, StoreError> {
        let mut runs = Vec::new();
        for entry in self.trees.runs.iter().rev() {
            let (_, bytes) = entry.map_err(|error| self.database_error(error))?;
            runs.push(decode("runs", &bytes)?);
        }
        Ok(runs)
    }
}

impl Store {
    /// Marks the run in progress (a no-op when it is already past that); durable on return.
    pub async fn mark_run_in_progress(&self, run_id: RunId) -> Result<RunRecord, StoreError> {
        self.update_run(run_id, |run| {
            if run.status == RunStatus::Queued {
                run.status = RunStatus::InProgress;
            }
        })
        .await
    }

    /// Completes the run with `conclusion` (the first conclusion wins); durable on return.
    pub async fn finish_run(
        &self,
        run_id: RunId,
        conclusion: Conclusion,
    ) -> Result<RunRecord, StoreError> {
        let finished_at_us = now_us();
        self.update_run(run_id, move |run| {
            if run.status != RunStatus::Completed {
                run.status = RunStatus::Completed;
                run.conclusion = Some(conclusion);
                run.finished_at_us = Some(finished_at_us);
            }
        })
        .await
    }

    async fn update_run(
        &self,
        run_id: RunId,
        change: impl Fn(&mut RunRecord) + Send + 'static,
    ) -> Result<RunRecord, StoreError> {
        self.write(move |core| {
            core.transact(|tx| {
                let Some(bytes) = tx.runs.get(run_id.to_key())? else {
                    return abort(StoreError::RunNotFound(run_id));
                };
                let mut run: RunRecord = decode_tx("runs", &bytes)?;
                change(&mut run);
                tx.runs.insert(run_id.to_key(), encode(&run))?;
                Ok(run)
            })
        })
        .await
    }
}

pub(super) fn u64_from_be(bytes: &[u8]) -> u64 {
    let mut buffer = [0u8; 8];
    if bytes.len() == 8 {
        buffer.copy_from_slice(bytes);
    }
    u64::from_be_bytes(buffer)
}
