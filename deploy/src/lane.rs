//! The deployment lane: one per environment, a first-in-first-out queue across runs with at
//! most one deployment in progress.
//!
//! The lane never starts a second deployment while one is in progress, never cancels the one in
//! progress because a newer one arrived, and starts nothing while a freeze window is on; the
//! queue resumes, in order, when the freeze ends. An automatic rollback is part of the
//! deployment that failed and keeps its place in the lane; a rollback asked for by hand queues
//! like any deployment.
//!
//! The lane is a value the store keeps as JSON; this module must not read a clock or the store.

use std::collections::VecDeque;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::freeze::{Freeze, FreezeWindow, frozen_at};
use super::record::{DeploymentId, Version};

/// One environment's lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    /// The environment the lane serves, e.g. `production`.
    pub environment: String,
    /// The deployment holding the lane, if one is running.
    #[serde(default)]
    pub in_progress: Option<LaneEntry>,
    /// The deployments waiting, in the order they start.
    #[serde(default)]
    pub queue: VecDeque<LaneEntry>,
}

/// A deployment waiting for (or holding) the lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneEntry {
    /// The deployment's id.
    pub deployment_id: DeploymentId,
    /// The run that deploys it; `None` for a rollback asked for from the CLI.
    pub run_id: Option<String>,
    /// The key of the job that deploys it (with its matrix values); `None` without a run.
    pub job_key: Option<String>,
    /// The version it deploys.
    pub version: Version,
    /// Whether it restores an earlier version (a rollback asked for by hand).
    pub is_rollback: bool,
    /// When it joined the lane.
    pub enqueued_at: Timestamp,
}

/// What the lane is doing, for the UI and for the caller's timers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LaneStatus {
    /// Nothing running, nothing queued.
    Idle,
    /// A deployment holds the lane; `queued` wait behind it.
    Busy {
        /// The deployment holding the lane.
        deployment_id: DeploymentId,
        /// How many deployments wait behind it.
        queued: usize,
    },
    /// A freeze window holds the queue; it resumes at `freeze.until`.
    Frozen {
        /// The freeze window that holds the queue, and when it ends.
        freeze: Freeze,
        /// How many deployments wait for it to end.
        queued: usize,
    },
    /// The head of the queue may start now.
    Ready {
        /// The deployment at the head of the queue.
        next: DeploymentId,
        /// How many deployments are queued, the head included.
        queued: usize,
    },
}

/// Why the lane refused a change; the lane is left as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaneError {
    /// The deployment is in the lane already (queued or in progress).
    #[error("deployment `{0}` is already in the lane")]
    AlreadyQueued(DeploymentId),
    /// The deployment is not waiting in the queue, so it cannot be taken out of it.
    #[error("deployment `{0}` is not in the lane's queue")]
    NotQueued(DeploymentId),
    /// The deployment is not the one in progress, so it cannot finish.
    #[error("deployment `{0}` is not the one in progress")]
    NotInProgress(DeploymentId),
    /// The deployment to take out of the queue is in progress: the lane never cancels it.
    #[error(
        "deployment `{0}` is in progress; the lane does not cancel it (cancel the deployment itself)"
    )]
    InProgress(DeploymentId),
}

impl Lane {
    /// An empty lane for `environment`: nothing in progress, nothing queued.
    pub fn new(environment: impl Into<String>) -> Lane {
        Lane {
            environment: environment.into(),
            in_progress: None,
            queue: VecDeque::new(),
        }
    }

    /// Appends a deployment to the queue and returns its position (1: next to start).
    pub fn enqueue(&mut self, entry: LaneEntry) -> Result<usize, LaneError> {
        if self.contains(&entry.deployment_id) {
            return Err(LaneError::AlreadyQueued(entry.deployment_id));
        }
        self.queue.push_back(entry);
        Ok(self.queue.len())
    }

    /// Starts the head of the queue when nothing is in progress and no freeze window is on at
    /// `now`: the entry moves to `in_progress` and is returned. Otherwise `None`.
    pub fn next_ready(
        &mut self,
        now: Timestamp,
        freeze_windows: &[FreezeWindow],
    ) -> Option<LaneEntry> {
        if self.in_progress.is_some() || frozen_at(freeze_windows, now).is_some() {
            return None;
        }
        let entry = self.queue.pop_front()?;
        self.in_progress = Some(entry.clone());
        Some(entry)
    }

    /// The deployment in progress finished (whatever its result): the lane is free again.
    pub fn finish(&mut self, deployment_id: &DeploymentId) -> Result<LaneEntry, LaneError> {
        match &self.in_progress {
            Some(entry) if &entry.deployment_id == deployment_id => self
                .in_progress
                .take()
                .ok_or_else(|| LaneError::NotInProgress(deployment_id.clone())),
            _ => Err(LaneError::NotInProgress(deployment_id.clone())),
        }
    }

