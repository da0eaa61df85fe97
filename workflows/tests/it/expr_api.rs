//! The expression API as the rest of Slipway uses it: default context names, templates, `if:`
//! conditions with the implicit `success()`, status functions, `hashFiles`, error columns and the
//! limits that keep hostile input bounded.

use serde_json::{Value, json};
use workflows::expr::{
    CONTEXT_NAMES, Condition, Context, Expr, ExprErrorKind, MAX_EXPRESSION_LENGTH, Status,
    Template, is_truthy, to_display_string,
};

fn context(values: Value) -> Context<'static> {
    let mut context = Context::default();
    if let Value::Object(map) = values {
        for (name, value) in map {
            context.values.insert(name, value);
        }
    }
    context
}

fn github() -> Context<'static> {
    context(json!({
        "github": {"event_name": "push", "ref": "refs/tags/v1.2.0", "event": {"commits": [
            {"message": "fix: one", "id": 1}, {"message": "feat: two", "id": 2}
        ]}},
        "matrix": {"os": "linux", "node": 20},
        "env": {"GREETING": "hello"},
        "steps": {"build": {"outputs": {"artifact": "app.tar"}, "outcome": "success"}}
    }))
}

/// Evaluates `source` against the sample context and compares with `expected`.
fn check(source: &str, expected: Value) {
    let got = Expr::parse(source).and_then(|expr| expr.evaluate(&github()));
    assert_eq!(
        got.as_ref().ok(),
        Some(&expected),
        "`{source}` gave {got:?}"
    );
}

fn check_error(source: &str, kind: ExprErrorKind, column: usize) {
    let got = Expr::parse(source).and_then(|expr| expr.evaluate(&github()));
    let err = got.as_ref().err();
    assert_eq!(
        err.map(|e| (e.kind, e.column)),
        Some((kind, column)),
        "`{source}` gave {got:?}"
    );
}

#[test]
fn typical_workflow_expressions() {
    check(
        "github.event_name == 'push' && contains(github.ref, 'refs/tags/')",
        json!(true),
    );
    check("matrix.os == 'LINUX' && matrix.node >= 18", json!(true));
    check("steps.build.outputs.artifact", json!("app.tar"));
    check("steps['build'].outcome", json!("success"));
    check(
        "github.event.commits.*.message",
        json!(["fix: one", "feat: two"]),
    );
    check("join(github.event.commits.*.id, '+')", json!("1+2"));
    check(
        "format('{0}-{1}', matrix.os, matrix.node)",
        json!("linux-20"),
    );
    check("fromJSON('{\"a\":[1,2]}').a[1]", json!(2));
    check("env.greeting", json!("hello"));
    check("github.no_such_property.deeper", Value::Null);
    check("matrix.node > 18 && 'yes' || 'no'", json!("yes"));
    check(
        "toJSON(matrix)",
        json!("{\n  \"os\": \"linux\",\n  \"node\": 20\n}"),
    );
    check(
        "github.event.commits[0] == github.event.commits[0]",
        json!(true),
    );
    check("fromJSON('[]') == fromJSON('[]')", json!(false));
}

#[test]
fn unknown_names_and_functions_fail_to_parse_at_their_column() {
    check_error("github.ref == secret.token", ExprErrorKind::Parsing, 14);
    check_error("github.ref && nope()", ExprErrorKind::Parsing, 14);
    check_error("contains(github.ref)", ExprErrorKind::Parsing, 0);
    check_error("toJSON(1, 2)", ExprErrorKind::Parsing, 0);
    check_error("github.ref == 'open", ExprErrorKind::Lexing, 14);
    check_error("format('{0}')", ExprErrorKind::Evaluation, 0);
    check_error("1 && fromJSON('{')", ExprErrorKind::Evaluation, 5);
}

