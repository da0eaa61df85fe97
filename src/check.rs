//! `slipway check`: validate workflow files and print diagnostics.

use std::path::{Path, PathBuf};

use serde_json::json;
use workflows::{Diagnostic, Severity};

use crate::{exit, render};

/// Validates every workflow under `paths` (files, or repositories whose `.github/workflows/*.y*ml`
/// are read). With `engine` (a URL), a job whose literal `runs-on` labels no runner of that engine
/// carries gets a warning naming the labels the runners have. Returns the exit code.
/// Remote actions mirrored in `data_dir` raise no warning, and `with:` is checked against the
/// inputs of the actions that can be read (`check_actions`).
pub(crate) fn run(paths: &[PathBuf], as_json: bool, engine: Option<&str>, data_dir: &Path) -> i32 {
    let runners = engine.and_then(engine_runners);
    let mut files = Vec::new();
    for path in paths {
        match workflow_files(path) {
            Ok(found) if found.is_empty() => {
                eprintln!(
                    "error: no workflow files found under {} (looked for .github/workflows/*.yml)",
                    path.display()
                );
                return exit::USAGE;
            }
            Ok(found) => files.extend(found),
            Err(message) => {
                eprintln!("error: {message}");
                return exit::USAGE;
            }
        }
    }
    let mut report = Vec::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    for file in &files {
        let shown = file.display().to_string();
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(err) => {
                eprintln!("error: failed to read {shown}: {err}");
                return exit::USAGE;
            }
        };
        let parsed = workflows::parse::parse_workflow_bytes(&shown, &bytes);
        let source = String::from_utf8_lossy(&bytes);
        // The `deployment:` block is read and checked by `workflows` like the rest of the file.
        let mut diagnostics = parsed.diagnostics;
        if let Some(workflow) = &parsed.workflow {
            diagnostics.extend(timezone_diagnostics(&shown, workflow));
        }
        if let (Some((url, runners)), Some(workflow)) = (&runners, &parsed.workflow) {
            diagnostics.extend(label_diagnostics(&shown, workflow, url, runners));
        }
        if let Some(workflow) = &parsed.workflow {
            let repo_root = repository_root(file);
            crate::check_actions::check(
                &shown,
                workflow,
                repo_root.as_deref(),
                data_dir,
                &mut diagnostics,
            );
        }
        // Calls of reusable workflows are checked against the called files (read from the same
        // repository); findings inside a called file are reported when that file is checked.
        if let Some(workflow) = &parsed.workflow
            && workflow.jobs.values().any(|job| job.uses.is_some())
        {
            let mut called_files =
                crate::called::WorkingTreeSource::new(&crate::called::root_of_workflow_file(file))
                    .with_remotes(data_dir, &[]);
            let (loaded, found) = scheduler::load_called(workflow, &mut called_files);
            // A remote call not mirrored already has the validator's warning (only `slipway
            // run` and the engine refuse it); a mirrored one runs, so the warning goes.
            for job in workflow.jobs.values() {
                let Some(uses) = &job.uses else { continue };
                if loaded.contains_key(uses.value.trim()) {
                    diagnostics.retain(|diagnostic| {
                        !(diagnostic.span == uses.span
                            && !diagnostic.is_error()
                            && diagnostic.message.contains("calls the remote workflow"))
                    });
                }
            }
            diagnostics.extend(found.into_iter().filter(|d| {
                d.file == shown && !d.message.contains("is not available: mirror it with")
            }));
        }
        diagnostics.sort_by_key(|d| (d.span.line, d.span.column));
        errors += diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        warnings += diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        if as_json {
            report.push(json!({"path": shown, "diagnostics": diagnostics.iter().map(diagnostic_json).collect::<Vec<_>>() }));
        } else {
            for diagnostic in &diagnostics {
                println!("{}\n", render::diagnostic(diagnostic, &source));
            }
        }
    }
    if as_json {
        let out = json!({"files": report, "errors": errors, "warnings": warnings});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!(
            "checked {} file{}: {errors} error{}, {warnings} warning{}",
            files.len(),
            plural(files.len()),
            plural(errors),
            plural(warnings)
        );
    }
    if errors > 0 {
        exit::FAILURE
    } else {
        exit::SUCCESS
    }
}

