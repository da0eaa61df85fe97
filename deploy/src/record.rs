//! Deployment records: what was put where, by whom, how and with what result — and the legal
//! moves between statuses. Rollbacks are deployments too, labelled `is_rollback`.
//!
//! Status moves (GitHub's deployment statuses, plus `rolled_back`):
//!
//! ```text
//! waiting ──► queued ──► in_progress ──► success ──► inactive (a newer one succeeded)
//!    │           │             ├──► failure
//!    └───────────┴──► failure  └──► rolled_back (failed, and the last good version came back)
//! ```
//!
//! A deployment starts `waiting` when its environment's gate must open first, `queued` when it
//! can join the lane at once. Once a deployment of a repository in an environment succeeds, the
//! one that was live before becomes `inactive`: at most one is `success` at any time.
//!
//! This module shapes records and checks moves; it must not store them or read a clock.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::audit::{AuditAction, AuditEntry, AuditSubject, SYSTEM_ACTOR};
use super::protection::Approval;
use super::spec::StrategyKind;
use super::strategy::Activity;

/// A deployment's identifier (the store chooses it; sortable ids such as UUID v7 list well).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeploymentId(pub String);

/// The version a deployment carries: the commit, and the tag when it was tagged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version {
    /// The full commit sha deployed.
    pub sha: String,
    /// The git tag on that commit, e.g. `v1.4.0`, when it was tagged.
    #[serde(default)]
    pub tag: Option<String>,
    /// The commit's committer time, used by the version guard when ancestry cannot decide.
    #[serde(default)]
    pub committed_at: Option<Timestamp>,
}

/// Where a deployment stands (GitHub's deployment statuses, plus `rolled_back`); the legal moves
/// are drawn in the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Its gate is open: it waits for its turn in the environment's lane.
    Queued,
    /// It waits for its environment's gate (approvals, wait timer) to open.
    Waiting,
    /// Its phases are running.
    InProgress,
    /// It succeeded and is the live version (until a newer one succeeds).
    Success,
    /// It failed, or was refused before it ran.
    Failure,
    /// It failed after changing the environment, and the last good version came back.
    RolledBack,
    /// It succeeded once but a newer deployment has since replaced it.
    Inactive,
}

/// One phase of a deployment as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRecord {
    /// The phase's position in the deployment plan, from 0.
    pub index: usize,
    /// What the phase did (execute, verify, switch, pause…).
    pub activity: Activity,
    /// A human label: `execute batch 1/2`, `switch to green`, `canary 10%`.
    pub label: String,
    /// When the phase started.
    pub started_at: Timestamp,
    /// When the phase ended; `None` while it runs.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// `None` while the phase runs.
    #[serde(default)]
    pub succeeded: Option<bool>,
    /// What happened, in words (e.g. why the phase failed), when there is something to say.
    #[serde(default)]
    pub detail: Option<String>,
}

/// Putting one version of one repository into one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The deployment's id.
    pub id: DeploymentId,
    /// The environment it deploys to, e.g. `production`.
    pub environment: String,
    /// `owner/name` of the repository.
    pub repository: String,
    /// The version it puts there.
    pub version: Version,
    /// The ref the run was on (`refs/heads/main`).
    pub git_ref: String,
    /// The run and job that deploy it; `None` for a rollback started from the CLI.
    #[serde(default)]
    pub run_id: Option<String>,
    /// The key of the job that deploys it (with its matrix values); `None` for a rollback started
    /// from the CLI.
    #[serde(default)]
    pub job_key: Option<String>,
    /// Who started it: the run's actor, or the user of the CLI.
    pub triggered_by: String,
    /// The approvals that opened the environment's gate for it.
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// How it deploys (all at once, rolling, blue-green, canary).
    pub strategy: StrategyKind,
    /// Its phases as they ran, in order.
    #[serde(default)]
    pub phases: Vec<PhaseRecord>,
    /// Where the deployment stands now.
    pub status: DeploymentStatus,
    /// Why the status is what it is (the failed phase, the rejection, …).
    #[serde(default)]
    pub status_reason: Option<String>,
    /// The environment URL the job reported.
    #[serde(default)]
    pub url: Option<String>,
    /// Blue-green: the slot this version went into.
    #[serde(default)]
    pub slot: Option<String>,
    /// Whether this deployment restores an earlier version after a failed one.
    #[serde(default)]
    pub is_rollback: bool,
    /// For a rollback: the deployment that failed and was rolled back.
    #[serde(default)]
    pub rollback_of: Option<DeploymentId>,
    /// When the deployment record was created.
    pub created_at: Timestamp,
    /// When its first phase started; `None` until then.
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// When it concluded; `None` until it is over.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// When the record last changed.
    pub updated_at: Timestamp,
}

