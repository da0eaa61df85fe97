//! Conversions between `deploy`'s types and their plain-data mirrors in `protocol`, and the
//! domain side of what a deployment job carries: [`DeploymentAssignment`] (what the engine hands
//! the runner) and [`DeploymentReport`] (what the runner reports back), built from `deploy`
//! types and turned into `protocol::DeploymentAssignment` / `protocol::DeploymentReport` at the
//! process boundary.
//!
//! **Architecture Invariant:** field-by-field copies only; no rule of deploying lives here, and
//! nothing outside this file in `deploy` names `protocol`.

use crate::audit::{AuditAction, AuditEntry, AuditSubject};
use crate::category::CategoryPolicy;
use crate::duration::Duration;
use crate::environment::{Approver, Environment, Groups, Protection};
use crate::lane::{Lane, LaneEntry};
use crate::machine::RollbackMode;
use crate::protection::{Approval, Decision};
use crate::record::{Deployment, DeploymentStatus, PhaseRecord, Version};
use crate::spec::{BatchSize, CanaryPhase, DeploymentSpec, StrategyKind};
use crate::strategy::{Activity, DeploymentContext, DeploymentPlan, PlannedPhase};

/// A deployment job's assignment on the domain side (`protocol::DeploymentAssignment` on the
/// wire): the runner drives `DeploymentRun` over `plan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentAssignment {
    /// The id of the deployment record the job carries out.
    pub deployment_id: String,
    /// The phases the runner drives, with the strategy, version and slots.
    pub plan: DeploymentPlan,
    /// The checked `deployment:` block (a redeploy rollback is planned from it).
    pub spec: DeploymentSpec,
    /// The version live before this deployment: what a failed check rolls back to.
    pub last_good: Option<Version>,
}

/// What a deployment job did, on the domain side (`protocol::DeploymentReport` on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentReport {
    /// The id of the deployment record the report is for.
    pub deployment_id: String,
    /// `success`, `failure` or `rolled_back`.
    pub status: DeploymentStatus,
    /// Why the deployment ended so (the failed phase, the rejection…), when there is a reason.
    pub reason: Option<String>,
    /// The deployment's phases as they ran, in order.
    pub phases: Vec<PhaseRecord>,
    /// Blue-green: the slot live when the job ended.
    pub live_slot: Option<String>,
    /// The rollback the job carried out after a failure, if any.
    pub rollback: Option<RollbackReport>,
}

/// The rollback a failed deployment job carried out (`protocol::RollbackReport` on the wire).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackReport {
    /// The last good version the rollback restored (or tried to).
    pub to_version: Version,
    /// How it restored it: switching back to its slot, or redeploying it.
    pub mode: RollbackMode,
    /// Whether the last good version came back.
    pub succeeded: bool,
    /// Why the rollback failed, when it says.
    pub reason: Option<String>,
    /// The rollback's phases as they ran, in order.
    pub phases: Vec<PhaseRecord>,
}

fn list<A, B: From<A>>(items: Vec<A>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}

impl From<DeploymentAssignment> for protocol::DeploymentAssignment {
    fn from(value: DeploymentAssignment) -> Self {
        protocol::DeploymentAssignment {
            deployment_id: value.deployment_id,
            plan: value.plan.into(),
            spec: value.spec.into(),
            last_good: value.last_good.map(Into::into),
        }
    }
}

impl From<protocol::DeploymentAssignment> for DeploymentAssignment {
    fn from(value: protocol::DeploymentAssignment) -> Self {
        DeploymentAssignment {
            deployment_id: value.deployment_id,
            plan: value.plan.into(),
            spec: value.spec.into(),
            last_good: value.last_good.map(Into::into),
        }
    }
}

impl From<DeploymentReport> for protocol::DeploymentReport {
    fn from(value: DeploymentReport) -> Self {
        protocol::DeploymentReport {
            deployment_id: value.deployment_id,
            status: value.status.into(),
            reason: value.reason,
            phases: list(value.phases),
            live_slot: value.live_slot,
            rollback: value.rollback.map(Into::into),
        }
    }
}

impl From<protocol::DeploymentReport> for DeploymentReport {
    fn from(value: protocol::DeploymentReport) -> Self {
        DeploymentReport {
            deployment_id: value.deployment_id,
            status: value.status.into(),
            reason: value.reason,
            phases: list(value.phases),
            live_slot: value.live_slot,
            rollback: value.rollback.map(Into::into),
        }
    }
}

impl From<RollbackReport> for protocol::RollbackReport {
    fn from(value: RollbackReport) -> Self {
        protocol::RollbackReport {
            to_version: value.to_version.into(),
            mode: value.mode.into(),
            succeeded: value.succeeded,
            reason: value.reason,
            phases: list(value.phases),
        }
    }
}

