//! Who may see the web UI: the login page takes a user token once (`slipway token create`, or
//! the first start's `admin.token`) and answers with a session cookie (`HttpOnly`,
//! `SameSite=Strict`) that names that token; every page is reached as that token's user, with
//! the role the role table asks for (`api::access` checks it), and every form that changes
//! something carries a CSRF token tied to the session.
//!
//! Sessions keep no state in the engine: the cookie is the token's store key (its hash, never
//! the token), a random nonce and their HMAC-SHA256 under a key derived from the engine's
//! secret key; the CSRF token is another HMAC of the same nonce. Revoking the token, its expiry
//! or removing its user ends the session at the next request. This file must not render pages
//! beyond the login form.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::api::AppState;
use crate::identity::{self, Caller};

/// The session cookie's name.
pub(super) const COOKIE_NAME: &str = "slipway_ui";

/// The user a page is for; `csrf` is the token its forms must carry (`None` when the request
/// came with a bearer token rather than the cookie: no ambient credential, nothing to forge).
#[derive(Debug, Clone)]
pub(super) struct Session {
    pub csrf: Option<String>,
    pub caller: Caller,
}

impl Session {
    /// Checks a form's CSRF token (constant time); a mismatch is 403 and nothing happens.
    pub(super) fn check_csrf(&self, given: &str) -> Result<(), super::UiError> {
        let Some(csrf) = &self.csrf else {
            return Ok(());
        };
        if bool::from(csrf.as_bytes().ct_eq(given.as_bytes())) {
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
        // `api::access` authenticated the request and left its caller.
        let Some(caller) = parts.extensions.get::<Caller>().cloned() else {
            return Err((StatusCode::UNAUTHORIZED, "log in first: open /login").into_response());
        };
        let csrf = session_key(state)
            .zip(cookie_value(&parts.headers))
            .and_then(|(key, cookie)| verify(&key, &cookie))
            .filter(|verified| verified.token_key == caller.token_key)
            .map(|verified| verified.csrf);
        if csrf.is_none()
            && parts
                .headers
                .get(axum::http::header::AUTHORIZATION)
                .is_none()
        {
            return Err((StatusCode::UNAUTHORIZED, "log in first: open /login").into_response());
        }
        Ok(Session { csrf, caller })
    }
}

/// The caller a request's session cookie names (a valid cookie of a live token), if any.
pub(crate) async fn session_caller(state: &AppState, headers: &HeaderMap) -> Option<Caller> {
    let key = session_key(state)?;
    let verified = verify(&key, &cookie_value(headers)?)?;
    identity::authenticate_key(state.engine().store(), &verified.token_key)
        .await
        .ok()
        .filter(|caller| caller.scope == protocol::users::TokenScope::All)
}

/// The caller a token typed into the login form names, or why it cannot log in.
pub(super) async fn login_caller(state: &AppState, token: &str) -> Result<Caller, String> {
    let caller = identity::authenticate(state.engine().store(), token.trim())
        .await
        .map_err(|error| format!("That token cannot log in: {error}."))?;
    if caller.scope != protocol::users::TokenScope::All {
        return Err(format!(
            "The token `{}` has scope `{}`: it cannot log in.",
            caller.token, caller.scope
        ));
    }
    Ok(caller)
}

/// A new session for `caller`'s token: the `Set-Cookie` header value.
pub(super) fn new_session_cookie(state: &AppState, caller: &Caller) -> Option<HeaderValue> {
    let key = session_key(state)?;
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).ok()?;
    let nonce = hex(&nonce);
    let token_key = &caller.token_key;
    let mac = mac(&key, &format!("session:{token_key}:{nonce}"));
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={token_key}.{nonce}.{mac}; Path=/; HttpOnly; SameSite=Strict"
    ))
    .ok()
}

/// The `Set-Cookie` value that ends a session.
pub(super) fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static("slipway_ui=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Adds `Set-Cookie` to a response.
pub(super) fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(SET_COOKIE, cookie);
    response
}

/// Only a path on this site is followed after login (never `//host` or a full URL).
pub(super) fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next) if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') => {
            next.to_string()
        }
        _ => "/".to_string(),
    }
}

/// Percent-encodes everything but unreserved characters and `/` (for a query value).
pub(crate) fn percent_encode(text: &str) -> String {
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
pub(super) fn path_segment(text: &str) -> String {
    percent_encode(text).replace('/', "%2F")
}

fn session_key(state: &AppState) -> Option<[u8; 32]> {
    let secret = crate::secrets::SecretKey::shared(&state.engine().config().data_dir).ok()?;
    Some(secret.derive("slipway web ui session key"))
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

/// A cookie whose MAC holds: the token it names and the session's CSRF token.
struct Verified {
    token_key: String,
    csrf: String,
}

fn verify(key: &[u8; 32], cookie: &str) -> Option<Verified> {
    let mut parts = cookie.splitn(3, '.');
    let (token_key, nonce, given) = (parts.next()?, parts.next()?, parts.next()?);
    let expected = mac(key, &format!("session:{token_key}:{nonce}"));
    if !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        return None;
    }
    Some(Verified {
        token_key: token_key.to_string(),
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
        let good = format!("tk.abc.{}", mac(&key, "session:tk:abc"));
        let verified = verify(&key, &good).unwrap();
        assert_eq!(verified.token_key, "tk");
        assert_eq!(verified.csrf, mac(&key, "csrf:abc"));
        assert!(verify(&key, "tk.abc.00").is_none());
        assert!(verify(&[8u8; 32], &good).is_none());
        assert!(verify(&key, "no-dot").is_none());
        // Another token's key under the same MAC is refused.
        let forged = format!("other.abc.{}", mac(&key, "session:tk:abc"));
        assert!(verify(&key, &forged).is_none());
        let session = Session {
            csrf: Some(verified.csrf.clone()),
            caller: Caller {
                user: "u".into(),
                role: protocol::users::Role::Viewer,
                token: "t".into(),
                token_key: "tk".into(),
                scope: protocol::users::TokenScope::All,
            },
        };
        assert!(session.check_csrf(&verified.csrf).is_ok());
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
