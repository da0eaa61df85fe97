//! Bad workflows: each case names the exact line:column and a fragment of the message expected.

use workflows::parse_workflow;

/// Asserts that parsing `input` reports an error at `line:column` whose message contains
/// `fragment`.
#[track_caller]
fn check(input: &str, line: u32, column: u32, fragment: &str) {
    let parsed = parse_workflow("ci.yml", input);
    let found = parsed.diagnostics.iter().any(|d| {
        d.is_error()
            && d.span.line == line
            && d.span.column == column
            && d.message.contains(fragment)
    });
    assert!(
        found,
        "expected error at {line}:{column} containing {fragment:?}\ninput:\n{input}\ngot:\n{}",
        parsed
            .diagnostics
            .iter()
            .map(|d| format!("  {d}\n"))
            .collect::<String>()
    );
}

const JOB_HEAD: &str = "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n";

fn job(extra: &str) -> String {
    format!("{JOB_HEAD}{extra}")
}

#[test]
fn top_level() {
    check("", 1, 1, "workflow file is empty");
    check("# only a comment\n", 1, 1, "workflow file is empty");
    check("- a\n- b\n", 1, 1, "a workflow must be a mapping");
    check(
        "jobs:\n  a:\n    runs-on: x\n    steps: [run: x]\n",
        1,
        1,
        "needs `on`",
    );
    check("on: push\n", 1, 1, "needs `jobs`");
    check(
        "on: push\njobs: {}\n",
        2,
        7,
        "`jobs` must define at least one job",
    );
    check(
        "on: push\njob: {}\n",
        2,
        1,
        "unknown key `job` in the workflow (did you mean `jobs`?)",
    );
    check(
        "on: push\nname: [a]\njobs: {}\n",
        2,
        7,
        "`name` of the workflow must be a string, found a list",
    );
    check(
        "on: push\npermissions: admin\njobs: {}\n",
        2,
        14,
        "must be `read-all`, `write-all` or a mapping",
    );
    check(
        "on: push\npermissions:\n  content: read\njobs: {}\n",
        3,
        3,
        "unknown key `content` in `permissions` of the workflow (did you mean `contents`?)",
    );
    check(
        "on: push\npermissions:\n  contents: admin\njobs: {}\n",
        3,
        13,
        "permission `contents` of the workflow must be",
    );
    check(
        "on: push\npermissions:\n  id-token: read\njobs: {}\n",
        3,
        13,
        "permission `id-token`",
    );
    check(
        "on: push\nconcurrency: {cancel-in-progress: true}\njobs: {}\n",
        2,
        14,
        "needs a `group`",
    );
    check(
        "on: push\nconcurrency: {group: x, cancel-in-progress: maybe}\njobs: {}\n",
        2,
        45,
        "must be a boolean or an expression",
    );
    check(
        "on: push\ndefaults:\n  run:\n    shel: bash\njobs: {}\n",
        4,
        5,
        "unknown key `shel` in `defaults.run` of the workflow (did you mean `shell`?)",
    );
    check(
        "on: push\nenv: [A]\njobs: {}\n",
        2,
        6,
        "`env` of the workflow must be a mapping, found a list",
    );
    check(
        "on: push\nenv:\n  A: [1]\njobs: {}\n",
        3,
        6,
        "`A` in `env` of the workflow must be a string, found a list",
    );
}

