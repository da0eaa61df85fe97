//! GitHub's filter patterns for branches, tags and paths ("Filter pattern cheat sheet"), compiled
//! to anchored regular expressions, and the rule that applies a list of them in order.
//!
//! Syntax: `*` is zero or more characters except `/`; `**` is zero or more of any character (and
//! `**/` at the start or after a `/` also matches zero directories, so `**/README.md` matches
//! `README.md`); `?` makes the preceding character optional; `+` repeats the preceding character
//! one or more times; `[...]` is one character from the listed characters and `a-z`, `A-Z`, `0-9`
//! ranges; a leading `!` negates the pattern; `\` makes the next character literal; every other
//! character is literal. Matching is case-sensitive (git refs and paths are).
//!
//! This module knows nothing about events or workflows.

/// A compiled filter pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// Whether the pattern was written with a leading `!`, so a match excludes instead of includes.
    pub negated: bool,
    regex: regex::Regex,
    source: String,
}

impl Pattern {
    /// Compiles one pattern as written in a workflow (a leading `!` negates it). The error is a
    /// lowercase fragment naming the pattern.
    pub fn compile(pattern: &str) -> Result<Pattern, String> {
        let (negated, body) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if body.is_empty() {
            return Err(format!("pattern `{pattern}` is empty"));
        }
        let translated =
            translate(body).map_err(|problem| format!("pattern `{pattern}`: {problem}"))?;
        let regex = regex::Regex::new(&format!("^(?:{translated})$"))
            .map_err(|error| format!("pattern `{pattern}` does not compile: {error}"))?;
        Ok(Pattern {
            negated,
            regex,
            source: pattern.to_string(),
        })
    }

    /// Whether the pattern's text (without its `!`) matches `value`. A negated pattern that
    /// matches *deselects* the value; see [`matches_patterns`].
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }

    /// The pattern as written, `!` included.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

/// Applies a list of patterns in order (later patterns win; `!` excludes). True when `value` is
/// selected: the last pattern that matches it is a positive one.
pub fn matches_patterns(patterns: &[Pattern], value: &str) -> bool {
    patterns
        .iter()
        .rev()
        .find(|pattern| pattern.is_match(value))
        .is_some_and(|pattern| !pattern.negated)
}

/// Compiles each pattern of a list; the first error wins.
pub fn compile_all<S: AsRef<str>>(patterns: &[S]) -> Result<Vec<Pattern>, String> {
    patterns
        .iter()
        .map(|pattern| Pattern::compile(pattern.as_ref()))
        .collect()
}

// ---------------------------------------------------------------------------------------------

/// Translates a pattern body (no leading `!`) into regex syntax, one atom per pattern element so
/// that `?` and `+` can apply to the element before them.
fn translate(body: &str) -> Result<String, String> {
    let chars: Vec<char> = body.chars().collect();
    let mut atoms: Vec<String> = Vec::new();
    let mut position = 0;
    while let Some(&c) = chars.get(position) {
        position += 1;
        match c {
            '*' => {
                if chars.get(position) == Some(&'*') {
                    position += 1;
                    let starts_segment =
                        position == 2 || chars.get(position.wrapping_sub(3)) == Some(&'/');
                    if starts_segment && chars.get(position) == Some(&'/') {
                        // `**/` matches any number of whole directories, zero included.
                        position += 1;
                        atoms.push("(?:.*/)?".to_string());
                    } else {
                        atoms.push(".*".to_string());
                    }
                } else {
                    atoms.push("[^/]*".to_string());
                }
            }
            '?' | '+' => {
                let Some(previous) = atoms.pop() else {
                    return Err(format!(
                        "`{c}` at the start has no preceding character to apply to"
                    ));
                };
                atoms.push(format!("(?:{previous}){c}"));
            }
            '[' => {
                let (class, next) = character_class(&chars, position)?;
                atoms.push(class);
                position = next;
            }
            '\\' => {
                let Some(&escaped) = chars.get(position) else {
                    return Err("ends with `\\`, which escapes nothing".to_string());
                };
                position += 1;
                atoms.push(regex::escape(&escaped.to_string()));
            }
            other => atoms.push(regex::escape(&other.to_string())),
        }
    }
    Ok(atoms.concat())
}

/// Reads `[...]` starting just after the `[`; returns the regex class and the index after `]`.
fn character_class(chars: &[char], start: usize) -> Result<(String, usize), String> {
    let mut members: Vec<char> = Vec::new();
    let mut position = start;
    loop {
        match chars.get(position) {
            None => return Err("`[` is never closed by `]`".to_string()),
            Some(']') => {
                position += 1;
                break;
            }
            Some('\\') => {
                let Some(&escaped) = chars.get(position + 1) else {
                    return Err("`[` is never closed by `]`".to_string());
                };
                members.push(escaped);
                position += 2;
            }
            Some(&c) => {
                members.push(c);
                position += 1;
            }
        }
    }
    if members.is_empty() {
        return Err("`[]` lists no characters".to_string());
    }

    let mut class = String::from("[");
    let mut index = 0;
    while let Some(&c) = members.get(index) {
        let is_range = members.get(index + 1) == Some(&'-') && members.get(index + 2).is_some();
        if is_range {
            let end = members.get(index + 2).copied().unwrap_or(c);
            if !same_range_family(c, end) || c > end {
                return Err(format!(
                    "range `{c}-{end}` is not allowed (ranges must lie within a-z, A-Z or 0-9)"
                ));
            }
            class.push_str(&format!("{}-{}", escape_in_class(c), escape_in_class(end)));
            index += 3;
        } else {
            class.push_str(&escape_in_class(c));
            index += 1;
        }
    }
    class.push(']');
    Ok((class, position))
}

fn same_range_family(start: char, end: char) -> bool {
    (start.is_ascii_lowercase() && end.is_ascii_lowercase())
        || (start.is_ascii_uppercase() && end.is_ascii_uppercase())
        || (start.is_ascii_digit() && end.is_ascii_digit())
}

/// A literal character inside a regex class.
fn escape_in_class(c: char) -> String {
    if c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        format!("\\x{{{:x}}}", c as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn translations() {
        let cases = [
            ("main", "main"),
            ("feature/*", "feature/[^/]*"),
            ("**/README.md", "(?:.*/)?README\\.md"),
            ("docs/**/*.md", "docs/(?:.*/)?[^/]*\\.md"),
            ("**.js", ".*\\.js"),
            ("a**/b", "a.*/b"),
            ("*.jsx?", "[^/]*\\.js(?:x)?"),
            ("v[12].[0-9]+", "v[12]\\.(?:[0-9])+"),
            ("[a-]", "[a\\x{2d}]"),
        ];
        for (pattern, regex) in cases {
            assert_eq!(translate(pattern).as_deref(), Ok(regex), "{pattern}");
        }
    }
}
