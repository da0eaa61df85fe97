//! The run orchestrator: one `Scheduler` per active run, fed with what happens to its jobs, and
//! the scheduler's actions carried out through the `Engine` (queue a job, cancel it, record a
//! job that will not run, finish the run).
//!
//! One task owns every active scheduler (an actor): it takes new runs from `Orchestrator`
//! handles, `EngineEvent`s from the engine and a tick every second (timeouts, cancel requests).
//! After each handled event that asks for actions, the scheduler's state and those actions (its
//! outbox) are saved in the store without a flush of their own: the job move that follows
//! flushes them too, so a job costs the store's three flushes (enqueue, lease, finish) and no
//! more. The run's input (workflow, contexts, sealed secrets) is saved once, when the run is
//! adopted; an event that asks for nothing (most `JobStarted`/`JobFinished` of a wide run) saves
//! nothing, since the job records already say what it changed — so a run of N jobs costs O(N)
//! state writes in all, not O(N²).
//!
//! Recovery: on start, every saved schedule is loaded; its outbox is carried out again (every
//! action is idempotent by `(run_id, job_key)`), and the scheduler is told what the store knows
//! happened since (a job leased or finished while the engine was down, or just before it died).
//! Queued jobs stay queued, leased jobs wait for their runner until the lease expires, finished
//! results are kept, and no job is queued twice.
//!
//! This module must not speak HTTP (that is `api`) nor know sled (that is `store`); it reads git
//! only through `event`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use protocol::{Conclusion, JobResult, JobSpec};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::deploy::{DeployError, Deployments};
use crate::runs::concurrency::{self, FollowUp, Groups};
use crate::runs::dispatch::{Engine, EngineEvent};
use crate::runs::event::{self, EventSource, RunInputRequest};
use crate::store::{JobState, RepoRecord, RunId, ScheduleRecord, StoreError, new_secret, now_us};
use scheduler::{
    Action, CancelReason, Driver, Event, LegState, Millis, RunPhase, Scheduler, Started,
};

/// What starts a run: a workflow file of a repository at the commit a ref names.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// The repository's directory (a working copy or a bare repository).
    pub repository: PathBuf,
    /// The workflow file relative to the repository root (`.github/workflows/ci.yml`), or its
    /// name under `.github/workflows`.
    pub workflow: String,
    /// The triggering event's name (`github.event_name`), e.g. `push` or `workflow_dispatch`.
    pub event_name: String,
    /// A branch, tag, full ref or sha; the workflow is read at that commit (or at `sha`).
    pub git_ref: String,
    /// The exact commit, when the caller knows it (a push): the run is at this commit and keeps
    /// `git_ref` (a full ref) as its `github.ref`, even if the ref has moved since.
    pub sha: Option<String>,
    /// `workflow_dispatch` inputs as name/value strings, checked and typed against the workflow's
    /// `on.<event>.inputs`.
    pub inputs: Vec<(String, String)>,
    /// The event payload, when the caller has one (a webhook); else it is built from the commit.
    pub payload: Option<Value>,
    /// The user who caused the run (an authenticated caller, or the user a pusher maps to):
    /// the run's actor. `None`: whom the payload names (an unmapped git identity), else the
    /// engine's own user.
    pub actor: Option<String>,
}

/// The run a request created.
#[derive(Debug, Clone, PartialEq)]
pub struct StartedRun {
    /// The new run's id in the store.
    pub run_id: RunId,
    /// The run's number among its workflow's runs (`github.run_number`), from 1.
    pub run_number: u64,
    /// Set when the run concluded at once (an invalid workflow concludes `failure`).
    pub conclusion: Option<Conclusion>,
}

/// Why a run could not be started.
#[derive(Debug, thiserror::Error)]
pub enum OrchestratorError {
    /// The repository could not be opened or the ref does not name a commit.
    #[error("read repository {path} at `{git_ref}`: {message}")]
    Repository {
        /// The repository's directory as requested.
        path: PathBuf,
        /// The ref or sha that was asked for.
        git_ref: String,
        /// What git reported.
        message: String,
    },
    /// The workflow file is missing at the commit or cannot be read.
    #[error("read workflow `{file}` at commit {sha}: {message}")]
    WorkflowFile {
        /// The workflow file, relative to the repository root.
        file: String,
        /// The commit the file was read at.
        sha: String,
        /// What went wrong reading it.
        message: String,
    },
    /// The given inputs do not match the workflow's declared inputs (unknown name, wrong type,
    /// missing required input).
    #[error("inputs of `{file}`: {message}")]
    Inputs {
        /// The workflow file whose inputs were checked.
        file: String,
        /// Which input is wrong and why.
        message: String,
    },
    /// Reading or writing the run's records failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The run was created but could not be planned (secrets, called workflows, the scheduler
    /// refused it); it concluded `failure`.
    #[error("plan run: {0}")]
    Plan(String),
    /// The orchestrator task has ended (engine shutting down, or a detached handle).
    #[error("hand the run to the orchestrator: it has stopped")]
    Stopped,
}

/// A handle on the orchestrator task; cheap to clone.
#[derive(Clone)]
pub struct Orchestrator {
    engine: Arc<Engine>,
    deployments: Arc<Deployments>,
    commands: mpsc::UnboundedSender<Command>,
}

enum Command {
    Adopt {
        run_id: RunId,
        scheduler: Box<Scheduler>,
    },
}

impl Orchestrator {
    /// Recovers every unfinished run saved in the store, then starts the orchestrator task on
    /// `events` (the receiver `Engine::open` returned). It ends when the engine shuts down.
    pub async fn start(
        engine: Arc<Engine>,
        events: mpsc::UnboundedReceiver<EngineEvent>,
    ) -> Result<Orchestrator, StoreError> {
        let (commands, command_receiver) = mpsc::unbounded_channel();
        let deployments = Arc::new(Deployments::new(
            engine.clone(),
            engine.config().clock.clone(),
        ));
        let shared = engine.is_shared();
        let mut actor = Actor {
            engine: engine.clone(),
            deployments: deployments.clone(),
            runs: HashMap::new(),
            groups: Groups::load(engine.clone())?,
            follow_ups: Vec::new(),
            // On a shared store a replica drives runs once it holds the driver lock
            // (`EngineEvent::Driving`); alone, it always does.
            driving: !shared,
            swept: tokio::time::Instant::now(),
            unplanned_checked: tokio::time::Instant::now(),
        };
        if !shared {
            // No lease expires while the runs are loaded: the API answers only after this, so
            // no runner could renew one (issue 22's soak: a recovery longer than a lease period
            // ran jobs twice).
            engine.hold_lease_clocks();
            #[cfg(debug_assertions)]
            pause_recovery_for_tests().await;
            actor.recover().await?;
            engine.restart_lease_clocks();
        }
        tokio::spawn(actor.run(command_receiver, events, engine.shutdown_token()));
        Ok(Orchestrator {
            engine,
            deployments,
            commands,
        })
    }

    /// A handle with no orchestrator task behind it, for an API whose runs are driven by hand
    /// (tests of the runner protocol): starting a run answers `OrchestratorError::Stopped`;
    /// environments and deployments work on the store, with no clock ticking them.
    pub fn detached(engine: Arc<Engine>) -> Orchestrator {
        let (commands, _) = mpsc::unbounded_channel();
        let deployments = Arc::new(Deployments::new(
            engine.clone(),
            engine.config().clock.clone(),
        ));
        Orchestrator {
            engine,
            deployments,
            commands,
        }
    }

