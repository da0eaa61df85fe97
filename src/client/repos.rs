//! `slipway repo …`, `slipway schedules`, `slipway status SHA`: watched repositories and what their
//! commits started, over the engine's HTTP API.

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{Value, json};

use super::{ClientError, EngineArgs, EngineClient, block_on};
use crate::exit;

#[derive(Debug, clap::Args)]
pub(crate) struct RepoArgs {
    #[command(subcommand)]
    pub command: RepoCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum RepoCommand {
    /// Watch a repository (a local path or a file:// URL); the engine keeps a bare mirror of it
    Add {
        /// The repository to watch
        source: String,
        /// The name runs and hooks use (default: the folder name)
        #[arg(long)]
        name: Option<String>,
        /// Poll the repository at this interval (`30s`, `5m`), for repositories with no hook
        #[arg(long)]
        poll: Option<String>,
        /// The secret of its webhooks (push and pull/merge request): the HMAC key of GitHub's,
        /// Gitea's and Forgejo's signatures, GitLab's `X-Gitlab-Token`
        #[arg(long)]
        webhook_secret: Option<String>,
        /// The forge it lives on, for pull request webhooks and commit statuses: github,
        /// gitea, forgejo or gitlab
        #[arg(long)]
        forge: Option<String>,
        /// The secret (`slipway secret set NAME --repo REPO`) holding the forge's API token
        #[arg(long)]
        forge_token_secret: Option<String>,
        /// The forge's API URL (default: from the source URL's host, e.g.
        /// https://api.github.com, https://HOST/api/v1, https://HOST/api/v4)
        #[arg(long)]
        forge_api: Option<String>,
        /// Print the record as JSON
        #[arg(long)]
        json: bool,
    },
    /// List watched repositories
    List {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Stop watching a repository
    Remove {
        /// The watched repository's name (`slipway repo list`)
        name: String,
    },
    /// Let runs start again after a fetch moved too many refs at once
    Accept {
        /// The watched repository's name (`slipway repo list`)
        name: String,
    },
    /// Git hooks that tell the engine about pushes
    Hook {
        #[command(subcommand)]
        command: HookCommand,
    },
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum HookCommand {
    /// Write a post-receive hook into the repository people push to (it returns at once, and a
    /// push still succeeds when the engine is down: the poller catches up)
    Install {
        /// The repository (bare or not) that receives pushes
        path: PathBuf,
        /// The watched repository's name (default: the folder name without `.git`)
        #[arg(long)]
        name: Option<String>,
        /// Which hook to write: `post-receive`, or `reference-transaction` (git ≥ 2.28;
        /// notifies once the refs are committed)
        #[arg(long, default_value = "post-receive")]
        kind: engine::repos::triggers::hook::HookKind,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct SchedulesArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, clap::Args)]
pub(crate) struct StatusArgs {
    /// The commit
    pub sha: String,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub(crate) fn repo(args: &RepoArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            RepoCommand::Add {
                source,
                name,
                poll,
                webhook_secret,
                forge,
                forge_token_secret,
                forge_api,
                json,
            } => {
                let poll_interval_ms = match poll {
                    Some(text) => Some(parse_interval(text)?),
                    None => None,
                };
                let source = absolute_source(source);
                let body = json!({
                    "source": source,
                    "name": name,
                    "poll_interval_ms": poll_interval_ms,
                    "webhook_secret": webhook_secret,
                    "forge": forge,
                    "forge_token_secret": forge_token_secret,
                    "forge_api": forge_api,
                });
                let record: Option<Value> = client
                    .admin_send(Method::POST, "/api/v1/repos", &body)
                    .await?;
                let record = record.unwrap_or_default();
                if *json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&record).unwrap_or_default()
                    );
                } else {
                    println!(
                        "watching {} as `{}` (mirror: {})",
                        record["source"].as_str().unwrap_or_default(),
                        record["name"].as_str().unwrap_or_default(),
                        record["mirror_path"].as_str().unwrap_or_default()
                    );
                    println!(
                        "install a push hook with: slipway repo hook install PATH --name {}",
                        record["name"].as_str().unwrap_or_default()
                    );
                    if let Some(forge) = record["forge"].as_str() {
                        println!(
                            "forge: {forge} at {} (webhook URL: ENGINE/api/v1/repos/{}/webhook)",
                            record["forge_api"].as_str().unwrap_or_default(),
                            record["name"].as_str().unwrap_or_default()
                        );
                    }
                }
                Ok(exit::SUCCESS)
            }
            RepoCommand::List { json } => {
                let list: Value = client.admin_get("/api/v1/repos").await?;
                if *json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&list).unwrap_or_default()
                    );
                } else {
                    println!(
                        "{:<24} {:<10} {:<32} {:<8} SOURCE",
                        "NAME", "POLL", "GITHUB.REPOSITORY", "FORGE"
                    );
                    for repo in list.as_array().into_iter().flatten() {
                        let poll = repo["poll_interval_ms"]
                            .as_u64()
                            .map_or("-".to_string(), |ms| format!("{}s", ms / 1000));
                        println!(
                            "{:<24} {:<10} {:<32} {:<8} {}",
                            repo["name"].as_str().unwrap_or_default(),
                            poll,
                            repo["github_repository"].as_str().unwrap_or_default(),
                            repo["forge"].as_str().unwrap_or("-"),
                            repo["source"].as_str().unwrap_or_default()
                        );
                        let failure = &repo["forge_status_error"];
                        if !failure.is_null() {
                            println!(
                                "  last status not reported ({} on {}): {}",
                                failure["context"].as_str().unwrap_or_default(),
                                failure["sha"].as_str().unwrap_or_default(),
                                failure["message"].as_str().unwrap_or_default()
                            );
                        }
                    }
                }
                Ok(exit::SUCCESS)
            }
            RepoCommand::Remove { name } => {
                client
                    .admin_delete(&format!("/api/v1/repos/{}", encode(name)))
                    .await?;
                println!("stopped watching `{name}`");
                Ok(exit::SUCCESS)
            }
            RepoCommand::Accept { name } => {
                let answer: Option<Value> = client
                    .admin_send(
                        Method::POST,
                        &format!("/api/v1/repos/{}/accept", encode(name)),
                        &json!({}),
                    )
                    .await?;
                println!(
                    "accepted: {}",
                    answer
                        .map(|a| a["accepted_refs"].to_string())
                        .unwrap_or_default()
                );
                Ok(exit::SUCCESS)
            }
            RepoCommand::Hook {
                command: HookCommand::Install { path, name, kind },
            } => {
                let name = match name {
                    Some(name) => name.clone(),
                    None => path
                        .canonicalize()
                        .ok()
                        .and_then(|p| {
                            p.file_name()
                                .map(|n| n.to_string_lossy().trim_end_matches(".git").to_string())
                        })
                        .ok_or_else(|| {
                            ClientError::Usage(format!(
                                "cannot name {}; pass --name",
                                path.display()
                            ))
                        })?,
                };
                let answer: Option<Value> = client
                    .admin_send(
                        Method::POST,
                        &format!("/api/v1/repos/{}/hook-token", encode(&name)),
                        &json!({}),
                    )
                    .await?;
                let token = answer
                    .as_ref()
                    .and_then(|a| a["hook_token"].as_str())
                    .ok_or_else(|| ClientError::Protocol("no hook token in the answer".into()))?;
                let script = engine::repos::triggers::hook::hook_script_of_kind(
                    *kind,
                    client.base_url(),
                    &name,
                    token,
                );
                let written =
                    engine::repos::triggers::hook::install_hook_of_kind(path, *kind, &script)
                        .map_err(|error| {
                            ClientError::Usage(format!("install the hook: {error}"))
                        })?;
                println!(
                    "installed {} (pushes notify {} as `{name}`)",
                    written.display(),
                    client.base_url()
                );
                Ok(exit::SUCCESS)
            }
        }
    })
}

