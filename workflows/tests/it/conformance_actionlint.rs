//! Conformance against actionlint's test workflows (`shared/conformance/actionlint`).
//!
//! Every `ok/` workflow must produce no error (warnings are allowed: Slipway warns about actions it
//! cannot run). Every `err/` case that `MANIFEST.json` marks `likely_engine_relevant` (GitHub itself
//! would reject it) must be rejected, with an error on an expected line. actionlint's wording is
//! not compared. The other `err/` cases are lint findings; their counts are printed, not asserted.

use crate::common;

use std::path::Path;

use workflows::parse_workflow;

/// Floors: raise them as validation improves.
const MIN_OK_PERCENT: f64 = 100.0;
const MIN_REJECT_PERCENT: f64 = 95.0;
const MIN_LINE_PERCENT: f64 = 95.0;

/// Cases where Slipway deliberately differs from actionlint, with the reason. Reported, never
/// counted as passes.
const DIVERGENCES: &[(&str, &str)] = &[
    (
        "cron_5minutes_limit.yaml",
        "GitHub accepts a schedule more frequent than every 5 minutes (it runs it at most every 5 minutes)",
    ),
    (
        "matrix_exclude_no_match.yaml",
        "GitHub runs a matrix whose `exclude` matches nothing (the entry removes nothing); Slipway warns",
    ),
    (
        "merge_key_unsupported.yaml",
        "Slipway supports YAML merge keys (`<<`) by design",
    ),
    (
        "unused_anchors.yaml",
        "an unused anchor is harmless; GitHub accepts it",
    ),
    (
        "workflow_call_inputs.yaml",
        "GitHub accepts a default on a required `workflow_call` input; Slipway warns that it is unused",
    ),
];

/// `ok/` cases Slipway rejects on purpose, with the reason (reported, never counted as passes).
const OK_DIVERGENCES: &[(&str, &str)] = &[(
    "workflow_call_job.yaml",
    "GitHub does not evaluate expressions in a job's `uses` (call6)",
)];

