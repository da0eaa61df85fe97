//! Release categories (ITIL's scope categories: `major`, `minor`, `patch`, `emergency`) and each
//! environment's release policy per category: its approvals, approvers and wait (a
//! [`Protection`]) and the windows when such a release may go out. A category with no policy of
//! its own follows the environment's `release_protection`.
//!
//! Every category but `emergency` waits outside its allowed windows and inside the environment's
//! freeze windows. An `emergency` release skips the wait timer and the freeze windows, but only
//! with approvers of its own: an environment without an `emergency` policy that asks for
//! approvals refuses emergency releases. Emergency promotions are flagged in the audit log.
//!
//! This module must not read a clock: every question comes with `now`.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::duration::Duration;
use super::environment::{Environment, EnvironmentSpecError, Protection};
use super::freeze::{FreezeWindow, frozen_at};

/// A release's scope.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseCategory {
    /// A release with wide-reaching changes (ITIL's major scope).
    Major,
    /// The category of a release created without one.
    #[default]
    Minor,
    /// A release of small fixes only.
    Patch,
    /// An urgent fix: it skips the wait timer and freeze windows, but only with approvers of its
    /// own.
    Emergency,
}

/// One category's release policy in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategoryPolicy {
    /// Approvals, approvers, wait timer (the tag patterns of `release_protection` still apply).
    pub protection: Protection,
    /// When non-empty, releases of the category go out only inside one of these windows
    /// (written like freeze windows: `Tue 09:00-16:00 UTC`).
    #[serde(default)]
    pub allowed_windows: Vec<FreezeWindow>,
}

/// The gate a promotion of a category meets at `now`: the protection to evaluate, or why it
/// must wait (a freeze, outside the allowed windows) or is refused (emergency without approvers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CategoryGate {
    /// Go through this protection (the category's policy, or the environment's
    /// `release_protection`).
    Protection(Protection),
    /// Not now: the sentence says why and until when, when known.
    Closed(String),
    /// Never here: the sentence says why (an emergency release where the environment has no
    /// emergency approvers).
    Refused(String),
}

impl ReleaseCategory {
    /// Parses `major`, `minor`, `patch` or `emergency`.
    pub fn parse(text: &str) -> Result<ReleaseCategory, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "major" => Ok(ReleaseCategory::Major),
            "minor" => Ok(ReleaseCategory::Minor),
            "patch" => Ok(ReleaseCategory::Patch),
            "emergency" => Ok(ReleaseCategory::Emergency),
            _ => Err(format!(
                "`{text}` is not a release category (major, minor, patch or emergency)"
            )),
        }
    }

    /// The category as written, e.g. `emergency`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseCategory::Major => "major",
            ReleaseCategory::Minor => "minor",
            ReleaseCategory::Patch => "patch",
            ReleaseCategory::Emergency => "emergency",
        }
    }
}

impl fmt::Display for ReleaseCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CategoryPolicy {
    /// A policy from its settings; errors name the setting (`approvals`, `allowed_windows[1]`).
    pub fn new(
        protection: Protection,
        windows: &[String],
    ) -> Result<CategoryPolicy, EnvironmentSpecError> {
        protection.validate("")?;
        let mut allowed_windows = Vec::new();
        for (index, text) in windows.iter().enumerate() {
            allowed_windows.push(FreezeWindow::parse(text).map_err(|error| {
                EnvironmentSpecError {
                    option: format!("allowed_windows[{index}]"),
                    problem: error.to_string(),
                }
            })?);
        }
        Ok(CategoryPolicy {
            protection,
            allowed_windows,
        })
    }
}

