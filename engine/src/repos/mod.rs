//! The watched-repositories service: registering repositories (a mirror each), and every way a
//! change reaches the engine — the `post-receive` hook, push webhooks, polling (and the catch-up
//! poll at start), cron schedules — turned into "start these workflows for this event" calls on a
//! [`RunStarter`]. It also answers "which runs exist at this commit" and sends run-completion
//! notifications.
//!
//! Each repository's `seen_refs` (in the store) says which ref values runs were already started
//! for; every intake path compares against it, so a push announced by the hook and then seen again
//! by a poll starts its workflows once. Work on one repository is serialised (one lock per name),
//! so two quick pushes are handled in order.
//!
//! This module must not plan jobs (the [`RunStarter`] does), serve HTTP (`api::repos` does) or
//! touch sled (the store does). Git work runs on blocking threads.

mod pulls;
pub mod triggers;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use git2::Oid;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::repos::triggers::mirror::{self, diff_ref_values, ref_values};
use crate::repos::triggers::payload::{events_for_updates, schedule_event};
use crate::repos::triggers::schedule::{MisfirePolicy, schedules_in};
use crate::repos::triggers::{
    Mirror, RefUpdate, RepoEvent, TriggerError, WorkflowDecision, decide,
};
use crate::runs::dispatch::Engine;
use crate::store::{
    RefStorm, RepoRecord, RunId, RunRecord, RunStatus, StoreError, hook_token_hash, new_secret,
    now_us,
};

/// A fetch that moves more refs than this at once is a storm: recorded, not triggered.
pub const STORM_LIMIT: usize = 100;
/// How often the background task looks for due polls and schedules.
pub const TICK: Duration = Duration::from_secs(1);
/// How long a completion notification may take before it is given up.
pub const NOTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// Starts runs for the workflows an event triggers. The orchestrator implements it; until it is
/// wired, [`RecordRuns`] only records queued runs.
pub trait RunStarter: Send + Sync {
    /// `decisions` holds only workflows that trigger. Returns the runs started.
    fn start_runs<'a>(
        &'a self,
        repository: &'a RepoRecord,
        event: RepoEvent,
        decisions: Vec<WorkflowDecision>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<RunId>, String>> + Send + 'a>>;
}

/// A [`RunStarter`] that records one queued run per workflow (event, ref and sha in its details)
/// and plans no jobs.
pub struct RecordRuns {
    /// The engine whose store the queued runs are recorded in.
    pub engine: Arc<Engine>,
}

impl RunStarter for RecordRuns {
    fn start_runs<'a>(
        &'a self,
        repository: &'a RepoRecord,
        event: RepoEvent,
        decisions: Vec<WorkflowDecision>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<RunId>, String>> + Send + 'a>> {
        Box::pin(async move {
            let mut started = Vec::new();
            for decision in decisions {
                let details = run_details(repository, &event, &decision);
                let run = self
                    .engine
                    .create_run(&decision.file, details)
                    .await
                    .map_err(|error| error.to_string())?;
                started.push(run.run_id);
            }
            Ok(started)
        })
    }
}

/// The orchestrator starts one run per workflow, at the event's exact commit (so two quick pushes
/// run at their own commits) with the event's ref as `github.ref`, and the event's payload as
/// `github.event`.
impl RunStarter for crate::runs::orchestrator::Orchestrator {
    fn start_runs<'a>(
        &'a self,
        repository: &'a RepoRecord,
        event: RepoEvent,
        decisions: Vec<WorkflowDecision>,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<RunId>, String>> + Send + 'a>> {
        Box::pin(async move {
            let Some(sha) = event.sha else {
                return Ok(Vec::new());
            };
            let mut started = Vec::new();
            // The pusher (the event's sender) is a user when a login or git e-mail maps to
            // one; else the run's actor is an unmapped git identity, which can never approve.
            let actor = pusher_as_user(self.engine().store(), &event.payload);
            for decision in decisions {
                let request = crate::runs::orchestrator::RunRequest {
                    repository: PathBuf::from(&repository.mirror_path),
                    workflow: decision.file.clone(),
                    event_name: event.name.clone(),
                    git_ref: event.git_ref.clone(),
                    sha: Some(sha.to_string()),
                    inputs: Vec::new(),
                    payload: Some(event.payload.clone()),
                    actor: actor.clone(),
                };
                match self.start_run(request).await {
                    Ok(run) => started.push(run.run_id),
                    Err(error) => {
                        tracing::error!(repository = %repository.name, workflow = %decision.file, %error, "run not started");
                    }
                }
            }
            Ok(started)
        })
    }
}

