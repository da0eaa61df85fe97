//! Watched repositories over HTTP: register, list, remove, a fresh hook token, accept a storm,
//! the hook and webhook intakes, schedules and commit statuses. Managing repositories needs the
//! admin token; the hook needs the repository's hook token, a webhook its HMAC signature.
//!
//! The hook and webhook answer `202 Accepted` as soon as the credential is checked; fetching and
//! starting runs happen after the answer, so a push never waits for the engine. A refused request
//! (401) records nothing. This file must not decide anything: `repos::Repos` does.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
pub use protocol::repos::{AddRepoRequest, HookRequest, HookUpdate};
use serde_json::json;

use super::extract::{Admin, ApiError};
use crate::forge::ForgeKind;
use crate::repos::triggers::RefUpdate;
use crate::repos::triggers::webhook::parse_push;
use crate::repos::{AddRepo, RepoError, Repos, WebhookCredentials};

impl From<RepoError> for ApiError {
    fn from(error: RepoError) -> ApiError {
        let status = match &error {
            RepoError::NotFound(_) => StatusCode::NOT_FOUND,
            RepoError::Exists(_) => StatusCode::CONFLICT,
            RepoError::Invalid(_) | RepoError::Trigger(_) => StatusCode::BAD_REQUEST,
            RepoError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            RepoError::Store(_) | RepoError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

/// `POST /api/v1/repos`: 201 with the record and the hook token (its only copy).
pub async fn add(
    _admin: Admin,
    State(repos): State<Arc<Repos>>,
    Json(request): Json<AddRepoRequest>,
) -> Result<Response, ApiError> {
    let (record, hook_token) = repos
        .add(AddRepo {
            source: request.source,
            name: request.name,
            poll_interval: request.poll_interval_ms.map(Duration::from_millis),
            webhook_secret: request.webhook_secret,
            forge: match request.forge.as_deref() {
                Some(kind) => Some(ForgeKind::parse(kind).map_err(ApiError::bad_request)?),
                None => None,
            },
            forge_token_secret: request.forge_token_secret,
            forge_api: request.forge_api,
        })
        .await?;
    let body = json!({
        "name": record.name,
        "source": record.source,
        "mirror_path": record.mirror_path,
        "github_repository": record.github_repository,
        "poll_interval_ms": record.poll_interval_ms,
        "refs": record.seen_refs.len(),
        "forge": record.forge.as_ref().map(|link| link.kind.as_str()),
        "forge_api": record.forge.as_ref().map(|link| link.api.clone()),
        "hook_token": hook_token,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /api/v1/repos`.
pub async fn list(_admin: Admin, State(repos): State<Arc<Repos>>) -> Result<Response, ApiError> {
    Ok(Json(repos.list()?).into_response())
}

/// `DELETE /api/v1/repos/{name}`: 204.
pub async fn remove(
    _admin: Admin,
    State(repos): State<Arc<Repos>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    repos.remove(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v1/repos/{name}/hook-token`: a fresh hook token (the old one stops working).
pub async fn hook_token(
    _admin: Admin,
    State(repos): State<Arc<Repos>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let token = repos.new_hook_token(&name).await?;
    Ok(Json(json!({ "name": name, "hook_token": token })).into_response())
}

/// `POST /api/v1/repos/{name}/accept`: accept a recorded ref storm.
pub async fn accept(
    _admin: Admin,
    State(repos): State<Arc<Repos>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let moved = repos.accept(&name).await?;
    Ok(Json(json!({ "name": name, "accepted_refs": moved })).into_response())
}

/// `POST /api/v1/repos/{name}/poll`: fetch now; answers what the poll did.
pub async fn poll(
    _admin: Admin,
    State(repos): State<Arc<Repos>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(repos.poll(&name).await?).into_response())
}

/// `POST /api/v1/repos/{name}/hook`: bearer hook token; 202, work continues after the answer.
pub async fn hook(
    State(repos): State<Arc<Repos>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    repos.authenticate_hook(&name, token)?;
    let request: HookRequest = serde_json::from_slice(&body)
        .map_err(|error| ApiError::bad_request(format!("read hook body: {error}")))?;
    let mut updates = Vec::new();
    for update in &request.updates {
        let update = RefUpdate::from_hex(&update.old, &update.new, &update.git_ref)
            .map_err(|error| ApiError::bad_request(error.to_string()))?;
        updates.push(update);
    }
    let count = updates.len();
    let pusher = request
        .pusher
        .as_deref()
        .map(str::trim)
        .filter(|pusher| !pusher.is_empty() && pusher.len() <= 255)
        .unwrap_or("slipway")
        .to_string();
    spawn_announce(repos, name, updates, pusher);
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": count }))).into_response())
}

/// `POST /api/v1/repos/{name}/webhook`: a push or pull/merge request webhook from GitHub
/// (`X-Hub-Signature-256`), Gitea/Forgejo (`X-Gitea-Signature`/`X-Forgejo-Signature`) or GitLab
/// (`X-Gitlab-Token`); 202 for a push or a pull request, 200 for other events (ignored).
pub async fn webhook(
    State(repos): State<Arc<Repos>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let header = |key: &str| headers.get(key).and_then(|value| value.to_str().ok());
    repos.authenticate_webhook(
        &name,
        &body,
        &WebhookCredentials {
            github_signature: header("x-hub-signature-256"),
            gitea_signature: header("x-gitea-signature"),
            forgejo_signature: header("x-forgejo-signature"),
            gitlab_token: header("x-gitlab-token"),
        },
    )?;
    // Which forge sent it: its event header says (Forgejo also sends Gitea's).
    let (forge, event) = if let Some(event) = header("x-github-event") {
        (ForgeKind::GitHub, event)
    } else if let Some(event) = header("x-forgejo-event") {
        (ForgeKind::Forgejo, event)
    } else if let Some(event) = header("x-gitea-event") {
        (ForgeKind::Gitea, event)
    } else if let Some(event) = header("x-gitlab-event") {
        (ForgeKind::GitLab, event)
    } else {
        (ForgeKind::GitHub, "push")
    };
    let event = match (forge, event) {
        (ForgeKind::GitLab, "Merge Request Hook") => "pull_request",
        (ForgeKind::GitLab, "Push Hook" | "Tag Push Hook") => "push",
        (_, event) => event,
    };
    if event == "pull_request" {
        let Some(pull) = crate::forge::pull::parse(forge, &body)
            .map_err(|error| ApiError::bad_request(error.to_string()))?
        else {
            return Ok((
                StatusCode::OK,
                Json(json!({ "ignored": "merge request activity" })),
            )
                .into_response());
        };
        let number = pull.number;
        let action = pull.action.clone();
        tokio::spawn(async move {
            if let Err(error) = repos.pull_request(&name, pull).await {
                tracing::warn!(repository = %name, %error, "pull request not handled");
            }
        });
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "accepted": 1, "pull_request": number, "action": action })),
        )
            .into_response());
    }
    if event != "push" {
        return Ok((StatusCode::OK, Json(json!({ "ignored": event }))).into_response());
    }
    let push = parse_push(&body).map_err(|error| ApiError::bad_request(error.to_string()))?;
    spawn_announce(repos, name, vec![push.update], push.pusher);
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": 1 }))).into_response())
}

