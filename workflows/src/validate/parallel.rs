//! Parallel steps (GitHub, June 2026): every id a `wait` or `cancel` step names must be an
//! earlier step of the same job that runs in the background (`background: true`, or a member of
//! a `parallel:` group). Shapes (`parallel` groups not nested, no control keys inside a group)
//! are the parser's; this module only follows ids through a job's step list.

use std::collections::HashMap;

use crate::model::{Job, Step, StepControl, Workflow};

use super::jobs::step_label;
use super::{Checker, did_you_mean};

pub(super) fn check(checker: &mut Checker, workflow: &Workflow) {
    for job in workflow.jobs.values() {
        check_job(checker, job);
    }
}

fn check_job(checker: &mut Checker, job: &Job) {
    // Every step id of the job (lowercase) → its position and whether it runs in the background.
    let ids: HashMap<String, (usize, bool)> = job
        .steps
        .iter()
        .enumerate()
        .filter_map(|(index, step)| {
            let id = step.id.as_ref()?;
            Some((id.value.to_ascii_lowercase(), (index, step.background)))
        })
        .collect();
    for (index, step) in job.steps.iter().enumerate() {
        let (verb, targets) = match &step.control {
            Some(StepControl::Wait(targets)) => ("wait", targets),
            Some(StepControl::Cancel(targets)) => ("cancel", targets),
            Some(StepControl::WaitAll) | None => continue,
        };
        let label = step_label(step, index);
        for target in targets {
            if target.value.contains("${{") {
                continue;
            }
            let problem = match ids.get(&target.value.to_ascii_lowercase()) {
                Some((position, true)) if *position < index => continue,
                Some((_, true)) => format!(
                    "`{verb}` in {label} of job `{}` names step `{}`, which comes after it; only earlier background steps can be named",
                    job.id.value, target.value
                ),
                Some(_) => format!(
                    "`{verb}` in {label} of job `{}` names step `{}`, which does not run in the background (give it `background: true`)",
                    job.id.value, target.value
                ),
                None => format!(
                    "`{verb}` in {label} of job `{}` names unknown step id `{}`{}",
                    job.id.value,
                    target.value,
                    did_you_mean(&target.value, background_ids(&job.steps))
                ),
            };
            checker.error(target.span, problem);
        }
    }
}

fn background_ids(steps: &[Step]) -> impl Iterator<Item = &str> {
    steps
        .iter()
        .filter(|step| step.background)
        .filter_map(|step| step.id.as_ref().map(|id| id.value.as_str()))
}

#[cfg(test)]
mod tests {
    use crate::parse_workflow;

    /// The error messages for `steps` (YAML list items under one job), each with its line.
    fn errors(steps: &str) -> Vec<(u32, String)> {
        let source =
            format!("on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n{steps}");
        parse_workflow("ci.yml", &source)
            .diagnostics
            .iter()
            .filter(|d| d.severity == crate::diagnostic::Severity::Error)
            .map(|d| (d.span.line, d.message.clone()))
            .collect()
    }

    #[test]
    fn waits_and_cancels_on_earlier_background_steps_are_valid() {
        let steps = "      - id: server\n        run: sleep 5\n        background: true\n      - wait: server\n      - wait-all:\n      - cancel: [server]\n      - parallel:\n          - run: echo a\n          - id: b\n            run: echo b\n";
        assert_eq!(errors(steps), vec![]);
    }

    #[test]
    fn unknown_ids_and_steps_not_in_the_background_are_errors_at_their_line() {
        let steps = "      - id: server\n        run: sleep 5\n        background: true\n      - id: plain\n        run: echo\n      - wait: [servr, plain]\n      - cancel: later\n      - id: later\n        run: echo\n        background: true\n";
        let found = errors(steps);
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0]
                .1
                .contains("unknown step id `servr` (did you mean `server`?)"),
            "{found:?}"
        );
        assert_eq!(found[0].0, 11);
        assert!(
            found[1].1.contains("does not run in the background"),
            "{found:?}"
        );
        assert!(found[2].1.contains("comes after it"), "{found:?}");
        assert_eq!(found[2].0, 12);
    }

    #[test]
    fn a_parallel_group_is_background_members_and_a_wait_on_them() {
        let source = "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - parallel:\n          - run: echo a\n          - id: b\n            run: echo b\n      - run: echo after\n";
        let parsed = parse_workflow("ci.yml", source);
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let workflow = parsed.workflow.expect("a workflow");
        let steps = &workflow.jobs["build"].steps;
        assert_eq!(steps.len(), 4);
        assert!(steps[0].background && steps[1].background && !steps[3].background);
        assert_eq!(
            steps[0].id.as_ref().map(|id| id.value.as_str()),
            Some("__parallel_1_1")
        );
        let Some(crate::model::StepControl::Wait(ids)) = &steps[2].control else {
            panic!("no wait step: {:?}", steps[2]);
        };
        let ids: Vec<&str> = ids.iter().map(|id| id.value.as_str()).collect();
        assert_eq!(ids, ["__parallel_1_1", "b"]);
    }

    #[test]
    fn nested_parallel_groups_and_control_steps_inside_a_group_are_errors() {
        let steps = "      - parallel:\n          - run: echo a\n          - parallel:\n              - run: echo b\n          - wait-all:\n";
        let found = errors(steps);
        assert!(
            found
                .iter()
                .any(|(line, m)| *line == 8 && m.contains("cannot be nested")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|(line, m)| *line == 10 && m.contains("`wait-all` is not allowed")),
            "{found:?}"
        );
    }
}
