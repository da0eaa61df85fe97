//! How a stored log line is shown: the markers the runner writes (`##[step] NAME`,
//! `##[step-end] NAME: CONCLUSION`, `##[group]`, `##[endgroup]`, `##[error]`, …) become readable
//! text, and each line learns which step it belongs to (its name and number).
//!
//! Pure: no I/O. One `Renderer` per job, fed that job's lines in order.

use protocol::wire::StepView;
use serde::Serialize;

/// One line shown on its own (no step or group state): what `slipway run` prints for a line
/// of output; `None` for a line that shows nothing (`##[endgroup]`).
pub(crate) fn shown(line: &str) -> Option<String> {
    Renderer::default().render(line).shown
}

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum LineKind {
    /// A step's own output.
    Output,
    /// A step starts (`##[step] NAME`).
    Step,
    /// A step ended (`##[step-end] NAME: CONCLUSION`).
    StepEnd,
    /// A group opens (`##[group]TITLE`, `::group::` in a step).
    Group,
    /// A group closes; shown as nothing.
    EndGroup,
    Error,
    Warning,
    Notice,
    Debug,
}

/// One line as shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rendered {
    pub kind: LineKind,
    /// The line without its marker (`Run tests`, `boom`, the output itself).
    pub text: String,
    /// The line as a person reads it (`▶ Run tests`, `error: boom`); `None`: shows nothing.
    pub shown: Option<String>,
    /// The step the line belongs to, and its number (1-based, as `run-status` counts).
    pub step: Option<String>,
    pub step_number: Option<usize>,
}

/// The state of one job's log as it is read.
#[derive(Debug, Default)]
pub(crate) struct Renderer {
    steps: Vec<StepView>,
    step: Option<String>,
    step_number: Option<usize>,
    group_depth: usize,
}

impl Renderer {
    /// Gives the job's step list (from `run-status`), so a step reads as the number GitHub
    /// shows even when earlier ones ran in the background; without a list, steps are counted
    /// as they start.
    pub(crate) fn set_steps(&mut self, steps: &[StepView]) {
        if steps.len() > self.steps.len() {
            self.steps = steps.to_vec();
        }
    }

    pub(crate) fn render(&mut self, line: &str) -> Rendered {
        if let Some(name) = line.strip_prefix("##[step] ") {
            self.group_depth = 0;
            self.step_number = Some(self.number_of(name));
            self.step = Some(name.to_string());
            return self.rendered(LineKind::Step, name, Some(format!("▶ {name}")));
        }
        if let Some(rest) = line.strip_prefix("##[step-end] ") {
            self.group_depth = 0;
            let (name, conclusion) = rest.rsplit_once(": ").unwrap_or((rest, ""));
            let shown = match conclusion {
                "success" => None,
                "skipped" => Some(format!("- {name} (skipped)")),
                other => Some(format!("✗ {name} ({other})")),
            };
            return self.rendered(LineKind::StepEnd, rest, shown);
        }
        if let Some(title) = line.strip_prefix("##[group]") {
            let shown = format!("{}▸ {title}", self.indent());
            self.group_depth += 1;
            return self.rendered(LineKind::Group, title, Some(shown));
        }
        if line.starts_with("##[endgroup]") {
            self.group_depth = self.group_depth.saturating_sub(1);
            return self.rendered(LineKind::EndGroup, "", None);
        }
        for (marker, kind, label) in [
            ("##[error]", LineKind::Error, "error: "),
            ("##[warning]", LineKind::Warning, "warning: "),
            ("##[notice]", LineKind::Notice, "notice: "),
            ("##[debug]", LineKind::Debug, "debug: "),
        ] {
            if let Some(text) = line.strip_prefix(marker) {
                let shown = format!("{}{label}{text}", self.indent());
                return self.rendered(kind, text, Some(shown));
            }
        }
        let shown = format!("{}{line}", self.indent());
        self.rendered(LineKind::Output, line, Some(shown))
    }

    fn rendered(&self, kind: LineKind, text: &str, shown: Option<String>) -> Rendered {
        Rendered {
            kind,
            text: text.to_string(),
            shown,
            step: self.step.clone(),
            step_number: self.step_number,
        }
    }

    fn indent(&self) -> String {
        "  ".repeat(self.group_depth)
    }

    /// The number of the step called `name` that starts now: the first of that name after the
    /// step before it, else the first of that name, else one more than the step before.
    fn number_of(&self, name: &str) -> usize {
        let after = self.step_number.unwrap_or(0);
        let by_name = |from: usize| {
            self.steps
                .iter()
                .filter(|step| step.index + 1 > from && step.name == name)
                .map(|step| step.index + 1)
                .min()
        };
        by_name(after).or_else(|| by_name(0)).unwrap_or(after + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(index: usize, name: &str) -> StepView {
        StepView {
            index,
            name: name.into(),
            status: "success".into(),
        }
    }

    #[test]
    fn markers_read_as_text_and_lines_know_their_step() {
        let mut renderer = Renderer::default();
        renderer.set_steps(&[step(0, "Set up"), step(1, "Lint"), step(2, "Run tests")]);
        let shown = |renderer: &mut Renderer, line: &str| renderer.render(line).shown;
        assert_eq!(
            shown(&mut renderer, "##[step] Run tests").as_deref(),
            Some("▶ Run tests")
        );
        let line = renderer.render("##[group]Compile");
        assert_eq!(line.shown.as_deref(), Some("▸ Compile"));
        assert_eq!(line.step_number, Some(3));
        assert_eq!(
            shown(&mut renderer, "cc -c a.c").as_deref(),
            Some("  cc -c a.c")
        );
        assert_eq!(shown(&mut renderer, "##[endgroup]"), None);
        let error = renderer.render("##[error]process completed with exit code 1");
        assert_eq!(
            error.shown.as_deref(),
            Some("error: process completed with exit code 1")
        );
        assert_eq!(error.kind, LineKind::Error);
        assert_eq!(error.step.as_deref(), Some("Run tests"));
        assert_eq!(
            shown(&mut renderer, "##[step-end] Run tests: failure").as_deref(),
            Some("✗ Run tests (failure)")
        );
        assert_eq!(shown(&mut renderer, "##[step-end] Lint: success"), None);
        // Without a step list, steps are counted as they start.
        let mut counting = Renderer::default();
        assert_eq!(counting.render("##[step] a").step_number, Some(1));
        assert_eq!(counting.render("##[step] b").step_number, Some(2));
        assert_eq!(counting.render("plain").kind, LineKind::Output);
    }
}
