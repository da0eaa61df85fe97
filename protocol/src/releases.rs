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
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// The git tag released, e.g. `v1.4.0`; it must resolve to a commit of the repository.
    pub tag: String,
    /// The watched repository to release; may be left out when only one is watched.
    #[serde(default)]
    pub repo: Option<String>,
    /// The release title (GitHub's `name`); the tag when not given.
    #[serde(default)]
    pub name: Option<String>,
    /// The release notes; when not given, they are assembled from the commits since the previous release.
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
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// The watched repository the release belongs to; may be left out when only one has a release of this tag.
    #[serde(default)]
    pub repo: Option<String>,
    /// The environment to release in, e.g. `production`.
    pub environment: String,
    /// Who gets the release there: `all`, a percentage such as `10%`, or a tier name such as `beta`.
    pub audience: String,
}

/// `POST /api/v1/releases/{tag}/approve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveReleaseRequest {
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// The watched repository the release belongs to; may be left out when only one has a release of this tag.
    #[serde(default)]
    pub repo: Option<String>,
    /// The environment whose waiting promotion is decided.
    pub environment: String,
    /// A note kept with the approval and its audit entry.
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
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// The watched repository the release belongs to; may be left out when only one has a release of this tag.
    #[serde(default)]
    pub repo: Option<String>,
    /// The environment to withdraw the release from.
    pub environment: String,
    /// Why it is withdrawn, kept in its audit entry.
    #[serde(default)]
    pub reason: Option<String>,
}

/// `?repo=NAME`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReleaseQuery {
    /// The watched repository whose releases are meant; every watched repository when absent.
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
    /// Sent by Slipway's own client like on every call; checked by no one.
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
    /// Remove the category's policy instead of setting it (the other fields are ignored).
    #[serde(default)]
    pub clear: bool,
}

/// `POST /api/v1/releases/{tag}/plan`: the stages of a release in an environment, each
/// `AUDIENCE@WHEN` (`10%@2026-12-07T09:00Z`, `50%@+2d`, `all@now`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanReleaseRequest {
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// The watched repository the release belongs to; may be left out when only one has a release of this tag.
    #[serde(default)]
    pub repo: Option<String>,
    /// The environment the plan is for.
    pub environment: String,
    /// The stages in order, each `AUDIENCE@WHEN`; relative times count from the engine's clock.
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
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// The watched repository the release belongs to; may be left out when only one has a release of this tag.
    #[serde(default)]
    pub repo: Option<String>,
    /// The environment whose plan is paused, resumed or halted.
    pub environment: String,
    /// `halt` only: withdraw the release there too (else it stays at the last stage given).
    #[serde(default)]
    pub to_nobody: bool,
}

/// `PUT /api/v1/releases/{tag}/notes`: replaces a release's notes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleaseNotesRequest {
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// The watched repository the release belongs to; may be left out when only one has a release of this tag.
    #[serde(default)]
    pub repo: Option<String>,
    /// The new notes, replacing the old ones whole.
    pub notes: String,
}

/// `POST /api/v1/releases/{tag}/reach`: a dry run over targeting keys, each `KEY` or
/// `KEY TIER`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReachRequest {
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// The watched repository the release belongs to; may be left out when only one has a release of this tag.
    #[serde(default)]
    pub repo: Option<String>,
    /// The targeting keys to try, each `KEY` or `KEY TIER` (a user id, optionally with its tier).
    pub keys: Vec<String>,
}
