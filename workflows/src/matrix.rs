//! Matrix expansion exactly as GitHub documents it: combinations in declaration order (the first
//! key varies slowest), `exclude` first (a partial match removes every combination it matches),
//! then each `include` entry merged into every combination whose original values it does not
//! overwrite, or added as a combination of its own; at most 256 combinations.
//!
//! Values are compared the way GitHub's own matrix builder compares them: every leaf of an
//! `include`/`exclude` entry is checked with the expression language's `==` against the value at
//! the same path in the combination. That means strings compare case-insensitively, `18` equals
//! `'18'`, and an object-valued entry matches when each of its leaves matches (a subset match, so
//! `{node: 12}` matches the matrix value `{node: 12, npm: 6}`). Matrix keys are compared
//! case-insensitively too, as GitHub's matrix context is.
//!
//! This module must not evaluate expressions: the caller evaluates `${{ }}` first (job-level
//! expressions belong to the engine) and hands over plain JSON values. It must not panic on any
//! input and bounds its work (see [`MAX_PRODUCT`]).

use indexmap::IndexMap;
use serde_json::Value;

use crate::model::{MatrixMap, MatrixValues};

/// One combination: key → value, in declaration order (include-only keys after).
pub type Combination = IndexMap<String, Value>;

/// A matrix with every expression already evaluated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatrixInput {
    /// Dimension name → its values, in declaration order (the first key varies slowest).
    pub dimensions: IndexMap<String, Vec<Value>>,
    /// `include` entries: combinations to add or to extend with extra keys.
    pub include: Vec<Combination>,
    /// `exclude` entries: partial combinations whose matches are removed from the cross product.
    pub exclude: Vec<Combination>,
}

/// Why a matrix could not be expanded. `message` is the whole human-readable text; `kind` carries
/// the data a caller may want to act on (for example the combination count).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct MatrixError {
    /// The whole human-readable error text (also the `Display` text).
    pub message: String,
    /// What went wrong, with the data a caller may act on.
    pub kind: MatrixErrorKind,
    /// The job the matrix belongs to, once the caller named it with [`MatrixError::in_job`].
    pub job: Option<String>,
}

/// What went wrong with a matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum MatrixErrorKind {
    /// The expansion yields more than [`MAX_COMBINATIONS`] combinations (counted after `exclude`
    /// and `include`, as GitHub counts jobs).
    TooManyCombinations {
        /// How many combinations the expansion yields.
        count: usize,
    },
    /// The cross product before `exclude` is larger than [`MAX_PRODUCT`] (or overflows), so
    /// Slipway refuses to enumerate it. `product` is `None` when the size overflows.
    ProductTooLarge {
        /// The size of the cross product; `None` when it overflows `usize`.
        product: Option<usize>,
    },
    /// A value has the wrong shape; `detail` names the key at fault.
    Shape {
        /// What is wrong, naming the key at fault.
        detail: String,
    },
    /// A dimension (or `include`/`exclude`) is still an unevaluated expression.
    UnevaluatedExpression {
        /// The dimension, `include` or `exclude`, that is still an expression.
        key: String,
    },
}

/// GitHub runs at most this many jobs for one matrix.
pub const MAX_COMBINATIONS: usize = 256;

/// The largest cross product (before `exclude`) Slipway enumerates. GitHub has no documented
/// bound here, but a product this size cannot be brought under [`MAX_COMBINATIONS`] by any
/// sensible `exclude` list, and enumerating billions of combinations would hang the engine.
pub const MAX_PRODUCT: usize = 65_536;

/// GitHub truncates a matrix job's display name to this many characters (ending in `...`).
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// One expanded combination with the display name GitHub gives its job.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedCombination {
    /// `build (ubuntu-latest, 18)`.
    pub display_name: String,
    /// The combination's values, key → value, the job's `matrix` context.
    pub matrix: Combination,
}

impl MatrixError {
    fn new(kind: MatrixErrorKind) -> MatrixError {
        let message = render_message(&kind, None);
        MatrixError {
            message,
            kind,
            job: None,
        }
    }

    fn shape(detail: impl Into<String>) -> MatrixError {
        MatrixError::new(MatrixErrorKind::Shape {
            detail: detail.into(),
        })
    }

    /// Names the job the matrix belongs to: "matrix of job `build` yields 300 combinations, …".
    pub fn in_job(mut self, job_name: &str) -> MatrixError {
        self.message = render_message(&self.kind, Some(job_name));
        self.job = Some(job_name.to_string());
        self
    }

