//! The per-job token: what a job shows the engine's toolkit services (`ACTIONS_RUNTIME_TOKEN`)
//! and what it gets as `github.token` / `secrets.GITHUB_TOKEN`. One token does both.
//!
//! It is a JWT (HS256) because the official actions read its `scp` claim
//! (`Actions.Results:<run>:<job>`); its other claims name the job (`sub`), the lease it was minted
//! for (`fence`, the lease's fencing token) and its expiry (`exp`, seconds since the epoch). The
//! signing key is derived from the engine's secret key (`secrets.key`, loaded once per process),
//! so no second key file is kept and every engine process on a data dir agrees.
//!
//! What a token lets its holder do: read and write the caches of its job's scope (its repository,
//! its ref; read the default branch's) and its run's artifacts (`api::results`) — nothing
//! else: the admin and runner APIs never accept it. It is good while its lease is (a re-leased or
//! finished job's token is refused) and until `exp`, whichever ends first. Checking the lease is
//! the caller's part (`api::toolkit`); this file checks the signature and the expiry only.
//!
//! Pure functions over bytes and `now`; no I/O.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::SecretKey;

/// How long a token lives past the job's own time limit.
pub const EXPIRY_MARGIN_SECONDS: u64 = 15 * 60;
/// What the signing key is derived for (changing it invalidates every token).
const PURPOSE: &str = "slipway job token v1";

/// The key tokens are signed with, derived from the engine's secret key.
#[derive(Clone)]
pub struct JobTokenKey {
    bytes: [u8; 32],
}

impl std::fmt::Debug for JobTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobTokenKey(..)")
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobTokenClaims {
    /// The engine's job id (`JobId` as text).
    pub job_id: String,
    /// The run the job belongs to.
    pub run_id: String,
    /// The fencing token of the lease it was minted for.
    pub fencing_token: u64,
    /// Seconds since the epoch after which it is refused.
    pub expires_at_s: u64,
}

/// Why a token was refused (the API answers 401 for every one of them, without the reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobTokenError {
    /// The token is not three base64url parts (`header.payload.signature`), or its claims do not
    /// decode.
    #[error("the token is not a signed Slipway job token")]
    Malformed,
    /// The signature was not made with this engine's key (forged or altered token).
    #[error("the token's signature does not match")]
    BadSignature,
    /// The token's expiry (`expires_at_s`) has passed.
    #[error("the token expired")]
    Expired,
}

impl JobTokenKey {
    /// The token key of the engine whose secret key is `secret_key`.
    pub fn derive(secret_key: &SecretKey) -> JobTokenKey {
        JobTokenKey {
            bytes: secret_key.derive(PURPOSE),
        }
    }

    /// A key from raw bytes (tests).
    pub fn from_bytes(bytes: [u8; 32]) -> JobTokenKey {
        JobTokenKey { bytes }
    }

