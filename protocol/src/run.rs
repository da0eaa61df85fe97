//! Who started a run, of what, where, and which run it is: the typed facts of a workflow run that
//! every job of it carries (`JobSpec::run`), so nobody re-reads them from the `github` context's
//! JSON.
//!
//! Plain data: the scheduler builds the `github` context from it (`scheduler::github_context`),
//! the engine reads who and what a deployment is about from it. Nothing here decides anything.

use serde::{Deserialize, Serialize};

/// The facts of one attempt of a workflow run, as GitHub names them in the `github` context.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunFacts {
    /// Who the run is for (`github.actor`): a push's pusher, a webhook's sender, the local user.
    pub actor: String,
    /// Who started this attempt (`github.triggering_actor`); the actor unless a re-run says
    /// otherwise.
    pub triggering_actor: String,
    /// `push`, `workflow_dispatch`, …
    pub event_name: String,
    /// The full ref (`refs/heads/main`), as `github.ref`.
    #[serde(rename = "ref")]
    pub git_ref: String,
    /// The commit the run is for (`github.sha`), as a full hex sha.
    pub sha: String,
    /// `owner/name`.
    pub repository: String,
    /// The `owner` part of `repository`.
    pub repository_owner: String,
    /// A path or URL git can clone the repository from (`github.repositoryUrl`).
    pub repository_url: String,
    /// The workflow's `name:`, or its file when it has none (`github.workflow`).
    pub workflow: String,
    /// The workflow file relative to the repository root.
    pub workflow_file: String,
    /// `github.run_id`: a number unique to the run among all runs, the same for every attempt
    /// of it (as on GitHub). The engine derives it from the first attempt's run id
    /// (`scheduler::numeric_run_id`).
    pub run_id: u64,
    /// `github.run_number`: counts the runs of one workflow, from 1; a re-run keeps it.
    pub run_number: u64,
    /// `github.run_attempt`: 1 for the first attempt, one more for each re-run.
    pub run_attempt: u32,
}
