//! Deployment plans: a checked `deployment:` block turned into the ordered phases that put one
//! version into one environment, following the deployment activities — verify the target
//! environment → execute → acceptance test → confirm.
//!
//! The `verify` hook runs before the first change (is the target healthy?) and after each
//! change (each rolling batch, the idle blue-green slot before the switch, each canary weight).
//! `acceptance` runs once the new version is live. Per strategy:
//!
//! - big-bang: verify target → execute (all targets) → verify → acceptance → confirm;
//! - rolling: verify target → for each batch: execute (that batch) → verify → acceptance → confirm;
//! - blue-green: verify target (the idle slot) → execute into the idle slot → verify → switch
//!   traffic to it → acceptance → confirm; the old slot keeps the previous version for an instant
//!   switch back;
//! - canary: verify target → for each phase: execute at that weight → verify → pause and/or
//!   approval → … → acceptance → confirm.
//!
//! Hooks that are not configured are left out. Every phase carries the `deployment` context the
//! steps see. This module only plans; running a plan is `run`'s job.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::duration::Duration;
use super::record::Version;
use super::spec::{DeploymentSpec, StrategyKind};

/// What a phase does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Activity {
    /// The `verify` hook before anything changes.
    VerifyTarget,
    /// The job's steps, putting the version onto `deployment.targets` / slot / weight.
    Execute,
    /// The `verify` hook after a change.
    Verify,
    /// Blue-green: traffic moves to the new slot (the `switch` hook, when configured).
    Switch,
    /// Canary: wait before the next weight.
    Pause,
    /// Canary: an approver must let the next weight go ahead.
    Approval,
    /// The `acceptance` hook once the version is live.
    AcceptanceTest,
    /// The deployment is done: the version is live.
    Confirm,
}

/// The `deployment` context of the steps and hooks of a phase
/// (`${{ deployment.targets }}`, `${{ deployment.slot }}`, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentContext {
    /// The environment deployed to (`deployment.environment`), e.g. `production`.
    pub environment: String,
    /// How the deployment proceeds (`deployment.strategy`).
    pub strategy: StrategyKind,
    /// The targets this phase works on (a rolling batch, or all of them).
    pub targets: Vec<String>,
    /// Rolling: the batch number (1-based) and how many batches there are.
    pub batch: Option<usize>,
    /// Rolling: how many batches there are in all.
    pub batches: Option<usize>,
    /// Blue-green: the slot this phase works on.
    pub slot: Option<String>,
    /// Canary: the percentage of traffic the new version gets.
    pub weight: Option<u8>,
    /// The activity, as text (`execute`, `verify`, …).
    pub phase: Activity,
    /// The version being deployed.
    pub version: Version,
    /// Whether this deployment restores an earlier version.
    pub is_rollback: bool,
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPhase {
    /// The phase's position in the plan, from 0.
    pub index: usize,
    /// What the phase does.
    pub activity: Activity,
    /// For people: `execute batch 1/2`, `switch to green`, `canary 10%`.
    pub label: String,
    /// The hook to run (`verify`, `acceptance`, `switch`); `None` for execute (the job's
    /// steps) and for the phases the engine handles itself.
    pub command: Option<String>,
    /// Pause phases: how long.
    pub pause: Option<Duration>,
    /// The `deployment` context its steps or hook see.
    pub context: DeploymentContext,
}

/// The phases of one deployment, in order; the last one is always `confirm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentPlan {
    /// The environment deployed to, e.g. `production`.
    pub environment: String,
    /// How the deployment proceeds: all at once, rolling, blue-green or canary.
    pub strategy: StrategyKind,
    /// The version being deployed.
    pub version: Version,
    /// Blue-green: the slot live before (`None` on the first deployment) and the slot the new
    /// version goes into.
    pub live_slot: Option<String>,
    /// Blue-green: the slot the new version goes into.
    pub target_slot: Option<String>,
    /// Whether this deployment restores an earlier version.
    pub is_rollback: bool,
    /// The phases, in order; the last one is always `confirm`.
    pub phases: Vec<PlannedPhase>,
}

impl DeploymentContext {
    /// The context as the JSON object expressions read.
    pub fn to_value(&self) -> Value {
        json!({
            "environment": self.environment,
            "strategy": self.strategy.as_str(),
            "targets": self.targets,
            "batch": self.batch,
            "batches": self.batches,
            "slot": self.slot,
            "weight": self.weight,
            "phase": self.phase.as_str(),
            "version": {
                "sha": self.version.sha,
                "tag": self.version.tag,
            },
            "is_rollback": self.is_rollback,
        })
    }
}

