//! Concurrency groups across runs (`concurrency:` at workflow level and at job level).
//!
//! GitHub's rule (SEMANTICS.md): per group at most one holder runs and one waits; a newer
//! arrival replaces the waiting one, which concludes `cancelled`; with `cancel-in-progress:
//! true` the arrival also cancels the running holder. Group names compare case-insensitively.
//! A holder is a whole run (workflow level: its scheduler is not fed `Start` until it holds the
//! group) or one job or matrix leg (job level: it waits in the store with state `waiting`).
//!
//! `GroupRecord` is the pure bookkeeping of one group; `Groups` keeps every group in memory and
//! in the store (`RecordKind::ConcurrencyGroups`, written before it is acted on), so a restarted
//! engine knows who runs and who waits. It carries out its decisions through the `Engine` and
//! tells the orchestrator what only the orchestrator can do (`FollowUp`: start a run's
//! scheduler, feed a cancel, forget a run).
//!
//! This module must not decide a run's DAG (that is the scheduler), speak HTTP or know sled.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use protocol::wire::WaitingFor;
use protocol::{Conclusion, JobResult, JobSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use workflows::model::Concurrency;

use crate::runs::dispatch::Engine;
use crate::store::{JobState, RecordKind, RunId, RunStatus, StoreError};
use scheduler::{RunInput, evaluate_concurrency, workflow_level_values};

/// Who holds (or waits for) a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Holder {
    /// A whole run (workflow-level `concurrency`).
    Run {
        /// The run holding or waiting for the group.
        run_id: RunId,
    },
    /// One job or matrix leg of a run (job-level `concurrency`).
    Job {
        /// The run the job belongs to.
        run_id: RunId,
        /// The job's key in the run, e.g. `deploy` or `build (linux, 18)` for a matrix leg.
        job_key: String,
    },
}

impl Holder {
    /// The run the holder is or belongs to.
    pub fn run_id(&self) -> RunId {
        match self {
            Holder::Run { run_id } | Holder::Job { run_id, .. } => *run_id,
        }
    }
}

/// One group: its name as first written, who runs, who waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The group's name as first written (after expression evaluation).
    pub group: String,
    /// The holder currently in the group, if any.
    pub running: Option<Holder>,
    /// The one holder waiting for the group, if any (a newer arrival replaces it).
    pub pending: Option<Holder>,
}

/// What an arrival in a group means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// Whether the arriving holder may start now, must wait, or never can.
    pub admission: Admission,
    /// The running holder to cancel (`cancel-in-progress: true`).
    pub cancel_running: Option<Holder>,
    /// The waiting holder the arrival replaced; it concludes `cancelled`.
    pub replaced_pending: Option<Holder>,
}

/// Whether a holder arriving in a concurrency group may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The group was free (or already held by this holder): go.
    Start,
    /// Wait until the running holder leaves.
    Wait,
    /// A job asks for the group its own run holds at workflow level: it could never start.
    Deadlock,
}

impl GroupRecord {
    /// An empty group named `group`, held by no one.
    pub fn new(group: &str) -> GroupRecord {
        GroupRecord {
            group: group.to_string(),
            running: None,
            pending: None,
        }
    }

    /// `holder` arrives. Arriving again (after an engine restart) changes nothing and answers
    /// as the first time did, without cancelling anything twice.
    pub fn arrive(&mut self, holder: Holder, cancel_in_progress: bool) -> Arrival {
        let mut arrival = Arrival {
            admission: Admission::Wait,
            cancel_running: None,
            replaced_pending: None,
        };
        if self.running.as_ref() == Some(&holder) {
            arrival.admission = Admission::Start;
            return arrival;
        }
        if self.pending.as_ref() == Some(&holder) {
            return arrival;
        }
        let Some(running) = &self.running else {
            self.running = Some(holder);
            arrival.admission = Admission::Start;
            return arrival;
        };
        if matches!(holder, Holder::Job { .. })
            && *running
                == (Holder::Run {
                    run_id: holder.run_id(),
                })
        {
            arrival.admission = Admission::Deadlock;
            return arrival;
        }
        if cancel_in_progress {
            arrival.cancel_running = Some(running.clone());
        }
        arrival.replaced_pending = self.pending.replace(holder);
        arrival
    }

