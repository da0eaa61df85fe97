//! The services the official actions call, so they run unchanged: the cache service of
//! `actions/cache@v4` (`@actions/cache`'s v1 protocol, the one it uses unless
//! `ACTIONS_CACHE_SERVICE_V2` is set on github.com — and never on a server that is not
//! github.com, which Slipway is to it). A runner gives a job `ACTIONS_CACHE_URL` =
//! `<engine>/api/v1/toolkit/` and `ACTIONS_RUNTIME_TOKEN` = the job's token
//! (`secrets::job_token`, minted with each lease); the action appends `_apis/artifactcache/…`:
//!
//! - `GET  …/cache?keys=K1,K2&version=V`: the entry a restore gets (200 with `archiveLocation`,
//!   a URL of `…/archive` carrying the token; 204 when none);
//! - `POST …/caches` `{key, version, cacheSize}`: reserve a save (201 `{cacheId}`; 409 when the
//!   entry exists);
//! - `PATCH …/caches/{id}` with `Content-Range: bytes S-E/*`: bytes `S..=E` of the archive;
//! - `POST …/caches/{id}` `{size}`: commit (the ranges must cover `size` bytes exactly);
//! - `GET  …/caches?key=K`: this ref's entries of that key (the action's diagnostics);
//! - `GET  …/archive?scope=&key=&version=&token=`: the archive of an entry the job may read.
//!
//! The entries are the engine's cache store (`crate::artifacts::caches`), with the scoping GitHub
//! documents: a job saves into its own ref and restores from it, then from the default branch.
//! Every call needs a token whose lease is still the job's current one (else 401, the same
//! answer for every reason). The bodies are GitHub's shapes (camelCase, errors as
//! `{"message": …}`), defined here because no Slipway program speaks them: only the actions do.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_RANGE, HOST};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use protocol::artifacts::CacheEntry;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};
use tokio_stream::StreamExt;

use super::artifacts::{blocking, job_caches, send_file};
use super::extract::ApiError;
use crate::artifacts::caches::{JobCaches, MAX_CACHE_BYTES, TOOLKIT_ARCHIVE};
use crate::runs::dispatch::Engine;
use crate::secrets::SecretKey;
use crate::secrets::job_token::{EXPIRY_MARGIN_SECONDS, JobTokenClaims, JobTokenKey};
use crate::store::{JobId, JobRecord, JobState, now_us};

/// Where the toolkit's services live; a runner hands `<engine>` + this to the actions.
pub const TOOLKIT_PREFIX: &str = "/api/v1/toolkit/";
/// The largest JSON body a toolkit call reads.
const SMALL_JSON: usize = 64 * 1024;

/// The toolkit routes, to merge into the API's router.
pub fn routes() -> Router<super::AppState> {
    Router::new()
        .route("/api/v1/toolkit/_apis/artifactcache/cache", get(lookup))
        .route(
            "/api/v1/toolkit/_apis/artifactcache/caches",
            get(list).post(reserve),
        )
        .route(
            "/api/v1/toolkit/_apis/artifactcache/caches/{cache_id}",
            axum::routing::patch(upload_range).post(commit),
        )
        .route("/api/v1/toolkit/_apis/artifactcache/archive", get(archive))
}

/// The token for the lease `fencing_token` of `job`: signed with the engine's key, good until
/// the job's time limit (plus a margin) has passed. `None` when the key cannot be read (the job
/// then runs without the services; the reason is logged).
pub fn mint_runtime_token(engine: &Engine, job: &JobRecord, fencing_token: u64) -> Option<String> {
    let key = match SecretKey::shared(&engine.config().data_dir) {
        Ok(key) => JobTokenKey::derive(&key),
        Err(error) => {
            tracing::error!(%error, "cannot mint the job's runtime token");
            return None;
        }
    };
    let now_s = now_us() / 1_000_000;
    let limit_s = if job.spec.timeout_minutes.is_finite() && job.spec.timeout_minutes > 0.0 {
        // Saturating float-to-int conversion: a huge timeout stays huge.
        (job.spec.timeout_minutes * 60.0) as u64
    } else {
        360 * 60
    };
    let claims = JobTokenClaims {
        job_id: job.job_id.to_string(),
        run_id: job.run_id.to_string(),
        fencing_token,
        expires_at_s: now_s
            .saturating_add(limit_s)
            .saturating_add(EXPIRY_MARGIN_SECONDS),
    };
    Some(key.mint(&claims, now_s))
}

