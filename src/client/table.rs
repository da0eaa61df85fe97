//! Human output: aligned columns, times since the epoch in µs shown as UTC, and durations.
//!
//! This file must not decide what is shown: the commands pick the columns.

use std::time::{SystemTime, UNIX_EPOCH};

/// Prints `rows` under `header`, each column as wide as its widest cell.
pub fn print(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (index, cell) in cells.iter().enumerate() {
            let width = widths.get(index).copied().unwrap_or(0);
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}  "));
            }
        }
        println!("{}", text.trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

/// Microseconds since the epoch as `2026-01-02 03:04:05Z`.
pub fn time(us: u64) -> String {
    let Ok(us) = i64::try_from(us) else {
        return "-".into();
    };
    match jiff::Timestamp::from_microsecond(us) {
        Ok(timestamp) => timestamp.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
        Err(_) => "-".into(),
    }
}

/// The time between two stamps in µs as `1h 2m`, `3m 4s`, `5.2s`.
pub fn duration(from_us: u64, to_us: u64) -> String {
    let micros = to_us.saturating_sub(from_us);
    let seconds = micros / 1_000_000;
    if seconds >= 3600 {
        format!("{}h {}m", seconds / 3600, seconds % 3600 / 60)
    } else if seconds >= 60 {
        format!("{}m {}s", seconds / 60, seconds % 60)
    } else {
        format!("{}.{}s", seconds, micros % 1_000_000 / 100_000)
    }
}

/// Now, in µs since the epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `success`, `in_progress`, … from a status and an optional conclusion.
pub fn state(status: &str, conclusion: Option<&str>) -> String {
    match conclusion {
        Some(conclusion) => conclusion.to_string(),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0, 5_200_000), "5.2s");
        assert_eq!(duration(0, 65_000_000), "1m 5s");
        assert_eq!(duration(0, 3_720_000_000), "1h 2m");
        assert_eq!(duration(10, 5), "0.0s");
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(time(0), "1970-01-01 00:00:00Z");
        assert_eq!(time(86_400_000_000 + 1), "1970-01-02 00:00:00Z");
    }
}
