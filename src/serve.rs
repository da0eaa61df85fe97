//! `slipway serve`: the engine, its HTTP API, the run orchestrator and N embedded runner
//! processes (this binary's `runner` subcommand), supervised until Ctrl-C or SIGTERM. The
//! runners are not tied to this process's life: when it is killed they finish their steps and
//! reconnect, and the next `serve` on the same data dir adopts them (each runner's work dir
//! lock says whether one is alive) instead of starting a second. With
//! `--demo` it creates a demo repository from the embedded example workflows and runs them.
//!
//! This file only wires the engine's library pieces together and supervises processes; it plans
//! nothing itself.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use engine::repos::triggers::decide::{WorkflowFile, decide};
use engine::repos::triggers::mirror::workflows_at;
use engine::runs::dispatch::{Engine, EngineConfig};
use engine::runs::orchestrator::{Orchestrator, RunRequest, ensure_admin_token};
use engine::store::RecordKind;
use engine::store::create_registration_token;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;
use workflows::filters::TriggerEvent;

use crate::exit;

/// Everything `slipway serve` was asked.
#[derive(Debug, Clone)]
pub(crate) struct ServeRequest {
    pub data_dir: PathBuf,
    /// `--store`: where the database is (`None`: sled under the data dir).
    pub store: Option<String>,
    pub listen: SocketAddr,
    pub runners: usize,
    pub repos: Vec<PathBuf>,
    pub lease_seconds: u64,
    pub demo: bool,
    /// Where a JSON body is POSTed when a run completes.
    pub notify_url: Option<String>,
    /// Where people reach the web UI (commit statuses link to it); default: the listen address.
    pub public_url: Option<String>,
    /// Deployment time from a file (see `engine::Clock`).
    pub clock_file: Option<PathBuf>,
    /// Cap on one job's stored log in bytes.
    pub max_log_bytes: u64,
    /// How long a job no runner can take stays queued before it fails.
    pub no_runner_timeout: Duration,
    /// Finished runs older than this are removed every hour (`--retain`).
    pub retain: Option<Duration>,
    /// The largest artifact the toolkit's artifact service takes (`--max-artifact-bytes`).
    pub max_artifact_bytes: u64,
}

/// A duration as people write it: `90s`, `30m`, `24h`, `2d`, `1h30m` (a bare number is seconds).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration like 90s, 30m, 24h or 2d");
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        total = value
            .checked_mul(unit)
            .and_then(|seconds| total.checked_add(seconds))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

/// The example workflows the demo repository holds.
const DEMO_WORKFLOWS: &[(&str, &str)] = &[
    (
        "conditions.yml",
        include_str!("../workflows/examples/conditions.yml"),
    ),
    ("dag.yml", include_str!("../workflows/examples/dag.yml")),
    (
        "deploy.yml",
        include_str!("../workflows/examples/deploy.yml"),
    ),
    (
        "env-files.yml",
        include_str!("../workflows/examples/env-files.yml"),
    ),
    (
        "matrix.yml",
        include_str!("../workflows/examples/matrix.yml"),
    ),
    (
        "timeouts-and-cleanup.yml",
        include_str!("../workflows/examples/timeouts-and-cleanup.yml"),
    ),
];

/// The flags a command in another terminal needs to reach this engine: none when the defaults
/// or the user config file lead here (the config file is written before this is printed).
fn follow_hint(url: &str, data_dir: &Path) -> String {
    let target = crate::config::resolve(None, None, None);
    let token_found = target.token.is_some()
        && target
            .data_dir
            .as_deref()
            .is_some_and(|found| absolute(found) == data_dir);
    if target.url.trim_end_matches('/') == url.trim_end_matches('/') && token_found {
        String::new()
    } else {
        format!(" --data {}", data_dir.display())
    }
}

pub(crate) fn run(request: ServeRequest) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return exit::FAILURE;
        }
    };
    match runtime.block_on(serve(request)) {
        Ok(()) => exit::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            exit::FAILURE
        }
    }
}

