//! Event-sequence tests of the scheduler: a small workflow builder, a harness that feeds events
//! and renders the actions as short lines, and one `check` per step of a scenario. No sleeping:
//! time is the harness's own counter.

use indexmap::IndexMap;
use protocol::{Conclusion, JobResult, JobSpec};
use serde_json::{Value, json};
use workflows::model::{
    BoolOrExpr, Environment, Job, Matrix, MatrixMap, MatrixValues, NumberOrExpr, RunsOn, Step,
    Strategy, Triggers,
};
use workflows::{Span, Spanned, Workflow};

use super::*;

// ---- building workflows in Rust (the YAML parser is built elsewhere) ----

fn spanned<T>(value: T) -> Spanned<T> {
    Spanned::new(value, Span::default())
}

fn job(id: &str) -> Job {
    Job {
        id: spanned(id.to_string()),
        name: None,
        needs: Vec::new(),
        condition: None,
        runs_on: Some(RunsOn {
            span: Span::default(),
            group: None,
            labels: vec![spanned("self-hosted".to_string())],
        }),
        environment: None,
        concurrency: None,
        outputs: IndexMap::new(),
        env: IndexMap::new(),
        defaults: None,
        timeout_minutes: None,
        continue_on_error: None,
        strategy: None,
        container: None,
        services: IndexMap::new(),
        permissions: None,
        steps: vec![step(&format!("echo {id}"))],
        uses: None,
        with: IndexMap::new(),
        secrets: None,
        deployment: None,
        span: Span::default(),
    }
}

fn step(run: &str) -> Step {
    Step {
        id: None,
        name: None,
        condition: None,
        run: Some(spanned(run.to_string())),
        uses: None,
        shell: None,
        with: IndexMap::new(),
        env: IndexMap::new(),
        working_directory: None,
        continue_on_error: None,
        timeout_minutes: None,
        background: false,
        control: None,
        span: Span::default(),
    }
}

/// Builder methods on `Job`, so a test reads like the YAML it stands for.
trait JobBuilder {
    fn needs(self, needs: &[&str]) -> Job;
    fn when(self, condition: &str) -> Job;
    fn named(self, name: &str) -> Job;
    fn matrix(self, dimensions: &[(&str, Value)]) -> Job;
    fn matrix_expr(self, expression: &str) -> Job;
    fn fail_fast(self, fail_fast: bool) -> Job;
    fn max_parallel(self, limit: f64) -> Job;
    fn continue_on_error(self, value: BoolOrExpr) -> Job;
    fn output(self, name: &str, template: &str) -> Job;
    fn env(self, name: &str, value: &str) -> Job;
    fn timeout(self, minutes: NumberOrExpr) -> Job;
    fn steps(self, runs: &[&str]) -> Job;
}

impl JobBuilder for Job {
    fn needs(mut self, needs: &[&str]) -> Job {
        self.needs = needs.iter().map(|need| spanned(need.to_string())).collect();
        self
    }
    fn when(mut self, condition: &str) -> Job {
        self.condition = Some(spanned(condition.to_string()));
        self
    }
    fn named(mut self, name: &str) -> Job {
        self.name = Some(spanned(name.to_string()));
        self
    }
    fn matrix(mut self, dimensions: &[(&str, Value)]) -> Job {
        let mut map = MatrixMap::default();
        for (name, values) in dimensions {
            let matrix_values = match values {
                Value::Array(items) => MatrixValues::List(spanned(items.clone())),
                other => {
                    MatrixValues::Expr(spanned(other.as_str().unwrap_or_default().to_string()))
                }
            };
            match *name {
                "include" => map.include = Some(matrix_values),
                "exclude" => map.exclude = Some(matrix_values),
                _ => {
                    map.dimensions.insert(name.to_string(), matrix_values);
                }
            }
        }
        self.strategy_mut().matrix = Some(Matrix::Map(map));
        self
    }
    fn matrix_expr(mut self, expression: &str) -> Job {
        self.strategy_mut().matrix = Some(Matrix::Expr(spanned(expression.to_string())));
        self
    }
    fn fail_fast(mut self, fail_fast: bool) -> Job {
        self.strategy_mut().fail_fast = Some(spanned(BoolOrExpr::Bool(fail_fast)));
        self
    }
    fn max_parallel(mut self, limit: f64) -> Job {
        self.strategy_mut().max_parallel = Some(spanned(NumberOrExpr::Number(limit)));
        self
    }
    fn continue_on_error(mut self, value: BoolOrExpr) -> Job {
        self.continue_on_error = Some(spanned(value));
        self
    }
    fn output(mut self, name: &str, template: &str) -> Job {
        self.outputs
            .insert(name.to_string(), spanned(template.to_string()));
        self
    }
    fn env(mut self, name: &str, value: &str) -> Job {
        self.env
            .insert(name.to_string(), spanned(value.to_string()));
        self
    }
    fn timeout(mut self, minutes: NumberOrExpr) -> Job {
        self.timeout_minutes = Some(spanned(minutes));
        self
    }
    fn steps(mut self, runs: &[&str]) -> Job {
        self.steps = runs.iter().map(|run| step(run)).collect();
        self
    }
}

trait StrategyMut {
    fn strategy_mut(&mut self) -> &mut Strategy;
}

impl StrategyMut for Job {
    fn strategy_mut(&mut self) -> &mut Strategy {
        self.strategy.get_or_insert(Strategy {
            matrix: None,
            fail_fast: None,
            max_parallel: None,
        })
    }
}

fn workflow(jobs: Vec<Job>) -> Workflow {
    Workflow {
        file: ".github/workflows/ci.yml".to_string(),
        name: Some(spanned("CI".to_string())),
        run_name: None,
        on: Triggers::default(),
        env: IndexMap::new(),
        defaults: None,
        concurrency: None,
        permissions: None,
        jobs: jobs
            .into_iter()
            .map(|job| (job.id.value.clone(), job))
            .collect(),
    }
}

// ---- the harness ----

/// Feeds events to a scheduler and renders its actions, one short line each, joined by "; ":
/// `start KEY`, `cancel KEY (reason)`, `skip KEY`, `<conclusion> KEY` (concluded without
/// running), `run <conclusion>`.
struct Run {
    scheduler: Scheduler,
    now: u64,
    /// Every spec handed out so far, by job key.
    specs: IndexMap<String, JobSpec>,
    /// The actions of the last event, unrendered.
    last: Vec<Action>,
}