/// `GET /api/v1/schedules`.
pub async fn schedules(State(repos): State<Arc<Repos>>) -> Result<Response, ApiError> {
    Ok(Json(repos.schedules(jiff::Timestamp::now()).await?).into_response())
}

/// `GET /api/v1/commits/{sha}/statuses`: every run at that commit and its state.
pub async fn statuses(
    State(repos): State<Arc<Repos>>,
    Path(sha): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(repos.statuses(&sha)?).into_response())
}

fn spawn_announce(repos: Arc<Repos>, name: String, updates: Vec<RefUpdate>, pusher: String) {
    tokio::spawn(async move {
        if let Err(error) = repos.announce(&name, updates, &pusher).await {
            tracing::warn!(repository = %name, %error, "push not handled");
        }
    });
}

/// Every route of this file (merged into `api::router`).
pub fn routes() -> axum::Router<super::AppState> {
    use axum::routing::{delete, get, post};
    axum::Router::new()
        .route("/api/v1/repos", post(add).get(list))
        .route("/api/v1/repos/{name}", delete(remove))
        .route("/api/v1/repos/{name}/hook", post(hook))
        .route("/api/v1/repos/{name}/hook-token", post(hook_token))
        .route("/api/v1/repos/{name}/webhook", post(webhook))
        .route("/api/v1/repos/{name}/accept", post(accept))
        .route("/api/v1/repos/{name}/poll", post(poll))
        .route("/api/v1/schedules", get(schedules))
        .route("/api/v1/commits/{sha}/statuses", get(statuses))
}
