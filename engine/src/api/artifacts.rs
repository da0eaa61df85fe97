//! The artifact routes (`crate::artifacts` keeps the files):
//!
//! - runner side, lease holder only (runner credential + the lease's fencing token in the
//!   `x-slipway-fencing-token` header or the JSON body; anyone else gets the same 403):
//!   `PUT /api/v1/jobs/{job_id}/artifacts/{name}/files/{*path}` (raw bytes, SHA-256 header),
//!   `POST /api/v1/jobs/{job_id}/artifacts/{name}` (commit the manifest),
//!   `POST /api/v1/jobs/{job_id}/artifacts` (list what the job may download),
//!   `GET /api/v1/jobs/{job_id}/artifacts/{name}/files/{*path}` (download a file);
//! - read side, for the CLI: `GET /api/v1/runs/{run_id}/artifacts` and
//!   `GET /api/v1/runs/{run_id}/artifacts/{name}/files/{*path}`.
//!
//! - caches (`crate::artifacts::caches`), lease holder only: `POST /api/v1/jobs/{job_id}/caches/lookup`,
//!   `PUT|GET /api/v1/jobs/{job_id}/caches/{key}/files/{*path}` (GET with `?scope=REF`),
//!   `POST /api/v1/jobs/{job_id}/caches/{key}` (commit; 409 when the key exists).
//!
//! Files stream to and from disk in chunks; no body is held whole in memory.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::artifacts::{
    ArtifactList, ArtifactManifest, CacheEntry, CacheLookup, CacheLookupRequest,
    CommitArtifactRequest, CommitCacheRequest, FENCING_TOKEN_HEADER, ListArtifactsRequest,
    SHA256_HEADER,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio_stream::StreamExt;

use super::extract::{ApiError, AuthedRunner, Versioned};
use super::run_refs::resolve_run_id;
use crate::artifacts::caches::{self, JobCaches, MAX_CACHE_BYTES};
use crate::artifacts::{self, ArtifactError, RunArtifacts};
use crate::runs::dispatch::Engine;
use crate::store::{JobId, JobRecord, RunId, StoreError, now_us};

/// The artifact routes, to merge into the API's router.
pub fn routes() -> Router<super::AppState> {
    Router::new()
        .route(
            "/api/v1/jobs/{job_id}/artifacts/{name}/files/{*path}",
            get(runner_download).put(upload_file),
        )
        .route("/api/v1/jobs/{job_id}/artifacts/{name}", post(commit))
        .route("/api/v1/jobs/{job_id}/artifacts", post(runner_list))
        .route("/api/v1/jobs/{job_id}/caches/lookup", post(cache_lookup))
        .route(
            "/api/v1/jobs/{job_id}/caches/{key}/files/{*path}",
            get(cache_download).put(cache_upload_file),
        )
        .route("/api/v1/jobs/{job_id}/caches/{key}", post(cache_commit))
        .route("/api/v1/runs/{run_id}/artifacts", get(list_run))
        .route(
            "/api/v1/runs/{run_id}/artifacts/{name}/files/{*path}",
            get(download_run_file),
        )
}

/// Sweeps expired artifacts and cache entries retention lets go (`caches::sweep`) now and then
/// every hour, until the engine shuts down.
pub fn spawn_sweeper(engine: Arc<Engine>) {
    tokio::spawn(async move {
        let shutdown = engine.shutdown_token();
        loop {
            let data_dir = engine.config().data_dir.clone();
            let removed =
                tokio::task::spawn_blocking(move || artifacts::sweep(&data_dir, now_us())).await;
            if let Ok(count) = removed
                && count > 0
            {
                tracing::info!(count, "deleted expired artifacts");
            }
            let data_dir = engine.config().data_dir.clone();
            let removed =
                tokio::task::spawn_blocking(move || caches::sweep(&data_dir, now_us())).await;
            if let Ok(count) = removed
                && count > 0
            {
                tracing::info!(
                    count,
                    "deleted cache entries unused for 7 days or over the repository's 10 GiB"
                );
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(std::time::Duration::from_secs(3600)) => {}
            }
        }
    });
}

