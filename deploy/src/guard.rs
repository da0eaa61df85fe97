//! The version guard, checked when a deployment leaves the lane and starts: never put an older
//! commit over a newer one in an environment, unless the deployment is an explicit rollback.
//!
//! "Older" is commit ancestry first: the caller answers `is_ancestor(older, newer)` (the engine
//! with git2). When neither commit is an ancestor of the other (diverged histories, or a commit
//! the mirror lacks), the committer times decide; when those are unknown too, the deployment
//! goes ahead — the guard refuses only what it can show is older.
//!
//! This module must not read git or a clock: the caller passes the answers.

use serde::{Deserialize, Serialize};

use jiff::Timestamp;

use super::audit::{AuditAction, AuditEntry, AuditSubject, SYSTEM_ACTOR};
use super::record::{DeploymentId, Version};

/// Why the guard let a deployment through (kept for the audit trail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionCheck {
    /// Nothing is live in the environment yet.
    FirstDeployment,
    /// The live commit again (a redeploy).
    SameVersion,
    /// The live commit is an ancestor of the new one.
    Descendant,
    /// Neither is an ancestor of the other, and the new commit is not older by commit time
    /// (or the times are unknown).
    NotOlder,
    /// Older, but an explicit rollback.
    Rollback,
}

/// The guard refused: the candidate is older than what is live.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to deploy {candidate} over {live} in `{environment}`: it is older ({why}); \
     deploy it as an explicit rollback to do this on purpose"
)]
pub struct VersionRefused {
    /// The environment deployed to, e.g. `production`.
    pub environment: String,
    /// The version refused, shown as its tag and short sha (or the short sha alone).
    pub candidate: String,
    /// The version live there, shown the same way.
    pub live: String,
    /// Why the candidate is older, e.g. "an ancestor of the live commit".
    pub why: String,
}

impl VersionRefused {
    /// The audit entry of the refusal, about deployment `deployment_id`.
    pub fn audit(&self, deployment_id: &DeploymentId, now: Timestamp) -> AuditEntry {
        AuditEntry::new(
            now,
            SYSTEM_ACTOR,
            AuditAction::VersionRefused,
            self.environment.clone(),
            AuditSubject::Deployment {
                deployment_id: deployment_id.0.clone(),
            },
            self.to_string(),
        )
    }
}

/// Checks `candidate` against the `live` version of `environment`.
pub fn check_version(
    environment: &str,
    live: Option<&Version>,
    candidate: &Version,
    is_rollback: bool,
    is_ancestor: impl Fn(&str, &str) -> bool,
) -> Result<VersionCheck, VersionRefused> {
    let Some(live) = live else {
        return Ok(VersionCheck::FirstDeployment);
    };
    if live.sha == candidate.sha {
        return Ok(VersionCheck::SameVersion);
    }
    let older_because = if is_ancestor(&candidate.sha, &live.sha) {
        Some("an ancestor of the live commit".to_string())
    } else if is_ancestor(&live.sha, &candidate.sha) {
        return Ok(VersionCheck::Descendant);
    } else {
        match (candidate.committed_at, live.committed_at) {
            (Some(candidate_time), Some(live_time)) if candidate_time < live_time => Some(format!(
                "committed {candidate_time}, before the live commit's {live_time}"
            )),
            _ => None,
        }
    };
    match older_because {
        None => Ok(VersionCheck::NotOlder),
        Some(_) if is_rollback => Ok(VersionCheck::Rollback),
        Some(why) => Err(VersionRefused {
            environment: environment.to_string(),
            candidate: describe(candidate),
            live: describe(live),
            why,
        }),
    }
}

fn describe(version: &Version) -> String {
    let short: String = version.sha.chars().take(7).collect();
    match &version.tag {
        Some(tag) => format!("`{tag}` ({short})"),
        None => format!("`{short}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A linear history a1 → a2 → a3, and a side branch a1 → b1.
    fn is_ancestor(older: &str, newer: &str) -> bool {
        let chains: &[&[&str]] = &[&["a1", "a2", "a3"], &["a1", "b1"]];
        chains.iter().any(|chain| {
            let position = |sha: &str| chain.iter().position(|entry| *entry == sha);
            matches!((position(older), position(newer)), (Some(o), Some(n)) if o < n)
        })
    }

    fn version(sha: &str, committed_at: Option<&str>) -> Version {
        Version {
            sha: sha.into(),
            tag: None,
            committed_at: committed_at.map(|text| text.parse().unwrap()),
        }
    }

    fn check(
        live: Option<Version>,
        candidate: Version,
        is_rollback: bool,
        expected: Result<VersionCheck, &str>,
    ) {
        let actual = check_version(
            "production",
            live.as_ref(),
            &candidate,
            is_rollback,
            is_ancestor,
        )
        .map_err(|refused| refused.why);
        assert_eq!(
            actual,
            expected.map_err(str::to_string),
            "live {live:?} candidate {candidate:?} rollback {is_rollback}"
        );
    }

    #[test]
    fn guard_cases() {
        use VersionCheck::*;
        let jan = Some("2026-01-01T00:00:00Z");
        let feb = Some("2026-02-01T00:00:00Z");
        check(None, version("a1", None), false, Ok(FirstDeployment));
        check(
            Some(version("a2", None)),
            version("a2", None),
            false,
            Ok(SameVersion),
        );
        check(
            Some(version("a1", None)),
            version("a3", None),
            false,
            Ok(Descendant),
        );
        check(
            Some(version("a3", None)),
            version("a1", None),
            false,
            Err("an ancestor of the live commit"),
        );
        check(
            Some(version("a3", None)),
            version("a1", None),
            true,
            Ok(Rollback),
        );
        // Diverged: commit time decides.
        check(
            Some(version("b1", feb)),
            version("a3", jan),
            false,
            Err("committed 2026-01-01T00:00:00Z, before the live commit's 2026-02-01T00:00:00Z"),
        );
        check(
            Some(version("b1", feb)),
            version("a3", jan),
            true,
            Ok(Rollback),
        );
        check(
            Some(version("b1", jan)),
            version("a3", feb),
            false,
            Ok(NotOlder),
        );
        // Diverged with unknown times: let it through.
        check(
            Some(version("b1", None)),
            version("a3", jan),
            false,
            Ok(NotOlder),
        );
        // Ancestry beats commit time (a rebased commit can carry an old time).
        check(
            Some(version("a1", feb)),
            version("a2", jan),
            false,
            Ok(Descendant),
        );
    }

    #[test]
    fn refusal_message_names_both_versions() {
        let live = Version {
            sha: "a3a3a3a3a3".into(),
            tag: Some("v1.3.0".into()),
            committed_at: None,
        };
        let error = check_version(
            "production",
            Some(&live),
            &version("a1", None),
            false,
            |older, newer| older == "a1" && newer == "a3a3a3a3a3",
        )
        .unwrap_err();
        let entry = error.audit(
            &DeploymentId("d9".into()),
            "2026-03-02T10:00:00Z".parse().unwrap(),
        );
        assert_eq!(entry.action, AuditAction::VersionRefused);
        assert_eq!(entry.reason, error.to_string());
        assert_eq!(
            error.to_string(),
            "refusing to deploy `a1` over `v1.3.0` (a3a3a3a) in `production`: it is older \
             (an ancestor of the live commit); deploy it as an explicit rollback to do this on purpose"
        );
    }
}