impl From<protocol::RollbackReport> for RollbackReport {
    fn from(value: protocol::RollbackReport) -> Self {
        RollbackReport {
            to_version: value.to_version.into(),
            mode: value.mode.into(),
            succeeded: value.succeeded,
            reason: value.reason,
            phases: list(value.phases),
        }
    }
}

impl From<Version> for protocol::Version {
    fn from(value: Version) -> Self {
        protocol::Version {
            sha: value.sha,
            tag: value.tag,
            committed_at: value.committed_at,
        }
    }
}

impl From<protocol::Version> for Version {
    fn from(value: protocol::Version) -> Self {
        Version {
            sha: value.sha,
            tag: value.tag,
            committed_at: value.committed_at,
        }
    }
}

/// Both directions of a field-less enum mirrored one to one.
macro_rules! mirror_enum {
    ($domain:ident <=> $wire:path { $($variant:ident),+ $(,)? }) => {
        impl From<$domain> for $wire {
            fn from(value: $domain) -> Self {
                match value {
                    $($domain::$variant => <$wire>::$variant,)+
                }
            }
        }

        impl From<$wire> for $domain {
            fn from(value: $wire) -> Self {
                match value {
                    $(<$wire>::$variant => $domain::$variant,)+
                }
            }
        }
    };
}

mirror_enum!(DeploymentStatus <=> protocol::DeploymentStatus {
    Queued, Waiting, InProgress, Success, Failure, RolledBack, Inactive,
});
mirror_enum!(Activity <=> protocol::Activity {
    VerifyTarget, Execute, Verify, Switch, Pause, Approval, AcceptanceTest, Confirm,
});
mirror_enum!(Decision <=> protocol::environments::Decision {
    Approve, Reject,
});
/// `StrategyKind` lives in `workflows` (the typed `deployment:` block): functions, not `From`,
/// since neither side is this crate's.
pub fn strategy_to_wire(value: StrategyKind) -> protocol::StrategyKind {
    match value {
        StrategyKind::BigBang => protocol::StrategyKind::BigBang,
        StrategyKind::Rolling => protocol::StrategyKind::Rolling,
        StrategyKind::BlueGreen => protocol::StrategyKind::BlueGreen,
        StrategyKind::Canary => protocol::StrategyKind::Canary,
    }
}

/// The inverse of [`strategy_to_wire`].
pub fn strategy_from_wire(value: protocol::StrategyKind) -> StrategyKind {
    match value {
        protocol::StrategyKind::BigBang => StrategyKind::BigBang,
        protocol::StrategyKind::Rolling => StrategyKind::Rolling,
        protocol::StrategyKind::BlueGreen => StrategyKind::BlueGreen,
        protocol::StrategyKind::Canary => StrategyKind::Canary,
    }
}

impl From<PhaseRecord> for protocol::PhaseRecord {
    fn from(value: PhaseRecord) -> Self {
        protocol::PhaseRecord {
            index: value.index,
            activity: value.activity.into(),
            label: value.label,
            started_at: value.started_at,
            finished_at: value.finished_at,
            succeeded: value.succeeded,
            detail: value.detail,
        }
    }
}

impl From<protocol::PhaseRecord> for PhaseRecord {
    fn from(value: protocol::PhaseRecord) -> Self {
        PhaseRecord {
            index: value.index,
            activity: value.activity.into(),
            label: value.label,
            started_at: value.started_at,
            finished_at: value.finished_at,
            succeeded: value.succeeded,
            detail: value.detail,
        }
    }
}

/// `BatchSize` lives in `workflows` too (see [`strategy_to_wire`]).
pub fn batch_to_wire(value: BatchSize) -> protocol::BatchSize {
    match value {
        BatchSize::Count(count) => protocol::BatchSize::Count(count),
        BatchSize::Percent(percent) => protocol::BatchSize::Percent(percent),
    }
}

/// The inverse of [`batch_to_wire`].
pub fn batch_from_wire(value: protocol::BatchSize) -> BatchSize {
    match value {
        protocol::BatchSize::Count(count) => BatchSize::Count(count),
        protocol::BatchSize::Percent(percent) => BatchSize::Percent(percent),
    }
}

impl From<CanaryPhase> for protocol::CanaryPhase {
    fn from(value: CanaryPhase) -> Self {
        protocol::CanaryPhase {
            weight: value.weight,
            pause_seconds: value.pause.map(Duration::as_secs),
            approval: value.approval,
        }
    }
}

