//! A job's log in the browser: windows of lines (a 100 MB log is never read whole: lines are
//! found through a sparse index of line starts, built by streaming the file once and extended as
//! the log grows), server-side search over the whole log, step navigation, ANSI rendered in Rust,
//! line links, live follow (the page follows `GET …/logs?follow=1` and fetches the new lines'
//! HTML). The same windows and search answer as JSON under `/api/v1/…/logs/lines` and
//! `/api/v1/…/logs/search`.
//!
//! Memory per request is one `READ_CHUNK` (a whole-log scan: one `SCAN_CHUNK`) plus the lines
//! asked for; the index costs 8 bytes per `CHECKPOINT_EVERY` lines. This file must not write the
//! store.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock, PoisonError};

use askama::Template;
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderValue;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};

use super::ansi::{escape_into, line_to_html, line_to_text};
use super::auth::{Session, path_segment};
use super::format::state_word;
use super::{Chrome, UiError, render};
use crate::api::AppState;
use crate::store::{JobId, JobRecord, JobState, LogVisitor, Store, StoreError};

/// Lines per window of the log page.
pub(super) const WINDOW: usize = 1000;
/// Most matches a search lists (all are counted).
pub(super) const MAX_MATCHES: usize = 500;
const CHECKPOINT_EVERY: u64 = 1000;

/// Where lines start: `checkpoints[k]` is the byte offset of line `k * CHECKPOINT_EVERY`
/// (0-based); `lines` complete lines lie in `0..scanned`.
#[derive(Debug, Clone, Default)]
struct LineIndex {
    checkpoints: Vec<u64>,
    lines: u64,
    scanned: u64,
    /// The `##[step] NAME` lines: (1-based line number, name), found while indexing.
    steps: Vec<(u64, String)>,
}

/// The index of `job`'s log, extended to what is committed now.
async fn line_index(store: &Store, job: &JobRecord) -> Result<LineIndex, StoreError> {
    static CACHE: OnceLock<Mutex<HashMap<JobId, LineIndex>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut index = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&job.job_id)
        .cloned()
        .unwrap_or_else(|| LineIndex {
            checkpoints: vec![0],
            ..LineIndex::default()
        });
    let len = store.log_len(job)?;
    if index.scanned < len {
        let from = index.scanned;
        index = store.scan_log(job, from, IndexScan(index)).await?.0;
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() > 256 {
            cache.clear();
        }
        cache.insert(job.job_id, index.clone());
    }
    Ok(index)
}

/// Extends a `LineIndex` over the pieces of the log past what it has scanned.
struct IndexScan(LineIndex);

impl LogVisitor for IndexScan {
    fn visit(&mut self, offset: u64, bytes: &[u8]) -> bool {
        let index = &mut self.0;
        // Only whole lines count: a piece of a line longer than a piece is read again next
        // time (the scan hands over whole lines whenever there is a line end).
        let Some(last) = memchr::memrchr(b'\n', bytes) else {
            return true;
        };
        let mut line_start = 0usize;
        for i in memchr::memchr_iter(b'\n', &bytes[..=last]) {
            index.lines += 1;
            if let Some(name) = bytes[line_start..i].strip_prefix(b"##[step] ".as_slice()) {
                let name = line_to_text(&String::from_utf8_lossy(name));
                index.steps.push((index.lines, name));
            }
            if index.lines.is_multiple_of(CHECKPOINT_EVERY) {
                index.checkpoints.push(offset + i as u64 + 1);
            }
            line_start = i + 1;
        }
        index.scanned = offset + last as u64 + 1;
        true
    }
}

/// Lines `from..from + count` (0-based) of the log, and the byte offset after the last one.
async fn read_lines(
    store: &Store,
    job: &JobRecord,
    index: &LineIndex,
    from: u64,
    count: usize,
) -> Result<(Vec<String>, u64), StoreError> {
    let checkpoint = (from / CHECKPOINT_EVERY) as usize;
    let Some(&start) = index.checkpoints.get(checkpoint) else {
        return Ok((Vec::new(), index.scanned));
    };
    let mut to_skip = from - checkpoint as u64 * CHECKPOINT_EVERY;
    let mut lines = Vec::with_capacity(count.min(WINDOW));
    let mut offset = start;
    let mut carry: Vec<u8> = Vec::new();
    let end = index.scanned;
    while offset < end && lines.len() < count {
        let bytes = store.read_log_range(job, offset, end).await?;
        if bytes.is_empty() {
            break;
        }
        let mut consumed = 0usize;
        for (i, byte) in bytes.iter().enumerate() {
            if *byte != b'\n' {
                continue;
            }
            let piece = &bytes[consumed..i];
            consumed = i + 1;
            if to_skip > 0 {
                to_skip -= 1;
                carry.clear();
                continue;
            }
            carry.extend_from_slice(piece);
            lines.push(String::from_utf8_lossy(&carry).into_owned());
            carry.clear();
            if lines.len() >= count {
                return Ok((lines, offset + consumed as u64));
            }
        }
        if to_skip == 0 {
            carry.extend_from_slice(&bytes[consumed..]);
        }
        offset += bytes.len() as u64;
    }
    Ok((lines, end))
}

