//! Secret masking: every secret value (and each line of a multi-line secret, and every
//! `::add-mask::` value) is replaced by `***` in each log line before it leaves the executor.
//!
//! It must not decide what is secret beyond what it is told; it only replaces text.

use aho_corasick::{AhoCorasick, MatchKind};

/// Values shorter than this (after trimming) are not masked: masking one or two characters would
/// blank out most of a log while protecting nothing worth protecting.
pub(super) const MIN_MASK_CHARS: usize = 3;

/// What a masked value is replaced by.
pub const MASK: &str = "***";

/// The set of values to hide, with a matcher rebuilt whenever a value is added.
#[derive(Debug, Default, Clone)]
pub struct Masker {
    values: Vec<String>,
    matcher: Option<AhoCorasick>,
}

impl Masker {
    /// An empty masker that hides nothing until a secret is added.
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Adds a secret: the whole value and each of its lines (a multi-line secret printed line by
    /// line is still hidden). Values too short to mask are ignored.
    pub fn add(&mut self, secret: &str) {
        let mut changed = self.insert(secret);
        if secret.contains('\n') {
            for line in secret.lines() {
                changed |= self.insert(line.strip_suffix('\r').unwrap_or(line));
            }
        }
        if changed {
            self.rebuild();
        }
    }

    /// Adds every value `other` masks (masks a background step added while it ran).
    pub fn absorb(&mut self, other: &Masker) {
        let mut changed = false;
        for value in &other.values {
            changed |= self.insert(value);
        }
        if changed {
            self.rebuild();
        }
    }

    /// Whether `text` contains any masked value.
    pub fn contains_secret(&self, text: &str) -> bool {
        self.matcher
            .as_ref()
            .is_some_and(|matcher| matcher.is_match(text))
    }

    /// `line` with every masked value replaced by `***`.
    pub fn mask(&self, line: &str) -> String {
        match &self.matcher {
            Some(matcher) => {
                let replacements = vec![MASK; self.values.len()];
                matcher.replace_all(line, &replacements)
            }
            None => line.to_string(),
        }
    }

    fn insert(&mut self, value: &str) -> bool {
        let trimmed = value.trim();
        if trimmed.chars().count() < MIN_MASK_CHARS
            || self.values.iter().any(|known| known == trimmed)
        {
            return false;
        }
        self.values.push(trimmed.to_string());
        true
    }

    fn rebuild(&mut self) {
        // Leftmost-longest so that a secret which contains another one is hidden as a whole.
        self.matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&self.values)
            .ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_values_lines_and_overlaps() {
        let mut masker = Masker::new();
        assert_eq!(masker.mask("nothing to hide"), "nothing to hide");
        masker.add("hunter2");
        masker.add("first line\nsecond line\n");
        masker.add("hunter2-extended");
        assert_eq!(masker.mask("pw=hunter2 and hunter2"), "pw=*** and ***");
        assert_eq!(masker.mask("x hunter2-extended y"), "x *** y");
        assert_eq!(masker.mask("> second line"), "> ***");
        assert!(masker.contains_secret("a first line b"));
        assert!(!masker.contains_secret("plain"));
    }

    #[test]
    fn ignores_empty_and_short_values() {
        let mut masker = Masker::new();
        masker.add("");
        masker.add("  ");
        masker.add("ab");
        assert_eq!(masker.mask("ab cd"), "ab cd");
        masker.add(" abc ");
        assert_eq!(masker.mask("xabcx"), "x***x");
    }
}
