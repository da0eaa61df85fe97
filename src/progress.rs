//! Live progress for `slipway run`: on a terminal, one line per job (status, time, the step running
//! and its latest output) drawn with indicatif; elsewhere, every output line prefixed with its job.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use protocol::Conclusion;

#[derive(Clone)]
pub(crate) struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` when output is plain lines (not a terminal) or silent.
    bars: Option<MultiProgress>,
    jobs: Mutex<HashMap<String, ProgressBar>>,
    silent: bool,
}

impl Progress {
    /// `plain`: no live redraw (not a terminal); `silent`: no output at all (`--json`).
    pub(crate) fn new(plain: bool, silent: bool) -> Progress {
        let bars = (!plain && !silent)
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10)));
        Progress {
            inner: Arc::new(Inner {
                bars,
                jobs: Mutex::new(HashMap::new()),
                silent,
            }),
        }
    }

    pub(crate) fn job_started(&self, key: &str) {
        match &self.inner.bars {
            Some(bars) => {
                let bar = bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {prefix:.bold} {elapsed:>4} {wide_msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(key.to_string());
                bar.enable_steady_tick(Duration::from_millis(120));
                if let Ok(mut jobs) = self.inner.jobs.lock() {
                    jobs.insert(key.to_string(), bar);
                }
            }
            None if !self.inner.silent => say(format_args!("[{key}] started")),
            None => {}
        }
    }

    pub(crate) fn step_started(&self, key: &str, step: &str) {
        match self.bar(key) {
            Some(bar) => bar.set_message(format!("▶ {step}")),
            None if !self.inner.silent => say(format_args!("[{key}] ▶ {step}")),
            None => {}
        }
    }

    pub(crate) fn output(&self, key: &str, line: &str) {
        // Workflow-command markers read as text (`error: …`, `▸ group`), as in `slipway logs`.
        let Some(line) = crate::client::log_render::shown(line) else {
            return;
        };
        let line = line.as_str();
        match self.bar(key) {
            Some(bar) => {
                let short: String = line.chars().take(120).collect();
                bar.set_message(format!("│ {short}"));
            }
            // The same shape as `slipway logs`: `[job] line`.
            None if !self.inner.silent => say(format_args!("[{key}] {line}")),
            None => {}
        }
    }

    pub(crate) fn job_done(&self, key: &str, conclusion: Conclusion, elapsed: Duration) {
        let mark = match conclusion {
            Conclusion::Success => "✓",
            Conclusion::Failure => "✗",
            Conclusion::Cancelled => "⊘",
            Conclusion::Skipped => "-",
        };
        let text = format!(
            "{mark} {key} {} ({})",
            conclusion.as_str(),
            crate::style::duration(elapsed)
        );
        let bar = self
            .inner
            .jobs
            .lock()
            .ok()
            .and_then(|mut jobs| jobs.remove(key));
        match (bar, &self.inner.bars) {
            (Some(bar), _) => bar.finish_with_message(text.clone()),
            (None, Some(bars)) => {
                let _ = bars.println(text);
            }
            (None, None) if !self.inner.silent => {
                say(format_args!("[{key}] {}", conclusion.as_str()))
            }
            (None, None) => {}
        }
    }

    pub(crate) fn println(&self, line: &str) {
        match &self.inner.bars {
            Some(bars) => {
                let _ = bars.println(line);
            }
            None if !self.inner.silent => say(format_args!("{line}")),
            None => {}
        }
    }

    pub(crate) fn finish(&self) {
        if let Ok(mut jobs) = self.inner.jobs.lock() {
            for (_, bar) in jobs.drain() {
                bar.finish();
            }
        }
    }

    fn bar(&self, key: &str) -> Option<ProgressBar> {
        self.inner
            .jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.get(key).cloned())
    }
}

/// One line to stderr. A closed stderr (`slipway run 2>&1 | head -1`) ends the command through
/// `pipe` (the run is cancelled first) instead of a panic in the task that prints.
fn say(text: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    if writeln!(std::io::stderr().lock(), "{text}").is_err() {
        crate::pipe::output_closed();
    }
}
