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
    /// The file's path inside the artifact, relative to its root and `/`-separated, e.g. `dist/app.js`.
    pub path: String,
    /// The file's size in bytes.
    pub size: u64,
    /// Lowercase hex SHA-256 of the contents.
    pub sha256: String,
}

/// A stored artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactManifest {
    /// The artifact's name as the `upload-artifact` step gave it; unique within one attempt.
    pub name: String,
    /// The run (attempt) whose job uploaded it.
    pub run_id: String,
    /// That run's attempt number.
    pub attempt: u32,
    /// The key of the job that uploaded it, e.g. `build`.
    pub job_key: String,
    /// Sum of the files' sizes.
    pub size: u64,
    /// Microseconds since the Unix epoch when it was committed.
    pub created_at_us: u64,
    /// When the engine deletes it.
    pub expires_at_us: u64,
    /// The artifact's files, each with its size and digest.
    pub files: Vec<ArtifactFile>,
}

/// `POST /api/v1/jobs/{job_id}/artifacts/{name}`: the files uploaded before are one artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitArtifactRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused.
    pub fencing_token: u64,
    /// The files uploaded before that make up the artifact, each with its size and SHA-256.
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
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused.
    pub fencing_token: u64,
}

/// The artifacts of a run, visible to its jobs: its own and those of earlier attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ArtifactList {
    /// The artifacts, each with its manifest.
    pub artifacts: Vec<ArtifactManifest>,
}

/// A stored cache entry (`actions/cache`): immutable once saved, scoped to the repository and the
/// git ref of the run that saved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The cache key the entry was saved under (`key:` of `actions/cache`).
    pub key: String,
    /// The git ref whose runs saved it (`refs/heads/main`).
    pub scope: String,
    /// Sum of the files' sizes, in bytes.
    pub size: u64,
    /// Microseconds since the Unix epoch when it was saved.
    pub created_at_us: u64,
    /// The entry's files, each with its size and digest.
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
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused.
    pub fencing_token: u64,
    /// The key to restore: an exact match wins, else the newest entry whose key starts with it.
    pub key: String,
    /// `restore-keys:` prefixes tried in order after the key when it has no match.
    #[serde(default)]
    pub restore_keys: Vec<String>,
}

/// The answer to a lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CacheLookup {
    /// The entry to restore; `None` on a cache miss.
    pub entry: Option<CacheEntry>,
}

/// `POST /api/v1/jobs/{job_id}/caches/{key}`: the files uploaded before become the entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitCacheRequest {
    /// Must equal `PROTOCOL_VERSION`, else the engine answers 400.
    pub protocol_version: u32,
    /// The fencing token of the runner's lease on the job; a stale one is refused.
    pub fencing_token: u64,
    /// The files uploaded before that make up the entry, each with its size and SHA-256.
    pub files: Vec<ArtifactFile>,
}