/// The user an event's sender (`sender.login`, `pusher.name`/`pusher.email`) maps to.
fn pusher_as_user(store: &crate::store::Store, payload: &serde_json::Value) -> Option<String> {
    let text = |pointer: &str| payload.pointer(pointer).and_then(serde_json::Value::as_str);
    let name = text("/sender/login").or_else(|| text("/pusher/name"));
    let email = text("/pusher/email");
    match crate::identity::map_git_identity(store, name, email) {
        Ok(user) => user.map(|user| user.name),
        Err(error) => {
            tracing::warn!(%error, "could not map the pusher to a user");
            None
        }
    }
}

/// What a run started by a trigger records about it (`RunRecord::details`); `status` reads `sha`.
pub fn run_details(
    repository: &RepoRecord,
    event: &RepoEvent,
    decision: &WorkflowDecision,
) -> serde_json::Value {
    json!({
        "repository": repository.name,
        "event": event.name,
        "ref": event.git_ref,
        "sha": event.sha.map(|sha| sha.to_string()),
        "workflow_name": decision.name,
        "reason": decision.reason,
    })
}

/// What went wrong; messages read after "failed to …".
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// No watched repository has that name.
    #[error("find repository `{0}`")]
    NotFound(String),
    /// `repo add` named a repository that is watched already.
    #[error("add repository `{0}`: a repository of that name is watched already")]
    Exists(String),
    /// The request is not valid (bad name, forge options that do not go together); the text
    /// says why.
    #[error("{0}")]
    Invalid(String),
    /// A hook or webhook came without a valid token or signature for that repository.
    #[error("authenticate: missing or invalid credential for repository `{0}`")]
    Unauthorized(String),
    /// Reading or writing the repository, run or schedule records failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Git work on the mirror (open, fetch, read refs or workflows) failed.
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    /// A blocking git task panicked or was cancelled before it returned.
    #[error("run git work: {0}")]
    Task(String),
}

/// `repo add`'s request.
#[derive(Debug, Clone, Default)]
pub struct AddRepo {
    /// The repository to watch: a URL or a local path (made absolute when recorded).
    pub source: String,
    /// The name to watch it under; default: the source's last path part without `.git`.
    pub name: Option<String>,
    /// `--poll`: how often to fetch and look for moved refs; `None` relies on the hook and
    /// webhooks.
    pub poll_interval: Option<Duration>,
    /// `--webhook-secret`: the secret push webhooks are signed with; none (or empty) takes no
    /// webhooks.
    pub webhook_secret: Option<String>,
    /// `--forge`: the forge it lives on (pull request webhooks, commit statuses).
    pub forge: Option<crate::forge::ForgeKind>,
    /// `--forge-token-secret`: the sealed secret holding the forge's API token.
    pub forge_token_secret: Option<String>,
    /// `--forge-api`: the forge's API URL when it cannot be told from the source.
    pub forge_api: Option<String>,
}

/// A repository as `repo list` shows it (no secrets).
#[derive(Debug, Clone, Serialize)]
pub struct RepoView {
    /// The name the repository is watched under, e.g. `shop`.
    pub name: String,
    /// Where the mirror fetches from: a URL or an absolute local path.
    pub source: String,
    /// The path of the engine's bare mirror of the repository, under the data directory.
    pub mirror_path: String,
    /// How often it is polled, in milliseconds; `None` when it is not polled.
    pub poll_interval_ms: Option<u64>,
    /// Whether a webhook secret is set, so signed push webhooks are taken.
    pub webhook: bool,
    /// How many refs (branches and tags) were seen, i.e. have had their runs started.
    pub refs: usize,
    /// How many refs the last storm moved, while a storm awaits a decision; `None` otherwise.
    pub pending_storm: Option<usize>,
    /// `github.repository` of its runs.
    pub github_repository: String,
    /// `github`, `gitea`, `forgejo` or `gitlab` when a forge is linked.
    pub forge: Option<String>,
    /// The forge's API URL.
    pub forge_api: Option<String>,
    /// The last commit status the forge did not take, unless one went out since.
    pub forge_status_error: Option<crate::forge::status::ReportFailure>,
}

/// One schedule as `slipway schedules` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleView {
    /// The watched repository's name.
    pub repository: String,
    /// The workflow file that holds the schedule, e.g. `.github/workflows/nightly.yml`.
    pub workflow: String,
    /// The cron expression as written in the workflow, e.g. `0 3 * * *`.
    pub cron: String,
    /// RFC 3339, UTC; `None` when the cron never fires.
    pub next_fire: Option<String>,
    /// When it last fired, RFC 3339, UTC; `None` when it never has.
    pub last_fire: Option<String>,
}

