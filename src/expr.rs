//! `slipway expr`: evaluate one expression against a JSON context and print the result as JSON.

use std::path::Path;

use workflows::expr::{Context, Expr, ExprError, Status, Template, Value};

use crate::exit;

pub(crate) fn run(expression: &str, context_file: Option<&Path>) -> i32 {
    let mut context = Context::default();
    if let Some(path) = context_file {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => {
                eprintln!("error: failed to read {}: {err}", path.display());
                return exit::USAGE;
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => {
                for (name, value) in map {
                    context.values.insert(name.to_lowercase(), value);
                }
            }
            Ok(_) => {
                eprintln!(
                    "error: {} must hold a JSON object of contexts (`{{\"github\": {{…}}}}`)",
                    path.display()
                );
                return exit::USAGE;
            }
            Err(err) => {
                eprintln!(
                    "error: failed to parse {}: line {}, column {}: {err}",
                    path.display(),
                    err.line(),
                    err.column()
                );
                return exit::USAGE;
            }
        }
    }
    context.status = Status::default();
    let result = if expression.contains("${{") {
        Template::parse(expression).and_then(|template| template.evaluate(&context))
    } else {
        Expr::parse(expression).and_then(|parsed| parsed.evaluate(&context))
    };
    match result {
        Ok(value) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).unwrap_or_default()
            );
            exit::SUCCESS
        }
        Err(err) => {
            report(expression, &err);
            exit::FAILURE
        }
    }
}

fn report(expression: &str, err: &ExprError) {
    let kind = format!("{:?}", err.kind).to_lowercase();
    eprintln!(
        "error: {kind} error at column {}: {}",
        err.column + 1,
        err.message
    );
    if !expression.contains('\n') {
        eprintln!(
            "  {expression}\n  {}^",
            " ".repeat(err.column.min(expression.chars().count()))
        );
    }
}
