//! Freeze windows: times when an environment's deployment lane starts nothing new.
//!
//! Two shapes, both written as one line of text:
//! - weekly, recurring, in a named time zone (UTC when none is given), possibly wrapping over the
//!   end of the week: `Fri 16:00-Mon 08:00 UTC`, `Sat 00:00-Sun 23:59 Europe/Berlin`, or within one
//!   day: `Wed 12:00-13:00 UTC`;
//! - one-off, absolute: `2026-12-24T00:00Z/2026-12-27T00:00Z` (RFC 3339 instants, or civil
//!   times with a bracketed time zone such as `2026-12-24T00:00[Europe/Berlin]`).
//!
//! A window includes its start and excludes its end. Weekly windows are evaluated in wall-clock
//! time of their zone, so `Fri 16:00` stays 16:00 across a daylight-saving change. An end whose
//! wall time is skipped (clocks jump forward) ends the window at the jump; an end in a repeated
//! hour ends it at the first occurrence, and the repeated hour counts by its wall time again.
//!
//! This module must not read a clock: every question comes with `now`.

use std::fmt;

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

const SECONDS_PER_WEEK: i64 = 7 * 86_400;
/// How many back-to-back windows `frozen_at` follows before it calls a freeze indefinite.
const MAX_CHAINED_WINDOWS: usize = 64;

/// One freeze window. Serialised as its text (`"Fri 16:00-Mon 08:00 UTC"`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FreezeWindow {
    shape: Shape,
    /// The canonical text, printed by `Display` and compared by `PartialEq`.
    text: String,
}

#[derive(Debug, Clone)]
enum Shape {
    Weekly {
        /// Seconds since Monday 00:00 in the window's zone.
        start: i64,
        end: i64,
        time_zone: TimeZone,
    },
    Once {
        start: Timestamp,
        end: Timestamp,
    },
}

/// Why a freeze window did not parse; the message quotes the window and names the bad part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("freeze window `{window}`: {problem}")]
pub struct FreezeParseError {
    /// The window text as given, e.g. `Fri 16:00-Mon 08:00 UTC`.
    pub window: String,
    /// What is wrong with it, in words.
    pub problem: String,
}

/// An environment is frozen at some instant: which window froze it and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    /// The window that contains the instant asked about.
    pub window: String,
    /// When the freeze ends, following windows that continue one another; `None` when windows
    /// cover every instant as far as we looked (an indefinite freeze).
    pub until: Option<Timestamp>,
}

impl FreezeWindow {
    /// Parses one window. Errors name the part at fault (`unknown weekday `Fry``).
    pub fn parse(text: &str) -> Result<FreezeWindow, FreezeParseError> {
        let trimmed = text.trim();
        let fail = |problem: String| FreezeParseError {
            window: text.to_string(),
            problem,
        };
        if trimmed.is_empty() {
            return Err(fail("is empty".to_string()));
        }
        if trimmed.starts_with(|c: char| c.is_ascii_digit()) {
            parse_once(trimmed).map_err(fail)
        } else {
            parse_weekly(trimmed).map_err(fail)
        }
    }

    /// Whether `now` falls inside the window (start included, end excluded).
    pub fn contains(&self, now: Timestamp) -> bool {
        self.end_after(now).is_some()
    }

