//! Parallel steps (GitHub, June 2026): `background: true` steps, and the `wait`, `wait-all` and
//! `cancel` steps that steer them (a `parallel:` group arrives here already turned into background
//! steps followed by a `wait`).
//!
//! A background `run:` step is prepared on the job loop (condition, env, script, files) and its
//! process runs in a task of its own; the job goes on. Like GitHub's runner, what the step leaves
//! behind — outputs, `$GITHUB_ENV` / `$GITHUB_PATH`, outcome and conclusion, a failure of the job —
//! becomes visible when it is waited for (`wait`, `wait-all`, `cancel`, or the implicit wait at the
//! end of the job). Its log is kept apart and written as one section when it finishes, so every
//! step has a log of its own. `cancel` stops the step's process group with SIGINT, then SIGTERM,
//! then SIGKILL; a step stopped that way concludes `cancelled` without failing the job. At most
//! [`MAX_RUNNING`] background steps run at once, as on GitHub.
//!
//! Background `uses:` steps and background steps inside composite actions run in the foreground
//! (said in their log): their actions are not built to run beside the job loop.

use std::sync::Arc;

use indexmap::IndexMap;
use protocol::{Conclusion, JobEvent, StepResult};
use serde_json::json;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workflows::model::{Step, StepControl};

use super::job::{Frame, JobRun, PreparedStep, StepBody};
use super::masking::Masker;
use super::process::{OutputStream, ProcessEnd, ProcessGroup, ProcessSpec, run_process};
use super::step_output::StepOutput;

/// GitHub's limit on background steps running at once; later ones wait for a slot.
pub(super) const MAX_RUNNING: usize = 10;

/// At most this many log lines of one background step are kept until it finishes.
const MAX_BUFFERED_LINES: usize = 100_000;

/// The background steps of one job.
pub(super) struct BackgroundSteps {
    /// Keyed by lowercase step id (`__<index>` for a step without one), in start order.
    steps: IndexMap<String, Background>,
    slots: Arc<Semaphore>,
}

impl Default for BackgroundSteps {
    fn default() -> BackgroundSteps {
        BackgroundSteps {
            steps: IndexMap::new(),
            slots: Arc::new(Semaphore::new(MAX_RUNNING)),
        }
    }
}

/// One background step.
struct Background {
    /// The job-level step index (its events, its log, its slot in the results).
    index: usize,
    name: String,
    /// The id as written, when the step has one (then it is in the `steps` context).
    id: Option<String>,
    result_id: String,
    continue_on_error: bool,
    /// `None` for a step that finished when it was started.
    prepared: Option<PreparedStep>,
    /// Fired by a `cancel` step; a child of the job's cancel token.
    stop: CancellationToken,
    explicitly_cancelled: bool,
    /// Whether the deadline given to the process was the step's own `timeout-minutes`.
    deadline_is_step: bool,
    state: BackgroundState,
}

enum BackgroundState {
    Running(JoinHandle<Finished>),
    /// Waited for: its conclusion as merged into the wait that saw it.
    Done(Conclusion),
}

/// What the step's task hands back.
struct Finished {
    end: ProcessEnd,
    group: Option<ProcessGroup>,
    lines: Vec<String>,
    dropped_lines: usize,
    masker: Masker,
    outputs: IndexMap<String, String>,
    unsecure_env: Vec<(String, String)>,
    unsecure_paths: Vec<String>,
}

/// What is known of a background step once its task is joined.
struct Facts {
    index: usize,
    name: String,
    step_id: Option<String>,
    result_id: String,
    explicitly_cancelled: bool,
    deadline_is_step: bool,
    continue_on_error: bool,
    timeout: Option<std::time::Duration>,
}

/// What starting a background step came to.
pub(super) enum Started {
    /// Its process runs; its result comes when it is waited for.
    Running,
    /// It finished at once (skipped, failed to start, or run in the foreground).
    Finished(StepResult),
}

