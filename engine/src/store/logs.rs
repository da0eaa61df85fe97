//! Job logs: append-only text files beside the database (`<data>/logs/<run_id>/<job_key>.log`),
//! indexed in sled (the last chunk sequence stored, the committed byte length), plus a `watch`
//! per job so followers see new bytes as soon as they are committed.
//!
//! A chunk is committed when the index says so: bytes past the indexed length (a crash between
//! the file write and the index flush) are cut off before the next append, and the runner, which
//! had no acknowledgement, sends that chunk again.
//!
//! Memory per reader is bounded: one read returns at most `READ_CHUNK` bytes, and a whole log
//! is sent as a stream of such reads. A job's log is capped (`Store::set_log_limit`, default
//! `DEFAULT_LOG_LIMIT`): past the cap, new lines are dropped and one notice line says so; the
//! append still succeeds, so the job goes on. So it does when the data dir's disk is short of
//! space (`space.rs`): output is dropped with a notice until space is freed.
//!
//! Each line's time is kept in a sidecar file (`<job_key>.log.times`): 16-byte entries
//! (line number, unix ms; little-endian), one where the millisecond changes, so a line's time is
//! that of the last entry at or before it. The runner stamps lines as they are written
//! (`LogChunk::times`); lines without a stamp get their chunk's arrival. The sidecar's committed
//! length is in the index too, and its torn tail is cut like the log's.
//!
//! This file must not interpret log text (masking happens on the runner) nor hold the log in
//! memory beyond one read.

use std::collections::HashMap;
use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use protocol::wire::LogChunk;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::watch;

use super::space::DiskSpace;
use super::tokens::hex;
use super::{JobId, JobRecord, JobState, Store, StoreError, decode, encode, hash_secret};

/// What a follower sees: how many bytes are committed and whether more can come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogProgress {
    /// How many bytes of the log are committed, i.e. safe to read.
    pub byte_len: u64,
    /// Whether the log is closed (the job finished): no byte will follow.
    pub closed: bool,
}

/// The outcome of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogAppend {
    /// The highest chunk sequence stored for the current lease.
    pub last_seq: Option<u64>,
    /// Lines written by this call (0 when every chunk was a repeat).
    pub lines_written: usize,
}

/// The most one log read returns (and so the memory one reader holds).
pub const READ_CHUNK: usize = 256 * 1024;

/// A job's log cap unless `serve` sets another: 1 GiB.
pub const DEFAULT_LOG_LIMIT: u64 = 1024 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LogIndex {
    /// Path relative to the data directory.
    file: String,
    /// The lease whose chunks `last_seq` counts (sequences restart with each lease).
    fencing_token: Option<u64>,
    last_seq: Option<u64>,
    byte_len: u64,
    /// The cap was reached and the notice written: later lines are dropped.
    #[serde(default)]
    capped: bool,
    /// The disk was short of space and the notice written: lines are dropped until it is not.
    #[serde(default)]
    space_dropped: bool,
    /// Lines stored; `None` for a log an older engine began, which keeps no times.
    #[serde(default)]
    lines: Option<u64>,
    /// Committed bytes of the times file.
    #[serde(default)]
    times_len: u64,
    /// The time of the last entry of the times file.
    #[serde(default)]
    last_time_ms: Option<u64>,
}

/// Room kept for the notices a log may still need after a write.
const NOTICE_ROOM: u64 = 4096;

/// What became of a write at the end of a log (`Store::write_within_space`).
enum SpaceWrite {
    /// The text was written; `resumed`: after a line saying output resumes.
    Written { resumed: bool },
    /// The disk is short of space: the text was dropped; `notice`: one line says so.
    Dropped { notice: bool },
}

/// The size of one entry of a times file: line number and unix ms, both `u64` little-endian.
const TIME_ENTRY: u64 = 16;

#[derive(Default)]
pub(super) struct LogHub {
    jobs: Mutex<HashMap<JobId, Arc<JobLog>>>,
    /// The per-job cap in bytes (0: the default).
    limit: AtomicU64,
}

struct JobLog {
    append: tokio::sync::Mutex<()>,
    progress: watch::Sender<LogProgress>,
}

impl LogHub {
    /// No more lines will come for this job: wake its followers for the last time.
    pub(super) fn close(&self, job_id: JobId) {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(log) = jobs.remove(&job_id) {
            log.progress.send_modify(|progress| progress.closed = true);
        }
    }
}