/// `PUT /api/v1/jobs/{job_id}/artifacts/{name}/files/{*path}`: one file of an upload, staged.
async fn upload_file(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path((job_id, name, path)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let upload = Upload {
        runner_id: runner.runner_id,
        job_id,
        set: name,
        path,
    };
    staged_upload(&engine, upload, UploadTo::Artifact, &headers, body).await
}

/// Which kind of file set an upload adds to.
#[derive(Debug, Clone, Copy)]
enum UploadTo {
    Artifact,
    Cache,
}

/// One file upload: who sends it, into which job's set, at which path.
struct Upload {
    runner_id: crate::store::RunnerId,
    job_id: String,
    /// The artifact's name or the cache entry's key.
    set: String,
    path: String,
}

/// Checks the lease, the set's name and the path, then streams the body into the set's staging
/// folder (SHA-256 and size checked as it arrives).
async fn staged_upload(
    engine: &Arc<Engine>,
    upload: Upload,
    to: UploadTo,
    headers: &HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let Upload {
        runner_id,
        job_id,
        set,
        path,
    } = upload;
    let fencing_token = fencing_header(headers)?;
    let job = lease_holder(engine, &job_id, runner_id, fencing_token)?;
    let expected = sha256_header(headers)?;
    let relative = artifacts::check_path(&set, &path).map_err(artifact_error)?;
    let (staging, limit) = match to {
        UploadTo::Artifact => {
            let place = RunArtifacts::of(engine.store(), &engine.config().data_dir, job.run_id)
                .map_err(artifact_error)?;
            let staged = blocking(move || place.staging(&job_id, fencing_token, &set)).await?;
            (staged, engine.config().max_artifact_bytes)
        }
        UploadTo::Cache => {
            caches::check_key(&set).map_err(artifact_error)?;
            let caches = job_caches(engine, &job);
            let staged = blocking(move || caches.staging(&job_id, fencing_token, &set)).await?;
            (staged, MAX_CACHE_BYTES)
        }
    };
    receive_file(body, &staging.join(relative), &path, &expected, limit).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/jobs/{job_id}/artifacts/{name}`: the staged files become the artifact.
async fn commit(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path((job_id, name)): Path<(String, String)>,
    Versioned(request): Versioned<CommitArtifactRequest>,
) -> Result<Json<ArtifactManifest>, ApiError> {
    let job = lease_holder(&engine, &job_id, runner.runner_id, request.fencing_token)?;
    let place = RunArtifacts::of(engine.store(), &engine.config().data_dir, job.run_id)
        .map_err(artifact_error)?;
    // The commit checks each declared size against what was staged: their sum is the size.
    let limit = engine.config().max_artifact_bytes;
    let declared = request
        .files
        .iter()
        .fold(0u64, |sum, file| sum.saturating_add(file.size));
    if declared > limit {
        return Err(artifact_error(ArtifactError::TooLarge {
            name,
            what: "the artifact's size",
            value: declared,
            limit,
            kind: "BYTES",
        }));
    }
    let manifest = blocking(move || {
        place.commit(
            &job_id,
            request.fencing_token,
            &job.job_key,
            &name,
            request.files,
            request.overwrite,
            request.retention_days,
            now_us(),
        )
    })
    .await?;
    tracing::info!(name = %manifest.name, size = manifest.size, "artifact stored");
    Ok(Json(manifest))
}

/// `POST /api/v1/jobs/{job_id}/artifacts`: what the job may download.
async fn runner_list(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path(job_id): Path<String>,
    Versioned(request): Versioned<ListArtifactsRequest>,
) -> Result<Json<ArtifactList>, ApiError> {
    let job = lease_holder(&engine, &job_id, runner.runner_id, request.fencing_token)?;
    list(&engine, job.run_id).await
}

/// `GET /api/v1/jobs/{job_id}/artifacts/{name}/files/{*path}`.
async fn runner_download(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path((job_id, name, path)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let fencing_token = fencing_header(&headers)?;
    let job = lease_holder(&engine, &job_id, runner.runner_id, fencing_token)?;
    stream_file(&engine, job.run_id, name, path).await
}

/// `GET /api/v1/runs/{run_id}/artifacts`.
async fn list_run(
    State(engine): State<Arc<Engine>>,
    Path(run_id): Path<String>,
) -> Result<Json<ArtifactList>, ApiError> {
    list(&engine, resolve_run_id(engine.store(), &run_id)?).await
}

/// `GET /api/v1/runs/{run_id}/artifacts/{name}/files/{*path}`.
async fn download_run_file(
    State(engine): State<Arc<Engine>>,
    Path((run_id, name, path)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    stream_file(
        &engine,
        resolve_run_id(engine.store(), &run_id)?,
        name,
        path,
    )
    .await
}

/// `POST /api/v1/jobs/{job_id}/caches/lookup`.
async fn cache_lookup(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path(job_id): Path<String>,
    Versioned(request): Versioned<CacheLookupRequest>,
) -> Result<Json<CacheLookup>, ApiError> {
    let job = lease_holder(&engine, &job_id, runner.runner_id, request.fencing_token)?;
    let caches = job_caches(&engine, &job);
    let entry = blocking(move || caches.lookup(&request.key, &request.restore_keys)).await?;
    Ok(Json(CacheLookup { entry }))
}

/// `PUT /api/v1/jobs/{job_id}/caches/{key}/files/{*path}`: one file of a cache save, staged.
async fn cache_upload_file(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path((job_id, key, path)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let upload = Upload {
        runner_id: runner.runner_id,
        job_id,
        set: key,
        path,
    };
    staged_upload(&engine, upload, UploadTo::Cache, &headers, body).await
}

/// `POST /api/v1/jobs/{job_id}/caches/{key}`: the staged files become the cache entry.
async fn cache_commit(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path((job_id, key)): Path<(String, String)>,
    Versioned(request): Versioned<CommitCacheRequest>,
) -> Result<Json<CacheEntry>, ApiError> {
    let job = lease_holder(&engine, &job_id, runner.runner_id, request.fencing_token)?;
    let caches = job_caches(&engine, &job);
    let entry = blocking(move || {
        caches.commit(
            &job_id,
            request.fencing_token,
            &key,
            request.files,
            now_us(),
        )
    })
    .await?;
    tracing::info!(key = %entry.key, size = entry.size, "cache entry stored");
    Ok(Json(entry))
}

/// `GET /api/v1/jobs/{job_id}/caches/{key}/files/{*path}?scope=REF`.
async fn cache_download(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path((job_id, key, path)): Path<(String, String, String)>,
    Query(query): Query<ScopeQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let fencing_token = fencing_header(&headers)?;
    let job = lease_holder(&engine, &job_id, runner.runner_id, fencing_token)?;
    let caches = job_caches(&engine, &job);
    let file_path = blocking(move || caches.file(&query.scope, &key, &path)).await?;
    send_file(file_path).await
}

/// `?scope=REF` of a cache download: which of the job's scopes the entry came from.
#[derive(Debug, serde::Deserialize)]
struct ScopeQuery {
    scope: String,
}

/// The caches a job may use: its repository, its ref, its repository's default branch — all
/// taken from the job as the engine planned it, never from what the runner says.
pub(super) fn job_caches(engine: &Engine, job: &JobRecord) -> JobCaches {
    let github = job.spec.contexts.get("github");
    let text = |value: Option<&serde_json::Value>| {
        value
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let repository = text(github.and_then(|github| github.get("repository")));
    let git_ref = text(github.and_then(|github| github.get("ref")));
    let default_branch = github
        .and_then(|github| github.pointer("/event/repository/default_branch"))
        .and_then(serde_json::Value::as_str)
        .or_else(|| {
            job.spec
                .event_payload
                .pointer("/repository/default_branch")
                .and_then(serde_json::Value::as_str)
        })
        .unwrap_or("main")
        .to_string();
    JobCaches::new(
        &engine.config().data_dir,
        &repository,
        &git_ref,
        &default_branch,
    )
}

async fn list(engine: &Arc<Engine>, run_id: RunId) -> Result<Json<ArtifactList>, ApiError> {
    let place = RunArtifacts::of(engine.store(), &engine.config().data_dir, run_id)
        .map_err(artifact_error)?;
    let now = now_us();
    let artifacts = blocking(move || place.list()).await?;
    Ok(Json(ArtifactList {
        artifacts: artifacts
            .into_iter()
            .filter(|artifact| artifact.expires_at_us > now)
            .collect(),
    }))
}

async fn stream_file(
    engine: &Arc<Engine>,
    run_id: RunId,
    name: String,
    path: String,
) -> Result<Response, ApiError> {
    let place = RunArtifacts::of(engine.store(), &engine.config().data_dir, run_id)
        .map_err(artifact_error)?;
    let file_path = blocking(move || place.file(&name, &path)).await?;
    send_file(file_path).await
}

/// Streams a request body into `target` (its folders created), checking its SHA-256 against
/// `expected` and its size against `limit`; the file is removed when either check fails.
async fn receive_file(
    body: Body,
    target: &std::path::Path,
    path: &str,
    expected: &str,
    limit: u64,
) -> Result<(), ApiError> {
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|error| io_api_error(target, error))?;
    }
    let mut file = tokio::fs::File::create(target)
        .await
        .map_err(|error| io_api_error(target, error))?;
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::bad_request(format!("upload `{path}`: {error}")))?;
        written += chunk.len() as u64;
        if written > limit {
            drop(file);
            let _ = tokio::fs::remove_file(target).await;
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("upload `{path}`: the file is over the limit of {limit} bytes"),
            ));
        }
        hasher.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|error| io_api_error(target, error))?;
    }
    file.sync_all()
        .await
        .map_err(|error| io_api_error(target, error))?;
    let actual = artifacts::hex_digest(hasher);
    if actual != expected {
        let _ = tokio::fs::remove_file(target).await;
        return Err(ApiError::bad_request(format!(
            "upload `{path}`: the SHA-256 of what arrived ({actual}) is not the one announced ({expected})"
        )));
    }
    Ok(())
}

/// Streams a stored file as the answer.
pub(super) async fn send_file(file_path: std::path::PathBuf) -> Result<Response, ApiError> {
    let file = tokio::fs::File::open(&file_path)
        .await
        .map_err(|error| io_api_error(&file_path, error))?;
    let length = file
        .metadata()
        .await
        .map_err(|error| io_api_error(&file_path, error))?
        .len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(
        file,
        256 * 1024,
    ));
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_string()),
            (CONTENT_LENGTH, length.to_string()),
        ],
        body,
    )
        .into_response())
}

fn sha256_header(headers: &HeaderMap) -> Result<String, ApiError> {
    headers
        .get(SHA256_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().to_ascii_lowercase())
        .ok_or_else(|| ApiError::bad_request(format!("upload a file: missing `{SHA256_HEADER}`")))
}

/// The job, when `runner_id` holds its lease under `fencing_token`; else the same 403 for every
/// other case, so a caller learns nothing about jobs it does not hold.
pub(super) fn lease_holder(
    engine: &Engine,
    job_id: &str,
    runner_id: crate::store::RunnerId,
    fencing_token: u64,
) -> Result<JobRecord, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("job {job_id} is not leased to this runner under that fencing token"),
        )
    };
    let parsed: JobId = job_id.parse().map_err(|_| refused())?;
    match engine.store().leased_job(parsed, runner_id, fencing_token) {
        Ok(job) => Ok(job),
        Err(
            StoreError::JobNotFound(_)
            | StoreError::NotYourJob { .. }
            | StoreError::StaleLease { .. },
        ) => Err(refused()),
        Err(error) => Err(error.into()),
    }
}

pub(super) fn fencing_header(headers: &HeaderMap) -> Result<u64, ApiError> {
    headers
        .get(FENCING_TOKEN_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "call an artifact route: missing or invalid `{FENCING_TOKEN_HEADER}` header"
            ))
        })
}

pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ArtifactError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("store artifact: the file task failed: {error}"),
            )
        })?
        .map_err(artifact_error)
}

pub(super) fn artifact_error(error: ArtifactError) -> ApiError {
    let status = match &error {
        ArtifactError::InvalidName { .. }
        | ArtifactError::InvalidPath { .. }
        | ArtifactError::Mismatch { .. } => StatusCode::BAD_REQUEST,
        ArtifactError::Exists { .. } => StatusCode::CONFLICT,
        ArtifactError::NotFound { .. }
        | ArtifactError::FileNotFound { .. }
        | ArtifactError::RunNotFound(_) => StatusCode::NOT_FOUND,
        ArtifactError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        ArtifactError::Io { .. } | ArtifactError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(%error, "artifact call failed");
    }
    ApiError::new(status, error.to_string())
}

fn io_api_error(path: &std::path::Path, error: std::io::Error) -> ApiError {
    artifact_error(ArtifactError::Io {
        path: path.to_path_buf(),
        source: error,
    })
}
