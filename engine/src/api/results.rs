//! The artifact service of `actions/upload-artifact@v4` and `download-artifact@v4` (GitHub's
//! toolkit, `@actions/artifact` 2.x): Twirp JSON calls on the origin of `ACTIONS_RESULTS_URL`,
//! `POST /twirp/github.actions.results.api.v1.ArtifactService/{method}`, with the job's runtime
//! token as bearer. The run and job ids the toolkit sends come from the token's
//! `scp` claim (`Actions.Results:<run>:<job>`, see `secrets::job_token`):
//!
//! - `CreateArtifact {workflow_run_backend_id, workflow_job_run_backend_id, name, expires_at?,
//!   version, mime_type?}` → `{ok, signed_upload_url}`; a name the run attempt has already is
//!   refused (409 `already_exists`), as GitHub does;
//! - the blob goes to the signed URL the way Azure Blob Storage takes a block blob:
//!   `PUT …?comp=block&blockid=ID` per block then `PUT …?comp=blocklist` (XML), or one `PUT`
//!   with `x-ms-blob-type: BlockBlob`; past the engine's artifact limit it is refused (413);
//! - `FinalizeArtifact {…, name, size, hash: "sha256:HEX"}` → `{ok, artifact_id}` once size and
//!   hash match what arrived;
//! - `ListArtifacts {…, name_filter?, id_filter?}` → `{artifacts: [{workflow_run_backend_id,
//!   workflow_job_run_backend_id, database_id, name, size, created_at, digest}]}`;
//! - `GetSignedArtifactURL {…, name}` → `{signed_url}`, a plain `GET` of the blob;
//! - `DeleteArtifact {…, name}` → `{ok, artifact_id}`.
//!
//! Scope: a token creates, finalizes and deletes only in its own run, as its own job. It reads
//! its own run's artifacts (a re-run's attempts share them) and — when the request names another
//! run's id, as `download-artifact` does with `run-id` — those of another run of the same
//! repository; never another repository's. The signed URLs carry the token itself (as `sig`,
//! which the toolkit masks), so they are good while the job's lease is.
//!
//! Errors are Twirp's `{"code", "msg"}` (the toolkit prints `msg`); blob errors are Azure's XML.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_TYPE, ETAG, LAST_MODIFIED};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::artifacts::ArtifactManifest;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio_stream::StreamExt;

use super::artifacts::{artifact_error, blocking, send_file};
use super::extract::ApiError;
use super::toolkit::{TOOLKIT_PREFIX, TokenJob, authenticate, base_url, bearer, percent_encode};
use crate::artifacts::RunArtifacts;
use crate::artifacts::blobs::{self, BlobUpload, PendingBlob};
use crate::runs::dispatch::Engine;
use crate::store::{RunId, now_us};

/// Where blobs are sent and fetched, under the toolkit prefix.
const BLOB_PATH: &str = "_apis/artifactblob";
/// The largest Twirp body or block list read.
const SMALL_BODY: usize = 4 * 1024 * 1024;

/// The artifact service's routes, to merge into the API's router.
pub(crate) fn routes() -> Router<super::AppState> {
    Router::new()
        .route(
            "/twirp/github.actions.results.api.v1.ArtifactService/{method}",
            post(twirp),
        )
        .route(
            "/api/v1/toolkit/_apis/artifactblob/{run_id}/{name}",
            get(download_blob).put(upload_blob),
        )
}

/// A Twirp error: its HTTP status, code and message.
#[derive(Debug)]
struct TwirpError {
    status: StatusCode,
    code: &'static str,
    msg: String,
}

impl TwirpError {
    fn new(status: StatusCode, msg: impl Into<String>) -> TwirpError {
        let code = match status {
            StatusCode::BAD_REQUEST | StatusCode::PAYLOAD_TOO_LARGE => "invalid_argument",
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::FORBIDDEN => "permission_denied",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::CONFLICT => "already_exists",
            _ => "internal",
        };
        // The toolkit retries 429 and 5xx; a refusal it must not retry answers 400.
        let status = if status == StatusCode::PAYLOAD_TOO_LARGE {
            StatusCode::BAD_REQUEST
        } else {
            status
        };
        TwirpError {
            status,
            code,
            msg: msg.into(),
        }
    }