    /// The number of combinations, when that is what went wrong.
    pub fn combination_count(&self) -> Option<usize> {
        match self.kind {
            MatrixErrorKind::TooManyCombinations { count } => Some(count),
            _ => None,
        }
    }
}

impl MatrixInput {
    /// Reads a matrix given as one JSON object (the `${{ fromJSON(...) }}` form): every key but
    /// `include` and `exclude` is a dimension and must be a non-empty list; `include` and
    /// `exclude` are lists of mappings.
    pub fn from_value(value: &Value) -> Result<MatrixInput, MatrixError> {
        let Value::Object(object) = value else {
            return Err(MatrixError::shape(format!(
                "must be a mapping, found {}",
                describe(value)
            )));
        };
        let mut input = MatrixInput::default();
        for (key, value) in object {
            match key.as_str() {
                "include" => input.include = read_entries("include", value)?,
                "exclude" => input.exclude = read_entries("exclude", value)?,
                _ => {
                    let Value::Array(values) = value else {
                        return Err(MatrixError::shape(format!(
                            "key `{key}` must be a list, found {}",
                            describe(value)
                        )));
                    };
                    input
                        .dimensions
                        .insert(key.clone(), read_vector(key, values)?);
                }
            }
        }
        Ok(input)
    }

    /// Reads a literal matrix from the workflow model. Every part must already be a list: a
    /// dimension (or `include`/`exclude`) written as `${{ }}` is an error naming the key, because
    /// the caller has to evaluate it first.
    pub fn from_model(map: &MatrixMap) -> Result<MatrixInput, MatrixError> {
        from_model(map)
    }
}

/// Reads a literal matrix from the workflow model (see [`MatrixInput::from_model`]).
pub fn from_model(map: &MatrixMap) -> Result<MatrixInput, MatrixError> {
    let mut input = MatrixInput::default();
    for (key, values) in &map.dimensions {
        let values = literal_list(key, values)?;
        input
            .dimensions
            .insert(key.clone(), read_vector(key, values)?);
    }
    if let Some(include) = &map.include {
        let list = literal_list("include", include)?;
        input.include = read_entry_list("include", list)?;
    }
    if let Some(exclude) = &map.exclude {
        let list = literal_list("exclude", exclude)?;
        input.exclude = read_entry_list("exclude", list)?;
    }
    Ok(input)
}

/// The number of combinations `expand` would yield, counted without building them (the same
/// checks and errors as `expand`; the cross product is at most [`MAX_PRODUCT`]).
pub fn count(input: &MatrixInput) -> Result<usize, MatrixError> {
    check_filters(input)?;
    let product = checked_product(input)?;
    let mut count: usize = 0;
    let mut matched = vec![false; input.include.len()];
    let filters: Vec<Vec<(&String, &Value)>> = input
        .include
        .iter()
        .map(|entry| {
            entry
                .iter()
                .filter(|(key, _)| find_key(&input.dimensions, key).is_some())
                .collect()
        })
        .collect();
    for index in 0..product {
        let combination = product_combination(&input.dimensions, index);
        if input
            .exclude
            .iter()
            .any(|entry| filter_matches(entry.iter(), &combination))
        {
            continue;
        }
        count += 1;
        for (seen, filter) in matched.iter_mut().zip(&filters) {
            if !*seen && filter_matches(filter.iter().copied(), &combination) {
                *seen = true;
            }
        }
    }
    count += matched.iter().filter(|seen| !**seen).count();
    if count > MAX_COMBINATIONS {
        return Err(MatrixError::new(MatrixErrorKind::TooManyCombinations {
            count,
        }));
    }
    Ok(count)
}

/// Expands a matrix into its combinations. An empty matrix yields no combinations; so does a
/// dimension with no values, though `include` entries still add combinations of their own.
pub fn expand(input: &MatrixInput) -> Result<Vec<Combination>, MatrixError> {
    Ok(expand_legs(input)?
        .into_iter()
        .map(|leg| leg.values)
        .collect())
}

/// Expands a matrix and names each combination's job the way GitHub does. Values that an
/// `include` entry adds to an original combination do not appear in its name (GitHub builds the
/// name before merging them); a combination that comes from an `include` entry alone is named
/// after all its values.
pub fn expand_named(
    input: &MatrixInput,
    job_name: &str,
) -> Result<Vec<NamedCombination>, MatrixError> {
    Ok(expand_legs(input)?
        .into_iter()
        .map(|leg| {
            let named = leg.values.values().take(leg.name_keys);
            NamedCombination {
                display_name: display_name(job_name, named),
                matrix: leg.values,
            }
        })
        .collect())
}