/// A status move the rules above do not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deployment `{id}` cannot move from {from} to {to}")]
pub struct IllegalStatusMove {
    /// The deployment's id.
    pub id: String,
    /// The status it was in.
    pub from: DeploymentStatus,
    /// The status it was asked to move to.
    pub to: DeploymentStatus,
}

/// What is live in one environment for one repository, for `slipway env status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentStatus {
    /// The environment's name, e.g. `production`.
    pub environment: String,
    /// The repository, as `owner/name`.
    pub repository: String,
    /// The deployment whose version users of the environment get, if any succeeded.
    pub live: Option<LiveVersion>,
    /// The deployment running now, if any.
    pub in_progress: Option<DeploymentId>,
    /// Deployments waiting for the gate or the lane, oldest first.
    pub pending: Vec<DeploymentId>,
}

/// The version live in an environment, and the deployment that put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveVersion {
    /// The version users of the environment get.
    pub version: Version,
    /// The deployment that made it live.
    pub deployment_id: DeploymentId,
    /// Blue-green: the slot it is live in; `None` for other strategies.
    pub slot: Option<String>,
    /// When that deployment happened.
    pub deployed_at: Timestamp,
    /// Who started that deployment.
    pub deployed_by: String,
    /// Whether that deployment was a rollback.
    pub is_rollback: bool,
}

impl DeploymentStatus {
    /// Whether `self → to` is a legal move.
    pub fn can_move_to(self, to: DeploymentStatus) -> bool {
        use DeploymentStatus::*;
        matches!(
            (self, to),
            (Waiting, Queued)
                | (Waiting, Failure)
                | (Queued, InProgress)
                | (Queued, Failure)
                | (InProgress, Success)
                | (InProgress, Failure)
                | (InProgress, RolledBack)
                | (Success, Inactive)
        )
    }

    /// Whether the deployment is over (nothing more will happen to it but becoming inactive).
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            DeploymentStatus::Success
                | DeploymentStatus::Failure
                | DeploymentStatus::RolledBack
                | DeploymentStatus::Inactive
        )
    }

    /// The status as GitHub spells it, e.g. `in_progress`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Queued => "queued",
            DeploymentStatus::Waiting => "waiting",
            DeploymentStatus::InProgress => "in_progress",
            DeploymentStatus::Success => "success",
            DeploymentStatus::Failure => "failure",
            DeploymentStatus::RolledBack => "rolled_back",
            DeploymentStatus::Inactive => "inactive",
        }
    }
}

impl fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for DeploymentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Version {
    /// The version of commit `sha`, without a tag or commit time.
    pub fn new(sha: impl Into<String>) -> Version {
        Version {
            sha: sha.into(),
            tag: None,
            committed_at: None,
        }
    }

    /// The tag when there is one, else the short sha: how a version is shown.
    pub fn label(&self) -> String {
        match &self.tag {
            Some(tag) => tag.clone(),
            None => self.sha.chars().take(7).collect(),
        }
    }
}