async fn serve(request: ServeRequest) -> Result<(), String> {
    let (store, store_dir) = match &request.store {
        Some(text) => engine::store::StoreLocation::parse(text)
            .map_err(|why| format!("read --store: {why}"))?,
        None => (engine::store::StoreLocation::Sled, None),
    };
    let data_dir = absolute(store_dir.as_ref().unwrap_or(&request.data_dir));
    // Everything the engine writes from here on is private to its user (the runners it starts
    // get the caller's umask back: a step's files are the user's business).
    let inherited_umask = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    std::fs::create_dir_all(&data_dir)
        .map_err(|error| format!("create data dir {}: {error}", data_dir.display()))?;
    let privacy = engine::secrets::privacy::secure_data_dir(&data_dir)
        .map_err(|error| format!("check data dir {}: {error}", data_dir.display()))?;
    for (path, mode) in &privacy.fixed {
        eprintln!(
            "warning: {} was readable by other users (mode {mode:o}); made private",
            path.display()
        );
    }
    for (path, why) in &privacy.failed {
        eprintln!("warning: could not make {} private: {why}", path.display());
    }
    let _ = INHERITED_UMASK.set(inherited_umask.bits());
    ensure_admin_token(&data_dir).map_err(|error| {
        format!(
            "write the admin token under {}: {error}",
            data_dir.display()
        )
    })?;
    let mut config = EngineConfig::new(&data_dir);
    let store_label = store.describe();
    config.store = store;
    config.lease_duration = Duration::from_secs(request.lease_seconds.max(1));
    config.no_runner_timeout = request.no_runner_timeout;
    config.retain = request.retain;
    config.max_artifact_bytes = request
        .max_artifact_bytes
        .min(engine::artifacts::MAX_ARTIFACT_BYTES);
    if let Some(path) = &request.clock_file {
        config.clock = engine::Clock::File(path.clone());
    }
    let (engine, events) = Engine::open(config)
        .await
        .map_err(|error| format!("open the engine store: {error}"))?;
    engine.store().set_log_limit(request.max_log_bytes);
    let orchestrator = Orchestrator::start(engine.clone(), events)
        .await
        .map_err(|error| format!("resume unfinished runs: {error}"))?;
    engine::spawn_artifact_sweeper(engine.clone());
    if let Some(retain) = request.retain {
        engine::runs::retention::spawn_sweeper(engine.clone(), retain);
    }
    // Watched repositories: hook and webhook intake, polling and schedules start runs through
    // the orchestrator.
    let repos = engine::repos::Repos::new(engine.clone(), Arc::new(orchestrator.clone()));
    let repos_shutdown = CancellationToken::new();
    let _repos_task = repos.spawn(repos_shutdown.clone());
    if let Some(url) = &request.notify_url {
        let _notifier = engine::repos::spawn_completion_notifier(
            engine.clone(),
            url.clone(),
            repos_shutdown.clone(),
        );
    }
    let watcher = repos.clone();
    let server = engine::serve_http(
        engine::AppState::new(orchestrator.clone(), repos),
        request.listen,
    )
    .await
    .map_err(|error| format!("listen on {}: {error}", request.listen))?;
    let url = server.url();
    // Commit statuses to forges link to the run's page at the public address.
    watcher
        .status_reporter()
        .set_public_url(request.public_url.as_deref().unwrap_or(&url));
    let _statuses = watcher.status_reporter().spawn(repos_shutdown.clone());
    println!("slipway engine listening on {url}");
    println!(
        "web UI: {url}/ (sign in with the admin token in {})",
        data_dir.join("admin.token").display()
    );
    println!("data directory: {}", data_dir.display());
    println!("store: {store_label}");
    // Other terminals find this engine without flags: the data dir names its URL, and the user
    // config file names the data dir (see `config.rs`).
    match crate::config::record_engine(&url, &data_dir) {
        Ok(Some(path)) => println!("engine recorded in {}", path.display()),
        Ok(None) => {}
        Err(message) => eprintln!("warning: failed to {message}"),
    }

    let stop = CancellationToken::new();
    let mut supervisors = Vec::new();
    for index in 0..request.runners {
        let runner_dir = data_dir
            .join("runners")
            .join(format!("runner-{}", index + 1));
        let config_path = runner_dir.join("config.toml");
        if !config_path.exists() {
            let token = create_registration_token(engine.store())
                .await
                .map_err(|error| format!("make a registration token: {error}"))?;
            runner::agent::register(
                &url,
                &token,
                &format!("embedded-{}", index + 1),
                &crate::runner_cmd::with_docker_label(crate::runner_cmd::default_labels()).await,
                1,
                &config_path,
            )
            .await
            .map_err(|error| format!("register embedded runner {}: {error}", index + 1))?;
        }
        supervisors.push(tokio::spawn(supervise_runner(
            url.clone(),
            runner_dir,
            config_path,
            stop.clone(),
        )));
    }

    let mut repos = request.repos.clone();
    if request.demo {
        let demo = data_dir.join("demo-repo");
        create_demo_repo(&demo)?;
        repos.push(demo);
    }
    let mut started = StartupCount::default();
    for repo in &repos {
        let repo = absolute(repo);
        let newly_watched = watch(&orchestrator, &watcher, &repo).await;
        start_push_workflows(&orchestrator, &repo, newly_watched, &mut started).await;
    }
    let started_any = started.started > 0;
    if !repos.is_empty() {
        println!(
            "start-up runs: {} started, {} already started at this commit",
            started.started, started.known
        );
    }
    if started_any {
        println!(
            "follow them with `slipway runs{hint}` and `slipway logs RUN -f{hint}`",
            hint = follow_hint(&url, &data_dir)
        );
    }

    wait_for_stop_signal().await;
    println!("stopping: runners get SIGTERM");
    stop.cancel();
    repos_shutdown.cancel();
    for supervisor in supervisors {
        let _ = supervisor.await;
    }
    engine.shutdown();
    server.stop().await;
    Ok(())
}

