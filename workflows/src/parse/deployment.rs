//! Reading a job's `deployment:` block (a Slipway extension) into the typed
//! [`Deployment`](crate::model::Deployment): known keys, value shapes and ranges, each problem
//! at the position of the value at fault and named by its path (`deployment.phases[1].weight`).
//!
//! The same reader serves the workflow file (YAML nodes with their positions) and the engine,
//! which reads the block again once its `${{ }}` expressions are evaluated
//! ([`read_deployment_json`]). The rules that tie keys together (which keys fit the strategy,
//! growing canary weights) are `validate::deployment`'s. Nothing here evaluates expressions or
//! panics on input.

use std::fmt;

use serde_json::Value;

use crate::duration::parse_duration;
use crate::model::{BatchSize, Deployment, DeploymentPhase, StrategyKind};
use crate::span::{Span, Spanned};
use crate::validate::did_you_mean;
use crate::yaml::{Entry, Node, NodeValue, Scalar, ScalarKind, ScalarStyle};

/// The keys of a `deployment:` block.
pub const DEPLOYMENT_KEYS: &[&str] = &[
    "strategy",
    "targets",
    "batch-size",
    "verify",
    "acceptance",
    "slots",
    "switch",
    "phases",
];

/// The keys of one canary phase.
pub const PHASE_KEYS: &[&str] = &["weight", "pause", "approval"];

/// A problem in a `deployment:` block: the path of the key at fault, what is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentProblem {
    /// The path of the key, e.g. `deployment.phases[1].weight`.
    pub key: String,
    /// What is wrong with the key, in words (a lowercase fragment).
    pub problem: String,
    /// Where the key at fault is in the file.
    pub span: Span,
}

impl fmt::Display for DeploymentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.key, self.problem)
    }
}

/// Reads a `deployment:` block. A string is a strategy alone (`deployment: blue-green`); null
/// is the default block. The block comes back with every value that could be read, beside
/// every problem found.
pub fn read_deployment(node: &Node) -> (Deployment, Vec<DeploymentProblem>) {
    let mut reader = BlockReader::default();
    let deployment = reader.block(node);
    (deployment, reader.problems)
}