/// One search hit: its 1-based line number and its text (without terminal codes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct LogMatch {
    pub line: u64,
    pub text: String,
}

/// `GET /api/v1/runs/{run}/jobs/{key}/logs/search`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct LogSearch {
    pub query: String,
    /// Every matching line, counted over the whole log.
    pub total: u64,
    /// The first `MAX_MATCHES` of them.
    pub matches: Vec<LogMatch>,
}

/// Finds `query` (case-insensitively for ASCII letters) in every committed line, streaming the
/// log once; a line matching several times counts once.
async fn search(
    store: &Store,
    job: &JobRecord,
    query: &str,
    limit: usize,
) -> Result<LogSearch, StoreError> {
    let found = LogSearch {
        query: query.to_string(),
        total: 0,
        matches: Vec::new(),
    };
    if query.is_empty() {
        return Ok(found);
    }
    let Ok(finder) = aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build([query])
    else {
        return Ok(found);
    };
    // The whole log goes through once, in large pieces of whole lines on a blocking thread.
    let scan = SearchScan {
        finder,
        found,
        limit,
        lines_before: 0,
    };
    Ok(store.scan_log(job, 0, scan).await?.found)
}

/// A search's state through the log.
struct SearchScan {
    finder: aho_corasick::AhoCorasick,
    found: LogSearch,
    limit: usize,
    /// Lines before the current piece.
    lines_before: u64,
}

impl LogVisitor for SearchScan {
    /// Lines are counted only up to each hit and once at the piece's end (memchr), so a piece
    /// without a hit costs one pass of the finder and one of memchr.
    fn visit(&mut self, _offset: u64, bytes: &[u8]) -> bool {
        let mut counted_to = 0usize;
        let mut line = self.lines_before;
        let mut last_line = 0u64;
        for hit in self.finder.find_iter(bytes) {
            let at = hit.start();
            line += memchr::memchr_iter(b'\n', &bytes[counted_to..at]).count() as u64;
            counted_to = at;
            let number = line + 1;
            if number == last_line {
                continue;
            }
            last_line = number;
            self.found.total += 1;
            if self.found.matches.len() < self.limit {
                let start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |i| i + 1);
                let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |i| at + i);
                self.found.matches.push(LogMatch {
                    line: number,
                    text: line_to_text(&String::from_utf8_lossy(&bytes[start..end])),
                });
            }
        }
        line += memchr::memchr_iter(b'\n', &bytes[counted_to..]).count() as u64;
        self.lines_before = line;
        true
    }
}

/// The HTML rows of lines numbered from `first` (1-based), each with its time when known (a
/// `<time>` the page shows or hides: `.log.show-ts` shows them).
pub(super) fn rows_html(lines: &[String], times: &[Option<u64>], first: u64) -> String {
    let mut html = String::new();
    for (i, line) in lines.iter().enumerate() {
        let number = first + i as u64;
        let (kind, body) = classify(line);
        let _ = write!(
            html,
            "<div class=\"l{kind}\" id=\"L{number}\"><a class=\"n\" href=\"#L{number}\" aria-label=\"line {number}\">{number}</a>"
        );
        if let Some(Some(unix_ms)) = times.get(i) {
            let (datetime, shown) = line_time(*unix_ms);
            let _ = write!(
                html,
                "<time class=\"ts\" datetime=\"{datetime}\">{shown}</time>"
            );
        }
        html.push_str("<span class=\"t\">");
        match kind {
            " step" | " group" => {
                let mut title = String::new();
                escape_into(&mut title, &line_to_text(body));
                html.push_str(&title);
            }
            _ => html.push_str(&line_to_html(body)),
        }
        html.push_str("</span></div>\n");
    }
    html
}

