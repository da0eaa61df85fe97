//! `POST /api/v1/admin/gc`: the retention sweep on demand (`slipway gc`), with the admin token.
//!
//! This file only translates HTTP to `runs::retention::sweep` and back.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use protocol::PROTOCOL_VERSION;
use protocol::admin::{GcRequest, GcResponse, GcRun};

use super::extract::{Admin, ApiError, Versioned};
use crate::runs::dispatch::Engine;
use crate::runs::retention::{DEFAULT_RETAIN, sweep};

/// The retention routes.
pub(crate) fn routes() -> Router<super::AppState> {
    Router::new().route("/api/v1/admin/gc", post(gc))
}

/// Removes (or, dry, lists) finished runs older than the asked age, else `serve --retain`,
/// else 30 days.
async fn gc(
    _admin: Admin,
    State(engine): State<Arc<Engine>>,
    Versioned(request): Versioned<GcRequest>,
) -> Result<Json<GcResponse>, ApiError> {
    let older_than = request
        .older_than_seconds
        .map(Duration::from_secs)
        .or(engine.config().retain)
        .unwrap_or(DEFAULT_RETAIN);
    let swept = sweep(&engine, older_than, request.dry_run).await?;
    Ok(Json(GcResponse {
        protocol_version: PROTOCOL_VERSION,
        older_than_seconds: older_than.as_secs(),
        dry_run: request.dry_run,
        runs: swept
            .runs
            .into_iter()
            .map(|run| GcRun {
                run_id: run.run_id.to_string(),
                workflow: run.workflow,
                run_number: run.run_number,
                finished_at_us: run.finished_at_us.unwrap_or_default(),
            })
            .collect(),
        bytes: swept.bytes,
    }))
}
