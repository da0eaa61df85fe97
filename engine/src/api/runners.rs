//! Registration and the runner protocol: `next` (long poll), `heartbeat`, `logs`, `events`,
//! `finish`. A runner reaches only the jobs leased to it, and only with the fencing token of
//! its current lease (a stale one gets 409 and changes nothing).
//!
//! This file must not decide anything about leases itself: `dispatch::Engine` does.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use protocol::PROTOCOL_VERSION;
use protocol::wire::{
    EventsRequest, FinishRequest, HeartbeatRequest, HeartbeatResponse, Lease, LogsRequest,
    LogsResponse, NextRequest, RegisterRequest, RegisterResponse,
};

use super::extract::{ApiError, AuthedRunner, Versioned};
use crate::runs::dispatch::Engine;
use crate::store::JobId;

/// `POST /api/v1/runners/register`.
pub(super) async fn register(
    State(engine): State<Arc<Engine>>,
    Versioned(request): Versioned<RegisterRequest>,
) -> Result<Json<RegisterResponse>, ApiError> {
    if request.name.trim().is_empty() {
        return Err(ApiError::bad_request("field `name`: must not be empty"));
    }
    if request.capacity == 0 {
        return Err(ApiError::bad_request(
            "field `capacity`: must be at least 1",
        ));
    }
    let (runner, credential) = engine
        .store()
        .register_runner(
            &request.token,
            &request.name,
            &request.labels,
            request.capacity,
        )
        .await?;
    tracing::info!(runner_id = %runner.runner_id, name = %runner.name, "runner registered");
    Ok(Json(RegisterResponse {
        protocol_version: PROTOCOL_VERSION,
        runner_id: runner.runner_id.to_string(),
        credential,
    }))
}

/// `POST /api/v1/runner/next`: a lease, or 204 when none came in time.
pub(super) async fn next(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Versioned(request): Versioned<NextRequest>,
) -> Result<Response, ApiError> {
    let wait = request.wait_ms.map(Duration::from_millis);
    let Some(granted) = engine.next_lease(&runner, wait).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let runtime_token =
        super::toolkit::mint_runtime_token(&engine, &granted.job, granted.fencing_token);
    let lease = Lease {
        protocol_version: PROTOCOL_VERSION,
        runtime_token,
        job_id: granted.job.job_id.to_string(),
        fencing_token: granted.fencing_token,
        lease_expires_in_ms: millis(granted.lease_expires_in),
        attempt: granted.job.attempt,
        spec: granted.job.spec,
    };
    Ok(Json(lease).into_response())
}

/// `POST /api/v1/jobs/{job_id}/heartbeat`.
pub(super) async fn heartbeat(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path(job_id): Path<String>,
    Versioned(request): Versioned<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let outcome = engine.heartbeat(
        runner.runner_id,
        parse_job_id(&job_id)?,
        request.fencing_token,
    )?;
    Ok(Json(HeartbeatResponse {
        cancel_requested: outcome.cancel_requested,
        lease_expires_in_ms: millis(outcome.lease_expires_in),
    }))
}

/// `POST /api/v1/jobs/{job_id}/logs`.
pub(super) async fn logs(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path(job_id): Path<String>,
    Versioned(request): Versioned<LogsRequest>,
) -> Result<Json<LogsResponse>, ApiError> {
    let appended = engine
        .append_logs(
            runner.runner_id,
            parse_job_id(&job_id)?,
            request.fencing_token,
            &request.chunks,
        )
        .await?;
    Ok(Json(LogsResponse {
        last_seq: appended.last_seq,
    }))
}

/// `POST /api/v1/jobs/{job_id}/events`.
pub(super) async fn events(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path(job_id): Path<String>,
    Versioned(request): Versioned<EventsRequest>,
) -> Result<StatusCode, ApiError> {
    engine.record_events(
        runner.runner_id,
        parse_job_id(&job_id)?,
        request.fencing_token,
        &request.events,
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/jobs/{job_id}/finish`.
pub(super) async fn finish(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path(job_id): Path<String>,
    Versioned(request): Versioned<FinishRequest>,
) -> Result<StatusCode, ApiError> {
    engine
        .finish_job(
            runner.runner_id,
            parse_job_id(&job_id)?,
            request.fencing_token,
            request.result,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_job_id(text: &str) -> Result<JobId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found(format!("find job {text}: not a job id")))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
