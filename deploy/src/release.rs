//! Releases: making a deployed version available to users. A release is a tagged version with
//! notes; promoting it to an audience (everyone, a percentage, a named tier) in an environment
//! is a business decision with its own approvals (the environment's `release_protection`) and
//! its own history, allowed only where that version is live. Withdrawing it needs no redeploy.
//!
//! Each promotion and withdrawal raises `release` workflow events shaped like GitHub's
//! (`github.event.action`, `github.event.release.tag_name`, `.name`, `.body`, `.prerelease`…)
//! plus Slipway's `release.audience` and `release.environment`. GitHub's activity types map so:
//!
//! | Slipway | `action` |
//! | --- | --- |
//! | first promotion in an environment | `published` (`prerelease: true` unless the audience is everyone) |
//! | … and that audience is everyone | `published`, then `released` |
//! | audience widened to everyone | `released` |
//! | any other audience change | `edited` |
//! | withdrawal | `unpublished` |
//! | deleting the release record | `deleted` |
//!
//! GitHub's `created` and `prereleased` are not raised (a Slipway release is created without
//! being available to anyone; partial audiences are flagged by `prerelease: true`).
//!
//! This module must not read a clock or the store.

use std::fmt;

use indexmap::IndexMap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::audit::{AuditAction, AuditEntry, AuditSubject};
use super::category::{CategoryGate, ReleaseCategory, category_gate};
use super::environment::Environment;
use super::plan::ReleasePlan;
use super::protection::{Approval, ApprovalKey, GateRequest, GateState, evaluate_gate};
use super::record::{Deployment, DeploymentId, live_deployment};

/// Who gets a released version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Audience {
    /// Everyone using the version.
    All,
    /// A share of users, 1 to 99 (100 is `All`).
    Percent {
        /// The share, in percent.
        percent: u8,
    },
    /// A named group of users (`beta`, `internal`).
    Tier {
        /// The tier's name, e.g. `beta`.
        tier: String,
    },
}

/// A release: one tagged version, its notes, where it is available and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The git tag naming the version, e.g. `v1.4.0`.
    pub tag: String,
    /// The full commit sha the tag points to.
    pub sha: String,
    /// `owner/name`.
    pub repository: String,
    /// The release title (GitHub's `name`); the tag when not given.
    pub name: String,
    /// Release notes (GitHub's `body`).
    pub notes: String,
    /// Who created the release record.
    pub created_by: String,
    /// When the release record was created.
    pub created_at: Timestamp,
    /// Its scope: which of each environment's release policies it follows.
    #[serde(default)]
    pub category: ReleaseCategory,
    /// Environment → the audience it is released to there now.
    #[serde(default)]
    pub rollouts: IndexMap<String, Rollout>,
    /// Every promotion, audience change, withdrawal and deletion, oldest first.
    #[serde(default)]
    pub history: Vec<ReleaseHistoryEntry>,
    /// Environment → a promotion asked for that waits for its approvals (or wait timer); the
    /// approvals themselves live under `ApprovalKey::for_release(tag, environment)`.
    #[serde(default)]
    pub pending: IndexMap<String, PromotionRequest>,
    /// Environment → the plan of stages the engine carries out there.
    #[serde(default)]
    pub plans: IndexMap<String, ReleasePlan>,
}

/// The release's current audience in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// Who gets the version in this environment now.
    pub audience: Audience,
    /// The deployment that carried the version when it was promoted.
    pub deployment_id: DeploymentId,
    /// When the release reached this audience.
    pub promoted_at: Timestamp,
    /// Who promoted it to this audience.
    pub promoted_by: String,
}

/// One change to a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseHistoryEntry {
    /// When the change happened.
    pub at: Timestamp,
    /// Who made the change.
    pub actor: String,
    /// The environment the change applies to; `None` for a change to the release as a whole (its
    /// deletion).
    pub environment: Option<String>,
    /// The audience after the change (`None`: withdrawn / deleted).
    pub audience: Option<Audience>,
    /// The `release` events the change raised, in order.
    pub actions: Vec<ReleaseAction>,
    /// The approvals that let the change through the environment's release gate.
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// Why the change was made, when the actor said.
    #[serde(default)]
    pub reason: Option<String>,
}

/// GitHub's release activity types that Slipway raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseAction {
    /// The release became available somewhere for the first time (GitHub's `published`).
    Published,
    /// The release reached everyone (GitHub's `released`).
    Released,
    /// Its audience changed, other than to everyone (GitHub's `edited`).
    Edited,
    /// It was withdrawn from an environment (GitHub's `unpublished`).
    Unpublished,
    /// Its record was deleted (GitHub's `deleted`).
    Deleted,
}

