//! `slipway run` through the binary: exit codes, checkout of the working tree, selection, inputs.

use std::path::Path;
use std::process::{Command, Output};

fn slipway(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_slipway"))
        .envs(crate::support::user_env())
        .arg("run")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("slipway runs")
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn report(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}):\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[test]
fn checkout_gives_the_working_tree_without_ignored_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    git(root, &["init", "-q", "-b", "main"]);
    write(root, ".gitignore", "build/\n");
    write(root, "committed.txt", "old\n");
    write(
        root,
        ".github/workflows/ci.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: |\n          grep -q new committed.txt\n          test -f untracked.txt\n          test ! -e build/big.bin\n          test \"$(git rev-parse HEAD)\" = \"$GITHUB_SHA\"\n",
    );
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "first"]);
    write(root, "committed.txt", "new\n");
    write(root, "untracked.txt", "here\n");
    write(root, "build/big.bin", "ignored\n");
    let output = slipway(root, &["--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(report(&output)["result"], "success");
}

#[test]
fn a_directory_outside_git_is_copied_as_it_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "data/input.txt", "42\n");
    write(
        dir.path(),
        "flow.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - run: test \"$(cat data/input.txt)\" = 42\n",
    );
    let output = slipway(dir.path(), &["--workflow", "flow.yml", "--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn exit_codes_tell_failure_from_an_invalid_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "fails.yml",
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: exit 4\n",
    );
    write(
        dir.path(),
        "invalid.yml",
        "on: push\njobs:\n  a:\n    runs-on: x\n    stepz: []\n",
    );
    let failed = slipway(dir.path(), &["--workflow", "fails.yml", "--json"]);
    assert_eq!(failed.status.code(), Some(1));
    assert_eq!(
        report(&failed)["workflows"][0]["jobs"][0]["result"],
        "failure"
    );
    let invalid = slipway(dir.path(), &["--workflow", "invalid.yml"]);
    assert_eq!(invalid.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&invalid.stderr);
    assert!(stderr.contains("invalid.yml:5:5"), "{stderr}");
}

#[test]
fn job_selection_runs_the_job_and_what_it_needs() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "dag.yml",
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: echo a}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: echo b}]\n  c:\n    runs-on: x\n    steps: [{run: exit 1}]\n",
    );
    let output = slipway(
        dir.path(),
        &["--workflow", "dag.yml", "--job", "b", "--json"],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let jobs: Vec<String> = report(&output)["workflows"][0]["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["job"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(jobs, vec!["a", "b"]);
}

#[test]
fn dispatch_inputs_are_typed_and_defaults_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "dispatch.yml",
        "on:\n  workflow_dispatch:\n    inputs:\n      debug: {type: boolean, default: false}\n      level: {type: number, default: 3}\n      name: {type: string, required: true}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: |\n          test \"${{ inputs.debug == true }}\" = true\n          test \"${{ github.event.inputs.debug }}\" = true\n          test \"${{ inputs.level }}\" = 3\n          test \"${{ inputs.name }}\" = octo\n",
    );
    let ok = slipway(
        dir.path(),
        &[
            "--workflow",
            "dispatch.yml",
            "--event",
            "workflow_dispatch",
            "--input",
            "debug=true",
            "--input",
            "name=octo",
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let missing = slipway(
        dir.path(),
        &["--workflow", "dispatch.yml", "--event", "workflow_dispatch"],
    );
    assert_eq!(
        missing.status.code(),
        Some(2),
        "a required input is missing"
    );
}

#[test]
fn secrets_are_masked_in_the_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "secret.yml",
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo \"token is ${{ secrets.API_TOKEN }}\"\n",
    );
    let output = slipway(
        dir.path(),
        &[
            "--workflow",
            "secret.yml",
            "--secret",
            "API_TOKEN=hunter2-very-secret",
        ],
    );
    assert!(output.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains("token is ***"), "{all}");
    assert!(!all.contains("hunter2-very-secret"), "{all}");
    let logs = all
        .lines()
        .find_map(|l| l.strip_prefix("logs: "))
        .expect("a logs directory is named");
    for entry in std::fs::read_dir(logs.trim()).expect("logs dir") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("log file");
        assert!(!text.contains("hunter2-very-secret"));
    }
}
