//! Settlement of a finished deployment job: the engine side of `deploy::settle` — it reads the
//! records, asks the rule what the outcome means, writes the result in one batch and frees the
//! lane. It must not decide the outcome itself.

use deploy::{DeploymentId, FinishedJob, LaneMove, ReportedDeployment, ReportedRollback};
use protocol::{Conclusion, JobResult};

use super::rollback::is_rollback_job;
use super::{DeployError, Deployments};
use crate::store::{RecordKind, RunId};

impl Deployments {
    /// A job of a run finished. When it was a deployment, record its outcome and free the
    /// lane. Called for every finished job; cheap when it is not a deployment.
    pub async fn job_finished(&self, run_id: RunId, job_key: &str, result: &JobResult) {
        // Most jobs deploy nothing: one read of the job record tells, before any scan.
        let deploys = is_rollback_job(job_key)
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
            if is_rollback_job(job_key) {
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

    /// Settles the deployment of `job_key` (the rule is `deploy::settle`) and writes the
    /// records, audit entries and lane in one batch. Returns the environment to advance.
    pub(super) async fn record_outcome(
        &self,
        run_id: RunId,
        job_key: &str,
        result: &JobResult,
    ) -> Result<Option<String>, DeployError> {
        let Some(deployment) = self.find_deployment(run_id, job_key)? else {
            return Ok(None);
        };
        if deployment.status.is_finished() {
            return Ok(None);
        }
        let now = self.now();
        let environment = deployment.environment.clone();
        let store = self.engine.store();
        let report: Option<deploy::wire::DeploymentReport> =
            result.deployment.as_deref().cloned().map(Into::into);
        let report = report.as_ref();
        let rollback_id = match report.and_then(|report| report.rollback.as_ref()) {
            Some(_) => Some(DeploymentId(store.sortable_key()?)),
            None => None,
        };
        let finished = FinishedJob {
            succeeded: result.conclusion == Conclusion::Success,
            conclusion: result.conclusion.as_str(),
            failure_reason: result.failure_reason.as_deref(),
            report: report.map(|report| ReportedDeployment {
                status: report.status,
                reason: report.reason.as_deref(),
                phases: &report.phases,
                live_slot: report.live_slot.as_deref(),
                rollback: report.rollback.as_ref().map(|rollback| ReportedRollback {
                    succeeded: rollback.succeeded,
                    reason: rollback.reason.as_deref(),
                    phases: &rollback.phases,
                }),
            }),
        };
        let all = self.deployments(Some(&environment))?;
        let Some(settlement) = deploy::settle(&deployment, &all, &finished, rollback_id, now)
            .map_err(|error| DeployError::Invalid(error.to_string()))?
        else {
            return Ok(None);
        };
        let mut lane = self.lane(&environment)?;
        match settlement.lane {
            LaneMove::RemoveQueued => lane.remove_queued(&settlement.deployment.id).ok(),
            LaneMove::Finish => lane.finish(&settlement.deployment.id).ok(),
        };
        let mut items = vec![
            (
                RecordKind::Deployments,
                settlement.deployment.id.0.clone(),
                crate::store::Store::encode_record(&settlement.deployment),
            ),
            (
                RecordKind::Lanes,
                environment.clone(),
                crate::store::Store::encode_record(&lane),
            ),
        ];
        for other in &settlement.others {
            items.push((
                RecordKind::Deployments,
                other.id.0.clone(),
                crate::store::Store::encode_record(other),
            ));
        }
        for entry in &settlement.audits {
            items.push((
                RecordKind::Audit,
                store.sortable_key()?,
                crate::store::Store::encode_record(entry),
            ));
        }
        store.put_records(&items).await?;
        Ok(Some(environment))
    }
}