/// A line's time as `datetime` (RFC 3339, UTC, milliseconds) and as shown (`HH:MM:SS.mmm`).
fn line_time(unix_ms: u64) -> (String, String) {
    i64::try_from(unix_ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map(|at| {
            let millis = unix_ms % 1000;
            (
                format!("{}.{millis:03}Z", at.strftime("%Y-%m-%dT%H:%M:%S")),
                format!("{}.{millis:03}", at.strftime("%H:%M:%S")),
            )
        })
        .unwrap_or_default()
}

/// The row class of a line and the text to show (workflow commands and step markers).
fn classify(line: &str) -> (&'static str, &str) {
    const KINDS: [(&str, &str); 12] = [
        ("##[step-end] ", " step-end"),
        ("##[step] ", " step"),
        ("##[group]", " group"),
        ("::group::", " group"),
        ("##[endgroup]", " endgroup"),
        ("::endgroup::", " endgroup"),
        ("##[error]", " err"),
        ("::error", " err"),
        ("##[warning]", " warn"),
        ("::warning", " warn"),
        ("##[notice]", " notice"),
        ("##[debug]", " debug"),
    ];
    for (prefix, kind) in KINDS {
        if let Some(rest) = line.strip_prefix(prefix) {
            return (kind, rest);
        }
    }
    ("", line)
}

#[derive(Deserialize, Default)]
pub(super) struct LogQuery {
    from: Option<u64>,
    line: Option<u64>,
    count: Option<usize>,
    q: Option<String>,
    /// `1`: the page shows each line's time.
    ts: Option<u8>,
}

struct StepLink {
    name: String,
    line: u64,
}

#[derive(Template)]
#[template(path = "log.html")]
struct LogPage {
    chrome: Chrome,
    run_id: String,
    run_title: String,
    job_name: String,
    job_key_segment: String,
    state: &'static str,
    completed: bool,
    steps: Vec<StepLink>,
    rows: String,
    first: u64,
    next: u64,
    total_lines: u64,
    byte_len: u64,
    previous_from: Option<u64>,
    next_from: Option<u64>,
    query: String,
    search_truncated: bool,
    search: Option<LogSearch>,
    /// Lines show their times (`?ts=1`; the script toggles it without a reload).
    timestamps: bool,
    /// This page with timestamps toggled (for the link that works without the script).
    toggle_timestamps_url: String,
}

async fn find_job(state: &AppState, run_id: &str, job_key: &str) -> Result<JobRecord, UiError> {
    let run_id = crate::api::reads::resolve_run_id(state.engine().store(), run_id)?;
    state
        .engine()
        .store()
        .job_by_key(run_id, job_key)?
        .ok_or_else(|| UiError::not_found(format!("find job `{job_key}` in run {run_id}")))
}

/// `GET /runs/{run}/jobs/{key}[?from=N|line=N][&q=TEXT]`.
pub(super) async fn log_page(
    session: Session,
    State(state): State<AppState>,
    Path((run_id, job_key)): Path<(String, String)>,
    Query(query): Query<LogQuery>,
) -> Result<Response, UiError> {
    let job = find_job(&state, &run_id, &job_key).await?;
    let store = state.engine().store();
    let run = store.run(job.run_id)?;
    let index = line_index(store, &job).await?;
    let first = match (query.from, query.line) {
        (Some(from), _) => from.max(1),
        (None, Some(line)) => line.saturating_sub(100).max(1),
        (None, None) => 1,
    };
    let count = query.count.unwrap_or(WINDOW).clamp(1, 10 * WINDOW);
    let (lines, _) = read_lines(store, &job, &index, first - 1, count).await?;
    let times = store.log_line_times(&job, first - 1, lines.len()).await?;
    let next = first + lines.len() as u64;
    let steps = index
        .steps
        .iter()
        .map(|(line, name)| StepLink {
            name: name.clone(),
            line: *line,
        })
        .collect();
    let query_text = query.q.clone().unwrap_or_default();
    let found = match query.q.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => Some(search(store, &job, text, MAX_MATCHES).await?),
        _ => None,
    };
    let view = crate::api::reads::job_view(&job);
    let run_title = run
        .as_ref()
        .map(|run| {
            let name = run
                .workflow
                .strip_prefix(".github/workflows/")
                .unwrap_or(&run.workflow);
            format!("{name} #{}", run.run_number)
        })
        .unwrap_or_default();
    Ok(render(&LogPage {
        chrome: Chrome::new(
            format!("{} · {run_title}", job.spec.display_name),
            "runs",
            &session,
        ),
        run_id: job.run_id.to_string(),
        run_title,
        job_name: job.spec.display_name.clone(),
        job_key_segment: path_segment(&job.job_key),
        state: state_word(&view.status, view.conclusion.as_deref()),
        completed: job.state == JobState::Completed,
        steps,
        rows: rows_html(&lines, &times, first),
        first,
        next,
        total_lines: index.lines,
        byte_len: index.scanned,
        previous_from: (first > 1).then(|| first.saturating_sub(count as u64).max(1)),
        next_from: (next <= index.lines).then_some(next),
        query: query_text,
        search_truncated: found
            .as_ref()
            .is_some_and(|f| f.total > f.matches.len() as u64),
        search: found,
        timestamps: query.ts == Some(1),
        toggle_timestamps_url: toggle_timestamps_url(&query, first),
    }))
}

/// The log page as it is, with `ts` flipped.
fn toggle_timestamps_url(query: &LogQuery, first: u64) -> String {
    let mut url = format!("?from={first}");
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        url.push_str("&q=");
        url.push_str(&super::auth::path_segment(q));
    }
    if query.ts != Some(1) {
        url.push_str("&ts=1");
    }
    url
}

