//! Lints in the spirit of actionlint: things GitHub accepts or rejects only when the job runs, or
//! that run but are risky — an unknown `shell:`, environment variable names a process cannot
//! have, `${{ }}` with text an attacker controls expanded inside a `run:` script (script
//! injection: pass it through `env:`), and the deprecated `::set-output` / `::save-state`
//! commands. It reads the model and the file text; it never changes either.

use std::sync::OnceLock;

use regex::Regex;

use crate::model::{Defaults, Env, Job, Workflow, is_env_expression};
use crate::span::Spanned;

use super::Checker;
use super::jobs::step_label;
use super::scan;

/// The shells GitHub knows by name; any other `shell:` must be a command with `{0}` in it.
pub(crate) const KNOWN_SHELLS: &[&str] = &["bash", "sh", "pwsh", "python", "cmd", "powershell"];

pub(super) fn check(checker: &mut Checker, workflow: &Workflow) {
    check_filters(checker, workflow);
    check_env(checker, &workflow.env, "the workflow");
    check_defaults(checker, workflow.defaults.as_ref(), "the workflow");
    for job in workflow.jobs.values() {
        check_job(checker, job);
    }
}

fn check_job(checker: &mut Checker, job: &Job) {
    let place = format!("job `{}`", job.id.value);
    check_env(checker, &job.env, &place);
    check_defaults(checker, job.defaults.as_ref(), &place);
    if let Some(container) = &job.container {
        check_env(
            checker,
            &container.env,
            &format!("the container of {place}"),
        );
    }
    for (name, service) in &job.services {
        check_env(
            checker,
            &service.env,
            &format!("service `{name}` of {place}"),
        );
    }
    for (index, step) in job.steps.iter().enumerate() {
        let step_place = format!("{} of {place}", step_label(step, index));
        check_env(checker, &step.env, &step_place);
        if let Some(shell) = &step.shell {
            check_shell(checker, shell, &step_place);
        }
        if let Some(run) = &step.run {
            check_script(checker, run, &step_place);
        }
    }
}

fn check_defaults(checker: &mut Checker, defaults: Option<&Defaults>, place: &str) {
    if let Some(shell) = defaults.and_then(|defaults| defaults.shell.as_ref()) {
        check_shell(checker, shell, &format!("`defaults.run` of {place}"));
    }
}

/// `shell:` must be a known shell or a command template holding `{0}`.
fn check_shell(checker: &mut Checker, shell: &Spanned<String>, place: &str) {
    let text = shell.value.trim();
    if text.contains("${{") || text.contains("{0}") {
        return;
    }
    // GitHub compares shell names case-insensitively (`PowerShell`).
    if !KNOWN_SHELLS.contains(&text.to_ascii_lowercase().as_str()) {
        checker.error(
            shell.span,
            format!(
                "unknown shell `{text}` in {place}: use one of {} or a command with `{{0}}` where the script path goes",
                KNOWN_SHELLS.join(", ")
            ),
        );
    }
}

/// Variable names a process environment cannot carry (`=`), or that no shell can read (spaces,
/// `&`), as actionlint checks.
fn check_env(checker: &mut Checker, env: &Env, place: &str) {
    for (name, value) in env {
        if is_env_expression(name) || name.contains("${{") {
            continue;
        }
        let problem = if name.is_empty() {
            Some("it is empty")
        } else if name.contains('=') {
            Some("it contains `=`")
        } else if name.chars().any(char::is_whitespace) {
            Some("it contains whitespace")
        } else if name.contains('&') {
            Some("it contains `&`")
        } else if name.contains('\0') {
            Some("it contains a NUL character")
        } else {
            None
        };
        if let Some(problem) = problem {
            checker.error(
                value.span,
                format!(
                    "invalid environment variable name `{name}` in `env` of {place}: {problem}"
                ),
            );
        }
    }
}

