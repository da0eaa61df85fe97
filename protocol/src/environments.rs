//! The API of environments, deployments, approvals, groups and the audit log: the request
//! bodies the CLI sends and the records the engine answers with.
//!
//! **Architecture Invariant:** plain data only; `deploy` applies and checks them.

use indexmap::IndexMap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::deployment::{DeploymentStatus, PhaseRecord, StrategyKind, Version};

/// `POST /api/v1/environments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEnvironmentRequest {
    pub protocol_version: u32,
    pub name: String,
    /// The settings to start from; everything not named keeps its default.
    #[serde(default)]
    pub settings: EnvironmentPatch,
}

/// `PATCH /api/v1/environments/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditEnvironmentRequest {
    pub protocol_version: u32,
    /// The settings to change; everything not named stays as it is.
    #[serde(default)]
    pub settings: EnvironmentPatch,
}

/// A change to an environment's settings. Absent fields leave the setting alone; lists given
/// replace the list, except `add_freeze`, `vars` and `secrets`, which add (after `clear_freeze`
/// has removed every freeze window). Values are written as on the command line
/// (`5m`, `Fri 16:00-Mon 08:00 UTC`, `@ops`); `deploy` parses them and names the field at fault.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvironmentPatch {
    /// The policy for deployments into the environment.
    #[serde(default, skip_serializing_if = "ProtectionPatch::is_empty")]
    pub deploy: ProtectionPatch,
    /// The policy for releases promoted into the environment (no branch list: a release's ref is
    /// its tag).
    #[serde(default, skip_serializing_if = "ProtectionPatch::is_empty")]
    pub release: ProtectionPatch,
    /// Remove every freeze window first.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub clear_freeze: bool,
    /// Freeze windows to add (`Fri 16:00-Mon 08:00 UTC`, or `START/END` in RFC 3339).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add_freeze: Vec<String>,
    /// The default strategy (`big-bang`, `rolling`, `blue-green`, `canary`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// The environment's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Variables to set (`vars.KEY` of jobs deploying here).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub vars: IndexMap<String, String>,
    /// Secret names jobs deploying here may read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
}

/// A change to one protection policy; absent fields stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProtectionPatch {
    /// Approvals required (0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvals: Option<u32>,
    /// Who may approve: logins, and groups written `@name` (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approvers: Option<Vec<String>>,
    /// Whether the run's actor is refused as an approver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevent_self_review: Option<bool>,
    /// The wait timer (`5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<String>,
    /// Approvals older than this stop counting (`24h`; `0` turns expiry off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_expiry: Option<String>,
    /// Branch patterns allowed through (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branches: Option<Vec<String>>,
    /// Tag patterns allowed through (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

impl ProtectionPatch {
    /// True when the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == ProtectionPatch::default()
    }
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approve,
    Reject,
}

