//! Reusable-workflow calls through the scheduler: nested runs per call leg, inputs typed from
//! `with:`, secrets passed or inherited, outputs mapped back to `needs`, matrix calls, nesting,
//! cancel, and the state's round trip.

use super::*;

const SHARED: &str = "\
name: shared
on:
  workflow_call:
    inputs:
      flag:
        type: boolean
        required: true
      count:
        type: number
        default: ${{ fromJSON('2') }}
      label:
        type: string
    secrets:
      token:
        required: true
    outputs:
      built:
        value: ${{ jobs.build.outputs.artifact }}-${{ inputs.count }}
jobs:
  build:
    runs-on: self-hosted
    outputs:
      artifact: ${{ steps.b.outputs.artifact }}
    steps:
      - id: b
        run: echo ${{ secrets.token }}
  cleanup:
    needs: build
    if: always()
    runs-on: self-hosted
    steps:
      - run: echo cleanup
";

fn parse(file: &str, text: &str) -> Workflow {
    let parsed = workflows::parse::parse_workflow(file, text);
    let errors: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{file}: {errors:?}");
    parsed.workflow.expect("a workflow")
}

fn run_with(root: &str, called: &[(&str, &str)]) -> Run {
    let mut input = RunInput::new(parse(".github/workflows/ci.yml", root), "run-1");
    input.run.repository = "octo/app".to_string();
    input.run.workflow_file = ".github/workflows/ci.yml".to_string();
    input.run.git_ref = "refs/heads/main".to_string();
    input.run.event_name = "push".to_string();
    input
        .secrets
        .insert("DEPLOY_TOKEN".to_string(), "s3cret".to_string());
    input
        .secrets
        .insert("OTHER".to_string(), "other".to_string());
    input.vars.insert("REGION".to_string(), json!("eu"));
    for (file, text) in called {
        input.called.insert(file.to_string(), parse(file, text));
    }
    Run::with(input)
}

const CALLER: &str = "\
on: push
jobs:
  call:
    name: Call
    uses: ./.github/workflows/shared.yml
    with:
      flag: ${{ github.ref == 'refs/heads/main' }}
      label: 42
    secrets:
      token: ${{ secrets.DEPLOY_TOKEN }}
  after:
    needs: call
    runs-on: self-hosted
    steps:
      - run: echo ${{ needs.call.outputs.built }}
";

#[test]
fn a_call_runs_the_called_jobs_with_typed_inputs_and_passed_secrets() {
    let mut run = run_with(CALLER, &[(".github/workflows/shared.yml", SHARED)]);
    run.check("start", "start call/build");
    let spec = run.spec("call/build").clone();
    assert_eq!(spec.display_name, "Call / build");
    assert_eq!(spec.job_id, "build");
    assert_eq!(spec.workflow_file, ".github/workflows/shared.yml");
    assert_eq!(
        spec.contexts["inputs"],
        json!({"flag": true, "label": "42", "count": 2})
    );
    let secrets: Vec<(&str, &str)> = spec
        .secrets
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(secrets, vec![("token", "s3cret")]);
    assert_eq!(spec.contexts["vars"], json!({"REGION": "eu"}));
    let github = &spec.contexts["github"];
    assert_eq!(github["event_name"], json!("push"));
    assert_eq!(github["job"], json!("build"));
    assert_eq!(
        github["workflow_ref"],
        json!("octo/app/.github/workflows/ci.yml@refs/heads/main")
    );
    assert_eq!(
        github["job_workflow_ref"],
        json!("octo/app/.github/workflows/shared.yml@refs/heads/main")
    );
    run.check("started call/build", "");
    run.finish_with_outputs(
        "call/build",
        &[("artifact", "app.tgz")],
        "start call/cleanup",
    );
    run.check("success call/cleanup", "start after");
    assert_eq!(
        run.spec("after").contexts["needs"],
        json!({"call": {"result": "success", "outputs": {"built": "app.tgz-2"}}})
    );
    run.check("success after", "run success");
    let views = run.scheduler.jobs();
    let keys: Vec<&str> = views
        .iter()
        .flat_map(|job| job.legs.iter().map(|leg| leg.job_key))
        .collect();
    assert_eq!(keys, vec!["call/build", "call/cleanup", "after"]);
}