/// GitHub's display name for one combination of a job: `build (ubuntu, 18)`. Every scalar value is
/// shown (nested objects and lists contribute their scalar leaves, depth first); `null` and empty
/// strings are left out; names longer than 100 characters end in `...`. This names the job after
/// *all* the values given; [`expand_named`] knows which ones GitHub leaves out.
pub fn combination_name(job_name: &str, combination: &Combination) -> String {
    display_name(job_name, combination.values())
}

// ---------------------------------------------------------------------------------------------

/// One expanded combination plus how many of its leading keys name it.
struct Leg {
    values: Combination,
    name_keys: usize,
}

/// The size of the cross product of the dimensions, refused past [`MAX_PRODUCT`].
fn checked_product(input: &MatrixInput) -> Result<usize, MatrixError> {
    let mut product: usize = if input.dimensions.is_empty() { 0 } else { 1 };
    for values in input.dimensions.values() {
        product = product
            .checked_mul(values.len())
            .ok_or_else(|| MatrixError::new(MatrixErrorKind::ProductTooLarge { product: None }))?;
    }
    if product > MAX_PRODUCT {
        return Err(MatrixError::new(MatrixErrorKind::ProductTooLarge {
            product: Some(product),
        }));
    }
    Ok(product)
}

/// An `include` entry split into the part that selects combinations (keys that are original
/// matrix keys) and the part it adds.
struct IncludeEntry<'a> {
    filter: Vec<(&'a String, &'a Value)>,
    extra: Vec<(&'a String, &'a Value)>,
    matched: bool,
}

fn expand_legs(input: &MatrixInput) -> Result<Vec<Leg>, MatrixError> {
    check_filters(input)?;
    let product = checked_product(input)?;

    let mut includes: Vec<IncludeEntry> = input
        .include
        .iter()
        .map(|entry| {
            let (filter, extra) = entry
                .iter()
                .partition(|(key, _)| find_key(&input.dimensions, key).is_some());
            IncludeEntry {
                filter,
                extra,
                matched: false,
            }
        })
        .collect();

    let mut legs = Vec::new();
    let mut count: usize = 0;
    for index in 0..product {
        let combination = product_combination(&input.dimensions, index);
        if input
            .exclude
            .iter()
            .any(|entry| filter_matches(entry.iter(), &combination))
        {
            continue;
        }
        count += 1;
        if count > MAX_COMBINATIONS {
            // Keep counting so the error says how many there are, but stop building them.
            continue;
        }
        let name_keys = combination.len();
        let mut values = combination.clone();
        for include in includes.iter_mut() {
            if filter_matches(include.filter.iter().copied(), &combination) {
                include.matched = true;
                for (key, value) in &include.extra {
                    insert_case_insensitive(&mut values, key, value);
                }
            }
        }
        legs.push(Leg { values, name_keys });
    }

    for include in includes.iter().filter(|include| !include.matched) {
        count += 1;
        let mut values = Combination::new();
        for (key, value) in include.filter.iter().chain(include.extra.iter()) {
            insert_case_insensitive(&mut values, key, value);
        }
        let name_keys = values.len();
        legs.push(Leg { values, name_keys });
    }

    if count > MAX_COMBINATIONS {
        return Err(MatrixError::new(MatrixErrorKind::TooManyCombinations {
            count,
        }));
    }
    Ok(legs)
}

/// Rejects `include`/`exclude` entries GitHub rejects: empty entries, and `exclude` keys that are
/// not matrix keys.
fn check_filters(input: &MatrixInput) -> Result<(), MatrixError> {
    for (position, entry) in input.include.iter().enumerate() {
        if entry.is_empty() {
            return Err(MatrixError::shape(format!(
                "`include` entry {} has no values",
                position + 1
            )));
        }
    }
    for (position, entry) in input.exclude.iter().enumerate() {
        if entry.is_empty() {
            return Err(MatrixError::shape(format!(
                "`exclude` entry {} has no values",
                position + 1
            )));
        }
        for key in entry.keys() {
            if find_key(&input.dimensions, key).is_none() {
                return Err(MatrixError::shape(format!(
                    "`exclude` entry {} names key `{key}`, which is not a matrix key",
                    position + 1
                )));
            }
        }
    }
    Ok(())
}

/// The `index`-th combination of the cross product, the first dimension varying slowest.
fn product_combination(dimensions: &IndexMap<String, Vec<Value>>, index: usize) -> Combination {
    let mut combination = Combination::with_capacity(dimensions.len());
    let mut remainder = index;
    let mut picks = Vec::with_capacity(dimensions.len());
    for values in dimensions.values().rev() {
        let len = values.len().max(1);
        picks.push(remainder % len);
        remainder /= len;
    }
    for ((key, values), pick) in dimensions.iter().zip(picks.into_iter().rev()) {
        if let Some(value) = values.get(pick) {
            combination.insert(key.clone(), value.clone());
        }
    }
    combination
}

