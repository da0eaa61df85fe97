//! What every handler needs before it starts: a JSON body whose `protocol_version` matches
//! ours, the runner behind a bearer credential, the authenticated user (`Caller`, put there by
//! `access`), and a JSON error for whatever went wrong.
//!
//! This file must not change state: a request refused here (400, 401) leaves everything as it
//! was.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use protocol::PROTOCOL_VERSION;
use protocol::wire::ErrorBody;
use serde::de::DeserializeOwned;

use super::AppState;
pub use crate::identity::Caller;
use crate::store::{RunnerRecord, StoreError};

/// An error answer: a status and a message, sent as `{"error": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status the answer is sent with.
    pub status: StatusCode,
    /// The human-readable message, sent as the body's `error` field.
    pub message: String,
}

impl ApiError {
    /// An error answer with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// A 400 Bad Request answer with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// A 404 Not Found answer with `message`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        let message = error.to_string();
        ApiError::from_store(&error, message)
    }
}

impl ApiError {
    /// The status a store failure answers with, and `message`.
    pub fn from_store(error: &StoreError, message: String) -> ApiError {
        let status = match error {
            StoreError::RunNotFound(_)
            | StoreError::JobNotFound(_)
            | StoreError::RunnerNotFound(_) => StatusCode::NOT_FOUND,
            StoreError::NotYourJob { .. } => StatusCode::FORBIDDEN,
            StoreError::StaleLease { .. } | StoreError::JobExists { .. } => StatusCode::CONFLICT,
            StoreError::InvalidRegistrationToken => StatusCode::UNAUTHORIZED,
            StoreError::NoSpace { .. } => {
                tracing::error!(%error, "store write refused");
                StatusCode::INSUFFICIENT_STORAGE
            }
            // The database is unreachable or refused (a PostgreSQL being restarted): worth
            // retrying, here or at another replica.
            StoreError::Database { .. } => {
                tracing::error!(%error, "store failure");
                StatusCode::SERVICE_UNAVAILABLE
            }
            StoreError::LogFile { .. } | StoreError::Corrupt { .. } | StoreError::Random(_) => {
                tracing::error!(%error, "store failure");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, message)
    }
}

/// A JSON body that carries `protocol_version` equal to ours (else 400 naming both).
pub(crate) struct Versioned<T>(pub T);

impl<T, S> FromRequest<S> for Versioned<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|error| ApiError::bad_request(format!("read the request body: {error}")))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|error| ApiError::bad_request(format!("request body is not JSON: {error}")))?;
        check_version(value.get("protocol_version").and_then(|v| v.as_u64()))?;
        let body = serde_json::from_value(value)
            .map_err(|error| ApiError::bad_request(format!("request body: {error}")))?;
        Ok(Versioned(body))
    }
}

/// `None` (a GET without the optional query parameter) passes; any other version is refused.
pub(super) fn check_version(version: Option<u64>) -> Result<(), ApiError> {
    match version {
        Some(version) if version == u64::from(PROTOCOL_VERSION) => Ok(()),
        Some(version) => Err(ApiError::bad_request(format!(
            "protocol version mismatch: the request speaks version {version}, this engine speaks version {PROTOCOL_VERSION}"
        ))),
        None => Err(ApiError::bad_request(format!(
            "missing field `protocol_version` (this engine speaks version {PROTOCOL_VERSION})"
        ))),
    }
}

/// The runner whose credential came as `Authorization: Bearer …` (else 401, and nothing is
/// touched). On success its last-seen stamp moves.
pub(super) struct AuthedRunner(pub RunnerRecord);

impl FromRequestParts<AppState> for AuthedRunner {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let engine = state.engine();
        let unauthorized = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or invalid runner credential",
            )
        };
        let credential = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .ok_or_else(unauthorized)?;
        let runner = engine
            .store()
            .authenticate_runner(credential.trim())?
            .ok_or_else(unauthorized)?;
        engine.store().touch_runner(runner.runner_id)?;
        Ok(AuthedRunner(runner))
    }
}

/// The authenticated user the access check (`api::access`) admitted to this route: its role is
/// at least the route's minimum in the role table. Handlers take it as the actor of what they do;
/// without it (a route the check did not cover) the request is 401 and nothing is touched.
impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing token: send `Authorization: Bearer TOKEN`",
            )
        })
    }
}

/// The name handlers have always used for "an authenticated caller with the route's role";
/// the role itself is the role table's (`identity::routes`), not the handler's.
pub(super) type Admin = Caller;
