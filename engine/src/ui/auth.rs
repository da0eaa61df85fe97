//! Who may see the web UI: the login page takes the admin token once and answers with a session
//! cookie (`HttpOnly`, `SameSite=Strict`); every page needs that cookie, and every form that
//! changes something carries a CSRF token tied to the session.
//!
//! Sessions keep no state in the engine: the cookie is a random nonce and its HMAC-SHA256 under
//! a key derived from the admin token, and the CSRF token is another HMAC of the same nonce. A new
//! admin token ends every session. This file must not render pages beyond the login form.

use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::api::AppState;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "slipway_ui";

/// A browser that logged in; `csrf` is the token its forms must carry.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf: String,
}

impl Session {
    /// Checks a form's CSRF token (constant time); a mismatch is 403 and nothing happens.
    pub fn check_csrf(&self, given: &str) -> Result<(), super::UiError> {
        if bool::from(self.csrf.as_bytes().ct_eq(given.as_bytes())) {
            Ok(())
        } else {
            Err(super::UiError(
                StatusCode::FORBIDDEN,
                "the form's CSRF token does not match this session: reload the page and try again"
                    .to_string(),
            ))
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let key = session_key(state);
        let cookie = cookie_value(parts);
        if let (Some(key), Some(cookie)) = (key, cookie)
            && let Some(session) = verify(&key, &cookie)
        {
            return Ok(session);
        }
        let path = OriginalUri::from_request_parts(parts, state)
            .await
            .map(|uri| uri.0.to_string())
            .unwrap_or_else(|_| "/".to_string());
        if parts.uri.path().starts_with("/api/") || parts.method != axum::http::Method::GET {
            return Err((StatusCode::UNAUTHORIZED, "log in first: open /login").into_response());
        }
        Err(Redirect::to(&format!("/login?next={}", percent_encode(&path))).into_response())
    }
}

/// Whether `token` is the engine's admin token.
pub fn token_is_valid(state: &AppState, token: &str) -> bool {
    let Some(expected) = crate::api::admin_token_hash(&state.engine().config().data_dir) else {
        return false;
    };
    bool::from(crate::store::hash_secret(token.trim()).ct_eq(&expected))
}

/// A new session: the `Set-Cookie` header value.
pub fn new_session_cookie(state: &AppState) -> Option<HeaderValue> {
    let key = session_key(state)?;
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).ok()?;
    let nonce = hex(&nonce);
    let mac = mac(&key, &format!("session:{nonce}"));
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={nonce}.{mac}; Path=/; HttpOnly; SameSite=Strict"
    ))
    .ok()
}

/// The `Set-Cookie` value that ends a session.
pub fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("slipway_ui=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Adds `Set-Cookie` to a response.
pub fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// Only a path on this site is followed after login (never `//host` or a full URL).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') => {
            next.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Percent-encodes everything but unreserved characters and `/` (for a query value).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encodes a path segment (`/` too).
pub fn path_segment(text: &str) -> String {
    percent_encode(text).replace('/', "%2F")
}

fn session_key(state: &AppState) -> Option<[u8; 32]> {
    let hash = crate::api::admin_token_hash(&state.engine().config().data_dir)?;
    // A key of its own, so the session MAC is not the token's plain hash.
    let mut derived = <Hmac<Sha256> as Mac>::new_from_slice(&hash).ok()?;
    derived.update(b"slipway web ui session key");
    Some(derived.finalize().into_bytes().into())
}

fn cookie_value(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

fn verify(key: &[u8; 32], cookie: &str) -> Option<Session> {
    let (nonce, given) = cookie.split_once('.')?;
    let expected = mac(key, &format!("session:{nonce}"));
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return None;
    }
    Some(Session {
        csrf: mac(key, &format!("csrf:{nonce}")),
    })
}

fn mac(key: &[u8; 32], message: &str) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message.as_bytes());
            hex(&mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cookie_verifies_only_with_its_own_mac() {
        let key = [7u8; 32];
        let nonce = "abc";
        let good = format!("{nonce}.{}", mac(&key, "session:abc"));
        let session = verify(&key, &good).unwrap();
        assert_eq!(session.csrf, mac(&key, "csrf:abc"));
        assert!(verify(&key, "abc.00").is_none());
        assert!(verify(&[8u8; 32], &good).is_none());
        assert!(verify(&key, "no-dot").is_none());
        assert!(session.check_csrf(&session.csrf).is_ok());
        assert!(session.check_csrf("forged").is_err());
    }

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/runs/1?x=2")), "/runs/1?x=2");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