impl Deployment {
    /// A new deployment record. It starts `waiting` when `needs_gate` (the environment's gate
    /// has something to check), `queued` otherwise.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: DeploymentId,
        environment: impl Into<String>,
        repository: impl Into<String>,
        version: Version,
        git_ref: impl Into<String>,
        triggered_by: impl Into<String>,
        strategy: StrategyKind,
        needs_gate: bool,
        now: Timestamp,
    ) -> Deployment {
        Deployment {
            id,
            environment: environment.into(),
            repository: repository.into(),
            version,
            git_ref: git_ref.into(),
            run_id: None,
            job_key: None,
            triggered_by: triggered_by.into(),
            approvals: Vec::new(),
            strategy,
            phases: Vec::new(),
            status: if needs_gate {
                DeploymentStatus::Waiting
            } else {
                DeploymentStatus::Queued
            },
            status_reason: None,
            url: None,
            slot: None,
            is_rollback: false,
            rollback_of: None,
            created_at: now,
            started_at: None,
            finished_at: None,
            updated_at: now,
        }
    }

    /// The rollback of `failed`: `good` (the version live before it) deployed again, labelled
    /// as a rollback, triggered by the engine. It starts `queued`; the caller runs it at once
    /// in the lane slot `failed` still holds.
    pub fn rollback_of(
        id: DeploymentId,
        failed: &Deployment,
        good: &Deployment,
        now: Timestamp,
    ) -> Deployment {
        let mut rollback = Deployment::new(
            id,
            failed.environment.clone(),
            failed.repository.clone(),
            good.version.clone(),
            good.git_ref.clone(),
            SYSTEM_ACTOR,
            failed.strategy,
            false,
            now,
        );
        rollback.run_id = failed.run_id.clone();
        rollback.job_key = failed.job_key.clone();
        rollback.url = failed.url.clone().or_else(|| good.url.clone());
        rollback.slot = good.slot.clone();
        rollback.is_rollback = true;
        rollback.rollback_of = Some(failed.id.clone());
        rollback.status_reason = Some(format!(
            "rollback of {} ({}) to {}",
            failed.id,
            failed.version.label(),
            good.version.label()
        ));
        rollback
    }

    /// Moves to `to` if the rules allow it, stamping the times.
    pub fn move_to(
        &mut self,
        to: DeploymentStatus,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<(), IllegalStatusMove> {
        if !self.status.can_move_to(to) {
            return Err(IllegalStatusMove {
                id: self.id.0.clone(),
                from: self.status,
                to,
            });
        }
        self.status = to;
        if reason.is_some() {
            self.status_reason = reason;
        }
        if to == DeploymentStatus::InProgress {
            self.started_at = Some(now);
        }
        if matches!(
            to,
            DeploymentStatus::Success | DeploymentStatus::Failure | DeploymentStatus::RolledBack
        ) {
            self.finished_at = Some(now);
        }
        self.updated_at = now;
        Ok(())
    }

    /// An audit entry about this deployment (queued, started, finished, rollback started…).
    pub fn audit(
        &self,
        action: AuditAction,
        actor: &str,
        reason: impl Into<String>,
        now: Timestamp,
    ) -> AuditEntry {
        AuditEntry::new(
            now,
            actor,
            action,
            self.environment.clone(),
            AuditSubject::Deployment {
                deployment_id: self.id.0.clone(),
            },
            reason,
        )
    }

    /// Records that a phase began.
    pub fn phase_started(
        &mut self,
        index: usize,
        activity: Activity,
        label: String,
        now: Timestamp,
    ) {
        self.phases.push(PhaseRecord {
            index,
            activity,
            label,
            started_at: now,
            finished_at: None,
            succeeded: None,
            detail: None,
        });
        self.updated_at = now;
    }

    /// Records the end of the phase with `index` (the latest one with that index).
    pub fn phase_finished(
        &mut self,
        index: usize,
        succeeded: bool,
        detail: Option<String>,
        now: Timestamp,
    ) {
        if let Some(phase) = self
            .phases
            .iter_mut()
            .rev()
            .find(|phase| phase.index == index)
        {
            phase.finished_at = Some(now);
            phase.succeeded = Some(succeeded);
            phase.detail = detail;
        }
        self.updated_at = now;
    }
}

/// Marks deployment `id` successful and the previous successful deployment of the same
/// repository in the same environment inactive. Returns the ids made inactive.
pub fn mark_succeeded(
    deployments: &mut [Deployment],
    id: &DeploymentId,
    now: Timestamp,
) -> Result<Vec<DeploymentId>, IllegalStatusMove> {
    let Some(position) = deployments
        .iter()
        .position(|deployment| &deployment.id == id)
    else {
        return Err(IllegalStatusMove {
            id: id.0.clone(),
            from: DeploymentStatus::InProgress,
            to: DeploymentStatus::Success,
        });
    };
    let (environment, repository) = {
        let Some(deployment) = deployments.get_mut(position) else {
            return Ok(Vec::new());
        };
        deployment.move_to(DeploymentStatus::Success, None, now)?;
        (
            deployment.environment.clone(),
            deployment.repository.clone(),
        )
    };
    let mut made_inactive = Vec::new();
    for (index, other) in deployments.iter_mut().enumerate() {
        if index != position
            && other.status == DeploymentStatus::Success
            && other.environment == environment
            && other.repository == repository
        {
            other.move_to(
                DeploymentStatus::Inactive,
                Some(format!("superseded by {id}")),
                now,
            )?;
            made_inactive.push(other.id.clone());
        }
    }
    Ok(made_inactive)
}

