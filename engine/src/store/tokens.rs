//! One-time registration tokens, and the secret helpers runner credentials share with them.
//! Only SHA-256 hashes of secrets are stored; a token is consumed in the same transaction that
//! registers its runner.
//!
//! This file must not log or return a stored secret: once handed out, a secret exists only on
//! the side that received it.

use sha2::{Digest, Sha256};

use super::{Store, StoreError, now_us};

/// A new random secret: 32 bytes from the operating system, hex-encoded.
pub fn new_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| StoreError::Random(error.to_string()))?;
    Ok(hex(&bytes))
}

/// The SHA-256 of a secret: what the store keeps instead of the secret.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

impl Store {
    /// Makes a one-time registration token for one runner; durable on return. Only its hash is
    /// stored, so the returned string is the only copy.
    pub async fn create_registration_token(&self) -> Result<String, StoreError> {
        let token = new_secret()?;
        let hash = hash_secret(&token);
        let stamp = now_us().to_be_bytes().to_vec();
        self.write(move |core| {
            core.trees
                .registration_tokens
                .insert(hash, stamp)
                .map(|_| ())
                .map_err(|error| core.database_error(error))
        })
        .await?;
        Ok(token)
    }
}

/// The admin's call: a new one-time registration token (see `Store::create_registration_token`).
pub async fn create_registration_token(store: &Store) -> Result<String, StoreError> {
    store.create_registration_token().await
}
