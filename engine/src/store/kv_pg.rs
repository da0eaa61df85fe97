//! The PostgreSQL backend: every store tree is a set of rows of one table,
//! `slipway_kv (tree text, key bytea, value bytea, primary key (tree, key))`; `bytea` compares
//! byte by byte, so a prefix scan is one ordered range read of the primary key. Ids come from
//! the sequence `slipway_ids`. The schema is versioned in `slipway_schema` and migrated on open
//! (`MIGRATIONS`); a database whose version is newer than this binary knows is refused.
//!
//! Threads: the sync `postgres` client runs its own small runtime and panics when it blocks
//! inside a tokio runtime, and the store's reads are synchronous calls made from async code.
//! So every connection lives on an OS thread of its own (`Conn`) and is driven by messages:
//! the caller sends an owned request and waits for the answer on a channel, which is safe from
//! any thread. Idle connections wait in a small pool; a transaction holds one connection from
//! `BEGIN` to `COMMIT`.
//!
//! This file must not know a record type.

use postgres::fallible_iterator::FallibleIterator;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use super::kv::{
    BResult, Backend, BackendError, Entries, Entry, Signal, TxBody, TxError, TxResult, TxView,
};

/// The schema migrations, in order; the version after applying `MIGRATIONS[i]` is `i + 1`.
const MIGRATIONS: &[&str] = &["CREATE TABLE slipway_kv (
        tree text NOT NULL,
        key bytea NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (tree, key)
     );
     CREATE SEQUENCE slipway_ids START WITH 1;"];

/// The PostgreSQL schema version this binary writes and understands.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// How long a connection attempt may take unless the URL says (`?connect_timeout=`).
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// At most this many idle connections are kept for reuse.
const IDLE_CONNECTIONS: usize = 8;

