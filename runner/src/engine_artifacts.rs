//! The executor's artifact and cache services for a job leased from an engine: `upload-artifact`
//! sends the files to the engine and `download-artifact` fetches them from it, and `actions/cache`
//! saves and restores entries there, so artifacts and caches cross runners and outlive this one. Calls go through `client`; this file only walks files and hashes them.
//!
//! It must not run steps nor decide anything about artifacts (the engine checks names, sizes and
//! checksums).

use std::path::{Path, PathBuf};

use protocol::PROTOCOL_VERSION;
use protocol::artifacts::{
    ArtifactFile, CacheLookupRequest, CommitArtifactRequest, CommitCacheRequest,
};
use sha2::{Digest, Sha256};

use crate::executor::{ArtifactFuture, ArtifactService, CacheService};
use client::EngineClient;

/// The artifacts of one leased job, kept by the engine.
#[derive(Debug, Clone)]
pub struct EngineArtifacts {
    /// The client of the engine the runner leased the job from.
    pub client: EngineClient,
    /// The id of the leased job whose artifacts these are.
    pub job_id: String,
    /// The lease's fencing token, sent with every call so the engine refuses a stale lease.
    pub fencing_token: u64,
}

impl ArtifactService for EngineArtifacts {
    fn upload<'a>(
        &'a self,
        name: &'a str,
        files: &'a [(PathBuf, PathBuf)],
        overwrite: bool,
        retention_days: Option<u32>,
    ) -> ArtifactFuture<'a, usize> {
        Box::pin(async move {
            let manifest = upload_files(
                &self.client,
                &self.job_id,
                self.fencing_token,
                Set::Artifact(name),
                files,
            )
            .await?;
            let request = CommitArtifactRequest {
                protocol_version: PROTOCOL_VERSION,
                fencing_token: self.fencing_token,
                files: manifest,
                overwrite,
                retention_days,
            };
            let stored = self
                .client
                .commit_artifact(&self.job_id, name, &request)
                .await
                .map_err(|error| error.to_string())?;
            Ok(stored.files.len())
        })
    }

    fn list(&self) -> ArtifactFuture<'_, Vec<String>> {
        Box::pin(async move {
            let list = self
                .client
                .list_artifacts(&self.job_id, self.fencing_token)
                .await
                .map_err(|error| error.to_string())?;
            Ok(list
                .artifacts
                .into_iter()
                .map(|artifact| artifact.name)
                .collect())
        })
    }

    fn download<'a>(&'a self, name: &'a str, target: &'a Path) -> ArtifactFuture<'a, usize> {
        Box::pin(async move {
            let list = self
                .client
                .list_artifacts(&self.job_id, self.fencing_token)
                .await
                .map_err(|error| error.to_string())?;
            let artifact = list
                .artifacts
                .into_iter()
                .find(|artifact| artifact.name == name)
                .ok_or_else(|| format!("artifact `{name}` was not found in this run"))?;
            for file in &artifact.files {
                let relative = safe_relative(name, &file.path)?;
                let written = self
                    .client
                    .download_artifact_file(
                        &self.job_id,
                        self.fencing_token,
                        name,
                        &file.path,
                        &target.join(relative),
                    )
                    .await
                    .map_err(|error| format!("download `{}`: {error}", file.path))?;
                if written != file.size {
                    return Err(format!(
                        "download `{}`: got {written} bytes, the artifact holds {}",
                        file.path, file.size
                    ));
                }
            }
            Ok(artifact.files.len())
        })
    }
}

/// The caches of one leased job, kept by the engine (scoped there by the job's repository and ref).
#[derive(Debug, Clone)]
pub struct EngineCaches {
    /// The client of the engine the runner leased the job from.
    pub client: EngineClient,
    /// The id of the leased job whose caches these are.
    pub job_id: String,
    /// The lease's fencing token, sent with every call so the engine refuses a stale lease.
    pub fencing_token: u64,
}

