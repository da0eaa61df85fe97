//! Jobs and steps: ids (shape, reserved `__`, duplicates ignoring case), the `needs` graph
//! (unknown jobs, self-dependency, cycles, no start job), `timeout-minutes`, and `uses:` (what
//! Slipway can run, what GitHub rejects).

use std::collections::{HashMap, HashSet};

use crate::model::{Job, NumberOrExpr, Step, Workflow};
use crate::span::Spanned;

use super::{Checker, did_you_mean};

/// Actions Slipway runs itself (any `@ref`).
pub(crate) const BUILT_IN_ACTIONS: &[&str] = &[
    "actions/checkout",
    "actions/upload-artifact",
    "actions/download-artifact",
    "actions/cache",
];

pub(super) fn check(checker: &mut Checker, workflow: &Workflow) {
    check_job_ids(checker, workflow);
    check_needs(checker, workflow);
    for job in workflow.jobs.values() {
        check_steps(checker, job);
        check_timeout(
            checker,
            &job.timeout_minutes,
            &format!("job `{}`", job.id.value),
        );
        if let Some(uses) = &job.uses {
            check_workflow_call(checker, job, uses);
        }
    }
}

/// Why an id is invalid, if it is.
pub(crate) fn invalid_id(id: &str) -> Option<&'static str> {
    let mut chars = id.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok
        || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        || id.len() >= 100
    {
        return Some(
            "ids must start with a letter or `_`, contain only alphanumeric characters, `-` or `_`, and be \
             shorter than 100 characters",
        );
    }
    if id.starts_with("__") {
        return Some("ids starting with `__` are reserved");
    }
    None
}

fn check_job_ids(checker: &mut Checker, workflow: &Workflow) {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for job in workflow.jobs.values() {
        let id = &job.id;
        if id.value.contains("${{") {
            checker.error(
                id.span,
                format!(
                    "a template expression is not allowed in a job id (`{}`)",
                    id.value
                ),
            );
        } else if id.value.starts_with("__") {
            // The id's shape is the parser's to check; the reserved prefix is not.
            checker.error(
                id.span,
                format!(
                    "job id `{}` is invalid: ids starting with `__` are reserved",
                    id.value
                ),
            );
        }
        if let Some(first) = seen.insert(id.value.to_ascii_lowercase(), &id.value) {
            checker.error(
                id.span,
                format!(
                    "job id `{}` is already used by job `{first}` (ids ignore case)",
                    id.value
                ),
            );
        }
    }
}

fn check_needs(checker: &mut Checker, workflow: &Workflow) {
    let by_lowercase: HashMap<String, &str> = workflow
        .jobs
        .values()
        .map(|job| (job.id.value.to_ascii_lowercase(), job.id.value.as_str()))
        .collect();
    let job_ids: Vec<&str> = workflow
        .jobs
        .values()
        .map(|job| job.id.value.as_str())
        .collect();
    for job in workflow.jobs.values() {
        let own = job.id.value.to_ascii_lowercase();
        for need in &job.needs {
            let wanted = need.value.to_ascii_lowercase();
            if need.value.contains("${{") {
                checker.error(
                    need.span,
                    format!(
                        "a template expression is not allowed in `needs` of job `{}`",
                        job.id.value
                    ),
                );
            } else if wanted == own {
                checker.error(need.span, format!("job `{}` needs itself", job.id.value));
            } else if !by_lowercase.contains_key(&wanted) {
                let others = job_ids
                    .iter()
                    .copied()
                    .filter(|id| !id.eq_ignore_ascii_case(&job.id.value));
                checker.error(
                    need.span,
                    format!(
                        "job `{}` needs `{}`, which does not exist{}",
                        job.id.value,
                        need.value,
                        did_you_mean(&need.value, others)
                    ),
                );
            }
        }
    }
    report_cycles(checker, workflow);
    if !workflow.jobs.is_empty()
        && workflow.jobs.values().all(|job| !job.needs.is_empty())
        && let Some(first) = workflow.jobs.values().next()
    {
        checker.error(
            first.id.span,
            "the workflow must contain at least one job with no dependencies",
        );
    }
}

