//! The engine's durable state: runs, jobs, the ready queue, leases, runners, registration tokens,
//! run-number counters and the log index, in one sled database; log text in append-only files
//! beside it (`<data>/logs/<run_id>/<job_key>.log`).
//!
//! Every state move is one small transaction over the trees it touches, applied by the store's
//! one writer thread (`writer.rs`) and acknowledged only after a flush covers it; the writer
//! groups the changes of every caller waiting at the same moment into one flush (group commit).
//! Async callers await a oneshot for that acknowledgement and never block a runtime worker on
//! sled. Heartbeats, step-progress events, scheduler states and runner contact stamps ask for no
//! flush of their own: the next flush carries them, and after a restart every lease gets a full
//! period to re-attach. Reads go to sled directly from the caller (they never wait on a flush).
//!
//! **Architecture Invariant:** this is the only module that knows sled or PostgreSQL; no type of
//! theirs leaves it, and only `kv_*.rs` touch them.
//! It has no clock of its own beyond stamping records, and never decides policy (when a lease
//! expires, what to retry): callers say what moved.
//!
//! Files: `runs.rs` (runs and run numbers), `jobs.rs` (jobs, the queue, leases), `runners.rs`
//! (runners and their credentials), `tokens.rs` (registration tokens and secret hashing),
//! `logs.rs` (log files, their index and live followers), `schedules.rs` (each unfinished run's
//! scheduler state, for the orchestrator to pick up after a restart), `settings.rs` (sealed
//! secrets and variables per repository), `records.rs` (deployment-side records), `repos.rs`
//! (watched repositories), `retention.rs` (removing a finished run), `writer.rs` (the writer
//! thread and group commit), `space.rs` (the free space kept on the data dir's disk, so sled
//! never meets a full disk), `kv.rs` (the storage primitives every file above uses, behind one
//! trait), `kv_sled.rs` and `kv_pg.rs` (its two backends: sled, the default, and PostgreSQL),
//! `migrate.rs` (copying a sled store into PostgreSQL).
//!
//! On PostgreSQL the same trees are rows of one table (see `kv_pg.rs`); log text stays in files
//! under the data dir either way, only the log index is in the database.

mod jobs;
mod kv;
mod kv_pg;
mod kv_sled;
mod logs;
mod migrate;
mod records;
mod repos;
mod retention;
mod runners;
mod runs;
mod schedules;
mod settings;
mod shared;
mod space;
mod tokens;
mod writer;

use std::collections::HashMap;
use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub(crate) use kv::Signal;
use kv::{Backend, BackendError, Tree, TxError, TxResult, TxTree};

pub use jobs::{ExpiredLease, JobRecord, JobState, LeaseRecord, StepProgress};
pub use kv_pg::SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION;
pub use logs::{DEFAULT_LOG_LIMIT, LogAppend, LogProgress, LogVisitor, READ_CHUNK};
pub use migrate::{MigrateReport, migrate_sled_to_postgres};
pub use records::RecordKind;
pub use repos::{RefStorm, RepoRecord, hook_token_hash};
pub use runners::RunnerRecord;
pub use runs::{RunRecord, RunStatus};
pub use schedules::ScheduleRecord;
pub use settings::{SecretRecord, VariableRecord};
pub use tokens::{create_registration_token, hash_secret, new_secret};

/// Where a store keeps its database (log text is always in files under the data dir).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// sled in `<data>/db` (the default).
    Sled,
    /// PostgreSQL at this `postgres://` URL.
    Postgres(String),
}

