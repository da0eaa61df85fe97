//! Plain keyed records of the deployment side of the engine, one tree per kind:
//! environments, deployments, approvals, lanes, releases, the audit log, blue-green live slots.
//! Each record is JSON under a string key; a write is durable on return.
//!
//! This file stores and reads; it does not decide anything (`engine::deployments` and
//! `engine::deploy::releases` do, with `deploy`'s rules). Writes that must move together (a deployment
//! and its lane) go through `put_records`: one transaction over the trees involved, durable by one flush.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::kv::TxTree;
use super::{Store, StoreError, decode, encode};

/// A kind of record, naming its tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// `deploy::Environment` by name.
    Environments,
    /// `deploy::Deployment` by id (uuid v7: ordered by creation).
    Deployments,
    /// `Vec<deploy::Approval>` by `run:<run_id>:<environment>` or `release:<tag>:<environment>`
    /// or `phase:<deployment_id>:<phase>`.
    Approvals,
    /// `deploy::Lane` by environment name.
    Lanes,
    /// `deploy::Release` by `<repository>\0<tag>`.
    Releases,
    /// `deploy::AuditEntry` by a sortable id.
    Audit,
    /// Engine-side facts per environment (live blue-green slot …), by environment name.
    EnvironmentState,
    /// `concurrency::GroupRecord` by lowercased group name (who runs, who waits).
    ConcurrencyGroups,
    /// `rerun::RunTrigger` by run id: what started a run, so it can be re-run.
    RunTriggers,
    /// `serve --repo`/`--demo` start-up runs by `<repository path>\0<sha>\0<workflow file>`:
    /// which push workflows already started for a commit, so a restart starts nothing twice.
    StartupRuns,
    /// `protocol::actions::ActionSource` by a sortable key (tried in key order).
    ActionSources,
    /// `protocol::actions::ActionMirror` by lower-cased `owner/repo`.
    ActionMirrors,
    /// `identity::UserRecord` by lower-cased login.
    Users,
    /// `identity::TokenRecord` by the hex SHA-256 of the token (never the token itself).
    UserTokens,
    /// `protocol::users::AccessEntry` by a sortable id: changes made and calls refused.
    AccessAudit,
}

impl RecordKind {
    /// Every kind (each has its tree, opened with the store).
    pub(super) const ALL: [RecordKind; 15] = [
        RecordKind::Environments,
        RecordKind::Deployments,
        RecordKind::Approvals,
        RecordKind::Lanes,
        RecordKind::Releases,
        RecordKind::Audit,
        RecordKind::EnvironmentState,
        RecordKind::ConcurrencyGroups,
        RecordKind::RunTriggers,
        RecordKind::StartupRuns,
        RecordKind::ActionSources,
        RecordKind::ActionMirrors,
        RecordKind::Users,
        RecordKind::UserTokens,
        RecordKind::AccessAudit,
    ];

    /// The kind's place in `ALL`. Exhaustive on purpose: a new kind does not compile until it
    /// has one, and `every_kind_has_its_tree` fails until `ALL` lists it.
    #[cfg(test)]
    fn position(self) -> usize {
        match self {
            RecordKind::Environments => 0,
            RecordKind::Deployments => 1,
            RecordKind::Approvals => 2,
            RecordKind::Lanes => 3,
            RecordKind::Releases => 4,
            RecordKind::Audit => 5,
            RecordKind::EnvironmentState => 6,
            RecordKind::ConcurrencyGroups => 7,
            RecordKind::RunTriggers => 8,
            RecordKind::StartupRuns => 9,
            RecordKind::ActionSources => 10,
            RecordKind::ActionMirrors => 11,
            RecordKind::Users => 12,
            RecordKind::UserTokens => 13,
            RecordKind::AccessAudit => 14,
        }
    }

    pub(super) fn tree(self) -> &'static str {
        match self {
            RecordKind::Environments => "environments",
            RecordKind::Deployments => "deployments",
            RecordKind::Approvals => "approvals",
            RecordKind::Lanes => "lanes",
            RecordKind::Releases => "releases",
            RecordKind::Audit => "audit",
            RecordKind::EnvironmentState => "environment_state",
            RecordKind::ConcurrencyGroups => "concurrency_groups",
            RecordKind::RunTriggers => "run_triggers",
            RecordKind::StartupRuns => "startup_runs",
            RecordKind::ActionSources => "action_sources",
            RecordKind::ActionMirrors => "action_mirrors",
            RecordKind::Users => "users",
            RecordKind::UserTokens => "user_tokens",
            RecordKind::AccessAudit => "access_audit",
        }
    }
}

