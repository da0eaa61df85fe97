//! The job's `deployment:` block (a Slipway extension to GitHub's job syntax): which strategy
//! rolls the version out, onto which targets, and which hooks verify it.
//!
//! ```yaml
//! deployment:
//!   strategy: rolling        # big-bang | rolling | blue-green | canary
//!   targets: [web1, web2, web3, web4]
//!   batch-size: 2            # rolling: hosts per batch, or a percentage such as "25%"
//!   verify: ./scripts/health.sh       # before the first change, and after each batch / phase
//!   acceptance: ./scripts/smoke.sh    # acceptance test once the version is live
//!   slots: [blue, green]              # blue-green
//!   switch: ./scripts/switch.sh       # blue-green: moves traffic to `deployment.slot`
//!   phases: [{weight: 10, pause: 5m}, {weight: 50, approval: true}, {weight: 100}]  # canary
//! ```
//!
//! The block is read and checked by the workflow language, once: `workflows::parse::deployment`
//! types it (with positions, so `slipway check` points at the value at fault) and
//! `workflows::validate::deployment` checks how its keys fit together. This module turns that
//! typed block into the plain [`DeploymentSpec`] a deployment is planned from, with the
//! environment's default strategy applied. It does not evaluate `${{ }}` expressions — the
//! engine evaluates string values first and reads the block again through [`DeploymentSpec::parse`].
//! Errors name the key at fault (`deployment.phases[1].weight`).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use workflows::Span;
use workflows::model::Deployment;
use workflows::parse::deployment::{DeploymentProblem, read_deployment_json};
use workflows::validate::deployment::check_deployment;

use super::duration::Duration;

pub use workflows::model::{BatchSize, StrategyKind};

/// The `deployment:` block, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
    /// How the version goes out: all at once, rolling, blue-green or canary.
    pub strategy: StrategyKind,
    /// Hosts (or any names the steps understand) the version goes to.
    pub targets: Vec<String>,
    /// Rolling: how many targets per batch.
    pub batch_size: Option<BatchSize>,
    /// Health check run before the first change and after each batch, slot or canary phase.
    pub verify: Option<String>,
    /// Acceptance test run once the new version is live.
    pub acceptance: Option<String>,
    /// Blue-green: the two slots.
    pub slots: Option<[String; 2]>,
    /// Blue-green: the command that moves traffic to `deployment.slot` (without it the switch
    /// is the engine's record of the live slot, for setups that read it).
    pub switch: Option<String>,
    /// Canary: traffic weights in increasing order, the last one 100.
    pub phases: Vec<CanaryPhase>,
}

/// One canary phase: route `weight` percent of traffic to the new version, verify, then
/// optionally pause and/or wait for an approval before the next phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryPhase {
    /// The percentage of traffic the new version gets in this phase, 1 to 100.
    pub weight: u8,
    /// How long to wait after the phase's verify before the next phase; `None`: no pause.
    pub pause: Option<Duration>,
    /// Whether an approver must let the next phase go ahead.
    pub approval: bool,
}

/// A bad `deployment:` block; the message names the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {problem}")]
pub struct DeploymentSpecError {
    /// The path of the key, e.g. `deployment.phases[1].weight`.
    pub key: String,
    /// What is wrong with the key's value, in words.
    pub problem: String,
}

impl From<DeploymentProblem> for DeploymentSpecError {
    fn from(problem: DeploymentProblem) -> DeploymentSpecError {
        DeploymentSpecError {
            key: problem.key,
            problem: problem.problem,
        }
    }
}

impl DeploymentSpec {
    /// The block a job gets when it names an environment but has no `deployment:`: the
    /// environment's default strategy (big-bang when unset) with no targets and no hooks.
    /// Rolling and canary need more than that, so their defaults fall back to big-bang.
    pub fn default_for(default_strategy: Option<StrategyKind>) -> DeploymentSpec {
        let strategy = match default_strategy {
            Some(StrategyKind::BlueGreen) => StrategyKind::BlueGreen,
            _ => StrategyKind::BigBang,
        };
        DeploymentSpec {
            strategy,
            targets: Vec::new(),
            batch_size: None,
            verify: None,
            acceptance: None,
            slots: None,
            switch: None,
            phases: Vec::new(),
        }
    }

