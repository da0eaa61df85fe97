//! The run's state machine: `Scheduler::handle(event, now) → actions`.
//!
//! A job becomes ready the moment every job it needs has concluded (there are no stage layers);
//! its `if:` is then decided, its matrix expanded into legs and the legs handed out as
//! `max-parallel` allows. Fail-fast, run cancel and timeouts become `CancelJob` actions; the caller
//! reports back with events. The machine reads no clock, does no I/O and never sleeps; its whole
//! state is plain data (serde) so the engine can store it and pick it up after a restart.

use indexmap::IndexMap;
use protocol::{Conclusion, JobResult, JobSpec};
use serde::{Deserialize, Serialize};
use serde_json::json;
use workflows::expr::Value;
use workflows::model::BoolOrExpr;

use super::conditions::{AncestorStatus, Decision, decide};
use super::errors::SchedulerError;
use super::events::{Action, CancelReason, Event, Millis};
use super::plan::{
    JobContexts, LegPlan, RunInput, StrategyPlan, build_leg_spec, check_run_size, display_name,
    plan_legs, plan_strategy, resolve_job_id, select_jobs,
};
use super::rerun::KeptJob;
use super::state::{JobPhase, LegState, RunPhase};

/// One run's scheduling state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scheduler {
    input: RunInput,
    run: RunPhase,
    /// The jobs taking part in the run, in declaration order.
    jobs: IndexMap<String, JobNode>,
    /// Counts finished legs, so that "last finished wins" for matrix outputs is well defined.
    finished_legs: u64,
}

/// A read-only view of one job for callers (progress display, API).
#[derive(Debug, Clone, PartialEq)]
pub struct JobView<'a> {
    /// The job's id in the workflow, e.g. `build`.
    pub job_id: &'a str,
    /// Where the job stands: waiting for its needs, planned, or concluded without running.
    pub phase: &'a JobPhase,
    /// Its legs: one for a job without a matrix, one per matrix combination, or the legs of the
    /// jobs a reusable-workflow call ran.
    pub legs: Vec<LegView<'a>>,
    /// The result dependents see (`needs.<id>.result`), once the job concluded.
    pub result: Option<Conclusion>,
}

/// A read-only view of one leg (the job itself when it has no matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct LegView<'a> {
    /// The leg's unique key in the run (the job id, plus the matrix values for a matrix leg).
    pub job_key: &'a str,
    /// The name shown for the leg (`name:` evaluated, or the key).
    pub display_name: &'a str,
    /// Where the leg stands: pending, queued, running or finished.
    pub state: LegState,
    /// Whether the leg's `continue-on-error` holds, so that its failure does not fail the job.
    pub continue_on_error: bool,
    /// The leg's result once it finished (reported by the caller, or kept from an earlier attempt).
    pub result: Option<&'a JobResult>,
}

impl Scheduler {
    /// Plans a run: selects the jobs (`--job`), resolves their `needs`. Nothing happens until
    /// `Event::Start`.
    pub fn new(input: RunInput) -> Result<Scheduler, SchedulerError> {
        let selected = select_jobs(&input.workflow, &input.selection)?;
        let mut jobs = IndexMap::new();
        for id in &selected {
            let Some(job) = input.workflow.jobs.get(id) else {
                continue;
            };
            let mut needs = Vec::new();
            let mut invalid = None;
            for need in &job.needs {
                match resolve_job_id(&input.workflow, need) {
                    Some(need_id) if selected.contains(need_id) => {
                        if !needs.iter().any(|known: &String| known == need_id) {
                            needs.push(need_id.to_string());
                        }
                    }
                    _ => {
                        invalid = Some(format!("`needs`: the workflow has no job `{}`", need.value))
                    }
                }
            }
            jobs.insert(
                id.clone(),
                JobNode {
                    needs,
                    ancestors: Vec::new(),
                    invalid,
                    phase: JobPhase::Waiting,
                    strategy: None,
                    legs: Vec::new(),
                    runs_after_cancel: None,
                },
            );
        }
        fill_ancestors(&mut jobs);
        Ok(Scheduler {
            input,
            run: RunPhase::Created,
            jobs,
            finished_legs: 0,
        })
    }