impl Store {
    /// Sets the per-job log cap in bytes (`slipway serve --max-log-bytes`); 0 restores the
    /// default (`DEFAULT_LOG_LIMIT`).
    pub fn set_log_limit(&self, bytes: u64) {
        self.logs.limit.store(bytes, Ordering::SeqCst);
    }

    /// The per-job log cap in bytes.
    pub fn log_limit(&self) -> u64 {
        match self.logs.limit.load(Ordering::SeqCst) {
            0 => DEFAULT_LOG_LIMIT,
            limit => limit,
        }
    }

    /// Appends the chunks the lease holder sent (the caller checked the lease), skipping any
    /// whose sequence is already stored; durable on return.
    pub async fn append_log_chunks(
        &self,
        job: &JobRecord,
        fencing_token: u64,
        chunks: &[LogChunk],
    ) -> Result<LogAppend, StoreError> {
        let log = self.job_log(job)?;
        let _serialised = log.append.lock().await;
        let mut index = self.log_index(job)?;
        if index.lines.is_none() && index.byte_len == 0 {
            index.lines = Some(0);
        }
        let arrival_ms = now_ms();
        let counted = (index.lines, index.last_time_ms);
        let mut line_ms: Vec<u64> = Vec::new();
        let mut text = String::new();
        if index.fencing_token != Some(fencing_token) {
            if index.byte_len > 0 {
                text.push_str(&format!("--- attempt {} ---\n", job.attempt));
                line_ms.push(arrival_ms);
            }
            index.fencing_token = Some(fencing_token);
            index.last_seq = None;
        }
        let mut ordered: Vec<&LogChunk> = chunks.iter().collect();
        ordered.sort_by_key(|chunk| chunk.seq);
        let mut lines_written = 0;
        let limit = self.log_limit();
        for chunk in ordered {
            if index.last_seq.is_some_and(|last| chunk.seq <= last) {
                continue;
            }
            index.last_seq = Some(chunk.seq);
            if index.capped {
                continue;
            }
            let size: usize = chunk.lines.iter().map(|line| line.len() + 1).sum();
            if index.byte_len + (text.len() + size) as u64 > limit {
                // Past the cap: this chunk and every later one are dropped, once said so.
                text.push_str(&format!(
                    "--- log limit of {limit} bytes reached: later output of this job is dropped ---\n"
                ));
                line_ms.push(arrival_ms);
                lines_written += 1;
                index.capped = true;
                continue;
            }
            text.reserve(size);
            let mut stamps = chunk.times.iter().peekable();
            let mut ms = arrival_ms;
            for (i, line) in chunk.lines.iter().enumerate() {
                while let Some(stamp) = stamps.next_if(|stamp| stamp.line as usize <= i) {
                    ms = stamp.unix_ms;
                }
                line_ms.push(ms);
                // One stored line per reported line, whatever it contains (copied as it is in
                // the usual case: no allocation per line). A carriage return is kept: a
                // progress line (`10%\r20%\r30%`) is shown as a terminal ends it (`ui::ansi`).
                if line.contains('\n') {
                    text.push_str(&line.replace('\n', " "));
                } else {
                    text.push_str(line);
                }
                text.push('\n');
                lines_written += 1;
            }
        }
        if lines_written > 0 {
            // Lines are counted (and timed) as they are stored, once the write decided which.
            let mut times = Times::default();
            match self.write_within_space(&mut index, text).await? {
                SpaceWrite::Written { resumed } => {
                    if resumed {
                        times.stamp(&mut index, arrival_ms);
                    }
                    for ms in line_ms {
                        times.stamp(&mut index, ms);
                    }
                }
                SpaceWrite::Dropped { notice } => {
                    if notice {
                        times.stamp(&mut index, arrival_ms);
                    }
                }
            }
            if !times.entries.is_empty() {
                let path = self.dir.join(times_file_name(&index.file));
                write_at(&path, index.times_len, &times.entries).await?;
                index.times_len += times.entries.len() as u64;
            }
        } else {
            // Nothing written (an attempt marker alone is not): nothing counted either.
            (index.lines, index.last_time_ms) = counted;
        }
        let key = job.job_id.to_key();
        let bytes = encode(&index);
        self.write(move |core| {
            core.trees
                .log_index
                .insert(key, bytes)
                .map(|_| ())
                .map_err(|error| core.database_error(error))
        })
        .await?;
        let byte_len = index.byte_len;
        log.progress
            .send_modify(|progress| progress.byte_len = progress.byte_len.max(byte_len));
        Ok(LogAppend {
            last_seq: index.last_seq,
            lines_written,
        })
    }