/// One run at a commit, as `slipway status` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct CommitStatus {
    /// The run's id.
    pub run_id: String,
    /// The watched repository the run is of; `None` for a run not started from a repository.
    pub repository: Option<String>,
    /// The workflow file, relative to the repository root.
    pub workflow: String,
    /// The run's number in its workflow (`github.run_number`).
    pub run_number: u64,
    /// The event that started it, e.g. `push` or `schedule`; `None` when not recorded.
    pub event: Option<String>,
    /// The ref it ran for, e.g. `refs/heads/main`; `None` when not recorded.
    pub git_ref: Option<String>,
    /// The commit it ran at, as 40 hex digits.
    pub sha: String,
    /// `queued`, `in_progress`, or the conclusion of a completed run.
    pub state: String,
}

/// The credential headers a webhook came with (any may be missing).
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookCredentials<'a> {
    /// `X-Hub-Signature-256` (GitHub).
    pub github_signature: Option<&'a str>,
    /// `X-Gitea-Signature`.
    pub gitea_signature: Option<&'a str>,
    /// `X-Forgejo-Signature`.
    pub forgejo_signature: Option<&'a str>,
    /// `X-Gitlab-Token`.
    pub gitlab_token: Option<&'a str>,
}

/// What one intake did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IntakeOutcome {
    /// How many events the intake turned the moved refs into and decided workflows for.
    pub events: usize,
    /// The ids of the runs started.
    pub runs: Vec<String>,
    /// A storm was recorded instead of triggering (poll only).
    pub storm: Option<usize>,
}

/// The service; share it as `Arc<Repos>`.
pub struct Repos {
    engine: Arc<Engine>,
    starter: Arc<dyn RunStarter>,
    storm_limit: usize,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    statuses: Arc<crate::forge::status::Reporter>,
}

/// Where an intake came from: decides which updates are believed and whether storms count.
#[derive(Debug, Clone)]
enum Intake {
    /// The hook or a webhook said exactly which refs moved.
    Announced {
        updates: Vec<RefUpdate>,
        pusher: String,
    },
    /// Compare the mirror with what was seen (polling, catch-up at start).
    Poll,
}