#[test]
fn referenced_contexts_and_status_functions_are_reported() {
    let expr = Expr::parse(
        "matrix.os == 'linux' || needs.build.result == 'x' || MATRIX.node || failure()",
    )
    .ok();
    let expr = expr.as_ref();
    assert_eq!(
        expr.map(Expr::referenced_contexts),
        Some(vec!["matrix".to_string(), "needs".to_string()])
    );
    assert_eq!(expr.map(Expr::uses_status_function), Some(true));
    assert_eq!(
        Expr::parse("github.ref")
            .ok()
            .map(|e| e.uses_status_function()),
        Some(false)
    );
    assert!(CONTEXT_NAMES.contains(&"deployment"));
    assert_eq!(
        Expr::parse("deployment.environment")
            .ok()
            .map(|e| e.referenced_contexts()),
        Some(vec!["deployment".to_string()])
    );
}

#[test]
fn templates_render_like_github() {
    let render = |source: &str| Template::parse(source).and_then(|t| t.render(&github()));
    assert_eq!(
        render("os=${{ matrix.os }} node=${{ matrix.node }}")
            .ok()
            .as_deref(),
        Some("os=linux node=20")
    );
    assert_eq!(
        render("no expressions here").ok().as_deref(),
        Some("no expressions here")
    );
    assert_eq!(render("[${{ null }}]").ok().as_deref(), Some("[]"));
    assert_eq!(
        render("${{ github.event.commits }} ${{ matrix }}")
            .ok()
            .as_deref(),
        Some("Array Object")
    );
    assert_eq!(render("${{ '}}' }}").ok().as_deref(), Some("}}"));
    assert_eq!(
        render("${{ 1.50 }}|${{ true }}").ok().as_deref(),
        Some("1.5|true")
    );

    let evaluate = |source: &str| Template::parse(source).and_then(|t| t.evaluate(&github()));
    assert_eq!(evaluate("${{ matrix.node }}").ok(), Some(json!(20)));
    assert_eq!(
        evaluate("${{ fromJSON('[1, true]') }}").ok(),
        Some(json!([1, true]))
    );
    assert_eq!(evaluate(" ${{ matrix.node }}").ok(), Some(json!(" 20")));
    assert_eq!(evaluate("${{ 1 }}${{ 2 }}").ok(), Some(json!("12")));

    assert!(Template::parse("a ${{ github.ref }}").is_ok_and(|t| t.has_expressions()));
    assert!(Template::parse("a $ { b }").is_ok_and(|t| !t.has_expressions()));
}

#[test]
fn template_errors_point_into_the_whole_template() {
    let column = |source: &str| Template::parse(source).err().map(|e| (e.kind, e.column));
    assert_eq!(
        column("echo ${{ nope.x }}"),
        Some((ExprErrorKind::Parsing, 9))
    );
    assert_eq!(
        column("echo ${{ github.ref"),
        Some((ExprErrorKind::Parsing, 5))
    );
    assert_eq!(column("a ${{ }} b"), Some((ExprErrorKind::Parsing, 2)));
}

#[test]
fn conditions_imply_success_unless_they_call_a_status_function() {
    let failed = Status {
        failed: true,
        cancelled: false,
        incomplete: false,
    };
    let cancelled = Status {
        failed: false,
        cancelled: true,
        incomplete: false,
    };
    let evaluate = |source: &str, status: Status| {
        let mut context = github();
        context.status = status;
        Condition::parse(source).and_then(|c| c.evaluate(&context))
    };
    let cases: &[(&str, Status, bool)] = &[
        ("github.event_name == 'push'", Status::default(), true),
        ("github.event_name == 'push'", failed, false),
        (
            "${{ github.event_name == 'push' }}",
            Status::default(),
            true,
        ),
        // Spaces around the braces are text too (GitHub's template reader does not trim): the
        // condition is a non-empty string, so true.
        (
            "  ${{ github.event_name == 'pull_request' }}  ",
            Status::default(),
            true,
        ),
        (
            "${{ github.event_name == 'pull_request' }}",
            Status::default(),
            false,
        ),
        ("", Status::default(), true),
        ("", failed, false),
        ("failure()", failed, true),
        ("failure()", Status::default(), false),
        ("always()", cancelled, true),
        ("!cancelled()", cancelled, false),
        ("cancelled()", cancelled, true),
        ("success()", Status::default(), true),
        ("success() || failure()", failed, true),
        ("matrix.os == 'linux' || failure()", failed, true),
        // A condition mixing text and expressions is a non-empty string: true, as on GitHub.
        ("${{ false }} && x", Status::default(), true),
        // Not evaluated at all after a failure: the implicit success() short-circuits.
        ("fromJSON('oops')", failed, false),
    ];
    for (source, status, expected) in cases {
        assert_eq!(
            evaluate(source, *status).ok(),
            Some(*expected),
            "`{source}` with {status:?}"
        );
    }
    assert!(Condition::parse("always() && x").is_err());
    assert!(Condition::parse("${{ always() }}").is_ok_and(|c| c.uses_status_function()));
    assert_eq!(Condition::parse("  nope").err().map(|e| e.column), Some(2));
}

