//! What the deployments service reads from a deployment job's spec (who, what, the
//! `deployment:` block) and adds to it when it starts (environment variables and secrets).
//! It must not decide whether the job may run.

use deploy::{DeploymentSpec, Environment, Version};
use jiff::Timestamp;
use protocol::JobSpec;
use serde_json::Value;

use super::{DeployError, Deployments};

impl Deployments {
    /// Environment variables overlay the `vars` context; environment secrets the job's
    /// templates name are added (they reach a job only once its gate has opened).
    pub(super) fn add_environment_settings(
        &self,
        spec: &mut JobSpec,
        environment: &Environment,
    ) -> Result<(), DeployError> {
        let scope = format!("env:{}", environment.name);
        let mut variables: Vec<(String, String)> = environment
            .variables
            .iter()
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        if let Ok(stored) = self.engine.store().variables(Some(&scope)) {
            variables.extend(stored.into_iter().map(|record| (record.name, record.value)));
        }
        if !variables.is_empty() {
            let vars = spec
                .contexts
                .entry("vars".to_string())
                .or_insert_with(|| Value::Object(Default::default()));
            if !vars.is_object() {
                *vars = Value::Object(Default::default());
            }
            if let Value::Object(map) = vars {
                for (name, value) in variables {
                    map.insert(name, Value::String(value));
                }
            }
        }
        let secrets = self.engine.environment_secrets(&scope).map_err(|error| {
            DeployError::Invalid(format!(
                "environment `{}` secrets: {error}",
                environment.name
            ))
        })?;
        if !secrets.is_empty() {
            let granted = scheduler::secrets_for_spec(spec, &secrets);
            spec.secrets.extend(granted);
        }
        Ok(())
    }
}

/// Who, what and where, read from the job's `github` context.
pub(super) struct JobFacts {
    pub(super) actor: String,
    pub(super) git_ref: String,
    pub(super) sha: String,
    pub(super) repository: String,
}

impl JobFacts {
    /// The facts the engine planned the job with (`JobSpec.run`). A job stored before run facts
    /// existed has none: its `github` context still holds them.
    pub(super) fn of(spec: &JobSpec) -> JobFacts {
        if !spec.run.sha.is_empty() {
            return JobFacts {
                actor: spec.run.actor.clone(),
                git_ref: spec.run.git_ref.clone(),
                sha: spec.run.sha.clone(),
                repository: spec.run.repository.clone(),
            };
        }
        let github = spec.contexts.get("github");
        let text = |key: &str| {
            github
                .and_then(|github| github.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        JobFacts {
            actor: text("actor"),
            git_ref: text("ref"),
            sha: text("sha"),
            repository: text("repository"),
        }
    }

    /// The version deployed; `committed_at` is read from git by the caller (`git::commit_time`).
    pub(super) fn version(&self, committed_at: Option<Timestamp>) -> Version {
        let mut version = Version::new(&self.sha);
        version.tag = self.git_ref.strip_prefix("refs/tags/").map(str::to_string);
        version.committed_at = committed_at;
        version
    }
}

pub(super) fn parse_spec(
    spec: &JobSpec,
    environment: &Environment,
) -> Result<DeploymentSpec, String> {
    let block = spec.deployment_block.clone().unwrap_or(Value::Null);
    DeploymentSpec::parse(&block, environment.default_strategy).map_err(|error| error.to_string())
}
