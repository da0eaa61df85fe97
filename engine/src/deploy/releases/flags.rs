//! Release flags in the engine: the flags the OFREP endpoint serves, read from the store. Each
//! watched repository `shop` has one flag per configured environment, `release.shop.<env>`, and
//! `release.shop` names `release.shop.production`. A flag evaluates (by `deploy`'s
//! `evaluate_release_flag`) to the released version a context gets there.
//!
//! This module must not serve HTTP (`api::ofrep` does) nor decide who gets what (`deploy` does).

use deploy::{
    Environment, FlagContext, FlagEvaluationError, FlagResolution, Release, evaluate_release_flag,
};

use super::{ReleaseServiceError, Releases, full_name};
use crate::store::RecordKind;

/// The environment `release.<repo>` (without an environment) names.
pub const DEFAULT_FLAG_ENVIRONMENT: &str = "production";

/// A flag key resolved to a watched repository and an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseFlag {
    /// The key as asked (`release.shop`).
    pub key: String,
    /// `release.<repo>.<environment>`: the key percentage buckets are computed from.
    pub canonical_key: String,
    /// The watched repository's name.
    pub repo: String,
    /// `owner/name`, as releases carry it.
    pub repository: String,
    /// The environment whose releases the flag answers for, e.g. `production`.
    pub environment: String,
}

/// A flag's answer for one context.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagAnswer {
    /// The flag the key resolved to.
    pub flag: ReleaseFlag,
    /// Which release the context gets and why, or why it could not be evaluated.
    pub result: Result<FlagResolution, FlagEvaluationError>,
}

/// Why a key names no flag.
#[derive(Debug, thiserror::Error)]
pub enum FlagLookupError {
    /// The key is not of the form `release.<repo>[.<environment>]` or names no watched repository;
    /// the text says which.
    #[error("{0}")]
    NotFound(String),
    /// Reading the watched repositories or the releases failed.
    #[error(transparent)]
    Service(#[from] ReleaseServiceError),
}

impl Releases {
    /// Evaluates the flag `key` for `context`.
    pub fn evaluate_flag(
        &self,
        key: &str,
        context: &FlagContext,
    ) -> Result<FlagAnswer, FlagLookupError> {
        let flag = self.resolve_flag(key)?;
        let releases: Vec<Release> = self
            .engine
            .store()
            .records(RecordKind::Releases, &format!("{}\0", flag.repository))
            .map_err(ReleaseServiceError::from)?;
        Ok(answer(flag, &releases, context))
    }

    /// Evaluates every flag for `context` (OFREP's bulk evaluation): per watched repository,
    /// `release.<repo>.<env>` for every configured environment and `release.<repo>`, in that
    /// order (repositories by name, environments by name).
    pub fn evaluate_all_flags(
        &self,
        context: &FlagContext,
    ) -> Result<Vec<FlagAnswer>, ReleaseServiceError> {
        let store = self.engine.store();
        let mut repos = store.repos()?;
        repos.sort_by(|a, b| a.name.cmp(&b.name));
        let mut environments: Vec<Environment> = store.records(RecordKind::Environments, "")?;
        environments.sort_by(|a, b| a.name.cmp(&b.name));
        let releases: Vec<Release> = store.records(RecordKind::Releases, "")?;
        let mut answers = Vec::new();
        for repo in repos {
            let repository = full_name(&repo)?;
            for environment in &environments {
                let canonical_key = format!("release.{}.{}", repo.name, environment.name);
                let mut keys = vec![canonical_key.clone()];
                if environment.name == DEFAULT_FLAG_ENVIRONMENT {
                    keys.push(format!("release.{}", repo.name));
                }
                for key in keys {
                    let flag = ReleaseFlag {
                        key,
                        canonical_key: canonical_key.clone(),
                        repo: repo.name.clone(),
                        repository: repository.clone(),
                        environment: environment.name.clone(),
                    };
                    answers.push(answer(flag, &releases, context));
                }
            }
        }
        Ok(answers)
    }