    /// Takes a queued deployment out of the queue (its run was cancelled, its gate rejected).
    /// The one in progress is never removed this way.
    pub fn remove_queued(&mut self, deployment_id: &DeploymentId) -> Result<LaneEntry, LaneError> {
        if self
            .in_progress
            .as_ref()
            .is_some_and(|entry| &entry.deployment_id == deployment_id)
        {
            return Err(LaneError::InProgress(deployment_id.clone()));
        }
        let position = self
            .queue
            .iter()
            .position(|entry| &entry.deployment_id == deployment_id)
            .ok_or_else(|| LaneError::NotQueued(deployment_id.clone()))?;
        self.queue
            .remove(position)
            .ok_or_else(|| LaneError::NotQueued(deployment_id.clone()))
    }

    /// The queue position of a deployment (1: next to start); `None` when not queued (also
    /// when it is the one in progress).
    pub fn position(&self, deployment_id: &DeploymentId) -> Option<usize> {
        self.queue
            .iter()
            .position(|entry| &entry.deployment_id == deployment_id)
            .map(|index| index + 1)
    }

    /// Every queued deployment with its position, in order.
    pub fn positions(&self) -> Vec<(DeploymentId, usize)> {
        self.queue
            .iter()
            .enumerate()
            .map(|(index, entry)| (entry.deployment_id.clone(), index + 1))
            .collect()
    }

    /// Whether the deployment is in progress or queued in this lane.
    pub fn contains(&self, deployment_id: &DeploymentId) -> bool {
        self.in_progress
            .as_ref()
            .is_some_and(|entry| &entry.deployment_id == deployment_id)
            || self.position(deployment_id).is_some()
    }

    /// What the lane is doing at `now`.
    pub fn status(&self, now: Timestamp, freeze_windows: &[FreezeWindow]) -> LaneStatus {
        let queued = self.queue.len();
        if let Some(entry) = &self.in_progress {
            return LaneStatus::Busy {
                deployment_id: entry.deployment_id.clone(),
                queued,
            };
        }
        let Some(head) = self.queue.front() else {
            return LaneStatus::Idle;
        };
        match frozen_at(freeze_windows, now) {
            Some(freeze) => LaneStatus::Frozen { freeze, queued },
            None => LaneStatus::Ready {
                next: head.deployment_id.clone(),
                queued,
            },
        }
    }

