//! Snapshots of the command line as a user sees it (insta, under `tests/e2e/snapshots/`): every
//! command's `--help`, found by walking the `Commands:` lists of `slipway --help` down, and its
//! error for an unknown flag. Temp paths are scrubbed; the binary runs with an empty
//! environment, so no `SLIPWAY_*` value of the caller shows up.
//!
//! A change of wording fails here until the snapshots are re-recorded and reviewed:
//! `INSTA_UPDATE=always cargo test --test e2e cli_snapshots` (or `cargo insta review`). Under
//! `CI=true` insta writes nothing and fails on any drift (`INSTA_UPDATE=no`).

use std::path::Path;
use std::process::{Command, Output};

use crate::support::engine::BIN;

/// `slipway ARGS` with nothing but `PATH` and an empty home from the environment.
fn slipway(home: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .current_dir(home)
        .args(args)
        .output()
        .expect("slipway runs")
}

/// The commands listed under `Commands:` in a help text (without `help`).
fn commands_in(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("    "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

/// Every command path, parents before children: `[[], ["check"], …, ["env", "create"], …]`.
fn command_paths(home: &Path) -> Vec<Vec<String>> {
    let mut paths = vec![Vec::<String>::new()];
    let mut index = 0;
    while let Some(path) = paths.get(index).cloned() {
        index += 1;
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let output = slipway(home, &args);
        for name in commands_in(&String::from_utf8_lossy(&output.stdout)) {
            let mut child = path.clone();
            child.push(name);
            paths.push(child);
        }
    }
    paths
}

fn settings(home: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&home.display().to_string()), "[HOME]");
    settings.add_filter(r"slipway \d+\.\d+\.\d+", "slipway [VERSION]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

fn regex_escape(text: &str) -> String {
    let mut escaped = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[test]
fn every_command_help_and_unknown_flag_error() {
    let home = tempfile::tempdir().unwrap();
    let paths = command_paths(home.path());
    assert!(paths.len() > 40, "the walk found every command: {paths:?}");
    let settings = settings(home.path());
    settings.bind(|| {
        for path in &paths {
            let name = if path.is_empty() {
                "slipway".to_string()
            } else {
                format!("slipway-{}", path.join("-"))
            };
            let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
            args.push("--help");
            let help = slipway(home.path(), &args);
            assert_eq!(help.status.code(), Some(0), "{name} --help");
            insta::assert_snapshot!(
                format!("help__{name}"),
                String::from_utf8_lossy(&help.stdout)
            );

            args.pop();
            args.push("--no-such-flag");
            let error = slipway(home.path(), &args);
            assert_eq!(
                error.status.code(),
                Some(2),
                "{name} --no-such-flag exits 2"
            );
            insta::assert_snapshot!(
                format!("bad_flag__{name}"),
                String::from_utf8_lossy(&error.stderr)
            );
        }
    });
}

#[test]
fn bad_values_name_the_argument_at_fault() {
    let home = tempfile::tempdir().unwrap();
    let settings = settings(home.path());
    let cases: &[(&str, &[&str])] = &[
        ("serve_retain", &["serve", "--retain", "forever"]),
        ("gc_older_than", &["gc", "--older-than", "30 days"]),
        ("run_input", &["run", "--input", "novalue"]),
        ("completions_shell", &["completions", "tcsh"]),
        ("dispatch_missing_workflow", &["dispatch"]),
    ];
    settings.bind(|| {
        for (name, args) in cases {
            let output = slipway(home.path(), args);
            assert_eq!(output.status.code(), Some(2), "{args:?} exits 2");
            insta::assert_snapshot!(
                format!("bad_value__{name}"),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    });
}