#[test]
fn triggers() {
    check(
        "on: psh\njobs: {}\n",
        1,
        5,
        "unknown event `psh` in `on` (did you mean `push`?)",
    );
    check(
        "on: [push, pull_requests]\njobs: {}\n",
        1,
        12,
        "unknown event `pull_requests`",
    );
    check("on: [push, push]\njobs: {}\n", 1, 12, "listed twice");
    check("on: []\njobs: {}\n", 1, 5, "at least one event");
    check("on: 12\njobs: {}\n", 1, 5, "unknown event `12`");
    check(
        "on:\n  push:\n    branch: [main]\njobs: {}\n",
        3,
        5,
        "unknown key `branch` in `on.push` (did you mean `branches`?)",
    );
    check(
        "on:\n  push:\n    types: [opened]\njobs: {}\n",
        3,
        5,
        "unknown key `types` in `on.push`",
    );
    check(
        "on:\n  pull_request:\n    tags: [v1]\njobs: {}\n",
        3,
        5,
        "unknown key `tags` in `on.pull_request`",
    );
    check(
        "on:\n  push:\n    branches: {a: b}\njobs: {}\n",
        3,
        15,
        "must be a string or a list of strings, found a mapping",
    );
    check(
        "on:\n  schedule:\n    cron: '* * * * *'\njobs: {}\n",
        3,
        5,
        "`on.schedule` must be a list, found a mapping",
    );
    check(
        "on:\n  schedule:\n    - corn: '* * * * *'\njobs: {}\n",
        3,
        7,
        "unknown key `corn` in `on.schedule` (did you mean `cron`?)",
    );
    check(
        "on:\n  schedule:\n    - timezone: UTC\njobs: {}\n",
        3,
        7,
        "needs a `cron`",
    );
    check(
        "on: schedule\njobs: {}\n",
        1,
        5,
        "needs a list of `cron` entries",
    );
    check(
        "on:\n  workflow_dispatch:\n    inputs:\n      x:\n        type: text\njobs: {}\n",
        5,
        15,
        "must be one of `string`, `boolean`, `number`, `choice`, `environment`, found `text`",
    );
    check(
        "on:\n  workflow_dispatch:\n    inputs:\n      x:\n        type: choice\njobs: {}\n",
        4,
        7,
        "needs `options`",
    );
    check(
        "on:\n  workflow_dispatch:\n    inputs:\n      x:\n        require: true\njobs: {}\n",
        5,
        9,
        "(did you mean `required`?)",
    );
    check(
        "on:\n  workflow_dispatch:\n    inputs:\n      x:\n        required: 'yes'\njobs: {}\n",
        5,
        19,
        "must be a boolean, found a string",
    );
    check(
        "on:\n  workflow_call:\n    inputs:\n      x:\n        type: choice\njobs: {}\n",
        5,
        15,
        "must be one of `string`, `boolean`, `number`",
    );
    check(
        "on:\n  workflow_call:\n    inputs:\n      x:\n        required: true\njobs: {}\n",
        5,
        9,
        "needs a `type`",
    );
    check(
        "on:\n  workflow_call:\n    outputs:\n      x:\n        description: d\njobs: {}\n",
        5,
        9,
        "needs a `value`",
    );
    check(
        "on:\n  workflow_call:\n    secrets:\n      x:\n        requird: true\njobs: {}\n",
        5,
        9,
        "unknown key `requird`",
    );
    check(
        "on:\n  workflow_run:\n    workflow: [ci]\njobs: {}\n",
        3,
        5,
        "(did you mean `workflows`?)",
    );
    check(
        "on:\n  issues:\n    type: [opened]\njobs: {}\n",
        3,
        5,
        "(did you mean `types`?)",
    );
}

