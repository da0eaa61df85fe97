//! The job loop: for each step, its `if:` against the job so far, its env layered over the job's,
//! its body (a script or an action), what it wrote to the `$GITHUB_*` files, and its outcome and
//! conclusion; at the end the job outputs and conclusion.
//!
//! It owns the job's state (env from earlier steps, `steps` context, masks, status) and is the only
//! sender of events; processes, files and built-in actions are delegated to sibling modules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use protocol::{Conclusion, JobEvent, JobResult, JobSpec, StepResult};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use workflows::expr::{Status, is_truthy, to_display_string};
use workflows::model::{BoolOrExpr, NumberOrExpr, Step};

use super::ExecutorOptions;
use super::deployment::{self, DeploymentGate};
use super::env_files::{parse_key_values, parse_path_lines};
use super::expressions::Scope;
use super::masking::Masker;
use super::process::{OutputStream, ProcessEnd, ProcessGroup, ProcessSpec, run_process};
use super::shell::shell_template;
use super::step_output::StepOutput;
use super::workspace::{JobDirs, StepFiles, sanitise};

/// Used when the environment is not inherited and nobody gave a `PATH`.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// One job being run.
pub(super) struct JobRun<'a> {
    pub(super) spec: JobSpec,
    pub(super) options: &'a ExecutorOptions,
    pub(super) events: UnboundedSender<JobEvent>,
    pub(super) cancel: CancellationToken,
    /// Asked about deployment approvals and told of deployment progress.
    pub(super) gate: &'a dyn DeploymentGate,
    /// The `deployment` context (and `DEPLOYMENT_*` variables) of the phase being carried out.
    pub(super) deployment: Option<deploy::DeploymentContext>,
    /// While set, output and errors go to the job log instead of the frame's step (deployment
    /// hooks are not steps).
    pub(super) job_level_output: bool,
    pub(super) dirs: JobDirs,
    pub(super) masker: Masker,
    /// Variables written to `$GITHUB_ENV` by earlier steps.
    pub(super) file_env: IndexMap<String, String>,
    /// Directories written to `$GITHUB_PATH`, most recent last.
    path_prepends: Vec<String>,
    summary: String,
    /// Process groups of the steps run so far, killed at job end (background leftovers).
    pub(super) groups: Vec<ProcessGroup>,
    pub(super) job_deadline: Option<Instant>,
    /// Set once a cancel or the job timeout was noticed: from then on only `always()`-like steps run,
    /// within the cleanup budget.
    cleanup_deadline: Option<Instant>,
    pub(super) cancelled: bool,
    pub(super) timed_out: bool,
    /// Work done after the last step: JavaScript actions' `post` scripts (under their
    /// `post-if`), and cache saves when the job succeeded.
    pub(super) post_actions: Vec<PostAction>,
    /// What the last process said with `::save-state` (for its action's `post`).
    pub(super) saved_state: IndexMap<String, String>,
    /// Whether the `pre` scripts of the job's JavaScript actions ran (at the start of the job),
    /// and for which top-level steps.
    pub(super) pres_done: bool,
    pub(super) pre_ran: std::collections::HashSet<usize>,
    /// Steps running in the background (`background: true`, `parallel:` groups).
    pub(super) background: super::background::BackgroundSteps,
    /// The job's network, services and job container, when it has `container:` / `services:`.
    pub(super) containers: Option<super::container::JobContainers>,
}

/// Where a step's process runs: on this machine, or exec'd in the job container.
pub(super) enum StepHost<'c> {
    Host,
    Container {
        containers: &'c super::container::JobContainers,
    },
}

/// Work deferred to the end of the job.
#[derive(Debug, Clone)]
pub(super) enum PostAction {
    SaveCache {
        key: String,
        paths: Vec<PathBuf>,
    },
    /// A JavaScript action's `post` script.
    Node(Box<super::node_action::NodePost>),
}

/// One level of steps: the job's, or a composite action's inner steps.
#[derive(Debug, Clone, Default)]
pub(super) struct Frame {
    /// The `steps` context of this level (only steps with an `id`).
    pub steps: Map<String, Value>,
    /// `inputs` of a composite action; `None` at job level.
    pub inputs: Option<Map<String, Value>>,
    /// The composite action's directory (`github.action_path`).
    pub action_path: Option<PathBuf>,
    /// Env of the step that called the composite action, inherited by its steps.
    pub env: IndexMap<String, String>,
    pub status: Status,
    /// Prefix for per-step file names, so that inner steps never share files.
    pub label: String,
    /// The job-level step index that events and logs are reported under.
    pub event_index: usize,
    /// Whether this is a composite action's level (then `run:` steps need `shell:`).
    pub composite: bool,
}

/// What a step's body produced before `continue-on-error` is applied.
pub(super) struct StepBody {
    pub outcome: Conclusion,
    pub outputs: IndexMap<String, String>,
}

impl StepBody {
    pub(super) fn success(outputs: IndexMap<String, String>) -> StepBody {
        StepBody {
            outcome: Conclusion::Success,
            outputs,
        }
    }

    pub(super) fn failure() -> StepBody {
        StepBody {
            outcome: Conclusion::Failure,
            outputs: IndexMap::new(),
        }
    }
}