/// One embedded runner process: a child this `serve` started, or one a previous `serve` on the
/// same data dir started and left running (adopted: it is not our child, so it is watched by
/// its work dir's lock).
enum RunnerProcess {
    Child(Child),
    Adopted(u32),
}

impl RunnerProcess {
    /// Until the process ends.
    async fn wait(&mut self, work_dir: &Path) -> String {
        match self {
            RunnerProcess::Child(child) => child
                .wait()
                .await
                .map(|status| status.to_string())
                .unwrap_or_else(|error| error.to_string()),
            RunnerProcess::Adopted(_) => {
                while runner::workdir_lock::holder(work_dir).is_some() {
                    tokio::time::sleep(ADOPTED_POLL).await;
                }
                "it exited".to_string()
            }
        }
    }

    /// SIGTERM (the runner stops polling and lets its jobs report), then SIGKILL after 10 s (its
    /// step guard then kills the steps).
    async fn terminate(&mut self, work_dir: &Path) {
        let pid = match self {
            RunnerProcess::Child(child) => child.id(),
            RunnerProcess::Adopted(pid) => Some(*pid),
        };
        if let Some(pid) = pid {
            signal(pid, "-TERM");
        }
        if tokio::time::timeout(RUNNER_STOP_GRACE, self.wait(work_dir))
            .await
            .is_err()
        {
            match self {
                RunnerProcess::Child(child) => {
                    let _ = child.kill().await;
                }
                RunnerProcess::Adopted(pid) => signal(*pid, "-KILL"),
            }
        }
    }
}

/// How long a stopping runner gets before SIGKILL.
const RUNNER_STOP_GRACE: Duration = Duration::from_secs(10);
/// How often an adopted runner's lock is checked.
const ADOPTED_POLL: Duration = Duration::from_millis(200);

