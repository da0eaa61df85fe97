//! The rules that tie a `deployment:` block's keys together, over the typed block: which keys
//! fit the strategy, what a strategy needs (targets, phases), and canary weights that grow to
//! 100 with nothing to wait for after the last phase. Each problem is placed at the value (or
//! key) at fault and named by its path (`deployment.phases[1].weight`).
//!
//! [`check_deployment`] is what the engine runs too, once the block's expressions are
//! evaluated. It reads no clock and never changes the block.

use crate::model::{Deployment, StrategyKind, Workflow};
use crate::parse::deployment::DeploymentProblem;
use crate::span::Span;

use super::Checker;

/// Checks a block already read without problems. `default_strategy` (an environment's) applies
/// when the block names none; without either the strategy is big-bang.
pub fn check_deployment(
    deployment: &Deployment,
    default_strategy: Option<StrategyKind>,
) -> Vec<DeploymentProblem> {
    let mut problems = Vec::new();
    let mut problem = |key: String, span, text: String| problems.push(found(key, span, text));
    let strategy = deployment
        .strategy
        .as_ref()
        .map(|strategy| strategy.value)
        .or(default_strategy)
        .unwrap_or(StrategyKind::BigBang);
    let allowed: &[&str] = match strategy {
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
    if let Some(key) = deployment
        .keys
        .iter()
        .find(|key| !allowed.contains(&key.value.as_str()))
    {
        let owner = match key.value.as_str() {
            "batch-size" => "rolling",
            "slots" | "switch" => "blue-green",
            _ => "canary",
        };
        problem(
            format!("deployment.{}", key.value),
            key.span,
            format!("applies only to strategy {owner}, not {strategy}"),
        );
        return problems;
    }
    let has_targets = deployment
        .targets
        .as_ref()
        .is_some_and(|targets| !targets.value.is_empty());
    let phases = deployment
        .phases
        .as_ref()
        .map(|phases| phases.value.as_slice())
        .unwrap_or_default();
    let block_span = deployment
        .strategy
        .as_ref()
        .map(|strategy| strategy.span)
        .unwrap_or(deployment.span);
    match strategy {
        StrategyKind::Rolling if !has_targets => problem(
            "deployment.targets".into(),
            deployment
                .targets
                .as_ref()
                .map(|targets| targets.span)
                .unwrap_or(block_span),
            "strategy rolling needs at least one target".into(),
        ),
        StrategyKind::Canary if phases.is_empty() => problem(
            "deployment.phases".into(),
            deployment
                .phases
                .as_ref()
                .map(|phases| phases.span)
                .unwrap_or(block_span),
            "strategy canary needs at least one phase".into(),
        ),
        _ => {}
    }
    problems.extend(check_phases(deployment));
    problems
}

/// The canary phase rules, which hold whatever the strategy: weights grow, the last one is
/// 100, and nothing waits after the last phase.
pub fn check_phases(deployment: &Deployment) -> Vec<DeploymentProblem> {
    let mut problems = Vec::new();
    let mut problem = |key: String, span, text: String| problems.push(found(key, span, text));
    let phases = deployment
        .phases
        .as_ref()
        .map(|phases| phases.value.as_slice())
        .unwrap_or_default();
    for (index, pair) in phases.windows(2).enumerate() {
        let [previous, phase] = pair else { continue };
        if phase.weight.value <= previous.weight.value {
            problem(
                format!("deployment.phases[{}].weight", index + 1),
                phase.weight.span,
                format!(
                    "{} does not grow from the previous phase's {}",
                    phase.weight.value, previous.weight.value
                ),
            );
            return problems;
        }
    }
    if let Some(last) = phases.last() {
        let index = phases.len() - 1;
        if last.weight.value != 100 {
            problem(
                format!("deployment.phases[{index}].weight"),
                last.weight.span,
                format!(
                    "the last phase must reach weight 100, not {}",
                    last.weight.value
                ),
            );
        } else if last.pause.is_some()
            || last
                .approval
                .as_ref()
                .is_some_and(|approval| approval.value)
        {
            problem(
                format!("deployment.phases[{index}]"),
                last.span,
                "the last phase has no next phase to pause or wait for approval before".into(),
            );
        }
    }
    problems
}

fn found(key: String, span: Span, problem: String) -> DeploymentProblem {
    DeploymentProblem { key, problem, span }
}

/// Checks the typed `deployment:` block of every job (blocks with `${{ }}` expressions are
/// checked by the engine once evaluated), and warns about a block without `environment:`.
pub(crate) fn check(checker: &mut Checker, workflow: &Workflow) {
    for (job_id, job) in &workflow.jobs {
        let Some(block) = &job.deployment else {
            continue;
        };
        if job.environment.is_none() {
            checker.warning(
                block.span,
                format!(
                    "`jobs.{job_id}.deployment` has no effect without `environment:` (the environment's gate and lane run the deployment)"
                ),
            );
        }
        let Some(typed) = &block.typed else {
            continue;
        };
        // Without `strategy:` the environment's default decides which keys fit, and only the
        // engine knows it: the block is checked against it when the job starts.
        let problems = match typed.strategy {
            Some(_) => check_deployment(typed, None),
            None => check_phases(typed),
        };
        for problem in problems {
            checker.error(problem.span, format!("in `jobs.{job_id}`: {problem}"));
        }
    }
}
