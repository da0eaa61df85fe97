//! The built-in functions: their names and arities (checked when parsing) and what they compute.
//!
//! Names are case-insensitive. Every function that builds a string charges it to the evaluation's
//! memory budget before the string can grow past it, so no input makes one evaluation allocate
//! without bound. Functions see values, never syntax (except `case`, which evaluates lazily).

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::Value;

use super::eval::Evaluator;
use super::parser::Node;
use super::value::{self, Position, Val, View, find_ignore_case, loose_equals, view_json};
use super::{ExprError, ExprErrorKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    Contains,
    StartsWith,
    EndsWith,
    Format,
    Join,
    ToJson,
    FromJson,
    HashFiles,
    Case,
    Success,
    Always,
    Cancelled,
    Failure,
}

/// Name (as documented), function, fewest and most arguments.
const FUNCTIONS: &[(&str, Function, usize, usize)] = &[
    ("contains", Function::Contains, 2, 2),
    ("startsWith", Function::StartsWith, 2, 2),
    ("endsWith", Function::EndsWith, 2, 2),
    ("format", Function::Format, 1, MAX_ARGUMENTS),
    ("join", Function::Join, 1, 2),
    ("toJSON", Function::ToJson, 1, 1),
    ("fromJSON", Function::FromJson, 1, 1),
    ("hashFiles", Function::HashFiles, 1, MAX_ARGUMENTS),
    ("case", Function::Case, 3, MAX_ARGUMENTS),
    // At job level `success('build')` and `failure('build', 'test')` name needed jobs (GitHub's
    // schema: `success(0,MAX)`, `failure(0,MAX)` in `job-if`); steps may not pass names.
    ("success", Function::Success, 0, MAX_ARGUMENTS),
    ("always", Function::Always, 0, 0),
    ("cancelled", Function::Cancelled, 0, 0),
    ("failure", Function::Failure, 0, MAX_ARGUMENTS),
];

const MAX_ARGUMENTS: usize = 255;

impl Function {
    /// Finds the function `name` and checks that it accepts `arg_count` arguments.
    pub(crate) fn resolve(
        name: &str,
        arg_count: usize,
        column: usize,
    ) -> Result<Function, ExprError> {
        let parse_error = |message: String| ExprError {
            kind: ExprErrorKind::Parsing,
            column,
            message,
        };
        let Some(&(canonical, function, min, max)) = FUNCTIONS
            .iter()
            .find(|(known, ..)| known.eq_ignore_ascii_case(name))
        else {
            return Err(parse_error(format!("unrecognized function `{name}`")));
        };
        if arg_count < min {
            return Err(parse_error(format!(
                "too few parameters supplied to `{canonical}` (expects at least {min}, got {arg_count})"
            )));
        }
        if arg_count > max {
            return Err(parse_error(format!(
                "too many parameters supplied to `{canonical}` (expects at most {max}, got {arg_count})"
            )));
        }
        if function == Function::Case && arg_count.is_multiple_of(2) {
            return Err(parse_error(format!(
                "even number of parameters supplied to `case`, which requires an odd number (got {arg_count})"
            )));
        }
        Ok(function)
    }

    pub(crate) fn is_status(self) -> bool {
        matches!(
            self,
            Function::Success | Function::Always | Function::Cancelled | Function::Failure
        )
    }

