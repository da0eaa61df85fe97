//! Step-level `${{ }}` expressions evaluated by the executor: `if:` with status functions, `run`,
//! `env`, `with`, `name`, `continue-on-error`, `timeout-minutes`, the `steps`, `secrets`, `env`,
//! `job`, `runner` and `github` contexts, and job outputs at job end.

use crate::executor_support;

use std::time::Duration;

use executor_support::*;
use protocol::{BoolOrExpression, NumberOrExpression};
use protocol::{Conclusion, JobEvent};
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn status_functions_after_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("exit 1").id("broken"),
        run("echo plain"),
        run("echo always").when("always()"),
        run("echo on-failure").when("${{ failure() }}"),
        run("echo success-only").when("success()"),
        run("echo outcome=${{ steps.broken.outcome }} status=${{ job.status }}").when("always()"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(1), ("skipped", "skipped"));
    assert_eq!(ran.logs(2), vec!["always".to_string()]);
    assert_eq!(ran.logs(3), vec!["on-failure".to_string()]);
    assert_eq!(ran.outcome(4), ("skipped", "skipped"));
    assert_eq!(
        ran.logs(5),
        vec!["outcome=failure status=failure".to_string()]
    );
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
}

#[tokio::test]
async fn continue_on_error_keeps_failure_false() {
    let dir = tempfile::tempdir().unwrap();
    let mut flaky = run("exit 1").id("flaky");
    flaky.continue_on_error = Some(BoolOrExpression::Expression("${{ 1 == 1 }}".into()));
    let spec = job(vec![
        flaky,
        run("echo failure-ran").when("failure()"),
        run("echo outcome=${{ steps.flaky.outcome }} conclusion=${{ steps.flaky.conclusion }}"),
        run("echo plain-condition").when("steps.flaky.outcome == 'failure'"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(0), ("failure", "success"));
    assert_eq!(ran.outcome(1), ("skipped", "skipped"));
    assert_eq!(
        ran.logs(2),
        vec!["outcome=failure conclusion=success".to_string()]
    );
    assert_eq!(ran.logs(3), vec!["plain-condition".to_string()]);
    assert_eq!(ran.result.conclusion, Conclusion::Success);
}

#[tokio::test]
async fn templates_in_run_env_name_and_contexts() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![
        run("echo \"value=hello\" >> \"$GITHUB_OUTPUT\"").id("first"),
        run("echo '${{ steps.first.outputs.value }} ${{ env.GREETING }} ${{ github.ref_name }} ${{ runner.os }}'")
            .named("Say ${{ steps.first.outputs.value }}")
            .env("GREETING", "${{ format('hi {0}', github.actor) }}"),
        run("echo \"$FROM_SECRET\" ${{ secrets.TOKEN }}").env("FROM_SECRET", "${{ secrets.TOKEN }}"),
        run("test \"${{ github.workspace }}\" = \"$GITHUB_WORKSPACE\" && test \"${{ runner.temp }}\" = \"$RUNNER_TEMP\" && echo same"),
        run("echo ${{ matrix.os }}-${{ env.JOB_LEVEL }}"),
    ]);
    spec.secrets
        .insert("TOKEN".into(), "very-secret-value".into());
    spec.env.insert("JOB_LEVEL".into(), "job".into());
    spec.contexts
        .insert("matrix".into(), serde_json::json!({"os": "linux"}));
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.logs(1), vec!["hello hi mona main Linux".to_string()]);
    let names: Vec<String> = ran
        .events
        .iter()
        .filter_map(|event| match event {
            JobEvent::StepStarted { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names[1], "Say hello");
    assert_eq!(ran.logs(2), vec!["*** ***".to_string()]);
    assert_eq!(ran.logs(3), vec!["same".to_string()]);
    assert_eq!(ran.logs(4), vec!["linux-job".to_string()]);
}

#[tokio::test]
async fn expression_errors_fail_the_step() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("echo ${{ fromJSON('not json') }}"),
        run("echo after").when("always()"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.outcome(0), ("failure", "failure"));
    assert!(
        ran.logs(0)
            .iter()
            .any(|line| line.contains("failed to evaluate")),
        "{:?}",
        ran.logs(0)
    );
    assert_eq!(ran.logs(1), vec!["after".to_string()]);
}

