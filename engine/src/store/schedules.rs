//! Each unfinished run's scheduler state, kept so the run orchestrator can pick the run up after
//! a restart: the scheduler's JSON and the actions it still had to carry out (its outbox).
//!
//! Writes here are not flushed on their own and not waited for: the writer thread applies them
//! in order, and the job move that follows them (enqueue, finish, `finish_run`) is acknowledged
//! only after a flush that covers them too, so persisting a run's state costs no extra flush.
//! This file must not interpret the state: it stores what the orchestrator hands it.

use serde::{Deserialize, Serialize};

use super::{RunId, Store, StoreError, decode, encode};

/// One run's scheduler state as the orchestrator saved it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    /// The run the scheduler state belongs to.
    pub run_id: RunId,
    /// The serialised `scheduler::Scheduler`.
    pub state: serde_json::Value,
    /// Actions handed out by the last event and not yet known to be carried out.
    pub outbox: Vec<serde_json::Value>,
}

impl Store {
    /// Saves the run's scheduler state; durable with the next flush (see the module doc).
    pub fn save_schedule(&self, record: &ScheduleRecord) -> Result<(), StoreError> {
        let key = record.run_id.to_key();
        let bytes = encode(record);
        self.write_later("save a run's scheduler state", move |core| {
            core.trees
                .schedules
                .insert(key, bytes)
                .map(|_| ())
                .map_err(|error| core.database_error(error))
        })
    }

    /// Saves the run's scheduler input (the workflow, contexts, sealed secrets: what never
    /// changes during a run) once, beside its state; durable with the next flush.
    pub fn save_schedule_input(
        &self,
        run_id: RunId,
        input: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let bytes = encode(input);
        self.write_later("save a run's scheduler input", move |core| {
            core.trees
                .schedules
                .insert(input_key(run_id), bytes)
                .map(|_| ())
                .map_err(|error| core.database_error(error))
        })
    }

    /// The run's saved scheduler input, or `None` when none was saved.
    pub fn schedule_input(&self, run_id: RunId) -> Result<Option<serde_json::Value>, StoreError> {
        match self
            .trees
            .schedules
            .get(input_key(run_id))
            .map_err(|error| self.database_error(error))?
        {
            Some(bytes) => decode("schedules", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The run's saved scheduler state and outbox, or `None` when none was saved.
    pub fn schedule(&self, run_id: RunId) -> Result<Option<ScheduleRecord>, StoreError> {
        match self
            .trees
            .schedules
            .get(run_id.to_key())
            .map_err(|error| self.database_error(error))?
        {
            Some(bytes) => decode("schedules", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Unfinished runs with no saved scheduler state: the engine stopped after writing the run
    /// record and before its plan was saved (or while concluding an invalid workflow). Nothing
    /// drives such a run; at startup the orchestrator concludes it (`Orchestrator::start`).
    pub fn unplanned_runs(&self) -> Result<Vec<super::RunRecord>, StoreError> {
        let mut runs = Vec::new();
        for run in self.runs()? {
            if run.status != super::RunStatus::Completed && self.schedule(run.run_id)?.is_none() {
                runs.push(run);
            }
        }
        Ok(runs)
    }

    /// Every saved schedule, oldest run first.
    pub fn schedules(&self) -> Result<Vec<ScheduleRecord>, StoreError> {
        let mut records = Vec::new();
        for entry in self.trees.schedules.iter() {
            let (key, bytes) = entry.map_err(|error| self.database_error(error))?;
            if key.len() != RUN_KEY_LEN {
                continue; // a run's saved input (see `save_schedule_input`)
            }
            records.push(decode("schedules", &bytes)?);
        }
        Ok(records)
    }

    /// Forgets a finished run's schedule; durable with the next flush.
    pub fn remove_schedule(&self, run_id: RunId) -> Result<(), StoreError> {
        self.write_later("forget a finished run's scheduler state", move |core| {
            let db = |error| core.database_error(error);
            core.trees.schedules.remove(input_key(run_id)).map_err(db)?;
            core.trees.schedules.remove(run_id.to_key()).map_err(db)?;
            Ok(())
        })
    }
}

/// A run's schedule is keyed by its 16-byte id; its input by the id and `/input`.
const RUN_KEY_LEN: usize = 16;

pub(super) fn input_key(run_id: RunId) -> Vec<u8> {
    let mut key = run_id.to_key().to_vec();
    key.extend_from_slice(b"/input");
    key
}
