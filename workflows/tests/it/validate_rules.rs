//! One-line cases per validation rule: a workflow and every diagnostic it must produce, as
//! `"LINE:COL severity fragment"`. The diagnostics must match one to one (nothing missing, nothing
//! extra), so a rule that fires too often fails as surely as one that does not fire.

use workflows::{Severity, parse_workflow};

/// Parses `yaml` (validation included) and compares every diagnostic with `expected`.
fn check(yaml: &str, expected: &[&str]) {
    let parsed = parse_workflow("ci.yml", yaml);
    let mut unmatched: Vec<String> = parsed
        .diagnostics
        .iter()
        .map(|d| {
            let severity = if d.severity == Severity::Error {
                "error"
            } else {
                "warning"
            };
            format!("{}:{} {severity} {}", d.span.line, d.span.column, d.message)
        })
        .collect();
    for want in expected {
        let (position_and_severity, fragment) = split_expected(want);
        let found = unmatched
            .iter()
            .position(|got| got.starts_with(&position_and_severity) && got.contains(fragment));
        match found {
            Some(index) => {
                unmatched.remove(index);
            }
            None => panic!("missing `{want}`\nin:\n{yaml}\nunmatched: {unmatched:#?}"),
        }
    }
    assert!(
        unmatched.is_empty(),
        "unexpected diagnostics {unmatched:#?}\nin:\n{yaml}"
    );
}

/// `"5:12 error some text"` → (`"5:12 error "`, `"some text"`).
fn split_expected(want: &str) -> (String, &str) {
    let mut parts = want.splitn(3, ' ');
    let position = parts.next().unwrap_or_default();
    let severity = parts.next().unwrap_or_default();
    (
        format!("{position} {severity} "),
        parts.next().unwrap_or_default(),
    )
}

fn job(steps: &str) -> String {
    format!("on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n{steps}")
}

#[test]
fn clean_workflow_has_no_diagnostics() {
    check(
        &job("      - run: echo hi\n      - uses: actions/checkout@v4\n      - uses: ./local\n"),
        &[],
    );
}

#[test]
fn needs() {
    let base = "on: push\njobs:\n  build:\n    runs-on: x\n    steps: [{run: a}]\n";
    let with = |extra: &str| format!("{base}{extra}");
    check(
        &with("  deploy:\n    needs: biuld\n    runs-on: x\n    steps: [{run: a}]\n"),
        &["7:12 error job `deploy` needs `biuld`, which does not exist (did you mean `build`?)"],
    );
    check(
        &with("  deploy:\n    needs: [BUILD]\n    runs-on: x\n    steps: [{run: a}]\n"),
        &[],
    );
    check(
        &with("  deploy:\n    needs: deploy\n    runs-on: x\n    steps: [{run: a}]\n"),
        &["7:12 error job `deploy` needs itself"],
    );
    let cycle = "  a:\n    needs: c\n    runs-on: x\n    steps: [{run: a}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: a}]\n  c:\n    needs: b\n    runs-on: x\n    steps: [{run: a}]\n";
    check(
        &with(cycle),
        &[
            "7:12 error jobs `a` → `c` → `b` → `a` form a cycle",
            "11:12 error jobs `b` → `a` → `c` → `b` form a cycle",
            "15:12 error jobs `c` → `b` → `a` → `c` form a cycle",
        ],
    );
    check(
        "on: push\njobs:\n  a:\n    needs: b\n    runs-on: x\n    steps: [{run: a}]\n  b:\n    needs: a\n    runs-on: x\n    steps: [{run: a}]\n",
        &[
            "3:3 error at least one job with no dependencies",
            "4:12 error jobs `a` → `b` → `a` form a cycle",
            "8:12 error jobs `b` → `a` → `b` form a cycle",
        ],
    );
}

#[test]
fn step_ids() {
    check(
        &job("      - id: _ok-1\n        run: a\n      - id: a__\n        run: a\n"),
        &[],
    );
    check(
        &job("      - id: x\n        run: a\n      - id: X\n        run: a\n"),
        &["8:13 error step id `X` is already used by step `x`"],
    );
    check(
        &job("      - id: 1st\n        run: a\n"),
        &["6:13 error step id `1st` in job `build` is invalid"],
    );
    check(
        &job("      - id: a.b\n        run: a\n"),
        &["6:13 error step id `a.b` in job `build` is invalid"],
    );
    check(
        &job("      - id: __a\n        run: a\n"),
        &["6:13 error ids starting with `__` are reserved"],
    );
}

#[test]
fn job_ids() {
    check(
        "on: push\njobs:\n  __job:\n    runs-on: x\n    steps: [{run: a}]\n",
        &["3:3 error invalid job id `__job`: ids starting with `__` are reserved"],
    );
    let twice = "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: a}]\n  A:\n    runs-on: x\n    steps: [{run: a}]\n";
    check(
        twice,
        &["6:3 error job id `A` is already defined (job ids are case-insensitive)"],
    );
}

