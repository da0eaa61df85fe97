//! The run list (filters, paging, live states) and a run's page (job graph, jobs with their
//! steps, why a job waits, the actions it allows, step summaries).
//!
//! Reads go through `api::reads` (the JSON read API's own functions) and the store; the
//! workflow's `needs` come from the workflow file at the run's commit, read as a re-run reads it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use protocol::wire::{JobView, RunView};
use serde::Deserialize;
use serde_json::Value;

use super::auth::Session;
use super::format::{duration_us, group_state, now_us, short_ref, state_word, time_us};
use super::layout::GraphJob;
use super::{Chrome, UiError, graph, markdown, render};
use crate::api::AppState;
use crate::api::reads::{run_detail, run_view};
use crate::runs::rerun::RunTrigger;
use crate::store::{JobRecord, JobState, RecordKind, RunId, RunRecord, Store};

/// Runs shown per page of the list.
pub(super) const PAGE_SIZE: usize = 50;

/// One run as a row of the list (and the head of its page).
#[derive(Debug, Clone)]
pub(super) struct RunRow {
    pub run_id: String,
    /// The workflow file as recorded (what the workflow filter matches).
    pub workflow: String,
    /// The file's name without `.github/workflows/`, as people call it.
    pub workflow_label: String,
    pub number: u64,
    pub attempt: u64,
    pub repository: String,
    pub branch: String,
    pub event: String,
    pub sha: String,
    pub short_sha: String,
    pub message: String,
    pub actor: String,
    pub state: &'static str,
    pub started: String,
    pub duration: String,
    pub cancel_requested: bool,
}

/// The list's filters (each empty when not set).
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct RunFilters {
    #[serde(default)]
    pub repository: String,
    #[serde(default)]
    pub workflow: String,
    #[serde(default)]
    pub branch: String,
    #[serde(default)]
    pub event: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub page: Option<usize>,
}

impl RunFilters {
    fn keeps(&self, row: &RunRow) -> bool {
        let matches = |wanted: &str, value: &str| wanted.is_empty() || wanted == value;
        matches(&self.repository, &row.repository)
            && matches(&self.workflow, &row.workflow)
            && matches(&self.branch, &row.branch)
            && matches(&self.event, &row.event)
            && matches(&self.status, row.state)
            && matches(&self.actor, &row.actor)
    }

    /// The query string of these filters with page `page`.
    fn query(&self, page: usize) -> String {
        let mut parts = Vec::new();
        for (name, value) in [
            ("repository", &self.repository),
            ("workflow", &self.workflow),
            ("branch", &self.branch),
            ("event", &self.event),
            ("status", &self.status),
            ("actor", &self.actor),
        ] {
            if !value.is_empty() {
                parts.push(format!("{name}={}", super::auth::percent_encode(value)));
            }
        }
        parts.push(format!("page={page}"));
        parts.join("&")
    }
}