    /// Writes `text` at the end of the log, unless the data dir's disk is down to its log floor
    /// (`space.rs`) or full: then the text is dropped and the log says so once, and says again
    /// when output resumes. The job goes on either way.
    async fn write_within_space(
        &self,
        index: &mut LogIndex,
        mut text: String,
    ) -> Result<SpaceWrite, StoreError> {
        let path = self.dir.join(&index.file);
        let space = DiskSpace::of(&self.dir);
        let fits = space.is_none_or(|space| space.fits_log(text.len() as u64 + NOTICE_ROOM));
        if fits {
            let resumed = index.space_dropped;
            if resumed {
                text.insert_str(
                    0,
                    "--- space on the data dir's disk is back: output resumes ---\n",
                );
            }
            match write_at(&path, index.byte_len, text.as_bytes()).await {
                Ok(()) => {
                    index.byte_len += text.len() as u64;
                    index.space_dropped = false;
                    return Ok(SpaceWrite::Written { resumed });
                }
                Err(StoreError::LogFile { source, .. })
                    if source.kind() == std::io::ErrorKind::StorageFull => {}
                Err(error) => return Err(error),
            }
        }
        let mut notice_written = false;
        if !index.space_dropped {
            let notice = match space {
                Some(space) => format!(
                    "--- no space left for logs on the data dir's disk ({} bytes free, {} kept free): output of this job is dropped until space is freed ---\n",
                    space.free,
                    space.log_floor()
                ),
                None => "--- no space left for logs on the data dir's disk: output of this job is dropped until space is freed ---\n".to_string(),
            };
            tracing::warn!(log = %path.display(), "{}", notice.trim_matches(['-', ' ', '\n']));
            // The notice is small; if even it does not fit, the log just stops here.
            if write_at(&path, index.byte_len, notice.as_bytes())
                .await
                .is_ok()
            {
                index.byte_len += notice.len() as u64;
                notice_written = true;
            }
            index.space_dropped = true;
        }
        Ok(SpaceWrite::Dropped {
            notice: notice_written,
        })
    }

    /// The committed log bytes of `job` from `offset` on, at most `READ_CHUNK` of them (empty
    /// when there are none): call again from where this one ended for more.
    pub async fn read_log(&self, job: &JobRecord, offset: u64) -> Result<Vec<u8>, StoreError> {
        let end = self.log_index(job)?.byte_len;
        self.read_log_range(job, offset, end).await
    }

    /// The committed length of the job's log in bytes.
    pub fn log_len(&self, job: &JobRecord) -> Result<u64, StoreError> {
        Ok(self.log_index(job)?.byte_len)
    }

    /// The committed log bytes in `offset..end` (cut to what is committed), at most
    /// `READ_CHUNK` of them.
    pub async fn read_log_range(
        &self,
        job: &JobRecord,
        offset: u64,
        end: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let index = self.log_index(job)?;
        let end = end
            .min(index.byte_len)
            .min(offset.saturating_add(READ_CHUNK as u64));
        if offset >= end {
            return Ok(Vec::new());
        }
        let path = self.dir.join(&index.file);
        let io_error = |source| StoreError::LogFile {
            path: path.clone(),
            source,
        };
        let mut file = tokio::fs::File::open(&path).await.map_err(io_error)?;
        file.seek(SeekFrom::Start(offset)).await.map_err(io_error)?;
        let mut bytes = Vec::new();
        file.take(end - offset)
            .read_to_end(&mut bytes)
            .await
            .map_err(io_error)?;
        Ok(bytes)
    }

    /// Streams the committed log from byte `from` to `visit` on a blocking thread, in pieces
    /// of whole lines of at most `SCAN_CHUNK` bytes (a longer line comes in pieces of that
    /// size; a piece is passed with its byte offset), reusing one buffer: a whole-log search or
    /// index costs no allocation per read and no trip to the async runtime per piece. Stops
    /// when the visitor answers false; returns it (with what it gathered).
    pub async fn scan_log<V: LogVisitor>(
        &self,
        job: &JobRecord,
        from: u64,
        visit: V,
    ) -> Result<V, StoreError> {
        let index = self.log_index(job)?;
        let path = self.dir.join(&index.file);
        let end = index.byte_len;
        if from >= end {
            return Ok(visit);
        }
        let reading = path.clone();
        let scanned = tokio::task::spawn_blocking(move || scan_file(&reading, from, end, visit))
            .await
            .unwrap_or_else(|error| Err(std::io::Error::other(error.to_string())));
        scanned.map_err(|source| StoreError::LogFile { path, source })
    }

