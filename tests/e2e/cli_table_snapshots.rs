//! Snapshots of what the reading commands print against a real engine (insta, under
//! `tests/e2e/snapshots/`): every table and listing a user reads (`runs`, `run-status`, `logs`,
//! `runners`, `env …`, `deployments`, `audit`, `releases`, `release show`, `schedules`,
//! `status`, `repo list`, `secret list`, `var list`, `user list`, `token list`, `whoami`,
//! `group list`, `action source list`, `artifacts`), and the errors for bad arguments the engine
//! judges (an unknown run, environment or release, a bad audience). The fixture is one
//! repository with one finished run, a schedule, an environment with a release policy, a
//! planned release, a secret, a variable, a group and a user.
//!
//! Scrubbed: ids, commits, times, durations, the engine's URL and temp paths; runs of spaces
//! are folded to two so a column's width does not depend on a scrubbed value. Re-record with
//! `INSTA_UPDATE=always cargo test --test e2e cli_table_snapshots`.

use std::path::Path;
use std::process::{Output, Stdio};

use crate::support::engine::TestEngine;
use crate::support::repo_with;

const CI: &str = "name: ci
on:
  workflow_dispatch:
  schedule:
    - cron: '17 3 * * 1'
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: Compile
        run: echo compiled
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo tested
";

fn git(dir: &Path, args: &[&str]) -> String {
    crate::support::git_as("dev", "dev@localhost", dir, args)
}

fn slipway(engine: &TestEngine, args: &[&str]) -> Output {
    engine
        .cli()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run slipway")
}

fn ok(engine: &TestEngine, args: &[&str]) -> String {
    let output = slipway(engine, args);
    assert!(
        output.status.success(),
        "slipway {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn regex_escape(text: &str) -> String {
    let mut escaped = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~/".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_commands_print_stable_tables_and_bad_arguments_name_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let repo = repo_with(dir.path(), &[("ci.yml", CI)]);
    git(&repo, &["tag", "v1.0.0"]);
    let sha = git(&repo, &["rev-parse", "HEAD"]);
    let engine = TestEngine::builder(&dir.path().join("data"))
        .runners(1)
        .start()
        .await;
    engine.watch(&repo).await;
    let run_id = engine.dispatch(&repo, "ci.yml").await;
    engine
        .wait_run(&run_id, "the run to finish", |run| {
            run["run"]["status"] == "completed"
        })
        .await;
    ok(
        &engine,
        &[
            "env",
            "create",
            "production",
            "--approvals",
            "1",
            "--approvers",
            "alice",
            "--freeze",
            "Sat 00:00-Sun 00:00 UTC",
        ],
    );
    ok(
        &engine,
        &[
            "release",
            "policy",
            "production",
            "emergency",
            "--approvals",
            "1",
            "--approvers",
            "oncall",
        ],
    );
    ok(
        &engine,
        &["release", "create", "v1.0.0", "--category", "patch"],
    );
    ok(
        &engine,
        &[
            "release",
            "plan",
            "v1.0.0",
            "--env",
            "production",
            "--stage",
            "10%@2099-01-01T09:00Z",
            "--stage",
            "all@+2d",
        ],
    );
    ok(
        &engine,
        &["secret", "set", "DEPLOY_KEY", "--value", "s3cret"],
    );
    ok(&engine, &["var", "set", "REGION", "eu-west-1"]);
    ok(&engine, &["user", "add", "alice", "--role", "deployer"]);
    ok(&engine, &["group", "set", "oncall", "alice"]);

    let mut settings = insta::Settings::clone_current();
    settings.set_prepend_module_to_snapshot(false);
    settings.add_filter(&regex_escape(&engine.url), "[ENGINE]");
    settings.add_filter(&regex_escape(&dir.path().display().to_string()), "[TMP]");
    // The repository's `owner/name` is the temp dir's name and `repo`.
    if let Some(owner) = dir.path().file_name() {
        settings.add_filter(&regex_escape(&owner.to_string_lossy()), "[OWNER]");
    }
    settings.add_filter(&regex_escape(&sha), "[SHA]");
    for length in [12, 8, 7] {
        settings.add_filter(&regex_escape(&sha[..length]), "[SHA]");
    }
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[ID]",
    );
    settings.add_filter(r"\b[0-9a-f]{8}\b", "[ID]");
    settings.add_filter(r"\b[0-9a-f]{12}\b", "[ID]");
    settings.add_filter(
        r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?",
        "[TIME]",
    );
    settings.add_filter(r"\b\d+(\.\d+)? ?(ms|s|m|h)\b", "[DURATION]");
    settings.add_filter(r"\b\d+ ?(ms|s) ago\b", "[AGO]");
    settings.add_filter(r" {2,}", "  ");
    settings.add_filter(r"(?m) +$", "");

    let reads: &[(&str, Vec<&str>)] = &[
        ("runs", vec!["runs"]),
        ("run_status", vec!["run-status", &run_id]),
        ("logs", vec!["logs", &run_id]),
        ("runners", vec!["runners"]),
        ("env_list", vec!["env", "list"]),
        ("env_show", vec!["env", "show", "production"]),
        ("env_status", vec!["env", "status"]),
        ("deployments", vec!["deployments"]),
        ("audit", vec!["audit"]),
        ("releases", vec!["releases"]),
        ("releases_calendar", vec!["releases", "--calendar"]),
        ("release_show", vec!["release", "show", "v1.0.0"]),
        ("schedules", vec!["schedules"]),
        ("status", vec!["status", &sha]),
        ("repo_list", vec!["repo", "list"]),
        ("secret_list", vec!["secret", "list"]),
        ("var_list", vec!["var", "list"]),
        ("user_list", vec!["user", "list"]),
        ("token_list", vec!["token", "list"]),
        ("whoami", vec!["whoami"]),
        ("group_list", vec!["group", "list"]),
        ("action_source_list", vec!["action", "source", "list"]),
        ("artifacts", vec!["artifacts", &run_id]),
    ];
    let bad: &[(&str, Vec<&str>, i32)] = &[
        ("run_status_unknown_run", vec!["run-status", "ci.yml#99"], 2),
        ("logs_bad_reference", vec!["logs", "zz"], 2),
        ("env_show_unknown", vec!["env", "show", "nowhere"], 3),
        ("release_show_unknown", vec!["release", "show", "v9.9.9"], 3),
        (
            "release_promote_bad_audience",
            vec![
                "release",
                "promote",
                "v1.0.0",
                "--env",
                "production",
                "--audience",
                "150%",
            ],
            3,
        ),
        (
            "release_plan_bad_stage",
            vec![
                "release",
                "plan",
                "v1.0.0",
                "--env",
                "production",
                "--stage",
                "10%@tomorrow",
            ],
            3,
        ),
        ("cancel_unknown_run", vec!["cancel", "ci.yml#42"], 2),
    ];
    settings.bind(|| {
        for (name, args) in reads {
            let output = slipway(&engine, args);
            assert_eq!(
                output.status.code(),
                Some(0),
                "slipway {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            insta::assert_snapshot!(
                format!("table__{name}"),
                String::from_utf8_lossy(&output.stdout)
            );
        }
        for (name, args, code) in bad {
            let output = slipway(&engine, args);
            assert_eq!(
                output.status.code(),
                Some(*code),
                "slipway {args:?}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            insta::assert_snapshot!(
                format!("bad_argument__{name}"),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    });
}
