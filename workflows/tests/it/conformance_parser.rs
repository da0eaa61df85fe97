//! Conformance against GitHub's workflow-parser test data (`shared/conformance/workflow-parser`).
//!
//! Each case file is split on lines `---`: options, the workflow, [file name, file content]* for
//! called workflows, and the expected JSON (`{"errors":[{"Message":"… (Line: L, Col: C): …"}]}` or a
//! converted template). We compare accept/reject first, then whether each expected error position
//! appears among our errors. Called workflows are loaded from the case's extra files through
//! `workflows::parse::reusable::load_called` (as `slipway run` and the engine load them from the
//! repository), so calls are checked against what they call. Cases GitHub's own TypeScript parser
//! gets wrong (`skipped-tests.txt`) are counted separately; cases needing what Slipway does not do
//! (custom parser limits) are listed as unsupported, never as passes.

use crate::common;

use std::collections::HashSet;
use std::path::Path;

use workflows::model::Permissions;
use workflows::parse::reusable::{CallTarget, WorkflowSource, load_called};
use workflows::parse_workflow;
use workflows::{Span, Spanned};

/// Floors: raise them as validation improves.
const MIN_ACCEPT_REJECT_PERCENT: f64 = 98.5;
const MIN_POSITION_PERCENT: f64 = 93.0;
/// Cases attempted (not listed as unsupported), outside `skipped-tests.txt` and inside it: a case
/// that falls back to "unsupported" lowers these.
const MIN_CASES_ATTEMPTED: usize = 99;
const MIN_KNOWN_DIFFERENCE_CASES_ATTEMPTED: usize = 88;

#[derive(Debug)]
struct Case {
    name: String,
    options: String,
    workflow: String,
    /// Called workflows: (name as `uses:` gives it, text).
    extra_files: Vec<(String, String)>,
    /// Expected error messages; `None` when the workflow must be accepted.
    errors: Option<Vec<String>>,
}

#[test]
fn workflow_parser_conformance() {
    let Some(dir) = common::conformance_dir("workflow-parser") else {
        return;
    };
    let skipped: HashSet<String> = std::fs::read_to_string(dir.join("skipped-tests.txt"))
        .unwrap_or_default()
        .lines()
        .map(|line| line.trim().to_string())
        .filter(|line| !line.is_empty())
        .collect();
    let mut cases = read_cases(&dir.join("reader"));
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        cases.len() > 150,
        "expected the workflow-parser cases, found {}",
        cases.len()
    );

    let mut tally = Tally::default();
    let mut known_differences = Tally::default();
    let mut unsupported = Vec::new();
    let mut failures = Vec::new();
    let mut divergent = Vec::new();
    for case in &cases {
        if let Some((_, reason)) = DIVERGENCES.iter().find(|(name, _)| *name == case.name) {
            divergent.push(format!("{} ({reason})", case.name));
            continue;
        }
        if let Some(reason) = unsupported_reason(case) {
            unsupported.push(format!("{} ({reason})", case.name));
            continue;
        }
        let file = format!(".github/workflows/{}", case.name);
        let parsed = parse_workflow(&file, &case.workflow);
        let mut diagnostics = parsed.diagnostics.clone();
        if let Some(workflow) = parsed.workflow.as_ref().filter(|_| !parsed.has_errors()) {
            let mut files = ExtraFiles {
                files: &case.extra_files,
                policy: permissions_policy(&case.options),
                nested_depth: nested_depth(&case.options),
            };
            let (_, found) = load_called(workflow, &mut files);
            diagnostics.extend(found);
        }
        let errors: Vec<_> = diagnostics.iter().filter(|d| d.is_error()).collect();
        let target = if skipped.contains(&case.name) {
            &mut known_differences
        } else {
            &mut tally
        };
        target.cases += 1;
        let rejected = !errors.is_empty();
        let verdict_ok = rejected == case.errors.is_some();
        if verdict_ok {
            target.verdicts += 1;
        }
        let mut missing = Vec::new();
        for expected in case.errors.iter().flatten() {
            let Some((line, column)) = position(expected) else {
                continue;
            };
            target.positions += 1;
            // GitHub places expression errors at the start of the value and gives the offset in the
            // message; Slipway points at the bad token itself, later on the same line.
            let about_expression =
                expected.contains("expression") || expected.contains("Located at position");
            let placed = |d: &workflows::Diagnostic| {
                d.span.line == line
                    && (d.span.column == column || (about_expression && d.span.column > column))
            };
            if errors.iter().any(|d| placed(d)) {
                target.positions_found += 1;
            } else {
                missing.push(expected.clone());
            }
        }
        if !skipped.contains(&case.name) && (!verdict_ok || !missing.is_empty()) {
            let ours: Vec<String> = errors.iter().map(|d| d.to_string()).collect();
            failures.push(format!(
                "{}: expected {}, we {}\n    missing: {missing:?}\n    ours: {ours:?}",
                case.name,
                if case.errors.is_some() {
                    "reject"
                } else {
                    "accept"
                },
                if rejected { "reject" } else { "accept" },
            ));
        }
    }

    println!("\nworkflow-parser conformance");
    for failure in &failures {
        println!("  FAIL {failure}");
    }
    println!(
        "  unsupported ({}): {}",
        unsupported.len(),
        unsupported.join(", ")
    );
    tally.print("cases");
    known_differences.print("cases in skipped-tests.txt (GitHub's TypeScript parser differs)");
    let verdict_percent = tally.verdict_percent();
    let position_percent = tally.position_percent();
    assert!(
        tally.cases >= MIN_CASES_ATTEMPTED
            && known_differences.cases >= MIN_KNOWN_DIFFERENCE_CASES_ATTEMPTED,
        "attempted {} + {} cases, below the floors {MIN_CASES_ATTEMPTED} + {MIN_KNOWN_DIFFERENCE_CASES_ATTEMPTED}",
        tally.cases,
        known_differences.cases
    );
    assert!(
        verdict_percent >= MIN_ACCEPT_REJECT_PERCENT,
        "accept/reject {verdict_percent:.1}% is below the floor {MIN_ACCEPT_REJECT_PERCENT}%"
    );
    assert!(
        position_percent >= MIN_POSITION_PERCENT,
        "error positions {position_percent:.1}% are below the floor {MIN_POSITION_PERCENT}%"
    );
}

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    verdicts: usize,
    positions: usize,
    positions_found: usize,
}

