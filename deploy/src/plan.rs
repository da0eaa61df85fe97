//! Release plans: a release's stages in one environment — an audience and the earliest time it
//! may be given (`10%@2026-12-07T09:00Z`, `50%@+2d`, `all@+4d`) — carried out by the engine as
//! each time comes and the release gate passes (category policy, freeze windows, approvals).
//! A plan can be paused, resumed and halted at any time.
//!
//! Stages missed while the engine was down follow the schedules' misfire rule, *run once*: of
//! the stages that all came due, only the widest (the latest) is given, and the earlier ones are
//! marked skipped.
//!
//! This module must not read a clock: every question comes with `now`.

use std::fmt;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::duration::parse_duration;
use super::release::Audience;

/// A release's plan in one environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePlan {
    /// The environment the plan releases into, e.g. `production`.
    pub environment: String,
    /// The stages in the order they are given, each at or after the previous one.
    pub stages: Vec<PlanStage>,
    /// Whether the plan is going ahead, paused, halted or done.
    pub state: PlanState,
    /// Who made the plan.
    pub planned_by: String,
    /// When the plan was made.
    pub planned_at: Timestamp,
    /// Why the due stage is not given yet (a freeze, approvals, its check), as last seen.
    #[serde(default)]
    pub waiting: Option<String>,
    /// A workflow that must succeed before each stage is given (`workflow:canary.yml`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<PlanCheck>,
    /// The check run of the due stage, while it runs or once it passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_run: Option<CheckRun>,
}

/// The check a plan's stages must pass: a workflow of the release's repository, dispatched
/// (`workflow_dispatch`) at the release's tag when a stage is due. The engine runs no
/// commands itself, so a check command lives in that workflow's steps, on a runner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCheck {
    /// The workflow's file name under `.github/workflows/` (`canary.yml`).
    pub workflow: String,
}

/// One run of a plan's check for one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckRun {
    /// The stage it checks (index into `stages`).
    pub stage: usize,
    /// The id of the check workflow's run the engine dispatched for this stage.
    pub run_id: String,
    /// When the engine dispatched that run.
    pub started_at: Timestamp,
    /// Set once the run concluded `success`: the stage may be given.
    #[serde(default)]
    pub passed: bool,
}

impl PlanCheck {
    /// Parses `workflow:NAME` (`NAME` a file under `.github/workflows/`, with or without that
    /// folder).
    pub fn parse(text: &str) -> Result<PlanCheck, String> {
        let text = text.trim();
        let Some(name) = text.strip_prefix("workflow:") else {
            return Err(format!(
                "`{text}` is not a check: write `workflow:FILE` (the engine runs no commands \
                 itself: put the command in a workflow with `on: workflow_dispatch`, which \
                 runs on a runner)"
            ));
        };
        let name = name.trim().trim_start_matches(".github/workflows/");
        if name.is_empty() || name.contains('/') || name.contains("..") {
            return Err(format!(
                "`{text}`: name a workflow file of `.github/workflows/` (`workflow:canary.yml`)"
            ));
        }
        Ok(PlanCheck {
            workflow: name.to_string(),
        })
    }
}

impl fmt::Display for PlanCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "workflow:{}", self.workflow)
    }
}

/// One stage: who gets the release, from when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStage {
    /// Who gets the release at this stage.
    pub audience: Audience,
    /// The earliest time the stage may be given.
    pub at: Timestamp,
    /// When it was given.
    #[serde(default)]
    pub reached_at: Option<Timestamp>,
    /// Passed over after downtime (a later stage was due too).
    #[serde(default)]
    pub skipped: bool,
}

/// Where a plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// The engine gives each stage as it comes due.
    Active,
    /// Paused by a user: no stage is given until the plan is resumed.
    Paused,
    /// Halted by a user for good: no further stage is given.
    Halted,
    /// Every stage was given (or skipped).
    Done,
}

/// A bad stage; names the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stage `{text}`: {problem}")]
pub struct PlanError {
    /// The stage text as given, e.g. `10%@+2d`.
    pub text: String,
    /// What is wrong with it, in words.
    pub problem: String,
}

/// What the engine should do about a plan now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanStep {
    /// Nothing is due (or the plan is not active).
    Wait,
    /// Give `stage`'s audience; `skipped` came due too and are passed over (misfire: run once).
    Give {
        /// The index in `stages` of the stage to give.
        stage: usize,
        /// The indexes of earlier stages that came due too and are marked skipped.
        skipped: Vec<usize>,
    },
}

impl PlanState {
    /// The state in words, e.g. `paused`, as `slipway` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanState::Active => "active",
            PlanState::Paused => "paused",
            PlanState::Halted => "halted",
            PlanState::Done => "done",
        }
    }
}

