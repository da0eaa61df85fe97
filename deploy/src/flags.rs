//! Release flags: the released version one user should get, as an OpenFeature flag evaluates
//! it. For a repository and an environment, the newest release (by creation) whose audience
//! there reaches the evaluation context wins: `all` reaches everyone, `10%` the users whose
//! bucket (`bucket`) is below 10, `tier:premium` the contexts whose `tier` attribute is
//! `premium`. A user no newer release reaches gets an older one released to everyone, so a
//! withdrawn release sends its users back to the previous version.
//!
//! Reasons are OpenFeature's: `STATIC` (the newest release is everyone's), `SPLIT` (reached by
//! a percentage), `TARGETING_MATCH` (reached by a tier), `DEFAULT` (no newer release reached
//! the user, who gets an older one released to everyone).
//!
//! This module must not read a clock, the store or HTTP; the engine serves it (`api::ofrep`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::bucket::in_percentage;
use super::release::{Audience, Release};

/// An OpenFeature evaluation context: the targeting key and the other attributes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagContext {
    /// The user's stable key (OFREP's `targetingKey`), hashed to place them in a percentage; `None`
    /// when not given.
    pub targeting_key: Option<String>,
    /// Every other field of the context, e.g. `tier`, matched by tier audiences.
    pub attributes: Map<String, Value>,
}

/// Why a context got its value (OpenFeature's reason codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FlagReason {
    /// The newest release is released to everyone.
    Static,
    /// A percentage audience reached the user.
    Split,
    /// A tier audience reached the user (its `tier` attribute).
    TargetingMatch,
    /// No newer release reached the user, who gets an older one released to everyone.
    Default,
}

/// The version a context gets.
#[derive(Debug, Clone, PartialEq)]
pub struct FlagResolution {
    /// The tag of the release the context gets, e.g. `v1.4.0`.
    pub tag: String,
    /// The commit sha of that release.
    pub sha: String,
    /// The audience that reached the context.
    pub audience: Audience,
    /// Why this release reached the context.
    pub reason: FlagReason,
}

/// Why a flag gives no value for a context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagEvaluationError {
    /// A percentage audience decides and the context has no targeting key.
    #[error(
        "release `{tag}` is released to {percent}% in `{environment}`: the context needs a `targetingKey` to be placed"
    )]
    TargetingKeyMissing {
        /// The release whose percentage decides.
        tag: String,
        /// Its share of users, in percent.
        percent: u8,
        /// The environment evaluated, e.g. `production`.
        environment: String,
    },
    /// Nothing released in that environment reaches the context.
    #[error("no release of `{repository}` in `{environment}` reaches this context")]
    NothingReleased {
        /// The repository, as `owner/name`.
        repository: String,
        /// The environment evaluated, e.g. `production`.
        environment: String,
    },
}

impl FlagContext {
    /// Reads OFREP's `context` object: `targetingKey` and every other field as an attribute.
    /// A `targetingKey` that is not a string is named as the field at fault.
    pub fn from_json(context: Option<&Value>) -> Result<FlagContext, String> {
        let Some(context) = context else {
            return Ok(FlagContext::default());
        };
        let Value::Object(fields) = context else {
            return Err("`context` must be an object".into());
        };
        let mut attributes = fields.clone();
        let targeting_key = match attributes.remove("targetingKey") {
            None | Some(Value::Null) => None,
            Some(Value::String(key)) => Some(key),
            Some(_) => return Err("`context.targetingKey` must be a string".into()),
        };
        Ok(FlagContext {
            targeting_key: targeting_key.filter(|key| !key.is_empty()),
            attributes,
        })
    }

    fn tier(&self) -> Option<&str> {
        self.attributes.get("tier").and_then(Value::as_str)
    }
}

impl FlagReason {
    /// The OFREP spelling (`TARGETING_MATCH`).
    pub fn as_str(self) -> &'static str {
        match self {
            FlagReason::Static => "STATIC",
            FlagReason::Split => "SPLIT",
            FlagReason::TargetingMatch => "TARGETING_MATCH",
            FlagReason::Default => "DEFAULT",
        }
    }
}

/// Whether `audience` reaches `context` for the flag `flag_key`, and by which reason; an error
/// when a percentage decides and the context has no targeting key.
pub fn audience_reaches(
    audience: &Audience,
    flag_key: &str,
    context: &FlagContext,
) -> Result<Option<FlagReason>, u8> {
    match audience {
        Audience::All => Ok(Some(FlagReason::Static)),
        Audience::Percent { percent } => match &context.targeting_key {
            Some(key) => Ok(in_percentage(flag_key, key, *percent).then_some(FlagReason::Split)),
            None => Err(*percent),
        },
        Audience::Tier { tier } => Ok(context
            .tier()
            .is_some_and(|given| given.eq_ignore_ascii_case(tier))
            .then_some(FlagReason::TargetingMatch)),
    }
}

