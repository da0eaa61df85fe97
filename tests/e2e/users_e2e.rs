//! Users, tokens and roles end to end through the binary: `slipway serve` with a runner, a
//! real git repository, and the CLI (`user add`, `token create|revoke`, `dispatch`, `approve`,
//! `audit --user`) with each person's own token. An approval is an authenticated user's: a
//! deployer cannot approve their own production deploy, someone outside the approver list
//! cannot approve, a viewer is refused every route above its role (table-driven over the
//! engine's role table), revoked and expired tokens are refused at once, and no token is on
//! disk in plaintext.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use engine::identity::{Access, ROUTES};
use serde_json::{Value, json};

use crate::support;
use support::engine::TestEngine;

const DEPLOY: &str = "on: workflow_dispatch\njobs:\n  ship:\n    runs-on: self-hosted\n    environment: production\n    steps:\n      - run: echo shipped\n";

fn git(repo: &Path, args: &[&str]) {
    crate::support::git_as("dev", "dev@localhost", repo, args);
}

fn repository(root: &Path) -> String {
    let repo = root.join("shop");
    std::fs::create_dir_all(repo.join(".github/workflows")).expect("repo dir");
    std::fs::write(repo.join(".github/workflows/deploy.yml"), DEPLOY).expect("deploy.yml");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    repo.display().to_string()
}

fn run(command: &mut Command, args: &[&str]) -> Output {
    command
        .args(args)
        .env_remove("SLIPWAY_USER")
        .output()
        .expect("run the slipway CLI")
}