    pub(crate) fn call<'a>(
        self,
        evaluator: &mut Evaluator<'a>,
        args: &'a [Node],
        column: usize,
    ) -> Result<Val<'a>, ExprError> {
        let status = evaluator.status;
        match self {
            Function::Success if args.is_empty() => Ok(Val::Bool(status.is_success())),
            Function::Failure if args.is_empty() => Ok(Val::Bool(status.failed)),
            Function::Success | Function::Failure => {
                named_jobs_status(self, evaluator, args, column)
            }
            Function::Always => Ok(Val::Bool(true)),
            Function::Cancelled => Ok(Val::Bool(status.cancelled)),
            Function::Case => case(evaluator, args, column),
            _ => {
                let mut values = Vec::with_capacity(args.len());
                for arg in args {
                    values.push(evaluator.eval(arg)?);
                }
                self.call_with_values(evaluator, values, column)
            }
        }
    }

    fn call_with_values<'a>(
        self,
        evaluator: &mut Evaluator<'a>,
        args: Vec<Val<'a>>,
        column: usize,
    ) -> Result<Val<'a>, ExprError> {
        let first = args.first().map_or(View::Null, Val::view);
        let second = args.get(1).map_or(View::Null, Val::view);
        match self {
            Function::Contains => Ok(Val::Bool(contains(args.first(), second))),
            Function::StartsWith => Ok(Val::Bool(text_test(first, second, Position::Start))),
            Function::EndsWith => Ok(Val::Bool(text_test(first, second, Position::End))),
            Function::Format => format(evaluator, &args, column).map(|s| Val::Str(Cow::Owned(s))),
            Function::Join => {
                join(evaluator, args.first(), args.get(1), column).map(|s| Val::Str(Cow::Owned(s)))
            }
            Function::ToJson => {
                let limit = evaluator.remaining_memory();
                let mut out = String::new();
                if let Some(value) = args.first() {
                    write_json_val(&mut out, value, 0, limit);
                }
                evaluator.charge_string(&out, column)?;
                Ok(Val::Str(Cow::Owned(out)))
            }
            Function::FromJson => {
                let text = first.to_display();
                evaluator.charge_string(&text, column)?;
                match serde_json::from_str::<Value>(&text) {
                    Ok(parsed) => Ok(Val::from_owned_json(parsed)),
                    Err(err) => Err(evaluation_error(
                        column,
                        format!("fromJSON could not parse its input: {err}"),
                    )),
                }
            }
            Function::HashFiles => {
                let Some(hash_files) = evaluator.hash_files else {
                    return Err(evaluation_error(
                        column,
                        "hashFiles is not available here".to_string(),
                    ));
                };
                let patterns: Vec<String> =
                    args.iter().map(|a| a.to_display().into_owned()).collect();
                match hash_files(&patterns) {
                    Ok(digest) => Ok(Val::Str(Cow::Owned(digest))),
                    Err(message) => Err(evaluation_error(
                        column,
                        format!("hashFiles failed: {message}"),
                    )),
                }
            }
            Function::Case
            | Function::Success
            | Function::Always
            | Function::Cancelled
            | Function::Failure => {
                // Handled in `call` before the arguments are evaluated.
                Ok(Val::Null)
            }
        }
    }
}

/// `case(pred1, value1, …, default)`: predicates are evaluated in order, only as far as needed.
/// `success('a', 'b')`: every named job (read from the `needs` context, names compared
/// case-insensitively) concluded `success`; `failure('a', 'b')`: some named job concluded
/// `failure`. Only a job's `if:` has a `needs` context with results; elsewhere this is an error.
fn named_jobs_status<'a>(
    function: Function,
    evaluator: &mut Evaluator<'a>,
    args: &'a [Node],
    column: usize,
) -> Result<Val<'a>, ExprError> {
    let name = if function == Function::Success {
        "success"
    } else {
        "failure"
    };
    let error = |message: String| ExprError {
        kind: ExprErrorKind::Evaluation,
        column,
        message,
    };
    let Some(needs) = evaluator.context_object("needs") else {
        return Err(error(format!(
            "`{name}(...)` with job names is only allowed in a job's `if`"
        )));
    };
    let mut results = Vec::with_capacity(args.len());
    for arg in args {
        let job = evaluator.eval(arg)?.view().to_display().into_owned();
        let Some(entry) = needs
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(&job))
            .map(|(_, entry)| entry)
        else {
            return Err(error(format!(
                "`{name}('{job}')`: `{job}` is not a job this job needs"
            )));
        };
        let result = entry
            .get("result")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_ascii_lowercase();
        results.push(result);
    }
    Ok(Val::Bool(if function == Function::Success {
        results.iter().all(|result| result == "success")
    } else {
        results.iter().any(|result| result == "failure")
    }))
}

fn case<'a>(
    evaluator: &mut Evaluator<'a>,
    args: &'a [Node],
    column: usize,
) -> Result<Val<'a>, ExprError> {
    let mut pairs = args.chunks_exact(2);
    for pair in pairs.by_ref() {
        let [predicate, value] = pair else { break };
        match evaluator.eval(predicate)? {
            Val::Bool(true) => return evaluator.eval(value),
            Val::Bool(false) => {}
            _ => {
                return Err(evaluation_error(
                    column,
                    "case predicate must evaluate to a boolean value".to_string(),
                ));
            }
        }
    }
    match pairs.remainder().first() {
        Some(default) => evaluator.eval(default),
        None => Ok(Val::Null),
    }
}