    fn invalid(msg: impl Into<String>) -> TwirpError {
        TwirpError::new(StatusCode::BAD_REQUEST, msg)
    }

    fn denied(msg: impl Into<String>) -> TwirpError {
        TwirpError::new(StatusCode::FORBIDDEN, msg)
    }
}

impl From<ApiError> for TwirpError {
    fn from(error: ApiError) -> TwirpError {
        TwirpError::new(error.status, error.message)
    }
}

impl IntoResponse for TwirpError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "code": self.code, "msg": self.msg })),
        )
            .into_response()
    }
}

/// `POST /twirp/…ArtifactService/{method}`.
async fn twirp(
    State(engine): State<Arc<Engine>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match call(&engine, &method, &headers, body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => error.into_response(),
    }
}

async fn call(
    engine: &Arc<Engine>,
    method: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, TwirpError> {
    let holder = authenticate(engine, bearer(headers)).map_err(|error| {
        TwirpError::new(
            StatusCode::UNAUTHORIZED,
            format!("{method}: {}", error.message()),
        )
    })?;
    let bytes = axum::body::to_bytes(body, SMALL_BODY)
        .await
        .map_err(|error| TwirpError::invalid(format!("{method}: read the body: {error}")))?;
    let request: Value = serde_json::from_slice(&bytes).map_err(|error| {
        TwirpError::invalid(format!("{method}: the body is not a JSON message: {error}"))
    })?;
    let request = Request(request);
    let base = base_url(headers);
    let token = bearer(headers).unwrap_or_default().to_string();
    match method {
        "CreateArtifact" => create(engine, &holder, &request, &base, &token).await,
        "FinalizeArtifact" => finalize(engine, &holder, &request).await,
        "ListArtifacts" => list(engine, &holder, &request).await,
        "GetSignedArtifactURL" => signed_url(engine, &holder, &request, &base, &token).await,
        "DeleteArtifact" => delete(engine, &holder, &request).await,
        _ => Err(TwirpError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no method `{method}` in github.actions.results.api.v1.ArtifactService (CreateArtifact, FinalizeArtifact, ListArtifacts, GetSignedArtifactURL, DeleteArtifact)"
            ),
        )),
    }
}

/// A Twirp JSON message: fields by their proto name or their JSON (camelCase) name.
struct Request(Value);

impl Request {
    fn field(&self, name: &str) -> Option<&Value> {
        self.0
            .get(name)
            .or_else(|| self.0.get(camel_case(name)))
            .filter(|value| !value.is_null())
    }

    fn text(&self, name: &str) -> Result<Option<String>, TwirpError> {
        match self.field(name) {
            None => Ok(None),
            // A `StringValue` wrapper is its plain string in JSON; accept `{value}` too.
            Some(Value::Object(wrapper)) => match wrapper.get("value") {
                Some(Value::String(text)) => Ok(Some(text.clone())),
                _ => Err(TwirpError::invalid(format!(
                    "field `{name}`: expected a string"
                ))),
            },
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(TwirpError::invalid(format!(
                "field `{name}`: expected a string"
            ))),
        }
    }

    fn required(&self, name: &str) -> Result<String, TwirpError> {
        self.text(name)?
            .filter(|text| !text.is_empty())
            .ok_or_else(|| TwirpError::invalid(format!("field `{name}` is required")))
    }

    /// An `int64` (a string in proto3 JSON, a number accepted) or an `Int64Value`.
    fn int64(&self, name: &str) -> Result<Option<u64>, TwirpError> {
        let bad = || TwirpError::invalid(format!("field `{name}`: expected a non-negative int64"));
        let value = match self.field(name) {
            None => return Ok(None),
            Some(Value::Object(wrapper)) => wrapper.get("value").cloned().unwrap_or(Value::Null),
            Some(value) => value.clone(),
        };
        match value {
            Value::String(text) => text.trim().parse().map(Some).map_err(|_| bad()),
            Value::Number(number) => number.as_u64().map(Some).ok_or_else(bad),
            Value::Null => Ok(None),
            _ => Err(bad()),
        }
    }
}

fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Checks that the request's run and job ids are the token's own (creating, finalizing and
/// deleting happen only there); the artifacts of the token's run.
fn own_run(
    engine: &Engine,
    holder: &TokenJob,
    request: &Request,
    method: &str,
) -> Result<RunArtifacts, TwirpError> {
    let run = request.text("workflow_run_backend_id")?.unwrap_or_default();
    let job = request
        .text("workflow_job_run_backend_id")?
        .unwrap_or_default();
    if run != holder.claims.run_id || job != holder.claims.job_id {
        return Err(TwirpError::denied(format!(
            "{method}: this token is job {} of run {}: it cannot write artifacts of run `{run}` job `{job}`",
            holder.claims.job_id, holder.claims.run_id
        )));
    }
    RunArtifacts::of(engine.store(), &engine.config().data_dir, holder.job.run_id)
        .map_err(|error| artifact_error(error).into())
}

/// The artifacts the request may read: the token's run's (a re-run's attempts share them), or
/// another run's of the same repository when the request names that run.
fn readable_run(
    engine: &Engine,
    holder: &TokenJob,
    requested: &str,
) -> Result<RunArtifacts, TwirpError> {
    let data_dir = &engine.config().data_dir;
    let own =
        RunArtifacts::of(engine.store(), data_dir, holder.job.run_id).map_err(artifact_error)?;
    if requested.is_empty() || requested == holder.claims.run_id {
        return Ok(own);
    }
    let run_id: RunId = requested.parse().map_err(|_| {
        TwirpError::invalid(format!(
            "field `workflow_run_backend_id`: `{requested}` is not a run id"
        ))
    })?;
    let other = RunArtifacts::of(engine.store(), data_dir, run_id).map_err(artifact_error)?;
    if other.family_dir == own.family_dir {
        return Ok(other);
    }
    let repository = |run_id: RunId| -> Result<String, TwirpError> {
        let run = engine
            .store()
            .run(run_id)
            .map_err(ApiError::from)?
            .ok_or_else(|| TwirpError::new(StatusCode::NOT_FOUND, format!("no run {run_id}")))?;
        Ok(run
            .details
            .get("repository")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string())
    };
    let mine = repository(holder.job.run_id)?;
    if !mine.is_empty() && mine == repository(run_id)? {
        return Ok(other);
    }
    Err(TwirpError::denied(format!(
        "run {run_id} belongs to another repository: a job of {mine} cannot read its artifacts"
    )))
}

fn signed_blob_url(base: &str, run_id: RunId, name: &str, token: &str) -> String {
    format!(
        "{base}{TOOLKIT_PREFIX}{BLOB_PATH}/{run_id}/{}?sig={}",
        percent_encode(name),
        percent_encode(token)
    )
}

/// The blob's file name and retention for `CreateArtifact`.
fn pending_of(name: &str, request: &Request) -> Result<PendingBlob, TwirpError> {
    let content_type = request
        .text("mime_type")?
        .filter(|text| !text.trim().is_empty())
        .unwrap_or_else(|| "application/zip".to_string());
    let zip = matches!(
        content_type.as_str(),
        "application/zip" | "application/x-zip-compressed" | "application/zip-compressed"
    );
    let file = if zip && !name.to_ascii_lowercase().ends_with(".zip") {
        format!("{name}.zip")
    } else {
        name.to_string()
    };
    let retention_days = match request.text("expires_at")? {
        None => None,
        Some(text) => {
            let expires: jiff::Timestamp = text.parse().map_err(|error| {
                TwirpError::invalid(format!(
                    "field `expires_at`: `{text}` is not an RFC 3339 time: {error}"
                ))
            })?;
            let left_us = expires.as_microsecond() - i64::try_from(now_us()).unwrap_or(i64::MAX);
            if left_us <= 0 {
                return Err(TwirpError::invalid(format!(
                    "field `expires_at`: {text} has passed"
                )));
            }
            let day_us = 24 * 3600 * 1_000_000i64;
            Some(u32::try_from((left_us + day_us - 1) / day_us).unwrap_or(u32::MAX))
        }
    };
    Ok(PendingBlob {
        file,
        content_type,
        retention_days,
    })
}

async fn create(
    engine: &Arc<Engine>,
    holder: &TokenJob,
    request: &Request,
    base: &str,
    token: &str,
) -> Result<Value, TwirpError> {
    let place = own_run(engine, holder, request, "CreateArtifact")?;
    let name = request.required("name")?;
    let pending = pending_of(&name, request)?;
    let upload = upload_for(place, holder, &name)?;
    blocking(move || upload.create(&pending))
        .await
        .map_err(|error| {
            if error.status == StatusCode::CONFLICT {
                TwirpError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "CreateArtifact: an artifact with the name `{name}` already exists on this workflow run (delete it first, or use overwrite: true)"
                    ),
                )
            } else {
                error.into()
            }
        })?;
    Ok(json!({
        "ok": true,
        "signed_upload_url": signed_blob_url(base, holder.job.run_id, &request.required("name")?, token),
    }))
}

