//! Commit statuses back to the forge: every run of a repository with a forge link is reported on
//! its commit — pending when it is seen, then success, failure or cancelled (`error` where the
//! forge has no such state) — under the context `slipway/<workflow name>`, with a link to the
//! run's page (`<public URL>/runs/<id>`). A pull request's runs are reported on its head commit
//! (the one the forge shows), not on the merge commit the engine built.
//!
//! The reporter only reads the store and talks to the forge: it never blocks or changes a run.
//! Each run's states go out in order from a task of their own; a failed call (a network error,
//! 429 or 5xx) is retried with exponential backoff ([`Retry`]), other refusals are not. The last
//! failure per repository is kept (in memory) for `repo list`, cleared by the next success.
//! Runs that completed before the reporter started are not reported again.
//!
//! The forges' APIs, as each documents them:
//! - GitHub: `POST {api}/repos/{owner}/{repo}/statuses/{sha}`, `Authorization: Bearer`,
//!   states `pending`/`success`/`failure`/`error`;
//! - Gitea/Forgejo: `POST {api}/repos/{owner}/{repo}/statuses/{sha}`, `Authorization: token`,
//!   the same states;
//! - GitLab: `POST {api}/projects/{url-encoded path}/statuses/{sha}`, `PRIVATE-TOKEN`, states
//!   `pending`/`running`/`success`/`failed`/`canceled`, the context as `name`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{ForgeKind, ForgeLink};
use crate::runs::dispatch::Engine;
use crate::store::{RecordKind, RepoRecord, RunId, RunRecord, RunStatus, now_us};
use protocol::job::Conclusion;

/// How often the reporter looks at the runs.
pub const SCAN_EVERY: Duration = Duration::from_millis(250);
/// How long one call to the forge may take.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How failed calls are retried.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Calls in all, the first included.
    pub attempts: u32,
    /// The wait before the second call; doubled before each next one.
    pub first_delay: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 6,
            first_delay: Duration::from_millis(500),
        }
    }
}

/// A run's state in the forge's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitState {
    /// The run is queued or waiting and no job has started yet.
    Pending,
    /// The run is in progress (GitLab `running`, `pending` elsewhere).
    Running,
    /// The run completed successfully (skipped runs count as success).
    Success,
    /// The run completed with any conclusion other than success, skipped or cancelled.
    Failure,
    /// The run was cancelled (GitLab `canceled`, `error` elsewhere).
    Cancelled,
}

impl CommitState {
    /// The state of `run`.
    pub fn of(run: &RunRecord) -> CommitState {
        match (run.status, run.conclusion) {
            (RunStatus::Completed, Some(Conclusion::Success | Conclusion::Skipped)) => {
                CommitState::Success
            }
            (RunStatus::Completed, Some(Conclusion::Cancelled)) => CommitState::Cancelled,
            (RunStatus::Completed, _) => CommitState::Failure,
            (RunStatus::InProgress, _) => CommitState::Running,
            _ => CommitState::Pending,
        }
    }

    fn is_final(self) -> bool {
        matches!(
            self,
            CommitState::Success | CommitState::Failure | CommitState::Cancelled
        )
    }

    /// The word `forge`'s API takes. Only GitLab knows `running` and `canceled`.
    pub fn for_forge(self, forge: ForgeKind) -> &'static str {
        match (forge, self) {
            (ForgeKind::GitLab, CommitState::Pending) => "pending",
            (ForgeKind::GitLab, CommitState::Running) => "running",
            (ForgeKind::GitLab, CommitState::Success) => "success",
            (ForgeKind::GitLab, CommitState::Failure) => "failed",
            (ForgeKind::GitLab, CommitState::Cancelled) => "canceled",
            (_, CommitState::Pending | CommitState::Running) => "pending",
            (_, CommitState::Success) => "success",
            (_, CommitState::Failure) => "failure",
            (_, CommitState::Cancelled) => "error",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            CommitState::Pending => "queued",
            CommitState::Running => "in progress",
            CommitState::Success => "succeeded",
            CommitState::Failure => "failed",
            CommitState::Cancelled => "cancelled",
        }
    }
}

