//! Releases over HTTP: create, list, show, promote, approve, withdraw, delete, and the
//! environments view ("deployed" beside "released to whom"). Every route's role is in the role
//! table (`identity::routes`); the person acting is the authenticated caller.
//!
//! Runs the `release` events start go through the orchestrator. This file must not decide anything:
//! `releases::Releases` does.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use deploy::Decision;
pub use protocol::releases::{
    ApproveReleaseRequest, CreateReleaseRequest, PlanControlRequest, PlanReleaseRequest,
    PromoteReleaseRequest, ReachRequest, ReleaseNotesRequest, ReleasePolicyRequest, ReleaseQuery,
    WithdrawReleaseRequest,
};
use serde::de::DeserializeOwned;

use super::extract::{Admin, ApiError};
use crate::deploy::releases::plans::{PlanControl, PlanRelease};
use crate::deploy::releases::{
    ApproveRelease, CreateRelease, PromoteRelease, ReleaseServiceError, Releases, WithdrawRelease,
};
use crate::runs::orchestrator::Orchestrator;

impl From<ReleaseServiceError> for ApiError {
    fn from(error: ReleaseServiceError) -> ApiError {
        let status = match &error {
            ReleaseServiceError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ReleaseServiceError::NotFound { .. } => StatusCode::NOT_FOUND,
            ReleaseServiceError::Exists { .. } | ReleaseServiceError::Refused(_) => {
                StatusCode::CONFLICT
            }
            ReleaseServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
            ReleaseServiceError::Store(_) | ReleaseServiceError::Git(_) => {
                tracing::error!(%error, "release request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, error.to_string())
    }
}

/// A JSON body; a bad one is 400 naming the field (serde's message does).
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|error| ApiError::bad_request(format!("request body: {error}")))
}

/// `POST /api/v1/releases`: 201 with the change.
pub async fn create(
    caller: Admin,
    State(releases): State<Arc<Releases>>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: CreateReleaseRequest = body(&bytes)?;
    let change = releases
        .create(
            CreateRelease {
                tag: request.tag,
                repo: request.repo,
                name: request.name,
                notes: request.notes.unwrap_or_default(),
                created_by: caller.user,
                category: request.category,
            },
            releases.engine().config().clock.now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(change)).into_response())
}

/// `GET /api/v1/releases[?repo=NAME]`.
pub async fn list(
    _admin: Admin,
    State(releases): State<Arc<Releases>>,
    Query(query): Query<ReleaseQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(releases.list(query.repo.as_deref())?).into_response())
}

/// `GET /api/v1/releases/{tag}[?repo=NAME]`.
pub async fn show(
    _admin: Admin,
    State(releases): State<Arc<Releases>>,
    Path(tag): Path<String>,
    Query(query): Query<ReleaseQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(releases.show(&tag, query.repo.as_deref())?).into_response())
}

/// `DELETE /api/v1/releases/{tag}[?repo=NAME]`: the change (with the runs the
/// `deleted` event started).
pub async fn delete(
    caller: Admin,
    State(releases): State<Arc<Releases>>,
    State(orchestrator): State<Orchestrator>,
    Path(tag): Path<String>,
    Query(query): Query<ReleaseQuery>,
) -> Result<Response, ApiError> {
    let actor = caller.user;
    let change = releases
        .delete(
            &tag,
            query.repo.as_deref(),
            &actor,
            &orchestrator,
            releases.engine().config().clock.now(),
        )
        .await?;
    Ok(Json(change).into_response())
}

/// `POST /api/v1/releases/{tag}/promote`.
pub async fn promote(
    caller: Admin,
    State(releases): State<Arc<Releases>>,
    State(orchestrator): State<Orchestrator>,
    Path(tag): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: PromoteReleaseRequest = body(&bytes)?;
    let change = releases
        .promote(
            PromoteRelease {
                tag,
                repo: request.repo,
                environment: request.environment,
                audience: request.audience,
                requested_by: caller.user,
            },
            &orchestrator,
            releases.engine().config().clock.now(),
        )
        .await?;
    // A promotion held for approvals is accepted, not done: 202.
    if change.state == "pending" {
        return Ok((StatusCode::ACCEPTED, Json(change)).into_response());
    }
    Ok(Json(change).into_response())
}

/// `POST /api/v1/releases/{tag}/approve`.
pub async fn approve(
    caller: Admin,
    State(releases): State<Arc<Releases>>,
    State(orchestrator): State<Orchestrator>,
    Path(tag): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: ApproveReleaseRequest = body(&bytes)?;
    let change = releases
        .approve(
            ApproveRelease {
                tag,
                repo: request.repo,
                environment: request.environment,
                approver: caller.user,
                decision: request
                    .decision
                    .map(Decision::from)
                    .unwrap_or(Decision::Approve),
                comment: request.comment,
            },
            &orchestrator,
            releases.engine().config().clock.now(),
        )
        .await?;
    Ok(Json(change).into_response())
}