impl Tally {
    fn verdict_percent(&self) -> f64 {
        percent(self.verdicts, self.cases)
    }

    fn position_percent(&self) -> f64 {
        percent(self.positions_found, self.positions)
    }

    fn print(&self, what: &str) {
        println!(
            "  {what}: accept/reject {}/{} ({:.1}%), error line:col {}/{} ({:.1}%)",
            self.verdicts,
            self.cases,
            self.verdict_percent(),
            self.positions_found,
            self.positions,
            self.position_percent()
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

/// Cases where Slipway deliberately differs from GitHub's parser, with the reason. Reported,
/// never counted as passes.
const DIVERGENCES: &[(&str, &str)] = &[(
    "events-mapping-all.yml",
    "`branches` with `branches-ignore` (and the same for tags, paths) on one event: GitHub's parser \
     accepts it but GitHub refuses to run the workflow, so Slipway rejects it up front",
)];

/// Why Slipway does not attempt a case, if it does not.
fn unsupported_reason(case: &Case) -> Option<&'static str> {
    if case.options.contains("experimental-features") {
        return Some("GitHub experimental features");
    }
    if case.options.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("max-") && !line.starts_with("max-nested-reusable-workflows-depth:")
    }) {
        return Some("custom parser limits");
    }
    None
}

fn read_cases(dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return cases;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let mut documents: Vec<String> = vec![String::new()];
        for line in text.lines() {
            if line.trim_end() == "---" {
                documents.push(String::new());
            } else if let Some(current) = documents.last_mut() {
                current.push_str(line);
                current.push('\n');
            }
        }
        if documents.len() < 3 {
            continue;
        }
        let expected: serde_json::Value = documents
            .last()
            .and_then(|d| serde_json::from_str(d).ok())
            .unwrap_or_default();
        let errors = expected
            .get("errors")
            .and_then(|e| e.as_array())
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e.get("Message")?.as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            });
        cases.push(Case {
            name: path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string(),
            options: documents.first().cloned().unwrap_or_default(),
            workflow: documents.get(1).cloned().unwrap_or_default(),
            extra_files: documents[2..documents.len() - 1]
                .chunks(2)
                .filter_map(|pair| match pair {
                    [name, text] => Some((name.trim().to_string(), text.clone())),
                    _ => None,
                })
                .collect(),
            errors,
        });
    }
    cases
}

/// The case's extra files as the called workflows of its `uses:`.
struct ExtraFiles<'a> {
    files: &'a [(String, String)],
    /// The case's `permissions-policy` as the repository's default token permissions.
    policy: Option<Permissions>,
    /// The case's `max-nested-reusable-workflows-depth`: reusable workflows below the top level.
    nested_depth: Option<usize>,
}

impl WorkflowSource for ExtraFiles<'_> {
    fn default_permissions(&self) -> Option<Permissions> {
        self.policy.clone()
    }

    fn max_workflow_levels(&self) -> usize {
        self.nested_depth
            .map_or(workflows::parse::reusable::MAX_WORKFLOW_LEVELS, |depth| {
                depth + 1
            })
    }

    fn read(&mut self, target: &CallTarget) -> Result<String, String> {
        let wanted = target.key();
        self.files
            .iter()
            .find(|(name, _)| name.trim_start_matches("./") == wanted)
            .map(|(_, text)| text.clone())
            .ok_or_else(|| format!("the case has no file `{wanted}`"))
    }
}

/// `max-nested-reusable-workflows-depth: N` of a case's options.
fn nested_depth(options: &str) -> Option<usize> {
    options
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("max-nested-reusable-workflows-depth:")
        })
        .and_then(|depth| depth.trim().parse().ok())
}

/// GitHub's default token policies: `LimitedRead` grants `contents` and `packages` read (and
/// nothing else), `Write` grants every scope write.
fn permissions_policy(options: &str) -> Option<Permissions> {
    let policy = options
        .lines()
        .find_map(|line| line.trim().strip_prefix("permissions-policy:"))?
        .trim();
    match policy {
        "Write" => Some(Permissions::WriteAll),
        "LimitedRead" => Some(Permissions::Scopes(
            ["contents", "packages"]
                .into_iter()
                .map(|scope| {
                    (
                        scope.to_string(),
                        Spanned::new("read".to_string(), Span::default()),
                    )
                })
                .collect(),
        )),
        _ => None,
    }
}

/// `(Line: L, Col: C)` in an expected message.
fn position(message: &str) -> Option<(u32, u32)> {
    let rest = message.split("(Line: ").nth(1)?;
    let (line, rest) = rest.split_once(", Col: ")?;
    let (column, _) = rest.split_once(')')?;
    Some((line.trim().parse().ok()?, column.trim().parse().ok()?))
}
