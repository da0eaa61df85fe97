//! The storage primitives the store is built on, behind one trait with two implementations:
//! named trees of ordered byte keys to byte values, point reads, ordered prefix scans, atomic
//! transactions over several trees, a persistent id sequence and a flush. `kv_sled.rs` keeps
//! them in sled (the default, one directory), `kv_pg.rs` in PostgreSQL.
//!
//! The rest of the store sees only `Tree` (a named tree of the open backend) and `TxTree` (the
//! same inside a transaction); their methods mirror the small part of sled's API the store used,
//! so the record code reads the same on either backend.
//!
//! This file must not know a record type nor a backend's types.

use std::cell::RefCell;
use std::sync::Arc;

use super::StoreError;

/// A backend failure (I/O, a lost connection, a refused statement), as text.
#[derive(Debug, Clone)]
pub(crate) struct BackendError(pub(crate) String);

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) type BResult<T> = Result<T, BackendError>;

/// One key and its value, as a scan yields them.
pub(crate) type Entry = (Vec<u8>, Vec<u8>);

/// Entries in key order (reversible: newest-first listings walk it backwards).
pub(crate) type Entries<'a> = Box<dyn DoubleEndedIterator<Item = BResult<Entry>> + Send + 'a>;

/// Why a transaction did not commit.
#[derive(Debug)]
pub(crate) enum TxError {
    /// The body refused (a record's rule): nothing was written.
    Abort(StoreError),
    /// Another writer touched the same keys: the backend runs the body again.
    Conflict,
    /// The backend failed.
    Storage(BackendError),
}

/// The answer of a transaction body.
pub(crate) type TxResult<T> = Result<T, TxError>;

