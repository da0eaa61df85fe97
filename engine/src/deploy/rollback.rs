//! `slipway rollback ENV`: a run of its own with one engine-made job that puts the previous
//! version back through the environment's lane. It must not plan phases itself (the plan is
//! `deploy::rollback_plan`'s).

use deploy::{AuditAction, Deployment, DeploymentId, DeploymentStatus, LaneEntry};
use protocol::wire::WaitingFor;

use super::{DeployError, Deployments};

impl Deployments {
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
                    WaitingFor::Lane,
                    &format!("queued in the deployment lane of `{}`", environment.name),
                )
                .await?;
            self.save_lane(&lane).await?;
            record
        };
        self.advance(environment_name).await?;
        Ok(record)
    }
}

/// The job key of the one job of a `slipway rollback` run. A workflow's job ids start with a
/// letter or `_` (`workflows::parse`), and a matrix leg's key starts with its job's id, so no
/// job of a workflow can have this key: a user job named `rollback` stays a plain job.
pub(super) const ROLLBACK_JOB: &str = ":rollback";

/// Whether `job_key` is the engine's rollback job.
pub(super) fn is_rollback_job(job_key: &str) -> bool {
    job_key == ROLLBACK_JOB
}