impl Repos {
    /// The service of `engine`, starting runs through `starter`, with the default [`STORM_LIMIT`].
    pub fn new(engine: Arc<Engine>, starter: Arc<dyn RunStarter>) -> Arc<Repos> {
        Arc::new(Repos {
            statuses: crate::forge::status::Reporter::new(engine.clone()),
            engine,
            starter,
            storm_limit: STORM_LIMIT,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// The same, with another storm limit (tests).
    pub fn with_storm_limit(
        engine: Arc<Engine>,
        starter: Arc<dyn RunStarter>,
        storm_limit: usize,
    ) -> Arc<Repos> {
        Arc::new(Repos {
            statuses: crate::forge::status::Reporter::new(engine.clone()),
            engine,
            starter,
            storm_limit,
            locks: Mutex::new(HashMap::new()),
        })
    }

    /// The engine the service reads and records with.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// The commit-status reporter of repositories linked to a forge (`serve` starts it).
    pub fn status_reporter(&self) -> &Arc<crate::forge::status::Reporter> {
        &self.statuses
    }

    /// Registers a repository: makes and fetches its mirror and records its current refs as seen
    /// (adding starts no runs). Returns the record and the hook token (its only copy).
    pub async fn add(&self, request: AddRepo) -> Result<(RepoRecord, String), RepoError> {
        let name = match &request.name {
            Some(name) => name.clone(),
            None => default_name(&request.source),
        };
        check_name(&name)?;
        let _guard = self.lock(&name).await;
        if self.engine.store().repo(&name)?.is_some() {
            return Err(RepoError::Exists(name));
        }
        let mirror_path = mirror::mirror_path(&self.engine.config().data_dir, &name);
        let source = request.source.clone();
        let path = mirror_path.clone();
        let seen = blocking(move || {
            let mirror = Mirror::open_or_create(&path, &source)?;
            mirror.fetch()?;
            Ok(hex_values(&ref_values(mirror.repository())?))
        })
        .await?;
        let token = new_secret()?;
        let github_repository = github_repository_of(&request.source, &name);
        let forge = match (request.forge, &request.forge_token_secret) {
            (Some(kind), Some(secret)) => Some(
                crate::forge::ForgeLink::new(
                    kind,
                    secret,
                    request.forge_api.as_deref(),
                    &request.source,
                    &github_repository,
                )
                .map_err(|message| RepoError::Invalid(format!("add repository: {message}")))?,
            ),
            (Some(_), None) => {
                return Err(RepoError::Invalid(
                    "add repository: --forge needs --forge-token-secret NAME (a secret holding the forge's API token)".into(),
                ));
            }
            (None, _) if request.forge_token_secret.is_some() || request.forge_api.is_some() => {
                return Err(RepoError::Invalid(
                    "add repository: --forge-token-secret and --forge-api need --forge github|gitea|forgejo|gitlab".into(),
                ));
            }
            (None, _) => None,
        };
        let record = RepoRecord {
            github_repository,
            name,
            source: source_for_record(&request.source),
            mirror_path: mirror_path.display().to_string(),
            poll_interval_ms: request
                .poll_interval
                .map(|every| u64::try_from(every.as_millis()).unwrap_or(u64::MAX).max(1)),
            hook_token_hash: hook_token_hash(&token),
            webhook_secret: request.webhook_secret.filter(|s| !s.is_empty()),
            seen_refs: seen,
            pending_storm: None,
            created_at_us: now_us(),
            forge,
        };
        self.engine.store().put_repo(&record).await?;
        Ok((record, token))
    }

    /// Every watched repository as `repo list` shows it, without secrets.
    pub fn list(&self) -> Result<Vec<RepoView>, RepoError> {
        Ok(self
            .engine
            .store()
            .repos()?
            .iter()
            .map(|repo| RepoView {
                name: repo.name.clone(),
                source: repo.source.clone(),
                mirror_path: repo.mirror_path.clone(),
                poll_interval_ms: repo.poll_interval_ms,
                webhook: repo.webhook_secret.is_some(),
                refs: repo.seen_refs.len(),
                pending_storm: repo.pending_storm.as_ref().map(|storm| storm.moved_refs),
                github_repository: repo.github_repository.clone(),
                forge: repo
                    .forge
                    .as_ref()
                    .map(|link| link.kind.as_str().to_string()),
                forge_api: repo.forge.as_ref().map(|link| link.api.clone()),
                forge_status_error: repo
                    .forge
                    .as_ref()
                    .and_then(|_| self.statuses.last_failure(&repo.name)),
            })
            .collect())
    }

    /// Stops watching `name` and deletes its mirror.
    pub async fn remove(&self, name: &str) -> Result<(), RepoError> {
        let _guard = self.lock(name).await;
        let record = self.record(name)?;
        self.engine.store().remove_repo(name).await?;
        let _ = std::fs::remove_dir_all(&record.mirror_path);
        Ok(())
    }

    /// A fresh hook token for `name` (the old one stops working). Returns its only copy.
    pub async fn new_hook_token(&self, name: &str) -> Result<String, RepoError> {
        let _guard = self.lock(name).await;
        let mut record = self.record(name)?;
        let token = new_secret()?;
        record.hook_token_hash = hook_token_hash(&token);
        self.engine.store().put_repo(&record).await?;
        Ok(token)
    }

    /// Checks a hook request's bearer token; nothing is recorded for a refused one.
    pub fn authenticate_hook(&self, name: &str, token: Option<&str>) -> Result<(), RepoError> {
        let record = self.record(name)?;
        match token {
            Some(token) if record.hook_token_matches(token.trim()) => Ok(()),
            _ => Err(RepoError::Unauthorized(name.to_string())),
        }
    }

    /// Checks a webhook's credential against the repository's secret: GitHub's HMAC
    /// `X-Hub-Signature-256`, else Gitea's or Forgejo's bare-hex HMAC header, else GitLab's
    /// `X-Gitlab-Token` (the secret itself, compared in constant time). No secret means every
    /// webhook is refused.
    pub fn authenticate_webhook(
        &self,
        name: &str,
        body: &[u8],
        credentials: &WebhookCredentials<'_>,
    ) -> Result<(), RepoError> {
        use crate::repos::triggers::webhook::{
            verify_gitea_signature, verify_signature, verify_token,
        };
        let record = self.record(name)?;
        let Some(secret) = record.webhook_secret.as_deref() else {
            return Err(RepoError::Unauthorized(name.to_string()));
        };
        let github_signature = credentials.github_signature;
        let gitea_signature = credentials
            .gitea_signature
            .or(credentials.forgejo_signature);
        let good = verify_signature(secret.as_bytes(), body, github_signature)
            || (github_signature.is_none()
                && verify_gitea_signature(secret.as_bytes(), body, gitea_signature))
            || (github_signature.is_none()
                && gitea_signature.is_none()
                && verify_token(secret.as_bytes(), credentials.gitlab_token));
        if good {
            Ok(())
        } else {
            Err(RepoError::Unauthorized(name.to_string()))
        }
    }

    /// Handles refs announced by the hook or a webhook (already authenticated): fetches the
    /// mirror, then starts the workflows of every announced move not seen before.
    pub async fn announce(
        &self,
        name: &str,
        updates: Vec<RefUpdate>,
        pusher: &str,
    ) -> Result<IntakeOutcome, RepoError> {
        self.intake(
            name,
            Intake::Announced {
                updates,
                pusher: pusher.to_string(),
            },
        )
        .await
    }

    /// Fetches `name` and starts the workflows of every ref move not seen before; a move of more
    /// than the storm limit is recorded as a storm instead.
    pub async fn poll(&self, name: &str) -> Result<IntakeOutcome, RepoError> {
        self.intake(name, Intake::Poll).await
    }

    /// Accepts a recorded storm: the mirror's current refs become seen, and no runs start.
    pub async fn accept(&self, name: &str) -> Result<usize, RepoError> {
        let _guard = self.lock(name).await;
        let mut record = self.record(name)?;
        let path = PathBuf::from(&record.mirror_path);
        let source = record.source.clone();
        let seen = blocking(move || {
            let mirror = Mirror::open_or_create(&path, &source)?;
            mirror.fetch()?;
            Ok(hex_values(&ref_values(mirror.repository())?))
        })
        .await?;
        let moved = record
            .pending_storm
            .take()
            .map_or(0, |storm| storm.moved_refs);
        record.seen_refs = seen;
        self.engine.store().put_repo(&record).await?;
        Ok(moved)
    }

    /// Every schedule of every repository's default branch, with its next fire after `now`.
    pub async fn schedules(&self, now: Timestamp) -> Result<Vec<ScheduleView>, RepoError> {
        let mut views = Vec::new();
        for record in self.engine.store().repos()? {
            let path = PathBuf::from(&record.mirror_path);
            let found = blocking(move || {
                let mirror = Mirror::open(&path)?;
                let Some((_, files)) = default_branch_workflows(&mirror)? else {
                    return Ok(Vec::new());
                };
                Ok(schedules_in(&files).0)
            })
            .await;
            let Ok(found) = found else { continue };
            for scheduled in found {
                let last = self.engine.store().schedule_last_fire(
                    &record.name,
                    &scheduled.file,
                    &scheduled.schedule.text,
                )?;
                views.push(ScheduleView {
                    repository: record.name.clone(),
                    workflow: scheduled.file.clone(),
                    cron: scheduled.schedule.text.clone(),
                    next_fire: scheduled
                        .schedule
                        .next_fire(now)
                        .map(|fire| fire.to_string()),
                    last_fire: last
                        .and_then(|second| Timestamp::from_second(second).ok())
                        .map(|fire| fire.to_string()),
                });
            }
        }
        Ok(views)
    }

    /// Starts the `schedule` runs due at `now` (misfire policy: run once), for every repository.
    /// A schedule seen for the first time starts counting at `now`.
    pub async fn run_due_schedules(&self, now: Timestamp) -> Result<usize, RepoError> {
        let mut started = 0;
        for record in self.engine.store().repos()? {
            let _guard = self.lock(&record.name).await;
            let path = PathBuf::from(&record.mirror_path);
            let name = record.name.clone();
            let store = Arc::clone(self.engine.store());
            let firings = blocking(move || {
                let mirror = Mirror::open(&path)?;
                let Some((_, files)) = default_branch_workflows(&mirror)? else {
                    return Ok(Vec::new());
                };
                let info = mirror.info(&name);
                let mut firings = Vec::new();
                for scheduled in schedules_in(&files).0 {
                    let cron = scheduled.schedule.text.clone();
                    let last = store
                        .schedule_last_fire(&name, &scheduled.file, &cron)
                        .map_err(|error| TriggerError::Invalid(error.to_string()))?
                        .and_then(|second| Timestamp::from_second(second).ok());
                    let due = scheduled.schedule.due(last, now, MisfirePolicy::RunOnce);
                    let mark = match (last, due.last()) {
                        (None, _) => now,
                        (Some(_), Some(fire)) => *fire,
                        (Some(_), None) => continue,
                    };
                    let decisions = if due.is_empty() {
                        Vec::new()
                    } else {
                        let event = schedule_event(mirror.repository(), &info, &cron);
                        let file: Vec<_> = files
                            .iter()
                            .filter(|file| file.path == scheduled.file)
                            .cloned()
                            .collect();
                        let decided = decide(&file, &event.trigger_event());
                        vec![(event, decided)]
                    };
                    firings.push((scheduled.file, cron, mark, decisions));
                }
                Ok(firings)
            })
            .await;
            let firings = match firings {
                Ok(firings) => firings,
                Err(error) => {
                    tracing::warn!(repository = %record.name, %error, "schedules not read");
                    continue;
                }
            };
            for (file, cron, mark, decisions) in firings {
                // Several replicas: each fire is claimed once, whichever replica sees it first.
                let store = self.engine.store();
                let claim = format!("cron:{}:{file}:{cron}:{}", record.name, mark.as_second());
                if !decisions.is_empty() && store.is_shared() && !store.claim(&claim)? {
                    continue;
                }
                for (event, decided) in decisions {
                    started += self.start(&record, event, decided).await.len();
                }
                self.engine
                    .store()
                    .set_schedule_last_fire(&record.name, &file, &cron, mark.as_second())
                    .await?;
            }
        }
        Ok(started)
    }

    /// Every run whose trigger commit starts with `sha` (at least 7 hex digits), newest first.
    pub fn statuses(&self, sha: &str) -> Result<Vec<CommitStatus>, RepoError> {
        let sha = sha.trim().to_ascii_lowercase();
        if sha.len() < 7 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RepoError::Invalid(format!(
                "read commit `{sha}`: expected at least 7 hex digits"
            )));
        }
        let mut statuses = Vec::new();
        for run in self.engine.store().runs()? {
            let text = |key: &str| {
                run.details
                    .get(key)
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
            };
            let Some(run_sha) = text("sha") else { continue };
            if !run_sha.starts_with(&sha) {
                continue;
            }
            statuses.push(CommitStatus {
                run_id: run.run_id.to_string(),
                repository: text("repository"),
                workflow: run.workflow.clone(),
                run_number: run.run_number,
                event: text("event"),
                git_ref: text("ref"),
                sha: run_sha,
                state: run_state(&run),
            });
        }
        Ok(statuses)
    }

    /// Runs until `shutdown`: first a catch-up poll of every repository (pushes made while the
    /// engine was down), then polls at each repository's interval and due schedules.
    pub fn spawn(self: &Arc<Self>, shutdown: CancellationToken) -> JoinHandle<()> {
        let repos = Arc::clone(self);
        tokio::spawn(async move {
            let mut last_poll: HashMap<String, tokio::time::Instant> = HashMap::new();
            if let Ok(records) = repos.engine.store().repos() {
                for record in records {
                    if shutdown.is_cancelled() {
                        return;
                    }
                    if let Err(error) = repos.poll(&record.name).await {
                        tracing::warn!(repository = %record.name, %error, "catch-up poll failed");
                    }
                    last_poll.insert(record.name, tokio::time::Instant::now());
                }
            }
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(TICK) => {}
                }
                let Ok(records) = repos.engine.store().repos() else {
                    continue;
                };
                for record in records {
                    let Some(every) = record.poll_interval_ms.map(Duration::from_millis) else {
                        continue;
                    };
                    let due = last_poll
                        .get(&record.name)
                        .is_none_or(|last| last.elapsed() >= every);
                    if due {
                        if let Err(error) = repos.poll(&record.name).await {
                            tracing::warn!(repository = %record.name, %error, "poll failed");
                        }
                        last_poll.insert(record.name, tokio::time::Instant::now());
                    }
                }
                if let Err(error) = repos.run_due_schedules(Timestamp::now()).await {
                    tracing::warn!(%error, "schedules failed");
                }
            }
        })
    }

    async fn intake(&self, name: &str, intake: Intake) -> Result<IntakeOutcome, RepoError> {
        let _guard = self.lock(name).await;
        let mut record = self.record(name)?;
        let path = PathBuf::from(&record.mirror_path);
        let source = record.source.clone();
        let seen = record.seen_refs.clone();
        let storm_limit = self.storm_limit;
        let full_name = record.name.clone();
        let planned = blocking(move || {
            let mirror = Mirror::open_or_create(&path, &source)?;
            mirror.fetch()?;
            let (updates, pusher, is_poll) = match intake {
                Intake::Announced { updates, pusher } => {
                    let fresh: Vec<RefUpdate> = updates
                        .into_iter()
                        .filter(|update| !already_seen(&seen, update))
                        .collect();
                    (fresh, pusher, false)
                }
                Intake::Poll => {
                    let seen_oids = oid_values(&seen);
                    let now = ref_values(mirror.repository())?;
                    (
                        diff_ref_values(&seen_oids, &now),
                        "slipway".to_string(),
                        true,
                    )
                }
            };
            if is_poll && updates.len() > storm_limit {
                return Ok(Planned::Storm(updates.len()));
            }
            let info = mirror.info(&full_name);
            let events = events_for_updates(mirror.repository(), &info, &pusher, &updates)?;
            let mut decided = Vec::new();
            for event in events {
                let Some(sha) = event.sha else { continue };
                let files = mirror.workflows_at(sha)?;
                let decisions = decide(&files, &event.trigger_event());
                decided.push((event, decisions));
            }
            Ok(Planned::Runs { updates, decided })
        })
        .await?;
        match planned {
            Planned::Storm(moved_refs) => {
                tracing::warn!(repository = %name, moved_refs, "ref storm: not triggered until `slipway repo accept`");
                record.pending_storm = Some(RefStorm {
                    moved_refs,
                    detected_at_us: now_us(),
                });
                self.engine.store().put_repo(&record).await?;
                Ok(IntakeOutcome {
                    storm: Some(moved_refs),
                    ..IntakeOutcome::default()
                })
            }
            Planned::Runs { updates, decided } => {
                let mut outcome = IntakeOutcome {
                    events: decided.len(),
                    ..IntakeOutcome::default()
                };
                // Runs are recorded before the refs are marked seen: a crash in between repeats
                // a run rather than losing one.
                for (event, decisions) in decided {
                    let runs = self.start(&record, event, decisions).await;
                    outcome.runs.extend(runs.iter().map(ToString::to_string));
                }
                for update in &updates {
                    match update.new {
                        Some(new) => record
                            .seen_refs
                            .insert(update.name.clone(), new.to_string()),
                        None => record.seen_refs.remove(&update.name),
                    };
                }
                if !updates.is_empty() {
                    self.engine.store().put_repo(&record).await?;
                }
                Ok(outcome)
            }
        }
    }

    async fn start(
        &self,
        record: &RepoRecord,
        event: RepoEvent,
        decisions: Vec<WorkflowDecision>,
    ) -> Vec<RunId> {
        let triggering: Vec<WorkflowDecision> = decisions
            .into_iter()
            .filter(|decision| decision.triggers && !decision.invalid)
            .collect();
        if triggering.is_empty() {
            return Vec::new();
        }
        let event_name = event.name.clone();
        match self.starter.start_runs(record, event, triggering).await {
            Ok(runs) => runs,
            Err(error) => {
                tracing::error!(repository = %record.name, event = %event_name, %error, "runs not started");
                Vec::new()
            }
        }
    }

    fn record(&self, name: &str) -> Result<RepoRecord, RepoError> {
        self.engine
            .store()
            .repo(name)?
            .ok_or_else(|| RepoError::NotFound(name.to_string()))
    }

    /// One fetch, intake or schedule pass of a repository at a time: in this process, and on
    /// a shared store across replicas too (a store-wide lock per repository, so the mirror all
    /// replicas share in the data dir is fetched by one of them at a time).
    async fn lock(&self, name: &str) -> RepoGuard {
        let lock = {
            let mut locks = self
                .locks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(locks.entry(name.to_string()).or_default())
        };
        let local = lock.lock_owned().await;
        let store = Arc::clone(self.engine.store());
        let shared = if store.is_shared() {
            let key = format!("repo:{name}");
            match tokio::task::spawn_blocking(move || store.lock(&key)).await {
                Ok(Ok(held)) => held,
                Ok(Err(error)) => {
                    tracing::warn!(repository = %name, %error, "the store-wide lock was not taken");
                    None
                }
                Err(error) => {
                    tracing::warn!(repository = %name, %error, "the store-wide lock was not taken");
                    None
                }
            }
        } else {
            None
        };
        RepoGuard {
            _shared: shared,
            _local: local,
        }
    }
}

