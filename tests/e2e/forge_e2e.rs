//! Pull requests and forges end to end: `slipway serve` with a watched repository linked to a
//! forge, pull/merge request webhooks as GitHub, Gitea and GitLab send them (real HMAC signatures
//! and tokens), runs at the merge commit on a real runner process, and the commit statuses the
//! engine posts to a forge stand-in written here (an axum server speaking the statuses subset of
//! each forge's API and recording every request). Also `slipway plan` for a pull request.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use engine::repos::triggers::webhook::sign;
use serde_json::{Value, json};

use crate::support::engine::TestEngine;

const PUBLIC_URL: &str = "http://ci.example:8080";

const CI: &str = r#"name: CI
on:
  pull_request:
    branches: [main]
jobs:
  check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          echo "ref=$GITHUB_REF head=$GITHUB_HEAD_REF base=$GITHUB_BASE_REF"
          echo "number=${{ github.event.pull_request.number }} action=${{ github.event.action }}"
          echo "secret=[${{ secrets.PR_SECRET }}]"
          test -f base.txt && test -f head.txt && echo merged-tree-ok
"#;

const DOCS: &str = r#"name: Docs
on:
  pull_request:
    paths: ['docs/**']
jobs:
  docs:
    runs-on: ubuntu-latest
    steps:
      - run: echo docs
"#;

const LABELED: &str = r#"name: Labeled
on:
  pull_request:
    types: [labeled]
jobs:
  label:
    runs-on: ubuntu-latest
    steps:
      - run: echo labeled
"#;

const TARGET: &str = r#"name: Target
on: pull_request_target
jobs:
  target:
    runs-on: ubuntu-latest
    steps:
      - run: echo "target ref=$GITHUB_REF sha=$GITHUB_SHA secret=[${{ secrets.PR_SECRET }}]"
"#;

/// One request the forge stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    authorization: Option<String>,
    private_token: Option<String>,
    body: Value,
    answered: u16,
}

#[derive(Clone, Default)]
struct ForgeState {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// This many next requests are answered 500.
    fail_next: Arc<AtomicUsize>,
}

/// The stand-in: every `POST …/statuses/{sha}` (GitHub, Gitea and GitLab put it at the end of
/// their paths) is recorded and answered 201, or 500 while `fail_next` lasts.
struct Forge {
    url: String,
    state: ForgeState,
}

