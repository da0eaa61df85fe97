//! The admin API of environments, deployments, approvals and groups: the request bodies the
//! CLI sends.
//!
//! **Architecture Invariant:** plain data only; `deploy` applies and checks them.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/environments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateEnvironmentRequest {
    pub protocol_version: u32,
    pub name: String,
    /// `slipway env create` options as given (`--approvals`, `2`, `--wait=5m`, …).
    #[serde(default)]
    pub options: Vec<String>,
}

/// `PATCH /api/v1/environments/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EditEnvironmentRequest {
    pub protocol_version: u32,
    #[serde(default)]
    pub options: Vec<String>,
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
    /// Who decides (asserted by the caller, see docs/api.md).
    pub actor: String,
    #[serde(default)]
    pub comment: Option<String>,
}

/// `POST /api/v1/environments/{name}/rollback`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackRequest {
    pub protocol_version: u32,
    pub actor: String,
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
