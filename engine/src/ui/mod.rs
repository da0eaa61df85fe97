//! The web UI, served by `slipway serve` at `/`: server-rendered pages (askama templates in
//! `engine/templates/`, escaped by default) and one small script and stylesheet
//! (`engine/static/`), all compiled into the binary. Every page reads without JavaScript; the
//! script only makes pages live (server-sent events, then a fetch of the same page).
//!
//! Files: `auth` (login with a user token, session cookie, CSRF), `runs` (the run list and a run's page),
//! `graph` (a run's job graph as SVG over `layout`, the pure layered layout), `logs` (a job's log:
//! windows of lines, search, follow; ANSI rendering in `ansi`), `actions` (the forms that change
//! something: re-run, cancel, approve/reject, promote/withdraw, registration tokens), `live` (the
//! JSON event stream of run states the pages follow), `markdown` (step summaries),
//! `admin_pages` (environments, releases, the release calendar, runners, repositories), `format` (times, durations,
//! state names).
//!
//! **Architecture Invariant:** the UI reads through the same functions as the JSON read API
//! (`api::reads`, the store, `Deployments`, `Releases`, `Repos`) and changes state only through
//! the calls the admin API makes; nothing here holds policy or state of its own but caches.

mod actions;
mod admin_pages;
pub mod ansi;
mod auth;
pub(crate) use auth::{percent_encode, session_caller};
mod format;
mod graph;
pub mod layout;
mod live;
mod logs;
pub mod markdown;
mod runs;

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::api::AppState;

/// Every route of the UI and of the JSON endpoints it added (merged into `api::router`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/runs") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/static/ui.css", get(stylesheet))
        .route("/static/ui.js", get(script))
        .route("/runs", get(runs::list_page))
        .route("/runs/{run_id}", get(runs::run_page))
        .route("/runs/{run_id}/jobs/{job_key}", get(logs::log_page))
        .route(
            "/runs/{run_id}/jobs/{job_key}/lines",
            get(logs::lines_fragment),
        )
        .route("/runs/{run_id}/rerun", post(actions::rerun))
        .route("/runs/{run_id}/cancel", post(actions::cancel))
        .route(
            "/runs/{run_id}/jobs/{job_key}/cancel",
            post(actions::cancel_job),
        )
        .route("/runs/{run_id}/decide", post(actions::decide))
        .route("/environments", get(admin_pages::environments_page))
        .route(
            "/environments/{name}/decide",
            post(actions::decide_deployment),
        )
        .route("/releases", get(admin_pages::releases_page))
        .route("/releases/calendar", get(admin_pages::calendar_page))
        .route("/releases/{tag}/reach", post(admin_pages::reach_page))
        .route("/releases/{tag}/promote", post(actions::promote))
        .route("/releases/{tag}/withdraw", post(actions::withdraw))
        .route("/runners", get(admin_pages::runners_page))
        .route("/runners/token", post(actions::registration_token))
        .route("/repositories", get(admin_pages::repositories_page))
        .merge(live::routes())
        .merge(logs::api_routes())
}

/// What every page's frame shows: its title, the section lit in the menu, the CSRF token for
/// its forms.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The page's title, shown in the browser tab as `<title> · Slipway`, e.g. `Runners`.
    pub title: String,
    /// The menu entry shown as current, e.g. `runners`; `""` for pages outside the menu.
    pub section: &'static str,
    /// The session's CSRF token for the page's forms; empty when no one is signed in (no menu is
    /// shown then).
    pub csrf: String,
}

impl Chrome {
    fn new(title: impl Into<String>, section: &'static str, session: &auth::Session) -> Chrome {
        Chrome {
            title: title.into(),
            section,
            csrf: session.csrf.clone().unwrap_or_default(),
        }
    }
}

/// A page or an error, rendered.
fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => {
            let mut response = Html(html).into_response();
            response
                .headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(error) => {
            tracing::error!(%error, "failed to render a page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "failed to render the page",
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    message: String,
}

/// An error as a page (status kept), for the browser.
fn error_page(status: StatusCode, message: impl Into<String>) -> Response {
    let page = ErrorPage {
        chrome: Chrome {
            title: format!("Error {}", status.as_u16()),
            section: "",
            csrf: String::new(),
        },
        status: status.as_u16(),
        message: message.into(),
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    response
}

impl From<crate::api::ApiError> for UiError {
    fn from(error: crate::api::ApiError) -> UiError {
        UiError(error.status, error.message)
    }
}

impl From<crate::store::StoreError> for UiError {
    fn from(error: crate::store::StoreError) -> UiError {
        crate::api::ApiError::from(error).into()
    }
}

/// A failure a handler answers as an error page.
pub struct UiError(StatusCode, String);

impl UiError {
    fn not_found(message: impl Into<String>) -> UiError {
        UiError(StatusCode::NOT_FOUND, message.into())
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        error_page(self.0, self.1)
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_page(Query(query): Query<NextQuery>) -> Response {
    render(&LoginPage {
        chrome: Chrome {
            title: "Log in".into(),
            section: "",
            csrf: String::new(),
        },
        next: auth::safe_next(query.next.as_deref()),
        error: None,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
    next: Option<String>,
}

async fn login(State(state): State<AppState>, axum::Form(form): axum::Form<LoginForm>) -> Response {
    let next = auth::safe_next(form.next.as_deref());
    let refusal = match auth::login_caller(&state, &form.token).await {
        Ok(caller) => match auth::new_session_cookie(&state, &caller) {
            Some(cookie) => {
                return auth::with_cookie(Redirect::to(&next).into_response(), cookie);
            }
            None => "The engine cannot make a session now (its secret key is unreadable).".into(),
        },
        Err(refusal) => refusal,
    };
    let mut response = render(&LoginPage {
        chrome: Chrome {
            title: "Log in".into(),
            section: "",
            csrf: String::new(),
        },
        next,
        error: Some(refusal),
    });
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    response
}

async fn logout() -> Response {
    auth::with_cookie(
        Redirect::to("/login").into_response(),
        auth::cleared_cookie(),
    )
}

async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../static/ui.css"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../static/ui.js"),
    )
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static("max-age=300")),
        ],
        body,
    )
        .into_response()
}
