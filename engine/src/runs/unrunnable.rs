//! No silent waits: a queued job whose `runs-on` labels no registered runner carries says so
//! (`run-status`, the API's `waiting_reason`), and fails after the engine's no-runner timeout
//! (GitHub's is 24 hours) with that reason recorded.
//!
//! Pure decisions over runner records; the engine reads the records and acts.

use crate::store::RunnerRecord;

/// Why no runner can take a job needing `runs_on`, or `None` when one can (or the job needs no
/// label). Names the missing labels and the label sets the runners have.
pub fn no_runner_reason(runs_on: &[String], runners: &[RunnerRecord]) -> Option<String> {
    if runs_on.is_empty() || runners.iter().any(|runner| runner.carries(runs_on)) {
        return None;
    }
    let wanted = runs_on.join(", ");
    if runners.is_empty() {
        return Some(format!(
            "no runner has labels [{wanted}]: no runner is registered (slipway runners token, then slipway runner register)"
        ));
    }
    let mut sets: Vec<String> = runners
        .iter()
        .map(|runner| format!("[{}]", runner.labels.join(", ")))
        .collect();
    sets.sort();
    sets.dedup();
    const SHOWN: usize = 5;
    let more = sets.len().saturating_sub(SHOWN);
    sets.truncate(SHOWN);
    let mut have = sets.join(", ");
    if more > 0 {
        have.push_str(&format!(" and {more} more"));
    }
    Some(format!(
        "no runner has labels [{wanted}]; runners have {have}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RunnerId;

    fn runner(labels: &[&str]) -> RunnerRecord {
        RunnerRecord {
            runner_id: RunnerId::new(),
            name: "r".into(),
            labels: labels.iter().map(|label| label.to_string()).collect(),
            capacity: 1,
            credential_hash: String::new(),
            registered_at_us: 0,
            last_seen_at_us: None,
        }
    }

    #[test]
    fn names_the_missing_labels_and_what_runners_have() {
        let runners = vec![
            runner(&["self-hosted", "linux", "ubuntu-latest"]),
            runner(&["self-hosted", "gpu"]),
        ];
        let labels = |list: &[&str]| list.iter().map(|l| l.to_string()).collect::<Vec<_>>();
        assert_eq!(
            no_runner_reason(&labels(&["ubuntu-latest"]), &runners),
            None
        );
        assert_eq!(no_runner_reason(&[], &runners), None);
        assert_eq!(
            no_runner_reason(&labels(&["macos-latest"]), &runners).as_deref(),
            Some(
                "no runner has labels [macos-latest]; runners have [self-hosted, gpu], [self-hosted, linux, ubuntu-latest]"
            )
        );
        assert!(
            no_runner_reason(&labels(&["gpu"]), &[])
                .is_some_and(|reason| reason.contains("no runner is registered"))
        );
    }
}
