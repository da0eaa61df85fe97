//! The scheduler driven by workflows written as YAML (parsed by `workflows::parse_workflow`), so
//! the model the parser builds and the one the scheduler reads stay in step. Each scenario is a
//! script of events with the actions expected after each one.

use protocol::{Conclusion, JobResult, JobSpec};
use scheduler::{Action, Event, Millis, RunInput, Scheduler};
use serde_json::json;

/// Parses `yaml`, then for each `(command, expected)` feeds the event and compares the actions
/// rendered as `start KEY`, `cancel KEY`, `skip KEY`, `<conclusion> KEY`, `run <conclusion>`,
/// joined by "; ". Commands: `start`, `cancel`, `success KEY`, `failure KEY`, `cancelled KEY`,
/// `KEY outputs NAME=VALUE` (a success with one output). Returns the specs handed out.
#[track_caller]
fn check(yaml: &str, script: &[(&str, &str)]) -> Vec<JobSpec> {
    let parsed = workflows::parse_workflow(".github/workflows/test.yml", yaml);
    assert!(
        !parsed.has_errors(),
        "diagnostics: {:?}",
        parsed.diagnostics
    );
    let Some(workflow) = parsed.workflow else {
        panic!("no workflow parsed")
    };
    let mut scheduler = match Scheduler::new(RunInput::new(workflow, "run-1")) {
        Ok(scheduler) => scheduler,
        Err(error) => panic!("planning failed: {error}"),
    };
    let mut specs = Vec::new();
    for (command, expected) in script {
        let event = event_for(command);
        let actions = match scheduler.handle(event, Millis(0)) {
            Ok(actions) => actions,
            Err(error) => panic!("`{command}` was refused: {error}"),
        };
        let rendered: Vec<String> = actions
            .into_iter()
            .map(|action| match action {
                Action::StartJob(spec) => {
                    let line = format!("start {}", spec.job_key);
                    specs.push(*spec);
                    line
                }
                Action::CancelJob { job_key, .. } => format!("cancel {job_key}"),
                Action::JobSkipped { job_key, .. } => format!("skip {job_key}"),
                Action::JobConcluded {
                    job_key,
                    conclusion,
                    ..
                } => format!("{} {job_key}", conclusion.as_str()),
                Action::RunFinished { conclusion } => format!("run {}", conclusion.as_str()),
            })
            .collect();
        assert_eq!(rendered.join("; "), *expected, "after `{command}`");
    }
    specs
}

fn event_for(command: &str) -> Event {
    if let Some((key, output)) = command.split_once(" outputs ") {
        let (name, value) = output.split_once('=').unwrap_or((output, ""));
        let mut result = result(Conclusion::Success);
        result.outputs.insert(name.to_string(), value.to_string());
        return Event::JobFinished {
            job_key: key.to_string(),
            result,
        };
    }
    let (verb, key) = command.split_once(' ').unwrap_or((command, ""));
    let job_key = key.to_string();
    match verb {
        "start" => Event::Start,
        "cancel" => Event::CancelRequested,
        "success" => Event::JobFinished {
            job_key,
            result: result(Conclusion::Success),
        },
        "failure" => Event::JobFinished {
            job_key,
            result: result(Conclusion::Failure),
        },
        "cancelled" => Event::JobFinished {
            job_key,
            result: result(Conclusion::Cancelled),
        },
        other => panic!("unknown command `{other}`"),
    }
}

fn result(conclusion: Conclusion) -> JobResult {
    JobResult {
        conclusion,
        outputs: Default::default(),
        steps: Vec::new(),
        summary: String::new(),
        failure_reason: None,
        deployment: None,
    }
}

#[test]
fn a_pipeline_with_a_matrix_and_a_report_job() {
    let yaml = r#"
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    outputs:
      targets: ${{ steps.t.outputs.targets }}
    steps:
      - id: t
        run: echo 'targets=["x86","arm"]' >> "$GITHUB_OUTPUT"
  test:
    needs: build
    runs-on: ubuntu-latest
    strategy:
      max-parallel: 1
      matrix:
        target: ${{ fromJSON(needs.build.outputs.targets) }}
    steps:
      - run: echo ${{ matrix.target }}
  report:
    needs: [build, test]
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo done
"#;
    let specs = check(
        yaml,
        &[
            ("start", "start build"),
            (r#"build outputs targets=["x86","arm"]"#, "start test (x86)"),
            ("success test (x86)", "start test (arm)"),
            ("failure test (arm)", "start report"),
            ("success report", "run failure"),
        ],
    );
    let report = specs.iter().find(|spec| spec.job_id == "report");
    let needs = report.map(|spec| spec.contexts["needs"].clone());
    assert_eq!(
        needs,
        Some(json!({
            "build": {"result": "success", "outputs": {"targets": "[\"x86\",\"arm\"]"}},
            "test": {"result": "failure", "outputs": {}},
        }))
    );
}

#[test]
fn continue_on_error_from_the_matrix_and_a_cancelled_run() {
    let yaml = r#"
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    continue-on-error: ${{ matrix.experimental }}
    strategy:
      matrix:
        node: [18, 20]
        experimental: [false]
        include:
          - node: 22
            experimental: true
    steps:
      - run: npm test
  publish:
    needs: test
    runs-on: ubuntu-latest
    steps:
      - run: npm publish
  cleanup:
    needs: publish
    if: ${{ always() }}
    runs-on: ubuntu-latest
    steps:
      - run: echo cleanup
"#;
    check(
        yaml,
        &[
            (
                "start",
                "start test (18, false); start test (20, false); start test (22, true)",
            ),
            ("failure test (22, true)", ""),
            ("success test (18, false)", ""),
            ("success test (20, false)", "start publish"),
            ("cancel", "cancel publish"),
            ("cancelled publish", "start cleanup"),
            ("success cleanup", "run cancelled"),
        ],
    );
}

#[test]
fn container_jobs_carry_their_containers_and_need_a_docker_runner() {
    let yaml = r#"
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        node: [20]
    container:
      image: node:${{ matrix.node }}
      env:
        TOKEN: ${{ secrets.TOKEN }}
      options: --cpus 1
    services:
      db:
        image: postgres:16
        ports: ["5432"]
        credentials:
          username: me
          password: ${{ secrets.REGISTRY }}
    steps:
      - run: echo hi
  plain:
    runs-on: ubuntu-latest
    steps:
      - run: echo hi
"#;
    let specs = check(yaml, &[("start", "start test (20); start plain")]);
    let test = &specs[0];
    let container = test.container.as_ref().unwrap();
    assert_eq!(container.image, "node:20");
    assert_eq!(container.options.as_deref(), Some("--cpus 1"));
    // What reads `secrets` is left for the runner, which holds them.
    assert_eq!(container.env["TOKEN"], "${{ secrets.TOKEN }}");
    let db = &test.services["db"];
    assert_eq!(db.ports, vec!["5432".to_string()]);
    assert_eq!(db.credentials.as_ref().unwrap().username, "me");
    assert_eq!(
        test.runs_on,
        vec!["ubuntu-latest".to_string(), "docker".to_string()]
    );
    assert!(test.needs_docker());
    assert_eq!(specs[1].runs_on, vec!["ubuntu-latest".to_string()]);
    assert!(!specs[1].needs_docker());
}
