//! The CLI's side of the engine's HTTP API: where the engine is, the admin token, one blocking
//! entry point per command (a current-thread tokio runtime around reqwest), and the exit code.
//!
//! Files: `artifacts.rs` (`artifacts`), `runs.rs` (`runs`, `run-status`, `cancel`, run
//! references), `logs.rs` (`logs`, every job followed live at once over server-sent events),
//! `log_render.rs` (markers → text, the step of each line), `failures.rs` (the failing step
//! and its last lines), `runners.rs` (`runners`), `settings.rs` (`secret`, `var`), `releases.rs` (`release`,
//! `releases`, the environments view), `table.rs`
//! (human tables and times).
//!
//! The engine may be given as several URLs (replicas on one database, `--engine A,B,C`): each
//! command tries them in order and uses the first that answers (the `client` crate's failover);
//! when none does, the error names each URL and why.
//!
//! This module must not know the engine's internals or speak HTTP itself: it calls the engine
//! through the `client` crate with `protocol` types.
//! Exit codes: 3 when the engine cannot be reached or answers with an error, 2 for a request
//! that is wrong before it is sent.

pub(crate) mod actions;
pub(crate) mod artifacts;
pub(crate) mod environments;
pub(crate) mod failures;
pub(crate) mod gc;
pub(crate) mod log_render;
pub(crate) mod logs;
pub(crate) mod releases;
pub(crate) mod repos;
pub(crate) mod runners;
pub(crate) mod runs;
pub(crate) mod settings;
mod table;
pub(crate) mod users;

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::exit;

pub(crate) use runners::runners_list;

/// The longest quiet wait on a followed log: with the client's margin, reads may pause 60 s,
/// longer than the engine's keep-alive on followed logs (15 s), so a quiet follow stays open.
const STREAM_WAIT: Duration = Duration::from_secs(45);

/// Where the engine is and who is asking: flatten this into every command that talks to it.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct EngineArgs {
    /// The engine's URL, or its replicas' URLs separated by commas (tried in order) [default:
    /// read from the data dir, else http://127.0.0.1:7766]
    #[arg(
        long = "engine",
        env = "SLIPWAY_ENGINE",
        value_name = "URL",
        global = true
    )]
    pub engine: Option<String>,
    /// Your API token (`slipway token create`) [default: the data dir's admin.token]
    #[arg(
        long = "token",
        alias = "engine-token",
        env = "SLIPWAY_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub token: Option<String>,
    /// The engine's data dir: its URL and admin token are read from it [default: ./.slipway,
    /// else the engine `slipway serve` last recorded in ~/.config/slipway/config.toml]
    #[arg(
        long = "data",
        alias = "data-dir",
        env = "SLIPWAY_DATA",
        value_name = "DIR",
        global = true
    )]
    pub data: Option<PathBuf>,
}

/// What went wrong talking to the engine; each maps to an exit code (`exit_code`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// Each engine URL tried, with why it did not answer.
    #[error(
        "cannot reach the engine {} (is `slipway serve` running? pass --engine URL or set SLIPWAY_ENGINE)",
        describe_unreachable(tried)
    )]
    Unreachable { tried: Vec<(String, String)> },
    #[error("the engine refused the request ({status}): {message}")]
    Refused { status: StatusCode, message: String },
    #[error("the engine answered something unexpected: {0}")]
    Protocol(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
}