    /// Before `Event::Start` of a re-run: puts the kept results of an earlier attempt in place.
    /// Each kept job counts as concluded with its legs' results (dependents read their outputs
    /// through `needs`) and is never handed out. A kept leg of a job whose `continue-on-error` is
    /// the literal `true` counts as a success for dependents, as it did in the earlier attempt;
    /// an expression there is not evaluated again (the earlier leg's value is not stored).
    pub fn seed(&mut self, kept: Vec<KeptJob>) -> Result<(), SchedulerError> {
        if self.run != RunPhase::Created {
            return Err(SchedulerError::CannotKeep {
                job: kept
                    .first()
                    .map(|job| job.job_id.clone())
                    .unwrap_or_default(),
                reason: "the run has started already".to_string(),
            });
        }
        for kept_job in kept {
            let continue_on_error = self
                .input
                .workflow
                .jobs
                .get(&kept_job.job_id)
                .and_then(|job| job.continue_on_error.as_ref())
                .is_some_and(|value| value.value == BoolOrExpr::Bool(true));
            let Some(node) = self.jobs.get_mut(&kept_job.job_id) else {
                return Err(SchedulerError::CannotKeep {
                    job: kept_job.job_id,
                    reason: "the run has no such job".to_string(),
                });
            };
            if kept_job.legs.is_empty() || node.phase != JobPhase::Waiting {
                return Err(SchedulerError::CannotKeep {
                    job: kept_job.job_id,
                    reason: "nothing to keep, or kept twice".to_string(),
                });
            }
            node.phase = JobPhase::Expanded;
            for kept_leg in kept_job.legs {
                self.finished_legs += 1;
                node.legs.push(Leg {
                    has_matrix: kept_leg.job_key != kept_job.job_id,
                    job_key: kept_leg.job_key,
                    display_name: kept_leg.display_name,
                    timeout_minutes: self.input.default_timeout_minutes,
                    continue_on_error,
                    spec: None,
                    build_error: None,
                    state: LegState::Finished {
                        conclusion: kept_leg.result.conclusion,
                    },
                    result: Some(kept_leg.result),
                    finished_order: self.finished_legs,
                    call: None,
                });
            }
        }
        Ok(())
    }

    /// Applies one event at the caller's time `now` and returns what the caller must do, in order.
    /// A refused event (unknown job key, a move its state does not allow) changes nothing.
    pub fn handle(&mut self, event: Event, now: Millis) -> Result<Vec<Action>, SchedulerError> {
        let mut actions = Vec::new();
        match event {
            Event::Start => {
                self.run = self
                    .run
                    .start()
                    .map_err(|source| SchedulerError::IllegalRunMove { source })?;
            }
            Event::JobStarted { job_key } if self.find_leg(&job_key).is_none() => {
                self.route_to_call(Event::JobStarted { job_key }, now, &mut actions)?
            }
            Event::JobFinished { job_key, result } if self.find_leg(&job_key).is_none() => {
                self.route_to_call(Event::JobFinished { job_key, result }, now, &mut actions)?
            }
            Event::JobStarted { job_key } => {
                let leg = self.leg_mut(&job_key)?;
                leg.state = leg
                    .state
                    .start(now)
                    .map_err(|source| SchedulerError::IllegalMove {
                        job_key: job_key.clone(),
                        source,
                    })?;
            }
            Event::JobFinished { job_key, result } => {
                self.finish_leg(&job_key, result, now, &mut actions)?
            }
            Event::CancelRequested => self.cancel_run(now, &mut actions)?,
            Event::Tick => self.tick_calls(now, &mut actions),
        }
        if matches!(self.run, RunPhase::Running { .. }) {
            self.check_timeouts(now, &mut actions);
            self.advance(now, &mut actions);
        }
        Ok(actions)
    }

    /// The run's conclusion, once `RunFinished` was emitted.
    pub fn conclusion(&self) -> Option<Conclusion> {
        match self.run {
            RunPhase::Finished { conclusion } => Some(conclusion),
            _ => None,
        }
    }

    /// Where the run stands: not started, running (cancelled or not), or finished.
    pub fn run_phase(&self) -> RunPhase {
        self.run
    }

