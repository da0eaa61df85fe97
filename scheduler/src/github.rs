//! The one builder of the `github` context: from a run's typed facts (`protocol::RunFacts`) and
//! its event payload to the object GitHub documents, for the engine and `slipway run` alike; and
//! the numeric `github.run_id` of a run.
//!
//! Runner-side fields (`workspace`, `event_path`, `action_path`) are left empty here: the runner
//! fills them. `job` is set per job by `plan`. This module reads no clock and does no I/O.

use protocol::RunFacts;
use serde_json::{Map, Value, json};

/// `github.run_id` for a run whose engine key (a uuid, or `slipway run`'s local key) is `key`.
///
/// GitHub's run id is a number unique among all runs, which a re-run keeps; the engine's own key
/// is a uuid, and the `github` context must not depend on a store counter that `slipway run`
/// does not have. So the number is derived from the key of the run's first attempt: the 64-bit
/// FNV-1a hash of its text, cut to 53 bits so that it stays exact as a JSON number in any client
/// (JavaScript's safe integers). Stable (the same key gives the same number after a restart) and
/// unique in practice: two keys collide with probability 2⁻⁵³. Never 0.
pub fn numeric_run_id(key: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let hash = key.bytes().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    (hash & ((1 << 53) - 1)).max(1)
}

/// The `repository_owner` of `owner/name` (`local` when there is no owner).
pub fn repository_owner(repository: &str) -> &str {
    match repository.split_once('/') {
        Some((owner, _)) if !owner.is_empty() => owner,
        _ => "local",
    }
}

/// The run's `github` context, the same for every job of the run (without `job`). `event` is the
/// payload. Ids Slipway has no notion of (`actor_id`, `repository_id`, …) are `"0"`, URLs point
/// at `slipway.invalid` (`server_url` at `slipway.localhost`, see there).
pub fn github_context(run: &RunFacts, payload: &Value) -> Map<String, Value> {
    let git_ref = run.git_ref.as_str();
    let (ref_type, ref_name) = if let Some(tag) = git_ref.strip_prefix("refs/tags/") {
        ("tag", tag)
    } else if let Some(branch) = git_ref.strip_prefix("refs/heads/") {
        ("branch", branch)
    } else if let Some(merge) = git_ref.strip_prefix("refs/pull/") {
        // GitHub's `ref_name` of a pull request run: `<number>/merge`.
        ("branch", merge)
    } else {
        ("branch", git_ref)
    };
    let context = json!({
        "action": "",
        "action_path": "",
        "action_ref": "",
        "action_repository": "",
        "actor": run.actor,
        "actor_id": "0",
        "api_url": "https://slipway.invalid/api",
        "base_ref": "",
        "env": "",
        "event": payload,
        "event_name": run.event_name,
        "event_path": "",
        "graphql_url": "https://slipway.invalid/graphql",
        "head_ref": "",
        "job": "",
        "path": "",
        "ref": git_ref,
        "ref_name": ref_name,
        "ref_protected": false,
        "ref_type": ref_type,
        "repository": run.repository,
        "repository_id": "0",
        "repository_owner": run.repository_owner,
        "repository_owner_id": "0",
        "repositoryUrl": run.repository_url,
        "retention_days": "90",
        "run_attempt": run.run_attempt.to_string(),
        "run_id": run.run_id.to_string(),
        "run_number": run.run_number.to_string(),
        "secret_source": "None",
        // A `.localhost` host: the toolkit's `@actions/artifact` (upload/download-artifact@v4)
        // refuses to run against a server it takes for GitHub Enterprise Server, which is any
        // host but github.com, `*.ghe.com` and `*.localhost`. The name is reserved: never a
        // real server.
        "server_url": "https://slipway.localhost",
        "sha": run.sha,
        "token": "",
        "triggering_actor": run.triggering_actor,
        "workflow": run.workflow,
        "workflow_ref": format!("{}/{}@{}", run.repository, run.workflow_file, git_ref),
        "workflow_sha": run.sha,
        "workspace": "",
    });
    match context {
        Value::Object(mut map) => {
            // A pull request's branches, as GitHub sets them for its two events only.
            if run.event_name.starts_with("pull_request") {
                for (key, pointer) in [
                    ("head_ref", "/pull_request/head/ref"),
                    ("base_ref", "/pull_request/base/ref"),
                ] {
                    if let Some(name) = payload.pointer(pointer).and_then(Value::as_str) {
                        map.insert(key.into(), Value::String(name.to_string()));
                    }
                }
            }
            map
        }
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_stable_distinct_and_exact_in_json() {
        let first = numeric_run_id("0190a3c4-0000-7000-8000-000000000001");
        let second = numeric_run_id("0190a3c4-0000-7000-8000-000000000002");
        assert_eq!(
            first,
            numeric_run_id("0190a3c4-0000-7000-8000-000000000001")
        );
        assert_ne!(first, second);
        for id in [first, second, numeric_run_id("")] {
            assert!(id > 0 && id < (1 << 53), "{id}");
        }
    }

    #[test]
    fn the_context_follows_the_facts() {
        let run = RunFacts {
            actor: "erin".into(),
            triggering_actor: "erin".into(),
            event_name: "push".into(),
            git_ref: "refs/tags/v1.2".into(),
            sha: "abc".into(),
            repository: "octo/app".into(),
            repository_owner: "octo".into(),
            repository_url: "/srv/app".into(),
            workflow: "CI".into(),
            workflow_file: ".github/workflows/ci.yml".into(),
            run_id: 991,
            run_number: 3,
            run_attempt: 2,
        };
        let github = github_context(&run, &json!({"ref": "refs/tags/v1.2"}));
        assert_eq!(github["ref_type"], "tag");
        assert_eq!(github["ref_name"], "v1.2");
        assert_eq!(github["run_id"], "991");
        assert_eq!(github["run_number"], "3");
        assert_eq!(github["run_attempt"], "2");
        assert_eq!(github["repository_owner"], "octo");
        assert_eq!(github["event"]["ref"], "refs/tags/v1.2");
        assert_eq!(
            github["workflow_ref"],
            "octo/app/.github/workflows/ci.yml@refs/tags/v1.2"
        );
        assert_eq!(repository_owner("app"), "local");
        // Not a GHES host to `@actions/artifact`'s `isGhes()`.
        assert!(
            github["server_url"]
                .as_str()
                .is_some_and(|url| url.ends_with(".localhost"))
        );
    }
}
