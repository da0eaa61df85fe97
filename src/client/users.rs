//! `slipway user add|list|rm`, `slipway token create|list|revoke` and `slipway whoami`: users,
//! their roles and their API tokens over the engine's HTTP API. A new token is printed once
//! (the engine keeps only its hash).
//!
//! This file must not decide who may do what: the engine's role table does.

use reqwest::Method;

use super::{ClientError, EngineArgs, EngineClient, block_on, encode_component, print_json, table};
use crate::exit;
use protocol::users::{
    AccessEntry, CreateTokenRequest, CreateUserRequest, CreatedToken, Role, TokenScope, TokenView,
    User, WhoAmI,
};

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user (admin)
    Add {
        /// The login
        name: String,
        /// admin, maintainer, deployer or viewer
        #[arg(long, default_value = "viewer", value_parser = parse_role)]
        role: Role,
        /// The git e-mail address the person pushes with (maps their pushes to this user)
        #[arg(long = "git-email", value_name = "EMAIL")]
        git_email: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// List users (maintainer)
    List {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Remove a user and revoke their tokens (admin)
    Rm {
        /// The user to remove
        name: String,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token and print it once (for another user: admin)
    Create {
        /// Whose token [default: yours]
        #[arg(long)]
        user: Option<String>,
        /// A name to tell your tokens apart
        #[arg(long, default_value = "cli")]
        name: String,
        /// Lifetime: `90d`, `12h`, `30m`, `3600s`, or `never` [default: 90d]
        #[arg(long, value_parser = parse_lifetime)]
        expires: Option<u64>,
        /// `all` (what the user's role allows) or `flags:read` (only /ofrep/ flag reads)
        #[arg(long, default_value = "all", value_parser = parse_scope)]
        scope: TokenScope,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// List tokens (yours; an admin sees everyone's, or `--user NAME`'s)
    List {
        /// Only this user's tokens (admin)
        #[arg(long)]
        user: Option<String>,
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token by its id (yours; an admin's: anyone's)
    Revoke {
        /// The token's id (`slipway token list`)
        id: String,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WhoamiArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

pub(crate) fn user(args: &UserArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            UserCommand::Add {
                name,
                role,
                git_email,
                json,
            } => {
                let request = CreateUserRequest {
                    protocol_version: protocol::PROTOCOL_VERSION,
                    name: name.clone(),
                    role: Some(*role),
                    git_email: git_email.clone(),
                };
                let user: Option<User> = client
                    .admin_send(Method::POST, "/api/v1/users", &request)
                    .await?;
                let user = user.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
                if *json {
                    print_json(&user)?;
                } else {
                    println!(
                        "added user {} ({}); make their token with `slipway token create --user {}`",
                        user.name, user.role, user.name
                    );
                }
            }
            UserCommand::List { json } => {
                let users: Vec<User> = client.get("/api/v1/users").await?;
                if *json {
                    print_json(&users)?;
                } else {
                    let rows: Vec<Vec<String>> = users
                        .iter()
                        .map(|user| {
                            vec![
                                user.name.clone(),
                                user.role.to_string(),
                                user.git_email.clone().unwrap_or_default(),
                                time(Some(user.created_at)),
                            ]
                        })
                        .collect();
                    table::print(&["USER", "ROLE", "GIT EMAIL", "ADDED"], &rows);
                }
            }
            UserCommand::Rm { name } => {
                client
                    .admin_delete(&format!("/api/v1/users/{}", encode_component(name)))
                    .await?;
                println!("removed user {name} and revoked their tokens");
            }
        }
        Ok(exit::SUCCESS)
    })
}

pub(crate) fn token(args: &TokenArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        match &args.command {
            TokenCommand::Create {
                user,
                name,
                expires,
                scope,
                json,
            } => {
                let request = CreateTokenRequest {
                    protocol_version: protocol::PROTOCOL_VERSION,
                    user: user.clone(),
                    name: name.clone(),
                    expires_in_secs: *expires,
                    scope: Some(*scope),
                };
                let created: Option<CreatedToken> = client
                    .admin_send(Method::POST, "/api/v1/tokens", &request)
                    .await?;
                let created =
                    created.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
                if *json {
                    print_json(&created)?;
                } else {
                    eprintln!(
                        "token `{}` (id {}) for {}, scope {}, expires {}; shown once, keep it safe:",
                        created.info.name,
                        created.info.id,
                        created.info.user,
                        created.info.scope,
                        created
                            .info
                            .expires_at
                            .map_or("never".to_string(), |at| time(Some(at)))
                    );
                    println!("{}", created.token);
                }
            }
            TokenCommand::List { user, json } => {
                let path = match user {
                    Some(user) => format!("/api/v1/tokens?user={}", encode_component(user)),
                    None => "/api/v1/tokens".to_string(),
                };
                let tokens: Vec<TokenView> = client.get(&path).await?;
                if *json {
                    print_json(&tokens)?;
                } else {
                    let rows: Vec<Vec<String>> = tokens
                        .iter()
                        .map(|token| {
                            vec![
                                token.id.clone(),
                                token.user.clone(),
                                token.name.clone(),
                                token.scope.to_string(),
                                time(Some(token.created_at)),
                                token.expires_at.map_or("never".into(), |at| time(Some(at))),
                                time(token.last_used_at),
                                token.revoked_at.map_or(String::new(), |at| {
                                    format!("revoked {}", time(Some(at)))
                                }),
                            ]
                        })
                        .collect();
                    table::print(
                        &[
                            "ID",
                            "USER",
                            "NAME",
                            "SCOPE",
                            "CREATED",
                            "EXPIRES",
                            "LAST USED",
                            "STATE",
                        ],
                        &rows,
                    );
                }
            }
            TokenCommand::Revoke { id } => {
                let path = format!("/api/v1/tokens/{}", encode_component(id));
                let revoked: Option<TokenView> = client
                    .admin_send(Method::DELETE, &path, &serde_json::json!({}))
                    .await?;
                let revoked =
                    revoked.ok_or_else(|| ClientError::Protocol("no answer body".into()))?;
                println!(
                    "revoked token `{}` (id {}) of {}",
                    revoked.name, revoked.id, revoked.user
                );
            }
        }
        Ok(exit::SUCCESS)
    })
}

pub(crate) fn whoami(args: &WhoamiArgs) -> i32 {
    block_on(async {
        let client = EngineClient::from_args(&args.engine)?;
        let me: WhoAmI = client.get("/api/v1/whoami").await?;
        if args.json {
            print_json(&me)?;
        } else {
            println!(
                "{} ({}) with token `{}` (scope {})",
                me.user, me.role, me.token, me.scope
            );
        }
        Ok(exit::SUCCESS)
    })
}

/// The access log as a table (for `slipway audit --user`).
pub(crate) fn print_access(entries: &[AccessEntry]) {
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            vec![
                time(Some(entry.at)),
                entry.user.clone(),
                entry.token.clone(),
                format!("{} {}", entry.method, entry.path),
                match entry.needed {
                    Some(role) => format!("{} refused (needs {role})", entry.status),
                    None => entry.status.to_string(),
                },
            ]
        })
        .collect();
    table::print(&["AT", "USER", "TOKEN", "REQUEST", "ANSWER"], &rows);
}

