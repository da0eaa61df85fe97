//! Carrying out a deployment job: drives the pure `deploy::DeploymentMachine` machine over the
//! job's assignment and does what it asks — runs the job's steps for an `execute` phase (the
//! same step loop as a plain job), runs the `verify` / `acceptance` / `switch` hooks as shell
//! commands, waits out canary pauses, asks the gate about approvals, and rolls back (switching
//! back to the old slot, or redeploying the last good version with a second machine).
//!
//! Every phase gets a log line when it starts and ends and a `deploy::PhaseRecord`; the engine
//! hears of progress through the `DeploymentGate`, best effort. The outcome is a
//! `protocol::DeploymentReport`.
//!
//! It must not talk HTTP (the agent's gate does) nor decide the order of phases (the machine
//! does); a cancel or the job timeout stops the deployment where it is, without a rollback.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use deploy::wire::{DeploymentAssignment, DeploymentReport, RollbackReport};
use deploy::{
    Activity, DeploymentAction, DeploymentContext, DeploymentEvent, DeploymentId,
    DeploymentMachine, DeploymentStatus, PhaseRecord, RollbackMode, Version,
};
use indexmap::IndexMap;
use jiff::Timestamp;
use protocol::wire::PhaseApproval;
use protocol::{Conclusion, StepResult};
use tokio::time::Instant;

use super::job::{Frame, JobRun, PreparedStep};
use super::shell::shell_template;

/// What a gate call returns: the decision on the approval asked about, or `None` when there is
/// no answer (nothing was asked, or the engine could not be reached).
pub type GateFuture<'a> = Pin<Box<dyn Future<Output = Option<PhaseApproval>> + Send + 'a>>;

/// The executor's line to whoever decides about a deployment: told of progress when each
/// phase starts and ends, and asked about canary approvals (`awaiting_approval` is the phase
/// index; the executor asks again every `ExecutorOptions::approval_poll` while the answer is
/// `Pending` or `None`). The agent implements it over `POST /api/v1/jobs/{id}/deployment`.
pub trait DeploymentGate: Send + Sync {
    /// Reports the deployment's `phases` so far and, with `awaiting_approval`, asks about that
    /// phase's approval; resolves to the decision, or `None` when there is no answer.
    fn progress<'a>(
        &'a self,
        deployment_id: &'a str,
        phases: &'a [PhaseRecord],
        awaiting_approval: Option<usize>,
    ) -> GateFuture<'a>;

    /// Whether approvals are granted without asking anyone; the executor says so loudly.
    fn grants_automatically(&self) -> bool {
        false
    }
}

/// The gate of `slipway run`: no engine, no approvers; every approval is granted at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct AutoApprove;

impl DeploymentGate for AutoApprove {
    fn progress<'a>(
        &'a self,
        _deployment_id: &'a str,
        _phases: &'a [PhaseRecord],
        awaiting_approval: Option<usize>,
    ) -> GateFuture<'a> {
        Box::pin(async move {
            awaiting_approval.map(|_| PhaseApproval::Granted {
                by: "slipway run".to_string(),
            })
        })
    }

    fn grants_automatically(&self) -> bool {
        true
    }
}

/// The gate when none is given: progress goes nowhere and approvals are rejected, since
/// nobody could be asked.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoGate;

impl DeploymentGate for NoGate {
    fn progress<'a>(
        &'a self,
        _deployment_id: &'a str,
        _phases: &'a [PhaseRecord],
        awaiting_approval: Option<usize>,
    ) -> GateFuture<'a> {
        Box::pin(async move {
            awaiting_approval.map(|_| PhaseApproval::Rejected {
                by: "slipway".to_string(),
                comment: Some("this executor has no approvers to ask".to_string()),
            })
        })
    }
}

