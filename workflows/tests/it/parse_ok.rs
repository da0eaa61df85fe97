//! Good workflows: they parse without errors and the model holds what the file says.

use serde_json::json;
use workflows::model::{
    BoolOrExpr, CallSecrets, InputType, Matrix, MatrixValues, NumberOrExpr, Permissions, Workflow,
};
use workflows::parse_workflow;
use workflows::yaml::position_in_scalar;

/// Parses `input`, asserts there is no error, and returns the model.
#[track_caller]
fn check(input: &str) -> Workflow {
    let parsed = parse_workflow(".github/workflows/ci.yml", input);
    let errors: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(ToString::to_string)
        .collect();
    assert!(
        errors.is_empty(),
        "unexpected errors:\n{}\ninput:\n{input}",
        errors.join("\n")
    );
    parsed.workflow.expect("a workflow")
}

const JOBS: &str = "jobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n";

#[test]
fn on_as_string_list_and_map() {
    let workflow = check(&format!("on: push\n{JOBS}"));
    assert_eq!(workflow.on.events.keys().collect::<Vec<_>>(), ["push"]);
    assert_eq!(
        (
            workflow.on.events["push"].name.span.line,
            workflow.on.events["push"].name.span.column
        ),
        (1, 5)
    );

    let workflow = check(&format!(
        "on: [push, pull_request, workflow_dispatch]\n{JOBS}"
    ));
    assert_eq!(
        workflow.on.events.keys().collect::<Vec<_>>(),
        ["push", "pull_request", "workflow_dispatch"]
    );

    let workflow = check(&format!(
        "on:\n  push:\n    branches: [main, 'releases/**']\n    tags: v*\n    paths-ignore: ['docs/**']\n  pull_request:\n    types: [opened, synchronize]\n  fork:\n  schedule:\n    - cron: '0 3 * * 1'\n    - cron: '*/15 * * * *'\n      timezone: Europe/Paris\n{JOBS}"
    ));
    let push = &workflow.on.events["push"];
    let branches: Vec<&str> = push
        .branches
        .iter()
        .flatten()
        .map(|b| b.value.as_str())
        .collect();
    assert_eq!(branches, ["main", "releases/**"]);
    assert_eq!(push.tags.as_ref().map(|t| t[0].value.as_str()), Some("v*"));
    assert_eq!(push.paths_ignore.as_ref().map(Vec::len), Some(1));
    assert_eq!(
        workflow.on.events["pull_request"]
            .types
            .as_ref()
            .map(Vec::len),
        Some(2)
    );
    assert!(workflow.on.events.contains_key("fork"));
    let schedule = &workflow.on.events["schedule"];
    assert_eq!(
        schedule
            .cron
            .iter()
            .map(|c| c.value.as_str())
            .collect::<Vec<_>>(),
        ["0 3 * * 1", "*/15 * * * *"]
    );
    assert_eq!(
        schedule.schedules[1]
            .timezone
            .as_ref()
            .map(|t| t.value.as_str()),
        Some("Europe/Paris")
    );
    assert_eq!(
        (schedule.cron[0].span.line, schedule.cron[0].span.column),
        (10, 13)
    );
}

#[test]
fn yaml_1_1_words_are_strings() {
    // `on` is not a boolean in YAML 1.2, and neither are `yes`/`no`/`y`.
    let workflow = check(&format!(
        "\"on\": push\nenv:\n  A: yes\n  B: no\n  C: on\n  D: 1\n  E: true\n  F: 1.50\n  G: ~\n  H: 0x1F\n{JOBS}"
    ));
    let env: Vec<(&str, &str)> = workflow
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        env,
        [
            ("A", "yes"),
            ("B", "no"),
            ("C", "on"),
            ("D", "1"),
            ("E", "true"),
            ("F", "1.50"),
            ("G", ""),
            ("H", "0x1F")
        ]
    );
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let workflow = check(
        "on: push
env: &env
  A: 1
jobs:
  build: &build
    runs-on: ubuntu-latest
    timeout-minutes: 10
    env: *env
    steps:
      - &checkout
        uses: actions/checkout@v4
      - run: make
  test:
    <<: *build
    runs-on: windows-latest
    steps:
      - *checkout
      - run: make test
",
    );
    let test = &workflow.jobs["test"];
    assert_eq!(
        test.runs_on.as_ref().map(|r| r.labels[0].value.as_str()),
        Some("windows-latest")
    );
    assert_eq!(
        test.timeout_minutes.as_ref().map(|t| t.value.clone()),
        Some(NumberOrExpr::Number(10.0))
    );
    assert_eq!(test.env["A"].value, "1");
    assert_eq!(test.steps.len(), 2);
    assert_eq!(
        test.steps[0].uses.as_ref().map(|u| u.value.as_str()),
        Some("actions/checkout@v4")
    );
    // An alias keeps the position of what it names.
    assert_eq!(test.steps[0].span.line, 11);
    assert_eq!(workflow.jobs["build"].steps.len(), 2);
}

