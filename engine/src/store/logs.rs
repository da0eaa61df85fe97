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
//! append still succeeds, so the job goes on.
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

use super::tokens::hex;
use super::{JobId, JobRecord, JobState, Store, StoreError, decode, encode, hash_secret};

/// What a follower sees: how many bytes are committed and whether more can come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogProgress {
    pub byte_len: u64,
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
}

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
        let mut text = String::new();
        if index.fencing_token != Some(fencing_token) {
            if index.byte_len > 0 {
                text.push_str(&format!("--- attempt {} ---\n", job.attempt));
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
                lines_written += 1;
                index.capped = true;
                continue;
            }
            text.reserve(size);
            for line in &chunk.lines {
                // One stored line per reported line, whatever it contains (copied as it is in
                // the usual case: no allocation per line).
                if line.contains(['\n', '\r']) {
                    text.push_str(&line.replace(['\n', '\r'], " "));
                } else {
                    text.push_str(line);
                }
                text.push('\n');
                lines_written += 1;
            }
        }
        if lines_written > 0 {
            let path = self.dir.join(&index.file);
            write_at(&path, index.byte_len, text.as_bytes()).await?;
            append_time(&times_path(&path), index.byte_len, super::now_us()).await?;
            index.byte_len += text.len() as u64;
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

    /// When each stored piece of the job's log was written: `(byte offset, µs since the epoch)`
    /// pairs in offset order, one per append (so a line's time is that of the last pair at or
    /// before its start). Empty for logs stored before times were kept.
    pub async fn log_times(&self, job: &JobRecord) -> Result<Vec<(u64, u64)>, StoreError> {
        let index = self.log_index(job)?;
        let path = times_path(&self.dir.join(&index.file));
        let bytes = match tokio::fs::read(&path).await {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::LogFile { path, source }),
        };
        let mut times: Vec<(u64, u64)> = bytes
            .chunks_exact(16)
            .map(|pair| {
                let (offset, time) = pair.split_at(8);
                (u64_from(offset), u64_from(time))
            })
            .filter(|(offset, _)| *offset < index.byte_len)
            .collect();
        // A piece cut off by a crash is written again at the same offset: the later time wins.
        times.dedup_by(|later, earlier| {
            if later.0 == earlier.0 {
                earlier.1 = later.1;
                true
            } else {
                false
            }
        });
        Ok(times)
    }

    /// Watches the job's committed log length; `closed` turns true once the job is completed.
    pub fn follow_log(&self, job: &JobRecord) -> Result<watch::Receiver<LogProgress>, StoreError> {
        Ok(self.job_log(job)?.progress.subscribe())
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

/// The file beside a log that says when each piece of it was written (`Store::log_times`).
fn times_path(log: &std::path::Path) -> PathBuf {
    log.with_extension("log.times")
}

/// Appends one `(offset, time)` pair, 16 bytes big-endian, to a log's times file.
async fn append_time(path: &std::path::Path, offset: u64, time_us: u64) -> Result<(), StoreError> {
    let io_error = |source| StoreError::LogFile {
        path: path.to_path_buf(),
        source,
    };
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .await
        .map_err(io_error)?;
    let mut pair = [0u8; 16];
    pair[..8].copy_from_slice(&offset.to_be_bytes());
    pair[8..].copy_from_slice(&time_us.to_be_bytes());
    file.write_all(&pair).await.map_err(io_error)?;
    file.flush().await.map_err(io_error)
}

fn u64_from(bytes: &[u8]) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(bytes.get(..8).unwrap_or(&[0; 8]));
    u64::from_be_bytes(array)
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