/// Finds each cycle once (depth-first, in declaration order) and names it whole.
fn report_cycles(checker: &mut Checker, workflow: &Workflow) {
    let index: HashMap<String, usize> = workflow
        .jobs
        .values()
        .enumerate()
        .map(|(i, job)| (job.id.value.to_ascii_lowercase(), i))
        .collect();
    let jobs: Vec<&Job> = workflow.jobs.values().collect();
    let edges: Vec<Vec<(usize, &Spanned<String>)>> = jobs
        .iter()
        .enumerate()
        .map(|(own, job)| {
            job.needs
                .iter()
                .filter_map(|need| {
                    index
                        .get(&need.value.to_ascii_lowercase())
                        .map(|&to| (to, need))
                })
                .filter(|(to, _)| *to != own)
                .collect()
        })
        .collect();
    // 0 = unvisited, 1 = on the current path, 2 = done.
    let mut state = vec![0u8; jobs.len()];
    let mut reported: HashSet<Vec<usize>> = HashSet::new();
    for start in 0..jobs.len() {
        if state.get(start) != Some(&0) {
            continue;
        }
        // Iterative DFS: (node, next edge index).
        let mut path: Vec<(usize, usize)> = vec![(start, 0)];
        if let Some(s) = state.get_mut(start) {
            *s = 1;
        }
        while let Some(&mut (node, ref mut edge)) = path.last_mut() {
            let Some(&(to, _)) = edges.get(node).and_then(|e| e.get(*edge)) else {
                if let Some(s) = state.get_mut(node) {
                    *s = 2;
                }
                path.pop();
                continue;
            };
            *edge += 1;
            match state.get(to) {
                Some(0) => {
                    if let Some(s) = state.get_mut(to) {
                        *s = 1;
                    }
                    path.push((to, 0));
                }
                Some(1) => {
                    let members: Vec<usize> = path
                        .iter()
                        .map(|(n, _)| *n)
                        .skip_while(|n| *n != to)
                        .collect();
                    let mut key = members.clone();
                    key.sort_unstable();
                    if reported.insert(key) {
                        report_cycle(checker, &jobs, &edges, &members);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Reports a cycle at each of its edges (each `needs` entry in it is at fault), naming it whole.
fn report_cycle(
    checker: &mut Checker,
    jobs: &[&Job],
    edges: &[Vec<(usize, &Spanned<String>)>],
    members: &[usize],
) {
    let name = |n: usize| jobs.get(n).map_or("", |job| job.id.value.as_str());
    for (position, &from) in members.iter().enumerate() {
        // Rotate so the cycle is named from the job whose `needs` entry is reported.
        let rotated: Vec<usize> = members
            .iter()
            .cycle()
            .skip(position)
            .take(members.len() + 1)
            .copied()
            .collect();
        let to = rotated.get(1).copied().unwrap_or(from);
        let names: Vec<String> = rotated.iter().map(|&n| format!("`{}`", name(n))).collect();
        if let Some((_, need)) = edges
            .get(from)
            .and_then(|e| e.iter().find(|(target, _)| *target == to))
        {
            checker.error(
                need.span,
                format!("jobs {} form a cycle", names.join(" → ")),
            );
        }
    }
}

fn check_steps(checker: &mut Checker, job: &Job) {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (index, step) in job.steps.iter().enumerate() {
        let label = step_label(step, index);
        // The id a `parallel:` group gave a member without one (it carries the step's own span).
        let generated = step.id.as_ref().is_some_and(|id| {
            step.background && id.span == step.span && id.value.starts_with("__parallel_")
        });
        if let Some(id) = step.id.as_ref().filter(|_| !generated) {
            if id.value.contains("${{") {
                checker.error(
                    id.span,
                    format!("a template expression is not allowed in the id of {label}"),
                );
            } else if let Some(why) = invalid_id(&id.value) {
                checker.error(
                    id.span,
                    format!(
                        "step id `{}` in job `{}` is invalid: {why}",
                        id.value, job.id.value
                    ),
                );
            }
            if let Some(first) = seen.insert(id.value.to_ascii_lowercase(), &id.value) {
                checker.error(
                    id.span,
                    format!("step id `{}` is already used by step `{first}` in job `{}` (ids ignore case)", id.value, job.id.value),
                );
            }
        }
        check_timeout(checker, &step.timeout_minutes, &label);
        if let Some(uses) = &step.uses {
            check_step_uses(checker, &label, uses);
        }
    }
}

/// "step `Build`" (its name, else its id, else its position).
pub(crate) fn step_label(step: &Step, index: usize) -> String {
    match (&step.name, &step.id) {
        (Some(name), _) => format!("step `{}`", name.value),
        (None, Some(id)) => format!("step `{}`", id.value),
        (None, None) => format!("step {}", index + 1),
    }
}

fn check_timeout(checker: &mut Checker, timeout: &Option<Spanned<NumberOrExpr>>, owner: &str) {
    let Some(Spanned {
        value: NumberOrExpr::Number(minutes),
        span,
    }) = timeout
    else {
        return;
    };
    if !(minutes.is_finite() && *minutes > 0.0) {
        checker.error(
            *span,
            format!("`timeout-minutes` of {owner} must be a positive number, not {minutes}"),
        );
    }
}

fn check_step_uses(checker: &mut Checker, label: &str, uses: &Spanned<String>) {
    let value = uses.value.trim();
    if value.contains("${{") {
        checker.error(
            uses.span,
            format!("a template expression is not allowed in `uses` of {label}"),
        );
        return;
    }
    if value.starts_with("./") || value == "." {
        return;
    }
    if let Some(image) = value.strip_prefix("docker://") {
        if image.is_empty() {
            checker.error(
                uses.span,
                format!("`uses` of {label} names no docker image"),
            );
        }
        return;
    }
    let Some((repository, _reference)) = remote_reference(value) else {
        checker.error(
            uses.span,
            format!("`uses` of {label} must be `./path`, `docker://image` or `owner/repo[/path]@ref`, not `{value}`"),
        );
        return;
    };
    let is_built_in = BUILT_IN_ACTIONS
        .iter()
        .any(|built_in| built_in.eq_ignore_ascii_case(repository));
    if !is_built_in {
        let owner_repo: Vec<&str> = repository.split('/').take(2).collect();
        let repository = owner_repo.join("/");
        checker.warning(
            uses.span,
            format!(
                "{label} uses `{value}`, which Slipway cannot run unless the engine mirrors it \
                 (slipway action mirror {repository}; built in: {})",
                BUILT_IN_ACTIONS.join(", ")
            ),
        );
    }
}

/// `owner/repo[/path]@ref` → (`owner/repo[/path]`, `ref`).
fn remote_reference(value: &str) -> Option<(&str, &str)> {
    let (path, reference) = value.rsplit_once('@')?;
    let mut parts = path.split('/');
    let owner = parts.next()?;
    let repo = parts.next()?;
    // GitHub checks only the shape; names with odd characters fail later, when fetched.
    let valid_name = |name: &str| !name.trim().is_empty() && !name.contains(['$', ':']);
    if !valid_name(owner) || !valid_name(repo) || reference.is_empty() || parts.any(str::is_empty) {
        return None;
    }
    Some((path, reference))
}

fn check_workflow_call(checker: &mut Checker, job: &Job, uses: &Spanned<String>) {
    let value = uses.value.trim();
    let id = &job.id.value;
    if value.contains("${{") {
        checker.error(
            uses.span,
            format!("a template expression is not allowed in `uses` of job `{id}`"),
        );
        return;
    }
    let is_workflow_file = |path: &str| path.ends_with(".yml") || path.ends_with(".yaml");
    if let Some(path) = value.strip_prefix("./") {
        if !path.starts_with(".github/workflows/") || !is_workflow_file(path) || path.contains('@')
        {
            checker.error(
                uses.span,
                format!("job `{id}` calls `{value}`: a local reusable workflow must be `./.github/workflows/<file>.yml`"),
            );
        }
        return;
    }
    match remote_reference(value) {
        Some((path, _)) if path.split('/').count() > 2 && is_workflow_file(path) => {
            checker.warning(
                uses.span,
                format!(
                    "job `{id}` calls the remote workflow `{value}`, which Slipway runs only from an action mirror \
                     (slipway action mirror {})",
                    path.split('/').take(2).collect::<Vec<_>>().join("/")
                ),
            );
        }
        _ => checker.error(
            uses.span,
            format!(
                "job `{id}` calls `{value}`: a reusable workflow must be `./.github/workflows/<file>.yml` or \
                 `owner/repo/.github/workflows/<file>.yml@ref`"
            ),
        ),
    }
}