    /// The engine the orchestrator drives.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Environments, deployment gates and lanes.
    pub fn deployments(&self) -> &Arc<Deployments> {
        &self.deployments
    }

    /// Reads the workflow at the commit of `request.git_ref`, creates the run and starts it. An
    /// invalid workflow is still a run: it concludes `failure` with the diagnostics in its
    /// details.
    pub async fn start_run(&self, request: RunRequest) -> Result<StartedRun, OrchestratorError> {
        let file = workflow_path(&request.workflow);
        let given = request.repository.display().to_string();
        let watched = self.watched_repository(&given)?;
        // A watched repository named by its name is read from its mirror (fetched first, so the
        // ref is where its source has it); a path is read where it points.
        let fetch_mirror = watched
            .as_ref()
            .filter(|repo| repo.name == given)
            .map(|repo| (PathBuf::from(&repo.mirror_path), repo.source.clone()));
        let repository = match &fetch_mirror {
            Some((mirror, _)) => mirror.clone(),
            None => request.repository.clone(),
        };
        if let Some((mirror, origin)) = fetch_mirror {
            let _ = tokio::task::spawn_blocking(move || {
                match crate::repos::triggers::Mirror::open_or_create(&mirror, &origin) {
                    Ok(mirror) => {
                        if let Err(error) = mirror.fetch() {
                            tracing::warn!(%error, "fetch before dispatch failed");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "open the mirror before dispatch"),
                }
            })
            .await;
        }
        let at = request.sha.as_deref().unwrap_or(&request.git_ref);
        let keep_ref = request.sha.is_some().then_some(request.git_ref.as_str());
        let (mut source, bytes) =
            read_at_commit(&repository, at, keep_ref, &file, &request.git_ref).await?;
        if let Some(actor) = &request.actor {
            source.actor = actor.clone();
        }
        // One identity: a watched repository's runs carry its name, and `github.repository` is
        // the one derived when it was added.
        if let Some(repo) = &watched
            && !repo.github_repository.is_empty()
        {
            source.repository = repo.github_repository.clone();
        }
        let mut details = json!({
            "event": request.event_name,
            "ref": source.git_ref,
            "sha": source.sha,
            "repository": watched.as_ref().map_or(given.clone(), |repo| repo.name.clone()),
            "actor": source.actor,
            "actor_kind": actor_kind(&request),
            "attempt": 1,
        });
        let parsed = workflows::parse::parse_workflow_bytes(&file, &bytes);
        let mut errors: Vec<String> = parsed
            .diagnostics
            .iter()
            .filter(|diagnostic| diagnostic.is_error())
            .map(|diagnostic| diagnostic.to_string())
            .collect();
        // Reusable workflows it calls, read at the same commit; a bad call is a diagnostic of
        // the run like any other error of the file.
        let mut called = IndexMap::new();
        let mut workflow_pins = IndexMap::new();
        if let Some(workflow) = parsed.workflow.as_ref().filter(|_| errors.is_empty()) {
            let loaded = crate::runs::called::load_at_commit(
                &self.engine,
                &repository,
                &source.sha,
                workflow,
                &IndexMap::new(),
            )
            .await?;
            called = loaded.called;
            workflow_pins = loaded.pins;
            errors.extend(loaded.errors);
        }
        // What the forge's commit status is named after (`slipway/<name>`).
        details["workflow_name"] = json!(
            parsed
                .workflow
                .as_ref()
                .and_then(|workflow| workflow.name.as_ref())
                .map_or(file.as_str(), |name| name.value.as_str())
        );
        let workflow = match parsed.workflow {
            Some(workflow) if errors.is_empty() => workflow,
            _ => {
                // A failing workflow is data: the run exists and says why it failed.
                details["diagnostics"] = json!(errors);
                let run = self.engine.create_run(&file, details).await?;
                self.engine
                    .store()
                    .finish_run(run.run_id, Conclusion::Failure)
                    .await?;
                return Ok(StartedRun {
                    run_id: run.run_id,
                    run_number: run.run_number,
                    conclusion: Some(Conclusion::Failure),
                });
            }
        };
        // Inputs are checked before the run exists, so a bad dispatch leaves nothing behind.
        event::inputs_for(
            &workflow,
            &request.event_name,
            &request.inputs,
            request.payload.as_ref(),
        )
        .map_err(|message| OrchestratorError::Inputs {
            file: file.clone(),
            message,
        })?;
        // Every remote `uses:` is pinned to a commit now: a tag moved later changes nothing for
        // this run or its re-runs. What cannot be found fails its jobs before they start.
        // The reusable workflows it calls are pinned with it: their jobs run in this run.
        let workflows: Vec<&workflows::model::Workflow> =
            std::iter::once(&workflow).chain(called.values()).collect();
        let mut pins = pin_actions(&self.engine, &workflows).await;
        // Remote reusable workflows are pinned with the actions: a re-run reads the same commits.
        pins.pinned.extend(workflow_pins);
        details["actions"] = json!(pins.pinned);
        if !pins.unavailable.is_empty() {
            details["actions_unavailable"] = json!(pins.unavailable);
        }
        let run = self.engine.create_run(&file, details).await?;
        let remembered = crate::runs::rerun::remember_trigger(
            self.engine.store(),
            run.run_id,
            &request,
            &file,
            &source,
        )
        .await;
        if let Err(error) = remembered {
            // The run exists already: it must not stay queued with no plan.
            self.fail_created_run(run.run_id, &format!("save what triggered the run: {error}"))
                .await;
            return Err(error.into());
        }
        let run_id_text = run.run_id.to_string();
        let mut input = match event::run_input_for(&RunInputRequest {
            workflow: &workflow,
            event_name: &request.event_name,
            source: &source,
            custom_payload: request.payload.clone(),
            inputs: &request.inputs,
            run_id: &run_id_text,
            github_run_id: scheduler::numeric_run_id(&run_id_text),
            run_number: run.run_number,
            attempt: 1,
        }) {
            Ok(input) => input,
            Err(message) => {
                // The run exists already: it must not stay queued with no plan.
                self.engine
                    .store()
                    .finish_run(run.run_id, Conclusion::Failure)
                    .await?;
                return Err(OrchestratorError::Inputs {
                    file: file.clone(),
                    message,
                });
            }
        };
        input.actions = pins.pinned;
        // What a user set with `slipway secret set` / `var set` reaches the run: engine-wide
        // values overlaid by the repository's own (an environment's are added when a deployment
        // job's gate opens). Each job is then given only the secrets it reads.
        let names = repository_names(watched.as_ref(), &given, &source.repository);
        // A pull request from a fork gets neither (GitHub's rule, `forge::trust`).
        let withheld =
            crate::forge::trust::secrets_withheld(&request.event_name, request.payload.as_ref());
        let settings = match &withheld {
            Some(reason) => {
                tracing::info!(run_id = %run.run_id, "{reason}");
                Ok((IndexMap::new(), IndexMap::new()))
            }
            None => self
                .engine
                .secrets_for_repository(&names)
                .and_then(|secrets| Ok((secrets, self.engine.vars_for_repository(&names)?))),
        };
        match settings {
            Ok((secrets, vars)) => {
                input.secrets.extend(secrets);
                input.vars.extend(
                    vars.into_iter()
                        .map(|(name, value)| (name, serde_json::Value::String(value))),
                );
            }
            Err(error) => {
                self.engine
                    .store()
                    .finish_run(run.run_id, Conclusion::Failure)
                    .await?;
                return Err(OrchestratorError::Plan(format!(
                    "read the repository's secrets and variables: {error}"
                )));
            }
        }
        input.called = called;
        #[cfg(debug_assertions)]
        pause_planning_for_tests(&file).await;
        let scheduler = match Scheduler::new(input) {
            Ok(scheduler) => scheduler,
            Err(error) => {
                self.engine
                    .store()
                    .finish_run(run.run_id, Conclusion::Failure)
                    .await?;
                return Err(OrchestratorError::Plan(error.to_string()));
            }
        };
        if let Err(error) = self.adopt(run.run_id, scheduler) {
            self.fail_created_run(run.run_id, &format!("save the run's plan: {error}"))
                .await;
            return Err(error);
        }
        // The answer promises a run that survives a restart: its saved plan must be durable.
        self.engine.store().flush().await?;
        Ok(StartedRun {
            run_id: run.run_id,
            run_number: run.run_number,
            conclusion: None,
        })
    }
}

impl Orchestrator {
    /// Concludes `failure` a run whose record exists but whose planning failed, with `message`
    /// in its diagnostics, so it never stays queued with no plan (a failure here is logged:
    /// the next start fails it as never planned).
    async fn fail_created_run(&self, run_id: RunId, message: &str) {
        let store = self.engine.store();
        let message = format!("failed to {message}");
        let outcome = async {
            store
                .update_run_details(run_id, move |details| {
                    if let Some(map) = details.as_object_mut() {
                        map.insert("diagnostics".into(), json!([message]));
                    }
                })
                .await?;
            store.finish_run(run_id, Conclusion::Failure).await
        }
        .await;
        if let Err(error) = outcome {
            tracing::error!(%run_id, %error, "failed to conclude a run whose planning failed");
        }
    }

