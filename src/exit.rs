//! The exit codes of the `slipway` binary. They are part of its interface: documented in `--help`
//! and in `docs/cli.md` (one table), and never reused for another meaning.

/// Everything went as asked: the workflow succeeded, the files are valid (warnings allowed).
pub(crate) const SUCCESS: i32 = 0;
/// The thing checked or run failed: a workflow run concluded `failure`, a file has errors, an
/// expression could not be evaluated.
pub(crate) const FAILURE: i32 = 1;
/// The request itself was wrong: bad arguments, an invalid workflow given to `run`, a missing
/// file, a run reference that names no run or several.
pub(crate) const USAGE: i32 = 2;
/// The engine could not be reached or answered with an error.
pub(crate) const ENGINE: i32 = 3;
/// The run was cancelled.
pub(crate) const CANCELLED: i32 = 4;
/// The run, or a release promotion, waits for an approval.
pub(crate) const WAITING: i32 = 5;
/// The run has not finished yet (`run-status` on a queued or running run).
pub(crate) const RUNNING: i32 = 6;
/// Nothing was done: `cancel` named a run that had already finished.
pub(crate) const FINISHED: i32 = 7;

/// The exit-code block of `--help`.
pub(crate) const HELP: &str = "\
Exit codes:
  0  success (valid files; the run succeeded)
  1  failure (errors found; the run failed; expression error)
  2  usage error, invalid workflow given to `run`, or a run reference naming no run or several
  3  the engine could not be reached or refused the request
  4  the run was cancelled
  5  the run or the release promotion waits for an approval
  6  the run has not finished yet (`run-status`)
  7  nothing to do: `cancel` named a run that had already finished";

/// The exit code for a run by its state: its conclusion once completed, else whether it waits
/// for an approval or is still going.
pub(crate) fn for_run(conclusion: Option<&str>, waits_for_approval: bool) -> i32 {
    match conclusion {
        Some("success" | "skipped" | "neutral") => SUCCESS,
        Some("cancelled") => CANCELLED,
        Some(_) => FAILURE,
        None if waits_for_approval => WAITING,
        None => RUNNING,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_map_to_codes() {
        assert_eq!(for_run(Some("success"), false), SUCCESS);
        assert_eq!(for_run(Some("failure"), false), FAILURE);
        assert_eq!(for_run(Some("cancelled"), false), CANCELLED);
        assert_eq!(for_run(None, true), WAITING);
        assert_eq!(for_run(None, false), RUNNING);
        // A finished run's conclusion wins over a stale waiting reason.
        assert_eq!(for_run(Some("failure"), true), FAILURE);
    }
}
