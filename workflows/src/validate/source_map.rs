//! Turning a position inside a scalar's value into a file position. The model gives each value the
//! position of its first character; a finding inside a value (an expression error at column 30 of a
//! `run:` script) is placed by finding that part of the value again in the file text. Best effort:
//! when the text cannot be found (escapes in a quoted scalar), the value's own position is used.

use crate::span::Span;

pub(crate) struct SourceMap<'a> {
    source: &'a str,
    /// Byte offset of the start of each line.
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    pub(crate) fn new(source: &'a str) -> SourceMap<'a> {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(index, _)| index + 1));
        SourceMap { source, line_starts }
    }

    /// The file position of byte `index` of `value`, whose first character is at `value_span`.
    pub(crate) fn locate(&self, value_span: Span, value: &str, index: usize) -> Span {
        if index == 0 && !value.is_empty() {
            if let Some(found) = self.find_from(self.offset_of(value_span), value.lines().next().unwrap_or(""), 0) {
                return self.span_at(found);
            }
            return value_span;
        }
        let index = floor_char_boundary(value, index);
        let start = self.offset_of(value_span);
        let (before, after) = value.split_at(index);
        // Look for the text from `index` to the end of its line; count earlier occurrences so that
        // the same text appearing twice in the value maps to the right one.
        let forward = cut(after.split('\n').next().unwrap_or(""), 48);
        if !forward.trim().is_empty() {
            let earlier = count_occurrences(before, forward);
            if let Some(found) = self.find_from(start, forward, earlier) {
                return self.span_at(found);
            }
        }
        // Otherwise look for the text before `index` on its line and place the position after it.
        let backward = before.rsplit('\n').next().unwrap_or("");
        let backward = tail(backward, 48);
        if !backward.trim().is_empty() {
            let earlier = count_occurrences(before, backward).saturating_sub(1);
            if let Some(found) = self.find_from(start, backward, earlier) {
                return self.span_at(found + backward.len());
            }
        }
        if !before.contains('\n') {
            let column = value_span.column + u32::try_from(before.chars().count()).unwrap_or(0);
            return Span::new(start + index, value_span.line, column);
        }
        value_span
    }

    /// Byte offset of a span, recomputed from its line and column (the offset field may be unset).
    pub(crate) fn offset_of(&self, span: Span) -> usize {
        let Some(line_index) = (span.line as usize).checked_sub(1) else { return span.offset };
        let Some(&line_start) = self.line_starts.get(line_index) else { return self.source.len() };
        let line = self.source.get(line_start..).unwrap_or("");
        let skip = (span.column as usize).saturating_sub(1);
        let within = line.char_indices().nth(skip).map_or(line.len(), |(byte, _)| byte);
        line_start + within
    }

    /// The span of a byte offset in the file.
    pub(crate) fn span_at(&self, offset: usize) -> Span {
        let offset = floor_char_boundary(self.source, offset.min(self.source.len()));
        let line_index = self.line_starts.partition_point(|&start| start <= offset).saturating_sub(1);
        let line_start = self.line_starts.get(line_index).copied().unwrap_or(0);
        let column = self.source.get(line_start..offset).map_or(0, |text| text.chars().count());
        Span::new(offset, u32::try_from(line_index + 1).unwrap_or(u32::MAX), u32::try_from(column + 1).unwrap_or(u32::MAX))
    }

    /// Offset of the `skip + 1`-th occurrence of `needle` at or after `start`.
    fn find_from(&self, start: usize, needle: &str, skip: usize) -> Option<usize> {
        let haystack = self.source.get(start..)?;
        haystack.match_indices(needle).nth(skip).map(|(index, _)| start + index)
    }
}

fn count_occurrences(before: &str, needle: &str) -> usize {
    before.match_indices(needle).count()
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn cut(text: &str, max: usize) -> &str {
    let end = floor_char_boundary(text, max);
    text.get(..end).unwrap_or(text)
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text.get(start..).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_inside_plain_quoted_and_block_scalars() {
        let source = "a: x ${{ b }}\nc: 'y ${{ d }}'\ne: |\n  one\n  two ${{ f }}\n";
        let map = SourceMap::new(source);
        let at = |line, column, value: &str, index| {
            let span = map.locate(Span::new(0, line, column), value, index);
            (span.line, span.column)
        };
        assert_eq!(at(1, 4, "x ${{ b }}", 2), (1, 6));
        assert_eq!(at(2, 4, "y ${{ d }}", 2), (2, 7));
        assert_eq!(at(3, 4, "one\ntwo ${{ f }}\n", 8), (5, 7));
        assert_eq!(map.span_at(source.len()).line, 6);
    }
}