    /// The watched repository `given` names: its name, or a path that is its source or its
    /// mirror. `None`: not watched.
    pub fn watched_repository(&self, given: &str) -> Result<Option<RepoRecord>, StoreError> {
        let repos = self.engine.store().repos()?;
        if let Some(repo) = repos.iter().find(|repo| repo.name == given) {
            return Ok(Some(repo.clone()));
        }
        let canonical = std::fs::canonicalize(given).ok();
        Ok(repos.into_iter().find(|repo| {
            [&repo.source, &repo.mirror_path].iter().any(|candidate| {
                candidate.trim_end_matches('/') == given.trim_end_matches('/')
                    || canonical.is_some()
                        && std::fs::canonicalize(candidate.as_str()).ok() == canonical
            })
        }))
    }

    /// Saves a planned run's scheduler and hands it to the orchestrator task, which starts it
    /// (once its concurrency group lets it).
    pub(crate) fn adopt(
        &self,
        run_id: RunId,
        scheduler: Scheduler,
    ) -> Result<(), OrchestratorError> {
        save_schedule_input(&self.engine, run_id, &scheduler)?;
        save_schedule(&self.engine, run_id, &scheduler, &[])?;
        self.commands
            .send(Command::Adopt {
                run_id,
                scheduler: Box::new(scheduler),
            })
            .map_err(|_| OrchestratorError::Stopped)
    }
}

/// On a blocking thread: the event source of `repository` at `at` (a ref or sha), with
/// `keep_ref` as its `github.ref` when it is a full ref (the ref the run is for, even if it has
/// moved since), and the bytes of `file` at that commit. Errors name `shown_ref`.
pub(crate) async fn read_at_commit(
    repository: &Path,
    at: &str,
    keep_ref: Option<&str>,
    file: &str,
    shown_ref: &str,
) -> Result<(EventSource, Vec<u8>), OrchestratorError> {
    let (path, at, file_for_git) = (repository.to_path_buf(), at.to_string(), file.to_string());
    let keep_ref = keep_ref
        .filter(|git_ref| git_ref.starts_with("refs/"))
        .map(str::to_string);
    let read = tokio::task::spawn_blocking(move || {
        let mut source = event::source_at_ref(&path, &at)?;
        if let Some(git_ref) = keep_ref {
            source.git_ref = git_ref;
        }
        let bytes = event::file_at_commit(&path, &source.sha, &file_for_git);
        Ok::<_, git2::Error>((source, bytes))
    })
    .await
    .map_err(|error| OrchestratorError::Plan(error.to_string()))?;
    let (source, bytes) = read.map_err(|error| OrchestratorError::Repository {
        path: repository.to_path_buf(),
        git_ref: shown_ref.to_string(),
        message: error.message().to_string(),
    })?;
    let bytes = bytes.map_err(|error| OrchestratorError::WorkflowFile {
        file: file.to_string(),
        sha: source.sha.clone(),
        message: error.message().to_string(),
    })?;
    Ok((source, bytes))
}

/// The names secrets and variables of a run's repository may be scoped by: the name it is
/// watched under, its `owner/name` (`github.repository`) and the path or name as given.
pub(crate) fn repository_names(
    watched: Option<&RepoRecord>,
    given: &str,
    github_repository: &str,
) -> Vec<String> {
    let mut names = Vec::new();
    for name in watched
        .map(|repo| repo.name.as_str())
        .into_iter()
        .chain([github_repository, given])
    {
        if !names.iter().any(|known| known == name) {
            names.push(name.to_string());
        }
    }
    names
}

/// `.github/workflows/<name>` unless `name` is a path already.
pub fn workflow_path(name: &str) -> String {
    if name.contains('/') {
        name.trim_start_matches("./").to_string()
    } else {
        format!(".github/workflows/{name}")
    }
}

/// What the run's actor is: `user` (authenticated, or a pusher mapped to a user), `git` (a
/// git identity no user is mapped to: it can never approve), `engine` (the engine's own).
fn actor_kind(request: &RunRequest) -> &'static str {
    if request.actor.is_some() {
        "user"
    } else if request
        .payload
        .as_ref()
        .and_then(|payload| payload.pointer("/sender/login"))
        .is_some()
    {
        "git"
    } else {
        "engine"
    }
}

/// Reads `<data_dir>/admin.token`, creating it (mode 0600) with a fresh secret on first use.
pub fn ensure_admin_token(data_dir: &Path) -> std::io::Result<String> {
    let path = admin_token_path(data_dir);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let token = text.trim().to_string();
        if !token.is_empty() {
            return Ok(token);
        }
    }
    std::fs::create_dir_all(data_dir)?;
    let token = new_secret().map_err(|error| std::io::Error::other(error.to_string()))?;
    files::write_private(&path, token.as_bytes(), files::Existing::Replace)?;
    Ok(token)
}

/// The admin token file, `<data_dir>/admin.token`, whose secret the first admin user signs in with.
pub fn admin_token_path(data_dir: &Path) -> PathBuf {
    data_dir.join("admin.token")
}

