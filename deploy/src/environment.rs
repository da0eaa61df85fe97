//! Environment configuration: a deployment target (dev, staging, production) as the engine's
//! operators configure it with `slipway env` or the API — never from the repository, so a push
//! cannot weaken its own protection.
//!
//! An environment carries two protection policies of the same shape: one gates deployments
//! (jobs with `environment:`), the other gates releases (promoting a version to an audience).
//! This module holds the configuration and its command-line spelling; deciding anything with it
//! is `protection`'s job. Secret values are the store's business: only their names live here.

use indexmap::IndexMap;
use protocol::environments::{EnvironmentPatch, ProtectionPatch};
use serde::{Deserialize, Serialize};
use workflows::filters::{Pattern, compile_all, matches_patterns};

use super::category::{CategoryPolicy, ReleaseCategory};
use super::duration::{Duration, parse_duration};
use super::freeze::FreezeWindow;
use super::spec::StrategyKind;

/// One configured environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    /// The environment's name as jobs name it in `environment:`, e.g. `production`.
    pub name: String,
    /// Who must approve a deployment, how long to wait, which refs may deploy.
    #[serde(default)]
    pub protection: Protection,
    /// The same rules for promoting a release into this environment.
    #[serde(default)]
    pub release_protection: Protection,
    /// Per release category, a policy replacing `release_protection` (see `category`).
    #[serde(default)]
    pub release_policies: IndexMap<ReleaseCategory, CategoryPolicy>,
    /// Times the deployment lane starts nothing new.
    #[serde(default)]
    pub freeze_windows: Vec<FreezeWindow>,
    /// The strategy a `deployment:` block without `strategy:` gets (big-bang when unset).
    #[serde(default)]
    pub default_strategy: Option<StrategyKind>,
    /// The URL shown for the environment when a job's `environment.url` is not given.
    #[serde(default)]
    pub url: Option<String>,
    /// Plain variables (`vars.*`) of jobs deploying here.
    #[serde(default)]
    pub variables: IndexMap<String, String>,
    /// Names of the secrets jobs deploying here may read; values live in the store.
    #[serde(default)]
    pub secret_names: Vec<String>,
}

/// A protection policy: approvals, wait timer and the refs that may pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Protection {
    /// How many distinct approvers must approve (0: no approval needed).
    #[serde(default)]
    pub required_approvals: u32,
    /// Who may approve: named users and groups.
    #[serde(default)]
    pub approvers: Vec<Approver>,
    /// The actor who triggered the run may not approve it (on unless turned off).
    #[serde(default = "default_true")]
    pub prevent_self_review: bool,
    /// How long after the job reaches the environment it may start, approvals or not.
    #[serde(default)]
    pub wait: Duration,
    /// An approval older than this no longer counts; `None`: approvals never expire.
    #[serde(default)]
    pub approval_expiry: Option<Duration>,
    /// GitHub-style patterns of branches (`main`, `release/*`) allowed through. Both lists empty:
    /// every ref is allowed.
    #[serde(default)]
    pub branches: Vec<String>,
    /// GitHub-style patterns of tags (`v*`) allowed through.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// Someone who may approve: a user by login, or every member of a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Approver {
    /// A user, by login.
    User(String),
    /// Every member of a group, by the group's name.
    Group(String),
}

/// Group membership as the engine knows it: group name → member logins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    /// Group name → the logins of its members.
    pub members: IndexMap<String, Vec<String>>,
}

/// A bad environment setting; the message names the setting at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("setting `{option}`: {problem}")]
pub struct EnvironmentSpecError {
    /// The setting at fault, e.g. `strategy`, `release.branches` or `add_freeze[0]`.
    pub option: String,
    /// What is wrong with its value, in words.
    pub problem: String,
}

impl Default for Protection {
    fn default() -> Protection {
        Protection {
            required_approvals: 0,
            approvers: Vec::new(),
            prevent_self_review: true,
            wait: Duration::ZERO,
            approval_expiry: None,
            branches: Vec::new(),
            tags: Vec::new(),
        }
    }
}

impl Environment {
    /// An environment with no protection, no freeze windows and no variables.
    pub fn new(name: impl Into<String>) -> Environment {
        Environment {
            name: name.into(),
            protection: Protection::default(),
            release_protection: Protection::default(),
            release_policies: IndexMap::new(),
            freeze_windows: Vec::new(),
            default_strategy: None,
            url: None,
            variables: IndexMap::new(),
            secret_names: Vec::new(),
        }
    }

