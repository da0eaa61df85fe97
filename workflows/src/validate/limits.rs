//! Size limits of one run, checked before anything is expanded or planned, so a small file cannot
//! make the engine allocate or compute without bound. Every refusal names the limit and the value.
//! The scheduler checks the same job total again at plan time for matrices written as
//! expressions (their size is known only then). This module only counts: it never expands a
//! matrix into its combinations.
//!
//! The limits (documented in `docs/workflows.md`):
//! - [`MAX_JOBS_PER_RUN`]: jobs of a run after matrix expansion (GitHub's 256 legs per matrix,
//!   `matrix::MAX_COMBINATIONS`, still applies to each job).
//! - [`MAX_EXPANSION_COST`]: the sum over jobs of the matrix cross product plus `include` entries,
//!   before `exclude` — the work expansion would do; checked first, in time linear in the file.
//! - [`MAX_NEEDS_DEPTH`]: the longest `needs` chain.

use std::collections::HashMap;

use crate::matrix;
use crate::model::{Matrix, MatrixValues, Workflow};

use super::Checker;

/// The most jobs one run has, counting each matrix leg as a job.
pub const MAX_JOBS_PER_RUN: usize = 5_000;

/// The most matrix work (cross products plus `include` entries, summed over the jobs) a run may
/// ask for before its matrices are expanded.
pub const MAX_EXPANSION_COST: usize = matrix::MAX_PRODUCT;

/// The longest chain of jobs linked by `needs` (a job with no `needs` has depth 1).
pub const MAX_NEEDS_DEPTH: usize = 100;

pub(super) fn check(checker: &mut Checker, workflow: &Workflow) {
    check_size(checker, workflow);
    check_depth(checker, workflow);
}

/// The upper bound of a job's legs, computed from lengths only: 1 without a literal matrix.
fn expansion_cost(job: &crate::model::Job) -> usize {
    let Some(Matrix::Map(map)) = job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) else {
        return 1;
    };
    let mut product: usize = if map.dimensions.is_empty() { 0 } else { 1 };
    for values in map.dimensions.values() {
        let length = match values {
            MatrixValues::List(list) => list.value.len(),
            MatrixValues::Expr(_) => 1,
        };
        product = product.saturating_mul(length);
    }
    let includes = match &map.include {
        Some(MatrixValues::List(list)) => list.value.len(),
        _ => 0,
    };
    product.saturating_add(includes).max(1)
}

fn check_size(checker: &mut Checker, workflow: &Workflow) {
    let Some(first) = workflow.jobs.values().next() else {
        return;
    };
    let span = first.id.span;
    let cost = workflow
        .jobs
        .values()
        .fold(0usize, |sum, job| sum.saturating_add(expansion_cost(job)));
    if cost > MAX_EXPANSION_COST {
        checker.error(
            span,
            format!(
                "the workflow's matrices ask for {cost} combinations before `exclude` (axis products plus `include` entries, over all jobs), more than the expansion limit of {MAX_EXPANSION_COST}"
            ),
        );
        return;
    }
    // The cost bounds the work: count the legs exactly (no leg is built).
    let mut jobs: usize = 0;
    for job in workflow.jobs.values() {
        let legs = match job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) {
            Some(Matrix::Map(map)) => match matrix::from_model(map) {
                Ok(input) => matrix::count(&input).unwrap_or(1),
                // An expression part: the scheduler counts it when it is evaluated.
                Err(_) => 1,
            },
            _ => 1,
        };
        jobs = jobs.saturating_add(legs.max(1));
    }
    if jobs > MAX_JOBS_PER_RUN {
        checker.error(
            span,
            format!(
                "the workflow has {jobs} jobs after matrix expansion, more than the limit of {MAX_JOBS_PER_RUN} jobs per run"
            ),
        );
    }
}

