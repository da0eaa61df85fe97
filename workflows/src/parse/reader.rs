//! Typed reading of YAML nodes with diagnostics: "give me a string here", "a mapping there",
//! "this key is unknown (did you mean …)". Every shape error is recorded and reading goes on, so
//! one pass reports every problem in the file.
//!
//! This module knows nothing about which keys a workflow has; callers name the place in words
//! (`` `runs-on` of job `build` ``) and the reader builds the message.

use indexmap::IndexMap;

use crate::diagnostic::Diagnostic;
use crate::model::{BoolOrExpr, NumberOrExpr};
use crate::span::{Span, Spanned};
use crate::yaml::{Entry, Node, NodeValue, ScalarKind};

pub(crate) struct Reader<'f> {
    pub file: &'f str,
    pub diagnostics: Vec<Diagnostic>,
}

impl<'f> Reader<'f> {
    pub(crate) fn new(file: &'f str) -> Reader<'f> {
        Reader {
            file,
            diagnostics: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::error(self.file, span, message));
    }

    pub(crate) fn warning(&mut self, span: Span, message: impl Into<String>) {
        self.diagnostics
            .push(Diagnostic::warning(self.file, span, message));
    }

    /// GitHub accepts some mappings as one `${{ }}` expression (`env: ${{ fromJSON(…) }}`);
    /// Slipway does not evaluate those. Returns whether `node` was such an expression (and warned).
    pub(crate) fn unsupported_expression(&mut self, node: &Node, what: &str) -> bool {
        let is_expr = node
            .as_scalar()
            .is_some_and(|scalar| is_expression(&scalar.text));
        if is_expr {
            self.warning(
                node.span,
                format!(
                    "{what} given as one expression is not supported by slipway and is ignored"
                ),
            );
        }
        is_expr
    }

    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str) {
        self.error(
            node.span,
            format!("{what} must be {expected}, found {}", node.describe()),
        );
    }

    /// "unknown key `need` in job `build` (did you mean `needs`?)"
    pub(crate) fn unknown_key(&mut self, entry: &Entry, known: &[&str], place: &str) {
        let message = match suggest(&entry.key, known) {
            Some(suggestion) => {
                format!(
                    "unknown key `{}` in {place} (did you mean `{suggestion}`?)",
                    entry.key
                )
            }
            None => format!("unknown key `{}` in {place}", entry.key),
        };
        self.error(entry.key_span, message);
    }

