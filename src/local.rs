//! `slipway run`: run a repository's workflows on this machine, with no server. The engine's
//! scheduler decides what runs when; the runner's executor runs the steps in-process. This file
//! only carries actions from one to the other and shows progress.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use engine::runs::event::{self, EventSource};
use indexmap::IndexMap;
use protocol::{Conclusion, JobEvent, JobResult};
use runner::executor::{self, ExecutorOptions};
use scheduler::{CancelReason, Driver, Event, Millis, RunInput, Scheduler, Selection, Started};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use workflows::Workflow;
use workflows::filters::{self, TriggerEvent};

use crate::progress::Progress;
use crate::{called, check, exit, render};

/// Everything `slipway run` was asked.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunRequest {
    pub directory: PathBuf,
    pub event: String,
    pub event_file: Option<PathBuf>,
    pub workflow: Option<PathBuf>,
    /// Run exactly HEAD (workflow files too) instead of the working tree as it is.
    pub commit: bool,
    /// How many local runs' folders the cache keeps.
    pub keep_runs: usize,
    pub job: Option<String>,
    pub inputs: Vec<(String, String)>,
    pub secrets: Vec<(String, String)>,
    pub secret_files: Vec<PathBuf>,
    pub vars: Vec<(String, String)>,
    pub env: Vec<(String, String)>,
    pub matrix: Vec<(String, String)>,
    pub json: bool,
    /// Folders of plain action checkouts (`owner/repo@ref` or `owner/repo`).
    pub action_dirs: Vec<PathBuf>,
    /// An engine's data dir whose action mirrors pin and provide remote actions.
    pub data_dir: PathBuf,
}

/// One workflow's outcome, for the summary.
struct WorkflowOutcome {
    file: String,
    run_id: String,
    conclusion: Conclusion,
    jobs: Vec<JobOutcome>,
}

struct JobOutcome {
    key: String,
    conclusion: Conclusion,
    reason: Option<String>,
    elapsed: Duration,
    result: Option<JobResult>,
}

/// Runs the request; returns the exit code.
pub(crate) fn run(request: RunRequest) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: failed to start the async runtime: {err}");
            return exit::FAILURE;
        }
    };
    runtime.block_on(run_async(request))
}

async fn run_async(request: RunRequest) -> i32 {
    let runs_dir = crate::local_tree::runs_dir();
    // `--commit`: workflow files (and the reusable workflows they call) are read from a
    // snapshot of HEAD; the jobs check out the commit alone. Otherwise the working tree runs as
    // it is, and a dirty one is said so.
    let snapshot = runs_dir.join(format!("_head-{}", std::process::id()));
    let directory = if request.commit {
        match crate::local_tree::head_snapshot(&request.directory, &snapshot) {
            Ok(root) => {
                eprintln!("running HEAD exactly (--commit): uncommitted changes left out");
                root
            }
            Err(message) => {
                eprintln!("error: failed to {message}");
                return exit::USAGE;
            }
        }
    } else {
        if crate::local_tree::has_uncommitted_changes(&request.directory) {
            eprintln!(
                "uncommitted changes included: running the working tree as it is (--commit runs HEAD alone)"
            );
        }
        request.directory.clone()
    };
    let code = run_in(&request, &directory, &runs_dir).await;
    if request.commit {
        let _ = std::fs::remove_dir_all(&snapshot);
    }
    code
}

