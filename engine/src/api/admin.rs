//! The admin calls: start a run (`dispatch`), re-run one (`rerun`), make a runner registration
//! token. Cancel (`reads.rs`) takes the same `Admin` proof. Each route's role is in the role
//! table (`identity::routes`); the run's actor is the authenticated caller.
//!
//! This file must not plan runs itself: it hands requests to the `Orchestrator`.

use std::sync::Arc;

use axum::Json;
use axum::extract::Path;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::PROTOCOL_VERSION;
pub use protocol::admin::{
    DispatchRequest, DispatchResponse, RerunRequest, RerunResponse, TokenResponse,
};

use super::extract::{ApiError, Versioned};
use crate::runs::dispatch::Engine;
use crate::runs::orchestrator::{Orchestrator, OrchestratorError, RunRequest};
use crate::runs::rerun::RerunError;
use crate::store::{RunId, create_registration_token};
use scheduler::RerunMode;

pub(super) use super::extract::Admin;

/// `POST /api/v1/dispatch`: reads the workflow at the ref's commit and starts a run.
pub(super) async fn dispatch(
    caller: Admin,
    State(orchestrator): State<Orchestrator>,
    Versioned(request): Versioned<DispatchRequest>,
) -> Result<Json<DispatchResponse>, ApiError> {
    // One identity per repository: only a watched repository is dispatched, by its name or by
    // a path naming it; the run then carries the watched name.
    if orchestrator
        .watched_repository(&request.repository)?
        .is_none()
    {
        return Err(ApiError::not_found(format!(
            "dispatch: repository `{0}` is not watched: watch it with `slipway repo add {0}` \
             (and `--name NAME` to choose its name)",
            request.repository
        )));
    }
    let started = orchestrator
        .start_run(RunRequest {
            sha: None,
            repository: request.repository.into(),
            workflow: request.workflow,
            event_name: request
                .event
                .unwrap_or_else(|| "workflow_dispatch".to_string()),
            git_ref: request.git_ref.unwrap_or_else(|| "HEAD".to_string()),
            inputs: request.inputs.into_iter().collect(),
            payload: None,
            actor: Some(caller.user),
        })
        .await
        .map_err(orchestrator_error)?;
    Ok(Json(DispatchResponse {
        protocol_version: PROTOCOL_VERSION,
        run_id: started.run_id.to_string(),
        run_number: started.run_number,
        conclusion: started.conclusion,
    }))
}

/// `POST /api/v1/runs/{run_id}/rerun`: a new attempt of a finished run (all jobs, the failed
/// ones, or one job, each with its dependents).
pub(super) async fn rerun(
    caller: Admin,
    State(orchestrator): State<Orchestrator>,
    Path(run_id): Path<String>,
    Versioned(request): Versioned<RerunRequest>,
) -> Result<Json<RerunResponse>, ApiError> {
    let run_id: RunId = super::run_refs::resolve_run_id(orchestrator.engine().store(), &run_id)?;
    let mode = match (request.job, request.failed) {
        (Some(_), true) => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "re-run: give `failed` or `job`, not both".to_string(),
            ));
        }
        (Some(job), false) => RerunMode::Job(job),
        (None, true) => RerunMode::Failed,
        (None, false) => RerunMode::All,
    };
    let started = orchestrator
        .rerun_as(run_id, mode, Some(&caller.user))
        .await
        .map_err(|error| match error {
            RerunError::NotFound(_) => ApiError::not_found(error.to_string()),
            RerunError::NotFinished(_) | RerunError::Selection { .. } => {
                ApiError::new(StatusCode::CONFLICT, error.to_string())
            }
            RerunError::Orchestrator(error) => orchestrator_error(error),
            RerunError::Store(error) => error.into(),
        })?;
    Ok(Json(RerunResponse {
        protocol_version: PROTOCOL_VERSION,
        run_id: started.started.run_id.to_string(),
        run_number: started.started.run_number,
        attempt: started.attempt,
        rerun_of: started.rerun_of.to_string(),
        jobs: started.rerun_jobs,
    }))
}

/// `POST /api/v1/admin/registration-tokens`: a one-time runner registration token.
pub(super) async fn registration_token(
    _admin: Admin,
    State(engine): State<Arc<Engine>>,
    Versioned(_request): Versioned<serde_json::Value>,
) -> Result<Json<TokenResponse>, ApiError> {
    let token = create_registration_token(engine.store()).await?;
    Ok(Json(TokenResponse {
        protocol_version: PROTOCOL_VERSION,
        token,
    }))
}

fn orchestrator_error(error: OrchestratorError) -> ApiError {
    match error {
        OrchestratorError::Store(error) => error.into(),
        OrchestratorError::Stopped => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
        }
        OrchestratorError::Repository { .. } | OrchestratorError::WorkflowFile { .. } => {
            ApiError::not_found(error.to_string())
        }
        OrchestratorError::Inputs { .. } | OrchestratorError::Plan(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, error.to_string())
        }
    }
}