    /// When `now` is inside the window, the instant the window ends; otherwise `None`.
    pub fn end_after(&self, now: Timestamp) -> Option<Timestamp> {
        match &self.shape {
            Shape::Once { start, end } => (*start <= now && now < *end).then_some(*end),
            Shape::Weekly {
                start,
                end,
                time_zone,
            } => {
                let inside = |instant: Timestamp| {
                    weekly_contains(*start, *end, second_of_week_at(instant, time_zone))
                };
                if !inside(now) {
                    return None;
                }
                let local = now.to_zoned(time_zone.clone()).datetime();
                let ahead = (end - second_of_week_at(now, time_zone)).rem_euclid(SECONDS_PER_WEEK);
                // Truncate sub-second parts so the end lands exactly on the written minute.
                let local_floor = local.with().subsec_nanosecond(0).build().ok()?;
                let local_end = local_floor
                    .checked_add(SignedDuration::from_secs(ahead))
                    .ok()?;
                // The end's wall time may occur twice (DST ends) or not at all (DST starts):
                // take the first instant after `now` that is outside the window.
                let ambiguous = time_zone.to_ambiguous_timestamp(local_end);
                let candidate = [ambiguous.earlier().ok(), ambiguous.later().ok()]
                    .into_iter()
                    .flatten()
                    .filter(|instant| *instant > now && !inside(*instant))
                    .min()?;
                // When the wall time does not exist, the window really ends at the jump: find
                // the first second that is outside between `now` (inside) and `candidate`.
                let just_before = candidate.checked_sub(SignedDuration::from_secs(1)).ok()?;
                if inside(just_before) || just_before <= now {
                    return Some(candidate);
                }
                // Whole seconds: containment is decided per wall-clock second.
                let (mut inside_at, mut outside_at) = (now.as_second(), just_before.as_second());
                while outside_at - inside_at > 1 {
                    let middle = inside_at + (outside_at - inside_at) / 2;
                    if inside(Timestamp::from_second(middle).ok()?) {
                        inside_at = middle;
                    } else {
                        outside_at = middle;
                    }
                }
                Timestamp::from_second(outside_at).ok()
            }
        }
    }

    /// Whether the window is a one-off that ended at or before `now` (it can be dropped).
    pub fn is_over(&self, now: Timestamp) -> bool {
        matches!(self.shape, Shape::Once { end, .. } if end <= now)
    }

    /// The window's canonical text, e.g. `Fri 16:00-Mon 08:00 UTC`, as it is printed and compared.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Whether any of `windows` freezes the environment at `now`, and until when. Windows that
/// continue one another (a weekly window ending as a one-off begins) extend the freeze.
pub fn frozen_at(windows: &[FreezeWindow], now: Timestamp) -> Option<Freeze> {
    let (first, mut until) = windows
        .iter()
        .find_map(|window| window.end_after(now).map(|end| (window, end)))?;
    for _ in 0..MAX_CHAINED_WINDOWS {
        match windows.iter().find_map(|window| window.end_after(until)) {
            Some(later_end) => until = later_end,
            None => {
                return Some(Freeze {
                    window: first.text.clone(),
                    until: Some(until),
                });
            }
        }
    }
    Some(Freeze {
        window: first.text.clone(),
        until: None,
    })
}

impl PartialEq for FreezeWindow {
    fn eq(&self, other: &FreezeWindow) -> bool {
        self.text == other.text
    }
}

impl Eq for FreezeWindow {}

impl fmt::Display for FreezeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for FreezeWindow {
    type Err = FreezeParseError;
    fn from_str(text: &str) -> Result<FreezeWindow, FreezeParseError> {
        FreezeWindow::parse(text)
    }
}

impl TryFrom<String> for FreezeWindow {
    type Error = FreezeParseError;
    fn try_from(text: String) -> Result<FreezeWindow, FreezeParseError> {
        FreezeWindow::parse(&text)
    }
}

impl From<FreezeWindow> for String {
    fn from(window: FreezeWindow) -> String {
        window.text
    }
}

// ---------------------------------------------------------------------------------------------

fn parse_once(text: &str) -> Result<FreezeWindow, String> {
    let Some((start_text, end_text)) = text.split_once('/').and_then(|(start, end)| {
        // A bracketed zone (`[Europe/Berlin]`) contains a slash too: split at the `/` that is
        // outside brackets.
        if start.contains('[') && !start.contains(']') {
            split_outside_brackets(text)
        } else {
            Some((start, end))
        }
    }) else {
        return Err("a one-off window is written `START/END`, e.g. \
                    `2026-12-24T00:00Z/2026-12-27T00:00Z`"
            .to_string());
    };
    let start = parse_instant(start_text.trim()).map_err(|problem| format!("start {problem}"))?;
    let end = parse_instant(end_text.trim()).map_err(|problem| format!("end {problem}"))?;
    if end <= start {
        return Err(format!(
            "end `{}` is not after start `{}`",
            end_text.trim(),
            start_text.trim()
        ));
    }
    Ok(FreezeWindow {
        shape: Shape::Once { start, end },
        text: format!("{}/{}", start_text.trim(), end_text.trim()),
    })
}

fn split_outside_brackets(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    for (index, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '/' if depth == 0 => return Some((&text[..index], &text[index + 1..])),
            _ => {}
        }
    }
    None
}

