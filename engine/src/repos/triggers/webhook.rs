//! Push webhooks from GitHub and Gitea (Forgejo sends Gitea's shape): their payloads turned into
//! the same [`RefUpdate`]s the git hook and polling produce, and their HMAC-SHA256 signatures
//! checked. Pure: no HTTP, no git, no clock. The API decides which requests reach here (the
//! `X-GitHub-Event` / `X-Gitea-Event` header must be `push`).

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::TriggerError;
use super::refs::RefUpdate;

/// What a push webhook says.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookPush {
    /// The ref the webhook says moved, with its `before` and `after` commits.
    pub update: RefUpdate,
    /// `repository.full_name` (`owner/name`), when the payload has it.
    pub repository: Option<String>,
    /// Who pushed: GitHub's `pusher.name`, Gitea's `pusher.login`/`username`, else `sender.login`.
    pub pusher: String,
    /// The payload as received.
    pub payload: Value,
}

/// Reads a GitHub- or Gitea-style push payload. A deletion comes as `after` all zeros (GitHub also
/// says `"deleted": true`), a creation as `before` all zeros.
pub fn parse_push(body: &[u8]) -> Result<WebhookPush, TriggerError> {
    let payload: Value = serde_json::from_slice(body)
        .map_err(|error| TriggerError::Invalid(format!("read webhook body: {error}")))?;
    let field = |name: &str| -> Result<String, TriggerError> {
        payload
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| {
                TriggerError::Invalid(format!(
                    "read webhook body: `{name}` is missing or not a string"
                ))
            })
    };
    let git_ref = field("ref")?;
    let before = field("before")?;
    let mut after = field("after")?;
    if payload.get("deleted").and_then(Value::as_bool) == Some(true) {
        after = crate::runs::event::ZERO_SHA.to_string();
    }
    let update = RefUpdate::from_hex(&before, &after, &git_ref)?;
    let repository = payload
        .pointer("/repository/full_name")
        .and_then(Value::as_str)
        .map(str::to_string);
    let pusher = [
        "/pusher/name",
        "/pusher/login",
        "/pusher/username",
        "/sender/login",
    ]
    .iter()
    .find_map(|pointer| payload.pointer(pointer).and_then(Value::as_str))
    .filter(|name| !name.is_empty())
    .unwrap_or("unknown")
    .to_string();
    Ok(WebhookPush {
        update,
        repository,
        pusher,
        payload,
    })
}

/// Checks an `X-Hub-Signature-256` header (`sha256=<hex>` of the HMAC-SHA256 of the raw body
/// under `secret`) in constant time. A missing or malformed header, or an empty secret, is false.
pub fn verify_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    header
        .and_then(|header| header.trim().strip_prefix("sha256="))
        .is_some_and(|hex| verify_hex(secret, body, hex))
}

/// Checks Gitea's `X-Gitea-Signature` header: the same HMAC-SHA256, as bare hex.
pub fn verify_gitea_signature(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    header.is_some_and(|hex| verify_hex(secret, body, hex.trim()))
}

/// Checks GitLab's `X-Gitlab-Token` header: the secret itself, compared in constant time. A
/// missing header or an empty secret is false.
pub fn verify_token(secret: &[u8], header: Option<&str>) -> bool {
    !secret.is_empty()
        && header.is_some_and(|given| {
            let given = given.trim().as_bytes();
            given.len() == secret.len() && bool::from(given.ct_eq(secret))
        })
}

/// The `X-Hub-Signature-256` value for `body` under `secret` (for tests and for sending).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let digest = hmac_sha256(secret, body);
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

fn verify_hex(secret: &[u8], body: &[u8], hex: &str) -> bool {
    if secret.is_empty() {
        return false;
    }
    let Some(given) = decode_hex(hex) else {
        return false;
    };
    let expected = hmac_sha256(secret, body);
    given.len() == expected.len() && bool::from(given.as_slice().ct_eq(expected.as_slice()))
}

fn hmac_sha256(secret: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length, so this cannot fail; an empty result never verifies.
    match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    // An odd length leaves a one-byte chunk, which is no byte.
    hex.as_bytes()
        .chunks(2)
        .map(|pair| match pair {
            [high, low] => Some(nibble(*high)? << 4 | nibble(*low)?),
            _ => None,
        })
        .collect()
}

fn nibble(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}
