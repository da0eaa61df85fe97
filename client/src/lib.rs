//! The one typed HTTP client of the engine: the runner protocol (one method per endpoint) and
//! the read and admin API the CLI uses, speaking only `protocol` types.
//!
//! A client may be given several URLs of one engine (replicas on one database, `engines.rs`):
//! each call goes to the one that answered last and fails over to the next.
//!
//! Timeouts are per phase (connect, then each read), never a whole-request `timeout()`: the long
//! poll legitimately waits. Calls are retried with backoff on network errors and 5xx answers, up
//! to `RetryPolicy::max_elapsed`; callers that must outlast an engine restart loop on top.
//!
//! **Architecture Invariant:** the only code that speaks the engine's HTTP API as a client; it
//! knows the `protocol` types and nothing of executing jobs, the store or `deploy`.

mod actions;
mod api;
mod engines;

use std::sync::Arc;
use std::time::Duration;

pub use engines::parse_engine_urls;

use protocol::wire::{
    DeploymentProgressRequest, DeploymentProgressResponse, ErrorBody, EventsRequest, FinishRequest,
    HeartbeatRequest, HeartbeatResponse, Lease, LogChunk, LogsRequest, LogsResponse, NextRequest,
    RegisterRequest, RegisterResponse, SourceHeader, SourceRequest,
};
use protocol::{JobEvent, JobResult, PROTOCOL_VERSION};
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Why a call failed. Messages read after "failed to …".
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The engine could not be reached, or the connection broke before an answer came.
    #[error("reach the engine at {url}: {message}")]
    Network {
        /// The URL that was called.
        url: String,
        /// The network error with its causes.
        message: String,
        /// The connection was never made, so the engine cannot have seen the request (a call
        /// that must not run twice may still go to another URL).
        unsent: bool,
    },
    /// The engine answered with a status other than 2xx.
    #[error("call {url}: the engine answered {status}: {message}")]
    Status {
        /// The URL that was called.
        url: String,
        /// The HTTP status code, e.g. 409.
        status: u16,
        /// The engine's `ErrorBody` message (or the raw body when it is not one).
        message: String,
    },
    /// The engine's answer was not the JSON (or source stream) the call expects.
    #[error("decode the engine's answer from {url}: {message}")]
    Decode {
        /// The URL that was called.
        url: String,
        /// What did not decode.
        message: String,
    },
    /// The HTTP client could not be built (`reqwest` refused its settings, or an engine URL
    /// is not one).
    #[error("build the HTTP client: {0}")]
    Setup(String),
    /// The client was given several engine URLs and none answered: each URL with why.
    #[error("reach any of the engines: {}", describe_tried(tried))]
    Unreachable {
        /// Each engine URL tried, in order, with why it was given up.
        tried: Vec<(String, String)>,
    },
}

/// `http://a: Connection refused; http://b: answered 503: …`.
fn describe_tried(tried: &[(String, String)]) -> String {
    tried
        .iter()
        .map(|(url, why)| format!("{url}: {why}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ClientError {
    /// Worth trying again: the engine could not be reached or failed on its side.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Network { .. } | ClientError::Unreachable { .. } => true,
            ClientError::Status { status, .. } => *status >= 500,
            ClientError::Decode { .. } | ClientError::Setup(_) => false,
        }
    }

    /// The engine refused because this runner no longer holds the job's lease (409), or never
    /// did (403, 404): reports into the job must stop.
    pub fn is_lease_gone(&self) -> bool {
        matches!(
            self,
            ClientError::Status {
                status: 403 | 404 | 409,
                ..
            }
        )
    }

    /// The credential (or registration token) was refused.
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, ClientError::Status { status: 401, .. })
    }
}

/// How long a call keeps retrying network errors and 5xx answers.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The wait before the first retry; each later wait doubles it.
    pub first_delay: Duration,
    /// The longest wait between two tries.
    pub max_delay: Duration,
    /// How long after the first try a call stops retrying and returns its last error.
    pub max_elapsed: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(2),
            max_elapsed: Duration::from_secs(10),
        }
    }
}