impl Activity {
    /// The activity as written in the `deployment` context, e.g. `verify-target`.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::VerifyTarget => "verify-target",
            Activity::Execute => "execute",
            Activity::Verify => "verify",
            Activity::Switch => "switch",
            Activity::Pause => "pause",
            Activity::Approval => "approval",
            Activity::AcceptanceTest => "acceptance-test",
            Activity::Confirm => "confirm",
        }
    }
}

/// Plans the deployment of `version` into `environment`. `live_slot` is the blue-green slot
/// live now (the engine tracks it per environment); the new version goes into the other one.
pub fn plan_deployment(
    environment: &str,
    spec: &DeploymentSpec,
    version: &Version,
    live_slot: Option<&str>,
) -> DeploymentPlan {
    let mut builder = Builder::new(environment, spec, version, false);
    let (live, target) = match spec.strategy {
        StrategyKind::BlueGreen => {
            let [first, second] = spec.slot_names();
            let target = if live_slot == Some(first.as_str()) {
                second
            } else {
                first
            };
            (
                live_slot
                    .filter(|slot| spec.slot_names().iter().any(|name| name == slot))
                    .map(str::to_string),
                Some(target),
            )
        }
        _ => (None, None),
    };
    builder.base.slot = target.clone();

    builder.hook(
        Activity::VerifyTarget,
        spec.verify.as_deref(),
        "verify target".into(),
        |_| {},
    );
    match spec.strategy {
        StrategyKind::BigBang => {
            builder.push(Activity::Execute, None, "execute".into(), |_| {});
            builder.hook(
                Activity::Verify,
                spec.verify.as_deref(),
                "verify".into(),
                |_| {},
            );
        }
        StrategyKind::Rolling => {
            let batches = spec.batches();
            let count = batches.len();
            for (number, batch) in (1..).zip(batches) {
                let set = |context: &mut DeploymentContext| {
                    context.targets = batch.clone();
                    context.batch = Some(number);
                    context.batches = Some(count);
                };
                builder.push(
                    Activity::Execute,
                    None,
                    format!("execute batch {number}/{count}"),
                    set,
                );
                builder.hook(
                    Activity::Verify,
                    spec.verify.as_deref(),
                    format!("verify batch {number}/{count}"),
                    set,
                );
            }
        }
        StrategyKind::BlueGreen => {
            let slot = target.clone().unwrap_or_default();
            builder.push(
                Activity::Execute,
                None,
                format!("execute into {slot}"),
                |_| {},
            );
            builder.hook(
                Activity::Verify,
                spec.verify.as_deref(),
                format!("verify {slot}"),
                |_| {},
            );
            builder.push(
                Activity::Switch,
                spec.switch.clone(),
                format!("switch to {slot}"),
                |_| {},
            );
        }
        StrategyKind::Canary => {
            for phase in &spec.phases {
                let weight = phase.weight;
                let set = |context: &mut DeploymentContext| context.weight = Some(weight);
                builder.push(Activity::Execute, None, format!("canary {weight}%"), set);
                builder.hook(
                    Activity::Verify,
                    spec.verify.as_deref(),
                    format!("verify canary {weight}%"),
                    set,
                );
                if let Some(pause) = phase.pause {
                    let index = builder.push(
                        Activity::Pause,
                        None,
                        format!("pause {pause} at {weight}%"),
                        set,
                    );
                    if let Some(planned) = builder.phases.get_mut(index) {
                        planned.pause = Some(pause);
                    }
                }
                if phase.approval {
                    builder.push(
                        Activity::Approval,
                        None,
                        format!("approval at {weight}%"),
                        set,
                    );
                }
            }
        }
    }
    let final_weight = (spec.strategy == StrategyKind::Canary).then_some(100);
    builder.hook(
        Activity::AcceptanceTest,
        spec.acceptance.as_deref(),
        "acceptance test".into(),
        |context| context.weight = final_weight,
    );
    builder.push(Activity::Confirm, None, "confirm".into(), |context| {
        context.weight = final_weight
    });
    DeploymentPlan {
        environment: environment.to_string(),
        strategy: spec.strategy,
        version: version.clone(),
        live_slot: live,
        target_slot: target,
        is_rollback: false,
        phases: builder.phases,
    }
}

