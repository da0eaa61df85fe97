//! The one loop that drives a run: feed an event to the `Scheduler`, hand each action it returns
//! to a `Driver`, feed back what the driver's answers imply (a job started at once), until the
//! run asks for nothing more or finishes.
//!
//! Both callers implement only what differs: the engine's orchestrator queues jobs in its store
//! for runners to lease (and learns later that they started), `slipway run` starts them
//! in-process at once. Where events come from (runner reports, a local channel, a timer) stays
//! with the caller. Sync on purpose: a driver that must do async work records it and carries it
//! out after `drive` returns. This module must not read a clock, sleep or do I/O.

use protocol::{Conclusion, JobSpec};

use super::errors::SchedulerError;
use super::events::{Action, CancelReason, Event, Millis};
use super::machine::Scheduler;

/// Whether a job handed to `Driver::start_job` is running already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// It began at once (`slipway run`): the loop tells the scheduler `JobStarted` itself.
    Now,
    /// Someone will report it (a runner leases it): the caller feeds `JobStarted` then.
    Later,
}

/// What carrying out the scheduler's actions means for one caller.
pub trait Driver {
    /// Called with every batch of actions before any of them is handed out (the engine saves
    /// them as its outbox, so a crash half-way carries them out again).
    fn actions(&mut self, _actions: &[Action]) {}

    /// Run this job (or matrix leg); the caller later feeds `JobFinished` for it.
    fn start_job(&mut self, spec: JobSpec) -> Started;

    /// Stop a job handed out earlier; the caller feeds its `JobFinished` when it has stopped.
    fn cancel_job(&mut self, job_key: &str, reason: CancelReason);

    /// A job that will not run: `skipped` (its `if:` is false) or concluded by the scheduler
    /// itself (an expression error, a cancelled run, …), with the reason.
    fn job_not_run(&mut self, job_key: &str, conclusion: Conclusion, reason: String);

    /// Every job has concluded; nothing more happens in this run.
    fn run_finished(&mut self, conclusion: Conclusion);
}

/// Hands `actions` to `driver` in order. Returns the events they imply (`JobStarted` for a job
/// the driver started at once) and the run's conclusion when one of them finished it.
pub fn dispatch<D: Driver + ?Sized>(
    actions: Vec<Action>,
    driver: &mut D,
) -> (Vec<Event>, Option<Conclusion>) {
    let mut implied = Vec::new();
    let mut finished = None;
    for action in actions {
        match action {
            Action::StartJob(spec) => {
                let job_key = spec.job_key.clone();
                if driver.start_job(*spec) == Started::Now {
                    implied.push(Event::JobStarted { job_key });
                }
            }
            Action::CancelJob { job_key, reason } => driver.cancel_job(&job_key, reason),
            Action::JobSkipped { job_key, reason } => {
                driver.job_not_run(&job_key, Conclusion::Skipped, reason)
            }
            Action::JobConcluded {
                job_key,
                conclusion,
                reason,
            } => driver.job_not_run(&job_key, conclusion, reason),
            Action::RunFinished { conclusion } => {
                driver.run_finished(conclusion);
                finished = Some(conclusion);
            }
        }
    }
    (implied, finished)
}

/// Feeds `event` at `now`, and every event the driver's answers imply, handing each batch of
/// actions to `driver`. Returns the run's conclusion once it has finished. A refused event is an
/// `Err` (the scheduler changed nothing for it; batches before it were handed out).
pub fn drive<D: Driver + ?Sized>(
    scheduler: &mut Scheduler,
    event: Event,
    now: Millis,
    driver: &mut D,
) -> Result<Option<Conclusion>, SchedulerError> {
    let mut pending = vec![event];
    let mut conclusion = None;
    while let Some(event) = pending.pop() {
        let actions = scheduler.handle(event, now)?;
        if actions.is_empty() {
            continue;
        }
        driver.actions(&actions);
        let (implied, finished) = dispatch(actions, driver);
        pending.extend(implied.into_iter().rev());
        conclusion = conclusion.or(finished);
    }
    Ok(conclusion)
}

#[cfg(test)]
mod tests {
    use indexmap::IndexMap;
    use protocol::JobResult;