/// A client for one engine (at one URL or several), optionally authenticated as one runner.
/// Clones share which URL is current.
#[derive(Debug, Clone)]
pub struct EngineClient {
    engines: Arc<engines::Engines>,
    credential: Option<String>,
    /// Sent on admin calls (`api.rs`); runners have none.
    admin_token: Option<String>,
    /// For every call but the long poll: reads must come quickly.
    short: reqwest::Client,
    /// For the long poll: a read may wait as long as the poll plus a margin.
    long: reqwest::Client,
    retry: RetryPolicy,
}

/// Longest wait the engine may hold a `next` call; reads allow this plus a margin.
const LONG_POLL_READ_MARGIN: Duration = Duration::from_secs(15);

impl EngineClient {
    /// A client for the engine at `base_url` (`http://host:port`, or several such URLs separated
    /// by commas: `parse_engine_urls`), with the runner credential when there is one, whose long
    /// polls wait at most `long_poll`.
    pub fn new(
        base_url: &str,
        credential: Option<String>,
        long_poll: Duration,
    ) -> Result<EngineClient, ClientError> {
        let build = |read_timeout: Duration| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .read_timeout(read_timeout)
                // Below the engine's 10 s idle timeout, so a pooled connection is not reused
                // just as the engine closes it.
                .pool_idle_timeout(Duration::from_secs(5))
                .build()
                .map_err(|error| ClientError::Setup(error.to_string()))
        };
        let urls = parse_engine_urls(base_url).map_err(ClientError::Setup)?;
        Ok(EngineClient {
            engines: Arc::new(engines::Engines::new(urls)),
            credential,
            admin_token: None,
            short: build(Duration::from_secs(30))?,
            long: build(long_poll + LONG_POLL_READ_MARGIN)?,
            retry: RetryPolicy::default(),
        })
    }

    /// The same client, retrying calls as `retry` says instead of the default policy.
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> EngineClient {
        self.retry = retry;
        self
    }

    /// The engine's base URL calls go to now (the one that answered last, of those given to
    /// `new`), without a trailing `/` (`http://host:port`).
    pub fn base_url(&self) -> &str {
        self.engines.current()
    }

    /// Exchanges a one-time registration token for a runner id and credential.
    pub async fn register(
        &self,
        token: &str,
        name: &str,
        labels: &[String],
        capacity: u32,
    ) -> Result<RegisterResponse, ClientError> {
        let body = RegisterRequest {
            protocol_version: PROTOCOL_VERSION,
            token: token.to_string(),
            name: name.to_string(),
            labels: labels.to_vec(),
            capacity,
        };
        let answer = self
            .post(&self.short, "/api/v1/runners/register", &body)
            .await?;
        self.required(answer, "/api/v1/runners/register")
    }

    /// Waits up to `wait` for a job; `None` when the engine had none (204). Not retried: the
    /// agent's loop polls again.
    pub async fn next(&self, wait: Duration) -> Result<Option<Lease>, ClientError> {
        let body = NextRequest {
            protocol_version: PROTOCOL_VERSION,
            wait_ms: Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
        };
        self.post_once(&self.long, "/api/v1/runner/next", &body)
            .await
    }

    /// Renews the lease; the answer says whether to cancel the job.
    pub async fn heartbeat(
        &self,
        job_id: &str,
        fencing_token: u64,
    ) -> Result<HeartbeatResponse, ClientError> {
        let path = format!("/api/v1/jobs/{job_id}/heartbeat");
        let body = HeartbeatRequest {
            protocol_version: PROTOCOL_VERSION,
            fencing_token,
        };
        let answer = self.post(&self.short, &path, &body).await?;
        self.required(answer, &path)
    }

    /// Sends log chunks (a chunk the engine stored already is ignored there).
    pub async fn send_logs(
        &self,
        job_id: &str,
        fencing_token: u64,
        chunks: Vec<LogChunk>,
    ) -> Result<LogsResponse, ClientError> {
        let path = format!("/api/v1/jobs/{job_id}/logs");
        let body = LogsRequest {
            protocol_version: PROTOCOL_VERSION,
            fencing_token,
            chunks,
        };
        let answer = self.post(&self.short, &path, &body).await?;
        self.required(answer, &path)
    }

    /// Sends step started / finished events.
    pub async fn send_events(
        &self,
        job_id: &str,
        fencing_token: u64,
        events: Vec<JobEvent>,
    ) -> Result<(), ClientError> {
        let path = format!("/api/v1/jobs/{job_id}/events");
        let body = EventsRequest {
            protocol_version: PROTOCOL_VERSION,
            fencing_token,
            events,
        };
        self.post::<_, serde_json::Value>(&self.short, &path, &body)
            .await
            .map(|_| ())
    }

    /// Reports the job's result; the lease ends.
    pub async fn finish(
        &self,
        job_id: &str,
        fencing_token: u64,
        result: JobResult,
    ) -> Result<(), ClientError> {
        let path = format!("/api/v1/jobs/{job_id}/finish");
        let body = FinishRequest {
            protocol_version: PROTOCOL_VERSION,
            fencing_token,
            result,
        };
        self.post::<_, serde_json::Value>(&self.short, &path, &body)
            .await
            .map(|_| ())
    }

    /// Reports a deployment job's phases and, with `awaiting_approval`, asks for the decision
    /// on that canary approval. Not retried: the caller reports again at the next phase or poll.
    pub async fn deployment_progress(
        &self,
        job_id: &str,
        fencing_token: u64,
        deployment_id: &str,
        phases: impl IntoIterator<Item = impl Into<protocol::PhaseRecord>>,
        awaiting_approval: Option<usize>,
    ) -> Result<DeploymentProgressResponse, ClientError> {
        let path = format!("/api/v1/jobs/{job_id}/deployment");
        let body = DeploymentProgressRequest {
            protocol_version: PROTOCOL_VERSION,
            fencing_token,
            deployment_id: deployment_id.to_string(),
            phases: phases.into_iter().map(Into::into).collect(),
            awaiting_approval,
        };
        let answer = self.post_once(&self.short, &path, &body).await?;
        Ok(answer.unwrap_or(DeploymentProgressResponse { approval: None }))
    }

    /// Asks for the job's source (`POST /api/v1/jobs/{id}/source`) and reads the header line; the
    /// packfile follows through [`SourceStream::next_chunk`]. Retried like other calls until the
    /// answer starts; a transfer cut off half-way is the caller's to retry.
    pub async fn fetch_source(
        &self,
        job_id: &str,
        fencing_token: u64,
    ) -> Result<SourceStream, ClientError> {
        let path = format!("/api/v1/jobs/{job_id}/source");
        let body = SourceRequest {
            protocol_version: PROTOCOL_VERSION,
            fencing_token,
        };
        let started = tokio::time::Instant::now();
        let mut delay = self.retry.first_delay;
        let (url, response) = loop {
            let answer = self
                .on_engines(|base| {
                    let url = format!("{base}{path}");
                    let body = &body;
                    async move {
                        let response = self.source_response(&url, body).await?;
                        Ok((url, response))
                    }
                })
                .await;
            match answer {
                Err(error)
                    if error.is_retryable()
                        && started.elapsed() + delay < self.retry.max_elapsed =>
                {
                    tracing::debug!(%error, "retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.retry.max_delay);
                }
                outcome => break outcome?,
            }
        };
        let mut download = SourceDownload {
            url,
            response,
            pending: Vec::new(),
        };
        let mut line = Vec::new();
        loop {
            if let Some(end) = download.pending.iter().position(|byte| *byte == b'\n') {
                line.extend(download.pending.drain(..=end));
                line.pop();
                break;
            }
            line.append(&mut download.pending);
            if line.len() > MAX_SOURCE_HEADER_BYTES {
                return Err(download.decode_error("the header line is too long".to_string()));
            }
            match download.read().await? {
                Some(chunk) => download.pending = chunk,
                None => {
                    return Err(
                        download.decode_error("the answer ended inside the header".to_string())
                    );
                }
            }
        }
        let header: SourceHeader = serde_json::from_slice(&line)
            .map_err(|error| download.decode_error(format!("the header: {error}")))?;
        Ok(download.with_header(header))
    }

    /// Sends a runner's request with its credential; a transport failure is `Network`.
    async fn send_as_runner(
        &self,
        request: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<reqwest::Response, ClientError> {
        let request = match &self.credential {
            Some(credential) => request.bearer_auth(credential),
            None => request,
        };
        request.send().await.map_err(|error| ClientError::Network {
            unsent: error.is_connect(),
            url: url.to_string(),
            message: error_chain(&error),
        })
    }

    async fn source_response(
        &self,
        url: &str,
        body: &SourceRequest,
    ) -> Result<reqwest::Response, ClientError> {
        // The long-poll client: the engine may compress deltas a while before the pack flows.
        let request = self.long.post(url).json(body);
        let response = self.send_as_runner(request, url).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.bytes().await.unwrap_or_default();
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|body| body.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        Err(ClientError::Status {
            url: url.to_string(),
            status: status.as_u16(),
            message,
        })
    }

    /// `post_once`, retried per the policy while the error is retryable.
    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &B,
    ) -> Result<Option<R>, ClientError> {
        let started = tokio::time::Instant::now();
        let mut delay = self.retry.first_delay;
        loop {
            match self.post_once(client, path, body).await {
                Err(error)
                    if error.is_retryable()
                        && started.elapsed() + delay < self.retry.max_elapsed =>
                {
                    tracing::debug!(%error, "retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.retry.max_delay);
                }
                outcome => return outcome,
            }
        }
    }

    /// One POST of a JSON body (to the next engine URL when the current one is down); `None`
    /// for 204 No Content.
    async fn post_once<B: Serialize, R: DeserializeOwned>(
        &self,
        client: &reqwest::Client,
        path: &str,
        body: &B,
    ) -> Result<Option<R>, ClientError> {
        self.on_engines(|base| async move { self.post_to(&base, client, path, body).await })
            .await
    }

    /// One POST of a JSON body to the engine at `base`; `None` for 204 No Content.
    async fn post_to<B: Serialize, R: DeserializeOwned>(
        &self,
        base: &str,
        client: &reqwest::Client,
        path: &str,
        body: &B,
    ) -> Result<Option<R>, ClientError> {
        let url = format!("{base}{path}");
        let request = client.post(&url).json(body);
        let response = self.send_as_runner(request, &url).await?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ClientError::Network {
                unsent: false,
                url: url.clone(),
                message: error_chain(&error),
            })?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|body| body.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(ClientError::Status {
                url,
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|error| ClientError::Decode {
                url,
                message: error.to_string(),
            })
    }

    fn required<R>(&self, answer: Option<R>, path: &str) -> Result<R, ClientError> {
        answer.ok_or_else(|| ClientError::Decode {
            url: format!("{}{path}", self.base_url()),
            message: "empty answer where a body was expected".to_string(),
        })
    }
}

/// The longest header line a source answer may start with (the refs of many tags).
const MAX_SOURCE_HEADER_BYTES: usize = 16 * 1024 * 1024;

/// A source answer being read: the header, then the packfile in chunks as they arrive.
#[derive(Debug)]
pub struct SourceDownload {
    url: String,
    response: reqwest::Response,
    /// Bytes read past the header line, handed out first.
    pending: Vec<u8>,
}

/// A started source answer with its header read.
#[derive(Debug)]
pub struct SourceStream {
    /// The answer's first line: the job's commit and the refs to create beside the pack.
    pub header: SourceHeader,
    download: SourceDownload,
}

impl SourceDownload {
    fn with_header(self, header: SourceHeader) -> SourceStream {
        SourceStream {
            header,
            download: self,
        }
    }

    async fn read(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        match self.response.chunk().await {
            Ok(chunk) => Ok(chunk.map(|chunk| chunk.to_vec())),
            Err(error) => Err(ClientError::Network {
                unsent: false,
                url: self.url.clone(),
                message: error_chain(&error),
            }),
        }
    }

    fn decode_error(&self, message: String) -> ClientError {
        ClientError::Decode {
            url: self.url.clone(),
            message,
        }
    }
}

impl SourceStream {
    /// The next piece of the packfile; `None` once the answer ended (a cut-off answer is an
    /// error, never a silent end).
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        if !self.download.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.download.pending)));
        }
        self.download.read().await
    }
}

