//! Repository secrets (already sealed by `crate::secrets`) and configuration variables, in the
//! `settings` tree, keyed `<kind> \0 <repository> \0 <NAME>` so one scope reads as one range.
//!
//! This file must not see a secret in plaintext nor decide names or scopes: `crate::secrets`
//! checks and seals before anything arrives here.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, decode, encode};

const TREE: &str = "settings";
const SECRET: &str = "secret";
const VARIABLE: &str = "var";

/// A stored secret: the sealed value (hex of `nonce || ciphertext+tag`), never the plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretRecord {
    /// The scope: a repository, or `""` for every repository.
    pub repository: String,
    /// Upper-case.
    pub name: String,
    /// The sealed value: hex of `nonce || ciphertext+tag`, opened only with the engine's key.
    pub sealed: String,
    /// When the secret was last set, in microseconds since the Unix epoch.
    pub updated_at_us: u64,
}

/// A stored configuration variable (`vars.NAME`): plain text, variables are not secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariableRecord {
    /// The scope: a repository, or `""` for every repository.
    pub repository: String,
    /// The variable's name as `vars.NAME` reads it, e.g. `DEPLOY_REGION`.
    pub name: String,
    /// The variable's value, plain text.
    pub value: String,
    /// When the variable was last set, in microseconds since the Unix epoch.
    pub updated_at_us: u64,
}

impl Store {
    /// Stores (or replaces) a sealed secret; durable on return.
    pub async fn put_secret(&self, record: &SecretRecord) -> Result<(), StoreError> {
        self.put_setting(SECRET, &record.repository, &record.name, encode(record))
            .await
    }

    /// Secrets of one scope (`Some("")` is the every-repository scope), or of all (`None`),
    /// ordered by scope then name.
    pub fn secrets(&self, repository: Option<&str>) -> Result<Vec<SecretRecord>, StoreError> {
        self.scan_settings(SECRET, repository)
    }

    /// Removes a secret; `false` when there was none. Durable on return.
    pub async fn remove_secret(&self, repository: &str, name: &str) -> Result<bool, StoreError> {
        self.remove_setting(SECRET, repository, name).await
    }

    /// Stores (or replaces) a configuration variable; durable on return.
    pub async fn put_variable(&self, record: &VariableRecord) -> Result<(), StoreError> {
        self.put_setting(VARIABLE, &record.repository, &record.name, encode(record))
            .await
    }

    /// Variables of one scope (`Some("")` is the every-repository scope), or of all (`None`),
    /// ordered by scope then name.
    pub fn variables(&self, repository: Option<&str>) -> Result<Vec<VariableRecord>, StoreError> {
        self.scan_settings(VARIABLE, repository)
    }

    /// Removes a variable; `false` when there was none. Durable on return.
    pub async fn remove_variable(&self, repository: &str, name: &str) -> Result<bool, StoreError> {
        self.remove_setting(VARIABLE, repository, name).await
    }

    fn settings_tree(&self) -> Result<&super::Tree, StoreError> {
        Ok(&self.trees.settings)
    }

    async fn put_setting(
        &self,
        kind: &str,
        repository: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<(), StoreError> {
        let key = setting_key(kind, repository, name);
        self.write(move |core| {
            core.trees
                .settings
                .insert(key, bytes)
                .map(|_| ())
                .map_err(|error| core.database_error(error))
        })
        .await
    }

    async fn remove_setting(
        &self,
        kind: &str,
        repository: &str,
        name: &str,
    ) -> Result<bool, StoreError> {
        let key = setting_key(kind, repository, name);
        self.write(move |core| {
            Ok(core
                .trees
                .settings
                .remove(key)
                .map_err(|error| core.database_error(error))?
                .is_some())
        })
        .await
    }

    fn scan_settings<T: DeserializeOwned>(
        &self,
        kind: &str,
        repository: Option<&str>,
    ) -> Result<Vec<T>, StoreError> {
        let prefix = match repository {
            Some(repository) => format!("{kind}\0{repository}\0"),
            None => format!("{kind}\0"),
        };
        let mut records = Vec::new();
        for entry in self.settings_tree()?.scan_prefix(prefix.as_bytes()) {
            let (_, bytes) = entry.map_err(|error| self.database_error(error))?;
            records.push(decode(TREE, &bytes)?);
        }
        Ok(records)
    }
}

fn setting_key(kind: &str, repository: &str, name: &str) -> Vec<u8> {
    format!("{kind}\0{repository}\0{name}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(repository: &str, name: &str) -> SecretRecord {
        SecretRecord {
            repository: repository.into(),
            name: name.into(),
            sealed: "00".into(),
            updated_at_us: 1,
        }
    }

    #[tokio::test]
    async fn scopes_do_not_bleed_into_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        for (repository, name) in [("", "A"), ("org/app", "B"), ("org/app2", "C"), ("", "D")] {
            store.put_secret(&secret(repository, name)).await.unwrap();
        }
        let names = |records: Vec<SecretRecord>| -> Vec<String> {
            records.into_iter().map(|record| record.name).collect()
        };
        assert_eq!(names(store.secrets(Some("")).unwrap()), ["A", "D"]);
        assert_eq!(names(store.secrets(Some("org/app")).unwrap()), ["B"]);
        assert_eq!(names(store.secrets(None).unwrap()), ["A", "D", "B", "C"]);
        assert!(store.variables(None).unwrap().is_empty());
        assert!(store.remove_secret("org/app", "B").await.unwrap());
        assert!(!store.remove_secret("org/app", "B").await.unwrap());
        assert!(store.secrets(Some("org/app")).unwrap().is_empty());
    }
}
