//! Environment configuration: a deployment target (dev, staging, production) as the engine's
//! operators configure it with `slipway env` or the API — never from the repository, so a push
//! cannot weaken its own protection.
//!
//! An environment carries two protection policies of the same shape: one gates deployments
//! (jobs with `environment:`), the other gates releases (promoting a version to an audience).
//! This module holds the configuration and its command-line spelling; deciding anything with it
//! is `protection`'s job. Secret values are the store's business: only their names live here.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use workflows::filters::{Pattern, compile_all, matches_patterns};

use super::duration::{Duration, parse_duration};
use super::freeze::FreezeWindow;
use super::spec::StrategyKind;

/// One configured environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Environment {
    pub name: String,
    /// Who must approve a deployment, how long to wait, which refs may deploy.
    #[serde(default)]
    pub protection: Protection,
    /// The same rules for promoting a release into this environment.
    #[serde(default)]
    pub release_protection: Protection,
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
    User(String),
    Group(String),
}

/// Group membership as the engine knows it: group name → member logins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Groups {
    pub members: IndexMap<String, Vec<String>>,
}

/// A bad environment setting; the message names the option at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("option `{option}`: {problem}")]
pub struct EnvironmentSpecError {
    pub option: String,
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
            freeze_windows: Vec::new(),
            default_strategy: None,
            url: None,
            variables: IndexMap::new(),
            secret_names: Vec::new(),
        }
    }

    /// Builds an environment from command-line options (see [`Environment::apply_args`]).
    pub fn from_args<S: AsRef<str>>(
        name: &str,
        args: &[S],
    ) -> Result<Environment, EnvironmentSpecError> {
        if name.trim().is_empty() {
            return Err(EnvironmentSpecError {
                option: "name".to_string(),
                problem: "the environment name is empty".to_string(),
            });
        }
        let mut environment = Environment::new(name);
        environment.apply_args(args)?;
        Ok(environment)
    }

    /// Applies `slipway env set` options, in order, then checks the result:
    ///
    /// | option | meaning |
    /// | --- | --- |
    /// | `--approvals N` | required approvals |
    /// | `--approvers alice,bob,@ops` | approvers; `@name` is a group (replaces the list) |
    /// | `--allow-self-review` / `--prevent-self-review` | may the run's actor approve |
    /// | `--wait 5m` | wait timer |
    /// | `--approval-expiry 24h` | approvals older than this stop counting |
    /// | `--branches main,release/*` | allowed branch patterns (replaces the list) |
    /// | `--tags 'v*'` | allowed tag patterns (replaces the list) |
    /// | `--freeze 'Fri 16:00-Mon 08:00 UTC'` | adds a freeze window (repeatable) |
    /// | `--no-freeze` | removes every freeze window |
    /// | `--strategy rolling` | default strategy |
    /// | `--url URL` | environment URL |
    /// | `--var KEY=VALUE` | adds a variable (repeatable) |
    /// | `--secret NAME` | adds a secret name (repeatable) |
    /// | `--release-approvals N`, `--release-approvers …`, `--release-wait D`, `--release-approval-expiry D`, `--release-tags …`, `--release-allow-self-review` | the release policy (a release's ref is always its tag, so it has no branch list) |
    ///
    /// Options take their value as the next argument or after `=` (`--wait=5m`).
    pub fn apply_args<S: AsRef<str>>(&mut self, args: &[S]) -> Result<(), EnvironmentSpecError> {
        let mut index = 0;
        while let Some(arg) = args.get(index) {
            let arg = arg.as_ref();
            index += 1;
            let (option, inline_value) = match arg.split_once('=') {
                Some((option, value)) if option.starts_with("--") => (option, Some(value)),
                _ => (arg, None),
            };
            if FLAGS.contains(&option) {
                if inline_value.is_some() {
                    return Err(spec_error(option, "takes no value"));
                }
                self.apply_flag(option);
                continue;
            }
            if !OPTIONS.contains(&option) {
                return Err(spec_error(
                    option,
                    match suggest(option) {
                        Some(close) => format!("unknown option (did you mean `{close}`?)"),
                        None => "unknown option".to_string(),
                    },
                ));
            }
            let value = match inline_value {
                Some(value) => value.to_string(),
                None => {
                    let Some(value) = args.get(index) else {
                        return Err(spec_error(option, "needs a value"));
                    };
                    index += 1;
                    value.as_ref().to_string()
                }
            };
            self.apply_option(option, &value)
                .map_err(|problem| spec_error(option, problem))?;
        }
        self.validate()
    }

    /// Checks the settings fit together: patterns compile, and a policy that needs approvals
    /// names enough approvers to give them.
    pub fn validate(&self) -> Result<(), EnvironmentSpecError> {
        self.protection.validate("")?;
        self.release_protection.validate("release-")?;
        for secret in &self.secret_names {
            if !is_identifier(secret) {
                return Err(spec_error(
                    "--secret",
                    format!("`{secret}` is not a valid secret name (letters, digits, `_`)"),
                ));
            }
        }
        for name in self.variables.keys() {
            if !is_identifier(name) {
                return Err(spec_error(
                    "--var",
                    format!("`{name}` is not a valid variable name (letters, digits, `_`)"),
                ));
            }
        }
        Ok(())
    }

    fn apply_flag(&mut self, flag: &str) {
        match flag {
            "--allow-self-review" => self.protection.prevent_self_review = false,
            "--prevent-self-review" => self.protection.prevent_self_review = true,
            "--release-allow-self-review" => self.release_protection.prevent_self_review = false,
            "--release-prevent-self-review" => self.release_protection.prevent_self_review = true,
            "--no-freeze" => self.freeze_windows.clear(),
            _ => {}
        }
    }

    fn apply_option(&mut self, option: &str, value: &str) -> Result<(), String> {
        let (protection, bare) = match option.strip_prefix("--release-") {
            Some(rest) => (&mut self.release_protection, rest),
            None => (&mut self.protection, option.trim_start_matches("--")),
        };
        match bare {
            "approvals" => {
                protection.required_approvals = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("`{value}` is not a whole number of approvals"))?;
            }
            "approvers" => protection.approvers = parse_approvers(value)?,
            "wait" => protection.wait = parse_duration(value).map_err(|e| e.to_string())?,
            "approval-expiry" => {
                let expiry = parse_duration(value).map_err(|e| e.to_string())?;
                protection.approval_expiry = (!expiry.is_zero()).then_some(expiry);
            }
            "branches" => protection.branches = split_list(value),
            "tags" => protection.tags = split_list(value),
            "freeze" => self
                .freeze_windows
                .push(FreezeWindow::parse(value).map_err(|e| e.to_string())?),
            "strategy" => self.default_strategy = Some(StrategyKind::parse(value)?),
            "url" => self.url = Some(value.to_string()),
            "var" => {
                let Some((key, text)) = value.split_once('=') else {
                    return Err(format!("`{value}` is not `KEY=VALUE`"));
                };
                self.variables.insert(key.to_string(), text.to_string());
            }
            "secret" => {
                if !self.secret_names.iter().any(|name| name == value) {
                    self.secret_names.push(value.to_string());
                }
            }
            _ => return Err("unknown option".to_string()),
        }
        Ok(())
    }
}

