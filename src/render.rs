//! Human output for diagnostics: `PATH:LINE:COL: error: MESSAGE`, then the source line and a caret.

use workflows::{Diagnostic, Severity};

/// Renders one diagnostic with a snippet of `source` (the file's text) under it.
pub(crate) fn diagnostic(diagnostic: &Diagnostic, source: &str) -> String {
    let mut out = diagnostic.to_string();
    let line_number = diagnostic.span.line as usize;
    if line_number == 0 {
        return out;
    }
    if let Some(line) = source.lines().nth(line_number - 1) {
        let gutter = line_number.to_string().len();
        let line: String = line
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        let caret_column = (diagnostic.span.column as usize).saturating_sub(1);
        let pad: String = line
            .chars()
            .take(caret_column)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        let caret = match diagnostic.severity {
            Severity::Error => "^ error",
            Severity::Warning => "^ warning",
        };
        out.push_str(&format!(
            "\n{blank:gutter$} |\n{line_number:>gutter$} | {line}\n{blank:gutter$} | {pad}{caret}",
            blank = ""
        ));
    }
    out
}