/// A `release` workflow event to dispatch: its action and the `github.event` payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseEvent {
    /// The activity type, sent as `github.event.action`.
    pub action: ReleaseAction,
    /// The environment the event is about (`release.environment`); `None` for a deletion.
    pub environment: Option<String>,
    /// The `github.event` payload, shaped like GitHub's `release` event.
    pub payload: Value,
}

/// Someone asks to promote a release in an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromotionRequest {
    /// The environment to promote it in, e.g. `production`.
    pub environment: String,
    /// Who should get the version there.
    pub audience: Audience,
    /// Who asked for the promotion.
    pub requested_by: String,
    /// The release gate's wait timer counts from here.
    pub requested_at: Timestamp,
    /// Approvals recorded for `ApprovalKey::for_release(tag, environment)`.
    #[serde(default)]
    pub approvals: Vec<Approval>,
}

/// What a promotion or withdrawal produced: events to dispatch and the audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseOutcome {
    /// The `release` workflow events to dispatch, in order.
    pub events: Vec<ReleaseEvent>,
    /// The audit log entry recording the change.
    pub audit: AuditEntry,
}

/// Why a promotion, withdrawal or deletion of a release was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// The tag's version is not the one live in the environment, so it cannot be released there.
    #[error("release `{tag}` is not deployed in `{environment}` ({live})")]
    NotDeployed {
        /// The release's tag, e.g. `v1.4.0`.
        tag: String,
        /// The environment of the promotion.
        environment: String,
        /// What is live there instead, as a sentence fragment.
        live: String,
    },
    /// The environment's release gate still waits for approvals (or its wait timer).
    #[error("release `{tag}` waits for approval in `{environment}`: {reasons}")]
    AwaitingApproval {
        /// The release's tag, e.g. `v1.4.0`.
        tag: String,
        /// The environment of the promotion.
        environment: String,
        /// What the gate still waits for, joined with `; `.
        reasons: String,
    },
    /// A reviewer rejected the promotion in this environment.
    #[error("release `{tag}` was rejected for `{environment}` by `{by}`")]
    Rejected {
        /// The release's tag, e.g. `v1.4.0`.
        tag: String,
        /// The environment of the promotion.
        environment: String,
        /// The reviewer who rejected it.
        by: String,
    },
    /// The release's category or the environment's release protection forbids this promotion.
    #[error("release `{tag}` may not be promoted in `{environment}`: {reason}")]
    Refused {
        /// The release's tag, e.g. `v1.4.0`.
        tag: String,
        /// The environment of the promotion.
        environment: String,
        /// Why it is forbidden, in words.
        reason: String,
    },
    /// The release already has this audience in the environment: nothing would change.
    #[error("release `{tag}` is already released to {audience} in `{environment}`")]
    Unchanged {
        /// The release's tag, e.g. `v1.4.0`.
        tag: String,
        /// The environment of the promotion.
        environment: String,
        /// The audience it already has, as displayed (e.g. `10%`).
        audience: String,
    },
    /// The release cannot be withdrawn from an environment where it is not released.
    #[error("release `{tag}` is not released in `{environment}`")]
    NotReleased {
        /// The release's tag, e.g. `v1.4.0`.
        tag: String,
        /// The environment it was to be withdrawn from.
        environment: String,
    },
    /// The release record cannot be deleted while the release is available in some environment.
    #[error("release `{tag}` is still released in {environments}; withdraw it there first")]
    StillReleased {
        /// The release's tag, e.g. `v1.4.0`.
        tag: String,
        /// The environments it is still released in, quoted and comma-separated.
        environments: String,
    },
    /// Not now (a freeze window, outside the category's allowed windows).
    #[error("release `{tag}` waits in `{environment}`: {reason}")]
    NotNow {
        /// The release's tag, e.g. `v1.4.0`.
        tag: String,
        /// The environment of the promotion.
        environment: String,
        /// Why not now, e.g. the freeze window or allowed window that closes it.
        reason: String,
    },
}

/// A bad audience text; names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audience `{text}`: {problem}")]
pub struct AudienceError {
    /// The audience text as given, e.g. `150%`.
    pub text: String,
    /// What is wrong with it, in words.
    pub problem: String,
}

