//! Running a deployment plan: a pure state machine `(state, event, now) → actions`, like the
//! job scheduler. The caller carries out each action (runs the job's steps or a hook with the
//! phase's `deployment` context, switches the live slot, starts a timer, asks approvers) and
//! reports back with an event.
//!
//! When a check fails after something changed, the machine asks for a rollback to the last good
//! version: blue-green switches straight back to the old slot (no redeploy); the other
//! strategies redeploy the last good version (see `strategy::plan_rollback`), recorded as a
//! deployment labelled rollback. A failure before anything changed (the target check, or a
//! blue-green slot that failed before the switch) fails the deployment with nothing to undo. A
//! rollback that fails is not rolled back again.
//!
//! This module reads no clock and does no I/O.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::record::{DeploymentId, DeploymentStatus, Version};
use super::strategy::{Activity, DeploymentContext, DeploymentPlan, PlannedPhase};

/// One deployment being carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentMachine {
    /// The id of the deployment this machine carries out.
    pub deployment_id: DeploymentId,
    /// The phases to run, in order, with the strategy, version and slots they work on.
    pub plan: DeploymentPlan,
    /// The version live before this deployment started: what a rollback restores.
    pub last_good: Option<Version>,
    /// Where the deployment stands.
    pub state: DeploymentState,
    /// Whether an execute phase has started (the environment may have changed).
    pub changed: bool,
    /// Blue-green: whether the switch has started (traffic may be on the new slot).
    pub switched: bool,
}

/// Where a deployment stands in its plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum DeploymentState {
    /// Created; `DeploymentEvent::Start` not received yet.
    NotStarted,
    /// The caller is running phase `phase` (a `StartPhase` or `SwitchSlot` action).
    Running {
        /// The index of the phase in `plan.phases`.
        phase: usize,
    },
    /// A canary pause runs until `until`.
    Pausing {
        /// The index of the pause phase in `plan.phases`.
        phase: usize,
        /// When the pause ends.
        until: Timestamp,
    },
    /// A canary approval is awaited.
    AwaitingApproval {
        /// The index of the approval phase in `plan.phases`.
        phase: usize,
    },
    /// The deployment is over: succeeded, failed or rolled back.
    Finished {
        /// How the deployment ended.
        status: DeploymentStatus,
        /// Why it ended so, for a failure or rollback; `None` on success.
        reason: Option<String>,
    },
}

/// What the caller reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DeploymentEvent {
    /// The deployment begins: the first phase starts.
    Start,
    /// The phase the caller was running succeeded.
    PhaseSucceeded {
        /// The index of the phase in `plan.phases`.
        phase: usize,
    },
    /// The phase the caller was running failed: a rollback or failure follows.
    PhaseFailed {
        /// The index of the phase in `plan.phases`.
        phase: usize,
        /// What failed, in words (e.g. the failing step or hook).
        reason: String,
    },
    /// An approver let the canary go on to its next weight.
    ApprovalGranted {
        /// The index of the approval phase in `plan.phases`.
        phase: usize,
        /// The approver's login.
        by: String,
    },
    /// An approver stopped the canary: the deployment fails and is rolled back.
    ApprovalRejected {
        /// The index of the approval phase in `plan.phases`.
        phase: usize,
        /// The approver's login.
        by: String,
        /// The approver's comment, if they left one.
        comment: Option<String>,
    },
    /// The time asked for by `WaitUntil` has come.
    PauseElapsed {
        /// The index of the pause phase in `plan.phases`.
        phase: usize,
    },
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum DeploymentAction {
    /// Run the job's steps (execute) or the phase's hook with `context` as `deployment`.
    StartPhase {
        /// The index of the phase in `plan.phases`.
        phase: usize,
        /// What the phase does (execute, verify, acceptance test…).
        activity: Activity,
        /// The phase for people, e.g. `execute batch 1/2`.
        label: String,
        /// The hook to run (`verify`, `acceptance`); `None` runs the job's steps.
        command: Option<String>,
        /// The `deployment` context the steps or hook see.
        context: DeploymentContext,
    },
    /// Move traffic to slot `to` (run `command` when configured), record `to` as the live slot.
    SwitchSlot {
        /// The index of the switch phase in `plan.phases`.
        phase: usize,
        /// The slot live before the switch; `None` on the first deployment.
        from: Option<String>,
        /// The slot traffic moves to, e.g. `green`.
        to: String,
        /// The `switch` hook to run, when the environment configures one.
        command: Option<String>,
        /// The `deployment` context the hook sees.
        context: DeploymentContext,
    },
    /// Report `PauseElapsed` at `until`.
    WaitUntil {
        /// The index of the pause phase in `plan.phases`.
        phase: usize,
        /// When to report `PauseElapsed`.
        until: Timestamp,
    },
    /// Ask the environment's approvers; report `ApprovalGranted` / `ApprovalRejected`.
    AwaitApproval {
        /// The index of the approval phase in `plan.phases`.
        phase: usize,
        /// The phase for people, e.g. `canary 10%`, to show the approvers.
        label: String,
    },
    /// Restore `to_version`: switch back to its slot, or redeploy it as a rollback deployment.
    RollBack {
        /// The last good version, live before this deployment started.
        to_version: Version,
        /// How to restore it: switch back to its slot, or redeploy it.
        mode: RollbackMode,
        /// What failed and caused the rollback, in words.
        reason: String,
    },
    /// The deployment is over with `status`.
    Complete {
        /// How the deployment ended.
        status: DeploymentStatus,
        /// Why it ended so, for a failure or rollback; `None` on success.
        reason: Option<String>,
    },
}

