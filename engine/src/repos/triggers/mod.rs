//! Triggers: how the engine notices that something happened to a watched repository and decides
//! which workflows that event starts. This part needs no store and no HTTP server: the API and the
//! store call into it.
//!
//! Who does what, in the order an event travels:
//! - [`mirror`]: the engine's bare mirror of each watched repository (git2); `fetch` turns the
//!   source's new ref values into [`RefUpdate`]s and reads workflow files at a commit;
//! - [`hook`]: the `post-receive` hook script that tells the engine about a push at once;
//! - [`webhook`]: GitHub- and Gitea-style push webhooks (parsing and HMAC signatures);
//! - [`refs`]: a ref update and what kind of ref it names;
//! - [`payload`]: ref updates → events (`push`, `create`, `delete`, `schedule`,
//!   `workflow_dispatch`) with payloads shaped like GitHub's;
//! - [`paths`]: the files a push changed, with GitHub's limits;
//! - [`decide`]: the workflows at a commit + an event → which run, and which filter decided;
//! - [`schedule`]: cron next-fire times and what to do about fires missed while the engine was down.
//!
//! Workflows are always read from the commit the event is about (or the default branch, where
//! GitHub does so), never from a working tree. Nothing here writes the source repository (the hook
//! installer only writes a hook file), keeps state between calls, or reads the clock: callers pass
//! `now`.

pub mod decide;
pub mod hook;
pub mod mirror;
pub mod paths;
pub mod payload;
pub mod refs;
pub mod schedule;
pub mod webhook;

pub use decide::{WorkflowDecision, WorkflowFile, decide};
pub use mirror::Mirror;
pub use paths::ChangedPaths;
pub use payload::{RepoEvent, RepoInfo};
pub use refs::{RefKind, RefUpdate};

/// Why a trigger operation failed: git could not do what was asked, a file could not be written,
/// or the input was malformed. The message reads after "failed to …".
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// A git operation on the mirror failed.
    #[error("{context}: {source}")]
    Git {
        /// What was being done, e.g. "walk pushed commits".
        context: String,
        /// libgit2's error.
        #[source]
        source: git2::Error,
    },
    /// Reading or writing a file or folder (mirror, workflow file) failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The request cannot be done as given (e.g. a push event for a deleted ref, a hook already
    /// installed by someone else); the text says why.
    #[error("{0}")]
    Invalid(String),
}

impl TriggerError {
    pub(crate) fn git(context: impl Into<String>) -> impl FnOnce(git2::Error) -> TriggerError {
        let context = context.into();
        move |source| TriggerError::Git { context, source }
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> TriggerError {
        let context = context.into();
        move |source| TriggerError::Io { context, source }
    }
}