/// The `DEPLOYMENT_*` variables of a phase (optional ones only when known).
pub(super) fn env_vars(context: &DeploymentContext) -> Vec<(String, String)> {
    let mut vars = vec![
        ("DEPLOYMENT_ENVIRONMENT", context.environment.clone()),
        ("DEPLOYMENT_STRATEGY", context.strategy.as_str().to_string()),
        ("DEPLOYMENT_PHASE", context.phase.as_str().to_string()),
        ("DEPLOYMENT_VERSION", context.version.sha.clone()),
        ("DEPLOYMENT_IS_ROLLBACK", context.is_rollback.to_string()),
    ];
    if !context.targets.is_empty() {
        vars.push(("DEPLOYMENT_TARGETS", context.targets.join(" ")));
    }
    if let Some(batch) = context.batch {
        vars.push(("DEPLOYMENT_BATCH", batch.to_string()));
    }
    if let Some(batches) = context.batches {
        vars.push(("DEPLOYMENT_BATCHES", batches.to_string()));
    }
    if let Some(slot) = &context.slot {
        vars.push(("DEPLOYMENT_SLOT", slot.clone()));
    }
    if let Some(weight) = context.weight {
        vars.push(("DEPLOYMENT_WEIGHT", weight.to_string()));
    }
    if let Some(tag) = &context.version.tag {
        vars.push(("DEPLOYMENT_TAG", tag.clone()));
    }
    vars.into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect()
}

/// The job's `failure_reason` for a deployment that did not succeed: the failed phase and what
/// happened to the environment afterwards.
pub(super) fn failure_reason(report: &DeploymentReport) -> String {
    let reason = report.reason.as_deref().unwrap_or("no reason given");
    match (&report.status, &report.rollback) {
        (_, Some(rollback)) if !rollback.succeeded => format!(
            "deployment {}: {reason}; {}",
            report.status,
            rollback_failure(rollback)
        ),
        (DeploymentStatus::RolledBack, Some(rollback)) => {
            let how = match &rollback.mode {
                RollbackMode::SwitchBack { to_slot } => format!("switching back to slot {to_slot}"),
                RollbackMode::Redeploy => "redeploying it".to_string(),
            };
            format!(
                "deployment rolled back: {reason}; {} was restored by {how}",
                rollback.to_version.label()
            )
        }
        _ => format!("deployment {}: {reason}", report.status),
    }
}

/// `the rollback to v1 failed: …`.
fn rollback_failure(rollback: &RollbackReport) -> String {
    let why = rollback
        .reason
        .as_deref()
        .map(|why| why.strip_prefix("rollback failed: ").unwrap_or(why))
        .unwrap_or("no reason given");
    format!(
        "the rollback to {} failed: {why}",
        rollback.to_version.label()
    )
}

/// Carries the deployment out. Returns the step results of the last pass over the steps (an
/// execute phase runs them all; a rolling deployment once per batch, a redeploy rollback once
/// more), or the steps as skipped when no execute phase ran, and the report.
pub(super) async fn carry_out(
    run: &mut JobRun<'_>,
    frame: &mut Frame,
    assignment: DeploymentAssignment,
) -> (Vec<StepResult>, DeploymentReport) {
    let mut driver = Driver {
        run,
        frame,
        deployment_id: assignment.deployment_id.clone(),
        live_slot: assignment.plan.live_slot.clone(),
        last_pass: None,
        hooks_run: 0,
    };
    let plan = assignment.plan.clone();
    let mut machine = DeploymentMachine::new(
        DeploymentId(assignment.deployment_id.clone()),
        plan.clone(),
        assignment.last_good.clone(),
    );
    driver.run.log_job(&format!(
        "deployment {}: {} of {} into {} ({} phases)",
        assignment.deployment_id,
        plan.strategy,
        plan.version.label(),
        plan.environment,
        plan.phases.len()
    ));
    let mut phases = Vec::new();
    let driven = driver
        .drive(&mut machine, &mut phases, "deployment", true)
        .await;
    // `rolled_back` stays the status when the rollback itself fails: the report's rollback
    // says so (`succeeded: false`), and the engine records the failed rollback from it.
    let status = driven.status;
    let reason = driven.reason;
    let mut rollback = None;
    if let Some(request) = driven.rollback
        && driven.interruption.is_none()
    {
        rollback = Some(
            driver
                .roll_back(&assignment, &plan.environment, request)
                .await,
        );
    }
    let mut summary = match &reason {
        Some(reason) => format!(
            "deployment {}: {status}: {reason}",
            assignment.deployment_id
        ),
        None => format!("deployment {}: {status}", assignment.deployment_id),
    };
    if let Some(rollback) = rollback.as_ref().filter(|rollback| !rollback.succeeded) {
        summary.push_str(&format!("; {}", rollback_failure(rollback)));
    }
    if status == DeploymentStatus::Success {
        driver.run.log_job(&summary);
    } else {
        driver.run.log_job(&format!("##[error]{summary}"));
    }
    let results = match driver.last_pass.take() {
        Some(results) => results,
        None => driver.skipped_steps(),
    };
    let report = DeploymentReport {
        deployment_id: assignment.deployment_id,
        status,
        reason,
        phases,
        live_slot: driver.live_slot.clone(),
        rollback,
    };
    (results, report)
}

