//! GitHub's "context availability" table as data: for each workflow key that may hold `${{ }}`,
//! which contexts and which special functions an expression there may use.
//!
//! The keys are written as GitHub's documentation writes them (`jobs.<job_id>.steps.if`). This
//! module only answers questions about the table; it does not walk workflows or parse expressions
//! (that is `validate`'s job).

/// Every context name GitHub knows, lowercase.
/// `deployment` is Slipway's extension: the phase of a deployment job (`deployment.slot`,
/// `deployment.targets`, …), available wherever `steps` is.
pub const ALL_CONTEXTS: &[&str] = &[
    "github",
    "env",
    "vars",
    "job",
    "jobs",
    "steps",
    "runner",
    "secrets",
    "strategy",
    "matrix",
    "needs",
    "inputs",
    "deployment",
];

/// The status functions (`if:` only).
pub const STATUS_FUNCTIONS: &[&str] = &["always", "cancelled", "success", "failure"];

/// Functions that are available only at some keys (status functions and `hashFiles`), lowercase.
pub const SPECIAL_FUNCTIONS: &[&str] = &["always", "cancelled", "success", "failure", "hashfiles"];

/// What an expression at one workflow key may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// The key as GitHub's table names it.
    pub key: &'static str,
    /// Context names allowed there (lowercase). Empty: expressions are allowed but may read no context.
    pub contexts: &'static [&'static str],
    /// Special functions allowed there (lowercase).
    pub functions: &'static [&'static str],
}

impl Availability {
    /// Whether an expression at this key may read the context `name` (compared case-insensitively).
    pub fn allows_context(&self, name: &str) -> bool {
        self.contexts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }

    /// Whether an expression at this key may call the special function `name` (status functions,
    /// `hashFiles`; compared case-insensitively).
    pub fn allows_function(&self, name: &str) -> bool {
        self.functions
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }
}

/// Looks up a key (`jobs.<job_id>.runs-on`). `None`: the key takes no expressions at all.
pub fn availability(key: &str) -> Option<&'static Availability> {
    TABLE.iter().find(|entry| entry.key == key)
}

/// Keys where GitHub does not evaluate expressions at all (`${{` there is an error).
pub const NO_EXPRESSIONS: &[&str] = &[
    "name",
    "on",
    "permissions",
    "defaults.run.working-directory",
    "jobs.<job_id>",
    "jobs.<job_id>.needs",
    "jobs.<job_id>.permissions",
    "jobs.<job_id>.uses",
    "jobs.<job_id>.steps.id",
    "jobs.<job_id>.steps.uses",
];

const JOB: &[&str] = &["github", "needs", "strategy", "matrix", "vars", "inputs"];
const JOB_WITH_SECRETS: &[&str] = &[
    "github", "needs", "strategy", "matrix", "vars", "secrets", "inputs",
];
const JOB_WITH_ENV_SECRETS: &[&str] = &[
    "github", "needs", "strategy", "matrix", "env", "vars", "secrets", "inputs",
];
const JOB_RUNTIME: &[&str] = &[
    "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "secrets", "inputs",
];
const STEP: &[&str] = &[
    "github",
    "needs",
    "strategy",
    "matrix",
    "job",
    "runner",
    "env",
    "vars",
    "secrets",
    "steps",
    "inputs",
    "deployment",
];
const STEP_IF: &[&str] = &[
    "github",
    "needs",
    "strategy",
    "matrix",
    "job",
    "runner",
    "env",
    "vars",
    "steps",
    "inputs",
    "deployment",
];
const STATUS_AND_HASH: &[&str] = &["always", "cancelled", "success", "failure", "hashfiles"];

const fn entry(
    key: &'static str,
    contexts: &'static [&'static str],
    functions: &'static [&'static str],
) -> Availability {
    Availability {
        key,
        contexts,
        functions,
    }
}

