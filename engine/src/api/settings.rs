//! Repository secrets and configuration variables: list (no auth; secret values are never
//! sent), set and remove (admin token as `Authorization: Bearer`).
//!
//! The admin token is the content of `<data>/admin.token` (written by `slipway serve`); without
//! that file every admin call is refused. This file must not send a secret's value anywhere.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use protocol::wire::{SecretView, SetSettingRequest, VariableView};
use serde::Deserialize;

use super::extract::{Admin, ApiError, Versioned, check_version};
use crate::runs::dispatch::Engine;
use crate::secrets::{SecretsError, normalize_scope};

/// The admin token's file name inside the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// The routes of this file, merged into `api::router`.
pub(super) fn routes() -> Router<super::AppState> {
    Router::new()
        .route("/api/v1/secrets", get(list_secrets))
        .route(
            "/api/v1/secrets/{name}",
            put(set_secret).delete(remove_secret),
        )
        .route("/api/v1/variables", get(list_variables))
        .route(
            "/api/v1/variables/{name}",
            put(set_variable).delete(remove_variable),
        )
}

/// `?repository=R` (a scope; absent on a list: every scope) and the optional protocol version.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ScopeQuery {
    protocol_version: Option<u64>,
    repository: Option<String>,
}

impl ScopeQuery {
    fn check(&self) -> Result<(), ApiError> {
        match self.protocol_version {
            Some(version) => check_version(Some(version)),
            None => Ok(()),
        }
    }

    /// The scope named, or every repository's scope.
    fn scope(&self) -> String {
        normalize_scope(self.repository.as_deref())
    }
}

/// `GET /api/v1/secrets`: names, scopes and update times.
pub(super) async fn list_secrets(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<ScopeQuery>,
) -> Result<Json<Vec<SecretView>>, ApiError> {
    query.check()?;
    let scope = query.repository.as_ref().map(|_| query.scope());
    let secrets = engine.list_secrets(scope.as_deref())?;
    Ok(Json(
        secrets
            .into_iter()
            .map(|secret| SecretView {
                name: secret.name,
                repository: secret.repository,
                updated_at_us: secret.updated_at_us,
            })
            .collect(),
    ))
}

/// `PUT /api/v1/secrets/{name}` (admin).
pub(super) async fn set_secret(
    State(engine): State<Arc<Engine>>,
    _admin: Admin,
    Path(name): Path<String>,
    Versioned(request): Versioned<SetSettingRequest>,
) -> Result<Json<SecretView>, ApiError> {
    let scope = normalize_scope(Some(&request.repository));
    let secret = engine.set_secret(&scope, &name, &request.value).await?;
    tracing::info!(name = %secret.name, repository = %secret.repository, "secret set");
    Ok(Json(SecretView {
        name: secret.name,
        repository: secret.repository,
        updated_at_us: secret.updated_at_us,
    }))
}

/// `DELETE /api/v1/secrets/{name}?repository=R` (admin): 204, or 404 when there was none.
pub(super) async fn remove_secret(
    State(engine): State<Arc<Engine>>,
    _admin: Admin,
    Path(name): Path<String>,
    Query(query): Query<ScopeQuery>,
) -> Result<StatusCode, ApiError> {
    query.check()?;
    let scope = query.scope();
    if engine.remove_secret(&scope, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found("secret", &name, &scope))
    }
}

/// `GET /api/v1/variables`.
pub(super) async fn list_variables(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<ScopeQuery>,
) -> Result<Json<Vec<VariableView>>, ApiError> {
    query.check()?;
    let scope = query.repository.as_ref().map(|_| query.scope());
    let variables = engine.list_variables(scope.as_deref())?;
    Ok(Json(variables.into_iter().map(variable_view).collect()))
}

/// `PUT /api/v1/variables/{name}` (admin).
pub(super) async fn set_variable(
    State(engine): State<Arc<Engine>>,
    _admin: Admin,
    Path(name): Path<String>,
    Versioned(request): Versioned<SetSettingRequest>,
) -> Result<Json<VariableView>, ApiError> {
    let scope = normalize_scope(Some(&request.repository));
    let variable = engine.set_variable(&scope, &name, &request.value).await?;
    Ok(Json(variable_view(variable)))
}

/// `DELETE /api/v1/variables/{name}?repository=R` (admin).
pub(super) async fn remove_variable(
    State(engine): State<Arc<Engine>>,
    _admin: Admin,
    Path(name): Path<String>,
    Query(query): Query<ScopeQuery>,
) -> Result<StatusCode, ApiError> {
    query.check()?;
    let scope = query.scope();
    if engine.remove_variable(&scope, &name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found("variable", &name, &scope))
    }
}

impl From<SecretsError> for ApiError {
    fn from(error: SecretsError) -> ApiError {
        match error {
            SecretsError::InvalidName { .. } | SecretsError::InvalidValue { .. } => {
                ApiError::bad_request(error.to_string())
            }
            SecretsError::Store(error) => error.into(),
            other => {
                tracing::error!(error = %other, "secrets failure");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string())
            }
        }
    }
}

fn variable_view(record: crate::store::VariableRecord) -> VariableView {
    VariableView {
        name: record.name,
        repository: record.repository,
        value: record.value,
        updated_at_us: record.updated_at_us,
    }
}

fn not_found(kind: &str, name: &str, scope: &str) -> ApiError {
    let name = name.to_ascii_uppercase();
    if scope.is_empty() {
        ApiError::not_found(format!("find {kind} `{name}` for every repository"))
    } else {
        ApiError::not_found(format!("find {kind} `{name}` for repository `{scope}`"))
    }
}