/// The error and its causes on one line (reqwest hides the useful part in `source()`).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Artifacts kept by the engine (`engine::artifacts`): files stream from and to disk, never whole
/// in memory; every call carries the lease's fencing token, so only the lease holder gets in.
impl EngineClient {
    /// Uploads one file of an artifact, announcing its SHA-256 (the engine refuses a mismatch).
    /// Retried on network errors and 5xx answers like every call (the engine's staging copy is
    /// simply written again).
    pub async fn upload_artifact_file(
        &self,
        job_id: &str,
        fencing_token: u64,
        name: &str,
        path_in_artifact: &str,
        source: &std::path::Path,
        sha256: &str,
    ) -> Result<(), ClientError> {
        let path = file_path(job_id, "artifacts", name, path_in_artifact, None)?;
        self.put_file(&path, fencing_token, source, sha256).await
    }

    /// Uploads one file of a cache entry (see `upload_artifact_file`).
    pub async fn upload_cache_file(
        &self,
        job_id: &str,
        fencing_token: u64,
        key: &str,
        path_in_entry: &str,
        source: &std::path::Path,
        sha256: &str,
    ) -> Result<(), ClientError> {
        let path = file_path(job_id, "caches", key, path_in_entry, None)?;
        self.put_file(&path, fencing_token, source, sha256).await
    }

