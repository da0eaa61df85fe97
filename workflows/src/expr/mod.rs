//! The `${{ }}` expression language: lexer, parser (an AST with spans), evaluator and functions.
//!
//! Parse once, evaluate many times. Context values are JSON values (`serde_json::Value`,
//! insertion-ordered objects); GitHub's coercion, loose equality and case-insensitive comparison
//! and property access are applied by the evaluator, which borrows from the context rather than
//! copying it. Hostile input gets an error, never a panic or unbounded work: expressions are at
//! most [`MAX_EXPRESSION_LENGTH`] characters, nest at most [`MAX_DEPTH`] levels, and one
//! evaluation builds at most [`MAX_MEMORY_BYTES`] of strings. This module does no I/O: `hashFiles`
//! calls back into whoever supplied [`Context::hash_files`].
//!
//! Code map:
//! - [`lexer`]: text → tokens (with character offsets)
//! - [`parser`]: tokens → syntax tree; names, functions and arities are checked here
//! - [`eval`]: syntax tree + context → value
//! - [`functions`]: the built-in functions
//! - [`value`]: values, GitHub's coercions, number formatting, case-insensitive comparison
//! - [`template`]: splitting `text ${{ expr }} text` into pieces
//! - [`references`]: the secrets a job's expressions read (walks the syntax tree)
//!
//! The public types below are the contract other modules build against.

mod eval;
mod functions;
mod lexer;
mod parser;
pub mod references;
mod template;
mod value;

use indexmap::IndexMap;
pub use serde_json::Value;

pub use references::{JobExpressions, SecretReferences};

use eval::Evaluator;
use parser::{Index, Node, NodeKind};
use template::Piece;
use value::{Val, view_json};

/// The named values (contexts) an expression may read, unless the caller names others.
pub const CONTEXT_NAMES: &[&str] = &[
    "github",
    "env",
    "vars",
    "job",
    "jobs",
    "steps",
    "runner",
    "secrets",
    "strategy",
    "matrix",
    "needs",
    "inputs",
    // Slipway's extension: the environment a deployment job targets.
    "deployment",
];

/// Longest expression accepted, in characters (GitHub's limit).
pub const MAX_EXPRESSION_LENGTH: usize = 21_000;

/// Deepest nesting accepted (GitHub's limit and way of counting).
pub const MAX_DEPTH: usize = 50;

/// Memory one evaluation may use for the strings and arrays it builds, counted as .NET does
/// (two bytes a character), so the limit matches GitHub's.
pub const MAX_MEMORY_BYTES: usize = 1_048_576;

/// What went wrong, as GitHub's test data classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExprErrorKind {
    /// The text could not be split into tokens (an unknown character, an unterminated string, …).
    Lexing,
    /// The tokens do not form an expression (a syntax error, an unknown function, wrong arguments).
    Parsing,
    /// The expression is well-formed but failed while being evaluated (e.g. the memory limit).
    Evaluation,
}

/// An expression error. `column` is the 0-based character offset inside the expression text given
/// to `parse` (callers add the position of that text inside the file).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    /// Which stage failed: lexing, parsing or evaluation.
    pub kind: ExprErrorKind,
    /// 0-based character offset of the error inside the expression text.
    pub column: usize,
    /// What is wrong, in words (also the error's `Display` text).
    pub message: String,
}

/// The state the status functions read. At step level it is the job so far; at job level the
/// caller folds in every ancestor job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// Something before has failed: `failure()` is true.
    pub failed: bool,
    /// The run was cancelled: `cancelled()` is true.
    pub cancelled: bool,
    /// Something before neither succeeded nor failed (a skipped job a job depends on): at job
    /// level an explicit `success()` is then false, as on GitHub.
    pub incomplete: bool,
}

impl Status {
    /// What `success()` returns: nothing failed, nothing was cancelled, nothing was left undone.
    pub fn is_success(self) -> bool {
        !self.failed && !self.cancelled && !self.incomplete
    }
}

/// The host's `hashFiles(...)`: patterns → hex digest ("" when nothing matches).
pub type HashFiles<'a> = dyn Fn(&[String]) -> Result<String, String> + 'a;

/// Everything an expression can see.
pub struct Context<'a> {
    /// Context name (lowercase: `github`, `env`, `matrix`, `needs`, `steps`, …) → value.
    pub values: IndexMap<String, Value>,
    /// What the status functions (`success()`, `failure()`, `cancelled()`) read.
    pub status: Status,
    /// `hashFiles(...)`: patterns → hex digest ("" when nothing matches); absent where not allowed.
    pub hash_files: Option<&'a HashFiles<'a>>,
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
    source: String,
    /// `None` for an empty expression, which evaluates to `null`.
    root: Option<Node>,
    uses_status_function: bool,
    referenced_contexts: Vec<String>,
}

impl Expr {
    /// Parses an expression that may read the contexts in [`CONTEXT_NAMES`].
    pub fn parse(source: &str) -> Result<Expr, ExprError> {
        Expr::parse_with_names(source, CONTEXT_NAMES)
    }

