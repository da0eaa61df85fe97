//! `slipway dispatch` and `slipway runners token`: HTTP clients of the engine's admin calls
//! (`slipway rerun` lives with the other run commands in `client::runs`). The admin token comes
//! from `--token` (hidden alias `--engine-token`), `SLIPWAY_TOKEN`, or the engine's data
//! directory (`./.slipway/admin.token`).
//!
//! This file must not plan or change runs itself: the engine does.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::exit;

/// Where the engine is and how to prove admin rights.
#[derive(Debug, Clone)]
pub(crate) struct EngineTarget {
    pub url: String,
    pub token: Option<String>,
    pub data_dir: PathBuf,
}

impl EngineTarget {
    fn token(&self) -> Option<String> {
        self.token.clone().or_else(|| {
            std::fs::read_to_string(engine::runs::orchestrator::admin_token_path(&self.data_dir))
                .ok()
                .map(|text| text.trim().to_string())
        })
    }
}

pub(crate) fn dispatch(
    target: &EngineTarget,
    workflow: &str,
    git_ref: &str,
    repo: &str,
    inputs: &[(String, String)],
    json_output: bool,
    wait: bool,
) -> i32 {
    let repository = repository_argument(repo);
    let inputs: serde_json::Map<String, Value> = inputs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let body = json!({
        "protocol_version": protocol::PROTOCOL_VERSION,
        "repository": repository,
        "workflow": workflow,
        "ref": git_ref,
        "inputs": inputs,
    });
    match post(target, "/api/v1/dispatch", &body) {
        Ok(answer) => {
            let run_id = answer
                .get("run_id")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if wait {
                eprintln!(
                    "dispatched {workflow} #{} as run {run_id}; following it",
                    answer.get("run_number").unwrap_or(&Value::Null),
                );
                return crate::client::logs::wait_for_run(
                    &target.url,
                    target.token(),
                    run_id,
                    json_output,
                );
            }
            if json_output {
                println!("{answer}");
            } else {
                println!(
                    "dispatched {workflow} #{} as run {}",
                    answer.get("run_number").unwrap_or(&Value::Null),
                    answer
                        .get("run_id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                );
            }
            exit::SUCCESS
        }
        Err(code) => code,
    }
}

/// What `--repo` sends: a path that exists (or looks like one) made absolute, so the engine can
/// match it against the watched repositories; anything else is a watched repository's name.
fn repository_argument(repo: &str) -> String {
    let path = Path::new(repo);
    let looks_like_path = repo.contains(['/', '\\']) || repo == "." || repo == "..";
    if looks_like_path || path.exists() {
        std::path::absolute(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string()
    } else {
        repo.to_string()
    }
}

pub(crate) fn registration_token(target: &EngineTarget) -> i32 {
    let body = json!({"protocol_version": protocol::PROTOCOL_VERSION});
    match post(target, "/api/v1/admin/registration-tokens", &body) {
        Ok(answer) => {
            println!(
                "{}",
                answer
                    .get("token")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            );
            exit::SUCCESS
        }
        Err(code) => code,
    }
}

/// POSTs `body` with the admin token; an error is printed and becomes exit code 3. With several
/// engine URLs (comma-separated) each is tried in order until one answers: a connection that
/// could not be made, or a 503, moves on to the next; a timeout or a reset after the request
/// went out does not (the engine may have started the run: sending it again could start two).
fn post(target: &EngineTarget, path: &str, body: &Value) -> Result<Value, i32> {
    let urls = ::client::parse_engine_urls(&target.url).map_err(|error| {
        eprintln!("error: --engine: {error}");
        exit::USAGE
    })?;
    let several = urls.len() > 1;
    let mut unreachable = Vec::new();
    for (index, base) in urls.iter().enumerate() {
        let url = format!("{base}{path}");
        match post_to(target, &url, body, several) {
            Err(Some(why)) => {
                if !several {
                    eprintln!("error: failed to reach the engine at {url}: {why}");
                } else if let Some(next) = urls.get(index + 1) {
                    eprintln!("warning: engine {base} unreachable ({why}); using {next}");
                }
                unreachable.push(why);
            }
            Err(None) => return Err(exit::ENGINE),
            Ok(answer) => return Ok(answer),
        }
    }
    if several {
        eprintln!(
            "error: failed to reach the engine at any of its URLs: {}",
            urls.iter()
                .zip(&unreachable)
                .map(|(url, why)| format!("{url}: {why}"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Err(exit::ENGINE)
}

/// One POST to `url`: the answer, `Err(Some(why))` when the engine could not be reached there
/// (or, with `several` URLs to try, answered 503), `Err(None)` when the failure was printed.
fn post_to(
    target: &EngineTarget,
    url: &str,
    body: &Value,
    several: bool,
) -> Result<Value, Option<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| {
            eprintln!("error: failed to start the async runtime: {error}");
            None
        })?;
    let url = url.to_string();
    let token = target.token();
    runtime.block_on(async move {
        // A stalled engine must not hang the CLI: bounded connect, each read, and the whole call.
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .read_timeout(std::time::Duration::from_secs(30))
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|error| {
                eprintln!("error: failed to set up the HTTP client: {error}");
                None
            })?;
        let mut request = client.post(&url).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|error| {
            if several && !error.is_connect() {
                eprintln!(
                    "error: failed to hear from the engine at {url}: {error} (not sent to another URL: it may have acted on it)"
                );
                return None;
            }
            Some(innermost_cause(&error))
        })?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(answer)
        } else if several && status == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            Err(Some(format!("answered {status}")))
        } else {
            let message = answer
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            eprintln!("error: the engine refused the request ({status}): {message}");
            Err(None)
        }
    })
}

/// What actually happened ("Connection refused (os error 111)"): reqwest's own message only
/// repeats the URL.
fn innermost_cause(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message = cause.to_string();
        source = cause.source();
    }
    message
}
