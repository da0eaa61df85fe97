//! Pull request intake: a forge's pull/merge request webhook (already authenticated and read by
//! `forge::pull`) → the pull request's commits in the mirror (`forge::merge`) → the
//! `pull_request` workflows at the merge commit and the `pull_request_target` workflows at the
//! base's tip, each decided with the activity type, the base branch and the changed files as
//! GitHub filters them. A pull request that does not merge cleanly starts no `pull_request` run;
//! its head gets a failure status saying so.

use std::path::PathBuf;

use serde_json::Value;
use workflows::filters::TriggerEvent;

use super::{IntakeOutcome, RepoError, Repos, blocking};
use crate::forge::merge::{self, MergeOutcome, PullCommits};
use crate::forge::pull::PullRequest;
use crate::forge::status::{CommitState, Status};
use crate::repos::triggers::{Mirror, RepoEvent, WorkflowDecision, decide};

/// The events one pull request webhook makes, decided.
struct PlannedPull {
    commits: PullCommits,
    decided: Vec<(RepoEvent, Vec<WorkflowDecision>)>,
}

impl Repos {
    /// Handles one pull request event of repository `name`: fetches and merges, then starts the
    /// workflows it triggers. Runs are started in the order `pull_request`, `pull_request_target`.
    pub async fn pull_request(
        &self,
        name: &str,
        pull: PullRequest,
    ) -> Result<IntakeOutcome, RepoError> {
        let _guard = self.lock(name).await;
        let record = self.record(name)?;
        let path = PathBuf::from(&record.mirror_path);
        let source = record.source.clone();
        let full_name = record.github_repository.clone();
        let for_git = pull.clone();
        let planned = blocking(move || {
            let mirror = Mirror::open_or_create(&path, &source)?;
            mirror.fetch()?;
            let commits = merge::prepare(&mirror, &for_git)?;
            let info = mirror.info(&full_name);
            let mut payload = for_git.payload.clone();
            if let Some(base) = commits.base {
                set_if_null(&mut payload, "/pull_request/base/sha", base.to_string());
            }
            if let MergeOutcome::Merged { commit, .. } = &commits.outcome {
                set_if_null(
                    &mut payload,
                    "/pull_request/merge_commit_sha",
                    commit.to_string(),
                );
            }
            if payload.get("repository").is_none_or(Value::is_null) {
                payload["repository"] = crate::runs::event::repository_json(
                    &info.full_name,
                    &info.default_branch,
                    &info.clone_url,
                );
            }
            let trigger = |name: &str| TriggerEvent {
                name: name.to_string(),
                action: Some(for_git.action.clone()),
                git_ref: Some(format!("refs/heads/{}", for_git.base_ref)),
                changed_paths: commits.changed.for_filters(),
            };
            let mut decided = Vec::new();
            if let MergeOutcome::Merged { commit, .. } = &commits.outcome {
                let event = RepoEvent {
                    name: "pull_request".into(),
                    git_ref: format!("refs/pull/{}/merge", for_git.number),
                    sha: Some(*commit),
                    payload: payload.clone(),
                    changed_paths: commits.changed.clone(),
                };
                let decisions = decide(&mirror.workflows_at(*commit)?, &trigger("pull_request"));
                decided.push((event, decisions));
            }
            if let Some(base) = commits.base {
                let event = RepoEvent {
                    name: "pull_request_target".into(),
                    git_ref: format!("refs/heads/{}", for_git.base_ref),
                    sha: Some(base),
                    payload,
                    changed_paths: commits.changed.clone(),
                };
                let decisions =
                    decide(&mirror.workflows_at(base)?, &trigger("pull_request_target"));
                decided.push((event, decisions));
            }
            Ok(PlannedPull { commits, decided })
        })
        .await?;
        match &planned.commits.outcome {
            MergeOutcome::Conflict { paths } if pull.action != "closed" => {
                let message = format!(
                    "#{} does not merge cleanly into {} (conflicts: {}): no pull_request runs",
                    pull.number,
                    pull.base_ref,
                    paths.join(", ")
                );
                tracing::warn!(repository = %name, "{message}");
                self.report_now(&record, &pull.head_sha, CommitState::Failure, message);
            }
            MergeOutcome::NoBase => {
                tracing::warn!(repository = %name, base = %pull.base_ref, "pull request base branch not found");
            }
            _ => {}
        }
        let mut outcome = IntakeOutcome {
            events: planned.decided.len(),
            ..IntakeOutcome::default()
        };
        for (event, decisions) in planned.decided {
            let runs = self.start(&record, event, decisions).await;
            outcome.runs.extend(runs.iter().map(ToString::to_string));
        }
        Ok(outcome)
    }

    /// Sends one status outside any run (a conflicting pull request), in the background.
    fn report_now(
        &self,
        record: &crate::store::RepoRecord,
        sha: &str,
        state: CommitState,
        description: String,
    ) {
        if record.forge.is_none() {
            return;
        }
        let reporter = self.statuses.clone();
        let record = record.clone();
        let status = Status {
            sha: sha.to_string(),
            state,
            context: "slipway/merge".to_string(),
            description: description.chars().take(140).collect(),
            target_url: format!("{}/", reporter.base_url()),
        };
        tokio::spawn(async move {
            reporter.send(&record, &status).await;
        });
    }
}

fn set_if_null(payload: &mut Value, pointer: &str, value: String) {
    if let Some(slot) = payload.pointer_mut(pointer)
        && slot.is_null()
    {
        *slot = Value::String(value);
    }
}