#[test]
fn actionlint_conformance() {
    let Some(dir) = common::conformance_dir("actionlint") else {
        return;
    };
    let manifest: serde_json::Value = std::fs::read_to_string(dir.join("MANIFEST.json"))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();

    // ok/: no errors.
    let ok_cases: Vec<&str> = manifest
        .get("ok_cases")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .collect();
    assert!(
        ok_cases.len() > 50,
        "expected actionlint ok cases in the manifest, found {}",
        ok_cases.len()
    );
    let mut ok_passed = 0;
    let mut divergent = Vec::new();
    let ok_total = ok_cases.len() - OK_DIVERGENCES.len();
    let mut ok_failures = Vec::new();
    for case in &ok_cases {
        let name = case.rsplit('/').next().unwrap_or(case);
        if let Some((_, reason)) = OK_DIVERGENCES
            .iter()
            .find(|(divergent, _)| *divergent == name)
        {
            divergent.push(format!("ok/{name} ({reason})"));
            continue;
        }
        let Some(source) = read(&dir, case).or_else(|| read(&dir, &format!("testdata/ok/{name}")))
        else {
            ok_failures.push(format!("{name}: file missing"));
            continue;
        };
        let parsed = parse_workflow("test.yaml", &source);
        let errors: Vec<String> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.to_string())
            .collect();
        if errors.is_empty() {
            ok_passed += 1;
        } else {
            ok_failures.push(format!("{name}: {errors:?}"));
        }
    }

    // err/: rejected, with an error on an expected line.
    let mut relevant = Tally::default();
    let mut lint_only = Tally::default();
    let mut err_failures = Vec::new();
    for case in manifest
        .get("error_cases")
        .and_then(|c| c.as_array())
        .into_iter()
        .flatten()
    {
        let input = case
            .get("input")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let expected = case
            .get("expected")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let name = input.rsplit('/').next().unwrap_or(input);
        if let Some((_, reason)) = DIVERGENCES.iter().find(|(divergent, _)| *divergent == name) {
            divergent.push(format!("err/{name} ({reason})"));
            continue;
        }
        let engine_relevant = case
            .get("likely_engine_relevant")
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        let (Some(source), Some(out)) = (read(&dir, input), read(&dir, expected)) else {
            continue;
        };
        let lines = expected_lines(&out);
        let parsed = parse_workflow("test.yaml", &source);
        let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
        let tally = if engine_relevant {
            &mut relevant
        } else {
            &mut lint_only
        };
        tally.cases += 1;
        let rejected = !errors.is_empty();
        // Line 0: actionlint could not place the error (YAML errors); any error of ours matches.
        let matched: Vec<u32> = lines
            .iter()
            .copied()
            .filter(|line| errors.iter().any(|d| *line == 0 || d.span.line == *line))
            .collect();
        if rejected {
            tally.rejected += 1;
        }
        if !matched.is_empty() {
            tally.line_hit += 1;
        }
        tally.lines += lines.len();
        tally.lines_found += matched.len();
        tally.lines_flagged += lines
            .iter()
            .filter(|line| {
                parsed
                    .diagnostics
                    .iter()
                    .any(|d| **line == 0 || d.span.line == **line)
            })
            .count();
        if engine_relevant && (!rejected || matched.is_empty()) {
            let ours: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
            err_failures.push(format!("{name}: expected lines {lines:?}; ours {ours:?}"));
        }
    }

    println!("\nactionlint conformance");
    for failure in &ok_failures {
        println!("  FAIL ok/{failure}");
    }
    for failure in &err_failures {
        println!("  FAIL err/{failure}");
    }
    println!(
        "  divergent by design ({}): {}",
        divergent.len(),
        divergent.join("; ")
    );
    let ok_percent = percent(ok_passed, ok_total);
    println!("  ok/ accepted without errors: {ok_passed}/{ok_total} ({ok_percent:.1}%)");
    relevant.print("err/ engine-relevant");
    lint_only.print("err/ lint-only (not asserted)");
    assert!(
        ok_percent >= MIN_OK_PERCENT,
        "ok/ {ok_percent:.1}% is below the floor {MIN_OK_PERCENT}%"
    );
    let reject_percent = percent(relevant.rejected, relevant.cases);
    assert!(
        reject_percent >= MIN_REJECT_PERCENT,
        "err/ rejected {reject_percent:.1}% is below {MIN_REJECT_PERCENT}%"
    );
    let line_percent = percent(relevant.line_hit, relevant.cases);
    assert!(
        line_percent >= MIN_LINE_PERCENT,
        "err/ with a line hit {line_percent:.1}% is below {MIN_LINE_PERCENT}%"
    );
}

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    rejected: usize,
    /// Cases with an error of ours on at least one expected line.
    line_hit: usize,
    lines: usize,
    lines_found: usize,
    /// Expected lines where Slipway reports anything (an error or a warning): actionlint's
    /// findings include risks Slipway deliberately reports as warnings (script injection).
    lines_flagged: usize,
}

impl Tally {
    fn print(&self, what: &str) {
        println!(
            "  {what}: rejected {}/{} ({:.1}%), error on an expected line {}/{} ({:.1}%), expected lines covered {}/{}, flagged (error or warning) {}/{}",
            self.rejected,
            self.cases,
            percent(self.rejected, self.cases),
            self.line_hit,
            self.cases,
            percent(self.line_hit, self.cases),
            self.lines_found,
            self.lines,
            self.lines_flagged,
            self.lines
        );
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        100.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn read(dir: &Path, relative: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(relative)).ok()
}

/// Line numbers of `test.yaml:LINE:COL: …` lines, plain or wrapped in `/…/` (regex lines escape
/// the dot: `test\.yaml:LINE:COL:`).
fn expected_lines(out: &str) -> Vec<u32> {
    out.lines()
        .filter_map(|line| {
            let rest = line.trim().trim_start_matches('/');
            let rest = rest
                .strip_prefix("test.yaml:")
                .or_else(|| rest.strip_prefix("test\\.yaml:"))?;
            rest.split(':').next()?.parse().ok()
        })
        .collect()
}