async fn finalize(
    engine: &Arc<Engine>,
    holder: &TokenJob,
    request: &Request,
) -> Result<Value, TwirpError> {
    let place = own_run(engine, holder, request, "FinalizeArtifact")?;
    let name = request.required("name")?;
    let size = request.int64("size")?.unwrap_or(0);
    let hash = match request.text("hash")? {
        None => None,
        Some(text) => Some(
            text.strip_prefix("sha256:")
                .map(str::to_string)
                .ok_or_else(|| {
                    TwirpError::invalid(format!(
                        "field `hash`: expected `sha256:HEX`, got `{text}`"
                    ))
                })?,
        ),
    };
    let upload = upload_for(place, holder, &name)?;
    let job_key = holder.job.job_key.clone();
    let limit = engine.config().max_artifact_bytes;
    let manifest =
        blocking(move || upload.finalize(&job_key, size, hash.as_deref(), limit, now_us())).await?;
    tracing::info!(name = %manifest.name, size = manifest.size, "artifact stored (toolkit)");
    Ok(json!({
        "ok": true,
        "artifact_id": manifest.created_at_us.to_string(),
    }))
}

fn artifact_json(manifest: &ArtifactManifest) -> Value {
    let created = i64::try_from(manifest.created_at_us)
        .ok()
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
        .map(|time| time.to_string())
        .unwrap_or_default();
    let mut artifact = json!({
        "workflow_run_backend_id": manifest.run_id,
        "workflow_job_run_backend_id": manifest.job_key,
        "database_id": manifest.created_at_us.to_string(),
        "name": manifest.name,
        "size": manifest.size.to_string(),
        "created_at": created,
    });
    if let Some(digest) = blobs::digest_of(manifest) {
        artifact["digest"] = Value::String(digest);
    }
    artifact
}

async fn list(
    engine: &Arc<Engine>,
    holder: &TokenJob,
    request: &Request,
) -> Result<Value, TwirpError> {
    let requested = request.text("workflow_run_backend_id")?.unwrap_or_default();
    let place = readable_run(engine, holder, &requested)?;
    let name_filter = request.text("name_filter")?;
    let id_filter = request.int64("id_filter")?;
    let found = blocking(move || place.blobs()).await?;
    let artifacts: Vec<Value> = found
        .iter()
        .map(|(manifest, _)| manifest)
        .filter(|manifest| {
            name_filter
                .as_ref()
                .is_none_or(|name| &manifest.name == name)
        })
        .filter(|manifest| id_filter.is_none_or(|id| manifest.created_at_us == id))
        .map(artifact_json)
        .collect();
    Ok(json!({ "artifacts": artifacts }))
}

async fn signed_url(
    engine: &Arc<Engine>,
    holder: &TokenJob,
    request: &Request,
    base: &str,
    token: &str,
) -> Result<Value, TwirpError> {
    let requested = request.text("workflow_run_backend_id")?.unwrap_or_default();
    let place = readable_run(engine, holder, &requested)?;
    let name = request.required("name")?;
    let run_id = place.run_id;
    let check = place.clone();
    let wanted = name.clone();
    blocking(move || check.blob(&wanted)).await?;
    Ok(json!({ "signed_url": signed_blob_url(base, run_id, &name, token) }))
}

async fn delete(
    engine: &Arc<Engine>,
    holder: &TokenJob,
    request: &Request,
) -> Result<Value, TwirpError> {
    let place = own_run(engine, holder, request, "DeleteArtifact")?;
    let name = request.required("name")?;
    let manifest = blocking(move || place.delete(&name, now_us())).await?;
    tracing::info!(name = %manifest.name, "artifact deleted (toolkit)");
    Ok(json!({
        "ok": true,
        "artifact_id": manifest.created_at_us.to_string(),
    }))
}