    /// Makes the files uploaded before the cache entry `key`; `None` when the key exists (409).
    pub async fn commit_cache(
        &self,
        job_id: &str,
        key: &str,
        request: &protocol::artifacts::CommitCacheRequest,
    ) -> Result<Option<protocol::artifacts::CacheEntry>, ClientError> {
        let path = path_with_segments(&["api", "v1", "jobs", job_id, "caches", key], None)?;
        match self.post(&self.short, &path, request).await {
            Ok(answer) => self.required(answer, &path).map(Some),
            Err(ClientError::Status { status: 409, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The cache entry a restore gets.
    pub async fn cache_lookup(
        &self,
        job_id: &str,
        request: &protocol::artifacts::CacheLookupRequest,
    ) -> Result<protocol::artifacts::CacheLookup, ClientError> {
        let path = format!("/api/v1/jobs/{job_id}/caches/lookup");
        let answer = self.post(&self.short, &path, request).await?;
        self.required(answer, &path)
    }

    /// Downloads one file of the cache entry `key` of `scope` into `target`; the bytes written.
    pub async fn download_cache_file(
        &self,
        job_id: &str,
        fencing_token: u64,
        scope: &str,
        key: &str,
        path_in_entry: &str,
        target: &std::path::Path,
    ) -> Result<u64, ClientError> {
        let path = file_path(job_id, "caches", key, path_in_entry, Some(("scope", scope)))?;
        self.get_file(&path, Some(fencing_token), target).await
    }

    async fn put_file(
        &self,
        path: &str,
        fencing_token: u64,
        source: &std::path::Path,
        sha256: &str,
    ) -> Result<(), ClientError> {
        let started = tokio::time::Instant::now();
        let mut delay = self.retry.first_delay;
        loop {
            let attempt = self
                .on_engines(|base| async move {
                    self.put_file_to(&base, path, fencing_token, source, sha256)
                        .await
                })
                .await;
            match attempt {
                Err(error)
                    if error.is_retryable()
                        && started.elapsed() + delay < self.retry.max_elapsed =>
                {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.retry.max_delay);
                }
                other => return other,
            }
        }
    }

    /// One upload of `source` to the engine at `base`.
    async fn put_file_to(
        &self,
        base: &str,
        path: &str,
        fencing_token: u64,
        source: &std::path::Path,
        sha256: &str,
    ) -> Result<(), ClientError> {
        let url = engine_url(base, path)?;
        let file = tokio::fs::File::open(source)
            .await
            .map_err(|error| ClientError::Setup(format!("open {}: {error}", source.display())))?;
        let length = file
            .metadata()
            .await
            .map_err(|error| ClientError::Setup(format!("read {}: {error}", source.display())))?
            .len();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            file,
            256 * 1024,
        ));
        let request = self
            .short
            .put(url.clone())
            .header(protocol::artifacts::FENCING_TOKEN_HEADER, fencing_token)
            .header(protocol::artifacts::SHA256_HEADER, sha256)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body);
        let response = self.send_as_runner(request, url.as_str()).await?;
        check_status(url.as_str(), response).await.map(|_| ())
    }

