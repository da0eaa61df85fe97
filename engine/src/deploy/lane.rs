//! The environment's lane: re-evaluating gates and freeze windows every tick, starting the next
//! deployment (version guard, plan, environment settings) and telling queued jobs where they
//! stand. It must not record outcomes (that is `settle`).

use std::path::PathBuf;

use deploy::wire::DeploymentAssignment;
use deploy::{
    AuditAction, Decision, Deployment, DeploymentPlan, DeploymentStatus, Environment, GateState,
    Lane, LaneEntry, check_version, evaluate_gate, gate_audit, live_deployment, plan_deployment,
};
use jiff::Timestamp;
use protocol::wire::WaitingFor;

use super::git::Ancestry;
use super::job::parse_spec;
use super::records::failed;
use super::{DeployError, Deployments};
use crate::store::{JobState, RecordKind, RunId};

impl Deployments {
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
                GateState::Waiting {
                    reasons,
                    missing_approvals,
                    ..
                } => {
                    let reason = if reasons.is_empty() {
                        format!("waiting for the protection rules of `{environment_name}`")
                    } else {
                        format!("{environment_name}: {}", reasons.join("; "))
                    };
                    let waiting_for = if *missing_approvals > 0 {
                        WaitingFor::Approval
                    } else {
                        WaitingFor::WaitTimer
                    };
                    self.set_reason(&deployment, waiting_for, &reason)?;
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
    pub(super) async fn start(
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
        // git2 blocks: the ancestry the guard may ask about is read on a blocking thread.
        let ancestry = match &live {
            Some(live) => {
                Ancestry::read(repository_path, &live.version.sha, &deployment.version.sha).await
            }
            None => Ancestry::default(),
        };
        let guard = check_version(
            &environment.name,
            live.as_ref().map(|live| &live.version),
            &deployment.version,
            deployment.is_rollback,
            |ancestor, descendant| ancestry.is_ancestor(ancestor, descendant),
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
            deploy::rollback_plan(
                &environment.name,
                &parsed,
                &deployment.version,
                deployment.slot.as_deref(),
                live_slot.as_deref(),
            )
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

    /// Tells each queued job of the lane where it stands.
    pub(super) fn describe_queue(
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
            let waiting_for = if frozen.is_some() {
                WaitingFor::Freeze
            } else {
                WaitingFor::Lane
            };
            self.set_reason(&deployment, waiting_for, &reason)?;
        }
        Ok(())
    }
}
