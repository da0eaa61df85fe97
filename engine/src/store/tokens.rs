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

impl Store {
    /// Reads the record under `key`, lets `change` edit it and writes it back, all on the
    /// writer thread, so no other write lands between the read and the write (a token's
    /// last-used stamp can never undo its revocation). `None` when there is no such record;
    /// else `change`'s answer. Durable on return.
    pub async fn update_record<T, R>(
        &self,
        kind: super::RecordKind,
        key: &str,
        change: impl FnOnce(&mut T) -> R + Send + 'static,
    ) -> Result<Option<R>, StoreError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
        R: Send + 'static,
    {
        let key = key.to_string();
        self.write(move |core| {
            let tree = core.record_tree(kind)?;
            let Some(bytes) = tree
                .get(key.as_bytes())
                .map_err(|error| core.database_error(error))?
            else {
                return Ok(None);
            };
            let mut value: T = super::decode(kind.tree(), &bytes)?;
            let answer = change(&mut value);
            tree.insert(key.as_bytes(), super::encode(&value))
                .map_err(|error| core.database_error(error))?;
            Ok(Some(answer))
        })
        .await
    }
}

impl Store {
    /// Every record of a kind with its key, in key order.
    pub fn keyed_records<T: serde::de::DeserializeOwned>(
        &self,
        kind: super::RecordKind,
    ) -> Result<Vec<(String, T)>, StoreError> {
        let tree = self.record_tree(kind)?;
        let mut records = Vec::new();
        for entry in tree.iter() {
            let (key, bytes) = entry.map_err(|error| self.database_error(error))?;
            records.push((
                String::from_utf8_lossy(&key).into_owned(),
                super::decode(kind.tree(), &bytes)?,
            ));
        }
        Ok(records)
    }
}
