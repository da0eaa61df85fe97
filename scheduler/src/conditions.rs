//! Whether a job runs: its `if:` evaluated with the status functions folded over ALL its
//! ancestors, and GitHub's implicit `success() &&` when the condition calls no status function.
//!
//! `success()` at job level: every ancestor succeeded (a `continue-on-error` failure counts as a
//! success, a skipped ancestor does not) and the run was not cancelled. `failure()`: some ancestor
//! failed. `cancelled()`: the run was cancelled. `always()`: true. This module only decides; it
//! must not change any state.

use indexmap::IndexMap;
use workflows::expr::{Condition, Context, Expr, Status, Value};

/// What a job's `if:` can know about the jobs before it and about the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AncestorStatus {
    /// Every ancestor (needs, their needs, …) concluded `success` as its dependents see it.
    pub all_succeeded: bool,
    /// Some ancestor concluded `failure` as its dependents see it.
    pub any_failed: bool,
    /// The user cancelled the run.
    pub run_cancelled: bool,
}

/// The outcome of a job's condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The job runs: its condition held.
    Run,
    /// The job does not run; the reason reads after "skipped because …".
    Skip(String),
}

/// Decides whether a job runs. `values` are the contexts a job-level `if:` may read (`github`,
/// `needs`, `vars`, `inputs`). An `Err` is an expression error message (the job then fails).
pub(crate) fn decide(
    condition: Option<&str>,
    values: IndexMap<String, Value>,
    ancestors: AncestorStatus,
) -> Result<Decision, String> {
    let implicit_success_fails = || {
        if ancestors.run_cancelled {
            Decision::Skip("the run was cancelled".to_string())
        } else {
            Decision::Skip("a job it depends on did not succeed".to_string())
        }
    };
    let implicit_success = ancestors.all_succeeded && !ancestors.run_cancelled;
    // Not trimmed: text around a `${{ }}` (a trailing newline included) makes the condition a
    // non-empty string, always true (GitHub).
    let Some(text) = condition.filter(|text| !text.trim().is_empty()) else {
        return Ok(if implicit_success {
            Decision::Run
        } else {
            implicit_success_fails()
        });
    };
    let condition = Condition::parse(text).map_err(|error| error.message)?;
    let explicit_status = uses_status_function(text)?;
    if !explicit_status && !implicit_success {
        return Ok(implicit_success_fails());
    }
    let status = if explicit_status {
        Status {
            failed: ancestors.any_failed,
            cancelled: ancestors.run_cancelled,
            // A skipped ancestor: an explicit `success()` is false (GitHub).
            incomplete: !ancestors.all_succeeded,
        }
    } else {
        Status::default()
    };
    let context = Context {
        values,
        status,
        hash_files: None,
    };
    match condition.evaluate(&context) {
        Ok(true) => Ok(Decision::Run),
        Ok(false) => Ok(Decision::Skip(format!("its condition `{text}` is false"))),
        Err(error) => Err(error.message),
    }
}