#[test]
fn matrix_with_include_and_exclude() {
    let workflow = check(
        "on: push
jobs:
  test:
    runs-on: ${{ matrix.os }}
    strategy:
      fail-fast: false
      max-parallel: 2
      matrix:
        os: [ubuntu-latest, windows-latest]
        node: [18, 20]
        include:
          - os: ubuntu-latest
            experimental: true
        exclude:
          - os: windows-latest
            node: 18
    continue-on-error: ${{ matrix.experimental == true }}
    steps:
      - run: npm test
  dynamic:
    needs: test
    runs-on: ubuntu-latest
    strategy:
      matrix: ${{ fromJSON(needs.test.outputs.matrix) }}
    steps:
      - run: echo
  per-dimension:
    needs: [test, dynamic]
    runs-on: ubuntu-latest
    strategy:
      matrix:
        os: ${{ fromJSON(inputs.oses) }}
        include: ${{ fromJSON(inputs.extra) }}
    steps:
      - run: echo
",
    );
    let test = &workflow.jobs["test"];
    let strategy = test.strategy.as_ref().expect("strategy");
    assert_eq!(
        strategy.fail_fast.as_ref().map(|f| f.value.clone()),
        Some(BoolOrExpr::Bool(false))
    );
    assert_eq!(
        strategy.max_parallel.as_ref().map(|m| m.value.clone()),
        Some(NumberOrExpr::Number(2.0))
    );
    let Some(Matrix::Map(matrix)) = &strategy.matrix else {
        panic!("a matrix map")
    };
    assert_eq!(matrix.dimensions.keys().collect::<Vec<_>>(), ["os", "node"]);
    let MatrixValues::List(node) = &matrix.dimensions["node"] else {
        panic!("a list")
    };
    assert_eq!(node.value, vec![json!(18), json!(20)]);
    let Some(MatrixValues::List(include)) = &matrix.include else {
        panic!("include list")
    };
    assert_eq!(
        include.value,
        vec![json!({"os": "ubuntu-latest", "experimental": true})]
    );
    let Some(MatrixValues::List(exclude)) = &matrix.exclude else {
        panic!("exclude list")
    };
    assert_eq!(
        exclude.value,
        vec![json!({"os": "windows-latest", "node": 18})]
    );
    assert!(matches!(
        test.continue_on_error.as_ref().map(|c| &c.value),
        Some(BoolOrExpr::Expr(_))
    ));
    assert_eq!(
        test.runs_on.as_ref().map(|r| r.labels[0].value.as_str()),
        Some("${{ matrix.os }}")
    );

    let dynamic = workflow.jobs["dynamic"]
        .strategy
        .as_ref()
        .and_then(|s| s.matrix.as_ref());
    assert!(matches!(dynamic, Some(Matrix::Expr(e)) if e.value.contains("fromJSON")));
    assert_eq!(
        workflow.jobs["dynamic"]
            .needs
            .iter()
            .map(|n| n.value.as_str())
            .collect::<Vec<_>>(),
        ["test"]
    );

    let per = &workflow.jobs["per-dimension"];
    assert_eq!(per.needs.len(), 2);
    let Some(Some(Matrix::Map(matrix))) = per.strategy.as_ref().map(|s| s.matrix.as_ref()) else {
        panic!("map")
    };
    assert!(matches!(matrix.dimensions["os"], MatrixValues::Expr(_)));
    assert!(matches!(matrix.include, Some(MatrixValues::Expr(_))));
}