/// The deployment live in `environment` for `repository`: the one with status `success`
/// (the latest finished, should several be found in old data).
pub fn live_deployment<'a>(
    deployments: &'a [Deployment],
    environment: &str,
    repository: &str,
) -> Option<&'a Deployment> {
    deployments
        .iter()
        .filter(|deployment| {
            deployment.status == DeploymentStatus::Success
                && deployment.environment == environment
                && deployment.repository == repository
        })
        .max_by_key(|deployment| deployment.finished_at.unwrap_or(deployment.updated_at))
}

/// What is live, running and pending in an environment for a repository.
pub fn environment_status(
    deployments: &[Deployment],
    environment: &str,
    repository: &str,
) -> EnvironmentStatus {
    let mine = || {
        deployments.iter().filter(move |deployment| {
            deployment.environment == environment && deployment.repository == repository
        })
    };
    let live =
        live_deployment(deployments, environment, repository).map(|deployment| LiveVersion {
            version: deployment.version.clone(),
            deployment_id: deployment.id.clone(),
            slot: deployment.slot.clone(),
            deployed_at: deployment.finished_at.unwrap_or(deployment.updated_at),
            deployed_by: deployment.triggered_by.clone(),
            is_rollback: deployment.is_rollback,
        });
    let in_progress = mine()
        .find(|deployment| deployment.status == DeploymentStatus::InProgress)
        .map(|deployment| deployment.id.clone());
    let mut pending: Vec<&Deployment> = mine()
        .filter(|deployment| {
            matches!(
                deployment.status,
                DeploymentStatus::Waiting | DeploymentStatus::Queued
            )
        })
        .collect();
    pending.sort_by_key(|deployment| deployment.created_at);
    EnvironmentStatus {
        environment: environment.to_string(),
        repository: repository.to_string(),
        live,
        in_progress,
        pending: pending
            .into_iter()
            .map(|deployment| deployment.id.clone())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeploymentStatus::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn deployment(id: &str, sha: &str) -> Deployment {
        Deployment::new(
            DeploymentId(id.into()),
            "production",
            "acme/shop",
            Version::new(sha),
            "refs/heads/main",
            "alice",
            StrategyKind::BigBang,
            false,
            at("2026-03-02T10:00:00Z"),
        )
    }

    #[test]
    fn status_moves() {
        let all = [
            Queued, Waiting, InProgress, Success, Failure, RolledBack, Inactive,
        ];
        let legal = [
            (Waiting, Queued),
            (Waiting, Failure),
            (Queued, InProgress),
            (Queued, Failure),
            (InProgress, Success),
            (InProgress, Failure),
            (InProgress, RolledBack),
            (Success, Inactive),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_move_to(to),
                    legal.contains(&(from, to)),
                    "{from} → {to}"
                );
            }
        }
        let mut record = deployment("d1", "aaa");
        assert_eq!(
            record
                .move_to(Success, None, at("2026-03-02T10:01:00Z"))
                .unwrap_err()
                .to_string(),
            "deployment `d1` cannot move from queued to success"
        );
        record
            .move_to(InProgress, None, at("2026-03-02T10:01:00Z"))
            .unwrap();
        assert_eq!(record.started_at, Some(at("2026-03-02T10:01:00Z")));
        record
            .move_to(
                Failure,
                Some("acceptance failed".into()),
                at("2026-03-02T10:05:00Z"),
            )
            .unwrap();
        assert_eq!(record.finished_at, Some(at("2026-03-02T10:05:00Z")));
        assert_eq!(record.status_reason.as_deref(), Some("acceptance failed"));
        assert!(record.status.is_finished());
    }

    #[test]
    fn a_newer_success_makes_the_previous_inactive() {
        let mut deployments = vec![deployment("d1", "aaa"), deployment("d2", "bbb")];
        let mut other_environment = deployment("d3", "ccc");
        other_environment.environment = "staging".into();
        deployments.push(other_environment);
        for record in deployments.iter_mut() {
            record
                .move_to(InProgress, None, at("2026-03-02T10:01:00Z"))
                .unwrap();
        }
        let id = |text: &str| DeploymentId(text.into());
        assert_eq!(
            mark_succeeded(&mut deployments, &id("d3"), at("2026-03-02T10:02:00Z")),
            Ok(vec![])
        );
        assert_eq!(
            mark_succeeded(&mut deployments, &id("d1"), at("2026-03-02T10:02:00Z")),
            Ok(vec![])
        );
        assert_eq!(
            mark_succeeded(&mut deployments, &id("d2"), at("2026-03-02T10:03:00Z")),
            Ok(vec![id("d1")])
        );
        let statuses: Vec<_> = deployments.iter().map(|d| d.status).collect();
        assert_eq!(statuses, vec![Inactive, Success, Success]);
        assert_eq!(
            deployments[0].status_reason.as_deref(),
            Some("superseded by d2")
        );
        let status = environment_status(&deployments, "production", "acme/shop");
        let live = status.live.unwrap();
        assert_eq!(live.version.sha, "bbb");
        assert_eq!(live.deployment_id, id("d2"));
        assert_eq!(live.deployed_at, at("2026-03-02T10:03:00Z"));
        assert!(mark_succeeded(&mut deployments, &id("nope"), at("2026-03-02T10:03:00Z")).is_err());
    }

    #[test]
    fn rollback_record() {
        let mut good = deployment("d1", "aaa");
        good.slot = Some("blue".into());
        good.version.tag = Some("v1.0.0".into());
        let mut failed = deployment("d2", "bbb");
        failed.run_id = Some("42".into());
        let rollback = Deployment::rollback_of(
            DeploymentId("d3".into()),
            &failed,
            &good,
            at("2026-03-02T11:00:00Z"),
        );
        assert!(rollback.is_rollback);
        assert_eq!(rollback.rollback_of, Some(DeploymentId("d2".into())));
        assert_eq!(rollback.version, good.version);
        assert_eq!(rollback.slot.as_deref(), Some("blue"));
        assert_eq!(rollback.triggered_by, SYSTEM_ACTOR);
        assert_eq!(rollback.run_id.as_deref(), Some("42"));
        assert_eq!(rollback.status, Queued);
        assert_eq!(
            rollback.status_reason.as_deref(),
            Some("rollback of d2 (bbb) to v1.0.0")
        );
    }

    #[test]
    fn status_lists_pending_in_order() {
        let mut first = deployment("d1", "aaa");
        first.created_at = at("2026-03-02T10:05:00Z");
        let mut second = deployment("d2", "bbb");
        second.created_at = at("2026-03-02T10:01:00Z");
        second.status = Waiting;
        let mut running = deployment("d3", "ccc");
        running.status = InProgress;
        let status = environment_status(&[first, second, running], "production", "acme/shop");
        assert_eq!(status.live, None);
        assert_eq!(status.in_progress, Some(DeploymentId("d3".into())));
        assert_eq!(
            status.pending,
            vec![DeploymentId("d2".into()), DeploymentId("d1".into())]
        );
    }

    #[test]
    fn audit_entries_name_the_deployment() {
        let record = deployment("d1", "aaa");
        let entry = record.audit(
            AuditAction::DeploymentStarted,
            SYSTEM_ACTOR,
            "left the lane",
            at("2026-03-02T10:01:00Z"),
        );
        assert_eq!(
            entry.to_string(),
            "2026-03-02T10:01:00Z slipway deployment started deployment d1 in production: left the lane"
        );
    }

    #[test]
    fn serde_round_trip() {
        let record = deployment("d1", "aaa");
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(json["status"], "queued");
        assert_eq!(json["strategy"], "big-bang");
        assert_eq!(json["id"], "d1");
        let back: Deployment = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }
}
