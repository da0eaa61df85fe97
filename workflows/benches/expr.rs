//! Evaluating typical `if:` conditions against a realistic context. Target: at most 2 µs per
//! evaluation (parse once, evaluate many times). Run with `cargo bench -p workflows --bench expr`.

use criterion::{Criterion, black_box, criterion_main};
use serde_json::{Value, json};
use workflows::expr::{Condition, Context, Expr, Status};

const CONDITIONS: &[&str] = &[
    "github.event_name == 'push' && contains(github.ref, 'refs/tags/')",
    "matrix.os == 'linux' || failure()",
    "${{ github.event_name == 'pull_request' && github.event.pull_request.draft == false }}",
    "startsWith(github.ref, 'refs/heads/release/') || github.ref == 'refs/heads/main'",
    "contains(github.event.pull_request.labels.*.name, 'deploy')",
    "steps.build.outcome == 'success' && steps.test.outputs.coverage >= 80",
    "!cancelled() && needs.build.result == 'success'",
    "github.repository_owner == 'slipway' && matrix.node >= 18",
    "always()",
    "env.DEPLOY == 'true' && github.actor != 'dependabot[bot]'",
];

fn context() -> Context<'static> {
    let labels: Vec<Value> = ["bug", "ci", "deploy", "docs"]
        .iter()
        .map(|name| json!({"name": name, "color": "ff0000"}))
        .collect();
    let commits: Vec<Value> =
        (0..20).map(|i| json!({"id": format!("{i:040x}"), "message": format!("commit {i}"), "author": {"name": "dev"}})).collect();
    let values = json!({
        "github": {
            "event_name": "push", "ref": "refs/tags/v1.4.0", "sha": "2ce6b095f4cceb616efed52266e3e3c0367ba795",
            "repository": "slipway/slipway", "repository_owner": "slipway", "actor": "octocat",
            "workflow": "CI", "run_id": "2827197126", "run_number": "845", "run_attempt": "1",
            "event": {"pull_request": {"draft": false, "labels": labels, "number": 42}, "commits": commits}
        },
        "matrix": {"os": "linux", "node": 20},
        "steps": {"build": {"outcome": "success", "conclusion": "success", "outputs": {}},
                  "test": {"outcome": "success", "conclusion": "success", "outputs": {"coverage": "85"}}},
        "needs": {"build": {"result": "success", "outputs": {"version": "1.4.0"}}},
        "env": {"DEPLOY": "true", "CI": "true"},
        "runner": {"os": "Linux", "arch": "X64", "temp": "/tmp"}
    });
    let mut context = Context::default();
    if let Value::Object(map) = values {
        context.values.extend(map);
    }
    context.status = Status::default();
    context
}

fn bench_conditions(c: &mut Criterion) {
    let context = context();
    let conditions: Vec<Condition> = CONDITIONS
        .iter()
        .filter_map(|source| Condition::parse(source).ok())
        .collect();
    assert_eq!(
        conditions.len(),
        CONDITIONS.len(),
        "every benchmark condition parses"
    );
    // 1,000 rounds over the 10 conditions: 10,000 evaluations per iteration.
    c.bench_function("evaluate 10,000 if: conditions", |b| {
        b.iter(|| {
            let mut true_count = 0usize;
            for _ in 0..1_000 {
                for condition in &conditions {
                    true_count +=
                        usize::from(condition.evaluate(black_box(&context)).unwrap_or(false));
                }
            }
            true_count
        })
    });

    let format = Expr::parse(
        "format('{0}-{1}-{2}', github.repository, matrix.os, needs.build.outputs.version)",
    )
    .ok();
    if let Some(format) = format {
        c.bench_function("evaluate format()", |b| {
            b.iter(|| format.evaluate(black_box(&context)))
        });
    }
    c.bench_function("parse a condition", |b| {
        b.iter(|| Condition::parse(black_box(CONDITIONS[0])))
    });
}

/// The benchmarks of this file, with the settings given on the command line.
fn benches() {
    let mut criterion = Criterion::default().configure_from_args();
    bench_conditions(&mut criterion);
}

criterion_main!(benches);
