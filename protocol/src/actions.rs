//! Remote actions (`uses: owner/repo@ref`): the admin API of action sources and mirrors, and the
//! header a runner names its job with when it fetches an action's archive.
//!
//! **Architecture Invariant:** plain data only; the engine's `actions` module decides.

use serde::{Deserialize, Serialize};

/// The header a runner sends with `GET /api/v1/actions/{owner}/{repo}/{sha}.tar.gz`: the job it
/// holds the lease of (with the lease's fencing token in `x-slipway-fencing-token`).
pub const ACTION_JOB_HEADER: &str = "x-slipway-job";

/// `POST /api/v1/actions/sources`: where actions that are not mirrored yet are fetched from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddActionSourceRequest {
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// A git server base URL (`https://github.com`), or a local directory holding
    /// `owner/repo` (or `owner/repo.git`) repositories.
    pub location: String,
    /// The source's name (default: derived from the location).
    #[serde(default)]
    pub name: Option<String>,
}

/// One configured action source, in the order they are tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSource {
    /// The source's name, unique among the sources (derived from the location unless one was given).
    pub name: String,
    /// A git server base URL or a local directory of `owner/repo` repositories, as it was added.
    pub location: String,
    /// Milliseconds since the epoch when it was added (sources are tried oldest first).
    pub added_at_ms: u64,
}

/// `POST /api/v1/actions/mirror`: mirror (or refresh) an action repository now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorActionRequest {
    /// Sent by Slipway's own client like on every call; checked by no one.
    #[serde(default)]
    pub protocol_version: Option<u32>,
    /// `owner/repo`.
    pub repository: String,
    /// A ref that must exist after the fetch (tag, branch or sha), when given.
    #[serde(default, rename = "ref")]
    pub git_ref: Option<String>,
}

/// A mirrored action repository (`GET /api/v1/actions`, and the answer to a mirror request).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionMirror {
    /// `owner/repo`.
    pub repository: String,
    /// The source it was fetched from (its location).
    pub source: String,
    /// Milliseconds since the epoch of the last successful fetch.
    pub fetched_at_ms: u64,
    /// Branches and tags with the commit each points at (tags peeled), by ref name.
    pub refs: Vec<ActionRef>,
}

/// One ref of a mirrored action repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRef {
    /// `refs/tags/v4`, `refs/heads/main`.
    pub name: String,
    /// The full commit sha the ref points at (a tag's peeled commit).
    pub sha: String,
}