impl StoreLocation {
    /// What it is, for people (a PostgreSQL URL without its password).
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sled => "sled".to_string(),
            StoreLocation::Postgres(url) => kv_pg::redact(url),
        }
    }

    /// Reads `--store`: `postgres://…` / `postgresql://…`, `sled` or `sled:DIR` (the data dir
    /// is then `DIR`, returned beside the location).
    pub fn parse(text: &str) -> Result<(StoreLocation, Option<PathBuf>), String> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok((StoreLocation::Postgres(text.to_string()), None));
        }
        if text == "sled" {
            return Ok((StoreLocation::Sled, None));
        }
        if let Some(dir) = text.strip_prefix("sled:") {
            if dir.is_empty() {
                return Err("`sled:` needs a directory after the colon (sled:DIR)".to_string());
            }
            return Ok((StoreLocation::Sled, Some(PathBuf::from(dir))));
        }
        Err(format!(
            "`{text}` is not a store: give `sled`, `sled:DIR` or `postgres://USER@HOST:PORT/DATABASE`"
        ))
    }
}

/// What went wrong in the store. Messages read after "failed to …".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("open or write the store at {path}: {message}")]
    Database {
        /// The database's folder on disk (`db` in the store's folder).
        path: PathBuf,
        /// The database's error, as text.
        message: String,
    },
    /// A job's log file could not be read or written.
    #[error("read or write log file {path}: {source}")]
    LogFile {
        /// The log file's path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A stored record does not decode (written by another version, or damaged).
    #[error("decode a record in tree `{tree}`: {message}")]
    Corrupt {
        /// The database tree the record is in, e.g. `jobs`.
        tree: &'static str,
        /// The decoder's error.
        message: String,
    },
    /// No run has this id.
    #[error("find run {0}")]
    RunNotFound(RunId),
    /// No job has this id.
    #[error("find job {0}")]
    JobNotFound(String),
    /// A job of that key was enqueued already in that run.
    #[error("enqueue job `{job_key}` of run {run_id}: it exists already")]
    JobExists {
        /// The run the job was to join.
        run_id: RunId,
        /// The job's key in the workflow, e.g. `build`.
        job_key: String,
    },
    /// A runner touched a job that is not leased to it.
    #[error("touch job {job_id}: it is not leased to runner {runner_id}")]
    NotYourJob {
        /// The job it touched.
        job_id: JobId,
        /// The runner that touched it.
        runner_id: RunnerId,
    },
    /// A report carries a fencing token older than the job's current lease (the lease expired
    /// or went to another runner).
    #[error("report into job {job_id} with fencing token {given}: the lease is no longer held")]
    StaleLease {
        /// The job reported into.
        job_id: JobId,
        /// The fencing token the report carried.
        given: u64,
    },
    /// A runner registered with a token that was never made or was used already.
    #[error("register a runner: the registration token is unknown or already used")]
    InvalidRegistrationToken,
    /// The operating system gave no random bytes for a new secret; the text says why.
    #[error("get random bytes for a secret: {0}")]
    Random(String),
    /// No runner has this id.
    #[error("find runner {0}")]
    RunnerNotFound(RunnerId),
    /// A write was refused because the store's disk is below the free-space floor.
    #[error(
        "write to the store at {path}: its disk has {free} bytes free, below the {floor} bytes kept free (the engine goes on once space is freed)"
    )]
    NoSpace {
        /// The store's folder on disk.
        path: PathBuf,
        /// The bytes free on that disk when the write was refused.
        free: u64,
        /// The bytes the store keeps free; writes resume above it.
        floor: u64,
    },
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-sortable id (uuid v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            fn to_key(self) -> [u8; 16] {
                *self.0.as_bytes()
            }

            #[allow(dead_code)] // not every id is read back from a key
            fn from_key(bytes: &[u8]) -> Option<Self> {
                Uuid::from_slice(bytes).ok().map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(text).map(Self)
            }
        }
    };
}

uuid_id!(
    /// One run of one workflow.
    RunId
);
uuid_id!(
    /// One job of one run (the URL-safe name of `(run_id, job_key)`).
    JobId
);
uuid_id!(
    /// One registered runner.
    RunnerId
);

/// Microseconds since the Unix epoch, never smaller than an earlier answer in this process, so
/// state-change stamps on one record are ordered even if the wall clock steps back.
pub fn now_us() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let previous = LAST.fetch_max(wall, Ordering::SeqCst);
    previous.max(wall)
}