/// The orchestrator task's state.
struct Actor {
    engine: Arc<Engine>,
    deployments: Arc<Deployments>,
    runs: HashMap<RunId, ActiveRun>,
    /// Concurrency groups across runs (`concurrency.rs`).
    groups: Groups,
    /// What moving a group asked of this task, carried out after each event.
    follow_ups: Vec<FollowUp>,
    /// Whether this process drives runs: always on sled; on a shared store, while it holds
    /// the driver lock (another replica drives them otherwise, and this one only serves).
    driving: bool,
    /// When the driving replica last compared its runs with the store (`sweep`).
    swept: tokio::time::Instant,
    /// When the driving replica last looked for runs left unplanned (`UNPLANNED_EVERY`).
    unplanned_checked: tokio::time::Instant,
}

/// How often the driving replica of a shared store compares its runs with the store, for
/// what a lost notification did not tell it (notifications are lost only while a replica's
/// coordination connection is down; a replica that takes over reads everything anyway).
const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// On a shared store, how long a run may stay unplanned before the driving replica takes it for
/// one whose replica died while planning it (planning reads git and pins actions: seconds).
const PLANNING_GRACE: Duration = Duration::from_secs(120);

/// How often the driving replica of a shared store looks for such runs.
const UNPLANNED_EVERY: Duration = Duration::from_secs(60);

struct ActiveRun {
    scheduler: Scheduler,
    /// `CancelRequested` was fed (the run record asked for a cancel).
    cancel_fed: bool,
}

