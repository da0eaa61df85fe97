//! Release plans in the engine: making a plan (`slipway release plan`), pausing, resuming and
//! halting it, and the ticker that gives each stage when its time comes and the release gate
//! passes. Plans live in the release record (`Release::plans`), so a restart loses nothing and
//! the ticker re-derives what is due from the records and the engine's clock (`Clock`, a file
//! in tests). What is due and what a stage means is `deploy::plan`'s.
//!
//! A due stage meets the same gate as `release promote`: the category's policy, freeze windows,
//! approvals (a promotion waiting for approval is recorded as pending and given when approved).
//! Why a stage waits is kept in the plan (`waiting`) and audited once per reason, not per tick.
//!
//! A plan may carry a check (`--check workflow:FILE`): when a stage is due and its freeze and
//! category gate allow it, the engine dispatches that workflow at the release's tag and gives
//! the stage (through the gate) only after the run concluded `success`. A failed check holds
//! the stage, says so in the plan and the audit log, and the next tick starts another run.
//!
//! This module must not serve HTTP (`api::releases` does) nor know sled.

use std::sync::Arc;
use std::time::Duration;

use std::path::PathBuf;

use deploy::{
    AuditAction, AuditEntry, AuditSubject, CategoryGate, CheckRun, PlanCheck, PlanState, PlanStep,
    PromotionRequest, Release, ReleaseError, ReleasePlan, category_gate, parse_stages,
};
use git2::Oid;
use jiff::Timestamp;
use protocol::Conclusion;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use workflows::filters::TriggerEvent;

use super::{
    Located, ReleaseChange, ReleaseServiceError, Releases, approvals_key, check_actor, check_tag,
    refused,
};
use crate::repos::RunStarter;
use crate::repos::triggers::{ChangedPaths, Mirror, RepoEvent, decide};
use crate::store::{RecordKind, RepoRecord, RunId, RunStatus};

/// `release plan`.
#[derive(Debug, Clone, Default)]
pub struct PlanRelease {
    /// The tag of the release to plan, e.g. `v1.4.0`.
    pub tag: String,
    /// The watched repository's name; default: whichever one has a release of that tag.
    pub repo: Option<String>,
    /// The environment the plan rolls the release out in, e.g. `production`.
    pub environment: String,
    /// `AUDIENCE@WHEN` texts, in order.
    pub stages: Vec<String>,
    /// `workflow:FILE`: a workflow that must succeed before each stage is given.
    pub check: Option<String>,
    /// The login of the user making the plan, recorded in the audit log.
    pub planned_by: String,
}

/// `release pause|resume|halt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanControl {
    /// Stop giving stages (the current audience stays) until the plan is resumed.
    Pause,
    /// Make a paused plan active again, so the ticker gives its due stages.
    Resume,
    /// Stop for good; the audience stays at the last stage given, or is withdrawn
    /// (`to_nobody`).
    Halt {
        /// Withdraw the release from the environment instead of keeping the last audience.
        to_nobody: bool,
    },
}

/// How often the ticker looks for due stages.
const TICK: Duration = Duration::from_millis(500);

impl Releases {
    /// Makes (or replaces) the plan of a release in an environment. Fires nothing by itself:
    /// the ticker gives each stage when it is due.
    pub async fn plan(
        &self,
        request: PlanRelease,
        now: Timestamp,
    ) -> Result<ReleaseChange, ReleaseServiceError> {
        check_tag(&request.tag)?;
        check_actor("planned_by", &request.planned_by)?;
        let stages =
            parse_stages(&request.stages, now).map_err(|error| ReleaseServiceError::Invalid {
                field: "stages",
                message: error.to_string(),
            })?;
        let check = request
            .check
            .as_deref()
            .filter(|text| !text.trim().is_empty())
            .map(PlanCheck::parse)
            .transpose()
            .map_err(|message| ReleaseServiceError::Invalid {
                field: "check",
                message,
            })?;
        let _guard = self.lock.lock().await;
        let Located { mut release, .. } = self.locate(&request.tag, request.repo.as_deref())?;
        let environment = self.environment(&request.environment)?;
        let plan = ReleasePlan::new(
            environment.name.clone(),
            stages,
            request.planned_by.clone(),
            now,
        )
        .with_check(check);
        let mut summary: Vec<String> = plan
            .stages
            .iter()
            .map(|stage| format!("{} at {}", stage.audience, stage.at))
            .collect();
        if let Some(check) = &plan.check {
            summary.push(format!("each after check {check}"));
        }
        let replaced = release.plans.contains_key(&environment.name);
        release.plans.insert(environment.name.clone(), plan);
        let message = format!(
            "{} planned in {}: {}",
            release.tag,
            environment.name,
            summary.join(", ")
        );
        let audit = plan_audit(
            &release,
            &environment.name,
            &request.planned_by,
            if replaced {
                format!("replanned: {}", summary.join(", "))
            } else {
                format!("planned: {}", summary.join(", "))
            },
            now,
        );
        self.save(&release, &[&audit]).await?;
        Ok(ReleaseChange {
            state: "planned".into(),
            message,
            release,
            actions: Vec::new(),
            runs: Vec::new(),
        })
    }