/// The engine's store: open it once per process and share it (`Arc<Store>`). Reads go to the
/// database directly (`Deref` to `Core`); every write goes through the writer thread.
pub struct Store {
    core: Arc<Core>,
    writer: writer::Writer,
    logs: logs::LogHub,
}

/// The database and its trees: what both readers and the writer thread see.
pub struct Core {
    dir: PathBuf,
    backend: Arc<dyn Backend>,
    trees: Trees,
}

impl Deref for Store {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

struct Trees {
    runs: Tree,
    jobs: Tree,
    job_ids: Tree,
    queue: Tree,
    leases: Tree,
    runners: Tree,
    registration_tokens: Tree,
    log_index: Tree,
    schedules: Tree,
    repos: Tree,
    schedule_fires: Tree,
    settings: Tree,
    /// One tree per `RecordKind`, by its tree name.
    records: HashMap<&'static str, Tree>,
}

/// The trees a run/job transaction (`Core::transact`) spans.
const TX_TREES: [&str; 8] = [
    "runs",
    "jobs",
    "job_ids",
    "queue",
    "leases",
    "runners",
    "registration_tokens",
    "counters",
];

/// Every tree of the store (what `slipway migrate` copies).
fn all_trees() -> Vec<&'static str> {
    let mut trees = TX_TREES.to_vec();
    trees.extend([
        "log_index",
        "schedules",
        "repos",
        "schedule_fires",
        "settings",
        shared::CLAIMS,
        shared::LEASE_BEATS,
    ]);
    trees.extend(RecordKind::ALL.iter().map(|kind| kind.tree()));
    trees
}

/// The transactional view of every tree, handed to the closures in the submodules.
struct Tx<'a> {
    runs: TxTree<'a>,
    jobs: TxTree<'a>,
    job_ids: TxTree<'a>,
    queue: TxTree<'a>,
    leases: TxTree<'a>,
    runners: TxTree<'a>,
    registration_tokens: TxTree<'a>,
    counters: TxTree<'a>,
}

