//! Remote actions over HTTP (`crate::actions` decides):
//!
//! - admin (admin token): `POST /api/v1/actions/sources` (add a source), `GET
//!   /api/v1/actions/sources`, `POST /api/v1/actions/mirror` (fetch `owner/repo` now),
//!   `GET /api/v1/actions` (the mirrors, their refs and last fetch);
//! - runner side, lease holder only: `GET /api/v1/actions/{owner}/{repo}/{sha}.tar.gz` with the
//!   job in `x-slipway-job` and the lease's fencing token in `x-slipway-fencing-token`; only a
//!   commit the job's run pinned is served (anything else gets the same 403).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use protocol::actions::{
    ACTION_JOB_HEADER, ActionMirror, ActionSource, AddActionSourceRequest, MirrorActionRequest,
};

use super::artifacts::{fencing_header, lease_holder};
use super::extract::{Admin, ApiError, AuthedRunner};
use crate::actions::{ActionError, ActionMirrors};
use crate::runs::dispatch::Engine;

/// The action routes, to merge into the API's router.
pub(super) fn routes() -> Router<super::AppState> {
    Router::new()
        .route("/api/v1/actions", get(list))
        .route("/api/v1/actions/sources", get(sources).post(add_source))
        .route("/api/v1/actions/mirror", post(mirror))
        .route("/api/v1/actions/{owner}/{repo}/{archive}", get(download))
}

impl From<ActionError> for ApiError {
    fn from(error: ActionError) -> ApiError {
        let status = match &error {
            ActionError::Invalid(_) => StatusCode::BAD_REQUEST,
            ActionError::NotFound(_) => StatusCode::NOT_FOUND,
            ActionError::Exists(_) => StatusCode::CONFLICT,
            ActionError::Fetch(_) => StatusCode::BAD_GATEWAY,
            ActionError::Store(_) | ActionError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

/// `POST /api/v1/actions/sources`: 201 with the source.
async fn add_source(
    _admin: Admin,
    State(engine): State<Arc<Engine>>,
    Json(request): Json<AddActionSourceRequest>,
) -> Result<Response, ApiError> {
    let source = ActionMirrors::new(&engine)
        .add_source(&request.location, request.name.as_deref())
        .await?;
    Ok((StatusCode::CREATED, Json(source)).into_response())
}

/// `GET /api/v1/actions/sources`.
async fn sources(
    _admin: Admin,
    State(engine): State<Arc<Engine>>,
) -> Result<Json<Vec<ActionSource>>, ApiError> {
    Ok(Json(ActionMirrors::new(&engine).sources()?))
}

/// `POST /api/v1/actions/mirror`: the mirror's record after the fetch.
async fn mirror(
    _admin: Admin,
    State(engine): State<Arc<Engine>>,
    Json(request): Json<MirrorActionRequest>,
) -> Result<Json<ActionMirror>, ApiError> {
    let record = ActionMirrors::new(&engine)
        .mirror(&request.repository, request.git_ref.as_deref())
        .await?;
    Ok(Json(record))
}

/// `GET /api/v1/actions`.
async fn list(
    _admin: Admin,
    State(engine): State<Arc<Engine>>,
) -> Result<Json<Vec<ActionMirror>>, ApiError> {
    Ok(Json(ActionMirrors::new(&engine).list()?))
}

/// `GET /api/v1/actions/{owner}/{repo}/{sha}.tar.gz`.
async fn download(
    State(engine): State<Arc<Engine>>,
    AuthedRunner(runner): AuthedRunner,
    Path((owner, repo, archive)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let fencing_token = fencing_header(&headers)?;
    let job_id = headers
        .get(ACTION_JOB_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let job = lease_holder(&engine, &job_id, runner.runner_id, fencing_token)?;
    let sha = archive.strip_suffix(".tar.gz").unwrap_or_default();
    let repository = format!("{owner}/{repo}");
    let pinned_for_job = job.spec.actions.iter().any(|(uses, pinned)| {
        pinned == sha
            && workflows::action::RemoteAction::parse(uses)
                .is_some_and(|action| action.repository().eq_ignore_ascii_case(&repository))
    });
    if !pinned_for_job {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{repository}@{sha} is not an action pinned for job {job_id}"),
        ));
    }
    let bytes = ActionMirrors::new(&engine)
        .archive(&repository, sha)
        .await?;
    Ok((
        [
            (CONTENT_TYPE, "application/gzip".to_string()),
            (CONTENT_LENGTH, bytes.len().to_string()),
        ],
        bytes,
    )
        .into_response())
}
