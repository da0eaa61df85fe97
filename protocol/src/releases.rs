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