/// One environment as `slipway env status` shows it: deployed beside released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvironmentView {
    /// The environment's name, e.g. `production`.
    pub environment: String,
    /// The repository, as `owner/name`.
    pub repository: String,
    /// The deployment live there now; `None` when nothing was deployed yet.
    pub deployed: Option<DeployedLine>,
    /// Every release available there, oldest promotion first.
    pub released: Vec<ReleasedLine>,
}

/// The deployment live in an environment, as one line of `slipway env status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployedLine {
    /// The version deployed, as shown: its tag, else its short sha.
    pub version: String,
    /// The deployment's id.
    pub deployment_id: DeploymentId,
    /// When the deployment happened.
    pub at: Timestamp,
    /// Who deployed it.
    pub by: String,
    /// Whether the deployment rolled back to an earlier version.
    pub is_rollback: bool,
}

/// A release available in an environment, as one line of `slipway env status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasedLine {
    /// The release's tag, e.g. `v1.4.0`.
    pub tag: String,
    /// Who gets it there.
    pub audience: Audience,
    /// When it reached this audience.
    pub at: Timestamp,
    /// Who promoted it to this audience.
    pub by: String,
}

impl Audience {
    /// Parses `all` (or `everyone`), `10%` (`100%` is `all`), or a tier name (`beta`,
    /// `tier:beta`).
    pub fn parse(text: &str) -> Result<Audience, AudienceError> {
        let trimmed = text.trim();
        let fail = |problem: &str| AudienceError {
            text: text.to_string(),
            problem: problem.to_string(),
        };
        if trimmed.eq_ignore_ascii_case("all") || trimmed.eq_ignore_ascii_case("everyone") {
            return Ok(Audience::All);
        }
        if let Some(number) = trimmed.strip_suffix('%') {
            return match number.trim().parse::<u8>() {
                Ok(100) => Ok(Audience::All),
                Ok(percent) if (1..100).contains(&percent) => Ok(Audience::Percent { percent }),
                _ => Err(fail("a percentage must be a whole number from 1% to 100%")),
            };
        }
        let tier = trimmed.strip_prefix("tier:").unwrap_or(trimmed).trim();
        if tier.is_empty() {
            return Err(fail(
                "is empty (use all, a percentage such as 10%, or a tier name)",
            ));
        }
        if !tier
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(fail(
                "a tier name may hold letters, digits, `-`, `_` and `.`",
            ));
        }
        Ok(Audience::Tier {
            tier: tier.to_string(),
        })
    }

    /// `Percent(100)` is `All`.
    fn normalised(&self) -> Audience {
        match self {
            Audience::Percent { percent } if *percent >= 100 => Audience::All,
            other => other.clone(),
        }
    }

    fn is_everyone(&self) -> bool {
        self.normalised() == Audience::All
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Audience::All => f.write_str("all"),
            Audience::Percent { percent } => write!(f, "{percent}%"),
            Audience::Tier { tier } => write!(f, "tier {tier}"),
        }
    }
}

impl ReleaseAction {
    /// The action's name as GitHub spells it in `github.event.action`, e.g. `published`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseAction::Published => "published",
            ReleaseAction::Released => "released",
            ReleaseAction::Edited => "edited",
            ReleaseAction::Unpublished => "unpublished",
            ReleaseAction::Deleted => "deleted",
        }
    }
}

impl Release {
    /// A new release record, available nowhere yet; `name` defaults to the tag.
    pub fn new(
        tag: impl Into<String>,
        sha: impl Into<String>,
        repository: impl Into<String>,
        name: Option<String>,
        notes: impl Into<String>,
        created_by: impl Into<String>,
        now: Timestamp,
    ) -> Release {
        let tag = tag.into();
        Release {
            name: name.unwrap_or_else(|| tag.clone()),
            tag,
            sha: sha.into(),
            repository: repository.into(),
            notes: notes.into(),
            created_by: created_by.into(),
            created_at: now,
            category: ReleaseCategory::default(),
            rollouts: IndexMap::new(),
            history: Vec::new(),
            pending: IndexMap::new(),
            plans: IndexMap::new(),
        }
    }

