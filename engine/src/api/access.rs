//! The access check every request passes before its handler: the route is looked up in the
//! role table (`identity::routes`; a route without an entry is refused), the caller is
//! authenticated (a bearer user token, or the web UI's session cookie), and the one decision
//! `identity::decide` says whether it goes on. A bad, expired or revoked token is 401 at once; a
//! role too low or a token scope too narrow is 403 naming what is needed, and is written to the
//! access log, as is every change an authenticated user makes.
//!
//! Routes that take credentials of their own (the runner protocol, the job token of the
//! official actions' cache service, hook tokens and webhook signatures) pass through untouched:
//! their handlers authenticate, and a user token is never such a credential.
//!
//! This file must not decide who may do what beyond applying the table and `identity::decide`.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use protocol::users::{AccessEntry, Role};

use super::AppState;
use super::extract::ApiError;
use crate::identity::{self, Access, AuthError, Caller, Verdict};

/// The middleware (installed over the whole router by `api::router`).
pub(crate) async fn check(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    // A request that matched no route gets the router's 404 (there is nothing to protect).
    let Some(template) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|matched| matched.as_str().to_string())
    else {
        return next.run(request).await;
    };
    let Some(access) = identity::routes::access(method.as_str(), &template) else {
        tracing::error!(%method, route = %template, "a route has no entry in the role table");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "`{method} {template}` has no entry in the engine's role table (identity::routes), so nobody may call it"
            ),
        )
        .into_response();
    };
    if matches!(
        access,
        Access::Public | Access::Runner | Access::JobToken | Access::Webhook
    ) {
        return next.run(request).await;
    }
    let caller = match authenticate(&state, request.headers()).await {
        Ok(caller) => caller,
        Err(response) => return *response,
    };
    match identity::decide(access, &path, caller.as_ref()) {
        Verdict::Allow | Verdict::HandlerAuthenticates => {}
        Verdict::Unauthenticated => return unauthenticated(&method, &path, request.uri()),
        Verdict::BelowRole { needed } => {
            let caller = caller.as_ref();
            let message = format!(
                "`{method} {path}` needs role `{needed}`; user `{}` has role `{}`",
                caller.map_or("", |caller| caller.user.as_str()),
                caller.map_or(Role::Viewer, |caller| caller.role),
            );
            return refuse(&state, caller, &method, &path, Some(needed), message).await;
        }
        Verdict::OutOfScope => {
            let caller = caller.as_ref();
            let message = format!(
                "the token `{}` has scope `{}`: it reaches only the feature-flag reads under /ofrep/, not `{method} {path}`",
                caller.map_or("", |caller| caller.token.as_str()),
                caller.map_or(protocol::users::TokenScope::All, |caller| caller.scope),
            );
            let needed = match access {
                Access::User(needed) => Some(needed),
                _ => None,
            };
            return refuse(&state, caller, &method, &path, needed, message).await;
        }
    }
    let Some(caller) = caller else {
        return unauthenticated(&method, &path, request.uri());
    };
    request.extensions_mut().insert(caller.clone());
    let response = next.run(request).await;
    if is_change(&method) {
        let entry = AccessEntry {
            at: jiff::Timestamp::now(),
            user: caller.user,
            token: caller.token,
            method: method.to_string(),
            path,
            status: response.status().as_u16(),
            needed: None,
        };
        if let Err(error) = identity::record_access(state.engine().store(), &entry).await {
            tracing::error!(%error, "failed to write the access log");
        }
    }
    response
}

/// The caller a request's credential names: a bearer token first, else the web UI's session
/// cookie; `Ok(None)` when it carries neither. A bearer token that names nobody is 401 here.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Caller>, Box<Response>> {
    let store = state.engine().store();
    if let Some(value) = headers.get(AUTHORIZATION) {
        let secret = value
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .unwrap_or("");
        if secret.is_empty() {
            return Err(Box::new(
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "the Authorization header is not `Bearer TOKEN`",
                )
                .into_response(),
            ));
        }
        return match identity::authenticate(store, secret).await {
            Ok(caller) => Ok(Some(caller)),
            Err(AuthError::Store(error)) => Err(Box::new(ApiError::from(error).into_response())),
            Err(AuthError::Unknown) => {
                // A store from before users: its admin token becomes `admin`'s first token the
                // first time it is shown (the engine normally does this at start).
                match identity::bootstrap(store, &state.engine().config().data_dir).await {
                    Ok(true) => match identity::authenticate(store, secret).await {
                        Ok(caller) => Ok(Some(caller)),
                        Err(error) => Err(Box::new(invalid_token(&error))),
                    },
                    Ok(false) => Err(Box::new(invalid_token(&AuthError::Unknown))),
                    Err(error) => Err(Box::new(ApiError::from(error).into_response())),
                }
            }
            Err(error) => Err(Box::new(invalid_token(&error))),
        };
    }
    Ok(crate::ui::session_caller(state, headers).await)
}

fn invalid_token(error: &AuthError) -> Response {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        format!("invalid token: {error} (make one with `slipway token create`)"),
    )
    .into_response()
}

/// 401, or for a web page the login page (which comes back to it).
fn unauthenticated(method: &Method, path: &str, uri: &axum::http::Uri) -> Response {
    let is_page =
        method == Method::GET && !path.starts_with("/api/") && !path.starts_with("/ofrep/");
    if is_page {
        let target = uri
            .path_and_query()
            .map_or(path.to_string(), |target| target.as_str().to_string());
        return Redirect::to(&format!(
            "/login?next={}",
            crate::ui::percent_encode(&target)
        ))
        .into_response();
    }
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "missing token: send `Authorization: Bearer TOKEN` (the CLI: --token or SLIPWAY_TOKEN; the web UI: log in at /login)",
    )
    .into_response()
}

/// 403 with `message`, written to the access log.
async fn refuse(
    state: &AppState,
    caller: Option<&Caller>,
    method: &Method,
    path: &str,
    needed: Option<Role>,
    message: String,
) -> Response {
    tracing::info!(%method, %path, "refused: {message}");
    if let Some(caller) = caller {
        let entry = AccessEntry {
            at: jiff::Timestamp::now(),
            user: caller.user.clone(),
            token: caller.token.clone(),
            method: method.to_string(),
            path: path.to_string(),
            status: StatusCode::FORBIDDEN.as_u16(),
            needed,
        };
        if let Err(error) = identity::record_access(state.engine().store(), &entry).await {
            tracing::error!(%error, "failed to write the access log");
        }
    }
    ApiError::new(StatusCode::FORBIDDEN, message).into_response()
}

fn is_change(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}
