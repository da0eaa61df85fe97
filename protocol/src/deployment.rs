//! Wire mirrors of the deployment values a job carries between engine and runner: the plan a
//! runner carries out, the checked `deployment:` block, versions, phase records, statuses.
//!
//! Plain data with the JSON spelling of the `deploy` types they mirror (`deploy/src/wire.rs`
//! converts both ways). **Architecture Invariant:** no planning, no status rules here — those
//! are `deploy`'s; this file must not grow behaviour beyond `as_str`-style helpers.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The version a deployment carries: the commit, and the tag when it was tagged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Version {
    /// The full commit sha being deployed.
    pub sha: String,
    /// The tag pointing at the commit, e.g. `v1.4.0`, when there is one.
    #[serde(default)]
    pub tag: Option<String>,
    /// The commit's committer time.
    #[serde(default)]
    pub committed_at: Option<Timestamp>,
}

impl Version {
    /// The tag when there is one, else the short sha: how a version is shown.
    pub fn label(&self) -> String {
        match &self.tag {
            Some(tag) => tag.clone(),
            None => self.sha.chars().take(7).collect(),
        }
    }
}

/// A deployment's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Its gate has let it through; it waits its turn in the environment's lane.
    Queued,
    /// It waits at the environment's gate (required approvals, wait timer, freeze window).
    Waiting,
    /// Its plan is being carried out.
    InProgress,
    /// Every phase succeeded: the version is live.
    Success,
    /// It failed, or was refused at its gate, and nothing was rolled back.
    Failure,
    /// A check failed after something changed, and the last good version was restored.
    RolledBack,
    /// It succeeded once, and a later successful deployment to the same environment replaced it.
    Inactive,
}

impl DeploymentStatus {
    /// The JSON spelling (`in_progress`, `rolled_back`, …).
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

impl std::fmt::Display for DeploymentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activity {
    /// The `verify` hook before anything changes.
    VerifyTarget,
    /// The job's steps, putting the version onto the phase's targets, slot or weight.
    Execute,
    /// The `verify` hook after a change.
    Verify,
    /// Blue-green: traffic moves to the new slot (the `switch` hook, when configured).
    Switch,
    /// Canary: wait before the next weight.
    Pause,
    /// Canary: an approver must let the next weight go ahead.
    Approval,
    /// The `acceptance` hook once the version is live.
    AcceptanceTest,
    /// The deployment is done: the version is live.
    Confirm,
}

/// One phase of a deployment as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRecord {
    /// The phase's position in the plan (`PlannedPhase::index`), from 0.
    pub index: usize,
    /// What the phase did.
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
    /// Why the phase failed or was stopped, or who granted an approval; `None` otherwise.
    #[serde(default)]
    pub detail: Option<String>,
}

/// How a version reaches the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Everything at once.
    BigBang,
    /// In batches of targets, stopping at the first failed batch.
    Rolling,
    /// Into the idle slot, verified, then traffic switches; the old slot is kept.
    BlueGreen,
    /// Growing traffic weights with verification between them.
    Canary,
}

impl StrategyKind {
    /// The workflow spelling (`big-bang`, `blue-green`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::BigBang => "big-bang",
            StrategyKind::Rolling => "rolling",
            StrategyKind::BlueGreen => "blue-green",
            StrategyKind::Canary => "canary",
        }
    }
}

impl std::fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `deployment:` block of a job, checked by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    /// How the version is rolled out (`strategy:`; the environment's default when not written).
    pub strategy: StrategyKind,
    /// Hosts (or any names the steps understand) the version goes to.
    pub targets: Vec<String>,
    /// Rolling: how many targets per batch.
    pub batch_size: Option<BatchSize>,
    /// The health check command run before the first change and after each batch, slot or canary phase.
    pub verify: Option<String>,
    /// The acceptance test command run once the new version is live.
    pub acceptance: Option<String>,
    /// Blue-green: the names of the two slots, e.g. `[blue, green]`.
    pub slots: Option<[String; 2]>,
    /// Blue-green: the command that moves traffic to `deployment.slot`.
    pub switch: Option<String>,
    /// Canary: the traffic weights in increasing order, the last one 100; empty for other strategies.
    pub phases: Vec<CanaryPhase>,
}

/// `batch-size: 2` or `batch-size: "25%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchSize {
    /// A number of targets per batch.
    Count(usize),
    /// A percentage of the targets per batch (1–100).
    Percent(u8),
}

/// One canary phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryPhase {
    /// The percentage of traffic the new version gets in this phase (1–100).
    pub weight: u8,
    /// The pause after this phase, in whole seconds.
    pub pause_seconds: Option<u64>,
    /// Whether an approver must let the next phase go ahead.
    pub approval: bool,
}

/// The `deployment` context of the steps and hooks of a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentContext {
    /// The environment deployed to, e.g. `production`.
    pub environment: String,
    /// The deployment's strategy.
    pub strategy: StrategyKind,
    /// The targets this phase works on (a rolling batch, or all of them).
    pub targets: Vec<String>,
    /// Rolling: the batch number, from 1.
    pub batch: Option<usize>,
    /// Rolling: how many batches there are.
    pub batches: Option<usize>,
    /// Blue-green: the slot this phase works on.
    pub slot: Option<String>,
    /// Canary: the percentage of traffic the new version gets.
    pub weight: Option<u8>,
    /// The phase's activity (`execute`, `verify`, …).
    pub phase: Activity,
    /// The version being deployed.
    pub version: Version,
    /// Whether this deployment restores the last good version after a failure.
    pub is_rollback: bool,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPhase {
    /// The phase's position in the plan, from 0.
    pub index: usize,
    /// What the phase does.
    pub activity: Activity,
    /// For people: `execute batch 1/2`, `switch to green`, `canary 10%`.
    pub label: String,
    /// The hook to run; `None` for execute and for the phases the engine handles itself.
    pub command: Option<String>,
    /// Pause phases: how long, in whole seconds.
    pub pause_seconds: Option<u64>,
    /// The `deployment` context the phase's steps and hook see.
    pub context: DeploymentContext,
}

/// The phases of one deployment, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentPlan {
    /// The environment deployed to, e.g. `production`.
    pub environment: String,
    /// The strategy the phases follow.
    pub strategy: StrategyKind,
    /// The version being deployed.
    pub version: Version,
    /// Blue-green: the slot live before (`None` on the first deployment).
    pub live_slot: Option<String>,
    /// Blue-green: the slot the new version goes into.
    pub target_slot: Option<String>,
    /// Whether this deployment restores the last good version after a failure.
    pub is_rollback: bool,
    /// The phases in order; the last one is always `confirm`.
    pub phases: Vec<PlannedPhase>,
}

/// How a failed deployment job rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RollbackMode {
    /// Blue-green: traffic went back to the old slot; nothing was redeployed.
    SwitchBack {
        /// The slot traffic went back to: the one live before the deployment.
        to_slot: String,
    },
    /// The last good version was deployed again.
    Redeploy,
}
