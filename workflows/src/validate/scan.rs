//! A light lexical look at expression text: where each `${{ }}` of a string starts and ends, and
//! which contexts, properties and functions an expression names, with their offsets. It does not
//! parse or evaluate (the `expr` module does); it only gives validation positions and names.

/// One `${{ … }}` inside a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Embedded {
    /// Byte offset of `${{` in the string.
    pub start: usize,
    /// Byte offset of the expression text (just after `${{`).
    pub inner_start: usize,
    /// The expression text between `${{` and `}}`.
    pub inner: String,
    /// Byte offset just past `}}` (the string's end when unclosed).
    pub end: usize,
    pub closed: bool,
}

/// Splits a string into its `${{ }}` parts. `}}` inside a single-quoted string literal does not
/// close an expression.
pub(crate) fn embedded_expressions(text: &str) -> Vec<Embedded> {
    let mut found = Vec::new();
    let mut position = 0;
    while let Some(relative) = text.get(position..).and_then(|rest| rest.find("${{")) {
        let start = position + relative;
        let inner_start = start + 3;
        let rest = text.get(inner_start..).unwrap_or("");
        let mut in_string = false;
        let mut close = None;
        let bytes = rest.as_bytes();
        let mut index = 0;
        while index < bytes.len() {
            match bytes.get(index) {
                Some(b'\'') => in_string = !in_string,
                Some(b'}') if !in_string && bytes.get(index + 1) == Some(&b'}') => {
                    close = Some(index);
                    break;
                }
                _ => {}
            }
            index += 1;
        }
        match close {
            Some(close) => {
                found.push(Embedded {
                    start,
                    inner_start,
                    inner: rest.get(..close).unwrap_or("").to_string(),
                    end: inner_start + close + 2,
                    closed: true,
                });
                position = inner_start + close + 2;
            }
            None => {
                found.push(Embedded {
                    start,
                    inner_start,
                    inner: rest.to_string(),
                    end: text.len(),
                    closed: false,
                });
                break;
            }
        }
    }
    found
}

/// A context named in an expression (`matrix.os` → context `matrix`, property `os`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reference {
    /// Lowercase context name.
    pub context: String,
    /// Byte offset in the expression text.
    pub offset: usize,
    /// The first property, as written, with its offset.
    pub property: Option<(String, usize)>,
}

/// A function call in an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    /// Lowercase function name.
    pub name: String,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Identifier(String),
    StringLiteral(String),
    Other(char),
    Number,
}

/// The contexts and functions an expression names.
pub(crate) fn references(expression: &str) -> (Vec<Reference>, Vec<Call>) {
    let tokens = tokenize(expression);
    let mut references = Vec::new();
    let mut calls = Vec::new();
    for (index, (offset, token)) in tokens.iter().enumerate() {
        let Token::Identifier(name) = token else {
            continue;
        };
        let after_dot = index
            .checked_sub(1)
            .and_then(|i| tokens.get(i))
            .is_some_and(|(_, t)| *t == Token::Other('.'));
        if after_dot {
            continue;
        }
        let next = tokens.get(index + 1).map(|(_, t)| t);
        if next == Some(&Token::Other('(')) {
            calls.push(Call {
                name: name.to_ascii_lowercase(),
                offset: *offset,
            });
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "true" | "false" | "null" | "nan" | "infinity"
        ) {
            continue;
        }
        let property = match (next, tokens.get(index + 2), tokens.get(index + 3)) {
            (Some(Token::Other('.')), Some((at, Token::Identifier(property))), _) => {
                Some((property.clone(), *at))
            }
            (
                Some(Token::Other('[')),
                Some((at, Token::StringLiteral(property))),
                Some((_, Token::Other(']'))),
            ) => Some((property.clone(), *at)),
            _ => None,
        };
        references.push(Reference {
            context: lower,
            offset: *offset,
            property,
        });
    }
    (references, calls)
}

fn tokenize(expression: &str) -> Vec<(usize, Token)> {
    let mut tokens = Vec::new();
    let mut chars = expression.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        if c == '\'' {
            let mut literal = String::new();
            while let Some((_, inner)) = chars.next() {
                if inner == '\'' {
                    if chars.peek().is_some_and(|(_, next)| *next == '\'') {
                        chars.next();
                        literal.push('\'');
                        continue;
                    }
                    break;
                }
                literal.push(inner);
            }
            tokens.push((offset, Token::StringLiteral(literal)));
        } else if c.is_ascii_digit() {
            let mut previous = c;
            while let Some(&(_, next)) = chars.peek() {
                let exponent_sign = matches!(previous, 'e' | 'E') && matches!(next, '+' | '-');
                if next.is_ascii_alphanumeric() || next == '.' || exponent_sign {
                    previous = next;
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push((offset, Token::Number));
        } else if c.is_alphabetic() || c == '_' {
            let mut name = String::from(c);
            while let Some(&(_, next)) = chars.peek() {
                if next.is_alphanumeric() || next == '_' || next == '-' {
                    name.push(next);
                    chars.next();
                } else {
                    break;
                }
            }
            tokens.push((offset, Token::Identifier(name)));
        } else {
            tokens.push((offset, Token::Other(c)));
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_templates() {
        let parts = embedded_expressions("a ${{ x }} b ${{ '}}' }} c ${{ open");
        let inner: Vec<_> = parts
            .iter()
            .map(|p| (p.start, p.inner.as_str(), p.closed))
            .collect();
        assert_eq!(
            inner,
            vec![(2, " x ", true), (13, " '}}' ", true), (27, " open", false)]
        );
    }

    #[test]
    fn finds_contexts_properties_and_calls() {
        let (refs, calls) = references(
            "matrix.os == 'x' && steps['my-step'].outputs.a || contains(github.event.x, env.Y)",
        );
        let named: Vec<_> = refs
            .iter()
            .map(|r| {
                (
                    r.context.as_str(),
                    r.property.as_ref().map(|p| p.0.as_str()),
                )
            })
            .collect();
        assert_eq!(
            named,
            vec![
                ("matrix", Some("os")),
                ("steps", Some("my-step")),
                ("github", Some("event")),
                ("env", Some("Y"))
            ]
        );
        assert_eq!(
            calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            vec!["contains"]
        );
        assert_eq!(refs.get(2).map(|r| r.offset), Some(59));
        let (refs, _) = references("1e+5 == true || null");
        assert!(refs.is_empty());
    }
}