async fn run_in(request: &RunRequest, directory: &Path, runs_dir: &Path) -> i32 {
    let directory = directory.to_path_buf();
    let files = match &request.workflow {
        Some(file) => match crate::local_tree::resolve_workflow(&directory, file) {
            Ok(found) => vec![found],
            Err(message) => {
                eprintln!("error: {message}");
                return exit::USAGE;
            }
        },
        None => match check::workflow_files(&directory) {
            Ok(files) if !files.is_empty() => files,
            Ok(_) => {
                eprintln!(
                    "error: no workflow files under {} (looked in .github/workflows)",
                    directory.display()
                );
                return exit::USAGE;
            }
            Err(message) => {
                eprintln!("error: {message}");
                return exit::USAGE;
            }
        },
    };

    // Parse every workflow first: an invalid one stops everything before anything runs.
    let mut workflows = Vec::new();
    for file in &files {
        let shown = file
            .strip_prefix(&directory)
            .unwrap_or(file)
            .display()
            .to_string();
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(err) => {
                eprintln!("error: failed to read {}: {err}", file.display());
                return exit::USAGE;
            }
        };
        let parsed = workflows::parse::parse_workflow_bytes(&shown, &bytes);
        let source = String::from_utf8_lossy(&bytes);
        let mut invalid = false;
        for diagnostic in &parsed.diagnostics {
            if diagnostic.is_error() {
                invalid = true;
            }
            if diagnostic.is_error() || !request.json {
                eprintln!("{}\n", render::diagnostic(diagnostic, &source));
            }
        }
        match parsed.workflow {
            Some(workflow) if !invalid => {
                // Reusable workflows it calls are read from the same working tree, and each
                // call is checked against the called file before anything runs.
                let mut called_files = called::WorkingTreeSource::new(&directory)
                    .with_remotes(&request.data_dir, &request.action_dirs);
                let (called, found) = scheduler::load_called(&workflow, &mut called_files);
                let mut call_invalid = false;
                for diagnostic in &found {
                    call_invalid |= diagnostic.is_error();
                    if diagnostic.is_error() || !request.json {
                        let text = if diagnostic.file == shown {
                            source.as_ref()
                        } else {
                            called_files.text(&diagnostic.file).unwrap_or_default()
                        };
                        eprintln!(
                            "{}
",
                            render::diagnostic(diagnostic, text)
                        );
                    }
                }
                if call_invalid {
                    eprintln!(
                        "error: {shown} calls a reusable workflow it cannot run; nothing was run"
                    );
                    return exit::USAGE;
                }
                workflows.push((workflow, called, called_files.pins().clone()));
            }
            _ => {
                eprintln!("error: {shown} is not a valid workflow; nothing was run");
                return exit::USAGE;
            }
        }
    }

    let source = match event::source_from_directory(&request.directory) {
        Ok(source) => source,
        Err(err) => {
            eprintln!(
                "error: failed to read the git repository at {}: {err}",
                directory.display()
            );
            return exit::USAGE;
        }
    };
    let custom_payload = match &request.event_file {
        Some(path) => match read_json(path) {
            Ok(value) => Some(value),
            Err(message) => {
                eprintln!("error: {message}");
                return exit::USAGE;
            }
        },
        None => None,
    };
    let mut secrets = IndexMap::new();
    for path in &request.secret_files {
        match read_dotenv(path) {
            Ok(pairs) => secrets.extend(pairs),
            Err(message) => {
                eprintln!("error: {message}");
                return exit::USAGE;
            }
        }
    }
    secrets.extend(request.secrets.iter().cloned());

    // Each run's folder is `<runs_dir>/<run id>` (workspaces, artifacts), its logs
    // `<logs_dir>/<run id>`; the oldest beyond `--keep-runs` go before this one starts.
    let logs_base = crate::local_tree::logs_dir();
    crate::local_tree::prune_runs(runs_dir, &logs_base, request.keep_runs.saturating_sub(1));
    let started = jiff::Timestamp::now();
    let mut outcomes = Vec::new();
    let cancel_all = CancellationToken::new();
    spawn_interrupt_handler(cancel_all.clone());
    crate::pipe::on_close_cancel(cancel_all.clone());

    for (index, (workflow, called, workflow_pins)) in workflows.into_iter().enumerate() {
        let trigger = TriggerEvent {
            name: request.event.clone(),
            action: custom_payload
                .as_ref()
                .and_then(|p| p.get("action"))
                .and_then(Value::as_str)
                .map(str::to_string),
            git_ref: Some(
                custom_payload
                    .as_ref()
                    .and_then(|p| p.get("ref"))
                    .and_then(Value::as_str)
                    .unwrap_or(&source.git_ref)
                    .to_string(),
            ),
            changed_paths: None,
        };
        if request.workflow.is_none() {
            let decision = filters::triggers(&workflow, &trigger);
            if !decision.triggers {
                if !request.json {
                    eprintln!("skipped {}: {}", workflow.file, decision.reason);
                }
                continue;
            }
        }
        // Unique across concurrent `slipway run`s on one machine: workspaces live under the run id.
        let run_id = format!(
            "{}-{}-{}",
            started.as_millisecond(),
            std::process::id(),
            index + 1
        );
        let mut input = match run_input(
            request,
            &workflow,
            &source,
            custom_payload.clone(),
            &secrets,
            &run_id,
        ) {
            Ok(mut input) => {
                input.called = called;
                input
            }
            Err(message) => {
                eprintln!("error: {}: {message}", workflow.file);
                return exit::USAGE;
            }
        };
        input.actions = crate::local_actions::pin(&request.data_dir, &workflow);
        for called_workflow in input.called.values() {
            for (uses, sha) in crate::local_actions::pin(&request.data_dir, called_workflow) {
                input.actions.entry(uses).or_insert(sha);
            }
        }
        // Remote reusable workflows read from the mirrors: their commits name `job_workflow_sha`.
        input.actions.extend(workflow_pins);
        let mut options = ExecutorOptions::new(runs_dir);
        options.action_dirs = request.action_dirs.clone();
        options.action_archives = Some(std::sync::Arc::new(crate::local_actions::MirrorArchives {
            data_dir: request.data_dir.clone(),
        }));
        options.extra_env = request.env.iter().cloned().collect();
        options.runner_name = "slipway-local".to_string();
        let logs_dir = logs_base.join(&run_id);
        let outcome =
            match run_workflow(input, options, &logs_dir, request.json, cancel_all.clone()).await {
                Ok(outcome) => outcome,
                Err(message) => {
                    crate::pipe::finished();
                    eprintln!("error: {}: {message}", workflow.file);
                    return exit::USAGE;
                }
            };
        if cancel_all.is_cancelled() {
            // A closed output waits for this: the steps are gone.
            crate::pipe::finished();
        }
        if !request.json {
            print_summary(&outcome, &logs_dir);
        }
        outcomes.push((outcome, logs_dir));
        if cancel_all.is_cancelled() {
            break;
        }
    }
    // Every step is gone: a closed output may end the command at once now.
    crate::pipe::finished();

    if outcomes.is_empty() {
        // As on GitHub, an event that starts no workflow is not an error.
        eprintln!(
            "no workflow in {} runs for event `{}`: nothing to do (use --workflow FILE to run one anyway)",
            directory.display(),
            request.event
        );
        if request.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&json_report(&outcomes)).unwrap_or_default()
            );
        }
        return exit::SUCCESS;
    }
    if request.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_report(&outcomes)).unwrap_or_default()
        );
    }
    let all_succeeded = outcomes
        .iter()
        .all(|(outcome, _)| outcome.conclusion == Conclusion::Success);
    if all_succeeded {
        exit::SUCCESS
    } else {
        exit::FAILURE
    }
}

