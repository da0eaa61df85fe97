//! The store on both backends (sled directories and PostgreSQL databases, see `store_suite`):
//! state survives a drop and reopen exactly as it was (queued stays queued, leased keeps its
//! lease, finished stays finished), leases refuse stale fencing tokens, expired leases retry once
//! then fail, and log chunks are idempotent.

use engine::store::{ExpiredLease, JobState, RunnerId, Store, StoreError};

use crate::store_suite::{Place, on_both};
use protocol::wire::LogChunk;
use protocol::{Conclusion, JobResult, JobSpec};

pub(crate) fn spec(job_key: &str, runs_on: &[&str]) -> JobSpec {
    JobSpec {
        job_key: job_key.to_string(),
        job_id: job_key.to_string(),
        display_name: job_key.to_string(),
        runs_on: runs_on.iter().map(|label| label.to_string()).collect(),
        ..JobSpec::default()
    }
}

pub(crate) fn result(conclusion: Conclusion) -> JobResult {
    JobResult {
        conclusion,
        outputs: Default::default(),
        steps: Vec::new(),
        summary: String::new(),
        failure_reason: None,
        deployment: None,
    }
}

on_both!(
    state_survives_reopen_unchanged,
    stale_fencing_tokens_and_strangers_change_nothing,
    expired_lease_requeues_once_then_fails_as_runner_lost,
    log_chunks_are_idempotent_across_reopen_and_a_torn_tail_is_cut,
    registration_tokens_are_one_time_and_credentials_are_checked
);

fn chunk(seq: u64, lines: &[&str]) -> LogChunk {
    LogChunk {
        seq,
        lines: lines.iter().map(|line| line.to_string()).collect(),
        times: Vec::new(),
    }
}

async fn state_survives_reopen_unchanged(place: Place) {
    let runner = RunnerId::new();
    let (run_id, queued_id, leased_id, finished_id, fencing) = {
        let store = place.open();
        let run = store
            .create_run("ci.yml", serde_json::json!({"ref": "main"}))
            .await
            .unwrap();
        assert_eq!(run.run_number, 1);
        let leased = store
            .enqueue_job(run.run_id, spec("a", &[]), 1)
            .await
            .unwrap();
        let finished = store
            .enqueue_job(run.run_id, spec("b", &[]), 1)
            .await
            .unwrap();
        let queued = store
            .enqueue_job(run.run_id, spec("c", &["gpu"]), 1)
            .await
            .unwrap();
        // FIFO: the first queued job that fits is granted first.
        let first = store
            .lease_next(runner, |s| s.runs_on.is_empty())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.job_id, leased.job_id);
        let second = store
            .lease_next(runner, |s| s.runs_on.is_empty())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(second.job_id, finished.job_id);
        // Nothing else fits a runner without `gpu`.
        assert!(
            store
                .lease_next(runner, |s| s.runs_on.is_empty())
                .await
                .unwrap()
                .is_none()
        );
        let token = second.lease.as_ref().unwrap().fencing_token;
        store
            .finish_job(finished.job_id, runner, token, result(Conclusion::Success))
            .await
            .unwrap();
        let fencing = first.lease.as_ref().unwrap().fencing_token;
        (
            run.run_id,
            queued.job_id,
            leased.job_id,
            finished.job_id,
            fencing,
        )
    };

    let store = place.open();
    let queued = store.job(queued_id).unwrap().unwrap();
    assert_eq!(queued.state, JobState::Queued);
    assert_eq!(store.queued_jobs().unwrap().len(), 1);
    let leased = store.job(leased_id).unwrap().unwrap();
    assert_eq!(leased.state, JobState::Leased);
    assert_eq!(leased.lease.as_ref().unwrap().fencing_token, fencing);
    assert_eq!(store.leased_jobs().unwrap().len(), 1);
    // The lease holder can still report into its job after the restart.
    store.leased_job(leased_id, runner, fencing).unwrap();
    let finished = store.job(finished_id).unwrap().unwrap();
    assert_eq!(finished.state, JobState::Completed);
    assert_eq!(finished.conclusion(), Some(Conclusion::Success));
    let stamps = (
        finished.queued_at_us,
        finished.leased_at_us.unwrap(),
        finished.finished_at_us.unwrap(),
    );
    assert!(stamps.0 <= stamps.1 && stamps.1 <= stamps.2, "{stamps:?}");
    let run = store.run(run_id).unwrap().unwrap();
    assert_eq!(run.status.as_str(), "in_progress");
    assert_eq!(store.jobs_of_run(run_id).unwrap().len(), 3);
    // Run numbers keep counting per workflow.
    assert_eq!(
        store
            .create_run("ci.yml", serde_json::Value::Null)
            .await
            .unwrap()
            .run_number,
        2
    );
    assert_eq!(
        store
            .create_run("other.yml", serde_json::Value::Null)
            .await
            .unwrap()
            .run_number,
        1
    );
    // A new fencing token is never an old one.
    let gpu_runner = RunnerId::new();
    let granted = store
        .lease_next(gpu_runner, |_| true)
        .await
        .unwrap()
        .unwrap();
    assert!(granted.lease.unwrap().fencing_token > fencing);
}