/// Plans the redeploy of `version` (the last good one) after a failed deployment: execute on
/// every target at once (all traffic for canary), verify, confirm. No target verification
/// (the environment is known to be unwell) and no acceptance test: the point is to restore the
/// version that passed them before. Blue-green needs no plan: it switches back.
pub fn plan_rollback(
    environment: &str,
    spec: &DeploymentSpec,
    version: &Version,
) -> DeploymentPlan {
    let mut builder = Builder::new(environment, spec, version, true);
    let weight = (spec.strategy == StrategyKind::Canary).then_some(100);
    builder.push(
        Activity::Execute,
        None,
        format!("roll back to {}", version.label()),
        |context| context.weight = weight,
    );
    builder.hook(
        Activity::Verify,
        spec.verify.as_deref(),
        "verify rollback".into(),
        |context| context.weight = weight,
    );
    builder.push(Activity::Confirm, None, "confirm".into(), |context| {
        context.weight = weight
    });
    DeploymentPlan {
        environment: environment.to_string(),
        strategy: spec.strategy,
        version: version.clone(),
        live_slot: None,
        target_slot: None,
        is_rollback: true,
        phases: builder.phases,
    }
}

/// Plans the switch back of a blue-green environment to `to_slot`, the slot that still holds
/// `version`: switch traffic there, verify it (when a `verify` hook is configured), confirm.
/// Nothing is redeployed. This is the one place a switch back is planned: the explicit
/// rollback runs the whole plan; a runner switching back after a failed check runs its switch
/// phase (the old slot was verified when it went live).
pub fn plan_switch_back(
    environment: &str,
    spec: &DeploymentSpec,
    version: &Version,
    to_slot: &str,
    live_slot: Option<&str>,
) -> DeploymentPlan {
    let mut builder = Builder::new(environment, spec, version, true);
    builder.base.slot = Some(to_slot.to_string());
    builder.push(
        Activity::Switch,
        spec.switch.clone(),
        format!("switch back to {to_slot}"),
        |_| {},
    );
    builder.hook(
        Activity::Verify,
        spec.verify.as_deref(),
        format!("verify {to_slot}"),
        |_| {},
    );
    builder.push(Activity::Confirm, None, "confirm".into(), |_| {});
    DeploymentPlan {
        environment: environment.to_string(),
        strategy: spec.strategy,
        version: version.clone(),
        live_slot: live_slot.map(str::to_string),
        target_slot: Some(to_slot.to_string()),
        is_rollback: true,
        phases: builder.phases,
    }
}

/// The plan of an explicit rollback to `version`, last deployed into `version_slot`:
/// blue-green switches back to that slot when it is not the live one
/// ([`plan_switch_back`]); every other case redeploys the version ([`plan_rollback`]).
pub fn rollback_plan(
    environment: &str,
    spec: &DeploymentSpec,
    version: &Version,
    version_slot: Option<&str>,
    live_slot: Option<&str>,
) -> DeploymentPlan {
    match version_slot {
        Some(to_slot) if spec.strategy == StrategyKind::BlueGreen && live_slot != Some(to_slot) => {
            plan_switch_back(environment, spec, version, to_slot, live_slot)
        }
        _ => plan_rollback(environment, spec, version),
    }
}

// ---------------------------------------------------------------------------------------------

struct Builder {
    base: DeploymentContext,
    phases: Vec<PlannedPhase>,
}

impl Builder {
    fn new(
        environment: &str,
        spec: &DeploymentSpec,
        version: &Version,
        is_rollback: bool,
    ) -> Builder {
        Builder {
            base: DeploymentContext {
                environment: environment.to_string(),
                strategy: spec.strategy,
                targets: spec.targets.clone(),
                batch: None,
                batches: None,
                slot: None,
                weight: None,
                phase: Activity::Execute,
                version: version.clone(),
                is_rollback,
            },
            phases: Vec::new(),
        }
    }

    /// Appends a phase whose context is the base context adjusted by `adjust`; returns its index.
    fn push(
        &mut self,
        activity: Activity,
        command: Option<String>,
        label: String,
        adjust: impl FnOnce(&mut DeploymentContext),
    ) -> usize {
        let mut context = self.base.clone();
        context.phase = activity;
        adjust(&mut context);
        let index = self.phases.len();
        self.phases.push(PlannedPhase {
            index,
            activity,
            label,
            command,
            pause: None,
            context,
        });
        index
    }