    /// Builds an environment from a settings patch (see [`Environment::apply_patch`]).
    pub fn from_patch(
        name: &str,
        patch: &EnvironmentPatch,
    ) -> Result<Environment, EnvironmentSpecError> {
        if name.trim().is_empty() {
            return Err(EnvironmentSpecError {
                option: "name".to_string(),
                problem: "the environment name is empty".to_string(),
            });
        }
        let mut environment = Environment::new(name);
        environment.apply_patch(patch)?;
        Ok(environment)
    }

    /// Applies a settings patch, then checks the result. Errors name the setting at fault by
    /// its field path (`wait`, `release.approvals`, `add_freeze[1]`); the CLI's flags carry the
    /// same names (`--wait`, `--release-approvals`, `--freeze`).
    ///
    /// Nothing is changed when the patch is refused.
    pub fn apply_patch(&mut self, patch: &EnvironmentPatch) -> Result<(), EnvironmentSpecError> {
        let mut next = self.clone();
        next.protection.apply(&patch.deploy, "")?;
        if patch.release.branches.is_some() {
            return Err(spec_error(
                "release.branches",
                "a release's ref is its tag: use `release.tags`",
            ));
        }
        next.release_protection.apply(&patch.release, "release.")?;
        if patch.clear_freeze {
            next.freeze_windows.clear();
        }
        for (index, text) in patch.add_freeze.iter().enumerate() {
            let window = FreezeWindow::parse(text)
                .map_err(|error| spec_error(&format!("add_freeze[{index}]"), error.to_string()))?;
            next.freeze_windows.push(window);
        }
        if let Some(strategy) = &patch.strategy {
            next.default_strategy = Some(
                StrategyKind::parse(strategy).map_err(|problem| spec_error("strategy", problem))?,
            );
        }
        if let Some(url) = &patch.url {
            next.url = (!url.trim().is_empty()).then(|| url.clone());
        }
        for (key, value) in &patch.vars {
            next.variables.insert(key.clone(), value.clone());
        }
        for secret in &patch.secrets {
            if !next.secret_names.iter().any(|name| name == secret) {
                next.secret_names.push(secret.clone());
            }
        }
        next.validate()?;
        *self = next;
        Ok(())
    }

    /// Checks the settings fit together: patterns compile, and a policy that needs approvals
    /// names enough approvers to give them.
    pub fn validate(&self) -> Result<(), EnvironmentSpecError> {
        self.protection.validate("")?;
        self.release_protection.validate("release.")?;
        for secret in &self.secret_names {
            if !is_identifier(secret) {
                return Err(spec_error(
                    "secrets",
                    format!("`{secret}` is not a valid secret name (letters, digits, `_`)"),
                ));
            }
        }
        for name in self.variables.keys() {
            if !is_identifier(name) {
                return Err(spec_error(
                    "vars",
                    format!("`{name}` is not a valid variable name (letters, digits, `_`)"),
                ));
            }
        }
        Ok(())
    }
}

impl Protection {
    /// Applies one policy's patch; `prefix` names the policy in errors (`""` or `"release."`).
    fn apply(&mut self, patch: &ProtectionPatch, prefix: &str) -> Result<(), EnvironmentSpecError> {
        if let Some(approvals) = patch.approvals {
            self.required_approvals = approvals;
        }
        if let Some(approvers) = &patch.approvers {
            self.approvers = parse_approvers(&approvers.join(","))
                .map_err(|problem| spec_error(&format!("{prefix}approvers"), problem))?;
        }
        if let Some(prevent) = patch.prevent_self_review {
            self.prevent_self_review = prevent;
        }
        if let Some(wait) = &patch.wait {
            self.wait = parse_duration(wait)
                .map_err(|error| spec_error(&format!("{prefix}wait"), error.to_string()))?;
        }
        if let Some(expiry) = &patch.approval_expiry {
            let expiry = parse_duration(expiry).map_err(|error| {
                spec_error(&format!("{prefix}approval_expiry"), error.to_string())
            })?;
            self.approval_expiry = (!expiry.is_zero()).then_some(expiry);
        }
        if let Some(branches) = &patch.branches {
            self.branches = clean_list(branches);
        }
        if let Some(tags) = &patch.tags {
            self.tags = clean_list(tags);
        }
        Ok(())
    }