impl fmt::Display for PlanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses `AUDIENCE@WHEN` stages in order: `WHEN` is an instant (`2026-12-07T09:00Z`), `now`, or
/// `+DURATION` after the previous stage (after `now` for the first). Times may not go backwards.
pub fn parse_stages(texts: &[String], now: Timestamp) -> Result<Vec<PlanStage>, PlanError> {
    let mut stages: Vec<PlanStage> = Vec::new();
    for text in texts {
        let fail = |problem: String| PlanError {
            text: text.clone(),
            problem,
        };
        let Some((audience, when)) = text.rsplit_once('@') else {
            return Err(fail(
                "write AUDIENCE@WHEN: `10%@2026-12-07T09:00Z`, `50%@+2d`, `all@now`".into(),
            ));
        };
        let audience = Audience::parse(audience).map_err(|error| fail(error.to_string()))?;
        let previous = stages.last().map_or(now, |stage| stage.at);
        let when = when.trim();
        let at = if when.eq_ignore_ascii_case("now") {
            now
        } else if let Some(offset) = when.strip_prefix('+') {
            let duration = parse_duration(offset).map_err(|error| fail(error.to_string()))?;
            let seconds = i64::try_from(duration.as_secs())
                .map_err(|_| fail("the offset is too large".into()))?;
            previous
                .checked_add(SignedDuration::from_secs(seconds))
                .map_err(|_| fail("the offset is too large".into()))?
        } else {
            parse_instant(when).ok_or_else(|| {
                fail(format!(
                    "`{when}` is not an instant (`2026-12-07T09:00Z`), `now` or `+2d`"
                ))
            })?
        };
        if at < previous && !stages.is_empty() {
            return Err(fail(format!(
                "its time {at} is before the previous stage's ({previous})"
            )));
        }
        stages.push(PlanStage {
            audience,
            at,
            reached_at: None,
            skipped: false,
        });
    }
    if stages.is_empty() {
        return Err(PlanError {
            text: String::new(),
            problem: "a plan needs at least one `--stage`".into(),
        });
    }
    Ok(stages)
}

impl ReleasePlan {
    /// A new, active plan.
    pub fn new(
        environment: impl Into<String>,
        stages: Vec<PlanStage>,
        planned_by: impl Into<String>,
        now: Timestamp,
    ) -> ReleasePlan {
        ReleasePlan {
            environment: environment.into(),
            stages,
            state: PlanState::Active,
            planned_by: planned_by.into(),
            planned_at: now,
            waiting: None,
            check: None,
            check_run: None,
        }
    }

    /// The same plan with a check each stage must pass first.
    pub fn with_check(mut self, check: Option<PlanCheck>) -> ReleasePlan {
        self.check = check;
        self
    }

    /// What is due at `now`.
    pub fn step(&self, now: Timestamp) -> PlanStep {
        if self.state != PlanState::Active {
            return PlanStep::Wait;
        }
        let due: Vec<usize> = self
            .stages
            .iter()
            .enumerate()
            .filter(|(_, stage)| stage.reached_at.is_none() && !stage.skipped && stage.at <= now)
            .map(|(index, _)| index)
            .collect();
        match due.split_last() {
            Some((last, earlier)) => PlanStep::Give {
                stage: *last,
                skipped: earlier.to_vec(),
            },
            None => PlanStep::Wait,
        }
    }

    /// Records that `stage` was given at `now` (and `skipped` passed over); done after the last.
    pub fn reached(&mut self, stage: usize, skipped: &[usize], now: Timestamp) {
        for index in skipped {
            if let Some(passed) = self.stages.get_mut(*index) {
                passed.skipped = true;
            }
        }
        if let Some(given) = self.stages.get_mut(stage) {
            given.reached_at = Some(now);
        }
        self.waiting = None;
        self.check_run = None;
        if self
            .stages
            .iter()
            .all(|stage| stage.reached_at.is_some() || stage.skipped)
        {
            self.state = PlanState::Done;
        }
    }

    /// The last stage given, if any.
    pub fn last_reached(&self) -> Option<&PlanStage> {
        self.stages
            .iter()
            .filter(|stage| stage.reached_at.is_some())
            .max_by_key(|stage| stage.reached_at)
    }

    /// Where a stage stands, for people: `done`, `skipped`, `due`, `planned`, or the plan's
    /// state when it is not active.
    pub fn stage_status(&self, index: usize, now: Timestamp) -> &'static str {
        let Some(stage) = self.stages.get(index) else {
            return "unknown";
        };
        if stage.reached_at.is_some() {
            "done"
        } else if stage.skipped {
            "skipped"
        } else if self.state != PlanState::Active {
            self.state.as_str()
        } else if stage.at <= now {
            "due"
        } else {
            "planned"
        }
    }
}