impl Forge {
    async fn start() -> Forge {
        let state = ForgeState::default();
        let app = axum::Router::new()
            .fallback(record)
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Forge {
            url: format!("http://{address}"),
            state,
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Waits (bounded) until the accepted statuses with `context` satisfy `done`.
    async fn wait_statuses(&self, context: &str, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let statuses: Vec<Seen> = self
                .seen()
                .into_iter()
                .filter(|seen| seen.answered < 300)
                .filter(|seen| seen.body["context"] == context || seen.body["name"] == context)
                .collect();
            if done(statuses.as_slice()) {
                return statuses;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for statuses of {context}: {:#?}",
                self.seen()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn record(
    State(state): State<ForgeState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    let failing = state
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    let (status, answer) = if failing {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": "forge is down"}),
        )
    } else if uri.path().contains("/statuses/") {
        (StatusCode::CREATED, json!({"id": 1}))
    } else {
        (StatusCode::NOT_FOUND, json!({"message": "not found"}))
    };
    state.seen.lock().unwrap().push(Seen {
        path: uri.path().to_string(),
        authorization: header("authorization"),
        private_token: header("private-token"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        answered: status.as_u16(),
    });
    (status, axum::Json(answer))
}

fn git(dir: &Path, args: &[&str]) -> String {
    crate::support::git_as("dev", "dev@localhost", dir, args)
}

fn write(repo: &Path, path: &str, text: &str) {
    let path = repo.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A repository with `workflows` and `shared.txt` on `main`; a branch `feature` (adds
/// `head.txt`, `src/lib.rs`) and a branch `clash` (changes `shared.txt`) made from there; then
/// `main` moves on (adds `base.txt`, changes `shared.txt`). Returns the repository, main's tip,
/// feature's tip and clash's tip.
fn pr_repo(dir: &Path, workflows: &[(&str, &str)]) -> (PathBuf, String, String, String) {
    let repo = crate::support::repo_with(dir, workflows);
    write(&repo, "shared.txt", "one\n");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "shared"]);
    git(&repo, &["checkout", "-q", "-b", "feature"]);
    write(&repo, "head.txt", "from the pull request\n");
    write(&repo, "src/lib.rs", "pub fn f() {}\n");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "feature work"]);
    let feature = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-q", "main"]);
    git(&repo, &["checkout", "-q", "-b", "clash"]);
    write(&repo, "shared.txt", "clash\n");
    git(&repo, &["commit", "-q", "-am", "clash"]);
    let clash = git(&repo, &["rev-parse", "HEAD"]);
    git(&repo, &["checkout", "-q", "main"]);
    write(&repo, "base.txt", "from main\n");
    write(&repo, "shared.txt", "two\n");
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "main moves on"]);
    let main = git(&repo, &["rev-parse", "HEAD"]);
    (repo, main, feature, clash)
}

fn cli_ok(engine: &TestEngine, args: &[&str]) -> String {
    let output = engine.cli().args(args).output().expect("run slipway");
    assert!(output.status.success(), "slipway {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// `repo add` with a forge link, and the secrets: the forge token and one a workflow reads.
fn watch_with_forge(engine: &TestEngine, repo: &Path, forge: &str, api: &str) {
    cli_ok(
        engine,
        &[
            "repo",
            "add",
            repo.to_str().unwrap(),
            "--name",
            "app",
            "--webhook-secret",
            "hush",
            "--forge",
            forge,
            "--forge-token-secret",
            "forge_token",
            "--forge-api",
            api,
        ],
    );
    cli_ok(
        engine,
        &[
            "secret",
            "set",
            "FORGE_TOKEN",
            "--repo",
            "app",
            "--value",
            "tok-123",
        ],
    );
    cli_ok(
        engine,
        &[
            "secret",
            "set",
            "PR_SECRET",
            "--repo",
            "app",
            "--value",
            "s3cr3t-value",
        ],
    );
}

async fn post_webhook(engine: &TestEngine, headers: &[(&str, String)], body: &[u8]) -> u16 {
    let mut request = engine
        .client
        .post(format!("{}/api/v1/repos/app/webhook", engine.url))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request
        .send()
        .await
        .expect("engine answers")
        .status()
        .as_u16()
}

/// Waits (bounded) until `count` runs exist and all completed; returns them by workflow file.
async fn completed_runs(engine: &TestEngine, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let runs = engine.get("/api/v1/runs").await;
        let runs: Vec<Value> = runs.as_array().cloned().unwrap_or_default();
        if runs.len() >= count && runs.iter().all(|run| run["status"] == "completed") {
            assert_eq!(runs.len(), count, "runs: {runs:#?}");
            return runs;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {count} completed runs: {runs:#?}\n{}",
            engine.errors()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn run_of<'a>(runs: &'a [Value], workflow: &str) -> &'a Value {
    runs.iter()
        .find(|run| run["workflow"] == format!(".github/workflows/{workflow}"))
        .unwrap_or_else(|| panic!("no run of {workflow}: {runs:#?}"))
}

fn github_pull(action: &str, number: u64, head: &str, base: &str, head_repo: &str) -> Vec<u8> {
    json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "title": "Add the feature",
            "state": "open",
            "merged": false,
            "user": {"login": "ann"},
            "head": {"ref": "feature", "sha": head, "repo": {"full_name": head_repo}},
            "base": {"ref": "main", "sha": base, "repo": {"full_name": "octo/app"}},
        },
        "repository": {"full_name": "octo/app"},
        "sender": {"login": "ann"},
    })
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_github_pull_request_runs_at_its_merge_commit_and_reports_statuses() {
    let temp = tempfile::tempdir().unwrap();
    let (repo, main, feature, _) = pr_repo(
        temp.path(),
        &[("ci.yml", CI), ("docs.yml", DOCS), ("labeled.yml", LABELED)],
    );
    git(&repo, &["update-ref", "refs/pull/7/head", &feature]);
    let forge = Forge::start().await;
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .arg("--public-url")
        .arg(PUBLIC_URL)
        .start()
        .await;
    watch_with_forge(&engine, &repo, "github", &format!("{}/gh", forge.url));
    let body = github_pull("opened", 7, &feature, &main, "octo/app");

    // A wrong signature is refused and starts nothing; so is none.
    let wrong = sign(b"not the secret", &body);
    let refused = post_webhook(
        &engine,
        &[
            ("x-github-event", "pull_request".into()),
            ("x-hub-signature-256", wrong),
        ],
        &body,
    )
    .await;
    assert_eq!(refused, 401);
    let unsigned = post_webhook(&engine, &[("x-github-event", "pull_request".into())], &body).await;
    assert_eq!(unsigned, 401);

    let accepted = post_webhook(
        &engine,
        &[
            ("x-github-event", "pull_request".into()),
            ("x-hub-signature-256", sign(b"hush", &body)),
        ],
        &body,
    )
    .await;
    assert_eq!(accepted, 202);

    // Only CI runs: Docs' paths match no changed file, Labeled wants another activity.
    let runs = completed_runs(&engine, 1).await;
    let run = run_of(&runs, "ci.yml");
    assert_eq!(run["conclusion"], "success", "{run:#}");
    let run_id = run["run_id"].as_str().unwrap();
    let log = engine.log(run_id, "check").await;
    assert!(
        log.contains("ref=refs/pull/7/merge head=feature base=main"),
        "{log}"
    );
    assert!(log.contains("number=7 action=opened"), "{log}");
    assert!(
        log.contains("secret=[***]"),
        "a same-repository pull request sees secrets: {log}"
    );
    assert!(log.contains("merged-tree-ok"), "{log}");

    // github.sha is a merge commit of main's tip and the head, kept in the mirror.
    let sha = run["details"]["sha"].as_str().unwrap().to_string();
    let list: Value = serde_json::from_str(&cli_ok(&engine, &["repo", "list", "--json"])).unwrap();
    let mirror = list[0]["mirror_path"].as_str().unwrap().to_string();
    assert_eq!(list[0]["forge"], "github");
    let parents = git(
        Path::new(&mirror),
        &["rev-list", "--parents", "-n", "1", &sha],
    );
    assert_eq!(parents, format!("{sha} {main} {feature}"));
    assert_eq!(
        git(Path::new(&mirror), &["rev-parse", "refs/pull/7/merge"]),
        sha
    );

    // Statuses on the head commit: pending, then success, linked to the run's page.
    let statuses = forge
        .wait_statuses("slipway/CI", |statuses| {
            statuses.iter().any(|s| s.body["state"] == "success")
        })
        .await;
    let states: Vec<&str> = statuses
        .iter()
        .map(|s| s.body["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["pending", "success"], "{statuses:#?}");
    for status in &statuses {
        assert!(status.path.starts_with("/gh/repos/"), "{}", status.path);
        assert!(
            status.path.ends_with(&format!("/statuses/{feature}")),
            "{}",
            status.path
        );
        assert_eq!(status.authorization.as_deref(), Some("Bearer tok-123"));
        assert_eq!(
            status.body["target_url"],
            format!("{PUBLIC_URL}/runs/{run_id}")
        );
    }
    assert!(
        forge
            .seen()
            .iter()
            .all(|s| s.body["context"] == "slipway/CI"),
        "no statuses for workflows that did not run: {:#?}",
        forge.seen()
    );
}

#[tokio::test]
async fn a_fork_pull_request_from_gitea_gets_no_secrets_and_a_failing_forge_is_retried() {
    let temp = tempfile::tempdir().unwrap();
    let (repo, main, feature, _) = pr_repo(temp.path(), &[("ci.yml", CI), ("target.yml", TARGET)]);
    git(&repo, &["update-ref", "refs/pull/3/head", &feature]);
    let forge = Forge::start().await;
    // The first two calls fail: the reporter retries them.
    forge.state.fail_next.store(2, Ordering::SeqCst);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .arg("--public-url")
        .arg(PUBLIC_URL)
        .start()
        .await;
    watch_with_forge(&engine, &repo, "gitea", &format!("{}/api/v1", forge.url));
    // Gitea's shape: `synchronized`, the head in another repository (a fork).
    let body = github_pull("synchronized", 3, &feature, &main, "eve/app");
    let signature = sign(b"hush", &body)
        .trim_start_matches("sha256=")
        .to_string();
    let wrong = sign(b"nope", &body)
        .trim_start_matches("sha256=")
        .to_string();
    let refused = post_webhook(
        &engine,
        &[
            ("x-gitea-event", "pull_request".into()),
            ("x-gitea-signature", wrong),
        ],
        &body,
    )
    .await;
    assert_eq!(refused, 401);
    let accepted = post_webhook(
        &engine,
        &[
            ("x-gitea-event", "pull_request".into()),
            ("x-gitea-signature", signature),
        ],
        &body,
    )
    .await;
    assert_eq!(accepted, 202);

    let runs = completed_runs(&engine, 2).await;
    let ci = run_of(&runs, "ci.yml");
    assert_eq!(ci["conclusion"], "success", "{ci:#}");
    let log = engine.log(ci["run_id"].as_str().unwrap(), "check").await;
    assert!(log.contains("number=3 action=synchronize"), "{log}");
    assert!(
        log.contains("secret=[]"),
        "a fork's run sees no secrets: {log}"
    );
    assert!(!log.contains("s3cr3t"), "{log}");
    // pull_request_target: the base's workflow at the base's tip, with secrets.
    let target = run_of(&runs, "target.yml");
    let log = engine
        .log(target["run_id"].as_str().unwrap(), "target")
        .await;
    assert!(
        log.contains(&format!(
            "target ref=refs/heads/main sha={main} secret=[***]"
        )),
        "{log}"
    );

    // Both runs' statuses got through after the failures, in order, with Gitea's token header.
    for context in ["slipway/CI", "slipway/Target"] {
        let statuses = forge
            .wait_statuses(context, |statuses| {
                statuses.iter().any(|s| s.body["state"] == "success")
            })
            .await;
        let states: Vec<&str> = statuses
            .iter()
            .map(|s| s.body["state"].as_str().unwrap())
            .collect();
        assert_eq!(states, ["pending", "success"], "{statuses:#?}");
        for status in &statuses {
            assert!(status.path.starts_with("/api/v1/repos/"), "{}", status.path);
            assert!(status.path.ends_with(&format!("/statuses/{feature}")));
            assert_eq!(status.authorization.as_deref(), Some("token tok-123"));
        }
    }
    let failed = forge.seen().iter().filter(|s| s.answered == 500).count();
    assert_eq!(failed, 2, "{:#?}", forge.seen());
}

#[tokio::test]
async fn a_gitlab_merge_request_that_conflicts_starts_nothing_and_reporting_failures_show() {
    let temp = tempfile::tempdir().unwrap();
    let (repo, _main, feature, clash) = pr_repo(temp.path(), &[("ci.yml", CI)]);
    git(&repo, &["update-ref", "refs/merge-requests/8/head", &clash]);
    git(
        &repo,
        &["update-ref", "refs/merge-requests/9/head", &feature],
    );
    let forge = Forge::start().await;
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    watch_with_forge(&engine, &repo, "gitlab", &format!("{}/api/v4", forge.url));
    let hook = |iid: u64, head: &str, branch: &str| {
        json!({
            "object_kind": "merge_request",
            "event_type": "merge_request",
            "user": {"username": "ann"},
            "project": {"path_with_namespace": "group/app"},
            "object_attributes": {
                "iid": iid, "action": "open", "state": "opened",
                "source_branch": branch, "target_branch": "main",
                "source_project_id": 5, "target_project_id": 5,
                "last_commit": {"id": head}, "title": "Work",
            },
            "labels": [],
        })
        .to_string()
        .into_bytes()
    };
    let conflicting = hook(8, &clash, "clash");
    let refused = post_webhook(
        &engine,
        &[
            ("x-gitlab-event", "Merge Request Hook".into()),
            ("x-gitlab-token", "guess".into()),
        ],
        &conflicting,
    )
    .await;
    assert_eq!(refused, 401);
    let gitlab = |token: &str| {
        vec![
            ("x-gitlab-event", "Merge Request Hook".to_string()),
            ("x-gitlab-token", token.to_string()),
        ]
    };
    assert_eq!(
        post_webhook(&engine, &gitlab("hush"), &conflicting).await,
        202
    );
    // The conflict is reported on the head, and no run starts.
    let statuses = forge
        .wait_statuses("slipway/merge", |statuses| !statuses.is_empty())
        .await;
    assert_eq!(statuses[0].body["state"], "failed");
    assert!(
        statuses[0].body["description"]
            .as_str()
            .unwrap()
            .contains("shared.txt"),
        "{statuses:#?}"
    );
    assert_eq!(
        statuses[0].path,
        format!(
            "/api/v4/projects/{}/statuses/{clash}",
            encoded_project(&engine)
        )
    );
    assert_eq!(statuses[0].private_token.as_deref(), Some("tok-123"));
    let runs = engine.get("/api/v1/runs").await;
    assert_eq!(runs.as_array().map(Vec::len), Some(0), "{runs:#}");

    // A forge that keeps failing changes nothing about the run, and `repo list` says so.
    forge
        .state
        .fail_next
        .store(usize::MAX / 2, Ordering::SeqCst);
    assert_eq!(
        post_webhook(&engine, &gitlab("hush"), &hook(9, &feature, "feature")).await,
        202
    );
    let runs = completed_runs(&engine, 1).await;
    assert_eq!(run_of(&runs, "ci.yml")["conclusion"], "success");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = cli_ok(&engine, &["repo", "list"]);
        if listed.contains("last status not reported") {
            assert!(listed.contains("gitlab answered 500"), "{listed}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no reporting failure shown: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The GitLab project id the engine derived (`github.repository` of a local source), encoded.
fn encoded_project(engine: &TestEngine) -> String {
    let list: Value = serde_json::from_str(&cli_ok(engine, &["repo", "list", "--json"])).unwrap();
    list[0]["github_repository"]
        .as_str()
        .unwrap()
        .replace('/', "%2F")
}

#[test]
fn plan_explains_which_workflows_a_pull_request_runs() {
    let temp = tempfile::tempdir().unwrap();
    let (repo, _main, feature, clash) = pr_repo(
        temp.path(),
        &[
            ("ci.yml", CI),
            ("docs.yml", DOCS),
            ("labeled.yml", LABELED),
            ("target.yml", TARGET),
        ],
    );
    git(&repo, &["update-ref", "refs/pull/7/head", &feature]);
    let plan = |args: &[&str]| {
        Command::new(crate::support::engine::BIN)
            .args(["plan", "-C", repo.to_str().unwrap()])
            .args(args)
            .output()
            .expect("run slipway plan")
    };
    let output = plan(&[
        "--event",
        "pull_request",
        "--ref",
        "refs/pull/7/merge",
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ref"], "refs/pull/7/merge");
    assert_eq!(report["filter_ref"], "refs/heads/main");
    assert_eq!(
        report["changed_paths"]["paths"],
        json!(["head.txt", "src/lib.rs"])
    );
    let verdict = |file: &str| {
        report["workflows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["file"] == format!(".github/workflows/{file}"))
            .map(|w| w["triggers"].as_bool().unwrap())
            .unwrap()
    };
    assert!(verdict("ci.yml"));
    assert!(!verdict("docs.yml"), "paths: nothing under docs/ changed");
    assert!(!verdict("labeled.yml"), "types: opened is not labeled");
    assert!(!verdict("target.yml"), "another event");
    let labeled = plan(&[
        "--event",
        "pull_request",
        "--ref",
        "refs/pull/7/merge",
        "--action",
        "labeled",
    ]);
    let text = String::from_utf8_lossy(&labeled.stdout);
    assert!(
        text.contains("RUN   .github/workflows/labeled.yml"),
        "{text}"
    );
    let conflict = plan(&["--event", "pull_request", "--head", &clash]);
    assert!(!conflict.status.success());
    assert!(
        String::from_utf8_lossy(&conflict.stderr).contains("does not merge cleanly"),
        "{conflict:?}"
    );
}
