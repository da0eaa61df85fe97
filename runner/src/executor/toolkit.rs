//! What points the official actions (`actions/cache@v4`, …) at the engine's services: the job's
//! runtime token and the URLs of `engine::api::toolkit`, as the `ACTIONS_*` variables GitHub's
//! toolkit reads. The node action runner gives `toolkit_env` to every JavaScript action; `run:`
//! steps get it only when the runner is started with `--toolkit-env-in-run-steps`.
//!
//! The same token is the job's `github.token` / `secrets.GITHUB_TOKEN` (`give_job_token`): a
//! per-job token the engine verifies, good for the engine's cache and artifact services while the
//! job's lease lasts. It is a secret: masked in every log line.
//!
//! No I/O here: plain values for the executor and the agent.

use protocol::JobSpec;
use serde_json::Value;

/// Where the toolkit's services live under the engine's URL (the engine's
/// `api::toolkit::TOOLKIT_PREFIX`).
pub const TOOLKIT_PATH: &str = "/api/v1/toolkit/";

/// How one job reaches the engine's toolkit services.
#[derive(Clone, PartialEq, Eq)]
pub struct ToolkitAccess {
    /// The engine's base URL as the runner reaches it (`http://host:port`): of several replicas'
    /// URLs, the one that answered when the job was leased.
    pub engine_url: String,
    /// The job's runtime token (from its lease).
    pub runtime_token: String,
}

impl std::fmt::Debug for ToolkitAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolkitAccess")
            .field("engine_url", &self.engine_url)
            .field("runtime_token", &"***")
            .finish()
    }
}

/// The env a JavaScript action gets for the engine's services: `ACTIONS_RUNTIME_TOKEN`,
/// `ACTIONS_CACHE_URL`, `ACTIONS_RESULTS_URL`, `ACTIONS_RUNTIME_URL` (each URL ends with `/`, as
/// the toolkit appends `_apis/…` to it). `ACTIONS_CACHE_SERVICE_V2` is not set: the engine speaks
/// the cache protocol the toolkit uses without it.
pub fn toolkit_env(access: &ToolkitAccess) -> Vec<(String, String)> {
    let base = format!("{}{TOOLKIT_PATH}", access.engine_url.trim_end_matches('/'));
    vec![
        (
            "ACTIONS_RUNTIME_TOKEN".to_string(),
            access.runtime_token.clone(),
        ),
        ("ACTIONS_CACHE_URL".to_string(), base.clone()),
        ("ACTIONS_RESULTS_URL".to_string(), base.clone()),
        ("ACTIONS_RUNTIME_URL".to_string(), base),
    ]
}

/// Makes `token` the job's `github.token` and `secrets.GITHUB_TOKEN` (so it is masked like every
/// secret). A `GITHUB_TOKEN` the spec carries already is kept.
pub fn give_job_token(spec: &mut JobSpec, token: &str) {
    if let Some(Value::Object(github)) = spec.contexts.get_mut("github") {
        let empty = github
            .get("token")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty);
        if empty {
            github.insert("token".to_string(), Value::String(token.to_string()));
        }
    }
    spec.secrets
        .entry("GITHUB_TOKEN".to_string())
        .or_insert_with(|| token.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_env_points_every_service_at_the_engine() {
        let access = ToolkitAccess {
            engine_url: "http://127.0.0.1:7766/".into(),
            runtime_token: "s3cr3t".into(),
        };
        let env = toolkit_env(&access);
        let get = |name: &str| {
            env.iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(get("ACTIONS_RUNTIME_TOKEN"), Some("s3cr3t"));
        assert_eq!(
            get("ACTIONS_CACHE_URL"),
            Some("http://127.0.0.1:7766/api/v1/toolkit/")
        );
        assert_eq!(get("ACTIONS_RESULTS_URL"), get("ACTIONS_CACHE_URL"));
        assert_eq!(get("ACTIONS_RUNTIME_URL"), get("ACTIONS_CACHE_URL"));
        assert_eq!(get("ACTIONS_CACHE_SERVICE_V2"), None);
        assert!(!format!("{access:?}").contains("s3cr3t"));
    }

    #[test]
    fn the_token_becomes_github_token_and_a_masked_secret() {
        let mut spec = JobSpec::default();
        spec.contexts.insert(
            "github".into(),
            serde_json::json!({"token": "", "ref": "x"}),
        );
        give_job_token(&mut spec, "tok");
        assert_eq!(spec.contexts["github"]["token"], "tok");
        assert_eq!(spec.secrets["GITHUB_TOKEN"], "tok");
    }
}