#[test]
fn reusable_workflows() {
    let workflow = check(
        "on:
  workflow_call:
    inputs:
      target:
        type: string
        required: true
      dry-run:
        type: boolean
        default: false
    outputs:
      url:
        description: where it went
        value: ${{ jobs.deploy.outputs.url }}
    secrets:
      token:
        required: true
      optional:
jobs:
  deploy:
    uses: ./.github/workflows/deploy.yml
    with:
      target: ${{ inputs.target }}
      retries: 3
      verbose: true
    secrets: inherit
  notify:
    needs: deploy
    if: always()
    uses: org/repo/.github/workflows/notify.yml@v1
    secrets:
      token: ${{ secrets.token }}
",
    );
    let call = &workflow.on.events["workflow_call"];
    assert_eq!(call.inputs["target"].kind, InputType::String);
    assert!(call.inputs["target"].required);
    assert_eq!(
        call.inputs["dry-run"]
            .default
            .as_ref()
            .map(|d| d.value.clone()),
        Some(json!(false))
    );
    assert_eq!(
        call.outputs["url"].value.value,
        "${{ jobs.deploy.outputs.url }}"
    );
    assert!(call.secrets["token"].required);
    assert!(!call.secrets["optional"].required);
    let deploy = &workflow.jobs["deploy"];
    assert_eq!(
        deploy.uses.as_ref().map(|u| u.value.as_str()),
        Some("./.github/workflows/deploy.yml")
    );
    assert_eq!(deploy.with["retries"].value, json!(3));
    assert_eq!(deploy.with["verbose"].value, json!(true));
    assert_eq!(deploy.secrets, Some(CallSecrets::Inherit));
    assert!(deploy.runs_on.is_none() && deploy.steps.is_empty());
    let Some(CallSecrets::Map(secrets)) = &workflow.jobs["notify"].secrets else {
        panic!("a map")
    };
    assert_eq!(secrets["token"].value, "${{ secrets.token }}");
    assert_eq!(
        workflow.jobs["notify"]
            .condition
            .as_ref()
            .map(|c| c.value.as_str()),
        Some("always()")
    );
}

#[test]
fn workflow_dispatch_inputs() {
    let workflow = check(
        "on:
  workflow_dispatch:
    inputs:
      level:
        description: Log level
        required: true
        default: warning
        type: choice
        options: [info, warning, debug]
      tags:
        type: boolean
      count:
        type: number
        default: 3
      env:
        type: environment
      plain:
jobs:
  a:
    runs-on: ubuntu-latest
    steps: [run: echo]
",
    );
    let inputs = &workflow.on.events["workflow_dispatch"].inputs;
    assert_eq!(inputs["level"].kind, InputType::Choice);
    assert_eq!(inputs["level"].options.len(), 3);
    assert_eq!(inputs["level"].description.as_deref(), Some("Log level"));
    assert_eq!(inputs["tags"].kind, InputType::Boolean);
    assert_eq!(
        inputs["count"].default.as_ref().map(|d| d.value.clone()),
        Some(json!(3))
    );
    assert_eq!(inputs["env"].kind, InputType::Environment);
    assert_eq!(inputs["plain"].kind, InputType::String);
}