/// What a transaction body reads and writes through (every tree named when it was opened).
pub(crate) trait TxView {
    fn get(&self, tree: &'static str, key: &[u8]) -> TxResult<Option<Vec<u8>>>;
    fn insert(&self, tree: &'static str, key: &[u8], value: &[u8]) -> TxResult<()>;
    fn remove(&self, tree: &'static str, key: &[u8]) -> TxResult<Option<Vec<u8>>>;
    /// Up to `limit` first entries of `tree` that no other transaction holds, locked for this
    /// one (PostgreSQL's `FOR UPDATE SKIP LOCKED`); `None` where the backend has no such read
    /// (sled: one process, its writer thread serialises every write anyway).
    fn first_unlocked(&self, _tree: &'static str, _limit: usize) -> TxResult<Option<Vec<Entry>>> {
        Ok(None)
    }
}

/// A transaction body as backends take it (its answer goes out through a captured cell). It
/// may run more than once (after a conflict), so it must only touch the database through the
/// view it is given.
pub(crate) type TxBody<'a> = &'a dyn Fn(&dyn TxView) -> TxResult<()>;

/// The storage primitives. Implementations are safe to call from any thread, including a
/// thread inside a tokio runtime (they block it briefly, as a sled read does).
pub(crate) trait Backend: Send + Sync {
    /// What this store is, for messages (a path, or a URL without its password).
    fn describe(&self) -> String;
    fn get(&self, tree: &'static str, key: &[u8]) -> BResult<Option<Vec<u8>>>;
    fn insert(&self, tree: &'static str, key: &[u8], value: &[u8]) -> BResult<()>;
    fn remove(&self, tree: &'static str, key: &[u8]) -> BResult<Option<Vec<u8>>>;
    /// Every entry whose key starts with `prefix` (all of them for an empty prefix), in order.
    fn scan(&self, tree: &'static str, prefix: &[u8]) -> BResult<Entries<'_>>;
    /// Runs `body` atomically over `trees`: all its writes land, or none.
    fn transact(&self, trees: &[&'static str], body: TxBody<'_>) -> TxResult<()>;
    /// A number never handed out before by this store, larger than every earlier one.
    fn generate_id(&self) -> BResult<u64>;
    /// Makes every write so far durable.
    fn flush(&self) -> BResult<()>;
    /// Every tree that holds at least one entry (for `slipway migrate`).
    fn tree_names(&self) -> BResult<Vec<String>>;
    /// Whether several engine processes may share this store (PostgreSQL): then they wake each
    /// other with `notify`, take turns with `lock`, and one at a time drives runs (`coordinate`).
    fn shared(&self) -> bool {
        false
    }
    /// Inserts `key` only if it is absent; `true` when this call inserted it (a claim that
    /// exactly one of several competing processes wins).
    fn insert_new(&self, tree: &'static str, key: &[u8], value: &[u8]) -> BResult<bool>;
    /// Tells every process sharing the store that something happened (`channel`, `payload`);
    /// nothing where the store is not shared.
    fn notify(&self, _channel: &'static str, _payload: &str) -> BResult<()> {
        Ok(())
    }
    /// Waits for the store-wide lock `key` and holds it until the answer is dropped (`None`:
    /// the store is not shared, the process-local lock the caller holds is enough).
    fn lock(&self, _key: i64) -> BResult<Option<Box<dyn Send>>> {
        Ok(None)
    }
    /// Starts the coordination of a shared store: `signals` hears every notification on
    /// `channels`, and whether this process holds the driver lock `driver_key` (taken when it
    /// is free, lost with the connection). `false`: not a shared store, nothing started.
    fn coordinate(
        &self,
        _channels: &'static [&'static str],
        _driver_key: i64,
        _signals: tokio::sync::mpsc::UnboundedSender<Signal>,
    ) -> bool {
        false
    }
}

/// What the coordination of a shared store reports (`Backend::coordinate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal {
    /// A process sharing the store notified `channel` with `payload`.
    Notified {
        /// The channel, one of those asked for.
        channel: String,
        /// What the notifier said.
        payload: String,
    },
    /// The coordination connection is (re)established: notifications sent while it was down
    /// were missed.
    Connected,
    /// This process took (`true`) or lost (`false`) the driver lock.
    Driving(bool),
}

/// One named tree of the open backend.
#[derive(Clone)]
pub(crate) struct Tree {
    backend: Arc<dyn Backend>,
    name: &'static str,
}

impl Tree {
    pub(crate) fn new(backend: Arc<dyn Backend>, name: &'static str) -> Tree {
        Tree { backend, name }
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> BResult<Option<Vec<u8>>> {
        self.backend.get(self.name, key.as_ref())
    }

    pub(crate) fn insert(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> BResult<()> {
        self.backend.insert(self.name, key.as_ref(), value.as_ref())
    }

    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> BResult<Option<Vec<u8>>> {
        self.backend.remove(self.name, key.as_ref())
    }

    /// Entries under `prefix`, in key order; a failure to start the scan is its only item.
    pub(crate) fn scan_prefix(&self, prefix: impl AsRef<[u8]>) -> Entries<'_> {
        match self.backend.scan(self.name, prefix.as_ref()) {
            Ok(entries) => entries,
            Err(error) => Box::new(std::iter::once(Err(error))),
        }
    }

    /// Every entry, in key order.
    pub(crate) fn iter(&self) -> Entries<'_> {
        self.scan_prefix([])
    }
}

/// One tree inside a running transaction.
#[derive(Clone, Copy)]
pub(crate) struct TxTree<'a> {
    view: &'a dyn TxView,
    name: &'static str,
}

impl<'a> TxTree<'a> {
    pub(crate) fn new(view: &'a dyn TxView, name: &'static str) -> TxTree<'a> {
        TxTree { view, name }
    }

    pub(crate) fn get(&self, key: impl AsRef<[u8]>) -> TxResult<Option<Vec<u8>>> {
        self.view.get(self.name, key.as_ref())
    }

    pub(crate) fn insert(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> TxResult<()> {
        self.view.insert(self.name, key.as_ref(), value.as_ref())
    }

    pub(crate) fn remove(&self, key: impl AsRef<[u8]>) -> TxResult<Option<Vec<u8>>> {
        self.view.remove(self.name, key.as_ref())
    }

    /// Up to `limit` first entries no other transaction holds, locked for this one (`None`
    /// where the backend cannot, see `TxView::first_unlocked`).
    pub(crate) fn first_unlocked(&self, limit: usize) -> TxResult<Option<Vec<Entry>>> {
        self.view.first_unlocked(self.name, limit)
    }
}

/// Runs a typed transaction body over `trees` of `backend`, handing it the view.
pub(crate) fn transact<T>(
    backend: &dyn Backend,
    trees: &[&'static str],
    body: impl Fn(&dyn TxView) -> TxResult<T>,
) -> TxResult<T> {
    let answer: RefCell<Option<T>> = RefCell::new(None);
    backend.transact(trees, &|view| {
        let value = body(view)?;
        *answer.borrow_mut() = Some(value);
        Ok(())
    })?;
    answer
        .into_inner()
        .ok_or_else(|| TxError::Storage(BackendError("a transaction gave no answer".into())))
}
