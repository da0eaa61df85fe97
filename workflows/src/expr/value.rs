//! Values as the evaluator sees them, and GitHub's coercions between them.
//!
//! A [`Val`] borrows from the context and the parsed expression wherever it can, so evaluating an
//! `if:` against a large `github` context copies nothing. Numbers are `f64` (NaN and the
//! infinities are values of the language, which JSON cannot hold). This module holds the rules for
//! converting to number, to string and to truthiness, loose equality and ordering; it must not know
//! about syntax or functions.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

/// One value during evaluation.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Null,
    Bool(bool),
    Number(f64),
    Str(Cow<'a, str>),
    /// An array or object inside the context (never a JSON primitive: those are unpacked).
    Borrowed(&'a Value),
    /// An array or object this evaluation produced (`fromJSON`, or a part of one).
    Owned(Value),
    /// The array a `*` filter produces.
    Filtered(Vec<Val<'a>>),
}

/// The type of a value, as GitHub names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

/// A cheap read-only view used by comparisons and conversions. Arrays and objects carry the
/// address of the context value they are (for GitHub's equality by identity), or `None` when they
/// were produced by this evaluation and so can equal nothing else.
#[derive(Debug, Clone, Copy)]
pub(crate) enum View<'v> {
    Null,
    Bool(bool),
    Number(f64),
    Str(&'v str),
    Array(Option<usize>),
    Object(Option<usize>),
}

impl<'a> Val<'a> {
    /// Unpacks a context value: primitives become plain values, containers stay borrowed.
    pub(crate) fn from_json(value: &'a Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => Val::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::Str(Cow::Borrowed(s)),
            Value::Array(_) | Value::Object(_) => Val::Borrowed(value),
        }
    }

    /// Unpacks a value this evaluation owns.
    pub(crate) fn from_owned_json(value: Value) -> Val<'a> {
        match value {
            Value::Null => Val::Null,
            Value::Bool(b) => Val::Bool(b),
            Value::Number(n) => Val::Number(n.as_f64().unwrap_or(f64::NAN)),
            Value::String(s) => Val::Str(Cow::Owned(s)),
            other => Val::Owned(other),
        }
    }

    pub(crate) fn view(&self) -> View<'_> {
        match self {
            Val::Null => View::Null,
            Val::Bool(b) => View::Bool(*b),
            Val::Number(n) => View::Number(*n),
            Val::Str(s) => View::Str(s),
            Val::Borrowed(value) => view_container(value, true),
            Val::Owned(value) => view_container(value, false),
            Val::Filtered(_) => View::Array(None),
        }
    }

    pub(crate) fn is_truthy(&self) -> bool {
        self.view().is_truthy()
    }

    /// GitHub's string form of a value (`format`, `join`, templates).
    pub(crate) fn to_display(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => Cow::Borrowed(s),
            other => Cow::Owned(other.view().to_display().into_owned()),
        }
    }

    /// Converts to a JSON value for callers outside the evaluator. JSON has no NaN or infinity:
    /// those become the strings GitHub would print for them.
    pub(crate) fn into_json(self) -> Value {
        match self {
            Val::Null => Value::Null,
            Val::Bool(b) => Value::Bool(b),
            Val::Number(n) => number_to_json(n),
            Val::Str(s) => Value::String(s.into_owned()),
            Val::Borrowed(value) => value.clone(),
            Val::Owned(value) => value,
            Val::Filtered(items) => Value::Array(items.into_iter().map(Val::into_json).collect()),
        }
    }
}

/// The view of a context value (primitives included).
pub(crate) fn view_json(value: &Value) -> View<'_> {
    match value {
        Value::Null => View::Null,
        Value::Bool(b) => View::Bool(*b),
        Value::Number(n) => View::Number(n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => View::Str(s),
        container => view_container(container, true),
    }
}

fn view_container(value: &Value, has_identity: bool) -> View<'_> {
    // The address is only compared, never dereferenced: it stands for "the same context value".
    let identity = has_identity.then_some(value as *const Value as usize);
    match value {
        Value::Array(_) => View::Array(identity),
        Value::Object(_) => View::Object(identity),
        other => view_json(other),
    }
}

