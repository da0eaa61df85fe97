//! The read API the CLI and the web UI use: runs, a run's jobs, a job's log (whole, or followed
//! live as server-sent events), cancel, runners.
//!
//! This file must not change state except through `Engine::cancel_run`, which needs the admin
//! token like every other admin call.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::header::{ACCEPT_RANGES, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use protocol::wire::{
    CancelRequest, JobView, LogLineEvent, RunDetailView, RunView, RunnerView, StepView,
};
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::extract::{ApiError, Versioned, check_version};
pub(crate) use super::run_refs::resolve_run_id;
use crate::runs::dispatch::Engine;
use crate::store::{JobRecord, JobState, RunId, RunRecord, RunnerRecord, Store};

/// Query parameters of the GET endpoints: `protocol_version` is optional there.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ReadQuery {
    protocol_version: Option<u64>,
    follow: Option<String>,
    /// Where a follower starts, in bytes (a line start); `Last-Event-ID` wins when given.
    offset: Option<u64>,
    /// With `follow`: send only what is stored now, then `end` (data `snapshot`), without
    /// waiting for the job to end: the lines with their times, of a job still running.
    snapshot: Option<String>,
}

impl ReadQuery {
    fn check(&self) -> Result<(), ApiError> {
        match self.protocol_version {
            Some(version) => check_version(Some(version)),
            None => Ok(()),
        }
    }

    fn follow(&self) -> bool {
        matches!(self.follow.as_deref(), Some("1" | "true" | "yes" | ""))
    }

    fn snapshot(&self) -> bool {
        matches!(self.snapshot.as_deref(), Some("1" | "true" | "yes" | ""))
    }
}

/// `GET /api/v1/runs[?repo=&workflow=&branch=&status=&actor=&limit=]`: the runs passing every
/// filter given (`run_refs::RunFilter`), newest first.
pub(crate) async fn list_runs(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<ReadQuery>,
    Query(filter): Query<super::run_refs::RunFilter>,
) -> Result<Json<Vec<RunView>>, ApiError> {
    query.check()?;
    let runs = engine.store().runs()?;
    Ok(Json(
        runs.iter()
            .filter(|run| filter.admits(run))
            .take(filter.limit.unwrap_or(usize::MAX))
            .map(run_view)
            .collect(),
    ))
}

/// `GET /api/v1/runs/{run_id}`: the run and its jobs.
pub(crate) async fn show_run(
    State(engine): State<Arc<Engine>>,
    Path(run_id): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<RunDetailView>, ApiError> {
    query.check()?;
    let run_id = resolve_run_id(engine.store(), &run_id)?;
    Ok(Json(run_detail(engine.store(), run_id)?))
}

/// `POST /api/v1/runs/{run_id}/cancel` (admin token): the run after the cancel request.
pub(crate) async fn cancel_run(
    _admin: super::admin::Admin,
    State(engine): State<Arc<Engine>>,
    Path(run_id): Path<String>,
    Versioned(_request): Versioned<CancelRequest>,
) -> Result<Json<RunDetailView>, ApiError> {
    let run_id = resolve_run_id(engine.store(), &run_id)?;
    engine.cancel_run(run_id).await?;
    Ok(Json(run_detail(engine.store(), run_id)?))
}

/// `GET /api/v1/runners`.
pub(crate) async fn list_runners(
    State(engine): State<Arc<Engine>>,
    Query(query): Query<ReadQuery>,
) -> Result<Json<Vec<RunnerView>>, ApiError> {
    query.check()?;
    let runners = engine.store().runners()?;
    Ok(Json(runners.iter().map(runner_view).collect()))
}

/// `GET /api/v1/runs/{run_id}/jobs/{job_key}/logs`: the log as text, or with `?follow=1` a
/// stream of `log` events (one per line, in order, from the start or from `?offset=BYTES`)
/// ending with `end` once the job is completed. Each event's id is the byte offset after its
/// line, so a client that reconnects with `Last-Event-ID` resumes where it left off; each
/// carries `time_us`, when the engine stored it.
pub(crate) async fn job_logs(
    State(engine): State<Arc<Engine>>,
    Path((run_id, job_key)): Path<(String, String)>,
    Query(query): Query<ReadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.check()?;
    let run_id = resolve_run_id(engine.store(), &run_id)?;
    let job = engine
        .store()
        .job_by_key(run_id, &job_key)?
        .ok_or_else(|| ApiError::not_found(format!("find job `{job_key}` in run {run_id}")))?;
    if !query.follow() {
        return whole_log(engine, job, headers.get(RANGE)).await;
    }
    let resume = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    let start = resume.or(query.offset).unwrap_or(0);
    let stop_at = if query.snapshot() {
        Some(engine.store().log_len(&job)?)
    } else {
        None
    };
    let (sender, receiver) = mpsc::channel(64);
    tokio::spawn(follow_log(engine, job, start, stop_at, sender));
    let stream = ReceiverStream::new(receiver);
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response())
}