/// True when every leaf of every `(key, value)` pair equals the value at the same path in the
/// combination (GitHub's `matrix[key][...] == leaf`).
fn filter_matches<'a>(
    mut entries: impl Iterator<Item = (&'a String, &'a Value)>,
    combination: &Combination,
) -> bool {
    entries.all(|(key, expected)| {
        let actual = find_key(combination, key).map(|(_, value)| value);
        leaves_match(expected, actual)
    })
}

fn leaves_match(expected: &Value, actual: Option<&Value>) -> bool {
    match expected {
        Value::Object(object) => object.iter().all(|(key, expected)| {
            let actual = match actual {
                Some(Value::Object(actual)) => actual
                    .iter()
                    .find(|(k, _)| keys_equal(k, key))
                    .map(|(_, value)| value),
                _ => None,
            };
            leaves_match(expected, actual)
        }),
        Value::Array(items) => items.iter().enumerate().all(|(position, expected)| {
            let actual = match actual {
                Some(Value::Array(actual)) => actual.get(position),
                _ => None,
            };
            leaves_match(expected, actual)
        }),
        leaf => loose_equals(leaf, actual.unwrap_or(&Value::Null)),
    }
}

/// The expression language's `==`: strings compare case-insensitively; values of different types
/// are both turned into numbers; objects and arrays never equal a scalar.
fn loose_equals(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(_), Value::Number(_)) => to_number(left) == to_number(right),
        (Value::String(a), Value::String(b)) => strings_equal_ignoring_case(a, b),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => false,
        _ => to_number(left) == to_number(right),
    }
}

/// A scalar as a number the way the expression language coerces it (NaN when it is not one).
fn to_number(value: &Value) -> f64 {
    match value {
        Value::Null => 0.0,
        Value::Bool(true) => 1.0,
        Value::Bool(false) => 0.0,
        Value::Number(number) => number.as_f64().unwrap_or(f64::NAN),
        Value::String(text) => parse_number(text),
        Value::Array(_) | Value::Object(_) => f64::NAN,
    }
}

fn parse_number(text: &str) -> f64 {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return 0.0;
    }
    if let Some(hex) = trimmed.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16)
            .map(|n| n as f64)
            .unwrap_or(f64::NAN);
    }
    if let Some(octal) = trimmed.strip_prefix("0o") {
        return i64::from_str_radix(octal, 8)
            .map(|n| n as f64)
            .unwrap_or(f64::NAN);
    }
    // Rust also parses `inf` and `nan`; the expression language only takes JSON-like numbers.
    let json_like = trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    if json_like {
        trimmed.parse::<f64>().unwrap_or(f64::NAN)
    } else {
        f64::NAN
    }
}

fn strings_equal_ignoring_case(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_uppercase)
        .eq(b.chars().flat_map(char::to_uppercase))
}

fn keys_equal(a: &str, b: &str) -> bool {
    strings_equal_ignoring_case(a, b)
}

fn find_key<'m, V>(map: &'m IndexMap<String, V>, key: &str) -> Option<(&'m String, &'m V)> {
    map.get_key_value(key)
        .or_else(|| map.iter().find(|(k, _)| keys_equal(k, key)))
}

/// Sets `key` in `values`, overwriting a key spelled in another case in place (GitHub's matrix is
/// a case-insensitive dictionary: the first spelling stays).
fn insert_case_insensitive(values: &mut Combination, key: &str, value: &Value) {
    let existing = find_key(values, key).map(|(k, _)| k.clone());
    values.insert(existing.unwrap_or_else(|| key.to_string()), value.clone());
}

fn display_name<'a>(job_name: &str, values: impl Iterator<Item = &'a Value>) -> String {
    let mut segments = Vec::new();
    for value in values {
        collect_segments(value, &mut segments);
    }
    let name = if segments.is_empty() {
        job_name.to_string()
    } else {
        format!("{job_name} ({})", segments.join(", "))
    };
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        let kept: String = name.chars().take(MAX_DISPLAY_NAME_CHARS - 3).collect();
        format!("{kept}...")
    } else {
        name
    }
}

