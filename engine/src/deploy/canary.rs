//! Canary approval phases of a deployment in progress: the runner reports its progress and asks
//! whether the phase it waits at was approved; approvers' decisions on it are recorded here
//! under the canary approval policy (`deploy::phase_protection`). It must not touch the gate of
//! a deployment still waiting to start (that is `gate`).

use deploy::{
    ApprovalKey, Decision, Deployment, DeploymentId, DeploymentStatus, Environment, GateRequest,
};
use jiff::Timestamp;
use protocol::wire::PhaseApproval;
use serde::{Deserialize, Serialize};

use super::{ApprovalOutcome, DeployError, Deployments};
use crate::store::RecordKind;

/// Blue-green facts and a pending canary approval, per deployment in progress.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Progress {
    awaiting_approval: Option<usize>,
}

impl Deployments {
    /// Records `approver`'s decision on the canary approval phase `running` waits at.
    pub(super) async fn decide_phase(
        &self,
        environment: &Environment,
        running: &Deployment,
        approver: &str,
        decision: Decision,
        comment: Option<String>,
        now: Timestamp,
    ) -> Result<ApprovalOutcome, DeployError> {
        let environment_name = environment.name.as_str();
        let run_text = running.run_id.clone().unwrap_or_default();
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
        let protection = deploy::phase_protection(&environment.protection, approver);
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
        let verdict = if decision == Decision::Approve {
            "approved"
        } else {
            "rejected"
        };
        Ok(ApprovalOutcome {
            environment: environment_name.to_string(),
            run_id: run_text,
            effect: "phase".to_string(),
            message: format!("phase {} of deployment {} {verdict}", phase + 1, running.id),
        })
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
}

fn phase_key(deployment: &DeploymentId, phase: usize) -> String {
    format!("phase:{}:{phase}", deployment.0)
}

fn progress_key(deployment: &DeploymentId) -> String {
    format!("progress:{}", deployment.0)
}