/// An answer of the toolkit's routes: GitHub's error shape `{"message": …}`.
#[derive(Debug)]
pub(super) struct ToolkitError {
    status: StatusCode,
    message: String,
}

impl ToolkitError {
    fn new(status: StatusCode, message: impl Into<String>) -> ToolkitError {
        ToolkitError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> ToolkitError {
        ToolkitError::new(StatusCode::BAD_REQUEST, message)
    }

    /// What went wrong, in words.
    pub(super) fn message(&self) -> &str {
        &self.message
    }

    fn unauthorized() -> ToolkitError {
        ToolkitError::new(
            StatusCode::UNAUTHORIZED,
            "missing, invalid or expired job token (ACTIONS_RUNTIME_TOKEN)",
        )
    }
}

impl From<ApiError> for ToolkitError {
    fn from(error: ApiError) -> ToolkitError {
        ToolkitError::new(error.status, error.message)
    }
}

impl IntoResponse for ToolkitError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "message": self.message }))).into_response()
    }
}

/// The job a valid token names, with its claims, when the token's lease is still the job's.
pub(super) struct TokenJob {
    pub(super) job: JobRecord,
    pub(super) claims: JobTokenClaims,
}

impl TokenJob {
    fn caches(&self, engine: &Engine) -> JobCaches {
        job_caches(engine, &self.job)
    }
}

/// Checks `token`: signature, expiry, and that the job still holds the lease it was minted for.
pub(super) fn authenticate(engine: &Engine, token: Option<&str>) -> Result<TokenJob, ToolkitError> {
    let token = token.ok_or_else(ToolkitError::unauthorized)?;
    let key = SecretKey::shared(&engine.config().data_dir).map_err(|error| {
        tracing::error!(%error, "cannot read the engine's key to check a job token");
        ToolkitError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "check the job token: the engine's key is unreadable",
        )
    })?;
    let claims = JobTokenKey::derive(&key)
        .verify(token, now_us() / 1_000_000)
        .map_err(|_| ToolkitError::unauthorized())?;
    let job_id: JobId = claims
        .job_id
        .parse()
        .map_err(|_| ToolkitError::unauthorized())?;
    let job = engine
        .store()
        .job(job_id)
        .map_err(ApiError::from)?
        .ok_or_else(ToolkitError::unauthorized)?;
    let current = job.state == JobState::Leased
        && job
            .lease
            .as_ref()
            .is_some_and(|lease| lease.fencing_token == claims.fencing_token);
    if !current {
        return Err(ToolkitError::unauthorized());
    }
    Ok(TokenJob { job, claims })
}

pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
}

#[derive(Debug, Deserialize)]
struct LookupQuery {
    keys: String,
    version: String,
}

