//! Properties of filter patterns over generated inputs: compiling never panics, a pattern with no
//! special characters matches exactly itself, escaping makes any text literal, `*` never crosses
//! a `/`, and `!` flips the selection of the pattern before it.

use proptest::prelude::*;
use workflows::filters::{Pattern, compile_all, matches_patterns};

/// Text without any pattern special character.
fn plain() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9/._-]{1,20}"
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if "*?+[]!\\".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn compiling_anything_never_panics(pattern in any::<String>(), value in any::<String>()) {
        if let Ok(compiled) = Pattern::compile(&pattern) {
            let _ = compiled.is_match(&value);
        }
    }

    #[test]
    fn plain_text_matches_exactly_itself(text in plain(), other in plain()) {
        let pattern = Pattern::compile(&text).unwrap();
        prop_assert!(pattern.is_match(&text));
        prop_assert_eq!(pattern.is_match(&other), other == text);
    }

    #[test]
    fn escaped_text_is_literal(text in "\\PC{1,20}", other in "\\PC{1,20}") {
        let pattern = Pattern::compile(&escape(&text)).unwrap();
        prop_assert!(pattern.is_match(&text));
        prop_assert_eq!(pattern.is_match(&other), other == text);
    }

    #[test]
    fn single_star_stays_within_one_segment(prefix in "[a-z]{1,5}", middle in "[a-z/]{0,10}") {
        let pattern = Pattern::compile(&format!("{prefix}/*")).unwrap();
        let value = format!("{prefix}/{middle}");
        prop_assert_eq!(pattern.is_match(&value), !middle.contains('/'));
        let deep = Pattern::compile(&format!("{prefix}/**")).unwrap();
        prop_assert!(deep.is_match(&value));
    }

    #[test]
    fn negation_after_a_pattern_deselects_what_it_matches(text in plain(), other in plain()) {
        let patterns = compile_all(&["**".to_string(), format!("!{}", escape(&text))]).unwrap();
        prop_assert!(!matches_patterns(&patterns, &text));
        prop_assert_eq!(matches_patterns(&patterns, &other), other != text);
    }
}