/// `at URL: why` for one URL; `at any of its URLs: A: why; B: why` for several.
fn describe_unreachable(tried: &[(String, String)]) -> String {
    match tried {
        [(url, message)] => format!("at {url}: {message}"),
        _ => format!(
            "at any of its URLs: {}",
            tried
                .iter()
                .map(|(url, message)| format!("{url}: {message}"))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

impl ClientError {
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            ClientError::Usage(_) => exit::USAGE,
            ClientError::Io(_) => exit::FAILURE,
            ClientError::Unreachable { .. }
            | ClientError::Refused { .. }
            | ClientError::Protocol(_) => exit::ENGINE,
        }
    }
}

/// The engine's client (the `client` crate) with the CLI's error messages and exit codes.
#[derive(Debug, Clone)]
pub(crate) struct EngineClient {
    inner: client::EngineClient,
}

impl EngineClient {
    /// From the flags, their environment variables, `./.slipway` or the user config file, in
    /// that order (`config::resolve`).
    pub(crate) fn from_args(args: &EngineArgs) -> Result<EngineClient, ClientError> {
        let target = crate::config::resolve(
            args.engine.as_deref(),
            args.token.as_deref(),
            args.data.as_deref(),
        );
        EngineClient::new(&target.url, target.token)
    }

    /// A client for the engine at `url`: one URL, or several separated by commas (each
    /// checked: a bad entry is a usage error naming it).
    pub(crate) fn new(url: &str, token: Option<String>) -> Result<EngineClient, ClientError> {
        let urls = client::parse_engine_urls(url).map_err(ClientError::Usage)?;
        let inner = client::EngineClient::new(&urls.join(","), None, STREAM_WAIT)
            .map_err(|error| ClientError::Usage(error.to_string()))?
            .with_admin_token(token);
        Ok(EngineClient { inner })
    }

    #[allow(dead_code)] // for the orchestrator's `dispatch` and `rerun` messages
    pub(crate) fn base_url(&self) -> &str {
        self.inner.base_url()
    }

    /// `GET path` → JSON.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.inner
            .get(path)
            .await
            .map_err(|error| self.error(error))
    }

    /// `GET path` with the admin token → JSON.
    pub(crate) async fn admin_get<T: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ClientError> {
        self.inner
            .admin_get(path)
            .await
            .map_err(|error| self.error(error))
    }

    /// `GET path` → the raw response (text logs, event streams).
    pub(crate) async fn get_raw(&self, path: &str) -> Result<Response, ClientError> {
        self.inner
            .get_stream(path)
            .await
            .map_err(|error| self.error(error))
    }

    /// `method path` with a JSON body carrying `protocol_version`, sent with the admin token.
    pub(crate) async fn admin_send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<Option<T>, ClientError> {
        self.inner
            .admin_send(method, path, body)
            .await
            .map_err(|error| self.error(error))
    }

    /// `DELETE path` with the admin token.
    pub(crate) async fn admin_delete(&self, path: &str) -> Result<(), ClientError> {
        self.inner
            .admin_delete(path)
            .await
            .map_err(|error| self.error(error))
    }

    /// The client's error as the CLI says it: unreachable, refused (with a hint when a 401
    /// came without a token), or an unexpected answer.
    fn error(&self, error: client::ClientError) -> ClientError {
        match error {
            client::ClientError::Network { message, .. } => ClientError::Unreachable {
                tried: vec![(self.inner.base_url().to_string(), message)],
            },
            client::ClientError::Unreachable { tried } => ClientError::Unreachable { tried },
            client::ClientError::Status {
                status, message, ..
            } => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut message = message;
                if status == StatusCode::UNAUTHORIZED && !self.inner.has_admin_token() {
                    message.push_str(
                        " (no token: pass --token or --data DIR, set SLIPWAY_TOKEN or SLIPWAY_DATA, or start the engine with `slipway serve`, which records it in ~/.config/slipway/config.toml; `slipway token create` makes one)",
                    );
                }
                ClientError::Refused { status, message }
            }
            client::ClientError::Decode { message, .. } => ClientError::Protocol(message),
            client::ClientError::Setup(message) => ClientError::Usage(message),
        }
    }
}

/// Runs one command's future on a current-thread runtime and turns its result into an exit
/// code, printing the error (if any) to stderr.
pub(crate) fn block_on<F>(future: F) -> i32
where
    F: std::future::Future<Output = Result<i32, ClientError>>,
{
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("slipway: start the async runtime: {error}");
            return exit::FAILURE;
        }
    };
    match runtime.block_on(future) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("slipway: {error}");
            error.exit_code()
        }
    }
}

/// Prints `value` as pretty JSON on stdout.
pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<(), ClientError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|error| ClientError::Protocol(error.to_string()))?;
    println!("{text}");
    Ok(())
}

/// Percent-encodes a path segment or query value (job keys carry matrix values, scopes carry
/// slashes).
pub(crate) fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}