/// `contains(search, item)`: substring test ignoring case for primitives, loose equality with any
/// element for arrays, false for objects.
fn contains(search: Option<&Val>, item: View) -> bool {
    let Some(search) = search else { return false };
    let search_view = search.view();
    if search_view.is_primitive() {
        return item.is_primitive()
            && find_ignore_case(
                &search_view.to_display(),
                &item.to_display(),
                Position::Anywhere,
            );
    }
    match search {
        Val::Filtered(items) => items
            .iter()
            .any(|element| loose_equals(element.view(), item)),
        Val::Borrowed(Value::Array(items)) => items
            .iter()
            .any(|element| loose_equals(view_json(element), item)),
        Val::Owned(Value::Array(items)) => items
            .iter()
            .any(|element| loose_equals(view_json(element), item)),
        _ => false,
    }
}

fn text_test(text: View, part: View, position: Position) -> bool {
    text.is_primitive()
        && part.is_primitive()
        && find_ignore_case(&text.to_display(), &part.to_display(), position)
}

/// `format('{0} and {{literal}}', value)`.
fn format(evaluator: &mut Evaluator, args: &[Val], column: usize) -> Result<String, ExprError> {
    let pattern = args.first().map(Val::to_display).unwrap_or_default();
    let invalid = || evaluation_error(column, format!("the format string `{pattern}` is invalid"));
    let limit = evaluator.remaining_memory();
    let bytes = pattern.as_bytes();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    // Next `{` and `}` at or after `i`, found again only once passed (keeps this linear).
    let mut left: Option<usize> = None;
    let mut right: Option<usize> = None;
    let find = |from: usize, byte: u8| {
        bytes[from..]
            .iter()
            .position(|b| *b == byte)
            .map(|p| p + from)
    };
    while i < bytes.len() {
        if left.is_none_or(|l| l < i) {
            left = find(i, b'{');
        }
        if right.is_none_or(|r| r < i) {
            right = find(i, b'}');
        }
        match (left, right) {
            (Some(l), r) if r.is_none_or(|r| r > l) => {
                if bytes.get(l + 1) == Some(&b'{') {
                    out.push_str(&pattern[i..=l]);
                    i = l + 2;
                    continue;
                }
                let Some((index, end)) = r.and_then(|r| read_placeholder(bytes, l, r)) else {
                    return Err(invalid());
                };
                let Some(arg) = index.checked_add(1).and_then(|i| args.get(i)) else {
                    return Err(evaluation_error(
                        column,
                        format!(
                            "the format string `{pattern}` references more arguments than were supplied"
                        ),
                    ));
                };
                out.push_str(&pattern[i..l]);
                out.push_str(&arg.to_display());
                i = end + 1;
            }
            (_, Some(r)) => {
                if bytes.get(r + 1) != Some(&b'}') {
                    return Err(invalid());
                }
                out.push_str(&pattern[i..=r]);
                i = r + 2;
            }
            _ => {
                out.push_str(&pattern[i..]);
                break;
            }
        }
        if out.len() > limit {
            break;
        }
    }
    evaluator.charge_string(&out, column)?;
    Ok(out)
}

/// Reads `{N}` or `{N:specifiers}` starting at the `{` at `left`, whose first `}` is at `right`:
/// the argument index and where the placeholder ends.
fn read_placeholder(bytes: &[u8], left: usize, right: usize) -> Option<(usize, usize)> {
    let digits = bytes.get(left + 1..right)?;
    let digit_count = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if digit_count == 0 {
        return None;
    }
    let after = digits.get(digit_count);
    if after.is_some() && after != Some(&b':') {
        return None;
    }
    // An index too large for usize references more arguments than anyone can supply.
    let index = digits[..digit_count].iter().try_fold(0usize, |acc, d| {
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(usize::from(d - b'0')))
    });
    Some((index.unwrap_or(usize::MAX), right))
}