impl Store {
    /// Opens (or creates) the store under `dir`: the database in `dir/db`, logs in `dir/logs`.
    /// Nothing moves on open: queued jobs stay queued, leased jobs keep their lease, finished
    /// ones stay finished.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Store::open_at(dir, &StoreLocation::Sled)
    }

    /// Opens (or creates) the store with its database at `location` and its log files under
    /// `dir/logs`. A PostgreSQL database is migrated to this binary's schema first, and refused
    /// when a newer Slipway has migrated it further.
    pub fn open_at(dir: &Path, location: &StoreLocation) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir.join("logs")).map_err(|source| StoreError::LogFile {
            path: dir.join("logs"),
            source,
        })?;
        let backend = open_backend(dir, location)?;
        if let StoreLocation::Postgres(_) = location {
            note_logs_dir(backend.as_ref(), dir);
        }
        Store::over(dir, backend)
    }

    fn over(dir: &Path, backend: Arc<dyn Backend>) -> Result<Store, StoreError> {
        let tree = |name: &'static str| Tree::new(backend.clone(), name);
        let trees = Trees {
            runs: tree("runs"),
            jobs: tree("jobs"),
            job_ids: tree("job_ids"),
            queue: tree("queue"),
            leases: tree("leases"),
            runners: tree("runners"),
            registration_tokens: tree("registration_tokens"),
            log_index: tree("log_index"),
            schedules: tree("schedules"),
            repos: tree("repos"),
            schedule_fires: tree("schedule_fires"),
            settings: tree("settings"),
            records: RecordKind::ALL
                .iter()
                .map(|kind| (kind.tree(), tree(kind.tree())))
                .collect(),
        };
        let core = Arc::new(Core {
            dir: dir.to_path_buf(),
            backend,
            trees,
        });
        let writer = writer::Writer::start(core.clone())?;
        Ok(Store {
            core,
            writer,
            logs: logs::LogHub::default(),
        })
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.write(|_| Ok(())).await
    }

    /// Applies `body` on the writer thread and returns its answer once a flush covers it.
    async fn write<T: Send + 'static>(
        &self,
        body: impl FnOnce(&Core) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.writer.submit(
            true,
            Box::new(move |core: Result<&Core, StoreError>| {
                let outcome = core.and_then(body);
                Box::new(move |flushed| {
                    let _ = answer.send(outcome.and_then(|value| flushed.map(|()| value)));
                })
            }),
        )?;
        answered.await.map_err(|_| self.writer.gone())?
    }

    /// Applies `body` on the writer thread without waiting (durable with the next flush);
    /// for informational writes whose failure the caller could do nothing about. A failure is
    /// logged with `what`.
    fn write_later(
        &self,
        what: &'static str,
        body: impl FnOnce(&Core) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        self.writer.submit(
            false,
            Box::new(move |core: Result<&Core, StoreError>| {
                if let Err(error) = core.and_then(body) {
                    tracing::warn!("failed to {what}: {error}");
                }
                Box::new(|_| {})
            }),
        )
    }

    /// Applies `body` on the writer thread and waits for its answer, not for a flush (durable
    /// with the next flush). For the few synchronous callers outside the store: they wait at
    /// most for the batch the writer is on.
    fn write_blocking<T: Send + 'static>(
        &self,
        body: impl FnOnce(&Core) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.writer.submit(
            false,
            Box::new(move |core: Result<&Core, StoreError>| {
                let _ = answer.send(core.and_then(body));
                Box::new(|_| {})
            }),
        )?;
        answered.recv().map_err(|_| self.writer.gone())?
    }

    /// For the watchdog (its own thread, never the runtime): a durable no-op through the writer,
    /// answered within `limit`, or why not.
    pub fn probe(&self, limit: Duration) -> Result<(), String> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.writer
            .submit(
                true,
                Box::new(move |core: Result<&Core, StoreError>| {
                    let refused = core.err();
                    Box::new(move |flushed| {
                        let _ = answer.send(match refused {
                            Some(error) => Err(error),
                            None => flushed,
                        });
                    })
                }),
            )
            .map_err(|error| error.to_string())?;
        match answered.recv_timeout(limit) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(format!("a store write failed: {error}")),
            Err(_) => Err(format!(
                "the store's writer did not complete a flush within {} s{}",
                limit.as_secs(),
                match self.writer.busy_for() {
                    Some(busy) => format!(" (busy on one batch for {} s)", busy.as_secs()),
                    None => String::new(),
                }
            )),
        }
    }
}

impl Store {
    /// Why the data dir's disk is short of space (job output is being dropped, or store writes
    /// refused), for `/healthz`; `None` when it is not.
    pub fn space_shortage(&self) -> Option<String> {
        space::shortage(&self.dir)
    }
}

/// A shared database with its log files in one directory: the first engine notes where
/// (`migrate` notes the sled store's); an engine whose data dir differs warns, since the logs
/// of runs made there are not under its own.
fn note_logs_dir(backend: &dyn Backend, dir: &Path) {
    let here = std::path::absolute(dir.join("logs")).unwrap_or_else(|_| dir.join("logs"));
    let here_text = here.to_string_lossy().into_owned();
    match backend.get(migrate::META_TREE, b"logs_dir") {
        Ok(Some(noted)) if noted != here_text.as_bytes() => tracing::warn!(
            "this store's log files were written under {}, this engine's are under {here_text}: \
             logs of earlier runs are found only if that directory is this one (serve with --data \
             pointing at it, or copy it)",
            String::from_utf8_lossy(&noted)
        ),
        Ok(Some(_)) => {}
        Ok(None) => {
            if let Err(error) =
                backend.insert(migrate::META_TREE, b"logs_dir", here_text.as_bytes())
            {
                tracing::warn!("failed to note where the log files are: {error}");
            }
        }
        Err(error) => tracing::warn!("failed to read where the log files are: {error}"),
    }
}

