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
    DecisionRequest, Deployment, EditEnvironmentRequest, Environment, EnvironmentPatch,
    EnvironmentView, Groups, Protection, ProtectionPatch, RollbackRequest, SetGroupRequest,
};
use reqwest::Method;

use super::runs::resolve_run;
use super::{ClientError, EngineArgs, EngineClient, block_on, encode_component, print_json, table};
use crate::exit;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct EnvArgs {
    #[command(subcommand)]
    pub command: EnvCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum EnvCommand {
    /// Create an environment: `slipway env create production --approvals 2 --approvers
    /// alice,bob,carol --wait 5m --branches main --tags 'v*' --freeze 'Fri 16:00-Mon 08:00 UTC'`
    Create {
        /// The environment's name (letters, digits, `-`, `_`, `.`)
        name: String,
        #[command(flatten)]
        settings: EnvSettings,
    },
    /// Change an environment's settings (the settings given replace those settings; the rest
    /// stay as they are)
    Edit {
        /// The environment to change
        name: String,
        #[command(flatten)]
        settings: EnvSettings,
    },
    /// List environments with their protection and lane
    List {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one environment: settings, lane, what is live
    Show {
        /// The environment's name
        name: String,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove an environment (refused while deployments wait or run in it)
    Rm {
        /// The environment's name
        name: String,
    },
    /// What is deployed in each environment, beside what is released to whom
    Status {
        /// Only this watched repository
        #[arg(long, value_name = "REPO")]
        repo: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

/// The settings of `env create` and `env edit`, straight into the API's [`EnvironmentPatch`].
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct EnvSettings {
    /// Approvals a deployment needs (0: none)
    #[arg(long, value_name = "N", help_heading = "Deployment policy")]
    approvals: Option<u32>,
    /// Who may approve: logins, and groups as @name (replaces the list)
    #[arg(
        long,
        value_name = "alice,bob,@ops",
        value_delimiter = ',',
        help_heading = "Deployment policy"
    )]
    approvers: Option<Vec<String>>,
    /// The run's actor may approve it (refused by default)
    #[arg(
        long,
        conflicts_with = "prevent_self_review",
        help_heading = "Deployment policy"
    )]
    allow_self_review: bool,
    /// The run's actor may not approve it (the default)
    #[arg(long, help_heading = "Deployment policy")]
    prevent_self_review: bool,
    /// Wait timer before a deployment may start (5m, 2h, 1d)
    #[arg(long, value_name = "DURATION", help_heading = "Deployment policy")]
    wait: Option<String>,
    /// Approvals older than this stop counting (0: never)
    #[arg(long, value_name = "DURATION", help_heading = "Deployment policy")]
    approval_expiry: Option<String>,
    /// Branch patterns allowed to deploy (replaces the list)
    #[arg(
        long,
        value_name = "main,release/*",
        value_delimiter = ',',
        help_heading = "Deployment policy"
    )]
    branches: Option<Vec<String>>,
    /// Tag patterns allowed to deploy (replaces the list)
    #[arg(
        long,
        value_name = "v*",
        value_delimiter = ',',
        help_heading = "Deployment policy"
    )]
    tags: Option<Vec<String>>,
    /// Add a freeze window: 'Fri 16:00-Mon 08:00 UTC' or START/END in RFC 3339 (repeatable)
    #[arg(long, value_name = "WINDOW", help_heading = "Environment")]
    freeze: Vec<String>,
    /// Remove every freeze window (before any --freeze given with it)
    #[arg(long, help_heading = "Environment")]
    no_freeze: bool,
    /// Default strategy: big-bang, rolling, blue-green or canary
    #[arg(long, value_name = "STRATEGY", help_heading = "Environment")]
    strategy: Option<String>,
    /// The environment's URL
    #[arg(long, value_name = "URL", help_heading = "Environment")]
    url: Option<String>,
    /// A variable of jobs deploying here, vars.KEY (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var, help_heading = "Environment")]
    vars: Vec<(String, String)>,
    /// A secret name jobs deploying here may read; set its value with
    /// `slipway secret set NAME --env ENV` (repeatable)
    #[arg(long = "secret", value_name = "NAME", help_heading = "Environment")]
    secrets: Vec<String>,
    /// Approvals a release promotion needs
    #[arg(long, value_name = "N", help_heading = "Release policy")]
    release_approvals: Option<u32>,
    /// Who may approve a release (replaces the list)
    #[arg(
        long,
        value_name = "alice,@product",
        value_delimiter = ',',
        help_heading = "Release policy"
    )]
    release_approvers: Option<Vec<String>>,
    /// The release's creator may approve it
    #[arg(
        long,
        conflicts_with = "release_prevent_self_review",
        help_heading = "Release policy"
    )]
    release_allow_self_review: bool,
    /// The release's creator may not approve it (the default)
    #[arg(long, help_heading = "Release policy")]
    release_prevent_self_review: bool,
    /// Wait timer before a promotion takes effect
    #[arg(long, value_name = "DURATION", help_heading = "Release policy")]
    release_wait: Option<String>,
    /// Release approvals older than this stop counting
    #[arg(long, value_name = "DURATION", help_heading = "Release policy")]
    release_approval_expiry: Option<String>,
    /// Tag patterns a release may carry (replaces the list)
    #[arg(
        long,
        value_name = "v*",
        value_delimiter = ',',
        help_heading = "Release policy"
    )]
    release_tags: Option<Vec<String>>,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) => Ok((key.to_string(), value.to_string())),
        None => Err(format!("`{text}` is not `KEY=VALUE`")),
    }
}