/// One request to a connection's thread; every field is owned so it can cross threads.
#[derive(Clone)]
enum Request {
    Get(&'static str, Vec<u8>),
    /// A read inside a transaction: the row is locked until it ends, so a read-modify-write
    /// of one key by two engine replicas is serialised.
    GetForUpdate(&'static str, Vec<u8>),
    /// `FOR UPDATE SKIP LOCKED` over the first rows of a tree.
    FirstUnlocked(&'static str, i64),
    InsertNew(&'static str, Vec<u8>, Vec<u8>),
    Notify(&'static str, String),
    Insert(&'static str, Vec<u8>, Vec<u8>),
    Remove(&'static str, Vec<u8>),
    Scan(&'static str, Vec<u8>),
    NextId,
    Batch(String),
    SchemaVersion,
}

enum Reply {
    Value(Option<Vec<u8>>),
    Entries(Vec<Entry>),
    Id(u64),
    Version(Option<i32>),
    Inserted(bool),
    Done,
    /// The statement lost a serialisation race or a deadlock: the transaction runs again.
    Retry,
}

/// A connection on its own thread.
struct Conn {
    requests: mpsc::Sender<(Request, mpsc::SyncSender<BResult<Reply>>)>,
    /// Cleared when the server closed the connection (a restarted database): not reused.
    alive: Arc<std::sync::atomic::AtomicBool>,
}

fn failed(error: postgres::Error) -> BackendError {
    // The server's own message (with its detail) says more than the client's summary.
    match error.as_db_error() {
        Some(db) => BackendError(format!("{}: {}", db.severity(), db.message())),
        None => BackendError(error.to_string()),
    }
}

impl Conn {
    fn open(url: &str) -> BResult<Conn> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|error: postgres::Error| BackendError(format!("read the URL: {error}")))?;
        // An unreachable database is reported, not waited for (the URL may set its own).
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let (requests, inbox) = mpsc::channel::<(Request, mpsc::SyncSender<BResult<Reply>>)>();
        let (ready, opened) = mpsc::sync_channel::<BResult<()>>(1);
        let alive = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let thread_alive = alive.clone();
        std::thread::Builder::new()
            .name("store-pg".to_string())
            .spawn(move || {
                let mut client = match config.connect(postgres::NoTls) {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        client
                    }
                    Err(error) => {
                        let _ = ready.send(Err(failed(error)));
                        return;
                    }
                };
                let mut cache = Statements::new();
                while let Ok((request, answer)) = inbox.recv() {
                    let reply = serve(&mut client, &mut cache, request);
                    if client.is_closed() {
                        thread_alive.store(false, std::sync::atomic::Ordering::SeqCst);
                    }
                    let _ = answer.send(reply);
                }
            })
            .map_err(|error| BackendError(format!("start a database thread: {error}")))?;
        opened
            .recv()
            .map_err(|_| BackendError("the database thread stopped".into()))??;
        Ok(Conn { requests, alive })
    }

    fn alive(&self) -> bool {
        self.alive.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn call(&self, request: Request) -> BResult<Reply> {
        let (answer, answered) = mpsc::sync_channel(1);
        self.requests
            .send((request, answer))
            .map_err(|_| BackendError("the database connection is closed".into()))?;
        answered
            .recv()
            .map_err(|_| BackendError("the database connection is closed".into()))?
    }
}

/// The smallest byte string greater than every string starting with `prefix` (`None`: no
/// bound, the prefix is empty or all 0xff).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The statements a connection prepared, by their text: each is parsed once per connection,
/// then every use is one round trip (bind and execute).
type Statements = std::collections::HashMap<&'static str, postgres::Statement>;

/// `sql` prepared on this connection (once).
fn prepared(
    client: &mut postgres::Client,
    cache: &mut Statements,
    sql: &'static str,
) -> Result<postgres::Statement, postgres::Error> {
    if let Some(statement) = cache.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql)?;
    cache.insert(sql, statement.clone());
    Ok(statement)
}

/// Answers one request; a serialisation failure or a deadlock is `Reply::Retry`.
fn serve(
    client: &mut postgres::Client,
    cache: &mut Statements,
    request: Request,
) -> BResult<Reply> {
    match answer(client, cache, request) {
        Err(Failure::Retry) => Ok(Reply::Retry),
        Err(Failure::Other(error)) => Err(failed(error)),
        Ok(reply) => Ok(reply),
    }
}

enum Failure {
    Retry,
    Other(postgres::Error),
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Failure {
        let retry = error.code().is_some_and(|code| {
            *code == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
                || *code == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
        });
        if retry {
            Failure::Retry
        } else {
            Failure::Other(error)
        }
    }
}

fn answer(
    client: &mut postgres::Client,
    cache: &mut Statements,
    request: Request,
) -> Result<Reply, Failure> {
    match request {
        Request::GetForUpdate(tree, key) => {
            let statement = prepared(
                client,
                cache,
                "SELECT value FROM slipway_kv WHERE tree = $1 AND key = $2 FOR UPDATE",
            )?;
            let row = client.query_opt(&statement, &[&tree, &key])?;
            Ok(Reply::Value(row.map(|row| row.get(0))))
        }
        Request::FirstUnlocked(tree, limit) => {
            let statement = prepared(
                client,
                cache,
                "SELECT key, value FROM slipway_kv WHERE tree = $1
                 ORDER BY key LIMIT $2 FOR UPDATE SKIP LOCKED",
            )?;
            let rows = client.query(&statement, &[&tree, &limit])?;
            Ok(Reply::Entries(
                rows.into_iter()
                    .map(|row| (row.get(0), row.get(1)))
                    .collect(),
            ))
        }
        Request::InsertNew(tree, key, value) => {
            let statement = prepared(
                client,
                cache,
                "INSERT INTO slipway_kv (tree, key, value) VALUES ($1, $2, $3)
                 ON CONFLICT (tree, key) DO NOTHING",
            )?;
            let inserted = client.execute(&statement, &[&tree, &key, &value])?;
            Ok(Reply::Inserted(inserted == 1))
        }
        Request::Notify(channel, payload) => {
            let statement = prepared(client, cache, "SELECT pg_notify($1, $2)")?;
            client.execute(&statement, &[&channel, &payload])?;
            Ok(Reply::Done)
        }
        Request::Get(tree, key) => {
            let statement = prepared(
                client,
                cache,
                "SELECT value FROM slipway_kv WHERE tree = $1 AND key = $2",
            )?;
            let row = client.query_opt(&statement, &[&tree, &key])?;
            Ok(Reply::Value(row.map(|row| row.get(0))))
        }
        Request::Insert(tree, key, value) => {
            let statement = prepared(
                client,
                cache,
                "INSERT INTO slipway_kv (tree, key, value) VALUES ($1, $2, $3)
                     ON CONFLICT (tree, key) DO UPDATE SET value = EXCLUDED.value",
            )?;
            client.execute(&statement, &[&tree, &key, &value])?;
            Ok(Reply::Done)
        }
        Request::Remove(tree, key) => {
            let statement = prepared(
                client,
                cache,
                "DELETE FROM slipway_kv WHERE tree = $1 AND key = $2 RETURNING value",
            )?;
            let row = client.query_opt(&statement, &[&tree, &key])?;
            Ok(Reply::Value(row.map(|row| row.get(0))))
        }
        Request::Scan(tree, prefix) => {
            let end = prefix_end(&prefix);
            let statement = prepared(
                client,
                cache,
                "SELECT key, value FROM slipway_kv
                     WHERE tree = $1 AND key >= $2 AND ($3::bytea IS NULL OR key < $3)
                     ORDER BY key",
            )?;
            let rows = client.query(&statement, &[&tree, &prefix, &end])?;
            Ok(Reply::Entries(
                rows.into_iter()
                    .map(|row| (row.get(0), row.get(1)))
                    .collect(),
            ))
        }
        Request::NextId => {
            let statement = prepared(client, cache, "SELECT nextval('slipway_ids')")?;
            let row = client.query_one(&statement, &[])?;
            let id: i64 = row.get(0);
            Ok(Reply::Id(u64::try_from(id).unwrap_or(0)))
        }
        Request::Batch(sql) => {
            client.batch_execute(&sql)?;
            Ok(Reply::Done)
        }
        Request::SchemaVersion => {
            let statement = prepared(client, cache, "SELECT max(version) FROM slipway_schema")?;
            let row = client.query_one(&statement, &[])?;
            Ok(Reply::Version(row.get(0)))
        }
    }
}

fn unexpected() -> BackendError {
    BackendError("the database thread gave an unexpected answer".into())
}

/// A PostgreSQL database holding one Slipway store.
pub(crate) struct PgBackend {
    url: String,
    idle: Arc<Mutex<Vec<Conn>>>,
}

/// `url` without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((credentials, host)) = rest.split_once('@') else {
        return url.to_string();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

impl PgBackend {
    /// Connects to `url`, brings the schema up to `SCHEMA_VERSION`, and refuses a database a
    /// newer Slipway has migrated past it.
    pub(crate) fn open(url: &str) -> BResult<PgBackend> {
        let backend = PgBackend {
            url: url.to_string(),
            idle: Arc::new(Mutex::new(Vec::new())),
        };
        backend.migrate()?;
        Ok(backend)
    }

    fn migrate(&self) -> BResult<()> {
        let conn = self.checkout()?;
        // Several replicas may start together: one migrates at a time (a lock for the session).
        conn.call(Request::Batch(
            "CREATE TABLE IF NOT EXISTS slipway_schema (version integer NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now());
             SELECT pg_advisory_lock(7305726170)"
                .into(),
        ))?;
        let outcome = self.migrate_locked(&conn);
        let unlocked = conn.call(Request::Batch(
            "SELECT pg_advisory_unlock(7305726170)".into(),
        ));
        outcome?;
        unlocked?;
        self.checkin(conn);
        Ok(())
    }

    fn migrate_locked(&self, conn: &Conn) -> BResult<()> {
        let Reply::Version(version) = conn.call(Request::SchemaVersion)? else {
            return Err(unexpected());
        };
        let version = version.unwrap_or(0);
        if version > SCHEMA_VERSION {
            return Err(BackendError(format!(
                "its schema version is {version}, newer than version {SCHEMA_VERSION} that this \
                 slipway knows: a newer slipway migrated it; run that version (or newer)"
            )));
        }
        let from = usize::try_from(version).unwrap_or(0);
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(from) {
            let next = index + 1;
            conn.call(Request::Batch(format!(
                "BEGIN; {migration}; INSERT INTO slipway_schema (version) VALUES ({next}); COMMIT;"
            )))
            .map_err(|error| BackendError(format!("migrate to schema version {next}: {error}")))?;
        }
        Ok(())
    }

    fn checkout(&self) -> BResult<Conn> {
        Ok(self.checkout_marked()?.0)
    }

    /// An idle connection (`true`: it may have died since it was used) or a new one.
    fn checkout_marked(&self) -> BResult<(Conn, bool)> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) if conn.alive() => Ok((conn, true)),
            // Known dead: a new one instead.
            Some(_) | None => Ok((Conn::open(&self.url)?, false)),
        }
    }

    fn checkin(&self, conn: Conn) {
        if !conn.alive() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }

    /// Runs one request on a pooled connection; a connection that failed is not reused. An
    /// idle connection the server closed meanwhile (the database restarted) sent nothing:
    /// the request goes again on a new one.
    fn call(&self, request: Request) -> BResult<Reply> {
        let (conn, pooled) = self.checkout_marked()?;
        let reply = match conn.call(request.clone()) {
            Err(_) if pooled && !conn.alive() => {
                let fresh = Conn::open(&self.url)?;
                let reply = fresh.call(request)?;
                self.checkin(fresh);
                return Ok(reply);
            }
            reply => reply?,
        };
        self.checkin(conn);
        Ok(reply)
    }

    /// One try of a transaction: `BEGIN`, the body, `COMMIT` (or `ROLLBACK`).
    fn transact_once(&self, body: TxBody<'_>) -> TxResult<()> {
        let (conn, pooled) = self.checkout_marked().map_err(TxError::Storage)?;
        match tx_call(&conn, Request::Batch("BEGIN".into())) {
            // An idle connection the server closed meanwhile: again, on a new one.
            Err(_) if pooled && !conn.alive() => return Err(TxError::Conflict),
            begun => begun?,
        };
        let outcome = body(&PgTx { conn: &conn })
            .and_then(|()| tx_call(&conn, Request::Batch("COMMIT".into())).map(drop));
        match outcome {
            Ok(()) => {
                self.checkin(conn);
                Ok(())
            }
            Err(error) => {
                // A connection whose rollback failed is dropped, not reused.
                if conn.call(Request::Batch("ROLLBACK".into())).is_ok() {
                    self.checkin(conn);
                }
                Err(error)
            }
        }
    }

    /// Moves `next_id` of the id sequence up to at least `floor` (for `slipway migrate`).
    pub(crate) fn raise_ids(&self, floor: u64) -> BResult<()> {
        let floor = i64::try_from(floor.max(1))
            .map_err(|_| BackendError(format!("id {floor} is out of range")))?;
        self.call(Request::Batch(format!(
            "SELECT setval('slipway_ids', GREATEST({floor}, (SELECT last_value FROM slipway_ids)))"
        )))?;
        Ok(())
    }
}

/// How often a transaction that lost a race (a deadlock, a serialisation failure) is tried.
const MAX_TX_ATTEMPTS: u64 = 20;

/// A store-wide advisory lock, held by its own connection until dropped.
struct HeldLock {
    conn: Option<Conn>,
    key: i64,
    idle: Arc<Mutex<Vec<Conn>>>,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        // A connection whose unlock failed is dropped: closing it releases the lock too.
        if conn
            .call(Request::Batch(format!(
                "SELECT pg_advisory_unlock({})",
                self.key
            )))
            .is_ok()
        {
            let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
            if idle.len() < IDLE_CONNECTIONS {
                idle.push(conn);
            }
        }
    }
}

/// The coordination loop of one engine process (its own thread and connection): listens on
/// `channels`, takes the driver lock `driver_key` whenever it is free, and reports both to
/// `signals`. A lost connection loses the lock (PostgreSQL releases a session's locks when it
/// ends); the loop reconnects and tries again, until `signals` is closed.
fn coordinate(
    url: &str,
    channels: &[&str],
    driver_key: i64,
    signals: &tokio::sync::mpsc::UnboundedSender<Signal>,
) {
    let mut reported_down = false;
    while !signals.is_closed() {
        let connected = url
            .parse::<postgres::Config>()
            .map_err(|error| error.to_string())
            .and_then(|mut config| {
                if config.get_connect_timeout().is_none() {
                    config.connect_timeout(CONNECT_TIMEOUT);
                }
                config
                    .connect(postgres::NoTls)
                    .map_err(|error| failed(error).0)
            });
        let mut client = match connected {
            Ok(client) => client,
            Err(error) => {
                if !reported_down {
                    tracing::warn!(%error, "coordination: the database is unreachable; retrying");
                    reported_down = true;
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
                continue;
            }
        };
        reported_down = false;
        let outcome = coordinate_on(&mut client, channels, driver_key, signals);
        if let Err(error) = outcome {
            tracing::warn!(error = %failed(error), "coordination: the database connection broke");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// One connection's life in `coordinate`; returns when it breaks (or `signals` closes).
fn coordinate_on(
    client: &mut postgres::Client,
    channels: &[&str],
    driver_key: i64,
    signals: &tokio::sync::mpsc::UnboundedSender<Signal>,
) -> Result<(), postgres::Error> {
    let listen: String = channels
        .iter()
        .map(|channel| format!("LISTEN {channel};"))
        .collect();
    client.batch_execute(&listen)?;
    let _ = signals.send(Signal::Connected);
    let mut driving = false;
    let outcome = (|| {
        loop {
            if signals.is_closed() {
                return Ok(());
            }
            if !driving {
                let row = client.query_one("SELECT pg_try_advisory_lock($1)", &[&driver_key])?;
                if row.get::<_, bool>(0) {
                    driving = true;
                    let _ = signals.send(Signal::Driving(true));
                }
            } else {
                // A cheap round trip: a dead server is noticed within a period.
                client.batch_execute("")?;
            }
            let mut notifications = client.notifications();
            let mut waiting = notifications.timeout_iter(std::time::Duration::from_millis(250));
            while let Some(notification) = waiting.next()? {
                let _ = signals.send(Signal::Notified {
                    channel: notification.channel().to_string(),
                    payload: notification.payload().to_string(),
                });
            }
        }
    })();
    if driving {
        let _ = signals.send(Signal::Driving(false));
    }
    outcome
}

/// The connection of one running transaction.
struct PgTx<'a> {
    conn: &'a Conn,
}

fn tx_call(conn: &Conn, request: Request) -> TxResult<Reply> {
    match conn.call(request).map_err(TxError::Storage)? {
        Reply::Retry => Err(TxError::Conflict),
        reply => Ok(reply),
    }
}

impl TxView for PgTx<'_> {
    fn get(&self, tree: &'static str, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        match tx_call(self.conn, Request::GetForUpdate(tree, key.to_vec()))? {
            Reply::Value(value) => Ok(value),
            _ => Err(TxError::Storage(unexpected())),
        }
    }

    fn insert(&self, tree: &'static str, key: &[u8], value: &[u8]) -> TxResult<()> {
        tx_call(
            self.conn,
            Request::Insert(tree, key.to_vec(), value.to_vec()),
        )?;
        Ok(())
    }

    fn remove(&self, tree: &'static str, key: &[u8]) -> TxResult<Option<Vec<u8>>> {
        match tx_call(self.conn, Request::Remove(tree, key.to_vec()))? {
            Reply::Value(value) => Ok(value),
            _ => Err(TxError::Storage(unexpected())),
        }
    }

    fn first_unlocked(&self, tree: &'static str, limit: usize) -> TxResult<Option<Vec<Entry>>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        match tx_call(self.conn, Request::FirstUnlocked(tree, limit))? {
            Reply::Entries(entries) => Ok(Some(entries)),
            _ => Err(TxError::Storage(unexpected())),
        }
    }
}

impl Backend for PgBackend {
    fn describe(&self) -> String {
        redact(&self.url)
    }