#[test]
fn cron() {
    let on = |cron: &str| {
        format!(
            "on:\n  schedule:\n    - cron: '{cron}'\njobs:\n  a:\n    runs-on: x\n    steps: [{{run: a}}]\n"
        )
    };
    check(&on("*/15 9-17 * JAN-MAR mon,fri"), &[]);
    check(
        &on("0 0 * *"),
        &["3:13 error invalid cron `0 0 * *` in `schedule`: expected 5 fields"],
    );
    check(&on("0 0 0 * * *"), &["3:13 error expected 5 fields"]);
    check(&on("@daily"), &["3:13 error invalid cron `@daily`"]);
    check(&on("60 * * * *"), &["3:13 error invalid cron `60 * * * *`"]);
    check(
        &on("0 0 L * *"),
        &["3:13 error `l` is not valid in the day of month field"],
    );
}

#[test]
fn triggers() {
    let on = |on: &str| format!("on:\n{on}jobs:\n  a:\n    runs-on: x\n    steps: [{{run: a}}]\n");
    check(
        &on("  push:\n    branches: [main]\n    branches-ignore: [dev]\n"),
        &["4:23 error `branches` and `branches-ignore` cannot both be used for event `push`"],
    );
    check(
        &on("  pull_request:\n    types: [opened, synchronise]\n"),
        &[
            "3:21 error unknown activity type `synchronise` for event `pull_request` (did you mean `synchronize`?)",
        ],
    );
    check(
        &on("  release:\n    types: [published]\n  repository_dispatch:\n    types: [anything]\n"),
        &[],
    );
    check(
        &on("  push:\n    branches: ['[z-a]']\n"),
        &["3:16 error invalid `branches` pattern"],
    );
}

#[test]
fn dispatch_inputs() {
    let on = |inputs: &str| {
        format!(
            "on:\n  workflow_dispatch:\n    inputs:\n{inputs}jobs:\n  a:\n    runs-on: x\n    steps: [{{run: a}}]\n"
        )
    };
    check(
        &on("      env:\n        type: choice\n        options: [a, a]\n"),
        &["6:22 error option `a` of input `env` is listed twice"],
    );
    check(
        &on(
            "      env:\n        type: choice\n        options: [dev, prod]\n        default: test\n",
        ),
        &["7:18 error default `test` of input `env` is not one of its options"],
    );
    check(
        &on("      flag:\n        type: boolean\n        default: yes-please\n"),
        &["6:18 error default of boolean input `flag` must be `true` or `false`"],
    );
    check(
        &on("      flag:\n        type: boolean\n        default: true\n"),
        &[],
    );
    let many: String = (0..26)
        .map(|i| format!("      i{i}:\n        type: string\n"))
        .collect();
    check(
        &on(&many),
        &["54:7 error `workflow_dispatch` takes at most 25 inputs, found 26"],
    );
}

#[test]
fn uses() {
    check(
        &job("      - name: Setup node\n        uses: actions/setup-node@v4\n"),
        &["7:15 warning step `Setup node` uses `actions/setup-node@v4`, which Slipway cannot run"],
    );
    check(
        &job("      - uses: actions/cache@main\n      - uses: actions/upload-artifact@v4\n"),
        &[],
    );
    check(&job("      - uses: docker://alpine:3\n"), &[]);
    check(
        &job("      - uses: actions/setup-node\n"),
        &["6:15 error `uses` of step 1 must be"],
    );
    let call = |uses: &str| format!("on: push\njobs:\n  call:\n    uses: {uses}\n");
    check(&call("./.github/workflows/deploy.yml"), &[]);
    check(
        &call("octo/repo/.github/workflows/deploy.yml@v1"),
        &["4:11 warning job `call` calls the remote workflow"],
    );
    check(
        &call("./deploy.yml"),
        &["4:11 error a local reusable workflow must be `./.github/workflows/<file>.yml`"],
    );
}

#[test]
fn timeout() {
    check(
        "on: push\njobs:\n  a:\n    runs-on: x\n    timeout-minutes: 0\n    steps: [{run: a}]\n",
        &["5:22 error `timeout-minutes` of job `a` must be a positive number"],
    );
}

#[test]
fn matrix_shapes() {
    let matrix = |m: &str| {
        format!(
            "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n{m}    steps: [{{run: a}}]\n"
        )
    };
    check(
        &matrix("        os: []\n"),
        &["7:13 error matrix dimension `os` of job `a` has no values"],
    );
    check(
        &matrix("        os: [linux]\n        exclude:\n          - arch: arm\n"),
        &["9:13 error `exclude` key `arch` of the matrix of job `a` is not a matrix key"],
    );
    check(
        &matrix("        os: [linux]\n        exclude:\n          - os: mac\n"),
        // GitHub runs it (the entry removes nothing): a warning.
        &["9:13 warning `exclude` value \"mac\" for `os` matches no value"],
    );
    check(
        &matrix(
            "        os: [linux, mac]\n        exclude:\n          - os: mac\n        include:\n          - os: bsd\n",
        ),
        &[],
    );
}

