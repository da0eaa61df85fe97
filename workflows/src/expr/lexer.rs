//! Turns expression text into tokens, each with the character offset where it starts.
//!
//! GitHub's lexer rules: a symbol runs until a boundary character (`( ) [ ] , . ! < > = & |` or
//! whitespace); `-`, `+`, digits and a `.` that cannot be a dereference start a number, whose
//! whole symbol must read as a number; `true`, `false`, `null`, `NaN` and `Infinity` are keywords
//! except right after a `.`. The lexer knows nothing of grammar or of which names exist.

use super::value::parse_number;
use super::{ExprError, ExprErrorKind, MAX_EXPRESSION_LENGTH};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokenKind {
    LeftParen,
    RightParen,
    LeftBracket,
    RightBracket,
    Comma,
    Dot,
    Bang,
    BangEqual,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    And,
    Or,
    Star,
    Number(f64),
    String(String),
    Identifier,
    True,
    False,
    Null,
    End,
}

#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    /// The source text of the token (for identifiers: the name as written).
    pub(crate) lexeme: String,
    /// 0-based character offset of the token's first character.
    pub(crate) start: usize,
}

/// Splits `source` into tokens, ending with a [`TokenKind::End`] token.
pub(crate) fn tokenize(source: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = source.chars().collect();
    if chars.len() > MAX_EXPRESSION_LENGTH {
        return Err(ExprError {
            kind: ExprErrorKind::Parsing,
            column: MAX_EXPRESSION_LENGTH,
            message: format!("exceeded max expression length {MAX_EXPRESSION_LENGTH}"),
        });
    }
    let mut lexer = Lexer {
        chars: &chars,
        offset: 0,
        tokens: Vec::new(),
    };
    lexer.run()?;
    lexer.tokens.push(Token {
        kind: TokenKind::End,
        lexeme: String::new(),
        start: chars.len(),
    });
    Ok(lexer.tokens)
}

struct Lexer<'s> {
    chars: &'s [char],
    offset: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn run(&mut self) -> Result<(), ExprError> {
        while let Some(&c) = self.chars.get(self.offset) {
            let start = self.offset;
            self.offset += 1;
            let kind = match c {
                '(' => TokenKind::LeftParen,
                ')' => TokenKind::RightParen,
                '[' => TokenKind::LeftBracket,
                ']' => TokenKind::RightBracket,
                ',' => TokenKind::Comma,
                '*' => TokenKind::Star,
                '.' if self.dot_can_dereference() => TokenKind::Dot,
                '.' | '-' | '+' | '0'..='9' => self.number(start)?,
                '!' if self.eat('=') => TokenKind::BangEqual,
                '!' => TokenKind::Bang,
                '<' if self.eat('=') => TokenKind::LessEqual,
                '<' => TokenKind::Less,
                '>' if self.eat('=') => TokenKind::GreaterEqual,
                '>' => TokenKind::Greater,
                '=' if self.eat('=') => TokenKind::EqualEqual,
                '&' if self.eat('&') => TokenKind::And,
                '|' if self.eat('|') => TokenKind::Or,
                '\'' => self.string(start)?,
                c if c.is_whitespace() => continue,
                // Also a lone `=`, `&` or `|`: read to the next boundary and report the symbol.
                _ => self.identifier(start)?,
            };
            self.push(kind, start);
        }
        Ok(())
    }

    fn push(&mut self, kind: TokenKind, start: usize) {
        let lexeme = self.chars[start..self.offset].iter().collect();
        self.tokens.push(Token {
            kind,
            lexeme,
            start,
        });
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.chars.get(self.offset) == Some(&expected) {
            self.offset += 1;
            true
        } else {
            false
        }
    }

    /// A `.` dereferences only after something that has properties.
    fn dot_can_dereference(&self) -> bool {
        matches!(
            self.tokens.last().map(|t| &t.kind),
            Some(
                TokenKind::Identifier
                    | TokenKind::RightBracket
                    | TokenKind::RightParen
                    | TokenKind::Star
            )
        )
    }

    fn previous_is_dot(&self) -> bool {
        matches!(self.tokens.last().map(|t| &t.kind), Some(TokenKind::Dot))
    }

    fn number(&mut self, start: usize) -> Result<TokenKind, ExprError> {
        while let Some(&c) = self.chars.get(self.offset) {
            if is_boundary(c) && c != '.' {
                break;
            }
            self.offset += 1;
        }
        let lexeme: String = self.chars[start..self.offset].iter().collect();
        let value = parse_number(&lexeme);
        if value.is_nan() {
            return Err(unexpected_symbol(&lexeme, start));
        }
        Ok(TokenKind::Number(value))
    }

    fn string(&mut self, start: usize) -> Result<TokenKind, ExprError> {
        let mut value = String::new();
        loop {
            match self.chars.get(self.offset) {
                None => {
                    let rest: String = self.chars[start..].iter().collect();
                    return Err(unexpected_symbol(&rest, start));
                }
                Some('\'') if self.chars.get(self.offset + 1) == Some(&'\'') => {
                    value.push('\'');
                    self.offset += 2;
                }
                Some('\'') => {
                    self.offset += 1;
                    return Ok(TokenKind::String(value));
                }
                Some(&c) => {
                    value.push(c);
                    self.offset += 1;
                }
            }
        }
    }

    fn identifier(&mut self, start: usize) -> Result<TokenKind, ExprError> {
        while self
            .chars
            .get(self.offset)
            .is_some_and(|c| !is_boundary(*c))
        {
            self.offset += 1;
        }
        let symbol = &self.chars[start..self.offset];
        if !is_legal_identifier(symbol) {
            let lexeme: String = symbol.iter().collect();
            return Err(unexpected_symbol(&lexeme, start));
        }
        if self.previous_is_dot() {
            return Ok(TokenKind::Identifier);
        }
        let word: String = symbol.iter().collect();
        Ok(match word.as_str() {
            "true" => TokenKind::True,
            "false" => TokenKind::False,
            "null" => TokenKind::Null,
            "NaN" => TokenKind::Number(f64::NAN),
            "Infinity" => TokenKind::Number(f64::INFINITY),
            _ => TokenKind::Identifier,
        })
    }
}