    /// The scheduler serialised without its input (which never changes during a run), for
    /// a caller that saves the input once and the state after every event. Deserialising a
    /// `Scheduler` needs the `input` field put back.
    pub fn state_without_input(&self) -> serde_json::Value {
        #[derive(Serialize)]
        struct State<'a> {
            run: &'a RunPhase,
            jobs: &'a IndexMap<String, JobNode>,
            finished_legs: u64,
        }
        serde_json::to_value(State {
            run: &self.run,
            jobs: &self.jobs,
            finished_legs: self.finished_legs,
        })
        .unwrap_or(serde_json::Value::Null)
    }

    /// What the run was planned from: the workflow, contexts, secrets and selection.
    pub fn input(&self) -> &RunInput {
        &self.input
    }

    /// Every job of the run in declaration order, with its legs. The legs of a reusable-workflow
    /// call that started are the legs of the jobs it ran (nested calls included), in their
    /// order: those are what runs and what has records.
    pub fn jobs(&self) -> Vec<JobView<'_>> {
        self.jobs
            .iter()
            .map(|(job_id, node)| JobView {
                job_id,
                phase: &node.phase,
                legs: node.legs.iter().flat_map(Leg::views).collect(),
                result: node.result_for_dependents(),
            })
            .collect()
    }

    /// The workflow job a handed-out job key runs (for a key inside a reusable-workflow call,
    /// the called workflow's job), so callers read the right job's settings (`concurrency`).
    pub fn job_for_key(&self, job_key: &str) -> Option<&workflows::model::Job> {
        if let Some((job_id, _)) = self.find_leg(job_key) {
            return self.input.workflow.jobs.get(&job_id);
        }
        self.jobs
            .values()
            .flat_map(|node| node.legs.iter())
            .filter_map(|leg| leg.call.as_deref())
            .find_map(|nested| nested.job_for_key(job_key))
    }

    /// Handles a leg's result: records it, applies a timeout, runs fail-fast.
    fn finish_leg(
        &mut self,
        job_key: &str,
        mut result: JobResult,
        now: Millis,
        actions: &mut Vec<Action>,
    ) -> Result<(), SchedulerError> {
        let Some((job_id, index)) = self.find_leg(job_key) else {
            return Err(SchedulerError::UnknownJobKey {
                job_key: job_key.to_string(),
            });
        };
        let order = self.finished_legs + 1;
        let Some(node) = self.jobs.get_mut(&job_id) else {
            return Ok(());
        };
        let fail_fast =
            node.strategy.is_some_and(|strategy| strategy.fail_fast) && node.has_matrix();
        let Some(leg) = node.legs.get_mut(index) else {
            return Ok(());
        };
        if leg.state.cancel_reason() == Some(CancelReason::TimedOut)
            && result.conclusion != Conclusion::Success
        {
            // A timeout is a failure of the job, whatever the runner reports for the cancel.
            result.conclusion = Conclusion::Failure;
            if result.failure_reason.is_none() {
                result.failure_reason = Some(format!(
                    "the job exceeded its timeout of {} minutes",
                    leg.timeout_minutes
                ));
            }
        }
        leg.state =
            leg.state
                .finish(result.conclusion)
                .map_err(|source| SchedulerError::IllegalMove {
                    job_key: job_key.to_string(),
                    source,
                })?;
        let triggers_fail_fast =
            result.conclusion == Conclusion::Failure && !leg.continue_on_error && fail_fast;
        leg.result = Some(result);
        leg.finished_order = order;
        self.finished_legs = order;
        if triggers_fail_fast {
            for sibling in &mut node.legs {
                stop_leg(
                    sibling,
                    CancelReason::FailFast,
                    now,
                    actions,
                    &mut self.finished_legs,
                );
            }
        }
        Ok(())
    }

    /// Hands a job's event to the reusable-workflow call whose nested run owns its key; when
    /// that run finishes, the call leg finishes (with fail-fast among its matrix siblings).
    fn route_to_call(
        &mut self,
        event: Event,
        now: Millis,
        actions: &mut Vec<Action>,
    ) -> Result<(), SchedulerError> {
        let job_key = match &event {
            Event::JobStarted { job_key } | Event::JobFinished { job_key, .. } => job_key.clone(),
            _ => return Ok(()),
        };
        let found = self.jobs.iter().find_map(|(id, node)| {
            node.legs
                .iter()
                .position(|leg| {
                    leg.call
                        .as_ref()
                        .is_some_and(|nested| nested.owns(&job_key))
                })
                .map(|index| (id.clone(), index))
        });
        let Some((job_id, index)) = found else {
            return Err(SchedulerError::UnknownJobKey { job_key });
        };
        let Some(node) = self.jobs.get_mut(&job_id) else {
            return Ok(());
        };
        let fail_fast =
            node.strategy.is_some_and(|strategy| strategy.fail_fast) && node.has_matrix();
        let Some(leg) = node.legs.get_mut(index) else {
            return Ok(());
        };
        let finished = drive_call(leg, event, now, actions, &mut self.finished_legs)?;
        if finished == Some(Conclusion::Failure) && fail_fast {
            for sibling in &mut node.legs {
                stop_leg(
                    sibling,
                    CancelReason::FailFast,
                    now,
                    actions,
                    &mut self.finished_legs,
                );
            }
        }
        Ok(())
    }

    /// Lets time pass in every nested run (their jobs' timeouts).
    fn tick_calls(&mut self, now: Millis, actions: &mut Vec<Action>) {
        for node in self.jobs.values_mut() {
            for leg in &mut node.legs {
                if leg.call.is_some() && leg.state.is_active() {
                    let _ = drive_call(leg, Event::Tick, now, actions, &mut self.finished_legs);
                }
            }
        }
    }

    /// Whether a job key belongs to this run or to a run nested in it.
    fn owns(&self, job_key: &str) -> bool {
        self.find_leg(job_key).is_some()
            || self
                .jobs
                .values()
                .flat_map(|node| node.legs.iter())
                .filter_map(|leg| leg.call.as_deref())
                .any(|nested| nested.owns(job_key))
    }

    /// The `jobs` context of a finished nested run: each job's result and outputs.
    fn jobs_context(&self) -> Value {
        let mut jobs = serde_json::Map::new();
        for (id, node) in &self.jobs {
            let result = node.result_for_dependents().map_or("", Conclusion::as_str);
            jobs.insert(
                id.clone(),
                json!({ "result": result, "outputs": node.merged_outputs() }),
            );
        }
        Value::Object(jobs)
    }

    /// The user cancelled: every job whose `if:` does not hold after a cancel is stopped.
    fn cancel_run(&mut self, now: Millis, actions: &mut Vec<Action>) -> Result<(), SchedulerError> {
        self.run = self
            .run
            .cancel()
            .map_err(|source| SchedulerError::IllegalRunMove { source })?;
        let ids: Vec<String> = self.jobs.keys().cloned().collect();
        for id in ids {
            let Some(node) = self.jobs.get(&id) else {
                continue;
            };
            if node.phase != JobPhase::Expanded
                || node.legs.iter().all(|leg| leg.state.is_finished())
            {
                continue;
            }
            let runs_after_cancel = matches!(self.decide_condition(&id), Ok(Decision::Run));
            let Some(node) = self.jobs.get_mut(&id) else {
                continue;
            };
            node.runs_after_cancel = Some(runs_after_cancel);
            for leg in &mut node.legs {
                if !runs_after_cancel {
                    stop_leg(
                        leg,
                        CancelReason::RunCancelled,
                        now,
                        actions,
                        &mut self.finished_legs,
                    );
                } else if leg.call.is_some() && leg.state.is_active() {
                    // The call itself runs on, but the cancel reaches its nested run, whose jobs
                    // decide by their own `if:`.
                    let _ = drive_call(
                        leg,
                        Event::CancelRequested,
                        now,
                        actions,
                        &mut self.finished_legs,
                    );
                }
            }
        }
        Ok(())
    }

    /// Asks running legs past their `timeout-minutes` to stop.
    fn check_timeouts(&mut self, now: Millis, actions: &mut Vec<Action>) {
        for node in self.jobs.values_mut() {
            for leg in &mut node.legs {
                let LegState::Running {
                    started_at,
                    cancel: None,
                } = leg.state
                else {
                    continue;
                };
                let limit_ms = (leg.timeout_minutes * 60_000.0).round() as u64;
                if now < started_at.saturating_add(limit_ms) {
                    continue;
                }
                if let Ok(next) = leg.state.request_cancel(CancelReason::TimedOut) {
                    leg.state = next;
                    actions.push(Action::CancelJob {
                        job_key: leg.job_key.clone(),
                        reason: CancelReason::TimedOut,
                    });
                }
            }
        }
    }

    /// Moves every job as far as it can go: ready jobs are decided and expanded, pending legs are
    /// handed out, and the run finishes once every job has concluded.
    fn advance(&mut self, now: Millis, actions: &mut Vec<Action>) {
        loop {
            let mut progressed = false;
            let ids: Vec<String> = self.jobs.keys().cloned().collect();
            for id in &ids {
                let Some(node) = self.jobs.get(id) else {
                    continue;
                };
                if node.phase == JobPhase::Waiting
                    && (node.invalid.is_some() || self.needs_concluded(node))
                {
                    self.make_ready(id, actions);
                    progressed = true;
                }
                // A call whose nested run ends at once (every called job skipped) concludes
                // here: its dependents get another round.
                progressed |= self.hand_out_legs(id, now, actions);
            }
            if !progressed {
                break;
            }
        }
        if self
            .jobs
            .values()
            .all(|node| node.result_for_dependents().is_some())
        {
            let conclusion = self.run_conclusion();
            if let Ok(next) = self.run.finish(conclusion) {
                self.run = next;
                actions.push(Action::RunFinished { conclusion });
            }
        }
    }

    /// A job whose needs all concluded: decide its `if:`, then plan its legs.
    fn make_ready(&mut self, id: &str, actions: &mut Vec<Action>) {
        let cancelled = self.run.is_cancel_requested();
        let invalid = self.jobs.get(id).and_then(|node| node.invalid.clone());
        let outcome = match invalid {
            Some(reason) => Err(reason),
            None => self
                .decide_condition(id)
                .map_err(|error| format!("`if`: {error}")),
        };
        let outcome = match outcome {
            Ok(Decision::Run) => self.plan_job(id),
            Ok(Decision::Skip(reason)) if cancelled => Err(JobOutcome::Cancelled(reason)),
            Ok(Decision::Skip(reason)) => Err(JobOutcome::Skipped(reason)),
            Err(reason) => Err(JobOutcome::Failed(reason)),
        };
        let Some(node) = self.jobs.get_mut(id) else {
            return;
        };
        match outcome {
            Ok((strategy, legs)) => {
                if let Ok(next) = node.phase.expand() {
                    node.phase = next;
                    node.strategy = Some(strategy);
                    node.runs_after_cancel = cancelled.then_some(true);
                    for mut leg in legs {
                        if let Some(reason) = leg.build_error.take() {
                            conclude_unstarted(&mut leg, Conclusion::Failure, reason, actions);
                        }
                        node.legs.push(leg);
                    }
                }
            }
            Err(outcome) => {
                let (conclusion, reason) = match outcome {
                    JobOutcome::Skipped(reason) => (Conclusion::Skipped, reason),
                    JobOutcome::Cancelled(reason) => (Conclusion::Cancelled, reason),
                    JobOutcome::Failed(reason) => (Conclusion::Failure, reason),
                };
                if let Ok(next) = node
                    .phase
                    .conclude_without_running(conclusion, reason.clone())
                {
                    node.phase = next;
                    actions.push(match conclusion {
                        Conclusion::Skipped => Action::JobSkipped {
                            job_key: self.input.run_key(id),
                            reason,
                        },
                        _ => Action::JobConcluded {
                            job_key: self.input.run_key(id),
                            conclusion,
                            reason,
                        },
                    });
                }
            }
        }
    }

    /// Evaluates the strategy and matrix of a job whose `if:` held, and builds its legs.
    fn plan_job(&self, id: &str) -> Result<(StrategyPlan, Vec<Leg>), JobOutcome> {
        let Some(job) = self.input.workflow.jobs.get(id) else {
            return Err(JobOutcome::Failed(format!(
                "the workflow has no job `{id}`"
            )));
        };
        let contexts = JobContexts::new(&self.input, id, self.needs_context(id));
        let condition_values = contexts.for_condition();
        let strategy = plan_strategy(job, &condition_values).map_err(JobOutcome::Failed)?;
        let plans = plan_legs(
            id,
            job,
            strategy,
            &condition_values,
            &self.input.selection.matrix,
        )
        .map_err(JobOutcome::Failed)?;
        let planned = self.jobs.values().map(|node| node.legs.len()).sum();
        check_run_size(id, planned, plans.len()).map_err(JobOutcome::Failed)?;
        if plans.is_empty() {
            return Err(JobOutcome::Skipped(
                "no matrix leg matches the `--matrix` filter".to_string(),
            ));
        }
        let input = &self.input;
        let failed_leg = |plan: &LegPlan, reason: String| Leg {
            job_key: input.run_key(&plan.job_key),
            display_name: input.run_display_name(&plan.job_key),
            timeout_minutes: input.default_timeout_minutes,
            continue_on_error: false,
            has_matrix: plan.combination.is_some(),
            spec: None,
            build_error: Some(reason),
            state: LegState::Pending,
            result: None,
            finished_order: 0,
            call: None,
        };
        let legs = plans
            .iter()
            .map(|plan| {
                if job.uses.is_some() {
                    return match self.plan_call_leg(id, job, &contexts, plan) {
                        Ok(leg) => leg,
                        Err(reason) => failed_leg(plan, reason),
                    };
                }
                match build_leg_spec(input, id, job, &contexts, plan) {
                    Ok(mut built) => {
                        built.spec.job_key = input.run_key(&plan.job_key);
                        built.spec.display_name = input.run_display_name(&built.spec.display_name);
                        Leg {
                            job_key: built.spec.job_key.clone(),
                            display_name: built.spec.display_name.clone(),
                            timeout_minutes: built.spec.timeout_minutes,
                            continue_on_error: built.continue_on_error,
                            has_matrix: plan.combination.is_some(),
                            spec: Some(built.spec),
                            build_error: None,
                            state: LegState::Pending,
                            result: None,
                            finished_order: 0,
                            call: None,
                        }
                    }
                    Err(reason) => failed_leg(plan, reason),
                }
            })
            .collect();
        Ok((strategy, legs))
    }

    /// A leg of a reusable-workflow call: the nested run of the called workflow, planned now
    /// (inputs and secrets evaluated over the leg's contexts) and started when handed out.
    fn plan_call_leg(
        &self,
        id: &str,
        job: &workflows::model::Job,
        contexts: &JobContexts,
        plan: &LegPlan,
    ) -> Result<Leg, String> {
        let values = contexts.for_leg(plan);
        let display_name = self
            .input
            .run_display_name(&display_name(id, job, plan, &values)?);
        let job_key = self.input.run_key(&plan.job_key);
        let nested_input =
            crate::reusable::call_input(&self.input, job, &job_key, &display_name, &values)?;
        let nested = Scheduler::new(nested_input).map_err(|error| error.to_string())?;
        Ok(Leg {
            job_key,
            display_name,
            timeout_minutes: self.input.default_timeout_minutes,
            continue_on_error: false,
            has_matrix: plan.combination.is_some(),
            spec: None,
            build_error: None,
            state: LegState::Pending,
            result: None,
            finished_order: 0,
            call: Some(Box::new(nested)),
        })
    }

    /// Hands out pending legs of an expanded job while `max-parallel` allows; after a cancel,
    /// pending legs of a job that does not run after a cancel are concluded `cancelled`. True
    /// when a reusable-workflow call finished while being handed out.
    fn hand_out_legs(&mut self, id: &str, now: Millis, actions: &mut Vec<Action>) -> bool {
        let cancelled = self.run.is_cancel_requested();
        let Some(node) = self.jobs.get_mut(id) else {
            return false;
        };
        if node.phase != JobPhase::Expanded {
            return false;
        }
        if cancelled && node.runs_after_cancel == Some(false) {
            for leg in &mut node.legs {
                stop_leg(
                    leg,
                    CancelReason::RunCancelled,
                    now,
                    actions,
                    &mut self.finished_legs,
                );
            }
            return false;
        }
        let fail_fast =
            node.strategy.is_some_and(|strategy| strategy.fail_fast) && node.has_matrix();
        let limit = node
            .strategy
            .and_then(|strategy| strategy.max_parallel)
            .unwrap_or(usize::MAX);
        let mut active = node.legs.iter().filter(|leg| leg.state.is_active()).count();
        let mut stop_after_hand_out = false;
        let mut finished_call = false;
        for leg in &mut node.legs {
            if active >= limit {
                break;
            }
            if leg.state != LegState::Pending {
                continue;
            }
            if leg.call.is_some() {
                let Ok(next) = leg.state.hand_out() else {
                    continue;
                };
                leg.state = next;
                active += 1;
                if cancelled {
                    // Handed out after a cancel (its caller runs after one): the nested run
                    // starts cancelled, so only its jobs that run after a cancel run.
                    let _ = drive_call(leg, Event::Start, now, actions, &mut self.finished_legs);
                    let _ = drive_call(
                        leg,
                        Event::CancelRequested,
                        now,
                        actions,
                        &mut self.finished_legs,
                    );
                } else {
                    let _ = drive_call(leg, Event::Start, now, actions, &mut self.finished_legs);
                }
                if leg.state.is_finished() {
                    finished_call = true;
                    let failed = leg
                        .result
                        .as_ref()
                        .is_some_and(|result| result.conclusion == Conclusion::Failure);
                    if failed && fail_fast {
                        // Rare: a nested run that fails at its start; the siblings stop.
                        stop_after_hand_out = true;
                    }
                }
                continue;
            }
            let (Some(spec), Ok(next)) = (&leg.spec, leg.state.hand_out()) else {
                continue;
            };
            leg.state = next;
            actions.push(Action::StartJob(Box::new(spec.clone())));
            active += 1;
        }
        if stop_after_hand_out {
            for leg in &mut node.legs {
                stop_leg(
                    leg,
                    CancelReason::FailFast,
                    now,
                    actions,
                    &mut self.finished_legs,
                );
            }
        }
        finished_call
    }

    /// The job's `if:` decided against its ancestors and the run's cancel state.
    fn decide_condition(&self, id: &str) -> Result<Decision, String> {
        let Some(job) = self.input.workflow.jobs.get(id) else {
            return Err(format!("the workflow has no job `{id}`"));
        };
        let contexts = JobContexts::new(&self.input, id, self.needs_context(id));
        decide(
            job.condition
                .as_ref()
                .map(|condition| condition.value.as_str()),
            contexts.for_condition(),
            self.ancestor_status(id),
        )
    }

    fn ancestor_status(&self, id: &str) -> AncestorStatus {
        let mut status = AncestorStatus {
            all_succeeded: true,
            any_failed: false,
            run_cancelled: self.run.is_cancel_requested(),
        };
        let ancestors = self
            .jobs
            .get(id)
            .map(|node| node.ancestors.as_slice())
            .unwrap_or_default();
        for ancestor in ancestors {
            match self
                .jobs
                .get(ancestor)
                .and_then(JobNode::result_for_dependents)
            {
                Some(Conclusion::Success) => {}
                Some(Conclusion::Failure) => {
                    status.all_succeeded = false;
                    status.any_failed = true;
                }
                _ => status.all_succeeded = false,
            }
        }
        status
    }

    /// The `needs` context of a job: its direct needs' results and outputs.
    fn needs_context(&self, id: &str) -> Value {
        let mut needs = serde_json::Map::new();
        let direct = self
            .jobs
            .get(id)
            .map(|node| node.needs.as_slice())
            .unwrap_or_default();
        for need in direct {
            let Some(node) = self.jobs.get(need) else {
                continue;
            };
            let result = node.result_for_dependents().map_or("", Conclusion::as_str);
            needs.insert(
                need.clone(),
                json!({ "result": result, "outputs": node.merged_outputs() }),
            );
        }
        Value::Object(needs)
    }

    fn needs_concluded(&self, node: &JobNode) -> bool {
        node.needs.iter().all(|need| {
            self.jobs
                .get(need)
                .is_some_and(|need| need.result_for_dependents().is_some())
        })
    }

    fn run_conclusion(&self) -> Conclusion {
        let results: Vec<Option<Conclusion>> = self
            .jobs
            .values()
            .map(JobNode::result_for_dependents)
            .collect();
        if results.contains(&Some(Conclusion::Failure)) {
            Conclusion::Failure
        } else if self.run.is_cancel_requested() || results.contains(&Some(Conclusion::Cancelled)) {
            Conclusion::Cancelled
        } else {
            Conclusion::Success
        }
    }

    fn find_leg(&self, job_key: &str) -> Option<(String, usize)> {
        self.jobs.iter().find_map(|(id, node)| {
            node.legs
                .iter()
                .position(|leg| leg.job_key == job_key)
                .map(|index| (id.clone(), index))
        })
    }

    fn leg_mut(&mut self, job_key: &str) -> Result<&mut Leg, SchedulerError> {
        self.jobs
            .values_mut()
            .flat_map(|node| node.legs.iter_mut())
            .find(|leg| leg.job_key == job_key)
            .ok_or_else(|| SchedulerError::UnknownJobKey {
                job_key: job_key.to_string(),
            })
    }
}

