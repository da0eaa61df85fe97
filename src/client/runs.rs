//! `slipway runs`, `slipway run-status RUN`, `slipway cancel RUN`, `slipway rerun RUN`, and how a
//! RUN argument names one run: the engine resolves it (`GET /api/v1/runs/resolve?ref=`: a run
//! id, a unique prefix of 8+ characters, `WORKFLOW#NUMBER[.ATTEMPT]` or a bare number), so the
//! CLI and the web UI agree.
//!
//! This file must not change anything on the engine except through `cancel` and `rerun` (both
//! admin calls).

use std::collections::HashMap;

use protocol::wire::{CancelRequest, RunDetailView, RunView, RunnerView};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{ClientError, EngineArgs, EngineClient, block_on, encode_component, print_json, table};
use crate::exit;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunsArgs {
    /// Print the runs as JSON
    #[arg(long)]
    pub json: bool,
    /// Show at most this many runs (newest first)
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Only runs of this watched repository (its name, as `slipway repo list` shows it)
    #[arg(long, value_name = "NAME")]
    pub repo: Option<String>,
    /// Only runs of this workflow (its path, file name or file stem: `ci.yml`, `ci`)
    #[arg(long, value_name = "WORKFLOW")]
    pub workflow: Option<String>,
    /// Only runs on this branch or tag (`main`, or a full ref)
    #[arg(long, value_name = "BRANCH")]
    pub branch: Option<String>,
    /// Only runs in this state: queued, in_progress, completed, success, failure, cancelled
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only runs started by this actor
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RunStatusArgs {
    /// The run: its id, a unique prefix of it (8+ characters), or WORKFLOW#NUMBER[.ATTEMPT]
    pub run: String,
    /// Print the run and its jobs as JSON (times in µs since the epoch)
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct CancelArgs {
    /// The run: its id, a unique prefix of it (8+ characters), or WORKFLOW#NUMBER[.ATTEMPT]
    pub run: String,
    /// Cancel only this job (its key, or a matrix job's id for all its legs); the jobs that
    /// need it are then skipped
    #[arg(long, value_name = "JOB")]
    pub job: Option<String>,
    /// Print the run after the request as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RerunArgs {
    /// The finished run: its id, a unique prefix of it, or WORKFLOW#NUMBER[.ATTEMPT] (without
    /// an attempt, the newest)
    pub run: String,
    /// Re-run only the jobs that failed or were cancelled, and the jobs depending on them
    #[arg(long, conflicts_with = "job")]
    pub failed: bool,
    /// Re-run this job and the jobs depending on it
    #[arg(long, value_name = "JOB")]
    pub job: Option<String>,
    /// Print the engine's answer as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `slipway runs`: a table (or JSON) of runs, newest first.
pub(crate) fn runs(args: &RunsArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let mut query = Vec::new();
        for (name, value) in [
            ("repo", &args.repo),
            ("workflow", &args.workflow),
            ("branch", &args.branch),
            ("status", &args.status),
            ("actor", &args.actor),
        ] {
            if let Some(value) = value {
                query.push(format!("{name}={}", encode_component(value)));
            }
        }
        if let Some(limit) = args.limit {
            query.push(format!("limit={limit}"));
        }
        let path = if query.is_empty() {
            "/api/v1/runs".to_string()
        } else {
            format!("/api/v1/runs?{}", query.join("&"))
        };
        let runs: Vec<RunView> = client.get(&path).await?;
        if args.json {
            print_json(&runs)?;
            return Ok(exit::SUCCESS);
        }
        let now = table::now_us();
        let rows: Vec<Vec<String>> = runs
            .iter()
            .map(|run| {
                vec![
                    run.run_id.clone(),
                    run.run_number.to_string(),
                    attempt(&run.details).to_string(),
                    run.workflow.clone(),
                    detail(&run.details, "repository"),
                    detail(&run.details, "event"),
                    detail(&run.details, "ref"),
                    detail_text(&run.details, "sha")
                        .map_or_else(|| "-".into(), |sha| sha.chars().take(8).collect()),
                    detail(&run.details, "actor"),
                    table::state(&run.status, run.conclusion.as_deref()),
                    table::time(run.created_at_us),
                    table::duration(run.created_at_us, run.finished_at_us.unwrap_or(now)),
                ]
            })
            .collect();
        table::print(
            &[
                "RUN ID",
                "NUMBER",
                "ATTEMPT",
                "WORKFLOW",
                "REPOSITORY",
                "EVENT",
                "REF",
                "COMMIT",
                "ACTOR",
                "STATUS",
                "STARTED",
                "DURATION",
            ],
            &rows,
        );
        Ok(exit::SUCCESS)
    })
}

/// `slipway run-status RUN`: the run and its jobs (status, runner, attempts, state-change
/// times). `--json` adds `queued_at`, `started_at`, `finished_at` (µs) and `runner_name` to
/// every job.
pub(crate) fn run_status(args: &RunStatusArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let run_id = resolve_run(&client, &args.run).await?;
        let detail = run_detail(&client, &run_id).await?;
        let runner_names = runner_names(&client).await?;
        let failures = super::failures::failed_steps(&client, &detail).await?;
        if args.json {
            let mut value = detail_json(&detail, &runner_names)?;
            value["failures"] = serde_json::to_value(&failures)
                .map_err(|error| ClientError::Protocol(error.to_string()))?;
            print_json(&value)?;
        } else {
            print_detail(&detail, &runner_names);
            super::failures::print(&failures);
        }
        Ok(exit::for_run(
            detail.run.conclusion.as_deref(),
            waits_for_approval(&detail),
        ))
    })
}

