//! A property test of the lease and fencing rules, against the real store on a real sled
//! directory: whatever the interleaving of engine restarts (the store dropped and reopened),
//! runners re-attaching with the lease they hold (heartbeats, logs, finishing), lease expiries
//! and runners asking for work, no two runners both complete the same job, a completion is only
//! ever accepted from the lease that is current, and a completed job stays completed.

use engine::store::{ExpiredLease, JobId, JobState, RunnerId, Store};
use proptest::prelude::*;
use protocol::wire::LogChunk;
use protocol::{Conclusion, JobResult, JobSpec};

/// One thing that can happen, in any order.
#[derive(Debug, Clone)]
enum Step {
    /// Runner `n` asks for work.
    Lease(usize),
    /// Runner `n` heartbeats (re-attaches) under the lease it believes it holds.
    Heartbeat(usize),
    /// Runner `n` sends a log chunk under the lease it believes it holds.
    Log(usize),
    /// Runner `n` reports its result under the lease it believes it holds.
    Finish(usize),
    /// The engine's clock ends the lease it knows (the current one), or a stale one.
    Expire { stale: bool },
    /// The engine process dies and starts again on the same data dir.
    Restart,
}

const RUNNERS: usize = 3;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..RUNNERS).prop_map(Step::Lease),
        2 => (0..RUNNERS).prop_map(Step::Heartbeat),
        1 => (0..RUNNERS).prop_map(Step::Log),
        3 => (0..RUNNERS).prop_map(Step::Finish),
        2 => any::<bool>().prop_map(|stale| Step::Expire { stale }),
        1 => Just(Step::Restart),
    ]
}

fn result() -> JobResult {
    JobResult {
        conclusion: Conclusion::Success,
        outputs: Default::default(),
        steps: Vec::new(),
        summary: String::new(),
        failure_reason: None,
        deployment: None,
    }
}

fn spec() -> JobSpec {
    JobSpec {
        job_key: "build".to_string(),
        job_id: "build".to_string(),
        display_name: "build".to_string(),
        ..JobSpec::default()
    }
}

/// Opens the store again after a simulated restart. sled lets go of its file lock when the last of
/// its own background references drops, which can trail the store's drop by a moment: a lock
/// error is retried for a while (a real restart is a new process, where this cannot happen).
async fn reopen(dir: &std::path::Path) -> Result<Store, TestCaseError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Ok(store) => return Ok(store),
            Err(error)
                if error.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            Err(error) => return Err(TestCaseError::fail(error.to_string())),
        }
    }
}

async fn check(steps: Vec<Step>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut store = Some(Store::open(dir.path()).map_err(|e| TestCaseError::fail(e.to_string()))?);
    let runners: Vec<RunnerId> = (0..RUNNERS).map(|_| RunnerId::new()).collect();
    // What each runner believes it holds: the token of the lease it was granted last.
    let mut held: Vec<Option<u64>> = vec![None; RUNNERS];
    let (job_id, _run_id): (JobId, _) = {
        let store = store
            .as_ref()
            .ok_or_else(|| TestCaseError::fail("no store"))?;
        let run = store
            .create_run("ci.yml", serde_json::json!({}))
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let job = store
            .enqueue_job(run.run_id, spec(), 1_000)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        (job.job_id, run.run_id)
    };
    let mut completed_by: Vec<usize> = Vec::new();
    let mut next_seq = 0u64;
    for step in steps {
        let current = store
            .as_ref()
            .ok_or_else(|| TestCaseError::fail("no store"))?;
        let job = current
            .job(job_id)
            .map_err(|e| TestCaseError::fail(e.to_string()))?
            .ok_or_else(|| TestCaseError::fail("the job vanished"))?;
        let current_token = job.lease.as_ref().map(|lease| lease.fencing_token);
        match step {
            Step::Lease(n) => {
                if let Some(granted) = current
                    .lease_next(runners[n], |_| true)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?
                {
                    prop_assert_eq!(granted.job_id, job_id);
                    prop_assert!(completed_by.is_empty(), "a completed job was leased again");
                    held[n] = granted.lease.map(|lease| lease.fencing_token);
                }
            }
            Step::Heartbeat(n) => {
                if let Some(token) = held[n] {
                    let attached = current.leased_job(job_id, runners[n], token).is_ok();
                    prop_assert_eq!(
                        attached,
                        current_token == Some(token) && job.runner_id == Some(runners[n])
                    );
                }
            }
            Step::Log(n) => {
                if let Some(token) = held[n] {
                    let Ok(leased) = current.leased_job(job_id, runners[n], token) else {
                        continue;
                    };
                    let chunk = LogChunk {
                        seq: next_seq,
                        lines: vec![format!("from runner {n}")],
                        times: Vec::new(),
                    };
                    next_seq += 1;
                    current
                        .append_log_chunks(&leased, token, &[chunk])
                        .await
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                }
            }
            Step::Finish(n) => {
                if let Some(token) = held[n] {
                    let accepted = current
                        .finish_job(job_id, runners[n], token, result())
                        .await
                        .is_ok();
                    if accepted {
                        prop_assert_eq!(
                            current_token,
                            Some(token),
                            "a stale lease completed the job"
                        );
                        completed_by.push(n);
                    }
                    held[n] = None;
                }
            }
            Step::Expire { stale } => {
                let token = match (stale, current_token, job.last_fencing_token) {
                    (false, Some(token), _) => token,
                    (true, _, Some(last)) => last.wrapping_add(1),
                    _ => continue,
                };
                let outcome = current
                    .expire_lease(job_id, token, "lease expired", "runner lost")
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                if stale {
                    prop_assert!(matches!(outcome, ExpiredLease::Unchanged));
                }
            }
            Step::Restart => {
                // The old store is closed (its sled lock released) before the new one opens.
                drop(store.take());
                store = Some(reopen(dir.path()).await?);
            }
        }
        prop_assert!(
            completed_by.len() <= 1,
            "completed by runners {:?}",
            completed_by
        );
    }
    let current = store
        .as_ref()
        .ok_or_else(|| TestCaseError::fail("no store"))?;
    let job = current
        .job(job_id)
        .map_err(|e| TestCaseError::fail(e.to_string()))?
        .ok_or_else(|| TestCaseError::fail("the job vanished"))?;
    prop_assert_eq!(job.state == JobState::Completed, completed_by.len() == 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn no_interleaving_lets_two_runners_complete_one_job(steps in prop::collection::vec(step(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        runtime.block_on(check(steps))?;
    }
}
