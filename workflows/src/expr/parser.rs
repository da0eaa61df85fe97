//! Builds the syntax tree from tokens, checking names and function arities as it goes.
//!
//! Precedence, loosest first: `||`, `&&`, `== !=`, `< <= > >=`, `!`, then `.x`, `[i]` and `(…)`.
//! Nesting is limited to [`MAX_DEPTH`] levels counted the way GitHub counts them, so hostile input
//! gets an error, never a deep recursion; chains of comparisons are kept flat for the same reason.
//! The parser knows no values: it must not evaluate anything.

use super::functions::Function;
use super::lexer::{Token, TokenKind};
use super::value::parse_number;
use super::{ExprError, ExprErrorKind, MAX_DEPTH};

/// One node of the syntax tree; `start` is the character offset of the token that begins it.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) kind: NodeKind,
    pub(crate) start: usize,
}

#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    /// A context such as `github`, by its lowercase name.
    Context(String),
    Index {
        target: Box<Node>,
        index: Index,
    },
    Not(Box<Node>),
    /// `a == b != c …`, evaluated left to right.
    Compare {
        first: Box<Node>,
        rest: Vec<(CompareOp, Node)>,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Call {
        function: Function,
        args: Vec<Node>,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Index {
    /// `.*` or `[*]`
    Star,
    /// `.name`: the name, and its value as an array index when it has one.
    Property {
        name: String,
        position: Option<usize>,
    },
    /// `[expr]`
    Expr(Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CompareOp {
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}

/// Parses the tokens; `None` for an expression with no tokens at all.
pub(crate) fn parse(tokens: &[Token], named_values: &[&str]) -> Result<Option<Node>, ExprError> {
    let mut parser = Parser {
        tokens,
        offset: 0,
        depth: 0,
        named_values,
    };
    if parser.at_end() {
        return Ok(None);
    }
    let node = parser.expression()?;
    if !parser.at_end() {
        return Err(parser.unexpected_symbol(parser.peek()));
    }
    Ok(Some(node))
}

struct Parser<'t> {
    tokens: &'t [Token],
    offset: usize,
    depth: usize,
    named_values: &'t [&'t str],
}

/// The end token used when the token list is (unexpectedly) empty.
static END: Token = Token {
    kind: TokenKind::End,
    lexeme: String::new(),
    start: 0,
};

impl<'t> Parser<'t> {
    fn expression(&mut self) -> Result<Node, ExprError> {
        self.enter()?;
        let node = self.logical_or();
        self.leave();
        node
    }

    fn logical_or(&mut self) -> Result<Node, ExprError> {
        let first = self.logical_and()?;
        if !self.check(&TokenKind::Or) {
            return Ok(first);
        }
        self.enter()?;
        let start = first.start;
        let mut operands = vec![first];
        while self.eat(&TokenKind::Or) {
            operands.push(self.logical_and()?);
        }
        self.leave();
        Ok(Node {
            kind: NodeKind::Or(operands),
            start,
        })
    }

    fn logical_and(&mut self) -> Result<Node, ExprError> {
        let first = self.comparison_chain(Level::Equality)?;
        if !self.check(&TokenKind::And) {
            return Ok(first);
        }
        self.enter()?;
        let start = first.start;
        let mut operands = vec![first];
        while self.eat(&TokenKind::And) {
            operands.push(self.comparison_chain(Level::Equality)?);
        }
        self.leave();
        Ok(Node {
            kind: NodeKind::And(operands),
            start,
        })
    }

    /// `==`/`!=` over `<`-level chains, or `<`/`<=`/`>`/`>=` over unary operands.
    fn comparison_chain(&mut self, level: Level) -> Result<Node, ExprError> {
        let first = match level {
            Level::Equality => self.comparison_chain(Level::Relational)?,
            Level::Relational => self.unary()?,
        };
        let mut rest = Vec::new();
        while let Some(op) = self.compare_op(level) {
            self.offset += 1;
            let operand = match level {
                Level::Equality => self.comparison_chain(Level::Relational)?,
                Level::Relational => self.unary()?,
            };
            rest.push((op, operand));
        }
        if rest.is_empty() {
            return Ok(first);
        }
        let start = first.start;
        Ok(Node {
            kind: NodeKind::Compare {
                first: Box::new(first),
                rest,
            },
            start,
        })
    }

    fn compare_op(&self, level: Level) -> Option<CompareOp> {
        match (level, &self.peek().kind) {
            (Level::Equality, TokenKind::EqualEqual) => Some(CompareOp::Equal),
            (Level::Equality, TokenKind::BangEqual) => Some(CompareOp::NotEqual),
            (Level::Relational, TokenKind::Less) => Some(CompareOp::Less),
            (Level::Relational, TokenKind::LessEqual) => Some(CompareOp::LessEqual),
            (Level::Relational, TokenKind::Greater) => Some(CompareOp::Greater),
            (Level::Relational, TokenKind::GreaterEqual) => Some(CompareOp::GreaterEqual),
            _ => None,
        }
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if self.check(&TokenKind::Bang) {
            let start = self.next().start;
            self.enter()?;
            let operand = self.unary();
            self.leave();
            return Ok(Node {
                kind: NodeKind::Not(Box::new(operand?)),
                start,
            });
        }
        self.postfix()
    }

    /// `.name`, `.*`, `[index]` and `[*]` after a context, a call or a parenthesised expression.
    fn postfix(&mut self) -> Result<Node, ExprError> {
        let (mut node, accepts_postfix) = self.call()?;
        if !accepts_postfix {
            return Ok(node);
        }
        let depth_before = self.depth;
        let result = loop {
            if self.eat(&TokenKind::LeftBracket) {
                let index = if self.eat(&TokenKind::Star) {
                    Index::Star
                } else {
                    match self.expression() {
                        Ok(index) => Index::Expr(Box::new(index)),
                        Err(err) => break Err(err),
                    }
                };
                if !self.eat(&TokenKind::RightBracket) {
                    break Err(self.unexpected_symbol(self.peek()));
                }
                if let Err(err) = self.enter() {
                    break Err(err);
                }
                let start = node.start;
                node = Node {
                    kind: NodeKind::Index {
                        target: Box::new(node),
                        index,
                    },
                    start,
                };
            } else if self.eat(&TokenKind::Dot) {
                if let Err(err) = self.enter() {
                    break Err(err);
                }
                let index = if self.check(&TokenKind::Identifier) {
                    let name = self.next().lexeme.clone();
                    let position = array_position(&name);
                    Index::Property { name, position }
                } else if self.eat(&TokenKind::Star) {
                    Index::Star
                } else {
                    break Err(self.unexpected_symbol(self.peek()));
                };
                let start = node.start;
                node = Node {
                    kind: NodeKind::Index {
                        target: Box::new(node),
                        index,
                    },
                    start,
                };
            } else {
                break Ok(node);
            }
        };
        self.depth = depth_before;
        result
    }

    /// A context name or a function call (`true` in the result: it may take postfix operators),
    /// or a primary expression.
    fn call(&mut self) -> Result<(Node, bool), ExprError> {
        if !self.check(&TokenKind::Identifier) {
            return self.primary();
        }
        let identifier = self.next();
        let start = identifier.start;
        if !self.eat(&TokenKind::LeftParen) {
            let name = identifier.lexeme.to_ascii_lowercase();
            if !self
                .named_values
                .iter()
                .any(|known| known.eq_ignore_ascii_case(&name))
            {
                return Err(ExprError {
                    kind: ExprErrorKind::Parsing,
                    column: start,
                    message: format!("unrecognized named-value `{}`", identifier.lexeme),
                });
            }
            return Ok((
                Node {
                    kind: NodeKind::Context(name),
                    start,
                },
                true,
            ));
        }
        let mut args = Vec::new();
        while !self.eat(&TokenKind::RightParen) {
            args.push(self.expression()?);
            if !self.check(&TokenKind::RightParen) && !self.eat(&TokenKind::Comma) {
                return Err(self.unexpected_symbol(self.peek()));
            }
        }
        let function = Function::resolve(&identifier.lexeme, args.len(), start)?;
        Ok((
            Node {
                kind: NodeKind::Call { function, args },
                start,
            },
            true,
        ))
    }

    fn primary(&mut self) -> Result<(Node, bool), ExprError> {
        let token = self.peek();
        let start = token.start;
        let kind = match &token.kind {
            TokenKind::False => NodeKind::Bool(false),
            TokenKind::True => NodeKind::Bool(true),
            TokenKind::Null => NodeKind::Null,
            TokenKind::Number(n) => NodeKind::Number(*n),
            TokenKind::String(s) => NodeKind::String(s.clone()),
            TokenKind::LeftParen => {
                self.offset += 1;
                let inner = self.expression()?;
                if self.at_end() {
                    return Err(self.unexpected_end());
                }
                if !self.eat(&TokenKind::RightParen) {
                    return Err(self.unexpected_symbol(self.peek()));
                }
                return Ok((inner, true));
            }
            TokenKind::End => return Err(self.unexpected_end()),
            _ => return Err(self.unexpected_symbol(token)),
        };
        self.offset += 1;
        Ok((Node { kind, start }, false))
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ExprError {
                kind: ExprErrorKind::Parsing,
                column: self.peek().start,
                message: format!("exceeded max expression depth {MAX_DEPTH}"),
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn peek(&self) -> &'t Token {
        self.tokens.get(self.offset).unwrap_or(&END)
    }

    fn previous(&self) -> &'t Token {
        self.offset
            .checked_sub(1)
            .and_then(|i| self.tokens.get(i))
            .unwrap_or(&END)
    }

    fn next(&mut self) -> &'t Token {
        if !self.at_end() {
            self.offset += 1;
        }
        self.previous()
    }

    fn at_end(&self) -> bool {
        self.peek().kind == TokenKind::End
    }

    fn check(&self, kind: &TokenKind) -> bool {
        !self.at_end() && &self.peek().kind == kind
    }

    fn eat(&mut self, kind: &TokenKind) -> bool {
        let found = self.check(kind);
        if found {
            self.offset += 1;
        }
        found
    }

    fn unexpected_symbol(&self, token: &Token) -> ExprError {
        if token.kind == TokenKind::End {
            return ExprError {
                kind: ExprErrorKind::Parsing,
                column: token.start,
                message: "unexpected end of expression".to_string(),
            };
        }
        ExprError {
            kind: ExprErrorKind::Parsing,
            column: token.start,
            message: format!("unexpected symbol `{}`", token.lexeme),
        }
    }

    /// Reported at the last token before the end, as GitHub does.
    fn unexpected_end(&self) -> ExprError {
        let last = self.previous();
        ExprError {
            kind: ExprErrorKind::Parsing,
            column: last.start,
            message: format!("unexpected end of expression after `{}`", last.lexeme),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Level {
    Equality,
    Relational,
}

/// The array index a property name stands for (`foo.1` cannot be written, but `foo['1']` and a
/// property named like a number behave the same way).
fn array_position(name: &str) -> Option<usize> {
    index_position(parse_number(name))
}

/// GitHub's array index from a number: finite, not negative, truncated.
pub(crate) fn index_position(number: f64) -> Option<usize> {
    if number.is_finite() && number >= 0.0 {
        // Saturates for numbers beyond usize; such an index is out of range anyway.
        Some(number.floor() as usize)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::lexer::tokenize;

    fn parse_source(source: &str) -> Result<Option<Node>, ExprError> {
        parse(&tokenize(source)?, &["github"])
    }

    /// Depth is counted as GitHub counts it: one for the expression, one per `!`, per `.x`/`[i]`,
    /// per `&&`/`||` chain and per nested argument or parenthesis. 50 levels pass, 51 fail.
    #[test]
    fn depth_limit_is_exact() {
        let ok_and_err = |make: &dyn Fn(usize) -> String, levels: usize| {
            assert!(parse_source(&make(levels)).is_ok(), "{}", make(levels));
            let err = parse_source(&make(levels + 1)).err();
            assert_eq!(
                err.map(|e| e.kind),
                Some(ExprErrorKind::Parsing),
                "{}",
                make(levels + 1)
            );
        };
        ok_and_err(&|n| format!("{}true", "!".repeat(n)), 49);
        ok_and_err(&|n| format!("github{}", ".a".repeat(n)), 49);
        ok_and_err(&|n| format!("github{}", "[*]".repeat(n)), 49);
        ok_and_err(&|n| format!("{}1{}", "(".repeat(n), ")".repeat(n)), 49);
        ok_and_err(
            &|n| format!("{}1{}", "toJSON(".repeat(n), ")".repeat(n)),
            49,
        );
    }

    #[test]
    fn precedence_groups_as_github_does() {
        let shape = |source: &str| match parse_source(source) {
            Ok(Some(node)) => describe(&node),
            other => format!("{other:?}"),
        };
        assert_eq!(shape("1 || 2 && 3"), "or(1, and(2, 3))");
        assert_eq!(shape("!1 == 2 < 3"), "cmp(not(1), cmp(2, 3))");
        assert_eq!(shape("1 == 2 != 3"), "cmp(1, 2, 3)");
        assert_eq!(shape("github.a['b'].*"), "idx(idx(idx(ctx, a), expr), *)");
    }

    fn describe(node: &Node) -> String {
        let list = |nodes: &mut dyn Iterator<Item = &Node>| {
            nodes.map(describe).collect::<Vec<_>>().join(", ")
        };
        match &node.kind {
            NodeKind::Number(n) => n.to_string(),
            NodeKind::Context(_) => "ctx".to_string(),
            NodeKind::Not(inner) => format!("not({})", describe(inner)),
            NodeKind::And(nodes) => format!("and({})", list(&mut nodes.iter())),
            NodeKind::Or(nodes) => format!("or({})", list(&mut nodes.iter())),
            NodeKind::Compare { first, rest } => {
                format!(
                    "cmp({})",
                    list(&mut std::iter::once(&**first).chain(rest.iter().map(|(_, n)| n)))
                )
            }
            NodeKind::Index { target, index } => {
                let index = match index {
                    Index::Star => "*".to_string(),
                    Index::Property { name, .. } => name.clone(),
                    Index::Expr(_) => "expr".to_string(),
                };
                format!("idx({}, {index})", describe(target))
            }
            other => format!("{other:?}"),
        }
    }
}
