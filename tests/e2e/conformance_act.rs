//! act's self-checking workflow folders (`../shared/conformance/act/`, data only) run through
//! `slipway run`; each run's success or failure is compared with what the manifest expects.
//! Tier A (`run:` steps only) counts towards the goal; cases that depend on act's own defaults
//! (ACT-ISM), on running inside a container (CONTAINER-ISM) or on root and network are listed
//! apart. Tier B is reported for information.

use crate::common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Raise this as Slipway passes more cases (tier A, act-independent cases only).
const TIER_A_FLOOR: usize = 25;

struct Outcome {
    case: String,
    tier: char,
    act_specific: bool,
    passed: bool,
    detail: String,
}

#[test]
fn act_self_checking_workflows() {
    let Some(root) = common::conformance_dir("act") else {
        return;
    };
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("MANIFEST.json")).expect("MANIFEST.json readable"),
    )
    .expect("MANIFEST.json is JSON");
    let cases = manifest["run_cases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut outcomes = Vec::new();
    for case in &cases {
        let tier = case["tier"]
            .as_str()
            .unwrap_or("C")
            .chars()
            .next()
            .unwrap_or('C');
        if tier == 'C' {
            continue;
        }
        let dir = root.join(case["dir"].as_str().unwrap_or_default());
        let notes = case["notes"].as_str().unwrap_or_default();
        let act_specific = ["ACT-ISM", "CONTAINER-ISM", "NEEDS ROOT"]
            .iter()
            .any(|m| notes.contains(m));
        let Some(run) = case["runs"].as_array().and_then(|runs| runs.first()) else {
            continue;
        };
        let event = run["event"].as_str().unwrap_or("push");
        let expect_success = run["expect"].as_str() == Some("success");
        let workflows: Vec<&str> = case["workflows"]
            .as_array()
            .map(|w| w.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut succeeded = true;
        let mut detail = String::new();
        for workflow in &workflows {
            let (ok, text) = run_case(&dir, workflow, event);
            succeeded &= ok;
            if !ok {
                detail = text;
            }
        }
        outcomes.push(Outcome {
            case: case["dir"]
                .as_str()
                .unwrap_or_default()
                .trim_start_matches("pkg/runner/testdata/")
                .to_string(),
            tier,
            act_specific,
            passed: succeeded == expect_success,
            detail,
        });
    }
    let count = |tier: char, act_specific: bool| {
        let all: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.tier == tier && o.act_specific == act_specific)
            .collect();
        (all.iter().filter(|o| o.passed).count(), all.len())
    };
    for outcome in &outcomes {
        let mark = if outcome.passed { "pass" } else { "FAIL" };
        let label = if outcome.act_specific {
            " (depends on act's defaults)"
        } else {
            ""
        };
        println!("{mark} tier {} {}{label}", outcome.tier, outcome.case);
        if !outcome.passed && !outcome.detail.is_empty() {
            let tail: Vec<&str> = outcome.detail.lines().rev().take(6).collect();
            for line in tail.iter().rev() {
                println!("       {line}");
            }
        }
    }
    let (a_pass, a_total) = count('A', false);
    let (a_act_pass, a_act_total) = count('A', true);
    let (b_pass, b_total) = count('B', false);
    let (b_act_pass, b_act_total) = count('B', true);
    println!(
        "act conformance: tier A {a_pass}/{a_total} (act-specific: {a_act_pass}/{a_act_total}); tier B {b_pass}/{b_total} (act-specific: {b_act_pass}/{b_act_total})"
    );
    assert!(
        a_pass >= TIER_A_FLOOR,
        "tier A passes {a_pass}, below the floor of {TIER_A_FLOOR}"
    );
}

/// Runs one workflow of a case folder; returns whether it succeeded and the tail of its output.
fn run_case(dir: &Path, workflow: &str, event: &str) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_slipway"));
    command
        .envs(crate::support::user_env())
        .args(["run", "-C"])
        .arg(dir)
        .arg("--workflow")
        .arg(dir.join(workflow))
        .args(["--event", event]);
    let event_file = dir.join("event.json");
    if event_file.is_file() {
        command.arg("--event-file").arg(event_file);
    }
    if dir.join(".secrets").is_file() {
        command.arg("--secret-file").arg(dir.join(".secrets"));
    }
    if let Ok(text) = std::fs::read_to_string(dir.join(".env")) {
        for line in text
            .lines()
            .filter(|l| l.contains('=') && !l.trim_start().starts_with('#'))
        {
            if let Some((key, value)) = line.split_once('=') {
                let value = value.trim().trim_matches('"').replace("\\n", "\n");
                command.arg("--env").arg(format!("{}={value}", key.trim()));
            }
        }
    }
    match command.output() {
        Ok(output) => (
            output.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ),
        Err(err) => (false, format!("failed to start slipway: {err}")),
    }
}