#[test]
fn jobs() {
    check(
        &job("    steps:\n      - run: x\n    need: [a]\n"),
        7,
        5,
        "unknown key `need` in job `build` (did you mean `needs`?)",
    );
    check(
        &job("    step:\n      - run: x\n"),
        5,
        5,
        "unknown key `step` in job `build` (did you mean `steps`?)",
    );
    check(
        "on: push\njobs:\n  build:\n    steps:\n      - run: x\n",
        4,
        5,
        "job `build` needs `runs-on`",
    );
    check(&job(""), 4, 5, "job `build` needs `steps`");
    check(
        &job("    steps: []\n"),
        5,
        12,
        "must hold at least one step",
    );
    check(
        "on: push\njobs:\n  build:\n    runs-on: 3\n    steps: [run: x]\n",
        4,
        14,
        "`runs-on` of job `build` must be a string, a list of strings or a mapping, found a number",
    );
    check(
        "on: push\njobs:\n  build:\n    runs-on: {labels: x, grop: y}\n    steps: [run: x]\n",
        4,
        26,
        "unknown key `grop` in `runs-on` of job `build` (did you mean `group`?)",
    );
    check(
        "on: push\njobs:\n  build:\n    runs-on: ~\n    steps: [run: x]\n",
        4,
        14,
        "`runs-on` of job `build` must be a string, a list of strings or a mapping, found null",
    );
    check(
        "on: push\njobs:\n  1build:\n    runs-on: x\n    steps: [run: x]\n",
        3,
        3,
        "invalid job id `1build`",
    );
    check(
        "on: push\njobs:\n  bu.ild:\n    runs-on: x\n    steps: [run: x]\n",
        3,
        3,
        "invalid job id `bu.ild`",
    );
    check(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [run: x]\n  a:\n    runs-on: y\n",
        6,
        3,
        "duplicate key `a`",
    );
    check(
        &job("    steps: [run: x]\n    timeout-minutes: soon\n"),
        6,
        22,
        "`timeout-minutes` of job `build` must be a number or an expression, found a string",
    );
    check(
        &job("    steps: [run: x]\n    continue-on-error: 1\n"),
        6,
        24,
        "must be a boolean or an expression, found a number",
    );
    check(
        &job("    steps: [run: x]\n    environment: {url: x}\n"),
        6,
        18,
        "`environment` of job `build` needs a `name`",
    );
    check(
        &job("    steps: [run: x]\n    strategy:\n      matrix:\n        os: ubuntu\n"),
        8,
        13,
        "matrix dimension `os` of job `build` must be a list or an expression, found a string",
    );
    check(
        &job("    steps: [run: x]\n    strategy:\n      matrix: [a]\n"),
        7,
        15,
        "must be a mapping or an expression, found a list",
    );
    check(
        &job("    steps: [run: x]\n    strategy:\n      matrix:\n        include: [a]\n"),
        8,
        19,
        "each entry of `matrix.include` of job `build` must be a mapping",
    );
    check(
        &job("    steps: [run: x]\n    strategy:\n      failfast: false\n"),
        7,
        7,
        "(did you mean `fail-fast`?)",
    );
    check(
        &job("    steps: [run: x]\n    container: {options: x}\n"),
        6,
        16,
        "`container` of job `build` needs an `image`",
    );
    check(
        &job("    steps: [run: x]\n    container: {image: x, port: [1]}\n"),
        6,
        27,
        "(did you mean `ports`?)",
    );
    check(
        &job("    steps: [run: x]\n    services:\n      db: [x]\n"),
        7,
        11,
        "service `db` of job `build` must be an image name or a mapping",
    );
    check(
        &job("    steps: [run: x]\n    with: {a: 1}\n"),
        6,
        5,
        "`with` is only allowed in a job that calls a reusable workflow",
    );
    check(
        &job("    steps: [run: x]\n    deployment: fast\n"),
        6,
        17,
        "`deployment` of job `build` must be a mapping",
    );
    check(
        "on: push\njobs:\n  call:\n    uses: ./.github/workflows/r.yml\n    runs-on: x\n",
        5,
        5,
        "`runs-on` is not allowed in job `call`, which calls a reusable workflow",
    );
    check(
        "on: push\njobs:\n  call:\n    uses: o/r/.github/workflows/r.yml@v1\n    secrets: all\n",
        5,
        14,
        "must be `inherit` or a mapping",
    );
    check(
        "on: push\njobs:\n  call:\n    uses: o/r/w.yml@v1\n    with:\n      a: [1]\n",
        6,
        10,
        "must be a string, a number or a boolean, found a list",
    );
}

#[test]
fn steps() {
    check(
        &job("    steps:\n      - name: nothing\n"),
        6,
        9,
        "step 1 of job `build` needs `run` or `uses`",
    );
    check(
        &job("    steps:\n      - run: x\n        uses: actions/checkout@v4\n"),
        7,
        9,
        "has both `run` and `uses`",
    );
    check(
        &job("    steps:\n      - uses: actions/checkout@v4\n        shell: bash\n"),
        7,
        9,
        "`shell` is not allowed in step 1 of job `build`, which has `uses`",
    );
    check(
        &job("    steps:\n      - run: x\n        with: {a: b}\n"),
        7,
        9,
        "`with` is not allowed in step 1 of job `build`, which has `run`",
    );
    check(
        &job("    steps:\n      - run: x\n      - runs: y\n"),
        7,
        9,
        "unknown key `runs` in step 2 of job `build` (did you mean `run`?)",
    );
    check(
        &job("    steps:\n      - run: [x]\n"),
        6,
        14,
        "`run` of step 1 of job `build` must be a string, found a list",
    );
    check(
        &job("    steps:\n      - run: x\n        timeout-minutes: '5'\n"),
        7,
        26,
        "must be a number or an expression",
    );
    check(
        &job("    steps:\n      - run: x\n        env: {A: {b: c}}\n"),
        7,
        18,
        "`A` in `env` of step 1 of job `build` must be a string, found a mapping",
    );
    check(
        &job("    steps:\n      - x\n"),
        6,
        9,
        "step 1 of job `build` must be a mapping, found a string",
    );
    check(
        &job("    steps: {run: x}\n"),
        5,
        12,
        "`steps` of job `build` must be a list, found a mapping",
    );
}

#[test]
fn every_error_is_reported_not_only_the_first() {
    let input = "on: push\nnme: x\njobs:\n  a:\n    runs-on: x\n    stesp: []\n  b:\n    runs-on: y\n    steps:\n      - rn: z\n";
    let parsed = parse_workflow("ci.yml", input);
    let errors: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}:{}", d.span.line, d.span.column))
        .collect();
    for expected in ["2:1", "6:5", "10:9", "5:5"] {
        assert!(
            errors.contains(&expected.to_string()),
            "{expected} missing from {errors:?}"
        );
    }
    assert!(
        parsed.workflow.is_some(),
        "a workflow with schema errors is still returned"
    );
}