/// Reads a block given as JSON (the engine's, after evaluating its expressions); every value
/// is placed at `span`, the block's own position.
pub fn read_deployment_json(value: &Value, span: Span) -> (Deployment, Vec<DeploymentProblem>) {
    read_deployment(&node_of(value, span))
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct BlockReader {
    problems: Vec<DeploymentProblem>,
}

impl BlockReader {
    fn problem(&mut self, key: impl Into<String>, span: Span, problem: impl Into<String>) {
        self.problems.push(DeploymentProblem {
            key: key.into(),
            problem: problem.into(),
            span,
        });
    }

    fn block(&mut self, node: &Node) -> Deployment {
        let mut deployment = Deployment {
            span: node.span,
            ..Deployment::default()
        };
        let entries = match &node.value {
            NodeValue::Scalar(Scalar {
                kind: ScalarKind::Null,
                ..
            }) => return deployment,
            NodeValue::Scalar(Scalar {
                text,
                kind: ScalarKind::String,
                ..
            }) => {
                deployment.strategy = self.strategy(text, "deployment", node.span);
                return deployment;
            }
            NodeValue::Mapping(entries) => entries,
            _ => {
                let found = describe(&node.to_json());
                self.problem(
                    "deployment",
                    node.span,
                    format!("must be a mapping, not {found}"),
                );
                return deployment;
            }
        };
        for entry in entries {
            deployment
                .keys
                .push(Spanned::new(entry.key.clone(), entry.key_span));
            let key = format!("deployment.{}", entry.key);
            let value = &entry.value;
            match entry.key.as_str() {
                "strategy" => deployment.strategy = self.strategy_value(value, &key),
                "targets" => deployment.targets = self.names(value, &key),
                "batch-size" => deployment.batch_size = self.batch_size(value, &key),
                "verify" => deployment.verify = self.command(value, &key),
                "acceptance" => deployment.acceptance = self.command(value, &key),
                "switch" => deployment.switch = self.command(value, &key),
                "slots" => deployment.slots = self.slots(value, &key),
                "phases" => deployment.phases = self.phases(value, &key),
                _ => self.unknown_key(entry, &key, DEPLOYMENT_KEYS),
            }
        }
        deployment
    }

    fn unknown_key(&mut self, entry: &Entry, key: &str, known: &[&str]) {
        let hint = did_you_mean(&entry.key, known.iter().copied());
        self.problem(key, entry.key_span, format!("unknown key{hint}"));
    }

    fn strategy(&mut self, text: &str, key: &str, span: Span) -> Option<Spanned<StrategyKind>> {
        match StrategyKind::parse(text) {
            Ok(strategy) => Some(Spanned::new(strategy, span)),
            Err(problem) => {
                self.problem(key, span, problem);
                None
            }
        }
    }

    fn strategy_value(&mut self, node: &Node, key: &str) -> Option<Spanned<StrategyKind>> {
        match &node.value {
            NodeValue::Scalar(Scalar {
                kind: ScalarKind::Null,
                ..
            }) => None,
            NodeValue::Scalar(Scalar {
                text,
                kind: ScalarKind::String,
                ..
            }) => self.strategy(text, key, node.span),
            _ => {
                let found = describe(&node.to_json());
                self.problem(key, node.span, format!("must be a string, not {found}"));
                None
            }
        }
    }

    /// A list of distinct non-empty names; a single string is a list of one, as GitHub reads
    /// `branches: main`.
    fn names(&mut self, node: &Node, key: &str) -> Option<Spanned<Vec<Spanned<String>>>> {
        let items = match &node.value {
            NodeValue::Scalar(Scalar {
                kind: ScalarKind::Null,
                ..
            }) => return None,
            NodeValue::Scalar(Scalar {
                text,
                kind: ScalarKind::String,
                ..
            }) => {
                return Some(Spanned::new(
                    vec![Spanned::new(text.clone(), node.span)],
                    node.span,
                ));
            }
            NodeValue::Sequence(items) => items,
            _ => {
                let found = describe(&node.to_json());
                self.problem(
                    key,
                    node.span,
                    format!("must be a list of names, not {found}"),
                );
                return None;
            }
        };
        let mut names: Vec<Spanned<String>> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let item_key = format!("{key}[{index}]");
            let name = match &item.value {
                NodeValue::Scalar(Scalar {
                    text,
                    kind: ScalarKind::String,
                    ..
                }) if !text.trim().is_empty() => text.clone(),
                NodeValue::Scalar(Scalar {
                    kind: ScalarKind::Int(_) | ScalarKind::Float(_),
                    ..
                }) => item.to_json().to_string(),
                _ => {
                    let found = describe(&item.to_json());
                    self.problem(
                        item_key,
                        item.span,
                        format!("must be a non-empty name, not {found}"),
                    );
                    return None;
                }
            };
            if names.iter().any(|known| known.value == name) {
                self.problem(item_key, item.span, format!("`{name}` is listed twice"));
                return None;
            }
            names.push(Spanned::new(name, item.span));
        }
        Some(Spanned::new(names, node.span))
    }

    fn command(&mut self, node: &Node, key: &str) -> Option<Spanned<String>> {
        match &node.value {
            NodeValue::Scalar(Scalar {
                kind: ScalarKind::Null,
                ..
            }) => None,
            NodeValue::Scalar(Scalar {
                text,
                kind: ScalarKind::String,
                ..
            }) => {
                if text.trim().is_empty() {
                    self.problem(key, node.span, "is empty");
                    None
                } else {
                    Some(Spanned::new(text.clone(), node.span))
                }
            }
            _ => {
                let found = describe(&node.to_json());
                self.problem(
                    key,
                    node.span,
                    format!("must be a command string, not {found}"),
                );
                None
            }
        }
    }

    fn batch_size(&mut self, node: &Node, key: &str) -> Option<Spanned<BatchSize>> {
        let value = node.to_json();
        let size = match &value {
            Value::Number(number) => number
                .as_u64()
                .filter(|count| *count > 0)
                .and_then(|count| usize::try_from(count).ok())
                .map(BatchSize::Count),
            Value::String(text) => {
                let text = text.trim();
                match text.strip_suffix('%') {
                    Some(percent) => percent
                        .trim()
                        .parse::<u8>()
                        .ok()
                        .filter(|percent| (1..=100).contains(percent))
                        .map(BatchSize::Percent),
                    None => text
                        .parse::<usize>()
                        .ok()
                        .filter(|count| *count > 0)
                        .map(BatchSize::Count),
                }
            }
            _ => None,
        };
        if size.is_none() {
            self.problem(
                key,
                node.span,
                format!(
                    "must be a positive whole number or a percentage such as \"25%\", not {}",
                    describe(&value)
                ),
            );
        }
        size.map(|size| Spanned::new(size, node.span))
    }

    fn slots(&mut self, node: &Node, key: &str) -> Option<Spanned<[Spanned<String>; 2]>> {
        let names = self.names(node, key)?;
        match <[Spanned<String>; 2]>::try_from(names.value) {
            Ok(pair) => Some(Spanned::new(pair, node.span)),
            Err(names) => {
                self.problem(
                    key,
                    node.span,
                    format!("must name exactly two slots, not {}", names.len()),
                );
                None
            }
        }
    }

    fn phases(&mut self, node: &Node, key: &str) -> Option<Spanned<Vec<DeploymentPhase>>> {
        let items = match &node.value {
            NodeValue::Scalar(Scalar {
                kind: ScalarKind::Null,
                ..
            }) => return None,
            NodeValue::Sequence(items) => items,
            _ => {
                let found = describe(&node.to_json());
                self.problem(
                    key,
                    node.span,
                    format!("must be a list of phases, not {found}"),
                );
                return None;
            }
        };
        let mut phases = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let phase_key = format!("{key}[{index}]");
            if let Some(phase) = self.phase(item, &phase_key) {
                phases.push(phase);
            }
        }
        Some(Spanned::new(phases, node.span))
    }

    fn phase(&mut self, node: &Node, key: &str) -> Option<DeploymentPhase> {
        let NodeValue::Mapping(entries) = &node.value else {
            let found = describe(&node.to_json());
            self.problem(
                key,
                node.span,
                format!("must be a mapping with `weight`, not {found}"),
            );
            return None;
        };
        let (mut weight, mut pause, mut approval) = (None, None, None);
        let mut complete = true;
        for entry in entries {
            let entry_key = format!("{key}.{}", entry.key);
            let value = &entry.value;
            let found = || describe(&value.to_json());
            match entry.key.as_str() {
                "weight" => {
                    weight = self::weight(&value.to_json()).map(|w| Spanned::new(w, value.span));
                    if weight.is_none() {
                        self.problem(
                            entry_key,
                            value.span,
                            format!("must be a whole percentage from 1 to 100, not {}", found()),
                        );
                        complete = false;
                    }
                }
                "pause" => match value.to_json() {
                    Value::Null => {}
                    Value::String(text) => match parse_duration(&text) {
                        Ok(duration) => pause = Some(Spanned::new(duration, value.span)),
                        Err(problem) => {
                            self.problem(entry_key, value.span, problem.to_string());
                            complete = false;
                        }
                    },
                    _ => {
                        self.problem(
                            entry_key,
                            value.span,
                            format!("must be a duration such as \"5m\", not {}", found()),
                        );
                        complete = false;
                    }
                },
                "approval" => match value.to_json() {
                    Value::Null => {}
                    Value::Bool(flag) => approval = Some(Spanned::new(flag, value.span)),
                    _ => {
                        self.problem(
                            entry_key,
                            value.span,
                            format!("must be true or false, not {}", found()),
                        );
                        complete = false;
                    }
                },
                _ => {
                    self.unknown_key(entry, &entry_key, PHASE_KEYS);
                    complete = false;
                }
            }
        }
        let Some(weight) = weight else {
            if complete {
                self.problem(format!("{key}.weight"), node.span, "is missing");
            }
            return None;
        };
        complete.then_some(DeploymentPhase {
            span: node.span,
            weight,
            pause,
            approval,
        })
    }
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