/// The process a `run:` step starts.
pub(super) struct ScriptInvocation {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// A step with its step-level fields evaluated.
pub(super) struct PreparedStep {
    pub id: String,
    pub env: IndexMap<String, String>,
    pub timeout: Option<Duration>,
    pub working_directory: PathBuf,
    pub files: StepFiles,
}

impl<'a> JobRun<'a> {
    /// Runs the whole job and returns its result (the caller sends `JobFinished`).
    pub(super) async fn start(
        spec: JobSpec,
        options: &'a ExecutorOptions,
        events: UnboundedSender<JobEvent>,
        cancel: CancellationToken,
        gate: &'a dyn DeploymentGate,
    ) -> JobResult {
        let dirs = match JobDirs::create(
            &options.work_dir,
            &spec.run_id,
            &spec.job_key,
            &spec.event_payload,
        ) {
            Ok(dirs) => dirs,
            Err(error) => {
                return JobResult::failed(format!(
                    "failed to create the job directories under {}: {error}",
                    options.work_dir.display()
                ));
            }
        };
        let mut masker = Masker::new();
        for secret in spec.secrets.values() {
            masker.add(secret);
        }
        let mut spec = spec;
        masker.add(&ensure_job_token(&mut spec));
        let job_deadline = (spec.timeout_minutes.is_finite() && spec.timeout_minutes > 0.0)
            .then(|| Instant::now() + Duration::from_secs_f64(spec.timeout_minutes * 60.0));
        let mut run = JobRun {
            spec,
            options,
            events,
            cancel,
            gate,
            deployment: None,
            job_level_output: false,
            dirs,
            masker,
            file_env: IndexMap::new(),
            path_prepends: Vec::new(),
            summary: String::new(),
            groups: Vec::new(),
            job_deadline,
            cleanup_deadline: None,
            cancelled: false,
            timed_out: false,
            post_actions: Vec::new(),
            saved_state: IndexMap::new(),
            background: Default::default(),
            containers: None,
            pres_done: false,
            pre_ran: std::collections::HashSet::new(),
        };
        run.run_all().await
    }

    async fn run_all(&mut self) -> JobResult {
        let mut frame = Frame::default();
        if let Err(error) = self.render_job_env(&frame) {
            self.log_job(&format!("##[error]{error}"));
            self.dirs.remove_temp();
            return JobResult::failed(error);
        }
        if self.spec.needs_docker()
            && let Err(error) = self.start_containers().await
        {
            self.log_job(&format!("##[error]{error}"));
            self.dirs.remove_temp();
            return JobResult::unrun(
                if self.cancel.is_cancelled() {
                    Conclusion::Cancelled
                } else {
                    Conclusion::Failure
                },
                error,
            );
        }
        let (results, report) = match self.spec.deployment.clone() {
            None => (self.run_pass(&mut frame).await, None),
            Some(assignment) => {
                let (results, report) =
                    Box::pin(deployment::carry_out(self, &mut frame, assignment.into())).await;
                (results, Some(report))
            }
        };
        self.notice_interruptions(&mut frame);
        // Post scripts of JavaScript actions, last registered first (as on GitHub); each decides
        // with its `post-if` whether it runs, and a failing one fails the job.
        let posts: Vec<PostAction> = std::mem::take(&mut self.post_actions);
        let (node_posts, saves): (Vec<PostAction>, Vec<PostAction>) = posts
            .into_iter()
            .partition(|post| matches!(post, PostAction::Node(_)));
        self.post_actions = saves;
        for post in node_posts.into_iter().rev() {
            if let PostAction::Node(post) = post {
                self.run_node_post(&mut frame, *post).await;
            }
        }

        let deployment_failed = report
            .as_ref()
            .is_some_and(|report| report.status != deploy::DeploymentStatus::Success);
        let conclusion = if self.cancelled {
            Conclusion::Cancelled
        } else if self.timed_out || frame.status.failed || deployment_failed {
            Conclusion::Failure
        } else {
            Conclusion::Success
        };
        if conclusion == Conclusion::Success {
            for action in std::mem::take(&mut self.post_actions) {
                self.run_post_action(action).await;
            }
        }
        for group in std::mem::take(&mut self.groups) {
            group.kill_remaining();
        }
        let outputs = self.job_outputs(&frame, conclusion);
        if let Some(containers) = self.containers.take() {
            containers.finish(&self.job_logger()).await;
        }
        self.dirs.remove_temp();
        let failure_reason = if self.timed_out {
            Some(format!(
                "the job exceeded its timeout of {} minutes",
                self.spec.timeout_minutes
            ))
        } else if self.cancelled {
            Some("the job was cancelled".to_string())
        } else if deployment_failed {
            report.as_ref().map(deployment::failure_reason)
        } else {
            None
        };
        JobResult {
            conclusion,
            outputs,
            steps: results,
            summary: std::mem::take(&mut self.summary),
            failure_reason,
            deployment: report.map(|report| Box::new(report.into())),
        }
    }

    /// Runs the job's whole step list once (a deployment runs it once per execute phase; the
    /// frame, with its `steps` context, and the `$GITHUB_ENV` / `$GITHUB_PATH` state carry over
    /// between passes like steps of one job). Returns the pass's step results; the pass failed
    /// when `frame.status.failed` is set afterwards.
    pub(super) async fn run_pass(&mut self, frame: &mut Frame) -> Vec<StepResult> {
        let steps: Vec<_> = self.spec.steps.iter().map(super::step_from_wire).collect();
        // Background steps finish out of order: each result goes to its step's slot.
        let mut results: Vec<Option<StepResult>> = vec![None; steps.len()];
        if !self.pres_done {
            self.pres_done = true;
            self.run_pre_scripts(frame, &steps).await;
        }
        for (index, step) in steps.iter().enumerate() {
            frame.event_index = index;
            frame.label = format!("{index}");
            self.notice_interruptions(frame);
            let name = self.step_name(frame, step, index);
            if step.background && step.control.is_none() {
                // Its `StepStarted` goes out with its log when it finishes (see `background`).
                match Box::pin(self.start_background(frame, step, index, name)).await {
                    super::background::Started::Running => continue,
                    super::background::Started::Finished(result) => {
                        self.send(JobEvent::StepFinished {
                            index,
                            result: result.clone(),
                        });
                        results[index] = Some(result);
                        continue;
                    }
                }
            }
            let result = match &step.control {
                // Sends its own `StepStarted`, after the sections of the steps it waited for.
                Some(control) => {
                    Box::pin(self.run_control(frame, step, control, index, name, &mut results))
                        .await
                }
                None => {
                    self.send(JobEvent::StepStarted {
                        index,
                        name: name.clone(),
                    });
                    Box::pin(self.run_step(frame, step, index, name)).await
                }
            };
            self.send(JobEvent::StepFinished {
                index,
                result: result.clone(),
            });
            results[index] = Some(result);
        }
        self.finish_background(frame, &mut results).await;
        self.notice_interruptions(frame);
        results.into_iter().flatten().collect()
    }

