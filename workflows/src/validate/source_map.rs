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
        SourceMap {
            source,
            line_starts,
        }
    }

    /// The file position of byte `index` of `value`, a scalar whose first character (or quote or
    /// block indicator) is at `value_span`.
    pub(crate) fn locate(&self, value_span: Span, value: &str, index: usize) -> Span {
        let index = floor_char_boundary(value, index);
        let char_offset = value
            .get(..index)
            .map_or(0, |before| before.chars().count());
        crate::yaml::position_in_scalar(self.source, value_span, value, char_offset)
    }

    /// The position of a string found inside a larger node (a matrix list, a `with:` map) that
    /// starts at `container`: the first place at or after it where the string's first line appears.
    pub(crate) fn find_value(&self, container: Span, value: &str) -> Span {
        let first_line = value.lines().next().unwrap_or("");
        if first_line.is_empty() {
            return container;
        }
        let start = self.offset_of(container);
        match self.find_from(start, first_line, 0) {
            Some(found) => {
                // Step back onto an opening quote so the scalar reads as quoted.
                let quote = found
                    .checked_sub(1)
                    .and_then(|at| self.source.get(at..found));
                if matches!(quote, Some("'") | Some("\"")) {
                    self.span_at(found - 1)
                } else {
                    self.span_at(found)
                }
            }
            None => container,
        }
    }

    /// The position of the `skip + 1`-th occurrence of `needle` at or after `start` (else `start`).
    pub(crate) fn find_nth(&self, start: Span, needle: &str, skip: usize) -> Span {
        self.find_from(self.offset_of(start), needle, skip)
            .map_or(start, |found| self.span_at(found))
    }

    /// Byte offset of a span, recomputed from its line and column (the offset field may be unset).
    pub(crate) fn offset_of(&self, span: Span) -> usize {
        let Some(line_index) = (span.line as usize).checked_sub(1) else {
            return span.offset;
        };
        let Some(&line_start) = self.line_starts.get(line_index) else {
            return self.source.len();
        };
        let line = self.source.get(line_start..).unwrap_or("");
        let skip = (span.column as usize).saturating_sub(1);
        let within = line
            .char_indices()
            .nth(skip)
            .map_or(line.len(), |(byte, _)| byte);
        line_start + within
    }

    /// The span of a byte offset in the file.
    pub(crate) fn span_at(&self, offset: usize) -> Span {
        let offset = floor_char_boundary(self.source, offset.min(self.source.len()));
        let line_index = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let line_start = self.line_starts.get(line_index).copied().unwrap_or(0);
        let column = self
            .source
            .get(line_start..offset)
            .map_or(0, |text| text.chars().count());
        Span::new(
            offset,
            u32::try_from(line_index + 1).unwrap_or(u32::MAX),
            u32::try_from(column + 1).unwrap_or(u32::MAX),
        )
    }

    /// Offset of the `skip + 1`-th occurrence of `needle` at or after `start`.
    fn find_from(&self, start: usize, needle: &str, skip: usize) -> Option<usize> {
        let haystack = self.source.get(start..)?;
        haystack
            .match_indices(needle)
            .nth(skip)
            .map(|(index, _)| start + index)
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_inside_scalars_and_finds_values_in_lists() {
        let source =
            "a: x ${{ b }}\nc: 'y ${{ d }}'\ne: |\n  one\n  two ${{ f }}\nm: [1, 'q ${{ r }}']\n";
        let map = SourceMap::new(source);
        let at = |span: Span| (span.line, span.column);
        assert_eq!(at(map.locate(map.span_at(3), "x ${{ b }}", 2)), (1, 6));
        assert_eq!(at(map.locate(map.span_at(17), "y ${{ d }}", 2)), (2, 7));
        assert_eq!(
            at(map.locate(map.span_at(33), "one\ntwo ${{ f }}\n", 8)),
            (5, 7)
        );
        let found = map.find_value(map.span_at(56), "q ${{ r }}");
        assert_eq!(at(found), (6, 8));
        assert_eq!(at(map.locate(found, "q ${{ r }}", 2)), (6, 11));
        assert_eq!(map.span_at(source.len()).line, 7);
    }
}