/// The longest `needs` chain, found without recursion (memoised, each job visited once).
/// Unknown `needs` and cycles are reported by `jobs`; they do not count here.
fn check_depth(checker: &mut Checker, workflow: &Workflow) {
    let index: HashMap<String, usize> = workflow
        .jobs
        .keys()
        .enumerate()
        .map(|(i, id)| (id.to_ascii_lowercase(), i))
        .collect();
    let edges: Vec<Vec<usize>> = workflow
        .jobs
        .values()
        .map(|job| {
            job.needs
                .iter()
                .filter_map(|need| index.get(&need.value.to_ascii_lowercase()).copied())
                .collect()
        })
        .collect();
    // 0: not seen, 1: on the stack, 2: done.
    let mut state = vec![0u8; edges.len()];
    let mut depth = vec![1usize; edges.len()];
    for root in 0..edges.len() {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&need) = edges[node].get(*next) {
                *next += 1;
                match state[need] {
                    0 => {
                        state[need] = 1;
                        stack.push((need, 0));
                    }
                    2 => depth[node] = depth[node].max(depth[need].saturating_add(1)),
                    _ => {} // a cycle, reported elsewhere
                }
            } else {
                state[node] = 2;
                stack.pop();
                if let Some(&(parent, _)) = stack.last() {
                    depth[parent] = depth[parent].max(depth[node].saturating_add(1));
                }
            }
        }
    }
    let deepest = depth
        .iter()
        .enumerate()
        .max_by_key(|(_, depth)| **depth)
        .map(|(i, depth)| (i, *depth));
    if let Some((at, deepest)) = deepest
        && deepest > MAX_NEEDS_DEPTH
        && let Some(job) = workflow.jobs.values().nth(at)
    {
        checker.error(
            job.id.span,
            format!(
                "job `{}` ends a `needs` chain of {deepest} jobs, deeper than the limit of {MAX_NEEDS_DEPTH}",
                job.id.value
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::parse::parse_workflow;

    fn errors(yaml: &str) -> Vec<String> {
        parse_workflow("w.yml", yaml)
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect()
    }

    fn matrix_jobs(jobs: usize, legs: usize) -> String {
        let values: Vec<String> = (0..legs).map(|i| i.to_string()).collect();
        let mut yaml = String::from("on: push\njobs:\n");
        for j in 0..jobs {
            yaml.push_str(&format!(
                "  j{j}:\n    runs-on: x\n    strategy:\n      matrix:\n        n: [{}]\n    steps:\n      - run: echo\n",
                values.join(", ")
            ));
        }
        yaml
    }

    #[test]
    fn a_huge_matrix_file_is_refused_by_its_cost_before_expansion() {
        let started = std::time::Instant::now();
        let found = errors(&matrix_jobs(400, 256));
        assert!(
            found.iter().any(
                |e| e.contains("102400 combinations") && e.contains("expansion limit of 65536")
            ),
            "{found:?}"
        );
        // Generous bound: the point is that nothing is expanded (the issue measured 3 GB).
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }

    #[test]
    fn jobs_per_run_count_matrix_legs() {
        let found = errors(&matrix_jobs(20, 251));
        assert!(
            found
                .iter()
                .any(|e| e.contains("5020 jobs after matrix expansion")
                    && e.contains("limit of 5000 jobs per run")),
            "{found:?}"
        );
        assert!(errors(&matrix_jobs(20, 250)).is_empty());
    }

    #[test]
    fn excluded_legs_do_not_count() {
        let mut yaml = matrix_jobs(4, 251);
        yaml = yaml.replace(
            "    steps:",
            "        exclude:\n          - n: 0\n    steps:",
        );
        assert!(errors(&yaml).is_empty(), "{:?}", errors(&yaml));
    }

    #[test]
    fn a_deep_needs_chain_is_refused() {
        let chain = |length: usize| {
            let mut yaml = String::from("on: push\njobs:\n");
            for j in 0..length {
                yaml.push_str(&format!("  j{j}:\n    runs-on: x\n"));
                if j > 0 {
                    yaml.push_str(&format!("    needs: j{}\n", j - 1));
                }
                yaml.push_str("    steps:\n      - run: echo\n");
            }
            yaml
        };
        assert!(errors(&chain(100)).is_empty());
        let found = errors(&chain(101));
        assert!(
            found.iter().any(
                |e| e.contains("job `j100` ends a `needs` chain of 101 jobs")
                    && e.contains("limit of 100")
            ),
            "{found:?}"
        );
        let found = errors(&chain(5_000));
        assert!(
            found.iter().any(|e| e.contains("chain of 5000 jobs")),
            "{found:?}"
        );
    }
}