    /// `holder` leaves (it finished, or it was cancelled while waiting). When it was the running
    /// one, the waiting one (if any) becomes the running one and is returned: start it.
    pub fn leave(&mut self, holder: &Holder) -> Option<Holder> {
        if self.pending.as_ref() == Some(holder) {
            self.pending = None;
        }
        if self.running.as_ref() == Some(holder) {
            self.running = self.pending.take();
            return self.running.clone();
        }
        None
    }

    /// Whether `holder` is the group's running or waiting holder.
    pub fn holds(&self, holder: &Holder) -> bool {
        self.running.as_ref() == Some(holder) || self.pending.as_ref() == Some(holder)
    }

    fn is_empty(&self) -> bool {
        self.running.is_none() && self.pending.is_none()
    }
}

/// What the orchestrator must do after a group moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FollowUp {
    /// The run holds its workflow-level group now: feed its scheduler `Start`.
    StartRun(RunId),
    /// The run was asked to cancel (cancel-in-progress): feed its scheduler the cancel.
    CancelRun(RunId),
    /// The run concluded without starting (replaced while waiting): drop its scheduler.
    ForgetRun(RunId),
}

/// Every group, in memory and in the store. Owned by the orchestrator task.
pub struct Groups {
    engine: Arc<Engine>,
    /// By lowercased group name.
    groups: HashMap<String, GroupRecord>,
}

/// The group name a waiting holder is told, as people read it.
pub fn waiting_reason(group: &str) -> String {
    format!("waiting for concurrency group `{group}`")
}

/// A run's workflow-level group: `(name, cancel-in-progress)`, `None` without one. `Err` is an
/// expression error (the run fails).
pub fn run_group(input: &RunInput) -> Result<Option<(String, bool)>, String> {
    match &input.workflow.concurrency {
        Some(concurrency) => evaluate_concurrency(concurrency, &workflow_level_values(input)),
        None => Ok(None),
    }
}