#[test]
fn hash_files_calls_back_only_where_allowed() {
    let hash = |patterns: &[String]| -> Result<String, String> {
        if patterns.iter().any(|p| p.is_empty()) {
            return Err("empty pattern".to_string());
        }
        Ok(format!("digest-of-{}", patterns.join("|")))
    };
    let mut context = github();
    context.hash_files = Some(&hash);
    let evaluate =
        |source: &str, context: &Context| Expr::parse(source).and_then(|e| e.evaluate(context));
    assert_eq!(
        evaluate(
            "hashFiles('**/Cargo.lock', format('{0}/x', matrix.os))",
            &context
        )
        .ok(),
        Some(json!("digest-of-**/Cargo.lock|linux/x"))
    );
    assert_eq!(
        evaluate("hashFiles('')", &context).err().map(|e| e.kind),
        Some(ExprErrorKind::Evaluation)
    );
    assert_eq!(
        evaluate("hashFiles('a')", &github()).err().map(|e| e.kind),
        Some(ExprErrorKind::Evaluation)
    );
    assert!(Expr::parse("hashFiles()").is_err());
}

#[test]
fn hostile_input_is_refused_not_crashed_on() {
    // Too long.
    let long = format!("'{}'", "a".repeat(MAX_EXPRESSION_LENGTH));
    assert_eq!(
        Expr::parse(&long).err().map(|e| e.kind),
        Some(ExprErrorKind::Parsing)
    );
    // Too deep, in each way nesting can grow.
    for source in [
        format!("{}1{}", "(".repeat(60), ")".repeat(60)),
        format!("{}true", "!".repeat(60)),
        format!("github{}", ".a".repeat(60)),
        format!("github{}", "[0]".repeat(60)),
        format!("{}1{}", "toJSON(".repeat(60), ")".repeat(60)),
    ] {
        assert_eq!(
            Expr::parse(&source).err().map(|e| e.kind),
            Some(ExprErrorKind::Parsing),
            "{source}"
        );
    }
    // Long flat chains are fine: they do not nest.
    let chain = vec!["1 == 1"; 2_000].join(" == ");
    assert_eq!(
        Expr::parse(&chain).and_then(|e| e.evaluate(&github())).ok(),
        Some(json!(true))
    );
    let chain = vec!["true"; 2_500].join(" && ");
    assert_eq!(
        Expr::parse(&chain).and_then(|e| e.evaluate(&github())).ok(),
        Some(json!(true))
    );
    // Output that would grow past the memory budget fails instead.
    let big = format!(
        "format('{}', format('{}', '{}'))",
        "{0}".repeat(900),
        "{0}".repeat(900),
        "x".repeat(900)
    );
    assert_eq!(
        Expr::parse(&big)
            .and_then(|e| e.evaluate(&github()))
            .err()
            .map(|e| e.kind),
        Some(ExprErrorKind::Evaluation)
    );
    // Deep JSON is refused by the JSON parser's own limit, not by a crash.
    let deep = format!("fromJSON('{}{}')", "[".repeat(5_000), "]".repeat(5_000));
    assert_eq!(
        Expr::parse(&deep)
            .and_then(|e| e.evaluate(&github()))
            .err()
            .map(|e| e.kind),
        Some(ExprErrorKind::Evaluation)
    );
}

