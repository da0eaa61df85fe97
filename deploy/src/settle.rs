//! Settlement of a finished deployment job: what the job's end means for its deployment record,
//! for the records it supersedes, for the rollback it carried out and for the environment's
//! lane. The engine reads the records, calls [`settle`] and writes what comes back in one batch.
//!
//! Pure: the caller passes the records, the job's report and `now` (and a fresh id for the
//! rollback record, when the report has a rollback). This module must not read a store or a
//! clock, nor decide anything about jobs that deploy nothing.

use jiff::Timestamp;

use super::audit::{AuditAction, AuditEntry, SYSTEM_ACTOR};
use super::record::{
    Deployment, DeploymentId, DeploymentStatus, IllegalStatusMove, PhaseRecord, live_deployment,
    mark_succeeded,
};

/// How a deployment job ended, as the engine heard it.
#[derive(Debug, Clone, Copy)]
pub struct FinishedJob<'a> {
    /// Whether the job concluded `success`.
    pub succeeded: bool,
    /// The job's conclusion as text (`failure`, `cancelled` …), for messages.
    pub conclusion: &'a str,
    /// Why the job failed, when it says.
    pub failure_reason: Option<&'a str>,
    /// The runner's deployment report; `None` from a runner that predates reports (it ran the
    /// steps once: a big-bang deploy) or when the job ended before it deployed.
    pub report: Option<ReportedDeployment<'a>>,
}

/// The runner's account of a deployment it carried out.
#[derive(Debug, Clone, Copy)]
pub struct ReportedDeployment<'a> {
    /// How the deployment ended, as the runner saw it.
    pub status: DeploymentStatus,
    /// Why it ended so (the failed phase, the rejection…), when the runner says.
    pub reason: Option<&'a str>,
    /// The deployment's phases as they ran, in order.
    pub phases: &'a [PhaseRecord],
    /// Blue-green: the slot live when the job ended.
    pub live_slot: Option<&'a str>,
    /// The rollback the runner carried out after a failure, if any.
    pub rollback: Option<ReportedRollback<'a>>,
}

/// The rollback a failed deployment job carried out.
#[derive(Debug, Clone, Copy)]
pub struct ReportedRollback<'a> {
    /// Whether the rollback brought the last good version back.
    pub succeeded: bool,
    /// Why the rollback failed, when the runner says.
    pub reason: Option<&'a str>,
    /// The rollback's phases as they ran, in order.
    pub phases: &'a [PhaseRecord],
}

/// What the lane does with the settled deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneMove {
    /// It never started: take it out of the queue.
    RemoveQueued,
    /// It held the lane: free it for the next one.
    Finish,
}

/// What to write: the settled deployment, the other records that changed (made inactive, or
/// the rollback record), the audit entries, and the lane move.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    /// The deployment record with its final status.
    pub deployment: Deployment,
    /// The other records that changed: the one made inactive, or the rollback record.
    pub others: Vec<Deployment>,
    /// The audit entries the settlement produced, in order.
    pub audits: Vec<AuditEntry>,
    /// What the environment's lane does with the deployment.
    pub lane: LaneMove,
}