/// An answer of the blob routes in Azure Blob Storage's shape.
#[derive(Debug)]
struct BlobError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl BlobError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> BlobError {
        BlobError {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<ApiError> for BlobError {
    fn from(error: ApiError) -> BlobError {
        let code = match error.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "AuthenticationFailed",
            StatusCode::NOT_FOUND => "BlobNotFound",
            StatusCode::PAYLOAD_TOO_LARGE => "RequestBodyTooLarge",
            StatusCode::BAD_REQUEST => "InvalidInput",
            _ => "InternalError",
        };
        BlobError::new(error.status, code, error.message)
    }
}

impl IntoResponse for BlobError {
    fn into_response(self) -> Response {
        let message = self
            .message
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{}</Code><Message>{message}</Message></Error>",
            self.code
        );
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        headers.insert("x-ms-error-code", HeaderValue::from_static(self.code));
        response
    }
}

#[derive(Debug, Deserialize)]
struct BlobQuery {
    #[serde(default)]
    sig: String,
    comp: Option<String>,
    blockid: Option<String>,
}

fn blob_auth(engine: &Engine, sig: &str) -> Result<TokenJob, BlobError> {
    authenticate(engine, Some(sig)).map_err(|_| {
        BlobError::new(
            StatusCode::FORBIDDEN,
            "AuthenticationFailed",
            "the signed URL's `sig` is missing, invalid or expired (its job no longer runs)",
        )
    })
}

/// `PUT …/artifactblob/{run_id}/{name}?sig=…[&comp=block&blockid=…|&comp=blocklist]`.
async fn upload_blob(
    State(engine): State<Arc<Engine>>,
    Path((run_id, name)): Path<(String, String)>,
    Query(query): Query<BlobQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, BlobError> {
    let holder = blob_auth(&engine, &query.sig)?;
    if run_id != holder.claims.run_id {
        return Err(BlobError::new(
            StatusCode::FORBIDDEN,
            "AuthorizationFailure",
            format!(
                "upload artifact `{name}`: the URL is for run {run_id}, the token for run {}",
                holder.claims.run_id
            ),
        ));
    }
    let place = RunArtifacts::of(engine.store(), &engine.config().data_dir, holder.job.run_id)
        .map_err(artifact_error)?;
    let upload = upload_for(place, &holder, &name)?;
    let limit = engine.config().max_artifact_bytes;
    match query.comp.as_deref() {
        Some("block") => {
            let block_id = query.blockid.unwrap_or_default();
            let task = upload.clone();
            let (path, others) = blocking(move || task.block_path(&block_id)).await?;
            let room = limit.saturating_sub(others);
            receive(body, &path, room, |size| {
                upload.too_large(others + size, limit)
            })
            .await?;
        }
        Some("blocklist") => {
            let bytes = axum::body::to_bytes(body, SMALL_BODY)
                .await
                .map_err(|error| {
                    BlobError::new(
                        StatusCode::BAD_REQUEST,
                        "InvalidInput",
                        format!("read the block list: {error}"),
                    )
                })?;
            let text = String::from_utf8_lossy(&bytes);
            let ids = blobs::parse_block_list(&text).map_err(|problem| {
                BlobError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidXmlDocument",
                    format!("the block list: {problem}"),
                )
            })?;
            blocking(move || upload.commit_blocks(&ids, limit)).await?;
        }
        None => {
            let blob_type = headers
                .get("x-ms-blob-type")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default();
            if blob_type != "BlockBlob" {
                return Err(BlobError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidHeaderValue",
                    format!(
                        "header `x-ms-blob-type`: only `BlockBlob` is taken, got `{blob_type}`"
                    ),
                ));
            }
            let task = upload.clone();
            let path = blocking(move || task.blob_path()).await?;
            receive(body, &path, limit, |size| upload.too_large(size, limit)).await?;
        }
        Some(other) => {
            return Err(BlobError::new(
                StatusCode::BAD_REQUEST,
                "InvalidQueryParameterValue",
                format!("query `comp`: `{other}` is not `block` or `blocklist`"),
            ));
        }
    }
    let now = jiff::Timestamp::now();
    let mut response = StatusCode::CREATED.into_response();
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"0x{:X}\"", now.as_microsecond())) {
        headers.insert(ETAG, etag);
    }
    if let Ok(modified) =
        HeaderValue::from_str(&now.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
    {
        headers.insert(LAST_MODIFIED, modified);
    }
    headers.insert(
        "x-ms-request-server-encrypted",
        HeaderValue::from_static("false"),
    );
    headers.insert("x-ms-version", HeaderValue::from_static("2024-08-04"));
    Ok(response)
}