async fn stale_fencing_tokens_and_strangers_change_nothing(place: Place) {
    let store = place.open();
    let run = store
        .create_run("ci.yml", serde_json::Value::Null)
        .await
        .unwrap();
    let job = store
        .enqueue_job(run.run_id, spec("a", &[]), 1)
        .await
        .unwrap();
    let runner = RunnerId::new();
    let leased = store.lease_next(runner, |_| true).await.unwrap().unwrap();
    let token = leased.lease.unwrap().fencing_token;

    let stale = store
        .finish_job(job.job_id, runner, token + 1, result(Conclusion::Success))
        .await;
    assert!(
        matches!(stale, Err(StoreError::StaleLease { .. })),
        "{stale:?}"
    );
    let stranger = store
        .finish_job(
            job.job_id,
            RunnerId::new(),
            token,
            result(Conclusion::Success),
        )
        .await;
    assert!(
        matches!(stranger, Err(StoreError::NotYourJob { .. })),
        "{stranger:?}"
    );
    assert_eq!(
        store.job(job.job_id).unwrap().unwrap().state,
        JobState::Leased
    );

    store
        .finish_job(job.job_id, runner, token, result(Conclusion::Failure))
        .await
        .unwrap();
    // Once finished, the same token is stale: a repeated finish changes nothing.
    let again = store
        .finish_job(job.job_id, runner, token, result(Conclusion::Success))
        .await;
    assert!(
        matches!(again, Err(StoreError::StaleLease { .. })),
        "{again:?}"
    );
    assert_eq!(
        store.job(job.job_id).unwrap().unwrap().conclusion(),
        Some(Conclusion::Failure)
    );
}

async fn expired_lease_requeues_once_then_fails_as_runner_lost(place: Place) {
    let store = place.open();
    let run = store
        .create_run("ci.yml", serde_json::Value::Null)
        .await
        .unwrap();
    let job = store
        .enqueue_job(run.run_id, spec("a", &[]), 1)
        .await
        .unwrap();

    let first = store
        .lease_next(RunnerId::new(), |_| true)
        .await
        .unwrap()
        .unwrap();
    let first_token = first.lease.unwrap().fencing_token;
    let outcome = store
        .expire_lease(job.job_id, first_token, "lease expired", "runner lost")
        .await
        .unwrap();
    let ExpiredLease::Requeued(requeued) = outcome else {
        panic!("expected a requeue, got {outcome:?}")
    };
    assert_eq!(requeued.state, JobState::Queued);
    assert_eq!(requeued.retry_reasons, vec!["lease expired".to_string()]);
    // Expiring the same lease twice changes nothing.
    let repeat = store
        .expire_lease(job.job_id, first_token, "lease expired", "runner lost")
        .await
        .unwrap();
    assert_eq!(repeat, ExpiredLease::Unchanged);

    let second = store
        .lease_next(RunnerId::new(), |_| true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.attempt, 2);
    let second_token = second.lease.unwrap().fencing_token;
    let outcome = store
        .expire_lease(job.job_id, second_token, "lease expired", "runner lost")
        .await
        .unwrap();
    let ExpiredLease::Finished(failed) = outcome else {
        panic!("expected a failure, got {outcome:?}")
    };
    let failed_result = failed.result.unwrap();
    assert_eq!(failed_result.conclusion, Conclusion::Failure);
    assert_eq!(failed_result.failure_reason.as_deref(), Some("runner lost"));
    assert!(store.queued_jobs().unwrap().is_empty());
    assert!(store.leased_jobs().unwrap().is_empty());
}

