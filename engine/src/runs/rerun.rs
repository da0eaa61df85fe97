//! Re-runs (`slipway rerun RUN [--failed] [--job J]`): a new attempt of a finished run, of the
//! same workflow at the same commit with the same event payload and inputs, the same run
//! number and `github.run_id` (the first attempt's, kept in the details as `first_attempt`) and
//! `github.run_attempt` one higher. The attempts are linked both ways in the runs'
//! details (`rerun_of` on the new one, `next_attempt` on the old one).
//!
//! Which jobs run again is the scheduler's pure decision (`scheduler::jobs_to_rerun`); the
//! others keep their earlier result and outputs: the new scheduler is seeded with them and the
//! new run lists them, completed, under the same keys.
//!
//! To re-run a run, what started it is kept at its start (`RunTrigger`, one record per run). A
//! run recorded before triggers were kept is re-run from its details (event, ref, commit) with
//! a payload built again from the commit and no inputs.
//!
//! This module must not speak HTTP or know sled.

use std::path::PathBuf;

use indexmap::IndexMap;
use protocol::Conclusion;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::runs::event::{self, EventSource, RunInputRequest};
use crate::runs::orchestrator::{
    Orchestrator, OrchestratorError, RunRequest, StartedRun, read_at_commit,
};
use crate::store::{RecordKind, RunId, RunStatus, Store, StoreError};
use scheduler::{
    KeptJob, KeptLeg, RerunMode, Scheduler, SchedulerError, job_conclusion, jobs_to_rerun,
};

/// What started a run, as needed to start it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunTrigger {
    /// The repository's directory (a working copy or a bare repository).
    pub repository: PathBuf,
    /// The workflow file relative to the repository root.
    pub workflow: String,
    /// The triggering event's name, e.g. `push`.
    pub event_name: String,
    /// The full ref the run was for.
    pub git_ref: String,
    /// The commit the run was at, as 40 hex digits.
    pub sha: String,
    /// The inputs the run was started with, as name/value strings.
    pub inputs: Vec<(String, String)>,
    /// The caller's payload (a webhook's); `None` when it was built from the commit.
    pub payload: Option<Value>,
}