/// Ctrl-C cancels the run cleanly (running steps get SIGTERM then SIGKILL, `always()` steps still
/// run); a second Ctrl-C exits at once.
fn spawn_interrupt_handler(cancel: CancellationToken) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!(
                "\ncancelling: running steps get SIGTERM, then SIGKILL; press Ctrl-C again to quit at once"
            );
            cancel.cancel();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
}

/// Builds the scheduler's input: contexts, payload, secrets, selection.
fn run_input(
    request: &RunRequest,
    workflow: &Workflow,
    source: &EventSource,
    custom_payload: Option<Value>,
    secrets: &IndexMap<String, String>,
    run_id: &str,
) -> Result<RunInput, String> {
    let mut input = event::run_input_for(&event::RunInputRequest {
        workflow,
        event_name: &request.event,
        source,
        custom_payload,
        inputs: &request.inputs,
        run_id,
        github_run_id: scheduler::numeric_run_id(run_id),
        run_number: 1,
        attempt: 1,
    })?;
    input.vars = request
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    input.secrets = secrets.clone();
    // A local run checks out what the developer has in front of them: the commit, with the
    // working tree's changes laid over it (ignored files left out).
    input.checkout = Some(protocol::job::Checkout {
        repository: source.clone_from.clone(),
        sha: source.sha.clone(),
        git_ref: Some(source.git_ref.clone()),
        working_tree: !request.commit,
    });
    input.selection = Selection {
        job: request.job.clone(),
        matrix: request.matrix.clone(),
    };
    Ok(input)
}