impl<'v> View<'v> {
    pub(crate) fn kind(self) -> Kind {
        match self {
            View::Null => Kind::Null,
            View::Bool(_) => Kind::Boolean,
            View::Number(_) => Kind::Number,
            View::Str(_) => Kind::String,
            View::Array(_) => Kind::Array,
            View::Object(_) => Kind::Object,
        }
    }

    pub(crate) fn is_primitive(self) -> bool {
        !matches!(self, View::Array(_) | View::Object(_))
    }

    /// `""`, `0`, NaN, `false` and `null` are false; everything else, containers included, true.
    pub(crate) fn is_truthy(self) -> bool {
        match self {
            View::Null => false,
            View::Bool(b) => b,
            View::Number(n) => n != 0.0 && !n.is_nan(),
            View::Str(s) => !s.is_empty(),
            View::Array(_) | View::Object(_) => true,
        }
    }

    /// GitHub's conversion to a number: `null` → 0, booleans → 1/0, strings parsed leniently
    /// (NaN when they are not a number), containers → NaN.
    pub(crate) fn to_number(self) -> f64 {
        match self {
            View::Null => 0.0,
            View::Bool(b) => f64::from(u8::from(b)),
            View::Number(n) => n,
            View::Str(s) => parse_number(s),
            View::Array(_) | View::Object(_) => f64::NAN,
        }
    }

    pub(crate) fn to_display(self) -> Cow<'v, str> {
        match self {
            View::Null => Cow::Borrowed(""),
            View::Bool(true) => Cow::Borrowed("true"),
            View::Bool(false) => Cow::Borrowed("false"),
            View::Number(n) => Cow::Owned(format_number(n)),
            View::Str(s) => Cow::Borrowed(s),
            View::Array(_) => Cow::Borrowed("Array"),
            View::Object(_) => Cow::Borrowed("Object"),
        }
    }
}

/// Loose equality: values of different types are compared as numbers (containers never equal a
/// primitive), strings ignore case, containers are equal only when they are the same value.
pub(crate) fn loose_equals(left: View, right: View) -> bool {
    match coerce_pair(left, right) {
        (View::Null, View::Null) => true,
        (View::Bool(a), View::Bool(b)) => a == b,
        (View::Number(a), View::Number(b)) => a == b,
        (View::Str(a), View::Str(b)) => equals_ignore_case(a, b),
        (View::Array(Some(a)), View::Array(Some(b))) => a == b,
        (View::Object(Some(a)), View::Object(Some(b))) => a == b,
        _ => false,
    }
}

/// Ordering for `<`, `>`: `None` when the values are not comparable (NaN, containers, mixed
/// types that do not coerce), which makes every ordering operator false.
pub(crate) fn loose_compare(left: View, right: View) -> Option<Ordering> {
    match coerce_pair(left, right) {
        (View::Number(a), View::Number(b)) => a.partial_cmp(&b),
        (View::Str(a), View::Str(b)) => Some(compare_ignore_case(a, b)),
        (View::Bool(a), View::Bool(b)) => Some(a.cmp(&b)),
        _ => None,
    }
}

/// Brings two values to a common type the way GitHub does (like JavaScript's abstract equality,
/// except containers are never converted).
fn coerce_pair<'v>(left: View<'v>, right: View<'v>) -> (View<'v>, View<'v>) {
    if left.kind() == right.kind() {
        return (left, right);
    }
    match (left, right) {
        (View::Number(_), View::Str(_)) => (left, View::Number(right.to_number())),
        (View::Str(_), View::Number(_)) => (View::Number(left.to_number()), right),
        (View::Null | View::Bool(_), _) => coerce_pair(View::Number(left.to_number()), right),
        (_, View::Null | View::Bool(_)) => coerce_pair(left, View::Number(right.to_number())),
        _ => (left, right),
    }
}