    /// Makes the files uploaded before the artifact `name`.
    pub async fn commit_artifact(
        &self,
        job_id: &str,
        name: &str,
        request: &protocol::artifacts::CommitArtifactRequest,
    ) -> Result<protocol::artifacts::ArtifactManifest, ClientError> {
        let path = path_with_segments(&["api", "v1", "jobs", job_id, "artifacts", name], None)?;
        let answer = self.post(&self.short, &path, request).await?;
        self.required(answer, &path)
    }

    /// The artifacts the job may download.
    pub async fn list_artifacts(
        &self,
        job_id: &str,
        fencing_token: u64,
    ) -> Result<protocol::artifacts::ArtifactList, ClientError> {
        let path = format!("/api/v1/jobs/{job_id}/artifacts");
        let body = protocol::artifacts::ListArtifactsRequest {
            protocol_version: PROTOCOL_VERSION,
            fencing_token,
        };
        let answer = self.post(&self.short, &path, &body).await?;
        self.required(answer, &path)
    }

    /// Downloads one file of an artifact into `target` (its parent directories created);
    /// returns the bytes written.
    pub async fn download_artifact_file(
        &self,
        job_id: &str,
        fencing_token: u64,
        name: &str,
        path_in_artifact: &str,
        target: &std::path::Path,
    ) -> Result<u64, ClientError> {
        let path = file_path(job_id, "artifacts", name, path_in_artifact, None)?;
        self.get_file(&path, Some(fencing_token), target).await
    }