/// A filter's choices: the values seen in the runs.
pub(super) struct Choice {
    pub name: &'static str,
    pub label: &'static str,
    pub selected: String,
    pub values: Vec<String>,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsPage {
    chrome: Chrome,
    rows: Vec<RunRow>,
    choices: Vec<Choice>,
    total: usize,
    page: usize,
    previous: Option<String>,
    next: Option<String>,
}

/// `GET /runs`: every run, newest first, filtered and paged.
pub(super) async fn list_page(
    session: Session,
    State(state): State<AppState>,
    Query(filters): Query<RunFilters>,
) -> Result<Response, UiError> {
    let store = state.engine().store().clone();
    let runs = store.runs()?;
    let mut rows: Vec<RunRow> = runs.iter().map(|run| run_row(&run_view(run), "")).collect();
    let mut choices = vec![
        choice(
            "repository",
            "Repository",
            &filters.repository,
            &rows,
            |r| &r.repository,
        ),
        choice("workflow", "Workflow", &filters.workflow, &rows, |r| {
            &r.workflow
        }),
        choice("branch", "Branch", &filters.branch, &rows, |r| &r.branch),
        choice("event", "Event", &filters.event, &rows, |r| &r.event),
        choice("actor", "Actor", &filters.actor, &rows, |r| &r.actor),
    ];
    choices.push(Choice {
        name: "status",
        label: "Status",
        selected: filters.status.clone(),
        values: [
            "success",
            "failure",
            "cancelled",
            "skipped",
            "running",
            "queued",
            "waiting",
        ]
        .map(String::from)
        .to_vec(),
    });
    rows.retain(|row| filters.keeps(row));
    let total = rows.len();
    let page = filters.page.unwrap_or(1).max(1);
    let rows: Vec<RunRow> = rows
        .into_iter()
        .skip((page - 1) * PAGE_SIZE)
        .take(PAGE_SIZE)
        .collect();
    let rows = with_messages(&store, &runs, rows).await;
    Ok(render(&RunsPage {
        chrome: Chrome::new("Runs", "runs", &session),
        previous: (page > 1).then(|| filters.query(page - 1)),
        next: (page * PAGE_SIZE < total).then(|| filters.query(page + 1)),
        rows,
        choices,
        total,
        page,
    }))
}

fn choice(
    name: &'static str,
    label: &'static str,
    selected: &str,
    rows: &[RunRow],
    field: impl Fn(&RunRow) -> &String,
) -> Choice {
    let mut values: Vec<String> = rows
        .iter()
        .map(|row| field(row).clone())
        .filter(|value| !value.is_empty())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    values.sort();
    Choice {
        name,
        label,
        selected: selected.to_string(),
        values,
    }
}

/// A run as a row; `message` is the commit's summary when known.
pub(super) fn run_row(run: &RunView, message: &str) -> RunRow {
    let text = |key: &str| {
        run.details
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let sha = text("sha");
    RunRow {
        run_id: run.run_id.clone(),
        workflow: run.workflow.clone(),
        workflow_label: run
            .workflow
            .strip_prefix(".github/workflows/")
            .unwrap_or(&run.workflow)
            .to_string(),
        number: run.run_number,
        attempt: run
            .details
            .get("attempt")
            .and_then(Value::as_u64)
            .unwrap_or(1),
        repository: text("repository"),
        branch: short_ref(&text("ref")).to_string(),
        event: text("event"),
        short_sha: sha.chars().take(8).collect(),
        sha,
        message: message.to_string(),
        actor: text("actor"),
        state: state_word(&run.status, run.conclusion.as_deref()),
        started: time_us(run.created_at_us),
        duration: duration_us(run.created_at_us, run.finished_at_us, now_us()),
        cancel_requested: run.cancel_requested,
    }
}

/// Fills in the commit summaries of `rows` (read with git at the run's commit, cached by sha).
async fn with_messages(
    store: &Arc<Store>,
    runs: &[RunRecord],
    mut rows: Vec<RunRow>,
) -> Vec<RunRow> {
    let wanted: Vec<(String, String)> = rows
        .iter()
        .filter(|row| !row.sha.is_empty())
        .filter_map(|row| {
            let run = runs
                .iter()
                .find(|run| run.run_id.to_string() == row.run_id)?;
            let repository = trigger_of(store, run)?.repository;
            Some((row.sha.clone(), repository.to_string_lossy().into_owned()))
        })
        .collect();
    let found = tokio::task::spawn_blocking(move || commit_summaries(&wanted))
        .await
        .unwrap_or_default();
    for row in &mut rows {
        if let Some(message) = found.get(&row.sha) {
            row.message = message.clone();
        }
    }
    rows
}

/// What started `run`, with a watched repository's name replaced by its mirror's path (a run
/// dispatched by name records the name).
fn trigger_of(store: &Store, run: &RunRecord) -> Option<RunTrigger> {
    let mut trigger = match store.record(RecordKind::RunTriggers, &run.run_id.to_string()) {
        Ok(Some(trigger)) => trigger,
        _ => crate::runs::rerun::trigger_from_details(&run.workflow, &run.details),
    };
    if !trigger.repository.exists() {
        let name = trigger.repository.display().to_string();
        let watched = store
            .repos()
            .ok()?
            .into_iter()
            .find(|repo| repo.name == name)?;
        trigger.repository = std::path::PathBuf::from(watched.mirror_path);
    }
    Some(trigger)
}

/// Commit summaries by sha (first line of the message), read once per sha and kept.
fn commit_summaries(wanted: &[(String, String)]) -> HashMap<String, String> {
    static CACHE: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut found = HashMap::new();
    for (sha, repository) in wanted {
        if let Some(summary) = cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(sha)
        {
            found.insert(sha.clone(), summary.clone());
            continue;
        }
        let summary = git2::Repository::open(repository).ok().and_then(|repo| {
            let oid = git2::Oid::from_str(sha).ok()?;
            let commit = repo.find_commit(oid).ok()?;
            commit.summary().ok().flatten().map(str::to_string)
        });
        if let Some(summary) = summary {
            let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(sha.clone(), summary.clone());
            found.insert(sha.clone(), summary);
        }
    }
    found
}

/// One leg of a job (a matrix job has several).
pub(super) struct LegRow {
    pub key: String,
    pub name: String,
    pub state: &'static str,
    pub status_text: String,
    pub waiting_reason: Option<String>,
    pub failure_reason: Option<String>,
    pub duration: String,
    pub runner: String,
    pub steps: Vec<(String, &'static str)>,
    pub log_url: String,
    /// The environment whose gate a waiting job is held at (approve/reject then apply).
    pub gate: Option<String>,
    /// Where the form that cancels this job alone posts (a job not concluded nor cancelling).
    pub cancel_url: Option<String>,
}

/// A job of the workflow and its legs.
pub(super) struct JobGroup {
    pub id: String,
    pub name: String,
    pub state: &'static str,
    pub legs: Vec<LegRow>,
    pub pending_reason: Option<String>,
}

/// A step summary rendered from Markdown.
pub(super) struct Summary {
    pub job: String,
    pub html: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    chrome: Chrome,
    run: RunRow,
    svg: String,
    graph_note: Option<String>,
    jobs: Vec<JobGroup>,
    summaries: Vec<Summary>,
    diagnostics: Vec<String>,
    reasons: Vec<String>,
    completed: bool,
    any_failed: bool,
    rerun_of: Option<String>,
    next_attempt: Option<String>,
}

/// `GET /runs/{run_id}`.
pub(super) async fn run_page(
    session: Session,
    State(state): State<AppState>,
    Path(run_id): Path<String>,
) -> Result<Response, UiError> {
    let run_id = crate::api::reads::resolve_run_id(state.engine().store(), &run_id)?;
    let store = state.engine().store().clone();
    let detail = run_detail(&store, run_id)?;
    let records = store.jobs_of_run(run_id)?;
    let record = store
        .run(run_id)?
        .ok_or_else(|| UiError::not_found(format!("find run {run_id}")))?;
    let rows = with_messages(
        &store,
        std::slice::from_ref(&record),
        vec![run_row(&detail.run, "")],
    )
    .await;
    let run = rows
        .into_iter()
        .next()
        .unwrap_or_else(|| run_row(&detail.run, ""));
    let (workflow_jobs, graph_note) = match workflow_jobs(&store, &record).await {
        Ok(jobs) => (jobs, None),
        Err(note) => (jobs_from_records(&records), Some(note)),
    };
    let groups = job_groups(run_id, &workflow_jobs, &detail.jobs, &records);
    let svg = graph::svg(&workflow_jobs, &groups, &run.run_id);
    let summaries = detail
        .jobs
        .iter()
        .filter_map(|job| {
            let summary = &job.result.as_ref()?.summary;
            (!summary.trim().is_empty()).then(|| Summary {
                job: job.display_name.clone(),
                html: markdown::render(summary),
            })
        })
        .collect();
    let strings = |key: &str| -> Vec<String> {
        match detail.run.details.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map_or_else(|| item.to_string(), str::to_string)
                })
                .collect(),
            Some(Value::String(text)) => vec![text.clone()],
            _ => Vec::new(),
        }
    };
    let text = |key: &str| {
        detail
            .run
            .details
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut reasons = strings("conclusion_reason");
    reasons.extend(strings("waiting_reason"));
    let completed = detail.run.status == "completed";
    let any_failed = groups
        .iter()
        .any(|group| matches!(group.state, "failure" | "cancelled"));
    Ok(render(&RunPage {
        chrome: Chrome::new(
            format!("{} #{}", run.workflow_label, run.number),
            "runs",
            &session,
        ),
        run,
        svg,
        graph_note,
        jobs: groups,
        summaries,
        diagnostics: strings("diagnostics"),
        reasons,
        completed,
        any_failed,
        rerun_of: text("rerun_of"),
        next_attempt: text("next_attempt"),
    }))
}

/// The workflow's jobs and their `needs`, read at the run's commit (cached per run).
async fn workflow_jobs(store: &Arc<Store>, run: &RunRecord) -> Result<Vec<GraphJob>, String> {
    static CACHE: OnceLock<Mutex<HashMap<RunId, Vec<GraphJob>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(jobs) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&run.run_id)
    {
        return Ok(jobs.clone());
    }
    let trigger = trigger_of(store, run).ok_or("the run's trigger is not recorded")?;
    let (_, workflow) = crate::runs::rerun::read_workflow(&trigger)
        .await
        .map_err(|error| format!("dependencies are not shown: {error}"))?;
    let jobs: Vec<GraphJob> = workflow
        .jobs
        .iter()
        .map(|(id, job)| GraphJob {
            id: id.clone(),
            needs: job.needs.iter().map(|need| need.value.clone()).collect(),
        })
        .collect();
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() > 1_000 {
        cache.clear();
    }
    cache.insert(run.run_id, jobs.clone());
    Ok(jobs)
}