/// One job of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct JobNode {
    /// Direct needs, resolved to declared job ids.
    needs: Vec<String>,
    /// Every job reachable through `needs`.
    ancestors: Vec<String>,
    /// Why the job cannot run at all (an unknown need, a dependency cycle).
    invalid: Option<String>,
    phase: JobPhase,
    strategy: Option<StrategyPlan>,
    legs: Vec<Leg>,
    /// Decided when the run is cancelled while the job is under way: whether its `if:` still holds.
    runs_after_cancel: Option<bool>,
}

impl JobNode {
    /// The job's result as `needs.<id>.result` reports it, once the job concluded. A failing leg
    /// with `continue-on-error` counts as a success here (as on GitHub).
    fn result_for_dependents(&self) -> Option<Conclusion> {
        match &self.phase {
            JobPhase::Waiting => None,
            JobPhase::Concluded { conclusion, .. } => Some(*conclusion),
            JobPhase::Expanded => {
                let mut conclusions = Vec::with_capacity(self.legs.len());
                for leg in &self.legs {
                    let LegState::Finished { conclusion } = leg.state else {
                        return None;
                    };
                    conclusions.push(
                        if conclusion == Conclusion::Failure && leg.continue_on_error {
                            Conclusion::Success
                        } else {
                            conclusion
                        },
                    );
                }
                Some(if conclusions.contains(&Conclusion::Failure) {
                    Conclusion::Failure
                } else if conclusions.contains(&Conclusion::Cancelled) {
                    Conclusion::Cancelled
                } else if !conclusions.is_empty()
                    && conclusions
                        .iter()
                        .all(|conclusion| *conclusion == Conclusion::Skipped)
                {
                    Conclusion::Skipped
                } else {
                    Conclusion::Success
                })
            }
        }
    }