/// `GET …/cache?keys=K1,K2&version=V`.
async fn lookup(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<LookupQuery>,
    headers: HeaderMap,
) -> Result<Response, ToolkitError> {
    let holder = authenticate(&engine, bearer(&headers))?;
    let mut keys = query
        .keys
        .split(',')
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .map(str::to_string);
    let Some(primary) = keys.next() else {
        return Err(ToolkitError::bad_request(
            "query `keys`: name at least one cache key",
        ));
    };
    let restore_keys: Vec<String> = keys.collect();
    if restore_keys.len() > 9 {
        return Err(ToolkitError::bad_request(
            "query `keys`: at most 10 keys (GitHub's limit)",
        ));
    }
    let caches = holder.caches(&engine);
    let version = query.version.clone();
    let found =
        blocking(move || caches.lookup_version(&primary, &restore_keys, Some(&version))).await?;
    let Some(entry) = found else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let token = bearer(&headers).unwrap_or_default();
    let location = format!(
        "{}{TOOLKIT_PREFIX}_apis/artifactcache/archive?scope={}&key={}&version={}&token={}",
        base_url(&headers),
        percent_encode(&entry.scope),
        percent_encode(&entry.key),
        percent_encode(&query.version),
        percent_encode(token),
    );
    let mut body = entry_json(&entry);
    body["archiveLocation"] = Value::String(location);
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReserveRequest {
    key: String,
    version: String,
    #[serde(default)]
    cache_size: Option<u64>,
}

/// `POST …/caches` `{key, version, cacheSize}`.
async fn reserve(
    State(engine): State<Arc<Engine>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ToolkitError> {
    let holder = authenticate(&engine, bearer(&headers))?;
    let request: ReserveRequest = read_json(body).await?;
    let caches = holder.caches(&engine);
    let job_id = holder.claims.job_id.clone();
    let fencing_token = holder.claims.fencing_token;
    let reserved = blocking(move || {
        caches.reserve(
            &job_id,
            fencing_token,
            &request.key,
            &request.version,
            request.cache_size,
            now_us(),
        )
    })
    .await
    .map_err(|error| {
        // GitHub answers an oversized reservation with 400, which the action reports as such.
        let mut error = ToolkitError::from(error);
        if error.status == StatusCode::PAYLOAD_TOO_LARGE {
            error.status = StatusCode::BAD_REQUEST;
        }
        error
    })?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "cacheId": reserved.cache_id })),
    )
        .into_response())
}