#[test]
fn a_large_context_serialises_within_the_budget() {
    let items: Vec<Value> = (0..2_000)
        .map(|i| json!({"id": i, "name": format!("item {i}")}))
        .collect();
    let context = context(json!({"github": {"event": {"items": items}}}));
    let expr = Expr::parse("toJSON(github.event)").ok();
    let text = expr.and_then(|e| e.evaluate(&context).ok());
    let parsed: Option<Value> = text
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok());
    assert_eq!(
        parsed
            .as_ref()
            .and_then(|v| v["items"][1999]["name"].as_str()),
        Some("item 1999")
    );
}

#[test]
fn display_and_truthiness_helpers() {
    assert_eq!(to_display_string(&json!(null)), "");
    assert_eq!(to_display_string(&json!(3.0)), "3");
    assert_eq!(to_display_string(&json!(0.1)), "0.1");
    assert_eq!(to_display_string(&json!("s")), "s");
    assert_eq!(to_display_string(&json!([1])), "Array");
    assert_eq!(to_display_string(&json!({"a": 1})), "Object");
    assert!(!is_truthy(&json!(0)));
    assert!(!is_truthy(&json!("")));
    assert!(is_truthy(&json!("false")));
    assert!(is_truthy(&json!({})));
}

#[test]
fn non_finite_numbers_leave_as_strings() {
    check("NaN", json!("NaN"));
    check("-Infinity", json!("-Infinity"));
}

/// The examples in GitHub's "Evaluate expressions in workflows and actions" reference.
#[test]
fn documented_examples() {
    let context = context(json!({
        "github": {"event_name": "push", "event": {"issue": {"labels": [{"name": "bug"}, {"name": "help"}]}}},
        "env": {"continue": "true", "time": "3", "fruits": "x"},
        "needs": {"job1": {"outputs": {"matrix": "{\"include\":[{\"project\":\"foo\",\"config\":\"Debug\"}]}"}}},
        "steps": {"fruits": {"outputs": {"list":
            "[{\"name\":\"apple\",\"quantity\":1},{\"name\":\"orange\",\"quantity\":2},{\"name\":\"pear\",\"quantity\":1}]"
        }}}
    }));
    let cases: &[(&str, Value)] = &[
        ("contains('Hello world', 'llo')", json!(true)),
        (
            "contains(github.event.issue.labels.*.name, 'bug')",
            json!(true),
        ),
        (
            "contains(fromJSON('[\"push\", \"pull_request\"]'), github.event_name)",
            json!(true),
        ),
        ("startsWith('Hello world', 'He')", json!(true)),
        ("endsWith('Hello world', 'ld')", json!(true)),
        (
            "format('Hello {0} {1} {2}', 'Mona', 'the', 'Octocat')",
            json!("Hello Mona the Octocat"),
        ),
        (
            "format('{{Hello {0} {1} {2}!}}', 'Mona', 'the', 'Octocat')",
            json!("{Hello Mona the Octocat!}"),
        ),
        (
            "join(github.event.issue.labels.*.name, ', ')",
            json!("bug, help"),
        ),
        ("fromJSON(env.continue)", json!(true)),
        ("fromJSON(env.time)", json!(3)),
        (
            "fromJSON(needs.job1.outputs.matrix).include[0].config",
            json!("Debug"),
        ),
        (
            "fromJSON(steps.fruits.outputs.list).*.name",
            json!(["apple", "orange", "pear"]),
        ),
        ("github.event_name == 'PUSH'", json!(true)),
        ("'It''s open source!'", json!("It's open source!")),
        ("-2.99e-2", json!(-0.0299)),
        ("0xff", json!(255)),
        ("null == false", json!(true)),
    ];
    for (source, expected) in cases {
        let got = Expr::parse(source).and_then(|e| e.evaluate(&context));
        assert_eq!(got.as_ref().ok(), Some(expected), "`{source}` gave {got:?}");
    }
}
