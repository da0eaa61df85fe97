//! Acting as a named person in tests written before users existed: their `--as NAME` becomes
//! NAME's own token. The user is added (role `maintainer`, so every command those tests run as
//! a person is within reach) and a token made through the CLI with the admin token, once per
//! engine and name. Approvals, self-approval and audit then work on authenticated users, which
//! is what those tests meant to prove.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Mutex, PoisonError};

use super::engine::BIN;

static TOKENS: Mutex<Option<HashMap<(String, String), String>>> = Mutex::new(None);

/// `args` without `--as NAME`, and the token to send: NAME's when `--as` was given, else
/// `admin_token`.
pub(crate) fn acting<'a>(url: &str, admin_token: &str, args: &[&'a str]) -> (Vec<&'a str>, String) {
    let mut rest = Vec::new();
    let mut name = None;
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if *word == "--as" {
            name = words.next().copied();
        } else {
            rest.push(*word);
        }
    }
    match name {
        Some(name) => (rest, token_of(url, admin_token, name)),
        None => (rest, admin_token.to_string()),
    }
}

/// NAME's token on the engine at `url`, made the first time it is asked for.
pub(crate) fn token_of(url: &str, admin_token: &str, name: &str) -> String {
    // Keyed by the engine's admin token too: a later engine may listen on a port an earlier
    // test's engine used, and must not be sent that engine's token.
    let key = (format!("{url} {admin_token}"), name.to_string());
    if let Some(token) = TOKENS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .get(&key)
    {
        return token.clone();
    }
    let cli = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .env("SLIPWAY_ENGINE", url)
            .env("SLIPWAY_TOKEN", admin_token)
            .output()
            .expect("run the slipway CLI")
    };
    // It may exist already (an engine restarted on the same data).
    let _ = cli(&["user", "add", name, "--role", "maintainer"]);
    let made = cli(&["token", "create", "--user", name, "--name", "test"]);
    assert!(made.status.success(), "token create for {name}: {made:?}");
    let token = String::from_utf8_lossy(&made.stdout).trim().to_string();
    TOKENS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashMap::new)
        .insert(key, token.clone());
    token
}
