//! The admin API of releases: the bodies and query the CLI sends. The person acting is the
//! authenticated caller, never a name in the body.
//!
//! **Architecture Invariant:** plain data only; `deploy` decides what a release may do.

use serde::{Deserialize, Serialize};

use crate::environments::Decision;

/// `POST /api/v1/releases`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateReleaseRequest {
    #[serde(default)]
    pub protocol_version: Option<u32>,
    pub tag: String,
    #[serde(default)]
    pub repo: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// `major`, `minor` (default), `patch` or `emergency`.
    #[serde(default)]
    pub category: Option<String>,
}

/// `POST /api/v1/releases/{tag}/promote`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromoteReleaseRequest {
    #[serde(default)]
    pub protocol_version: Option<u32>,
    #[serde(default)]
    pub repo: Option<String>,
    pub environment: String,
    pub audience: String,
}

/// `POST /api/v1/releases/{tag}/approve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveReleaseRequest {
    #[serde(default)]
    pub protocol_version: Option<u32>,
    #[serde(default)]
    pub repo: Option<String>,
    pub environment: String,
    #[serde(default)]
    pub comment: Option<String>,
    /// `approve` (default) or `reject`.
    #[serde(default)]
    pub decision: Option<Decision>,
}

/// `POST /api/v1/releases/{tag}/withdraw`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawReleaseRequest {
    #[serde(default)]
    pub protocol_version: Option<u32>,
    #[serde(default)]
    pub repo: Option<String>,
    pub environment: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `?repo=NAME`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseQuery {
    #[serde(default)]
    pub repo: Option<String>,
}

/// `PUT /api/v1/environments/{environment}/release-policies/{category}`: the release policy of
/// one category (`major`, `minor`, `patch`, `emergency`) in one environment. Replaces the
/// category's policy as a whole; `clear` removes it (the category follows the environment's
/// release protection again).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasePolicyRequest {
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// Approvals required (0: none).
    #[serde(default)]
    pub approvals: u32,
    /// Logins and `@groups`.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// A wait timer (`30m`, `2h`); ignored for `emergency`.
    #[serde(default)]
    pub wait: Option<String>,
    /// Windows (freeze-window syntax) outside which such releases wait.
    #[serde(default)]
    pub allowed_windows: Vec<String>,
    #[serde(default)]
    pub clear: bool,
}

/// `POST /api/v1/releases/{tag}/plan`: the stages of a release in an environment, each
/// `AUDIENCE@WHEN` (`10%@2026-12-07T09:00Z`, `50%@+2d`, `all@now`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanReleaseRequest {
    #[serde(default)]
    pub protocol_version: Option<u32>,
    #[serde(default)]
    pub repo: Option<String>,
    pub environment: String,
    pub stages: Vec<String>,
    /// A workflow that must succeed before each stage is given (`workflow:canary.yml`): the
    /// engine dispatches it at the release's tag when the stage is due; a failure holds the
    /// stage, and the next tick tries again.
    #[serde(default)]
    pub check: Option<String>,
}

/// `POST /api/v1/releases/{tag}/plan/{pause|resume|halt}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanControlRequest {
    #[serde(default)]
    pub protocol_version: Option<u32>,
    #[serde(default)]
    pub repo: Option<String>,
    pub environment: String,
    /// `halt` only: withdraw the release there too (else it stays at the last stage given).
    #[serde(default)]
    pub to_nobody: bool,
}

/// `PUT /api/v1/releases/{tag}/notes`: replaces a release's notes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseNotesRequest {
    #[serde(default)]
    pub protocol_version: Option<u32>,
    #[serde(default)]
    pub repo: Option<String>,
    pub notes: String,
}

/// `POST /api/v1/releases/{tag}/reach`: a dry run over targeting keys, each `KEY` or
/// `KEY TIER`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachRequest {
    #[serde(default)]
    pub protocol_version: Option<u32>,
    #[serde(default)]
    pub repo: Option<String>,
    pub keys: Vec<String>,
}