/// Streams `body` into `path` (replacing it), refusing more than `room` bytes with the error
/// `too_large` makes of the size seen.
async fn receive(
    body: Body,
    path: &std::path::Path,
    room: u64,
    too_large: impl Fn(u64) -> crate::artifacts::ArtifactError,
) -> Result<u64, BlobError> {
    let io = |error: std::io::Error| {
        BlobError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            format!("write {}: {error}", path.display()),
        )
    };
    let file = tokio::fs::File::create(path).await.map_err(io)?;
    let mut file = tokio::io::BufWriter::with_capacity(1024 * 1024, file);
    let mut written = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| {
            BlobError::new(
                StatusCode::BAD_REQUEST,
                "InvalidInput",
                format!("read the upload: {error}"),
            )
        })?;
        written += chunk.len() as u64;
        if written > room {
            drop(file);
            let _ = tokio::fs::remove_file(path).await;
            return Err(artifact_error(too_large(written)).into());
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    file.get_ref().sync_data().await.map_err(io)?;
    Ok(written)
}

/// `GET …/artifactblob/{run_id}/{name}?sig=…`: the blob, for a token that may read the run.
async fn download_blob(
    State(engine): State<Arc<Engine>>,
    Path((run_id, name)): Path<(String, String)>,
    Query(query): Query<BlobQuery>,
) -> Result<Response, BlobError> {
    let holder = blob_auth(&engine, &query.sig)?;
    let place = readable_run(&engine, &holder, &run_id).map_err(|error| BlobError {
        status: error.status,
        code: if error.status == StatusCode::NOT_FOUND {
            "BlobNotFound"
        } else {
            "AuthorizationFailure"
        },
        message: error.msg,
    })?;
    let (_, info, path) = blocking(move || place.blob(&name)).await?;
    let mut response = send_file(path).await?;
    if let Ok(content_type) = HeaderValue::from_str(&info.content_type) {
        response.headers_mut().insert(CONTENT_TYPE, content_type);
    }
    Ok(response)
}

/// The upload of artifact `name` into `place` by the job holding the token's lease.
fn upload_for(place: RunArtifacts, holder: &TokenJob, name: &str) -> Result<BlobUpload, ApiError> {
    BlobUpload::new(
        place,
        &holder.claims.job_id,
        holder.claims.fencing_token,
        name,
    )
    .map_err(artifact_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_by_proto_or_json_name() {
        let request = Request(json!({
            "workflow_run_backend_id": "r",
            "workflowJobRunBackendId": "j",
            "size": "42",
            "id_filter": {"value": "7"},
            "name_filter": "dist",
            "hash": null,
        }));
        assert_eq!(
            request.text("workflow_run_backend_id").expect("text"),
            Some("r".into())
        );
        assert_eq!(
            request.text("workflow_job_run_backend_id").expect("text"),
            Some("j".into())
        );
        assert_eq!(request.int64("size").expect("int"), Some(42));
        assert_eq!(request.int64("id_filter").expect("int"), Some(7));
        assert_eq!(request.text("hash").expect("text"), None);
        assert!(request.required("name").is_err());
        assert!(Request(json!({"size": "x"})).int64("size").is_err());
    }

    #[test]
    fn zips_get_their_extension_and_retention_rounds_up() {
        let request = Request(json!({}));
        let pending = pending_of("dist", &request).expect("pending");
        assert_eq!(pending.file, "dist.zip");
        assert_eq!(pending.content_type, "application/zip");
        assert_eq!(pending.retention_days, None);
        let raw = Request(json!({"mime_type": "text/html"}));
        assert_eq!(
            pending_of("report.html", &raw).expect("raw").file,
            "report.html"
        );
        let soon = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(30);
        let request = Request(json!({"expires_at": soon.to_string()}));
        assert_eq!(
            pending_of("x", &request).expect("pending").retention_days,
            Some(2)
        );
        let past = Request(json!({"expires_at": "2001-01-01T00:00:00Z"}));
        assert!(pending_of("x", &past).is_err());
    }
}