    /// Workflow and job `env` values arrive as written and are evaluated here, once, in order, each
    /// seeing the ones before it (runner-side values such as `github.workspace` are known here).
    fn render_job_env(&mut self, frame: &Frame) -> Result<(), String> {
        let names: Vec<String> = self.spec.env.keys().cloned().collect();
        for name in names {
            if workflows::model::is_env_expression(&name) {
                // `env: ${{ fromJSON(…) }}`: its entries take its place, later entries win.
                let Some(text) = self.spec.env.get(&name).cloned() else {
                    continue;
                };
                let env = self.layered_env(frame, &IndexMap::new());
                let entries = env_object(&self.scope(frame, &env), &text)
                    .map_err(|error| format!("`env` of {}: {error}", &name[1..]))?;
                let mut spliced = IndexMap::new();
                for (key, value) in std::mem::take(&mut self.spec.env) {
                    if key == name {
                        spliced.extend(entries.clone());
                    } else {
                        spliced.insert(key, value);
                    }
                }
                self.spec.env = spliced;
                continue;
            }
            let Some(value) = self
                .spec
                .env
                .get(&name)
                .filter(|value| value.contains("${{"))
            else {
                continue;
            };
            let env = self.layered_env(frame, &IndexMap::new());
            let rendered = self
                .scope(frame, &env)
                .render(value)
                .map_err(|error| format!("job env `{name}`: {error}"))?;
            self.spec.env.insert(name, rendered);
        }
        Ok(())
    }

