//! A job's log as the UI and the JSON API show it, end to end through the binary: every line
//! carries the time the runner saw it written (kept by the engine beside the log, answered by
//! `GET …/logs/lines` and shown on the log page with `?ts=1`), and a carriage-return progress
//! line is kept as written and shown as a terminal ends it.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::engine::TestEngine;
use crate::support::{SERIAL, repo_with};

const WORKFLOW: &str = r#"on: [workflow_dispatch]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo before-the-pause
          sleep 1.5
          echo after-the-pause
          printf 'fetching 3/9\rfetching 9/9 done\n'
"#;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A UI session cookie (`name=value`) for the engine's admin token.
async fn session(engine: &TestEngine) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = client
        .post(format!("{}/login", engine.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={}&next=%2Fruns", engine.admin_token()))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_carry_their_times_and_progress_lines_show_their_last_state() {
    let _serial = SERIAL.lock().await;
    let temp = tempfile::tempdir().unwrap();
    let repo = repo_with(temp.path(), &[("build.yml", WORKFLOW)]);
    let engine = TestEngine::builder(&temp.path().join("data"))
        .runners(1)
        .start()
        .await;
    engine.watch(&repo).await;
    let dispatched_ms = now_ms();
    let run_id = engine.dispatch(&repo, "build.yml").await;
    engine.wait_completed(&run_id).await;
    let done_ms = now_ms();

    // Every line has a time, in order, between the dispatch and now; the pause shows.
    let answer = engine
        .get(&format!(
            "/api/v1/runs/{run_id}/jobs/build/logs/lines?from=1&count=1000"
        ))
        .await;
    let lines: Vec<&str> = answer["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line.as_str().unwrap())
        .collect();
    let times: Vec<u64> = answer["times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|time| {
            time.as_u64()
                .unwrap_or_else(|| panic!("a time for every line: {answer:#}"))
        })
        .collect();
    assert_eq!(lines.len(), times.len(), "{answer:#}");
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
    assert!(
        times
            .iter()
            .all(|time| (dispatched_ms..=done_ms).contains(time)),
        "{dispatched_ms}..={done_ms}: {times:?}"
    );
    let at = |text: &str| {
        let index = lines
            .iter()
            .position(|line| *line == text)
            .unwrap_or_else(|| panic!("`{text}` in {lines:?}"));
        times[index]
    };
    assert!(
        at("after-the-pause") >= at("before-the-pause") + 1000,
        "the times are when lines were written: {answer:#}"
    );
    // A window from the middle has the same times.
    let index = lines
        .iter()
        .position(|line| *line == "after-the-pause")
        .unwrap();
    let window = engine
        .get(&format!(
            "/api/v1/runs/{run_id}/jobs/build/logs/lines?from={}&count=1",
            index + 1
        ))
        .await;
    assert_eq!(window["times"][0], times[index], "{window:#}");

    // The progress line is stored as written (`slipway logs` prints it to a terminal as is).
    let raw = engine.log(&run_id, "build").await;
    assert!(raw.contains("fetching 3/9\rfetching 9/9 done\n"), "{raw:?}");
    let (ok, printed) = {
        let output = engine
            .cli()
            .args(["logs", &run_id, "--job", "build"])
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    assert!(ok, "{printed}");
    assert!(
        printed.contains("fetching 3/9\rfetching 9/9 done"),
        "{printed:?}"
    );

    // The log page: times rendered (shown with ?ts=1, hidden but present without), and the
    // progress line as a terminal ends it.
    let cookie = session(&engine).await;
    let page = |query: &'static str| {
        let url = format!("{}/runs/{run_id}/jobs/build{query}", engine.url);
        let cookie = cookie.clone();
        async move {
            reqwest::Client::new()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let shown = page("?ts=1").await;
    assert!(shown.contains("class=\"log show-ts\""), "{shown}");
    assert!(shown.contains("Hide timestamps"), "{shown}");
    let hidden = page("").await;
    assert!(hidden.contains("class=\"log\""), "{hidden}");
    assert!(hidden.contains("Show timestamps"), "{hidden}");
    for html in [&shown, &hidden] {
        assert_eq!(
            html.matches("<time class=\"ts\"").count(),
            lines.len(),
            "{html}"
        );
        assert!(html.contains("fetching 9/9 done"), "{html}");
        assert!(!html.contains("fetching 3/9"), "{html}");
    }
}