    /// When the caller should look at the lane again without any event: the end of the freeze
    /// holding a non-empty queue. `None` when nothing waits on time.
    pub fn wake_at(&self, now: Timestamp, freeze_windows: &[FreezeWindow]) -> Option<Timestamp> {
        match self.status(now, freeze_windows) {
            LaneStatus::Frozen { freeze, .. } => freeze.until,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn id(text: &str) -> DeploymentId {
        DeploymentId(text.into())
    }

    fn entry(deployment: &str, run: &str) -> LaneEntry {
        LaneEntry {
            deployment_id: id(deployment),
            run_id: Some(run.into()),
            job_key: Some("deploy".into()),
            version: Version::new(format!("sha-{deployment}")),
            is_rollback: false,
            enqueued_at: at("2026-03-04T09:00:00Z"),
        }
    }

    #[test]
    fn fifo_across_runs_one_at_a_time() {
        let now = at("2026-03-04T10:00:00Z"); // a Wednesday
        let mut lane = Lane::new("production");
        assert_eq!(lane.status(now, &[]), LaneStatus::Idle);
        assert_eq!(lane.enqueue(entry("d1", "run-1")), Ok(1));
        assert_eq!(lane.enqueue(entry("d2", "run-2")), Ok(2));
        assert_eq!(lane.enqueue(entry("d3", "run-3")), Ok(3));
        assert_eq!(
            lane.enqueue(entry("d2", "run-2")),
            Err(LaneError::AlreadyQueued(id("d2")))
        );
        assert_eq!(
            lane.positions(),
            vec![(id("d1"), 1), (id("d2"), 2), (id("d3"), 3)]
        );

        let first = lane.next_ready(now, &[]).unwrap();
        assert_eq!(first.deployment_id, id("d1"));
        // A second call while d1 runs starts nothing, however many are queued.
        assert_eq!(lane.next_ready(now, &[]), None);
        assert_eq!(lane.next_ready(at("2026-03-04T12:00:00Z"), &[]), None);
        assert_eq!(
            lane.status(now, &[]),
            LaneStatus::Busy {
                deployment_id: id("d1"),
                queued: 2
            }
        );
        assert_eq!(lane.position(&id("d1")), None);
        assert_eq!(lane.position(&id("d2")), Some(1));
        assert_eq!(lane.position(&id("d3")), Some(2));

        // A newer deployment does not displace the one in progress.
        lane.enqueue(entry("d4", "run-4")).unwrap();
        assert_eq!(
            lane.remove_queued(&id("d1")),
            Err(LaneError::InProgress(id("d1")))
        );
        assert_eq!(
            lane.in_progress.as_ref().map(|e| e.deployment_id.clone()),
            Some(id("d1"))
        );

        assert_eq!(
            lane.finish(&id("d2")),
            Err(LaneError::NotInProgress(id("d2")))
        );
        lane.finish(&id("d1")).unwrap();
        // A cancelled run leaves the queue; the rest keep their order.
        lane.remove_queued(&id("d3")).unwrap();
        assert_eq!(
            lane.remove_queued(&id("d3")),
            Err(LaneError::NotQueued(id("d3")))
        );
        let order: Vec<DeploymentId> = std::iter::from_fn(|| {
            let next = lane.next_ready(now, &[])?;
            lane.finish(&next.deployment_id).ok()?;
            Some(next.deployment_id)
        })
        .collect();
        assert_eq!(order, vec![id("d2"), id("d4")]);
        assert_eq!(lane.status(now, &[]), LaneStatus::Idle);
    }

    #[test]
    fn freeze_pauses_and_resumes() {
        let windows = vec![FreezeWindow::parse("Fri 16:00-Mon 08:00 UTC").unwrap()];
        let mut lane = Lane::new("production");
        lane.enqueue(entry("d1", "run-1")).unwrap();
        lane.enqueue(entry("d2", "run-2")).unwrap();

        // Friday 17:00: frozen; nothing starts, the caller is told when to look again.
        let friday = at("2026-03-06T17:00:00Z");
        assert_eq!(lane.next_ready(friday, &windows), None);
        assert_eq!(
            lane.status(friday, &windows),
            LaneStatus::Frozen {
                freeze: Freeze {
                    window: "Fri 16:00-Mon 08:00 UTC".into(),
                    until: Some(at("2026-03-09T08:00:00Z")),
                },
                queued: 2,
            }
        );
        assert_eq!(
            lane.wake_at(friday, &windows),
            Some(at("2026-03-09T08:00:00Z"))
        );
        // Still frozen a minute before the end.
        assert_eq!(lane.next_ready(at("2026-03-09T07:59:00Z"), &windows), None);
        // Monday 08:00: resumes with the head of the queue, one at a time.
        let monday = at("2026-03-09T08:00:00Z");
        assert_eq!(
            lane.next_ready(monday, &windows).map(|e| e.deployment_id),
            Some(id("d1"))
        );
        assert_eq!(lane.next_ready(monday, &windows), None);
        assert_eq!(lane.wake_at(monday, &windows), None);
    }

    #[test]
    fn a_freeze_does_not_stop_the_one_in_progress() {
        let windows = vec![FreezeWindow::parse("Fri 16:00-Mon 08:00 UTC").unwrap()];
        let mut lane = Lane::new("production");
        lane.enqueue(entry("d1", "run-1")).unwrap();
        lane.enqueue(entry("d2", "run-2")).unwrap();
        assert!(
            lane.next_ready(at("2026-03-06T15:59:00Z"), &windows)
                .is_some()
        );
        // The freeze begins while d1 runs: d1 carries on and finishes; d2 waits for Monday.
        let friday = at("2026-03-06T16:30:00Z");
        assert!(matches!(
            lane.status(friday, &windows),
            LaneStatus::Busy { .. }
        ));
        lane.finish(&id("d1")).unwrap();
        assert_eq!(lane.next_ready(friday, &windows), None);
        assert_eq!(lane.position(&id("d2")), Some(1));
        assert_eq!(
            lane.next_ready(at("2026-03-09T08:00:00Z"), &windows)
                .map(|e| e.deployment_id),
            Some(id("d2"))
        );
    }

    #[test]
    fn serde_round_trip() {
        let mut lane = Lane::new("production");
        lane.enqueue(entry("d1", "run-1")).unwrap();
        lane.enqueue(entry("d2", "run-2")).unwrap();
        lane.next_ready(at("2026-03-04T10:00:00Z"), &[]);
        let json = serde_json::to_string(&lane).unwrap();
        let back: Lane = serde_json::from_str(&json).unwrap();
        assert_eq!(back, lane);
    }
}
