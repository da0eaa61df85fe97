//! Hostile and broken input: every case ends in an error with a position, never a panic, a hang or
//! unbounded memory.

use proptest::prelude::*;
use workflows::{Parsed, parse_workflow, parse_workflow_bytes};

/// Asserts that `parsed` holds an error at `line:column` whose message contains `fragment`.
#[track_caller]
fn assert_error(parsed: &Parsed, line: u32, column: u32, fragment: &str) {
    let found = parsed.diagnostics.iter().any(|d| {
        d.is_error()
            && d.span.line == line
            && d.span.column == column
            && d.message.contains(fragment)
    });
    assert!(
        found,
        "expected error at {line}:{column} containing {fragment:?}, got:\n{}",
        parsed
            .diagnostics
            .iter()
            .map(|d| format!("  {d}\n"))
            .collect::<String>()
    );
}

const VALID: &str = "name: CI
on:
  push:
    branches: [main]
  workflow_dispatch:
    inputs:
      level: {type: choice, options: [a, b]}
env: &env
  A: 1
jobs:
  build:
    runs-on: [ubuntu-latest]
    env: *env
    strategy:
      matrix:
        os: [a, b]
        include: [{os: c}]
    steps:
      - uses: actions/checkout@v4
      - run: |
          echo ${{ matrix.os }}
        shell: bash
  test:
    <<: {runs-on: x}
    needs: build
    steps: [{run: 'echo \"x\"'}]
";

#[test]
fn the_valid_base_is_valid() {
    let parsed = parse_workflow("ci.yml", VALID);
    assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
}

#[test]
fn malformed_yaml() {
    let cases: &[(&str, u32, u32)] = &[
        ("on: push\njobs: [\n", 2, 7),
        ("on: push\njobs:\n  a: {b: c\n", 3, 6),
        ("on: 'push\n", 1, 5),
        ("on: push\n  jobs: x\n", 2, 7),
        ("key: value\n- item\n", 2, 3),
        ("on: push\njobs: @x\n", 2, 7),
    ];
    for (input, line, column) in cases {
        let parsed = parse_workflow("ci.yml", input);
        assert!(parsed.workflow.is_none(), "{input:?}");
        assert_eq!(
            parsed.diagnostics.len(),
            1,
            "{input:?}: {:?}",
            parsed.diagnostics
        );
        let span = parsed.diagnostics[0].span;
        assert_eq!(
            (span.line, span.column),
            (*line, *column),
            "{input:?}: {}",
            parsed.diagnostics[0]
        );
    }
}

#[test]
fn wrong_types_everywhere() {
    // Every value replaced by a list or a mapping still gives positioned errors, no panic.
    for replacement in ["[1, 2]", "{a: b}", "~", "12", "true"] {
        let input = VALID
            .replace("[main]", replacement)
            .replace("ubuntu-latest", replacement);
        let parsed = parse_workflow("ci.yml", &input);
        assert!(
            parsed
                .diagnostics
                .iter()
                .all(|d| d.span.line >= 1 && d.span.column >= 1)
        );
    }
    let parsed = parse_workflow(
        "ci.yml",
        "on: push\njobs:\n  a:\n    runs-on: {labels: {x: y}}\n    steps: 3\n",
    );
    assert_error(
        &parsed,
        4,
        23,
        "must be a string or a list of strings, found a mapping",
    );
    assert_error(
        &parsed,
        5,
        12,
        "`steps` of job `a` must be a list, found a number",
    );
}

#[test]
fn ten_megabyte_file() {
    let big = format!(
        "on: push\nenv:\n{}",
        "  A: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n".repeat(10 * 1024 * 1024 / 47)
    );
    assert!(big.len() >= 10_000_000);
    let parsed = parse_workflow("ci.yml", &big);
    assert_error(&parsed, 1, 1, "workflow file is too large (");
    assert_error(&parsed, 1, 1, "limit 2097152 bytes)");
    let parsed = parse_workflow_bytes("ci.yml", big.as_bytes());
    assert_error(&parsed, 1, 1, "workflow file is too large");
}

#[test]
fn ten_thousand_deep_nesting() {
    for deep in [
        "[".repeat(10_000),
        "{a: ".repeat(10_000),
        "- ".repeat(10_000),
        format!("x: {}", "[{a: ".repeat(5_000)),
    ] {
        let parsed = parse_workflow("ci.yml", &deep);
        assert!(parsed.workflow.is_none());
        let message = &parsed.diagnostics[0].message;
        assert_eq!(message, "nesting deeper than 256 levels", "{}", &deep[..20]);
        assert_eq!(parsed.diagnostics[0].span.line, 1);
    }
    // Block mappings nested by indentation.
    let mut indented = String::new();
    for depth in 0..1_000 {
        indented.push_str(&" ".repeat(depth));
        indented.push_str("a:\n");
    }
    let parsed = parse_workflow("ci.yml", &indented);
    assert_eq!(
        parsed.diagnostics[0].message,
        "nesting deeper than 256 levels"
    );
    assert_eq!(parsed.diagnostics[0].span.line, 257);
}

