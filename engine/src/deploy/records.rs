//! Reading and writing the deployment records, lanes and audit entries, and finding the job a
//! deployment belongs to. Plain store access for the other parts; no decisions are made here.

use deploy::{AuditEntry, Deployment, Lane};
use protocol::JobResult;
use protocol::wire::WaitingFor;

use super::{DeployError, Deployments};
use crate::store::{RecordKind, RunId};

impl Deployments {
    /// Deployment records, oldest first, of one environment or all.
    pub fn deployments(&self, environment: Option<&str>) -> Result<Vec<Deployment>, DeployError> {
        let all: Vec<Deployment> = self.engine.store().records(RecordKind::Deployments, "")?;
        Ok(all
            .into_iter()
            .filter(|deployment| environment.is_none_or(|name| deployment.environment == name))
            .collect())
    }

    /// The deployment record with this id, or `None` when there is none.
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

    pub(super) fn lane(&self, environment: &str) -> Result<Lane, DeployError> {
        Ok(self
            .engine
            .store()
            .record(RecordKind::Lanes, environment)?
            .unwrap_or_else(|| Lane::new(environment)))
    }

    pub(super) fn find_deployment(
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

    pub(super) async fn save_deployment(
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

    pub(super) async fn save_lane(&self, lane: &Lane) -> Result<(), DeployError> {
        self.engine
            .store()
            .put_record(RecordKind::Lanes, &lane.environment, lane)
            .await?;
        Ok(())
    }

    pub(super) fn set_reason(
        &self,
        deployment: &Deployment,
        waiting_for: WaitingFor,
        reason: &str,
    ) -> Result<(), DeployError> {
        if let Some(job) = self.job_of(deployment)? {
            self.engine
                .store()
                .set_waiting_reason(job.job_id, waiting_for, reason)?;
        }
        Ok(())
    }

    pub(super) fn job_of(
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

    pub(super) async fn conclude_job(
        &self,
        deployment: &Deployment,
        result: JobResult,
    ) -> Result<(), DeployError> {
        if let Some(job) = self.job_of(deployment)? {
            self.engine.conclude_waiting_job(job.job_id, result).await?;
        }
        Ok(())
    }
}

pub(super) fn failed(reason: String) -> JobResult {
    JobResult::failed(reason)
}