/// `POST /api/v1/releases/{tag}/withdraw`.
pub async fn withdraw(
    caller: Admin,
    State(releases): State<Arc<Releases>>,
    State(orchestrator): State<Orchestrator>,
    Path(tag): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: WithdrawReleaseRequest = body(&bytes)?;
    let change = releases
        .withdraw(
            WithdrawRelease {
                tag,
                repo: request.repo,
                environment: request.environment,
                actor: caller.user,
                reason: request.reason,
            },
            &orchestrator,
            releases.engine().config().clock.now(),
        )
        .await?;
    Ok(Json(change).into_response())
}

/// `GET /api/v1/status/environments[?repo=NAME]`: per environment and repository, what is
/// deployed beside what is released.
pub async fn environments(
    _admin: Admin,
    State(releases): State<Arc<Releases>>,
    Query(query): Query<ReleaseQuery>,
) -> Result<Response, ApiError> {
    Ok(Json(releases.environment_views(query.repo.as_deref())?).into_response())
}

/// `PUT /api/v1/environments/{environment}/release-policies/{category}`: every category's
/// policy in the environment after the change.
pub async fn set_policy(
    caller: Admin,
    State(releases): State<Arc<Releases>>,
    Path((environment, category)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: ReleasePolicyRequest = body(&bytes)?;
    let policies = releases
        .set_policy(
            &environment,
            &category,
            request,
            &caller.user,
            releases.engine().config().clock.now(),
        )
        .await?;
    Ok(Json(policies).into_response())
}

/// `POST /api/v1/releases/{tag}/plan`: the release with its new plan. Relative stage times
/// count from the engine's clock.
pub async fn plan(
    caller: Admin,
    State(releases): State<Arc<Releases>>,
    Path(tag): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: PlanReleaseRequest = body(&bytes)?;
    let now = releases.engine().config().clock.now();
    let change = releases
        .plan(
            PlanRelease {
                tag,
                repo: request.repo,
                environment: request.environment,
                stages: request.stages,
                check: request.check,
                planned_by: caller.user,
            },
            now,
        )
        .await?;
    Ok(Json(change).into_response())
}

/// `POST /api/v1/releases/{tag}/plan/{pause|resume|halt}`.
pub async fn control_plan(
    caller: Admin,
    State(releases): State<Arc<Releases>>,
    State(orchestrator): State<Orchestrator>,
    Path((tag, action)): Path<(String, String)>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: PlanControlRequest = body(&bytes)?;
    let control = match action.as_str() {
        "pause" => PlanControl::Pause,
        "resume" => PlanControl::Resume,
        "halt" => PlanControl::Halt {
            to_nobody: request.to_nobody,
        },
        other => {
            return Err(ApiError::not_found(format!(
                "no plan action `{other}` (pause, resume, halt)"
            )));
        }
    };
    let now = releases.engine().config().clock.now();
    let change = releases
        .control_plan(
            &tag,
            request.repo.as_deref(),
            &request.environment,
            control,
            &caller.user,
            &orchestrator,
            now,
        )
        .await?;
    Ok(Json(change).into_response())
}

/// `PUT /api/v1/releases/{tag}/notes`.
pub async fn set_notes(
    caller: Admin,
    State(releases): State<Arc<Releases>>,
    Path(tag): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: ReleaseNotesRequest = body(&bytes)?;
    let now = releases.engine().config().clock.now();
    let change = releases
        .set_notes(
            &tag,
            request.repo.as_deref(),
            request.notes,
            &caller.user,
            now,
        )
        .await?;
    Ok(Json(change).into_response())
}

/// `POST /api/v1/releases/{tag}/reach`: per environment, the current audience and each plan
/// stage with how many of the keys it reaches.
pub async fn reach(
    _admin: Admin,
    State(releases): State<Arc<Releases>>,
    Path(tag): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let request: ReachRequest = body(&bytes)?;
    let lines = releases.reach(&tag, request.repo.as_deref(), &request.keys)?;
    Ok(Json(lines).into_response())
}

/// Every route of this file (merged into `api::router`).
pub fn routes() -> axum::Router<super::AppState> {
    use axum::routing::{get, post, put};
    axum::Router::new()
        .route("/api/v1/releases", post(create).get(list))
        .route("/api/v1/releases/{tag}", get(show).delete(delete))
        .route("/api/v1/releases/{tag}/promote", post(promote))
        .route("/api/v1/releases/{tag}/approve", post(approve))
        .route("/api/v1/releases/{tag}/withdraw", post(withdraw))
        .route("/api/v1/releases/{tag}/plan", post(plan))
        .route("/api/v1/releases/{tag}/reach", post(reach))
        .route("/api/v1/releases/{tag}/notes", put(set_notes))
        .route("/api/v1/releases/{tag}/plan/{action}", post(control_plan))
        .route("/api/v1/status/environments", get(environments))
        .route(
            "/api/v1/environments/{environment}/release-policies/{category}",
            put(set_policy),
        )
}
