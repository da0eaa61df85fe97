//! How the UI writes times, durations and states. Pure.

/// `2026-12-05 03:59:16` (UTC) from microseconds since the epoch.
pub(super) fn time_us(us: u64) -> String {
    i64::try_from(us)
        .ok()
        .and_then(|us| jiff::Timestamp::from_microsecond(us).ok())
        .map(|at| at.strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// `1h 2m`, `3m 4s`, `5s` between two instants in microseconds (to `now_us` when unfinished).
pub(super) fn duration_us(start_us: u64, end_us: Option<u64>, now_us: u64) -> String {
    let end = end_us.unwrap_or(now_us);
    let seconds = end.saturating_sub(start_us) / 1_000_000;
    match seconds {
        0..=59 => format!("{seconds}s"),
        60..=3599 => format!("{}m {}s", seconds / 60, seconds % 60),
        _ => format!("{}h {}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// Microseconds since the epoch, now.
pub(super) fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// One word for a status and conclusion, used as a CSS class and shown to people:
/// `success`, `failure`, `cancelled`, `skipped`, `running`, `queued`, `waiting`, `pending`.
pub(super) fn state_word(status: &str, conclusion: Option<&str>) -> &'static str {
    match (status, conclusion) {
        (_, Some("success")) => "success",
        (_, Some("failure")) => "failure",
        (_, Some("cancelled")) => "cancelled",
        (_, Some("skipped")) => "skipped",
        (_, Some(_)) => "failure",
        ("in_progress", _) => "running",
        ("queued", _) => "queued",
        ("waiting", _) => "waiting",
        ("completed", None) => "success",
        _ => "pending",
    }
}

/// The state of a group of legs (a matrix job): the most telling of theirs.
pub(super) fn group_state(states: &[&'static str]) -> &'static str {
    const ORDER: [&str; 8] = [
        "failure",
        "running",
        "waiting",
        "queued",
        "cancelled",
        "pending",
        "success",
        "skipped",
    ];
    if states.is_empty() {
        return "pending";
    }
    // Legs not all done but some finished read as running.
    let done = |s: &&str| matches!(*s, "success" | "failure" | "cancelled" | "skipped");
    if states.iter().any(done) && !states.iter().all(done) && !states.contains(&"failure") {
        return "running";
    }
    ORDER
        .iter()
        .find(|word| states.contains(word))
        .copied()
        .unwrap_or("pending")
}

/// `refs/heads/main` → `main`, `refs/tags/v1` → `v1`, `refs/pull/3/merge` kept.
pub(super) fn short_ref(git_ref: &str) -> &str {
    git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(git_ref)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times() {
        assert_eq!(duration_us(0, Some(5_000_000), 0), "5s");
        assert_eq!(duration_us(0, Some(125_000_000), 0), "2m 5s");
        assert_eq!(duration_us(0, None, 7_300_000_000), "2h 1m");
        assert_eq!(time_us(0), "1970-01-01 00:00:00");
    }

    #[test]
    fn states() {
        assert_eq!(state_word("completed", Some("failure")), "failure");
        assert_eq!(state_word("in_progress", None), "running");
        assert_eq!(group_state(&["success", "failure"]), "failure");
        assert_eq!(group_state(&["success", "queued"]), "running");
        assert_eq!(group_state(&["success", "skipped"]), "success");
        assert_eq!(group_state(&[]), "pending");
        assert_eq!(short_ref("refs/heads/feature/x"), "feature/x");
    }
}
