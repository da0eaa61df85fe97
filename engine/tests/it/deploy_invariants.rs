//! Invariants of freeze windows and the deployment lane, checked over many instants and many
//! interleavings (a fixed pseudo-random sequence, so failures reproduce).

use deploy::{DeploymentId, FreezeWindow, Lane, LaneEntry, Version, frozen_at};
use jiff::{SignedDuration, Timestamp};

fn at(text: &str) -> Timestamp {
    match text.parse() {
        Ok(instant) => instant,
        Err(error) => panic!("bad test time `{text}`: {error}"),
    }
}

/// A small linear congruential generator: deterministic, no dependency.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

/// For every instant inside a window, the reported end is later, the second before the end is
/// still inside, and the end itself is outside — in UTC and across Berlin's DST changes.
#[test]
fn a_window_ends_where_it_says() {
    let windows = [
        "Fri 16:00-Mon 08:00 UTC",
        "Sun 22:00-Mon 02:00 UTC",
        "Wed 12:00-13:00 UTC",
        "Sun 22:00-Sun 02:00 UTC",
        "Fri 16:00-Mon 08:00 Europe/Berlin",
        "Sat 01:30-Sun 03:30 Europe/Berlin",
        "Sun 02:30-Sun 04:00 Europe/Berlin",
        "Sat 12:00-Sun 02:30 Europe/Berlin",
        "2026-03-27T12:00Z/2026-04-02T00:00Z",
    ];
    // Every 37 minutes over weeks spanning both DST changes of 2026 (03-29 and 10-25).
    let step = SignedDuration::from_mins(37);
    let second = SignedDuration::from_secs(1);
    let mut inside_count = 0;
    for (from, until) in [
        ("2026-03-01T00:00:00Z", "2026-05-10T00:00:00Z"),
        ("2026-10-03T00:00:00Z", "2026-11-14T00:00:00Z"),
    ] {
        let mut instant = at(from);
        let end = at(until);
        while instant < end {
            for text in windows {
                let window = FreezeWindow::parse(text).expect("valid window");
                if let Some(window_end) = window.end_after(instant) {
                    inside_count += 1;
                    assert!(
                        window_end > instant,
                        "{text} at {instant}: end {window_end}"
                    );
                    assert!(
                        !window.contains(window_end),
                        "{text}: end {window_end} is inside"
                    );
                    let before_end = window_end.checked_sub(second).expect("representable");
                    assert!(
                        window.contains(before_end),
                        "{text}: {before_end} is outside"
                    );
                    assert!(
                        window_end.duration_since(instant)
                            <= SignedDuration::from_hours(7 * 24 + 1),
                        "{text} at {instant}: a weekly window lasts at most a week"
                    );
                }
            }
            instant = instant.checked_add(step).expect("representable");
        }
    }
    assert!(
        inside_count > 1_000,
        "the sample should hit the windows often"
    );
}

/// Whatever the order of enqueues, starts and finishes: at most one deployment in progress,
/// deployments start in the order they were queued, none starts inside a freeze window, and
/// every queued one eventually starts.
#[test]
fn the_lane_is_fifo_one_at_a_time_and_respects_freezes() {
    let windows = vec![
        FreezeWindow::parse("Fri 16:00-Mon 08:00 UTC").expect("valid"),
        FreezeWindow::parse("Wed 12:00-13:00 UTC").expect("valid"),
    ];
    let mut held_by_freeze = 0;
    for seed in 1..=20 {
        let mut sequence = Sequence(seed);
        let mut lane = Lane::new("production");
        let mut now = at("2026-03-02T00:00:00Z");
        let mut enqueued: Vec<DeploymentId> = Vec::new();
        let mut started: Vec<DeploymentId> = Vec::new();
        let mut next_id = 0;
        for _ in 0..400 {
            now = now
                .checked_add(SignedDuration::from_mins(sequence.next(180) as i64))
                .expect("representable");
            match sequence.next(3) {
                0 if next_id < 60 => {
                    next_id += 1;
                    let id = DeploymentId(format!("d{next_id}"));
                    lane.enqueue(LaneEntry {
                        deployment_id: id.clone(),
                        run_id: Some(format!("run-{next_id}")),
                        job_key: None,
                        version: Version::new(format!("sha{next_id}")),
                        is_rollback: false,
                        enqueued_at: now,
                    })
                    .expect("a new id queues");
                    enqueued.push(id);
                }
                1 => {
                    let was_busy = lane.in_progress.is_some();
                    let had_queue = !lane.queue.is_empty();
                    let started_one = lane.next_ready(now, &windows);
                    if started_one.is_none() && !was_busy && had_queue {
                        assert!(
                            frozen_at(&windows, now).is_some(),
                            "seed {seed}: held without a freeze"
                        );
                        held_by_freeze += 1;
                    }
                    if let Some(entry) = started_one {
                        assert!(!was_busy, "seed {seed}: started a second deployment");
                        assert!(
                            frozen_at(&windows, now).is_none(),
                            "seed {seed}: started during a freeze at {now}"
                        );
                        started.push(entry.deployment_id);
                    }
                }
                _ => {
                    if let Some(entry) = lane.in_progress.clone() {
                        lane.finish(&entry.deployment_id).expect("finishes");
                    }
                }
            }
            for (expected, (_, position)) in (1..).zip(lane.positions()) {
                assert_eq!(position, expected, "seed {seed}: positions count from 1");
            }
        }
        // Drain: finish and start until the queue is empty, skipping over freezes.
        loop {
            if let Some(entry) = lane.in_progress.clone() {
                lane.finish(&entry.deployment_id).expect("finishes");
            }
            if lane.queue.is_empty() {
                break;
            }
            match lane.next_ready(now, &windows) {
                Some(entry) => started.push(entry.deployment_id),
                None => {
                    now = lane
                        .wake_at(now, &windows)
                        .expect("only a freeze holds the queue");
                }
            }
        }
        assert_eq!(
            started, enqueued,
            "seed {seed}: started in queue order, all of them"
        );
    }
    assert!(held_by_freeze > 0, "the interleavings should meet a freeze");
}