#[test]
fn expressions_where_not_allowed() {
    check(
        "name: Build ${{ github.ref }}\non: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: a}]\n",
        &["1:7 error a template expression is not allowed in `name`"],
    );
    check(
        &job("      - uses: ${{ matrix.action }}\n"),
        &["6:15 error a template expression is not allowed in `uses` of step 1"],
    );
    check(
        &job("      - id: ${{ matrix.x }}\n        run: a\n"),
        &["6:13 error a template expression is not allowed in the id of step"],
    );
}

#[test]
fn expression_structure() {
    check(
        &job("      - run: echo ${{ github.sha\n"),
        &["6:19 error unclosed `${{`"],
    );
    check(
        &job("      - run: echo ${{ }}\n"),
        &["6:19 error expected an expression between `${{` and `}}`"],
    );
    check(&job("      - run: echo ${{ '}}' }}\n"), &[]);
}

#[test]
fn context_availability() {
    let runs_on = "on: push\njobs:\n  build:\n    runs-on: ${{ steps.x.outputs.os }}\n    steps: [{run: a}]\n";
    check(
        runs_on,
        &[
            "4:18 error context `steps` is not available in `jobs.build.runs-on`; available: github, needs, strategy, matrix, vars, inputs",
        ],
    );
    check(
        "on: push\nenv:\n  A: ${{ env.B }}\njobs:\n  a:\n    runs-on: x\n    steps: [{run: a}]\n",
        &["3:10 error context `env` is not available in `env.A`"],
    );
    check(
        "on: push\njobs:\n  a:\n    runs-on: x\n    if: matrix.os == 'x'\n    steps: [{run: a}]\n",
        &["5:9 error context `matrix` is not available in `jobs.a.if`"],
    );
    check(
        &job("      - if: secrets.TOKEN != ''\n        run: a\n"),
        &["6:13 error context `secrets` is not available in `jobs.build.steps[0].if"],
    );
    check(
        &job("      - run: echo ${{ foo.bar }}\n"),
        &["6:23 error unrecognized named-value `foo`"],
    );
    check(
        &job(
            "      - run: echo ${{ hashFiles('x') }} ${{ env.A }} ${{ secrets.B }}\n        if: always() && hashFiles('y') != ''\n",
        ),
        &[],
    );
    check(
        "on: push\njobs:\n  a:\n    runs-on: x\n    env:\n      H: ${{ hashFiles('x') }}\n    steps: [{run: a}]\n",
        &["6:14 error function `hashfiles` is not available in `jobs.a.env.H`"],
    );
    check(
        &job("      - run: echo ${{ always() }}\n"),
        &["6:23 error function `always` is not available"],
    );
    check(
        &job("      - run: a\n        shell: ${{ env.SHELL }}\n"),
        &[
            "7:20 error context `env` is not available in `jobs.build.steps[0].shell (step 1)`; no context is available there",
        ],
    );
}

#[test]
fn names_that_do_not_exist() {
    let matrix_job = "on: push\njobs:\n  a:\n    runs-on: x\n    strategy:\n      matrix:\n        os: [l]\n        include: [{extra: 1}]\n    steps:\n      - run: echo ${{ matrix.os }} ${{ matrix.extra }} ${{ matrix.arch }}\n";
    check(
        matrix_job,
        &[
            "10:67 warning `matrix.arch` in `jobs.a.steps[0].run (step 1)`: the matrix of job `a` has no key `arch` (keys: extra, os)",
        ],
    );
    let needs = "on: push\njobs:\n  a:\n    runs-on: x\n    steps: [{run: a}]\n  b:\n    needs: a\n    runs-on: x\n    steps:\n      - run: echo ${{ needs.a.result }} ${{ needs.c.result }}\n";
    check(needs, &["10:51 warning job `b` does not directly need `c`"]);
    let steps =
        job("      - run: echo ${{ steps.later.outputs.x }}\n      - id: later\n        run: a\n");
    check(
        &steps,
        &["6:29 warning no step with id `later` runs before this point"],
    );
    let inputs = "on:\n  workflow_dispatch:\n    inputs:\n      name: {type: string}\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ inputs.NAME }} ${{ inputs.nmae }}\n";
    check(
        inputs,
        &["9:49 error no input `nmae` is declared (inputs: name)"],
    );
    let mixed = "on: [push, workflow_dispatch]\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ inputs.x }}\n";
    check(mixed, &["6:30 warning no input `x` is declared"]);
    check(
        "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: echo ${{ inputs.x }}\n",
        &[],
    );
}

#[test]
fn if_with_embedded_expression_warns() {
    check(
        &job("      - if: ${{ github.ref }} == 'main'\n        run: a\n"),
        &["6:13 warning mixes `${{ }}` with other text"],
    );
    check(
        &job("      - if: ${{ github.ref == 'main' }}\n        run: a\n"),
        &[],
    );
}