fn parse_instant(text: &str) -> Result<Timestamp, String> {
    if let Ok(instant) = text.parse::<Timestamp>() {
        return Ok(instant);
    }
    if let Ok(zoned) = text.parse::<jiff::Zoned>() {
        return Ok(zoned.timestamp());
    }
    Err(format!(
        "`{text}` is not a time with an offset or zone (e.g. `2026-12-24T00:00Z`)"
    ))
}

fn parse_weekly(text: &str) -> Result<FreezeWindow, String> {
    let Some((start_text, rest)) = text.split_once('-') else {
        return Err(
            "a weekly window is written `DAY HH:MM-[DAY ]HH:MM [TIME ZONE]`, \
             e.g. `Fri 16:00-Mon 08:00 UTC`"
                .to_string(),
        );
    };
    let start_parts: Vec<&str> = start_text.split_whitespace().collect();
    let [start_day_text, start_time_text] = start_parts.as_slice() else {
        return Err(format!(
            "start `{}` must be a weekday and a time, e.g. `Fri 16:00`",
            start_text.trim()
        ));
    };
    let start_day = parse_weekday(start_day_text)?;
    let (start_hour, start_minute) = parse_clock(start_time_text)?;

    let rest_parts: Vec<&str> = rest.split_whitespace().collect();
    let (end_day, end_time_text, zone_parts) = match rest_parts.as_slice() {
        [] => return Err("the end after `-` is missing".to_string()),
        [first, tail @ ..] if first.contains(':') => (start_day, *first, tail),
        [first, second, tail @ ..] => (parse_weekday(first)?, *second, tail),
        [first] => {
            return Err(format!(
                "end `{first}` must be a time (`08:00`) or a weekday and a time (`Mon 08:00`)"
            ));
        }
    };
    let (end_hour, end_minute) = parse_clock(end_time_text)?;
    let (time_zone, zone_name) = match zone_parts {
        [] => (TimeZone::UTC, "UTC".to_string()),
        [name] => (parse_time_zone(name)?, (*name).to_string()),
        more => {
            return Err(format!(
                "unexpected `{}` after the time zone `{}`",
                more.get(1..).map(|tail| tail.join(" ")).unwrap_or_default(),
                more.first().copied().unwrap_or_default()
            ));
        }
    };
    let start = second_of_week(start_day, start_hour, start_minute);
    let end = second_of_week(end_day, end_hour, end_minute);
    if start == end {
        return Err("start and end are the same instant; the window would be empty".to_string());
    }
    let same_day_end = end_day == start_day && end > start;
    let text = if same_day_end {
        format!(
            "{} {start_hour:02}:{start_minute:02}-{end_hour:02}:{end_minute:02} {zone_name}",
            weekday_name(start_day)
        )
    } else {
        format!(
            "{} {start_hour:02}:{start_minute:02}-{} {end_hour:02}:{end_minute:02} {zone_name}",
            weekday_name(start_day),
            weekday_name(end_day)
        )
    };
    Ok(FreezeWindow {
        shape: Shape::Weekly {
            start,
            end,
            time_zone,
        },
        text,
    })
}

fn parse_weekday(text: &str) -> Result<Weekday, String> {
    let lower = text.to_ascii_lowercase();
    let weekday = match lower.as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tues" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return Err(format!("unknown weekday `{text}` (use Mon, Tue, … Sun)")),
    };
    Ok(weekday)
}

fn weekday_name(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Monday => "Mon",
        Weekday::Tuesday => "Tue",
        Weekday::Wednesday => "Wed",
        Weekday::Thursday => "Thu",
        Weekday::Friday => "Fri",
        Weekday::Saturday => "Sat",
        Weekday::Sunday => "Sun",
    }
}

fn parse_clock(text: &str) -> Result<(u8, u8), String> {
    let bad = || format!("time `{text}` is not `HH:MM` between 00:00 and 23:59");
    let (hour_text, minute_text) = text.split_once(':').ok_or_else(bad)?;
    if hour_text.is_empty() || hour_text.len() > 2 || minute_text.len() != 2 {
        return Err(bad());
    }
    let hour: u8 = hour_text.parse().map_err(|_| bad())?;
    let minute: u8 = minute_text.parse().map_err(|_| bad())?;
    if hour > 23 || minute > 59 {
        return Err(bad());
    }
    Ok((hour, minute))
}