/// Without the workflow: the jobs that exist, no edges (none is implied).
fn jobs_from_records(records: &[JobRecord]) -> Vec<GraphJob> {
    let mut jobs: Vec<GraphJob> = Vec::new();
    for record in records {
        if !jobs.iter().any(|job| job.id == record.spec.job_id) {
            jobs.push(GraphJob {
                id: record.spec.job_id.clone(),
                needs: Vec::new(),
            });
        }
    }
    jobs
}

fn job_groups(
    run_id: RunId,
    workflow_jobs: &[GraphJob],
    views: &[JobView],
    records: &[JobRecord],
) -> Vec<JobGroup> {
    let now = now_us();
    workflow_jobs
        .iter()
        .map(|job| {
            let legs: Vec<LegRow> = records
                .iter()
                .filter(|record| record.spec.job_id.eq_ignore_ascii_case(&job.id))
                .filter_map(|record| {
                    let view = views.iter().find(|view| view.job_key == record.job_key)?;
                    Some(leg_row(run_id, record, view, now))
                })
                .collect();
            let states: Vec<&'static str> = legs.iter().map(|leg| leg.state).collect();
            let name = match legs.as_slice() {
                [only] => only.name.clone(),
                [] => job.id.clone(),
                [first, ..] => first.name.split(" (").next().unwrap_or(&job.id).to_string(),
            };
            JobGroup {
                id: job.id.clone(),
                name,
                state: group_state(&states),
                pending_reason: (legs.is_empty() && !job.needs.is_empty())
                    .then(|| format!("waits for {}", job.needs.join(", "))),
                legs,
            }
        })
        .collect()
}