/// The released version of `repository` that `context` gets in `environment`: `releases` are the
/// repository's releases (any order). `flag_key` seeds the percentage buckets (the canonical
/// key, so every alias of a flag places a user alike).
pub fn evaluate_release_flag(
    flag_key: &str,
    repository: &str,
    environment: &str,
    releases: &[Release],
    context: &FlagContext,
) -> Result<FlagResolution, FlagEvaluationError> {
    let mut released: Vec<(&Release, &Audience)> = releases
        .iter()
        .filter(|release| release.repository == repository)
        .filter_map(|release| {
            release
                .rollouts
                .get(environment)
                .map(|rollout| (release, &rollout.audience))
        })
        .collect();
    // Newest first; the tag breaks ties so the order never depends on the store's.
    released.sort_by(|(a, _), (b, _)| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.tag.cmp(&a.tag))
    });
    for (position, (release, audience)) in released.iter().enumerate() {
        let reached = audience_reaches(audience, flag_key, context).map_err(|percent| {
            FlagEvaluationError::TargetingKeyMissing {
                tag: release.tag.clone(),
                percent,
                environment: environment.to_string(),
            }
        })?;
        if let Some(reason) = reached {
            let reason = if reason == FlagReason::Static && position > 0 {
                FlagReason::Default
            } else {
                reason
            };
            return Ok(FlagResolution {
                tag: release.tag.clone(),
                sha: release.sha.clone(),
                audience: (*audience).clone(),
                reason,
            });
        }
    }
    Err(FlagEvaluationError::NothingReleased {
        repository: repository.to_string(),
        environment: environment.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::DeploymentId;
    use crate::release::Rollout;
    use jiff::Timestamp;
    use serde_json::json;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn released(tag: &str, created: &str, audience: Option<Audience>) -> Release {
        let mut release = Release::new(
            tag,
            format!("sha-{tag}"),
            "acme/shop",
            None,
            "",
            "alice",
            at(created),
        );
        if let Some(audience) = audience {
            release.rollouts.insert(
                "production".into(),
                Rollout {
                    audience,
                    deployment_id: DeploymentId("d".into()),
                    promoted_at: at(created),
                    promoted_by: "pat".into(),
                },
            );
        }
        release
    }

    fn context(value: Value) -> FlagContext {
        FlagContext::from_json(Some(&value)).unwrap()
    }

    fn check(releases: &[Release], ctx: Value, expected: Result<(&str, FlagReason), &str>) {
        let actual = evaluate_release_flag(
            "release.shop.production",
            "acme/shop",
            "production",
            releases,
            &context(ctx.clone()),
        )
        .map(|resolution| (resolution.tag, resolution.reason))
        .map_err(|error| error.to_string());
        assert_eq!(
            actual,
            expected
                .map(|(tag, reason)| (tag.to_string(), reason))
                .map_err(str::to_string),
            "{ctx}"
        );
    }

    #[test]
    fn newest_reaching_release_wins() {
        let base = released("v1.0.0", "2026-03-01T00:00:00Z", Some(Audience::All));
        let premium = released(
            "v1.1.0",
            "2026-03-02T00:00:00Z",
            Some(Audience::Tier {
                tier: "premium".into(),
            }),
        );
        let everyone = [base.clone()];
        check(&everyone, json!({}), Ok(("v1.0.0", FlagReason::Static)));
        let tiers = [base.clone(), premium.clone()];
        check(
            &tiers,
            json!({"targetingKey": "u1", "tier": "premium"}),
            Ok(("v1.1.0", FlagReason::TargetingMatch)),
        );
        check(
            &tiers,
            json!({"targetingKey": "u1", "tier": "Premium"}),
            Ok(("v1.1.0", FlagReason::TargetingMatch)),
        );
        check(
            &tiers,
            json!({"targetingKey": "u1", "tier": "basic"}),
            Ok(("v1.0.0", FlagReason::Default)),
        );
        // A percentage needs a targeting key; everyone else's answer does not.
        let split = [
            base.clone(),
            released(
                "v1.1.0",
                "2026-03-02T00:00:00Z",
                Some(Audience::Percent { percent: 50 }),
            ),
        ];
        check(
            &split,
            json!({}),
            Err(
                "release `v1.1.0` is released to 50% in `production`: the context needs a `targetingKey` to be placed",
            ),
        );
        let reached: Vec<bool> = (0..200)
            .map(|n| {
                evaluate_release_flag(
                    "release.shop.production",
                    "acme/shop",
                    "production",
                    &split,
                    &context(json!({"targetingKey": format!("user-{n}")})),
                )
                .unwrap()
                .reason
                    == FlagReason::Split
            })
            .collect();
        assert!(reached.iter().any(|x| *x) && reached.iter().any(|x| !*x));
        // Withdrawn (no rollout): back to the previous version; nothing at all: an error.
        let withdrawn = [base, released("v1.1.0", "2026-03-02T00:00:00Z", None)];
        check(
            &withdrawn,
            json!({"targetingKey": "u1"}),
            Ok(("v1.0.0", FlagReason::Static)),
        );
        check(
            &[released("v1.1.0", "2026-03-02T00:00:00Z", None)],
            json!({"targetingKey": "u1"}),
            Err("no release of `acme/shop` in `production` reaches this context"),
        );
        assert_eq!(
            FlagContext::from_json(Some(&json!({"targetingKey": 7}))).unwrap_err(),
            "`context.targetingKey` must be a string"
        );
    }
}