pub(crate) fn schedules(args: &SchedulesArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let list: Value = client.get("/api/v1/schedules").await?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        } else {
            let rows: Vec<Vec<String>> = list
                .as_array()
                .into_iter()
                .flatten()
                .map(|schedule| {
                    vec![
                        field(schedule, &["repository", "repo"]),
                        field(schedule, &["workflow", "file"]),
                        field(schedule, &["cron"]),
                        time_field(schedule, &["next_fire", "next"]),
                    ]
                })
                .collect();
            super::table::print(&["REPOSITORY", "WORKFLOW", "CRON", "NEXT"], &rows);
        }
        Ok(exit::SUCCESS)
    })
}

pub(crate) fn status(args: &StatusArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let list: Value = client
            .get(&format!("/api/v1/commits/{}/statuses", encode(&args.sha)))
            .await?;
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&list).unwrap_or_default()
            );
        } else {
            let items = list.as_array().cloned().unwrap_or_default();
            if items.is_empty() {
                println!("no runs at {}", args.sha);
            } else {
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|run| {
                        vec![
                            field(run, &["status", "state"]),
                            field(run, &["workflow"]),
                            field(run, &["event"]),
                            field(run, &["id", "run_id"]),
                        ]
                    })
                    .collect();
                super::table::print(&["STATUS", "WORKFLOW", "EVENT", "RUN ID"], &rows);
            }
        }
        Ok(exit::SUCCESS)
    })
}

/// A time field (µs since the epoch, or an RFC 3339 text) in the one style.
fn time_field(value: &Value, names: &[&str]) -> String {
    let found = names
        .iter()
        .find_map(|name| value.get(*name).filter(|v| !v.is_null()));
    match found {
        Some(Value::Number(number)) => number
            .as_u64()
            .map_or_else(|| number.to_string(), crate::style::instant),
        Some(Value::String(text)) => crate::style::instant_text(text),
        _ => "-".to_string(),
    }
}

fn field(value: &Value, names: &[&str]) -> String {
    names
        .iter()
        .find_map(|name| value.get(*name).filter(|v| !v.is_null()))
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_else(|| "-".to_string())
}

/// A local path is sent absolute, so the engine finds it whatever its own working directory.
fn absolute_source(source: &str) -> String {
    if source.contains("://") {
        return source.to_string();
    }
    std::path::Path::new(source)
        .canonicalize()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| source.to_string())
}

/// `30s`, `5m`, `2h`, `1h30m`, or plain seconds.
fn parse_interval(text: &str) -> Result<u64, ClientError> {
    let bad = || {
        ClientError::Usage(format!(
            "--poll `{text}` is not a duration like 30s, 5m or 1h30m"
        ))
    };
    if let Ok(seconds) = text.trim().parse::<u64>() {
        return Ok(seconds * 1000);
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        total += value
            * match c {
                's' => 1_000,
                'm' => 60_000,
                'h' => 3_600_000,
                _ => return Err(bad()),
            };
    }
    if !number.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(total)
}

fn encode(segment: &str) -> String {
    segment.replace('%', "%25").replace('/', "%2F")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_intervals_read_like_durations() {
        assert_eq!(parse_interval("30s").ok(), Some(30_000));
        assert_eq!(parse_interval("1h30m").ok(), Some(5_400_000));
        assert_eq!(parse_interval("45").ok(), Some(45_000));
        assert!(parse_interval("5x").is_err());
        assert!(parse_interval("m").is_err());
    }
}
