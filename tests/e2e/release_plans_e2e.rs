//! Release plans, categories and notes end to end: `slipway serve` on a controllable clock
//! (`--clock-file`), a real git repository watched with `slipway repo add`, environments made
//! with `slipway env create`, and `slipway release …`. Deployment records are written into the
//! store while the engine is stopped (the deploying side is tested elsewhere).
//!
//! Every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use deploy::{Deployment, DeploymentId, DeploymentStatus, StrategyKind, Version};
use engine::store::{RecordKind, Store};
use serde_json::Value;

use crate::support::engine::TestEngine;

fn git(dir: &Path, args: &[&str]) -> String {
    crate::support::git_as("test", "test@localhost", dir, args)
}

fn run(engine: &TestEngine, args: &[&str]) -> Output {
    engine
        .cli_acting(args)
        .env_remove("SLIPWAY_USER")
        .output()
        .expect("run slipway")
}

fn ok(engine: &TestEngine, args: &[&str]) -> String {
    let output = run(engine, args);
    assert!(
        output.status.success(),
        "slipway {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The command fails with exit code 3 and says `text` on stderr.
fn refused(engine: &TestEngine, args: &[&str], text: &str) {
    let output = run(engine, args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "slipway {args:?}: {stderr}");
    assert!(stderr.contains(text), "slipway {args:?}: {stderr}");
}

/// The command exits with the waiting code (5: held for approvals) and says `text`.
fn held(engine: &TestEngine, args: &[&str], text: &str) {
    let output = run(engine, args);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(5), "slipway {args:?}: {said}");
    assert!(said.contains(text), "slipway {args:?}: {said}");
}

/// A repository `shop` with one commit tagged `v1.0.0` and `v1.0.1`; its `owner/name` as the
/// engine names it, and the commit.
fn repository(root: &Path) -> (PathBuf, String, String) {
    let source = root.join("acme").join("shop");
    std::fs::create_dir_all(&source).expect("create repo");
    git(&source, &["init", "-q", "-b", "main"]);
    std::fs::write(source.join("app.txt"), "1.0").expect("write");
    git(&source, &["add", "-A"]);
    git(&source, &["commit", "-q", "-m", "feat: first"]);
    git(&source, &["tag", "v1.0.0"]);
    git(&source, &["tag", "v1.0.1"]);
    let sha = git(&source, &["rev-parse", "HEAD"]);
    let probe = root.join("probe.git");
    let mirror =
        engine::repos::triggers::Mirror::open_or_create(&probe, &source.display().to_string())
            .expect("probe mirror");
    mirror.fetch().expect("fetch probe");
    let full_name = engine::runs::event::source_at_ref(&probe, "refs/tags/v1.0.0")
        .expect("tag resolves")
        .repository;
    (source, full_name, sha)
}

/// The commit is live in production (written while no engine runs).
async fn deployed(data: &Path, repository: &str, sha: &str) {
    let store = Store::open(data).expect("open store");
    let at: jiff::Timestamp = "2026-12-01T09:00:00Z".parse().expect("time");
    let mut deployment = Deployment::new(
        DeploymentId("d1".into()),
        "production",
        repository,
        Version {
            sha: sha.into(),
            tag: Some("v1.0.0".into()),
            committed_at: None,
        },
        "refs/tags/v1.0.0",
        "erin",
        StrategyKind::BigBang,
        false,
        at,
    );
    deployment.status = DeploymentStatus::Success;
    deployment.finished_at = Some(at);
    store
        .put_record(RecordKind::Deployments, "d1", &deployment)
        .await
        .expect("write deployment");
}

fn set_clock(path: &Path, at: &str) {
    std::fs::write(path, at).expect("write clock");
}

fn release(engine: &TestEngine, tag: &str) -> Value {
    serde_json::from_str(&ok(engine, &["release", "show", tag, "--json"])).expect("release json")
}

/// Waits (at most 30 s) until the release satisfies `done`.
async fn wait_release(
    engine: &TestEngine,
    tag: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let shown = release(engine, tag);
        if done(&shown) {
            return shown;
        }
        assert!(Instant::now() < deadline, "{tag} never {what}: {shown:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The production audit log: (action, reason), oldest first.
fn audit(engine: &TestEngine) -> Vec<(String, String)> {
    let entries: Value =
        serde_json::from_str(&ok(engine, &["audit", "--env", "production", "--json"]))
            .expect("audit json");
    entries
        .as_array()
        .expect("audit entries")
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap_or("").to_string(),
                entry["reason"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn audience(release: &Value) -> Value {
    release["rollouts"]["production"]["audience"].clone()
}

fn percent(value: u64) -> impl Fn(&Value) -> bool {
    move |release| audience(release)["percent"] == value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_stage_plan_advances_waits_out_a_freeze_pauses_resumes_and_halts() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let clock = temp.path().join("clock");
    let (source, full_name, sha) = repository(temp.path());
    deployed(&data, &full_name, &sha).await;
    set_clock(&clock, "2026-12-05T12:00:00Z");
    let mut engine = TestEngine::builder(&data)
        .runners(0)
        .arg("--clock-file")
        .arg(clock.display().to_string())
        .start()
        .await;
    ok(
        &engine,
        &[
            "repo",
            "add",
            &source.display().to_string(),
            "--name",
            "shop",
        ],
    );
    ok(
        &engine,
        &[
            "env",
            "create",
            "production",
            "--freeze",
            "2026-12-08T00:00Z/2026-12-09T00:00Z",
        ],
    );
    ok(
        &engine,
        &[
            "release",
            "create",
            "v1.0.0",
            "--category",
            "minor",
            "--as",
            "alice",
        ],
    );
    let planned = ok(
        &engine,
        &[
            "release",
            "plan",
            "v1.0.0",
            "--env",
            "production",
            "--stage",
            "10%@2026-12-07T09:00Z",
            "--stage",
            "50%@+1d",
            "--stage",
            "all@+3d",
            "--as",
            "pat",
        ],
    );
    assert!(
        planned.contains("v1.0.0 planned in production: 10% at 2026-12-07T09:00:00Z, 50% at 2026-12-08T09:00:00Z, all at 2026-12-11T09:00:00Z"),
        "{planned}"
    );
    let calendar = ok(&engine, &["releases", "--calendar"]);
    let lines: Vec<&str> = calendar.lines().collect();
    assert_eq!(lines.len(), 4, "{calendar}");
    assert!(
        lines[1].starts_with("2026-12-07 09:00:00Z")
            && lines[1].contains("v1.0.0")
            && lines[1].contains("10%"),
        "{calendar}"
    );
    assert!(
        lines[3].starts_with("2026-12-11 09:00:00Z") && lines[3].contains("all"),
        "{calendar}"
    );
    // A dry run over 10,000 targeting keys: how many each stage reaches.
    let keys = temp.path().join("keys.txt");
    let lines: Vec<String> = (0..10_000).map(|n| format!("customer-{n}")).collect();
    std::fs::write(&keys, lines.join("\n")).expect("keys");
    let dry: Value = serde_json::from_str(&ok(
        &engine,
        &[
            "release",
            "show",
            "v1.0.0",
            "--keys",
            &keys.display().to_string(),
            "--json",
        ],
    ))
    .expect("json");
    let reached: Vec<(String, u64)> = dry["reach"]
        .as_array()
        .expect("reach")
        .iter()
        .map(|line| {
            (
                line["stage"].as_str().unwrap_or("").to_string(),
                line["reached"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(reached.len(), 3, "{dry:#}");
    assert!(
        reached[0].1.abs_diff(1_000) <= 150 && reached[1].1.abs_diff(5_000) <= 150,
        "{reached:?}"
    );
    assert_eq!(reached[2], ("stage 3".to_string(), 10_000));
    let shown = ok(
        &engine,
        &[
            "release",
            "show",
            "v1.0.0",
            "--keys",
            &keys.display().to_string(),
        ],
    );
    assert!(
        shown.contains("production  stage 1  10%  reaches ") && shown.contains("is below 10)"),
        "{shown}"
    );

    // Not yet: nothing is released before the first stage's time.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(release(&engine, "v1.0.0")["rollouts"]["production"].is_null());

    // The first stage's time comes: 10%.
    set_clock(&clock, "2026-12-07T09:00:01Z");
    wait_release(&engine, "v1.0.0", "reached 10%", percent(10)).await;

    // The second stage falls in the freeze window: the plan waits and says why.
    set_clock(&clock, "2026-12-08T10:00:00Z");
    let shown = wait_release(&engine, "v1.0.0", "waited for the freeze", |release| {
        release["plans"]["production"]["waiting"]
            .as_str()
            .is_some_and(|why| {
                why.contains("`production` is frozen (2026-12-08T00:00Z/2026-12-09T00:00Z)")
            })
    })
    .await;
    assert!(percent(10)(&shown), "{shown:#}");

    // Paused, the freeze ending gives nothing; resumed, the due stage is given.
    let paused = ok(
        &engine,
        &[
            "release",
            "pause",
            "v1.0.0",
            "--env",
            "production",
            "--as",
            "pat",
        ],
    );
    assert!(
        paused.contains("the plan of v1.0.0 in production is paused"),
        "{paused}"
    );
    set_clock(&clock, "2026-12-09T01:00:00Z");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let shown = release(&engine, "v1.0.0");
    assert!(percent(10)(&shown), "{shown:#}");
    assert_eq!(shown["plans"]["production"]["state"], "paused");
    let show = ok(&engine, &["release", "show", "v1.0.0"]);
    assert!(
        show.contains("plan        production: paused (by pat)"),
        "{show}"
    );
    ok(
        &engine,
        &[
            "release",
            "resume",
            "v1.0.0",
            "--env",
            "production",
            "--as",
            "pat",
        ],
    );
    wait_release(&engine, "v1.0.0", "reached 50%", percent(50)).await;

    // Halted: it stays at the last stage given, even when the last stage's time comes.
    let halted = ok(
        &engine,
        &[
            "release",
            "halt",
            "v1.0.0",
            "--env",
            "production",
            "--as",
            "pat",
        ],
    );
    assert!(
        halted.contains("is halted; stays released to 50%"),
        "{halted}"
    );
    set_clock(&clock, "2026-12-11T12:00:00Z");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let shown = release(&engine, "v1.0.0");
    assert!(percent(50)(&shown), "{shown:#}");
    assert_eq!(shown["plans"]["production"]["state"], "halted");
    refused(
        &engine,
        &[
            "release",
            "resume",
            "v1.0.0",
            "--env",
            "production",
            "--as",
            "pat",
        ],
        "is halted: it cannot be resumed",
    );
    let audit = audit(&engine);
    for reason in [
        "stage 1 reached",
        "waits: `production` is frozen (2026-12-08T00:00Z/2026-12-09T00:00Z)",
        "plan active → paused",
        "plan paused → active",
        "stage 2 reached",
        "plan active → halted",
    ] {
        assert!(
            audit
                .iter()
                .any(|(action, text)| action == "release_plan_changed" && text.starts_with(reason)),
            "{reason}: {audit:?}"
        );
    }
    let waits = audit
        .iter()
        .filter(|(_, text)| text.starts_with("waits: `production` is frozen"))
        .count();
    assert_eq!(waits, 1, "audited once, not per tick: {audit:?}");

    // Missed stages while the engine was down: only the latest due one is given (run once).
    ok(&engine, &["release", "create", "v1.0.1", "--as", "alice"]);
    ok(
        &engine,
        &[
            "release",
            "plan",
            "v1.0.1",
            "--env",
            "production",
            "--stage",
            "10%@2026-12-12T00:00Z",
            "--stage",
            "50%@+1d",
            "--stage",
            "all@+1d",
            "--as",
            "pat",
        ],
    );
    engine.kill_engine();
    set_clock(&clock, "2026-12-20T00:00:00Z");
    engine.respawn().await;
    let shown = wait_release(&engine, "v1.0.1", "reached all", |release| {
        audience(release)["kind"] == "all"
    })
    .await;
    let stages = &shown["plans"]["production"]["stages"];
    assert_eq!(
        (
            stages[0]["skipped"].as_bool(),
            stages[1]["skipped"].as_bool()
        ),
        (Some(true), Some(true)),
        "{shown:#}"
    );
    assert!(stages[2]["reached_at"].is_string(), "{shown:#}");
    assert_eq!(shown["plans"]["production"]["state"], "done");
    let promotions = shown["history"].as_array().expect("history").len();
    assert_eq!(promotions, 1, "one promotion, not three: {shown:#}");

    // A new plan for v1.0.0, halted to nobody: withdrawn.
    ok(
        &engine,
        &[
            "release",
            "plan",
            "v1.0.0",
            "--env",
            "production",
            "--stage",
            "tier:beta@now",
            "--stage",
            "all@+30d",
            "--as",
            "pat",
        ],
    );
    wait_release(&engine, "v1.0.0", "reached tier beta", |release| {
        audience(release)["tier"] == "beta"
    })
    .await;
    let halted = ok(
        &engine,
        &[
            "release",
            "halt",
            "v1.0.0",
            "--env",
            "production",
            "--to-nobody",
            "--as",
            "pat",
        ],
    );
    assert!(
        halted.contains("withdrawn from everyone") && halted.contains("release event: unpublished"),
        "{halted}"
    );
    assert!(release(&engine, "v1.0.0")["rollouts"]["production"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emergency_release_skips_the_wait_and_the_freeze_but_needs_its_own_approver() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let clock = temp.path().join("clock");
    let (source, full_name, sha) = repository(temp.path());
    deployed(&data, &full_name, &sha).await;
    // Inside a freeze window, with a one-hour release wait.
    set_clock(&clock, "2026-12-24T12:00:00Z");
    let engine = TestEngine::builder(&data)
        .runners(0)
        .arg("--clock-file")
        .arg(clock.display().to_string())
        .start()
        .await;
    ok(
        &engine,
        &[
            "repo",
            "add",
            &source.display().to_string(),
            "--name",
            "shop",
        ],
    );
    ok(
        &engine,
        &[
            "env",
            "create",
            "production",
            "--freeze",
            "2026-12-24T00:00Z/2026-12-27T00:00Z",
            "--release-wait",
            "1h",
        ],
    );
    ok(
        &engine,
        &[
            "release",
            "create",
            "v1.0.0",
            "--category",
            "patch",
            "--as",
            "alice",
        ],
    );
    ok(
        &engine,
        &[
            "release",
            "create",
            "v1.0.1",
            "--category",
            "emergency",
            "--as",
            "alice",
        ],
    );
    refused(
        &engine,
        &[
            "release",
            "create",
            "v1.0.2",
            "--category",
            "hotfix",
            "--as",
            "alice",
        ],
        "category: `hotfix` is not a release category",
    );

    // A patch waits out the freeze; an emergency without approvers of its own is refused.
    refused(
        &engine,
        &[
            "release",
            "promote",
            "v1.0.0",
            "--env",
            "production",
            "--audience",
            "all",
            "--as",
            "pat",
        ],
        "release `v1.0.0` waits in `production`: `production` is frozen",
    );
    refused(
        &engine,
        &[
            "release",
            "promote",
            "v1.0.1",
            "--env",
            "production",
            "--audience",
            "all",
            "--as",
            "pat",
        ],
        "an emergency release needs approvers of its own in `production`",
    );
    let policy = ok(
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
            "--wait",
            "2h",
            "--as",
            "admin",
        ],
    );
    assert!(
        policy.contains("production  emergency  1 approval(s) from oncall"),
        "{policy}"
    );
    // The policy is part of the environment: in `env show` and the environment API.
    let shown = ok(&engine, &["env", "show", "production"]);
    assert!(
        shown.contains("  emergency:  1 approval(s) from oncall, wait 7200s"),
        "{shown}"
    );
    let view = engine.get("/api/v1/environments/production").await;
    let emergency = &view["environment"]["release_policies"]["emergency"];
    assert_eq!(emergency["protection"]["required_approvals"], 1, "{view:#}");
    assert_eq!(
        emergency["protection"]["approvers"],
        serde_json::json!([{"user": "oncall"}]),
        "{view:#}"
    );

    // Now it waits for its approver only: not the freeze, not the wait timers (held for
    // approval: its own exit code).
    held(
        &engine,
        &[
            "release",
            "promote",
            "v1.0.1",
            "--env",
            "production",
            "--audience",
            "all",
            "--as",
            "pat",
        ],
        "release `v1.0.1` waits for approval in `production`: 1 more approval(s) needed from `oncall`",
    );
    refused(
        &engine,
        &[
            "release",
            "approve",
            "v1.0.1",
            "--env",
            "production",
            "--as",
            "mallory",
        ],
        "mallory",
    );
    let approved = ok(
        &engine,
        &[
            "release",
            "approve",
            "v1.0.1",
            "--env",
            "production",
            "--as",
            "oncall",
        ],
    );
    assert!(
        approved.contains("v1.0.1 released to all in production"),
        "{approved}"
    );
    let shown = release(&engine, "v1.0.1");
    assert_eq!(shown["category"], "emergency");
    assert_eq!(audience(&shown)["kind"], "all");
    let audit = audit(&engine);
    assert!(
        audit.iter().any(|(action, text)| action == "release_promoted" && text == "EMERGENCY v1.0.1 to all"),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|(action, _)| action == "release_policy_changed"),
        "{audit:?}"
    );
    let show = ok(&engine, &["release", "show", "v1.0.1"]);
    assert!(show.contains("category    emergency"), "{show}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_list_exactly_the_commits_between_tags_and_reach_the_release_workflow() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let body = temp.path().join("body.txt");
    let source = temp.path().join("acme").join("shop");
    std::fs::create_dir_all(source.join(".github/workflows")).expect("create repo");
    std::fs::write(
        source.join(".github/workflows/announce.yml"),
        format!(
            "on:\n  release:\n    types: [published]\njobs:\n  announce:\n    runs-on: ubuntu-latest\n    steps:\n      - env:\n          BODY: ${{{{ github.event.release.body }}}}\n        run: printf '%s' \"$BODY\" > '{}'\n",
            body.display()
        ),
    )
    .expect("workflow");
    git(&source, &["init", "-q", "-b", "main"]);
    git(&source, &["add", "-A"]);
    git(&source, &["commit", "-q", "-m", "feat: first"]);
    git(&source, &["tag", "v1.0.0"]);
    for (file, message) in [
        ("a", "fix: rounding of totals"),
        ("b", "feat(cart): wishlist"),
        ("c", "Tidy the README"),
    ] {
        std::fs::write(source.join(file), message).expect("write");
        git(&source, &["add", "-A"]);
        git(&source, &["commit", "-q", "-m", message]);
    }
    git(&source, &["tag", "v1.1.0"]);
    let sha = git(&source, &["rev-parse", "HEAD"]);
    let short = |rev: &str| git(&source, &["rev-parse", "--short=7", rev]);
    let probe = temp.path().join("probe.git");
    let mirror =
        engine::repos::triggers::Mirror::open_or_create(&probe, &source.display().to_string())
            .expect("probe mirror");
    mirror.fetch().expect("fetch probe");
    let full_name = engine::runs::event::source_at_ref(&probe, "refs/tags/v1.1.0")
        .expect("tag resolves")
        .repository;
    deployed(&data, &full_name, &sha).await;
    let engine = TestEngine::builder(&data).runners(1).start().await;
    ok(
        &engine,
        &[
            "repo",
            "add",
            &source.display().to_string(),
            "--name",
            "shop",
        ],
    );
    ok(&engine, &["env", "create", "production"]);
    ok(&engine, &["release", "create", "v1.0.0", "--as", "alice"]);
    assert_eq!(
        ok(&engine, &["release", "notes", "v1.0.0"]),
        format!("## Features\n- first ({})\n", short("v1.0.0"))
    );
    ok(&engine, &["release", "create", "v1.1.0", "--as", "alice"]);
    let expected = format!(
        "## Features\n- **cart:** wishlist ({})\n\n## Fixes\n- rounding of totals ({})\n\n## Other changes\n- Tidy the README ({})\n",
        short("v1.1.0~1"),
        short("v1.1.0~2"),
        short("v1.1.0")
    );
    assert_eq!(ok(&engine, &["release", "notes", "v1.1.0"]), expected);
    let show = ok(&engine, &["release", "show", "v1.1.0"]);
    assert!(
        show.contains("    ## Fixes") && !show.contains("first"),
        "{show}"
    );

    // Edited notes are what the `release` workflow gets as `github.event.release.body`.
    let edited = temp.path().join("notes.md");
    std::fs::write(
        &edited,
        format!("{expected}\nThanks to everyone who tested the wishlist.\n"),
    )
    .expect("notes");
    ok(
        &engine,
        &[
            "release",
            "notes",
            "v1.1.0",
            "--edit-file",
            &edited.display().to_string(),
            "--as",
            "pat",
        ],
    );
    let promoted = ok(
        &engine,
        &[
            "release",
            "promote",
            "v1.1.0",
            "--env",
            "production",
            "--audience",
            "10%",
            "--as",
            "pat",
        ],
    );
    assert!(promoted.contains("started run(s): "), "{promoted}");
    let deadline = Instant::now() + Duration::from_secs(90);
    while !body.exists() {
        assert!(
            Instant::now() < deadline,
            "the release workflow never wrote the body"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let written = std::fs::read_to_string(&body).expect("body");
    assert_eq!(
        written.trim_end(),
        format!("{expected}\nThanks to everyone who tested the wishlist.").trim_end()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_check_workflow_holds_each_stage_until_it_passes() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let clock = temp.path().join("clock");
    let healthy = temp.path().join("canary-healthy");
    let tries = temp.path().join("canary-tries");
    let source = temp.path().join("acme").join("shop");
    std::fs::create_dir_all(source.join(".github/workflows")).expect("create repo");
    // The canary analysis: healthy once the marker file exists; every try leaves a line.
    std::fs::write(
        source.join(".github/workflows/canary.yml"),
        format!(
            "on: workflow_dispatch\njobs:\n  analyse:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo \"$GITHUB_REF\" >> '{}' && test -f '{}'\n",
            tries.display(),
            healthy.display()
        ),
    )
    .expect("workflow");
    git(&source, &["init", "-q", "-b", "main"]);
    git(&source, &["add", "-A"]);
    git(&source, &["commit", "-q", "-m", "feat: first"]);
    git(&source, &["tag", "v1.0.0"]);
    let sha = git(&source, &["rev-parse", "HEAD"]);
    let probe = temp.path().join("probe.git");
    let mirror =
        engine::repos::triggers::Mirror::open_or_create(&probe, &source.display().to_string())
            .expect("probe mirror");
    mirror.fetch().expect("fetch probe");
    let full_name = engine::runs::event::source_at_ref(&probe, "refs/tags/v1.0.0")
        .expect("tag resolves")
        .repository;
    deployed(&data, &full_name, &sha).await;
    set_clock(&clock, "2026-12-05T12:00:00Z");
    let engine = TestEngine::builder(&data)
        .runners(1)
        .arg("--clock-file")
        .arg(clock.display().to_string())
        .start()
        .await;
    ok(
        &engine,
        &[
            "repo",
            "add",
            &source.display().to_string(),
            "--name",
            "shop",
        ],
    );
    ok(&engine, &["env", "create", "production"]);
    ok(&engine, &["release", "create", "v1.0.0", "--as", "alice"]);

    // A check is a workflow: the engine runs no commands of its own.
    let output = run(
        &engine,
        &[
            "release",
            "plan",
            "v1.0.0",
            "--env",
            "production",
            "--stage",
            "10%@now",
            "--check",
            "./canary.sh",
        ],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("check: `./canary.sh` is not a check: write `workflow:FILE`"),
        "{stderr}"
    );

    let planned = ok(
        &engine,
        &[
            "release",
            "plan",
            "v1.0.0",
            "--env",
            "production",
            "--stage",
            "10%@now",
            "--stage",
            "all@+1d",
            "--check",
            "workflow:canary.yml",
            "--as",
            "pat",
        ],
    );
    assert!(
        planned.contains("each after check workflow:canary.yml"),
        "{planned}"
    );

    // Stage 1 is due: the check runs at the tag and fails; the stage is held and says why.
    let shown = wait_release(&engine, "v1.0.0", "held by its failing check", |release| {
        release["plans"]["production"]["waiting"]
            .as_str()
            .is_some_and(|why| why.contains("check workflow:canary.yml of stage 1 failed"))
    })
    .await;
    assert!(shown["rollouts"]["production"].is_null(), "{shown:#}");
    let text = ok(&engine, &["release", "show", "v1.0.0"]);
    assert!(
        text.contains("production: active (by pat, check workflow:canary.yml, waiting: check workflow:canary.yml of stage 1"),
        "{text}"
    );
    assert!(
        audit(&engine)
            .iter()
            .any(|(action, reason)| action == "release_plan_changed"
                && reason.starts_with("waits: check workflow:canary.yml of stage 1 failed (run ")),
        "{:?}",
        audit(&engine)
    );
    let first_tries = std::fs::read_to_string(&tries).unwrap_or_default();
    assert!(
        first_tries.lines().all(|line| line == "refs/tags/v1.0.0"),
        "{first_tries}"
    );

    // The canary turns healthy: the next try passes and the stage is given through the gate.
    std::fs::write(&healthy, "ok").expect("marker");
    let given = wait_release(&engine, "v1.0.0", "reached 10%", percent(10)).await;
    assert!(
        given["plans"]["production"]["stages"][0]["reached_at"].is_string(),
        "{given:#}"
    );
    let trail = audit(&engine);
    let passed = trail
        .iter()
        .position(|(_, reason)| reason.starts_with("check workflow:canary.yml of stage 1 passed"))
        .unwrap_or_else(|| panic!("no passed check in {trail:?}"));
    let reached = trail
        .iter()
        .position(|(_, reason)| reason.starts_with("stage 1 reached"))
        .unwrap_or_else(|| panic!("stage 1 never reached in {trail:?}"));
    assert!(passed < reached, "{trail:?}");
    assert!(
        std::fs::read_to_string(&tries)
            .unwrap_or_default()
            .lines()
            .count()
            >= 2,
        "the failed check was not tried again"
    );

    // The next stage runs its own check when its time comes.
    set_clock(&clock, "2026-12-06T12:00:01Z");
    wait_release(&engine, "v1.0.0", "reached all", |release| {
        audience(release)["kind"] == "all"
    })
    .await;
    let trail = audit(&engine);
    assert!(
        trail
            .iter()
            .any(|(_, reason)| reason.starts_with("check workflow:canary.yml of stage 2 passed")),
        "{trail:?}"
    );
}
