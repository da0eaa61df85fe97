//! `slipway check`: validate workflow files and print diagnostics.

use std::path::{Path, PathBuf};

use serde_json::json;
use workflows::{Diagnostic, Severity};

use crate::{exit, render};

/// Validates every workflow under `paths` (files, or repositories whose `.github/workflows/*.y*ml`
/// are read). Returns the exit code.
pub fn run(paths: &[PathBuf], as_json: bool) -> i32 {
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
        let mut diagnostics = parsed.diagnostics;
        if let Some(workflow) = &parsed.workflow {
            diagnostics.extend(deployment_diagnostics(&shown, workflow));
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

/// Slipway's `deployment:` block, checked as the engine will check it when the job starts
/// (`deploy::DeploymentSpec::parse`). A block whose values are `${{ }}` expressions can only be
/// checked then, so it is left alone here.
fn deployment_diagnostics(file: &str, workflow: &workflows::model::Workflow) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for (job_id, job) in &workflow.jobs {
        let Some(block) = &job.deployment else {
            continue;
        };
        if job.environment.is_none() {
            found.push(Diagnostic::warning(
                file,
                block.span,
                format!(
                    "`jobs.{job_id}.deployment` has no effect without `environment:` (the environment's gate and lane run the deployment)"
                ),
            ));
        }
        if block.value.to_string().contains("${{") {
            continue;
        }
        if let Err(error) = deploy::DeploymentSpec::parse(&block.value, None) {
            found.push(Diagnostic::error(
                file,
                block.span,
                format!("in `jobs.{job_id}`: {error}"),
            ));
        }
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
pub fn workflow_files(path: &Path) -> Result<Vec<PathBuf>, String> {
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