    /// Outputs of all legs, in the order they finished: the last one wins, but an empty value
    /// never overwrites another leg's value (legs usually set distinct outputs).
    fn merged_outputs(&self) -> serde_json::Map<String, Value> {
        let mut finished: Vec<&Leg> = self
            .legs
            .iter()
            .filter(|leg| leg.result.is_some())
            .collect();
        finished.sort_by_key(|leg| leg.finished_order);
        let mut outputs = serde_json::Map::new();
        for leg in finished {
            let Some(result) = &leg.result else { continue };
            for (name, value) in &result.outputs {
                if !value.is_empty() || !outputs.contains_key(name) {
                    outputs.insert(name.clone(), Value::String(value.clone()));
                }
            }
        }
        outputs
    }

    fn has_matrix(&self) -> bool {
        self.legs.iter().any(|leg| leg.has_matrix)
    }
}

/// One runnable unit: a job without a matrix, or one matrix leg.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Leg {
    job_key: String,
    display_name: String,
    timeout_minutes: f64,
    continue_on_error: bool,
    has_matrix: bool,
    /// The spec to hand out; `None` when building it failed (`build_error`).
    spec: Option<JobSpec>,
    build_error: Option<String>,
    state: LegState,
    result: Option<JobResult>,
    /// Position in the run's sequence of finished legs (0 until finished).
    finished_order: u64,
    /// A leg of a reusable-workflow call: the nested run of the called workflow, started when
    /// the leg is handed out (`reusable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    call: Option<Box<Scheduler>>,
}