fn signal(pid: u32, which: &str) {
    let _ = std::process::Command::new("kill")
        .arg(which)
        .arg(pid.to_string())
        .status();
}

/// Keeps one embedded runner process alive: adopts the one already running on `runner_dir`
/// (a previous `serve` was killed and the runner outlived it: its job goes on and reports to
/// this engine), else starts one; restarts it when it dies (1 s, doubling, at most 30 s between
/// tries); stops it with SIGTERM (then SIGKILL after 10 s) when `stop` fires.
async fn supervise_runner(
    url: String,
    runner_dir: PathBuf,
    config_path: PathBuf,
    stop: CancellationToken,
) {
    let work_dir = runner_dir.join("work");
    let mut backoff = Duration::from_secs(1);
    let mut adoptable = true;
    loop {
        let found = adoptable
            .then(|| runner::workdir_lock::holder(&work_dir))
            .flatten();
        adoptable = false;
        let mut process = match found {
            Some(holder)
                if holder.engine_url.trim_end_matches('/') == url.trim_end_matches('/') =>
            {
                println!(
                    "adopted runner {} (pid {}), still running from before the restart",
                    runner_dir.display(),
                    holder.pid
                );
                RunnerProcess::Adopted(holder.pid)
            }
            Some(holder) => {
                // It talks to another address: it cannot report here. Stop it; its jobs are
                // re-queued when their leases expire.
                eprintln!(
                    "warning: runner {} (pid {}) talks to {}, not {url}; stopping it",
                    runner_dir.display(),
                    holder.pid,
                    holder.engine_url
                );
                RunnerProcess::Adopted(holder.pid)
                    .terminate(&work_dir)
                    .await;
                continue;
            }
            None => match spawn_runner(&url, &runner_dir, &config_path) {
                Ok(child) => RunnerProcess::Child(child),
                Err(error) => {
                    eprintln!("warning: start runner {}: {error}", runner_dir.display());
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.cancelled() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            },
        };
        let started = tokio::time::Instant::now();
        tokio::select! {
            status = process.wait(&work_dir) => {
                eprintln!("warning: runner {} exited ({status}); restarting", runner_dir.display());
                if started.elapsed() > Duration::from_secs(60) {
                    backoff = Duration::from_secs(1);
                }
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stop.cancelled() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
            _ = stop.cancelled() => {
                process.terminate(&work_dir).await;
                return;
            }
        }
    }
}

/// The umask `serve` was started with (it runs with 077 itself); its runners restore it.
static INHERITED_UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

/// Starts `slipway runner` on `runner_dir`, in its own process group and not tied to this
/// process's life: when this engine is killed, the runner finishes its step and waits for the
/// engine to come back.
fn spawn_runner(url: &str, runner_dir: &Path, config_path: &Path) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    Command::new(exe)
        .arg("runner")
        .arg("--engine")
        .arg(url)
        .arg("--config")
        .arg(config_path)
        .arg("--work-dir")
        .arg(runner_dir.join("work"))
        .env(crate::runner_cmd::EMBEDDED, "1")
        .env(
            crate::runner_cmd::UMASK,
            format!("{:o}", INHERITED_UMASK.get().copied().unwrap_or(0o022)),
        )
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
}

async fn wait_for_stop_signal() {
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

/// Watches `repo` under its folder's name unless it is watched already, so its start-up runs
/// (and later dispatches) carry that name; `true` when it was watched just now.
async fn watch(orchestrator: &Orchestrator, repos: &engine::repos::Repos, repo: &Path) -> bool {
    let given = repo.display().to_string();
    match orchestrator.watched_repository(&given) {
        Ok(Some(_)) => false,
        Ok(None) => {
            let request = engine::repos::AddRepo {
                source: given.clone(),
                ..Default::default()
            };
            match repos.add(request).await {
                Ok((record, _token)) => {
                    println!("watching {given} as `{}`", record.name);
                    true
                }
                Err(error) => {
                    eprintln!("warning: watch {given}: {error}");
                    false
                }
            }
        }
        Err(error) => {
            eprintln!("warning: watch {given}: {error}");
            false
        }
    }
}

/// What the store remembers of one start-up run (`RecordKind::StartupRuns`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct StartupRun {
    /// `None` while it is being started: a crash before the run exists starts it next time.
    run_id: Option<String>,
}

/// Starts the `push` workflows of `repo`'s HEAD commit whose `on:` takes a push of HEAD's
/// branch (the trigger decision `engine::repos::triggers::decide` makes for every push), each once
/// per commit: the store remembers what started, so a restart at the same commit starts
/// nothing. Counts into `count`. Only a repository watched just now (`newly_watched`) gets them:
/// once it is watched, a new commit is a push its watcher sees and runs (polled at every start),
/// so starting it here as well would run it twice; a start-up run a crash left half-started is
/// still finished.
async fn start_push_workflows(
    orchestrator: &Orchestrator,
    repo: &Path,
    newly_watched: bool,
    count: &mut StartupCount,
) {
    let head = match head_push(repo) {
        Ok(head) => head,
        Err(message) => {
            eprintln!("warning: {}: {message}", repo.display());
            return;
        }
    };
    let store = orchestrator.engine().store().clone();
    for decision in decide(&head.files, &head.event) {
        if !decision.triggers {
            if decision.invalid {
                eprintln!(
                    "warning: {}: {}: {}",
                    repo.display(),
                    decision.file,
                    decision.reason
                );
            }
            continue;
        }
        let key = format!("{}\0{}\0{}", repo.display(), head.sha, decision.file);
        let known: Option<StartupRun> =
            store
                .record(RecordKind::StartupRuns, &key)
                .unwrap_or_else(|error| {
                    eprintln!("warning: read the start-up runs: {error}");
                    None
                });
        match &known {
            Some(known) if known.run_id.is_some() => {
                count.known += 1;
                continue;
            }
            None if !newly_watched => continue,
            _ => {}
        }
        if let Err(error) = store
            .put_record(RecordKind::StartupRuns, &key, &StartupRun { run_id: None })
            .await
        {
            eprintln!("warning: {}: {}: {error}", repo.display(), decision.file);
            continue;
        }
        let started = orchestrator
            .start_run(RunRequest {
                sha: Some(head.sha.clone()),
                repository: repo.to_path_buf(),
                workflow: decision.file.clone(),
                event_name: "push".to_string(),
                git_ref: head.git_ref.clone(),
                inputs: Vec::new(),
                payload: None,
                actor: None,
            })
            .await;
        match started {
            Ok(run) => {
                count.started += 1;
                println!(
                    "started {} #{} as run {}",
                    decision.file, run.run_number, run.run_id
                );
                let record = StartupRun {
                    run_id: Some(run.run_id.to_string()),
                };
                if let Err(error) = store
                    .put_record(RecordKind::StartupRuns, &key, &record)
                    .await
                {
                    eprintln!("warning: remember start-up run {}: {error}", run.run_id);
                }
            }
            Err(error) => eprintln!("warning: {}: {}: {error}", repo.display(), decision.file),
        }
    }
}

/// How many start-up runs started, and how many had started before at the same commit.
#[derive(Debug, Default)]
struct StartupCount {
    started: usize,
    known: usize,
}

/// A repository's HEAD as a push: its commit, full ref and workflow files at that commit.
struct HeadPush {
    sha: String,
    git_ref: String,
    files: Vec<WorkflowFile>,
    event: TriggerEvent,
}

fn head_push(repo: &Path) -> Result<HeadPush, String> {
    let git =
        git2::Repository::open(repo).map_err(|error| format!("open the repository: {error}"))?;
    let head = git.head().map_err(|error| format!("read HEAD: {error}"))?;
    let commit = head
        .peel_to_commit()
        .map_err(|error| format!("read HEAD's commit: {error}"))?;
    let git_ref = match head.name().ok() {
        Some(name) if head.is_branch() || name.starts_with("refs/") => name.to_string(),
        _ => "HEAD".to_string(),
    };
    let files = workflows_at(&git, commit.id())
        .map_err(|error| format!("read the workflows at {}: {error}", commit.id()))?;
    let event = TriggerEvent {
        name: "push".to_string(),
        action: None,
        git_ref: (git_ref != "HEAD").then(|| git_ref.clone()),
        // A start-up run has no "before": nothing to compare, so path filters do not exclude.
        changed_paths: None,
    };
    Ok(HeadPush {
        sha: commit.id().to_string(),
        git_ref,
        files,
        event,
    })
}

/// Creates the demo repository once: the example workflows, committed on `main`.
fn create_demo_repo(dir: &Path) -> Result<(), String> {
    if dir.join(".git").exists() {
        return Ok(());
    }
    let fail = |error: &dyn std::fmt::Display| {
        format!("create the demo repository {}: {error}", dir.display())
    };
    let workflows_dir = dir.join(".github").join("workflows");
    std::fs::create_dir_all(&workflows_dir).map_err(|e| fail(&e))?;
    for (name, text) in DEMO_WORKFLOWS {
        std::fs::write(workflows_dir.join(name), text).map_err(|e| fail(&e))?;
    }
    std::fs::write(
        dir.join("README.md"),
        "A demo repository made by `slipway serve --demo`.\n",
    )
    .map_err(|e| fail(&e))?;
    let repo =
        git2::Repository::init_opts(dir, git2::RepositoryInitOptions::new().initial_head("main"))
            .map_err(|e| fail(&e))?;
    let mut index = repo.index().map_err(|e| fail(&e))?;
    index
        .add_all(["*"], git2::IndexAddOption::DEFAULT, None)
        .map_err(|e| fail(&e))?;
    index.write().map_err(|e| fail(&e))?;
    let tree_id = index.write_tree().map_err(|e| fail(&e))?;
    let tree = repo.find_tree(tree_id).map_err(|e| fail(&e))?;
    let signature = git2::Signature::now("slipway", "slipway@localhost").map_err(|e| fail(&e))?;
    repo.commit(
        Some("HEAD"),
        &signature,
        &signature,
        "Demo workflows",
        &tree,
        &[],
    )
    .map_err(|e| fail(&e))?;
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|dir| dir.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    }
}

