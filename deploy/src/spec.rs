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
//! This module reads the block as JSON (the workflow parser keeps it as a spanned JSON value)
//! and checks it; it does not evaluate `${{ }}` expressions — the caller evaluates string
//! values before parsing. Errors name the key at fault (`deployment.phases[1].weight`).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::duration::{Duration, parse_duration};
use super::environment::edit_distance;

/// How a version reaches the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StrategyKind {
    /// Everything at once.
    BigBang,
    /// In batches of targets, stopping at the first failed batch.
    Rolling,
    /// Into the idle slot, verified, then traffic switches; the old slot is kept.
    BlueGreen,
    /// Growing traffic weights with verification between them.
    Canary,
}

/// The `deployment:` block, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentSpec {
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

/// `batch-size: 2` or `batch-size: "25%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchSize {
    Count(usize),
    Percent(u8),
}

/// One canary phase: route `weight` percent of traffic to the new version, verify, then
/// optionally pause and/or wait for an approval before the next phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryPhase {
    pub weight: u8,
    pub pause: Option<Duration>,
    pub approval: bool,
}

/// A bad `deployment:` block; the message names the key at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {problem}")]
pub struct DeploymentSpecError {
    /// The path of the key, e.g. `deployment.phases[1].weight`.
    pub key: String,
    pub problem: String,
}

