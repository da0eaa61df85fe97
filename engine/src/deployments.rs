//! Deployments in the engine: a job with `environment:` does not go straight to the queue. It
//! becomes a deployment record and waits (job state `waiting`) at its environment's protection
//! gate (approvals, wait timer, ref policy), then in the environment's lane (one deployment at a
//! time, FIFO across runs, paused by freeze windows). When it leaves the lane the version guard
//! is checked, the plan is made (strategy, blue-green slot, last good version), environment
//! secrets and variables are added, and the job is queued for a runner with its
//! `DeploymentAssignment`. Its result's `DeploymentReport` moves the record to success, failure
//! or rolled back (with a `rollback` record), and the lane moves on.
//!
//! The rules are `deploy`'s (pure); this module keeps their state in the store (`RecordKind`
//! trees), reads git for the version guard, and tells the engine to hold, release or conclude
//! jobs. One lock serialises every decision, so two approvals or a finish racing a tick cannot
//! both start a deployment. A restart loses nothing: every decision is written before it is
//! acted on, and `tick` re-derives what to do from the records.
//!
//! It must not speak HTTP (that is `api::environments`) nor know sled.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use deploy::wire::{DeploymentAssignment, DeploymentReport};
use deploy::{
    ApprovalKey, AuditAction, AuditEntry, Decision, Deployment, DeploymentId, DeploymentPlan,
    DeploymentSpec, DeploymentStatus, Environment, GateRequest, GateState, Lane, LaneEntry,
    Version, check_version, evaluate_gate, gate_audit, live_deployment, mark_succeeded,
    plan_deployment,
};
use jiff::Timestamp;
use protocol::wire::PhaseApproval;
use protocol::{Conclusion, JobResult, JobSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::dispatch::Engine;
use crate::store::{JobState, RecordKind, RunId, StoreError};

/// Where "now" comes from. Tests (and drills) point the engine at a file holding an RFC 3339
/// instant, so a freeze window can end without waiting for the wall clock.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    #[default]
    System,
    /// The instant written in this file, or the system time while the file is missing/empty.
    File(PathBuf),
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .unwrap_or_else(Timestamp::now),
        }
    }
}

/// What went wrong; the message names the environment, run or field at fault.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("environment `{0}` does not exist (create it with `slipway env create {0}`)")]
    UnknownEnvironment(String),
    #[error("environment `{0}` exists already (change it with `slipway env edit {0}`)")]
    EnvironmentExists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("run {run_id} has no deployment waiting for `{environment}`")]
    NothingToApprove { run_id: String, environment: String },
    #[error(transparent)]
    Approval(#[from] deploy::ApprovalError),
    #[error("nothing to roll back to in `{0}`: it has no earlier successful deployment")]
    NothingToRollBack(String),
}

/// Where approver groups (`@ops` in `--approvers`) are kept: one `deploy::Groups` record.
pub const GROUPS_KEY: &str = "groups";

/// Blue-green facts and a pending canary approval, per deployment in progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Progress {
    awaiting_approval: Option<usize>,
}

/// The deployments service; one per engine, shared (`Arc`).
pub struct Deployments {
    engine: Arc<Engine>,
    clock: Clock,
    lock: Mutex<()>,
    /// Whether any deployment may be unfinished: `tick` reads the records only then. Set when
    /// one is recorded (and on start, to look once); cleared when a look finds none.
    maybe_active: std::sync::atomic::AtomicBool,
}

pub use protocol::environments::ApprovalOutcome;

/// One environment as the API shows it: its settings and its lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentView {
    pub environment: Environment,
    pub lane: Lane,
    /// `idle`, `busy`, `frozen until …`, `ready`.
    pub lane_state: String,
}

