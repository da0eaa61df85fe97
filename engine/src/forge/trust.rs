//! Which runs of a pull request are trusted with secrets, as GitHub documents it:
//! - `pull_request` from a fork (the head lives in another repository than the base, or its
//!   repository is gone): no secrets and no variables reach the run, and `GITHUB_TOKEN` is
//!   read-only (Slipway's job token never grants writes to the repository; its cache scope is
//!   the pull request's own `refs/pull/N/merge`, so a fork cannot write the base branch's caches);
//! - `pull_request` from a branch of the same repository: secrets as for a push;
//! - `pull_request_target`: the base's workflow at the base commit, with secrets — the head's
//!   code is not checked out unless the workflow asks for it, which is its author's risk.
//!
//! Decided from the event's payload, so a re-run (which keeps the payload) follows the same rule.
//! Pure.

use serde_json::Value;

/// Why a run of `event_name` with `payload` gets no secrets and variables; `None`: it gets them.
pub fn secrets_withheld(event_name: &str, payload: Option<&Value>) -> Option<String> {
    if event_name != "pull_request" {
        return None;
    }
    let payload = payload?;
    let pull = payload.get("pull_request")?;
    let head = pull.pointer("/head/repo/full_name").and_then(Value::as_str);
    let base = pull
        .pointer("/base/repo/full_name")
        .and_then(Value::as_str)
        .or_else(|| {
            payload
                .pointer("/repository/full_name")
                .and_then(Value::as_str)
        });
    match head {
        Some(head) if Some(head) == base => None,
        Some(head) => Some(format!(
            "a pull request from the fork `{head}`: secrets and variables are withheld"
        )),
        None => Some(
            "a pull request whose head repository is gone: secrets and variables are withheld"
                .to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pr(head: Value) -> Value {
        json!({"pull_request": {"head": {"repo": head}, "base": {"repo": {"full_name": "o/app"}}}})
    }

    #[test]
    fn only_fork_pull_requests_lose_secrets() {
        let same = pr(json!({"full_name": "o/app", "fork": true}));
        assert_eq!(secrets_withheld("pull_request", Some(&same)), None);
        let fork = pr(json!({"full_name": "eve/app"}));
        assert!(secrets_withheld("pull_request", Some(&fork)).is_some());
        let gone = pr(Value::Null);
        assert!(secrets_withheld("pull_request", Some(&gone)).is_some());
        assert_eq!(secrets_withheld("pull_request_target", Some(&fork)), None);
        assert_eq!(secrets_withheld("push", Some(&fork)), None);
        assert_eq!(secrets_withheld("pull_request", None), None);
    }
}