/// `slipway run`'s `Driver`: a job runs in-process on the executor at once; what will not run
/// is shown and kept for the summary.
struct LocalDriver<'a> {
    options: &'a ExecutorOptions,
    logs_dir: &'a Path,
    progress: Progress,
    quiet: bool,
    cancel_all: CancellationToken,
    finished: mpsc::UnboundedSender<(String, JobResult)>,
    cancels: HashMap<String, CancellationToken>,
    started_at: HashMap<String, Instant>,
    outcomes: IndexMap<String, JobOutcome>,
}

impl Driver for LocalDriver<'_> {
    fn start_job(&mut self, spec: protocol::JobSpec) -> Started {
        let key = spec.job_key.clone();
        let token = self.cancel_all.child_token();
        self.cancels.insert(key.clone(), token.clone());
        self.started_at.insert(key.clone(), Instant::now());
        self.progress.job_started(&key);
        spawn_job(
            spec,
            self.options.clone(),
            self.logs_dir,
            self.progress.clone(),
            token,
            self.finished.clone(),
        );
        Started::Now
    }

    fn cancel_job(&mut self, job_key: &str, _reason: CancelReason) {
        if let Some(token) = self.cancels.get(job_key) {
            token.cancel();
        }
    }

    fn job_not_run(&mut self, job_key: &str, conclusion: Conclusion, reason: String) {
        self.progress.job_done(job_key, conclusion, Duration::ZERO);
        if conclusion != Conclusion::Skipped && !self.quiet {
            self.progress.println(&format!("[{job_key}] {reason}"));
        }
        self.outcomes.insert(
            job_key.to_string(),
            JobOutcome {
                key: job_key.to_string(),
                conclusion,
                reason: Some(reason),
                elapsed: Duration::ZERO,
                result: None,
            },
        );
    }

    fn run_finished(&mut self, _conclusion: Conclusion) {}
}

impl LocalDriver<'_> {
    /// A job the executor finished: shown and kept for the summary.
    fn job_finished(&mut self, key: &str, result: &JobResult) {
        let elapsed = self
            .started_at
            .get(key)
            .map(Instant::elapsed)
            .unwrap_or_default();
        self.progress.job_done(key, result.conclusion, elapsed);
        self.outcomes.insert(
            key.to_string(),
            JobOutcome {
                key: key.to_string(),
                conclusion: result.conclusion,
                reason: result.failure_reason.clone(),
                elapsed,
                result: Some(result.clone()),
            },
        );
    }
}

/// Drives one workflow run to its end: the scheduler's loop (`scheduler::drive`) fed with the
/// executor's results, Ctrl-C and a tick for timeouts.
async fn run_workflow(
    input: RunInput,
    options: ExecutorOptions,
    logs_dir: &Path,
    quiet: bool,
    cancel_all: CancellationToken,
) -> Result<WorkflowOutcome, String> {
    std::fs::create_dir_all(logs_dir)
        .map_err(|err| format!("failed to create {}: {err}", logs_dir.display()))?;
    let file = input.workflow.file.clone();
    let run_id = input.run_id.clone();
    let mut scheduler = Scheduler::new(input).map_err(|err| err.to_string())?;
    let clock = Instant::now();
    let now = || Millis(clock.elapsed().as_millis() as u64);
    let (finished_tx, mut finished_rx) = mpsc::unbounded_channel::<(String, JobResult)>();
    let mut driver = LocalDriver {
        options: &options,
        logs_dir,
        progress: Progress::new(quiet || !std::io::stderr().is_terminal(), quiet),
        quiet,
        cancel_all: cancel_all.clone(),
        finished: finished_tx,
        cancels: HashMap::new(),
        started_at: HashMap::new(),
        outcomes: IndexMap::new(),
    };
    let mut run_cancel_sent = false;
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut event = Event::Start;
    let conclusion = loop {
        let done = scheduler::drive(&mut scheduler, event, now(), &mut driver)
            .map_err(|err| err.to_string())?;
        if let Some(conclusion) = done {
            break conclusion;
        }
        event = tokio::select! {
            Some((key, result)) = finished_rx.recv() => {
                driver.job_finished(&key, &result);
                Event::JobFinished { job_key: key, result }
            }
            _ = cancel_all.cancelled(), if !run_cancel_sent => {
                run_cancel_sent = true;
                Event::CancelRequested
            }
            _ = ticker.tick() => Event::Tick,
        };
    };
    driver.progress.finish();
    // Jobs appear in the summary in the workflow's order.
    let mut outcomes = std::mem::take(&mut driver.outcomes);
    let mut jobs: Vec<JobOutcome> = Vec::new();
    for view in scheduler.jobs() {
        if let Some(outcome) = outcomes.shift_remove(view.job_id) {
            jobs.push(outcome);
        }
        for leg in &view.legs {
            if let Some(outcome) = outcomes.shift_remove(leg.job_key) {
                jobs.push(outcome);
            }
        }
    }
    jobs.extend(outcomes.into_values());
    Ok(WorkflowOutcome {
        file,
        run_id,
        conclusion,
        jobs,
    })
}

