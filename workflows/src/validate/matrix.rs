//! Literal matrix shapes (the parser checks that `include`/`exclude` entries are maps): no empty
//! dimension, `exclude`
//! keys that are matrix keys and values that some combination has, and at least one dimension or
//! `include` entry. Matrices given as expressions are checked when they are evaluated, not here.

use serde_json::Value;

use crate::model::{Job, Matrix, MatrixMap, MatrixValues, Workflow};
use crate::span::Span;

use super::Checker;

pub(super) fn check(checker: &mut Checker, workflow: &Workflow) {
    for job in workflow.jobs.values() {
        if let Some(Matrix::Map(matrix)) = job.strategy.as_ref().and_then(|s| s.matrix.as_ref()) {
            check_matrix(checker, job, matrix);
        }
    }
}

fn check_matrix(checker: &mut Checker, job: &Job, matrix: &MatrixMap) {
    let id = &job.id.value;
    for (key, values) in &matrix.dimensions {
        if let MatrixValues::List(list) = values
            && list.value.is_empty()
        {
            checker.error(
                list.span,
                format!("matrix dimension `{key}` of job `{id}` has no values"),
            );
        }
    }
    let include_is_empty = match &matrix.include {
        None => true,
        Some(MatrixValues::List(list)) => list.value.is_empty(),
        Some(MatrixValues::Expr(_)) => false,
    };
    if matrix.dimensions.is_empty() && include_is_empty {
        checker.error(
            matrix.span,
            format!("the matrix of job `{id}` defines no dimension and no `include` entry"),
        );
    }
    if let Some(MatrixValues::List(exclude)) = &matrix.exclude {
        check_exclude(checker, id, matrix, &exclude.value, exclude.span);
    }
}

/// GitHub rejects an `exclude` key that is not a matrix key; a value no combination has is
/// reported too (it excludes nothing). Keys added only by `include` cannot be excluded.
fn check_exclude(
    checker: &mut Checker,
    id: &str,
    matrix: &MatrixMap,
    exclude: &[Value],
    list_span: Span,
) {
    let keys: Vec<&str> = matrix.dimensions.keys().map(String::as_str).collect();
    let mut seen_keys: Vec<&str> = Vec::new();
    for entry in exclude {
        let Some(entry) = entry.as_object() else {
            continue;
        };
        for (key, value) in entry {
            // The model keeps only the list's position: find this entry's `key:` after it.
            let earlier = seen_keys
                .iter()
                .filter(|seen| **seen == key.as_str())
                .count();
            seen_keys.push(key);
            let span = checker.map.find_nth(list_span, &format!("{key}:"), earlier);
            let Some(dimension) = matrix.dimensions.get(key) else {
                checker.error(
                    span,
                    format!(
                        "`exclude` key `{key}` of the matrix of job `{id}` is not a matrix key (keys: {})",
                        keys.join(", ")
                    ),
                );
                continue;
            };
            let MatrixValues::List(values) = dimension else {
                continue;
            };
            let has_expression = |v: &Value| v.to_string().contains("${{");
            if has_expression(value) || values.value.iter().any(has_expression) {
                continue;
            }
            if !values
                .value
                .iter()
                .any(|candidate| matches_value(value, candidate))
            {
                // GitHub runs such a matrix (the entry removes nothing): a warning, not an error.
                checker.warning(
                    span,
                    format!("`exclude` value {value} for `{key}` matches no value of the matrix of job `{id}`, so it removes nothing"),
                );
            }
        }
    }
}

/// An exclude value matches a matrix value when equal, or (objects) when every key it names matches.
fn matches_value(exclude: &Value, value: &Value) -> bool {
    match (exclude, value) {
        (Value::Object(wanted), Value::Object(have)) => wanted.iter().all(|(key, wanted)| {
            have.get(key)
                .is_some_and(|have| matches_value(wanted, have))
        }),
        (Value::String(a), Value::String(b)) => a == b,
        (Value::String(text), other) | (other, Value::String(text))
            if !other.is_object() && !other.is_array() =>
        {
            let rendered = other.to_string();
            *text == rendered
        }
        _ => exclude == value,
    }
}