enum JobOutcome {
    Skipped(String),
    Cancelled(String),
    Failed(String),
}

/// Stops a leg that is not finished: handed-out legs get a `CancelJob`, pending ones conclude
/// `cancelled` on the spot.
fn stop_leg(
    leg: &mut Leg,
    reason: CancelReason,
    now: Millis,
    actions: &mut Vec<Action>,
    finished_legs: &mut u64,
) {
    if leg.call.is_some()
        && let LegState::Queued { cancel: None } = leg.state
    {
        // A call leg has no job of its own to stop: its nested run is cancelled instead.
        if let Ok(next) = leg.state.request_cancel(reason) {
            leg.state = next;
        }
        let _ = drive_call(leg, Event::CancelRequested, now, actions, finished_legs);
        return;
    }
    match leg.state {
        LegState::Pending => conclude_unstarted(
            leg,
            Conclusion::Cancelled,
            reason.describe().to_string(),
            actions,
        ),
        LegState::Queued { cancel: None } | LegState::Running { cancel: None, .. } => {
            if let Ok(next) = leg.state.request_cancel(reason) {
                leg.state = next;
                actions.push(Action::CancelJob {
                    job_key: leg.job_key.clone(),
                    reason,
                });
            }
        }
        _ => {}
    }
}

fn conclude_unstarted(
    leg: &mut Leg,
    conclusion: Conclusion,
    reason: String,
    actions: &mut Vec<Action>,
) {
    let Ok(next) = leg.state.conclude_unstarted(conclusion) else {
        return;
    };
    leg.state = next;
    leg.result = Some(JobResult::unrun(conclusion, reason.clone()));
    actions.push(Action::JobConcluded {
        job_key: leg.job_key.clone(),
        conclusion,
        reason,
    });
}