/// How a value reads in a message: "the number `3`", "the string `two`", "a list", ….
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

/// A JSON value as a YAML node, every position at `span`.
fn node_of(value: &Value, span: Span) -> Node {
    let scalar = |text: String, kind: ScalarKind| {
        NodeValue::Scalar(Scalar {
            text,
            style: if kind == ScalarKind::String {
                ScalarStyle::DoubleQuoted
            } else {
                ScalarStyle::Plain
            },
            kind,
        })
    };
    let value = match value {
        Value::Null => scalar("null".to_string(), ScalarKind::Null),
        Value::Bool(flag) => scalar(flag.to_string(), ScalarKind::Bool(*flag)),
        Value::Number(number) => match (number.as_i64(), number.as_f64()) {
            (Some(int), _) => scalar(number.to_string(), ScalarKind::Int(int)),
            (None, Some(float)) => scalar(number.to_string(), ScalarKind::Float(float)),
            // A u64 past i64: the reader only needs its text to say it is out of range.
            (None, None) => scalar(number.to_string(), ScalarKind::String),
        },
        Value::String(text) => scalar(text.clone(), ScalarKind::String),
        Value::Array(items) => {
            NodeValue::Sequence(items.iter().map(|item| node_of(item, span)).collect())
        }
        Value::Object(map) => NodeValue::Mapping(
            map.iter()
                .map(|(key, item)| Entry {
                    key: key.clone(),
                    key_span: span,
                    value: node_of(item, span),
                })
                .collect(),
        ),
    };
    Node { span, value }
}