fn time(at: Option<jiff::Timestamp>) -> String {
    at.map_or(String::new(), |at| {
        at.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
    })
}

fn parse_role(text: &str) -> Result<Role, String> {
    text.parse()
}

fn parse_scope(text: &str) -> Result<TokenScope, String> {
    text.parse()
}

/// `90d`, `12h`, `30m`, `45s` → seconds; `never` → 0 (the API's "no expiry").
fn parse_lifetime(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("never") {
        return Ok(0);
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let scale = match unit {
        "d" => 86_400,
        "h" => 3_600,
        "m" => 60,
        "s" => 1,
        _ => {
            return Err(format!(
                "`{text}`: give a number and a unit (d, h, m, s), or `never`"
            ));
        }
    };
    let count: u64 = number
        .parse()
        .map_err(|_| format!("`{text}`: give a number and a unit (d, h, m, s), or `never`"))?;
    match count.checked_mul(scale) {
        Some(0) | None => Err(format!(
            "`{text}`: must be more than zero and not absurdly long"
        )),
        Some(seconds) => Ok(seconds),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse() {
        assert_eq!(parse_lifetime("90d"), Ok(90 * 86_400));
        assert_eq!(parse_lifetime("2h"), Ok(7_200));
        assert_eq!(parse_lifetime("never"), Ok(0));
        assert!(parse_lifetime("0d").is_err());
        assert!(parse_lifetime("5 weeks").is_err());
        assert!(parse_lifetime("d").is_err());
    }
}
