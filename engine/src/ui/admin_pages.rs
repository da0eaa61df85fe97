//! The pages beside runs: environments (what is deployed beside what is released to whom, the
//! lane, freezes, protection, history with approve/reject, the audit trail), releases (promote,
//! withdraw, notes), the release calendar (every plan's stages in time order), runners (labels, capacity, busy or idle, last contact, the jobs they hold; a
//! registration token), repositories (watched repositories and their next cron fires).
//!
//! Each reads through the service the JSON API's handler uses; nested records the page does not
//! lay out field by field are shown by `json_html`, which escapes every key and value.

use std::fmt::Write as _;

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use protocol::environments as wire;
use serde::Serialize;
use serde_json::Value;

use super::ansi::escape_into;
use super::auth::Session;
use super::format::{now_us, time_us};
use super::{Chrome, UiError, render};
use crate::api::{ApiError, AppState};
use crate::store::JobState;

/// A deployment as a row of an environment's history.
struct DeploymentRow {
    id: String,
    version: String,
    status: String,
    strategy: String,
    by: String,
    approvals: String,
    created: String,
    finished: String,
    run_id: String,
    job_key: String,
    is_rollback: bool,
    waiting: bool,
    reason: String,
}

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    reason: String,
}

struct EnvironmentSection {
    name: String,
    protection: String,
    freezes: Vec<String>,
    lane_state: String,
    lane: Vec<String>,
    status_html: String,
    deployments: Vec<DeploymentRow>,
    audit: Vec<AuditRow>,
}

#[derive(Template)]
#[template(path = "environments.html")]
struct EnvironmentsPage {
    chrome: Chrome,
    environments: Vec<EnvironmentSection>,
}