/// Whether the condition text calls `success()`, `failure()`, `cancelled()` or `always()`, looking
/// at every `${{ }}` part, or at the whole text when it has none (a bare `if:` expression).
pub(crate) fn uses_status_function(text: &str) -> Result<bool, String> {
    for part in expression_parts(text) {
        let expr = Expr::parse(part).map_err(|error| error.message)?;
        if expr.uses_status_function() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The expression texts inside `text`: each `${{ … }}` body, or the whole text when it has none.
pub(crate) fn expression_parts(text: &str) -> Vec<&str> {
    if !text.contains("${{") {
        return vec![text];
    }
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("${{") {
        let after_open = &rest[open + 3..];
        match after_open.find("}}") {
            Some(close) => {
                parts.push(after_open[..close].trim());
                rest = &after_open[close + 2..];
            }
            None => {
                parts.push(after_open.trim());
                break;
            }
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expression_parts_finds_every_template_body() {
        assert_eq!(expression_parts("always()"), vec!["always()"]);
        assert_eq!(expression_parts("${{ failure() }}"), vec!["failure()"]);
        assert_eq!(expression_parts("a ${{ x }} b ${{y}}"), vec!["x", "y"]);
        assert_eq!(expression_parts("${{ open"), vec!["open"]);
    }

    fn needs(results: &[(&str, &str)]) -> IndexMap<String, Value> {
        let mut needs = serde_json::Map::new();
        for (job, result) in results {
            needs.insert(
                (*job).to_string(),
                serde_json::json!({"result": result, "outputs": {}}),
            );
        }
        let mut values = IndexMap::new();
        values.insert("needs".to_string(), Value::Object(needs));
        values
    }

    #[test]
    fn explicit_success_is_false_after_a_skipped_ancestor() {
        let skipped = AncestorStatus {
            all_succeeded: false,
            any_failed: false,
            run_cancelled: false,
        };
        let values = needs(&[("a", "skipped")]);
        assert!(matches!(
            decide(Some("success()"), values.clone(), skipped),
            Ok(Decision::Skip(_))
        ));
        assert!(matches!(
            decide(Some("${{ success() }}"), values.clone(), skipped),
            Ok(Decision::Skip(_))
        ));
        assert_eq!(
            decide(Some("always()"), values.clone(), skipped),
            Ok(Decision::Run)
        );
        assert_eq!(
            decide(Some("!failure()"), values, skipped),
            Ok(Decision::Run)
        );
    }

    #[test]
    fn status_functions_take_the_names_of_needed_jobs() {
        let mixed = AncestorStatus {
            all_succeeded: false,
            any_failed: true,
            run_cancelled: false,
        };
        let values = needs(&[
            ("build", "success"),
            ("test", "failure"),
            ("lint", "skipped"),
        ]);
        let check = |condition: &str| decide(Some(condition), values.clone(), mixed);
        assert_eq!(check("success('build')"), Ok(Decision::Run));
        assert_eq!(check("success('BUILD')"), Ok(Decision::Run));
        assert!(matches!(
            check("success('build', 'test')"),
            Ok(Decision::Skip(_))
        ));
        assert!(matches!(check("success('lint')"), Ok(Decision::Skip(_))));
        assert_eq!(check("failure('test')"), Ok(Decision::Run));
        assert_eq!(check("failure('build', 'test')"), Ok(Decision::Run));
        assert!(matches!(check("failure('build')"), Ok(Decision::Skip(_))));
        assert!(check("success('deploy')").is_err());
    }

    #[test]
    fn text_outside_the_braces_and_scalars_keep_github_truthiness() {
        let ok = AncestorStatus {
            all_succeeded: true,
            any_failed: false,
            run_cancelled: false,
        };
        let check = |condition: &str| decide(Some(condition), IndexMap::new(), ok);
        assert_eq!(check("${{ false }} && true"), Ok(Decision::Run));
        assert_eq!(check("${{ false }}\n"), Ok(Decision::Run));
        assert!(matches!(check("${{ false }}"), Ok(Decision::Skip(_))));
        assert!(matches!(check("0"), Ok(Decision::Skip(_))));
        assert!(matches!(check("NaN"), Ok(Decision::Skip(_))));
        assert_eq!(check("Infinity"), Ok(Decision::Run));
    }

    #[test]
    fn no_condition_runs_only_after_every_ancestor_succeeded() {
        let ok = AncestorStatus {
            all_succeeded: true,
            any_failed: false,
            run_cancelled: false,
        };
        assert_eq!(decide(None, IndexMap::new(), ok), Ok(Decision::Run));
        let failed = AncestorStatus {
            all_succeeded: false,
            any_failed: true,
            run_cancelled: false,
        };
        assert!(matches!(
            decide(None, IndexMap::new(), failed),
            Ok(Decision::Skip(_))
        ));
        let cancelled = AncestorStatus {
            all_succeeded: true,
            any_failed: false,
            run_cancelled: true,
        };
        assert_eq!(
            decide(None, IndexMap::new(), cancelled),
            Ok(Decision::Skip("the run was cancelled".into()))
        );
    }
}
