//! Source positions. Every value read from a workflow file keeps where it came from so that
//! diagnostics (and expression errors found later, at run time) can point at the file, line and column.

use serde::{Deserialize, Serialize};

/// A position in a source file: byte offset plus 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    pub offset: usize,
    pub line: u32,
    pub column: u32,
}

impl Span {
    pub fn new(offset: usize, line: u32, column: u32) -> Span {
        Span {
            offset,
            line,
            column,
        }
    }
}

/// A value together with the position of its first character in the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}
