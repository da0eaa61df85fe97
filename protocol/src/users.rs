//! Users, their tokens and roles over the admin API (`/api/v1/users`, `/api/v1/tokens`,
//! `/api/v1/whoami`, `/api/v1/audit/access`): the bodies the CLI sends and the views it reads.
//! A token's secret appears in exactly one answer, `CreatedToken`; every other view names a
//! token by its id and name.
//!
//! **Architecture Invariant:** plain data only; the engine decides who may do what.

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// What a user may do, engine-wide. Each role can do everything the roles below it can:
/// `admin` ⊇ `maintainer` ⊇ `deployer` ⊇ `viewer` (the order of the variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads runs, logs, deployments, releases.
    Viewer,
    /// Dispatches, re-runs and cancels runs, rolls back, promotes and withdraws releases,
    /// approves where named an approver.
    Deployer,
    /// Manages repositories, environments, secrets, variables, runners, actions.
    Maintainer,
    /// Everything, users and tokens included.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Deployer, Role::Maintainer, Role::Admin];

    /// The role's name as the CLI and the API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Maintainer => "maintainer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!("unknown role `{text}`: expected admin, maintainer, deployer or viewer")
            })
    }
}

/// What a token may reach. `all`: whatever its user's role allows; `flags:read`: only the
/// feature-flag reads under `/ofrep/` (for applications), nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum TokenScope {
    /// Everything the user's role allows.
    #[default]
    #[serde(rename = "all")]
    All,
    /// Only `/ofrep/…` flag evaluation.
    #[serde(rename = "flags:read")]
    FlagsRead,
}

impl TokenScope {
    /// The scope's name as the CLI and the API write it.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenScope::All => "all",
            TokenScope::FlagsRead => "flags:read",
        }
    }
}

impl fmt::Display for TokenScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenScope {
    type Err = String;

    fn from_str(text: &str) -> Result<TokenScope, String> {
        match text.trim() {
            "all" => Ok(TokenScope::All),
            "flags:read" => Ok(TokenScope::FlagsRead),
            other => Err(format!(
                "unknown token scope `{other}`: expected `all` or `flags:read`"
            )),
        }
    }
}

/// `POST /api/v1/users`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// The protocol version the client speaks.
    pub protocol_version: u32,
    /// The login: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Engine-wide role (default `viewer`).
    #[serde(default)]
    pub role: Option<Role>,
    /// The git e-mail address pushes by this person carry (maps a pusher to the user).
    #[serde(default)]
    pub git_email: Option<String>,
}

/// One user (`GET /api/v1/users`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The login.
    pub name: String,
    /// Engine-wide role.
    pub role: Role,
    /// The git e-mail address mapped to this user.
    pub git_email: Option<String>,
    /// When the user was added.
    pub created_at: Timestamp,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenRequest {
    /// The protocol version the client speaks.
    pub protocol_version: u32,
    /// Whose token (default: the caller). Only an admin makes tokens for another user.
    #[serde(default)]
    pub user: Option<String>,
    /// A name to tell the user's tokens apart (`laptop`, `ci`).
    pub name: String,
    /// Lifetime in seconds from now; `None`: the engine's default (90 days); `Some(0)`: never
    /// expires.
    #[serde(default)]
    pub expires_in_secs: Option<u64>,
    /// What the token may reach (default `all`).
    #[serde(default)]
    pub scope: Option<TokenScope>,
}

/// The answer to `POST /api/v1/tokens`: the only time the token's secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedToken {
    /// The protocol version the engine speaks.
    pub protocol_version: u32,
    /// The token's metadata.
    pub info: TokenView,
    /// The secret, shown once; the engine keeps only its hash.
    pub token: String,
}

/// One token, without its secret (`GET /api/v1/tokens`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// The token's id (for `revoke`).
    pub id: String,
    /// Whose token.
    pub user: String,
    /// Its name.
    pub name: String,
    /// What it may reach.
    pub scope: TokenScope,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working (`None`: never).
    pub expires_at: Option<Timestamp>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<Timestamp>,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
}

/// `GET /api/v1/whoami`: the caller as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhoAmI {
    /// The user.
    pub user: String,
    /// The user's role.
    pub role: Role,
    /// The token's name.
    pub token: String,
    /// The token's scope.
    pub scope: TokenScope,
}

/// `?user=NAME` on `GET /api/v1/audit/access` and `GET /api/v1/tokens`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserQuery {
    /// Only this user's entries.
    #[serde(default)]
    pub user: Option<String>,
}

/// One entry of the access log: a change made through the API, or a refused call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessEntry {
    /// When.
    pub at: Timestamp,
    /// The authenticated user.
    pub user: String,
    /// The name of the token (or `web session: NAME`) the call came with.
    pub token: String,
    /// `POST`, `PUT`, `PATCH`, `DELETE` (or `GET` for a refused read).
    pub method: String,
    /// The request path.
    pub path: String,
    /// The answer's status code.
    pub status: u16,
    /// For a refusal: the role the route needs.
    pub needed: Option<Role>,
}
