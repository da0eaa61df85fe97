//! Splits a string into literal text and `${{ … }}` expressions.
//!
//! An expression ends at the first `}}` outside a string literal, so `${{ '}}' }}` is one
//! expression. There is no escape for `${{` in literal text (GitHub has none either). This module
//! only finds the pieces; parsing them is the parser's work.

use super::{ExprError, ExprErrorKind};

/// One piece of a template, by character offsets into the template text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(String),
    /// The text between `${{` and `}}`, and the character offset where that text starts.
    Expression {
        text: String,
        start: usize,
    },
}

pub(crate) fn split(source: &str) -> Result<Vec<Piece>, ExprError> {
    let chars: Vec<char> = source.chars().collect();
    let mut pieces = Vec::new();
    let mut literal_start = 0;
    let mut i = 0;
    while i + 2 < chars.len() {
        if !(chars[i] == '$' && chars[i + 1] == '{' && chars[i + 2] == '{') {
            i += 1;
            continue;
        }
        let open = i;
        let inner_start = i + 3;
        let Some(inner_end) = find_close(&chars, inner_start) else {
            return Err(ExprError {
                kind: ExprErrorKind::Parsing,
                column: open,
                message: "unclosed `${{`: no matching `}}` follows it".to_string(),
            });
        };
        if open > literal_start {
            pieces.push(Piece::Literal(chars[literal_start..open].iter().collect()));
        }
        let text: String = chars[inner_start..inner_end].iter().collect();
        if text.trim().is_empty() {
            return Err(ExprError {
                kind: ExprErrorKind::Parsing,
                column: open,
                message: "expected an expression between `${{` and `}}`".to_string(),
            });
        }
        pieces.push(Piece::Expression {
            text,
            start: inner_start,
        });
        i = inner_end + 2;
        literal_start = i;
    }
    if literal_start < chars.len() {
        pieces.push(Piece::Literal(chars[literal_start..].iter().collect()));
    }
    Ok(pieces)
}

/// The offset of the `}}` closing an expression whose text starts at `from`.
fn find_close(chars: &[char], from: usize) -> Option<usize> {
    let mut in_string = false;
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            // A doubled quote inside a string toggles twice: it stays a string.
            '\'' => in_string = !in_string,
            '}' if !in_string && chars.get(i + 1) == Some(&'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expression(text: &str, start: usize) -> Piece {
        Piece::Expression {
            text: text.to_string(),
            start,
        }
    }

    #[test]
    fn splits_literals_and_expressions() {
        assert_eq!(
            split("plain").ok(),
            Some(vec![Piece::Literal("plain".to_string())])
        );
        assert_eq!(split("${{ a }}").ok(), Some(vec![expression(" a ", 3)]));
        assert_eq!(
            split("x ${{ '}}' }} y").ok(),
            Some(vec![
                Piece::Literal("x ".to_string()),
                expression(" '}}' ", 5),
                Piece::Literal(" y".to_string())
            ])
        );
        assert_eq!(
            split("${{a}}${{b}}").ok(),
            Some(vec![expression("a", 3), expression("b", 9)])
        );
        assert_eq!(
            split("$ { ${").ok(),
            Some(vec![Piece::Literal("$ { ${".to_string())])
        );
    }

    #[test]
    fn reports_unclosed_and_empty_expressions() {
        assert_eq!(split("ab ${{ x").err().map(|e| e.column), Some(3));
        assert_eq!(split("${{ '}} ").err().map(|e| e.column), Some(0));
        assert_eq!(split("a${{  }}").err().map(|e| e.column), Some(1));
    }
}