/// GitHub's number syntax inside strings (and number literals): surrounding whitespace is ignored,
/// the empty string is 0, `0x`/`0o`/`0b` prefixes, exponents, `Infinity`. Anything else is NaN.
pub(crate) fn parse_number(text: &str) -> f64 {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if text.is_empty() {
        return 0.0;
    }
    let bytes = text.as_bytes();
    if bytes.len() > 2 && bytes[0] == b'0' {
        let radix = match bytes[1] {
            b'x' | b'X' => Some(16),
            b'o' | b'O' => Some(8),
            b'b' | b'B' => Some(2),
            _ => None,
        };
        if let Some(radix) = radix {
            return parse_radix(&text[2..], radix);
        }
    }
    match text {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    if !is_decimal_syntax(bytes) {
        return f64::NAN;
    }
    text.parse::<f64>().unwrap_or(f64::NAN)
}

fn parse_radix(digits: &str, radix: u32) -> f64 {
    if digits.is_empty() {
        return f64::NAN;
    }
    let mut value = 0.0f64;
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => value = value * f64::from(radix) + f64::from(d),
            None => return f64::NAN,
        }
    }
    value
}

/// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`: checked before handing the text
/// to Rust's parser, which also accepts words such as `inf` and `nan` that GitHub does not.
fn is_decimal_syntax(bytes: &[u8]) -> bool {
    let mut i = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while bytes.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == bytes.len()
}

/// Formats a number the way GitHub's runner does: at most 15 significant digits, at most 15
/// decimals, never an exponent, no trailing zeros, `-0` as `0`.
pub(crate) fn format_number(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    // Round to 15 significant digits first: "d.dddddddddddddde<exp>".
    let scientific = format!("{:.14e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i64 = exponent.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    // `point` is how many digits stand before the decimal point (zero or negative: leading zeros).
    let mut point = exponent + 1;
    // Then to at most 15 decimals, rounding half away from zero on the decimal digits.
    let keep = (point + 15).min(digits.len() as i64);
    if keep < digits.len() as i64 {
        if keep < 0 {
            return "0".to_string();
        }
        let keep = keep as usize;
        let round_up = digits.get(keep).is_some_and(|d| *d >= 5);
        digits.truncate(keep);
        if round_up {
            let mut carry = true;
            for digit in digits.iter_mut().rev() {
                if *digit == 9 {
                    *digit = 0;
                } else {
                    *digit += 1;
                    carry = false;
                    break;
                }
            }
            if carry {
                digits.insert(0, 1);
                point += 1;
            }
        }
    }
    while digits.last() == Some(&0) && digits.len() as i64 > point.max(0) {
        digits.pop();
    }
    if digits.iter().all(|d| *d == 0) {
        return "0".to_string();
    }
    let mut out = String::with_capacity(digits.len() + 4);
    if value < 0.0 {
        out.push('-');
    }
    let digit_char = |d: &u8| char::from(b'0' + d);
    if point <= 0 {
        out.push('0');
        out.push('.');
        out.extend(std::iter::repeat_n('0', (-point) as usize));
        out.extend(digits.iter().map(digit_char));
    } else {
        let point = point as usize;
        for i in 0..point {
            out.push(digits.get(i).map_or('0', digit_char));
        }
        if digits.len() > point {
            out.push('.');
            out.extend(digits[point..].iter().map(digit_char));
        }
    }
    out
}

/// A number as JSON: integers without a fraction, non-finite numbers as GitHub prints them.
pub(crate) fn number_to_json(value: f64) -> Value {
    if value.fract() == 0.0 && value.abs() < 9_007_199_254_740_992.0 {
        return Value::Number(Number::from(value as i64));
    }
    match Number::from_f64(value) {
        Some(number) => Value::Number(number),
        None => Value::String(format_number(value)),
    }
}

/// Looks a property up ignoring case (an exact match wins, then the first case-insensitive one).
pub(crate) fn get_property<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Value> {
    if let Some(found) = map.get(key) {
        return Some(found);
    }
    map.iter()
        .find(|(name, _)| equals_ignore_case(name, key))
        .map(|(_, value)| value)
}

/// Removes a property from an owned object, ignoring case.
pub(crate) fn take_property(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    if let Some(found) = map.get_mut(key) {
        return Some(found.take());
    }
    map.iter_mut()
        .find(|(name, _)| equals_ignore_case(name, key))
        .map(|(_, value)| value.take())
}

/// Upper-cases one character for comparisons: a simple (one character) mapping, and the dotless
/// `ı` stays itself, as in GitHub's ordinal ignore-case comparison.
pub(crate) fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    if c == 'ı' {
        return c;
    }
    let mut upper = c.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(single), None) => single,
        _ => c,
    }
}

