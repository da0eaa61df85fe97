//! `slipway logs RUN [--job J] [-f] [--json] [--timestamps]`: a run's job logs, rendered
//! (`log_render`: step starts, groups, errors as text, never raw markers), each line prefixed
//! with its job (`[build] line`) unless one job was asked for. With `-f` every job is followed
//! live at once over the engine's server-sent events, lines printed as they come (parallel
//! jobs interleave), until the run (or the job) ends; a dropped connection is resumed from the
//! last line's offset, so no line repeats. Exits by the run's (or the job's) conclusion when
//! following (`exit::for_run`).
//!
//! This file must not reorder one job's lines or change their text beyond the rendering.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::time::{Duration, Instant};

use protocol::wire::{JobView, LogLineEvent, RunDetailView};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::log_render::{Rendered, Renderer};
use super::runs::{resolve_run, run_detail, waits_for_approval};
use super::{ClientError, EngineArgs, EngineClient, block_on, encode_component};
use crate::exit;

/// How often a follower looks for new jobs and the run's end.
const POLL: Duration = Duration::from_millis(250);
/// How long a follower keeps trying to reach an engine that went away before it gives up.
const RECONNECT_FOR: Duration = Duration::from_secs(90);

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct LogsArgs {
    /// The run: its id, a unique prefix of it (8+ characters), or WORKFLOW#NUMBER[.ATTEMPT]
    pub run: String,
    /// Only this job (its key, as `run-status` shows it); its lines are not prefixed
    #[arg(long, value_name = "JOB")]
    pub job: Option<String>,
    /// Follow the logs live until the run (or the job) ends; exits by its conclusion
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// One JSON object per line: job, step, step_number, kind, line, time, time_us
    #[arg(long)]
    pub json: bool,
    /// Start each line with the time the engine stored it
    #[arg(long)]
    pub timestamps: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub(crate) fn logs(args: &LogsArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let run_id = resolve_run(&client, &args.run).await?;
        let detail = run_detail(&client, &run_id).await?;
        let only = match &args.job {
            Some(job) if args.follow => Some(wait_for_job(&client, &run_id, job).await?),
            Some(job) => Some(find_job(&detail, job)?.job_key.clone()),
            None => None,
        };
        let mut printer = Printer {
            json: args.json,
            timestamps: args.timestamps,
            prefix: only.is_none(),
            renderers: HashMap::new(),
        };
        if !args.follow {
            for view in detail
                .jobs
                .iter()
                .filter(|view| only.as_ref().is_none_or(|key| *key == view.job_key))
            {
                printer.steps(&view.job_key, view);
                let (sender, mut receiver) = mpsc::unbounded_channel();
                let stream = tokio::spawn(stream_job(
                    client.clone(),
                    run_id.clone(),
                    view.job_key.clone(),
                    true,
                    sender,
                ));
                while let Some(line) = receiver.recv().await {
                    printer.print(&line)?;
                }
                stream.await.map_err(|error| {
                    ClientError::Protocol(format!("the log reader stopped: {error}"))
                })??;
            }
            return Ok(exit::SUCCESS);
        }
        let detail = follow(&client, &run_id, only.as_deref(), &mut printer).await?;
        Ok(match &only {
            Some(key) => {
                let job = detail.jobs.iter().find(|view| view.job_key == *key);
                exit::for_run(job.and_then(|job| job.conclusion.as_deref()), false)
            }
            None => exit::for_run(
                detail.run.conclusion.as_deref(),
                waits_for_approval(&detail),
            ),
        })
    })
}

