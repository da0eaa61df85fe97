//! The web UI in a real browser: headless Chromium driven over WebDriver (`fantoccini` and
//! Debian's `chromedriver`) against a real `slipway serve` with real runner processes. One
//! scenario walks what a user does: log in, watch a run go from queued to success on the run
//! list without a reload, open a failed job's log, search it, follow a line link, re-run the
//! failed job, approve a waiting production deploy from the environments page and see it
//! finish, promote a release, read its notes and find its planned stages on the release calendar. `<script>` fed through a branch name, a commit message, a step name
//! and log text must show as text. Screenshots go to `target/ui-screenshots/`.
//!
//! Without `chromium`/`chromedriver` the test fails under `CI=true` and prints a loud SKIPPED
//! line elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::support::engine::{Process, TestEngine, free_port};

const CI_WORKFLOW: &str = r#"name: ci
on: [workflow_dispatch]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - name: "<script>window.__xss = 'step'</script> compile"
        run: |
          sleep 2
          printf '\033[32mgreen ok\033[0m and \033[1;31mbold red\033[0m\n'
          echo "docs at https://example.com/docs?a=1&b=2"
          echo "::group::details"
          echo "inside the group"
          echo "::endgroup::"
          echo "<script>window.__xss = 'log'</script>"
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo tested
  lint:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: [alpha, beta]
    steps:
      - run: echo linted ${{ matrix.os }}
"#;

const FAIL_WORKFLOW: &str = r#"name: flaky
on: [workflow_dispatch]
jobs:
  flaky:
    runs-on: ubuntu-latest
    steps:
      - name: noisy
        run: |
          for i in $(seq 1 300); do echo "line $i of noise"; done
          echo "the needle-4711 is here"
          for i in $(seq 1 50); do echo "tail $i"; done
          exit 1
  after:
    needs: flaky
    runs-on: ubuntu-latest
    steps:
      - run: echo never
"#;

const SLOW_WORKFLOW: &str = r#"name: slow
on: [workflow_dispatch]
jobs:
  hold:
    runs-on: ubuntu-latest
    steps:
      - run: echo holding; sleep 120
  then:
    needs: hold
    runs-on: ubuntu-latest
    steps:
      - run: echo then
"#;

const DEPLOY_WORKFLOW: &str = r#"name: deploy
on: [workflow_dispatch]
jobs:
  ship:
    runs-on: ubuntu-latest
    environment: production
    steps:
      - run: echo shipping
"#;

/// Where the browser tools are, or why the test cannot run.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let find = |name: &str| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|path| path.is_file())
        })
    };
    match (find("chromium"), find("chromedriver")) {
        (Some(chromium), Some(driver)) => Ok((chromium, driver)),
        _ => Err("chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)".into()),
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    crate::support::git_as("dev", "dev@localhost", dir, args)
}

struct Browser {
    client: Client,
    base: String,
    shots: PathBuf,
    _driver: Process,
}

