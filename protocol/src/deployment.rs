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
    pub sha: String,
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
    Queued,
    Waiting,
    InProgress,
    Success,
    Failure,
    RolledBack,
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
    VerifyTarget,
    Execute,
    Verify,
    Switch,
    Pause,
    Approval,
    AcceptanceTest,
    Confirm,
}

/// One phase of a deployment as it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRecord {
    pub index: usize,
    pub activity: Activity,
    /// A human label: `execute batch 1/2`, `switch to green`, `canary 10%`.
    pub label: String,
    pub started_at: Timestamp,
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// `None` while the phase runs.
    #[serde(default)]
    pub succeeded: Option<bool>,
    #[serde(default)]
    pub detail: Option<String>,
}

/// How a version reaches the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    BigBang,
    Rolling,
    BlueGreen,
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
    pub strategy: StrategyKind,
    pub targets: Vec<String>,
    pub batch_size: Option<BatchSize>,
    pub verify: Option<String>,
    pub acceptance: Option<String>,
    pub slots: Option<[String; 2]>,
    pub switch: Option<String>,
    pub phases: Vec<CanaryPhase>,
}

/// `batch-size: 2` or `batch-size: "25%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchSize {
    Count(usize),
    Percent(u8),
}

/// One canary phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryPhase {
    pub weight: u8,
    /// The pause after this phase, in whole seconds.
    pub pause_seconds: Option<u64>,
    pub approval: bool,
}

/// The `deployment` context of the steps and hooks of a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentContext {
    pub environment: String,
    pub strategy: StrategyKind,
    pub targets: Vec<String>,
    pub batch: Option<usize>,
    pub batches: Option<usize>,
    pub slot: Option<String>,
    pub weight: Option<u8>,
    pub phase: Activity,
    pub version: Version,
    pub is_rollback: bool,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPhase {
    pub index: usize,
    pub activity: Activity,
    pub label: String,
    /// The hook to run; `None` for execute and for the phases the engine handles itself.
    pub command: Option<String>,
    /// Pause phases: how long, in whole seconds.
    pub pause_seconds: Option<u64>,
    pub context: DeploymentContext,
}

/// The phases of one deployment, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentPlan {
    pub environment: String,
    pub strategy: StrategyKind,
    pub version: Version,
    pub live_slot: Option<String>,
    pub target_slot: Option<String>,
    pub is_rollback: bool,
    pub phases: Vec<PlannedPhase>,
}

/// How a failed deployment job rolled back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RollbackMode {
    /// Blue-green: traffic went back to the old slot; nothing was redeployed.
    SwitchBack { to_slot: String },
    /// The last good version was deployed again.
    Redeploy,
}
