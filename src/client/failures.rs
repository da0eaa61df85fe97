//! Which step failed, for `run-status` (its table and `--json`): per failed job, the first step
//! whose outcome is `failure` (name and number, counted as GitHub counts them), and the last
//! lines of that step's log, read from the engine as a stream (only a window of lines is held,
//! whatever the log's size). A job that failed before any step ran names its reason instead.
//!
//! This file must not change anything on the engine.

use std::collections::VecDeque;

use protocol::wire::{JobView, RunDetailView};
use protocol::{Conclusion, JobResult};
use serde::Serialize;

use super::{ClientError, EngineClient, encode_component};

/// How many of a failed step's last lines are shown.
pub(crate) const LAST_LINES: usize = 10;

/// One failed job and what failed in it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FailedStep {
    pub job: String,
    /// The failing step's name as GitHub shows it; `None` when the job failed outside a step.
    pub step: Option<String>,
    /// 1-based, counted over the job's steps.
    pub step_number: Option<usize>,
    /// Why the job failed when no step says (timeout, cancel, no runner, …).
    pub reason: Option<String>,
    /// The step's last lines (markers rendered), oldest first.
    pub last_lines: Vec<String>,
}

/// The failed jobs of the run (conclusion `failure`) and their failing steps.
pub(crate) async fn failed_steps(
    client: &EngineClient,
    detail: &RunDetailView,
) -> Result<Vec<FailedStep>, ClientError> {
    let mut failures = Vec::new();
    for job in &detail.jobs {
        if job.conclusion.as_deref() != Some("failure") {
            continue;
        }
        let failing = failing_step(job);
        let last_lines = match &failing {
            Some((_, name)) => last_lines_of(client, &detail.run.run_id, job, name).await?,
            None => Vec::new(),
        };
        failures.push(FailedStep {
            job: job.job_key.clone(),
            step_number: failing.as_ref().map(|(number, _)| *number),
            step: failing.map(|(_, name)| name),
            reason: job.failure_reason.clone(),
            last_lines,
        });
    }
    Ok(failures)
}

/// Prints the failures under the run's table: `✗ build: step 2 "Run tests" failed`, then its
/// last lines indented.
pub(crate) fn print(failures: &[FailedStep]) {
    for failure in failures {
        println!();
        match (&failure.step, failure.step_number) {
            (Some(step), Some(number)) => {
                println!("✗ {}: step {number} \"{step}\" failed", failure.job);
            }
            _ => println!(
                "✗ {}: {}",
                failure.job,
                failure.reason.as_deref().unwrap_or("failed")
            ),
        }
        if !failure.last_lines.is_empty() {
            println!("  last lines:");
            for line in &failure.last_lines {
                println!("    {line}");
            }
        }
    }
}

/// The first step of a job's result whose outcome was `failure`: (its number, its name). The
/// executor reports every step of the job's list (skipped ones too), in order.
pub(crate) fn failing_step_of(result: &JobResult) -> Option<(usize, String)> {
    result
        .steps
        .iter()
        .position(|step| step.outcome == Conclusion::Failure)
        .and_then(|position| {
            let step = result.steps.get(position)?;
            Some((position + 1, step.name.clone()))
        })
}

/// The last `LAST_LINES` lines of `step`'s section of a log, rendered.
pub(crate) fn last_lines_in<'a>(lines: impl Iterator<Item = &'a str>, step: &str) -> Vec<String> {
    let mut window = StepWindow::new(step);
    for line in lines {
        window.push(line);
    }
    window.lines()
}

/// The first step whose outcome was `failure`: (its number, its name).
fn failing_step(job: &JobView) -> Option<(usize, String)> {
    let result = job.result.as_ref()?;
    result
        .steps
        .iter()
        .enumerate()
        .find(|(_, step)| step.outcome == Conclusion::Failure)
        .map(|(position, step)| {
            // The number GitHub shows: the step's place in the job's list when the engine
            // knows it, else its place among the results.
            let number = job
                .steps
                .iter()
                .find(|view| view.name == step.name)
                .map_or(position + 1, |view| view.index + 1);
            (number, step.name.clone())
        })
}

/// The last `LAST_LINES` lines between `##[step] NAME` and its `##[step-end]`, rendered.
async fn last_lines_of(
    client: &EngineClient,
    run_id: &str,
    job: &JobView,
    step: &str,
) -> Result<Vec<String>, ClientError> {
    let path = format!(
        "/api/v1/runs/{}/jobs/{}/logs",
        encode_component(run_id),
        encode_component(&job.job_key)
    );
    let mut response = client.get_raw(&path).await?;
    let mut window = StepWindow::new(step);
    let mut pending: Vec<u8> = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| ClientError::Protocol(format!("read the log: {error}")))?
    {
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            window.push(String::from_utf8_lossy(&line).trim_end_matches(['\n', '\r']));
        }
    }
    Ok(window.lines())
}

/// Keeps the last lines of one step's section of a log.
struct StepWindow {
    start: String,
    end: String,
    inside: bool,
    renderer: super::log_render::Renderer,
    lines: VecDeque<String>,
}

impl StepWindow {
    fn new(step: &str) -> StepWindow {
        StepWindow {
            start: format!("##[step] {step}"),
            end: format!("##[step-end] {step}: "),
            inside: false,
            renderer: super::log_render::Renderer::default(),
            lines: VecDeque::new(),
        }
    }

    fn push(&mut self, line: &str) {
        if line == self.start {
            // A later section of the same step (a retried job) replaces the earlier one.
            self.inside = true;
            self.lines.clear();
            return;
        }
        if !self.inside {
            return;
        }
        if line.starts_with(&self.end) {
            self.inside = false;
            return;
        }
        if let Some(shown) = self.renderer.render(line).shown {
            if self.lines.len() == LAST_LINES {
                self.lines.pop_front();
            }
            self.lines.push_back(shown);
        }
    }

    fn lines(self) -> Vec<String> {
        self.lines.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_keeps_the_last_lines_of_the_step() {
        let mut window = StepWindow::new("Run tests");
        for line in ["##[step] Build", "built", "##[step-end] Build: success"] {
            window.push(line);
        }
        window.push("##[step] Run tests");
        for n in 0..15 {
            window.push(&format!("line {n}"));
        }
        window.push("##[error]process completed with exit code 1");
        window.push("##[step-end] Run tests: failure");
        window.push("after");
        let lines = window.lines();
        assert_eq!(lines.len(), LAST_LINES);
        assert_eq!(lines[0], "line 6");
        assert_eq!(
            lines.last().map(String::as_str),
            Some("error: process completed with exit code 1")
        );
    }
}