/// `slipway migrate --from sled:DIR --to postgres://…`: copies the stopped engine's sled store
/// into an empty PostgreSQL database and says what it copied.
pub(crate) fn migrate(from: &str, to: &str) -> i32 {
    use engine::store::StoreLocation;
    let dir = match StoreLocation::parse(from) {
        Ok((StoreLocation::Sled, Some(dir))) => dir,
        Ok(_) => {
            eprintln!("error: read --from: `{from}` is not a sled store: give sled:DIR");
            return exit::USAGE;
        }
        Err(why) => {
            eprintln!("error: read --from: {why}");
            return exit::USAGE;
        }
    };
    if !matches!(
        StoreLocation::parse(to),
        Ok((StoreLocation::Postgres(_), _))
    ) {
        eprintln!(
            "error: read --to: `{to}` is not a PostgreSQL URL: give postgres://USER@HOST:PORT/DATABASE"
        );
        return exit::USAGE;
    }
    match engine::store::migrate_sled_to_postgres(&dir, to) {
        Ok(report) => {
            let total: usize = report.trees.iter().map(|(_, count)| count).sum();
            for (tree, count) in &report.trees {
                println!("{tree}: {count}");
            }
            println!("copied {total} entries from {} trees", report.trees.len());
            println!(
                "log files stay in {}: serve with --store <URL> --data {}",
                report.logs_dir.display(),
                absolute(&dir).display()
            );
            exit::SUCCESS
        }
        Err(error) => {
            eprintln!("error: failed to {error}");
            exit::FAILURE
        }
    }
}
