//! One store test suite, run against both backends: every test function here and in
//! `store_recovery` takes a `Place` (where a store lives) and `on_both!` makes two tests of it,
//! `sled::NAME` on a temporary sled directory and `postgres::NAME` on a fresh database of this
//! binary's private PostgreSQL cluster (`pg_cluster`; skipped loudly when PostgreSQL cannot start
//! outside CI, failed under `CI=true`).
//!
//! The tests here add what the older recovery tests did not cover: ordered scans, transactions
//! that land whole or not at all, records of every kind, ids that keep growing over a reopen,
//! and (PostgreSQL only: sled has no schema version) the refusal of a newer schema.

use std::path::Path;

use engine::store::{
    JobState, POSTGRES_SCHEMA_VERSION, RecordKind, RunnerId, Store, StoreError, StoreLocation,
};
use protocol::Conclusion;

use crate::pg_cluster;
use crate::store_recovery::{result, spec};

/// Where one test's store lives: its data dir (log files; the sled database too) and its
/// database.
pub(crate) struct Place {
    dir: tempfile::TempDir,
    location: StoreLocation,
    /// The database name on the test cluster (PostgreSQL only).
    database: Option<String>,
}

impl Place {
    pub(crate) fn sled() -> Place {
        Place {
            dir: tempfile::tempdir().unwrap(),
            location: StoreLocation::Sled,
            database: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` when PostgreSQL is skipped here.
    pub(crate) fn postgres(test: &str) -> Option<Place> {
        let cluster = pg_cluster::cluster(test)?;
        let url = cluster.new_database(test);
        let database = url.rsplit('/').next().map(str::to_string);
        Some(Place {
            dir: tempfile::tempdir().unwrap(),
            location: StoreLocation::Postgres(url),
            database,
        })
    }

    /// Opens the store (again): a reopen sees what the last store made durable.
    pub(crate) fn open(&self) -> Store {
        Store::open_at(self.dir.path(), &self.location).unwrap()
    }

    pub(crate) fn try_open(&self) -> Result<Store, StoreError> {
        Store::open_at(self.dir.path(), &self.location)
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Makes `sled::NAME` and `postgres::NAME` tests of each `async fn NAME(place: Place)`.
macro_rules! on_both {
    ($($name:ident),+ $(,)?) => {
        mod sled {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(crate::store_suite::Place::sled()).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(place) = crate::store_suite::Place::postgres(stringify!($name))
                    else {
                        return;
                    };
                    super::$name(place).await
                }
            )+
        }
    };
}
pub(crate) use on_both;

on_both!(
    scans_come_in_order,
    a_refused_transaction_writes_nothing,
    records_of_every_kind_round_trip_and_survive_reopen,
    ids_keep_growing_across_reopen,
    a_claim_is_won_once,
    a_repeated_finish_is_answered_like_the_first,
);

async fn a_repeated_finish_is_answered_like_the_first(place: Place) {
    let store = place.open();
    let run = store
        .create_run("ci.yml", serde_json::Value::Null)
        .await
        .unwrap();
    store
        .enqueue_job(run.run_id, spec("a", &[]), 0)
        .await
        .unwrap();
    let runner = RunnerId::new();
    let job = store.lease_next(runner, |_| true).await.unwrap().unwrap();
    let token = job.lease.as_ref().unwrap().fencing_token;
    let (first, repeat) = store
        .finish_job_once(job.job_id, runner, token, result(Conclusion::Success))
        .await
        .unwrap();
    assert!(!repeat);
    assert_eq!(first.state, JobState::Completed);
    // The runner's answer was lost; it sends the same result again (at another replica).
    let (again, repeat) = store
        .finish_job_once(job.job_id, runner, token, result(Conclusion::Success))
        .await
        .unwrap();
    assert!(repeat);
    assert_eq!(again, first);
    // Another result under the same lease is not a repeat: the lease is over.
    let other = store
        .finish_job_once(job.job_id, runner, token, result(Conclusion::Failure))
        .await;
    assert!(
        matches!(other, Err(StoreError::StaleLease { .. })),
        "{other:?}"
    );
    // Nor is the same result from another runner.
    let stranger = store
        .finish_job_once(
            job.job_id,
            RunnerId::new(),
            token,
            result(Conclusion::Success),
        )
        .await;
    assert!(stranger.is_err(), "{stranger:?}");
}

async fn a_claim_is_won_once(place: Place) {
    let store = place.open();
    assert!(
        store
            .claim("cron:repo:ci.yml:0 3 * * *:1700000000")
            .unwrap()
    );
    assert!(
        !store
            .claim("cron:repo:ci.yml:0 3 * * *:1700000000")
            .unwrap()
    );
    assert!(
        store
            .claim("cron:repo:ci.yml:0 3 * * *:1700003600")
            .unwrap()
    );
    drop(store);
    // Claims survive a reopen: a restarted engine does not fire again what fired.
    let store = place.open();
    assert!(
        !store
            .claim("cron:repo:ci.yml:0 3 * * *:1700000000")
            .unwrap()
    );
}

/// Several engine replicas on one PostgreSQL database: every store below is a replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_sharing_a_database_never_lease_one_job_twice() {
    let test = "replicas_sharing_a_database_never_lease_one_job_twice";
    let Some(place) = Place::postgres(test) else {
        return;
    };
    let replicas: Vec<std::sync::Arc<Store>> =
        (0..3).map(|_| std::sync::Arc::new(place.open())).collect();
    assert!(replicas.iter().all(|store| store.is_shared()));
    let run = replicas[0]
        .create_run("ci.yml", serde_json::Value::Null)
        .await
        .unwrap();
    const JOBS: usize = 60;
    for index in 0..JOBS {
        replicas[index % 3]
            .enqueue_job(run.run_id, spec(&format!("job-{index}"), &[]), 0)
            .await
            .unwrap();
    }
    // Six runners take jobs through the three replicas at once until the queue is empty.
    let mut takers = Vec::new();
    for taker in 0..6 {
        let store = replicas[taker % 3].clone();
        takers.push(tokio::spawn(async move {
            let runner = RunnerId::new();
            let mut taken = Vec::new();
            while let Some(job) = store.lease_next(runner, |_| true).await.unwrap() {
                taken.push(job.job_key);
            }
            taken
        }));
    }
    let mut taken = Vec::new();
    for taker in takers {
        taken.extend(taker.await.unwrap());
    }
    taken.sort();
    let mut expected: Vec<String> = (0..JOBS).map(|index| format!("job-{index}")).collect();
    expected.sort();
    assert_eq!(taken, expected, "each job leased exactly once");
    // Every lease has a heartbeat in the store, readable through any replica.
    for job in replicas[1].leased_jobs().unwrap() {
        let lease = job.lease.unwrap();
        let (token, _) = replicas[2].lease_beat(job.job_id).unwrap().unwrap();
        assert_eq!(token, lease.fencing_token);
    }
    // One claim among the replicas.
    let wins = replicas
        .iter()
        .filter(|store| store.claim("once").unwrap())
        .count();
    assert_eq!(wins, 1);
}

async fn scans_come_in_order(place: Place) {
    let store = place.open();
    let mut runs = Vec::new();
    for _ in 0..5 {
        runs.push(
            store
                .create_run("ci.yml", serde_json::Value::Null)
                .await
                .unwrap()
                .run_id,
        );
    }
    // Newest first.
    let listed: Vec<_> = store
        .runs()
        .unwrap()
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    let mut newest_first = runs.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    // The queue is FIFO, whatever the job keys sort as.
    let keys = ["zeta", "alpha", "mid", "beta"];
    for key in keys {
        store.enqueue_job(runs[0], spec(key, &[]), 0).await.unwrap();
    }
    let queued: Vec<String> = store
        .queued_jobs()
        .unwrap()
        .into_iter()
        .map(|job| job.job_key)
        .collect();
    assert_eq!(queued, keys);
    // A run's jobs come in creation order; another run's jobs are not among them.
    store
        .enqueue_job(runs[1], spec("other", &[]), 0)
        .await
        .unwrap();
    let of_run: Vec<String> = store
        .jobs_of_run(runs[0])
        .unwrap()
        .into_iter()
        .map(|job| job.job_key)
        .collect();
    assert_eq!(of_run, keys);
    // Prefix scans of records stop at the prefix.
    for key in ["prod", "prod-eu", "production", "pre", "q"] {
        store
            .put_record(RecordKind::Lanes, key, &key.to_string())
            .await
            .unwrap();
    }
    let lanes: Vec<String> = store.records(RecordKind::Lanes, "prod").unwrap();
    assert_eq!(lanes, ["prod", "prod-eu", "production"]);
    let all: Vec<String> = store.records(RecordKind::Lanes, "").unwrap();
    assert_eq!(all, ["pre", "prod", "prod-eu", "production", "q"]);
}

async fn a_refused_transaction_writes_nothing(place: Place) {
    let store = place.open();
    let run = store
        .create_run("ci.yml", serde_json::Value::Null)
        .await
        .unwrap();
    let first = store
        .enqueue_job(run.run_id, spec("a", &[]), 0)
        .await
        .unwrap();
    // A second job under the same key is refused inside the transaction: no second queue entry,
    // no second job.
    let again = store.enqueue_job(run.run_id, spec("a", &[]), 0).await;
    assert!(
        matches!(again, Err(StoreError::JobExists { .. })),
        "{again:?}"
    );
    assert_eq!(store.queued_jobs().unwrap().len(), 1);
    assert_eq!(store.jobs_of_run(run.run_id).unwrap().len(), 1);
    // A stale finish changes neither the job nor the run.
    let runner = RunnerId::new();
    let leased = store.lease_next(runner, |_| true).await.unwrap().unwrap();
    assert_eq!(leased.job_id, first.job_id);
    let token = leased.lease.unwrap().fencing_token;
    let stale = store
        .finish_job(first.job_id, runner, token + 7, result(Conclusion::Success))
        .await;
    assert!(
        matches!(stale, Err(StoreError::StaleLease { .. })),
        "{stale:?}"
    );
    let job = store.job(first.job_id).unwrap().unwrap();
    assert_eq!(job.state, JobState::Leased);
    assert!(job.result.is_none());
    // Several records across kinds land together.
    store
        .put_records(&[
            (
                RecordKind::Deployments,
                "d1".into(),
                Store::encode_record(&1u32),
            ),
            (RecordKind::Lanes, "l1".into(), Store::encode_record(&2u32)),
        ])
        .await
        .unwrap();
    drop(store);
    let store = place.open();
    assert_eq!(
        store.record::<u32>(RecordKind::Deployments, "d1").unwrap(),
        Some(1)
    );
    assert_eq!(
        store.record::<u32>(RecordKind::Lanes, "l1").unwrap(),
        Some(2)
    );
}

async fn records_of_every_kind_round_trip_and_survive_reopen(place: Place) {
    {
        let store = place.open();
        for kind in all_kinds() {
            store
                .put_record(kind, "k\u{0}1", &format!("{kind:?}"))
                .await
                .unwrap();
        }
        assert!(
            store
                .remove_record(RecordKind::Audit, "k\u{0}1")
                .await
                .unwrap()
        );
        assert!(
            !store
                .remove_record(RecordKind::Audit, "k\u{0}1")
                .await
                .unwrap()
        );
        store
            .update_record::<String, usize>(RecordKind::Users, "k\u{0}1", |value| {
                value.push('!');
                value.len()
            })
            .await
            .unwrap();
    }
    let store = place.open();
    for kind in all_kinds() {
        let read: Option<String> = store.record(kind, "k\u{0}1").unwrap();
        let expected = match kind {
            RecordKind::Audit => None,
            RecordKind::Users => Some("Users!".to_string()),
            other => Some(format!("{other:?}")),
        };
        assert_eq!(read, expected, "{kind:?}");
    }
    let keyed: Vec<(String, String)> = store.keyed_records(RecordKind::Lanes).unwrap();
    assert_eq!(keyed, [("k\u{0}1".to_string(), "Lanes".to_string())]);
}

fn all_kinds() -> [RecordKind; 15] {
    [
        RecordKind::Environments,
        RecordKind::Deployments,
        RecordKind::Approvals,
        RecordKind::Lanes,
        RecordKind::Releases,
        RecordKind::Audit,
        RecordKind::EnvironmentState,
        RecordKind::ConcurrencyGroups,
        RecordKind::RunTriggers,
        RecordKind::StartupRuns,
        RecordKind::ActionSources,
        RecordKind::ActionMirrors,
        RecordKind::Users,
        RecordKind::UserTokens,
        RecordKind::AccessAudit,
    ]
}

async fn ids_keep_growing_across_reopen(place: Place) {
    let before = {
        let store = place.open();
        let first = store.sortable_key().unwrap();
        let second = store.sortable_key().unwrap();
        assert!(first < second);
        second
    };
    let store = place.open();
    let after = store.sortable_key().unwrap();
    assert!(before < after, "{before} then {after}");
}

/// A database migrated by a newer Slipway is refused with both versions named, and left as it
/// was.
#[tokio::test]
async fn postgres_refuses_a_newer_schema() {
    let Some(place) = Place::postgres("postgres_refuses_a_newer_schema") else {
        return;
    };
    drop(place.open());
    let cluster = pg_cluster::cluster("postgres_refuses_a_newer_schema").unwrap();
    let database = place.database.clone().unwrap();
    let newer = POSTGRES_SCHEMA_VERSION + 1;
    cluster.psql(
        &database,
        &format!("INSERT INTO slipway_schema (version) VALUES ({newer})"),
    );
    let Err(error) = place.try_open() else {
        panic!("a store with a newer schema opened");
    };
    let message = error.to_string();
    assert!(
        message.contains(&format!("schema version is {newer}"))
            && message.contains(&format!(
                "version {POSTGRES_SCHEMA_VERSION} that this slipway"
            )),
        "{message}"
    );
    assert!(!message.contains("password"), "{message}");
    assert_eq!(
        cluster.psql(&database, "SELECT max(version) FROM slipway_schema"),
        newer.to_string()
    );
}

/// `--store` is read with clear errors.
#[test]
fn store_locations_parse_with_clear_errors() {
    assert_eq!(
        StoreLocation::parse("postgres://me@127.0.0.1:5432/ci").unwrap(),
        (
            StoreLocation::Postgres("postgres://me@127.0.0.1:5432/ci".into()),
            None
        )
    );
    assert_eq!(
        StoreLocation::parse("sled:/var/lib/slipway").unwrap(),
        (StoreLocation::Sled, Some("/var/lib/slipway".into()))
    );
    assert_eq!(
        StoreLocation::parse("sled").unwrap(),
        (StoreLocation::Sled, None)
    );
    let error = StoreLocation::parse("mysql://x").unwrap_err();
    assert!(
        error.contains("mysql://x") && error.contains("postgres://"),
        "{error}"
    );
    assert!(
        StoreLocation::parse("sled:")
            .unwrap_err()
            .contains("sled:DIR")
    );
}

/// A database nobody answers at is a clear error naming it (without its password), at once.
#[test]
fn an_unreachable_database_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("postgres://slipway:hunter2@127.0.0.1:{port}/nowhere");
    let started = std::time::Instant::now();
    let Err(error) = Store::open_at(dir.path(), &StoreLocation::Postgres(url)) else {
        panic!("a store opened on a closed port");
    };
    let message = error.to_string();
    assert!(
        message.contains(&format!("postgres://slipway:***@127.0.0.1:{port}/nowhere")),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}