/// Filter patterns that can never match: branch and tag patterns with characters a git ref cannot
/// hold, path patterns with spaces around them or `.` / `..` segments (GitHub compares paths as
/// git prints them). Valid pattern syntax is checked with the triggers.
fn check_filters(checker: &mut Checker, workflow: &Workflow) {
    for (event, trigger) in &workflow.on.events {
        let refs = [
            ("branches", &trigger.branches),
            ("branches-ignore", &trigger.branches_ignore),
            ("tags", &trigger.tags),
            ("tags-ignore", &trigger.tags_ignore),
        ];
        for (key, patterns) in refs {
            for pattern in patterns.iter().flatten() {
                let text = pattern.value.strip_prefix('!').unwrap_or(&pattern.value);
                if text.contains("${{") {
                    continue;
                }
                let bad = text
                    .chars()
                    .find(|c| c.is_whitespace() || matches!(c, '~' | '^' | ':'));
                let problem = match bad {
                    Some(c) => Some(format!("`{c}` cannot appear in a git ref name")),
                    None if text.starts_with('/') || text.ends_with('/') => {
                        Some("a git ref name cannot start or end with `/`".to_string())
                    }
                    None if text.contains("..") => {
                        Some("a git ref name cannot contain `..`".to_string())
                    }
                    None => None,
                };
                if let Some(problem) = problem {
                    checker.warning(
                        pattern.span,
                        format!(
                            "`{key}` pattern `{}` of `on.{event}` can never match: {problem}",
                            pattern.value
                        ),
                    );
                }
            }
        }
        for (key, patterns) in [
            ("paths", &trigger.paths),
            ("paths-ignore", &trigger.paths_ignore),
        ] {
            for pattern in patterns.iter().flatten() {
                let text = pattern.value.strip_prefix('!').unwrap_or(&pattern.value);
                let problem = if text.trim() != text {
                    Some("it starts or ends with a space")
                } else if text
                    .split('/')
                    .any(|segment| segment == "." || segment == "..")
                {
                    Some("changed paths never hold `.` or `..` segments")
                } else {
                    None
                };
                if let Some(problem) = problem {
                    checker.warning(
                        pattern.span,
                        format!(
                            "`{key}` pattern `{}` of `on.{event}` can never match: {problem}",
                            pattern.value
                        ),
                    );
                }
            }
        }
    }
}

/// Untrusted input expanded into the script, and deprecated workflow commands.
fn check_script(checker: &mut Checker, run: &Spanned<String>, place: &str) {
    let text = run.value.as_str();
    for part in scan::embedded_expressions(text) {
        let compact: String = part
            .inner
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(found) = untrusted_input().and_then(|pattern| pattern.find(&compact)) {
            let span = checker.map.locate(run.span, text, part.start);
            let variable = suggested_variable(found.as_str());
            checker.warning(
                span,
                format!(
                    "`{}` in the `run` of {place} may be controlled by an attacker and is pasted into the script before it runs (script injection): pass it through `env:` (`env: {{ {variable}: ${{{{ {} }}}} }}`) and use \"${variable}\"",
                    found.as_str(),
                    found.as_str(),
                ),
            );
        }
    }
    for command in ["set-output", "save-state", "set-env", "add-path"] {
        let needle = format!("::{command} ");
        let Some(index) = text
            .find(&needle)
            .or_else(|| text.find(&format!("::{command}::")))
        else {
            continue;
        };
        let span = checker.map.locate(run.span, text, index);
        let file = match command {
            "set-output" => "$GITHUB_OUTPUT",
            "save-state" => "$GITHUB_STATE",
            "set-env" => "$GITHUB_ENV",
            _ => "$GITHUB_PATH",
        };
        checker.warning(
            span,
            format!(
                "the `::{command}` workflow command in the `run` of {place} is deprecated: write to {file} instead"
            ),
        );
    }
}

/// The properties of `github` an outsider can set: titles, bodies, branch names, commit messages
/// and authors (GitHub's security hardening guide; actionlint's list).
fn untrusted_input() -> Option<&'static Regex> {
    static PATTERN: OnceLock<Option<Regex>> = OnceLock::new();
    PATTERN.get_or_init(|| {
        let item = r"(\[[^\]]*\]|\.\*)";
        let patterns = [
            r"github\.head_ref".to_string(),
            r"github\.event\.(issue|pull_request|discussion)\.(title|body)".to_string(),
            r"github\.event\.(comment|review|review_comment)\.body".to_string(),
            format!(r"github\.event\.pages{item}?\.page_name"),
            format!(
                r"github\.event\.(commits{item}?|head_commit)\.(message|author\.(email|name)|committer\.(email|name))"
            ),
            r"github\.event\.pull_request\.head\.(ref|label|repo\.default_branch)".to_string(),
            format!(
                r"github\.event\.workflow_run\.(head_branch|display_title|head_commit\.(message|author\.(email|name))|pull_requests{item}?\.head\.(ref|branch|label))"
            ),
        ];
        let joined = patterns
            .iter()
            .map(|pattern| format!("(?:{pattern})"))
            .collect::<Vec<_>>()
            .join("|");
        // The patterns are fixed text: a failure here is a bug the unit tests catch.
        Regex::new(&format!(r"(?:{joined})\b")).ok()
    })
    .as_ref()
}