/// Walks one machine from start to `Complete`.
struct Driver<'r, 'a> {
    run: &'r mut JobRun<'a>,
    frame: &'r mut Frame,
    deployment_id: String,
    /// Blue-green: the slot live now.
    live_slot: Option<String>,
    /// The step results of the latest execute pass.
    last_pass: Option<Vec<StepResult>>,
    /// Numbers the hooks' command files.
    hooks_run: usize,
}

/// Where a machine ended.
struct Driven {
    status: DeploymentStatus,
    reason: Option<String>,
    /// The rollback the machine asked for: the version, how, and why.
    rollback: Option<(Version, RollbackMode, String)>,
    /// Set when a cancel or the job timeout stopped it.
    interruption: Option<String>,
}

/// How one phase's work ended.
enum Outcome {
    Succeeded,
    Failed(String),
    /// The job was cancelled or timed out; the deployment stops here.
    Interrupted,
}

impl Driver<'_, '_> {
    /// Runs `machine` to its end, appending a record per phase to `records`; `what` prefixes
    /// the log lines; `report` sends progress through the gate.
    async fn drive(
        &mut self,
        machine: &mut DeploymentMachine,
        records: &mut Vec<PhaseRecord>,
        what: &str,
        report: bool,
    ) -> Driven {
        let total = machine.plan.phases.len();
        let mut rollback = None;
        let mut pending: std::collections::VecDeque<DeploymentAction> =
            match machine.handle(DeploymentEvent::Start, Timestamp::now()) {
                Ok(actions) => actions.into(),
                Err(error) => return internal_error(error),
            };
        while let Some(action) = pending.pop_front() {
            let (phase, event) = match action {
                DeploymentAction::StartPhase {
                    phase,
                    activity,
                    label,
                    command,
                    context,
                } => {
                    let shown = describe(phase, total, &label, &context);
                    self.begin(records, phase, activity, &label, what, &shown, report)
                        .await;
                    let outcome = match (&command, activity) {
                        (Some(command), _) => self.hook(command, &context).await,
                        (None, Activity::Execute) => self.execute(&context).await,
                        (None, _) => Outcome::Succeeded,
                    };
                    (
                        phase,
                        self.end(records, phase, what, &shown, outcome, report)
                            .await,
                    )
                }
                DeploymentAction::SwitchSlot {
                    phase,
                    to,
                    command,
                    mut context,
                    ..
                } => {
                    let label = machine
                        .plan
                        .phases
                        .get(phase)
                        .map(|planned| planned.label.clone())
                        .unwrap_or_else(|| format!("switch to {to}"));
                    let shown = describe(phase, total, &label, &context);
                    self.begin(
                        records,
                        phase,
                        Activity::Switch,
                        &label,
                        what,
                        &shown,
                        report,
                    )
                    .await;
                    context.slot = Some(to.clone());
                    let outcome = match &command {
                        Some(command) => self.hook(command, &context).await,
                        None => Outcome::Succeeded,
                    };
                    if matches!(outcome, Outcome::Succeeded) {
                        self.live_slot = Some(to);
                    }
                    (
                        phase,
                        self.end(records, phase, what, &shown, outcome, report)
                            .await,
                    )
                }
                DeploymentAction::WaitUntil { phase, until } => {
                    let label = machine
                        .plan
                        .phases
                        .get(phase)
                        .map(|planned| planned.label.clone())
                        .unwrap_or_else(|| "pause".to_string());
                    let shown = format!("phase {}/{total} {label} (until {until})", phase + 1);
                    self.begin(
                        records,
                        phase,
                        Activity::Pause,
                        &label,
                        what,
                        &shown,
                        report,
                    )
                    .await;
                    let wait = Timestamp::now()
                        .duration_until(until)
                        .try_into()
                        .unwrap_or(Duration::ZERO);
                    let outcome = if self.wait(wait).await {
                        Outcome::Succeeded
                    } else {
                        Outcome::Interrupted
                    };
                    let event = self
                        .end(records, phase, what, &shown, outcome, report)
                        .await;
                    let event = match event {
                        Some(DeploymentEvent::PhaseSucceeded { phase }) => {
                            Some(DeploymentEvent::PauseElapsed { phase })
                        }
                        other => other,
                    };
                    // The machine refuses an early end; the timer may fire a hair early.
                    let now = Timestamp::now().max(until);
                    match event {
                        Some(event) => match machine.handle(event, now) {
                            Ok(actions) => {
                                pending.extend(actions);
                                continue;
                            }
                            Err(error) => return internal_error(error),
                        },
                        None => (phase, None),
                    }
                }
                DeploymentAction::AwaitApproval { phase, label } => {
                    let shown = format!("phase {}/{total} {label}", phase + 1);
                    self.begin(
                        records,
                        phase,
                        Activity::Approval,
                        &label,
                        what,
                        &shown,
                        true,
                    )
                    .await;
                    let event = self.approval(records, phase, what, &shown).await;
                    (phase, event)
                }
                DeploymentAction::RollBack {
                    to_version,
                    mode,
                    reason,
                } => {
                    rollback = Some((to_version, mode, reason));
                    continue;
                }
                DeploymentAction::Complete { status, reason } => {
                    if status == DeploymentStatus::Success {
                        self.confirm(machine, records, what, total);
                    }
                    return Driven {
                        status,
                        reason,
                        rollback,
                        interruption: None,
                    };
                }
            };
            let Some(event) = event else {
                let interruption = self.interruption();
                let label = machine
                    .plan
                    .phases
                    .get(phase)
                    .map(|planned| planned.label.clone())
                    .unwrap_or_default();
                return Driven {
                    status: DeploymentStatus::Failure,
                    reason: Some(format!("{interruption} during {label}")),
                    rollback: None,
                    interruption: Some(interruption),
                };
            };
            match machine.handle(event, Timestamp::now()) {
                Ok(actions) => pending.extend(actions),
                Err(error) => return internal_error(error),
            }
        }
        Driven {
            status: DeploymentStatus::Failure,
            reason: Some("the deployment stopped without completing".to_string()),
            rollback,
            interruption: None,
        }
    }