/// The committed log (or the `Range: bytes=a-b` / `bytes=a-` part of it, answered 206), streamed
/// from disk in chunks of at most `READ_CHUNK` bytes: a reader holds one chunk, never the file.
async fn whole_log(
    engine: Arc<Engine>,
    job: JobRecord,
    range: Option<&HeaderValue>,
) -> Result<Response, ApiError> {
    let len = engine.store().log_len(&job)?;
    let (start, end, partial) = match range {
        None => (0, len, false),
        Some(value) => {
            let unsatisfiable = || {
                ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    format!(
                        "the range header must be `bytes=start-[end]` within the log's {len} bytes"
                    ),
                )
            };
            let text = value.to_str().map_err(|_| unsatisfiable())?;
            let (first, last) = text
                .strip_prefix("bytes=")
                .and_then(|spec| spec.split_once('-'))
                .ok_or_else(unsatisfiable)?;
            let start: u64 = first.trim().parse().map_err(|_| unsatisfiable())?;
            let end = match last.trim() {
                "" => len,
                last => last
                    .parse::<u64>()
                    .map_err(|_| unsatisfiable())?
                    .saturating_add(1)
                    .min(len),
            };
            if start >= end {
                return Err(unsatisfiable());
            }
            (start, end, true)
        }
    };
    let (sender, receiver) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(2);
    tokio::spawn(async move {
        let mut offset = start;
        while offset < end {
            match engine.store().read_log_range(&job, offset, end).await {
                Ok(bytes) if bytes.is_empty() => return,
                Ok(bytes) => {
                    offset += bytes.len() as u64;
                    if sender.send(Ok(bytes)).await.is_err() {
                        return;
                    }
                }
                Err(error) => {
                    let _ = sender
                        .send(Err(std::io::Error::other(error.to_string())))
                        .await;
                    return;
                }
            }
        }
    });
    let body = Body::from_stream(ReceiverStream::new(receiver));
    let mut response = ([(CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response();
    response
        .headers_mut()
        .insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if partial {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)) {
            response.headers_mut().insert(CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// Sends every committed line from the start, then each new one as it is committed, then `end`
/// (with `stop_at`, `end` as soon as that many bytes are sent). Ends early when the client
/// goes away or the engine shuts down.
async fn follow_log(
    engine: Arc<Engine>,
    job: JobRecord,
    start: u64,
    stop_at: Option<u64>,
    sender: mpsc::Sender<Result<Event, Infallible>>,
) {
    let shutdown = engine.shutdown_token();
    let mut progress = match engine.store().follow_log(&job) {
        Ok(progress) => progress,
        Err(error) => {
            tracing::error!(%error, "failed to follow a log");
            return;
        }
    };
    let mut offset = start;
    // Line times are kept by line number (`Store::log_line_times`): count the lines before a
    // resumed stream's start once, then as they are sent.
    let mut line_number = if start == 0 {
        0
    } else {
        match engine
            .store()
            .scan_log(&job, 0, LineCount::upto(start))
            .await
        {
            Ok(count) => count.lines,
            Err(error) => {
                tracing::error!(%error, "failed to count a followed log's lines");
                return;
            }
        }
    };
    loop {
        if stop_at.is_some_and(|stop_at| offset >= stop_at) {
            let _ = sender
                .send(Ok(Event::default().event("end").data("snapshot")))
                .await;
            return;
        }
        let seen = *progress.borrow_and_update();
        if seen.byte_len > offset {
            let bytes = match engine.store().read_log(&job, offset).await {
                Ok(bytes) => bytes,
                Err(error) => {
                    tracing::error!(%error, "failed to read a followed log");
                    return;
                }
            };
            // Committed text always ends at a line end, so whole lines are sent; a read is cut
            // at `READ_CHUNK` bytes, and a line longer than that goes out in pieces.
            let complete = match bytes.iter().rposition(|byte| *byte == b'\n') {
                Some(last_newline) => bytes.get(..=last_newline).unwrap_or_default(),
                None if bytes.len() >= crate::store::READ_CHUNK => &bytes[..],
                None => return,
            };
            let count = complete.iter().filter(|byte| **byte == b'\n').count() + 1;
            let times = engine
                .store()
                .log_line_times(&job, line_number, count)
                .await
                .unwrap_or_default();
            for (index, piece) in complete.split_inclusive(|byte| *byte == b'\n').enumerate() {
                offset += piece.len() as u64;
                if piece.ends_with(b"\n") {
                    line_number += 1;
                }
                let text = String::from_utf8_lossy(piece);
                let line = LogLineEvent {
                    line: text.trim_end_matches(['\n', '\r']).to_string(),
                    time_us: times
                        .get(index)
                        .copied()
                        .flatten()
                        .map(|ms| ms.saturating_mul(1000)),
                };
                let Ok(event) = Event::default().event("log").json_data(&line) else {
                    continue;
                };
                let event = event.id(offset.to_string());
                if sender.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            continue;
        }
        if seen.closed {
            let _ = sender
                .send(Ok(Event::default().event("end").data("end")))
                .await;
            return;
        }
        tokio::select! {
            changed = progress.changed() => {
                if changed.is_err() {
                    // The job's log was closed and dropped: what the store holds is final.
                    progress = match engine.store().follow_log(&job) {
                        Ok(progress) => progress,
                        Err(_) => return,
                    };
                }
            }
            // Several replicas: the runner may report to another one, which does not wake
            // this follower; the store is looked at twice a second instead.
            _ = tokio::time::sleep(Duration::from_millis(500)), if engine.is_shared() => {
                if let Err(error) = engine.store().refresh_log_progress(&job) {
                    tracing::warn!(%error, "failed to look at a followed log");
                }
            }
            _ = shutdown.cancelled() => return,
            _ = sender.closed() => return,
        }
    }
}

/// Counts the lines that end before byte `end` of a log (`Store::scan_log`).
struct LineCount {
    end: u64,
    lines: u64,
}

impl LineCount {
    fn upto(end: u64) -> LineCount {
        LineCount { end, lines: 0 }
    }
}

impl crate::store::LogVisitor for LineCount {
    fn visit(&mut self, offset: u64, bytes: &[u8]) -> bool {
        let within = usize::try_from(self.end.saturating_sub(offset)).unwrap_or(usize::MAX);
        let piece = bytes.get(..within.min(bytes.len())).unwrap_or_default();
        self.lines += memchr::memchr_iter(b'\n', piece).count() as u64;
        offset + (bytes.len() as u64) < self.end
    }
}

pub(crate) fn parse_run_id(text: &str) -> Result<RunId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found(format!("find run {text}: not a run id")))
}

pub(crate) fn run_detail(store: &Store, run_id: RunId) -> Result<RunDetailView, ApiError> {
    let run = store
        .run(run_id)?
        .ok_or_else(|| ApiError::not_found(format!("find run {run_id}")))?;
    let jobs = store.jobs_of_run(run_id)?;
    let mut views: Vec<JobView> = jobs.iter().map(job_view).collect();
    // A queued job no runner can take says why instead of waiting silently.
    if jobs.iter().any(|job| job.state == JobState::Queued) {
        let runners = store.runners()?;
        for (job, view) in jobs.iter().zip(views.iter_mut()) {
            if job.state == JobState::Queued && view.waiting_reason.is_none() {
                view.waiting_reason =
                    crate::runs::unrunnable::no_runner_reason(&job.spec.runs_on, &runners);
            }
        }
    }
    Ok(RunDetailView {
        run: run_view(&run),
        jobs: views,
    })
}

pub(crate) fn run_view(run: &RunRecord) -> RunView {
    RunView {
        run_id: run.run_id.to_string(),
        workflow: run.workflow.clone(),
        run_number: run.run_number,
        status: run.status.as_str().to_string(),
        conclusion: run.conclusion.map(|c| c.as_str().to_string()),
        cancel_requested: run.cancel_requested,
        created_at_us: run.created_at_us,
        finished_at_us: run.finished_at_us,
        details: run.details.clone(),
    }
}

pub(crate) fn job_view(job: &JobRecord) -> JobView {
    JobView {
        job_id: job.job_id.to_string(),
        job_key: job.job_key.clone(),
        display_name: job.spec.display_name.clone(),
        status: job.state.as_str().to_string(),
        conclusion: job.conclusion().map(|c| c.as_str().to_string()),
        runner_id: job.runner_id.map(|runner_id| runner_id.to_string()),
        attempt: job.attempt,
        retry_reasons: job.retry_reasons.clone(),
        failure_reason: job
            .result
            .as_ref()
            .and_then(|result| result.failure_reason.clone()),
        cancel_requested: job.cancel_requested,
        queued_at_us: job.queued_at_us,
        leased_at_us: job.leased_at_us,
        finished_at_us: job.finished_at_us,
        steps: job
            .steps
            .iter()
            .map(|step| StepView {
                index: step.index,
                name: step.name.clone(),
                status: step
                    .conclusion
                    .map_or("in_progress", |c| c.as_str())
                    .to_string(),
            })
            .collect(),
        result: job.result.clone(),
        waiting_reason: job.waiting_reason.clone(),
        waiting_for: job.waiting_for,
    }
}

pub(crate) fn runner_view(runner: &RunnerRecord) -> RunnerView {
    RunnerView {
        runner_id: runner.runner_id.to_string(),
        name: runner.name.clone(),
        labels: runner.labels.clone(),
        capacity: runner.capacity,
        registered_at_us: runner.registered_at_us,
        last_seen_at_us: runner.last_seen_at_us,
    }
}
