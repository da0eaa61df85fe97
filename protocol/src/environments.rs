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
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The new environment's name, e.g. `production` (what a job's `environment:` names).
    pub name: String,
    /// The settings to start from; everything not named keeps its default.
    #[serde(default)]
    pub settings: EnvironmentPatch,
}

/// `PATCH /api/v1/environments/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditEnvironmentRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
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
    /// Counts towards the required approvals.
    Approve,
    /// Closes the gate: the run (or the promotion) does not go ahead.
    Reject,
}

/// `POST /api/v1/runs/{run_id}/approvals`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The environment whose gate (or canary approval phase) waits for the decision.
    pub environment: String,
    /// `approve` or `reject`.
    pub decision: Decision,
    /// A note kept with the decision and in the audit log.
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST /api/v1/environments/{name}/rollback` (the caller is who rolls back).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
}

/// `PUT /api/v1/groups/{name}`: the members (logins); an empty list removes the group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetGroupRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The logins of the group's members, replacing the old list.
    pub members: Vec<String>,
}

/// What an approve/reject did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalOutcome {
    /// The environment the decision was for.
    pub environment: String,
    /// The run (its id) the decision was for.
    pub run_id: String,
    /// `recorded` (the gate still waits), `opened`, `rejected`, or `phase` (a canary phase).
    pub effect: String,
    /// For people: what the decision did, e.g. `recorded; still waiting for 1 approval`.
    pub message: String,
}

/// `?environment=NAME` on the deployment and audit lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentQuery {
    /// Only entries about this environment; every environment when absent.
    #[serde(default)]
    pub environment: Option<String>,
}

/// An environment's configuration as the API shows it (`deploy::Environment` on the engine).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// The environment's name, e.g. `production`.
    pub name: String,
    /// Who must approve a deployment, how long to wait, which refs may deploy.
    pub protection: Protection,
    /// The same rules for promoting a release into this environment.
    pub release_protection: Protection,
    /// Freeze windows in their text form (`Fri 16:00-Mon 08:00 UTC`).
    pub freeze_windows: Vec<String>,
    /// The strategy a `deployment:` block without `strategy:` gets (big-bang when unset).
    pub default_strategy: Option<StrategyKind>,
    /// The URL shown for the environment when a job's `environment.url` is not given.
    pub url: Option<String>,
    /// Plain variables (`vars.*`) of jobs deploying here, by name.
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
    /// How many distinct approvers must approve (0: no approval needed).
    pub required_approvals: u32,
    /// Who may approve: named users and groups.
    pub approvers: Vec<Approver>,
    /// Whether the actor who triggered the run is refused as its approver.
    pub prevent_self_review: bool,
    /// The wait timer, in whole seconds (0: none).
    pub wait_seconds: u64,
    /// How long an approval counts, in whole seconds; `None`: for ever.
    pub approval_expiry_seconds: Option<u64>,
    /// Patterns of branches (`main`, `release/*`) allowed through; both lists empty: every ref is allowed.
    pub branches: Vec<String>,
    /// Patterns of tags (`v*`) allowed through.
    pub tags: Vec<String>,
}

/// Someone who may approve: a user by login, or every member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approver {
    /// A user, by login.
    User(String),
    /// Every member of the group of this name.
    Group(String),
}

/// Group membership: group name → member logins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    /// Each group's name with its members' logins.
    pub members: IndexMap<String, Vec<String>>,
}

/// One environment with its deployment lane (`GET /api/v1/environments[/{name}]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentView {
    /// The environment's configuration.
    pub environment: Environment,
    /// The deployment running in it and those queued behind.
    pub lane: Lane,
    /// `idle`, `busy`, `frozen until …`, `ready`.
    pub lane_state: String,
}

/// One environment's deployment lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    /// The environment the lane belongs to.
    pub environment: String,
    /// The deployment running now, if any (at most one per environment).
    pub in_progress: Option<LaneEntry>,
    /// The deployments waiting their turn, first in first out.
    pub queue: Vec<LaneEntry>,
}

/// A deployment waiting for (or holding) the lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneEntry {
    /// The id of the deployment record.
    pub deployment_id: String,
    /// The run that deploys it; `None` for a rollback started from the CLI.
    pub run_id: Option<String>,
    /// The key of the job that deploys it, e.g. `deploy`; `None` for a rollback started from the CLI.
    pub job_key: Option<String>,
    /// The version it deploys.
    pub version: Version,
    /// Whether it restores the last good version.
    pub is_rollback: bool,
    /// When it joined the lane.
    pub enqueued_at: Timestamp,
}

/// One approver's recorded decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// The approver's login.
    pub approver: String,
    /// Whether they approved or rejected.
    pub decision: Decision,
    /// When the decision was recorded.
    pub at: Timestamp,
    /// The approver's note, if they gave one.
    pub comment: Option<String>,
}

/// A deployment record (`GET /api/v1/deployments[/{id}]`, the answer to a rollback).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// The deployment's id (sortable: newer deployments list later).
    pub id: String,
    /// The environment deployed to, e.g. `production`.
    pub environment: String,
    /// The repository deployed, `owner/name`.
    pub repository: String,
    /// The version deployed.
    pub version: Version,
    /// The ref the run was on (`refs/heads/main`).
    pub git_ref: String,
    /// The run that deploys it; `None` for a rollback started from the CLI.
    pub run_id: Option<String>,
    /// The key of the job that deploys it, e.g. `deploy`; `None` for a rollback started from the CLI.
    pub job_key: Option<String>,
    /// Who the deployment is for: the run's actor, or who asked for the rollback.
    pub triggered_by: String,
    /// The decisions recorded at the environment's gate for it.
    pub approvals: Vec<Approval>,
    /// How the version is rolled out.
    pub strategy: StrategyKind,
    /// The phases as they ran, with their times.
    pub phases: Vec<PhaseRecord>,
    /// Where the deployment stands.
    pub status: DeploymentStatus,
    /// Why the status is what it is (the failed phase, the rejection, …).
    pub status_reason: Option<String>,
    /// The environment URL the job reported.
    pub url: Option<String>,
    /// Blue-green: the slot this version went into.
    pub slot: Option<String>,
    /// Whether it restores the last good version after a failure or on request.
    pub is_rollback: bool,
    /// For a rollback: the id of the deployment that failed and was rolled back.
    pub rollback_of: Option<String>,
    /// When the record was made (the job reached the environment).
    pub created_at: Timestamp,
    /// When it left the lane and started; `None` before.
    pub started_at: Option<Timestamp>,
    /// When it ended; `None` while it is not finished.
    pub finished_at: Option<Timestamp>,
    /// When the record last changed.
    pub updated_at: Timestamp,
}

/// One audit-log entry (`GET /api/v1/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// When it was decided.
    pub at: Timestamp,
    /// Who decided: a user's login, or `slipway` for the engine's own decisions.
    pub actor: String,
    /// What was decided.
    pub action: AuditAction,
    /// The environment concerned.
    pub environment: String,
    /// What the decision is about: a run, a deployment or a release.
    pub subject: AuditSubject,
    /// Why: the approver's comment, the rule that refused, the failed phase…
    pub reason: String,
}

/// What an audit entry records.
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
    /// A run's passage through an environment's gate.
    Run {
        /// The run's id (a UUID).
        run_id: String,
    },
    /// One deployment.
    Deployment {
        /// The deployment's id.
        deployment_id: String,
    },
    /// A release of a tag.
    Release {
        /// The release's git tag, e.g. `v1.4.0`.
        tag: String,
    },
}
