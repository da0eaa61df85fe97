//! `slipway release …`, `slipway releases` and the environments view (`env status`): releases
//! over the engine's HTTP API. The person acting is the user of the token the command sends
//! (`--token`/`SLIPWAY_TOKEN`), authenticated by the engine.
//!
//! This file must not decide anything about releases: it sends requests and prints answers.

use std::path::PathBuf;

use deploy::{EnvironmentView, Release};
use protocol::environments::Decision;
use protocol::releases::{
    ApproveReleaseRequest, CreateReleaseRequest, PlanControlRequest, PlanReleaseRequest,
    PromoteReleaseRequest, ReachRequest, ReleaseNotesRequest, ReleasePolicyRequest,
    WithdrawReleaseRequest,
};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::{ClientError, EngineArgs, EngineClient, block_on, encode_component, print_json, table};
use crate::exit;

#[derive(Debug, clap::Args)]
pub(crate) struct ReleaseArgs {
    #[command(subcommand)]
    pub command: ReleaseCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum ReleaseCommand {
    /// Create a release of a tag (available to no one until promoted)
    Create {
        /// The release's tag
        tag: String,
        /// A file holding the release notes
        #[arg(long)]
        notes: Option<PathBuf>,
        /// The release title (default: the tag)
        #[arg(long)]
        name: Option<String>,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// `major`, `minor` (default), `patch` or `emergency`: which release policy it follows
        #[arg(long)]
        category: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Release to an audience in an environment where that version is deployed
    Promote {
        /// The release's tag
        tag: String,
        /// The environment
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        /// `all`, a percentage (`10%`) or a tier (`tier:premium`)
        #[arg(long)]
        audience: String,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Approve a promotion that waits for approval (it goes ahead once enough approvals are in)
    Approve {
        /// The release's tag
        tag: String,
        /// The environment
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        /// A comment kept with the approval in the audit log
        #[arg(long)]
        comment: Option<String>,
        /// Reject the promotion instead
        #[arg(long)]
        reject: bool,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Take a release away from an environment's users (no redeploy)
    Withdraw {
        /// The release's tag
        tag: String,
        /// The environment
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        /// Why, kept in the audit log
        #[arg(long)]
        reason: Option<String>,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Delete a release that is released nowhere
    Delete {
        /// The release's tag
        tag: String,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Plan a release's stages in an environment; the engine gives each when due and allowed
    Plan {
        /// The release's tag
        tag: String,
        /// The environment
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        /// `AUDIENCE@WHEN`, in order: `10%@2026-12-07T09:00Z`, `50%@+2d`, `all@+4d`, `tier:premium@now`
        #[arg(long = "stage", value_name = "STAGE", required = true)]
        stages: Vec<String>,
        /// A workflow that must succeed before each stage is given (`workflow:canary.yml`,
        /// dispatched at the release's tag; a failure holds the stage and is tried again)
        #[arg(long, value_name = "CHECK")]
        check: Option<String>,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Pause a release's plan (no further stage is given until resumed)
    Pause {
        /// The release's tag
        tag: String,
        /// The environment
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Resume a paused plan
    Resume {
        /// The release's tag
        tag: String,
        /// The environment
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Halt a plan for good: the release stays at the last stage given, or goes to nobody
    Halt {
        /// The release's tag
        tag: String,
        /// The environment
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        /// Withdraw the release from the environment too
        #[arg(long)]
        to_nobody: bool,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Print a release's notes, or replace them with a file's text (`--edit-file`)
    Notes {
        /// The release's tag
        tag: String,
        /// Replace the notes with this file's text
        #[arg(long, value_name = "FILE")]
        edit_file: Option<PathBuf>,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Set one category's release policy in an environment (approvals, wait, allowed windows)
    Policy {
        /// The environment
        environment: String,
        /// `major`, `minor`, `patch` or `emergency`
        category: String,
        /// Approvals required (emergency releases need at least one)
        #[arg(long, default_value_t = 0)]
        approvals: u32,
        /// Who may approve: logins and `@groups`, comma separated
        #[arg(long, value_delimiter = ',')]
        approvers: Vec<String>,
        /// Wait timer (`30m`, `2h`); emergency releases never wait
        #[arg(long)]
        wait: Option<String>,
        /// A window such releases may go out in (freeze-window syntax: `Tue 09:00-16:00 UTC`); repeatable
        #[arg(long = "window", value_name = "WINDOW")]
        windows: Vec<String>,
        /// Remove the category's policy (it follows the environment's release protection)
        #[arg(long)]
        clear: bool,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a release: where it is released, what waits, its history
    Show {
        /// The release's tag
        tag: String,
        /// The watched repository (default: the only one)
        #[arg(long)]
        repo: Option<String>,
        /// A dry run: how many of these targeting keys (one per line, `KEY` or `KEY TIER`) the
        /// current audience and each plan stage reach
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ReleasesArgs {
    /// Only this watched repository's releases
    #[arg(long)]
    pub repo: Option<String>,
    /// What the release plans give when, across repositories, in time order
    #[arg(long)]
    pub calendar: bool,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub(crate) fn release(args: &ReleaseArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            ReleaseCommand::Create {
                tag,
                notes,
                name,
                repo,
                category,
                json,
            } => {
                let notes = match notes {
                    Some(path) => Some(std::fs::read_to_string(path).map_err(|error| {
                        ClientError::Usage(format!("--notes: read {}: {error}", path.display()))
                    })?),
                    None => None,
                };
                let body = CreateReleaseRequest {
                    protocol_version: None,
                    tag: tag.clone(),
                    repo: repo.clone(),
                    name: name.clone(),
                    notes,
                    category: category.clone(),
                };
                let change = send(&client, Method::POST, "/api/v1/releases", &body).await?;
                report(&change, *json)
            }
            ReleaseCommand::Promote {
                tag,
                environment,
                audience,
                repo,
                json,
            } => {
                let body = PromoteReleaseRequest {
                    protocol_version: None,
                    repo: repo.clone(),
                    environment: environment.clone(),
                    audience: audience.clone(),
                };
                let change = send(&client, Method::POST, &path(tag, "/promote"), &body).await?;
                report(&change, *json)
            }
            ReleaseCommand::Approve {
                tag,
                environment,
                comment,
                reject,
                repo,
                json,
            } => {
                let body = ApproveReleaseRequest {
                    protocol_version: None,
                    repo: repo.clone(),
                    environment: environment.clone(),
                    comment: comment.clone(),
                    decision: Some(if *reject {
                        Decision::Reject
                    } else {
                        Decision::Approve
                    }),
                };
                let change = send(&client, Method::POST, &path(tag, "/approve"), &body).await?;
                report(&change, *json)
            }
            ReleaseCommand::Withdraw {
                tag,
                environment,
                reason,
                repo,
                json,
            } => {
                let body = WithdrawReleaseRequest {
                    protocol_version: None,
                    repo: repo.clone(),
                    environment: environment.clone(),
                    reason: reason.clone(),
                };
                let change = send(&client, Method::POST, &path(tag, "/withdraw"), &body).await?;
                report(&change, *json)
            }
            ReleaseCommand::Delete { tag, repo, json } => {
                let query = match repo {
                    Some(repo) => format!("?repo={}", encode_component(repo)),
                    None => String::new(),
                };
                let change = send(
                    &client,
                    Method::DELETE,
                    &format!("{}{query}", path(tag, "")),
                    &json!({}),
                )
                .await?;
                report(&change, *json)
            }
            ReleaseCommand::Plan {
                tag,
                environment,
                stages,
                check,
                repo,
                json,
            } => {
                let body = PlanReleaseRequest {
                    protocol_version: None,
                    repo: repo.clone(),
                    environment: environment.clone(),
                    stages: stages.clone(),
                    check: check.clone(),
                };
                let change = send(&client, Method::POST, &path(tag, "/plan"), &body).await?;
                report(&change, *json)
            }
            ReleaseCommand::Pause {
                tag,
                environment,
                repo,
                json,
            } => control(&client, tag, "pause", environment, repo, false, *json).await,
            ReleaseCommand::Resume {
                tag,
                environment,
                repo,
                json,
            } => control(&client, tag, "resume", environment, repo, false, *json).await,
            ReleaseCommand::Halt {
                tag,
                environment,
                to_nobody,
                repo,
                json,
            } => control(&client, tag, "halt", environment, repo, *to_nobody, *json).await,
            ReleaseCommand::Notes {
                tag,
                edit_file,
                repo,
                json,
            } => {
                let Some(file) = edit_file else {
                    let release: Value = client
                        .admin_get(&format!("{}{}", path(tag, ""), repo_query(repo.as_deref())))
                        .await?;
                    print!("{}", release["notes"].as_str().unwrap_or_default());
                    return Ok(exit::SUCCESS);
                };
                let notes = std::fs::read_to_string(file).map_err(|error| {
                    ClientError::Usage(format!("--edit-file: read {}: {error}", file.display()))
                })?;
                let body = ReleaseNotesRequest {
                    protocol_version: None,
                    repo: repo.clone(),
                    notes,
                };
                let change = send(&client, Method::PUT, &path(tag, "/notes"), &body).await?;
                report(&change, *json)
            }
            ReleaseCommand::Policy {
                environment,
                category,
                approvals,
                approvers,
                wait,
                windows,
                clear,
                json,
            } => {
                let body = ReleasePolicyRequest {
                    protocol_version: None,
                    approvals: *approvals,
                    approvers: approvers.clone(),
                    wait: wait.clone(),
                    allowed_windows: windows.clone(),
                    clear: *clear,
                };
                let policies = send(
                    &client,
                    Method::PUT,
                    &format!(
                        "/api/v1/environments/{}/release-policies/{}",
                        encode_component(environment),
                        encode_component(category)
                    ),
                    &body,
                )
                .await?;
                if *json {
                    print_json(&policies)?;
                } else {
                    print_policies(environment, &policies);
                }
                Ok(exit::SUCCESS)
            }
            ReleaseCommand::Show {
                tag,
                repo,
                keys,
                json,
            } => {
                let release: Value = client
                    .admin_get(&format!("{}{}", path(tag, ""), repo_query(repo.as_deref())))
                    .await?;
                let reach = match keys {
                    Some(file) => {
                        let text = std::fs::read_to_string(file).map_err(|error| {
                            ClientError::Usage(format!("--keys: read {}: {error}", file.display()))
                        })?;
                        let body = ReachRequest {
                            protocol_version: None,
                            repo: repo.clone(),
                            keys: text
                                .lines()
                                .map(str::trim)
                                .filter(|line| !line.is_empty())
                                .map(str::to_string)
                                .collect(),
                        };
                        Some(send(&client, Method::POST, &path(tag, "/reach"), &body).await?)
                    }
                    None => None,
                };
                if *json {
                    match reach {
                        Some(reach) => print_json(&json!({"release": release, "reach": reach}))?,
                        None => print_json(&release)?,
                    }
                } else {
                    let release: Release = serde_json::from_value(release)
                        .map_err(|error| ClientError::Protocol(error.to_string()))?;
                    print_release(&release);
                    if let Some(reach) = reach {
                        print_reach(&reach);
                    }
                }
                Ok(exit::SUCCESS)
            }
        }
    })
}

/// `slipway releases`.
pub(crate) fn releases(args: &ReleasesArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let list: Value = client
            .admin_get(&format!(
                "/api/v1/releases{}",
                repo_query(args.repo.as_deref())
            ))
            .await?;
        if args.json {
            print_json(&list)?;
            return Ok(exit::SUCCESS);
        }
        let list: Vec<Release> = serde_json::from_value(list)
            .map_err(|error| ClientError::Protocol(error.to_string()))?;
        if args.calendar {
            print_calendar(&list);
            return Ok(exit::SUCCESS);
        }
        if list.is_empty() {
            println!("no releases (create one with `slipway release create TAG`)");
            return Ok(exit::SUCCESS);
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|release| {
                vec![
                    release.tag.clone(),
                    release.repository.clone(),
                    release.sha.chars().take(7).collect(),
                    crate::style::timestamp(&release.created_at),
                    released_to(release),
                ]
            })
            .collect();
        table::print(
            &["TAG", "REPOSITORY", "COMMIT", "CREATED", "RELEASED TO"],
            &rows,
        );
        Ok(exit::SUCCESS)
    })
}

/// The environments view: per environment, what is deployed beside what is released (the lead
/// wires it as `slipway env status`).
pub(crate) async fn env_status(
    client: &EngineClient,
    repo: Option<&str>,
    json: bool,
) -> Result<i32, ClientError> {
    let views: Value = client
        .admin_get(&format!("/api/v1/status/environments{}", repo_query(repo)))
        .await?;
    if json {
        print_json(&views)?;
        return Ok(exit::SUCCESS);
    }
    let views: Vec<EnvironmentView> =
        serde_json::from_value(views).map_err(|error| ClientError::Protocol(error.to_string()))?;
    if views.is_empty() {
        println!("no environments (create one with `slipway env create NAME`)");
    }
    let several = views.iter().any(|view| {
        views
            .first()
            .is_some_and(|first| first.repository != view.repository)
    });
    for view in &views {
        // `production  deployed: v1.5.0 (2026-03-03 09:00:00Z, by erin)  released: v1.4.0 to
        // 10% (2026-03-02 10:00:00Z, by pat)`: the times in the one style.
        let deployed = match &view.deployed {
            Some(line) => format!(
                "{} ({}, by {}{})",
                line.version,
                crate::style::timestamp(&line.at),
                line.by,
                if line.is_rollback { ", rollback" } else { "" }
            ),
            None => "nothing".into(),
        };
        let released = if view.released.is_empty() {
            "nothing".to_string()
        } else {
            view.released
                .iter()
                .map(|line| {
                    format!(
                        "{} to {} ({}, by {})",
                        line.tag,
                        line.audience,
                        crate::style::timestamp(&line.at),
                        line.by
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        let text = format!(
            "{}  deployed: {deployed}  released: {released}",
            view.environment
        );
        if several {
            println!("[{}] {text}", view.repository);
        } else {
            println!("{text}");
        }
    }
    Ok(exit::SUCCESS)
}

/// `release pause|resume|halt`.
#[allow(clippy::too_many_arguments)]
async fn control(
    client: &EngineClient,
    tag: &str,
    action: &str,
    environment: &str,
    repo: &Option<String>,
    to_nobody: bool,
    json: bool,
) -> Result<i32, ClientError> {
    let body = PlanControlRequest {
        protocol_version: None,
        repo: repo.clone(),
        environment: environment.to_string(),
        to_nobody,
    };
    let change = send(
        client,
        Method::POST,
        &path(tag, &format!("/plan/{action}")),
        &body,
    )
    .await?;
    report(&change, json)
}

async fn send<B: Serialize>(
    client: &EngineClient,
    method: Method,
    path: &str,
    body: &B,
) -> Result<Value, ClientError> {
    let answer: Option<Value> = client.admin_send(method, path, body).await?;
    Ok(answer.unwrap_or_default())
}

fn path(tag: &str, rest: &str) -> String {
    format!("/api/v1/releases/{}{rest}", encode_component(tag))
}

fn repo_query(repo: Option<&str>) -> String {
    match repo {
        Some(repo) => format!("?repo={}", encode_component(repo)),
        None => String::new(),
    }
}

/// Prints what a change did: its sentence, the activity types raised and the runs started.
/// Prints the engine's answer; a promotion the engine holds for approvals (state `pending`)
/// exits with `exit::WAITING`, anything else that was answered with success.
fn report(change: &Value, json: bool) -> Result<i32, ClientError> {
    let code = if change["state"] == "pending" {
        exit::WAITING
    } else {
        exit::SUCCESS
    };
    if json {
        print_json(change)?;
        return Ok(code);
    }
    println!("{}", change["message"].as_str().unwrap_or_default());
    let actions: Vec<&str> = change["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !actions.is_empty() {
        println!("release event: {}", actions.join(", "));
    }
    let runs: Vec<&str> = change["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !runs.is_empty() {
        println!("started run(s): {}", runs.join(", "));
    }
    Ok(code)
}

fn released_to(release: &Release) -> String {
    if release.rollouts.is_empty() {
        return "-".into();
    }
    release
        .rollouts
        .iter()
        .map(|(environment, rollout)| format!("{environment}: {}", rollout.audience))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_release(release: &Release) {
    println!("release {}  {}", release.tag, release.name);
    println!("  repository  {}", release.repository);
    println!("  commit      {}", release.sha);
    println!("  category    {}", release.category);
    println!(
        "  created     {} by {}",
        crate::style::timestamp(&release.created_at),
        release.created_by
    );
    if !release.notes.trim().is_empty() {
        println!("  notes");
        for line in release.notes.lines() {
            println!("    {line}");
        }
    }
    if release.rollouts.is_empty() {
        println!("  released    nowhere");
    }
    let now = jiff::Timestamp::now();
    for (environment, plan) in &release.plans {
        let waiting = plan
            .waiting
            .as_ref()
            .map(|why| format!(", waiting: {why}"))
            .unwrap_or_default();
        let check = plan
            .check
            .as_ref()
            .map(|check| format!(", check {check}"))
            .unwrap_or_default();
        println!(
            "  plan        {environment}: {} (by {}{check}{waiting})",
            plan.state, plan.planned_by
        );
        if let Some(run) = &plan.check_run {
            println!(
                "    check     stage {}: run {} {}",
                run.stage + 1,
                run.run_id,
                if run.passed { "passed" } else { "running" }
            );
        }
        for (index, stage) in plan.stages.iter().enumerate() {
            println!(
                "    stage {}  {}  at {}  {}",
                index + 1,
                stage.audience,
                crate::style::timestamp(&stage.at),
                match stage.reached_at {
                    Some(at) => format!("done {}", crate::style::timestamp(&at)),
                    None => plan.stage_status(index, now).to_string(),
                }
            );
        }
    }
    for (environment, rollout) in &release.rollouts {
        println!(
            "  released    {environment}: {} (since {}, by {})",
            rollout.audience,
            crate::style::timestamp(&rollout.promoted_at),
            rollout.promoted_by
        );
    }
    for (environment, pending) in &release.pending {
        println!(
            "  waiting     {environment}: {} asked by {} at {} (needs approval)",
            pending.audience,
            pending.requested_by,
            crate::style::timestamp(&pending.requested_at)
        );
    }
    if !release.history.is_empty() {
        println!("  history");
        for entry in &release.history {
            let actions: Vec<&str> = entry.actions.iter().map(|action| action.as_str()).collect();
            let audience = entry
                .audience
                .as_ref()
                .map_or("withdrawn".to_string(), ToString::to_string);
            let mut line = format!(
                "    {} {} {} {} ({})",
                crate::style::timestamp(&entry.at),
                entry.actor,
                entry.environment.as_deref().unwrap_or("-"),
                audience,
                actions.join(", ")
            );
            if let Some(reason) = &entry.reason {
                line.push_str(&format!(": {reason}"));
            }
            println!("{line}");
        }
    }
}

/// One line per category policy: `emergency  1 approval(s) from oncall, no wait`.
fn print_policies(environment: &str, policies: &Value) {
    let Some(policies) = policies.as_object().filter(|policies| !policies.is_empty()) else {
        println!("{environment}: every category follows the release protection");
        return;
    };
    for (category, policy) in policies {
        let protection = &policy["protection"];
        let approvers: Vec<String> = protection["approvers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(
                |approver| match (approver["user"].as_str(), approver["group"].as_str()) {
                    (Some(user), _) => user.to_string(),
                    (_, Some(group)) => format!("@{group}"),
                    _ => approver.to_string(),
                },
            )
            .collect();
        let windows: Vec<&str> = policy["allowed_windows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        println!(
            "{environment}  {category}  {} approval(s){}  wait {}{}",
            protection["required_approvals"],
            if approvers.is_empty() {
                String::new()
            } else {
                format!(" from {}", approvers.join(", "))
            },
            protection["wait"].as_str().unwrap_or("0s"),
            if windows.is_empty() {
                String::new()
            } else {
                format!("  within {}", windows.join(", "))
            }
        );
    }
}

/// `slipway releases --calendar`: one line per planned stage, in time order.
fn print_calendar(releases: &[Release]) {
    let now = jiff::Timestamp::now();
    let mut rows: Vec<(jiff::Timestamp, Vec<String>)> = Vec::new();
    for release in releases {
        for (environment, plan) in &release.plans {
            for (index, stage) in plan.stages.iter().enumerate() {
                rows.push((
                    stage.at,
                    vec![
                        crate::style::timestamp(&stage.at),
                        release.repository.clone(),
                        release.tag.clone(),
                        release.category.to_string(),
                        environment.clone(),
                        stage.audience.to_string(),
                        plan.stage_status(index, now).to_string(),
                    ],
                ));
            }
        }
    }
    if rows.is_empty() {
        println!(
            "nothing planned (plan a release with `slipway release plan TAG --env ENV --stage 10%@+1d …`)"
        );
        return;
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, row)| row).collect();
    table::print(
        &[
            "WHEN",
            "REPOSITORY",
            "TAG",
            "CATEGORY",
            "ENVIRONMENT",
            "AUDIENCE",
            "STATUS",
        ],
        &rows,
    );
}

/// The dry run: `production  stage 1  10%  reaches 1012 of 10000 keys (targeting keys whose…)`.
fn print_reach(reach: &Value) {
    println!("  reach");
    for line in reach.as_array().into_iter().flatten() {
        println!(
            "    {}  {}  {}  reaches {} of {} keys ({})",
            line["environment"].as_str().unwrap_or_default(),
            line["stage"].as_str().unwrap_or_default(),
            line["audience"].as_str().unwrap_or_default(),
            line["reached"],
            line["of"],
            line["explanation"].as_str().unwrap_or_default()
        );
    }
}
