//! Human output: aligned columns, times since the epoch in µs and durations in the one style
//! (`crate::style`).
//!
//! This file must not decide what is shown: the commands pick the columns.

use std::time::{SystemTime, UNIX_EPOCH};

/// Prints `rows` under `header`, each column as wide as its widest cell.
pub(super) fn print(header: &[&str], rows: &[Vec<String>]) {
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

/// Microseconds since the epoch in the one style (`crate::style::instant`).
pub(super) fn time(us: u64) -> String {
    crate::style::instant(us)
}

/// The time between two stamps in µs as `1.8 s`, `2 min 3 s`, `1 h 2 min`.
pub(super) fn duration(from_us: u64, to_us: u64) -> String {
    crate::style::between(from_us, to_us)
}

/// Now, in µs since the epoch.
pub(super) fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `success`, `in_progress`, … from a status and an optional conclusion.
pub(super) fn state(status: &str, conclusion: Option<&str>) -> String {
    match conclusion {
        Some(conclusion) => conclusion.to_string(),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_times_use_the_one_style() {
        assert_eq!(duration(0, 5_200_000), "5.2 s");
        assert_eq!(duration(0, 65_000_000), "1 min 5 s");
        assert_eq!(time(0), "1970-01-01 00:00:00Z");
    }
}