fn collect_segments(value: &Value, segments: &mut Vec<String>) {
    match value {
        Value::Null => {}
        Value::Bool(flag) => segments.push(flag.to_string()),
        Value::Number(number) => segments.push(format_number(number)),
        Value::String(text) => {
            if !text.is_empty() {
                segments.push(text.clone());
            }
        }
        Value::Array(items) => items
            .iter()
            .for_each(|item| collect_segments(item, segments)),
        Value::Object(object) => object
            .values()
            .for_each(|item| collect_segments(item, segments)),
    }
}

/// Numbers as the expression language prints them: integral values without a fraction.
fn format_number(number: &serde_json::Number) -> String {
    match number.as_f64() {
        Some(float) if number.is_f64() && float.fract() == 0.0 && float.abs() < 1e15 => {
            format!("{}", float as i64)
        }
        _ => number.to_string(),
    }
}

fn render_message(kind: &MatrixErrorKind, job: Option<&str>) -> String {
    let subject = match job {
        Some(job) => format!("matrix of job `{job}`"),
        None => "matrix".to_string(),
    };
    match kind {
        MatrixErrorKind::TooManyCombinations { count } => {
            format!(
                "{subject} yields {count} combinations, more than the limit of {MAX_COMBINATIONS}"
            )
        }
        MatrixErrorKind::ProductTooLarge {
            product: Some(product),
        } => format!(
            "{subject} has {product} combinations before `exclude`, more than Slipway expands ({MAX_PRODUCT})"
        ),
        MatrixErrorKind::ProductTooLarge { product: None } => {
            format!("{subject} has too many combinations to count before `exclude`")
        }
        MatrixErrorKind::Shape { detail } => format!("{subject} {detail}"),
        MatrixErrorKind::UnevaluatedExpression { key } => {
            format!("{subject} key `{key}` is an expression that has not been evaluated")
        }
    }
}

fn literal_list<'m>(key: &str, values: &'m MatrixValues) -> Result<&'m Vec<Value>, MatrixError> {
    match values {
        MatrixValues::List(list) => Ok(&list.value),
        MatrixValues::Expr(_) => Err(MatrixError::new(MatrixErrorKind::UnevaluatedExpression {
            key: key.to_string(),
        })),
    }
}

/// A dimension's values; GitHub rejects an empty one ("matrix vector does not contain any
/// values"), whether written literally or produced by `fromJSON`.
fn read_vector(key: &str, values: &[Value]) -> Result<Vec<Value>, MatrixError> {
    if values.is_empty() {
        return Err(MatrixError::shape(format!("key `{key}` has no values")));
    }
    Ok(values.to_vec())
}

fn read_entries(key: &str, value: &Value) -> Result<Vec<Combination>, MatrixError> {
    let Value::Array(items) = value else {
        return Err(MatrixError::shape(format!(
            "`{key}` must be a list of mappings, found {}",
            describe(value)
        )));
    };
    read_entry_list(key, items)
}

fn read_entry_list(key: &str, items: &[Value]) -> Result<Vec<Combination>, MatrixError> {
    items
        .iter()
        .enumerate()
        .map(|(position, item)| match item {
            Value::Object(object) => {
                Ok(object.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            }
            other => Err(MatrixError::shape(format!(
                "`{key}` entry {} must be a mapping, found {}",
                position + 1,
                describe(other)
            ))),
        })
        .collect()
}

/// "a string", "a list", … for error messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn loose_equality_follows_the_expression_language() {
        let cases = [
            (json!("Ubuntu"), json!("ubuntu"), true),
            (json!("18"), json!(18), true),
            (json!(" 18 "), json!(18), true),
            (json!("0x12"), json!(18), true),
            (json!(""), json!(0), true),
            (json!(null), json!(0), true),
            (json!(null), json!(""), true),
            (json!(true), json!(1), true),
            (json!("true"), json!(true), false),
            (json!("inf"), json!(f64::MAX), false),
            (json!("abc"), json!("abd"), false),
            (json!(1.5), json!(1.5), true),
            (json!([1]), json!([1]), false),
            (json!({"a": 1}), json!("a"), false),
            (json!(null), json!(false), true),
        ];
        for (left, right, expected) in cases {
            assert_eq!(loose_equals(&left, &right), expected, "{left} == {right}");
            assert_eq!(loose_equals(&right, &left), expected, "{right} == {left}");
        }
    }

    #[test]
    fn numbers_print_without_needless_fractions() {
        let number = |value: Value| match value {
            Value::Number(number) => format_number(&number),
            other => panic!("not a number: {other}"),
        };
        assert_eq!(number(json!(18)), "18");
        assert_eq!(number(json!(3.0)), "3");
        assert_eq!(number(json!(3.1)), "3.1");
        assert_eq!(number(json!(-2)), "-2");
    }
}