/// The repository a workflow file belongs to: the folder holding its `.github/workflows`.
fn repository_root(file: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(file).ok()?;
    let workflows = absolute.parent()?;
    let github = workflows.parent()?;
    (workflows.file_name()? == "workflows" && github.file_name()? == ".github")
        .then(|| github.parent().map(Path::to_path_buf))
        .flatten()
}

/// The runners registered with the engine at `url`, or `None` (said on stderr) when it cannot be
/// asked: labels are then not checked, and nothing fails.
fn engine_runners(url: &str) -> Option<(String, Vec<protocol::wire::RunnerView>)> {
    let asked = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())
        .and_then(|runtime| {
            runtime.block_on(async {
                let token = crate::config::resolve(Some(url), None, None).token;
                let client = crate::client::EngineClient::new(url, token)
                    .map_err(|error| format!("{error:?}"))?;
                client
                    .get::<Vec<protocol::wire::RunnerView>>("/api/v1/runners")
                    .await
                    .map_err(|error| format!("{error:?}"))
            })
        });
    match asked {
        Ok(runners) => Some((url.to_string(), runners)),
        Err(error) => {
            eprintln!(
                "warning: could not read the runners of the engine at {url} ({error}); runner labels not checked"
            );
            None
        }
    }
}

/// A warning for each job whose `runs-on` (literal labels, no group) no runner carries.
/// `on.schedule[*].timezone` must name a time zone of the IANA database (read from this
/// machine's zoneinfo, which is why this check lives in the binary and not in `workflows`).
fn timezone_diagnostics(file: &str, workflow: &workflows::model::Workflow) -> Vec<Diagnostic> {
    let Some(schedule) = workflow.on.events.get("schedule") else {
        return Vec::new();
    };
    schedule
        .schedules
        .iter()
        .filter_map(|entry| entry.timezone.as_ref())
        .filter(|zone| !zone.value.contains("${{"))
        .filter(|zone| jiff::tz::TimeZone::get(&zone.value).is_err())
        .map(|zone| {
            Diagnostic::error(
                file,
                zone.span,
                format!(
                    "unknown time zone `{}` in `schedule`: use an IANA name such as `Europe/Berlin` or `America/New_York`",
                    zone.value
                ),
            )
        })
        .collect()
}

fn label_diagnostics(
    file: &str,
    workflow: &workflows::model::Workflow,
    url: &str,
    runners: &[protocol::wire::RunnerView],
) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for (job_id, job) in &workflow.jobs {
        let Some(runs_on) = &job.runs_on else {
            continue;
        };
        let labels: Vec<&str> = runs_on
            .labels
            .iter()
            .map(|label| label.value.as_str())
            .collect();
        if runs_on.group.is_some() || labels.is_empty() || labels.iter().any(|l| l.contains("${{"))
        {
            continue;
        }
        let carried = runners.iter().any(|runner| {
            labels.iter().all(|wanted| {
                runner
                    .labels
                    .iter()
                    .any(|label| label.eq_ignore_ascii_case(wanted))
            })
        });
        if carried {
            continue;
        }
        let mut have: Vec<String> = runners
            .iter()
            .map(|runner| format!("[{}]", runner.labels.join(", ")))
            .collect();
        have.sort();
        have.dedup();
        let have = if have.is_empty() {
            "no runner is registered".to_string()
        } else {
            format!("runners have {}", have.join(", "))
        };
        found.push(Diagnostic::warning(
            file,
            runs_on.span,
            format!(
                "`jobs.{job_id}.runs-on`: no runner of the engine at {url} has labels [{}]; {have} (the job would wait, then fail after the no-runner timeout)",
                labels.join(", ")
            ),
        ));
    }
    found
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn diagnostic_json(d: &Diagnostic) -> serde_json::Value {
    json!({
        "severity": d.severity,
        "file": d.file,
        "line": d.span.line,
        "column": d.span.column,
        "message": d.message,
    })
}

/// A file is itself; a directory is a repository (or a workflows folder).
pub(crate) fn workflow_files(path: &Path) -> Result<Vec<PathBuf>, String> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(format!("no such file or directory: {}", path.display()));
    }
    let nested = path.join(".github").join("workflows");
    let folder = if nested.is_dir() {
        nested
    } else {
        path.to_path_buf()
    };
    let entries = std::fs::read_dir(&folder)
        .map_err(|err| format!("failed to read {}: {err}", folder.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml"))
        })
        .collect();
    files.sort();
    Ok(files)
}
