//! YAML text → a generic tree of spanned nodes (the one place that knows the YAML library).
//!
//! Everything above this module (the model builder, validation) sees only [`Node`]s: scalars that
//! remember their style and YAML-1.2-core-schema type, sequences, and ordered mappings whose keys
//! carry positions. This module must not know anything about workflows beyond the wording of its
//! budgets; it never panics and bounds time and memory on hostile input.
//!
//! Library choice: serde-saphyr 2 (chosen in DESIGN.md) is serde-oriented; its `Spanned<T>` only
//! works through typed deserialisation, so it cannot give a generic tree with a position on every
//! key and value, the scalar style, or the source layout of block scalars. serde-saphyr builds on
//! the `granit-parser` event parser and re-exports it (`serde_saphyr::granit_parser`), so we drive
//! that event stream ourselves: no new dependency, the same YAML 1.2 grammar serde-saphyr uses,
//! byte offsets on every event, and the parser keeps its own state on a heap stack (no recursion).
//! Tree building below is iterative too, so nesting depth costs no native stack.

use std::collections::{HashMap, HashSet};

use serde_saphyr::granit_parser::{self as granit, Event, Parser};

use crate::span::Span;

/// Largest workflow file accepted, in bytes.
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;
/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 256;
/// Most nodes that aliases may copy into the tree in one file (guards against "billion laughs").
pub const MAX_ALIAS_NODES: usize = 100_000;
/// Most nodes that anchors may hold in total (nested anchors count their contents again).
pub const MAX_ANCHORED_NODES: usize = 1_000_000;

/// A YAML error: what is wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at line {}, column {}", span.line, span.column)]
pub struct YamlError {
    /// Where the error is in the file.
    pub span: Span,
    /// What is wrong, in words.
    pub message: String,
}

/// One node of the tree with the position of its first character (for collections: their first
/// entry or opening bracket; for scalars: the first quote, block indicator or character).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts in the file (see above).
    pub span: Span,
    /// The node's content: a scalar, a sequence or a mapping.
    pub value: NodeValue,
}

/// What a YAML [`Node`] holds.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// A single value (string, number, boolean or null).
    Scalar(Scalar),
    /// A list; its items in source order.
    Sequence(Vec<Node>),
    /// Entries in source order, merge keys already applied, no duplicate keys.
    Mapping(Vec<Entry>),
}

/// A mapping entry. Keys are always scalars; `key` is their text.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key's text as a string.
    pub key: String,
    /// Where the key starts in the file.
    pub key_span: Span,
    /// The value the key maps to.
    pub value: Node,
}

/// A scalar value: its text as processed, how it was written and the type it resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The value after escape processing and line folding. For plain scalars this is the text as
    /// written, so `1.0`, `0x1F` or `True` keep their original spelling.
    pub text: String,
    /// How the scalar was written (plain, quoted or a block scalar).
    pub style: ScalarStyle,
    /// The type the scalar resolves to under the YAML 1.2 core schema.
    pub kind: ScalarKind,
}

/// How a scalar was written in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Without quotes (`value`); the only style that may resolve to a non-string type.
    Plain,
    /// In single quotes (`'value'`).
    SingleQuoted,
    /// In double quotes (`"value"`), with escape sequences processed.
    DoubleQuoted,
    /// `|` block.
    Literal,
    /// `>` block.
    Folded,
}

/// The YAML 1.2 core-schema type of a scalar. Only plain scalars resolve to anything but `String`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScalarKind {
    /// A plain `null`, `Null`, `NULL`, `~` or nothing at all.
    Null,
    /// `true` or `false` (also `True`/`TRUE`, …).
    Bool(bool),
    /// An integer in decimal, octal (`0o`) or hexadecimal (`0x`) notation.
    Int(i64),
    /// A floating-point number, including `.inf` and `.nan`.
    Float(f64),
    /// Anything else, and every quoted or block scalar.
    String,
}

impl Node {
    /// The scalar this node holds, or `None` for a sequence or mapping.
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            NodeValue::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// The entries of a mapping node, or `None` for a scalar or sequence.
    pub fn as_mapping(&self) -> Option<&[Entry]> {
        match &self.value {
            NodeValue::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence node, or `None` for a scalar or mapping.
    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Sequence(items) => Some(items),
            _ => None,
        }
    }

