//! `slipway migrate --from sled:DIR --to postgres://…`: copies every tree of a sled store
//! (runs, jobs, the queue and leases, the log index, scheduler states, repositories, secrets
//! still sealed, variables, users, tokens, every deployment-side record) into an empty
//! PostgreSQL store in one transaction, raises the id sequence past every id sled handed out
//! (fencing tokens and queue order stay increasing), and notes where the log files are.
//!
//! Log text is not copied: it stays in `DIR/logs`; serve from PostgreSQL with `--data-dir DIR`
//! (or copy that directory) so `slipway logs` finds it.
//!
//! This file must not know a record type: it copies bytes.

use std::path::{Path, PathBuf};

use super::kv::{Backend, BackendError, TxTree};
use super::kv_pg::{PgBackend, redact};
use super::kv_sled::SledBackend;
use super::{StoreError, all_trees};

/// The tree of notes about the store itself (`logs_dir`: where its log files were).
pub(super) const META_TREE: &str = "meta";

/// What `migrate_sled_to_postgres` copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrateReport {
    /// Each tree that held entries, with how many were copied.
    pub trees: Vec<(String, usize)>,
    /// The id sequence's floor in PostgreSQL after the copy.
    pub next_id: u64,
    /// Where the log files are (the sled store's `logs` directory).
    pub logs_dir: PathBuf,
}

/// Copies the sled store under `dir` into the empty PostgreSQL store at `url`. The engine on
/// `dir` must be stopped (sled's lock says so). Refuses a database that holds a store already.
pub fn migrate_sled_to_postgres(dir: &Path, url: &str) -> Result<MigrateReport, StoreError> {
    let sled_path = dir.join("db");
    if !sled_path.exists() {
        return Err(StoreError::Database {
            path: sled_path,
            message: "no sled store is there (expected `DIR/db` under the data dir)".into(),
        });
    }
    let from_error = |error: BackendError| StoreError::Database {
        path: sled_path.clone(),
        message: error.0,
    };
    let to_error = |error: BackendError| StoreError::Database {
        path: PathBuf::from(redact(url)),
        message: error.0,
    };
    let from = SledBackend::open(&sled_path).map_err(from_error)?;
    let to = PgBackend::open(url).map_err(to_error)?;
    let mut trees = all_trees();
    trees.push(META_TREE);
    for tree in &trees {
        if let Some(first) = to.scan(tree, &[]).map_err(to_error)?.next() {
            first.map_err(to_error)?;
            return Err(to_error(BackendError(format!(
                "the database holds a Slipway store already (tree `{tree}` has entries): \
                 migrate into an empty database"
            ))));
        }
    }
    let known: Vec<String> = trees.iter().map(|tree| tree.to_string()).collect();
    for name in from.tree_names().map_err(from_error)? {
        if !known.contains(&name) {
            tracing::warn!("sled tree `{name}` is not one this slipway knows; it is not copied");
        }
    }
    let logs_dir = std::path::absolute(dir.join("logs")).unwrap_or_else(|_| dir.join("logs"));
    let logs_note = logs_dir.to_string_lossy().into_owned();
    let counts = super::kv::transact(&to, &trees, |view| {
        let mut counts = Vec::new();
        for tree in all_trees() {
            let mut copied = 0;
            for entry in from.scan(tree, &[]).map_err(super::kv::TxError::Storage)? {
                let (key, value) = entry.map_err(super::kv::TxError::Storage)?;
                TxTree::new(view, tree).insert(key, value)?;
                copied += 1;
            }
            if copied > 0 {
                counts.push((tree.to_string(), copied));
            }
        }
        TxTree::new(view, META_TREE).insert("logs_dir", logs_note.as_bytes())?;
        Ok(counts)
    })
    .map_err(|error| match error {
        super::kv::TxError::Abort(error) => error,
        super::kv::TxError::Conflict => to_error(BackendError("the copy conflicted".into())),
        super::kv::TxError::Storage(error) => to_error(error),
    })?;
    let next_id = from.generate_id().map_err(from_error)?.saturating_add(1);
    to.raise_ids(next_id).map_err(to_error)?;
    Ok(MigrateReport {
        trees: counts,
        next_id,
        logs_dir,
    })
}
