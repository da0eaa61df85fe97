//! The exit codes of the `slipway` binary. They are part of its interface: documented in `--help`
//! and in the README, and never reused for another meaning.

/// Everything went as asked: the workflow succeeded, the files are valid (warnings allowed).
pub const SUCCESS: i32 = 0;
/// The thing checked or run failed: a workflow run concluded `failure`/`cancelled`, a file has
/// errors, an expression could not be evaluated.
pub const FAILURE: i32 = 1;
/// The request itself was wrong: bad arguments, an invalid workflow given to `run`, a missing file.
pub const USAGE: i32 = 2;
/// The engine could not be reached or answered with an error.
pub const ENGINE: i32 = 3;

pub const HELP: &str = "\
Exit codes:
  0  success (valid files; run succeeded)
  1  failure (errors found; run failed or was cancelled; expression error)
  2  usage error or invalid workflow given to `run`
  3  the engine could not be reached or refused the request";