impl StrategyKind {
    /// Parses `big-bang`, `rolling`, `blue-green`, `canary` (also with `_` instead of `-`).
    pub fn parse(text: &str) -> Result<StrategyKind, String> {
        match text.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "big-bang" | "bigbang" => Ok(StrategyKind::BigBang),
            "rolling" => Ok(StrategyKind::Rolling),
            "blue-green" | "bluegreen" => Ok(StrategyKind::BlueGreen),
            "canary" => Ok(StrategyKind::Canary),
            _ => Err(format!(
                "unknown strategy `{text}` (use big-bang, rolling, blue-green or canary)"
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StrategyKind::BigBang => "big-bang",
            StrategyKind::Rolling => "rolling",
            StrategyKind::BlueGreen => "blue-green",
            StrategyKind::Canary => "canary",
        }
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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

    /// Reads and checks a `deployment:` block. `default_strategy` (the environment's) applies
    /// when the block has no `strategy:`. A string block is a strategy alone
    /// (`deployment: blue-green`); `null` is the default block.
    pub fn parse(
        block: &Value,
        default_strategy: Option<StrategyKind>,
    ) -> Result<DeploymentSpec, DeploymentSpecError> {
        let map = match block {
            Value::Null => return Ok(DeploymentSpec::default_for(default_strategy)),
            Value::String(text) => {
                let strategy =
                    StrategyKind::parse(text).map_err(|problem| error("deployment", problem))?;
                let mut single = serde_json::Map::new();
                single.insert(
                    "strategy".to_string(),
                    Value::String(strategy.as_str().into()),
                );
                return DeploymentSpec::parse(&Value::Object(single), default_strategy);
            }
            Value::Object(map) => map,
            other => {
                return Err(error(
                    "deployment",
                    format!("must be a mapping, not {}", describe(other)),
                ));
            }
        };
        for key in map.keys() {
            if !KEYS.contains(&key.as_str()) {
                let hint = closest(key, KEYS)
                    .map(|known| format!(" (did you mean `{known}`?)"))
                    .unwrap_or_default();
                return Err(error(
                    &format!("deployment.{key}"),
                    format!("unknown key{hint}"),
                ));
            }
        }
        let strategy = match map.get("strategy") {
            None | Some(Value::Null) => default_strategy.unwrap_or(StrategyKind::BigBang),
            Some(Value::String(text)) => StrategyKind::parse(text)
                .map_err(|problem| error("deployment.strategy", problem))?,
            Some(other) => {
                return Err(error(
                    "deployment.strategy",
                    format!("must be a string, not {}", describe(other)),
                ));
            }
        };
        let spec = DeploymentSpec {
            strategy,
            targets: string_list(map.get("targets"), "deployment.targets")?,
            batch_size: map
                .get("batch-size")
                .map(|value| batch_size(value, "deployment.batch-size"))
                .transpose()?,
            verify: optional_string(map.get("verify"), "deployment.verify")?,
            acceptance: optional_string(map.get("acceptance"), "deployment.acceptance")?,
            slots: slots(map.get("slots"))?,
            switch: optional_string(map.get("switch"), "deployment.switch")?,
            phases: canary_phases(map.get("phases"))?,
        };
        spec.check(map)?;
        Ok(spec)
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

    /// Checks the keys fit the strategy.
    fn check(&self, map: &serde_json::Map<String, Value>) -> Result<(), DeploymentSpecError> {
        let allowed: &[&str] = match self.strategy {
            StrategyKind::BigBang => &["strategy", "targets", "verify", "acceptance"],
            StrategyKind::Rolling => &["strategy", "targets", "batch-size", "verify", "acceptance"],
            StrategyKind::BlueGreen => &[
                "strategy",
                "targets",
                "verify",
                "acceptance",
                "slots",
                "switch",
            ],
            StrategyKind::Canary => &["strategy", "targets", "verify", "acceptance", "phases"],
        };
        if let Some(key) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            let owner = match key.as_str() {
                "batch-size" => "rolling",
                "slots" | "switch" => "blue-green",
                _ => "canary",
            };
            return Err(error(
                &format!("deployment.{key}"),
                format!(
                    "applies only to strategy {owner}, not {}",
                    self.strategy.as_str()
                ),
            ));
        }
        match self.strategy {
            StrategyKind::Rolling if self.targets.is_empty() => Err(error(
                "deployment.targets",
                "strategy rolling needs at least one target",
            )),
            StrategyKind::Canary if self.phases.is_empty() => Err(error(
                "deployment.phases",
                "strategy canary needs at least one phase",
            )),
            _ => Ok(()),
        }
    }
}

// ---------------------------------------------------------------------------------------------

const KEYS: &[&str] = &[
    "strategy",
    "targets",
    "batch-size",
    "verify",
    "acceptance",
    "slots",
    "switch",
    "phases",
];

const PHASE_KEYS: &[&str] = &["weight", "pause", "approval"];

fn error(key: &str, problem: impl Into<String>) -> DeploymentSpecError {
    DeploymentSpecError {
        key: key.to_string(),
        problem: problem.into(),
    }
}

fn closest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|candidate| (edit_distance(key, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(flag) => format!("the boolean `{flag}`"),
        Value::Number(number) => format!("the number `{number}`"),
        Value::String(text) => format!("the string `{text}`"),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a mapping".to_string(),
    }
}

fn optional_string(
    value: Option<&Value>,
    key: &str,
) -> Result<Option<String>, DeploymentSpecError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Err(error(key, "is empty")),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(error(
            key,
            format!("must be a command string, not {}", describe(other)),
        )),
    }
}