impl JobRun<'_> {
    /// Starts `step` (marked `background: true`) at job-level position `index`.
    pub(super) async fn start_background(
        &mut self,
        frame: &mut Frame,
        step: &Step,
        index: usize,
        name: String,
    ) -> Started {
        let key = background_key(step, index);
        let Some(run) = step.run.as_ref().filter(|_| !frame.composite) else {
            self.send(JobEvent::StepStarted {
                index,
                name: name.clone(),
            });
            self.log(
                frame,
                "background `uses:` steps run in the foreground in slipway; the job waits for this one",
            );
            let result = Box::pin(self.run_step(frame, step, index, name)).await;
            self.background
                .steps
                .insert(key, finished_at_once(index, &result));
            return Started::Finished(result);
        };
        let id = step
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_else(|| format!("__{index}"));
        let job_env = self.layered_env(frame, &IndexMap::new());
        let scope = self.scope(frame, &job_env);
        let condition_env = match self.step_env(step, &scope) {
            Ok(step_env) => self.layered_env(frame, &step_env),
            Err(_) => job_env.clone(),
        };
        let condition = self
            .scope(frame, &condition_env)
            .condition(step.condition.as_ref().map(|c| c.value.as_str()));
        if !matches!(condition, Ok(true)) {
            // Skipped, or a condition that cannot be evaluated: the ordinary path reports it.
            self.send(JobEvent::StepStarted {
                index,
                name: name.clone(),
            });
            let result = Box::pin(self.run_step(frame, step, index, name)).await;
            self.background
                .steps
                .insert(key, finished_at_once(index, &result));
            return Started::Finished(result);
        }
        let prepared = match self.prepare(frame, step, &id, &scope) {
            Ok(prepared) => prepared,
            Err(error) => {
                self.send(JobEvent::StepStarted {
                    index,
                    name: name.clone(),
                });
                self.log(frame, &format!("##[error]{error}"));
                return Started::Finished(self.settle_at_once(frame, step, index, name, key));
            }
        };
        let (prepared, continue_on_error) = prepared;
        let invocation = match self.script_invocation(frame, step, &run.value, &prepared) {
            Ok(invocation) => invocation,
            Err(error) => {
                self.send(JobEvent::StepStarted {
                    index,
                    name: name.clone(),
                });
                self.log(frame, &format!("##[error]{error}"));
                return Started::Finished(self.settle_at_once(frame, step, index, name, key));
            }
        };
        if !prepared.working_directory.is_dir() {
            self.send(JobEvent::StepStarted {
                index,
                name: name.clone(),
            });
            self.log(
                frame,
                &format!(
                    "##[error]the working directory {} does not exist",
                    prepared.working_directory.display()
                ),
            );
            return Started::Finished(self.settle_at_once(frame, step, index, name, key));
        }
        let spec = ProcessSpec {
            program: invocation.program,
            args: invocation.args,
            env: invocation.env,
            working_directory: prepared.working_directory.clone(),
            group_records: Some(super::groups::records_dir(&self.options.work_dir)),
            interrupt_first: true,
        };
        let (deadline, deadline_is_step) = self.deadline(prepared.timeout);
        let stop = if self.cancelled {
            CancellationToken::new()
        } else {
            self.cancel.child_token()
        };
        let allow_unsecure = spec
            .env
            .iter()
            .any(|(name, value)| name == "ACTIONS_ALLOW_UNSECURE_COMMANDS" && value == "true");
        let task = {
            let stop = stop.clone();
            let mut masker = self.masker.clone();
            let slots = Arc::clone(&self.background.slots);
            let kill_grace = self.options.kill_grace;
            async move {
                // A closed semaphore never happens (it lives as long as the job); run anyway.
                let _slot = slots.acquire_owned().await.ok();
                let mut output = StepOutput::new(allow_unsecure);
                let mut lines = Vec::new();
                let mut dropped_lines = 0;
                let on_line = |_stream: OutputStream, line: String| {
                    if let Some(shown) = output.handle(&mut masker, line) {
                        for part in shown.split('\n') {
                            if lines.len() < MAX_BUFFERED_LINES {
                                lines.push(masker.mask(part));
                            } else {
                                dropped_lines += 1;
                            }
                        }
                    }
                };
                let (end, group) = run_process(&spec, deadline, &stop, kill_grace, on_line).await;
                Finished {
                    end,
                    group,
                    lines,
                    dropped_lines,
                    masker,
                    outputs: output.outputs,
                    unsecure_env: output.unsecure_env,
                    unsecure_paths: output.unsecure_paths,
                }
            }
        };
        self.log_job(&format!("started background step `{name}`"));
        self.background.steps.insert(
            key,
            Background {
                index,
                name,
                id: step.id.as_ref().map(|id| id.value.clone()),
                result_id: id,
                continue_on_error,
                prepared: Some(prepared),
                stop,
                explicitly_cancelled: false,
                deadline_is_step,
                state: BackgroundState::Running(tokio::spawn(task)),
            },
        );
        Started::Running
    }

    /// Runs a `wait`, `wait-all` or `cancel` step. Background steps it completes are reported
    /// (their `StepStarted`, log and `StepFinished`) into `results` before the control step's own
    /// result is returned.
    pub(super) async fn run_control(
        &mut self,
        frame: &mut Frame,
        step: &Step,
        control: &StepControl,
        index: usize,
        name: String,
        results: &mut [Option<StepResult>],
    ) -> StepResult {
        let id = step
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_else(|| format!("__{index}"));
        let mut result = StepResult {
            id,
            name,
            outcome: Conclusion::Success,
            conclusion: Conclusion::Success,
            outputs: IndexMap::new(),
        };
        // Control steps run whatever happened before, unless their own `if:` says otherwise.
        if step.condition.is_some() {
            let env = self.layered_env(frame, &IndexMap::new());
            let condition = self
                .scope(frame, &env)
                .condition(step.condition.as_ref().map(|c| c.value.as_str()));
            let skipped_or_failed = match condition {
                Ok(true) => None,
                Ok(false) => Some((
                    Conclusion::Skipped,
                    "skipping the step: its condition is false".to_string(),
                )),
                Err(error) => Some((Conclusion::Failure, format!("##[error]{error}"))),
            };
            if let Some((conclusion, message)) = skipped_or_failed {
                self.send(JobEvent::StepStarted {
                    index,
                    name: result.name.clone(),
                });
                self.log(frame, &message);
                if conclusion == Conclusion::Failure {
                    frame.status.failed = true;
                }
                result.outcome = conclusion;
                result.conclusion = conclusion;
                return result;
            }
        }
        let keys: Vec<String> = match control {
            StepControl::Wait(ids) | StepControl::Cancel(ids) => {
                ids.iter().map(|id| id.value.to_ascii_lowercase()).collect()
            }
            StepControl::WaitAll => self
                .background
                .steps
                .iter()
                .filter(|(_, step)| matches!(step.state, BackgroundState::Running(_)))
                .map(|(key, _)| key.clone())
                .collect(),
        };
        let verb = match control {
            StepControl::Cancel(_) => "cancelled",
            _ => "waited for",
        };
        // The step's own lines come after the sections of the steps it completes.
        let mut messages = Vec::new();
        if keys.is_empty() {
            messages.push("no background steps left to wait for".to_string());
        }
        for key in &keys {
            match self.background.steps.get_mut(key) {
                Some(background) => {
                    if let (StepControl::Cancel(_), BackgroundState::Running(_)) =
                        (control, &background.state)
                    {
                        background.explicitly_cancelled = true;
                        background.stop.cancel();
                    }
                    messages.push(format!("{verb} background step `{}`", background.name));
                }
                None => messages.push(format!(
                    "##[warning]there is no background step `{key}` to wait for"
                )),
            }
        }
        let mut merged = Conclusion::Success;
        for key in &keys {
            let conclusion = self.complete_background(frame, key, results).await;
            if conclusion == Some(Conclusion::Failure) && !matches!(control, StepControl::Cancel(_))
            {
                merged = Conclusion::Failure;
            }
        }
        self.send(JobEvent::StepStarted {
            index,
            name: result.name.clone(),
        });
        for message in &messages {
            self.log(frame, message);
        }
        if merged == Conclusion::Failure {
            self.log(frame, "##[error]a background step it waited for failed");
            frame.status.failed = true;
        }
        result.outcome = merged;
        result.conclusion = merged;
        result
    }

    /// The implicit wait at the end of the job: every background step still running is waited
    /// for and reported, and a failure among them fails the job.
    pub(super) async fn finish_background(
        &mut self,
        frame: &mut Frame,
        results: &mut [Option<StepResult>],
    ) {
        let running: Vec<String> = self
            .background
            .steps
            .iter()
            .filter(|(_, step)| matches!(step.state, BackgroundState::Running(_)))
            .map(|(key, _)| key.clone())
            .collect();
        if !running.is_empty() {
            self.log_job(&format!(
                "waiting for {} background step(s) nobody waited for",
                running.len()
            ));
        }
        for key in running {
            self.complete_background(frame, &key, results).await;
        }
    }

    /// Waits for the background step `key` (when still running), makes what it left visible,
    /// reports it, and returns its conclusion (also when it was waited for before).
    async fn complete_background(
        &mut self,
        frame: &mut Frame,
        key: &str,
        results: &mut [Option<StepResult>],
    ) -> Option<Conclusion> {
        let (joined, facts) = {
            let background = self.background.steps.get_mut(key)?;
            let handle = match &mut background.state {
                BackgroundState::Done(conclusion) => return Some(*conclusion),
                BackgroundState::Running(handle) => handle,
            };
            let joined = handle.await;
            let facts = Facts {
                index: background.index,
                name: background.name.clone(),
                step_id: background.id.clone(),
                result_id: background.result_id.clone(),
                explicitly_cancelled: background.explicitly_cancelled,
                deadline_is_step: background.deadline_is_step,
                continue_on_error: background.continue_on_error,
                timeout: background
                    .prepared
                    .as_ref()
                    .and_then(|prepared| prepared.timeout),
            };
            (joined, facts)
        };
        let Facts {
            index,
            name,
            step_id,
            result_id,
            explicitly_cancelled,
            deadline_is_step,
            continue_on_error,
            timeout,
        } = facts;
        self.send(JobEvent::StepStarted {
            index,
            name: name.clone(),
        });
        let Ok(finished) = joined else {
            // The task panicked or was aborted: nothing it did can be trusted.
            let result = StepResult {
                id: result_id,
                name,
                outcome: Conclusion::Failure,
                conclusion: Conclusion::Failure,
                outputs: IndexMap::new(),
            };
            if let Some(background) = self.background.steps.get_mut(key) {
                background.state = BackgroundState::Done(Conclusion::Failure);
            }
            frame.status.failed = true;
            self.send(JobEvent::StepFinished {
                index,
                result: result.clone(),
            });
            if let Some(slot) = results.get_mut(index) {
                *slot = Some(result);
            }
            return Some(Conclusion::Failure);
        };
        for line in &finished.lines {
            self.send(JobEvent::Log {
                step: Some(index),
                line: line.clone(),
            });
        }
        if finished.dropped_lines > 0 {
            self.send(JobEvent::Log {
                step: Some(index),
                line: format!(
                    "##[warning]{} more lines of output were not kept",
                    finished.dropped_lines
                ),
            });
        }
        self.masker.absorb(&finished.masker);
        if let Some(group) = finished.group {
            self.groups.push(group);
        }
        self.file_env.extend(finished.unsecure_env);
        for dir in finished.unsecure_paths {
            self.add_path(dir);
        }
        // Messages about this step go to its own log.
        let caller_index = frame.event_index;
        frame.event_index = index;
        let outcome = match finished.end {
            ProcessEnd::Exited(0) => Conclusion::Success,
            ProcessEnd::Exited(code) => {
                self.log(
                    frame,
                    &format!("##[error]process completed with exit code {code}"),
                );
                Conclusion::Failure
            }
            ProcessEnd::SpawnFailed(error) => {
                self.log(frame, &format!("##[error]{error}"));
                Conclusion::Failure
            }
            ProcessEnd::TimedOut if deadline_is_step => {
                let after = super::timeout_text(timeout.unwrap_or_default());
                self.log(
                    frame,
                    &format!("##[error]the step timed out after {after} and was killed"),
                );
                Conclusion::Failure
            }
            ProcessEnd::TimedOut => {
                self.log(
                    frame,
                    "##[error]the job exceeded its timeout; the background step was killed",
                );
                self.start_cleanup(true);
                Conclusion::Failure
            }
            ProcessEnd::Cancelled if explicitly_cancelled => {
                self.log(frame, "the step was cancelled by a `cancel` step");
                Conclusion::Cancelled
            }
            ProcessEnd::Cancelled => {
                self.log(frame, "##[error]the job was cancelled; the step was killed");
                self.start_cleanup(false);
                Conclusion::Cancelled
            }
        };
        let mut body = StepBody {
            outcome,
            outputs: finished.outputs,
        };
        let prepared = self
            .background
            .steps
            .get_mut(key)
            .and_then(|background| background.prepared.take());
        if let Some(prepared) = prepared {
            self.collect_step_files(frame, &prepared, &mut body);
        }
        let conclusion = self.conclusion_of(frame, body.outcome, continue_on_error);
        frame.event_index = caller_index;
        match conclusion {
            Conclusion::Failure => frame.status.failed = true,
            // An explicit `cancel` is expected: it does not make the job cancelled.
            Conclusion::Cancelled if !explicitly_cancelled => frame.status.cancelled = true,
            _ => {}
        }
        let result = self.step_result(frame, step_id, result_id, name, body, conclusion);
        if let Some(background) = self.background.steps.get_mut(key) {
            background.state = BackgroundState::Done(conclusion);
        }
        self.send(JobEvent::StepFinished {
            index,
            result: result.clone(),
        });
        if let Some(slot) = results.get_mut(index) {
            *slot = Some(result);
        }
        Some(conclusion)
    }

    /// A background step that failed before its process started: failed at once.
    fn settle_at_once(
        &mut self,
        frame: &mut Frame,
        step: &Step,
        index: usize,
        name: String,
        key: String,
    ) -> StepResult {
        frame.status.failed = true;
        let id = step
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_else(|| format!("__{index}"));
        if let Some(user_id) = step.id.as_ref().filter(|id| !id.value.starts_with("__")) {
            frame.steps.insert(
                user_id.value.clone(),
                json!({"outputs": {}, "outcome": "failure", "conclusion": "failure"}),
            );
        }
        let result = StepResult {
            id,
            name,
            outcome: Conclusion::Failure,
            conclusion: Conclusion::Failure,
            outputs: IndexMap::new(),
        };
        self.background
            .steps
            .insert(key, finished_at_once(index, &result));
        result
    }
}

/// The key a background step is found by: its id (lowercase), or `__<index>`.
fn background_key(step: &Step, index: usize) -> String {
    step.id
        .as_ref()
        .map(|id| id.value.to_ascii_lowercase())
        .unwrap_or_else(|| format!("__{index}"))
}

/// The record of a background step that finished when it was started.
fn finished_at_once(index: usize, result: &StepResult) -> Background {
    Background {
        index,
        name: result.name.clone(),
        id: None,
        result_id: result.id.clone(),
        continue_on_error: false,
        prepared: None,
        stop: CancellationToken::new(),
        explicitly_cancelled: false,
        deadline_is_step: false,
        state: BackgroundState::Done(result.conclusion),
    }
}