    fn get(&self, tree: &'static str, key: &[u8]) -> BResult<Option<Vec<u8>>> {
        match self.call(Request::Get(tree, key.to_vec()))? {
            Reply::Value(value) => Ok(value),
            _ => Err(unexpected()),
        }
    }

    fn insert(&self, tree: &'static str, key: &[u8], value: &[u8]) -> BResult<()> {
        self.call(Request::Insert(tree, key.to_vec(), value.to_vec()))?;
        Ok(())
    }

    fn remove(&self, tree: &'static str, key: &[u8]) -> BResult<Option<Vec<u8>>> {
        match self.call(Request::Remove(tree, key.to_vec()))? {
            Reply::Value(value) => Ok(value),
            _ => Err(unexpected()),
        }
    }

    fn scan(&self, tree: &'static str, prefix: &[u8]) -> BResult<Entries<'_>> {
        match self.call(Request::Scan(tree, prefix.to_vec()))? {
            Reply::Entries(entries) => Ok(Box::new(entries.into_iter().map(Ok))),
            _ => Err(unexpected()),
        }
    }

    fn transact(&self, _trees: &[&'static str], body: TxBody<'_>) -> TxResult<()> {
        // Reads lock their rows (`FOR UPDATE`): two replicas changing one record wait for each
        // other, and a deadlock between them is broken by PostgreSQL and run again here.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.transact_once(body) {
                Err(TxError::Conflict) if attempt < MAX_TX_ATTEMPTS => {
                    std::thread::sleep(std::time::Duration::from_millis(attempt * 3));
                }
                outcome => return outcome,
            }
        }
    }