impl From<protocol::CanaryPhase> for CanaryPhase {
    fn from(value: protocol::CanaryPhase) -> Self {
        CanaryPhase {
            weight: value.weight,
            pause: value.pause_seconds.map(Duration::from_secs),
            approval: value.approval,
        }
    }
}

impl From<DeploymentSpec> for protocol::DeploymentSpec {
    fn from(value: DeploymentSpec) -> Self {
        protocol::DeploymentSpec {
            strategy: strategy_to_wire(value.strategy),
            targets: value.targets,
            batch_size: value.batch_size.map(batch_to_wire),
            verify: value.verify,
            acceptance: value.acceptance,
            slots: value.slots,
            switch: value.switch,
            phases: list(value.phases),
        }
    }
}

impl From<protocol::DeploymentSpec> for DeploymentSpec {
    fn from(value: protocol::DeploymentSpec) -> Self {
        DeploymentSpec {
            strategy: strategy_from_wire(value.strategy),
            targets: value.targets,
            batch_size: value.batch_size.map(batch_from_wire),
            verify: value.verify,
            acceptance: value.acceptance,
            slots: value.slots,
            switch: value.switch,
            phases: list(value.phases),
        }
    }
}

impl From<DeploymentContext> for protocol::DeploymentContext {
    fn from(value: DeploymentContext) -> Self {
        protocol::DeploymentContext {
            environment: value.environment,
            strategy: strategy_to_wire(value.strategy),
            targets: value.targets,
            batch: value.batch,
            batches: value.batches,
            slot: value.slot,
            weight: value.weight,
            phase: value.phase.into(),
            version: value.version.into(),
            is_rollback: value.is_rollback,
        }
    }
}

impl From<protocol::DeploymentContext> for DeploymentContext {
    fn from(value: protocol::DeploymentContext) -> Self {
        DeploymentContext {
            environment: value.environment,
            strategy: strategy_from_wire(value.strategy),
            targets: value.targets,
            batch: value.batch,
            batches: value.batches,
            slot: value.slot,
            weight: value.weight,
            phase: value.phase.into(),
            version: value.version.into(),
            is_rollback: value.is_rollback,
        }
    }
}

impl From<PlannedPhase> for protocol::PlannedPhase {
    fn from(value: PlannedPhase) -> Self {
        protocol::PlannedPhase {
            index: value.index,
            activity: value.activity.into(),
            label: value.label,
            command: value.command,
            pause_seconds: value.pause.map(Duration::as_secs),
            context: value.context.into(),
        }
    }
}

impl From<protocol::PlannedPhase> for PlannedPhase {
    fn from(value: protocol::PlannedPhase) -> Self {
        PlannedPhase {
            index: value.index,
            activity: value.activity.into(),
            label: value.label,
            command: value.command,
            pause: value.pause_seconds.map(Duration::from_secs),
            context: value.context.into(),
        }
    }
}

impl From<DeploymentPlan> for protocol::DeploymentPlan {
    fn from(value: DeploymentPlan) -> Self {
        protocol::DeploymentPlan {
            environment: value.environment,
            strategy: strategy_to_wire(value.strategy),
            version: value.version.into(),
            live_slot: value.live_slot,
            target_slot: value.target_slot,
            is_rollback: value.is_rollback,
            phases: list(value.phases),
        }
    }
}

impl From<protocol::DeploymentPlan> for DeploymentPlan {
    fn from(value: protocol::DeploymentPlan) -> Self {
        DeploymentPlan {
            environment: value.environment,
            strategy: strategy_from_wire(value.strategy),
            version: value.version.into(),
            live_slot: value.live_slot,
            target_slot: value.target_slot,
            is_rollback: value.is_rollback,
            phases: list(value.phases),
        }
    }
}

impl From<RollbackMode> for protocol::RollbackMode {
    fn from(value: RollbackMode) -> Self {
        match value {
            RollbackMode::SwitchBack { to_slot } => protocol::RollbackMode::SwitchBack { to_slot },
            RollbackMode::Redeploy => protocol::RollbackMode::Redeploy,
        }
    }
}

impl From<protocol::RollbackMode> for RollbackMode {
    fn from(value: protocol::RollbackMode) -> Self {
        match value {
            protocol::RollbackMode::SwitchBack { to_slot } => RollbackMode::SwitchBack { to_slot },
            protocol::RollbackMode::Redeploy => RollbackMode::Redeploy,
        }
    }
}

// ---- records the API answers with (domain → wire only: the CLI never sends them back) ----