async fn log_chunks_are_idempotent_across_reopen_and_a_torn_tail_is_cut(place: Place) {
    let runner = RunnerId::new();
    let (job_id, token, log_path) = {
        let store = place.open();
        let run = store
            .create_run("ci.yml", serde_json::Value::Null)
            .await
            .unwrap();
        let job = store
            .enqueue_job(run.run_id, spec("build (linux, 1.2)", &[]), 1)
            .await
            .unwrap();
        let leased = store.lease_next(runner, |_| true).await.unwrap().unwrap();
        let token = leased.lease.as_ref().unwrap().fencing_token;
        let first = store
            .append_log_chunks(&leased, token, &[chunk(0, &["one", "two"])])
            .await
            .unwrap();
        assert_eq!((first.last_seq, first.lines_written), (Some(0), 2));
        // A retried chunk arrives with a new one: only the new one is written.
        let retried = store
            .append_log_chunks(
                &leased,
                token,
                &[chunk(0, &["one", "two"]), chunk(1, &["three"])],
            )
            .await
            .unwrap();
        assert_eq!((retried.last_seq, retried.lines_written), (Some(1), 1));
        let log_dir = place.dir().join("logs").join(run.run_id.to_string());
        // The log, not its sidecar of line times.
        let log_path = std::fs::read_dir(&log_dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|ext| ext == "log"))
            .unwrap();
        (job.job_id, token, log_path)
    };
    // A crash between a file write and its index flush leaves bytes nobody acknowledged.
    let mut torn = std::fs::read(&log_path).unwrap();
    torn.extend_from_slice(b"half a chu");
    std::fs::write(&log_path, torn).unwrap();

    let store = place.open();
    let job = store.job(job_id).unwrap().unwrap();
    assert_eq!(store.read_log(&job, 0).await.unwrap(), b"one\ntwo\nthree\n");
    let repeat = store
        .append_log_chunks(&job, token, &[chunk(1, &["three"])])
        .await
        .unwrap();
    assert_eq!(repeat.lines_written, 0);
    store
        .append_log_chunks(&job, token, &[chunk(2, &["four"])])
        .await
        .unwrap();
    assert_eq!(
        store.read_log(&job, 0).await.unwrap(),
        b"one\ntwo\nthree\nfour\n"
    );
    assert_eq!(
        std::fs::read(&log_path).unwrap(),
        b"one\ntwo\nthree\nfour\n"
    );
    let _ = runner;
}

async fn registration_tokens_are_one_time_and_credentials_are_checked(place: Place) {
    let (runner_id, credential) = {
        let store = place.open();
        let token = engine::store::create_registration_token(&store)
            .await
            .unwrap();
        let labels = vec!["linux".to_string()];
        let (runner, credential) = store
            .register_runner(&token, "box", &labels, 2)
            .await
            .unwrap();
        let reused = store.register_runner(&token, "box2", &labels, 2).await;
        assert!(
            matches!(reused, Err(StoreError::InvalidRegistrationToken)),
            "{reused:?}"
        );
        assert_eq!(store.runners().unwrap().len(), 1);
        (runner.runner_id, credential)
    };
    let store = place.open();
    let found = store.authenticate_runner(&credential).unwrap().unwrap();
    assert_eq!(found.runner_id, runner_id);
    assert!(found.carries(&["linux".to_string()]));
    assert!(!found.carries(&["linux".to_string(), "gpu".to_string()]));
    let wrong_secret = format!("{runner_id}.{}", "0".repeat(64));
    assert!(store.authenticate_runner(&wrong_secret).unwrap().is_none());
    assert!(store.authenticate_runner("garbage").unwrap().is_none());
    // The stored record holds a hash, never the secret itself.
    let secret = credential.split_once('.').unwrap().1;
    assert_ne!(found.credential_hash, secret);
}

/// A run whose record was written but whose plan never was (the engine stopped in between) is
/// concluded on the next start with the reason in its details, not left `queued` for good; a
/// planned run next to it is untouched.
#[tokio::test]
async fn a_run_never_planned_before_a_restart_fails_with_a_reason() {
    use engine::runs::dispatch::{Engine, EngineConfig};
    use engine::runs::orchestrator::Orchestrator;
    use engine::store::{RunStatus, ScheduleRecord};

    let dir = tempfile::tempdir().unwrap();
    let (orphan, planned) = {
        let store = Store::open(dir.path()).unwrap();
        let orphan = store
            .create_run("ci.yml", serde_json::json!({"ref": "main"}))
            .await
            .unwrap();
        let planned = store
            .create_run("ci.yml", serde_json::json!({"ref": "main"}))
            .await
            .unwrap();
        // A saved (if unreadable) plan: recovery owns it, not the unplanned-run sweep.
        store
            .save_schedule(&ScheduleRecord {
                run_id: planned.run_id,
                state: serde_json::json!({"not": "a scheduler"}),
                outbox: Vec::new(),
            })
            .unwrap();
        store.flush().await.unwrap();
        (orphan.run_id, planned.run_id)
    };
    let (engine, events) = Engine::open(EngineConfig::new(dir.path())).await.unwrap();
    let _orchestrator = Orchestrator::start(engine.clone(), events).await.unwrap();
    let run = engine.store().run(orphan).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Completed);
    assert_eq!(run.conclusion, Some(Conclusion::Failure));
    let diagnostics = run.details["diagnostics"].to_string();
    assert!(
        diagnostics.contains("stopped before this run was planned"),
        "{diagnostics}"
    );
    assert_eq!(run.details["ref"], "main", "the details are kept");
    // The planned run went through recovery (its unreadable state fails it there, once).
    let planned = engine.store().run(planned).unwrap().unwrap();
    assert_eq!(planned.conclusion, Some(Conclusion::Failure));
    assert!(planned.details.get("diagnostics").is_none());
    engine.shutdown();
}