    /// The times (unix ms) of lines `from..from + count` (0-based) of the job's log: `None` for
    /// a line with no time kept (a log an older engine began). Reads only the entries that
    /// cover those lines (a binary search over the times file), on a blocking thread.
    pub async fn log_line_times(
        &self,
        job: &JobRecord,
        from: u64,
        count: usize,
    ) -> Result<Vec<Option<u64>>, StoreError> {
        let index = self.log_index(job)?;
        let entries = index.times_len / TIME_ENTRY;
        if entries == 0 || count == 0 {
            return Ok(vec![None; count]);
        }
        let path = self.dir.join(times_file_name(&index.file));
        let reading = path.clone();
        let read =
            tokio::task::spawn_blocking(move || read_line_times(&reading, entries, from, count))
                .await
                .unwrap_or_else(|error| Err(std::io::Error::other(error.to_string())));
        read.map_err(|source| StoreError::LogFile { path, source })
    }

    /// Watches the job's committed log length; `closed` turns true once the job is completed.
    pub fn follow_log(&self, job: &JobRecord) -> Result<watch::Receiver<LogProgress>, StoreError> {
        Ok(self.job_log(job)?.progress.subscribe())
    }

    /// Brings the job's watch up to what the store says (several replicas: another one may
    /// have appended to the log, or completed the job).
    pub fn refresh_log_progress(&self, job: &JobRecord) -> Result<(), StoreError> {
        let log = self.job_log(job)?;
        // The job's state first: a job completed by then has its whole log indexed already.
        let closed = self
            .job(job.job_id)?
            .is_none_or(|current| current.state == JobState::Completed);
        let byte_len = self.log_index(job)?.byte_len;
        log.progress.send_if_modified(|progress| {
            let fresh = LogProgress {
                byte_len: byte_len.max(progress.byte_len),
                closed: closed || progress.closed,
            };
            let changed = fresh != *progress;
            *progress = fresh;
            changed
        });
        if closed {
            self.logs
                .jobs
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&job.job_id);
        }
        Ok(())
    }

    /// The job's in-memory log state, made on first use from the store. Done under the hub's
    /// lock so that a job completing at the same moment either finds it (and closes it) or is
    /// seen completed here.
    fn job_log(&self, job: &JobRecord) -> Result<Arc<JobLog>, StoreError> {
        let mut jobs = self
            .logs
            .jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(log) = jobs.get(&job.job_id) {
            return Ok(log.clone());
        }
        let current = self.job(job.job_id)?;
        let closed = current.is_none_or(|current| current.state == JobState::Completed);
        let byte_len = self.log_index(job)?.byte_len;
        let (progress, _) = watch::channel(LogProgress { byte_len, closed });
        let log = Arc::new(JobLog {
            append: tokio::sync::Mutex::new(()),
            progress,
        });
        if !closed {
            jobs.insert(job.job_id, log.clone());
        }
        Ok(log)
    }

    fn log_index(&self, job: &JobRecord) -> Result<LogIndex, StoreError> {
        match self
            .trees
            .log_index
            .get(job.job_id.to_key())
            .map_err(|error| self.database_error(error))?
        {
            Some(bytes) => decode("log_index", &bytes),
            None => Ok(LogIndex {
                file: log_file_name(job),
                fencing_token: None,
                last_seq: None,
                byte_len: 0,
                capped: false,
                space_dropped: false,
                lines: Some(0),
                times_len: 0,
                last_time_ms: None,
            }),
        }
    }
}

/// `logs/<run_id>/<job_key>.log`, with characters unsafe in a file name replaced; a key that
/// needed replacing gets a short hash so two keys never share a file.
fn log_file_name(job: &JobRecord) -> String {
    let safe: String = job
        .job_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = if safe == job.job_key && !safe.is_empty() {
        safe
    } else {
        let digest = hex(&hash_secret(&job.job_key));
        format!("{safe}-{}", digest.get(..12).unwrap_or(&digest))
    };
    PathBuf::from("logs")
        .join(job.run_id.to_string())
        .join(format!("{name}.log"))
        .to_string_lossy()
        .into_owned()
}

/// What reads a whole log through `Store::scan_log`.
pub trait LogVisitor: Send + 'static {
    /// Takes the next piece of whole lines, which starts at byte `offset` of the log; false
    /// stops the scan.
    fn visit(&mut self, offset: u64, bytes: &[u8]) -> bool;
}

/// The most bytes `Store::scan_log` hands over at once (and holds).
pub(super) const SCAN_CHUNK: usize = 1024 * 1024;