    /// Logs the start of a phase, records it and tells the gate.
    #[allow(clippy::too_many_arguments)]
    async fn begin(
        &mut self,
        records: &mut Vec<PhaseRecord>,
        phase: usize,
        activity: Activity,
        label: &str,
        what: &str,
        shown: &str,
        report: bool,
    ) {
        self.run.log_job(&format!("##[group]{what}: {shown}"));
        records.push(PhaseRecord {
            index: phase,
            activity,
            label: label.to_string(),
            started_at: Timestamp::now(),
            finished_at: None,
            succeeded: None,
            detail: None,
        });
        if report {
            self.progress(records).await;
        }
    }

    /// Logs the end of a phase, closes its record, tells the gate, and returns the event for
    /// the machine (`None` when the job was interrupted).
    async fn end(
        &mut self,
        records: &mut [PhaseRecord],
        phase: usize,
        what: &str,
        shown: &str,
        outcome: Outcome,
        report: bool,
    ) -> Option<DeploymentEvent> {
        self.run.log_job("##[endgroup]");
        let (succeeded, detail, event) = match outcome {
            Outcome::Succeeded => {
                self.run.log_job(&format!("{what}: {shown} succeeded"));
                (true, None, Some(DeploymentEvent::PhaseSucceeded { phase }))
            }
            Outcome::Failed(reason) => {
                self.run
                    .log_job(&format!("##[error]{what}: {shown} failed: {reason}"));
                (
                    false,
                    Some(reason.clone()),
                    Some(DeploymentEvent::PhaseFailed { phase, reason }),
                )
            }
            Outcome::Interrupted => {
                let interruption = self.interruption();
                self.run
                    .log_job(&format!("##[error]{what}: {shown} stopped: {interruption}"));
                (false, Some(interruption), None)
            }
        };
        if let Some(record) = records.last_mut() {
            record.finished_at = Some(Timestamp::now());
            record.succeeded = Some(succeeded);
            record.detail = detail;
        }
        if report {
            self.progress(records).await;
        }
        event
    }

