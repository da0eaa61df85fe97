//! Users and tokens over HTTP: `POST/GET /api/v1/users`, `DELETE /api/v1/users/{name}`,
//! `POST/GET /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`, `GET /api/v1/whoami` and the
//! access log `GET /api/v1/audit/access`. The role table says who reaches each route; here
//! only "a token of someone else needs an admin" is decided.
//!
//! This file must never answer a token's secret except in the one answer that creates it.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use jiff::SignedDuration;
use protocol::PROTOCOL_VERSION;
use protocol::users::{
    AccessEntry, CreateTokenRequest, CreateUserRequest, CreatedToken, Role, TokenScope, TokenView,
    User, UserQuery, WhoAmI,
};

use super::AppState;
use super::extract::{ApiError, Caller, Versioned};
use crate::identity::{self, IdentityError};

/// Every route of this file (merged into `api::router`).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{name}", delete(remove_user))
        .route("/api/v1/tokens", get(list_tokens).post(create_token))
        .route("/api/v1/tokens/{id}", delete(revoke_token))
        .route("/api/v1/audit/access", get(access_log))
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> ApiError {
        let status = match &error {
            IdentityError::Invalid(_) => StatusCode::BAD_REQUEST,
            IdentityError::NoSuchUser(_) | IdentityError::NoSuchToken(_) => StatusCode::NOT_FOUND,
            IdentityError::UserExists(_) => StatusCode::CONFLICT,
            IdentityError::Forbidden(_) => StatusCode::FORBIDDEN,
            IdentityError::Store(store) => return ApiError::from_store(store, error.to_string()),
        };
        ApiError::new(status, error.to_string())
    }
}

async fn whoami(caller: Caller) -> Json<WhoAmI> {
    Json(WhoAmI {
        user: caller.user,
        role: caller.role,
        token: caller.token,
        scope: caller.scope,
    })
}

async fn list_users(State(state): State<AppState>) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(
        identity::users(state.engine().store())?
            .into_iter()
            .map(User::from)
            .collect(),
    ))
}

async fn add_user(
    State(state): State<AppState>,
    Versioned(request): Versioned<CreateUserRequest>,
) -> Result<Response, ApiError> {
    let user = identity::add_user(
        state.engine().store(),
        &request.name,
        request.role.unwrap_or(Role::Viewer),
        request.git_email,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(User::from(user))).into_response())
}

async fn remove_user(
    caller: Caller,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    if identity::user_key(&name) == identity::user_key(&caller.user) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("remove user `{name}`: that is you; another admin must do it"),
        ));
    }
    identity::remove_user(state.engine().store(), &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn create_token(
    caller: Caller,
    State(state): State<AppState>,
    Versioned(request): Versioned<CreateTokenRequest>,
) -> Result<Response, ApiError> {
    let user = request.user.clone().unwrap_or_else(|| caller.user.clone());
    may_touch(&caller, &user, "make a token for")?;
    let lifetime = match request.expires_in_secs {
        None => Some(identity::DEFAULT_TOKEN_LIFETIME),
        Some(0) => None,
        Some(seconds) => Some(SignedDuration::from_secs(i64::try_from(seconds).map_err(
            |_| ApiError::bad_request("field `expires_in_secs`: too far in the future"),
        )?)),
    };
    let store = state.engine().store();
    let (record, secret) = identity::create_token(
        store,
        &user,
        &request.name,
        lifetime,
        request.scope.unwrap_or(TokenScope::All),
    )
    .await?;
    let owner = identity::user(store, &user)?.map_or(user, |owner| owner.name);
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            protocol_version: PROTOCOL_VERSION,
            info: record.view(&owner),
            token: secret,
        }),
    )
        .into_response())
}

/// `?user=NAME`: an admin sees anyone's tokens (everyone's without the parameter); others
/// see only their own.
async fn list_tokens(
    caller: Caller,
    State(state): State<AppState>,
    Query(query): Query<UserQuery>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let store = state.engine().store();
    let user = match (&query.user, caller.role) {
        (Some(user), _) => {
            may_touch(&caller, user, "list the tokens of")?;
            Some(user.clone())
        }
        (None, Role::Admin) => None,
        (None, _) => Some(caller.user.clone()),
    };
    let names: std::collections::HashMap<String, String> = identity::users(store)?
        .into_iter()
        .map(|user| (identity::user_key(&user.name), user.name))
        .collect();
    Ok(Json(
        identity::tokens(store, user.as_deref())?
            .iter()
            .map(|token| token.view(names.get(&token.user).unwrap_or(&token.user)))
            .collect(),
    ))
}

async fn revoke_token(
    caller: Caller,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<TokenView>, ApiError> {
    let store = state.engine().store();
    let revoked = identity::revoke_token(store, &id, |token| {
        if caller.role == Role::Admin || token.user == identity::user_key(&caller.user) {
            Ok(())
        } else {
            // Someone else's token is not found, as far as this caller can tell.
            Err(IdentityError::NoSuchToken(id.clone()))
        }
    })
    .await?;
    let owner = identity::user(store, &revoked.user)?.map_or(revoked.user.clone(), |u| u.name);
    Ok(Json(revoked.view(&owner)))
}

async fn access_log(
    State(state): State<AppState>,
    Query(query): Query<UserQuery>,
) -> Result<Json<Vec<AccessEntry>>, ApiError> {
    Ok(Json(identity::access_log(
        state.engine().store(),
        query.user.as_deref(),
    )?))
}

/// Only an admin acts on another user's tokens.
fn may_touch(caller: &Caller, user: &str, what: &str) -> Result<(), ApiError> {
    if caller.role == Role::Admin || identity::user_key(user) == identity::user_key(&caller.user) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "{what} user `{user}`: needs role `admin`; user `{}` has role `{}`",
                caller.user, caller.role
            ),
        ))
    }
}