/// Runs one job on the executor, writing its log file and feeding live output to the progress view.
fn spawn_job(
    spec: protocol::JobSpec,
    options: ExecutorOptions,
    logs_dir: &Path,
    progress: Progress,
    cancel: CancellationToken,
    finished: mpsc::UnboundedSender<(String, JobResult)>,
) {
    let key = spec.job_key.clone();
    let log_path = log_path(logs_dir, &key);
    let mut spec = spec;
    match local_deployment(&spec) {
        Ok(assignment) => spec.deployment = spec.deployment.take().or(assignment),
        Err(message) => {
            let _ = finished.send((key, JobResult::failed(message)));
            return;
        }
    }
    tokio::spawn(async move {
        let (events_tx, mut events_rx) = mpsc::unbounded_channel();
        // No engine, no approvers: canary approval phases are granted (loudly, in the job log).
        let job = tokio::spawn(async move {
            executor::run_job_with_gate(spec, &options, events_tx, cancel, &executor::AutoApprove)
                .await
        });
        let mut log = tokio::fs::File::create(&log_path).await.ok();
        let mut step_names: HashMap<usize, String> = HashMap::new();
        while let Some(event) = events_rx.recv().await {
            let line = match &event {
                JobEvent::StepStarted { index, name } => {
                    step_names.insert(*index, name.clone());
                    progress.step_started(&key, name);
                    Some(format!("##[step] {name}"))
                }
                JobEvent::Log { line, .. } => {
                    progress.output(&key, line);
                    Some(line.clone())
                }
                JobEvent::StepFinished { index, result } => {
                    let name = step_names.get(index).cloned().unwrap_or_default();
                    Some(format!(
                        "##[step-end] {name}: {}",
                        result.conclusion.as_str()
                    ))
                }
                JobEvent::JobFinished { .. } => None,
            };
            if let (Some(file), Some(line)) = (log.as_mut(), line) {
                use tokio::io::AsyncWriteExt;
                if file
                    .write_all(format!("{line}\n").as_bytes())
                    .await
                    .is_err()
                {
                    log = None;
                }
            }
        }
        let result = match job.await {
            Ok(result) => result,
            Err(err) => JobResult::failed(format!("the executor stopped unexpectedly: {err}")),
        };
        if !result.summary.trim().is_empty() {
            // The step summary is kept beside the job's log (and printed with the summary).
            let _ = tokio::fs::write(log_path.with_extension("summary.md"), &result.summary).await;
        }
        let _ = finished.send((key, result));
    });
}