/// Settles `deployment` after its job ended. `environment_records` are the deployment records
/// of its environment (it among them or not); `rollback_id` names the rollback record, used
/// when the report carries a rollback and there was a version live before. `None` when the
/// deployment was settled already.
pub fn settle(
    deployment: &Deployment,
    environment_records: &[Deployment],
    finished: &FinishedJob<'_>,
    rollback_id: Option<DeploymentId>,
    now: Timestamp,
) -> Result<Option<Settlement>, IllegalStatusMove> {
    if deployment.status.is_finished() {
        return Ok(None);
    }
    let mut deployment = deployment.clone();
    if matches!(
        deployment.status,
        DeploymentStatus::Waiting | DeploymentStatus::Queued
    ) {
        // Cancelled (or concluded) before it started.
        let reason = finished
            .failure_reason
            .map(str::to_string)
            .unwrap_or_else(|| format!("the job ended {} before it started", finished.conclusion));
        deployment.move_to(DeploymentStatus::Failure, Some(reason), now)?;
        return Ok(Some(Settlement {
            deployment,
            others: Vec::new(),
            audits: Vec::new(),
            lane: LaneMove::RemoveQueued,
        }));
    }
    let mut all = environment_records.to_vec();
    let before = all.clone();
    let previous_live =
        live_deployment(&all, &deployment.environment, &deployment.repository).cloned();
    let report = finished.report;
    if let Some(report) = report {
        deployment.phases = report.phases.to_vec();
    }
    let mut others: Vec<Deployment> = Vec::new();
    let mut audits = Vec::new();
    let status = match report {
        Some(report) => Some(report.status),
        None if finished.succeeded => Some(DeploymentStatus::Success),
        None => None,
    };
    let live_slot = report.and_then(|report| report.live_slot);
    match status {
        Some(DeploymentStatus::Success) if finished.succeeded => {
            if let Some(slot) = live_slot {
                deployment.slot = Some(slot.to_string());
            }
            if let Some(slot) = all.iter_mut().find(|other| other.id == deployment.id) {
                *slot = deployment.clone();
            } else {
                all.push(deployment.clone());
            }
            mark_succeeded(&mut all, &deployment.id, now)?;
            if let Some(updated) = all.iter().find(|other| other.id == deployment.id) {
                deployment = updated.clone();
            }
        }
        Some(DeploymentStatus::RolledBack) => {
            let reason = report
                .and_then(|report| report.reason)
                .unwrap_or("a check failed")
                .to_string();
            deployment.move_to(DeploymentStatus::RolledBack, Some(reason.clone()), now)?;
            audits.push(deployment.audit(AuditAction::RollbackStarted, SYSTEM_ACTOR, reason, now));
            if let (Some(rollback), Some(good), Some(id)) = (
                report.and_then(|report| report.rollback),
                previous_live.as_ref(),
                rollback_id,
            ) {
                let mut record = Deployment::rollback_of(id.clone(), &deployment, good, now);
                record.phases = rollback.phases.to_vec();
                if let Some(slot) = live_slot {
                    record.slot = Some(slot.to_string());
                }
                record.move_to(DeploymentStatus::InProgress, None, now)?;
                if rollback.succeeded {
                    all.push(record);
                    mark_succeeded(&mut all, &id, now)?;
                } else {
                    let why = rollback.reason.unwrap_or("the rollback failed").to_string();
                    record.move_to(DeploymentStatus::Failure, Some(why), now)?;
                    others.push(record);
                }
            }
        }
        _ => {
            let reason = report
                .and_then(|report| report.reason)
                .or(finished.failure_reason)
                .map(str::to_string)
                .unwrap_or_else(|| format!("the deployment job ended {}", finished.conclusion));
            deployment.move_to(DeploymentStatus::Failure, Some(reason), now)?;
        }
    }
    others.extend(
        all.iter()
            .filter(|other| other.id != deployment.id && !before.contains(other))
            .cloned(),
    );
    audits.push(deployment.audit(
        AuditAction::DeploymentFinished,
        SYSTEM_ACTOR,
        deployment.status.as_str(),
        now,
    ));
    Ok(Some(Settlement {
        deployment,
        others,
        audits,
        lane: LaneMove::Finish,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::Version;
    use crate::spec::StrategyKind;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    const NOW: &str = "2026-03-02T12:00:00Z";

    fn record(id: &str, sha: &str, status: DeploymentStatus) -> Deployment {
        let mut deployment = Deployment::new(
            DeploymentId(id.into()),
            "production",
            "acme/web",
            Version::new(sha),
            "refs/heads/main",
            "alice",
            StrategyKind::BlueGreen,
            true,
            at("2026-03-02T10:00:00Z"),
        );
        deployment.run_id = Some("7".into());
        deployment.job_key = Some("deploy".into());
        for step in [
            DeploymentStatus::Queued,
            DeploymentStatus::InProgress,
            DeploymentStatus::Success,
            DeploymentStatus::Inactive,
        ] {
            if deployment.status == status {
                break;
            }
            deployment
                .move_to(step, None, at("2026-03-02T10:01:00Z"))
                .unwrap();
        }
        deployment.slot = Some("blue".into());
        deployment
    }

    fn finished(succeeded: bool, report: Option<ReportedDeployment<'_>>) -> FinishedJob<'_> {
        FinishedJob {
            succeeded,
            conclusion: if succeeded { "success" } else { "failure" },
            failure_reason: None,
            report,
        }
    }

    fn report(status: DeploymentStatus, live_slot: Option<&str>) -> ReportedDeployment<'_> {
        ReportedDeployment {
            status,
            reason: Some("verify green failed"),
            phases: &[],
            live_slot,
            rollback: None,
        }
    }

    #[test]
    fn success_supersedes_the_live_deployment() {
        let live = record("d1", "aaa", DeploymentStatus::Success);
        let mut running = record("d2", "bbb", DeploymentStatus::InProgress);
        running.slot = None;
        let all = vec![live.clone(), running.clone()];
        let job = finished(true, Some(report(DeploymentStatus::Success, Some("green"))));
        let settled = settle(&running, &all, &job, None, at(NOW))
            .unwrap()
            .unwrap();
        assert_eq!(settled.deployment.status, DeploymentStatus::Success);
        assert_eq!(settled.deployment.slot.as_deref(), Some("green"));
        assert_eq!(settled.lane, LaneMove::Finish);
        assert_eq!(settled.others.len(), 1);
        assert_eq!(settled.others[0].id, live.id);
        assert_eq!(settled.others[0].status, DeploymentStatus::Inactive);
        let actions: Vec<AuditAction> = settled.audits.iter().map(|entry| entry.action).collect();
        assert_eq!(actions, vec![AuditAction::DeploymentFinished]);
    }

    #[test]
    fn a_runner_without_reports_deployed_big_bang() {
        let running = record("d2", "bbb", DeploymentStatus::InProgress);
        let settled = settle(&running, &[], &finished(true, None), None, at(NOW))
            .unwrap()
            .unwrap();
        assert_eq!(settled.deployment.status, DeploymentStatus::Success);
        let failed = settle(&running, &[], &finished(false, None), None, at(NOW))
            .unwrap()
            .unwrap();
        assert_eq!(failed.deployment.status, DeploymentStatus::Failure);
        assert_eq!(
            failed.deployment.status_reason.as_deref(),
            Some("the deployment job ended failure")
        );
    }

    #[test]
    fn a_successful_report_of_a_failed_job_is_a_failure() {
        let running = record("d2", "bbb", DeploymentStatus::InProgress);
        let mut job = finished(false, Some(report(DeploymentStatus::Success, None)));
        job.failure_reason = Some("step 3 failed");
        let settled = settle(&running, &[], &job, None, at(NOW)).unwrap().unwrap();
        assert_eq!(settled.deployment.status, DeploymentStatus::Failure);
        assert_eq!(
            settled.deployment.status_reason.as_deref(),
            Some("verify green failed")
        );
    }

    #[test]
    fn rolled_back_records_the_rollback_and_puts_the_old_version_live() {
        let live = record("d1", "aaa", DeploymentStatus::Success);
        let running = record("d2", "bbb", DeploymentStatus::InProgress);
        let all = vec![live.clone(), running.clone()];
        let mut reported = report(DeploymentStatus::RolledBack, Some("blue"));
        reported.rollback = Some(ReportedRollback {
            succeeded: true,
            reason: None,
            phases: &[],
        });
        let job = finished(false, Some(reported));
        let settled = settle(
            &running,
            &all,
            &job,
            Some(DeploymentId("r1".into())),
            at(NOW),
        )
        .unwrap()
        .unwrap();
        assert_eq!(settled.deployment.status, DeploymentStatus::RolledBack);
        let rollback = settled
            .others
            .iter()
            .find(|other| other.id.0 == "r1")
            .expect("a rollback record");
        assert!(rollback.is_rollback);
        assert_eq!(rollback.status, DeploymentStatus::Success);
        assert_eq!(rollback.version.sha, "aaa");
        assert_eq!(rollback.slot.as_deref(), Some("blue"));
        let superseded = settled.others.iter().find(|other| other.id == live.id);
        assert_eq!(
            superseded.map(|other| other.status),
            Some(DeploymentStatus::Inactive)
        );
        let actions: Vec<AuditAction> = settled.audits.iter().map(|entry| entry.action).collect();
        assert_eq!(
            actions,
            vec![
                AuditAction::RollbackStarted,
                AuditAction::DeploymentFinished
            ]
        );
    }

    #[test]
    fn a_failed_rollback_is_recorded_as_failed() {
        let live = record("d1", "aaa", DeploymentStatus::Success);
        let running = record("d2", "bbb", DeploymentStatus::InProgress);
        let mut reported = report(DeploymentStatus::RolledBack, None);
        reported.rollback = Some(ReportedRollback {
            succeeded: false,
            reason: Some("switch failed"),
            phases: &[],
        });
        let job = finished(false, Some(reported));
        let settled = settle(
            &running,
            &[live.clone(), running.clone()],
            &job,
            Some(DeploymentId("r1".into())),
            at(NOW),
        )
        .unwrap()
        .unwrap();
        assert_eq!(settled.others.len(), 1);
        assert_eq!(settled.others[0].status, DeploymentStatus::Failure);
        assert_eq!(
            settled.others[0].status_reason.as_deref(),
            Some("switch failed")
        );
    }

    #[test]
    fn ended_before_it_started_or_settled_already() {
        let mut waiting = record("d3", "ccc", DeploymentStatus::Queued);
        waiting.status = DeploymentStatus::Waiting;
        let mut job = finished(false, None);
        job.conclusion = "cancelled";
        let settled = settle(&waiting, &[], &job, None, at(NOW)).unwrap().unwrap();
        assert_eq!(settled.lane, LaneMove::RemoveQueued);
        assert_eq!(settled.deployment.status, DeploymentStatus::Failure);
        assert_eq!(
            settled.deployment.status_reason.as_deref(),
            Some("the job ended cancelled before it started")
        );
        assert!(settled.audits.is_empty());
        let done = record("d1", "aaa", DeploymentStatus::Success);
        assert_eq!(settle(&done, &[], &job, None, at(NOW)).unwrap(), None);
    }
}