/// Opens the database of a store: sled under `dir/db`, or PostgreSQL.
fn open_backend(dir: &Path, location: &StoreLocation) -> Result<Arc<dyn Backend>, StoreError> {
    match location {
        StoreLocation::Sled => {
            let path = dir.join("db");
            kv_sled::SledBackend::open(&path)
                .map(|backend| Arc::new(backend) as Arc<dyn Backend>)
                .map_err(|error| StoreError::Database {
                    path,
                    message: error.0,
                })
        }
        StoreLocation::Postgres(url) => kv_pg::PgBackend::open(url)
            .map(|backend| Arc::new(backend) as Arc<dyn Backend>)
            .map_err(|error| StoreError::Database {
                path: PathBuf::from(kv_pg::redact(url)),
                message: error.0,
            }),
    }
}

impl Core {
    /// The data directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A process-unique, increasing number that survives restarts (fencing tokens, queue order).
    fn generate_id(&self) -> Result<u64, StoreError> {
        self.backend
            .generate_id()
            .map_err(|error| self.database_error(error))
    }

    fn database_error(&self, error: BackendError) -> StoreError {
        StoreError::Database {
            path: PathBuf::from(self.backend.describe()),
            message: error.0,
        }
    }

    /// Makes every write so far durable (the writer thread's flush).
    fn flush_backend(&self) -> Result<(), BackendError> {
        self.backend.flush()
    }

    /// The tree of a record kind (every kind's tree is opened with the store).
    fn record_tree(&self, kind: RecordKind) -> Result<&Tree, StoreError> {
        self.trees
            .records
            .get(kind.tree())
            .ok_or_else(|| StoreError::Database {
                path: PathBuf::from(self.backend.describe()),
                message: format!("no tree `{}` was opened", kind.tree()),
            })
    }

    /// Runs `body` as one transaction over the run/job trees; only ever called on the writer
    /// thread (inside `Store::write*`). The closure can run more than once on conflicts, so it
    /// must only read and write through `Tx`.
    fn transact<T>(&self, body: impl Fn(&Tx<'_>) -> TxResult<T>) -> Result<T, StoreError> {
        self.transact_over(&TX_TREES, |view| {
            body(&Tx {
                runs: TxTree::new(view, "runs"),
                jobs: TxTree::new(view, "jobs"),
                job_ids: TxTree::new(view, "job_ids"),
                queue: TxTree::new(view, "queue"),
                leases: TxTree::new(view, "leases"),
                runners: TxTree::new(view, "runners"),
                registration_tokens: TxTree::new(view, "registration_tokens"),
                counters: TxTree::new(view, "counters"),
            })
        })
    }

    /// Runs `body` as one transaction over `trees` (named through `TxTree::new`).
    fn transact_over<T>(
        &self,
        trees: &[&'static str],
        body: impl Fn(&dyn kv::TxView) -> TxResult<T>,
    ) -> Result<T, StoreError> {
        match kv::transact(self.backend.as_ref(), trees, body) {
            Ok(value) => Ok(value),
            Err(TxError::Abort(error)) => Err(error),
            Err(TxError::Conflict) => Err(self.database_error(BackendError(
                "a transaction kept conflicting with another writer".into(),
            ))),
            Err(TxError::Storage(error)) => Err(self.database_error(error)),
        }
    }
}

/// Aborts the running transaction with `error`.
fn abort<T>(error: StoreError) -> TxResult<T> {
    Err(TxError::Abort(error))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Records are plain data with string keys: serialising them cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
        tree,
        message: error.to_string(),
    })
}

/// `decode` inside a transaction (a corrupt record aborts it).
fn decode_tx<T: DeserializeOwned>(tree: &'static str, bytes: &[u8]) -> TxResult<T> {
    decode(tree, bytes).map_err(TxError::Abort)
}