fn ok(output: Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Every `{name}` and `{*name}` of a route template filled with a plausible value.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "x1"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_an_authenticated_approvers_and_never_the_deployers_own() {
    let temp = tempfile::tempdir().expect("temp dir");
    let repo = repository(temp.path());
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    ok(run(&mut engine.cli(), &["repo", "add", &repo]), "repo add");
    ok(
        run(
            &mut engine.cli(),
            &[
                "env",
                "create",
                "production",
                "--approvals",
                "1",
                "--approvers",
                "dave,@release",
            ],
        ),
        "env create",
    );
    let dave = engine.user_token("dave", "deployer");
    let erin = engine.user_token("erin", "deployer");
    let mallory = engine.user_token("mallory", "deployer");
    let vera = engine.user_token("vera", "viewer");
    ok(
        run(&mut engine.cli(), &["group", "set", "release", "erin"]),
        "group set",
    );
    let me: Value = serde_json::from_str(&ok(
        run(&mut engine.cli_with_token(&dave), &["whoami", "--json"]),
        "whoami",
    ))
    .expect("whoami --json");
    assert_eq!(me["user"], "dave");
    assert_eq!(me["role"], "deployer");

    // Dave dispatches: the run is his.
    let answer: Value = serde_json::from_str(&ok(
        run(
            &mut engine.cli_with_token(&dave),
            &["dispatch", "deploy.yml", "--repo", &repo, "--json"],
        ),
        "dispatch",
    ))
    .expect("dispatch --json");
    let run_id = answer["run_id"].as_str().expect("run_id").to_string();
    let detail = engine.get(&format!("/api/v1/runs/{run_id}")).await;
    assert_eq!(detail["run"]["details"]["actor"], "dave", "{detail:#}");
    assert_eq!(detail["run"]["details"]["actor_kind"], "user", "{detail:#}");
    engine
        .wait_run(&run_id, "the deploy job to wait", |detail| {
            detail["jobs"]
                .as_array()
                .is_some_and(|jobs| jobs.iter().any(|job| job["status"] == "waiting"))
        })
        .await;

    let approve = ["approve", &run_id, "--env", "production"];
    // Dave is a named approver, but not of his own deploy.
    let own = run(&mut engine.cli_with_token(&dave), &approve);
    assert_eq!(own.status.code(), Some(3), "{own:?}");
    assert!(stderr(&own).contains("may not approve"), "{}", stderr(&own));
    // Mallory is a deployer but no approver.
    let outsider = run(&mut engine.cli_with_token(&mallory), &approve);
    assert_eq!(outsider.status.code(), Some(3), "{outsider:?}");
    assert!(
        stderr(&outsider).contains("not an approver"),
        "{}",
        stderr(&outsider)
    );
    // Vera's role is below the route's.
    let viewer = run(&mut engine.cli_with_token(&vera), &approve);
    assert_eq!(viewer.status.code(), Some(3), "{viewer:?}");
    assert!(
        stderr(&viewer).contains("403") && stderr(&viewer).contains("needs role `deployer`"),
        "{}",
        stderr(&viewer)
    );
    // `--as` is gone: nobody can claim to be someone else.
    let claim = run(
        &mut engine.cli_with_token(&mallory),
        &["approve", &run_id, "--env", "production", "--as", "erin"],
    );
    assert_eq!(claim.status.code(), Some(2), "{claim:?}");
    let still = engine.get(&format!("/api/v1/runs/{run_id}")).await;
    assert!(
        still["jobs"][0]["status"] == "waiting",
        "nobody approved yet: {still:#}"
    );

    // Erin approves through the group, as herself.
    let approved = ok(run(&mut engine.cli_with_token(&erin), &approve), "approve");
    assert!(approved.contains("may deploy"), "{approved}");
    let done = engine.wait_completed(&run_id).await;
    assert_eq!(done["run"]["conclusion"], "success", "{done:#}");

    let deployments: Value = serde_json::from_str(&ok(
        run(&mut engine.cli(), &["deployments", "production", "--json"]),
        "deployments",
    ))
    .expect("json");
    assert_eq!(deployments[0]["triggered_by"], "dave");
    assert_eq!(deployments[0]["approvals"][0]["approver"], "erin");

    // The audit log shows the real users and their tokens.
    let erins: Value = serde_json::from_str(&ok(
        run(&mut engine.cli(), &["audit", "--user", "erin", "--json"]),
        "audit --user erin",
    ))
    .expect("json");
    assert!(
        erins["deployments"]
            .as_array()
            .expect("deployments")
            .iter()
            .any(|entry| entry["action"] == "approved" && entry["actor"] == "erin"),
        "{erins:#}"
    );
    let approvals_path = format!("/api/v1/runs/{run_id}/approvals");
    assert!(
        erins["access"]
            .as_array()
            .expect("access")
            .iter()
            .any(|entry| {
                entry["path"] == approvals_path.as_str()
                    && entry["user"] == "erin"
                    && entry["token"] == "test"
                    && entry["status"] == 200
            }),
        "{erins:#}"
    );
    let daves: Value = serde_json::from_str(&ok(
        run(&mut engine.cli(), &["audit", "--user", "dave", "--json"]),
        "audit --user dave",
    ))
    .expect("json");
    let dave_paths: Vec<&str> = daves["access"]
        .as_array()
        .expect("access")
        .iter()
        .filter_map(|entry| entry["path"].as_str())
        .collect();
    assert!(dave_paths.contains(&"/api/v1/dispatch"), "{daves:#}");
    assert!(
        daves["access"]
            .as_array()
            .expect("access")
            .iter()
            .all(|entry| entry["user"] == "dave"),
        "{daves:#}"
    );
    let veras: Value = serde_json::from_str(&ok(
        run(&mut engine.cli(), &["audit", "--user", "vera", "--json"]),
        "audit --user vera",
    ))
    .expect("json");
    assert!(
        veras["access"]
            .as_array()
            .expect("access")
            .iter()
            .any(|entry| {
                entry["path"] == approvals_path.as_str()
                    && entry["status"] == 403
                    && entry["needed"] == "deployer"
            }),
        "the refusal is audited: {veras:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_is_refused_every_route_above_its_role() {
    let temp = tempfile::tempdir().expect("temp dir");
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let vera = engine.user_token("vera", "viewer");
    let flags = {
        let output = run(
            &mut engine.cli(),
            &[
                "token",
                "create",
                "--user",
                "vera",
                "--name",
                "app",
                "--scope",
                "flags:read",
            ],
        );
        ok(output, "token create --scope flags:read")
            .trim()
            .to_string()
    };
    let client = reqwest::Client::new();
    let mut checked = 0;
    for rule in ROUTES {
        let url = format!("{}{}", engine.url, concrete(rule.path));
        let method = reqwest::Method::from_bytes(rule.method.as_bytes()).expect("a method");
        let send = |token: &str| {
            client
                .request(method.clone(), &url)
                .bearer_auth(token)
                .json(&json!({"protocol_version": protocol::PROTOCOL_VERSION}))
                .send()
        };
        match rule.access {
            Access::User(needed) if needed > protocol::users::Role::Viewer => {
                let response = send(&vera).await.expect("engine answers");
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                assert_eq!(status, 403, "{} {}: {body}", rule.method, rule.path);
                let message = body["error"].as_str().unwrap_or_default();
                assert!(
                    message.contains(&format!("needs role `{needed}`")),
                    "{} {}: {message}",
                    rule.method,
                    rule.path
                );
                checked += 1;
            }
            Access::User(_) => {
                // Within a viewer's reach; a flags-only token is still refused.
                let response = send(&flags).await.expect("engine answers");
                assert_eq!(
                    response.status().as_u16(),
                    403,
                    "flags:read token on {} {}",
                    rule.method,
                    rule.path
                );
            }
            Access::Runner | Access::JobToken | Access::Webhook
                if rule.method != "GET" || rule.access == Access::Runner =>
            {
                // A user token is no runner, job or hook credential.
                let response = send(&vera).await.expect("engine answers");
                let status = response.status().as_u16();
                assert!(
                    matches!(status, 400 | 401 | 403 | 404),
                    "{} {} answered {status} to a viewer token",
                    rule.method,
                    rule.path
                );
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked > 40, "only {checked} routes checked");

    // A token without a route's credential kind, or none at all, is 401.
    let anonymous = client
        .post(format!("{}/api/v1/dispatch", engine.url))
        .json(&json!({}))
        .send()
        .await
        .expect("engine answers");
    assert_eq!(anonymous.status().as_u16(), 401);
    let read = client
        .get(format!("{}/api/v1/runs", engine.url))
        .send()
        .await
        .expect("engine answers");
    assert_eq!(read.status().as_u16(), 401, "reads need a token too");
    let viewer_read = client
        .get(format!("{}/api/v1/runs", engine.url))
        .bearer_auth(&vera)
        .send()
        .await
        .expect("engine answers");
    assert_eq!(viewer_read.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_and_expired_tokens_are_refused_at_once() {
    let temp = tempfile::tempdir().expect("temp dir");
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let alice = engine.user_token("alice", "deployer");
    ok(
        run(&mut engine.cli_with_token(&alice), &["whoami"]),
        "whoami",
    );
    let tokens: Value = serde_json::from_str(&ok(
        run(
            &mut engine.cli(),
            &["token", "list", "--user", "alice", "--json"],
        ),
        "token list",
    ))
    .expect("json");
    let token = &tokens[0];
    assert_eq!(token["name"], "test");
    assert!(token["last_used_at"].is_string(), "{tokens:#}");
    assert!(
        token["expires_at"].is_string(),
        "90 days by default: {tokens:#}"
    );
    let id = token["id"].as_str().expect("id").to_string();

    // Another deployer cannot revoke alice's token; an admin can, and it stops at once.
    let bob = engine.user_token("bob", "deployer");
    let theirs = run(&mut engine.cli_with_token(&bob), &["token", "revoke", &id]);
    assert_eq!(theirs.status.code(), Some(3), "{theirs:?}");
    ok(run(&mut engine.cli(), &["token", "revoke", &id]), "revoke");
    let revoked = run(&mut engine.cli_with_token(&alice), &["whoami"]);
    assert_eq!(revoked.status.code(), Some(3), "{revoked:?}");
    assert!(
        stderr(&revoked).contains("401") && stderr(&revoked).contains("revoked"),
        "{}",
        stderr(&revoked)
    );

    // A token made to last one second works, then is refused.
    let short = ok(
        run(
            &mut engine.cli(),
            &[
                "token",
                "create",
                "--user",
                "bob",
                "--name",
                "short",
                "--expires",
                "1s",
            ],
        ),
        "token create --expires 1s",
    )
    .trim()
    .to_string();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let expired = run(&mut engine.cli_with_token(&short), &["runs"]);
    assert_eq!(expired.status.code(), Some(3), "{expired:?}");
    assert!(
        stderr(&expired).contains("401") && stderr(&expired).contains("expired"),
        "{}",
        stderr(&expired)
    );
    // Removing a user revokes every token of theirs.
    ok(run(&mut engine.cli(), &["user", "rm", "bob"]), "user rm");
    let gone = run(&mut engine.cli_with_token(&bob), &["whoami"]);
    assert_eq!(gone.status.code(), Some(3), "{gone:?}");
    // The last admin cannot be removed, nor can one remove oneself.
    let last = run(&mut engine.cli(), &["user", "rm", "admin"]);
    assert_eq!(last.status.code(), Some(3), "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_on_disk_in_plaintext() {
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path().join("data");
    let mut engine = TestEngine::builder(&data).runners(0).start().await;
    let mut secrets = vec![
        engine.user_token("alice", "deployer"),
        engine.user_token("carol", "maintainer"),
    ];
    secrets.push(
        ok(
            run(
                &mut engine.cli(),
                &["token", "create", "--name", "laptop", "--expires", "never"],
            ),
            "token create",
        )
        .trim()
        .to_string(),
    );
    // Use them, so last-used stamps are written too.
    for secret in &secrets {
        ok(
            run(&mut engine.cli_with_token(secret), &["whoami"]),
            "whoami",
        );
    }
    let admin = engine.admin_token();
    engine.stop();

    let mut files = Vec::new();
    let mut folders = vec![data.clone()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                folders.push(path);
            } else {
                files.push(path);
            }
        }
    }
    assert!(
        files.iter().any(|file| file.starts_with(data.join("db"))),
        "the sled files are searched: {files:?}"
    );
    for file in &files {
        let bytes = std::fs::read(file).expect("read file");
        for secret in &secrets {
            assert!(
                !contains(&bytes, secret.as_bytes()),
                "a user token is in {} in plaintext",
                file.display()
            );
        }
        // The admin token lives in its own 0600 file only.
        if file.file_name().is_some_and(|name| name != "admin.token") {
            assert!(
                !contains(&bytes, admin.as_bytes()),
                "the admin token is in {}",
                file.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_ui_logs_in_with_a_user_token_and_acts_as_that_user() {
    let temp = tempfile::tempdir().expect("temp dir");
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(0)
        .start()
        .await;
    let vera = engine.user_token("vera", "viewer");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let bad = client
        .post(format!("{}/login", engine.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("token=slw_not-a-token&next=%2Fruns")
        .send()
        .await
        .expect("engine answers");
    assert_eq!(bad.status().as_u16(), 401);
    let login = client
        .post(format!("{}/login", engine.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={vera}&next=%2Fruns"))
        .send()
        .await
        .expect("engine answers");
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_string();
    assert!(
        !cookie.contains(&vera),
        "the cookie does not carry the token"
    );
    let page = client
        .get(format!("{}/runs", engine.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("engine answers");
    assert_eq!(page.status().as_u16(), 200);
    // A viewer's session cannot make a runner registration token.
    let refused = client
        .post(format!("{}/runners/token", engine.url))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=whatever")
        .send()
        .await
        .expect("engine answers");
    assert_eq!(refused.status().as_u16(), 403);
    // Revoking the token ends the session.
    let tokens: Value = serde_json::from_str(&ok(
        run(
            &mut engine.cli(),
            &["token", "list", "--user", "vera", "--json"],
        ),
        "token list",
    ))
    .expect("json");
    let id = tokens[0]["id"].as_str().expect("id");
    ok(run(&mut engine.cli(), &["token", "revoke", id]), "revoke");
    let after = client
        .get(format!("{}/runs", engine.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("engine answers");
    assert_eq!(after.status().as_u16(), 303, "back to the login page");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