    /// GETs `path` into `target` (from the next engine URL, from the start, when the current
    /// one fails); `fencing_token` for a lease holder's call, `None` for a read.
    async fn get_file(
        &self,
        path: &str,
        fencing_token: Option<u64>,
        target: &std::path::Path,
    ) -> Result<u64, ClientError> {
        self.on_engines(|base| async move {
            self.get_file_from(&base, path, fencing_token, target).await
        })
        .await
    }

    async fn get_file_from(
        &self,
        base: &str,
        path: &str,
        fencing_token: Option<u64>,
        target: &std::path::Path,
    ) -> Result<u64, ClientError> {
        use tokio::io::AsyncWriteExt;
        let url = engine_url(base, path)?;
        let mut request = self.short.get(url.clone());
        if let Some(fencing_token) = fencing_token {
            request = request.header(protocol::artifacts::FENCING_TOKEN_HEADER, fencing_token);
        }
        if let Some(credential) = &self.credential {
            request = request.bearer_auth(credential);
        } else if let Some(token) = &self.admin_token {
            // A person's download (`slipway artifacts --download`): their user token.
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|error| ClientError::Network {
            unsent: error.is_connect(),
            url: url.to_string(),
            message: error_chain(&error),
        })?;
        let mut response = check_status(url.as_str(), response).await?;
        let local_error = |error: std::io::Error| {
            ClientError::Setup(format!("write {}: {error}", target.display()))
        };
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(local_error)?;
        }
        let mut file = tokio::fs::File::create(target).await.map_err(local_error)?;
        let mut written = 0u64;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| ClientError::Network {
                unsent: false,
                url: url.to_string(),
                message: error_chain(&error),
            })?
        {
            file.write_all(&chunk).await.map_err(local_error)?;
            written += chunk.len() as u64;
        }
        file.flush().await.map_err(local_error)?;
        Ok(written)
    }
}

