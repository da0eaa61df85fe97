//! Line times and carriage returns in the store's logs, against a real data directory: the
//! runner's stamps are kept per line (compactly, one entry where the time changes), lines
//! without a stamp get their chunk's arrival, a window of lines reads back the right times, a
//! torn tail of the times file is cut like the log's, and a `\r` in a line is kept.

use engine::store::{RunnerId, Store};
use protocol::JobSpec;
use protocol::wire::{LineTime, LogChunk};

fn spec(job_key: &str) -> JobSpec {
    JobSpec {
        job_key: job_key.to_string(),
        job_id: job_key.to_string(),
        display_name: job_key.to_string(),
        ..JobSpec::default()
    }
}

fn chunk(seq: u64, lines: &[&str], times: &[(u32, u64)]) -> LogChunk {
    LogChunk {
        seq,
        lines: lines.iter().map(|line| line.to_string()).collect(),
        times: times
            .iter()
            .map(|&(line, unix_ms)| LineTime { line, unix_ms })
            .collect(),
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test]
async fn line_times_are_kept_read_by_window_and_survive_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (job_id, token, times_path) = {
        let store = Store::open(dir.path()).unwrap();
        let run = store
            .create_run("ci.yml", serde_json::Value::Null)
            .await
            .unwrap();
        store
            .enqueue_job(run.run_id, spec("build"), 1)
            .await
            .unwrap();
        let job = store
            .lease_next(RunnerId::new(), |_| true)
            .await
            .unwrap()
            .unwrap();
        let token = job.lease.as_ref().unwrap().fencing_token;
        store
            .append_log_chunks(
                &job,
                token,
                &[chunk(0, &["a", "b", "c"], &[(0, 1_000), (2, 2_000)])],
            )
            .await
            .unwrap();
        let before = now_ms();
        store
            .append_log_chunks(&job, token, &[chunk(1, &["d", "e"], &[])])
            .await
            .unwrap();
        let after = now_ms();
        let times = store.log_line_times(&job, 0, 5).await.unwrap();
        assert_eq!(times[..3], [Some(1_000), Some(1_000), Some(2_000)]);
        let arrival = times[3].unwrap();
        assert!((before..=after).contains(&arrival), "{times:?}");
        assert_eq!(times[4], Some(arrival));
        // A window from the middle.
        assert_eq!(
            store.log_line_times(&job, 1, 2).await.unwrap(),
            [Some(1_000), Some(2_000)]
        );
        let times_path = std::fs::read_dir(dir.path().join("logs").join(run.run_id.to_string()))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|ext| ext == "times"))
            .unwrap();
        // Three entries: line 0 at 1000, line 2 at 2000, line 3 at the arrival.
        assert_eq!(std::fs::metadata(&times_path).unwrap().len(), 3 * 16);
        (job.job_id, token, times_path)
    };
    // A crash between the times file's write and the index's flush leaves a torn entry.
    let mut torn = std::fs::read(&times_path).unwrap();
    torn.extend_from_slice(&[7u8; 11]);
    std::fs::write(&times_path, torn).unwrap();

    let store = Store::open(dir.path()).unwrap();
    let job = store.job(job_id).unwrap().unwrap();
    store
        .append_log_chunks(
            &job,
            token,
            &[chunk(
                2,
                &["f", "progress 10%\rprogress 99%"],
                &[(0, 9_000)],
            )],
        )
        .await
        .unwrap();
    assert_eq!(std::fs::metadata(&times_path).unwrap().len(), 4 * 16);
    let times = store.log_line_times(&job, 4, 3).await.unwrap();
    assert_eq!(times[1..], [Some(9_000), Some(9_000)], "{times:?}");
    let log = store.read_log(&job, 0).await.unwrap();
    assert_eq!(
        String::from_utf8(log).unwrap(),
        "a\nb\nc\nd\ne\nf\nprogress 10%\rprogress 99%\n"
    );
}
