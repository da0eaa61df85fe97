//! Watched repositories: where each comes from, how often it is polled, the hash of its hook
//! token, its webhook secret, the ref values the engine has already triggered for, a pending ref
//! storm, and the last fire of each schedule. Kept in their own trees (`repos`,
//! `schedule_fires`), outside the run/job transactions.
//!
//! This file must not decide what a ref move means (the `repos` service does) and must not store
//! a hook token: only its SHA-256 hash.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::tokens::hex;
use super::{Store, StoreError, decode, encode, hash_secret};

/// One watched repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoRecord {
    /// The name the API and CLI use (`[A-Za-z0-9._-]+`).
    pub name: String,
    /// The path or URL the mirror fetches from.
    pub source: String,
    /// The engine's bare mirror (`<data>/mirrors/<name>.git`).
    pub mirror_path: String,
    /// Poll period in milliseconds; `None`: no polling beyond the one at engine start.
    pub poll_interval_ms: Option<u64>,
    /// Hex SHA-256 of the hook token.
    pub hook_token_hash: String,
    /// The webhook HMAC secret; `None`: webhooks are refused.
    pub webhook_secret: Option<String>,
    /// Full ref name → commit (hex): what runs were already started (or deliberately not) for.
    pub seen_refs: BTreeMap<String, String>,
    /// A fetch that moved too many refs at once, waiting for `repo accept`.
    pub pending_storm: Option<RefStorm>,
    /// When the repository was added, in microseconds since the Unix epoch.
    pub created_at_us: u64,
    /// `github.repository` (`owner/name` as GitHub has it, `local/<dir>` for a local repository
    /// with no remote), derived once when the repository is added. Empty in records written
    /// before it existed: readers then derive it from the mirror.
    #[serde(default)]
    pub github_repository: String,
    /// The forge the repository lives on (pull request webhooks, commit statuses); `None`: none.
    #[serde(default)]
    pub forge: Option<crate::forge::ForgeLink>,
}

/// A fetch that moved more refs than the storm limit: nothing was triggered for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefStorm {
    /// How many refs the fetch moved at once.
    pub moved_refs: usize,
    /// When the storm was seen, in microseconds since the Unix epoch.
    pub detected_at_us: u64,
}

impl RepoRecord {
    /// Whether `token` is this repository's hook token (constant-time over the hashes).
    pub fn hook_token_matches(&self, token: &str) -> bool {
        use subtle::ConstantTimeEq;
        let given = hex(&hash_secret(token));
        given
            .as_bytes()
            .ct_eq(self.hook_token_hash.as_bytes())
            .into()
    }
}

/// The hex SHA-256 a hook token is stored as.
pub fn hook_token_hash(token: &str) -> String {
    hex(&hash_secret(token))
}

impl Store {
    /// Inserts or replaces the record of `repo.name`; durable on return.
    pub async fn put_repo(&self, repo: &RepoRecord) -> Result<(), StoreError> {
        let key = repo.name.clone();
        let bytes = encode(repo);
        self.write(move |core| {
            core.trees
                .repos
                .insert(key.as_bytes(), bytes)
                .map(|_| ())
                .map_err(|error| core.database_error(error))
        })
        .await
    }