pub(crate) fn equals_ignore_case(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

/// Compares upper-cased strings by UTF-16 code units, as GitHub does.
pub(crate) fn compare_ignore_case(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a
            .bytes()
            .map(|c| c.to_ascii_uppercase())
            .cmp(b.bytes().map(|c| c.to_ascii_uppercase()));
    }
    utf16_units(a).cmp(utf16_units(b))
}

fn utf16_units(s: &str) -> impl Iterator<Item = u16> + '_ {
    s.chars().map(fold_char).flat_map(|c| {
        let mut buffer = [0u16; 2];
        let len = c.encode_utf16(&mut buffer).len();
        buffer.into_iter().take(len)
    })
}

/// Where `needle` occurs in `haystack`, ignoring case, for `contains`, `startsWith`, `endsWith`.
pub(crate) enum Position {
    Anywhere,
    Start,
    End,
}

pub(crate) fn find_ignore_case(haystack: &str, needle: &str, position: Position) -> bool {
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        if n.len() > h.len() {
            return false;
        }
        return match position {
            Position::Start => h[..n.len()].eq_ignore_ascii_case(n),
            Position::End => h[h.len() - n.len()..].eq_ignore_ascii_case(n),
            Position::Anywhere => {
                n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
            }
        };
    }
    let h: Vec<char> = haystack.chars().map(fold_char).collect();
    let n: Vec<char> = needle.chars().map(fold_char).collect();
    if n.len() > h.len() {
        return false;
    }
    match position {
        Position::Start => h[..n.len()] == n[..],
        Position::End => h[h.len() - n.len()..] == n[..],
        Position::Anywhere => n.is_empty() || h.windows(n.len()).any(|w| w == &n[..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_like_github() {
        let check =
            |value: f64, expected: &str| assert_eq!(format_number(value), expected, "{value}");
        check(1.0, "1");
        check(-0.0, "0");
        check(0.5, "0.5");
        check(-123456.789, "-123456.789");
        check(0.845_512_408_225_570_1, "0.84551240822557");
        check(1e21, "1000000000000000000000");
        check(1e-7, "0.0000001");
        check(1e-16, "0");
        check(6e-16, "0.000000000000001");
        check(-4e-16, "0");
        check(1.234_567_890_123_456_7, "1.23456789012346");
        check(99_999_999_999_999.99, "100000000000000");
        check(f64::NAN, "NaN");
        check(f64::NEG_INFINITY, "-Infinity");
    }

    #[test]
    fn strings_parse_to_numbers_leniently() {
        let check = |text: &str, expected: f64| {
            let got = parse_number(text);
            assert!(
                got == expected || (got.is_nan() && expected.is_nan()),
                "{text}: {got}"
            );
        };
        check("", 0.0);
        check("  12 ", 12.0);
        check(" 0xff ", 255.0);
        check("0o10", 8.0);
        check("0b101", 5.0);
        check("-.5", -0.5);
        check("5.", 5.0);
        check("1e3", 1000.0);
        check("-Infinity", f64::NEG_INFINITY);
        check("inf", f64::NAN);
        check("nan", f64::NAN);
        check("1e", f64::NAN);
        check(".", f64::NAN);
        check("-0x10", f64::NAN);
        check("1 2", f64::NAN);
    }

    #[test]
    fn case_folding_follows_ordinal_ignore_case() {
        assert!(equals_ignore_case("ς", "Σ"));
        assert!(!equals_ignore_case("ı", "I"));
        assert!(!equals_ignore_case("i", "İ"));
        assert!(!equals_ignore_case("ß", "SS"));
        assert_eq!(compare_ignore_case("a", "["), Ordering::Less);
        assert_eq!(compare_ignore_case("ı", "I"), Ordering::Greater);
        assert!(find_ignore_case("ABCDEF", "cde", Position::Anywhere));
        assert!(find_ignore_case("Σ_asdf", "ς", Position::Start));
        assert!(!find_ignore_case("ab", "abc", Position::End));
    }
}