#[tokio::test]
async fn job_outputs_are_evaluated_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![
        run("echo \"version=1.2.3\" >> \"$GITHUB_OUTPUT\"\necho \"leak=top-secret-thing\" >> \"$GITHUB_OUTPUT\"").id("meta"),
    ]);
    spec.secrets.insert("S".into(), "top-secret-thing".into());
    spec.outputs.insert(
        "version".into(),
        "v${{ steps.meta.outputs.version }}".into(),
    );
    spec.outputs
        .insert("leak".into(), "${{ steps.meta.outputs.leak }}".into());
    spec.outputs
        .insert("missing".into(), "${{ steps.nope.outputs.x }}".into());
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(
        ran.result.outputs.get("version").map(String::as_str),
        Some("v1.2.3")
    );
    assert_eq!(
        ran.result.outputs.get("missing").map(String::as_str),
        Some("")
    );
    assert!(
        !ran.result.outputs.contains_key("leak"),
        "outputs holding secrets are not passed on"
    );
}

#[tokio::test]
async fn timeout_minutes_from_an_expression() {
    let dir = tempfile::tempdir().unwrap();
    let mut step = run("sleep 100");
    step.timeout_minutes = Some(NumberOrExpression::Expression(
        "${{ fromJSON('0.01') }}".into(),
    ));
    let ran = run_spec(job(vec![step]), &options(dir.path())).await;
    assert_eq!(ran.outcome(0), ("failure", "failure"));
    assert!(ran.logs(0).iter().any(|line| line.contains("timed out")));
}

#[tokio::test]
async fn always_steps_run_after_cancel() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("echo ready; sleep 100"),
        run("echo skipped"),
        run("echo cleanup ${{ job.status }}").when("always()"),
        run("echo saw-cancel").when("cancelled()"),
        run("echo not-cancelled").when("!cancelled()"),
    ]);
    let options = options(&dir.path().join("work"));
    let cancel = CancellationToken::new();
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel();
    let handle = tokio::spawn({
        let cancel = cancel.clone();
        let options = options.clone();
        async move { runner::executor::run_job(spec, &options, sender, cancel).await }
    });
    let mut events = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(60), receiver.recv())
        .await
        .unwrap()
    {
        let ready = matches!(&event, JobEvent::Log { line, .. } if line == "ready");
        events.push(event);
        if ready {
            break;
        }
    }
    cancel.cancel();
    let result = tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .unwrap()
        .unwrap();
    while let Ok(event) = receiver.try_recv() {
        events.push(event);
    }
    let ran = Ran { result, events };
    assert_eq!(ran.result.conclusion, Conclusion::Cancelled);
    assert_eq!(ran.outcome(1), ("skipped", "skipped"));
    assert_eq!(ran.logs(2), vec!["cleanup cancelled".to_string()]);
    assert_eq!(ran.logs(3), vec!["saw-cancel".to_string()]);
    assert_eq!(ran.outcome(4), ("skipped", "skipped"));
}

#[tokio::test]
async fn hash_files_reads_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("echo lock > Cargo.lock"),
        run(
            "echo \"${{ hashFiles('**/Cargo.lock') }}\" | wc -c; echo \"[${{ hashFiles('none/*') }}]\"",
        ),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(
        ran.logs(1)
            .iter()
            .map(|line| line.trim().to_string())
            .collect::<Vec<_>>(),
        vec!["65", "[]"]
    );
}

#[tokio::test]
async fn with_inputs_are_templates() {
    let dir = tempfile::tempdir().unwrap();
    let spec = job(vec![
        run("mkdir -p out && echo data > out/file.txt"),
        uses("actions/upload-artifact@v4")
            .with("name", "art-${{ github.run_id }}")
            .with("path", "out"),
        uses("actions/download-artifact@v4")
            .with("name", "art-42")
            .with("path", "back"),
        run("cat back/file.txt"),
    ]);
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(
        ran.logs(3),
        vec!["data".to_string()],
        "{:?}",
        ran.all_logs()
    );
}

#[tokio::test]
async fn job_env_templates_left_for_the_runner_are_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = job(vec![
        run("test \"$BUILD_DIR\" = \"$GITHUB_WORKSPACE/build\" && echo ok; echo \"$SECOND\"")
            .env("STEP", "${{ env.BUILD_DIR }}"),
    ]);
    spec.env
        .insert("BUILD_DIR".into(), "${{ github.workspace }}/build".into());
    spec.env
        .insert("SECOND".into(), "${{ env.BUILD_DIR != '' }}".into());
    let ran = run_spec(spec, &options(dir.path())).await;
    assert_eq!(ran.logs(0), vec!["ok".to_string(), "true".to_string()]);

    let mut broken = job(vec![run("echo never")]);
    broken
        .env
        .insert("BAD".into(), "${{ fromJSON('{') }}".into());
    let ran = run_spec(broken, &options(dir.path())).await;
    assert_eq!(ran.result.conclusion, Conclusion::Failure);
    assert!(
        ran.result
            .failure_reason
            .as_deref()
            .is_some_and(|reason| reason.contains("job env `BAD`"))
    );
    assert!(ran.result.steps.is_empty());
}