    /// A signed token for `claims`.
    pub fn mint(&self, claims: &JobTokenClaims, now_s: u64) -> String {
        let header = base64url_encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = serde_json::json!({
            "iss": "slipway",
            "sub": claims.job_id,
            "run": claims.run_id,
            "fence": claims.fencing_token,
            "iat": now_s,
            "exp": claims.expires_at_s,
            // The scopes GitHub's runtime tokens carry; `@actions/artifact` reads the last one.
            "scp": format!(
                "Actions.GenericRead:{run} Actions.Results:{run}:{job}",
                run = claims.run_id,
                job = claims.job_id
            ),
        });
        let payload = base64url_encode(payload.to_string().as_bytes());
        let signing_input = format!("{header}.{payload}");
        let signature = base64url_encode(&self.sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    /// The claims of `token` when its signature is this key's and it has not expired at `now_s`.
    pub fn verify(&self, token: &str, now_s: u64) -> Result<JobTokenClaims, JobTokenError> {
        let mut parts = token.trim().split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JobTokenError::Malformed);
        };
        let given = base64url_decode(signature).ok_or(JobTokenError::Malformed)?;
        let expected = self.sign(format!("{header}.{payload}").as_bytes());
        if !bool::from(given.as_slice().ct_eq(expected.as_slice())) {
            return Err(JobTokenError::BadSignature);
        }
        let payload = base64url_decode(payload).ok_or(JobTokenError::Malformed)?;
        let payload: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|_| JobTokenError::Malformed)?;
        let text = |name: &str| {
            payload
                .get(name)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
                .ok_or(JobTokenError::Malformed)
        };
        let number = |name: &str| {
            payload
                .get(name)
                .and_then(serde_json::Value::as_u64)
                .ok_or(JobTokenError::Malformed)
        };
        let claims = JobTokenClaims {
            job_id: text("sub")?,
            run_id: text("run")?,
            fencing_token: number("fence")?,
            expires_at_s: number("exp")?,
        };
        if claims.expires_at_s <= now_s {
            return Err(JobTokenError::Expired);
        }
        Ok(claims)
    }

    fn sign(&self, input: &[u8]) -> [u8; 32] {
        // HMAC accepts a key of any length: this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.bytes) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of every length"),
        };
        mac.update(input);
        mac.finalize().into_bytes().into()
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 §5), as JWTs use it.
pub fn base64url_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

/// The bytes of base64url text without padding; `None` when it is not such text.
pub fn base64url_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| ALPHABET.iter().position(|&a| a == c).map(|i| i as u32);
    let bytes = text.as_bytes();
    if bytes.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let produced = chunk.len() - 1;
        for i in 0..produced {
            out.push(((n >> (16 - 8 * i)) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> JobTokenClaims {
        JobTokenClaims {
            job_id: "0190-job".into(),
            run_id: "0190-run".into(),
            fencing_token: 7,
            expires_at_s: exp,
        }
    }

    #[test]
    fn a_minted_token_verifies_until_it_expires() {
        let key = JobTokenKey::from_bytes([3; 32]);
        let token = key.mint(&claims(1_000), 10);
        assert_eq!(key.verify(&token, 999), Ok(claims(1_000)));
        assert_eq!(key.verify(&token, 1_000), Err(JobTokenError::Expired));
    }

    #[test]
    fn another_key_or_a_changed_claim_is_refused() {
        let key = JobTokenKey::from_bytes([3; 32]);
        let token = key.mint(&claims(1_000), 10);
        let other = JobTokenKey::from_bytes([4; 32]);
        assert_eq!(other.verify(&token, 1), Err(JobTokenError::BadSignature));
        // Swap the payload for one with a later expiry, keeping the signature.
        let later = key.mint(&claims(9_000), 10);
        let mut parts: Vec<&str> = token.split('.').collect();
        let later_payload = later.split('.').nth(1).unwrap();
        parts[1] = later_payload;
        assert_eq!(
            key.verify(&parts.join("."), 1),
            Err(JobTokenError::BadSignature)
        );
        for bad in ["", "a.b", "a.b.c.d", "x.y.!!"] {
            assert!(key.verify(bad, 1).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_scope_claim_names_the_run_and_job() {
        let key = JobTokenKey::from_bytes([3; 32]);
        let token = key.mint(&claims(1_000), 10);
        let payload = base64url_decode(token.split('.').nth(1).unwrap()).unwrap();
        let payload: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        let scp = payload["scp"].as_str().unwrap();
        assert!(
            scp.split(' ')
                .any(|s| s == "Actions.Results:0190-run:0190-job")
        );
    }

    #[test]
    fn base64url_round_trips() {
        for len in 0..40u8 {
            let bytes: Vec<u8> = (0..len)
                .map(|i| i.wrapping_mul(37).wrapping_add(250))
                .collect();
            let text = base64url_encode(&bytes);
            assert!(!text.contains('='));
            assert_eq!(base64url_decode(&text), Some(bytes));
        }
        assert_eq!(base64url_encode(b"hello"), "aGVsbG8");
        assert_eq!(base64url_decode("a"), None);
        assert_eq!(base64url_decode("a+b/"), None);
    }
}