    /// Pauses, resumes or halts a release's plan in an environment.
    #[allow(clippy::too_many_arguments)]
    pub async fn control_plan(
        &self,
        tag: &str,
        repo: Option<&str>,
        environment: &str,
        control: PlanControl,
        actor: &str,
        starter: &dyn RunStarter,
        now: Timestamp,
    ) -> Result<ReleaseChange, ReleaseServiceError> {
        check_tag(tag)?;
        check_actor("actor", actor)?;
        let _guard = self.lock.lock().await;
        let Located { mut release, repo } = self.locate(tag, repo)?;
        let Some(plan) = release.plans.get_mut(environment) else {
            return Err(ReleaseServiceError::Refused(format!(
                "release `{tag}` has no plan in `{environment}` (make one with `slipway release plan {tag} --env {environment} --stage …`)"
            )));
        };
        let (from, to) = match (control, plan.state) {
            (PlanControl::Pause, PlanState::Active) => (plan.state, PlanState::Paused),
            (PlanControl::Resume, PlanState::Paused) => (plan.state, PlanState::Active),
            (PlanControl::Halt { .. }, PlanState::Active | PlanState::Paused) => {
                (plan.state, PlanState::Halted)
            }
            (control, state) => {
                return Err(ReleaseServiceError::Refused(format!(
                    "the plan of `{tag}` in `{environment}` is {state}: it cannot be {}",
                    match control {
                        PlanControl::Pause => "paused",
                        PlanControl::Resume => "resumed",
                        PlanControl::Halt { .. } => "halted",
                    }
                )));
            }
        };
        plan.state = to;
        plan.waiting = None;
        let mut audits = vec![plan_audit(
            &release,
            environment,
            actor,
            format!("plan {from} → {to}"),
            now,
        )];
        let mut events = Vec::new();
        let mut message = format!("the plan of {tag} in {environment} is {to}");
        if let PlanControl::Halt { to_nobody } = control {
            // A promotion the plan asked for and that waits goes with it.
            release.pending.shift_remove(environment);
            if to_nobody && release.rollouts.contains_key(environment) {
                let outcome = deploy::withdraw(
                    &mut release,
                    environment,
                    actor,
                    Some("plan halted".into()),
                    now,
                )
                .map_err(refused)?;
                audits.push(outcome.audit);
                events = outcome.events;
                message.push_str("; withdrawn from everyone");
            } else if let Some(rollout) = release.rollouts.get(environment) {
                message.push_str(&format!("; stays released to {}", rollout.audience));
            }
        }
        let audit_refs: Vec<&AuditEntry> = audits.iter().collect();
        self.save(&release, &audit_refs).await?;
        let actions = events.iter().map(|event| event.action).collect();
        let runs = self.fire(starter, &repo, &release, events).await;
        Ok(ReleaseChange {
            state: to.as_str().into(),
            message,
            release,
            actions,
            runs,
        })
    }

    /// Gives every due stage whose gate passes (one pass over the plans).
    pub async fn tick_plans(&self, starter: &dyn RunStarter, now: Timestamp) {
        if let Err(error) = self.try_tick_plans(starter, now).await {
            tracing::error!(%error, "release plans not advanced");
        }
    }

