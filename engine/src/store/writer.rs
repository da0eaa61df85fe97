//! The store's one writer: an OS thread that owns every sled write (transactions, batches,
//! plain inserts) and every flush, and groups the changes of many callers into one flush
//! (group commit).
//!
//! Why: sled 0.34 can deadlock when `flush_async` runs concurrently with other flushes and
//! transactions (a transaction waits for the global write lock while flushes on sled's thread
//! pool hold it for reading and wait for I/O that needs a pool thread; sled issues #1308 and
//! #1412). Here only this thread writes and only this thread flushes, synchronously, never on
//! sled's pool, and sled's own periodic flusher is off: no two of those ever overlap.
//!
//! A durable request is acknowledged only after the flush that covers it (nothing acknowledged
//! is lost); a request marked not durable is acknowledged as soon as it is applied and made
//! durable by the next flush (at most `IDLE_FLUSH` later when nothing else comes).
//!
//! Below the store floor (`space.rs`) nothing reaches sled: each request of a batch is handed
//! the `NoSpace` error instead of the database, and no flush is tried, so sled never meets a
//! full disk (its write errors are sticky until the database is reopened).
//!
//! This file must not know any record type or decide anything: it runs what the store's
//! methods hand it, in order.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::space::{self, DiskSpace};
use super::{Core, StoreError, now_us};

/// Called once the request's change is durable (`Ok`) or the flush failed (`Err`).
pub(super) type Ack = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A change to apply on the writer thread (given the database, or why it may not be written
/// now); it returns how to acknowledge it.
pub(super) type Job = Box<dyn FnOnce(Result<&Core, StoreError>) -> Ack + Send>;

/// At most this many requests share one flush (a bound on one batch's latency).
const MAX_BATCH: usize = 256;

/// Writes that asked for no flush of their own are flushed after this much quiet.
const IDLE_FLUSH: Duration = Duration::from_millis(200);

struct Request {
    job: Job,
    durable: bool,
}

/// The handle the store keeps: a queue into the writer thread, and the thread itself (joined
/// on drop, after a last flush, so the database is closed when the store is gone).
pub(super) struct Writer {
    db_path: PathBuf,
    queue: Mutex<Option<mpsc::Sender<Request>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// When the writer started the batch it is working on (µs since the epoch), 0 when idle.
    busy_since_us: Arc<AtomicU64>,
}

impl Writer {
    /// Starts the writer thread over `core`.
    pub(super) fn start(core: Arc<Core>) -> Result<Writer, StoreError> {
        let db_path = PathBuf::from(core.backend.describe());
        let (sender, receiver) = mpsc::channel::<Request>();
        let busy_since_us = Arc::new(AtomicU64::new(0));
        let busy = busy_since_us.clone();
        let thread = std::thread::Builder::new()
            .name("store-writer".to_string())
            .spawn(move || run(&core, &receiver, &busy))
            .map_err(|error| StoreError::Database {
                path: db_path.clone(),
                message: format!("start the store's writer thread: {error}"),
            })?;
        Ok(Writer {
            db_path,
            queue: Mutex::new(Some(sender)),
            thread: Mutex::new(Some(thread)),
            busy_since_us,
        })
    }

    /// Queues `job`; `durable` asks for a flush before its acknowledgement. The queue needs no
    /// bound of its own: every async caller waits for its answer, so it holds at most one
    /// request per waiting caller, plus the few informational writes that ride along.
    pub(super) fn submit(&self, durable: bool, job: Job) -> Result<(), StoreError> {
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let sent = match queue.as_ref() {
            Some(sender) => sender.send(Request { job, durable }).is_ok(),
            None => false,
        };
        if sent { Ok(()) } else { Err(self.gone()) }
    }

    /// The error every caller sees once the writer thread is gone.
    pub(super) fn gone(&self) -> StoreError {
        StoreError::Database {
            path: self.db_path.clone(),
            message: "the store's writer thread has stopped".to_string(),
        }
    }

    /// How long the writer has been inside one batch (`None` when it is idle).
    pub(super) fn busy_for(&self) -> Option<Duration> {
        let since = self.busy_since_us.load(Ordering::SeqCst);
        (since != 0).then(|| Duration::from_micros(now_us().saturating_sub(since)))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread after it has applied and flushed what was queued.
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

/// The disk's space when it is below the store floor (writes refused), else `None`.
fn short_of_space(core: &Core) -> Option<DiskSpace> {
    DiskSpace::of(&core.dir).filter(|space| space.free < space.store_floor())
}

fn run(core: &Core, queue: &mpsc::Receiver<Request>, busy: &AtomicU64) {
    let mut dirty = false;
    loop {
        let first = match queue.recv_timeout(IDLE_FLUSH) {
            Ok(request) => request,
            Err(RecvTimeoutError::Timeout) => {
                if dirty && short_of_space(core).is_none() {
                    busy.store(now_us().max(1), Ordering::SeqCst);
                    dirty = match core.flush_backend() {
                        Ok(_) => false,
                        Err(error) => {
                            tracing::error!("failed to flush the store: {error}");
                            true
                        }
                    };
                    busy.store(0, Ordering::SeqCst);
                }
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        };
        busy.store(now_us().max(1), Ordering::SeqCst);
        let mut waiting: Vec<Ack> = Vec::new();
        let mut next = Some(first);
        let mut taken = 0;
        let short = short_of_space(core);
        while let Some(request) = next {
            // A request that panics loses only its own answer (its caller hears an error); the
            // writer goes on with the others.
            let job = request.job;
            let given = match short {
                Some(disk) => Err(space::no_space(&core.dir, disk, disk.store_floor())),
                None => Ok(core),
            };
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(given))) {
                // Refused: nothing was written, nothing to flush.
                Ok(ack) if short.is_some() => ack(Ok(())),
                Ok(ack) if request.durable => waiting.push(ack),
                Ok(ack) => {
                    ack(Ok(()));
                    dirty = true;
                }
                Err(_) => {
                    tracing::error!("a store write panicked; its caller gets an error");
                    dirty = true;
                }
            }
            taken += 1;
            next = if taken < MAX_BATCH {
                queue.try_recv().ok()
            } else {
                None
            };
        }
        if !waiting.is_empty() {
            let flushed = core.flush_backend().map_err(|error| error.0);
            // A failed flush is tried again when the writer is next idle.
            dirty = flushed.is_err();
            for ack in waiting {
                ack(flushed.clone().map_err(|message| StoreError::Database {
                    path: PathBuf::from(core.backend.describe()),
                    message,
                }));
            }
        }
        busy.store(0, Ordering::SeqCst);
    }
    if let Err(error) = core.flush_backend() {
        tracing::error!("failed to flush the store on close: {error}");
    }
}