#[test]
fn a_failing_called_job_fails_the_call_and_skips_its_dependents() {
    let mut run = run_with(CALLER, &[(".github/workflows/shared.yml", SHARED)]);
    run.check("start", "start call/build");
    run.check("failure call/build", "start call/cleanup");
    run.check("success call/cleanup", "skip after; run failure");
}

#[test]
fn inherit_passes_every_secret_and_a_missing_map_passes_none() {
    let inherit = CALLER.replace(
        "    secrets:\n      token: ${{ secrets.DEPLOY_TOKEN }}\n",
        "    secrets: inherit\n",
    );
    let called = SHARED.replace("echo ${{ secrets.token }}", "echo ${{ secrets.OTHER }}");
    let mut run = run_with(&inherit, &[(".github/workflows/shared.yml", &called)]);
    run.check("start", "start call/build");
    assert_eq!(
        run.spec("call/build")
            .secrets
            .get("OTHER")
            .map(String::as_str),
        Some("other")
    );
}

#[test]
fn a_matrix_call_runs_one_nested_run_per_leg_with_fail_fast() {
    let root = "\
on: push
jobs:
  call:
    strategy:
      matrix:
        flag: [true, false]
    uses: ./.github/workflows/shared.yml
    with:
      flag: ${{ matrix.flag }}
    secrets:
      token: x
";
    let mut run = run_with(root, &[(".github/workflows/shared.yml", SHARED)]);
    run.check("start", "start call (true)/build; start call (false)/build");
    assert_eq!(
        run.spec("call (false)/build").display_name,
        "call (false) / build"
    );
    assert_eq!(
        run.spec("call (false)/build").contexts["inputs"]["flag"],
        json!(false)
    );
    // The leg fails once its nested run ends; fail-fast then cancels the other nested run.
    run.check("failure call (true)/build", "start call (true)/cleanup");
    run.check(
        "success call (true)/cleanup",
        "cancel call (false)/build (run_cancelled)",
    );
    run.check("cancelled call (false)/build", "start call (false)/cleanup");
    run.check("success call (false)/cleanup", "run failure");
}

#[test]
fn nested_calls_prefix_keys_and_names_at_every_level() {
    let root = "on: push\njobs:\n  outer:\n    uses: ./.github/workflows/mid.yml\n    with:\n      who: root\n";
    let mid = "on:\n  workflow_call:\n    inputs:\n      who:\n        type: string\n        required: true\n    outputs:\n      said:\n        value: ${{ jobs.inner.outputs.said }}\njobs:\n  inner:\n    uses: ./.github/workflows/leaf.yml\n    with:\n      who: mid-${{ inputs.who }}\n";
    let leaf = "on:\n  workflow_call:\n    inputs:\n      who:\n        type: string\n    outputs:\n      said:\n        value: ${{ jobs.leaf.outputs.said }}\njobs:\n  leaf:\n    runs-on: self-hosted\n    outputs:\n      said: ${{ steps.s.outputs.said }}\n    steps:\n      - run: echo ${{ inputs.who }}\n  after:\n    needs: outer\n    runs-on: self-hosted\n    steps:\n      - run: echo\n";
    let leaf = leaf.replace(
        "  after:\n    needs: outer\n    runs-on: self-hosted\n    steps:\n      - run: echo\n",
        "",
    );
    let root = format!(
        "{root}  after:\n    needs: outer\n    runs-on: self-hosted\n    steps:\n      - run: echo ${{{{ needs.outer.outputs.said }}}}\n"
    );
    let mut run = run_with(
        &root,
        &[
            (".github/workflows/mid.yml", mid),
            (".github/workflows/leaf.yml", &leaf),
        ],
    );
    run.check("start", "start outer/inner/leaf");
    let spec = run.spec("outer/inner/leaf").clone();
    assert_eq!(spec.display_name, "outer / inner / leaf");
    assert_eq!(spec.contexts["inputs"], json!({"who": "mid-root"}));
    run.finish_with_outputs("outer/inner/leaf", &[("said", "hello")], "start after");
    assert_eq!(
        run.spec("after").contexts["needs"]["outer"]["outputs"],
        json!({"said": "hello"})
    );
    // The whole nested state survives the store's round trip.
    let stored = serde_json::to_string(&run.scheduler).unwrap_or_default();
    let restored: Result<Scheduler, _> = serde_json::from_str(&stored);
    assert_eq!(restored.as_ref().ok(), Some(&run.scheduler));
    run.check("success after", "run success");
}

