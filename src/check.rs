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
        // The `deployment:` block is read and checked by `workflows` like the rest of the file.
        let mut diagnostics = parsed.diagnostics;
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