/// The table, from GitHub's "Contexts reference → Context availability", plus the keys the table
/// leaves out but GitHub's workflow schema defines (`defaults.run.shell`, `steps.shell`: literal
/// expressions only).
pub const TABLE: &[Availability] = &[
    entry("run-name", &["github", "inputs", "vars"], &[]),
    entry("concurrency", &["github", "inputs", "vars"], &[]),
    entry("env", &["github", "secrets", "inputs", "vars"], &[]),
    entry("defaults.run.shell", &[], &[]),
    entry(
        "on.workflow_call.inputs.<inputs_id>.default",
        &["github", "inputs", "vars"],
        &[],
    ),
    entry(
        "on.workflow_call.outputs.<output_id>.value",
        &["github", "jobs", "vars", "inputs"],
        &[],
    ),
    entry("jobs.<job_id>.concurrency", JOB, &[]),
    entry("jobs.<job_id>.container", JOB, &[]),
    entry(
        "jobs.<job_id>.container.credentials",
        JOB_WITH_ENV_SECRETS,
        &[],
    ),
    entry("jobs.<job_id>.container.env.<env_id>", JOB_RUNTIME, &[]),
    entry("jobs.<job_id>.container.image", JOB, &[]),
    entry("jobs.<job_id>.continue-on-error", JOB, &[]),
    entry(
        "jobs.<job_id>.defaults.run",
        &[
            "github", "needs", "strategy", "matrix", "env", "vars", "inputs",
        ],
        &[],
    ),
    entry("jobs.<job_id>.env", JOB_WITH_SECRETS, &[]),
    entry("jobs.<job_id>.environment", JOB, &[]),
    entry(
        "jobs.<job_id>.environment.url",
        &[
            "github", "needs", "strategy", "matrix", "job", "runner", "env", "vars", "steps",
            "inputs",
        ],
        &[],
    ),
    entry(
        "jobs.<job_id>.if",
        &["github", "needs", "vars", "inputs"],
        &["always", "cancelled", "success", "failure"],
    ),
    entry("jobs.<job_id>.name", JOB, &[]),
    entry("jobs.<job_id>.outputs.<output_id>", STEP, &[]),
    entry("jobs.<job_id>.runs-on", JOB, &[]),
    entry("jobs.<job_id>.secrets.<secrets_id>", JOB_WITH_SECRETS, &[]),
    entry("jobs.<job_id>.services", JOB, &[]),
    entry(
        "jobs.<job_id>.services.<service_id>.credentials",
        JOB_WITH_ENV_SECRETS,
        &[],
    ),
    entry(
        "jobs.<job_id>.services.<service_id>.env.<env_id>",
        JOB_RUNTIME,
        &[],
    ),
    entry(
        "jobs.<job_id>.steps.continue-on-error",
        STEP,
        &["hashfiles"],
    ),
    entry("jobs.<job_id>.steps.env", STEP, &["hashfiles"]),
    entry("jobs.<job_id>.steps.if", STEP_IF, STATUS_AND_HASH),
    entry("jobs.<job_id>.steps.name", STEP, &["hashfiles"]),
    entry("jobs.<job_id>.steps.run", STEP, &["hashfiles"]),
    entry("jobs.<job_id>.steps.shell", &[], &[]),
    entry("jobs.<job_id>.steps.timeout-minutes", STEP, &["hashfiles"]),
    entry("jobs.<job_id>.steps.with", STEP, &["hashfiles"]),
    entry(
        "jobs.<job_id>.steps.working-directory",
        STEP,
        &["hashfiles"],
    ),
    entry(
        "jobs.<job_id>.strategy",
        &["github", "needs", "vars", "inputs"],
        &[],
    ),
    entry("jobs.<job_id>.timeout-minutes", JOB, &[]),
    entry("jobs.<job_id>.with.<with_id>", JOB, &[]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_listed_once_and_names_known_contexts() {
        for (index, entry) in TABLE.iter().enumerate() {
            assert!(
                TABLE
                    .iter()
                    .skip(index + 1)
                    .all(|other| other.key != entry.key),
                "{} twice",
                entry.key
            );
            for context in entry.contexts {
                assert!(
                    ALL_CONTEXTS.contains(context),
                    "{}: unknown context {context}",
                    entry.key
                );
            }
            for function in entry.functions {
                assert!(
                    SPECIAL_FUNCTIONS.contains(function),
                    "{}: unknown function {function}",
                    entry.key
                );
            }
            assert!(
                !NO_EXPRESSIONS.contains(&entry.key),
                "{} both allows and forbids expressions",
                entry.key
            );
        }
    }

    #[test]
    fn documented_rows() {
        let runs_on = availability("jobs.<job_id>.runs-on").map(|a| a.contexts);
        assert_eq!(runs_on, Some(JOB));
        let step_if = availability("jobs.<job_id>.steps.if");
        assert!(
            step_if.is_some_and(|a| a.allows_function("hashFiles") && !a.allows_context("secrets"))
        );
        assert!(availability("jobs.<job_id>.if").is_some_and(|a| !a.allows_context("matrix")));
        assert!(availability("jobs.<job_id>.steps.uses").is_none());
    }
}