    /// The `github.event` payload of a `release` event with `action` about `environment`.
    pub fn event_payload(
        &self,
        action: ReleaseAction,
        environment: Option<&str>,
        audience: Option<&Audience>,
        sender: &str,
    ) -> Value {
        let (owner, name) = self
            .repository
            .split_once('/')
            .unwrap_or(("", self.repository.as_str()));
        let published_at = environment
            .and_then(|environment| self.rollouts.get(environment))
            .map(|rollout| rollout.promoted_at.to_string());
        json!({
            "action": action.as_str(),
            "release": {
                "tag_name": self.tag,
                "target_commitish": self.sha,
                "name": self.name,
                "body": self.notes,
                "draft": false,
                "prerelease": audience.is_some_and(|audience| !audience.is_everyone()),
                "created_at": self.created_at.to_string(),
                "published_at": published_at,
                "author": { "login": self.created_by },
                "assets": [],
                "audience": audience,
                "environment": environment,
            },
            "repository": {
                "full_name": self.repository,
                "name": name,
                "owner": { "login": owner },
            },
            "sender": { "login": sender },
        })
    }
}

/// Promotes `release` to `request.audience` in `environment`, where the release's commit must be
/// the live deployment of its repository, once the environment's release gate is open.
pub fn promote(
    release: &mut Release,
    environment: &Environment,
    request: &PromotionRequest,
    deployments: &[Deployment],
    now: Timestamp,
) -> Result<ReleaseOutcome, ReleaseError> {
    let environment_name = environment.name.clone();
    let tag = release.tag.clone();
    let live = live_deployment(deployments, &environment_name, &release.repository);
    let deployment_id = match live {
        Some(live) if live.version.sha == release.sha => live.id.clone(),
        Some(live) => {
            return Err(ReleaseError::NotDeployed {
                tag,
                environment: environment_name,
                live: format!("live there: `{}`", live.version.label()),
            });
        }
        None => {
            return Err(ReleaseError::NotDeployed {
                tag,
                environment: environment_name,
                live: "nothing is deployed there".to_string(),
            });
        }
    };
    let gate = GateRequest {
        key: ApprovalKey::for_release(tag.clone(), environment_name.clone()),
        actor: request.requested_by.clone(),
        git_ref: format!("refs/tags/{tag}"),
        approvals: request.approvals.clone(),
        waiting_since: request.requested_at,
    };
    let protection = match category_gate(environment, release.category, now) {
        CategoryGate::Protection(protection) => protection,
        CategoryGate::Closed(reason) => {
            return Err(ReleaseError::NotNow {
                tag,
                environment: environment_name,
                reason,
            });
        }
        CategoryGate::Refused(reason) => {
            return Err(ReleaseError::Refused {
                tag,
                environment: environment_name,
                reason,
            });
        }
    };
    match evaluate_gate(&protection, &gate, now) {
        GateState::Open => {}
        GateState::Waiting { reasons, .. } => {
            return Err(ReleaseError::AwaitingApproval {
                tag,
                environment: environment_name,
                reasons: reasons.join("; "),
            });
        }
        GateState::Rejected { by, .. } => {
            return Err(ReleaseError::Rejected {
                tag,
                environment: environment_name,
                by,
            });
        }
        GateState::Refused { reason } => {
            return Err(ReleaseError::Refused {
                tag,
                environment: environment_name,
                reason,
            });
        }
    }
    let audience = request.audience.normalised();
    let previous = release
        .rollouts
        .get(&environment_name)
        .map(|rollout| rollout.audience.clone());
    if previous.as_ref() == Some(&audience) {
        return Err(ReleaseError::Unchanged {
            tag,
            environment: environment_name,
            audience: audience.to_string(),
        });
    }
    let actions = match (&previous, audience.is_everyone()) {
        (None, false) => vec![ReleaseAction::Published],
        (None, true) => vec![ReleaseAction::Published, ReleaseAction::Released],
        (Some(_), true) => vec![ReleaseAction::Released],
        (Some(_), false) => vec![ReleaseAction::Edited],
    };
    release.pending.shift_remove(&environment_name);
    release.rollouts.insert(
        environment_name.clone(),
        Rollout {
            audience: audience.clone(),
            deployment_id,
            promoted_at: now,
            promoted_by: request.requested_by.clone(),
        },
    );
    let mut reason = match &previous {
        Some(before) => format!("{tag} from {before} to {audience}"),
        None => format!("{tag} to {audience}"),
    };
    if release.category == ReleaseCategory::Emergency {
        // Flagged: an emergency release skipped the wait timer and any freeze.
        reason = format!("EMERGENCY {reason}");
    }
    release.history.push(ReleaseHistoryEntry {
        at: now,
        actor: request.requested_by.clone(),
        environment: Some(environment_name.clone()),
        audience: Some(audience.clone()),
        actions: actions.clone(),
        approvals: request.approvals.clone(),
        reason: None,
    });
    let events = actions
        .iter()
        .map(|action| ReleaseEvent {
            action: *action,
            environment: Some(environment_name.clone()),
            payload: release.event_payload(
                *action,
                Some(&environment_name),
                Some(&audience),
                &request.requested_by,
            ),
        })
        .collect();
    Ok(ReleaseOutcome {
        events,
        audit: AuditEntry::new(
            now,
            request.requested_by.clone(),
            AuditAction::ReleasePromoted,
            environment_name,
            AuditSubject::Release { tag },
            reason,
        ),
    })
}

