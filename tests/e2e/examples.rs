//! Every example under `workflows/examples/` parses and runs green through `slipway run`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workflows")
        .join("examples")
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("workflows/examples exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_validates_without_errors() {
    let files = example_files();
    assert!(
        files.len() >= 5,
        "expected the example workflows, found {files:?}"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
        .envs(crate::support::user_env())
        .arg("check")
        .args(&files)
        .output()
        .expect("slipway runs");
    assert!(
        output.status.success(),
        "slipway check failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn every_example_runs_green() {
    for file in example_files() {
        let output = Command::new(env!("CARGO_BIN_EXE_slipway"))
            .envs(crate::support::user_env())
            .args(["run", "--json", "-C"])
            .arg(examples_dir())
            .arg("--workflow")
            .arg(&file)
            .output()
            .expect("slipway runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{} failed (exit {:?}):\n{stdout}\n{}",
            file.display(),
            output.status.code(),
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_str(&stdout).expect("--json prints JSON");
        assert_eq!(report["result"], "success", "{}", file.display());
    }
}
