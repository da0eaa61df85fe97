//! The OpenFeature Remote Evaluation Protocol (OFREP) over HTTP, so an application with any
//! OpenFeature SDK and its OFREP provider follows Slipway's releases with no code of its own:
//! `POST /ofrep/v1/evaluate/flags/{key}` evaluates one flag for the request's `context`, `POST
//! /ofrep/v1/evaluate/flags` every flag (with an `ETag`; a matching `If-None-Match` is answered
//! 304). The flags are the releases' (`deploy::releases::flags`): `release.<repo>[.<env>]`
//! evaluates to the tag of the released version the context gets.
//!
//! The bodies are OpenFeature's (its OpenAPI document), not Slipway's `protocol` types: they are
//! built here as JSON and no Slipway client reads them.
//!
//! Who may ask is decided by [`authorize_flag_reader`], the one check on these routes. This file
//! must not decide who gets what: `deploy::evaluate_release_flag` does.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header::{ETAG, IF_NONE_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use deploy::{FlagContext, FlagEvaluationError};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::AppState;
use crate::deploy::releases::Releases;
use crate::deploy::releases::flags::{FlagAnswer, FlagLookupError};

/// Who may evaluate flags: the access check in front of every route (`api::access`, the role
/// table's `Flags` entries) has authenticated the caller — any valid user token, or a token
/// with the `flags:read` scope, which reaches nothing else — and left it in the request. A
/// request without one is refused here too (OFREP's 401 with `errorDetails`), so these routes
/// never answer an anonymous caller even if the table changed.
pub fn authorize_flag_reader(parts: &Parts, _state: &AppState) -> Result<(), FlagReaderRefused> {
    match parts.extensions.get::<crate::identity::Caller>() {
        Some(_) => Ok(()),
        None => Err(FlagReaderRefused(
            "a bearer token is needed: a user token or one with the `flags:read` scope (`slipway token create --scope flags:read`)".into(),
        )),
    }
}

/// A request [`authorize_flag_reader`] refused: answered 401 with OFREP's `errorDetails`.
#[derive(Debug)]
pub struct FlagReaderRefused(String);

impl IntoResponse for FlagReaderRefused {
    fn into_response(self) -> Response {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "errorDetails": self.0 })),
        )
            .into_response()
    }
}

/// The OFREP caller, checked by [`authorize_flag_reader`].
pub struct FlagReader;

impl axum::extract::FromRequestParts<AppState> for FlagReader {
    type Rejection = FlagReaderRefused;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authorize_flag_reader(parts, state)?;
        Ok(FlagReader)
    }
}

/// `POST /ofrep/v1/evaluate/flags/{key}`: 200 with `key`, `value` (the tag), `reason`,
/// `variant`, `metadata`; 404 `FLAG_NOT_FOUND` (unknown flag, or nothing released reaches the
/// context), 400 `INVALID_CONTEXT` / `TARGETING_KEY_MISSING`.
pub async fn evaluate(
    _reader: FlagReader,
    State(releases): State<Arc<Releases>>,
    Path(key): Path<String>,
    bytes: Bytes,
) -> Response {
    let context = match read_context(&bytes) {
        Ok(context) => context,
        Err(details) => {
            return failure(
                StatusCode::BAD_REQUEST,
                Some(&key),
                "INVALID_CONTEXT",
                &details,
            );
        }
    };
    let answer = {
        let releases = releases.clone();
        let key = key.clone();
        tokio::task::spawn_blocking(move || releases.evaluate_flag(&key, &context)).await
    };
    match answer {
        Ok(Ok(answer)) => match &answer.result {
            Ok(_) => (StatusCode::OK, Json(success(&answer))).into_response(),
            Err(error @ FlagEvaluationError::TargetingKeyMissing { .. }) => failure(
                StatusCode::BAD_REQUEST,
                Some(&key),
                "TARGETING_KEY_MISSING",
                &error.to_string(),
            ),
            Err(error @ FlagEvaluationError::NothingReleased { .. }) => failure(
                StatusCode::NOT_FOUND,
                Some(&key),
                "FLAG_NOT_FOUND",
                &error.to_string(),
            ),
        },
        Ok(Err(FlagLookupError::NotFound(details))) => failure(
            StatusCode::NOT_FOUND,
            Some(&key),
            "FLAG_NOT_FOUND",
            &details,
        ),
        Ok(Err(FlagLookupError::Service(error))) => internal(&error.to_string()),
        Err(error) => internal(&error.to_string()),
    }
}

