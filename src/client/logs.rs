//! `slipway logs RUN [--job J] [-f]`: a run's job logs in job order, or one job's; with `-f`
//! followed live over the engine's server-sent events until the job (or the run) ends.
//!
//! Output order is the engine's: each job's lines in order, jobs one after another (a job that
//! ran while an earlier one was followed is printed from its start once that one ends).
//! This file must not reorder or rewrite log lines.

use std::io::Write;
use std::time::Duration;

use protocol::wire::{JobView, LogLineEvent, RunDetailView};

use super::runs::{resolve_run, run_detail};
use super::{ClientError, EngineArgs, EngineClient, block_on, encode_component};
use crate::exit;

/// How often a follower looks for jobs that do not exist yet.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    /// The run: its id, or its run number
    pub run: String,
    /// Only this job (its key, as `run-status` shows it)
    #[arg(long, value_name = "JOB")]
    pub job: Option<String>,
    /// Follow the log live until the job (or, without --job, the run) ends
    #[arg(short = 'f', long)]
    pub follow: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn logs(args: &LogsArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let run_id = resolve_run(&client, &args.run).await?;
        match (&args.job, args.follow) {
            (Some(job), false) => {
                let detail = run_detail(&client, &run_id).await?;
                let view = find_job(&detail, job)?;
                print_log(&client, &run_id, &view.job_key).await?;
            }
            (None, false) => {
                let detail = run_detail(&client, &run_id).await?;
                let several = detail.jobs.len() > 1;
                for view in &detail.jobs {
                    if several {
                        header(&view.job_key)?;
                    }
                    print_log(&client, &run_id, &view.job_key).await?;
                }
            }
            (Some(job), true) => {
                let key = wait_for_job(&client, &run_id, job).await?;
                follow_job(&client, &run_id, &key).await?;
            }
            (None, true) => follow_run(&client, &run_id).await?,
        }
        Ok(exit::SUCCESS)
    })
}

/// Prints the whole log of one job so far.
pub async fn print_log(
    client: &EngineClient,
    run_id: &str,
    job_key: &str,
) -> Result<(), ClientError> {
    let response = client.get_raw(&log_path(run_id, job_key, false)).await?;
    let bytes = response
        .bytes()
        .await
        .map_err(|error| ClientError::Protocol(format!("read the log: {error}")))?;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&bytes).map_err(write_error)?;
    stdout.flush().map_err(write_error)
}

/// Prints one job's log from its start and live until the engine says it ended.
pub async fn follow_job(
    client: &EngineClient,
    run_id: &str,
    job_key: &str,
) -> Result<(), ClientError> {
    let mut response = client.get_raw(&log_path(run_id, job_key, true)).await?;
    let mut events = EventStream::default();
    loop {
        let chunk = response
            .chunk()
            .await
            .map_err(|error| ClientError::Protocol(format!("follow the log: {error}")))?;
        let Some(chunk) = chunk else {
            return Err(ClientError::Protocol(format!(
                "the log stream of job `{job_key}` ended before the job did"
            )));
        };
        let mut stdout = std::io::stdout().lock();
        for event in events.push(&chunk) {
            match event.name.as_str() {
                "log" => {
                    let line: LogLineEvent = serde_json::from_str(&event.data)
                        .map_err(|error| ClientError::Protocol(format!("a log event: {error}")))?;
                    writeln!(stdout, "{}", line.line).map_err(write_error)?;
                }
                "end" => {
                    stdout.flush().map_err(write_error)?;
                    return Ok(());
                }
                _ => {}
            }
        }
        stdout.flush().map_err(write_error)?;
    }
}

/// Follows every job of the run in job order, including jobs that appear later, until the run
/// is completed.
async fn follow_run(client: &EngineClient, run_id: &str) -> Result<(), ClientError> {
    let mut followed = 0usize;
    loop {
        let detail = run_detail(client, run_id).await?;
        if let Some(view) = detail.jobs.get(followed) {
            header(&view.job_key)?;
            follow_job(client, run_id, &view.job_key).await?;
            followed += 1;
            continue;
        }
        if detail.run.status == "completed" {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
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

/// The job named by its key, or else by its workflow job id when that names exactly one.
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

fn header(job_key: &str) -> Result<(), ClientError> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "==> {job_key} <==").map_err(write_error)
}

fn log_path(run_id: &str, job_key: &str, follow: bool) -> String {
    format!(
        "/api/v1/runs/{}/jobs/{}/logs{}",
        encode_component(run_id),
        encode_component(job_key),
        if follow { "?follow=1" } else { "" }
    )
}

fn write_error(error: std::io::Error) -> ClientError {
    ClientError::Io(format!("write to stdout: {error}"))
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SseEvent {
    name: String,
    data: String,
}

/// Splits a byte stream into server-sent events (fields `event:` and `data:`; an event ends at
/// a blank line; comments and other fields are ignored).
#[derive(Debug, Default)]
struct EventStream {
    pending: Vec<u8>,
    name: Option<String>,
    data: Vec<String>,
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
                _ => {}
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, data: &str) -> SseEvent {
        SseEvent {
            name: name.into(),
            data: data.into(),
        }
    }

    #[test]
    fn events_split_across_chunks_come_out_whole_and_in_order() {
        let mut stream = EventStream::default();
        assert!(stream.push(b"event: log\ndata: {\"li").is_empty());
        let events = stream.push(b"ne\":\"a\"}\n\n: keep-alive\n\nevent: log\r\ndata: b\r\n\r\n");
        assert_eq!(
            events,
            vec![event("log", "{\"line\":\"a\"}"), event("log", "b")]
        );
        let events = stream.push(b"data: one\ndata: two\n\nevent: end\ndata: end\n\n");
        assert_eq!(
            events,
            vec![event("message", "one\ntwo"), event("end", "end")]
        );
    }
}
