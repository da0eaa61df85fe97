//! `slipway secret set|list|rm` and `slipway var set|list|rm`: repository-scoped secrets and
//! configuration variables on the engine. `--repo R` names the scope; without it the value is
//! for every repository (a run sees those, overlaid by its own repository's).
//!
//! This file must not print a secret's value: `secret list` shows names and update times only,
//! and the value travels once, to the engine, in the `set` request body.

use std::io::{IsTerminal, Read};

use protocol::wire::{SecretView, SetSettingRequest, VariableView};
use reqwest::Method;

use super::{ClientError, EngineArgs, EngineClient, block_on, encode_component, print_json, table};
use crate::exit;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct SecretArgs {
    #[command(subcommand)]
    pub command: SecretCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum SecretCommand {
    /// Set a secret (the value from --value, or else read from stdin)
    Set {
        /// Letters, digits and `_`; not starting with a digit or `GITHUB_`; stored upper-case
        name: String,
        /// The repository it is for [default: every repository]
        #[arg(long, value_name = "REPO")]
        repo: Option<String>,
        /// An environment's scope instead (`slipway env`): released to its deployment jobs
        /// only once their gate has opened
        #[arg(long = "env", value_name = "ENV", conflicts_with = "repo")]
        env: Option<String>,
        /// The value (prefer stdin: a command line is visible to other users)
        #[arg(long)]
        value: Option<String>,
    },
    /// List secret names and when they changed (never their values)
    List {
        /// Only this repository's scope (`""`: the every-repository scope) [default: all]
        #[arg(long, value_name = "REPO")]
        repo: Option<String>,
        /// An environment's scope instead (`slipway env`): released to its deployment jobs
        /// only once their gate has opened
        #[arg(long = "env", value_name = "ENV", conflicts_with = "repo")]
        env: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a secret
    Rm {
        /// The name
        name: String,
        /// The repository scope (a watched repository's name; `""`: every repository) [default: ""]
        #[arg(long, value_name = "REPO")]
        repo: Option<String>,
        /// An environment's scope instead (`slipway env`): released to its deployment jobs
        /// only once their gate has opened
        #[arg(long = "env", value_name = "ENV", conflicts_with = "repo")]
        env: Option<String>,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct VarArgs {
    #[command(subcommand)]
    pub command: VarCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum VarCommand {
    /// Set a configuration variable (`vars.NAME` in workflows)
    Set {
        /// The name
        name: String,
        /// The value
        value: String,
        /// The repository it is for [default: every repository]
        #[arg(long, value_name = "REPO")]
        repo: Option<String>,
        /// An environment's scope instead (`slipway env`): released to its deployment jobs
        /// only once their gate has opened
        #[arg(long = "env", value_name = "ENV", conflicts_with = "repo")]
        env: Option<String>,
    },
    /// List variables with their values
    List {
        /// Only this repository's scope (`""`: the every-repository scope) [default: all]
        #[arg(long, value_name = "REPO")]
        repo: Option<String>,
        /// An environment's scope instead (`slipway env`): released to its deployment jobs
        /// only once their gate has opened
        #[arg(long = "env", value_name = "ENV", conflicts_with = "repo")]
        env: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a variable
    Rm {
        /// The name
        name: String,
        /// The repository scope (a watched repository's name; `""`: every repository) [default: ""]
        #[arg(long, value_name = "REPO")]
        repo: Option<String>,
        /// An environment's scope instead (`slipway env`): released to its deployment jobs
        /// only once their gate has opened
        #[arg(long = "env", value_name = "ENV", conflicts_with = "repo")]
        env: Option<String>,
    },
}

pub(crate) fn secret(args: &SecretArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            SecretCommand::Set {
                name,
                repo,
                value,
                env,
            } => {
                let repo = &environment_scope(repo, env);
                let name = check_name(name)?;
                let value = match value {
                    Some(value) if value.is_empty() => {
                        return Err(ClientError::Usage(format!("the value of {name} is empty")));
                    }
                    Some(value) => value.clone(),
                    None => read_stdin(&name)?,
                };
                let request = SetSettingRequest {
                    protocol_version: protocol::PROTOCOL_VERSION,
                    repository: scope(repo.as_deref()),
                    value,
                };
                let path = format!("/api/v1/secrets/{}", encode_component(&name));
                let view: Option<SecretView> =
                    client.admin_send(Method::PUT, &path, &request).await?;
                let view = view.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
                println!(
                    "secret {} set for {}",
                    view.name,
                    scope_label(&view.repository)
                );
            }
            SecretCommand::List { repo, json, env } => {
                let repo = &environment_scope(repo, env);
                let secrets: Vec<SecretView> = client.get(&list_path("secrets", repo)).await?;
                if *json {
                    print_json(&secrets)?;
                } else {
                    let rows: Vec<Vec<String>> = secrets
                        .iter()
                        .map(|secret| {
                            vec![
                                secret.name.clone(),
                                scope_label(&secret.repository),
                                table::time(secret.updated_at_us),
                            ]
                        })
                        .collect();
                    table::print(&["NAME", "REPOSITORY", "UPDATED"], &rows);
                }
            }
            SecretCommand::Rm { name, repo, env } => {
                let repo = &environment_scope(repo, env);
                let name = check_name(name)?;
                client
                    .admin_delete(&item_path("secrets", &name, repo))
                    .await?;
                println!(
                    "secret {name} removed from {}",
                    scope_label(&scope(repo.as_deref()))
                );
            }
        }
        Ok(exit::SUCCESS)
    })
}

pub(crate) fn var(args: &VarArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            VarCommand::Set {
                name,
                value,
                repo,
                env,
            } => {
                let repo = &environment_scope(repo, env);
                let name = check_name(name)?;
                let request = SetSettingRequest {
                    protocol_version: protocol::PROTOCOL_VERSION,
                    repository: scope(repo.as_deref()),
                    value: value.clone(),
                };
                let path = format!("/api/v1/variables/{}", encode_component(&name));
                let view: Option<VariableView> =
                    client.admin_send(Method::PUT, &path, &request).await?;
                let view = view.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
                println!(
                    "variable {} set for {}",
                    view.name,
                    scope_label(&view.repository)
                );
            }
            VarCommand::List { repo, json, env } => {
                let repo = &environment_scope(repo, env);
                let variables: Vec<VariableView> =
                    client.get(&list_path("variables", repo)).await?;
                if *json {
                    print_json(&variables)?;
                } else {
                    let rows: Vec<Vec<String>> = variables
                        .iter()
                        .map(|variable| {
                            vec![
                                variable.name.clone(),
                                scope_label(&variable.repository),
                                variable.value.clone(),
                                table::time(variable.updated_at_us),
                            ]
                        })
                        .collect();
                    table::print(&["NAME", "REPOSITORY", "VALUE", "UPDATED"], &rows);
                }
            }
            VarCommand::Rm { name, repo, env } => {
                let repo = &environment_scope(repo, env);
                let name = check_name(name)?;
                client
                    .admin_delete(&item_path("variables", &name, repo))
                    .await?;
                println!(
                    "variable {name} removed from {}",
                    scope_label(&scope(repo.as_deref()))
                );
            }
        }
        Ok(exit::SUCCESS)
    })
}