impl From<Environment> for protocol::environments::Environment {
    fn from(value: Environment) -> Self {
        protocol::environments::Environment {
            name: value.name,
            protection: value.protection.into(),
            release_protection: value.release_protection.into(),
            freeze_windows: value
                .freeze_windows
                .iter()
                .map(|window| window.as_str().to_string())
                .collect(),
            default_strategy: value.default_strategy.map(strategy_to_wire),
            url: value.url,
            variables: value.variables,
            secret_names: value.secret_names,
            release_policies: value
                .release_policies
                .into_iter()
                .map(|(category, policy)| (category.to_string(), policy.into()))
                .collect(),
        }
    }
}

impl From<CategoryPolicy> for protocol::environments::ReleasePolicy {
    fn from(value: CategoryPolicy) -> Self {
        protocol::environments::ReleasePolicy {
            protection: value.protection.into(),
            allowed_windows: value
                .allowed_windows
                .iter()
                .map(|window| window.as_str().to_string())
                .collect(),
        }
    }
}

impl From<Protection> for protocol::environments::Protection {
    fn from(value: Protection) -> Self {
        protocol::environments::Protection {
            required_approvals: value.required_approvals,
            approvers: list(value.approvers),
            prevent_self_review: value.prevent_self_review,
            wait_seconds: value.wait.as_secs(),
            approval_expiry_seconds: value.approval_expiry.map(Duration::as_secs),
            branches: value.branches,
            tags: value.tags,
        }
    }
}

impl From<Approver> for protocol::environments::Approver {
    fn from(value: Approver) -> Self {
        match value {
            Approver::User(name) => protocol::environments::Approver::User(name),
            Approver::Group(name) => protocol::environments::Approver::Group(name),
        }
    }
}

impl From<Groups> for protocol::environments::Groups {
    fn from(value: Groups) -> Self {
        protocol::environments::Groups {
            members: value.members,
        }
    }
}

impl From<Lane> for protocol::environments::Lane {
    fn from(value: Lane) -> Self {
        protocol::environments::Lane {
            environment: value.environment,
            in_progress: value.in_progress.map(Into::into),
            queue: value.queue.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<LaneEntry> for protocol::environments::LaneEntry {
    fn from(value: LaneEntry) -> Self {
        protocol::environments::LaneEntry {
            deployment_id: value.deployment_id.0,
            run_id: value.run_id,
            job_key: value.job_key,
            version: value.version.into(),
            is_rollback: value.is_rollback,
            enqueued_at: value.enqueued_at,
        }
    }
}

impl From<Approval> for protocol::environments::Approval {
    fn from(value: Approval) -> Self {
        protocol::environments::Approval {
            approver: value.approver,
            decision: value.decision.into(),
            at: value.at,
            comment: value.comment,
        }
    }
}

impl From<Deployment> for protocol::environments::Deployment {
    fn from(value: Deployment) -> Self {
        protocol::environments::Deployment {
            id: value.id.0,
            environment: value.environment,
            repository: value.repository,
            version: value.version.into(),
            git_ref: value.git_ref,
            run_id: value.run_id,
            job_key: value.job_key,
            triggered_by: value.triggered_by,
            approvals: list(value.approvals),
            strategy: strategy_to_wire(value.strategy),
            phases: list(value.phases),
            status: value.status.into(),
            status_reason: value.status_reason,
            url: value.url,
            slot: value.slot,
            is_rollback: value.is_rollback,
            rollback_of: value.rollback_of.map(|id| id.0),
            created_at: value.created_at,
            started_at: value.started_at,
            finished_at: value.finished_at,
            updated_at: value.updated_at,
        }
    }
}

impl From<AuditEntry> for protocol::environments::AuditEntry {
    fn from(value: AuditEntry) -> Self {
        protocol::environments::AuditEntry {
            at: value.at,
            actor: value.actor,
            action: value.action.into(),
            environment: value.environment,
            subject: value.subject.into(),
            reason: value.reason,
        }
    }
}

mirror_enum!(AuditAction <=> protocol::environments::AuditAction {
    Approved, Rejected, GateOpened, GateRefused, DeploymentQueued, DeploymentStarted,
    VersionRefused, DeploymentFinished, RollbackStarted, ReleasePromoted, ReleaseWithdrawn,
    ReleaseCreated, ReleaseDeleted, ReleaseRefused, ReleasePolicyChanged, ReleasePlanChanged,
    ReleaseNotesEdited,
});

impl From<AuditSubject> for protocol::environments::AuditSubject {
    fn from(value: AuditSubject) -> Self {
        match value {
            AuditSubject::Run { run_id } => protocol::environments::AuditSubject::Run { run_id },
            AuditSubject::Deployment { deployment_id } => {
                protocol::environments::AuditSubject::Deployment { deployment_id }
            }
            AuditSubject::Release { tag } => protocol::environments::AuditSubject::Release { tag },
        }
    }
}