/// `dispatch --wait`: follows the run's logs (unless `json`) until it ends, then says how it
/// ended (with `json`, prints the run as `run-status --json` does); exits by its conclusion.
pub(crate) fn wait_for_run(url: &str, token: Option<String>, run_id: &str, json: bool) -> i32 {
    block_on(async {
        let client = EngineClient::new(url, token)?;
        let detail = if json {
            loop {
                let detail = run_detail(&client, run_id).await?;
                if detail.run.status == "completed" {
                    break detail;
                }
                tokio::time::sleep(POLL).await;
            }
        } else {
            let mut printer = Printer {
                json: false,
                timestamps: false,
                prefix: true,
                renderers: HashMap::new(),
            };
            follow(&client, run_id, None, &mut printer).await?
        };
        let failures = super::failures::failed_steps(&client, &detail).await?;
        if json {
            let mut value = serde_json::to_value(&detail)
                .map_err(|error| ClientError::Protocol(error.to_string()))?;
            value["failures"] = serde_json::to_value(&failures)
                .map_err(|error| ClientError::Protocol(error.to_string()))?;
            super::print_json(&value)?;
        } else {
            let took = detail
                .run
                .finished_at_us
                .map(|finished| crate::style::between(detail.run.created_at_us, finished));
            eprintln!(
                "run {} ({} #{}) {}{}",
                detail.run.run_id,
                detail.run.workflow,
                detail.run.run_number,
                detail.run.conclusion.as_deref().unwrap_or("ended"),
                took.map(|took| format!(" in {took}")).unwrap_or_default()
            );
            super::failures::print(&failures);
        }
        Ok(exit::for_run(detail.run.conclusion.as_deref(), false))
    })
}

/// One stored line of one job, as it arrived.
#[derive(Debug)]
struct JobLine {
    job_key: String,
    line: LogLineEvent,
}

/// Prints lines as text or JSON; one renderer per job.
struct Printer {
    json: bool,
    timestamps: bool,
    prefix: bool,
    renderers: HashMap<String, Renderer>,
}

impl Printer {
    fn steps(&mut self, job_key: &str, view: &JobView) {
        self.renderers
            .entry(job_key.to_string())
            .or_default()
            .set_steps(&view.steps);
    }

    fn print(&mut self, line: &JobLine) -> Result<(), ClientError> {
        let rendered: Rendered = self
            .renderers
            .entry(line.job_key.clone())
            .or_default()
            .render(&line.line.line);
        let mut stdout = std::io::stdout().lock();
        if self.json {
            let object = json!({
                "job": line.job_key,
                "step": rendered.step,
                "step_number": rendered.step_number,
                "kind": rendered.kind,
                "line": rendered.text,
                "time": line.line.time_us.and_then(crate::style::rfc3339),
                "time_us": line.line.time_us,
            });
            writeln!(stdout, "{object}").map_err(write_error)?;
            return stdout.flush().map_err(write_error);
        }
        let Some(shown) = rendered.shown else {
            return Ok(());
        };
        let mut text = String::new();
        if self.timestamps {
            let time = line
                .line
                .time_us
                .map_or_else(|| "-".to_string(), crate::style::instant);
            text.push_str(&time);
            text.push(' ');
        }
        if self.prefix {
            text.push_str(&format!("[{}] ", line.job_key));
        }
        text.push_str(&shown);
        writeln!(stdout, "{text}").map_err(write_error)?;
        stdout.flush().map_err(write_error)
    }
}