/// How a failed deployment restores the last good version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RollbackMode {
    /// Blue-green: traffic goes back to the old slot at once; nothing is redeployed.
    SwitchBack {
        /// The slot the last good version is live in, e.g. `blue`.
        to_slot: String,
    },
    /// Redeploy the last good version (`strategy::plan_rollback`).
    Redeploy,
}

/// An event that does not fit the state (a stale or duplicated report).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("deployment `{deployment_id}` cannot take {event} while {state}")]
pub struct DeploymentMachineError {
    /// The id of the deployment the event was for.
    pub deployment_id: String,
    /// The event refused, in words.
    pub event: String,
    /// The state the deployment was in, in words.
    pub state: String,
}

impl DeploymentMachine {
    /// A machine for deployment `deployment_id` that has not started; `last_good` is what a
    /// rollback restores (`None`: nothing to roll back to).
    pub fn new(
        deployment_id: DeploymentId,
        plan: DeploymentPlan,
        last_good: Option<Version>,
    ) -> DeploymentMachine {
        DeploymentMachine {
            deployment_id,
            plan,
            last_good,
            state: DeploymentState::NotStarted,
            changed: false,
            switched: false,
        }
    }

    /// Feeds one event in and returns the actions to carry out.
    pub fn handle(
        &mut self,
        event: DeploymentEvent,
        now: Timestamp,
    ) -> Result<Vec<DeploymentAction>, DeploymentMachineError> {
        match (&self.state, &event) {
            (DeploymentState::NotStarted, DeploymentEvent::Start) => Ok(self.enter(0, now)),
            (
                DeploymentState::Running { phase },
                DeploymentEvent::PhaseSucceeded { phase: reported },
            ) if phase == reported => Ok(self.enter(phase + 1, now)),
            (
                DeploymentState::Running { phase },
                DeploymentEvent::PhaseFailed {
                    phase: reported,
                    reason,
                },
            ) if phase == reported => {
                let label = self.label(*phase);
                Ok(self.fail(format!("{label} failed: {reason}")))
            }
            (
                DeploymentState::Pausing { phase, until },
                DeploymentEvent::PauseElapsed { phase: reported },
            ) if phase == reported && now >= *until => Ok(self.enter(phase + 1, now)),
            (
                DeploymentState::AwaitingApproval { phase },
                DeploymentEvent::ApprovalGranted {
                    phase: reported, ..
                },
            ) if phase == reported => Ok(self.enter(phase + 1, now)),
            (
                DeploymentState::AwaitingApproval { phase },
                DeploymentEvent::ApprovalRejected {
                    phase: reported,
                    by,
                    comment,
                },
            ) if phase == reported => {
                let label = self.label(*phase);
                let why = match comment {
                    Some(comment) => format!("{label} rejected by `{by}`: {comment}"),
                    None => format!("{label} rejected by `{by}`"),
                };
                Ok(self.fail(why))
            }
            _ => Err(DeploymentMachineError {
                deployment_id: self.deployment_id.0.clone(),
                event: describe_event(&event),
                state: describe_state(&self.state),
            }),
        }
    }