/// `GET /environments`.
pub(super) async fn environments_page(
    session: Session,
    State(state): State<AppState>,
) -> Result<Response, UiError> {
    let service = state.orchestrator().deployments().clone();
    let views = state
        .releases()
        .environment_views(None)
        .map_err(|e| UiError::from(ApiError::from(e)))?;
    let mut sections = Vec::new();
    let api = |e: crate::deploy::DeployError| UiError::from(ApiError::from(e));
    for environment in service.environments().map_err(api)? {
        let view = service.environment_view(&environment.name).map_err(api)?;
        let env: wire::Environment = view.environment.into();
        let lane: wire::Lane = view.lane.into();
        let protection = &env.protection;
        let approvers: Vec<String> = protection
            .approvers
            .iter()
            .map(|approver| match approver {
                wire::Approver::User(name) => name.clone(),
                wire::Approver::Group(name) => format!("@{name}"),
            })
            .collect();
        let mut rules = Vec::new();
        if protection.required_approvals > 0 {
            rules.push(format!(
                "{} approval(s) from {}",
                protection.required_approvals,
                approvers.join(", ")
            ));
        }
        if protection.wait_seconds > 0 {
            rules.push(format!("wait {} s", protection.wait_seconds));
        }
        if !protection.branches.is_empty() {
            rules.push(format!("branches {}", protection.branches.join(", ")));
        }
        if !protection.tags.is_empty() {
            rules.push(format!("tags {}", protection.tags.join(", ")));
        }
        let entry = |entry: &wire::LaneEntry| {
            format!(
                "{}{} (run {})",
                entry.version.tag.clone().unwrap_or_else(|| entry
                    .version
                    .sha
                    .chars()
                    .take(8)
                    .collect()),
                if entry.is_rollback { ", rollback" } else { "" },
                entry.run_id.clone().unwrap_or_default()
            )
        };
        let mut lane_lines = Vec::new();
        if let Some(current) = &lane.in_progress {
            lane_lines.push(format!("deploying: {}", entry(current)));
        }
        for (position, queued) in lane.queue.iter().enumerate() {
            lane_lines.push(format!("{}. {}", position + 1, entry(queued)));
        }
        let status_html = json_html(
            &serde_json::to_value(
                views
                    .iter()
                    .filter(|v| v.environment == env.name)
                    .collect::<Vec<_>>(),
            )
            .unwrap_or(Value::Null),
        );
        let mut deployments: Vec<DeploymentRow> = service
            .deployments(Some(&env.name))
            .map_err(api)?
            .into_iter()
            .map(|record| {
                let d: wire::Deployment = record.into();
                let status = serde_json::to_value(d.status)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                DeploymentRow {
                    id: d.id.chars().take(12).collect(),
                    version: d
                        .version
                        .tag
                        .clone()
                        .unwrap_or_else(|| d.version.sha.chars().take(8).collect()),
                    waiting: status == "waiting" || status == "queued",
                    status,
                    strategy: serde_json::to_value(d.strategy)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    by: d.triggered_by.clone(),
                    approvals: d
                        .approvals
                        .iter()
                        .map(|a| {
                            format!(
                                "{} {}{}",
                                a.approver,
                                serde_json::to_value(a.decision)
                                    .ok()
                                    .and_then(|v| v.as_str().map(str::to_string))
                                    .unwrap_or_default(),
                                a.comment
                                    .as_ref()
                                    .map(|c| format!(": {c}"))
                                    .unwrap_or_default()
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    created: d.created_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                    finished: d
                        .finished_at
                        .map(|at| at.strftime("%Y-%m-%d %H:%M:%S").to_string())
                        .unwrap_or_default(),
                    run_id: d.run_id.clone().unwrap_or_default(),
                    job_key: d.job_key.clone().unwrap_or_default(),
                    is_rollback: d.is_rollback,
                    reason: d.status_reason.clone().unwrap_or_default(),
                }
            })
            .collect();
        deployments.reverse();
        let mut audit: Vec<AuditRow> = service
            .audit(Some(&env.name))
            .map_err(api)?
            .into_iter()
            .map(|entry| {
                let entry: wire::AuditEntry = entry.into();
                AuditRow {
                    at: entry.at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                    actor: entry.actor,
                    action: entry.action.as_str().to_string(),
                    reason: entry.reason,
                }
            })
            .collect();
        audit.reverse();
        audit.truncate(100);
        sections.push(EnvironmentSection {
            name: env.name.clone(),
            protection: if rules.is_empty() {
                "unprotected".to_string()
            } else {
                rules.join(" · ")
            },
            freezes: env.freeze_windows.clone(),
            lane_state: view.lane_state.clone(),
            lane: lane_lines,
            status_html,
            deployments,
            audit,
        });
    }
    Ok(render(&EnvironmentsPage {
        chrome: Chrome::new("Environments", "environments", &session),
        environments: sections,
    }))
}

struct ReleaseRow {
    tag: String,
    /// The watched repository's name (what the forms send).
    repo: String,
    name: String,
    repository: String,
    sha: String,
    created: String,
    by: String,
    rollouts_html: String,
    pending_html: String,
    history_html: String,
    /// `major`, `minor`, `patch`, `emergency` (emergency is flagged on the page).
    category: String,
    plans_html: String,
    /// The release notes (Markdown), rendered and sanitised.
    notes_html: String,
}

/// One line of a dry run: how many of the given targeting keys an audience reaches.
struct ReachRow {
    environment: String,
    stage: String,
    audience: String,
    explanation: String,
    reached: usize,
    of: usize,
}

#[derive(Template)]
#[template(path = "releases.html")]
struct ReleasesPage {
    chrome: Chrome,
    releases: Vec<ReleaseRow>,
    environments: Vec<String>,
    /// The release a dry run was asked for, and its lines.
    reach_tag: String,
    reach: Vec<ReachRow>,
}

/// `GET /releases`.
pub(super) async fn releases_page(
    session: Session,
    State(state): State<AppState>,
) -> Result<Response, UiError> {
    releases_with_reach(&session, &state, String::new(), Vec::new())
}

/// `POST /releases/{tag}/reach`: the releases page with a dry run of `tag` over the targeting
/// keys typed in (one per line, `KEY` or `KEY TIER`), as `slipway release show --keys` does.
pub(crate) async fn reach_page(
    session: Session,
    State(state): State<AppState>,
    axum::extract::Path(tag): axum::extract::Path<String>,
    axum::Form(form): axum::Form<ReachForm>,
) -> Result<Response, UiError> {
    session.check_csrf(&form.csrf)?;
    let keys: Vec<String> = form
        .keys
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    let lines = state
        .releases()
        .reach(
            &tag,
            Some(form.repo.as_str()).filter(|repo| !repo.is_empty()),
            &keys,
        )
        .map_err(|e| UiError::from(ApiError::from(e)))?;
    let rows = lines
        .into_iter()
        .map(|line| ReachRow {
            environment: line.environment,
            stage: line.stage,
            audience: line.audience,
            explanation: line.explanation,
            reached: line.reached,
            of: line.of,
        })
        .collect();
    releases_with_reach(&session, &state, tag, rows)
}

/// The dry-run form's fields.
#[derive(serde::Deserialize)]
pub(crate) struct ReachForm {
    csrf: String,
    #[serde(default)]
    repo: String,
    #[serde(default)]
    keys: String,
}

fn releases_with_reach(
    session: &Session,
    state: &AppState,
    reach_tag: String,
    reach: Vec<ReachRow>,
) -> Result<Response, UiError> {
    let releases = state
        .releases()
        .list(None)
        .map_err(|e| UiError::from(ApiError::from(e)))?;
    let environments = state
        .orchestrator()
        .deployments()
        .environments()
        .map_err(|e| UiError::from(ApiError::from(e)))?
        .into_iter()
        .map(|env| env.name)
        .collect();
    // Forms name the repository as it is watched; a release records `owner/name`.
    let watched = state
        .repos()
        .list()
        .map_err(|e| UiError::from(ApiError::from(e)))?;
    let rows = releases
        .into_iter()
        .map(|release| ReleaseRow {
            repo: watched
                .iter()
                .find(|repo| repo.github_repository == release.repository)
                .map(|repo| repo.name.clone())
                .unwrap_or_default(),
            rollouts_html: json_of(&release.rollouts),
            pending_html: json_of(&release.pending),
            history_html: json_of(&release.history),
            category: release.category.to_string(),
            plans_html: json_of(&release.plans),
            notes_html: super::markdown::render(&release.notes),
            tag: release.tag,
            name: release.name,
            repository: release.repository,
            sha: release.sha.chars().take(8).collect(),
            created: release.created_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
            by: release.created_by,
        })
        .collect();
    Ok(render(&ReleasesPage {
        chrome: Chrome::new("Releases", "releases", session),
        releases: rows,
        environments,
        reach_tag,
        reach,
    }))
}

/// One planned stage of the release calendar.
struct CalendarRow {
    when: String,
    repository: String,
    tag: String,
    category: String,
    environment: String,
    audience: String,
    /// `done`, `skipped`, `due`, `planned`, or the plan's state (`paused`, `halted`).
    status: String,
    /// Why the due stage waits, when it does.
    waiting: String,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    chrome: Chrome,
    rows: Vec<CalendarRow>,
}

/// `GET /releases/calendar`: every plan's stages across repositories, in time order (what
/// `slipway releases --calendar` prints), with each stage's status on the engine's clock.
pub(crate) async fn calendar_page(
    session: Session,
    State(state): State<AppState>,
) -> Result<Response, UiError> {
    let releases = state
        .releases()
        .list(None)
        .map_err(|e| UiError::from(ApiError::from(e)))?;
    let now = state.engine().config().clock.now();
    let mut stages = Vec::new();
    for release in &releases {
        for (environment, plan) in &release.plans {
            for (index, stage) in plan.stages.iter().enumerate() {
                let status = plan.stage_status(index, now);
                stages.push((
                    stage.at,
                    CalendarRow {
                        when: stage.at.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
                        repository: release.repository.clone(),
                        tag: release.tag.clone(),
                        category: release.category.to_string(),
                        environment: environment.clone(),
                        audience: stage.audience.to_string(),
                        status: status.to_string(),
                        waiting: if status == "due" {
                            plan.waiting.clone().unwrap_or_default()
                        } else {
                            String::new()
                        },
                    },
                ));
            }
        }
    }
    stages.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| a.1.repository.cmp(&b.1.repository))
            .then_with(|| a.1.tag.cmp(&b.1.tag))
    });
    Ok(render(&CalendarPage {
        chrome: Chrome::new("Release calendar", "calendar", &session),
        rows: stages.into_iter().map(|(_, row)| row).collect(),
    }))
}

