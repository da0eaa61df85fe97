//! Git triggers end to end: a real bare repository in a temp dir, the engine's API on a loopback
//! port, the installed `post-receive` hook, and real `git push`es. The engine runs in this test
//! process (the binary has no `slipway serve` yet); runs are recorded by `RecordRuns`, so each
//! test asserts which workflows started at which commits.
//!
//! Waits are bounded (a few seconds), never timing assertions.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use engine::api::{AppState, Server, serve};
use engine::repos::triggers::hook::{hook_script, install_hook};
use engine::repos::triggers::webhook::sign;
use engine::repos::{AddRepo, RecordRuns, Repos};
use engine::runs::dispatch::{Engine, EngineConfig};
use engine::runs::orchestrator::Orchestrator;
use engine::store::RunRecord;
use tokio_util::sync::CancellationToken;

const SRC_WORKFLOW: &str = "on:\n  push:\n    paths: ['src/**']\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo src\n";
const TAG_WORKFLOW: &str = "on:\n  push:\n    tags: ['v*']\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo tag\n";
const BRANCH_WORKFLOW: &str = "on:\n  push:\n    branches: ['**']\njobs:\n  any:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo branch\n";

/// A bare repository people push to, a working clone, and a running engine watching it.
struct World {
    _temp: tempfile::TempDir,
    bare: PathBuf,
    work: PathBuf,
    data: PathBuf,
    port: u16,
    engine: Option<Running>,
}

struct Running {
    engine: Arc<Engine>,
    repos: Arc<Repos>,
    server: Server,
    background: CancellationToken,
}

