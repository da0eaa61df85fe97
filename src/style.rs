//! The one style of times and durations in everything the binary prints: instants as
//! `2026-12-04 23:12:35Z` (UTC; `--local` shows the local time with its offset instead), and
//! durations as `1.8 s`, `2 min 3 s`, `1 h 2 min`.
//!
//! This file must not print: the commands do.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

static LOCAL: AtomicBool = AtomicBool::new(false);

/// Shows instants in the local time zone from now on (`--local`).
pub(crate) fn use_local_time(local: bool) {
    LOCAL.store(local, Ordering::Relaxed);
}

/// Microseconds since the epoch as `2026-12-04 23:12:35Z`, or with `--local` as
/// `2026-12-05 00:12:35+01:00`; `-` for a stamp out of range.
pub(crate) fn instant(us: u64) -> String {
    let Ok(us) = i64::try_from(us) else {
        return "-".into();
    };
    let Ok(timestamp) = jiff::Timestamp::from_microsecond(us) else {
        return "-".into();
    };
    if LOCAL.load(Ordering::Relaxed) {
        let zoned = timestamp.to_zoned(jiff::tz::TimeZone::system());
        return zoned.strftime("%Y-%m-%d %H:%M:%S%:z").to_string();
    }
    timestamp.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// A record's instant in the one style.
pub(crate) fn timestamp(at: &jiff::Timestamp) -> String {
    u64::try_from(at.as_microsecond()).map_or_else(|_| at.to_string(), instant)
}

/// An RFC 3339 instant (as the engine's records carry them) in the one style; text that is no
/// instant is shown as it is.
pub(crate) fn instant_text(text: &str) -> String {
    match text.parse::<jiff::Timestamp>() {
        Ok(timestamp) => {
            u64::try_from(timestamp.as_microsecond()).map_or_else(|_| text.to_string(), instant)
        }
        Err(_) => text.to_string(),
    }
}

/// Microseconds since the epoch as RFC 3339 in UTC with milliseconds, for JSON:
/// `2026-12-04T23:12:35.120Z`.
pub(crate) fn rfc3339(us: u64) -> Option<String> {
    let timestamp = jiff::Timestamp::from_microsecond(i64::try_from(us).ok()?).ok()?;
    Some(timestamp.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

/// A duration as people write it: `0.4 s`, `1.8 s`, `59 s`, `2 min 3 s`, `1 h 2 min`.
pub(crate) fn duration(elapsed: Duration) -> String {
    let tenths = elapsed.as_millis() / 100;
    let seconds = elapsed.as_secs();
    if seconds < 10 {
        format!("{}.{} s", tenths / 10, tenths % 10)
    } else if seconds < 60 {
        format!("{seconds} s")
    } else if seconds < 3600 {
        match seconds % 60 {
            0 => format!("{} min", seconds / 60),
            rest => format!("{} min {rest} s", seconds / 60),
        }
    } else {
        match seconds % 3600 / 60 {
            0 => format!("{} h", seconds / 3600),
            rest => format!("{} h {rest} min", seconds / 3600),
        }
    }
}

/// The time between two stamps in µs (none when they are reversed), as [`duration`] shows it.
pub(crate) fn between(from_us: u64, to_us: u64) -> String {
    duration(Duration::from_micros(to_us.saturating_sub(from_us)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        let check = |ms: u64, expected: &str| {
            assert_eq!(duration(Duration::from_millis(ms)), expected, "{ms} ms");
        };
        check(0, "0.0 s");
        check(30, "0.0 s");
        check(1_800, "1.8 s");
        check(12_400, "12 s");
        check(120_000, "2 min");
        check(123_000, "2 min 3 s");
        check(3_600_000, "1 h");
        check(3_720_000, "1 h 2 min");
        assert_eq!(between(10, 5), "0.0 s");
    }

    #[test]
    fn instants_are_utc_by_default() {
        assert_eq!(instant(0), "1970-01-01 00:00:00Z");
        assert_eq!(instant(86_400_000_000 + 1), "1970-01-02 00:00:00Z");
        assert_eq!(instant(u64::MAX), "-");
        assert_eq!(
            instant_text("2026-12-04T23:12:35.123456789Z"),
            "2026-12-04 23:12:35Z"
        );
        assert_eq!(instant_text("soon"), "soon");
        assert_eq!(
            rfc3339(1_500_000).as_deref(),
            Some("1970-01-01T00:00:01.500Z")
        );
    }
}
