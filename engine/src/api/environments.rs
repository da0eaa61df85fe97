//! Environments, deployments, approvals and the audit log over HTTP, for the CLI (each route's
//! role in `identity::routes`; approvals and rollbacks are the authenticated caller's), and the deployment progress a runner reports for the job it holds.
//!
//! Handlers translate to `deploy::Deployments` calls (reached through the orchestrator);
//! they decide nothing themselves.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::environments as wire;
pub use protocol::environments::{
    CreateEnvironmentRequest, DecisionRequest, EditEnvironmentRequest, EnvironmentQuery,
    RollbackRequest, SetGroupRequest,
};
use protocol::wire::{DeploymentProgressRequest, DeploymentProgressResponse};

use super::admin::Admin;
use super::extract::{ApiError, AuthedRunner, Versioned};
use crate::deploy::{ApprovalOutcome, DeployError, Deployments, EnvironmentView};
use crate::runs::dispatch::Engine;
use crate::runs::orchestrator::Orchestrator;
use crate::store::{JobId, RunId};

/// The environment, deployment, approval and audit routes, to merge into the API's router.
pub fn routes() -> Router<super::AppState> {
    Router::new()
        .route(
            "/api/v1/environments",
            get(list_environments).post(create_environment),
        )
        .route(
            "/api/v1/environments/{name}",
            get(show_environment)
                .patch(edit_environment)
                .delete(remove_environment),
        )
        .route("/api/v1/environments/{name}/rollback", post(rollback))
        .route("/api/v1/deployments", get(list_deployments))
        .route("/api/v1/deployments/{id}", get(show_deployment))
        .route("/api/v1/audit", get(audit))
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{name}", axum::routing::put(set_group))
        .route("/api/v1/runs/{run_id}/approvals", post(decide))
        .route("/api/v1/jobs/{job_id}/deployment", post(progress))
}

impl From<DeployError> for ApiError {
    fn from(error: DeployError) -> ApiError {
        let status = match &error {
            DeployError::Store(store) => return ApiError::from_store(store, error.to_string()),
            DeployError::UnknownEnvironment(_) | DeployError::NothingToApprove { .. } => {
                StatusCode::NOT_FOUND
            }
            DeployError::EnvironmentExists(_) => StatusCode::CONFLICT,
            DeployError::Invalid(_) | DeployError::NothingToRollBack(_) => StatusCode::BAD_REQUEST,
            DeployError::Approval(_) => StatusCode::FORBIDDEN,
        };
        ApiError::new(status, error.to_string())
    }
}

fn deployments(orchestrator: &Orchestrator) -> &Arc<Deployments> {
    orchestrator.deployments()
}

/// The wire form of the engine's view of one environment.
fn environment_view(view: EnvironmentView) -> wire::EnvironmentView {
    wire::EnvironmentView {
        environment: view.environment.into(),
        lane: view.lane.into(),
        lane_state: view.lane_state,
    }
}

async fn list_environments(
    State(orchestrator): State<Orchestrator>,
) -> Result<Json<Vec<wire::EnvironmentView>>, ApiError> {
    let service = deployments(&orchestrator);
    let mut views = Vec::new();
    for environment in service.environments()? {
        views.push(environment_view(
            service.environment_view(&environment.name)?,
        ));
    }
    Ok(Json(views))
}

async fn show_environment(
    State(orchestrator): State<Orchestrator>,
    Path(name): Path<String>,
) -> Result<Json<wire::EnvironmentView>, ApiError> {
    Ok(Json(environment_view(
        deployments(&orchestrator).environment_view(&name)?,
    )))
}

async fn create_environment(
    _admin: Admin,
    State(orchestrator): State<Orchestrator>,
    Versioned(request): Versioned<CreateEnvironmentRequest>,
) -> Result<(StatusCode, Json<wire::Environment>), ApiError> {
    let environment = deployments(&orchestrator)
        .create_environment(&request.name, &request.settings)
        .await?;
    Ok((StatusCode::CREATED, Json(environment.into())))
}

async fn edit_environment(
    _admin: Admin,
    State(orchestrator): State<Orchestrator>,
    Path(name): Path<String>,
    Versioned(request): Versioned<EditEnvironmentRequest>,
) -> Result<Json<wire::Environment>, ApiError> {
    Ok(Json(
        deployments(&orchestrator)
            .edit_environment(&name, &request.settings)
            .await?
            .into(),
    ))
}