/// `Store::scan_log` on a blocking thread.
fn scan_file<V: LogVisitor>(
    path: &std::path::Path,
    from: u64,
    end: u64,
    mut visit: V,
) -> std::io::Result<V> {
    use std::io::{Read, Seek};
    let mut file = std::fs::File::open(path)?;
    file.seek(SeekFrom::Start(from))?;
    let mut file = file.take(end - from);
    let mut buffer = vec![0u8; SCAN_CHUNK];
    // `buffer[..filled]` holds bytes read but not handed over (a line's start); they begin at
    // byte `offset` of the log.
    let mut filled = 0usize;
    let mut offset = from;
    loop {
        let read = file.read(&mut buffer[filled..])?;
        let at_end = read == 0;
        filled += read;
        if filled == 0 {
            return Ok(visit);
        }
        if !at_end && filled < buffer.len() {
            continue;
        }
        // Whole lines go now; a full buffer without a line end goes as it is.
        let cut = match memchr::memrchr(b'\n', &buffer[..filled]) {
            Some(last) => last + 1,
            None => filled,
        };
        if !visit.visit(offset, &buffer[..cut]) {
            return Ok(visit);
        }
        buffer.copy_within(cut..filled, 0);
        filled -= cut;
        offset += cut as u64;
        if at_end && filled == 0 {
            return Ok(visit);
        }
    }
}

/// The times file beside a log file.
fn times_file_name(log_file: &str) -> String {
    format!("{log_file}.times")
}

/// The times entries one append writes.
#[derive(Default)]
struct Times {
    entries: Vec<u8>,
}

impl Times {
    /// The next line of the log was written at `unix_ms`: counts it, and adds an entry when
    /// the time differs from the last one (nothing for a log that keeps no times).
    fn stamp(&mut self, index: &mut LogIndex, unix_ms: u64) {
        let Some(line) = index.lines.as_mut() else {
            return;
        };
        if index.last_time_ms != Some(unix_ms) {
            self.entries.extend_from_slice(&line.to_le_bytes());
            self.entries.extend_from_slice(&unix_ms.to_le_bytes());
            index.last_time_ms = Some(unix_ms);
        }
        *line += 1;
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// `Store::log_line_times` on a blocking thread: the last entry at or before `from` by binary
/// search over the `entries` committed ones, then the entries up to `from + count`.
fn read_line_times(
    path: &std::path::Path,
    entries: u64,
    from: u64,
    count: usize,
) -> std::io::Result<Vec<Option<u64>>> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let entry = |k: u64| -> std::io::Result<(u64, u64)> {
        let mut bytes = [0u8; TIME_ENTRY as usize];
        file.read_exact_at(&mut bytes, k * TIME_ENTRY)?;
        let (line, ms) = bytes.split_at(8);
        Ok((le_u64(line), le_u64(ms)))
    };
    // The first entry past `from`: every entry before it is at or before `from`.
    let (mut low, mut high) = (0u64, entries);
    while low < high {
        let middle = low + (high - low) / 2;
        if entry(middle)?.0 <= from {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    let mut current = match low {
        0 => None,
        k => Some(entry(k - 1)?.1),
    };
    // Line numbers of entries strictly increase, so at most `count` entries lie in the window.
    let in_window = (entries - low).min(count as u64);
    let mut bytes = vec![0u8; (in_window * TIME_ENTRY) as usize];
    file.read_exact_at(&mut bytes, low * TIME_ENTRY)?;
    let mut window = bytes.chunks_exact(TIME_ENTRY as usize).map(|entry| {
        let (line, ms) = entry.split_at(8);
        (le_u64(line), le_u64(ms))
    });
    let mut pending = window.next();
    let mut times = Vec::with_capacity(count);
    for line in from..from + count as u64 {
        while let Some((_, ms)) = pending.filter(|(at, _)| *at <= line) {
            current = Some(ms);
            pending = window.next();
        }
        times.push(current);
    }
    Ok(times)
}

fn le_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().unwrap_or_default())
}

/// Writes `bytes` at `offset`, first cutting off anything past it (an uncommitted tail).
async fn write_at(path: &std::path::Path, offset: u64, bytes: &[u8]) -> Result<(), StoreError> {
    let io_error = |source| StoreError::LogFile {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io_error)?;
    }
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .await
        .map_err(io_error)?;
    if file.metadata().await.map_err(io_error)?.len() != offset {
        file.set_len(offset).await.map_err(io_error)?;
    }
    file.seek(SeekFrom::Start(offset)).await.map_err(io_error)?;
    file.write_all(bytes).await.map_err(io_error)?;
    file.flush().await.map_err(io_error)?;
    Ok(())
}