/// `/api/v1/jobs/{job_id}/{kind}/{name}/files/{path…}` (and `query`), each segment
/// percent-encoded.
fn file_path(
    job_id: &str,
    kind: &str,
    name: &str,
    path_in_artifact: &str,
    query: Option<(&str, &str)>,
) -> Result<String, ClientError> {
    let mut segments = vec!["api", "v1", "jobs", job_id, kind, name, "files"];
    segments.extend(path_in_artifact.split('/').filter(|part| !part.is_empty()));
    path_with_segments(&segments, query)
}

/// `/seg/seg/…` with each segment percent-encoded (artifact names may hold spaces or `#`), and
/// `?name=value` when a query pair is given: the part of a URL after an engine's base URL.
fn path_with_segments(
    segments: &[&str],
    query: Option<(&str, &str)>,
) -> Result<String, ClientError> {
    // Any base does: only the path and query it is given are kept.
    let mut url = reqwest::Url::parse("http://engine.invalid/")
        .map_err(|error| ClientError::Setup(format!("build a URL path: {error}")))?;
    if let Ok(mut path) = url.path_segments_mut() {
        path.clear();
        for segment in segments {
            path.push(segment);
        }
    }
    if let Some((name, value)) = query {
        url.query_pairs_mut().append_pair(name, value);
    }
    let mut path = url.path().to_string();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    Ok(path)
}

/// `base` (an engine URL, perhaps with a path of its own) followed by `path`, parsed.
fn engine_url(base: &str, path: &str) -> Result<reqwest::Url, ClientError> {
    reqwest::Url::parse(&format!("{base}{path}"))
        .map_err(|error| ClientError::Setup(format!("engine URL {base}{path}: {error}")))
}

/// The response when it succeeded; else the engine's error message as a `ClientError`.
async fn check_status(
    url: &str,
    response: reqwest::Response,
) -> Result<reqwest::Response, ClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let bytes = response.bytes().await.unwrap_or_default();
    let message = serde_json::from_slice::<ErrorBody>(&bytes)
        .map(|body| body.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
    Err(ClientError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        message,
    })
}

#[cfg(test)]
mod path_tests {
    use super::*;

    #[test]
    fn file_paths_encode_each_segment_and_the_query() {
        let path = file_path(
            "j1",
            "caches",
            "key #1",
            "dir/a b.txt",
            Some(("scope", "main/x")),
        )
        .unwrap();
        assert_eq!(
            path,
            "/api/v1/jobs/j1/caches/key%20%231/files/dir/a%20b.txt?scope=main%2Fx"
        );
        let url = engine_url("http://127.0.0.1:7766/prefix", &path).unwrap();
        assert!(
            url.as_str()
                .starts_with("http://127.0.0.1:7766/prefix/api/v1/")
        );
    }
}