fn parse_time_zone(name: &str) -> Result<TimeZone, String> {
    if name.eq_ignore_ascii_case("utc") || name == "Z" {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| format!("unknown time zone `{name}`"))
}

/// Seconds since Monday 00:00 of the wall-clock time at `instant` in `time_zone`.
fn second_of_week_at(instant: Timestamp, time_zone: &TimeZone) -> i64 {
    let local = instant.to_zoned(time_zone.clone()).datetime();
    i64::from(local.weekday().to_monday_zero_offset()) * 86_400
        + i64::from(local.hour()) * 3_600
        + i64::from(local.minute()) * 60
        + i64::from(local.second())
}

/// Whether a second of the week lies in `[start, end)`, wrapping over the week's end.
fn weekly_contains(start: i64, end: i64, second: i64) -> bool {
    if start < end {
        start <= second && second < end
    } else {
        second >= start || second < end
    }
}

fn second_of_week(day: Weekday, hour: u8, minute: u8) -> i64 {
    i64::from(day.to_monday_zero_offset()) * 86_400
        + i64::from(hour) * 3_600
        + i64::from(minute) * 60
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn check_parse(input: &str, expected: Result<&str, &str>) {
        let actual = FreezeWindow::parse(input)
            .map(|window| window.to_string())
            .map_err(|error| error.to_string());
        assert_eq!(
            actual,
            expected.map(str::to_string).map_err(str::to_string),
            "input `{input}`"
        );
    }

    #[test]
    fn parses_windows() {
        check_parse("Fri 16:00-Mon 08:00 UTC", Ok("Fri 16:00-Mon 08:00 UTC"));
        check_parse("friday 16:00 - monday 8:00", Ok("Fri 16:00-Mon 08:00 UTC"));
        check_parse("Wed 12:00-13:00 utc", Ok("Wed 12:00-13:00 utc"));
        check_parse("Sun 22:00-Sun 02:00 UTC", Ok("Sun 22:00-Sun 02:00 UTC"));
        check_parse(
            "Sat 00:00-Mon 00:00 Europe/Berlin",
            Ok("Sat 00:00-Mon 00:00 Europe/Berlin"),
        );
        check_parse(
            "2026-12-24T00:00Z/2026-12-27T00:00Z",
            Ok("2026-12-24T00:00Z/2026-12-27T00:00Z"),
        );
        check_parse(
            "2026-12-24T00:00[Europe/Berlin]/2026-12-27T00:00[Europe/Berlin]",
            Ok("2026-12-24T00:00[Europe/Berlin]/2026-12-27T00:00[Europe/Berlin]"),
        );
        check_parse("", Err("freeze window ``: is empty"));
        check_parse(
            "Fry 16:00-Mon 08:00 UTC",
            Err(
                "freeze window `Fry 16:00-Mon 08:00 UTC`: unknown weekday `Fry` (use Mon, Tue, … Sun)",
            ),
        );
        check_parse(
            "Fri 25:00-Mon 08:00 UTC",
            Err(
                "freeze window `Fri 25:00-Mon 08:00 UTC`: time `25:00` is not `HH:MM` between 00:00 and 23:59",
            ),
        );
        check_parse(
            "Fri 16:00-Mon 08:00 Mars/Olympus",
            Err(
                "freeze window `Fri 16:00-Mon 08:00 Mars/Olympus`: unknown time zone `Mars/Olympus`",
            ),
        );
        check_parse(
            "Fri 16:00 Mon 08:00",
            Err(
                "freeze window `Fri 16:00 Mon 08:00`: a weekly window is written `DAY HH:MM-[DAY ]HH:MM [TIME ZONE]`, e.g. `Fri 16:00-Mon 08:00 UTC`",
            ),
        );
        check_parse(
            "16:00-Mon 08:00",
            Err(
                "freeze window `16:00-Mon 08:00`: a one-off window is written `START/END`, e.g. `2026-12-24T00:00Z/2026-12-27T00:00Z`",
            ),
        );
        check_parse(
            "Fri 16:00-",
            Err("freeze window `Fri 16:00-`: the end after `-` is missing"),
        );
        check_parse(
            "Fri 16:00-Fri 16:00 UTC",
            Err(
                "freeze window `Fri 16:00-Fri 16:00 UTC`: start and end are the same instant; the window would be empty",
            ),
        );
        check_parse(
            "Fri 16:00-Mon 08:00 UTC extra",
            Err(
                "freeze window `Fri 16:00-Mon 08:00 UTC extra`: unexpected `extra` after the time zone `UTC`",
            ),
        );
        check_parse(
            "2026-12-27T00:00Z/2026-12-24T00:00Z",
            Err(
                "freeze window `2026-12-27T00:00Z/2026-12-24T00:00Z`: end `2026-12-24T00:00Z` is not after start `2026-12-27T00:00Z`",
            ),
        );
        check_parse(
            "2026-12-24/2026-12-27T00:00Z",
            Err(
                "freeze window `2026-12-24/2026-12-27T00:00Z`: start `2026-12-24` is not a time with an offset or zone (e.g. `2026-12-24T00:00Z`)",
            ),
        );
    }

    /// (window, instant, expected end of the window when the instant is inside it).
    fn check_contains(window: &str, now: &str, expected_end: Option<&str>) {
        let window = FreezeWindow::parse(window).unwrap();
        assert_eq!(
            window.end_after(at(now)),
            expected_end.map(at),
            "window `{window}` at {now}"
        );
        assert_eq!(window.contains(at(now)), expected_end.is_some());
    }

    #[test]
    fn weekly_window_wrapping_over_the_weekend() {
        // 2026-03-06 is a Friday; 2026-03-09 a Monday.
        let weekend = "Fri 16:00-Mon 08:00 UTC";
        check_contains(weekend, "2026-03-06T15:59:59Z", None);
        check_contains(
            weekend,
            "2026-03-06T16:00:00Z",
            Some("2026-03-09T08:00:00Z"),
        );
        check_contains(
            weekend,
            "2026-03-07T12:00:00Z",
            Some("2026-03-09T08:00:00Z"),
        );
        check_contains(
            weekend,
            "2026-03-08T23:59:59Z",
            Some("2026-03-09T08:00:00Z"),
        );
        check_contains(
            weekend,
            "2026-03-09T07:59:30Z",
            Some("2026-03-09T08:00:00Z"),
        );
        check_contains(weekend, "2026-03-09T08:00:00Z", None);
        check_contains(weekend, "2026-03-11T12:00:00Z", None);
        // Sunday night to Monday morning wraps the week's end (Monday 00:00 in our counting).
        let overnight = "Sun 22:00-Mon 02:00 UTC";
        check_contains(overnight, "2026-03-08T21:59:00Z", None);
        check_contains(
            overnight,
            "2026-03-08T23:30:00Z",
            Some("2026-03-09T02:00:00Z"),
        );
        check_contains(
            overnight,
            "2026-03-09T00:00:00Z",
            Some("2026-03-09T02:00:00Z"),
        );
        check_contains(overnight, "2026-03-09T02:00:00Z", None);
        // A window ending earlier on its own start day wraps almost the whole week.
        let week = "Sun 22:00-Sun 02:00 UTC";
        check_contains(week, "2026-03-08T01:00:00Z", Some("2026-03-08T02:00:00Z"));
        check_contains(week, "2026-03-08T12:00:00Z", None);
        check_contains(week, "2026-03-08T22:00:00Z", Some("2026-03-15T02:00:00Z"));
        check_contains(week, "2026-03-11T12:00:00Z", Some("2026-03-15T02:00:00Z"));
        // Within one day.
        let lunch = "Wed 12:00-13:00 UTC";
        check_contains(lunch, "2026-03-11T12:30:00Z", Some("2026-03-11T13:00:00Z"));
        check_contains(lunch, "2026-03-12T12:30:00Z", None);
    }

    #[test]
    fn weekly_window_in_a_named_zone() {
        // Berlin is UTC+1 in winter: Fri 16:00 local is 15:00 UTC.
        let berlin = "Fri 16:00-Mon 08:00 Europe/Berlin";
        check_contains(berlin, "2026-01-09T14:59:00Z", None);
        check_contains(berlin, "2026-01-09T15:00:00Z", Some("2026-01-12T07:00:00Z"));
        // Summer (UTC+2): Mon 08:00 local is 06:00 UTC.
        check_contains(berlin, "2026-07-11T12:00:00Z", Some("2026-07-13T06:00:00Z"));
        // Across the spring change (2026-03-29, 02:00 → 03:00): the freeze starts Fri 27th
        // 16:00 CET (15:00 UTC) and ends Mon 30th 08:00 CEST (06:00 UTC).
        check_contains(berlin, "2026-03-27T15:00:00Z", Some("2026-03-30T06:00:00Z"));
        // An end at 02:30 on the night that skips 02:00-03:00 ends at the jump (01:00 UTC).
        let skipped_end = "Sat 12:00-Sun 02:30 Europe/Berlin";
        check_contains(
            skipped_end,
            "2026-03-28T12:00:00Z",
            Some("2026-03-29T01:00:00Z"),
        );
        check_contains(skipped_end, "2026-03-29T01:00:00Z", None);
        // On the night 03:00 repeats 02:00-03:00, an end at 02:30 is its first occurrence
        // (00:30 UTC); the repeated hour re-enters the window until its second 02:30.
        check_contains(
            skipped_end,
            "2026-10-24T12:00:00Z",
            Some("2026-10-25T00:30:00Z"),
        );
        check_contains(skipped_end, "2026-10-25T00:45:00Z", None);
        check_contains(
            skipped_end,
            "2026-10-25T01:10:00Z",
            Some("2026-10-25T01:30:00Z"),
        );
    }

    #[test]
    fn one_off_window() {
        let christmas = "2026-12-24T00:00Z/2026-12-27T00:00Z";
        check_contains(christmas, "2026-12-23T23:59:59Z", None);
        check_contains(
            christmas,
            "2026-12-24T00:00:00Z",
            Some("2026-12-27T00:00:00Z"),
        );
        check_contains(
            christmas,
            "2026-12-26T23:00:00Z",
            Some("2026-12-27T00:00:00Z"),
        );
        check_contains(christmas, "2026-12-27T00:00:00Z", None);
        let window = FreezeWindow::parse(christmas).unwrap();
        assert!(!window.is_over(at("2026-12-26T00:00:00Z")));
        assert!(window.is_over(at("2026-12-27T00:00:00Z")));
        assert!(
            !FreezeWindow::parse("Fri 16:00-Mon 08:00")
                .unwrap()
                .is_over(at("2030-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn chained_windows_extend_the_freeze() {
        let windows = vec![
            FreezeWindow::parse("Fri 16:00-Mon 08:00 UTC").unwrap(),
            // Starts exactly when the weekend freeze ends (Mon 2026-03-09 08:00).
            FreezeWindow::parse("2026-03-09T08:00Z/2026-03-10T12:00Z").unwrap(),
        ];
        assert_eq!(
            frozen_at(&windows, at("2026-03-07T10:00:00Z")),
            Some(Freeze {
                window: "Fri 16:00-Mon 08:00 UTC".to_string(),
                until: Some(at("2026-03-10T12:00:00Z")),
            })
        );
        assert_eq!(frozen_at(&windows, at("2026-03-10T12:00:00Z")), None);
        assert_eq!(frozen_at(&[], at("2026-03-07T10:00:00Z")), None);
        // Two weekly windows covering the whole week: an indefinite freeze.
        let always = vec![
            FreezeWindow::parse("Mon 00:00-Thu 00:00 UTC").unwrap(),
            FreezeWindow::parse("Thu 00:00-Mon 00:00 UTC").unwrap(),
        ];
        assert_eq!(
            frozen_at(&always, at("2026-03-07T10:00:00Z")).map(|freeze| freeze.until),
            Some(None)
        );
    }

    #[test]
    fn serde_uses_the_text() {
        let window = FreezeWindow::parse("fri 16:00-mon 08:00 UTC").unwrap();
        let json = serde_json::to_string(&window).unwrap();
        assert_eq!(json, "\"Fri 16:00-Mon 08:00 UTC\"");
        let back: FreezeWindow = serde_json::from_str(&json).unwrap();
        assert_eq!(back, window);
        assert!(back.contains(at("2026-03-07T10:00:00Z")));
        assert!(serde_json::from_str::<FreezeWindow>("\"Fry 16:00-Mon 08:00\"").is_err());
    }
}
