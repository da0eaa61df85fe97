//! The engine's HTTP API (axum): the runner protocol under `/api/v1/runners/…`,
//! `/api/v1/runner/…` and `/api/v1/jobs/…`, and the read API the CLI uses under `/api/v1/runs…`.
//! `docs/api.md` documents every endpoint, body and status code.
//!
//! **Architecture Invariant:** this is the only HTTP server in the engine. Handlers translate
//! HTTP to `dispatch::Engine` calls and back; they hold no state and no policy of their own.
//!
//! Files: `access.rs` (the role check every request passes: the role table, user tokens, web
//! sessions, the access log), `users.rs` (users, tokens, whoami, the access log),
//! `admin.rs` (dispatch, rerun, registration tokens), `extract.rs` (versioned
//! JSON bodies, runner authentication, errors), `runners.rs` (registration and the runner
//! protocol), `reads.rs` (runs, jobs, logs, runners for the CLI), `run_refs.rs` (run references: ids,
//! prefixes, `WORKFLOW#NUMBER`; the runs list's filters), `settings.rs` (repository
//! secrets and variables), `repos.rs` (watched repositories, hooks, webhooks, schedules, commit
//! statuses), `releases.rs` (releases and the environments view), `health.rs` (the watchdog
//! thread and `GET /healthz`), `serve.rs` (the listener: header/idle timeouts, connection caps,
//! body limits and request budgets), `toolkit.rs` (the cache service the official actions call,
//! under `/api/v1/toolkit/`, authenticated by a job's runtime token), `retention.rs` (`gc`).

mod access;
mod actions;
mod admin;
pub mod artifacts;
pub mod environments;
mod extract;
mod health;
mod job_cancel;
pub mod ofrep;
pub(crate) mod reads;
pub mod releases;
pub mod repos;
mod results;
mod retention;
pub(crate) mod run_refs;
mod runners;
mod serve;
mod settings;
mod source;
mod state;
pub mod toolkit;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::runs::dispatch::Engine;

pub use admin::{DispatchRequest, DispatchResponse, RerunRequest, RerunResponse, TokenResponse};
pub use extract::{ApiError, Caller};
pub(crate) use job_cancel::api_error as job_cancel_error;
pub use settings::ADMIN_TOKEN_FILE;
pub use state::AppState;

/// Every route of the API (but `GET /healthz`, which `serve` adds with its watchdog), over
/// `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/runners/register", post(runners::register))
        .route("/api/v1/runner/next", post(runners::next))
        .route("/api/v1/jobs/{job_id}/heartbeat", post(runners::heartbeat))
        .route("/api/v1/jobs/{job_id}/logs", post(runners::logs))
        .route("/api/v1/jobs/{job_id}/events", post(runners::events))
        .route("/api/v1/jobs/{job_id}/finish", post(runners::finish))
        .route("/api/v1/jobs/{job_id}/source", post(source::source))
        .route("/api/v1/runs", get(reads::list_runs))
        .route("/api/v1/runs/resolve", get(run_refs::resolve))
        .route("/api/v1/runs/{run_id}", get(reads::show_run))
        .route("/api/v1/runs/{run_id}/cancel", post(reads::cancel_run))
        .route(
            "/api/v1/runs/{run_id}/jobs/{job_key}/cancel",
            post(job_cancel::cancel_job),
        )
        .route(
            "/api/v1/runs/{run_id}/jobs/{job_key}/logs",
            get(reads::job_logs),
        )
        .route("/api/v1/runners", get(reads::list_runners))
        .route("/api/v1/dispatch", post(admin::dispatch))
        .route("/api/v1/runs/{run_id}/rerun", post(admin::rerun))
        .route(
            "/api/v1/admin/registration-tokens",
            post(admin::registration_token),
        )
        .merge(settings::routes())
        .merge(artifacts::routes())
        .merge(toolkit::routes())
        .merge(results::routes())
        .merge(actions::routes())
        .merge(environments::routes())
        .merge(releases::routes())
        .merge(ofrep::routes())
        .merge(repos::routes())
        .merge(retention::routes())
        .merge(crate::ui::routes())
        .merge(users::routes())
        // Every route's role, from the one table (`identity::routes`), before any handler.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::check,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// A running HTTP server; `stop` ends it.
pub struct Server {
    local_addr: SocketAddr,
    stop: CancellationToken,
    health: Arc<health::Health>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<address>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Stops accepting connections and waits (briefly) for open requests to end.
    pub async fn stop(self) {
        self.health.stop();
        self.stop.cancel();
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(5), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

/// Binds `address` and serves every route of the API over `state` on it until `Server::stop`
/// (or the engine shuts down: long polls and log followers end then, so the server can stop
/// quickly).
pub async fn serve(state: AppState, address: SocketAddr) -> std::io::Result<Server> {
    let engine = state.engine().clone();
    // The first start (or a store from before users): `admin` and its token.
    if let Err(error) = crate::identity::bootstrap(engine.store(), &engine.config().data_dir).await
    {
        tracing::error!(%error, "could not create the admin user");
    }
    // Release plans advance while the API serves, and stop with it.
    let releases = state.releases().clone();
    let starter: Arc<dyn crate::repos::RunStarter> = Arc::new(state.orchestrator().clone());
    let server = serve_router(&engine, router(state), address).await?;
    releases.spawn_plan_ticker(starter, server.stop.clone());
    Ok(server)
}

/// Serves `app` plus `GET /healthz`, whose verdict comes from a watchdog started here over the
/// engine's store and the current runtime.
async fn serve_router(
    engine: &Arc<Engine>,
    app: Router,
    address: SocketAddr,
) -> std::io::Result<Server> {
    let health = health::start(engine.store(), tokio::runtime::Handle::current());
    let verdict = health.clone();
    let app = app.route(
        "/healthz",
        get(move || {
            let verdict = verdict.clone();
            async move { health::answer(&verdict) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(address).await?;
    let local_addr = listener.local_addr()?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    // Header/idle timeouts, connection caps and request budgets: see `serve.rs`.
    let app = serve::with_request_limits(app);
    let task = tokio::spawn(serve::run(listener, app, stopped));
    Ok(Server {
        local_addr,
        stop,
        health,
        task,
    })
}