impl Protection {
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

    fn validate(&self, prefix: &str) -> Result<(), EnvironmentSpecError> {
        compile_all(&self.branches)
            .map_err(|problem| spec_error(&format!("--{prefix}branches"), problem))?;
        compile_all(&self.tags)
            .map_err(|problem| spec_error(&format!("--{prefix}tags"), problem))?;
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
                &format!("--{prefix}approvals"),
                format!(
                    "{} approval(s) required but no approvers are named (add `--{prefix}approvers`)",
                    self.required_approvals
                ),
            ));
        }
        if !has_group && named_users < self.required_approvals as usize {
            return Err(spec_error(
                &format!("--{prefix}approvals"),
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

const FLAGS: &[&str] = &[
    "--allow-self-review",
    "--prevent-self-review",
    "--release-allow-self-review",
    "--release-prevent-self-review",
    "--no-freeze",
];

const OPTIONS: &[&str] = &[
    "--approvals",
    "--approvers",
    "--wait",
    "--approval-expiry",
    "--branches",
    "--tags",
    "--freeze",
    "--strategy",
    "--url",
    "--var",
    "--secret",
    "--release-approvals",
    "--release-approvers",
    "--release-wait",
    "--release-approval-expiry",
    "--release-tags",
];

fn default_true() -> bool {
    true
}

fn spec_error(option: &str, problem: impl Into<String>) -> EnvironmentSpecError {
    EnvironmentSpecError {
        option: option.to_string(),
        problem: problem.into(),
    }
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

/// The closest known option, when one is within two edits.
fn suggest(option: &str) -> Option<&'static str> {
    FLAGS
        .iter()
        .chain(OPTIONS)
        .map(|known| (edit_distance(option, known), *known))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, known)| known)
}

/// Levenshtein distance, for "did you mean" hints.
pub(crate) fn edit_distance(left: &str, right: &str) -> usize {
    let right_chars: Vec<char> = right.chars().collect();
    let mut previous: Vec<usize> = (0..=right_chars.len()).collect();
    for (i, left_char) in left.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, right_char) in right_chars.iter().enumerate() {
            let substitution =
                previous.get(j).copied().unwrap_or(0) + usize::from(left_char != *right_char);
            let deletion = previous.get(j + 1).copied().unwrap_or(0) + 1;
            let insertion = current.get(j).copied().unwrap_or(0) + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &[&str]) -> Vec<String> {
        text.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_the_documented_example() {
        let environment = Environment::from_args(
            "production",
            &args(&[
                "--approvals",
                "2",
                "--approvers",
                "alice,bob,carol",
                "--wait",
                "5m",
                "--branches",
                "main",
                "--tags",
                "v*",
                "--freeze",
                "Fri 16:00-Mon 08:00 UTC",
            ]),
        )
        .unwrap();
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
    fn parses_every_option() {
        let environment = Environment::from_args(
            "staging",
            &args(&[
                "--approvers=@ops,dave",
                "--approvals=1",
                "--allow-self-review",
                "--approval-expiry",
                "24h",
                "--strategy",
                "blue-green",
                "--url",
                "https://staging.example.com",
                "--var",
                "REGION=eu-west-1",
                "--secret",
                "DEPLOY_KEY",
                "--secret",
                "DEPLOY_KEY",
                "--release-approvals",
                "1",
                "--release-approvers",
                "@product",
                "--release-tags",
                "v*,!v*-rc*",
            ]),
        )
        .unwrap();
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

    fn check_error(arguments: &[&str], expected: &str) {
        let error = Environment::from_args("production", &args(arguments)).unwrap_err();
        assert_eq!(error.to_string(), expected, "arguments {arguments:?}");
    }

    #[test]
    fn errors_name_the_option() {
        check_error(
            &["--wait", "5x"],
            "option `--wait`: duration `5x`: unknown unit `x` (use s, m, h or d)",
        );
        check_error(&["--wait"], "option `--wait`: needs a value");
        check_error(
            &["--approvals", "two"],
            "option `--approvals`: `two` is not a whole number of approvals",
        );
        check_error(
            &["--aprovals", "2"],
            "option `--aprovals`: unknown option (did you mean `--approvals`?)",
        );
        check_error(&["--colour", "red"], "option `--colour`: unknown option");
        check_error(
            &["--approvals", "2"],
            "option `--approvals`: 2 approval(s) required but no approvers are named (add `--approvers`)",
        );
        check_error(
            &["--approvals", "3", "--approvers", "alice,bob"],
            "option `--approvals`: 3 approval(s) required but only 2 approver(s) are named",
        );
        check_error(
            &["--release-approvals", "1"],
            "option `--release-approvals`: 1 approval(s) required but no approvers are named (add `--release-approvers`)",
        );
        check_error(
            &["--freeze", "Fry 16:00-Mon 08:00"],
            "option `--freeze`: freeze window `Fry 16:00-Mon 08:00`: unknown weekday `Fry` (use Mon, Tue, … Sun)",
        );
        check_error(
            &["--strategy", "yolo"],
            "option `--strategy`: unknown strategy `yolo` (use big-bang, rolling, blue-green or canary)",
        );
        check_error(
            &["--var", "REGION"],
            "option `--var`: `REGION` is not `KEY=VALUE`",
        );
        check_error(
            &["--var", "1X=a"],
            "option `--var`: `1X` is not a valid variable name (letters, digits, `_`)",
        );
        check_error(
            &["--approvers", "alice,@"],
            "option `--approvers`: `@` must be followed by a group name",
        );
        let pattern_problem = compile_all(&["[main"]).unwrap_err();
        check_error(
            &["--branches", "[main"],
            &format!("option `--branches`: {pattern_problem}"),
        );
        check_error(&["--no-freeze=yes"], "option `--no-freeze`: takes no value");
    }

    #[test]
    fn later_options_replace_or_add() {
        let mut environment = Environment::from_args(
            "production",
            &args(&[
                "--freeze",
                "Fri 16:00-Mon 08:00",
                "--freeze",
                "2026-12-24T00:00Z/2026-12-27T00:00Z",
            ]),
        )
        .unwrap();
        assert_eq!(environment.freeze_windows.len(), 2);
        environment.apply_args(&args(&["--no-freeze"])).unwrap();
        assert!(environment.freeze_windows.is_empty());
        environment
            .apply_args(&args(&["--branches", "main", "--branches", "release/*"]))
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