fn leg_row(run_id: RunId, record: &JobRecord, view: &JobView, now: u64) -> LegRow {
    let state = state_word(&view.status, view.conclusion.as_deref());
    let duration = match view.leased_at_us {
        Some(start) => duration_us(start, view.finished_at_us, now),
        None => String::new(),
    };
    LegRow {
        key: view.job_key.clone(),
        name: view.display_name.clone(),
        state,
        status_text: match (&view.conclusion, view.cancel_requested) {
            (Some(conclusion), _) => conclusion.clone(),
            (None, true) => "cancelling".to_string(),
            (None, false) => view.status.replace('_', " "),
        },
        waiting_reason: view.waiting_reason.clone(),
        failure_reason: view.failure_reason.clone(),
        duration,
        runner: view.runner_id.clone().unwrap_or_default(),
        steps: view
            .steps
            .iter()
            .map(|step| {
                let word = match step.status.as_str() {
                    "in_progress" => "running",
                    done => state_word("completed", Some(done)),
                };
                (step.name.clone(), word)
            })
            .collect(),
        log_url: format!(
            "/runs/{run_id}/jobs/{}",
            super::auth::path_segment(&view.job_key)
        ),
        gate: (record.state == JobState::Waiting)
            .then(|| record.spec.environment.as_ref().map(|env| env.name.clone()))
            .flatten(),
        cancel_url: (record.state != JobState::Completed && !record.cancel_requested).then(|| {
            format!(
                "/runs/{run_id}/jobs/{}/cancel",
                super::auth::path_segment(&view.job_key)
            )
        }),
    }
}