fn string_list(value: Option<&Value>, key: &str) -> Result<Vec<String>, DeploymentSpecError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        // `targets: web1` is a list of one, as GitHub reads `branches: main`.
        Some(Value::String(text)) => return Ok(vec![text.clone()]),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(error(
                key,
                format!("must be a list of names, not {}", describe(other)),
            ));
        }
    };
    let mut names: Vec<String> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let name = match item {
            Value::String(text) if !text.trim().is_empty() => text.clone(),
            Value::Number(number) => number.to_string(),
            other => {
                return Err(error(
                    &format!("{key}[{index}]"),
                    format!("must be a non-empty name, not {}", describe(other)),
                ));
            }
        };
        if names.contains(&name) {
            return Err(error(
                &format!("{key}[{index}]"),
                format!("`{name}` is listed twice"),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

fn batch_size(value: &Value, key: &str) -> Result<BatchSize, DeploymentSpecError> {
    let bad = || {
        error(
            key,
            format!(
                "must be a positive whole number or a percentage such as \"25%\", not {}",
                describe(value)
            ),
        )
    };
    match value {
        Value::Number(number) => match number.as_u64() {
            Some(count) if count > 0 => usize::try_from(count)
                .map(BatchSize::Count)
                .map_err(|_| bad()),
            _ => Err(bad()),
        },
        Value::String(text) => {
            let text = text.trim();
            if let Some(percent) = text.strip_suffix('%') {
                match percent.trim().parse::<u8>() {
                    Ok(percent) if (1..=100).contains(&percent) => Ok(BatchSize::Percent(percent)),
                    _ => Err(bad()),
                }
            } else {
                match text.parse::<usize>() {
                    Ok(count) if count > 0 => Ok(BatchSize::Count(count)),
                    _ => Err(bad()),
                }
            }
        }
        _ => Err(bad()),
    }
}

fn slots(value: Option<&Value>) -> Result<Option<[String; 2]>, DeploymentSpecError> {
    let key = "deployment.slots";
    if value.is_none_or(Value::is_null) {
        return Ok(None);
    }
    let names = string_list(value, key)?;
    match names.as_slice() {
        [first, second] => Ok(Some([first.clone(), second.clone()])),
        _ => Err(error(
            key,
            format!("must name exactly two slots, not {}", names.len()),
        )),
    }
}

fn canary_phases(value: Option<&Value>) -> Result<Vec<CanaryPhase>, DeploymentSpecError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(error(
                "deployment.phases",
                format!("must be a list of phases, not {}", describe(other)),
            ));
        }
    };
    let mut phases: Vec<CanaryPhase> = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let key = format!("deployment.phases[{index}]");
        let Value::Object(map) = item else {
            return Err(error(
                &key,
                format!("must be a mapping with `weight`, not {}", describe(item)),
            ));
        };
        if let Some(unknown) = map.keys().find(|name| !PHASE_KEYS.contains(&name.as_str())) {
            let hint = closest(unknown, PHASE_KEYS)
                .map(|known| format!(" (did you mean `{known}`?)"))
                .unwrap_or_default();
            return Err(error(
                &format!("{key}.{unknown}"),
                format!("unknown key{hint}"),
            ));
        }
        let weight_key = format!("{key}.weight");
        let weight = match map.get("weight") {
            None => return Err(error(&weight_key, "is missing")),
            Some(value) => weight(value).ok_or_else(|| {
                error(
                    &weight_key,
                    format!(
                        "must be a whole percentage from 1 to 100, not {}",
                        describe(value)
                    ),
                )
            })?,
        };
        if let Some(previous) = phases.last()
            && weight <= previous.weight
        {
            return Err(error(
                &weight_key,
                format!(
                    "{weight} does not grow from the previous phase's {}",
                    previous.weight
                ),
            ));
        }
        let pause_key = format!("{key}.pause");
        let pause = match map.get("pause") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(
                parse_duration(text).map_err(|problem| error(&pause_key, problem.to_string()))?,
            ),
            Some(other) => {
                return Err(error(
                    &pause_key,
                    format!("must be a duration such as \"5m\", not {}", describe(other)),
                ));
            }
        };
        let approval = match map.get("approval") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(flag)) => *flag,
            Some(other) => {
                return Err(error(
                    &format!("{key}.approval"),
                    format!("must be true or false, not {}", describe(other)),
                ));
            }
        };
        phases.push(CanaryPhase {
            weight,
            pause,
            approval,
        });
    }
    if let Some(last) = phases.last() {
        let last_key = format!("deployment.phases[{}]", phases.len() - 1);
        if last.weight != 100 {
            return Err(error(
                &format!("{last_key}.weight"),
                format!("the last phase must reach weight 100, not {}", last.weight),
            ));
        }
        if last.pause.is_some() || last.approval {
            return Err(error(
                &last_key,
                "the last phase has no next phase to pause or wait for approval before",
            ));
        }
    }
    Ok(phases)
}

fn weight(value: &Value) -> Option<u8> {
    let number = match value {
        Value::Number(number) => number.as_u64()?,
        Value::String(text) => text.trim().trim_end_matches('%').trim().parse().ok()?,
        _ => return None,
    };
    u8::try_from(number)
        .ok()
        .filter(|weight| (1..=100).contains(weight))
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