/// The engine's own name rules, checked before anything is sent (a bad name is a usage error).
fn check_name(name: &str) -> Result<String, ClientError> {
    engine::secrets::normalize_name(name).map_err(|error| ClientError::Usage(error.to_string()))
}

/// `--env E` names the scope `env:E`; else `--repo`.
fn environment_scope(repo: &Option<String>, env: &Option<String>) -> Option<String> {
    match env {
        Some(env) => Some(format!("env:{}", env.trim())),
        None => repo.clone(),
    }
}

fn scope(repo: Option<&str>) -> String {
    engine::secrets::normalize_scope(repo)
}

fn scope_label(repository: &str) -> String {
    if repository.is_empty() {
        "every repository".into()
    } else if let Some(environment) = repository.strip_prefix("env:") {
        format!("environment {environment}")
    } else {
        repository.to_string()
    }
}

fn list_path(kind: &str, repo: &Option<String>) -> String {
    match repo {
        Some(repo) => format!(
            "/api/v1/{kind}?repository={}",
            encode_component(&scope(Some(repo)))
        ),
        None => format!("/api/v1/{kind}"),
    }
}

fn item_path(kind: &str, name: &str, repo: &Option<String>) -> String {
    format!(
        "/api/v1/{kind}/{}?repository={}",
        encode_component(name),
        encode_component(&scope(repo.as_deref()))
    )
}

/// The secret's value from stdin, without one trailing line end.
fn read_stdin(name: &str) -> Result<String, ClientError> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("enter the value of {name}, then end with Ctrl-D:");
    }
    let mut value = String::new();
    stdin
        .read_to_string(&mut value)
        .map_err(|error| ClientError::Usage(format!("read the value from stdin: {error}")))?;
    let value = value
        .strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(&value)
        .to_string();
    if value.is_empty() {
        return Err(ClientError::Usage(format!(
            "the value of {name} is empty: pass --value or pipe it on stdin"
        )));
    }
    Ok(value)
}