    /// The phase in progress, if any.
    pub fn current_phase(&self) -> Option<&PlannedPhase> {
        match &self.state {
            DeploymentState::Running { phase }
            | DeploymentState::Pausing { phase, .. }
            | DeploymentState::AwaitingApproval { phase } => self.plan.phases.get(*phase),
            DeploymentState::NotStarted | DeploymentState::Finished { .. } => None,
        }
    }

    /// Whether the deployment is over (`DeploymentState::Finished`).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, DeploymentState::Finished { .. })
    }

    /// Starts phase `index` (or completes when it is `confirm` or past the end).
    fn enter(&mut self, index: usize, now: Timestamp) -> Vec<DeploymentAction> {
        let Some(phase) = self.plan.phases.get(index).cloned() else {
            return self.finish(DeploymentStatus::Success, None);
        };
        match phase.activity {
            Activity::Confirm => self.finish(DeploymentStatus::Success, None),
            Activity::Pause => {
                let until = phase.pause.unwrap_or_default().after(now);
                self.state = DeploymentState::Pausing {
                    phase: index,
                    until,
                };
                vec![DeploymentAction::WaitUntil {
                    phase: index,
                    until,
                }]
            }
            Activity::Approval => {
                self.state = DeploymentState::AwaitingApproval { phase: index };
                vec![DeploymentAction::AwaitApproval {
                    phase: index,
                    label: phase.label,
                }]
            }
            Activity::Switch => {
                self.state = DeploymentState::Running { phase: index };
                self.switched = true;
                vec![DeploymentAction::SwitchSlot {
                    phase: index,
                    from: self.plan.live_slot.clone(),
                    to: phase.context.slot.clone().unwrap_or_default(),
                    command: phase.command,
                    context: phase.context,
                }]
            }
            Activity::VerifyTarget
            | Activity::Execute
            | Activity::Verify
            | Activity::AcceptanceTest => {
                self.state = DeploymentState::Running { phase: index };
                if phase.activity == Activity::Execute {
                    self.changed = true;
                }
                vec![DeploymentAction::StartPhase {
                    phase: index,
                    activity: phase.activity,
                    label: phase.label,
                    command: phase.command,
                    context: phase.context,
                }]
            }
        }
    }

    /// A check failed: roll back if something changed and there is something to go back to.
    fn fail(&mut self, reason: String) -> Vec<DeploymentAction> {
        if self.plan.is_rollback {
            return self.finish(
                DeploymentStatus::Failure,
                Some(format!("rollback failed: {reason}")),
            );
        }
        if self.switched {
            // Blue-green after the switch began: the old slot still has the old version.
            return match (&self.plan.live_slot, &self.last_good) {
                (Some(old_slot), Some(good)) => {
                    let mut actions = vec![DeploymentAction::RollBack {
                        to_version: good.clone(),
                        mode: RollbackMode::SwitchBack {
                            to_slot: old_slot.clone(),
                        },
                        reason: reason.clone(),
                    }];
                    actions.extend(self.finish(DeploymentStatus::RolledBack, Some(reason)));
                    actions
                }
                _ => self.finish(
                    DeploymentStatus::Failure,
                    Some(format!("{reason}; no earlier slot to switch back to")),
                ),
            };
        }
        if !self.changed || self.plan.strategy == super::spec::StrategyKind::BlueGreen {
            // Nothing users see has changed (blue-green before the switch only touched the idle slot).
            return self.finish(DeploymentStatus::Failure, Some(reason));
        }
        match self.last_good.clone() {
            Some(good) => {
                let mut actions = vec![DeploymentAction::RollBack {
                    to_version: good,
                    mode: RollbackMode::Redeploy,
                    reason: reason.clone(),
                }];
                actions.extend(self.finish(DeploymentStatus::RolledBack, Some(reason)));
                actions
            }
            None => self.finish(
                DeploymentStatus::Failure,
                Some(format!("{reason}; no earlier version to roll back to")),
            ),
        }
    }

    fn finish(
        &mut self,
        status: DeploymentStatus,
        reason: Option<String>,
    ) -> Vec<DeploymentAction> {
        self.state = DeploymentState::Finished {
            status,
            reason: reason.clone(),
        };
        vec![DeploymentAction::Complete { status, reason }]
    }

    fn label(&self, index: usize) -> String {
        self.plan
            .phases
            .get(index)
            .map(|phase| phase.label.clone())
            .unwrap_or_else(|| format!("phase {index}"))
    }
}