/// Feeds one event to the nested run of a call leg and passes its actions on; when the nested
/// run finishes, the leg finishes with its conclusion and the called workflow's outputs. Returns
/// the leg's conclusion when it finished now.
fn drive_call(
    leg: &mut Leg,
    event: Event,
    now: Millis,
    actions: &mut Vec<Action>,
    finished_legs: &mut u64,
) -> Result<Option<Conclusion>, SchedulerError> {
    let Some(nested) = leg.call.as_mut() else {
        return Ok(None);
    };
    if nested.conclusion().is_some() {
        return Ok(None);
    }
    let mut finished = None;
    for action in nested.handle(event, now)? {
        match action {
            Action::RunFinished { conclusion } => finished = Some(conclusion),
            other => actions.push(other),
        }
    }
    let Some(conclusion) = finished else {
        return Ok(None);
    };
    let result = crate::reusable::call_result(nested.input(), nested.jobs_context(), conclusion);
    let conclusion = result.conclusion;
    if let Ok(next) = leg.state.finish(conclusion) {
        leg.state = next;
        *finished_legs += 1;
        leg.finished_order = *finished_legs;
        leg.result = Some(result);
    }
    Ok(Some(conclusion))
}

impl Leg {
    /// The leg as callers see it: itself, or for a started call the legs its nested run has.
    fn views(&self) -> Vec<LegView<'_>> {
        match &self.call {
            Some(nested) if nested.run_phase() != RunPhase::Created => {
                nested.jobs().into_iter().flat_map(|job| job.legs).collect()
            }
            _ => vec![LegView {
                job_key: &self.job_key,
                display_name: &self.display_name,
                state: self.state,
                continue_on_error: self.continue_on_error,
                result: self.result.as_ref(),
            }],
        }
    }
}