/// `TITLE` for `github.event.pull_request.title`, `HEAD_REF` for `github.head_ref`.
fn suggested_variable(path: &str) -> String {
    path.rsplit('.')
        .next()
        .unwrap_or("VALUE")
        .replace(['[', ']', '*', '\''], "")
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use crate::{Severity, parse_workflow};

    fn findings(source: &str) -> Vec<(Severity, u32, String)> {
        parse_workflow("ci.yml", source)
            .diagnostics
            .into_iter()
            .map(|d| (d.severity, d.span.line, d.message))
            .collect()
    }

    fn job(steps: &str) -> String {
        format!("on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n{steps}")
    }

    #[test]
    fn unknown_shells_are_errors_and_templates_are_fine() {
        let found = findings(&job(
            "      - run: echo\n        shell: zsh\n      - run: echo\n        shell: perl {0}\n      - run: echo\n        shell: bash\n",
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Severity::Error);
        assert_eq!(found[0].1, 7);
        assert!(found[0].2.contains("unknown shell `zsh`"), "{found:?}");
    }

    #[test]
    fn invalid_env_names_are_errors() {
        let found = findings(&job(
            "      - run: echo\n        env:\n          'A B': x\n          OK_NAME: y\n",
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0]
                .2
                .contains("invalid environment variable name `A B`"),
            "{found:?}"
        );
    }

    #[test]
    fn untrusted_input_in_run_is_a_warning_with_the_env_fix() {
        let found = findings(&job(
            "      - run: |\n          echo ok\n          echo \"${{ github.event.pull_request.title }}\"\n      - run: echo ${{ github.head_ref }}\n      - run: echo ${{ github.event.pull_request.number }}\n      - env:\n          T: ${{ github.event.issue.title }}\n        run: echo \"$T\"\n",
        ));
        let warnings: Vec<_> = found
            .iter()
            .filter(|(severity, ..)| *severity == Severity::Warning)
            .collect();
        assert_eq!(warnings.len(), 2, "{found:?}");
        assert_eq!(warnings[0].1, 8);
        assert!(
            warnings[0].2.contains("`github.event.pull_request.title`"),
            "{warnings:?}"
        );
        assert!(warnings[0].2.contains("env:"), "{warnings:?}");
        assert_eq!(warnings[1].1, 9);
    }

    #[test]
    fn status_functions_take_job_names_only_in_a_job_if() {
        let source = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n  b:\n    needs: a\n    if: success('a') && !failure('a')\n    runs-on: ubuntu-latest\n    steps:\n      - if: success('a')\n        run: echo\n";
        let found = findings(source);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0, found[0].1), (Severity::Error, 12));
        assert!(
            found[0].2.contains("takes job names only in a job's `if`"),
            "{found:?}"
        );
    }

    #[test]
    fn filter_patterns_that_can_never_match_are_warnings() {
        let found = findings(
            "on:\n  push:\n    branches: ['feature x', 'ok/*', 'a..b']\n    paths: [' src/**', './docs/**', 'lib/**']\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo\n",
        );
        let warnings: Vec<_> = found
            .iter()
            .filter(|(severity, ..)| *severity == Severity::Warning)
            .map(|(_, _, message)| message.as_str())
            .collect();
        assert_eq!(warnings.len(), 4, "{found:?}");
        assert!(
            warnings.iter().any(|m| m.contains("`feature x`")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|m| m.contains("`a..b`")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|m| m.contains("` src/**`")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|m| m.contains("`./docs/**`")),
            "{warnings:?}"
        );
    }

    #[test]
    fn set_output_is_deprecated() {
        let found = findings(&job("      - run: echo \"::set-output name=x::1\"\n"));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, Severity::Warning);
        assert!(found[0].2.contains("$GITHUB_OUTPUT"), "{found:?}");
    }
}