/// Held while one repository is fetched or read for triggers (`Repos::lock`).
struct RepoGuard {
    /// The store-wide lock (shared stores), released before the process-local one.
    _shared: Option<Box<dyn Send>>,
    _local: tokio::sync::OwnedMutexGuard<()>,
}

/// Watches the store for runs that complete and POSTs each to `url` once (best effort, at most
/// [`NOTIFY_TIMEOUT`] each) until `shutdown`. Runs completed before the call are not sent.
pub fn spawn_completion_notifier(
    engine: Arc<Engine>,
    url: String,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let client = match reqwest::Client::builder().timeout(NOTIFY_TIMEOUT).build() {
            Ok(client) => client,
            Err(error) => {
                tracing::error!(%error, "completion notifier not started");
                return;
            }
        };
        let completed = |engine: &Engine| -> HashSet<RunId> {
            engine
                .store()
                .runs()
                .unwrap_or_default()
                .into_iter()
                .filter(|run| run.status == RunStatus::Completed)
                .map(|run| run.run_id)
                .collect()
        };
        let mut notified = completed(&engine);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            let Ok(runs) = engine.store().runs() else {
                continue;
            };
            for run in runs {
                if run.status != RunStatus::Completed || !notified.insert(run.run_id) {
                    continue;
                }
                // Several replicas: the one driving runs sends the notice.
                if !engine.drives() {
                    continue;
                }
                let body = completion_body(&run);
                if let Err(error) = client.post(&url).json(&body).send().await {
                    tracing::warn!(%error, run_id = %run.run_id, "completion notification not sent");
                }
            }
        }
    })
}