/// `slipway cancel RUN [--job JOB]` (admin): queued and waiting jobs are cancelled at once,
/// running ones on their next heartbeat.
pub(crate) fn cancel(args: &CancelArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let run_id = resolve_run(&client, &args.run).await?;
        let before = run_detail(&client, &run_id).await?;
        if before.run.status == "completed" && args.job.is_none() {
            if args.json {
                let names = runner_names(&client).await?;
                print_json(&detail_json(&before, &names)?)?;
            } else {
                println!(
                    "run {} ({} #{}) already finished: {}; nothing to cancel",
                    before.run.run_id,
                    before.run.workflow,
                    before.run.run_number,
                    table::state(&before.run.status, before.run.conclusion.as_deref())
                );
            }
            return Ok(exit::FINISHED);
        }
        let path = match &args.job {
            Some(job) => format!(
                "/api/v1/runs/{}/jobs/{}/cancel",
                encode_component(&run_id),
                encode_component(job)
            ),
            None => format!("/api/v1/runs/{}/cancel", encode_component(&run_id)),
        };
        let body = CancelRequest {
            protocol_version: protocol::PROTOCOL_VERSION,
        };
        let detail: Option<RunDetailView> = client.admin_send(Method::POST, &path, &body).await?;
        let Some(detail) = detail else {
            return Err(ClientError::Protocol(
                "cancel answered without a body".into(),
            ));
        };
        if args.json {
            let names = runner_names(&client).await?;
            print_json(&detail_json(&detail, &names)?)?;
        } else if let Some(job) = &args.job {
            println!(
                "cancel requested for job {job} of run {} ({} #{})",
                detail.run.run_id, detail.run.workflow, detail.run.run_number
            );
        } else {
            println!(
                "cancel requested for run {} ({} #{})",
                detail.run.run_id, detail.run.workflow, detail.run.run_number
            );
        }
        Ok(exit::SUCCESS)
    })
}

/// `slipway rerun RUN [--failed | --job J]` (admin): a new attempt of a finished run.
pub(crate) fn rerun(args: &RerunArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let run_id = resolve_run(&client, &args.run).await?;
        let path = format!("/api/v1/runs/{}/rerun", encode_component(&run_id));
        let body = json!({
            "protocol_version": protocol::PROTOCOL_VERSION,
            "failed": args.failed,
            "job": args.job,
        });
        let answer: Option<Value> = client.admin_send(Method::POST, &path, &body).await?;
        let Some(answer) = answer else {
            return Err(ClientError::Protocol(
                "rerun answered without a body".into(),
            ));
        };
        if args.json {
            print_json(&answer)?;
        } else {
            let jobs: Vec<&str> = answer["jobs"]
                .as_array()
                .map(|jobs| jobs.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            println!(
                "re-running run #{} as attempt {} (run {}): {}",
                answer["run_number"],
                answer["attempt"],
                answer["run_id"].as_str().unwrap_or_default(),
                jobs.join(", ")
            );
        }
        Ok(exit::SUCCESS)
    })
}

/// Every run, newest first.
pub(crate) async fn list_runs(client: &EngineClient) -> Result<Vec<RunView>, ClientError> {
    client.get("/api/v1/runs").await
}

/// A run and its jobs.
pub(crate) async fn run_detail(
    client: &EngineClient,
    run_id: &str,
) -> Result<RunDetailView, ClientError> {
    client
        .get(&format!("/api/v1/runs/{}", encode_component(run_id)))
        .await
}

/// The run id a RUN argument names, as the engine resolves it; a reference that names no run,
/// or several, is a usage error carrying the engine's message (which lists the candidates).
pub(crate) async fn resolve_run(client: &EngineClient, run: &str) -> Result<String, ClientError> {
    let path = format!("/api/v1/runs/resolve?ref={}", encode_component(run.trim()));
    match client.get::<RunView>(&path).await {
        Ok(view) => Ok(view.run_id),
        Err(ClientError::Refused { status, message })
            if status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST =>
        {
            Err(ClientError::Usage(message))
        }
        Err(error) => Err(error),
    }
}

/// Whether the run is held by an approval: a job waiting at an environment's gate for
/// approvals (the engine's structured `waiting_for`; the reason is for people).
pub(crate) fn waits_for_approval(detail: &RunDetailView) -> bool {
    detail.jobs.iter().any(|job| {
        job.status == "waiting" && job.waiting_for == Some(protocol::wire::WaitingFor::Approval)
    })
}

