//! A workflow step turned into the plain-data `protocol::Step` a job spec carries to a runner.
//!
//! Field-by-field copy: expressions stay as written (the runner evaluates step-level ones), the
//! step's own line and column go along for messages. Must not evaluate or check anything.

use protocol::{BoolOrExpression, NumberOrExpression};
use workflows::model::{BoolOrExpr, NumberOrExpr, Step, StepControl};
use workflows::span::Spanned;

/// The wire form of `step`.
pub fn step_to_wire(step: &Step) -> protocol::Step {
    let text = |field: &Option<Spanned<String>>| field.as_ref().map(|value| value.value.clone());
    protocol::Step {
        id: text(&step.id),
        name: text(&step.name),
        condition: text(&step.condition),
        run: text(&step.run),
        uses: text(&step.uses),
        shell: text(&step.shell),
        with: step
            .with
            .iter()
            .map(|(name, value)| (name.clone(), value.value.clone()))
            .collect(),
        env: step
            .env
            .iter()
            .map(|(name, value)| (name.clone(), value.value.clone()))
            .collect(),
        working_directory: text(&step.working_directory),
        continue_on_error: step
            .continue_on_error
            .as_ref()
            .map(|value| match &value.value {
                BoolOrExpr::Bool(flag) => BoolOrExpression::Bool(*flag),
                BoolOrExpr::Expr(text) => BoolOrExpression::Expression(text.clone()),
            }),
        timeout_minutes: step
            .timeout_minutes
            .as_ref()
            .map(|value| match &value.value {
                NumberOrExpr::Number(number) => NumberOrExpression::Number(*number),
                NumberOrExpr::Expr(text) => NumberOrExpression::Expression(text.clone()),
            }),
        background: step.background,
        control: step.control.as_ref().map(|control| match control {
            StepControl::Wait(ids) => protocol::StepControl::Wait(values(ids)),
            StepControl::WaitAll => protocol::StepControl::WaitAll,
            StepControl::Cancel(ids) => protocol::StepControl::Cancel(values(ids)),
        }),
        line: step.span.line,
        column: step.span.column,
    }
}

fn values(ids: &[Spanned<String>]) -> Vec<String> {
    ids.iter().map(|id| id.value.clone()).collect()
}