    /// Whether `user` is one of the approvers, directly or through a group.
    pub fn is_approver(&self, user: &str, groups: &Groups) -> bool {
        self.approvers.iter().any(|approver| match approver {
            Approver::User(name) => name == user,
            Approver::Group(group) => groups.is_member(group, user),
        })
    }

    /// Whether the policy asks anything at all (approvals, a wait, or a ref restriction).
    pub fn is_open(&self) -> bool {
        self.required_approvals == 0
            && self.wait.is_zero()
            && self.branches.is_empty()
            && self.tags.is_empty()
    }

    /// Whether `git_ref` (`refs/heads/main`, `refs/tags/v1.2.0`) may pass. With no branch and
    /// no tag patterns every ref may; otherwise a branch must match `branches` and a tag `tags`
    /// (later patterns win, `!` excludes). Other refs (pull requests) never pass a restriction.
    pub fn allows_ref(&self, git_ref: &str) -> Result<bool, String> {
        if self.branches.is_empty() && self.tags.is_empty() {
            return Ok(true);
        }
        if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
            let patterns: Vec<Pattern> = compile_all(&self.branches)?;
            return Ok(matches_patterns(&patterns, branch));
        }
        if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
            let patterns: Vec<Pattern> = compile_all(&self.tags)?;
            return Ok(matches_patterns(&patterns, tag));
        }
        Ok(false)
    }

    pub(crate) fn validate(&self, prefix: &str) -> Result<(), EnvironmentSpecError> {
        compile_all(&self.branches)
            .map_err(|problem| spec_error(&format!("{prefix}branches"), problem))?;
        compile_all(&self.tags).map_err(|problem| spec_error(&format!("{prefix}tags"), problem))?;
        if self.required_approvals == 0 {
            return Ok(());
        }
        let has_group = self
            .approvers
            .iter()
            .any(|approver| matches!(approver, Approver::Group(_)));
        let named_users = self
            .approvers
            .iter()
            .filter(|approver| matches!(approver, Approver::User(_)))
            .count();
        if self.approvers.is_empty() {
            return Err(spec_error(
                &format!("{prefix}approvals"),
                format!(
                    "{} approval(s) required but no approvers are named (add `{prefix}approvers`)",
                    self.required_approvals
                ),
            ));
        }
        if !has_group && named_users < self.required_approvals as usize {
            return Err(spec_error(
                &format!("{prefix}approvals"),
                format!(
                    "{} approval(s) required but only {named_users} approver(s) are named",
                    self.required_approvals
                ),
            ));
        }
        Ok(())
    }
}

impl Groups {
    /// Whether `user` is a member of `group` (false for a group the engine does not know).
    pub fn is_member(&self, group: &str, user: &str) -> bool {
        self.members
            .get(group)
            .is_some_and(|members| members.iter().any(|member| member == user))
    }
}

impl std::fmt::Display for Approver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Approver::User(name) => f.write_str(name),
            Approver::Group(name) => write!(f, "@{name}"),
        }
    }
}

/// Parses `alice,bob,@ops`: logins, and groups written with a leading `@`.
pub fn parse_approvers(text: &str) -> Result<Vec<Approver>, String> {
    let mut approvers = Vec::new();
    for entry in split_list(text) {
        let approver = match entry.strip_prefix('@') {
            Some("") => return Err("`@` must be followed by a group name".to_string()),
            Some(group) => Approver::Group(group.to_string()),
            None => Approver::User(entry),
        };
        if !approvers.contains(&approver) {
            approvers.push(approver);
        }
    }
    Ok(approvers)
}

// ---------------------------------------------------------------------------------------------

fn default_true() -> bool {
    true
}

fn spec_error(option: &str, problem: impl Into<String>) -> EnvironmentSpecError {
    EnvironmentSpecError {
        option: option.to_string(),
        problem: problem.into(),
    }
}