    use super::*;
    use crate::RunInput;

    /// Starts jobs at once or later and writes down what it was asked.
    struct Recorder {
        started: Started,
        log: Vec<String>,
    }

    impl Driver for Recorder {
        fn actions(&mut self, actions: &[Action]) {
            self.log.push(format!("batch of {}", actions.len()));
        }
        fn start_job(&mut self, spec: JobSpec) -> Started {
            self.log.push(format!("start {}", spec.job_key));
            self.started
        }
        fn cancel_job(&mut self, job_key: &str, _reason: CancelReason) {
            self.log.push(format!("cancel {job_key}"));
        }
        fn job_not_run(&mut self, job_key: &str, conclusion: Conclusion, _reason: String) {
            self.log.push(format!("{} {job_key}", conclusion.as_str()));
        }
        fn run_finished(&mut self, conclusion: Conclusion) {
            self.log.push(format!("run {}", conclusion.as_str()));
        }
    }

    fn scheduler(yaml: &str) -> Scheduler {
        let parsed = workflows::parse_workflow(".github/workflows/t.yml", yaml);
        let Some(workflow) = parsed.workflow else {
            panic!("{:?}", parsed.diagnostics)
        };
        match Scheduler::new(RunInput::new(workflow, "run-1")) {
            Ok(scheduler) => scheduler,
            Err(error) => panic!("{error}"),
        }
    }

    fn finished(job_key: &str, conclusion: Conclusion) -> Event {
        Event::JobFinished {
            job_key: job_key.to_string(),
            result: JobResult {
                conclusion,
                outputs: IndexMap::new(),
                steps: Vec::new(),
                summary: String::new(),
                failure_reason: None,
                deployment: None,
            },
        }
    }

    const TWO_JOBS: &str = "on: push\njobs:\n  a:\n    runs-on: x\n    steps:\n      - run: 'true'\n  b:\n    needs: a\n    runs-on: x\n    steps:\n      - run: 'true'\n";

    #[test]
    fn a_job_started_at_once_is_reported_started_by_the_loop() {
        let mut scheduler = scheduler(TWO_JOBS);
        let mut driver = Recorder {
            started: Started::Now,
            log: Vec::new(),
        };
        assert_eq!(
            drive(&mut scheduler, Event::Start, Millis(0), &mut driver),
            Ok(None)
        );
        // The loop fed `JobStarted { a }`: its finish is accepted without the caller saying so.
        let done = drive(
            &mut scheduler,
            finished("a", Conclusion::Success),
            Millis(1),
            &mut driver,
        );
        assert_eq!(done, Ok(None));
        let done = drive(
            &mut scheduler,
            finished("b", Conclusion::Failure),
            Millis(2),
            &mut driver,
        );
        assert_eq!(done, Ok(Some(Conclusion::Failure)));
        assert_eq!(
            driver.log,
            [
                "batch of 1",
                "start a",
                "batch of 1",
                "start b",
                "batch of 1",
                "run failure"
            ]
        );
    }

    #[test]
    fn a_job_started_later_waits_for_the_caller_and_skips_reach_the_driver() {
        let mut scheduler = scheduler(TWO_JOBS);
        let mut driver = Recorder {
            started: Started::Later,
            log: Vec::new(),
        };
        assert_eq!(
            drive(&mut scheduler, Event::Start, Millis(0), &mut driver),
            Ok(None)
        );
        let started = Event::JobStarted {
            job_key: "a".to_string(),
        };
        assert_eq!(
            drive(&mut scheduler, started, Millis(1), &mut driver),
            Ok(None)
        );
        let done = drive(
            &mut scheduler,
            finished("a", Conclusion::Failure),
            Millis(2),
            &mut driver,
        );
        assert_eq!(done, Ok(Some(Conclusion::Failure)));
        assert_eq!(
            driver.log,
            [
                "batch of 1",
                "start a",
                "batch of 2",
                "skipped b",
                "run failure"
            ]
        );
        // A repeated report is refused and changes nothing.
        let again = drive(
            &mut scheduler,
            finished("a", Conclusion::Failure),
            Millis(3),
            &mut driver,
        );
        assert!(again.is_err());
    }
}
