//! The command line's first five minutes and housekeeping, through the binary: `serve` records
//! the engine in the user config file so another terminal needs no flag; `run --workflow NAME`
//! finds `.github/workflows/NAME`; the working tree or `--commit`; local runs in the user's
//! cache, the newest N kept; `gc` and `serve --retain`; completions and man pages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::engine::{BIN, TestEngine};

/// A user of their own: `HOME`, `XDG_CONFIG_HOME` and `XDG_CACHE_HOME` under `home`.
fn user(home: &Path) -> [(&'static str, PathBuf); 3] {
    [
        ("HOME", home.to_path_buf()),
        ("XDG_CONFIG_HOME", home.join("config")),
        ("XDG_CACHE_HOME", home.join("cache")),
    ]
}

/// `slipway ARGS` in `cwd` as `home`'s user, with no engine named in the environment.
fn slipway(home: &Path, cwd: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .envs(user(home))
        .env_remove("SLIPWAY_ENGINE")
        .env_remove("SLIPWAY_TOKEN")
        .env_remove("SLIPWAY_DATA")
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("slipway runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} exited {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .expect("git runs");
    assert!(status.status.success(), "git {args:?}: {status:?}");
}

fn write(dir: &Path, relative: &str, content: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(path, content).expect("write");
}

#[tokio::test]
async fn serve_records_the_engine_so_another_terminal_needs_no_flag() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let repo = crate::support::repo_with(
        dir.path(),
        &[(
            "ci.yml",
            "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hello\n",
        )],
    );
    let data = dir.path().join("data");
    let engine = TestEngine::builder(&data)
        .runners(1)
        .env("HOME", &home.display().to_string())
        .env(
            "XDG_CONFIG_HOME",
            &home.join("config").display().to_string(),
        )
        .arg("--repo")
        .arg(repo.display().to_string())
        .start()
        .await;
    // The start-up hint needs no flag: the config file leads to this engine (on a port that is
    // not the default one).
    let output = engine
        .wait_output("follow them with `slipway runs` and `slipway logs RUN -f`")
        .await;
    let config_file = home.join("config/slipway/config.toml");
    assert!(
        output.contains(&format!("engine recorded in {}", config_file.display())),
        "{output}"
    );
    let config = std::fs::read_to_string(&config_file).expect("serve wrote the config file");
    assert!(
        config.contains(&format!("engine = \"{}\"", engine.url)),
        "{config}"
    );
    assert!(
        config.contains(&data.join("admin.token").display().to_string()),
        "{config}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&config_file)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the config file is private");

    // A second terminal elsewhere: reads and an admin call work without any flag.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let runs = slipway(&home, &elsewhere, &["runs", "--json"]);
    assert_ok(&runs, "slipway runs");
    let listed: Value = serde_json::from_slice(&runs.stdout).expect("JSON runs");
    assert!(
        listed.to_string().contains("ci.yml"),
        "the start-up run is listed: {listed}"
    );
    let token = slipway(&home, &elsewhere, &["runners", "token"]);
    assert_ok(&token, "slipway runners token (admin)");
    assert!(!text(&token.stdout).trim().is_empty());

    // With no config file, `SLIPWAY_DATA` (or `--data`) leads there too: the data dir names its
    // engine's URL and holds the token.
    let stranger = dir.path().join("stranger");
    let by_data = Command::new(BIN)
        .envs(user(&stranger))
        .env_remove("SLIPWAY_ENGINE")
        .env_remove("SLIPWAY_TOKEN")
        .env("SLIPWAY_DATA", &data)
        .current_dir(&elsewhere)
        .args(["runners", "token"])
        .output()
        .unwrap();
    assert_ok(&by_data, "SLIPWAY_DATA=... slipway runners token");
    let by_flag = slipway(
        &stranger,
        &elsewhere,
        &["runners", "--data", &data.display().to_string()],
    );
    assert_ok(&by_flag, "slipway runners --data DIR");

    // A flag wins over the config file: a wrong --engine is tried, and named.
    let wrong = format!("http://127.0.0.1:{}", crate::support::engine::free_port());
    let refused = slipway(&home, &elsewhere, &["runs", "--engine", &wrong]);
    assert_eq!(refused.status.code(), Some(3));
    assert!(
        text(&refused.stderr).contains(&wrong),
        "{}",
        text(&refused.stderr)
    );
}

#[test]
fn run_takes_a_bare_workflow_name_and_says_what_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let root = dir.path().join("repo");
    std::fs::create_dir_all(&root).unwrap();
    git(&root, &["init", "-q", "-b", "main"]);
    write(&root, "version.txt", "committed\n");
    let workflow = "on: push\njobs:\n  show:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - id: read\n        run: echo \"version=$(cat version.txt)\" >> \"$GITHUB_OUTPUT\"\n    outputs:\n      version: ${{ steps.read.outputs.version }}\n";
    write(&root, ".github/workflows/ci.yml", workflow);
    git(&root, &["add", "-A"]);
    git(&root, &["commit", "-qm", "first"]);
    let root_arg = root.display().to_string();
    let version_of = |output: &Output| -> String {
        let report: Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", text(&output.stderr)));
        let found = report.to_string();
        if found.contains("\"version\":\"changed\"") {
            "changed".into()
        } else if found.contains("\"version\":\"committed\"") {
            "committed".into()
        } else {
            panic!("no version output in {report:#}")
        }
    };

    // A clean tree: no notice; the bare name is found under .github/workflows.
    let clean = slipway(
        &home,
        dir.path(),
        &["run", "-C", &root_arg, "--workflow", "ci.yml", "--json"],
    );
    assert_ok(&clean, "run --workflow ci.yml");
    assert!(
        !text(&clean.stderr).contains("uncommitted"),
        "{}",
        text(&clean.stderr)
    );
    assert_eq!(version_of(&clean), "committed");

    // A dirty tree runs as it is, and says so.
    write(&root, "version.txt", "changed\n");
    let dirty = slipway(
        &home,
        dir.path(),
        &["run", "-C", &root_arg, "-W", "ci", "--json"],
    );
    assert_ok(&dirty, "run -W ci (dirty)");
    assert!(
        text(&dirty.stderr).contains("uncommitted changes included"),
        "{}",
        text(&dirty.stderr)
    );
    assert_eq!(version_of(&dirty), "changed");

    // --commit runs HEAD exactly: the committed file, and the committed workflow (an
    // uncommitted edit that would fail the job is left out).
    write(
        &root,
        ".github/workflows/ci.yml",
        &workflow.replace(
            "      - uses: actions/checkout@v4\n",
            "      - uses: actions/checkout@v4\n      - run: exit 1\n",
        ),
    );
    let head = slipway(
        &home,
        dir.path(),
        &[
            "run",
            "-C",
            &root_arg,
            "--workflow",
            "ci.yml",
            "--commit",
            "--json",
        ],
    );
    assert_ok(&head, "run --commit");
    assert!(
        text(&head.stderr).contains("--commit"),
        "{}",
        text(&head.stderr)
    );
    assert_eq!(version_of(&head), "committed");
    let working = slipway(
        &home,
        dir.path(),
        &["run", "-C", &root_arg, "--workflow", "ci.yml", "--json"],
    );
    assert_eq!(
        working.status.code(),
        Some(1),
        "the working tree's workflow fails"
    );

    // A name that is nowhere: a usage error naming where it looked.
    let missing = slipway(
        &home,
        dir.path(),
        &["run", "-C", &root_arg, "--workflow", "cd.yml"],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains(".github/workflows/cd.yml"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn local_runs_live_in_the_user_cache_and_only_the_newest_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let root = dir.path().join("project");
    write(
        &root,
        "flow.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo made > made.txt\n",
    );
    let root_arg = root.display().to_string();
    let runs_dir = home.join("cache/slipway/runs");
    let logs_dir = home.join("cache/slipway/logs");
    let run_folders = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&runs_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .filter(|name| !name.starts_with('_'))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    for _ in 0..3 {
        let output = slipway(
            &home,
            dir.path(),
            &[
                "run",
                "-C",
                &root_arg,
                "--workflow",
                "flow.yml",
                "--keep-runs",
                "2",
            ],
        );
        assert_ok(&output, "slipway run");
        // The summary names the run's log folder, inside the cache.
        assert!(
            text(&output.stderr).contains(&logs_dir.display().to_string()),
            "{}",
            text(&output.stderr)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let kept = run_folders();
    assert_eq!(kept.len(), 2, "the newest two runs are kept: {kept:?}");
    for name in &kept {
        assert!(logs_dir.join(name).is_dir(), "{name} has its logs");
        assert!(runs_dir.join(name).join("a/workspace/made.txt").is_file());
    }
    // Nothing went to the shared folder of the system temp dir's old place.
    assert!(!home.join(".cache").exists());
}

#[test]
fn completions_and_man_pages_come_from_the_command_tree() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    for (shell, marker) in [
        ("bash", "complete -F _slipway"),
        ("zsh", "#compdef slipway"),
        ("fish", "complete -c slipway"),
    ] {
        let output = slipway(&home, dir.path(), &["completions", shell]);
        assert_ok(&output, shell);
        let script = text(&output.stdout);
        assert!(script.contains(marker), "{shell}: {script:.300}");
        assert!(
            script.contains("run-status") && script.contains("keep-runs"),
            "{shell}"
        );
    }
    let bad = slipway(&home, dir.path(), &["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));

    let man = slipway(&home, dir.path(), &["man"]);
    assert_ok(&man, "slipway man");
    assert!(
        text(&man.stdout).contains(".TH slipway"),
        "{:.300}",
        text(&man.stdout)
    );
    let pages = dir.path().join("man");
    let written = slipway(
        &home,
        dir.path(),
        &["man", "--dir", &pages.display().to_string()],
    );
    assert_ok(&written, "slipway man --dir");
    for page in [
        "slipway.1",
        "slipway-gc.1",
        "slipway-env-create.1",
        "slipway-run.1",
    ] {
        let body = std::fs::read_to_string(pages.join(page))
            .unwrap_or_else(|_| panic!("{page} was written"));
        assert!(body.contains(".TH"), "{page}");
    }
}

/// Runs listed by the engine.
async fn run_ids(engine: &TestEngine) -> Vec<String> {
    engine
        .get("/api/v1/runs")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|run| run["run_id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn gc_removes_old_finished_runs_with_their_files_and_never_a_running_one() {
    let _serial = crate::support::SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let repo = crate::support::repo_with(
        dir.path(),
        &[
            (
                "ci.yml",
                "on: workflow_dispatch\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo built > out.txt\n",
            ),
            (
                "slow.yml",
                "on: workflow_dispatch\njobs:\n  wait:\n    runs-on: ubuntu-latest\n    steps:\n      - run: sleep 60\n",
            ),
        ],
    );
    let data = dir.path().join("data");
    let engine = TestEngine::builder(&data).runners(2).start().await;
    let done = engine.dispatch(&repo, "ci.yml").await;
    engine.wait_completed(&done).await;
    let slow = engine.dispatch(&repo, "slow.yml").await;
    engine.wait_job_running(&slow, "wait").await;
    let logs = data.join("logs").join(&done);
    assert!(logs.is_dir(), "the finished run has logs");
    let work: Vec<PathBuf> = std::fs::read_dir(data.join("runners"))
        .unwrap()
        .flatten()
        .map(|runner| runner.path().join("work").join(&done))
        .filter(|path| path.exists())
        .collect();
    assert_eq!(work.len(), 1, "one runner has the run's work dir");

    // Too young: nothing goes.
    let young = engine
        .cli()
        .args(["gc", "--older-than", "1h"])
        .output()
        .unwrap();
    assert_ok(&young, "gc --older-than 1h");
    assert!(
        text(&young.stdout).contains("removed 0 runs"),
        "{}",
        text(&young.stdout)
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let dry = engine
        .cli()
        .args(["gc", "--older-than", "1s", "--dry-run"])
        .output()
        .unwrap();
    assert_ok(&dry, "gc --dry-run");
    let dry_text = text(&dry.stdout);
    assert!(
        dry_text.contains("would remove 1 run ") && dry_text.contains(&done),
        "{dry_text}"
    );
    assert!(
        !dry_text.contains(&slow),
        "a running run is never listed: {dry_text}"
    );
    assert!(logs.is_dir(), "a dry run removes nothing");

    let real = engine
        .cli()
        .args(["gc", "--older-than", "1s", "--json"])
        .output()
        .unwrap();
    assert_ok(&real, "gc");
    let answer: Value = serde_json::from_slice(&real.stdout).unwrap();
    assert_eq!(answer["runs"].as_array().map(Vec::len), Some(1), "{answer}");
    assert_eq!(answer["runs"][0]["run_id"], done.as_str());
    assert!(answer["bytes"].as_u64().unwrap_or(0) > 0, "{answer}");
    let left = run_ids(&engine).await;
    assert!(!left.contains(&done), "the old run is gone: {left:?}");
    assert!(left.contains(&slow), "the running run stays: {left:?}");
    assert!(!logs.exists(), "its logs are gone");
    assert!(
        work.iter().all(|path| !path.exists()),
        "its work dir is gone"
    );

    // Without the admin token (and a user with no config file): refused, nothing touched.
    let anonymous = Command::new(BIN)
        .envs(user(&dir.path().join("nobody")))
        .env("SLIPWAY_ENGINE", &engine.url)
        .env_remove("SLIPWAY_TOKEN")
        .env_remove("SLIPWAY_DATA")
        .current_dir(dir.path())
        .args(["gc", "--older-than", "1s"])
        .output()
        .unwrap();
    assert_eq!(
        anonymous.status.code(),
        Some(3),
        "{}",
        text(&anonymous.stderr)
    );
    let bad = engine
        .cli()
        .args(["gc", "--older-than", "soon"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        text(&bad.stderr).contains("`soon` is not a duration"),
        "{}",
        text(&bad.stderr)
    );
}

#[tokio::test]
async fn serve_retain_sweeps_finished_runs_by_itself() {
    let _serial = crate::support::SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let repo = crate::support::repo_with(
        dir.path(),
        &[(
            "ci.yml",
            "on: workflow_dispatch\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo built\n",
        )],
    );
    let data = dir.path().join("data");
    let engine = TestEngine::builder(&data)
        .runners(1)
        .arg("--retain")
        .arg("2s")
        .start()
        .await;
    let run = engine.dispatch(&repo, "ci.yml").await;
    engine.wait_completed(&run).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while run_ids(&engine).await.contains(&run) {
        assert!(
            Instant::now() < deadline,
            "the run was not swept within 30 s: {}",
            engine.errors()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!data.join("logs").join(&run).exists(), "its logs went too");
}