#[test]
fn yaml_errors_are_positioned() {
    check("on: push\njobs:\n  a: [\n", 3, 6, "");
    check(
        "on: push\non: pull_request\njobs: {}\n",
        2,
        1,
        "duplicate key `on`",
    );
    check("on: push\n---\non: push\n", 2, 1, "single yaml document");
    check(
        "on: push\njobs:\n  a: *missing\n",
        3,
        6,
        "unknown anchor `missing`",
    );
    check(
        "on: push\njobs:\n  a:\n    <<: [1]\n",
        4,
        9,
        "merge key `<<` needs a mapping or a list of mappings",
    );
    check("on: push\n\tjobs: {}\n", 1, 5, "found a tab");
}

#[test]
fn job_ids_and_matrix_vectors() {
    check(
        "on: push\njobs:\n  ab:\n    runs-on: x\n    steps: [run: x]\n  AB:\n    runs-on: y\n",
        6,
        3,
        "job id `AB` is already defined",
    );
    check(
        "on: push\njobs:\n  __a:\n    runs-on: x\n    steps: [run: x]\n",
        3,
        3,
        "ids starting with `__` are reserved",
    );
    check(
        &job("    steps: [run: x]\n    strategy:\n      matrix:\n        os: []\n"),
        8,
        13,
        "matrix dimension `os` of job `build` has no values",
    );
}

#[test]
fn github_extensions_slipway_does_not_run_are_warnings() {
    let input = "on:\n  workflow_dispatch:\n    unknown: 1\njobs:\n  a:\n    runs-on: x\n    cancel-timeout-minutes: 5\n    concurrency: {group: g, queue: max}\n    environment: {name: prod, deployment: false}\n    steps: [run: x]\n";
    let parsed = parse_workflow("ci.yml", input);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
    let warnings: Vec<(u32, u32)> = parsed
        .diagnostics
        .iter()
        .map(|d| (d.span.line, d.span.column))
        .collect();
    assert_eq!(warnings, [(3, 5), (7, 5), (8, 29), (9, 31)]);
}

/// The `deployment:` block (a Slipway extension): every problem at the value or key at fault,
/// named by its path.
#[test]
fn deployment_block() {
    let deploy = |block: &str| {
        format!(
            "on: push\njobs:\n  ship:\n    runs-on: x\n    environment: production\n    steps: [run: x]\n    deployment:\n{block}"
        )
    };
    check(
        &deploy(
            "      strategy: canary\n      phases:\n        - weight: 10\n        - weight: 150\n        - weight: 100\n",
        ),
        11,
        19,
        "in `jobs.ship`: `deployment.phases[1].weight`: must be a whole percentage from 1 to 100, not the number `150`",
    );
    check(
        &deploy(
            "      strategy: canary\n      phases: [{weight: 50}, {weight: 20}, {weight: 100}]\n",
        ),
        9,
        39,
        "`deployment.phases[1].weight`: 20 does not grow from the previous phase's 50",
    );
    check(
        &deploy("      strategy: rolling\n      targets: [a]\n      batchsize: 2\n"),
        10,
        7,
        "`deployment.batchsize`: unknown key (did you mean `batch-size`?)",
    );
    check(
        &deploy("      strategy: yolo\n"),
        8,
        17,
        "`deployment.strategy`: unknown strategy `yolo` (use big-bang, rolling, blue-green or canary)",
    );
    check(
        &deploy("      strategy: big-bang\n      slots: [a, b]\n"),
        9,
        7,
        "`deployment.slots`: applies only to strategy blue-green, not big-bang",
    );
    check(
        &deploy("      strategy: rolling\n      targets: [a, a]\n"),
        9,
        20,
        "`deployment.targets[1]`: `a` is listed twice",
    );
    check(
        &deploy(
            "      strategy: canary\n      phases:\n        - {weight: 10, pause: 5x}\n        - weight: 100\n",
        ),
        10,
        31,
        "`deployment.phases[0].pause`: duration `5x`: unknown unit `x`",
    );
    // Values that are expressions are checked by the engine once evaluated; a block without
    // `strategy:` is checked against the environment's default strategy when the job starts.
    for fine in [
        "      strategy: canary\n      phases: ${{ fromJSON(vars.PHASES) }}\n",
        "      targets: [a]\n      batch-size: 2\n",
    ] {
        let parsed = workflows::parse_workflow("ci.yml", &deploy(fine));
        assert!(
            parsed.diagnostics.iter().all(|d| !d.is_error()),
            "{fine}: {:?}",
            parsed.diagnostics
        );
    }
}
