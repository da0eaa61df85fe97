//! The UI's forms that change something. Each needs a session and its CSRF token, then makes
//! exactly the call the admin API makes for the same change (re-run, cancel, approve/reject,
//! promote/withdraw, a registration token) and answers `303 See Other` to the page that shows the
//! result, or an error page saying why nothing changed.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use deploy::Decision;
use scheduler::RerunMode;
use serde::Deserialize;

use super::auth::{Session, path_segment};
use super::{Chrome, UiError, render};
use crate::api::AppState;
use crate::api::reads::parse_run_id;
use crate::deploy::releases::{PromoteRelease, WithdrawRelease};
use crate::runs::rerun::RerunError;

#[derive(Deserialize)]
pub(super) struct RerunForm {
    csrf: String,
    /// `all`, `failed` or `job`.
    mode: String,
    #[serde(default)]
    job: String,
}

/// `POST /runs/{run}/rerun`: a new attempt; answers with its page.
pub(super) async fn rerun(
    session: Session,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Form(form): Form<RerunForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    let run_id = parse_run_id(&run_id)?;
    let mode = match form.mode.as_str() {
        "failed" => RerunMode::Failed,
        "job" if !form.job.is_empty() => RerunMode::Job(form.job.clone()),
        "all" => RerunMode::All,
        other => {
            return Err(UiError(
                StatusCode::BAD_REQUEST,
                format!("field `mode`: `{other}` is not `all`, `failed` or `job` (with `job`)"),
            ));
        }
    };
    match state
        .orchestrator()
        .rerun_as(run_id, mode, Some(&session.caller.user))
        .await
    {
        Ok(started) => Ok(see(&format!("/runs/{}", started.started.run_id))),
        Err(error) => {
            let status = match &error {
                RerunError::NotFound(_) => StatusCode::NOT_FOUND,
                RerunError::NotFinished(_) | RerunError::Selection { .. } => StatusCode::CONFLICT,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            Err(UiError(status, error.to_string()))
        }
    }
}

#[derive(Deserialize)]
pub(super) struct CsrfForm {
    csrf: String,
}

/// `POST /runs/{run}/cancel`.
pub(super) async fn cancel(
    session: Session,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    let run_id = parse_run_id(&run_id)?;
    state.engine().cancel_run(run_id).await?;
    Ok(see(&format!("/runs/{run_id}")))
}

/// `POST /runs/{run}/jobs/{key}/cancel`: cancels one job (as `slipway cancel RUN --job KEY`).
pub(super) async fn cancel_job(
    session: Session,
    State(state): State<AppState>,
    Path((run_id, job_key)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    let run_id = parse_run_id(&run_id)?;
    state
        .engine()
        .cancel_one_job(run_id, &job_key)
        .await
        .map_err(crate::api::job_cancel_error)?;
    Ok(see(&format!("/runs/{run_id}")))
}

#[derive(Deserialize)]
pub(super) struct DecisionForm {
    csrf: String,
    environment: String,
    /// `approve` or `reject`.
    decision: String,
    #[serde(default)]
    comment: String,
    /// On the environments page: the run whose job waits.
    #[serde(default)]
    run_id: String,
}

/// `POST /runs/{run}/decide`: approve or reject a job waiting at an environment's gate.
pub(super) async fn decide(
    session: Session,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    apply_decision(&state, &session, &run_id, &form).await?;
    Ok(see(&format!("/runs/{}", path_segment(&run_id))))
}

/// `POST /environments/{name}/decide`: the same from the environments page.
pub(super) async fn decide_deployment(
    session: Session,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Form(mut form): Form<DecisionForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    form.environment = name;
    let run_id = form.run_id.clone();
    apply_decision(&state, &session, &run_id, &form).await?;
    Ok(see(&format!(
        "/environments#env-{}",
        path_segment(&form.environment)
    )))
}

async fn apply_decision(
    state: &AppState,
    session: &Session,
    run_id: &str,
    form: &DecisionForm,
) -> Result<(), UiError> {
    let run_id = parse_run_id(run_id)?;
    // The one who decides is the logged-in user, never a name typed into the form.
    let actor = session.caller.user.as_str();
    let decision = match form.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        other => {
            return Err(UiError(
                StatusCode::BAD_REQUEST,
                format!("field `decision`: `{other}` is not `approve` or `reject`"),
            ));
        }
    };
    let comment = Some(form.comment.trim().to_string()).filter(|c| !c.is_empty());
    state
        .orchestrator()
        .deployments()
        .decide(run_id, &form.environment, actor, decision, comment)
        .await
        .map_err(|error| UiError::from(crate::api::ApiError::from(error)))?;
    Ok(())
}

#[derive(Deserialize)]
pub(super) struct ReleaseForm {
    csrf: String,
    environment: String,
    #[serde(default)]
    audience: String,
    #[serde(default)]
    repo: String,
    #[serde(default)]
    reason: String,
}

/// `POST /releases/{tag}/promote`.
pub(super) async fn promote(
    session: Session,
    State(state): State<AppState>,
    Path(tag): Path<String>,
    Form(form): Form<ReleaseForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    let change = state
        .releases()
        .promote(
            PromoteRelease {
                tag,
                repo: Some(form.repo.clone()).filter(|repo| !repo.is_empty()),
                environment: form.environment.trim().to_string(),
                audience: if form.audience.trim().is_empty() {
                    "all".to_string()
                } else {
                    form.audience.trim().to_string()
                },
                requested_by: session.caller.user.clone(),
            },
            state.orchestrator(),
            jiff::Timestamp::now(),
        )
        .await;
    change.map_err(|error| UiError::from(crate::api::ApiError::from(error)))?;
    Ok(see("/releases"))
}

/// `POST /releases/{tag}/withdraw`.
pub(super) async fn withdraw(
    session: Session,
    State(state): State<AppState>,
    Path(tag): Path<String>,
    Form(form): Form<ReleaseForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    let change = state
        .releases()
        .withdraw(
            WithdrawRelease {
                tag,
                repo: Some(form.repo.clone()).filter(|repo| !repo.is_empty()),
                environment: form.environment.trim().to_string(),
                actor: session.caller.user.clone(),
                reason: Some(form.reason.trim().to_string()).filter(|r| !r.is_empty()),
            },
            state.orchestrator(),
            jiff::Timestamp::now(),
        )
        .await;
    change.map_err(|error| UiError::from(crate::api::ApiError::from(error)))?;
    Ok(see("/releases"))
}

#[derive(Template)]
#[template(path = "token.html")]
struct TokenPage {
    chrome: Chrome,
    token: String,
}

/// `POST /runners/token`: a one-time runner registration token, shown once.
pub(super) async fn registration_token(
    session: Session,
    State(state): State<AppState>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    let token = crate::store::create_registration_token(state.engine().store()).await?;
    Ok(render(&TokenPage {
        chrome: Chrome::new("Registration token", "runners", &session),
        token,
    }))
}

fn see(path: &str) -> Response {
    Redirect::to(path).into_response()
}
