//! Where the engine is, found the same way by every command that talks to it, and the user's
//! own files: the config file `slipway serve` writes (`$XDG_CONFIG_HOME/slipway/config.toml`,
//! else `~/.config/slipway/config.toml`) and the cache folder of local runs
//! (`$XDG_CACHE_HOME/slipway`, else `~/.cache/slipway`).
//!
//! The engine's URL and admin token come from, in order: the flags (`--engine`, `--token`,
//! `--data`), their environment variables (`SLIPWAY_ENGINE`, `SLIPWAY_TOKEN`, `SLIPWAY_DATA`),
//! the data dir `./.slipway` when it holds an admin token, and last the user config file. A data
//! dir names its engine's URL in `<data>/engine.url` (written by `serve`), so a second terminal
//! needs no flag even with a non-default `--listen`.
//!
//! Any of these may name several URLs of one engine (replicas on one database) separated by
//! commas; they are checked and tried in order where the engine is called (`client`).
//!
//! This file reads and writes small files only; it never talks to the engine.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The engine used when nothing names one.
pub(crate) const DEFAULT_ENGINE: &str = "http://127.0.0.1:7766";
/// The data dir of `serve` (and the one looked for) when `--data` is not given.
pub(crate) const DEFAULT_DATA_DIR: &str = ".slipway";
/// The file in a data dir naming the URL its engine listens on.
const ENGINE_URL_FILE: &str = "engine.url";

/// What `slipway serve` writes to the user config file: the last engine started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserConfig {
    /// The engine's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// The engine's data dir (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// The file holding the engine's admin token (absolute).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
}

/// The engine a command talks to and the admin token it sends, with where each came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EngineTarget {
    /// The engine's URL.
    pub url: String,
    /// The admin token, when one was found.
    pub token: Option<String>,
    /// The data dir the URL or token was read from, if any.
    pub data_dir: Option<PathBuf>,
}

/// The user config file's path: `$XDG_CONFIG_HOME/slipway/config.toml` (an absolute
/// `XDG_CONFIG_HOME`), else `$HOME/.config/slipway/config.toml`; `None` without either.
pub(crate) fn user_config_path() -> Option<PathBuf> {
    user_dir("XDG_CONFIG_HOME", ".config").map(|dir| dir.join("slipway").join("config.toml"))
}

/// The user cache folder of slipway: `$XDG_CACHE_HOME/slipway`, else `$HOME/.cache/slipway`,
/// else a per-user folder of the system temp dir.
pub(crate) fn user_cache_dir() -> PathBuf {
    user_dir("XDG_CACHE_HOME", ".cache")
        .map(|dir| dir.join("slipway"))
        .unwrap_or_else(|| {
            std::env::temp_dir().join(format!(
                "slipway-{}",
                std::env::var("USER").unwrap_or_default()
            ))
        })
}

/// Reads the user config file; `Ok(None)` when there is none, an error naming the file when it
/// cannot be read or parsed.
pub(crate) fn read_user_config() -> Result<Option<UserConfig>, String> {
    let Some(path) = user_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("read {}: {error}", path.display())),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|error| format!("parse {}: {}", path.display(), error.message()))
}

/// Records the engine `serve` started: `<data>/engine.url`, and the user config file (0600,
/// its folder created). Returns the config file's path, or why it could not be written.
pub(crate) fn record_engine(url: &str, data_dir: &Path) -> Result<Option<PathBuf>, String> {
    let url_file = data_dir.join(ENGINE_URL_FILE);
    files::write_private(
        &url_file,
        format!("{url}\n").as_bytes(),
        files::Existing::Replace,
    )
    .map_err(|error| format!("write {}: {error}", url_file.display()))?;
    let Some(path) = user_config_path() else {
        return Ok(None);
    };
    let config = UserConfig {
        engine: Some(url.to_string()),
        data: Some(data_dir.to_path_buf()),
        token_file: Some(engine::runs::orchestrator::admin_token_path(data_dir)),
    };
    let body = toml::to_string(&config).map_err(|error| format!("encode the config: {error}"))?;
    let text = format!(
        "# Written by `slipway serve` at each start: the engine commands talk to when no flag,\n\
         # SLIPWAY_ENGINE/SLIPWAY_TOKEN/SLIPWAY_DATA or ./.slipway names one.\n{body}"
    );
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| format!("create {}: {error}", parent.display()))?;
    }
    files::write_private(&path, text.as_bytes(), files::Existing::Replace)
        .map_err(|error| format!("write {}: {error}", path.display()))?;
    Ok(Some(path))
}