    /// Parses an expression that may read exactly the named values given (case-insensitive).
    pub fn parse_with_names(source: &str, named_values: &[&str]) -> Result<Expr, ExprError> {
        let tokens = lexer::tokenize(source)?;
        let root = parser::parse(&tokens, named_values)?;
        let mut expr = Expr {
            source: source.to_string(),
            root,
            uses_status_function: false,
            referenced_contexts: Vec::new(),
        };
        if let Some(root) = &expr.root {
            let mut facts = Facts::default();
            facts.collect(root);
            expr.uses_status_function = facts.uses_status_function;
            expr.referenced_contexts = facts.contexts;
        }
        Ok(expr)
    }

    /// The text this expression was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates to a JSON value. NaN and the infinities, which JSON lacks, come back as the
    /// strings GitHub prints for them (`"NaN"`, `"Infinity"`, `"-Infinity"`).
    pub fn evaluate(&self, context: &Context) -> Result<Value, ExprError> {
        let mut evaluator = Evaluator::new(context);
        Ok(self.eval(&mut evaluator)?.into_json())
    }

    /// Evaluates and applies GitHub's truthiness, without building a JSON value.
    pub fn evaluate_truthy(&self, context: &Context) -> Result<bool, ExprError> {
        let mut evaluator = Evaluator::new(context);
        Ok(self.eval(&mut evaluator)?.is_truthy())
    }

    /// Evaluates and converts to a string the way GitHub does (see [`to_display_string`]).
    pub fn evaluate_to_string(&self, context: &Context) -> Result<String, ExprError> {
        let mut evaluator = Evaluator::new(context);
        Ok(self.eval(&mut evaluator)?.to_display().into_owned())
    }

    /// Whether the expression calls `success()`, `failure()`, `cancelled()` or `always()`.
    pub fn uses_status_function(&self) -> bool {
        self.uses_status_function
    }

    /// The context names this expression reads (lowercase), for "context not available here" checks.
    pub fn referenced_contexts(&self) -> Vec<String> {
        self.referenced_contexts.clone()
    }

    fn eval<'a>(&'a self, evaluator: &mut Evaluator<'a>) -> Result<Val<'a>, ExprError> {
        match &self.root {
            Some(root) => evaluator.eval(root),
            None => Ok(Val::Null),
        }
    }
}

/// What parsing learns about an expression besides its tree.
#[derive(Default)]
struct Facts {
    uses_status_function: bool,
    contexts: Vec<String>,
}

impl Facts {
    fn collect(&mut self, node: &Node) {
        match &node.kind {
            NodeKind::Null | NodeKind::Bool(_) | NodeKind::Number(_) | NodeKind::String(_) => {}
            NodeKind::Context(name) => {
                if !self.contexts.contains(name) {
                    self.contexts.push(name.clone());
                }
            }
            NodeKind::Index { target, index } => {
                self.collect(target);
                if let Index::Expr(index) = index {
                    self.collect(index);
                }
            }
            NodeKind::Not(operand) => self.collect(operand),
            NodeKind::Compare { first, rest } => {
                self.collect(first);
                rest.iter().for_each(|(_, operand)| self.collect(operand));
            }
            NodeKind::And(operands) | NodeKind::Or(operands) => {
                operands.iter().for_each(|o| self.collect(o))
            }
            NodeKind::Call { function, args } => {
                self.uses_status_function |= function.is_status();
                args.iter().for_each(|arg| self.collect(arg));
            }
        }
    }
}

/// A string with `${{ }}` parts, e.g. a `run:` script or an `env:` value.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    pieces: Vec<TemplatePiece>,
}

#[derive(Debug, Clone)]
enum TemplatePiece {
    Literal(String),
    Expression(Expr),
}

impl Template {
    /// Parses a template whose expressions may read the contexts in [`CONTEXT_NAMES`].
    pub fn parse(source: &str) -> Result<Template, ExprError> {
        Template::parse_with_names(source, CONTEXT_NAMES)
    }

    /// Parses a template whose expressions may read exactly the named values given. Error columns
    /// are offsets into the whole template.
    pub fn parse_with_names(source: &str, named_values: &[&str]) -> Result<Template, ExprError> {
        let mut pieces = Vec::new();
        for piece in template::split(source)? {
            pieces.push(match piece {
                Piece::Literal(text) => TemplatePiece::Literal(text),
                Piece::Expression { text, start } => TemplatePiece::Expression(
                    Expr::parse_with_names(&text, named_values).map_err(|mut err| {
                        err.column += start;
                        err
                    })?,
                ),
            });
        }
        Ok(Template {
            source: source.to_string(),
            pieces,
        })
    }