    /// `release.<repo>` or `release.<repo>.<environment>` → the flag, naming what is unknown.
    fn resolve_flag(&self, key: &str) -> Result<ReleaseFlag, FlagLookupError> {
        let Some(rest) = key.strip_prefix("release.") else {
            return Err(FlagLookupError::NotFound(format!(
                "flag `{key}` is unknown: Slipway serves `release.<repo>` and `release.<repo>.<environment>`"
            )));
        };
        let store = self.engine.store();
        let repos = store.repos().map_err(ReleaseServiceError::from)?;
        // The longest watched name that `rest` is or starts with (names may hold dots).
        let found = repos
            .iter()
            .filter_map(|repo| {
                if rest == repo.name {
                    Some((repo, DEFAULT_FLAG_ENVIRONMENT))
                } else {
                    rest.strip_prefix(repo.name.as_str())
                        .and_then(|tail| tail.strip_prefix('.'))
                        .filter(|environment| !environment.is_empty())
                        .map(|environment| (repo, environment))
                }
            })
            .max_by_key(|(repo, _)| repo.name.len());
        let Some((repo, environment)) = found else {
            let names: Vec<String> = repos
                .iter()
                .map(|repo| format!("`{}`", repo.name))
                .collect();
            return Err(FlagLookupError::NotFound(format!(
                "flag `{key}` is unknown: no watched repository `{rest}` ({})",
                if names.is_empty() {
                    "none is watched".to_string()
                } else {
                    format!("watched: {}", names.join(", "))
                }
            )));
        };
        let configured: Option<Environment> = store
            .record(RecordKind::Environments, environment)
            .map_err(ReleaseServiceError::from)?;
        if configured.is_none() {
            return Err(FlagLookupError::NotFound(format!(
                "flag `{key}` is unknown: no environment `{environment}` is configured"
            )));
        }
        Ok(ReleaseFlag {
            key: key.to_string(),
            canonical_key: format!("release.{}.{environment}", repo.name),
            repo: repo.name.clone(),
            repository: full_name(repo)?,
            environment: environment.to_string(),
        })
    }
}

fn answer(flag: ReleaseFlag, releases: &[Release], context: &FlagContext) -> FlagAnswer {
    let result = evaluate_release_flag(
        &flag.canonical_key,
        &flag.repository,
        &flag.environment,
        releases,
        context,
    );
    FlagAnswer { flag, result }
}

/// How many of a list of targeting keys one audience reaches (`release show --keys`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AudienceReach {
    /// The environment the audience applies in, e.g. `production`.
    pub environment: String,
    /// `current` (released there now), or `stage N` of the plan.
    pub stage: String,
    /// The audience as written, e.g. `10%` or `tier:premium`.
    pub audience: String,
    /// Who the audience is, in a sentence.
    pub explanation: String,
    /// How many of the given targeting keys the audience reaches.
    pub reached: usize,
    /// How many targeting keys were given.
    pub of: usize,
}

impl Releases {
    /// A dry run: for the release's current audience and each plan stage in every environment,
    /// how many of `keys` (each `KEY` or `KEY TIER`) it reaches.
    pub fn reach(
        &self,
        tag: &str,
        repo: Option<&str>,
        keys: &[String],
    ) -> Result<Vec<AudienceReach>, ReleaseServiceError> {
        let super::Located { release, repo } = self.locate(tag, repo)?;
        let contexts: Vec<FlagContext> = keys
            .iter()
            .filter_map(|line| {
                let mut words = line.split_whitespace();
                let key = words.next()?;
                let mut attributes = serde_json::Map::new();
                if let Some(tier) = words.next() {
                    attributes.insert("tier".into(), serde_json::Value::String(tier.into()));
                }
                Some(FlagContext {
                    targeting_key: Some(key.to_string()),
                    attributes,
                })
            })
            .collect();
        let mut lines = Vec::new();
        let mut environments: Vec<&String> = release.rollouts.keys().collect();
        for environment in release.plans.keys() {
            if !environments.contains(&environment) {
                environments.push(environment);
            }
        }
        for environment in environments {
            let flag_key = format!("release.{}.{environment}", repo.name);
            let mut audiences: Vec<(String, &deploy::Audience)> = Vec::new();
            if let Some(rollout) = release.rollouts.get(environment) {
                audiences.push(("current".into(), &rollout.audience));
            }
            if let Some(plan) = release.plans.get(environment) {
                for (index, stage) in plan.stages.iter().enumerate() {
                    audiences.push((format!("stage {}", index + 1), &stage.audience));
                }
            }
            for (stage, audience) in audiences {
                let reached = contexts
                    .iter()
                    .filter(|context| {
                        matches!(
                            deploy::audience_reaches(audience, &flag_key, context),
                            Ok(Some(_))
                        )
                    })
                    .count();
                lines.push(AudienceReach {
                    environment: environment.clone(),
                    stage,
                    audience: audience.to_string(),
                    explanation: explain(audience, &flag_key),
                    reached,
                    of: contexts.len(),
                });
            }
        }
        Ok(lines)
    }
}

fn explain(audience: &deploy::Audience, flag_key: &str) -> String {
    match audience {
        deploy::Audience::All => "everyone".into(),
        deploy::Audience::Percent { percent } => format!(
            "targeting keys whose bucket (SHA-256 of `{flag_key}` and the key, in [0, 100)) is below {percent}"
        ),
        deploy::Audience::Tier { tier } => {
            format!("contexts whose `tier` attribute is `{tier}`")
        }
    }
}
