//! `POST /api/v1/runs/{run_id}/jobs/{job_key}/cancel` (admin token): cancels one job of a run
//! (`runs::job_cancel`) and answers the run as `GET /api/v1/runs/{run_id}` shows it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use protocol::wire::{CancelRequest, RunDetailView};

use super::extract::{Admin, ApiError, Versioned};
use super::reads::{parse_run_id, run_detail};
use crate::runs::dispatch::Engine;
use crate::runs::job_cancel::JobCancelError;

/// 404 for an unknown run or job, 409 for a job that already concluded.
pub(crate) async fn cancel_job(
    _admin: Admin,
    State(engine): State<Arc<Engine>>,
    Path((run_id, job_key)): Path<(String, String)>,
    Versioned(_request): Versioned<CancelRequest>,
) -> Result<Json<RunDetailView>, ApiError> {
    let run_id = parse_run_id(&run_id)?;
    engine
        .cancel_one_job(run_id, &job_key)
        .await
        .map_err(api_error)?;
    Ok(Json(run_detail(engine.store(), run_id)?))
}

/// The status and message a failed job cancel answers with (the UI's form uses it too).
pub(crate) fn api_error(error: JobCancelError) -> ApiError {
    match error {
        JobCancelError::Store(error) => error.into(),
        error @ (JobCancelError::RunNotFound(_) | JobCancelError::JobNotFound { .. }) => {
            ApiError::not_found(error.to_string())
        }
        error @ JobCancelError::Completed { .. } => {
            ApiError::new(StatusCode::CONFLICT, error.to_string())
        }
    }
}
