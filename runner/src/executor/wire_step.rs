//! A `protocol::Step` from the job spec turned back into the `workflows` step the executor runs.
//!
//! Every field gets the step's own position (the wire carries one line/column per step), so a
//! message about any field points at the step. Must not evaluate or check anything.

use protocol::{BoolOrExpression, NumberOrExpression};
use workflows::model::{BoolOrExpr, NumberOrExpr, Step, StepControl};
use workflows::span::{Span, Spanned};

/// The executor's form of `step`.
pub fn step_from_wire(step: &protocol::Step) -> Step {
    let span = Span::new(0, step.line, step.column);
    let spanned = |value: &str| Spanned::new(value.to_string(), span);
    let text = |field: &Option<String>| field.as_deref().map(spanned);
    Step {
        id: text(&step.id),
        name: text(&step.name),
        condition: text(&step.condition),
        run: text(&step.run),
        uses: text(&step.uses),
        shell: text(&step.shell),
        with: step
            .with
            .iter()
            .map(|(name, value)| (name.clone(), spanned(value)))
            .collect(),
        env: step
            .env
            .iter()
            .map(|(name, value)| (name.clone(), spanned(value)))
            .collect(),
        working_directory: text(&step.working_directory),
        continue_on_error: step.continue_on_error.as_ref().map(|value| {
            Spanned::new(
                match value {
                    BoolOrExpression::Bool(flag) => BoolOrExpr::Bool(*flag),
                    BoolOrExpression::Expression(text) => BoolOrExpr::Expr(text.clone()),
                },
                span,
            )
        }),
        timeout_minutes: step.timeout_minutes.as_ref().map(|value| {
            Spanned::new(
                match value {
                    NumberOrExpression::Number(number) => NumberOrExpr::Number(*number),
                    NumberOrExpression::Expression(text) => NumberOrExpr::Expr(text.clone()),
                },
                span,
            )
        }),
        background: step.background,
        control: step.control.as_ref().map(|control| {
            let ids = |ids: &[String]| -> Vec<Spanned<String>> {
                ids.iter().map(|id| spanned(id.as_str())).collect()
            };
            match control {
                protocol::StepControl::Wait(list) => StepControl::Wait(ids(list)),
                protocol::StepControl::WaitAll => StepControl::WaitAll,
                protocol::StepControl::Cancel(list) => StepControl::Cancel(ids(list)),
            }
        }),
        span,
    }
}