/// Follows the run's jobs (or the one job `only`) at once, printing lines as they come, until
/// the run is completed and every job's stream ended; the run as it ended.
async fn follow(
    client: &EngineClient,
    run_id: &str,
    only: Option<&str>,
    printer: &mut Printer,
) -> Result<RunDetailView, ClientError> {
    let (sender, mut receiver) = mpsc::unbounded_channel::<JobLine>();
    let mut streams: JoinSet<Result<(), ClientError>> = JoinSet::new();
    let mut followed: HashSet<String> = HashSet::new();
    let mut last_poll: Option<Instant> = None;
    let mut unreachable_since: Option<Instant> = None;
    let mut detail: Option<RunDetailView> = None;
    loop {
        if last_poll.is_none_or(|at| at.elapsed() >= POLL) {
            last_poll = Some(Instant::now());
            match run_detail(client, run_id).await {
                Ok(now) => {
                    unreachable_since = None;
                    for view in &now.jobs {
                        printer.steps(&view.job_key, view);
                        let wanted = only.is_none_or(|key| key == view.job_key);
                        if wanted && followed.insert(view.job_key.clone()) {
                            streams.spawn(stream_job(
                                client.clone(),
                                run_id.to_string(),
                                view.job_key.clone(),
                                false,
                                sender.clone(),
                            ));
                        }
                    }
                    detail = Some(now);
                }
                Err(ClientError::Unreachable { .. })
                    if unreachable_since.is_none_or(|since| since.elapsed() < RECONNECT_FOR) =>
                {
                    unreachable_since.get_or_insert_with(Instant::now);
                }
                Err(error) => return Err(error),
            }
        }
        let finished = detail.as_ref().is_some_and(|detail| {
            let job_done = only.is_some_and(|key| {
                detail
                    .jobs
                    .iter()
                    .any(|view| view.job_key == key && view.status == "completed")
            });
            detail.run.status == "completed" || job_done
        });
        if finished && streams.is_empty() {
            while let Ok(line) = receiver.try_recv() {
                printer.print(&line)?;
            }
            // The run as it ended: a job's conclusion may land after its log's end.
            return match detail {
                Some(detail) if detail.run.status == "completed" || only.is_some() => {
                    run_detail(client, run_id).await.or(Ok(detail))
                }
                Some(detail) => Ok(detail),
                None => run_detail(client, run_id).await,
            };
        }
        tokio::select! {
            Some(line) = receiver.recv() => printer.print(&line)?,
            Some(ended) = streams.join_next() => {
                ended.map_err(|error| ClientError::Protocol(format!("a log follower stopped: {error}")))??;
            }
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// Sends one job's lines (from its start) to `sender` until the engine says the log ended
/// (`snapshot`: until what is stored now was sent). A dropped connection is opened again from
/// the offset after the last line received, for up to `RECONNECT_FOR` without progress.
async fn stream_job(
    client: EngineClient,
    run_id: String,
    job_key: String,
    snapshot: bool,
    sender: mpsc::UnboundedSender<JobLine>,
) -> Result<(), ClientError> {
    let mut offset: u64 = 0;
    let mut failing_since: Option<Instant> = None;
    let mut backoff = Duration::from_millis(100);
    loop {
        let before = offset;
        let attempt = stream_from(&client, &run_id, &job_key, snapshot, &mut offset, &sender).await;
        let error = match attempt {
            Ok(true) => return Ok(()),
            Ok(false) => ClientError::Protocol(format!(
                "the log stream of job `{job_key}` ended before the job did"
            )),
            Err(error @ (ClientError::Unreachable { .. } | ClientError::Protocol(_))) => error,
            Err(error) => return Err(error),
        };
        if offset > before {
            // Lines came since the last failure: this one starts a new clock.
            failing_since = None;
            backoff = Duration::from_millis(100);
        }
        let since = *failing_since.get_or_insert_with(Instant::now);
        if since.elapsed() >= RECONNECT_FOR {
            return Err(error);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// One connection: `Ok(true)` when the stream said `end`, `Ok(false)` when it stopped without.
async fn stream_from(
    client: &EngineClient,
    run_id: &str,
    job_key: &str,
    snapshot: bool,
    offset: &mut u64,
    sender: &mpsc::UnboundedSender<JobLine>,
) -> Result<bool, ClientError> {
    let path = format!(
        "/api/v1/runs/{}/jobs/{}/logs?follow=1&offset={offset}{}",
        encode_component(run_id),
        encode_component(job_key),
        if snapshot { "&snapshot=1" } else { "" }
    );
    let mut response = client.get_raw(&path).await?;
    let mut events = EventStream::default();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => return Ok(false),
            Err(error) => {
                return Err(ClientError::Protocol(format!(
                    "follow the log of job `{job_key}`: {error}"
                )));
            }
        };
        for event in events.push(&chunk) {
            match event.name.as_str() {
                "log" => {
                    let line: LogLineEvent = serde_json::from_str(&event.data)
                        .map_err(|error| ClientError::Protocol(format!("a log event: {error}")))?;
                    if let Some(next) = event.id.as_deref().and_then(|id| id.parse::<u64>().ok()) {
                        *offset = next;
                    }
                    let _ = sender.send(JobLine {
                        job_key: job_key.to_string(),
                        line,
                    });
                }
                "end" => return Ok(true),
                _ => {}
            }
        }
    }
}

/// Waits for `job` to appear in the run (a job whose `needs` are not met is created later);
/// refused once the run is completed without it.
async fn wait_for_job(
    client: &EngineClient,
    run_id: &str,
    job: &str,
) -> Result<String, ClientError> {
    loop {
        let detail = run_detail(client, run_id).await?;
        match find_job(&detail, job) {
            Ok(view) => return Ok(view.job_key.clone()),
            Err(error) if detail.run.status == "completed" => return Err(error),
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// The job named by its key, or else by its display name when that names exactly one.
fn find_job<'a>(detail: &'a RunDetailView, job: &str) -> Result<&'a JobView, ClientError> {
    if let Some(view) = detail.jobs.iter().find(|view| view.job_key == job) {
        return Ok(view);
    }
    let by_name: Vec<&JobView> = detail
        .jobs
        .iter()
        .filter(|view| view.display_name == job)
        .collect();
    match by_name.as_slice() {
        [only] => Ok(only),
        _ => {
            let keys: Vec<&str> = detail
                .jobs
                .iter()
                .map(|view| view.job_key.as_str())
                .collect();
            Err(ClientError::Usage(format!(
                "run {} has no job `{job}` (its jobs: {})",
                detail.run.run_id,
                if keys.is_empty() {
                    "none yet".to_string()
                } else {
                    keys.join(", ")
                }
            )))
        }
    }
}

fn write_error(error: std::io::Error) -> ClientError {
    ClientError::Io(format!("write to stdout: {error}"))
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SseEvent {
    name: String,
    data: String,
    id: Option<String>,
}

/// Splits a byte stream into server-sent events (fields `event:`, `data:` and `id:`; an event
/// ends at a blank line; comments and other fields are ignored).
#[derive(Debug, Default)]
struct EventStream {
    pending: Vec<u8>,
    name: Option<String>,
    data: Vec<String>,
    id: Option<String>,
}

impl EventStream {
    fn push(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.pending.extend_from_slice(bytes);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() || self.name.is_some() {
                    events.push(SseEvent {
                        name: self.name.take().unwrap_or_else(|| "message".into()),
                        data: std::mem::take(&mut self.data).join("\n"),
                        id: self.id.take(),
                    });
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.name = Some(value.to_string()),
                "data" => self.data.push(value.to_string()),
                "id" => self.id = Some(value.to_string()),
                _ => {}
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str, id: Option<&str>) -> SseEvent {
        SseEvent {
            name: name.into(),
            data: data.into(),
            id: id.map(str::to_string),
        }
    }

    #[test]
    fn events_split_across_chunks_come_out_whole_and_in_order() {
        let mut stream = EventStream::default();
        assert!(stream.push(b"event: log\ndata: {\"li").is_empty());
        let events =
            stream.push(b"ne\":\"a\"}\nid: 2\n\n: keep-alive\n\nevent: log\r\ndata: b\r\n\r\n");
        assert_eq!(
            events,
            vec![
                event("log", "{\"line\":\"a\"}", Some("2")),
                event("log", "b", None)
            ]
        );
        let events = stream.push(b"data: one\ndata: two\n\nevent: end\ndata: end\n\n");
        assert_eq!(
            events,
            vec![
                event("message", "one\ntwo", None),
                event("end", "end", None)
            ]
        );
    }
}
