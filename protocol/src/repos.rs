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
    /// Where the repository is fetched from: a URL or a local path git can clone (a relative path is made absolute).
    pub source: String,
    /// The repository's name in Slipway (default: derived from the source).
    #[serde(default)]
    pub name: Option<String>,
    /// How often the mirror is fetched for new commits, in milliseconds; no polling when absent.
    #[serde(default)]
    pub poll_interval_ms: Option<u64>,
    /// The shared secret that forge webhooks are signed (or, for GitLab, authenticated) with; webhooks are refused without one.
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
    /// The refs the push moved, in the order the hook read them.
    pub updates: Vec<HookUpdate>,
    /// The pushing user as the hook saw it (older hooks do not send it).
    #[serde(default)]
    pub pusher: Option<String>,
}

/// One ref a push moved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookUpdate {
    /// The commit sha the ref pointed at before the push (all zeros when the push created it).
    pub old: String,
    /// The commit sha the ref points at after the push (all zeros when the push deleted it).
    pub new: String,
    /// The full ref name, e.g. `refs/heads/main`.
    #[serde(rename = "ref")]
    pub git_ref: String,
}
