//! Schedules: the `on.schedule` crons of the default branch's workflows, when each fires next,
//! and which fires are due after the engine was down (the misfire policy). Pure: `now` is always
//! passed in, nothing sleeps or reads the clock.
//!
//! Cron strings are GitHub's: five fields (minute, hour, day of month, month, day of week) in
//! POSIX syntax — `*`, lists, ranges, steps (`*/15`, `20/15`), `JAN`–`DEC`, `SUN`–`SAT`; no
//! `@daily`-style names and no seconds. When both day fields are restricted, a day matching
//! either one fires (POSIX). Times are UTC unless the schedule names an IANA `timezone`.

use std::str::FromStr;

use croner::Cron;
use croner::parser::{CronParser, Seconds};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, Zoned};
use workflows::parse_workflow_bytes;

use super::TriggerError;
use super::decide::WorkflowFile;

/// What to do about fires that came due while the engine was not running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MisfirePolicy {
    /// Run the latest missed fire once (the default).
    #[default]
    RunOnce,
    /// Run only a fire that is on time (at most [`ON_TIME_GRACE`] late); drop missed ones.
    Skip,
    /// Run every missed fire, at most [`MAX_CATCH_UP_FIRES`] (the latest ones).
    RunAll,
}

impl FromStr for MisfirePolicy {
    type Err = TriggerError;

    fn from_str(text: &str) -> Result<MisfirePolicy, TriggerError> {
        match text {
            "run-once" | "run_once" => Ok(MisfirePolicy::RunOnce),
            "skip" => Ok(MisfirePolicy::Skip),
            "run-all" | "run_all" => Ok(MisfirePolicy::RunAll),
            other => Err(TriggerError::Invalid(format!(
                "read misfire policy: `{other}` is not one of run-once, skip, run-all"
            ))),
        }
    }
}

/// A fire this late is still on time, not missed (the engine's tick is not exact).
pub const ON_TIME_GRACE: SignedDuration = SignedDuration::from_secs(5 * 60);
/// [`MisfirePolicy::RunAll`] runs at most this many missed fires.
pub const MAX_CATCH_UP_FIRES: usize = 50;

/// One cron of one workflow, parsed.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// The cron expression as written in the workflow, e.g. `0 3 * * 1-5`.
    pub text: String,
    cron: Cron,
    zone: TimeZone,
}

impl CronSchedule {
    /// Parses a GitHub cron string; `timezone` is an IANA name (UTC when `None`).
    pub fn parse(text: &str, timezone: Option<&str>) -> Result<CronSchedule, TriggerError> {
        check_github_syntax(text)?;
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .sloppy_ranges(true)
            .build()
            .parse(text)
            .map_err(|error| {
                TriggerError::Invalid(format!(
                    "read cron `{text}`: {}",
                    lowercase(&error.to_string())
                ))
            })?;
        let zone = match timezone {
            None => TimeZone::UTC,
            Some(name) => TimeZone::get(name).map_err(|error| {
                TriggerError::Invalid(format!("read schedule timezone `{name}`: {error}"))
            })?,
        };
        Ok(CronSchedule {
            text: text.to_string(),
            cron,
            zone,
        })
    }

    /// The first fire strictly after `after`.
    pub fn next_fire(&self, after: Timestamp) -> Option<Timestamp> {
        let start = after.to_zoned(self.zone.clone());
        self.cron
            .find_next_occurrence(&start, false)
            .ok()
            .map(|zoned: Zoned| zoned.timestamp())
    }

    /// The fires to run now, oldest first: those in `(last_fired, now]`, filtered by `policy`.
    /// With no `last_fired` (a schedule seen for the first time) nothing is due: the caller
    /// records `now` and the schedule counts from there.
    pub fn due(
        &self,
        last_fired: Option<Timestamp>,
        now: Timestamp,
        policy: MisfirePolicy,
    ) -> Vec<Timestamp> {
        let Some(last_fired) = last_fired else {
            return Vec::new();
        };
        let wanted = match policy {
            MisfirePolicy::RunAll => MAX_CATCH_UP_FIRES,
            MisfirePolicy::RunOnce | MisfirePolicy::Skip => 1,
        };
        // Walk back from now: a long outage never costs more than `wanted` steps.
        let mut fires = Vec::new();
        let mut cursor = now.to_zoned(self.zone.clone());
        let mut inclusive = true;
        while fires.len() < wanted {
            let Ok(previous) = self.cron.find_previous_occurrence(&cursor, inclusive) else {
                break;
            };
            if previous.timestamp() <= last_fired {
                break;
            }
            fires.push(previous.timestamp());
            cursor = previous;
            inclusive = false;
        }
        fires.reverse();
        if policy == MisfirePolicy::Skip {
            fires.retain(|fire| now.duration_since(*fire) <= ON_TIME_GRACE);
        }
        fires
    }
}