impl Run {
    fn new(workflow: Workflow) -> Run {
        Run::with(RunInput::new(workflow, "run-1"))
    }

    fn with(input: RunInput) -> Run {
        let scheduler = match Scheduler::new(input) {
            Ok(scheduler) => scheduler,
            Err(error) => panic!("the run could not be planned: {error}"),
        };
        Run {
            scheduler,
            now: 0,
            specs: IndexMap::new(),
            last: Vec::new(),
        }
    }

    fn send(&mut self, event: Event) -> Result<String, SchedulerError> {
        let actions = self.scheduler.handle(event, Millis(self.now))?;
        let mut lines = Vec::new();
        for action in &actions {
            lines.push(match action {
                Action::StartJob(spec) => {
                    self.specs.insert(spec.job_key.clone(), (**spec).clone());
                    format!("start {}", spec.job_key)
                }
                Action::CancelJob { job_key, reason } => {
                    let reason = serde_json::to_value(reason)
                        .ok()
                        .and_then(|value| value.as_str().map(str::to_string))
                        .unwrap_or_default();
                    format!("cancel {job_key} ({reason})")
                }
                Action::JobSkipped { job_key, .. } => format!("skip {job_key}"),
                Action::JobConcluded {
                    job_key,
                    conclusion,
                    ..
                } => format!("{} {job_key}", conclusion.as_str()),
                Action::RunFinished { conclusion } => format!("run {}", conclusion.as_str()),
            });
        }
        self.last = actions;
        Ok(lines.join("; "))
    }

    /// One command of the little script language: `start`, `cancel`, `tick MINUTES`,
    /// `started KEY`, `success KEY`, `failure KEY`, `cancelled KEY`.
    fn step(&mut self, command: &str) -> String {
        let (verb, key) = command.split_once(' ').unwrap_or((command, ""));
        let event = match verb {
            "start" => Event::Start,
            "cancel" => Event::CancelRequested,
            "tick" => {
                self.now += key.parse::<u64>().unwrap_or(0) * 60_000;
                Event::Tick
            }
            "started" => Event::JobStarted {
                job_key: key.to_string(),
            },
            "success" | "failure" | "cancelled" => {
                let conclusion = match verb {
                    "success" => Conclusion::Success,
                    "failure" => Conclusion::Failure,
                    _ => Conclusion::Cancelled,
                };
                Event::JobFinished {
                    job_key: key.to_string(),
                    result: result(conclusion, &[]),
                }
            }
            other => panic!("unknown test command `{other}`"),
        };
        match self.send(event) {
            Ok(rendered) => rendered,
            Err(error) => format!("error: {error}"),
        }
    }

    #[track_caller]
    fn check(&mut self, command: &str, expected: &str) {
        let actual = self.step(command);
        assert_eq!(actual, expected, "after `{command}`");
    }

    #[track_caller]
    fn finish_with_outputs(&mut self, job_key: &str, outputs: &[(&str, &str)], expected: &str) {
        let event = Event::JobFinished {
            job_key: job_key.to_string(),
            result: result(Conclusion::Success, outputs),
        };
        let actual = self
            .send(event)
            .unwrap_or_else(|error| format!("error: {error}"));
        assert_eq!(actual, expected, "after `{job_key}` finished with outputs");
    }

    fn spec(&self, job_key: &str) -> &JobSpec {
        match self.specs.get(job_key) {
            Some(spec) => spec,
            None => panic!("job `{job_key}` was never started"),
        }
    }