/// `POST /api/v1/runs/{run_id}/approvals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRequest {
    pub protocol_version: u32,
    pub environment: String,
    /// `approve` or `reject`.
    pub decision: Decision,
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST /api/v1/environments/{name}/rollback` (the caller is who rolls back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackRequest {
    pub protocol_version: u32,
}

/// `PUT /api/v1/groups/{name}`: the members (logins); an empty list removes the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetGroupRequest {
    pub protocol_version: u32,
    pub members: Vec<String>,
}

/// What an approve/reject did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalOutcome {
    pub environment: String,
    pub run_id: String,
    /// `recorded` (the gate still waits), `opened`, `rejected`, or `phase` (a canary phase).
    pub effect: String,
    pub message: String,
}

/// `?environment=NAME` on the deployment and audit lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentQuery {
    #[serde(default)]
    pub environment: Option<String>,
}

/// An environment's configuration as the API shows it (`deploy::Environment` on the engine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub name: String,
    pub protection: Protection,
    /// The same rules for promoting a release into this environment.
    pub release_protection: Protection,
    /// Freeze windows in their text form (`Fri 16:00-Mon 08:00 UTC`).
    pub freeze_windows: Vec<String>,
    pub default_strategy: Option<StrategyKind>,
    pub url: Option<String>,
    pub variables: IndexMap<String, String>,
    /// Names of the secrets jobs deploying here may read (never their values).
    pub secret_names: Vec<String>,
    /// The release policy of each category that has one of its own (`major`, `minor`, `patch`,
    /// `emergency`); a category not named follows `release_protection`.
    #[serde(default)]
    pub release_policies: IndexMap<String, ReleasePolicy>,
}

/// One release category's policy in an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasePolicy {
    /// Approvals, approvers and wait timer of the category's releases.
    pub protection: Protection,
    /// Windows (freeze-window syntax) such releases may go out in; empty: any time outside a
    /// freeze (emergency releases ignore freezes).
    pub allowed_windows: Vec<String>,
}

/// A protection policy: approvals, wait timer and the refs that may pass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Protection {
    pub required_approvals: u32,
    pub approvers: Vec<Approver>,
    pub prevent_self_review: bool,
    /// The wait timer, in whole seconds (0: none).
    pub wait_seconds: u64,
    /// How long an approval counts, in whole seconds; `None`: for ever.
    pub approval_expiry_seconds: Option<u64>,
    pub branches: Vec<String>,
    pub tags: Vec<String>,
}

/// Someone who may approve: a user by login, or every member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approver {
    User(String),
    Group(String),
}

/// Group membership: group name → member logins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    pub members: IndexMap<String, Vec<String>>,
}

/// One environment with its deployment lane (`GET /api/v1/environments[/{name}]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentView {
    pub environment: Environment,
    pub lane: Lane,
    /// `idle`, `busy`, `frozen until …`, `ready`.
    pub lane_state: String,
}

/// One environment's deployment lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    pub environment: String,
    pub in_progress: Option<LaneEntry>,
    pub queue: Vec<LaneEntry>,
}

/// A deployment waiting for (or holding) the lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneEntry {
    pub deployment_id: String,
    pub run_id: Option<String>,
    pub job_key: Option<String>,
    pub version: Version,
    pub is_rollback: bool,
    pub enqueued_at: Timestamp,
}

/// One approver's recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approver: String,
    pub decision: Decision,
    pub at: Timestamp,
    pub comment: Option<String>,
}

/// A deployment record (`GET /api/v1/deployments[/{id}]`, the answer to a rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: String,
    pub environment: String,
    pub repository: String,
    pub version: Version,
    pub git_ref: String,
    pub run_id: Option<String>,
    pub job_key: Option<String>,
    pub triggered_by: String,
    pub approvals: Vec<Approval>,
    pub strategy: StrategyKind,
    pub phases: Vec<PhaseRecord>,
    pub status: DeploymentStatus,
    pub status_reason: Option<String>,
    pub url: Option<String>,
    pub slot: Option<String>,
    pub is_rollback: bool,
    pub rollback_of: Option<String>,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// One audit-log entry (`GET /api/v1/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub actor: String,
    pub action: AuditAction,
    pub environment: String,
    pub subject: AuditSubject,
    pub reason: String,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Approved,
    Rejected,
    GateOpened,
    GateRefused,
    DeploymentQueued,
    DeploymentStarted,
    VersionRefused,
    DeploymentFinished,
    RollbackStarted,
    ReleasePromoted,
    ReleaseWithdrawn,
    ReleaseCreated,
    ReleaseDeleted,
    ReleaseRefused,
    ReleasePolicyChanged,
    ReleasePlanChanged,
    ReleaseNotesEdited,
}

impl AuditAction {
    /// For people: `gate opened`, `deployment started`, …
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

/// What an audit entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AuditSubject {
    Run { run_id: String },
    Deployment { deployment_id: String },
    Release { tag: String },
}