/// `2026-12-07T09:00Z`, `2026-12-07T09:00:00Z`, or with an offset.
fn parse_instant(text: &str) -> Option<Timestamp> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    // Minutes without seconds: `…T09:00Z` → `…T09:00:00Z`.
    let (civil, zone) = text.split_at(
        text.find(['Z', 'z', '+'])
            .or_else(|| text.rfind('-').filter(|at| *at > 10))?,
    );
    format!("{civil}:00{zone}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn stages(texts: &[&str]) -> Result<Vec<PlanStage>, String> {
        parse_stages(
            &texts
                .iter()
                .map(|text| text.to_string())
                .collect::<Vec<_>>(),
            at("2026-12-05T12:00:00Z"),
        )
        .map_err(|error| error.to_string())
    }

    #[test]
    fn stages_parse_relative_to_the_previous_one() {
        let parsed = stages(&["10%@2026-12-07T09:00Z", "50%@+2d", "all@+4d"]).unwrap();
        let times: Vec<String> = parsed.iter().map(|stage| stage.at.to_string()).collect();
        assert_eq!(
            times,
            [
                "2026-12-07T09:00:00Z",
                "2026-12-09T09:00:00Z",
                "2026-12-13T09:00:00Z"
            ]
        );
        assert_eq!(parsed[2].audience, Audience::All);
        assert_eq!(
            stages(&["tier:premium@now"]).unwrap()[0].at,
            at("2026-12-05T12:00:00Z")
        );
        assert_eq!(
            stages(&["10%@+1h"]).unwrap()[0].at,
            at("2026-12-05T13:00:00Z")
        );
        for (texts, error) in [
            (&["10%"][..], "stage `10%`: write AUDIENCE@WHEN"),
            (&["0%@now"][..], "stage `0%@now`: audience `0%`"),
            (
                &["10%@tomorrow"][..],
                "stage `10%@tomorrow`: `tomorrow` is not an instant",
            ),
            (
                &["10%@2026-12-07T09:00Z", "50%@2026-12-06T09:00Z"][..],
                "stage `50%@2026-12-06T09:00Z`: its time",
            ),
            (&[][..], "stage ``: a plan needs at least one `--stage`"),
        ] {
            let actual = stages(texts).unwrap_err();
            assert!(actual.starts_with(error), "{actual}");
        }
    }

    #[test]
    fn a_check_names_a_workflow_file() {
        for (text, workflow) in [
            ("workflow:canary.yml", "canary.yml"),
            ("workflow:.github/workflows/canary.yml", "canary.yml"),
            (" workflow: smoke.yaml ", "smoke.yaml"),
        ] {
            assert_eq!(PlanCheck::parse(text).unwrap().workflow, workflow, "{text}");
        }
        for (text, error) in [
            ("./canary.sh", "is not a check: write `workflow:FILE`"),
            ("workflow:", "name a workflow file"),
            ("workflow:../x.yml", "name a workflow file"),
        ] {
            let actual = PlanCheck::parse(text).unwrap_err();
            assert!(actual.contains(error), "{text}: {actual}");
        }
        assert_eq!(
            PlanCheck::parse("workflow:canary.yml").unwrap().to_string(),
            "workflow:canary.yml"
        );
    }

    #[test]
    fn a_plan_gives_each_stage_when_due_and_runs_missed_ones_once() {
        let mut plan = ReleasePlan::new(
            "production",
            stages(&["10%@2026-12-07T09:00Z", "50%@+2d", "all@+4d"]).unwrap(),
            "pat",
            at("2026-12-05T12:00:00Z"),
        );
        assert_eq!(plan.step(at("2026-12-07T08:59:59Z")), PlanStep::Wait);
        assert_eq!(
            plan.step(at("2026-12-07T09:00:00Z")),
            PlanStep::Give {
                stage: 0,
                skipped: vec![]
            }
        );
        plan.reached(0, &[], at("2026-12-07T09:00:00Z"));
        assert_eq!(plan.stage_status(0, at("2026-12-07T09:00:00Z")), "done");
        plan.state = PlanState::Paused;
        assert_eq!(plan.step(at("2026-12-20T00:00:00Z")), PlanStep::Wait);
        assert_eq!(plan.stage_status(1, at("2026-12-20T00:00:00Z")), "paused");
        plan.state = PlanState::Active;
        // Down from the 8th to the 20th: both later stages are due, only `all` is given.
        assert_eq!(
            plan.step(at("2026-12-20T00:00:00Z")),
            PlanStep::Give {
                stage: 2,
                skipped: vec![1]
            }
        );
        plan.reached(2, &[1], at("2026-12-20T00:00:00Z"));
        assert_eq!(plan.state, PlanState::Done);
        assert_eq!(plan.stage_status(1, at("2026-12-20T00:00:00Z")), "skipped");
        assert_eq!(
            plan.last_reached().map(|stage| stage.audience.clone()),
            Some(Audience::All)
        );
    }
}