/// Runner id → name, for showing who ran a job.
pub(crate) async fn runner_names(
    client: &EngineClient,
) -> Result<HashMap<String, String>, ClientError> {
    let runners: Vec<RunnerView> = client.get("/api/v1/runners").await?;
    Ok(runners
        .into_iter()
        .map(|runner| (runner.runner_id, runner.name))
        .collect())
}

/// The JSON of `run-status --json`: the API's view plus the job timestamps under short names.
fn detail_json(
    detail: &RunDetailView,
    runner_names: &HashMap<String, String>,
) -> Result<Value, ClientError> {
    let mut value =
        serde_json::to_value(detail).map_err(|error| ClientError::Protocol(error.to_string()))?;
    if let Some(jobs) = value.get_mut("jobs").and_then(Value::as_array_mut) {
        for (job, view) in jobs.iter_mut().zip(&detail.jobs) {
            if let Some(object) = job.as_object_mut() {
                object.insert("queued_at".into(), json!(view.queued_at_us));
                object.insert("started_at".into(), json!(view.leased_at_us));
                object.insert("finished_at".into(), json!(view.finished_at_us));
                let name = view
                    .runner_id
                    .as_ref()
                    .and_then(|runner_id| runner_names.get(runner_id));
                object.insert("runner_name".into(), json!(name));
            }
        }
    }
    Ok(value)
}

fn print_detail(detail: &RunDetailView, runner_names: &HashMap<String, String>) {
    let run = &detail.run;
    println!(
        "run {} ({} #{}, attempt {})",
        run.run_id,
        run.workflow,
        run.run_number,
        attempt(&run.details)
    );
    if let Some(earlier) = detail_text(&run.details, "rerun_of") {
        println!("re-run of: {earlier}");
    }
    if let Some(later) = detail_text(&run.details, "next_attempt") {
        println!("re-run as: {later}");
    }
    for key in ["waiting_reason", "conclusion_reason"] {
        if let Some(reason) = detail_text(&run.details, key) {
            println!("{}: {reason}", key.replace('_', " "));
        }
    }
    println!(
        "status: {}{}",
        table::state(&run.status, run.conclusion.as_deref()),
        if run.cancel_requested && run.conclusion.is_none() {
            " (cancel requested)"
        } else {
            ""
        }
    );
    let event = detail_text(&run.details, "event");
    let git_ref = detail_text(&run.details, "ref");
    if event.is_some() || git_ref.is_some() {
        println!(
            "event: {}  ref: {}",
            event.unwrap_or_else(|| "-".into()),
            git_ref.unwrap_or_else(|| "-".into())
        );
    }
    // Remote actions pinned when the run was planned (a re-run keeps them).
    if let Some(pinned) = run.details.get("actions").and_then(Value::as_object) {
        for (uses, sha) in pinned {
            println!("action: {uses} = {}", sha.as_str().unwrap_or_default());
        }
    }
    if let Some(missing) = run
        .details
        .get("actions_unavailable")
        .and_then(Value::as_object)
    {
        for (uses, message) in missing {
            println!(
                "action: {uses} unavailable ({})",
                message.as_str().unwrap_or_default()
            );
        }
    }
    println!("created: {}", table::time(run.created_at_us));
    if let Some(finished) = run.finished_at_us {
        println!(
            "finished: {} (took {})",
            table::time(finished),
            table::duration(run.created_at_us, finished)
        );
    }
    println!();
    let rows: Vec<Vec<String>> = detail
        .jobs
        .iter()
        .map(|job| {
            let runner = job.runner_id.as_ref().map_or_else(
                || "-".to_string(),
                |runner_id| {
                    runner_names
                        .get(runner_id)
                        .cloned()
                        .unwrap_or_else(|| runner_id.clone())
                },
            );
            let mut state = table::state(&job.status, job.conclusion.as_deref());
            if let Some(reason) = job.failure_reason.as_ref().or(job.waiting_reason.as_ref()) {
                state = format!("{state} ({reason})");
            }
            vec![
                job.job_key.clone(),
                state,
                runner,
                job.attempt.to_string(),
                table::time(job.queued_at_us),
                job.leased_at_us.map_or_else(|| "-".into(), table::time),
                job.finished_at_us.map_or_else(|| "-".into(), table::time),
            ]
        })
        .collect();
    table::print(
        &[
            "JOB", "STATUS", "RUNNER", "ATTEMPT", "QUEUED", "STARTED", "FINISHED",
        ],
        &rows,
    );
}

/// The run's attempt (1 unless it is a re-run).
fn attempt(details: &Value) -> u64 {
    details.get("attempt").and_then(Value::as_u64).unwrap_or(1)
}

fn detail_text(details: &Value, key: &str) -> Option<String> {
    match details.get(key)? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn detail(details: &Value, key: &str) -> String {
    detail_text(details, key).unwrap_or_else(|| "-".into())
}