fn self_review(allow: bool, prevent: bool) -> Option<bool> {
    match (allow, prevent) {
        (true, _) => Some(false),
        (_, true) => Some(true),
        _ => None,
    }
}

impl EnvSettings {
    /// The API's patch for these flags.
    fn patch(&self) -> EnvironmentPatch {
        EnvironmentPatch {
            deploy: ProtectionPatch {
                approvals: self.approvals,
                approvers: self.approvers.clone(),
                prevent_self_review: self_review(self.allow_self_review, self.prevent_self_review),
                wait: self.wait.clone(),
                approval_expiry: self.approval_expiry.clone(),
                branches: self.branches.clone(),
                tags: self.tags.clone(),
            },
            release: ProtectionPatch {
                approvals: self.release_approvals,
                approvers: self.release_approvers.clone(),
                prevent_self_review: self_review(
                    self.release_allow_self_review,
                    self.release_prevent_self_review,
                ),
                wait: self.release_wait.clone(),
                approval_expiry: self.release_approval_expiry.clone(),
                branches: None,
                tags: self.release_tags.clone(),
            },
            clear_freeze: self.no_freeze,
            add_freeze: self.freeze.clone(),
            strategy: self.strategy.clone(),
            url: self.url.clone(),
            vars: self.vars.iter().cloned().collect(),
            secrets: self.secrets.clone(),
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GroupArgs {
    #[command(subcommand)]
    pub command: GroupCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum GroupCommand {
    /// Set a group's members (`@NAME` in `--approvers` then means each of them)
    Set {
        /// The group's name
        name: String,
        /// Logins, comma separated or repeated
        #[arg(required = true, value_name = "LOGIN")]
        members: Vec<String>,
    },
    /// List groups and their members
    List {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a group
    Rm {
        /// The group's name
        name: String,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DecideArgs {
    /// The run (its id, or its run number)
    pub run: String,
    /// The environment the run waits for
    #[arg(long = "env", value_name = "ENV")]
    pub environment: String,
    /// Why (kept in the audit log)
    #[arg(long)]
    pub comment: Option<String>,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct RollbackArgs {
    /// The environment to roll back
    pub environment: String,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DeploymentsArgs {
    /// Only this environment
    pub environment: Option<String>,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct AuditArgs {
    /// Only this environment
    #[arg(long = "env", value_name = "ENV")]
    pub environment: Option<String>,
    /// Only what this user did: their deployment decisions, and every change they made
    /// through the API (and calls of theirs that were refused)
    #[arg(long = "user", value_name = "USER")]
    pub user: Option<String>,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub(crate) fn env(args: &EnvArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            EnvCommand::Create { name, settings } => {
                let request = CreateEnvironmentRequest {
                    protocol_version: protocol::PROTOCOL_VERSION,
                    name: name.clone(),
                    settings: settings.patch(),
                };
                let created: Option<Environment> = client
                    .admin_send(Method::POST, "/api/v1/environments", &request)
                    .await?;
                let created =
                    created.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
                println!("environment {} created", created.name);
                print_settings(&created);
            }
            EnvCommand::Edit { name, settings } => {
                let request = EditEnvironmentRequest {
                    protocol_version: protocol::PROTOCOL_VERSION,
                    settings: settings.patch(),
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

pub(crate) fn group(args: &GroupArgs) -> i32 {
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

pub(crate) fn approve(args: &DecideArgs) -> i32 {
    decide(args, Decision::Approve)
}

pub(crate) fn reject(args: &DecideArgs) -> i32 {
    decide(args, Decision::Reject)
}

fn decide(args: &DecideArgs, decision: Decision) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let run_id = resolve_run(&client, &args.run).await?;
        // The one who decides is the token's user (see `slipway whoami`).
        let request = DecisionRequest {
            protocol_version: protocol::PROTOCOL_VERSION,
            environment: args.environment.clone(),
            decision,
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

pub(crate) fn rollback(args: &RollbackArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let request = RollbackRequest {
            protocol_version: protocol::PROTOCOL_VERSION,
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

pub(crate) fn deployments(args: &DeploymentsArgs) -> i32 {
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
                    crate::style::timestamp(&deployment.created_at),
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

pub(crate) fn audit(args: &AuditArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let path = match &args.environment {
            Some(name) => format!("/api/v1/audit?environment={}", encode_component(name)),
            None => "/api/v1/audit".to_string(),
        };
        let mut entries: Vec<AuditEntry> = client.get(&path).await?;
        if let Some(user) = &args.user {
            entries.retain(|entry| entry.actor.eq_ignore_ascii_case(user));
            let access: Vec<protocol::users::AccessEntry> = client
                .get(&format!(
                    "/api/v1/audit/access?user={}",
                    encode_component(user)
                ))
                .await?;
            if args.json {
                print_json(&serde_json::json!({"deployments": entries, "access": access}))?;
                return Ok(exit::SUCCESS);
            }
            print_audit(&entries);
            println!();
            super::users::print_access(&access);
            return Ok(exit::SUCCESS);
        }
        if args.json {
            print_json(&entries)?;
            return Ok(exit::SUCCESS);
        }
        print_audit(&entries);
        Ok(exit::SUCCESS)
    })
}

fn print_audit(entries: &[AuditEntry]) {
    {
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|entry| {
                vec![
                    crate::style::timestamp(&entry.at),
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
    }
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
    let release = &environment.release_protection;
    if release.required_approvals > 0 || release.wait_seconds > 0 || !release.tags.is_empty() {
        println!("  releases:   {}", policy_summary(release, &[]));
    }
    for (category, policy) in &environment.release_policies {
        println!(
            "  {:<11} {}",
            format!("{category}:"),
            policy_summary(&policy.protection, &policy.allowed_windows)
        );
    }
}

/// A release policy in one line: `1 approval(s) from @oncall, wait 30m, within Tue 09:00-16:00 UTC`.
fn policy_summary(protection: &Protection, windows: &[String]) -> String {
    let approvers: Vec<String> = protection
        .approvers
        .iter()
        .map(|approver| match approver {
            Approver::User(name) => name.clone(),
            Approver::Group(name) => format!("@{name}"),
        })
        .collect();
    let mut parts = vec![if approvers.is_empty() {
        format!("{} approval(s)", protection.required_approvals)
    } else {
        format!(
            "{} approval(s) from {}",
            protection.required_approvals,
            approvers.join(", ")
        )
    }];
    if protection.wait_seconds > 0 {
        parts.push(format!("wait {}s", protection.wait_seconds));
    }
    if !protection.tags.is_empty() {
        parts.push(format!("tags {}", protection.tags.join(", ")));
    }
    if !windows.is_empty() {
        parts.push(format!("within {}", windows.join("; ")));
    }
    parts.join(", ")
}