impl CacheService for EngineCaches {
    fn restore<'a>(
        &'a self,
        key: &'a str,
        restore_keys: &'a [String],
        into: &'a Path,
    ) -> ArtifactFuture<'a, Option<String>> {
        Box::pin(async move {
            let request = CacheLookupRequest {
                protocol_version: PROTOCOL_VERSION,
                fencing_token: self.fencing_token,
                key: key.to_string(),
                restore_keys: restore_keys.to_vec(),
            };
            let found = self
                .client
                .cache_lookup(&self.job_id, &request)
                .await
                .map_err(|error| error.to_string())?;
            let Some(entry) = found.entry else {
                return Ok(None);
            };
            for file in &entry.files {
                let relative = safe_relative(&entry.key, &file.path)?;
                let written = self
                    .client
                    .download_cache_file(
                        &self.job_id,
                        self.fencing_token,
                        &entry.scope,
                        &entry.key,
                        &file.path,
                        &into.join(relative),
                    )
                    .await
                    .map_err(|error| format!("download `{}`: {error}", file.path))?;
                if written != file.size {
                    return Err(format!(
                        "download `{}`: got {written} bytes, the entry holds {}",
                        file.path, file.size
                    ));
                }
            }
            Ok(Some(entry.key))
        })
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        files: &'a [(PathBuf, PathBuf)],
    ) -> ArtifactFuture<'a, bool> {
        Box::pin(async move {
            let manifest = upload_files(
                &self.client,
                &self.job_id,
                self.fencing_token,
                Set::Cache(key),
                files,
            )
            .await?;
            let request = CommitCacheRequest {
                protocol_version: PROTOCOL_VERSION,
                fencing_token: self.fencing_token,
                files: manifest,
            };
            let stored = self
                .client
                .commit_cache(&self.job_id, key, &request)
                .await
                .map_err(|error| error.to_string())?;
            Ok(stored.is_some())
        })
    }
}

/// Which set a file upload belongs to.
#[derive(Debug, Clone, Copy)]
enum Set<'a> {
    Artifact(&'a str),
    Cache(&'a str),
}

/// Uploads every file of a set (hashing each first, so the engine can check what arrived); the
/// manifest to commit.
async fn upload_files(
    client: &EngineClient,
    job_id: &str,
    fencing_token: u64,
    set: Set<'_>,
    files: &[(PathBuf, PathBuf)],
) -> Result<Vec<ArtifactFile>, String> {
    let mut manifest = Vec::with_capacity(files.len());
    for (source, relative) in files {
        let file = describe(source, relative).await?;
        let sent = match set {
            Set::Artifact(name) => {
                client
                    .upload_artifact_file(
                        job_id,
                        fencing_token,
                        name,
                        &file.path,
                        source,
                        &file.sha256,
                    )
                    .await
            }
            Set::Cache(key) => {
                client
                    .upload_cache_file(job_id, fencing_token, key, &file.path, source, &file.sha256)
                    .await
            }
        };
        sent.map_err(|error| format!("upload `{}`: {error}", file.path))?;
        manifest.push(file);
    }
    Ok(manifest)
}

/// A file about to be uploaded: its path inside the set, size and SHA-256.
async fn describe(source: &Path, relative: &Path) -> Result<ArtifactFile, String> {
    let path = artifact_path(relative)?;
    let (size, sha256) = hash_file(source.to_path_buf()).await?;
    Ok(ArtifactFile { path, size, sha256 })
}

/// A path the engine listed, checked again on this side so it can never leave the target folder.
fn safe_relative<'a>(set: &str, path: &'a str) -> Result<&'a Path, String> {
    let relative = Path::new(path);
    if relative.as_os_str().is_empty()
        || relative
            .components()
            .any(|component| !matches!(component, std::path::Component::Normal(_)))
    {
        return Err(format!("`{set}` holds an unsafe path `{path}`"));
    }
    Ok(relative)
}

/// A path inside an artifact as the engine spells it: `/`-separated, relative.
fn artifact_path(relative: &Path) -> Result<String, String> {
    let mut parts = Vec::new();
    for component in relative.components() {
        match component {
            std::path::Component::Normal(part) => parts.push(
                part.to_str()
                    .ok_or_else(|| format!("file name {} is not UTF-8", relative.display()))?
                    .to_string(),
            ),
            _ => return Err(format!("unsafe path {} in an artifact", relative.display())),
        }
    }
    Ok(parts.join("/"))
}

/// Size and SHA-256 of a file, read on a blocking thread.
async fn hash_file(path: PathBuf) -> Result<(u64, String), String> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = std::fs::File::open(&path)
            .map_err(|error| format!("open {}: {error}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 256 * 1024];
        let mut size = 0u64;
        loop {
            let read = file
                .read(&mut buffer)
                .map_err(|error| format!("read {}: {error}", path.display()))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            size += read as u64;
        }
        let digest: String = hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Ok((size, digest))
    })
    .await
    .map_err(|error| format!("the hashing task failed: {error}"))?
}

/// The action archives of one leased job, served by the engine from its mirrors (only the
/// commits the job's run pinned).
#[derive(Debug, Clone)]
pub struct EngineActions {
    /// The client of the engine the runner leased the job from.
    pub client: EngineClient,
    /// The id of the leased job the archives are served for.
    pub job_id: String,
    /// The lease's fencing token, sent with every call so the engine refuses a stale lease.
    pub fencing_token: u64,
}

impl crate::executor::ActionArchives for EngineActions {
    fn archive<'a>(&'a self, repository: &'a str, sha: &'a str) -> ArtifactFuture<'a, Vec<u8>> {
        Box::pin(async move {
            self.client
                .download_action_archive(&self.job_id, self.fencing_token, repository, sha)
                .await
                .map_err(|error| error.to_string())
        })
    }
}
