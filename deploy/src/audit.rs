//! The audit trail: one entry per decision about a deployment or a release — who, what, when,
//! why. Every decision function in `deploy` hands back the entries it produced; the store
//! appends them and never edits one.
//!
//! This module only shapes entries; it must not store them or read a clock.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The actor recorded for decisions the engine takes by itself (a gate opening when its wait
/// timer ends, an automatic rollback).
pub const SYSTEM_ACTOR: &str = "slipway";

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When the decision was taken.
    pub at: Timestamp,
    /// Who decided: a user's login, or [`SYSTEM_ACTOR`].
    pub actor: String,
    /// What was decided.
    pub action: AuditAction,
    /// The environment the decision concerns, e.g. `production`.
    pub environment: String,
    /// What the decision is about.
    pub subject: AuditSubject,
    /// Why: the approver's comment, the rule that refused, the failed phase…
    pub reason: String,
}

/// What was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// An approver approved a run (or a release promotion) for an environment.
    Approved,
    /// An approver rejected it.
    Rejected,
    /// The protection gate opened: approvals complete and wait timer over.
    GateOpened,
    /// The protection gate refused the ref.
    GateRefused,
    /// A deployment joined the environment's lane.
    DeploymentQueued,
    /// A deployment left the lane and started.
    DeploymentStarted,
    /// The version guard refused to deploy an older commit over a newer one.
    VersionRefused,
    /// A deployment ended (its status is in the reason).
    DeploymentFinished,
    /// A failed deployment is being rolled back.
    RollbackStarted,
    /// A release was promoted to an audience.
    ReleasePromoted,
    /// A release was withdrawn from an environment.
    ReleaseWithdrawn,
    /// A release record was created (no audience yet).
    ReleaseCreated,
    /// A release record was deleted.
    ReleaseDeleted,
    /// A promotion was refused (the version is not live there, the gate refused or rejected).
    ReleaseRefused,
    /// A release category's policy in an environment was set or cleared.
    ReleasePolicyChanged,
    /// A release plan was made, advanced, paused, resumed or halted (the reason says which).
    ReleasePlanChanged,
    /// A release's notes were replaced.
    ReleaseNotesEdited,
}

/// The thing a decision is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditSubject {
    /// A workflow run, whose jobs deploy to the environment.
    Run {
        /// The run's id, as the engine stores it.
        run_id: String,
    },
    /// A deployment of one version into the environment.
    Deployment {
        /// The deployment's id (`DeploymentId`).
        deployment_id: String,
    },
    /// A release, promoted or withdrawn in the environment.
    Release {
        /// The release's tag, e.g. `v1.4.0`.
        tag: String,
    },
}

impl AuditEntry {
    /// An entry for the decision `action` taken by `actor` at `at` about `subject` in
    /// `environment`, with its reason.
    pub fn new(
        at: Timestamp,
        actor: impl Into<String>,
        action: AuditAction,
        environment: impl Into<String>,
        subject: AuditSubject,
        reason: impl Into<String>,
    ) -> AuditEntry {
        AuditEntry {
            at,
            actor: actor.into(),
            action,
            environment: environment.into(),
            subject,
            reason: reason.into(),
        }
    }
}

impl AuditAction {
    /// The action in words for logs and `slipway` output, e.g. `gate opened`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Approved => "approved",
            AuditAction::Rejected => "rejected",
            AuditAction::GateOpened => "gate opened",
            AuditAction::GateRefused => "gate refused",
            AuditAction::DeploymentQueued => "deployment queued",
            AuditAction::DeploymentStarted => "deployment started",
            AuditAction::VersionRefused => "version refused",
            AuditAction::DeploymentFinished => "deployment finished",
            AuditAction::RollbackStarted => "rollback started",
            AuditAction::ReleasePromoted => "release promoted",
            AuditAction::ReleaseWithdrawn => "release withdrawn",
            AuditAction::ReleaseCreated => "release created",
            AuditAction::ReleaseDeleted => "release deleted",
            AuditAction::ReleaseRefused => "release refused",
            AuditAction::ReleasePolicyChanged => "release policy changed",
            AuditAction::ReleasePlanChanged => "release plan changed",
            AuditAction::ReleaseNotesEdited => "release notes edited",
        }
    }
}

impl fmt::Display for AuditSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditSubject::Run { run_id } => write!(f, "run {run_id}"),
            AuditSubject::Deployment { deployment_id } => write!(f, "deployment {deployment_id}"),
            AuditSubject::Release { tag } => write!(f, "release {tag}"),
        }
    }
}

impl fmt::Display for AuditEntry {
    /// One line for `slipway env audit`: `2026-03-06T15:00:00Z alice approved run 7 in
    /// production: looks good`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} in {}",
            self.at,
            self.actor,
            self.action.as_str(),
            self.subject,
            self.environment
        )?;
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_one_line_and_round_trips() {
        let entry = AuditEntry::new(
            "2026-03-06T15:00:00Z".parse().unwrap(),
            "alice",
            AuditAction::Approved,
            "production",
            AuditSubject::Run { run_id: "7".into() },
            "looks good",
        );
        assert_eq!(
            entry.to_string(),
            "2026-03-06T15:00:00Z alice approved run 7 in production: looks good"
        );
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["action"], "approved");
        assert_eq!(json["subject"]["kind"], "run");
        assert_eq!(json["at"], "2026-03-06T15:00:00Z");
        let back: AuditEntry = serde_json::from_value(json).unwrap();
        assert_eq!(back, entry);
    }
}
