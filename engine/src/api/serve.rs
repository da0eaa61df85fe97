//! The engine's HTTP listener: accepts connections and serves the router on each with hyper's
//! connection builder, under limits that keep the API answering when clients misbehave. It must
//! not route or know any handler: `api/mod.rs` gives it a finished `Router`.
//!
//! Why hyper's HTTP/1 connection builder (with hyper-util's Tokio glue) and not only tower layers: a header-read timeout and per-connection
//! bookkeeping live below the router (a tower layer sees a request only once its headers have
//! arrived, which is exactly what a slowloris never lets happen). Per-request budgets are
//! middleware over the router. The limits:
//!
//! - **Header read timeout** ([`HEADER_READ_TIMEOUT`]): a client must send a request's headers
//!   within it. hyper arms it whenever an HTTP/1 connection waits for a request head, so it is the
//!   **idle timeout** of keep-alive connections too. Bodies and responses are not timed: long
//!   polls, SSE log follow and artifact streams keep working.
//! - **Connections** ([`MAX_CONNECTIONS`] overall, [`MAX_CONNECTIONS_PER_IP`] per client IP): past
//!   a cap the oldest connection of that scope that never completed a request head (a half-sent
//!   request) is closed to make room; when there is none, the new connection is closed. So
//!   half-sent requests can never lock out a client that sends whole ones.
//! - **Request bodies** ([`body_limit`]): small for JSON calls, large for log chunks, artifacts and
//!   caches; past it the request gets 413.
//! - **In-flight requests** ([`MAX_IN_FLIGHT`]): over it a request gets 503 at once. Runner
//!   heartbeats have their own budget ([`MAX_HEARTBEATS_IN_FLIGHT`]) so an API flood cannot expire
//!   a healthy lease; long polls (`/runner/next`) and log reads (which may follow a job) are not
//!   counted, as they wait by design.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1::Builder;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// How long a client may take to send a request's headers (and how long a keep-alive connection
/// may sit idle).
pub(super) const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections, overall.
pub(super) const MAX_CONNECTIONS: usize = 1_024;
/// Open connections from one client IP.
pub(super) const MAX_CONNECTIONS_PER_IP: usize = 256;
/// Requests being handled at once (heartbeats, long polls and log reads aside).
pub(super) const MAX_IN_FLIGHT: usize = 512;
/// Runner heartbeats being handled at once.
pub(super) const MAX_HEARTBEATS_IN_FLIGHT: usize = 128;
/// Body limit of JSON calls (admin, runner protocol, settings).
pub(super) const SMALL_BODY: u64 = 1024 * 1024;
/// Body limit of log chunks.
pub(super) const LOG_BODY: u64 = 16 * 1024 * 1024;
/// Body limit of artifact and cache uploads (streamed to disk).
pub(super) const UPLOAD_BODY: u64 = 10 * 1024 * 1024 * 1024;

/// The body limit of a request to `path`.
pub(super) fn body_limit(path: &str) -> u64 {
    // Artifact and cache files: `PUT …/artifacts/{name}/files/{path}`, `…/caches/{key}/files/…`.
    if path.starts_with("/api/v1/jobs/") && path.contains("/files/") {
        UPLOAD_BODY
    } else if path.starts_with("/api/v1/toolkit/_apis/artifactcache/caches/") {
        // A range of a cache archive (`PATCH`); the commit next to it reads at most 64 KiB.
        UPLOAD_BODY
    } else if path.starts_with("/api/v1/jobs/") && path.ends_with("/logs") {
        LOG_BODY
    } else {
        SMALL_BODY
    }
}

fn is_heartbeat(path: &str) -> bool {
    path.starts_with("/api/v1/jobs/") && path.ends_with("/heartbeat")
}

/// Requests that wait by design (long poll, log follow): not counted in the in-flight budget. (A
/// streamed response body holds no permit anyway: the permit ends when the handler answers.)
fn waits_by_design(request: &Request) -> bool {
    let path = request.uri().path();
    path == "/api/v1/runner/next"
        || (request.method() == axum::http::Method::GET && path.ends_with("/logs"))
}

/// Adds the body and in-flight limits to `app`.
pub(super) fn with_request_limits(app: Router) -> Router {
    let budgets = Arc::new(Budgets {
        general: Semaphore::new(MAX_IN_FLIGHT),
        heartbeats: Semaphore::new(MAX_HEARTBEATS_IN_FLIGHT),
    });
    app.layer(axum::middleware::from_fn(move |request, next| {
        let budgets = budgets.clone();
        limit_request(budgets, request, next)
    }))
    // The extractors' own cap (2 MB) would undercut the per-route limits above.
    .layer(axum::extract::DefaultBodyLimit::disable())
}