    /// Runs one step (condition included) and returns its result; used for composite steps too.
    pub(super) async fn run_step(
        &mut self,
        frame: &mut Frame,
        step: &Step,
        index: usize,
        name: String,
    ) -> StepResult {
        let id = step
            .id
            .as_ref()
            .map(|id| id.value.clone())
            .unwrap_or_else(|| format!("__{index}"));
        let job_env = self.layered_env(frame, &IndexMap::new());
        let scope = self.scope(frame, &job_env);
        // A step's own `env:` is visible in its `if:` (GitHub evaluates the step env first). An
        // env value that fails to evaluate fails the step below, in `prepare`.
        let condition_env = match self.step_env(step, &scope) {
            Ok(step_env) => self.layered_env(frame, &step_env),
            Err(_) => job_env.clone(),
        };
        let condition_scope = self.scope(frame, &condition_env);
        let skipped = StepResult {
            id: id.clone(),
            name: name.clone(),
            outcome: Conclusion::Skipped,
            conclusion: Conclusion::Skipped,
            outputs: IndexMap::new(),
        };
        let (body, continue_on_error) =
            match condition_scope.condition(step.condition.as_ref().map(|c| c.value.as_str())) {
                Ok(false) => {
                    // Say why as GitHub's reader would want it: the implicit `success()` is
                    // false only after a failure (or a cancel), not "a condition".
                    let why = match &step.condition {
                        Some(condition) => {
                            format!("its condition `{}` is false", condition.value.trim())
                        }
                        None if frame.status.cancelled => "the job was cancelled".to_string(),
                        None => "an earlier step failed".to_string(),
                    };
                    self.log(frame, &format!("skipping step `{name}`: {why}"));
                    // A skipped step is still visible to later steps: outcome and conclusion `skipped`.
                    if step
                        .id
                        .as_ref()
                        .is_some_and(|id| !id.value.starts_with("__"))
                    {
                        frame.steps.insert(
                            id.clone(),
                            json!({"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}),
                        );
                    }
                    return skipped;
                }
                Err(error) => {
                    self.log(frame, &format!("##[error]{error}"));
                    (StepBody::failure(), false)
                }
                Ok(true) => match self.prepare(frame, step, &id, &scope) {
                    Err(error) => {
                        self.log(frame, &format!("##[error]{error}"));
                        (StepBody::failure(), false)
                    }
                    Ok((prepared, continue_on_error)) => {
                        let mut body = self.run_body(frame, step, &prepared).await;
                        self.collect_step_files(frame, &prepared, &mut body);
                        (body, continue_on_error)
                    }
                },
            };
        let conclusion = self.conclusion_of(frame, body.outcome, continue_on_error);
        match conclusion {
            Conclusion::Failure => frame.status.failed = true,
            Conclusion::Cancelled => frame.status.cancelled = true,
            _ => {}
        }
        let context_id = step.id.as_ref().map(|_| id.clone());
        self.step_result(frame, context_id, id, name, body, conclusion)
    }

    /// A step's conclusion from its outcome: a failure under `continue-on-error` concludes
    /// `success`, with a warning in its log.
    pub(super) fn conclusion_of(
        &self,
        frame: &Frame,
        outcome: Conclusion,
        continue_on_error: bool,
    ) -> Conclusion {
        match outcome {
            Conclusion::Failure if continue_on_error => {
                self.log(
                    frame,
                    "##[warning]the step failed; continuing because of `continue-on-error`",
                );
                Conclusion::Success
            }
            other => other,
        }
    }

    /// Records a finished step: its `steps.<context_id>` entry (a generated `__` id has none) and
    /// its result. Later steps read the real outputs through the `steps` context; what leaves the
    /// job (the reported result, shown by the API) never carries a secret.
    pub(super) fn step_result(
        &mut self,
        frame: &mut Frame,
        context_id: Option<String>,
        result_id: String,
        name: String,
        body: StepBody,
        conclusion: Conclusion,
    ) -> StepResult {
        if let Some(id) = context_id.filter(|id| !id.starts_with("__")) {
            frame.steps.insert(
                id,
                json!({
                    "outputs": body.outputs,
                    "outcome": body.outcome.as_str(),
                    "conclusion": conclusion.as_str(),
                }),
            );
        }
        let outputs = body
            .outputs
            .into_iter()
            .map(|(name, value)| {
                let masked = self.masker.mask(&value);
                (name, masked)
            })
            .collect();
        StepResult {
            id: result_id,
            name,
            outcome: body.outcome,
            conclusion,
            outputs,
        }
    }

    /// The step's display name: `name:` evaluated, or `Run <first line>` / `Run <action>`.
    /// The step's display name, masked: a `name:` may expand a secret, and the name travels in
    /// events, progress lines and the engine's step markers.
    pub(super) fn step_name(&self, frame: &Frame, step: &Step, index: usize) -> String {
        let name = if let Some(name) = &step.name {
            let env = self.layered_env(frame, &IndexMap::new());
            self.scope(frame, &env)
                .render(&name.value)
                .unwrap_or_else(|_| name.value.clone())
        } else if let Some(run) = &step.run {
            let first = run
                .value
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .unwrap_or_default();
            format!("Run {}", truncate(first, 80))
        } else if let Some(uses) = &step.uses {
            format!("Run {}", uses.value)
        } else if let Some(control) = &step.control {
            // GitHub's names for these steps.
            match control {
                workflows::model::StepControl::Wait(_) => "Wait".to_string(),
                workflows::model::StepControl::WaitAll => "Wait for all".to_string(),
                workflows::model::StepControl::Cancel(_) => "Cancel".to_string(),
            }
        } else {
            format!("step {}", index + 1)
        };
        self.masker.mask(&name)
    }

    /// The step's own `env:` evaluated against `scope` (the job so far).
    pub(super) fn step_env(
        &self,
        step: &Step,
        scope: &Scope,
    ) -> Result<IndexMap<String, String>, String> {
        let mut env = IndexMap::new();
        for (name, value) in &step.env {
            if workflows::model::is_env_expression(name) {
                env.extend(
                    env_object(scope, &value.value).map_err(|error| format!("`env`: {error}"))?,
                );
            } else {
                env.insert(name.clone(), scope.render(&value.value)?);
            }
        }
        Ok(env)
    }

    /// Evaluates the step's `env`, `continue-on-error`, `timeout-minutes` and `working-directory`
    /// and creates its command files.
    pub(super) fn prepare(
        &self,
        frame: &Frame,
        step: &Step,
        id: &str,
        scope: &Scope,
    ) -> Result<(PreparedStep, bool), String> {
        let env = self.step_env(step, scope)?;
        let continue_on_error = match step.continue_on_error.as_ref().map(|value| &value.value) {
            None => false,
            Some(BoolOrExpr::Bool(value)) => *value,
            Some(BoolOrExpr::Expr(text)) => is_truthy(&scope.value(text)?),
        };
        let timeout_minutes = match step.timeout_minutes.as_ref().map(|value| &value.value) {
            None => None,
            Some(NumberOrExpr::Number(minutes)) => Some(*minutes),
            Some(NumberOrExpr::Expr(text)) => {
                let value = scope.value(text)?;
                let minutes = match &value {
                    Value::Number(number) => number.as_f64(),
                    other => to_display_string(other).trim().parse::<f64>().ok(),
                };
                Some(minutes.ok_or_else(|| format!("`timeout-minutes` is not a number: {value}"))?)
            }
        };
        let timeout = match timeout_minutes {
            Some(minutes) if minutes.is_finite() && minutes > 0.0 => {
                Some(Duration::from_secs_f64(minutes * 60.0))
            }
            Some(minutes) => {
                return Err(format!(
                    "`timeout-minutes` must be a positive number, not {minutes}"
                ));
            }
            None => None,
        };
        let step_env = self.layered_env(frame, &env);
        let step_scope = self.scope(frame, &step_env);
        let working_directory = match step
            .working_directory
            .as_ref()
            .map(|dir| dir.value.as_str())
        {
            Some(dir) => Some(step_scope.render(dir)?),
            None if frame.composite => None,
            None => self.spec.default_working_directory.clone(),
        };
        let working_directory = match working_directory {
            Some(dir) => self.dirs.workspace.join(dir),
            None => self.dirs.workspace.clone(),
        };
        let label = format!("{}_{}", frame.label, sanitise(id));
        let files = self
            .dirs
            .step_files(&label)
            .map_err(|error| format!("failed to create the step's command files: {error}"))?;
        Ok((
            PreparedStep {
                id: id.to_string(),
                env,
                timeout,
                working_directory,
                files,
            },
            continue_on_error,
        ))
    }

    async fn run_body(
        &mut self,
        frame: &mut Frame,
        step: &Step,
        prepared: &PreparedStep,
    ) -> StepBody {
        if let Some(run) = &step.run {
            return self.run_script(frame, step, &run.value, prepared).await;
        }
        if let Some(uses) = &step.uses {
            return self.run_action(frame, step, &uses.value, prepared).await;
        }
        if step.control.is_some() {
            // Composite actions reject parallel steps when they are read; should one get here,
            // its steps ran one after the other, so a `wait` or `cancel` has nothing left to do.
            self.log(
                frame,
                "nothing to wait for: steps of a composite action run one after the other",
            );
            return StepBody::success(IndexMap::new());
        }
        self.log(frame, "##[error]the step has neither `run` nor `uses`");
        StepBody::failure()
    }

    /// A `run:` step: the script rendered, written to a temp file and run by its shell.
    async fn run_script(
        &mut self,
        frame: &Frame,
        step: &Step,
        run: &str,
        prepared: &PreparedStep,
    ) -> StepBody {
        match self.script_invocation(frame, step, run, prepared) {
            Ok(invocation) => {
                self.run_command(
                    frame,
                    invocation.program,
                    invocation.args,
                    invocation.env,
                    prepared,
                )
                .await
            }
            Err(error) => {
                self.log(frame, &format!("##[error]{error}"));
                StepBody::failure()
            }
        }
    }

    /// What a `run:` step starts: the script rendered and written to a temp file, its shell, and
    /// its complete environment.
    pub(super) fn script_invocation(
        &self,
        frame: &Frame,
        step: &Step,
        run: &str,
        prepared: &PreparedStep,
    ) -> Result<ScriptInvocation, String> {
        let env = self.layered_env(frame, &prepared.env);
        let scope = self.scope(frame, &env);
        let script = scope.render(run)?;
        let shell = step
            .shell
            .as_ref()
            .map(|shell| scope.render(&shell.value))
            .transpose()?;
        if frame.composite && shell.is_none() {
            return Err("a `run` step inside a composite action needs `shell`".to_string());
        }
        let shell = shell.or_else(|| {
            if frame.composite {
                None
            } else {
                self.spec.default_shell.clone()
            }
        });
        let process_env = self.process_env(frame, &prepared.env, prepared);
        let path_var = process_env
            .iter()
            .find(|(name, _)| name == "PATH")
            .map(|(_, value)| value.as_str());
        let template = match self.step_host() {
            StepHost::Container { containers, .. } => {
                super::container::shell_template(shell.as_deref(), containers)
            }
            StepHost::Host => shell_template(shell.as_deref(), path_var.unwrap_or(DEFAULT_PATH)),
        }
        .map_err(|error| error.to_string())?;
        let script_path = self.dirs.temp.join(format!(
            "{}_{}{}",
            frame.label,
            sanitise(&prepared.id),
            template.extension
        ));
        std::fs::write(&script_path, script.as_bytes()).map_err(|error| {
            format!(
                "failed to write the script to {}: {error}",
                script_path.display()
            )
        })?;
        let invocation = template.invocation(&script_path);
        Ok(ScriptInvocation {
            program: invocation.program,
            args: invocation.args,
            env: process_env,
        })
    }

    /// Runs a process for a step, handling its output lines and workflow commands.
    pub(super) async fn run_command(
        &mut self,
        frame: &Frame,
        program: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
        prepared: &PreparedStep,
    ) -> StepBody {
        self.run_launch(frame, program, args, env, prepared, None)
            .await
    }

    /// `run_command`, or with `docker_action` set, that Docker action's container in place of
    /// the process (its output and exit handled the same way).
    pub(super) async fn run_launch(
        &mut self,
        frame: &Frame,
        program: String,
        args: Vec<String>,
        env: Vec<(String, String)>,
        prepared: &PreparedStep,
        docker_action: Option<super::container::docker_action::DockerActionRun>,
    ) -> StepBody {
        if !prepared.working_directory.is_dir() {
            self.log(
                frame,
                &format!(
                    "##[error]the working directory {} does not exist",
                    prepared.working_directory.display()
                ),
            );
            return StepBody::failure();
        }
        let spec = ProcessSpec {
            program,
            args,
            env,
            working_directory: prepared.working_directory.clone(),
            group_records: Some(super::groups::records_dir(&self.options.work_dir)),
            interrupt_first: false,
        };
        let (deadline, deadline_is_step) = self.deadline(prepared.timeout);
        let cancel = if self.cancelled {
            CancellationToken::new()
        } else {
            self.cancel.clone()
        };
        // GitHub honours `set-env` and `add-path` only when the step's env opts in.
        let allow_unsecure = spec
            .env
            .iter()
            .any(|(name, value)| name == "ACTIONS_ALLOW_UNSECURE_COMMANDS" && value == "true");
        let mut output = StepOutput::new(allow_unsecure);
        let step = (!self.job_level_output).then_some(frame.event_index);
        let masker = &mut self.masker;
        let events = &self.events;
        let on_line = |_stream: OutputStream, line: String| {
            if let Some(shown) = output.handle(masker, line) {
                for part in shown.split('\n') {
                    let _ = events.send(JobEvent::Log {
                        step,
                        line: masker.mask(part),
                    });
                }
            }
        };
        let (end, group) = match (&self.containers, docker_action) {
            (_, Some(run)) => {
                let end = super::container::docker_action::run_docker_action(
                    &run,
                    deadline,
                    &cancel,
                    self.options.kill_grace,
                    on_line,
                )
                .await;
                (end, None)
            }
            (Some(containers), None) if containers.job_container.is_some() => {
                let request = containers.exec_request(
                    &spec,
                    &self.dirs.temp,
                    &format!("{}_{}", frame.label, sanitise(&prepared.id)),
                );
                let end = super::container::run_exec(
                    &containers.docker,
                    &request,
                    deadline,
                    &cancel,
                    self.options.kill_grace,
                    on_line,
                )
                .await;
                (end, None)
            }
            (_, None) => {
                run_process(&spec, deadline, &cancel, self.options.kill_grace, on_line).await
            }
        };
        if let Some(group) = group {
            self.groups.push(group);
        }
        self.file_env.extend(output.unsecure_env);
        self.saved_state.extend(output.state);
        for dir in output.unsecure_paths {
            self.add_path(dir);
        }
        let outputs = output.outputs;
        let outcome = match end {
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
                let after = super::timeout_text(prepared.timeout.unwrap_or_default());
                self.log(
                    frame,
                    &format!("##[error]the step timed out after {after} and was killed"),
                );
                Conclusion::Failure
            }
            ProcessEnd::TimedOut => {
                self.log(
                    frame,
                    &format!(
                        "##[error]the job exceeded its timeout of {} minutes; the step was killed",
                        self.spec.timeout_minutes
                    ),
                );
                self.start_cleanup(true);
                Conclusion::Failure
            }
            ProcessEnd::Cancelled => {
                self.log(frame, "##[error]the job was cancelled; the step was killed");
                self.start_cleanup(false);
                Conclusion::Cancelled
            }
        };
        StepBody { outcome, outputs }
    }

    /// Reads what the step wrote to `$GITHUB_ENV`, `$GITHUB_PATH`, `$GITHUB_OUTPUT`, `$GITHUB_STATE`
    /// and `$GITHUB_STEP_SUMMARY`. A malformed file fails the step.
    pub(super) fn collect_step_files(
        &mut self,
        frame: &Frame,
        prepared: &PreparedStep,
        body: &mut StepBody,
    ) {
        let read = |path: &Path| std::fs::read_to_string(path).unwrap_or_default();
        match parse_key_values("GITHUB_ENV", &read(&prepared.files.env)) {
            Ok(pairs) => self.file_env.extend(pairs),
            Err(error) => self.fail_body(frame, body, &error.to_string()),
        }
        match parse_key_values("GITHUB_OUTPUT", &read(&prepared.files.output)) {
            Ok(pairs) => body.outputs.extend(pairs),
            Err(error) => self.fail_body(frame, body, &error.to_string()),
        }
        // `$GITHUB_STATE` feeds post steps of the same action; the built-in actions have none, so
        // its values are only checked for well-formedness.
        if let Err(error) = parse_key_values("GITHUB_STATE", &read(&prepared.files.state)) {
            self.fail_body(frame, body, &error.to_string());
        }
        for dir in parse_path_lines(&read(&prepared.files.path)) {
            self.add_path(dir);
        }
        let summary = read(&prepared.files.summary);
        if !summary.is_empty() {
            self.summary.push_str(&self.masker.mask(&summary));
            if !summary.ends_with('\n') {
                self.summary.push('\n');
            }
        }
    }

    /// Prepends `dir` to `PATH` for later steps (a repeated directory moves to the front).
    pub(super) fn add_path(&mut self, dir: String) {
        self.path_prepends.retain(|known| *known != dir);
        self.path_prepends.push(dir);
    }

    fn fail_body(&self, frame: &Frame, body: &mut StepBody, message: &str) {
        self.log(frame, &format!("##[error]{message}"));
        if body.outcome == Conclusion::Success {
            body.outcome = Conclusion::Failure;
        }
    }

    /// The `env` context: job env < `$GITHUB_ENV` < composite caller env < step env.
    pub(super) fn layered_env(
        &self,
        frame: &Frame,
        step_env: &IndexMap<String, String>,
    ) -> IndexMap<String, String> {
        // Variables given to the runner itself (`slipway run --env`) are the lowest layer, and
        // are visible in the `env` context as they are to the steps.
        let mut env = self.options.extra_env.clone();
        env.extend(
            self.spec
                .env
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        env.extend(
            self.file_env
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        env.extend(
            frame
                .env
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        env.extend(
            step_env
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        env
    }

    /// The complete process environment of a step: inherited and extra env, the layered env, `PATH`
    /// additions, then the `GITHUB_*` / `RUNNER_*` defaults, which nothing overrides.
    pub(super) fn process_env(
        &self,
        frame: &Frame,
        step_env: &IndexMap<String, String>,
        prepared: &PreparedStep,
    ) -> Vec<(String, String)> {
        let in_container = matches!(self.step_host(), StepHost::Container { .. });
        let mut env: IndexMap<String, String> = if self.options.inherit_env && !in_container {
            std::env::vars().collect()
        } else {
            IndexMap::new()
        };
        env.extend(
            self.options
                .extra_env
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        env.extend(self.layered_env(frame, step_env));
        let base_path = env
            .get("PATH")
            .cloned()
            .unwrap_or_else(|| DEFAULT_PATH.to_string());
        let mut path: Vec<String> = self.path_prepends.iter().rev().cloned().collect();
        path.push(base_path);
        env.insert("PATH".to_string(), path.join(":"));
        for (name, value) in self.default_env(frame, prepared) {
            env.insert(name, value);
        }
        if self.options.toolkit_env_in_run_steps
            && let Some(access) = &self.options.toolkit
        {
            env.extend(super::toolkit::toolkit_env(access));
        }
        if let StepHost::Container { containers, .. } = self.step_host() {
            // The image's own `PATH` applies inside; only `$GITHUB_PATH` entries go before it.
            return containers.step_env(env, &self.path_prepends);
        }
        env.into_iter().collect()
    }

    /// Where this job's `run:` steps run.
    pub(super) fn step_host(&self) -> StepHost<'_> {
        match &self.containers {
            Some(containers) if containers.job_container.is_some() => {
                StepHost::Container { containers }
            }
            Some(_) => StepHost::Host,
            None => StepHost::Host,
        }
    }

    /// Starts the job's network, services and job container, and puts their ids and ports in
    /// the `job` context.
    async fn start_containers(&mut self) -> Result<(), String> {
        let paths = super::container::PathMap::new(
            &self.dirs.root,
            &self.dirs.workspace,
            &self.dirs.temp,
            &self.tool_cache(),
        );
        if self.spec.container.is_some() {
            // GitHub's `/github/workflow/event.json`.
            let workflow_dir = self.dirs.temp.join("_github_workflow");
            std::fs::create_dir_all(&workflow_dir)
                .and_then(|()| {
                    std::fs::copy(&self.dirs.event_path, workflow_dir.join("event.json"))
                })
                .map_err(|error| {
                    format!("failed to prepare {}: {error}", workflow_dir.display())
                })?;
            self.dirs.event_path = workflow_dir.join("event.json");
        }
        // Container env and credentials that read `secrets` arrive as written.
        let frame = Frame::default();
        let env = self.layered_env(&frame, &IndexMap::new());
        let scope = self.scope(&frame, &env);
        let mut failure = None;
        let mut render = |text: &mut String, field: String| {
            if text.contains("${{") && failure.is_none() {
                match scope.render(text) {
                    Ok(rendered) => *text = rendered,
                    Err(error) => failure = Some(format!("`{field}`: {error}")),
                }
            }
        };
        for (key, container) in self
            .spec
            .container
            .iter_mut()
            .map(|container| ("container".to_string(), container))
            .chain(
                self.spec
                    .services
                    .iter_mut()
                    .map(|(id, service)| (format!("services.{id}"), service)),
            )
        {
            for (name, value) in container.env.iter_mut() {
                render(value, format!("{key}.env.{name}"));
            }
            if let Some(credentials) = container.credentials.as_mut() {
                render(
                    &mut credentials.username,
                    format!("{key}.credentials.username"),
                );
                render(
                    &mut credentials.password,
                    format!("{key}.credentials.password"),
                );
            }
        }
        if let Some(error) = failure {
            return Err(error);
        }
        let (containers, context) = super::container::JobContainers::start(
            &self.spec,
            paths,
            &self.options.runner_id,
            &self.cancel,
            &self.job_logger(),
        )
        .await?;
        self.containers = Some(containers);
        let job = self
            .spec
            .contexts
            .entry("job".to_string())
            .or_insert_with(|| json!({}));
        if !job.is_object() {
            *job = json!({});
        }
        if let Value::Object(job) = job {
            job.extend(context);
        }
        Ok(())
    }

    /// A Docker action's environment before its paths are rewritten: the layered env and the
    /// `GITHUB_*` / `RUNNER_*` values, nothing inherited from the runner's own environment.
    pub(super) fn action_env(
        &self,
        frame: &Frame,
        prepared: &PreparedStep,
    ) -> IndexMap<String, String> {
        let mut env = self.layered_env(frame, &prepared.env);
        env.extend(self.default_env(frame, prepared));
        env
    }

    fn default_env(&self, frame: &Frame, prepared: &PreparedStep) -> Vec<(String, String)> {
        let github = self.spec.contexts.get("github");
        let from_github = |key: &str| {
            github
                .and_then(|github| github.get(key))
                .map(to_display_string)
        };
        let mut env = vec![
            ("CI".to_string(), "true".to_string()),
            ("GITHUB_ACTIONS".to_string(), "true".to_string()),
        ];
        let from_context = [
            ("GITHUB_SHA", "sha"),
            ("GITHUB_REF", "ref"),
            ("GITHUB_REF_NAME", "ref_name"),
            ("GITHUB_REF_TYPE", "ref_type"),
            ("GITHUB_REF_PROTECTED", "ref_protected"),
            ("GITHUB_HEAD_REF", "head_ref"),
            ("GITHUB_BASE_REF", "base_ref"),
            ("GITHUB_EVENT_NAME", "event_name"),
            ("GITHUB_REPOSITORY", "repository"),
            ("GITHUB_REPOSITORY_ID", "repository_id"),
            ("GITHUB_REPOSITORY_OWNER", "repository_owner"),
            ("GITHUB_REPOSITORY_OWNER_ID", "repository_owner_id"),
            ("GITHUB_ACTOR", "actor"),
            ("GITHUB_ACTOR_ID", "actor_id"),
            ("GITHUB_TRIGGERING_ACTOR", "triggering_actor"),
            ("GITHUB_RUN_NUMBER", "run_number"),
            ("GITHUB_WORKFLOW", "workflow"),
            ("GITHUB_WORKFLOW_REF", "workflow_ref"),
            ("GITHUB_WORKFLOW_SHA", "workflow_sha"),
            ("GITHUB_SERVER_URL", "server_url"),
            ("GITHUB_API_URL", "api_url"),
            ("GITHUB_GRAPHQL_URL", "graphql_url"),
            ("GITHUB_RETENTION_DAYS", "retention_days"),
        ];
        for (name, key) in from_context {
            if let Some(value) = from_github(key) {
                env.push((name.to_string(), value));
            }
        }
        let or_default =
            |key: &str, default: &str| from_github(key).unwrap_or_else(|| default.to_string());
        let workspace = self.dirs.workspace.to_string_lossy().to_string();
        let temp = self.dirs.temp.to_string_lossy().to_string();
        env.extend([
            (
                "GITHUB_RUN_ID".to_string(),
                or_default("run_id", &self.spec.run_id),
            ),
            (
                "GITHUB_RUN_ATTEMPT".to_string(),
                or_default("run_attempt", "1"),
            ),
            ("GITHUB_JOB".to_string(), self.spec.job_id.clone()),
            ("GITHUB_ACTION".to_string(), prepared.id.clone()),
            ("GITHUB_WORKSPACE".to_string(), workspace),
            (
                "GITHUB_EVENT_PATH".to_string(),
                self.dirs.event_path.to_string_lossy().to_string(),
            ),
            (
                "GITHUB_ENV".to_string(),
                prepared.files.env.to_string_lossy().to_string(),
            ),
            (
                "GITHUB_OUTPUT".to_string(),
                prepared.files.output.to_string_lossy().to_string(),
            ),
            (
                "GITHUB_STATE".to_string(),
                prepared.files.state.to_string_lossy().to_string(),
            ),
            (
                "GITHUB_PATH".to_string(),
                prepared.files.path.to_string_lossy().to_string(),
            ),
            (
                "GITHUB_STEP_SUMMARY".to_string(),
                prepared.files.summary.to_string_lossy().to_string(),
            ),
            ("RUNNER_OS".to_string(), "Linux".to_string()),
            ("RUNNER_ARCH".to_string(), runner_arch().to_string()),
            ("RUNNER_NAME".to_string(), self.options.runner_name.clone()),
            ("RUNNER_ENVIRONMENT".to_string(), "self-hosted".to_string()),
            ("RUNNER_TEMP".to_string(), temp),
            (
                "RUNNER_TOOL_CACHE".to_string(),
                self.tool_cache().to_string_lossy().to_string(),
            ),
            (
                "RUNNER_WORKSPACE".to_string(),
                self.dirs.root.to_string_lossy().to_string(),
            ),
        ]);
        if let Some(deployment) = &self.deployment {
            env.extend(deployment::env_vars(deployment));
        }
        if let Some(action_path) = &frame.action_path {
            env.push((
                "GITHUB_ACTION_PATH".to_string(),
                action_path.to_string_lossy().to_string(),
            ));
        }
        env
    }

    /// The contexts a step-level expression sees, with `env` as given.
    pub(super) fn scope(&self, frame: &Frame, env: &IndexMap<String, String>) -> Scope {
        let mut values = self.spec.contexts.clone();
        let mut github = match values.get("github") {
            Some(Value::Object(github)) => github.clone(),
            _ => Map::new(),
        };
        github.insert(
            "workspace".into(),
            json!(self.dirs.workspace.to_string_lossy()),
        );
        github.insert(
            "event_path".into(),
            json!(self.dirs.event_path.to_string_lossy()),
        );
        if let Some(action_path) = &frame.action_path {
            github.insert("action_path".into(), json!(action_path.to_string_lossy()));
        }
        if !github.contains_key("event") {
            github.insert("event".into(), self.spec.event_payload.clone());
        }
        values.insert("github".into(), Value::Object(github));
        values.insert("env".into(), json!(env));
        values.insert("steps".into(), Value::Object(frame.steps.clone()));
        let mut runner = match values.get("runner") {
            Some(Value::Object(runner)) => runner.clone(),
            _ => Map::new(),
        };
        runner.insert("os".into(), json!("Linux"));
        runner.insert("arch".into(), json!(runner_arch()));
        runner.insert("name".into(), json!(self.options.runner_name));
        runner.insert("environment".into(), json!("self-hosted"));
        runner.insert("temp".into(), json!(self.dirs.temp.to_string_lossy()));
        runner.insert(
            "tool_cache".into(),
            json!(self.tool_cache().to_string_lossy()),
        );
        values.insert("runner".into(), Value::Object(runner));
        let mut job = match values.get("job") {
            Some(Value::Object(job)) => job.clone(),
            _ => Map::new(),
        };
        let status = if frame.status.cancelled || self.cancelled {
            "cancelled"
        } else if frame.status.failed {
            "failure"
        } else {
            "success"
        };
        job.insert("status".into(), json!(status));
        values.insert("job".into(), Value::Object(job));
        values.insert("secrets".into(), json!(self.spec.secrets));
        if let Some(deployment) = &self.deployment {
            values.insert("deployment".into(), deployment.to_value());
        }
        if let Some(inputs) = &frame.inputs {
            values.insert("inputs".into(), Value::Object(inputs.clone()));
        }
        let status = Status {
            failed: frame.status.failed,
            cancelled: frame.status.cancelled || self.cancelled,
            incomplete: false,
        };
        Scope {
            values,
            status,
            workspace: Some(self.dirs.workspace.clone()),
        }
    }

    /// Job outputs evaluated against the final `steps` context; a value holding a secret is dropped.
    fn job_outputs(&self, frame: &Frame, conclusion: Conclusion) -> IndexMap<String, String> {
        let env = self.layered_env(frame, &IndexMap::new());
        let mut scope = self.scope(frame, &env);
        if let Some(Value::Object(job)) = scope.values.get_mut("job") {
            job.insert("status".into(), json!(conclusion.as_str()));
        }
        let mut outputs = IndexMap::new();
        for (name, template) in &self.spec.outputs {
            match scope.render(template) {
                Ok(value) if self.masker.contains_secret(&value) => {
                    self.log_job(&format!(
                        "##[warning]job output `{name}` is not passed on: it may contain a secret"
                    ));
                }
                Ok(value) => {
                    outputs.insert(name.clone(), value);
                }
                Err(error) => self.log_job(&format!("##[warning]job output `{name}`: {error}")),
            }
        }
        outputs
    }

    /// Notices a cancel or an expired job timeout between steps.
    pub(super) fn notice_interruptions(&mut self, frame: &mut Frame) {
        if !self.cancelled && self.cancel.is_cancelled() {
            self.start_cleanup(false);
        }
        if !self.timed_out
            && self
                .job_deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
        {
            self.log_job(&format!(
                "##[error]the job exceeded its timeout of {} minutes",
                self.spec.timeout_minutes
            ));
            self.start_cleanup(true);
        }
        if self.cancelled || self.timed_out {
            frame.status.cancelled = true;
        }
    }

    /// From now on only cleanup steps run, within the cleanup budget.
    pub(super) fn start_cleanup(&mut self, timed_out: bool) {
        if timed_out {
            self.timed_out = true;
        } else {
            self.cancelled = true;
        }
        if self.cleanup_deadline.is_none() {
            self.cleanup_deadline = Some(Instant::now() + self.options.cleanup_budget);
        }
    }

    /// The earliest of the step's own timeout and the job's budget (or the cleanup budget), and
    /// whether the step's own timeout is the one that applies.
    pub(super) fn deadline(&self, step_timeout: Option<Duration>) -> (Option<Instant>, bool) {
        let job = if self.cancelled || self.timed_out {
            self.cleanup_deadline
        } else {
            self.job_deadline
        };
        let step = step_timeout.map(|timeout| Instant::now() + timeout);
        match (step, job) {
            (Some(step), Some(job)) if step <= job => (Some(step), true),
            (Some(step), None) => (Some(step), true),
            (_, job) => (job, false),
        }
    }

    pub(super) fn tool_cache(&self) -> PathBuf {
        self.options.work_dir.join("_tool")
    }

    /// One masked log line for the frame's step.
    pub(super) fn log(&self, frame: &Frame, line: &str) {
        let step = (!self.job_level_output).then_some(frame.event_index);
        for part in line.split('\n') {
            self.send(JobEvent::Log {
                step,
                line: self.masker.mask(part),
            });
        }
    }

    /// `log_job` as a value that can be held across awaits.
    pub(super) fn job_logger(&self) -> impl Fn(&str) + Send + Sync + 'static {
        let events = self.events.clone();
        let masker = self.masker.clone();
        move |line: &str| {
            let _ = events.send(JobEvent::Log {
                step: None,
                line: masker.mask(line),
            });
        }
    }

    /// One masked log line for the job as a whole.
    pub(super) fn log_job(&self, line: &str) {
        self.send(JobEvent::Log {
            step: None,
            line: self.masker.mask(line),
        });
    }

    pub(super) fn send(&self, event: JobEvent) {
        let _ = self.events.send(event);
    }
}

/// The job's `github.token`: kept when the engine gave one, else a fresh random value for this
/// job (actions such as `github-script` require one). Returns it, to be masked.
///
/// On an engine runner the engine's per-job token (verifiable, fenced to the lease) is given;
/// the fallback is for `slipway run`, which has no engine to verify anything.
fn ensure_job_token(spec: &mut JobSpec) -> String {
    let given = spec
        .contexts
        .get("github")
        .and_then(|github| github.get("token"))
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .map(str::to_string);
    if let Some(token) = given {
        return token;
    }
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(spec.run_id.as_bytes());
    hasher.update(spec.job_key.as_bytes());
    hasher.update(std::process::id().to_le_bytes());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    hasher.update(nanos.to_le_bytes());
    let token: String = hasher
        .finalize()
        .iter()
        .take(20)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    let token = format!("ghs_{token}");
    if let Some(Value::Object(github)) = spec.contexts.get_mut("github") {
        github.insert("token".into(), json!(token));
    } else {
        spec.contexts
            .insert("github".into(), json!({ "token": token }));
    }
    token
}

/// `env: ${{ expr }}` evaluated: it must yield an object; its values are turned into strings
/// the way GitHub turns expression results into text.
fn env_object(scope: &Scope, text: &str) -> Result<IndexMap<String, String>, String> {
    match scope.value(text)? {
        Value::Object(map) => Ok(map
            .iter()
            .map(|(name, value)| (name.clone(), to_display_string(value)))
            .collect()),
        other => Err(format!(
            "`{text}` must evaluate to an object of variables, not {}",
            match other {
                Value::Null => "null",
                Value::Bool(_) => "a boolean",
                Value::Number(_) => "a number",
                Value::String(_) => "a string",
                Value::Array(_) => "an array",
                Value::Object(_) => "an object",
            }
        )),
    }
}

fn runner_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "X64",
        "aarch64" => "ARM64",
        "arm" => "ARM",
        "x86" => "X86",
        other => other,
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let cut: String = text.chars().take(max_chars).collect();
    format!("{cut}…")
}