impl Browser {
    async fn start(chromium: &Path, driver: &Path, base: &str) -> Browser {
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let driver_process = Process(child);
        let capabilities: serde_json::Map<String, Value> = serde_json::from_value(json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium.display().to_string(),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000"]
            }
        }))
        .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(error) => {
                    assert!(
                        Instant::now() < deadline,
                        "chromedriver did not start: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        };
        let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            base: base.to_string(),
            shots,
            _driver: driver_process,
        }
    }

    async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits (bounded) until `script` returns true.
    async fn until(&self, what: &str, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            if Instant::now() > deadline {
                let html = self.js("return document.body.innerText").await;
                panic!("timed out waiting for {what}; page text: {html}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .click()
            .await
            .unwrap();
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"));
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    /// Nothing user-controlled ran as script, and only our own script element is on the page.
    async fn assert_no_injection(&self) {
        let injected = self
            .js("return [window.__xss || null, document.querySelectorAll('script').length]")
            .await;
        assert_eq!(injected, json!([null, 1]), "user text became markup");
    }
}

/// `--as NAME` runs the command with NAME's own token (`support::acting`).
fn cli(engine: &TestEngine, args: &[&str]) -> String {
    let (args, token) = crate::support::acting::acting(&engine.url, &engine.admin_token(), args);
    let output = engine
        .cli_with_token(&token)
        .args(&args)
        .output()
        .expect("run slipway");
    assert!(
        output.status.success(),
        "slipway {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_watches_reads_reruns_approves_and_promotes_in_the_browser() {
    let (chromium, driver) = match browser_tools() {
        Ok(tools) => tools,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => panic!("{why}"),
        Err(why) => {
            eprintln!("\n==== SKIPPED: ui_e2e (browser tests): {why} ====\n");
            return;
        }
    };
    let _serial = crate::support::SERIAL.lock().await;
    let temp = tempfile::tempdir().unwrap();
    let repo = temp.path().join("shop");
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    for (name, text) in [
        ("ci.yml", CI_WORKFLOW),
        ("flaky.yml", FAIL_WORKFLOW),
        ("deploy.yml", DEPLOY_WORKFLOW),
        ("slow.yml", SLOW_WORKFLOW),
    ] {
        std::fs::write(repo.join(".github/workflows").join(name), text).unwrap();
    }
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "<script>window.__xss = 'commit'</script> first",
        ],
    );
    git(&repo, &["tag", "v1.0.0"]);
    git(&repo, &["branch", "<i>x<i>"]);

    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(2)
        .lease_seconds(10)
        .start()
        .await;
    engine.watch(&repo).await;
    let browser = Browser::start(&chromium, &driver, &engine.url).await;

    // Without a session: pages send to the login page, forms change nothing.
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = plain
        .get(format!("{}/runs", engine.url))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 303);
    assert_eq!(answer.headers()["location"], "/login?next=/runs");
    let login = plain
        .post(format!("{}/login", engine.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={}&next=%2Fruns", engine.admin_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let forged = plain
        .post(format!("{}/runners/token", engine.url))
        .header("cookie", &session)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status().as_u16(),
        403,
        "a form without the session's CSRF token"
    );
    let anonymous = plain
        .post(format!("{}/runners/token", engine.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=x")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    // Every page needs the token first.
    browser.goto("/runs").await;
    browser
        .until(
            "the login page",
            "return !!document.getElementById('token')",
        )
        .await;
    browser.fill("#token", "wrong").await;
    browser.click("#login").await;
    browser
        .until(
            "a refusal",
            "return document.body.innerText.includes('cannot log in')",
        )
        .await;
    // The browser is alice's: what she does there is recorded as hers.
    let alice = crate::support::acting::token_of(&engine.url, &engine.admin_token(), "alice");
    browser.fill("#token", &alice).await;
    browser.click("#login").await;
    browser
        .until("the run list", "return location.pathname === '/runs'")
        .await;

    // A run goes from queued to success on the open list, without a reload.
    browser.js("window.__stayed = true; return true").await;
    let ci_run = engine.dispatch(&repo, "ci.yml").await;
    browser
        .until(
            "the new run to appear live",
            &format!("return !!document.querySelector('tr[data-run=\"{ci_run}\"]')"),
        )
        .await;
    let seen_state = browser
        .js(&format!(
            "return document.querySelector('tr[data-run=\"{ci_run}\"]').dataset.state"
        ))
        .await;
    assert_ne!(
        seen_state,
        json!("success"),
        "the run was already done when it showed up"
    );
    browser
        .until(
            "the run to turn success live",
            &format!("return document.querySelector('tr[data-run=\"{ci_run}\"]')?.dataset.state === 'success'"),
        )
        .await;
    assert_eq!(
        browser.js("return window.__stayed === true").await,
        json!(true),
        "the page reloaded"
    );
    browser.assert_no_injection().await;
    let text = browser.js("return document.body.innerText").await;
    assert!(
        text.as_str()
            .unwrap()
            .contains("<script>window.__xss = 'commit'</script> first"),
        "{text}"
    );

    // A branch name with markup, shown as text.
    let (status, answer) = engine
        .post_admin(
            "/api/v1/dispatch",
            json!({"protocol_version": protocol::PROTOCOL_VERSION, "repository": repo.display().to_string(), "workflow": "ci.yml", "ref": "<i>x<i>"}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let branch_run = answer["run_id"].as_str().unwrap().to_string();

    // The run page: the graph, the jobs, the log with colours, links and no injected markup.
    browser.goto(&format!("/runs/{ci_run}")).await;
    browser
        .until(
            "the graph",
            "return document.querySelectorAll('svg.graph a.node').length === 3",
        )
        .await;
    assert_eq!(
        browser
            .js("return document.querySelectorAll('svg.graph path.edge').length")
            .await,
        json!(1)
    );
    assert_eq!(browser.js("return document.querySelector('svg.graph path.edge').dataset.from + '>' + document.querySelector('svg.graph path.edge').dataset.to").await, json!("build>test"));
    // The matrix job is one node with a dot per leg, and one entry listing both legs.
    assert_eq!(
        browser.js("return document.querySelectorAll('svg.graph a.node[data-job=lint] circle.leg').length").await,
        json!(2)
    );
    assert_eq!(
        browser
            .js("return document.querySelectorAll('#job-lint .leg').length")
            .await,
        json!(2)
    );
    browser.assert_no_injection().await;
    browser.shot("run").await;
    browser.click("#job-build a.log-link").await;
    browser
        .until("the log", "return !!document.querySelector('#log .l')")
        .await;
    browser.assert_no_injection().await;
    assert_eq!(browser.js("return !!document.querySelector('#log .f2') && !!document.querySelector('#log .f1.ab')").await, json!(true), "ANSI colours");
    assert_eq!(browser.js("return document.querySelector('#log a[href^=\"https://example.com/docs\"]').getAttribute('href')").await, json!("https://example.com/docs?a=1&b=2"));
    browser.shot("log").await;
    let log_text = browser
        .js("return document.getElementById('log').innerText")
        .await;
    assert!(
        log_text
            .as_str()
            .unwrap()
            .contains("<script>window.__xss = 'log'</script>")
    );
    browser.goto(&format!("/runs/{branch_run}")).await;
    browser
        .until(
            "the branch run page",
            "return !!document.querySelector('.branch')",
        )
        .await;
    assert_eq!(
        browser
            .js("return document.querySelector('.branch').innerText")
            .await,
        json!("<i>x<i>")
    );
    browser.assert_no_injection().await;

    // A failed job's log: search it on the server, jump to the match, follow a line link.
    let flaky_run = engine.dispatch(&repo, "flaky.yml").await;
    engine.wait_completed(&flaky_run).await;
    browser.goto(&format!("/runs/{flaky_run}")).await;
    browser
        .until(
            "the failed job",
            "return document.querySelector('#job-flaky')?.dataset.state === 'failure'",
        )
        .await;
    browser.click("#job-flaky a.log-link").await;
    browser
        .until(
            "the failed log",
            "return !!document.getElementById('log-search')",
        )
        .await;
    browser.fill("#log-search", "NEEDLE-4711").await;
    browser.click("form.search button").await;
    browser
        .until(
            "the search results",
            "return !!document.querySelector('#results a.match')",
        )
        .await;
    let found = browser
        .js("return document.getElementById('results').innerText")
        .await;
    assert!(
        found.as_str().unwrap().contains("1 line(s) match"),
        "{found}"
    );
    browser.shot("log-search").await;
    browser.click("#results a.match").await;
    browser
        .until(
            "the matched line highlighted",
            "return /#L\\d+$/.test(location.hash) && !!document.querySelector('.l.hl')",
        )
        .await;
    let line = browser
        .js("return document.querySelector('.l.hl').innerText")
        .await;
    assert!(
        line.as_str().unwrap().contains("the needle-4711 is here"),
        "{line}"
    );
    // A line link opened fresh lands on that line.
    let link = browser.js("return location.pathname + '#L12'").await;
    browser.goto(link.as_str().unwrap()).await;
    browser
        .until(
            "line 12 highlighted",
            "return document.querySelector('.l.hl')?.id === 'L12'",
        )
        .await;
    let twelfth = engine
        .get(&format!(
            "/api/v1/runs/{flaky_run}/jobs/flaky/logs/lines?from=12&count=1"
        ))
        .await;
    let expected = twelfth["lines"][0].as_str().unwrap().to_string();
    assert!(expected.contains("of noise"), "{twelfth}");
    let shown = browser
        .js("return document.querySelector('.l.hl .t').innerText")
        .await;
    assert_eq!(shown.as_str().unwrap(), expected);
    // Timestamps: hidden at first, shown in place by the toggle (no reload), kept in the URL.
    assert_eq!(
        browser
            .js("return getComputedStyle(document.querySelector('#log time.ts')).display")
            .await,
        json!("none")
    );
    browser.js("window.__stayed = 'ts'; return true").await;
    browser.click("#timestamps").await;
    browser
        .until(
            "the timestamps",
            "return document.getElementById('log').classList.contains('show-ts') && getComputedStyle(document.querySelector('#log time.ts')).display !== 'none'",
        )
        .await;
    let stamp = browser
        .js("return [document.querySelector('#log .l.hl time.ts').innerText, location.search, window.__stayed]")
        .await;
    let shown_time = stamp[0].as_str().unwrap();
    assert!(
        shown_time.len() == 12
            && shown_time.as_bytes()[2] == b':'
            && shown_time.as_bytes()[8] == b'.',
        "{stamp}"
    );
    assert!(stamp[1].as_str().unwrap().contains("ts=1"), "{stamp}");
    assert_eq!(stamp[2], json!("ts"), "the page reloaded");
    browser.shot("log-timestamps").await;
    let searched = engine
        .get(&format!(
            "/api/v1/runs/{flaky_run}/jobs/flaky/logs/search?q=needle-4711"
        ))
        .await;
    assert_eq!(searched["total"], 1, "{searched}");

    // The followed log resumes after the last event a client saw (`Last-Event-ID`).
    let follow = format!(
        "{}/api/v1/runs/{flaky_run}/jobs/flaky/logs?follow=1",
        engine.url
    );
    let events = |text: String| -> Vec<(String, String)> {
        text.split("\n\n")
            .filter(|event| event.contains("event: log"))
            .map(|event| {
                let field = |name: &str| {
                    event
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .unwrap_or_default()
                        .trim()
                        .to_string()
                };
                (field("id:"), field("data:"))
            })
            .collect()
    };
    let all = events(
        plain
            .get(&follow)
            .bearer_auth(engine.admin_token())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(all.len() > 300, "{} events", all.len());
    let resumed = events(
        plain
            .get(&follow)
            .bearer_auth(engine.admin_token())
            .header("last-event-id", &all[4].0)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(resumed.first(), all.get(5));
    assert_eq!(resumed.len(), all.len() - 5);

    // Re-run the failed job from the run page: a new attempt starts.
    browser.goto(&format!("/runs/{flaky_run}")).await;
    browser
        .until(
            "the re-run button",
            "return !!document.getElementById('rerun-failed')",
        )
        .await;
    browser.click("#rerun-failed").await;
    browser.until("the new attempt's page", &format!("return location.pathname.startsWith('/runs/') && !location.pathname.endsWith('{flaky_run}') && document.body.innerText.includes('attempt 2')")).await;

    // One job cancelled from the run page: its dependent is skipped, the page follows live.
    let slow_run = engine.dispatch(&repo, "slow.yml").await;
    engine.wait_job_running(&slow_run, "hold").await;
    browser.goto(&format!("/runs/{slow_run}")).await;
    browser
        .until(
            "the job's cancel button",
            "return !!document.querySelector('[data-job-key=hold] button.cancel-job')",
        )
        .await;
    browser.click("[data-job-key=hold] button.cancel-job").await;
    browser
        .until(
            "the job cancelled and its dependent skipped",
            "return document.querySelector('#job-hold')?.dataset.state === 'cancelled' && document.querySelector('#job-then')?.dataset.state === 'skipped' && document.getElementById('run-state')?.innerText === 'cancelled'",
        )
        .await;
    assert_eq!(
        browser
            .js("return document.querySelectorAll('button.cancel-job').length")
            .await,
        json!(0)
    );

    // A production deploy waits for alice; she approves it on the environments page.
    cli(
        &engine,
        &[
            "env",
            "create",
            "production",
            "--approvals",
            "1",
            "--approvers",
            "alice",
        ],
    );
    let deploy_run = engine.dispatch(&repo, "deploy.yml").await;
    engine
        .wait_run(&deploy_run, "the deploy to wait", |run| {
            crate::support::job(run, "ship")["status"] == "waiting"
        })
        .await;
    browser.goto(&format!("/runs/{deploy_run}")).await;
    browser
        .until(
            "why it waits",
            "return !!document.querySelector('.waiting-reason')",
        )
        .await;
    let why = browser
        .js("return document.querySelector('.waiting-reason').innerText")
        .await;
    assert!(why.as_str().unwrap().contains("approval"), "{why}");
    browser.goto("/environments").await;
    browser
        .until(
            "the approve form",
            "return !!document.querySelector('#env-production form.decide')",
        )
        .await;
    browser.shot("environments-waiting").await;
    browser
        .fill(
            "#env-production form.decide input[name=comment]",
            "looks good",
        )
        .await;
    browser
        .click("#env-production form.decide button[value=approve]")
        .await;
    engine.wait_completed(&deploy_run).await;
    browser.goto(&format!("/runs/{deploy_run}")).await;
    browser
        .until(
            "the deploy to succeed",
            "return document.getElementById('run-state')?.innerText === 'success'",
        )
        .await;
    browser.goto("/environments").await;
    browser
        .until(
            "the approval in the history",
            "return document.body.innerText.includes('alice approve: looks good')",
        )
        .await;
    browser.shot("environments").await;

    // A release of the deployed version, promoted from the releases page.
    cli(&engine, &["release", "create", "v1.0.0", "--as", "alice"]);
    browser.goto("/releases").await;
    browser
        .until(
            "the release",
            "return !!document.querySelector('#release-v1\\\\.0\\\\.0 form.promote')",
        )
        .await;
    browser
        .fill(
            "#release-v1\\.0\\.0 form.promote input[name=audience]",
            "10%",
        )
        .await;
    browser
        .click("#release-v1\\.0\\.0 form.promote button")
        .await;
    browser.until("the rollout", "return location.pathname === '/releases' && document.querySelector('#release-v1\\\\.0\\\\.0 .rollouts')?.innerText.includes('production')").await;
    browser.shot("releases").await;
    // The release view shows the notes (assembled from the commits; the commit message's
    // `<script>` stays text).
    assert_eq!(
        browser
            .js("return document.querySelector('#release-v1\\\\.0\\\\.0 details.notes')?.innerText.includes('first') === true")
            .await,
        json!(true),
        "the release notes are not on the release view"
    );
    browser.assert_no_injection().await;

    // The release calendar, from the menu: a planned stage is listed with its time and status.
    cli(
        &engine,
        &[
            "release",
            "plan",
            "v1.0.0",
            "--env",
            "production",
            "--stage",
            "50%@2099-01-02T03:04Z",
            "--stage",
            "all@+1d",
            "--as",
            "alice",
        ],
    );
    browser.click("nav a[href='/releases/calendar']").await;
    browser
        .until(
            "the release calendar",
            "return location.pathname === '/releases/calendar' && document.querySelectorAll('table.calendar tr.stage').length === 2",
        )
        .await;
    let first = browser
        .js("return document.querySelector('table.calendar tr.stage').innerText")
        .await;
    let first = first.as_str().unwrap_or_default();
    for part in [
        "2099-01-02 03:04:00Z",
        "v1.0.0",
        "production",
        "50%",
        "planned",
    ] {
        assert!(first.contains(part), "calendar row {first:?} lacks {part}");
    }
    assert_eq!(
        browser
            .js("return document.querySelector('nav a[aria-current=page]')?.innerText")
            .await,
        json!("Calendar")
    );
    browser.shot("calendar").await;

    // A dry run from the release view: how many of 200 targeting keys each audience reaches.
    browser.goto("/releases").await;
    browser
        .js("document.querySelector('#release-v1\\\\.0\\\\.0 details.dry-run').open = true; const keys = []; for (let n = 0; n < 200; n++) keys.push('customer-' + n); document.querySelector('#release-v1\\\\.0\\\\.0 form.reach textarea').value = keys.join('\\n'); return true")
        .await;
    browser.click("#release-v1\\.0\\.0 form.reach button").await;
    browser
        .until(
            "the dry run's lines",
            "return document.querySelectorAll('#release-v1\\\\.0\\\\.0 table.reach tr.reach-line').length === 3",
        )
        .await;
    let lines = browser
        .js("return [...document.querySelectorAll('#release-v1\\\\.0\\\\.0 table.reach tr.reach-line')].map(row => row.innerText)")
        .await;
    let lines: Vec<String> = lines
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|row| row.as_str().unwrap_or_default().replace('\t', " "))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        lines[0].contains("current") && lines[0].contains("10%"),
        "{lines:?}"
    );
    assert!(
        lines[1].contains("stage 1") && lines[1].contains("50%"),
        "{lines:?}"
    );
    assert!(
        lines[2].contains("stage 2") && lines[2].contains("200 of 200"),
        "{lines:?}"
    );
    browser.shot("release-dry-run").await;

    // A run page stays live: a second deploy waits, is approved from the CLI, and the open
    // page turns it green without a reload.
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "second"]);
    let second = engine.dispatch(&repo, "deploy.yml").await;
    engine
        .wait_run(&second, "the second deploy to wait", |run| {
            crate::support::job(run, "ship")["status"] == "waiting"
        })
        .await;
    browser.goto(&format!("/runs/{second}")).await;
    browser
        .until(
            "the second deploy to wait",
            "return !!document.querySelector('.waiting-reason')",
        )
        .await;
    browser.js("window.__stayed = 'run'; return true").await;
    cli(
        &engine,
        &["approve", &second, "--env", "production", "--as", "alice"],
    );
    browser
        .until(
            "the graph node to turn success live",
            "return document.querySelector('svg.graph a.node[data-job=ship]')?.classList.contains('success') && document.getElementById('run-state')?.innerText === 'success'",
        )
        .await;
    assert_eq!(
        browser.js("return window.__stayed").await,
        json!("run"),
        "the page reloaded"
    );

    // The other pages render.
    browser.goto("/runners").await;
    browser
        .until(
            "the runners",
            "return document.querySelectorAll('tr.runner').length === 2",
        )
        .await;
    browser.goto("/repositories").await;
    browser
        .until(
            "the repositories",
            "return document.body.innerText.includes('shop')",
        )
        .await;
    browser.goto("/runs").await;
    browser
        .until(
            "the run list",
            "return document.querySelectorAll('tr.run').length >= 4",
        )
        .await;
    browser.shot("runs").await;
    // A phone's width: the list still reads (one run per block, no sideways scrolling).
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.goto("/runs").await;
    browser
        .until(
            "the narrow list",
            "return document.querySelectorAll('tr.run').length >= 4",
        )
        .await;
    assert_eq!(
        browser
            .js("return document.documentElement.scrollWidth <= window.innerWidth + 1")
            .await,
        json!(true),
        "the run list scrolls sideways on a phone"
    );
    browser.shot("runs-phone").await;
    browser.client.clone().close().await.unwrap();
}