    fn insert_new(&self, tree: &'static str, key: &[u8], value: &[u8]) -> BResult<bool> {
        match self.call(Request::InsertNew(tree, key.to_vec(), value.to_vec()))? {
            Reply::Inserted(inserted) => Ok(inserted),
            _ => Err(unexpected()),
        }
    }

    fn shared(&self) -> bool {
        true
    }

    fn notify(&self, channel: &'static str, payload: &str) -> BResult<()> {
        self.call(Request::Notify(channel, payload.to_string()))?;
        Ok(())
    }

    fn lock(&self, key: i64) -> BResult<Option<Box<dyn Send>>> {
        let conn = self.checkout()?;
        conn.call(Request::Batch(format!("SELECT pg_advisory_lock({key})")))?;
        Ok(Some(Box::new(HeldLock {
            conn: Some(conn),
            key,
            idle: self.idle.clone(),
        })))
    }

    fn coordinate(
        &self,
        channels: &'static [&'static str],
        driver_key: i64,
        signals: tokio::sync::mpsc::UnboundedSender<Signal>,
    ) -> bool {
        let url = self.url.clone();
        let started = std::thread::Builder::new()
            .name("store-pg-coordinate".to_string())
            .spawn(move || coordinate(&url, channels, driver_key, &signals));
        if let Err(error) = started {
            tracing::error!(%error, "the coordination thread did not start");
            return false;
        }
        true
    }

    fn generate_id(&self) -> BResult<u64> {
        match self.call(Request::NextId)? {
            Reply::Id(id) => Ok(id),
            _ => Err(unexpected()),
        }
    }

    fn flush(&self) -> BResult<()> {
        // Every statement outside a transaction, and every COMMIT, is durable on return.
        Ok(())
    }

    fn tree_names(&self) -> BResult<Vec<String>> {
        Err(BackendError(
            "listing the trees of a PostgreSQL store is not supported".into(),
        ))
    }
}