/// Many callers at once: every acknowledged write is there after a reopen (group commit loses
/// nothing it acknowledged), and run numbers stay dense and unique.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_are_all_durable_and_numbered_once() {
    let dir = tempfile::tempdir().unwrap();
    let created = {
        let store = std::sync::Arc::new(Store::open(dir.path()).unwrap());
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for _ in 0..20 {
                    let run = store
                        .create_run("load.yml", serde_json::json!({}))
                        .await
                        .unwrap();
                    store
                        .enqueue_job(run.run_id, spec("only", &[]), 1)
                        .await
                        .unwrap();
                    ids.push((run.run_id, run.run_number));
                }
                ids
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        all
    };
    let store = Store::open(dir.path()).unwrap();
    let mut numbers: Vec<u64> = created.iter().map(|(_, number)| *number).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=320).collect::<Vec<u64>>());
    for (run_id, _) in &created {
        assert!(store.run(*run_id).unwrap().is_some());
        assert_eq!(store.jobs_of_run(*run_id).unwrap().len(), 1);
    }
    assert_eq!(store.queued_jobs().unwrap().len(), 320);
}

/// A job's log stops growing at the cap: the chunk that would cross it is dropped with one
/// notice line, later chunks are acknowledged (the job goes on) but not stored; reads come in
/// pieces of at most `READ_CHUNK` bytes that add up to the whole log.
#[tokio::test]
async fn a_log_is_capped_with_a_notice_and_read_in_bounded_pieces() {
    use engine::store::READ_CHUNK;

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let run = store
        .create_run("ci.yml", serde_json::Value::Null)
        .await
        .unwrap();
    store
        .enqueue_job(run.run_id, spec("big", &[]), 1)
        .await
        .unwrap();
    let job = store
        .lease_next(RunnerId::new(), |_| true)
        .await
        .unwrap()
        .unwrap();
    let token = job.lease.as_ref().unwrap().fencing_token;

    // Reads are bounded: 300 KiB of lines come back in pieces no larger than READ_CHUNK.
    let line = "x".repeat(1023);
    let lines: Vec<&str> = (0..300).map(|_| line.as_str()).collect();
    store
        .append_log_chunks(&job, token, &[chunk(0, &lines)])
        .await
        .unwrap();
    let total = store.log_len(&job).unwrap();
    assert_eq!(total, 300 * 1024);
    let mut offset = 0;
    let mut pieces = 0;
    while offset < total {
        let piece = store.read_log(&job, offset).await.unwrap();
        assert!(!piece.is_empty() && piece.len() <= READ_CHUNK);
        offset += piece.len() as u64;
        pieces += 1;
    }
    assert_eq!((offset, pieces), (total, 2));

    // The cap: the next chunk would cross it, so it is dropped with a notice; so is the rest.
    store.set_log_limit(total + 10);
    let crossing = store
        .append_log_chunks(&job, token, &[chunk(1, &["this line is too long to fit"])])
        .await
        .unwrap();
    assert_eq!(crossing.last_seq, Some(1));
    let later = store
        .append_log_chunks(&job, token, &[chunk(2, &["dropped too"])])
        .await
        .unwrap();
    assert_eq!((later.last_seq, later.lines_written), (Some(2), 0));
    let tail = store.read_log(&job, total).await.unwrap();
    let tail = String::from_utf8(tail).unwrap();
    assert!(
        tail.starts_with("--- log limit of") && tail.ends_with("dropped ---\n"),
        "{tail}"
    );
    assert_eq!(tail.lines().count(), 1, "{tail}");
}