struct RunnerRow {
    id: String,
    name: String,
    labels: String,
    capacity: u32,
    busy: usize,
    last_seen: String,
    jobs: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "runners.html")]
struct RunnersPage {
    chrome: Chrome,
    runners: Vec<RunnerRow>,
}

/// `GET /runners`.
pub(super) async fn runners_page(
    session: Session,
    State(state): State<AppState>,
) -> Result<Response, UiError> {
    let store = state.engine().store();
    let runners = store.runners()?;
    // The jobs each runner holds: leased jobs of unfinished runs.
    let mut held: Vec<(String, String, String, String)> = Vec::new();
    for run in store
        .runs()?
        .iter()
        .filter(|run| run.finished_at_us.is_none())
    {
        for job in store.jobs_of_run(run.run_id)? {
            if job.state == JobState::Leased
                && let Some(runner) = job.runner_id
            {
                held.push((
                    runner.to_string(),
                    run.run_id.to_string(),
                    super::auth::path_segment(&job.job_key),
                    job.spec.display_name.clone(),
                ));
            }
        }
    }
    let now = now_us();
    let rows = runners
        .iter()
        .map(|runner| {
            let view = crate::api::reads::runner_view(runner);
            let jobs: Vec<(String, String, String)> = held
                .iter()
                .filter(|(id, ..)| *id == view.runner_id)
                .map(|(_, run, key, name)| (run.clone(), key.clone(), name.clone()))
                .collect();
            RunnerRow {
                busy: jobs.len(),
                last_seen: view
                    .last_seen_at_us
                    .map(|at| {
                        format!(
                            "{} ({} ago)",
                            time_us(at),
                            super::format::duration_us(at, Some(now), now)
                        )
                    })
                    .unwrap_or_else(|| "never".to_string()),
                id: view.runner_id,
                name: view.name,
                labels: view.labels.join(", "),
                capacity: view.capacity,
                jobs,
            }
        })
        .collect();
    Ok(render(&RunnersPage {
        chrome: Chrome::new("Runners", "runners", &session),
        runners: rows,
    }))
}