    /// Whether the node is a null scalar (`null`, `~` or nothing written).
    pub fn is_null(&self) -> bool {
        matches!(
            &self.value,
            NodeValue::Scalar(Scalar {
                kind: ScalarKind::Null,
                ..
            })
        )
    }

    /// What kind of value this is, for messages: "a string", "a number", "a list", ….
    pub fn describe(&self) -> &'static str {
        match &self.value {
            NodeValue::Scalar(scalar) => match scalar.kind {
                ScalarKind::Null => "null",
                ScalarKind::Bool(_) => "a boolean",
                ScalarKind::Int(_) | ScalarKind::Float(_) => "a number",
                ScalarKind::String => "a string",
            },
            NodeValue::Sequence(_) => "a list",
            NodeValue::Mapping(_) => "a mapping",
        }
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_mapping()?
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| &entry.value)
    }

    /// The node as a JSON value: scalars by their core-schema type (non-finite floats keep their
    /// text), sequences as arrays, mappings as objects.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Scalar(scalar) => match scalar.kind {
                ScalarKind::Null => Value::Null,
                ScalarKind::Bool(b) => Value::Bool(b),
                ScalarKind::Int(i) => Value::from(i),
                ScalarKind::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(scalar.text.clone())),
                ScalarKind::String => Value::String(scalar.text.clone()),
            },
            NodeValue::Sequence(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|entry| (entry.key.clone(), entry.value.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Parses one YAML document. Returns the root node (`None` for an empty stream or a fatal error)
/// and every error found; duplicate keys and bad merges do not stop the parse, syntax errors and
/// exhausted budgets do.
pub fn parse(source: &str) -> (Option<Node>, Vec<YamlError>) {
    let lines = LineIndex::new(source);
    if source.len() > MAX_FILE_BYTES {
        let message = format!(
            "workflow file is too large ({} bytes, limit {} bytes)",
            source.len(),
            MAX_FILE_BYTES
        );
        return (
            None,
            vec![YamlError {
                span: Span::new(0, 1, 1),
                message,
            }],
        );
    }
    if let Some(error) = find_disallowed_character(source, &lines) {
        return (None, vec![error]);
    }
    TreeBuilder::new(source, &lines).run()
}

/// Maps a character offset inside a string scalar's value to its position in the file.
///
/// `scalar_span` is the span of the scalar node (as kept in the model) and `value` its text.
/// Exact for plain and quoted scalars on one line and for literal (`|`) block scalars; a best
/// effort (never a panic, always a position inside or at the start of the scalar) otherwise.
pub fn position_in_scalar(
    source: &str,
    scalar_span: Span,
    value: &str,
    char_offset: usize,
) -> Span {
    // Work forward from the scalar only, so the cost is the scalar's length, not the file's.
    let Some(rest) = source.get(scalar_span.offset..) else {
        return scalar_span;
    };
    let content_after_header = || rest.find('\n').map(|at| scalar_span.offset + at + 1);
    let target = match rest.chars().next() {
        Some('|') => content_after_header()
            .and_then(|content| literal_offset(source, content, value, char_offset)),
        Some('>') => content_after_header()
            .and_then(|content| walk_offset(source, content, value, char_offset, Quoting::None)),
        Some('\'') => walk_offset(
            source,
            scalar_span.offset + 1,
            value,
            char_offset,
            Quoting::Single,
        ),
        Some('"') => walk_offset(
            source,
            scalar_span.offset + 1,
            value,
            char_offset,
            Quoting::Double,
        ),
        _ => walk_offset(
            source,
            scalar_span.offset,
            value,
            char_offset,
            Quoting::None,
        ),
    };
    target.map_or(scalar_span, |offset| {
        span_after(source, scalar_span, offset)
    })
}

// ---------------------------------------------------------------------------------------------
// Private helpers.

/// Byte offsets of line starts, for turning byte offsets into line and column.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(source: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(source.match_indices('\n').map(|(at, _)| at + 1));
        LineIndex { starts }
    }

    /// Byte offset where 1-based `line` starts.
    fn line_start(&self, line: usize) -> Option<usize> {
        self.starts.get(line.checked_sub(1)?).copied()
    }

    fn span_at(&self, source: &str, offset: usize) -> Span {
        let offset = offset.min(source.len());
        let line_index = self
            .starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let line_start = self.starts.get(line_index).copied().unwrap_or(0);
        let column = source
            .get(line_start..offset)
            .map_or(0, |text| text.chars().count());
        Span::new(offset, to_u32(line_index + 1), to_u32(column + 1))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// YAML allows only printable characters (plus tab and line breaks); GitHub refuses the rest.
fn find_disallowed_character(source: &str, lines: &LineIndex) -> Option<YamlError> {
    let (offset, c) = source.char_indices().find(|&(_, c)| {
        let allowed = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{7E}' | '\u{85}')
            || (c >= '\u{A0}' && c != '\u{FFFE}' && c != '\u{FFFF}');
        !allowed
    })?;
    let message = if c == '\0' {
        "NUL byte is not allowed in a workflow file".to_string()
    } else {
        format!(
            "control character U+{:04X} is not allowed in a workflow file",
            u32::from(c)
        )
    };
    Some(YamlError {
        span: lines.span_at(source, offset),
        message,
    })
}

/// A collection being built.
enum Frame {
    Sequence {
        span: Span,
        anchor: usize,
        size: usize,
        items: Vec<Node>,
    },
    Mapping(MappingFrame),
}

struct MappingFrame {
    span: Span,
    anchor: usize,
    size: usize,
    entries: Vec<PendingEntry>,
    /// Explicit keys seen so far (for duplicate detection and merge precedence).
    keys: HashSet<String>,
    /// The key waiting for its value; `Err` holds the span of a key that was not a scalar.
    key: Option<Result<(String, Span, bool), Span>>,
}

enum PendingEntry {
    Explicit(Entry),
    /// A `<<` merge key and its value, expanded when the mapping ends.
    Merge(Node),
}

struct TreeBuilder<'s> {
    source: &'s str,
    lines: &'s LineIndex,
    stack: Vec<Frame>,
    root: Option<Node>,
    documents: usize,
    /// Completed anchored nodes by anchor id, with their node counts.
    anchors: HashMap<usize, (Node, usize)>,
    alias_nodes: usize,
    anchored_nodes: usize,
    errors: Vec<YamlError>,
}

impl<'s> TreeBuilder<'s> {
    fn new(source: &'s str, lines: &'s LineIndex) -> TreeBuilder<'s> {
        TreeBuilder {
            source,
            lines,
            stack: Vec::new(),
            root: None,
            documents: 0,
            anchors: HashMap::new(),
            alias_nodes: 0,
            anchored_nodes: 0,
            errors: Vec::new(),
        }
    }

    fn run(mut self) -> (Option<Node>, Vec<YamlError>) {
        // The scanner reads flow brackets ahead of the events, so its own limit may fire before
        // our depth count; both report the same message.
        let mut options = granit::Options::default();
        options.set_emit_comments(false);
        options.flow_nesting_limit = MAX_DEPTH;
        options.block_nesting_limit = MAX_DEPTH;
        for next in Parser::new_from_str_with_options(self.source, options) {
            let (event, span) = match next {
                Ok(pair) => pair,
                Err(error) => {
                    let span = self.marker_span(error.marker());
                    let message = match error.kind() {
                        granit::ErrorKind::RecursionLimitExceeded => {
                            format!("nesting deeper than {MAX_DEPTH} levels")
                        }
                        granit::ErrorKind::UnknownAnchor => {
                            let alias = self.source.get(span.offset..).unwrap_or("");
                            let name: String = alias
                                .trim_start_matches('*')
                                .chars()
                                .take_while(|c| {
                                    !c.is_whitespace() && !matches!(c, ',' | '[' | ']' | '{' | '}')
                                })
                                .collect();
                            format!("unknown anchor `{name}`")
                        }
                        _ => error.info(),
                    };
                    self.errors.push(YamlError { span, message });
                    return (None, self.errors);
                }
            };
            let tag_span = span.tag_start.map(|marker| self.marker_span(&marker));
            let span = self.marker_span(&span.start);
            if let Err(error) = self.event(event, span, tag_span.unwrap_or(span)) {
                self.errors.push(error);
                return (None, self.errors);
            }
        }
        (self.root, self.errors)
    }

    /// The parser's markers carry the line and character column; only the byte offset may be
    /// missing. Using them directly keeps this O(1) per node even on one 2 MiB line.
    fn marker_span(&self, marker: &granit::Marker) -> Span {
        match marker.byte_offset() {
            Some(offset) if offset <= self.source.len() => {
                Span::new(offset, to_u32(marker.line()), to_u32(marker.col() + 1))
            }
            _ => {
                // Rebuild the byte offset from line and (character) column.
                let start = self.lines.line_start(marker.line()).unwrap_or(0);
                let rest = self.source.get(start..).unwrap_or("");
                let offset = start
                    + rest
                        .chars()
                        .take(marker.col())
                        .map(char::len_utf8)
                        .sum::<usize>();
                self.lines.span_at(self.source, offset)
            }
        }
    }

    /// Handles one event; `Err` is fatal.
    /// `tag_span` is where the node's tag is written (its own span when it has none).
    fn event(&mut self, event: Event<'_>, span: Span, tag_span: Span) -> Result<(), YamlError> {
        match event {
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Anchor(..) => {}
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(error(
                        span,
                        "a workflow file must hold a single yaml document",
                    ));
                }
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id) else {
                    return Err(error(
                        span,
                        "alias refers to an anchor that is not complete here",
                    ));
                };
                self.alias_nodes = self.alias_nodes.saturating_add(*size);
                if self.alias_nodes > MAX_ALIAS_NODES {
                    let message = format!(
                        "aliases expand to more than {MAX_ALIAS_NODES} nodes (possible alias bomb)"
                    );
                    return Err(error(span, message));
                }
                let (node, size) = (node.clone(), *size);
                self.complete(node, size, 0)?;
            }
            Event::UnresolvedAlias(name) => {
                return Err(error(span, format!("unknown anchor `{name}`")));
            }
            Event::Scalar(text, style, anchor, tag) => {
                let style = match style {
                    granit::ScalarStyle::Plain => ScalarStyle::Plain,
                    granit::ScalarStyle::SingleQuoted => ScalarStyle::SingleQuoted,
                    granit::ScalarStyle::DoubleQuoted => ScalarStyle::DoubleQuoted,
                    granit::ScalarStyle::Literal => ScalarStyle::Literal,
                    _ => ScalarStyle::Folded,
                };
                let kind = match tag.as_deref() {
                    None => resolve_scalar(&text, style),
                    Some(tag) => resolve_tagged(&text, tag).ok_or_else(|| {
                        error(
                            tag_span,
                            format!("unsupported yaml tag `{}` on `{text}`", tag_name(tag)),
                        )
                    })?,
                };
                let node = Node {
                    span,
                    value: NodeValue::Scalar(Scalar {
                        text: text.into_owned(),
                        style,
                        kind,
                    }),
                };
                self.complete(node, 1, anchor)?;
            }
            Event::SequenceStart(_, anchor, tag) => {
                self.check_depth(span)?;
                check_collection_tag(tag.as_deref(), "seq", tag_span)?;
                self.stack.push(Frame::Sequence {
                    span,
                    anchor,
                    size: 1,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(_, anchor, tag) => {
                self.check_depth(span)?;
                check_collection_tag(tag.as_deref(), "map", tag_span)?;
                self.stack.push(Frame::Mapping(MappingFrame {
                    span,
                    anchor,
                    size: 1,
                    entries: Vec::new(),
                    keys: HashSet::new(),
                    key: None,
                }));
            }
            Event::SequenceEnd => {
                if let Some(Frame::Sequence {
                    span,
                    anchor,
                    size,
                    items,
                }) = self.stack.pop()
                {
                    self.complete(
                        Node {
                            span,
                            value: NodeValue::Sequence(items),
                        },
                        size,
                        anchor,
                    )?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Mapping(frame)) = self.stack.pop() {
                    let (span, anchor, size) = (frame.span, frame.anchor, frame.size);
                    let entries = self.finish_mapping(frame);
                    self.complete(
                        Node {
                            span,
                            value: NodeValue::Mapping(entries),
                        },
                        size,
                        anchor,
                    )?;
                }
            }
            // Comment events (switched off above) and any event kinds a later parser adds.
            #[allow(unreachable_patterns)]
            _ => {}
        }
        Ok(())
    }

    fn check_depth(&self, span: Span) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(error(
                span,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    /// A node is complete: record its anchor and hand it to its parent (or make it the root).
    fn complete(&mut self, node: Node, size: usize, anchor: usize) -> Result<(), YamlError> {
        if anchor != 0 {
            // Anchored nodes are copied once; nested anchors could copy a big tree many times.
            self.anchored_nodes = self.anchored_nodes.saturating_add(size);
            if self.anchored_nodes > MAX_ANCHORED_NODES {
                let message = format!("anchors hold more than {MAX_ANCHORED_NODES} nodes in total");
                return Err(error(node.span, message));
            }
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence {
                items,
                size: parent_size,
                ..
            }) => {
                *parent_size = parent_size.saturating_add(size);
                items.push(node);
            }
            Some(Frame::Mapping(frame)) => {
                frame.size = frame.size.saturating_add(size);
                match frame.key.take() {
                    None => {
                        frame.key = Some(match &node.value {
                            NodeValue::Scalar(scalar) => {
                                let merge =
                                    scalar.style == ScalarStyle::Plain && scalar.text == "<<";
                                Ok((scalar.text.clone(), node.span, merge))
                            }
                            _ => Err(node.span),
                        });
                    }
                    Some(Err(key_span)) => {
                        self.errors.push(error(
                            key_span,
                            "mapping keys must be strings, not lists or mappings",
                        ));
                    }
                    Some(Ok((key, key_span, true))) => {
                        let _ = (key, key_span);
                        frame.entries.push(PendingEntry::Merge(node));
                    }
                    Some(Ok((key, key_span, false))) => {
                        if frame.keys.insert(key.clone()) {
                            frame.entries.push(PendingEntry::Explicit(Entry {
                                key,
                                key_span,
                                value: node,
                            }));
                        } else {
                            self.errors
                                .push(error(key_span, format!("duplicate key `{key}`")));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies merge keys: each `<<` is replaced, in place, by the entries of the mapping(s) it
    /// names that no explicit key and no earlier merged mapping already provides.
    fn finish_mapping(&mut self, frame: MappingFrame) -> Vec<Entry> {
        let MappingFrame {
            entries, mut keys, ..
        } = frame;
        let mut result = Vec::with_capacity(entries.len());
        for pending in entries {
            match pending {
                PendingEntry::Explicit(entry) => result.push(entry),
                PendingEntry::Merge(node) => {
                    let sources: Vec<Node> = match node.value {
                        NodeValue::Mapping(_) => vec![node],
                        NodeValue::Sequence(items)
                            if items
                                .iter()
                                .all(|item| matches!(item.value, NodeValue::Mapping(_))) =>
                        {
                            items
                        }
                        _ => {
                            self.errors.push(error(
                                node.span,
                                "merge key `<<` needs a mapping or a list of mappings",
                            ));
                            continue;
                        }
                    };
                    for source in sources {
                        if let NodeValue::Mapping(merged) = source.value {
                            for entry in merged {
                                if keys.insert(entry.key.clone()) {
                                    result.push(entry);
                                }
                            }
                        }
                    }
                }
            }
        }
        result
    }
}

fn error(span: Span, message: impl Into<String>) -> YamlError {
    YamlError {
        span,
        message: message.into(),
    }
}

fn tag_name(tag: &granit::Tag) -> String {
    format!("{tag}")
}

/// Collections may carry only their own core tag (`!!map`, `!!seq`).
fn check_collection_tag(
    tag: Option<&granit::Tag>,
    expected: &str,
    span: Span,
) -> Result<(), YamlError> {
    match tag {
        Some(tag) if tag.core_suffix() != Some(expected) => Err(error(
            span,
            format!("unsupported yaml tag `{}`", tag_name(tag)),
        )),
        _ => Ok(()),
    }
}

/// YAML 1.2 core schema resolution of an untagged scalar.
fn resolve_scalar(text: &str, style: ScalarStyle) -> ScalarKind {
    if style != ScalarStyle::Plain {
        return ScalarKind::String;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarKind::Null,
        "true" | "True" | "TRUE" => return ScalarKind::Bool(true),
        "false" | "False" | "FALSE" => return ScalarKind::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return ScalarKind::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return ScalarKind::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return ScalarKind::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = resolve_int(text) {
        return int;
    }
    match text.parse::<f64>() {
        Ok(f) if is_core_float(text) => ScalarKind::Float(f),
        _ => ScalarKind::String,
    }
}

fn resolve_int(text: &str) -> Option<ScalarKind> {
    let (radix, digits, negative) = if let Some(hex) = text.strip_prefix("0x") {
        (16, hex, false)
    } else if let Some(octal) = text.strip_prefix("0o") {
        (8, octal, false)
    } else if let Some(negative) = text.strip_prefix('-') {
        (10, negative, true)
    } else {
        (10, text.strip_prefix('+').unwrap_or(text), false)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    match i64::from_str_radix(digits, radix) {
        Ok(value) => Some(ScalarKind::Int(if negative { -value } else { value })),
        // Too large for i64: still a number, kept as a float.
        Err(_) => {
            let magnitude = digits.chars().fold(0f64, |acc, c| {
                acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
            });
            Some(ScalarKind::Float(if negative {
                -magnitude
            } else {
                magnitude
            }))
        }
    }
}

/// `[-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?`
fn is_core_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    let digits = |at: &mut usize| {
        let start = *at;
        while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at - start
    };
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        at += 1;
    }
    let integer_digits = digits(&mut at);
    let mut fraction_digits = 0;
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        fraction_digits = digits(&mut at);
    }
    if integer_digits == 0 && fraction_digits == 0 {
        return false;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        if digits(&mut at) == 0 {
            return false;
        }
    }
    at == bytes.len()
}

/// Resolution of a scalar with an explicit tag; `None` for tags we do not support.
fn resolve_tagged(text: &str, tag: &granit::Tag) -> Option<ScalarKind> {
    let suffix = tag.core_suffix()?;
    match suffix {
        "str" => Some(ScalarKind::String),
        "null" | "bool" | "int" | "float" => {
            let kind = resolve_scalar(text, ScalarStyle::Plain);
            let fits = matches!(
                (suffix, kind),
                ("null", ScalarKind::Null)
                    | ("bool", ScalarKind::Bool(_))
                    | ("int", ScalarKind::Int(_))
                    | ("float", ScalarKind::Float(_) | ScalarKind::Int(_))
            );
            match (fits, kind) {
                (true, ScalarKind::Int(i)) if suffix == "float" => {
                    Some(ScalarKind::Float(i as f64))
                }
                (true, kind) => Some(kind),
                (false, _) => None,
            }
        }
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Quoting {
    None,
    Single,
    Double,
}

/// Best-effort alignment of a value with its source text: characters copied verbatim map 1:1,
/// escapes map to their backslash, folded line breaks and indentation are skipped. Returns the
/// byte offset in `source` of value character `char_offset`.
fn walk_offset(
    source: &str,
    start: usize,
    value: &str,
    char_offset: usize,
    quoting: Quoting,
) -> Option<usize> {
    let text = source.get(start..)?;
    let mut src = text.char_indices().peekable();
    let mut last = start;
    for (index, c) in value.chars().enumerate() {
        loop {
            let &(at, s) = src.peek()?;
            last = start + at;
            if quoting == Quoting::Single && s == '\'' {
                // `''` is one quote; a lone quote ends the scalar.
                src.next();
                if src.peek().map(|&(_, n)| n) != Some('\'') {
                    return Some(last);
                }
                if index == char_offset {
                    return Some(last);
                }
                src.next();
                break;
            }
            if quoting == Quoting::Double && s == '\\' {
                src.next();
                let Some(&(_, escaped)) = src.peek() else {
                    return Some(last);
                };
                if escaped == '\n' || escaped == '\r' {
                    // An escaped line break joins lines: no value character here.
                    while src.peek().is_some_and(|&(_, n)| n.is_whitespace()) {
                        src.next();
                    }
                    continue;
                }
                if index == char_offset {
                    return Some(last);
                }
                let extra = match escaped {
                    'x' => 3,
                    'u' => 5,
                    'U' => 9,
                    _ => 1,
                };
                for _ in 0..extra {
                    src.next();
                }
                break;
            }
            if quoting == Quoting::Double && s == '"' {
                return Some(last);
            }
            if s == c {
                if index == char_offset {
                    return Some(last);
                }
                src.next();
                break;
            }
            if s.is_whitespace() {
                if c.is_whitespace() && index == char_offset {
                    return Some(last);
                }
                src.next();
                if c.is_whitespace() && !src.peek().is_some_and(|&(_, n)| n.is_whitespace()) {
                    break;
                }
                continue;
            }
            // Something we cannot align (a comment, a character we do not model): give up here.
            return Some(last);
        }
    }
    src.peek().map(|&(at, _)| start + at).or(Some(last))
}

/// Literal block scalars keep every line: value line `j` is file line `header + 1 + j`, and its
/// text is the tail of that line after the block's indentation.
fn literal_offset(source: &str, content: usize, value: &str, char_offset: usize) -> Option<usize> {
    let mut line_number = 0usize;
    let mut column = char_offset;
    for (index, line) in value.split('\n').enumerate() {
        let length = line.chars().count();
        if column <= length {
            line_number = index;
            break;
        }
        column -= length + 1;
        line_number = index + 1;
    }
    let value_line = value.split('\n').nth(line_number).unwrap_or("");
    let mut start = content;
    for _ in 0..line_number {
        start += source.get(start..)?.find('\n')? + 1;
    }
    let line = source.get(start..)?;
    let text = line.split('\n').next().unwrap_or("").trim_end_matches('\r');
    let indent = text
        .chars()
        .count()
        .saturating_sub(value_line.chars().count());
    let skip = indent + column;
    Some(start + text.chars().take(skip).map(char::len_utf8).sum::<usize>())
}

/// The span of byte `offset`, counted forward from the earlier position `base`.
fn span_after(source: &str, base: Span, offset: usize) -> Span {
    let Some(between) = source.get(base.offset..offset) else {
        return base;
    };
    match between.rfind('\n') {
        None => Span::new(
            offset,
            base.line,
            base.column.saturating_add(to_u32(between.chars().count())),
        ),
        Some(at) => {
            let newlines = to_u32(between.matches('\n').count());
            let column = between.get(at + 1..).map_or(0, |tail| tail.chars().count());
            Span::new(
                offset,
                base.line.saturating_add(newlines),
                to_u32(column + 1),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(source: &str) -> Node {
        let (node, errors) = parse(source);
        assert!(errors.is_empty(), "{errors:?}");
        node.expect("a document")
    }

    fn first_error(source: &str) -> (u32, u32, String) {
        let (_, errors) = parse(source);
        let error = errors.into_iter().next().expect("an error");
        (error.span.line, error.span.column, error.message)
    }

    fn kind(source: &str) -> ScalarKind {
        root(source).as_scalar().expect("a scalar").kind
    }

    #[test]
    fn core_schema_scalars() {
        let cases: &[(&str, ScalarKind)] = &[
            ("true", ScalarKind::Bool(true)),
            ("True", ScalarKind::Bool(true)),
            ("FALSE", ScalarKind::Bool(false)),
            ("on", ScalarKind::String),
            ("yes", ScalarKind::String),
            ("no", ScalarKind::String),
            ("y", ScalarKind::String),
            ("null", ScalarKind::Null),
            ("~", ScalarKind::Null),
            ("12", ScalarKind::Int(12)),
            ("-3", ScalarKind::Int(-3)),
            ("0x1F", ScalarKind::Int(31)),
            ("0o17", ScalarKind::Int(15)),
            ("1.5", ScalarKind::Float(1.5)),
            ("1e3", ScalarKind::Float(1000.0)),
            (".5", ScalarKind::Float(0.5)),
            ("'true'", ScalarKind::String),
            ("\"12\"", ScalarKind::String),
            ("1_000", ScalarKind::String),
            ("0b101", ScalarKind::String),
            ("!!str 12", ScalarKind::String),
            ("!!float 1", ScalarKind::Float(1.0)),
        ];
        for (source, expected) in cases {
            assert_eq!(kind(source), *expected, "{source}");
        }
        assert_eq!(kind(".inf"), ScalarKind::Float(f64::INFINITY));
        assert!(matches!(kind(".nan"), ScalarKind::Float(f) if f.is_nan()));
        assert_eq!(root("a:").get("a").map(Node::is_null), Some(true));
    }

    #[test]
    fn spans_of_keys_and_values() {
        let node = root("a: 1\nlist:\n  - x\n  - 'y'\n");
        let entries = node.as_mapping().expect("mapping");
        assert_eq!(
            (entries[0].key_span.line, entries[0].key_span.column),
            (1, 1)
        );
        assert_eq!(
            (entries[0].value.span.line, entries[0].value.span.column),
            (1, 4)
        );
        let items = entries[1].value.as_sequence().expect("list");
        assert_eq!(
            (
                items[1].span.line,
                items[1].span.column,
                items[1].span.offset
            ),
            (4, 5, 21)
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let node = root(
            "base: &base {a: 1, b: 2}\nmore: &more {c: 3}\nx:\n  <<: [*base, *more]\n  b: 20\ny:\n  <<: *base\n  a: 10\n",
        );
        let x = node.get("x").expect("x").to_json();
        assert_eq!(x, serde_json::json!({"a": 1, "c": 3, "b": 20}));
        let y = node.get("y").expect("y");
        let keys: Vec<&str> = y
            .as_mapping()
            .expect("mapping")
            .iter()
            .map(|e| e.key.as_str())
            .collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(y.to_json(), serde_json::json!({"b": 2, "a": 10}));
    }

    #[test]
    fn quoted_merge_key_is_an_ordinary_key() {
        let node = root("'<<': {a: 1}\n");
        assert!(node.get("<<").is_some());
    }

    #[test]
    fn errors_with_positions() {
        let cases: &[(&str, u32, u32, &str)] = &[
            ("a: 1\nb: 2\na: 3\n", 3, 1, "duplicate key `a`"),
            ("a: 1\n---\nb: 2\n", 2, 1, "single yaml document"),
            ("a: *nope\n", 1, 4, "unknown anchor"),
            ("a: [1, 2\n", 1, 4, "unclosed bracket"),
            ("x:\n  <<: 3\n", 2, 7, "merge key `<<` needs a mapping"),
            ("a: b\0c\n", 1, 5, "NUL byte"),
            ("a: \u{7}\n", 1, 4, "control character U+0007"),
            ("[a]: 1\n", 1, 1, "mapping keys must be strings"),
            ("a: !custom x\n", 1, 4, "unsupported yaml tag"),
        ];
        for (source, line, column, message) in cases {
            let (l, c, m) = first_error(source);
            assert!(m.contains(message), "{source:?}: {m}");
            assert_eq!((l, c), (*line, *column), "{source:?}: {m}");
        }
    }

    #[test]
    fn budgets() {
        let deep = "[".repeat(10_000);
        let (line, column, message) = first_error(&deep);
        assert_eq!((line, column), (1, 257));
        assert_eq!(message, "nesting deeper than 256 levels");

        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let previous = (b'a' + level - 1) as char;
            let name = (b'a' + level) as char;
            bomb.push_str(&format!("{name}: &{name} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"));
        }
        let (_, _, message) = first_error(&bomb);
        assert!(message.contains("alias bomb"), "{message}");

        let big = "a: b\n".repeat(MAX_FILE_BYTES / 5 + 1);
        let (line, column, message) = first_error(&big);
        assert_eq!((line, column), (1, 1));
        assert!(
            message.starts_with("workflow file is too large ("),
            "{message}"
        );
    }

    #[test]
    fn positions_inside_scalars() {
        let check = |source: &str, key: &str, needle: &str, line: u32, column: u32| {
            let node = root(source);
            let value = node.get(key).expect("key");
            let text = &value.as_scalar().expect("scalar").text;
            let offset = text
                .find(needle)
                .map(|b| text[..b].chars().count())
                .expect("needle");
            let span = position_in_scalar(source, value.span, text, offset);
            assert_eq!(
                (span.line, span.column),
                (line, column),
                "{source:?} {needle}"
            );
            assert_eq!(
                source
                    .get(span.offset..)
                    .map(|rest| rest.starts_with(needle.chars().next().unwrap_or(' '))),
                Some(true)
            );
        };
        check("run: echo ${{ x }}\n", "run", "${{", 1, 11);
        check("run: 'it''s ${{ x }}'\n", "run", "${{", 1, 13);
        check("run: \"a\\tb ${{ x }}\"\n", "run", "${{", 1, 12);
        check("run: |\n  echo one\n  echo ${{ x }}\n", "run", "${{", 3, 8);
        check(
            "run: |2\n    indented\n  echo ${{ x }}\n",
            "run",
            "${{",
            3,
            8,
        );
        check("run: |\n  echo\n\n  é ${{ x }}\n", "run", "${{", 4, 5);
        check("run: >\n  one\n  two ${{ x }}\n", "run", "${{", 3, 7);
        check("run: one\n  two ${{ x }}\n", "run", "${{", 2, 7);
    }
}