struct Budgets {
    general: Semaphore,
    heartbeats: Semaphore,
}

async fn limit_request(budgets: Arc<Budgets>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let limit = body_limit(&path);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return too_large(&path, limit);
    }
    let permit = if is_heartbeat(&path) {
        match budgets.heartbeats.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_) => return busy("heartbeats", MAX_HEARTBEATS_IN_FLIGHT),
        }
    } else if waits_by_design(&request) {
        None
    } else {
        match budgets.general.try_acquire() {
            Ok(permit) => Some(permit),
            Err(_) => return busy("requests", MAX_IN_FLIGHT),
        }
    };
    let request = request.map(|body| {
        Body::new(http_body_util::Limited::new(
            body,
            usize::try_from(limit).unwrap_or(usize::MAX),
        ))
    });
    let response = next.run(request).await;
    drop(permit);
    response
}

fn too_large(path: &str, limit: u64) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        axum::Json(serde_json::json!({
            "error": format!("the request body is larger than the limit of {limit} bytes for `{path}`"),
        })),
    )
        .into_response()
}

fn busy(what: &str, limit: usize) -> Response {
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({
            "error": format!("the engine is handling {limit} {what} already (its limit); retry shortly"),
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}

/// One open connection, for the caps.
struct Connection {
    id: u64,
    ip: IpAddr,
    /// Whether a request head arrived on it (then it is never evicted for a newcomer).
    served: AtomicBool,
    close: CancellationToken,
}

#[derive(Default)]
struct Connections {
    all: VecDeque<Arc<Connection>>,
    per_ip: HashMap<IpAddr, usize>,
}

impl Connections {
    /// Makes room for a connection from `ip`; false when there is none to make.
    fn admit(&mut self, ip: IpAddr) -> bool {
        if self.per_ip.get(&ip).copied().unwrap_or(0) >= MAX_CONNECTIONS_PER_IP
            && !self.evict(|c| c.ip == ip)
        {
            return false;
        }
        if self.all.len() >= MAX_CONNECTIONS && !self.evict(|_| true) {
            return false;
        }
        true
    }

    /// Closes the oldest half-sent connection matching `scope`.
    fn evict(&mut self, scope: impl Fn(&Connection) -> bool) -> bool {
        let found = self
            .all
            .iter()
            .position(|c| scope(c) && !c.served.load(Ordering::Relaxed));
        let Some(at) = found else {
            return false;
        };
        if let Some(connection) = self.all.remove(at) {
            connection.close.cancel();
            self.forget_ip(connection.ip);
        }
        true
    }

    fn add(&mut self, connection: Arc<Connection>) {
        *self.per_ip.entry(connection.ip).or_default() += 1;
        self.all.push_back(connection);
    }

    fn remove(&mut self, id: u64) {
        if let Some(at) = self.all.iter().position(|c| c.id == id)
            && let Some(connection) = self.all.remove(at)
        {
            self.forget_ip(connection.ip);
        }
    }

    fn forget_ip(&mut self, ip: IpAddr) {
        if let Some(count) = self.per_ip.get_mut(&ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }
}

/// Accepts connections on `listener` and serves `app` on each until `stop`; then waits for open
/// requests to end (the caller bounds that wait).
pub(super) async fn run(
    listener: TcpListener,
    app: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let mut builder = Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(Mutex::new(Connections::default()));
    let next_id = AtomicU64::new(0);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a little, keep serving.
                    tracing::warn!(%error, "failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        let connection = Arc::new(Connection {
            id: next_id.fetch_add(1, Ordering::Relaxed),
            ip: peer.ip(),
            served: AtomicBool::new(false),
            close: CancellationToken::new(),
        });
        {
            let Ok(mut open) = connections.lock() else {
                break;
            };
            if !open.admit(peer.ip()) {
                tracing::warn!(%peer, "connection refused: too many open connections");
                continue;
            }
            open.add(connection.clone());
        }
        let _ = stream.set_nodelay(true);
        let served = connection.clone();
        let app = app.clone();
        let service = tower::ServiceBuilder::new()
            .map_request(move |request: Request<hyper::body::Incoming>| {
                served.served.store(true, Ordering::Relaxed);
                request
            })
            .service(app);
        let watched = graceful.watch(
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)),
        );
        let connections = connections.clone();
        tokio::spawn(async move {
            tokio::select! {
                result = watched => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                }
                _ = connection.close.cancelled() => {
                    tracing::debug!(%peer, "half-sent connection closed to make room");
                }
            }
            if let Ok(mut open) = connections.lock() {
                open.remove(connection.id);
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