/// The gate for promoting a `category` release in `environment` at `now`.
pub fn category_gate(
    environment: &Environment,
    category: ReleaseCategory,
    now: Timestamp,
) -> CategoryGate {
    let policy = environment.release_policies.get(&category);
    let mut protection = match policy {
        Some(policy) => Protection {
            tags: environment.release_protection.tags.clone(),
            ..policy.protection.clone()
        },
        None => environment.release_protection.clone(),
    };
    if category == ReleaseCategory::Emergency {
        if policy.is_none_or(|policy| policy.protection.required_approvals == 0) {
            return CategoryGate::Refused(format!(
                "an emergency release needs approvers of its own in `{}` (set them with `slipway release policy {} emergency --approvals 1 --approvers NAMES`)",
                environment.name, environment.name
            ));
        }
        protection.wait = Duration::ZERO;
        return CategoryGate::Protection(protection);
    }
    if let Some(freeze) = frozen_at(&environment.freeze_windows, now) {
        return CategoryGate::Closed(format!(
            "`{}` is frozen ({}){}",
            environment.name,
            freeze.window.as_str(),
            freeze
                .until
                .map(|until| format!(" until {until}"))
                .unwrap_or_default()
        ));
    }
    if let Some(policy) = policy
        && !policy.allowed_windows.is_empty()
        && !policy
            .allowed_windows
            .iter()
            .any(|window| window.contains(now))
    {
        let windows: Vec<&str> = policy
            .allowed_windows
            .iter()
            .map(FreezeWindow::as_str)
            .collect();
        return CategoryGate::Closed(format!(
            "{category} releases go out in `{}` only within {}",
            environment.name,
            windows.join(", ")
        ));
    }
    CategoryGate::Protection(protection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::parse_approvers;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn categories_pick_their_policy() {
        let mut production = Environment::new("production");
        production.release_protection.wait = crate::parse_duration("1h").unwrap();
        production.freeze_windows =
            vec![FreezeWindow::parse("2026-12-24T00:00Z/2026-12-27T00:00Z").unwrap()];
        let emergency = Protection {
            required_approvals: 1,
            approvers: parse_approvers("oncall").unwrap(),
            wait: crate::parse_duration("2h").unwrap(),
            ..Protection::default()
        };
        let weekday =
            CategoryPolicy::new(Protection::default(), &["Tue 09:00-16:00 UTC".to_string()])
                .unwrap();
        production
            .release_policies
            .insert(ReleaseCategory::Major, weekday);
        // A minor release follows `release_protection`.
        let open = category_gate(
            &production,
            ReleaseCategory::Minor,
            at("2026-12-01T10:00:00Z"),
        );
        assert!(
            matches!(&open, CategoryGate::Protection(p) if p.wait == crate::parse_duration("1h").unwrap())
        );
        // Frozen at Christmas; an emergency without its own approvers is refused.
        let frozen = category_gate(
            &production,
            ReleaseCategory::Patch,
            at("2026-12-25T10:00:00Z"),
        );
        assert!(
            matches!(&frozen, CategoryGate::Closed(why) if why.starts_with("`production` is frozen")),
            "{frozen:?}"
        );
        assert!(matches!(
            category_gate(
                &production,
                ReleaseCategory::Emergency,
                at("2026-12-25T10:00:00Z")
            ),
            CategoryGate::Refused(_)
        ));
        production.release_policies.insert(
            ReleaseCategory::Emergency,
            CategoryPolicy::new(emergency, &[]).unwrap(),
        );
        // With them it goes through the freeze, without a wait.
        let gate = category_gate(
            &production,
            ReleaseCategory::Emergency,
            at("2026-12-25T10:00:00Z"),
        );
        assert!(
            matches!(&gate, CategoryGate::Protection(p) if p.wait.is_zero() && p.required_approvals == 1),
            "{gate:?}"
        );
        // A major release only on Tuesdays 09:00-16:00 (2026-12-01 is a Tuesday).
        assert!(matches!(
            category_gate(
                &production,
                ReleaseCategory::Major,
                at("2026-12-01T10:00:00Z")
            ),
            CategoryGate::Protection(_)
        ));
        let closed = category_gate(
            &production,
            ReleaseCategory::Major,
            at("2026-12-02T10:00:00Z"),
        );
        assert_eq!(
            closed,
            CategoryGate::Closed(
                "major releases go out in `production` only within Tue 09:00-16:00 UTC".into()
            )
        );
        assert_eq!(
            ReleaseCategory::parse("Emergency"),
            Ok(ReleaseCategory::Emergency)
        );
        assert!(
            ReleaseCategory::parse("hotfix")
                .unwrap_err()
                .contains("not a release category")
        );
        assert!(
            CategoryPolicy::new(Protection::default(), &["someday".into()])
                .unwrap_err()
                .to_string()
                .starts_with("setting `allowed_windows[0]`")
        );
    }
}