/// Finds the engine and the admin token: flags (with their environment variables, which clap
/// has already merged in), then `./.slipway`, then the user config file. A token from the config
/// file is only sent to the engine the config file names (with a list of URLs: only when each
/// of them is one the config file names).
pub(crate) fn resolve(
    engine: Option<&str>,
    token: Option<&str>,
    data: Option<&Path>,
) -> EngineTarget {
    let mut url = non_empty(engine);
    let mut token = non_empty(token);
    let data_dir = data.map(Path::to_path_buf).or_else(|| {
        let default = PathBuf::from(DEFAULT_DATA_DIR);
        engine::runs::orchestrator::admin_token_path(&default)
            .is_file()
            .then_some(default)
    });
    if let Some(dir) = &data_dir {
        if url.is_none() {
            url = read_trimmed(&dir.join(ENGINE_URL_FILE));
        }
        if token.is_none() {
            token = read_trimmed(&engine::runs::orchestrator::admin_token_path(dir));
        }
    }
    if (url.is_none() || token.is_none())
        && data_dir.is_none()
        && let Ok(Some(config)) = read_user_config()
    {
        let same_engine = match (&url, &config.engine) {
            (None, _) => true,
            (Some(given), Some(named)) => same_url(given, named),
            (Some(_), None) => false,
        };
        if url.is_none() {
            url = config.engine.clone();
        }
        if token.is_none() && same_engine {
            token = config.token_file.as_deref().and_then(read_trimmed);
        }
        return EngineTarget {
            url: url.unwrap_or_else(|| DEFAULT_ENGINE.to_string()),
            token,
            data_dir: config.data,
        };
    }
    EngineTarget {
        url: url.unwrap_or_else(|| DEFAULT_ENGINE.to_string()),
        token,
        data_dir,
    }
}

/// `$VAR` when it is an absolute path, else `$HOME/<fallback>`.
fn user_dir(variable: &str, fallback: &str) -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(variable).map(PathBuf::from)
        && dir.is_absolute()
    {
        return Some(dir);
    }
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|home| home.is_absolute())
        .map(|home| home.join(fallback))
}

fn non_empty(text: Option<&str>) -> Option<String> {
    text.map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|text| text.trim().to_string())
        .filter(|text| !text.is_empty())
}

/// Whether every URL of `given` (one URL or a comma-separated list) is one of `named`'s.
fn same_url(given: &str, named: &str) -> bool {
    let urls = |list: &str| -> Vec<String> {
        list.split(',')
            .map(|url| url.trim().trim_end_matches('/').to_string())
            .collect()
    };
    let named = urls(named);
    urls(given).iter().all(|url| named.contains(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_compare_without_a_trailing_slash() {
        assert!(same_url("http://127.0.0.1:7766/", "http://127.0.0.1:7766"));
        assert!(!same_url("http://127.0.0.1:7767", "http://127.0.0.1:7766"));
        // A list gets the config file's token only when each of its URLs is the named one's.
        assert!(same_url(
            " http://127.0.0.1:7766/ ",
            "http://127.0.0.1:7766"
        ));
        assert!(!same_url(
            "http://127.0.0.1:7766,http://10.0.0.9:7766",
            "http://127.0.0.1:7766"
        ));
    }

    #[test]
    fn the_config_file_round_trips_and_rejects_unknown_keys() {
        let config = UserConfig {
            engine: Some("http://127.0.0.1:9000".into()),
            data: Some("/srv/slipway".into()),
            token_file: Some("/srv/slipway/admin.token".into()),
        };
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<UserConfig>(&text).unwrap(), config);
        assert!(toml::from_str::<UserConfig>("engin = \"x\"").is_err());
    }
}