impl Deployments {
    pub fn new(engine: Arc<Engine>, clock: Clock) -> Deployments {
        Deployments {
            engine,
            clock,
            lock: Mutex::new(()),
            maybe_active: std::sync::atomic::AtomicBool::new(true),
        }
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    // ---- environments -------------------------------------------------------------------

    pub fn environments(&self) -> Result<Vec<Environment>, DeployError> {
        Ok(self.engine.store().records(RecordKind::Environments, "")?)
    }

    pub fn environment(&self, name: &str) -> Result<Environment, DeployError> {
        self.engine
            .store()
            .record(RecordKind::Environments, name)?
            .ok_or_else(|| DeployError::UnknownEnvironment(name.to_string()))
    }

    pub fn environment_view(&self, name: &str) -> Result<EnvironmentView, DeployError> {
        let environment = self.environment(name)?;
        let lane = self.lane(name)?;
        let lane_state = describe_lane(&lane, &environment, self.now());
        Ok(EnvironmentView {
            environment,
            lane,
            lane_state,
        })
    }

    /// Creates an environment from `slipway env create` options.
    pub async fn create_environment(
        &self,
        name: &str,
        options: &[String],
    ) -> Result<Environment, DeployError> {
        check_environment_name(name)?;
        let _guard = self.lock.lock().await;
        let store = self.engine.store();
        if store
            .record::<Environment>(RecordKind::Environments, name)?
            .is_some()
        {
            return Err(DeployError::EnvironmentExists(name.to_string()));
        }
        let environment = Environment::from_args(name, options)
            .map_err(|error| DeployError::Invalid(error.to_string()))?;
        store
            .put_record(RecordKind::Environments, name, &environment)
            .await?;
        Ok(environment)
    }

    /// Applies `slipway env edit` options to an existing environment. Waiting deployments are
    /// evaluated against the new rules at once.
    pub async fn edit_environment(
        &self,
        name: &str,
        options: &[String],
    ) -> Result<Environment, DeployError> {
        let environment = {
            let _guard = self.lock.lock().await;
            let mut environment = self.environment(name)?;
            environment
                .apply_args(options)
                .map_err(|error| DeployError::Invalid(error.to_string()))?;
            self.engine
                .store()
                .put_record(RecordKind::Environments, name, &environment)
                .await?;
            environment
        };
        self.tick().await;
        Ok(environment)
    }

    /// Removes an environment that has nothing waiting or running.
    pub async fn remove_environment(&self, name: &str) -> Result<(), DeployError> {
        let _guard = self.lock.lock().await;
        self.environment(name)?;
        let lane = self.lane(name)?;
        if lane.in_progress.is_some() || !lane.queue.is_empty() {
            return Err(DeployError::Invalid(format!(
                "environment `{name}` has deployments waiting or running; cancel their runs first"
            )));
        }
        if self
            .deployments(Some(name))?
            .iter()
            .any(|deployment| deployment.status == DeploymentStatus::Waiting)
        {
            return Err(DeployError::Invalid(format!(
                "environment `{name}` has deployments waiting for approval; reject or cancel them first"
            )));
        }
        self.engine
            .store()
            .remove_record(RecordKind::Environments, name)
            .await?;
        Ok(())
    }

    // ---- approver groups ----------------------------------------------------------------

    /// Approver groups: `@name` in an environment's approvers means every member.
    pub fn groups(&self) -> Result<deploy::Groups, DeployError> {
        Ok(self
            .engine
            .store()
            .record(RecordKind::EnvironmentState, GROUPS_KEY)?
            .unwrap_or_default())
    }

    /// Sets (or replaces) a group's members; an empty list removes the group.
    pub async fn set_group(
        &self,
        name: &str,
        members: &[String],
    ) -> Result<deploy::Groups, DeployError> {
        let name = name.trim().trim_start_matches('@');
        check_environment_name(name).map_err(|_| {
            DeployError::Invalid(format!(
                "group name `{name}`: use letters, digits, `-`, `_` and `.`"
            ))
        })?;
        let mut clean: Vec<String> = Vec::new();
        for member in members.iter().flat_map(|member| member.split(',')) {
            let member = member.trim();
            if member.is_empty() {
                continue;
            }
            if member.starts_with('@') || member.chars().any(char::is_whitespace) {
                return Err(DeployError::Invalid(format!(
                    "group member `{member}`: a login, not a group or a phrase"
                )));
            }
            if !clean.iter().any(|known| known == member) {
                clean.push(member.to_string());
            }
        }
        let _guard = self.lock.lock().await;
        let mut groups = self.groups()?;
        if clean.is_empty() {
            groups.members.shift_remove(name);
        } else {
            groups.members.insert(name.to_string(), clean);
        }
        self.engine
            .store()
            .put_record(RecordKind::EnvironmentState, GROUPS_KEY, &groups)
            .await?;
        Ok(groups)
    }

    // ---- reads --------------------------------------------------------------------------

    /// Deployment records, oldest first, of one environment or all.
    pub fn deployments(&self, environment: Option<&str>) -> Result<Vec<Deployment>, DeployError> {
        let all: Vec<Deployment> = self.engine.store().records(RecordKind::Deployments, "")?;
        Ok(all
            .into_iter()
            .filter(|deployment| environment.is_none_or(|name| deployment.environment == name))
            .collect())
    }

    pub fn deployment(&self, id: &str) -> Result<Option<Deployment>, DeployError> {
        Ok(self.engine.store().record(RecordKind::Deployments, id)?)
    }

    /// The audit log, oldest first, of one environment or all.
    pub fn audit(&self, environment: Option<&str>) -> Result<Vec<AuditEntry>, DeployError> {
        let all: Vec<AuditEntry> = self.engine.store().records(RecordKind::Audit, "")?;
        Ok(all
            .into_iter()
            .filter(|entry| environment.is_none_or(|name| entry.environment == name))
            .collect())
    }

    fn lane(&self, environment: &str) -> Result<Lane, DeployError> {
        Ok(self
            .engine
            .store()
            .record(RecordKind::Lanes, environment)?
            .unwrap_or_else(|| Lane::new(environment)))
    }

    // ---- the job path -------------------------------------------------------------------

    /// A job with `environment:` is ready: record its deployment and hold it at the gate.
    /// The caller does not queue it.
    pub async fn submit(&self, run_id: RunId, spec: JobSpec) -> Result<(), DeployError> {
        let Some(target) = spec.environment.clone() else {
            self.engine.enqueue_job(run_id, spec).await?;
            return Ok(());
        };
        {
            let _guard = self.lock.lock().await;
            let now = self.now();
            let store = self.engine.store();
            // GitHub creates an environment the first time a job names it: unprotected.
            let environment =
                match store.record::<Environment>(RecordKind::Environments, &target.name)? {
                    Some(environment) => environment,
                    None => {
                        let environment = Environment::new(&target.name);
                        store
                            .put_record(RecordKind::Environments, &target.name, &environment)
                            .await?;
                        environment
                    }
                };
            if self.find_deployment(run_id, &spec.job_key)?.is_some() {
                // Recorded before a restart (the orchestrator repeats its outbox): make sure
                // the job is held too, then let the lane decide.
                if store.job_by_key(run_id, &spec.job_key)?.is_none() {
                    let reason =
                        format!("waiting for the protection rules of `{}`", environment.name);
                    self.engine.hold_job(run_id, spec, &reason).await?;
                }
            } else {
                let facts = JobFacts::of(&spec);
                let strategy = match parse_spec(&spec, &environment) {
                    Ok(parsed) => parsed.strategy,
                    Err(message) => {
                        let result = failed(format!(
                            "job `{}`: the `deployment` block is invalid: {message}",
                            spec.job_key
                        ));
                        self.engine
                            .record_finished_job(run_id, spec, result)
                            .await?;
                        return Ok(());
                    }
                };
                let id = DeploymentId(store.sortable_key()?);
                let version = facts.version(spec.checkout.as_ref().map(|c| c.repository.as_str()));
                let mut deployment = Deployment::new(
                    id.clone(),
                    &environment.name,
                    &facts.repository,
                    version,
                    &facts.git_ref,
                    &facts.actor,
                    strategy,
                    true,
                    now,
                );
                deployment.run_id = Some(run_id.to_string());
                deployment.job_key = Some(spec.job_key.clone());
                deployment.url = target
                    .url
                    .clone()
                    .filter(|url| !url.contains("${{"))
                    .or_else(|| environment.url.clone());
                let audit = deployment.audit(
                    AuditAction::DeploymentQueued,
                    &facts.actor,
                    format!("job `{}` of run {run_id}", spec.job_key),
                    now,
                );
                // The record first: a restart between the two finds it and holds the job.
                self.save_deployment(&deployment, Some(audit)).await?;
                let reason = format!("waiting for the protection rules of `{}`", environment.name);
                self.engine.hold_job(run_id, spec, &reason).await?;
            }
        }
        self.advance(&target.name).await?;
        Ok(())
    }

    /// Re-evaluates every environment with deployments waiting or queued: wait timers, freeze
    /// windows, approval expiry. The orchestrator calls this every second.
    pub async fn tick(&self) {
        use std::sync::atomic::Ordering;
        if !self.maybe_active.swap(false, Ordering::SeqCst) {
            return;
        }
        let environments: Vec<String> = match self.deployments(None) {
            Ok(deployments) => {
                let mut names: Vec<String> = deployments
                    .into_iter()
                    .filter(|deployment| !deployment.status.is_finished())
                    .map(|deployment| deployment.environment)
                    .collect();
                names.sort();
                names.dedup();
                if !names.is_empty() {
                    self.maybe_active.store(true, Ordering::SeqCst);
                }
                names
            }
            Err(error) => {
                tracing::error!(%error, "failed to read deployments");
                return;
            }
        };
        for environment in environments {
            if let Err(error) = self.advance(&environment).await {
                tracing::error!(%environment, %error, "failed to advance the deployment lane");
            }
        }
    }

    /// Moves what can move in one environment: gates that opened (or closed), then the lane.
    pub async fn advance(&self, environment_name: &str) -> Result<(), DeployError> {
        let _guard = self.lock.lock().await;
        let now = self.now();
        let Some(environment) = self
            .engine
            .store()
            .record::<Environment>(RecordKind::Environments, environment_name)?
        else {
            return Ok(());
        };
        let mut lane = self.lane(environment_name)?;
        let mut lane_changed = false;
        // 1. Gates.
        for mut deployment in self.deployments(Some(environment_name))? {
            if deployment.status != DeploymentStatus::Waiting {
                continue;
            }
            let request = self.gate_request(&deployment)?;
            let state = evaluate_gate(&environment.protection, &request, now);
            match &state {
                GateState::Waiting { reasons, .. } => {
                    let reason = if reasons.is_empty() {
                        format!("waiting for the protection rules of `{environment_name}`")
                    } else {
                        format!("{environment_name}: {}", reasons.join("; "))
                    };
                    self.set_reason(&deployment, &reason)?;
                }
                GateState::Open => {
                    deployment.approvals = request
                        .approvals
                        .iter()
                        .filter(|approval| approval.decision == Decision::Approve)
                        .cloned()
                        .collect();
                    deployment
                        .move_to(DeploymentStatus::Queued, None, now)
                        .map_err(|error| DeployError::Invalid(error.to_string()))?;
                    let position = lane
                        .enqueue(LaneEntry {
                            deployment_id: deployment.id.clone(),
                            run_id: deployment.run_id.clone(),
                            job_key: deployment.job_key.clone(),
                            version: deployment.version.clone(),
                            is_rollback: deployment.is_rollback,
                            enqueued_at: now,
                        })
                        .map_err(|error| DeployError::Invalid(error.to_string()))?;
                    lane_changed = true;
                    let audit = gate_audit(&request, &state, now);
                    self.save_deployment(&deployment, audit).await?;
                    tracing::info!(deployment = %deployment.id, environment = environment_name, position, "deployment queued in its lane");
                }
                GateState::Rejected { .. } | GateState::Refused { .. } => {
                    let why = match &state {
                        GateState::Rejected { by, comment } => match comment {
                            Some(comment) => {
                                format!("rejected by `{by}` for `{environment_name}`: {comment}")
                            }
                            None => format!("rejected by `{by}` for `{environment_name}`"),
                        },
                        GateState::Refused { reason } => reason.clone(),
                        _ => String::new(),
                    };
                    deployment
                        .move_to(DeploymentStatus::Failure, Some(why.clone()), now)
                        .map_err(|error| DeployError::Invalid(error.to_string()))?;
                    let audit = gate_audit(&request, &state, now);
                    self.save_deployment(&deployment, audit).await?;
                    self.conclude_job(&deployment, failed(why)).await?;
                }
            }
        }
        if lane_changed {
            self.save_lane(&lane).await?;
        }
        // 2. The lane.
        loop {
            if let Some(entry) = lane.in_progress.clone() {
                // A restart between recording the start and queueing the job: queue it now.
                if let Some(mut deployment) = self.deployment(&entry.deployment_id.0)?
                    && deployment.status == DeploymentStatus::InProgress
                    && self
                        .job_of(&deployment)?
                        .is_some_and(|job| job.state == JobState::Waiting)
                {
                    self.start(&environment, &mut deployment, now).await?;
                }
                self.describe_queue(&lane, &environment, now)?;
                break;
            }
            let Some(entry) = lane.next_ready(now, &environment.freeze_windows) else {
                self.describe_queue(&lane, &environment, now)?;
                break;
            };
            let Some(mut deployment) = self.deployment(&entry.deployment_id.0)? else {
                lane.finish(&entry.deployment_id).ok();
                self.save_lane(&lane).await?;
                continue;
            };
            match self.start(&environment, &mut deployment, now).await {
                Ok(true) => {
                    self.save_lane(&lane).await?;
                    break;
                }
                Ok(false) => {
                    // Refused or gone: the lane is free for the next one.
                    lane.finish(&entry.deployment_id).ok();
                    self.save_lane(&lane).await?;
                }
                Err(error) => {
                    lane.finish(&entry.deployment_id).ok();
                    self.save_lane(&lane).await?;
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// A deployment leaves the lane: version guard, plan, secrets, queue. `false` when it will
    /// not run (refused, or its job is gone).
    async fn start(
        &self,
        environment: &Environment,
        deployment: &mut Deployment,
        now: Timestamp,
    ) -> Result<bool, DeployError> {
        let store = self.engine.store();
        let (Some(run_id), Some(job_key)) = (
            deployment
                .run_id
                .as_deref()
                .and_then(|id| id.parse::<RunId>().ok()),
            deployment.job_key.clone(),
        ) else {
            return Ok(false);
        };
        let Some(job) = store.job_by_key(run_id, &job_key)? else {
            return Ok(false);
        };
        if job.state != JobState::Waiting {
            let reason = "its job is no longer waiting (cancelled)".to_string();
            deployment
                .move_to(DeploymentStatus::Failure, Some(reason), now)
                .ok();
            self.save_deployment(deployment, None).await?;
            return Ok(false);
        }
        let mut spec = self.engine.opened_spec(&job)?;
        let all = self.deployments(Some(&environment.name))?;
        let live = live_deployment(&all, &environment.name, &deployment.repository).cloned();
        let repository_path = spec
            .checkout
            .as_ref()
            .map(|checkout| PathBuf::from(&checkout.repository));
        let guard = check_version(
            &environment.name,
            live.as_ref().map(|live| &live.version),
            &deployment.version,
            deployment.is_rollback,
            |ancestor, descendant| {
                repository_path
                    .as_deref()
                    .is_some_and(|path| is_ancestor(path, ancestor, descendant))
            },
        );
        if let Err(refused) = guard {
            let reason = refused.to_string();
            deployment
                .move_to(DeploymentStatus::Failure, Some(reason.clone()), now)
                .map_err(|error| DeployError::Invalid(error.to_string()))?;
            let audit = refused.audit(&deployment.id, now);
            self.save_deployment(deployment, Some(audit)).await?;
            self.conclude_job(deployment, failed(reason)).await?;
            return Ok(false);
        }
        let parsed = match parse_spec(&spec, environment) {
            Ok(parsed) => parsed,
            Err(message) => {
                deployment
                    .move_to(DeploymentStatus::Failure, Some(message.clone()), now)
                    .ok();
                self.save_deployment(deployment, None).await?;
                self.conclude_job(deployment, failed(message)).await?;
                return Ok(false);
            }
        };
        let live_slot = live.as_ref().and_then(|live| live.slot.clone());
        let plan: DeploymentPlan = if deployment.is_rollback {
            rollback_plan(&environment.name, &parsed, deployment, live_slot.as_deref())
        } else {
            plan_deployment(
                &environment.name,
                &parsed,
                &deployment.version,
                live_slot.as_deref(),
            )
        };
        deployment.slot = plan.target_slot.clone();
        let restarting = deployment.status == DeploymentStatus::InProgress;
        spec.deployment = Some(
            DeploymentAssignment {
                deployment_id: deployment.id.0.clone(),
                plan,
                spec: parsed,
                last_good: live.map(|live| live.version),
            }
            .into(),
        );
        self.add_environment_settings(&mut spec, environment)?;
        if !restarting {
            deployment
                .move_to(DeploymentStatus::InProgress, None, now)
                .map_err(|error| DeployError::Invalid(error.to_string()))?;
        }
        let audit = deployment.audit(
            AuditAction::DeploymentStarted,
            deploy::SYSTEM_ACTOR,
            format!("{} of {}", deployment.strategy, deployment.version.label()),
            now,
        );
        self.save_deployment(deployment, Some(audit)).await?;
        self.engine.release_job(job.job_id, spec).await?;
        Ok(true)
    }

    /// A job of a run finished. When it was a deployment, record its outcome and free the
    /// lane. Called for every finished job; cheap when it is not a deployment.
    pub async fn job_finished(&self, run_id: RunId, job_key: &str, result: &JobResult) {
        // Most jobs deploy nothing: one read of the job record tells, before any scan.
        let deploys = job_key == ROLLBACK_JOB
            || result.deployment.is_some()
            || matches!(
                self.engine.store().job_by_key(run_id, job_key),
                Ok(Some(job)) if job.spec.environment.is_some()
            );
        if !deploys {
            return;
        }
        let environment = {
            let _guard = self.lock.lock().await;
            let environment = match self.record_outcome(run_id, job_key, result).await {
                Ok(environment) => environment,
                Err(error) => {
                    tracing::error!(%run_id, job_key, %error, "failed to record a deployment's outcome");
                    None
                }
            };
            if job_key == ROLLBACK_JOB {
                // A `slipway rollback` run has no scheduler: its one job decides it.
                if let Err(error) = self
                    .engine
                    .store()
                    .finish_run(run_id, result.conclusion)
                    .await
                {
                    tracing::error!(%run_id, %error, "failed to finish a rollback run");
                }
            }
            environment
        };
        if let Some(environment) = environment
            && let Err(error) = self.advance(&environment).await
        {
            tracing::error!(%environment, %error, "failed to advance the deployment lane");
        }
    }

    async fn record_outcome(
        &self,
        run_id: RunId,
        job_key: &str,
        result: &JobResult,
    ) -> Result<Option<String>, DeployError> {
        let Some(mut deployment) = self.find_deployment(run_id, job_key)? else {
            return Ok(None);
        };
        if deployment.status.is_finished() {
            return Ok(None);
        }
        let now = self.now();
        let environment = deployment.environment.clone();
        let mut lane = self.lane(&environment)?;
        if matches!(
            deployment.status,
            DeploymentStatus::Waiting | DeploymentStatus::Queued
        ) {
            // Cancelled (or concluded) before it started.
            let reason = result.failure_reason.clone().unwrap_or_else(|| {
                format!(
                    "the job ended {} before it started",
                    result.conclusion.as_str()
                )
            });
            deployment
                .move_to(DeploymentStatus::Failure, Some(reason), now)
                .map_err(|error| DeployError::Invalid(error.to_string()))?;
            lane.remove_queued(&deployment.id).ok();
            self.save_lane(&lane).await?;
            self.save_deployment(&deployment, None).await?;
            return Ok(Some(environment));
        }
        let mut all = self.deployments(Some(&environment))?;
        let before = all.clone();
        let previous_live = live_deployment(&all, &environment, &deployment.repository).cloned();
        let report: Option<DeploymentReport> =
            result.deployment.as_deref().cloned().map(Into::into);
        let report = report.as_ref();
        if let Some(report) = report {
            deployment.phases = report.phases.clone();
        }
        let mut extra: Vec<Deployment> = Vec::new();
        let mut audits = Vec::new();
        // A runner that predates deployment reports ran the steps once: a big-bang deploy.
        let status = match report {
            Some(report) => Some(report.status),
            None if result.conclusion == Conclusion::Success => Some(DeploymentStatus::Success),
            None => None,
        };
        match status {
            Some(DeploymentStatus::Success) if result.conclusion == Conclusion::Success => {
                if let Some(slot) = report.and_then(|report| report.live_slot.clone()) {
                    deployment.slot = Some(slot);
                }
                replace(&mut all, &deployment);
                mark_succeeded(&mut all, &deployment.id, now)
                    .map_err(|error| DeployError::Invalid(error.to_string()))?;
                if let Some(updated) = all.iter().find(|other| other.id == deployment.id) {
                    deployment = updated.clone();
                }
            }
            Some(DeploymentStatus::RolledBack) => {
                let reason = report
                    .and_then(|report| report.reason.clone())
                    .unwrap_or_else(|| "a check failed".to_string());
                deployment
                    .move_to(DeploymentStatus::RolledBack, Some(reason.clone()), now)
                    .map_err(|error| DeployError::Invalid(error.to_string()))?;
                audits.push(deployment.audit(
                    AuditAction::RollbackStarted,
                    deploy::SYSTEM_ACTOR,
                    reason,
                    now,
                ));
                if let (Some(rollback), Some(good)) = (
                    report.and_then(|report| report.rollback.as_ref()),
                    previous_live.as_ref(),
                ) {
                    let id = DeploymentId(self.engine.store().sortable_key()?);
                    let mut record = Deployment::rollback_of(id.clone(), &deployment, good, now);
                    record.phases = rollback.phases.clone();
                    if let Some(slot) = report.and_then(|report| report.live_slot.clone()) {
                        record.slot = Some(slot);
                    }
                    record
                        .move_to(DeploymentStatus::InProgress, None, now)
                        .map_err(|error| DeployError::Invalid(error.to_string()))?;
                    if rollback.succeeded {
                        all.push(record.clone());
                        mark_succeeded(&mut all, &id, now)
                            .map_err(|error| DeployError::Invalid(error.to_string()))?;
                    } else {
                        record
                            .move_to(
                                DeploymentStatus::Failure,
                                Some(
                                    rollback
                                        .reason
                                        .clone()
                                        .unwrap_or_else(|| "the rollback failed".into()),
                                ),
                                now,
                            )
                            .map_err(|error| DeployError::Invalid(error.to_string()))?;
                        extra.push(record);
                    }
                }
            }
            _ => {
                let reason = report
                    .and_then(|report| report.reason.clone())
                    .or_else(|| result.failure_reason.clone())
                    .unwrap_or_else(|| {
                        format!("the deployment job ended {}", result.conclusion.as_str())
                    });
                deployment
                    .move_to(DeploymentStatus::Failure, Some(reason), now)
                    .map_err(|error| DeployError::Invalid(error.to_string()))?;
            }
        }
        extra.extend(
            all.iter()
                .filter(|other| other.id != deployment.id && !before.contains(other))
                .cloned(),
        );
        audits.push(deployment.audit(
            AuditAction::DeploymentFinished,
            deploy::SYSTEM_ACTOR,
            deployment.status.as_str(),
            now,
        ));
        lane.finish(&deployment.id).ok();
        let store = self.engine.store();
        let mut items = vec![
            (
                RecordKind::Deployments,
                deployment.id.0.clone(),
                crate::store::Store::encode_record(&deployment),
            ),
            (
                RecordKind::Lanes,
                environment.clone(),
                crate::store::Store::encode_record(&lane),
            ),
        ];
        for other in &extra {
            if other.id != deployment.id {
                items.push((
                    RecordKind::Deployments,
                    other.id.0.clone(),
                    crate::store::Store::encode_record(other),
                ));
            }
        }
        for entry in &audits {
            items.push((
                RecordKind::Audit,
                store.sortable_key()?,
                crate::store::Store::encode_record(entry),
            ));
        }
        store.put_records(&items).await?;
        Ok(Some(environment))
    }

    // ---- approvals ----------------------------------------------------------------------

    /// Records an approver's decision on run `run_id` for `environment`: the protection gate
    /// when the run waits there, else the canary approval phase its deployment waits at.
    pub async fn decide(
        &self,
        run_id: RunId,
        environment_name: &str,
        approver: &str,
        decision: Decision,
        comment: Option<String>,
    ) -> Result<ApprovalOutcome, DeployError> {
        let outcome = {
            let _guard = self.lock.lock().await;
            let now = self.now();
            let environment = self.environment(environment_name)?;
            let run_text = run_id.to_string();
            let mine: Vec<Deployment> = self
                .deployments(Some(environment_name))?
                .into_iter()
                .filter(|deployment| deployment.run_id.as_deref() == Some(run_text.as_str()))
                .collect();
            if let Some(waiting) = mine
                .iter()
                .find(|deployment| deployment.status == DeploymentStatus::Waiting)
            {
                let request = self.gate_request(waiting)?;
                let (approval, audit) = deploy::approve(
                    &environment.protection,
                    &self.groups()?,
                    &request,
                    approver,
                    decision,
                    comment,
                    now,
                )?;
                let key = approvals_key(&run_text, environment_name);
                let mut approvals = request.approvals.clone();
                approvals.push(approval);
                let store = self.engine.store();
                store
                    .put_records(&[
                        (
                            RecordKind::Approvals,
                            key,
                            crate::store::Store::encode_record(&approvals),
                        ),
                        (
                            RecordKind::Audit,
                            store.sortable_key()?,
                            crate::store::Store::encode_record(&audit),
                        ),
                    ])
                    .await?;
                let after = GateRequest {
                    approvals,
                    ..request
                };
                let state = evaluate_gate(&environment.protection, &after, now);
                let (effect, message) = match &state {
                    GateState::Open => (
                        "opened",
                        format!("run {run_text} may deploy to `{environment_name}` now"),
                    ),
                    GateState::Rejected { .. } => (
                        "rejected",
                        format!("run {run_text} will not deploy to `{environment_name}`"),
                    ),
                    GateState::Waiting { reasons, .. } => (
                        "recorded",
                        format!("recorded; still {}", reasons.join("; ")),
                    ),
                    GateState::Refused { reason } => ("rejected", reason.clone()),
                };
                ApprovalOutcome {
                    environment: environment_name.to_string(),
                    run_id: run_text.clone(),
                    effect: effect.to_string(),
                    message,
                }
            } else if let Some(running) = mine
                .iter()
                .find(|deployment| deployment.status == DeploymentStatus::InProgress)
            {
                let progress: Progress = self
                    .engine
                    .store()
                    .record(RecordKind::EnvironmentState, &progress_key(&running.id))?
                    .unwrap_or_default();
                let Some(phase) = progress.awaiting_approval else {
                    return Err(DeployError::NothingToApprove {
                        run_id: run_text,
                        environment: environment_name.to_string(),
                    });
                };
                let request = GateRequest {
                    key: ApprovalKey::for_run(run_text.clone(), environment_name),
                    actor: running.triggered_by.clone(),
                    git_ref: running.git_ref.clone(),
                    approvals: Vec::new(),
                    waiting_since: running.created_at,
                };
                // A canary phase is approved by the environment's approvers, like the gate.
                let mut protection = environment.protection.clone();
                protection.required_approvals = protection.required_approvals.max(1);
                protection.branches.clear();
                protection.tags.clear();
                if protection.approvers.is_empty() {
                    protection
                        .approvers
                        .push(deploy::Approver::User(approver.to_string()));
                }
                let (approval, audit) = deploy::approve(
                    &protection,
                    &self.groups()?,
                    &request,
                    approver,
                    decision,
                    comment,
                    now,
                )?;
                let store = self.engine.store();
                store
                    .put_records(&[
                        (
                            RecordKind::Approvals,
                            phase_key(&running.id, phase),
                            crate::store::Store::encode_record(&vec![approval]),
                        ),
                        (
                            RecordKind::Audit,
                            store.sortable_key()?,
                            crate::store::Store::encode_record(&audit),
                        ),
                    ])
                    .await?;
                ApprovalOutcome {
                    environment: environment_name.to_string(),
                    run_id: run_text.clone(),
                    effect: "phase".to_string(),
                    message: format!(
                        "phase {} of deployment {} {}",
                        phase + 1,
                        running.id,
                        if decision == Decision::Approve {
                            "approved"
                        } else {
                            "rejected"
                        }
                    ),
                }
            } else {
                return Err(DeployError::NothingToApprove {
                    run_id: run_text,
                    environment: environment_name.to_string(),
                });
            }
        };
        self.advance(environment_name).await?;
        Ok(outcome)
    }

    /// A runner's progress report on a deployment it runs: phases so far, and the canary
    /// approval it waits at (answered from the recorded decisions).
    pub async fn progress(
        &self,
        deployment_id: &str,
        phases: Vec<deploy::PhaseRecord>,
        awaiting_approval: Option<usize>,
    ) -> Result<Option<PhaseApproval>, DeployError> {
        let _guard = self.lock.lock().await;
        let Some(mut deployment) = self.deployment(deployment_id)? else {
            return Err(DeployError::Invalid(format!(
                "no deployment `{deployment_id}`"
            )));
        };
        if deployment.status != DeploymentStatus::InProgress {
            return Err(DeployError::Invalid(format!(
                "deployment `{deployment_id}` is {}, not in progress",
                deployment.status
            )));
        }
        let store = self.engine.store();
        let progress = Progress { awaiting_approval };
        let mut items = vec![(
            RecordKind::EnvironmentState,
            progress_key(&deployment.id),
            crate::store::Store::encode_record(&progress),
        )];
        if deployment.phases != phases {
            deployment.phases = phases;
            deployment.updated_at = self.now();
            items.push((
                RecordKind::Deployments,
                deployment.id.0.clone(),
                crate::store::Store::encode_record(&deployment),
            ));
        }
        store.put_records(&items).await?;
        let Some(phase) = awaiting_approval else {
            return Ok(None);
        };
        let decided: Vec<deploy::Approval> = store
            .record(RecordKind::Approvals, &phase_key(&deployment.id, phase))?
            .unwrap_or_default();
        Ok(Some(match decided.last() {
            None => PhaseApproval::Pending,
            Some(approval) if approval.decision == Decision::Approve => PhaseApproval::Granted {
                by: approval.approver.clone(),
            },
            Some(approval) => PhaseApproval::Rejected {
                by: approval.approver.clone(),
                comment: approval.comment.clone(),
            },
        }))
    }

    /// `slipway rollback ENV`: puts the version live before the current one back. Blue-green
    /// switches traffic back to the kept slot (nothing is redeployed); the other strategies
    /// redeploy that version with the steps of the job that deployed it. It runs as a run of
    /// its own with one job, through the environment's lane (after what is queued), without
    /// approvals (an explicit rollback by an admin) and past the version guard.
    pub async fn rollback(
        &self,
        environment_name: &str,
        actor: &str,
    ) -> Result<Deployment, DeployError> {
        let record = {
            let _guard = self.lock.lock().await;
            let now = self.now();
            let environment = self.environment(environment_name)?;
            let all = self.deployments(Some(environment_name))?;
            let finished =
                |deployment: &&Deployment| deployment.finished_at.unwrap_or(deployment.updated_at);
            let live = all
                .iter()
                .filter(|deployment| deployment.status == DeploymentStatus::Success)
                .max_by_key(finished)
                .ok_or_else(|| DeployError::NothingToRollBack(environment_name.to_string()))?;
            let previous = all
                .iter()
                .filter(|deployment| {
                    deployment.status == DeploymentStatus::Inactive
                        && deployment.repository == live.repository
                        && deployment.version.sha != live.version.sha
                })
                .max_by_key(finished)
                .ok_or_else(|| DeployError::NothingToRollBack(environment_name.to_string()))?;
            let job = self.job_of(previous)?.ok_or_else(|| {
                DeployError::Invalid(format!(
                    "the job that deployed {} to `{environment_name}` is gone from the store",
                    previous.version.label()
                ))
            })?;
            let mut spec = self.engine.opened_spec(&job)?;
            let details = serde_json::json!({
                "event": "rollback",
                "ref": previous.git_ref,
                "sha": previous.version.sha,
                "actor": actor,
                "environment": environment_name,
                "attempt": 1,
            });
            let run = self
                .engine
                .create_run(&format!("rollback {environment_name}"), details)
                .await?;
            spec.run_id = run.run_id.to_string();
            spec.job_key = ROLLBACK_JOB.to_string();
            spec.display_name = format!(
                "roll {environment_name} back to {}",
                previous.version.label()
            );
            spec.deployment = None;
            let id = DeploymentId(self.engine.store().sortable_key()?);
            let mut record = Deployment::rollback_of(id, live, previous, now);
            record.triggered_by = actor.to_string();
            record.run_id = Some(run.run_id.to_string());
            record.job_key = Some(ROLLBACK_JOB.to_string());
            record.status_reason = Some(format!(
                "rollback of {} ({}) to {} asked by `{actor}`",
                live.id,
                live.version.label(),
                previous.version.label()
            ));
            let mut lane = self.lane(environment_name)?;
            lane.enqueue(LaneEntry {
                deployment_id: record.id.clone(),
                run_id: record.run_id.clone(),
                job_key: record.job_key.clone(),
                version: record.version.clone(),
                is_rollback: true,
                enqueued_at: now,
            })
            .map_err(|error| DeployError::Invalid(error.to_string()))?;
            let audit = record.audit(
                AuditAction::RollbackStarted,
                actor,
                record.status_reason.clone().unwrap_or_default(),
                now,
            );
            self.save_deployment(&record, Some(audit)).await?;
            self.engine
                .hold_job(
                    run.run_id,
                    spec,
                    &format!("queued in the deployment lane of `{}`", environment.name),
                )
                .await?;
            self.save_lane(&lane).await?;
            record
        };
        self.advance(environment_name).await?;
        Ok(record)
    }

    // ---- helpers ------------------------------------------------------------------------

    fn gate_request(&self, deployment: &Deployment) -> Result<GateRequest, DeployError> {
        let run_id = deployment.run_id.clone().unwrap_or_default();
        let approvals: Vec<deploy::Approval> = self
            .engine
            .store()
            .record(
                RecordKind::Approvals,
                &approvals_key(&run_id, &deployment.environment),
            )?
            .unwrap_or_default();
        Ok(GateRequest {
            key: ApprovalKey::for_run(run_id, deployment.environment.clone()),
            actor: deployment.triggered_by.clone(),
            git_ref: deployment.git_ref.clone(),
            approvals,
            waiting_since: deployment.created_at,
        })
    }

    fn find_deployment(
        &self,
        run_id: RunId,
        job_key: &str,
    ) -> Result<Option<Deployment>, DeployError> {
        let run_text = run_id.to_string();
        let mine: Vec<Deployment> = self
            .deployments(None)?
            .into_iter()
            .filter(|deployment| {
                deployment.run_id.as_deref() == Some(run_text.as_str())
                    && deployment.job_key.as_deref() == Some(job_key)
            })
            .collect();
        // The one still going; else the job's own record (not the rollback it caused).
        Ok(mine
            .iter()
            .rev()
            .find(|deployment| !deployment.status.is_finished())
            .or_else(|| mine.iter().rev().find(|deployment| !deployment.is_rollback))
            .cloned())
    }

    async fn save_deployment(
        &self,
        deployment: &Deployment,
        audit: Option<AuditEntry>,
    ) -> Result<(), DeployError> {
        if !deployment.status.is_finished() {
            self.maybe_active
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        let store = self.engine.store();
        let mut items = vec![(
            RecordKind::Deployments,
            deployment.id.0.clone(),
            crate::store::Store::encode_record(deployment),
        )];
        if let Some(entry) = audit {
            items.push((
                RecordKind::Audit,
                store.sortable_key()?,
                crate::store::Store::encode_record(&entry),
            ));
        }
        store.put_records(&items).await?;
        Ok(())
    }

    async fn save_lane(&self, lane: &Lane) -> Result<(), DeployError> {
        self.engine
            .store()
            .put_record(RecordKind::Lanes, &lane.environment, lane)
            .await?;
        Ok(())
    }

    fn set_reason(&self, deployment: &Deployment, reason: &str) -> Result<(), DeployError> {
        if let Some(job) = self.job_of(deployment)? {
            self.engine.store().set_waiting_reason(job.job_id, reason)?;
        }
        Ok(())
    }

    /// Tells each queued job of the lane where it stands.
    fn describe_queue(
        &self,
        lane: &Lane,
        environment: &Environment,
        now: Timestamp,
    ) -> Result<(), DeployError> {
        let frozen = deploy::frozen_at(&environment.freeze_windows, now);
        for (index, entry) in lane.queue.iter().enumerate() {
            let Some(deployment) = self.deployment(&entry.deployment_id.0)? else {
                continue;
            };
            let reason = match &frozen {
                Some(freeze) => format!(
                    "`{}` is frozen until {} ({}); position {} in its lane",
                    environment.name,
                    freeze
                        .until
                        .map(|until| until.to_string())
                        .unwrap_or_else(|| "further notice".into()),
                    freeze.window.as_str(),
                    index + 1
                ),
                None => format!(
                    "queued in the deployment lane of `{}`, position {} (behind {})",
                    environment.name,
                    index + 1,
                    lane.in_progress
                        .as_ref()
                        .map(|entry| entry.deployment_id.0.clone())
                        .unwrap_or_else(|| "nothing".into())
                ),
            };
            self.set_reason(&deployment, &reason)?;
        }
        Ok(())
    }

    fn job_of(
        &self,
        deployment: &Deployment,
    ) -> Result<Option<crate::store::JobRecord>, DeployError> {
        let (Some(run_id), Some(job_key)) = (
            deployment
                .run_id
                .as_deref()
                .and_then(|id| id.parse::<RunId>().ok()),
            deployment.job_key.as_deref(),
        ) else {
            return Ok(None);
        };
        Ok(self.engine.store().job_by_key(run_id, job_key)?)
    }

    async fn conclude_job(
        &self,
        deployment: &Deployment,
        result: JobResult,
    ) -> Result<(), DeployError> {
        if let Some(job) = self.job_of(deployment)? {
            self.engine.conclude_waiting_job(job.job_id, result).await?;
        }
        Ok(())
    }

    /// Environment variables overlay the `vars` context; environment secrets the job's
    /// templates name are added (they reach a job only once its gate has opened).
    fn add_environment_settings(
        &self,
        spec: &mut JobSpec,
        environment: &Environment,
    ) -> Result<(), DeployError> {
        let scope = format!("env:{}", environment.name);
        let mut variables: Vec<(String, String)> = environment
            .variables
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        if let Ok(stored) = self.engine.store().variables(Some(&scope)) {
            variables.extend(stored.into_iter().map(|record| (record.name, record.value)));
        }
        if !variables.is_empty() {
            let vars = spec
                .contexts
                .entry("vars".to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            if !vars.is_object() {
                *vars = Value::Object(Default::default());
            }
            if let Value::Object(map) = vars {
                for (name, value) in variables {
                    map.insert(name, Value::String(value));
                }
            }
        }
        let secrets = self.engine.environment_secrets(&scope).map_err(|error| {
            DeployError::Invalid(format!(
                "environment `{}` secrets: {error}",
                environment.name
            ))
        })?;
        if !secrets.is_empty() {
            let text = serde_json::to_string(&(
                &spec.steps,
                &spec.env,
                &spec.outputs,
                &spec.deployment_block,
            ))
            .unwrap_or_default()
            .to_ascii_lowercase();
            let whole = text.contains("tojson(secrets)") || text.contains("secrets[");
            for (name, value) in secrets {
                let lower = name.to_ascii_lowercase();
                if whole || text.contains(&format!("secrets.{lower}")) {
                    spec.secrets.insert(name, value);
                }
            }
        }
        Ok(())
    }
}

/// Who, what and where, read from the job's `github` context.
struct JobFacts {
    actor: String,
    git_ref: String,
    sha: String,
    repository: String,
}

impl JobFacts {
    fn of(spec: &JobSpec) -> JobFacts {
        let github = spec.contexts.get("github");
        let text = |key: &str| {
            github
                .and_then(|github| github.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        JobFacts {
            actor: text("actor"),
            git_ref: text("ref"),
            sha: text("sha"),
            repository: text("repository"),
        }
    }

    fn version(&self, repository_path: Option<&str>) -> Version {
        let mut version = Version::new(&self.sha);
        version.tag = self.git_ref.strip_prefix("refs/tags/").map(str::to_string);
        version.committed_at =
            repository_path.and_then(|path| commit_time(Path::new(path), &self.sha));
        version
    }
}

/// The job key of the one job of a `slipway rollback` run.
const ROLLBACK_JOB: &str = "rollback";

/// The plan of an explicit rollback: blue-green switches back to the slot that still holds
/// the version (then verifies); the others redeploy it (`deploy::plan_rollback`).
fn rollback_plan(
    environment: &str,
    spec: &DeploymentSpec,
    deployment: &Deployment,
    live_slot: Option<&str>,
) -> DeploymentPlan {
    let to_slot = deployment.slot.clone();
    match (spec.strategy, to_slot) {
        (deploy::StrategyKind::BlueGreen, Some(to_slot)) if live_slot != Some(to_slot.as_str()) => {
            let context = |activity| deploy::DeploymentContext {
                environment: environment.to_string(),
                strategy: spec.strategy,
                targets: spec.targets.clone(),
                batch: None,
                batches: None,
                slot: Some(to_slot.clone()),
                weight: None,
                phase: activity,
                version: deployment.version.clone(),
                is_rollback: true,
            };
            let mut phases = vec![deploy::PlannedPhase {
                index: 0,
                activity: deploy::Activity::Switch,
                label: format!("switch back to {to_slot}"),
                command: spec.switch.clone(),
                pause: None,
                context: context(deploy::Activity::Switch),
            }];
            if let Some(verify) = &spec.verify {
                phases.push(deploy::PlannedPhase {
                    index: phases.len(),
                    activity: deploy::Activity::Verify,
                    label: format!("verify {to_slot}"),
                    command: Some(verify.clone()),
                    pause: None,
                    context: context(deploy::Activity::Verify),
                });
            }
            phases.push(deploy::PlannedPhase {
                index: phases.len(),
                activity: deploy::Activity::Confirm,
                label: "confirm".into(),
                command: None,
                pause: None,
                context: context(deploy::Activity::Confirm),
            });
            DeploymentPlan {
                environment: environment.to_string(),
                strategy: spec.strategy,
                version: deployment.version.clone(),
                live_slot: live_slot.map(str::to_string),
                target_slot: Some(to_slot),
                is_rollback: true,
                phases,
            }
        }
        _ => deploy::plan_rollback(environment, spec, &deployment.version),
    }
}

fn parse_spec(spec: &JobSpec, environment: &Environment) -> Result<DeploymentSpec, String> {
    let block = spec.deployment_block.clone().unwrap_or(Value::Null);
    DeploymentSpec::parse(&block, environment.default_strategy).map_err(|error| error.to_string())
}

fn failed(reason: String) -> JobResult {
    JobResult {
        conclusion: Conclusion::Failure,
        outputs: Default::default(),
        steps: Vec::new(),
        summary: String::new(),
        failure_reason: Some(reason),
        deployment: None,
    }
}

fn replace(all: &mut [Deployment], deployment: &Deployment) {
    if let Some(slot) = all.iter_mut().find(|other| other.id == deployment.id) {
        *slot = deployment.clone();
    }
}

fn approvals_key(run_id: &str, environment: &str) -> String {
    format!("run:{run_id}:{environment}")
}

fn phase_key(deployment: &DeploymentId, phase: usize) -> String {
    format!("phase:{}:{phase}", deployment.0)
}

fn progress_key(deployment: &DeploymentId) -> String {
    format!("progress:{}", deployment.0)
}

fn check_environment_name(name: &str) -> Result<(), DeployError> {
    let valid = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(())
    } else {
        Err(DeployError::Invalid(format!(
            "environment name `{name}`: use letters, digits, `-`, `_` and `.` (at most 255)"
        )))
    }
}

/// How the lane stands, for people.
fn describe_lane(lane: &Lane, environment: &Environment, now: Timestamp) -> String {
    match lane.status(now, &environment.freeze_windows) {
        deploy::LaneStatus::Idle => "idle".to_string(),
        deploy::LaneStatus::Busy {
            deployment_id,
            queued,
        } => {
            format!("deploying {deployment_id}, {queued} queued")
        }
        deploy::LaneStatus::Frozen { freeze, queued } => format!(
            "frozen until {} ({}), {queued} queued",
            freeze
                .until
                .map(|until| until.to_string())
                .unwrap_or_else(|| "further notice".into()),
            freeze.window.as_str()
        ),
        deploy::LaneStatus::Ready { next, queued } => {
            format!("ready to start {next}, {queued} queued")
        }
    }
}

/// Whether `ancestor` is an ancestor of `descendant` in the repository at `path`.
fn is_ancestor(path: &Path, ancestor: &str, descendant: &str) -> bool {
    let Ok(repository) = git2::Repository::open(path) else {
        return false;
    };
    let (Ok(ancestor), Ok(descendant)) = (
        git2::Oid::from_str(ancestor),
        git2::Oid::from_str(descendant),
    ) else {
        return false;
    };
    repository
        .graph_descendant_of(descendant, ancestor)
        .unwrap_or(false)
}

fn commit_time(path: &Path, sha: &str) -> Option<Timestamp> {
    let repository = git2::Repository::open(path).ok()?;
    let commit = repository
        .find_commit(git2::Oid::from_str(sha).ok()?)
        .ok()?;
    Timestamp::from_second(commit.time().seconds()).ok()
}