#[test]
fn billion_laughs() {
    let mut bomb =
        String::from("on: push\nx0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        let list = [previous.as_str(); 10].join(", ");
        bomb.push_str(&format!("x{level}: &a{level} [{list}]\n"));
    }
    let parsed = parse_workflow("ci.yml", &bomb);
    assert!(parsed.workflow.is_none());
    let error = &parsed.diagnostics[0];
    assert!(
        error.message.contains("aliases expand to more than"),
        "{error}"
    );
    assert!(error.span.line >= 3 && error.span.line <= 11, "{error}");

    // Self reference through an alias inside its own anchor.
    let parsed = parse_workflow("ci.yml", "a: &a [*a]\n");
    assert!(parsed.has_errors());
}

#[test]
fn invalid_utf8() {
    let mut bytes = b"on: push\njobs:\n  a\xC3\xA9: x\n  b: \xFF\xFE\n".to_vec();
    let parsed = parse_workflow_bytes("ci.yml", &bytes);
    assert_error(&parsed, 4, 6, "not valid utf-8");
    bytes.truncate(3);
    bytes.push(0xC3);
    let parsed = parse_workflow_bytes("ci.yml", &bytes);
    assert_error(&parsed, 1, 4, "not valid utf-8");
}

#[test]
fn nul_bytes_and_control_characters() {
    let parsed = parse_workflow("ci.yml", "on: push\njobs:\n  a: b\0c\n");
    assert_error(&parsed, 3, 7, "NUL byte is not allowed");
    let parsed = parse_workflow_bytes("ci.yml", b"\0");
    assert_error(&parsed, 1, 1, "NUL byte");
    let parsed = parse_workflow("ci.yml", "on: push\u{1b}[31m\n");
    assert_error(&parsed, 1, 9, "control character U+001B");
    let parsed = parse_workflow("ci.yml", "on: push\njobs: {}\n\u{7f}");
    assert_error(&parsed, 3, 1, "control character U+007F");
}

/// Byte-level edits of the valid workflow.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>()), 1..8);
    edits.prop_map(|edits| {
        let mut bytes = VALID.as_bytes().to_vec();
        for (index, kind, byte) in edits {
            if bytes.is_empty() {
                break;
            }
            let at = index.index(bytes.len());
            match kind {
                0 => bytes[at] = byte,
                1 => {
                    bytes.remove(at);
                }
                2 => bytes.insert(at, b"{}[]:-&*!|>'\"#\n \t,"[usize::from(byte) % 18]),
                _ => {
                    let end = (at + usize::from(byte % 16)).min(bytes.len());
                    let chunk = bytes[at..end].to_vec();
                    bytes.splice(at..at, chunk);
                }
            }
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let parsed = parse_workflow("ci.yml", &text);
        for diagnostic in &parsed.diagnostics {
            prop_assert!(diagnostic.span.line >= 1 && diagnostic.span.column >= 1);
            prop_assert!(diagnostic.span.offset <= text.len());
        }
    }

    #[test]
    fn yaml_like_text_never_panics(text in "[a-z:\\-\\[\\]{}&*!|>'\" \n<,#~0-9.]{0,300}") {
        let parsed = parse_workflow("ci.yml", &text);
        prop_assert!(parsed.workflow.is_some() || parsed.has_errors() || text.trim().is_empty() || parsed.diagnostics.iter().any(|d| d.is_error()));
        for diagnostic in &parsed.diagnostics {
            prop_assert!(diagnostic.span.offset <= text.len());
        }
    }

    #[test]
    fn mutated_workflows_never_panic(bytes in mutated()) {
        let parsed = parse_workflow_bytes("ci.yml", &bytes);
        prop_assert!(parsed.workflow.is_some() || parsed.has_errors());
        for diagnostic in &parsed.diagnostics {
            prop_assert!(diagnostic.span.line >= 1 && diagnostic.span.column >= 1);
            prop_assert!(diagnostic.span.offset <= bytes.len());
        }
    }
}

#[test]
fn one_huge_line_of_small_nodes() {
    // Near the size limit, all on one line: position bookkeeping must not be quadratic.
    let items = "a,".repeat(250_000);
    let input = format!("on: push\njobs: [{items}]\n");
    let parsed = parse_workflow("ci.yml", &input);
    assert_error(&parsed, 2, 7, "`jobs` must be a mapping, found a list");
}

#[test]
fn nested_anchors_cannot_multiply_memory() {
    // 200 nested anchored lists around 10,000 scalars: each anchor would copy everything inside it.
    let mut input = String::from("x: ");
    for level in 0..200 {
        input.push_str(&format!("&a{level} ["));
    }
    input.push_str(&"s, ".repeat(10_000));
    input.push_str(&"]".repeat(200));
    input.push('\n');
    let parsed = parse_workflow("ci.yml", &input);
    assert!(parsed.workflow.is_none());
    assert!(
        parsed.diagnostics[0]
            .message
            .contains("anchors hold more than"),
        "{}",
        parsed.diagnostics[0]
    );
    assert_eq!(parsed.diagnostics[0].span.line, 1);
}
