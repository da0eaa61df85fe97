//! Walks the syntax tree against a [`Context`], producing a [`Val`].
//!
//! Values borrow from the context and the tree; nothing is cloned for property access, comparisons
//! or `&&`/`||`. Each evaluation has a memory budget ([`MAX_MEMORY_BYTES`], counted the way GitHub
//! counts .NET strings: two bytes a character) that string-building functions and `*` filters
//! draw from. The tree's depth is bounded by the parser, so recursion here is bounded too. The
//! evaluator must not parse, and must not know function internals beyond dispatching to them.

use std::borrow::Cow;

use indexmap::IndexMap;
use serde_json::Value;

use super::parser::{CompareOp, Index, Node, NodeKind, index_position};
use super::value::{
    Val, View, equals_ignore_case, get_property, loose_compare, loose_equals, take_property,
};
use super::{Context, ExprError, ExprErrorKind, HashFiles, MAX_MEMORY_BYTES, Status};

pub(crate) struct Evaluator<'a> {
    values: &'a IndexMap<String, Value>,
    pub(crate) status: Status,
    pub(crate) hash_files: Option<&'a HashFiles<'a>>,
    memory_used: usize,
}

/// What a `[…]` or `.name` selects.
enum Key<'k> {
    Star,
    Lookup {
        name: Option<Cow<'k, str>>,
        position: Option<usize>,
    },
}

/// Bytes charged for each element of a filtered array.
const FILTER_ELEMENT_BYTES: usize = 16;

impl<'a> Evaluator<'a> {
    pub(crate) fn new(context: &'a Context<'_>) -> Evaluator<'a> {
        Evaluator {
            values: &context.values,
            status: context.status,
            hash_files: context.hash_files,
            memory_used: 0,
        }
    }

    /// A context given as an object (`needs`), when the evaluation has it.
    pub(crate) fn context_object(&self, name: &str) -> Option<&'a serde_json::Map<String, Value>> {
        self.values.get(name).and_then(Value::as_object)
    }

    pub(crate) fn eval(&mut self, node: &'a Node) -> Result<Val<'a>, ExprError> {
        Ok(match &node.kind {
            NodeKind::Null => Val::Null,
            NodeKind::Bool(b) => Val::Bool(*b),
            NodeKind::Number(n) => Val::Number(*n),
            NodeKind::String(s) => Val::Str(Cow::Borrowed(s)),
            NodeKind::Context(name) => self.context_value(name),
            NodeKind::Index { target, index } => match index {
                Index::Star => {
                    let target = self.eval(target)?;
                    self.select(target, &Key::Star, node.start)?
                }
                Index::Property { name, position } => {
                    let target = self.eval(target)?;
                    let key = Key::Lookup {
                        name: Some(Cow::Borrowed(name)),
                        position: *position,
                    };
                    self.select(target, &key, node.start)?
                }
                Index::Expr(index) => {
                    let index = self.eval(index)?;
                    let target = self.eval(target)?;
                    self.select(target, &key_from_value(&index), node.start)?
                }
            },
            NodeKind::Not(operand) => Val::Bool(!self.eval(operand)?.is_truthy()),
            NodeKind::Compare { first, rest } => {
                let mut left = self.eval(first)?;
                for (op, operand) in rest {
                    let right = self.eval(operand)?;
                    left = Val::Bool(compare(*op, left.view(), right.view()));
                }
                left
            }
            NodeKind::And(operands) => {
                let mut result = Val::Null;
                for operand in operands {
                    result = self.eval(operand)?;
                    if !result.is_truthy() {
                        break;
                    }
                }
                result
            }
            NodeKind::Or(operands) => {
                let mut result = Val::Null;
                for operand in operands {
                    result = self.eval(operand)?;
                    if result.is_truthy() {
                        break;
                    }
                }
                result
            }
            NodeKind::Call { function, args } => function.call(self, args, node.start)?,
        })
    }

    /// What is left of the memory budget, in bytes of UTF-8 text (half the accounted bytes).
    pub(crate) fn remaining_memory(&self) -> usize {
        MAX_MEMORY_BYTES.saturating_sub(self.memory_used) / 2
    }

    /// Charges a string this evaluation built; fails once the budget is exceeded.
    pub(crate) fn charge_string(&mut self, text: &str, column: usize) -> Result<(), ExprError> {
        self.charge(text.len().saturating_mul(2), column)
    }

    fn charge(&mut self, bytes: usize, column: usize) -> Result<(), ExprError> {
        self.memory_used = self.memory_used.saturating_add(bytes);
        if self.memory_used > MAX_MEMORY_BYTES {
            return Err(ExprError {
                kind: ExprErrorKind::Evaluation,
                column,
                message: format!(
                    "the maximum allowed memory size ({MAX_MEMORY_BYTES} bytes) was exceeded"
                ),
            });
        }
        Ok(())
    }

    fn context_value(&self, name: &str) -> Val<'a> {
        let found = self.values.get(name).or_else(|| {
            self.values
                .iter()
                .find(|(key, _)| equals_ignore_case(key, name))
                .map(|(_, v)| v)
        });
        found.map_or(Val::Null, Val::from_json)
    }

    /// Applies one `[…]`/`.name` to a value.
    fn select(&mut self, target: Val<'a>, key: &Key, column: usize) -> Result<Val<'a>, ExprError> {
        let selected = match target {
            Val::Filtered(items) => {
                let mut out = Vec::new();
                for item in items {
                    select_into(item, key, &mut out);
                }
                Val::Filtered(out)
            }
            container @ (Val::Borrowed(_) | Val::Owned(_)) => match key {
                Key::Star => {
                    let mut out = Vec::new();
                    select_into(container, key, &mut out);
                    Val::Filtered(out)
                }
                Key::Lookup { .. } => {
                    let mut out = Vec::with_capacity(1);
                    select_into(container, key, &mut out);
                    out.pop().unwrap_or(Val::Null)
                }
            },
            _ => match key {
                Key::Star => Val::Filtered(Vec::new()),
                Key::Lookup { .. } => Val::Null,
            },
        };
        if let Val::Filtered(items) = &selected {
            self.charge(items.len().saturating_mul(FILTER_ELEMENT_BYTES), column)?;
        }
        Ok(selected)
    }
}