    /// Appends a hook phase only when the hook is configured.
    fn hook(
        &mut self,
        activity: Activity,
        command: Option<&str>,
        label: String,
        adjust: impl FnOnce(&mut DeploymentContext),
    ) {
        if let Some(command) = command {
            self.push(activity, Some(command.to_string()), label, adjust);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(block: Value) -> DeploymentSpec {
        DeploymentSpec::parse(&block, None).unwrap()
    }

    fn labels(plan: &DeploymentPlan) -> Vec<String> {
        plan.phases
            .iter()
            .map(|phase| phase.label.clone())
            .collect()
    }

    fn v2() -> Version {
        Version {
            sha: "b2b2b2b2".into(),
            tag: Some("v2.0.0".into()),
            committed_at: None,
        }
    }

    #[test]
    fn big_bang() {
        let plan = plan_deployment(
            "production",
            &spec(json!({"verify": "./health.sh", "acceptance": "./smoke.sh"})),
            &v2(),
            None,
        );
        assert_eq!(
            labels(&plan),
            vec![
                "verify target",
                "execute",
                "verify",
                "acceptance test",
                "confirm"
            ]
        );
        assert_eq!(plan.phases[0].command.as_deref(), Some("./health.sh"));
        assert_eq!(plan.phases[1].command, None);
        assert_eq!(plan.phases[3].command.as_deref(), Some("./smoke.sh"));
        // Without hooks: execute and confirm only.
        let bare = plan_deployment("production", &spec(json!({})), &v2(), None);
        assert_eq!(labels(&bare), vec!["execute", "confirm"]);
    }

    #[test]
    fn rolling_runs_one_execute_per_batch() {
        let plan = plan_deployment(
            "production",
            &spec(json!({
                "strategy": "rolling",
                "targets": ["web1", "web2", "web3", "web4"],
                "batch-size": 2,
                "verify": "./scripts/health.sh",
                "acceptance": "./scripts/smoke.sh",
            })),
            &v2(),
            None,
        );
        assert_eq!(
            labels(&plan),
            vec![
                "verify target",
                "execute batch 1/2",
                "verify batch 1/2",
                "execute batch 2/2",
                "verify batch 2/2",
                "acceptance test",
                "confirm"
            ]
        );
        let executes: Vec<(Vec<String>, Option<usize>)> = plan
            .phases
            .iter()
            .filter(|phase| phase.activity == Activity::Execute)
            .map(|phase| (phase.context.targets.clone(), phase.context.batch))
            .collect();
        assert_eq!(
            executes,
            vec![
                (vec!["web1".to_string(), "web2".to_string()], Some(1)),
                (vec!["web3".to_string(), "web4".to_string()], Some(2)),
            ]
        );
        // The verify-target and acceptance phases see every target.
        assert_eq!(plan.phases[0].context.targets.len(), 4);
        assert_eq!(plan.phases[5].context.targets.len(), 4);
        assert_eq!(
            plan.phases[3].context.to_value(),
            json!({
                "environment": "production",
                "strategy": "rolling",
                "targets": ["web3", "web4"],
                "batch": 2,
                "batches": 2,
                "slot": null,
                "weight": null,
                "phase": "execute",
                "version": {"sha": "b2b2b2b2", "tag": "v2.0.0"},
                "is_rollback": false,
            })
        );
    }

    #[test]
    fn blue_green_deploys_into_the_idle_slot() {
        let block = spec(json!({
            "strategy": "blue-green",
            "verify": "./health.sh",
            "acceptance": "./smoke.sh",
            "switch": "./switch.sh",
        }));
        let cases = [
            (None, "blue"),
            (Some("blue"), "green"),
            (Some("green"), "blue"),
            // A slot that is not one of ours (the config changed) counts as nothing live.
            (Some("red"), "blue"),
        ];
        for (live, target) in cases {
            let plan = plan_deployment("production", &block, &v2(), live);
            assert_eq!(plan.target_slot.as_deref(), Some(target), "live {live:?}");
            assert_eq!(
                labels(&plan),
                vec![
                    "verify target".to_string(),
                    format!("execute into {target}"),
                    format!("verify {target}"),
                    format!("switch to {target}"),
                    "acceptance test".to_string(),
                    "confirm".to_string(),
                ]
            );
            assert!(
                plan.phases
                    .iter()
                    .all(|phase| phase.context.slot.as_deref() == Some(target))
            );
            assert_eq!(plan.phases[3].command.as_deref(), Some("./switch.sh"));
        }
        let plan = plan_deployment("production", &block, &v2(), Some("red"));
        assert_eq!(plan.live_slot, None);
    }

    #[test]
    fn canary_phases_with_pause_and_approval() {
        let plan = plan_deployment(
            "production",
            &spec(json!({
                "strategy": "canary",
                "verify": "./health.sh",
                "phases": [{"weight": 10, "pause": "5m"}, {"weight": 50, "approval": true}, {"weight": 100}],
            })),
            &v2(),
            None,
        );
        assert_eq!(
            labels(&plan),
            vec![
                "verify target",
                "canary 10%",
                "verify canary 10%",
                "pause 5m at 10%",
                "canary 50%",
                "verify canary 50%",
                "approval at 50%",
                "canary 100%",
                "verify canary 100%",
                "confirm",
            ]
        );
        let weights: Vec<Option<u8>> = plan
            .phases
            .iter()
            .map(|phase| phase.context.weight)
            .collect();
        assert_eq!(
            weights,
            vec![
                None,
                Some(10),
                Some(10),
                Some(10),
                Some(50),
                Some(50),
                Some(50),
                Some(100),
                Some(100),
                Some(100)
            ]
        );
        assert_eq!(plan.phases[3].pause, Some(Duration::from_mins(5)));
        assert_eq!(plan.phases[3].activity, Activity::Pause);
        assert_eq!(plan.phases[6].activity, Activity::Approval);
    }

    #[test]
    fn rollback_plan_redeploys_at_once() {
        let block = spec(json!({
            "strategy": "rolling",
            "targets": ["web1", "web2", "web3"],
            "verify": "./health.sh",
            "acceptance": "./smoke.sh",
        }));
        let good = Version::new("a1a1a1a1a1");
        let plan = plan_rollback("production", &block, &good);
        assert!(plan.is_rollback);
        assert_eq!(
            labels(&plan),
            vec!["roll back to a1a1a1a", "verify rollback", "confirm"]
        );
        assert_eq!(plan.phases[0].context.targets.len(), 3);
        assert!(plan.phases[0].context.is_rollback);
        assert_eq!(plan.phases[0].context.version, good);
    }

    #[test]
    fn switch_back_plan() {
        let block = spec(json!({
            "strategy": "blue-green",
            "targets": ["lb"],
            "verify": "./health.sh",
            "switch": "./switch.sh",
        }));
        let good = Version::new("a1a1a1a1a1");
        let plan = plan_switch_back("production", &block, &good, "blue", Some("green"));
        assert!(plan.is_rollback);
        assert_eq!(plan.live_slot.as_deref(), Some("green"));
        assert_eq!(plan.target_slot.as_deref(), Some("blue"));
        assert_eq!(
            labels(&plan),
            vec!["switch back to blue", "verify blue", "confirm"]
        );
        assert_eq!(plan.phases[0].activity, Activity::Switch);
        assert_eq!(plan.phases[0].command.as_deref(), Some("./switch.sh"));
        for phase in &plan.phases {
            assert_eq!(phase.context.slot.as_deref(), Some("blue"));
            assert_eq!(phase.context.version, good);
            assert!(phase.context.is_rollback);
            assert_eq!(phase.context.targets, vec!["lb"]);
            assert_eq!(phase.context.phase, phase.activity);
        }
        let unverified = spec(json!({"strategy": "blue-green"}));
        let plan = plan_switch_back("production", &unverified, &good, "green", None);
        assert_eq!(labels(&plan), vec!["switch back to green", "confirm"]);
        assert_eq!(plan.phases[0].command, None);
    }

    #[test]
    fn explicit_rollback_switches_back_or_redeploys() {
        let good = Version::new("a1a1a1a1a1");
        let blue_green = spec(json!({"strategy": "blue-green"}));
        let switched = rollback_plan(
            "production",
            &blue_green,
            &good,
            Some("blue"),
            Some("green"),
        );
        assert_eq!(labels(&switched), vec!["switch back to blue", "confirm"]);
        // The version's slot is live already (or unknown): redeploy.
        for (version_slot, live_slot) in [(Some("blue"), Some("blue")), (None, Some("green"))] {
            let plan = rollback_plan("production", &blue_green, &good, version_slot, live_slot);
            assert_eq!(labels(&plan), vec!["roll back to a1a1a1a", "confirm"]);
        }
        let rolling = spec(json!({"strategy": "rolling", "targets": ["a"]}));
        let plan = rollback_plan("production", &rolling, &good, Some("blue"), Some("green"));
        assert_eq!(labels(&plan), vec!["roll back to a1a1a1a", "confirm"]);
    }
}
