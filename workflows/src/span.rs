//! Source positions. Every value read from a workflow file keeps where it came from so that
//! diagnostics (and expression errors found later, at run time) can point at the file, line and column.

use serde::{Deserialize, Serialize};

/// A position in a source file: byte offset plus 1-based line and column (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Span {
    /// Byte offset from the start of the file (0-based).
    pub offset: usize,
    /// Line number, starting at 1.
    pub line: u32,
    /// Column number, starting at 1, counted in characters (not bytes).
    pub column: u32,
}

impl Span {
    /// A span at byte `offset`, 1-based `line` and 1-based `column`.
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
    /// The value read from the file.
    pub value: T,
    /// Where the value starts in the file.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps `value` with the position `span` it was read at.
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