    /// Starts the ticker: every half second, [`Releases::tick_plans`] at the engine clock's now,
    /// until `stop`.
    pub fn spawn_plan_ticker(
        self: Arc<Self>,
        starter: Arc<dyn RunStarter>,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(TICK);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    // Several replicas: the one driving runs advances the plans.
                    _ = ticks.tick(), if self.engine.drives() => {
                        let now = self.engine.config().clock.now();
                        self.tick_plans(starter.as_ref(), now).await;
                    }
                    _ = stop.cancelled() => return,
                }
            }
        })
    }

    async fn try_tick_plans(
        &self,
        starter: &dyn RunStarter,
        now: Timestamp,
    ) -> Result<(), ReleaseServiceError> {
        let releases: Vec<Release> = self.engine.store().records(RecordKind::Releases, "")?;
        let due: Vec<(String, Option<String>, String)> = releases
            .iter()
            .flat_map(|release| {
                release
                    .plans
                    .iter()
                    .filter(move |(_, plan)| plan.step(now) != PlanStep::Wait)
                    .map(move |(environment, _)| {
                        (
                            release.tag.clone(),
                            release.repository.clone(),
                            environment.clone(),
                        )
                    })
            })
            .map(|(tag, repository, environment)| (tag, Some(repository), environment))
            .collect();
        for (tag, repository, environment) in due {
            self.advance(&tag, repository.as_deref(), &environment, starter, now)
                .await?;
        }
        Ok(())
    }

    /// One due stage of one plan: given, or the reason it waits recorded.
    async fn advance(
        &self,
        tag: &str,
        repository: Option<&str>,
        environment_name: &str,
        starter: &dyn RunStarter,
        now: Timestamp,
    ) -> Result<(), ReleaseServiceError> {
        let _guard = self.lock.lock().await;
        let Some(mut release) = repository
            .map(|repository| super::release_key(repository, tag))
            .map(|key| {
                self.engine
                    .store()
                    .record::<Release>(RecordKind::Releases, &key)
            })
            .transpose()?
            .flatten()
        else {
            return Ok(());
        };
        let Some(plan) = release.plans.get(environment_name).cloned() else {
            return Ok(());
        };
        let PlanStep::Give { stage, skipped } = plan.step(now) else {
            return Ok(());
        };
        let Some(audience) = plan.stages.get(stage).map(|stage| stage.audience.clone()) else {
            return Ok(());
        };
        let environment = self.environment(environment_name)?;
        // Given already (an approval completed the promotion): the stage is reached.
        let current = release
            .rollouts
            .get(environment_name)
            .map(|rollout| rollout.audience.clone());
        if current.as_ref() == Some(&audience) {
            let audit = self.mark_reached(&mut release, environment_name, stage, &skipped, now);
            return self.save(&release, &[&audit]).await;
        }
        if let CategoryGate::Closed(reason) | CategoryGate::Refused(reason) =
            category_gate(&environment, release.category, now)
        {
            return self.wait(release, environment_name, reason, now).await;
        }
        // The plan's check (a canary analysis, say) must pass before the promotion is asked.
        if let Some(check) = plan.check.clone()
            && let Err(reason) = self
                .check_stage(&mut release, environment_name, stage, &check, starter, now)
                .await?
        {
            return self.wait(release, environment_name, reason, now).await;
        }
        let approvals: Vec<deploy::Approval> = self
            .engine
            .store()
            .record(RecordKind::Approvals, &approvals_key(tag, environment_name))?
            .unwrap_or_default();
        let requested_at = release
            .pending
            .get(environment_name)
            .filter(|pending| pending.audience == audience)
            .map_or(now, |pending| pending.requested_at);
        let request = PromotionRequest {
            environment: environment_name.to_string(),
            audience: audience.clone(),
            requested_by: plan.planned_by.clone(),
            requested_at,
            approvals,
        };
        let deployments: Vec<deploy::Deployment> =
            self.engine.store().records(RecordKind::Deployments, "")?;
        match deploy::promote(&mut release, &environment, &request, &deployments, now) {
            Ok(outcome) => {
                let reached =
                    self.mark_reached(&mut release, environment_name, stage, &skipped, now);
                self.save(&release, &[&outcome.audit, &reached]).await?;
                self.engine
                    .store()
                    .remove_record(RecordKind::Approvals, &approvals_key(tag, environment_name))
                    .await?;
                let Located { repo, .. } = self.locate_in(tag, &release.repository)?;
                self.fire(starter, &repo, &release, outcome.events).await;
                Ok(())
            }
            Err(ReleaseError::Unchanged { .. }) => {
                let audit = self.mark_reached(&mut release, environment_name, stage, &skipped, now);
                self.save(&release, &[&audit]).await
            }
            Err(error @ ReleaseError::AwaitingApproval { .. }) => {
                if release
                    .pending
                    .get(environment_name)
                    .map(|pending| &pending.audience)
                    != Some(&audience)
                {
                    let mut pending = request;
                    pending.approvals = Vec::new();
                    release
                        .pending
                        .insert(environment_name.to_string(), pending);
                }
                self.wait(release, environment_name, error.to_string(), now)
                    .await
            }
            Err(error) => {
                self.wait(release, environment_name, error.to_string(), now)
                    .await
            }
        }
    }

    /// Where the check of a due stage stands: `Ok(())` once a check run of this stage passed,
    /// else why the stage waits. Starts a check run when none runs for the stage; a failed
    /// run is forgotten, so the next tick starts another.
    async fn check_stage(
        &self,
        release: &mut Release,
        environment: &str,
        stage: usize,
        check: &PlanCheck,
        starter: &dyn RunStarter,
        now: Timestamp,
    ) -> Result<Result<(), String>, ReleaseServiceError> {
        let current = release
            .plans
            .get(environment)
            .and_then(|plan| plan.check_run.clone())
            .filter(|run| run.stage == stage);
        if let Some(run) = current {
            if run.passed {
                return Ok(Ok(()));
            }
            let record = run
                .run_id
                .parse::<RunId>()
                .ok()
                .map(|run_id| self.engine.store().run(run_id))
                .transpose()?
                .flatten();
            let (status, conclusion) = match &record {
                Some(record) => (record.status, record.conclusion),
                None => (RunStatus::Completed, None),
            };
            if status != RunStatus::Completed {
                return Ok(Err(format!(
                    "check {check} of stage {} runs (run {})",
                    stage + 1,
                    run.run_id
                )));
            }
            let plan = release.plans.get_mut(environment);
            if conclusion == Some(Conclusion::Success) {
                if let Some(plan) = plan
                    && let Some(run) = plan.check_run.as_mut()
                {
                    run.passed = true;
                }
                let actor = deploy::SYSTEM_ACTOR;
                let audit = plan_audit(
                    release,
                    environment,
                    actor,
                    format!(
                        "check {check} of stage {} passed (run {})",
                        stage + 1,
                        run.run_id
                    ),
                    now,
                );
                self.save(release, &[&audit]).await?;
                return Ok(Ok(()));
            }
            if let Some(plan) = plan {
                plan.check_run = None;
            }
            return Ok(Err(format!(
                "check {check} of stage {} failed (run {} concluded {}); it runs again on the next tick",
                stage + 1,
                run.run_id,
                conclusion.map_or("nothing (the run is gone)", Conclusion::as_str)
            )));
        }
        let Located { repo, .. } = self.locate_in(&release.tag, &release.repository)?;
        match self.start_check(starter, &repo, release, check).await {
            Ok(run_id) => {
                if let Some(plan) = release.plans.get_mut(environment) {
                    plan.check_run = Some(CheckRun {
                        stage,
                        run_id: run_id.clone(),
                        started_at: now,
                        passed: false,
                    });
                }
                Ok(Err(format!(
                    "check {check} of stage {} runs (run {run_id})",
                    stage + 1
                )))
            }
            Err(reason) => Ok(Err(format!(
                "check {check} of stage {} cannot start: {reason}",
                stage + 1
            ))),
        }
    }

    /// Dispatches the check workflow at the release's tag (`workflow_dispatch`, as the planner
    /// would); its run id, or why it did not start.
    async fn start_check(
        &self,
        starter: &dyn RunStarter,
        repo: &RepoRecord,
        release: &Release,
        check: &PlanCheck,
    ) -> Result<String, String> {
        let path = PathBuf::from(&repo.mirror_path);
        let sha = release.sha.clone();
        let git_ref = format!("refs/tags/{}", release.tag);
        let trigger_ref = git_ref.clone();
        let decided = super::blocking(move || {
            let oid = Oid::from_str(&sha).map_err(|error| {
                ReleaseServiceError::Git(format!("release commit `{sha}`: {error}"))
            })?;
            let mirror = Mirror::open(&path).map_err(super::git_error)?;
            let files = mirror.workflows_at(oid).map_err(super::git_error)?;
            let trigger = TriggerEvent {
                name: "workflow_dispatch".into(),
                action: None,
                git_ref: Some(trigger_ref),
                changed_paths: None,
            };
            Ok((oid, decide(&files, &trigger)))
        })
        .await;
        let (oid, decisions) = decided.map_err(|error| error.to_string())?;
        let wanted = format!(".github/workflows/{}", check.workflow);
        let Some(decision) = decisions
            .into_iter()
            .find(|decision| decision.file == wanted || decision.file == check.workflow)
        else {
            return Err(format!(
                "`{wanted}` is not in {} at `{}`",
                release.repository, release.tag
            ));
        };
        if decision.invalid {
            return Err(format!("`{wanted}` has errors: {}", decision.reason));
        }
        if !decision.triggers {
            return Err(format!(
                "`{wanted}` does not run on `workflow_dispatch` ({})",
                decision.reason
            ));
        }
        let event = RepoEvent {
            name: "workflow_dispatch".into(),
            git_ref: git_ref.clone(),
            sha: Some(oid),
            payload: json!({
                "ref": git_ref,
                "inputs": {},
                "workflow": wanted,
                "sender": crate::runs::event::sender_json(deploy::SYSTEM_ACTOR),
            }),
            changed_paths: ChangedPaths::Unknown {
                reason: "`workflow_dispatch` events have no changed files".into(),
            },
        };
        let started = starter.start_runs(repo, event, vec![decision]).await?;
        started
            .first()
            .map(ToString::to_string)
            .ok_or_else(|| "no run was started".to_string())
    }

    /// Records why the due stage waits (saved and audited only when the reason changes).
    async fn wait(
        &self,
        mut release: Release,
        environment: &str,
        reason: String,
        now: Timestamp,
    ) -> Result<(), ReleaseServiceError> {
        let Some(plan) = release.plans.get_mut(environment) else {
            return Ok(());
        };
        if plan.waiting.as_deref() == Some(reason.as_str()) {
            return Ok(());
        }
        plan.waiting = Some(reason.clone());
        let actor = plan.planned_by.clone();
        let audit = plan_audit(
            &release,
            environment,
            &actor,
            format!("waits: {reason}"),
            now,
        );
        self.save(&release, &[&audit]).await
    }

    /// Marks a stage reached in the release's plan; the audit entry saying so.
    fn mark_reached(
        &self,
        release: &mut Release,
        environment: &str,
        stage: usize,
        skipped: &[usize],
        now: Timestamp,
    ) -> AuditEntry {
        let mut reason = format!("stage {} reached", stage + 1);
        if let Some(plan) = release.plans.get_mut(environment) {
            plan.reached(stage, skipped, now);
            if !skipped.is_empty() {
                let numbers: Vec<String> = skipped
                    .iter()
                    .map(|index| (index + 1).to_string())
                    .collect();
                reason.push_str(&format!(
                    " (stage(s) {} missed while the engine was down: skipped)",
                    numbers.join(", ")
                ));
            }
            if plan.state == PlanState::Done {
                reason.push_str("; plan done");
            }
        }
        plan_audit(release, environment, deploy::SYSTEM_ACTOR, reason, now)
    }

    /// The release `tag` of the watched repository whose `owner/name` is `repository`.
    fn locate_in(&self, tag: &str, repository: &str) -> Result<Located, ReleaseServiceError> {
        for repo in self.engine.store().repos()? {
            if super::full_name(&repo)? == repository {
                return self.locate(tag, Some(&repo.name));
            }
        }
        Err(ReleaseServiceError::Invalid {
            field: "repo",
            message: format!("`{repository}` is no longer watched"),
        })
    }
}

fn plan_audit(
    release: &Release,
    environment: &str,
    actor: &str,
    reason: String,
    now: Timestamp,
) -> AuditEntry {
    AuditEntry::new(
        now,
        actor,
        AuditAction::ReleasePlanChanged,
        environment,
        AuditSubject::Release {
            tag: release.tag.clone(),
        },
        reason,
    )
}
