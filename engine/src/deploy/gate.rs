//! The protection gate: a job with `environment:` becomes a deployment record and waits for its
//! environment's approvals, wait timer and ref rules; approvers' decisions are recorded here
//! (a decision on a running canary goes to `canary`). It must not start deployments (that is
//! `lane`).

use std::path::PathBuf;

use deploy::{
    ApprovalKey, AuditAction, Decision, Deployment, DeploymentId, DeploymentStatus, Environment,
    GateRequest, GateState, evaluate_gate,
};
use protocol::JobSpec;
use protocol::wire::WaitingFor;

use super::git;
use super::job::{JobFacts, parse_spec};
use super::records::failed;
use super::{ApprovalOutcome, DeployError, Deployments};
use crate::store::{RecordKind, RunId};

impl Deployments {
    /// A job with `environment:` is ready: record its deployment and hold it at the gate.
    /// The caller does not queue it.
    pub async fn submit(&self, run_id: RunId, spec: JobSpec) -> Result<(), DeployError> {
        let Some(target) = spec.environment.clone() else {
            self.engine.enqueue_job(run_id, spec).await?;
            return Ok(());
        };
        // git2 blocks: the commit's time is read on a blocking thread before the lock is taken.
        let facts = JobFacts::of(&spec);
        let committed_at = git::commit_time(
            spec.checkout
                .as_ref()
                .map(|checkout| PathBuf::from(&checkout.repository)),
            &facts.sha,
        )
        .await;
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
                    self.engine
                        .hold_job(run_id, spec, WaitingFor::Gate, &reason)
                        .await?;
                }
            } else {
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
                let version = facts.version(committed_at);
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
                self.engine
                    .hold_job(run_id, spec, WaitingFor::Gate, &reason)
                    .await?;
            }
        }
        self.advance(&target.name).await?;
        Ok(())
    }

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
                self.decide_phase(&environment, running, approver, decision, comment, now)
                    .await?
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

    pub(super) fn gate_request(&self, deployment: &Deployment) -> Result<GateRequest, DeployError> {
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
}

fn approvals_key(run_id: &str, environment: &str) -> String {
    format!("run:{run_id}:{environment}")
}