    /// Reads and checks a `deployment:` block given as JSON (the job spec's, its expressions
    /// evaluated) with the workflow language's reader. `default_strategy` (the environment's)
    /// applies when the block has no `strategy:`. A string block is a strategy alone
    /// (`deployment: blue-green`); `null` is the default block.
    pub fn parse(
        block: &Value,
        default_strategy: Option<StrategyKind>,
    ) -> Result<DeploymentSpec, DeploymentSpecError> {
        if block.is_null() {
            return Ok(DeploymentSpec::default_for(default_strategy));
        }
        let (typed, problems) = read_deployment_json(block, Span::default());
        if let Some(problem) = problems.into_iter().next() {
            return Err(problem.into());
        }
        DeploymentSpec::from_block(&typed, default_strategy)
    }

    /// The spec of a typed block (read without problems): the rules that tie its keys together
    /// are checked with the environment's `default_strategy`, and the positions dropped.
    pub fn from_block(
        block: &Deployment,
        default_strategy: Option<StrategyKind>,
    ) -> Result<DeploymentSpec, DeploymentSpecError> {
        if let Some(problem) = check_deployment(block, default_strategy).into_iter().next() {
            return Err(problem.into());
        }
        let names = |names: &[workflows::Spanned<String>]| -> Vec<String> {
            names.iter().map(|name| name.value.clone()).collect()
        };
        let text = |text: &Option<workflows::Spanned<String>>| {
            text.as_ref().map(|text| text.value.clone())
        };
        Ok(DeploymentSpec {
            strategy: block
                .strategy
                .as_ref()
                .map(|strategy| strategy.value)
                .or(default_strategy)
                .unwrap_or(StrategyKind::BigBang),
            targets: block
                .targets
                .as_ref()
                .map(|targets| names(&targets.value))
                .unwrap_or_default(),
            batch_size: block.batch_size.as_ref().map(|size| size.value),
            verify: text(&block.verify),
            acceptance: text(&block.acceptance),
            slots: block
                .slots
                .as_ref()
                .map(|slots| slots.value.clone().map(|slot| slot.value)),
            switch: text(&block.switch),
            phases: block
                .phases
                .as_ref()
                .map(|phases| {
                    phases
                        .value
                        .iter()
                        .map(|phase| CanaryPhase {
                            weight: phase.weight.value,
                            pause: phase.pause.as_ref().map(|pause| pause.value),
                            approval: phase.approval.as_ref().is_some_and(|flag| flag.value),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// The two slots of a blue-green deployment (`blue`, `green` unless given).
    pub fn slot_names(&self) -> [String; 2] {
        self.slots
            .clone()
            .unwrap_or_else(|| ["blue".to_string(), "green".to_string()])
    }

    /// The targets split into rolling batches (one batch of everything for other strategies,
    /// or when there are no targets).
    pub fn batches(&self) -> Vec<Vec<String>> {
        if self.strategy != StrategyKind::Rolling || self.targets.is_empty() {
            return vec![self.targets.clone()];
        }
        let size = match self.batch_size {
            None => 1,
            Some(BatchSize::Count(count)) => count.max(1),
            Some(BatchSize::Percent(percent)) => {
                // Round up so that 25% of 3 hosts is one host, never zero.
                (self.targets.len() * usize::from(percent))
                    .div_ceil(100)
                    .max(1)
            }
        };
        self.targets.chunks(size).map(<[String]>::to_vec).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check_error(block: Value, expected: &str) {
        let error = DeploymentSpec::parse(&block, None).unwrap_err();
        assert_eq!(error.to_string(), expected, "block {block}");
    }

    #[test]
    fn parses_the_documented_blocks() {
        let rolling = DeploymentSpec::parse(
            &json!({
                "strategy": "rolling",
                "targets": ["web1", "web2", "web3", "web4"],
                "batch-size": 2,
                "verify": "./scripts/health.sh",
                "acceptance": "./scripts/smoke.sh",
            }),
            None,
        )
        .unwrap();
        assert_eq!(rolling.strategy, StrategyKind::Rolling);
        assert_eq!(rolling.batch_size, Some(BatchSize::Count(2)));
        assert_eq!(
            rolling.batches(),
            vec![vec!["web1", "web2"], vec!["web3", "web4"]]
        );
        assert_eq!(rolling.verify.as_deref(), Some("./scripts/health.sh"));
        assert_eq!(rolling.acceptance.as_deref(), Some("./scripts/smoke.sh"));

        let canary = DeploymentSpec::parse(
            &json!({
                "strategy": "canary",
                "phases": [{"weight": 10, "pause": "5m"}, {"weight": 50, "approval": true}, {"weight": 100}],
            }),
            None,
        )
        .unwrap();
        assert_eq!(
            canary.phases,
            vec![
                CanaryPhase {
                    weight: 10,
                    pause: Some(Duration::from_mins(5)),
                    approval: false
                },
                CanaryPhase {
                    weight: 50,
                    pause: None,
                    approval: true
                },
                CanaryPhase {
                    weight: 100,
                    pause: None,
                    approval: false
                },
            ]
        );

        let blue_green = DeploymentSpec::parse(
            &json!({"strategy": "blue-green", "slots": ["a", "b"]}),
            None,
        )
        .unwrap();
        assert_eq!(blue_green.slot_names(), ["a".to_string(), "b".to_string()]);
        let default_slots = DeploymentSpec::parse(&json!("blue-green"), None).unwrap();
        assert_eq!(
            default_slots.slot_names(),
            ["blue".to_string(), "green".to_string()]
        );
    }

    #[test]
    fn strategy_defaults() {
        let empty = DeploymentSpec::parse(&json!({}), None).unwrap();
        assert_eq!(empty.strategy, StrategyKind::BigBang);
        let from_environment =
            DeploymentSpec::parse(&json!({"targets": ["a"]}), Some(StrategyKind::Rolling)).unwrap();
        assert_eq!(from_environment.strategy, StrategyKind::Rolling);
        let null = DeploymentSpec::parse(&Value::Null, Some(StrategyKind::BlueGreen)).unwrap();
        assert_eq!(null.strategy, StrategyKind::BlueGreen);
        // A rolling default without targets cannot roll; the job without a block deploys at once.
        let null_rolling =
            DeploymentSpec::parse(&Value::Null, Some(StrategyKind::Rolling)).unwrap();
        assert_eq!(null_rolling.strategy, StrategyKind::BigBang);
    }

    #[test]
    fn batches() {
        let spec = |size: Value, count: usize| {
            let targets: Vec<String> = (1..=count).map(|n| format!("h{n}")).collect();
            DeploymentSpec::parse(
                &json!({"strategy": "rolling", "targets": targets, "batch-size": size}),
                None,
            )
            .unwrap()
            .batches()
            .iter()
            .map(Vec::len)
            .collect::<Vec<_>>()
        };
        assert_eq!(spec(json!(2), 5), vec![2, 2, 1]);
        assert_eq!(spec(json!(10), 3), vec![3]);
        assert_eq!(spec(json!("25%"), 8), vec![2, 2, 2, 2]);
        assert_eq!(spec(json!("25%"), 3), vec![1, 1, 1]);
        assert_eq!(spec(json!("50%"), 5), vec![3, 2]);
        assert_eq!(spec(json!("100%"), 4), vec![4]);
        assert_eq!(spec(json!("3"), 4), vec![3, 1]);
        let one_at_a_time = DeploymentSpec::parse(
            &json!({"strategy": "rolling", "targets": ["a", "b", "c"]}),
            None,
        )
        .unwrap();
        assert_eq!(one_at_a_time.batches().len(), 3);
    }

    #[test]
    fn errors_name_the_key() {
        check_error(
            json!(3),
            "`deployment`: must be a mapping, not the number `3`",
        );
        check_error(
            json!({"strategy": "yolo"}),
            "`deployment.strategy`: unknown strategy `yolo` (use big-bang, rolling, blue-green or canary)",
        );
        check_error(
            json!({"strategy": "rolling", "targets": ["a"], "batchsize": 2}),
            "`deployment.batchsize`: unknown key (did you mean `batch-size`?)",
        );
        check_error(json!({"colour": "red"}), "`deployment.colour`: unknown key");
        check_error(
            json!({"strategy": "rolling", "targets": ["a"], "batch-size": "two"}),
            "`deployment.batch-size`: must be a positive whole number or a percentage such as \"25%\", not the string `two`",
        );
        check_error(
            json!({"strategy": "rolling", "targets": ["a"], "batch-size": 0}),
            "`deployment.batch-size`: must be a positive whole number or a percentage such as \"25%\", not the number `0`",
        );
        check_error(
            json!({"strategy": "rolling"}),
            "`deployment.targets`: strategy rolling needs at least one target",
        );
        check_error(
            json!({"strategy": "rolling", "targets": ["a", ""]}),
            "`deployment.targets[1]`: must be a non-empty name, not the string ``",
        );
        check_error(
            json!({"strategy": "rolling", "targets": ["a", "a"]}),
            "`deployment.targets[1]`: `a` is listed twice",
        );
        check_error(
            json!({"strategy": "big-bang", "slots": ["a", "b"]}),
            "`deployment.slots`: applies only to strategy blue-green, not big-bang",
        );
        check_error(
            json!({"strategy": "blue-green", "batch-size": 2}),
            "`deployment.batch-size`: applies only to strategy rolling, not blue-green",
        );
        check_error(
            json!({"strategy": "rolling", "targets": ["a"], "phases": [{"weight": 100}]}),
            "`deployment.phases`: applies only to strategy canary, not rolling",
        );
        check_error(
            json!({"strategy": "blue-green", "slots": ["a"]}),
            "`deployment.slots`: must name exactly two slots, not 1",
        );
        check_error(
            json!({"strategy": "blue-green", "slots": ["a", "a"]}),
            "`deployment.slots[1]`: `a` is listed twice",
        );
        check_error(
            json!({"verify": 3}),
            "`deployment.verify`: must be a command string, not the number `3`",
        );
        check_error(
            json!({"acceptance": " "}),
            "`deployment.acceptance`: is empty",
        );
        check_error(
            json!({"strategy": "canary"}),
            "`deployment.phases`: strategy canary needs at least one phase",
        );
        check_error(
            json!({"strategy": "canary", "phases": [{"weight": 10}, {"weight": 10}, {"weight": 100}]}),
            "`deployment.phases[1].weight`: 10 does not grow from the previous phase's 10",
        );
        check_error(
            json!({"strategy": "canary", "phases": [{"weight": 10}, {"weight": 150}]}),
            "`deployment.phases[1].weight`: must be a whole percentage from 1 to 100, not the number `150`",
        );
        check_error(
            json!({"strategy": "canary", "phases": [{"weight": 10}, {"weight": 50}]}),
            "`deployment.phases[1].weight`: the last phase must reach weight 100, not 50",
        );
        check_error(
            json!({"strategy": "canary", "phases": [{"pause": "5m"}]}),
            "`deployment.phases[0].weight`: is missing",
        );
        check_error(
            json!({"strategy": "canary", "phases": [{"weight": 10, "pause": "5x"}, {"weight": 100}]}),
            "`deployment.phases[0].pause`: duration `5x`: unknown unit `x` (use s, m, h or d)",
        );
        check_error(
            json!({"strategy": "canary", "phases": [{"weight": 10, "approve": true}, {"weight": 100}]}),
            "`deployment.phases[0].approve`: unknown key (did you mean `approval`?)",
        );
        check_error(
            json!({"strategy": "canary", "phases": [{"weight": 10, "approval": "yes"}, {"weight": 100}]}),
            "`deployment.phases[0].approval`: must be true or false, not the string `yes`",
        );
        check_error(
            json!({"strategy": "canary", "phases": [{"weight": 100, "approval": true}]}),
            "`deployment.phases[0]`: the last phase has no next phase to pause or wait for approval before",
        );
        check_error(
            json!({"strategy": "canary", "phases": [10, 100]}),
            "`deployment.phases[0]`: must be a mapping with `weight`, not the number `10`",
        );
    }

    #[test]
    fn serde_round_trip() {
        let spec = DeploymentSpec::parse(
            &json!({"strategy": "canary", "targets": "web", "phases": [{"weight": "10%", "pause": "90s"}, {"weight": 100}]}),
            None,
        )
        .unwrap();
        assert_eq!(spec.targets, vec!["web"]);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["strategy"], "canary");
        let back: DeploymentSpec = serde_json::from_value(json).unwrap();
        assert_eq!(back, spec);
    }
}
