//! `slipway env …`, `slipway approve|reject`, `slipway deployments` and `slipway audit`: the
//! environments a repository deploys into, the decisions at their gates, and what was
//! deployed where. A client of `/api/v1/environments`, `/api/v1/deployments`,
//! `/api/v1/runs/{id}/approvals` and `/api/v1/audit` (docs/api.md).
//!
//! People are named by `--as NAME` (or `SLIPWAY_USER`, else `$USER`): the engine trusts the
//! admin token, and the name is what the audit log and the self-approval rule see.

use protocol::DeploymentStatus;
use protocol::environments::{
    ApprovalOutcome, Approver, AuditEntry, AuditSubject, CreateEnvironmentRequest, Decision,
    DecisionRequest, Deployment, EditEnvironmentRequest, Environment, EnvironmentView, Groups,
    RollbackRequest, SetGroupRequest,
};
use reqwest::Method;

use super::runs::resolve_run;
use super::{ClientError, EngineArgs, EngineClient, block_on, encode_component, print_json, table};
use crate::exit;

#[derive(Debug, Clone, clap::Args)]
pub struct EnvArgs {
    #[command(subcommand)]
    pub command: EnvCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum EnvCommand {
    /// Create an environment: `slipway env create production --approvals 2 --approvers
    /// alice,bob,carol --wait 5m --branches main --tags 'v*' --freeze 'Fri 16:00-Mon 08:00 UTC'`
    #[command(after_help = OPTIONS_HELP)]
    Create {
        name: String,
        /// Options (see below)
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "OPTION"
        )]
        options: Vec<String>,
    },
    /// Change an environment's settings (the options given replace those settings)
    #[command(after_help = OPTIONS_HELP)]
    Edit {
        name: String,
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "OPTION"
        )]
        options: Vec<String>,
    },
    /// List environments with their protection and lane
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one environment: settings, lane, what is live
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove an environment (refused while deployments wait or run in it)
    Rm { name: String },
    /// What is deployed in each environment, beside what is released to whom
    Status {
        /// Only this watched repository
        #[arg(long, value_name = "REPO")]
        repo: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

const OPTIONS_HELP: &str = "Options:
  --approvals N                 approvals required (0: none)
  --approvers alice,bob,@ops    who may approve (@name: a group)
  --allow-self-review           the run's actor may approve it (refused by default)
  --wait 5m                     wait timer before the deployment may start
  --approval-expiry 24h         approvals older than this stop counting
  --branches main,release/*     branches allowed to deploy
  --tags 'v*'                   tags allowed to deploy
  --freeze 'Fri 16:00-Mon 08:00 UTC'  a freeze window (repeatable; or START/END RFC 3339)
  --no-freeze                   remove every freeze window
  --strategy rolling            default strategy (big-bang, rolling, blue-green, canary)
  --url URL                     the environment's URL
  --var KEY=VALUE               an environment variable (vars.KEY), repeatable
  --secret NAME                 a secret name jobs here may read (value: slipway secret set NAME --env E)
  --release-approvals N, --release-approvers …, --release-wait D, --release-tags …
                                the release promotion policy";

#[derive(Debug, Clone, clap::Args)]
pub struct GroupArgs {
    #[command(subcommand)]
    pub command: GroupCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum GroupCommand {
    /// Set a group's members (`@NAME` in `--approvers` then means each of them)
    Set {
        name: String,
        /// Logins, comma separated or repeated
        #[arg(required = true, value_name = "LOGIN")]
        members: Vec<String>,
    },
    /// List groups and their members
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a group
    Rm { name: String },
}

#[derive(Debug, Clone, clap::Args)]
pub struct DecideArgs {
    /// The run (its id, or its run number)
    pub run: String,
    /// The environment the run waits for
    #[arg(long = "env", value_name = "ENV")]
    pub environment: String,
    /// Why (kept in the audit log)
    #[arg(long)]
    pub comment: Option<String>,
    /// Who decides [default: $SLIPWAY_USER, else $USER]
    #[arg(long = "as", value_name = "USER", env = "SLIPWAY_USER")]
    pub actor: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RollbackArgs {
    /// The environment to roll back
    pub environment: String,
    /// Who asks [default: $SLIPWAY_USER, else $USER]
    #[arg(long = "as", value_name = "USER", env = "SLIPWAY_USER")]
    pub actor: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DeploymentsArgs {
    /// Only this environment
    pub environment: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// Only this environment
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub fn env(args: &EnvArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            EnvCommand::Create { name, options } => {
                let request = CreateEnvironmentRequest {
                    protocol_version: protocol::PROTOCOL_VERSION,
                    name: name.clone(),
                    options: options.clone(),
                };
                let created: Option<Environment> = client
                    .admin_send(Method::POST, "/api/v1/environments", &request)
                    .await?;
                let created =
                    created.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
                println!("environment {} created", created.name);
                print_settings(&created);
            }
            EnvCommand::Edit { name, options } => {
                let request = EditEnvironmentRequest {
                    protocol_version: protocol::PROTOCOL_VERSION,
                    options: options.clone(),
                };
                let path = format!("/api/v1/environments/{}", encode_component(name));
                let edited: Option<Environment> =
                    client.admin_send(Method::PATCH, &path, &request).await?;
                let edited =
                    edited.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
                println!("environment {} changed", edited.name);
                print_settings(&edited);
            }
            EnvCommand::List { json } => {
                let views: Vec<EnvironmentView> = client.get("/api/v1/environments").await?;
                if *json {
                    print_json(&views)?;
                } else {
                    let rows: Vec<Vec<String>> = views
                        .iter()
                        .map(|view| {
                            let environment = &view.environment;
                            vec![
                                environment.name.clone(),
                                protection_summary(environment),
                                view.lane_state.clone(),
                            ]
                        })
                        .collect();
                    table::print(&["ENVIRONMENT", "PROTECTION", "LANE"], &rows);
                }
            }
            EnvCommand::Show { name, json } => {
                let path = format!("/api/v1/environments/{}", encode_component(name));
                let view: EnvironmentView = client.get(&path).await?;
                let deployments: Vec<Deployment> = client
                    .get(&format!(
                        "/api/v1/deployments?environment={}",
                        encode_component(name)
                    ))
                    .await?;
                if *json {
                    print_json(&serde_json::json!({
                        "environment": view.environment,
                        "lane": view.lane,
                        "lane_state": view.lane_state,
                        "deployments": deployments,
                    }))?;
                } else {
                    println!("environment {}", view.environment.name);
                    print_settings(&view.environment);
                    println!("  lane:       {}", view.lane_state);
                    for (index, entry) in view.lane.queue.iter().enumerate() {
                        println!(
                            "    {}. {} ({})",
                            index + 1,
                            entry.deployment_id,
                            entry.version.label()
                        );
                    }
                    match deployments
                        .iter()
                        .rev()
                        .find(|deployment| deployment.status == DeploymentStatus::Success)
                    {
                        Some(live) => println!(
                            "  live:       {} by {} ({}{})",
                            live.version.label(),
                            live.triggered_by,
                            live.id,
                            live.slot
                                .as_deref()
                                .map(|slot| format!(", slot {slot}"))
                                .unwrap_or_default()
                        ),
                        None => println!("  live:       nothing deployed yet"),
                    }
                }
            }
            EnvCommand::Rm { name } => {
                let path = format!("/api/v1/environments/{}", encode_component(name));
                client.admin_delete(&path).await?;
                println!("environment {name} removed");
            }
            EnvCommand::Status { repo, json } => {
                return super::releases::env_status(&client, repo.as_deref(), *json).await;
            }
        }
        Ok(exit::SUCCESS)
    })
}

pub fn group(args: &GroupArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let set = |name: &str, members: Vec<String>| {
            let path = format!(
                "/api/v1/groups/{}",
                encode_component(name.trim_start_matches('@'))
            );
            let request = SetGroupRequest {
                protocol_version: protocol::PROTOCOL_VERSION,
                members,
            };
            (path, request)
        };
        match &args.command {
            GroupCommand::Set { name, members } => {
                let (path, request) = set(name, members.clone());
                let groups: Option<Groups> =
                    client.admin_send(Method::PUT, &path, &request).await?;
                let groups =
                    groups.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
                let key = name.trim_start_matches('@');
                let members = groups.members.get(key).cloned().unwrap_or_default();
                println!("group @{key}: {}", members.join(", "));
            }
            GroupCommand::List { json } => {
                let groups: Groups = client.get("/api/v1/groups").await?;
                if *json {
                    print_json(&groups)?;
                } else {
                    let rows: Vec<Vec<String>> = groups
                        .members
                        .iter()
                        .map(|(name, members)| vec![format!("@{name}"), members.join(", ")])
                        .collect();
                    table::print(&["GROUP", "MEMBERS"], &rows);
                }
            }
            GroupCommand::Rm { name } => {
                let (path, request) = set(name, Vec::new());
                let _: Option<Groups> = client.admin_send(Method::PUT, &path, &request).await?;
                println!("group @{} removed", name.trim_start_matches('@'));
            }
        }
        Ok(exit::SUCCESS)
    })
}

pub fn approve(args: &DecideArgs) -> i32 {
    decide(args, Decision::Approve)
}

pub fn reject(args: &DecideArgs) -> i32 {
    decide(args, Decision::Reject)
}

fn decide(args: &DecideArgs, decision: Decision) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let run_id = resolve_run(&client, &args.run).await?;
        let actor = actor(args.actor.as_deref())?;
        let request = DecisionRequest {
            protocol_version: protocol::PROTOCOL_VERSION,
            environment: args.environment.clone(),
            decision,
            actor,
            comment: args.comment.clone(),
        };
        let path = format!("/api/v1/runs/{}/approvals", encode_component(&run_id));
        let outcome: Option<ApprovalOutcome> =
            client.admin_send(Method::POST, &path, &request).await?;
        let outcome = outcome.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
        if args.json {
            print_json(&outcome)?;
        } else {
            println!("{}", outcome.message);
        }
        Ok(exit::SUCCESS)
    })
}

pub fn rollback(args: &RollbackArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let request = RollbackRequest {
            protocol_version: protocol::PROTOCOL_VERSION,
            actor: actor(args.actor.as_deref())?,
        };
        let path = format!(
            "/api/v1/environments/{}/rollback",
            encode_component(&args.environment)
        );
        let record: Option<Deployment> = client.admin_send(Method::POST, &path, &request).await?;
        let record = record.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
        if args.json {
            print_json(&record)?;
        } else {
            println!(
                "rollback {} queued: {} back to {} (run {})",
                record.id,
                record.environment,
                record.version.label(),
                record.run_id.as_deref().unwrap_or("-")
            );
        }
        Ok(exit::SUCCESS)
    })
}

pub fn deployments(args: &DeploymentsArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let path = match &args.environment {
            Some(name) => format!("/api/v1/deployments?environment={}", encode_component(name)),
            None => "/api/v1/deployments".to_string(),
        };
        let deployments: Vec<Deployment> = client.get(&path).await?;
        if args.json {
            print_json(&deployments)?;
            return Ok(exit::SUCCESS);
        }
        let rows: Vec<Vec<String>> = deployments
            .iter()
            .rev()
            .map(|deployment| {
                let approvers: Vec<&str> = deployment
                    .approvals
                    .iter()
                    .map(|approval| approval.approver.as_str())
                    .collect();
                vec![
                    deployment.id.clone(),
                    deployment.environment.clone(),
                    deployment.version.label(),
                    format!(
                        "{}{}",
                        deployment.strategy,
                        if deployment.is_rollback {
                            " rollback"
                        } else {
                            ""
                        }
                    ),
                    deployment.status.as_str().to_string(),
                    deployment.triggered_by.clone(),
                    if approvers.is_empty() {
                        "-".into()
                    } else {
                        approvers.join(",")
                    },
                    deployment
                        .created_at
                        .strftime("%Y-%m-%d %H:%M:%SZ")
                        .to_string(),
                    deployment.status_reason.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table::print(
            &[
                "ID",
                "ENVIRONMENT",
                "VERSION",
                "STRATEGY",
                "STATUS",
                "BY",
                "APPROVED BY",
                "CREATED",
                "REASON",
            ],
            &rows,
        );
        Ok(exit::SUCCESS)
    })
}

pub fn audit(args: &AuditArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let path = match &args.environment {
            Some(name) => format!("/api/v1/audit?environment={}", encode_component(name)),
            None => "/api/v1/audit".to_string(),
        };
        let entries: Vec<AuditEntry> = client.get(&path).await?;
        if args.json {
            print_json(&entries)?;
            return Ok(exit::SUCCESS);
        }
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|entry| {
                vec![
                    entry.at.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
                    entry.environment.clone(),
                    entry.actor.clone(),
                    entry.action.as_str().to_string(),
                    subject(&entry.subject),
                    entry.reason.clone(),
                ]
            })
            .collect();
        table::print(
            &["AT", "ENVIRONMENT", "ACTOR", "ACTION", "SUBJECT", "REASON"],
            &rows,
        );
        Ok(exit::SUCCESS)
    })
}

fn subject(subject: &AuditSubject) -> String {
    match subject {
        AuditSubject::Run { run_id } => format!("run {run_id}"),
        AuditSubject::Deployment { deployment_id } => {
            format!("deployment {deployment_id}")
        }
        AuditSubject::Release { tag } => format!("release {tag}"),
    }
}

/// `--as`, else `$USER`.
pub fn actor(given: Option<&str>) -> Result<String, ClientError> {
    let name = given
        .map(str::to_string)
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_default();
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(ClientError::Usage(
            "say who you are: --as NAME (or set SLIPWAY_USER)".into(),
        ));
    }
    Ok(name)
}

fn protection_summary(environment: &Environment) -> String {
    let protection = &environment.protection;
    let mut parts = Vec::new();
    if protection.required_approvals > 0 {
        parts.push(format!("{} approval(s)", protection.required_approvals));
    }
    if protection.wait_seconds > 0 {
        parts.push(format!("wait {}s", protection.wait_seconds));
    }
    if !protection.branches.is_empty() || !protection.tags.is_empty() {
        let mut refs = protection.branches.clone();
        refs.extend(protection.tags.iter().map(|tag| format!("tag {tag}")));
        parts.push(format!("refs {}", refs.join(",")));
    }
    if !environment.freeze_windows.is_empty() {
        parts.push(format!(
            "{} freeze window(s)",
            environment.freeze_windows.len()
        ));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join("; ")
    }
}

fn print_settings(environment: &Environment) {
    let protection = &environment.protection;
    let approvers: Vec<String> = protection
        .approvers
        .iter()
        .map(|approver| match approver {
            Approver::User(name) => name.clone(),
            Approver::Group(name) => format!("@{name}"),
        })
        .collect();
    println!(
        "  approvals:  {} of {}{}",
        protection.required_approvals,
        if approvers.is_empty() {
            "-".to_string()
        } else {
            approvers.join(", ")
        },
        if protection.prevent_self_review {
            " (no self-approval)"
        } else {
            ""
        }
    );
    if protection.wait_seconds > 0 {
        println!("  wait:       {}s", protection.wait_seconds);
    }
    if !protection.branches.is_empty() {
        println!("  branches:   {}", protection.branches.join(", "));
    }
    if !protection.tags.is_empty() {
        println!("  tags:       {}", protection.tags.join(", "));
    }
    for window in &environment.freeze_windows {
        println!("  freeze:     {window}");
    }
    if let Some(strategy) = environment.default_strategy {
        println!("  strategy:   {strategy}");
    }
    if let Some(url) = &environment.url {
        println!("  url:        {url}");
    }
    for (name, value) in &environment.variables {
        println!("  var:        {name}={value}");
    }
    for name in &environment.secret_names {
        println!("  secret:     {name}");
    }
}