fn clean_list(entries: &[String]) -> Vec<String> {
    entries
        .iter()
        .map(|entry| entry.trim())
        .filter(|entry| !entry.is_empty())
        .map(str::to_string)
        .collect()
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    fn documented_example() -> EnvironmentPatch {
        EnvironmentPatch {
            deploy: ProtectionPatch {
                approvals: Some(2),
                approvers: Some(list(&["alice", "bob", "carol"])),
                wait: Some("5m".into()),
                branches: Some(list(&["main"])),
                tags: Some(list(&["v*"])),
                ..ProtectionPatch::default()
            },
            add_freeze: list(&["Fri 16:00-Mon 08:00 UTC"]),
            ..EnvironmentPatch::default()
        }
    }

    #[test]
    fn applies_the_documented_example() {
        let environment = Environment::from_patch("production", &documented_example()).unwrap();
        assert_eq!(environment.name, "production");
        let protection = &environment.protection;
        assert_eq!(protection.required_approvals, 2);
        assert_eq!(
            protection.approvers,
            vec![
                Approver::User("alice".into()),
                Approver::User("bob".into()),
                Approver::User("carol".into())
            ]
        );
        assert!(protection.prevent_self_review);
        assert_eq!(protection.wait, Duration::from_mins(5));
        assert_eq!(protection.branches, vec!["main"]);
        assert_eq!(protection.tags, vec!["v*"]);
        assert_eq!(
            environment.freeze_windows,
            vec![FreezeWindow::parse("Fri 16:00-Mon 08:00 UTC").unwrap()]
        );
        assert!(environment.release_protection.is_open());
    }

    #[test]
    fn applies_every_setting() {
        let patch: EnvironmentPatch = serde_json::from_value(serde_json::json!({
            "deploy": {
                "approvers": ["@ops", "dave"],
                "approvals": 1,
                "prevent_self_review": false,
                "approval_expiry": "24h"
            },
            "strategy": "blue-green",
            "url": "https://staging.example.com",
            "vars": {"REGION": "eu-west-1"},
            "secrets": ["DEPLOY_KEY", "DEPLOY_KEY"],
            "release": {"approvals": 1, "approvers": ["@product"], "tags": ["v*", "!v*-rc*"]}
        }))
        .unwrap();
        let environment = Environment::from_patch("staging", &patch).unwrap();
        assert_eq!(
            environment.protection.approvers,
            vec![Approver::Group("ops".into()), Approver::User("dave".into())]
        );
        assert!(!environment.protection.prevent_self_review);
        assert_eq!(
            environment.protection.approval_expiry,
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(environment.default_strategy, Some(StrategyKind::BlueGreen));
        assert_eq!(
            environment.variables.get("REGION").map(String::as_str),
            Some("eu-west-1")
        );
        assert_eq!(environment.secret_names, vec!["DEPLOY_KEY"]);
        assert_eq!(environment.release_protection.required_approvals, 1);
        assert_eq!(environment.release_protection.tags, vec!["v*", "!v*-rc*"]);
        // Round trip through the JSON the store keeps.
        let json = serde_json::to_string(&environment).unwrap();
        let back: Environment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, environment);
    }

    fn check_error(patch: serde_json::Value, expected: &str) {
        let parsed: EnvironmentPatch = serde_json::from_value(patch.clone()).unwrap();
        let mut environment = Environment::new("production");
        let before = environment.clone();
        let error = environment.apply_patch(&parsed).unwrap_err();
        assert_eq!(error.to_string(), expected, "patch {patch}");
        assert_eq!(environment, before, "a refused patch changes nothing");
    }

    #[test]
    fn errors_name_the_setting() {
        use serde_json::json;
        check_error(
            json!({"deploy": {"wait": "5x"}}),
            "setting `wait`: duration `5x`: unknown unit `x` (use s, m, h or d)",
        );
        check_error(
            json!({"deploy": {"approvals": 2}}),
            "setting `approvals`: 2 approval(s) required but no approvers are named (add `approvers`)",
        );
        check_error(
            json!({"deploy": {"approvals": 3, "approvers": ["alice", "bob"]}}),
            "setting `approvals`: 3 approval(s) required but only 2 approver(s) are named",
        );
        check_error(
            json!({"release": {"approvals": 1}}),
            "setting `release.approvals`: 1 approval(s) required but no approvers are named (add `release.approvers`)",
        );
        check_error(
            json!({"release": {"branches": ["main"]}}),
            "setting `release.branches`: a release's ref is its tag: use `release.tags`",
        );
        check_error(
            json!({"add_freeze": ["Fri 16:00-Mon 08:00", "Fry 16:00-Mon 08:00"]}),
            "setting `add_freeze[1]`: freeze window `Fry 16:00-Mon 08:00`: unknown weekday `Fry` (use Mon, Tue, … Sun)",
        );
        check_error(
            json!({"strategy": "yolo"}),
            "setting `strategy`: unknown strategy `yolo` (use big-bang, rolling, blue-green or canary)",
        );
        check_error(
            json!({"vars": {"1X": "a"}}),
            "setting `vars`: `1X` is not a valid variable name (letters, digits, `_`)",
        );
        check_error(
            json!({"deploy": {"approvers": ["alice", "@"]}}),
            "setting `approvers`: `@` must be followed by a group name",
        );
        let pattern_problem = compile_all(&["[main"]).unwrap_err();
        check_error(
            json!({"deploy": {"branches": ["[main"]}}),
            &format!("setting `branches`: {pattern_problem}"),
        );
        // Unknown fields are refused by the wire type itself, naming them.
        let typo = serde_json::from_value::<EnvironmentPatch>(json!({"deploy": {"aprovals": 2}}))
            .unwrap_err()
            .to_string();
        assert!(typo.contains("aprovals"), "{typo}");
    }

    #[test]
    fn later_patches_replace_or_add() {
        let mut environment = Environment::from_patch(
            "production",
            &EnvironmentPatch {
                add_freeze: list(&["Fri 16:00-Mon 08:00", "2026-12-24T00:00Z/2026-12-27T00:00Z"]),
                ..EnvironmentPatch::default()
            },
        )
        .unwrap();
        assert_eq!(environment.freeze_windows.len(), 2);
        environment
            .apply_patch(&EnvironmentPatch {
                clear_freeze: true,
                ..EnvironmentPatch::default()
            })
            .unwrap();
        assert!(environment.freeze_windows.is_empty());
        let branches = |names: &[&str]| EnvironmentPatch {
            deploy: ProtectionPatch {
                branches: Some(list(names)),
                ..ProtectionPatch::default()
            },
            ..EnvironmentPatch::default()
        };
        environment.apply_patch(&branches(&["main"])).unwrap();
        environment.apply_patch(&branches(&["release/*"])).unwrap();
        assert_eq!(environment.protection.branches, vec!["release/*"]);
        // Settings not named stay as they were.
        environment
            .apply_patch(&EnvironmentPatch::default())
            .unwrap();
        assert_eq!(environment.protection.branches, vec!["release/*"]);
    }

    fn check_ref(branches: &[&str], tags: &[&str], git_ref: &str, expected: bool) {
        let protection = Protection {
            branches: branches.iter().map(|s| s.to_string()).collect(),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            ..Protection::default()
        };
        assert_eq!(
            protection.allows_ref(git_ref),
            Ok(expected),
            "branches {branches:?} tags {tags:?} ref {git_ref}"
        );
    }

    #[test]
    fn ref_policy() {
        check_ref(&[], &[], "refs/heads/feature/x", true);
        check_ref(&[], &[], "refs/pull/3/merge", true);
        check_ref(&["main"], &[], "refs/heads/main", true);
        check_ref(&["main"], &[], "refs/heads/feature/x", false);
        check_ref(&["main"], &[], "refs/tags/v1.0.0", false);
        check_ref(&["main"], &["v*"], "refs/tags/v1.0.0", true);
        check_ref(&["main"], &["v*"], "refs/tags/nightly", false);
        check_ref(&[], &["v*"], "refs/heads/main", false);
        check_ref(&["release/*"], &[], "refs/heads/release/1.2", true);
        check_ref(&["release/*"], &[], "refs/heads/release/1.2/hotfix", false);
        check_ref(&["release/**"], &[], "refs/heads/release/1.2/hotfix", true);
        check_ref(&["*", "!wip-*"], &[], "refs/heads/wip-x", false);
        check_ref(&["main"], &["v*"], "refs/pull/3/merge", false);
    }

    #[test]
    fn approvers_through_groups() {
        let protection = Protection {
            required_approvals: 1,
            approvers: parse_approvers("alice,@ops").unwrap(),
            ..Protection::default()
        };
        let mut groups = Groups::default();
        groups
            .members
            .insert("ops".into(), vec!["erin".into(), "frank".into()]);
        assert!(protection.is_approver("alice", &groups));
        assert!(protection.is_approver("erin", &groups));
        assert!(!protection.is_approver("mallory", &groups));
        assert!(!protection.is_approver("ops", &groups));
    }
}
