//! Durations as operators write them on the command line and in `deployment:` blocks: `90s`,
//! `5m`, `2h`, `1h30m`, `1d`. Used for wait timers, approval expiry and canary pauses.
//!
//! This module only parses and prints; it must not read a clock.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A non-negative length of time with one-second resolution. Serialised as the text an operator
/// writes (`"1h30m"`), so stored configuration stays readable.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Duration {
    seconds: u64,
}

/// Why a duration did not parse. The message names the text at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The text is empty or only whitespace.
    #[error("duration is empty")]
    Empty,
    /// A number is not followed by a unit (`90` instead of `90s`).
    #[error("duration `{text}`: `{number}` has no unit (use s, m, h or d)")]
    MissingUnit {
        /// The duration as written.
        text: String,
        /// The number that has no unit after it.
        number: String,
    },
    /// A unit other than `s`, `m`, `h` or `d`.
    #[error("duration `{text}`: unknown unit `{unit}` (use s, m, h or d)")]
    UnknownUnit {
        /// The duration as written.
        text: String,
        /// The unit that is not `s`, `m`, `h` or `d`.
        unit: String,
    },
    /// A unit without a number before it (`h30m`).
    #[error("duration `{text}`: unit `{unit}` has no number before it")]
    MissingNumber {
        /// The duration as written.
        text: String,
        /// The unit with no number before it.
        unit: String,
    },
    /// A unit appears twice or after a smaller one (`30m1h`).
    #[error("duration `{text}`: unit `{unit}` is repeated or out of order (write largest first)")]
    UnitOrder {
        /// The duration as written.
        text: String,
        /// The unit that is repeated or comes after a smaller one.
        unit: String,
    },
    /// The total number of seconds does not fit in 64 bits.
    #[error("duration `{text}` is too long")]
    Overflow {
        /// The duration as written.
        text: String,
    },
}

impl Duration {
    /// No time at all (`0s`).
    pub const ZERO: Duration = Duration { seconds: 0 };

    /// A duration of `seconds` seconds.
    pub fn from_secs(seconds: u64) -> Duration {
        Duration { seconds }
    }

    /// A duration of `minutes` minutes (saturating at the largest value instead of overflowing).
    pub fn from_mins(minutes: u64) -> Duration {
        Duration {
            seconds: minutes.saturating_mul(60),
        }
    }

    /// The length in whole seconds.
    pub fn as_secs(self) -> u64 {
        self.seconds
    }

    /// Whether the duration is zero seconds long.
    pub fn is_zero(self) -> bool {
        self.seconds == 0
    }

    /// The same length as a jiff duration, for timestamp arithmetic.
    pub fn as_signed(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(i64::try_from(self.seconds).unwrap_or(i64::MAX))
    }

    /// `at + self`, saturating at the largest timestamp jiff can represent.
    pub fn after(self, at: jiff::Timestamp) -> jiff::Timestamp {
        at.checked_add(self.as_signed())
            .unwrap_or(jiff::Timestamp::MAX)
    }
}

/// Parses `90s`, `5m`, `2h`, `1h30m`, `1d12h`: one or more `<number><unit>` parts, largest unit
/// first, each unit at most once. Units: `d` (days), `h`, `m`, `s`. Spaces between parts are
/// allowed (`1h 30m`).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    let mut total: u64 = 0;
    let mut last_rank = usize::MAX;
    let mut chars = trimmed.chars().peekable();
    let overflow = || DurationError::Overflow {
        text: text.to_string(),
    };
    while chars.peek().is_some() {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut number = String::new();
        while let Some(&c) = chars.peek().filter(|c| c.is_ascii_digit()) {
            number.push(c);
            chars.next();
        }
        let mut unit = String::new();
        while let Some(&c) = chars.peek().filter(|c| c.is_alphabetic()) {
            unit.push(c);
            chars.next();
        }
        if number.is_empty() && unit.is_empty() {
            // Neither a digit nor a letter: report the odd character as the unit at fault.
            let odd: String = chars.next().map(String::from).unwrap_or_default();
            return Err(DurationError::UnknownUnit {
                text: text.to_string(),
                unit: odd,
            });
        }
        if unit.is_empty() {
            return Err(DurationError::MissingUnit {
                text: text.to_string(),
                number,
            });
        }
        if number.is_empty() {
            return Err(DurationError::MissingNumber {
                text: text.to_string(),
                unit,
            });
        }
        let (rank, seconds_per_unit) = match unit.as_str() {
            "d" => (0, 86_400),
            "h" => (1, 3_600),
            "m" => (2, 60),
            "s" => (3, 1),
            _ => {
                return Err(DurationError::UnknownUnit {
                    text: text.to_string(),
                    unit,
                });
            }
        };
        if last_rank != usize::MAX && rank <= last_rank {
            return Err(DurationError::UnitOrder {
                text: text.to_string(),
                unit,
            });
        }
        last_rank = rank;
        let count: u64 = number.parse().map_err(|_| overflow())?;
        let part = count.checked_mul(seconds_per_unit).ok_or_else(overflow)?;
        total = total.checked_add(part).ok_or_else(overflow)?;
    }
    // Keep every duration representable as a jiff SignedDuration.
    if total > i64::MAX as u64 {
        return Err(overflow());
    }
    Ok(Duration { seconds: total })
}