/// `GET /runs/{run}/jobs/{key}/lines?from=N[&count=C]`: the rows' HTML only (the page's script
/// fetches more lines with it), with `X-Next-Line`, `X-Total-Lines` and `X-Log-Bytes`.
pub(super) async fn lines_fragment(
    _session: Session,
    State(state): State<AppState>,
    Path((run_id, job_key)): Path<(String, String)>,
    Query(query): Query<LogQuery>,
) -> Result<Response, UiError> {
    let job = find_job(&state, &run_id, &job_key).await?;
    let store = state.engine().store();
    let index = line_index(store, &job).await?;
    let first = query.from.unwrap_or(1).max(1);
    let count = query.count.unwrap_or(WINDOW).clamp(1, 10 * WINDOW);
    let (lines, _) = read_lines(store, &job, &index, first - 1, count).await?;
    let times = store.log_line_times(&job, first - 1, lines.len()).await?;
    let next = first + lines.len() as u64;
    let mut response = Html(rows_html(&lines, &times, first)).into_response();
    for (name, value) in [
        ("x-next-line", next),
        ("x-total-lines", index.lines),
        ("x-log-bytes", index.scanned),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}

/// The JSON endpoints of this file (documented in `docs/api.md`).
pub(super) fn api_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/runs/{run_id}/jobs/{job_key}/logs/lines",
            get(api_lines),
        )
        .route(
            "/api/v1/runs/{run_id}/jobs/{job_key}/logs/search",
            get(api_search),
        )
}

/// `GET /api/v1/runs/{run}/jobs/{key}/logs/lines`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct LogLines {
    /// The 1-based number of the first line in `lines`.
    pub from: u64,
    pub lines: Vec<String>,
    /// When each of `lines` was written (milliseconds since the epoch), `null` when not kept.
    pub times: Vec<Option<u64>>,
    /// Complete lines committed so far.
    pub total_lines: u64,
    /// Bytes those lines take (a follower's `offset`).
    pub byte_len: u64,
    pub completed: bool,
}

async fn api_lines(
    State(state): State<AppState>,
    Path((run_id, job_key)): Path<(String, String)>,
    Query(query): Query<LogQuery>,
) -> Response {
    let answer = async {
        let job = find_job(&state, &run_id, &job_key).await?;
        let store = state.engine().store();
        let index = line_index(store, &job).await?;
        let from = query.from.unwrap_or(1).max(1);
        let count = query.count.unwrap_or(WINDOW).clamp(1, 10 * WINDOW);
        let (lines, _) = read_lines(store, &job, &index, from - 1, count).await?;
        let times = store.log_line_times(&job, from - 1, lines.len()).await?;
        Ok::<_, UiError>(LogLines {
            from,
            lines,
            times,
            total_lines: index.lines,
            byte_len: index.scanned,
            completed: job.state == JobState::Completed,
        })
    };
    match answer.await {
        Ok(lines) => Json(lines).into_response(),
        Err(UiError(status, message)) => crate::api::ApiError::new(status, message).into_response(),
    }
}

async fn api_search(
    State(state): State<AppState>,
    Path((run_id, job_key)): Path<(String, String)>,
    Query(query): Query<LogQuery>,
) -> Response {
    let answer = async {
        let job = find_job(&state, &run_id, &job_key).await?;
        let text = query.q.unwrap_or_default();
        if text.is_empty() {
            return Err(UiError(
                axum::http::StatusCode::BAD_REQUEST,
                "query parameter `q`: give the text to find".to_string(),
            ));
        }
        Ok::<LogSearch, UiError>(search(state.engine().store(), &job, &text, MAX_MATCHES).await?)
    };
    match answer.await {
        Ok(found) => Json(found).into_response(),
        Err(UiError(status, message)) => crate::api::ApiError::new(status, message).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_escape_and_classify() {
        let html = rows_html(
            &[
                "##[step] <script>build</script>".to_string(),
                "\u{1b}[31m<b>red</b>".to_string(),
                "##[error]bad & worse".to_string(),
            ],
            &[Some(1_733_380_693_123), None],
            7,
        );
        assert!(html.contains("id=\"L7\""));
        assert!(html.contains("href=\"#L9\""));
        assert!(html.contains("class=\"l step\""));
        assert!(html.contains("class=\"l err\""));
        assert!(!html.contains("<script>"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("bad &amp; worse"));
        assert!(
            html.contains(
                "<time class=\"ts\" datetime=\"2024-12-05T06:38:13.123Z\">06:38:13.123</time><span class=\"t\">"
            ),
            "{html}"
        );
        assert_eq!(html.matches("<time").count(), 1, "{html}");
    }
}
