//! Deployments and releases, the domain logic: pure functions and state machines over typed
//! records, with `now` passed in. No store, no HTTP, no clock, no git — the engine wires these
//! into the store, the API and the scheduler (DESIGN.md §4).
//!
//! Deploying is not releasing. Deploying moves version V of a repository into an environment
//! (planned, verified, executed, confirmed; rolled back when a check fails). Releasing makes a
//! deployed V available to users (everyone, a percentage, a named tier), with its own approvals
//! and history, and can be withdrawn without redeploying.
//!
//! Who talks to whom, in the order a deployment meets them:
//! - `environment`: an environment's configuration (engine-side, never from the repository) and
//!   its command-line spelling; `duration` and `freeze` parse its wait timers and freeze windows.
//! - `protection`: the gate a job with `environment:` waits at — approvals keyed by (run,
//!   environment), wait timer, allowed refs; `audit` shapes the entry each decision leaves.
//! - `lane`: one FIFO lane per environment, one deployment in progress, paused by freezes.
//! - `guard`: the version guard checked when a deployment leaves the lane.
//! - `spec` → `strategy`: the job's `deployment:` block, checked, then planned into phases;
//!   `machine`: the state machine that carries a plan out and asks for rollbacks
//!   (`plan_switch_back` / `rollback_plan` plan the way back);
//! - `settle`: what a finished deployment job means for the records and the lane.
//! - `record`: deployment records, their status moves, what is live per environment.
//! - `release`: releases, promotion to audiences where the version is live, withdrawal, the
//!   `release` workflow events they raise, and the `env status` view.
//! - `category`: release categories and each environment's policy per category; `plan`: staged
//!   release plans and what is due when.
//! - `notes`: release notes from the commits between two release tags.
//! - `bucket` → `flags`: which released version one user gets (percentage buckets, tiers), the
//!   OpenFeature flag the engine serves.

mod audit;
mod bucket;
mod category;
mod environment;
mod flags;
mod freeze;
mod guard;
mod lane;
mod machine;
mod notes;
mod plan;
mod protection;
mod record;
mod release;
mod settle;
mod spec;
mod strategy;
pub mod wire;

// Durations are read in `deployment:` blocks too, so the workflow language owns their syntax.
use workflows::duration;

pub use audit::{AuditAction, AuditEntry, AuditSubject, SYSTEM_ACTOR};
pub use bucket::{bucket, in_percentage};
pub use category::{CategoryGate, CategoryPolicy, ReleaseCategory, category_gate};
pub use duration::{Duration, DurationError, parse_duration};
pub use environment::{
    Approver, Environment, EnvironmentSpecError, Groups, Protection, parse_approvers,
};
pub use flags::{
    FlagContext, FlagEvaluationError, FlagReason, FlagResolution, audience_reaches,
    evaluate_release_flag,
};
pub use freeze::{Freeze, FreezeParseError, FreezeWindow, frozen_at};
pub use guard::{VersionCheck, VersionRefused, check_version};
pub use lane::{Lane, LaneEntry, LaneError, LaneStatus};
pub use machine::{
    DeploymentAction, DeploymentEvent, DeploymentMachine, DeploymentMachineError, DeploymentState,
    RollbackMode,
};
pub use notes::{NoteCommit, assemble_notes};
pub use plan::{
    CheckRun, PlanCheck, PlanError, PlanStage, PlanState, PlanStep, ReleasePlan, parse_stages,
};
pub use protection::{
    Approval, ApprovalError, ApprovalKey, Decision, GateRequest, GateState, approve, evaluate_gate,
    gate_audit, phase_protection,
};
pub use record::{
    Deployment, DeploymentId, DeploymentStatus, EnvironmentStatus, IllegalStatusMove, LiveVersion,
    PhaseRecord, Version, environment_status, live_deployment, mark_succeeded,
};
pub use release::{
    Audience, AudienceError, DeployedLine, EnvironmentView, PromotionRequest, Release,
    ReleaseAction, ReleaseError, ReleaseEvent, ReleaseHistoryEntry, ReleaseOutcome, ReleasedLine,
    Rollout, delete_release, environment_views, promote, withdraw,
};
pub use settle::{FinishedJob, LaneMove, ReportedDeployment, ReportedRollback, Settlement, settle};
pub use spec::{BatchSize, CanaryPhase, DeploymentSpec, DeploymentSpecError, StrategyKind};
pub use strategy::{
    Activity, DeploymentContext, DeploymentPlan, PlannedPhase, plan_deployment, plan_rollback,
    plan_switch_back, rollback_plan,
};