impl fmt::Display for Duration {
    /// Prints the shortest form `parse_duration` reads back: `1h30m`, `90s` → `1m30s`, `0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.seconds == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.seconds;
        for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
            let count = rest / size;
            rest %= size;
            if count > 0 {
                write!(f, "{count}{unit}")?;
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for Duration {
    type Err = DurationError;
    fn from_str(text: &str) -> Result<Duration, DurationError> {
        parse_duration(text)
    }
}

impl TryFrom<String> for Duration {
    type Error = DurationError;
    fn try_from(text: String) -> Result<Duration, DurationError> {
        parse_duration(&text)
    }
}

impl From<Duration> for String {
    fn from(duration: Duration) -> String {
        duration.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expected: Result<u64, &str>) {
        let actual = parse_duration(input)
            .map(Duration::as_secs)
            .map_err(|error| error.to_string());
        assert_eq!(actual, expected.map_err(str::to_string), "input `{input}`");
    }

    #[test]
    fn parses_durations() {
        check("5m", Ok(300));
        check("90s", Ok(90));
        check("2h", Ok(7_200));
        check("1h30m", Ok(5_400));
        check("1h 30m", Ok(5_400));
        check("1d", Ok(86_400));
        check("1d2h3m4s", Ok(93_784));
        check("0s", Ok(0));
        check(" 15m ", Ok(900));
        check("", Err("duration is empty"));
        check("  ", Err("duration is empty"));
        check("5", Err("duration `5`: `5` has no unit (use s, m, h or d)"));
        check(
            "5x",
            Err("duration `5x`: unknown unit `x` (use s, m, h or d)"),
        );
        check(
            "5min",
            Err("duration `5min`: unknown unit `min` (use s, m, h or d)"),
        );
        check("m", Err("duration `m`: unit `m` has no number before it"));
        check(
            "30m1h",
            Err("duration `30m1h`: unit `h` is repeated or out of order (write largest first)"),
        );
        check(
            "1h1h",
            Err("duration `1h1h`: unit `h` is repeated or out of order (write largest first)"),
        );
        check(
            "-5m",
            Err("duration `-5m`: unknown unit `-` (use s, m, h or d)"),
        );
        check(
            "99999999999999999999s",
            Err("duration `99999999999999999999s` is too long"),
        );
        check(
            "999999999999999999d",
            Err("duration `999999999999999999d` is too long"),
        );
    }

    #[test]
    fn display_round_trips() {
        for text in ["0s", "90s", "5m", "1h30m", "1d2h3m4s", "2h"] {
            let duration = parse_duration(text).unwrap();
            let printed = duration.to_string();
            assert_eq!(parse_duration(&printed), Ok(duration), "{text} → {printed}");
        }
        assert_eq!(Duration::from_secs(90).to_string(), "1m30s");
        assert_eq!(Duration::from_secs(5_400).to_string(), "1h30m");
    }

    #[test]
    fn serde_uses_operator_text() {
        let json = serde_json::to_string(&Duration::from_mins(5)).unwrap();
        assert_eq!(json, "\"5m\"");
        let back: Duration = serde_json::from_str("\"1h30m\"").unwrap();
        assert_eq!(back.as_secs(), 5_400);
        assert!(serde_json::from_str::<Duration>("\"5 minutes\"").is_err());
    }
}