impl Actor {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut events: mpsc::UnboundedReceiver<EngineEvent>,
        shutdown: CancellationToken,
    ) {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                Some(command) = commands.recv() => match command {
                    Command::Adopt { run_id, .. } if !self.driving => {
                        // The run's plan is saved: the replica driving runs takes it up once
                        // it is durable.
                        let store = self.engine.store().clone();
                        tokio::spawn(async move {
                            if store.flush().await.is_ok() {
                                store.notify(crate::runs::dispatch::RUNS_CHANNEL, &run_id.to_string());
                            }
                        });
                    }
                    Command::Adopt { run_id, scheduler } => {
                        self.runs.insert(run_id, ActiveRun { scheduler: *scheduler, cancel_fed: false });
                        // A cancel that came while the run was being planned ends it before
                        // any job exists.
                        if !self.cancel_unstarted_run(run_id).await {
                            self.admit(run_id).await;
                        }
                    }
                },
                Some(event) = events.recv() => {
                    let (run_id, event) = match event {
                        EngineEvent::Driving(driving) => {
                            self.set_driving(driving).await;
                            continue;
                        }
                        _ if !self.driving => continue,
                        EngineEvent::JobStarted { run_id, job_key, .. } => (run_id, Event::JobStarted { job_key }),
                        EngineEvent::JobFinished { run_id, job_key, result, .. } => {
                            (run_id, Event::JobFinished { job_key, result })
                        }
                        EngineEvent::JobRequeued { .. } => continue,
                        EngineEvent::JobChanged { run_id, job_key } => {
                            self.job_changed(run_id, &job_key).await;
                            continue;
                        }
                        EngineEvent::RunPlanned { run_id } => {
                            self.take_up(run_id).await;
                            continue;
                        }
                    };
                    self.job_event(run_id, event).await;
                }
                _ = ticks.tick(), if self.driving => {
                    if self.engine.is_shared() && self.swept.elapsed() >= SWEEP_EVERY {
                        self.swept = tokio::time::Instant::now();
                        self.sweep().await;
                    }
                    self.deployments.tick().await;
                    let run_ids: Vec<RunId> = self.runs.keys().copied().collect();
                    for run_id in run_ids {
                        self.check_cancel(run_id).await;
                        self.feed(run_id, Event::Tick).await;
                    }
                }
                _ = shutdown.cancelled() => return,
            }
            self.carry_out_follow_ups().await;
        }
    }

    /// Feeds what happened to a job (from its runner, a cancel, a lost lease) to its run,
    /// after the deployment and the concurrency group it holds hear of a finish.
    async fn job_event(&mut self, run_id: RunId, event: Event) {
        if let Event::JobFinished { job_key, result } = &event {
            self.deployments.job_finished(run_id, job_key, result).await;
            self.leave_job_group(run_id, job_key).await;
        }
        self.check_cancel(run_id).await;
        self.feed(run_id, event).await;
    }

    /// (Shared store) This replica took or lost the driving of runs. Taking it loads every
    /// unfinished run from the store, as after a restart; losing it forgets them (the replica
    /// that takes over loads them from the store).
    async fn set_driving(&mut self, driving: bool) {
        self.runs.clear();
        self.follow_ups.clear();
        self.driving = driving;
        if !driving {
            tracing::warn!("this replica no longer drives runs");
            return;
        }
        tracing::warn!("this replica now drives runs (it holds the store's driver lock)");
        match Groups::load(self.engine.clone()) {
            Ok(groups) => self.groups = groups,
            Err(error) => tracing::error!(%error, "failed to load the concurrency groups"),
        }
        if let Err(error) = self.recover().await {
            tracing::error!(%error, "failed to take up the unfinished runs");
        }
        self.swept = tokio::time::Instant::now();
    }

    /// (Shared store) Another replica moved a job: feed what its record says, if the run's
    /// scheduler does not know it yet.
    async fn job_changed(&mut self, run_id: RunId, job_key: &str) {
        if !self.runs.contains_key(&run_id) {
            self.take_up(run_id).await;
            return;
        }
        match self.catch_up_events(run_id, Some(job_key)) {
            Ok(events) => {
                for event in events {
                    self.job_event(run_id, event).await;
                }
            }
            Err(error) => tracing::error!(%run_id, %error, "failed to read a moved job"),
        }
    }

    /// (Shared store) Takes up a run another replica planned, or one this replica does not
    /// drive yet, from its saved schedule.
    async fn take_up(&mut self, run_id: RunId) {
        if self.runs.contains_key(&run_id) {
            return;
        }
        let record = match self.engine.store().schedule(run_id) {
            Ok(Some(record)) => record,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%run_id, %error, "failed to read a run's saved plan");
                return;
            }
        };
        if let Err(error) = self.resume(record).await {
            tracing::error!(%run_id, %error, "failed to take up a run");
        }
        self.carry_out_follow_ups().await;
    }

    /// (Shared store, driving) What notifications may have missed: runs planned elsewhere,
    /// and jobs moved through other replicas.
    async fn sweep(&mut self) {
        if self.unplanned_checked.elapsed() >= UNPLANNED_EVERY {
            self.unplanned_checked = tokio::time::Instant::now();
            if let Err(error) = self.fail_unplanned_runs().await {
                tracing::error!(%error, "failed to fail the runs left unplanned");
            }
        }
        let saved = match self.engine.store().schedules() {
            Ok(saved) => saved,
            Err(error) => {
                tracing::error!(%error, "failed to read the saved runs");
                return;
            }
        };
        for record in saved {
            if !self.runs.contains_key(&record.run_id)
                && let Err(error) = self.resume(record).await
            {
                tracing::error!(%error, "failed to take up a run");
            }
        }
        let run_ids: Vec<RunId> = self.runs.keys().copied().collect();
        for run_id in run_ids {
            match self.catch_up_events(run_id, None) {
                Ok(events) => {
                    for event in events {
                        self.job_event(run_id, event).await;
                    }
                }
                Err(error) => tracing::error!(%run_id, %error, "failed to read a run's jobs"),
            }
        }
        self.carry_out_follow_ups().await;
    }

    /// Loads every saved schedule and brings it up to date with the store.
    async fn recover(&mut self) -> Result<(), StoreError> {
        let store = self.engine.store().clone();
        self.fail_unplanned_runs().await?;
        for record in store.schedules()? {
            self.resume(record).await?;
        }
        self.groups.reconcile(&mut self.follow_ups).await?;
        self.carry_out_follow_ups().await;
        Ok(())
    }

    /// Fails the runs whose record exists with no plan saved: their engine died while planning
    /// them. On a shared store another replica may be planning one right now, so only a run
    /// unplanned for `PLANNING_GRACE` was left behind by a replica that died.
    async fn fail_unplanned_runs(&mut self) -> Result<(), StoreError> {
        let store = self.engine.store().clone();
        let grace_us = if self.engine.is_shared() {
            u64::try_from(PLANNING_GRACE.as_micros()).unwrap_or(u64::MAX)
        } else {
            0
        };
        for run in store.unplanned_runs()? {
            if run.created_at_us.saturating_add(grace_us) > crate::store::now_us() {
                continue;
            }
            tracing::warn!(run_id = %run.run_id, "run was never planned before a restart; it fails");
            let reason = "the engine stopped before this run was planned; dispatch it again";
            store
                .update_run_details(run.run_id, |details| {
                    if let Some(map) = details.as_object_mut() {
                        map.insert("diagnostics".into(), json!([reason]));
                    }
                })
                .await?;
            let jobs = store.jobs_of_run(run.run_id)?;
            if jobs.iter().any(|job| job.state != JobState::Completed) {
                store.cancel_run(run.run_id).await?;
            }
            store.finish_run(run.run_id, Conclusion::Failure).await?;
        }
        Ok(())
    }

    /// Takes up one saved run: carries out its outbox again, starts it if it was waiting for
    /// its concurrency group, and feeds it what the store knows happened since it was saved.
    async fn resume(&mut self, record: ScheduleRecord) -> Result<(), StoreError> {
        let store = self.engine.store().clone();
        let run_id = record.run_id;
        let finished = store
            .run(run_id)?
            .is_none_or(|run| run.conclusion.is_some());
        if finished {
            store.remove_schedule(run_id)?;
            return Ok(());
        }
        let mut state = record.state;
        if state.get("input").is_none()
            && let Value::Object(fields) = &mut state
        {
            match load_schedule_input(&self.engine, run_id) {
                Ok(input) => {
                    fields.insert("input".to_string(), input);
                }
                Err(error) => {
                    tracing::error!(%run_id, %error, "saved scheduler input unreadable");
                }
            }
        }
        let scheduler: Scheduler = match serde_json::from_value(state) {
            Ok(scheduler) => scheduler,
            Err(error) => {
                tracing::error!(%run_id, %error, "saved scheduler state unreadable; run fails");
                store.remove_schedule(run_id)?;
                store.finish_run(run_id, Conclusion::Failure).await?;
                return Ok(());
            }
        };
        tracing::info!(%run_id, "resuming run");
        let outbox: Vec<Action> = record
            .outbox
            .into_iter()
            .filter_map(|action| serde_json::from_value(action).ok())
            .collect();
        let created = scheduler.run_phase() == RunPhase::Created;
        self.runs.insert(
            run_id,
            ActiveRun {
                scheduler,
                cancel_fed: false,
            },
        );
        let mut work = EngineWork::default();
        scheduler::dispatch(outbox, &mut work);
        self.carry_out(run_id, work.steps).await;
        if created {
            self.admit(run_id).await;
        }
        for event in self.catch_up_events(run_id, None)? {
            self.feed(run_id, event).await;
        }
        self.check_cancel(run_id).await;
        Ok(())
    }

    /// What the store knows happened to the run's handed-out jobs that the saved scheduler
    /// state does not know yet (`only`: of that job's leg alone).
    fn catch_up_events(&self, run_id: RunId, only: Option<&str>) -> Result<Vec<Event>, StoreError> {
        let Some(active) = self.runs.get(&run_id) else {
            return Ok(Vec::new());
        };
        let mut events = Vec::new();
        for job in active.scheduler.jobs() {
            for leg in job.legs {
                if only.is_some_and(|key| key != leg.job_key)
                    || !matches!(
                        leg.state,
                        LegState::Queued { .. } | LegState::Running { .. }
                    )
                {
                    continue;
                }
                let Some(record) = self.engine.store().job_by_key(run_id, leg.job_key)? else {
                    continue;
                };
                let key = leg.job_key.to_string();
                match (leg.state, record.state) {
                    (LegState::Queued { .. }, JobState::Leased) => {
                        events.push(Event::JobStarted { job_key: key })
                    }
                    (LegState::Queued { .. } | LegState::Running { .. }, JobState::Completed) => {
                        if let Some(result) = record.result {
                            events.push(Event::JobFinished {
                                job_key: key,
                                result,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(events)
    }

    /// Feeds `CancelRequested` once the run record asks for a cancel (the API's cancel).
    async fn check_cancel(&mut self, run_id: RunId) {
        let Some(active) = self.runs.get_mut(&run_id) else {
            return;
        };
        if active.cancel_fed {
            return;
        }
        let requested =
            matches!(self.engine.store().run(run_id), Ok(Some(run)) if run.cancel_requested);
        if requested {
            active.cancel_fed = true;
            if self.cancel_waiting_run(run_id).await {
                return;
            }
            self.feed(run_id, Event::CancelRequested).await;
        }
    }

    /// Applies one event to a run's scheduler (`scheduler::drive`), saves the state and carries
    /// out what the actions became.
    async fn feed(&mut self, run_id: RunId, event: Event) {
        let Some(active) = self.runs.get_mut(&run_id) else {
            return;
        };
        let mut work = EngineWork::default();
        if let Err(error) = scheduler::drive(&mut active.scheduler, event, now(), &mut work) {
            // Repeats after a restart, or reports about jobs the scheduler concluded itself.
            tracing::debug!(%run_id, %error, "event refused by the scheduler");
            return;
        }
        if work.outbox.is_empty() {
            // Nothing to carry out: the state is saved with the next event that asks for
            // something. What this event changed (a leg started or finished) is in the job
            // records, and recovery feeds it again from there (`catch_up_events`).
            return;
        }
        if let Err(error) = save_schedule(&self.engine, run_id, &active.scheduler, &work.outbox) {
            tracing::error!(%run_id, %error, "failed to save the scheduler state");
        }
        self.carry_out(run_id, work.steps).await;
    }

    async fn carry_out(&mut self, run_id: RunId, steps: Vec<Work>) {
        let mut finished = false;
        // Jobs that go straight to the queue are queued together: their writes reach the store
        // at once and share its flushes (a fan-out of thousands of legs is a few group commits,
        // not one flush each). The order of the steps is kept: the batch is written before any
        // other step, and in order within it.
        let mut plain: Vec<JobSpec> = Vec::new();
        for step in steps {
            if let Work::Queue(spec) = &step
                && self.queues_plainly(run_id, spec)
                && let Work::Queue(spec) = step
            {
                plain.push(spec);
                continue;
            }
            self.queue_together(run_id, std::mem::take(&mut plain))
                .await;
            let outcome = match step {
                Work::Deploy(spec) | Work::Queue(spec)
                    if unavailable_action(&self.engine, run_id, &spec).is_some() =>
                {
                    let reason =
                        unavailable_action(&self.engine, run_id, &spec).unwrap_or_default();
                    tracing::info!(%run_id, job_key = %spec.job_key, %reason, "job not started");
                    let result = unrun_result(Conclusion::Failure, reason);
                    self.engine
                        .record_finished_job(run_id, spec, result)
                        .await
                        .map(drop)
                }
                Work::Deploy(spec) => {
                    // A deployment: its environment's gate and lane decide when it is queued.
                    match self.deployments.submit(run_id, spec).await {
                        Ok(()) => Ok(()),
                        Err(DeployError::Store(error)) => Err(error),
                        Err(error) => {
                            tracing::error!(%run_id, %error, "failed to submit a deployment");
                            Ok(())
                        }
                    }
                }
                // (A deployment job's `concurrency:` is not applied: its environment's lane
                // already runs one deployment at a time, in order.)
                Work::Queue(spec) => self.start_or_hold(run_id, spec).await,
                Work::Cancel { job_key, reason } => {
                    tracing::info!(%run_id, %job_key, reason = reason.describe(), "cancelling job");
                    self.engine.cancel_job(run_id, &job_key).await
                }
                Work::NotRun {
                    job_key,
                    conclusion,
                    reason,
                } => {
                    let spec = self.placeholder_spec(run_id, &job_key);
                    let result = unrun_result(conclusion, reason);
                    self.engine
                        .record_finished_job(run_id, spec, result)
                        .await
                        .map(drop)
                }
                Work::Finish(conclusion) => {
                    finished = true;
                    let store = self.engine.store();
                    match store.remove_schedule(run_id) {
                        Ok(()) => store.finish_run(run_id, conclusion).await.map(drop),
                        Err(error) => Err(error),
                    }
                }
            };
            match outcome {
                Ok(()) | Err(StoreError::JobExists { .. }) => {}
                Err(error) => tracing::error!(%run_id, %error, "failed to carry out an action"),
            }
        }
        self.queue_together(run_id, plain).await;
        if finished {
            self.runs.remove(&run_id);
            self.leave_run_group(run_id).await;
        } else if let Some(active) = self.runs.get(&run_id) {
            // The outbox is done; this write rides on the next flush.
            let _ = save_schedule(&self.engine, run_id, &active.scheduler, &[]);
        }
    }

    /// The record of a job that never ran: its key and names, nothing to run.
    fn placeholder_spec(&self, run_id: RunId, job_key: &str) -> JobSpec {
        let (job_id, workflow_file) = self
            .runs
            .get(&run_id)
            .map(|active| {
                let input = active.scheduler.input();
                let job_id = active
                    .scheduler
                    .jobs()
                    .iter()
                    .find(|job| {
                        job.job_id == job_key || job.legs.iter().any(|leg| leg.job_key == job_key)
                    })
                    .map(|job| job.job_id.to_string())
                    .unwrap_or_else(|| job_key.to_string());
                (job_id, input.workflow.file.clone())
            })
            .unwrap_or_else(|| (job_key.to_string(), String::new()));
        JobSpec {
            run_id: run_id.to_string(),
            job_key: job_key.to_string(),
            job_id,
            display_name: job_key.to_string(),
            workflow_file,
            ..JobSpec::default()
        }
    }
}

/// The engine's `Driver`: the scheduler's actions become store work, carried out by
/// `Actor::carry_out` once `drive` returns (the store is async, the driver is not). A job is
/// queued for runners (or submitted to its environment's lane) and reported started by the
/// runner that leases it.
#[derive(Default)]
struct EngineWork {
    /// The actions as the scheduler gave them: saved as the run's outbox before any is carried
    /// out, so recovery carries them out again.
    outbox: Vec<Action>,
    steps: Vec<Work>,
}

/// One piece of store work an action became.
enum Work {
    /// A job with `environment:`: its environment's gate and lane decide when it is queued.
    Deploy(JobSpec),
    /// A plain job: queued, or held while its concurrency group is taken.
    Queue(JobSpec),
    Cancel {
        job_key: String,
        reason: CancelReason,
    },
    /// Recorded as finished without running.
    NotRun {
        job_key: String,
        conclusion: Conclusion,
        reason: String,
    },
    Finish(Conclusion),
}

impl Driver for EngineWork {
    fn actions(&mut self, actions: &[Action]) {
        self.outbox.extend_from_slice(actions);
    }

    fn start_job(&mut self, spec: JobSpec) -> Started {
        self.steps.push(if spec.environment.is_some() {
            Work::Deploy(spec)
        } else {
            Work::Queue(spec)
        });
        Started::Later
    }

    fn cancel_job(&mut self, job_key: &str, reason: CancelReason) {
        self.steps.push(Work::Cancel {
            job_key: job_key.to_string(),
            reason,
        });
    }

    fn job_not_run(&mut self, job_key: &str, conclusion: Conclusion, reason: String) {
        self.steps.push(Work::NotRun {
            job_key: job_key.to_string(),
            conclusion,
            reason,
        });
    }

    fn run_finished(&mut self, conclusion: Conclusion) {
        self.steps.push(Work::Finish(conclusion));
    }
}

/// The hooks of concurrency groups (`concurrency.rs`): a run is admitted before its `Start`, a
/// ready job is queued or held, and whatever leaves a group lets the next holder go.
impl Actor {
    /// Starts a run, unless its workflow-level group makes it wait.
    async fn admit(&mut self, run_id: RunId) {
        let wanted = match self.runs.get(&run_id) {
            Some(active) => concurrency::run_group(active.scheduler.input()),
            None => return,
        };
        let admitted = match wanted {
            Ok(None) => Ok(true),
            Ok(Some((group, cancel_in_progress))) => {
                self.groups
                    .admit_run(run_id, &group, cancel_in_progress, &mut self.follow_ups)
                    .await
            }
            Err(message) => {
                tracing::warn!(%run_id, %message, "workflow concurrency is invalid; run fails");
                self.fail_unstarted_run(run_id, &message).await;
                return;
            }
        };
        match admitted {
            Ok(true) => self.feed(run_id, Event::Start).await,
            Ok(false) => tracing::info!(%run_id, "run waits for its concurrency group"),
            Err(error) => tracing::error!(%run_id, %error, "failed to admit a run to its group"),
        }
    }

    /// Queues a ready job, or holds it while its job-level group is taken.
    /// Whether a ready job goes straight to the queue: no `concurrency:` of its own to apply,
    /// and every action it uses is available.
    fn queues_plainly(&self, run_id: RunId, spec: &JobSpec) -> bool {
        let concurrency = self.runs.get(&run_id).and_then(|active| {
            active
                .scheduler
                .job_for_key(&spec.job_key)
                .map(|job| job.concurrency.is_some())
        });
        concurrency == Some(false) && unavailable_action(&self.engine, run_id, spec).is_none()
    }

    /// Queues `specs` at once (see `carry_out`).
    async fn queue_together(&self, run_id: RunId, specs: Vec<JobSpec>) {
        if specs.is_empty() {
            return;
        }
        let engine = &self.engine;
        let queued = futures_util::future::join_all(
            specs
                .into_iter()
                .map(|spec| async move { engine.enqueue_job(run_id, spec).await }),
        )
        .await;
        for outcome in queued {
            match outcome {
                Ok(_) | Err(StoreError::JobExists { .. }) => {}
                Err(error) => tracing::error!(%run_id, %error, "failed to queue a job"),
            }
        }
    }

    async fn start_or_hold(&mut self, run_id: RunId, spec: JobSpec) -> Result<(), StoreError> {
        // By key: a job of a called workflow has that workflow's settings.
        let concurrency = self.runs.get(&run_id).and_then(|active| {
            active
                .scheduler
                .job_for_key(&spec.job_key)?
                .concurrency
                .clone()
        });
        let Some(concurrency) = concurrency else {
            return self.engine.enqueue_job(run_id, spec).await.map(drop);
        };
        match concurrency::job_group(&concurrency, &spec) {
            Ok(None) => self.engine.enqueue_job(run_id, spec).await.map(drop),
            Ok(Some((group, cancel_in_progress))) => {
                self.groups
                    .start_or_hold_job(
                        run_id,
                        spec,
                        &group,
                        cancel_in_progress,
                        &mut self.follow_ups,
                    )
                    .await
            }
            Err(message) => {
                let result = unrun_result(Conclusion::Failure, message);
                self.engine
                    .record_finished_job(run_id, spec, result)
                    .await
                    .map(drop)
            }
        }
    }

    async fn leave_job_group(&mut self, run_id: RunId, job_key: &str) {
        if let Err(error) = self
            .groups
            .job_finished(run_id, job_key, &mut self.follow_ups)
            .await
        {
            tracing::error!(%run_id, %job_key, %error, "failed to free a concurrency group");
        }
    }

    async fn leave_run_group(&mut self, run_id: RunId) {
        if let Err(error) = self.groups.run_finished(run_id, &mut self.follow_ups).await {
            tracing::error!(%run_id, %error, "failed to free a concurrency group");
        }
    }

    /// A cancel of a run that waits for its group concludes it at once; `true` when it did.
    async fn cancel_waiting_run(&mut self, run_id: RunId) -> bool {
        if !self.groups.run_is_waiting(run_id) {
            return false;
        }
        let outcome = self
            .groups
            .conclude_waiting_run(
                run_id,
                "cancelled while waiting for its concurrency group",
                &mut self.follow_ups,
            )
            .await;
        if let Err(error) = outcome {
            tracing::error!(%run_id, %error, "failed to cancel a waiting run");
        }
        true
    }

    /// A run asked to cancel before it started (its planning was slow) concludes `cancelled`
    /// at once, with the reason in its details; `true` when it did.
    async fn cancel_unstarted_run(&mut self, run_id: RunId) -> bool {
        let requested =
            matches!(self.engine.store().run(run_id), Ok(Some(run)) if run.cancel_requested);
        if requested {
            tracing::info!(%run_id, "run cancelled before it started");
            self.conclude_unstarted_run(
                run_id,
                Conclusion::Cancelled,
                "cancelled before it started (while it was being planned)",
            )
            .await;
        }
        requested
    }

    async fn fail_unstarted_run(&mut self, run_id: RunId, message: &str) {
        self.conclude_unstarted_run(run_id, Conclusion::Failure, message)
            .await;
    }

    /// Concludes a run that has no jobs yet with `conclusion`, `message` in its diagnostics.
    async fn conclude_unstarted_run(
        &mut self,
        run_id: RunId,
        conclusion: Conclusion,
        message: &str,
    ) {
        let store = self.engine.store().clone();
        let message = message.to_string();
        let outcome = async {
            store
                .update_run_details(run_id, |details| {
                    if let Some(map) = details.as_object_mut() {
                        map.insert("diagnostics".into(), json!([message]));
                    }
                })
                .await?;
            store.remove_schedule(run_id)?;
            store.finish_run(run_id, conclusion).await
        }
        .await;
        if let Err(error) = outcome {
            tracing::error!(%run_id, %error, "failed to conclude a run");
        }
        self.runs.remove(&run_id);
    }

    /// Starts, cancels or forgets the runs that moving a group asked for.
    async fn carry_out_follow_ups(&mut self) {
        while !self.follow_ups.is_empty() {
            let follow_ups = std::mem::take(&mut self.follow_ups);
            for follow_up in follow_ups {
                match follow_up {
                    FollowUp::StartRun(run_id) => {
                        let created = self.runs.get(&run_id).is_some_and(|active| {
                            active.scheduler.run_phase() == RunPhase::Created
                        });
                        if created {
                            self.feed(run_id, Event::Start).await;
                        } else if !self.runs.contains_key(&run_id) {
                            self.leave_run_group(run_id).await;
                        }
                    }
                    FollowUp::CancelRun(run_id) => self.check_cancel(run_id).await,
                    FollowUp::ForgetRun(run_id) => {
                        self.runs.remove(&run_id);
                    }
                }
            }
        }
    }
}

/// Why `spec` cannot start: a remote action of its steps that was not pinned (neither mirrored
/// nor fetchable when the run was planned); the run's details keep the message.
fn unavailable_action(engine: &Engine, run_id: RunId, spec: &JobSpec) -> Option<String> {
    use workflows::action::{BuiltIn, RemoteAction};
    let missing = spec.steps.iter().find_map(|step| {
        let uses = step.uses.as_deref()?.trim();
        let action = RemoteAction::parse(uses)?;
        (action.built_in() == BuiltIn::No && !spec.actions.contains_key(uses))
            .then(|| (uses.to_string(), action))
    })?;
    let (uses, action) = missing;
    let recorded = engine.store().run(run_id).ok().flatten().and_then(|run| {
        run.details
            .get("actions_unavailable")?
            .get(&uses)?
            .as_str()
            .map(str::to_string)
    });
    Some(recorded.unwrap_or_else(|| action.not_available()))
}

/// Pins the remote actions of a run's workflows (the one started and those it calls); a failure
/// to read the mirrors makes them all unavailable with the reason.
pub(crate) async fn pin_actions(
    engine: &Arc<Engine>,
    workflows: &[&workflows::model::Workflow],
) -> crate::actions::Pins {
    let mut uses: Vec<String> = Vec::new();
    for workflow in workflows {
        for one in crate::actions::resolve::remote_uses_of(workflow) {
            if !uses.contains(&one) {
                uses.push(one);
            }
        }
    }
    if uses.is_empty() {
        return crate::actions::Pins::default();
    }
    match crate::actions::ActionMirrors::new(engine)
        .pin(uses.clone())
        .await
    {
        Ok(pins) => pins,
        Err(error) => {
            tracing::error!(%error, "failed to pin the run's actions");
            crate::actions::Pins {
                pinned: Default::default(),
                unavailable: uses
                    .into_iter()
                    .map(|uses| {
                        let message = format!("action {uses} could not be resolved: {error}");
                        (uses, message)
                    })
                    .collect(),
            }
        }
    }
}

/// Saves what never changes during a run (workflow, contexts, secrets — sealed) once, so each
/// state save after an event writes only what moved.
fn save_schedule_input(
    engine: &Engine,
    run_id: RunId,
    scheduler: &Scheduler,
) -> Result<(), StoreError> {
    let mut input = serde_json::to_value(scheduler.input()).unwrap_or(Value::Null);
    if let Some(Value::Object(secrets)) = input.get_mut("secrets")
        && !secrets.is_empty()
    {
        let data_dir = &engine.config().data_dir;
        crate::secrets::SecretKey::shared(data_dir)
            .and_then(|key| crate::secrets::seal_secret_values(&key, secrets))
            .map_err(|error| crate::secrets::as_store_error(data_dir, error))?;
    }
    engine.store().save_schedule_input(run_id, &input)
}

fn load_schedule_input(engine: &Engine, run_id: RunId) -> Result<Value, StoreError> {
    let mut input = engine
        .store()
        .schedule_input(run_id)?
        .ok_or_else(|| StoreError::Corrupt {
            tree: "schedules",
            message: format!("run {run_id} has a saved state but no saved input"),
        })?;
    if let Some(Value::Object(secrets)) = input.get_mut("secrets")
        && !secrets.is_empty()
    {
        let data_dir = &engine.config().data_dir;
        crate::secrets::SecretKey::shared(data_dir)
            .and_then(|key| crate::secrets::open_secret_values(&key, secrets))
            .map_err(|error| crate::secrets::as_store_error(data_dir, error))?;
    }
    Ok(input)
}

fn save_schedule(
    engine: &Engine,
    run_id: RunId,
    scheduler: &Scheduler,
    outbox: &[Action],
) -> Result<(), StoreError> {
    // The input is saved once (`save_schedule_input`): only what moves is written per event.
    let state = scheduler.state_without_input();
    let outbox = outbox
        .iter()
        .filter_map(|action| serde_json::to_value(action).ok())
        .collect();
    engine.store().save_schedule(&ScheduleRecord {
        run_id,
        state,
        outbox,
    })
}

fn unrun_result(conclusion: Conclusion, reason: String) -> JobResult {
    JobResult::unrun(conclusion, reason)
}

/// Test-only, in debug builds: `SLIPWAY_TEST_PAUSE_PLANNING=<workflow file name>:<ms>` holds
/// the planning of that workflow's runs for `ms` after the run record is written and before its
/// plan is saved, so an end-to-end test can kill the engine or cancel the run in that window.
#[cfg(debug_assertions)]
async fn pause_planning_for_tests(file: &str) {
    let Ok(setting) = std::env::var("SLIPWAY_TEST_PAUSE_PLANNING") else {
        return;
    };
    if let Some((name, ms)) = setting.rsplit_once(':')
        && file.ends_with(name)
        && let Ok(ms) = ms.parse::<u64>()
    {
        tracing::info!(%file, ms, "planning paused (SLIPWAY_TEST_PAUSE_PLANNING)");
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// Test-only, in debug builds: `SLIPWAY_TEST_PAUSE_RECOVERY_MS=<ms>` makes recovery take that
/// much longer (as thousands of runs would), so an end-to-end test can check that no lease
/// expires meanwhile.
#[cfg(debug_assertions)]
async fn pause_recovery_for_tests() {
    if let Some(ms) = std::env::var("SLIPWAY_TEST_PAUSE_RECOVERY_MS")
        .ok()
        .and_then(|ms| ms.parse::<u64>().ok())
    {
        tracing::info!(ms, "recovery paused (SLIPWAY_TEST_PAUSE_RECOVERY_MS)");
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// Scheduler time: wall-clock milliseconds, so saved running-since stamps stay meaningful
/// across an engine restart.
fn now() -> Millis {
    Millis(now_us() / 1000)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::runs::dispatch::EngineConfig;

    /// A repository with one commit holding `.github/workflows/ci.yml`.
    fn repository(dir: &Path) {
        let repo = git2::Repository::init(dir).expect("init");
        let workflows = dir.join(".github/workflows");
        std::fs::create_dir_all(&workflows).expect("mkdir");
        std::fs::write(
            workflows.join("ci.yml"),
            "name: CI\non: push\njobs:\n  build:\n    runs-on: x\n    steps:\n      - run: 'true'\n",
        )
        .expect("write");
        let mut index = repo.index().expect("index");
        index
            .add_path(Path::new(".github/workflows/ci.yml"))
            .expect("add");
        let tree = repo
            .find_tree(index.write_tree().expect("tree"))
            .expect("tree");
        let signature = git2::Signature::now("Erin", "erin@example.com").expect("signature");
        repo.commit(Some("HEAD"), &signature, &signature, "ci", &tree, &[])
            .expect("commit");
    }

    /// The spec of the run's one job, once it is queued (waits with a deadline).
    async fn queued_spec(engine: &Engine, run_id: RunId) -> JobSpec {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let jobs = engine.store().jobs_of_run(run_id).expect("jobs");
            if let Some(job) = jobs.first() {
                return engine.opened_spec(job).expect("spec");
            }
            assert!(Instant::now() < deadline, "run {run_id} queued no job");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn two_runs_of_a_workflow_have_their_own_run_id_and_consecutive_numbers() {
        let data = tempfile::tempdir().expect("tempdir");
        let checkout = tempfile::tempdir().expect("tempdir");
        repository(checkout.path());
        let (engine, events) = Engine::open(EngineConfig::new(data.path()))
            .await
            .expect("open");
        let orchestrator = Orchestrator::start(engine.clone(), events)
            .await
            .expect("start");
        let request = RunRequest {
            repository: checkout.path().to_path_buf(),
            workflow: "ci.yml".to_string(),
            event_name: "push".to_string(),
            git_ref: "HEAD".to_string(),
            sha: None,
            inputs: Vec::new(),
            payload: None,
            actor: None,
        };
        let first = orchestrator.start_run(request.clone()).await.expect("run");
        let second = orchestrator.start_run(request).await.expect("run");
        let first_spec = queued_spec(&engine, first.run_id).await;
        let second_spec = queued_spec(&engine, second.run_id).await;

        assert_eq!(
            (first_spec.run.run_number, second_spec.run.run_number),
            (1, 2)
        );
        assert_ne!(first_spec.run.run_id, second_spec.run.run_id);
        assert_ne!(first_spec.run.run_id, first_spec.run.run_number);
        for (spec, number) in [(&first_spec, "1"), (&second_spec, "2")] {
            let github = &spec.contexts["github"];
            assert_eq!(github["run_id"], json!(spec.run.run_id.to_string()));
            assert_eq!(github["run_number"], json!(number));
            assert_eq!(github["run_attempt"], json!("1"));
            // The payload travels once, outside the contexts.
            assert_eq!(github.get("event"), None);
            assert_eq!(spec.event_payload["after"], json!(spec.run.sha));
            assert_eq!(spec.run.workflow, "CI");
            assert_eq!(spec.run.event_name, "push");
            assert_eq!(github["sha"], json!(spec.run.sha));
        }
        engine.shutdown();
    }
}