/// Why a run could not be re-run.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    /// No run has that id.
    #[error("find run {0}")]
    NotFound(RunId),
    /// The run is still queued or in progress.
    #[error("re-run run {0}: it has not finished yet")]
    NotFinished(RunId),
    /// The scheduler refused the job selection: `--job` names no job of the workflow, or there is
    /// nothing to re-run.
    #[error("re-run run {run_id}: {source}")]
    Selection {
        /// The run that was to be re-run.
        run_id: RunId,
        /// The scheduler's reason.
        #[source]
        source: SchedulerError,
    },
    /// Starting the new attempt failed (the repository, the workflow file or the plan).
    #[error(transparent)]
    Orchestrator(#[from] OrchestratorError),
    /// Reading or writing the run records failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The run a re-run created.
#[derive(Debug, Clone, PartialEq)]
pub struct StartedAttempt {
    /// The new attempt's run (a new id, the same run number).
    pub started: StartedRun,
    /// The new attempt's number (`github.run_attempt`): the earlier attempt's plus one.
    pub attempt: u32,
    /// The run this attempt re-runs.
    pub rerun_of: RunId,
    /// The job ids that run again, in declaration order.
    pub rerun_jobs: Vec<String>,
}

/// Keeps what started `run_id` (called by `Orchestrator::start_run` once the run exists).
pub async fn remember_trigger(
    store: &Store,
    run_id: RunId,
    request: &RunRequest,
    workflow: &str,
    source: &EventSource,
) -> Result<(), StoreError> {
    let trigger = RunTrigger {
        repository: request.repository.clone(),
        workflow: workflow.to_string(),
        event_name: request.event_name.clone(),
        git_ref: source.git_ref.clone(),
        sha: source.sha.clone(),
        inputs: request.inputs.clone(),
        payload: request.payload.clone(),
    };
    store
        .put_record(RecordKind::RunTriggers, &run_id.to_string(), &trigger)
        .await
}

/// The attempt number a run's details give (1 when they say none).
pub fn attempt_of(details: &Value) -> u32 {
    details
        .get("attempt")
        .and_then(Value::as_u64)
        .and_then(|attempt| u32::try_from(attempt).ok())
        .unwrap_or(1)
}

impl Orchestrator {
    /// Starts a new attempt of the finished run `run_id`, re-running the jobs `mode` picks.
    pub async fn rerun(
        &self,
        run_id: RunId,
        mode: RerunMode,
    ) -> Result<StartedAttempt, RerunError> {
        self.rerun_as(run_id, mode, None).await
    }

    /// `rerun`, started by the authenticated user `triggering_actor` (`github.triggering_actor`;
    /// the run's actor stays the first attempt's).
    pub async fn rerun_as(
        &self,
        run_id: RunId,
        mode: RerunMode,
        triggering_actor: Option<&str>,
    ) -> Result<StartedAttempt, RerunError> {
        let store = self.engine().store().clone();
        let previous = store.run(run_id)?.ok_or(RerunError::NotFound(run_id))?;
        if previous.status != RunStatus::Completed {
            return Err(RerunError::NotFinished(run_id));
        }
        let stored: Option<RunTrigger> =
            store.record(RecordKind::RunTriggers, &run_id.to_string())?;
        let trigger = match stored {
            Some(trigger) => trigger,
            None => trigger_from_details(&previous.workflow, &previous.details),
        };
        let (mut source, workflow) = read_workflow(&trigger).await?;
        // The actor stays the first attempt's (a dispatching user, a mapped pusher).
        if let Some(actor) = previous.details.get("actor").and_then(Value::as_str) {
            source.actor = actor.to_string();
        }

        // The earlier attempt's jobs, grouped by job id (matrix legs together).
        let mut earlier: IndexMap<String, Vec<KeptLeg>> = IndexMap::new();
        for job in store.jobs_of_run(run_id)? {
            let Some(result) = job.result else { continue };
            // A job of a called workflow (`call/build`) belongs to its caller job `call`.
            let job_id = match job.job_key.split_once('/') {
                Some((caller, _)) => caller
                    .split_once(' ')
                    .map_or(caller, |(id, _)| id)
                    .to_string(),
                None => job.spec.job_id.clone(),
            };
            earlier.entry(job_id).or_default().push(KeptLeg {
                job_key: job.job_key,
                display_name: job.spec.display_name,
                result,
            });
        }
        let conclusions: IndexMap<String, Conclusion> = earlier
            .iter()
            .map(|(job_id, legs)| {
                let legs: Vec<Conclusion> = legs.iter().map(|leg| leg.result.conclusion).collect();
                (job_id.clone(), job_conclusion(&legs))
            })
            .collect();
        let rerun_jobs = jobs_to_rerun(&workflow, &conclusions, &mode)
            .map_err(|source| RerunError::Selection { run_id, source })?;
        let kept: Vec<KeptJob> = earlier
            .into_iter()
            .filter(|(job_id, _)| !rerun_jobs.contains(job_id))
            // A reusable-workflow call is always run again: its outputs are the called
            // workflow's, which the earlier jobs' records do not keep.
            .filter(|(job_id, _)| {
                workflow
                    .jobs
                    .get(job_id)
                    .is_none_or(|job| job.uses.is_none())
            })
            .map(|(job_id, legs)| KeptJob { job_id, legs })
            .collect();

        let attempt = attempt_of(&previous.details) + 1;
        let mut details = previous.details.clone();
        if let Some(map) = details.as_object_mut() {
            for stale in [
                "next_attempt",
                "conclusion_reason",
                "waiting_reason",
                "diagnostics",
            ] {
                map.shift_remove(stale);
            }
            map.insert("attempt".into(), json!(attempt));
            map.insert("rerun_of".into(), json!(run_id.to_string()));
            if let Some(by) = triggering_actor {
                map.insert("triggering_actor".into(), json!(by));
            }
            // Every attempt keeps the first attempt's `github.run_id` (as on GitHub).
            map.entry("first_attempt")
                .or_insert_with(|| json!(run_id.to_string()));
            map.insert(
                "rerun".into(),
                serde_json::to_value(&mode).unwrap_or(Value::Null),
            );
        }
        let run = store
            .create_run_attempt(&previous.workflow, previous.run_number, details)
            .await?;
        let new_run_id = run.run_id;
        store
            .update_run_details(run_id, |details| {
                if let Some(map) = details.as_object_mut() {
                    map.insert("next_attempt".into(), json!(new_run_id.to_string()));
                }
            })
            .await?;
        store
            .put_record(RecordKind::RunTriggers, &new_run_id.to_string(), &trigger)
            .await?;

        let run_id_text = new_run_id.to_string();
        let first_attempt = first_attempt_of(run_id, &previous.details);
        let mut input = event::run_input_for(&RunInputRequest {
            workflow: &workflow,
            event_name: &trigger.event_name,
            source: &source,
            custom_payload: trigger.payload.clone(),
            inputs: &trigger.inputs,
            run_id: &run_id_text,
            github_run_id: scheduler::numeric_run_id(&first_attempt),
            run_number: run.run_number,
            attempt,
        })
        .map_err(|message| OrchestratorError::Inputs {
            file: trigger.workflow.clone(),
            message,
        })?;
        if let Some(by) = triggering_actor {
            input.run.triggering_actor = by.to_string();
        }
        // The same commits as the first attempt: the pins travel in the details.
        input.actions = previous
            .details
            .get("actions")
            .and_then(|pinned| serde_json::from_value(pinned.clone()).ok())
            .unwrap_or_default();
        // The repository's secrets and variables as they are now, as for a first attempt.
        let given = trigger.repository.display().to_string();
        let watched = self.watched_repository(&given).ok().flatten();
        let names = crate::runs::orchestrator::repository_names(
            watched.as_ref(),
            &given,
            &source.repository,
        );
        match self
            .engine()
            .secrets_for_repository(&names)
            .and_then(|secrets| Ok((secrets, self.engine().vars_for_repository(&names)?)))
        {
            Ok((secrets, vars)) => {
                input.secrets.extend(secrets);
                input.vars.extend(
                    vars.into_iter()
                        .map(|(name, value)| (name, serde_json::Value::String(value))),
                );
            }
            Err(error) => tracing::error!(%error, "failed to read the re-run's secrets"),
        }
        // Remote reusable workflows are read at the commits pinned with the actions.
        let loaded = crate::runs::called::load_at_commit(
            self.engine(),
            &trigger.repository,
            &source.sha,
            &workflow,
            &input.actions,
        )
        .await?;
        if !loaded.errors.is_empty() {
            store.finish_run(new_run_id, Conclusion::Failure).await?;
            return Err(OrchestratorError::Plan(loaded.errors.join("; ")).into());
        }
        input.actions.extend(loaded.pins);
        input.called = loaded.called;
        let planned = Scheduler::new(input).and_then(|mut scheduler| {
            scheduler.seed(kept.clone())?;
            Ok(scheduler)
        });
        let scheduler = match planned {
            Ok(scheduler) => scheduler,
            Err(error) => {
                store.finish_run(new_run_id, Conclusion::Failure).await?;
                return Err(OrchestratorError::Plan(error.to_string()).into());
            }
        };
        // The kept jobs are listed in the new attempt with their earlier results.
        for kept_job in &kept {
            for leg in &kept_job.legs {
                let Some(earlier_job) = store.job_by_key(run_id, &leg.job_key)? else {
                    continue;
                };
                let mut spec = earlier_job.spec;
                spec.run_id = run_id_text.clone();
                match store
                    .record_finished_job(new_run_id, spec, leg.result.clone())
                    .await
                {
                    Ok(_) | Err(StoreError::JobExists { .. }) => {}
                    Err(error) => return Err(error.into()),
                }
            }
        }
        self.adopt(new_run_id, scheduler)?;
        // Durable before the re-run is acknowledged (see `start_run`).
        self.engine().store().flush().await?;
        Ok(StartedAttempt {
            started: StartedRun {
                run_id: new_run_id,
                run_number: run.run_number,
                conclusion: None,
            },
            attempt,
            rerun_of: run_id,
            rerun_jobs: rerun_jobs.into_iter().collect(),
        })
    }
}

/// The run id of the first attempt of the run `run_id` whose details are `details`: the key
/// its `github.run_id` is derived from (`scheduler::numeric_run_id`).
fn first_attempt_of(run_id: RunId, details: &Value) -> String {
    details
        .get("first_attempt")
        .and_then(Value::as_str)
        .map_or_else(|| run_id.to_string(), str::to_string)
}

/// A trigger rebuilt from a run's details, for runs recorded before triggers were kept.
pub(crate) fn trigger_from_details(workflow: &str, details: &Value) -> RunTrigger {
    let text = |key: &str| {
        details
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    RunTrigger {
        repository: PathBuf::from(text("repository")),
        workflow: workflow.to_string(),
        event_name: text("event"),
        git_ref: text("ref"),
        sha: text("sha"),
        inputs: Vec::new(),
        payload: None,
    }
}

/// The event source and the parsed workflow at the trigger's commit.
pub(crate) async fn read_workflow(
    trigger: &RunTrigger,
) -> Result<(EventSource, workflows::Workflow), OrchestratorError> {
    let (source, bytes) = read_at_commit(
        &trigger.repository,
        &trigger.sha,
        Some(&trigger.git_ref),
        &trigger.workflow,
        &trigger.sha,
    )
    .await?;
    let parsed = workflows::parse::parse_workflow_bytes(&trigger.workflow, &bytes);
    let errors: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.is_error())
        .map(|diagnostic| diagnostic.to_string())
        .collect();
    match parsed.workflow {
        Some(workflow) if errors.is_empty() => Ok((source, workflow)),
        _ => Err(OrchestratorError::Plan(format!(
            "the workflow at {} is invalid: {}",
            source.sha,
            errors.join("; ")
        ))),
    }
}