/// Withdraws `release` from `environment`: users there stop getting it; nothing is redeployed.
/// Withdrawing is not gated (taking a version away must be quick), but it is audited.
pub fn withdraw(
    release: &mut Release,
    environment: &str,
    actor: &str,
    reason: Option<String>,
    now: Timestamp,
) -> Result<ReleaseOutcome, ReleaseError> {
    let Some(previous) = release.rollouts.get(environment).cloned() else {
        return Err(ReleaseError::NotReleased {
            tag: release.tag.clone(),
            environment: environment.to_string(),
        });
    };
    // The payload describes the release as it was, before the rollout goes.
    let payload = release.event_payload(
        ReleaseAction::Unpublished,
        Some(environment),
        Some(&previous.audience),
        actor,
    );
    release.rollouts.shift_remove(environment);
    release.history.push(ReleaseHistoryEntry {
        at: now,
        actor: actor.to_string(),
        environment: Some(environment.to_string()),
        audience: None,
        actions: vec![ReleaseAction::Unpublished],
        approvals: Vec::new(),
        reason: reason.clone(),
    });
    let why = match reason {
        Some(reason) => format!(
            "{} withdrawn from {}: {reason}",
            release.tag, previous.audience
        ),
        None => format!("{} withdrawn from {}", release.tag, previous.audience),
    };
    Ok(ReleaseOutcome {
        events: vec![ReleaseEvent {
            action: ReleaseAction::Unpublished,
            environment: Some(environment.to_string()),
            payload,
        }],
        audit: AuditEntry::new(
            now,
            actor,
            AuditAction::ReleaseWithdrawn,
            environment,
            AuditSubject::Release {
                tag: release.tag.clone(),
            },
            why,
        ),
    })
}