    /// The reason given with the last `JobSkipped`/`JobConcluded` for `job_key`.
    fn reason(&self, job_key: &str) -> String {
        self.last
            .iter()
            .find_map(|action| match action {
                Action::JobSkipped {
                    job_key: key,
                    reason,
                }
                | Action::JobConcluded {
                    job_key: key,
                    reason,
                    ..
                } if key == job_key => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }
}

fn result(conclusion: Conclusion, outputs: &[(&str, &str)]) -> JobResult {
    JobResult {
        conclusion,
        outputs: outputs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect(),
        steps: Vec::new(),
        summary: String::new(),
        failure_reason: None,
        deployment: None,
    }
}

fn keys(prefix: &str, count: usize) -> Vec<String> {
    (1..=count)
        .map(|index| format!("{prefix}{index}"))
        .collect()
}

// ---- readiness by needs ----

#[test]
fn fan_out_then_fan_in_runs_twenty_at_once_and_the_last_after_all() {
    let middle = keys("m", 20);
    let mut jobs = vec![job("first")];
    jobs.extend(middle.iter().map(|id| job(id).needs(&["first"])));
    let middle_refs: Vec<&str> = middle.iter().map(String::as_str).collect();
    jobs.push(job("last").needs(&middle_refs));
    let mut run = Run::new(workflow(jobs));

    run.check("start", "start first");
    let all_twenty = middle
        .iter()
        .map(|id| format!("start {id}"))
        .collect::<Vec<_>>()
        .join("; ");
    run.check("success first", &all_twenty);
    for id in &middle[..19] {
        run.check(&format!("success {id}"), "");
    }
    run.check("success m20", "start last");
    run.check("success last", "run success");
}

#[test]
fn diamond_joins_only_when_both_sides_finished() {
    let mut run = Run::new(workflow(vec![
        job("a"),
        job("b").needs(&["a"]),
        job("c").needs(&["a"]),
        job("d").needs(&["b", "c"]),
    ]));
    run.check("start", "start a");
    run.check("success a", "start b; start c");
    run.check("success c", "");
    run.check("success b", "start d");
    run.check("success d", "run success");
}

#[test]
fn a_job_is_ready_the_moment_its_needs_finish_without_stage_layers() {
    // `slow` and `fast` start together; `after-fast` must not wait for `slow`.
    let mut run = Run::new(workflow(vec![
        job("slow"),
        job("fast"),
        job("after-fast").needs(&["fast"]),
    ]));
    run.check("start", "start slow; start fast");
    run.check("success fast", "start after-fast");
    run.check("success after-fast", "");
    run.check("success slow", "run success");
}

#[test]
fn needs_are_matched_case_insensitively() {
    let mut run = Run::new(workflow(vec![job("Build"), job("test").needs(&["build"])]));
    run.check("start", "start Build");
    run.check("success Build", "start test");
    assert_eq!(
        run.spec("test").contexts["needs"],
        json!({"Build": {"result": "success", "outputs": {}}})
    );
}

#[test]
fn a_failure_skips_dependents_transitively_and_fails_the_run() {
    let mut run = Run::new(workflow(vec![
        job("a"),
        job("b").needs(&["a"]),
        job("c").needs(&["b"]),
        job("independent"),
    ]));
    run.check("start", "start a; start independent");
    run.check("failure a", "skip b; skip c");
    assert_eq!(run.reason("b"), "a job it depends on did not succeed");
    run.check("success independent", "run failure");
}

#[test]
fn a_skipped_job_does_not_fail_the_run() {
    let mut run = Run::new(workflow(vec![
        job("a"),
        job("b").needs(&["a"]).when("false"),
    ]));
    run.check("start", "start a");
    run.check("success a", "skip b; run success");
}

#[test]
fn an_empty_workflow_finishes_at_once() {
    let mut run = Run::new(workflow(vec![]));
    run.check("start", "run success");
}

#[test]
fn a_dependency_cycle_fails_its_jobs_instead_of_hanging() {
    let mut run = Run::new(workflow(vec![
        job("a").needs(&["b"]),
        job("b").needs(&["a"]),
        job("c").needs(&["a"]),
        job("d"),
    ]));
    run.check("start", "failure a; failure b; skip c; start d");
    run.check("success d", "run failure");
}

#[test]
fn an_unknown_need_fails_the_job() {
    let mut run = Run::new(workflow(vec![job("a").needs(&["nope"])]));
    run.check("start", "failure a; run failure");
    assert_eq!(run.reason("a"), "`needs`: the workflow has no job `nope`");
}

// ---- conditions and status functions ----

#[test]
fn status_functions_decide_after_a_failure() {
    let mut run = Run::new(workflow(vec![
        job("a"),
        job("on-success").needs(&["a"]).when("success()"),
        job("on-failure").needs(&["a"]).when("failure()"),
        job("always").needs(&["a"]).when("always()"),
        job("on-cancel").needs(&["a"]).when("cancelled()"),
        job("default").needs(&["a"]),
    ]));
    run.check("start", "start a");
    run.check(
        "failure a",
        "skip on-success; start on-failure; start always; skip on-cancel; skip default",
    );
    run.check("success on-failure", "");
    run.check("success always", "run failure");
}

#[test]
fn status_functions_decide_after_a_success() {
    let mut run = Run::new(workflow(vec![
        job("a"),
        job("on-success").needs(&["a"]).when("${{ success() }}"),
        job("on-failure").needs(&["a"]).when("failure()"),
        job("not-cancelled").needs(&["a"]).when("!cancelled()"),
    ]));
    run.check("start", "start a");
    run.check(
        "success a",
        "start on-success; skip on-failure; start not-cancelled",
    );
}

#[test]
fn failure_looks_at_every_ancestor_not_only_direct_needs() {
    // a fails → b skipped → c (`if: failure()`) still sees the failure of its ancestor a.
    let mut run = Run::new(workflow(vec![
        job("a"),
        job("b").needs(&["a"]),
        job("c").needs(&["b"]).when("failure()"),
    ]));
    run.check("start", "start a");
    run.check("failure a", "skip b; start c");
    assert_eq!(
        run.spec("c").contexts["needs"],
        json!({"b": {"result": "skipped", "outputs": {}}})
    );
}

#[test]
fn a_condition_without_status_function_gets_an_implicit_success() {
    let mut run = Run::new(workflow(vec![
        job("a"),
        job("b").needs(&["a"]).when("github.event_name == 'push'"),
        job("c").when("github.event_name == 'push'"),
    ]));
    run.check("start", "start a; skip c");
    run.check("failure a", "skip b; run failure");
}

#[test]
fn a_condition_reads_github_inputs_vars_and_needs() {
    let mut input = RunInput::new(
        workflow(vec![
            job("a").output("go", "${{ steps.x.outputs.go }}"),
            job("b").needs(&["a"]).when("needs.a.outputs.go == 'yes' && inputs.deploy && vars.REGION == 'eu' && github.event_name == 'push'"),
            job("c").needs(&["a"]).when("needs.a.result != 'success'"),
        ]),
        "run-1",
    );
    input.github.insert("event_name".into(), json!("push"));
    input.inputs.insert("deploy".into(), json!(true));
    input.vars.insert("REGION".into(), json!("eu"));
    let mut run = Run::with(input);
    run.check("start", "start a");
    run.finish_with_outputs("a", &[("go", "yes")], "start b; skip c");
}

#[test]
fn an_expression_error_in_if_fails_the_job_with_the_message() {
    let mut run = Run::new(workflow(vec![job("a").when("fromJSON('{')")]));
    run.check("start", "failure a; run failure");
    assert!(
        run.reason("a").starts_with("`if`: "),
        "reason: {}",
        run.reason("a")
    );
}

// ---- cancelling a run ----

#[test]
fn cancel_mid_run_stops_jobs_and_runs_only_always_jobs() {
    let mut run = Run::new(workflow(vec![
        job("build"),
        job("cleanup").needs(&["build"]).when("always()"),
        job("report").needs(&["build"]).when("!cancelled()"),
        job("notify").needs(&["build"]).when("cancelled()"),
        job("deploy").needs(&["build"]),
    ]));
    run.check("start", "start build");
    run.check("started build", "");
    run.check("cancel", "cancel build (run_cancelled)");
    run.check(
        "cancelled build",
        "start cleanup; cancelled report; start notify; cancelled deploy",
    );
    run.check("success cleanup", "");
    run.check("success notify", "run cancelled");
}

#[test]
fn an_always_job_in_progress_is_not_cancelled() {
    let mut run = Run::new(workflow(vec![job("a").when("always()"), job("b")]));
    run.check("start", "start a; start b");
    run.check("cancel", "cancel b (run_cancelled)");
    run.check("cancelled b", "");
    run.check("success a", "run cancelled");
}

#[test]
fn cancel_concludes_legs_that_never_started() {
    let mut run = Run::new(workflow(vec![
        job("t")
            .matrix(&[("n", json!([1, 2, 3]))])
            .max_parallel(1.0),
    ]));
    run.check("start", "start t (1)");
    run.check(
        "cancel",
        "cancel t (1) (run_cancelled); cancelled t (2); cancelled t (3)",
    );
    run.check("cancelled t (1)", "run cancelled");
}

#[test]
fn cancelling_twice_or_after_the_end_is_handled() {
    let mut run = Run::new(workflow(vec![job("a")]));
    run.check("start", "start a");
    run.check("cancel", "cancel a (run_cancelled)");
    run.check("cancel", "");
    run.check("cancelled a", "run cancelled");
    assert!(run.step("cancel").starts_with("error: "));
}

// ---- matrices ----

#[test]
fn matrix_legs_start_in_declaration_order_with_githubs_keys() {
    let mut run = Run::new(workflow(vec![
        job("test").matrix(&[("os", json!(["linux", "mac"])), ("node", json!([18, 20]))]),
    ]));
    run.check("start", "start test (linux, 18); start test (linux, 20); start test (mac, 18); start test (mac, 20)");
    let spec = run.spec("test (mac, 18)");
    assert_eq!(spec.job_id, "test");
    assert_eq!(spec.display_name, "test (mac, 18)");
    assert_eq!(spec.contexts["matrix"], json!({"os": "mac", "node": 18}));
    assert_eq!(
        spec.contexts["strategy"],
        json!({"fail-fast": true, "job-index": 2, "job-total": 4, "max-parallel": 4})
    );
}

#[test]
fn a_named_matrix_job_gets_the_values_appended_unless_the_name_uses_the_matrix() {
    let mut run = Run::new(workflow(vec![
        job("plain")
            .named("Unit tests")
            .matrix(&[("os", json!(["linux"]))]),
        job("templated")
            .named("Tests on ${{ matrix.os }}")
            .matrix(&[("os", json!(["linux"]))]),
    ]));
    run.check("start", "start plain (linux); start templated (linux)");
    assert_eq!(run.spec("plain (linux)").display_name, "Unit tests (linux)");
    assert_eq!(run.spec("templated (linux)").display_name, "Tests on linux");
}

#[test]
fn matrix_include_and_exclude_shape_the_legs() {
    let mut run = Run::new(workflow(vec![job("t").matrix(&[
        ("os", json!(["linux", "mac"])),
        ("node", json!([18, 20])),
        ("exclude", json!([{"os": "mac", "node": 18}])),
        ("include", json!([{"os": "linux", "experimental": true}])),
    ])]));
    run.check(
        "start",
        "start t (linux, 18); start t (linux, 20); start t (mac, 20)",
    );
}

#[test]
fn fail_fast_cancels_running_and_unstarted_legs() {
    let mut run = Run::new(workflow(vec![
        job("t")
            .matrix(&[("n", json!([1, 2, 3, 4]))])
            .max_parallel(2.0),
        job("after").needs(&["t"]),
    ]));
    run.check("start", "start t (1); start t (2)");
    run.check(
        "failure t (1)",
        "cancel t (2) (fail_fast); cancelled t (3); cancelled t (4)",
    );
    run.check("cancelled t (2)", "skip after; run failure");
}

#[test]
fn without_fail_fast_the_other_legs_go_on() {
    let mut run = Run::new(workflow(vec![
        job("t")
            .matrix(&[("n", json!([1, 2, 3]))])
            .fail_fast(false)
            .max_parallel(2.0),
    ]));
    run.check("start", "start t (1); start t (2)");
    run.check("failure t (1)", "start t (3)");
    run.check("success t (2)", "");
    run.check("success t (3)", "run failure");
}

#[test]
fn max_parallel_one_runs_legs_one_at_a_time() {
    let mut run = Run::new(workflow(vec![
        job("t")
            .matrix(&[("n", json!([1, 2, 3]))])
            .max_parallel(1.0),
    ]));
    run.check("start", "start t (1)");
    run.check("started t (1)", "");
    run.check("success t (1)", "start t (2)");
    run.check("success t (2)", "start t (3)");
    run.check("success t (3)", "run success");
    assert_eq!(
        run.spec("t (3)").contexts["strategy"]["max-parallel"],
        json!(1)
    );
}

#[test]
fn a_dynamic_matrix_is_read_from_needs_outputs() {
    let mut run = Run::new(workflow(vec![
        job("plan").output("matrix", "${{ steps.p.outputs.matrix }}"),
        job("build")
            .needs(&["plan"])
            .matrix_expr("${{ fromJSON(needs.plan.outputs.matrix) }}"),
    ]));
    run.check("start", "start plan");
    run.finish_with_outputs(
        "plan",
        &[("matrix", r#"{"target": ["x86", "arm"]}"#)],
        "start build (x86); start build (arm)",
    );
    assert_eq!(
        run.spec("build (arm)").contexts["matrix"],
        json!({"target": "arm"})
    );
}

#[test]
fn a_dimension_given_as_an_expression_is_evaluated() {
    let mut run = Run::new(workflow(vec![
        job("plan"),
        job("build")
            .needs(&["plan"])
            .matrix(&[("os", json!("${{ fromJSON(needs.plan.outputs.oses) }}"))]),
    ]));
    run.check("start", "start plan");
    run.finish_with_outputs(
        "plan",
        &[("oses", r#"["a", "b"]"#)],
        "start build (a); start build (b)",
    );
}

#[test]
fn a_matrix_that_cannot_be_read_fails_the_job() {
    let mut run = Run::new(workflow(vec![
        job("plan"),
        job("build")
            .needs(&["plan"])
            .matrix_expr("${{ fromJSON(needs.plan.outputs.matrix) }}"),
    ]));
    run.check("start", "start plan");
    run.finish_with_outputs(
        "plan",
        &[("matrix", "not json")],
        "failure build; run failure",
    );
    assert!(
        run.reason("build").starts_with("`strategy.matrix`: "),
        "reason: {}",
        run.reason("build")
    );
}

#[test]
fn matrix_filter_keeps_only_matching_legs() {
    let mut input = RunInput::new(
        workflow(vec![
            job("t").matrix(&[("os", json!(["linux", "mac"])), ("node", json!([18, 20]))]),
            job("plain"),
        ]),
        "run-1",
    );
    input.selection.matrix = vec![("os".into(), "mac".into())];
    let mut run = Run::with(input);
    run.check("start", "start t (mac, 18); start t (mac, 20); start plain");
    assert_eq!(
        run.spec("t (mac, 20)").contexts["strategy"]["job-index"],
        json!(1)
    );
    assert_eq!(
        run.spec("t (mac, 20)").contexts["strategy"]["job-total"],
        json!(2)
    );
}

#[test]
fn a_matrix_filter_matching_nothing_skips_the_job() {
    let mut input = RunInput::new(
        workflow(vec![job("t").matrix(&[("os", json!(["linux"]))])]),
        "run-1",
    );
    input.selection.matrix = vec![("os".into(), "windows".into())];
    let mut run = Run::with(input);
    run.check("start", "skip t; run success");
}

// ---- outputs and the needs context ----

#[test]
fn job_outputs_reach_direct_dependents_only() {
    let mut run = Run::new(workflow(vec![
        job("a").output("version", "${{ steps.v.outputs.version }}"),
        job("b").needs(&["a"]),
        job("c").needs(&["b"]),
    ]));
    run.check("start", "start a");
    assert_eq!(
        run.spec("a").outputs.get("version").map(String::as_str),
        Some("${{ steps.v.outputs.version }}")
    );
    run.finish_with_outputs("a", &[("version", "1.2.3")], "start b");
    assert_eq!(
        run.spec("b").contexts["needs"],
        json!({"a": {"result": "success", "outputs": {"version": "1.2.3"}}})
    );
    run.check("success b", "start c");
    assert_eq!(
        run.spec("c").contexts["needs"],
        json!({"b": {"result": "success", "outputs": {}}})
    );
}

#[test]
fn matrix_outputs_merge_with_the_last_finished_leg_winning() {
    let mut run = Run::new(workflow(vec![
        job("t").matrix(&[("n", json!([1, 2, 3]))]),
        job("after").needs(&["t"]),
    ]));
    run.check("start", "start t (1); start t (2); start t (3)");
    run.finish_with_outputs("t (3)", &[("shared", "three"), ("only-3", "x")], "");
    run.finish_with_outputs("t (1)", &[("shared", "one"), ("only-3", "")], "");
    run.finish_with_outputs("t (2)", &[("shared", "two")], "start after");
    assert_eq!(
        run.spec("after").contexts["needs"]["t"],
        json!({"result": "success", "outputs": {"shared": "two", "only-3": "x"}})
    );
}

// ---- continue-on-error ----

#[test]
fn a_continue_on_error_job_that_fails_does_not_fail_the_run() {
    let mut run = Run::new(workflow(vec![
        job("flaky").continue_on_error(BoolOrExpr::Bool(true)),
        job("after").needs(&["flaky"]),
    ]));
    run.check("start", "start flaky");
    run.check("failure flaky", "start after");
    assert_eq!(
        run.spec("after").contexts["needs"]["flaky"]["result"],
        json!("success")
    );
    run.check("success after", "run success");
    let views = run.scheduler.jobs();
    let flaky = views
        .iter()
        .find(|view| view.job_id == "flaky")
        .map(|view| view.legs[0].state);
    assert_eq!(
        flaky,
        Some(LegState::Finished {
            conclusion: Conclusion::Failure
        })
    );
}

#[test]
fn an_experimental_leg_does_not_trigger_fail_fast() {
    let mut run = Run::new(workflow(vec![
        job("t")
            .matrix(&[
                ("v", json!(["stable", "nightly"])),
                ("include", json!([{"v": "nightly", "experimental": true}])),
            ])
            .continue_on_error(BoolOrExpr::Expr(
                "${{ matrix.experimental == true }}".into(),
            )),
    ]));
    run.check("start", "start t (stable); start t (nightly)");
    run.check("failure t (nightly)", "");
    run.check("success t (stable)", "run success");
}

#[test]
fn a_failing_leg_without_continue_on_error_still_fails_fast() {
    let mut run = Run::new(workflow(vec![
        job("t")
            .matrix(&[
                ("v", json!(["stable", "nightly"])),
                ("include", json!([{"v": "nightly", "experimental": true}])),
            ])
            .continue_on_error(BoolOrExpr::Expr(
                "${{ matrix.experimental == true }}".into(),
            )),
    ]));
    run.check("start", "start t (stable); start t (nightly)");
    run.check("failure t (stable)", "cancel t (nightly) (fail_fast)");
    run.check("cancelled t (nightly)", "run failure");
}

// ---- selection ----

#[test]
fn selecting_a_job_runs_it_with_its_transitive_needs() {
    let mut input = RunInput::new(
        workflow(vec![
            job("lint"),
            job("build"),
            job("test").needs(&["build"]),
            job("deploy").needs(&["TEST"]),
            job("docs"),
        ]),
        "run-1",
    );
    input.selection.job = Some("Deploy".into());
    let mut run = Run::with(input);
    run.check("start", "start build");
    run.check("success build", "start test");
    run.check("success test", "start deploy");
    run.check("success deploy", "run success");
    let ids: Vec<&str> = run
        .scheduler
        .jobs()
        .iter()
        .map(|view| view.job_id)
        .collect();
    assert_eq!(ids, vec!["build", "test", "deploy"]);
}

#[test]
fn selecting_an_unknown_job_is_an_error() {
    let mut input = RunInput::new(workflow(vec![job("a")]), "run-1");
    input.selection.job = Some("nope".into());
    assert_eq!(
        Scheduler::new(input).err(),
        Some(SchedulerError::UnknownSelectedJob { job: "nope".into() })
    );
}

// ---- timeouts ----

#[test]
fn a_job_past_its_timeout_is_cancelled_and_fails() {
    let mut run = Run::new(workflow(vec![
        job("slow").timeout(NumberOrExpr::Number(10.0)),
        job("after").needs(&["slow"]).when("failure()"),
    ]));
    run.check("start", "start slow");
    run.check("tick 5", "");
    run.check("started slow", "");
    run.check("tick 9", "");
    run.check("tick 1", "cancel slow (timed_out)");
    run.check("tick 1", "");
    run.check("cancelled slow", "start after");
    run.check("success after", "run failure");
    let views = run.scheduler.jobs();
    let slow = views
        .iter()
        .find(|view| view.job_id == "slow")
        .and_then(|view| view.legs[0].result);
    assert_eq!(
        slow.map(|result| result.conclusion),
        Some(Conclusion::Failure)
    );
    assert_eq!(
        slow.and_then(|result| result.failure_reason.clone()),
        Some("the job exceeded its timeout of 10 minutes".into())
    );
}

#[test]
fn the_default_timeout_is_360_minutes() {
    let mut run = Run::new(workflow(vec![job("a")]));
    run.check("start", "start a");
    assert_eq!(run.spec("a").timeout_minutes, 360.0);
    run.check("started a", "");
    run.check("tick 359", "");
    run.check("tick 1", "cancel a (timed_out)");
}

#[test]
fn a_timeout_can_come_from_an_expression() {
    let mut run = Run::new(workflow(vec![
        job("t")
            .matrix(&[("minutes", json!([2]))])
            .timeout(NumberOrExpr::Expr("${{ matrix.minutes }}".into())),
    ]));
    run.check("start", "start t (2)");
    assert_eq!(run.spec("t (2)").timeout_minutes, 2.0);
}

// ---- job specs ----

#[test]
fn the_job_spec_carries_evaluated_job_level_fields() {
    let mut flow = workflow(vec![
        job("deploy")
            .named("Deploy to ${{ inputs.target }}")
            .env("TARGET", "${{ inputs.target }}")
            .env("SHARED", "job")
            .env("TOKEN", "${{ secrets.DEPLOY_TOKEN }}")
            .steps(&["echo ${{ secrets.API_KEY }}", "echo $TARGET"]),
    ]);
    flow.env.insert("SHARED".into(), spanned("workflow".into()));
    flow.env.insert("LEVEL".into(), spanned("workflow".into()));
    if let Some(deploy) = flow.jobs.get_mut("deploy") {
        deploy.environment = Some(Environment {
            name: spanned("${{ inputs.target }}".into()),
            url: Some(spanned("${{ steps.d.outputs.url }}".into())),
        });
        deploy.runs_on = Some(RunsOn {
            span: Span::default(),
            group: None,
            labels: vec![
                spanned("linux".into()),
                spanned("${{ inputs.arch }}".into()),
            ],
        });
        deploy.defaults = Some(workflows::model::Defaults {
            shell: Some(spanned("bash".into())),
            working_directory: None,
        });
    }
    flow.defaults = Some(workflows::model::Defaults {
        shell: Some(spanned("sh".into())),
        working_directory: Some(spanned("app".into())),
    });
    let mut input = RunInput::new(flow, "run-7");
    input.run.run_number = 42;
    input.inputs.insert("target".into(), json!("staging"));
    input.inputs.insert("arch".into(), json!("arm64"));
    input.secrets.insert("DEPLOY_TOKEN".into(), "t0k3n".into());
    input.secrets.insert("api_key".into(), "k3y".into());
    input.secrets.insert("UNUSED".into(), "nope".into());
    input.event_payload = json!({"ref": "refs/heads/main"});
    let mut run = Run::with(input);
    run.check("start", "start deploy");
    let spec = run.spec("deploy");
    assert_eq!(spec.run_id, "run-7");
    assert_eq!(spec.display_name, "Deploy to staging");
    assert_eq!(spec.runs_on, vec!["linux".to_string(), "arm64".to_string()]);
    let env: Vec<(&str, &str)> = spec
        .env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    assert_eq!(
        env,
        vec![
            ("SHARED", "job"),
            ("LEVEL", "workflow"),
            ("TARGET", "${{ inputs.target }}"),
            ("TOKEN", "${{ secrets.DEPLOY_TOKEN }}")
        ]
    );
    assert_eq!(spec.default_shell.as_deref(), Some("bash"));
    assert_eq!(spec.default_working_directory.as_deref(), Some("app"));
    let secrets: Vec<&str> = spec.secrets.keys().map(String::as_str).collect();
    assert_eq!(secrets, vec!["DEPLOY_TOKEN", "api_key"]);
    let environment = spec
        .environment
        .as_ref()
        .map(|environment| (environment.name.as_str(), environment.url.as_deref()));
    assert_eq!(
        environment,
        Some(("staging", Some("${{ steps.d.outputs.url }}")))
    );
    assert_eq!(spec.contexts["github"]["job"], json!("deploy"));
    assert_eq!(spec.contexts["github"]["run_number"], json!("42"));
    // The payload travels once, in `event_payload` (the runner rebuilds `github.event`).
    assert_eq!(spec.contexts["github"].get("event"), None);
    assert_eq!(spec.run.run_number, 42);
    assert_eq!(spec.run.run_id, crate::numeric_run_id("run-7"));
    assert_eq!(
        spec.contexts["github"]["run_id"],
        json!(crate::numeric_run_id("run-7").to_string())
    );
    assert_eq!(spec.contexts["matrix"], Value::Null);
    assert_eq!(spec.event_payload, json!({"ref": "refs/heads/main"}));
    assert_eq!(spec.steps.len(), 2);
}

#[test]
fn an_expression_error_in_a_job_field_fails_that_leg_only() {
    let mut run = Run::new(workflow(vec![
        job("t")
            .matrix(&[("n", json!([1, 2]))])
            .fail_fast(false)
            .named("${{ matrix.n == 2 && fromJSON('{') || 'ok' }}"),
    ]));
    run.check("start", "failure t (2); start t (1)");
    assert!(
        run.reason("t (2)").starts_with("`name`: "),
        "reason: {}",
        run.reason("t (2)")
    );
    run.check("success t (1)", "run failure");
}

#[test]
fn a_call_of_a_workflow_that_was_not_loaded_fails_with_a_clear_reason() {
    let mut flow = workflow(vec![job("call"), job("after").needs(&["call"])]);
    if let Some(call) = flow.jobs.get_mut("call") {
        call.uses = Some(spanned("./.github/workflows/shared.yml".into()));
        call.steps.clear();
    }
    let mut run = Run::new(flow);
    run.check("start", "failure call; skip after; run failure");
    assert_eq!(
        run.reason("call"),
        "the called workflow `.github/workflows/shared.yml` was not loaded for this run"
    );
}

// ---- refused events and restarts ----

#[test]
fn unknown_and_repeated_events_are_refused_without_changing_anything() {
    let mut run = Run::new(workflow(vec![job("a"), job("b").needs(&["a"])]));
    assert!(run.step("started a").starts_with("error: no job `a`"));
    run.check("start", "start a");
    assert!(run.step("start").starts_with("error: "));
    assert!(run.step("success nope").starts_with("error: no job `nope`"));
    run.check("success a", "start b");
    assert!(
        run.step("success a")
            .starts_with("error: job `a`: cannot finish")
    );
    run.check("success b", "run success");
}

#[test]
fn the_state_survives_a_round_trip_through_json() {
    let mut run = Run::new(workflow(vec![job("a"), job("b").needs(&["a"])]));
    run.check("start", "start a");
    let stored = serde_json::to_string(&run.scheduler).unwrap_or_default();
    let restored: Result<Scheduler, _> = serde_json::from_str(&stored);
    assert_eq!(restored.as_ref().ok(), Some(&run.scheduler));
    if let Ok(restored) = restored {
        run.scheduler = restored;
    }
    run.check("success a", "start b");
}

// ---- more of GitHub's documented behaviour ----

#[test]
fn failure_stays_false_after_a_continue_on_error_failure() {
    let mut run = Run::new(workflow(vec![
        job("flaky").continue_on_error(BoolOrExpr::Bool(true)),
        job("on-failure").needs(&["flaky"]).when("failure()"),
        job("on-success").needs(&["flaky"]).when("success()"),
    ]));
    run.check("start", "start flaky");
    run.check("failure flaky", "skip on-failure; start on-success");
    run.check("success on-success", "run success");
}

#[test]
fn fail_fast_can_be_an_expression() {
    let mut flow = workflow(vec![
        job("t").matrix(&[("n", json!([1, 2]))]).fail_fast(true),
    ]);
    if let Some(strategy) = flow.jobs.get_mut("t").and_then(|job| job.strategy.as_mut()) {
        strategy.fail_fast = Some(spanned(BoolOrExpr::Expr("${{ inputs.strict }}".into())));
    }
    let mut input = RunInput::new(flow, "run-1");
    input.inputs.insert("strict".into(), json!(false));
    let mut run = Run::with(input);
    run.check("start", "start t (1); start t (2)");
    assert_eq!(
        run.spec("t (1)").contexts["strategy"]["fail-fast"],
        json!(false)
    );
    run.check("failure t (1)", "");
    run.check("success t (2)", "run failure");
}

#[test]
fn a_matrix_job_whose_legs_were_all_cancelled_reports_cancelled() {
    let mut run = Run::new(workflow(vec![
        job("t").matrix(&[("n", json!([1, 2]))]),
        job("after").needs(&["t"]).when("always()"),
    ]));
    run.check("start", "start t (1); start t (2)");
    run.check(
        "cancel",
        "cancel t (1) (run_cancelled); cancel t (2) (run_cancelled)",
    );
    run.check("cancelled t (1)", "");
    run.check("cancelled t (2)", "start after");
    assert_eq!(
        run.spec("after").contexts["needs"]["t"]["result"],
        json!("cancelled")
    );
    run.check("success after", "run cancelled");
}

#[test]
fn legs_that_display_alike_still_get_distinct_keys() {
    let mut run = Run::new(workflow(vec![job("t").matrix(&[("v", json!([1, "1"]))])]));
    run.check("start", "start t (1); start t (1) #2");
}

#[test]
fn only_referenced_secrets_reach_the_job() {
    let mut flow = workflow(vec![job("a").steps(&["echo hello"])]);
    if let Some(job) = flow.jobs.get_mut("a") {
        let mut with_token = step("gh release create");
        with_token
            .env
            .insert("GH_TOKEN".into(), spanned("${{ github.token }}".into()));
        with_token.condition = Some(spanned("secrets.NPM_TOKEN != ''".into()));
        job.steps.push(with_token);
    }
    let mut input = RunInput::new(flow, "run-1");
    input.secrets.insert("GITHUB_TOKEN".into(), "gh".into());
    input.secrets.insert("npm_token".into(), "npm".into());
    input.secrets.insert("OTHER".into(), "other".into());
    let mut run = Run::with(input);
    run.check("start", "start a");
    let secrets: Vec<&str> = run.spec("a").secrets.keys().map(String::as_str).collect();
    assert_eq!(secrets, vec!["GITHUB_TOKEN", "npm_token"]);
}

#[test]
fn a_job_without_secrets_in_its_templates_gets_none() {
    let mut input = RunInput::new(workflow(vec![job("a")]), "run-1");
    input.secrets.insert("GITHUB_TOKEN".into(), "gh".into());
    let mut run = Run::with(input);
    run.check("start", "start a");
    assert!(run.spec("a").secrets.is_empty());
}

#[test]
fn an_unreadable_max_parallel_fails_the_job() {
    let mut run = Run::new(workflow(vec![
        job("t").matrix(&[("n", json!([1]))]).max_parallel(0.0),
    ]));
    run.check("start", "failure t; run failure");
    assert_eq!(
        run.reason("t"),
        "`strategy.max-parallel`: must be at least 1, got 0"
    );
}

#[test]
fn the_job_view_reports_phases_and_results() {
    let mut run = Run::new(workflow(vec![job("a"), job("b").needs(&["a"])]));
    run.check("start", "start a");
    run.check("failure a", "skip b; run failure");
    let views = run.scheduler.jobs();
    let summary: Vec<(&str, Option<Conclusion>)> = views
        .iter()
        .map(|view| (view.job_id, view.result))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("a", Some(Conclusion::Failure)),
            ("b", Some(Conclusion::Skipped))
        ]
    );
    assert_eq!(run.scheduler.conclusion(), Some(Conclusion::Failure));
}

#[test]
fn expressions_nested_inside_matrix_values_are_evaluated() {
    let mut run = Run::new(workflow(vec![
        job("t").matrix(&[("a", json!([{"env": {"key": "${{ 'val' }}1"}}]))]),
    ]));
    run.check("start", "start t (val1)");
    assert_eq!(
        run.spec("t (val1)").contexts["matrix"],
        json!({"a": {"env": {"key": "val1"}}})
    );
}

// ---- re-runs: which jobs run again, and the kept results seeded before the start ----

fn previous(conclusions: &[(&str, Conclusion)]) -> IndexMap<String, Conclusion> {
    conclusions
        .iter()
        .map(|(id, conclusion)| (id.to_string(), *conclusion))
        .collect()
}

fn kept(job_id: &str, conclusion: Conclusion, outputs: &[(&str, &str)]) -> KeptJob {
    KeptJob {
        job_id: job_id.to_string(),
        legs: vec![KeptLeg {
            job_key: job_id.to_string(),
            display_name: job_id.to_string(),
            result: result(conclusion, outputs),
        }],
    }
}

#[track_caller]
fn check_rerun(jobs: Vec<Job>, before: &[(&str, Conclusion)], mode: RerunMode, expected: &str) {
    let chosen = jobs_to_rerun(&workflow(jobs), &previous(before), &mode)
        .map(|ids| ids.into_iter().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|error| format!("error: {error}"));
    assert_eq!(chosen, expected, "{mode:?}");
}

fn chain() -> Vec<Job> {
    vec![
        job("build"),
        job("lint"),
        job("test").needs(&["build"]),
        job("deploy").needs(&["test", "lint"]),
        job("notify").needs(&["lint"]),
    ]
}

#[test]
fn rerun_selects_failed_jobs_and_their_dependents_transitively() {
    use Conclusion::*;
    let before = [
        ("build", Success),
        ("lint", Success),
        ("test", Failure),
        ("deploy", Skipped),
        ("notify", Success),
    ];
    check_rerun(chain(), &before, RerunMode::Failed, "test deploy");
    check_rerun(
        chain(),
        &before,
        RerunMode::All,
        "build lint test deploy notify",
    );
    // One job: it and what depends on it, whatever their earlier results.
    check_rerun(
        chain(),
        &before,
        RerunMode::Job("LINT".into()),
        "lint deploy notify",
    );
    check_rerun(
        chain(),
        &before,
        RerunMode::Job("nope".into()),
        "error: failed to select job `nope`: the workflow has no such job",
    );
    // Cancelled counts as failed; a job without an earlier conclusion runs again.
    check_rerun(
        chain(),
        &[("build", Cancelled), ("lint", Success)],
        RerunMode::Failed,
        "build test deploy notify",
    );
    let all_green: Vec<(&str, Conclusion)> = before.iter().map(|(id, _)| (*id, Success)).collect();
    check_rerun(
        chain(),
        &all_green,
        RerunMode::Failed,
        "error: nothing to re-run: no job of the run failed or was cancelled",
    );
}

#[test]
fn a_seeded_run_starts_only_the_rerun_jobs_and_dependents_read_kept_outputs() {
    let jobs = vec![
        job("build").output("version", "${{ steps.v.outputs.version }}"),
        job("test").needs(&["build"]),
        job("deploy").needs(&["build", "test"]),
    ];
    let mut input = RunInput::new(workflow(jobs), "run-2");
    input.run.run_attempt = 2;
    let mut run = Run::with(input);
    run.scheduler
        .seed(vec![kept(
            "build",
            Conclusion::Success,
            &[("version", "1.2.3")],
        )])
        .unwrap_or_else(|error| panic!("seed: {error}"));
    run.check("start", "start test");
    assert_eq!(
        run.spec("test").contexts["needs"],
        json!({"build": {"result": "success", "outputs": {"version": "1.2.3"}}})
    );
    assert_eq!(
        run.spec("test").contexts["github"]["run_attempt"],
        json!("2")
    );
    run.check("success test", "start deploy");
    assert_eq!(
        run.spec("deploy").contexts["needs"]["build"]["outputs"]["version"],
        json!("1.2.3")
    );
    // The kept job is not handed out again, and a report about it is refused.
    assert!(run.step("success build").starts_with("error:"));
    run.check("success deploy", "run success");
}

#[test]
fn a_kept_failure_still_skips_a_dependent_and_fails_the_run() {
    let jobs = vec![job("a"), job("b"), job("c").needs(&["a", "b"])];
    let mut run = Run::new(workflow(jobs));
    run.scheduler
        .seed(vec![kept("a", Conclusion::Failure, &[])])
        .unwrap_or_else(|error| panic!("seed: {error}"));
    run.check("start", "start b");
    run.check("success b", "skip c; run failure");
}

#[test]
fn a_kept_matrix_job_keeps_every_leg_and_merges_their_outputs() {
    let jobs = vec![
        job("build").matrix(&[("os", json!(["linux", "mac"]))]),
        job("publish").needs(&["build"]),
    ];
    let mut run = Run::new(workflow(jobs));
    let legs = [("build (linux)", "l"), ("build (mac)", "m")]
        .iter()
        .map(|(key, value)| KeptLeg {
            job_key: key.to_string(),
            display_name: key.to_string(),
            result: result(Conclusion::Success, &[(&format!("out_{value}"), value)]),
        })
        .collect();
    run.scheduler
        .seed(vec![KeptJob {
            job_id: "build".into(),
            legs,
        }])
        .unwrap_or_else(|error| panic!("seed: {error}"));
    run.check("start", "start publish");
    assert_eq!(
        run.spec("publish").contexts["needs"]["build"]["outputs"],
        json!({"out_l": "l", "out_m": "m"})
    );
}

#[test]
fn seeding_is_refused_after_the_start_or_for_unknown_jobs() {
    let mut run = Run::new(workflow(vec![job("a"), job("b")]));
    assert!(
        run.scheduler
            .seed(vec![kept("zzz", Conclusion::Success, &[])])
            .is_err()
    );
    run.check("start", "start a; start b");
    assert!(
        run.scheduler
            .seed(vec![kept("a", Conclusion::Success, &[])])
            .is_err()
    );
}

// ---- concurrency blocks evaluated ----

#[test]
fn concurrency_groups_are_rendered_and_cancel_in_progress_evaluated() {
    use workflows::model::Concurrency;
    let mut input = RunInput::new(workflow(vec![job("a")]), "run-1");
    input.github.insert("ref".into(), json!("refs/heads/main"));
    input.inputs.insert("cancel".into(), json!(true));
    let values = workflow_level_values(&input);
    assert!(values["github"].get("job").is_none());
    let check = |group: &str, cancel: Option<BoolOrExpr>| {
        evaluate_concurrency(
            &Concurrency {
                group: spanned(group.to_string()),
                cancel_in_progress: cancel.map(spanned),
            },
            &values,
        )
    };
    assert_eq!(
        check("deploy-${{ github.ref }}", None),
        Ok(Some(("deploy-refs/heads/main".to_string(), false)))
    );
    assert_eq!(
        check("g", Some(BoolOrExpr::Expr("${{ inputs.cancel }}".into()))),
        Ok(Some(("g".to_string(), true)))
    );
    assert_eq!(check("${{ inputs.missing }}", None), Ok(None));
    assert!(
        check("g", Some(BoolOrExpr::Expr("${{ fromJSON('[1]') }}".into())))
            .is_err_and(|error| error.contains("cancel-in-progress"))
    );
}

mod reusable;