impl Store {
    /// Reads one record; `None` when there is none under `key`.
    pub fn record<T: DeserializeOwned>(
        &self,
        kind: RecordKind,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let tree = self.record_tree(kind)?;
        match tree
            .get(key.as_bytes())
            .map_err(|error| self.database_error(error))?
        {
            Some(bytes) => decode(kind.tree(), &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Every record of a kind whose key starts with `prefix`, in key order.
    pub fn records<T: DeserializeOwned>(
        &self,
        kind: RecordKind,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let tree = self.record_tree(kind)?;
        let mut records = Vec::new();
        for entry in tree.scan_prefix(prefix.as_bytes()) {
            let (_, bytes) = entry.map_err(|error| self.database_error(error))?;
            records.push(decode(kind.tree(), &bytes)?);
        }
        Ok(records)
    }

    /// Writes (or replaces) one record; durable on return.
    pub async fn put_record<T: Serialize>(
        &self,
        kind: RecordKind,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        self.put_records(&[(kind, key.to_string(), encode(value))])
            .await
    }

    /// Writes several records (any kinds) with one flush; durable on return. Build the items
    /// with `Store::encode_record`.
    pub async fn put_records(
        &self,
        items: &[(RecordKind, String, Vec<u8>)],
    ) -> Result<(), StoreError> {
        let items = items.to_vec();
        self.write(move |core| {
            // One transaction over exactly the trees involved: all the records land, or none.
            let mut kinds: Vec<RecordKind> = Vec::new();
            for (kind, _, _) in &items {
                if !kinds.contains(kind) {
                    kinds.push(*kind);
                }
            }
            let trees: Vec<&'static str> = kinds.iter().map(|kind| kind.tree()).collect();
            core.transact_over(&trees, |view| {
                for (kind, key, bytes) in &items {
                    TxTree::new(view, kind.tree()).insert(key.as_bytes(), bytes)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// The bytes `put_records` stores for `value`.
    pub fn encode_record<T: Serialize>(value: &T) -> Vec<u8> {
        encode(value)
    }

    /// Removes one record; `false` when there was none. Durable on return.
    pub async fn remove_record(&self, kind: RecordKind, key: &str) -> Result<bool, StoreError> {
        let key = key.to_string();
        self.write(move |core| {
            Ok(core
                .record_tree(kind)?
                .remove(key.as_bytes())
                .map_err(|error| core.database_error(error))?
                .is_some())
        })
        .await
    }

    /// A key that sorts after every key made before it (for the audit log and deployment ids).
    /// (sled's id counter is an atomic; it persists itself once per million ids.)
    pub fn sortable_key(&self) -> Result<String, StoreError> {
        let sequence = self.generate_id()?;
        Ok(format!("{:016x}-{sequence:016x}", super::now_us()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_round_trip_and_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .put_record(RecordKind::Environments, "staging", &vec!["a", "b"])
                .await
                .unwrap();
            store
                .put_records(&[
                    (
                        RecordKind::Lanes,
                        "prod".into(),
                        Store::encode_record(&1u32),
                    ),
                    (
                        RecordKind::Lanes,
                        "production".into(),
                        Store::encode_record(&2u32),
                    ),
                ])
                .await
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        let staging: Option<Vec<String>> =
            store.record(RecordKind::Environments, "staging").unwrap();
        assert_eq!(staging.unwrap(), ["a", "b"]);
        let lanes: Vec<u32> = store.records(RecordKind::Lanes, "prod").unwrap();
        assert_eq!(lanes, [1, 2]);
        assert!(
            store
                .remove_record(RecordKind::Lanes, "prod")
                .await
                .unwrap()
        );
        assert!(
            !store
                .remove_record(RecordKind::Lanes, "prod")
                .await
                .unwrap()
        );
        let first = store.sortable_key().unwrap();
        let second = store.sortable_key().unwrap();
        assert!(first < second);
    }

    #[tokio::test]
    async fn a_corrupt_record_is_an_error_naming_its_tree() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .put_record(RecordKind::Releases, "x", &"text")
            .await
            .unwrap();
        let read: Result<Option<u32>, _> = store.record(RecordKind::Releases, "x");
        let error = read.unwrap_err().to_string();
        assert!(error.contains("releases"), "{error}");
    }
}

#[cfg(test)]
mod kind_tests {
    use super::RecordKind;

    #[test]
    fn every_kind_has_its_tree() {
        for (index, kind) in RecordKind::ALL.iter().enumerate() {
            assert_eq!(kind.position(), index, "{kind:?} out of place in ALL");
        }
        let trees: std::collections::BTreeSet<&str> =
            RecordKind::ALL.iter().map(|kind| kind.tree()).collect();
        assert_eq!(trees.len(), RecordKind::ALL.len());
    }
}
