//! Artifacts kept by the engine: what a runner uploads at the end of an `upload-artifact` step, what
//! any job of the same run (or of a later attempt) downloads, and what the CLI lists.
//!
//! The bytes of each file travel raw (`PUT …/files/{path}` with the file's SHA-256 in the
//! [`SHA256_HEADER`] header); these JSON types carry the manifest around them.

use serde::{Deserialize, Serialize};

/// Header of a runner's artifact call carrying its lease's fencing token (raw-body calls have no
/// JSON body to carry it).
pub const FENCING_TOKEN_HEADER: &str = "x-slipway-fencing-token";
/// Header of a file upload carrying the file's SHA-256 (lowercase hex); a mismatch is refused.
pub const SHA256_HEADER: &str = "x-slipway-sha256";

/// One file of an artifact, its path relative to the artifact's root (`/`-separated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactFile {
    pub path: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the contents.
    pub sha256: String,
}

/// A stored artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactManifest {
    pub name: String,
    /// The run (attempt) whose job uploaded it.
    pub run_id: String,
    /// That run's attempt number.
    pub attempt: u32,
    pub job_key: String,
    /// Sum of the files' sizes.
    pub size: u64,
    pub created_at_us: u64,
    /// When the engine deletes it.
    pub expires_at_us: u64,
    pub files: Vec<ArtifactFile>,
}

/// `POST /api/v1/jobs/{job_id}/artifacts/{name}`: the files uploaded before are one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitArtifactRequest {
    pub protocol_version: u32,
    pub fencing_token: u64,
    pub files: Vec<ArtifactFile>,
    /// Replace an artifact of the same name uploaded earlier in this attempt.
    #[serde(default)]
    pub overwrite: bool,
    /// `retention-days`; the engine's default (and maximum) when absent.
    #[serde(default)]
    pub retention_days: Option<u32>,
}

/// `POST /api/v1/jobs/{job_id}/artifacts`: the artifacts a job may download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListArtifactsRequest {
    pub protocol_version: u32,
    pub fencing_token: u64,
}

/// The artifacts of a run, visible to its jobs: its own and those of earlier attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ArtifactList {
    pub artifacts: Vec<ArtifactManifest>,
}

/// A stored cache entry (`actions/cache`): immutable once saved, scoped to the repository and the
/// git ref of the run that saved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub key: String,
    /// The git ref whose runs saved it (`refs/heads/main`).
    pub scope: String,
    pub size: u64,
    pub created_at_us: u64,
    pub files: Vec<ArtifactFile>,
    /// The cache version the toolkit's cache protocol names (a digest of the paths and the
    /// compression; `actions/cache@v4`): an entry is restored only by a lookup of the same
    /// version. `None` for the built-in cache's entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// `POST /api/v1/jobs/{job_id}/caches/lookup`: the entry a restore gets, searched as GitHub does
/// (the run's ref, then the default branch; the exact key, then prefixes of the key and of each
/// restore key, newest first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheLookupRequest {
    pub protocol_version: u32,
    pub fencing_token: u64,
    pub key: String,
    #[serde(default)]
    pub restore_keys: Vec<String>,
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CacheLookup {
    pub entry: Option<CacheEntry>,
}

/// `POST /api/v1/jobs/{job_id}/caches/{key}`: the files uploaded before become the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitCacheRequest {
    pub protocol_version: u32,
    pub fencing_token: u64,
    pub files: Vec<ArtifactFile>,
}
