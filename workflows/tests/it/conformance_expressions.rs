//! Conformance: GitHub's expression test vectors (`shared/conformance/expressions/*.json`).
//!
//! Each case names the contexts it provides (those are the only named values it may use), then
//! expects a value (kind and JSON value) or an error (lexing, parsing or evaluation, and where
//! GitHub reports one, the 1-based position). Cases marked `skip: [typescript]` are ones GitHub's
//! TypeScript port gets wrong; they hold for GitHub's runner, so they are run here too.
//! Run with `cargo test -p workflows --test conformance_expressions -- --nocapture` for counts.

use crate::common;

use std::collections::BTreeMap;

use serde_json::Value;
use workflows::expr::{Context, Expr, ExprError, ExprErrorKind};

/// Every case passes; a regression fails the build.
const PASS_FLOOR: usize = 1020;

#[test]
fn expressions_conformance() {
    let Some(dir) = common::conformance_dir("expressions") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|path| path.extension().is_some_and(|ext| ext == "json"));
    files.sort();
    assert!(
        !files.is_empty(),
        "no expression test files in {}",
        dir.display()
    );

    let mut per_file: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|err| panic!("read {}: {err}", path.display()));
        let groups: serde_json::Map<String, Value> = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("parse {}: {err}", path.display()));
        let counts = per_file.entry(name.clone()).or_default();
        for (group, cases) in &groups {
            for case in cases.as_array().into_iter().flatten() {
                counts.1 += 1;
                match check(case) {
                    Ok(()) => counts.0 += 1,
                    Err(why) => failures.push(format!("{name} / {group}: {why}")),
                }
            }
        }
    }

    let passed: usize = per_file.values().map(|(p, _)| p).sum();
    let total: usize = per_file.values().map(|(_, t)| t).sum();
    for (name, (p, t)) in &per_file {
        println!("expressions/{name}: {p}/{t}");
    }
    println!("expressions total: {passed}/{total}");
    for failure in failures.iter().take(40) {
        println!("FAIL {failure}");
    }
    assert!(
        passed >= PASS_FLOOR,
        "{passed}/{total} expression cases pass, floor is {PASS_FLOOR}"
    );
}

fn check(case: &Value) -> Result<(), String> {
    let source = case
        .get("expr")
        .and_then(Value::as_str)
        .ok_or("case without `expr`")?;
    let mut context = Context::default();
    let mut names = Vec::new();
    if let Some(Value::Object(contexts)) = case.get("contexts") {
        for (name, value) in contexts {
            names.push(name.clone());
            context.values.insert(name.to_lowercase(), value.clone());
        }
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let outcome = Expr::parse_with_names(source, &names).and_then(|expr| expr.evaluate(&context));
    let describe = |outcome: &Result<Value, ExprError>| match outcome {
        Ok(value) => format!("value {value}"),
        Err(err) => format!(
            "{:?} error at column {}: {}",
            err.kind, err.column, err.message
        ),
    };

    if let Some(expected) = case.get("err") {
        let kind = expected
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let message = expected
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Err(err) = &outcome else {
            return Err(format!(
                "`{source}`: expected {kind} error `{message}`, got {}",
                describe(&outcome)
            ));
        };
        let expected_kind = match kind {
            "lexing" => ExprErrorKind::Lexing,
            "parsing" => ExprErrorKind::Parsing,
            _ => ExprErrorKind::Evaluation,
        };
        if err.kind != expected_kind {
            return Err(format!(
                "`{source}`: expected {kind} error `{message}`, got {}",
                describe(&outcome)
            ));
        }
        // GitHub's messages end "Located at position N within expression: …" (1-based), possibly
        // cut short in the data; ours must read the same from there on.
        if let Some((_, location)) = message.split_once("Located at position ") {
            let ours = format!("{} within expression: {source}", err.column + 1);
            if !ours.starts_with(location) {
                return Err(format!(
                    "`{source}`: expected error at position {location}, got {}",
                    describe(&outcome)
                ));
            }
        }
        return Ok(());
    }

    let expected = case
        .get("result")
        .ok_or("case with neither `result` nor `err`")?;
    let kind = expected
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let value = expected.get("value").unwrap_or(&Value::Null);
    let matches = match &outcome {
        Ok(got) => kind_name(got) == kind && json_equal(got, value),
        Err(_) => false,
    };
    if matches {
        Ok(())
    } else {
        Err(format!(
            "`{source}`: expected {kind} {value}, got {}",
            describe(&outcome)
        ))
    }
}

fn kind_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

/// JSON equality with numbers compared as numbers (`1` equals `1.0`) and keys in order (the data
/// compares serialised text, so order matters).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((kx, vx), (ky, vy))| kx == ky && json_equal(vx, vy))
        }
        _ => a == b,
    }
}