impl World {
    async fn new() -> World {
        let temp = tempfile::tempdir().unwrap();
        let bare = temp.path().join("origin.git");
        let work = temp.path().join("work");
        let data = temp.path().join("data");
        git(
            temp.path(),
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
        );
        git(temp.path(), &["init", "-q", "-b", "main", "work"]);
        git(&work, &["config", "user.email", "dev@example.com"]);
        git(&work, &["config", "user.name", "Dev"]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        write(&work, ".github/workflows/src.yml", SRC_WORKFLOW);
        write(&work, ".github/workflows/tag.yml", TAG_WORKFLOW);
        write(&work, ".github/workflows/branch.yml", BRANCH_WORKFLOW);
        write(&work, "src/lib.rs", "// first\n");
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "first"]);
        git(&work, &["push", "-q", "origin", "main"]);
        let mut world = World {
            _temp: temp,
            bare,
            work,
            data,
            port: 0,
            engine: None,
        };
        world.start().await;
        let running = world.running();
        let (record, token) = running
            .repos
            .add(AddRepo {
                source: world.bare.display().to_string(),
                name: Some("app".into()),
                poll_interval: None,
                webhook_secret: Some("hush".into()),
                ..AddRepo::default()
            })
            .await
            .unwrap();
        assert_eq!(record.seen_refs.len(), 1, "main is seen at add");
        let script = hook_script(&running.server.url(), "app", &token);
        install_hook(&world.bare, &script).unwrap();
        world
    }

    async fn start(&mut self) {
        let mut attempt = 0;
        let (engine, events) = loop {
            // The previous engine's database lock can take a moment to go.
            match Engine::open(EngineConfig::new(&self.data)).await {
                Ok(opened) => break opened,
                Err(error) if attempt < 50 => {
                    attempt += 1;
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("engine did not reopen: {error}"),
            }
        };
        let orchestrator = Orchestrator::start(engine.clone(), events).await.unwrap();
        let starter = Arc::new(RecordRuns {
            engine: engine.clone(),
        });
        let repos = Repos::new(engine.clone(), starter);
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let server = serve(AppState::new(orchestrator, repos.clone()), address)
            .await
            .unwrap();
        self.port = server.local_addr().port();
        let background = CancellationToken::new();
        repos.spawn(background.clone());
        self.engine = Some(Running {
            engine,
            repos,
            server,
            background,
        });
    }

    /// Stops the engine; a restart reuses its port (the hook names it).
    async fn stop(&mut self) {
        let running = self.engine.take().unwrap();
        running.background.cancel();
        running.server.stop().await;
        running.engine.shutdown();
    }

    fn running(&self) -> &Running {
        self.engine.as_ref().unwrap()
    }

    fn url(&self) -> String {
        self.running().server.url()
    }

    fn commit(&self, path: &str, text: &str) -> String {
        write(&self.work, path, text);
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "-q", "-m", path]);
        git_output(&self.work, &["rev-parse", "HEAD"])
    }

    fn push(&self, args: &[&str]) {
        let mut all = vec!["push", "-q", "origin"];
        all.extend_from_slice(args);
        git(&self.work, &all);
    }

    fn runs(&self) -> Vec<RunRecord> {
        self.running().engine.store().runs().unwrap()
    }

    /// Waits (at most 10 s) until at least `count` runs exist; returns them oldest first.
    async fn wait_for_runs(&self, count: usize) -> Vec<RunRecord> {
        for _ in 0..200 {
            let runs = self.runs();
            if runs.len() >= count {
                return sorted(runs);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("expected {count} runs, found {:?}", summary(&self.runs()));
    }

    /// Gives in-flight intakes time to finish, then returns every run, oldest first.
    async fn settled_runs(&self) -> Vec<RunRecord> {
        tokio::time::sleep(Duration::from_millis(700)).await;
        sorted(self.runs())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(running) = &self.engine {
            running.background.cancel();
            running.engine.shutdown();
        }
    }
}

fn sorted(mut runs: Vec<RunRecord>) -> Vec<RunRecord> {
    runs.sort_by_key(|run| run.created_at_us);
    runs
}

fn summary(runs: &[RunRecord]) -> Vec<(String, String, String)> {
    runs.iter()
        .map(|run| (run.workflow.clone(), detail(run, "ref"), detail(run, "sha")))
        .collect()
}

fn detail(run: &RunRecord, key: &str) -> String {
    run.details
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn write(root: &Path, path: &str, text: &str) {
    let full = root.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?} failed");
}

fn git_output(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?} failed");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// POSTs `body` with `headers` through curl; returns the HTTP status.
fn curl_post(url: &str, headers: &[String], body: &str) -> u16 {
    let mut command = Command::new("curl");
    command.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-m",
        "5",
        "-X",
        "POST",
    ]);
    for header in headers {
        command.args(["-H", header]);
    }
    command.args(["--data-binary", body, url]);
    let output = command.output().unwrap();
    String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_docs_only_push_skips_the_paths_workflow_and_a_src_push_starts_it() {
    let world = World::new().await;
    let docs = world.commit("docs/readme.md", "docs\n");
    world.push(&["main"]);
    let runs = world.wait_for_runs(1).await;
    assert_eq!(
        summary(&runs),
        [(
            ".github/workflows/branch.yml".to_string(),
            "refs/heads/main".to_string(),
            docs.clone()
        )]
    );
    let src = world.commit("src/lib.rs", "// second\n");
    world.push(&["main"]);
    world.wait_for_runs(3).await;
    let runs = world.settled_runs().await;
    let at_src: Vec<String> = runs
        .iter()
        .filter(|run| detail(run, "sha") == src)
        .map(|run| run.workflow.clone())
        .collect();
    assert_eq!(
        at_src,
        [".github/workflows/branch.yml", ".github/workflows/src.yml"]
    );
    assert_eq!(runs.len(), 3, "{:?}", summary(&runs));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_push_starts_the_tags_workflow_at_the_tagged_commit() {
    let world = World::new().await;
    let head = git_output(&world.work, &["rev-parse", "HEAD"]);
    git(&world.work, &["tag", "v1.0"]);
    world.push(&["v1.0"]);
    world.wait_for_runs(1).await;
    let runs = world.settled_runs().await;
    assert_eq!(
        summary(&runs),
        [(
            ".github/workflows/tag.yml".to_string(),
            "refs/tags/v1.0".to_string(),
            head
        )]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_branch_starts_nothing() {
    let world = World::new().await;
    git(&world.work, &["branch", "feature"]);
    world.push(&["feature"]);
    // Creating the branch starts the any-branch workflow: the hook and intake work.
    world.wait_for_runs(1).await;
    let before = world.settled_runs().await.len();
    world.push(&["--delete", "feature"]);
    let after = world.settled_runs().await;
    assert_eq!(after.len(), before, "{:?}", summary(&after));
    let repo = world.running().engine.store().repo("app").unwrap().unwrap();
    assert!(
        !repo.seen_refs.contains_key("refs/heads/feature"),
        "the deletion was handled"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_quick_pushes_run_at_their_own_commits() {
    let world = World::new().await;
    let first = world.commit("docs/one.md", "1\n");
    world.push(&["main"]);
    let second = world.commit("docs/two.md", "2\n");
    world.push(&["main"]);
    world.wait_for_runs(2).await;
    let runs = world.settled_runs().await;
    let shas: Vec<String> = runs.iter().map(|run| detail(run, "sha")).collect();
    assert_eq!(shas, [first, second]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_with_a_wrong_signature_is_refused_and_records_nothing() {
    let world = World::new().await;
    // The push lands without the hook (as a forge would deliver it), then comes the webhook.
    std::fs::remove_file(world.bare.join("hooks/post-receive")).unwrap();
    let before_sha = git_output(&world.work, &["rev-parse", "HEAD"]);
    let after_sha = world.commit("docs/x.md", "x\n");
    world.push(&["main"]);
    let body = serde_json::json!({
        "ref": "refs/heads/main",
        "before": before_sha,
        "after": after_sha,
        "repository": {"full_name": "dev/app"},
        "pusher": {"name": "dev"},
    })
    .to_string();
    let url = format!("{}/api/v1/repos/app/webhook", world.url());
    let event = "X-GitHub-Event: push".to_string();
    let wrong = format!(
        "X-Hub-Signature-256: {}",
        sign(b"not-the-secret", body.as_bytes())
    );
    assert_eq!(curl_post(&url, &[event.clone(), wrong], &body), 401);
    assert_eq!(curl_post(&url, std::slice::from_ref(&event), &body), 401);
    assert!(world.settled_runs().await.is_empty());
    let right = format!("X-Hub-Signature-256: {}", sign(b"hush", body.as_bytes()));
    assert_eq!(curl_post(&url, &[event, right], &body), 202);
    let runs = world.wait_for_runs(1).await;
    assert_eq!(detail(&runs[0], "sha"), after_sha);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_with_a_wrong_token_is_refused() {
    let world = World::new().await;
    let url = format!("{}/api/v1/repos/app/hook", world.url());
    let body = r#"{"updates":[]}"#;
    let wrong = "Authorization: Bearer nope".to_string();
    assert_eq!(curl_post(&url, &[wrong], body), 401);
    assert_eq!(curl_post(&url, &[], body), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_while_the_engine_is_down_runs_after_restart() {
    let mut world = World::new().await;
    world.stop().await;
    let missed = world.commit("docs/late.md", "late\n");
    // The hook's curl fails quietly; the push succeeds.
    world.push(&["main"]);
    world.start().await;
    let runs = world.wait_for_runs(1).await;
    assert_eq!(
        summary(&runs),
        [(
            ".github/workflows/branch.yml".to_string(),
            "refs/heads/main".to_string(),
            missed
        )]
    );
}
