//! The admin API of watched repositories and the hook intake: the bodies the CLI and the
//! installed `post-receive` hook send.
//!
//! **Architecture Invariant:** plain data only; the engine's `repos` decides.

use serde::{Deserialize, Serialize};

/// `POST /api/v1/repos`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddRepoRequest {
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    pub source: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub poll_interval_ms: Option<u64>,
    #[serde(default)]
    pub webhook_secret: Option<String>,
    /// `github`, `gitea`, `forgejo` or `gitlab`: the forge the repository lives on.
    #[serde(default)]
    pub forge: Option<String>,
    /// The name of the secret holding the forge's API token.
    #[serde(default)]
    pub forge_token_secret: Option<String>,
    /// The forge's API URL, when it cannot be told from the source.
    #[serde(default)]
    pub forge_api: Option<String>,
}

/// `POST /api/v1/repos/{name}/hook`: what git's `post-receive` read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookRequest {
    pub updates: Vec<HookUpdate>,
    /// The pushing user as the hook saw it (older hooks do not send it).
    #[serde(default)]
    pub pusher: Option<String>,
}

/// One ref a push moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookUpdate {
    pub old: String,
    pub new: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
}