    pub(crate) fn mapping<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Entry]> {
        match &node.value {
            NodeValue::Mapping(entries) => Some(entries),
            _ => {
                self.wrong_type(node, what, "a mapping");
                None
            }
        }
    }

    /// A mapping, or null standing for an empty one (`workflow_dispatch:`).
    pub(crate) fn mapping_or_null<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
    ) -> Option<&'n [Entry]> {
        if node.is_null() {
            Some(&[])
        } else {
            self.mapping(node, what)
        }
    }

    pub(crate) fn sequence<'n>(&mut self, node: &'n Node, what: &str) -> Option<&'n [Node]> {
        match &node.value {
            NodeValue::Sequence(items) => Some(items),
            _ => {
                self.wrong_type(node, what, "a list");
                None
            }
        }
    }

    /// Any non-null scalar, as its text: GitHub reads `1` and `true` where it expects a string.
    pub(crate) fn string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        match &node.value {
            NodeValue::Scalar(scalar) if scalar.kind != ScalarKind::Null => {
                Some(Spanned::new(scalar.text.clone(), node.span))
            }
            _ => {
                self.wrong_type(node, what, "a string");
                None
            }
        }
    }

    /// An `if:` condition as expression text. A YAML boolean or number (`if: false`, `if: 0`,
    /// `if: .inf`, `if: .nan`) is that value as an expression literal, so it keeps GitHub's
    /// truthiness (`0` and NaN are false) and the implicit `success() &&`.
    pub(crate) fn condition(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        let NodeValue::Scalar(scalar) = &node.value else {
            return self.string(node, what);
        };
        let text = match scalar.kind {
            ScalarKind::Bool(value) => value.to_string(),
            ScalarKind::Int(value) => value.to_string(),
            ScalarKind::Float(value) if value.is_nan() => "NaN".to_string(),
            // `-.inf` is as truthy as `.inf`; the expression language has no negative literal.
            ScalarKind::Float(value) if value.is_infinite() => "Infinity".to_string(),
            ScalarKind::Float(value) => format!("{value:?}"),
            ScalarKind::Null | ScalarKind::String => return self.string(node, what),
        };
        Some(Spanned::new(text, node.span))
    }

    /// Like [`Reader::string`], but null reads as the empty string (`env: {EMPTY: }`).
    pub(crate) fn string_or_empty(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        if node.is_null() {
            Some(Spanned::new(String::new(), node.span))
        } else {
            self.string(node, what)
        }
    }

    /// A string, or a list of strings (`branches: main` and `branches: [main]`).
    pub(crate) fn string_list(&mut self, node: &Node, what: &str) -> Option<Vec<Spanned<String>>> {
        match &node.value {
            NodeValue::Sequence(items) => Some(
                items
                    .iter()
                    .filter_map(|item| self.string(item, &format!("each entry of {what}")))
                    .collect(),
            ),
            NodeValue::Scalar(scalar) if scalar.kind != ScalarKind::Null => {
                Some(vec![Spanned::new(scalar.text.clone(), node.span)])
            }
            _ => {
                self.wrong_type(node, what, "a string or a list of strings");
                None
            }
        }
    }

    pub(crate) fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match &node.value {
            NodeValue::Scalar(scalar) => match scalar.kind {
                ScalarKind::Bool(b) => Some(b),
                _ => {
                    self.wrong_type(node, what, "a boolean");
                    None
                }
            },
            _ => {
                self.wrong_type(node, what, "a boolean");
                None
            }
        }
    }

    pub(crate) fn bool_or_expr(&mut self, node: &Node, what: &str) -> Option<Spanned<BoolOrExpr>> {
        if let NodeValue::Scalar(scalar) = &node.value {
            match scalar.kind {
                ScalarKind::Bool(b) => return Some(Spanned::new(BoolOrExpr::Bool(b), node.span)),
                ScalarKind::String if is_expression(&scalar.text) => {
                    return Some(Spanned::new(
                        BoolOrExpr::Expr(scalar.text.clone()),
                        node.span,
                    ));
                }
                _ => {}
            }
        }
        self.wrong_type(node, what, "a boolean or an expression");
        None
    }

    pub(crate) fn number_or_expr(
        &mut self,
        node: &Node,
        what: &str,
    ) -> Option<Spanned<NumberOrExpr>> {
        if let NodeValue::Scalar(scalar) = &node.value {
            match scalar.kind {
                ScalarKind::Int(i) => {
                    return Some(Spanned::new(NumberOrExpr::Number(i as f64), node.span));
                }
                // Numbers too large for f64 round to infinity, as on GitHub; kept as the largest
                // finite value so the model stays serialisable as JSON.
                ScalarKind::Float(f) if !f.is_nan() => {
                    let number = f.clamp(f64::MIN, f64::MAX);
                    return Some(Spanned::new(NumberOrExpr::Number(number), node.span));
                }
                ScalarKind::String if is_expression(&scalar.text) => {
                    return Some(Spanned::new(
                        NumberOrExpr::Expr(scalar.text.clone()),
                        node.span,
                    ));
                }
                _ => {}
            }
        }
        self.wrong_type(node, what, "a number or an expression");
        None
    }

    /// A mapping of names to strings (`env`, `outputs`, step `with`): scalars keep their text.
    pub(crate) fn string_map(
        &mut self,
        node: &Node,
        what: &str,
    ) -> IndexMap<String, Spanned<String>> {
        let mut map = IndexMap::new();
        if node.is_null() || self.unsupported_expression(node, what) {
            return map;
        }
        if let Some(entries) = self.mapping(node, what) {
            for entry in entries {
                let value_what = format!("`{}` in {what}", entry.key);
                if let Some(value) = self.string_or_empty(&entry.value, &value_what) {
                    map.insert(entry.key.clone(), value);
                }
            }
        }
        map
    }

    /// A scalar as a JSON value of its YAML type (inputs' defaults, reusable-workflow `with`).
    pub(crate) fn scalar_json(
        &mut self,
        node: &Node,
        what: &str,
    ) -> Option<Spanned<serde_json::Value>> {
        match &node.value {
            NodeValue::Scalar(_) => Some(Spanned::new(node.to_json(), node.span)),
            _ => {
                self.wrong_type(node, what, "a string, a number or a boolean");
                None
            }
        }
    }
}

/// Whether a string holds a `${{ }}` expression.
pub(crate) fn is_expression(text: &str) -> bool {
    text.contains("${{")
}

/// The known word closest to `word` (case-insensitively), when it is close enough to be a typo.
pub(crate) fn suggest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let word = word.to_lowercase();
    let limit = if word.chars().count() <= 3 { 1 } else { 2 };
    known
        .iter()
        .map(|candidate| {
            (
                crate::suggest::edit_distance(&word, &candidate.to_lowercase()),
                *candidate,
            )
        })
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let known = ["needs", "runs-on", "steps", "if", "env"];
        assert_eq!(suggest("need", &known), Some("needs"));
        assert_eq!(suggest("runs_on", &known), Some("runs-on"));
        assert_eq!(suggest("Runs-On", &known), Some("runs-on"));
        assert_eq!(suggest("step", &known), Some("steps"));
        assert_eq!(suggest("of", &known), Some("if"));
        assert_eq!(suggest("services", &known), None);
        assert_eq!(suggest("xyz", &known), None);
    }
}