/// `join(array, separator = ',')`: a primitive joins to itself, an object to "".
fn join(
    evaluator: &mut Evaluator,
    items: Option<&Val>,
    separator: Option<&Val>,
    column: usize,
) -> Result<String, ExprError> {
    let separator = match separator.map(Val::view) {
        Some(view) if view.is_primitive() => view.to_display(),
        _ => Cow::Borrowed(","),
    };
    let Some(items) = items else {
        return Ok(String::new());
    };
    let view = items.view();
    if view.is_primitive() {
        return Ok(view.to_display().into_owned());
    }
    let limit = evaluator.remaining_memory();
    let mut out = String::new();
    let mut push = |index: usize, element: View| {
        if index > 0 {
            out.push_str(&separator);
        }
        out.push_str(&element.to_display());
        out.len() <= limit
    };
    match items {
        Val::Filtered(elements) => {
            let _ = elements.iter().enumerate().all(|(i, e)| push(i, e.view()));
        }
        Val::Borrowed(Value::Array(elements)) | Val::Owned(Value::Array(elements)) => {
            let _ = elements
                .iter()
                .enumerate()
                .all(|(i, e)| push(i, view_json(e)));
        }
        _ => {}
    }
    evaluator.charge_string(&out, column)?;
    Ok(out)
}

/// Pretty JSON with two-space indentation, keys in insertion order. Stops early once `out`
/// passes `limit` bytes (the caller reports the memory error).
fn write_json_val(out: &mut String, value: &Val, indent: usize, limit: usize) {
    match value {
        Val::Null => out.push_str("null"),
        Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Val::Number(n) => write_json_number(out, *n),
        Val::Str(s) => write_json_string(out, s),
        Val::Borrowed(json) => write_json(out, json, indent, limit),
        Val::Owned(json) => write_json(out, json, indent, limit),
        Val::Filtered(items) => write_container(
            out,
            '[',
            ']',
            items.iter(),
            indent,
            limit,
            |out, item, indent| write_json_val(out, item, indent, limit),
        ),
    }
}

fn write_json(out: &mut String, value: &Value, indent: usize, limit: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) if n.is_f64() => write_json_number(out, n.as_f64().unwrap_or(f64::NAN)),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_json_string(out, s),
        Value::Array(items) => write_container(
            out,
            '[',
            ']',
            items.iter(),
            indent,
            limit,
            |out, item, indent| write_json(out, item, indent, limit),
        ),
        Value::Object(map) => write_container(
            out,
            '{',
            '}',
            map.iter(),
            indent,
            limit,
            |out, (key, item), indent| {
                write_json_string(out, key);
                out.push_str(": ");
                write_json(out, item, indent, limit);
            },
        ),
    }
}

fn write_container<T>(
    out: &mut String,
    open: char,
    close: char,
    items: impl ExactSizeIterator<Item = T>,
    indent: usize,
    limit: usize,
    mut write_item: impl FnMut(&mut String, T, usize),
) {
    out.push(open);
    if items.len() == 0 {
        out.push(close);
        return;
    }
    for (index, item) in items.enumerate() {
        if out.len() > limit {
            return;
        }
        if index > 0 {
            out.push(',');
        }
        out.push('\n');
        push_indent(out, indent + 1);
        write_item(out, item, indent + 1);
    }
    out.push('\n');
    push_indent(out, indent);
    out.push(close);
}

fn push_indent(out: &mut String, level: usize) {
    out.extend(std::iter::repeat_n(' ', level * 2));
}

fn write_json_number(out: &mut String, number: f64) {
    if !number.is_finite() {
        out.push_str(&value::format_number(number));
    } else if number.fract() == 0.0 && number.abs() < 1e15 {
        let _ = write!(out, "{}", number as i64);
    } else {
        let _ = write!(out, "{number}");
    }
}

fn write_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn evaluation_error(column: usize, message: String) -> ExprError {
    ExprError {
        kind: ExprErrorKind::Evaluation,
        column,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_an_index_and_optional_specifiers() {
        assert_eq!(read_placeholder(b"{12}", 0, 3), Some((12, 3)));
        assert_eq!(read_placeholder(b"{0:x}", 0, 4), Some((0, 4)));
        assert_eq!(read_placeholder(b"{x}", 0, 2), None);
        assert_eq!(read_placeholder(b"{0x}", 0, 3), None);
        assert_eq!(
            read_placeholder(b"{99999999999999999999999}", 0, 24),
            Some((usize::MAX, 24))
        );
    }

    #[test]
    fn json_strings_escape_controls() {
        let mut out = String::new();
        write_json_string(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u0001é\"");
    }
}