/// The JSON a completion notification carries.
pub fn completion_body(run: &RunRecord) -> serde_json::Value {
    json!({
        "run_id": run.run_id.to_string(),
        "workflow": run.workflow,
        "run_number": run.run_number,
        "state": run_state(run),
        "repository": run.details.get("repository"),
        "event": run.details.get("event"),
        "ref": run.details.get("ref"),
        "sha": run.details.get("sha"),
    })
}

enum Planned {
    Storm(usize),
    Runs {
        updates: Vec<RefUpdate>,
        decided: Vec<(RepoEvent, Vec<WorkflowDecision>)>,
    },
}

fn run_state(run: &RunRecord) -> String {
    match (run.status, run.conclusion) {
        (RunStatus::Completed, Some(conclusion)) => conclusion.as_str().to_string(),
        (status, _) => status.as_str().to_string(),
    }
}

/// An announced move is already handled when the seen value is its new value (a poll got there
/// first), or for a deletion, when the ref is not seen at all.
fn already_seen(seen: &BTreeMap<String, String>, update: &RefUpdate) -> bool {
    match update.new {
        Some(new) => seen.get(&update.name) == Some(&new.to_string()),
        None => !seen.contains_key(&update.name),
    }
}

/// The default branch's tip and its workflow files; `None` for an empty repository.
fn default_branch_workflows(
    mirror: &Mirror,
) -> Result<Option<(Oid, Vec<crate::repos::triggers::WorkflowFile>)>, TriggerError> {
    let Some(branch) = mirror.default_branch() else {
        return Ok(None);
    };
    let Ok(tip) = mirror
        .repository()
        .refname_to_id(&format!("refs/heads/{branch}"))
    else {
        return Ok(None);
    };
    let commit = crate::repos::triggers::paths::peel_to_commit(mirror.repository(), tip)?;
    Ok(Some((commit, mirror.workflows_at(commit)?)))
}