fn is_boundary(c: char) -> bool {
    matches!(
        c,
        '(' | '[' | ')' | ']' | ',' | '.' | '!' | '>' | '<' | '=' | '&' | '|'
    ) || c.is_whitespace()
}

/// `[A-Za-z_][A-Za-z0-9_-]*`
fn is_legal_identifier(symbol: &[char]) -> bool {
    match symbol.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == '_')
                && rest
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        }
        None => false,
    }
}

fn unexpected_symbol(symbol: &str, start: usize) -> ExprError {
    ExprError {
        kind: ExprErrorKind::Lexing,
        column: start,
        message: format!("unexpected symbol `{symbol}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        tokenize(source)
            .map(|tokens| tokens.into_iter().map(|t| t.kind).collect())
            .unwrap_or_default()
    }

    #[test]
    fn dots_dereference_only_after_values() {
        assert_eq!(
            kinds("a.b"),
            vec![
                TokenKind::Identifier,
                TokenKind::Dot,
                TokenKind::Identifier,
                TokenKind::End
            ]
        );
        assert_eq!(kinds(".5"), vec![TokenKind::Number(0.5), TokenKind::End]);
        assert_eq!(kinds("a.true")[2], TokenKind::Identifier);
    }

    #[test]
    fn strings_unescape_doubled_quotes() {
        assert_eq!(
            kinds("'it''s ''x'''")[0],
            TokenKind::String("it's 'x'".to_string())
        );
    }

    #[test]
    fn bad_symbols_report_their_offset() {
        let check = |source: &str, column: usize| {
            let err = tokenize(source).err();
            assert_eq!(
                err.map(|e| (e.kind, e.column)),
                Some((ExprErrorKind::Lexing, column)),
                "{source}"
            );
        };
        check("1 = < 2", 2);
        check("foo.b@r", 4);
        check("'open", 0);
        check("a && 0xZZ", 5);
        check("😊 x", 0);
    }
}
