//! The sled backend (the default): one sled database in `<data>/db`, one sled tree per store
//! tree, opened on first use. Same files on disk as before the backend trait existed.
//!
//! This file must not know a record type.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, TransactionError, TransactionalTree, UnabortableTransactionError,
};

use super::kv::{BResult, Backend, BackendError, Entries, TxBody, TxError, TxResult, TxView};

/// sled's page cache size.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Opens the sled database at `path`. sled takes an exclusive lock on its files; a store that was
/// just closed (an engine process still exiting, a store dropped a moment ago) may hold it for a
/// few milliseconds more, so a busy lock is retried for up to 3 s before it is reported.
fn open_when_free(path: &Path) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        // sled's page cache defaults to 1 GiB and fills as history grows; the engine's working
        // set (queued and leased jobs, unfinished runs) is small, so a small cache keeps its
        // resident memory flat (bench B4: idle RSS after 10,000 jobs).
        // sled's periodic flusher is off: the store's writer thread is the only one that
        // flushes (see `writer.rs` for the deadlock this avoids).
        let opened = sled::Config::new()
            .path(path)
            .cache_capacity(CACHE_BYTES)
            .flush_every_ms(None)
            .open();
        match opened {
            // sled reports a busy lock as an `Other` I/O error with this text.
            Err(sled::Error::Io(error))
                if error.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// A sled database and the trees opened so far.
pub(crate) struct SledBackend {
    path: PathBuf,
    db: sled::Db,
    trees: Mutex<HashMap<&'static str, sled::Tree>>,
}

fn failed(error: sled::Error) -> BackendError {
    BackendError(error.to_string())
}

impl SledBackend {
    /// Opens (or creates) the sled database at `path`.
    pub(crate) fn open(path: &Path) -> BResult<SledBackend> {
        let db = open_when_free(path).map_err(failed)?;
        Ok(SledBackend {
            path: path.to_path_buf(),
            db,
            trees: Mutex::new(HashMap::new()),
        })
    }

    fn tree(&self, name: &'static str) -> BResult<sled::Tree> {
        let mut trees = self.trees.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tree) = trees.get(name) {
            return Ok(tree.clone());
        }
        let tree = self.db.open_tree(name).map_err(failed)?;
        trees.insert(name, tree.clone());
        Ok(tree)
    }
}

/// The transactional trees of one sled transaction, by name.
struct SledTx<'a> {
    names: &'a [&'static str],
    views: &'a [TransactionalTree],
}

fn tx_failed(error: UnabortableTransactionError) -> TxError {
    match error {
        UnabortableTransactionError::Conflict => TxError::Conflict,
        UnabortableTransactionError::Storage(error) => TxError::Storage(failed(error)),
    }
}

impl SledTx<'_> {
    fn view(&self, tree: &'static str) -> TxResult<&TransactionalTree> {
        self.names
            .iter()
            .position(|name| *name == tree)
            .and_then(|at| self.views.get(at))
            .ok_or_else(|| {
                TxError::Storage(BackendError(format!(
                    "tree `{tree}` is not part of this transaction"
                )))
            })
    }
}

impl TxView for SledTx<'_> {
    fn get(&self, tree: &'static str, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        Ok(self
            .view(tree)?
            .get(key)
            .map_err(tx_failed)?
            .map(|value| value.to_vec()))
    }

    fn insert(&self, tree: &'static str, key: &[u8], value: &[u8]) -> TxResult<()> {
        self.view(tree)?.insert(key, value).map_err(tx_failed)?;
        Ok(())
    }

    fn remove(&self, tree: &'static str, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        Ok(self
            .view(tree)?
            .remove(key)
            .map_err(tx_failed)?
            .map(|value| value.to_vec()))
    }
}

impl Backend for SledBackend {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn get(&self, tree: &'static str, key: &[u8]) -> BResult<Option<Vec<u8>>> {
        Ok(self
            .tree(tree)?
            .get(key)
            .map_err(failed)?
            .map(|value| value.to_vec()))
    }

    fn insert(&self, tree: &'static str, key: &[u8], value: &[u8]) -> BResult<()> {
        self.tree(tree)?.insert(key, value).map_err(failed)?;
        Ok(())
    }

    fn remove(&self, tree: &'static str, key: &[u8]) -> BResult<Option<Vec<u8>>> {
        Ok(self
            .tree(tree)?
            .remove(key)
            .map_err(failed)?
            .map(|value| value.to_vec()))
    }

    fn scan(&self, tree: &'static str, prefix: &[u8]) -> BResult<Entries<'_>> {
        let entries = self.tree(tree)?.scan_prefix(prefix).map(|entry| {
            entry
                .map(|(key, value)| (key.to_vec(), value.to_vec()))
                .map_err(failed)
        });
        Ok(Box::new(entries))
    }

    fn transact(&self, trees: &[&'static str], body: TxBody<'_>) -> TxResult<()> {
        let opened = trees
            .iter()
            .map(|name| self.tree(name))
            .collect::<BResult<Vec<sled::Tree>>>()
            .map_err(TxError::Storage)?;
        let outcome = opened.as_slice().transaction(|views| {
            let view = SledTx {
                names: trees,
                views: views.as_slice(),
            };
            match body(&view) {
                Ok(()) => Ok(()),
                Err(TxError::Conflict) => Err(ConflictableTransactionError::Conflict),
                Err(other) => Err(ConflictableTransactionError::Abort(other)),
            }
        });
        match outcome {
            Ok(()) => Ok(()),
            Err(TransactionError::Abort(error)) => Err(error),
            Err(TransactionError::Storage(error)) => Err(TxError::Storage(failed(error))),
        }
    }

    fn insert_new(&self, tree: &'static str, key: &[u8], value: &[u8]) -> BResult<bool> {
        let swapped = self
            .tree(tree)?
            .compare_and_swap(key, None::<&[u8]>, Some(value))
            .map_err(failed)?;
        Ok(swapped.is_ok())
    }

    fn generate_id(&self) -> BResult<u64> {
        self.db.generate_id().map_err(failed)
    }

    fn flush(&self) -> BResult<()> {
        self.db.flush().map(|_| ()).map_err(failed)
    }

    fn tree_names(&self) -> BResult<Vec<String>> {
        let mut names = Vec::new();
        for name in self.db.tree_names() {
            let name = String::from_utf8_lossy(&name).into_owned();
            // sled's own default tree holds nothing of the store's.
            if name == "__sled__default" {
                continue;
            }
            let tree = self.db.open_tree(&name).map_err(failed)?;
            if !tree.is_empty() {
                names.push(name);
            }
        }
        Ok(names)
    }
}