/// `POST /ofrep/v1/evaluate/flags`: every flag that gives the context a value, and failures for
/// those that cannot place it (`TARGETING_KEY_MISSING`); flags that release nothing to it are
/// left out. The `ETag` is a hash of the answer; `If-None-Match` with it gets 304.
pub async fn evaluate_all(
    _reader: FlagReader,
    State(releases): State<Arc<Releases>>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    let context = match read_context(&bytes) {
        Ok(context) => context,
        Err(details) => return failure(StatusCode::BAD_REQUEST, None, "INVALID_CONTEXT", &details),
    };
    let answers = tokio::task::spawn_blocking(move || releases.evaluate_all_flags(&context)).await;
    let answers = match answers {
        Ok(Ok(answers)) => answers,
        Ok(Err(error)) => return internal(&error.to_string()),
        Err(error) => return internal(&error.to_string()),
    };
    let flags: Vec<Value> = answers
        .iter()
        .filter_map(|answer| match &answer.result {
            Ok(_) => Some(success(answer)),
            Err(error @ FlagEvaluationError::TargetingKeyMissing { .. }) => Some(json!({
                "key": answer.flag.key,
                "errorCode": "TARGETING_KEY_MISSING",
                "errorDetails": error.to_string(),
            })),
            Err(FlagEvaluationError::NothingReleased { .. }) => None,
        })
        .collect();
    let body = json!({ "flags": flags });
    let text = body.to_string();
    let etag = entity_tag(&text);
    if if_none_match(&headers, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(ETAG, value);
        }
        return response;
    }
    let mut response = (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(ETAG, value);
    }
    response
}

/// Every route of this file (merged into `api::router`).
pub fn routes() -> axum::Router<AppState> {
    use axum::routing::post;
    axum::Router::new()
        .route("/ofrep/v1/evaluate/flags", post(evaluate_all))
        .route("/ofrep/v1/evaluate/flags/{key}", post(evaluate))
}

/// `{"context": {...}}`; an empty body is an empty context.
fn read_context(bytes: &Bytes) -> Result<FlagContext, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(FlagContext::default());
    }
    let body: Value =
        serde_json::from_slice(bytes).map_err(|error| format!("request body: {error}"))?;
    let Value::Object(fields) = &body else {
        return Err("request body must be a JSON object with a `context`".into());
    };
    FlagContext::from_json(fields.get("context"))
}

fn success(answer: &FlagAnswer) -> Value {
    let Ok(resolution) = &answer.result else {
        return Value::Null;
    };
    json!({
        "key": answer.flag.key,
        "value": resolution.tag,
        "reason": resolution.reason.as_str(),
        "variant": resolution.tag,
        "metadata": {
            "repository": answer.flag.repository,
            "environment": answer.flag.environment,
            "audience": resolution.audience.to_string(),
            "sha": resolution.sha,
            "flag": answer.flag.canonical_key,
        },
    })
}

fn failure(status: StatusCode, key: Option<&str>, code: &str, details: &str) -> Response {
    let mut body = json!({ "errorCode": code, "errorDetails": details });
    if let Some(key) = key {
        body["key"] = json!(key);
    }
    (status, Json(body)).into_response()
}

fn internal(details: &str) -> Response {
    tracing::error!(details, "flag evaluation failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({ "errorDetails": details })),
    )
        .into_response()
}

/// A strong entity tag of the answer's bytes.
fn entity_tag(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let hex: String = digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("\"{hex}\"")
}

/// Whether `If-None-Match` lists `etag` (or is `*`); weak tags compare by their opaque part.
fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|given| given == "*" || given.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_lists() {
        let etag = entity_tag("{}");
        let mut headers = HeaderMap::new();
        assert!(!if_none_match(&headers, &etag));
        headers.insert(
            IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"other\", W/{etag}")).unwrap(),
        );
        assert!(if_none_match(&headers, &etag));
        assert_ne!(entity_tag("{}"), entity_tag("{ }"));
    }

    #[test]
    fn contexts() {
        assert_eq!(read_context(&Bytes::new()), Ok(FlagContext::default()));
        let context = read_context(&Bytes::from_static(
            br#"{"context": {"targetingKey": "u1", "tier": "premium"}}"#,
        ))
        .unwrap();
        assert_eq!(context.targeting_key.as_deref(), Some("u1"));
        assert_eq!(context.attributes["tier"], "premium");
        assert!(
            read_context(&Bytes::from_static(b"[1]"))
                .unwrap_err()
                .contains("JSON object")
        );
    }
}
