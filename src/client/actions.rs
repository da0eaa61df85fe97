//! `slipway action source add|list`, `slipway action mirror owner/repo[@ref]`, `slipway actions`:
//! where remote actions come from and what the engine has mirrored, over its HTTP API.

use protocol::actions::{ActionMirror, ActionSource, AddActionSourceRequest, MirrorActionRequest};
use reqwest::Method;

use super::{ClientError, EngineArgs, EngineClient, block_on, print_json, table};
use crate::exit;

#[derive(Debug, clap::Args)]
pub(crate) struct ActionArgs {
    #[command(subcommand)]
    pub command: ActionCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum ActionCommand {
    /// Where actions that are not mirrored yet are fetched from
    Source {
        #[command(subcommand)]
        command: SourceCommand,
    },
    /// Fetch an action repository now from the first source that has it (admin)
    Mirror {
        /// `owner/repo`, optionally `@ref` (which must exist after the fetch)
        action: String,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum SourceCommand {
    /// Add a source: a git server (`https://github.com`, `http://host/git`) or a local
    /// directory of `owner/repo[.git]` repositories
    Add {
        /// URL or path
        location: String,
        /// The source's name [default: made from the location]
        #[arg(long)]
        name: Option<String>,
    },
    /// The sources, in the order they are tried
    List {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, clap::Args)]
pub(crate) struct ActionsArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub(crate) fn action(args: &ActionArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            ActionCommand::Source {
                command: SourceCommand::Add { location, name },
            } => {
                let location = absolute_location(location);
                let body = AddActionSourceRequest {
                    protocol_version: Some(protocol::PROTOCOL_VERSION),
                    location,
                    name: name.clone(),
                };
                let source: Option<ActionSource> = client
                    .admin_send(Method::POST, "/api/v1/actions/sources", &body)
                    .await?;
                let source = source.ok_or_else(|| {
                    ClientError::Protocol("adding a source answered without a body".into())
                })?;
                println!("action source {} added: {}", source.name, source.location);
            }
            ActionCommand::Source {
                command: SourceCommand::List { json },
            } => {
                let sources: Vec<ActionSource> =
                    client.admin_get("/api/v1/actions/sources").await?;
                if *json {
                    print_json(&sources)?;
                } else {
                    let rows: Vec<Vec<String>> = sources
                        .iter()
                        .map(|source| vec![source.name.clone(), source.location.clone()])
                        .collect();
                    table::print(&["NAME", "LOCATION"], &rows);
                }
            }
            ActionCommand::Mirror { action, json } => {
                let (repository, git_ref) = match action.split_once('@') {
                    Some((repository, git_ref)) => (repository, Some(git_ref.to_string())),
                    None => (action.as_str(), None),
                };
                let body = MirrorActionRequest {
                    protocol_version: Some(protocol::PROTOCOL_VERSION),
                    repository: repository.to_string(),
                    git_ref,
                };
                let mirror: Option<ActionMirror> = client
                    .admin_send(Method::POST, "/api/v1/actions/mirror", &body)
                    .await?;
                let mirror = mirror.ok_or_else(|| {
                    ClientError::Protocol("mirroring answered without a body".into())
                })?;
                if *json {
                    print_json(&mirror)?;
                } else {
                    println!(
                        "mirrored {} from {} ({} refs)",
                        mirror.repository,
                        mirror.source,
                        mirror.refs.len()
                    );
                }
            }
        }
        Ok(exit::SUCCESS)
    })
}

/// `slipway actions`: every mirrored repository, its refs and commits, its last fetch.
pub(crate) fn actions(args: &ActionsArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let mirrors: Vec<ActionMirror> = client.admin_get("/api/v1/actions").await?;
        if args.json {
            print_json(&mirrors)?;
            return Ok(exit::SUCCESS);
        }
        let mut rows = Vec::new();
        for mirror in &mirrors {
            for git_ref in &mirror.refs {
                rows.push(vec![
                    mirror.repository.clone(),
                    git_ref.name.clone(),
                    git_ref.sha.clone(),
                    table::time(mirror.fetched_at_ms * 1000),
                    mirror.source.clone(),
                ]);
            }
        }
        table::print(&["ACTION", "REF", "COMMIT", "FETCHED", "SOURCE"], &rows);
        Ok(exit::SUCCESS)
    })
}

/// A local path is sent absolute (the engine may run elsewhere in the file system); URLs as
/// given.
fn absolute_location(location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    std::path::absolute(location)
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| location.to_string())
}
