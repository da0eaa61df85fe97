//! The `${{ }}` expression language: lexer, parser (an AST with spans), evaluator and functions.
//!
//! Parse once, evaluate many times. Values are JSON values (`serde_json::Value`, insertion-ordered
//! objects); GitHub's coercion, loose equality and case-insensitive comparison and property access
//! are applied by the evaluator.
//!
//! INTERFACE STUB: the signatures below are the contract other modules build against; the bodies
//! are filled in by the expression work (they may grow, not change).

use indexmap::IndexMap;
pub use serde_json::Value;

/// What went wrong, as GitHub's test data classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprErrorKind {
    Lexing,
    Parsing,
    Evaluation,
}

/// An expression error. `column` is the 0-based character offset inside the expression text given
/// to `parse` (callers add the position of that text inside the file).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub kind: ExprErrorKind,
    pub column: usize,
    pub message: String,
}

/// The state the status functions read. At step level it is the job so far; at job level the
/// caller folds in every ancestor job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    pub failed: bool,
    pub cancelled: bool,
}

/// Everything an expression can see.
pub struct Context<'a> {
    /// Context name (lowercase: `github`, `env`, `matrix`, `needs`, `steps`, …) → value.
    pub values: IndexMap<String, Value>,
    pub status: Status,
    /// `hashFiles(...)`: patterns → hex digest ("" when nothing matches); absent where not allowed.
    pub hash_files: Option<&'a dyn Fn(&[String]) -> Result<String, String>>,
}

impl Default for Context<'_> {
    fn default() -> Self {
        Context {
            values: IndexMap::new(),
            status: Status::default(),
            hash_files: None,
        }
    }
}

/// One parsed expression (the text between `${{` and `}}`, or a bare `if:` condition).
#[derive(Debug, Clone)]
pub struct Expr {
    _source: String,
}

impl Expr {
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        Err(not_implemented(source))
    }

    pub fn evaluate(&self, _context: &Context) -> Result<Value, ExprError> {
        Err(not_implemented(&self._source))
    }

    /// Whether the expression calls `success()`, `failure()`, `cancelled()` or `always()`.
    pub fn uses_status_function(&self) -> bool {
        false
    }

    /// The context names this expression reads (lowercase), for "context not available here" checks.
    pub fn referenced_contexts(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A string with `${{ }}` parts, e.g. a `run:` script or an `env:` value.
#[derive(Debug, Clone)]
pub struct Template {
    _source: String,
}

impl Template {
    pub fn parse(source: &str) -> Result<Template, ExprError> {
        Err(not_implemented(source))
    }

    /// Substitutes every expression, coerced to a string the way GitHub does.
    pub fn render(&self, _context: &Context) -> Result<String, ExprError> {
        Err(not_implemented(&self._source))
    }

    /// A template that is exactly one `${{ expr }}` yields that value unconverted (for
    /// `continue-on-error`, `matrix`, `fromJSON` inputs…); otherwise the rendered string.
    pub fn evaluate(&self, _context: &Context) -> Result<Value, ExprError> {
        Err(not_implemented(&self._source))
    }

    /// Whether the template holds any `${{ }}` at all.
    pub fn has_expressions(&self) -> bool {
        false
    }
}

/// An `if:` condition: with or without `${{ }}`, with GitHub's implicit `success() &&` when it calls
/// no status function.
#[derive(Debug, Clone)]
pub struct Condition {
    _source: String,
}

impl Condition {
    pub fn parse(source: &str) -> Result<Condition, ExprError> {
        Err(not_implemented(source))
    }

    pub fn evaluate(&self, _context: &Context) -> Result<bool, ExprError> {
        Err(not_implemented(&self._source))
    }
}

/// GitHub's conversion of a value to a string (`null` → "", numbers without a trailing `.0`, …).
pub fn to_display_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// GitHub's truthiness (`""`, `0`, `null`, `false`, NaN are false).
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

fn not_implemented(source: &str) -> ExprError {
    ExprError {
        kind: ExprErrorKind::Evaluation,
        column: 0,
        message: format!("expression support is not built yet: {source}"),
    }
}