fn hex_values(values: &BTreeMap<String, Oid>) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|(name, oid)| (name.clone(), oid.to_string()))
        .collect()
}

fn oid_values(values: &BTreeMap<String, String>) -> BTreeMap<String, Oid> {
    values
        .iter()
        .filter_map(|(name, hex)| Oid::from_str(hex).ok().map(|oid| (name.clone(), oid)))
        .collect()
}

/// The last path segment without `.git`: `/srv/git/app.git` → `app`.
fn default_name(source: &str) -> String {
    let trimmed = source.trim_end_matches(['/', '\\']);
    let last = trimmed.rsplit(['/', '\\', ':']).next().unwrap_or(trimmed);
    last.strip_suffix(".git").unwrap_or(last).to_string()
}

fn check_name(name: &str) -> Result<(), RepoError> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(RepoError::Invalid(format!(
            "add repository: name `{name}` must be 1-100 characters of A-Z a-z 0-9 . _ -"
        )))
    }
}

/// `github.repository` of a repository being added: `owner/name` of a local working copy's
/// `origin` remote (as GitHub has it), else of the source itself (a URL, or a path's last two
/// folders, as its mirror's remote gives it), else `local/<name>`.
fn github_repository_of(source: &str, name: &str) -> String {
    let path = Path::new(source);
    if !source.contains("://")
        && path.exists()
        && let Ok(repo) = git2::Repository::discover(path)
        && let Ok(origin) = repo.find_remote("origin")
        && let Some(full_name) = origin
            .url()
            .ok()
            .and_then(crate::runs::event::owner_and_name)
    {
        return full_name;
    }
    crate::runs::event::owner_and_name(&source_for_record(source))
        .unwrap_or_else(|| format!("local/{name}"))
}

