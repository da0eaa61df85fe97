//! Validation of a parsed workflow: what GitHub would reject (or what Slipway cannot run) that the
//! YAML shape alone does not show. It reads the typed model and the file text (to place findings
//! inside values) and returns diagnostics; it never changes the model and never fails.
//!
//! Table of contents:
//! - `jobs`: job and step ids, `needs` (unknown, self, cycles), `timeout-minutes`, `uses:`
//! - `lint`: actionlint-style checks — unknown `shell:`, bad env names, untrusted input in
//!   `run:`, deprecated `::set-output`
//! - `parallel`: the ids `wait` and `cancel` steps name (earlier background steps)
//! - `expressions`: every `${{ }}` in every string field: syntax, where expressions are allowed,
//!   which contexts and functions are available there (`crate::contexts`), and names that refer
//!   to matrix keys, needed jobs, earlier steps and declared inputs
//! - `triggers`: `on:` events, filters, activity types, cron schedules, dispatch inputs
//! - `matrix`: literal matrix shapes
//! - `limits`: jobs per run, matrix expansion cost and `needs` depth, counted before expansion
//! - `deployment`: the rules tying a `deployment:` block's keys together (also run by the engine)
//! - `scan`, `source_map`: helpers (expression text positions, value offsets → file positions)

mod containers;
pub use containers::split_words;
pub mod deployment;
mod expressions;
mod jobs;
pub mod limits;
mod lint;
mod matrix;
mod parallel;
mod scan;
mod source_map;
mod triggers;

use crate::diagnostic::Diagnostic;
use crate::model::Workflow;
use crate::span::Span;

use source_map::SourceMap;

/// Checks a parsed workflow. `source` is the file text the model was read from.
pub fn validate(workflow: &Workflow, source: &str) -> Vec<Diagnostic> {
    let mut checker = Checker {
        file: &workflow.file,
        map: SourceMap::new(source),
        diagnostics: Vec::new(),
    };
    jobs::check(&mut checker, workflow);
    parallel::check(&mut checker, workflow);
    lint::check(&mut checker, workflow);
    containers::check(&mut checker, workflow);
    triggers::check(&mut checker, workflow);
    matrix::check(&mut checker, workflow);
    limits::check(&mut checker, workflow);
    deployment::check(&mut checker, workflow);
    expressions::check(&mut checker, workflow);
    checker
        .diagnostics
        .sort_by_key(|d| (d.span.line, d.span.column));
    checker.diagnostics.dedup();
    checker.diagnostics
}

/// Collects diagnostics for one file.
pub(crate) struct Checker<'a> {
    file: &'a str,
    map: SourceMap<'a>,
    diagnostics: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(self.file, span, message));
    }

    fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(self.file, span, message));
    }
}

/// The closest of `candidates` to `name` (case-insensitive edit distance ≤ 2), for "did you mean".
pub(crate) fn closest<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let name = name.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|candidate| {
            (
                crate::suggest::edit_distance(&name, &candidate.to_ascii_lowercase()),
                candidate,
            )
        })
        .filter(|(distance, _)| *distance <= 2.min(name.len().saturating_sub(1)).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// " (did you mean `x`?)" or "".
pub(crate) fn did_you_mean<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> String {
    closest(name, candidates)
        .map(|found| format!(" (did you mean `{found}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(closest("biuld", ["build", "test"]), Some("build"));
        assert_eq!(closest("deploy", ["build", "test"]), None);
        assert_eq!(closest("a", ["b"]), Some("b"));
    }
}