/// With no engine to plan it, a job with `environment:` and/or `deployment:` gets its
/// deployment planned here so strategies can be tried locally: the run's commit is the
/// version, no slot is live and there is no earlier version to roll back to.
fn local_deployment(
    spec: &protocol::JobSpec,
) -> Result<Option<protocol::DeploymentAssignment>, String> {
    if spec.deployment.is_some() || (spec.environment.is_none() && spec.deployment_block.is_none())
    {
        return Ok(None);
    }
    let block = spec.deployment_block.clone().unwrap_or(Value::Null);
    let checked = deploy::DeploymentSpec::parse(&block, None)
        .map_err(|error| format!("{}: {error}", spec.workflow_file))?;
    let environment = spec
        .environment
        .as_ref()
        .map(|environment| environment.name.clone())
        .unwrap_or_else(|| "local".to_string());
    let sha = spec
        .checkout
        .as_ref()
        .map(|checkout| checkout.sha.clone())
        .or_else(|| {
            spec.contexts
                .get("github")
                .and_then(|github| github.get("sha"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let plan = deploy::plan_deployment(&environment, &checked, &deploy::Version::new(sha), None);
    Ok(Some(
        deploy::wire::DeploymentAssignment {
            deployment_id: format!("{}-{}", spec.run_id, spec.job_key),
            plan,
            spec: checked,
            last_good: None,
        }
        .into(),
    ))
}

fn print_summary(outcome: &WorkflowOutcome, logs_dir: &Path) {
    eprintln!(
        "\n{} ({}): {}",
        outcome.file,
        outcome.run_id,
        outcome.conclusion.as_str()
    );
    let rows: Vec<Vec<String>> = outcome
        .jobs
        .iter()
        .map(|job| {
            let failed = job_failure(job, logs_dir);
            let note = match (&failed, &job.reason, job.conclusion) {
                (Some(failed), _, _) => {
                    format!("step {} \"{}\" failed", failed.number, failed.name)
                }
                (
                    None,
                    Some(reason),
                    Conclusion::Failure | Conclusion::Skipped | Conclusion::Cancelled,
                ) => reason.clone(),
                _ => String::new(),
            };
            vec![
                job.key.clone(),
                job.conclusion.as_str().to_string(),
                crate::style::duration(job.elapsed),
                note,
            ]
        })
        .collect();
    let table = table_text(&["JOB", "RESULT", "TIME", "NOTE"], &rows);
    for line in table.lines() {
        eprintln!("  {line}");
    }
    for job in &outcome.jobs {
        if let Some(failed) = job_failure(job, logs_dir)
            && !failed.last_lines.is_empty()
        {
            eprintln!(
                "\n✗ {}: step {} \"{}\" failed; its last lines:",
                job.key, failed.number, failed.name
            );
            for line in &failed.last_lines {
                eprintln!("    {line}");
            }
        }
    }
    // `$GITHUB_STEP_SUMMARY`: kept beside the logs and shown, as GitHub shows it on the run.
    for job in &outcome.jobs {
        let Some(summary) = job
            .result
            .as_ref()
            .map(|result| result.summary.trim())
            .filter(|summary| !summary.is_empty())
        else {
            continue;
        };
        eprintln!("\nstep summary of {}:", job.key);
        for line in summary.lines() {
            eprintln!("  {line}");
        }
    }
    eprintln!("logs: {}", logs_dir.display());
}

/// The failing step of a job run here: its number, name and last lines (from its log file).
struct LocalFailure {
    number: usize,
    name: String,
    last_lines: Vec<String>,
}

fn job_failure(job: &JobOutcome, logs_dir: &Path) -> Option<LocalFailure> {
    let result = job.result.as_ref()?;
    let (number, name) = crate::client::failures::failing_step_of(result)?;
    let log = std::fs::read_to_string(log_path(logs_dir, &job.key)).unwrap_or_default();
    let last_lines = crate::client::failures::last_lines_in(log.lines(), &name);
    Some(LocalFailure {
        number,
        name,
        last_lines,
    })
}

/// Where a job's log (and its step summary) is written.
fn log_path(logs_dir: &Path, key: &str) -> PathBuf {
    logs_dir.join(format!(
        "{}.log",
        runner::executor::sanitise_path_component(key)
    ))
}

/// Aligned columns under a header, as text.
fn table_text(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut text = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (index, cell) in cells.iter().enumerate() {
            let width = widths.get(index).copied().unwrap_or(0);
            out.push_str(&format!("{cell:<width$}  "));
        }
        text.push_str(out.trim_end());
        text.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    text
}

fn json_report(outcomes: &[(WorkflowOutcome, PathBuf)]) -> Value {
    let workflows: Vec<Value> = outcomes
        .iter()
        .map(|(outcome, logs_dir)| {
            let jobs: Vec<Value> = outcome
                .jobs
                .iter()
                .map(|job| {
                    let failed = job_failure(job, logs_dir).map(|failed| {
                        json!({
                            "name": failed.name,
                            "number": failed.number,
                            "last_lines": failed.last_lines,
                        })
                    });
                    json!({
                        "job": job.key,
                        "result": job.conclusion.as_str(),
                        "reason": job.reason,
                        "seconds": job.elapsed.as_secs_f64(),
                        "duration": crate::style::duration(job.elapsed),
                        "failed_step": failed,
                        "summary": job.result.as_ref().map(|result| result.summary.clone()).filter(|summary| !summary.is_empty()),
                        "outputs": job.result.as_ref().map(|r| json!(r.outputs)).unwrap_or_else(|| json!({})),
                        "steps": job.result.as_ref().map(|r| json!(r.steps)).unwrap_or_else(|| json!([])),
                    })
                })
                .collect();
            json!({
                "workflow": outcome.file,
                "run_id": outcome.run_id,
                "result": outcome.conclusion.as_str(),
                "logs": logs_dir.display().to_string(),
                "jobs": jobs,
            })
        })
        .collect();
    let conclusion = if outcomes
        .iter()
        .all(|(o, _)| o.conclusion == Conclusion::Success)
    {
        "success"
    } else {
        "failure"
    };
    json!({"result": conclusion, "workflows": workflows})
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("failed to read {}: {err}", path.display()))?;
    serde_json::from_str(&text).map_err(|err| {
        format!(
            "failed to parse {}: line {}, column {}: {err}",
            path.display(),
            err.line(),
            err.column()
        )
    })
}

/// `KEY=VALUE` lines (dotenv): `#` comments, optional `export `, quoted values with `\n` escapes
/// in double quotes.
pub(crate) fn read_dotenv(path: &Path) -> Result<Vec<(String, String)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("failed to read {}: {err}", path.display()))?;
    let mut pairs = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!(
                "{}:{}: expected KEY=VALUE",
                path.display(),
                number + 1
            ));
        };
        let value = value.trim();
        let value = if let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            inner.replace("\\n", "\n").replace("\\\"", "\"")
        } else if let Some(inner) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
            inner.to_string()
        } else {
            value.to_string()
        };
        pairs.push((key.trim().to_string(), value));
    }
    Ok(pairs)
}