// ---------------------------------------------------------------------------------------------

fn describe_event(event: &DeploymentEvent) -> String {
    match event {
        DeploymentEvent::Start => "start".to_string(),
        DeploymentEvent::PhaseSucceeded { phase } => format!("success of phase {phase}"),
        DeploymentEvent::PhaseFailed { phase, .. } => format!("failure of phase {phase}"),
        DeploymentEvent::ApprovalGranted { phase, .. } => format!("an approval of phase {phase}"),
        DeploymentEvent::ApprovalRejected { phase, .. } => format!("a rejection of phase {phase}"),
        DeploymentEvent::PauseElapsed { phase } => format!("the end of the pause of phase {phase}"),
    }
}

fn describe_state(state: &DeploymentState) -> String {
    match state {
        DeploymentState::NotStarted => "not started".to_string(),
        DeploymentState::Running { phase } => format!("running phase {phase}"),
        DeploymentState::Pausing { phase, until } => {
            format!("pausing in phase {phase} until {until}")
        }
        DeploymentState::AwaitingApproval { phase } => {
            format!("awaiting approval in phase {phase}")
        }
        DeploymentState::Finished { status, .. } => format!("finished ({status})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DeploymentSpec;
    use crate::strategy::{plan_deployment, plan_rollback};
    use serde_json::{Value, json};

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    const NOW: &str = "2026-03-04T10:00:00Z";

    fn run(block: Value, live_slot: Option<&str>, last_good: Option<&str>) -> DeploymentMachine {
        let spec = DeploymentSpec::parse(&block, None).unwrap();
        let plan = plan_deployment("production", &spec, &Version::new("new"), live_slot);
        DeploymentMachine::new(DeploymentId("d2".into()), plan, last_good.map(Version::new))
    }

    /// A compact view of actions: `run execute batch 1/2`, `switch green`, `wait …`, `approval`,
    /// `rollback switch-back blue`, `complete success`.
    fn view(actions: &[DeploymentAction]) -> Vec<String> {
        actions
            .iter()
            .map(|action| match action {
                DeploymentAction::StartPhase { label, .. } => format!("run {label}"),
                DeploymentAction::SwitchSlot { to, .. } => format!("switch {to}"),
                DeploymentAction::WaitUntil { until, .. } => format!("wait {until}"),
                DeploymentAction::AwaitApproval { label, .. } => format!("ask {label}"),
                DeploymentAction::RollBack {
                    to_version, mode, ..
                } => match mode {
                    RollbackMode::SwitchBack { to_slot } => {
                        format!("rollback to {} by switching to {to_slot}", to_version.sha)
                    }
                    RollbackMode::Redeploy => {
                        format!("rollback to {} by redeploying", to_version.sha)
                    }
                },
                DeploymentAction::Complete { status, .. } => format!("complete {status}"),
            })
            .collect()
    }

    /// Drives a run: succeeds every phase until `fail_at` (a label), then fails it.
    fn drive(
        mut deployment: DeploymentMachine,
        fail_at: Option<&str>,
    ) -> (Vec<String>, DeploymentMachine) {
        let mut log = Vec::new();
        let mut actions = deployment.handle(DeploymentEvent::Start, at(NOW)).unwrap();
        loop {
            log.extend(view(&actions));
            let Some(last) = actions.last().cloned() else {
                break;
            };
            let event = match last {
                DeploymentAction::StartPhase { phase, label, .. } => {
                    if Some(label.as_str()) == fail_at {
                        DeploymentEvent::PhaseFailed {
                            phase,
                            reason: "exit code 1".into(),
                        }
                    } else {
                        DeploymentEvent::PhaseSucceeded { phase }
                    }
                }
                DeploymentAction::SwitchSlot { phase, .. } => {
                    DeploymentEvent::PhaseSucceeded { phase }
                }
                DeploymentAction::WaitUntil { phase, .. } => {
                    DeploymentEvent::PauseElapsed { phase }
                }
                DeploymentAction::AwaitApproval { phase, .. } => DeploymentEvent::ApprovalGranted {
                    phase,
                    by: "bob".into(),
                },
                DeploymentAction::RollBack { .. } | DeploymentAction::Complete { .. } => break,
            };
            actions = deployment
                .handle(event, at("2026-03-04T12:00:00Z"))
                .unwrap();
        }
        (log, deployment)
    }

    #[test]
    fn rolling_success_and_stop_on_failure() {
        let block = json!({
            "strategy": "rolling",
            "targets": ["web1", "web2", "web3", "web4"],
            "batch-size": 2,
            "verify": "./health.sh",
            "acceptance": "./smoke.sh",
        });
        let (log, finished) = drive(run(block.clone(), None, Some("old")), None);
        assert_eq!(
            log,
            vec![
                "run verify target",
                "run execute batch 1/2",
                "run verify batch 1/2",
                "run execute batch 2/2",
                "run verify batch 2/2",
                "run acceptance test",
                "complete success",
            ]
        );
        assert_eq!(
            finished.state,
            DeploymentState::Finished {
                status: DeploymentStatus::Success,
                reason: None
            }
        );

        // Batch 1's health check fails: stop, batch 2 never runs, roll back by redeploying.
        let (log, finished) = drive(
            run(block.clone(), None, Some("old")),
            Some("verify batch 1/2"),
        );
        assert_eq!(
            log,
            vec![
                "run verify target",
                "run execute batch 1/2",
                "run verify batch 1/2",
                "rollback to old by redeploying",
                "complete rolled_back",
            ]
        );
        assert_eq!(
            finished.state,
            DeploymentState::Finished {
                status: DeploymentStatus::RolledBack,
                reason: Some("verify batch 1/2 failed: exit code 1".into())
            }
        );

        // The target check fails: nothing changed, nothing to roll back.
        let (log, _) = drive(run(block.clone(), None, Some("old")), Some("verify target"));
        assert_eq!(log, vec!["run verify target", "complete failure"]);

        // The first deployment ever fails after a change: nothing to roll back to.
        let (log, finished) = drive(run(block, None, None), Some("execute batch 2/2"));
        assert_eq!(log.last().map(String::as_str), Some("complete failure"));
        assert_eq!(
            finished.state,
            DeploymentState::Finished {
                status: DeploymentStatus::Failure,
                reason: Some(
                    "execute batch 2/2 failed: exit code 1; no earlier version to roll back to"
                        .into()
                )
            }
        );
    }

    #[test]
    fn big_bang_failed_acceptance_redeploys() {
        let block = json!({"acceptance": "./smoke.sh"});
        let (log, _) = drive(run(block, None, Some("old")), Some("acceptance test"));
        assert_eq!(
            log,
            vec![
                "run execute",
                "run acceptance test",
                "rollback to old by redeploying",
                "complete rolled_back"
            ]
        );
    }

    #[test]
    fn blue_green_failed_acceptance_switches_back() {
        let block = json!({
            "strategy": "blue-green",
            "verify": "./health.sh",
            "acceptance": "./smoke.sh",
        });
        let (log, finished) = drive(run(block.clone(), Some("blue"), Some("old")), None);
        assert_eq!(
            log,
            vec![
                "run verify target",
                "run execute into green",
                "run verify green",
                "switch green",
                "run acceptance test",
                "complete success",
            ]
        );
        assert!(finished.switched);

        // Acceptance fails after the switch: switch straight back to blue, no redeploy.
        let (log, finished) = drive(
            run(block.clone(), Some("blue"), Some("old")),
            Some("acceptance test"),
        );
        assert_eq!(
            log,
            vec![
                "run verify target",
                "run execute into green",
                "run verify green",
                "switch green",
                "run acceptance test",
                "rollback to old by switching to blue",
                "complete rolled_back",
            ]
        );
        assert!(matches!(
            finished.state,
            DeploymentState::Finished {
                status: DeploymentStatus::RolledBack,
                ..
            }
        ));

        // The idle slot fails its check before the switch: users never saw it; plain failure.
        let (log, _) = drive(
            run(block.clone(), Some("blue"), Some("old")),
            Some("verify green"),
        );
        assert_eq!(
            log,
            vec![
                "run verify target",
                "run execute into green",
                "run verify green",
                "complete failure"
            ]
        );

        // First blue-green deployment: no old slot to go back to.
        let (log, finished) = drive(run(block, None, None), Some("acceptance test"));
        assert_eq!(log.last().map(String::as_str), Some("complete failure"));
        assert!(matches!(
            finished.state,
            DeploymentState::Finished { status: DeploymentStatus::Failure, reason: Some(ref reason) }
                if reason.ends_with("no earlier slot to switch back to")
        ));
    }

    #[test]
    fn canary_pauses_and_waits_for_approval() {
        let block = json!({
            "strategy": "canary",
            "verify": "./health.sh",
            "phases": [{"weight": 10, "pause": "5m"}, {"weight": 50, "approval": true}, {"weight": 100}],
        });
        let mut deployment = run(block.clone(), None, Some("old"));
        let start = at(NOW);
        let mut step =
            |event: DeploymentEvent, now: &str| view(&deployment.handle(event, at(now)).unwrap());
        assert_eq!(step(DeploymentEvent::Start, NOW), vec!["run verify target"]);
        assert_eq!(
            step(DeploymentEvent::PhaseSucceeded { phase: 0 }, NOW),
            vec!["run canary 10%"]
        );
        assert_eq!(
            step(DeploymentEvent::PhaseSucceeded { phase: 1 }, NOW),
            vec!["run verify canary 10%"]
        );
        assert_eq!(
            step(DeploymentEvent::PhaseSucceeded { phase: 2 }, NOW),
            vec![format!(
                "wait {}",
                crate::duration::Duration::from_mins(5).after(start)
            )]
        );
        // The pause cannot be cut short.
        let early = deployment.handle(
            DeploymentEvent::PauseElapsed { phase: 3 },
            at("2026-03-04T10:04:59Z"),
        );
        assert_eq!(
            early.unwrap_err().to_string(),
            "deployment `d2` cannot take the end of the pause of phase 3 while pausing in phase 3 until 2026-03-04T10:05:00Z"
        );
        let mut step =
            |event: DeploymentEvent, now: &str| view(&deployment.handle(event, at(now)).unwrap());
        assert_eq!(
            step(
                DeploymentEvent::PauseElapsed { phase: 3 },
                "2026-03-04T10:05:00Z"
            ),
            vec!["run canary 50%"]
        );
        assert_eq!(
            step(DeploymentEvent::PhaseSucceeded { phase: 4 }, NOW),
            vec!["run verify canary 50%"]
        );
        assert_eq!(
            step(DeploymentEvent::PhaseSucceeded { phase: 5 }, NOW),
            vec!["ask approval at 50%"]
        );
        assert_eq!(
            step(
                DeploymentEvent::ApprovalGranted {
                    phase: 6,
                    by: "bob".into()
                },
                NOW
            ),
            vec!["run canary 100%"]
        );
        assert_eq!(
            step(DeploymentEvent::PhaseSucceeded { phase: 7 }, NOW),
            vec!["run verify canary 100%"]
        );
        assert_eq!(
            step(DeploymentEvent::PhaseSucceeded { phase: 8 }, NOW),
            vec!["complete success"]
        );

        // A rejected approval rolls the canary back.
        let mut rejected = run(block, None, Some("old"));
        for event in [
            DeploymentEvent::Start,
            DeploymentEvent::PhaseSucceeded { phase: 0 },
            DeploymentEvent::PhaseSucceeded { phase: 1 },
            DeploymentEvent::PhaseSucceeded { phase: 2 },
        ] {
            rejected.handle(event, at(NOW)).unwrap();
        }
        for event in [
            DeploymentEvent::PauseElapsed { phase: 3 },
            DeploymentEvent::PhaseSucceeded { phase: 4 },
            DeploymentEvent::PhaseSucceeded { phase: 5 },
        ] {
            rejected.handle(event, at("2026-03-04T11:00:00Z")).unwrap();
        }
        let actions = rejected
            .handle(
                DeploymentEvent::ApprovalRejected {
                    phase: 6,
                    by: "carol".into(),
                    comment: Some("error rate up".into()),
                },
                at(NOW),
            )
            .unwrap();
        assert_eq!(
            view(&actions),
            vec!["rollback to old by redeploying", "complete rolled_back"]
        );
        assert!(matches!(
            &actions[0],
            DeploymentAction::RollBack { reason, .. } if reason == "approval at 50% rejected by `carol`: error rate up"
        ));
    }

    #[test]
    fn stale_events_are_refused() {
        let mut deployment = run(json!({"acceptance": "./smoke.sh"}), None, Some("old"));
        let error = deployment
            .handle(DeploymentEvent::PhaseSucceeded { phase: 0 }, at(NOW))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "deployment `d2` cannot take success of phase 0 while not started"
        );
        deployment.handle(DeploymentEvent::Start, at(NOW)).unwrap();
        assert!(deployment.handle(DeploymentEvent::Start, at(NOW)).is_err());
        assert!(
            deployment
                .handle(DeploymentEvent::PhaseSucceeded { phase: 1 }, at(NOW))
                .is_err()
        );
        assert_eq!(
            deployment.current_phase().map(|phase| phase.label.as_str()),
            Some("execute")
        );
        deployment
            .handle(DeploymentEvent::PhaseSucceeded { phase: 0 }, at(NOW))
            .unwrap();
        deployment
            .handle(DeploymentEvent::PhaseSucceeded { phase: 1 }, at(NOW))
            .unwrap();
        assert!(deployment.is_finished());
        assert!(
            deployment
                .handle(DeploymentEvent::PhaseSucceeded { phase: 1 }, at(NOW))
                .is_err()
        );
    }

    #[test]
    fn a_failed_rollback_is_not_rolled_back() {
        let spec = DeploymentSpec::parse(&json!({"verify": "./health.sh"}), None).unwrap();
        let plan = plan_rollback("production", &spec, &Version::new("old"));
        let deployment =
            DeploymentMachine::new(DeploymentId("d3".into()), plan, Some(Version::new("older")));
        let (log, finished) = drive(deployment, Some("verify rollback"));
        assert_eq!(
            log,
            vec![
                "run roll back to old",
                "run verify rollback",
                "complete failure"
            ]
        );
        assert!(matches!(
            finished.state,
            DeploymentState::Finished { status: DeploymentStatus::Failure, reason: Some(ref reason) }
                if reason.starts_with("rollback failed: ")
        ));
    }

    #[test]
    fn serde_round_trip_mid_run() {
        let mut deployment = run(
            json!({"strategy": "blue-green"}),
            Some("green"),
            Some("old"),
        );
        deployment.handle(DeploymentEvent::Start, at(NOW)).unwrap();
        let json = serde_json::to_string(&deployment).unwrap();
        let back: DeploymentMachine = serde_json::from_str(&json).unwrap();
        assert_eq!(back, deployment);
    }
}