    /// The confirm phase: nothing to run; the version is live.
    fn confirm(
        &mut self,
        machine: &DeploymentMachine,
        records: &mut Vec<PhaseRecord>,
        what: &str,
        total: usize,
    ) {
        let Some(confirm) = machine
            .plan
            .phases
            .iter()
            .find(|planned| planned.activity == Activity::Confirm)
        else {
            return;
        };
        let now = Timestamp::now();
        records.push(PhaseRecord {
            index: confirm.index,
            activity: Activity::Confirm,
            label: confirm.label.clone(),
            started_at: now,
            finished_at: Some(now),
            succeeded: Some(true),
            detail: None,
        });
        self.run.log_job(&format!(
            "{what}: phase {}/{total} confirm: {} is live in {}",
            confirm.index + 1,
            machine.plan.version.label(),
            machine.plan.environment
        ));
    }

    /// Best-effort progress report (the gate logs its own failures).
    async fn progress(&self, records: &[PhaseRecord]) {
        let gate = self.run.gate;
        let _ = gate.progress(&self.deployment_id, records, None).await;
    }

    /// Asks the gate until it decides; returns the machine's event (`None` when interrupted).
    async fn approval(
        &mut self,
        records: &mut [PhaseRecord],
        phase: usize,
        what: &str,
        shown: &str,
    ) -> Option<DeploymentEvent> {
        let gate = self.run.gate;
        let poll = self.run.options.approval_poll;
        let mut announced = false;
        loop {
            let answer = gate
                .progress(&self.deployment_id, records, Some(phase))
                .await;
            let (outcome, event) = match answer {
                Some(PhaseApproval::Granted { by }) => {
                    if gate.grants_automatically() {
                        self.run.log_job(&format!(
                            "##[warning]{what}: {shown} GRANTED AUTOMATICALLY by {by}: there is no engine and no approver to ask here"
                        ));
                    } else {
                        self.run
                            .log_job(&format!("{what}: {shown} granted by `{by}`"));
                    }
                    (
                        Outcome::Succeeded,
                        DeploymentEvent::ApprovalGranted { phase, by },
                    )
                }
                Some(PhaseApproval::Rejected { by, comment }) => {
                    let reason = match &comment {
                        Some(comment) => format!("rejected by `{by}`: {comment}"),
                        None => format!("rejected by `{by}`"),
                    };
                    (
                        Outcome::Failed(reason),
                        DeploymentEvent::ApprovalRejected { phase, by, comment },
                    )
                }
                Some(PhaseApproval::Pending) | None => {
                    if !announced {
                        announced = true;
                        self.run
                            .log_job(&format!("{what}: {shown}: waiting for an approver"));
                    }
                    if self.wait(poll).await {
                        continue;
                    }
                    self.end(records, phase, what, shown, Outcome::Interrupted, true)
                        .await;
                    return None;
                }
            };
            // The machine's event carries the decision; the record's detail says who.
            let detail = match &event {
                DeploymentEvent::ApprovalGranted { by, .. } => Some(format!("granted by `{by}`")),
                _ => None,
            };
            self.end(records, phase, what, shown, outcome, true).await;
            if let (Some(detail), Some(record)) = (detail, records.last_mut()) {
                record.detail = Some(detail);
            }
            return Some(event);
        }
    }