/// GitHub's reading of an index value: primitives select a property by their string form and an
/// array element by their number (finite, not negative, truncated); containers select nothing.
fn key_from_value<'k>(index: &'k Val<'_>) -> Key<'k> {
    let view = index.view();
    if !view.is_primitive() {
        return Key::Lookup {
            name: None,
            position: None,
        };
    }
    Key::Lookup {
        name: Some(index.to_display()),
        position: index_position(view.to_number()),
    }
}

/// Pushes what `key` selects from a container (an object's property, an array's element, or all
/// of either for `*`); primitives select nothing.
fn select_into<'a>(container: Val<'a>, key: &Key, out: &mut Vec<Val<'a>>) {
    match container {
        Val::Borrowed(Value::Array(items)) => match key {
            Key::Star => out.extend(items.iter().map(Val::from_json)),
            Key::Lookup { position, .. } => {
                if let Some(item) = position.and_then(|p| items.get(p)) {
                    out.push(Val::from_json(item));
                }
            }
        },
        Val::Borrowed(Value::Object(map)) => match key {
            Key::Star => out.extend(map.values().map(Val::from_json)),
            Key::Lookup { name, .. } => {
                if let Some(item) = name.as_deref().and_then(|name| get_property(map, name)) {
                    out.push(Val::from_json(item));
                }
            }
        },
        Val::Owned(Value::Array(items)) => match key {
            Key::Star => out.extend(items.into_iter().map(Val::from_owned_json)),
            Key::Lookup { position, .. } => {
                if let Some(item) = position.and_then(|p| items.into_iter().nth(p)) {
                    out.push(Val::from_owned_json(item));
                }
            }
        },
        Val::Owned(Value::Object(mut map)) => match key {
            Key::Star => out.extend(map.into_iter().map(|(_, v)| Val::from_owned_json(v))),
            Key::Lookup { name, .. } => {
                if let Some(item) = name
                    .as_deref()
                    .and_then(|name| take_property(&mut map, name))
                {
                    out.push(Val::from_owned_json(item));
                }
            }
        },
        Val::Filtered(items) => match key {
            Key::Star => out.extend(items),
            Key::Lookup { position, .. } => {
                if let Some(item) = position.and_then(|p| items.into_iter().nth(p)) {
                    out.push(item);
                }
            }
        },
        _ => {}
    }
}

fn compare(op: CompareOp, left: View, right: View) -> bool {
    use std::cmp::Ordering::{Greater, Less};
    match op {
        CompareOp::Equal => loose_equals(left, right),
        CompareOp::NotEqual => !loose_equals(left, right),
        CompareOp::Less => loose_compare(left, right) == Some(Less),
        CompareOp::Greater => loose_compare(left, right) == Some(Greater),
        CompareOp::LessEqual => {
            loose_equals(left, right) || loose_compare(left, right) == Some(Less)
        }
        CompareOp::GreaterEqual => {
            loose_equals(left, right) || loose_compare(left, right) == Some(Greater)
        }
    }
}
