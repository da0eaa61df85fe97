//! Reading the files a step writes to talk back to the runner: `$GITHUB_ENV`, `$GITHUB_OUTPUT` and
//! `$GITHUB_STATE` (`name=value` lines and `name<<DELIMITER` … `DELIMITER` heredocs) and
//! `$GITHUB_PATH` (one directory a line).
//!
//! This module only parses text; it must not read the process environment or decide precedence.

/// A line of an env file that the runner cannot accept. `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum EnvFileError {
    #[error("{file}:{line}: heredoc delimiter `{delimiter}` is never closed")]
    UnclosedHeredoc {
        file: String,
        line: usize,
        delimiter: String,
    },
    #[error("{file}:{line}: invalid line, expected `name=value` or `name<<DELIMITER`")]
    InvalidLine { file: String, line: usize },
    #[error("{file}:{line}: empty name")]
    EmptyName { file: String, line: usize },
}

/// Parses `name=value` lines and `name<<DELIMITER` heredocs, in file order. `file` names the file
/// in errors (e.g. `GITHUB_OUTPUT`). Blank lines are skipped; values keep their inner spaces.
pub(super) fn parse_key_values(
    file: &str,
    text: &str,
) -> Result<Vec<(String, String)>, EnvFileError> {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let mut pairs = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let line = lines.get(index).copied().unwrap_or_default();
        let line_number = index + 1;
        index += 1;
        if line.trim().is_empty() {
            continue;
        }
        let equals = line.find('=');
        let heredoc = line.find("<<");
        let is_assignment = match (equals, heredoc) {
            (Some(equals), Some(heredoc)) => equals < heredoc,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => {
                return Err(EnvFileError::InvalidLine {
                    file: file.to_string(),
                    line: line_number,
                });
            }
        };
        let (name, value) = if is_assignment {
            let (name, value) = line.split_once('=').unwrap_or((line, ""));
            (name, value.to_string())
        } else {
            let (name, delimiter) = line.split_once("<<").unwrap_or((line, ""));
            if delimiter.is_empty() {
                return Err(EnvFileError::InvalidLine {
                    file: file.to_string(),
                    line: line_number,
                });
            }
            let mut value_lines = Vec::new();
            let mut closed = false;
            while index < lines.len() {
                let body = lines.get(index).copied().unwrap_or_default();
                index += 1;
                if body == delimiter {
                    closed = true;
                    break;
                }
                value_lines.push(body);
            }
            if !closed {
                return Err(EnvFileError::UnclosedHeredoc {
                    file: file.to_string(),
                    line: line_number,
                    delimiter: delimiter.to_string(),
                });
            }
            (name, value_lines.join("\n"))
        };
        if name.is_empty() {
            return Err(EnvFileError::EmptyName {
                file: file.to_string(),
                line: line_number,
            });
        }
        pairs.push((name.to_string(), value));
    }
    Ok(pairs)
}

/// The directories listed in a `$GITHUB_PATH` file, in file order, blank lines skipped.
pub(super) fn parse_path_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &[(&str, &str)]) {
        let pairs = parse_key_values("GITHUB_ENV", text).unwrap();
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        assert_eq!(pairs, expected);
    }

    #[test]
    fn assignments_and_heredocs() {
        check("A=1\nB=two words\n", &[("A", "1"), ("B", "two words")]);
        check("A=x=y", &[("A", "x=y")]);
        check("A=\n", &[("A", "")]);
        check(
            "M<<EOF\nline 1\nline 2\nEOF\nN=3",
            &[("M", "line 1\nline 2"), ("N", "3")],
        );
        check("M<<EOF\r\nl1\r\nEOF\r\n", &[("M", "l1")]);
        check("M<<EOF\nEOF\n", &[("M", "")]);
        check("A=a<<b", &[("A", "a<<b")]);
        check("\n\nA=1\n\n", &[("A", "1")]);
    }

    #[test]
    fn errors_name_the_line() {
        let error = parse_key_values("GITHUB_OUTPUT", "A=1\nM<<EOF\nnever closed\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "GITHUB_OUTPUT:2: heredoc delimiter `EOF` is never closed"
        );
        assert!(matches!(
            parse_key_values("F", "novalue"),
            Err(EnvFileError::InvalidLine { line: 1, .. })
        ));
        assert!(matches!(
            parse_key_values("F", "=v"),
            Err(EnvFileError::EmptyName { line: 1, .. })
        ));
        assert!(matches!(
            parse_key_values("F", "M<<"),
            Err(EnvFileError::InvalidLine { .. })
        ));
    }

    #[test]
    fn path_lines() {
        assert_eq!(
            parse_path_lines("/a\n\n /b \n"),
            vec!["/a".to_string(), "/b".to_string()]
        );
    }
}