/// One status to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// The commit the status is posted on (a pull request's head commit), as full hex.
    pub sha: String,
    /// The run's state to report.
    pub state: CommitState,
    /// The status's context on the forge, `slipway/<workflow name>`.
    pub context: String,
    /// The line the forge shows beside the status, e.g. `Slipway run #3: in progress`.
    pub description: String,
    /// The link to the run's page, `<public URL>/runs/<id>`.
    pub target_url: String,
}

/// The last status a repository's forge refused or never answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportFailure {
    /// When the failure happened, in microseconds since the Unix epoch.
    pub at_us: u64,
    /// The context of the status that failed, `slipway/<workflow name>`.
    pub context: String,
    /// The commit the status was for.
    pub sha: String,
    /// Why it failed: the forge's answer or the network error.
    pub message: String,
}

/// The reporter; one per engine, shared as `Arc<Reporter>`.
pub struct Reporter {
    engine: Arc<Engine>,
    http: reqwest::Client,
    public_url: OnceLock<String>,
    retry: Retry,
    failures: Mutex<HashMap<String, ReportFailure>>,
}

impl Reporter {
    /// A reporter over `engine`'s runs, retrying as [`Retry::default`].
    pub fn new(engine: Arc<Engine>) -> Arc<Reporter> {
        let http = reqwest::Client::builder()
            .connect_timeout(CALL_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .build()
            .unwrap_or_default();
        Arc::new(Reporter {
            engine,
            http,
            public_url: OnceLock::new(),
            retry: Retry::default(),
            failures: Mutex::new(HashMap::new()),
        })
    }

    /// Where the web UI is reached (`serve --public-url`, else the listen address); set once.
    pub fn set_public_url(&self, url: &str) {
        let _ = self.public_url.set(url.trim_end_matches('/').to_string());
    }

    /// The web UI's address (no trailing slash).
    pub fn base_url(&self) -> &str {
        self.public_url
            .get()
            .map_or("http://127.0.0.1:7766", String::as_str)
    }

    /// The link of run `run_id`'s page.
    pub fn run_url(&self, run_id: &str) -> String {
        format!("{}/runs/{run_id}", self.base_url())
    }

    /// The last reporting failure of repository `name`, unless a status went out since.
    pub fn last_failure(&self, name: &str) -> Option<ReportFailure> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// Sends `status` for `repository` (which must have a forge link), retrying as configured.
    /// Returns whether the forge took it; a failure is also kept for `repo list`.
    pub async fn send(&self, repository: &RepoRecord, status: &Status) -> bool {
        let Some(link) = &repository.forge else {
            return false;
        };
        let mut delay = self.retry.first_delay;
        let mut last = String::new();
        for attempt in 1..=self.retry.attempts.max(1) {
            match self.call(repository, link, status).await {
                Ok(()) => {
                    self.failures
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .remove(&repository.name);
                    return true;
                }
                Err(Failure { message, retry }) => {
                    last = format!("{message} (attempt {attempt})");
                    tracing::warn!(repository = %repository.name, context = %status.context, sha = %status.sha, error = %last, "commit status not reported");
                    self.remember(repository, status, &last);
                    if !retry || attempt == self.retry.attempts {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
            }
        }
        self.remember(repository, status, &format!("{last}; gave up"));
        false
    }

    fn remember(&self, repository: &RepoRecord, status: &Status, message: &str) {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(
                repository.name.clone(),
                ReportFailure {
                    at_us: now_us(),
                    context: status.context.clone(),
                    sha: status.sha.clone(),
                    message: message.to_string(),
                },
            );
    }

    async fn call(
        &self,
        repository: &RepoRecord,
        link: &ForgeLink,
        status: &Status,
    ) -> Result<(), Failure> {
        let names = vec![
            repository.name.clone(),
            repository.github_repository.clone(),
        ];
        let token = self
            .engine
            .secrets_for_repository(&names)
            .map_err(|error| Failure::fatal(format!("read the forge token: {error}")))?
            .get(&link.token_secret)
            .cloned()
            .ok_or_else(|| {
                Failure::fatal(format!(
                    "no secret `{}` holds the forge token (slipway secret set {} --repo {})",
                    link.token_secret, link.token_secret, repository.name
                ))
            })?;
        let state = status.state.for_forge(link.kind);
        let request = match link.kind {
            ForgeKind::GitHub | ForgeKind::Gitea | ForgeKind::Forgejo => {
                let url = format!(
                    "{}/repos/{}/statuses/{}",
                    link.api, link.project, status.sha
                );
                let authorization = match link.kind {
                    ForgeKind::GitHub => format!("Bearer {token}"),
                    _ => format!("token {token}"),
                };
                self.http
                    .post(url)
                    .header("Authorization", authorization)
                    .header("Accept", "application/vnd.github+json")
                    .header("X-GitHub-Api-Version", "2022-11-28")
                    .json(&json!({
                        "state": state,
                        "target_url": status.target_url,
                        "description": status.description,
                        "context": status.context,
                    }))
            }
            ForgeKind::GitLab => {
                let url = format!(
                    "{}/projects/{}/statuses/{}",
                    link.api,
                    encode_component(&link.project),
                    status.sha
                );
                self.http
                    .post(url)
                    .header("PRIVATE-TOKEN", token)
                    .json(&json!({
                        "state": state,
                        "target_url": status.target_url,
                        "description": status.description,
                        "name": status.context,
                    }))
            }
        };
        let response = request
            .header("User-Agent", "slipway")
            .send()
            .await
            .map_err(|error| Failure::retry(format!("call {}: {error}", link.api)))?;
        let code = response.status();
        if code.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(200).collect();
        let message = format!("{} answered {code}: {}", link.kind.as_str(), body.trim());
        if code.is_server_error() || code.as_u16() == 429 {
            Err(Failure::retry(message))
        } else {
            Err(Failure::fatal(message))
        }
    }

    /// Watches the runs until `shutdown` and reports each run of a repository with a forge link.
    pub fn spawn(self: &Arc<Self>, shutdown: CancellationToken) -> JoinHandle<()> {
        let reporter = Arc::clone(self);
        tokio::spawn(async move {
            let store = reporter.engine.store().clone();
            // Runs finished before now were reported (or not) by an earlier engine.
            let mut done: HashSet<RunId> = store
                .runs()
                .unwrap_or_default()
                .into_iter()
                .filter(|run| run.status == RunStatus::Completed)
                .map(|run| run.run_id)
                .collect();
            let mut active: HashMap<RunId, Tracked> = HashMap::new();
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(SCAN_EVERY) => {}
                }
                let Ok(repos) = store.repos() else { continue };
                let linked: HashMap<String, RepoRecord> = repos
                    .into_iter()
                    .filter(|repo| repo.forge.is_some())
                    .map(|repo| (repo.name.clone(), repo))
                    .collect();
                if linked.is_empty() {
                    continue;
                }
                let Ok(runs) = store.runs() else { continue };
                for run in runs {
                    if done.contains(&run.run_id) {
                        continue;
                    }
                    let repository = run.details.get("repository").and_then(Value::as_str);
                    let Some(repository) = repository.and_then(|name| linked.get(name)) else {
                        continue;
                    };
                    let state = CommitState::of(&run);
                    let entry = match active.entry(run.run_id) {
                        std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                        std::collections::hash_map::Entry::Vacant(slot) => {
                            let Some(sha) = reporter.target_sha(&run) else {
                                done.insert(run.run_id);
                                continue;
                            };
                            let sender = reporter.start_run_task(repository.clone());
                            // Every run is pending first, however quickly it ended.
                            let _ = sender.send(reporter.status(&run, &sha, CommitState::Pending));
                            slot.insert(Tracked {
                                shown: CommitState::Pending,
                                sender,
                                sha,
                            })
                        }
                    };
                    // GitHub and Gitea have no `running`: a second `pending` adds nothing.
                    let shown = |state: CommitState| {
                        state.for_forge(
                            repository
                                .forge
                                .as_ref()
                                .map_or(ForgeKind::GitHub, |l| l.kind),
                        )
                    };
                    if shown(state) != shown(entry.shown)
                        || (state.is_final() && !entry.shown.is_final())
                    {
                        let _ = entry.sender.send(reporter.status(&run, &entry.sha, state));
                        entry.shown = state;
                    }
                    if state.is_final() {
                        active.remove(&run.run_id);
                        done.insert(run.run_id);
                    }
                }
            }
        })
    }

    /// One task per run sends its statuses in order (the sender closes when the run ends).
    fn start_run_task(self: &Arc<Self>, repository: RepoRecord) -> mpsc::UnboundedSender<Status> {
        let (sender, mut receiver) = mpsc::unbounded_channel::<Status>();
        let reporter = Arc::clone(self);
        tokio::spawn(async move {
            while let Some(status) = receiver.recv().await {
                reporter.send(&repository, &status).await;
            }
        });
        sender
    }

    fn status(&self, run: &RunRecord, sha: &str, state: CommitState) -> Status {
        let name = run
            .details
            .get("workflow_name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .unwrap_or(&run.workflow);
        Status {
            sha: sha.to_string(),
            state,
            context: format!("slipway/{name}"),
            description: format!("Slipway run #{}: {}", run.run_number, state.describe()),
            target_url: self.run_url(&run.run_id.to_string()),
        }
    }

    /// The commit the forge shows the run on: a pull request's head, else the run's commit.
    fn target_sha(&self, run: &RunRecord) -> Option<String> {
        let event = run.details.get("event").and_then(Value::as_str);
        if matches!(event, Some("pull_request" | "pull_request_target")) {
            let trigger: Option<crate::runs::rerun::RunTrigger> = self
                .engine
                .store()
                .record(RecordKind::RunTriggers, &run.run_id.to_string())
                .ok()
                .flatten();
            let head = trigger
                .and_then(|trigger| trigger.payload)
                .and_then(|payload| {
                    payload
                        .pointer("/pull_request/head/sha")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                });
            if head.is_some() {
                return head;
            }
        }
        run.details
            .get("sha")
            .and_then(Value::as_str)
            .filter(|sha| sha.len() == 40)
            .map(str::to_string)
    }
}

/// A run being reported: the last state sent, its sending task, the commit.
struct Tracked {
    shown: CommitState,
    sender: mpsc::UnboundedSender<Status>,
    sha: String,
}

struct Failure {
    message: String,
    retry: bool,
}

impl Failure {
    fn retry(message: String) -> Failure {
        Failure {
            message,
            retry: true,
        }
    }

    fn fatal(message: String) -> Failure {
        Failure {
            message,
            retry: false,
        }
    }
}

/// A URL path segment: everything but unreserved characters percent-encoded (GitLab's
/// `group%2Fapp` project ids).
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_each_forge_has_them() {
        assert_eq!(CommitState::Cancelled.for_forge(ForgeKind::GitHub), "error");
        assert_eq!(
            CommitState::Cancelled.for_forge(ForgeKind::GitLab),
            "canceled"
        );
        assert_eq!(CommitState::Running.for_forge(ForgeKind::Gitea), "pending");
        assert_eq!(CommitState::Running.for_forge(ForgeKind::GitLab), "running");
        assert_eq!(CommitState::Failure.for_forge(ForgeKind::GitLab), "failed");
        assert_eq!(encode_component("group/sub app"), "group%2Fsub%20app");
    }
}
