//! `slipway release …`, `slipway releases` and the environments view (`env status`): releases
//! over the engine's HTTP API. The person acting is the user of the token the command sends
//! (`--token`/`SLIPWAY_TOKEN`), authenticated by the engine.
//!
//! This file must not decide anything about releases: it sends requests and prints answers.

use std::path::PathBuf;

use deploy::{EnvironmentView, Release};
use protocol::environments::Decision;
use protocol::releases::{
    ApproveReleaseRequest, CreateReleaseRequest, PromoteReleaseRequest, WithdrawReleaseRequest,
};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use super::{ClientError, EngineArgs, EngineClient, block_on, encode_component, print_json, table};
use crate::exit;

#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    #[command(subcommand)]
    pub command: ReleaseCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReleaseCommand {
    /// Create a release of a tag (available to no one until promoted)
    Create {
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
        #[arg(long)]
        json: bool,
    },
    /// Release to an audience in an environment where that version is deployed
    Promote {
        tag: String,
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        /// `all`, a percentage (`10%`) or a tier (`tier:premium`)
        #[arg(long)]
        audience: String,
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Approve a promotion that waits for approval (it goes ahead once enough approvals are in)
    Approve {
        tag: String,
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        #[arg(long)]
        comment: Option<String>,
        /// Reject the promotion instead
        #[arg(long)]
        reject: bool,
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Take a release away from an environment's users (no redeploy)
    Withdraw {
        tag: String,
        #[arg(long = "env", value_name = "ENVIRONMENT")]
        environment: String,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a release that is released nowhere
    Delete {
        tag: String,
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a release: where it is released, what waits, its history
    Show {
        tag: String,
        #[arg(long)]
        repo: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ReleasesArgs {
    /// Only this watched repository's releases
    #[arg(long)]
    pub repo: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn release(args: &ReleaseArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            ReleaseCommand::Create {
                tag,
                notes,
                name,
                repo,
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
            ReleaseCommand::Show { tag, repo, json } => {
                let release: Value = client
                    .admin_get(&format!("{}{}", path(tag, ""), repo_query(repo.as_deref())))
                    .await?;
                if *json {
                    print_json(&release)?;
                } else {
                    let release: Release = serde_json::from_value(release)
                        .map_err(|error| ClientError::Protocol(error.to_string()))?;
                    print_release(&release);
                }
                Ok(exit::SUCCESS)
            }
        }
    })
}

/// `slipway releases`.
pub fn releases(args: &ReleasesArgs) -> i32 {
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
                    release.created_at.to_string(),
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
pub async fn env_status(
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
        if several {
            println!("[{}] {view}", view.repository);
        } else {
            println!("{view}");
        }
    }
    Ok(exit::SUCCESS)
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
fn report(change: &Value, json: bool) -> Result<i32, ClientError> {
    if json {
        print_json(change)?;
        return Ok(exit::SUCCESS);
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
    Ok(exit::SUCCESS)
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
    println!(
        "  created     {} by {}",
        release.created_at, release.created_by
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
    for (environment, rollout) in &release.rollouts {
        println!(
            "  released    {environment}: {} (since {}, by {})",
            rollout.audience, rollout.promoted_at, rollout.promoted_by
        );
    }
    for (environment, pending) in &release.pending {
        println!(
            "  waiting     {environment}: {} asked by {} at {} (needs approval)",
            pending.audience, pending.requested_by, pending.requested_at
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
                entry.at,
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
