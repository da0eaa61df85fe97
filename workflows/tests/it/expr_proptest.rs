//! Property tests: whatever the text, parsing and evaluating expressions, templates and conditions
//! never panics, and every error points inside the text it was given.

use proptest::prelude::*;
use serde_json::{Value, json};
use workflows::expr::{Condition, Context, Expr, Status, Template};

fn context() -> Context<'static> {
    let mut context = Context::default();
    let values = json!({
        "github": {"event_name": "push", "ref": "refs/heads/main", "event": {"commits": [
            {"id": 1, "tags": ["a", "b"]}, {"id": 2.5, "tags": []}, null, "x"
        ]}},
        "matrix": {"os": "linux", "list": [1, [2, [3]], {"k": "v"}]},
        "env": {"A": "1", "EMPTY": ""}
    });
    if let Value::Object(map) = values {
        context.values.extend(map);
    }
    context.status = Status {
        failed: false,
        cancelled: false,
        incomplete: false,
    };
    context
}

const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
    "!",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "&&",
    "||",
    "*",
    "1",
    "-2.5",
    "0xff",
    ".5",
    "1e3",
    "'s'",
    "'}}'",
    "''",
    "'{0}{1}'",
    "'{{'",
    "null",
    "true",
    "false",
    "NaN",
    "Infinity",
    "-Infinity",
    "github",
    "matrix",
    "env",
    "event",
    "commits",
    "tags",
    "list",
    "k",
    "contains",
    "startsWith",
    "endsWith",
    "format",
    "join",
    "toJSON",
    "fromJSON",
    "case",
    "success()",
    "failure()",
    "always()",
    "cancelled()",
    "hashFiles",
    "'[1,{\"a\":[2]}]'",
    "'{\"k\":null}'",
    "=",
    "&",
    "|",
    "@",
    "😊",
    "unknown",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(TOKENS), prop::bool::ANY), 0..40).prop_map(
        |tokens| {
            tokens
                .into_iter()
                .fold(String::new(), |mut out, (token, space)| {
                    out.push_str(token);
                    if space {
                        out.push(' ');
                    }
                    out
                })
        },
    )
}

/// Parses and evaluates `source` every way the API allows; errors must point inside the text.
fn exercise(source: &str) {
    let context = context();
    let length = source.chars().count();
    match Expr::parse(source) {
        Ok(expr) => {
            if let Err(err) = expr.evaluate(&context) {
                assert!(
                    err.column <= length,
                    "column {} beyond `{source}`",
                    err.column
                );
            }
            let _ = expr.evaluate_to_string(&context);
            let _ = expr.evaluate_truthy(&context);
        }
        Err(err) => assert!(
            err.column <= length,
            "column {} beyond `{source}`",
            err.column
        ),
    }
    let template = format!("a ${{{{ {source} }}}} b");
    if let Ok(template) = Template::parse(&template) {
        let _ = template.evaluate(&context);
    }
    if let Ok(condition) = Condition::parse(source) {
        let _ = condition.evaluate(&context);
    }
}

/// Syntactically valid expressions of random shape, so evaluation is exercised deeply.
fn valid_expression() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(
        &[
            "null",
            "true",
            "false",
            "0",
            "-1.5",
            "NaN",
            "Infinity",
            "'abc'",
            "''",
            "'{0}'",
            "'[1,2]'",
            "github",
            "github.event.commits",
            "github.event.commits.*.tags",
            "matrix.list",
            "matrix.list[1][1]",
            "env.A",
            "github.nothing",
            "matrix.*",
            "success()",
            "failure()",
        ][..],
    )
    .prop_map(str::to_string);
    leaf.prop_recursive(6, 64, 3, |inner| {
        let binary = prop::sample::select(&["==", "!=", "<", "<=", ">", ">=", "&&", "||"][..]);
        let unary =
            prop::sample::select(&["contains", "startsWith", "endsWith", "join", "format"][..]);
        prop_oneof![
            inner.clone().prop_map(|x| format!("!{x}")),
            inner.clone().prop_map(|x| format!("({x})")),
            inner.clone().prop_map(|x| format!("toJSON({x})")),
            inner.clone().prop_map(|x| format!("fromJSON(toJSON({x}))")),
            inner.clone().prop_map(|x| format!("({x}).*")),
            (inner.clone(), binary, inner.clone()).prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            (unary, inner.clone(), inner.clone()).prop_map(|(f, a, b)| format!("{f}({a}, {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a})[{b}]")),
            (inner.clone(), inner.clone(), inner)
                .prop_map(|(a, b, c)| format!("case({a} == {b}, {b}, {c})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_text_never_panics(source in "\\PC{0,80}") {
        exercise(&source);
    }

    #[test]
    fn token_soup_never_panics(source in token_soup()) {
        exercise(&source);
    }

    #[test]
    fn valid_expressions_evaluate_without_panicking(source in valid_expression()) {
        let parsed = Expr::parse(&source);
        prop_assert!(parsed.is_ok(), "`{}` did not parse: {:?}", source, parsed.err());
        exercise(&source);
    }

    #[test]
    fn random_templates_never_panic(source in "[a-z${}' ().]{0,60}") {
        let context = context();
        if let Ok(template) = Template::parse(&source) {
            let _ = template.render(&context);
        }
    }

    /// Strings compare equal to themselves and to their case-swapped forms.
    #[test]
    fn string_equality_ignores_case(text in "[a-zA-Z0-9 _-]{0,20}") {
        let swapped: String = text.chars().map(|c| if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() }).collect();
        let source = format!("'{text}' == '{swapped}' && !('{text}' != '{text}')");
        let got = Expr::parse(&source).and_then(|e| e.evaluate(&context()));
        prop_assert_eq!(got.ok(), Some(json!(true)));
    }

    /// Integers survive the trip through a string and back.
    #[test]
    fn integers_round_trip_through_strings(n in -1_000_000_000_000i64..1_000_000_000_000) {
        let source = format!("format('{{0}}', {n}) == '{n}' && fromJSON(format('{{0}}', {n})) == {n}");
        let got = Expr::parse(&source).and_then(|e| e.evaluate(&context()));
        prop_assert_eq!(got.ok(), Some(json!(true)));
    }
}