#[derive(Template)]
#[template(path = "repositories.html")]
struct RepositoriesPage {
    chrome: Chrome,
    repositories: Vec<crate::repos::RepoView>,
    schedules: Vec<crate::repos::ScheduleView>,
}

/// `GET /repositories`.
pub(super) async fn repositories_page(
    session: Session,
    State(state): State<AppState>,
) -> Result<Response, UiError> {
    let repositories = state
        .repos()
        .list()
        .map_err(|e| UiError::from(ApiError::from(e)))?;
    let schedules = state
        .repos()
        .schedules(jiff::Timestamp::now())
        .await
        .map_err(|e| UiError::from(ApiError::from(e)))?;
    Ok(render(&RepositoriesPage {
        chrome: Chrome::new("Repositories", "repositories", &session),
        repositories,
        schedules,
    }))
}

fn json_of(value: &impl Serialize) -> String {
    json_html(&serde_json::to_value(value).unwrap_or(Value::Null))
}

/// A JSON value as nested definition lists and lists; every key and value escaped.
pub(super) fn json_html(value: &Value) -> String {
    let mut html = String::new();
    write_json(&mut html, value);
    html
}

fn write_json(html: &mut String, value: &Value) {
    match value {
        Value::Null => html.push('—'),
        Value::Object(map) if map.is_empty() => html.push('—'),
        Value::Array(items) if items.is_empty() => html.push('—'),
        Value::Object(map) => {
            html.push_str("<dl class=\"kv\">");
            for (key, item) in map {
                html.push_str("<dt>");
                escape_into(html, key);
                html.push_str("</dt><dd>");
                write_json(html, item);
                html.push_str("</dd>");
            }
            html.push_str("</dl>");
        }
        Value::Array(items) => {
            html.push_str("<ol class=\"kv\">");
            for item in items {
                html.push_str("<li>");
                write_json(html, item);
                html.push_str("</li>");
            }
            html.push_str("</ol>");
        }
        Value::String(text) => escape_into(html, text),
        other => {
            let _ = write!(html, "{other}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_escaped() {
        let html = json_html(&serde_json::json!({"<k>": ["<script>", 1, null]}));
        assert!(
            !html.contains("<script>") && !html.contains("<k>"),
            "{html}"
        );
        assert!(html.contains("&lt;script&gt;"));
    }
}