    /// An execute phase: the job's steps, all of them, with the phase's `deployment` context.
    async fn execute(&mut self, context: &DeploymentContext) -> Outcome {
        self.run.deployment = Some(context.clone());
        // Each pass is judged on its own; cancellation stays noticed.
        self.frame.status.failed = false;
        let results = self.run.run_pass(self.frame).await;
        let failed_step = results
            .iter()
            .find(|result| result.conclusion == Conclusion::Failure)
            .map(|result| result.name.clone());
        self.last_pass = Some(results);
        if self.run.cancelled || self.run.timed_out {
            return Outcome::Interrupted;
        }
        if self.frame.status.failed {
            return Outcome::Failed(match failed_step {
                Some(name) => format!("step `{name}` failed"),
                None => "a step failed".to_string(),
            });
        }
        Outcome::Succeeded
    }

    /// A hook: `command` with `${{ }}` evaluated (step contexts plus `deployment`), run by
    /// `bash -e` in the workspace with the job's env and the `DEPLOYMENT_*` variables; its
    /// output goes to the job log, masked.
    async fn hook(&mut self, command: &str, context: &DeploymentContext) -> Outcome {
        self.run.deployment = Some(context.clone());
        self.hooks_run += 1;
        let label = format!("deploy{}", self.hooks_run);
        let hook_frame = Frame {
            steps: self.frame.steps.clone(),
            label: label.clone(),
            event_index: self.frame.event_index,
            ..Frame::default()
        };
        let env = self.run.layered_env(&hook_frame, &IndexMap::new());
        let script = match self.run.scope(&hook_frame, &env).render(command) {
            Ok(script) => script,
            Err(error) => return Outcome::Failed(error),
        };
        let files = match self.run.dirs.step_files(&label) {
            Ok(files) => files,
            Err(error) => {
                return Outcome::Failed(format!(
                    "failed to create the hook's command files: {error}"
                ));
            }
        };
        let prepared = PreparedStep {
            id: "deployment".to_string(),
            env: IndexMap::new(),
            timeout: None,
            working_directory: self.run.dirs.workspace.clone(),
            files,
        };
        let process_env = self
            .run
            .process_env(&hook_frame, &IndexMap::new(), &prepared);
        let path = process_env
            .iter()
            .find(|(name, _)| name == "PATH")
            .map(|(_, value)| value.clone())
            .unwrap_or_default();
        let template = match shell_template(None, &path) {
            Ok(template) => template,
            Err(error) => return Outcome::Failed(error.to_string()),
        };
        let script_path = self
            .run
            .dirs
            .temp
            .join(format!("{label}_hook{}", template.extension));
        if let Err(error) = std::fs::write(&script_path, script.as_bytes()) {
            return Outcome::Failed(format!(
                "failed to write the hook to {}: {error}",
                script_path.display()
            ));
        }
        let invocation = template.invocation(&script_path);
        self.run.job_level_output = true;
        let body = self
            .run
            .run_command(
                &hook_frame,
                invocation.program,
                invocation.args,
                process_env,
                &prepared,
            )
            .await;
        self.run.job_level_output = false;
        if self.run.cancelled || self.run.timed_out {
            return Outcome::Interrupted;
        }
        match body.outcome {
            Conclusion::Success | Conclusion::Skipped => Outcome::Succeeded,
            Conclusion::Cancelled => Outcome::Interrupted,
            Conclusion::Failure => {
                let first = command
                    .lines()
                    .map(str::trim)
                    .find(|line| !line.is_empty())
                    .unwrap_or_default();
                Outcome::Failed(format!("`{first}` failed"))
            }
        }
    }

    /// Sleeps for `duration`; `false` when a cancel or the job timeout came first (then noticed).
    async fn wait(&mut self, duration: Duration) -> bool {
        let deadline = self.run.job_deadline;
        let cancel = self.run.cancel.clone();
        let finished = tokio::select! {
            _ = tokio::time::sleep(duration) => true,
            _ = cancel.cancelled() => false,
            _ = sleep_until_some(deadline) => false,
        };
        if !finished {
            self.run.notice_interruptions(self.frame);
        }
        finished && !self.run.cancelled && !self.run.timed_out
    }

