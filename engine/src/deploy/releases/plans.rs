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
//! This module must not serve HTTP (`api::releases` does) nor know sled.

use std::sync::Arc;
use std::time::Duration;

use deploy::{
    AuditAction, AuditEntry, AuditSubject, CategoryGate, PlanState, PlanStep, PromotionRequest,
    Release, ReleaseError, ReleasePlan, category_gate, parse_stages,
};
use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use super::{
    Located, ReleaseChange, ReleaseServiceError, Releases, approvals_key, check_actor, check_tag,
    refused,
};
use crate::repos::RunStarter;
use crate::store::RecordKind;

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
        let _guard = self.lock.lock().await;
        let Located { mut release, .. } = self.locate(&request.tag, request.repo.as_deref())?;
        let environment = self.environment(&request.environment)?;
        let plan = ReleasePlan::new(
            environment.name.clone(),
            stages,
            request.planned_by.clone(),
            now,
        );
        let summary: Vec<String> = plan
            .stages
            .iter()
            .map(|stage| format!("{} at {}", stage.audience, stage.at))
            .collect();
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
                    _ = ticks.tick() => {
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