/// Computes every job's ancestors and marks jobs on a dependency cycle as invalid (they fail when
/// the run starts; their dependents are then skipped as usual).
fn fill_ancestors(jobs: &mut IndexMap<String, JobNode>) {
    let mut computed = Vec::with_capacity(jobs.len());
    for (id, node) in jobs.iter() {
        let mut seen: Vec<String> = Vec::new();
        let mut to_visit: Vec<String> = node.needs.clone();
        while let Some(next) = to_visit.pop() {
            if seen.contains(&next) {
                continue;
            }
            if let Some(need) = jobs.get(&next) {
                to_visit.extend(need.needs.iter().cloned());
            }
            seen.push(next);
        }
        let on_cycle = seen.contains(id);
        seen.retain(|ancestor| ancestor != id);
        computed.push((id.clone(), seen, on_cycle));
    }
    for (id, ancestors, on_cycle) in computed {
        let Some(node) = jobs.get_mut(&id) else {
            continue;
        };
        node.ancestors = ancestors;
        if on_cycle {
            if node.invalid.is_none() {
                node.invalid = Some(
                    "`needs`: the job depends on itself through a dependency cycle".to_string(),
                );
            }
            // A cycle member must not wait for itself (or the other members) to conclude.
            node.needs.clear();
        }
    }
}