    /// The text this template was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Substitutes every expression, coerced to a string the way GitHub does.
    pub fn render(&self, context: &Context) -> Result<String, ExprError> {
        let mut evaluator = Evaluator::new(context);
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                TemplatePiece::Literal(text) => out.push_str(text),
                TemplatePiece::Expression(expr) => {
                    out.push_str(&expr.eval(&mut evaluator)?.to_display())
                }
            }
        }
        Ok(out)
    }

    /// A template that is exactly one `${{ expr }}` yields that value unconverted (for
    /// `continue-on-error`, `matrix`, `fromJSON` inputs…); otherwise the rendered string.
    pub fn evaluate(&self, context: &Context) -> Result<Value, ExprError> {
        match self.single_expression() {
            Some(expr) => expr.evaluate(context),
            None => self.render(context).map(Value::String),
        }
    }

    /// Whether the template holds any `${{ }}` at all.
    pub fn has_expressions(&self) -> bool {
        self.expressions().next().is_some()
    }

    /// The expressions in the template, in order.
    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        self.pieces.iter().filter_map(|piece| match piece {
            TemplatePiece::Expression(expr) => Some(expr),
            TemplatePiece::Literal(_) => None,
        })
    }

    /// The context names the template's expressions read (lowercase, each once).
    pub fn referenced_contexts(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self
            .expressions()
            .flat_map(|expr| expr.referenced_contexts.iter())
        {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    fn single_expression(&self) -> Option<&Expr> {
        match self.pieces.as_slice() {
            [TemplatePiece::Expression(expr)] => Some(expr),
            _ => None,
        }
    }
}

/// An `if:` condition: with or without `${{ }}`, with GitHub's implicit `success() &&` when it calls
/// no status function.
#[derive(Debug, Clone)]
pub struct Condition {
    source: String,
    body: ConditionBody,
}

#[derive(Debug, Clone)]
enum ConditionBody {
    /// An empty condition: just the implicit `success()`.
    Empty,
    Expr(Expr),
    /// Text mixing literal parts and expressions: true when it renders to a non-empty string,
    /// as on GitHub.
    Template(Template),
}

impl Condition {
    /// Parses a condition that may read the contexts in [`CONTEXT_NAMES`].
    pub fn parse(source: &str) -> Result<Condition, ExprError> {
        Condition::parse_with_names(source, CONTEXT_NAMES)
    }

    /// Parses a condition that may read exactly the named values given. A condition that is one
    /// `${{ expr }}` (surrounding whitespace aside) is that expression.
    pub fn parse_with_names(source: &str, named_values: &[&str]) -> Result<Condition, ExprError> {
        let trimmed = source.trim();
        let leading = source.chars().count() - source.trim_start().chars().count();
        let shift = |mut err: ExprError| {
            err.column += leading;
            err
        };
        let body = if trimmed.is_empty() {
            ConditionBody::Empty
        } else if trimmed.contains("${{") {
            // Not trimmed: `${{ false }}` followed by a newline (a block scalar) is a string with
            // text outside the expression, non-empty and so always true, as on GitHub.
            let template = Template::parse_with_names(source, named_values)?;
            match template.single_expression() {
                Some(expr) => ConditionBody::Expr(expr.clone()),
                None => ConditionBody::Template(template),
            }
        } else {
            ConditionBody::Expr(Expr::parse_with_names(trimmed, named_values).map_err(shift)?)
        };
        Ok(Condition {
            source: source.to_string(),
            body,
        })
    }

    /// The text this condition was parsed from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the condition calls a status function (and so has no implicit `success() &&`).
    pub fn uses_status_function(&self) -> bool {
        match &self.body {
            ConditionBody::Empty => false,
            ConditionBody::Expr(expr) => expr.uses_status_function(),
            ConditionBody::Template(template) => {
                template.expressions().any(Expr::uses_status_function)
            }
        }
    }

    /// The context names the condition reads (lowercase, each once).
    pub fn referenced_contexts(&self) -> Vec<String> {
        match &self.body {
            ConditionBody::Empty => Vec::new(),
            ConditionBody::Expr(expr) => expr.referenced_contexts(),
            ConditionBody::Template(template) => template.referenced_contexts(),
        }
    }

    /// Evaluates the condition against `context`, with GitHub's implicit `success() &&` when it
    /// calls no status function. An error means the expression failed to evaluate.
    pub fn evaluate(&self, context: &Context) -> Result<bool, ExprError> {
        // `success() && (expr)`: short-circuits, so the expression is not evaluated at all.
        if !self.uses_status_function() && !context.status.is_success() {
            return Ok(false);
        }
        match &self.body {
            ConditionBody::Empty => Ok(true),
            ConditionBody::Expr(expr) => expr.evaluate_truthy(context),
            ConditionBody::Template(template) => Ok(!template.render(context)?.is_empty()),
        }
    }
}

/// GitHub's conversion of a value to a string: `null` → "", numbers without a trailing `.0` (at
/// most 15 significant digits, never an exponent), arrays → "Array", objects → "Object".
pub fn to_display_string(value: &Value) -> String {
    view_json(value).to_display().into_owned()
}

/// GitHub's truthiness (`""`, `0`, `null`, `false`, NaN are false).
pub fn is_truthy(value: &Value) -> bool {
    view_json(value).is_truthy()
}