/// `PATCH …/caches/{id}` with `Content-Range: bytes S-E/*`: bytes `S..=E` of the archive.
async fn upload_range(
    State(engine): State<Arc<Engine>>,
    Path(cache_id): Path<u64>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ToolkitError> {
    let holder = authenticate(&engine, bearer(&headers))?;
    let (start, end) = content_range(&headers)?;
    let caches = holder.caches(&engine);
    let job_id = holder.claims.job_id.clone();
    let fencing_token = holder.claims.fencing_token;
    let (_, archive) = {
        let caches = caches.clone();
        blocking(move || caches.reservation(cache_id, &job_id, fencing_token)).await?
    };
    let io = |error: std::io::Error| {
        ToolkitError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("write cache archive {}: {error}", archive.display()),
        )
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&archive)
        .await
        .map_err(io)?;
    file.seek(std::io::SeekFrom::Start(start))
        .await
        .map_err(io)?;
    // Each write of a `tokio::fs::File` is a trip to a blocking thread: gather the body's small
    // frames into 1 MiB writes.
    let mut file = tokio::io::BufWriter::with_capacity(1024 * 1024, file);
    let expected = end - start + 1;
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            ToolkitError::bad_request(format!("upload cache range {start}-{end}: {error}"))
        })?;
        written += chunk.len() as u64;
        if written > expected {
            return Err(ToolkitError::bad_request(format!(
                "upload cache range {start}-{end}: the body is longer than the {expected} bytes of its `Content-Range`"
            )));
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    if written != expected {
        return Err(ToolkitError::bad_request(format!(
            "upload cache range {start}-{end}: the body has {written} bytes, its `Content-Range` says {expected}"
        )));
    }
    file.flush().await.map_err(io)?;
    file.get_ref().sync_data().await.map_err(io)?;
    drop(file);
    blocking(move || caches.record_range(cache_id, start, end)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct CommitRequest {
    size: u64,
}

/// `POST …/caches/{id}` `{size}`.
async fn commit(
    State(engine): State<Arc<Engine>>,
    Path(cache_id): Path<u64>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ToolkitError> {
    let holder = authenticate(&engine, bearer(&headers))?;
    let request: CommitRequest = read_json(body).await?;
    let caches = holder.caches(&engine);
    let job_id = holder.claims.job_id.clone();
    let fencing_token = holder.claims.fencing_token;
    let entry = blocking(move || {
        caches.commit_reservation(cache_id, &job_id, fencing_token, request.size, now_us())
    })
    .await?;
    tracing::info!(key = %entry.key, size = entry.size, scope = %entry.scope, "cache entry stored (toolkit)");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    key: String,
}

/// `GET …/caches?key=K`: this ref's entries of key `K` (every version).
async fn list(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ToolkitError> {
    let holder = authenticate(&engine, bearer(&headers))?;
    let caches = holder.caches(&engine);
    let entries = blocking(move || caches.own_entries()).await?;
    let matching: Vec<Value> = entries
        .iter()
        .filter(|entry| entry.key == query.key)
        .map(entry_json)
        .collect();
    Ok(Json(json!({
        "totalCount": matching.len(),
        "artifactCaches": matching,
    })))
}

#[derive(Debug, Deserialize)]
struct ArchiveQuery {
    scope: String,
    key: String,
    version: String,
    token: String,
}

/// `GET …/archive?scope=&key=&version=&token=`: the archive of an entry the token's job may read
/// (its ref's or the default branch's).
async fn archive(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<ArchiveQuery>,
) -> Result<Response, ToolkitError> {
    let holder = authenticate(&engine, Some(&query.token))?;
    let caches = holder.caches(&engine);
    let path = blocking(move || {
        caches.file_of_version(
            &query.scope,
            &query.key,
            Some(&query.version),
            TOOLKIT_ARCHIVE,
        )
    })
    .await?;
    Ok(send_file(path).await?)
}

/// An entry as the cache service describes one.
fn entry_json(entry: &CacheEntry) -> Value {
    let created = i64::try_from(entry.created_at_us)
        .ok()
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
        .map(|time| time.to_string())
        .unwrap_or_default();
    json!({
        "cacheKey": entry.key,
        "scope": entry.scope,
        "cacheVersion": entry.version,
        "creationTime": created,
    })
}

/// `Content-Range: bytes S-E/*` (or `/TOTAL`): `(S, E)`, inclusive, within the cache limit.
fn content_range(headers: &HeaderMap) -> Result<(u64, u64), ToolkitError> {
    let text = headers
        .get(CONTENT_RANGE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    parse_content_range(text).ok_or_else(|| {
        ToolkitError::bad_request(format!(
            "header `Content-Range`: expected `bytes START-END/*` with END below {MAX_CACHE_BYTES}, got `{text}`"
        ))
    })
}

fn parse_content_range(text: &str) -> Option<(u64, u64)> {
    let range = text.trim().strip_prefix("bytes ")?;
    let (range, _total) = range.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end): (u64, u64) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    (start <= end && end < MAX_CACHE_BYTES).then_some((start, end))
}

/// A small JSON body (at most `SMALL_JSON` bytes).
async fn read_json<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ToolkitError> {
    let bytes = axum::body::to_bytes(body, SMALL_JSON)
        .await
        .map_err(|error| ToolkitError::bad_request(format!("read the request body: {error}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|error| ToolkitError::bad_request(format!("request body: {error}")))
}

/// `scheme://host` the caller reached the engine at (`X-Forwarded-Proto` honoured), for URLs the
/// action follows without the engine's help.
pub(super) fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .filter(|scheme| matches!(*scheme, "http" | "https"))
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub(super) fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
        let check = |text: &str, expected: Option<(u64, u64)>| {
            assert_eq!(parse_content_range(text), expected, "{text}");
        };
        check("bytes 0-199/*", Some((0, 199)));
        check("bytes 33554432-67108863/*", Some((33_554_432, 67_108_863)));
        check("bytes 5-5/10", Some((5, 5)));
        check("bytes 6-5/*", None);
        check("bytes 0-/*", None);
        check("0-5/*", None);
        check("bytes 0-5", None);
        check(&format!("bytes 0-{MAX_CACHE_BYTES}/*"), None);
    }

    #[test]
    fn percent_encoding_keeps_unreserved_characters() {
        assert_eq!(percent_encode("refs/heads/main"), "refs%2Fheads%2Fmain");
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent_encode("k y+é"), "k%20y%2B%C3%A9");
    }
}