    /// The watched repository `name`, or `None` when none has that name.
    pub fn repo(&self, name: &str) -> Result<Option<RepoRecord>, StoreError> {
        match self
            .repos_tree()?
            .get(name.as_bytes())
            .map_err(|error| self.database_error(error))?
        {
            Some(bytes) => decode("repos", &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every watched repository, by name.
    pub fn repos(&self) -> Result<Vec<RepoRecord>, StoreError> {
        let mut repos = Vec::new();
        for entry in self.repos_tree()?.iter() {
            let (_, bytes) = entry.map_err(|error| self.database_error(error))?;
            repos.push(decode("repos", &bytes)?);
        }
        Ok(repos)
    }

    /// Removes the repository and its schedule fires; whether it existed. Durable on return.
    pub async fn remove_repo(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_string();
        self.write(move |core| {
            let db = |error| core.database_error(error);
            let existed = core
                .trees
                .repos
                .remove(name.as_bytes())
                .map_err(db)?
                .is_some();
            let fires = &core.trees.schedule_fires;
            let prefix = format!("{name}\u{0}");
            for entry in fires.scan_prefix(prefix.as_bytes()) {
                let (key, _) = entry.map_err(db)?;
                fires.remove(key).map_err(db)?;
            }
            Ok(existed)
        })
        .await
    }

    /// When schedule `key` (repo, workflow file, cron) last fired, in seconds since the epoch.
    pub fn schedule_last_fire(
        &self,
        repo: &str,
        workflow: &str,
        cron: &str,
    ) -> Result<Option<i64>, StoreError> {
        let key = schedule_key(repo, workflow, cron);
        Ok(self
            .schedule_fires_tree()?
            .get(key.as_bytes())
            .map_err(|error| self.database_error(error))?
            .and_then(|bytes| <[u8; 8]>::try_from(bytes.as_ref()).ok())
            .map(i64::from_be_bytes))
    }

    /// Records that the schedule fired (or starts counting) at `second`; durable on return.
    pub async fn set_schedule_last_fire(
        &self,
        repo: &str,
        workflow: &str,
        cron: &str,
        second: i64,
    ) -> Result<(), StoreError> {
        let key = schedule_key(repo, workflow, cron);
        self.write(move |core| {
            core.trees
                .schedule_fires
                .insert(key.as_bytes(), second.to_be_bytes())
                .map(|_| ())
                .map_err(|error| core.database_error(error))
        })
        .await
    }

    fn repos_tree(&self) -> Result<&super::Tree, StoreError> {
        Ok(&self.trees.repos)
    }

    fn schedule_fires_tree(&self) -> Result<&super::Tree, StoreError> {
        Ok(&self.trees.schedule_fires)
    }
}

fn schedule_key(repo: &str, workflow: &str, cron: &str) -> String {
    format!("{repo}\u{0}{workflow}\u{0}{cron}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> RepoRecord {
        RepoRecord {
            name: name.to_string(),
            source: "/src".to_string(),
            mirror_path: "/m".to_string(),
            poll_interval_ms: Some(30_000),
            hook_token_hash: hook_token_hash("secret-token"),
            webhook_secret: None,
            seen_refs: BTreeMap::from([("refs/heads/main".to_string(), "ab".repeat(20))]),
            pending_storm: None,
            created_at_us: 1,
            github_repository: "acme/app".to_string(),
            forge: None,
        }
    }

    #[tokio::test]
    async fn repos_and_fires_survive_reopen_and_go_with_remove() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_repo(&record("a")).await.unwrap();
            store.put_repo(&record("b")).await.unwrap();
            store
                .set_schedule_last_fire("a", "ci.yml", "0 * * * *", 42)
                .await
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let names: Vec<String> = store.repos().unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(store.repo("a").unwrap(), Some(record("a")));
        assert_eq!(
            store
                .schedule_last_fire("a", "ci.yml", "0 * * * *")
                .unwrap(),
            Some(42)
        );
        assert!(store.remove_repo("a").await.unwrap());
        assert!(!store.remove_repo("a").await.unwrap());
        assert_eq!(store.repo("a").unwrap(), None);
        assert_eq!(
            store
                .schedule_last_fire("a", "ci.yml", "0 * * * *")
                .unwrap(),
            None
        );
    }

    #[test]
    fn only_the_right_hook_token_matches() {
        let repo = record("a");
        assert!(repo.hook_token_matches("secret-token"));
        assert!(!repo.hook_token_matches("secret-tokeN"));
        assert!(!repo.hook_token_matches(""));
    }
}