/// The first fire of a UTC `cron` strictly after `after`; `None` for an invalid cron or one that
/// never fires (`0 0 30 2 *`).
pub fn next_fire(cron: &str, after: Timestamp) -> Option<Timestamp> {
    CronSchedule::parse(cron, None).ok()?.next_fire(after)
}

/// The fires of a UTC `cron` due at `now` (see [`CronSchedule::due`]); none for an invalid cron.
pub fn due(
    cron: &str,
    last_fired: Option<Timestamp>,
    now: Timestamp,
    policy: MisfirePolicy,
) -> Vec<Timestamp> {
    CronSchedule::parse(cron, None)
        .map(|schedule| schedule.due(last_fired, now, policy))
        .unwrap_or_default()
}

/// One `on.schedule` entry of a workflow file.
#[derive(Debug, Clone)]
pub struct ScheduledWorkflow {
    /// The workflow file's path from the repository root, e.g. `.github/workflows/nightly.yml`.
    pub file: String,
    /// The entry's cron, parsed.
    pub schedule: CronSchedule,
}

/// The schedules of the given workflow files (the default branch's), with the files or crons
/// that could not be read as errors beside them. An invalid workflow file schedules nothing.
pub fn schedules_in(files: &[WorkflowFile]) -> (Vec<ScheduledWorkflow>, Vec<String>) {
    let mut schedules = Vec::new();
    let mut errors = Vec::new();
    for file in files {
        let parsed = parse_workflow_bytes(&file.path, &file.bytes);
        let Some(workflow) = parsed.workflow.as_ref() else {
            continue;
        };
        let Some(trigger) = workflow.on.events.get("schedule") else {
            continue;
        };
        if let Some(error) = parsed.diagnostics.iter().find(|d| d.is_error()) {
            errors.push(format!("{}: not scheduled: {error}", file.path));
            continue;
        }
        let entries: Vec<(String, Option<String>)> = if trigger.schedules.is_empty() {
            trigger
                .cron
                .iter()
                .map(|cron| (cron.value.clone(), None))
                .collect()
        } else {
            trigger
                .schedules
                .iter()
                .map(|entry| {
                    (
                        entry.cron.value.clone(),
                        entry.timezone.as_ref().map(|tz| tz.value.clone()),
                    )
                })
                .collect()
        };
        for (cron, timezone) in entries {
            match CronSchedule::parse(&cron, timezone.as_deref()) {
                Ok(schedule) => schedules.push(ScheduledWorkflow {
                    file: file.path.clone(),
                    schedule,
                }),
                Err(error) => errors.push(format!("{}: {error}", file.path)),
            }
        }
    }
    (schedules, errors)
}

/// Rejects what croner accepts but GitHub does not: other field counts, `@` names, seconds,
/// and croner's `L`, `W`, `#` and `?` extensions.
fn check_github_syntax(text: &str) -> Result<(), TriggerError> {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(TriggerError::Invalid(format!(
            "read cron `{text}`: expected 5 fields (minute hour day-of-month month day-of-week), found {}",
            fields.len()
        )));
    }
    for field in fields {
        for item in field.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((range, step)) => (range, Some(step)),
                None => (item, None),
            };
            let step_ok =
                step.is_none_or(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
            let bound_ok = |bound: &str| {
                !bound.is_empty()
                    && (bound.bytes().all(|b| b.is_ascii_digit())
                        || (bound.len() == 3 && bound.bytes().all(|b| b.is_ascii_alphabetic())))
            };
            let range_ok = range == "*"
                || match range.split_once('-') {
                    Some((low, high)) => bound_ok(low) && bound_ok(high),
                    None => bound_ok(range),
                };
            if !step_ok || !range_ok {
                return Err(TriggerError::Invalid(format!(
                    "read cron `{text}`: `{item}` is not valid cron syntax"
                )));
            }
        }
    }
    Ok(())
}

fn lowercase(message: &str) -> String {
    let trimmed = message.trim_end_matches('.');
    let mut chars = trimmed.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