/// A job's group, evaluated with the contexts its spec carries (`github`, `needs`, `strategy`,
/// `matrix`, `inputs`, `vars`).
pub fn job_group(
    concurrency: &Concurrency,
    spec: &JobSpec,
) -> Result<Option<(String, bool)>, String> {
    let values: IndexMap<String, Value> = spec
        .contexts
        .iter()
        .filter(|(name, _)| {
            matches!(
                name.as_str(),
                "github" | "needs" | "strategy" | "matrix" | "inputs" | "vars"
            )
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    evaluate_concurrency(concurrency, &values)
}

impl Groups {
    /// Loads every group saved in the store.
    pub fn load(engine: Arc<Engine>) -> Result<Groups, StoreError> {
        let records: Vec<GroupRecord> =
            engine.store().records(RecordKind::ConcurrencyGroups, "")?;
        let groups = records
            .into_iter()
            .map(|record| (record.group.to_lowercase(), record))
            .collect();
        Ok(Groups { engine, groups })
    }

    /// A run with a workflow-level `group` arrives. `true`: start it now; `false`: it waits (its
    /// details say so). Whatever it displaced is cancelled.
    pub async fn admit_run(
        &mut self,
        run_id: RunId,
        group: &str,
        cancel_in_progress: bool,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Result<bool, StoreError> {
        let arrival = self
            .arrive(group, Holder::Run { run_id }, cancel_in_progress)
            .await?;
        self.displace(group, &arrival, follow_ups).await?;
        let start = arrival.admission == Admission::Start;
        let reason = waiting_reason(group);
        self.engine
            .store()
            .update_run_details(run_id, |details| {
                if let Some(map) = details.as_object_mut() {
                    map.insert("concurrency_group".into(), json!(group));
                    if start {
                        map.shift_remove("waiting_reason");
                    } else {
                        map.insert("waiting_reason".into(), json!(reason));
                    }
                }
            })
            .await?;
        Ok(start)
    }

    /// A job whose `concurrency` evaluated to `group` is ready: queue it, or hold it until the
    /// group frees.
    pub async fn start_or_hold_job(
        &mut self,
        run_id: RunId,
        spec: JobSpec,
        group: &str,
        cancel_in_progress: bool,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Result<(), StoreError> {
        let holder = Holder::Job {
            run_id,
            job_key: spec.job_key.clone(),
        };
        let arrival = self.arrive(group, holder, cancel_in_progress).await?;
        self.displace(group, &arrival, follow_ups).await?;
        match arrival.admission {
            Admission::Start => self.engine.enqueue_job(run_id, spec).await.map(drop),
            Admission::Wait => self
                .engine
                .hold_job(
                    run_id,
                    spec,
                    WaitingFor::Concurrency,
                    &waiting_reason(group),
                )
                .await
                .map(drop),
            Admission::Deadlock => {
                let reason = format!(
                    "cancelled: the job's concurrency group `{group}` is held by its own run (a deadlock)"
                );
                self.engine
                    .record_finished_job(run_id, spec, cancelled_result(reason))
                    .await
                    .map(drop)
            }
        }
    }

    /// A job completed: it leaves its group, and the group's waiting holder starts.
    pub async fn job_finished(
        &mut self,
        run_id: RunId,
        job_key: &str,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Result<(), StoreError> {
        let holder = Holder::Job {
            run_id,
            job_key: job_key.to_string(),
        };
        self.leave(holder, follow_ups).await
    }

    /// A run finished: it leaves its group, and the group's waiting holder starts.
    pub async fn run_finished(
        &mut self,
        run_id: RunId,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Result<(), StoreError> {
        self.leave(Holder::Run { run_id }, follow_ups).await
    }

    /// Whether the run waits for its workflow-level group (it has not started).
    pub fn run_is_waiting(&self, run_id: RunId) -> bool {
        let holder = Holder::Run { run_id };
        self.groups
            .values()
            .any(|group| group.pending.as_ref() == Some(&holder))
    }

    /// A run waiting for its group concludes `cancelled` with `reason` (a cancel request, or a
    /// newer run replaced it), leaving the group.
    pub async fn conclude_waiting_run(
        &mut self,
        run_id: RunId,
        reason: &str,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Result<(), StoreError> {
        let store = self.engine.store().clone();
        store
            .update_run_details(run_id, |details| {
                if let Some(map) = details.as_object_mut() {
                    map.shift_remove("waiting_reason");
                    map.insert("conclusion_reason".into(), json!(reason));
                }
            })
            .await?;
        store.remove_schedule(run_id)?;
        store.finish_run(run_id, Conclusion::Cancelled).await?;
        follow_ups.push(FollowUp::ForgetRun(run_id));
        self.leave(Holder::Run { run_id }, follow_ups).await
    }

    /// After a restart: holders that ended while the engine was down leave their groups.
    pub async fn reconcile(&mut self, follow_ups: &mut Vec<FollowUp>) -> Result<(), StoreError> {
        let holders: Vec<Holder> = self
            .groups
            .values()
            .flat_map(|group| group.running.iter().chain(group.pending.iter()))
            .cloned()
            .collect();
        for holder in holders {
            if self.has_ended(&holder)? {
                self.leave(holder, follow_ups).await?;
            }
        }
        Ok(())
    }

    async fn arrive(
        &mut self,
        group: &str,
        holder: Holder,
        cancel_in_progress: bool,
    ) -> Result<Arrival, StoreError> {
        let key = group.to_lowercase();
        let record = self
            .groups
            .entry(key.clone())
            .or_insert_with(|| GroupRecord::new(group));
        let before = record.clone();
        let arrival = record.arrive(holder, cancel_in_progress);
        if *record != before {
            self.save(&key).await?;
        }
        Ok(arrival)
    }

    /// Cancels what an arrival displaced: the replaced waiting holder concludes `cancelled`, the
    /// running one is asked to stop.
    async fn displace(
        &mut self,
        group: &str,
        arrival: &Arrival,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Result<(), StoreError> {
        if let Some(replaced) = &arrival.replaced_pending {
            let reason =
                format!("cancelled: a newer request is waiting in concurrency group `{group}`");
            tracing::info!(?replaced, group, "replacing the waiting holder of a group");
            match replaced {
                Holder::Run { run_id } => {
                    self.conclude_waiting_run(*run_id, &reason, follow_ups)
                        .await?
                }
                Holder::Job { run_id, job_key } => {
                    if let Some(job) = self.engine.store().job_by_key(*run_id, job_key)? {
                        self.engine
                            .conclude_waiting_job(job.job_id, cancelled_result(reason))
                            .await?;
                    }
                }
            }
        }
        if let Some(running) = &arrival.cancel_running {
            tracing::info!(
                ?running,
                group,
                "cancel-in-progress: cancelling the running holder"
            );
            match running {
                Holder::Run { run_id } => {
                    let reason = format!(
                        "cancelled: a newer run in concurrency group `{group}` has cancel-in-progress"
                    );
                    self.engine
                        .store()
                        .update_run_details(*run_id, |details| {
                            if let Some(map) = details.as_object_mut() {
                                map.insert("conclusion_reason".into(), json!(reason));
                            }
                        })
                        .await?;
                    self.engine.cancel_run(*run_id).await?;
                    follow_ups.push(FollowUp::CancelRun(*run_id));
                }
                Holder::Job { run_id, job_key } => {
                    self.engine.cancel_job(*run_id, job_key).await?;
                }
            }
        }
        Ok(())
    }

    /// `holder` leaves every group it is in; each group's next holder is started.
    async fn leave(
        &mut self,
        holder: Holder,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Result<(), StoreError> {
        let mut leaving = vec![holder];
        while let Some(holder) = leaving.pop() {
            let keys: Vec<String> = self
                .groups
                .iter()
                .filter(|(_, group)| group.holds(&holder))
                .map(|(key, _)| key.clone())
                .collect();
            for key in keys {
                let Some(record) = self.groups.get_mut(&key) else {
                    continue;
                };
                let group = record.group.clone();
                let next = record.leave(&holder);
                self.save(&key).await?;
                let Some(next) = next else { continue };
                if !self.start_next(&group, &next, follow_ups).await? {
                    // It ended while it waited: the group passes on.
                    leaving.push(next);
                }
            }
        }
        Ok(())
    }

    /// Starts the holder that now runs the group; `false` when it cannot start (it ended).
    async fn start_next(
        &mut self,
        group: &str,
        next: &Holder,
        follow_ups: &mut Vec<FollowUp>,
    ) -> Result<bool, StoreError> {
        if self.has_ended(next)? {
            return Ok(false);
        }
        match next {
            Holder::Run { run_id } => {
                tracing::info!(%run_id, group, "run takes its concurrency group");
                self.engine
                    .store()
                    .update_run_details(*run_id, |details| {
                        if let Some(map) = details.as_object_mut() {
                            map.shift_remove("waiting_reason");
                        }
                    })
                    .await?;
                follow_ups.push(FollowUp::StartRun(*run_id));
                Ok(true)
            }
            Holder::Job { run_id, job_key } => {
                let Some(job) = self.engine.store().job_by_key(*run_id, job_key)? else {
                    // Not recorded yet (a restart between the group write and the hold): the
                    // re-carried `StartJob` arrives again and finds it holds the group.
                    return Ok(true);
                };
                if job.state != JobState::Waiting {
                    return Ok(job.state != JobState::Completed);
                }
                let spec = self.engine.opened_spec(&job)?;
                tracing::info!(%run_id, job_key, group, "job takes its concurrency group");
                Ok(self.engine.release_job(job.job_id, spec).await?.is_some())
            }
        }
    }

    fn has_ended(&self, holder: &Holder) -> Result<bool, StoreError> {
        let store = self.engine.store();
        let run_ended = store
            .run(holder.run_id())?
            .is_none_or(|run| run.status == RunStatus::Completed);
        match holder {
            Holder::Run { .. } => Ok(run_ended),
            Holder::Job { run_id, job_key } => match store.job_by_key(*run_id, job_key)? {
                Some(job) => Ok(job.state == JobState::Completed),
                None => Ok(run_ended),
            },
        }
    }

    async fn save(&mut self, key: &str) -> Result<(), StoreError> {
        let store = self.engine.store();
        match self.groups.get(key) {
            Some(record) if record.is_empty() => {
                self.groups.remove(key);
                store
                    .remove_record(RecordKind::ConcurrencyGroups, key)
                    .await
                    .map(drop)
            }
            Some(record) => {
                store
                    .put_record(RecordKind::ConcurrencyGroups, key, record)
                    .await
            }
            None => Ok(()),
        }
    }
}

fn cancelled_result(reason: String) -> JobResult {
    JobResult::unrun(Conclusion::Cancelled, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: u128) -> Holder {
        Holder::Run {
            run_id: RunId(uuid::Uuid::from_u128(n)),
        }
    }

    fn job(n: u128, key: &str) -> Holder {
        Holder::Job {
            run_id: RunId(uuid::Uuid::from_u128(n)),
            job_key: key.to_string(),
        }
    }

    #[test]
    fn one_runs_one_waits_and_a_newer_arrival_replaces_the_waiting_one() {
        let mut group = GroupRecord::new("deploy");
        assert_eq!(group.arrive(run(1), false).admission, Admission::Start);
        let second = group.arrive(run(2), false);
        assert_eq!(second.admission, Admission::Wait);
        assert_eq!(second.replaced_pending, None);
        assert_eq!(second.cancel_running, None);
        let third = group.arrive(run(3), false);
        assert_eq!(third.admission, Admission::Wait);
        assert_eq!(third.replaced_pending, Some(run(2)));
        assert_eq!(group.leave(&run(1)), Some(run(3)));
        assert_eq!(group.running, Some(run(3)));
        assert_eq!(group.leave(&run(3)), None);
        assert!(group.is_empty());
    }

    #[test]
    fn cancel_in_progress_cancels_the_running_holder_and_waits_for_it() {
        let mut group = GroupRecord::new("ci");
        group.arrive(run(1), true);
        let second = group.arrive(run(2), true);
        assert_eq!(second.admission, Admission::Wait);
        assert_eq!(second.cancel_running, Some(run(1)));
        // The running one leaves once its cancel completes; the waiting one goes.
        assert_eq!(group.leave(&run(1)), Some(run(2)));
    }

    #[test]
    fn arriving_again_is_idempotent_and_cancels_nothing_twice() {
        let mut group = GroupRecord::new("g");
        group.arrive(run(1), true);
        group.arrive(run(2), true);
        let again = group.arrive(run(2), true);
        assert_eq!(again.admission, Admission::Wait);
        assert_eq!(again.cancel_running, None);
        assert_eq!(again.replaced_pending, None);
        assert_eq!(group.arrive(run(1), true).admission, Admission::Start);
    }

    #[test]
    fn a_waiting_holder_that_leaves_frees_its_place_only() {
        let mut group = GroupRecord::new("g");
        group.arrive(job(1, "a"), false);
        group.arrive(job(2, "a"), false);
        assert_eq!(group.leave(&job(2, "a")), None);
        assert_eq!(group.running, Some(job(1, "a")));
        assert_eq!(group.pending, None);
    }

    #[test]
    fn a_job_asking_for_its_own_runs_group_is_a_deadlock() {
        let mut group = GroupRecord::new("g");
        group.arrive(run(1), false);
        assert_eq!(
            group.arrive(job(1, "build"), false).admission,
            Admission::Deadlock
        );
        assert_eq!(group.pending, None);
        assert_eq!(
            group.arrive(job(2, "build"), false).admission,
            Admission::Wait
        );
    }
}