async fn remove_environment(
    _admin: Admin,
    State(orchestrator): State<Orchestrator>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    deployments(&orchestrator).remove_environment(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn rollback(
    caller: Admin,
    State(orchestrator): State<Orchestrator>,
    Path(name): Path<String>,
    Versioned(_request): Versioned<RollbackRequest>,
) -> Result<(StatusCode, Json<wire::Deployment>), ApiError> {
    let record = deployments(&orchestrator)
        .rollback(&name, &caller.user)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(record.into())))
}

async fn list_deployments(
    State(orchestrator): State<Orchestrator>,
    Query(query): Query<EnvironmentQuery>,
) -> Result<Json<Vec<wire::Deployment>>, ApiError> {
    let service = deployments(&orchestrator);
    if let Some(name) = &query.environment {
        service.environment(name)?;
    }
    Ok(Json(
        service
            .deployments(query.environment.as_deref())?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

async fn show_deployment(
    State(orchestrator): State<Orchestrator>,
    Path(id): Path<String>,
) -> Result<Json<wire::Deployment>, ApiError> {
    deployments(&orchestrator)
        .deployment(&id)?
        .map(|record| Json(record.into()))
        .ok_or_else(|| ApiError::not_found(format!("find deployment `{id}`: there is none")))
}

async fn audit(
    State(orchestrator): State<Orchestrator>,
    Query(query): Query<EnvironmentQuery>,
) -> Result<Json<Vec<wire::AuditEntry>>, ApiError> {
    Ok(Json(
        deployments(&orchestrator)
            .audit(query.environment.as_deref())?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

async fn list_groups(
    State(orchestrator): State<Orchestrator>,
) -> Result<Json<wire::Groups>, ApiError> {
    Ok(Json(deployments(&orchestrator).groups()?.into()))
}

async fn set_group(
    _admin: Admin,
    State(orchestrator): State<Orchestrator>,
    Path(name): Path<String>,
    Versioned(request): Versioned<SetGroupRequest>,
) -> Result<Json<wire::Groups>, ApiError> {
    Ok(Json(
        deployments(&orchestrator)
            .set_group(&name, &request.members)
            .await?
            .into(),
    ))
}

async fn decide(
    caller: Admin,
    State(orchestrator): State<Orchestrator>,
    Path(run_id): Path<String>,
    Versioned(request): Versioned<DecisionRequest>,
) -> Result<Json<ApprovalOutcome>, ApiError> {
    let run_id: RunId = super::run_refs::resolve_run_id(orchestrator.engine().store(), &run_id)?;
    if orchestrator.engine().store().run(run_id)?.is_none() {
        return Err(ApiError::not_found(format!(
            "find run {run_id}: there is none"
        )));
    }
    Ok(Json(
        deployments(&orchestrator)
            .decide(
                run_id,
                &request.environment,
                &caller.user,
                request.decision.into(),
                request.comment,
            )
            .await?,
    ))
}

/// `POST /api/v1/jobs/{job_id}/deployment`: only the lease holder of the job may report.
async fn progress(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    State(orchestrator): State<Orchestrator>,
    Path(job_id): Path<String>,
    Versioned(request): Versioned<DeploymentProgressRequest>,
) -> Result<Json<DeploymentProgressResponse>, ApiError> {
    let job_id: JobId = job_id
        .parse()
        .map_err(|_| ApiError::not_found(format!("find job {job_id}: not a job id")))?;
    let job = engine
        .store()
        .leased_job(job_id, runner.runner_id, request.fencing_token)?;
    let assigned = job
        .spec
        .deployment
        .as_ref()
        .map(|assignment| assignment.deployment_id.as_str());
    if assigned != Some(request.deployment_id.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "job {job_id} does not carry deployment `{}`",
                request.deployment_id
            ),
        ));
    }
    let approval = deployments(&orchestrator)
        .progress(
            &request.deployment_id,
            request.phases.into_iter().map(Into::into).collect(),
            request.awaiting_approval,
        )
        .await?;
    Ok(Json(DeploymentProgressResponse { approval }))
}