#[test]
fn a_cancel_reaches_the_nested_run_where_always_jobs_still_run() {
    let mut run = run_with(CALLER, &[(".github/workflows/shared.yml", SHARED)]);
    run.check("start", "start call/build");
    run.check("cancel", "cancel call/build (run_cancelled)");
    run.check("cancelled call/build", "start call/cleanup");
    // As any job a cancel leaves unstarted, the dependent concludes `cancelled`.
    run.check("success call/cleanup", "cancelled after; run cancelled");
}

#[test]
fn bad_values_known_only_at_run_time_fail_the_call_with_the_field() {
    let root = CALLER.replace(
        "flag: ${{ github.ref == 'refs/heads/main' }}",
        "flag: ${{ 'maybe' }}",
    );
    let mut run = run_with(&root, &[(".github/workflows/shared.yml", SHARED)]);
    run.check("start", "failure call; skip after; run failure");
    assert!(
        run.reason("call").contains("`with.flag`: input `flag` of `.github/workflows/shared.yml`: expected a boolean, got `maybe`"),
        "{}",
        run.reason("call")
    );
}

#[test]
fn a_skipped_call_skips_its_nested_jobs_and_dependents() {
    let root = CALLER.replace(
        "    name: Call\n",
        "    name: Call\n    if: github.ref == 'nope'\n",
    );
    let mut run = run_with(&root, &[(".github/workflows/shared.yml", SHARED)]);
    run.check("start", "skip call; skip after; run success");
}

#[test]
fn called_jobs_are_found_by_key_for_their_own_settings() {
    let called = SHARED.replace(
        "  build:\n    runs-on: self-hosted\n",
        "  build:\n    runs-on: self-hosted\n    concurrency: deploy-${{ inputs.label }}\n",
    );
    let mut run = run_with(CALLER, &[(".github/workflows/shared.yml", &called)]);
    run.check("start", "start call/build");
    let job = run.scheduler.job_for_key("call/build");
    assert_eq!(
        job.and_then(|job| job.concurrency.as_ref())
            .map(|concurrency| concurrency.group.value.as_str()),
        Some("deploy-${{ inputs.label }}")
    );
    assert!(run.scheduler.job_for_key("call/nope").is_none());
}

#[test]
fn called_jobs_that_never_run_are_reported_under_their_run_key() {
    let called = SHARED.replace("    if: always()\n", "");
    let mut run = run_with(CALLER, &[(".github/workflows/shared.yml", &called)]);
    run.check("start", "start call/build");
    run.check(
        "failure call/build",
        "skip call/cleanup; skip after; run failure",
    );
}

#[test]
fn called_jobs_time_out_on_the_callers_ticks() {
    let called = SHARED.replace(
        "  build:\n    runs-on: self-hosted\n",
        "  build:\n    runs-on: self-hosted\n    timeout-minutes: 1\n",
    );
    let mut run = run_with(CALLER, &[(".github/workflows/shared.yml", &called)]);
    run.check("start", "start call/build");
    run.check("started call/build", "");
    run.check("tick 2", "cancel call/build (timed_out)");
    run.check("cancelled call/build", "start call/cleanup");
    run.check("success call/cleanup", "skip after; run failure");
}

#[test]
fn a_call_whose_jobs_all_skip_lets_an_earlier_declared_dependent_run_at_once() {
    let called = "on: workflow_call\njobs:\n  never:\n    if: false\n    runs-on: self-hosted\n    steps:\n      - run: echo\n";
    // `after` is declared before the call it needs: it must still start in the same round.
    let root = "on: push\njobs:\n  after:\n    needs: call\n    runs-on: self-hosted\n    steps:\n      - run: echo\n  call:\n    needs: first\n    uses: ./.github/workflows/skip.yml\n  first:\n    runs-on: self-hosted\n    steps:\n      - run: echo\n";
    let mut run = run_with(root, &[(".github/workflows/skip.yml", called)]);
    run.check("start", "start first");
    run.check("success first", "skip call/never; start after");
    run.check("success after", "run success");
}