/// The `deleted` event for removing a release record; refused while it is released anywhere.
pub fn delete_release(release: &Release, actor: &str) -> Result<ReleaseEvent, ReleaseError> {
    if !release.rollouts.is_empty() {
        return Err(ReleaseError::StillReleased {
            tag: release.tag.clone(),
            environments: release
                .rollouts
                .keys()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(ReleaseEvent {
        action: ReleaseAction::Deleted,
        environment: None,
        payload: release.event_payload(ReleaseAction::Deleted, None, None, actor),
    })
}

/// Per environment: what is deployed beside what is released, for `slipway env status`.
pub fn environment_views(
    environments: &[Environment],
    repository: &str,
    deployments: &[Deployment],
    releases: &[Release],
) -> Vec<EnvironmentView> {
    environments
        .iter()
        .map(|environment| {
            let deployed =
                live_deployment(deployments, &environment.name, repository).map(|live| {
                    DeployedLine {
                        version: live.version.label(),
                        deployment_id: live.id.clone(),
                        at: live.finished_at.unwrap_or(live.updated_at),
                        by: live.triggered_by.clone(),
                        is_rollback: live.is_rollback,
                    }
                });
            let mut released: Vec<ReleasedLine> = releases
                .iter()
                .filter(|release| release.repository == repository)
                .filter_map(|release| {
                    release
                        .rollouts
                        .get(&environment.name)
                        .map(|rollout| ReleasedLine {
                            tag: release.tag.clone(),
                            audience: rollout.audience.clone(),
                            at: rollout.promoted_at,
                            by: rollout.promoted_by.clone(),
                        })
                })
                .collect();
            released.sort_by_key(|line| line.at);
            EnvironmentView {
                environment: environment.name.clone(),
                repository: repository.to_string(),
                deployed,
                released,
            }
        })
        .collect()
}

impl fmt::Display for EnvironmentView {
    /// `production  deployed: v1.4.0 (2026-03-06T15:00:00Z, by alice)  released: v1.3.0 to all
    /// (2026-03-01T09:00:00Z, by bob)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}  deployed: ", self.environment)?;
        match &self.deployed {
            Some(line) => {
                write!(f, "{} ({}, by {}", line.version, line.at, line.by)?;
                if line.is_rollback {
                    f.write_str(", rollback")?;
                }
                f.write_str(")")?;
            }
            None => f.write_str("nothing")?,
        }
        f.write_str("  released: ")?;
        if self.released.is_empty() {
            return f.write_str("nothing");
        }
        let lines: Vec<String> = self
            .released
            .iter()
            .map(|line| {
                format!(
                    "{} to {} ({}, by {})",
                    line.tag, line.audience, line.at, line.by
                )
            })
            .collect();
        f.write_str(&lines.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::parse_approvers;
    use crate::protection::Decision;
    use crate::record::{DeploymentStatus, Version};
    use crate::spec::StrategyKind;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn live(id: &str, environment: &str, sha: &str, tag: &str) -> Deployment {
        let mut deployment = Deployment::new(
            DeploymentId(id.into()),
            environment,
            "acme/shop",
            Version {
                sha: sha.into(),
                tag: Some(tag.into()),
                committed_at: None,
            },
            format!("refs/tags/{tag}"),
            "alice",
            StrategyKind::BigBang,
            false,
            at("2026-03-02T09:00:00Z"),
        );
        deployment.status = DeploymentStatus::Success;
        deployment.finished_at = Some(at("2026-03-02T09:10:00Z"));
        deployment
    }

    fn release() -> Release {
        Release::new(
            "v1.4.0",
            "c0ffee",
            "acme/shop",
            Some("Spring sale".into()),
            "Faster checkout",
            "alice",
            at("2026-03-01T08:00:00Z"),
        )
    }

    fn request(environment: &str, audience: &str) -> PromotionRequest {
        PromotionRequest {
            environment: environment.into(),
            audience: Audience::parse(audience).unwrap(),
            requested_by: "pat".into(),
            requested_at: at("2026-03-02T10:00:00Z"),
            approvals: Vec::new(),
        }
    }

    #[test]
    fn audiences() {
        let cases: &[(&str, Result<Audience, &str>)] = &[
            ("all", Ok(Audience::All)),
            ("Everyone", Ok(Audience::All)),
            ("10%", Ok(Audience::Percent { percent: 10 })),
            ("100%", Ok(Audience::All)),
            (
                "beta",
                Ok(Audience::Tier {
                    tier: "beta".into(),
                }),
            ),
            (
                "tier:internal",
                Ok(Audience::Tier {
                    tier: "internal".into(),
                }),
            ),
            (
                "0%",
                Err("audience `0%`: a percentage must be a whole number from 1% to 100%"),
            ),
            (
                "150%",
                Err("audience `150%`: a percentage must be a whole number from 1% to 100%"),
            ),
            (
                "",
                Err("audience ``: is empty (use all, a percentage such as 10%, or a tier name)"),
            ),
            (
                "beta testers",
                Err(
                    "audience `beta testers`: a tier name may hold letters, digits, `-`, `_` and `.`",
                ),
            ),
        ];
        for (text, expected) in cases {
            let actual = Audience::parse(text).map_err(|error| error.to_string());
            assert_eq!(actual, expected.clone().map_err(str::to_string), "{text}");
        }
        assert_eq!(Audience::Percent { percent: 10 }.to_string(), "10%");
        assert_eq!(
            serde_json::to_value(Audience::Percent { percent: 10 }).unwrap(),
            json!({"kind": "percent", "percent": 10})
        );
    }

    #[test]
    fn promote_only_where_deployed() {
        let production = Environment::new("production");
        let staging = Environment::new("staging");
        let deployments = vec![
            live("d1", "staging", "c0ffee", "v1.4.0"),
            live("d2", "production", "0ld", "v1.3.0"),
        ];
        let fresh = release();
        let mut release = release();
        let error = promote(
            &mut release,
            &production,
            &request("production", "all"),
            &deployments,
            at("2026-03-02T10:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "release `v1.4.0` is not deployed in `production` (live there: `v1.3.0`)"
        );
        let error = promote(
            &mut release,
            &Environment::new("dev"),
            &request("dev", "all"),
            &deployments,
            at("2026-03-02T10:00:00Z"),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "release `v1.4.0` is not deployed in `dev` (nothing is deployed there)"
        );
        assert!(release.rollouts.is_empty());
        assert!(release.history.is_empty());

        let outcome = promote(
            &mut release,
            &staging,
            &request("staging", "all"),
            &deployments,
            at("2026-03-02T10:00:00Z"),
        )
        .unwrap();
        let actions: Vec<ReleaseAction> = outcome.events.iter().map(|event| event.action).collect();
        assert_eq!(
            actions,
            vec![ReleaseAction::Published, ReleaseAction::Released]
        );
        assert_eq!(
            release
                .rollouts
                .get("staging")
                .map(|r| r.deployment_id.clone()),
            Some(DeploymentId("d1".into()))
        );
        assert_eq!(outcome.audit.action, AuditAction::ReleasePromoted);
        assert_eq!(outcome.audit.reason, "v1.4.0 to all");
        // A version that was live but has been superseded cannot be promoted.
        let mut superseded = deployments.clone();
        if let Some(first) = superseded.first_mut() {
            first.status = DeploymentStatus::Inactive;
        }
        superseded.push(live("d3", "staging", "newer", "v1.5.0"));
        let mut again = fresh;
        assert!(matches!(
            promote(
                &mut again,
                &staging,
                &request("staging", "10%"),
                &superseded,
                at("2026-03-02T10:00:00Z")
            ),
            Err(ReleaseError::NotDeployed { .. })
        ));
    }

    #[test]
    fn ten_percent_then_withdraw_yields_two_events() {
        let production = Environment::new("production");
        let deployments = vec![live("d1", "production", "c0ffee", "v1.4.0")];
        let mut release = release();
        let promoted = promote(
            &mut release,
            &production,
            &request("production", "10%"),
            &deployments,
            at("2026-03-02T10:00:00Z"),
        )
        .unwrap();
        let withdrawn = withdraw(
            &mut release,
            "production",
            "pat",
            Some("error rate".into()),
            at("2026-03-02T11:00:00Z"),
        )
        .unwrap();
        let events: Vec<&ReleaseEvent> = promoted.events.iter().chain(&withdrawn.events).collect();
        assert_eq!(events.len(), 2);
        let first = &events[0].payload;
        assert_eq!(first["action"], "published");
        assert_eq!(first["release"]["tag_name"], "v1.4.0");
        assert_eq!(first["release"]["name"], "Spring sale");
        assert_eq!(first["release"]["body"], "Faster checkout");
        assert_eq!(first["release"]["prerelease"], true);
        assert_eq!(first["release"]["target_commitish"], "c0ffee");
        assert_eq!(
            first["release"]["audience"],
            json!({"kind": "percent", "percent": 10})
        );
        assert_eq!(first["release"]["environment"], "production");
        assert_eq!(first["release"]["published_at"], "2026-03-02T10:00:00Z");
        assert_eq!(first["repository"]["full_name"], "acme/shop");
        assert_eq!(first["repository"]["owner"]["login"], "acme");
        assert_eq!(first["sender"]["login"], "pat");
        let second = &events[1].payload;
        assert_eq!(second["action"], "unpublished");
        assert_eq!(second["release"]["tag_name"], "v1.4.0");
        assert_eq!(second["release"]["environment"], "production");
        assert!(release.rollouts.is_empty());
        assert_eq!(release.history.len(), 2);
        assert_eq!(
            withdrawn.audit.reason,
            "v1.4.0 withdrawn from 10%: error rate"
        );
        // Nothing left to withdraw.
        assert_eq!(
            withdraw(
                &mut release,
                "production",
                "pat",
                None,
                at("2026-03-02T12:00:00Z")
            )
            .unwrap_err()
            .to_string(),
            "release `v1.4.0` is not released in `production`"
        );
    }

    #[test]
    fn audience_changes_map_to_github_actions() {
        let production = Environment::new("production");
        let deployments = vec![live("d1", "production", "c0ffee", "v1.4.0")];
        let mut release = release();
        let steps: &[(&str, Result<&[ReleaseAction], &str>)] = &[
            ("10%", Ok(&[ReleaseAction::Published])),
            (
                "10%",
                Err("release `v1.4.0` is already released to 10% in `production`"),
            ),
            ("50%", Ok(&[ReleaseAction::Edited])),
            ("beta", Ok(&[ReleaseAction::Edited])),
            ("100%", Ok(&[ReleaseAction::Released])),
            (
                "all",
                Err("release `v1.4.0` is already released to all in `production`"),
            ),
        ];
        for (audience, expected) in steps {
            let actual = promote(
                &mut release,
                &production,
                &request("production", audience),
                &deployments,
                at("2026-03-02T10:00:00Z"),
            )
            .map(|outcome| {
                outcome
                    .events
                    .iter()
                    .map(|event| event.action)
                    .collect::<Vec<_>>()
            })
            .map_err(|error| error.to_string());
            assert_eq!(
                actual,
                expected
                    .map(<[ReleaseAction]>::to_vec)
                    .map_err(str::to_string),
                "{audience}"
            );
        }
        assert_eq!(
            delete_release(&release, "pat").unwrap_err().to_string(),
            "release `v1.4.0` is still released in `production`; withdraw it there first"
        );
        withdraw(
            &mut release,
            "production",
            "pat",
            None,
            at("2026-03-03T00:00:00Z"),
        )
        .unwrap();
        let deleted = delete_release(&release, "pat").unwrap();
        assert_eq!(deleted.payload["action"], "deleted");
        assert_eq!(deleted.payload["release"]["prerelease"], false);
    }

    #[test]
    fn release_approvals_use_their_own_gate() {
        let mut production = Environment::new("production");
        production.release_protection.required_approvals = 1;
        production.release_protection.approvers = parse_approvers("quinn,pat").unwrap();
        // The deployment gate asks nothing; the release gate wants one approval.
        assert!(production.protection.is_open());
        let deployments = vec![live("d1", "production", "c0ffee", "v1.4.0")];
        let mut release = release();
        let mut ask = request("production", "10%");
        assert_eq!(
            promote(
                &mut release,
                &production,
                &ask,
                &deployments,
                at("2026-03-02T10:00:00Z")
            )
            .unwrap_err()
            .to_string(),
            "release `v1.4.0` waits for approval in `production`: 1 more approval(s) needed from `quinn`, `pat`"
        );
        // The requester approving their own promotion does not count.
        ask.approvals.push(Approval {
            approver: "pat".into(),
            decision: Decision::Approve,
            at: at("2026-03-02T10:01:00Z"),
            comment: None,
        });
        assert!(matches!(
            promote(
                &mut release,
                &production,
                &ask,
                &deployments,
                at("2026-03-02T10:02:00Z")
            ),
            Err(ReleaseError::AwaitingApproval { .. })
        ));
        ask.approvals.push(Approval {
            approver: "quinn".into(),
            decision: Decision::Approve,
            at: at("2026-03-02T10:03:00Z"),
            comment: None,
        });
        let outcome = promote(
            &mut release,
            &production,
            &ask,
            &deployments,
            at("2026-03-02T10:04:00Z"),
        )
        .unwrap();
        assert_eq!(outcome.events.len(), 1);
        assert_eq!(
            release.history.last().map(|entry| entry.approvals.len()),
            Some(2)
        );
        // A release tag policy refuses tags it does not allow.
        production.release_protection.tags = vec!["v*".into(), "!*-rc*".into()];
        let mut candidate = Release::new(
            "v1.5.0-rc1",
            "c0ffee",
            "acme/shop",
            None,
            "",
            "alice",
            at("2026-03-02T00:00:00Z"),
        );
        assert!(matches!(
            promote(
                &mut candidate,
                &production,
                &ask,
                &deployments,
                at("2026-03-02T10:04:00Z")
            ),
            Err(ReleaseError::Refused { .. })
        ));
    }

    #[test]
    fn env_status_shows_deployed_beside_released() {
        let environments = vec![Environment::new("staging"), Environment::new("production")];
        let mut deployments = vec![
            live("d1", "production", "c0ffee", "v1.4.0"),
            live("d2", "staging", "c0ffee", "v1.4.0"),
        ];
        let mut release = release();
        promote(
            &mut release,
            &environments[1],
            &request("production", "10%"),
            &deployments,
            at("2026-03-02T10:00:00Z"),
        )
        .unwrap();
        // Production moves on to v1.5.0; the release of v1.4.0 to 10% stays until withdrawn.
        if let Some(first) = deployments.first_mut() {
            first.status = DeploymentStatus::Inactive;
        }
        let mut newer = live("d3", "production", "beef", "v1.5.0");
        newer.triggered_by = "erin".into();
        newer.finished_at = Some(at("2026-03-03T09:00:00Z"));
        deployments.push(newer);
        let views = environment_views(&environments, "acme/shop", &deployments, &[release]);
        let lines: Vec<String> = views.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            vec![
                "staging  deployed: v1.4.0 (2026-03-02T09:10:00Z, by alice)  released: nothing",
                "production  deployed: v1.5.0 (2026-03-03T09:00:00Z, by erin)  released: v1.4.0 to 10% (2026-03-02T10:00:00Z, by pat)",
            ]
        );
    }
}