    fn interruption(&self) -> String {
        if self.run.timed_out {
            "the job timed out".to_string()
        } else {
            "the job was cancelled".to_string()
        }
    }

    /// Carries out the rollback the machine asked for and reports it.
    async fn roll_back(
        &mut self,
        assignment: &DeploymentAssignment,
        environment: &str,
        (to_version, mode, reason): (Version, RollbackMode, String),
    ) -> RollbackReport {
        let mut phases = Vec::new();
        let (succeeded, outcome_reason) = match &mode {
            RollbackMode::SwitchBack { to_slot } => {
                // The switch phase of the one switch-back plan; the old slot was verified when
                // it went live, so the instant switch back runs that phase alone.
                let plan = deploy::plan_switch_back(
                    environment,
                    &assignment.spec,
                    &to_version,
                    to_slot,
                    self.live_slot.as_deref(),
                );
                let Some(switch) = plan
                    .phases
                    .into_iter()
                    .find(|planned| planned.activity == Activity::Switch)
                else {
                    return RollbackReport {
                        to_version,
                        mode,
                        succeeded: false,
                        reason: Some("internal error: the switch-back plan has no switch".into()),
                        phases,
                    };
                };
                let context = switch.context;
                let label = switch.label;
                let shown = format!("phase 1/1 {label}");
                self.begin(
                    &mut phases,
                    0,
                    Activity::Switch,
                    &label,
                    "deployment rollback",
                    &shown,
                    false,
                )
                .await;
                let outcome = match &switch.command {
                    Some(command) => self.hook(command, &context).await,
                    None => Outcome::Succeeded,
                };
                let failure = match &outcome {
                    Outcome::Succeeded => {
                        self.live_slot = Some(to_slot.clone());
                        None
                    }
                    Outcome::Failed(reason) => Some(reason.clone()),
                    Outcome::Interrupted => Some(self.interruption()),
                };
                self.end(
                    &mut phases,
                    0,
                    "deployment rollback",
                    &shown,
                    outcome,
                    false,
                )
                .await;
                (failure.is_none(), failure)
            }
            RollbackMode::Redeploy => {
                self.run.log_job(&format!(
                    "deployment rollback: redeploying {} into {environment}",
                    to_version.label()
                ));
                let plan = deploy::plan_rollback(environment, &assignment.spec, &to_version);
                let mut machine = DeploymentMachine::new(
                    DeploymentId(format!("{}-rollback", assignment.deployment_id)),
                    plan,
                    None,
                );
                let driven = self
                    .drive(&mut machine, &mut phases, "deployment rollback", false)
                    .await;
                let succeeded = driven.status == DeploymentStatus::Success;
                (succeeded, driven.reason)
            }
        };
        RollbackReport {
            to_version,
            mode,
            succeeded,
            reason: outcome_reason.or(Some(reason)),
            phases,
        }
    }

    /// The job's steps reported as skipped (no execute phase ran).
    fn skipped_steps(&self) -> Vec<StepResult> {
        let steps: Vec<_> = self
            .run
            .spec
            .steps
            .iter()
            .map(super::step_from_wire)
            .collect();
        steps
            .iter()
            .enumerate()
            .map(|(index, step)| StepResult {
                id: step
                    .id
                    .as_ref()
                    .map(|id| id.value.clone())
                    .unwrap_or_else(|| format!("__{index}")),
                name: self.run.step_name(self.frame, step, index),
                outcome: Conclusion::Skipped,
                conclusion: Conclusion::Skipped,
                outputs: IndexMap::new(),
            })
            .collect()
    }
}

/// `phase 3/7 execute batch 1/2 (web1 web2)`.
fn describe(phase: usize, total: usize, label: &str, context: &DeploymentContext) -> String {
    let mut shown = format!("phase {}/{total} {label}", phase + 1);
    if !context.targets.is_empty() {
        shown.push_str(&format!(" ({})", context.targets.join(" ")));
    }
    shown
}

fn internal_error(error: deploy::DeploymentMachineError) -> Driven {
    Driven {
        status: DeploymentStatus::Failure,
        reason: Some(format!("internal error: {error}")),
        rollback: None,
        interruption: None,
    }
}

async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