/// `K=V` arguments.
pub(crate) fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::runs::event::typed_input;
    use workflows::model::InputType;

    #[test]
    fn local_deployments_are_planned_from_the_block() {
        let mut spec = protocol::JobSpec {
            run_id: "r1".into(),
            job_key: "deploy".into(),
            workflow_file: ".github/workflows/cd.yml".into(),
            ..Default::default()
        };
        assert_eq!(local_deployment(&spec), Ok(None));
        spec.contexts
            .insert("github".into(), json!({"sha": "abc123"}));
        spec.environment = Some(protocol::EnvironmentRef {
            name: "staging".into(),
            url: None,
        });
        spec.deployment_block = Some(json!({"strategy": "rolling", "targets": ["a", "b"]}));
        let assignment = local_deployment(&spec).unwrap().unwrap();
        assert_eq!(assignment.plan.environment, "staging");
        assert_eq!(assignment.plan.version.sha, "abc123");
        assert_eq!(assignment.plan.strategy, protocol::StrategyKind::Rolling);
        assert_eq!(assignment.last_good, None);
        spec.deployment_block = Some(json!({"strategy": "rolling"}));
        assert_eq!(
            local_deployment(&spec),
            Err(".github/workflows/cd.yml: `deployment.targets`: strategy rolling needs at least one target".to_string())
        );
    }

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(parse_pair("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert!(parse_pair("=x").is_err());
        assert!(parse_pair("novalue").is_err());
    }

    #[test]
    fn typed_inputs_follow_their_declared_type() {
        assert_eq!(
            typed_input("x", InputType::Boolean, json!("TRUE")),
            Ok(json!(true))
        );
        assert_eq!(
            typed_input("x", InputType::Number, json!("42")),
            Ok(json!(42))
        );
        assert_eq!(
            typed_input("x", InputType::Number, json!("1.5")),
            Ok(json!(1.5))
        );
        assert!(typed_input("x", InputType::Boolean, json!("maybe")).is_err());
        assert_eq!(
            typed_input("x", InputType::String, json!("true")),
            Ok(json!("true"))
        );
    }
}