/// A local source is stored absolute, so the mirror keeps working from any directory.
fn source_for_record(source: &str) -> String {
    if source.contains("://") {
        return source.to_string();
    }
    std::path::absolute(source)
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| source.to_string())
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, TriggerError> + Send + 'static,
) -> Result<T, RepoError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(RepoError::from),
        Err(error) => Err(RepoError::Task(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_default_to_the_last_segment() {
        assert_eq!(default_name("/srv/git/app.git"), "app");
        assert_eq!(default_name("/srv/git/app/"), "app");
        assert_eq!(default_name("file:///x/y.git"), "y");
        assert!(check_name("app-1.x_y").is_ok());
        assert!(check_name("a/b").is_err());
        assert!(check_name("..").is_err());
        assert!(check_name("").is_err());
    }

    #[test]
    fn announced_moves_already_seen_are_skipped() {
        let a = Oid::from_str(&"a".repeat(40)).unwrap();
        let b = Oid::from_str(&"b".repeat(40)).unwrap();
        let seen = BTreeMap::from([("refs/heads/main".to_string(), a.to_string())]);
        let moved = RefUpdate::new("refs/heads/main", Some(a), Some(b));
        let repeated = RefUpdate::new("refs/heads/main", Some(b), Some(a));
        let deleted_unknown = RefUpdate::new("refs/heads/gone", Some(a), None);
        let deleted = RefUpdate::new("refs/heads/main", Some(a), None);
        assert!(!already_seen(&seen, &moved));
        assert!(already_seen(&seen, &repeated));
        assert!(already_seen(&seen, &deleted_unknown));
        assert!(!already_seen(&seen, &deleted));
    }
}
