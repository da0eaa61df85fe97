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
//! **Architecture Invariant:** this is the only module that knows sled; no sled type leaves it.
//! It has no clock of its own beyond stamping records, and never decides policy (when a lease
//! expires, what to retry): callers say what moved.
//!
//! Files: `runs.rs` (runs and run numbers), `jobs.rs` (jobs, the queue, leases), `runners.rs`
//! (runners and their credentials), `tokens.rs` (registration tokens and secret hashing),
//! `logs.rs` (log files, their index and live followers), `schedules.rs` (each unfinished run's
//! scheduler state, for the orchestrator to pick up after a restart), `settings.rs` (sealed
//! secrets and variables per repository), `records.rs` (deployment-side records), `repos.rs`
//! (watched repositories), `writer.rs` (the writer thread and group commit), `space.rs` (the
//! free space kept on the data dir's disk, so sled never meets a full disk).
//! (watched repositories), `retention.rs` (removing a finished run), `writer.rs` (the writer
//! thread and group commit).

mod jobs;
mod logs;
mod records;
mod repos;
mod retention;
mod runners;
mod runs;
mod schedules;
mod settings;
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
use sled::Transactional;
use sled::transaction::{
    ConflictableTransactionError, ConflictableTransactionResult, TransactionError,
    TransactionalTree,
};
use uuid::Uuid;

pub use jobs::{ExpiredLease, JobRecord, JobState, LeaseRecord, StepProgress};
pub use logs::{DEFAULT_LOG_LIMIT, LogAppend, LogProgress, LogVisitor, READ_CHUNK};
pub use records::RecordKind;
pub use repos::{RefStorm, RepoRecord, hook_token_hash};
pub use runners::RunnerRecord;
pub use runs::{RunRecord, RunStatus};
pub use schedules::ScheduleRecord;
pub use settings::{SecretRecord, VariableRecord};
pub use tokens::{create_registration_token, hash_secret, new_secret};

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

/// sled's page cache size.
const CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// Opens the sled database at `path`. sled takes an exclusive lock on its files; a store that was
/// just closed (an engine process still exiting, a store dropped a moment ago) may hold it for a
/// few milliseconds more, so a busy lock is retried for up to 3 s before it is reported.
fn open_when_free(path: &Path) -> sled::Result<sled::Db> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
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
    db: sled::Db,
    trees: Trees,
}

impl Deref for Store {
    type Target = Core;

    fn deref(&self) -> &Core {
        &self.core
    }
}

struct Trees {
    runs: sled::Tree,
    jobs: sled::Tree,
    job_ids: sled::Tree,
    queue: sled::Tree,
    leases: sled::Tree,
    runners: sled::Tree,
    registration_tokens: sled::Tree,
    counters: sled::Tree,
    log_index: sled::Tree,
    schedules: sled::Tree,
    repos: sled::Tree,
    schedule_fires: sled::Tree,
    settings: sled::Tree,
    /// One tree per `RecordKind`, by its tree name.
    records: HashMap<&'static str, sled::Tree>,
}

/// The transactional view of every tree, handed to the closures in the submodules.
struct Tx<'a> {
    runs: &'a TransactionalTree,
    jobs: &'a TransactionalTree,
    job_ids: &'a TransactionalTree,
    queue: &'a TransactionalTree,
    leases: &'a TransactionalTree,
    runners: &'a TransactionalTree,
    registration_tokens: &'a TransactionalTree,
    counters: &'a TransactionalTree,
}

type TxResult<T> = ConflictableTransactionResult<T, StoreError>;

impl Store {
    /// Opens (or creates) the store under `dir`: the database in `dir/db`, logs in `dir/logs`.
    /// Nothing moves on open: queued jobs stay queued, leased jobs keep their lease, finished
    /// ones stay finished.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let db_path = dir.join("db");
        let database_error = |error: sled::Error| StoreError::Database {
            path: db_path.clone(),
            message: error.to_string(),
        };
        std::fs::create_dir_all(dir.join("logs")).map_err(|source| StoreError::LogFile {
            path: dir.join("logs"),
            source,
        })?;
        // sled's page cache defaults to 1 GiB and fills as history grows; the engine's working
        // set (queued and leased jobs, unfinished runs) is small, so a small cache keeps its
        // resident memory flat (bench B4: idle RSS after 10,000 jobs).
        // sled's periodic flusher is off: the writer thread is the only one that flushes (see
        // `writer.rs` for the deadlock this avoids).
        let db = open_when_free(&db_path).map_err(database_error)?;
        let tree = |name: &str| db.open_tree(name).map_err(database_error);
        let trees = Trees {
            runs: tree("runs")?,
            jobs: tree("jobs")?,
            job_ids: tree("job_ids")?,
            queue: tree("queue")?,
            leases: tree("leases")?,
            runners: tree("runners")?,
            registration_tokens: tree("registration_tokens")?,
            counters: tree("counters")?,
            log_index: tree("log_index")?,
            schedules: tree("schedules")?,
            repos: tree("repos")?,
            schedule_fires: tree("schedule_fires")?,
            settings: tree("settings")?,
            records: RecordKind::ALL
                .iter()
                .map(|kind| Ok((kind.tree(), tree(kind.tree())?)))
                .collect::<Result<_, StoreError>>()?,
        };
        let core = Arc::new(Core {
            dir: dir.to_path_buf(),
            db,
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

impl Core {
    /// The data directory this store lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A process-unique, increasing number that survives restarts (fencing tokens, queue order).
    fn generate_id(&self) -> Result<u64, StoreError> {
        self.db
            .generate_id()
            .map_err(|error| self.database_error(error))
    }

    fn database_error(&self, error: sled::Error) -> StoreError {
        StoreError::Database {
            path: self.dir.join("db"),
            message: error.to_string(),
        }
    }

    /// The tree of a record kind (every kind's tree is opened with the store).
    fn record_tree(&self, kind: RecordKind) -> Result<&sled::Tree, StoreError> {
        self.trees
            .records
            .get(kind.tree())
            .ok_or_else(|| StoreError::Database {
                path: self.dir.join("db"),
                message: format!("no tree `{}` was opened", kind.tree()),
            })
    }

    /// Runs `body` as one transaction over every tree; only ever called on the writer thread
    /// (inside `Store::write*`). The closure can run more than once on conflicts, so it must
    /// only read and write through `Tx`.
    fn transact<T>(&self, body: impl Fn(&Tx<'_>) -> TxResult<T>) -> Result<T, StoreError> {
        let t = &self.trees;
        let outcome = (
            &t.runs,
            &t.jobs,
            &t.job_ids,
            &t.queue,
            &t.leases,
            &t.runners,
            &t.registration_tokens,
            &t.counters,
        )
            .transaction(
                |(runs, jobs, job_ids, queue, leases, runners, registration_tokens, counters)| {
                    body(&Tx {
                        runs,
                        jobs,
                        job_ids,
                        queue,
                        leases,
                        runners,
                        registration_tokens,
                        counters,
                    })
                },
            );
        match outcome {
            Ok(value) => Ok(value),
            Err(TransactionError::Abort(error)) => Err(error),
            Err(TransactionError::Storage(error)) => Err(self.database_error(error)),
        }
    }
}

/// Aborts the running transaction with `error`.
fn abort<T>(error: StoreError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(error))
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
    decode(tree, bytes).map_err(ConflictableTransactionError::Abort)
}