#[test]
fn every_job_key() {
    let workflow = check(
        "name: CI
run-name: Deploy by @${{ github.actor }}
on: push
permissions: read-all
defaults:
  run:
    shell: bash
    working-directory: src
concurrency: ci-${{ github.ref }}
jobs:
  build:
    name: Build ${{ matrix.x }}
    if: true
    runs-on:
      group: large
      labels: [linux, x64]
    environment:
      name: production
      url: ${{ steps.deploy.outputs.url }}
    concurrency:
      group: deploy
      cancel-in-progress: true
    outputs:
      url: ${{ steps.deploy.outputs.url }}
    env:
      RUST_LOG: debug
    defaults:
      run:
        shell: sh
    timeout-minutes: 1.5
    continue-on-error: false
    container:
      image: node:20
      credentials:
        username: me
        password: ${{ secrets.PW }}
      env:
        NODE_ENV: test
      ports: [80, '443:443']
      volumes: [/data:/data]
      options: --cpus 1
    services:
      redis: redis:7
      db:
        image: postgres
        ports: [5432]
    permissions:
      contents: write
      id-token: write
      pull-requests: none
    deployment:
      strategy: rolling
      targets: [1, web2]
      batch-size: 25%
    steps:
      - id: deploy
        name: Deploy
        if: ${{ success() }}
        run: ./deploy.sh
        shell: bash
        env:
          TOKEN: ${{ secrets.TOKEN }}
        working-directory: ./ops
        continue-on-error: ${{ matrix.experimental }}
        timeout-minutes: ${{ inputs.minutes }}
      - uses: actions/cache@v4
        with:
          path: target
          key: 1
          fail-on-cache-miss: false
  lint:
    runs-on: [self-hosted, linux]
    needs: build
    if: 1
    permissions: {}
    environment: staging
    steps:
      - run: cargo clippy
",
    );
    assert_eq!(workflow.name.as_ref().map(|n| n.value.as_str()), Some("CI"));
    assert!(workflow.run_name.is_some());
    assert_eq!(workflow.permissions, Some(Permissions::ReadAll));
    let defaults = workflow.defaults.as_ref().expect("defaults");
    assert_eq!(
        defaults.shell.as_ref().map(|s| s.value.as_str()),
        Some("bash")
    );
    assert_eq!(
        workflow
            .concurrency
            .as_ref()
            .map(|c| c.group.value.as_str()),
        Some("ci-${{ github.ref }}")
    );

    let build = &workflow.jobs["build"];
    assert_eq!(
        build.condition.as_ref().map(|c| c.value.as_str()),
        Some("true")
    );
    let runs_on = build.runs_on.as_ref().expect("runs-on");
    assert_eq!(
        runs_on.group.as_ref().map(|g| g.value.as_str()),
        Some("large")
    );
    assert_eq!(runs_on.labels.len(), 2);
    assert_eq!(
        build.environment.as_ref().map(|e| e.name.value.as_str()),
        Some("production")
    );
    assert!(build.environment.as_ref().is_some_and(|e| e.url.is_some()));
    let concurrency = build.concurrency.as_ref().expect("concurrency");
    assert_eq!(
        concurrency
            .cancel_in_progress
            .as_ref()
            .map(|c| c.value.clone()),
        Some(BoolOrExpr::Bool(true))
    );
    assert_eq!(build.outputs.len(), 1);
    assert_eq!(
        build.timeout_minutes.as_ref().map(|t| t.value.clone()),
        Some(NumberOrExpr::Number(1.5))
    );
    let container = build.container.as_ref().expect("container");
    assert_eq!(container.image.value, "node:20");
    assert_eq!(container.credentials.len(), 2);
    assert_eq!(
        container
            .ports
            .iter()
            .map(|p| p.value.as_str())
            .collect::<Vec<_>>(),
        ["80", "443:443"]
    );
    assert_eq!(
        container.options.as_ref().map(|o| o.value.as_str()),
        Some("--cpus 1")
    );
    assert_eq!(build.services["redis"].image.value, "redis:7");
    assert_eq!(build.services["db"].ports[0].value, "5432");
    let Some(Permissions::Scopes(scopes)) = &build.permissions else {
        panic!("scopes")
    };
    assert_eq!(scopes["id-token"].value, "write");
    assert_eq!(
        build.deployment.as_ref().map(|d| d.value.clone()),
        Some(json!({"strategy": "rolling", "targets": [1, "web2"], "batch-size": "25%"}))
    );
    let typed = build.deployment.as_ref().and_then(|d| d.typed.as_ref());
    assert_eq!(
        typed.and_then(|t| t.batch_size.as_ref()).map(|b| b.value),
        Some(workflows::model::BatchSize::Percent(25))
    );
    assert_eq!(
        typed.and_then(|t| t.targets.as_ref()).map(|t| t
            .value
            .iter()
            .map(|n| n.value.clone())
            .collect::<Vec<_>>()),
        Some(vec!["1".to_string(), "web2".to_string()])
    );
    let step = &build.steps[0];
    assert_eq!(step.id.as_ref().map(|i| i.value.as_str()), Some("deploy"));
    assert_eq!(
        step.working_directory.as_ref().map(|w| w.value.as_str()),
        Some("./ops")
    );
    assert!(matches!(
        step.timeout_minutes.as_ref().map(|t| &t.value),
        Some(NumberOrExpr::Expr(_))
    ));
    assert_eq!(build.steps[1].with["key"].value, "1");
    assert_eq!(build.steps[1].with["fail-on-cache-miss"].value, "false");

    let lint = &workflow.jobs["lint"];
    assert_eq!(lint.condition.as_ref().map(|c| c.value.as_str()), Some("1"));
    assert_eq!(
        lint.permissions,
        Some(Permissions::Scopes(Default::default()))
    );
    assert_eq!(
        lint.environment.as_ref().map(|e| e.name.value.as_str()),
        Some("staging")
    );
}

#[test]
fn expression_positions_inside_run_scripts() {
    let source = "on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo start
          echo ${{ github.sha }}
      - run: echo \"${{ env.X }}\"
      - run: 'it''s ${{ env.Y }}'
";
    let workflow = check(source);
    let steps = &workflow.jobs["a"].steps;
    let expected = [(8, 16), (9, 20), (10, 21)];
    for (step, (line, column)) in steps.iter().zip(expected) {
        let run = step.run.as_ref().expect("run");
        let byte = run.value.find("${{").expect("an expression");
        let chars = run.value[..byte].chars().count();
        let span = position_in_scalar(source, run.span, &run.value, chars);
        assert_eq!((span.line, span.column), (line, column), "{:?}", run.value);
        assert!(source[span.offset..].starts_with("${{"));
    }
}

#[test]
fn model_round_trips_through_json() {
    let workflow = check(&format!("on: push\n{JOBS}"));
    let text = serde_json::to_string(&workflow).expect("serialise");
    let back: Workflow = serde_json::from_str(&text).expect("deserialise");
    assert_eq!(back, workflow);
}
